"""Surface tools on the real 1993 superstorm station data and the 2021 heat-dome WPC
analysis, checked against independent pandas / numpy computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hvrmet.tools import call_tool
from hvrmet.tools.surface import buddy_check


def _ok(name, args):
    # the station tools are checked here over the whole network: a radius that takes in the
    # globe (their default window around the case's place is tested in test_window.py)
    r = call_tool(name, args if name == "locate_fronts" else {"radius": "20038 km", **args})
    assert r.ok, r.error
    return r


@pytest.fixture(scope="module")
def obs(load):
    ds = load("superstorm1993", "surface_obs")
    df = pd.DataFrame({"station": ds.station.values.astype(str), "time": pd.to_datetime(ds.time.values),
                       "lat": ds.lat.values, "lon": ds.lon.values, "p": ds.air_pressure_at_sea_level.values,
                       "wind": ds.wind_speed.values, "gust": ds.wind_gust.values})
    return df.drop_duplicates(["station", "time"])


def _haversine(lat0, lon0, lat1, lon1):
    p0, p1, dl = np.radians(lat0), np.radians(lat1), np.radians(lon1 - lon0)
    a = np.sin((p1 - p0) / 2) ** 2 + np.cos(p0) * np.cos(p1) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def test_strongest_winds_match_pandas_groupby(obs):
    r = _ok("find_strongest_winds", {"case": "superstorm1993"})
    per_station = obs.groupby("station")["wind"].max()
    assert r.value("max_wind_speed") == per_station.max() == 78.0
    assert r.values["max_wind_speed_station"].value == per_station.idxmax() == "MWN"
    row = obs.loc[obs["wind"].idxmax()]
    assert r.values["max_wind_speed_time"].value == row["time"].strftime("%Y-%m-%dT%H:%MZ")
    assert r.value("max_wind_speed_lat") == pytest.approx(row["lat"], abs=1e-4)
    gusts = obs.groupby("station")["gust"].max()
    assert r.value("max_wind_gust") == gusts.max() == 92.0
    assert r.values["max_wind_gust_station"].value == gusts.idxmax()
    assert r.values["max_wind_speed"].units == "knot"
    # away from the Mount Washington summit (box over the Gulf coast)
    r = _ok("find_strongest_winds", {"case": "superstorm1993", "lat_min": 24, "lat_max": 31, "lon_min": -98,
                                     "lon_max": -80})
    sub = obs[obs.lat.between(24, 31) & obs.lon.between(-98, -80)]
    assert r.value("max_wind_speed") == sub["wind"].max()
    assert r.values["max_wind_speed_station"].value == sub.loc[sub["wind"].idxmax(), "station"]
    assert r.value("max_wind_gust") == sub["gust"].max()


def _three_hour_changes(df):
    """Independent 3-h changes: a station x hour pivot of the on-the-hour reports."""
    hourly = df[(df.time.dt.minute == 0) & df.p.notna()]
    pv = hourly.pivot(index="time", columns="station", values="p")
    return (pv - pv.shift(freq="3h")).stack().rename("change").reset_index()


def test_pressure_tendency_without_qc_matches_pivot(obs):
    r = _ok("compute_pressure_tendency", {"case": "superstorm1993", "qc": False, "tolerance": 0})
    ch = _three_hour_changes(obs).dropna()
    ch = ch[ch.change.abs() <= 25]
    fall, rise = ch.loc[ch.change.idxmin()], ch.loc[ch.change.idxmax()]
    assert r.value("max_fall") == pytest.approx(round(fall.change, 1))
    assert r.values["max_fall_station"].value == fall.station == "DUJ"
    assert r.values["max_fall_time"].value == fall.time.strftime("%Y-%m-%dT%H:%MZ")
    assert r.value("max_rise") == pytest.approx(round(rise.change, 1))
    assert r.value("n_pairs") == len(ch)


def test_buddy_check_removes_the_bad_duj_reports(obs):
    """DUJ reports ~1002 hPa at 08-10 UTC while every station within 200 km reports ~1020."""
    df = obs.dropna(subset=["p"]).rename(columns={"p": "air_pressure_at_sea_level"}).reset_index(drop=True)
    at9 = df[df.time == "1993-03-12 09:00"]
    duj = at9[at9.station == "DUJ"].iloc[0]
    d = _haversine(duj.lat, duj.lon, at9.lat.values, at9.lon.values)
    near = at9[(d < 200) & (at9.station != "DUJ")]
    assert len(near) >= 3 and near.air_pressure_at_sea_level.median() > 1015
    bad = buddy_check(df)
    flagged = set(map(tuple, df.loc[bad, ["station", "time"]].astype(str).to_numpy()))
    for h in ("08", "09", "10"):
        assert ("DUJ", f"1993-03-12 {h}:00:00") in flagged
    assert bad.mean() < 0.01  # the check leaves out few reports

    r = _ok("compute_pressure_tendency", {"case": "superstorm1993", "tolerance": 0})
    kept = df[~bad].rename(columns={"air_pressure_at_sea_level": "p"})
    ch = _three_hour_changes(kept).dropna()
    fall = ch.loc[ch.change.idxmin()]
    assert r.value("max_fall") == pytest.approx(round(fall.change, 1))
    assert r.values["max_fall_station"].value == fall.station != "DUJ"
    assert -8 < r.value("max_fall") < -3  # south Texas, ahead of the developing Gulf low
    assert r.value("n_rejected") >= 3 and any("DUJ" in w for w in r.warnings)


def test_pressure_minimum_station(obs):
    box = {"lon_min": -100, "lon_max": -60}
    raw = _ok("find_pressure_minimum_station", {"case": "superstorm1993", "qc": False, **box})
    sub = obs[obs.lon.between(-100, -60)].dropna(subset=["p"])
    row = sub.loc[sub.p.idxmin()]
    assert raw.value("min_pressure") == row.p == 1002.0 and raw.values["min_pressure_station"].value == "DUJ"
    r = _ok("find_pressure_minimum_station", {"case": "superstorm1993", **box})
    good = sub[sub.station != "DUJ"]
    row = good.loc[good.p.idxmin()]
    assert r.value("min_pressure") == row.p and r.values["min_pressure_station"].value == row.station == "MFE"
    assert r.values["min_pressure_time"].value == "1993-03-12T10:00Z"
    everywhere = _ok("find_pressure_minimum_station", {"case": "superstorm1993"})
    assert everywhere.values["min_pressure_station"].value == "PASY"  # Aleutians, lon 174 E
    assert everywhere.value("min_pressure_lon") == pytest.approx(174.1169, abs=1e-3)


def test_locate_fronts_heat_dome(load):
    ds = load("heatdome2021", "fronts")
    ft = pd.Series(ds.feature_type.values.astype(str))
    r = _ok("locate_fronts", {"case": "heatdome2021"})
    for key, code in (("n_cold_fronts", "COLD"), ("n_warm_fronts", "WARM"), ("n_stationary_fronts", "STNRY"),
                      ("n_occluded_fronts", "OCFNT"), ("n_troughs", "TROF"), ("n_highs", "HIGH"), ("n_lows", "LOW")):
        assert r.value(key) == (ft == code).sum(), key
    assert len(r.values["highs"].value) == (ft == "HIGH").sum()
    vf = ds.vertex_feature.values
    cold = ft.values[vf] == "COLD"
    assert r.value("cold_front_lat_max") == pytest.approx(ds.vertex_lat.values[cold].max())
    assert r.value("cold_front_lon_min") == pytest.approx(ds.vertex_lon.values[cold].min())

    # Portland (the case location): no >= 1020 hPa high within 1000 km, a thermal low close by
    hi = ft.values == "HIGH"
    strong = hi & (ds.strength.values >= 1020)
    d = _haversine(45.6, -122.6, ds.lat.values[strong], ds.lon.values[strong])
    assert d.min() > 1000 and r.values["strong_high_nearby"].value is False
    assert r.value("nearest_strong_high_distance") == pytest.approx(d.min(), rel=0.01)
    assert r.value("nearest_strong_high_pressure") == ds.strength.values[strong][np.argmin(d)]
    lows = ft.values == "LOW"
    dl = _haversine(45.6, -122.6, ds.lat.values[lows], ds.lon.values[lows])
    assert r.value("nearest_low_pressure") == ds.strength.values[lows][np.argmin(dl)] == 1002.0
    assert r.value("nearest_low_distance") == pytest.approx(dl.min(), rel=0.01)

    # the deepest analysed low inside each radius (haversine here; no low sits near an edge)
    for radius in (1000.0, 2000.0, 20038.0):
        res = r if radius == 1000.0 else _ok("locate_fronts", {"case": "heatdome2021", "radius": radius})
        assert not (np.abs(dl - radius) < 0.01 * radius).any()
        want = ds.strength.values[lows][dl <= radius].min()
        assert res.value("min_low_pressure") == want
        k = np.flatnonzero(lows)[np.flatnonzero(dl <= radius)[np.argmin(ds.strength.values[lows][dl <= radius])]]
        assert res.value("min_low_distance") == pytest.approx(
            _haversine(45.6, -122.6, ds.lat.values[k], ds.lon.values[k]), rel=0.01)
    assert _ok("locate_fronts", {"case": "heatdome2021", "radius": 20038}).value("min_low_pressure") < 1002.0
    none = _ok("locate_fronts", {"case": "heatdome2021", "lat": 0.0, "lon": -30.0, "radius": 100})
    assert none.values["min_low_pressure"].value is None and none.values["min_low_distance"].value is None

    wide = _ok("locate_fronts", {"case": "heatdome2021", "radius": 1500})
    assert wide.values["strong_high_nearby"].value is True
    east = _ok("locate_fronts", {"case": "heatdome2021", "lat": 38.0, "lon": -78.0, "radius": 300})
    assert east.values["strong_high_nearby"].value is True and east.value("nearest_strong_high_pressure") == 1026.0


def test_surface_tools_need_their_roles():
    r = call_tool("find_strongest_winds", {"case": "heatdome2021"})
    assert not r.ok and r.error_type == "VariableMissing" and "surface_obs" in r.error
    r = call_tool("locate_fronts", {"case": "superstorm1993"})
    assert not r.ok and "fronts" in r.error
    r = call_tool("compute_pressure_tendency", {"case": "superstorm1993", "interval": 48})
    assert not r.ok and r.error_type == "InvalidArguments"


def _wpc_metpy():
    """The heat-dome bulletin as MetPy's own parser reads it (independent of hvrmet's reader)."""
    import os

    from metpy.io import parse_wpc_surface_bulletin

    return parse_wpc_surface_bulletin(os.path.join(os.environ["HVRMET_DATA_DIR"], "metpy", "staticdata",
                                                   "WPC_sfc_fronts_20210628_1800.txt"))


def test_locate_fronts_thermal_low_heat_dome():
    """The low nearest Portland on 28 June 2021 (1002 hPa, ~105 km SSW) lies on no front: the
    nearest cold, warm, stationary or occluded front vertex, from MetPy's parse and pyproj,
    is farther than 300 km, and June is the northern warm season, so it is a thermal low."""
    from pyproj import Geod

    from hvrmet.tools.surface import FRONT_CLEAR_KM, THERMAL_LOW_RADIUS_KM

    df = _wpc_metpy()
    g = Geod(ellps="WGS84")
    lows = df[df.feature == "LOW"]
    lon_l, lat_l = np.array([p.x for p in lows.geometry]), np.array([p.y for p in lows.geometry])
    d = g.inv(np.full(len(lows), -122.6), np.full(len(lows), 45.6), lon_l, lat_l)[2] / 1000
    i = int(np.argmin(d))
    fronts = df[df.feature.isin(["COLD", "WARM", "STNRY", "OCFNT"])]
    xy = np.array([c for line in fronts.geometry for c in line.coords])
    gap = g.inv(np.full(len(xy), lon_l[i]), np.full(len(xy), lat_l[i]), xy[:, 0], xy[:, 1])[2].min() / 1000
    assert d[i] < THERMAL_LOW_RADIUS_KM and gap > FRONT_CLEAR_KM  # the data themselves, not hvrmet's reader

    r = _ok("locate_fronts", {"case": "heatdome2021"})
    assert r.value("nearest_low_front_distance") == pytest.approx(gap, abs=1.0)
    assert r.values["thermal_low"].value is True
    assert f"the nearest front {gap:.0f} km from it" in r.values["thermal_low"].note
    # a point whose nearest low sits on a front: the 1002 hPa low at 34.4N 114.5W, which a
    # front passes within a few km of (the same check through MetPy's parse)
    j = int(np.argmin(np.abs(lat_l - 34.4) + np.abs(lon_l + 114.5)))
    gap_j = g.inv(np.full(len(xy), lon_l[j]), np.full(len(xy), lat_l[j]), xy[:, 0], xy[:, 1])[2].min() / 1000
    assert gap_j < FRONT_CLEAR_KM
    desert = _ok("locate_fronts", {"case": "heatdome2021", "lat": 34.4, "lon": -114.5})
    assert desert.value("nearest_low_front_distance") == pytest.approx(gap_j, abs=1.0)
    assert desert.values["thermal_low"].value is False
    # no low within 500 km: not computable, with the reason
    far = _ok("locate_fronts", {"case": "heatdome2021", "lat": 0.0, "lon": -30.0})
    assert far.values["thermal_low"].value is None and "no analysed low within 500 km" in far.values["thermal_low"].note


def test_thermal_low_needs_the_warm_season(monkeypatch):
    """The same non-frontal low in a cold-season analysis is no thermal low; the rule is the
    hemisphere's warm season of describe_case_setting."""
    from hvrmet.tools import setting, surface

    assert setting.warm_season(45.0, 6) and not setting.warm_season(45.0, 12)
    assert setting.warm_season(-37.0, 1) and not setting.warm_season(-37.0, 6)
    assert setting.warm_season(45.0, 5) and setting.warm_season(45.0, 9) and not setting.warm_season(45.0, 10)
    assert setting.warm_season(-30.0, 11) and setting.warm_season(-30.0, 3) and not setting.warm_season(-30.0, 4)
    monkeypatch.setattr(surface, "warm_season", lambda lat, month: False)
    r = _ok("locate_fronts", {"case": "heatdome2021"})
    assert r.values["thermal_low"].value is False and "cold season" in r.values["thermal_low"].note


