"""Precipitation-composite tools: rain rates, accumulations, rain areas, motion, heavy-rain grades.

Every tool reads a decoded radar composite sequence (role ``composite_sequence``: ``precip``
on ``(time, y, x)``) and converts it once to rain rate in mm/h with
:func:`hvrmet.calc.precipitation.to_rain_rate` (pysteps' unit conversion; reflectivity with
the Marshall-Palmer Z-R relation). Accumulations integrate the rain rate over the minutes
each frame stands for; areas use the pixel area in km2 (cos(lat) on latitude-longitude
grids). Statistics use only pixels inside the radar coverage (finite values).

Every tool searches a window (:mod:`hvrmet.tools.window`, kind ``composite``): the pixels
within the radius of the case's place (250 km by default; a case whose place is a
region, e.g. a whole composite, gives its own radius) and the frames within the time
window of the case's time (12 h either side). Pixels outside the circle count as outside
the radar coverage; frames outside the time window are left out while any frame lies
inside (when none does, all are used, flagged, and weigh less). Each maximum is
reported with its distance and bearing from the place.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from pydantic import Field

from hvrmet.tools.context import ToolContext
from hvrmet.errors import VariableMissing
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.calc.precipitation import (KM_PER_DEGREE, QC_PREFIX, MOTION_MAX_PIXELS, WET_MM_H, block_reflectivity,
                                       convective_stratiform,
                                       frame_minutes, iso, loc, lucas_kanade, peak_area_km2, pixel_area_km2,
                                       pixel_size_km, qc_note, quality_control, rain_rate_to_dbz, rolling_accumulation,
                                       to_rain_rate, value_duration_min, window_frames)
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import Window, place_units, windowed

__all__: list[str] = []

MM_PER_INCH = 25.4
NEEDS = ("composite_sequence",)


class SequenceInput(WindowInput):
    """A case, the role of its radar composite sequence and the window searched in it."""

    role: str = Field("composite_sequence", description="case role of the radar composite sequence")


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _load(args: SequenceInput, ctx: ToolContext, *, mask_area: bool = True
          ) -> tuple[xr.Dataset, np.ndarray, np.ndarray, list[str], Window]:
    """The sequence inside the window: the dataset and its frames' minutes limited to the
    frames in the time window, the rain rates (mm/h) with the pixels outside the circle set
    to NaN (unless ``mask_area`` is false: the motion tracks the whole field), the notes
    and the window. The rates are :func:`checked_rain_rate`'s (values above the
    world-record envelope and isolated single-pixel spikes set missing, over the whole
    sequence); what the quality control removed is the first note."""
    ds = ctx.load(args.role)
    all_rate, qc = checked_rain_rate(ctx, args.role)
    win = ctx.window("composite", args)
    minutes, notes = frame_minutes(ds)
    keep, note = win.select_times(ds["time"].values, "frames")
    if note:
        notes.append(note)
    if not keep.all():
        ds, minutes = ds.isel(time=np.flatnonzero(keep)), minutes[keep]
    rate = all_rate[np.flatnonzero(keep)]  # a copy: the cached rates stay as they are
    qc_line = qc_note(qc)
    if qc_line:
        notes.insert(0, qc_line)
    inside = win.mask(ds["lat"].values, ds["lon"].values)
    if not (inside & np.isfinite(rate).any(axis=0)).any():
        raise VariableMissing(ds.attrs.get("source_file") or args.role,
                              f"no pixel of the composite inside the radar coverage lies {win.area_text()}")
    if mask_area and not inside.all():
        rate = np.where(inside, rate, np.float32(np.nan))
    win.at(ds["time"].values[-1], "the composite's last frame")
    return ds, rate, minutes, notes, win


def checked_rain_rate(ctx: ToolContext, role: str) -> tuple[np.ndarray, dict]:
    """The rain rates (mm/h) of every frame of the composite sequence of ``role`` after
    :func:`~hvrmet.calc.precipitation.quality_control` over the whole sequence and grid,
    and its report: computed once per process for the same files
    (:meth:`~hvrmet.tools.context.ToolContext.derived`) and shared by every composite tool
    and the nowcast, so that they all see the same checked values. The array is
    read-only."""
    return ctx.derived(role, "quality_controlled_rain_rate",
                       lambda ds: quality_control(to_rain_rate(ds).values, value_duration_min(ds)))


def _away(vals: dict[str, Value], prefix: str) -> str:
    """'D km at B deg from the place' for a maximum's ``prefix_distance``/``prefix_bearing``."""
    d, b = vals[f"{prefix}_distance"].value, vals[f"{prefix}_bearing"].value
    return "no position" if d is None else f"{d:g} km at {b:g} deg from the place"


def _argmax2d(field: np.ndarray) -> tuple[int, int]:
    return tuple(int(i) for i in np.unravel_index(np.nanargmax(field), field.shape))  # type: ignore[return-value]


#: Below this half-peak area (km2) an accumulation maximum is flagged as a possible fixed echo.
ISOLATED_KM2 = 10.0


