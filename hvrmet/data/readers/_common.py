"""Shared pieces of the readers: file checks, provenance and error translation."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr
from xarray.backends.common import BackendArray
from xarray.core import indexing as xr_indexing

from hvrmet.errors import DataError, DataFileMissing, FormatError

__all__ = ["check_file", "check_ending", "reading", "plain_reason", "ReaderWarning", "add_provenance",
           "to_utc64", "gate_lat_lon", "EARTH_RADIUS_M", "LazyArray", "lazy_variable",
           "lazy_lat_lon"]


class ReaderWarning(UserWarning):
    """A file was read, but not all of it: reports or levels were skipped (the message
    says how many and why; the dataset's ``reader_notes`` attribute holds the same)."""


#: Mean earth radius (m) used by the 4/3-earth beam-height model.
EARTH_RADIUS_M = 6371008.8


def check_file(path: str | Path) -> Path:
    """Return ``path`` as a :class:`Path` after checking it is a non-empty regular file."""
    p = Path(path)
    if not p.exists():
        raise DataFileMissing(p, "file not found")
    if not p.is_file():
        raise FormatError(p, "not a regular file")
    if p.stat().st_size == 0:
        raise FormatError(p, "file is empty")
    return p


def check_ending(path: Path, endings: tuple[bytes, ...], strip: bytes = b"") -> None:
    """Raise :class:`FormatError` unless the file ends with one of ``endings``.

    Text and record formats read silently short when cut; their last bytes (a newline, a
    bulletin's ``$$``, GRIB's ``7777``) show whether the file is complete. ``strip`` names
    trailing padding bytes to ignore first.
    """
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 256))
        tail = fh.read()
    if strip:
        tail = tail.rstrip(strip)
    if not tail.endswith(endings):
        shown = " or ".join(repr(e.decode("latin-1")) for e in endings)
        raise FormatError(path, f"the file does not end with {shown}: truncated or not this format")


