"""Plot tools: each writes a PNG and its JSON sidecar into the context's figure folder.

Figures are drawn by :mod:`hvrmet.plot` (matplotlib, MetPy, cartopy) from local map
files only. File names are deterministic: tool, case and the parameters that change the
picture. Every tool returns ``figure_path``, ``kind`` and ``valid_time`` plus the numbers
the figure shows.

Maps are made to be read at a glance: places from the offline gazetteer, county borders
at storm scale, and the features the diagnosis tools find in the same data marked and
labelled (radar: the rotation couplets of ``detect_rotation``, the storm cells of
``detect_storm_cells``, the hail core of ``estimate_hail_proxy``; Level III: the
product's cells, the MDA circulations and TVS; gridded: the H and L centres), besides
any ``marks`` the caller passes in. The sidecar lists every mark (kind, lat/lon, label,
nearest town) and every place label drawn.
"""

from __future__ import annotations

import math
import time as _time
from typing import Literal

import hashlib
import json

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hvrmet.errors import HvrmetError, VariableMissing
from hvrmet.plot.marks import Mark
from hvrmet.plot.sidecar import FigureMeta, figure_stem, iso_time, save_figure
from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import FigureRef, ToolOutput, Value

__all__: list[str] = []


def _sources(ctx: ToolContext) -> list[dict[str, str]]:
    seen, out = set(), []
    for f in ctx.files_read:
        if f.path not in seen:
            seen.add(f.path)
            out.append({"path": f.path, "sha256": f.sha256})
    return out


def _num(x: float | None, nd: int = 2) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), nd)


def _finish(ctx: ToolContext, stem: str, meta: FigureMeta, fig, values: dict[str, Value], summary: str,
            warnings: list[str], t0: float, res=None) -> ToolOutput:
    meta.source_files = _sources(ctx)
    if res is not None:  # maps: what annotate_map drew (soundings set theirs)
        meta.marks, meta.places = list(res.marks), list(res.places)
    saved = save_figure(fig, ctx.out_dir, stem, meta)
    ref = FigureRef(png=saved.png, sidecar=saved.sidecar, kind=saved.kind)
    values = {"figure_path": Value(value=ref.png), "kind": Value(value=meta.kind),
              "valid_time": Value(value=meta.valid_time), **values}
    if "marks_drawn" in values or res is not None:
        values["marks_drawn"] = Value(value="; ".join(f"{m.get('tag') or m['kind']}: {m['label']}"
                                                      + (f" ({m['near']})" if m.get("near") else "")
                                                      for m in meta.marks) or None)
        values["places_drawn"] = Value(value=", ".join(p["name"] for p in meta.places) or None)
    return ToolOutput(values=values, figures=[ref], warnings=warnings,
                      summary=f"{summary} -> {ref.png} ({_time.perf_counter() - t0:.1f} s)")


FIG = {"figure_path": "", "kind": "", "valid_time": ""}
#: Map tools also return what they marked and which places they labelled (text lists).
MAP = {**FIG, "marks_drawn": "", "places_drawn": ""}

MarkKind = Literal["rotation", "mesocyclone", "tvs", "cell", "hail_core", "low", "high", "point"]


class MarkInput(BaseModel):
    """A feature to mark on a map (from a diagnosis, a report, a user)."""

    model_config = ConfigDict(extra="forbid")

    kind: MarkKind = Field("point", description="what it is: rotation, mesocyclone, tvs, cell, hail_core, low, "
                           "high or point")
    lat: float = Field(description="latitude of the feature [degree_north]", ge=-90, le=90)
    lon: float = Field(description="longitude of the feature [degree_east]", ge=-360, le=360)
    label: str = Field("", description="short label drawn beside it (default: the kind)")


def _given_marks(marks: list[MarkInput]) -> list[Mark]:
    return [Mark(kind=m.kind, lat=m.lat, lon=((m.lon + 180.0) % 360.0) - 180.0, label=m.label or m.kind,
                 source="given") for m in marks]


