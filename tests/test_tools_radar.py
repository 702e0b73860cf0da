"""Radar volume and Level III tools on the real volumes and products, checked against
numbers computed independently here with numpy and pyproj (gate positions from the 4/3-earth
beam model written out below), or read off the products' tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hvrmet.calc import radar as rc
from hvrmet.tools import call_tool

KE_A = 4.0 / 3.0 * 6371008.8


@pytest.fixture(scope="module")
def vol(data_dir):
    """Decoded volumes through the tools' own cache (decoded once for tools and tests)."""
    from hvrmet.tools.context import ToolContext

    return lambda case, role="radar_volume": ToolContext(case).load(role)


def _ok(name, args):
    # these tests check the computations over the whole volume or product: a radius beyond the
    # radar's range (the default window around the case's place is tested in test_window.py)
    res = call_tool(name, {"radius": "500 km", **args})
    assert res.ok, res.error
    return res


def _km(lat1, lon1, lat2, lon2):
    dy = (lat2 - lat1) * 111.2
    dx = (lon2 - lon1) * 111.2 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def _beam(r, el):
    """Ground distance and height above the radar (m), 4/3 earth (Doviak and Zrnic 2.28b, c)."""
    el = np.deg2rad(el)
    h = np.sqrt(r**2 + KE_A**2 + 2 * r * KE_A * np.sin(el)) - KE_A
    return KE_A * np.arcsin(r * np.cos(el) / (KE_A + h)), h


def _gates(tree, var):
    """Every gate holding ``var`` on the volume's PPIs: value, sweep, ray, gate, azimuth,
    elevation, slant range, ground distance and height MSL (m), as flat arrays."""
    alt = float(tree["altitude"])
    cols = {k: [] for k in ("v", "sweep", "ray", "gate", "az", "el", "r", "s", "z")}
    for n in rc.sweep_names(tree):
        sw = tree[n].ds
        if var not in sw.data_vars:
            continue
        v = sw[var].values
        j, g = np.nonzero(np.isfinite(v))
        r = sw["range"].values.astype(float)[g]
        el = sw["elevation"].values.astype(float)[j]
        s, h = _beam(r, el)
        for k, x in (("v", v[j, g]), ("sweep", np.full(j.size, rc.sweep_index(n))), ("ray", j), ("gate", g),
                     ("az", sw["azimuth"].values.astype(float)[j]), ("el", el), ("r", r), ("s", s), ("z", h + alt)):
            cols[k].append(x)
    return {k: np.concatenate(x) for k, x in cols.items()}


def _latlon(tree, az, s):
    from pyproj import Geod

    lon, lat, _ = Geod(ellps="WGS84").fwd(np.full(np.size(az), tree.attrs["site_longitude"]),
                                          np.full(np.size(az), tree.attrs["site_latitude"]), az, s)
    return np.asarray(lat), np.asarray(lon)


# --- radar volumes -----------------------------------------------------------------

def test_max_reflectivity_may1999_matches_numpy(vol):
    ds = vol("may1999")
    g = _gates(ds, "reflectivity")
    k = int(np.argmax(g["v"]))
    (lat,), (lon,) = _latlon(ds, g["az"][[k]], g["s"][[k]])
    res = _ok("find_max_reflectivity", {"case": "may1999"})
    assert res.value("max_reflectivity") == 62.5 == float(g["v"][k])
    assert res.value("max_reflectivity_lat") == pytest.approx(float(lat), abs=1e-3)
    assert res.value("max_reflectivity_lon") == pytest.approx(float(lon), abs=1e-3)
    assert res.value("max_reflectivity_range") == pytest.approx(g["r"][k] / 1000.0, abs=0.01)
    assert res.value("max_reflectivity_azimuth") == pytest.approx(float(g["az"][k]), abs=0.1)
    assert res.value("max_reflectivity_height") == pytest.approx(float(g["z"][k]) / 1000, abs=0.01)
    # the 62.5 dBZ core lies NW of KTLX, about 95 km out, on the lowest tilt
    assert 90 < res.value("max_reflectivity_range") < 100 and res.value("max_reflectivity_elevation") < 1.0


def test_max_reflectivity_min_range_skips_near_gates(vol):
    g = _gates(vol("may1999"), "reflectivity")
    res = _ok("find_max_reflectivity", {"case": "may1999", "min_range": "100 km"})
    assert res.value("max_reflectivity") == float(g["v"][g["r"] >= 100_000.0].max()) < 62.5
    assert res.value("max_reflectivity_range") >= 100.0


def test_max_reflectivity_katrina(vol):
    res = _ok("find_max_reflectivity", {"case": "katrina2005"})
    assert res.value("max_reflectivity") == 54.0 == float(_gates(vol("katrina2005"), "reflectivity")["v"].max())


def test_composite_equals_volume_max_and_bins(vol):
    ds = vol("may1999")
    comp = rc.composite_reflectivity(ds, 1000.0, 230_000.0)
    assert comp.dims == ("y", "x") and comp.shape == (461, 461)
    assert {"lat", "lon", "x", "y"} <= set(comp.coords)
    # every gate within 230 km is binned: the column maximum is the volume maximum there
    g = _gates(ds, "reflectivity")
    inside = g["s"] <= 230_000.0
    assert float(np.nanmax(comp.values)) == float(g["v"][inside].max()) == 62.5
    res = _ok("compute_composite_reflectivity", {"case": "may1999"})
    assert res.value("max_composite_reflectivity") == 62.5
    gate = rc.max_gate(ds)
    assert _km(res.value("max_lat"), res.value("max_lon"), gate["lat"], gate["lon"]) < 1.5
    assert (res.value("grid_nx"), res.value("grid_ny"), res.value("grid_resolution")) == (461, 461, 1.0)
    # area >= 40 dBZ: at least the 1 km cells holding a >= 40 dBZ gate (counted here with
    # numpy), and not much more (the nearest-gate fill covers the gaps between far rays)
    az = np.deg2rad(g["az"])
    m = (g["v"] >= 40.0) & inside
    cells = set(zip(np.rint(g["s"] * np.sin(az) / 1000.0)[m].tolist(), np.rint(g["s"] * np.cos(az) / 1000.0)[m].tolist()))
    a40, a50 = res.value("area_ge_40dbz"), res.value("area_ge_50dbz")
    assert len(cells) <= a40 <= 1.5 * len(cells)
    assert 0 < a50 < a40
    # memoised: the same object comes back for the same volume and grid
    assert rc.composite_reflectivity(ds, 1000.0, 230_000.0) is comp


