"""Gridded-analysis tools on the real GFS / ERA-Interim data, checked against independent
numpy and MetPy computations (MetPy's own xarray path, which the tools do not use)."""

from __future__ import annotations

import metpy.calc as mpcalc
import numpy as np
import pytest
from metpy.units import units
from pyproj import CRS

from hvrmet.tools import call_tool

CASE = "cyclone2010"


@pytest.fixture(scope="module")
def gfs(load):
    return load(CASE, "analysis")


@pytest.fixture(scope="module")
def parsed(gfs):
    return gfs.metpy.parse_cf()


def _level(parsed, name, hpa):
    return parsed[name].metpy.sel(vertical=hpa * units.hPa).isel(time=0).metpy.quantify()


def _ok(name, args):
    # these tests check the computation over the whole grid: a radius that takes in the globe
    # (the default window around the case's place is tested in test_window.py)
    r = call_tool(name, {"radius": "20038 km", **args})
    assert r.ok, r.error
    return r


def _extreme(field, how, lat, lon, border=True):
    """Independent arg-extreme (numpy), leaving out the border ring like the tools do."""
    a = np.asarray(field, float).copy()
    if border:
        a[[0, -1], :] = np.nan
        a[:, [0, -1]] = np.nan
    i = np.unravel_index(np.nanargmax(a) if how == "max" else np.nanargmin(a), a.shape)
    lon_w = (lon[i[1]] + 180) % 360 - 180
    return a[i], lat[i[0]], lon_w


def _check(r, prefix, expected, rel=1e-6):
    val, lat, lon = expected
    assert r.value(prefix) == pytest.approx(val, rel=rel)
    assert r.value(f"{prefix}_lat") == pytest.approx(lat)
    assert r.value(f"{prefix}_lon") == pytest.approx(lon)


def test_pressure_minimum_matches_numpy_argmin(gfs):
    r = _ok("find_pressure_minimum", {"case": CASE})
    p = gfs["Pressure_reduced_to_MSL_msl"].isel(time=0).values / 100.0
    i = np.unravel_index(np.nanargmin(p), p.shape)
    assert r.value("min_pressure") == pytest.approx(round(float(p[i]), 1))
    assert r.value("min_pressure") == pytest.approx(967.6)
    assert (r.value("min_pressure_lat"), r.value("min_pressure_lon")) == (47.0, -94.0)
    assert gfs.lat.values[i[0]] == 47.0 and gfs.lon.values[i[1]] - 360 == -94.0
    assert r.values["on_edge"].value is False
    assert r.values["min_pressure"].units == "hPa"
    assert r.values["min_pressure_lon"].units == "degree_east"


def test_pressure_minimum_in_box(gfs):
    r = _ok("find_pressure_minimum", {"case": CASE, "lat_min": 25, "lat_max": 40, "lon_min": -110, "lon_max": -80})
    p = gfs["Pressure_reduced_to_MSL_msl"].isel(time=0).values / 100.0
    lat2, lon2 = np.meshgrid(gfs.lat.values, gfs.lon.values - 360, indexing="ij")
    inside = (lat2 >= 25) & (lat2 <= 40) & (lon2 >= -110) & (lon2 <= -80)
    pm = np.where(inside, p, np.inf)
    i = np.unravel_index(np.argmin(pm), p.shape)
    assert r.value("min_pressure") == pytest.approx(round(float(p[i]), 1))
    assert (r.value("min_pressure_lat"), r.value("min_pressure_lon")) == (lat2[i], lon2[i])
    assert r.values["on_edge"].value is True  # the box cuts through the cyclone's pressure field


def test_vorticity_equals_metpy_xarray(parsed, gfs):
    r = _ok("compute_vorticity", {"case": CASE, "level": 500})
    u = _level(parsed, "u-component_of_wind_isobaric", 500)
    v = _level(parsed, "v-component_of_wind_isobaric", 500)
    vort = mpcalc.vorticity(u, v).metpy.unit_array.m_as("1/s")
    absv = mpcalc.absolute_vorticity(u, v).metpy.unit_array.m_as("1/s")
    lat, lon = gfs.lat.values, gfs.lon.values
    _check(r, "max_relative_vorticity", _extreme(vort, "max", lat, lon), rel=1e-3)
    _check(r, "min_relative_vorticity", _extreme(vort, "min", lat, lon), rel=1e-3)
    _check(r, "max_absolute_vorticity", _extreme(absv, "max", lat, lon), rel=1e-3)
    # the 500 hPa vorticity maximum lies near the surface low (47 N, 94 W)
    assert abs(r.value("max_relative_vorticity_lat") - 47) <= 8 and r.value("max_relative_vorticity") > 2e-4


