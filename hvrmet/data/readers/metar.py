"""METAR text bulletins, decoded report by report with MetPy's METAR grammar
(:func:`metpy.io.metar.parse_metar`).

Corrupted bytes never reach the decoder: the file is split into reports as
:func:`metpy.io.parse_metar_file` does (a line indented by five spaces continues the one
before), and a report holding anything but printable ASCII, or longer than
:data:`MAX_REPORT_CHARS`, is skipped as garbled and counted. Each report is decoded on its
own, so one that trips the decoder is skipped (and counted) instead of failing the file,
and the whole file is decoded under a time limit (:data:`TIME_LIMIT_S`, the reader option
``time_limit_s``): a file that takes longer is refused, never waited on. Skipped reports
come back as a :class:`~hvrmet.data.readers._common.ReaderWarning` and in the dataset's
``reader_notes``; a file where most reports are garbled is refused.

Station positions come from the station tables in MetPy's static data (``sfstns.tbl``,
``master.txt``, ``stations.txt``); MetPy's fourth table (``airport-codes.csv``) is not
used, so nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time as _time
import warnings
from collections import ChainMap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import ReaderWarning, add_provenance, check_ending, check_file, reading
from hvrmet.errors import DataFileMissing, FormatError

__all__ = ["read_metar", "MAX_REPORT_CHARS", "TIME_LIMIT_S"]

_UNITS = {"air_temperature": "degC", "dew_point_temperature": "degC",
          "wind_direction": "degree", "wind_speed": "knot", "wind_gust": "knot",
          "visibility": "m", "altimeter": "inHg", "air_pressure_at_sea_level": "hPa",
          "eastward_wind": "knot", "northward_wind": "knot", "elevation": "m"}
#: Longest report decoded (characters): real ones, continuation lines joined, stay under 400.
MAX_REPORT_CHARS = 2000


def _env_limit(default: float = 120.0) -> float:
    try:
        value = float(os.environ.get("HVRMET_METAR_TIME_LIMIT_S", default))
    except ValueError:
        return default
    return value if value > 0 else default


#: Time limit (s) for decoding one file (about 3 s for 19 000 reports on one core);
#: ``HVRMET_METAR_TIME_LIMIT_S`` overrides it.
TIME_LIMIT_S = _env_limit()
_TABLES = ("sfstns.tbl", "master.txt", "stations.txt")
_GARBLED = re.compile(r"[^\t\x20-\x7e]")


class _Overrun(BaseException):
    """Decoding ran past the file's time limit (raised by the alarm; a BaseException so
    that no ``except Exception`` inside the decoder swallows it)."""


def _use_local_station_tables(path: Path | None = None) -> None:
    """Give MetPy's station lookup the local tables (no download); a DataFileMissing
    naming ``path`` (the METAR file) when they are not in the data folder."""
    from hvrmet.data.registry import configure_metpy

    configure_metpy()
    from metpy.cbook import POOCH
    from metpy.io import station_data

    info = station_data.station_info
    if "tables" in info.__dict__:
        return
    missing = [n for n in _TABLES if not (Path(POOCH.path) / n).is_file()]
    if missing:
        raise DataFileMissing(path, f"station positions for METARs need MetPy's station tables "
                                    f"({', '.join(missing)}), which are not in the data folder "
                                    "(metpy/staticdata): set HVRMET_DATA_DIR")
    info.__dict__["tables"] = ChainMap(dict(station_data._read_station_table()),
                                       dict(station_data._read_master_text_file()),
                                       dict(station_data._read_station_text_file()))


def _reports(text: str, prefix: str = "     ") -> Iterator[tuple[int, str]]:
    """``(line number, report)`` with continuation lines joined, as MetPy's
    ``parse_metar_file`` splits a file."""
    tmp: list[str] = []
    first = 0
    for no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not line.startswith(prefix) and tmp:
            yield first, " ".join(tmp)
            tmp = []
        if not tmp:
            first = no
        tmp.append(line.strip())
    if tmp:
        yield first, " ".join(tmp)


class _Alarm:
    """A SIGALRM deadline for the whole file, where one can be set (main thread, no other
    timer running); elsewhere the deadline is checked between reports only."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = False
        self.old = None

    def __enter__(self) -> _Alarm:
        if (threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
                and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
                and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)):
            def _ring(signum, frame):
                raise _Overrun()
            self.old = signal.signal(signal.SIGALRM, _ring)
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 0.001))
            self.active = True
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
            signal.signal(signal.SIGALRM, self.old if self.old is not None else signal.SIG_DFL)


