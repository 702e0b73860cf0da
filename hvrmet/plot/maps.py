"""Map figures: radar PPI and composite reflectivity, gridded fields, composite sequences.

All maps are cartopy GeoAxes with north up, and their coastlines, borders, US states and
counties come from local shapefiles (:mod:`hvrmet.plot.basemap`), never a download.
Radar maps use an azimuthal equidistant projection centred on the radar, so range rings
are true circles; gridded fields use a Lambert conformal projection over the region;
composite sequences use the composite's own projection (its PROJ string).

Every map labels places from the offline gazetteer (:mod:`hvrmet.plot.places`) at a
density its size allows, the towns nearest the marked features first, and marks the
features it is given (:mod:`hvrmet.plot.marks`); :class:`MapResult` returns both lists
for the sidecar. At storm scale (a radar map of half-width up to :data:`STORM_SCALE_KM`, in
the US) county borders are drawn by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hvrmet.plot.basemap import _in_us, add_map_features, configure_offline
from hvrmet.plot.marks import Mark, draw_marks

__all__ = ["MapResult", "reflectivity_scale", "velocity_scale", "polar_edges", "gate_composite",
           "radar_map", "field_map", "sequence_panels", "native_projection", "inscribed_rectangle", "block_max",
           "ContourSpec", "thin_points", "population_floor", "annotate_map", "STORM_SCALE_KM"]

#: Radar maps of at most this half-width (km) are storm scale: county borders by default.
STORM_SCALE_KM = 300.0


@dataclass
class MapResult:
    """A drawn figure and what the sidecar needs to know about it."""

    fig: Any
    extent: list[float]
    colour_scale: dict[str, Any]
    layers: list[str] = field(default_factory=list)
    ax: Any = None
    marks: list[dict[str, Any]] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)


def reflectivity_scale():
    """NWS reflectivity colour table in 5 dBZ steps from 5 dBZ: ``(cmap, norm, info)``."""
    from metpy.plots import ctables

    norm, cmap = ctables.registry.get_with_steps("NWSReflectivity", 5, 5)
    return cmap, norm, {"cmap": "NWSReflectivity", "vmin": float(norm.vmin), "vmax": float(norm.vmax)}


def velocity_scale(limit: float, source: str = "nyquist"):
    """NWS velocity colour table symmetric about zero, ``+-limit`` m/s: ``(cmap, norm, info)``.

    ``limit`` is the sweep's Nyquist velocity where the file gives it (no velocity
    measured without dealiasing exceeds it), ``source`` says where it came from."""
    from matplotlib.colors import ListedColormap, Normalize
    from metpy.plots import ctables

    table = ctables.registry.get_colortable("NWSVelocity")
    # the table's first colour (purple) is range folding, not the strongest inbound speed:
    # dropped, so the 14 colours run symmetric, green inbound, red outbound
    cmap = ListedColormap([table(i) for i in range(1, table.N)], name="NWSVelocity")
    norm = Normalize(-limit, limit)
    return cmap, norm, {"cmap": "NWSVelocity", "vmin": -round(float(limit), 2), "vmax": round(float(limit), 2),
                        "limit_from": source}


def _velocity_ticks(limit: float) -> list[float]:
    step = 5.0 if limit <= 30 else 10.0
    inner = np.arange(-np.floor(limit / step) * step, limit + 1e-6, step)
    inner = [float(t) for t in inner if abs(abs(t) - limit) > step * 0.4]
    return [-float(limit)] + inner + [float(limit)]


def population_floor(extent: tuple[float, float, float, float]) -> int:
    """Smallest town worth a label on a map of this extent (degrees): every town of
    1000 people on a storm-scale map, cities of 100 000 on a regional one, 500 000 on a
    continental one."""
    span = max(abs(extent[1] - extent[0]) * np.cos(np.radians((extent[2] + extent[3]) / 2)), abs(extent[3] - extent[2]))
    return 1000 if span < 8 else (20_000 if span < 16 else (100_000 if span < 30 else 500_000))


def annotate_map(ax, extent, marks: list[Mark] | None, *, places: bool = True, max_labels: int | None = None,
                 fontsize: float = 7.5, reserve: list[Any] = (), bold: bool = True
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Mark the features, then label places around them: ``(mark records, place records)``.

    The towns nearest the marks are labelled first (a reader places a couplet by them),
    then the others by population, wherever they clear the marks and each other.
    ``reserve`` are artists (the radar's name, ...) whose boxes labels must avoid."""
    from hvrmet.plot.places import LabelLayout, label_places, nearest_place

    layout = LabelLayout(ax)
    for artist in reserve:
        layout.take_artist(artist)
    labelled: list[dict[str, Any]] = []

    def near_towns(shown: list[Mark]) -> None:
        first = []
        for m in shown:
            p = nearest_place(m.lat, m.lon, max_km=40.0) if m.kind not in ("low", "high") else None
            if p is not None and all(p["name"] != q["name"] for q in first):
                first.append(p)
        if first:
            labelled.extend(label_places(ax, tuple(extent), layout=layout, first=first, only_first=True,
                                         fontsize=fontsize, anchor_population=200_000, bold=bold))

    drawn = draw_marks(ax, list(marks or []), layout, before_tags=near_towns if places else None)
    if places:
        labelled.extend(label_places(ax, tuple(extent), layout=layout, max_labels=max_labels, fontsize=fontsize,
                                     min_population=population_floor(tuple(extent)), skip=labelled, bold=bold))
    return drawn, labelled


