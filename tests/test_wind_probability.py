"""NHC wind-speed probabilities at a place, against pyshp and shapely reading the zip
directly (a contour with several rings: one per storm, and holes)."""

from __future__ import annotations

import io
import math
import re
import zipfile

import numpy as np
import pytest

ZIP = "metpy/staticdata/nhc_wind_prob_2021082012.zip"


def _independent_point_prob(path, kt: int, lat: float, lon: float) -> float:
    import shapefile
    from shapely.geometry import Point, shape

    zf = zipfile.ZipFile(path)
    best = 0.0
    for stem in sorted({n[:-4] for n in zf.namelist() if n.endswith(".shp")}):
        m = re.search(r"_wsp(\d+)knt", stem)
        if not m or int(m.group(1)) != kt:
            continue
        rdr = shapefile.Reader(shp=io.BytesIO(zf.read(stem + ".shp")), shx=io.BytesIO(zf.read(stem + ".shx")),
                               dbf=io.BytesIO(zf.read(stem + ".dbf")))
        names = [f[0] for f in rdr.fields[1:]]
        for sr in rdr.iterShapeRecords():
            if not sr.shape.points:
                continue
            rec = dict(zip(names, sr.record))
            pct = float(re.match(r"[<>]?\s*(\d+)", str(rec.get("PERCENTAGE", rec.get("PWIND", "0")))).group(1))
            geom = shape(sr.shape.__geo_interface__).buffer(0)
            if geom.contains(Point(lon, lat)):
                best = max(best, pct)
    return best


@pytest.mark.parametrize("lat,lon", [(30.0, -72.0), (25.0, -70.0), (35.0, -72.5), (20.0, -60.0)])
def test_point_probabilities_match_shapely_on_the_whole_shapes(data_dir, lat, lon):
    from hvrmet.tools import call_tool

    path = data_dir / ZIP
    res = call_tool("summarize_wind_probability", {"case": "henri2021", "lat": lat, "lon": lon})
    assert res.ok, res.error
    for kt in (34, 64):
        assert res.values[f"point_prob_{kt}kt"].value == _independent_point_prob(path, kt, lat, lon)


def test_a_point_inside_one_ring_of_a_multi_ring_contour_is_inside():
    import numpy as np

    from hvrmet.tools.tropical import _contains

    # two separate squares (two storms) in one contour, and a hole in the first
    lon = np.array([0, 4, 4, 0, 10, 12, 12, 10, 1, 2, 2, 1], float)
    lat = np.array([0, 0, 4, 4, 0, 0, 2, 2, 1, 1, 2, 2], float)
    ring = np.array([0] * 4 + [1] * 4 + [2] * 4)
    assert _contains(lon, lat, 11.0, 1.0, ring)      # inside the second storm's ring
    assert _contains(lon, lat, 3.0, 3.0, ring)       # inside the first, outside its hole
    assert not _contains(lon, lat, 1.5, 1.5, ring)   # in the hole
    assert not _contains(lon, lat, 7.0, 1.0, ring)   # between the storms
    assert _contains(lon + 360.0, lat, 11.0, 1.0, ring)  # the same rings given in 0-360 longitudes


def _independent_ring_maxima(path, lat, lon):
    """Per wind threshold, (probability, geodesic distance in km from the place to the
    ring's nearest vertex, whether the place is inside) of every ring (shapefile part),
    read with pyshp and measured with pyproj here."""
    import shapefile
    from pyproj import Geod
    from shapely.geometry import Point, Polygon

    geod = Geod(ellps="WGS84")
    zf = zipfile.ZipFile(path)
    out = {34: [], 50: [], 64: []}
    for stem in sorted({n[:-4] for n in zf.namelist() if n.endswith(".shp")}):
        m = re.search(r"_wsp(\d+)knt", stem)
        if not m or int(m.group(1)) not in out:
            continue
        rdr = shapefile.Reader(shp=io.BytesIO(zf.read(stem + ".shp")), shx=io.BytesIO(zf.read(stem + ".shx")),
                               dbf=io.BytesIO(zf.read(stem + ".dbf")))
        names = [f[0] for f in rdr.fields[1:]]
        for sr in rdr.iterShapeRecords():
            rec = dict(zip(names, sr.record))
            pct = float(re.match(r"[<>]?\s*(\d+)", str(rec.get("PERCENTAGE", rec.get("PWIND", "0")))).group(1))
            parts = list(sr.shape.parts) + [len(sr.shape.points)]
            for a, b in zip(parts[:-1], parts[1:]):
                pts = sr.shape.points[a:b]
                if len(pts) < 3:
                    continue
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                _, _, d = geod.inv([lon] * len(xs), [lat] * len(xs), xs, ys)
                inside = Polygon(pts).buffer(0).contains(Point(lon, lat))
                out[int(m.group(1))].append((pct, min(d) / 1000.0, inside))
    return out


