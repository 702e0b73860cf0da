"""Apply the current checkpoint-selection rule to checkpoints already trained.

``python tools/nowcast/reselect.py hvrmet/nowcast/checkpoints/pa_net.pt [...]``

Each checkpoint's ``.json`` records every validation candidate of its training run.
:func:`hvrmet.nowcast.train.select_best` is applied to them again; when it now picks the
zero-residual start (candidate 0), the start's weights are rebuilt exactly as ``train``
builds them (``torch.manual_seed(seed)``, then ``build_model(model, **model_config)``:
the output head is zero, so its forecast is the extrapolation's) and written in place,
with ``selected``, ``selected_is_zero_residual_start`` and a ``reselected`` record
(rule, date, previous selection) updated in the meta. A trained candidate other than the
one stored cannot be rebuilt (its weights were not kept): that is an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hvrmet.nowcast.models import build_model  # noqa: E402
from hvrmet.nowcast.train import select_best, write_checkpoint  # noqa: E402


def reselect(path: Path) -> str:
    ckpt = torch.load(path, weights_only=False)
    meta = ckpt["meta"]
    cands = meta["candidates"]
    new = select_best(cands)
    old = cands.index(meta["selected"]) if meta["selected"] in cands else None
    if new == old:
        return f"{path}: unchanged (candidate {new}, step {cands[new]['step']})"
    if new != 0:
        raise SystemExit(f"{path}: the rule now picks step {cands[new]['step']}, whose weights were not kept; retrain")
    torch.manual_seed(int(meta["train_config"]["seed"]))
    model = build_model(meta["model"], **meta["train_config"].get("model_config", {}))
    if model.config != meta["config"]:
        raise SystemExit(f"{path}: rebuilt configuration {model.config} differs from the recorded {meta['config']}")
    meta["reselected"] = {"rule": "select_best: CSI35/HSS45 not below the start, RAPSD ratio at least 95 % "
                                  "of the start's, MAE not above it",
                          "date": dt.date.today().isoformat(), "previous_selected": meta["selected"],
                          "command": "python tools/nowcast/reselect.py " + str(path)}
    meta["selected"] = cands[0]
    meta["selected_is_zero_residual_start"] = True
    write_checkpoint(path, model, meta)
    return f"{path}: step {meta['reselected']['previous_selected']['step']} -> the zero-residual start (step 0)"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    for p in ap.parse_args(argv).checkpoints:
        print(reselect(p))


if __name__ == "__main__":
    main()
