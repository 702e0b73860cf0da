"""Upper-air soundings: the University of Wyoming text layout, and what every sounding
reader shares (units, plausibility, the dataset the sounding tools take).

The UWyo column block (``PRES HGHT TEMP DWPT RELH MIXR DRCT SKNT THTA THTE THTV``) is
found by its header line, so files with or without the station/time title line, or with
blank lines before it, are read alike. The units line under the column names is read and
honoured (``K``, ``C``/``°C``/``degC``, ``F``, ``m/s``, ``knot``/``kt``, ``m``, ``ft``,
``hPa``/``mb``, ``Pa``, ...): values are converted to the canonical units below. Levels
with no temperature (e.g. the below-ground 1000 hPa line) are kept with NaN.

Every sounding reader (this one, :mod:`~hvrmet.data.readers.igra2`,
:mod:`~hvrmet.data.readers.sharppy`) ends in :func:`build_sounding`, which

* refuses a profile whose numbers are not physically plausible, saying which column, which
  line and what the units probably are (:func:`check_profile`): temperature −100…60 °C,
  dew point at most the temperature (+1 °C), pressure 1100…0.1 hPa and never rising,
  height never falling, wind speed 0…150 m/s, direction 0…360°, pressures and heights
  consistent with the standard atmosphere, and layer thickness consistent with the
  temperatures (hypsometric equation) — a file in the wrong units is refused, never
  decoded into nonsense;
* returns one dataset layout (dim ``level``, surface first) with ``pressure`` and
  ``height`` as indexed coordinates, so ``ds.sel(pressure=500, method="nearest")`` works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading, to_utc64
from hvrmet.errors import FormatError

__all__ = ["read_uwyo_sounding", "COLUMNS", "CANONICAL_UNITS", "Column", "file_units",
           "check_values", "check_profile", "check_standard_atmosphere", "build_sounding", "decode_text",
           "to_column"]

#: UWyo column -> (variable, units the UWyo server writes).
COLUMNS = {
    "PRES": ("pressure", "hPa"), "HGHT": ("height", "m"), "TEMP": ("temperature", "degC"),
    "DWPT": ("dewpoint", "degC"), "RELH": ("relative_humidity", "percent"),
    "MIXR": ("mixing_ratio", "g/kg"), "DRCT": ("wind_direction", "degree"),
    "SKNT": ("wind_speed", "knot"), "THTA": ("potential_temperature", "K"),
    "THTE": ("equivalent_potential_temperature", "K"),
    "THTV": ("virtual_potential_temperature", "K"),
}

#: Variable -> the units every sounding reader returns (what the sounding tools take).
CANONICAL_UNITS = {
    "pressure": "hPa", "height": "m", "temperature": "degC", "dewpoint": "degC",
    "relative_humidity": "percent", "mixing_ratio": "g/kg", "wind_direction": "degree",
    "wind_speed": "knot", "potential_temperature": "K", "equivalent_potential_temperature": "K",
    "virtual_potential_temperature": "K",
}

#: How files write units (lower case, spaces removed) -> pint unit name.
_UNIT_WORDS = {
    "k": "K", "kelvin": "K", "degk": "K", "°k": "K",
    "c": "degC", "°c": "degC", "ºc": "degC", "degc": "degC", "celsius": "degC", "deg_c": "degC",
    "f": "degF", "°f": "degF", "ºf": "degF", "degf": "degF", "fahrenheit": "degF", "deg_f": "degF",
    "m/s": "m/s", "ms-1": "m/s", "ms^-1": "m/s", "mps": "m/s", "m/sec": "m/s",
    "knot": "knot", "knots": "knot", "kt": "knot", "kts": "knot", "kn": "knot",
    "km/h": "km/h", "kmh": "km/h", "kph": "km/h", "mph": "mph",
    "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m", "gpm": "m", "km": "km",
    "ft": "ft", "feet": "ft", "foot": "ft",
    "hpa": "hPa", "mb": "hPa", "mbar": "hPa", "millibar": "hPa", "millibars": "hPa",
    "pa": "Pa", "kpa": "kPa",
    "deg": "degree", "degree": "degree", "degrees": "degree", "°": "degree", "degtrue": "degree",
    "%": "percent", "percent": "percent", "pct": "percent",
    "g/kg": "g/kg", "gkg-1": "g/kg", "kg/kg": "kg/kg",
}

#: Variable -> (kind in words, units allowed for it in a file).
_KINDS = {
    "pressure": ("pressure", {"hPa", "Pa", "kPa"}),
    "height": ("height", {"m", "km", "ft"}),
    "temperature": ("temperature", {"K", "degC", "degF"}),
    "dewpoint": ("dew point", {"K", "degC", "degF"}),
    "relative_humidity": ("relative humidity", {"percent"}),
    "mixing_ratio": ("mixing ratio", {"g/kg", "kg/kg"}),
    "wind_direction": ("wind direction", {"degree"}),
    "wind_speed": ("wind speed", {"m/s", "knot", "km/h", "mph"}),
    "potential_temperature": ("potential temperature", {"K", "degC", "degF"}),
    "equivalent_potential_temperature": ("equivalent potential temperature", {"K", "degC", "degF"}),
    "virtual_potential_temperature": ("virtual potential temperature", {"K", "degC", "degF"}),
}

#: Plausible range of each variable in its canonical units.
_LIMITS = {
    "pressure": (0.1, 1100.0), "height": (-1000.0, 60000.0), "temperature": (-100.0, 60.0),
    "dewpoint": (-150.0, 60.0), "relative_humidity": (0.0, 105.0), "mixing_ratio": (0.0, 80.0),
    "wind_direction": (0.0, 360.0), "wind_speed": (0.0, 150.0 / 0.514444),
    "potential_temperature": (150.0, 2500.0), "equivalent_potential_temperature": (150.0, 2500.0),
    "virtual_potential_temperature": (150.0, 2500.0),
}
_SYMBOL = {"degC": "°C", "degF": "°F", "K": "K", "degree": "°", "percent": "%", "knot": "kt"}
#: Dew point may exceed temperature by this much (rounding of the two columns).
DEWPOINT_TOLERANCE_C = 1.0
#: Height may fall by this much between levels (repeated pressure levels, rounding).
HEIGHT_DROP_TOLERANCE_M = 20.0
#: Largest relative misfit between the file's total layer thickness and the hypsometric one.
HYPSOMETRIC_TOLERANCE = 0.05

_TITLE = re.compile(r"^\s*(\d{5})\s+(\w{3,4})\s+(.*?)\s+Observations at\s+(\d{2})Z\s+(\d{1,2}\s+\w{3}\s+\d{4})")
_WIDTH = 7


@dataclass
class Column:
    """One column of a sounding as read from a file, already in canonical units."""

    var: str
    label: str
    values: np.ndarray
    units_in_file: str


def _sym(units: str) -> str:
    return _SYMBOL.get(units, units)


def file_units(path: Path, text: str, var: str, label: str) -> str:
    """The pint name of the units ``text`` a file gives for column ``label`` (variable
    ``var``); a :class:`FormatError` naming the column for units unknown or of another kind."""
    key = re.sub(r"\s+", "", str(text)).lower()
    units = _UNIT_WORDS.get(key)
    kind, allowed = _KINDS[var]
    if units is None:
        raise FormatError(path, f"column {label}: unknown units {text!r} for {kind} "
                                f"(expected one of {', '.join(sorted(_sym(u) for u in allowed))})")
    if units not in allowed:
        raise FormatError(path, f"column {label}: units {text!r} are not units of {kind}")
    return units


def _convert(values: np.ndarray, units: str, var: str) -> np.ndarray:
    target = CANONICAL_UNITS[var]
    if units == target:
        return values
    from metpy.units import units as ureg

    return np.asarray(ureg.Quantity(values, units).to(target).magnitude, dtype=np.float64)


def to_column(path: Path, var: str, label: str, values: np.ndarray, units: str) -> Column:
    """A :class:`Column` of ``values`` given in ``units`` (a pint name), in canonical units."""
    vals = np.asarray(values, dtype=np.float64)
    return Column(var, label, _convert(vals, units, var), units)


def _hint(col: Column, raw: float) -> str:
    """The units the file probably meant, for a value outside the plausible range."""
    lo, hi = _LIMITS[col.var]
    u = col.units_in_file
    if col.var in ("temperature", "dewpoint"):
        if u == "degC" and 150.0 <= raw <= 350.0:
            return " — are the units K?"
        if u == "degC" and 60.0 < raw <= 140.0:
            return " — are the units °F?"
        if u == "K" and -100.0 <= raw <= 60.0:
            return " — are the units °C?"
        if u == "degF" and 150.0 <= raw <= 350.0:
            return " — are the units K?"
    if col.var == "pressure":
        if u == "hPa" and raw > hi:
            return " — are the units Pa?"
        if u == "Pa" and raw < 1100.0:
            return " — are the units hPa?"
    if col.var == "wind_speed" and u == "knot":
        return " — are the units km/h?"
    if col.var == "wind_speed" and u == "m/s":
        return " — are the units knots or km/h?"
    if col.var == "height" and u == "km":
        return " — are the units m?"
    return ""


def _at(where: list[str], i: int) -> str:
    return f" ({where[i]})" if where and where[i] else ""


def _isa_height(p_hpa: np.ndarray) -> np.ndarray:
    """Geopotential height (m) of pressure levels in the ICAO standard atmosphere (to 71 km)."""
    g0, r = 9.80665, 287.05287
    # base height (m), base temperature (K), lapse rate (K/m), base pressure (hPa)
    layers = [(0.0, 288.15, -0.0065, 1013.25), (11000.0, 216.65, 0.0, 226.32),
              (20000.0, 216.65, 0.001, 54.748), (32000.0, 228.65, 0.0028, 8.6802),
              (47000.0, 270.65, 0.0, 1.1091), (51000.0, 270.65, -0.0028, 0.66939)]
    p = np.asarray(p_hpa, dtype=np.float64)
    z = np.full(p.shape, np.nan)
    for k, (zb, tb, lr, pb) in enumerate(layers):
        lower = layers[k + 1][3] if k + 1 < len(layers) else 0.0
        sel = (p <= pb if k else np.isfinite(p)) & (p > lower)
        if lr == 0.0:
            z[sel] = zb - r * tb / g0 * np.log(p[sel] / pb)
        else:
            z[sel] = zb + tb / lr * ((p[sel] / pb) ** (-lr * r / g0) - 1.0)
    return z


def check_values(path: Path, cols: dict[str, Column], where: list[str] | None = None) -> None:
    """Refuse values outside their plausible range, and dew points above the temperature.

    The part of :func:`check_profile` that needs no order of levels (also used for tables
    of observations). Raises :class:`~hvrmet.errors.FormatError` naming the column, value
    and line, and the units the file probably uses.
    """
    where = where or []
    for var, col in cols.items():
        if var not in _LIMITS:
            continue
        lo, hi = _LIMITS[var]
        vals = col.values
        bad = np.flatnonzero(np.isfinite(vals) & ((vals < lo) | (vals > hi)))
        if bad.size:
            i = int(bad[0])
            canon = CANONICAL_UNITS[var]
            raw = _raw_value(col, i)
            shown = f"{vals[i]:.6g} {_sym(canon)}"
            if col.units_in_file != canon:
                shown += f" ({raw:.6g} {_sym(col.units_in_file)} in the file)"
            lo_s, hi_s = (f"{x:.6g}" for x in (lo, hi))
            if var == "wind_speed":
                shown += f" = {vals[i] * 0.514444:.4g} m/s"
                lo_s, hi_s, canon = "0", "150", "m/s"
            raise FormatError(path, f"column {col.label}: {shown}{_at(where, i)} is not a plausible "
                                    f"{_KINDS[var][0]} ({lo_s} to {hi_s} {_sym(canon)})"
                                    f"{_hint(col, raw)}")
    if "temperature" in cols and "dewpoint" in cols:
        t, td = cols["temperature"].values, cols["dewpoint"].values
        over = np.flatnonzero(np.isfinite(t) & np.isfinite(td) & (td > t + DEWPOINT_TOLERANCE_C))
        if over.size:
            i = int(over[0])
            raise FormatError(path, f"column {cols['dewpoint'].label}: dew point {td[i]:.1f} °C is above the "
                                    f"temperature {t[i]:.1f} °C{_at(where, i)} — are the columns swapped "
                                    "or in different units?")


def check_profile(path: Path, cols: dict[str, Column], where: list[str] | None = None) -> None:
    """Refuse a sounding whose numbers are not physically plausible.

    Parameters
    ----------
    path
        The file, for the message.
    cols
        The columns by variable name, in canonical units.
    where
        A label per level (``"line 18"``) for the messages.

    Raises
    ------
    hvrmet.errors.FormatError
        Naming the column, the value, the line and, where the numbers suggest it, the
        units the file probably uses.
    """
    where = where or []
    check_values(path, cols, where)
    p = cols["pressure"].values if "pressure" in cols else None
    if p is not None:
        ok = np.flatnonzero(np.isfinite(p))
        rise = np.flatnonzero(np.diff(p[ok]) > 0)
        if rise.size:
            a, b = ok[rise[0]], ok[rise[0] + 1]
            raise FormatError(path, f"column {cols['pressure'].label}: pressure rises from {p[a]:g} to "
                                    f"{p[b]:g} hPa{_at(where, b)}: the levels must go up from the surface "
                                    "(out of order, or a corrupted line)")
    if "height" in cols:
        z = cols["height"].values
        ok = np.flatnonzero(np.isfinite(z))
        drop = np.flatnonzero(np.diff(z[ok]) < -HEIGHT_DROP_TOLERANCE_M)
        if drop.size:
            a, b = ok[drop[0]], ok[drop[0] + 1]
            raise FormatError(path, f"column {cols['height'].label}: height falls from {z[a]:g} to {z[b]:g} m"
                                    f"{_at(where, b)}: the levels must go up from the surface "
                                    "(out of order, or a corrupted line)")
    if p is not None and "height" in cols:
        check_standard_atmosphere(path, cols, where)
        _check_hypsometric(path, cols, where)


def _raw_value(col: Column, i: int) -> float:
    canon = CANONICAL_UNITS[col.var]
    if col.units_in_file == canon:
        return float(col.values[i])
    from metpy.units import units as ureg

    return float(ureg.Quantity(col.values[i], canon).to(col.units_in_file).magnitude)


def check_standard_atmosphere(path: Path, cols: dict[str, Column], where: list[str]) -> None:
    """Heights must be near the standard atmosphere's for their pressures: within 1.5 km
    plus 15 % (real soundings: a few hundred metres; a hurricane eye about 1 km)."""
    p, z = cols["pressure"].values, cols["height"].values
    ok = np.isfinite(p) & np.isfinite(z)
    if not ok.any():
        return
    z_isa = _isa_height(np.where(ok, p, np.nan))
    off = np.abs(z - z_isa) > 1500.0 + 0.15 * np.abs(z_isa)
    off &= ok
    if not off.any():
        return
    i = int(np.flatnonzero(off)[0])
    pl, hl = cols["pressure"].label, cols["height"].label
    hint = ""
    if np.abs(z[i] - _isa_height(np.array([p[i] * 10.0]))[0]) < 1500.0 + 0.15 * z[i]:
        hint = f" — are the {pl} units kPa?"
    elif cols["height"].units_in_file == "m" and abs(z[i] * 0.3048 - z_isa[i]) < 1500.0 + 0.15 * abs(z_isa[i]):
        hint = f" — are the {hl} units feet?"
    raise FormatError(path, f"columns {pl} and {hl} disagree: {p[i]:g} hPa at {z[i]:.0f} m{_at(where, i)}, "
                            f"where the standard atmosphere has {p[i]:g} hPa near {z_isa[i]:.0f} m{hint}")


def _check_hypsometric(path: Path, cols: dict[str, Column], where: list[str]) -> None:
    """The file's height difference over its levels with temperature must match the
    hypsometric thickness from those temperatures within 5 % (real soundings: 0.1–0.3 %;
    °F read as °C or feet read as metres: 6 % and more)."""
    if "temperature" not in cols:
        return
    p, z, t = cols["pressure"].values, cols["height"].values, cols["temperature"].values
    ok = np.flatnonzero(np.isfinite(p) & np.isfinite(z) & np.isfinite(t) & (p > 0))
    if ok.size < 2:
        return
    pp, zz, tk = p[ok], z[ok], t[ok] + 273.15
    keep = np.r_[True, np.diff(pp) < 0]
    pp, zz, tk = pp[keep], zz[keep], tk[keep]
    if pp.size < 2 or zz[-1] - zz[0] < 1000.0 or np.any(tk <= 0):
        return
    dz = 287.05 / 9.80665 * 0.5 * (tk[1:] + tk[:-1]) * np.log(pp[:-1] / pp[1:])
    hyps, file_dz = float(dz.sum()), float(zz[-1] - zz[0])
    if abs(file_dz / hyps - 1.0) <= HYPSOMETRIC_TOLERANCE:
        return
    tl, hl = cols["temperature"].label, cols["height"].label
    raise FormatError(path, f"columns {tl} and {hl} disagree: the levels {pp[0]:g}–{pp[-1]:g} hPa are "
                            f"{file_dz:.0f} m apart in the file but {hyps:.0f} m apart by the hypsometric "
                            f"equation from their temperatures — are the {tl} or {hl} units right "
                            f"(read as {_sym(cols['temperature'].units_in_file)} and "
                            f"{_sym(cols['height'].units_in_file)})?")


def build_sounding(path: Path, cols: dict[str, Column], *, reader: str, sha256: str = "",
                   where: list[str] | None = None, attrs: dict | None = None,
                   notes: list[str] | None = None) -> xr.Dataset:
    """Check a sounding's columns and return the dataset every sounding reader returns.

    Parameters
    ----------
    cols
        Columns by variable; ``pressure``, ``height``, ``temperature``, ``dewpoint``,
        ``wind_direction`` and ``wind_speed`` are required (all-NaN where the file has none).
    reader
        The format name, recorded in the provenance.
    where
        A label per level for error messages (``"line 18"``).
    attrs
        Station, time, position and format-specific attributes.
    notes
        What the reader noticed (levels left out, unverifiable completeness); kept in the
        ``reader_notes`` attribute, which the sounding tools report as warnings.

    Returns
    -------
    xarray.Dataset
        Dim ``level`` (surface first); ``pressure`` (hPa) and ``height`` (m) are indexed
        coordinates (``height`` only where every level has a height and heights rise);
        ``temperature``/``dewpoint`` (degC), ``wind_direction`` (degree), ``wind_speed``
        (knot) and any other columns as variables, each with ``units`` and the column name
        and units of the file.
    """
    need = ("pressure", "height", "temperature", "dewpoint", "wind_direction", "wind_speed")
    missing = [v for v in need if v not in cols]
    if missing:
        raise FormatError(path, f"a sounding needs {', '.join(missing)}: not in the file")
    notes = list(notes or [])
    n = len(cols["pressure"].values)
    if n == 0:
        raise FormatError(path, "no levels in the file")
    where = list(where or [""] * n)
    no_p = ~np.isfinite(cols["pressure"].values)
    if no_p.any():
        keep = ~no_p
        cols = {k: Column(c.var, c.label, c.values[keep], c.units_in_file) for k, c in cols.items()}
        where = [w for w, k in zip(where, keep) if k]
        notes.append(f"{int(no_p.sum())} level(s) without pressure (wind levels given by height only) "
                     "were left out")
    check_profile(path, cols, where)
    p = cols["pressure"].values
    dup = np.r_[False, np.diff(p) == 0]
    if dup.any():
        keep = ~dup
        cols = {k: Column(c.var, c.label, c.values[keep], c.units_in_file) for k, c in cols.items()}
        notes.append(f"{int(dup.sum())} repeated pressure level(s) left out (the first of each kept)")
    if len(cols["pressure"].values) < 3:
        raise FormatError(path, f"only {len(cols['pressure'].values)} levels: the sounding is truncated")
    # the dataset in one construction (each assignment to a dataset copies and aligns it)
    data_vars: dict[str, tuple] = {}
    coords: dict[str, tuple] = {"level": ("level", np.arange(len(cols["pressure"].values)))}
    for var, col in cols.items():
        meta = {"units": CANONICAL_UNITS[var], "file_column": col.label, "file_units": col.units_in_file}
        if reader == "uwyo_sounding":
            meta["uwyo_column"] = col.label
        (coords if var in ("pressure", "height") else data_vars)[var] = ("level", col.values, meta)
    has = {v: ~np.isnan(np.asarray(cols[v].values, np.float64)) for v in ("temperature", "dewpoint",
                                                                          "wind_speed", "wind_direction")}
    with_t = has["temperature"]
    if not with_t.any():
        raise FormatError(path, "no level has a temperature: not a usable sounding")
    ds = xr.Dataset(data_vars, coords=coords)
    z = np.asarray(cols["height"].values, np.float64)
    ds = ds.set_xindex("pressure")
    if np.isfinite(z).all() and (np.diff(z) > 0).all():
        ds = ds.set_xindex("height")
    for k, v in (attrs or {}).items():
        if v is not None:
            ds.attrs[k] = v
    station, time = ds.attrs.get("station"), ds.attrs.get("time")
    ds.attrs["levels_with_temperature"] = int(with_t.sum())
    ds.attrs["levels_with_dewpoint"] = int(has["dewpoint"].sum())
    ds.attrs["levels_with_wind"] = int((has["wind_speed"] & has["wind_direction"]).sum())
    ds.attrs["top_pressure_hPa"] = float(np.asarray(cols["pressure"].values, np.float64)[with_t].min())
    ds.attrs["title"] = f"Sounding {station or ''} {time or ''}".strip()
    ds.attrs["reader_notes"] = notes
    return add_provenance(ds, path, sha256, reader)


def decode_text(path: Path, raw: bytes, what: str) -> str:
    """``raw`` as text (UTF-8; a Latin-1 degree sign in the header allowed), or a
    :class:`FormatError` naming the first line that is not text."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = raw.count(b"\n", 0, exc.start) + 1
        rest = raw[exc.start:]
        if set(re.findall(rb"[\x80-\xff]", raw)) <= {b"\xb0", b"\xba"}:
            return raw.decode("latin-1")
        raise FormatError(path, f"line {bad_line} is not text (byte 0x{rest[0]:02x}): the {what} "
                                "is corrupted or not a text file") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(line: str, k: int) -> str:
    return line[k * _WIDTH:(k + 1) * _WIDTH].strip()