@pytest.mark.parametrize("lat,lon", [(30.0, -72.0), (22.0, -93.0), (40.0, -30.0)])
def test_maxima_count_only_the_rings_near_the_place(data_dir, lat, lon):
    """The product holds Henri (western Atlantic), Grace (Gulf of Mexico) and Pacific
    storms: the highest probability of each threshold is that of the rings within 500 km
    of the place (nearest-vertex geodesics here; rings within 10 km of the edge could go
    either way and may only raise the maximum); mid-Atlantic, far from every storm, is 0
    with a warning naming the product's highest probability."""
    from hvrmet.tools import call_tool

    res = call_tool("summarize_wind_probability", {"case": "henri2021", "lat": lat, "lon": lon})
    assert res.ok, res.error
    assert res.value("window_radius") == 500.0
    rings = _independent_ring_maxima(data_dir / ZIP, lat, lon)
    for kt, rs in rings.items():
        sure = max([p for p, d, ins in rs if ins or d <= 490.0], default=0.0)
        maybe = max([p for p, d, ins in rs if ins or d <= 510.0], default=0.0)
        assert sure <= res.value(f"max_prob_{kt}kt") <= maybe, (kt, sure, maybe)
        if max(p for p, _, _ in rs) > maybe:
            assert any(f"highest {kt} kt probability" in w for w in res.warnings)
    if (lat, lon) == (40.0, -30.0):
        assert res.value("max_prob_34kt") == 0.0 and res.value("area_34kt_50pct") == 0.0
    if (lat, lon) == (30.0, -72.0):  # Henri's 64 kt rings, not Grace's 70 % far in the Gulf
        assert res.value("max_prob_64kt") < max(p for p, _, _ in rings[64])
    wide = call_tool("summarize_wind_probability", {"case": "henri2021", "lat": lat, "lon": lon, "radius": 20038})
    for kt, rs in rings.items():
        assert wide.value(f"max_prob_{kt}kt") == max(p for p, _, _ in rs)


def test_the_50_percent_area_of_the_whole_view_by_geodesics(data_dir):
    """Over the whole product the 34 kt 50 % area is the geodesic area of NHC's polygons
    (pyshp and shapely read the zip, pyproj measures, holes subtracted)."""
    import shapefile
    from pyproj import Geod
    from shapely.geometry import shape

    from hvrmet.tools import call_tool

    zf = zipfile.ZipFile(data_dir / ZIP)
    stem = next(n[:-4] for n in zf.namelist() if n.endswith(".shp") and "_wsp34knt" in n)
    rdr = shapefile.Reader(shp=io.BytesIO(zf.read(stem + ".shp")), shx=io.BytesIO(zf.read(stem + ".shx")),
                           dbf=io.BytesIO(zf.read(stem + ".dbf")))
    names = [f[0] for f in rdr.fields[1:]]
    total = 0.0
    for sr in rdr.iterShapeRecords():
        rec = dict(zip(names, sr.record))
        pct = float(re.match(r"[<>]?\s*(\d+)", str(rec.get("PERCENTAGE", rec.get("PWIND", "0")))).group(1))
        if pct >= 50 and sr.shape.points:
            area, _ = Geod(ellps="WGS84").geometry_area_perimeter(shape(sr.shape.__geo_interface__))
            total += abs(area) / 1e6
    res = call_tool("summarize_wind_probability", {"case": "henri2021", "radius": 20038})
    assert res.value("area_34kt_50pct") == pytest.approx(total, rel=1e-6)
    near = call_tool("summarize_wind_probability", {"case": "henri2021"})
    assert 0 < near.value("area_34kt_50pct") < res.value("area_34kt_50pct")  # Grace's rings left out


