"""Surface observations in CSV (IEM ASOS-style, as MetPy's ``SFC_obs.csv``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_ending, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_surface_csv"]

#: Column -> (variable, units). Missing columns are simply absent from the dataset.
COLUMNS = {
    "tmpf": ("air_temperature", "degF"), "dwpf": ("dew_point_temperature", "degF"),
    "relh": ("relative_humidity", "percent"), "drct": ("wind_direction", "degree"),
    "sknt": ("wind_speed", "knot"), "gust": ("wind_gust", "knot"), "p01i": ("precip_1h", "inch"),
    "alti": ("altimeter_setting", "inHg"), "mslp": ("air_pressure_at_sea_level", "hPa"),
    "vsby": ("visibility", "mile"), "uwind": ("eastward_wind", "knot"),
    "vwind": ("northward_wind", "knot"),
}


def read_surface_csv(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read station observations.

    Returns
    -------
    xarray.Dataset
        On dim ``obs``: ``station``, ``time`` (UTC), ``lat``/``lon`` and the observed
        quantities with units (temperatures in degF, wind in knot, pressure in hPa, ...);
        ``present_weather`` (text: the report's METAR weather groups, from the ``wxcodes``
        column) where the file has it.
    """
    p = check_file(path)
    with reading(p, "surface observation CSV"):
        check_ending(p, (b"\n",))
        df = pd.read_csv(p, low_memory=False)
        need = {"station", "valid", "lat", "lon"}
        if need - set(df.columns):
            raise FormatError(p, f"missing columns {sorted(need - set(df.columns))}: "
                                 "not a surface-observation CSV")
        data_vars = {var: ("obs", pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64), {"units": units})
                     for col, (var, units) in COLUMNS.items() if col in df}
        ds = xr.Dataset(data_vars, coords={
            "obs": np.arange(len(df)),
            "station": ("obs", df["station"].astype(str).to_numpy()),
            "time": ("obs", pd.to_datetime(df["valid"]).to_numpy("datetime64[ns]")),
            "lat": ("obs", pd.to_numeric(df["lat"]).to_numpy(np.float64), {"units": "degree_north"}),
            "lon": ("obs", pd.to_numeric(df["lon"]).to_numpy(np.float64), {"units": "degree_east"})})
        if "wxcodes" in df:
            # METAR present-weather groups (IEM's ``wxcodes``), as text; empty for none
            ds["present_weather"] = ("obs", df["wxcodes"].fillna("").astype(str).str.strip().to_numpy())
        ds.attrs["title"] = f"Surface observations, {df['station'].nunique()} stations"
    return add_provenance(ds, p, sha256, "surface_csv")