def _isolated(ds: xr.Dataset, field: np.ndarray, idx: tuple[int, int], what: str) -> list[str]:
    if not np.isfinite(field[idx]) or field[idx] <= 0:
        return []
    a = peak_area_km2(field, idx, pixel_area_km2(ds))
    if a >= ISOLATED_KM2:
        return []
    return [f"the {what} maximum is isolated (only {a:.0f} km2 reach half of it): possibly ground clutter "
            "or another fixed echo; check the neighbouring values"]


# ---------------------------------------------------------------------------------------
class RateStatsInput(SequenceInput):
    """A composite sequence, and the frame (or the whole sequence) to describe."""

    frame: int = quantity(-1, units="1", ge=-100000, le=100000,
                          description="frame index among the frames inside the time window (0 = first; negative counts from the end, -1 = latest)")
    whole_sequence: bool = Field(False, description="pool every frame of the sequence instead of one frame")


@tool(category="precipitation", needs=NEEDS, example={},
      outputs=windowed({"max_rain_rate": "mm/h", "max_lat": "degree_north", "max_lon": "degree_east",
                        **place_units("max"), "max_time": "", "mean_wet_rain_rate": "mm/h", "wet_fraction": "1",
                        "p99_wet_rain_rate": "mm/h", "n_frames": "1"}))
def compute_rain_rate_stats(args: RateStatsInput, ctx: ToolContext) -> ToolOutput:
    """Rain-rate statistics (mm/h) of one frame, or of the whole sequence, of a radar composite.

    The maximum rain rate and where and when it occurs, the mean rate over wet pixels
    (> 0.1 mm/h), the wet fraction of the radar coverage and the 99th percentile of the wet
    pixels' rates, inside the window (the maximum with its distance and bearing from the
    place). Rates come from :func:`~hvrmet.calc.precipitation.to_rain_rate`
    (accumulations divided by their duration; reflectivity by Marshall-Palmer).
    """
    ds, rate, _, notes, win = _load(args, ctx)
    n = rate.shape[0]
    if args.whole_sequence:
        sel = np.arange(n)
    else:
        if not -n <= args.frame < n:
            raise ValueError(f"frame {args.frame} is outside the sequence of {n} frames")
        sel = np.array([args.frame % n])
    sub = rate[sel[0]:sel[-1] + 1]
    finite = np.isfinite(sub)
    wet = sub[finite & (sub > WET_MM_H)]
    t, r, c = np.unravel_index(np.nanargmax(sub), sub.shape)
    lat, lon = loc(ds, (int(r), int(c)))
    when = iso(ds["time"].values[sel[t]])
    vals = {"max_rain_rate": Value(value=_r(sub[t, r, c], 2), units="mm/h"),
            "max_lat": Value(value=lat, units="degree_north"), "max_lon": Value(value=lon, units="degree_east"),
            **win.from_place("max", lat, lon), "max_time": Value(value=when),
            "mean_wet_rain_rate": Value(value=_r(wet.mean(), 3) if wet.size else 0.0, units="mm/h"),
            "wet_fraction": Value(value=_r(wet.size / max(int(finite.sum()), 1), 5), units="1"),
            "p99_wet_rain_rate": Value(value=_r(np.percentile(wet, 99), 2) if wet.size else 0.0, units="mm/h"),
            "n_frames": Value(value=int(len(sel)), units="1")}
    scope = f"{len(sel)} frames to {iso(ds['time'].values[sel[-1]])}" if args.whole_sequence else when
    summary = (f"{scope}, {win.area_text()}: max {vals['max_rain_rate'].value} mm/h at {lat}N {lon}E "
               f"({_away(vals, 'max')}, {when}); "
               f"wet (>{WET_MM_H} mm/h) {100 * vals['wet_fraction'].value:.1f}% of coverage, "
               f"mean wet {vals['mean_wet_rain_rate'].value} mm/h, p99 {vals['p99_wet_rain_rate'].value} mm/h")
    if not args.whole_sequence:  # the data time is the frame's (_load took the last frame's)
        win.at(ds["time"].values[sel[0]], "the composite frame")
    return win.finish(ToolOutput(values=vals, summary=summary,
                                 warnings=notes if args.whole_sequence else [n for n in notes if n.startswith(QC_PREFIX)]))


# ---------------------------------------------------------------------------------------
class AccumulationInput(SequenceInput):
    """A composite sequence and the accumulation window."""

    minutes: float = quantity(0.0, units="min", ge=0, le=100000,
                              description="accumulate over the last N minutes of the sequence; 0 = the whole sequence")


@tool(category="precipitation", needs=NEEDS, example={},
      outputs=windowed({"max_accumulation": "mm", "max_lat": "degree_north", "max_lon": "degree_east",
                        **place_units("max"), "mean_accumulation": "mm", "window_minutes": "min",
                        "window_start": "", "window_end": ""}))
