"""The gridded field resolver (hvrmet/data/fields.py) on the real files, and on real files
rewritten with other conventions: short names, NCEP abbreviations, ERA names, one 2-D
variable per level, pressure coordinates named isobaric/lev/plev in Pa or hPa (with and
without units), winds at only some levels, no standard_name, no grid mapping, flipped
latitudes, 0..360 or -180..180 longitudes. The resolver must find the same fields, and the
gridded tools must give the numbers computed here independently, with netCDF4, numpy and
MetPy, from the original file's arrays (never through hvrmet's reader on both sides)."""

from __future__ import annotations

import metpy.calc as mpcalc
import netCDF4
import numpy as np
import pytest
import xarray as xr
from metpy.units import units
from pyproj import CRS

from hvrmet.data.fields import field_specs, fields_of, identify_fields
from hvrmet.data.readers import get_reader
from hvrmet.errors import FormatError, VariableMissing
from hvrmet.tools import call_tool
from hvrmet.tools.gridded import gridded_tools_for

pytestmark = pytest.mark.usefixtures("data_dir")

GFS = "metpy/staticdata/GFS_test.nc"
ERA5 = "xarray-data/era5-2mt-2019-03-uk.grib"
MRMS = "pysteps-data/mrms/2019/06/10/PrecipRate_00.00_20190610-000000.grib2"
CORE = {"air_temperature", "geopotential_height", "eastward_wind", "northward_wind", "relative_humidity", "mslp"}
SPHERE = {"grid_mapping_name": "latitude_longitude", "earth_radius": 6371229.0}  # GFS_test's grid mapping
LATLON = {"grid_mapping_name": "latitude_longitude"}  # what MetPy assumes without one (WGS 84)
WIND_LEVELS = [850.0, 500.0, 300.0, 250.0]  # the 'winds at only some levels' variants


# ----------------------------------------------------------------------------- the original
@pytest.fixture(scope="module")
def raw(data_dir):
    """The GFS file's arrays, read with netCDF4 alone (first time)."""
    with netCDF4.Dataset(data_dir / GFS) as nc:
        nc.set_auto_mask(False)
        g = {k: np.asarray(nc.variables[k][:], float) for k in nc.variables if nc.variables[k].ndim}
    p3, p5 = g["isobaric3"] / 100.0, g["isobaric5"] / 100.0
    out = {"lat": g["lat"], "lon": g["lon"], "p3": p3, "p5": p5, "mslp": g["Pressure_reduced_to_MSL_msl"][0] / 100.0}
    for k, name in (("t", "Temperature_isobaric"), ("z", "Geopotential_height_isobaric"),
                    ("u", "u-component_of_wind_isobaric"), ("v", "v-component_of_wind_isobaric")):
        out[k] = g[name][0]  # (level, lat, lon) on p3
    out["rh"] = g["Relative_humidity_isobaric"][0]  # on p5
    return out


def _k(levels, p):
    return int(np.flatnonzero(np.asarray(levels) == p)[0])


def _extreme(field, how, lat, lon, border=True):
    """Arg-extreme with numpy, leaving out the border ring as the tools do."""
    a = np.asarray(field, float).copy()
    if border:
        a[[0, -1], :] = np.nan
        a[:, [0, -1]] = np.nan
    i = np.unravel_index(np.nanargmax(a) if how == "max" else np.nanargmin(a), a.shape)
    return float(a[i]), float(lat[i[0]]), float((lon[i[1]] + 180) % 360 - 180)


def _grid(raw, crs):
    return dict(latitude=raw["lat"] * units.deg, longitude=raw["lon"] * units.deg, crs=CRS.from_cf(crs))


