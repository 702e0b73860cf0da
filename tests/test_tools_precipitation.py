"""Precipitation-composite tools on the real radar sequences, checked against numpy / pysteps.

The decoded sequences come from the tools' own dataset cache (so each case is decoded once
per session); every number is recomputed here directly from ``precip`` and compared.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr

from hvrmet.tools import call_tool
from hvrmet.tools.context import ToolContext
from hvrmet.calc.precipitation import pixel_area_km2, to_rain_rate
from hvrmet.tools.precipitation import cma_grade

ROLE = "composite_sequence"


@pytest.fixture(scope="module")
def seq(data_dir):
    """``seq(case)`` -> the decoded composite sequence, from the tools' cache."""
    return lambda case: ToolContext(case).load(ROLE)


def _haversine(lat0, lon0, lat, lon):
    """Great-circle distance (km) on the sphere of mean radius 6371.0088 km."""
    p0, p = np.radians(lat0), np.radians(np.asarray(lat, float))
    a = (np.sin((p - p0) / 2) ** 2
         + np.cos(p0) * np.cos(p) * np.sin(np.radians(np.asarray(lon, float) - lon0) / 2) ** 2)
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def run(name, **args):
    res = call_tool(name, args)
    assert res.ok, res.error
    return res


def _synthetic(values, units, accutime=5.0, cartesian_unit="m", lat=60.0):
    data = np.asarray(values, dtype=np.float32).reshape(1, 1, -1)
    n = data.shape[-1]
    ds = xr.Dataset({"precip": (("time", "y", "x"), data, {"units": units, "accutime_min": accutime})},
                    coords={"time": [np.datetime64("2020-01-01T00:00")], "x": np.arange(n), "y": [0.0],
                            "lat": (("y", "x"), np.full((1, n), lat, np.float32))})
    ds.attrs.update(xpixelsize=0.04 if cartesian_unit == "degrees" else 1000.0,
                    ypixelsize=0.04 if cartesian_unit == "degrees" else 1000.0,
                    cartesian_unit=cartesian_unit, threshold=-31.5 if units == "dBZ" else 0.0,
                    zerovalue=-32.0 if units == "dBZ" else 0.0)
    return ds


# --- converter and pixel area ------------------------------------------------------------
def test_converter_marshall_palmer_and_accumulation():
    rr = to_rain_rate(_synthetic([23.0, 39.0, -32.0, np.nan], "dBZ")).values[0, 0]
    # Z = 200 R^1.6: 23 dBZ -> (10^2.3 / 200)^(1/1.6) = 0.998 mm/h; 39 dBZ -> 9.88 mm/h
    assert rr[0] == pytest.approx(0.998, abs=0.002)
    assert rr[1] == pytest.approx((10 ** 3.9 / 200) ** (1 / 1.6), rel=1e-4)
    assert rr[2] == 0.0 and np.isnan(rr[3])
    mm = to_rain_rate(_synthetic([0.5, 1.2], "mm", accutime=6.0)).values[0, 0]
    np.testing.assert_allclose(mm, [5.0, 12.0], rtol=1e-6)  # mm per 6 min -> mm/h


def test_pixel_area(seq):
    assert np.allclose(pixel_area_km2(seq("mch20150515")), 1.0)
    assert np.allclose(pixel_area_km2(seq("bom20180616")), 0.25)
    # 0.04 degree at 60N: (0.04 * 111.195 km)^2 * cos 60 = 9.89 km2
    area = pixel_area_km2(_synthetic([1.0], "mm/h", cartesian_unit="degrees", lat=60.0))
    assert area[0, 0] == pytest.approx((0.04 * np.pi * 6371 / 180) ** 2 * 0.5, rel=1e-6)
    assert area[0, 0] == pytest.approx(9.89, abs=0.01)


def test_fmi_dbz_rates_follow_marshall_palmer(seq):
    ds = seq("fmi20170509")
    dbz = ds.precip.values[-1]
    rr = to_rain_rate(ds).values[-1]
    ok = np.isfinite(dbz) & (dbz > 10)
    np.testing.assert_allclose(rr[ok], (10 ** (dbz[ok] / 10) / 200) ** (1 / 1.6), rtol=1e-4)
    res = run("compute_rain_rate_stats", case="fmi20170509")
    assert res.value("max_rain_rate") == pytest.approx((10 ** (np.nanmax(dbz) / 10) / 200) ** 0.625, rel=1e-3)


# --- rain-rate statistics ----------------------------------------------------------------
def test_rain_rate_stats_mch_sequence_saturates(seq):
    ds = seq("mch20150515")
    res = run("compute_rain_rate_stats", case="mch20150515", whole_sequence=True)
    rate = ds.precip.values * 12.0  # mm per 5 min -> mm/h
    assert res.value("max_rain_rate") == pytest.approx(np.nanmax(rate), abs=0.01)
    assert res.value("max_rain_rate") == pytest.approx(115.5, abs=0.1)  # the GIF ceiling
    assert res.values["n_frames"].value == 40
    t, r, c = np.unravel_index(np.nanargmax(rate), rate.shape)
    assert res.values["max_time"].value == str(ds.time.values[t])[:16] + "Z"


