"""What the WSR-88D's own algorithms wrote into Level III products, summarised.

Pure functions on the tables :mod:`hvrmet.data.readers.nexrad_level3` decodes (storm
tracks, mesocyclones, TVS, hail index, storm structure): nothing the radar computed is
recomputed, except the vector-mean storm motion (MetPy wind components), geodesic
distances to a place (WGS84, pyproj) and the choice of the fastest, strongest, nearest
or largest entry by the rules stated in each function. Missing values are NaN and never
win a comparison. A ``keep`` mask (the features inside the search window around the
case's place, :mod:`hvrmet.tools.window`) limits which entries may be chosen.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

__all__ = ["geodesic_km", "mean_storm_motion", "fastest", "strongest_circulation", "hail_summary",
           "tvs_summary", "storm_structure_summary", "field_maximum", "nearest"]


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _score(a) -> np.ndarray:
    """Values for ranking: NaN lowest."""
    a = _f(a)
    return np.where(np.isfinite(a), a, -np.inf)


def _kept(n: int, keep) -> np.ndarray:
    return np.ones(n, bool) if keep is None else np.asarray(keep, bool).reshape(n)


def nearest(distance_km, keep=None) -> int | None:
    """Index of the smallest finite distance among ``keep`` (first of ties); ``None`` when
    no kept entry has a distance."""
    d = _f(distance_km)
    k = _kept(d.size, keep) & np.isfinite(d)
    if not k.any():
        return None
    return int(np.argmin(np.where(k, d, np.inf)))


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


def fastest(speed, keep=None) -> int | None:
    """Index of the largest finite value among ``keep`` (first of ties), ``None`` when
    there is none."""
    s = _f(speed)
    k = _kept(s.size, keep) & np.isfinite(s)
    return int(np.argmax(np.where(k, s, -np.inf))) if k.any() else None


def strongest_circulation(strength_rank, msi, keep=None) -> int | None:
    """The MDA circulation with the highest strength rank, ties broken by the mesocyclone
    strength index (Stumpf et al. 1998) then table order, among ``keep``; ``None`` for an
    empty table (or nothing kept)."""
    rank = _score(strength_rank)
    m = _score(msi) if np.size(msi) == rank.size else np.zeros(rank.size)
    k = _kept(rank.size, keep)
    idx = [i for i in range(rank.size) if k[i]]
    if not idx:
        return None
    return sorted(idx, key=lambda i: (-rank[i], -m[i], i))[0]


def hail_summary(posh, poh, mehs, *, min_posh: float, vil=None, mehs_qualifier=None, keep=None) -> dict:
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
    keep
        Which storms count (a mask, e.g. those inside the search window); all by default.

    Returns
    -------
    dict
        Over the kept storms: ``hits`` (indices with POSH >= ``min_posh``), ``max_posh``,
        ``max_poh`` (percent, NaN when none), ``largest`` (index of the largest MEHS, ties
        broken by POSH, POH, VIL then table order; ``None`` when no storm has hail above
        zero) and ``max_hail_size`` (inch, 0 when none).
    """
    posh, poh, size = _f(posh), _f(poh), _f(mehs).copy()
    n = posh.size
    k = _kept(n, keep)
    if mehs_qualifier is not None:
        q = np.asarray(mehs_qualifier, dtype=str)
        size[q == "<"] = 0.0
    vil_ = _f(vil) if vil is not None else np.zeros(n)
    hits = [i for i in range(n) if k[i] and np.isfinite(posh[i]) and posh[i] >= min_posh]
    sz, ps, ph, vl = _score(size), _score(posh), _score(poh), _score(vil_)
    order = sorted((i for i in range(n) if k[i]), key=lambda i: (-sz[i], -ps[i], -ph[i], -vl[i], i))
    largest = order[0] if order and sz[order[0]] > 0 else None
    pk, hk = posh[k], poh[k]
    return {"hits": hits,
            "max_posh": float(np.nanmax(pk)) if np.isfinite(pk).any() else math.nan,
            "max_poh": float(np.nanmax(hk)) if np.isfinite(hk).any() else math.nan,
            "largest": largest, "max_hail_size": float(size[largest]) if largest is not None else 0.0}


def tvs_summary(lat, lon, max_shear, low_level_delta_velocity, place: tuple[float, float],
                radius_km: float | None = None) -> dict:
    """Nearest and strongest tornado vortex signature (within ``radius_km`` of the place).

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
    radius_km
        Only detections this close to the place (geodesic) count; all when ``None``.

    Returns
    -------
    dict
        ``distance_km`` and ``azimuth_from_place`` (degree) of every detection, ``inside``
        (the mask of those within ``radius_km``), ``nearest`` (index of the smallest
        distance among them) and ``strongest`` (largest maximum shear among them, ties by
        low-level delta velocity, then nearest); ``None`` when no detection is inside.
    """
    n = np.atleast_1d(_f(lat)).size
    if n == 0:
        return {"distance_km": np.zeros(0), "azimuth_from_place": np.zeros(0), "inside": np.zeros(0, bool),
                "nearest": None, "strongest": None}
    dist, az = geodesic_km(place[0], place[1], lat, lon)
    d = np.where(np.isfinite(dist), dist, np.inf)
    inside = np.ones(n, bool) if radius_km is None else d <= radius_km
    near = nearest(dist, inside) if radius_km is not None else int(np.argmin(d))
    sh, dv = _score(max_shear), _score(low_level_delta_velocity)
    kept = [i for i in range(n) if inside[i]]
    strongest = sorted(kept, key=lambda i: (-sh[i], -dv[i], d[i], i))[0] if kept else None
    return {"distance_km": dist, "azimuth_from_place": az, "inside": inside, "nearest": near if kept else None,
            "strongest": strongest}


def storm_structure_summary(top_kft, vil, max_reflectivity, keep=None) -> dict:
    """The tallest storm, the storm with the largest cell VIL and the one with the
    strongest maximum reflectivity, among ``keep`` (indices, first of ties; ``None`` when
    no value)."""
    return {"tallest": fastest(top_kft, keep), "max_vil": fastest(vil, keep),
            "max_reflectivity": fastest(max_reflectivity, keep)}


def field_maximum(da: xr.DataArray, mask=None) -> dict:
    """Maximum of a Level III field and where it is.

    Parameters
    ----------
    da
        A field on ``(y, x)`` (m from the radar) or ``(azimuth, range)`` (degree, m),
        with ``lat``/``lon`` coordinates.
    mask
        Bins to search (shaped like the field, e.g. those inside the search window);
        every bin when ``None``.

    Returns
    -------
    dict
        ``max`` and ``mean`` over bins with data (the field's units), ``coverage`` (share
        of bins with data), and for the maximum ``lat``, ``lon`` (degree), ``range_km`` and
        ``azimuth`` (degree); NaN when the field is empty. With ``mask``, over the masked
        bins only (``coverage`` of them).
    """
    vals = np.asarray(da.values, dtype=np.float64)
    if mask is not None:
        m = np.asarray(mask, bool)
        if m.shape != vals.shape:
            raise ValueError(f"mask shape {m.shape} is not the field's {vals.shape}")
        vals = np.where(m, vals, np.nan)
        n_bins = int(m.sum())
    else:
        n_bins = vals.size
    ok = np.isfinite(vals)
    out = {"max": math.nan, "mean": math.nan, "coverage": float(ok.sum() / n_bins) if n_bins else 0.0,
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