def _reference(raw, crs: dict) -> dict:
    """Every number the tools are checked against, from the raw arrays."""
    lat, lon = raw["lat"], raw["lon"]
    kw = _grid(raw, crs)
    ms = units("m/s")
    k5, k8, k25 = (_k(raw["p3"], p) for p in (500.0, 850.0, 250.0))
    vort = mpcalc.vorticity(raw["u"][k5] * ms, raw["v"][k5] * ms, **kw).m_as("1/s")
    adv = mpcalc.advection(raw["t"][k8] * units.K, raw["u"][k8] * ms, raw["v"][k8] * ms, **kw).m_as("K/h")
    spd = np.hypot(raw["u"][k25], raw["v"][k25])
    i = np.unravel_index(np.nanargmin(raw["mslp"]), raw["mslp"].shape)
    # precipitable water at 45 N 90 W: metpy.calc.precipitable_water of the column
    j, ii = _k(lat, 45.0), _k(lon, 270.0)
    p5 = raw["p5"]
    kt = [_k(raw["p3"], x) for x in p5]
    keep = (p5 >= 100) & (p5 <= min(1000.0, raw["mslp"][j, ii]))
    td = mpcalc.dewpoint_from_relative_humidity(raw["t"][kt, j, ii][keep] * units.K,
                                                raw["rh"][:, j, ii][keep] * units.percent)
    pw = mpcalc.precipitable_water(p5[keep] * units.hPa, td).m_as("mm")
    return {"vort_max": _extreme(vort, "max", lat, lon), "vort_min": _extreme(vort, "min", lat, lon),
            "adv_max": _extreme(adv, "max", lat, lon), "adv_min": _extreme(adv, "min", lat, lon),
            "jet": _extreme(spd, "max", lat, lon, border=False),
            "pmin": (round(float(raw["mslp"][i]), 1), float(lat[i[0]]), float(lon[i[1]] - 360.0)), "pw45": pw}


@pytest.fixture(scope="module")
def refs(raw):
    return {"sphere": _reference(raw, SPHERE), "latlon": _reference(raw, LATLON)}


# ------------------------------------------------------------------------------- rewriting
def _strip(ds: xr.Dataset, keep_grid_mapping: bool) -> xr.Dataset:
    """A copy of ``ds`` keeping only ``units`` (and ``grid_mapping``) attributes."""
    out = xr.Dataset(attrs={})
    for name, da in ds.data_vars.items():
        a = {"units": da.attrs["units"]} if "units" in da.attrs else {}
        if keep_grid_mapping and "grid_mapping" in da.attrs:
            a["grid_mapping"] = da.attrs["grid_mapping"]
        out[name] = xr.DataArray(da.values, dims=da.dims, attrs=a)
    coords = {}
    for c in ds.coords:
        a = {"units": ds[c].attrs["units"]} if "units" in ds[c].attrs else {}
        coords[c] = (ds[c].dims, ds[c].values, a)
    out = out.assign_coords(coords)
    if keep_grid_mapping:
        out["LatLon_Projection"] = xr.DataArray(0, attrs=dict(SPHERE))
    return out


def _write(ds: xr.Dataset, path) -> str:
    ds.to_netcdf(path)
    return str(path)


def _split(da: xr.DataArray, dim: str, name, levels=None, scale: float = 1.0) -> dict[str, xr.DataArray]:
    """One 2-D (time, lat, lon) variable per level of ``da`` along ``dim`` (Pa), named ``name(hPa)``."""
    out = {}
    for p in da[dim].values:
        hpa = float(p) / 100.0
        if levels is not None and hpa not in levels:
            continue
        out[name(hpa)] = (da.sel({dim: p}).drop_vars(dim) * scale).assign_attrs(da.attrs)
    return out


