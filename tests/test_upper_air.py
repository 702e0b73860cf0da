"""The upper-air station network tool against the file read directly (pandas) and
distances from pyproj, on MetPy's real ``UPA_obs.csv`` (14 March 1993, 500 and 300 hPa)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from hvrmet.cases import get_case
from hvrmet.tools import call_tool

pytestmark = pytest.mark.usefixtures("data_dir")

KNOT = 0.514444


def _direct(data_dir, radius_km: float) -> pd.DataFrame:
    """The reports with a position within ``radius_km`` of superstorm1993's place, read by
    pandas alone (knots to m/s by hand)."""
    case = get_case("superstorm1993")
    df = pd.read_csv(data_dir / "metpy/staticdata/UPA_obs.csv").dropna(subset=["latitude", "longitude"])
    _, _, d = Geod(ellps="WGS84").inv(np.full(len(df), case.location.lon), np.full(len(df), case.location.lat),
                                      df["longitude"].to_numpy(), df["latitude"].to_numpy())
    df = df.assign(distance_km=d / 1000.0, speed_ms=df["speed"] * KNOT)
    return df[df["distance_km"] <= radius_km]


@pytest.mark.parametrize("radius", [None, 400.0])
def test_trough_and_jet_match_the_file_read_directly(data_dir, radius):
    args = {"case": "superstorm1993"} if radius is None else {"case": "superstorm1993", "radius": radius}
    res = call_tool("summarize_upper_air", args)
    assert res.ok, res.error
    want = _direct(data_dir, 1500.0 if radius is None else radius)
    at500, jet = want[want["pressure"] == 500], want[(want["pressure"] <= 300) & (want["pressure"] >= 200)]
    low = at500.loc[at500["height"].idxmin()]
    assert res.value("min_trough_height") == pytest.approx(low["height"])
    assert res.values["min_trough_height_station"].value == low["station"]
    assert res.value("min_trough_height_distance") == pytest.approx(low["distance_km"], abs=0.1)
    # against the standard atmosphere's 500 hPa height by hand (288.15 K, 6.5 K/km): 5574 m
    z_std = 44330.8 * (1 - (500 / 1013.25) ** 0.190263)
    assert res.value("trough_height_anomaly") == pytest.approx(low["height"] - z_std, abs=0.1)
    assert res.value("max_trough_wind") == pytest.approx(at500["speed_ms"].max(), abs=0.05)
    assert res.value("max_jet_wind") == pytest.approx(jet["speed_ms"].max(), abs=0.05)
    assert res.values["max_jet_wind_level"].value == 300.0
    assert res.value("n_stations") == want["station"].nunique()
    assert res.values["levels"].value == [500.0, 300.0]
    assert any("report no position" in w for w in res.warnings)


def test_whole_file_and_the_superstorm_numbers(data_dir):
    """The window matters: over the whole globe the lowest 500 hPa height is another
    station's; within 1500 km of the superstorm's place it is Huntington, West Virginia."""
    near = call_tool("summarize_upper_air", {"case": "superstorm1993"})
    world = call_tool("summarize_upper_air", {"case": "superstorm1993", "radius": 20038})
    every = _direct(data_dir, 20038.0)
    assert near.values["min_trough_height_station"].value == "KHTS" and near.value("min_trough_height") == 5119.0
    assert world.value("min_trough_height") == every.loc[every["pressure"] == 500, "height"].min() < 5119.0
    assert near.value("max_jet_wind") == pytest.approx(119 * KNOT, abs=0.05)


def test_a_level_the_file_lacks_is_not_computable_with_its_reason():
    res = call_tool("summarize_upper_air", {"case": "superstorm1993", "trough_level": 700, "jet_top": 250,
                                            "jet_bottom": 250})
    assert res.ok, res.error
    for name in ("min_trough_height", "trough_height_anomaly", "max_trough_wind", "max_jet_wind"):
        v = res.values[name]
        assert v.value is None and v.note.startswith("not computable: no report at"), (name, v)
        assert "500, 300 hPa" in v.note
    assert any("700 hPa heights not computable" in w for w in res.warnings)
    assert any("jet-level winds not computable" in w for w in res.warnings)


def test_bad_jet_layer_and_missing_role_come_back_as_errors():
    res = call_tool("summarize_upper_air", {"case": "superstorm1993", "jet_top": 400, "jet_bottom": 300})
    assert not res.ok and "jet_top" in res.error
    res = call_tool("summarize_upper_air", {"case": "may1999"})
    assert not res.ok and "upper_air" in res.error


def test_declared_units_and_positions_of_the_extremes(data_dir):
    """Every value carries the units the registry declares; the extremes' positions and
    bearings are the file's and pyproj's."""
    from hvrmet.tools import get_tool

    t = get_tool("summarize_upper_air")
    res = call_tool("summarize_upper_air", {"case": "superstorm1993"})
    assert set(res.values) == set(t.outputs)
    for name, v in res.values.items():
        assert v.units == t.outputs[name], name
    want = _direct(data_dir, 1500.0)
    case = get_case("superstorm1993")
    for prefix, level, col, how in (("min_trough_height", 500, "height", "idxmin"), ("max_jet_wind", 300, "speed_ms", "idxmax")):
        at = want[want["pressure"] == level]
        row = at.loc[getattr(at[col], how)()]
        assert res.value(f"{prefix}_lat") == pytest.approx(row["latitude"], abs=1e-4)
        assert res.value(f"{prefix}_lon") == pytest.approx(row["longitude"], abs=1e-4)
        fwd, _, _ = Geod(ellps="WGS84").inv(case.location.lon, case.location.lat, row["longitude"], row["latitude"])
        assert res.value(f"{prefix}_bearing") == pytest.approx(round(fwd % 360.0), abs=0.5)
    lost = sorted(set(pd.read_csv(data_dir / "metpy/staticdata/UPA_obs.csv").query("latitude != latitude")["station"]))
    note = next(w for w in res.warnings if "report no position" in w)
    assert note.startswith(f"{len(lost)} station(s) report no position") and f"({', '.join(lost[:8])}, ...)" in note
    assert any("stations lie within 1500 km" in w for w in res.warnings)
    world = call_tool("summarize_upper_air", {"case": "superstorm1993", "radius": 20038})
    assert not any("stations lie within" in w for w in world.warnings)


def test_standard_atmosphere_heights_by_hand():
    """ICAO standard atmosphere geopotential heights (m) of the mandatory levels, from its
    published table: troposphere and the isothermal layer above 11 km."""
    from hvrmet.tools.upper_air import _standard_height_m

    for p, z in ((850, 1457), (700, 3012), (500, 5574), (300, 9164), (250, 10363), (200, 11784), (100, 16180)):
        assert _standard_height_m(p) == pytest.approx(z, abs=1.5), p


def test_longitudes_east_of_greenwich_from_0_to_360_and_errors_name_the_file(tmp_path, data_dir):
    """Longitudes written 0-360 give the same stations and numbers; a window with no
    station, or a file without positions, is refused naming the file."""
    import yaml

    src = data_dir / "metpy/staticdata/UPA_obs.csv"
    df = pd.read_csv(src)
    east = df.assign(longitude=df["longitude"] % 360.0)
    (tmp_path / "east.csv").write_text(east.to_csv(index=False))
    nopos = df.assign(latitude=np.nan, longitude=np.nan)
    (tmp_path / "nopos.csv").write_text(nopos.to_csv(index=False))
    case = yaml.safe_load((Path(__file__).resolve().parents[1] / "hvrmet/cases/catalogue/superstorm1993.yaml").read_text())
    out = {}
    for name in ("east", "nopos"):
        c = {**case, "id": f"ss-{name}", "data_dir": str(tmp_path),
             "files": [{"role": "upper_air", "format": "upper_air_csv", "path": f"{name}.csv"}]}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(c))
        out[name] = call_tool("summarize_upper_air", {"case": str(tmp_path / f"{name}.yaml")})
    ref = call_tool("summarize_upper_air", {"case": "superstorm1993"})
    assert out["east"].ok, out["east"].error
    for k in ("min_trough_height", "max_jet_wind", "n_stations", "min_trough_height_lon"):
        assert out["east"].value(k) == ref.value(k), k
    assert not out["nopos"].ok and "no upper-air report carries a station position" in out["nopos"].error
    assert "nopos.csv" in out["nopos"].error
    tiny = call_tool("summarize_upper_air", {"case": "superstorm1993", "radius": 1})
    assert not tiny.ok and "no upper-air station within 1 km" in tiny.error and "UPA_obs.csv" in tiny.error
