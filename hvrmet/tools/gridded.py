"""Gridded-analysis tools: kinematic and thermodynamic diagnostics of an isobaric analysis.

Each tool reads the case's ``analysis`` role (or another role named by ``role``), takes its
fields from the field resolver (:func:`hvrmet.data.fields.fields_of`: CF standard names,
GRIB keys, MetPy's coordinate identification and the alias table, so any naming works),
takes one level and one time, computes with the functions of :mod:`hvrmet.calc.gridded`
(``metpy.calc`` with grid spacing and map factors from the grid's CRS) and reports extremes
with their latitude (degree_north) and longitude (degree_east, -180..180). An optional
lat/lon box limits where extremes are searched. Extremes of derivative fields poleward of
88 degrees are ignored (the grid spacing vanishes there).

Extremes are searched inside the window around the case's place and time
(:mod:`hvrmet.tools.window`, kind ``gridded``: 1500 km and 12 h either side by default;
``radius`` and ``time_window`` override it, a box given without a radius replaces the
radius). Left without ``time``, a tool takes the analysis time nearest the case's time; an
analysis valid outside the time window is used, flagged ``outside_time_window`` and
warned about. Every tool records its window among its values.

:func:`gridded_tools_for` says which of these tools can run on a file's fields.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from hvrmet.calc import gridded as gc
from hvrmet.calc.gridded import Box, extremum, valid_time
from hvrmet.data.fields import FieldSet, fields_of
from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import Window, windowed

__all__ = ["BoxInput", "REQUIREMENTS", "gridded_tools_for", "gridded_summary"]

DEG_N, DEG_E = "degree_north", "degree_east"
POLE = gc.POLE_LAT
U, V, T = "eastward_wind", "northward_wind", "air_temperature"
RH, Q = "relative_humidity", "specific_humidity"


class BoxInput(WindowInput):
    """A case, its search window and an optional lat/lon search box (the gridded and
    station tools share it; a box given without a radius replaces the window's radius)."""

    lat_min: float | None = quantity(None, units="degree_north", description="southern edge of the search box",
                                     ge=-90, le=90)
    lat_max: float | None = quantity(None, units="degree_north", description="northern edge of the search box",
                                     ge=-90, le=90)
    lon_min: float | None = quantity(None, units="degree_east", description="western edge of the search box "
                                     "(-180..360; west > east crosses the date line)", ge=-180, le=360)
    lon_max: float | None = quantity(None, units="degree_east", description="eastern edge of the search box",
                                     ge=-180, le=360)

    def box(self) -> Box:
        """The search box."""
        return Box(self.lat_min, self.lat_max, self.lon_min, self.lon_max)


class GriddedInput(BoxInput):
    """A case, the role of its gridded analysis, a valid time and an optional search box."""

    role: str = Field("analysis", description="case role of the gridded analysis")
    time: str | None = Field(None, description="valid time (ISO 8601, UTC) when the analysis has "
                                               "several; the first time when omitted")


class LevelInput(GriddedInput):
    """A gridded analysis, a pressure level, a time and an optional search box."""

    level: float = quantity(500.0, units="hPa", description="isobaric level", ge=1, le=1100)


class LowLevelInput(LevelInput):
    """A gridded analysis at a lower-tropospheric level (850 hPa by default)."""

    level: float = quantity(850.0, units="hPa", description="isobaric level", ge=1, le=1100)


class JetInput(LevelInput):
    """A gridded analysis at a jet-stream level (250 hPa by default)."""

    level: float = quantity(250.0, units="hPa", description="isobaric level of the jet", ge=1, le=1100)


class ColumnInput(GriddedInput):
    """A gridded analysis and the pressure layer to integrate over."""

    bottom: float = quantity(1000.0, units="hPa", description="bottom of the layer", ge=100, le=1100)
    top: float = quantity(100.0, units="hPa", description="top of the layer", ge=1, le=1000)


class MoistureFluxInput(LowLevelInput):
    """A level for the level diagnostic and a layer for the column-integrated one."""

    bottom: float = quantity(1000.0, units="hPa", description="bottom of the integrated layer",
                             ge=100, le=1100)
    top: float = quantity(300.0, units="hPa", description="top of the integrated layer", ge=1, le=1000)


class AnomalyInput(LevelInput):
    """A field of the analysis at a level, compared with the climatology of its month."""

    field: Literal["geopotential_height"] = Field("geopotential_height",
                                                  description="field whose anomaly is computed")
    climatology_role: str = Field("climatology", description="case role of the monthly climatology")


# ------------------------------------------------------------------------------- which tools
#: What each gridded tool needs: alternatives, each a list of (field, minimum number of
#: pressure levels, 0 for a single-level field); the fields of one alternative on
#: pressure levels must share that many levels.
REQUIREMENTS: dict[str, list[list[tuple[str, int]]]] = {
    "compute_vorticity": [[(U, 1), (V, 1)]],
    "compute_divergence": [[(U, 1), (V, 1)]],
    "compute_temperature_advection": [[(U, 1), (V, 1), (T, 1)]],
    "compute_moisture_advection": [[(U, 1), (V, 1), (T, 1), (Q, 1)], [(U, 1), (V, 1), (T, 1), (RH, 1)]],
    "compute_frontogenesis": [[(U, 1), (V, 1), (T, 1)]],
    "compute_qvector_convergence": [[(U, 1), (V, 1), (T, 2)]],
    "compute_moisture_flux_convergence": [[(U, 2), (V, 2), (T, 1), (Q, 2)], [(U, 2), (V, 2), (T, 2), (RH, 2)]],
    "compute_gridded_precipitable_water": [[(Q, 2)], [(T, 2), (RH, 2)]],
    "find_pressure_minimum": [[("mslp", 0)]],
    "find_jet_maxima": [[(U, 1), (V, 1)]],
    "compute_field_anomaly": [[("geopotential_height", 1)]],
    "plot_field_map": [[(f, 0)] for f in ("mslp", "geopotential_height", T, RH, U, "temperature_2m", "dew_point_2m",
                                          "surface_pressure", "precipitation_rate", "precipitation_amount", "cape",
                                          "cin", "precipitable_water", Q, "dew_point", "wind_speed")],
}
_NOTES = {"compute_field_anomaly": "also needs a climatology role with geopotential (height) of the same month",
          "compute_moisture_advection": "uses specific humidity when present, else RH and T",
          "compute_gridded_precipitable_water": "uses specific humidity when present, else RH and T",
          "plot_field_map": "draws any field found (by its field name) or any variable of the file"}


def gridded_tools_for(fs: FieldSet) -> list[dict]:
    """Which gridded tools can run on the fields of one file, and why not.

    Parameters
    ----------
    fs
        The file's fields (:func:`hvrmet.data.fields.fields_of`).

    Returns
    -------
    list of dict
        One per tool of :data:`REQUIREMENTS`: ``tool``, ``can_run``, ``fields`` (those it
        would use), ``missing`` (why not, '' when it can run) and ``note``.
    """
    out = []
    for name, alternatives in REQUIREMENTS.items():
        reasons, use = [], None
        for alt in alternatives:
            lacks = [f for f, n in alt if not fs.has(f, min_levels=n)]
            if lacks:
                reasons.append("no " + " and ".join(f"{f}{f' on {n}+ levels' if n > 1 else ''}" for f in lacks
                                                    for n in [dict(alt)[f]]))
                continue
            lv = [set(np.round(fs.found[f].levels, 3)) for f, n in alt if n > 0]
            need = max([n for _, n in alt] + [0])
            common = set.intersection(*lv) if lv else set()
            if lv and len(common) < need:
                reasons.append(f"{', '.join(f for f, n in alt if n)} share only {len(common)} level(s)")
                continue
            use = [f for f, _ in alt]
            break
        out.append({"tool": name, "can_run": use is not None, "fields": use or [],
                    "missing": "" if use is not None else "; or ".join(dict.fromkeys(reasons)),
                    "note": _NOTES.get(name, "")})
    return out


def gridded_summary(ds) -> dict | None:
    """What ``hvrmet cases show`` prints for a gridded file (``None`` for other data).

    Returns
    -------
    dict or None
        ``found`` (one dict per field: field, variable, rule, units, levels, warnings),
        ``missing`` (field -> reason), ``unused`` (variable -> reason) and ``tools``
        (:func:`gridded_tools_for`), for a dataset read by the ``netcdf`` or ``grib`` reader.
    """
    if not isinstance(ds, xr.Dataset) or (ds.attrs.get("hvrmet_reader") not in ("netcdf", "grib")
                                          and "hvrmet_fields" not in ds.attrs):
        return None
    fs = fields_of(ds)
    found = [{**m.as_dict(), "levels": m.levels_text()} for m in fs.found.values()]
    return {"found": found, "missing": dict(fs.missing), "unused": dict(fs.unused), "tools": gridded_tools_for(fs)}


# ---------------------------------------------------------------------------------- adapters
def _fields(ctx: ToolContext, role: str) -> FieldSet:
    return fields_of(ctx.load(role))


def _analysis_times(fs: FieldSet) -> pd.DatetimeIndex:
    """The valid times of the analysis (of its first field with a time axis)."""
    for da in fs.arrays.values():
        dim = gc.time_dim(da)
        if dim is not None:
            return pd.DatetimeIndex(da[dim].values)
    return pd.DatetimeIndex([])


def _setup(ctx: ToolContext, args: GriddedInput) -> tuple[FieldSet, GriddedInput, Window]:
    """The analysis's fields, the arguments with the valid time to use, and the window.

    Left without ``time``, an analysis of several times is taken at the time nearest the
    case's time (said in the window's warnings)."""
    fs = _fields(ctx, args.role)
    win = ctx.window("gridded", args, box=args.box())
    if args.time is None and win.center_time is not None:
        times = _analysis_times(fs)
        if len(times) > 1:
            i = int(np.argmin(np.abs((times - win.center_time).total_seconds())))
            args = args.model_copy(update={"time": times[i].isoformat()})
            win.warnings.append(f"{len(times)} times in the analysis; used the one nearest the case's time, "
                                f"{times[i]:%Y-%m-%d %H:%M} UTC (pass 'time' to choose)")
    return fs, args, win


def _done(win: Window, out: ToolOutput) -> ToolOutput:
    """Record the window (its values and warnings) in a gridded tool's output, with the
    analysis's valid time as the data time."""
    when = out.values.get("valid_time")
    win.at(when.value if when is not None and when.value else None, "the analysis")
    return win.finish(out)


def _level(fs: FieldSet, name: str, args: LevelInput | GriddedInput, units: str | None,
           level: float | None = None) -> tuple[xr.DataArray, list[str]]:
    lev = level if level is not None else getattr(args, "level", None)
    return gc.at_level(fs.get(name), lev, args.time, units_out=units, path=fs.source)


def _wind(fs: FieldSet, args: LevelInput) -> tuple[xr.DataArray, xr.DataArray, list[str]]:
    u, notes = _level(fs, U, args, "m/s")
    v, _ = _level(fs, V, args, "m/s")
    return u, v, notes + [w for f in (U, V) for w in fs.found[f].warnings]


def _moisture_at(fs: FieldSet, args: LevelInput, t: xr.DataArray) -> tuple[xr.DataArray, str]:
    if fs.has(Q):
        try:
            q, _ = _level(fs, Q, args, "kg/kg")
            return gc.moisture(args.level, specific_humidity=q)
        except VariableMissing:
            if not fs.has(RH):
                raise
    rh, _ = _level(fs, RH, args, "percent")
    return gc.moisture(args.level, t, rh)


def _ground(fs: FieldSet, when: str | None, proto: xr.DataArray) -> tuple[np.ndarray | None, list[str]]:
    """Ground pressure (hPa) for column integrals: surface pressure, else MSLP, else none."""
    dims = [d for d in proto.dims if d != "pressure"]
    for name, note in (("surface_pressure", "levels with pressure above the surface pressure (below the ground) "
                                            "are left out of the integral"),
                       ("mslp", "levels with pressure above the mean-sea-level pressure (below the ground) are left "
                                "out of the integral; over high terrain, levels below the ground (extrapolated by "
                                "the model) still count, since the analysis has no surface pressure")):
        if fs.has(name):
            try:
                p, _ = gc.at_level(fs.get(name), None, when, units_out="hPa", path=fs.source)
            except VariableMissing:
                continue
            return p.transpose(*dims).metpy.unit_array.m, [note]
    return None, ["the analysis has no surface or sea-level pressure: levels below the ground "
                  "(extrapolated by the model) are included in the integral"]


def _sig(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else float(f"{x:.{digits}g}")


def _located(values: dict[str, Value], prefix: str, ext: tuple, units: str, digits: int = 4) -> None:
    """Put an extreme (value, lat, lon) into ``values`` as ``prefix``, ``prefix_lat``, ``prefix_lon``."""
    val, lat, lon, _ = ext
    values[prefix] = Value(value=_sig(val, digits), units=units)
    values[f"{prefix}_lat"] = Value(value=None if lat is None else round(lat, 2), units=DEG_N)
    values[f"{prefix}_lon"] = Value(value=None if lon is None else round(lon, 2), units=DEG_E)


def _outs(prefix: str, units: str) -> dict[str, str]:
    return {prefix: units, f"{prefix}_lat": DEG_N, f"{prefix}_lon": DEG_E}


def _at(ext: tuple, fmt: str, units: str) -> str:
    val, lat, lon, _ = ext
    if val is None:
        return "n/a"
    return f"{val:{fmt}} {units} at {lat:.1f}N {lon:.1f}E"


def _level_extremes(values: dict[str, Value], da, args: LevelInput, box: Box, units: str, hi: str, lo: str,
                    ref: xr.DataArray) -> tuple[tuple, tuple]:
    """The field's located maximum (as ``hi``) and minimum (as ``lo``) in ``units``, away
    from the poles and the grid border, then the level and the valid time of ``ref``."""
    e_hi = extremum(da, "max", box=box, units_out=units, max_abs_lat=POLE, skip_border=True)
    e_lo = extremum(da, "min", box=box, units_out=units, max_abs_lat=POLE, skip_border=True)
    _located(values, hi, e_hi, units)
    _located(values, lo, e_lo, units)
    values["level"] = Value(value=args.level, units="hPa")
    values["valid_time"] = Value(value=valid_time(ref))
    return e_hi, e_lo


def _edge_note(name: str, ext: tuple) -> list[str]:
    return [f"the {name} lies on the edge of the grid or search box: the true extreme may lie "
            "outside it"] if ext[3] else []


# ---------------------------------------------------------------------------------------------
@tool(category="gridded",
      outputs=windowed({**_outs("max_relative_vorticity", "1/s"), **_outs("min_relative_vorticity", "1/s"),
               **_outs("max_absolute_vorticity", "1/s"), "level": "hPa", "valid_time": ""}),
      example={"level": 500}, needs=("analysis",))
def compute_vorticity(args: LevelInput, ctx: ToolContext) -> ToolOutput:
    """Relative and absolute vorticity at a pressure level: extremes and where (1/s).

    ``metpy.calc.vorticity`` on the level's u and v wind (spherical grid spacing and map
    factors from the grid's CRS), plus ``metpy.calc.coriolis_parameter`` for the absolute
    vorticity (what ``metpy.calc.absolute_vorticity`` does). In the northern
    hemisphere the maximum is cyclonic; in the southern hemisphere the minimum is.
    """
    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    rel, ab = gc.vorticity(u, v)
    box = win
    e_max = extremum(rel, "max", box=box, units_out="1/s", max_abs_lat=POLE, skip_border=True)
    e_min = extremum(rel, "min", box=box, units_out="1/s", max_abs_lat=POLE, skip_border=True)
    e_abs = extremum(ab, "max", box=box, units_out="1/s", max_abs_lat=POLE, skip_border=True)
    values: dict[str, Value] = {}
    _located(values, "max_relative_vorticity", e_max, "1/s")
    _located(values, "min_relative_vorticity", e_min, "1/s")
    _located(values, "max_absolute_vorticity", e_abs, "1/s")
    values["level"] = Value(value=args.level, units="hPa")
    values["valid_time"] = Value(value=valid_time(u))
    return _done(win, ToolOutput(values=values, warnings=notes + _edge_note("vorticity maximum", e_max),
                      summary=f"{args.level:g} hPa {valid_time(u)}{box.describe()}: max relative "
                              f"vorticity {_at(e_max, '.3g', '1/s')}; max absolute {_at(e_abs, '.3g', '1/s')}"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_divergence", "1/s"), **_outs("max_convergence", "1/s"), "level": "hPa",
               "valid_time": ""}),
      example={"level": 300}, needs=("analysis",))
def compute_divergence(args: LevelInput, ctx: ToolContext) -> ToolOutput:
    """Horizontal divergence at a pressure level: strongest divergence and convergence (1/s).

    ``metpy.calc.divergence`` of the level's wind. ``max_convergence`` is the most negative
    divergence (reported as a negative number).
    """
    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    div = gc.divergence(u, v)
    box = win
    values: dict[str, Value] = {}
    e_hi, e_lo = _level_extremes(values, div, args, box, "1/s", "max_divergence", "max_convergence", u)
    return _done(win, ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(u)}{box.describe()}: divergence max "
                              f"{_at(e_hi, '.3g', '1/s')}; convergence max {_at(e_lo, '.3g', '1/s')}"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_warm_advection", "K/h"), **_outs("max_cold_advection", "K/h"), "level": "hPa",
               "valid_time": ""}),
      example={"level": 850}, needs=("analysis",))
