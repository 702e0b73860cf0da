"""Upper-air station network: the radiosonde reports of many stations at the mandatory
levels (the ``upper_air`` role, read by :func:`hvrmet.data.readers.upper_air_csv.read_upper_air_csv`).

What a forecaster reads off a 500 and 300 hPa station plot: how low the 500 hPa heights
are (the depth of a trough, against the standard atmosphere's 5574 m), how strong the
500 hPa winds are (40 m/s or more marks a vigorous trough) and how strong the jet is at
300-200 hPa (a jet streak: 50 m/s or more). Only the stations inside the window count
(:mod:`hvrmet.tools.window`, kind ``stations``: 1500 km and 12 h either side by default);
a station whose report carries no position is left out and counted in a warning. A level
the file has no report of gives ``None`` with the reason in the value's note and the
result's warnings (never a silent blank).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.surface import reports_in_window, station_extreme, station_extreme_outs
from hvrmet.tools.window import windowed

__all__ = ["upper_air_frame"]

KNOT = 0.514444  # m/s


class UpperAirInput(WindowInput):
    """A case, the role of its upper-air station reports, and the levels to read."""

    role: str = Field("upper_air", description="case role of the upper-air station reports")
    trough_level: float = quantity(500.0, units="hPa", description="level of the trough's heights and winds",
                                   ge=100.0, le=1000.0)
    jet_top: float = quantity(200.0, units="hPa", description="highest (lowest-pressure) level searched for the jet",
                              ge=50.0, le=500.0)
    jet_bottom: float = quantity(300.0, units="hPa", description="lowest (highest-pressure) level searched for the "
                                 "jet", ge=100.0, le=500.0)


def upper_air_frame(ds, win) -> pd.DataFrame:
    """The reports inside the window as a table (station, time, pressure hPa, height m,
    speed m/s, lat, lon, distance_km, bearing); the stations without a position, and what
    the window left out, go into ``win.warnings``
    (:func:`hvrmet.tools.surface.reports_in_window`).

    Raises
    ------
    VariableMissing
        When the reports carry no pressure, or no station with a position lies inside the
        window.
    """
    path = ds.attrs.get("source_file")
    if "pressure" not in ds:
        raise VariableMissing(path, "the upper-air reports carry no pressure level")
    col = lambda name: ds[name].values.astype(float) if name in ds else np.full(ds.sizes["obs"], np.nan)  # noqa: E731
    df = pd.DataFrame({"station": ds["station"].values.astype(str), "time": pd.to_datetime(ds["time"].values),
                       "pressure": col("pressure"), "height": col("height"),
                       "speed": col("speed") * KNOT, "lat": col("latitude"),
                       "lon": (col("longitude") + 180.0) % 360.0 - 180.0})
    placed = np.isfinite(df["lat"]) & np.isfinite(df["lon"])
    if not placed.all():
        lost = sorted(set(df.loc[~placed, "station"]) - set(df.loc[placed, "station"]))
        win.warnings.append(f"{len(lost)} station(s) report no position and are left out"
                            + (f" ({', '.join(lost[:8])}{', ...' if len(lost) > 8 else ''})" if lost else ""))
        df = df[placed]
    if df.empty:
        raise VariableMissing(path, "no upper-air report carries a station position (latitude, longitude)")
    return reports_in_window(df, win, path, "upper-air station", "with a position")


def _standard_height_m(p_hpa: float) -> float:
    """Geopotential height (m) of a pressure level in the standard atmosphere (ICAO, US
    1976): 288.15 K and 1013.25 hPa at sea level, 6.5 K/km to 11 km (226.32 hPa), then
    isothermal at 216.65 K (to 20 km, 54.75 hPa; the levels this tool takes)."""
    import math

    g0, r = 9.80665, 287.05287
    if p_hpa >= 226.32:
        return 288.15 / 0.0065 * (1.0 - (p_hpa / 1013.25) ** (0.0065 * r / g0))
    return 11000.0 - r * 216.65 / g0 * math.log(p_hpa / 226.32)


def _extreme(prefix: str, row: pd.Series | None, value: str, units: str, why: str = "") -> dict[str, Value]:
    return station_extreme(prefix, row, value, units, tag="level", tag_units="hPa",
                           tag_of=lambda r: float(r["pressure"]), why=why)


def _outs(prefix: str, units: str) -> dict[str, str]:
    return station_extreme_outs(prefix, units, tag="level", tag_units="hPa")


def _levels(df: pd.DataFrame) -> str:
    return ", ".join(f"{p:g}" for p in sorted(set(df["pressure"].dropna()), reverse=True)) or "none"


@tool(category="sounding",
      outputs=windowed({**_outs("min_trough_height", "m"), "trough_height_anomaly": "m",
                        **_outs("max_trough_wind", "m/s"), **_outs("max_jet_wind", "m/s"),
                        "n_stations": "1", "levels": "hPa"}),
      example={"role": "upper_air"}, needs=("upper_air",))
def summarize_upper_air(args: UpperAirInput, ctx: ToolContext) -> ToolOutput:
    """The upper-air station network at the trough level and the jet levels.

    Over the stations inside the window: the lowest geopotential height at ``trough_level``
    (500 hPa by default) with its station, and its difference from the standard
    atmosphere's height of that level (m; negative in a trough); the strongest wind at
    ``trough_level`` (m/s); the strongest wind between ``jet_bottom`` and ``jet_top``
    (300-200 hPa: the jet), with its level. Each extreme names its station, its distance
    and bearing from the place. ``levels`` lists the levels the reports hold; a quantity
    whose level is absent is ``None``, its note saying so.
    """
    if args.jet_top > args.jet_bottom:
        raise ValueError(f"jet_top ({args.jet_top:g} hPa) must be at or above jet_bottom ({args.jet_bottom:g} hPa)")
    ds = ctx.load(args.role)
    win = ctx.window("stations", args)
    df = upper_air_frame(ds, win)
    notes: list[str] = []
    have = _levels(df)
    trough = df[np.isclose(df["pressure"], args.trough_level)]
    jet = df[(df["pressure"] >= args.jet_top - 1e-6) & (df["pressure"] <= args.jet_bottom + 1e-6)]
    th, tw, jw = (trough.dropna(subset=["height"]), trough.dropna(subset=["speed"]), jet.dropna(subset=["speed"]))
    no_level = lambda what: f"no report at {what} (the reports hold {have} hPa)"  # noqa: E731
    row_h = th.loc[th["height"].idxmin()] if not th.empty else None
    row_t = tw.loc[tw["speed"].idxmax()] if not tw.empty else None
    row_j = jw.loc[jw["speed"].idxmax()] if not jw.empty else None
    isa = _standard_height_m(args.trough_level)
    values = {**_extreme("min_trough_height", row_h, "height", "m", no_level(f"{args.trough_level:g} hPa")),
              "trough_height_anomaly": Value(value=None if row_h is None else round(float(row_h["height"]) - isa, 1),
                                             units="m", note=f"against the standard atmosphere's {isa:.0f} m"
                                             if row_h is not None else
                                             f"not computable: {no_level(f'{args.trough_level:g} hPa')}"),
              **_extreme("max_trough_wind", row_t, "speed", "m/s", no_level(f"{args.trough_level:g} hPa")),
              **_extreme("max_jet_wind", row_j, "speed", "m/s",
                         no_level(f"{args.jet_bottom:g}-{args.jet_top:g} hPa")),
              "n_stations": Value(value=int(df["station"].nunique()), units="1"),
              "levels": Value(value=sorted({float(p) for p in df["pressure"].dropna()}, reverse=True), units="hPa")}
    if row_h is None:
        notes.append(f"{args.trough_level:g} hPa heights not computable: {no_level(f'{args.trough_level:g} hPa')}")
    if row_j is None:
        notes.append(f"jet-level winds not computable: {no_level(f'{args.jet_bottom:g}-{args.jet_top:g} hPa')}")
    parts = []
    if row_h is not None:
        parts.append(f"lowest {args.trough_level:g} hPa height {row_h['height']:.0f} m at {row_h['station']} "
                     f"({row_h['distance_km']:.0f} km from the place; {row_h['height'] - isa:+.0f} m against the "
                     "standard atmosphere)")
    if row_t is not None:
        parts.append(f"strongest {args.trough_level:g} hPa wind {row_t['speed']:.0f} m/s at {row_t['station']}")
    if row_j is not None:
        parts.append(f"strongest jet-level wind {row_j['speed']:.0f} m/s at {row_j['pressure']:g} hPa, "
                     f"{row_j['station']} ({row_j['distance_km']:.0f} km from the place)")
    summary = (f"upper air, {values['n_stations'].value} stations {win.area_text()}: "
               + ("; ".join(parts) if parts else f"no report at the trough or jet levels (levels {have} hPa)"))
    table = [{"station": r.station, "pressure_hpa": r.pressure, "height_m": r.height,
              "wind_ms": None if not np.isfinite(r.speed) else round(r.speed, 1),
              "distance_km": round(r.distance_km, 1)}
             for r in df.sort_values(["pressure", "height"]).groupby("pressure").head(5).itertuples()]
    main = row_j if row_j is not None else row_h
    win.at(None if main is None else main["time"], "the reports")
    return win.finish(ToolOutput(values=values, summary=summary, warnings=notes, table=table))
