"""Upper-air soundings in the University of Wyoming text layout.

The column block (``PRES HGHT TEMP DWPT RELH MIXR DRCT SKNT THTA THTE THTV``) is found by
its header line, so files with or without the station/time title line, or with blank
lines before it, are read alike. Levels with no temperature (e.g. the below-ground 1000
hPa line) are kept with NaN; :func:`read_uwyo_sounding` records how many levels have
temperature, dew point and wind.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading, to_utc64
from hvrmet.errors import FormatError

__all__ = ["read_uwyo_sounding", "COLUMNS"]

#: UWyo column -> (variable, units).
COLUMNS = {
    "PRES": ("pressure", "hPa"), "HGHT": ("height", "m"), "TEMP": ("temperature", "degC"),
    "DWPT": ("dewpoint", "degC"), "RELH": ("relative_humidity", "percent"),
    "MIXR": ("mixing_ratio", "g/kg"), "DRCT": ("wind_direction", "degree"),
    "SKNT": ("wind_speed", "knot"), "THTA": ("potential_temperature", "K"),
    "THTE": ("equivalent_potential_temperature", "K"),
    "THTV": ("virtual_potential_temperature", "K"),
}
_TITLE = re.compile(r"^\s*(\d{5})\s+(\w{3,4})\s+(.*?)\s+Observations at\s+(\d{2})Z\s+(\d{1,2}\s+\w{3}\s+\d{4})")
_WIDTH = 7


def read_uwyo_sounding(path: str | Path, *, sha256: str = "", station: str | None = None,
                       time: str | None = None, latitude: float | None = None,
                       longitude: float | None = None) -> xr.Dataset:
    """Read a University of Wyoming text sounding.

    Parameters
    ----------
    path
        The text file.
    station, time, latitude, longitude
        Station id, launch time (UTC, ISO 8601) and position, for files whose title line
        lacks them (the case catalogue supplies them). A title line in the file wins for
        station and time.

    Returns
    -------
    xarray.Dataset
        Variables on dim ``level`` (surface first): ``pressure`` (hPa), ``height`` (m),
        ``temperature`` and ``dewpoint`` (degC), ``wind_direction`` (degree),
        ``wind_speed`` (knot), and the derived UWyo columns.
    """
    p = check_file(path)
    with reading(p, "University of Wyoming sounding text"):
        text = p.read_text(encoding="ascii")
        if not text.endswith("\n"):
            raise FormatError(p, "the file ends in the middle of a line: truncated")
        lines = text.splitlines()
        hdr = next((i for i, ln in enumerate(lines) if ln.split()[:3] == ["PRES", "HGHT", "TEMP"]), None)
        if hdr is None:
            raise FormatError(p, "no 'PRES HGHT TEMP ...' column header: not a UWyo sounding")
        names = lines[hdr].split()
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise FormatError(p, f"unexpected sounding columns {unknown}")
        body = []
        for ln in lines[hdr + 3:]:
            if not ln.strip():
                continue
            if ln.startswith("-") or not re.match(r"^\s*\d", ln):
                break
            body.append(ln)
        if len(body) < 3:
            raise FormatError(p, f"only {len(body)} data lines: the sounding is truncated")
        rows = []
        for ln in body:
            ln = ln.rstrip("\n").ljust(_WIDTH * len(names))
            row = []
            for k in range(len(names)):
                cell = ln[k * _WIDTH:(k + 1) * _WIDTH].strip()
                row.append(float(cell) if cell else np.nan)
            if ln[_WIDTH * len(names):].strip():
                raise FormatError(p, f"malformed data line {ln.strip()!r}")
            rows.append(row)
        df = pd.DataFrame(rows, columns=names)
        if df["PRES"].isna().any() or (np.diff(df["PRES"].to_numpy()) > 0).any():
            raise FormatError(p, "pressure is missing or increases with height: corrupted sounding")
        ds = xr.Dataset(coords={"level": np.arange(len(df))})
        for col in names:
            var, units = COLUMNS[col]
            ds[var] = ("level", df[col].to_numpy(np.float64), {"units": units, "uwyo_column": col})
        title = next((m for m in (_TITLE.match(ln) for ln in lines[:hdr]) if m), None)
        if title:
            station = title.group(2)
            time = str(pd.Timestamp(f"{title.group(5)} {title.group(4)}:00"))
            ds.attrs["station_number"] = title.group(1)
            ds.attrs["station_name"] = title.group(3)
        if station:
            ds.attrs["station"] = station
        if time:
            ds.attrs["time"] = str(to_utc64(pd.Timestamp(time).to_pydatetime().replace(tzinfo=None)))
        if latitude is not None:
            ds.attrs["latitude"] = float(latitude)
            ds.attrs["longitude"] = float(longitude)
        ds.attrs["levels_with_temperature"] = int(ds.temperature.notnull().sum())
        ds.attrs["levels_with_dewpoint"] = int(ds.dewpoint.notnull().sum())
        ds.attrs["levels_with_wind"] = int((ds.wind_speed.notnull() & ds.wind_direction.notnull()).sum())
        ds.attrs["top_pressure_hPa"] = float(ds.pressure[ds.temperature.notnull()].min())
        ds.attrs["title"] = f"Sounding {station or ''} {ds.attrs.get('time', '')}".strip()
    return add_provenance(ds, p, sha256, "uwyo_sounding")