def compute_temperature_advection(args: LowLevelInput, ctx: ToolContext) -> ToolOutput:
    """Horizontal temperature advection at a level: strongest warm and cold advection (K/h).

    ``metpy.calc.advection`` of temperature by the level's wind (-V . grad T).
    ``max_cold_advection`` is the most negative value.
    """
    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    t, _ = _level(fs, T, args, "K")
    adv = gc.advection(t, u, v)
    box = win
    values: dict[str, Value] = {}
    e_w, e_c = _level_extremes(values, adv, args, box, "K/h", "max_warm_advection", "max_cold_advection", t)
    return _done(win, ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(t)}{box.describe()}: warm advection max "
                              f"{_at(e_w, '.2f', 'K/h')}; cold advection max {_at(e_c, '.2f', 'K/h')}"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_moistening", "g/kg/h"), **_outs("max_drying", "g/kg/h"), "moisture_variable": "",
               "level": "hPa", "valid_time": ""}),
      example={"level": 850}, needs=("analysis",))
def compute_moisture_advection(args: LowLevelInput, ctx: ToolContext) -> ToolOutput:
    """Horizontal moisture advection at a level: strongest moist and dry advection (g/kg/h).

    ``metpy.calc.advection`` of specific humidity when the analysis has it, else of the
    mixing ratio from ``metpy.calc.mixing_ratio_from_relative_humidity`` (RH and T at the
    level); ``moisture_variable`` says which. ``max_drying`` is the most negative value.
    """
    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    t, _ = _level(fs, T, args, "K")
    q, which = _moisture_at(fs, args, t)
    adv = gc.advection(q, u, v)
    box = win
    values: dict[str, Value] = {}
    e_m, e_d = _level_extremes(values, adv, args, box, "g/kg/h", "max_moistening", "max_drying", t)
    values["moisture_variable"] = Value(value=which)
    return _done(win, ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {which} advection{box.describe()}: moistening max "
                              f"{_at(e_m, '.3f', 'g/kg/h')}; drying max {_at(e_d, '.3f', 'g/kg/h')}"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_frontogenesis", "K/m/s"), **_outs("max_frontolysis", "K/m/s"), "level": "hPa",
               "valid_time": ""}),
      example={"level": 850}, needs=("analysis",))