def compute_accumulation(args: AccumulationInput, ctx: ToolContext) -> ToolOutput:
    """Precipitation accumulated over the sequence or its last N minutes (mm): maximum, where, domain mean.

    Each frame's rain rate (mm/h) is integrated over the minutes the frame stands for (its
    accumulation time, or the time step for rain-rate and reflectivity frames) and summed.
    The window starts at the beginning of its first frame's interval. The mean is over the
    pixels covered by the radar in every frame of the window, inside the search window's
    circle; the maximum comes with its distance and bearing from the place.
    """
    ds, rate, minutes, notes, win = _load(args, ctx)
    n = rate.shape[0]
    k = n if args.minutes == 0 else window_frames(args.minutes, float(minutes[0]))
    if k > n:
        notes.append(f"the sequence covers only {minutes.sum():.0f} min, less than the {args.minutes:.0f} min "
                     "asked: accumulated over the whole sequence")
        k = n
    acc = rate[-k:].sum(axis=0, dtype=np.float64) * (float(minutes[0]) / 60.0)  # NaN if any frame missing
    r, c = _argmax2d(acc)
    lat, lon = loc(ds, (r, c))
    notes += _isolated(ds, acc, (r, c), "accumulation")
    span = float(minutes[-k:].sum())
    start = ds["time"].values[-k] - np.timedelta64(int(round(minutes[-k] * 60)), "s")
    vals = {"max_accumulation": Value(value=_r(acc[r, c], 2), units="mm"),
            "max_lat": Value(value=lat, units="degree_north"), "max_lon": Value(value=lon, units="degree_east"),
            **win.from_place("max", lat, lon),
            "mean_accumulation": Value(value=_r(np.nanmean(acc), 3), units="mm"),
            "window_minutes": Value(value=_r(span, 1), units="min"),
            "window_start": Value(value=iso(start)), "window_end": Value(value=iso(ds["time"].values[-1]))}
    summary = (f"{span:.0f} min to {vals['window_end'].value}, {win.area_text()}: max "
               f"{vals['max_accumulation'].value} mm at {lat}N {lon}E ({_away(vals, 'max')}), mean "
               f"{vals['mean_accumulation'].value} mm")
    return win.finish(ToolOutput(values=vals, summary=summary, warnings=notes))


# ---------------------------------------------------------------------------------------
class ThresholdInput(SequenceInput):
    """A composite sequence and a rain-rate threshold."""

    threshold: float = quantity(10.0, units="mm/h", ge=0, le=1000, description="rain-rate threshold")


@tool(category="precipitation", needs=NEEDS, example={"threshold": 10},
      outputs=windowed({"max_area": "km^2", "max_area_fraction": "1", "max_area_time": "", "max_area_frame": "1",
                        "coverage_area": "km^2"}))
def compute_area_over_threshold(args: ThresholdInput, ctx: ToolContext) -> ToolOutput:
    """Largest area (km2) with rain rate at or above a threshold, its fraction of the coverage and its time.

    For every frame the area of the pixels with rate >= threshold (mm/h) is summed (pixel
    areas in km2, cos(lat)-weighted on latitude-longitude grids); the frame with the largest
    area is reported, with that area's fraction of the frame's radar coverage (both inside
    the search window's circle; the frame index counts the frames inside its time window).
    """
    ds, rate, _, notes, win = _load(args, ctx)
    area = pixel_area_km2(ds)
    areas = np.array([area[np.nan_to_num(f, nan=-1.0) >= args.threshold].sum() for f in rate])
    cover = np.array([area[np.isfinite(f)].sum() for f in rate])
    t = int(np.argmax(areas))
    vals = {"max_area": Value(value=_r(areas[t], 1), units="km^2"),
            "max_area_fraction": Value(value=_r(areas[t] / cover[t], 5), units="1"),
            "max_area_time": Value(value=iso(ds["time"].values[t])),
            "max_area_frame": Value(value=t, units="1"),
            "coverage_area": Value(value=_r(cover[t], 0), units="km^2")}
    summary = (f"largest area >= {args.threshold:g} mm/h {win.area_text()}: {vals['max_area'].value} km2 "
               f"({100 * vals['max_area_fraction'].value:.2f}% of coverage) at {vals['max_area_time'].value}")
    warn = [n for n in notes if "time window" in n]
    if areas[t] <= 0:
        warn.append(f"no pixel reaches {args.threshold:g} mm/h in the sequence")
    return win.finish(ToolOutput(values=vals, summary=summary, warnings=warn))


# ---------------------------------------------------------------------------------------
class ConvectiveStratiformInput(SequenceInput):
    """A composite sequence, the grid the separation runs on and how many frames it samples."""

    grid: float = quantity(2.0, units="km", description="pixels finer than this are averaged (linear Z) into "
                           "blocks about this size first: the paper's 2 km grid", ge=0.1, le=20.0)
    max_frames: int = quantity(6, units="1", description="frames classified, evenly spaced through the time "
                               "window (its last frame included)", ge=1, le=1000)


@tool(category="precipitation", needs=NEEDS, example={},
      outputs=windowed({"convective_area_fraction": "1", "convective_rain_fraction": "1",
                        "max_convective_area": "km^2", "max_convective_area_time": "", "mean_echo_area": "km^2",
                        "pixel_size": "km", "n_frames": "1"}))
