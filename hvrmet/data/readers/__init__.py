"""Readers of real meteorological data into :class:`xarray.Dataset`, one per format.

A small registry in the pysteps style: :func:`get_reader` returns the reader of a format
name and raises an error listing the known names for an unknown one. Third-party packages
add formats through the ``hvrmet.readers`` entry-point group (as xarray's backends do).

Every reader takes a path (a list of paths for composite sequences) and keyword options,
returns a dataset with CF-style names, units, lat/lon coordinates, UTC times and
provenance attributes (``source_file``, ``sha256``), and raises
:class:`hvrmet.errors.DataError` (never another exception) for bad input.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points

# The netCDF4 and eccodes wheels each bundle their own copies of shared libraries; loaded
# in the wrong order they corrupt the heap at interpreter exit. Loading netCDF4 and pygrib
# first, here, is the order that was found safe.
import netCDF4  # noqa: F401  (import order matters, see above)
import pygrib  # noqa: F401

__all__ = ["get_reader", "reader_names", "sniff_format", "READERS"]

#: Format name -> "module:function" inside this package.
READERS: dict[str, str] = {
    "nexrad_level2": "nexrad_level2:read_nexrad_level2",
    "nexrad_level3": "nexrad_level3:read_nexrad_level3",
    "uwyo_sounding": "sounding:read_uwyo_sounding",
    "upper_air_csv": "upper_air_csv:read_upper_air_csv",
    "netcdf": "gridded:read_netcdf",
    "grib": "gridded:read_grib",
    "composite": "composite:read_composite",
    "surface_csv": "surface_csv:read_surface_csv",
    "metar": "metar:read_metar",
    "wpc_fronts": "wpc_fronts:read_wpc_fronts",
    "nhc_windprob": "nhc_windprob:read_nhc_windprob",
    "gini": "gini:read_gini",
}


def _plugins() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group="hvrmet.readers")}


def reader_names() -> list[str]:
    """All known format names, built in and from plugins, sorted."""
    return sorted(set(READERS) | set(_plugins()))


def get_reader(name: str) -> Callable:
    """Return the reader function of a format.

    Raises
    ------
    ValueError
        If the format is unknown; the message lists the known ones.
    """
    if name in READERS:
        mod, func = READERS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{mod}"), func)
    plugins = _plugins()
    if name in plugins:
        return plugins[name].load()  # type: ignore[attr-defined]
    raise ValueError(f"unknown data format {name!r}; known formats: {', '.join(reader_names())}")


def sniff_format(path) -> str:
    """Guess the format of a file from its first bytes and name.

    Raises
    ------
    hvrmet.errors.FormatError
        If no known format matches; the message names the file.
    """
    import gzip

    from hvrmet.data.readers._common import check_file
    from hvrmet.errors import FormatError

    p = check_file(path)
    head = p.read_bytes()[:4096]
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(p) as fh:
                inner = fh.read(64)
        except OSError:
            inner = b""
        if inner[:4] in (b"AR2V", b"ARCH"):
            return "nexrad_level2"
    if head[:4] in (b"AR2V", b"ARCH"):
        return "nexrad_level2"
    if head[:4] == b"GRIB":
        return "grib"
    if head[:3] == b"CDF" or head[:8] == b"\x89HDF\r\n\x1a\n":
        return "netcdf"
    if head[:4] == b"PK\x03\x04":
        return "nhc_windprob"
    text = head.decode("latin-1")
    if "PRES   HGHT   TEMP" in text:
        return "uwyo_sounding"
    if text.startswith("station,valid,"):
        return "surface_csv"
    if text.startswith("pressure,height,temperature"):
        return "upper_air_csv"
    if "CODSUS" in text[:200]:
        return "wpc_fronts"
    if "METAR" in text[:400]:
        return "metar"
    if p.suffix == ".gini":
        return "gini"
    if p.suffix == ".nids" or text[:4] in ("SDUS", "NXUS"):
        return "nexrad_level3"
    raise FormatError(p, "format not recognised from its content; name it in a case file")
