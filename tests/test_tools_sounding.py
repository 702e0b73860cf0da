"""Sounding tools against independent MetPy computations written here, on the real
soundings of 4 May 1999 00 UTC, 22 May 2011 12 UTC and the two null cases."""

from __future__ import annotations


import metpy.calc as mpcalc
import numpy as np
import pytest
from metpy.units import units

from hvrmet.tools import call_tool, list_tools
from hvrmet.tools.context import CACHE

CASES = ["may1999", "oun20110522", "null-jan20", "null-dec9"]


def _raw(load, case):
    """Independent profile: levels with T straight from the decoded file; where the file
    omits the dew point above its last reported one (very dry air), the documented rule
    of the tools is applied here too: 1 % relative humidity."""
    ds = load(case, "sounding")
    ok = (ds.temperature.notnull() & ds.height.notnull()).values
    p = ds.pressure.values[ok] * units.hPa
    t = ds.temperature.values[ok] * units.degC
    tdv = ds.dewpoint.values[ok].copy()
    last = np.flatnonzero(np.isfinite(tdv))[-1]
    tdv[last + 1:] = mpcalc.dewpoint_from_relative_humidity(t[last + 1:], 0.01).to("degC").m
    td = tdv * units.degC
    z = ds.height.values[ok] * units.m
    okw = ds.wind_speed.notnull() & ds.wind_direction.notnull()
    u, v = mpcalc.wind_components(ds.wind_speed.values[okw] * units.knot,
                                  ds.wind_direction.values[okw] * units.degree)
    return ds, p, t, td, z, (ds.pressure.values[okw] * units.hPa, u.to("m/s"), v.to("m/s"),
                             (ds.height.values[okw] - ds.height.values[okw][0]) * units.m)


def _val(name, case, key):
    res = call_tool(name, {"case": case})
    assert res.ok, res.error
    return res.values[key].value


@pytest.mark.parametrize("case", CASES)
def test_cape_cin_match_metpy(load, case):
    _, p, t, td, _, _ = _raw(load, case)
    sb = mpcalc.surface_based_cape_cin(p, t, td)
    ml = mpcalc.mixed_layer_cape_cin(p, t, td, depth=100 * units.hPa)
    mu = mpcalc.most_unstable_cape_cin(p, t, td)
    assert _val("compute_sbcape", case, "sbcape") == pytest.approx(sb[0].m, abs=0.01)
    assert _val("compute_sbcape", case, "sbcin") == pytest.approx(sb[1].m, abs=0.01)
    assert _val("compute_mlcape", case, "mlcape") == pytest.approx(ml[0].m, abs=0.01)
    assert _val("compute_mucape", case, "mucape") == pytest.approx(mu[0].m, abs=0.01)
    lcl_p, _ = mpcalc.lcl(p[0], t[0], td[0])
    assert _val("compute_sbcape", case, "lcl_pressure") == pytest.approx(lcl_p.m, abs=0.01)


def test_may1999_environment_values(load):
    """The 1999 OUN 00 UTC sounding: the numbers a forecaster knows for that evening."""
    assert _val("compute_sbcape", "may1999", "sbcape") == pytest.approx(2470, abs=1)
    res = call_tool("summarize_sounding", {"case": "may1999"})
    v = {k: x.value for k, x in res.values.items()}
    assert v["srh_0_1km"] > 200 and v["shear_0_6km"] > 20 and v["stp"] > 2


@pytest.mark.parametrize("case", CASES)
def test_indices_match_metpy(load, case):
    _, p, t, td, z, _ = _raw(load, case)
    parcel = mpcalc.parcel_profile(p, t[0], td[0])
    assert _val("compute_stability_indices", case, "lifted_index") == \
        pytest.approx(mpcalc.lifted_index(p, t, parcel)[0].m, abs=0.01)
    assert _val("compute_stability_indices", case, "k_index") == \
        pytest.approx(mpcalc.k_index(p, t, td).to("degC").m, abs=0.01)
    assert _val("compute_stability_indices", case, "total_totals") == \
        pytest.approx(mpcalc.total_totals_index(p, t, td).m, abs=0.01)
    assert _val("compute_stability_indices", case, "showalter_index") == \
        pytest.approx(mpcalc.showalter_index(p, t, td)[0].m, abs=0.01)
    assert _val("compute_precipitable_water", case, "precipitable_water") == \
        pytest.approx(mpcalc.precipitable_water(p, td).to("mm").m, abs=0.01)
    dcape = _val("compute_downdraft_cape", case, "dcape")
    if case == "null-dec9":
        assert dcape is None  # dew points end at 606 hPa, inside DCAPE's lowest 400 hPa
    else:
        assert dcape == pytest.approx(mpcalc.downdraft_cape(p, t, td)[0].m, abs=0.01)


