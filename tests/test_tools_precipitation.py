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
    assert any("not covered" in w and "6 h" in w for w in res.warnings)


def test_classify_heavy_rain_bom_six_hours(seq):
    ds = seq("bom20180616")
    res = run("classify_heavy_rain", case="bom20180616", ffg_1h="1 in")
    p = ds.precip.values
    assert res.value("max_accumulation_6h") == pytest.approx(_max_window(p, 60), abs=0.02)
    assert res.value("max_accumulation_1h") == pytest.approx(_max_window(p, 10), abs=0.02)
    assert res.values["cma_window"].value == 6
    assert "below the rainstorm-signal criterion (50 mm/6 h)" in res.values["cma_grade"].value
    assert res.values["rainstorm_signal"].value is False
    assert res.values["short_duration_heavy_rain"].value is False  # ~15 mm in the wettest hour
    # 53 mm/h in one frame, but no hour reaches 1 in: not a flash-flood rate
    assert res.value("max_rain_rate") > 25.4 and res.values["rate_over_threshold"].value is False
    assert res.values["us_category"].value.startswith("brief intense rates")


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