def classify_convective_stratiform(args: ConvectiveStratiformInput, ctx: ToolContext) -> ToolOutput:
    """Convective and stratiform rain in the sequence (Steiner, Houze and Yuter 1995): their shares of area and rain.

    Each frame's rain rate becomes reflectivity by Marshall-Palmer (Z = 200 R^1.6, as the
    composites' reflectivity became rain rate; wet pixels only) and is separated by
    :func:`hvrmet.calc.precipitation.convective_stratiform`: convective where it reaches
    40 dBZ or stands above its 11 km background by the paper's peakedness, with the
    convective radius round each centre; stratiform elsewhere. Pooled over the frames in
    the time window, inside the window's circle: ``convective_area_fraction`` is the
    convective share of the echo area and ``convective_rain_fraction`` its share of the
    rain (rate times area). Widespread rain with a small convective share is stratiform
    (frontal, warm-conveyor) rain; convective systems put most of their rain in the
    convective class (about 60 % at Darwin in the paper). The paper's grids were 2 km at
    3 km height: pixels finer than ``grid`` are averaged (linear Z) into blocks of about
    that size first, and a block's class goes to its wet pixels; on coarser pixels and at
    a composite's lower level the split is an approximation, and a rain-rate composite
    carries the Z-R error. At most ``max_frames`` frames, evenly spaced, are classified.
    """
    ds, rate, _, notes, win = _load(args, ctx)
    cover = np.isfinite(rate).any(axis=0)
    rows, cols = np.flatnonzero(cover.any(axis=1)), np.flatnonzero(cover.any(axis=0))
    ys, xs = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    dx, dy = pixel_size_km(ds, ys, xs)
    f = max(1, int(round(args.grid / max(dx, dy))))
    area = pixel_area_km2(ds)[ys, xs]
    frames = np.unique(np.linspace(rate.shape[0] - 1, 0, min(args.max_frames, rate.shape[0])).round().astype(int))
    echo_area, rain, conv_rain, per_frame = 0.0, 0.0, 0.0, []  # per_frame: each frame's convective area
    for t in frames:
        r = rate[t, ys, xs]
        dbz = rain_rate_to_dbz(r)
        classes, _ = convective_stratiform(block_reflectivity(dbz, f), dx * f, dy * f)
        wet = np.isfinite(dbz)
        conv = wet & np.repeat(np.repeat(classes == 2, f, axis=0), f, axis=1)[:r.shape[0], :r.shape[1]]
        echo_area += float(area[wet].sum())
        per_frame.append(float(area[conv].sum()))
        rain += float((r[wet] * area[wet]).sum())
        conv_rain += float((r[conv] * area[conv]).sum())
    n = len(frames)
    conv_area = sum(per_frame)
    k = int(np.argmax(per_frame))
    none = echo_area <= 0
    vals = {"convective_area_fraction": Value(value=None if none else _r(conv_area / echo_area, 4), units="1",
                                              note="of the echo area (rain above 0.1 mm/h), all frames pooled"),
            "convective_rain_fraction": Value(value=None if none else _r(conv_rain / rain, 4), units="1",
                                              note="of the rain (rate times area), all frames pooled"),
            "max_convective_area": Value(value=_r(per_frame[k], 1), units="km^2"),
            "max_convective_area_time": Value(value=iso(ds["time"].values[frames[k]])),
            "mean_echo_area": Value(value=_r(echo_area / n, 1), units="km^2"),
            "pixel_size": Value(value=_r(max(dx, dy) * f, 3), units="km",
                                note=f"the grid classified ({f} x {f} composite pixels); the paper's was 2 km"),
            "n_frames": Value(value=n, units="1")}
    if none:
        summary = f"no rain above {WET_MM_H:g} mm/h in {n} frame(s) classified {win.area_text()}: nothing to separate"
        notes.append("no echo to classify: the shares are not computable")
    else:
        summary = (f"{n} frame(s) {win.area_text()}: convective {100 * conv_area / echo_area:.1f}% of the echo area "
                   f"and {100 * conv_rain / rain:.1f}% of the rain (Steiner et al. 1995 on {max(dx, dy) * f:.2g} km "
                   f"pixels, {n} of {rate.shape[0]} frames); mean echo area {echo_area / n:.0f} km2, the most convective area "
                   f"{per_frame[k]:.0f} km2 at {vals['max_convective_area_time'].value}")
    return win.finish(ToolOutput(values=vals, summary=summary, warnings=notes))


# ---------------------------------------------------------------------------------------
class MotionInput(SequenceInput):
    """A composite sequence and how many of its last frames to track."""

    n_frames: int = quantity(3, units="1", ge=2, le=24, description="number of last frames used by the optical flow")


def _east_north_per_pixel(ds: xr.Dataset) -> tuple[np.ndarray, ...]:
    """Eastward and northward km per one-pixel step along columns and rows (from lat/lon)."""
    lat = np.asarray(ds["lat"].values, dtype=np.float64)
    lon = np.asarray(ds["lon"].values, dtype=np.float64)
    dlat_r, dlat_c = np.gradient(lat)
    dlon_r, dlon_c = np.gradient(lon)
    coslat = np.cos(np.deg2rad(lat))
    return (dlon_c * coslat * KM_PER_DEGREE, dlat_c * KM_PER_DEGREE,
            dlon_r * coslat * KM_PER_DEGREE, dlat_r * KM_PER_DEGREE)


