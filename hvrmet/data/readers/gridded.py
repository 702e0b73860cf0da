"""Gridded analyses: NetCDF (GFS, ERA-Interim, ...) and GRIB 1/2 (ERA5, MRMS, ..., through cfgrib).

Both come back as datasets with their variables under the file's own names, ``lat``/``lon``
coordinates (found by cf_xarray and renamed from ``latitude``/``longitude`` or others),
and a ``units`` attribute that pint can read on every variable that has one (``gpm``,
``m**2 s**-2``, ``mb``, ``(0 - 1)`` ... normalised). The physical fields are identified
on demand, not at read time: :func:`hvrmet.data.fields.fields_of` (computed once per
dataset and cached for the tools) says which field came from which variable
(``fields_of(ds).summary()``), and ``hvrmet cases show`` lists them.

GRIB files are checked message by message first: each message's header declares its
total length (GRIB1: 3 bytes at octet 5; GRIB2: 8 bytes at octet 9), and a message that
declares more bytes than the file holds, or does not end in ``7777`` where it says it
ends, is a :class:`~hvrmet.errors.FormatError` naming the file; cfgrib alone would decode
the messages before the cut and drop the rest silently. Files mixing level types (one
hypercube per type) are read as several cfgrib datasets and merged.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_netcdf", "read_grib", "check_grib_messages"]

#: GRIB keys cfgrib should copy into each variable's attributes (used by the field resolver).
GRIB_READ_KEYS = ["discipline", "parameterCategory", "parameterNumber", "typeOfFirstFixedSurface"]


def _tidy(ds: xr.Dataset, path: Path) -> xr.Dataset:
    from hvrmet.data.fields import UNIT_FIXES, horizontal_coords

    ds, _, _ = horizontal_coords(ds)
    for name in list(ds.data_vars) + list(ds.coords):
        u = ds[name].attrs.get("units")
        if isinstance(u, str) and u.strip() in UNIT_FIXES and UNIT_FIXES[u.strip()] != u:
            ds[name].attrs["units_original"] = u
            ds[name].attrs["units"] = UNIT_FIXES[u.strip()]
    if "lat" not in ds.coords or "lon" not in ds.coords:
        raise FormatError(path, "no latitude/longitude coordinates")
    return ds


def _classic_required_size(p: Path) -> int:
    """The bytes a NetCDF-3 (classic or 64-bit offset) file must hold: the end of its last
    fixed-size variable or of its last record, from the header alone (scipy's header
    parser; no variable is read)."""
    from functools import reduce
    from operator import mul

    from scipy.io import _netcdf

    class HeaderOnly(_netcdf.netcdf_file):
        required = 0

        def _read_var_array(self):  # the header's variable list, without the data
            if self.fp.read(4) not in (_netcdf.ZERO, _netcdf.NC_VARIABLE):
                raise ValueError("Unexpected header.")
            need, rec_begin, recsize, rec_vars, last_vsize, last_bytes = 0, None, 0, 0, 0, 0
            for _ in range(self._unpack_int()):
                _name, _dims, shape, _attrs, _tc, size, _dt, begin, vsize = self._read_var()
                nbytes = reduce(mul, [n for n in shape if n is not None], 1) * size
                if shape and shape[0] is None:  # record variable: vsize bytes in each record
                    rec_vars += 1
                    recsize += vsize
                    rec_begin = begin if rec_begin is None else rec_begin
                    last_vsize, last_bytes = vsize, nbytes
                else:
                    need = max(need, begin + nbytes)
            if rec_begin is not None and self._recs > 0:
                # a lone record variable is not padded within records; the last record may
                # end without its last variable's padding
                per = last_bytes if rec_vars == 1 else recsize
                need = max(need, rec_begin + (self._recs - 1) * per + per - (last_vsize - last_bytes
                                                                             if rec_vars > 1 else 0))
            type(self).required = need

    with HeaderOnly(p, "r", mmap=False):
        pass
    return HeaderOnly.required


def _check_classic_size(p: Path) -> None:
    """NetCDF-3 files are read short without complaint (the netCDF library fills the
    missing bytes): compare the size the header implies with the file's, reading the
    header only."""
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic[:3] != b"CDF":
        return
    need = _classic_required_size(p)
    have = p.stat().st_size
    if have < need:
        raise FormatError(p, f"the NetCDF-3 header places data up to byte {need} but the file holds {have} bytes: "
                             "the file is truncated")


def read_netcdf(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read a gridded NetCDF (3 or 4) file into memory.

    Returns
    -------
    xarray.Dataset
        The file's variables with ``lat``/``lon`` coordinates and pint-parsable units
        (the physical fields they hold: :func:`hvrmet.data.fields.fields_of`).
    """
    p = check_file(path)
    with reading(p, "NetCDF"):
        _check_classic_size(p)
        with xr.open_dataset(p) as ds:
            ds = ds.load()
        if not ds.data_vars:
            raise FormatError(p, "no data variables")
        ds = _tidy(ds, p)
        for v in ds.data_vars.values():
            if v.dtype.kind == "f" and v.size and not np.isfinite(v.values).any():
                raise FormatError(p, f"variable {v.name!r} holds no finite values")
        return add_provenance(ds, p, sha256, "netcdf")


