"""The GPU recipe of the three learned nowcasting models: one prepared run on one GPU.

What it does, in one process tree and a fixed wall-clock budget:

1. builds the training and validation sample pools once (:func:`hvrmet.nowcast.pool.build_pool`,
   pysteps Lucas-Kanade motion and extrapolation per start frame, in one process per
   CPU core), from the radar files or, on a machine without them, from the sequences that
   ``export`` wrote on one that has them (``HVRMET_NOWCAST_SEQUENCES``);
2. trains PA-Net, MeTok and IMPA-Net side by side on the one GPU (``--device cuda``,
   bf16 autocast; each a separate process), each for ``--seconds`` with the one-cycle
   learning rate spread over that time (``schedule: time``), validating on CSI35 / HSS45
   every ``val_every_s`` and keeping the best candidate (never worse than the zero-
   residual start: extrapolation);
3. writes ``<model>.pt`` and ``<model>.json`` (weights, configuration, data sha256,
   every validation candidate, the command) and one log to ``--out``.

On a machine with the radar files::

    python tools/nowcast/gpu_recipe.py export --out .gpu/sequences     # 23 MB for train + validation (float32)

On the GPU machine (``OUT`` is the folder whose files come back)::

    HVRMET_NOWCAST_SEQUENCES=.gpu/sequences python3 tools/nowcast/gpu_recipe.py train --out $OUT --seconds 270

Through this workplace's ``device`` tool (one H200; its image has PyTorch, OpenCV, SciPy,
xarray, rich and Cython but not pysteps, which PyPI has only as an sdist for 1.21.5):
put the exported sequences in ``.gpu/sequences`` and, in ``.whl``, the wheels of
jsmin 3.0.1 (``pip wheel``), jsonschema 4.26.0, jsonschema-specifications 2025.9.1,
referencing 0.37.0, rpds-py (cp312 manylinux) and ``pysteps-1.21.5.tar.gz``; both folders
ignored through ``.git/info/exclude`` and carried (about 25 MB). The command::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl &&
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .whl/pysteps-1.21.5.tar.gz;
    export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1;
    HVRMET_NOWCAST_SEQUENCES=.gpu/sequences timeout 500 python3 tools/nowcast/gpu_recipe.py train --out $OUT --seconds 240

(seven files come back: three ``.pt``, three ``.json``, ``train.log``). Not yet run on
a GPU: the one call so far (2026-12-04) was refused, no machine being lent.

Data-parallel training over several GPUs goes through ``torchrun`` and
``hvrmet nowcast train`` (``WORLD_SIZE`` > 1); this recipe is the one-GPU case.
The configurations are ``tools/nowcast/<model>_gpu.yaml``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODELS = ("pa_net", "metok", "impa_net")


def _export(args) -> None:
    from hvrmet.nowcast.dataset import export_sequences, load_split

    cases = load_split("train") + load_split("validation")
    for p in export_sequences(cases, args.out):
        print(f"{p}  {p.stat().st_size / 1e6:.1f} MB")


def _config(model: str, seconds: float | None, device: str, sets: list[str] | None = None):
    import yaml

    from hvrmet.nowcast.train import TrainConfig

    over = {"device": device}
    if seconds is not None:
        over["time_limit_s"] = float(seconds)
    for item in sets or []:  # --set key=value (a YAML value), e.g. a quick smoke run
        key, _, value = item.partition("=")
        over[key.strip()] = yaml.safe_load(value)
    return TrainConfig.from_file(model, str(HERE / f"{model}_gpu.yaml"), **over)


def _one(args) -> None:
    """One model's training (a child process of ``train``)."""
    import torch

    from hvrmet.nowcast.train import train

    cfg = _config(args.model, args.seconds, args.device, args.set)
    torch.set_float32_matmul_precision("high")
    cmd = (f"HVRMET_NOWCAST_SEQUENCES=<exported train+validation sequences> python3 tools/nowcast/gpu_recipe.py train "
           f"--seconds {cfg.time_limit_s:g} --device {args.device}")
    meta = train(cfg, Path(args.out) / f"{args.model}.pt", progress=True, command=cmd)
    sel = meta["selected"]
    print(f"{args.model}: {meta['steps']} steps in {meta['seconds']} s on {meta['device']}; selected step "
          f"{sel['step']} CSI35 {sel['CSI35']:.4f} HSS45 {sel['HSS45']:.4f} "
          f"(start {meta['candidates'][0]['CSI35']:.4f} / {meta['candidates'][0]['HSS45']:.4f})", flush=True)


def _train(args) -> None:
    from hvrmet.nowcast.train import _pools

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cfg = _config(MODELS[0], args.seconds, args.device, args.set)
    cfg.pool_workers = int(args.workers or os.cpu_count() or 1)
    tp, vp = _pools(cfg)  # cached under out/nowcast/pool: the children find them there
    print(f"pools: {len(tp)} training samples, {len(vp)} validation samples in "
          f"{time.perf_counter() - t0:.0f} s ({cfg.pool_workers} workers)", flush=True)
    for m in MODELS[1:]:
        other = _config(m, args.seconds, args.device, args.set)
        for k in ("patch", "crops_per_start", "t_stride", "margin", "val_patch", "val_crops_per_start",
                  "val_t_stride", "seed"):
            if getattr(other, k) != getattr(cfg, k):
                raise SystemExit(f"{m}_gpu.yaml: {k} differs from {MODELS[0]}_gpu.yaml (the pools are shared)")
    log = open(out / "train.log", "a")
    procs = []
    for m in (args.models or MODELS):
        cmd = [sys.executable, str(Path(__file__).resolve()), "one", m, "--out", str(out.resolve()),
               "--device", args.device]
        if args.seconds is not None:
            cmd += ["--seconds", str(args.seconds)]
        for item in args.set or []:
            cmd += ["--set", item]
        # the same working directory: the pools are cached under ./out/nowcast/pool
        procs.append((m, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd())))
    bad = [m for m, p in procs if p.wait() != 0]
    log.close()
    print((out / "train.log").read_text()[-6000:])
    print(f"total {time.perf_counter() - t0:.0f} s")
    if bad:
        raise SystemExit(f"training failed: {', '.join(bad)}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="write the train + validation sequences for a machine without the data")
    e.add_argument("--out", default=".gpu/sequences")
    t = sub.add_parser("train", help="build the pools, then train the three models side by side")
    t.add_argument("--out", default="out/nowcast/gpu")
    t.add_argument("--seconds", type=float, default=None, help="training time per model (default: the YAML's)")
    t.add_argument("--device", default="cuda")
    t.add_argument("--workers", type=int, default=None, help="processes building the pools (default: every core)")
    t.add_argument("--models", nargs="*", choices=MODELS)
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a configuration field")
    o = sub.add_parser("one")
    o.add_argument("model", choices=MODELS)
    o.add_argument("--out", required=True)
    o.add_argument("--seconds", type=float, default=None)
    o.add_argument("--device", default="cuda")
    o.add_argument("--set", action="append", metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    {"export": _export, "train": _train, "one": _one}[args.cmd](args)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