def compute_frontogenesis(args: LowLevelInput, ctx: ToolContext) -> ToolOutput:
    """Petterssen 2-D frontogenesis of potential temperature at a level (K/m/s).

    ``metpy.calc.frontogenesis`` of ``metpy.calc.potential_temperature`` with the level's
    wind. Multiply by 1.08e9 for the customary K/100 km/3 h. ``max_frontolysis`` is the most
    negative value.
    """
    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    t, _ = _level(fs, T, args, "K")
    fg = gc.frontogenesis(t, u, v, args.level)
    box = win
    values: dict[str, Value] = {}
    e_g, _ = _level_extremes(values, fg, args, box, "K/m/s", "max_frontogenesis", "max_frontolysis", t)
    conv = "" if e_g[0] is None else f" ({e_g[0] * 1.08e9:.2f} K/100km/3h)"
    return _done(win, ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(t)}{box.describe()}: frontogenesis max "
                              f"{_at(e_g, '.3g', 'K/m/s')}{conv}"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_qvector_convergence", "Pa/m^2/s"), **_outs("min_qvector_convergence", "Pa/m^2/s"),
               "level": "hPa", "valid_time": ""}),
      example={"level": 500}, needs=("analysis",))
def compute_qvector_convergence(args: LevelInput, ctx: ToolContext) -> ToolOutput:
    """Q-vector convergence, -2 div Q, at a level: strongest forcing for ascent and descent.

    ``metpy.calc.q_vector`` with the static stability of ``metpy.calc.static_stability``
    (computed on the temperature column, then taken at the level), and
    ``metpy.calc.divergence`` of Q. Positive -2 div Q forces ascent (quasi-geostrophic
    omega equation; Hoskins, Draghici and Davies 1978). Units Pa/m2/s.
    """
    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    t, _ = _level(fs, T, args, "K")
    col, _ = gc.common_levels({T: fs.get(T)}, 1100.0, 1.0, args.time, path=fs.source)
    conv = gc.qvector_convergence(u, v, t, args.level, col[T])
    box = win
    values: dict[str, Value] = {}
    e_hi, e_lo = _level_extremes(values, conv, args, box, "Pa/m^2/s", "max_qvector_convergence",
                                 "min_qvector_convergence", t)
    return _done(win, ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(t)}{box.describe()}: -2 div Q max (ascent) "
                              f"{_at(e_hi, '.3g', 'Pa/m2/s')}; min (descent) {_at(e_lo, '.3g', 'Pa/m2/s')}"))


