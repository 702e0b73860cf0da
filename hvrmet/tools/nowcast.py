"""The nowcast tool: where will the echoes be in N minutes?"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import windowed

__all__: list[str] = []


class NowcastInput(WindowInput):
    """A case, its composite-sequence role, the method, the lead time, a threshold and the
    window the answer is read in."""

    role: str = Field("composite_sequence", description="case role of the radar composite sequence")
    method: str = Field("extrapolation", description="nowcasting method: persistence, extrapolation, sprog, pa_net, metok or impa_net")
    lead: float = quantity(30.0, units="minute", description="lead time of the answer", ge=5, le=60)
    threshold: float = quantity(45.0, units="dBZ", description="reflectivity threshold", ge=0, le=70)
    frame: int = quantity(-1, units="1", description="index of the analysis frame in the sequence (-1: the last)", ge=-1000, le=1000)


@tool(category="nowcast", needs=("composite_sequence",), example={"lead": 30, "threshold": 35},
      outputs=windowed({"max_reflectivity_at_lead": "dBZ", "area_over_threshold_at_lead": "km^2",
                        "area_over_threshold_now": "km^2", "centroid_lat_at_lead": "degree_north",
                        "centroid_lon_at_lead": "degree_east", "analysis_time": "", "valid_time": "",
                        "method": ""}))
def run_nowcast(args: NowcastInput, ctx: ToolContext) -> ToolOutput:
    """Nowcast the radar composite and report where the threshold is exceeded at a lead time.

    Converts the sequence to reflectivity (Marshall-Palmer for rain rates), takes the six
    frames up to the analysis frame, runs the named method of :mod:`hvrmet.nowcast` (its
    Lucas-Kanade motion tracked on block means when the grid has over a million pixels,
    as :func:`hvrmet.tools.precipitation.motion_field` does) and
    reports the maximum reflectivity, the area at or above the threshold (km^2) and its
    centroid at the lead time, beside the area now, all inside the window around the case's
    place (kind ``composite``; the forecast itself covers the whole grid, so that echoes
    moving in from outside are there). The input frames pass the composites' quality
    control first (:func:`hvrmet.tools.precipitation.checked_rain_rate`, over the whole
    sequence, shared with the precipitation tools: values no rain can give are missing, and
    the warning says how many).
    """
    from hvrmet.calc.precipitation import MOTION_MAX_PIXELS, qc_note
    from hvrmet.nowcast import get_method
    from hvrmet.nowcast.baselines import motion_field
    from hvrmet.nowcast.dataset import grid_times, resample_5min, to_dbz
    from hvrmet.tools.precipitation import checked_rain_rate

    ds = ctx.load(args.role)
    if "precip" not in ds.data_vars or ds["precip"].ndim != 3:
        to_dbz(ds)  # raises VariableMissing naming the file
    native = ds.time.values.astype("datetime64[ns]")
    step = float(ds.attrs.get("timestep_min", 5.0))
    # the 5-min grid times first (cheap), then only the native frames the six input frames
    # come from are converted to reflectivity (the quality control's rain rates are the
    # whole sequence's, computed once and shared with the precipitation tools)
    times = native if abs(step - 5.0) <= 0.01 else grid_times(native)
    end = len(times) + args.frame + 1 if args.frame < 0 else args.frame + 1
    if end < 6 or end > len(times):
        raise VariableMissing(ds.attrs.get("source_file"), f"analysis frame {args.frame} leaves fewer than 6 frames "
                                                           f"(the sequence has {len(times)} at 5 min)")
    grid = times[end - 6:end]
    lo = int(np.searchsorted(native, grid[0], side="right")) - 1
    hi = int(np.searchsorted(native, grid[-1], side="left"))
    sub = ds.isel(time=slice(lo, hi + 1))
    checked, qc = checked_rain_rate(ctx, args.role)
    frames = to_dbz(sub)
    # the values the quality control set missing are missing in the reflectivity too
    frames = np.where(np.isfinite(checked[lo:hi + 1]), frames, np.float32(np.nan)).astype(np.float32)
    qc_line = qc_note(qc)
    if not np.array_equal(sub.time.values.astype("datetime64[ns]"), grid):
        frames = resample_5min(frames, sub.time.values, grid=grid)[0]
    now_dbz = frames[-1]
    steps = int(round(args.lead / 5.0))
    # one motion field for the method, tracked on block means on a grid of over a million
    # pixels (a continental composite: pysteps' IDW costs pixels times vectors)
    velocity = motion_field(frames, max_pixels=MOTION_MAX_PIXELS) if args.method != "persistence" else None
    fc = get_method(args.method)(frames, steps, velocity=velocity)
    field = fc[steps - 1]
    px = float(ds.attrs.get("xpixelsize", 1.0)) * float(ds.attrs.get("ypixelsize", 1.0))
    unit = ds.attrs.get("cartesian_unit", "m")
    px_km2 = px / 1e6 if unit == "m" else px if unit == "km" else None
    lat, lon = ds.lat.values, ds.lon.values
    if px_km2 is None:  # lat/lon grid
        cell = (111.195 ** 2) * float(ds.attrs["xpixelsize"]) * float(ds.attrs["ypixelsize"]) * np.cos(np.deg2rad(lat))
    else:
        cell = np.full(lat.shape, px_km2)
    win = ctx.window("composite", args)
    win.at(times[end - 1], "the analysis frame")
    inside = win.mask(lat, lon)
    field = np.where(inside, field, np.nan)
    over = field >= args.threshold
    now = (now_dbz >= args.threshold) & inside
    area = float(cell[over].sum())
    out = {
        "max_reflectivity_at_lead": Value(value=round(float(np.nanmax(field)), 1) if np.isfinite(field).any() else None, units="dBZ"),
        "area_over_threshold_at_lead": Value(value=round(area, 1), units="km^2"),
        "area_over_threshold_now": Value(value=round(float(cell[now].sum()), 1), units="km^2"),
        "centroid_lat_at_lead": Value(value=round(float(lat[over].mean()), 3) if over.any() else None, units="degree_north"),
        "centroid_lon_at_lead": Value(value=round(float(lon[over].mean()), 3) if over.any() else None, units="degree_east"),
        "analysis_time": Value(value=str(times[end - 1])[:16] + "Z", units=""),
        "valid_time": Value(value=str(times[end - 1] + np.timedelta64(int(args.lead), "m"))[:16] + "Z", units=""),
        "method": Value(value=args.method, units=""),
    }
    return win.finish(ToolOutput(values=out, warnings=[qc_line] if qc_line else [], summary=(
        f"{args.method}: {area:.0f} km2 at or above {args.threshold:.0f} dBZ in {args.lead:.0f} min "
        f"(now {out['area_over_threshold_now'].value:.0f} km2) {win.area_text()}")))