def _uwyo_units(p: Path, lines: list[str], hdr: int, names: list[str]) -> list[str]:
    """The units line under the column names, one pint unit per column (UWyo's own units
    where the line is absent)."""
    line = lines[hdr + 1] if hdr + 1 < len(lines) else ""
    if re.match(r"^\s*[-+]?\d", line) or not line.strip() or set(line.strip()) <= {"-"}:
        return [COLUMNS[n][1] for n in names]
    toks = line.split()
    if len(toks) != len(names):
        toks = [_cell(line, k) for k in range(len(names))]
    return [file_units(p, tok, COLUMNS[n][0], n) for tok, n in zip(toks, names)]


_TRAILER = re.compile(r"^\s*(</?pre>|station information|station identifier|<h\d>)", re.IGNORECASE)


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
        As :func:`build_sounding`: on dim ``level`` (surface first), ``pressure`` (hPa) and
        ``height`` (m) as indexed coordinates, ``temperature`` and ``dewpoint`` (degC),
        ``wind_direction`` (degree), ``wind_speed`` (knot), and the derived UWyo columns,
        whatever units the file's units line gives.

    Raises
    ------
    hvrmet.errors.FormatError
        For a file cut in the middle of a record, a corrupted line, units it does not know,
        or numbers that are not plausible in the units given.
    """
    p = check_file(path)
    with reading(p, "University of Wyoming sounding text"):
        text = decode_text(p, p.read_bytes(), "sounding")
        lines = text.splitlines()
        hdr = next((i for i, ln in enumerate(lines) if ln.split()[:3] == ["PRES", "HGHT", "TEMP"]), None)
        if hdr is None:
            raise FormatError(p, "no 'PRES HGHT TEMP ...' column header: not a UWyo sounding")
        names = lines[hdr].split()
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise FormatError(p, f"unexpected sounding columns {unknown}")
        units = _uwyo_units(p, lines, hdr, names)
        width = _WIDTH * len(names)
        body: list[tuple[int, str]] = []
        trailer = False
        started = False
        for i in range(hdr + 1, len(lines)):
            ln = lines[i].rstrip("\r")
            if not ln.strip():
                continue
            if re.match(r"^\s*[-+]?\d", ln):
                body.append((i, ln))
                started = True
            elif ln.lstrip().startswith("-") and set(ln.strip()) <= {"-"}:
                if started:
                    break
            elif _TRAILER.match(ln):
                trailer = True
                break
            elif not started and i <= hdr + 2:
                continue  # the units line
            else:
                raise FormatError(p, f"line {i + 1} is not a sounding record ({ln.strip()[:40]!r}): "
                                     "the file is corrupted")
        if not body:
            raise FormatError(p, "no data lines under the column header: the sounding is truncated")
        last_i, last = body[-1]
        if not text.endswith(("\n", "\r")) and lines and not lines[-1].strip() and lines[-1] \
                and last_i < len(lines) - 1 and not trailer:
            raise FormatError(p, f"the last record (line {len(lines)}) is cut short after {len(lines[-1])} of "
                                 f"{width} characters (blanks only): the file is truncated")
        ends_in_record = last_i == len(lines) - 1
        if ends_in_record and not text.endswith(("\n", "\r")):
            full = [ln for _, ln in body[:-1] if len(ln) >= width]
            if len(last) < width and (len(last) % _WIDTH or len(full) == len(body) - 1):
                raise FormatError(p, f"the last record (line {last_i + 1}) is cut short after {len(last)} of "
                                     f"{width} characters: the file is truncated")
        rows, where = [], []
        spans = [(k * _WIDTH, (k + 1) * _WIDTH) for k in range(len(names))]
        nan = np.nan
        for i, ln in body:
            if len(ln.rstrip()) > width:
                raise FormatError(p, f"line {i + 1} is longer than the {len(names)} columns of the header: "
                                     "malformed sounding record")
            try:
                row = [float(c) if (c := ln[a:b].strip()) else nan for a, b in spans]
            except ValueError:
                k, cell = next((k, c) for k, c in ((k, _cell(ln, k)) for k in range(len(names)))
                               if c and not _is_number(c))
                raise FormatError(p, f"line {i + 1}, column {names[k]}: {cell!r} is not a number: "
                                     "the file is corrupted") from None
            rows.append(row)
            where.append(f"line {i + 1}")
        if len(rows) < 3:
            raise FormatError(p, f"only {len(rows)} data lines: the sounding is truncated")
        data = np.array(rows, dtype=np.float64)
        cols = {COLUMNS[n][0]: to_column(p, COLUMNS[n][0], n, data[:, k], units[k])
                for k, n in enumerate(names)}
        for var in ("dewpoint", "wind_direction", "wind_speed"):
            cols.setdefault(var, Column(var, "(absent)", np.full(len(rows), np.nan), CANONICAL_UNITS[var]))
        attrs: dict = {}
        title = next((m for m in (_TITLE.match(ln) for ln in lines[:hdr]) if m), None)
        if title:
            station = title.group(2)
            time = str(pd.Timestamp(f"{title.group(5)} {title.group(4)}:00"))
            attrs["station_number"] = title.group(1)
            attrs["station_name"] = title.group(3)
        if trailer:
            tail = "\n".join(lines[last_i:])
            for key, pat in (("latitude", r"Station latitude:\s*([-\d.]+)"),
                             ("longitude", r"Station longitude:\s*([-\d.]+)")):
                m = re.search(pat, tail)
                if m and (latitude is None or longitude is None):
                    attrs[key] = float(m.group(1))
        attrs["station"] = station
        if time:
            attrs["time"] = str(to_utc64(pd.Timestamp(time).to_pydatetime().replace(tzinfo=None)))
        if latitude is not None:
            attrs["latitude"] = float(latitude)
            attrs["longitude"] = float(longitude)
        notes = []
        with_t = np.isfinite(cols["temperature"].values)
        top = float(cols["pressure"].values[with_t].min()) if with_t.any() else np.nan
        if trailer:
            attrs["completeness"] = "complete: the station-information block follows the levels"
        else:
            attrs["completeness"] = ("not verifiable: the UWyo text layout carries no level count, so a "
                                     "file cut at the end of a line cannot be told from a complete one")
            if np.isfinite(top) and top > 100.0:
                notes.append(f"the sounding ends at {top:g} hPa: the ascent stopped early, or the file was cut "
                             "short at the end of a line (the UWyo text layout carries no level count to "
                             "check against)")
        return build_sounding(p, cols, reader="uwyo_sounding", sha256=sha256, where=where, attrs=attrs,
                              notes=notes)
