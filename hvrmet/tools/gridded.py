"""Gridded-analysis tools: kinematic and thermodynamic diagnostics of an isobaric analysis.

Each tool reads the case's ``analysis`` role (or another role named by ``role``), finds
its variables by CF standard name, units and known GFS/ERA names
(:func:`hvrmet.tools.gridded_calc.resolve`), takes one level and one time, computes with
``metpy.calc`` on the MetPy xarray accessor (grid spacing and map factors from the grid's
CRS) and reports extremes with their latitude (degree_north) and longitude (degree_east,
-180..180). An optional lat/lon box limits where extremes are searched. Extremes of
derivative fields poleward of 88 degrees are ignored (the grid spacing vanishes there).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.gridded_calc import (Box, BoxInput, extremum, field, grid_calc, lat_lon_2d, level_values, pressure_dim,
                                       resolve, select_time, time_dim, valid_time, wrap_lon)
from hvrmet.tools.inputs import quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value

__all__: list[str] = []

DEG_N, DEG_E = "degree_north", "degree_east"
POLE = 88.0


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


def _wind(ds: xr.Dataset, args: LevelInput) -> tuple[xr.DataArray, xr.DataArray, list[str]]:
    u, notes = field(ds, "u", level=args.level, when=args.time, units_out="m/s")
    v, _ = field(ds, "v", level=args.level, when=args.time, units_out="m/s")
    return u, v, notes


def _pressure(level: float):
    from metpy.units import units

    return level * units.hPa


# ---------------------------------------------------------------------------------------------
@tool(category="gridded",
      outputs={**_outs("max_relative_vorticity", "1/s"), **_outs("min_relative_vorticity", "1/s"),
               **_outs("max_absolute_vorticity", "1/s"), "level": "hPa", "valid_time": ""},
      example={"case": "cyclone2010", "level": 500}, needs=("analysis",))
def compute_vorticity(args: LevelInput, ctx: ToolContext) -> ToolOutput:
    """Relative and absolute vorticity at a pressure level: extremes and where (1/s).

    ``metpy.calc.vorticity`` on the level's u and v wind (spherical grid spacing and map
    factors from the grid's CRS), plus ``metpy.calc.coriolis_parameter`` for the absolute
    vorticity (what ``metpy.calc.absolute_vorticity`` does). In the northern
    hemisphere the maximum is cyclonic; in the southern hemisphere the minimum is.
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    rel = grid_calc(mpcalc.vorticity, u, v)
    lat2d, _ = lat_lon_2d(rel)
    ab = rel + mpcalc.coriolis_parameter(units.Quantity(lat2d, "degree"))  # as absolute_vorticity
    box = args.box()
    e_max = extremum(rel, "max", box=box, units_out="1/s", max_abs_lat=POLE, skip_border=True)
    e_min = extremum(rel, "min", box=box, units_out="1/s", max_abs_lat=POLE, skip_border=True)
    e_abs = extremum(ab, "max", box=box, units_out="1/s", max_abs_lat=POLE, skip_border=True)
    values: dict[str, Value] = {}
    _located(values, "max_relative_vorticity", e_max, "1/s")
    _located(values, "min_relative_vorticity", e_min, "1/s")
    _located(values, "max_absolute_vorticity", e_abs, "1/s")
    values["level"] = Value(value=args.level, units="hPa")
    values["valid_time"] = Value(value=valid_time(u))
    return ToolOutput(values=values, warnings=notes + _edge_note("vorticity maximum", e_max),
                      summary=f"{args.level:g} hPa {valid_time(u)}{box.describe()}: max relative "
                              f"vorticity {_at(e_max, '.3g', '1/s')}; max absolute {_at(e_abs, '.3g', '1/s')}")


@tool(category="gridded",
      outputs={**_outs("max_divergence", "1/s"), **_outs("max_convergence", "1/s"), "level": "hPa",
               "valid_time": ""},
      example={"case": "cyclone2010", "level": 300}, needs=("analysis",))