def test_echo_tops_are_gate_heights(vol):
    ds = vol("may1999")
    res = _ok("compute_echo_tops", {"case": "may1999"})
    top = res.value("max_echo_top")
    g = _gates(ds, "reflectivity")
    echo = g["v"] >= 18.0
    assert top <= float(g["z"][echo].max()) / 1000.0
    # the top is the beam-centre height of a >= 18 dBZ gate near the reported spot
    near = (np.abs(g["z"] / 1000.0 - top) < 0.002) & echo
    lats, lons = _latlon(ds, g["az"][near], g["s"][near])
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


def test_greene_clark_grid_of_columns_some_without_echo():
    # a (level, y, x) grid: each column checked against the hand sum of its layers; columns
    # without echo (all NaN, or echo only where the height is unknown) give 0
    layer = lambda z1, z2, dh: 3.44e-6 * ((10 ** (z1 / 10) + 10 ** (z2 / 10)) / 2) ** (4 / 7) * dh  # noqa: E731
    dbz = np.full((3, 2, 3), np.nan, np.float32)
    h = np.tile(np.array([500.0, 1500.0, 3500.0], np.float32)[:, None, None], (1, 2, 3))
    dbz[:, 0, 1] = [30.0, 40.0, 20.0]
    dbz[1:, 1, 2] = [45.0, 45.0]
    dbz[0, 1, 0] = 60.0  # capped at 56 dBZ; the level above it has no echo
    h[:, 0, 2] = np.nan
    dbz[:, 0, 2] = 50.0  # echo, but no heights: no layer counts
    out = rc.greene_clark_vil(dbz, h)
    assert out.shape == (2, 3)
    assert out[0, 1] == pytest.approx(layer(30, 40, 1000) + layer(40, 20, 2000), rel=1e-6)
    # the level without echo below counts as Z = 0
    assert out[1, 2] == pytest.approx(3.44e-6 * (10 ** 4.5 / 2) ** (4 / 7) * 1000 + layer(45, 45, 2000), rel=1e-6)
    assert out[1, 0] == pytest.approx(3.44e-6 * (10 ** 5.6 / 2) ** (4 / 7) * 1000, rel=1e-6)
    assert out[0, 0] == 0.0 and out[1, 1] == 0.0 and out[0, 2] == 0.0
    # one column given as 1-D levels, and a column with no echo at all
    assert float(rc.greene_clark_vil(np.array([30.0, 40.0]), np.array([0.0, 1000.0]))) == \
        pytest.approx(layer(30, 40, 1000))
    assert float(rc.greene_clark_vil(np.array([np.nan, np.nan]), np.array([0.0, 1000.0]))) == 0.0
    with pytest.raises(ValueError, match="shape"):
        rc.greene_clark_vil(np.zeros((2, 3)), np.zeros((3, 2)))


def test_calc_argument_checks_name_the_argument(vol):
    from hvrmet.errors import VariableMissing

    ds = vol("may1999")
    with pytest.raises(ValueError, match="resolution_m"):
        rc.composite_reflectivity(ds, -1.0)
    with pytest.raises(ValueError, match="max_range_m"):
        rc.composite_reflectivity(ds, 1000.0, "far")
    with pytest.raises(TypeError, match="volume must be an xarray.DataTree"):
        rc.max_gate(ds["sweep_0"].ds)
    with pytest.raises(VariableMissing, match="cross_correlation_ratio"):
        rc.debris_signature(ds, [])
    # pint quantities are converted
    from metpy.units import units

    assert rc.composite_reflectivity(ds, units("1 km"), units("230 km")) is rc.composite_reflectivity(ds, 1000.0, 230_000.0)
    with pytest.raises(ValueError, match="resolution_m must be in units of m"):
        rc.composite_reflectivity(ds, units("1 s"))


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
    sw = ds[f"sweep_{res.table[0]['sweep']}"].ds
    g = _gates(ds, "radial_velocity")
    on = g["sweep"] == res.table[0]["sweep"]
    lat, lon = _latlon(ds, g["az"][on], g["s"][on])
    d = np.hypot((lat - res.value("couplet_lat")) * 111.2, (lon - res.value("couplet_lon")) * 90.8)
    v = g["v"][on][d < 4.0]
    assert float(sw["nyquist_velocity"]) == pytest.approx(26.1, abs=0.01)
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
    assert agl.value("freezing_level") == pytest.approx(3.0 + float(vol("may1999")["altitude"]) / 1000, abs=0.01)
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
    assert res.value("storm_count") == len(res.table) == 44  # the header's count: the 34 of the text pages and the 10 only in the symbology block
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


# --- convective lines -------------------------------------------------------------------
def _grid(field, res_km=1.0, site=(35.0, -97.0)):
    """A radar-centred (y, x) grid as composite_reflectivity returns it (lat/lon from an
    equirectangular approximation, enough for the shapes tested here)."""
    import xarray as xr

    ny, nx = field.shape
    x = (np.arange(nx) - nx // 2) * res_km * 1000.0
    y = (np.arange(ny) - ny // 2) * res_km * 1000.0
    lat = site[0] + y[:, None] / 111.2e3 + 0 * x[None, :]
    lon = site[1] + x[None, :] / (111.2e3 * math.cos(math.radians(site[0]))) + 0 * y[:, None]
    return xr.DataArray(field.astype(np.float32), dims=("y", "x"), coords={"x": x, "y": y,
                        "lat": (("y", "x"), lat), "lon": (("y", "x"), lon)},
                        attrs={"site_latitude": site[0], "site_longitude": site[1]})


def _band(n, length, width, angle_deg, centre=(0.0, 0.0), value=50.0):
    """A rectangle of ``value`` dBZ (km on a 1 km grid), its long side ``angle_deg`` from north."""
    yy, xx = np.mgrid[0:n, 0:n] - n // 2
    a = math.radians(angle_deg)
    along = (xx - centre[0]) * math.sin(a) + (yy - centre[1]) * math.cos(a)
    across = (xx - centre[0]) * math.cos(a) - (yy - centre[1]) * math.sin(a)
    return np.where((np.abs(along) <= length / 2) & (np.abs(across) <= width / 2), value, np.nan)


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 135.0])
def test_convective_line_shape_by_hand(angle):
    """A 150 km x 10 km band at four orientations and a 20 km square beside it: length,
    width, ratio and orientation as drawn (within a pixel), the square no line."""
    f = _band(301, 150, 10, angle)
    f = np.fmax(f, _band(301, 20, 20, 0.0, centre=(120, 120), value=45.0))
    regions, labels = rc.convective_lines(_grid(f), 40.0, bridge_km=0.0, min_area_km2=50)
    line, square = regions
    assert line["length_km"] == pytest.approx(150, abs=2.5) and line["width_km"] == pytest.approx(10, abs=1.5)
    assert line["aspect_ratio"] == pytest.approx(15, rel=0.15)
    assert min(abs(line["orientation"] - angle), 180 - abs(line["orientation"] - angle)) <= 1.0
    assert line["area_km2"] == pytest.approx(np.isfinite(_band(301, 150, 10, angle)).sum())
    assert square["length_km"] < 30 and square["aspect_ratio"] < 1.5 and square["max_dbz"] == 45.0
    assert (labels == 1).sum() == line["area_km2"] and set(np.unique(labels)) == {0, 1, 2}