def _decode(p: Path, text: str, year: int, month: int, limit_s: float) -> tuple[list, dict[str, int]]:
    from metpy.io.metar import parse_metar

    counts = {"reports": 0, "garbled": 0, "not_metar": 0, "decoder_failed": 0}
    decoded: list = []
    start = _time.monotonic()
    first_garbled = 0
    k = 0
    try:
        with _Alarm(limit_s):
            for k, (line, rep) in enumerate(_reports(text)):
                if len(rep) <= 25:  # headers, bulletin numbers, control characters: as MetPy
                    continue
                counts["reports"] += 1
                if len(rep) > MAX_REPORT_CHARS or _GARBLED.search(rep):
                    counts["garbled"] += 1
                    first_garbled = first_garbled or line
                    continue
                if _time.monotonic() - start > limit_s:
                    raise _Overrun()
                try:
                    decoded.append(parse_metar(rep, year=year, month=month))
                except _Overrun:
                    raise
                except Exception as exc:  # noqa: BLE001 - one bad report does not fail the file
                    key = "not_metar" if type(exc).__name__ == "ParseError" else "decoder_failed"
                    counts[key] += 1
    except _Overrun:
        raise FormatError(p, f"decoding stopped after {limit_s:g} s at report {counts['reports']}: the reports "
                             "take far longer than usual to decode (corrupted file?); raise the reader option "
                             "time_limit_s to wait longer") from None
    counts["first_garbled_line"] = first_garbled
    return decoded, counts


def _to_frame(decoded: list) -> pd.DataFrame:
    """The decoded reports as MetPy's ``parse_metar_file`` frames them: duplicates dropped,
    sea-level pressure and wind components derived."""
    from metpy.calc import altimeter_to_sea_level_pressure, wind_components
    from metpy.units import units

    df = pd.DataFrame(decoded, columns=decoded[0]._fields)
    df = df.rename(columns={"temperature": "air_temperature", "dewpoint": "dew_point_temperature"})
    df = df.drop_duplicates(subset=["date_time", "latitude", "longitude"], keep="last").reset_index(drop=True)
    num = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64)
           for c in ("altimeter", "elevation", "air_temperature", "wind_speed", "wind_direction")}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slp = altimeter_to_sea_level_pressure(units.Quantity(num["altimeter"], "inHg"),
                                              units.Quantity(num["elevation"], "m"),
                                              units.Quantity(num["air_temperature"], "degC"))
        df["air_pressure_at_sea_level"] = np.round(slp.m_as("hPa"), 2)
        u, v = wind_components(units.Quantity(num["wind_speed"], "knot"),
                               units.Quantity(num["wind_direction"], "degree"))
    df["eastward_wind"], df["northward_wind"] = u.m, v.m
    df["altimeter"] = np.round(num["altimeter"], 2)
    return df


