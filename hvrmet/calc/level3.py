"""What the WSR-88D's own algorithms wrote into Level III products, summarised.

Pure functions on the tables :mod:`hvrmet.data.readers.nexrad_level3` decodes (storm
tracks, mesocyclones, TVS, hail index, storm structure): nothing the radar computed is
recomputed, except the vector-mean storm motion (MetPy wind components), geodesic
distances to a place (WGS84, pyproj) and the choice of the fastest, strongest, nearest
or largest entry by the rules stated in each function. Missing values are NaN and never
win a comparison.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

__all__ = ["geodesic_km", "mean_storm_motion", "fastest", "strongest_circulation", "hail_summary",
           "tvs_summary", "storm_structure_summary", "field_maximum"]


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _score(a) -> np.ndarray:
    """Values for ranking: NaN lowest."""
    a = _f(a)
    return np.where(np.isfinite(a), a, -np.inf)


def geodesic_km(lat0: float, lon0: float, lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic distance (km) and azimuth from north (degree) from a place to points.

    Parameters
    ----------
    lat0, lon0
        The place (degree north, degree east).
    lat, lon
        The points (degree), arrays of one shape; NaN gives NaN.

    Returns
    -------
    distance_km, azimuth_deg
        On the WGS84 ellipsoid (:class:`pyproj.Geod`).
    """
    from pyproj import Geod

    lat, lon = np.atleast_1d(_f(lat)), np.atleast_1d(_f(lon))
    dist, az = np.full(lat.shape, np.nan), np.full(lat.shape, np.nan)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if ok.any():
        fwd, _, d = Geod(ellps="WGS84").inv(np.full(ok.sum(), lon0), np.full(ok.sum(), lat0), lon[ok], lat[ok])
        dist[ok], az[ok] = np.asarray(d) / 1000.0, np.asarray(fwd) % 360.0
    return dist, az


