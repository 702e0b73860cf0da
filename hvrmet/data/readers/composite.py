"""Radar composite sequences through pysteps' importers, as ``(time, y, x)``.

Any pysteps importer works (``mch_gif``, ``fmi_pgm``, ``knmi_hdf5``, ``bom_rf3``,
``mrms_grib``, ...). Frames are stacked in time order with pysteps'
:func:`pysteps.io.readers.read_timeseries`-like logic, the projection (PROJ string),
grid extent and pixel size are kept, and ``lat``/``lon`` of every pixel are computed on
first use.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, lazy_lat_lon, reading
from hvrmet.errors import FormatError

__all__ = ["read_composite", "IMPORTER_DEFAULTS", "frame_time"]

#: Keyword arguments each importer needs, as in pysteps' ``pystepsrc`` data sources.
IMPORTER_DEFAULTS: dict[str, dict] = {
    "mch_gif": {"product": "AQC", "unit": "mm", "accutime": 5.0},
    "fmi_pgm": {"gzipped": True},
    "knmi_hdf5": {"accutime": 5, "qty": "ACRR", "pixelsize": 1000.0},
    "bom_rf3": {},
    "mrms_grib": {"window_size": 4},
}
_UNIT_NAMES = {"mm/h": "mm/h", "mm": "mm", "dBZ": "dBZ"}

#: Filename time patterns of the known importers (pysteps' ``fn_pattern`` as regex).
_TIME_PATTERNS = [
    (re.compile(r"AQC(\d{2})(\d{3})(\d{2})(\d{2})"), "mch"),
    (re.compile(r"(\d{12})_fmi"), "%Y%m%d%H%M"),
    (re.compile(r"RAP_5min_(\d{12})"), "%Y%m%d%H%M"),
    (re.compile(r"_(\d{8}_\d{6})\.prcp"), "%Y%m%d_%H%M%S"),
    (re.compile(r"_(\d{8}-\d{6})\.grib2"), "%Y%m%d-%H%M%S"),
    # WMO file naming (OPERA's ODIM_H5 composites): T_PAAH21_C_EUOC_YYYYMMDDhhmmss.hdf
    (re.compile(r"^T_[A-Z0-9]+_C_[A-Z0-9]{4}_(\d{14})\."), "%Y%m%d%H%M%S"),
]


def frame_time(path: str | Path) -> dt.datetime:
    """The valid time of a composite frame, from its file name (pysteps naming)."""
    name = Path(path).name
    for pat, fmt in _TIME_PATTERNS:
        m = pat.search(name)
        if not m:
            continue
        if fmt == "mch":
            yy, doy, hh, mm = (int(g) for g in m.groups())
            return dt.datetime(2000 + yy, 1, 1) + dt.timedelta(days=doy - 1, hours=hh, minutes=mm)
        return dt.datetime.strptime(m.group(1), fmt)
    raise FormatError(path, "cannot tell the frame time from the file name")


def read_composite(paths: list[str | Path], *, importer: str, sha256: list[str] | None = None,
                   importer_kwargs: dict | None = None) -> xr.Dataset:
    """Read a sequence of composite frames.

    Parameters
    ----------
    paths
        The frame files (any order: sorted by valid time).
    importer
        The pysteps importer name.
    importer_kwargs
        Extra keywords for the importer (defaults from :data:`IMPORTER_DEFAULTS`).

    Returns
    -------
    xarray.Dataset
        ``precip`` on ``(time, y, x)`` in the importer's unit (``mm/h``, ``mm`` over
        ``accutime`` minutes, or ``dBZ``), with ``x``/``y`` in the projection's units,
        ``lat``/``lon`` per pixel and the projection in the attributes.
    """
    import hvrmet._pysteps  # noqa: F401  (imports pysteps quietly)
    from pysteps import io as psio

    if not paths:
        raise FormatError(None, f"no files given for the {importer} composite sequence")
    try:
        imp = psio.get_method(importer, "importer")
    except ValueError as exc:
        raise FormatError(paths[0], str(exc)) from None
    kw = dict(IMPORTER_DEFAULTS.get(importer, {}))
    kw.update(importer_kwargs or {})
    # pysteps' import decorator (postprocess_import) sets masked pixels to NaN and copies
    # each frame into a new array of its ``dtype``; done here instead, straight into the
    # sequence's float32 array, each frame is copied once, not twice. A caller's own dtype
    # or fillna goes through the decorator.
    undecorated = getattr(imp, "__wrapped__", None)
    if undecorated is None or {"dtype", "fillna"} & set(importer_kwargs or {}):
        undecorated = None
        kw.setdefault("dtype", "float32")
    files = [check_file(p) for p in paths]
    times = [frame_time(p) for p in files]
    order = np.argsort(np.array(times, dtype="datetime64[s]"), kind="stable")
    files = [files[i] for i in order]
    times = [times[i] for i in order]
    sha = [sha256[i] for i in order] if sha256 else [""] * len(files)
    data, meta = None, None
    for k, f in enumerate(files):
        with reading(f, f"{importer} composite frame"):
            R, _Q, m = (undecorated or imp)(str(f), **kw)
            mask = np.ma.getmaskarray(R) if undecorated is not None and np.ma.isMaskedArray(R) else None
            R = np.ma.getdata(R) if np.ma.isMaskedArray(R) else np.asarray(R)  # decorated: masked already NaN
            if R.ndim != 2 or R.size == 0:
                raise FormatError(f, f"frame has shape {R.shape}, expected a 2-D image")
            if data is None:
                data = np.empty((len(files), *R.shape), np.float32)
            elif R.shape != data.shape[1:]:
                raise FormatError(f, f"frame shape {R.shape} differs from the first {data.shape[1:]}")
            frame = data[k]
            frame[...] = R  # cast to float32 as the decorator's astype does
            if mask is not None and mask.any():
                frame[mask] = np.nan  # no coverage
            # a valid pixel among every 16th row and column settles it; else look at all
            if np.isnan(frame[::16, ::16]).all() and np.isnan(frame).all():
                raise FormatError(f, "frame holds no valid pixel")
            meta = meta or m
    ny, nx = data.shape[1:]
    x1, x2, y1, y2 = (float(meta[k]) for k in ("x1", "x2", "y1", "y2"))
    dx = (x2 - x1) / nx
    dy = (y2 - y1) / ny
    x = x1 + dx * (np.arange(nx) + 0.5)
    y = y1 + dy * (np.arange(ny) + 0.5)
    if meta.get("yorigin", "upper") == "upper":
        y = y[::-1]
    unit = str(meta.get("unit", ""))
    ds = xr.Dataset(
        {"precip": (("time", "y", "x"), data, {"units": unit,
                                             "accutime_min": float(meta.get("accutime") or 0)})},
        coords={"time": np.array(times, dtype="datetime64[ns]"),
                "x": ("x", x, {"units": meta.get("cartesian_unit", "m")}),
                "y": ("y", y, {"units": meta.get("cartesian_unit", "m")})})
    # lat/lon of every pixel: computed on first use (a continental mosaic has millions);
    # the projection is checked now, so that a bad one is an error of the read
    with reading(files[0], f"{importer} composite frame"):
        try:
            _crs(meta)
        except Exception as exc:  # noqa: BLE001 - pyproj's CRSError and others
            raise FormatError(files[0], f"the projection of the frames cannot be used: {meta.get('projection')!r} "
                                        f"({type(exc).__name__}: {exc})") from None
    lat, lon = lazy_lat_lon(("y", "x"), (ny, nx), _latlon, _proj_meta(meta), x, y)
    ds.coords.update({"lat": lat, "lon": lon})
    ds.attrs.update({
        "projection": meta["projection"], "importer": importer,
        "institution": str(meta.get("institution", "")),
        "xpixelsize": float(meta.get("xpixelsize") or dx),
        "ypixelsize": float(meta.get("ypixelsize") or abs(dy)),
        "cartesian_unit": meta.get("cartesian_unit", "m"),
        "zerovalue": float(meta.get("zerovalue") or 0.0),
        "threshold": float(meta.get("threshold") or 0.0),
        "timestep_min": float(np.median(np.diff(ds.time.values).astype("timedelta64[s]").astype(float)) / 60.0)
        if len(files) > 1 else float("nan"),
        "title": f"{importer} composite sequence, {len(files)} frames",
    })
    return add_provenance(ds, files, sha, "composite")


def _proj_meta(meta: dict) -> dict:
    """The parts of an importer's metadata that place the grid (kept by the lazy lat/lon)."""
    return {k: meta.get(k) for k in ("projection", "cartesian_unit")}