def read_metar(path: str | Path, *, sha256: str = "", year: int | None = None,
               month: int | None = None, time_limit_s: float | None = None) -> xr.Dataset:
    """Read a file of METAR reports.

    Parameters
    ----------
    year, month
        The reports' year and month (METARs carry only the day), taken from the file name
        (``metar_YYYYMMDD_HHMM.txt``) when not given.
    time_limit_s
        Longest time to spend decoding (s); :data:`TIME_LIMIT_S` when not given.

    Returns
    -------
    xarray.Dataset
        On dim ``obs``: ``station``, ``time``, ``lat``/``lon`` and the decoded quantities
        with units. ``reports_decoded``, ``reports_skipped_garbled`` and
        ``reports_skipped_decoder_failed`` count the reports; ``reader_notes`` says what
        was skipped.

    Raises
    ------
    hvrmet.errors.FormatError
        A file that does not end like a METAR bulletin (truncated), mostly garbled,
        with no decodable report, or slower to decode than ``time_limit_s``.
    """
    p = check_file(path)
    if year is None or month is None:
        m = re.search(r"(\d{4})(\d{2})\d{2}", p.name)
        if m is None:
            raise FormatError(p, "year and month not given and not in the file name")
        year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= int(month) <= 12:
        raise FormatError(p, f"month {month} (from the reader options or the file name) is not 1-12")
    try:
        limit = TIME_LIMIT_S if time_limit_s is None else float(time_limit_s)
    except (TypeError, ValueError):
        limit = float("nan")
    if not limit > 0:
        raise FormatError(p, f"time_limit_s must be positive, got {time_limit_s!r}")
    with reading(p, "METAR text"):
        check_ending(p, (b"=", b"\x03"), strip=b" \r\n\t")
        _use_local_station_tables(p)
        text = p.read_bytes().decode("ascii", "surrogateescape")
        decoded, counts = _decode(p, text, int(year), int(month), limit)
        n = counts["reports"]
        if n and counts["garbled"] > max(10, n // 2):
            raise FormatError(p, f"{counts['garbled']} of {n} reports hold bytes that are not text "
                                 f"(first at line {counts['first_garbled_line']}): the file is corrupted "
                                 "or not METAR text")
        if not decoded:
            raise FormatError(p, "no METAR report decoded: not METAR text, or every report is corrupted")
        df = _to_frame(decoded)
        notes = []
        if counts["garbled"]:
            notes.append(f"{counts['garbled']} of {n} reports skipped: they hold bytes that are not text "
                         f"(corrupted; the first at line {counts['first_garbled_line']})")
        if counts["decoder_failed"]:
            notes.append(f"{counts['decoder_failed']} of {n} reports skipped: the METAR decoder failed on them")
        ds = xr.Dataset(coords={"obs": np.arange(len(df))})
        ds.coords["station"] = ("obs", df["station_id"].astype(str).to_numpy())
        ds.coords["time"] = ("obs", pd.to_datetime(df["date_time"], errors="coerce").to_numpy("datetime64[ns]"))
        ds.coords["lat"] = ("obs", pd.to_numeric(df["latitude"], errors="coerce").to_numpy(np.float64),
                            {"units": "degree_north"})
        ds.coords["lon"] = ("obs", pd.to_numeric(df["longitude"], errors="coerce").to_numpy(np.float64),
                            {"units": "degree_east"})
        for var, units in _UNITS.items():
            if var in df:
                ds[var] = ("obs", pd.to_numeric(df[var], errors="coerce").to_numpy(np.float64),
                           {"units": units})
        wx = [c for c in ("current_wx1", "current_wx2", "current_wx3") if c in df]
        if wx:
            # every weather group of the report, space-separated (empty for none)
            groups = df[wx].fillna("").astype(str)
            ds["present_weather"] = ("obs", groups.apply(lambda r: " ".join(g for g in r if g.strip()),
                                                         axis=1).to_numpy(str))
        ds.attrs["title"] = f"METAR reports, {df['station_id'].nunique()} stations"
        ds.attrs["stations_without_position"] = int(ds["lat"].isnull().sum())
        ds.attrs["reports_decoded"] = len(decoded)
        ds.attrs["reports_skipped_garbled"] = counts["garbled"]
        ds.attrs["reports_skipped_decoder_failed"] = counts["decoder_failed"]
        ds.attrs["reader_notes"] = notes
    if notes:
        warnings.warn(ReaderWarning(f"{p}: " + "; ".join(notes)), stacklevel=2)
    return add_provenance(ds, p, sha256, "metar")