def _variants(data_dir, tmp) -> dict[str, tuple[str, str]]:
    """Path and the CRS the tools should see, for each rewritten copy of GFS_test.nc."""
    with xr.open_dataset(data_dir / GFS) as src:
        gfs = src.load()
    gfs = gfs.drop_vars(["u-component_of_wind_height_above_ground", "v-component_of_wind_height_above_ground",
                         "Temperature_height_above_ground", "height_above_ground", "height_above_ground1"])
    names = {"Temperature_isobaric": "T", "Geopotential_height_isobaric": "Z", "u-component_of_wind_isobaric": "U",
             "v-component_of_wind_isobaric": "V", "Relative_humidity_isobaric": "RH",
             "Pressure_reduced_to_MSL_msl": "P"}
    g = {k: gfs[n] for n, k in names.items()}
    out = {}

    # 1. short names (temp, hght, uwnd, vwnd, rh, slp), no standard_name anywhere, pressure on 'isobaric' (Pa)
    ds = xr.Dataset({"temp": g["T"], "hght": g["Z"], "uwnd": g["U"], "vwnd": g["V"], "rh": g["RH"], "slp": g["P"],
                     "LatLon_Projection": gfs["LatLon_Projection"]})
    ds = _strip(ds.rename({"isobaric3": "isobaric", "isobaric5": "isobaric1"}), keep_grid_mapping=True)
    out["short_names_isobaric_Pa"] = (_write(ds, tmp / "short.nc"), "sphere")

    # 2. NCEP abbreviations as names (TMP, HGT, UGRD, VGRD, RH, PRMSL), 'lev' in hPa, latitudes
    #    ascending, longitudes -180..180, no grid mapping
    ds = xr.Dataset({"TMP": g["T"], "HGT": g["Z"], "UGRD": g["U"], "VGRD": g["V"], "RH": g["RH"], "PRMSL": g["P"]})
    ds = ds.assign_coords(isobaric3=ds.isobaric3 / 100.0, isobaric5=ds.isobaric5 / 100.0)
    ds = ds.rename({"isobaric3": "lev", "isobaric5": "lev_2"})
    ds = ds.assign_coords(lon=((ds.lon + 180) % 360) - 180).isel(lat=slice(None, None, -1))
    ds = _strip(ds, keep_grid_mapping=False)
    ds["lev"].attrs["units"] = ds["lev_2"].attrs["units"] = "hPa"
    out["ncep_names_lev_hPa"] = (_write(ds, tmp / "ncep.nc"), "latlon")

    # 3. ERA names (t, z as geopotential, u, v, r, msl), 'plev' in Pa with no units attribute,
    #    temperature with no units attribute (its values can be taken as K, with a warning)
    ds = xr.Dataset({"t": g["T"], "z": g["Z"] * 9.80665, "u": g["U"], "v": g["V"], "r": g["RH"], "msl": g["P"]})
    ds = _strip(ds.rename({"isobaric3": "plev", "isobaric5": "plev2"}), keep_grid_mapping=False)
    ds["z"].attrs["units"] = "m**2 s**-2"
    del ds["t"].attrs["units"], ds["plev"].attrs["units"], ds["plev2"].attrs["units"]
    out["era_names_plev_no_units"] = (_write(ds, tmp / "era.nc"), "latlon")

    # 4. one 2-D variable per level: TMP_500mb, HGT_500mb (no units), RH_500mb for every level;
    #    UGRD/VGRD only at 850, 500, 300 and 250 hPa
    parts = {}
    parts.update(_split(g["T"], "isobaric3", lambda p: f"TMP_{p:g}mb"))
    parts.update(_split(g["Z"], "isobaric3", lambda p: f"HGT_{p:g}mb"))
    parts.update(_split(g["U"], "isobaric3", lambda p: f"UGRD_{p:g}mb", WIND_LEVELS))
    parts.update(_split(g["V"], "isobaric3", lambda p: f"VGRD_{p:g}mb", WIND_LEVELS))
    parts.update(_split(g["RH"], "isobaric5", lambda p: f"RH_{p:g}mb"))
    ds = _strip(xr.Dataset({**parts, "PRMSL_msl": g["P"], "LatLon_Projection": gfs["LatLon_Projection"]}),
                keep_grid_mapping=True)
    for name in ds.data_vars:  # heights without units: told from geopotential by the standard atmosphere
        if name.startswith("HGT_"):
            del ds[name].attrs["units"]
    out["level_named_mb"] = (_write(ds, tmp / "levels_mb.nc"), "sphere")

    # 5. compact level names: Temperature_isobaric_500, z500 (geopotential, m2/s2), u500/v500 at some
    #    levels, r500; the time dimension called 'valid'
    parts = {}
    parts.update(_split(g["T"], "isobaric3", lambda p: f"Temperature_isobaric_{p:g}"))
    parts.update(_split(g["Z"], "isobaric3", lambda p: f"z{p:g}", scale=9.80665))
    parts.update(_split(g["U"], "isobaric3", lambda p: f"u{p:g}", WIND_LEVELS))
    parts.update(_split(g["V"], "isobaric3", lambda p: f"v{p:g}", WIND_LEVELS))
    parts.update(_split(g["RH"], "isobaric5", lambda p: f"r{p:g}"))
    ds = _strip(xr.Dataset({**parts, "mslp": g["P"]}).rename({"time": "valid"}), keep_grid_mapping=False)
    for name in ds.data_vars:
        if name.startswith("z"):
            ds[name].attrs["units"] = "m2 s-2"
    out["level_named_compact"] = (_write(ds, tmp / "levels_compact.nc"), "latlon")
    return out


