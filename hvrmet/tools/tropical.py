"""Tropical-cyclone tools: NHC wind-speed probabilities."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput, quantity
from hvrmet.tools.registry import tool
from hvrmet.tools.results import ToolOutput, Value

__all__: list[str] = []


class WindProbInput(CaseInput):
    """A case, its wind-probability role, and a point to read the probabilities at."""

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


@tool(category="surface", needs=("wind_probability",), example={"case": "henri2021"},
      outputs={"max_prob_34kt": "percent", "max_prob_50kt": "percent", "max_prob_64kt": "percent",
               "area_34kt_50pct": "km^2", "point_prob_34kt": "percent", "point_prob_64kt": "percent",
               "period": "hour", "issued": ""})
def summarize_wind_probability(args: WindProbInput, ctx: ToolContext) -> ToolOutput:
    """Summarise NHC tropical-cyclone wind-speed probabilities (34, 50 and 64 kt).

    The highest cumulative probability contour of each wind threshold over the forecast
    period, the area inside the 50 % contour of 34 kt winds, and the probabilities at a
    point (the case location unless given) from the contours that contain it. Contours
    are NHC's own polygons (lower bound of each probability band, percent).
    """
    ds = ctx.load(args.role)
    lat = args.lat if args.lat is not None else ctx.case.location.lat
    lon = args.lon if args.lon is not None else ctx.case.location.lon
    out: dict[str, Value] = {}
    for kt in (34, 50, 64):
        sel = ds.threshold.values == kt
        out[f"max_prob_{kt}kt"] = Value(value=float(ds.probability.values[sel].max()) if sel.any() else 0.0,
                                        units="percent")
    a = ds.area_km2.values[(ds.threshold.values == 34) & (ds.probability.values >= 50)]
    out["area_34kt_50pct"] = Value(value=round(float(a.sum()), 1), units="km^2")
    for kt in (34, 64):
        best = 0.0
        for c in np.flatnonzero(ds.threshold.values == kt):
            m = ds.vertex_contour.values == c
            rings = ds.vertex_ring.values[m] if "vertex_ring" in ds else None
            if _contains(ds.vertex_lon.values[m], ds.vertex_lat.values[m], lon, lat, rings):
                best = max(best, float(ds.probability.values[c]))
        out[f"point_prob_{kt}kt"] = Value(value=best, units="percent")
    out["period"] = Value(value=float(ds.period_h.values.max()), units="hour")
    out["issued"] = Value(value=ds.attrs["issued"], units="")
    return ToolOutput(values=out, summary=(
        f"NHC {out['period'].value:.0f} h wind probabilities issued {ds.attrs['issued']} UTC: "
        f"up to {out['max_prob_34kt'].value:.0f} % for 34 kt and {out['max_prob_64kt'].value:.0f} % for 64 kt; "
        f"at ({lat:.2f}, {lon:.2f}) {out['point_prob_34kt'].value:.0f} % / {out['point_prob_64kt'].value:.0f} %"))
