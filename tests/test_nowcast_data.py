"""Nowcasting data, baselines and verification on the real radar sequences.

Units are checked against the Marshall-Palmer relation by hand, the resampling against
BoM's own 6-min frames, the baselines against their definitions and pysteps' motion
field, and every score against pysteps called directly. MRMS is never decoded here (it
takes 30+ s); the held-out split is checked from ``splits.yaml`` alone.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from hvrmet.nowcast import get_method
from hvrmet.nowcast import dataset as nd
from hvrmet.nowcast.baselines import motion_field
from hvrmet.nowcast.verification import RAPSD_EDGES_KM, Verifier, evaluate, summary

pytestmark = pytest.mark.usefixtures("data_dir")
ROLE = "composite_sequence"


def _mp_dbz(rate_mm_h):
    """Marshall-Palmer by hand: Z = 200 R^1.6, dBZ = 10 log10 Z."""
    return 10.0 * np.log10(200.0 * np.asarray(rate_mm_h, dtype=float) ** 1.6)


def _synthetic(values, units, accutime=5.0):
    data = np.asarray(values, dtype=np.float32).reshape(1, 1, -1)
    n = data.shape[-1]
    return xr.Dataset({"precip": (("time", "y", "x"), data, {"units": units, "accutime_min": accutime})},
                      coords={"time": [np.datetime64("2020-01-01T00:00")], "x": np.arange(n), "y": [0.0]},
                      attrs={"threshold": 0.0, "zerovalue": 0.0, "timestep_min": accutime})


@pytest.fixture(scope="module")
def fmi_window():
    """Six FMI frames (dBZ), 256 x 256 around the heaviest rain, and the next 12."""
    dbz, _t, _m = nd.event_sequence("fmi")
    a = 11  # analysis frame 15:40 UTC
    r, c = nd.heaviest_window(dbz[a - 5:a + 1], 256)
    win = np.array(dbz[:, r:r + 256, c:c + 256])
    return win[a - 5:a + 1], win[a + 1:a + 13]


# ------------------------------------------------------------------------- units

def test_to_dbz_marshall_palmer_by_hand():
    assert _mp_dbz(1.0) == pytest.approx(23.0103, abs=1e-4)
    rates = [1.0, 10.0, 0.5, 100.0, 0.0, np.nan, 0.001]
    got = nd.to_dbz(_synthetic(rates, "mm/h"))[0, 0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[:4], _mp_dbz(rates[:4]), atol=1e-4)
    assert got[0] == pytest.approx(23.0, abs=0.02)  # 1 mm/h -> 23.0 dBZ
    assert got[4] == nd.FLOOR_DBZ and got[6] == nd.FLOOR_DBZ  # no rain and sub-floor rain -> floor
    assert np.isnan(got[5])  # outside coverage stays NaN
    # accumulations: 1/12 mm in 5 min is 1 mm/h; 0.6 mm in 6 min is 6 mm/h
    acc = nd.to_dbz(_synthetic([1 / 12, 1.0], "mm", accutime=5.0))[0, 0]
    np.testing.assert_allclose(acc, _mp_dbz([1.0, 12.0]), atol=1e-4)
    acc6 = nd.to_dbz(_synthetic([0.6], "mm", accutime=6.0))[0, 0]
    np.testing.assert_allclose(acc6, _mp_dbz([6.0]), atol=1e-4)
    # dBZ is kept, below the floor raised to it
    np.testing.assert_array_equal(nd.to_dbz(_synthetic([-32.0, 12.5, 51.0, np.nan], "dBZ"))[0, 0],
                                  np.array([0.0, 12.5, 51.0, np.nan], np.float32))
    # and back: dBZ -> rain rate (pysteps) inverts it
    np.testing.assert_allclose(nd.dbz_to_rain_rate(_mp_dbz([1.0, 10.0])), [1.0, 10.0], rtol=1e-6)


def test_to_dbz_on_real_accumulations(load):
    ds = load("mch20150515", ROLE)
    dbz = nd.to_dbz(ds)
    v = ds["precip"].values  # mm in 5 min
    rate = v * 60.0 / float(ds["precip"].attrs["accutime_min"])
    want = np.where(np.isnan(v), np.nan, np.maximum(_mp_dbz(np.maximum(rate, 1e-12)), nd.FLOOR_DBZ))
    np.testing.assert_allclose(dbz, want, atol=1e-3, equal_nan=True)
    assert np.nanmax(dbz) == pytest.approx(_mp_dbz(115.5), abs=0.1)  # GIF ceiling 115.5 mm/h, 56 dBZ


# --------------------------------------------------------------------- resampling

def test_resample_bom_6min_to_5min(load):
    ds = load("bom20180616", ROLE)
    dbz = nd.to_dbz(ds)
    t = ds["time"].values
    d5, t5 = nd.resample_5min(dbz, t)
    assert len(t5) == 73 and d5.shape == (73,) + dbz.shape[1:]  # 10:00 .. 16:00 every 5 min
    assert np.all(np.diff(t5) == np.timedelta64(5, "m"))
    assert t5[0] == t[0] and t5[-1] == t[-1]
    # a shared time (10:30 is native frame 5 and grid frame 6): the native frame itself
    k, i = 6, 5
    assert t5[k] == t[i] == np.datetime64("2018-06-16T10:30")
    np.testing.assert_array_equal(d5[k], dbz[i])
    # 10:05 lies 5/6 of the way from 10:00 to 10:06
    np.testing.assert_allclose(d5[1], dbz[0] / 6.0 + dbz[1] * 5.0 / 6.0, atol=1e-4)
    # 10:40 lies 4/6 of the way from 10:36 to 10:42
    np.testing.assert_allclose(d5[8], dbz[6] * 2.0 / 6.0 + dbz[7] * 4.0 / 6.0, atol=1e-4)


def test_resample_keeps_5min_and_leaves_gaps():
    x = np.random.default_rng(1).normal(20, 5, (4, 3, 3)).astype(np.float32)
    t = np.datetime64("2020-01-01T00:00") + np.arange(4) * np.timedelta64(5, "m")
    d5, t5 = nd.resample_5min(x, t)
    np.testing.assert_array_equal(d5, x)
    np.testing.assert_array_equal(t5, t.astype("datetime64[ns]"))
    tg = np.array(["2020-01-01T00:00", "2020-01-01T00:10", "2020-01-01T00:40"], dtype="datetime64[ns]")
    g5, tg5 = nd.resample_5min(x[:3], tg)
    assert len(tg5) == 9 and np.isnan(g5[3:8]).all() and np.isfinite(g5[1]).all()
    with pytest.raises(ValueError, match="increasing"):
        nd.resample_5min(x[:2], tg[::-1][:2])


def test_resample_at_given_grid_times():
    """``grid=``: only those times, each the same frame as on the full grid (a native time
    gives its frame, 00:05 between 00:00 and 00:06 is 1/6 + 5/6); times outside the
    frames' span are refused."""
    x = np.random.default_rng(2).normal(20, 5, (3, 2, 2)).astype(np.float32)
    t = np.datetime64("2020-01-01T00:00") + np.arange(3) * np.timedelta64(6, "m")
    grid = np.array(["2020-01-01T00:05", "2020-01-01T00:06", "2020-01-01T00:10"], dtype="datetime64[ns]")
    g, tg = nd.resample_5min(x, t, grid=grid)
    np.testing.assert_array_equal(tg, grid)
    np.testing.assert_allclose(g[0], x[0] / 6.0 + x[1] * 5.0 / 6.0, atol=1e-5)
    np.testing.assert_array_equal(g[1], x[1])
    np.testing.assert_allclose(g[2], x[1] * 2.0 / 6.0 + x[2] * 4.0 / 6.0, atol=1e-5)
    full, tf = nd.resample_5min(x, t)
    np.testing.assert_array_equal(full[[1, 2]], g[[0, 2]])
    for bad in (np.array(["2019-12-31T23:55"], dtype="datetime64[ns]"),
                np.array(["2020-01-01T00:15"], dtype="datetime64[ns]")):
        with pytest.raises(ValueError, match="span"):
            nd.resample_5min(x, t, grid=bad)


