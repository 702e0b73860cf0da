"""Level III tools: the WSR-88D's own storm tracks, mesocyclone detections, TVS, hail index,
storm structure and product fields (decoded by :mod:`hvrmet.data.readers.nexrad_level3`,
summarised by :mod:`hvrmet.calc.level3`).

These report what the radar's algorithms (SCIT storm tracking, the Mesocyclone Detection
Algorithm, the TVS detection algorithm, the hail detection algorithm) wrote into the
products; nothing is recomputed except vector-mean storm motion (MetPy wind components),
distances to the case's place and the maximum of a field.

Window: every tool counts only the features inside the window around the case's place
and time (:mod:`hvrmet.tools.window`, kind ``level3``: 75 km and 1 h either side by
default; ``radius`` and ``time_window`` override it). Each feature in a table carries its
``distance_km`` and ``bearing`` (degree from north) from the place and ``in_window``; each
tool names the nearest and the strongest feature inside, with distance and bearing, and
counts those left outside. A product whose volume time lies outside the time window is
used, flagged ``outside_time_window`` and warned about. The values a card reads
(``tvs_count``, ``mesocyclone_count``, ``strongest_strength_rank``, ``max_posh``,
``max_hail_size``, ``mean_motion_speed``...) refer to the features inside the window.

Roles: each tool reads the role it is given; left at its default, a tool also takes the
role generated for the same product (``level3_storm_tracking_information`` for
``level3_storm_tracks``...). A tool reading several products uses those that read and
reports the others as warnings (and in its summary and ``products_failed``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from hvrmet.calc import level3 as calc
from hvrmet.errors import DataError, VariableMissing
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput, WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import Window, place_units, windowed

__all__: list[str] = []


#: Roles a tool falls back on, in order, when its role is left at the default and the
#: case lacks it (the generated role of the same product, or another product with it).
ALTERNATIVES = {
    "get_storm_tracks": ("level3_storm_tracking_information",),
    "get_mesocyclones": ("level3_mesocyclone_detection",),
    "get_hail_index": ("level3_hail_index", "level3_composite_reflectivity_edited_for_ap"),
    "get_storm_structure": ("level3_composite_reflectivity", "level3_composite_reflectivity_edited_for_ap"),
    "summarize_level3_field": ("level3_vertically_integrated_liquid", "level3_high_resolution_vil"),
}


class TrackInput(WindowInput):
    """A case and the role of its storm tracking information product."""

    role: str = Field("level3_storm_tracks", description="case role of the Level III storm tracking (NST) product")


class MesoInput(WindowInput):
    """A case and the role of its mesocyclone detection product."""

    role: str = Field("level3_mesocyclone",
                      description="case role of the Level III mesocyclone detection (NMD) product")


class HailInput(WindowInput):
    """A case, the role holding the hail index, and a POSH threshold."""

    role: str = Field("level3_composite_reflectivity",
                      description="case role of the Level III product with the hail index: the composite "
                                  "reflectivity's storm-attributes table or the hail index (NHI) product")
    min_posh: float = quantity(50.0, units="percent", description="probability of severe hail a storm must reach",
                               ge=0.0, le=100.0)


class TvsInput(WindowInput):
    """A case whose Level III products are searched for TVS detections and flags."""


class StructureInput(WindowInput):
    """A case and the role of a product with storm structure (NSS, or the NCR table)."""

    role: str = Field("level3_storm_structure",
                      description="case role of the Level III storm structure (NSS) product or of the "
                                  "composite reflectivity with its storm-attributes table (taken when the "
                                  "case has no storm structure product and the role is left at its default)")


class FieldInput(WindowInput):
    """A case and the role of a Level III field product."""

    role: str = Field("level3_vil", description="case role of a Level III field (e.g. level3_vil, "
                                                "level3_echo_tops, level3_base_reflectivity)")


def _role(args: CaseInput, ctx: ToolContext, tool_name: str) -> str:
    """The role to read: the one given, or (left at its default and absent) a role of the
    case holding the same product."""
    role = args.role  # type: ignore[attr-defined]
    if "role" in args.model_fields_set or ctx.has(role):
        return role
    for alt in ALTERNATIVES.get(tool_name, ()):
        if ctx.has(alt):
            return alt
    return role


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


def _rows(ds: xr.Dataset, dim: str, names: list[str], strip: str = "") -> list[dict[str, Any]]:
    out = []
    for i in range(ds.sizes.get(dim, 0)):
        row = {}
        for n in names:
            if n not in ds.variables:
                continue
            v = ds[n].values[i]
            key = n.removeprefix(strip) if strip and n != "storm_id" else n
            row[key] = str(v) if isinstance(v, (str, np.str_)) else _f(v, 4)
        out.append(row)
    return out


def _when(ds: xr.Dataset) -> str:
    return f"{ds.attrs.get('radar_site', '')} {str(ds.attrs.get('volume_time', ''))[:16]}".strip()


def _decode_warnings(ds: xr.Dataset) -> list[str]:
    return [str(w) for w in ds.attrs.get("decode_warnings", []) or []]


def _window(ctx: ToolContext, args: WindowInput, ds: xr.Dataset | None) -> Window:
    """The Level III window, with the product's volume time as the data time."""
    win = ctx.window("level3", args)
    if ds is not None:
        win.at(ds.attrs.get("volume_time") or None, f"the {ds.attrs.get('product_name', 'Level III')} product")
    return win


