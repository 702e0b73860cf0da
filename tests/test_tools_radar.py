"""Radar (Level II) and Level III tools on the real volumes and products, checked against
numbers computed independently here with numpy, or read off the products' tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hvrmet.tools import call_tool
from hvrmet.tools import radar_calc as rc


@pytest.fixture(scope="module")
def vol(data_dir):
    """Decoded volumes through the tools' own cache (decoded once for tools and tests)."""
    from hvrmet.tools.context import ToolContext

    return lambda case, role="radar_volume": ToolContext(case).load(role)


def _ok(name, args):
    res = call_tool(name, args)
    assert res.ok, res.error
    return res


def _km(lat1, lon1, lat2, lon2):
    dy = (lat2 - lat1) * 111.2
    dx = (lon2 - lon1) * 111.2 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


# --- Level II ------------------------------------------------------------------------

def test_max_reflectivity_may1999_matches_numpy(vol):
    ds = vol("may1999")
    refl = ds["reflectivity"].values
    i, j, k = np.unravel_index(np.nanargmax(refl), refl.shape)
    res = _ok("find_max_reflectivity", {"case": "may1999"})
    assert res.value("max_reflectivity") == 62.5 == float(refl[i, j, k])
    assert res.value("max_reflectivity_lat") == pytest.approx(float(ds["lat"].values[i, j, k]), abs=1e-3)
    assert res.value("max_reflectivity_lon") == pytest.approx(float(ds["lon"].values[i, j, k]), abs=1e-3)
    assert res.value("max_reflectivity_range") == pytest.approx(ds["range"].values[k] / 1000.0, abs=0.01)
    assert res.value("max_reflectivity_azimuth") == pytest.approx(float(ds["azimuth"].values[i, j]), abs=0.1)
    assert res.value("max_reflectivity_height") == pytest.approx(float(ds["z"].values[i, j, k]) / 1000, abs=0.01)
    # the 62.5 dBZ core lies NW of KTLX, about 95 km out, on the lowest tilt
    assert 90 < res.value("max_reflectivity_range") < 100 and res.value("max_reflectivity_elevation") < 1.0


def test_max_reflectivity_min_range_skips_near_gates(vol):
    ds = vol("may1999")
    far = np.where(ds["range"].values[None, None, :] >= 100_000.0, ds["reflectivity"].values, np.nan)
    res = _ok("find_max_reflectivity", {"case": "may1999", "min_range": "100 km"})
    assert res.value("max_reflectivity") == float(np.nanmax(far)) < 62.5
    assert res.value("max_reflectivity_range") >= 100.0


def test_max_reflectivity_katrina(vol):
    res = _ok("find_max_reflectivity", {"case": "katrina2005"})
    assert res.value("max_reflectivity") == 54.0 == float(np.nanmax(vol("katrina2005")["reflectivity"].values))


def test_composite_equals_volume_max_and_bins(vol):
    ds = vol("may1999")
    comp = rc.composite_reflectivity(ds, 1000.0, 230_000.0)
    assert comp.dims == ("y", "x") and comp.shape == (461, 461)
    assert {"lat", "lon", "x", "y"} <= set(comp.coords)
    # every gate within 230 km is binned: the column maximum is the volume maximum there
    refl = ds["reflectivity"].values
    s = rc.ground_range(ds["range"].values[None, None, :], ds["elevation"].values[..., None])
    inside = np.where(s <= 230_000.0, refl, np.nan)
    assert float(np.nanmax(comp.values)) == float(np.nanmax(inside)) == 62.5
    res = _ok("compute_composite_reflectivity", {"case": "may1999"})
    assert res.value("max_composite_reflectivity") == 62.5
    gate = rc.max_gate(ds)
    assert _km(res.value("max_lat"), res.value("max_lon"), gate["lat"], gate["lon"]) < 1.5
    assert (res.value("grid_nx"), res.value("grid_ny"), res.value("grid_resolution")) == (461, 461, 1.0)
    # area >= 40 dBZ: at least the 1 km cells holding a >= 40 dBZ gate (counted here with
    # numpy), and not much more (the nearest-gate fill covers the gaps between far rays)
    az = np.deg2rad(ds["azimuth"].values)[..., None]
    m = (refl >= 40.0) & (s <= 230_000.0)
    cells = set(zip(np.rint(s * np.sin(az) / 1000.0)[m].tolist(), np.rint(s * np.cos(az) / 1000.0)[m].tolist()))
    a40, a50 = res.value("area_ge_40dbz"), res.value("area_ge_50dbz")
    assert len(cells) <= a40 <= 1.5 * len(cells)
    assert 0 < a50 < a40
    # memoised: the same object comes back for the same volume and grid
    assert rc.composite_reflectivity(ds, 1000.0, 230_000.0) is comp