def test_resample_edges_gaps_and_refusals():
    """Frames 15 min apart are bridged and 16 min apart are not (``max_gap_min`` 15 is
    inclusive); a NaN in the frame before a shared time does not reach that time's frame;
    the output is float32 (a 5-min float32 sequence is returned as it is, not copied);
    grid times may sit on the first and last frame, one time is a grid; bad input is
    refused with a message that says what is wrong."""
    t0 = np.datetime64("2020-01-01T00:00", "ns")
    x = np.arange(12, dtype=np.float64).reshape(3, 2, 2)
    t15 = t0 + np.array([0, 15, 31], dtype="timedelta64[m]")
    d, tg = nd.resample_5min(x, t15)
    assert d.dtype == np.float32 and len(tg) == 7  # 00:00 .. 00:30
    assert len(nd.resample_5min(x[:2], t15[:2])[1]) == 4  # two frames 15 min apart: 00:00 .. 00:15
    np.testing.assert_allclose(d[1], x[0] * 2 / 3 + x[1] / 3, atol=1e-5)  # 00:05, bridged over 15 min
    assert np.isnan(d[4:]).all()  # 00:20 .. 00:30 lie in the 16-min gap
    y = x.copy()
    y[0, 0, 0] = np.nan
    d, _ = nd.resample_5min(y, t15)
    np.testing.assert_array_equal(d[3], x[1])  # 00:15 is frame 1 itself, whatever frame 0 holds
    assert np.isnan(d[1, 0, 0]) and np.isfinite(d[1, 1, 1])
    f5 = np.zeros((3, 2, 2), np.float32)
    t5 = t0 + np.arange(3) * np.timedelta64(5, "m")
    same, _ = nd.resample_5min(f5, t5)
    assert np.shares_memory(same, f5)
    assert nd.resample_5min(f5.astype(np.float64), t5)[0].dtype == np.float32
    g, _ = nd.resample_5min(x, t15, grid=t15[[0, 2]])
    np.testing.assert_array_equal(g, x[[0, 2]])
    assert nd.resample_5min(x, t15, grid=t15[1:2])[0].shape == (1, 2, 2)
    with pytest.raises(ValueError, match="2020-01-01T00:00:00.000000000 to 2020-01-01T00:31:00.000000000"):
        nd.resample_5min(x, t15, grid=np.array([t15[-1] + np.timedelta64(1, "ns")]))
    with pytest.raises(ValueError, match="span"):
        nd.resample_5min(x, t15, grid=np.array([t15[:2]]))  # not one-dimensional
    with pytest.raises(ValueError, match="span"):
        nd.resample_5min(x, t15, grid=np.array([], dtype="datetime64[ns]"))
    with pytest.raises(ValueError, match=r"one time per frame; got \(3, 2, 2\) and 2 times"):
        nd.resample_5min(x, t15[:2])
    with pytest.raises(ValueError, match="strictly increasing"):
        nd.resample_5min(x, t15[[0, 1, 1]])


