"""summarize_spc_outlook, the built-in tool on SPC convective outlooks: registered with
the others, and its values at a point against shapely applied directly to the polygons.

No real SPC outlook is in the data folder (docs/data-scope.md): the outlook is written here,
one GeoJSON file per layer as SPC publishes them, with polygons of irregular shape."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from shapely.geometry import Point, shape

from hvrmet.cases.assemble import assemble_case, write_case
from hvrmet.tools import call_tool, get_tool, list_tools

#: layer -> features (DN, LABEL, LABEL2, ring as (lon, lat) vertices)
LAYERS = {
    "cat": [(2, "TSTM", "General Thunderstorms Risk", [(-105, 29), (-88, 30), (-86, 41), (-96, 44), (-104, 40)]),
            (3, "MRGL", "Marginal Risk", [(-102, 31), (-93, 32), (-92, 39), (-100, 40)]),
            (4, "SLGT", "Slight Risk", [(-100, 32.5), (-94.5, 33), (-96, 38.5)]),
            (5, "ENH", "Enhanced Risk", [(-98.6, 34.1), (-96.2, 34.4), (-96.8, 36.2), (-98.2, 36.0)])],
    "torn": [(2, "0.02", "2% Tornado Risk", [(-101, 32), (-94, 33), (-95, 39), (-100, 38)]),
             (5, "0.05", "5% Tornado Risk", [(-99, 33.8), (-95.6, 34.2), (-97, 37)]),
             (10, "0.10", "10% Tornado Risk", [(-98.3, 34.6), (-96.6, 34.9), (-97.3, 35.9)])],
    "sigtorn": [(10, "SIGN", "10% Significant Tornado Risk", [(-98.2, 34.7), (-96.8, 35.0), (-97.4, 35.7)])],
    "wind": [(5, "0.05", "5% Wind Risk", [(-103, 30), (-91, 31), (-92, 41), (-101, 41)]),
             (15, "0.15", "15% Wind Risk", [(-100, 33), (-95, 33.5), (-96, 38)])],
    "hail": [(15, "0.15", "15% Hail Risk", [(-101, 32), (-94, 32.5), (-95, 39), (-100, 39)]),
             (30, "0.30", "30% Hail Risk", [(-99, 34), (-96, 34.5), (-97.5, 37.2)])],
}

#: points: inside every inner polygon; in SLGT but outside the 5 % tornado; outside every polygon
POINTS = [(35.2, -97.4), (33.6, -95.8), (45.5, -80.0)]


def _write(folder):
    paths = {}
    for name, feats in LAYERS.items():
        features = [{"type": "Feature",
                     "geometry": {"type": "Polygon", "coordinates": [[list(v) for v in ring + [ring[0]]]]},
                     "properties": {"DN": dn, "VALID": "202105261300", "EXPIRE": "202105271200",
                                    "ISSUE": "202105260545", "LABEL": label, "LABEL2": label2,
                                    "stroke": "#000000", "fill": "#FFFFFF"}}
                    for dn, label, label2, ring in feats]
        p = folder / f"day1otlk_20210526_1300_{name}.lyr.geojson"
        p.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        paths[name] = p
    return paths


def _expected(lat, lon):
    """The outlook at a point from the polygons themselves (shapely, no hvrmet reader)."""
    pt = Point(lon, lat)
    out = {"covering": []}
    for name, feats in LAYERS.items():
        hits = [(dn, label, label2) for dn, label, label2, ring in feats
                if shape({"type": "Polygon", "coordinates": [ring + [ring[0]]]}).covers(pt)]
        out["covering"] += [f"{label}/{label2}" for _, label, label2 in hits]
        if name == "cat":
            ranks = {"TSTM": 1, "MRGL": 2, "SLGT": 3, "ENH": 4, "MDT": 5, "HIGH": 6}
            best = max(hits, key=lambda h: ranks[h[1]], default=None)
            out["categorical_risk"] = best[1] if best else "NONE"
            out["categorical_rank"] = ranks[best[1]] if best else 0
        elif name.startswith("sig"):
            out[f"significant_{name[3:].replace('torn', 'tornado')}"] = bool(hits)
        else:
            hazard = {"torn": "tornado"}.get(name, name)
            out[f"{hazard}_probability"] = float(max((dn for dn, _, _ in hits), default=0))
    return out


def test_the_tool_is_built_in():
    """Registered by importing hvrmet.tools alone (a fresh interpreter), with the others."""
    code = ("from hvrmet.tools import list_tools\n"
            "print([t.category for t in list_tools() if t.name == 'summarize_spc_outlook'])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "['context']"
    assert "summarize_spc_outlook" in {t.name for t in list_tools()}
    assert get_tool("summarize_spc_outlook").needs == ("spc_outlook",)


@pytest.fixture
def outlook_case(tmp_path):
    paths = _write(tmp_path)
    asm = assemble_case([tmp_path], case_id="spc-written", lat=POINTS[0][0], lon=POINTS[0][1],
                        time="2021-05-26T20:00:00Z")
    return write_case(asm.case, tmp_path / "spc.yaml"), paths


@pytest.mark.parametrize("lat,lon", POINTS)
def test_values_at_a_point_match_shapely(outlook_case, lat, lon):
    case, paths = outlook_case
    res = call_tool("summarize_spc_outlook", {"case": str(case), "lat": lat, "lon": lon})
    assert res.ok, res.error
    want = _expected(lat, lon)
    v = {k: x.value for k, x in res.values.items()}
    for k in ("categorical_risk", "categorical_rank", "tornado_probability", "wind_probability",
              "hail_probability", "significant_tornado"):
        assert v[k] == want[k], (k, v[k], want[k])
    assert sorted(v["covering_polygons"]) == sorted(want["covering"])
    assert v["highest_categorical_risk"] == "ENH"
    assert v["any_severe_probability"] is None  # a day-1 outlook has no any-severe layer
    # no significant-wind or -hail polygon: False where the hazard's layer was read
    assert v["significant_wind"] is False and v["significant_hail"] is False
    assert (v["valid_start"], v["valid_end"]) == ("2021-05-26T13:00", "2021-05-27T12:00")
    assert res.values["tornado_probability"].units == "percent"
    # every layer file read, with its sha256
    assert sorted(f.sha256 for f in res.files) == sorted(hashlib.sha256(p.read_bytes()).hexdigest()
                                                         for p in paths.values())


def test_hand_checked_points(outlook_case):
    """The values worked out by hand from the polygons above."""
    case, _ = outlook_case
    inner = call_tool("summarize_spc_outlook", {"case": str(case)})  # the case's place: POINTS[0]
    assert inner.ok, inner.error
    v = {k: x.value for k, x in inner.values.items()}
    assert (v["categorical_risk"], v["categorical_rank"]) == ("ENH", 4)
    assert (v["tornado_probability"], v["significant_tornado"]) == (10.0, True)
    assert (v["hail_probability"], v["wind_probability"]) == (30.0, 15.0)
    # south-east of the 5 % tornado triangle's edge from (-95.6, 34.2) to (-97, 37), inside SLGT
    edge = 34.2 + (37 - 34.2) * (-95.8 - -95.6) / (-97 - -95.6)
    assert 33.6 < edge  # so (33.6, -95.8) lies outside it
    mid = call_tool("summarize_spc_outlook", {"case": str(case), "lat": 33.6, "lon": -95.8})
    assert (mid.values["categorical_risk"].value, mid.value("tornado_probability")) == ("SLGT", 2.0)
    out = call_tool("summarize_spc_outlook", {"case": str(case), "lat": 45.5, "lon": -80.0})
    assert (out.values["categorical_risk"].value, out.value("categorical_rank")) == ("NONE", 0)
    assert out.value("tornado_probability") == 0.0 and out.values["significant_tornado"].value is False
    assert out.values["covering_polygons"].value == []


def test_an_outlook_for_another_period_is_flagged(tmp_path):
    """The outlook is valid 13 UTC 26 May to 12 UTC 27 May 2021: a case at 20 UTC on the 26th
    is inside; one at 20 UTC on the 27th lies 8 h after it (flagged, warned, and its
    numbers weigh less); one on the 25th lies 17 h before it."""
    _write(tmp_path)
    for when, outside, offset in (("2021-05-26T20:00:00Z", False, 0.0), ("2021-05-27T20:00:00Z", True, -8.0),
                                  ("2021-05-25T20:00:00Z", True, 17.0)):
        asm = assemble_case([tmp_path], case_id="spc-when", lat=POINTS[0][0], lon=POINTS[0][1], time=when)
        case = write_case(asm.case, tmp_path / f"spc-{when[:10]}.yaml")
        res = call_tool("summarize_spc_outlook", {"case": str(case)})
        assert res.ok, res.error
        assert res.values["outside_time_window"].value is outside and res.value("data_time_offset") == offset
        assert any("another period" in w for w in res.warnings) is outside
        assert ("outside its valid period" in res.summary) is outside