def test_convective_line_bridges_small_gaps_only():
    """Cells 10 km long with 3 km gaps make one 150 km line when gaps up to 4 km are
    bridged, and no line without bridging; gaps of 9 km are not bridged."""
    def chain(gap):
        f = np.full((301, 301), np.nan)
        y0 = -75
        while y0 + 10 <= 75:
            f = np.fmax(f, _band(301, 10, 8, 0.0, centre=(0, y0 + 5)))
            y0 += 10 + gap
        return _grid(f)

    bridged, _ = rc.convective_lines(chain(3), 40.0, bridge_km=4.0, min_area_km2=50)
    assert len(bridged) == 1 and bridged[0]["length_km"] >= 140
    assert bridged[0]["area_km2"] < 150 * 9  # the bridged gaps are not echo area
    apart, _ = rc.convective_lines(chain(3), 40.0, bridge_km=0.0, min_area_km2=50)
    assert max(r["length_km"] for r in apart) <= 12
    wide, _ = rc.convective_lines(chain(9), 40.0, bridge_km=4.0, min_area_km2=50)
    assert max(r["length_km"] for r in wide) <= 12
    with pytest.raises(ValueError, match="bridge_km"):
        rc.convective_lines(chain(3), 40.0, bridge_km=-1.0)


def test_detect_convective_line_on_real_volumes(vol):
    """KLBB 1 June 2016 15 UTC holds a NW-SE line of 40 dBZ cells over 100 km long through
    the place; may1999's longest 40 dBZ region is shorter than 100 km. The line's length
    is checked against its Feret diameter (the largest distance between two of its echo
    pixels, by scipy's convex hull here), and its nearest echo's distance from the place
    against a haversine of the pixels themselves."""
    from scipy.spatial import ConvexHull

    res = _ok("detect_convective_line", {"case": "klbb20160601", "radius": "75 km"})
    assert res.values["line_flag"].value is True and res.value("line_length") >= 100
    assert res.value("line_aspect_ratio") >= 3 and 90 <= res.value("line_orientation") <= 180
    comp = rc.composite_reflectivity(vol("klbb20160601"), 1000.0, 230000.0)
    regions, labels = rc.convective_lines(comp, 40.0, 4.0)
    line = next(r for r in regions if r["length_km"] == res.value("line_length"))
    iy, ix = np.nonzero(labels == line["region_id"])
    pts = np.c_[comp.x.values[ix], comp.y.values[iy]] / 1000.0
    hull = pts[ConvexHull(pts).vertices]
    feret = max(np.hypot(*(a - b)) for a in hull for b in hull)
    assert feret - 1.0 <= res.value("line_length") <= feret + 1.5
    from hvrmet.cases import get_case

    loc = get_case("klbb20160601").location
    d = min(_km(loc.lat, loc.lon, float(la), float(lo))
            for la, lo in zip(comp.lat.values[iy, ix], comp.lon.values[iy, ix]))
    assert res.value("line_distance") == pytest.approx(d, abs=1.5)
    none = _ok("detect_convective_line", {"case": "may1999"})
    assert none.values["line_flag"].value is False and none.value("line_count") == 0 and none.values["line_length"].value is None
    assert 50 <= none.value("longest_region_length") < 100 and "no convective line" in none.summary


def test_radial_velocity_statistics_inside_the_window(data_dir):
    """KLIX 28 August 2005 (Katrina), read by MetPy's own Level2File: the strongest
    inbound and outbound velocity of the lowest Doppler sweep within 30 km of the place
    (the radar site here: ground range by the 4/3-earth beam model), and over the whole
    sweep with the radar's view; the VAD does not depend on the window."""
    from metpy.io import Level2File

    f = Level2File(str(data_dir / "open-radar-data/data/KLIX20050828_180149.gz"))
    sweep = next(s for s in f.sweeps if "VEL" in s[0][1])
    hdr = sweep[0][1]["VEL"][0]
    vel = np.ma.filled(np.ma.masked_invalid(np.array([ray[1]["VEL"][1] for ray in sweep], dtype=float)), np.nan)
    el = np.array([ray[0].el_angle for ray in sweep], dtype=float)
    r = (hdr.first_gate + hdr.gate_width * np.arange(vel.shape[1])) * 1000.0
    s, _ = _beam(r[None, :], el[:, None])
    near = np.where(s <= 30e3, vel, np.nan)
    res = _ok("summarize_radial_velocity", {"case": "katrina2005", "radius": "30 km"})
    assert res.value("max_outbound") == pytest.approx(np.nanmax(near), abs=0.01)
    assert res.value("max_inbound") == pytest.approx(np.nanmin(near), abs=0.01)
    valid = np.isfinite(near)
    assert res.value("fraction_over_20ms") == pytest.approx((np.abs(near[valid]) > 20).mean(), abs=1e-3)
    whole = _ok("summarize_radial_velocity", {"case": "katrina2005", "radius": "230 km"})
    assert whole.value("max_outbound") == pytest.approx(np.nanmax(np.where(s <= 230e3, vel, np.nan)), abs=0.01)
    assert whole.value("max_outbound") > res.value("max_outbound")
    assert whole.value("vad_wind_speed") == res.value("vad_wind_speed")
    assert res.value("window_radius") == 30.0


