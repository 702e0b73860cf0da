"""Training on real radar patches (a short run here; the full runs are marked slow), the
shipped checkpoints, and the method registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hvrmet.nowcast import LEARNED, METHODS, get_method
from hvrmet.nowcast.learned import checkpoint_path
from hvrmet.nowcast.train import TrainConfig, select_best, train


def test_unknown_method_lists_known():
    with pytest.raises(ValueError, match="known methods: persistence, extrapolation"):
        get_method("magic")
    assert set(LEARNED) <= set(METHODS)


@pytest.mark.parametrize("name", LEARNED)
def test_short_real_training_run(data_dir, tmp_path, name):
    """A few optimiser steps on real 128x128 crops of the winter MeteoSwiss event."""
    torch.set_num_threads(1)
    cfg = TrainConfig(model=name, epochs=1, steps_per_epoch=3, batch_size=2, max_train=8, max_val=2,
                      val_every=2, device="cpu", train_cases=["mch20170131"], t_stride=12, crops_per_start=4,
                      val_t_stride=12, val_crops_per_start=1, cache_pool=False)
    meta = train(cfg, tmp_path / f"{name}.pt", progress=False, command="test")
    ckpt = torch.load(tmp_path / f"{name}.pt", weights_only=False)
    assert ckpt["meta"]["train_samples"] == 8 and ckpt["meta"]["parameters"] > 1e5
    assert len(ckpt["meta"]["data_sha256"]["train"]["mch20170131"]) == 40
    assert ckpt["meta"]["data"]["train"]["events"] == 1 and ckpt["meta"]["data"]["samples_drawn"] == 6
    # candidates: the zero-residual start, then steps 2 and 3; the selected one is among them
    assert [c["step"] for c in meta["candidates"]] == [0, 2, 3]
    assert meta["selected"] in meta["candidates"]
    assert all(np.isfinite(h["val_mae_dbz"]) and "val_CSI35" in h and "val_RAPSD_ratio" in h for h in meta["history"])
    assert json.loads((tmp_path / f"{name}.json").read_text())["model"] == name


def test_best_checkpoint_selection_never_ships_worse_than_the_start():
    start = {"step": 0, "CSI35": 0.30, "HSS45": 0.20, "n_obs35": 5000, "n_obs45": 5000}
    better_csi_worse_hss = {"step": 50, "CSI35": 0.40, "HSS45": 0.19}
    better = {"step": 100, "CSI35": 0.32, "HSS45": 0.22}
    best = {"step": 150, "CSI35": 0.35, "HSS45": 0.25}
    worse = {"step": 200, "CSI35": 0.10, "HSS45": 0.10}
    assert select_best([start]) == 0
    assert select_best([start, worse, better_csi_worse_hss]) == 0      # neither score may drop
    assert select_best([start, better, worse]) == 1
    assert select_best([start, better, best, worse]) == 2
    assert select_best([start, {"step": 9, "CSI35": float("nan"), "HSS45": 0.5}]) == 0
    # too few observed 45-dBZ pixels on validation: HSS45 is noise and left out
    sparse = dict(start, n_obs45=30)
    assert select_best([sparse, better_csi_worse_hss]) == 1
    with pytest.raises(ValueError):
        select_best([])


def test_selection_refuses_candidates_that_smooth_or_err_more_than_the_start():
    start = {"step": 0, "CSI35": 0.30, "HSS45": 0.20, "RAPSD_ratio": 0.80, "MAE_dbz": 2.50,
             "n_obs35": 5000, "n_obs45": 5000}
    smoother = {"step": 1, "CSI35": 0.40, "HSS45": 0.30, "RAPSD_ratio": 0.759, "MAE_dbz": 2.40}
    edge = {"step": 2, "CSI35": 0.35, "HSS45": 0.25, "RAPSD_ratio": 0.76, "MAE_dbz": 2.50}   # 0.95 x 0.80, same MAE
    worse_mae = {"step": 3, "CSI35": 0.40, "HSS45": 0.30, "RAPSD_ratio": 0.85, "MAE_dbz": 2.501}
    no_rapsd = {"step": 4, "CSI35": 0.45, "HSS45": 0.35, "MAE_dbz": 2.0}
    assert select_best([start, smoother]) == 0
    assert select_best([start, smoother, edge]) == 2        # at the tolerance is allowed
    assert select_best([start, worse_mae]) == 0
    assert select_best([start, worse_mae], mae_tolerance=0.01) == 1
    assert select_best([start, smoother], rapsd_tolerance=0.06) == 1
    assert select_best([start, no_rapsd]) == 0               # a guard the start has must be met
    # guards the start lacks (or has as NaN) are left out
    bare = {k: v for k, v in start.items() if k not in ("RAPSD_ratio", "MAE_dbz")}
    assert select_best([bare, smoother]) == 1
    assert select_best([dict(start, RAPSD_ratio=float("nan"), MAE_dbz=float("nan")), smoother]) == 1


def test_reselect_rebuilds_the_zero_residual_start(tmp_path):
    """``tools/nowcast/reselect.py`` on a checkpoint whose stored selection the current rule
    refuses: the start's weights are rebuilt (zero output head) and the meta updated."""
    import subprocess
    import sys

    from hvrmet.nowcast.models import build_model

    torch.manual_seed(0)
    model = build_model("impa_net")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)                                       # "trained" weights
    start = {"step": 0, "CSI35": 0.30, "HSS45": 0.20, "RAPSD_ratio": 0.80, "MAE_dbz": 2.5,
             "n_obs35": 5000, "n_obs45": 5000}
    smoother = {"step": 10, "CSI35": 0.40, "HSS45": 0.30, "RAPSD_ratio": 0.50, "MAE_dbz": 2.4}
    meta = {"model": "impa_net", "config": model.config, "train_config": {"seed": 0, "model_config": {}},
            "candidates": [start, smoother], "selected": smoother, "selected_is_zero_residual_start": False}
    path = tmp_path / "impa_net.pt"
    torch.save({"meta": meta, "state_dict": model.state_dict()}, path)
    res = subprocess.run([sys.executable, "tools/nowcast/reselect.py", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    ck = torch.load(path, weights_only=False)
    assert ck["meta"]["selected"] == start and ck["meta"]["selected_is_zero_residual_start"]
    assert ck["meta"]["reselected"]["previous_selected"] == smoother
    torch.manual_seed(0)
    fresh = build_model("impa_net").state_dict()
    assert all(torch.equal(ck["state_dict"][k], fresh[k]) for k in fresh)
    again = subprocess.run([sys.executable, "tools/nowcast/reselect.py", str(path)], capture_output=True, text=True)
    assert again.returncode == 0 and "unchanged" in again.stdout


@pytest.mark.parametrize("name", LEARNED)
def test_shipped_checkpoint_forecasts_a_real_window(data_dir, name):
    from hvrmet.nowcast.dataset import event_sequence

    path = checkpoint_path(name)
    assert path.is_file(), f"{path} missing"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["command"].startswith(f"hvrmet nowcast train {name}")
    assert path.stat().st_size < 8e6
    assert meta["selected"]["CSI35"] >= meta["candidates"][0]["CSI35"]          # never below extrapolation
    assert meta["data"]["train"]["events"] == 4 and set(meta["data_sha256"]["train"]) == set(
        ["mch20150515", "mch20170131", "knmi20100826", "bom20180616"])
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
    assert meta["selected"]["CSI35"] >= meta["candidates"][0]["CSI35"]
    assert meta["selected"]["CSI35"] == pytest.approx(shipped["selected"]["CSI35"], rel=0.25)


def test_eval_runs_on_a_user_case_file(data_dir, tmp_path):
    """`hvrmet nowcast eval --cases FILE --data-dir DIR --starts 1 --crop 128 --lead-max 30
    --json` on files in another folder."""
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
                          "extrapolation", "--starts", "1", "--every", "10", "--crop", "128", "--lead-max", "30",
                          "--out", str(tmp_path / "out"), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    table = {r["method"]: r for r in out["table"]}
    assert table["extrapolation"]["forecasts"] == 1 and table["extrapolation"]["CSI35_vs_extrapolation"] == 1.0
    assert out["settings"]["crop"] == 128 and out["settings"]["lead_times"] == 6 and out["settings"]["native_only"]
    assert [r["lead_min"] for r in out["methods"]["extrapolation"]["per_lead"]] == [5, 10, 15, 20, 25, 30]
    case_id = next(iter(out["cases"]))
    assert out["cases"][case_id]["domain"] == [128, 128]
    assert set(out["table_per_case"][case_id][0]) >= {"CSI35_vs_extrapolation", "HSS45_vs_extrapolation"}
    assert (tmp_path / "out" / "csi_by_lead.png").is_file()
    bad = subprocess.run([sys.executable, "-m", "hvrmet.cli", "nowcast", "eval", "--cases", str(case),
                          "--lead-max", "2", "--methods", "persistence"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "lead-max" in (bad.stderr + bad.stdout)


def test_analysis_starts_are_native_frames_every_n_minutes():
    from hvrmet.nowcast.verification import analysis_starts

    t = (np.datetime64("2018-06-16T00:00", "ns") + np.arange(30) * np.timedelta64(5, "m")).astype("datetime64[ns]")
    native = [(i * 5) % 30 == 0 for i in range(len(t))]      # 6-min data on the 5-min grid: every 6th
    got = analysis_starts(native, t, n_in=6, every_min=30)
    assert got == [6, 12, 18] and all(native[a] for a in got)
    assert analysis_starts(native, t, n_in=6, every_min=60) == [6, 18]
    assert analysis_starts(native, t, n_in=6, every_min=30, starts=1) == [6]
    assert analysis_starts([True] * 30, t, n_in=6, every_min=10, lead_times=12) == list(range(5, 29, 2))


def test_eval_verifies_only_at_native_times(data_dir):
    """BoM is 6-minute data: on the 5-minute grid only every 6th frame (30 min) is
    observed; nothing is verified against the interpolated frames between."""
    from hvrmet.nowcast.verification import evaluate

    res = evaluate(["persistence"], ["bom20180616"], every_min=30, starts=2, crop=64, lead_max_min=60,
                   scales=(4,), share_motion=False)
    c = res["cases"]["bom20180616"]
    assert len(c["analysis_times"]) == 2 and c["domain"] == [64, 64]
    assert c["verified_leads_min"] == [[30.0, 60.0], [30.0, 60.0]]
    pairs = res["methods"]["persistence"]["scores"]["n_pairs"]
    assert pairs == [0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 2]


def test_odim_frame_time_comes_from_the_file_contents(data_dir):
    """ODIM_H5 composite times from /what date and time, checked against h5py directly
    (and not from the file name: a copy under a name without a time reads the same)."""
    import shutil

    import h5py

    from hvrmet.nowcast.dataset import frame_time_from_contents

    files = sorted((data_dir / "pysteps-data/radar/OPERA/20180824").glob("*.hdf"))[:2]
    for f in files:
        with h5py.File(f, "r") as h5:
            d = h5["what"].attrs["date"].decode()
            t = h5["what"].attrs["time"].decode()
        expect = np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:6]}", "ns")
        assert frame_time_from_contents(f, "opera_hdf5") == expect
    assert frame_time_from_contents(files[0], "fmi_pgm") is None


def test_odim_frame_time_without_a_time_in_the_name(data_dir, tmp_path):
    import shutil

    import h5py

    from hvrmet.nowcast.dataset import frame_time_from_contents

    src = sorted((data_dir / "pysteps-data/radar/OPERA/20180824").glob("*.hdf"))[3]
    dst = tmp_path / "composite.h5"
    shutil.copy(src, dst)
    with h5py.File(dst, "r") as h5:
        d, t = (h5["what"].attrs[k].decode() for k in ("date", "time"))
    got = frame_time_from_contents(dst, "odim_hdf5")
    assert str(got)[:19] == f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:6]}"


