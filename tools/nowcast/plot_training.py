"""Training curves of the learned nowcasting models from their checkpoints' records.

``python tools/nowcast/plot_training.py [--out docs/figures/nowcast_training_curves.png]``

For each model, from ``hvrmet/nowcast/checkpoints/<model>.json``: the training loss (the
mean over the steps since the previous candidate; runs before 2026-12-04 recorded the
mean over the last ``val_every`` steps, i.e. since step 0 when that exceeds the run) and,
at every validation candidate, pysteps CSI at 35 dBZ, the RAPSD ratio (forecast / observed
power at small scales: below 1 is smoother than the radar) and the MAE, against the
training step; the zero-residual start (the extrapolation nowcast, step 0) as a dashed
line and the shipped candidate circled.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("pa_net", "metok", "impa_net")


def main(argv=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoints", type=Path, default=ROOT / "hvrmet/nowcast/checkpoints")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/figures/nowcast_training_curves.png")
    args = ap.parse_args(argv)
    rows = (("train_loss", "training loss (as recorded)"), ("CSI35", "validation CSI 35 dBZ"),
            ("RAPSD_ratio", "validation RAPSD ratio"), ("MAE_dbz", "validation MAE (dBZ)"))
    fig, axes = plt.subplots(len(rows), len(MODELS), figsize=(4.2 * len(MODELS), 2.4 * len(rows)),
                             sharex="col", constrained_layout=True)
    for j, m in enumerate(MODELS):
        meta = json.loads((args.checkpoints / f"{m}.json").read_text())
        cands = meta["candidates"]
        sel = meta["selected"]["step"]
        for i, (key, label) in enumerate(rows):
            ax = axes[i, j]
            pts = [(c["step"], c[key]) for c in cands if c.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), "o-", ms=3, lw=1)
            if key in cands[0]:
                ax.axhline(cands[0][key], ls="--", c="0.4", lw=1, label="start = extrapolation")
            shipped = [c for c in cands if c["step"] == sel and c.get(key) is not None]
            if shipped:
                ax.plot(sel, shipped[0][key], "o", ms=10, mfc="none", mec="C3", label="shipped")
            if i == 0:
                ax.set_title(f"{m}: {meta['steps']} steps, {meta['seconds']:.0f} s on {meta['device']}", fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
            if i == len(rows) - 1:
                ax.set_xlabel("step")
            ax.tick_params(labelsize=7)
    axes[1, 0].legend(fontsize=7)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
