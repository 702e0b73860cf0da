"""Cyclone deepening: the Sanders-Gyakum 'bomb' criterion from a sequence of analyses."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import windowed

__all__ = ["bergeron"]


def bergeron(deepening_hpa_per_24h: float, lat: float) -> float:
    """Deepening in Bergerons: 24 hPa/24 h at 60 degrees, scaled by sin(lat)/sin(60)
    (Sanders and Gyakum 1980, Mon. Wea. Rev. 108, 1589-1606)."""
    return deepening_hpa_per_24h / (24.0 * abs(np.sin(np.deg2rad(lat))) / np.sin(np.deg2rad(60.0)))


class DeepeningInput(WindowInput):
    """A case, the role of its analyses (or hourly stations) and the window searched."""

    role: str = Field("analysis", description="case role of gridded analyses (two or more times) or of hourly surface observations")
    radius: float = quantity(1500.0, units="km", description="search radius around the case location for the pressure minimum", ge=50, le=10000)


def _from_stations(ds, win) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly minimum station MSLP (hPa) inside the window, with its time and latitude: the
    stations within its radius, the reports inside its time window (every report when none
    is: the window is then flagged, see :meth:`hvrmet.tools.window.Window.select_times`)."""
    import pandas as pd

    near = win.mask(ds.lat.values, ds.lon.values)
    df = pd.DataFrame({"t": pd.to_datetime(ds.time.values).floor("h"), "p": ds.air_pressure_at_sea_level.values,
                       "lat": ds.lat.values})[near].dropna()
    if len(df):
        keep, note = win.select_times(df["t"].to_numpy(), what="station reports")
        if note:
            win.warnings.append(note)
        df = df[keep]
    idx = df.groupby("t")["p"].idxmin()
    rows = df.loc[idx].sort_values("t")
    return rows["t"].to_numpy("datetime64[ns]"), rows["p"].to_numpy(float), rows["lat"].to_numpy(float)


@tool(category="gridded", needs=("analysis", "surface_obs"), example={"role": "surface_obs"},
      outputs=windowed({"deepening_rate": "hPa/day", "bergerons": "1", "first_min_pressure": "hPa",
                        "last_min_pressure": "hPa", "hours": "hour", "center_lat": "degree_north"}))
def compute_deepening_rate(args: DeepeningInput, ctx: ToolContext) -> ToolOutput:
    """Central-pressure deepening rate and its Sanders-Gyakum normalisation (Bergerons).

    Needs MSLP at two or more analysis times (or hourly station MSLP, whose lowest value
    each hour stands in for the central pressure): the minimum sea-level pressure at the first
    and last time gives the rate, scaled to 24 h; one Bergeron (24 hPa/24 h at 60 deg,
    scaled by sin(latitude)/sin(60 deg)) or more is explosive cyclogenesis. With a single
    analysis time the rate cannot be measured and the tool says so. The window's time limits
    (``stations`` or ``gridded`` kind) select the station reports; the result records the
    last time used, flagged when it lies outside the window.
    """
    ds = ctx.load(args.role)
    if "obs" in ds.dims:
        if "air_pressure_at_sea_level" not in ds:
            raise VariableMissing(ds.attrs.get("source_file"), "the observations carry no sea-level pressure")
        win = ctx.window("stations", args)
        t, pmin, lats = _from_stations(ds, win)
        if len(t) < 2:
            raise VariableMissing(ds.attrs.get("source_file"), "a single observation time: no deepening rate")
        hours = float((t[-1] - t[0]) / np.timedelta64(1, "h"))
        rate = (pmin[0] - pmin[-1]) * 24.0 / hours
        b = bergeron(rate, lats[-1])
        win.at(t[-1], "the station reports")
        return win.finish(ToolOutput(values={
            "deepening_rate": Value(value=round(rate, 2), units="hPa/day"),
            "bergerons": Value(value=round(b, 3), units="1"),
            "first_min_pressure": Value(value=round(pmin[0], 1), units="hPa"),
            "last_min_pressure": Value(value=round(pmin[-1], 1), units="hPa"),
            "hours": Value(value=hours, units="hour"), "center_lat": Value(value=round(lats[-1], 2), units="degree_north")},
            warnings=["the lowest station pressure each hour stands in for the central pressure "
                      "(a station network undersamples the centre)"],
            summary=f"lowest station MSLP fell from {pmin[0]:.1f} to {pmin[-1]:.1f} hPa in {hours:.0f} h "
                    f"({rate:.1f} hPa/24 h, {b:.2f} Bergeron)"))
    from hvrmet.data.fields import fields_of

    p = fields_of(ds).get("mslp")  # any naming (the field resolver); VariableMissing says what the file holds
    tdim = next((d for d in p.dims if d.startswith("time")), None)
    if tdim is None or p.sizes[tdim] < 2:
        raise VariableMissing(ds.attrs.get("source_file"),
                              "a single analysis time: the deepening rate cannot be measured")
    latn = next(d for d in p.dims if "lat" in d)
    lonn = next(d for d in p.dims if "lon" in d)
    lon2d, lat2d = np.meshgrid(((p[lonn].values + 180) % 360) - 180, p[latn].values)
    win = ctx.window("gridded", args)
    p = p.where(win.mask(lat2d, lon2d))
    first, last = p.isel({tdim: 0}), p.isel({tdim: -1})
    hours = float((p[tdim].values[-1] - p[tdim].values[0]) / np.timedelta64(1, "h"))
    scale = 0.01 if p.attrs.get("units") in ("Pa", "pascal") else 1.0
    i = np.unravel_index(int(np.nanargmin(last.values)), last.shape)
    lat = float(last[last.dims[0]].values[i[0]])
    rate = (float(np.nanmin(first.values)) - float(np.nanmin(last.values))) * scale * 24.0 / hours
    b = bergeron(rate, lat)
    win.at(p[tdim].values[-1], "the analyses")
    return win.finish(ToolOutput(values={
        "deepening_rate": Value(value=round(rate, 2), units="hPa/day"),
        "bergerons": Value(value=round(b, 3), units="1"),
        "first_min_pressure": Value(value=round(float(np.nanmin(first.values)) * scale, 1), units="hPa"),
        "last_min_pressure": Value(value=round(float(np.nanmin(last.values)) * scale, 1), units="hPa"),
        "hours": Value(value=hours, units="hour"), "center_lat": Value(value=lat, units="degree_north")},
        summary=f"central pressure fell {rate:.1f} hPa/24 h ({b:.2f} Bergeron) over {hours:.0f} h"))