@pytest.fixture(scope="module")
def variants(data_dir, tmp_path_factory):
    return _variants(data_dir, tmp_path_factory.mktemp("variants"))


VARIANTS = ["short_names_isobaric_Pa", "ncep_names_lev_hPa", "era_names_plev_no_units", "level_named_mb",
            "level_named_compact"]


def _read(path):
    return get_reader("netcdf")(path)


# ------------------------------------------------------------------------------ real files
def test_real_gfs_fields(load):
    fs = fields_of(load("cyclone2010", "analysis"))
    got = {k: (m.variable, m.rule) for k, m in fs.found.items()}
    assert got["air_temperature"] == ("Temperature_isobaric", "GRIB2 parameter 0-0-0")
    assert got["geopotential_height"][0] == "Geopotential_height_isobaric"
    assert got["eastward_wind"][0] == "u-component_of_wind_isobaric"
    assert got["relative_humidity"][0] == "Relative_humidity_isobaric"
    assert got["mslp"] == ("Pressure_reduced_to_MSL_msl", "GRIB2 parameter 0-3-1")
    # the height-above-ground variables are the 2 m temperature and 10 m wind, not levels
    assert got["temperature_2m"][0] == "Temperature_height_above_ground"
    assert got["u_wind_10m"][0] == "u-component_of_wind_height_above_ground"
    assert len(fs.found["air_temperature"].levels) == 26 and len(fs.found["relative_humidity"].levels) == 25
    t = fs.get("air_temperature")
    assert t.dims == ("time", "pressure", "lat", "lon") and t["pressure"].attrs["units"] == "hPa"
    assert float(t["lon"].min()) == -150.0 and float(t["lon"].max()) == -50.0
    assert "specific_humidity" in fs.missing and "not in the file" in fs.missing["specific_humidity"]
    assert all(t["can_run"] for t in gridded_tools_for(fs))


def test_real_gfs_global_and_eraint(load):
    fs = fields_of(load("gfs20210130", "analysis"))
    assert set(fs.found) == {"air_temperature", "geopotential_height"}
    z = fs.get("geopotential_height")
    assert z.dims[0] == "time" and z.sizes["time"] == 3  # time3 renamed
    assert (np.diff(z["lon"].values) > 0).all() and float(z["lon"].min()) == -180.0  # 0..359 -> -180..179
    with pytest.raises(VariableMissing, match="no u on pressure levels.*it holds: Temperature_isobaric"):
        fs.get("eastward_wind")
    can = {t["tool"]: t for t in gridded_tools_for(fs)}
    assert can["compute_field_anomaly"]["can_run"] and not can["compute_vorticity"]["can_run"]
    assert "eastward_wind" in can["compute_vorticity"]["missing"]

    clim = load("gfs20210130", "climatology")
    cf = fields_of(clim)
    m = cf.found["geopotential_height"]
    assert m.variable == "z" and m.rule.startswith("standard_name geopotential: geopotential divided by g")
    with netCDF4.Dataset(clim.attrs["source_file"]) as nc:
        nc.set_auto_mask(False)
        z0 = np.asarray(nc.variables["z"][0, 1], float)  # January, 500 hPa
    np.testing.assert_allclose(cf.get("geopotential_height").sel(month=1, pressure=500.0).values, z0 / 9.80665,
                               rtol=1e-6)
    assert cf.found["eastward_wind"].rule == "standard_name eastward_wind"
    assert cf.found["wind_speed"].units_from == "derived"