def motion_field(rate: np.ndarray, max_pixels: int = MOTION_MAX_PIXELS) -> np.ndarray:
    """pysteps Lucas-Kanade motion (pixels per time step, shape (2, y, x)) of rain-rate frames.

    As in pysteps' optical-flow example: rain rate to dB (threshold 0.1 mm/h, zero value
    -15 dBR), missing values set to the zero value, then ``pysteps.motion.get_method("LK")``
    through :func:`hvrmet.calc.precipitation.lucas_kanade`: a frame of more than
    ``max_pixels`` pixels (a continental composite) is tracked on block means (11 s of a
    40 s diagnosis of four OPERA frames of 1900 x 2200 pixels before this).
    """
    import hvrmet._pysteps  # noqa: F401  (imports pysteps quietly)
    from pysteps.utils.transformation import dB_transform

    db, meta = dB_transform(rate.astype(np.float64), {"transform": None}, threshold=WET_MM_H, zerovalue=-15.0)
    db[~np.isfinite(db)] = meta["zerovalue"]
    return lucas_kanade(db, max_pixels, meta["zerovalue"])


@tool(category="precipitation", needs=NEEDS, example={},
      outputs=windowed({"motion_speed": "km/h", "motion_direction": "degree", "motion_u_east": "km/h",
                        "motion_v_north": "km/h", "max_motion_speed": "km/h", "valid_fraction": "1",
                        "end_time": ""}))
def compute_motion_field(args: MotionInput, ctx: ToolContext) -> ToolOutput:
    """Motion of the precipitation (km/h, direction it comes from) by Lucas-Kanade optical flow.

    pysteps' dense Lucas-Kanade optical flow (``pysteps.motion.get_method("LK")``; Pulkkinen
    et al. 2019, Geosci. Model Dev. 12, 4185-4219, pysteps: an open-source Python library
    for probabilistic precipitation nowcasting) on the last ``n_frames`` frames in
    dB-transformed rain rate, as pysteps recommends. The pixel displacements are turned into
    eastward and northward km per hour with each pixel's latitude and longitude (so grid
    rotation and lat/lon grids are handled). Reported: the mean motion vector over the wet
    pixels (> 0.1 mm/h) of the last frame inside the search window's circle (the flow is
    computed on the whole field, so that the circle's edge is no edge of the rain), its
    speed and meteorological direction (where it comes from), the largest speed over those
    pixels, and the fraction of the circle with a valid (finite, inside radar coverage)
    motion vector. A frame of more than a million pixels is tracked on block means
    (:func:`motion_field`).
    """
    ds, rate, minutes, notes, win = _load(args, ctx, mask_area=False)
    inside = win.mask(ds["lat"].values, ds["lon"].values)
    n = rate.shape[0]
    k = min(args.n_frames, n)
    if k < 2:
        raise ValueError("the sequence has fewer than 2 frames: no motion can be estimated")
    times = ds["time"].values[-k:].astype("datetime64[s]")
    step_min = float(np.median(np.diff(times).astype(float))) / 60.0
    if np.ptp(np.diff(times).astype(float)) > 0:
        notes.append("frames are not evenly spaced: the motion uses their median spacing")
    uv = motion_field(rate[-k:])
    ec, nc, er, nr = _east_north_per_pixel(ds)
    per_h = 60.0 / step_min
    u_e = (uv[0] * ec + uv[1] * er) * per_h
    v_n = (uv[0] * nc + uv[1] * nr) * per_h
    covered = np.isfinite(rate[-k:]).all(axis=0)
    valid = covered & np.isfinite(u_e) & np.isfinite(v_n) & (np.hypot(uv[0], uv[1]) > 0)
    wet = valid & inside & (np.nan_to_num(rate[-1]) > WET_MM_H)
    vals: dict[str, Value] = {"valid_fraction": Value(value=_r(valid[inside].mean(), 4), units="1"),
                              "end_time": Value(value=iso(ds["time"].values[-1]))}
    if not wet.any():
        notes.append(f"no wet pixel with a valid motion vector in the last frame {win.area_text()}: "
                     "motion undefined")
        for key, u in (("motion_speed", "km/h"), ("motion_direction", "degree"), ("motion_u_east", "km/h"),
                       ("motion_v_north", "km/h"), ("max_motion_speed", "km/h")):
            vals[key] = Value(value=None, units=u)
        return win.finish(ToolOutput(values=vals, summary=f"no motion detected {win.area_text()}", warnings=notes))
    mu, mv = float(u_e[wet].mean()), float(v_n[wet].mean())
    direction = float(np.degrees(np.arctan2(-mu, -mv)) % 360.0)
    vals.update({"motion_speed": Value(value=_r(np.hypot(mu, mv), 2), units="km/h"),
                 "motion_direction": Value(value=_r(direction, 1), units="degree"),
                 "motion_u_east": Value(value=_r(mu, 2), units="km/h"),
                 "motion_v_north": Value(value=_r(mv, 2), units="km/h"),
                 "max_motion_speed": Value(value=_r(np.hypot(u_e, v_n)[wet].max(), 2), units="km/h")})
    summary = (f"{k} frames to {vals['end_time'].value}, {win.area_text()}: rain moves at "
               f"{vals['motion_speed'].value} km/h from {vals['motion_direction'].value} deg "
               f"(max {vals['max_motion_speed'].value} km/h)")
    return win.finish(ToolOutput(values=vals, summary=summary, warnings=notes))


