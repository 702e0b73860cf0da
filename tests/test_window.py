"""The search window around a case's place and time: stations, couplets and Level III
features picked by their distance from the place (checked against distances computed
here with a haversine formula, independent of the tools' pyproj geodesics), the window
recorded in every result, its overrides, and data outside the time window weighed less
in the ledger."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from hvrmet.agents.accounting import ledger
from hvrmet.agents.evidence import run_check
from hvrmet.agents.state import Evidence, Hypothesis, PlannedCheck, Verdict
from hvrmet.cases import get_case
from hvrmet.knowledge import default_store
from hvrmet.tools import call_tool, list_tools
from hvrmet.tools.window import DEFAULTS, WINDOW_OUTPUTS, defaults_markdown

pytestmark = pytest.mark.usefixtures("data_dir")

W = default_store().weights
EARTH_KM = 6371.0088  # mean radius (IUGG)


def _haversine(lat0, lon0, lat1, lon1):
    p0, p1 = np.radians(lat0), np.radians(np.asarray(lat1, float))
    dl = np.radians(np.asarray(lon1, float) - lon0)
    a = np.sin((p1 - p0) / 2) ** 2 + np.cos(p0) * np.cos(p1) * np.sin(dl / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(a))


def _bearing(lat0, lon0, lat1, lon1):
    p0, p1, dl = math.radians(lat0), math.radians(lat1), math.radians(lon1 - lon0)
    y = math.sin(dl) * math.cos(p1)
    x = math.cos(p0) * math.sin(p1) - math.sin(p0) * math.cos(p1) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def _ok(name, args):
    r = call_tool(name, args)
    assert r.ok, r.error
    return r


# ----------------------------------------------------------------------------- the table
def test_defaults_are_one_documented_table():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "windows.md").read_text()
    assert defaults_markdown() in doc
    assert DEFAULTS["radar"].scale == DEFAULTS["level3"].scale == "storm"
    assert 50 <= DEFAULTS["radar"].radius_km <= 100 and 50 <= DEFAULTS["level3"].radius_km <= 100
    assert 1000 <= DEFAULTS["gridded"].radius_km <= 1500 and 1000 <= DEFAULTS["stations"].radius_km <= 1500
    assert all(len(d.why) > 40 for d in DEFAULTS.values())


def test_every_windowed_tool_records_its_window():
    windowed = [t for t in list_tools() if set(WINDOW_OUTPUTS) <= set(t.outputs)]
    cats = {t.category for t in windowed}
    assert {"radar", "level3", "gridded", "surface"} <= cats
    for t in windowed:
        assert {"radius", "time_window"} <= set(t.input_model.model_fields), t.name
    r = _ok("find_pressure_minimum", {"case": "cyclone2010"})
    case = get_case("cyclone2010")
    assert r.value("window_radius") == DEFAULTS["gridded"].radius_km and r.values["window_radius"].units == "km"
    assert (r.value("window_center_lat"), r.value("window_center_lon")) == (case.location.lat, case.location.lon)
    assert r.values["window_center_time"].value == "2010-10-26T12:00Z"
    assert r.values["data_time"].value == "2010-10-26T12:00Z" and r.value("data_time_offset") == 0.0
    assert r.values["outside_time_window"].value is False and r.values["data_time_offset"].units == "hour"
    # the minimum lies inside the window (independent haversine)
    assert _haversine(case.location.lat, case.location.lon, r.value("min_pressure_lat"),
                      r.value("min_pressure_lon")) <= DEFAULTS["gridded"].radius_km


# ----------------------------------------------------------------------------- superstorm1993
@pytest.fixture(scope="module")
def sfc(data_dir):
    """The station CSV read here with pandas (not the project's reader)."""
    df = pd.read_csv(data_dir / "metpy/staticdata/SFC_obs.csv", parse_dates=["valid"])
    df = df.drop_duplicates(["station", "valid"], keep="first")
    case = get_case("superstorm1993")
    df["d"] = _haversine(case.location.lat, case.location.lon, df.lat, df.lon)
    return df, case


def _extreme(df, col, how, radius):
    """The in-window extreme (haversine distances), and the stations holding it; no report
    near the edge (where a haversine and the tools' geodesic may disagree) could beat it."""
    inside = df[df.d <= radius].dropna(subset=[col])
    best = inside[col].min() if how == "min" else inside[col].max()
    edge = df[(df.d - radius).abs() < 0.01 * radius].dropna(subset=[col])
    assert not ((edge[col] < best) if how == "min" else (edge[col] > best)).any()
    return best, set(inside.loc[inside[col] == best, "station"])


def test_superstorm1993_screens_only_stations_in_its_window(sfc):
    df, _ = sfc
    radius = DEFAULTS["stations"].radius_km
    far = {"PASY": "Shemya", "MWN": "Mount Washington", "MFE": "McAllen"}
    for st in far:  # each lies beyond the window
        assert df.loc[df.station == st, "d"].min() > radius, st

    dist = df.groupby("station")["d"].first()
    low = _ok("find_pressure_minimum_station", {"case": "superstorm1993", "qc": False})
    best, where = _extreme(df, "mslp", "min", radius)
    assert low.value("min_pressure") == best and low.values["min_pressure_station"].value in where
    st = low.values["min_pressure_station"].value
    assert low.value("min_pressure_distance") == pytest.approx(dist[st], rel=0.006)
    n = df.mslp.notna()
    assert (df[n].d <= 0.99 * radius).sum() <= low.value("n_reports") <= (df[n].d <= 1.01 * radius).sum()

    wind = _ok("find_strongest_winds", {"case": "superstorm1993"})
    best, where = _extreme(df, "sknt", "max", radius)
    assert wind.value("max_wind_speed") == best and wind.values["max_wind_speed_station"].value in where
    st = wind.values["max_wind_speed_station"].value
    assert wind.value("max_wind_speed_distance") == pytest.approx(dist[st], rel=0.006)
    best, where = _extreme(df, "gust", "max", radius)
    assert wind.value("max_wind_gust") == best and wind.values["max_wind_gust_station"].value in where

    fall = _ok("compute_pressure_tendency", {"case": "superstorm1993", "qc": False, "tolerance": 0})
    hourly = df[(df.d <= radius) & (df.valid.dt.minute == 0) & df.mslp.notna()]
    pv = hourly.pivot(index="valid", columns="station", values="mslp")
    ch = (pv - pv.shift(freq="3h")).stack().rename("change").reset_index().dropna()
    ch = ch[ch.change.abs() <= 25]
    f = ch.loc[ch.change.idxmin()]
    assert fall.value("max_fall") == pytest.approx(round(f.change, 1))
    assert fall.values["max_fall_station"].value == f.station

    reported = {r.values[k].value for r in (low, wind, fall) for k in r.values if k.endswith("_station")}
    assert not reported & set(far), reported
    for r in (low, wind, fall):
        assert all(row["station"] not in far for row in r.table)
        assert all(row["distance_km"] <= radius + 1 for row in r.table)

    # the reports are from 12 March 06-16 UTC, 20-30 h before the case time: said, and flagged
    for r in (low, wind, fall):
        assert r.values["outside_time_window"].value is True
        assert r.value("data_time_offset") < -DEFAULTS["stations"].time_window_h
        assert any("before the case time" in w and "outside the time window" in w for w in r.warnings), r.warnings
        assert "outside the time window" in r.summary


def test_a_station_window_override_works(sfc):
    df, _ = sfc
    r = _ok("find_strongest_winds", {"case": "superstorm1993", "radius": "500 km", "time_window": "36 h"})
    assert r.value("window_radius") == 500.0 and r.value("window_time_window") == 36.0
    inside = df[df.d <= 500].dropna(subset=["sknt"])
    assert r.value("max_wind_speed") == inside.sknt.max()
    assert all(row["distance_km"] <= 501 for row in r.table)
    # within 36 h of the case time the reports are inside the time window: no flag, no warning
    assert r.values["outside_time_window"].value is False
    assert not any("outside the time window" in w for w in r.warnings)
    # a box without a radius replaces the radius (and a whole-globe radius takes every station)
    box = _ok("find_strongest_winds", {"case": "superstorm1993", "lat_min": 24, "lat_max": 31, "lon_min": -98,
                                       "lon_max": -80})
    assert box.values["window_radius"].value is None
    sub = df[df.lat.between(24, 31) & df.lon.between(-98, -80)]
    assert box.value("max_wind_speed") == sub.sknt.max()
    globe = _ok("find_pressure_minimum_station", {"case": "superstorm1993", "radius": "20038 km"})
    assert globe.values["min_pressure_station"].value == "PASY"


# ----------------------------------------------------------------------------- may1999
def test_may1999_rotation_names_the_couplets_distance_from_the_place():
    case = get_case("may1999")
    r = _ok("detect_rotation", {"case": "may1999"})
    lat, lon = r.value("couplet_lat"), r.value("couplet_lon")
    d = float(_haversine(case.location.lat, case.location.lon, lat, lon))
    assert r.value("couplet_distance") == pytest.approx(d, rel=0.006, abs=0.2)
    assert r.values["couplet_distance"].units == "km"
    assert r.value("couplet_bearing") == pytest.approx(_bearing(case.location.lat, case.location.lon, lat, lon),
                                                       abs=1.0)
    assert d <= DEFAULTS["radar"].radius_km
    assert f"{r.value('couplet_distance'):.1f} km" in r.summary
    assert r.value("max_rotational_velocity") >= 20 and r.values["mesocyclone_flag"].value is True
    assert r.values["outside_time_window"].value is False and r.value("data_time_offset") == 0.0
    for row in r.table:  # every couplet counted lies inside the window
        assert _haversine(case.location.lat, case.location.lon, row["lat"], row["lon"]) <= \
            DEFAULTS["radar"].radius_km * 1.01
    near = r.value("nearest_couplet_distance")
    assert near <= r.value("couplet_distance")
    # a window that leaves the couplet out: the strongest couplet inside is another, nearer one
    small = _ok("detect_rotation", {"case": "may1999", "radius": f"{math.floor(d) - 5} km"})
    assert small.value("couplet_distance") is None or small.value("couplet_distance") < d - 5


# ----------------------------------------------------------------------------- Level III
def _fake_tvs(site_lat, site_lon):
    """A TVS product as MetPy decodes one (no real NTV file in the data folder): a strong
    TVS 55 nm (102 km) from the radar and a weaker ETVS 10 nm (19 km) from it."""
    from hvrmet.data.readers import nexrad_level3 as l3

    tab = ("                         Tornado Vortex Signature\n"
           " Feat  Storm   AZ/RAN  AVGDV  LLDV  MXDV/Hgt   Depth    Base/Top   MXSHR/Hgt\n"
           "  TVS    Q0   246/ 55    61    82    91/ 3.9    >12.8  < 1.2/ 14.0    55/ 1.2\n"
           " ETVS    F4   100/ 10    40    45    60/ 8.0      9.0    5.0/ 14.0    30/ 6.0")
    x, y = l3._azran_xy(246, 55)
    x2, y2 = l3._azran_xy(100, 10)
    f = SimpleNamespace(sym_block=[[{"x": x, "y": y, "type": "TVS"}, {"x": x2, "y": y2, "type": "ETVS"}]],
                        tab_pages=[tab], graph_pages=[], metadata={"num_tvs": 1, "num_etvs": 1},
                        lat=site_lat, lon=site_lon, height=300)
    ds = l3._tvs(Path("ntv"), f, [])
    ds.attrs.update(product_name="Tornado Vortex Signature", volume_time="2016-05-26T21:54:42")
    return ds


def test_level3_tvs_picks_detections_by_distance(tmp_path, data_dir, monkeypatch):
    from hvrmet.tools.context import ToolContext

    src = get_case("mci20160526")
    data = yaml.safe_load(Path(src.source_path).read_text()) if src.source_path else None
    if data is None:
        from importlib import resources
        data = yaml.safe_load(resources.files("hvrmet.cases").joinpath("catalogue", "mci20160526.yaml").read_text())
    data.update(id="tvs-window", events=[], data_dir=str(data_dir))
    data["files"].append({"role": "level3_tornado_vortex_signature", "format": "nexrad_level3",
                          "path": "metpy/staticdata/nids/Level3_MCI_NMD_20160526_2154.nids"})
    case_file = tmp_path / "tvs.yaml"
    case_file.write_text(yaml.safe_dump(data))
    lat0, lon0 = data["location"]["lat"], data["location"]["lon"]
    fake = _fake_tvs(lat0, lon0)
    real_load = ToolContext.load
    monkeypatch.setattr(ToolContext, "load", lambda self, role: fake if role == "level3_tornado_vortex_signature"
                        else real_load(self, role))

    d = _haversine(lat0, lon0, fake.lat.values, fake.lon.values)
    near, far = int(np.argmin(d)), int(np.argmax(d))
    assert d[near] < DEFAULTS["level3"].radius_km < d[far]
    r = _ok("get_tvs_detections", {"case": str(case_file)})
    assert r.value("tvs_in_products") == 2 and r.value("tvs_count") == 1 and r.value("tvs_outside_window") == 1
    assert r.values["nearest_tvs_storm_id"].value == r.values["strongest_tvs_storm_id"].value == "F4"
    assert r.value("nearest_tvs_distance") == pytest.approx(d[near], rel=0.006)
    assert r.value("strongest_tvs_distance") == pytest.approx(d[near], rel=0.006)
    assert r.value("nearest_tvs_bearing") == pytest.approx(
        _bearing(lat0, lon0, float(fake.lat.values[near]), float(fake.lon.values[near])), abs=1.0)
    assert r.value("strongest_tvs_max_shear") == pytest.approx(0.030)
    assert any("outside the window" in w and "Q0" in w for w in r.warnings), r.warnings
    assert {row["storm_id"]: row["in_window"] for row in r.table} == {"Q0": False, "F4": True}
    # a wider window takes the stronger, farther TVS as the strongest
    wide = _ok("get_tvs_detections", {"case": str(case_file), "radius": "150 km"})
    assert wide.value("tvs_count") == 2 and wide.values["strongest_tvs_storm_id"].value == "Q0"
    assert wide.value("strongest_tvs_distance") == pytest.approx(d[far], rel=0.006)
    assert wide.values["nearest_tvs_storm_id"].value == "F4"


def test_level3_mesocyclones_inside_the_window():
    case = get_case("mci20160526")
    r = _ok("get_mesocyclones", {"case": "mci20160526", "radius": "40 km"})
    d = {row["circulation_id"]: float(_haversine(case.location.lat, case.location.lon, row["lat"], row["lon"]))
         for row in r.table}
    inside = {k for k, v in d.items() if v <= 40}
    assert 0 < len(inside) < len(d)
    assert r.value("mesocyclone_count") == len(inside)
    assert {row["circulation_id"] for row in r.table if row["in_window"]} == inside
    assert r.values["strongest_circulation_id"].value in inside and r.values["nearest_circulation_id"].value in inside
    assert r.values["nearest_circulation_id"].value == min(inside, key=d.get)
    assert r.value("nearest_distance") == pytest.approx(min(d[k] for k in inside), rel=0.006)
    assert r.value("strongest_distance") == pytest.approx(d[r.values["strongest_circulation_id"].value], rel=0.006)
    hail = _ok("get_hail_index", {"case": "mci20160526", "radius": "40 km"})
    assert all(_haversine(case.location.lat, case.location.lon, row["lat"], row["lon"]) <= 40.5 for row in hail.table)


# ----------------------------------------------------------------------------- the ledger
def _verdict(field="min_pressure"):
    return Verdict(hypothesis_id="H1", hazard="extratropical_cyclone", card="c1", condition=f"{field} <= 980 hPa",
                   field=field, op="<=", meaning="supports", met=True, value=975.0, units="hPa", threshold=980.0,
                   threshold_units="hPa")


def test_an_out_of_window_number_is_weighted_by_the_factor():
    assert 0 < W.outside_time_window < 1
    h = Hypothesis(id="H1", hazard="extratropical_cyclone", statement="s", prior=0.3, posterior=0.3)
    inside = Evidence(id="E1-H1-1", loop=1, tool="find_pressure_minimum", arguments={"case": "x"}, ok=True,
                      verdicts=[_verdict()])
    outside = inside.model_copy(update={"id": "E1-H1-2", "tool": "find_pressure_minimum_station",
                                        "outside_time_window": True, "data_time_offset": -26.0})
    led = ledger(h, [inside, outside], W)
    by = {c.evidence_id: c for c in led.counted()}
    assert by["E1-H1-1"].weight == W.meanings.supports and by["E1-H1-1"].scale == 1.0
    assert by["E1-H1-2"].weight == pytest.approx(W.meanings.supports * W.outside_time_window)
    assert by["E1-H1-2"].scale == W.outside_time_window
    note = by["E1-H1-2"].note
    assert "outside_time_window" in note and "-26.0 h" in note and f"{W.meanings.supports:+.2f}" in note
    assert led.total == pytest.approx(led.check_sum()) == pytest.approx(
        led.logit_prior + W.meanings.supports * (1 + W.outside_time_window))


def test_run_check_carries_the_window_into_the_evidence():
    ev = run_check(PlannedCheck(tool="find_pressure_minimum_station", args={}), "superstorm1993", None,
                   origin="screen", loop=0, seq=1)
    assert ev.ok and ev.outside_time_window is True and ev.data_time_offset < -12
    assert any("outside the time window" in w for w in ev.warnings)
    assert ev.values["window_radius"]["value"] == DEFAULTS["stations"].radius_km
    ok = run_check(PlannedCheck(tool="find_pressure_minimum", args={}), "cyclone2010", None,
                   origin="screen", loop=0, seq=2)
    assert ok.outside_time_window is False and ok.data_time_offset == 0.0


# ----------------------------------------------------------------------------- looking wider
def test_a_wider_window_number_is_weighted_by_its_factor_on_top_of_the_time_factor():
    from hvrmet.tools.window import WIDER_FACTOR

    assert 0 < W.wider_window < 1 and WIDER_FACTOR > 1
    h = Hypothesis(id="H1", hazard="tornadic_supercell", statement="s", prior=0.3, posterior=0.3)
    v = Verdict(hypothesis_id="H1", hazard="tornadic_supercell", card="c1", condition="mesocyclone_flag == True",
                field="mesocyclone_flag", op="==", meaning="supports", met=True, value=True, units="", threshold=True)
    near = Evidence(id="E1-H1-1", loop=1, tool="detect_rotation", arguments={"case": "x"}, ok=True, verdicts=[v])
    wide = near.model_copy(update={"id": "E2-H1-1", "arguments": {"case": "x", "radius": 150.0}, "widened_from": 75.0})
    both = wide.model_copy(update={"id": "E2-H1-2", "arguments": {"case": "x", "radius": 151.0},
                                   "outside_time_window": True, "data_time_offset": 3.0})
    led = ledger(h, [near, wide, both], W)
    by = {c.evidence_id: c for c in led.counted()}
    assert by["E1-H1-1"].weight == W.meanings.supports and by["E1-H1-1"].scale == 1.0
    assert by["E2-H1-1"].weight == pytest.approx(W.meanings.supports * W.wider_window)
    assert by["E2-H1-1"].scale == pytest.approx(W.wider_window)
    assert "wider_window" in by["E2-H1-1"].note and "150 km" in by["E2-H1-1"].note and "75 km" in by["E2-H1-1"].note
    assert by["E2-H1-2"].weight == pytest.approx(W.meanings.supports * W.wider_window * W.outside_time_window)
    assert by["E2-H1-2"].scale == pytest.approx(W.wider_window * W.outside_time_window)
    assert led.total == pytest.approx(led.check_sum())


def _ctx(case: str, evidence: list[Evidence], roles: list[str]):
    from hvrmet.agents.brain import BrainContext

    return BrainContext(case=case, roles=roles, time="", location={}, loop=1, evidence=evidence)


def test_wider_checks_are_planned_only_for_storm_scale_checks_that_ran_in_their_window():
    from hvrmet.agents.expert import ExpertPolicy
    from hvrmet.tools.window import WIDER_FACTOR

    pol = ExpertPolicy()
    ran = Evidence(id="E0-S1", loop=0, tool="detect_rotation", arguments={"case": "may1999"}, ok=True)
    failed = Evidence(id="E0-S2", loop=0, tool="compute_vil", arguments={"case": "may1999"}, ok=False, error="x")
    sounding = Evidence(id="E0-S3", loop=0, tool="summarize_sounding", arguments={"case": "may1999"}, ok=True)
    wide = pol.widened("tornadic_supercell", _ctx("may1999", [ran, failed, sounding], ["radar_volume", "sounding"]))
    assert [c.tool for c in wide] == ["detect_rotation"]            # not the failed one, not a sounding tool
    (c,) = wide
    assert c.args["radius"] == DEFAULTS["radar"].radius_km * WIDER_FACTOR and c.widened_from == DEFAULTS["radar"].radius_km
    # a check already given a radius is not widened again
    given = ran.model_copy(update={"arguments": {"case": "may1999", "radius": 150.0}})
    assert pol.widened("tornadic_supercell", _ctx("may1999", [given], ["radar_volume"])) == []
    # a case whose place is a region searched its area (200 km): wider is twice that, never narrower
    region = ran.model_copy(update={"values": {"window_radius": {"value": 200.0, "units": "km"}}})
    (c,) = pol.widened("tornadic_supercell", _ctx("may1999", [region], ["radar_volume"]))
    assert c.args["radius"] == 200.0 * WIDER_FACTOR and c.widened_from == 200.0


def test_a_wider_check_runs_only_when_it_could_change_a_status(tmp_path):
    """klbb20160601's hail and tornado hypotheses stay open after loop 1: the policy looks
    wider, each wider check chosen for what it could decide, weighed by its factor."""
    import json

    from hvrmet.api import diagnose

    res = diagnose("klbb20160601", figures=False, out_dir=str(tmp_path))
    state = json.loads(Path(res.report.trace).read_text())
    wide = [e for e in state["evidence"] if e.get("widened_from")]
    assert wide, "no wider check on a case whose hypotheses stay open after loop 1"
    for e in wide:
        assert e["loop"] >= 2 and e["arguments"]["radius"] == 2 * e["widened_from"]
    hyps = {h["id"]: h for h in state["hypotheses"]}
    for e in wide:
        h = hyps[e["for_hypothesis"]]
        terms = [c for c in (h.get("ledger") or {}).get("contributions", []) if c["evidence_id"] == e["id"] and c["counted"]]
        assert all("wider_window" in c["note"] for c in terms)
        planned = [c for d in state["decisions"] for c in d.get("checks", []) if c["evidence"] == e["id"]]
        assert planned and all("could make it" in c["expected"] for c in planned)


@pytest.mark.parametrize("lat0,lon0,radius", [
    (35.33, -97.28, 75.0),     # storm scale, mid-latitudes
    (0.0, 179.9, 500.0),       # across the date line, on the equator
    (-64.0, -60.0, 1500.0),    # synoptic scale, high southern latitude
    (88.5, 10.0, 300.0),       # a circle that reaches the pole
    (45.0, 0.0, 20038.0),      # the whole globe
])
def test_window_mask_matches_geodesics_of_every_point(lat0, lon0, radius):
    """The box that spares most points a geodesic drops no point inside the circle:
    the mask equals pyproj's geodesic distance of every point against the radius."""
    from pyproj import Geod

    from hvrmet.tools.window import Window

    rng = np.random.default_rng(7)
    lat = np.clip(lat0 + rng.uniform(-30, 30, 20000), -90, 90)
    lon = (lon0 + rng.uniform(-60, 60, 20000) + 180.0) % 360.0 - 180.0
    # points just inside and just outside the circle, all round it
    az = rng.uniform(0, 360, 4000)
    for f in (0.999, 1.001):
        lo, la, _ = Geod(ellps="WGS84").fwd(np.full(az.size, lon0), np.full(az.size, lat0), az,
                                            np.full(az.size, min(radius * f, 19990.0) * 1000.0))
        lat, lon = np.r_[lat, la], np.r_[lon, lo]
    _, _, d = Geod(ellps="WGS84").inv(np.full(lat.size, lon0), np.full(lat.size, lat0), lon, lat)
    want = d / 1000.0 <= radius
    win = Window(kind="radar", lat=lat0, lon=lon0, center_time=None, radius_km=radius, time_window_h=1.0)
    got = win.mask(lat.reshape(-1, 100), lon.reshape(-1, 100)).ravel()
    assert want.any() and (~want).any() or radius > 20000
    np.testing.assert_array_equal(got, want)


def test_window_mask_of_the_same_grid_follows_the_window():
    """Masks of one grid are reused only for the same window: a second radius or centre on
    the very same arrays gives its own geodesic mask."""
    from pyproj import Geod

    from hvrmet.tools.window import Window

    lat, lon = np.meshgrid(np.linspace(33, 38, 150), np.linspace(-100, -94, 160), indexing="ij")
    geod = Geod(ellps="WGS84")
    for lat0, lon0, radius in ((35.3, -97.3, 75.0), (35.3, -97.3, 230.0), (36.0, -96.0, 75.0), (35.3, -97.3, 75.0),
                               (35.3, -97.3, 75.0)):
        _, _, d = geod.inv(np.full(lat.size, lon0), np.full(lat.size, lat0), lon.ravel(), lat.ravel())
        win = Window(kind="radar", lat=lat0, lon=lon0, center_time=None, radius_km=radius, time_window_h=1.0)
        got = win.mask(lat, lon)
        np.testing.assert_array_equal(got.ravel(), d / 1000.0 <= radius)
        got[:] = False  # a caller's change does not reach the next call


# ----------------------------------------------------------------------------- soundings
def test_a_sounding_records_its_launch_time_and_distance_from_the_place():
    """may1999: OUN's 00 UTC launch is 4 min after the case time and 22.5 km from the place
    (pyproj on the station position the case gives)."""
    from pyproj import Geod

    case = get_case("may1999")
    r = _ok("compute_mlcape", {"case": "may1999"})
    _, _, d = Geod(ellps="WGS84").inv(case.location.lon, case.location.lat, -97.44, 35.18)
    assert r.value("station_distance") == pytest.approx(d / 1000.0, abs=0.1)
    assert r.values["data_time"].value == "1999-05-04T00:00Z" and r.value("data_time_offset") == pytest.approx(0.06)
    assert r.values["outside_time_window"].value is False
    assert r.value("window_radius") == DEFAULTS["sounding"].radius_km == 300.0


def test_a_sounding_far_in_time_or_space_is_flagged(tmp_path):
    """The same sounding for a case 9 h later and 400 km away: outside the 6 h window (its
    numbers weigh less) and beyond the 300 km it stands for (a warning); with a wider time
    window it is inside again."""
    src = yaml.safe_load((Path(__file__).resolve().parents[1] / "hvrmet/cases/catalogue/may1999.yaml").read_text())
    src.update(id="may1999-late", time="1999-05-04T09:00:00Z",
               location={"lat": 35.33 + 400 / 111.2, "lon": -97.28, "place": "north of Norman"})
    src["files"] = [f for f in src["files"] if f["role"] == "sounding"]
    path = tmp_path / "late.yaml"
    path.write_text(yaml.safe_dump(src))
    r = _ok("compute_mlcape", {"case": str(path)})
    assert r.values["outside_time_window"].value is True and r.value("data_time_offset") == pytest.approx(-9.0)
    assert any("outside the time window" in w for w in r.warnings)
    assert any("beyond the 300 km" in w for w in r.warnings) and r.value("station_distance") > 300
    assert r.value("mlcape") == pytest.approx(_ok("compute_mlcape", {"case": "may1999"}).value("mlcape"))
    wide = _ok("compute_mlcape", {"case": str(path), "time_window": 12, "radius": 500})
    assert wide.values["outside_time_window"].value is False and not any("beyond" in w for w in wide.warnings)


def test_deepening_rate_of_two_analyses_inside_the_window(tmp_path, data_dir):
    """Two analysis times 12 h apart (GFS_test.nc's MSLP, then 6 hPa lower everywhere):
    12 hPa/day at the lowest pressure within 1500 km of the place (pyproj, by hand), the
    Bergerons by Sanders and Gyakum's scaling, the last analysis as the data time."""
    import xarray as xr
    from pyproj import Geod

    src = xr.open_dataset(data_dir / "metpy/staticdata/GFS_test.nc")
    p0 = src["Pressure_reduced_to_MSL_msl"].load()
    src.close()
    t0 = p0["time"].values[0]
    two = xr.concat([p0, (p0 - 600.0).assign_coords(time=[t0 + np.timedelta64(12, "h")])], dim="time")
    two.attrs = p0.attrs
    two.to_dataset(name="Pressure_reduced_to_MSL_msl").to_netcdf(tmp_path / "two.nc")
    case = yaml.safe_load((Path(__file__).resolve().parents[1] / "hvrmet/cases/catalogue/cyclone2010.yaml").read_text())
    case.update(id="cyclone2010-two", time="2010-10-27T00:00:00Z", data_dir=str(tmp_path),
                files=[{"role": "analysis", "format": "netcdf", "path": "two.nc"}])
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(case))
    r = _ok("compute_deepening_rate", {"case": str(tmp_path / "two.yaml")})
    lon2d, lat2d = np.meshgrid((p0["lon"].values + 180.0) % 360.0 - 180.0, p0["lat"].values)
    _, _, d = Geod(ellps="WGS84").inv(np.full(lat2d.size, case["location"]["lon"]),
                                      np.full(lat2d.size, case["location"]["lat"]), lon2d.ravel(), lat2d.ravel())
    inside = (d / 1000.0 <= 1500.0).reshape(lat2d.shape)
    first = np.where(inside, p0.values[0], np.nan) / 100.0
    iy, _ = np.unravel_index(np.nanargmin(first), first.shape)
    assert r.value("deepening_rate") == pytest.approx(12.0)
    assert r.value("last_min_pressure") == pytest.approx(round(np.nanmin(first) - 6.0, 1))
    lat = float(p0["lat"].values[iy])
    assert r.value("bergerons") == pytest.approx(12.0 / (24.0 * abs(math.sin(math.radians(lat))) / math.sin(math.radians(60.0))), abs=1e-3)
    assert r.values["data_time"].value == "2010-10-27T00:00Z" and r.values["outside_time_window"].value is False
    assert r.value("window_radius") == 1500.0


def test_a_region_place_widens_the_default_radius_only():
    """A case whose place is a region (``location.radius_km``) searches at least that far:
    a storm-scale or composite default widens to it, a synoptic default stays wider, an
    explicit radius or box wins; the record says why the radius is what it is."""
    from hvrmet.calc.gridded import Box
    from hvrmet.tools.window import window_of

    radar = window_of("radar", 60.0, 25.0, None, area_km=500.0)
    assert radar.radius_km == 500.0 and radar.area_km == 500.0
    assert "area of interest" in radar.values()["window_radius"].note
    assert window_of("composite", 60.0, 25.0, None, area_km=100.0).radius_km == DEFAULTS["composite"].radius_km
    synoptic = window_of("gridded", 60.0, 25.0, None, area_km=500.0)
    assert synoptic.radius_km == DEFAULTS["gridded"].radius_km and synoptic.values()["window_radius"].note == ""
    assert window_of("radar", 60.0, 25.0, None, radius_km=30.0, area_km=500.0).radius_km == 30.0
    boxed = window_of("radar", 60.0, 25.0, None, box=Box(lat_min=59, lat_max=61, lon_min=24, lon_max=26), area_km=500.0)
    assert boxed.radius_km is None