def _place(rows: list[dict[str, Any]], win: Window) -> np.ndarray:
    """Give each feature its ``distance_km`` and ``bearing`` from the place and
    ``in_window``; the mask of those inside the window (a feature without a position is
    outside)."""
    lat = np.array([np.nan if r.get("lat") is None else r["lat"] for r in rows], dtype=np.float64)
    lon = np.array([np.nan if r.get("lon") is None else r["lon"] for r in rows], dtype=np.float64)
    d, b = win.locate(lat, lon) if rows else (np.zeros(0), np.zeros(0))
    inside = win.inside(d) & np.isfinite(d)
    for r, di, bi, ii in zip(rows, d, b, inside):
        r["distance_km"], r["bearing"], r["in_window"] = _f(di, 1), _f(bi, 0), bool(ii)
    return inside


def _where(values: dict[str, Value], prefix: str, row: dict[str, Any] | None) -> None:
    """``prefix_distance`` (km) and ``prefix_bearing`` (degree) of a feature from the place."""
    values[f"{prefix}_distance"] = Value(value=None if row is None else row.get("distance_km"), units="km",
                                         note="from the case's place")
    values[f"{prefix}_bearing"] = Value(value=None if row is None else row.get("bearing"), units="degree",
                                        note="from the case's place, clockwise from north")


def _where_outs(*prefixes: str) -> dict[str, str]:
    return {k: u for p in prefixes for k, u in place_units(p).items()}


def _outside(rows: list[dict[str, Any]], inside: np.ndarray, what: str, win: Window, key: str = "storm_id") -> str:
    """A note on the features left outside the window ('' when none is)."""
    out = [r for r, i in zip(rows, inside) if not i]
    if not out:
        return ""
    near = min(out, key=lambda r: r["distance_km"] if r.get("distance_km") is not None else math.inf)
    where = (f"; the nearest of them, {near.get(key) or '?'}, at {near['distance_km']:.0f} km"
             if near.get("distance_km") is not None else "")
    return (f"{len(out)} of {len(rows)} {what} {'lies' if len(out) == 1 else 'lie'} outside the window ({win.area_text()}) and are not "
            f"counted{where}")


def _loc(row: dict[str, Any] | None) -> str:
    if not row or row.get("distance_km") is None:
        return ""
    return f", {row['distance_km']:.0f} km at {row.get('bearing') or 0:.0f} deg from the place"


def _none(values: dict[str, Value], spec: tuple[tuple[str, str], ...]) -> None:
    for k, u in spec:
        values.setdefault(k, Value(value=None, units=u))


# ----------------------------------------------------------------------------- storm tracks
@tool(category="level3", outputs=windowed({"storm_count": "1", "fastest_storm_id": "", "fastest_storm_speed": "knot",
                                           "fastest_storm_direction": "degree", "fastest_storm_lat": "degree_north",
                                           "fastest_storm_lon": "degree_east", "mean_motion_speed": "knot",
                                           "mean_motion_direction": "degree", "header_storm_count": "1",
                                           "storms_with_motion": "1", "storms_in_product": "1",
                                           "storms_outside_window": "1", "nearest_storm_id": "",
                                           **_where_outs("fastest_storm", "nearest_storm")}),
      example={}, needs=("level3_storm_tracks", "level3_storm_tracking_information"))
