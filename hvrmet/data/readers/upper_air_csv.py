"""Upper-air observations in CSV (one row per station and mandatory level), as in
MetPy's ``UPA_obs.csv``: pressure, height, temperature, dew point, wind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_ending, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_upper_air_csv"]

_UNITS = {"pressure": "hPa", "height": "m", "temperature": "degC", "dewpoint": "degC",
          "direction": "degree", "speed": "knot", "u_wind": "knot", "v_wind": "knot",
          "latitude": "degree_north", "longitude": "degree_east"}
_REQUIRED = {"pressure", "height", "temperature", "station", "time"}


def read_upper_air_csv(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read upper-air observations.

    Returns
    -------
    xarray.Dataset
        On dim ``obs``: ``station``, ``time`` (UTC) and the measured quantities with units
        (pressure hPa, height m, temperature/dewpoint degC, direction degree, speed knot).
    """
    p = check_file(path)
    with reading(p, "upper-air CSV"):
        check_ending(p, (b"\n",))
        df = pd.read_csv(p)
        missing = _REQUIRED - set(df.columns)
        if missing:
            raise FormatError(p, f"missing columns {sorted(missing)}: not an upper-air CSV")
        df["time"] = pd.to_datetime(df["time"], format="mixed")
        ds = xr.Dataset(coords={"obs": np.arange(len(df))})
        ds.coords["station"] = ("obs", df["station"].astype(str).to_numpy())
        ds.coords["time"] = ("obs", df["time"].to_numpy("datetime64[ns]"))
        for col, units in _UNITS.items():
            if col in df:
                ds[col] = ("obs", pd.to_numeric(df[col], errors="raise").to_numpy(np.float64),
                           {"units": units})
        ds.attrs["title"] = f"Upper-air observations, {df['station'].nunique()} stations"
    return add_provenance(ds, p, sha256, "upper_air_csv")