@pytest.mark.parametrize("case", CASES)
def test_kinematics_match_metpy(load, case):
    _, p, t, td, z, (pw, u, v, zw) = _raw(load, case)
    for km in (1, 3, 6):
        su, sv = mpcalc.bulk_shear(pw, u, v, height=zw, depth=km * units.km)
        assert _val("compute_bulk_shear", case, f"shear_0_{km}km") == \
            pytest.approx(float(np.hypot(su, sv).m), abs=0.01)
    rm, lm, _ = mpcalc.bunkers_storm_motion(pw, u, v, zw)
    assert _val("compute_storm_motion", case, "bunkers_right_u") == pytest.approx(rm[0].m, abs=0.01)
    assert _val("compute_storm_motion", case, "bunkers_left_v") == pytest.approx(lm[1].m, abs=0.01)
    srh1 = mpcalc.storm_relative_helicity(zw, u, v, depth=1 * units.km, storm_u=rm[0], storm_v=rm[1])[2]
    srh3 = mpcalc.storm_relative_helicity(zw, u, v, depth=3 * units.km, storm_u=rm[0], storm_v=rm[1])[2]
    assert _val("compute_helicity", case, "srh_0_1km") == pytest.approx(srh1.m, abs=0.01)
    assert _val("compute_helicity", case, "srh_0_3km") == pytest.approx(srh3.m, abs=0.01)
    sb = mpcalc.surface_based_cape_cin(p, t, td)[0]
    lcl_p, _ = mpcalc.lcl(p[0], t[0], td[0])
    lcl_h = np.interp(np.log(lcl_p.m), np.log(p.m[::-1]), (z - z[0]).m[::-1]) * units.m
    sh6 = np.hypot(*mpcalc.bulk_shear(pw, u, v, height=zw, depth=6 * units.km))
    stp = mpcalc.significant_tornado(sb, lcl_h, srh1, sh6)
    assert _val("compute_tornado_parameter", case, "stp") == pytest.approx(float(np.atleast_1d(stp.m)[0]), abs=1e-3)
    mu = mpcalc.most_unstable_cape_cin(p, t, td)[0]
    scp = mpcalc.supercell_composite(mu, srh3, sh6)
    assert _val("compute_supercell_composite", case, "scp") == pytest.approx(float(np.atleast_1d(scp.m)[0]), abs=1e-3)


@pytest.mark.parametrize("case", CASES)
def test_lapse_rate_and_freezing_level(load, case):
    _, p, t, td, z, _ = _raw(load, case)
    lp = np.log(p.m[::-1])
    t7, t5 = (np.interp(np.log(x), lp, t.m[::-1]) for x in (700, 500))
    z7, z5 = (np.interp(np.log(x), lp, z.m[::-1]) for x in (700, 500))
    assert _val("compute_lapse_rate", case, "lapse_rate_700_500") == \
        pytest.approx((t7 - t5) / ((z5 - z7) / 1000), abs=1e-3)
    zagl = (z - z[0]).m
    i = int(np.flatnonzero(t.m <= 0)[0])
    fzl = 0.0 if t.m[0] <= 0 else np.interp(0, [t.m[i], t.m[i - 1]], [zagl[i], zagl[i - 1]])
    assert _val("compute_freezing_level", case, "freezing_level") == pytest.approx(fzl, abs=0.5)


def test_ship_follows_spc_formula():
    from hvrmet.calc.sounding import ship

    # all terms inside their limits: plain product / 42e6
    assert ship(3000, 12, 7.5, -15, 20, 3500) == pytest.approx(3000 * 12 * 7.5 * 15 * 20 / 42e6)
    # low CAPE, low lapse rate and low freezing level each scale it down
    assert ship(650, 12, 5.8, -15, 20, 3500) == pytest.approx(650 * 12 * 5.8 * 15 * 20 / 42e6 * 0.5)
    assert ship(3000, 20, 7.5, -1, 40, 3500) == pytest.approx(3000 * 13.6 * 7.5 * 5.5 * 27 / 42e6)


def test_null_soundings_have_no_instability(load):
    for case in ("null-jan20", "null-dec9"):
        res = call_tool("summarize_sounding", {"case": case})
        assert res.ok
        assert res.values["sbcape"].value == 0.0 and res.values["stp"].value in (0.0, -0.0)
        assert res.values["mucape"].value < 100


def test_early_top_and_missing_dewpoints_are_reported(load):
    res = call_tool("summarize_sounding", {"case": "null-dec9"})
    assert any("no dew point above" in w for w in res.warnings)
    assert res.values["dcape"].value is None
    assert any("downdraft CAPE not computed" in w for w in res.warnings)