def mean_storm_motion(speed_kt, direction_from_deg) -> tuple[float, float, int]:
    """Vector-mean motion of the storms that have one.

    Parameters
    ----------
    speed_kt, direction_from_deg
        Each storm's speed (knot) and the direction it moves from (degree); NaN for a
        storm without a motion (a new cell).

    Returns
    -------
    speed, direction, count
        The speed (knot) and direction from (degree) of the mean of the storms' motion
        vectors (:func:`metpy.calc.wind_components`), and how many storms entered it;
        NaN, NaN, 0 when none has a motion.
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    spd, dirn = _f(speed_kt), _f(direction_from_deg)
    ok = np.isfinite(spd) & np.isfinite(dirn)
    if not ok.any():
        return math.nan, math.nan, 0
    u, v = mpcalc.wind_components(spd[ok] * units.knot, dirn[ok] * units.degree)
    um, vm = u.mean(), v.mean()
    return (float(mpcalc.wind_speed(um, vm).to("knot").m), float(mpcalc.wind_direction(um, vm).to("degree").m),
            int(ok.sum()))


def fastest(speed) -> int | None:
    """Index of the largest finite value (first of ties), ``None`` when there is none."""
    s = _score(speed)
    return int(np.argmax(s)) if np.isfinite(s).any() else None


def strongest_circulation(strength_rank, msi) -> int | None:
    """The MDA circulation with the highest strength rank, ties broken by the mesocyclone
    strength index (Stumpf et al. 1998) then table order; ``None`` for an empty table."""
    rank, m = _score(strength_rank), _score(msi)
    if rank.size == 0:
        return None
    order = sorted(range(rank.size), key=lambda i: (-rank[i], -m[i], i))
    return order[0]


def hail_summary(posh, poh, mehs, *, min_posh: float, vil=None, mehs_qualifier=None) -> dict:
    """Hail index of a storm table: counts and the storm with the largest expected hail.

    Parameters
    ----------
    posh, poh
        Probability of severe hail and of hail per storm (percent).
    mehs
        Maximum expected hail size per storm (inch); a size the product gives as an upper
        bound (qualifier ``<``, e.g. ``<0.50``) counts as no hail expected.
    min_posh
        The POSH (percent) a storm must reach to be counted.
    vil
        Cell VIL (kg/m2), the last tie-breaker.

    Returns
    -------
    dict
        ``hits`` (indices with POSH >= ``min_posh``), ``max_posh``, ``max_poh`` (percent,
        NaN for an empty table), ``largest`` (index of the largest MEHS, ties broken by
        POSH, POH, VIL then table order; ``None`` when no storm has hail above zero) and
        ``max_hail_size`` (inch, 0 when none).
    """
    posh, poh, size = _f(posh), _f(poh), _f(mehs).copy()
    n = posh.size
    if mehs_qualifier is not None:
        q = np.asarray(mehs_qualifier, dtype=str)
        size[q == "<"] = 0.0
    vil_ = _f(vil) if vil is not None else np.zeros(n)
    hits = [i for i in range(n) if np.isfinite(posh[i]) and posh[i] >= min_posh]
    sz, ps, ph, vl = _score(size), _score(posh), _score(poh), _score(vil_)
    order = sorted(range(n), key=lambda i: (-sz[i], -ps[i], -ph[i], -vl[i], i))
    largest = order[0] if n and sz[order[0]] > 0 else None
    return {"hits": hits,
            "max_posh": float(np.nanmax(posh)) if np.isfinite(posh).any() else math.nan,
            "max_poh": float(np.nanmax(poh)) if np.isfinite(poh).any() else math.nan,
            "largest": largest, "max_hail_size": float(size[largest]) if largest is not None else 0.0}


def tvs_summary(lat, lon, max_shear, low_level_delta_velocity, place: tuple[float, float]) -> dict:
    """Nearest and strongest tornado vortex signature.

    Parameters
    ----------
    lat, lon
        Detections' positions (degree).
    max_shear
        Maximum shear of each detection (1/s; NaN where the product gives none).
    low_level_delta_velocity
        Low-level gate-to-gate velocity difference (knot), the tie-breaker.
    place
        The case's place (lat, lon in degree).

    Returns
    -------
    dict
        ``distance_km`` and ``azimuth_from_place`` (degree) of every detection, ``nearest``
        (index of the smallest distance) and ``strongest`` (largest maximum shear, ties by
        low-level delta velocity, then nearest); ``None`` for no detection.
    """
    n = np.atleast_1d(_f(lat)).size
    if n == 0:
        return {"distance_km": np.zeros(0), "azimuth_from_place": np.zeros(0), "nearest": None, "strongest": None}
    dist, az = geodesic_km(place[0], place[1], lat, lon)
    d = np.where(np.isfinite(dist), dist, np.inf)
    nearest = int(np.argmin(d))
    sh, dv = _score(max_shear), _score(low_level_delta_velocity)
    strongest = sorted(range(n), key=lambda i: (-sh[i], -dv[i], d[i], i))[0]
    return {"distance_km": dist, "azimuth_from_place": az, "nearest": nearest, "strongest": strongest}


def storm_structure_summary(top_kft, vil, max_reflectivity) -> dict:
    """The tallest storm, the storm with the largest cell VIL and the one with the
    strongest maximum reflectivity (indices, first of ties; ``None`` when no value)."""
    return {"tallest": fastest(top_kft), "max_vil": fastest(vil), "max_reflectivity": fastest(max_reflectivity)}


def field_maximum(da: xr.DataArray) -> dict:
    """Maximum of a Level III field and where it is.

    Parameters
    ----------
    da
        A field on ``(y, x)`` (m from the radar) or ``(azimuth, range)`` (degree, m),
        with ``lat``/``lon`` coordinates.

    Returns
    -------
    dict
        ``max`` and ``mean`` over bins with data (the field's units), ``coverage`` (share
        of bins with data), and for the maximum ``lat``, ``lon`` (degree), ``range_km`` and
        ``azimuth`` (degree); NaN when the field is empty.
    """
    vals = np.asarray(da.values, dtype=np.float64)
    ok = np.isfinite(vals)
    out = {"max": math.nan, "mean": math.nan, "coverage": float(ok.mean()) if vals.size else 0.0,
           "lat": math.nan, "lon": math.nan, "range_km": math.nan, "azimuth": math.nan, "index": None}
    if not ok.any():
        return out
    idx = np.unravel_index(int(np.nanargmax(vals)), vals.shape)
    out.update(max=float(vals[idx]), mean=float(np.nanmean(vals)), index=tuple(int(i) for i in idx))
    if da.dims == ("y", "x"):
        x, y = float(da["x"].values[idx[1]]), float(da["y"].values[idx[0]])
        out.update(range_km=math.hypot(x, y) / 1000.0, azimuth=math.degrees(math.atan2(x, y)) % 360.0)
    elif da.dims == ("azimuth", "range"):
        out.update(range_km=float(da["range"].values[idx[1]]) / 1000.0, azimuth=float(da["azimuth"].values[idx[0]]))
    if "lat" in da.coords:
        out.update(lat=float(da["lat"].values[idx]), lon=float(da["lon"].values[idx]))
    return out
