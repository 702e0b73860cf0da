"""GINI satellite images (and the GINI radar mosaics), decoded by
:class:`metpy.io.GiniFile`."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_gini"]


def read_gini(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read a GINI file.

    Returns
    -------
    xarray.Dataset
        The image channel on ``(y, x)`` (projection metres), ``lat``/``lon`` per pixel,
        the valid ``time`` and the satellite and sector in the attributes.
    """
    from metpy.io import GiniFile

    p = check_file(path)
    with reading(p, "GINI"):
        with xr.open_dataset(GiniFile(str(p))) as ds:
            ds = ds.load()
        chans = [v for v in ds.data_vars if v != "projection"]
        if not chans:
            raise FormatError(p, "no image channel")
        for c in chans:
            ds[c].attrs.setdefault("units", "1")
        ds.attrs["channel"] = chans[0]
        ds.attrs["title"] = f"GINI {ds.attrs.get('satellite', '')} {ds.attrs.get('sector', '')} {chans[0]}"
    return add_provenance(ds, p, sha256, "gini")