def get_storm_tracks(args: TrackInput, ctx: ToolContext) -> ToolOutput:
    """Storms tracked by the radar (SCIT, Level III storm tracking information product).

    Every cell of the product's symbology block counts, also those the text pages leave
    out (their motion then comes from the graphic pages or from the product's 15-minute
    forecast position); the count is checked against the product header's. Returns the
    number of storms inside the window (``storms_in_product`` counts them all), the
    fastest one inside (id, speed in knots, direction it moves from, position, distance
    and bearing from the place), the nearest one, and the vector-mean motion of the
    storms inside with a motion (speed, knots; direction from, degrees;
    metpy.calc.wind_components / wind_speed / wind_direction). The table lists every storm
    of the product: id, azimuth (deg), range (nm), motion (deg, kt), where the motion
    comes from, latitude, longitude, distance and bearing from the place, ``in_window``.
    """
    role = _role(args, ctx, "get_storm_tracks")
    ds = ctx.load(role)
    _require(ds, role, "storm_id", "motion_from", "motion_speed")
    win = _window(ctx, args, ds)
    rows = _rows(ds, "row", ["storm_id", "azimuth", "range_nm", "motion_from", "motion_speed", "motion_source",
                              "max_reflectivity", "max_reflectivity_height_kft", "lat", "lon"])
    inside = _place(rows, win)
    spd, dirn = ds["motion_speed"].values.astype(float), ds["motion_from"].values.astype(float)
    mspd, mdir, n_moving = calc.mean_storm_motion(spd[inside], dirn[inside])
    header = int(ds.attrs.get("header_storm_count", -1))
    values: dict[str, Value] = {"storm_count": Value(value=int(inside.sum()), units="1", note="inside the window"),
                                "header_storm_count": Value(value=header if header >= 0 else None, units="1"),
                                "storms_with_motion": Value(value=n_moving, units="1"),
                                "storms_in_product": Value(value=len(rows), units="1"),
                                "storms_outside_window": Value(value=int((~inside).sum()), units="1")}
    warnings = _decode_warnings(ds)
    sym_only = [r["storm_id"] for r in rows if r.get("motion_source") == "symbology forecast track"]
    if sym_only:
        warnings.append(f"{len(sym_only)} storm(s) appear only in the symbology block ({', '.join(sym_only)}): "
                        "their motion is taken from the product's 15-min forecast position")
    if note := _outside(rows, inside, "storms", win):
        warnings.append(note)
    j = calc.nearest([r.get("distance_km") for r in rows], inside)
    nearest = rows[j] if j is not None else None
    values["nearest_storm_id"] = Value(value=None if nearest is None else nearest.get("storm_id"))
    _where(values, "nearest_storm", nearest)
    i = calc.fastest(spd, inside)
    _where(values, "fastest_storm", rows[i] if i is not None else None)
    if i is not None:
        values.update({"fastest_storm_id": Value(value=str(ds["storm_id"].values[i])),
                       "fastest_storm_speed": Value(value=_f(spd[i], 1), units="knot"),
                       "fastest_storm_direction": Value(value=_f(dirn[i], 0), units="degree",
                                                        note="direction the storm moves from"),
                       "fastest_storm_lat": Value(value=_f(ds["lat"].values[i], 4), units="degree_north"),
                       "fastest_storm_lon": Value(value=_f(ds["lon"].values[i], 4), units="degree_east"),
                       "mean_motion_speed": Value(value=_f(mspd, 1), units="knot"),
                       "mean_motion_direction": Value(value=_f(mdir, 0), units="degree",
                                                      note="direction the storms move from")})
        summary = (f"{_when(ds)}: {int(inside.sum())} storms {win.area_text()} (of {len(rows)}; header {header}); "
                   f"fastest {values['fastest_storm_id'].value} from {dirn[i]:.0f} deg at {spd[i]:.0f} kt"
                   f"{_loc(rows[i])}; mean motion of {n_moving} from {mdir:.0f} deg at {mspd:.0f} kt")
        if n_moving < int(inside.sum()):
            warnings.append(f"{int(inside.sum()) - n_moving} new storm(s) without a motion yet")
    elif inside.any():
        summary = f"{_when(ds)}: {int(inside.sum())} storms {win.area_text()} (of {len(rows)}), none with a motion yet"
        warnings.append("no storm inside the window has a motion (all new)")
    else:
        summary = f"{_when(ds)}: no storm {win.area_text()} (of {len(rows)} in the product)"
    _none(values, (("fastest_storm_id", ""), ("fastest_storm_speed", "knot"), ("fastest_storm_direction", "degree"),
                   ("fastest_storm_lat", "degree_north"), ("fastest_storm_lon", "degree_east"),
                   ("mean_motion_speed", "knot"), ("mean_motion_direction", "degree")))
    return win.finish(ToolOutput(values=values, summary=summary, table=rows, warnings=warnings))


# ----------------------------------------------------------------------------- mesocyclones
@tool(category="level3", outputs=windowed({
    "mesocyclone_count": "1", "strongest_circulation_id": "", "strongest_storm_id": "", "strongest_strength_rank": "1",
    "strongest_low_level_rotational_velocity": "knot", "strongest_max_rotational_velocity": "knot",
    "strongest_lat": "degree_north", "strongest_lon": "degree_east", "strongest_azimuth": "degree",
    "strongest_range": "nautical_mile", "strongest_distance": "km", "strongest_bearing": "degree", "tvs_flag": "",
    "nearest_circulation_id": "", "nearest_storm_id": "", "nearest_strength_rank": "1",
    "nearest_low_level_rotational_velocity": "knot", **_where_outs("nearest"),
    "mesocyclones_in_product": "1", "mesocyclones_outside_window": "1"}),
      example={}, needs=("level3_mesocyclone", "level3_mesocyclone_detection"))