@pytest.mark.parametrize("frame", [-1, 0])
def test_rain_rate_stats_bom_frame(seq, frame):
    ds = seq("bom20180616")
    res = run("compute_rain_rate_stats", case="bom20180616", frame=frame)
    rate = ds.precip.values[frame] * 10.0  # mm per 6 min -> mm/h
    wet = rate[rate > 0.1]
    assert res.value("max_rain_rate") == pytest.approx(rate.max(), abs=0.01)
    assert res.value("mean_wet_rain_rate") == pytest.approx(wet.mean(), rel=1e-3)
    assert res.value("wet_fraction") == pytest.approx(wet.size / rate.size, abs=1e-4)
    assert res.value("p99_wet_rain_rate") == pytest.approx(np.percentile(wet, 99), abs=0.01)
    r, c = np.unravel_index(np.argmax(rate), rate.shape)
    assert res.value("max_lat") == pytest.approx(float(ds.lat.values[r, c]), abs=1e-3)
    assert res.value("max_lon") == pytest.approx(float(ds.lon.values[r, c]), abs=1e-3)


def test_frame_outside_sequence_is_an_error():
    res = call_tool("compute_rain_rate_stats", {"case": "bom20180616", "frame": 61})
    assert not res.ok and "outside the sequence" in res.error


# --- accumulation ------------------------------------------------------------------------
def test_accumulation_mch_whole_sequence(seq):
    ds = seq("mch20150515")
    res = run("compute_accumulation", case="mch20150515")
    acc = ds.precip.values.sum(axis=0)  # 5-min accumulations in mm; NaN where any frame misses
    assert res.value("max_accumulation") == pytest.approx(np.nanmax(acc), abs=0.01)
    assert res.value("mean_accumulation") == pytest.approx(np.nanmean(acc), abs=0.002)
    assert res.value("window_minutes") == 200
    r, c = np.unravel_index(np.nanargmax(acc), acc.shape)
    assert res.value("max_lat") == pytest.approx(float(ds.lat.values[r, c]), abs=1e-3)
    assert 80 < res.value("max_accumulation") < 100  # ~89 mm south of Lago Maggiore
    assert not any("isolated" in w for w in res.warnings)


def test_accumulation_last_hour_bom_and_window_too_long(seq):
    ds = seq("bom20180616")
    res = run("compute_accumulation", case="bom20180616", minutes="1 h")
    acc = ds.precip.values[-10:].sum(axis=0)  # ten 6-min frames
    assert res.value("max_accumulation") == pytest.approx(acc.max(), abs=0.01)
    assert res.value("window_minutes") == 60
    assert res.values["window_start"].value == "2018-06-16T15:00Z"
    long = run("compute_accumulation", case="bom20180616", minutes=600)
    assert long.value("window_minutes") == 366
    assert any("covers only 366 min" in w for w in long.warnings)
    assert long.value("max_accumulation") == pytest.approx(ds.precip.values.sum(axis=0).max(), abs=0.01)


def test_accumulation_flags_fmi_clutter_spot():
    res = run("compute_accumulation", case="fmi")
    # a few-pixel fixed echo in Lapland holds 40-50 dBZ for three hours
    assert res.value("max_lat") > 67 and any("isolated" in w for w in res.warnings)


# --- area over threshold -----------------------------------------------------------------
def test_area_over_threshold_mch(seq):
    ds = seq("mch20150515")
    res = run("compute_area_over_threshold", case="mch20150515", threshold=10)
    rate = np.nan_to_num(ds.precip.values * 12.0, nan=-1)
    counts = (rate >= 10).sum(axis=(1, 2))  # 1 km2 pixels
    t = int(np.argmax(counts))
    assert res.value("max_area") == pytest.approx(float(counts[t]), abs=0.5)
    assert res.values["max_area_frame"].value == t
    assert res.values["max_area_time"].value == str(ds.time.values[t])[:16] + "Z"
    covered = np.isfinite(ds.precip.values[t]).sum()
    assert res.value("max_area_fraction") == pytest.approx(counts[t] / covered, abs=1e-5)
    bad = call_tool("compute_area_over_threshold", {"case": "mch20150515", "threshold": -1})
    assert not bad.ok and bad.error_type == "InvalidArguments"


# --- motion ------------------------------------------------------------------------------
def _direct_lk(precip, mm_per_frame_to_rate, end):
    """pysteps LK on three frames ending at ``end``; mean over wet pixels in grid km/h."""
    from pysteps import motion
    from pysteps.utils import transformation

    rate = precip[end - 3:end] * mm_per_frame_to_rate
    db, meta = transformation.dB_transform(rate, threshold=0.1, zerovalue=-15.0)
    db[~np.isfinite(db)] = meta["zerovalue"]
    uv = motion.get_method("LK")(db)
    wet = np.nan_to_num(rate[-1]) > 0.1
    return uv[0][wet].mean(), -uv[1][wet].mean()  # pixels per step, east / north (rows go south)


def test_motion_mch_matches_pysteps_and_is_stable(seq):
    ds = seq("mch20150515")
    res = run("compute_motion_field", case="mch20150515", n_frames=3)
    u, v = (x * 1.0 * 12 for x in _direct_lk(ds.precip.values, 12.0, 40))  # 1 km pixels, 12 steps/h
    assert res.value("motion_u_east") == pytest.approx(u, abs=2.0)  # grid vs true north: ~2 deg
    assert res.value("motion_v_north") == pytest.approx(v, abs=2.0)
    assert 20 < res.value("motion_speed") < 80
    assert 80 < res.value("motion_direction") < 130  # rain comes from the east-southeast
    assert res.value("max_motion_speed") >= res.value("motion_speed")
    # over the case's area of interest (its radius_km), by a haversine of its own
    case = ToolContext("mch20150515").case.location
    circle = _haversine(case.lat, case.lon, ds.lat.values, ds.lon.values) <= case.radius_km
    covered = np.isfinite(ds.precip.values[-3:]).all(axis=0)[circle].mean()
    assert res.value("valid_fraction") == pytest.approx(covered, abs=0.01)
    # stable: an hour earlier pysteps gives a direction within 20 degrees
    u0, v0 = _direct_lk(ds.precip.values, 12.0, 28)
    assert abs((np.degrees(np.arctan2(-u0, -v0)) % 360) - res.value("motion_direction")) < 20


