"""Gridded analyses: NetCDF (GFS, ERA-Interim) and GRIB (ERA5, through cfgrib).

Both come back as CF-style datasets with ``lat``/``lon`` coordinates (renamed from
``latitude``/``longitude`` where needed), ``time`` in UTC, and a ``units`` attribute on
every variable that pint can parse (``m**2 s**-2`` style units are normalised).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_ending, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_netcdf", "read_grib"]

_UNIT_FIXES = {"gpm": "m", "m**2 s**-2": "m^2/s^2", "m s**-1": "m/s", "s**-1": "1/s",
               "Pa s**-1": "Pa/s", "kg m**-2": "kg/m^2", "(0 - 1)": "1", "~": "1"}


def _tidy(ds: xr.Dataset) -> xr.Dataset:
    ren = {k: v for k, v in {"latitude": "lat", "longitude": "lon"}.items()
           if k in ds.dims or k in ds.coords}
    ds = ds.rename(ren)
    for name in list(ds.data_vars) + list(ds.coords):
        u = ds[name].attrs.get("units")
        if isinstance(u, str) and u in _UNIT_FIXES:
            ds[name].attrs["units_original"] = u
            ds[name].attrs["units"] = _UNIT_FIXES[u]
    if "lat" not in ds.coords or "lon" not in ds.coords:
        raise FormatError(ds.attrs.get("source_file"), "no latitude/longitude coordinates")
    return ds


def _check_classic_size(p: Path) -> None:
    """NetCDF-3 files are read short without complaint: check the size the header implies."""
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic[:3] != b"CDF":
        return
    from scipy.io import netcdf_file

    with netcdf_file(p, "r", mmap=False) as nc:  # reads every variable: fails if short
        for var in nc.variables.values():
            _ = var.data.shape


def read_netcdf(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read a gridded NetCDF (3 or 4) file into memory.

    Returns
    -------
    xarray.Dataset
        The file's variables with ``lat``/``lon`` coordinates and pint-parsable units.
    """
    p = check_file(path)
    with reading(p, "NetCDF"):
        _check_classic_size(p)
        with xr.open_dataset(p) as ds:
            ds = ds.load()
        if not ds.data_vars:
            raise FormatError(p, "no data variables")
        ds = _tidy(ds)
        for v in ds.data_vars.values():
            if v.dtype.kind == "f" and v.size and not np.isfinite(v.values).any():
                raise FormatError(p, f"variable {v.name!r} holds no finite values")
    return add_provenance(ds, p, sha256, "netcdf")


def read_grib(path: str | Path, *, sha256: str = "", filter_by_keys: dict | None = None) -> xr.Dataset:
    """Read a GRIB 1/2 file with cfgrib (no index file is written beside the data).

    Parameters
    ----------
    filter_by_keys
        cfgrib's ``filter_by_keys`` for files mixing level types.
    """
    p = check_file(path)
    with reading(p, "GRIB"):
        check_ending(p, (b"7777",), strip=b"\x00 \r\n")
        kw = {"indexpath": ""}
        if filter_by_keys:
            kw["filter_by_keys"] = filter_by_keys
        with xr.open_dataset(p, engine="cfgrib", backend_kwargs=kw) as ds:
            ds = ds.load()
        if not ds.data_vars:
            raise FormatError(p, "no GRIB messages decoded")
        ds = _tidy(ds)
    return add_provenance(ds, p, sha256, "grib")