def compute_divergence(args: LevelInput, ctx: ToolContext) -> ToolOutput:
    """Horizontal divergence at a pressure level: strongest divergence and convergence (1/s).

    ``metpy.calc.divergence`` of the level's wind. ``max_convergence`` is the most negative
    divergence (reported as a negative number).
    """
    import metpy.calc as mpcalc

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    div = grid_calc(mpcalc.divergence, u, v)
    box = args.box()
    values: dict[str, Value] = {}
    e_hi, e_lo = _level_extremes(values, div, args, box, "1/s", "max_divergence", "max_convergence", u)
    return ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(u)}{box.describe()}: divergence max "
                              f"{_at(e_hi, '.3g', '1/s')}; convergence max {_at(e_lo, '.3g', '1/s')}")


@tool(category="gridded",
      outputs={**_outs("max_warm_advection", "K/h"), **_outs("max_cold_advection", "K/h"), "level": "hPa",
               "valid_time": ""},
      example={"case": "cyclone2010", "level": 850}, needs=("analysis",))
def compute_temperature_advection(args: LowLevelInput, ctx: ToolContext) -> ToolOutput:
    """Horizontal temperature advection at a level: strongest warm and cold advection (K/h).

    ``metpy.calc.advection`` of temperature by the level's wind (-V . grad T).
    ``max_cold_advection`` is the most negative value.
    """
    import metpy.calc as mpcalc

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    t, _ = field(ds, "temperature", level=args.level, when=args.time, units_out="K")
    adv = grid_calc(mpcalc.advection, t, u, v)
    box = args.box()
    values: dict[str, Value] = {}
    e_w, e_c = _level_extremes(values, adv, args, box, "K/h", "max_warm_advection", "max_cold_advection", t)
    return ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(t)}{box.describe()}: warm advection max "
                              f"{_at(e_w, '.2f', 'K/h')}; cold advection max {_at(e_c, '.2f', 'K/h')}")


def _moisture(ds: xr.Dataset, level: float, when: str | None, t: xr.DataArray) -> tuple[xr.DataArray, str]:
    """Specific humidity if the analysis has it, else mixing ratio from RH and T (kg/kg)."""
    import metpy.calc as mpcalc

    try:
        q, _ = field(ds, "specific_humidity", level=level, when=when, units_out="kg/kg")
        return q, "specific humidity"
    except VariableMissing:
        rh, _ = field(ds, "relative_humidity", level=level, when=when, units_out="percent")
        w = mpcalc.mixing_ratio_from_relative_humidity(_pressure(level), t, rh)
        return w.metpy.convert_units("kg/kg"), "mixing ratio (from relative humidity and temperature)"


@tool(category="gridded",
      outputs={**_outs("max_moistening", "g/kg/h"), **_outs("max_drying", "g/kg/h"), "moisture_variable": "",
               "level": "hPa", "valid_time": ""},
      example={"case": "cyclone2010", "level": 850}, needs=("analysis",))
def compute_moisture_advection(args: LowLevelInput, ctx: ToolContext) -> ToolOutput:
    """Horizontal moisture advection at a level: strongest moist and dry advection (g/kg/h).

    ``metpy.calc.advection`` of specific humidity when the analysis has it, else of the
    mixing ratio from ``metpy.calc.mixing_ratio_from_relative_humidity`` (RH and T at the
    level); ``moisture_variable`` says which. ``max_drying`` is the most negative value.
    """
    import metpy.calc as mpcalc

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    t, _ = field(ds, "temperature", level=args.level, when=args.time, units_out="K")
    q, which = _moisture(ds, args.level, args.time, t)
    adv = grid_calc(mpcalc.advection, q, u, v)
    box = args.box()
    values: dict[str, Value] = {}
    e_m, e_d = _level_extremes(values, adv, args, box, "g/kg/h", "max_moistening", "max_drying", t)
    values["moisture_variable"] = Value(value=which)
    return ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {which} advection{box.describe()}: moistening max "
                              f"{_at(e_m, '.3f', 'g/kg/h')}; drying max {_at(e_d, '.3f', 'g/kg/h')}")


