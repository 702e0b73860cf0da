"""Present weather at the stations: METAR weather groups (WMO code table 4678) read by hand,
and ``summarize_present_weather`` on the 1993 superstorm's station reports and the July
2019 METARs, against counts made here from the files by pandas / MetPy and pyproj."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from hvrmet.calc.present_weather import KINDS, parse_present_weather, parse_weather_group, weather_kinds
from hvrmet.tools import call_tool


def _kinds(text: str) -> set[str]:
    k = weather_kinds([text])
    return {name for name, v in k.items() if v[0]}


@pytest.mark.parametrize("text, kinds", [
    ("", set()),
    ("-SN", {"precipitation", "snow"}),
    ("+SN", {"precipitation", "snow", "heavy_snow"}),
    ("+SHSN", {"precipitation", "snow", "heavy_snow"}),
    ("SG", {"precipitation", "snow"}),
    ("-SN BLSN", {"precipitation", "snow", "blowing_snow"}),
    ("BLSN", {"blowing_snow"}),                       # snow lifted from the ground is not falling snow
    ("DRSN", set()),
    ("-RASN", {"precipitation", "snow", "rain"}),
    ("+RASN", {"precipitation", "snow", "heavy_snow", "rain"}),
    ("-FZRA", {"precipitation", "freezing_precipitation"}),
    ("FZDZ BR", {"precipitation", "freezing_precipitation"}),
    ("FZFG", set()),                                  # freezing fog is no precipitation
    ("PL", {"precipitation", "ice_pellets"}),
    ("-FZRAPL", {"precipitation", "freezing_precipitation", "ice_pellets"}),
    ("+TSRAGR", {"precipitation", "rain", "thunder", "hail"}),
    ("TSGS", {"precipitation", "thunder", "hail"}),
    ("TS", {"thunder"}),
    ("VCTS", {"thunder"}),                            # thunder heard in the vicinity
    ("VCSH", set()),                                  # showers in the vicinity: none at the station
    ("VCSH -SN", {"precipitation", "snow"}),          # ... and the groups after it still count
    ("BLSN -SN", {"precipitation", "snow", "blowing_snow"}),
    ("-SHRA", {"precipitation", "rain"}),
    ("DZ", {"precipitation", "rain"}),
    ("+FC", {"funnel_cloud", "tornado"}),             # a tornado or waterspout
    ("FC", {"funnel_cloud"}),                         # a funnel cloud aloft
    ("VCFC", {"funnel_cloud"}),
    ("SQ", {"squall"}),
    ("BR HZ", set()),
    ("RERA", set()),                                  # a recent-weather remark, not present weather
    ("M", set()),                                     # a missing value
])
def test_weather_groups_by_code_table_4678(text, kinds):
    assert _kinds(text) == kinds
    assert _kinds(text.lower()) == kinds


def test_group_parts():
    g = parse_weather_group("-FZRAPL")
    assert (g.intensity, g.descriptor, g.precipitation, g.obscuration, g.other) == ("-", "FZ", ("RA", "PL"), "", "")
    g = parse_weather_group("VCFG")
    assert g.vicinity and g.obscuration == "FG" and g.precipitation == ()
    assert not parse_weather_group("+SN").vicinity
    assert parse_weather_group("+FC").other == "FC"
    assert parse_weather_group("SNRA").precipitation == ("SN", "RA")
    g = parse_weather_group("SN")  # parts that are absent are empty strings
    assert (g.intensity, g.descriptor, g.obscuration, g.other) == ("", "", "", "")
    for bad in ("", "  ", "XX", "SNX", "-", "+SNSNSNQ", "RESN"):
        assert parse_weather_group(bad) is None
    assert [x.precipitation for x in parse_present_weather(" -SN  BLSN RMK ")] == [("SN",), ("SN",)]
    assert parse_present_weather(None) == []
    out = weather_kinds(["-SN", "RA"])
    assert list(out) == list(KINDS) and all(v.dtype == bool and v.shape == (2,) for v in out.values())


def _independent_precipitation(code: str) -> bool:
    """Precipitation at the station by plain string rules: a group (not in the vicinity, not
    only blown or drifting snow) whose text after any intensity and descriptor starts with a
    precipitation code."""
    for g in str(code).split():
        g = g.lstrip("-+")
        if g.startswith("VC") or g in ("BLSN", "DRSN"):
            continue
        if g[:2] in ("MI", "PR", "BC", "DR", "BL", "SH", "TS", "FZ"):
            g = g[2:]
        if g[:2] in ("DZ", "RA", "SN", "SG", "IC", "PL", "GR", "GS", "UP"):
            return True
    return False


def _independent_snow(code: str) -> bool:
    """Falling snow by plain string rules on each group: 'SN' or 'SG' in a group that is not
    in the vicinity and is not only blown or drifting snow."""
    for g in str(code).split():
        g = g.lstrip("-+")
        if g.startswith("VC") or g in ("BLSN", "DRSN"):
            continue
        if "SN" in g or "SG" in g:
            return True
    return False


@pytest.fixture(scope="module")
def superstorm_csv(data_dir):
    from pyproj import Geod

    df = pd.read_csv(data_dir / "metpy/staticdata/SFC_obs.csv", low_memory=False)
    df = df.drop_duplicates(["station", "valid"], keep="first")
    _, _, d = Geod(ellps="WGS84").inv(np.full(len(df), -84.0), np.full(len(df), 33.0), df["lon"].to_numpy(),
                                      df["lat"].to_numpy())
    return df.assign(km=d / 1000.0, wx=df["wxcodes"].fillna("").astype(str).str.strip())


def test_superstorm_stations_reporting_snow(superstorm_csv):
    """The stations within 1500 km of the case's place (33N 84W) with a snow report, counted
    from the CSV's own ``wxcodes`` column; the nearest is Anniston (ANB), by pyproj."""
    df = superstorm_csv
    near = df[df["km"] <= 1500.0]
    snow = near[near["wx"].map(_independent_snow)]
    precip = near[near["wx"].map(_independent_precipitation)]
    r = call_tool("summarize_present_weather", {"case": "superstorm1993"})
    assert r.ok, r.error
    assert r.value("n_stations") == near["station"].nunique()
    assert r.value("n_snow_stations") == snow["station"].nunique() == 102
    assert r.value("n_precipitation_stations") == precip["station"].nunique()
    assert r.value("snow_fraction") == pytest.approx(round(102 / precip["station"].nunique(), 3))
    first = snow.sort_values(["km", "valid"], ascending=[True, False]).iloc[0]
    assert r.values["nearest_snow_station"].value == first["station"] == "ANB"
    assert r.value("nearest_snow_distance") == pytest.approx(first["km"], abs=0.05)
    assert r.values["nearest_snow_weather"].value == first["wx"]
    assert r.values["nearest_snow_time"].value == pd.Timestamp(first["valid"]).strftime("%Y-%m-%dT%H:%MZ")
    pl = near[near["wx"].str.contains("PL")]
    assert r.value("n_ice_pellets_stations") == pl["station"].nunique() == 7
    fz = near[near["wx"].str.contains("FZRA|FZDZ")]
    assert r.value("n_freezing_precipitation_stations") == fz["station"].nunique() == 0
    assert r.values["nearest_freezing_precipitation_station"].value is None
    # precipitation at many stations, freezing at none: the freezing-rain refutation is met
    assert r.value("freezing_fraction") == 0.0 and precip["station"].nunique() >= 5
    assert r.values["freezing_fraction"].note == f"0 of {precip['station'].nunique()} stations with precipitation"
    from hvrmet.knowledge import default_store
    from hvrmet.knowledge.conditions import evaluate_condition

    card = next(c for c in default_store().cards if c.id == "idx-station-present-weather")
    (cond,) = [c for c in card.conditions if c.field == "freezing_fraction"]
    assert cond.meaning == "refutes" and cond.hazard == "freezing_rain"
    assert evaluate_condition(card.id, cond, r).met is True
    assert r.values["nearest_freezing_precipitation_distance"].note.startswith("no station reports")
    ts = near[near["wx"].str.contains("TS")]
    assert r.value("n_thunder_stations") == ts["station"].nunique()
    # the reports are 20-30 h before the case time: flagged, and the stream says so
    assert r.values["outside_time_window"].value is True and "outside the time window" in r.summary
    assert r.table and r.table[0]["station"] == "ANB"