# --- weak-echo regions -----------------------------------------------------------------

ELEVATIONS = (0.5, 1.5, 2.5, 3.5, 4.5, 6.0, 8.0, 10.0, 12.0, 14.0)


def _synthetic_volume(reflectivity, site=(35.0, -97.0, 300.0)):
    """A PPI volume (1 degree rays, 250 m gates to 100 km) whose reflectivity is
    ``reflectivity(x_km, y_km, height_above_radar_km)`` at each gate (NaN: no echo), the
    gates placed by the 4/3-earth model written out above (not hvrmet's)."""
    import xarray as xr

    az = np.arange(360) + 0.5
    r = np.arange(250.0, 100001.0, 250.0)
    nodes = {"/": xr.Dataset({"latitude": site[0], "longitude": site[1], "altitude": site[2]})}
    for i, el in enumerate(ELEVATIONS):
        s, h = _beam(r[None, :], np.full((az.size, 1), el))
        x, y = s * np.sin(np.deg2rad(az))[:, None] / 1000.0, s * np.cos(np.deg2rad(az))[:, None] / 1000.0
        z = np.asarray(reflectivity(x, y, h / 1000.0), np.float32)
        nodes[f"/sweep_{i}"] = xr.Dataset(
            {"reflectivity": (("azimuth", "range"), z), "sweep_fixed_angle": el,
             "sweep_mode": "azimuth_surveillance"},
            coords={"azimuth": az, "range": r, "elevation": ("azimuth", np.full(az.size, el))})
    return xr.DataTree.from_dict(nodes)


def _storm(wer_at=(40.0, -8.0), wer_radius=3.0, overhang=55.0, low=np.nan, core_at=(40.0, 0.0),
           aloft=(3.5, 9.0)):
    """A 55 dBZ core 6 km in radius, 0-10 km deep, and a column ``wer_radius`` km wide at
    ``wer_at`` with ``low`` dBZ below 3 km and ``overhang`` dBZ between the heights of
    ``aloft`` (km above the radar); no echo elsewhere in the column."""
    def z(x, y, h):
        core = np.hypot(x - core_at[0], y - core_at[1]) <= 6.0
        col = np.hypot(x - wer_at[0], y - wer_at[1]) <= wer_radius
        out = np.where(core & (h <= 10.0), 55.0, np.nan)
        out = np.where(col, np.nan, out)
        out = np.where(col & (h < 3.0), low, out)
        return np.where(col & (h >= aloft[0]) & (h <= aloft[1]), overhang, out)
    return z


def test_weak_echo_region_by_hand():
    """A weak column under a 55 dBZ overhang, 2 km from a 55 dBZ core: one region where it
    was drawn (3 km in radius: about 28 km2 on a 1 km grid), its echo aloft 55 dBZ and no
    echo below; none when the echo aloft is only 40 dBZ, when the low levels have 25 dBZ,
    when the column lies 6 or 9 km from the core (3 km is kept), or when it is 1 km in
    radius (under 5 km2)."""
    from pyproj import Geod

    res = rc.weak_echo_regions(_synthetic_volume(_storm()), max_range_m=100000.0)
    (wer,) = res["regions"]
    assert wer["area_km2"] == pytest.approx(math.pi * 9, rel=0.25)
    assert wer["mid_max_dbz"] == 55.0 and wer["low_max_dbz"] is None and wer["core_gap_km"] <= 1.5
    lon, lat, _ = Geod(ellps="WGS84").fwd(-97.0, 35.0, math.degrees(math.atan2(40.0, -8.0)), math.hypot(40, 8) * 1000)
    assert _km(lat, lon, wer["lat"], wer["lon"]) <= 1.0
    assert wer["range_km"] == pytest.approx(math.hypot(40, 8), abs=1.0)
    assert (res["labels"] == 1).sum() == wer["area_km2"] and wer["wer_id"] == 1 and res["candidates"] >= 1
    # the area is in km2 whatever the grid spacing
    fine = rc.weak_echo_regions(_synthetic_volume(_storm()), resolution_m=500.0, max_range_m=100000.0)
    assert fine["regions"][0]["area_km2"] == pytest.approx(math.pi * 9, rel=0.25)
    # heights are above the radar: a radar 2.5 km above sea level sees the same storm
    high = rc.weak_echo_regions(_synthetic_volume(_storm(), site=(35.0, -97.0, 2500.0)), max_range_m=100000.0)
    assert [r["area_km2"] for r in high["regions"]] == [wer["area_km2"]]
    # echo aloft only under 4 km or only over 7 km above the radar is no overhang of the mid layer
    for aloft in ((2.5, 3.6), (7.6, 9.0)):
        assert rc.weak_echo_regions(_synthetic_volume(_storm(aloft=aloft)), max_range_m=100000.0)["regions"] == []
    # each layer's strongest echo per column: the core below, the overhang above the column
    g = rc.grid_coords(_synthetic_volume(_storm()), 1000.0, 100000.0)
    at_xy = lambda x, y: np.unravel_index(int(np.argmin(np.hypot(g["x"][None, :] - x, g["y"][:, None] - y))),
                                          g["lat"].shape)
    assert res["low_max"][at_xy(40e3, 0.0)] == 55.0 and np.isnan(res["low_max"][at_xy(40e3, -8e3)])
    assert res["mid_max"][at_xy(40e3, -8e3)] == 55.0 and np.isnan(res["mid_max"][at_xy(-40e3, 0.0)])
    for key in ("range_km", "azimuth", "mid_max_dbz", "core_gap_km", "area_km2"):
        assert wer[key] == round(wer[key], 1), key
    # the core gap: 3 km between the echoes is kept (measured a cell narrower at most), 6 km is not
    (kept,) = rc.weak_echo_regions(_synthetic_volume(_storm(wer_at=(40.0, -12.0))))["regions"]
    assert 1.5 <= kept["core_gap_km"] <= 3.0
    for kwargs in ({"overhang": 40.0}, {"low": 25.0}, {"wer_at": (40.0, -15.0)}, {"wer_at": (40.0, -18.0)},
                   {"wer_radius": 1.0}):
        assert rc.weak_echo_regions(_synthetic_volume(_storm(**kwargs)), max_range_m=100000.0)["regions"] == [], kwargs
    # the thresholds are the function's arguments: 40 dBZ aloft is an overhang at 35 dBZ
    assert len(rc.weak_echo_regions(_synthetic_volume(_storm(overhang=40.0)), strong_dbz=35.0,
                                    max_range_m=100000.0)["regions"]) == 1
    # 15 dBZ below is weak at 20 dBZ, not at 10 dBZ
    vol = _synthetic_volume(_storm(low=15.0))
    assert rc.weak_echo_regions(vol, max_range_m=100000.0)["regions"][0]["low_max_dbz"] == 15.0
    assert rc.weak_echo_regions(vol, weak_dbz=10.0, max_range_m=100000.0)["regions"] == []
    with pytest.raises(ValueError, match="mid_layer_m"):
        rc.weak_echo_regions(vol, mid_layer_m=(1000.0, 7000.0))
    with pytest.raises(ValueError, match="min_area_km2"):
        rc.weak_echo_regions(vol, min_area_km2=-1.0)