def test_motion_bom_plausible(seq):
    res = run("compute_motion_field", case="bom20180616", n_frames=4)
    # a Melbourne winter rain band moving from the south-west at ~55 km/h
    assert 190 < res.value("motion_direction") < 250
    assert 35 < res.value("motion_speed") < 80
    assert res.value("valid_fraction") == pytest.approx(1.0)


# --- heavy-rain classification -----------------------------------------------------------
def _max_window(precip, k):
    acc = np.lib.stride_tricks.sliding_window_view(precip, k, axis=0).sum(axis=-1)
    acc[:, ~np.isfinite(precip).all(axis=0)] = np.nan
    return np.nanmax(acc)


def test_cma_grades_boundaries():
    assert "rainstorm (GB/T" in cma_grade(24, 50.0) and "heavy rain" in cma_grade(24, 49.9)
    assert "heavy rainstorm" in cma_grade(24, 100.0) and "severe rainstorm" in cma_grade(24, 250.0)
    assert "rainstorm (GB/T" in cma_grade(12, 30.0) and "severe rainstorm" in cma_grade(12, 140.0)
    assert "blue signal" in cma_grade(12, 50.0)
    assert "red signal" in cma_grade(3, 100.0) and "orange signal" in cma_grade(3, 50.0)
    assert "below the rainstorm-signal" in cma_grade(3, 49.9)
    assert "yellow signal" in cma_grade(6, 50.0)
    assert "short-duration heavy" in cma_grade(1, 20.0) and "below short-duration" in cma_grade(1, 19.9)


def test_classify_heavy_rain_mch(seq):
    ds = seq("mch20150515")
    res = run("classify_heavy_rain", case="mch20150515")
    p = ds.precip.values
    assert res.value("max_accumulation_1h") == pytest.approx(_max_window(p, 12), abs=0.02)
    assert res.value("max_accumulation_3h") == pytest.approx(_max_window(p, 36), abs=0.02)
    assert res.values["max_accumulation_6h"].value is None  # 200 min do not cover 6 h
    assert res.values["cma_window"].value == 3
    assert "orange signal" in res.values["cma_grade"].value
    assert res.values["short_duration_heavy_rain"].value is True
    assert res.values["ffg_exceeded"].value is True and res.values["rate_over_threshold"].value is True
    assert "flash flooding likely" in res.values["us_category"].value
    # 200 min: the 3 h total reached the orange signal, so the signal is reached although
    # the 6 and 12 h windows are not covered; a guidance window reached is enough for true
    assert res.values["rainstorm_signal"].value is True
    assert _judge(res, "gl-flash-flood", field="ffg_exceeded", meaning="refutes").met is False
    assert _max_window(p, 12) >= 20.0 and _cma_refutation(res).met is False
    assert any("not covered" in w and "6 h" in w for w in res.warnings)


def test_classify_heavy_rain_bom_six_hours(seq):
    ds = seq("bom20180616")
    res = run("classify_heavy_rain", case="bom20180616", ffg_1h="1 in")
    p = ds.precip.values
    assert res.value("max_accumulation_6h") == pytest.approx(_max_window(p, 60), abs=0.02)
    assert res.value("max_accumulation_1h") == pytest.approx(_max_window(p, 10), abs=0.02)
    assert res.values["cma_window"].value == 6
    assert "below the rainstorm-signal criterion (50 mm/6 h)" in res.values["cma_grade"].value
    # 6 h of frames: no signal in the 3 and 6 h windows, but the 12 h window (the blue
    # signal's 50 mm) is not covered, so "no rainstorm signal" cannot be asserted
    rs = res.values["rainstorm_signal"]
    assert rs.value is None and "not reached in the covered 3 h, 6 h window(s)" in rs.note
    assert "shorter than the 12 h window" in rs.note
    # every flash-flood-guidance window (1, 3, 6 h) is covered and none reached: false, and
    # the flash flood guideline's refutation is met; so is the null card's weak support
    assert _max_window(p, 60) < 76.2 and _max_window(p, 30) < 63.5 and _max_window(p, 10) < 25.4
    assert res.values["ffg_exceeded"].value is False
    assert _judge(res, "gl-flash-flood", field="ffg_exceeded", meaning="refutes").met is True
    assert _judge(res, "gl-null-case", field="ffg_exceeded", hazard="no_severe_hazard").met is True
    assert _judge(res, "gl-null-case", field="short_duration_heavy_rain", hazard="no_severe_hazard").met is True
    assert res.values["short_duration_heavy_rain"].value is False  # ~15 mm in the wettest hour
    # 53 mm/h in one frame, but no hour reaches 1 in: not a flash-flood rate
    assert res.value("max_rain_rate") > 25.4 and res.values["rate_over_threshold"].value is False
    assert res.values["us_category"].value.startswith("brief intense rates")
    # the rates that define extreme short-duration rain were measured and fell short
    assert _max_window(p, 10) < 20.0
    assert _cma_refutation(res).met is True


def _judge(res, card_id, **match):
    """The outcome on ``res`` of the one condition of card ``card_id`` whose attributes
    equal ``match``."""
    from hvrmet.knowledge import default_store
    from hvrmet.knowledge.conditions import evaluate_condition

    card = next(c for c in default_store().cards if c.id == card_id)
    (cond,) = [c for c in card.conditions if all(getattr(c, k) == v for k, v in match.items())]
    return evaluate_condition(card.id, cond, res)


def _cma_refutation(res):
    return _judge(res, "idx-cma-rainstorm-grades", meaning="refutes", field="short_duration_heavy_rain", op="==",
                  value=False, hazard="extreme_short_duration_rain")


