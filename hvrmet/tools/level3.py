"""Level III tools: the WSR-88D's own storm tracks, mesocyclone detections, hail index, TVS
flags and product fields (decoded by :mod:`hvrmet.data.readers.nexrad_level3`).

These report what the radar's algorithms (SCIT storm tracking, the Mesocyclone Detection
Algorithm, the hail detection algorithm) wrote into the products; nothing is recomputed
except vector-mean storm motion (MetPy wind components) and the maximum of a field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from pydantic import Field

from hvrmet.errors import VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value

__all__: list[str] = []

EX = {"case": "mci20160526"}


class TrackInput(CaseInput):
    """A case and the role of its storm tracking information product."""

    role: str = Field("level3_storm_tracks", description="case role of the Level III storm tracking (NST) product")


class MesoInput(CaseInput):
    """A case and the role of its mesocyclone detection product."""

    role: str = Field("level3_mesocyclone",
                      description="case role of the Level III mesocyclone detection (NMD) product")


class HailInput(CaseInput):
    """A case, the role holding the storm-attributes table, and a POSH threshold."""

    role: str = Field("level3_composite_reflectivity",
                      description="case role of the Level III product with the storm-attributes (hail index) table")
    min_posh: float = quantity(50.0, units="percent", description="probability of severe hail a storm must reach",
                               ge=0.0, le=100.0)


class TvsInput(CaseInput):
    """A case whose Level III products are searched for TVS flags."""


class FieldInput(CaseInput):
    """A case and the role of a Level III field product."""

    role: str = Field("level3_vil", description="case role of a Level III field (e.g. level3_vil, "
                                                "level3_echo_tops, level3_base_reflectivity)")


def _require(ds: xr.Dataset, role: str, *names: str) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise VariableMissing(ds.attrs.get("source_file"),
                              f"role {role!r} ({ds.attrs.get('product_name', '?')}) has no {', '.join(missing)}: "
                              "not the Level III product this tool reads")


def _f(x: Any, nd: int = 2) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, nd) if math.isfinite(v) else None


def _rows(ds: xr.Dataset, dim: str, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(ds.sizes.get(dim, 0)):
        row = {}
        for n in names:
            if n not in ds.variables:
                continue
            v = ds[n].values[i]
            row[n] = str(v) if isinstance(v, (str, np.str_)) else _f(v, 4)
        out.append(row)
    return out


def _when(ds: xr.Dataset) -> str:
    return f"{ds.attrs.get('radar_site', '')} {str(ds.attrs.get('volume_time', ''))[:16]}".strip()


@tool(category="level3", outputs={"storm_count": "1", "fastest_storm_id": "", "fastest_storm_speed": "knot",
                                  "fastest_storm_direction": "degree", "fastest_storm_lat": "degree_north",
                                  "fastest_storm_lon": "degree_east", "mean_motion_speed": "knot",
                                  "mean_motion_direction": "degree"},
      example=EX, needs=("level3_storm_tracks",))
def get_storm_tracks(args: TrackInput, ctx: ToolContext) -> ToolOutput:
    """Storms tracked by the radar (SCIT, Level III storm tracking information product).

    Returns the number of storms, the fastest one (id, speed in knots, direction it moves
    from, position) and the vector-mean motion of the storms with a motion (speed, knots;
    direction from, degrees; metpy.calc.wind_components / wind_speed / wind_direction).
    The table lists every storm: id, azimuth (deg), range (nm), motion, latitude, longitude.
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    ds = ctx.load(args.role)
    _require(ds, args.role, "storm_id", "motion_from", "motion_speed")
    rows = _rows(ds, "row", ["storm_id", "azimuth", "range_nm", "motion_from", "motion_speed", "lat", "lon"])
    spd = ds["motion_speed"].values.astype(float)
    dirn = ds["motion_from"].values.astype(float)
    moving = np.isfinite(spd) & np.isfinite(dirn)
    values: dict[str, Value] = {"storm_count": Value(value=len(rows), units="1")}
    if moving.any():
        i = int(np.nanargmax(np.where(moving, spd, -1)))
        u, v = mpcalc.wind_components(spd[moving] * units.knot, dirn[moving] * units.degree)
        um, vm = u.mean(), v.mean()
        mspd = float(mpcalc.wind_speed(um, vm).to("knot").m)
        mdir = float(mpcalc.wind_direction(um, vm).to("degree").m)
        values.update({"fastest_storm_id": Value(value=str(ds["storm_id"].values[i])),
                       "fastest_storm_speed": Value(value=_f(spd[i], 1), units="knot"),
                       "fastest_storm_direction": Value(value=_f(dirn[i], 0), units="degree",
                                                        note="direction the storm moves from"),
                       "fastest_storm_lat": Value(value=_f(ds["lat"].values[i], 4), units="degree_north"),
                       "fastest_storm_lon": Value(value=_f(ds["lon"].values[i], 4), units="degree_east"),
                       "mean_motion_speed": Value(value=_f(mspd, 1), units="knot"),
                       "mean_motion_direction": Value(value=_f(mdir, 0), units="degree",
                                                      note="direction the storms move from")})
        summary = (f"{_when(ds)}: {len(rows)} storms; fastest {values['fastest_storm_id'].value} from "
                   f"{dirn[i]:.0f} deg at {spd[i]:.0f} kt; mean motion from {mdir:.0f} deg at {mspd:.0f} kt")
        warnings = [] if moving.all() else [f"{int((~moving).sum())} new storm(s) without a motion yet"]
    else:
        for k, u_ in (("fastest_storm_id", ""), ("fastest_storm_speed", "knot"), ("fastest_storm_direction", "degree"),
                      ("fastest_storm_lat", "degree_north"), ("fastest_storm_lon", "degree_east"),
                      ("mean_motion_speed", "knot"), ("mean_motion_direction", "degree")):
            values[k] = Value(value=None, units=u_)
        summary = f"{_when(ds)}: {len(rows)} storms, none with a motion yet"
        warnings = ["no storm has a motion (all new)"]
    return ToolOutput(values=values, summary=summary, table=rows, warnings=warnings)