@pytest.mark.parametrize("name", LEARNED)
def test_untrained_model_forecast_is_the_extrapolation_method_exactly(data_dir, name):
    """Through the registry's contract (dBZ in, dBZ out, a grid padded to a multiple of
    16): an untrained model returns `extrapolation`'s forecast bit for bit, NaN included."""
    from hvrmet.nowcast.dataset import event_sequence
    from hvrmet.nowcast.learned import _forecast
    from hvrmet.nowcast.models import build_model

    torch.set_num_threads(1)
    dbz, _, _ = event_sequence("fmi20170509", crop=100)
    frames = np.array(dbz[10:16])
    frames[:, :3, :] = np.nan                                  # a strip never covered
    fc = _forecast(name, frames, 12, model=build_model(name).eval())
    ref = get_method("extrapolation")(frames, 12)
    assert fc.shape == (12, 100, 100) and np.isnan(fc[:, 0]).all()
    assert np.array_equal(fc, ref, equal_nan=True)


def test_time_schedule_follows_pytorch_one_cycle():
    """``one_cycle_lr`` against PyTorch's own ``OneCycleLR`` at every step of a run."""
    from hvrmet.nowcast.train import one_cycle_lr

    total, max_lr = 200, 2e-3
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=0.15)
    for step in range(total):
        # PyTorch's phase ends at step pct_start * total - 1 and the run at total - 1
        frac = step / (0.15 * total - 1) * 0.15 if step <= 0.15 * total - 1 else \
            0.15 + (step - (0.15 * total - 1)) / (total - 1 - (0.15 * total - 1)) * 0.85
        assert one_cycle_lr(frac, max_lr) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        opt.step()
        sched.step()
    assert one_cycle_lr(0.0, max_lr) == pytest.approx(max_lr / 25)
    assert one_cycle_lr(0.15, max_lr) == pytest.approx(max_lr)
    assert one_cycle_lr(1.0, max_lr) == pytest.approx(max_lr / 25 / 1e4)
    assert one_cycle_lr(-1.0, max_lr) == one_cycle_lr(0.0, max_lr) and one_cycle_lr(2.0, max_lr) == one_cycle_lr(1.0, max_lr)


