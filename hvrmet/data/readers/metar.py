"""METAR text bulletins, decoded by :func:`metpy.io.parse_metar_file`.

Station positions come from the station tables in MetPy's static data (``sfstns.tbl``,
``master.txt``, ``stations.txt``); MetPy's fourth table (``airport-codes.csv``) is not
used, so nothing is downloaded.
"""

from __future__ import annotations

from collections import ChainMap
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_ending, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_metar"]

_UNITS = {"air_temperature": "degC", "dew_point_temperature": "degC",
          "wind_direction": "degree", "wind_speed": "knot", "wind_gust": "knot",
          "visibility": "m", "altimeter": "inHg", "air_pressure_at_sea_level": "hPa",
          "eastward_wind": "knot", "northward_wind": "knot", "elevation": "m"}


def _use_local_station_tables() -> None:
    from hvrmet.data.registry import configure_metpy
    configure_metpy()
    from metpy.io import station_data

    info = station_data.station_info
    if "tables" not in info.__dict__:
        info.__dict__["tables"] = ChainMap(dict(station_data._read_station_table()),
                                           dict(station_data._read_master_text_file()),
                                           dict(station_data._read_station_text_file()))


def read_metar(path: str | Path, *, sha256: str = "", year: int | None = None,
               month: int | None = None) -> xr.Dataset:
    """Read a file of METAR reports.

    Parameters
    ----------
    year, month
        The reports' year and month (METARs carry only the day), taken from the file name
        (``metar_YYYYMMDD_HHMM.txt``) when not given.

    Returns
    -------
    xarray.Dataset
        On dim ``obs``: ``station``, ``time``, ``lat``/``lon`` and the decoded quantities
        with units.
    """
    from metpy.io import parse_metar_file

    p = check_file(path)
    if year is None or month is None:
        import re
        m = re.search(r"(\d{4})(\d{2})\d{2}", p.name)
        if m is None:
            raise FormatError(p, "year and month not given and not in the file name")
        year, month = int(m.group(1)), int(m.group(2))
    with reading(p, "METAR text"):
        check_ending(p, (b"=", b"\x03"), strip=b" \r\n\t")
        _use_local_station_tables()
        df = parse_metar_file(str(p), year=year, month=month)
        if df.empty:
            raise FormatError(p, "no METAR report decoded")
        df = df.reset_index(drop=True)
        ds = xr.Dataset(coords={"obs": np.arange(len(df))})
        ds.coords["station"] = ("obs", df["station_id"].astype(str).to_numpy())
        ds.coords["time"] = ("obs", pd.to_datetime(df["date_time"]).to_numpy("datetime64[ns]"))
        ds.coords["lat"] = ("obs", df["latitude"].to_numpy(np.float64), {"units": "degree_north"})
        ds.coords["lon"] = ("obs", df["longitude"].to_numpy(np.float64), {"units": "degree_east"})
        for var, units in _UNITS.items():
            if var in df:
                ds[var] = ("obs", pd.to_numeric(df[var], errors="coerce").to_numpy(np.float64),
                           {"units": units})
        if "current_wx1" in df:
            ds["present_weather"] = ("obs", df["current_wx1"].fillna("").astype(str).to_numpy())
        ds.attrs["title"] = f"METAR reports, {df['station_id'].nunique()} stations"
        ds.attrs["stations_without_position"] = int(df["latitude"].isna().sum())
    return add_provenance(ds, p, sha256, "metar")