@contextlib.contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Turn any failure while decoding ``path`` into a :class:`FormatError`.

    The readers decode with MetPy, pysteps, pandas, netCDF4, h5py, eccodes and others,
    each with its own exceptions for a truncated or corrupted file; at this boundary they
    all become one typed error naming the file, the format it was read as, and what is
    wrong in plain words (:func:`plain_reason`), with the technical detail last, in
    parentheses: ``cannot be read as NetCDF: not HDF5/NetCDF data, or a corrupted copy
    (OSError: [Errno -51] NetCDF: Unknown file format)``.
    """
    try:
        yield
    except DataError:
        raise
    except MemoryError:
        raise FormatError(path, f"cannot be read as {what}: decoding ran out of memory "
                                "(the file is probably corrupted)") from None
    except Exception as exc:  # noqa: BLE001 - translated, with its message, at the boundary
        raise FormatError(path, f"cannot be read as {what}: {plain_reason(exc)}") from exc


_TRUNCATED = "the file ends early (truncated?)"
_CORRUPT = "the file is corrupted or not in this format"

#: (exception class names, regex on the message or None, plain words). First match wins;
#: ``{0}`` in the words is the regex's first group. Class names, not classes, so that the
#: libraries need not be imported here.
_RULES: list[tuple[tuple[str, ...], str | None, str]] = [
    # compressed streams
    (("EOFError",), r"compressed file ended|end-of-stream|ran out of input", _TRUNCATED),
    (("EOFError",), None, _TRUNCATED),
    (("BadGzipFile",), r"crc check failed|incorrect length", "the gzip data are corrupted (check sum wrong)"),
    (("BadGzipFile",), None, "not gzip data (the file does not start like a gzip file)"),
    (("error",), r"incomplete or truncated|truncated", _TRUNCATED),  # zlib.error
    (("error",), r"invalid (?:stored )?block|invalid distance|incorrect header check|"
                 r"invalid code|unknown compression method", "the compressed data are corrupted"),
    (("error",), r"unpack|requires a buffer|buffer of", "a record is shorter than its header says: "
                                                       "the file is truncated or corrupted"),  # struct.error
    (("LZMAError",), r"input format", "not xz/lzma data"),
    (("LZMAError",), None, "the compressed (xz/lzma) data are corrupted"),
    (("BadZipFile", "BadZipfile"), r"not a zip", "not a zip archive"),
    (("BadZipFile", "BadZipfile"), None, "the zip archive is corrupted"),
    (("OSError",), r"invalid data stream", "not bzip2 data, or the bzip2 data are corrupted"),
    # HDF5 / NetCDF / GRIB / images
    (("OSError", "RuntimeError"), r"truncated file|end of file|unexpected end|"
                                  r"end of resource reached|premature end|eof", _TRUNCATED),
    (("OSError", "RuntimeError"), r"file signature not found|unknown file format|not a valid id|"
                                  r"not a netcdf|not an hdf5|unable to (?:synchronously )?open file",
     "not HDF5/NetCDF data, or a corrupted copy"),
    (("OSError", "RuntimeError"), r"hdf error|netcdf: ", "the HDF5/NetCDF structure is corrupted "
                                                       "(or the file is truncated)"),
    (("OSError", "RuntimeError"), r"image file is truncated", _TRUNCATED),
    (("OSError", "RuntimeError"), r"not that many messages|wrong message length|grib",
     "the GRIB messages are incomplete or corrupted (truncated?)"),
    (("UnidentifiedImageError",), None, "not an image in the expected format"),
    (("DecompressionBombError",), None, "the image is implausibly large (corrupted header?)"),
    (("PermissionError",), None, "permission denied: the file cannot be opened"),
    (("IsADirectoryError",), None, "a folder, not a file"),
    (("FileNotFoundError",), None, "file not found"),
    (("OSError", "IOError"), r"errno 5\b|input/output error", "the disk or share reported a read error"),
    (("OSError", "IOError"), None, "the file cannot be read: it is corrupted, truncated or not in this format"),
    # text
    (("UnicodeDecodeError",), r"can't decode byte (0x[0-9a-f]{2}) in position (\d+)",
     "not text in the expected encoding (byte {0} where text was expected): "
     "the file is binary or corrupted"),
    (("UnicodeDecodeError", "UnicodeError"), None, "not text in the expected encoding"),
    (("EmptyDataError",), None, "no data in the file"),
    (("ParserError",), None, "the rows of the table do not have the expected columns "
                             "(corrupted, truncated or not this format)"),
    (("KeyError",), r"^['\"]?(.+?)['\"]?$", "a field expected in this format is missing: {0}"),
    (("IndexError",), None, "a record is shorter than expected (truncated or corrupted?)"),
    (("ValueError",), r"cannot reshape array of size|buffer size must be a multiple|"
                      r"buffer is smaller than requested|not enough values|"
                      r"array is too big|negative dimensions", "the data block does not have the size "
                                                             "its header gives (truncated or corrupted?)"),
    (("ValueError",), r"did not find a match in any of xarray|no match in any of xarray",
     "not a NetCDF, HDF5 or GRIB file that can be opened"),
    (("ValueError", "OverflowError"), r"month must be|day is out of range|hour must be|minute must be|"
                                      r"second must be|year \d+ is out of range|out of bounds nanosecond|"
                                      r"date value out of range",
     "a date or time in the file is impossible (corrupted header?)"),
    (("ValueError",), r"could not convert string to float: (.{1,40})|invalid literal for int\(\) "
                      r"with base \d+: (.{1,40})", "a number in the file cannot be read ({0})"),
    (("ValueError",), r"unable to parse string \"(.{1,40})\"", "a number in the file cannot be read ({0})"),
    (("ValueError",), None, "a value in the file is invalid (corrupted or not this format)"),
    (("TypeError",), r"data type .* not understood", "a header field has an impossible value (corrupted?)"),
    (("TypeError", "AttributeError"), None, "the file's content is not what this format requires "
                                            "(corrupted or another format)"),
    (("AssertionError",), None, "the file's internal structure is inconsistent (corrupted?)"),
    (("ZeroDivisionError", "FloatingPointError"), None, "a header field is zero or impossible (corrupted?)"),
    (("RecursionError",), None, "the file's structure nests impossibly deep (corrupted?)"),
]


def plain_reason(exc: BaseException) -> str:
    """What a low-level decoding exception means, in words a forecaster understands.

    The plain words come first; the exception's class and first line of its message
    follow in parentheses for whoever debugs the reader::

        the file ends early (truncated?) (EOFError: Compressed file ended before ...)

    Known classes (``OSError``, ``EOFError``, ``zlib.error``, gzip/bz2/lzma/zip errors,
    h5py and netCDF4 ``OSError``/``RuntimeError``, ``ValueError``, ``KeyError``,
    ``struct.error``, ``UnicodeDecodeError``, pandas parser errors, PIL errors) are matched
    by class name and message; anything else still gets a plain sentence.
    """
    msg = str(exc).strip()
    first = msg.splitlines()[0][:200] if msg else ""
    names = {c.__name__ for c in type(exc).__mro__}
    words = _CORRUPT
    for classes, pattern, text in _RULES:
        if not names.intersection(classes):
            continue
        if pattern is None:
            words = text
            break
        m = re.search(pattern, first, flags=re.IGNORECASE)
        if m:
            groups = [g for g in m.groups() if g] if m.groups() else []
            words = text.format(groups[0].strip() if groups else first)
            break
    name = type(exc).__name__
    if name == "error":  # zlib.error, struct.error: say which
        name = f"{type(exc).__module__}.error"
    detail = f"{name}: {first}" if first else name
    return f"{words} ({detail})"


def add_provenance(ds: xr.Dataset, paths: list[Path] | Path, sha256: list[str] | str,
                   reader: str) -> xr.Dataset:
    """Record where a dataset came from in its attributes."""
    if isinstance(paths, Path):
        paths, sha256 = [paths], [sha256]  # type: ignore[list-item]
    ds.attrs["source_file"] = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files"
    ds.attrs["source_files"] = [str(p) for p in paths]
    ds.attrs["sha256"] = sha256[0] if len(sha256) == 1 else ""
    ds.attrs["source_sha256"] = list(sha256)
    ds.attrs["hvrmet_reader"] = reader
    ds.attrs.setdefault("Conventions", "CF-1.8")
    return ds


def to_utc64(t: dt.datetime | np.datetime64 | str) -> np.datetime64:
    """A naive-UTC ``datetime64[ns]`` from a datetime (aware or naive-UTC) or string."""
    if isinstance(t, dt.datetime) and t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return np.datetime64(t, "ns")


def gate_lat_lon(site_lat: float, site_lon: float, azimuth_deg: np.ndarray,
                 elevation_deg: np.ndarray, range_m: np.ndarray,
                 site_alt_m: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude, longitude and height above MSL of radar gates.

    Uses the 4/3 effective-earth-radius beam model (Doviak and Zrnić 1993, eqs. 2.28b,
    2.28c) for the ground distance and height, then the geodesic on the WGS84 ellipsoid
    (pyproj, azimuthal equidistant projection centred on the radar) for latitude and
    longitude.

    Parameters
    ----------
    azimuth_deg, elevation_deg
        Ray angles (degree), broadcastable against ``range_m``.
    range_m
        Slant range to the gate centre (m).

    Returns
    -------
    lat, lon, height
        Degrees north, degrees east, metres above mean sea level (float32).
    """

    ke_a = 4.0 / 3.0 * EARTH_RADIUS_M
    el = np.deg2rad(elevation_deg)
    r = np.asarray(range_m, dtype=np.float64)
    h = np.sqrt(r**2 + ke_a**2 + 2.0 * r * ke_a * np.sin(el)) - ke_a
    s = ke_a * np.arcsin(r * np.cos(el) / (ke_a + h))
    az = np.deg2rad(azimuth_deg)
    s, az = np.broadcast_arrays(s, az)
    # The geodesic is smooth along a ray: transform every STEP-th gate exactly and fill
    # the gates between by linear interpolation (error well under a metre at 2 km spacing).
    step = 8
    n = s.shape[-1]
    idx = np.unique(np.r_[np.arange(0, n, step), n - 1])
    xs, ys = s[..., idx] * np.sin(az[..., idx]), s[..., idx] * np.cos(az[..., idx])
    lon_k, lat_k = aeqd_transformer(site_lat, site_lon).transform(xs, ys)
    lat = _interp_last(np.asarray(lat_k), idx, n)
    lon = _interp_last(np.asarray(lon_k), idx, n)
    h = np.broadcast_to(h, s.shape)
    return (lat.astype(np.float32), lon.astype(np.float32),
            np.asarray(h + site_alt_m, dtype=np.float32))