def test_snow_fraction_needs_enough_precipitating_stations():
    r = call_tool("summarize_present_weather", {"case": "superstorm1993", "radius": 300,
                                                "min_precipitation_stations": 1000})
    assert r.ok, r.error
    for name in ("snow_fraction", "freezing_fraction"):
        assert r.values[name].value is None
        assert r.values[name].note.startswith("not computable: ") and "fewer than the 1000" in r.values[name].note


def test_metar_groups_are_joined_from_metpy_decoder(load, data_dir):
    """The METAR reader keeps every weather group of a report (MetPy's ``current_wx1..3``),
    so 'TSRA BR' is thunder and rain; in July 2019 no station within 1500 km of 39N 98W
    reports snow."""
    from metpy.io import parse_metar_file

    ds = load("metar20190701", "surface_obs")
    ref = parse_metar_file(str(data_dir / "metpy/staticdata/metar_20190701_1200.txt"), year=2019, month=7)
    two = ref[ref["current_wx2"].notna() & (ref["current_wx2"].astype(str).str.strip() != "")]
    assert len(two) > 0
    joined = set(ds["present_weather"].values.astype(str))
    for row in two.head(20).itertuples():
        expect = " ".join(str(g) for g in (row.current_wx1, row.current_wx2, row.current_wx3)
                          if isinstance(g, str) and g.strip())
        assert expect in joined
    r = call_tool("summarize_present_weather", {"case": "metar20190701"})
    assert r.ok, r.error
    assert r.value("n_snow_stations") == 0 and r.value("snow_fraction") == 0.0
    assert r.value("n_thunder_stations") > 0 and r.values["nearest_snow_station"].value is None


