"""Radar science on hvrmet's sweep tree: gridding, column products, cells, couplets, VAD.

Every function works on the tree the radar readers return (:mod:`hvrmet.data.readers.radar`,
xradar's FM-301 / CfRadial 2 layout), whatever the file's format: a root with the site
(``latitude``, ``longitude``, ``altitude``) and one ``sweep_<n>`` node per sweep, each with
its own ``range`` (m), gate spacing and moments under hvrmet's names (``reflectivity`` in
dBZ, ``radial_velocity`` in m/s, ``spectrum_width``, ``differential_reflectivity``,
``cross_correlation_ratio``, ...). Sweeps may differ in gate count, gate spacing and the
moments they hold; split cuts (a surveillance and a Doppler sweep at one elevation) are
matched by elevation.

**PPIs only.** The column products (composite, echo tops, VIL, cells, hail proxy), the
couplet search (rotation, debris) and the VAD need plan-position sweeps (``sweep_mode``
``azimuth_surveillance`` or ``sector``, dims ``(azimuth, range)``); RHI and
vertical-pointing sweeps are left out of them, and a volume with no PPI holding the moment
is refused with :class:`hvrmet.errors.VariableMissing`. :func:`max_gate` works on any
sweep with azimuth and elevation per ray.

Gridding (:func:`column_stack`, :func:`composite_reflectivity`) uses a regular grid in the
azimuthal-equidistant projection centred on the radar (x east, y north, metres). Two
numpy passes are combined:

* *binning*: every gate's value goes to the cell its ground position falls in
  (``np.maximum.at``), which keeps every gate's peak where several gates share a cell;
* *nearest gate*: every cell takes, on each sweep, the gate nearest its centre (range by
  the beam model, azimuth by table look-up), which leaves no holes at long range where
  rays are further apart than the grid spacing.

Heights are beam-centre heights above mean sea level, 4/3 effective earth radius
(Doviak and Zrnić 1993, eqs. 2.28b, 2.28c). Results are memoised per process by the
volume's sha256 and the parameters, so tools run in a loop share one gridding.

Numeric parameters are plain numbers in the units their names say (``resolution_m``) or
pint quantities (``units("1 km")``), converted; a bad value raises ``ValueError`` naming the
argument.
"""

from __future__ import annotations

import collections
import itertools
import math
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import EARTH_RADIUS_M, aeqd_transformer, gate_lat_lon
from hvrmet.errors import VariableMissing

__all__ = [
    "memo", "volume_key", "sweep_names", "get_sweep", "site_location", "fixed_angle", "sweep_mode", "is_ppi",
    "sweep_index", "nyquist_velocity", "sweeps_with", "ground_range", "beam_height", "gate_heights",
    "gate_locations", "grid_coords", "column_stack", "despeckle", "composite_reflectivity", "echo_top_grid",
    "greene_clark_vil", "vil_grid", "grid_point", "max_gate", "rotation_couplet", "label_cells", "hail_proxy",
    "debris_signature", "vad_fit", "radial_velocity_summary", "polar_composite", "EARTH_RADIUS_M", "KE_A",
    "within_mask", "convective_lines", "weak_echo_regions",
]

#: 4/3 effective earth radius (m).
KE_A = 4.0 / 3.0 * EARTH_RADIUS_M

_MEMO: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
_MEMO_LOCK = threading.RLock()
_KEYS = itertools.count(1)
_MEMO_SIZE = 48