def test_temperature_advection_equals_metpy_xarray(parsed, gfs):
    r = _ok("compute_temperature_advection", {"case": CASE, "level": 850})
    t = _level(parsed, "Temperature_isobaric", 850)
    u = _level(parsed, "u-component_of_wind_isobaric", 850)
    v = _level(parsed, "v-component_of_wind_isobaric", 850)
    adv = mpcalc.advection(t, u, v).metpy.unit_array.m_as("K/h")
    lat, lon = gfs.lat.values, gfs.lon.values
    _check(r, "max_warm_advection", _extreme(adv, "max", lat, lon), rel=1e-3)
    _check(r, "max_cold_advection", _extreme(adv, "min", lat, lon), rel=1e-3)
    assert r.values["max_warm_advection"].units == "K/h"
    assert r.value("max_warm_advection") > 0 > r.value("max_cold_advection")


@pytest.mark.parametrize("level", [300, 850])
def test_divergence_equals_metpy_xarray(parsed, gfs, level):
    r = _ok("compute_divergence", {"case": CASE, "level": level})
    u = _level(parsed, "u-component_of_wind_isobaric", level)
    v = _level(parsed, "v-component_of_wind_isobaric", level)
    div = mpcalc.divergence(u, v).metpy.unit_array.m_as("1/s")
    _check(r, "max_divergence", _extreme(div, "max", gfs.lat.values, gfs.lon.values), rel=1e-3)
    _check(r, "max_convergence", _extreme(div, "min", gfs.lat.values, gfs.lon.values), rel=1e-3)


def test_frontogenesis_equals_metpy_xarray(parsed, gfs):
    r = _ok("compute_frontogenesis", {"case": CASE, "level": 850})
    t = _level(parsed, "Temperature_isobaric", 850)
    u = _level(parsed, "u-component_of_wind_isobaric", 850)
    v = _level(parsed, "v-component_of_wind_isobaric", 850)
    fg = mpcalc.frontogenesis(mpcalc.potential_temperature(850 * units.hPa, t), u, v)
    _check(r, "max_frontogenesis", _extreme(fg.metpy.unit_array.m_as("K/m/s"), "max", gfs.lat.values,
                                            gfs.lon.values), rel=1e-3)


def test_qvector_convergence_equals_metpy_xarray(parsed, gfs):
    r = _ok("compute_qvector_convergence", {"case": CASE, "level": 500})
    tcol = parsed["Temperature_isobaric"].isel(time=0)
    p = tcol["isobaric3"].values * units.Pa
    k = int(np.flatnonzero(tcol["isobaric3"].values == 50000.0)[0])
    sigma = mpcalc.static_stability(p[:, None, None], tcol.metpy.unit_array, vertical_dim=0)[k]
    t, u, v = (_level(parsed, n, 500) for n in ("Temperature_isobaric", "u-component_of_wind_isobaric",
                                                "v-component_of_wind_isobaric"))
    qx, qy = mpcalc.q_vector(u, v, t, 500 * units.hPa, static_stability=sigma)
    conv = (-2 * mpcalc.divergence(qx, qy)).metpy.unit_array.m_as("Pa/m^2/s")
    _check(r, "max_qvector_convergence", _extreme(conv, "max", gfs.lat.values, gfs.lon.values), rel=1e-3)
    _check(r, "min_qvector_convergence", _extreme(conv, "min", gfs.lat.values, gfs.lon.values), rel=1e-3)


