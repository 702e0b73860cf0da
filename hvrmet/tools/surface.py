"""Surface tools: station observations (hourly CSV, METAR) and WPC surface analyses.

The station tools read the case's ``surface_obs`` role (variables on dim ``obs`` with
``station``, ``time``, ``lat``, ``lon`` coordinates; pressure in hPa, wind in knots); a
station's repeated report at the same time is counted once (the first). They screen only
the stations inside the window around the case's place and time
(:mod:`hvrmet.tools.window`, kind ``stations``: 1500 km and 12 h either side by default;
``radius`` and ``time_window`` override it; a lat/lon box given without a radius replaces
the radius; ``start``/``end`` replace the time limits). Reports outside the time window
are left out while any report is inside; when none is, every report is used, the result
says ``outside_time_window`` and warns. Each extreme names its station, its distance (km)
and bearing from the place. ``locate_fronts`` reads the ``fronts`` role (WPC coded surface
bulletin: fronts, troughs, highs and lows). Positions are degree_north / degree_east
(-180..180); times are UTC (ISO 8601).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from hvrmet.calc.gridded import wrap_lon
from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.gridded import BoxInput
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.setting import warm_season
from hvrmet.tools.window import Window, place_units, windowed

__all__ = ["station_frame", "reports_in_window", "station_extreme", "station_extreme_outs", "pressure_changes", "distance_km", "buddy_check"]

DEG_N, DEG_E = "degree_north", "degree_east"


class SurfaceInput(BoxInput):
    """A case, the role of its station observations, and optional space and time limits."""

    role: str = Field("surface_obs", description="case role of the station observations")
    start: str | None = Field(None, description="earliest report time to use (ISO 8601, UTC)")
    end: str | None = Field(None, description="latest report time to use (ISO 8601, UTC)")


class PressureInput(SurfaceInput):
    """Station observations, with an optional spatial check of the pressure reports."""

    qc: bool = Field(True, description="leave out pressure reports that differ by more than 8 hPa from the "
                                       "median of at least 3 other stations within 200 km in the same hour")


class TendencyInput(PressureInput):
    """Station observations and the interval of the pressure tendency."""

    interval: float = quantity(3.0, units="hour", description="time between the two reports", ge=0.5, le=24)
    tolerance: float = quantity(10.0, units="minute", description="how far the earlier report may be from "
                                "exactly 'interval' before the later one", ge=0, le=60)
    max_change: float = quantity(25.0, units="hPa", description="changes larger than this over the interval "
                                 "are treated as bad reports and left out", ge=1, le=100)


class FrontsInput(WindowInput):
    """A WPC surface analysis and a point to look for a strong high near."""

    role: str = Field("fronts", description="case role of the WPC surface analysis")
    lat: float | None = quantity(None, units=DEG_N, description="latitude of the point (the case's "
                                 "location when omitted)", ge=-90, le=90)
    lon: float | None = quantity(None, units=DEG_E, description="longitude of the point (the case's "
                                 "location when omitted)", ge=-180, le=360)
    radius: float | None = quantity(None, units="km", description="search radius around the point (1000 km, the "
                                    "'surface_analysis' window, when omitted)", ge=10, le=20038)
    min_high_pressure: float = quantity(1020.0, units="hPa", description="central pressure a high needs to "
                                        "count as strong", ge=950, le=1080)


def station_frame(ds: xr.Dataset, args: SurfaceInput, needs: tuple[str, ...],
                  win: Window | None = None) -> pd.DataFrame:
    """The reports as a table (station, time, lat, lon, ``needs``), limited by the window.

    With ``win`` (:meth:`ToolContext.window`), the stations inside its area (radius and
    box), with their ``distance_km`` and ``bearing`` from the place, and the reports inside
    its time window (every report when none is: ``win`` is then flagged outside the time
    window, with a warning). Without it, the box and ``start``/``end`` of ``args`` alone.

    Raises
    ------
    VariableMissing
        When a variable in ``needs`` is absent, or no report is left.
    """
    path = ds.attrs.get("source_file")
    missing = [v for v in needs if v not in ds]
    if missing:
        raise VariableMissing(path, f"the observations lack {', '.join(missing)}; they hold: "
                                    f"{', '.join(map(str, ds.data_vars))}")
    df = pd.DataFrame({"station": ds["station"].values.astype(str), "time": pd.to_datetime(ds["time"].values),
                       "lat": ds["lat"].values.astype(float), "lon": wrap_lon(ds["lon"].values.astype(float)),
                       **{v: ds[v].values.astype(float) for v in needs}})
    df = df.drop_duplicates(["station", "time"], keep="first")
    if win is None:
        box = args.box()
        keep = box.mask(df["lat"].to_numpy(), df["lon"].to_numpy())
        if args.start:
            keep &= (df["time"] >= _utc(args.start)).to_numpy()
        if args.end:
            keep &= (df["time"] <= _utc(args.end)).to_numpy()
        df = df[keep].dropna(subset=list(needs), how="all")
        if df.empty:
            raise VariableMissing(path, f"no report with {', '.join(needs)} in the box and time window asked for")
        return df.reset_index(drop=True)
    df = df.dropna(subset=list(needs), how="all")
    return reports_in_window(df, win, path, f"station with {', '.join(needs)}", "stations")


def reports_in_window(df: pd.DataFrame, win: Window, path, what: str, counted: str) -> pd.DataFrame:
    """The station reports of ``df`` (columns station, time, lat, lon) inside the window,
    with their ``distance_km`` and ``bearing`` from the place: the stations inside its area,
    the reports inside its time window (every report when none is: ``win`` is then flagged).
    What was left out goes into ``win.warnings``.

    Raises
    ------
    VariableMissing
        When no station lies inside the area ("no ``what`` ... (of N ``counted``)").
    """
    d, b = win.locate(df["lat"].to_numpy(), df["lon"].to_numpy())
    df = df.assign(distance_km=d, bearing=b)
    n_all = df["station"].nunique()
    df = df[win.mask(df["lat"].to_numpy(), df["lon"].to_numpy())]
    if df.empty:
        raise VariableMissing(path, f"no {what} {win.area_text()} (of {n_all} {counted}); "
                                    "pass a larger 'radius' to search farther")
    n_in = df["station"].nunique()
    if n_in < n_all:
        win.warnings.append(f"{n_in} of {n_all} stations lie {win.area_text()} and are screened; "
                            f"{n_all - n_in} farther ones are left out")
    keep, note = win.select_times(df["time"].to_numpy(), what="reports")
    if note:
        win.warnings.append(note)
    return df[keep].reset_index(drop=True)


def buddy_check(df: pd.DataFrame, var: str = "air_pressure_at_sea_level", radius_km: float = 200.0,
                max_dev: float = 8.0, min_buddies: int = 3) -> np.ndarray:
    """Flag reports far from their neighbours (a spatial 'buddy' check).

    A report is suspect when at least ``min_buddies`` other stations report ``var`` in
    the same clock hour within ``radius_km`` and the report differs from their median by
    more than ``max_dev``. Neighbours are found with ``scipy.spatial.cKDTree`` on unit
    vectors (chord distance). Returns a boolean array aligned with ``df`` (True = suspect).
    """
    from scipy.spatial import cKDTree

    bad = np.zeros(len(df), bool)
    lat, lon = np.deg2rad(df["lat"].to_numpy()), np.deg2rad(df["lon"].to_numpy())
    xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    chord = 2.0 * np.sin(radius_km / 6371.0 / 2.0)
    vals = df[var].to_numpy(float)
    hours = df["time"].dt.floor("h").to_numpy()
    for h in np.unique(hours):
        idx = np.flatnonzero((hours == h) & np.isfinite(vals))
        if len(idx) <= min_buddies:
            continue
        tree = cKDTree(xyz[idx])
        for j, nb in enumerate(tree.query_ball_point(xyz[idx], chord)):
            others = [k for k in nb if k != j]
            if len(others) >= min_buddies and abs(vals[idx[j]] - np.median(vals[idx[others]])) > max_dev:
                bad[idx[j]] = True
    return bad


def _qc_pressure(df: pd.DataFrame, qc: bool) -> tuple[pd.DataFrame, list[str], int]:
    """Drop pressure reports that fail the buddy check (when ``qc``); notes and count."""
    if not qc:
        return df, [], 0
    bad = buddy_check(df)
    notes = []
    if bad.any():
        per = df[bad].groupby("station")["time"].agg(["size", "min"]).sort_values("min")
        notes.append(f"{int(bad.sum())} pressure report(s) left out as more than 8 hPa from the median of "
                     "stations within 200 km in the same hour: "
                     + ", ".join(f"{st} ({n} from {_iso(t0)})" for st, n, t0 in per.head(12).itertuples())
                     + (" ..." if len(per) > 12 else ""))
    return df[~bad].reset_index(drop=True), notes, int(bad.sum())


def _utc(text: str) -> pd.Timestamp:
    t = pd.Timestamp(text)
    return t.tz_localize(None) if t.tzinfo is None else t.tz_convert("UTC").tz_localize(None)


def _iso(t) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%MZ")


def station_extreme(prefix: str, row: pd.Series | None, value: str, units: str, *, tag: str = "time",
                    tag_units: str = "", tag_of: Callable[[pd.Series], Any] | None = None, ndigits: int = 1,
                    why: str = "") -> dict[str, Value]:
    """A station network's extreme as tool values: ``prefix`` (column ``value``, rounded to
    ``ndigits``), the station, ``prefix_<tag>`` (the report's time by default; a radiosonde's
    level, say), its position and its distance and bearing from the place. ``row`` ``None``
    gives every value ``None`` (with ``"not computable: <why>"`` as their note when ``why``
    is given)."""
    if row is None:
        note = f"not computable: {why}" if why else ""
        return {prefix: Value(value=None, units=units, note=note), f"{prefix}_station": Value(value=None, note=note),
                f"{prefix}_{tag}": Value(value=None, units=tag_units, note=note),
                f"{prefix}_lat": Value(value=None, units=DEG_N, note=note),
                f"{prefix}_lon": Value(value=None, units=DEG_E, note=note),
                f"{prefix}_distance": Value(value=None, units="km", note=note),
                f"{prefix}_bearing": Value(value=None, units="degree", note=note)}
    tagged = tag_of(row) if tag_of is not None else _iso(row["time"])
    out = {prefix: Value(value=round(float(row[value]), ndigits), units=units),
           f"{prefix}_station": Value(value=str(row["station"])),
           f"{prefix}_{tag}": Value(value=tagged, units=tag_units),
           f"{prefix}_lat": Value(value=round(float(row["lat"]), 4), units=DEG_N),
           f"{prefix}_lon": Value(value=round(float(row["lon"]), 4), units=DEG_E)}
    dist = row.get("distance_km") if hasattr(row, "get") else None
    brg = row.get("bearing") if hasattr(row, "get") else None
    out[f"{prefix}_distance"] = Value(value=None if dist is None or not np.isfinite(dist) else round(float(dist), 1),
                                      units="km", note="from the case's place")
    out[f"{prefix}_bearing"] = Value(value=None if brg is None or not np.isfinite(brg) else round(float(brg), 0),
                                     units="degree", note="from the case's place, clockwise from north")
    return out


def station_extreme_outs(prefix: str, units: str, *, tag: str = "time", tag_units: str = "") -> dict[str, str]:
    """The declared outputs of :func:`station_extreme`."""
    return {prefix: units, f"{prefix}_station": "", f"{prefix}_{tag}": tag_units, f"{prefix}_lat": DEG_N,
            f"{prefix}_lon": DEG_E, f"{prefix}_distance": "km", f"{prefix}_bearing": "degree"}


def _station_window(ctx: ToolContext, args: SurfaceInput) -> Window:
    """The stations' window: kind ``stations``, the box and ``start``/``end`` of the call."""
    return ctx.window("stations", args, box=args.box(), start=_utc(args.start) if args.start else None,
                      end=_utc(args.end) if args.end else None)


