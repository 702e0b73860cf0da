"""Shared pieces of the readers: file checks, provenance and error translation."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.errors import DataError, DataFileMissing, FormatError

__all__ = ["check_file", "check_ending", "reading", "add_provenance", "to_utc64", "gate_lat_lon",
           "EARTH_RADIUS_M"]

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

    The readers decode with MetPy, pysteps, pandas, netCDF4, eccodes and others, each
    with its own exceptions for a truncated or corrupted file; at this boundary they all
    become one typed error naming the file and the format it was read as.
    """
    try:
        yield
    except DataError:
        raise
    except MemoryError:
        raise FormatError(path, f"cannot be read as {what}: decoding ran out of memory "
                                "(the file is probably corrupted)") from None
    except Exception as exc:  # noqa: BLE001 - translated, with its message, at the boundary
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise FormatError(path, f"cannot be read as {what}: {type(exc).__name__}"
                                f"{': ' + msg if msg else ''}") from exc


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
    lon_k, lat_k = _aeqd(site_lat, site_lon).transform(xs, ys)
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


def _aeqd(lat: float, lon: float):
    from pyproj import Transformer

    return Transformer.from_crs(
        f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m",
        "EPSG:4326", always_xy=True)