def test_moisture_advection_and_flux_convergence_equal_metpy(parsed, gfs):
    t, u, v = (_level(parsed, n, 850) for n in ("Temperature_isobaric", "u-component_of_wind_isobaric",
                                                "v-component_of_wind_isobaric"))
    rh = parsed["Relative_humidity_isobaric"].metpy.sel(vertical=850 * units.hPa).isel(time=0).metpy.quantify()
    # (drop the scalar level coordinate: MetPy's advection would take it for a vertical axis)
    w = mpcalc.mixing_ratio_from_relative_humidity(850 * units.hPa, t, rh).drop_vars("isobaric3")
    lat, lon = gfs.lat.values, gfs.lon.values
    adv = mpcalc.advection(w, u, v).metpy.unit_array.m_as("g/kg/h")
    r = _ok("compute_moisture_advection", {"case": CASE, "level": 850})
    _check(r, "max_moistening", _extreme(adv, "max", lat, lon), rel=1e-3)
    _check(r, "max_drying", _extreme(adv, "min", lat, lon), rel=1e-3)
    assert r.values["moisture_variable"].value.startswith("mixing ratio")

    mfc = (-mpcalc.divergence(w * u, w * v)).metpy.unit_array.m_as("g/kg/h")
    r = _ok("compute_moisture_flux_convergence", {"case": CASE, "level": 850, "top": 300})
    _check(r, "level_max_convergence", _extreme(mfc, "max", lat, lon), rel=1e-3)
    assert (r.value("column_bottom"), r.value("column_top")) == (1000.0, 300.0)
    # the column value at its maximum, integrated independently (numpy trapezoid) at that point
    j = int(np.flatnonzero(lat == r.value("column_max_convergence_lat"))[0])
    i = int(np.flatnonzero((lon + 180) % 360 - 180 == r.value("column_max_convergence_lon"))[0])
    mslp = gfs["Pressure_reduced_to_MSL_msl"].values[0, j, i] / 100.0
    levs = [x for x in gfs.isobaric5.values / 100 if 300 <= x <= 1000 and x in gfs.isobaric3.values / 100]
    # one MetPy call on the whole column (numpy arrays, 1-D lat/lon and the grid's CRS)
    k3 = [int(np.flatnonzero(gfs.isobaric3.values / 100 == x)[0]) for x in levs]
    k5 = [int(np.flatnonzero(gfs.isobaric5.values / 100 == x)[0]) for x in levs]
    tt = gfs["Temperature_isobaric"].values[0, k3] * units.K
    uu = gfs["u-component_of_wind_isobaric"].values[0, k3] * units("m/s")
    vv = gfs["v-component_of_wind_isobaric"].values[0, k3] * units("m/s")
    rr = gfs["Relative_humidity_isobaric"].values[0, k5] * units.percent
    ww = mpcalc.mixing_ratio_from_relative_humidity(np.array(levs)[:, None, None] * units.hPa, tt, rr)
    crs = CRS.from_cf({"grid_mapping_name": "latitude_longitude", "earth_radius": 6371229.0})
    flux = mpcalc.divergence(ww * uu, ww * vv, latitude=lat * units.deg, longitude=lon * units.deg,
                             crs=crs).m_as("1/s")[:, j, i]
    levs, flux = np.array(levs), np.array(flux)
    keep = levs <= mslp
    col = -np.trapezoid(flux[keep], levs[keep] * 100.0) / 9.80665 * 86400.0  # levels ascending: top to bottom
    assert r.value("column_max_convergence") == pytest.approx(col, rel=1e-3)
    assert r.values["column_max_convergence"].units == "mm/day"


def test_precipitable_water_equals_metpy_profile(gfs):
    """PW at single points (a one-point box) equals metpy.calc.precipitable_water there."""
    for lat, lon in [(20.0, -91.0), (45.0, -90.0), (35.0, -75.0)]:
        r = _ok("compute_gridded_precipitable_water",
                {"case": CASE, "lat_min": lat, "lat_max": lat, "lon_min": lon, "lon_max": lon})
        j = int(np.flatnonzero(gfs.lat.values == lat)[0])
        i = int(np.flatnonzero(gfs.lon.values == lon + 360)[0])
        p5 = gfs.isobaric5.values / 100.0
        k = [int(np.flatnonzero(gfs.isobaric3.values / 100 == x)[0]) for x in p5]
        t = gfs["Temperature_isobaric"].values[0, k, j, i] * units.K
        rh = gfs["Relative_humidity_isobaric"].values[0, :, j, i] * units.percent
        mslp = gfs["Pressure_reduced_to_MSL_msl"].values[0, j, i] / 100.0
        keep = (p5 >= 100) & (p5 <= min(1000.0, mslp))
        td = mpcalc.dewpoint_from_relative_humidity(t[keep], rh[keep])
        pw = mpcalc.precipitable_water(p5[keep] * units.hPa, td).m_as("mm")
        assert r.value("max_precipitable_water") == pytest.approx(pw, rel=2e-3), (lat, lon)
        assert (r.value("max_precipitable_water_lat"), r.value("max_precipitable_water_lon")) == (lat, lon)
    full = _ok("compute_gridded_precipitable_water", {"case": CASE})
    assert 40 < full.value("max_precipitable_water") < 75  # Gulf of Mexico / Bay of Campeche air
    assert full.value("mean_precipitable_water") < full.value("max_precipitable_water")