@tool(category="gridded",
      outputs=windowed({**_outs("level_max_convergence", "g/kg/h"), **_outs("column_max_convergence", "mm/day"),
               **_outs("column_max_divergence", "mm/day"), "level": "hPa", "column_bottom": "hPa",
               "column_top": "hPa", "moisture_variable": "", "valid_time": ""}),
      example={"level": 850}, needs=("analysis",))
def compute_moisture_flux_convergence(args: MoistureFluxInput, ctx: ToolContext) -> ToolOutput:
    """Moisture flux convergence, both at a level and integrated over a pressure layer.

    At the level: -div(q V) from ``metpy.calc.divergence`` of (q u, q v), in g/kg/h.
    Column: -(1/g) times the pressure integral (trapezoid) of div(q V) from ``bottom`` to
    ``top``, in mm/day (kg/m2/day), on the levels where both wind and humidity exist;
    ``column_bottom``/``column_top`` are the levels used (levels whose pressure exceeds the
    surface pressure, or the mean-sea-level pressure when the analysis has no surface
    pressure, are left out). q is specific humidity if the analysis has it, else the
    mixing ratio from RH and T.
    """
    import metpy.calc as mpcalc

    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    t, _ = _level(fs, T, args, "K")
    q, which = _moisture_at(fs, args, t)
    box = win
    mfc = gc.moisture_flux_convergence(q, u, v)
    e_lvl = extremum(mfc, "max", box=box, units_out="g/kg/h", max_abs_lat=POLE, skip_border=True)

    has_q = which == "specific humidity"
    kinds = [U, V] + ([Q] if has_q else [T, RH])
    col, _ = gc.common_levels({k: fs.get(k) for k in kinds}, args.bottom, args.top, args.time, path=fs.source)
    if has_q:
        q3, _ = gc.moisture(None, specific_humidity=col[Q])
    else:
        q3 = mpcalc.mixing_ratio_from_relative_humidity(gc.pressure_array(col[U]), col[T], col[RH])
    ground, n_int = _ground(fs, args.time, col[U])
    col2d = gc.column_moisture_flux_convergence(q3, col[U], col[V], ground)
    e_cc = extremum(col2d, "max", box=box, max_abs_lat=POLE, skip_border=True)
    e_cd = extremum(col2d, "min", box=box, max_abs_lat=POLE, skip_border=True)
    lv = gc.level_values(col[U])
    values: dict[str, Value] = {}
    _located(values, "level_max_convergence", e_lvl, "g/kg/h")
    _located(values, "column_max_convergence", e_cc, "mm/day")
    _located(values, "column_max_divergence", e_cd, "mm/day")
    values.update(level=Value(value=args.level, units="hPa"), column_bottom=Value(value=max(lv), units="hPa"),
                  column_top=Value(value=min(lv), units="hPa"), moisture_variable=Value(value=which),
                  valid_time=Value(value=valid_time(t)))
    return _done(win, ToolOutput(values=values, warnings=notes + n_int,
                      summary=f"{valid_time(t)}{box.describe()}: {args.level:g} hPa moisture flux convergence "
                              f"max {_at(e_lvl, '.3f', 'g/kg/h')}; {max(lv):g}-{min(lv):g} hPa column max "
                              f"{_at(e_cc, '.1f', 'mm/day')}"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_precipitable_water", "mm"), "mean_precipitable_water": "mm", "column_bottom": "hPa",
               "column_top": "hPa", "valid_time": ""}),
      example={}, needs=("analysis",))
