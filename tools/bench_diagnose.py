#!/usr/bin/env python3
"""Speed of a whole diagnosis against a plain script doing the same science.

Runs ``hvrmet diagnose CASE --no-figures`` and ``tools/baseline_may1999.py`` alternately
(interleaved, so a busy machine slows both alike), each as a fresh process, ``--runs``
times, and prints the wall times, their medians and the ratio; writes JSON to ``--out``.

hvrmet's own modules are byte-compiled first (``compileall``), as an installed copy is: an
editable install run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every
hvrmet module from source in each timed process, while the baseline's libraries come
compiled from their wheels.

    HVRMET_DATA_DIR=../shared/data python tools/bench_diagnose.py --runs 5
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hvrmet

ROOT = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="may1999")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default="out/bench/diagnose.json")
    args = ap.parse_args()
    env = {**os.environ}
    if "HVRMET_DATA_DIR" not in env:
        raise SystemExit("set HVRMET_DATA_DIR to the data folder")
    hv = str(Path(sys.executable).with_name("hvrmet"))
    pkg = Path(hvrmet.__file__).resolve().parent
    if not compileall.compile_dir(str(pkg), quiet=1):
        raise SystemExit(f"byte-compiling {pkg} failed")
    print(f"byte-compiled {pkg}")
    times: dict[str, list[float]] = {"hvrmet": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            times["hvrmet"].append(_timed([hv, "diagnose", args.case, "--no-figures", "--out", tmp], env))
            times["baseline"].append(_timed([sys.executable, str(ROOT / "tools" / "baseline_may1999.py")], env))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["hvrmet"] / med["baseline"]
    print(f"{'run':>4} {'hvrmet diagnose':>16} {'baseline script':>16}")
    for i, (a, b) in enumerate(zip(times["hvrmet"], times["baseline"]), 1):
        print(f"{i:>4} {a:>15.2f}s {b:>15.2f}s")
    print(f"median {med['hvrmet']:.2f} s vs {med['baseline']:.2f} s: ratio {ratio:.2f} (goal 1.5)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"case": args.case, "runs": args.runs, "seconds": times, "median": med,
                               "ratio": round(ratio, 3), "cpus": os.cpu_count(),
                               "byte_compiled": True}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