def test_real_era5_grib(load, data_dir):
    import eccodes

    fs = fields_of(load("era5uk201903", "analysis"))
    assert set(fs.found) == {"temperature_2m"}
    assert fs.found["temperature_2m"].rule == "GRIB_paramId 167"
    with open(data_dir / ERA5, "rb") as fh:
        h = eccodes.codes_grib_new_from_file(fh)
        first = eccodes.codes_get_values(h).reshape(33, 49)
        eccodes.codes_release(h)
    np.testing.assert_allclose(fs.get("temperature_2m").isel(time=0).values, first, rtol=1e-6)
    assert "GRIB_paramId 130" in fs.missing["air_temperature"] or "not in the file" in fs.missing["air_temperature"]


@pytest.mark.realdata
def test_real_mrms_grib2_precipitation_rate(data_dir):
    """MRMS names its variable 'unknown' with units 'unknown': found by its GRIB2 code in the
    MRMS local table (209-6-1), with the table's units and a warning saying so."""
    import pygrib

    ds = get_reader("grib")(data_dir / MRMS)
    fs = fields_of(ds)
    m = fs.found["precipitation_rate"]
    assert m.variables == ("unknown",) and m.rule == "GRIB2 parameter 209-6-1" and m.units == "mm/h"
    assert "MRMS" in m.units_from and any("no units in the file" in w for w in m.warnings)
    with pygrib.open(str(data_dir / MRMS)) as g:
        vals = g[1].values
    assert float(fs.get("precipitation_rate").max()) == pytest.approx(float(np.max(vals)))
    assert set(fs.found) == {"precipitation_rate"}


def test_real_gini_composite_has_no_known_field(data_dir):
    ds = get_reader("gini")(data_dir / "metpy/staticdata/Level3_Composite_dhr_1km_20180309_2225.gini")
    fs = identify_fields(ds)
    assert not fs.found and fs.unused == {"Cloud Amount": "matches no field of the alias table"}
    assert all(r for r in fs.missing.values())


# --------------------------------------------------------------------- rewritten conventions
@pytest.mark.parametrize("variant", VARIANTS)
def test_resolver_finds_the_same_fields(variants, raw, variant):
    path, _ = variants[variant]
    fs = fields_of(_read(path))
    assert CORE <= set(fs.found), (variant, fs.missing)
    assert sorted(fs.found["air_temperature"].levels) == sorted(raw["p3"])
    assert sorted(fs.found["relative_humidity"].levels) == sorted(raw["p5"])
    wind_levels = sorted(fs.found["eastward_wind"].levels)
    assert wind_levels == (WIND_LEVELS[::-1] if variant.startswith("level_named") else sorted(raw["p3"]))
    # the values are the original arrays (heights from geopotential divided by g)
    lat = raw["lat"]
    for field, key, p in (("air_temperature", "t", 500.0), ("geopotential_height", "z", 500.0),
                          ("eastward_wind", "u", 250.0)):
        da = fs.get(field).isel(time=0).sel(pressure=p).sortby("lat", ascending=False)
        assert da["pressure"].attrs["units"] == "hPa"
        np.testing.assert_allclose(da.values, raw[key][_k(raw["p3"], p)], rtol=1e-6, err_msg=f"{variant} {field}")
        np.testing.assert_array_equal(da["lat"].values, lat)
    np.testing.assert_allclose(fs.get("mslp").isel(time=0).sortby("lat", ascending=False).values / 100.0,
                               raw["mslp"], rtol=1e-6)
    if variant in ("era_names_plev_no_units", "level_named_compact"):  # geopotential (m2/s2) named z
        assert fs.found["geopotential_height"].rule.endswith("'z': geopotential divided by g = 9.80665 m/s2")
    if variant == "era_names_plev_no_units":
        w = " ".join(fs.found["air_temperature"].warnings)
        assert "has no units" in w and "taken as K" in w
        assert "pressure coordinate 'plev' has no units" in w and "taken as Pa" in w
        assert fs.found["geopotential_height"].units_from == "converted"
    if variant.startswith("level_named"):
        m = fs.found["air_temperature"]
        assert m.rule.startswith("level-named") and len(m.variables) == 26
    if variant == "level_named_mb":
        m = fs.found["geopotential_height"]
        assert m.units == "m" and m.units_from == "assumed"
        assert any("matching the US Standard Atmosphere" in w for w in m.warnings)
    assert all(t["can_run"] for t in gridded_tools_for(fs))