def test_detect_weak_echo_region_on_real_volumes(data_dir):
    """may1999 (KTLX 23:56 UTC 3 May 1999): a weak-echo region beside the Bridge Creek-Moore
    storm's core, a few km from its velocity couplet. Read by MetPy's own Level2File, the
    gates within 1 km of the region's centre have no echo of 20 dBZ or more below 2 km above
    the radar and some of 45 dBZ or more 4-7 km above it (heights by the 4/3-earth model).
    KLBB's line and Katrina's rain shield have none."""
    from metpy.io import Level2File

    res = _ok("detect_weak_echo_region", {"case": "may1999"})
    assert res.values["wer_flag"].value is True and res.value("wer_area") >= 5
    assert res.value("wer_overhang_reflectivity") >= 45 and res.value("wer_count") >= 1
    near = _ok("detect_weak_echo_region", {"case": "may1999", "radius": "75 km"})  # the radar's default window
    assert near.value("wer_count") >= 1 and res.value("wer_outside_window") == 0
    assert near.value("wer_outside_window") == res.value("wer_count") - near.value("wer_count") >= 1
    rot = _ok("detect_rotation", {"case": "may1999"})
    assert _km(res.value("wer_lat"), res.value("wer_lon"), rot.value("couplet_lat"), rot.value("couplet_lon")) < 10
    f = Level2File(str(data_dir / "metpy/staticdata/KTLX19990503_235621.gz"))
    az0, r0 = res.value("wer_azimuth"), res.value("wer_range") * 1000.0
    low, mid = [], []
    for sweep in f.sweeps:
        if "REF" not in sweep[0][1]:
            continue
        hdr = sweep[0][1]["REF"][0]
        ref = np.ma.filled(np.ma.masked_invalid(np.array([ray[1]["REF"][1] for ray in sweep], float)), np.nan)
        az = np.array([ray[0].az_angle for ray in sweep], float)
        el = np.array([ray[0].el_angle for ray in sweep], float)
        r = (hdr.first_gate + hdr.gate_width * np.arange(ref.shape[1])) * 1000.0
        s, h = _beam(r[None, :], el[:, None])
        a = np.deg2rad(az)[:, None]
        d = np.hypot(s * np.sin(a) - r0 * math.sin(math.radians(az0)), s * np.cos(a) - r0 * math.cos(math.radians(az0)))
        near = d <= 1000.0
        low.append(ref[near & (h <= 2000.0)])
        mid.append(ref[near & (h >= 4000.0) & (h <= 7000.0)])
    low, mid = np.concatenate(low), np.concatenate(mid)
    assert low.size and not (low >= 20).any()
    assert mid.size and np.nanmax(mid) >= 45
    # one sweep cannot see two layers: not computable, not "no region"
    one = call_tool("detect_weak_echo_region", {"case": "mll20220628"})
    assert not one.ok and "cannot be looked for" in one.error and "PPIs at" in one.error
    for case in ("klbb20160601", "katrina2005"):
        none = _ok("detect_weak_echo_region", {"case": case})
        assert none.values["wer_flag"].value is False and none.value("wer_count") == 0, case
        assert none.values["wer_area"].value is None and "no weak-echo region" in none.summary


def test_memoised_products_follow_a_tree_built_in_memory():
    """Trees without a file's sha256 are told apart for as long as they live: a freed tree's
    products are dropped, so a later tree (which may get the same object id) gets its own."""
    import gc

    strong = _synthetic_volume(lambda x, y, h: np.where(np.hypot(x - 40, y) <= 6, 60.0, np.nan))
    assert float(np.nanmax(rc.composite_reflectivity(strong, 1000.0, 100000.0).values)) == 60.0
    key = rc.volume_key(strong)
    assert rc.volume_key(strong) == key
    del strong
    gc.collect()
    for _ in range(3):  # several, so that one of them is likely to reuse the freed id
        weak = _synthetic_volume(lambda x, y, h: np.where(np.hypot(x - 40, y) <= 6, 30.0, np.nan))
        assert float(np.nanmax(rc.composite_reflectivity(weak, 1000.0, 100000.0).values)) == 30.0
        assert not any(key in k for k in rc._MEMO)  # the freed tree's products are gone
        del weak
        gc.collect()