def get_mesocyclones(args: MesoInput, ctx: ToolContext) -> ToolOutput:
    """Mesocyclones detected by the radar (Level III Mesocyclone Detection Algorithm product).

    Only the circulations inside the window count. The strongest is the one with the
    highest MDA strength rank (Stumpf et al. 1998), ties broken by the mesocyclone strength
    index (MSI). Returns it (circulation and storm id, rank, low-level and maximum
    rotational velocity in knots, position, distance in km and bearing from the case's
    place), the nearest circulation (id, rank, low-level rotational velocity, distance,
    bearing) and whether any circulation inside carries a TVS flag; the table lists every
    circulation of the product (base and depth in kft, MSI, motion, distance, bearing,
    ``in_window``).
    """
    role = _role(args, ctx, "get_mesocyclones")
    ds = ctx.load(role)
    _require(ds, role, "circulation_id", "strength_rank")
    win = _window(ctx, args, ds)
    rows = _rows(ds, "row", ["circulation_id", "storm_id", "azimuth", "range_nm", "strength_rank",
                              "low_level_rotational_velocity", "low_level_delta_velocity", "base_kft", "depth_kft",
                              "max_rotational_velocity", "max_rotational_velocity_height_kft", "tvs", "msi",
                              "motion_from", "motion_speed", "lat", "lon"])
    inside = _place(rows, win)
    tvs = any(r.get("tvs") == "Y" for r, k in zip(rows, inside) if k)
    values: dict[str, Value] = {"mesocyclone_count": Value(value=int(inside.sum()), units="1",
                                                           note="inside the window"),
                                "tvs_flag": Value(value=tvs),
                                "mesocyclones_in_product": Value(value=len(rows), units="1"),
                                "mesocyclones_outside_window": Value(value=int((~inside).sum()), units="1")}
    warnings = _decode_warnings(ds)
    if note := _outside(rows, inside, "circulations", win, key="circulation_id"):
        warnings.append(note)
    j = calc.nearest([r.get("distance_km") for r in rows], inside)
    near = rows[j] if j is not None else None
    values.update({"nearest_circulation_id": Value(value=None if near is None else near["circulation_id"]),
                   "nearest_storm_id": Value(value=None if near is None else near.get("storm_id", "")),
                   "nearest_strength_rank": Value(value=None if near is None else near.get("strength_rank"),
                                                  units="1"),
                   "nearest_low_level_rotational_velocity": Value(
                       value=None if near is None else near.get("low_level_rotational_velocity"), units="knot")})
    _where(values, "nearest", near)
    i = calc.strongest_circulation(ds["strength_rank"].values, ds["msi"].values if "msi" in ds else [], inside)
    if i is not None:
        best = rows[i]
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
        _where(values, "strongest", best)
        summary = (f"{_when(ds)}: {int(inside.sum())} circulation(s) {win.area_text()} (of {len(rows)}); strongest "
                   f"{best['circulation_id']} (storm {best.get('storm_id')}) rank {best.get('strength_rank') or 0:.0f}, "
                   f"low-level Vrot {best.get('low_level_rotational_velocity') or 0:.0f} kt at "
                   f"{best.get('azimuth') or 0:.0f} deg/{best.get('range_nm') or 0:.0f} nm from the radar{_loc(best)}; "
                   f"nearest {near['circulation_id']}{_loc(near)}; TVS {'yes' if tvs else 'none'}")
    else:
        summary = (f"{_when(ds)}: no mesocyclone detected {win.area_text()}"
                   + (f" ({len(rows)} in the product, all outside)" if rows else ""))
    _none(values, (("strongest_circulation_id", ""), ("strongest_storm_id", ""), ("strongest_strength_rank", "1"),
                   ("strongest_low_level_rotational_velocity", "knot"), ("strongest_max_rotational_velocity", "knot"),
                   ("strongest_lat", "degree_north"), ("strongest_lon", "degree_east"),
                   ("strongest_azimuth", "degree"), ("strongest_range", "nautical_mile"),
                   ("strongest_distance", "km"), ("strongest_bearing", "degree")))
    return win.finish(ToolOutput(values=values, summary=summary, table=rows, warnings=warnings))


# ----------------------------------------------------------------------------- hail index
def _hail_table(ds: xr.Dataset, role: str) -> tuple[str, str]:
    """(dim, prefix) of the hail table: the NCR storm table or an NHI product."""
    if "storm_prob_severe_hail" in ds.variables:
        return "storm", "storm_"
    if ds.attrs.get("table") == "hail_index":
        return "row", ""
    raise VariableMissing(ds.attrs.get("source_file"),
                          f"role {role!r} ({ds.attrs.get('product_name', '?')}) holds no hail index: not the "
                          "composite reflectivity's storm-attributes table nor a hail index product")


@tool(category="level3", outputs=windowed({"storms_with_posh": "1", "max_posh": "percent", "max_poh": "percent",
                                           "max_hail_size": "inch", "max_hail_storm_id": "",
                                           "max_hail_lat": "degree_north", "max_hail_lon": "degree_east",
                                           "storms_in_table": "1", "storms_outside_window": "1",
                                           "nearest_hail_storm_id": "", "nearest_hail_posh": "percent",
                                           **_where_outs("max_hail", "nearest_hail")}),
      example={}, needs=("level3_composite_reflectivity", "level3_hail_index"))