def _interp_last(vals: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation along the last axis from samples at ``idx`` onto ``0..n-1``."""
    j = np.arange(n)
    seg = np.clip(np.searchsorted(idx, j, side="right") - 1, 0, len(idx) - 2)
    lo, hi = idx[seg], idx[seg + 1]
    w = ((j - lo) / np.maximum(hi - lo, 1)).astype(np.float64)
    return vals[..., seg] * (1.0 - w) + vals[..., seg + 1] * w


_TRANSFORMERS = threading.local()


def aeqd_transformer(lat: float, lon: float, *, to_plane: bool = False):
    """The transformer between longitude/latitude (WGS84) and the azimuthal equidistant
    plane (m) centred on (lat, lon): plane to lon/lat, or lon/lat to the plane with
    ``to_plane``. Built once per centre, direction and thread (pyproj transformers are not
    thread-safe; building one costs more than transforming a Level III product)."""
    cache = getattr(_TRANSFORMERS, "cache", None)
    if cache is None:
        cache = _TRANSFORMERS.cache = {}
    key = (float(lat), float(lon), bool(to_plane))
    tr = cache.get(key)
    if tr is None:
        from pyproj import Transformer

        if len(cache) > 64:
            cache.clear()
        plane = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m"
        src, dst = ("EPSG:4326", plane) if to_plane else (plane, "EPSG:4326")
        tr = cache[key] = Transformer.from_crs(src, dst, always_xy=True)
    return tr


class _PicklableLock:
    """Pickles without its ``_lock`` (a lock cannot be pickled) and gets a new one back."""

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()


class LazyArray(_PicklableLock, BackendArray):
    """An array computed on first access and kept: ``func(*args)``, of known shape and dtype.

    Readers give coordinates that not every use needs (latitude and longitude of every
    gate or pixel) as lazy variables (:func:`lazy_variable`): they cost nothing until read
    (``ds.lat.values``, a selection, ``ds.load()``), then behave as the computed array.
    ``func`` and ``args`` must be picklable (a module-level function), so that a dataset
    holding one can still be copied and pickled.
    """

    def __init__(self, func, shape: tuple[int, ...], dtype, *args):
        self.func, self.args = func, args
        self.shape, self.dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        self._value: np.ndarray | None = None
        self._lock = threading.Lock()

    def get_array(self) -> np.ndarray:
        """The computed array (computed once)."""
        if self._value is None:
            with self._lock:
                if self._value is None:
                    v = np.asarray(self.func(*self.args), dtype=self.dtype)
                    if v.shape != self.shape:
                        raise ValueError(f"lazy array: {getattr(self.func, '__name__', self.func)} gave shape "
                                         f"{v.shape}, expected {self.shape}")
                    self._value = v
        return self._value

    def __getitem__(self, key):
        arr = xr_indexing.NumpyIndexingAdapter(self.get_array())
        if isinstance(key, xr_indexing.OuterIndexer):
            return arr.oindex[key]
        if isinstance(key, xr_indexing.VectorizedIndexer):
            return arr.vindex[key]
        return arr[key]


class _Pair(_PicklableLock):
    """``func(*args)[:2]`` computed once, for the two lazy arrays that share it."""

    def __init__(self, func, args):
        self.func, self.args = func, args
        self._value: tuple | None = None
        self._lock = threading.Lock()

    def get(self, k: int) -> np.ndarray:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = tuple(np.asarray(v, dtype=np.float32) for v in self.func(*self.args)[:2])
        return self._value[k]


def _pick(pair: _Pair, k: int) -> np.ndarray:
    return pair.get(k)


def lazy_lat_lon(dims: tuple[str, ...], shape: tuple[int, ...], func, *args) -> tuple[xr.Variable, xr.Variable]:
    """``lat`` and ``lon`` coordinate variables (float32, degrees) computed together, on
    first access to either, by ``func(*args)``, which returns ``(lat, lon, ...)``."""
    pair = _Pair(func, args)
    lat = lazy_variable(dims, _pick, shape, np.float32, pair, 0, attrs={"units": "degree_north"})
    lon = lazy_variable(dims, _pick, shape, np.float32, pair, 1, attrs={"units": "degree_east"})
    return lat, lon


def lazy_variable(dims: tuple[str, ...], func, shape: tuple[int, ...], dtype, *args,
                  attrs: dict | None = None) -> xr.Variable:
    """An :class:`xarray.Variable` whose values are ``func(*args)``, computed on first access
    (see :class:`LazyArray`)."""
    arr = LazyArray(func, shape, dtype, *args)
    return xr.Variable(dims, xr_indexing.LazilyIndexedArray(arr), attrs or {})