def test_weak_echo_region_thresholds_and_arguments():
    """The thresholds are inclusive as documented (weak under ``weak_dbz``, overhang and core
    at or above theirs); arguments given as pint quantities are converted, wrong ones are
    refused naming the argument."""
    from metpy.units import units

    at = lambda **kw: rc.weak_echo_regions(_synthetic_volume(_storm(**kw)), max_range_m=100000.0)["regions"]
    assert at(low=20.0) == [] and len(at(low=19.9)) == 1   # 20 dBZ below is not weak
    assert len(at(overhang=45.0)) == 1 and at(overhang=44.9) == []  # 45 dBZ aloft overhangs

    def core(z):  # the storm's core at z dBZ, the weak column and its 55 dBZ overhang as before
        base = _storm()
        in_core = lambda x, y, h: (np.hypot(x - 40.0, y) <= 6.0) & (np.hypot(x - 40.0, y + 8.0) > 3.0) & (h <= 10.0)
        return lambda x, y, h: np.where(in_core(x, y, h), z, base(x, y, h))

    assert len(rc.weak_echo_regions(_synthetic_volume(core(45.0)), max_range_m=100000.0)["regions"]) == 1
    assert rc.weak_echo_regions(_synthetic_volume(core(44.9)), max_range_m=100000.0)["regions"] == []
    vol = _synthetic_volume(_storm())
    plain = rc.weak_echo_regions(vol, max_range_m=100000.0)["regions"]
    given = rc.weak_echo_regions(vol, low_top_m=2 * units.km, mid_layer_m=(4 * units.km, 7000 * units.m),
                                 max_core_gap_m=4 * units.km, min_area_km2=5 * units("km^2"),
                                 resolution_m=1 * units.km, max_range_m=100 * units.km)["regions"]
    assert given == plain
    # the mid layer may start where the low layer ends
    assert rc.weak_echo_regions(vol, mid_layer_m=(2000.0, 7000.0), max_range_m=100000.0)["candidates"] >= 1
    for kwargs, match in (({"low_top_m": 0.0}, "low_top_m must be positive"),
                          ({"low_top_m": 2 * units.hPa}, "low_top_m must be in units of m"),
                          ({"mid_layer_m": (-1.0, 7000.0)}, "mid_layer_m must not be negative"),
                          ({"mid_layer_m": (4000.0, 0.0)}, "mid_layer_m must be positive"),
                          ({"mid_layer_m": (4000.0, 7000.0, 9000.0)}, "mid_layer_m must be"),
                          ({"mid_layer_m": (5000.0, 4000.0)}, "with its bottom below its top"),
                          ({"max_core_gap_m": -1.0}, "max_core_gap_m must not be negative"),
                          ({"max_core_gap_m": 4 * units.kg}, "max_core_gap_m must be in units of m"),
                          ({"min_area_km2": 5 * units.km}, "min_area_km2 must be in units of km"),
                          ({"resolution_m": 0.0}, "resolution_m must be positive"),
                          ({"weak_dbz": 40.0, "core_dbz": 30.0}, "core_dbz .* must be above weak_dbz"),
                          ({"weak_dbz": 45.0, "core_dbz": 45.0}, "core_dbz .* must be above weak_dbz"),
                          ({"mid_layer_m": (4000.0, 4000.0)}, "with its bottom below its top")):
        with pytest.raises(ValueError, match=match):
            rc.weak_echo_regions(vol, **kwargs)


# --- rotation: speckle ------------------------------------------------------------------

def _velocity_ppi(velocity, nyquist=22.5, el=0.5, site=(35.0, -97.0, 300.0)):
    """One 0.5 degree PPI (1 degree rays, 250 m gates to 60 km), 40 dBZ everywhere, with
    ``velocity(x_km, y_km)`` as its radial velocity and ``nyquist`` its Nyquist velocity;
    gates placed by the 4/3-earth model above."""
    import xarray as xr

    az = np.arange(360) + 0.5
    r = np.arange(250.0, 60001.0, 250.0)
    s, _ = _beam(r[None, :], np.full((az.size, 1), el))
    x, y = s * np.sin(np.deg2rad(az))[:, None] / 1000.0, s * np.cos(np.deg2rad(az))[:, None] / 1000.0
    v = np.asarray(velocity(x, y), np.float32)
    ds = xr.Dataset({"reflectivity": (("azimuth", "range"), np.full(v.shape, 40.0, np.float32)),
                     "radial_velocity": (("azimuth", "range"), v), "nyquist_velocity": nyquist,
                     "sweep_fixed_angle": el, "sweep_mode": "azimuth_surveillance"},
                    coords={"azimuth": az, "range": r, "elevation": ("azimuth", np.full(az.size, el))})
    return xr.DataTree.from_dict({"/": xr.Dataset({"latitude": site[0], "longitude": site[1], "altitude": site[2]}),
                                  "/sweep_0": ds})


def _rankine(x, y, centre, vmax=20.0, radius=1.0, background=-6.0):
    """Radial velocity (m/s) of a cyclonic Rankine vortex (core ``radius`` km, ``vmax``)
    at ``centre`` (km east, north of the radar) in a uniform ``background`` radial flow."""
    dx, dy = x - centre[0], y - centre[1]
    d = np.maximum(np.hypot(dx, dy), 1e-6)
    vt = np.where(d <= radius, vmax * d / radius, vmax * radius / d)
    r = np.maximum(np.hypot(x, y), 1e-6)
    return background + vt * (-dy * x + dx * y) / d / r


def test_a_sparse_speckle_cluster_is_no_couplet_and_a_vortex_is():
    """Gates of +20 and -17 m/s scattered among missing gates in a -6 m/s flow (a cluster
    too sparse for its 3 x 3 median: fewer than 5 valid gates of 9) give no couplet, while
    a Rankine vortex of 20 m/s (1 km core) 30 km north-east in the same sweep is found
    where it was drawn, with its rotational velocity."""
    cx, cy = 30.0 * np.sin(np.deg2rad(45.0)), 30.0 * np.cos(np.deg2rad(45.0))

    def velocity(x, y):
        return _rankine(x, y, (cx, cy))

    vol = _velocity_ppi(velocity)
    v = vol["sweep_0"].ds["radial_velocity"].values
    # speckle at 12 km, 83 deg: three gates of -17 on one ray, three of +20 on the next,
    # offset by three gates (within the 1 km radial window), missing gates all round
    j, g = 82, 47
    v[j - 1:j + 3, g - 2:g + 8] = np.nan
    v[j + 1, g:g + 3] = 20.0
    v[j, g + 3:g + 6] = -17.0
    res = rc.rotation_couplet(vol)
    near = [c for c in res["couplets"] if abs(c["range_km"] - 12.0) < 2.0 and abs(c["azimuth"] - 83.0) < 5.0]
    assert not near or max(c["vrot"] for c in near) < 5.0
    top = res["couplets"][0]
    x = top["range_km"] * np.sin(np.deg2rad(top["azimuth"]))
    y = top["range_km"] * np.cos(np.deg2rad(top["azimuth"]))
    assert np.hypot(x - cx, y - cy) < 1.5
    assert 12.0 <= top["vrot"] <= 20.0 + 1e-3  # sampled by 1 degree rays and the median