@tool(category="gridded",
      outputs={**_outs("max_frontogenesis", "K/m/s"), **_outs("max_frontolysis", "K/m/s"), "level": "hPa",
               "valid_time": ""},
      example={"case": "cyclone2010", "level": 850}, needs=("analysis",))
def compute_frontogenesis(args: LowLevelInput, ctx: ToolContext) -> ToolOutput:
    """Petterssen 2-D frontogenesis of potential temperature at a level (K/m/s).

    ``metpy.calc.frontogenesis`` of ``metpy.calc.potential_temperature`` with the level's
    wind. Multiply by 1.08e9 for the customary K/100 km/3 h. ``max_frontolysis`` is the most
    negative value.
    """
    import metpy.calc as mpcalc

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    t, _ = field(ds, "temperature", level=args.level, when=args.time, units_out="K")
    theta = mpcalc.potential_temperature(_pressure(args.level), t)
    fg = grid_calc(mpcalc.frontogenesis, theta, u, v)
    box = args.box()
    values: dict[str, Value] = {}
    e_g, _ = _level_extremes(values, fg, args, box, "K/m/s", "max_frontogenesis", "max_frontolysis", t)
    conv = "" if e_g[0] is None else f" ({e_g[0] * 1.08e9:.2f} K/100km/3h)"
    return ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(t)}{box.describe()}: frontogenesis max "
                              f"{_at(e_g, '.3g', 'K/m/s')}{conv}")


def _p3(da: xr.DataArray) -> xr.DataArray:
    """The ``isobaric`` coordinate of ``da`` as a quantified DataArray (broadcasts by name)."""
    from metpy.units import units

    c = da["isobaric"]
    return xr.DataArray(units.Quantity(np.asarray(c.values, float), c.attrs["units"]), dims=["isobaric"],
                        coords={"isobaric": c})


def _column(ds: xr.Dataset, kinds: list[str], when: str | None, bottom: float,
            top: float) -> tuple[dict[str, xr.DataArray], list[str]]:
    """3-D fields of ``kinds`` on their common pressure levels within [top, bottom] hPa.

    Every field is put on the pressure coordinate of the first one (dim ``isobaric``).
    """
    fields, levs, notes = {}, None, []
    for k in kinds:
        name = resolve(ds, k, levels=True)
        da, n = select_time(ds.metpy.parse_cf(name), when)
        notes += [x for x in n if x not in notes]
        fields[k] = da
        lv = {round(x, 3) for x in level_values(da)}
        levs = lv if levs is None else levs & lv
    chosen = sorted((x for x in levs if top - 0.01 <= x <= bottom + 0.01), reverse=True)
    if len(chosen) < 2:
        raise VariableMissing(ds.attrs.get("source_file"),
                              f"fewer than two common pressure levels of {', '.join(kinds)} between "
                              f"{bottom:g} and {top:g} hPa (common levels: {sorted(levs or [], reverse=True)})")
    out = {}
    ref = None
    for k, da in fields.items():
        dim = pressure_dim(da)
        lv = np.round(level_values(da), 3)
        idx = [int(np.flatnonzero(lv == x)[0]) for x in chosen]
        sub = da.isel({dim: idx}).rename({dim: "isobaric"})
        if ref is None:
            ref = sub["isobaric"]
        out[k] = sub.assign_coords(isobaric=ref).squeeze(drop=False).metpy.quantify()
    return out, notes


