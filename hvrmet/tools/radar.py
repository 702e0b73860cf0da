"""Radar tools on a radar volume of any format: composite reflectivity, maximum echo, echo
tops, VIL, storm cells, convective lines, velocity couplets, weak-echo regions under an
echo overhang, a hail proxy and the tornado debris signature.

Each reads the case's ``radar_volume`` role (or another role named by ``role``): a sweep
tree (:mod:`hvrmet.data.readers.radar`) from NEXRAD Level II or TDWR, its real-time
chunks, CfRadial 1/2, ODIM_H5, IRIS/Sigmet, Rainbow, GAMIC, UF or Furuno. Each tool is a
short adapter over :mod:`hvrmet.calc.radar`, where the science lives (memoised per
volume, so tools called in a loop share one gridding). The column products, cells,
couplets, weak-echo regions, hail proxy and debris signature need PPI sweeps; :func:`find_max_reflectivity`
takes any sweep (RHIs too).

Window: every tool searches only inside the window around the case's place and time
(:mod:`hvrmet.tools.window`, kind ``radar``: 75 km and 1 h either side by default;
``radius`` and ``time_window`` override it). Maxima, areas, cells and couplets are those
inside the circle (a cell by its centroid, a couplet by its centre); each reported
feature gives its distance (km) and bearing (degree from north) from the place; a volume
whose start lies outside the time window is used, flagged ``outside_time_window`` and
warned about. ``max_range`` still bounds the radar-centred grid.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import Field

from hvrmet.errors import DataError, VariableMissing
from hvrmet.calc import radar as rc
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import Window, place_units, windowed

__all__: list[str] = []

NEEDS = ("radar_volume",)


class RadarInput(WindowInput):
    """A case and the role of its radar volume."""

    role: str = Field("radar_volume", description="case role of the radar volume (any radar format)")


class GridInput(RadarInput):
    """A radar volume and the radar-centred grid to put it on."""

    resolution: float = quantity(1.0, units="km", description="grid spacing", ge=0.25, le=10.0)
    max_range: float = quantity(230.0, units="km", description="grid radius around the radar",
                                ge=10.0, le=460.0)


class EchoTopInput(GridInput):
    """A radar volume, a grid and a reflectivity threshold."""

    threshold: float = quantity(18.0, units="dBZ", description="reflectivity threshold of the echo top",
                                ge=-10.0, le=75.0)


class CellInput(GridInput):
    """A radar volume, a grid, a reflectivity threshold and a minimum cell area."""

    threshold: float = quantity(40.0, units="dBZ", description="reflectivity threshold outlining a cell",
                                ge=0.0, le=75.0)
    min_area: float = quantity(4.0, units="km^2", description="smallest cell area kept", ge=0.0, le=10000.0)


class MaxInput(RadarInput):
    """A radar volume and the range below which gates are ignored."""

    min_range: float = quantity(0.0, units="km", description="ignore gates nearer than this (ground clutter)",
                                ge=0.0, le=400.0)


class RotationInput(RadarInput):
    """A radar volume and the couplet search settings."""

    max_elevation: float = quantity(1.5, units="degree", description="highest sweep elevation searched",
                                    ge=0.1, le=10.0)
    max_diameter: float = quantity(5.0, units="km", description="largest inbound-outbound separation",
                                   ge=0.25, le=20.0)
    min_range: float = quantity(10.0, units="km", description="ignore gates nearer than this (ground clutter)",
                                ge=0.0, le=100.0)
    max_range: float = quantity(150.0, units="km", description="ignore gates further than this", ge=10.0, le=300.0)
    max_spectrum_width: float = quantity(12.0, units="m/s", description="mask gates with a wider spectrum",
                                         ge=1.0, le=40.0)
    min_reflectivity: float = quantity(30.0, units="dBZ", description="both couplet gates must lie in echo "
                                       "at least this strong", ge=-30.0, le=60.0)
    mesocyclone_vrot: float = quantity(15.0, units="m/s", description="rotational velocity of a "
                                       "mesocyclone-strength couplet", ge=1.0, le=100.0)
    mesocyclone_shear: float = quantity(0.005, units="1/s", description="azimuthal shear of a "
                                        "mesocyclone-strength couplet", ge=0.0, le=1.0)
    min_tilts: int = quantity(2, units="1", description="distinct tilts (up to max_elevation) on which a "
                              "mesocyclone must show rotation: its vertical continuity; 1 turns the test off",
                              ge=1, le=10)
    continuity_fraction: float = quantity(0.5, units="1", description="rotation on another tilt counts when its "
                                          "Vrot within max_diameter of the couplet reaches this fraction of "
                                          "mesocyclone_vrot", ge=0.0, le=1.0)


class HailInput(GridInput):
    """A radar volume and the freezing level (from the case's sounding, or given)."""

    freezing_level: float | None = quantity(None, units="m", description="height of the 0 degC level; "
                                            "from the case's sounding when not given", ge=0.0, le=8000.0)
    freezing_level_reference: Literal["agl", "msl"] = Field(
        "agl", description="whether freezing_level is above ground (the radar site) or above mean sea level")
    sounding_role: str = Field("sounding", description="case role of the sounding giving the freezing level")
    large_hail_depth: float = quantity(4.0, units="km", description="50 dBZ height above the freezing "
                                       "level that points to large hail", ge=0.0, le=15.0)


class DebrisInput(RotationInput):
    """A dual-polarisation volume, the debris thresholds and the couplet search settings."""

    max_correlation: float = quantity(0.8, units="1", description="debris gates have a correlation "
                                      "coefficient below this", ge=0.0, le=1.0)
    debris_reflectivity: float = quantity(35.0, units="dBZ", description="debris gates have reflectivity "
                                          "above this", ge=0.0, le=75.0)
    max_differential_reflectivity: float = quantity(1.0, units="dB", description="debris gates have "
                                                    "|ZDR| at most this", ge=0.0, le=10.0)
    debris_radius: float = quantity(3.0, units="km", description="distance from the couplet within which "
                                    "debris gates count", ge=0.1, le=50.0)
    min_gates: int = quantity(5, units="1", description="debris gates needed to flag a signature", ge=1, le=1000)


def _moments(vol) -> list[str]:
    """The moments (2-D variables) on any sweep of the volume (memoised: a sweep node's
    dataset view costs more than the lookup)."""
    def make() -> list[str]:
        return sorted({str(v) for n in rc.sweep_names(vol) for ds in (vol[n].ds,) for v in ds.data_vars
                       if ds[v].ndim == 2})

    return list(rc.memo(("moments", rc.volume_key(vol)), make))


def _load(ctx: ToolContext, role: str, *moments: str):
    vol = ctx.load(role)
    if not isinstance(vol, xr.DataTree):
        raise VariableMissing(vol.attrs.get("source_file"), f"role {role!r} is not a radar volume (no sweeps); "
                              "Level III products have their own tools")
    have = _moments(vol)
    missing = [m for m in moments if m not in have]
    if missing:
        raise VariableMissing(vol.attrs.get("source_file"),
                              f"radar volume of role {role!r} has no {', '.join(missing)} "
                              f"(it has {', '.join(have) or 'no moments'})")
    return vol


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _where(prefix: str, p: dict[str, float] | None, win: Window | None = None) -> dict[str, Value]:
    p = p or {}
    out = {f"{prefix}_lat": Value(value=_r(p.get("lat"), 4), units="degree_north"),
           f"{prefix}_lon": Value(value=_r(p.get("lon"), 4), units="degree_east"),
           f"{prefix}_range": Value(value=_r(p.get("range_km"), 1), units="km", note="from the radar"),
           f"{prefix}_azimuth": Value(value=_r(p.get("azimuth"), 1), units="degree", note="from the radar")}
    if win is not None:
        out.update(_from_place(prefix, p, win))
    return out


def _from_place(prefix: str, p: dict[str, Any] | None, win: Window) -> dict[str, Value]:
    """``prefix_distance`` (km) and ``prefix_bearing`` (degree) of a point from the case's place."""
    p = p or {}
    return win.from_place(prefix, p.get("lat"), p.get("lon"))


def _where_units(prefix: str) -> dict[str, str]:
    return {f"{prefix}_lat": "degree_north", f"{prefix}_lon": "degree_east", f"{prefix}_range": "km",
            f"{prefix}_azimuth": "degree", **place_units(prefix)}


def _window(ctx: ToolContext, args: RadarInput, vol) -> Window:
    """The radar window, with the volume's start as the data time."""
    win = ctx.window("radar", args)
    win.at(vol.attrs.get("time_coverage_start") or vol.attrs.get("volume_start_time") or None, "the radar volume")
    return win


def _within(win: Window) -> tuple[float, float, float] | None:
    """The window's circle for :mod:`hvrmet.calc.radar` (``(lat, lon, radius_m)``)."""
    return None if win.radius_km is None else (win.lat, win.lon, win.radius_km * 1000.0)


def _grid_mask(da, win: Window) -> np.ndarray:
    """Cells of a radar-centred grid inside the window."""
    return win.mask(da["lat"].values, da["lon"].values)


def _argmax(da, mask: np.ndarray | None = None) -> tuple[float, dict[str, float] | None]:
    vals = da.values if mask is None else np.where(mask, da.values, np.nan)
    if not np.isfinite(vals).any():
        return float("nan"), None
    iy, ix = np.unravel_index(int(np.nanargmax(vals)), vals.shape)
    return float(vals[iy, ix]), rc.grid_point(da, iy, ix)


def _site(vol) -> str:
    return f"{vol.attrs.get('instrument_name', '')} {str(vol.attrs.get('time_coverage_start', ''))[:16]}".strip()


@tool(category="radar", outputs=windowed({"max_composite_reflectivity": "dBZ", **_where_units("max"),
                                          "area_ge_40dbz": "km^2", "area_ge_50dbz": "km^2", "grid_resolution": "km",
                                          "grid_nx": "1", "grid_ny": "1"}),
      quantities={"max_composite_reflectivity": "volume_max_reflectivity"}, example={}, needs=NEEDS)
def compute_composite_reflectivity(args: GridInput, ctx: ToolContext) -> ToolOutput:
    """Column-maximum (composite) reflectivity of a radar volume on a regular grid.

    Every sweep is put on an azimuthal-equidistant grid centred on the radar (spacing
    ``resolution``, radius ``max_range``) by numpy binning of every gate combined with the
    nearest gate per cell (no holes at long range); the column maximum is taken over all
    sweeps. Returns its maximum (dBZ) with location (and distance and bearing from the
    place), and the areas (km2) at or above 40 and 50 dBZ, inside the window. The grid is
    :func:`hvrmet.calc.radar.composite_reflectivity` (PPI sweeps).
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    comp = rc.composite_reflectivity(ds, args.resolution * 1000.0, args.max_range * 1000.0)
    inside = _grid_mask(comp, win)
    vmax, where = _argmax(comp, inside)
    cell = args.resolution**2
    with np.errstate(invalid="ignore"):
        a40 = float(((comp.values >= 40.0) & inside).sum() * cell)
        a50 = float(((comp.values >= 50.0) & inside).sum() * cell)
    ny, nx = comp.shape
    values = {"max_composite_reflectivity": Value(value=_r(vmax, 1), units="dBZ"), **_where("max", where, win),
              "area_ge_40dbz": Value(value=round(a40, 1), units="km^2"),
              "area_ge_50dbz": Value(value=round(a50, 1), units="km^2"),
              "grid_resolution": Value(value=args.resolution, units="km"),
              "grid_nx": Value(value=int(nx), units="1"), "grid_ny": Value(value=int(ny), units="1")}
    summary = (f"{_site(ds)} {win.area_text()}: composite reflectivity max {vmax:.1f} dBZ"
               + (f" at {where['range_km']:.0f} km, {where['azimuth']:.0f} deg from the radar, "
                  f"{values['max_distance'].value:.0f} km from the place" if where else "")
               + f"; {a40:.0f} km2 >= 40 dBZ, {a50:.0f} km2 >= 50 dBZ")
    return win.finish(ToolOutput(values=values, summary=summary))


@tool(category="radar", outputs=windowed({"max_reflectivity": "dBZ", "max_reflectivity_lat": "degree_north",
                                          "max_reflectivity_lon": "degree_east", "max_reflectivity_range": "km",
                                          "max_reflectivity_azimuth": "degree", "max_reflectivity_elevation": "degree",
                                          "max_reflectivity_height": "km", **place_units("max_reflectivity")}),
      quantities={"max_reflectivity": "volume_max_reflectivity"}, example={}, needs=NEEDS)
def find_max_reflectivity(args: MaxInput, ctx: ToolContext) -> ToolOutput:
    """The strongest reflectivity gate of the volume and where it is.

    Searches every gate at or beyond ``min_range`` (slant range, km; raise it to skip
    ground clutter near the radar) inside the window. Returns the value (dBZ), latitude,
    longitude, slant range (km), azimuth and elevation (degree), beam-centre height (km
    above MSL, 4/3-earth model) and the distance and bearing from the place.
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    g = rc.max_gate(ds, "reflectivity", args.min_range * 1000.0, within=_within(win))
    if g is None:
        raise DataError(ds.attrs.get("source_file"), f"no reflectivity beyond {args.min_range:g} km "
                                                     f"{win.area_text()}")
    values = {"max_reflectivity": Value(value=_r(g["value"], 1), units="dBZ"),
              "max_reflectivity_lat": Value(value=_r(g["lat"], 4), units="degree_north"),
              "max_reflectivity_lon": Value(value=_r(g["lon"], 4), units="degree_east"),
              "max_reflectivity_range": Value(value=_r(g["range_km"], 2), units="km"),
              "max_reflectivity_azimuth": Value(value=_r(g["azimuth"], 1), units="degree"),
              "max_reflectivity_elevation": Value(value=_r(g["elevation"], 2), units="degree"),
              "max_reflectivity_height": Value(value=_r(g["height_m"] / 1000.0, 2), units="km"),
              **_from_place("max_reflectivity", g, win)}
    summary = (f"{_site(ds)} {win.area_text()}: maximum reflectivity {g['value']:.1f} dBZ at {g['range_km']:.0f} km, "
               f"{g['azimuth']:.0f} deg, {g['elevation']:.1f} deg tilt, {g['height_m'] / 1000:.1f} km MSL "
               f"({g['lat']:.3f}, {g['lon']:.3f}), {values['max_reflectivity_distance'].value:.0f} km from the place")
    return win.finish(ToolOutput(values=values, summary=summary))


@tool(category="radar", outputs=windowed({"max_echo_top": "km", **_where_units("max_echo_top"),
                                          "threshold": "dBZ", "area_top_ge_10km": "km^2"}),
      example={}, needs=NEEDS)
def compute_echo_tops(args: EchoTopInput, ctx: ToolContext) -> ToolOutput:
    """Echo tops: the highest beam-centre height with reflectivity at or above a threshold.

    Gate-based (no interpolation between tilts): in each column of the radar-centred grid,
    the largest beam-centre height (km above MSL) of a gate with at least ``threshold``
    dBZ (18 dBZ by default, as the WSR-88D echo-tops product). Isolated gates are ignored
    as speckle. Returns the maximum and where, and the area with tops at or above 10 km,
    inside the window.
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    et = rc.echo_top_grid(ds, args.threshold, args.resolution * 1000.0, args.max_range * 1000.0)
    inside = _grid_mask(et, win)
    vmax, where = _argmax(et, inside)
    with np.errstate(invalid="ignore"):
        a10 = float(((et.values >= 10000.0) & inside).sum() * args.resolution**2)
    warnings = ["beam-centre heights (4/3-earth model): the true top can lie up to half a "
                "beamwidth higher, and between tilts"]
    if where is not None:
        vals, _, _ = rc.column_stack(ds, "reflectivity", args.resolution * 1000.0, args.max_range * 1000.0)
        iy, ix = np.unravel_index(int(np.nanargmax(np.where(inside, et.values, np.nan))), et.shape)
        if np.nan_to_num(vals[-1, iy, ix], nan=-99.0) >= args.threshold:
            warnings.append("the echo reaches the highest tilt there: the top is a lower bound")
    values = {"max_echo_top": Value(value=_r(vmax / 1000.0, 2), units="km"),
              **_where("max_echo_top", where, win),
              "threshold": Value(value=args.threshold, units="dBZ"),
              "area_top_ge_10km": Value(value=round(a10, 1), units="km^2")}
    summary = (f"{_site(ds)} {win.area_text()}: {args.threshold:g} dBZ echo top max {vmax / 1000:.1f} km MSL"
               + (f" at {where['range_km']:.0f} km, {where['azimuth']:.0f} deg from the radar" if where else ""))
    return win.finish(ToolOutput(values=values, summary=summary, warnings=warnings))


@tool(category="radar", outputs=windowed({"max_vil": "kg/m^2", **_where_units("max_vil"), "area_vil_ge_40": "km^2"}),
      example={}, needs=NEEDS)
def compute_vil(args: GridInput, ctx: ToolContext) -> ToolOutput:
    """Vertically integrated liquid (kg/m2) of each column and its maximum.

    Greene and Clark (1972, Mon. Wea. Rev. 100, 548-552): VIL = sum of
    3.44e-6 [(Z_i + Z_i+1)/2]^(4/7) dh over the layers between tilts, with Z the linear
    reflectivity factor (mm6/m3, capped at 56 dBZ as the WSR-88D does) and dh (m) the
    layer depth, from the nearest gate of every tilt above each cell of the radar-centred
    grid. Returns the maximum with location and the area with VIL at or above 40 kg/m2,
    inside the window.
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    vil = rc.vil_grid(ds, args.resolution * 1000.0, args.max_range * 1000.0)
    inside = _grid_mask(vil, win)
    vmax, where = _argmax(vil, inside)
    with np.errstate(invalid="ignore"):
        a40 = float(((vil.values >= 40.0) & inside).sum() * args.resolution**2)
    values = {"max_vil": Value(value=_r(vmax, 1), units="kg/m^2"), **_where("max_vil", where, win),
              "area_vil_ge_40": Value(value=round(a40, 1), units="km^2")}
    summary = (f"{_site(ds)} {win.area_text()}: VIL max {vmax:.1f} kg/m2"
               + (f" at {where['range_km']:.0f} km, {where['azimuth']:.0f} deg from the radar" if where else ""))
    return win.finish(ToolOutput(values=values, summary=summary,
                                 warnings=["the layer below the lowest tilt is not counted (no data there)"]))


@tool(category="radar", outputs=windowed({"cell_count": "1", "strongest_cell_max_reflectivity": "dBZ",
                                          "strongest_cell_lat": "degree_north", "strongest_cell_lon": "degree_east",
                                          "strongest_cell_range": "km", "strongest_cell_azimuth": "degree",
                                          "strongest_cell_area": "km^2", "largest_cell_area": "km^2",
                                          **place_units("strongest_cell"), "nearest_cell_max_reflectivity": "dBZ",
                                          "nearest_cell_area": "km^2", **place_units("nearest_cell"),
                                          "cells_outside_window": "1"}),
      example={}, needs=NEEDS)
def detect_storm_cells(args: CellInput, ctx: ToolContext) -> ToolOutput:
    """Storm cells: connected areas of composite reflectivity at or above a threshold.

    Thresholds the composite reflectivity grid (``threshold`` dBZ, 40 by default) and
    labels 8-connected regions with scipy.ndimage.label; regions smaller than
    ``min_area`` km2 are dropped. A cell counts when its centroid lies inside the window:
    ``cell_count``, the strongest and the largest are of those, the nearest cell is named
    too (each with distance and bearing from the place). The table lists every cell
    (strongest first): area (km2), centroid latitude/longitude, range (km) and azimuth
    (degree) from the radar, distance and bearing from the place, ``in_window``, maximum
    (dBZ) and where.
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    comp = rc.composite_reflectivity(ds, args.resolution * 1000.0, args.max_range * 1000.0)
    every = rc.label_cells(comp, args.threshold, args.min_area)
    if every:
        d, b = win.locate([c["lat"] for c in every], [c["lon"] for c in every])
        ins = win.inside(d)
        for c, di, bi, ii in zip(every, d, b, ins):
            c.update(distance_km=_r(float(di), 1), bearing=_r(float(bi), 0), in_window=bool(ii))
    cells = [c for c in every if c["in_window"]]
    top = cells[0] if cells else {}
    near = min(cells, key=lambda c: c["distance_km"]) if cells else {}
    values = {"cell_count": Value(value=len(cells), units="1", note="cells whose centroid lies inside the window"),
              "strongest_cell_max_reflectivity": Value(value=top.get("max_dbz"), units="dBZ"),
              "strongest_cell_lat": Value(value=top.get("lat"), units="degree_north"),
              "strongest_cell_lon": Value(value=top.get("lon"), units="degree_east"),
              "strongest_cell_range": Value(value=top.get("range_km"), units="km"),
              "strongest_cell_azimuth": Value(value=top.get("azimuth"), units="degree"),
              "strongest_cell_area": Value(value=top.get("area_km2"), units="km^2"),
              "largest_cell_area": Value(value=max((c["area_km2"] for c in cells), default=None), units="km^2"),
              **_from_place("strongest_cell", top, win),
              "nearest_cell_max_reflectivity": Value(value=near.get("max_dbz"), units="dBZ"),
              "nearest_cell_area": Value(value=near.get("area_km2"), units="km^2"),
              **_from_place("nearest_cell", near, win),
              "cells_outside_window": Value(value=len(every) - len(cells), units="1")}
    warnings = [] if every else [f"no echo reaches {args.threshold:g} dBZ"]
    if len(every) > len(cells):
        out = [c for c in every if not c["in_window"]]
        far = min(out, key=lambda c: c["distance_km"])
        warnings.append(f"{len(out)} of {len(every)} cells lie outside the window ({win.area_text()}) and are not "
                        f"counted; the nearest of them at {far['distance_km']:.0f} km, the strongest "
                        f"{out[0]['max_dbz']:.1f} dBZ at {out[0]['distance_km']:.0f} km")
    summary = (f"{_site(ds)}: {len(cells)} cell(s) >= {args.threshold:g} dBZ {win.area_text()} (of {len(every)})"
               + (f"; strongest {top['max_dbz']:.1f} dBZ, {top['area_km2']:.0f} km2 at "
                  f"{top['range_km']:.0f} km, {top['azimuth']:.0f} deg from the radar, {top['distance_km']:.0f} km "
                  f"from the place; nearest {near['distance_km']:.0f} km at {near['bearing']:.0f} deg" if top else ""))
    return win.finish(ToolOutput(values=values, summary=summary, table=every, warnings=warnings))


class LineInput(GridInput):
    """A radar volume, a grid and what makes a convective line."""

    threshold: float = quantity(40.0, units="dBZ", description="reflectivity of the convective cells the line is "
                                "made of", ge=0.0, le=75.0)
    bridge: float = quantity(4.0, units="km", description="gaps up to about this width between cells are bridged "
                             "(nearly contiguous cells form one line)", ge=0.0, le=20.0)
    min_length: float = quantity(100.0, units="km", description="shortest line (Parker and Johnson 2000: 100 km)",
                                 ge=1.0, le=2000.0)
    min_aspect_ratio: float = quantity(3.0, units="1", description="smallest length-to-width ratio of a line",
                                       ge=1.0, le=100.0)


LINE_OUTPUTS = {"line_flag": "", "line_count": "1", "line_length": "km", "line_width": "km",
                "line_aspect_ratio": "1", "line_orientation": "degree", "line_max_reflectivity": "dBZ",
                "line_area": "km^2", **place_units("line"), "longest_region_length": "km",
                "longest_region_aspect_ratio": "1"}


@tool(category="radar", outputs=windowed(LINE_OUTPUTS), example={}, needs=NEEDS)
def detect_convective_line(args: LineInput, ctx: ToolContext) -> ToolOutput:
    """Quasi-linear convective systems: lines of convective cells on the composite reflectivity.

    The composite reflectivity's echo at or above ``threshold`` (40 dBZ) is joined across
    gaps up to ``bridge`` km and labelled into regions
    (:func:`hvrmet.calc.radar.convective_lines`: length along the major axis, mean width,
    length-to-width ratio, orientation). A region is a line when it is at least
    ``min_length`` km long (a linear mesoscale convective system's convective chain,
    Parker and Johnson 2000, Mon. Wea. Rev. 128, 3413-3436: 100 km or more) and at least
    ``min_aspect_ratio`` times longer than wide; it counts when any of its echo lies inside
    the window. Reported: whether there is a line, how many, the longest one's length,
    width, ratio, orientation (degree from north), maximum reflectivity and area, with the
    distance and bearing of its nearest echo from the place; and the longest region of
    any shape inside the window, so that a cluster that is not a line says how far it is
    from being one. The table lists every region of 100 km2 or more.
    A bowing segment is not told apart from a straight line.
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    comp = rc.composite_reflectivity(ds, args.resolution * 1000.0, args.max_range * 1000.0)
    regions, labels = rc.convective_lines(comp, args.threshold, args.bridge)
    inside = _grid_mask(comp, win)
    lat, lon = comp["lat"].values, comp["lon"].values
    for r in regions:
        cells = (labels == r["region_id"]) & inside
        r["in_window"] = bool(cells.any())
        r["line"] = bool(r["length_km"] >= args.min_length and r["aspect_ratio"] >= args.min_aspect_ratio)
        if r["in_window"]:
            d, b = win.locate(lat[cells], lon[cells])
            i = int(np.nanargmin(d))
            r.update(distance_km=_r(float(d[i]), 1), bearing=_r(float(b[i]), 0),
                     nearest_lat=round(float(lat[cells][i]), 4), nearest_lon=round(float(lon[cells][i]), 4))
    near = [r for r in regions if r["in_window"]]
    lines = [r for r in near if r["line"]]
    top = lines[0] if lines else {}
    longest = near[0] if near else {}
    values = {"line_flag": Value(value=bool(lines)),
              "line_count": Value(value=len(lines), units="1", note="lines with echo inside the window"),
              "line_length": Value(value=top.get("length_km"), units="km"),
              "line_width": Value(value=top.get("width_km"), units="km"),
              "line_aspect_ratio": Value(value=top.get("aspect_ratio"), units="1"),
              "line_orientation": Value(value=top.get("orientation"), units="degree",
                                        note="direction of the major axis, from north (0-180)"),
              "line_max_reflectivity": Value(value=top.get("max_dbz"), units="dBZ"),
              "line_area": Value(value=top.get("area_km2"), units="km^2"),
              **win.from_place("line", top.get("nearest_lat"), top.get("nearest_lon")),
              "longest_region_length": Value(value=longest.get("length_km"), units="km"),
              "longest_region_aspect_ratio": Value(value=longest.get("aspect_ratio"), units="1")}
    if top:
        summary = (f"{_site(ds)}: a line of {args.threshold:g} dBZ cells {top['length_km']:.0f} km long, "
                   f"{top['width_km']:.0f} km wide (ratio {top['aspect_ratio']:.1f}), oriented "
                   f"{top['orientation']:.0f} deg, max {top['max_dbz']:.1f} dBZ, its nearest echo "
                   f"{top['distance_km']:.0f} km from the place ({win.area_text()})")
    elif longest:
        summary = (f"{_site(ds)}: no convective line {win.area_text()}; the longest region of {args.threshold:g} dBZ "
                   f"echo is {longest['length_km']:.0f} km long with ratio {longest['aspect_ratio']:.1f} (a line "
                   f"needs {args.min_length:g} km and {args.min_aspect_ratio:g})")
    else:
        summary = f"{_site(ds)}: no region of {args.threshold:g} dBZ echo of 100 km2 or more {win.area_text()}"
    table = [{k: v for k, v in r.items() if k not in ("nearest_lat", "nearest_lon")} for r in regions]
    return win.finish(ToolOutput(values=values, summary=summary, table=table))


def _couplets(ds, args: RotationInput, win: Window | None = None) -> dict[str, Any]:
    return rc.rotation_couplet(ds, max_elevation=args.max_elevation, max_diameter_m=args.max_diameter * 1000.0,
                               min_range_m=args.min_range * 1000.0, max_range_m=args.max_range * 1000.0,
                               max_spectrum_width=args.max_spectrum_width,
                               min_reflectivity=args.min_reflectivity,
                               within=None if win is None else _within(win))


ROTATION_OUTPUTS = {"max_rotational_velocity": "m/s", "couplet_lat": "degree_north", "couplet_lon": "degree_east",
                    "couplet_range": "km", "couplet_azimuth": "degree", "couplet_height": "km",
                    "couplet_elevation": "degree", "couplet_diameter": "km", "azimuthal_shear": "1/s",
                    "inbound_velocity": "m/s", "outbound_velocity": "m/s", "couplet_tilts": "1",
                    "mesocyclone_flag": "",
                    "mesocyclone_count": "1", **place_units("couplet"),
                    "nearest_couplet_rotational_velocity": "m/s", "nearest_couplet_lat": "degree_north",
                    "nearest_couplet_lon": "degree_east", **place_units("nearest_couplet")}


def _continuity(c: dict[str, Any], args: RotationInput) -> int | None:
    """On how many tilts the couplet shows rotation (``continuity_fraction`` of
    ``mesocyclone_vrot`` within ``max_diameter``); None when the volume has fewer tilts to
    search than ``min_tilts`` (the continuity cannot be tested)."""
    tilts = c.get("tilts") or []
    if len(tilts) < args.min_tilts:
        return None
    floor = args.continuity_fraction * args.mesocyclone_vrot
    return sum(1 for t in tilts if math.isfinite(t["vrot"]) and t["vrot"] >= floor)


def _meso_strength(c: dict[str, Any], args: RotationInput) -> bool:
    """Mesocyclone strength on the couplet's own tilt: Vrot and shear."""
    return c["vrot"] >= args.mesocyclone_vrot and c["shear"] >= args.mesocyclone_shear


def _is_meso(c: dict[str, Any], args: RotationInput) -> bool:
    """Mesocyclone strength (Vrot and shear) with vertical continuity where it can be tested."""
    if not _meso_strength(c, args):
        return False
    n = _continuity(c, args)
    return n is None or n >= args.min_tilts


@tool(category="radar", outputs=windowed(ROTATION_OUTPUTS), example={}, needs=NEEDS)
def detect_rotation(args: RotationInput, ctx: ToolContext) -> ToolOutput:
    """Cyclonic velocity couplets on the low tilts: rotational velocity, shear and where.

    On each tilt with radial velocity at or below ``max_elevation``, the strongest
    inbound-outbound pair (outbound clockwise of inbound) within ``max_diameter`` gives the
    rotational velocity Vrot = (Vout - Vin)/2 (m/s) and the azimuthal shear (Vout - Vin)/d
    (1/s). No dealiasing: gates at the Nyquist edge (|V| >= 0.98 Vn) and with spectrum
    width above ``max_spectrum_width`` are masked, a 3x3 median removes speckle, both gates
    must lie in echo >= ``min_reflectivity`` dBZ, and pairs with both velocities beyond
    0.8 Vn are skipped as possible folding. Mesocyclone-strength: Vrot >= 15 m/s (~30 kt)
    and shear >= 5e-3 1/s by default, about the moderate-mesocyclone line of the WSR-88D
    OSF rotational-velocity nomogram at short range (Andra 1997) and of the MDA strength
    ranks (Stumpf et al. 1998, Wea. Forecasting 13, 304-326). A mesocyclone is a deep
    vortex: as the MDA builds its three-dimensional features from two-dimensional ones on
    at least two tilts, the flag also needs rotation of ``continuity_fraction`` x
    ``mesocyclone_vrot`` within ``max_diameter`` of the couplet on ``min_tilts`` distinct
    tilts (``couplet_tilts``). A one-tilt shear line, such as a folding boundary, fails it;
    with fewer tilts to search the flag rests on strength and a warning says so. Only couplets centred inside
    the window count: the strongest (``max_rotational_velocity``, ``couplet_*``) and the
    nearest (``nearest_couplet_*``), each with distance and bearing from the place. The
    table lists up to ten couplets at least 10 km apart, strongest first.
    """
    ds = _load(ctx, args.role, "radial_velocity")
    win = _window(ctx, args, ds)
    res = _couplets(ds, args, win)
    cps = [dict(c) for c in res["couplets"]]
    if cps:
        d, b = win.locate([c["lat"] for c in cps], [c["lon"] for c in cps])
        for c, di, bi in zip(cps, d, b):
            c.update(distance_km=float(di), bearing=float(bi))
    top = cps[0] if cps else None
    n_tilts = _continuity(top, args) if top else None
    near = min(cps, key=lambda c: c["distance_km"]) if cps else {}
    nmeso = sum(_is_meso(c, args) for c in cps)
    g = top or {}
    values = {"max_rotational_velocity": Value(value=_r(g.get("vrot"), 2), units="m/s"),
              "couplet_lat": Value(value=_r(g.get("lat"), 4), units="degree_north"),
              "couplet_lon": Value(value=_r(g.get("lon"), 4), units="degree_east"),
              "couplet_range": Value(value=_r(g.get("range_km"), 1), units="km"),
              "couplet_azimuth": Value(value=_r(g.get("azimuth"), 1), units="degree"),
              "couplet_height": Value(value=_r(g["height_m"] / 1000.0, 2) if top else None, units="km",
                                      note="beam-centre height above mean sea level"),
              "couplet_elevation": Value(value=_r(g.get("elevation"), 2), units="degree"),
              "couplet_diameter": Value(value=_r(g["diameter_m"] / 1000.0, 2) if top else None, units="km"),
              "azimuthal_shear": Value(value=_r(g.get("shear"), 4), units="1/s"),
              "inbound_velocity": Value(value=_r(g.get("v_in"), 1), units="m/s"),
              "outbound_velocity": Value(value=_r(g.get("v_out"), 1), units="m/s"),
              "couplet_tilts": Value(value=n_tilts, units="1",
                                     note=f"tilts up to {args.max_elevation:g} deg with rotation of at least "
                                          f"{args.continuity_fraction * args.mesocyclone_vrot:g} m/s within "
                                          f"{args.max_diameter:g} km of the couplet"
                                          + ("" if not top or n_tilts is not None else
                                             f"; not computable: fewer than {args.min_tilts} tilts to search")),
              "mesocyclone_flag": Value(value=bool(top and _is_meso(top, args)), units=""),
              "mesocyclone_count": Value(value=int(nmeso), units="1"),
              **_from_place("couplet", top, win),
              "nearest_couplet_rotational_velocity": Value(value=_r(near.get("vrot"), 2), units="m/s"),
              "nearest_couplet_lat": Value(value=_r(near.get("lat"), 4), units="degree_north"),
              "nearest_couplet_lon": Value(value=_r(near.get("lon"), 4), units="degree_east"),
              **_from_place("nearest_couplet", near, win)}
    nyq = ", ".join(f"{v:.1f}" for v in res["nyquist"] if math.isfinite(v))
    nyq_text = f"Nyquist {nyq} m/s" if nyq else "Nyquist velocity unknown: the file gives none, so no folding edge is masked"
    warnings = [f"velocities not dealiased ({nyq_text}): rotation stronger than the Nyquist "
                f"velocity is folded and underestimated; {res['masked_fraction'] * 100:.1f}% of gates masked "
                f"(Nyquist edge or spectrum width > {args.max_spectrum_width:g} m/s)"]
    if res["alias_pairs"]:
        warnings.append(f"at {res['alias_pairs']} gate(s) a stronger pair was skipped because both its "
                        "velocities exceeded 0.8 of the Nyquist velocity (possible folding)")
    if top and n_tilts is None:
        warnings.append(f"vertical continuity not tested: the volume has {len(top.get('tilts') or [])} tilt(s) with "
                        f"radial velocity up to {args.max_elevation:g} deg, fewer than {args.min_tilts}; the "
                        "mesocyclone flag rests on one tilt's strength")
    table = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in c.items() if k != "tilts"}
             | {"tilts": [{"elevation": t["elevation"], "vrot": _r(t["vrot"], 2)} for t in c.get("tilts") or []],
                "mesocyclone": _is_meso(c, args)} for c in cps]
    if top:
        strength = ("mesocyclone strength" if _is_meso(top, args) else
                    f"mesocyclone strength on {n_tilts} tilt only, too shallow for a mesocyclone (needs "
                    f"{args.min_tilts})" if _meso_strength(top, args) else "below mesocyclone strength")
        summary = (f"{_site(ds)} {win.area_text()}: strongest couplet Vrot {top['vrot']:.1f} m/s at "
                   f"{top['range_km']:.0f} km, {top['azimuth']:.0f} deg from the radar ({top['lat']:.3f}, "
                   f"{top['lon']:.3f}), {top['distance_km']:.1f} km at {top['bearing']:.0f} deg from the place, "
                   f"{top['elevation']:.1f} deg tilt, shear {top['shear']:.3f} 1/s; {strength}")
    else:
        summary = f"{_site(ds)}: no couplet found in echo >= {args.min_reflectivity:g} dBZ {win.area_text()}"
    return win.finish(ToolOutput(values=values, summary=summary, warnings=warnings, table=table))