def compute_gridded_precipitable_water(args: ColumnInput, ctx: ToolContext) -> ToolOutput:
    """Column precipitable water of the analysis from humidity on levels: maximum and where (mm).

    The mixing ratio (from specific humidity with
    ``metpy.calc.mixing_ratio_from_specific_humidity`` when the analysis has it, else from
    RH and T with ``metpy.calc.mixing_ratio_from_relative_humidity``) integrated over
    pressure as in ``metpy.calc.precipitable_water``: PW = (1/(rho_w g)) int w dp
    (trapezoid), vectorised over the grid, from ``bottom`` to ``top``, leaving out levels
    whose pressure exceeds the surface pressure (or the mean-sea-level pressure).
    ``mean_precipitable_water`` is the cos(latitude)-weighted mean over the box.
    """
    import metpy.calc as mpcalc

    fs, args, win = _setup(ctx, args)
    if fs.has(Q, min_levels=2):
        col, notes = gc.common_levels({Q: fs.get(Q)}, args.bottom, args.top, args.time, path=fs.source)
        w = mpcalc.mixing_ratio_from_specific_humidity(col[Q])
        ref = col[Q]
    else:
        col, notes = gc.common_levels({T: fs.get(T), RH: fs.get(RH)}, args.bottom, args.top, args.time,
                                      path=fs.source)
        w = mpcalc.mixing_ratio_from_relative_humidity(gc.pressure_array(col[T]), col[T], col[RH])
        ref = col[T]
    ground, n_int = _ground(fs, args.time, w)
    pw2d = gc.precipitable_water(w, ground)
    box = win
    e = extremum(pw2d, "max", box=box)
    mean = gc.weighted_mean(pw2d, box)
    lv = gc.level_values(ref)
    values: dict[str, Value] = {}
    _located(values, "max_precipitable_water", e, "mm")
    values.update(mean_precipitable_water=Value(value=_sig(mean), units="mm"),
                  column_bottom=Value(value=max(lv), units="hPa"), column_top=Value(value=min(lv), units="hPa"),
                  valid_time=Value(value=valid_time(pw2d)))
    return _done(win, ToolOutput(values=values, warnings=notes + n_int + _edge_note("precipitable-water maximum", e),
                      summary=f"{valid_time(pw2d)}{box.describe()}: precipitable water max {_at(e, '.1f', 'mm')} "
                              f"({max(lv):g}-{min(lv):g} hPa); mean {mean or float('nan'):.1f} mm"))