def test_classify_heavy_rain_half_hour_is_not_computable(tmp_path, data_dir):
    """30 minutes of frames cannot say that no hour reached 20 mm, that no rainstorm signal
    was reached or that no flash flood guidance was exceeded: each is not computable, with
    the reason, and a card's condition on it is not judged."""
    import glob
    import os

    import yaml

    pattern = "pysteps-data/radar/mch/20150515/AQC1513516[0-2]*.gif"  # 16:00-16:25 UTC
    frames = sorted(glob.glob(os.path.join(str(data_dir), pattern)))
    assert len(frames) == 6  # six 5-min frames: 30 min
    case = {"id": "mch-half-hour", "title": "half an hour of MeteoSwiss frames", "time": "2015-05-15T16:00:00Z",
            "location": {"lat": 46.8, "lon": 8.2, "radius_km": 420},
            "files": [{"role": ROLE, "format": "composite", "glob": pattern, "options": {"importer": "mch_gif"}}],
            "data_dir": str(data_dir)}
    path = tmp_path / "mch-half-hour.yaml"
    path.write_text(yaml.safe_dump(case))
    res = call_tool("classify_heavy_rain", {"case": str(path)})
    assert res.ok, res.error
    for field, window in (("short_duration_heavy_rain", "1 h"), ("rainstorm_signal", "3 h"),
                          ("ffg_exceeded", "1 h")):
        v = res.values[field]
        assert v.value is None, field
        assert "spans 30 min" in v.note and f"shorter than the {window} window" in v.note, v.note
    assert res.values["max_accumulation_1h"].value is None
    assert "guidance not computable: the sequence spans 30 min" in res.values["us_category"].value
    out = _judge(res, "gl-stratiform-rain", field="short_duration_heavy_rain", value=False)
    assert out.met is None and out.reason.startswith("not computable: the sequence spans 30 min")
    assert _cma_refutation(res).met is None  # half an hour cannot refute extreme short-duration rain


# --- training ----------------------------------------------------------------------------
def test_training_index_mch(seq):
    ds = seq("mch20150515")
    res = run("compute_training_index", case="mch20150515", threshold=10)
    heavy = np.nan_to_num(ds.precip.values * 12.0) >= 10
    total = heavy.sum(axis=0) * 5
    assert res.value("max_duration") == total.max()
    assert res.value("area_30min") == pytest.approx(float((total >= 30).sum()), abs=0.5)
    runs = [max((len(list(g)) for k, g in itertools.groupby(heavy[:, r, c]) if k), default=0)
            for r, c in zip(*np.nonzero(total >= 60))]
    assert res.value("max_consecutive_duration") == 5 * max(runs)
    assert res.value("sequence_minutes") == 200


# --- the search window ----------------------------------------------------------------
def _point_case(tmp_path, case, **update):
    """A copy of a catalogue composite case at a point place (no area of its own)."""
    import yaml
    from pathlib import Path

    src = yaml.safe_load((Path(__file__).resolve().parents[1] / f"hvrmet/cases/catalogue/{case}.yaml").read_text())
    src.update(id=f"{case}-point", **update)
    src.pop("notes", None)
    path = tmp_path / f"{case}-point.yaml"
    path.write_text(yaml.safe_dump(src))
    return str(path)


def test_composite_maxima_are_searched_inside_the_window(seq, tmp_path):
    """A place 150 km east of mch20150515's strongest rain, with the 250 km default and a
    100 km radius: the maxima are those of the pixels inside each circle (haversine here,
    away from its edge), named with their distance from the place; the case's own area
    (the whole composite) finds the whole-domain maximum."""
    ds = seq("mch20150515")
    rate = to_rain_rate(ds).values
    lat, lon = ds.lat.values, ds.lon.values
    whole = run("compute_rain_rate_stats", case="mch20150515", whole_sequence=True)
    assert whole.value("max_rain_rate") == pytest.approx(np.nanmax(rate), abs=0.01)
    assert whole.value("window_radius") == 420.0 and "area of interest" in whole.values["window_radius"].note
    mlat, mlon = whole.value("max_lat"), whole.value("max_lon")
    plat, plon = mlat, mlon + 150.0 / (111.195 * np.cos(np.radians(mlat)))
    path = _point_case(tmp_path, "mch20150515", location={"lat": float(plat), "lon": float(plon), "place": "p"})
    d = _haversine(plat, plon, lat, lon)
    for radius, args in ((250.0, {}), (100.0, {"radius": 100.0})):
        res = run("compute_rain_rate_stats", case=path, whole_sequence=True, **args)
        assert res.value("window_radius") == radius and res.values["window_radius"].note == ""
        inner = np.nanmax(np.where(d < radius * 0.99, rate, np.nan))
        ring = np.nanmax(np.where(abs(d - radius) <= radius * 0.01, rate, np.nan))
        # at least the inner circle's maximum, at most that of the edge ring as well
        assert inner - 0.01 <= res.value("max_rain_rate") <= max(inner, ring) + 0.01
        assert ring < inner or radius == 100.0  # at 250 km the edge cannot decide it
        dist = _haversine(plat, plon, res.value("max_lat"), res.value("max_lon"))
        assert res.value("max_distance") == pytest.approx(dist, rel=0.006) and dist <= radius * 1.006
        assert f"{res.value('max_distance'):g} km" in res.summary
    small = run("compute_rain_rate_stats", case=path, whole_sequence=True, radius=100.0)
    assert small.value("max_rain_rate") < whole.value("max_rain_rate")  # the domain's maximum lies 150 km away
    # the other tools search the same circle
    acc = run("compute_accumulation", case=path, radius=100.0)
    assert acc.value("max_distance") <= 100.6 and acc.value("window_radius") == 100.0
    heavy = run("classify_heavy_rain", case=path, radius=100.0)
    assert heavy.value("max_rain_rate") == pytest.approx(small.value("max_rain_rate"), abs=0.01)
    assert heavy.value("max_1h_distance") <= 100.6
    train = run("compute_training_index", case=path, radius=100.0, threshold=10)
    assert train.value("max_distance") <= 100.6
    area = run("compute_area_over_threshold", case=path, radius=100.0, threshold=10)
    pix = pixel_area_km2(ds)
    cover = [pix[np.isfinite(f) & (d <= 100.0)].sum() for f in rate]
    assert area.value("coverage_area") == pytest.approx(cover[int(area.value("max_area_frame"))], rel=0.01)