def test_observations_without_present_weather(tmp_path, data_dir):
    """A station CSV without a weather column: the tool says so, naming what the file holds."""
    src = pd.read_csv(data_dir / "metpy/staticdata/SFC_obs.csv", low_memory=False, nrows=400)
    src.drop(columns=["wxcodes"]).to_csv(tmp_path / "obs.csv", index=False)
    case = {"id": "nowx", "title": "stations without present weather", "time": "1993-03-12T12:00:00Z",
            "location": {"lat": 33.0, "lon": -84.0, "place": "Georgia"}, "events": [], "data_dir": str(tmp_path),
            "files": [{"role": "surface_obs", "format": "surface_csv", "path": "obs.csv"}]}
    (tmp_path / "nowx.yaml").write_text(yaml.safe_dump(case))
    r = call_tool("summarize_present_weather", {"case": str(tmp_path / "nowx.yaml")})
    assert not r.ok and "no present weather" in r.error and "air_pressure_at_sea_level" in r.error


def test_thunder_reports_alone_raise_ordinary_convection(load, data_dir, tmp_path):
    """Station reports alone: thunder (TS, VCTS) at nine stations within 1500 km of 39N 98W
    in the July 2019 METARs, counted here from MetPy's own decoding of the file and pyproj
    distances, fires ``station_thunder_reports``, which raises ordinary convection, and the
    thunder count is its evidence (a hypothesis from the station network alone)."""
    from metpy.io import parse_metar_file
    from pyproj import Geod

    from hvrmet.agents.configuration import Configuration
    from hvrmet.runs import diagnose

    load("metar20190701", "surface_obs")  # the station tables, offline
    ref = parse_metar_file(str(data_dir / "metpy/staticdata/metar_20190701_1200.txt"), year=2019,
                           month=7).reset_index(drop=True).dropna(subset=["latitude", "longitude"])
    _, _, d = Geod(ellps="WGS84").inv(np.full(len(ref), -98.0), np.full(len(ref), 39.0), ref["longitude"].to_numpy(),
                                      ref["latitude"].to_numpy())
    wx = ref[["current_wx1", "current_wx2", "current_wx3"]].fillna("").astype(str).agg(" ".join, axis=1)
    ts = ref[(d / 1000.0 <= 1500.0) & wx.str.contains("TS").to_numpy()]
    n = ts["station_id"].nunique()
    assert n == 9
    state = diagnose("metar20190701", Configuration(out_dir=str(tmp_path), figures=False))
    sig = {s["id"]: s for s in state["signals"]}
    assert sig["station_thunder_reports"]["value"] == n
    conv = [h for h in state["hypotheses"] if h["hazard"] == "ordinary_convection"]
    assert conv and conv[0]["status"] != "refuted"
    assert conv[0]["posterior"] > conv[0]["prior"]
    ev = {e["id"]: e for e in state["evidence"]}
    assert any(ev[i]["tool"] == "summarize_present_weather" for i in conv[0]["evidence_ids"])


