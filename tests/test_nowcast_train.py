"""Training on real radar patches (a short run here; the full runs are marked slow), the
shipped checkpoints, and the method registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hvrmet.nowcast import LEARNED, METHODS, get_method
from hvrmet.nowcast.learned import checkpoint_path
from hvrmet.nowcast.train import TrainConfig, train


def test_unknown_method_lists_known():
    with pytest.raises(ValueError, match="known methods: persistence, extrapolation"):
        get_method("magic")
    assert set(LEARNED) <= set(METHODS)


@pytest.mark.parametrize("name", LEARNED)
def test_short_real_training_run(data_dir, tmp_path, name):
    """A few optimiser steps on real 128x128 patches of the winter MeteoSwiss event."""
    torch.set_num_threads(1)
    cfg = TrainConfig(model=name, epochs=1, steps_per_epoch=3, batch_size=2, max_train=8, max_val=4,
                      max_val_batches=1, device="cpu", train_cases=["mch20170131"])
    meta = train(cfg, tmp_path / f"{name}.pt", progress=False, command="test")
    ckpt = torch.load(tmp_path / f"{name}.pt", weights_only=False)
    assert ckpt["meta"]["train_samples"] == 8 and ckpt["meta"]["parameters"] > 1e5
    assert len(ckpt["meta"]["data_sha256"]["train"]["mch20170131"]) == 40
    assert np.isfinite(meta["history"][0]["val_mae_dbz"])
    assert json.loads((tmp_path / f"{name}.json").read_text())["model"] == name


@pytest.mark.parametrize("name", LEARNED)
def test_shipped_checkpoint_forecasts_a_real_window(data_dir, name):
    from hvrmet.nowcast.dataset import event_sequence

    path = checkpoint_path(name)
    assert path.is_file(), f"{path} missing"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["command"].startswith(f"hvrmet nowcast train {name}")
    assert path.stat().st_size < 8e6
    dbz, _, _ = event_sequence("fmi20170509", crop=256)
    fc = get_method(name)(dbz[:6], 12)
    assert fc.shape == (12, 256, 256)
    assert np.isfinite(fc).mean() > 0.5 and np.nanmax(fc) <= 70.0


@pytest.mark.slow
@pytest.mark.parametrize("name", LEARNED)
def test_full_training_reproduces(data_dir, tmp_path, name):
    """The full configuration of the shipped checkpoint (minutes per model on 2 cores)."""
    cfg = TrainConfig.from_file(name, f"tools/nowcast/{name}.yaml", device="cpu")
    meta = train(cfg, tmp_path / f"{name}.pt", progress=False)
    shipped = json.loads(checkpoint_path(name).with_suffix(".json").read_text())
    assert meta["history"][-1]["val_mae_dbz"] == pytest.approx(shipped["history"][-1]["val_mae_dbz"], rel=0.25)


def test_eval_runs_on_a_user_case_file(data_dir, tmp_path):
    """`hvrmet nowcast eval --cases FILE --data-dir DIR --json` on files in another folder."""
    import shutil
    import subprocess
    import sys

    import yaml

    mine = tmp_path / "data" / "fmi"
    mine.mkdir(parents=True)
    for f in sorted((data_dir / "pysteps-data/radar/fmi/pgm/20170509").glob("*.pgm.gz"))[:20]:
        shutil.copy(f, mine)
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump({"id": "myfmi", "title": "t", "time": "2017-05-09T10:45:00Z",
                                    "location": {"lat": 62, "lon": 25},
                                    "files": [{"role": "composite_sequence", "format": "composite",
                                               "glob": "fmi/*.pgm.gz", "options": {"importer": "fmi_pgm"}}]}))
    res = subprocess.run([sys.executable, "-m", "hvrmet.cli", "nowcast", "eval", "--cases", str(case),
                          "--data-dir", str(tmp_path / "data"), "--methods", "persistence", "--methods",
                          "extrapolation", "--max-times", "1", "--out", str(tmp_path / "out"), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    table = {r["method"]: r for r in json.loads(res.stdout)["table"]}
    assert table["extrapolation"]["forecasts"] == 1 and table["extrapolation"]["CSI35_vs_extrapolation"] == 1.0
    assert (tmp_path / "out" / "csi_by_lead.png").is_file()
