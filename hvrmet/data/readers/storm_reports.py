"""Local storm reports in the SPC CSV layout (context for scoring, never a diagnosis input).

SPC's daily storm-report files (``YYMMDD_rpts_torn.csv``, ``_wind.csv``, ``_hail.csv``,
and the combined ``YYMMDD_rpts.csv`` / ``_rpts_filtered.csv`` holding the three one after
the other) have one header line per hazard:

* ``Time,F_Scale,Location,County,State,Lat,Lon,Comments`` (tornado; ``F_Scale`` is the
  (E)F rating, ``UNK`` when not rated);
* ``Time,Speed,Location,County,State,Lat,Lon,Comments`` (wind; ``Speed`` in mph, ``UNK``
  for damage without a measured or estimated speed);
* ``Time,Size,Location,County,State,Lat,Lon,Comments`` (hail; ``Size`` in hundredths of an
  inch).

``Time`` is ``HHMM`` UTC within the convective day, 12 UTC to 12 UTC: a report before
12 UTC belongs to the next calendar day. The day comes from the ``date`` option or else
from SPC's file name (``YYMMDD_rpts``); without either the times are left unset.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_storm_reports"]

_HEADER = re.compile(r"^\s*time\s*,\s*(f_scale|speed|size)\s*$", re.I)
_HAZARD = {"f_scale": "tornado", "speed": "wind", "size": "hail"}
_COLUMNS = ["time", "magnitude", "location", "county", "state", "lat", "lon", "comments"]


def read_storm_reports(paths: str | Path | list, *, sha256: str | list | None = None,
                       date: str | None = None) -> xr.Dataset:
    """Read one or more SPC storm-report CSV files (one per hazard, or combined).

    Parameters
    ----------
    date
        The convective day (``YYYY-MM-DD``, starting 12 UTC) for files whose name does not
        give it.

    Returns
    -------
    xarray.Dataset
        On dim ``report``: ``hazard`` (tornado, wind, hail), ``time`` (UTC; NaT when the day
        is unknown), ``hhmm``, ``ef_rating`` (tornado, NaN when unrated), ``wind_speed``
        (mph), ``hail_size`` (inch), ``location``, ``county``, ``state``, ``comments`` and
        ``lat``/``lon`` coordinates.
    """
    files = [check_file(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    if isinstance(sha256, str) or sha256 is None:
        shas = [sha256 or ""] * len(files) if len(files) == 1 else [""] * len(files)
    else:
        shas = list(sha256)
    rows = []
    for f in files:
        with reading(f, "SPC storm reports CSV"):
            rows.extend(_read_one(f, date))
    if not rows:
        raise FormatError(files[0], "no storm report in the file(s)")
    n = len(rows)
    ds = xr.Dataset(
        {"hazard": ("report", np.array([r["hazard"] for r in rows], dtype=object)),
         "time": ("report", np.array([r["time"] for r in rows], dtype="datetime64[ns]")),
         "hhmm": ("report", np.array([r["hhmm"] for r in rows], dtype=object)),
         "ef_rating": ("report", np.array([r["ef"] for r in rows], np.float64), {"units": "1"}),
         "wind_speed": ("report", np.array([r["speed"] for r in rows], np.float64), {"units": "mph"}),
         "hail_size": ("report", np.array([r["size"] for r in rows], np.float64), {"units": "inch"}),
         **{k: ("report", np.array([r[k] for r in rows], dtype=object)) for k in ("location", "county", "state",
                                                                                  "comments")}},
        coords={"report": np.arange(n),
                "lat": ("report", np.array([r["lat"] for r in rows], np.float64), {"units": "degree_north"}),
                "lon": ("report", np.array([r["lon"] for r in rows], np.float64), {"units": "degree_east"})})
    counts = {h: int((ds.hazard == h).sum()) for h in ("tornado", "wind", "hail")}
    ds.attrs["report_counts"] = [f"{h}={c}" for h, c in counts.items()]
    days = sorted({r["day"] for r in rows if r["day"]})
    if days:
        ds.attrs["convective_day"] = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
    ds.attrs["title"] = ("SPC local storm reports: " + ", ".join(f"{c} {h}" for h, c in counts.items())
                         + (f" (convective day {ds.attrs['convective_day']})" if days else ""))
    return add_provenance(ds, files, shas, "storm_reports")


def _day_of(p: Path, date: str | None) -> dt.date | None:
    if date:
        return dt.date.fromisoformat(str(date)[:10])
    m = re.search(r"(?<!\d)(\d{2})(\d{2})(\d{2})_rpts", p.name)
    if m:
        return dt.date(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None


def _read_one(p: Path, date: str | None) -> list[dict]:
    text = p.read_text(encoding="utf-8", errors="replace")
    if not text.endswith("\n"):
        raise FormatError(p, "the file ends in the middle of a line: truncated")
    day = _day_of(p, date)
    hazard, out = None, []
    for lineno, rec in enumerate(csv.reader(io.StringIO(text)), 1):
        if not rec or not "".join(rec).strip():
            continue
        head = _HEADER.match(",".join(rec[:2]))
        if head:
            hazard = _HAZARD[head.group(1).lower()]
            continue
        if hazard is None:
            raise FormatError(p, f"line {lineno}: a report before any Time,F_Scale/Speed/Size header")
        if len(rec) < 7:
            raise FormatError(p, f"line {lineno}: {len(rec)} fields, expected 8")
        rec = (rec + [""])[:8] if len(rec) < 8 else rec[:7] + [",".join(rec[7:])]
        hhmm = rec[0].strip().zfill(4)
        if not re.fullmatch(r"\d{4}", hhmm) or int(hhmm[:2]) > 23 or int(hhmm[2:]) > 59:
            raise FormatError(p, f"line {lineno}: time {rec[0].strip()[:8]!r} is not HHMM")
        try:
            lat, lon = float(rec[5]), float(rec[6])
        except ValueError:
            raise FormatError(p, f"line {lineno}: latitude/longitude are not numbers") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise FormatError(p, f"line {lineno}: position out of range")
        mag = rec[1].strip().upper()
        num = float(re.sub(r"^E?F", "", mag)) if re.fullmatch(r"E?F?\d+(\.\d+)?", mag) else np.nan
        t = np.datetime64("NaT")
        if day is not None:
            d = day + dt.timedelta(days=1) if int(hhmm[:2]) < 12 else day
            t = np.datetime64(dt.datetime(d.year, d.month, d.day, int(hhmm[:2]), int(hhmm[2:])), "ns")
        out.append({"hazard": hazard, "time": t, "hhmm": hhmm, "day": day.isoformat() if day else "",
                    "ef": num if hazard == "tornado" else np.nan,
                    "speed": num if hazard == "wind" else np.nan,
                    "size": num / 100.0 if hazard == "hail" else np.nan,
                    "location": rec[2].strip(), "county": rec[3].strip(), "state": rec[4].strip(),
                    "lat": lat, "lon": lon, "comments": rec[7].strip()})
    return out