# --------------------------------------------------------------------------- checks
def _mag(value: Any, units: str, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """A parameter as a float in ``units``: a number (taken in those units) or a pint
    quantity (converted). Raises ``ValueError`` naming the argument."""
    if hasattr(value, "to") and hasattr(value, "magnitude"):
        try:
            value = value.to(units).magnitude
        except Exception:  # noqa: BLE001 - pint's DimensionalityError and kin
            raise ValueError(f"{name} must be in units of {units}; got {value!r}") from None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number (in {units}); got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be positive; got {v:g} {units}")
    if nonnegative and v < 0:
        raise ValueError(f"{name} must not be negative; got {v:g} {units}")
    return v


def _tree(volume: Any, name: str = "volume") -> xr.DataTree:
    if not isinstance(volume, xr.DataTree):
        raise TypeError(f"{name} must be an xarray.DataTree (hvrmet's sweep tree, as the radar readers "
                        f"return it); got {type(volume).__name__}")
    if "latitude" not in volume.ds.variables or "longitude" not in volume.ds.variables:
        raise ValueError(f"{name} has no site latitude/longitude at its root: not a radar sweep tree")
    return volume


def _source(volume: xr.DataTree) -> str | None:
    return volume.attrs.get("source_file")


# --------------------------------------------------------------------------- memo
#: id of a tree built in memory -> (a weak reference to it, its key)
_UNHASHED: dict[int, tuple[weakref.ref, str]] = {}
#: (id, key) of freed trees, whose products :func:`memo` drops (appended by their
#: finalizers, which take no lock: they may run inside a locked section during garbage
#: collection)
_FREED: collections.deque[tuple[int, str]] = collections.deque()


def _drop_freed() -> None:
    """Drop the memoised products of the trees freed since the last call (lock held)."""
    while _FREED:
        obj_id, key = _FREED.popleft()
        for k in [k for k in _MEMO if key in k]:
            _MEMO.pop(k, None)
        if _UNHASHED.get(obj_id, (None, None))[1] == key:  # the id may already name a later tree
            del _UNHASHED[obj_id]


def volume_key(volume: xr.DataTree) -> str:
    """The identity of a decoded volume: its file's sha256, or for a tree built in memory
    a key of its own for as long as it lives (an object id is reused by a later tree once
    this one is freed, and would hand it this one's memoised products)."""
    sha = volume.attrs.get("sha256")
    if sha:
        return str(sha)
    with _MEMO_LOCK:
        entry = _UNHASHED.get(id(volume))
        if entry is not None and entry[0]() is volume:
            return entry[1]
        key = f"mem{next(_KEYS)}"
        _UNHASHED[id(volume)] = (weakref.ref(volume), key)
        weakref.finalize(volume, _FREED.append, (id(volume), key))
        return key


def memo(key: tuple, compute: Callable[[], Any]) -> Any:
    """Return the memoised result for ``key``, computing (and storing) it when absent."""
    with _MEMO_LOCK:
        _drop_freed()
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    value = compute()
    with _MEMO_LOCK:
        _MEMO[key] = value
        _drop_freed()  # a tree freed while this was computed takes its product with it
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return value


# --------------------------------------------------------------------------- access
def sweep_names(volume: xr.DataTree) -> list[str]:
    """The volume's sweep nodes in the file's order (``sweep_0``, ``sweep_1``, ...)."""
    vol = _tree(volume)

    def order(n: str) -> int:
        tail = n.split("_", 1)[1] if "_" in n else ""
        return int(tail) if tail.isdigit() else 10**6

    return sorted((n for n in vol.children if n.startswith("sweep_")), key=order)


def sweep_index(name: str) -> int:
    """The number of a sweep node (``sweep_3`` -> 3)."""
    return int(str(name).rsplit("_", 1)[1])


def get_sweep(volume: xr.DataTree, sweep: str | int) -> xr.Dataset:
    """One sweep of the volume as a Dataset (by node name or number)."""
    vol = _tree(volume)
    name = f"sweep_{int(sweep)}" if isinstance(sweep, (int, np.integer)) else str(sweep)
    if name not in vol.children:
        raise VariableMissing(_source(vol), f"the volume has no {name} (it has {len(vol.children)} sweeps)")
    return vol[name].to_dataset(inherit=False)


def site_location(volume: xr.DataTree) -> tuple[float, float, float]:
    """The radar's latitude, longitude (degree) and altitude (m above mean sea level)."""
    root = _tree(volume).ds
    alt = float(root["altitude"].values) if "altitude" in root.variables else 0.0
    return float(root["latitude"].values), float(root["longitude"].values), alt if math.isfinite(alt) else 0.0


def fixed_angle(sweep: xr.Dataset) -> float:
    """The sweep's fixed angle (degree): elevation for a PPI, azimuth for an RHI."""
    if "sweep_fixed_angle" in sweep.variables:
        v = float(np.asarray(sweep["sweep_fixed_angle"].values).reshape(-1)[0])
        if math.isfinite(v):
            return v
    return float(np.nanmedian(sweep["elevation"].values))


def sweep_mode(sweep: xr.Dataset) -> str:
    """The sweep's ``sweep_mode`` (``azimuth_surveillance``, ``sector``, ``rhi``, ...)."""
    if "sweep_mode" not in sweep.variables:
        return "azimuth_surveillance" if "azimuth" in sweep.dims else ""
    return str(np.asarray(sweep["sweep_mode"].values).reshape(-1)[0]).strip()


def is_ppi(sweep: xr.Dataset) -> bool:
    """Whether the sweep is a plan-position (constant-elevation) scan with dims (azimuth, range)."""
    return "azimuth" in sweep.dims and "range" in sweep.dims and sweep_mode(sweep) in (
        "azimuth_surveillance", "sector", "ppi", "manual_ppi")


def nyquist_velocity(sweep: xr.Dataset) -> float:
    """The sweep's Nyquist velocity (m/s), NaN when the file gives none."""
    if "nyquist_velocity" not in sweep.variables:
        return float("nan")
    try:
        v = np.asarray(sweep["nyquist_velocity"].values, np.float64)
    except (TypeError, ValueError):
        return float("nan")
    return float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")


def _has(sweep: xr.Dataset, moment: str) -> bool:
    return moment in sweep.data_vars and bool(np.isfinite(sweep[moment].values).any())


def sweeps_with(volume: xr.DataTree, moment: str, dedupe: bool = True, max_elevation: float | None = None,
                ppi_only: bool = True) -> list[str]:
    """Sweeps holding ``moment`` (some finite gate), lowest fixed angle first.

    Parameters
    ----------
    volume
        The sweep tree.
    moment
        Moment name (``"reflectivity"``, ``"radial_velocity"``, ...).
    dedupe
        Keep one sweep per elevation (the first in file order, to 0.1 degree).
    max_elevation
        Leave out sweeps above this fixed angle (degree).
    ppi_only
        Leave out RHI and vertical-pointing sweeps.
    """
    vol = _tree(volume)
    if max_elevation is not None:
        max_elevation = _mag(max_elevation, "degree", "max_elevation")

    def make() -> list[str]:
        cands = []
        for n in sweep_names(vol):
            ds = vol[n].ds
            if (ppi_only and not is_ppi(ds)) or not _has(ds, moment):
                continue
            cands.append((fixed_angle(ds), sweep_index(n), n))
        cands.sort()
        out, seen = [], set()
        for fa, _i, n in cands:
            if max_elevation is not None and fa > max_elevation + 0.05:
                continue
            key = round(fa, 1)
            if dedupe and key in seen:
                continue
            seen.add(key)
            out.append(n)
        return out

    return memo(("sweeps", volume_key(vol), moment, dedupe, max_elevation, ppi_only), make)


def _require(volume: xr.DataTree, moment: str, what: str) -> list[str]:
    names = sweeps_with(volume, moment)
    if not names:
        have = sorted({v for n in sweep_names(volume) for v in volume[n].ds.data_vars
                       if volume[n].ds[v].ndim == 2})
        anywhere = any(_has(volume[n].ds, moment) for n in sweep_names(volume))
        why = ("it is only on RHI or vertical-pointing sweeps; " + what + " needs PPIs") if anywhere else \
            f"the volume's moments are {', '.join(have) or 'none'}"
        raise VariableMissing(_source(volume), f"no PPI sweep holds {moment} ({why})")
    return names


# --------------------------------------------------------------------------- geometry
def ground_range(slant_m: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Ground distance (m) of a gate, 4/3 effective earth radius (Doviak and Zrnić 1993, 2.28c).

    Parameters
    ----------
    slant_m
        Slant range to the gate (m).
    elevation_deg
        Ray elevation (degree), broadcastable against ``slant_m``.
    """
    el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
    r = np.asarray(slant_m, dtype=np.float64)
    h = np.sqrt(r**2 + KE_A**2 + 2.0 * r * KE_A * np.sin(el)) - KE_A
    return KE_A * np.arcsin(r * np.cos(el) / (KE_A + h))


def beam_height(slant_m: np.ndarray, elevation_deg: np.ndarray, site_altitude_m: float = 0.0) -> np.ndarray:
    """Beam-centre height (m) of a gate above the radar plus ``site_altitude_m``
    (4/3 effective earth radius; Doviak and Zrnić 1993, 2.28b)."""
    el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
    r = np.asarray(slant_m, dtype=np.float64)
    return np.sqrt(r**2 + KE_A**2 + 2.0 * r * KE_A * np.sin(el)) - KE_A + float(site_altitude_m)


def gate_heights(volume: xr.DataTree, sweep: str) -> np.ndarray:
    """Beam-centre height above mean sea level (m) of every gate of a sweep, ``(ray, range)``
    (memoised)."""
    vol = _tree(volume)

    def make() -> np.ndarray:
        ds = vol[sweep].ds
        alt = site_location(vol)[2]
        el = np.nan_to_num(ds["elevation"].values.astype(np.float64))[:, None]
        return beam_height(ds["range"].values[None, :], el, alt).astype(np.float32)

    return memo(("z", volume_key(vol), sweep), make)


def gate_locations(volume: xr.DataTree, sweep: str) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degree) of every gate of a sweep, ``(ray, range)``
    (geodesic on WGS84 from the beam model's ground distance; memoised)."""
    vol = _tree(volume)

    def make() -> tuple[np.ndarray, np.ndarray]:
        ds = vol[sweep].ds
        lat0, lon0, alt = site_location(vol)
        lat, lon, _ = gate_lat_lon(lat0, lon0, np.nan_to_num(ds["azimuth"].values)[:, None],
                                   np.nan_to_num(ds["elevation"].values)[:, None], ds["range"].values[None, :], alt)
        return lat, lon

    return memo(("latlon", volume_key(vol), sweep), make)


def _points(volume: xr.DataTree, az: np.ndarray, el: np.ndarray, rng: np.ndarray) -> tuple[np.ndarray, ...]:
    """Latitude, longitude and height (m MSL) of individual gates."""
    lat0, lon0, alt = site_location(volume)
    az, el, rng = (np.atleast_1d(np.asarray(a, np.float64)) for a in (az, el, rng))
    lat, lon, z = gate_lat_lon(lat0, lon0, az[:, None], el[:, None], rng[:, None], alt)
    return lat[:, 0].astype(np.float64), lon[:, 0].astype(np.float64), z[:, 0].astype(np.float64)


def _place_xy(volume: xr.DataTree, lat: float, lon: float) -> tuple[float, float]:
    """A place's east and north distance (m) from the radar, in the radar-centred
    azimuthal-equidistant plane (WGS84)."""
    lat0, lon0, _ = site_location(volume)
    x, y = aeqd_transformer(lat0, lon0, to_plane=True).transform(float(lon), float(lat))
    return float(x), float(y)


def within_mask(volume: xr.DataTree, sweep: xr.Dataset, within: tuple[float, float, float] | None,
                range_m: np.ndarray | None = None) -> np.ndarray:
    """Which gates of a sweep lie within a circle: ``(ray, range)`` booleans.

    Parameters
    ----------
    volume
        The sweep tree (its site places the gates).
    sweep
        One sweep (its azimuths, elevations and ranges).
    within
        ``(lat, lon, radius_m)``: the circle (its centre in degrees, radius in m); ``None``
        keeps every gate.
    range_m
        The gates' slant ranges (m) to test (the sweep's own when ``None``).

    Distances are measured in the radar-centred azimuthal-equidistant plane between the
    gate's ground position (4/3-earth beam model, :func:`ground_range`) and the centre:
    exact from the radar, within about 1 % elsewhere inside a few hundred km.
    """
    rng = np.asarray(sweep["range"].values if range_m is None else range_m, dtype=np.float64)
    az = np.deg2rad(np.nan_to_num(sweep["azimuth"].values.astype(np.float64)))
    if within is None:
        return np.ones((az.size, rng.size), bool)
    lat, lon, radius = within
    radius = _mag(radius, "m", "radius_m", positive=True)
    x0, y0 = _place_xy(volume, lat, lon)
    el = np.nan_to_num(sweep["elevation"].values.astype(np.float64))
    gr = ground_range(rng[None, :], el[:, None])
    return np.hypot(gr * np.sin(az)[:, None] - x0, gr * np.cos(az)[:, None] - y0) <= radius


def _within_key(within: tuple[float, float, float] | None) -> tuple | None:
    return None if within is None else tuple(round(float(w), 6) for w in within)


# --------------------------------------------------------------------------- grid
def grid_coords(volume: xr.DataTree, resolution_m: float, max_range_m: float) -> dict[str, np.ndarray]:
    """Cell centres ``x``/``y`` (m) and ``lat``/``lon`` of the radar-centred grid (memoised).

    Parameters
    ----------
    volume
        The sweep tree (its site centres the grid).
    resolution_m, max_range_m
        Grid spacing and radius (m).
    """
    res = _mag(resolution_m, "m", "resolution_m", positive=True)
    maxr = _mag(max_range_m, "m", "max_range_m", positive=True)
    if maxr / res > 4000:
        raise ValueError(f"max_range_m / resolution_m is {maxr / res:.0f}: more than 4000 cells a side")
    lat0, lon0, _ = site_location(volume)

    def make() -> dict[str, np.ndarray]:
        n = int(np.floor(maxr / res))
        x = np.arange(-n, n + 1) * float(res)
        y = x[::-1].copy()  # north at the top
        xx, yy = np.meshgrid(x, y)
        lon, lat = aeqd_transformer(lat0, lon0).transform(xx, yy)
        dist = np.hypot(xx, yy)
        az = np.rad2deg(np.arctan2(xx, yy)) % 360.0
        return {"x": x, "y": y, "lat": np.asarray(lat, np.float32), "lon": np.asarray(lon, np.float32),
                "dist": dist, "az": az, "inside": dist <= maxr}

    return memo(("grid", lat0, lon0, res, maxr), make)


def _nearest_ray_table(az: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For 0.1-degree azimuth bins: the nearest ray (rays sorted by azimuth) and its
    angular distance (deg)."""
    valid = np.flatnonzero(np.isfinite(az))
    a = az[valid].astype(np.float64)
    b = (np.arange(3600) + 0.5) / 10.0
    k = np.searchsorted(a, b)
    lo = valid[(k - 1) % len(a)]
    hi = valid[k % len(a)]
    d_lo = np.abs((b - az[lo] + 180.0) % 360.0 - 180.0)
    d_hi = np.abs((az[hi] - b + 180.0) % 360.0 - 180.0)
    use_hi = d_hi < d_lo
    return np.where(use_hi, hi, lo), np.where(use_hi, d_hi, d_lo)


def _ray_spacing(az: np.ndarray) -> float:
    a = np.sort(np.asarray(az, np.float64)[np.isfinite(az)])
    if a.size < 2:
        return 1.0
    d = np.diff(a)
    d = d[d > 1e-6]
    return float(np.median(d)) if d.size else 1.0


def _gather_plan(volume: xr.DataTree, moment: str, res: float, maxr: float) -> dict[str, Any]:
    """For each PPI holding ``moment`` (one per elevation, lowest first), the grid cells
    it covers and the (ray, gate) nearest each cell's centre (memoised)."""

    def make() -> dict[str, Any]:
        g = grid_coords(volume, res, maxr)
        az_bin = np.minimum((g["az"] * 10.0).astype(np.int64), 3599)
        steps = []
        for n in sweeps_with(volume, moment):
            ds = volume[n].ds
            rng = ds["range"].values.astype(np.float64)
            dr = float(rng[1] - rng[0]) if rng.size > 1 else 1000.0
            s = ground_range(rng, fixed_angle(ds))
            gate = np.rint(np.interp(g["dist"], s, np.arange(len(rng)), left=-1, right=-1)).astype(np.int64)
            ok = g["inside"] & (gate >= 0) & (g["dist"] <= s[-1] + dr / 2)
            azv = ds["azimuth"].values
            ray_tab, dist_tab = _nearest_ray_table(azv)
            ok &= dist_tab[az_bin] <= max(1.0, 1.5 * _ray_spacing(azv))
            steps.append((n, ok, ray_tab[az_bin][ok], gate[ok]))
        return {"shape": g["dist"].shape, "steps": steps}

    return memo(("plan", volume_key(volume), moment, res, maxr), make)


def _gather(plan: dict[str, Any], arrays: Callable[[str], np.ndarray]) -> np.ndarray:
    """Values of each plan sweep's ``(ray, range)`` array (``arrays(name)``) at the plan's
    nearest gates: ``(n, ny, nx)``."""
    out = np.full((len(plan["steps"]),) + tuple(plan["shape"]), np.nan, np.float32)
    for k, (n, ok, ri, gi) in enumerate(plan["steps"]):
        out[k][ok] = arrays(n)[ri, gi]
    return out


def column_stack(volume: xr.DataTree, moment: str, resolution_m: float, max_range_m: float
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Nearest-gate values and beam heights of ``moment`` on every PPI, on the grid.

    Parameters
    ----------
    volume
        The sweep tree.
    moment
        Moment name.
    resolution_m, max_range_m
        Grid spacing and radius (m).

    Returns
    -------
    values, heights, sweeps
        Arrays ``(n_sweeps, ny, nx)``: the moment's value and the gate's beam-centre height
        above MSL (m), NaN where the sweep has no gate; and the sweep nodes used (one per
        elevation, lowest first).
    """
    vol = _tree(volume)
    res = _mag(resolution_m, "m", "resolution_m", positive=True)
    maxr = _mag(max_range_m, "m", "max_range_m", positive=True)
    _require(vol, moment, "a column product")

    def make():
        plan = _gather_plan(vol, moment, res, maxr)
        return (_gather(plan, lambda n: vol[n].ds[moment].values), _gather(plan, lambda n: gate_heights(vol, n)),
                [st[0] for st in plan["steps"]])

    return memo(("stack", volume_key(vol), moment, res, maxr), make)


def despeckle(mask: np.ndarray, min_neighbours: int = 2, wrap: bool = True) -> np.ndarray:
    """Keep the True gates of a sweep's ``(ray, range)`` mask with at least
    ``min_neighbours`` True gates among their 8 (ray, gate) neighbours.

    Parameters
    ----------
    mask
        Boolean ``(ray, range)`` array.
    min_neighbours
        Neighbours needed (0-8).
    wrap
        Rays wrap round (a full-circle sweep); off for sectors.
    """
    m = np.asarray(mask, bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D (ray, range); got {m.ndim} dimensions")
    if not 0 <= int(min_neighbours) <= 8:
        raise ValueError(f"min_neighbours must be 0-8; got {min_neighbours}")
    v = m.astype(np.int16)
    if wrap and v.shape[0] > 2:
        v = np.concatenate([v[-1:], v, v[:1]], axis=0)
    else:
        v = np.pad(v, ((1, 1), (0, 0)))
    v = np.pad(v, ((0, 0), (1, 1)))
    nr, ng = m.shape
    counts = sum(v[1 + di: 1 + di + nr, 1 + dj: 1 + dj + ng] for di in (-1, 0, 1) for dj in (-1, 0, 1)
                 if (di, dj) != (0, 0))
    return m & (counts >= int(min_neighbours))


def _full_circle(ds: xr.Dataset) -> bool:
    return sweep_mode(ds) != "sector"


def _binned_max(volume: xr.DataTree, moment: str, values: Callable[[str], np.ndarray], res: float,
                maxr: float) -> np.ndarray:
    """Maximum of ``values(sweep)`` over the gates of every PPI holding ``moment`` whose
    ground position is in each cell (NaN where no gate falls)."""
    g = grid_coords(volume, res, maxr)
    ny, nx = g["dist"].shape
    n = nx // 2
    out = np.full(ny * nx, -np.inf)
    for name in sweeps_with(volume, moment, dedupe=False):
        ds = volume[name].ds
        vals = values(name)
        ri, gi = np.nonzero(np.isfinite(vals))
        if ri.size == 0:
            continue
        s = ground_range(ds["range"].values.astype(np.float64)[gi], ds["elevation"].values.astype(np.float64)[ri])
        az = np.deg2rad(ds["azimuth"].values.astype(np.float64)[ri])
        ix = np.rint(s * np.sin(az) / res).astype(np.int64) + n
        iy = n - np.rint(s * np.cos(az) / res).astype(np.int64)
        ok = (s <= maxr) & (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        np.maximum.at(out, iy[ok] * nx + ix[ok], vals[ri[ok], gi[ok]].astype(np.float64))
    out[~np.isfinite(out)] = np.nan
    return out.reshape(ny, nx)


def _grid_array(volume: xr.DataTree, field: np.ndarray, res: float, maxr: float, name: str, units: str,
                long_name: str) -> xr.DataArray:
    g = grid_coords(volume, res, maxr)
    lat0, lon0, _ = site_location(volume)
    field = np.where(g["inside"], field, np.nan).astype(np.float32)
    return xr.DataArray(
        field, dims=("y", "x"), name=name,
        coords={"y": ("y", g["y"], {"units": "m", "long_name": "northward distance from the radar"}),
                "x": ("x", g["x"], {"units": "m", "long_name": "eastward distance from the radar"}),
                "lat": (("y", "x"), g["lat"], {"units": "degree_north"}),
                "lon": (("y", "x"), g["lon"], {"units": "degree_east"})},
        attrs={"units": units, "long_name": long_name, "radar_site": volume.attrs.get("instrument_name", ""),
               "site_latitude": lat0, "site_longitude": lon0,
               "grid_mapping": f"azimuthal equidistant centred on the radar, {res:g} m cells",
               "source_sha256": volume.attrs.get("sha256", "")})


def _nanmax0(stack: np.ndarray) -> np.ndarray:
    if len(stack) == 0:
        return np.full(stack.shape[1:], np.nan)
    near = np.where(np.isfinite(stack), stack, -np.inf).max(axis=0)
    near[~np.isfinite(near)] = np.nan
    return near


def composite_reflectivity(volume: xr.DataTree, resolution_m: float = 1000.0,
                           max_range_m: float = 230000.0) -> xr.DataArray:
    """Column-maximum reflectivity (dBZ) on a radar-centred azimuthal-equidistant grid.

    Parameters
    ----------
    volume
        The sweep tree, with ``reflectivity`` on at least one PPI.
    resolution_m, max_range_m
        Grid spacing and radius (m).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` in dBZ with ``x``/``y`` (m from the radar) and ``lat``/``lon``; NaN
        outside the radius and where no sweep has echo.

    Raises
    ------
    hvrmet.errors.VariableMissing
        If no PPI holds reflectivity.
    """
    vol = _tree(volume)
    res = _mag(resolution_m, "m", "resolution_m", positive=True)
    maxr = _mag(max_range_m, "m", "max_range_m", positive=True)
    _require(vol, "reflectivity", "the composite")

    def make() -> xr.DataArray:
        vals, _, _ = column_stack(vol, "reflectivity", res, maxr)
        binned = _binned_max(vol, "reflectivity", lambda n: vol[n].ds["reflectivity"].values, res, maxr)
        return _grid_array(vol, np.fmax(_nanmax0(vals), binned), res, maxr,
                           "composite_reflectivity", "dBZ", "column maximum reflectivity")

    return memo(("composite", volume_key(vol), res, maxr), make)


def echo_top_grid(volume: xr.DataTree, threshold_dbz: float, resolution_m: float = 1000.0,
                  max_range_m: float = 230000.0) -> xr.DataArray:
    """Echo top: the highest beam-centre height (m MSL) with reflectivity >= ``threshold_dbz``
    in each grid column (gate-based, no interpolation between sweeps).

    Isolated gates (fewer than 2 of their 8 neighbours in the same sweep at or above the
    threshold) are left out as speckle (:func:`despeckle`).

    Parameters
    ----------
    volume
        The sweep tree.
    threshold_dbz
        Reflectivity threshold (dBZ).
    resolution_m, max_range_m
        Grid spacing and radius (m).
    """
    vol = _tree(volume)
    thr = _mag(threshold_dbz, "dBZ", "threshold_dbz") if not hasattr(threshold_dbz, "to") else float(
        threshold_dbz.magnitude)
    res = _mag(resolution_m, "m", "resolution_m", positive=True)
    maxr = _mag(max_range_m, "m", "max_range_m", positive=True)
    _require(vol, "reflectivity", "echo tops")

    def make() -> xr.DataArray:
        tops: dict[str, np.ndarray] = {}

        def ztop(n: str) -> np.ndarray:
            if n not in tops:
                ds = vol[n].ds
                with np.errstate(invalid="ignore"):
                    keep = despeckle(np.nan_to_num(ds["reflectivity"].values, nan=-999.0) >= thr,
                                     wrap=_full_circle(ds))
                tops[n] = np.where(keep, gate_heights(vol, n), np.nan)
            return tops[n]

        near = _nanmax0(_gather(_gather_plan(vol, "reflectivity", res, maxr), ztop))
        binned = _binned_max(vol, "reflectivity", ztop, res, maxr)
        return _grid_array(vol, np.fmax(near, binned), res, maxr, "echo_top", "m",
                           f"highest beam-centre height with reflectivity >= {thr:g} dBZ (MSL)")

    return memo(("echotop", volume_key(vol), thr, res, maxr), make)


def greene_clark_vil(dbz: np.ndarray, heights_m: np.ndarray, cap_dbz: float = 56.0) -> np.ndarray:
    """Vertically integrated liquid (kg m-2) of columns sampled at the levels of axis 0.

    Greene and Clark (1972, Mon. Wea. Rev. 100, 548-552):
    ``VIL = sum_i 3.44e-6 * ((Z_i + Z_i+1) / 2) ** (4/7) * dh_i``, with ``Z`` the linear
    reflectivity factor (mm6 m-3) and ``dh`` the layer depth (m). Reflectivity is capped at
    ``cap_dbz`` (56 dBZ, as in the WSR-88D VIL algorithm) to limit hail contamination;
    a level without echo counts as ``Z = 0``; layers whose bounding heights are unknown are
    left out.

    Parameters
    ----------
    dbz
        Reflectivity (dBZ), levels along axis 0.
    heights_m
        Heights of the levels (m), same shape.
    cap_dbz
        Reflectivity cap (dBZ).
    """
    dbz = np.asarray(dbz)
    heights_m = np.asarray(heights_m)
    if dbz.shape != heights_m.shape:
        raise ValueError(f"dbz and heights_m must have one shape; got {dbz.shape} and {heights_m.shape}")
    if dbz.ndim == 0:
        raise ValueError("dbz must have a level axis (axis 0)")
    cap = _mag(cap_dbz, "dBZ", "cap_dbz")
    out = np.zeros(dbz.shape[1:])
    # only the columns holding echo (most columns of a radar grid hold none): the arithmetic
    # below then touches a fraction of the volume, in float64
    cols = np.isfinite(dbz).reshape(dbz.shape[0], -1).any(axis=0)
    if not cols.any():
        return out if out.ndim else out[()]
    d = dbz.reshape(dbz.shape[0], -1)[:, cols].astype(np.float64)
    h = heights_m.reshape(dbz.shape[0], -1)[:, cols].astype(np.float64)
    fin = np.isfinite(d)
    zlin = np.zeros(d.shape)
    zlin[fin] = 10.0 ** (np.minimum(d[fin], cap) / 10.0)
    dh = np.diff(h, axis=0)
    zm = 0.5 * (zlin[1:] + zlin[:-1])
    with np.errstate(invalid="ignore"):
        use = (zm > 0.0) & np.isfinite(dh) & (dh > 0.0)
    layer = np.zeros(zm.shape)
    layer[use] = 3.44e-6 * zm[use] ** (4.0 / 7.0) * dh[use]
    out.reshape(-1)[cols] = layer.sum(axis=0)
    return out if out.ndim else out[()]


def vil_grid(volume: xr.DataTree, resolution_m: float = 1000.0, max_range_m: float = 230000.0) -> xr.DataArray:
    """VIL (kg m-2) of each grid column from the nearest-gate sweep stack (see
    :func:`greene_clark_vil`); the layer below the lowest sweep is not counted.

    Parameters
    ----------
    volume
        The sweep tree.
    resolution_m, max_range_m
        Grid spacing and radius (m).
    """
    vol = _tree(volume)
    res = _mag(resolution_m, "m", "resolution_m", positive=True)
    maxr = _mag(max_range_m, "m", "max_range_m", positive=True)

    def make() -> xr.DataArray:
        vals, hts, _ = column_stack(vol, "reflectivity", res, maxr)
        vil = greene_clark_vil(vals, hts)
        vil = np.where(np.isfinite(vals).any(axis=0), vil, np.nan)
        return _grid_array(vol, vil, res, maxr, "vil", "kg/m^2", "vertically integrated liquid (Greene and Clark 1972)")

    return memo(("vil", volume_key(vol), res, maxr), make)


def grid_point(da: xr.DataArray, iy: int, ix: int) -> dict[str, float]:
    """Latitude, longitude, range (km) and azimuth (deg) of one grid cell."""
    x, y = float(da["x"].values[ix]), float(da["y"].values[iy])
    return {"lat": float(da["lat"].values[iy, ix]), "lon": float(da["lon"].values[iy, ix]),
            "range_km": float(np.hypot(x, y) / 1000.0),
            "azimuth": float(np.rad2deg(np.arctan2(x, y)) % 360.0)}


def max_gate(volume: xr.DataTree, moment: str = "reflectivity", min_range_m: float = 0.0,
             within: tuple[float, float, float] | None = None) -> dict[str, Any] | None:
    """The gate with the largest ``moment`` at or beyond ``min_range_m`` slant range.

    Every sweep holding the moment is searched (PPIs and RHIs), in the file's order; the
    first gate with the maximum wins. With ``within`` (``(lat, lon, radius_m)``, see
    :func:`within_mask`), only gates inside that circle.

    Parameters
    ----------
    volume
        The sweep tree.
    moment
        Moment name.
    min_range_m
        Gates nearer than this slant range (m) are ignored.

    Returns
    -------
    dict or None
        ``value``, ``lat``, ``lon``, ``height_m`` (MSL), ``range_km``, ``azimuth``,
        ``elevation`` (of the ray), ``sweep`` (node number), ``sweep_name`` and
        ``fixed_angle``; ``None`` when no gate holds a value there.
    """
    vol = _tree(volume)
    rmin = _mag(min_range_m, "m", "min_range_m", nonnegative=True)
    best: tuple[float, str, int, int] | None = None
    for n in sweep_names(vol):
        ds = vol[n].ds
        if moment not in ds.data_vars or ds[moment].ndim != 2:
            continue
        vals = np.where(ds["range"].values[None, :] >= rmin, ds[moment].values, np.nan)
        if within is not None:
            vals = np.where(within_mask(vol, ds, within), vals, np.nan)
        if not np.isfinite(vals).any():
            continue
        k = int(np.nanargmax(vals))
        j, g = np.unravel_index(k, vals.shape)
        if best is None or vals[j, g] > best[0]:
            best = (float(vals[j, g]), n, int(j), int(g))
    if best is None:
        return None
    value, n, j, g = best
    ds = vol[n].ds
    az, el = float(ds["azimuth"].values[j]), float(ds["elevation"].values[j])
    rng = float(ds["range"].values[g])
    lat, lon, z = _points(vol, [az], [el], [rng])
    return {"value": value, "lat": float(lat[0]), "lon": float(lon[0]), "height_m": float(z[0]),
            "range_km": rng / 1000.0, "azimuth": az, "elevation": el, "sweep": sweep_index(n), "sweep_name": n,
            "fixed_angle": fixed_angle(ds)}


# --------------------------------------------------------------------------- couplets
def _median3x3(v: np.ndarray, wrap: bool = True, min_valid: int = 5) -> np.ndarray:
    """NaN-aware median of each gate's 3 x 3 (ray, gate) neighbourhood, rays wrapping
    round the sweep (speckle filter). Gates that were NaN stay NaN, and so does a gate
    with fewer than ``min_valid`` valid gates in its neighbourhood (itself included):
    the median of a sparse cluster of noise is noise."""
    from numpy.lib.stride_tricks import sliding_window_view

    if wrap:
        pad = np.concatenate([v[-1:], v, v[:1]], axis=0)
    else:
        pad = np.pad(v, ((1, 1), (0, 0)), constant_values=np.nan)
    pad = np.pad(pad, ((0, 0), (1, 1)), constant_values=np.nan)
    keep = np.isfinite(v)
    win = np.sort(sliding_window_view(pad, (3, 3)).reshape(v.shape + (9,))[keep], axis=-1)  # NaN last
    n = np.isfinite(win).sum(axis=-1)
    rows = np.arange(len(win))
    med = np.full(v.shape, np.nan)
    med[keep] = np.where(n >= min_valid, 0.5 * (win[rows, (n - 1) // 2] + win[rows, n // 2]), np.nan)
    return np.where(np.isfinite(v), med, np.nan)


def _same_elevation(volume: xr.DataTree, name: str, moment: str, tol: float = 0.3) -> str | None:
    """The sweep holding ``moment`` at the elevation of ``name``: itself, else the first
    other PPI within ``tol`` degrees (the surveillance half of a split cut)."""
    ds = volume[name].ds
    if _has(ds, moment):
        return name
    fa = fixed_angle(ds)
    for n in sweep_names(volume):
        o = volume[n].ds
        if is_ppi(o) and _has(o, moment) and abs(fixed_angle(o) - fa) < tol:
            return n
    return None


def _echo_mask(volume: xr.DataTree, name: str, az: np.ndarray, r: np.ndarray, min_dbz: float) -> np.ndarray:
    """Whether the reflectivity nearest each gate (rays ``az``, slant ranges ``r``) of sweep
    ``name`` reaches ``min_dbz``, from the same-elevation sweep holding reflectivity; all
    True when there is none."""
    ref = _same_elevation(volume, name, "reflectivity")
    if ref is None:
        return np.ones((len(az), len(r)), bool)
    ds = volume[ref].ds
    rr = ds["range"].values.astype(np.float64)
    dr = float(rr[1] - rr[0]) if rr.size > 1 else 1.0
    gate = np.rint((r - rr[0]) / dr).astype(np.int64)
    inside = (gate >= 0) & (gate < len(rr))
    gate = np.clip(gate, 0, len(rr) - 1)
    ray_tab, _ = _nearest_ray_table(ds["azimuth"].values)
    ray = ray_tab[np.minimum((np.asarray(az) % 360.0 * 10.0).astype(np.int64), 3599)]
    with np.errstate(invalid="ignore"):
        return (ds["reflectivity"].values[ray][:, gate] >= min_dbz) & inside[None, :]


def _tilt_profile(maps: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]], x: float, y: float,
                  radius_km: float) -> list[dict[str, float]]:
    """The strongest rotational velocity on each tilt within ``radius_km`` (horizontal) of
    the point ``(x, y)`` (km east and north of the radar), one entry per fixed angle
    (rounded to 0.1 deg; of two sweeps at one angle, the stronger), lowest first; a tilt
    with no couplet there has ``vrot`` NaN."""
    out: dict[float, float] = {}
    for el, vrot, xs, ys in maps:
        v = vrot[np.hypot(xs - x, ys - y) <= radius_km]
        v = float(np.nanmax(v)) if np.isfinite(v).any() else float("nan")
        key = round(float(el), 1)
        out[key] = float(np.fmax(out.get(key, np.nan), v))  # NaN only where both are
    return [{"elevation": k, "vrot": out[k]} for k in sorted(out)]


def _pair_search(vol: xr.DataTree, name: str, p: dict[str, float]) -> dict[str, Any] | None:
    """The window-independent part of :func:`rotation_couplet` on one sweep, memoised: the
    masked, median-filtered velocities, their radial maxima and minima, and for each gate
    the strongest admissible pair (its velocity difference, ray offset and diameter).
    ``None`` when the sweep is too small to search. Arrays come back read-only."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    def make() -> dict[str, Any] | None:
        ds = vol[name].ds
        rng = ds["range"].values.astype(np.float64)
        if rng.size < 3:
            return None
        dr = float(rng[1] - rng[0])
        win = max(1, int(round(p["radial_window_m"] / 2 / dr))) * 2 + 1
        gsel = np.flatnonzero((rng >= max(p["min_range_m"], 1.0)) & (rng <= p["max_range_m"]))
        if gsel.size == 0:
            return None
        r = rng[gsel]
        az = ds["azimuth"].values.astype(np.float64)
        nray = len(az)
        if nray < 8:
            return None
        wrap = _full_circle(ds)
        v = ds["radial_velocity"].values[:, gsel].astype(np.float64)
        finite = np.isfinite(v)
        mask = np.zeros_like(finite)
        nyq = nyquist_velocity(ds)
        with np.errstate(invalid="ignore"):
            if np.isfinite(nyq):
                mask |= np.abs(v) >= p["nyquist_fraction"] * nyq
            if "spectrum_width" in ds.data_vars:
                mask |= ds["spectrum_width"].values[:, gsel] > p["max_spectrum_width"]
        mask &= finite
        v = _median3x3(np.where(mask, np.nan, v), wrap=wrap)
        vmax = maximum_filter1d(np.where(np.isfinite(v), v, -np.inf), win, axis=1)
        vmin = minimum_filter1d(np.where(np.isfinite(v), v, np.inf), win, axis=1)
        step = _ray_spacing(az)
        echo = _echo_mask(vol, name, az, r, p["min_reflectivity"])
        kmax = int(min(nray // 4, np.ceil(p["max_diameter_m"] / (max(r[0], 1.0) * np.deg2rad(step)))))
        g2g = 0.0
        best = np.full(v.shape, -np.inf)
        best_k = np.zeros(v.shape, np.int64)
        best_d = np.ones(v.shape)
        alias_any = np.zeros(v.shape, bool)
        for k in range(1, max(kmax, 1) + 1):
            j2 = (np.arange(nray) + k) % nray
            ng = int(np.searchsorted(r, p["max_diameter_m"] / np.deg2rad(max(k * step, 1e-3)) * 1.5))
            if ng == 0:
                break
            dist = np.deg2rad((az[j2] - az) % 360.0)[:, None] * r[None, :ng]
            near = dist <= p["max_diameter_m"]
            if not wrap:
                near &= (np.arange(nray) + k < nray)[:, None]
            vo, vi = vmax[j2, :ng], vmin[:, :ng]
            with np.errstate(invalid="ignore"):
                dv = np.where(near & np.isfinite(vo - vi), vo - vi, -np.inf)
                if np.isfinite(nyq):
                    folded = ((np.abs(vo) >= p["alias_fraction"] * nyq)
                              & (np.abs(vi) >= p["alias_fraction"] * nyq))
                    alias_any[:, :ng] |= folded & (dv > best[:, :ng])
                    dv = np.where(folded, -np.inf, dv)
                dv = np.where(echo[:, :ng] & echo[j2, :ng], dv, -np.inf)
            if k == 1:
                dist1 = np.deg2rad((az[j2] - az) % 360.0)[:, None] * r[None, :]
                with np.errstate(invalid="ignore"):
                    adj = (v[j2] - v) / np.maximum(dist1, 1.0)
                if not wrap:
                    adj[-1] = np.nan
                if np.isfinite(adj).any():
                    g2g = float(np.nanmax(adj))
            upd = dv > best[:, :ng]
            best[:, :ng] = np.where(upd, dv, best[:, :ng])
            best_k[:, :ng] = np.where(upd, k, best_k[:, :ng])
            best_d[:, :ng] = np.where(upd, dist, best_d[:, :ng])
        mid_all = (np.arange(nray)[:, None] + best_k // 2) % nray  # each pair's centre ray
        out = {"rng": rng, "gsel": gsel, "r": r, "az": az, "nray": nray, "nyq": nyq, "n_all": int(finite.sum()),
               "n_masked": int(mask.sum()), "n_alias": int(alias_any.sum()), "g2g": g2g, "vmax": vmax,
               "vmin": vmin, "best": best, "best_k": best_k, "best_d": best_d, "mid_all": mid_all}
        for a in out.values():
            if isinstance(a, np.ndarray):
                a.setflags(write=False)
        return out

    return memo(("rotation-sweep", volume_key(vol), name, tuple(sorted(p.items()))), make)


def rotation_couplet(volume: xr.DataTree, *, max_elevation: float = 1.5, max_diameter_m: float = 5000.0,
                     min_range_m: float = 5000.0, max_range_m: float = 150000.0,
                     max_spectrum_width: float = 12.0, nyquist_fraction: float = 0.98,
                     alias_fraction: float = 0.8, radial_window_m: float = 1000.0,
                     min_reflectivity: float = 30.0, separation_m: float = 10000.0,
                     n_couplets: int = 10, within: tuple[float, float, float] | None = None) -> dict[str, Any]:
    """Cyclonic velocity couplets on the low PPIs (no dealiasing), strongest first.

    On each PPI with ``radial_velocity`` at or below ``max_elevation`` degrees, gates are
    masked where spectrum width exceeds ``max_spectrum_width`` (m/s) or ``|V|`` reaches
    ``nyquist_fraction`` of the sweep's Nyquist velocity (the folding edge), and each gate
    is replaced by the median of its 3 x 3 (ray, gate) neighbourhood (speckle). Then, for
    every pair of rays ``k`` rays apart whose azimuthal separation at that range is at most
    ``max_diameter_m``, the outbound maximum on the clockwise ray and the inbound minimum on
    the anticlockwise ray (each within ``radial_window_m`` along the ray) give a
    rotational velocity ``(Vout - Vin) / 2`` and an azimuthal shear ``(Vout - Vin) / d``
    (cyclonic in the northern hemisphere: outbound clockwise of inbound, seen from the
    radar). Both gates of a pair must lie in echo: the reflectivity of the nearest gate at
    the same elevation (the velocity sweep's own, or the surveillance sweep of a split
    cut) must reach ``min_reflectivity`` dBZ. A pair whose two velocities both exceed
    ``alias_fraction`` of the Nyquist velocity in magnitude is skipped: without dealiasing
    it cannot be told from a folding boundary (the count of such pairs is returned).
    With ``within`` (``(lat, lon, radius_m)``, see :func:`within_mask`), only couplets
    centred inside that circle are kept.

    Returns
    -------
    dict
        ``couplets``: up to ``n_couplets`` dicts at least ``separation_m`` apart, strongest
        first, each with ``vrot`` (m/s), ``shear`` (1/s), ``diameter_m``, ``v_in``,
        ``v_out``, ``lat``, ``lon``, ``range_km``, ``azimuth``, ``height_m`` (MSL),
        ``elevation``, ``sweep`` (node number), ``tilts`` (per fixed angle searched, lowest
        first: ``elevation`` and the strongest ``vrot`` centred within ``max_diameter_m``
        of the couplet, NaN where there is none; the vertical continuity a mesocyclone
        needs, Stumpf et al. 1998); ``gate_to_gate_shear`` (largest
        adjacent-ray shear, 1/s), ``sweeps`` (node numbers used), ``masked_fraction``
        (share of velocity gates masked), ``alias_pairs`` (gates where a stronger pair was
        skipped as possibly folded), ``nyquist`` (m/s, per sweep used).

    Raises
    ------
    hvrmet.errors.VariableMissing
        If no PPI holds radial velocity.
    """
    vol = _tree(volume)
    p = {"max_elevation": _mag(max_elevation, "degree", "max_elevation"),
         "max_diameter_m": _mag(max_diameter_m, "m", "max_diameter_m", positive=True),
         "min_range_m": _mag(min_range_m, "m", "min_range_m", nonnegative=True),
         "max_range_m": _mag(max_range_m, "m", "max_range_m", positive=True),
         "max_spectrum_width": _mag(max_spectrum_width, "m/s", "max_spectrum_width", positive=True),
         "nyquist_fraction": _mag(nyquist_fraction, "", "nyquist_fraction", positive=True),
         "alias_fraction": _mag(alias_fraction, "", "alias_fraction", positive=True),
         "radial_window_m": _mag(radial_window_m, "m", "radial_window_m", positive=True),
         "min_reflectivity": float(min_reflectivity), "separation_m": _mag(separation_m, "m", "separation_m",
                                                                           nonnegative=True)}
    if int(n_couplets) < 1:
        raise ValueError(f"n_couplets must be at least 1; got {n_couplets}")
    _require(vol, "radial_velocity", "the couplet search")

    def make() -> dict[str, Any]:
        sweeps = sweeps_with(vol, "radial_velocity", dedupe=False, max_elevation=p["max_elevation"])
        cands: list[dict[str, Any]] = []
        maps: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []  # per sweep: tilt, Vrot, x, y (km)
        g2g, n_all, n_masked, n_alias, nyqs = 0.0, 0, 0, 0, []
        for name in sweeps:
            sw = _pair_search(vol, name, p)
            if sw is None:
                continue
            ds = vol[name].ds
            rng, gsel, r, az, nray = sw["rng"], sw["gsel"], sw["r"], sw["az"], sw["nray"]
            best, best_k, best_d, vmax, vmin, mid_all = (sw[k] for k in ("best", "best_k", "best_d", "vmax",
                                                                          "vmin", "mid_all"))
            nyqs.append(sw["nyq"])
            n_all += sw["n_all"]
            n_masked += sw["n_masked"]
            n_alias += sw["n_alias"]
            g2g = max(g2g, sw["g2g"])
            if within is not None:  # the couplet's centre (mid ray) inside the circle
                inside = within_mask(vol, ds, within, r)
                best = np.where(inside[mid_all, np.arange(r.size)[None, :]], best, -np.inf)
            el = fixed_angle(ds)
            ground = ground_range(r, np.full(r.shape, el)) / 1000.0
            a_mid = np.deg2rad(az[mid_all])
            maps.append((el, np.where(np.isfinite(best) & (best > 0), best / 2.0, np.nan),
                         ground[None, :] * np.sin(a_mid), ground[None, :] * np.cos(a_mid)))
            flat = np.flatnonzero(np.isfinite(best) & (best > 0))
            top = flat[np.argsort(best.ravel()[flat])[::-1][:2000]]
            if top.size == 0:
                continue
            jj, gg = np.unravel_index(top, best.shape)
            kk = best_k[jj, gg]
            mid = (jj + kk // 2) % nray
            gi = gsel[gg]
            lat, lon, z = _points(vol, az[mid], ds["elevation"].values[mid], rng[gi])
            for t in range(top.size):
                j, g, k = int(jj[t]), int(gg[t]), int(kk[t])
                cands.append({"vrot": float(best[j, g] / 2.0), "shear": float(best[j, g] / best_d[j, g]),
                              "diameter_m": float(best_d[j, g]), "v_out": float(vmax[(j + k) % nray, g]),
                              "v_in": float(vmin[j, g]), "sweep": sweep_index(name), "elevation": el,
                              "lat": float(lat[t]), "lon": float(lon[t]), "height_m": float(z[t]),
                              "range_km": float(rng[gi[t]]) / 1000.0, "azimuth": float(az[mid[t]])})
        cands.sort(key=lambda c: -c["vrot"])
        chosen: list[dict[str, Any]] = []
        for c in cands:
            a = np.deg2rad(c["azimuth"])
            x, y = c["range_km"] * np.sin(a), c["range_km"] * np.cos(a)
            if all(np.hypot(x - o["_x"], y - o["_y"]) * 1000.0 >= p["separation_m"] for o in chosen):
                chosen.append({**c, "_x": x, "_y": y})
                if len(chosen) >= int(n_couplets):
                    break
        for c in chosen:
            c.pop("_x"), c.pop("_y")
            ground = float(ground_range(np.array([c["range_km"] * 1000.0]), np.array([c["elevation"]]))[0]) / 1000.0
            x, y = ground * np.sin(np.deg2rad(c["azimuth"])), ground * np.cos(np.deg2rad(c["azimuth"]))
            c["tilts"] = _tilt_profile(maps, x, y, p["max_diameter_m"] / 1000.0)
        return {"couplets": chosen, "gate_to_gate_shear": g2g, "sweeps": [sweep_index(n) for n in sweeps],
                "masked_fraction": n_masked / n_all if n_all else float("nan"),
                "alias_pairs": n_alias, "nyquist": nyqs}

    key = ("rotation", volume_key(vol), tuple(sorted(p.items())), int(n_couplets), _within_key(within))
    return memo(key, make)


def label_cells(comp: xr.DataArray, threshold_dbz: float, min_area_km2: float = 0.0) -> list[dict[str, Any]]:
    """Storm cells: 8-connected regions of ``comp >= threshold_dbz`` (scipy.ndimage.label).

    Parameters
    ----------
    comp
        Composite reflectivity grid (:func:`composite_reflectivity`).
    threshold_dbz
        Reflectivity outlining a cell (dBZ).
    min_area_km2
        Smaller regions are dropped.

    Returns
    -------
    list of dict
        One per cell (largest maximum first): ``area_km2``, centroid ``lat``/``lon``,
        ``max_dbz`` and the maximum's ``max_lat``/``max_lon``, ``range_km``, ``azimuth``
        (of the centroid), ``cell_id``.
    """
    from scipy import ndimage

    if not isinstance(comp, xr.DataArray) or comp.dims != ("y", "x"):
        raise ValueError("comp must be a (y, x) grid from composite_reflectivity")
    thr = float(threshold_dbz)
    amin = _mag(min_area_km2, "km^2", "min_area_km2", nonnegative=True)
    field = comp.values
    with np.errstate(invalid="ignore"):
        mask = np.nan_to_num(field, nan=-np.inf) >= thr
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    res = float(abs(comp["x"].values[1] - comp["x"].values[0]))
    cell_area = (res / 1000.0) ** 2
    idx = np.arange(1, n + 1)
    counts = ndimage.sum_labels(np.ones_like(field), labels, idx)
    cy, cx = np.array(ndimage.center_of_mass(mask, labels, idx)).T
    maxpos = ndimage.maximum_position(np.nan_to_num(field, nan=-np.inf), labels, idx)
    maxval = ndimage.maximum(np.nan_to_num(field, nan=-np.inf), labels, idx)
    x, y = comp["x"].values, comp["y"].values
    tr = aeqd_transformer(comp.attrs["site_latitude"], comp.attrs["site_longitude"])
    xc = np.interp(cx, np.arange(len(x)), x)
    yc = np.interp(cy, np.arange(len(y)), y)
    lonc, latc = tr.transform(xc, yc)
    cells = []
    for k in range(n):
        area = float(counts[k] * cell_area)
        if area < amin:
            continue
        my, mx = maxpos[k]
        cells.append({"area_km2": round(area, 1), "lat": round(float(latc[k]), 4), "lon": round(float(lonc[k]), 4),
                      "max_dbz": round(float(maxval[k]), 1),
                      "max_lat": round(float(comp["lat"].values[my, mx]), 4),
                      "max_lon": round(float(comp["lon"].values[my, mx]), 4),
                      "range_km": round(float(np.hypot(xc[k], yc[k]) / 1000.0), 1),
                      "azimuth": round(float(np.rad2deg(np.arctan2(xc[k], yc[k])) % 360.0), 1)})
    cells.sort(key=lambda c: (-c["max_dbz"], -c["area_km2"]))
    for i, c in enumerate(cells, 1):
        c["cell_id"] = i
    return cells


def _plane_place(tr: Any, x_m: float, y_m: float) -> dict[str, float]:
    """``lat``/``lon`` (through the site's azimuthal-equidistant transformer ``tr``),
    ``range_km`` and ``azimuth`` of a point ``x_m``, ``y_m`` (m east and north of the radar),
    rounded as the region tables give them."""
    lon, lat = tr.transform(x_m, y_m)
    return {"lat": round(float(lat), 4), "lon": round(float(lon), 4),
            "range_km": round(math.hypot(x_m, y_m) / 1000.0, 1),
            "azimuth": round(math.degrees(math.atan2(x_m, y_m)) % 360.0, 1)}


def convective_lines(comp: xr.DataArray, threshold_dbz: float = 40.0, bridge_km: float = 4.0,
                     min_area_km2: float = 100.0) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Convective regions of a composite grid and their shape: how long, how wide, how
    elongated, which way they run.

    The echo at or above ``threshold_dbz`` is closed (:func:`scipy.ndimage.binary_closing`)
    by ``bridge_km`` so that nearly contiguous cells (gaps up to about that width) join one
    region, then 8-connected regions are labelled (:func:`scipy.ndimage.label`). For each
    region of at least ``min_area_km2`` of echo at the threshold:

    * ``length_km``: the extent of its pixels along its major axis (the principal axis of
      the pixels' positions, from their covariance), plus one pixel;
    * ``width_km``: its echo area divided by its length (the mean width);
    * ``aspect_ratio``: length over width; ``orientation``: the major axis's direction
      (degree from north, 0-180);
    * ``area_km2`` (echo at the threshold, not the bridged gaps), ``max_dbz``, the
      centroid's ``lat``/``lon``, ``range_km`` and ``azimuth`` from the radar.

    Parker and Johnson (2000) call a mesoscale convective system linear when its
    convective cells (40 dBZ or more) form a contiguous or nearly contiguous chain of at
    least 100 km; the tool that uses this function asks, in addition, for a length of at
    least three times the width, to tell a line from a cluster.

    Returns
    -------
    regions, labels
        The regions, longest first (``region_id`` 1, 2, ...), and the ``(y, x)`` label grid
        (0 outside every region; ``region_id`` inside).
    """
    from scipy import ndimage

    if not isinstance(comp, xr.DataArray) or comp.dims != ("y", "x"):
        raise ValueError("comp must be a (y, x) grid from composite_reflectivity")
    thr = float(threshold_dbz)
    bridge = _mag(bridge_km, "km", "bridge_km", nonnegative=True)
    amin = _mag(min_area_km2, "km^2", "min_area_km2", nonnegative=True)
    field = np.nan_to_num(comp.values, nan=-np.inf)
    echo = field >= thr
    x, y = comp["x"].values.astype(np.float64), comp["y"].values.astype(np.float64)
    res_km = float(abs(x[1] - x[0])) / 1000.0 if x.size > 1 else 1.0
    n_close = int(round(bridge / res_km / 2.0))
    joined = ndimage.binary_closing(echo, structure=np.ones((3, 3), bool), iterations=n_close) | echo \
        if n_close > 0 else echo
    labels, n = ndimage.label(joined, structure=np.ones((3, 3), bool))
    out_labels = np.zeros(labels.shape, np.int32)
    if n == 0:
        return [], out_labels
    tr = aeqd_transformer(comp.attrs["site_latitude"], comp.attrs["site_longitude"])
    regions = []
    for k, sl in enumerate(ndimage.find_objects(labels), 1):
        sub = (labels[sl] == k) & echo[sl]
        area = float(sub.sum()) * res_km ** 2
        if area < amin or area <= 0:
            continue
        iy, ix = np.nonzero(sub)
        px, py = x[sl[1]][ix] / 1000.0, y[sl[0]][iy] / 1000.0
        mx, my = px.mean(), py.mean()
        pts = np.c_[px - mx, py - my]
        if len(pts) > 1:
            _, vec = np.linalg.eigh(pts.T @ pts)
            major = vec[:, 1]
        else:
            major = np.array([0.0, 1.0])
        along = pts @ major
        length = float(np.ptp(along)) + res_km
        width = area / length
        vals = field[sl][sub]
        regions.append({"length_km": round(length, 1), "width_km": round(width, 1),
                        "aspect_ratio": round(length / width, 2),
                        "orientation": round(float(np.degrees(np.arctan2(major[0], major[1])) % 180.0), 0),
                        "area_km2": round(area, 1), "max_dbz": round(float(vals.max()), 1),
                        **_plane_place(tr, mx * 1000.0, my * 1000.0), "_label": k})
    regions.sort(key=lambda r: (-r["length_km"], -r["area_km2"]))
    for i, r in enumerate(regions, 1):
        out_labels[(labels == r.pop("_label")) & echo] = i
        r["region_id"] = i
    return regions, out_labels


def weak_echo_regions(volume: xr.DataTree, *, low_top_m: float = 2000.0,
                      mid_layer_m: tuple[float, float] = (4000.0, 7000.0), weak_dbz: float = 20.0,
                      strong_dbz: float = 45.0, core_dbz: float = 45.0, max_core_gap_m: float = 4000.0,
                      min_area_km2: float = 5.0, resolution_m: float = 1000.0, max_range_m: float = 230000.0
                      ) -> dict[str, Any]:
    """Weak-echo regions under an echo overhang: the low-level inflow notch of a strong,
    tilted updraft, capped by strong echo aloft and bounded on a side by the storm's core.

    From the gates of every PPI put on the radar-centred grid (:func:`column_stack`,
    nearest gate per sweep), each column gives the strongest echo of the gates whose
    beam centre lies within ``low_top_m`` of the radar's height (the *low layer*) and of
    those between the two heights of ``mid_layer_m`` above it (the *mid layer*). A
    column is *weak under overhang* when both layers are sampled, the low layer has no
    echo of ``weak_dbz`` (20 dBZ) or more and the mid layer has echo of ``strong_dbz`` (45
    dBZ) or more. An 8-connected region of such columns is a weak-echo region (WER) when
    it covers ``min_area_km2`` or more and lies within ``max_core_gap_m`` of a low-layer
    core of ``core_dbz`` or more (between cell edges; nearest-gate gridding widens both
    by up to a cell, so the gap measured is up to about a cell narrower than the echo's):
    "bounded by stronger echoes above and on one side"
    (Lemon 1980, NOAA Tech. Memo. NWS NSSFC-3; Lemon and Doswell 1979, Mon. Wea. Rev.
    107, 1184-1197, where the weak-echo region marks the supercell's updraft). The
    thresholds are hvrmet's reading of those descriptions, not a published algorithm's.

    Heights are beam-centre heights above the radar (terrain is not known), so the low
    layer is sampled only out to where the lowest beam stays under ``low_top_m``. A gate
    without echo counts as weak, so a partly blocked sector (gates there, echo lost) can
    mimic a weak echo under strong echo aloft. A bounded weak-echo region (weak echo
    surrounded by strong echo) is not told apart from one bounded on a side.

    Parameters
    ----------
    volume
        The sweep tree, with ``reflectivity`` on PPI sweeps.
    low_top_m, mid_layer_m
        Top of the low layer, and bottom and top of the mid layer, above the radar (m).
    weak_dbz, strong_dbz, core_dbz
        Reflectivity (dBZ) under which the low layer is weak, at or above which the mid
        layer overhangs, and of the low-level core a region must border.
    max_core_gap_m, min_area_km2
        Largest distance from a region to the core (m); smallest region area (km2).
    resolution_m, max_range_m
        Grid spacing and radius (m).

    Returns
    -------
    dict
        ``regions``: one dict per weak-echo region, largest first (``area_km2``, the
        centroid's ``lat``/``lon``, ``range_km``, ``azimuth``, ``mid_max_dbz`` (strongest
        echo aloft over it), ``low_max_dbz`` (strongest low-layer echo in it, ``None``
        where it has none), ``core_gap_km``, ``wer_id``); ``labels``: the ``(y, x)`` grid
        of ``wer_id`` (0 elsewhere); ``lat``/``lon`` of the grid; ``candidates``: the
        number of regions of weak-under-overhang columns before the area and core tests;
        ``sampled``:
        the ``(y, x)`` mask of columns where both layers are sampled; ``low_max`` and
        ``mid_max``: the strongest echo (dBZ) of each layer per column (NaN where the
        layer is not sampled or has no echo).
    """
    from scipy import ndimage

    vol = _tree(volume)
    low_top = _mag(low_top_m, "m", "low_top_m", positive=True)
    if len(mid_layer_m) != 2:
        raise ValueError(f"mid_layer_m must be (bottom, top), got {mid_layer_m!r}")
    mid0 = _mag(mid_layer_m[0], "m", "mid_layer_m", nonnegative=True)
    mid1 = _mag(mid_layer_m[1], "m", "mid_layer_m", positive=True)
    if not low_top <= mid0 < mid1:
        raise ValueError(f"mid_layer_m must lie above low_top_m ({low_top:g} m) with its bottom below its top, "
                         f"got {mid_layer_m!r}")
    if not float(weak_dbz) < float(core_dbz):
        raise ValueError(f"core_dbz ({core_dbz!r}) must be above weak_dbz ({weak_dbz!r}): the core borders the "
                         "weak echo")
    gap = _mag(max_core_gap_m, "m", "max_core_gap_m", nonnegative=True)
    amin = _mag(min_area_km2, "km^2", "min_area_km2", nonnegative=True)
    res = _mag(resolution_m, "m", "resolution_m", positive=True)
    values, heights, _ = column_stack(vol, "reflectivity", res, max_range_m)
    lat0, lon0, alt = site_location(vol)
    # each layer's strongest echo per column, one sweep at a time (no volume-sized temporaries)
    low_max = np.full(values.shape[1:], -np.inf, np.float32)
    mid_max = low_max.copy()
    low_seen = np.zeros(values.shape[1:], bool)
    mid_seen = low_seen.copy()
    for v, h in zip(values, heights):
        with np.errstate(invalid="ignore"):
            agl = h - alt
            low_k, mid_k = agl <= low_top, (agl >= mid0) & (agl <= mid1)  # False where no gate (NaN)
        echo = np.where(np.isfinite(v), v, -np.inf)
        low_max = np.where(low_k, np.maximum(low_max, echo), low_max)
        mid_max = np.where(mid_k, np.maximum(mid_max, echo), mid_max)
        low_seen |= low_k
        mid_seen |= mid_k
    sampled = low_seen & mid_seen
    weak = sampled & (low_max < float(weak_dbz)) & (mid_max >= float(strong_dbz))
    core = low_seen & (low_max >= float(core_dbz))
    g = grid_coords(vol, res, max_range_m)
    labels, n = ndimage.label(weak, structure=np.ones((3, 3), bool))
    out_labels = np.zeros(labels.shape, np.int32)
    cell_km2 = (res / 1000.0) ** 2
    shown = {"low_max": np.where(np.isfinite(low_max), low_max, np.nan),
             "mid_max": np.where(np.isfinite(mid_max), mid_max, np.nan)}
    result: dict[str, Any] = {"regions": [], "labels": out_labels, "lat": g["lat"], "lon": g["lon"],
                              "candidates": int(n), "sampled": sampled, **shown}
    if n == 0:
        return result
    to_core = ndimage.distance_transform_edt(~core) * res if core.any() else np.full(core.shape, np.inf)
    tr = aeqd_transformer(lat0, lon0)
    regions = []
    for k, sl in enumerate(ndimage.find_objects(labels), 1):
        sub = labels[sl] == k
        area = float(sub.sum()) * cell_km2
        # distance (m) between the edges of the region's nearest cell and a core cell
        core_gap = float(to_core[sl][sub].min()) - res
        if area < amin or core_gap > gap:
            continue
        iy, ix = np.nonzero(sub)
        low = low_max[sl][sub]
        regions.append({"area_km2": round(area, 1),
                        **_plane_place(tr, float(g["x"][sl[1]][ix].mean()), float(g["y"][sl[0]][iy].mean())),
                        "mid_max_dbz": round(float(mid_max[sl][sub].max()), 1),
                        "low_max_dbz": round(float(low.max()), 1) if np.isfinite(low).any() else None,
                        "core_gap_km": round(max(core_gap, 0.0) / 1000.0, 1), "_label": k})
    regions.sort(key=lambda r: (-r["area_km2"], -r["mid_max_dbz"]))
    for i, r in enumerate(regions, 1):
        out_labels[labels == r.pop("_label")] = i
        r["wer_id"] = i
    result["regions"] = regions
    return result


def hail_proxy(volume: xr.DataTree, freezing_level_m: float, *, large_hail_depth_m: float = 4000.0,
               resolution_m: float = 1000.0, max_range_m: float = 230000.0,
               mask: np.ndarray | None = None) -> dict[str, Any]:
    """Height of the highest 50 dBZ echo above the freezing level (Donavon and Jungbluth
    2007, Wea. Forecasting 22, 244-254).

    Parameters
    ----------
    volume
        The sweep tree.
    freezing_level_m
        Height of the 0 degC level above mean sea level (m).
    large_hail_depth_m
        50 dBZ height above the freezing level that points to large (>= 1 in) hail (m).
    resolution_m, max_range_m
        Grid of the 50 dBZ echo top (:func:`echo_top_grid`).
    mask
        Grid cells to search (shaped like the grid, e.g. those inside a search window);
        every cell when ``None``.

    Returns
    -------
    dict
        ``height_50dbz_m`` (MSL, NaN without 50 dBZ echo), ``above_freezing_m``,
        ``large_hail`` (bool), ``where`` (grid point of the top, or None).
    """
    fzl = _mag(freezing_level_m, "m", "freezing_level_m")
    depth = _mag(large_hail_depth_m, "m", "large_hail_depth_m", nonnegative=True)
    et = echo_top_grid(volume, 50.0, resolution_m, max_range_m)
    vals = et.values
    if mask is not None:
        vals = np.where(np.asarray(mask, bool), vals, np.nan)
    if not np.isfinite(vals).any():
        return {"height_50dbz_m": float("nan"), "above_freezing_m": float("nan"), "large_hail": False, "where": None}
    iy, ix = np.unravel_index(int(np.nanargmax(vals)), vals.shape)
    h50 = float(vals[iy, ix])
    return {"height_50dbz_m": h50, "above_freezing_m": h50 - fzl, "large_hail": bool(h50 - fzl >= depth),
            "where": grid_point(et, iy, ix)}


def debris_signature(volume: xr.DataTree, couplets: list[dict[str, Any]], *, max_correlation: float = 0.8,
                     min_reflectivity: float = 35.0, max_differential_reflectivity: float = 1.0,
                     radius_m: float = 3000.0, min_range_m: float = 10000.0, max_elevation: float = 1.5,
                     min_gates: int = 5) -> dict[str, Any]:
    """Tornado debris signature: low correlation coefficient in echo near a couplet.

    On the low PPIs (<= ``max_elevation``) holding ``cross_correlation_ratio``, beyond
    ``min_range_m``, gates with correlation below ``max_correlation``, reflectivity above
    ``min_reflectivity`` (dBZ) and |ZDR| at most ``max_differential_reflectivity`` (dB,
    where ZDR exists) within ``radius_m`` of a couplet are counted (Ryzhkov et al. 2005,
    J. Appl. Meteor. 44, 557-570; Schultz et al. 2012, Wea. Forecasting 27, 1078-1094).

    Parameters
    ----------
    volume
        The sweep tree, with dual-polarisation moments.
    couplets
        Couplets to test (dicts with ``lat`` and ``lon``, as :func:`rotation_couplet` gives).

    Returns
    -------
    dict
        ``candidates`` (low-correlation gates in echo on the low tilts), ``gates``
        (debris gates at the best couplet), ``lat``/``lon`` (their mean), ``min_correlation``,
        ``couplet`` (the best couplet or None), ``flag`` (``gates >= min_gates``).

    Raises
    ------
    hvrmet.errors.VariableMissing
        If no PPI holds cross_correlation_ratio.
    """
    vol = _tree(volume)
    rho_max = float(max_correlation)
    dbz_min = float(min_reflectivity)
    zdr_max = _mag(max_differential_reflectivity, "dB", "max_differential_reflectivity", nonnegative=True) \
        if not hasattr(max_differential_reflectivity, "to") else float(max_differential_reflectivity.magnitude)
    radius = _mag(radius_m, "m", "radius_m", positive=True)
    rmin = _mag(min_range_m, "m", "min_range_m", nonnegative=True)
    if int(min_gates) < 1:
        raise ValueError(f"min_gates must be at least 1; got {min_gates}")
    if not any(_has(vol[n].ds, "cross_correlation_ratio") for n in sweep_names(vol)):
        raise VariableMissing(_source(vol), "no sweep holds cross_correlation_ratio (no dual-polarisation moments)")
    lats, lons, rhos = [], [], []
    for n in sweeps_with(vol, "cross_correlation_ratio", dedupe=False, max_elevation=max_elevation):
        ds = vol[n].ds
        if "reflectivity" not in ds.data_vars:
            continue
        rho, dbz = ds["cross_correlation_ratio"].values, ds["reflectivity"].values
        with np.errstate(invalid="ignore"):
            cand = (rho < rho_max) & (dbz > dbz_min) & (ds["range"].values[None, :] >= rmin)
            if "differential_reflectivity" in ds.data_vars:
                cand &= np.abs(ds["differential_reflectivity"].values) <= zdr_max
        if not cand.any():
            continue
        j, g = np.nonzero(cand)
        la, lo, _ = _points(vol, ds["azimuth"].values[j], ds["elevation"].values[j], ds["range"].values[g])
        lats.append(la)
        lons.append(lo)
        rhos.append(rho[j, g].astype(np.float64))
    lat = np.concatenate(lats) if lats else np.zeros(0)
    lon = np.concatenate(lons) if lons else np.zeros(0)
    rho = np.concatenate(rhos) if rhos else np.zeros(0)
    best: dict[str, Any] = {"gates": 0, "couplet": None, "lat": None, "lon": None, "min_correlation": None}
    for c in couplets:
        dy = (lat - c["lat"]) * 111.2
        dx = (lon - c["lon"]) * 111.2 * math.cos(math.radians(c["lat"]))
        near = np.hypot(dx, dy) <= radius / 1000.0
        k = int(near.sum())
        if k > best["gates"] or best["couplet"] is None:
            best = {"gates": k, "couplet": c, "lat": float(lat[near].mean()) if k else None,
                    "lon": float(lon[near].mean()) if k else None,
                    "min_correlation": float(rho[near].min()) if k else None}
    best["candidates"] = int(lat.size)
    best["flag"] = bool(best["gates"] >= int(min_gates))
    return best


# --------------------------------------------------------------------------- velocity
def vad_fit(az_deg: np.ndarray, vr: np.ndarray, min_gates: int = 30) -> tuple[float, float, float, int]:
    """Least-squares VAD fit ``vr = a0 + a1 cos(az) + b1 sin(az)`` on one ring.

    Parameters
    ----------
    az_deg
        Ray azimuths (degree).
    vr
        Radial velocity on the ring (m/s, positive away from the radar).
    min_gates
        Fewer usable gates give no fit.

    Returns
    -------
    speed, direction, rms, n
        Horizontal wind speed (m/s), the direction it blows from (degree), the RMS
        residual (m/s) and the number of gates used (Browning and Wexler 1968).
    """
    az_deg, vr = np.asarray(az_deg, np.float64), np.asarray(vr, np.float64)
    if az_deg.shape != vr.shape:
        raise ValueError(f"az_deg and vr must have one shape; got {az_deg.shape} and {vr.shape}")
    ok = np.isfinite(az_deg) & np.isfinite(vr)
    if ok.sum() < max(int(min_gates), 3):
        return float("nan"), float("nan"), float("nan"), int(ok.sum())
    a = np.deg2rad(az_deg[ok])
    design = np.column_stack([np.ones(a.size), np.cos(a), np.sin(a)])
    coef, *_ = np.linalg.lstsq(design, vr[ok], rcond=None)
    # radial velocity (positive away): vr = u sin(az) + v cos(az) at low elevation
    v, u = coef[1], coef[2]
    speed = float(np.hypot(u, v))
    direction = float((np.rad2deg(np.arctan2(-u, -v))) % 360.0)
    rms = float(np.sqrt(np.mean((design @ coef - vr[ok]) ** 2)))
    return speed, direction, rms, int(ok.sum())


def radial_velocity_summary(volume: xr.DataTree, vad_range_m: float = 30000.0,
                            min_reflectivity: float = 5.0,
                            within: tuple[float, float, float] | None = None) -> dict[str, Any]:
    """Radial-velocity statistics of the lowest PPI with velocity, and a VAD wind.

    Parameters
    ----------
    volume
        The sweep tree.
    vad_range_m
        Slant range of the VAD ring (m).
    min_reflectivity
        Ring gates whose same-elevation reflectivity is weaker (dBZ), or unknown, are
        left out of the fit (when the volume has reflectivity at that elevation).
    within
        ``(lat, lon, radius_m)``: the statistics count only the gates in this circle
        (:func:`within_mask`); the VAD ring, a property of the air over the radar, is
        fitted on its whole circle.

    Returns
    -------
    dict
        ``sweep`` (node number), ``elevation`` (degree), ``max_outbound``, ``max_inbound``
        (m/s; NaN when no valid gate lies in the circle), ``fraction_over_20ms``,
        ``n_gates`` (valid gates counted), ``vad_speed``, ``vad_direction`` (degree, from),
        ``vad_rms`` (m/s), ``vad_gates``, ``vad_height_m`` (above the radar), ``nyquist``.
    """
    vol = _tree(volume)
    rr = _mag(vad_range_m, "m", "vad_range_m", positive=True)
    zmin = float(min_reflectivity)
    name = _require(vol, "radial_velocity", "the VAD")[0]
    ds = vol[name].ds
    v = ds["radial_velocity"].values
    valid = np.isfinite(v)
    counted = valid & within_mask(vol, ds, within)
    rng = ds["range"].values.astype(np.float64)
    gate = int(np.argmin(np.abs(rng - rr)))
    ring = v[:, gate].astype(np.float64).copy()
    az = ds["azimuth"].values.astype(np.float64)
    ref = _same_elevation(vol, name, "reflectivity")
    if ref is not None:
        rds = vol[ref].ds
        rg = int(np.argmin(np.abs(rds["range"].values - rng[gate])))
        zi = np.interp(az, rds["azimuth"].values.astype(np.float64),
                       rds["reflectivity"].values[:, rg].astype(np.float64), period=360.0)
        with np.errstate(invalid="ignore"):
            ring[~(zi >= zmin)] = np.nan
    speed, direction, rms, n = vad_fit(az, ring)
    el = fixed_angle(ds)
    height = float(rng[gate] * np.sin(np.deg2rad(el)) + rng[gate] ** 2 / (2 * KE_A))
    vin = v[counted]
    return {"sweep": sweep_index(name), "elevation": el,
            "max_outbound": float(vin.max()) if vin.size else float("nan"),
            "max_inbound": float(vin.min()) if vin.size else float("nan"),
            "fraction_over_20ms": float((np.abs(vin) > 20).mean()) if vin.size else float("nan"),
            "n_gates": int(vin.size),
            "vad_speed": speed, "vad_direction": direction, "vad_rms": rms, "vad_gates": n,
            "vad_height_m": height, "vad_range_m": float(rng[gate]), "nyquist": nyquist_velocity(ds)}


# --------------------------------------------------------------------------- polar composite
def polar_composite(volume: xr.DataTree, moment: str = "reflectivity", az_step: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column maximum of a moment on a polar grid of ground range.

    Each PPI's gates are put in the ``az_step``-degree azimuth bin and the range bin
    (spacing: the finest gate spacing of the volume) of their ground range
    ``r cos(elevation)``; the composite is the maximum over all sweeps in each bin (numpy
    ``fmax.at``, NaN where no sweep has an echo).

    Returns
    -------
    composite, bin_azimuth, bin_range
        Composite on ``(azimuth bin, range bin)``, bin-centre azimuths (degree) and ground
        ranges (m).
    """
    vol = _tree(volume)
    step = _mag(az_step, "degree", "az_step", positive=True)
    _require(vol, moment, "the composite")
    names = sweeps_with(vol, moment, dedupe=False)
    geo = []
    for n in names:
        r = vol[n].ds["range"].values.astype(np.float64)
        geo.append((float(np.median(np.diff(r))) if r.size > 1 else 1000.0, float(r[0]), float(r[-1])))
    dr = min(g[0] for g in geo)
    r0 = min(g[1] for g in geo)
    nr = int(np.ceil((max(g[2] for g in geo) - r0) / dr)) + 1
    nbin = int(round(360.0 / step))
    out = np.full((nbin, nr), np.nan, dtype=np.float32)
    for n in names:
        ds = vol[n].ds
        vals = ds[moment].values
        ia = (np.floor(ds["azimuth"].values.astype(np.float64) / step).astype(int)) % nbin
        ground = ds["range"].values[None, :] * np.cos(np.deg2rad(ds["elevation"].values.astype(np.float64)))[:, None]
        ir = np.clip(np.rint((ground - r0) / dr).astype(int), 0, nr - 1)
        good = np.isfinite(vals)
        np.fmax.at(out, (np.broadcast_to(ia[:, None], vals.shape)[good], ir[good]), vals[good])
    return out, (np.arange(nbin) + 0.5) * step, r0 + dr * np.arange(nr)