def test_time_scheduled_run_stops_at_its_limit_and_validates_by_seconds(data_dir, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(model="impa_net", epochs=1, steps_per_epoch=10 ** 6, batch_size=2, max_train=4, max_val=1,
                      val_every=10 ** 6, val_every_s=0.0, device="cpu", train_cases=["mch20170131"], t_stride=12,
                      crops_per_start=2, val_t_stride=12, val_crops_per_start=1, cache_pool=False,
                      schedule="time", time_limit_s=1.0)
    meta = train(cfg, tmp_path / "m.pt", progress=False, command="test")
    assert meta["stopped_at_time_limit"] and meta["steps"] >= 1
    # val_every_s = 0: a candidate after every step (plus the zero-residual start)
    assert [c["step"] for c in meta["candidates"]] == list(range(meta["steps"] + 1))
    with pytest.raises(ValueError, match="time_limit_s"):
        train(TrainConfig(model="impa_net", schedule="time", device="cpu", train_cases=["mch20170131"], t_stride=12,
                          crops_per_start=1, val_t_stride=12, val_crops_per_start=1, cache_pool=False),
              tmp_path / "x.pt", progress=False)
    with pytest.raises(ValueError, match="schedule must be"):
        train(TrainConfig(model="impa_net", schedule="epochs", device="cpu", train_cases=["mch20170131"],
                          t_stride=12, crops_per_start=1, val_t_stride=12, val_crops_per_start=1,
                          cache_pool=False), tmp_path / "y.pt", progress=False)