# ---------------------------------------------------------------------------------------
#: GB/T 28592-2012 "Grade of precipitation" (CMA; rainfall, 12 h and 24 h, lower bounds in mm).
GB_T_28592 = {
    12: [(0.1, "light rain"), (5.0, "moderate rain"), (15.0, "heavy rain"), (30.0, "rainstorm"),
         (70.0, "heavy rainstorm"), (140.0, "severe rainstorm")],
    24: [(0.1, "light rain"), (10.0, "moderate rain"), (25.0, "heavy rain"), (50.0, "rainstorm"),
         (100.0, "heavy rainstorm"), (250.0, "severe rainstorm")],
}
#: CMA rainstorm warning signals (Measures for the release and dissemination of meteorological
#: disaster warning signals, CMA Decree No. 16, 2007): (window h, mm, signal).
CMA_SIGNALS = [(3, 100.0, "red"), (3, 50.0, "orange"), (6, 50.0, "yellow"), (12, 50.0, "blue")]
#: CMA operational short-duration heavy precipitation: >= 20 mm in 1 h.
CMA_SHORT_DURATION_MM = 20.0


def cma_grade(hours: int, mm: float) -> str:
    """CMA label of the largest ``hours``-hour accumulation ``mm`` (see the tool's docstring)."""
    if hours in GB_T_28592:
        label = "trace or none"
        for lower, name in GB_T_28592[hours]:
            if mm >= lower:
                label = name
        label = f"{hours} h {mm:.1f} mm: {label} (GB/T 28592-2012)"
    elif hours == 1:
        label = (f"1 h {mm:.1f} mm: " + ("short-duration heavy precipitation (>= 20 mm/1 h)"
                                         if mm >= CMA_SHORT_DURATION_MM else "below short-duration heavy "
                                         "precipitation (< 20 mm/1 h)"))
    else:
        label = f"{hours} h {mm:.1f} mm"
    signals = [s for h, thr, s in CMA_SIGNALS if h == hours and mm >= thr]
    if signals:
        label += f"; rainstorm {signals[0]} signal criterion met"
    elif any(h == hours for h, _, _ in CMA_SIGNALS):
        lowest = min(thr for h, thr, _ in CMA_SIGNALS if h == hours)
        label += f"; below the rainstorm-signal criterion ({lowest:g} mm/{hours} h)"
    return label


class HeavyRainInput(SequenceInput):
    """A composite sequence and the flash-flood reference values."""

    ffg_1h: float = quantity(1.5 * MM_PER_INCH, units="mm", ge=1, le=500,
                             description="1-h flash flood guidance (rain that floods small streams in 1 h)")
    ffg_3h: float = quantity(2.5 * MM_PER_INCH, units="mm", ge=1, le=1000, description="3-h flash flood guidance")
    ffg_6h: float = quantity(3.0 * MM_PER_INCH, units="mm", ge=1, le=1000, description="6-h flash flood guidance")
    rate_threshold: float = quantity(MM_PER_INCH, units="mm/h", ge=1, le=500,
                                     description="rain rate that signals flash-flood potential (1 in/h)")


def _reached(reached: list[int], windows: list[int], best: dict, uncovered_note, what: str) -> Value:
    """Whether a criterion judged on several accumulation windows was reached: true when a
    covered window reached it; false only when the sequence covers every window of the
    criterion (a 6 h sequence cannot show that no 12 h total reached 50 mm); otherwise not
    computable, with what the covered windows showed and the first window not covered."""
    if reached:
        return Value(value=True)
    missing = [h for h in windows if h not in best]
    if not missing:
        return Value(value=False)
    seen = [h for h in windows if h in best]
    shown = f"not reached in the covered {', '.join(f'{h} h' for h in seen)} window(s); " if seen else ""
    return Value(value=None, note=shown + uncovered_note(missing[0], f"the {what}"))


@tool(category="precipitation", needs=NEEDS, example={},
      outputs=windowed({"cma_grade": "", "cma_window": "h", "max_accumulation_1h": "mm",
                        "max_1h_lat": "degree_north", "max_1h_lon": "degree_east", **place_units("max_1h"),
                        "max_1h_end_time": "", "max_accumulation_3h": "mm",
                        "max_accumulation_6h": "mm", "max_rain_rate": "mm/h", "us_category": "",
                        "short_duration_heavy_rain": "", "rainstorm_signal": "", "rate_over_threshold": "",
                        "ffg_exceeded": ""}))