def _integrate(ds: xr.Dataset, f: np.ndarray, p_hpa: np.ndarray, axis: int, proto: xr.DataArray,
               when: str | None) -> tuple[np.ndarray, list[str]]:
    """Pressure integral of ``f`` (per Pa) over the column, trapezoid, in f*Pa.

    ``p_hpa`` is descending (bottom first). The analysis has no surface pressure, so a
    level whose pressure exceeds the mean-sea-level pressure (certainly below the ground)
    is left out when the analysis has MSLP: the integral then starts at the lowest level
    above it. Over high terrain some levels still lie below the ground.
    """
    f = np.moveaxis(np.asarray(f, float), axis, 0)
    valid = np.ones(f.shape, bool)
    notes = []
    try:
        mslp, _ = field(ds, "mslp", level=None, when=when, units_out="hPa")
        ps = mslp.transpose(*[d for d in proto.dims if d != "isobaric"]).metpy.unit_array.m
        valid = p_hpa[:, None, None] <= ps[None, :, :]
        notes.append("levels with pressure above the mean-sea-level pressure (below the ground) are left "
                     "out of the integral; over high terrain, levels below the ground (extrapolated by the "
                     "model) still count, since the analysis has no surface pressure")
    except VariableMissing:
        notes.append("the analysis has no surface or sea-level pressure: levels below the ground "
                     "(extrapolated by the model) are included in the integral")
    dp = -np.diff(p_hpa * 100.0)[:, None, None]  # Pa, positive going up
    both = valid[:-1] & valid[1:]
    return np.sum(0.5 * (f[:-1] + f[1:]) * dp * both, axis=0), notes




@tool(category="gridded",
      outputs={**_outs("max_qvector_convergence", "Pa/m^2/s"), **_outs("min_qvector_convergence", "Pa/m^2/s"),
               "level": "hPa", "valid_time": ""},
      example={"case": "cyclone2010", "level": 500}, needs=("analysis",))
def compute_qvector_convergence(args: LevelInput, ctx: ToolContext) -> ToolOutput:
    """Q-vector convergence, -2 div Q, at a level: strongest forcing for ascent and descent.

    ``metpy.calc.q_vector`` with the static stability of ``metpy.calc.static_stability``
    (computed on the temperature column, then taken at the level), and
    ``metpy.calc.divergence`` of Q. Positive -2 div Q forces ascent (quasi-geostrophic
    omega equation; Hoskins, Draghici and Davies 1978). Units Pa/m2/s.
    """
    import metpy.calc as mpcalc

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    t, _ = field(ds, "temperature", level=args.level, when=args.time, units_out="K")
    col, _ = _column(ds, ["temperature"], args.time, 1100.0, 1.0)
    tcol = col["temperature"]
    p3 = _p3(tcol)
    sigma = mpcalc.static_stability(p3, tcol, vertical_dim=tcol.dims.index("isobaric"))
    lv = np.array(level_values(tcol))
    sig = sigma.isel(isobaric=int(np.argmin(np.abs(lv - args.level))))
    qx, qy = grid_calc(mpcalc.q_vector, u, v, t, _pressure(args.level), 
                     static_stability=sig.transpose(*t.dims).metpy.unit_array)
    conv = -2 * grid_calc(mpcalc.divergence, qx, qy)
    box = args.box()
    values: dict[str, Value] = {}
    e_hi, e_lo = _level_extremes(values, conv, args, box, "Pa/m^2/s", "max_qvector_convergence",
                                 "min_qvector_convergence", t)
    return ToolOutput(values=values, warnings=notes,
                      summary=f"{args.level:g} hPa {valid_time(t)}{box.describe()}: -2 div Q max (ascent) "
                              f"{_at(e_hi, '.3g', 'Pa/m2/s')}; min (descent) {_at(e_lo, '.3g', 'Pa/m2/s')}")


@tool(category="gridded",
      outputs={**_outs("level_max_convergence", "g/kg/h"), **_outs("column_max_convergence", "mm/day"),
               **_outs("column_max_divergence", "mm/day"), "level": "hPa", "column_bottom": "hPa",
               "column_top": "hPa", "moisture_variable": "", "valid_time": ""},
      example={"case": "cyclone2010", "level": 850}, needs=("analysis",))