@pytest.mark.parametrize("front_km, low_km, valid, lat0, want", [
    (301.0, 100.0, "2021-06-28T18:00Z", 45.0, True),    # just beyond 300 km: non-frontal, June, north
    (299.0, 100.0, "2021-06-28T18:00Z", 45.0, False),   # a front within 300 km: frontal
    (None, 100.0, "2021-06-28T18:00Z", 45.0, True),     # no front at all on the map
    (800.0, 500.0, "2021-06-28T18:00Z", 45.0, True),    # a low exactly 500 km away still counts
    (800.0, 500.5, "2021-06-28T18:00Z", 45.0, None),    # beyond 500 km: no low near the point
    (800.0, 100.0, "2021-12-28T18:00Z", 45.0, False),   # December, north: cold season
    (800.0, 100.0, "2021-12-28T18:00Z", -37.0, True),   # December, south: warm season
    (800.0, 100.0, "", 45.0, None),                      # no valid time: season unknown
])
def test_thermal_low_rules_by_hand(front_km, low_km, valid, lat0, want):
    """The thermal-low rule on a low at 45N 120W with one front vertex placed due north at a
    geodesic distance fixed by pyproj (the tool measures it back)."""
    from pyproj import Geod

    from hvrmet.tools.surface import thermal_low_values

    if front_km is None:
        flat, flon = np.array([]), np.array([])
    else:
        lon, lat, _ = Geod(ellps="WGS84").fwd(-120.0, 45.0, 0.0, front_km * 1000.0)
        flat, flon = np.array([lat]), np.array([lon])
    out = thermal_low_values((45.0, -120.0, low_km), flat, flon, valid, lat0)
    assert out["thermal_low"].value is want
    gap = out["nearest_low_front_distance"].value
    assert gap is None if front_km is None else gap == pytest.approx(front_km, abs=0.5)
    if want is not None:
        assert ("cold season" in out["thermal_low"].note) == (want is False and front_km == 800.0)
        assert f"{low_km:.0f} km from the point" in out["thermal_low"].note
    none = thermal_low_values(None, flat, flon, valid, lat0)
    assert none["thermal_low"].value is None and none["nearest_low_front_distance"].value is None
    assert "no analysed low within 500 km" in none["thermal_low"].note


