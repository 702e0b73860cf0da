"""Soundings in the SPC / SHARPpy text layout::

    %TITLE%
     OUN   990504/0000

       LEVEL       HGHT       TEMP       DWPT       WDIR       WSPD
    -------------------------------------------------------------------
    %RAW%
     959.00,    345.00,     22.20,     19.00,    160.00,     18.00
     ...
    %END%

Comma-separated pressure (hPa), height (m MSL), temperature and dew point (°C), wind
direction (degree) and speed (knot), one level a line, surface first; -9999 is missing.
The column line may name other units in brackets (``TEMP(K)``, ``WSPD[m/s]``), which are
honoured. The ``%END%`` line closes the data: a file without it is truncated.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import check_file, reading, to_utc64
from hvrmet.data.readers.sounding import (CANONICAL_UNITS, Column, build_sounding, decode_text, file_units,
                                          to_column)
from hvrmet.errors import FormatError

__all__ = ["read_sharppy", "COLUMNS"]

#: Column name -> (variable, units of the SPC layout).
COLUMNS = {
    "LEVEL": ("pressure", "hPa"), "PRES": ("pressure", "hPa"), "HGHT": ("height", "m"),
    "TEMP": ("temperature", "degC"), "DWPT": ("dewpoint", "degC"), "WDIR": ("wind_direction", "degree"),
    "WSPD": ("wind_speed", "knot"),
}
_ORDER = ["LEVEL", "HGHT", "TEMP", "DWPT", "WDIR", "WSPD"]


def _marker(lines: list[str], name: str, start: int = 0) -> int | None:
    return next((i for i in range(start, len(lines)) if lines[i].strip().upper() == name), None)


def _column_names(p: Path, lines: list[str], title: int, raw: int) -> tuple[list[str], list[str]]:
    """Column names and pint units from the column line (the SPC order and units without one)."""
    for i in range(title + 1, raw):
        toks = re.findall(r"([A-Za-z]+)(?:\s*[\(\[]\s*([^\)\]]*?)\s*[\)\]])?", lines[i])
        heads = [name.upper() for name, _ in toks]
        if heads and heads[0] in ("LEVEL", "PRES") and "HGHT" in heads:
            names, units = [], []
            for name, given in toks:
                name = name.upper()
                if name not in COLUMNS:
                    raise FormatError(p, f"line {i + 1}: unknown column {name!r} (SHARPpy columns are "
                                         f"{', '.join(_ORDER)})")
                var, default = COLUMNS[name]
                units.append(file_units(p, given, var, name) if given else default)
                names.append(name)
            return names, units
    return list(_ORDER), [COLUMNS[n][1] for n in _ORDER]


def _title_time(text: str) -> dt.datetime | None:
    for fmt in ("%y%m%d/%H%M", "%Y%m%d/%H%M", "%y%m%d/%H", "%Y%m%d/%H"):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def read_sharppy(path: str | Path, *, sha256: str = "", station: str | None = None,
                 time: str | None = None, latitude: float | None = None,
                 longitude: float | None = None) -> xr.Dataset:
    """Read an SPC/SHARPpy text sounding.

    Parameters
    ----------
    path
        The text file (``%TITLE%``, ``%RAW%`` ... ``%END%``).
    station, time, latitude, longitude
        For files whose title line lacks them; the title line wins for station and time.

    Returns
    -------
    xarray.Dataset
        The layout every sounding reader returns
        (:func:`hvrmet.data.readers.sounding.build_sounding`).

    Raises
    ------
    hvrmet.errors.FormatError
        No ``%TITLE%``/``%RAW%`` (not this layout), no ``%END%`` (truncated), a line
        without its six values, implausible values.
    """
    p = check_file(path)
    with reading(p, "SHARPpy sounding text"):
        text = decode_text(p, p.read_bytes(), "sounding")
        lines = [ln.rstrip("\r") for ln in text.splitlines()]
        title = _marker(lines, "%TITLE%")
        raw = _marker(lines, "%RAW%", title or 0)
        if title is None or raw is None:
            raise FormatError(p, "no %TITLE% and %RAW% lines: not a SHARPpy sounding")
        end = _marker(lines, "%END%", raw + 1)
        if end is None:
            raise FormatError(p, "no %END% line after the data: the file is truncated")
        names, units = _column_names(p, lines, title, raw)
        if "LEVEL" not in names and "PRES" not in names:
            raise FormatError(p, "no pressure column (LEVEL): not a SHARPpy sounding")
        rows, where = [], []
        for i in range(raw + 1, end):
            ln = lines[i].strip()
            if not ln:
                continue
            cells = [c.strip() for c in ln.rstrip(",").split(",")]
            if len(cells) != len(names):
                raise FormatError(p, f"line {i + 1} has {len(cells)} values, the columns are {len(names)} "
                                     f"({', '.join(names)}): the file is corrupted")
            row = []
            for name, cell in zip(names, cells):
                try:
                    v = float(cell)
                except ValueError:
                    raise FormatError(p, f"line {i + 1}, column {name}: {cell!r} is not a number: "
                                         "the file is corrupted") from None
                row.append(np.nan if v in (-9999.0, -999.0) else v)
            rows.append(row)
            where.append(f"line {i + 1}")
        if len(rows) < 3:
            raise FormatError(p, f"only {len(rows)} levels between %RAW% and %END%: not a usable sounding")
        data = np.array(rows, dtype=np.float64)
        cols: dict[str, Column] = {}
        for k, name in enumerate(names):
            var = COLUMNS[name][0]
            if var in cols:
                raise FormatError(p, f"column {name} repeats the {var} column")
            cols[var] = to_column(p, var, name, data[:, k], units[k])
        for var in ("dewpoint", "wind_direction", "wind_speed", "height", "temperature"):
            cols.setdefault(var, Column(var, "(absent)", np.full(len(rows), np.nan), CANONICAL_UNITS[var]))
        info = next((lines[i].split() for i in range(title + 1, raw) if lines[i].strip()), [])
        if info and not re.match(r"^(LEVEL|PRES)\b", info[0].upper()):
            station = info[0]
            when = _title_time(info[1]) if len(info) > 1 else None
            if when is not None:
                time = when.isoformat()
        attrs: dict = {"station": station, "completeness": "complete: the data end at %END%"}
        if time:
            import pandas as pd

            t = pd.Timestamp(time)
            if t.tzinfo is not None:
                t = t.tz_convert("UTC").tz_localize(None)
            attrs["time"] = str(to_utc64(t.to_pydatetime()))
        if latitude is not None and longitude is not None:
            attrs["latitude"], attrs["longitude"] = float(latitude), float(longitude)
        return build_sounding(p, cols, reader="sharppy", sha256=sha256, where=where, attrs=attrs)