def _block_ppi(inbound=-15.0, outbound=25.0, nyquist=40.0, width=None):
    """A 0.5 degree PPI (1 degree rays centred on 0.5, 1.5, ... deg; 250 m gates to 60 km),
    40 dBZ everywhere, still air but for two blocks of 3 rays by 5 gates at 29.75-30.75 km:
    ``inbound`` on rays 100-102 (azimuths 100.5-102.5) and ``outbound`` on rays 104-106;
    ``width`` (m/s), when given, is the spectrum width of the outbound block (1 elsewhere)."""
    def still(x, y):
        return np.zeros(np.shape(x))

    vol = _velocity_ppi(still, nyquist=nyquist)
    ds = vol["sweep_0"].ds
    v = ds["radial_velocity"].values
    g0 = 118  # range 29.75 km
    v[100:103, g0:g0 + 5] = inbound
    v[104:107, g0:g0 + 5] = outbound
    if width is not None:
        w = np.ones(v.shape, np.float32)
        w[104:107, g0:g0 + 5] = width
        import xarray as xr

        vol["sweep_0"]["spectrum_width"] = xr.DataArray(w, dims=("azimuth", "range"))
    return vol, ds["range"].values[g0:g0 + 5]


def test_couplet_of_two_blocks_by_hand():
    """Two blocks, by hand. Each block's 3 x 3 median keeps its middle three gates on its
    edge rays (its first and last gates see only 4 block gates of 9). With pairs at most
    1.2 km across at 30 km only rays up to 2 apart pair, so the strongest pair is
    inbound ray 102 with outbound ray 104: Vrot (25 + 15) / 2 = 20 m/s, 2 degrees of arc
    apart (diameter r * 2 pi / 180), centred on ray 103 (azimuth 103.5). The largest
    adjacent-ray shear is 25 m/s over 1 degree at the block's first gate (29.75 km), where
    the outbound block's middle ray keeps its value and the edge ray beside it does not."""
    vol, r_block = _block_ppi()
    res = rc.rotation_couplet(vol, max_diameter_m=1200.0)
    top = res["couplets"][0]
    assert (top["vrot"], top["v_in"], top["v_out"]) == (20.0, -15.0, 25.0)
    assert top["azimuth"] == 103.5 and top["elevation"] == 0.5
    assert 29.25 <= top["range_km"] <= 31.25  # the kept gates, widened by the 1 km radial window
    assert top["diameter_m"] == pytest.approx(np.deg2rad(2.0) * top["range_km"] * 1000.0, rel=1e-9)
    assert top["shear"] == pytest.approx(40.0 / top["diameter_m"], rel=1e-9)
    assert res["gate_to_gate_shear"] == pytest.approx(25.0 / (np.deg2rad(1.0) * r_block[0]), rel=1e-6)
    assert res["masked_fraction"] == 0.0 and res["alias_pairs"] == 0 and res["nyquist"] == [40.0]
    # 0.8 km across: at 30 km only neighbouring rays pair (0.52 km); the strongest pairs are
    # still air beside the outbound block, 1 degree apart
    small = rc.rotation_couplet(vol, max_diameter_m=800.0)["couplets"][0]
    assert (small["vrot"], small["v_in"], small["v_out"]) == (12.5, 0.0, 25.0)
    assert small["diameter_m"] == pytest.approx(np.deg2rad(1.0) * small["range_km"] * 1000.0, rel=1e-9)
    # the search starts at min_range_m and ends at max_range_m: the blocks outside it leave no couplet
    assert not rc.rotation_couplet(vol, max_diameter_m=1200.0, min_range_m=31500.0)["couplets"]
    assert not rc.rotation_couplet(vol, max_diameter_m=1200.0, max_range_m=29000.0)["couplets"]


def test_couplet_masks_by_hand():
    """The masks, counted by hand over the 360 rays x 221 gates from 5 to 60 km: an
    outbound block at 98 % of the Nyquist velocity (25 of 25.5 m/s) is masked (15 gates),
    as is one whose spectrum width exceeds 12 m/s, and neither leaves its couplet; two
    blocks both beyond 80 % of the Nyquist velocity (-25 and +25 of 30 m/s) are skipped as
    possibly folded and counted as such."""
    n = 360 * 221
    for vol, _ in (_block_ppi(nyquist=25.5), _block_ppi(width=12.5)):
        res = rc.rotation_couplet(vol, max_diameter_m=1200.0)
        assert res["masked_fraction"] == pytest.approx(15 / n, rel=1e-12)
        assert res["couplets"][0]["vrot"] == pytest.approx(7.5)  # inbound -15 against still air
    ok, _ = _block_ppi(width=12.0)  # at the limit: kept
    assert rc.rotation_couplet(ok, max_diameter_m=1200.0)["couplets"][0]["vrot"] == 20.0
    folded, _ = _block_ppi(inbound=-25.0, nyquist=30.0)
    res = rc.rotation_couplet(folded, max_diameter_m=1200.0)
    assert res["alias_pairs"] > 0 and res["masked_fraction"] == 0.0
    assert res["couplets"][0]["vrot"] == 12.5  # still air against one block: not folded
    kept = rc.rotation_couplet(folded, max_diameter_m=1200.0, alias_fraction=0.9)
    assert kept["alias_pairs"] == 0 and kept["couplets"][0]["vrot"] == 25.0


def test_median_needs_five_valid_gates_of_nine():
    """The speckle median keeps a gate whose 3 x 3 neighbourhood holds 5 valid gates (their
    median, by hand) and drops one that holds 4; rays wrap round the sweep."""
    v = np.full((6, 5), np.nan)
    v[2, 1:4] = [1.0, 9.0, 3.0]
    v[3, 2] = 4.0
    med = rc._median3x3(v)
    assert np.isnan(med[2, 2])  # 4 valid of 9
    v[1, 2] = 7.0
    med = rc._median3x3(v)
    assert med[2, 2] == 4.0  # median of 1, 9, 3, 4, 7
    assert np.isnan(med[0, 0]) and np.isnan(med[5, 4])
    w = np.full((6, 5), np.nan)
    w[0, 1:4] = [2.0, 2.0, 2.0]
    w[5, 1:3] = [8.0, 8.0]
    assert rc._median3x3(w)[0, 2] == 2.0 and np.isnan(rc._median3x3(w, wrap=False)[0, 2])
    e = np.full((6, 5), np.nan)  # the first gate: beyond it is no gate (never a zero)
    e[1:4, 0] = 5.0
    e[2, 1] = 5.0
    assert np.isnan(rc._median3x3(e)[2, 0])  # 4 valid of 9