def test_composite_frames_outside_the_time_window(seq, tmp_path):
    """Frames more than the time window from the case time are left out (counted here from
    the frame times); a case time 13 h before the sequence uses every frame, flagged."""
    ds = seq("mch20150515")
    times = ds.time.values
    mid = times[len(times) // 2]
    path = _point_case(tmp_path, "mch20150515", time=str(np.datetime_as_string(mid, "s")) + "Z")
    res = run("compute_rain_rate_stats", case=path, whole_sequence=True, time_window=0.5)
    n_in = int((abs((times - mid) / np.timedelta64(1, "m")) <= 30).sum())
    assert res.value("n_frames") == n_in < len(times)
    assert res.values["outside_time_window"].value is False
    assert any(f"{len(times) - n_in} frames outside the time window" in w for w in res.warnings)
    early = _point_case(tmp_path, "mch20150515",
                        time=str(np.datetime_as_string(times[0] - np.timedelta64(13, "h"), "s")) + "Z")
    res = run("compute_rain_rate_stats", case=early, whole_sequence=True)
    assert res.value("n_frames") == len(times) and res.values["outside_time_window"].value is True
    assert "outside the time window" in res.summary


def test_nowcast_answers_inside_the_window(seq, tmp_path):
    """The nowcast's areas are read inside the window: at a point place with a 100 km
    radius, the area now at or above 35 dBZ is that of the last frame's pixels within
    100 km (haversine here, Marshall-Palmer dBZ from the rain rate), and the area at the
    lead is no larger than the whole domain's."""
    ds = seq("mch20150515")
    rate = to_rain_rate(ds).values[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        dbz = 10 * np.log10(200.0 * rate ** 1.6)
    whole = run("run_nowcast", case="mch20150515", lead=30, threshold=35)
    mlat, mlon = 46.5, 8.9
    path = _point_case(tmp_path, "mch20150515", location={"lat": mlat, "lon": mlon, "place": "p"})
    near = run("run_nowcast", case=path, lead=30, threshold=35, radius=100.0)
    d = _haversine(mlat, mlon, ds.lat.values, ds.lon.values)
    inner = float(((np.nan_to_num(dbz, nan=-99) >= 35) & (d <= 99.0)).sum())
    outer = float(((np.nan_to_num(dbz, nan=-99) >= 35) & (d <= 101.0)).sum())
    assert inner - 1 <= near.value("area_over_threshold_now") <= outer + 1  # 1 km2 pixels
    assert near.value("area_over_threshold_at_lead") <= whole.value("area_over_threshold_at_lead")
    assert near.value("window_radius") == 100.0 and whole.value("window_radius") == 420.0


def test_nowcast_of_6_min_frames_reads_the_5_min_grid_between_them(seq):
    """BoM frames 6 min apart: the analysis frame one 5-min step before the last (frame
    -2) is 5/6 of the last frame but one plus 1/6 of the last, in dBZ (Marshall-Palmer
    from the rain rate, by hand, floor 0 dBZ); persistence reads it back as the maximum
    and the area at or above 35 dBZ in a window that holds the whole grid, timed 5 min
    before the last frame. Only the native frames the six input frames come from are
    converted, so the long sequence gives the same answer as its last frames."""
    ds = seq("bom20180616")
    rate = to_rain_rate(ds).values
    with np.errstate(divide="ignore", invalid="ignore"):
        dbz = np.where(np.isfinite(rate), np.maximum(10 * np.log10(200.0 * np.maximum(rate, 0) ** 1.6), 0.0), np.nan)
    frame = 5 / 6 * dbz[-2] + 1 / 6 * dbz[-1]
    res = run("run_nowcast", case="bom20180616", method="persistence", frame=-2, lead=30, threshold=35,
              radius=5000.0)
    assert res.value("max_reflectivity_at_lead") == pytest.approx(float(np.nanmax(frame)), abs=0.051)
    area = pixel_area_km2(ds)
    over = np.nan_to_num(frame, nan=-99.0) >= 35.0
    assert res.value("area_over_threshold_now") == pytest.approx(float(np.sum(np.where(over, area, 0.0))), rel=1e-3)
    last = ds.time.values[-1].astype("datetime64[m]") - np.timedelta64(5, "m")
    assert res.values["analysis_time"].value == str(last)[:16] + "Z"
    bad = call_tool("run_nowcast", {"case": "bom20180616", "frame": 4})
    assert not bad.ok and "fewer than 6 frames" in bad.error


def test_motion_of_a_large_grid_is_tracked_on_block_means():
    """A rain field moving 6 px east and 4 px south per frame on a 601 x 501 grid, tracked
    on 2 x 2 block means (``max_pixels`` 200000 here; a million by default): the vectors
    over the rain are the drawn shift, in full-grid pixels, on every pixel of the grid."""
    from hvrmet.tools.precipitation import MOTION_MAX_PIXELS, motion_field

    assert MOTION_MAX_PIXELS == 1_000_000
    rng = np.random.default_rng(0)
    base = np.zeros((700, 600))
    for _ in range(20):  # rain cells of 8-30 px radius
        y, x, r = rng.integers(60, 640), rng.integers(60, 540), rng.integers(8, 30)
        yy, xx = np.ogrid[-y:700 - y, -x:600 - x]
        base += 20.0 * np.exp(-(yy**2 + xx**2) / (2.0 * r**2))
    frames = np.stack([base[50 - 4 * k:651 - 4 * k, 50 - 6 * k:551 - 6 * k] for k in range(3)])
    assert 200_000 < frames.shape[1] * frames.shape[2] <= 4 * 200_000
    uv = motion_field(frames, max_pixels=200_000)
    assert uv.shape == (2,) + frames.shape[1:]
    wet = frames[-1] > 1.0
    assert np.median(uv[0][wet]) == pytest.approx(6.0, abs=0.5)  # columns: eastward
    assert np.median(uv[1][wet]) == pytest.approx(4.0, abs=0.5)  # rows: southward


# --- convective / stratiform separation (Steiner, Houze and Yuter 1995) ----------------------

def _shy_by_loops(dbz, dx, dy, radius=11.0):
    """The paper's three steps written out pixel by pixel (no FFT, no morphology): the
    background as the mean linear Z of the echo within 11 km, centres by 40 dBZ or the
    peakedness 10 - Zbg^2/180, and the convective radius of Fig. 7 round each centre."""
    ny, nx = dbz.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    echo = np.isfinite(dbz)
    bg = np.full(dbz.shape, np.nan)
    for i in range(ny):
        for j in range(nx):
            near = echo & (((xx - j) * dx) ** 2 + ((yy - i) * dy) ** 2 <= radius ** 2 + 1e-9)
            if near.any():
                bg[i, j] = 10 * np.log10(np.mean(10 ** (dbz[near] / 10)))
    cls = np.where(echo, 1, 0)
    for i, j in zip(*np.nonzero(echo)):
        zb = bg[i, j]
        need = 10.0 if zb < 0 else (10 - zb ** 2 / 180 if zb < 42.43 else 0.0)
        if dbz[i, j] >= 40 or dbz[i, j] - zb >= need:
            r = 1.0 if zb < 20 else 2.0 if zb < 25 else 3.0 if zb < 30 else 4.0 if zb < 35 else 5.0
            disk = ((xx - j) * dx) ** 2 + ((yy - i) * dy) ** 2 <= r ** 2 + 1e-9
            cls[disk & echo] = 2
    return cls, bg


def test_convective_stratiform_follows_the_paper_by_hand():
    """Uniform 30 dBZ stratiform echo on 1 km pixels: a 45 dBZ pixel is convective by
    intensity (its background 10 log10((376e3 + 10^4.5) / 377) = 30.34 dBZ, in the 30-35
    dBZ step, so a 4 km radius: 49 pixels of 1 km), a
    37 dBZ pixel by peakedness (10 - 30^2/180 = 5 dB; 37 - 30.1 > 5), a 34 dBZ pixel is
    not (under 5 dB); every other echo pixel is stratiform and the gap without echo is
    class 0. The same field through the loops above gives the same classes and
    background everywhere."""
    from hvrmet.calc.precipitation import convective_stratiform

    z = np.full((41, 61), 30.0)
    z[20, 10] = 45.0
    z[20, 30] = 37.0
    z[20, 50] = 34.0
    z[:3, :3] = np.nan
    cls, bg = convective_stratiform(z, 1.0, 1.0)
    assert cls[0, 0] == 0 and cls[20, 50] == 1 and cls[20, 30] == 2 and cls[20, 10] == 2
    yy, xx = np.mgrid[0:41, 0:61]
    four_km = (xx - 10) ** 2 + (yy - 20) ** 2 <= 16
    assert four_km.sum() == 49 and (cls[four_km] == 2).all()
    assert (cls[20, 15] == 1) and (cls[20, 5] == 1) and (cls[24, 13] == 1)  # 5 km away: stratiform
    # background at the 45 dBZ pixel by hand: the mean linear Z of the 377 pixels within 11 km
    n = int(((xx - 10) ** 2 + (yy - 20) ** 2 <= 121).sum())
    assert bg[20, 10] == pytest.approx(10 * np.log10(((n - 1) * 1e3 + 10 ** 4.5) / n), abs=1e-6)
    ref_cls, ref_bg = _shy_by_loops(z, 1.0, 1.0)
    assert (cls == ref_cls).all()
    np.testing.assert_allclose(bg, ref_bg, atol=1e-6)


def test_convective_stratiform_matches_the_loops_on_a_random_field():
    """A random field (20-24 dBZ with a tenth of the pixels anywhere from -2 to 44 dBZ, a
    fifth without echo) on 2 x 1.5 km pixels: classes
    and background equal the pixel-by-pixel loops, so the disks, the radii steps (1-5 km by
    background) and the peakedness curve are those of the paper on non-square pixels."""
    from hvrmet.calc.precipitation import convective_stratiform

    rng = np.random.default_rng(3)
    z = rng.uniform(-2.0, 44.0, (30, 36))
    z = np.where(rng.uniform(size=z.shape) < 0.9, 22.0 + rng.uniform(-2.0, 2.0, z.shape), z)
    z[rng.uniform(size=z.shape) < 0.2] = np.nan
    cls, bg = convective_stratiform(z, 2.0, 1.5)
    ref_cls, ref_bg = _shy_by_loops(z, 2.0, 1.5)
    assert (cls == ref_cls).all()
    np.testing.assert_allclose(bg, ref_bg, atol=1e-6)
    assert {0, 1, 2} <= set(np.unique(cls))


def test_convective_stratiform_refuses_bad_arguments_and_blocks_by_hand():
    from hvrmet.calc.precipitation import block_reflectivity, convective_stratiform, rain_rate_to_dbz

    for kw, match in (({"dx_km": 0.0, "dy_km": 1.0}, "dx_km must be positive"),
                      ({"dx_km": 1.0, "dy_km": np.nan}, "dy_km must be positive"),
                      ({"dx_km": 1.0, "dy_km": 1.0, "background_radius_km": -1.0}, "background_radius_km")):
        with pytest.raises(ValueError, match=match):
            convective_stratiform(np.zeros((4, 4)), **kw)
    with pytest.raises(ValueError, match="2-D"):
        convective_stratiform(np.zeros(4), 1.0, 1.0)
    cls, bg = convective_stratiform(np.full((5, 5), np.nan), 1.0, 1.0)
    assert (cls == 0).all() and np.isnan(bg).all()
    # blocks: mean linear Z over the block's pixels, no echo as zero, NaN without echo
    z = np.array([[30.0, np.nan, 20.0], [np.nan, np.nan, np.nan]])
    b = block_reflectivity(z, 2)
    assert b.shape == (1, 2)
    assert b[0, 0] == pytest.approx(10 * np.log10(1e3 / 4))
    assert b[0, 1] == pytest.approx(10 * np.log10(1e2 / 2))   # a partial edge block of 2 pixels
    assert np.isnan(block_reflectivity(np.full((2, 2), np.nan), 2)).all()
    with pytest.raises(ValueError, match="factor"):
        block_reflectivity(z, 0)
    # Marshall-Palmer by hand: 10 mm/h -> 10 log10(200 * 10^1.6) = 39.01 dBZ; 0.1 mm/h is no echo
    d = rain_rate_to_dbz(np.array([10.0, 0.1, np.nan, 1.0]))
    assert d[0] == pytest.approx(10 * np.log10(200 * 10 ** 1.6)) and np.isnan(d[1]) and np.isnan(d[2])
    assert d[3] == pytest.approx(10 * np.log10(200.0))


def test_convective_stratiform_tool_on_knmi_matches_pysteps_import(data_dir):
    """The tool on the KNMI sequence against the separation run here on the frames read by
    pysteps' own KNMI importer (rate from its mm accumulations, 2 km blocks of 2 x 2 pixels,
    the tool's 6 evenly spaced frames, every pixel within the case's 250 km): the shares of
    area and rain agree, and almost all of that morning's rain is stratiform."""
    from pathlib import Path

    from pysteps.io import import_knmi_hdf5

    from hvrmet.calc.precipitation import block_reflectivity, convective_stratiform, rain_rate_to_dbz
    from hvrmet.cases import get_case
    from hvrmet.cases.catalogue import case_files

    res = run("classify_convective_stratiform", case="knmi20100826")
    files = sorted(p for p, _ in case_files(get_case("knmi20100826"), ROLE))
    seq = ToolContext("knmi20100826").load(ROLE)
    frames = np.unique(np.linspace(len(files) - 1, 0, 6).round().astype(int))
    inside = _haversine(52.1, 5.2, seq["lat"].values, seq["lon"].values) <= 250.0
    area = pixel_area_km2(seq)
    conv_a = echo_a = conv_r = rain = 0.0
    for t in frames:
        acc, _, meta = import_knmi_hdf5(str(files[t]))
        rate = np.where(inside, np.asarray(acc, float) * 60.0 / meta["accutime"], np.nan)
        dbz = rain_rate_to_dbz(rate)
        cls, _ = convective_stratiform(block_reflectivity(dbz, 2), 2.0, 2.0)
        conv = np.isfinite(dbz) & np.repeat(np.repeat(cls == 2, 2, 0), 2, 1)[:dbz.shape[0], :dbz.shape[1]]
        wet = np.isfinite(dbz)
        conv_a += area[conv].sum(); echo_a += area[wet].sum()
        conv_r += (rate[conv] * area[conv]).sum(); rain += (rate[wet] * area[wet]).sum()
    assert res.values["convective_area_fraction"].value == pytest.approx(conv_a / echo_a, abs=2e-3)
    assert res.values["convective_rain_fraction"].value == pytest.approx(conv_r / rain, abs=5e-3)
    assert res.values["convective_area_fraction"].value < 0.05
    assert res.values["n_frames"].value == 6 and res.values["pixel_size"].value == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize("level", [-5.0, 10.0, 30.0, 44.0])
def test_convective_stratiform_matches_the_loops_at_every_background(level):
    """Fields of weak (-5 dBZ: peakedness 10 dB), light (10 dBZ: 1 km radius), moderate
    (30 dBZ) and strong (44 dBZ, above 42.43: every pixel a centre) background, each with
    scattered peaks of 3-15 dB, on 1.5 x 1 km pixels: classes and background equal the
    pixel-by-pixel loops."""
    from hvrmet.calc.precipitation import convective_stratiform

    rng = np.random.default_rng(int(level) + 10)
    z = level + rng.uniform(-1.0, 1.0, (28, 30))
    peaks = rng.uniform(size=z.shape) < 0.05
    z[peaks] += rng.uniform(3.0, 15.0, int(peaks.sum()))
    z[rng.uniform(size=z.shape) < 0.1] = np.nan
    cls, bg = convective_stratiform(z, 1.5, 1.0)
    ref_cls, ref_bg = _shy_by_loops(z, 1.5, 1.0)
    assert (cls == ref_cls).all()
    np.testing.assert_allclose(bg, ref_bg, atol=1e-6)
    if level >= 44.0:
        assert (cls[np.isfinite(z)] == 2).all()
    else:
        assert {1, 2} <= set(np.unique(cls))


def test_forty_dbz_is_convective_by_intensity_alone():
    """In uniform 39 dBZ echo the peakedness needed is 10 - 39^2/180 = 1.55 dB, which a
    40.0 dBZ pixel (about 1 dB above its background) does not reach: it is convective
    because it reaches 40 dBZ, and a 39.9 dBZ pixel is not."""
    from hvrmet.calc.precipitation import convective_stratiform

    z = np.full((31, 31), 39.0)
    z[15, 15] = 40.0
    cls, bg = convective_stratiform(z, 1.0, 1.0)
    assert 40.0 - bg[15, 15] < 10 - bg[15, 15] ** 2 / 180
    assert cls[15, 15] == 2
    z[15, 15] = 39.9
    assert convective_stratiform(z, 1.0, 1.0)[0][15, 15] == 1


# --- quality control ---------------------------------------------------------------------
def test_opera_composite_spikes_are_removed(data_dir):
    """OPERA 24 Aug 2018: the raw ODIM rates (h5py) hold 8646.8 mm/h in one pixel and hot
    pixels of 600-1200 mm/h; after quality control the sequence's maximum is the raw
    maximum of frame 19:00 UTC, 572.7 mm/h, and the tool says what it removed."""
    import glob

    import h5py

    files = sorted(glob.glob(str(data_dir / "pysteps-data/radar/OPERA/20180824/*.hdf")))
    peaks = []
    for fn in files:
        with h5py.File(fn) as f:
            w = f["dataset1/what"].attrs
            assert w["quantity"].decode() == "RATE"
            a = f["dataset1/data1/data"][...].astype(float)
            ok = (a != w["nodata"]) & (a != w["undetect"])
            peaks.append(float(np.max(a[ok]) * w["gain"] + w["offset"]))
    assert len(peaks) == 24 and max(peaks) == pytest.approx(8646.8, abs=0.05)
    res = run("compute_rain_rate_stats", case="opera20180824", whole_sequence=True)
    assert res.value("max_rain_rate") == pytest.approx(peaks[4], abs=0.01) and 572 < peaks[4] < 573
    assert any(w.startswith("quality control set missing: 1 value(s) above the world-record") for w in res.warnings)
    one = run("compute_rain_rate_stats", case="opera20180824", frame=17)
    assert one.value("max_rain_rate") < 1000 and any(w.startswith("quality control") for w in one.warnings)


def test_nowcast_sees_the_checked_rates(data_dir):
    """run_nowcast's input frames pass the same quality control as the precipitation tools:
    the raw last OPERA frame (h5py) holds a hot pixel far above the checked frame's
    maximum; the persistence forecast's maximum is the Marshall-Palmer reflectivity
    (Z = 200 R^1.6, by hand) of the checked maximum, not of the hot pixel."""
    import glob

    import h5py

    last = sorted(glob.glob(str(data_dir / "pysteps-data/radar/OPERA/20180824/*.hdf")))[-1]
    with h5py.File(last) as f:
        w = f["dataset1/what"].attrs
        a = f["dataset1/data1/data"][...].astype(float)
        raw = float(np.max(a[(a != w["nodata"]) & (a != w["undetect"])]) * w["gain"] + w["offset"])
    stats = run("compute_rain_rate_stats", case="opera20180824")  # the last frame, checked
    checked = stats.value("max_rain_rate")
    assert stats.values["max_time"].value == "2018-08-24T23:45Z" and raw > 2 * checked
    fc = run("run_nowcast", case="opera20180824", method="persistence", lead=15)
    assert fc.values["analysis_time"].value == "2018-08-24T23:45Z"
    mp = lambda r: 10 * np.log10(200 * r ** 1.6)
    assert fc.value("max_reflectivity_at_lead") == pytest.approx(mp(checked), abs=0.06)
    assert fc.value("max_reflectivity_at_lead") < mp(raw) - 5
    assert any(x.startswith("quality control set missing") for x in fc.warnings)


@pytest.mark.parametrize("case", ["mch20150515", "bom20180616", "knmi20100826", "mrms20190610", "fmi"])
def test_quality_control_keeps_the_maxima_of_clean_composites(seq, case):
    """On these composites the maximum rate is a real echo: quality control keeps it (the
    rates from pysteps' conversion of the decoded values, without quality control)."""
    ds = seq(case)
    raw = to_rain_rate(ds).values
    res = run("compute_rain_rate_stats", case=case, whole_sequence=True)
    assert res.value("max_rain_rate") == pytest.approx(float(np.nanmax(raw)), abs=0.01)


def test_classify_heavy_rain_partial_guidance_windows(seq):
    """FMI, 10:45-14:00 UTC: the 1 and 3 h windows are covered, the 6 h one is not. No
    covered window reaches the guidance, so whether it was exceeded stays not computable
    (a longer sequence could still reach the 6 h value) and the flash-flood refutation is
    not judged."""
    ds = seq("fmi20170509")
    res = run("classify_heavy_rain", case="fmi20170509")
    v = res.values["ffg_exceeded"]
    assert res.values["max_accumulation_6h"].value is None and res.value("max_accumulation_3h") < 63.5
    assert v.value is None and "not reached in the covered 1 h, 3 h window(s)" in v.note
    assert "shorter than the 6 h window" in v.note
    assert "guidance not computable" in res.values["us_category"].value
    assert _judge(res, "gl-flash-flood", field="ffg_exceeded", meaning="refutes").met is None
    assert ds.sizes["time"] >= 13  # the frames span more than 3 h

