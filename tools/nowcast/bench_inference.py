#!/usr/bin/env python3
"""Inference time of every nowcasting method (12 frames at 256x256, CPU or GPU) and
PA-Net's active experts per token by intensity on a light- and a heavy-rain scene.

    HVRMET_DATA_DIR=../shared/data python tools/nowcast/bench_inference.py [--device cpu]

Prints two tables and writes ``out/nowcast/inference.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def scene(case: str, size: int = 256) -> np.ndarray:
    """Six frames of the heaviest ``size`` window of an event (dBZ)."""
    from hvrmet.nowcast.dataset import event_sequence

    dbz, _, _ = event_sequence(case, crop=size)
    wet = [np.nanmean(dbz[i:i + 6] >= 35) for i in range(len(dbz) - 6)]
    i = int(np.argmax(wet))
    return dbz[i:i + 6]


def main() -> None:
    import torch

    from hvrmet.nowcast import METHODS, get_method
    from hvrmet.nowcast.learned import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    heavy, light = scene("mch20150515"), scene("mch20170131")
    rows = {}
    for name in METHODS:
        fn = get_method(name)
        if name in ("pa_net", "metok", "impa_net"):
            load_model(name, None, a.device)
        fn(heavy, 12)  # warm-up
        ts = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            fn(heavy, 12)
            ts.append(time.perf_counter() - t0)
        rows[name] = float(np.median(ts))
        print(f"{name:14s} {rows[name]:.3f} s per 12-frame forecast at 256x256 ({a.device}, median of {a.repeats})")
    model = load_model("pa_net", None, a.device)
    stats = {}
    for label, frames in (("light (mch20170131)", light), ("heavy (mch20150515)", heavy)):
        x = torch.from_numpy(np.clip(np.nan_to_num(frames), 0, 70) / 70.0)[None].float().to(a.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            model(x)
        dt = time.perf_counter() - t0
        s = model.stats
        stats[label] = {"k_by_bin": s["k_by_bin"], "tokens_by_bin": s["tokens_by_bin"], "mean_k": s["mean_k"],
                        "seconds": dt}
        print(f"PA-Net {label}: mean k {s['mean_k']:.2f}, k by bin {s['k_by_bin']}, tokens {s['tokens_by_bin']}, {dt:.3f} s")
    out = Path("out/nowcast")
    out.mkdir(parents=True, exist_ok=True)
    (out / "inference.json").write_text(json.dumps({"seconds": rows, "pa_net_experts": stats, "device": a.device,
                                                    "torch_threads": torch.get_num_threads()}, indent=1))


if __name__ == "__main__":
    main()