@tool(category="level3", outputs={"mesocyclone_count": "1", "strongest_circulation_id": "", "strongest_storm_id": "",
                                  "strongest_strength_rank": "1",
                                  "strongest_low_level_rotational_velocity": "knot",
                                  "strongest_max_rotational_velocity": "knot", "strongest_lat": "degree_north",
                                  "strongest_lon": "degree_east", "strongest_azimuth": "degree",
                                  "strongest_range": "nautical_mile", "tvs_flag": ""},
      example=EX, needs=("level3_mesocyclone",))
def get_mesocyclones(args: MesoInput, ctx: ToolContext) -> ToolOutput:
    """Mesocyclones detected by the radar (Level III Mesocyclone Detection Algorithm product).

    The strongest circulation is the one with the highest MDA strength rank (Stumpf et al.
    1998), ties broken by the mesocyclone strength index (MSI). Returns it (circulation
    and storm id, rank, low-level and maximum rotational velocity in knots, position) and
    whether any circulation carries a TVS flag; the table lists every circulation.
    """
    ds = ctx.load(args.role)
    _require(ds, args.role, "circulation_id", "strength_rank")
    rows = _rows(ds, "row", ["circulation_id", "storm_id", "azimuth", "range_nm", "strength_rank",
                              "low_level_rotational_velocity", "low_level_delta_velocity", "base_kft", "depth_kft",
                              "max_rotational_velocity", "max_rotational_velocity_height_kft", "tvs", "msi",
                              "lat", "lon"])
    tvs = any(r.get("tvs") == "Y" for r in rows)
    values: dict[str, Value] = {"mesocyclone_count": Value(value=len(rows), units="1"),
                                "tvs_flag": Value(value=tvs)}
    if rows:
        best = max(rows, key=lambda r: (r.get("strength_rank") or 0, r.get("msi") or 0))
        values.update({
            "strongest_circulation_id": Value(value=best["circulation_id"]),
            "strongest_storm_id": Value(value=best.get("storm_id", "")),
            "strongest_strength_rank": Value(value=best.get("strength_rank"), units="1"),
            "strongest_low_level_rotational_velocity": Value(value=best.get("low_level_rotational_velocity"),
                                                             units="knot"),
            "strongest_max_rotational_velocity": Value(value=best.get("max_rotational_velocity"), units="knot"),
            "strongest_lat": Value(value=best.get("lat"), units="degree_north"),
            "strongest_lon": Value(value=best.get("lon"), units="degree_east"),
            "strongest_azimuth": Value(value=best.get("azimuth"), units="degree"),
            "strongest_range": Value(value=best.get("range_nm"), units="nautical_mile")})
        summary = (f"{_when(ds)}: {len(rows)} circulation(s); strongest {best['circulation_id']} (storm "
                   f"{best.get('storm_id')}) rank {best.get('strength_rank'):.0f}, low-level Vrot "
                   f"{best.get('low_level_rotational_velocity'):.0f} kt at {best.get('azimuth'):.0f} deg/"
                   f"{best.get('range_nm'):.0f} nm; TVS {'yes' if tvs else 'none'}")
    else:
        for k, u in (("strongest_circulation_id", ""), ("strongest_storm_id", ""), ("strongest_strength_rank", "1"),
                     ("strongest_low_level_rotational_velocity", "knot"),
                     ("strongest_max_rotational_velocity", "knot"), ("strongest_lat", "degree_north"),
                     ("strongest_lon", "degree_east"), ("strongest_azimuth", "degree"),
                     ("strongest_range", "nautical_mile")):
            values[k] = Value(value=None, units=u)
        summary = f"{_when(ds)}: no mesocyclone detected"
    return ToolOutput(values=values, summary=summary, table=rows)