@tool(category="gridded",
      outputs=windowed({**_outs("min_pressure", "hPa"), "on_edge": "", "valid_time": ""}),
      example={}, needs=("analysis",))
def find_pressure_minimum(args: GriddedInput, ctx: ToolContext) -> ToolOutput:
    """Lowest mean-sea-level pressure of the analysis (hPa) and where, optionally in a box.

    The grid-point minimum of the MSLP field (no sub-grid fitting); ``on_edge`` is true
    when it lies on the border of the grid or box, where it may not be a closed low.
    """
    fs, args, win = _setup(ctx, args)
    p, notes = _level(fs, "mslp", args, "hPa", level=None)
    notes = notes + list(fs.found["mslp"].warnings)
    box = win
    e = extremum(p, "min", box=box)
    values: dict[str, Value] = {}
    _located(values, "min_pressure", e, "hPa", digits=6)
    values["min_pressure"] = Value(value=None if e[0] is None else round(e[0], 1), units="hPa")
    values["on_edge"] = Value(value=bool(e[3]))
    values["valid_time"] = Value(value=valid_time(p))
    return _done(win, ToolOutput(values=values, warnings=notes + _edge_note("pressure minimum", e),
                      summary=f"{valid_time(p)}{box.describe()}: lowest MSLP {_at(e, '.1f', 'hPa')}"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_wind_speed", "m/s"), "max_wind_speed_knots": "knot", "level": "hPa",
               "valid_time": ""}),
      example={"level": 250}, needs=("analysis",))