def test_echo_tops_are_gate_heights(vol):
    ds = vol("may1999")
    res = _ok("compute_echo_tops", {"case": "may1999"})
    top = res.value("max_echo_top")
    z, refl = ds["z"].values, ds["reflectivity"].values
    assert top <= float(np.nanmax(np.where(refl >= 18.0, z, np.nan))) / 1000.0
    # the top is the beam-centre height of a >= 18 dBZ gate near the reported spot
    near = (np.abs(z / 1000.0 - top) < 0.002) & (refl >= 18.0)
    lats, lons = ds["lat"].values[near], ds["lon"].values[near]
    assert any(_km(res.value("max_echo_top_lat"), res.value("max_echo_top_lon"), a, b) < 2.0
               for a, b in zip(lats, lons))
    assert 12.0 < top < 18.0  # a 3 May 1999 supercell top, not a speckle gate
    higher = _ok("compute_echo_tops", {"case": "may1999", "threshold": 50})
    assert higher.value("max_echo_top") < top


def test_greene_clark_formula():
    # 50 dBZ from 1 to 6 km: 3.44e-6 * (1e5)^(4/7) * 5000 m
    dbz = np.full((6, 1), 50.0)
    h = np.arange(1000.0, 7000.0, 1000.0)[:, None]
    assert rc.greene_clark_vil(dbz, h)[0] == pytest.approx(3.44e-6 * 1e5 ** (4 / 7) * 5000.0)
    # the 56 dBZ cap and a level without echo
    assert rc.greene_clark_vil(np.array([[70.0], [70.0]]), np.array([[0.0], [1000.0]]))[0] == \
        pytest.approx(3.44e-6 * 10 ** (5.6 * 4 / 7) * 1000.0)
    assert rc.greene_clark_vil(np.array([[np.nan], [40.0]]), np.array([[0.0], [1000.0]]))[0] == \
        pytest.approx(3.44e-6 * (0.5e4) ** (4 / 7) * 1000.0)


def test_vil_may1999(vol):
    res = _ok("compute_vil", {"case": "may1999"})
    assert 20.0 < res.value("max_vil") < 80.0
    # the VIL maximum lies in the storm near Moore / Bridge Creek, west of KTLX
    assert res.value("max_vil_range") < 60 and 240 < res.value("max_vil_azimuth") < 300


def test_storm_cells(vol):
    res = _ok("detect_storm_cells", {"case": "may1999"})
    assert res.value("cell_count") == len(res.table) >= 3
    assert res.value("strongest_cell_max_reflectivity") == 62.5
    assert [c["max_dbz"] for c in res.table] == sorted((c["max_dbz"] for c in res.table), reverse=True)
    comp = _ok("compute_composite_reflectivity", {"case": "may1999"})
    assert sum(c["area_km2"] for c in res.table) <= comp.value("area_ge_40dbz")
    assert all(c["area_km2"] >= 4.0 for c in res.table)
    assert _ok("detect_storm_cells", {"case": "may1999", "threshold": 60}).value("cell_count") < len(res.table)


def test_rotation_finds_bridge_creek_moore_couplet(vol):
    res = _ok("detect_rotation", {"case": "may1999"})
    # the F5 tornado was near Newcastle / Bridge Creek (about 35.24 N, 97.68 W) at 23:56 UTC
    assert _km(res.value("couplet_lat"), res.value("couplet_lon"), 35.24, -97.68) < 5.0
    vrot = res.value("max_rotational_velocity")
    assert 15.0 <= vrot < 26.1  # below the 26.1 m/s Nyquist velocity: nothing is dealiased
    assert vrot == pytest.approx((res.value("outbound_velocity") - res.value("inbound_velocity")) / 2)
    assert res.value("azimuthal_shear") == pytest.approx(2 * vrot / (res.value("couplet_diameter") * 1000), rel=0.02)
    assert res.values["mesocyclone_flag"].value is True
    assert any("dealias" in w for w in res.warnings)
    # the raw velocities around the couplet hold the inbound and outbound extremes
    ds = vol("may1999")
    sw = res.table[0]["sweep"]
    d = np.hypot((ds["lat_vel"].values[sw] - res.value("couplet_lat")) * 111.2,
                 (ds["lon_vel"].values[sw] - res.value("couplet_lon")) * 90.8)
    v = ds["radial_velocity"].values[sw][d < 4.0]
    assert np.nanmin(v) <= res.value("inbound_velocity") and np.nanmax(v) >= res.value("outbound_velocity")