def get_hail_index(args: HailInput, ctx: ToolContext) -> ToolOutput:
    """Hail index per storm cell: POSH, POH and maximum expected hail size (MEHS).

    Reads the WSR-88D hail detection algorithm's results (probability of severe hail
    POSH, probability of hail POH, both percent, and maximum expected hail size in inches)
    from the storm-attributes table of the composite reflectivity product (every row) or
    from the hail index (NHI) product. Only the storms inside the window count. Returns
    the number of storms with POSH >= ``min_posh`` percent, the largest POSH and POH, the
    storm with the largest expected hail size (ties: higher POSH, then POH, then VIL) with
    its position, distance and bearing from the place, and the nearest storm reaching the
    threshold; a size given as an upper bound ("<0.50") counts as no hail expected. The
    table lists the storms inside the window reaching the threshold.
    """
    role = _role(args, ctx, "get_hail_index")
    ds = ctx.load(role)
    dim, pre = _hail_table(ds, role)
    win = _window(ctx, args, ds)
    rows = _rows(ds, dim, ["storm_id"] + [pre + n for n in ("azimuth", "range_nm", "prob_severe_hail", "prob_hail",
                                                             "max_hail_size", "max_hail_size_qualifier", "vil",
                                                             "max_reflectivity", "top_kft", "lat", "lon")],
                 strip=pre)
    inside = _place(rows, win)
    col = (lambda n: ds[f"{pre}{n}"].values if f"{pre}{n}" in ds else None)
    s = calc.hail_summary(col("prob_severe_hail"), col("prob_hail"), col("max_hail_size"), min_posh=args.min_posh,
                          vil=col("vil"), mehs_qualifier=col("max_hail_size_qualifier"), keep=inside)
    hits = [rows[i] for i in s["hits"]]
    big = rows[s["largest"]] if s["largest"] is not None else None
    hit_mask = np.zeros(len(rows), bool)
    hit_mask[s["hits"]] = True
    j = calc.nearest([r.get("distance_km") for r in rows], hit_mask)
    near = rows[j] if j is not None else None
    warnings = _decode_warnings(ds)
    if note := _outside(rows, inside, "storms", win):
        warnings.append(note)
    values = {"storms_with_posh": Value(value=len(hits), units="1"),
              "max_posh": Value(value=_f(s["max_posh"], 1), units="percent"),
              "max_poh": Value(value=_f(s["max_poh"], 1), units="percent"),
              "max_hail_size": Value(value=_f(s["max_hail_size"], 2), units="inch"),
              "max_hail_storm_id": Value(value=big.get("storm_id") if big else None),
              "max_hail_lat": Value(value=big.get("lat") if big else None, units="degree_north"),
              "max_hail_lon": Value(value=big.get("lon") if big else None, units="degree_east"),
              "storms_in_table": Value(value=len(rows), units="1"),
              "storms_outside_window": Value(value=int((~inside).sum()), units="1"),
              "nearest_hail_storm_id": Value(value=near.get("storm_id") if near else None),
              "nearest_hail_posh": Value(value=near.get("prob_severe_hail") if near else None, units="percent")}
    _where(values, "max_hail", big)
    _where(values, "nearest_hail", near)
    summary = (f"{_when(ds)}: {len(hits)} of {int(inside.sum())} storm(s) {win.area_text()} with POSH >= "
               f"{args.min_posh:g}% ({len(rows)} in the table)"
               + (f"; largest expected hail {s['max_hail_size']:.2f} in in storm {big.get('storm_id')} "
                  f"(POSH {big.get('prob_severe_hail') or 0:.0f}%, POH {big.get('prob_hail') or 0:.0f}%{_loc(big)})"
                  if big else "; no hail expected")
               + (f"; nearest with POSH >= {args.min_posh:g}%: {near.get('storm_id')}{_loc(near)}" if near else ""))
    return win.finish(ToolOutput(values=values, summary=summary, table=hits, warnings=warnings))


# ----------------------------------------------------------------------------- TVS
_TVS_OUT = (("first_tvs_lat", "degree_north"), ("first_tvs_lon", "degree_east"), ("nearest_tvs_storm_id", ""),
            ("nearest_tvs_distance", "km"), ("nearest_tvs_bearing", "degree"), ("nearest_tvs_azimuth", "degree"),
            ("nearest_tvs_range", "nautical_mile"), ("strongest_tvs_storm_id", ""), ("strongest_tvs_distance", "km"),
            ("strongest_tvs_bearing", "degree"), ("strongest_tvs_max_shear", "1/s"),
            ("strongest_tvs_max_shear_height", "kft"), ("strongest_tvs_low_level_delta_velocity", "knot"))


def _tvs_hits(ds: xr.Dataset, role: str) -> list[dict[str, Any]] | None:
    """TVS detections and flags of one product; ``None`` when it carries none."""
    name = ds.attrs.get("product_name", role)
    if ds.attrs.get("table") == "tvs":
        return [{"product": name, "role": role, "kind": r.get("feature_type") or "TVS", **r}
                for r in _rows(ds, "row", ["feature_type", "storm_id", "azimuth", "range_nm", "max_shear",
                                           "max_shear_height_kft", "low_level_delta_velocity", "max_delta_velocity",
                                           "base_kft", "top_kft", "lat", "lon"])]
    if "tvs" in ds.data_vars and "row" in ds.dims:
        return [{"product": name, "role": role, "kind": "MDA TVS flag", **r}
                for r in _rows(ds, "row", ["circulation_id", "storm_id", "tvs", "azimuth", "range_nm", "lat", "lon"])
                if r.get("tvs") == "Y"]
    if "storm_tvs" in ds.data_vars:
        return [{"product": name, "role": role, "kind": f"storm attribute {r['tvs']}", **r}
                for r in _rows(ds, "storm", ["storm_id", "storm_tvs", "storm_azimuth", "storm_range_nm",
                                             "storm_lat", "storm_lon"], strip="storm_")
                if str(r.get("tvs", "NONE")).strip().upper() not in ("NONE", "", "N", "NO")]
    return None