def compute_moisture_flux_convergence(args: MoistureFluxInput, ctx: ToolContext) -> ToolOutput:
    """Moisture flux convergence, both at a level and integrated over a pressure layer.

    At the level: -div(q V) from ``metpy.calc.divergence`` of (q u, q v), in g/kg/h.
    Column: -(1/g) times the pressure integral (trapezoid) of div(q V) from ``bottom`` to
    ``top``, in mm/day (kg/m2/day), on the levels where both wind and humidity exist;
    ``column_bottom``/``column_top`` are the levels used (levels whose pressure exceeds the
    mean-sea-level pressure, below the ground, are left out). q is specific humidity if
    the analysis has it, else the mixing ratio from RH and T.
    """
    import metpy.calc as mpcalc
    from metpy.constants import g
    from metpy.units import units

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    t, _ = field(ds, "temperature", level=args.level, when=args.time, units_out="K")
    q, which = _moisture(ds, args.level, args.time, t)
    box = args.box()
    mfc = -grid_calc(mpcalc.divergence, q * u, q * v)
    e_lvl = extremum(mfc, "max", box=box, units_out="g/kg/h", max_abs_lat=POLE, skip_border=True)

    has_q = True
    try:
        resolve(ds, "specific_humidity", levels=True)
    except VariableMissing:
        has_q = False
    kinds = ["u", "v"] + (["specific_humidity"] if has_q else ["temperature", "relative_humidity"])
    col, _ = _column(ds, kinds, args.time, args.bottom, args.top)
    p3 = _p3(col["u"])
    if has_q:
        q3 = col["specific_humidity"].metpy.convert_units("kg/kg")
    else:
        q3 = mpcalc.mixing_ratio_from_relative_humidity(p3, col["temperature"], col["relative_humidity"])
    div3 = grid_calc(mpcalc.divergence, q3 * col["u"], q3 * col["v"])
    integral, n_int = _integrate(ds, div3.metpy.unit_array.m_as("1/s"), p3.metpy.unit_array.m_as("hPa"),
                                 div3.dims.index("isobaric"), div3, args.time)
    colq = (-integral * units("Pa/s") / g).to("kg/m^2/day")  # -(1/g) int_top^bottom div(qV) dp
    col2d = div3.isel(isobaric=0).copy(data=colq.m)
    col2d.attrs["units"] = "mm/day"
    e_cc = extremum(col2d, "max", box=box, max_abs_lat=POLE, skip_border=True)
    e_cd = extremum(col2d, "min", box=box, max_abs_lat=POLE, skip_border=True)
    lv = level_values(col["u"])
    values: dict[str, Value] = {}
    _located(values, "level_max_convergence", e_lvl, "g/kg/h")
    _located(values, "column_max_convergence", e_cc, "mm/day")
    _located(values, "column_max_divergence", e_cd, "mm/day")
    values.update(level=Value(value=args.level, units="hPa"), column_bottom=Value(value=max(lv), units="hPa"),
                  column_top=Value(value=min(lv), units="hPa"), moisture_variable=Value(value=which),
                  valid_time=Value(value=valid_time(t)))
    return ToolOutput(values=values, warnings=notes + n_int,
                      summary=f"{valid_time(t)}{box.describe()}: {args.level:g} hPa moisture flux convergence "
                              f"max {_at(e_lvl, '.3f', 'g/kg/h')}; {max(lv):g}-{min(lv):g} hPa column max "
                              f"{_at(e_cc, '.1f', 'mm/day')}")


@tool(category="gridded",
      outputs={**_outs("max_precipitable_water", "mm"), "mean_precipitable_water": "mm", "column_bottom": "hPa",
               "column_top": "hPa", "valid_time": ""},
      example={"case": "cyclone2010"}, needs=("analysis",))