# ------------------------------------------------------------------------------------- GRIB
def _grib1_large_length(mm, start: int, declared: int, size: int, path: Path, n: int) -> int:
    """The length of an ECMWF 'large' GRIB1 message (bit 24 of the length set): the length
    is given in units of 120 bytes; the message ends in the 120 bytes before that."""
    scaled = (declared & 0x7FFFFF) * 120
    lo, hi = start + max(scaled - 120, 8), start + scaled
    if lo > size:
        raise FormatError(path, f"GRIB message {n} at byte {start} declares about {scaled} bytes but only "
                                f"{size - start} are present: the file is truncated")
    for end in range(min(hi, size), lo - 1, -1):
        if mm[end - 4:end] == b"7777":
            return end - start
    raise FormatError(path, f"GRIB message {n} at byte {start} (large GRIB1, about {scaled} bytes) has no '7777' "
                            "end where its length says: truncated or corrupted")


def check_grib_messages(path: str | Path) -> int:
    """Check every GRIB message of ``path`` against the bytes present; return how many.

    Each message starts ``GRIB``; its total length is declared in its header (edition 1:
    octets 5-7; edition 2: octets 9-16) and its last four bytes are ``7777``. Bytes
    before the first message (a WMO bulletin header) and padding between or after
    messages (NUL, spaces, newlines) are allowed.

    Raises
    ------
    hvrmet.errors.FormatError
        Naming the file and the message, when a message declares more bytes than the file
        holds, does not end in ``7777``, has an unknown edition, or when bytes that are no
        message follow the last complete one (a header cut short); or when no message is found.
    """
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos, n = 0, 0
        while True:
            i = mm.find(b"GRIB", pos)
            if i < 0:
                break
            k = n + 1
            if i + 16 > size:
                raise FormatError(p, f"GRIB message {k} at byte {i} is cut inside its header: the file is truncated "
                                     f"({n} complete message{'s' if n != 1 else ''} before it)")
            edition = mm[i + 7]
            if edition == 1:
                length = int.from_bytes(mm[i + 4:i + 7], "big")
                if length & 0x800000:
                    length = _grib1_large_length(mm, i, length, size, p, k)
            elif edition == 2:
                length = int.from_bytes(mm[i + 8:i + 16], "big")
            else:
                raise FormatError(p, f"GRIB message {k} at byte {i} has edition {edition} (not 1 or 2): corrupted")
            if length < 16:
                raise FormatError(p, f"GRIB message {k} at byte {i} declares an impossible length of {length} bytes: "
                                     "corrupted")
            if i + length > size:
                raise FormatError(p, f"GRIB message {k} at byte {i} declares {length} bytes but only {size - i} are "
                                     f"present: the file is truncated ({n} complete message{'s' if n != 1 else ''} "
                                     "before it; the rest would be lost)")
            if mm[i + length - 4:i + length] != b"7777":
                raise FormatError(p, f"GRIB message {k} at byte {i} does not end with '7777' at its declared length "
                                     f"({length} bytes): corrupted or truncated")
            n, pos = k, i + length
        if n == 0:
            raise FormatError(p, "no GRIB message in the file (no 'GRIB' header): not GRIB")
        tail = mm[pos:pos + 4096] if size - pos <= 4096 else b"x"
        if tail.strip(b"\x00 \r\n\t"):
            raise FormatError(p, f"{size - pos} bytes after the last complete GRIB message ({n}) are not a GRIB "
                                 "message: the file is truncated or corrupted")
    return n


def _merge_parts(parts: list[xr.Dataset]) -> xr.Dataset:
    """One dataset from cfgrib's hypercubes: clashing coordinates and variables renamed."""
    merged: xr.Dataset | None = None
    for k, part in enumerate(parts):
        part = part.load()
        if merged is None:
            merged = part
            continue
        ren = {}
        for name, c in part.coords.items():
            if name in merged.coords and not (merged[name].shape == c.shape
                                              and np.array_equal(merged[name].values, c.values)):
                ren[name] = f"{name}_{k}"
        for name in part.data_vars:
            if name in merged.data_vars:
                ren[name] = f"{name}_{part[name].attrs.get('GRIB_typeOfLevel', k)}"
        part = part.rename(ren)
        merged = xr.merge([merged, part], compat="override", join="outer", combine_attrs="drop_conflicts")
    return merged


def read_grib(path: str | Path, *, sha256: str = "", filter_by_keys: dict | None = None) -> xr.Dataset:
    """Read a GRIB 1/2 file with cfgrib (no index file is written beside the data).

    Parameters
    ----------
    filter_by_keys
        cfgrib's ``filter_by_keys``, to read only some messages.

    Returns
    -------
    xarray.Dataset
        As :func:`read_netcdf`; variables carry cfgrib's ``GRIB_*`` attributes (with the
        GRIB2 discipline, category and number).
    """
    p = check_file(path)
    with reading(p, "GRIB"):
        check_grib_messages(p)
        kw: dict = {"indexpath": "", "read_keys": list(GRIB_READ_KEYS)}
        if filter_by_keys:
            kw["filter_by_keys"] = filter_by_keys
        import cfgrib

        try:
            with xr.open_dataset(p, engine="cfgrib", backend_kwargs=kw) as ds:
                ds = ds.load()
        except cfgrib.dataset.DatasetBuildError:  # several level types: one hypercube each
            ds = _merge_parts(cfgrib.open_datasets(str(p), backend_kwargs=kw))
        if not ds.data_vars:
            raise FormatError(p, "no GRIB messages decoded")
        ds = _tidy(ds, p)
        return add_provenance(ds, p, sha256, "grib")
