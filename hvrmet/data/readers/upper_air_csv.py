"""Upper-air observations in CSV (one row per station and mandatory level), as in
MetPy's ``UPA_obs.csv``: pressure, height, temperature, dew point, wind.

The columns are in hPa, m, °C, degree and knot unless the header names other units in
brackets (``temperature (K)``, ``speed [m/s]``, ``height (ft)``, ``pressure [Pa]``);
those are honoured and converted. Every value is checked as in the sounding readers
(:func:`hvrmet.data.readers.sounding.check_values`), and at each station the heights must
rise as the pressure falls, and agree with the standard atmosphere: a file in the wrong
units is refused with the reason, never decoded into nonsense.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_ending, check_file, reading
from hvrmet.data.readers.sounding import (CANONICAL_UNITS, Column, check_standard_atmosphere, check_values,
                                          file_units, to_column)
from hvrmet.errors import FormatError

__all__ = ["read_upper_air_csv"]

_UNITS = {"pressure": "hPa", "height": "m", "temperature": "degC", "dewpoint": "degC",
          "direction": "degree", "speed": "knot", "u_wind": "knot", "v_wind": "knot",
          "latitude": "degree_north", "longitude": "degree_east"}
#: CSV column -> sounding variable whose units and plausible range it shares.
_KIND = {"pressure": "pressure", "height": "height", "temperature": "temperature",
         "dewpoint": "dewpoint", "direction": "wind_direction", "speed": "wind_speed",
         "u_wind": "wind_speed", "v_wind": "wind_speed"}
_REQUIRED = {"pressure", "height", "temperature", "station", "time"}
_HEADER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:[\(\[]\s*([^\)\]]*?)\s*[\)\]])?\s*$")


def _columns(p: Path, names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Header cell -> plain column name, and plain name -> pint units in the file."""
    rename, units = {}, {}
    for cell in names:
        m = _HEADER.match(str(cell))
        if not m:
            raise FormatError(p, f"header cell {str(cell)[:40]!r} is not a column name: not an upper-air CSV")
        name, given = m.group(1).lower(), m.group(2)
        rename[cell] = name
        if name in _KIND:
            units[name] = file_units(p, given, _KIND[name], name) if given else \
                CANONICAL_UNITS[_KIND[name]]
    return rename, units


def read_upper_air_csv(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read upper-air observations.

    Returns
    -------
    xarray.Dataset
        On dim ``obs``: ``station``, ``time`` (UTC) and the measured quantities with units
        (pressure hPa, height m, temperature/dewpoint degC, direction degree, speed and
        u/v wind knot), whatever units the header gives.

    Raises
    ------
    hvrmet.errors.FormatError
        Missing columns, units it does not know, values not plausible in the units given
        (naming column, value and line), a file cut mid-line.
    """
    p = check_file(path)
    with reading(p, "upper-air CSV"):
        check_ending(p, (b"\n",))
        df = pd.read_csv(p)
        rename, units = _columns(p, list(df.columns))
        if any(k != v for k, v in rename.items()):
            df = df.rename(columns=rename)
        missing = _REQUIRED - set(df.columns)
        if missing:
            raise FormatError(p, f"missing columns {sorted(missing)}: not an upper-air CSV")
        series = {c: df[c] for c in df.columns}  # one column lookup each
        times = _times(series["time"])
        where = _Lines()
        cols: dict[str, Column] = {}
        values: dict[str, np.ndarray] = {}
        for col in _UNITS:
            if col not in series:
                continue
            ser = series[col]
            try:
                raw = (ser.to_numpy(np.float64) if ser.dtype.kind in "fiu"
                       else pd.to_numeric(ser, errors="raise").to_numpy(np.float64))
            except (ValueError, TypeError):
                bad = ser[pd.to_numeric(ser, errors="coerce").isna() & ser.notna()]
                i = int(bad.index[0])
                raise FormatError(p, f"column {col}: {str(bad.iloc[0])[:30]!r} ({where[i]}) is not a number: "
                                     "the file is corrupted") from None
            if col in _KIND:
                c = to_column(p, _KIND[col], col, raw, units[col])
                if col in ("u_wind", "v_wind"):  # components: a signed speed
                    check_values(p, {"wind_speed": Column("wind_speed", col, np.abs(c.values),
                                                          c.units_in_file)}, where)
                else:
                    cols[_KIND[col]] = c
                values[col] = c.values
            else:
                values[col] = raw
        check_values(p, cols, where)
        stations = series["station"].astype(str).to_numpy()
        _check_stations(p, stations, times, values, units, where)
        data_vars = {col: ("obs", values[col], {"units": unit, **({"file_units": units[col]} if col in units else {})})
                     for col, unit in _UNITS.items() if col in values}
        ds = xr.Dataset(data_vars, coords={"obs": np.arange(len(df)), "station": ("obs", stations),
                                           "time": ("obs", times)})
        ds.attrs["title"] = f"Upper-air observations, {len(set(stations.tolist()))} stations"
    return add_provenance(ds, p, sha256, "upper_air_csv")


class _Lines:
    """``where[i]``: the file line of observation ``i`` (the header is line 1), made only
    when a message needs it."""

    def __getitem__(self, i: int) -> str:
        return f"line {i + 2}"

    def __bool__(self) -> bool:
        return True


def _times(ser: pd.Series) -> np.ndarray:
    """The ``time`` column as UTC ``datetime64[ns]``: ISO 8601 text straight through NumPy,
    anything else (or an offset NumPy would only warn about) through pandas."""
    import warnings

    if pd.api.types.is_string_dtype(ser.dtype):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return ser.to_numpy(dtype=object).astype("datetime64[ns]")
            except (ValueError, TypeError, Warning):
                pass
    return pd.to_datetime(ser, format="mixed").to_numpy("datetime64[ns]")


def _check_stations(p: Path, stations: np.ndarray, times: np.ndarray, values: dict[str, np.ndarray],
                    units: dict[str, str], where) -> None:
    """At each station and time, height rises as pressure falls, and both agree with the
    standard atmosphere."""
    pres, hgt = values["pressure"], values["height"]
    cols = {"pressure": Column("pressure", "pressure", pres, units["pressure"]),
            "height": Column("height", "height", hgt, units["height"])}
    check_standard_atmosphere(p, cols, where)
    # one integer per (station, time): factorised, not joined as text
    st, _ = pd.factorize(stations)
    tm, t_uniq = pd.factorize(times)
    key = st.astype(np.int64) * (len(t_uniq) + 1) + tm
    order = np.lexsort((-np.nan_to_num(pres, nan=-1.0), key))
    k, pp, zz = key[order], pres[order], hgt[order]
    same = (k[1:] == k[:-1]) & np.isfinite(zz[1:]) & np.isfinite(zz[:-1]) & (pp[1:] < pp[:-1])
    bad = np.flatnonzero(same & (zz[1:] <= zz[:-1]))
    if bad.size:
        a, b = order[bad[0]], order[bad[0] + 1]
        raise FormatError(p, f"station {stations[a]}: {pres[b]:g} hPa at {hgt[b]:g} m is not above "
                             f"{pres[a]:g} hPa at {hgt[a]:g} m ({where[a]}, {where[b]}): heights must rise as "
                             "pressure falls (corrupted, or columns in the wrong units)")