def test_a_tornado_report_raises_a_tornado_hypothesis(tmp_path, data_dir):
    """The superstorm's first 400 station reports with one report of the station nearest
    to 33N 84W (by pyproj) rewritten as ``+FC`` (a tornado): the tool counts one tornado
    station and names it, ``station_tornado_report`` fires, and the tornadic-supercell
    hypothesis is proposed with the report as evidence; ``FC`` alone (a funnel cloud)
    fires nothing."""
    from pyproj import Geod

    from hvrmet.agents.configuration import Configuration
    from hvrmet.runs import diagnose

    src = pd.read_csv(data_dir / "metpy/staticdata/SFC_obs.csv", low_memory=False, nrows=400)
    _, _, d = Geod(ellps="WGS84").inv(np.full(len(src), -84.0), np.full(len(src), 33.0), src["lon"].to_numpy(),
                                      src["lat"].to_numpy())
    i = int(np.nanargmin(d))
    for code, seen in (("+FC", True), ("FC", False)):
        obs = src.copy()
        obs.loc[i, "wxcodes"] = code
        name = f"fc{int(seen)}"
        obs.to_csv(tmp_path / f"{name}.csv", index=False)
        case = {"id": name, "title": "stations with a funnel cloud report", "time": "1993-03-12T07:00:00Z",
                "location": {"lat": 33.0, "lon": -84.0, "place": "Georgia"}, "events": [], "data_dir": str(tmp_path),
                "files": [{"role": "surface_obs", "format": "surface_csv", "path": f"{name}.csv"}]}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(case))
        r = call_tool("summarize_present_weather", {"case": str(tmp_path / f"{name}.yaml")})
        assert r.ok, r.error
        assert r.value("n_funnel_cloud_stations") >= 1
        assert r.value("n_tornado_stations") == int(seen)
        if seen:
            assert r.values["nearest_tornado_station"].value == src.loc[i, "station"]
            assert r.value("nearest_tornado_distance") == pytest.approx(d[i] / 1000.0, abs=0.05)
        state = diagnose(str(tmp_path / f"{name}.yaml"), Configuration(out_dir=str(tmp_path / name), figures=False))
        assert ("station_tornado_report" in {s["id"] for s in state["signals"]}) is seen
        tor = [h for h in state["hypotheses"] if h["hazard"] == "tornadic_supercell"]
        assert bool(tor) is seen
        if seen:
            ev = {e["id"]: e for e in state["evidence"]}
            assert any(ev[k]["tool"] == "summarize_present_weather" for k in tor[0]["evidence_ids"])
            assert tor[0]["posterior"] > tor[0]["prior"]