# --- rotation: vertical continuity ----------------------------------------------------------

def _velocity_volume(velocities, nyquist=22.5, site=(35.0, -97.0, 300.0)):
    """PPIs at the elevations of ``velocities`` (elevation -> ``velocity(x_km, y_km)``), each
    as :func:`_velocity_ppi` builds it, in one tree."""
    import xarray as xr

    nodes = {"/": xr.Dataset({"latitude": site[0], "longitude": site[1], "altitude": site[2]})}
    for i, (el, vel) in enumerate(sorted(velocities.items())):
        nodes[f"/sweep_{i}"] = _velocity_ppi(vel, nyquist=nyquist, el=el, site=site)["sweep_0"].ds
    return xr.DataTree.from_dict(nodes)


def test_a_deep_vortex_shows_on_every_tilt_and_a_shear_line_on_one():
    """A Rankine vortex (20 m/s, 1 km core) 30 km north-east drawn on the 0.5 and 1.5 deg
    tilts shows on both in the couplet's tilt profile (12-20 m/s, sampled by 1 degree rays
    and the median); drawn on the 0.5 deg tilt alone, under a uniform -6 m/s flow on the
    1.5 deg tilt, the profile's 1.5 deg entry holds no rotation (a uniform flow has no
    cyclonic pair: NaN)."""
    cx, cy = 30.0 * np.sin(np.deg2rad(45.0)), 30.0 * np.cos(np.deg2rad(45.0))

    def vortex(x, y):
        return _rankine(x, y, (cx, cy))

    def uniform(x, y):
        return np.full(np.shape(x), -6.0)

    deep = rc.rotation_couplet(_velocity_volume({0.5: vortex, 1.5: vortex}))["couplets"][0]
    assert [t["elevation"] for t in deep["tilts"]] == [0.5, 1.5]
    assert all(12.0 <= t["vrot"] <= 20.0 + 1e-3 for t in deep["tilts"])
    shallow = rc.rotation_couplet(_velocity_volume({0.5: vortex, 1.5: uniform}))["couplets"][0]
    assert shallow["elevation"] == 0.5 and 12.0 <= shallow["vrot"] <= 20.0 + 1e-3
    assert [t["elevation"] for t in shallow["tilts"]] == [0.5, 1.5]
    assert shallow["tilts"][0]["vrot"] == pytest.approx(shallow["vrot"])
    assert np.isnan(shallow["tilts"][1]["vrot"])
    # the vortex on the upper tilt, displaced 4 km (within the 5 km diameter), still counts;
    # displaced 8 km it does not
    for shift, seen in ((4.0, True), (8.0, False)):
        def moved(x, y, shift=shift):
            return _rankine(x, y, (cx + shift, cy))
        c = rc.rotation_couplet(_velocity_volume({0.5: vortex, 1.5: moved}))["couplets"][0]
        up = c["tilts"][1]["vrot"]
        assert (np.isfinite(up) and up >= 10.0) is seen, (shift, up)


def test_a_mesocyclone_needs_rotation_on_two_tilts():
    """The tool's test, on couplets written by hand: 16 m/s with shear 0.01 1/s is
    mesocyclone strength; with 9 m/s (above half of 15) on a second tilt it is a
    mesocyclone, with 7 m/s there it is not (too shallow), and with one tilt to search
    the test cannot be made and strength decides; ``min_tilts`` 1 turns it off."""
    from hvrmet.tools.radar import RotationInput, _continuity, _is_meso

    args = RotationInput(case="x")
    base = {"vrot": 16.0, "shear": 0.01}
    two = {**base, "tilts": [{"elevation": 0.5, "vrot": 16.0}, {"elevation": 1.5, "vrot": 9.0}]}
    low = {**base, "tilts": [{"elevation": 0.5, "vrot": 16.0}, {"elevation": 1.5, "vrot": 7.0}]}
    edge = {**base, "tilts": [{"elevation": 0.5, "vrot": 16.0}, {"elevation": 1.5, "vrot": 7.5}]}
    none = {**base, "tilts": [{"elevation": 0.5, "vrot": 16.0}, {"elevation": 1.5, "vrot": float("nan")}]}
    one = {**base, "tilts": [{"elevation": 0.5, "vrot": 16.0}]}
    assert (_continuity(two, args), _is_meso(two, args)) == (2, True)
    assert (_continuity(low, args), _is_meso(low, args)) == (1, False)
    assert (_continuity(edge, args), _is_meso(edge, args)) == (2, True)  # 7.5 is half of 15: counts
    assert (_continuity(none, args), _is_meso(none, args)) == (1, False)
    assert (_continuity(one, args), _is_meso(one, args)) == (None, True)
    assert _is_meso(low, RotationInput(case="x", min_tilts=1))
    assert not _is_meso({**two, "vrot": 14.0}, args) and not _is_meso({**two, "shear": 0.004}, args)
    assert _is_meso({**two, "vrot": 15.0}, args) and _is_meso({**two, "shear": 0.005}, args)  # at the thresholds
    assert not _is_meso(two, RotationInput(case="x", continuity_fraction=0.7))  # 9 < 10.5


def test_klbb_one_tilt_shear_line_is_no_mesocyclone_and_may1999_is():
    """On real volumes: the strongest KLBB couplet in the window (16 m/s on the 0.5 deg tilt)
    shows no rotation on the 1.5 deg tilt, so it is no mesocyclone; the Bridge Creek-Moore
    couplet of 3 May 1999 shows on both low tilts."""
    klbb = call_tool("detect_rotation", {"case": "klbb20160601"})
    assert klbb.ok, klbb.error
    assert klbb.values["max_rotational_velocity"].value >= 15.0
    assert klbb.values["couplet_tilts"].value == 1 and klbb.values["mesocyclone_flag"].value is False
    may = call_tool("detect_rotation", {"case": "may1999"})
    assert may.values["couplet_tilts"].value == 2 and may.values["mesocyclone_flag"].value is True