class WeakEchoInput(GridInput):
    """A radar volume, a grid and what makes a weak-echo region under an echo overhang."""

    low_top: float = quantity(2.0, units="km", description="top of the low layer, above the radar", ge=0.5, le=5.0)
    mid_bottom: float = quantity(4.0, units="km", description="bottom of the mid layer, above the radar",
                                 ge=1.0, le=12.0)
    mid_top: float = quantity(7.0, units="km", description="top of the mid layer, above the radar", ge=2.0, le=15.0)
    weak: float = quantity(20.0, units="dBZ", description="the low layer is weak under this", ge=-10.0, le=40.0)
    strong: float = quantity(45.0, units="dBZ", description="the mid layer overhangs at or above this",
                             ge=20.0, le=70.0)
    core: float = quantity(45.0, units="dBZ", description="reflectivity of the low-level core a region must "
                           "border", ge=20.0, le=70.0)
    max_core_gap: float = quantity(4.0, units="km", description="largest distance from a region to that core",
                                   ge=0.0, le=20.0)
    min_area: float = quantity(5.0, units="km^2", description="smallest region kept", ge=1.0, le=1000.0)


WER_OUTPUTS = {"wer_flag": "", "wer_count": "1", "wer_area": "km^2", "wer_overhang_reflectivity": "dBZ",
               "wer_low_reflectivity": "dBZ", **_where_units("wer"), "nearest_wer_area": "km^2",
               **place_units("nearest_wer"), "wer_outside_window": "1", "sampled_area": "km^2"}