def _marks_key(marks: list[MarkInput]) -> str | None:
    """A short digest of the marks passed in, for the file stem (None when there are none)."""
    if not marks:
        return None
    text = json.dumps([m.model_dump() for m in marks], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _case_args(args: CaseInput) -> dict:
    return {"case": args.case, "data_dir": args.data_dir, "files": dict(args.files)}


def _run_quiet(what: str, fn, notes: list[str]):
    """Run a diagnosis tool for its features; a failure leaves a note, not an error."""
    try:
        return fn()
    except (HvrmetError, ValueError, KeyError) as exc:
        notes.append(f"{what} not marked: {exc}")
        return None


def _volume_marks(args: CaseInput, ctx: ToolContext, role: str, *, cells: bool = True, hail: bool = True,
                  rotation: bool = True, max_cells: int = 5) -> tuple[list[Mark], list[str]]:
    """The features the radar diagnosis tools find in a volume, inside the case's window,
    with their default settings: rotation couplets (every mesocyclone-strength one, up to
    three, or else the strongest), storm cells (the strongest ``max_cells``) and the hail
    core (where the 50 dBZ echo reaches highest, when the case gives a freezing level)."""
    from hvrmet.tools import radar as rt

    marks: list[Mark] = []
    notes: list[str] = []
    base = {**_case_args(args), "role": role}
    if rotation:
        out = _run_quiet("rotation", lambda: rt.detect_rotation(rt.RotationInput(**base), ctx), notes)
        cps = list(out.table or []) if out is not None else []
        meso = [c for c in cps if c.get("mesocyclone")]
        for c in meso[:3] or cps[:1]:
            marks.append(Mark(kind="rotation", lat=float(c["lat"]), lon=float(c["lon"]),
                              tag="MESO" if c.get("mesocyclone") else "ROT",
                              label=f"Vrot {c['vrot']:.0f} m/s at {c['elevation']:.1f}° "
                                    f"({c['height_m'] / 1000.0:.1f} km MSL)", value=round(float(c["vrot"]), 1),
                              units="m/s", source="detect_rotation",
                              detail={"elevation_deg": round(float(c["elevation"]), 2),
                                      "shear_per_s": round(float(c["shear"]), 4),
                                      "height_km_msl": round(float(c["height_m"]) / 1000.0, 2),
                                      "range_km": round(float(c["range_km"]), 1),
                                      "azimuth_deg": round(float(c["azimuth"]), 1),
                                      "mesocyclone": bool(c.get("mesocyclone"))}))
    if hail:
        out = _run_quiet("hail core", lambda: rt.estimate_hail_proxy(rt.HailInput(**base), ctx), notes)
        if out is not None and out.values["height_50dbz_lat"].value is not None:
            v = out.values
            above = v["height_50dbz_above_freezing"].value
            marks.append(Mark(kind="hail_core", lat=float(v["height_50dbz_lat"].value),
                              lon=float(v["height_50dbz_lon"].value), tag="HAIL",
                              label=f"50 dBZ to {v['height_50dbz'].value:.1f} km MSL"
                                    + (f", {above:.1f} km above 0 °C" if above is not None else ""),
                              value=v["height_50dbz"].value,
                              units="km", source="estimate_hail_proxy",
                              detail={"above_freezing_km": above, "large_hail": bool(v["large_hail_flag"].value)}))
    if cells:
        out = _run_quiet("storm cells", lambda: rt.detect_storm_cells(rt.CellInput(**base), ctx), notes)
        inside = [c for c in (out.table or []) if c.get("in_window")] if out is not None else []
        for c in inside[:max_cells]:
            marks.append(Mark(kind="cell", lat=float(c["lat"]), lon=float(c["lon"]),
                              tag=f"C{c['cell_id']}", label=f"cell {c['max_dbz']:.0f} dBZ, {c['area_km2']:.0f} km²",
                              value=float(c["max_dbz"]), units="dBZ",
                              source="detect_storm_cells",
                              detail={"cell_id": int(c["cell_id"]), "area_km2": float(c["area_km2"])}))
    return marks, notes


def _level3_marks(args: CaseInput, ctx: ToolContext, ds, max_cells: int = 10) -> tuple[list[Mark], list[str]]:
    """Features of a Level III case: the product's own storm cells (the nearest
    ``max_cells`` to the case's place), MDA circulations of strength rank 5 or more (up to
    four) and TVS detections, from the case's Level III tables."""
    from hvrmet.tools import level3 as l3

    marks: list[Mark] = []
    notes: list[str] = []
    base = _case_args(args)
    if "storm_lat" in ds.coords and ds.sizes.get("storm", 0):
        lats, lons = ds["storm_lat"].values.astype(float), ds["storm_lon"].values.astype(float)
        ids = ds["storm_id"].values if "storm_id" in ds else np.array([""] * len(lats))
        c_lat, c_lon = ctx.case.location.lat, ctx.case.location.lon
        order = np.argsort(np.hypot(lats - c_lat, (lons - c_lon) * np.cos(np.radians(c_lat))))
        for i in order[:max_cells]:
            marks.append(Mark(kind="cell", lat=float(lats[i]), lon=float(lons[i]), tag=str(ids[i]).strip(),
                              label="storm cell",
                              source=f"{ds.attrs.get('product_name', 'Level III')} storm table",
                              detail={"storm_id": str(ids[i]).strip()}))
    if ctx.has("level3_mesocyclone"):
        out = _run_quiet("mesocyclones", lambda: l3.get_mesocyclones(l3.MesoInput(**base), ctx), notes)
        rows = [r for r in (out.table or []) if r.get("in_window") and (r.get("strength_rank") or 0) >= 5] \
            if out is not None else []
        rows.sort(key=lambda r: -(r.get("strength_rank") or 0))
        for r in rows[:4]:
            vr = r.get("low_level_rotational_velocity")
            marks.append(Mark(kind="mesocyclone", lat=float(r["lat"]), lon=float(r["lon"]),
                              tag=f"MESO {r.get('storm_id', '')}".strip(),
                              label=f"MDA rank {r['strength_rank']:.0f}"
                                    + (f", low-level Vrot {vr:.0f} kt" if vr is not None else ""),
                              value=r.get("strength_rank"), units="1", source="get_mesocyclones",
                              detail={"circulation_id": r.get("circulation_id"), "storm_id": r.get("storm_id"),
                                      "low_level_vrot_kt": vr}))
    out = _run_quiet("TVS", lambda: l3.get_tvs_detections(l3.TvsInput(**base), ctx), notes)
    for r in (out.table or []) if out is not None else []:
        if r.get("lat") is None or not r.get("in_window", True):
            continue
        marks.append(Mark(kind="tvs", lat=float(r["lat"]), lon=float(r["lon"]),
                          tag=f"TVS {r.get('storm_id', '')}".strip(), label=f"{r.get('kind', 'TVS')} "
                          f"({r.get('product', '')})", source="get_tvs_detections",
                          detail={"product": r.get("product"), "kind": r.get("kind")}))
    return marks, notes


# --------------------------------------------------------------------------- soundings
class SoundingPlotInput(CaseInput):
    """A case and the role of its sounding."""

    role: str = Field("sounding", description="case role of the sounding to plot")


def _sounding(args: SoundingPlotInput, ctx: ToolContext):
    from hvrmet.tools.sounding_calc import diagnostics, profile_from_dataset

    ds = ctx.load(args.role)
    prof = profile_from_dataset(ds)
    diag = diagnostics(prof)
    station = str(ds.attrs.get("station", "")) or args.case
    valid = iso_time(ds.attrs.get("time"))
    lat, lon = ds.attrs.get("latitude"), ds.attrs.get("longitude")
    extent = [float(lon), float(lon), float(lat), float(lat)] if lat is not None and lon is not None else None
    return ds, prof, diag, station, valid, extent


def _station_place(extent: list[float] | None) -> tuple[str, list[dict]]:
    """`` near Norman`` for the title and the place record, from the station's position."""
    if extent is None:
        return "", []
    from hvrmet.plot.places import nearest_place

    try:
        p = nearest_place(extent[2], extent[0], min_population=5000, max_km=40.0)
    except HvrmetError:
        return "", []
    if p is None:
        return "", []
    rec = {k: p[k] for k in ("name", "lat", "lon", "population", "admin1", "country")}
    return f" ({p['name']}{', ' + p['admin1'] if p['admin1'] else ''})", [rec]


@tool(category="plot", outputs={**FIG, "sbcape": "J/kg", "sbcin": "J/kg", "lcl_pressure": "hPa",
                                "lfc_pressure": "hPa", "el_pressure": "hPa"},
      example={}, needs=("sounding",))
def plot_skewt(args: SoundingPlotInput, ctx: ToolContext) -> ToolOutput:
    """Draw the sounding's skew-T log-p diagram with the surface parcel and an inset hodograph.

    MetPy ``SkewT``: temperature and dew point (degC), the surface-based parcel path
    (``metpy.calc.parcel_profile``), CAPE and CIN shaded, the LCL, LFC and EL marked, wind
    barbs (kt, thinned to one per 3.5 % of ln p), dry/moist adiabats and mixing lines, a
    box of indices (SBCAPE, SBCIN, MLCAPE, LCL, 0-6 km shear, 0-1 km SRH, STP) and an
    inset hodograph coloured by height (0-1, 1-3, 3-6, 6-9 km legend, rings labelled in
    kt, Bunkers motions). The title names the station, the town it stands by (offline
    gazetteer) and the valid time; the sidecar lists the levels and storm motions marked.
    Returns the PNG path and the surface parcel's CAPE/CIN (J/kg) and LCL/LFC/EL
    pressures (hPa).
    """
    from hvrmet.plot.skewt import skewt_figure

    t0 = _time.perf_counter()
    _ds, prof, diag, station, valid, extent = _sounding(args, ctx)
    where, places = _station_place(extent)
    title = f"{station}{where} sounding: temperature, dew point (°C), wind (kt)\nvalid {_when(valid)}"
    fig, marks = skewt_figure(prof, diag, title)
    meta = FigureMeta(kind="skewt", variables=["temperature", "dewpoint", "wind"], valid_time=valid,
                      units="degC", title=title.replace("\n", "  "), case=ctx.case.id, level="surface-100 hPa",
                      extent=extent, colour_scale=None, marks=marks, places=places,
                      extra={"station": station, "barb_units": "knot"})
    keys = ("sbcape", "sbcin", "lcl_pressure", "lfc_pressure", "el_pressure")
    values = {k: Value(value=_num(diag[k][0], 1), units=diag[k][1]) for k in keys}
    return _finish(ctx, figure_stem("plot_skewt", ctx.case.id, role=args.role), meta, fig, values,
                   f"skew-T {station} {valid}: SBCAPE {diag['sbcape'][0]:.0f} J/kg", list(prof.notes), t0)


@tool(category="plot", outputs={**FIG, "bunkers_right_speed": "m/s", "bunkers_right_direction": "degree",
                                "shear_0_6km": "m/s", "srh_0_3km": "m^2/s^2"},
      example={}, needs=("sounding",))
def plot_hodograph(args: SoundingPlotInput, ctx: ToolContext) -> ToolOutput:
    """Draw the sounding's hodograph (kt) with height layers coloured and Bunkers motion marked.

    MetPy ``Hodograph.plot_colormapped``: 0-1 km red, 1-3 km green, 3-6 km blue, 6-9 km
    purple (heights above ground); the Bunkers right mover (circle) and left mover (square)
    from ``metpy.calc.bunkers_storm_motion``. Returns the PNG path, the right mover's speed
    (m/s) and direction (degree, from), the 0-6 km bulk shear (m/s) and 0-3 km SRH (m2/s2).
    """
    from hvrmet.plot.skewt import hodograph_figure

    t0 = _time.perf_counter()
    _ds, prof, diag, station, valid, extent = _sounding(args, ctx)
    if prof.u is None:
        raise VariableMissing(None, f"the {args.role} of case {ctx.case.id} has no wind: no hodograph")
    where, places = _station_place(extent)
    title = f"{station}{where} hodograph (kt), 0-9 km above ground\nvalid {_when(valid)}"
    fig, marks = hodograph_figure(prof, diag, title)
    meta = FigureMeta(kind="hodograph", variables=["u", "v"], valid_time=valid, units="knot",
                      title=title.replace("\n", "  "), case=ctx.case.id, level="0-9 km AGL", extent=extent,
                      marks=marks, places=places, extra={"station": station})
    values = {k: Value(value=_num(diag[k][0], 1), units=diag[k][1])
              for k in ("bunkers_right_speed", "bunkers_right_direction", "shear_0_6km", "srh_0_3km")}
    return _finish(ctx, figure_stem("plot_hodograph", ctx.case.id, role=args.role), meta, fig, values,
                   f"hodograph {station} {valid}", list(prof.notes), t0)


# --------------------------------------------------------------------------- radar
class RadarMapInput(CaseInput):
    """A case, its radar role and the map's range and rings."""

    role: str = Field("radar_volume", description="case role of the radar data (a radar volume of any format)")
    max_range: float | None = quantity(None, units="km", description="half-width of the map around the "
                                       "radar (default 230 km for a volume, the data's reach for Level III)",
                                       ge=10, le=460)
    ring_spacing: float = quantity(50.0, units="km", description="spacing of the range rings", ge=5, le=250)
    counties: bool | None = Field(None, description="draw US county borders; by default drawn at storm scale "
                                  "(max_range up to 300 km) over the US")
    places: bool = Field(True, description="label cities and towns (offline GeoNames gazetteer), as many as "
                         "the map has room for, the towns nearest the marked features first")
    find_features: bool = Field(True, description="mark what the radar diagnosis tools find in the same data "
                                "inside the case's window (rotation couplets, storm cells, the hail core; "
                                "Level III: the product's cells, MDA circulations and TVS)")
    marks: list[MarkInput] = Field(default_factory=list, description="further features to mark, each with "
                                   "kind, lat, lon and label (e.g. those a diagnosis cited)")


class PPIInput(RadarMapInput):
    """A PPI sweep of a radar volume to draw: the field and the sweep (index or elevation)."""

    field: Literal["reflectivity", "velocity"] = Field("reflectivity", description="moment to draw")
    sweep: int | None = quantity(None, units="1", description="sweep index (0 = first); default the lowest "
                                 "sweep holding the field", ge=0, le=200)
    elevation: float | None = quantity(None, units="degree", description="elevation angle: the sweep whose "
                                       "fixed angle is nearest (used when sweep is not given)", ge=0, le=90)


def _is_volume(ds) -> bool:
    import xarray as xr

    return isinstance(ds, xr.DataTree)


def _radar_time(ds, sweep: int | None = None) -> str:
    if _is_volume(ds):
        if sweep is not None:
            node = ds[f"sweep_{sweep}"].ds
            if "time" in node.coords:
                tt = node["time"].values
                tt = tt[~np.isnat(tt)]
                if tt.size:
                    return iso_time(tt.min())
        return iso_time(ds.attrs.get("time_coverage_start"))
    return iso_time(ds.attrs.get("volume_start_time") or ds.attrs.get("volume_time"))


def _pick_sweep(vol, var: str, sweep: int | None, elevation: float | None) -> int:
    from hvrmet.calc import radar as rc

    has = sorted(rc.sweep_index(n) for n in rc.sweeps_with(vol, var, dedupe=False))
    if not has:
        raise VariableMissing(vol.attrs.get("source_file"), f"no PPI sweep of this volume holds {var}")
    angles = {i: rc.fixed_angle(vol[f"sweep_{i}"].ds) for i in has}
    if sweep is not None:
        if sweep not in has:
            raise VariableMissing(vol.attrs.get("source_file"),
                                  f"sweep {sweep} holds no {var} (or is not a PPI); sweeps with {var}: "
                                  + ", ".join(f"{i} ({angles[i]:.1f}°)" for i in has))
        return sweep
    if elevation is not None:
        return min(has, key=lambda i: (abs(angles[i] - elevation), i))
    return min(has, key=lambda i: (angles[i], i))


@tool(category="plot", outputs={**MAP, "sweep_index": "1", "elevation": "degree", "max_reflectivity": "dBZ",
                                "max_abs_velocity": "m/s"},
      example={"field": "reflectivity"}, needs=("radar_volume",))
def plot_radar_ppi(args: PPIInput, ctx: ToolContext) -> ToolOutput:
    """Draw one PPI sweep of a radar volume (reflectivity or radial velocity) on a map.

    Any radar format (NEXRAD Level II, CfRadial, ODIM_H5, IRIS, Rainbow, ...): the sweep
    is a node of the volume's sweep tree with its own gates. The gates are drawn as polar
    cells (pcolormesh) in an azimuthal equidistant projection centred on the radar, with
    the NWS reflectivity table (5 dBZ steps from 5 dBZ) or the NWS velocity table over
    +- the sweep's Nyquist velocity (m/s; fitted to the data when the file gives none),
    US states and coastlines, county borders at storm scale, range rings, the radar,
    places from the offline gazetteer and the features the radar tools find inside the
    case's window
    (rotation couplets of ``detect_rotation``; on reflectivity also the storm cells of
    ``detect_storm_cells`` and the hail core of ``estimate_hail_proxy``), each labelled.
    The title gives the site, the variable's long name, units, elevation and valid time.
    Returns the PNG path, the sweep index and elevation (degree) and the sweep's maximum
    reflectivity (dBZ) or maximum absolute radial velocity (m/s); the other one is None;
    ``marks_drawn`` and ``places_drawn`` list what the map shows.
    """
    from hvrmet.calc import radar as rc
    from hvrmet.plot.maps import radar_map

    t0 = _time.perf_counter()
    vol = ctx.load(args.role)
    if not _is_volume(vol):
        raise VariableMissing(vol.attrs.get("source_file"), f"role {args.role} is not a radar volume "
                              "(no sweeps); use plot_composite_reflectivity for Level III products")
    var = "reflectivity" if args.field == "reflectivity" else "radial_velocity"
    s = _pick_sweep(vol, var, args.sweep, args.elevation)
    sw = vol[f"sweep_{s}"].ds
    az = sw["azimuth"].values.astype(float)
    data = sw[var].values
    elev = rc.fixed_angle(sw)
    rng = sw["range"].values.astype(float)
    site = str(vol.attrs.get("instrument_name", ""))
    lat0, lon0, _ = rc.site_location(vol)
    valid = _radar_time(vol, s)
    warnings: list[str] = []
    vmax = float(np.nanmax(data))
    limit = None
    units = "dBZ" if args.field == "reflectivity" else "m/s"
    if args.field == "velocity":
        nyq = rc.nyquist_velocity(sw)
        if np.isfinite(nyq) and nyq > 0:
            limit = float(nyq)
        else:
            warnings.append("the file gives no Nyquist velocity: the colour scale is fitted to the data")
        vmax = float(np.nanmax(np.abs(data)))
    label = "reflectivity" if args.field == "reflectivity" else "radial velocity"
    long_name = str(sw[var].attrs.get("long_name") or label)
    long_name = long_name[:1].upper() + long_name[1:]
    title = f"{site}  {long_name} ({units}), {elev:.1f}° elevation\nvalid {_when(valid)}"
    max_range = args.max_range or 230.0
    marks = _given_marks(args.marks)
    if args.find_features:
        found, notes = _volume_marks(args, ctx, args.role, cells=args.field == "reflectivity",
                                     hail=args.field == "reflectivity")
        marks = found + marks
        warnings.extend(notes)
    res = radar_map(site=site, lat=lat0, lon=lon0, title=title, max_range_km=max_range, ring_km=args.ring_spacing,
                    counties=args.counties, polar=(data, az, rng, elev), field=args.field, velocity_limit=limit,
                    units_label=units, marks=marks, places=args.places,
                    colour_label=None if args.field == "velocity" else f"{long_name.lower()} ({units})")
    meta = FigureMeta(kind="radar_ppi", variables=[var], valid_time=valid, units=units, title=title.replace("\n", "  "),
                      case=ctx.case.id, level=f"{elev:.2f} degree", extent=res.extent,
                      colour_scale=res.colour_scale,
                      extra={"site": site, "sweep_index": s, "elevation_deg": round(elev, 2),
                             "site_lat": lat0, "site_lon": lon0, "map_layers": res.layers,
                             "max_range_km": max_range, "ring_spacing_km": args.ring_spacing,
                             "format": str(vol.attrs.get("format", "")), "long_name": long_name})
    values = {"sweep_index": Value(value=int(s), units="1"), "elevation": Value(value=round(elev, 2), units="degree"),
              "max_reflectivity": Value(value=_num(vmax, 1) if args.field == "reflectivity" else None, units="dBZ"),
              "max_abs_velocity": Value(value=_num(vmax, 1) if args.field == "velocity" else None, units="m/s")}
    warnings.append(f"{'max_abs_velocity' if args.field == 'reflectivity' else 'max_reflectivity'} is None: "
                    f"the figure shows {label}")
    stem = figure_stem("plot_radar_ppi", ctx.case.id, role=args.role, field=args.field, sweep=s,
                       range=args.max_range, rings=args.ring_spacing, counties=args.counties,
                       places=None if args.places else "off", features=None if args.find_features else "off",
                       marks=_marks_key(args.marks))
    return _finish(ctx, stem, meta, res.fig, values, f"{site} sweep {s} ({elev:.1f}°) {label}, max {vmax:.1f} {units}",
                   warnings, t0, res)


def _when(valid: str) -> str:
    """``2010-10-26T12:00:00Z`` as ``12:00 UTC Tue 26 Oct 2010``."""
    if not valid:
        return "time unknown"
    t = np.datetime64(valid.replace("Z", ""), "s").astype(object)
    return t.strftime("%H:%M UTC %a %d %b %Y")


class CompositeInput(RadarMapInput):
    """A radar volume (or a Level III raster/radial product) to draw as a composite."""

    role: str = Field("radar_volume", description="case role: a radar volume of any format, or a Level III "
                      "product such as level3_composite_reflectivity")


@tool(category="plot", outputs={**MAP, "max_reflectivity": "dBZ", "max_reflectivity_lat": "degree_north",
                                "max_reflectivity_lon": "degree_east"},
      example={}, needs=("radar_volume", "level3_composite_reflectivity"))
def plot_composite_reflectivity(args: CompositeInput, ctx: ToolContext) -> ToolOutput:
    """Draw composite (column-maximum) reflectivity of a radar volume on a map.

    For a radar volume of any format, a gate composite: every PPI's gates binned by
    azimuth (1°) and ground range, the maximum over sweeps kept
    (:func:`hvrmet.calc.radar.polar_composite`; sweeps may differ in gate spacing).
    A Level III product (raster or radial ``data`` with per-pixel lat/lon, e.g. NCR
    composite reflectivity) is drawn as given. NWS reflectivity colours (dBZ), states,
    coastlines, county borders at storm scale, range rings, places from the offline
    gazetteer and the features found inside the case's window: for a volume the rotation
    couplets, storm cells and hail core of the radar tools; for Level III the product's
    storm cells, the MDA circulations of rank 5 or more and any TVS. Returns the PNG path
    and the maximum (dBZ) with its location; ``marks_drawn`` and ``places_drawn`` list
    what the map shows.
    """
    from hvrmet.plot.maps import gate_composite, radar_map

    t0 = _time.perf_counter()
    ds = ctx.load(args.role)
    if _is_volume(ds):
        from hvrmet.calc import radar as rc

        lat0, lon0, _ = rc.site_location(ds)
        site = str(ds.attrs.get("instrument_name", ""))
    else:
        lat0, lon0 = float(ds.attrs["site_latitude"]), float(ds.attrs["site_longitude"])
        site = str(ds.attrs.get("radar_site", ""))
    valid = _radar_time(ds)
    max_range = args.max_range or 230.0
    if args.max_range is None and not _is_volume(ds) and "data" in ds and {"x", "y"} <= set(ds["data"].dims):
        finite = np.isfinite(ds["data"].values)
        if finite.any():
            xx, yy = np.meshgrid(ds["x"].values, ds["y"].values)
            reach = float(np.hypot(xx, yy)[finite].max()) / 1000.0
            max_range = float(min(460.0, np.ceil((reach + 15.0) / 10.0) * 10.0))
    warnings: list[str] = []
    marks = _given_marks(args.marks)
    if args.find_features:
        found, notes = (_volume_marks(args, ctx, args.role) if _is_volume(ds) else _level3_marks(args, ctx, ds))
        marks = found + marks
        warnings.extend(notes)
    common = {"site": site, "lat": lat0, "lon": lon0, "max_range_km": max_range,
              "ring_km": args.ring_spacing, "counties": args.counties, "marks": marks, "places": args.places}
    if _is_volume(ds):
        comp, az, rng = gate_composite(ds)
        variables = ["reflectivity"]
        title = f"{site}  Composite reflectivity (dBZ), column maximum over all sweeps\nvalid {_when(valid)}"
        res = radar_map(title=title, polar=(comp, az, rng, 0.0), colour_label="composite reflectivity (dBZ)",
                        **common)
        ia, ir = np.unravel_index(np.nanargmax(comp), comp.shape)
        from pyproj import Geod

        mlon, mlat, _ = Geod(ellps="WGS84").fwd(lon0, lat0, float(az[ia]), float(rng[ir]))
        vmax = float(comp[ia, ir])
    elif "data" in ds and "lat" in ds.coords:
        data = ds["data"].values.astype(float)
        units = str(ds["data"].attrs.get("units", ""))
        if units and units != "dBZ":
            raise VariableMissing(ds.attrs.get("source_file"), f"role {args.role} holds {units}, not reflectivity")
        product = str(ds.attrs.get("product_name", "Level III"))
        variables = [product]
        title = f"{site}  {product} (dBZ), Level III\nvalid {_when(valid)}"
        res = radar_map(title=title, latlon=(data, ds["lat"].values, ds["lon"].values),
                        colour_label=f"{product.lower()} (dBZ)", **common)
        idx = np.unravel_index(np.nanargmax(data), data.shape)
        mlat, mlon, vmax = float(ds["lat"].values[idx]), float(ds["lon"].values[idx]), float(data[idx])
    else:
        raise VariableMissing(ds.attrs.get("source_file"), f"role {args.role} holds no reflectivity volume "
                              "or Level III product")
    meta = FigureMeta(kind="composite_reflectivity", variables=variables, valid_time=valid, units="dBZ",
                      title=title.replace("\n", " "), case=ctx.case.id, level="column maximum",
                      extent=res.extent, colour_scale=res.colour_scale,
                      extra={"site": site, "site_lat": lat0, "site_lon": lon0, "map_layers": res.layers,
                             "max_range_km": max_range, "ring_spacing_km": args.ring_spacing})
    values = {"max_reflectivity": Value(value=_num(vmax, 1), units="dBZ"),
              "max_reflectivity_lat": Value(value=_num(mlat, 3), units="degree_north"),
              "max_reflectivity_lon": Value(value=_num(mlon, 3), units="degree_east")}
    stem = figure_stem("plot_composite_reflectivity", ctx.case.id, role=args.role, range=args.max_range,
                       rings=args.ring_spacing, counties=args.counties, places=None if args.places else "off",
                       features=None if args.find_features else "off", marks=_marks_key(args.marks))
    return _finish(ctx, stem, meta, res.fig, values,
                   f"{site} composite reflectivity, max {vmax:.1f} dBZ at {mlat:.2f}, {mlon:.2f}", warnings, t0, res)


# --------------------------------------------------------------------------- gridded
#: The map tool's field names -> the fields of the resolver (hvrmet.data.fields); any other
#: field of the resolver's table, or a variable name of the dataset, works too.
_MAP_FIELDS = {"mslp": "mslp", "geopotential_height": "geopotential_height", "temperature": "air_temperature",
               "relative_humidity": "relative_humidity", "u": "eastward_wind", "v": "northward_wind"}


class FieldMapInput(CaseInput):
    """A gridded field to fill, optional contours and barbs, and the map box."""

    role: str = Field("analysis", description="case role of the gridded analysis")
    variable: str = Field("mslp", description="field to fill: mslp, geopotential_height, temperature, "
                          "relative_humidity, wind_speed, or a variable name of the dataset")
    level: float | None = quantity(None, units="hPa", description="isobaric level of the filled field "
                                   "(not for mslp)", ge=10, le=1100)
    contour_variable: str | None = Field(None, description="field drawn as black contours (same names as "
                                         "variable), e.g. geopotential_height")
    contour_level: float | None = quantity(None, units="hPa", description="isobaric level of the contoured "
                                           "field", ge=10, le=1100)
    barb_level: float | None = quantity(None, units="hPa", description="isobaric level of the wind barbs "
                                        "(kt); none drawn when not given", ge=10, le=1100)
    time_index: int = quantity(0, units="1", description="index of the analysis time", ge=0, le=500)
    lon_min: float | None = quantity(None, units="degree_east", description="west edge of the map", ge=-360, le=360)
    lon_max: float | None = quantity(None, units="degree_east", description="east edge of the map", ge=-360, le=360)
    lat_min: float | None = quantity(None, units="degree_north", description="south edge of the map", ge=-90, le=90)
    lat_max: float | None = quantity(None, units="degree_north", description="north edge of the map", ge=-90, le=90)
    places: bool = Field(True, description="label the largest cities on the map (offline GeoNames gazetteer)")
    find_features: bool = Field(True, description="mark the H and L centres of mslp or geopotential height "
                                "(local extrema, scipy.ndimage)")
    marks: list[MarkInput] = Field(default_factory=list, description="further features to mark, each with "
                                   "kind, lat, lon and label")


def _find_var(ds, name: str, level: float | None):
    """The DataArray to draw for ``name``: a field found by the resolver (normalised:
    ``pressure`` in hPa, longitudes -180..180 sorted) or a variable of the dataset."""
    from hvrmet.data.fields import field_specs, fields_of

    fs = fields_of(ds)
    key = _MAP_FIELDS.get(name, name if name in field_specs() else None)
    if key is not None and (key in fs or name not in ds.data_vars):
        return fs.get(key)
    if name in ds.data_vars:
        var = ds[name]
        if "lon" in var.dims and var["lon"].ndim == 1:
            var = var.assign_coords(lon=("lon", ((var["lon"].values.astype(float) + 180.0) % 360.0) - 180.0,
                                         var["lon"].attrs)).sortby("lon")
        return var
    raise VariableMissing(ds.attrs.get("source_file"), f"no {name!r} in this dataset; fields found: "
                          + (", ".join(f"{k} ({m.variable})" for k, m in fs.found.items()) or "none")
                          + "; its variables: " + ", ".join(v for v in ds.data_vars if ds[v].ndim >= 2))


def _field2d(ds, name: str, level: float | None, tindex: int):
    """A 2-D field ``(lat, lon)`` at a level (hPa) and time index, as a pint quantity array."""
    from metpy.units import units

    var = _find_var(ds, name, level)
    for d in list(var.dims):
        if d.startswith("time") or d in ("month", "step"):
            if tindex >= var.sizes[d]:
                raise VariableMissing(ds.attrs.get("source_file"), f"time index {tindex} is beyond the "
                                      f"{var.sizes[d]} times of {var.name}")
            var = var.isel({d: tindex})
        elif d == "pressure" or d.startswith("isobaric") or d in ("level", "plev"):
            lev_units = str(var[d].attrs.get("units", "hPa"))
            levs = (var[d].values * units(lev_units)).to("hPa").m
            if level is None:
                if var.sizes[d] == 1:
                    level = float(levs[0])
                else:
                    raise VariableMissing(ds.attrs.get("source_file"),
                                          f"{var.name} has levels {', '.join(f'{x:g}' for x in levs)} hPa: give level")
            i = int(np.argmin(np.abs(levs - level)))
            if abs(levs[i] - level) > 0.5:
                raise VariableMissing(ds.attrs.get("source_file"), f"{var.name} has no {level:g} hPa level; "
                                      f"levels: {', '.join(f'{x:g}' for x in levs)} hPa")
            var = var.isel({d: i})
        elif var.sizes[d] == 1 and d not in ("lat", "lon", "latitude", "longitude"):
            var = var.isel({d: 0})
    q = var.values.astype(float) * units(str(var.attrs.get("units", "")) or "dimensionless")
    return var, q, level


def _times(ds, tindex: int) -> str:
    for c in ds.coords:
        if str(c).startswith("time") and np.issubdtype(ds[c].dtype, np.datetime64):
            vals = np.atleast_1d(ds[c].values)
            return iso_time(vals[min(tindex, vals.size - 1)])
    return ""


def _display(name: str, q):
    """Convert to display units; return (values, units, label, cmap, step)."""
    from metpy.units import units

    if name == "geopotential_height" and q.check("[length] ** 2 / [time] ** 2"):
        q = q / (9.80665 * units("m/s^2"))
    style = {"mslp": ("hPa", "viridis", 4.0), "geopotential_height": ("dam", "viridis", 6.0),
             "temperature": ("degC", "RdBu_r", 3.0), "relative_humidity": ("percent", "BrBG", 10.0),
             "wind_speed": ("knot", "BuPu", 10.0)}.get(name)
    if style:
        return q.to(style[0]).m, style[0], style[1], style[2]
    return q.m, f"{q.units:~P}", "viridis", None


#: Fields a forecaster reads as labelled lines, not colours: isobars, height contours.
_LINE_FIELDS = ("mslp", "geopotential_height")
#: Line style of a second field drawn over the first: colour and line style.
_SECOND_STYLE = {"geopotential_height": ("#1f4fbf", "dashed"), "temperature": ("#c81e1e", "dashed")}


def _long_name(name: str, var) -> str:
    """The field's name for people: the resolver's description (``mean sea-level
    pressure``), else the file's long name without its `` @ level`` part, else the name."""
    from hvrmet.data.fields import field_specs

    specs = field_specs()
    key = _MAP_FIELDS.get(name, name)
    if name == "wind_speed":
        text = "wind speed"
    elif key in specs:
        text = specs[key].description
    else:
        text = str(getattr(var, "attrs", {}).get("long_name", "") or name).split(" @ ")[0]
    text = text.split(" (")[0].replace(" on pressure levels", "").strip()
    return text[:1].upper() + text[1:]


@tool(category="plot", outputs={**MAP, "field_min": "", "field_max": "", "field_units": "",
                                "deepest_low_value": "", "deepest_low_lat": "degree_north",
                                "deepest_low_lon": "degree_east"},
      example={"variable": "mslp", "contour_variable": "geopotential_height",
               "contour_level": 500, "barb_level": 300}, needs=("analysis",))
def plot_field_map(args: FieldMapInput, ctx: ToolContext) -> ToolOutput:
    """Draw a gridded field on a map: isobars or filled contours, optional contours of a
    second field, wind barbs, H and L centres and the largest cities.

    Fields by alias (mslp in hPa, geopotential_height in dam, temperature in degC,
    relative_humidity in percent, wind_speed in kt from the u/v components with
    ``metpy.calc.wind_speed``) or by the dataset's variable name, each at an isobaric
    level (hPa). MSLP is drawn as black isobars every 4 hPa and geopotential height as
    contours every 6 dam, labelled, with their H and L centres (local extrema over about
    1000 km, scipy.ndimage minimum/maximum filters, a low standing at least 3 hPa or
    3 dam below its surroundings, a high 2 above) marked with the central value; other
    fields are filled.
    The second field is drawn as dashed coloured contours; barbs in kt are thinned to one
    per 0.42 inch of map (``metpy.calc.reduce_point_density``). Lambert conformal map
    (plate carree for boxes wider than 75 degrees) with coasts, borders and US states;
    the title gives the fields' long names, levels, units and the valid time.
    ``field_min``/``field_max`` are the first field's extremes inside the map box, in
    ``field_units``; ``deepest_low_*`` the lowest L centre marked (in ``field_units``).
    """
    import metpy.calc as mpcalc

    from hvrmet.plot.maps import ContourSpec, field_map
    from hvrmet.plot.marks import pressure_centres

    t0 = _time.perf_counter()
    ds = ctx.load(args.role)

    def get(name: str, level: float | None):
        if name == "wind_speed":
            u, uq, lev = _field2d(ds, "u", level, args.time_index)
            _, vq, _ = _field2d(ds, "v", level, args.time_index)
            return u, mpcalc.wind_speed(uq, vq), lev
        return _field2d(ds, name, level, args.time_index)

    fvar, fq, flev = get(args.variable, args.level)
    latn = next(c for c in ("lat", "latitude") if c in fvar.coords)
    lonn = next(c for c in ("lon", "longitude") if c in fvar.coords)
    lat = fvar[latn].values.astype(float)
    lon = ((fvar[lonn].values.astype(float) + 180.0) % 360.0) - 180.0
    order = np.argsort(lon)
    lon = lon[order]
    box = [args.lon_min, args.lon_max, args.lat_min, args.lat_max]
    if any(b is None for b in box):
        if np.ptp(lon) > 300:
            c_lat, c_lon = ctx.case.location.lat, ctx.case.location.lon
            auto = [c_lon - 65, c_lon + 65, max(c_lat - 30, -85), min(c_lat + 35, 85)]
        else:
            auto = [float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max())]
        box = [a if b is None else ((b + 180.0) % 360.0 - 180.0 if i < 2 else b)
               for i, (a, b) in enumerate(zip(auto, box))]
    else:
        box = [(box[0] + 180.0) % 360.0 - 180.0, (box[1] + 180.0) % 360.0 - 180.0, box[2], box[3]]
    if box[1] <= box[0] or box[3] <= box[2]:
        raise ValueError(f"empty map box {box}")
    values2d, funits, cmap, step = _display(args.variable, fq)
    values2d = values2d[:, order]
    inside = np.ix_((lat >= box[2]) & (lat <= box[3]), (lon >= box[0]) & (lon <= box[1]))
    fmin, fmax = float(np.nanmin(values2d[inside])), float(np.nanmax(values2d[inside]))
    lev_txt = f"{flev:g} hPa " if flev and args.variable != "mslp" else ""
    long1 = _long_name(args.variable, fvar)
    lines = args.variable in _LINE_FIELDS
    contours: list[ContourSpec] = []
    parts = []
    if lines:
        contours.append(ContourSpec(values=values2d, step=step, colour="black", linewidth=1.3 if args.variable == "mslp"
                                    else 1.1, label=f"{lev_txt}{long1.lower()} ({funits}), every {step:g} {funits}"))
        parts.append(f"{lev_txt}{long1} ({funits}, every {step:g})")
    else:
        parts.append(f"{lev_txt}{long1} ({funits}, shaded)")
    clev = None
    if args.contour_variable:
        cvar, cq, clev = get(args.contour_variable, args.contour_level)
        cvals, cunits, _, cstep = _display(args.contour_variable, cq)
        colour, style = _SECOND_STYLE.get(args.contour_variable, ("0.25", "dashed"))
        if not lines:
            colour, style = ("black", "solid") if args.contour_variable != "temperature" else (colour, style)
        ctext = f"{clev:g} hPa " if clev else ""
        long2 = _long_name(args.contour_variable, cvar)
        contours.append(ContourSpec(values=cvals[:, order], step=cstep, colour=colour, linestyle=style,
                                    label=f"{ctext}{long2.lower()} ({cunits}), every {cstep:g} {cunits}"
                                    if cstep else f"{ctext}{long2.lower()} ({cunits})"))
        parts.append(f"{ctext}{long2.lower()} ({cunits})")
    barbs = None
    blabel = ""
    if args.barb_level is not None:
        _, uq, _ = _field2d(ds, "u", args.barb_level, args.time_index)
        _, vq, _ = _field2d(ds, "v", args.barb_level, args.time_index)
        barbs = (uq.to("knot").m[:, order], vq.to("knot").m[:, order])
        blabel = f"{args.barb_level:g} hPa wind barbs (kt; pennant 50, barb 10, half 5)"
        parts.append(f"{args.barb_level:g} hPa wind (kt)")
    valid = _times(ds, args.time_index) or iso_time(ctx.case.time)
    title = ", ".join(parts) + f"\nvalid {_when(valid)}  ({ctx.case.id})"
    marks: list[Mark] = []
    warnings: list[str] = []
    if args.find_features and lines:
        window = 1000.0 if args.variable == "mslp" else 1500.0
        marks = pressure_centres(values2d, lat, lon, window_km=window, min_depth=3.0, min_depth_high=2.0,
                                 extent=tuple(box),
                                 units=funits)
    marks += _given_marks(args.marks)
    res = field_map(lon=lon, lat=lat, title=title, extent=tuple(box),
                    fill=None if lines else values2d, fill_name=f"{lev_txt}{long1.lower()}", fill_units=funits,
                    cmap=cmap, fill_step=step, fill_floor=50.0 if args.variable == "wind_speed" else None,
                    contours=contours, barbs=barbs, barb_label=blabel, marks=marks, places=args.places)
    variables = [args.variable] + ([args.contour_variable] if args.contour_variable else []) + \
        (["wind"] if barbs is not None else [])
    lows = [m for m in res.marks if m["kind"] == "low"]
    deepest = min(lows, key=lambda m: m["value"]) if lows else {}
    meta = FigureMeta(kind="field_map", variables=variables, valid_time=valid, units=funits,
                      title=title.replace("\n", "  "), case=ctx.case.id,
                      level=f"{flev:g} hPa" if flev and args.variable != "mslp" else "surface",
                      extent=res.extent, colour_scale=res.colour_scale,
                      extra={"contour_level_hpa": clev, "barb_level_hpa": args.barb_level,
                             "map_box": [round(b, 3) for b in box], "map_layers": res.layers,
                             "field_min": round(fmin, 2), "field_max": round(fmax, 2),
                             "style": "contours" if lines else "filled", "long_name": long1})
    values = {"field_min": Value(value=round(fmin, 2), units=funits),
              "field_max": Value(value=round(fmax, 2), units=funits), "field_units": Value(value=funits),
              "deepest_low_value": Value(value=_num(deepest.get("value"), 1), units=funits),
              "deepest_low_lat": Value(value=_num(deepest.get("lat"), 2), units="degree_north"),
              "deepest_low_lon": Value(value=_num(deepest.get("lon"), 2), units="degree_east")}
    stem = figure_stem("plot_field_map", ctx.case.id, role=args.role, var=args.variable, lev=args.level,
                       c=args.contour_variable, clev=args.contour_level, barbs=args.barb_level, t=args.time_index,
                       box=None if all(b is None for b in (args.lon_min, args.lon_max, args.lat_min, args.lat_max))
                       else "-".join(f"{b:g}" for b in box), places=None if args.places else "off",
                       features=None if args.find_features else "off", marks=_marks_key(args.marks))
    return _finish(ctx, stem, meta, res.fig, values,
                   f"{args.variable} {lev_txt}range {fmin:.1f}..{fmax:.1f} {funits}"
                   + (f"; deepest low {deepest['value']:.0f} {funits} at {deepest['lat']:.1f}, {deepest['lon']:.1f}"
                      if deepest else ""), warnings, t0, res)


