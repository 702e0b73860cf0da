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
    "cfradial1": "radar:read_cfradial1",
    "cfradial2": "radar:read_cfradial2",
    "odim_h5": "radar:read_odim_h5",
    "iris": "radar:read_iris",
    "rainbow": "radar:read_rainbow",
    "gamic": "radar:read_gamic",
    "uf": "radar:read_uf",
    "furuno": "radar:read_furuno",
    "nexrad_level3": "nexrad_level3:read_nexrad_level3",
    "uwyo_sounding": "sounding:read_uwyo_sounding",
    "igra2": "igra2:read_igra2",
    "sharppy": "sharppy:read_sharppy",
    "upper_air_csv": "upper_air_csv:read_upper_air_csv",
    "netcdf": "gridded:read_netcdf",
    "grib": "gridded:read_grib",
    "composite": "composite:read_composite",
    "surface_csv": "surface_csv:read_surface_csv",
    "metar": "metar:read_metar",
    "wpc_fronts": "wpc_fronts:read_wpc_fronts",
    "nhc_windprob": "nhc_windprob:read_nhc_windprob",
    "gini": "gini:read_gini",
    "spc_outlook": "spc_outlook:read_spc_outlook",
    "storm_reports": "storm_reports:read_storm_reports",
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
    hvrmet.data.sniff.UnknownFormat
        If the format is unknown (a :class:`~hvrmet.errors.FormatError` that is also a
        ``ValueError``): one line listing the known ones, never a traceback on the CLI.
    """
    if name in READERS:
        mod, func = READERS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{mod}"), func)
    plugins = _plugins()
    if name in plugins:
        return plugins[name].load()  # type: ignore[attr-defined]
    from hvrmet.data.sniff import UnknownFormat

    raise UnknownFormat(None, f"unknown data format {name!r}; known formats: {', '.join(reader_names())}")


def sniff_format(path) -> str:
    """Guess the format of a file from its bytes and headers (never its name alone).

    The rules are in :mod:`hvrmet.data.sniff`; :func:`hvrmet.data.sniff.sniff` also gives
    the reader options the content implies (a composite's pysteps importer).

    Raises
    ------
    hvrmet.errors.FormatError
        If no known format matches; the message names the file.
    """
    from hvrmet.data.sniff import sniff_format as _sniff_format

    return _sniff_format(path)