def test_hail_proxy_with_sounding_and_explicit(vol):
    res = _ok("estimate_hail_proxy", {"case": "may1999"})
    snd = vol("may1999", "sounding")
    t, z = snd["temperature"].values, snd["height"].values
    ok = np.isfinite(t) & np.isfinite(z)
    t, z = t[ok], z[ok]
    k = int(np.flatnonzero((t[:-1] > 0) & (t[1:] <= 0))[0])
    fzl_msl = np.interp(0.0, [t[k + 1], t[k]], [z[k + 1], z[k]]) / 1000.0
    assert res.value("freezing_level") == pytest.approx(fzl_msl, abs=0.1)
    h50 = res.value("height_50dbz")
    assert res.value("height_50dbz_above_freezing") == pytest.approx(h50 - res.value("freezing_level"), abs=0.02)
    et = _ok("compute_echo_tops", {"case": "may1999", "threshold": 50})
    assert h50 == et.value("max_echo_top")
    assert res.values["large_hail_flag"].value is (h50 - res.value("freezing_level") >= 4.0)
    msl = _ok("estimate_hail_proxy", {"case": "may1999", "freezing_level": "3 km", "freezing_level_reference": "msl"})
    assert msl.value("freezing_level") == 3.0
    agl = _ok("estimate_hail_proxy", {"case": "may1999", "freezing_level": "3000 m"})
    assert agl.value("freezing_level") == pytest.approx(3.0 + vol("may1999").attrs["site_altitude_m"] / 1000, abs=0.01)
    nosnd = call_tool("estimate_hail_proxy", {"case": "klbb20160601"})
    assert not nosnd.ok and "freezing_level" in nosnd.error


def test_debris_needs_dual_pol():
    res = call_tool("detect_debris_signature", {"case": "may1999"})
    assert not res.ok and res.error_type == "VariableMissing"
    assert "not possible" in res.error and "dual-pol" in res.error
    dp = _ok("detect_debris_signature", {"case": "klbb20160601"})
    assert dp.value("debris_gate_count") >= 0 and isinstance(dp.values["debris_signature_flag"].value, bool)


# --- Level III ----------------------------------------------------------------------

def test_storm_tracks_kansas_city():
    res = _ok("get_storm_tracks", {"case": "mci20160526"})
    w0 = next(r for r in res.table if r["storm_id"] == "W0")
    assert (w0["azimuth"], w0["range_nm"], w0["motion_from"], w0["motion_speed"]) == (111, 34, 228, 19)
    assert res.value("storm_count") == len(res.table) == 34
    speeds = [r["motion_speed"] for r in res.table if r["motion_speed"] is not None]
    assert res.value("fastest_storm_speed") == max(speeds)
    # vector-mean motion, computed here from the table
    moving = [r for r in res.table if r["motion_speed"] is not None]
    u = np.mean([-r["motion_speed"] * math.sin(math.radians(r["motion_from"])) for r in moving])
    v = np.mean([-r["motion_speed"] * math.cos(math.radians(r["motion_from"])) for r in moving])
    assert res.value("mean_motion_speed") == pytest.approx(math.hypot(u, v), abs=0.1)
    assert res.value("mean_motion_direction") == pytest.approx(math.degrees(math.atan2(-u, -v)) % 360, abs=1)


def test_mesocyclones_kansas_city():
    res = _ok("get_mesocyclones", {"case": "mci20160526"})
    assert res.values["strongest_circulation_id"].value == "109"
    assert res.values["strongest_storm_id"].value == "E5"
    assert res.value("strongest_low_level_rotational_velocity") == 40.0
    assert res.value("strongest_strength_rank") == 7
    assert res.value("mesocyclone_count") == len(res.table) == 10
    assert res.values["tvs_flag"].value is False


def test_hail_index_kansas_city():
    res = _ok("get_hail_index", {"case": "mci20160526", "min_posh": 50})
    assert res.values["max_hail_storm_id"].value == "W0"
    assert res.value("max_hail_size") == 1.5 and res.value("max_posh") == 60.0
    w0 = next(r for r in res.table if r["storm_id"] == "W0")
    assert w0["prob_severe_hail"] == 60.0 and w0["max_hail_size"] == 1.5
    assert all(r["prob_severe_hail"] >= 50 for r in res.table) and res.value("storms_with_posh") == len(res.table)
    assert _ok("get_hail_index", {"case": "mci20160526", "min_posh": 61}).value("storms_with_posh") == 0


def test_tvs_detections_zero_is_an_answer():
    res = _ok("get_tvs_detections", {"case": "mci20160526"})
    assert res.value("tvs_count") == 0 and res.table == [] and res.value("products_checked") == 2
    assert not call_tool("get_tvs_detections", {"case": "may1999"}).ok


def test_summarize_level3_fields(vol):
    for role, units in (("level3_vil", "kg/m^2"), ("level3_echo_tops", "kft")):
        ds = vol("mci20160526", role)
        res = _ok("summarize_level3_field", {"case": "mci20160526", "role": role})
        assert res.value("max_value") == float(np.nanmax(ds["data"].values))
        assert res.values["max_value"].units == units
        iy, ix = np.unravel_index(np.nanargmax(ds["data"].values), ds["data"].shape)
        assert res.value("max_lat") == pytest.approx(float(ds["lat"].values[iy, ix]), abs=1e-3)
    vil = _ok("summarize_level3_field", {"case": "mci20160526"})
    assert vil.value("max_value") == 50.0