def _km(r) -> str:
    d = getattr(r, "distance_km", None)
    return "" if d is None or not np.isfinite(d) else f", {d:.0f} km from the place"


def pressure_changes(df: pd.DataFrame, interval_h: float, tolerance_min: float) -> pd.DataFrame:
    """Each report paired with the same station's report ``interval_h`` earlier.

    The earlier report is the one nearest to exactly ``interval_h`` before, within
    ``tolerance_min``. Returns the later reports with ``p_before``, ``time_before`` and
    ``change`` (hPa, later minus earlier).
    """
    extra = [c for c in ("distance_km", "bearing") if c in df]
    p = df.dropna(subset=["air_pressure_at_sea_level"])[["station", "time", "lat", "lon",
                                                         "air_pressure_at_sea_level", *extra]]
    left = p.assign(target=p["time"] - pd.Timedelta(hours=interval_h)).sort_values("target")
    right = p[["station", "time", "air_pressure_at_sea_level"]].rename(
        columns={"time": "time_before", "air_pressure_at_sea_level": "p_before"}).sort_values("time_before")
    pairs = pd.merge_asof(left, right, left_on="target", right_on="time_before", by="station",
                          direction="nearest", tolerance=pd.Timedelta(minutes=tolerance_min))
    pairs = pairs.dropna(subset=["p_before"])
    return pairs.assign(change=pairs["air_pressure_at_sea_level"] - pairs["p_before"]).drop(columns="target")