def _product(rings):
    """A wind-probability dataset as the reader returns it, from ``(threshold, percent,
    [(lon, lat), ...])`` rings, one contour each (shapefile order: clockwise)."""
    import numpy as np
    import xarray as xr

    lon, lat, contour = [], [], []
    for c, (_, _, pts) in enumerate(rings):
        lon += [p[0] for p in pts]
        lat += [p[1] for p in pts]
        contour += [c] * len(pts)
    return xr.Dataset({"threshold": ("contour", [float(r[0]) for r in rings]),
                       "probability": ("contour", [float(r[1]) for r in rings]),
                       "vertex_lon": ("vertex", np.array(lon, float)), "vertex_lat": ("vertex", np.array(lat, float)),
                       "vertex_contour": ("vertex", np.array(contour))})


def test_rings_by_hand():
    """Rings drawn here, without vertex_ring (one ring a contour): a place deep inside a
    large ring counts it at distance 0 even with a small radius; a triangle (three
    vertices) 20 km east counts at its distance; a ring across the antimeridian is
    measured on the place's side; the area of a 1 x 1 degree square is its geodesic area."""
    from pyproj import Geod

    from hvrmet.tools.tropical import _contains, _rings
    from hvrmet.tools.window import window_of

    big = [(-82.0, 40.0), (-62.0, 40.0), (-62.0, 20.0), (-82.0, 20.0)]          # clockwise
    dx = 20.0 / (111.32 * math.cos(math.radians(30.0)))
    tri = [(-72.0 + dx, 30.2), (-72.0 + dx + 0.3, 30.0), (-72.0 + dx, 29.8)]  # west vertex line 20 km east
    square = [(179.5, 21.0), (-179.5, 21.0), (-179.5, 20.0), (179.5, 20.0)]   # across 180 degrees
    ds = _product([(34, 5, big), (34, 90, tri), (64, 70, square)])
    win = window_of("tropical", 30.0, -72.0, None, radius_km=5.0)
    rings = _rings(ds, win)
    assert [r["probability"] for r in rings] == [5.0, 90.0, 70.0]
    assert rings[0]["distance_km"] == 0.0 and win.inside(rings[0]["distance_km"])
    geod = Geod(ellps="WGS84")
    _, _, foot = geod.inv(-72.0, 30.0, -72.0 + dx, 30.0)  # the edge is a meridian: its nearest point
    # the azimuthal-equidistant plane keeps distances from its centre
    assert rings[1]["distance_km"] == pytest.approx(foot / 1000.0, abs=0.005) and abs(foot / 1000 - 20) < 0.3
    area, _ = geod.polygon_area_perimeter([p[0] for p in big], [p[1] for p in big])
    assert rings[0]["area_km2"] == pytest.approx(-area / 1e6, rel=1e-9) and rings[0]["area_km2"] > 0
    far = window_of("tropical", 20.5, -179.9, None, radius_km=0.5)
    across = _rings(ds, far)[2]
    assert across["distance_km"] == 0.0  # inside the square across the antimeridian
    near = window_of("tropical", 20.5, -179.0, None)
    d = _rings(ds, near)[2]["distance_km"]
    _, _, want = geod.inv(-179.0, 20.5, -179.5, 20.5)
    assert d == pytest.approx(want / 1000.0, abs=1.0)  # 52 km west to its edge, not around the globe
    assert _contains(np.array([p[0] for p in square]), np.array([p[1] for p in square]), -179.9, 20.5)
    assert _contains(np.array([p[0] for p in tri]), np.array([p[1] for p in tri]), -72.0 + dx + 0.1, 30.0)
    assert not _contains(np.array([p[0] for p in tri]), np.array([p[1] for p in tri]), -72.0, 30.0)