def classify_heavy_rain(args: HeavyRainInput, ctx: ToolContext) -> ToolOutput:
    """Heavy-rain category of the sequence by China Meteorological Administration grades and US flash-flood practice.

    The largest accumulation (mm) over every moving window of 1, 3, 6, 12 and 24 h that the
    sequence covers (no window is scaled: one longer than the sequence is reported as not
    covered) is graded:

    - 12 h and 24 h: GB/T 28592-2012 *Grade of precipitation* (CMA; rain, mm): 12 h light
      0.1-4.9, moderate 5-14.9, heavy 15-29.9, rainstorm 30-69.9, heavy rainstorm 70-139.9,
      severe rainstorm >= 140; 24 h light 0.1-9.9, moderate 10-24.9, heavy 25-49.9,
      rainstorm 50-99.9, heavy rainstorm 100-249.9, severe rainstorm >= 250. The standard
      grades only these two windows.
    - 3, 6 and 12 h: CMA rainstorm warning-signal criteria (CMA Decree No. 16, 2007): blue
      50 mm/12 h, yellow 50 mm/6 h, orange 50 mm/3 h, red 100 mm/3 h.
    - 1 h: CMA operational short-duration heavy precipitation, >= 20 mm in 1 h.

    ``cma_grade`` is the label of the longest covered window. ``short_duration_heavy_rain``,
    ``rainstorm_signal`` and ``ffg_exceeded`` are true when a window the sequence covers
    reaches their criterion, false only when the sequence covers every window of the
    criterion (1 h; 3, 6 and 12 h; 1, 3 and 6 h), and otherwise not computable, with a
    note saying why: 40 minutes of frames cannot show that no hour reached 20 mm, nor 6 h
    that no 12 h total reached the blue signal's 50 mm. US practice: rain rates
    >= 1 in/h (25.4 mm/h) can lead to flash flooding (NWS Wilmington OH, flash flood
    reports: "an inch or more of rain in less than an hour"), tested on the largest 1 h
    accumulation (on the largest frame rate only when the sequence is shorter than 1 h;
    ``max_rain_rate`` is the largest single-frame rate), and window accumulations are
    compared with flash flood guidance (FFG, NWS River Forecast Centers, 1, 3 and 6 h;
    Gourley et al. 2012, Wea. Forecasting 27, 158-173). Real FFG depends on soil moisture
    and basin; the defaults, 1.5 in (38.1 mm)/1 h, 2.5 in (63.5 mm)/3 h and 3 in (76.2 mm)/6 h,
    are typical values to be replaced by the local RFC guidance. Every accumulation is
    searched inside the window (the 1 h maximum with its distance and bearing from the
    place).
    """
    ds, rate, minutes, notes, win = _load(args, ctx)
    step, n = float(minutes[0]), rate.shape[0]
    covered = np.flatnonzero(np.isfinite(rate).all(axis=0))
    acc = rate.reshape(n, -1)[:, covered] * np.float32(step / 60.0)  # mm per frame, covered pixels
    total = float(minutes.sum())
    table, best, uncovered = [], {}, []
    for hours in (1, 3, 6, 12, 24):
        k = int(np.ceil(hours * 60.0 / step - 1e-6))
        if k > n or not covered.size:
            table.append({"window_h": hours, "covered": False})
            uncovered.append(f"{hours} h")
            continue
        mx, end = rolling_accumulation(acc, k)
        i = int(np.argmax(mx))
        rc = tuple(int(v) for v in np.unravel_index(covered[i], rate.shape[1:]))
        best[hours] = (float(mx[i]), rc, int(end[i]))
        if hours == 1:
            field = np.full(rate.shape[1:], np.nan)
            field.flat[covered] = mx
            notes += _isolated(ds, field, rc, "1 h accumulation")
        table.append({"window_h": hours, "covered": True, "window_min": k * step, "max_mm": _r(mx[i], 2),
                      "label": cma_grade(hours, float(mx[i]))})
    if uncovered:
        notes.append(f"windows not covered by the sequence ({total:.0f} min): {', '.join(uncovered)}")
    max_rate = float(np.nanmax(rate))
    # an hour's mean rate when the sequence covers an hour, the largest frame's rate otherwise
    hourly = best[1][0] if 1 in best else max_rate
    vals: dict[str, Value] = {"max_rain_rate": Value(value=_r(max_rate, 2), units="mm/h"),
                              "rate_over_threshold": Value(value=bool(hourly >= args.rate_threshold))}
    for h in (1, 3, 6):
        vals[f"max_accumulation_{h}h"] = Value(value=_r(best[h][0], 2) if h in best else None, units="mm")
    if 1 in best:
        lat, lon = loc(ds, best[1][1])
        vals.update({"max_1h_lat": Value(value=lat, units="degree_north"),
                     "max_1h_lon": Value(value=lon, units="degree_east"), **win.from_place("max_1h", lat, lon),
                     "max_1h_end_time": Value(value=iso(ds["time"].values[best[1][2]]))})
    else:
        vals.update({"max_1h_lat": Value(value=None, units="degree_north"),
                     "max_1h_lon": Value(value=None, units="degree_east"), **win.from_place("max_1h", None, None),
                     "max_1h_end_time": Value(value=None)})
    longest = max(best) if best else None
    vals["cma_grade"] = Value(value=cma_grade(longest, best[longest][0]) if longest else
                              f"no CMA window covered (sequence spans {total:.0f} min < 1 h)")
    vals["cma_window"] = Value(value=longest, units="h")
    def uncovered_note(hours: int, what: str) -> str:
        if not covered.size:
            return f"no pixel holds a value in every frame, so no window is covered ({what})"
        return f"the sequence spans {total:.0f} min, shorter than the {hours} h window of {what}"

    vals["short_duration_heavy_rain"] = (
        Value(value=best[1][0] >= CMA_SHORT_DURATION_MM) if 1 in best else
        Value(value=None, note=uncovered_note(1, "short-duration heavy rain")))
    signal_hours = sorted({h for h, _, _ in CMA_SIGNALS})
    vals["rainstorm_signal"] = _reached(
        [h for h, thr, _ in CMA_SIGNALS if h in best and best[h][0] >= thr], signal_hours, best,
        uncovered_note, "rainstorm-signal criterion")
    ffg = {1: args.ffg_1h, 3: args.ffg_3h, 6: args.ffg_6h}
    exceeded = [h for h in ffg if h in best and best[h][0] >= ffg[h]]
    vals["ffg_exceeded"] = _reached(exceeded, sorted(ffg), best, uncovered_note, "flash flood guidance")
    guidance = ("guidance not exceeded" if vals["ffg_exceeded"].value is False else
                "guidance exceeded" if vals["ffg_exceeded"].value else
                "guidance not computable: " + vals["ffg_exceeded"].note)
    if exceeded:
        us = "flash flooding likely: " + ", ".join(f"{h} h max {best[h][0]:.1f} mm >= FFG {ffg[h]:g} mm"
                                                   for h in exceeded)
    elif hourly >= args.rate_threshold:
        us = (f"flash-flood-capable rain: {hourly:.1f} mm in {'1 h' if 1 in best else 'one frame (mm/h)'} "
              f">= {args.rate_threshold:g} mm/h, {guidance}")
    elif max_rate >= args.rate_threshold:
        us = (f"brief intense rates only (frame max {max_rate:.1f} mm/h, but no hour reaches "
              f"{args.rate_threshold:g} mm); {guidance}")
    else:
        us = f"below flash-flood criteria (max rate {max_rate:.1f} mm/h, {guidance})"
    vals["us_category"] = Value(value=us)
    where = f" (1 h maximum {_away(vals, 'max_1h')})" if 1 in best else ""
    summary = f"{win.area_text()}: CMA: {vals['cma_grade'].value}. US: {us}{where}"
    return win.finish(ToolOutput(values=vals, summary=summary, warnings=notes, table=table))