def test_missing_wind_is_handled(tmp_path, data_dir):
    src = (data_dir / "metpy/staticdata/may4_sounding.txt").read_text().splitlines()
    out = []
    for ln in src:
        if ln[:7].strip().replace(".", "").isdigit() and len(ln) > 63:
            ln = ln[:42] + " " * 14 + ln[56:]
        out.append(ln)
    (tmp_path / "nowind.txt").write_text("\n".join(out) + "\n")
    (tmp_path / "c.yaml").write_text(
        "id: nowind\ntitle: may4 without wind\ntime: 1999-05-04T00:00Z\nlocation: {lat: 35.2, lon: -97.4}\n"
        "files: [{role: sounding, format: uwyo_sounding, path: nowind.txt}]\ndata_dir: .\n")
    res = call_tool("summarize_sounding", {"case": str(tmp_path / "c.yaml")})
    assert res.ok
    assert res.values["sbcape"].value == pytest.approx(2470, abs=1)
    assert res.values["srh_0_1km"].value is None
    assert any("no wind" in w for w in res.warnings)


def test_all_sounding_tools_cached(load):
    """After one decode every sounding tool reads the cached profile (each call is one
    cache hit); no wall-clock limit, the suite runs on busy machines."""
    load("oun20110522", "sounding")
    call_tool("compute_sbcape", {"case": "oun20110522"})  # decode + compute once
    hits = CACHE.hits
    tools = [t for t in list_tools("sounding") if "sounding" in t.needs]  # not the radiosonde network's
    assert len(tools) >= 15
    for t in tools:
        assert call_tool(t.name, {"case": "oun20110522"}).ok
    assert CACHE.hits - hits == len(tools)


def test_warm_nose_by_hand():
    """Crossings interpolated by hand: -5, -1, 3, 1, -2 degC at 0-2000 m every 500 m."""
    import math

    from hvrmet.calc.sounding import warm_nose

    z = np.array([0.0, 500.0, 1000.0, 1500.0, 2000.0])
    cold, wmax, wdepth = warm_nose(z, np.array([-5.0, -1.0, 3.0, 1.0, -2.0]))
    assert cold == pytest.approx(500 + 500 * 1 / 4) and wmax == 3.0
    assert wdepth == pytest.approx((1500 + 500 * 1 / 3) - 625.0)
    assert warm_nose(z, np.array([-5.0, -1.0, 3.0, 4.0, 2.0]))[2] == pytest.approx(2000 - 625.0)  # never cools
    cold, wmax, wdepth = warm_nose(z, np.array([-1.0, -3.0, -2.0, -6.0, -9.0]))  # all snow
    assert (cold, wmax, wdepth) == (2000.0, -2.0, 0.0)
    cold, wmax, wdepth = warm_nose(z, np.array([0.0, 0.5, 2.0, -1.0, -3.0]))  # 0 degC at the ground is subfreezing
    assert cold == pytest.approx(0.0) and wmax == 2.0
    cold, wmax, wdepth = warm_nose(z, np.array([4.0, -1.0, 3.0, 1.0, -2.0]))  # a warm surface: no such layer
    assert cold == 0.0 and math.isnan(wmax) and math.isnan(wdepth)
    assert all(math.isnan(x) for x in warm_nose(z[:1], np.array([-1.0])))
    cold, wmax, _ = warm_nose(np.array([0.0, np.nan, 1000.0]), np.array([-2.0, 5.0, 2.0]))  # missing levels left out
    assert cold == pytest.approx(500.0) and wmax == 2.0


def test_warm_nose_of_a_real_sounding(data_dir):
    """dec9_sounding.txt (read with pandas here) starts at -0.1 degC and warms to 5.4 degC
    at 1133 m: a 7 m subfreezing layer under a warm nose; may4_sounding.txt starts above
    0 degC, so it has none and says why."""
    import pandas as pd

    names = ["PRES", "HGHT", "TEMP", "DWPT", "RELH", "MIXR", "DRCT", "SKNT", "THTA", "THTE", "THTV"]
    df = pd.read_fwf(data_dir / "metpy/staticdata/dec9_sounding.txt", skiprows=5, names=names,
                     widths=[7] * 11).dropna(subset=["TEMP"])
    z, t = df.HGHT.to_numpy(float), df.TEMP.to_numpy(float)
    base = z[0] + (z[1] - z[0]) * (0 - t[0]) / (t[1] - t[0])
    res = call_tool("compute_freezing_level", {"case": "null-dec9"})
    assert res.ok, res.error
    assert res.value("surface_cold_layer_depth") == pytest.approx(base - z[0], abs=0.01)
    assert res.value("warm_layer_max_temperature") == pytest.approx(t[1:].max()) == 5.4
    warm = call_tool("compute_freezing_level", {"case": "may1999"})
    assert warm.value("surface_cold_layer_depth") == 0.0
    assert warm.values["warm_layer_max_temperature"].value is None
    assert any("warm_layer_max_temperature not computable" in w and "subfreezing layer at the ground" in w
               for w in warm.warnings)
