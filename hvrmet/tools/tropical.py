"""Tropical-cyclone tools: NHC wind-speed probabilities.

One NHC product holds every active cyclone of the basins it covers, each contour (a
probability band of one wind threshold) made of rings around each storm. The tool counts a
ring only when it lies within the window (kind ``tropical``: 500 km, 6 h) around the case's
place: the storm at the place, not another one a continent away.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import WindowInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value
from hvrmet.tools.window import Window, windowed

__all__: list[str] = []


class WindProbInput(WindowInput):
    """A case, its wind-probability role, a point to read the probabilities at, and the
    window around it whose contours count."""

    role: str = Field("wind_probability", description="case role of the NHC wind-probability archive")
    lat: float | None = quantity(None, units="degree_north", description="latitude of a point of interest (default: the case location)", ge=-90, le=90)
    lon: float | None = quantity(None, units="degree_east", description="longitude of a point of interest (default: the case location)", ge=-360, le=360)


def _contains(lon: np.ndarray, lat: np.ndarray, x: float, y: float, ring: np.ndarray | None = None) -> bool:
    """Whether the point lies inside a contour made of one or more rings (outer rings and
    holes, as in a shapefile polygon): inside an odd number of its rings. Longitudes are
    compared on the point's side of the antimeridian."""
    from shapely.geometry import Point, Polygon

    ring = np.zeros(len(lon), dtype=np.int64) if ring is None else np.asarray(ring)
    pt = Point(x, y)
    inside = 0
    for r in np.unique(ring):
        m = ring == r
        if m.sum() < 3:
            continue
        rl = ((lon[m] - x + 180.0) % 360.0) - 180.0 + x  # the ring's longitudes near the point's
        inside += bool(Polygon(np.column_stack([rl, lat[m]])).buffer(0).contains(pt))
    return inside % 2 == 1


def _rings(ds, win: Window) -> list[dict]:
    """Every ring of the product: its threshold and probability, its distance
    (km) from the window's place (0 when the place lies inside the ring; else to the ring's
    line, in the azimuthal-equidistant plane of the place) and its geodesic area (km2,
    positive for an outer ring, negative for a hole: shapefile rings run clockwise outside)."""
    from pyproj import Geod
    from shapely.geometry import LinearRing, Point, Polygon

    from hvrmet.data.readers._common import aeqd_transformer

    tr = aeqd_transformer(win.lat, win.lon, to_plane=True)
    geod = Geod(ellps="WGS84")
    ring_of = ds.vertex_ring.values if "vertex_ring" in ds else np.zeros(ds.sizes["vertex"], np.int64)
    contour_of = ds.vertex_contour.values
    lat, lon = ds.vertex_lat.values, ds.vertex_lon.values
    origin = Point(0.0, 0.0)
    out = []
    for c, r in sorted({(int(a), int(b)) for a, b in zip(contour_of, ring_of)}):
        k = (contour_of == c) & (ring_of == r)
        if k.sum() < 3:
            continue
        x, y = tr.transform(lon[k], lat[k])
        xy = np.column_stack([x, y])
        if not np.isfinite(xy).all():
            continue
        inside = Polygon(xy).buffer(0).contains(origin)
        area, _ = geod.polygon_area_perimeter(lon[k], lat[k])
        out.append({"threshold": float(ds.threshold.values[c]), "probability": float(ds.probability.values[c]),
                    "distance_km": 0.0 if inside else float(LinearRing(xy).distance(origin)) / 1000.0,
                    "area_km2": -float(area) / 1e6})
    return out


@tool(category="surface", needs=("wind_probability",), example={},
      outputs=windowed({"max_prob_34kt": "percent", "max_prob_50kt": "percent", "max_prob_64kt": "percent",
                        "area_34kt_50pct": "km^2", "point_prob_34kt": "percent", "point_prob_64kt": "percent",
                        "rings_outside_window": "1", "period": "hour", "issued": ""}))
def summarize_wind_probability(args: WindProbInput, ctx: ToolContext) -> ToolOutput:
    """Summarise NHC tropical-cyclone wind-speed probabilities (34, 50 and 64 kt) near the place.

    The highest cumulative probability of each wind threshold over the forecast period
    among the contour rings that lie within the window (the place inside a ring, or its
    line within ``radius`` km: 500 km by default, about the reach of a large hurricane's
    34 kt winds), the area inside the 50 % rings of 34 kt winds in the window (geodesic,
    holes subtracted), and the probabilities at the point (the case's place unless
    given; the window is centred on it) from the contours that contain it. Rings farther
    away (another storm, or this one's track days later) are counted and named in a
    warning when they hold a higher probability. Contours are NHC's own polygons (lower
    bound of each probability band, percent).
    """
    ds = ctx.load(args.role)
    lat = args.lat if args.lat is not None else ctx.case.location.lat
    lon = args.lon if args.lon is not None else ctx.case.location.lon
    given = args.lat is not None or args.lon is not None
    win = ctx.window("tropical", args, center=(lat, lon) if given else None)
    win.at(ds.attrs.get("issued"), "the wind-probability product")
    rings = _rings(ds, win)
    for r in rings:
        r["near"] = bool(win.inside(r["distance_km"]))
    near = [r for r in rings if r["near"]]
    out: dict[str, Value] = {}
    warnings: list[str] = []
    for kt in (34, 50, 64):
        mine = [r["probability"] for r in near if r["threshold"] == kt]
        out[f"max_prob_{kt}kt"] = Value(value=max(mine, default=0.0), units="percent",
                                        note=f"rings {win.area_text()}")
        far = [r for r in rings if r["threshold"] == kt and not r["near"]
               and r["probability"] > out[f"max_prob_{kt}kt"].value]
        if far:
            top = max(far, key=lambda r: (r["probability"], -r["distance_km"]))
            warnings.append(f"the product's highest {kt} kt probability, {top['probability']:.0f} %, lies "
                            f"{top['distance_km']:.0f} km from the place, outside the window ({win.area_text()}): "
                            "another storm, or this one's track days later; not counted")
    area = sum(r["area_km2"] for r in near if r["threshold"] == 34 and r["probability"] >= 50)
    out["area_34kt_50pct"] = Value(value=round(float(max(area, 0.0)), 1), units="km^2")
    for kt in (34, 64):
        best = 0.0
        for c in np.flatnonzero(ds.threshold.values == kt):
            m = ds.vertex_contour.values == c
            rr = ds.vertex_ring.values[m] if "vertex_ring" in ds else None
            if _contains(ds.vertex_lon.values[m], ds.vertex_lat.values[m], lon, lat, rr):
                best = max(best, float(ds.probability.values[c]))
        out[f"point_prob_{kt}kt"] = Value(value=best, units="percent")
    out["rings_outside_window"] = Value(value=len(rings) - len(near), units="1")
    out["period"] = Value(value=float(ds.period_h.values.max()), units="hour")
    out["issued"] = Value(value=ds.attrs["issued"], units="")
    return win.finish(ToolOutput(values=out, warnings=warnings, summary=(
        f"NHC {out['period'].value:.0f} h wind probabilities issued {ds.attrs['issued']} UTC, {win.area_text()}: "
        f"up to {out['max_prob_34kt'].value:.0f} % for 34 kt and {out['max_prob_64kt'].value:.0f} % for 64 kt; "
        f"at ({lat:.2f}, {lon:.2f}) {out['point_prob_34kt'].value:.0f} % / {out['point_prob_64kt'].value:.0f} %")))