@tool(category="surface",
      outputs=windowed({**station_extreme_outs("max_fall", "hPa"), **station_extreme_outs("max_rise", "hPa"),
                        "interval": "hour", "n_pairs": "1", "n_stations": "1", "n_rejected": "1"}),
      example={}, needs=("surface_obs",))
def compute_pressure_tendency(args: TendencyInput, ctx: ToolContext) -> ToolOutput:
    """Largest station mean-sea-level pressure falls and rises over 3 hours (or another interval).

    Every report is paired with the same station's report ``interval`` hours earlier
    (nearest within ``tolerance``); the change (hPa over the interval, later minus
    earlier) is ranked. ``max_fall`` is the most negative change, ``max_rise`` the most
    positive; ``*_time`` is the later report's time. Reports failing the spatial check
    (``qc``, see :func:`buddy_check`) and changes larger than ``max_change`` are left out;
    ``n_rejected`` counts both. Only stations and reports inside the window count (see the
    module docstring); each extreme gives its distance and bearing from the place. The
    table lists the ten largest falls and rises.
    """
    ds = ctx.load(args.role)
    win = _station_window(ctx, args)
    df = station_frame(ds, args, ("air_pressure_at_sea_level",), win).dropna(subset=["air_pressure_at_sea_level"])
    df, notes, n_qc = _qc_pressure(df, args.qc)
    pairs = pressure_changes(df, args.interval, args.tolerance)
    bad = pairs["change"].abs() > args.max_change
    good = pairs[~bad]
    if bad.any():
        worst = pairs[bad].sort_values("change", key=np.abs, ascending=False).head(3)
        notes.append(f"{int(bad.sum())} change(s) beyond {args.max_change:g} hPa left out as bad reports, e.g. "
                     + "; ".join(f"{r.station} {_iso(r.time)} {r.change:+.1f} hPa" for r in worst.itertuples()))
    if good.empty:
        notes.append(f"no station has two pressure reports {args.interval:g} h apart")
    fall = good.loc[good["change"].idxmin()] if not good.empty else None
    rise = good.loc[good["change"].idxmax()] if not good.empty else None
    values = {**station_extreme("max_fall", fall, "change", "hPa"), **station_extreme("max_rise", rise, "change", "hPa"),
              "interval": Value(value=args.interval, units="hour"), "n_pairs": Value(value=int(len(good)), units="1"),
              "n_stations": Value(value=int(good["station"].nunique()), units="1"),
              "n_rejected": Value(value=int(bad.sum()) + n_qc, units="1")}
    cols = ["station", "time", "lat", "lon", "distance_km", "p_before", "air_pressure_at_sea_level", "change"]
    top = pd.concat([good.nsmallest(10, "change"), good.nlargest(10, "change")])[cols]
    table = [{"station": r.station, "time": _iso(r.time), "lat": round(r.lat, 3), "lon": round(r.lon, 3),
              "distance_km": round(r.distance_km, 1),
              "pressure_before_hpa": round(r.p_before, 1), "pressure_hpa": round(r.air_pressure_at_sea_level, 1),
              "change_hpa": round(r.change, 1)} for r in top.itertuples()]
    summary = ("no pressure pairs" if fall is None else
               f"largest {args.interval:g}-h MSLP fall {fall['change']:+.1f} hPa at {fall['station']} "
               f"({fall['lat']:.2f}, {fall['lon']:.2f}{_km(fall)}) ending {_iso(fall['time'])}; largest rise "
               f"{rise['change']:+.1f} hPa at {rise['station']} ending {_iso(rise['time'])} "
               f"({good['station'].nunique()} stations {win.area_text()})")
    win.at(fall["time"] if fall is not None else None, "the reports")
    return win.finish(ToolOutput(values=values, summary=summary, warnings=notes, table=table))


@tool(category="surface", outputs=windowed({**station_extreme_outs("min_pressure", "hPa"), "n_reports": "1"}),
      example={"lon_min": -100, "lon_max": -60}, needs=("surface_obs",))