def compute_gridded_precipitable_water(args: ColumnInput, ctx: ToolContext) -> ToolOutput:
    """Column precipitable water of the analysis from RH and T on levels: maximum and where (mm).

    The mixing ratio of ``metpy.calc.mixing_ratio_from_relative_humidity`` integrated over
    pressure as in ``metpy.calc.precipitable_water``: PW = (1/(rho_w g)) int w dp
    (trapezoid), vectorised over the grid, from ``bottom`` to ``top``, leaving out levels
    whose pressure exceeds the mean-sea-level pressure (below the ground).
    ``mean_precipitable_water`` is the cos(latitude)-weighted mean over the box.
    """
    import metpy.calc as mpcalc
    from metpy.constants import g, rho_l
    from metpy.units import units

    ds = ctx.load(args.role)
    col, notes = _column(ds, ["temperature", "relative_humidity"], args.time, args.bottom, args.top)
    p3 = _p3(col["temperature"])
    w = mpcalc.mixing_ratio_from_relative_humidity(p3, col["temperature"], col["relative_humidity"])
    integral, n_int = _integrate(ds, w.metpy.unit_array.m_as("kg/kg"), p3.metpy.unit_array.m_as("hPa"),
                                 w.dims.index("isobaric"), w, args.time)
    pw = integral * units.Pa / (g * rho_l)
    pw2d = w.isel(isobaric=0).copy(data=pw.to("mm").m)
    pw2d.attrs["units"] = "mm"
    box = args.box()
    e = extremum(pw2d, "max", box=box)
    lat, lon = lat_lon_2d(pw2d)
    m = box.mask(lat, lon) & np.isfinite(pw2d.values)
    wts = np.cos(np.deg2rad(lat))[m]
    mean = float(np.sum(pw2d.values[m] * wts) / np.sum(wts)) if m.any() else None
    lv = level_values(col["temperature"])
    values: dict[str, Value] = {}
    _located(values, "max_precipitable_water", e, "mm")
    values.update(mean_precipitable_water=Value(value=_sig(mean), units="mm"),
                  column_bottom=Value(value=max(lv), units="hPa"), column_top=Value(value=min(lv), units="hPa"),
                  valid_time=Value(value=valid_time(pw2d)))
    return ToolOutput(values=values, warnings=notes + n_int + _edge_note("precipitable-water maximum", e),
                      summary=f"{valid_time(pw2d)}{box.describe()}: precipitable water max {_at(e, '.1f', 'mm')} "
                              f"({max(lv):g}-{min(lv):g} hPa); mean {mean or float('nan'):.1f} mm")


@tool(category="gridded",
      outputs={**_outs("min_pressure", "hPa"), "on_edge": "", "valid_time": ""},
      example={"case": "cyclone2010"}, needs=("analysis",))
def find_pressure_minimum(args: GriddedInput, ctx: ToolContext) -> ToolOutput:
    """Lowest mean-sea-level pressure of the analysis (hPa) and where, optionally in a box.

    The grid-point minimum of the MSLP field (no sub-grid fitting); ``on_edge`` is true
    when it lies on the border of the grid or box, where it may not be a closed low.
    """
    ds = ctx.load(args.role)
    p, notes = field(ds, "mslp", level=None, when=args.time, units_out="hPa")
    box = args.box()
    e = extremum(p, "min", box=box)
    values: dict[str, Value] = {}
    _located(values, "min_pressure", e, "hPa", digits=6)
    values["min_pressure"] = Value(value=None if e[0] is None else round(e[0], 1), units="hPa")
    values["on_edge"] = Value(value=bool(e[3]))
    values["valid_time"] = Value(value=valid_time(p))
    return ToolOutput(values=values, warnings=notes + _edge_note("pressure minimum", e),
                      summary=f"{valid_time(p)}{box.describe()}: lowest MSLP {_at(e, '.1f', 'hPa')}")


@tool(category="gridded",
      outputs={**_outs("max_wind_speed", "m/s"), "max_wind_speed_knots": "knot", "level": "hPa",
               "valid_time": ""},
      example={"case": "cyclone2010", "level": 250}, needs=("analysis",))