def polar_edges(azimuth_deg: np.ndarray, range_m: np.ndarray, elevation_deg: float = 0.0):
    """Gate corner coordinates ``(x, y)`` (m, east and north of the radar) for pcolormesh.

    Rays must be sorted by azimuth; azimuth edges are midway between rays (wrapping at
    north), range edges midway between gates. Ground range is slant range times
    cos(elevation) (flat-earth; under 0.5 % error below 200 km at these elevations).
    """
    a = np.asarray(azimuth_deg, float)
    a_ext = np.concatenate([[a[-1] - 360.0], a, [a[0] + 360.0]])
    az_edges = np.deg2rad((a_ext[:-1] + a_ext[1:]) / 2.0)
    r = np.asarray(range_m, float)
    dr = float(np.median(np.diff(r))) if r.size > 1 else 1000.0
    r_edges = np.clip(np.concatenate([r - dr / 2.0, [r[-1] + dr / 2.0]]), 0.0, None)
    r_edges = r_edges * np.cos(np.deg2rad(elevation_deg))
    x = np.sin(az_edges)[:, None] * r_edges[None, :]
    y = np.cos(az_edges)[:, None] * r_edges[None, :]
    return x, y


def gate_composite(volume, moment: str = "reflectivity", az_step: float = 1.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column maximum of a radar volume's reflectivity on a polar grid of ground range.

    The volume is hvrmet's sweep tree (any radar format); every PPI's gates are binned by
    azimuth (``az_step`` degrees) and ground range ``r cos(elevation)`` at the volume's
    finest gate spacing, the maximum over sweeps kept: :func:`hvrmet.calc.radar.polar_composite`.

    Returns
    -------
    composite, bin_azimuth, bin_range
        Composite (dBZ) on ``(azimuth bin, range bin)``, bin-centre azimuths (degree) and
        ground ranges (m).
    """
    from hvrmet.calc.radar import polar_composite

    return polar_composite(volume, moment, az_step)


def _radar_axes(lat: float, lon: float, max_range_m: float, figsize=(8.6, 7.6)):
    import cartopy.crs as ccrs
    from matplotlib.figure import Figure

    proj = ccrs.AzimuthalEquidistant(central_longitude=lon, central_latitude=lat)
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(1, 1, 1, projection=proj)
    ax.set_extent((-max_range_m, max_range_m, -max_range_m, max_range_m), crs=proj)
    return fig, ax, proj


def _rings(ax, proj, spacing_m: float, max_range_m: float) -> list:
    t = np.linspace(0, 2 * np.pi, 361)
    r = spacing_m
    texts = []
    while r <= max_range_m * 1.42 + 1:
        ax.plot(r * np.sin(t), r * np.cos(t), color="0.1", lw=0.8, ls=(0, (5, 3)), alpha=0.8, transform=proj,
                zorder=5)
        if r <= max_range_m:
            ang = np.deg2rad(35.0)
            texts.append(ax.text(r * np.sin(ang), r * np.cos(ang), f"{r / 1000:g} km", transform=proj, fontsize=7,
                                 color="0.25", zorder=6, ha="left", va="bottom", clip_on=True))
        r += spacing_m
    return texts


def _gridlines(ax) -> None:
    gl = ax.gridlines(draw_labels=True, linewidth=0.3, color="0.6", alpha=0.6, x_inline=False, y_inline=False,
                      rotate_labels=False)
    gl.top_labels = gl.right_labels = False
    gl.xlabel_style = gl.ylabel_style = {"size": 8}


def _extent_of(ax) -> list[float]:
    import cartopy.crs as ccrs

    return [round(float(v), 4) for v in ax.get_extent(ccrs.PlateCarree())]


def radar_map(*, site: str, lat: float, lon: float, title: str, max_range_km: float, ring_km: float,
              counties: bool | None = None, states: bool = True, polar: tuple | None = None,
              latlon: tuple | None = None, field: str = "reflectivity",
              velocity_limit: float | None = None, velocity_limit_from: str = "nyquist", units_label: str = "dBZ",
              colour_label: str | None = None, marks: list[Mark] | None = None, places: bool = True) -> MapResult:
    """A radar map centred on the site: reflectivity or velocity, rings, the radar, places
    and the marked features.

    ``polar=(data, azimuth_deg, range_m, elevation_deg)`` (rays sorted by azimuth) draws
    gates as true polar cells; ``latlon=(data, lat, lon)`` draws a field given with
    per-pixel coordinates (Level III rasters). Velocity is coloured over
    ``+-velocity_limit`` (the Nyquist velocity; fitted to the data when ``None``).
    ``counties=None`` draws county borders at storm scale (half-width up to
    :data:`STORM_SCALE_KM`) in the US.
    """
    import cartopy.crs as ccrs

    configure_offline()
    max_range_m = max_range_km * 1000.0
    fig, ax, proj = _radar_axes(lat, lon, max_range_m)
    data_all = np.asarray(polar[0] if polar is not None else latlon[0], float)
    if field == "velocity":
        if velocity_limit is None or not np.isfinite(velocity_limit):
            finite = np.abs(data_all[np.isfinite(data_all)])
            velocity_limit = float(np.ceil(np.percentile(finite, 99.5) / 5.0) * 5.0) if finite.size else 30.0
            velocity_limit_from = "data (99.5th percentile of |V|; the file gives no Nyquist velocity)"
        cmap, norm, info = velocity_scale(velocity_limit, velocity_limit_from)
    else:
        cmap, norm, info = reflectivity_scale()
    if polar is not None:
        data, az, rng, elev = polar
        keep = rng >= 0
        x, y = polar_edges(az, rng[keep], elev)
        data = np.asarray(data)[:, keep]
        mesh_data = np.ma.masked_invalid(data)
        if field != "velocity":
            mesh_data = np.ma.masked_less(mesh_data, info["vmin"])
        mesh = ax.pcolormesh(x, y, mesh_data, cmap=cmap, norm=norm, transform=proj, zorder=2)
    else:
        data, la, lo = latlon
        mesh_data = np.ma.masked_invalid(np.asarray(data))
        if field != "velocity":
            mesh_data = np.ma.masked_less(mesh_data, info["vmin"])
        mesh = ax.pcolormesh(lo, la, mesh_data, cmap=cmap, norm=norm, transform=ccrs.PlateCarree(),
                             shading="nearest", zorder=2)
    extent = _extent_of(ax)
    if counties is None:
        counties = max_range_km <= STORM_SCALE_KM and _in_us(tuple(extent))
    layers = add_map_features(ax, tuple(extent), states=states, counties=counties)
    ring_texts = _rings(ax, proj, ring_km * 1000.0, max_range_m)
    ax.plot(0, 0, marker="^", ms=9, mfc="white", mec="black", mew=1.3, transform=proj, zorder=7)
    site_text = ax.text(0, -max_range_m * 0.03, site, transform=proj, ha="center", va="top", fontsize=8,
                        fontweight="bold", zorder=7)
    _gridlines(ax)
    if field == "velocity":
        cb = fig.colorbar(mesh, ax=ax, shrink=0.82, pad=0.02, ticks=_velocity_ticks(velocity_limit))
        cb.ax.set_yticklabels([f"{t:+.1f}" if abs(abs(t) - velocity_limit) < 1e-6 else f"{t:+.0f}"
                               for t in cb.get_ticks()])
        cb.set_label(colour_label or f"radial velocity (m/s), + away from the radar; "
                     f"scale ±{velocity_limit:.1f} m/s"
                     + (" (Nyquist)" if velocity_limit_from == "nyquist" else ""))
    else:
        cb = fig.colorbar(mesh, ax=ax, shrink=0.82, pad=0.02, extend="max")
        cb.set_label(colour_label or f"reflectivity ({units_label})")
    ax.set_title(title, fontsize=10.5)
    drawn, labelled = annotate_map(ax, extent, marks, places=places, reserve=[site_text, *ring_texts])
    return MapResult(fig=fig, extent=extent, colour_scale=info, layers=layers, ax=ax, marks=drawn, places=labelled)


def _levels(values: np.ndarray, step: float | None, n: int = 14) -> np.ndarray:
    from matplotlib.ticker import MaxNLocator

    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if step:
        start = np.floor(lo / step) * step
        lv = np.arange(start, hi + step, step)
        if lv.size <= 30:
            return lv
    return MaxNLocator(n).tick_values(lo, hi)


@dataclass
class ContourSpec:
    """A field drawn as labelled line contours: values on the map's grid, the interval,
    colour, line style and the legend text (``"MSLP (hPa), every 4 hPa"``)."""

    values: np.ndarray
    step: float | None
    label: str
    colour: str = "k"
    linestyle: str = "solid"
    linewidth: float = 1.1
    fmt: str = "%g"


def thin_points(ax, lon: np.ndarray, lat: np.ndarray, spacing_px: float = 42.0) -> tuple[np.ndarray, np.ndarray]:
    """Grid points ``(iy, ix)`` at least ``spacing_px`` apart on the drawn map
    (``metpy.calc.reduce_point_density`` on the projected points), for barbs that do not
    overlap whatever the projection squeezes."""
    import cartopy.crs as ccrs
    from metpy.calc import reduce_point_density

    lo2, la2 = np.meshgrid(lon, lat)
    pts = ax.projection.transform_points(ccrs.PlateCarree(), lo2.ravel(), la2.ravel())[:, :2]
    ax.apply_aspect()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    inside = np.isfinite(pts).all(axis=1) & (pts[:, 0] >= min(x0, x1)) & (pts[:, 0] <= max(x0, x1)) \
        & (pts[:, 1] >= min(y0, y1)) & (pts[:, 1] <= max(y0, y1))
    bbox = ax.get_window_extent()
    metres_per_px = abs(x1 - x0) / max(bbox.width, 1.0)
    keep = np.zeros(len(pts), bool)
    if inside.any():
        sub = reduce_point_density(pts[inside], spacing_px * metres_per_px)
        keep[np.flatnonzero(inside)[sub]] = True
    iy, ix = np.unravel_index(np.flatnonzero(keep), lo2.shape)
    return iy, ix


def field_map(*, lon: np.ndarray, lat: np.ndarray, title: str, extent: tuple[float, float, float, float],
              fill: np.ndarray | None = None, fill_name: str = "", fill_units: str = "", cmap: str = "viridis",
              fill_step: float | None = None, fill_floor: float | None = None,
              contours: list[ContourSpec] | None = None,
              barbs: tuple[np.ndarray, np.ndarray] | None = None, barb_label: str = "",
              marks: list[Mark] | None = None, places: bool = True) -> MapResult:
    """A gridded-field map on a 1-D ``lon``/``lat`` grid over ``extent`` (degrees):
    optional filled contours of ``fill``, labelled line contours (isobars, heights),
    barbs (kt, thinned to about one per 0.42 inch), the marked features (H and L
    centres, ...) and places, in a Lambert conformal projection (plate carree for boxes
    wider than 75 degrees or reaching south of the equator)."""
    import cartopy.crs as ccrs
    from matplotlib.figure import Figure

    configure_offline()
    lon0, lon1, lat0, lat1 = extent
    clat = (lat0 + lat1) / 2.0
    fig = Figure(figsize=(10, 7.2))
    if lon1 - lon0 <= 75 and lat0 > 0:
        proj = ccrs.LambertConformal(central_longitude=(lon0 + lon1) / 2.0, central_latitude=clat,
                                     standard_parallels=(max(clat - 15, 5), min(clat + 15, 80)))
        ax = fig.add_subplot(1, 1, 1, projection=proj)
        ax.set_extent(inscribed_rectangle(proj, extent), crs=proj)
    else:  # wide or tropical/southern boxes: plate carree shows exactly the box
        proj = ccrs.PlateCarree(central_longitude=(lon0 + lon1) / 2.0)
        ax = fig.add_subplot(1, 1, 1, projection=proj)
        ax.set_extent(extent, crs=ccrs.PlateCarree())
    pc = ccrs.PlateCarree()
    info: dict[str, Any] = {}
    if fill is not None:
        levels = _levels(fill if fill_floor is None else np.where(fill >= fill_floor, fill, np.nan), fill_step)
        cf = ax.contourf(lon, lat, fill, levels=levels, cmap=cmap, transform=pc, extend="both", zorder=1)
        cb = fig.colorbar(cf, ax=ax, orientation="horizontal", shrink=0.8, pad=0.05, aspect=40)
        cb.set_label(f"{fill_name} ({fill_units})")
        info = {"cmap": cmap, "vmin": float(levels[0]), "vmax": float(levels[-1])}
    layers = add_map_features(ax, extent, colour="0.35" if fill is None else "0.15")
    legend = []
    for spec in contours or []:
        cl = _levels(spec.values, spec.step, n=12)
        cs = ax.contour(lon, lat, spec.values, levels=cl, colors=spec.colour, linewidths=spec.linewidth,
                        linestyles=spec.linestyle, transform=pc, zorder=5)
        ax.clabel(cs, fmt=spec.fmt, fontsize=8, inline=True, inline_spacing=3)
        legend.append((spec, [float(c) for c in cl]))
    if barbs is not None:
        iy, ix = thin_points(ax, lon, lat)
        ax.barbs(lon[ix], lat[iy], barbs[0][iy, ix], barbs[1][iy, ix], transform=pc, length=5.8,
                 linewidth=0.6, color="0.15", zorder=6)
    _gridlines(ax)
    if legend or barb_label:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=sp.colour, ls=sp.linestyle, lw=sp.linewidth + 0.3, label=sp.label)
                   for sp, _ in legend]
        if barb_label:
            handles.append(Line2D([], [], ls="none", marker=r"$\rightarrow$", color="0.15", ms=10, label=barb_label))
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(ax.get_position().x0, ax.get_position().y0 - 0.06),
                   fontsize=8, frameon=False, ncol=1)
    ax.set_title(title, fontsize=10.5)
    drawn, labelled = annotate_map(ax, extent, marks, places=places, max_labels=14, fontsize=7.5, bold=False)
    for spec, cl in legend:
        info.setdefault("contours", []).append({"label": spec.label, "step": spec.step,
                                                "first": cl[0] if cl else None, "last": cl[-1] if cl else None})
    return MapResult(fig=fig, extent=_extent_of(ax), colour_scale=info or None, layers=layers, ax=ax,
                     marks=drawn, places=labelled)


def inscribed_rectangle(proj, extent: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The largest axis-aligned rectangle, in ``proj`` coordinates, inside the lon/lat box
    ``extent`` (so a conic map shows no area outside the box)."""
    import cartopy.crs as ccrs

    lon0, lon1, lat0, lat1 = extent
    t = np.linspace(0.0, 1.0, 64)
    pc = ccrs.PlateCarree()

    def xy(lons, lats):
        pts = proj.transform_points(pc, np.asarray(lons, float), np.asarray(lats, float))
        return pts[:, 0], pts[:, 1]

    lx, _ = xy(np.full_like(t, lon0), lat0 + t * (lat1 - lat0))
    rx, _ = xy(np.full_like(t, lon1), lat0 + t * (lat1 - lat0))
    _, by = xy(lon0 + t * (lon1 - lon0), np.full_like(t, lat0))
    _, ty = xy(lon0 + t * (lon1 - lon0), np.full_like(t, lat1))
    return float(lx.max()), float(rx.min()), float(by.max()), float(ty.min())


def native_projection(proj4: str, bounds: tuple[float, float, float, float]):
    """A cartopy projection from a composite's PROJ string (PlateCarree for long/lat grids).

    Parameters
    ----------
    proj4
        The PROJ string of the grid (``attrs["projection"]`` of a composite).
    bounds
        ``(x_min, x_max, y_min, y_max)`` of the grid in the projection's units.
    """
    import cartopy.crs as ccrs
    import pyproj

    crs = pyproj.CRS.from_proj4(proj4)
    if crs.is_geographic:
        return ccrs.PlateCarree()

    class _Grid(ccrs.Projection):
        def __init__(self) -> None:
            super().__init__(crs)
            self.bounds = tuple(float(b) for b in bounds)
            self.threshold = min(bounds[1] - bounds[0], bounds[3] - bounds[2]) / 1000.0

        @property
        def boundary(self):  # type: ignore[override]
            import shapely.geometry as sgeom

            x0, x1, y0, y1 = self.bounds
            return sgeom.LinearRing([(x0, y0), (x0, y1), (x1, y1), (x1, y0), (x0, y0)])

    return _Grid()


def block_max(frames: np.ndarray, block: int) -> np.ndarray:
    """Maximum over ``block`` x ``block`` pixel blocks of ``(n, y, x)`` frames (NaN-aware;
    edges padded with NaN)."""
    if block <= 1:
        return frames
    n, ny, nx = frames.shape
    py, px = -ny % block, -nx % block
    f = np.pad(frames, ((0, 0), (0, py), (0, px)), constant_values=np.nan)
    f = f.reshape(n, (ny + py) // block, block, (nx + px) // block, block)
    with np.errstate(all="ignore"):
        allnan = np.isnan(f).all(axis=(2, 4))
        out = np.nanmax(np.where(np.isnan(f), -np.inf, f), axis=(2, 4))
    out[allnan] = np.nan
    return out


def sequence_panels(*, frames: np.ndarray, times: list[str], x: np.ndarray, y: np.ndarray, proj4: str,
                    units: str, title: str, ncols: int = 3, places: bool = True) -> MapResult:
    """A grid of composite frames ``(n, y, x)`` in the grid's own projection.

    Rain rates (mm/h) use pysteps' intensity colour map (0.1 mm/h threshold); reflectivity
    (dBZ) uses the NWS table from 5 dBZ. Frames larger than 400 pixels are reduced by a
    block maximum (:func:`block_max`), which keeps every peak, so the PNG stays small.
    Each panel names its nine largest cities where they fit (``places``).
    """
    from matplotlib.figure import Figure

    configure_offline()
    dx = float(abs(x[1] - x[0])) if x.size > 1 else 1.0
    dy = float(abs(y[1] - y[0])) if y.size > 1 else 1.0
    bounds = (float(x.min() - dx / 2), float(x.max() + dx / 2), float(y.min() - dy / 2), float(y.max() + dy / 2))
    proj = native_projection(proj4, bounds)
    if units == "dBZ":
        cmap, norm, info = reflectivity_scale()
        floor = info["vmin"]
    else:
        from pysteps.visualization.precipfields import get_colormap

        cmap, norm, _clevs, _ = get_colormap("intensity", "mm/h", "pysteps")
        floor = 0.1
        info = {"cmap": "pysteps intensity", "vmin": float(norm.vmin), "vmax": float(norm.vmax)}
    from matplotlib.colors import ListedColormap

    cmap = cmap.copy()
    cmap.set_bad("none")
    if x[0] > x[-1]:
        frames, x = frames[:, :, ::-1], x[::-1]
    block = max(1, int(np.ceil(max(frames.shape[1:]) / 400.0)))
    frames = block_max(frames, block)
    wide, tall = frames.shape[2] * block * dx, frames.shape[1] * block * dy
    img_extent = (bounds[0], bounds[0] + wide) + \
        ((bounds[3] - tall, bounds[3]) if y[0] > y[-1] else (bounds[2], bounds[2] + tall))
    n = frames.shape[0]
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    aspect = (bounds[3] - bounds[2]) / (bounds[1] - bounds[0])
    width = (4.0 if aspect <= 1.0 else 3.0) * ncols
    fig = Figure(figsize=(width, width / ncols * aspect * nrows + 1.4))
    origin = "upper" if y[0] > y[-1] else "lower"
    image = None
    layers: list[str] = []
    labelled: list[dict[str, Any]] = []
    ax = None
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1, projection=proj)
        ax.set_extent(bounds, crs=proj)
        nodata = np.ma.masked_where(np.isfinite(frames[i]), np.ones(frames[i].shape))
        ax.imshow(nodata, extent=img_extent, origin=origin, transform=proj, cmap=ListedColormap(["0.88"]),
                  interpolation="nearest", zorder=1)
        img = np.ma.masked_less(np.ma.masked_invalid(frames[i]), floor)
        image = ax.imshow(img, extent=img_extent, origin=origin, transform=proj, cmap=cmap, norm=norm,
                          interpolation="nearest", zorder=2)
        layers = add_map_features(ax, tuple(_extent_of(ax)), colour="0.2", lakes=False)
        ax.set_title(times[i], fontsize=9)
        if places:
            from hvrmet.plot.places import label_places

            ext = tuple(_extent_of(ax))
            shown = label_places(ax, ext, max_labels=9, min_population=max(population_floor(ext), 50_000),
                                 fontsize=6.5, bold=False)
            labelled = labelled or shown
    fig.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.1, wspace=0.04, hspace=0.1)
    cax = fig.add_axes([0.2, 0.045, 0.6, 0.02])
    cb = fig.colorbar(image, cax=cax, orientation="horizontal", extend="max")
    cb.set_label(("reflectivity (dBZ)" if units == "dBZ" else "rain rate (mm/h)") + "; grey: no radar data")
    fig.suptitle(title, fontsize=11)
    return MapResult(fig=fig, extent=_extent_of(ax), colour_scale=info, layers=layers, ax=ax, places=labelled)