_CRS = threading.local()


def _crs(meta: dict):
    """The frames' projection as a pyproj CRS (parsed once per projection and thread)."""
    key = (str(meta["projection"]), meta.get("cartesian_unit") == "km")
    cache = getattr(_CRS, "cache", None)
    if cache is None:
        cache = _CRS.cache = {}
    if key not in cache:
        if len(cache) > 32:
            cache.clear()
        cache[key] = _crs_of(*key)
    return cache[key]


def _crs_of(proj: str, km: bool):
    from pyproj import CRS

    if km:
        # KNMI states its ellipsoid axes in km; PROJ wants metres (x, y are scaled in _latlon)
        proj = re.sub(r"\+([ab])=([\d.]+)",
                      lambda m: f"+{m.group(1)}={float(m.group(2)) * 1000.0 if float(m.group(2)) < 1e5 else float(m.group(2))}",
                      proj)
    return CRS.from_proj4(proj)


def _latlon(meta: dict, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    xx, yy = np.meshgrid(x, y)
    crs = _crs(meta)
    if crs.is_geographic:
        return yy.astype(np.float32), xx.astype(np.float32)
    scale = 1000.0 if meta.get("cartesian_unit") == "km" else 1.0
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(xx * scale, yy * scale)
    return np.asarray(lat, np.float32), np.asarray(lon, np.float32)