def find_jet_maxima(args: JetInput, ctx: ToolContext) -> ToolOutput:
    """Strongest wind at a level (jet streak), in m/s and knots, and where.

    ``metpy.calc.wind_speed`` of the level's u and v; the grid-point maximum.
    """
    from metpy.units import units

    fs, args, win = _setup(ctx, args)
    u, v, notes = _wind(fs, args)
    spd = gc.wind_speed(u, v)
    box = win
    e = extremum(spd, "max", box=box, units_out="m/s")
    values: dict[str, Value] = {}
    _located(values, "max_wind_speed", e, "m/s")
    values["max_wind_speed"] = Value(value=None if e[0] is None else round(e[0], 1), units="m/s")
    kt = None if e[0] is None else round(float(units.Quantity(e[0], "m/s").to("knot").m), 1)
    values["max_wind_speed_knots"] = Value(value=kt, units="knot")
    values["level"] = Value(value=args.level, units="hPa")
    values["valid_time"] = Value(value=valid_time(u))
    return _done(win, ToolOutput(values=values, warnings=notes + _edge_note("wind maximum", e),
                      summary=f"{args.level:g} hPa {valid_time(u)}{box.describe()}: strongest wind "
                              f"{_at(e, '.1f', 'm/s')} ({kt} kt)"))