def find_pressure_minimum_station(args: PressureInput, ctx: ToolContext) -> ToolOutput:
    """Lowest station mean-sea-level pressure (hPa): station, position and time.

    The minimum over every report inside the window (the stations within the radius of the
    case's place, the reports within the time window: see the module docstring), after the
    spatial check of the reports (``qc``, see :func:`buddy_check`); with the station's
    distance and bearing from the place. The table lists the ten stations with the lowest
    pressure (each station's lowest report).
    """
    ds = ctx.load(args.role)
    win = _station_window(ctx, args)
    df = station_frame(ds, args, ("air_pressure_at_sea_level",), win).dropna(subset=["air_pressure_at_sea_level"])
    if df.empty:
        raise VariableMissing(ds.attrs.get("source_file"), f"no pressure report {win.area_text()}")
    df, notes, _ = _qc_pressure(df, args.qc)
    row = df.loc[df["air_pressure_at_sea_level"].idxmin()]
    values = {**station_extreme("min_pressure", row, "air_pressure_at_sea_level", "hPa"),
              "n_reports": Value(value=int(len(df)), units="1")}
    per = df.loc[df.groupby("station")["air_pressure_at_sea_level"].idxmin()].nsmallest(
        10, "air_pressure_at_sea_level")
    table = [{"station": r.station, "time": _iso(r.time), "lat": round(r.lat, 3), "lon": round(r.lon, 3),
              "distance_km": round(r.distance_km, 1), "pressure_hpa": round(r.air_pressure_at_sea_level, 1)}
             for r in per.itertuples()]
    win.at(row["time"], "the reports")
    return win.finish(ToolOutput(values=values, table=table, warnings=notes,
                      summary=f"lowest station MSLP {row['air_pressure_at_sea_level']:.1f} hPa at {row['station']} "
                              f"({row['lat']:.2f}, {row['lon']:.2f}{_km(row)}) at {_iso(row['time'])}, of "
                              f"{len(df)} reports {win.area_text()}"))


@tool(category="surface", outputs=windowed({**station_extreme_outs("max_wind_speed", "knot"),
                                            **station_extreme_outs("max_wind_gust", "knot"), "n_reports": "1"}),
      example={}, needs=("surface_obs",))
def find_strongest_winds(args: SurfaceInput, ctx: ToolContext) -> ToolOutput:
    """Strongest sustained wind and strongest gust reported (knots): station, position, time.

    The maxima over every report inside the window (the stations within the radius of the
    case's place, the reports within the time window: see the module docstring), each with
    its station's distance and bearing from the place; the gust is ``None`` when no report
    has one. A summit station inside the window (e.g. Mount Washington, MWN, for a case in
    New England) is not singled out: use the box or the radius to exclude it. The table
    lists the ten stations with the strongest wind.
    """
    ds = ctx.load(args.role)
    win = _station_window(ctx, args)
    df = station_frame(ds, args, ("wind_speed", "wind_gust"), win)
    ws, wg = df.dropna(subset=["wind_speed"]), df.dropna(subset=["wind_gust"])
    row_s = ws.loc[ws["wind_speed"].idxmax()] if not ws.empty else None
    row_g = wg.loc[wg["wind_gust"].idxmax()] if not wg.empty else None
    values = {**station_extreme("max_wind_speed", row_s, "wind_speed", "knot"),
              **station_extreme("max_wind_gust", row_g, "wind_gust", "knot"),
              "n_reports": Value(value=int(len(df)), units="1")}
    notes = [] if row_g is not None else ["no report carries a gust"]
    per = ws.loc[ws.groupby("station")["wind_speed"].idxmax()].nlargest(10, "wind_speed")
    gmax = wg.groupby("station")["wind_gust"].max()
    table = [{"station": r.station, "time": _iso(r.time), "lat": round(r.lat, 3), "lon": round(r.lon, 3),
              "distance_km": round(r.distance_km, 1),
              "wind_speed_kt": r.wind_speed, "max_gust_kt": None if r.station not in gmax else float(gmax[r.station])}
             for r in per.itertuples()]
    g = "" if row_g is None else (f"; strongest gust {row_g['wind_gust']:.0f} kt at {row_g['station']}"
                                  f"{_km(row_g)} {_iso(row_g['time'])}")
    s = "no wind reports" if row_s is None else (f"strongest wind {row_s['wind_speed']:.0f} kt at {row_s['station']} "
                                                 f"({row_s['lat']:.2f}, {row_s['lon']:.2f}{_km(row_s)}) "
                                                 f"{_iso(row_s['time'])}")
    main = row_g if row_g is not None else row_s
    win.at(None if main is None else main["time"], "the reports")
    return win.finish(ToolOutput(values=values, summary=s + g + f" ({win.area_text()})", warnings=notes, table=table))


#: NWS excessive-heat practice: a heat index of 105 degF (40.6 degC) or more is dangerous
#: (the excessive heat warning criterion of many US offices; NWS Directive 10-515).
HEAT_INDEX_DANGER_C = (105.0 - 32.0) * 5.0 / 9.0
#: The world's extreme screen temperatures (WMO Weather and Climate Extremes Archive:
#: -89.2 degC at Vostok, 21 July 1983; 56.7 degC at Furnace Creek, 10 July 1913): a report
#: outside them is a fault.
WORLD_MIN_TEMPERATURE_C = -89.2
WORLD_MAX_TEMPERATURE_C = 56.7
#: A dew point more than this above the temperature (degC) is a fault, not rounding.
DEW_POINT_SLACK_C = 0.5


def _celsius(ds: xr.Dataset, name: str, values: np.ndarray) -> np.ndarray:
    """``values`` of variable ``name`` of the observations in degree Celsius (from the
    variable's own ``units``; a variable without units is refused), to 0.001 degC."""
    from metpy.units import units

    u = ds[name].attrs.get("units")
    if not u:
        raise VariableMissing(ds.attrs.get("source_file"), f"{name} has no units, so it cannot be read as a temperature")
    # rounded to 0.001 degC: pint's offset conversion gives 32 degF as 5.7e-14 degC, not 0
    return np.round(units.Quantity(np.asarray(values, dtype=float), u).m_as("degC"), 3)


@tool(category="surface",
      outputs=windowed({**station_extreme_outs("max_temperature", "degC"),
                        **station_extreme_outs("max_heat_index", "degC"),
                        **station_extreme_outs("min_temperature", "degC"), "n_stations": "1",
                        "n_heat_danger_stations": "1", "n_subfreezing_stations": "1"}),
      example={}, needs=("surface_obs",))