@pytest.mark.parametrize("variant", VARIANTS)
def test_tools_give_the_same_numbers(variants, refs, variant):
    path, crs = variants[variant]
    ref = refs[crs]
    # the whole grid (the tools search 1500 km around the case's place by default; the
    # references are whole-grid extremes)
    base = {"case": "cyclone2010", "files": {"analysis": path}, "radius": 20038}

    def run(name, **kw):
        r = call_tool(name, {**base, **kw})
        assert r.ok, (variant, name, r.error)
        return r

    def same(r, prefix, expected, rel=1e-3):
        val, lat, lon = expected
        assert r.value(prefix) == pytest.approx(val, rel=rel), (variant, prefix)
        assert (r.value(f"{prefix}_lat"), r.value(f"{prefix}_lon")) == pytest.approx((lat, lon)), (variant, prefix)

    r = run("find_pressure_minimum")
    assert (r.value("min_pressure"), r.value("min_pressure_lat"), r.value("min_pressure_lon")) == ref["pmin"]
    assert ref["pmin"] == (967.6, 47.0, -94.0)
    r = run("compute_vorticity", level=500)
    same(r, "max_relative_vorticity", ref["vort_max"])
    same(r, "min_relative_vorticity", ref["vort_min"])
    r = run("compute_temperature_advection", level=850)
    same(r, "max_warm_advection", ref["adv_max"])
    same(r, "max_cold_advection", ref["adv_min"])
    r = run("find_jet_maxima", level=250)
    assert r.value("max_wind_speed") == pytest.approx(round(ref["jet"][0], 1))
    assert (r.value("max_wind_speed_lat"), r.value("max_wind_speed_lon")) == ref["jet"][1:]
    r = run("compute_gridded_precipitable_water", lat_min=45, lat_max=45, lon_min=-90, lon_max=-90)
    assert r.value("max_precipitable_water") == pytest.approx(ref["pw45"], rel=2e-3)
    if variant.startswith("level_named"):  # winds only at 850/500/300/250 hPa: other levels are absent
        r = call_tool("compute_vorticity", {**base, "level": 700})
        assert not r.ok and "no 700 hPa level" in r.error and "250" in r.error


