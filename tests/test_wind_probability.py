"""NHC wind-speed probabilities at a place, against pyshp and shapely reading the zip
directly (a contour with several rings: one per storm, and holes)."""

from __future__ import annotations

import io
import re
import zipfile

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
