"""Coordinates the readers compute on first use (lat/lon of every Level III gate or raster
box and of every composite pixel), checked against pyproj applied here on its own terms,
and the Level III parse time limit, which one watchdog thread keeps for every parse."""

from __future__ import annotations

import copy
import glob
import pickle

import numpy as np
import pytest
from pyproj import CRS, Geod, Transformer

from hvrmet.data.readers import nexrad_level3 as l3
from hvrmet.data.readers._common import EARTH_RADIUS_M, LazyArray
from hvrmet.data.readers.composite import read_composite
from hvrmet.data.readers.nexrad_level3 import read_nexrad_level3
from hvrmet.errors import FormatError

pytestmark = pytest.mark.usefixtures("data_dir")

GEOD = Geod(ellps="WGS84")


def _lazy(ds, name) -> bool:
    """Whether the variable still holds its uncomputed lazy array."""
    arr = ds[name].variable._data
    while hasattr(arr, "array") and not isinstance(arr, LazyArray):
        arr = arr.array
    return isinstance(arr, LazyArray) and arr._value is None


def test_level3_radial_gates(data_dir):
    """N0Q: each gate along its ray's azimuth at the ground distance of the 4/3-earth beam
    model (Doviak and Zrnic 2.28c), by pyproj's geodesic from the site."""
    from metpy.io import Level3File

    path = data_dir / "metpy/staticdata/nids/KDDC_N0Q_20200817_0501.nids"
    ds = read_nexrad_level3(path)
    assert _lazy(ds, "lat") and _lazy(ds, "lon")  # nothing computed by the read
    f = Level3File(str(path))
    el = np.deg2rad(float(f.metadata["el_angle"]))
    ke_a = 4.0 / 3.0 * EARTH_RADIUS_M
    rows, cols = [0, 97, 359], [0, 400, ds.sizes["range"] - 1]
    for i in rows:
        for j in cols:
            r = float(ds.range.values[j])
            h = np.sqrt(r**2 + ke_a**2 + 2 * r * ke_a * np.sin(el)) - ke_a
            s = ke_a * np.arcsin(r * np.cos(el) / (ke_a + h))
            lon, lat, _ = GEOD.fwd(float(f.lon), float(f.lat), float(ds.azimuth.values[i]), s)
            assert float(ds.lat.values[i, j]) == pytest.approx(lat, abs=2e-5)
            assert float(ds.lon.values[i, j]) == pytest.approx(lon, abs=2e-5)
    assert not _lazy(ds, "lat")
    # a copy, a deep copy and a pickle keep the values
    for other in (ds.copy(), copy.deepcopy(ds), pickle.loads(pickle.dumps(ds))):
        np.testing.assert_array_equal(other.lat.values, ds.lat.values)


def test_level3_raster_boxes_and_selection(data_dir):
    """NCR raster boxes: x, y (m) about the radar are an azimuthal-equidistant plane, so the
    box centre lies at distance hypot(x, y) along azimuth atan2(x, y) (pyproj's geodesic).
    A selection computes only what it needs and gives the same numbers."""
    path = data_dir / "metpy/staticdata/nids/Level3_MCI_NCR_20160526_2154.nids"
    ds = read_nexrad_level3(path)
    lat0, lon0 = ds.attrs["site_latitude"], ds.attrs["site_longitude"]
    part = ds.isel(y=[3, 200, 460], x=[5, 231, 455])
    assert _lazy(part, "lat")
    for a, yi in enumerate([3, 200, 460]):
        for b, xi in enumerate([5, 231, 455]):
            x, y = float(ds.x.values[xi]), float(ds.y.values[yi])
            lon, lat, _ = GEOD.fwd(lon0, lat0, np.degrees(np.arctan2(x, y)), np.hypot(x, y))
            assert float(part.lat.values[a, b]) == pytest.approx(lat, abs=1e-5)  # float32
            assert float(part.lon.values[a, b]) == pytest.approx(lon, abs=1e-5)
    assert not _lazy(ds, "lat")  # the selection computed the whole (shared) array once
    np.testing.assert_array_equal(part.lat.values, ds.lat.values[[3, 200, 460]][:, [5, 231, 455]])