@tool(category="level3", outputs=windowed({"tvs_count": "1", "tvs_storm_ids": "", "products_checked": "1",
                                           "products_failed": "", "tvs_in_products": "1", "tvs_outside_window": "1",
                                           **dict(_TVS_OUT)}),
      example={}, needs=("level3_mesocyclone", "level3_composite_reflectivity", "level3_tornado_vortex_signature"))
def get_tvs_detections(args: TvsInput, ctx: ToolContext) -> ToolOutput:
    """Tornado vortex signatures (TVS/ETVS) across the case's Level III products.

    Reads every Level III role of the case: the TVS product (NTV: each detection with
    its maximum shear in 1/s and height in kft, low-level delta velocity in knots), the
    mesocyclone detection table (``tvs`` = Y) and the storm-attributes table of the
    composite reflectivity product (TVS other than NONE). A product that cannot be read
    is left out and named in the warnings, the summary and ``products_failed``. Zero
    detections is a valid answer. Only detections inside the window count
    (``tvs_count``; ``tvs_in_products`` counts them all, ``tvs_outside_window`` those
    left out, named in a warning). Returns the count, the nearest detection inside to the
    case's place (distance in km and bearing from the place, azimuth and range from the
    radar) and the strongest inside (largest maximum shear, with its distance and
    bearing); the table lists each detection with its product, position, distance,
    bearing and ``in_window``.
    """
    roles = [r for r in ctx.case.roles if r.startswith("level3_")] + \
            [r for r in ctx.explicit if r.startswith("level3_") and r not in ctx.case.roles]
    hits: list[dict[str, Any]] = []
    checked: list[str] = []
    failed: list[str] = []
    warnings: list[str] = []
    win = _window(ctx, args, None)
    for role in roles:
        try:
            ds = ctx.load(role)
        except DataError as exc:
            failed.append(role)
            warnings.append(f"product of role {role!r} left out: {exc}")
            continue
        found = _tvs_hits(ds, role)
        if found is not None:
            if not checked:  # the data time: the first product checked; each one outside is said
                win.at(ds.attrs.get("volume_time") or None, f"the {ds.attrs.get('product_name', role)} product")
            elif ds.attrs.get("volume_time"):
                t = ds.attrs["volume_time"]
                lo, hi = win.time_limits()
                ts = pd.Timestamp(str(t))
                if (lo is not None and ts < lo) or (hi is not None and ts > hi):
                    win.flag_outside(f"the {ds.attrs.get('product_name', role)} product (volume {str(t)[:16]}) lies "
                                     f"outside the time window ({win.window_text()}): used, and weighs less")
            checked.append(role)
            hits.extend(found)
            warnings.extend(_decode_warnings(ds))
    if not checked:
        why = f"; unreadable: {'; '.join(warnings)}" if failed else ""
        raise VariableMissing(None, f"case {ctx.case.id!r} has no readable Level III product with TVS detections or "
                                    f"flags (TVS, mesocyclone detection or composite reflectivity storm attributes){why}")
    s = calc.tvs_summary([h.get("lat") if h.get("lat") is not None else np.nan for h in hits],
                         [h.get("lon") if h.get("lon") is not None else np.nan for h in hits],
                         [h.get("max_shear") if h.get("max_shear") is not None else np.nan for h in hits],
                         [h.get("low_level_delta_velocity") if h.get("low_level_delta_velocity") is not None
                          else np.nan for h in hits], (win.lat, win.lon), radius_km=win.radius_km)
    for h, d, b, k in zip(hits, s["distance_km"], s["azimuth_from_place"], s["inside"]):
        h["distance_km"], h["bearing"], h["in_window"] = _f(d, 1), _f(b, 0), bool(k)
    inside = np.asarray(s["inside"], bool)
    kept = [h for h, k in zip(hits, inside) if k]
    if note := _outside(hits, inside, "TVS detections/flags", win):
        warnings.append(note)
    ids = sorted({h.get("storm_id", "") for h in kept if h.get("storm_id")})
    values: dict[str, Value] = {
        "tvs_count": Value(value=len(kept), units="1", note="inside the window"),
        "tvs_storm_ids": Value(value=", ".join(ids)),
        "products_checked": Value(value=len(set(checked)), units="1"),
        "products_failed": Value(value=", ".join(failed), note="roles whose product could not be read"),
        "tvs_in_products": Value(value=len(hits), units="1"),
        "tvs_outside_window": Value(value=int((~inside).sum()), units="1")}
    if kept:
        near, strong = hits[s["nearest"]], hits[s["strongest"]]
        values.update({
            "first_tvs_lat": Value(value=kept[0].get("lat"), units="degree_north"),
            "first_tvs_lon": Value(value=kept[0].get("lon"), units="degree_east"),
            "nearest_tvs_storm_id": Value(value=near.get("storm_id", "")),
            "nearest_tvs_distance": Value(value=near.get("distance_km"), units="km", note="from the case's place"),
            "nearest_tvs_bearing": Value(value=near.get("bearing"), units="degree",
                                         note="from the case's place, clockwise from north"),
            "nearest_tvs_azimuth": Value(value=near.get("azimuth"), units="degree", note="from the radar"),
            "nearest_tvs_range": Value(value=near.get("range_nm"), units="nautical_mile", note="from the radar"),
            "strongest_tvs_storm_id": Value(value=strong.get("storm_id", "")),
            "strongest_tvs_distance": Value(value=strong.get("distance_km"), units="km", note="from the case's place"),
            "strongest_tvs_bearing": Value(value=strong.get("bearing"), units="degree",
                                           note="from the case's place, clockwise from north"),
            "strongest_tvs_max_shear": Value(value=strong.get("max_shear"), units="1/s"),
            "strongest_tvs_max_shear_height": Value(value=strong.get("max_shear_height_kft"), units="kft"),
            "strongest_tvs_low_level_delta_velocity": Value(value=strong.get("low_level_delta_velocity"),
                                                            units="knot")})
    _none(values, _TVS_OUT)
    summary = (f"{ctx.case.id}: {len(kept)} TVS detection(s)/flag(s) {win.area_text()} in {len(set(checked))} "
               f"product(s)"
               + (f" (storms {', '.join(ids)}; nearest {values['nearest_tvs_distance'].value} km from the place, "
                  f"strongest {values['strongest_tvs_storm_id'].value} at {values['strongest_tvs_distance'].value} km)"
                  if kept else "")
               + (f"; {len(hits) - len(kept)} more outside the window, not counted" if len(hits) > len(kept) else "")
               + (f"; could not read {', '.join(failed)}" if failed else ""))
    return win.finish(ToolOutput(values=values, summary=summary, table=hits, warnings=warnings))