def test_thermal_low_notes_units_and_the_300_km_boundary(monkeypatch):
    """What the rule reports, word for word, and a front exactly 300 km away (distance fixed
    by hand) makes the low frontal."""
    from hvrmet.tools import surface

    one = (np.array([46.0]), np.array([-120.0]))
    monkeypatch.setattr(surface, "distance_km", lambda *a: np.array([300.0]))
    out = surface.thermal_low_values((45.0, -120.0, 100.0), *one, "2021-06-28T18:00Z", 45.0)
    assert out["thermal_low"].value is False  # 300 km is within 300 km
    monkeypatch.setattr(surface, "distance_km", lambda *a: np.array([300.4]))
    out = surface.thermal_low_values((45.0, -120.0, 100.0), *one, "2021-06-28T18:00Z", 45.0)
    d = out["nearest_low_front_distance"]
    assert out["thermal_low"].value is True and d.value == 300.0 and isinstance(d.value, float) and d.units == "km"
    assert d.note == "from the nearest low to the nearest front"
    assert out["thermal_low"].note == ("the nearest low, 100 km from the point: the nearest front 300 km from it "
                                       "(non-frontal with no front within 300 km), warm season")
    bare = surface.thermal_low_values((45.0, -120.0, 100.0), np.array([]), np.array([]), "2021-06-28T18:00Z", 45.0)
    assert bare["thermal_low"].note == ("the nearest low, 100 km from the point: no front (non-frontal with no "
                                        "front within 300 km), warm season")
    undated = surface.thermal_low_values((45.0, -120.0, 100.0), *one, "", 45.0)
    assert undated["thermal_low"].note == "the analysis has no valid time, so its season is unknown"