@tool(category="level3", outputs={"storms_with_posh": "1", "max_posh": "percent", "max_hail_size": "inch",
                                  "max_hail_storm_id": "", "max_hail_lat": "degree_north",
                                  "max_hail_lon": "degree_east", "storms_in_table": "1"},
      example=EX, needs=("level3_composite_reflectivity",))
def get_hail_index(args: HailInput, ctx: ToolContext) -> ToolOutput:
    """Hail index of the radar's storm-attributes table: POSH, POH and maximum hail size.

    Reads the storm-attributes table carried by the Level III composite reflectivity
    product (the WSR-88D hail detection algorithm's probability of severe hail POSH,
    probability of hail POH, and maximum expected hail size in inches). Returns the number
    of storms with POSH >= ``min_posh`` percent, the largest POSH, and the storm with the
    largest expected hail size (ties: higher POSH, then table order) with its position;
    the table lists the storms reaching the threshold.
    """
    ds = ctx.load(args.role)
    _require(ds, args.role, "storm_id", "storm_prob_severe_hail", "storm_max_hail_size")
    rows = _rows(ds, "storm", ["storm_id", "storm_azimuth", "storm_range_nm", "storm_prob_severe_hail",
                                "storm_prob_hail", "storm_max_hail_size", "storm_vil", "storm_max_reflectivity",
                                "storm_top_kft", "storm_lat", "storm_lon"])
    rows = [{k.removeprefix("storm_") if k != "storm_id" else k: v for k, v in r.items()} for r in rows]
    hits = [r for r in rows if (r.get("prob_severe_hail") or 0) >= args.min_posh]
    order = sorted(range(len(rows)), key=lambda i: (-(rows[i].get("max_hail_size") or 0),
                                                    -(rows[i].get("prob_severe_hail") or 0), i))
    big = rows[order[0]] if rows and (rows[order[0]].get("max_hail_size") or 0) > 0 else None
    posh = max((r.get("prob_severe_hail") or 0 for r in rows), default=None)
    values = {"storms_with_posh": Value(value=len(hits), units="1"),
              "max_posh": Value(value=posh, units="percent"),
              "max_hail_size": Value(value=big.get("max_hail_size") if big else 0.0, units="inch"),
              "max_hail_storm_id": Value(value=big["storm_id"] if big else None),
              "max_hail_lat": Value(value=big.get("lat") if big else None, units="degree_north"),
              "max_hail_lon": Value(value=big.get("lon") if big else None, units="degree_east"),
              "storms_in_table": Value(value=len(rows), units="1")}
    summary = (f"{_when(ds)}: {len(hits)} storm(s) with POSH >= {args.min_posh:g}%"
               + (f"; largest expected hail {big['max_hail_size']:.2f} in in storm {big['storm_id']} "
                  f"(POSH {big.get('prob_severe_hail'):.0f}%)" if big else "; no hail expected"))
    return ToolOutput(values=values, summary=summary, table=hits)


@tool(category="level3", outputs={"tvs_count": "1", "tvs_storm_ids": "", "first_tvs_lat": "degree_north",
                                  "first_tvs_lon": "degree_east", "products_checked": "1"},
      example=EX, needs=("level3_mesocyclone", "level3_composite_reflectivity"))
