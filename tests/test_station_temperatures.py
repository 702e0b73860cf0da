"""``summarize_station_temperatures`` on the real station files, against MetPy's own
decoding of the METARs (``parse_metar_file``), pandas on the ASOS CSV and MetPy's heat
index computed here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hvrmet.tools import call_tool

GLOBE = 20038.0  # km: every station


def _metpy_metars(load, data_dir) -> pd.DataFrame:
    from metpy.io import parse_metar_file

    load("metar20190701", "surface_obs")  # the station tables, offline
    ref = parse_metar_file(str(data_dir / "metpy/staticdata/metar_20190701_1200.txt"), year=2019, month=7)
    return ref.dropna(subset=["latitude", "longitude", "air_temperature"]).drop_duplicates(
        ["station_id", "date_time"])


def test_metars_worldwide_against_metpy(load, data_dir):
    """Over every station: the hottest and coldest report and the highest heat index are
    MetPy's, once the one report outside the world records (91 degC) is set aside; the
    count of stations at a dangerous heat index is MetPy's heat index at 105 degF."""
    import metpy.calc as mpcalc
    from metpy.units import units

    ref = _metpy_metars(load, data_dir)
    ok = ref[(ref.air_temperature >= -89.2) & (ref.air_temperature <= 56.7)]
    assert (ref.air_temperature > 56.7).sum() == 1  # the fault the tool sets missing
    r = call_tool("summarize_station_temperatures", {"case": "metar20190701", "radius": GLOBE})
    assert r.ok, r.error
    assert r.value("max_temperature") == pytest.approx(ok.air_temperature.max(), abs=0.05)
    assert r.value("min_temperature") == pytest.approx(ok.air_temperature.min(), abs=0.05)
    hot = ok.loc[ok.air_temperature.idxmax()]
    assert r.values["max_temperature_station"].value == hot.station_id
    assert any("1 report(s) set missing: a temperature outside the world records" in w for w in r.warnings)
    td_ok = ok.dropna(subset=["dew_point_temperature"])
    td_ok = td_ok[td_ok.dew_point_temperature <= td_ok.air_temperature + 0.5]
    t = units.Quantity(td_ok.air_temperature.to_numpy(float), "degC")
    rh = mpcalc.relative_humidity_from_dewpoint(t, units.Quantity(td_ok.dew_point_temperature.to_numpy(float), "degC"))
    hi = np.ma.filled(np.ma.asarray(mpcalc.heat_index(t, rh, mask_undefined=True).m_as("degF")), np.nan)
    assert r.value("max_heat_index") == pytest.approx((np.nanmax(hi) - 32) * 5 / 9, abs=0.05)
    danger = td_ok.station_id.to_numpy()[np.nan_to_num(hi, nan=-999) >= 105.0]
    assert r.value("n_heat_danger_stations") == len(set(danger)) > 0
    assert r.value("n_subfreezing_stations") == ok.loc[ok.air_temperature <= 0, "station_id"].nunique()


def test_asos_csv_in_fahrenheit_around_the_case(data_dir):
    """The 1993 ASOS CSV holds degF: read in its own units. Within 1500 km of the case's
    place (pyproj distances here) the coldest and hottest reports are the CSV's, in degC by
    hand, and so is the count of stations at or below freezing; no heat index is dangerous."""
    from pyproj import Geod

    src = pd.read_csv(data_dir / "metpy/staticdata/SFC_obs.csv", low_memory=False)
    src = src.dropna(subset=["lat", "lon", "tmpf"]).drop_duplicates(["station", "valid"])
    d = Geod(ellps="WGS84").inv(np.full(len(src), -84.0), np.full(len(src), 33.0), src.lon.to_numpy(),
                                src.lat.to_numpy())[2] / 1000
    near = src[d <= 1500.0]
    edge = np.abs(d - 1500.0) < 1.0  # a station on the edge holds no extreme (pyproj as the window's geodesic)
    assert not set(src.tmpf[edge]) & {near.tmpf.min(), near.tmpf.max()}
    r = call_tool("summarize_station_temperatures", {"case": "superstorm1993"})
    assert r.ok, r.error
    assert r.value("min_temperature") == pytest.approx((near.tmpf.min() - 32) * 5 / 9, abs=0.05)
    assert r.value("max_temperature") == pytest.approx((near.tmpf.max() - 32) * 5 / 9, abs=0.05)
    assert r.value("n_subfreezing_stations") == near.loc[near.tmpf <= 32.0, "station"].nunique()
    assert r.value("n_heat_danger_stations") == 0
    assert r.values["outside_time_window"].value is True  # the reports predate the case time


def test_no_warm_report_leaves_the_heat_index_not_computable(tmp_path, data_dir):
    import yaml

    src = pd.read_csv(data_dir / "metpy/staticdata/SFC_obs.csv", low_memory=False, nrows=3000)
    src = src[src.tmpf < 60]
    src.to_csv(tmp_path / "cold.csv", index=False)
    case = {"id": "cold", "title": "cold stations", "time": "1993-03-12T12:00:00Z",
            "location": {"lat": 40.0, "lon": -90.0, "place": "the Midwest"}, "events": [], "data_dir": str(tmp_path),
            "files": [{"role": "surface_obs", "format": "surface_csv", "path": "cold.csv"}]}
    (tmp_path / "cold.yaml").write_text(yaml.safe_dump(case))
    r = call_tool("summarize_station_temperatures", {"case": str(tmp_path / "cold.yaml"), "radius": GLOBE})
    assert r.ok, r.error
    v = r.values["max_heat_index"]
    assert v.value is None and v.note.startswith("not computable: no report of 80 degF")
    assert r.value("n_heat_danger_stations") == 0


def test_heat_signal_and_conditions():
    """The heat-wave guideline's conditions on the count: one station weakly, three fully;
    one number, counted once."""
    from hvrmet.knowledge import default_store

    card = next(c for c in default_store().cards if c.id == "gl-heat-wave")
    conds = [c for c in card.conditions if c.tool == "summarize_station_temperatures"]
    assert {(c.value, c.meaning) for c in conds} == {(1, "weakly_supports"), (3, "supports")}