def find_jet_maxima(args: JetInput, ctx: ToolContext) -> ToolOutput:
    """Strongest wind at a level (jet streak), in m/s and knots, and where.

    ``metpy.calc.wind_speed`` of the level's u and v; the grid-point maximum.
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    ds = ctx.load(args.role)
    u, v, notes = _wind(ds, args)
    spd = mpcalc.wind_speed(u, v)
    box = args.box()
    e = extremum(spd, "max", box=box, units_out="m/s")
    values: dict[str, Value] = {}
    _located(values, "max_wind_speed", e, "m/s")
    values["max_wind_speed"] = Value(value=None if e[0] is None else round(e[0], 1), units="m/s")
    kt = None if e[0] is None else round(float(units.Quantity(e[0], "m/s").to("knot").m), 1)
    values["max_wind_speed_knots"] = Value(value=kt, units="knot")
    values["level"] = Value(value=args.level, units="hPa")
    values["valid_time"] = Value(value=valid_time(u))
    return ToolOutput(values=values, warnings=notes + _edge_note("wind maximum", e),
                      summary=f"{args.level:g} hPa {valid_time(u)}{box.describe()}: strongest wind "
                              f"{_at(e, '.1f', 'm/s')} ({kt} kt)")


# ---------------------------------------------------------------------------------------------
def _climatology_month(clim: xr.DataArray, month: int, path: str | None) -> xr.DataArray:
    """The climatology of one calendar month (a ``month`` dim 1..12, or a datetime dim)."""
    if "month" in clim.dims:
        months = [int(m) for m in clim["month"].values]
        if month not in months:
            raise VariableMissing(path, f"the climatology has no month {month}; months available: "
                                        + ", ".join(pd.Timestamp(2000, m, 1).strftime("%B") for m in months))
        return clim.sel(month=month)
    dim = time_dim(clim)
    if dim is None:
        raise VariableMissing(path, "the climatology has neither a 'month' nor a time dimension")
    times = pd.DatetimeIndex(clim[dim].values)
    sel = times.month == month
    if not sel.any():
        raise VariableMissing(path, f"the climatology has no month {month}; months available: "
                                    + ", ".join(sorted({t.strftime('%B') for t in times})))
    return clim.isel({dim: np.flatnonzero(sel)}).mean(dim)


def _climatology_level(clim: xr.DataArray, level: float, path: str | None) -> tuple[xr.DataArray, list[str]]:
    """Climatological height (m) at ``level``; between two levels, interpolated in ln p on the
    departures from the US Standard Atmosphere (``metpy.calc.pressure_to_height_std``)."""
    import metpy.calc as mpcalc
    from metpy.units import units

    dim = pressure_dim(clim)
    levs = np.array(level_values(clim))
    hit = np.flatnonzero(np.abs(levs - level) <= 0.5)
    if hit.size:
        return clim.isel({dim: int(hit[0])}), []
    above, below = levs[levs < level], levs[levs > level]
    if not above.size or not below.size:
        raise VariableMissing(path, f"the climatology has no {level:g} hPa level and does not bracket it; "
                                    f"levels (hPa): {', '.join(f'{x:g}' for x in sorted(levs))}")
    pa, pb = float(above.max()), float(below.min())
    ia, ib = int(np.flatnonzero(levs == pa)[0]), int(np.flatnonzero(levs == pb)[0])
    std = {p: float(mpcalc.pressure_to_height_std(p * units.hPa).m_as("m")) for p in (pa, pb, level)}
    wgt = np.log(level / pa) / np.log(pb / pa)
    za, zb = clim.isel({dim: ia}) - std[pa], clim.isel({dim: ib}) - std[pb]
    out = za + wgt * (zb - za) + std[level]
    return out, [f"the climatology has no {level:g} hPa level: interpolated between {pa:g} and {pb:g} hPa in "
                 "ln p on departures from the US Standard Atmosphere (this method reproduces the GFS "
                 "300 hPa height of 2010-10-26 from its 200 and 500 hPa heights with RMS error 47 m, "
                 "max 126 m): treat anomalies below ~50 m as within the error"]


@tool(category="gridded",
      outputs={**_outs("max_anomaly", "m"), **_outs("min_anomaly", "m"), "mean_anomaly": "m",
               "climatology_month": "1", "climatology_interpolated": "", "level": "hPa", "valid_time": ""},
      example={"case": "gfs20210130", "level": 300}, needs=("analysis", "climatology"))
def compute_field_anomaly(args: AnomalyInput, ctx: ToolContext) -> ToolOutput:
    """Anomaly of the geopotential height at a level against the monthly climatology (m).

    The analysis field minus the climatology (role ``climatology``) of the analysis's
    calendar month, bilinearly interpolated onto the analysis grid; geopotential (m2/s2)
    is divided by g. A month the climatology lacks is an error listing the months it has;
    a level it lacks but brackets is interpolated (see the warning). Reports the largest
    positive and negative anomalies, where, and the cos(latitude)-weighted mean in the box.
    """
    from metpy.units import units

    ds = ctx.load(args.role)
    ana, notes = field(ds, args.field, level=args.level, when=args.time, units_out="m")
    when = valid_time(ana)
    if not when:
        raise VariableMissing(ds.attrs.get("source_file"), "the analysis has no valid time, so its "
                                                           "calendar month is unknown")
    month = pd.Timestamp(when).month
    cds = ctx.load(args.climatology_role)
    cpath = cds.attrs.get("source_file")
    cname = resolve(cds, args.field, levels=True)
    clim = cds.metpy.parse_cf(cname).metpy.quantify()
    if clim.metpy.units.dimensionality != units("m").dimensionality:
        from metpy.constants import g

        clim = clim / g
    clim = clim.metpy.convert_units("m").metpy.dequantify()
    clim = _climatology_month(clim, month, cpath)
    clim, n2 = _climatology_level(clim, args.level, cpath)
    notes += n2
    ydim, xdim = clim.metpy.y.name, clim.metpy.x.name
    clim = clim.assign_coords({xdim: wrap_lon(clim[xdim].values)}).sortby(xdim).sortby(ydim)
    ring = clim.isel({xdim: 0}).assign_coords({xdim: clim[xdim].values[0] + 360.0})
    clim = xr.concat([clim, ring], dim=xdim)
    lat, lon = lat_lon_2d(ana)
    lon360 = np.where(lon < clim[xdim].values[0], lon + 360.0, lon)
    on_grid = clim.interp({ydim: xr.DataArray(lat, dims=ana.dims), xdim: xr.DataArray(lon360, dims=ana.dims)})
    anom = ana.metpy.dequantify().copy(data=ana.metpy.unit_array.m_as("m") - on_grid.values)
    anom.attrs["units"] = "m"
    box = args.box()
    e_hi, e_lo = extremum(anom, "max", box=box), extremum(anom, "min", box=box)
    m = box.mask(lat, lon) & np.isfinite(anom.values)
    wts = np.cos(np.deg2rad(lat))[m]
    mean = float(np.sum(anom.values[m] * wts) / np.sum(wts)) if m.any() else None
    values: dict[str, Value] = {}
    _located(values, "max_anomaly", e_hi, "m")
    _located(values, "min_anomaly", e_lo, "m")
    for k in ("max_anomaly", "min_anomaly"):
        values[k] = Value(value=None if values[k].value is None else round(values[k].value, 1), units="m")
    values.update(mean_anomaly=Value(value=None if mean is None else round(mean, 1), units="m"),
                  climatology_month=Value(value=month, units="1"),
                  climatology_interpolated=Value(value=bool(n2)),
                  level=Value(value=args.level, units="hPa"), valid_time=Value(value=when))
    return ToolOutput(values=values, warnings=notes + _edge_note("largest anomaly", e_hi if abs(e_hi[0] or 0) >= abs(
                          e_lo[0] or 0) else e_lo), summary=f"{args.level:g} hPa height anomaly {when} vs {pd.Timestamp(2000, month, 1):%B} "
                              f"climatology{box.describe()}: max {_at(e_hi, '+.0f', 'm')}, "
                              f"min {_at(e_lo, '+.0f', 'm')}")