@tool(category="gridded",
      outputs=windowed({**_outs("max_anomaly", "m"), **_outs("min_anomaly", "m"), "mean_anomaly": "m",
               "climatology_month": "1", "climatology_interpolated": "", "level": "hPa", "valid_time": ""}),
      example={"level": 300}, needs=("analysis", "climatology"))
def compute_field_anomaly(args: AnomalyInput, ctx: ToolContext) -> ToolOutput:
    """Anomaly of the geopotential height at a level against the monthly climatology (m).

    The analysis field minus the climatology (role ``climatology``) of the analysis's
    calendar month, bilinearly interpolated onto the analysis grid; geopotential (m2/s2)
    is divided by g. A month the climatology lacks is an error listing the months it has;
    a level it lacks but brackets is interpolated (see the warning). Reports the largest
    positive and negative anomalies, where, and the cos(latitude)-weighted mean in the box.
    """
    fs, args, win = _setup(ctx, args)
    ana, notes = _level(fs, args.field, args, "m")
    when = valid_time(ana)
    if not when:
        raise VariableMissing(fs.source, "the analysis has no valid time, so its calendar month is unknown")
    month = pd.Timestamp(when).month
    cfs = _fields(ctx, args.climatology_role)
    clim = cfs.get(args.field).metpy.quantify().metpy.convert_units("m").metpy.dequantify()
    clim = gc.climatology_month(clim, month, path=cfs.source)
    clim, n2 = gc.climatology_level(clim, args.level, path=cfs.source)
    notes += n2
    anom = ana.metpy.dequantify().copy(data=ana.metpy.unit_array.m_as("m") - gc.to_grid(clim, ana))
    anom.attrs["units"] = "m"
    box = win
    e_hi, e_lo = extremum(anom, "max", box=box), extremum(anom, "min", box=box)
    mean = gc.weighted_mean(anom, box)
    values: dict[str, Value] = {}
    _located(values, "max_anomaly", e_hi, "m")
    _located(values, "min_anomaly", e_lo, "m")
    for k in ("max_anomaly", "min_anomaly"):
        values[k] = Value(value=None if values[k].value is None else round(values[k].value, 1), units="m")
    values.update(mean_anomaly=Value(value=None if mean is None else round(mean, 1), units="m"),
                  climatology_month=Value(value=month, units="1"),
                  climatology_interpolated=Value(value=bool(n2)),
                  level=Value(value=args.level, units="hPa"), valid_time=Value(value=when))
    big = e_hi if abs(e_hi[0] or 0) >= abs(e_lo[0] or 0) else e_lo
    return _done(win, ToolOutput(values=values, warnings=notes + _edge_note("largest anomaly", big),
                      summary=f"{args.level:g} hPa height anomaly {when} vs {pd.Timestamp(2000, month, 1):%B} "
                              f"climatology{box.describe()}: max {_at(e_hi, '+.0f', 'm')}, "
                              f"min {_at(e_lo, '+.0f', 'm')}"))
