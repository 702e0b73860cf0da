"""Reader tests on the real files: real values, checked against what the files hold."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("data_dir")


def _sweeps(tree):
    from hvrmet.calc.radar import sweep_names

    return [tree[n].ds for n in sweep_names(tree)]


def _vmax(tree, var):
    return max(float(np.nanmax(s[var].values)) for s in _sweeps(tree) if var in s.data_vars)


def test_ktlx_1999_volume(load):
    from hvrmet.calc.radar import max_gate

    ds = load("may1999", "radar_volume")
    assert ds.attrs["message_type"] == "1" and ds.attrs["format"] == "nexrad_level2"
    assert ds.attrs["instrument_name"] == ds.attrs["radar_site"] == "KTLX"
    assert ds.attrs["decoder"].startswith("MetPy")  # xradar does not read message-1 files
    # message-1 files carry no site position: it comes from the shipped site table
    assert ds.attrs["site_location_source"].startswith("hvrmet radar site table")
    assert float(ds["latitude"]) == ds.attrs["site_latitude"] == pytest.approx(35.333, abs=0.002)
    assert float(ds["longitude"]) == ds.attrs["site_longitude"] == pytest.approx(-97.278, abs=0.002)
    sweeps = _sweeps(ds)
    # 16 elevation cuts; a cut whose Doppler moments lie on other gates is split in two nodes
    assert len({int(s["sweep_number"]) for s in sweeps}) == 16 and len(sweeps) == 28
    assert _vmax(ds, "reflectivity") == 62.5
    refl = [s for s in sweeps if "reflectivity" in s.data_vars]
    vel = [s for s in sweeps if "radial_velocity" in s.data_vars]
    assert refl[0]["reflectivity"].attrs["units"] == "dBZ" and vel[0]["radial_velocity"].attrs["units"] == "m/s"
    # reflectivity at 1 km gates, Doppler moments on their own 250 m range axis
    assert all(float(s.range[1] - s.range[0]) == 1000.0 for s in refl)
    assert all(float(s.range[1] - s.range[0]) == 250.0 for s in vel)
    assert all(s["reflectivity"].dims == ("azimuth", "range") for s in refl)
    assert str(sweeps[0].time.values.min())[:16] == "1999-05-03T23:56"
    assert ds.attrs["time_coverage_start"] == "1999-05-03T23:56:21Z"
    # every gate has a position; the strongest echo lies north-west of the radar
    g = max_gate(ds)
    assert g["value"] == 62.5 and 35.4 < g["lat"] < 36.5 and -98.5 < g["lon"] < -97.3
    assert ds.attrs["sha256"].startswith("7a097251bb7a")


def test_level2_site_from_file_and_dualpol(load):
    ds = load("klbb20160601", "radar_volume")
    assert ds.attrs["message_type"] == "31" and ds.attrs["decoder"].startswith("xradar")
    assert ds.attrs["site_location_source"] == "file"
    assert ds.attrs["site_latitude"] == pytest.approx(33.654, abs=0.001)
    assert ds.attrs["site_longitude"] == pytest.approx(-101.814, abs=0.001)
    assert _vmax(ds, "reflectivity") == 71.5
    for v in ("differential_reflectivity", "cross_correlation_ratio", "differential_phase"):
        assert any(v in s.data_vars for s in _sweeps(ds))
    rho = np.concatenate([s.cross_correlation_ratio.values.ravel() for s in _sweeps(ds)
                          if "cross_correlation_ratio" in s.data_vars])
    assert 0.2 < np.nanmedian(rho) <= 1.05
    # below-threshold and range-folded gates (codes 0 and 1) are NaN, not -33 dBZ or -64.5 m/s
    for s in _sweeps(ds):
        if "radial_velocity" in s.data_vars:
            v = s.radial_velocity.values
            assert np.nanmax(np.abs(v)) <= float(s.nyquist_velocity) + 0.5 and np.isnan(v).any()
    assert min(float(np.nanmin(s.reflectivity.values)) for s in _sweeps(ds) if "reflectivity" in s.data_vars) > -33


def test_klix_katrina_volume(load):
    ds = load("katrina2005", "radar_volume")
    assert ds.attrs["radar_site"] == "KLIX"
    assert _vmax(ds, "reflectivity") == 54.0
    assert len({int(s["sweep_number"]) for s in _sweeps(ds)}) == 16


def test_gate_positions_follow_geodesic(load):
    from pyproj import Geod

    from hvrmet.calc.radar import gate_locations

    ds = load("may1999", "radar_volume")
    r, g = 100, 200
    lat, lon = (a[r, g] for a in gate_locations(ds, "sweep_0"))
    sw = ds["sweep_0"].ds
    az, _, dist = Geod(ellps="WGS84").inv(ds.attrs["site_longitude"], ds.attrs["site_latitude"], float(lon), float(lat))
    assert az % 360 == pytest.approx(float(sw.azimuth[r]), abs=0.01)
    # ground distance is a little under the slant range at low elevation
    assert 0.995 * float(sw.range[g]) < dist < float(sw.range[g])


@pytest.mark.parametrize("case,p0,station,top", [
    ("may1999", 959.0, "OUN", 268.6),
    ("oun20110522", 966.0, "OUN", None),
    ("null-jan20", 978.0, "OUN", None),
    ("null-dec9", 919.0, "BOI", None),
])
def test_soundings(load, case, p0, station, top):
    ds = load(case, "sounding")
    first = int(np.argmax(ds.temperature.notnull().values))
    assert float(ds.pressure[first]) == p0
    assert ds.attrs["station"] == station
    assert ds.pressure.attrs["units"] == "hPa" and ds.wind_speed.attrs["units"] == "knot"
    assert (np.diff(ds.pressure.values) <= 0).all()
    if top is not None:
        assert ds.attrs["top_pressure_hPa"] == top


def test_sounding_title_line_gives_time(load):
    ds = load("oun20110522", "sounding")
    assert ds.attrs["time"].startswith("2011-05-22T12:00")
    assert ds.attrs["station_number"] == "72357"


def test_gfs_cyclone_minimum_pressure(load):
    ds = load("cyclone2010", "analysis")
    mslp = ds["Pressure_reduced_to_MSL_msl"].isel(time=0)
    assert mslp.attrs["units"] == "Pa"
    i, j = np.unravel_index(int(mslp.argmin()), mslp.shape)
    pmin = float(mslp.values[i, j]) / 100.0
    lat, lon = float(ds.lat[i]), float(ds.lon[j]) - 360.0
    # 1-degree GFS analysis at 12 UTC: 967.6 hPa at 47 N, 94 W (the 955 hPa station record
    # came later in the day and is below what a 1-degree grid resolves)
    assert pmin == pytest.approx(967.6, abs=0.1)
    assert (lat, lon) == (47.0, -94.0)
    assert ds["Geopotential_height_isobaric"].attrs["units"] == "m"  # 'gpm' normalised
    # the field resolver (on demand): which physical field came from which variable
    from hvrmet.data.fields import fields_of

    summary = fields_of(ds).summary()
    assert summary.startswith("mslp<-Pressure_reduced_to_MSL_msl; temperature_2m<-Temperature_height_above_ground")
    assert "air_temperature<-Temperature_isobaric" in summary


def test_grib_and_climatology(load):
    era5 = load("era5uk201903", "analysis")
    assert era5.sizes["time"] == 744 and era5.t2m.shape == (744, 33, 49)
    assert era5.t2m.attrs["units"] == "K"
    clim = load("gfs20210130", "climatology")
    assert list(clim.month.values) == [1, 7]
    assert list(clim.level.values) == [200, 500, 850]
    assert clim.z.attrs["units"] == "m^2/s^2"
    assert clim.level.attrs["units"] == "hPa" and clim.level.attrs["units_original"] == "millibars"
    from hvrmet.data.fields import fields_of

    assert fields_of(era5).summary() == "temperature_2m<-t2m"
    assert fields_of(clim).summary().startswith("geopotential_height<-z; eastward_wind<-u; northward_wind<-v")


@pytest.mark.parametrize("case,frames,step,unit,vmax", [
    ("knmi20100826", 92, 5.0, "mm", 2.45),
    ("mch20150515", 40, 5.0, "mm", 9.628),
    ("fmi", 40, 5.0, "dBZ", 57.5),
    ("bom20180616", 61, 6.0, "mm", 5.3),
])
def test_composite_sequences(load, case, frames, step, unit, vmax):
    ds = load(case, "composite_sequence")
    assert ds.sizes["time"] == frames
    assert ds.attrs["timestep_min"] == step
    assert ds.precip.attrs["units"] == unit
    assert float(ds.precip.max()) == pytest.approx(vmax, rel=1e-3)
    assert (np.diff(ds.time.values) == np.timedelta64(int(step * 60), "s")).all()
    assert ds.lat.shape == ds.precip.shape[1:]
    assert "+proj=" in ds.attrs["projection"]


def test_mrms_sequence(load):
    ds = load("mrms20190610", "composite_sequence")
    assert ds.sizes["time"] == 36 and ds.attrs["timestep_min"] == 2.0
    assert ds.precip.attrs["units"] == "mm/h"
    assert float(ds.precip.max()) == pytest.approx(145.0, abs=10.0)
    assert float(ds.lat.min()) == pytest.approx(20.0, abs=0.1)


def test_level3_tables(load):
    nst = load("mci20160526", "level3_storm_tracks")
    # every cell of the symbology block, as many as the product header counts
    assert nst.attrs["product_code"] == 58 and nst.sizes["row"] == nst.attrs["header_storm_count"] == 44
    w0 = nst.where(nst.storm_id == "W0", drop=True)
    assert w0.azimuth.item() == 111.0 and w0.range_nm.item() == 34.0
    assert w0.motion_from.item() == 228.0 and w0.motion_speed.item() == 19.0
    nmd = load("mci20160526", "level3_mesocyclone")
    assert nmd.sizes["row"] == 10
    first = nmd.isel(row=0)
    assert str(first.circulation_id.values) == "109" and str(first.storm_id.values) == "E5"
    assert float(first.low_level_rotational_velocity) == 40.0
    assert float(first.max_rotational_velocity) == 74.0
    ncr = load("mci20160526", "level3_composite_reflectivity")
    assert ncr.sizes["storm"] == 32  # every row of the storm-attributes table
    w0 = ncr.where(ncr.storm_id == "W0", drop=True)
    assert w0.storm_prob_severe_hail.item() == 60.0 and w0.storm_max_hail_size.item() == 1.5
    assert w0.storm_vil.item() == 52.0
    # 16-level product: the top data level is 60 dBZ; the header's maximum is 65 dBZ
    assert float(ncr.data.max()) == 60.0 and ncr.attrs["product_max"] == 65.0


def test_level3_fields(load):
    tzl = load("mci20160526", "level3_base_reflectivity")
    assert tzl.attrs["geometry"] == "radial" and tzl.data.attrs["units"] == "dBZ"
    assert tzl.attrs["radar_site"] == "MCI"
    vil = load("mci20160526", "level3_vil")
    assert vil.attrs["geometry"] == "raster" and vil.data.attrs["units"] == "kg/m^2"
    assert float(vil.data.max()) == 50.0


def test_surface_and_upper_air(load):
    sfc = load("superstorm1993", "surface_obs")
    assert sfc.air_temperature.attrs["units"] == "degF"
    assert str(sfc.time.values.min()) .startswith("1993-03-12T06:00")
    assert sfc.sizes["obs"] == 9938
    assert str(sfc.station.values[0]) == "YUM" and float(sfc.air_temperature[0]) == 73.94
    upa = load("superstorm1993", "upper_air")
    assert set(np.unique(upa.pressure.values)) >= {500.0, 300.0}


def test_fronts_windprob_gini_metar(load):
    fr = load("heatdome2021", "fronts")
    assert fr.sizes["feature"] == 89
    assert {"HIGH", "LOW", "COLD"} <= set(fr.feature_type.values)
    nhc = load("henri2021", "wind_probability")
    assert set(nhc.threshold.values) == {34.0, 50.0, 64.0}
    assert float(nhc.probability.max()) >= 70.0
    sat = load("goes20151208", "satellite")
    assert sat.WV.shape == (1280, 1100) and sat.attrs["satellite"] == "GOES-15"
    met = load("metar20190701", "surface_obs")
    assert met.sizes["obs"] > 5000
    assert "KRCM" in set(met.station.values)
    assert float(met.lat.notnull().mean()) > 0.9