# ----------------------------------------------------------------------------- storm structure
@tool(category="level3", outputs=windowed({"storm_count": "1", "tallest_storm_id": "", "max_top": "kft",
                                           "max_vil_storm_id": "", "max_vil": "kg/m^2", "max_reflectivity_storm_id": "",
                                           "max_reflectivity": "dBZ", "max_reflectivity_height": "kft",
                                           "storms_in_product": "1", "storms_outside_window": "1",
                                           "nearest_storm_id": "",
                                           **_where_outs("nearest_storm", "max_reflectivity")}),
      example={}, needs=("level3_storm_structure", "level3_composite_reflectivity"))
def get_storm_structure(args: StructureInput, ctx: ToolContext) -> ToolOutput:
    """Storm structure per cell: top, cell-based VIL, maximum reflectivity and its height.

    Reads the storm structure (NSS) product or the storm-attributes table of the composite
    reflectivity product. Only the cells inside the window count. Returns their number,
    the tallest (top in kft), the one with the largest cell VIL (kg/m2), the one with the
    strongest maximum reflectivity (dBZ, with its height in kft, distance and bearing from
    the place) and the nearest cell; the table lists every cell of the product (distance,
    bearing, ``in_window``).
    """
    role = _role(args, ctx, "get_storm_structure")
    ds = ctx.load(role)
    if ds.attrs.get("table") == "storm_structure":
        dim, pre = "row", ""
    elif "storm_vil" in ds.variables:
        dim, pre = "storm", "storm_"
    else:
        raise VariableMissing(ds.attrs.get("source_file"),
                              f"role {role!r} ({ds.attrs.get('product_name', '?')}) holds no storm structure: not "
                              "the storm structure product nor the composite reflectivity's storm-attributes table")
    names = ["storm_id", "azimuth", "range_nm", "base_kft", "top_kft", "vil", "max_reflectivity",
             "max_reflectivity_height_kft", "lat", "lon"]
    rows = _rows(ds, dim, [n if n == "storm_id" else pre + n for n in names], strip=pre)
    win = _window(ctx, args, ds)
    inside = _place(rows, win)
    col = (lambda n: ds[pre + n].values if pre + n in ds else np.full(len(rows), np.nan))
    s = calc.storm_structure_summary(col("top_kft"), col("vil"), col("max_reflectivity"), keep=inside)
    pick = (lambda key: rows[s[key]] if s[key] is not None else {})
    tall, vil, ref = pick("tallest"), pick("max_vil"), pick("max_reflectivity")
    j = calc.nearest([r.get("distance_km") for r in rows], inside)
    near = rows[j] if j is not None else None
    warnings = _decode_warnings(ds)
    if note := _outside(rows, inside, "cells", win):
        warnings.append(note)
    values = {"storm_count": Value(value=int(inside.sum()), units="1", note="inside the window"),
              "tallest_storm_id": Value(value=tall.get("storm_id")),
              "max_top": Value(value=tall.get("top_kft"), units="kft"),
              "max_vil_storm_id": Value(value=vil.get("storm_id")),
              "max_vil": Value(value=vil.get("vil"), units="kg/m^2"),
              "max_reflectivity_storm_id": Value(value=ref.get("storm_id")),
              "max_reflectivity": Value(value=ref.get("max_reflectivity"), units="dBZ"),
              "max_reflectivity_height": Value(value=ref.get("max_reflectivity_height_kft"), units="kft"),
              "storms_in_product": Value(value=len(rows), units="1"),
              "storms_outside_window": Value(value=int((~inside).sum()), units="1"),
              "nearest_storm_id": Value(value=near.get("storm_id") if near else None)}
    _where(values, "nearest_storm", near)
    _where(values, "max_reflectivity", ref or None)
    summary = (f"{_when(ds)}: {int(inside.sum())} cell(s) {win.area_text()} (of {len(rows)})"
               + (f"; tallest {tall.get('storm_id')} ({tall.get('top_kft')} kft)" if tall else "")
               + (f"; largest VIL {vil.get('storm_id')} ({vil.get('vil')} kg/m2)" if vil else "")
               + (f"; strongest {ref.get('storm_id')} ({ref.get('max_reflectivity')} dBZ at "
                  f"{ref.get('max_reflectivity_height_kft')} kft{_loc(ref)})" if ref else ""))
    return win.finish(ToolOutput(values=values, summary=summary, table=rows, warnings=warnings))


