#!/usr/bin/env python3
"""CPU inference time of every nowcasting method (a 12-frame forecast at 256x256) and
PA-Net's active experts per token and CPU time on a light- and a heavy-rain scene.

    HVRMET_DATA_DIR=../shared/data nice -n 19 python tools/nowcast/bench_inference.py [--repeats 7]

One thread (``torch.set_num_threads(1)``), median of ``--repeats`` runs after a warm-up;
PA-Net's scenes are timed in process CPU time (less disturbed by other load than wall
time), for the whole network and for its PA-MoE layers alone.
For the learned models two times are given: the whole forecast through the registry
(pysteps Lucas-Kanade motion + extrapolation + the network, what a user waits for) and
the network alone (motion and extrapolation given). Prints tables and writes
``out/nowcast/inference.json``. Timings, not tests: they depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np


def scene(case: str, size: int = 256, heavy: bool = True) -> np.ndarray:
    """Six frames (dBZ) of a ``size`` x ``size`` window of an event, searched over start
    frames and windows (stride 64) of the whole domain: with ``heavy`` the one whose last
    frame has the most 8x8 tokens reaching 20/35/45 dBZ (the most PA-MoE experts), else
    the one with the fewest, among windows whose last frame holds echo (>= 7 dBZ) on at
    least 30 % of the pixels and no missing data."""
    import torch
    import torch.nn.functional as F

    from hvrmet.nowcast.dataset import event_sequence

    dbz, _, _ = event_sequence(case, crop=None)
    best, key = None, None
    for t in range(5, len(dbz)):
        last = dbz[t]
        tok = F.max_pool2d(torch.from_numpy(np.nan_to_num(last, nan=0.0))[None, None], 8)[0, 0].numpy()
        k = (tok[..., None] >= np.array([20.0, 35.0, 45.0])).sum(-1)
        n = size // 8
        for r in range(0, last.shape[0] - size + 1, 64):
            for c in range(0, last.shape[1] - size + 1, 64):
                w = last[r:r + size, c:c + size]
                if np.isnan(w).any() or np.mean(w >= 7.0) < 0.3:
                    continue
                mk = float(k[r // 8:r // 8 + n, c // 8:c // 8 + n].mean())
                if key is None or (mk > key if heavy else mk < key):
                    best, key = (t, r, c), mk
    t, r, c = best
    return np.array(dbz[t - 5:t + 1, r:r + size, c:c + size])


def timed(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts


def main() -> None:
    import torch

    from hvrmet.nowcast import LEARNED, METHODS, get_method
    from hvrmet.nowcast.baselines import extrapolation, motion_field
    from hvrmet.nowcast.learned import load_model
    from hvrmet.nowcast.models.pa_net import PAMoE

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--methods", nargs="*", default=list(METHODS))
    ap.add_argument("--out", default="out/nowcast/inference.json")
    ap.add_argument("--only-experts", action="store_true", help="skip the inference table")
    a = ap.parse_args()
    torch.set_num_threads(1)
    heavy, light = scene("mch20150515", heavy=True), scene("mch20170131", heavy=False)
    if a.only_experts:
        a.methods = []
    v = motion_field(heavy)
    adv = extrapolation(heavy, 12, velocity=v)
    rows = {}
    print(f"12-frame forecast at 256x256, CPU, 1 thread, median of {a.repeats} (load {os.getloadavg()[0]:.1f})")
    print(f"{'method':14s} {'whole (s)':>10s} {'network (s)':>12s}")
    for name in a.methods:
        fn = get_method(name)
        if name in LEARNED:
            load_model(name, None, "cpu")
        whole, _ = timed(lambda: fn(heavy, 12), a.repeats)
        net = None
        if name in LEARNED:
            net, _ = timed(lambda: fn(heavy, 12, velocity=v, advected=adv), a.repeats)
        rows[name] = {"whole_s": whole, "network_s": net, "under_2s": whole < 2.0}
        print(f"{name:14s} {whole:10.3f} {'' if net is None else f'{net:12.3f}'}")
    motion_s, _ = timed(lambda: motion_field(heavy), a.repeats)
    adv_s, _ = timed(lambda: extrapolation(heavy, 12, velocity=v), a.repeats)
    print(f"(shared parts: Lucas-Kanade motion {motion_s:.3f} s, extrapolation {adv_s:.3f} s)")

    # PA-Net: experts per token by intensity bin and CPU time, light vs heavy scene
    model = load_model("pa_net", None, "cpu")
    experts = {}
    print("\nPA-Net on a light and a heavy scene (network only, 1 thread, median of runs)")
    for label, frames in (("light (mch20170131)", light), ("heavy (mch20150515)", heavy)):
        vv = motion_field(frames)
        aa = extrapolation(frames, 12, velocity=vv)

        def scaled(z):
            return torch.from_numpy(np.clip(np.nan_to_num(z, nan=0.0), 0, 70).astype(np.float32) / 70.0)[None]

        x, ad, mo = scaled(frames), scaled(aa), torch.from_numpy(vv.astype(np.float32))[None]

        moe_cpu = []

        def pre(_m, _i):
            moe_cpu.append(-time.process_time())

        def post(_m, _i, _o):
            moe_cpu[-1] += time.process_time()

        hooks = [m.register_forward_pre_hook(pre) for m in model.modules() if isinstance(m, PAMoE)]
        hooks += [m.register_forward_hook(post) for m in model.modules() if isinstance(m, PAMoE)]
        cpu_runs, moe_runs = [], []

        def run():
            del moe_cpu[:]
            c0 = time.process_time()
            with torch.inference_mode():
                model(x, ad, mo)
            cpu_runs.append(time.process_time() - c0)
            moe_runs.append(sum(moe_cpu))

        med, ts = timed(run, max(a.repeats, 15))
        for h in hooks:
            h.remove()
        cpu_med = statistics.median(cpu_runs[1:])
        moe_med = statistics.median(moe_runs[1:])
        s = model.stats
        experts[label] = {"k_by_bin": s["k_by_bin"], "tokens_by_bin": s["tokens_by_bin"], "mean_k": s["mean_k"],
                          "median_wall_s": med, "median_cpu_s": cpu_med, "median_moe_cpu_s": moe_med,
                          "runs_wall_s": ts, "fraction_ge35": float(np.mean(np.nan_to_num(frames) >= 35))}
        kb = ", ".join(f"{k}: {'-' if v is None else f'{v:.2f}'}" for k, v in s["k_by_bin"].items())
        print(f"  {label:22s} mean k {s['mean_k']:.3f}  k by bin {{{kb}}}  CPU {cpu_med:.4f} s "
              f"(of it PA-MoE {moe_med:.4f} s), wall {med:.4f} s")
    names = list(experts)
    rising = all(
        (a1 is None or b1 is None or a1 <= b1)
        for d in experts.values()
        for a1, b1 in zip(list(d["k_by_bin"].values())[:-1], list(d["k_by_bin"].values())[1:]))
    l, h = experts[names[0]], experts[names[1]]
    print(f"  k rises with the intensity bin: {rising}; light below heavy in CPU time: "
          f"{l['median_cpu_s'] < h['median_cpu_s']} (whole network), {l['median_moe_cpu_s'] < h['median_moe_cpu_s']} (PA-MoE layers)")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"inference_256": rows, "shared": {"motion_s": motion_s, "extrapolation_s": adv_s},
                               "pa_net_experts": experts, "k_rises_with_bin": rising,
                               "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                               "loadavg": os.getloadavg()}, indent=1, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