def test_level3_bad_site_position_is_refused_at_read(data_dir, tmp_path, monkeypatch):
    """The lazy lat/lon depend on the site position: an impossible one fails the read."""
    path = data_dir / "metpy/staticdata/nids/KDDC_N0Q_20200817_0501.nids"
    real = l3._parse

    def bad_site(p):
        f = real(p)
        f.lat = 123.0
        return f

    monkeypatch.setattr(l3, "_parse", bad_site)
    with pytest.raises(FormatError, match="impossible radar position"):
        read_nexrad_level3(path)


@pytest.mark.parametrize("importer,pattern", [
    ("knmi_hdf5", "pysteps-data/radar/KNMI/2010/08/RAD_NL25_RAP_5min_20100826000*.h5"),
    ("mch_gif", "pysteps-data/radar/mch/20150515/AQC15135154*.gif"),
])
def test_composite_pixels(data_dir, importer, pattern):
    """Composite pixels: lat/lon of a few pixels from the projection in the importer's
    metadata, transformed here by pyproj; pysteps' own importer gives the same frames."""
    import hvrmet._pysteps  # noqa: F401
    from pysteps import io as psio

    from hvrmet.data.readers.composite import IMPORTER_DEFAULTS

    frames = sorted(glob.glob(str(data_dir / pattern)))[:2]
    ds = read_composite(frames, importer=importer)
    assert _lazy(ds, "lat")
    imp = psio.get_method(importer, "importer")
    kw = IMPORTER_DEFAULTS[importer]
    for k, f in enumerate(frames):
        R, _, meta = imp(f, **kw)
        want = np.ma.filled(np.ma.asarray(R, dtype=np.float64), np.nan).astype(np.float32)
        np.testing.assert_array_equal(ds.precip.values[k], want)
    proj = meta["projection"]
    scale = 1.0
    if meta.get("cartesian_unit") == "km":  # KNMI: axes and coordinates in km
        import re

        proj = re.sub(r"\+([ab])=([\d.]+)", lambda m: f"+{m.group(1)}={float(m.group(2)) * 1000.0}", proj)
        scale = 1000.0
    tr = Transformer.from_crs(CRS.from_proj4(proj), "EPSG:4326", always_xy=True)
    for yi, xi in [(0, 0), (ds.sizes["y"] // 2, ds.sizes["x"] // 3), (ds.sizes["y"] - 1, ds.sizes["x"] - 1)]:
        lon, lat = tr.transform(float(ds.x.values[xi]) * scale, float(ds.y.values[yi]) * scale)
        assert float(ds.lat.values[yi, xi]) == pytest.approx(lat, abs=1e-4)
        assert float(ds.lon.values[yi, xi]) == pytest.approx(lon, abs=1e-4)


def test_watchdog_stops_each_parse_and_spares_the_next(data_dir, monkeypatch):
    """Two parses in a row that never end are each stopped; a normal read afterwards is not
    interrupted (no timeout left pending)."""
    import time

    nids = data_dir / "metpy/staticdata/nids"

    class Forever:
        def __init__(self, filename):
            while True:
                pass

    real = l3._strict_classes
    monkeypatch.setattr(l3, "_strict_classes", lambda: Forever)
    monkeypatch.setattr(l3, "PARSE_TIME_LIMIT_S", 0.3)
    for _ in range(2):
        with pytest.raises(FormatError, match="did not finish decoding the product within 0.3 s"):
            read_nexrad_level3(nids / "KDDC_N0Q_20200817_0501.nids")
    monkeypatch.setattr(l3, "_strict_classes", real)
    ds = read_nexrad_level3(nids / "KDDC_N0Q_20200817_0501.nids")
    time.sleep(0.5)  # past the limit: nothing is delivered to this thread any more
    assert ds.attrs["product_code"] == 94