# ----------------------------------------------------------------------------- fields
@tool(category="level3", outputs=windowed({"max_value": "", "max_lat": "degree_north", "max_lon": "degree_east",
                                           "max_range": "km", "max_azimuth": "degree", "mean_value": "",
                                           "coverage_fraction": "1", "product_name": "", **_where_outs("max")}),
      example={}, needs=("level3_vil", "level3_echo_tops", "level3_base_reflectivity",
                         "level3_composite_reflectivity"))
def summarize_level3_field(args: FieldInput, ctx: ToolContext) -> ToolOutput:
    """Maximum of a Level III field product (VIL, echo tops, reflectivity...) and where.

    Works on raster products (``(y, x)`` km grid) and radial ones (``(azimuth, range)``),
    of any product code. Returns the maximum and the mean over bins with data, in the
    product's own units (kg/m2 for VIL, kft for echo tops, dBZ for reflectivity, ...:
    given with each value), the maximum's latitude, longitude, range (km) and azimuth
    from the radar, its distance and bearing from the place, and the share of bins with
    data; all over the bins inside the window.
    """
    role = _role(args, ctx, "summarize_level3_field")
    ds = ctx.load(role)
    _require(ds, role, "data")
    da = ds["data"]
    units = da.attrs.get("units", "")
    win = _window(ctx, args, ds)
    mask = None
    if "lat" in da.coords and "lon" in da.coords and da["lat"].shape == da.shape:
        mask = win.mask(da["lat"].values, da["lon"].values)
    m = calc.field_maximum(da, mask=mask)
    warnings = _decode_warnings(ds)
    if mask is None:
        warnings.append("the product's bins have no positions: the whole product is searched, not the window")
    if m["index"] is None:
        warnings.append("the field has no data")
    elif da.dims == ("azimuth", "range") and float(ds["range"].values[-1]) < 10000.0:
        warnings.append(f"the product's range axis ends at {float(ds['range'].values[-1]):.0f} m: its gate spacing "
                        "looks mis-decoded, so the range and position of the maximum are unreliable")
    if "flag_meanings" in da.attrs:
        warnings.append("the product's values are classes, not a quantity: its maximum is a class code")
    name = ds.attrs.get("product_name", role)
    values = {"max_value": Value(value=_f(m["max"], 2), units=units),
              "max_lat": Value(value=_f(m["lat"], 4), units="degree_north"),
              "max_lon": Value(value=_f(m["lon"], 4), units="degree_east"),
              "max_range": Value(value=_f(m["range_km"], 1), units="km"),
              "max_azimuth": Value(value=_f(m["azimuth"], 1), units="degree"),
              "mean_value": Value(value=_f(m["mean"], 3), units=units),
              "coverage_fraction": Value(value=round(m["coverage"], 4), units="1"),
              "product_name": Value(value=name)}
    d, b = win.locate([m["lat"]], [m["lon"]])
    _where(values, "max", {"distance_km": _f(d[0], 1), "bearing": _f(b[0], 0)} if m["index"] is not None else None)
    summary = (f"{_when(ds)} {name}{'' if mask is None else ' ' + win.area_text()}: max {m['max']:.4g} {units}"
               + (f" at {m['range_km']:.0f} km, {m['azimuth']:.0f} deg from the radar ({m['lat']:.3f}, "
                  f"{m['lon']:.3f}), {d[0]:.0f} km from the place" if m["index"] is not None else ""))
    return win.finish(ToolOutput(values=values, summary=summary, warnings=warnings))