def test_jet_maximum_matches_numpy(gfs):
    r = _ok("find_jet_maxima", {"case": CASE, "level": 250})
    k = int(np.flatnonzero(gfs.isobaric3.values == 25000.0)[0])
    spd = np.hypot(gfs["u-component_of_wind_isobaric"].values[0, k], gfs["v-component_of_wind_isobaric"].values[0, k])
    val, lat, lon = _extreme(spd, "max", gfs.lat.values, gfs.lon.values, border=False)
    assert r.value("max_wind_speed") == pytest.approx(round(float(val), 1))
    assert r.value("max_wind_speed_knots") == pytest.approx(val * 3600 / 1852, abs=0.06)
    assert (r.value("max_wind_speed_lat"), r.value("max_wind_speed_lon")) == (lat, lon)


def test_field_anomaly_at_a_point_matches_numpy(load):
    """300 hPa height anomaly at 45 N 75 W, where the 1-degree and 0.75-degree grids meet."""
    gfs, clim = load("gfs20210130", "analysis"), load("gfs20210130", "climatology")
    r = _ok("compute_field_anomaly", {"case": "gfs20210130", "level": 300, "time": "2021-01-30T18:00",
                                      "lat_min": 45, "lat_max": 45, "lon_min": -75, "lon_max": -75})
    z = gfs["Geopotential_height_isobaric"].sel(time3="2021-01-30T18:00", lat=45.0, lon=285.0).item()
    zc = clim["z"].sel(month=1, lat=45.0, lon=-75.0).values / 9.80665  # levels 200, 500, 850
    std = {p: mpcalc.pressure_to_height_std(p * units.hPa).m_as("m") for p in (200, 300, 500)}
    wgt = np.log(300 / 200) / np.log(500 / 200)
    clim300 = (zc[0] - std[200]) + wgt * ((zc[1] - std[500]) - (zc[0] - std[200])) + std[300]
    assert r.value("max_anomaly") == pytest.approx(z - clim300, abs=0.06)
    assert r.value("min_anomaly") == r.value("max_anomaly")
    assert r.value("climatology_month") == 1 and r.values["climatology_interpolated"].value is True
    assert r.values["valid_time"].value == "2021-01-30T18:00Z"

    full = _ok("compute_field_anomaly", {"case": "gfs20210130", "level": 300})
    assert full.value("max_anomaly") > 200 and full.value("min_anomaly") < -200
    assert abs(full.value("mean_anomaly")) < 60  # the interpolated climatology is not biased globally
    assert any("interpolated" in w for w in full.warnings)


def test_field_anomaly_month_absent_lists_months(data_dir):
    october = str(data_dir / "metpy/staticdata/GFS_test.nc")
    r = call_tool("compute_field_anomaly", {"case": "gfs20210130", "level": 500, "files": {"analysis": october}})
    assert not r.ok and r.error_type == "VariableMissing"
    assert "no month 10" in r.error and "January, July" in r.error


def test_missing_variable_and_level_are_clear():
    r = call_tool("compute_vorticity", {"case": "gfs20210130", "level": 300})
    assert not r.ok and r.error_type == "VariableMissing" and "no u on pressure levels" in r.error
    r = call_tool("compute_field_anomaly", {"case": "gfs20210130", "level": 500})
    assert not r.ok and "no 500 hPa level" in r.error and "300" in r.error
    r = call_tool("find_jet_maxima", {"case": CASE, "level": 275})
    assert not r.ok and "250" in r.error
    r = call_tool("find_pressure_minimum", {"case": "era5uk201903"})
    assert not r.ok and r.error_type == "VariableMissing" and "t2m" in r.error