# ------------------------------------------------------------------ samples, split

def test_make_samples_shapes_criteria_and_determinism():
    dbz, _t, meta = nd.event_sequence("fmi20170509")
    assert meta["step_min"] == 5.0 and meta["source_units"] == "dBZ" and not any(meta["interpolated"])
    kw = dict(patch=128, stride=64, t_stride=10)
    s1 = nd.make_samples(dbz, **kw)
    s2 = nd.make_samples(dbz, **kw)
    assert s1.shape[1:] == (18, 128, 128) and len(s1) > 100 and s1.dtype == np.float32
    np.testing.assert_array_equal(s1, s2)
    idx = nd.sample_index(dbz, **kw)
    assert len(idx) == len(s1) and set(idx[:, 0]) <= {0, 10, 20}
    assert len(nd.sample_index(dbz)) > 6 * len(idx)  # every start frame by default
    for k in (0, len(idx) // 2, len(idx) - 1):  # each sample is its slice of the sequence
        t, r, c = idx[k]
        np.testing.assert_array_equal(s1[k], dbz[t:t + 18, r:r + 128, c:c + 128])
    assert np.all(np.isnan(s1).mean(axis=(1, 2, 3)) <= 0.05)
    wet = np.nan_to_num(s1, nan=-1.0) >= nd.WET_DBZ
    assert np.all(wet.sum(axis=(1, 2, 3)) >= 0.05 * np.isfinite(s1).sum(axis=(1, 2, 3)))
    # a skipped window really is dry or uncovered
    all_idx = nd.sample_index(dbz, min_wet_fraction=0.0, max_nan_fraction=1.0, **kw)
    kept = {tuple(row) for row in idx}
    for t, r, c in all_idx[:: max(1, len(all_idx) // 50)]:
        if (t, r, c) in kept:
            continue
        w = dbz[t:t + 18, r:r + 128, c:c + 128]
        assert np.isnan(w).mean() > 0.05 or (np.nan_to_num(w) >= nd.WET_DBZ).sum() < 0.05 * np.isfinite(w).sum()
    sub = nd.make_samples(dbz, max_samples=20, rng_seed=3)
    assert sub.shape == (20, 18, 128, 128)
    np.testing.assert_array_equal(sub, nd.make_samples(dbz, max_samples=20, rng_seed=3))
    assert nd.make_samples(dbz[:17]).shape == (0, 18, 128, 128)  # too short for one window


def test_split_by_event():
    from hvrmet.cases import get_case

    splits = {name: nd.load_split(name) for name in ("train", "validation", "test")}
    seen = [c for ids in splits.values() for c in ids]
    assert len(seen) == len(set(seen)), "an event is in two splits"
    assert all(splits.values())
    for cid in seen:
        assert ROLE in get_case(cid).roles
    assert "fmi" in splits["test"]  # the convective held-out event (57.5 dBZ)
    with pytest.raises(ValueError, match="known splits"):
        nd.load_split("everything")


def test_build_dataset_scaled_with_sha256(load):
    data = nd.build_dataset(["fmi20170509"], patch=128, stride=64, t_stride=4)
    assert len(data) > 20
    x, y = data[0]
    assert x.shape == (6, 128, 128) and y.shape == (12, 128, 128)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0 and np.isfinite(y).all()
    e, t, r, c = data.index[len(data) // 2]
    dbz, _t, _m = nd.event_sequence("fmi20170509")
    xm, ym = data[len(data) // 2]
    win = dbz[t:t + 18, r:r + 128, c:c + 128]
    np.testing.assert_allclose(np.concatenate([xm, ym]), np.clip(np.nan_to_num(win), 0, 70) / 70.0, atol=1e-6)
    sha = data.source_sha256["fmi20170509"]
    ds = load("fmi20170509", ROLE)
    assert sha == list(ds.attrs["source_sha256"]) and len(sha) == 40
    assert all(len(s) == 64 and int(s, 16) >= 0 for s in sha)


# ---------------------------------------------------------------------- baselines

@pytest.mark.parametrize("name", ["persistence", "extrapolation", "sprog"])
def test_baselines_follow_the_contract(name, fmi_window):
    frames, _obs = fmi_window
    fn = get_method(name)
    out = fn(frames, 12)
    assert out.shape == (12, 256, 256)
    assert np.isfinite(out).all() and np.nanmin(out) >= nd.FLOOR_DBZ - 1e-6 and np.nanmax(out) <= 80
    # NaN exactly where the input was never covered
    holed = frames.copy()
    holed[:, :20, :30] = np.nan
    holed[-1, 100:110, 100:110] = np.nan  # covered in earlier frames
    got = fn(holed, 3)
    assert got.shape == (3, 256, 256) and np.isnan(got[:, :20, :30]).all()
    if name != "persistence":
        assert np.isfinite(got[:, 20:, :]).all() and np.isfinite(got[:, :, 30:]).all()
    with pytest.raises(ValueError, match="frames"):
        fn(frames[0], 12)
    with pytest.raises(ValueError, match="frames"):
        fn(frames[None], 12)
    with pytest.raises(ValueError, match="timesteps"):
        fn(frames, 0)
    with pytest.raises(ValueError, match="timesteps"):
        fn(frames, 2.5)
    if name != "persistence":
        with pytest.raises(ValueError, match="frames"):
            fn(frames[-2:], 12)  # the motion needs 3 frames


def test_persistence_is_the_last_frame(fmi_window):
    frames, _obs = fmi_window
    out = get_method("persistence")(frames, 12)
    for k in range(12):
        np.testing.assert_array_equal(out[k], frames[-1])


def test_extrapolation_moves_the_echo_with_the_motion(fmi_window):
    frames, _obs = fmi_window
    v = motion_field(frames)  # pysteps LK, pixels per 5 min, (u, v) = (x, y)
    out = get_method("extrapolation")(frames, 12, velocity=v)
    np.testing.assert_allclose(out, get_method("extrapolation")(frames, 12), atol=1e-5)  # same motion inside

    # follow the echo of the window's centre (echo near the edges leaves the grid)
    inner = np.zeros(frames.shape[1:], bool)
    inner[96:160, 96:160] = True
    centre = frames.copy()
    centre[-1] = np.where(inner, frames[-1], nd.FLOOR_DBZ)
    moved = get_method("extrapolation")(centre, 12, velocity=v)

    def centroid(f):
        w = np.clip(np.nan_to_num(f) - 20.0, 0, None)  # echo above 20 dBZ
        yy, xx = np.indices(f.shape)
        return np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()

    echo = inner & (np.nan_to_num(frames[-1]) >= 20.0)
    assert echo.sum() > 100
    mean_uv = np.array([v[0][echo].mean(), v[1][echo].mean()])
    assert np.hypot(*mean_uv) > 2.0  # the FMI echo moves: several km per 5 min
    for k in (1, 6, 12):
        shift = centroid(moved[k - 1]) - centroid(centre[-1])
        expect = k * mean_uv
        assert shift @ expect / (np.linalg.norm(shift) * np.linalg.norm(expect)) > 0.99
        assert 0.85 < np.linalg.norm(shift) / np.linalg.norm(expect) < 1.15
    # persistence does not move it
    assert np.allclose(centroid(get_method("persistence")(centre, 6)[-1]), centroid(centre[-1]))


# --------------------------------------------------------------------- verification

def test_perfect_and_null_forecasts(fmi_window):
    _frames, obs = fmi_window
    v = Verifier()
    v.accumulate(obs, obs)
    r = v.compute()
    for thr in (20, 35, 45):
        if np.nanmax(obs) > thr:
            assert r["CSI"][thr] == pytest.approx([1.0] * 12)
            assert r["FAR"][thr] == pytest.approx([0.0] * 12)
            assert r["HSS"][thr] == pytest.approx([1.0] * 12)
            assert r["POD"][thr] == pytest.approx([1.0] * 12)
        for s in (1, 2, 4, 8, 16, 32):
            assert r["FSS"][thr][s] == pytest.approx([1.0] * 12) or np.nanmax(obs) < thr
    assert r["RAPSD_ratio"] == pytest.approx([1.0] * 12)
    assert r["lead_times_min"] == [5.0 * i for i in range(1, 13)]
    s = summary(r)
    assert s["CSI35_mean_5_60min"] == pytest.approx(1.0) and s["HSS45_mean_5_60min"] == pytest.approx(1.0)
    null = Verifier()
    null.accumulate(np.full_like(obs, nd.FLOOR_DBZ), obs)
    rn = null.compute()
    assert rn["CSI"][20] == pytest.approx([0.0] * 12) and rn["POD"][35] == pytest.approx([0.0] * 12)
    assert rn["HSS"][20] == pytest.approx([0.0] * 12) and rn["FSS"][35][8] == pytest.approx([0.0] * 12)


def test_scores_match_pysteps_directly(fmi_window):
    import hvrmet._pysteps  # noqa: F401
    from pysteps import verification as pv
    from pysteps.utils.spectral import rapsd

    frames, obs = fmi_window
    fc = get_method("extrapolation")(frames, 12)
    obs = obs.copy()
    obs[:, :10, :] = np.nan  # outside coverage: excluded
    v = Verifier(thresholds=(20, 35), scales=(1, 8), lead_times=12, pixel_km=1.0)
    v.accumulate(fc[:6], obs[:6])  # two forecasts accumulated, as pysteps' *_accum do
    v.accumulate(fc[:6] - 2.0, obs[:6])
    r = v.compute()
    for i in (0, 5):
        m = np.isfinite(obs[i])
        for thr in (20, 35):
            ct = pv.det_cat_fct_init(thr)
            pv.det_cat_fct_accum(ct, fc[i][m], obs[i][m])
            pv.det_cat_fct_accum(ct, fc[i][m] - 2.0, obs[i][m])
            want = pv.det_cat_fct_compute(ct, ["CSI", "POD", "FAR", "HSS"])
            for s in ("CSI", "POD", "FAR", "HSS"):
                assert r[s][thr][i] == pytest.approx(want[s], rel=1e-12)
            for scale in (1, 8):
                f = pv.fss_init(thr, scale)
                pv.fss_accum(f, np.where(m, fc[i], np.nan), obs[i])
                pv.fss_accum(f, np.where(m, fc[i] - 2.0, np.nan), obs[i])
                assert r["FSS"][thr][scale][i] == pytest.approx(pv.fss_compute(f), rel=1e-12)
        # spectra: pysteps' RAPSD of the fields above the floor (floor outside coverage)
        fo = np.where(m, np.maximum(obs[i], 0.0), 0.0)
        pf1, freq = rapsd(np.where(m, fc[i], 0.0), fft_method=np.fft, return_freq=True, d=1.0)
        pf2 = rapsd(np.where(m, fc[i] - 2.0, 0.0).clip(0), fft_method=np.fft)
        po = rapsd(fo, fft_method=np.fft)
        lam = 1.0 / freq[1:]
        band = np.digitize(lam, RAPSD_EDGES_KM) - 1
        ratios = []
        for b in np.unique(band):
            if RAPSD_EDGES_KM[b + 1] <= 32.0:
                sel = band == b
                ratios.append((pf1[1:][sel].mean() + pf2[1:][sel].mean()) / (2 * po[1:][sel].mean()))
        assert r["RAPSD_ratio"][i] == pytest.approx(np.mean(ratios), rel=1e-9)
    assert r["n_pairs"][:6] == [2] * 6 and r["n_pairs"][6:] == [0] * 6
    assert np.isnan(r["CSI"][20][6])
    with pytest.raises(ValueError, match="observed"):
        v.accumulate(fc, obs[:5])


def test_evaluate_small_run():
    res = evaluate(["persistence", "extrapolation"], ["fmi20170509"], every_min=30, starts=1, crop=128)
    assert set(res["methods"]) == {"persistence", "extrapolation"}
    case = res["cases"]["fmi20170509"]
    assert len(case["analysis_times"]) == 1 and case["crop"]["size"] == 128
    for name, m in res["methods"].items():
        assert m["n_forecasts"] == 1 and m["scores"]["n_pairs"] == [1] * 12
        assert set(m["summary"]) >= {"CSI35_mean_5_60min", "HSS45_mean_5_60min"}
        assert res["per_case"]["fmi20170509"][name]["scores"]["CSI"][20] == m["scores"]["CSI"][20]
    with pytest.raises(ValueError, match="unknown nowcasting method"):
        evaluate(["nope"], ["fmi20170509"])


def test_exported_sequences_read_back_in_place_of_the_radar_files(tmp_path, monkeypatch):
    """``export_sequences`` writes what ``event_sequence`` decoded from the files; with
    ``HVRMET_NOWCAST_SEQUENCES`` set, ``event_sequence`` reads that file instead, the same
    values, with the same source sha256 (so pools built from it get the same key)."""
    import hashlib

    case = "mch20170131"
    dbz, t5, meta = nd.event_sequence(case)
    (path,) = nd.export_sequences([case], tmp_path)
    assert path.name == f"{case}.default.npz"
    # the sha256 recorded are those of the case's files, read here with hashlib
    assert meta["source_sha256"] == [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in meta["source_files"]]
    monkeypatch.setenv(nd.SEQUENCES_ENV, str(tmp_path))
    nd._event.cache_clear()
    try:
        dbz2, t52, meta2 = nd.event_sequence(case)
        assert meta2["read_from"] == str(path)
        assert meta2["source_sha256"] == meta["source_sha256"] and meta2["shape"] == meta["shape"]
        np.testing.assert_array_equal(t52, t5)
        np.testing.assert_array_equal(dbz2, dbz)                       # NaN where NaN, values bit for bit
        assert dbz2.dtype == np.float32 and not dbz2.flags.writeable
        # a crop that was not exported still comes from the radar files
        assert "read_from" not in nd.event_sequence(case, crop=128)[2]
    finally:
        nd._event.cache_clear()
    bad = tmp_path / "bad"
    bad.mkdir()
    np.savez(bad / f"{case}.default.npz", dbz=np.zeros((1, 2, 2), np.float16), times=np.zeros(1, np.int64),
             meta=np.array('{"format": 99}'))
    monkeypatch.setenv(nd.SEQUENCES_ENV, str(bad))
    nd._event.cache_clear()
    try:
        with pytest.raises(ValueError, match="not a sequence file"):
            nd.event_sequence(case)
    finally:
        nd._event.cache_clear()


def test_pool_is_the_same_for_any_number_of_workers():
    from hvrmet.nowcast.pool import build_pool

    kw = dict(patch=128, crops_per_start=2, t_stride=11, margin=16, seed=3, cache=False)
    one = build_pool(["mch20170131"], workers=1, **kw)
    two = build_pool(["mch20170131"], workers=2, **kw)
    assert len(one) >= 4
    np.testing.assert_array_equal(one.index, two.index)
    for name in ("obs", "target", "adv", "motion"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    # each sample's observed frames are the sequence's own, quantised to 1/3 dBZ
    dbz = nd.event_sequence("mch20170131")[0]
    e, t0, r, c = one.index[-1]
    raw = np.clip(np.nan_to_num(dbz[t0:t0 + 6, r:r + 128, c:c + 128]), 0, 70)
    assert np.max(np.abs(one.obs[-1] / 3.0 - raw)) <= 1 / 6 + 1e-6