# ---------------------------------------------------------------------------------------
@tool(category="precipitation", needs=NEEDS, example={"threshold": 10},
      outputs=windowed({"max_duration": "min", "max_consecutive_duration": "min", "max_lat": "degree_north",
                        "max_lon": "degree_east", **place_units("max"), "sequence_minutes": "min",
                        "area_30min": "km^2"}))
def compute_training_index(args: ThresholdInput, ctx: ToolContext) -> ToolOutput:
    """How long heavy echoes persist over the same place (minutes): a training / flash-flood indicator.

    For every pixel, the minutes of the sequence with rain rate >= threshold (mm/h), in all
    and in the longest unbroken run; reported are the largest of each inside the window,
    where the longest total occurs (with its distance and bearing from the place), and the
    area (km2) where the total reaches 30 minutes.
    Repeated passage of heavy cells over one place ("training", e.g. Doswell et al. 1996,
    Wea. Forecasting 11, 560-581) is a main ingredient of flash floods.
    """
    ds, rate, minutes, notes, win = _load(args, ctx)
    heavy = np.nan_to_num(rate, nan=-1.0) >= args.threshold
    total = heavy.sum(axis=0) * float(minutes[0])
    run = np.zeros(rate.shape[1:])
    longest = np.zeros(rate.shape[1:])
    for t in range(rate.shape[0]):
        run = (run + minutes[t]) * heavy[t]
        np.maximum(longest, run, out=longest)
    r, c = _argmax2d(total)
    lat, lon = loc(ds, (r, c))
    notes += _isolated(ds, total.astype(np.float64), (r, c), "duration")
    area30 = float(pixel_area_km2(ds)[total >= 30.0].sum())
    vals = {"max_duration": Value(value=_r(total[r, c], 1), units="min"),
            "max_consecutive_duration": Value(value=_r(longest.max(), 1), units="min"),
            "max_lat": Value(value=lat, units="degree_north"), "max_lon": Value(value=lon, units="degree_east"),
            **win.from_place("max", lat, lon), "sequence_minutes": Value(value=_r(minutes.sum(), 1), units="min"),
            "area_30min": Value(value=_r(area30, 1), units="km^2")}
    summary = (f">= {args.threshold:g} mm/h persists up to {vals['max_duration'].value} min "
               f"(longest unbroken {vals['max_consecutive_duration'].value} min) of {vals['sequence_minutes'].value}"
               f" min at {lat}N {lon}E ({_away(vals, 'max')}); {vals['area_30min'].value} km2 with >= 30 min, "
               f"{win.area_text()}")
    if total[r, c] == 0:
        notes.append(f"no pixel reaches {args.threshold:g} mm/h in the sequence {win.area_text()}")
    return win.finish(ToolOutput(values=vals, summary=summary, warnings=notes))