def test_cases_show_lists_fields_and_tools(capsys, monkeypatch):
    from typer.testing import CliRunner

    from hvrmet import cli
    from hvrmet.cli import app

    # the module's console fixes its width when COLUMNS is set at import (in some other
    # test's environment); this test's width is its own
    monkeypatch.setattr(cli.console, "_width", 250)
    res = CliRunner().invoke(app, ["cases", "show", "cyclone2010"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    out = res.output
    assert "analysis: fields identified" in out
    assert "Pressure_reduced_to_MSL_msl" in out and "GRIB2 parameter 0-3-1" in out
    assert "gridded tools that can run: compute_vorticity" in out and "find_pressure_minimum" in out


# ------------------------------------------------------------------- what cannot be used
def _small(data_dir) -> xr.Dataset:
    with xr.open_dataset(data_dir / GFS) as src:
        g = src[["Temperature_isobaric", "u-component_of_wind_isobaric", "v-component_of_wind_isobaric",
                 "Pressure_reduced_to_MSL_msl"]].load()
    return g


def test_fields_not_found_are_listed_with_a_reason(data_dir, tmp_path):
    g = _small(data_dir)
    ds = xr.Dataset({"temp": g["Temperature_isobaric"] - 273.15,  # labelled K below: implausible
                     "uwnd": g["u-component_of_wind_isobaric"], "vwnd": g["v-component_of_wind_isobaric"],
                     "t2": g["Pressure_reduced_to_MSL_msl"]})
    ds = _strip(ds, keep_grid_mapping=False)
    del ds["uwnd"].attrs["units"], ds["vwnd"].attrs["units"]  # winds without units: m/s or knots?
    ds["temp"].attrs["units"] = "K"
    fs = fields_of(_read(_write(ds, tmp_path / "bad.nc")))
    assert "air_temperature" not in fs.found
    assert "implausible" in fs.missing["air_temperature"] and "'temp'" in fs.missing["air_temperature"]
    assert "no units attribute" in fs.missing["eastward_wind"] and "no units are assumed" in fs.missing[
        "eastward_wind"]
    # 't2' (an alias of the 2 m temperature) holds pressure in Pa: refused for its units
    assert "'t2'" in fs.missing["temperature_2m"] and "not those of" in fs.missing["temperature_2m"]
    assert "mslp" not in fs.found and fs.unused["t2"] == "matches no field of the alias table"
    for f, reason in fs.missing.items():
        assert reason, f
    with pytest.raises(VariableMissing, match="no temperature on pressure levels.*implausible"):
        fs.get("air_temperature")
    r = call_tool("compute_vorticity", {"case": "cyclone2010", "files": {"analysis": str(tmp_path / "bad.nc")}})
    assert not r.ok and r.error_type == "VariableMissing" and "no units" in r.error


def test_single_level_temperature_is_not_levels(data_dir, tmp_path):
    g = _small(data_dir)
    ds = _strip(xr.Dataset({"temp": g["Temperature_isobaric"].isel(isobaric3=5, drop=True)}), keep_grid_mapping=False)
    fs = fields_of(_read(_write(ds, tmp_path / "t2d.nc")))
    assert "air_temperature" not in fs.found
    assert "no pressure levels" in fs.missing["air_temperature"]
    assert set(field_specs()) == set(fs.missing) | set(fs.found)


# ------------------------------------------------------------------------------------ GRIB
def _mixed_grib(data_dir, path, n_times: int = 3) -> np.ndarray:
    """ERA5 2 m temperature messages, each also written as 'temperature' (paramId 130) at 850 and
    500 hPa: a GRIB file mixing level types. Returns the original values (time, lat, lon)."""
    import eccodes as ec

    vals = []
    with open(data_dir / ERA5, "rb") as fh, open(path, "wb") as out:
        for _ in range(n_times):
            h = ec.codes_grib_new_from_file(fh)
            vals.append(ec.codes_get_values(h).reshape(33, 49))
            ec.codes_write(h, out)
            for lev in (850, 500):
                c = ec.codes_clone(h)
                ec.codes_set(c, "paramId", 130)
                ec.codes_set(c, "indicatorOfTypeOfLevel", 100)
                ec.codes_set(c, "level", lev)
                ec.codes_write(c, out)
                ec.codes_release(c)
            ec.codes_release(h)
    return np.array(vals)


def test_grib_mixing_level_types(data_dir, tmp_path):
    orig = _mixed_grib(data_dir, tmp_path / "mixed.grib")
    ds = get_reader("grib")(tmp_path / "mixed.grib")
    fs = fields_of(ds)
    assert fs.found["temperature_2m"].rule == "GRIB_paramId 167"
    assert fs.found["air_temperature"].variables == ("t",) and fs.found["air_temperature"].levels == (850.0, 500.0)
    np.testing.assert_allclose(fs.get("air_temperature").sel(pressure=500.0).values, orig, rtol=1e-6)
    np.testing.assert_allclose(fs.get("temperature_2m").values, orig, rtol=1e-6)
    assert fs.summary() == "temperature_2m<-t2m; air_temperature<-t"
    assert "hvrmet_fields" not in ds.attrs  # fields are identified on demand, not at read time


def test_grib_truncation_is_detected(data_dir, tmp_path):
    from hvrmet.data.readers.gridded import check_grib_messages

    raw = (data_dir / ERA5).read_bytes()
    assert check_grib_messages(data_dir / ERA5) == 744
    step = int.from_bytes(raw[4:7], "big")  # GRIB1 length of the first message
    spacing = raw.index(b"GRIB", 4)  # messages are padded to this spacing
    assert step == 3342 and spacing == 3360
    cut = tmp_path / "cut.grib"
    # half the file plus a part of the next message: that message declares more than is there
    cut.write_bytes(raw[: len(raw) // 2 + 1000])
    with pytest.raises(FormatError, match=r"cut.grib: GRIB message 373 at byte 1249920 declares 3342 bytes "
                                          r"but only 1000 are present: the file is truncated"):
        get_reader("grib")(cut)
    # a cut inside a message's header, and one leaving half a 'GRIB'
    cut.write_bytes(raw[: spacing * 100 + 10])
    with pytest.raises(FormatError, match="message 101 .* cut inside its header"):
        get_reader("grib")(cut)
    cut.write_bytes(raw[: spacing * 100 + 3342 + 18 + 2])
    with pytest.raises(FormatError, match=r"cut.grib: 20 bytes after the last complete GRIB message \(101\)"):
        get_reader("grib")(cut)
    # a corrupted length field (the message does not end with 7777 where it says)
    bad = bytearray(raw)
    bad[4:7] = (3000).to_bytes(3, "big")
    cut.write_bytes(bytes(bad))
    with pytest.raises(FormatError, match="message 1 at byte 0 does not end with '7777'"):
        get_reader("grib")(cut)
    # a cut exactly between two messages leaves a complete, shorter file: no header can tell
    # (the registry's sha256 does)
    cut.write_bytes(raw[: spacing * 372])
    assert check_grib_messages(cut) == 372


def test_grib2_truncation_is_detected(data_dir, tmp_path):
    raw = (data_dir / MRMS).read_bytes()
    assert raw[7] == 2 and int.from_bytes(raw[8:16], "big") == len(raw)  # one GRIB2 message: the whole file
    cut = tmp_path / "mrms.grib2"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=f"mrms.grib2: GRIB message 1 at byte 0 declares {len(raw)} bytes but "
                                          f"only {len(raw) // 2} are present"):
        get_reader("grib")(cut)


def test_calc_arguments_are_checked(load):
    from hvrmet.calc import gridded as gc

    fs = fields_of(load("cyclone2010", "analysis"))
    t, _ = gc.at_level(fs.get("air_temperature"), 500.0)
    with pytest.raises(ValueError, match="how must be 'max' or 'min'"):
        gc.extremum(t, "middle")
    with pytest.raises(TypeError, match="u must be an xarray.DataArray"):
        gc.divergence(t.values, t)
    with pytest.raises(ValueError, match="v must be on the grid of u"):
        gc.divergence(t, t.isel(lat=slice(1, None)))
    with pytest.raises(ValueError, match="level must be a positive pressure"):
        gc.at_level(fs.get("air_temperature"), -5)
    with pytest.raises(ValueError, match="bottom must exceed top"):
        gc.common_levels({"t": fs.get("air_temperature")}, 300, 500)
    with pytest.raises(TypeError, match="ds must be an xarray.Dataset"):
        identify_fields(t)
    with pytest.raises(ValueError, match="fields: unknown field 'vorticity'"):
        identify_fields(load("cyclone2010", "analysis"), ["vorticity"])
