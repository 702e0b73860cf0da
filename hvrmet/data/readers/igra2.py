"""Soundings in the IGRA version 2 text layout (NOAA NCEI Integrated Global Radiosonde
Archive, ``igra2-data-format.txt``).

A file holds one or more soundings; each starts with a header line::

    #USM00072357 1999 05 04 00 2315   31 ncdc-gts ncdc-gts  352333  -974408

(``#``, station id in columns 2–12, year 14–17, month 19–20, day 22–23, hour 25–26,
release time HHMM 28–31, number of levels 33–36, pressure- and non-pressure-level
sources 38–45 and 47–54, latitude and longitude ×10000 in 56–62 and 64–71), followed by
that many fixed-width data records::

    21 -9999  95900B  345B  222B -9999   32   160   93

(level types in columns 1–2, elapsed time MMMSS 4–8, pressure in Pa 10–15 and its flag
16, geopotential height in m 17–21 and flag 22, temperature in tenths of °C 23–27 and flag
28, relative humidity in tenths of % 29–33, dew-point depression in tenths of °C 35–39,
wind direction in degrees 41–45, wind speed in tenths of m/s 47–51; -8888 is a value
removed by quality control and -9999 a missing one). The header's level count is checked
against the records present, so a cut file is found.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import check_file, reading, to_utc64
from hvrmet.data.readers.sounding import Column, build_sounding, decode_text, to_column
from hvrmet.errors import DataError, FormatError

__all__ = ["read_igra2", "DATA_FIELDS"]

#: Data record field -> (first column, last column), 1-based inclusive as in the format description.
DATA_FIELDS = {
    "LVLTYP1": (1, 1), "LVLTYP2": (2, 2), "ETIME": (4, 8), "PRESS": (10, 15), "PFLAG": (16, 16),
    "GPH": (17, 21), "ZFLAG": (22, 22), "TEMP": (23, 27), "TFLAG": (28, 28), "RH": (29, 33),
    "DPDP": (35, 39), "WDIR": (41, 45), "WSPD": (47, 51),
}
_RECORD = 51
_HEADER = re.compile(r"^#(?P<id>[A-Z0-9]{11}) (?P<year>\d{4}) (?P<month>\d{2}) (?P<day>\d{2}) "
                     r"(?P<hour>\d{2}) (?P<reltime>[\d ]{4}) (?P<numlev>[\d ]{4})")
_MISSING = (-8888.0, -9999.0)


def _field(line: str, name: str) -> str:
    a, b = DATA_FIELDS[name]
    return line[a - 1:b]


def _headers(p: Path, lines: list[str]) -> list[int]:
    heads = [i for i, ln in enumerate(lines) if ln.startswith("#")]
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if not heads or heads[0] != first:
        raise FormatError(p, "the file does not start with an IGRA2 header line ('#' and a station id): "
                             "not an IGRA2 sounding")
    for i in heads:
        if not _HEADER.match(lines[i]):
            raise FormatError(p, f"line {i + 1} is not an IGRA2 header ('#ID YYYY MM DD HH HHMM NLEV ...'): "
                                 "the file is corrupted")
    return heads


def _launch(m: re.Match) -> pd.Timestamp:
    hour = int(m["hour"])
    rel = m["reltime"].strip()
    if hour == 99 and rel and rel != "9999":  # nominal hour missing: the release time
        hour = int(rel[:-2] or 0)
    return pd.Timestamp(int(m["year"]), int(m["month"]), int(m["day"]), 0 if hour == 99 else hour)


def read_igra2(path: str | Path, *, sha256: str = "", time: str | None = None,
               station: str | None = None) -> xr.Dataset:
    """Read one sounding from an IGRA2 data file.

    Parameters
    ----------
    path
        An IGRA2 ``-data.txt`` file (one station, one or more soundings).
    time
        Nominal time (UTC, ISO 8601, to the hour) of the sounding to read; needed when
        the file holds more than one.
    station
        Overrides the station id of the header (e.g. a three-letter id).

    Returns
    -------
    xarray.Dataset
        The layout every sounding reader returns
        (:func:`hvrmet.data.readers.sounding.build_sounding`): pressure (hPa), height (m),
        temperature and dew point (degC; dew point = temperature - depression),
        relative humidity (%), wind direction (degree) and speed (knot, from m/s), with
        ``igra_id``, ``time``, ``latitude``, ``longitude``, the sources and the header's
        level count as attributes. Levels without pressure (wind at a height) are left
        out with a note.

    Raises
    ------
    hvrmet.errors.FormatError
        A header or record that does not follow the layout, a header that promises more
        levels than follow (truncated), implausible values.
    hvrmet.errors.DataError
        The file holds several soundings and ``time`` names none of them.
    """
    p = check_file(path)
    with reading(p, "IGRA2 sounding text"):
        text = decode_text(p, p.read_bytes(), "IGRA2 file")
        lines = [ln.rstrip("\r") for ln in text.splitlines()]
        heads = _headers(p, lines)
        spans = list(zip(heads, heads[1:] + [len(lines)]))
        metas = [_HEADER.match(lines[i]) for i in heads]
        times = [_launch(m) for m in metas]
        if time is None:
            if len(heads) > 1:
                raise DataError(p, f"the file holds {len(heads)} soundings ({times[0]:%Y-%m-%d %H} UTC to "
                                   f"{times[-1]:%Y-%m-%d %H} UTC): name one with the reader option time")
            k = 0
        else:
            want = pd.Timestamp(time)
            if want.tzinfo is not None:
                want = want.tz_convert("UTC").tz_localize(None)
            matches = [j for j, t in enumerate(times) if t == want.floor("h")]
            if not matches:
                raise DataError(p, f"no sounding at {want:%Y-%m-%d %H} UTC in the file ({len(heads)} from "
                                   f"{times[0]:%Y-%m-%d %H} to {times[-1]:%Y-%m-%d %H} UTC)")
            k = matches[0]
        start, stop = spans[k]
        meta = metas[k]
        numlev = int(meta["numlev"])
        records = [(i, lines[i]) for i in range(start + 1, stop) if lines[i].strip()]
        if len(records) < numlev:
            raise FormatError(p, f"the header (line {start + 1}) promises {numlev} levels but only "
                                 f"{len(records)} follow: the file is truncated")
        if len(records) > numlev:
            raise FormatError(p, f"the header (line {start + 1}) promises {numlev} levels but "
                                 f"{len(records)} follow: the file is corrupted")
        vals: dict[str, list[float]] = {f: [] for f in ("PRESS", "GPH", "TEMP", "RH", "DPDP", "WDIR", "WSPD")}
        where, surface = [], None
        for n, (i, ln) in enumerate(records):
            if len(ln) < _RECORD:
                cut = " (the file is truncated)" if i == len(lines) - 1 else ""
                raise FormatError(p, f"line {i + 1} is {len(ln)} characters long; an IGRA2 data record has "
                                     f"{_RECORD}{cut}")
            if not re.match(r"^[123][012] ", ln):
                raise FormatError(p, f"line {i + 1} does not start with IGRA2 level types "
                                     f"({ln[:3]!r}): the file is corrupted")
            if ln[1] == "1" and surface is None:
                surface = n
            for f in vals:
                cell = _field(ln, f).strip()
                try:
                    v = float(int(cell))
                except ValueError:
                    raise FormatError(p, f"line {i + 1}, field {f}: {cell!r} is not a whole number: "
                                         "the file is corrupted") from None
                vals[f].append(np.nan if v in _MISSING else v)
            where.append(f"line {i + 1}")
        a = {f: np.array(v, dtype=np.float64) for f, v in vals.items()}
        cols: dict[str, Column] = {
            "pressure": to_column(p, "pressure", "PRESS", a["PRESS"], "Pa"),
            "height": to_column(p, "height", "GPH", a["GPH"], "m"),
            "temperature": to_column(p, "temperature", "TEMP", a["TEMP"] / 10.0, "degC"),
            "dewpoint": to_column(p, "dewpoint", "DPDP", (a["TEMP"] - a["DPDP"]) / 10.0, "degC"),
            "relative_humidity": to_column(p, "relative_humidity", "RH", a["RH"] / 10.0, "percent"),
            "wind_direction": to_column(p, "wind_direction", "WDIR", a["WDIR"], "degree"),
            "wind_speed": to_column(p, "wind_speed", "WSPD", a["WSPD"] / 10.0, "m/s"),
        }
        if (a["DPDP"] < 0).any():
            i = int(np.flatnonzero(a["DPDP"] < 0)[0])
            raise FormatError(p, f"field DPDP: a negative dew-point depression ({a['DPDP'][i] / 10:g} °C, "
                                 f"{where[i]}): the file is corrupted")
        lat, lon = meta.string[55:62].strip(), meta.string[63:71].strip()
        attrs = {
            "station": station or meta["id"], "igra_id": meta["id"],
            "time": str(to_utc64(times[k].to_pydatetime())),
            "release_time_hhmm": meta["reltime"].strip(),
            "igra_numlev": numlev,
            "pressure_source": meta.string[37:45].strip(), "non_pressure_source": meta.string[46:54].strip(),
            "completeness": f"complete: the header's {numlev} levels are all present",
        }
        try:
            if lat and lon and int(lat) != -99999:
                attrs["latitude"], attrs["longitude"] = int(lat) / 1e4, int(lon) / 1e4
        except ValueError:
            raise FormatError(p, f"line {start + 1}: latitude/longitude {lat!r} {lon!r} are not numbers: "
                                 "the header is corrupted") from None
        if surface is not None:
            attrs["surface_level"] = int(surface)
        notes = []
        if len(heads) > 1 and k != len(heads) - 1:
            last_start, last_stop = spans[-1]
            have = sum(1 for i in range(last_start + 1, last_stop) if lines[i].strip())
            if have < int(metas[-1]["numlev"]):
                notes.append(f"the file's last sounding ({times[-1]:%Y-%m-%d %H} UTC) is cut short: "
                             "the file was truncated")
        return build_sounding(p, cols, reader="igra2", sha256=sha256, where=where, attrs=attrs, notes=notes)