# --------------------------------------------------------------------------- composites
class SequencePlotInput(CaseInput):
    """A radar composite sequence and how many frames to show."""

    role: str = Field("composite_sequence", description="case role of the composite sequence")
    frames: int = quantity(6, units="1", description="number of panels, spread evenly over the sequence",
                           ge=1, le=12)
    start: int = quantity(0, units="1", description="index of the first frame shown", ge=0, le=10000)
    stride: int | None = quantity(None, units="1", description="frames between panels (default: spread "
                                  "the panels over the whole sequence)", ge=1, le=1000)
    places: bool = Field(True, description="name the largest cities on each panel (offline GeoNames gazetteer)")


@tool(category="plot", outputs={**MAP, "frames_shown": "1", "max_value": "", "value_units": ""},
      example={}, needs=("composite_sequence",))
def plot_composite_sequence(args: SequencePlotInput, ctx: ToolContext) -> ToolOutput:
    """Draw a grid of panels of a radar composite sequence, in the composite's projection.

    Accumulations in mm over the frame interval are shown as rain rate (mm/h = mm x 60 /
    interval in minutes); rain rates (mm/h) with pysteps' intensity colour map from
    0.1 mm/h; reflectivity (dBZ) with the NWS table from 5 dBZ. Coastlines and borders
    from local Natural Earth files. Returns the PNG path, the number of panels and the
    maximum value shown (in ``value_units``). ``valid_time`` is the first panel's time.
    """
    from hvrmet.plot.maps import sequence_panels

    t0 = _time.perf_counter()
    ds = ctx.load(args.role)
    if "precip" not in ds or ds["precip"].ndim != 3:
        raise VariableMissing(ds.attrs.get("source_file"), f"role {args.role} is not a composite sequence")
    nt = ds.sizes["time"]
    if args.start >= nt:
        raise VariableMissing(None, f"start {args.start} is beyond the {nt} frames of the sequence")
    n = min(args.frames, nt - args.start)
    if args.stride:
        idx = [i for i in range(args.start, nt, args.stride)][:n]
    else:
        idx = sorted(set(np.linspace(args.start, nt - 1, n).round().astype(int).tolist()))
    units = str(ds["precip"].attrs.get("units", ds.attrs.get("unit", "")))
    frames = ds["precip"].values[idx].astype(float)
    warnings: list[str] = []
    if units == "mm":
        step = float(ds.attrs.get("accutime", ds.attrs.get("timestep_min", 5.0)))
        frames = frames * 60.0 / step
        units = "mm/h"
        warnings.append(f"accumulations over {step:g} min shown as rain rate (x {60.0 / step:g})")
    times = [iso_time(ds["time"].values[i]) for i in idx]
    labels = [t[11:16] + " UTC" for t in times]
    inst = ds.attrs.get("institution", ds.attrs.get("importer", ""))
    title = f"{ctx.case.id}: {inst} composite {'reflectivity' if units == 'dBZ' else 'rain rate'}, " \
            f"{times[0][:10]} {labels[0]}-{labels[-1]}"
    res = sequence_panels(frames=frames, times=labels, x=ds["x"].values, y=ds["y"].values,
                          proj4=str(ds.attrs["projection"]), units=units, title=title, places=args.places)
    vmax = float(np.nanmax(frames)) if np.isfinite(frames).any() else None
    meta = FigureMeta(kind="composite_sequence", variables=["precip"], valid_time=times[0], units=units,
                      title=title, case=ctx.case.id, level="surface", extent=res.extent,
                      colour_scale=res.colour_scale,
                      extra={"frame_times": times, "frame_indices": idx, "projection": ds.attrs["projection"],
                             "map_layers": res.layers, "max_value": _num(vmax, 2)})
    values = {"frames_shown": Value(value=len(idx), units="1"), "max_value": Value(value=_num(vmax, 2), units=units),
              "value_units": Value(value=units)}
    stem = figure_stem("plot_composite_sequence", ctx.case.id, role=args.role, n=args.frames, start=args.start,
                       stride=args.stride, places=None if args.places else "off")
    return _finish(ctx, stem, meta, res.fig, values, f"{len(idx)} frames {times[0]}..{times[-1]}, "
                   f"max {vmax if vmax is not None else float('nan'):.1f} {units}", warnings, t0, res)