def summarize_station_temperatures(args: SurfaceInput, ctx: ToolContext) -> ToolOutput:
    """Hottest and coldest station reports and the heat index (degC): station, position, time.

    Over every report inside the window (the stations within the radius of the case's
    place, the reports within the time window: see the module docstring): the highest
    and lowest air temperature and the highest heat index, each with its station's
    distance and bearing from the place, and how many stations reach a dangerous heat
    index (:data:`HEAT_INDEX_DANGER_C`, 105 degF) or report a temperature at or below
    0 degC. The heat index is MetPy's (``metpy.calc.heat_index``: Rothfusz's regression
    as the NWS applies it, from the temperature and the relative humidity of the dew
    point), defined from 80 degF (26.7 degC) up; with no report that warm it is not
    computable. Temperatures are read in the observations' own units; a temperature
    outside the world records (:data:`WORLD_MIN_TEMPERATURE_C`,
    :data:`WORLD_MAX_TEMPERATURE_C`) and a dew point above its temperature are set missing,
    and the warnings say how many.
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    ds = ctx.load(args.role)
    win = _station_window(ctx, args)
    df = station_frame(ds, args, ("air_temperature", "dew_point_temperature"), win)
    df = df.assign(t_c=_celsius(ds, "air_temperature", df["air_temperature"].to_numpy()),
                   td_c=_celsius(ds, "dew_point_temperature", df["dew_point_temperature"].to_numpy()))
    # no screen temperature lies outside the world records; no dew point above the temperature
    impossible = (df["t_c"] < WORLD_MIN_TEMPERATURE_C) | (df["t_c"] > WORLD_MAX_TEMPERATURE_C)
    wet = df["td_c"] > df["t_c"] + DEW_POINT_SLACK_C
    notes = []
    if impossible.any():
        bad = df[impossible]
        notes.append(f"{int(impossible.sum())} report(s) set missing: a temperature outside the world records "
                     f"({WORLD_MIN_TEMPERATURE_C:g} to {WORLD_MAX_TEMPERATURE_C:g} degC), e.g. "
                     f"{bad['t_c'].iloc[0]:.1f} degC at {bad['station'].iloc[0]} {_iso(bad['time'].iloc[0])}")
    if (wet & ~impossible).any():
        notes.append(f"{int((wet & ~impossible).sum())} dew point(s) set missing: above the report's temperature")
    df = df.assign(t_c=df["t_c"].mask(impossible), td_c=df["td_c"].mask(impossible | wet))
    t = df.dropna(subset=["t_c"])
    if t.empty:
        raise VariableMissing(ds.attrs.get("source_file"), f"no temperature report {win.area_text()}")
    both = t.dropna(subset=["td_c"])
    hi = np.full(len(both), np.nan)
    if len(both):
        tq = units.Quantity(both["t_c"].to_numpy(), "degC")
        rh = mpcalc.relative_humidity_from_dewpoint(tq, units.Quantity(both["td_c"].to_numpy(), "degC"))
        h = mpcalc.heat_index(tq, rh, mask_undefined=True)
        hi = np.ma.filled(np.ma.asarray(h.m_as("degC")).astype(float), np.nan)  # undefined (masked): NaN
    both = both.assign(hi_c=hi).dropna(subset=["hi_c"])
    row_max = t.loc[t["t_c"].idxmax()]
    row_min = t.loc[t["t_c"].idxmin()]
    row_hi = both.loc[both["hi_c"].idxmax()] if len(both) else None
    values = {**station_extreme("max_temperature", row_max, "t_c", "degC"),
              **station_extreme("min_temperature", row_min, "t_c", "degC"),
              **station_extreme("max_heat_index", row_hi, "hi_c", "degC",
                                why=f"no report of 80 degF (26.7 degC) or more with a dew point {win.area_text()}"),
              "n_stations": Value(value=int(t["station"].nunique()), units="1"),
              "n_heat_danger_stations": Value(value=int(both.loc[both["hi_c"] >= HEAT_INDEX_DANGER_C, "station"]
                                                        .nunique()), units="1",
                                              note="stations with a heat index of 105 degF (40.6 degC) or more"),
              "n_subfreezing_stations": Value(value=int(t.loc[t["t_c"] <= 0.0, "station"].nunique()), units="1",
                                              note="stations reporting 0 degC or less")}
    per = t.loc[t.groupby("station")["t_c"].idxmax()].nlargest(10, "t_c")
    table = [{"station": r.station, "time": _iso(r.time), "lat": round(r.lat, 3), "lon": round(r.lon, 3),
              "distance_km": round(r.distance_km, 1), "temperature_c": round(r.t_c, 1)} for r in per.itertuples()]
    h = ("no heat index (no report of 80 degF or more with a dew point)" if row_hi is None else
         f"highest heat index {row_hi['hi_c']:.1f} degC at {row_hi['station']}{_km(row_hi)} {_iso(row_hi['time'])}")
    win.at(row_max["time"], "the reports")
    return win.finish(ToolOutput(values=values, table=table, warnings=notes, summary=(
        f"hottest {row_max['t_c']:.1f} degC at {row_max['station']}{_km(row_max)} {_iso(row_max['time'])}, coldest "
        f"{row_min['t_c']:.1f} degC at {row_min['station']}{_km(row_min)}; {h}; "
        f"{values['n_heat_danger_stations'].value} station(s) at a dangerous heat index, "
        f"{values['n_subfreezing_stations'].value} at or below 0 degC, of {values['n_stations'].value} "
        f"({win.area_text()})")))


class PresentWeatherInput(SurfaceInput):
    """Station observations with present weather, and how many precipitating stations a
    snow fraction needs."""

    min_precipitation_stations: int = quantity(5, units="1", ge=1, le=1000, description="fewest stations with "
                                               "precipitation for which snow_fraction and freezing_fraction are given (below: not computable)")


_PW_KINDS = ("snow", "heavy_snow", "freezing_precipitation", "ice_pellets", "hail", "rain", "thunder",
             "blowing_snow", "funnel_cloud", "tornado", "squall")
_PW_NEAREST = ("snow", "freezing_precipitation", "ice_pellets", "thunder", "tornado")


def _pw_outs() -> dict[str, str]:
    out = {"n_stations": "1", "n_precipitation_stations": "1", **{f"n_{k}_stations": "1" for k in _PW_KINDS},
           "snow_fraction": "1", "freezing_fraction": "1"}
    for k in _PW_NEAREST:
        out.update({f"nearest_{k}_station": "", f"nearest_{k}_distance": "km", f"nearest_{k}_bearing": "degree",
                    f"nearest_{k}_time": "", f"nearest_{k}_weather": ""})
    return out


@tool(category="surface", outputs=windowed(_pw_outs()), example={}, needs=("surface_obs",))
def summarize_present_weather(args: PresentWeatherInput, ctx: ToolContext) -> ToolOutput:
    """What the stations report: snow, freezing rain, ice pellets, hail, rain, thunder, tornadoes.

    Reads the reports' present weather (METAR weather groups, e.g. ``-SN BLSN``,
    ``FZRA``, ``+TSRAGR``: :mod:`hvrmet.calc.present_weather`) and counts, for each kind
    of weather, the stations inside the window (the stations within the radius of the
    case's place, the reports within the time window: see the module docstring) with at
    least one report of it (``n_<kind>_stations``); ``n_stations`` counts the stations
    reporting inside the window, with or without weather. ``snow_fraction`` and
    ``freezing_fraction`` are the shares of the stations with precipitation that report
    snow and freezing rain or drizzle (not computable with fewer than
    ``min_precipitation_stations`` of them). For snow, freezing precipitation, ice pellets,
    thunder and tornadoes (``+FC``), the nearest station reporting it: its distance and
    bearing from the place, the report's time and weather. The table lists the stations with significant
    weather, nearest first (their latest such report).
    """
    from hvrmet.calc.present_weather import KINDS, weather_kinds

    ds = ctx.load(args.role)
    path = ds.attrs.get("source_file")
    if "present_weather" not in ds:
        raise VariableMissing(path, "the observations carry no present weather (METAR weather groups); they hold: "
                                    f"{', '.join(map(str, ds.data_vars))}")
    win = _station_window(ctx, args)
    df = pd.DataFrame({"station": ds["station"].values.astype(str), "time": pd.to_datetime(ds["time"].values),
                       "lat": ds["lat"].values.astype(float), "lon": wrap_lon(ds["lon"].values.astype(float)),
                       "weather": ds["present_weather"].values.astype(str)})
    df = df.dropna(subset=["lat", "lon", "time"]).drop_duplicates(["station", "time"], keep="first")
    df = reports_in_window(df, win, path, "station with present weather", "stations")
    kinds = weather_kinds(df["weather"].tolist())
    df = df.assign(**{f"is_{k}": v for k, v in kinds.items()})
    per = df.groupby("station")[[f"is_{k}" for k in KINDS]].any()
    n = {k: int(per[f"is_{k}"].sum()) for k in KINDS}
    values: dict[str, Value] = {"n_stations": Value(value=int(df["station"].nunique()), units="1"),
                                "n_precipitation_stations": Value(value=n["precipitation"], units="1")}
    for k in _PW_KINDS:
        values[f"n_{k}_stations"] = Value(value=n[k], units="1", note=KINDS[k])
    for name, kind in (("snow_fraction", "snow"), ("freezing_fraction", "freezing_precipitation")):
        if n["precipitation"] >= args.min_precipitation_stations:
            values[name] = Value(value=round(n[kind] / n["precipitation"], 3), units="1",
                                 note=f"{n[kind]} of {n['precipitation']} stations with precipitation")
        else:
            values[name] = Value(value=None, units="1", note=(
                f"not computable: {n['precipitation']} station(s) with precipitation {win.area_text()}, fewer than "
                f"the {args.min_precipitation_stations} a fraction needs"))
    for k in _PW_NEAREST:
        hit = df[df[f"is_{k}"]].sort_values(["distance_km", "time"], ascending=[True, False])
        r = hit.iloc[0] if len(hit) else None
        why = "" if r is not None else f"no station reports {k.replace('_', ' ')} {win.area_text()}"
        vals = {"station": (None if r is None else str(r["station"]), ""),
                "distance": (None if r is None else round(float(r["distance_km"]), 1), "km"),
                "bearing": (None if r is None else round(float(r["bearing"]), 0), "degree"),
                "time": (None if r is None else _iso(r["time"]), ""),
                "weather": (None if r is None else str(r["weather"]), "")}
        for name, (v, u) in vals.items():
            values[f"nearest_{k}_{name}"] = Value(value=v, units=u, note=why or ("from the case's place" if name in (
                "distance", "bearing") else ""))
    sig = df[df[[f"is_{k}" for k in KINDS]].any(axis=1)].sort_values("time").groupby("station").tail(1)
    sig = sig.sort_values("distance_km").head(25)
    table = [{"station": r.station, "time": _iso(r.time), "lat": round(r.lat, 3), "lon": round(r.lon, 3),
              "distance_km": round(r.distance_km, 1), "weather": r.weather,
              "kinds": ", ".join(k for k in KINDS if k != "precipitation" and getattr(r, f"is_{k}"))}
             for r in sig.itertuples()]
    parts = [f"{n[k]} {k.replace('_', ' ')}" for k in ("snow", "freezing_precipitation", "ice_pellets", "hail",
                                                       "rain", "thunder", "tornado")
             if n[k] or k in ("snow", "rain")]
    near = values["nearest_snow_station"].value
    snow = "" if near is None else (f"; nearest snow {values['nearest_snow_weather'].value} at {near}, "
                                    f"{values['nearest_snow_distance'].value:.0f} km from the place, "
                                    f"{values['nearest_snow_time'].value}")
    win.at(df["time"].max() if len(df) else None, "the reports")
    return win.finish(ToolOutput(values=values, table=table, summary=(
        f"of {values['n_stations'].value} stations {win.area_text()}, {n['precipitation']} report precipitation: "
        f"stations with " + ", ".join(parts) + snow)))


def distance_km(lat0: float, lon0: float, lat, lon) -> np.ndarray:
    """Great-circle (WGS84 geodesic) distance in km from one point to others."""
    from pyproj import Geod

    lat, lon = np.broadcast_arrays(np.asarray(lat, float), np.asarray(lon, float))
    _, _, d = Geod(ellps="WGS84").inv(np.full(lat.shape, float(lon0)), np.full(lat.shape, float(lat0)), lon, lat)
    return np.asarray(d) / 1000.0


_FRONTS = {"cold": "COLD", "warm": "WARM", "stationary": "STNRY", "occluded": "OCFNT"}
#: A low counts as near the point within this distance (km) ...
THERMAL_LOW_RADIUS_KM = 500.0
#: ... and as non-frontal when no cold, warm, stationary or occluded front passes within this distance (km) of it.
FRONT_CLEAR_KM = 300.0


def _extent_outs() -> dict[str, str]:
    out = {}
    for k in ("cold", "warm", "stationary"):
        out.update({f"{k}_front_lat_min": DEG_N, f"{k}_front_lat_max": DEG_N, f"{k}_front_lon_min": DEG_E,
                    f"{k}_front_lon_max": DEG_E})
    return out


def thermal_low_values(low: tuple[float, float, float] | None, front_lat: np.ndarray, front_lon: np.ndarray,
                       valid: str, lat0: float) -> dict[str, Value]:
    """``nearest_low_front_distance`` and ``thermal_low`` of :func:`locate_fronts`.

    Parameters
    ----------
    low
        The nearest analysed low: latitude, longitude (degree) and its distance from the
        point (km); ``None`` without one.
    front_lat, front_lon
        The vertices of every cold, warm, stationary and occluded front (degree).
    valid
        The analysis's valid time (ISO), ``""`` when unknown.
    lat0
        The point's latitude (its hemisphere decides the season).
    """
    gap = (float(distance_km(low[0], low[1], front_lat, front_lon).min())
           if low is not None and len(front_lat) else None)
    out = {"nearest_low_front_distance": Value(value=None if gap is None else round(gap, 0), units="km",
                                               note="from the nearest low to the nearest front")}
    if low is None or low[2] > THERMAL_LOW_RADIUS_KM:
        out["thermal_low"] = Value(value=None, note=f"no analysed low within {THERMAL_LOW_RADIUS_KM:g} km of the point")
        return out
    if not valid:
        out["thermal_low"] = Value(value=None, note="the analysis has no valid time, so its season is unknown")
        return out
    warm = warm_season(lat0, pd.Timestamp(valid).month)
    frontal = gap is not None and gap <= FRONT_CLEAR_KM
    out["thermal_low"] = Value(value=bool(warm and not frontal), note=(
        f"the nearest low, {low[2]:.0f} km from the point: "
        + ("no front" if gap is None else f"the nearest front {gap:.0f} km from it")
        + f" (non-frontal with no front within {FRONT_CLEAR_KM:g} km), {'warm' if warm else 'cold'} season"))
    return out


@tool(category="surface",
      outputs=windowed({"n_cold_fronts": "1", "n_warm_fronts": "1", "n_stationary_fronts": "1",
                        "n_occluded_fronts": "1", "n_troughs": "1", "n_highs": "1", "n_lows": "1", "highs": "", "lows": "",
                        **_extent_outs(), "strong_high_nearby": "", "nearest_strong_high_distance": "km",
                        "nearest_strong_high_pressure": "hPa", "nearest_strong_high_lat": DEG_N,
                        "nearest_strong_high_lon": DEG_E, "nearest_strong_high_bearing": "degree",
                        "nearest_low_distance": "km", "nearest_low_pressure": "hPa", "nearest_low_bearing": "degree",
                        "min_low_pressure": "hPa", "min_low_lat": DEG_N, "min_low_lon": DEG_E,
                        **place_units("min_low"), "nearest_low_front_distance": "km", "thermal_low": "",
                        "valid_time": ""}),
      example={}, needs=("fronts",))
def locate_fronts(args: FrontsInput, ctx: ToolContext) -> ToolOutput:
    """Fronts, troughs, highs and lows of a WPC surface analysis, and highs near a point.

    Counts each feature type; lists highs and lows as [lat, lon, hPa]; gives the lat/lon
    extent of the cold, warm and stationary fronts (``None`` when there is none); and says
    whether a high of at least ``min_high_pressure`` lies within ``radius`` km of the point
    (the case's location by default), with the nearest such high and the nearest low
    (geodesic distances, pyproj; bearings from the point), and the deepest analysed low
    within the radius (its central pressure, position, distance and bearing; ``None``
    when no low with a pressure lies inside). The radius is the window's
    (kind ``surface_analysis``, :mod:`hvrmet.tools.window`); an analysis valid outside the
    time window around the case's time is flagged (``outside_time_window``). A strong
    surface high over a region is one sign of a subsiding ridge; in a heat wave a thermal
    low often sits under the upper ridge instead.

    ``nearest_low_front_distance`` is the geodesic distance from the nearest low to the
    nearest vertex of a cold, warm, stationary or occluded front (troughs are not fronts;
    ``None`` without a low or a front). ``thermal_low`` is true when that low lies within
    :data:`THERMAL_LOW_RADIUS_KM` of the point, no front passes within
    :data:`FRONT_CLEAR_KM` of it, and the analysis is valid in the warm season of the
    point's hemisphere (:func:`hvrmet.tools.setting.warm_season`): a non-frontal warm-season low, the heat (thermal)
    low that strong surface heating deepens (AMS Glossary of Meteorology, "heat low"), like
    the coastal thermal trough under the hottest days of the North American west coast
    (Brewer, Mass and Potter 2012, Mon. Wea. Rev. 140, 3820-3843). False when such a low is
    near but frontal or the season is cold; ``None`` when no analysed low lies near the
    point or the analysis has no valid time.
    """
    ds = ctx.load(args.role)
    for v in ("feature_type", "strength", "vertex_lat", "vertex_lon", "vertex_feature"):
        if v not in ds:
            raise VariableMissing(ds.attrs.get("source_file"), f"not a decoded WPC surface analysis: no {v}")
    ftype = ds["feature_type"].values.astype(str)
    lat0 = args.lat if args.lat is not None else ctx.place[0]
    lon0 = float(wrap_lon(args.lon if args.lon is not None else ctx.place[1]))
    win = ctx.window("surface_analysis", args,
                     center=(lat0, lon0) if args.lat is not None or args.lon is not None else None)
    values: dict[str, Value] = {f"n_{k}_fronts": Value(value=int((ftype == code).sum()), units="1")
                                for k, code in _FRONTS.items()}
    values["n_troughs"] = Value(value=int((ftype == "TROF").sum()), units="1")
    centres = {}
    for kind, code in (("highs", "HIGH"), ("lows", "LOW")):
        sel = ftype == code
        tab = pd.DataFrame({"lat": ds["lat"].values[sel], "lon": wrap_lon(ds["lon"].values[sel]),
                            "p": ds["strength"].values[sel]})
        km, brg = win.locate(tab["lat"].to_numpy(), tab["lon"].to_numpy()) if len(tab) else ([], [])
        tab["km"], tab["bearing"] = km, brg
        centres[kind] = tab
        values[f"n_{kind}"] = Value(value=int(sel.sum()), units="1")
        values[kind] = Value(value=[[round(float(r.lat), 2), round(float(r.lon), 2),
                                     None if np.isnan(r.p) else float(r.p)] for r in tab.itertuples()],
                             note="[lat degree_north, lon degree_east, central pressure hPa]")
    vfeat = ds["vertex_feature"].values.astype(int)
    vlat, vlon = ds["vertex_lat"].values, wrap_lon(ds["vertex_lon"].values)
    for k in ("cold", "warm", "stationary"):
        m = ftype[vfeat] == _FRONTS[k]
        ext = (vlat[m].min(), vlat[m].max(), vlon[m].min(), vlon[m].max()) if m.any() else (None,) * 4
        for name, x, u in zip(("lat_min", "lat_max", "lon_min", "lon_max"), ext, (DEG_N, DEG_N, DEG_E, DEG_E)):
            values[f"{k}_front_{name}"] = Value(value=None if x is None else round(float(x), 2), units=u)
    strong = centres["highs"][centres["highs"]["p"] >= args.min_high_pressure]
    near = strong.loc[strong["km"].idxmin()] if len(strong) else None
    low = centres["lows"].loc[centres["lows"]["km"].idxmin()] if len(centres["lows"]) else None
    found = near is not None and near["km"] <= win.radius_km
    values.update(
        strong_high_nearby=Value(value=bool(found)),
        nearest_strong_high_distance=Value(value=None if near is None else round(float(near["km"]), 0), units="km"),
        nearest_strong_high_pressure=Value(value=None if near is None else float(near["p"]), units="hPa"),
        nearest_strong_high_lat=Value(value=None if near is None else float(near["lat"]), units=DEG_N),
        nearest_strong_high_lon=Value(value=None if near is None else float(near["lon"]), units=DEG_E),
        nearest_strong_high_bearing=Value(value=None if near is None else round(float(near["bearing"]), 0),
                                          units="degree", note="from the point"),
        nearest_low_distance=Value(value=None if low is None else round(float(low["km"]), 0), units="km"),
        nearest_low_pressure=Value(value=None if low is None else float(low["p"]), units="hPa"),
        nearest_low_bearing=Value(value=None if low is None else round(float(low["bearing"]), 0), units="degree",
                                  note="from the point"))
    lows = centres["lows"]
    inside = lows[win.inside(lows["km"].to_numpy()) & lows["p"].notna().to_numpy()] if len(lows) else lows
    deep = inside.loc[inside["p"].idxmin()] if len(inside) else None
    values.update(
        min_low_pressure=Value(value=None if deep is None else float(deep["p"]), units="hPa",
                               note=f"the deepest analysed low {win.area_text()}"),
        min_low_lat=Value(value=None if deep is None else float(deep["lat"]), units=DEG_N),
        min_low_lon=Value(value=None if deep is None else float(deep["lon"]), units=DEG_E),
        **win.from_place("min_low", None if deep is None else float(deep["lat"]),
                         None if deep is None else float(deep["lon"])))
    valid = ""
    if "valid" in ds.coords and ds["valid"].size:
        valid = _iso(ds["valid"].values[0])
    values["valid_time"] = Value(value=valid)
    front = np.isin(ftype[vfeat], list(_FRONTS.values()))
    values.update(thermal_low_values(None if low is None else (float(low["lat"]), float(low["lon"]), float(low["km"])),
                                     vlat[front], vlon[front], valid, lat0))
    warnings: list[str] = []
    win.at(valid or None, "the surface analysis")
    counts = ", ".join(f"{values[f'n_{k}_fronts'].value} {k}" for k in _FRONTS)
    hi = ("no high" if near is None else
          f"nearest high >= {args.min_high_pressure:g} hPa: {near['p']:.0f} hPa at ({near['lat']:.1f}, "
          f"{near['lon']:.1f}), {near['km']:.0f} km away")
    lo = "" if low is None else f"; nearest low {low['p']:.0f} hPa, {low['km']:.0f} km away"
    if deep is not None:
        lo += f"; deepest low within {win.radius_km:g} km {deep['p']:.0f} hPa, {deep['km']:.0f} km away"
    return win.finish(ToolOutput(values=values,
                      summary=f"WPC {valid}: fronts {counts}; {values['n_highs'].value} highs, "
                              f"{values['n_lows'].value} lows; {hi} "
                              f"({'within' if found else 'not within'} {win.radius_km:g} km of "
                              f"{lat0:.2f}, {lon0:.2f}){lo}", warnings=warnings))