@tool(category="radar", outputs=windowed(WER_OUTPUTS), example={}, needs=NEEDS)
def detect_weak_echo_region(args: WeakEchoInput, ctx: ToolContext) -> ToolOutput:
    """Weak-echo regions under an echo overhang: a strong, tilted updraft's inflow notch.

    In each column of the radar-centred grid the strongest echo of the gates below
    ``low_top`` (2 km above the radar) and of those between ``mid_bottom`` and ``mid_top``
    (4-7 km) are compared: weak low-level echo (under ``weak``, 20 dBZ) beneath strong echo
    aloft (``strong``, 45 dBZ or more), in a region of ``min_area`` (5 km2) or more within
    ``max_core_gap`` (4 km) of a low-level core of ``core`` dBZ, is a weak-echo region,
    "bounded by stronger echoes above and on one side" (Lemon 1980; Lemon and Doswell 1979:
    the weak-echo region of a supercell is its updraft). The search is
    :func:`hvrmet.calc.radar.weak_echo_regions`; the thresholds are hvrmet's reading of
    those descriptions. Only regions centred inside the window count: the largest
    (``wer_*``: area, strongest echo aloft, strongest low-level echo in it, where, distance
    and bearing from the place) and the nearest. The low layer is seen only where the
    lowest beam stays under ``low_top`` (about 125 km from the radar for a 0.5 degree
    tilt): ``sampled_area`` says how much of the window was seen. Partial beam blockage can
    mimic a weak echo under echo aloft; a bounded weak-echo region is not told apart from
    one bounded on a side.
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    if args.mid_bottom >= args.mid_top or args.mid_bottom < args.low_top:
        raise ValueError(f"the mid layer ({args.mid_bottom:g}-{args.mid_top:g} km) must lie above the low layer "
                         f"(top {args.low_top:g} km) with its bottom below its top")
    res = rc.weak_echo_regions(ds, low_top_m=args.low_top * 1000.0,
                               mid_layer_m=(args.mid_bottom * 1000.0, args.mid_top * 1000.0), weak_dbz=args.weak,
                               strong_dbz=args.strong, core_dbz=args.core, max_core_gap_m=args.max_core_gap * 1000.0,
                               min_area_km2=args.min_area, resolution_m=args.resolution * 1000.0,
                               max_range_m=args.max_range * 1000.0)
    sampled = float((win.mask(res["lat"], res["lon"]) & res["sampled"]).sum()) * args.resolution ** 2
    if sampled == 0:
        angles = ", ".join(f"{rc.fixed_angle(ds[n].ds):.1f}" for n in rc.sweeps_with(ds, "reflectivity"))
        raise VariableMissing(ds.attrs.get("source_file"),
                              f"no column {win.area_text()} is seen both below {args.low_top:g} km and "
                              f"{args.mid_bottom:g}-{args.mid_top:g} km above the radar (reflectivity PPIs at "
                              f"{angles} deg): a weak-echo region cannot be looked for")
    every = [dict(r) for r in res["regions"]]
    if every:
        d, b = win.locate([r["lat"] for r in every], [r["lon"] for r in every])
        inside = win.mask(np.array([r["lat"] for r in every]), np.array([r["lon"] for r in every]))
        for r, di, bi, ok in zip(every, d, b, inside):
            r.update(distance_km=_r(float(di), 1), bearing=_r(float(bi), 0), in_window=bool(ok))
    regions = [r for r in every if r["in_window"]]
    top = regions[0] if regions else None
    near = min(regions, key=lambda r: r["distance_km"]) if regions else {}
    g = top or {}
    values = {"wer_flag": Value(value=bool(regions)),
              "wer_count": Value(value=len(regions), units="1", note="weak-echo regions centred inside the window"),
              "wer_area": Value(value=g.get("area_km2"), units="km^2"),
              "wer_overhang_reflectivity": Value(value=g.get("mid_max_dbz"), units="dBZ",
                                                 note=f"strongest echo {args.mid_bottom:g}-{args.mid_top:g} km above "
                                                      "the radar over the region"),
              "wer_low_reflectivity": Value(value=g.get("low_max_dbz"), units="dBZ",
                                            note=f"strongest echo below {args.low_top:g} km in the region "
                                                 "(none: no echo at all)"),
              **_where("wer", top, win),
              "nearest_wer_area": Value(value=near.get("area_km2"), units="km^2"),
              **_from_place("nearest_wer", near, win),
              "wer_outside_window": Value(value=len(every) - len(regions), units="1"),
              "sampled_area": Value(value=round(sampled, 1), units="km^2",
                                    note="area inside the window where both layers are seen")}
    warnings = []
    if len(every) > len(regions):
        out = [r for r in every if not r["in_window"]]
        far = min(out, key=lambda r: r["distance_km"])
        warnings.append(f"{len(out)} of {len(every)} weak-echo regions lie outside the window ({win.area_text()}) "
                        f"and are not counted; the nearest of them {far['distance_km']:.0f} km from the place")
    if top:
        summary = (f"{_site(ds)} {win.area_text()}: {len(regions)} weak-echo region(s) under an echo overhang; the "
                   f"largest {top['area_km2']:.0f} km2, echo below {args.weak:g} dBZ under {top['mid_max_dbz']:.1f} "
                   f"dBZ aloft, at {top['range_km']:.0f} km, {top['azimuth']:.0f} deg from the radar, "
                   f"{top['distance_km']:.0f} km at {top['bearing']:.0f} deg from the place")
    else:
        summary = (f"{_site(ds)}: no weak-echo region under an echo overhang {win.area_text()} "
                   f"({sampled:.0f} km2 of it seen in both layers)")
    return win.finish(ToolOutput(values=values, summary=summary, warnings=warnings, table=every))


def _freezing_level_msl(args: HailInput, ctx: ToolContext, ds) -> tuple[float, str, list[str]]:
    notes: list[str] = []
    if args.freezing_level is not None:
        if args.freezing_level_reference == "msl":
            return args.freezing_level, "given (MSL)", notes
        alt = rc.site_location(ds)[2]
        notes.append(f"given freezing level above ground taken above the radar site ({alt:.0f} m MSL)")
        return args.freezing_level + alt, "given (AGL)", notes
    if not ctx.has(args.sounding_role):
        raise VariableMissing(None, f"case {ctx.case.id!r} has no {args.sounding_role!r} role to take the "
                                    "freezing level from: give freezing_level explicitly")
    from hvrmet.tools.sounding_calc import diagnostics, profile_from_dataset

    snd = ctx.load(args.sounding_role)
    prof = profile_from_dataset(snd)
    fl_agl = diagnostics(prof)["freezing_level"][0]
    if not math.isfinite(fl_agl):
        raise DataError(snd.attrs.get("source_file"), "the sounding gives no freezing level")
    sfc = float(prof.z[0].to("m").m)
    notes.extend(prof.notes)
    notes.append(f"freezing level {fl_agl:.0f} m above ground at the sounding site ({sfc:.0f} m MSL)")
    return fl_agl + sfc, f"sounding {snd.attrs.get('station', '')}".strip(), notes


@tool(category="radar", outputs=windowed({"height_50dbz": "km", "freezing_level": "km",
                                          "height_50dbz_above_freezing": "km", "large_hail_flag": "",
                                          **_where_units("height_50dbz")}),
      example={}, needs=NEEDS)
def estimate_hail_proxy(args: HailInput, ctx: ToolContext) -> ToolOutput:
    """Hail proxy: height of the highest 50 dBZ echo above the environmental freezing level.

    The 50 dBZ echo top (highest beam-centre height with >= 50 dBZ, km MSL, gate-based) is
    compared with the 0 degC level, taken from the case's sounding
    (:func:`hvrmet.tools.sounding_calc.diagnostics`, above ground, plus the sounding's
    surface height) or given as ``freezing_level`` (above ground at the radar, or MSL).
    Donavon and Jungbluth (2007, Wea. Forecasting 22, 244-254) found the 50 dBZ echo
    reaching about 4 km or more above the freezing level a good discriminator of
    large (>= 1 in) hail; the flag uses ``large_hail_depth``. The 50 dBZ top is searched
    inside the window.
    """
    ds = _load(ctx, args.role, "reflectivity")
    win = _window(ctx, args, ds)
    fzl, source, notes = _freezing_level_msl(args, ctx, ds)
    grid = rc.echo_top_grid(ds, 50.0, args.resolution * 1000.0, args.max_range * 1000.0)
    hp = rc.hail_proxy(ds, fzl, large_hail_depth_m=args.large_hail_depth * 1000.0,
                       resolution_m=args.resolution * 1000.0, max_range_m=args.max_range * 1000.0,
                       mask=_grid_mask(grid, win))
    h50, where = hp["height_50dbz_m"], hp["where"]
    diff = hp["above_freezing_m"] / 1000.0
    values = {"height_50dbz": Value(value=_r(h50 / 1000.0, 2), units="km", note="above mean sea level"),
              "freezing_level": Value(value=_r(fzl / 1000.0, 2), units="km", note=f"above mean sea level; {source}"),
              "height_50dbz_above_freezing": Value(value=_r(diff, 2), units="km"),
              "large_hail_flag": Value(value=hp["large_hail"], units=""),
              **_where("height_50dbz", where, win)}
    if not math.isfinite(h50):
        notes.append("no echo reaches 50 dBZ")
        summary = f"{_site(ds)}: no 50 dBZ echo; freezing level {fzl / 1000:.1f} km MSL"
    else:
        summary = (f"{_site(ds)}: 50 dBZ echo to {h50 / 1000:.1f} km MSL, {diff:.1f} km above the freezing "
                   f"level ({fzl / 1000:.1f} km MSL): "
                   + ("large hail likely" if diff >= args.large_hail_depth else "below the large-hail guide")
                   + f" ({win.area_text()})")
    return win.finish(ToolOutput(values=values, summary=summary, warnings=notes))


@tool(category="radar", outputs=windowed({"debris_gate_count": "1", "debris_lat": "degree_north",
                                          "debris_lon": "degree_east", "min_correlation": "1",
                                          "couplet_rotational_velocity": "m/s", "couplet_lat": "degree_north",
                                          "couplet_lon": "degree_east", "debris_signature_flag": "",
                                          **place_units("debris")}),
      example={}, needs=NEEDS)
def detect_debris_signature(args: DebrisInput, ctx: ToolContext) -> ToolOutput:
    """Tornado debris signature: low correlation coefficient in echo at a velocity couplet.

    Needs dual-polarisation moments. On the low tilts (<= ``max_elevation``), beyond
    ``min_range`` (ground clutter), gates with cross-correlation ratio below
    ``max_correlation`` (0.8), reflectivity above ``debris_reflectivity`` (35 dBZ) and
    |ZDR| at most ``max_differential_reflectivity`` (1 dB) within ``debris_radius`` km of a
    mesocyclone-strength cyclonic couplet inside the window (as :func:`detect_rotation`) are
    counted
    (Ryzhkov et al. 2005, J. Appl. Meteor. 44, 557-570: rho_hv < 0.8, ZDR < 0.5 dB,
    Z > 45 dBZ at a vortex signature; Schultz et al. 2012, Wea. Forecasting 27, 1078-1094).
    The flag needs ``min_gates`` such gates (the counting is
    :func:`hvrmet.calc.radar.debris_signature`). A volume without dual-pol moments (a
    message-1 Level II file, say) is an error, not a guess.
    """
    ds = _load(ctx, args.role)
    if "cross_correlation_ratio" not in _moments(ds):
        raise VariableMissing(ds.attrs.get("source_file"),
                              "debris detection not possible: no dual-pol moments (cross_correlation_ratio) "
                              f"in this volume ({ds.attrs.get('format', '?')}"
                              + (f", message type {ds.attrs['message_type']}" if "message_type" in ds.attrs else "")
                              + f", moments {', '.join(_moments(ds))})")
    _load(ctx, args.role, "reflectivity", "radial_velocity")
    win = _window(ctx, args, ds)
    res = _couplets(ds, args, win)
    cps = [c for c in res["couplets"] if _is_meso(c, args)]
    deb = rc.debris_signature(ds, cps, max_correlation=args.max_correlation,
                              min_reflectivity=args.debris_reflectivity,
                              max_differential_reflectivity=args.max_differential_reflectivity,
                              radius_m=args.debris_radius * 1000.0, min_range_m=args.min_range * 1000.0,
                              max_elevation=args.max_elevation, min_gates=args.min_gates)
    c = deb["couplet"] or {}
    values = {"debris_gate_count": Value(value=deb["gates"], units="1"),
              "debris_lat": Value(value=_r(deb["lat"], 4), units="degree_north"),
              "debris_lon": Value(value=_r(deb["lon"], 4), units="degree_east"),
              "min_correlation": Value(value=_r(deb["min_correlation"], 3), units="1"),
              "couplet_rotational_velocity": Value(value=_r(c.get("vrot"), 2), units="m/s"),
              "couplet_lat": Value(value=_r(c.get("lat"), 4), units="degree_north"),
              "couplet_lon": Value(value=_r(c.get("lon"), 4), units="degree_east"),
              "debris_signature_flag": Value(value=deb["flag"], units=""),
              **_from_place("debris", {"lat": deb["lat"], "lon": deb["lon"]} if deb["gates"] else None, win)}
    warnings = [f"{deb['candidates']} low-correlation gates in echo on the low tilts; "
                f"{len(cps)} mesocyclone-strength couplet(s) to match them with; velocities not dealiased"]
    if not cps:
        summary = f"{_site(ds)}: no mesocyclone-strength couplet {win.area_text()}, so no debris signature"
    else:
        summary = (f"{_site(ds)}: {deb['gates']} debris-like gate(s) (CC < {args.max_correlation:g}, "
                   f"Z > {args.debris_reflectivity:g} dBZ) within {args.debris_radius:g} km of the couplet at "
                   f"({c['lat']:.3f}, {c['lon']:.3f}): "
                   + ("debris signature" if deb["flag"] else "no debris signature"))
    return win.finish(ToolOutput(values=values, summary=summary, warnings=warnings))