def get_tvs_detections(args: TvsInput, ctx: ToolContext) -> ToolOutput:
    """Tornado vortex signature (TVS) flags across the case's Level III products.

    Looks at the mesocyclone detection table (``tvs`` = Y) and the storm-attributes table
    of the composite reflectivity product (``storm_tvs`` other than NONE) of every
    Level III role of the case. Zero detections is a valid answer. The table lists each
    flag with its product, storm id and position.
    """
    roles = [r for r in ctx.case.roles if r.startswith("level3_")] + \
            [r for r in ctx.explicit if r.startswith("level3_") and r not in ctx.case.roles]
    hits: list[dict[str, Any]] = []
    checked = []
    for role in roles:
        ds = ctx.load(role)
        if "tvs" in ds.data_vars and "row" in ds.dims:
            checked.append(role)
            for r in _rows(ds, "row", ["circulation_id", "storm_id", "tvs", "azimuth", "range_nm", "lat", "lon"]):
                if r.get("tvs") == "Y":
                    hits.append({"product": ds.attrs.get("product_name", role), **r})
        if "storm_tvs" in ds.data_vars:
            checked.append(role)
            for r in _rows(ds, "storm", ["storm_id", "storm_tvs", "storm_azimuth", "storm_range_nm",
                                         "storm_lat", "storm_lon"]):
                if str(r.get("storm_tvs", "NONE")).strip().upper() not in ("NONE", "", "N", "NO"):
                    hits.append({"product": ds.attrs.get("product_name", role),
                                 **{k.removeprefix("storm_") if k != "storm_id" else k: v for k, v in r.items()}})
    if not checked:
        raise VariableMissing(None, f"case {ctx.case.id!r} has no Level III product with TVS flags "
                                    "(mesocyclone detection or composite reflectivity storm attributes)")
    ids = sorted({h.get("storm_id", "") for h in hits})
    values = {"tvs_count": Value(value=len(hits), units="1"),
              "tvs_storm_ids": Value(value=", ".join(ids)),
              "first_tvs_lat": Value(value=hits[0].get("lat") if hits else None, units="degree_north"),
              "first_tvs_lon": Value(value=hits[0].get("lon") if hits else None, units="degree_east"),
              "products_checked": Value(value=len(set(checked)), units="1")}
    summary = (f"{ctx.case.id}: {len(hits)} TVS flag(s) in {len(set(checked))} product(s)"
               + (f" (storms {', '.join(ids)})" if ids else ""))
    return ToolOutput(values=values, summary=summary, table=hits)


@tool(category="level3", outputs={"max_value": "", "max_lat": "degree_north", "max_lon": "degree_east",
                                  "max_range": "km", "max_azimuth": "degree", "mean_value": "",
                                  "coverage_fraction": "1", "product_name": ""},
      example=EX, needs=("level3_vil", "level3_echo_tops", "level3_base_reflectivity",
                         "level3_composite_reflectivity"))
def summarize_level3_field(args: FieldInput, ctx: ToolContext) -> ToolOutput:
    """Maximum of a Level III field product (VIL, echo tops, reflectivity...) and where.

    Works on raster products (``(y, x)`` km grid) and radial ones (``(azimuth, range)``).
    Returns the maximum and the mean over bins with data, in the product's own units
    (kg/m2 for VIL, kft for echo tops, dBZ for reflectivity, ...: given with each value),
    the maximum's latitude, longitude, range (km) and azimuth, and the share of bins with
    data.
    """
    ds = ctx.load(args.role)
    _require(ds, args.role, "data")
    da = ds["data"]
    units = da.attrs.get("units", "")
    vals = da.values.astype(float)
    ok = np.isfinite(vals)
    warnings: list[str] = []
    if not ok.any():
        vmax, where, mean = float("nan"), {}, float("nan")
        warnings.append("the field has no data")
    else:
        idx = np.unravel_index(int(np.nanargmax(vals)), vals.shape)
        vmax, mean = float(vals[idx]), float(np.nanmean(vals))
        if da.dims == ("y", "x"):
            x, y = float(ds["x"].values[idx[1]]), float(ds["y"].values[idx[0]])
            rng, az = math.hypot(x, y) / 1000.0, math.degrees(math.atan2(x, y)) % 360.0
        else:
            rng, az = float(ds["range"].values[idx[1]]) / 1000.0, float(ds["azimuth"].values[idx[0]])
            if float(ds["range"].values[-1]) < 10000.0:
                end = float(ds["range"].values[-1])
                warnings.append(f"the product's range axis ends at {end:.0f} m: its gate spacing looks "
                                "mis-decoded, so the range and position of the maximum are unreliable")
        where = {"lat": float(ds["lat"].values[idx]), "lon": float(ds["lon"].values[idx]), "range": rng, "az": az}
    name = ds.attrs.get("product_name", args.role)
    values = {"max_value": Value(value=_f(vmax, 2), units=units),
              "max_lat": Value(value=_f(where.get("lat"), 4), units="degree_north"),
              "max_lon": Value(value=_f(where.get("lon"), 4), units="degree_east"),
              "max_range": Value(value=_f(where.get("range"), 1), units="km"),
              "max_azimuth": Value(value=_f(where.get("az"), 1), units="degree"),
              "mean_value": Value(value=_f(mean, 3), units=units),
              "coverage_fraction": Value(value=round(float(ok.mean()), 4), units="1"),
              "product_name": Value(value=name)}
    summary = (f"{_when(ds)} {name}: max {vmax:.4g} {units}"
               + (f" at {where['range']:.0f} km, {where['az']:.0f} deg ({where['lat']:.3f}, {where['lon']:.3f})"
                  if where else ""))
    return ToolOutput(values=values, summary=summary, warnings=warnings)
