"""Array work behind the radar tools: gridding a Level II volume, column products, couplets.

Everything here works on a decoded volume (:func:`hvrmet.data.readers.nexrad_level2.
read_nexrad_level2`): moments with dims ``(sweep, ray, range)`` (or ``range_vel``), rays
sorted by azimuth, gate ``lat``/``lon``/``z`` coordinates (``z``: beam-centre height above
mean sea level, 4/3-earth model).

Gridding (:func:`column_stack`, :func:`composite_reflectivity`) uses a regular grid in the
azimuthal-equidistant projection centred on the radar (x east, y north, metres). Two
numpy passes are combined:

* *binning*: every gate's value goes to the cell its ground position falls in
  (``np.maximum.at``), which keeps every gate's peak where several gates share a cell;
* *nearest gate*: every cell takes, on each sweep, the gate nearest its centre (range by
  the beam model, azimuth by table look-up), which leaves no holes at long range where
  rays are further apart than the grid spacing.

Results are memoised per process by the volume's sha256 and the parameters, so tools run
in a loop share one gridding.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["memo", "volume_key", "ground_range", "grid_coords", "column_stack", "sweeps_with", "despeckle",
           "composite_reflectivity", "echo_top_grid", "vil_grid", "greene_clark_vil",
           "max_gate", "rotation_couplet", "label_cells", "grid_point", "EARTH_RADIUS_M"]

EARTH_RADIUS_M = 6371008.8
KE_A = 4.0 / 3.0 * EARTH_RADIUS_M

_MEMO: OrderedDict[tuple, Any] = OrderedDict()
_MEMO_LOCK = threading.RLock()
_MEMO_SIZE = 24


def volume_key(ds: xr.Dataset) -> str:
    """The identity of a decoded volume: its file's sha256 (or the object id)."""
    return str(ds.attrs.get("sha256") or f"id{id(ds)}")


def memo(key: tuple, compute: Callable[[], Any]) -> Any:
    """Return the memoised result for ``key``, computing (and storing) it when absent."""
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    value = compute()
    with _MEMO_LOCK:
        _MEMO[key] = value
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return value


def ground_range(slant_m: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Ground distance (m) of a gate, 4/3 effective earth radius (Doviak and Zrnić 1993, 2.28c)."""
    el = np.deg2rad(elevation_deg)
    r = np.asarray(slant_m, dtype=np.float64)
    h = np.sqrt(r**2 + KE_A**2 + 2.0 * r * KE_A * np.sin(el)) - KE_A
    return KE_A * np.arcsin(r * np.cos(el) / (KE_A + h))


def _range_dim(da: xr.DataArray) -> str:
    return next(d for d in da.dims if d.startswith("range"))


def _suffix(dim: str) -> str:
    return dim[len("range"):]


def sweeps_with(ds: xr.Dataset, var: str, dedupe: bool = True,
                 max_elevation: float | None = None) -> list[int]:
    """Sweeps holding ``var``, lowest elevation first, one per elevation when ``dedupe``."""
    has = np.isfinite(ds[var].values).any(axis=(1, 2))
    fixed = ds["fixed_angle"].values
    out, seen = [], set()
    for i in np.argsort(fixed, kind="stable"):
        if not has[i] or (max_elevation is not None and fixed[i] > max_elevation + 0.05):
            continue
        key = round(float(fixed[i]), 1)
        if dedupe and key in seen:
            continue
        seen.add(key)
        out.append(int(i))
    return out


def grid_coords(ds: xr.Dataset, resolution_m: float, max_range_m: float) -> dict[str, np.ndarray]:
    """Cell centres ``x``/``y`` (m) and ``lat``/``lon`` of the radar-centred grid (memoised)."""
    lat0, lon0 = float(ds.attrs["site_latitude"]), float(ds.attrs["site_longitude"])

    def make() -> dict[str, np.ndarray]:
        from pyproj import Transformer

        n = int(np.floor(max_range_m / resolution_m))
        x = np.arange(-n, n + 1) * float(resolution_m)
        y = x[::-1].copy()  # north at the top
        xx, yy = np.meshgrid(x, y)
        tr = Transformer.from_crs(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=WGS84 +units=m",
                                  "EPSG:4326", always_xy=True)
        lon, lat = tr.transform(xx, yy)
        dist = np.hypot(xx, yy)
        az = np.rad2deg(np.arctan2(xx, yy)) % 360.0
        return {"x": x, "y": y, "lat": np.asarray(lat, np.float32), "lon": np.asarray(lon, np.float32),
                "dist": dist, "az": az, "inside": dist <= max_range_m}

    return memo(("grid", lat0, lon0, float(resolution_m), float(max_range_m)), make)


def _nearest_ray_table(az: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For 0.1-degree azimuth bins: the nearest valid ray and its angular distance (deg)."""
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


def _gather_plan(ds: xr.Dataset, var: str, resolution_m: float, max_range_m: float) -> dict[str, Any]:
    """For each sweep holding ``var`` (one per elevation, lowest first), the grid cells it
    covers and the (ray, gate) nearest each cell's centre (memoised)."""

    def make() -> dict[str, Any]:
        g = grid_coords(ds, resolution_m, max_range_m)
        dim = _range_dim(ds[var])
        rng = ds[dim].values.astype(np.float64)
        dr = float(rng[1] - rng[0])
        az_bin = np.minimum((g["az"] * 10.0).astype(np.int64), 3599)
        steps = []
        for i in sweeps_with(ds, var):
            s = ground_range(rng, float(ds["fixed_angle"].values[i]))
            gate = np.rint(np.interp(g["dist"], s, np.arange(len(rng)), left=-1, right=-1)).astype(np.int64)
            ok = g["inside"] & (gate >= 0) & (g["dist"] <= s[-1] + dr / 2)
            azv = ds["azimuth"].values[i]
            ray_tab, dist_tab = _nearest_ray_table(azv)
            spacing = float(np.nanmedian(np.diff(azv[np.isfinite(azv)])))
            ok &= dist_tab[az_bin] <= max(1.0, 1.5 * spacing)
            steps.append((i, ok, ray_tab[az_bin][ok], gate[ok]))
        return {"dim": dim, "shape": g["dist"].shape, "steps": steps}

    return memo(("plan", volume_key(ds), var, float(resolution_m), float(max_range_m)), make)


def _gather(plan: dict[str, Any], arr: np.ndarray) -> np.ndarray:
    """Values of a ``(sweep, ray, range)`` array at the plan's nearest gates: ``(n, ny, nx)``."""
    out = np.full((len(plan["steps"]),) + tuple(plan["shape"]), np.nan, np.float32)
    for k, (i, ok, ri, gi) in enumerate(plan["steps"]):
        out[k][ok] = arr[i, ri, gi]
    return out


def column_stack(ds: xr.Dataset, var: str, resolution_m: float, max_range_m: float
                 ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Nearest-gate values and beam heights of ``var`` on every sweep, on the grid.

    Returns
    -------
    values, heights, sweeps
        Arrays ``(n_sweeps, ny, nx)``: the moment's value and the gate's beam-centre height
        above MSL (m), NaN where the sweep has no gate; and the sweep indices used (one per
        elevation, lowest first).
    """

    def make():
        plan = _gather_plan(ds, var, resolution_m, max_range_m)
        zname = "z" + _suffix(plan["dim"])
        return (_gather(plan, ds[var].values), _gather(plan, ds[zname].values),
                [st[0] for st in plan["steps"]])

    return memo(("stack", volume_key(ds), var, float(resolution_m), float(max_range_m)), make)


def despeckle(mask: np.ndarray, min_neighbours: int = 2) -> np.ndarray:
    """Keep the True gates of a ``(sweep, ray, range)`` mask with at least
    ``min_neighbours`` True gates among their 8 (ray, gate) neighbours (rays wrap)."""
    from scipy.ndimage import convolve

    kernel = np.ones((1, 3, 3))
    kernel[0, 1, 1] = 0
    counts = convolve(mask.astype(np.int16), kernel.astype(np.int16), mode="wrap")
    # "wrap" also wraps along range: harmless, the first and last gates are far apart and rarely echo
    return mask & (counts >= min_neighbours)


def _binned_max(ds: xr.Dataset, values: np.ndarray, dim: str, resolution_m: float,
                max_range_m: float) -> np.ndarray:
    """Maximum of ``values`` (sweep, ray, range) over the gates whose ground position is in
    each cell (NaN where no gate falls)."""
    g = grid_coords(ds, resolution_m, max_range_m)
    ny, nx = g["dist"].shape
    n = nx // 2
    finite = np.isfinite(values)
    si, ri, gi = np.nonzero(finite)
    rng = ds[dim].values.astype(np.float64)[gi]
    el = ds["elevation"].values[si, ri].astype(np.float64)
    az = np.deg2rad(ds["azimuth"].values[si, ri].astype(np.float64))
    s = ground_range(rng, el)
    ix = np.rint(s * np.sin(az) / resolution_m).astype(np.int64) + n
    iy = n - np.rint(s * np.cos(az) / resolution_m).astype(np.int64)
    ok = (s <= max_range_m) & (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    out = np.full(ny * nx, -np.inf)
    np.maximum.at(out, iy[ok] * nx + ix[ok], values[si[ok], ri[ok], gi[ok]].astype(np.float64))
    out[~np.isfinite(out)] = np.nan
    return out.reshape(ny, nx)


def _grid_array(ds: xr.Dataset, field: np.ndarray, resolution_m: float, max_range_m: float,
                name: str, units: str, long_name: str) -> xr.DataArray:
    g = grid_coords(ds, resolution_m, max_range_m)
    field = np.where(g["inside"], field, np.nan).astype(np.float32)
    return xr.DataArray(
        field, dims=("y", "x"), name=name,
        coords={"y": ("y", g["y"], {"units": "m", "long_name": "northward distance from the radar"}),
                "x": ("x", g["x"], {"units": "m", "long_name": "eastward distance from the radar"}),
                "lat": (("y", "x"), g["lat"], {"units": "degree_north"}),
                "lon": (("y", "x"), g["lon"], {"units": "degree_east"})},
        attrs={"units": units, "long_name": long_name, "radar_site": ds.attrs.get("radar_site", ""),
               "site_latitude": ds.attrs["site_latitude"], "site_longitude": ds.attrs["site_longitude"],
               "grid_mapping": f"azimuthal equidistant centred on the radar, {resolution_m:g} m cells",
               "source_sha256": ds.attrs.get("sha256", "")})


def composite_reflectivity(ds: xr.Dataset, resolution_m: float = 1000.0,
                           max_range_m: float = 230000.0) -> xr.DataArray:
    """Column-maximum reflectivity (dBZ) on a radar-centred azimuthal-equidistant grid.

    Parameters
    ----------
    ds
        Decoded Level II volume with ``reflectivity``.
    resolution_m, max_range_m
        Grid spacing and radius (m).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` in dBZ with ``x``/``y`` (m from the radar) and ``lat``/``lon``; NaN
        outside the radius and where no sweep has echo.
    """

    def make() -> xr.DataArray:
        refl = ds["reflectivity"].values
        vals, _, _ = column_stack(ds, "reflectivity", resolution_m, max_range_m)
        with np.errstate(all="ignore"):
            near = np.nanmax(np.where(np.isfinite(vals), vals, -np.inf), axis=0)
        near[~np.isfinite(near)] = np.nan
        binned = _binned_max(ds, refl, _range_dim(ds["reflectivity"]), resolution_m, max_range_m)
        return _grid_array(ds, np.fmax(near, binned), resolution_m, max_range_m,
                           "composite_reflectivity", "dBZ", "column maximum reflectivity")

    return memo(("composite", volume_key(ds), float(resolution_m), float(max_range_m)), make)


def echo_top_grid(ds: xr.Dataset, threshold_dbz: float, resolution_m: float = 1000.0,
                  max_range_m: float = 230000.0) -> xr.DataArray:
    """Echo top: the highest beam-centre height (m MSL) with reflectivity >= ``threshold_dbz``
    in each grid column (gate-based, no interpolation between sweeps).

    Isolated gates (fewer than 2 of their 8 neighbours in the same sweep at or above the
    threshold) are left out as speckle (:func:`despeckle`).
    """

    def make() -> xr.DataArray:
        refl = ds["reflectivity"]
        z = ds["z" + _suffix(_range_dim(refl))].values
        with np.errstate(invalid="ignore"):
            keep = despeckle(np.nan_to_num(refl.values, nan=-999.0) >= threshold_dbz)
        ztop = np.where(keep, z, np.nan)
        hh = _gather(_gather_plan(ds, "reflectivity", resolution_m, max_range_m), ztop)
        near = np.where(np.isfinite(hh), hh, -np.inf).max(axis=0) if len(hh) else np.full(hh.shape[1:], -np.inf)
        near[~np.isfinite(near)] = np.nan
        binned = _binned_max(ds, ztop, _range_dim(refl), resolution_m, max_range_m)
        return _grid_array(ds, np.fmax(near, binned), resolution_m, max_range_m, "echo_top", "m",
                           f"highest beam-centre height with reflectivity >= {threshold_dbz:g} dBZ (MSL)")

    return memo(("echotop", volume_key(ds), float(threshold_dbz), float(resolution_m), float(max_range_m)), make)


def greene_clark_vil(dbz: np.ndarray, heights_m: np.ndarray, cap_dbz: float = 56.0) -> np.ndarray:
    """Vertically integrated liquid (kg m-2) of columns sampled at the levels of axis 0.

    Greene and Clark (1972, Mon. Wea. Rev. 100, 548-552):
    ``VIL = sum_i 3.44e-6 * ((Z_i + Z_i+1) / 2) ** (4/7) * dh_i``, with ``Z`` the linear
    reflectivity factor (mm6 m-3) and ``dh`` the layer depth (m). Reflectivity is capped at
    ``cap_dbz`` (56 dBZ, as in the WSR-88D VIL algorithm) to limit hail contamination;
    a level without echo counts as ``Z = 0``; layers whose bounding heights are unknown are
    left out.
    """
    d = np.minimum(np.where(np.isfinite(dbz), dbz, -np.inf), cap_dbz)
    zlin = np.where(np.isfinite(d), 10.0 ** (d / 10.0), 0.0)
    dh = np.diff(heights_m, axis=0)
    zm = 0.5 * (zlin[1:] + zlin[:-1])
    layer = 3.44e-6 * zm ** (4.0 / 7.0) * dh
    layer = np.where(np.isfinite(layer) & (dh > 0), layer, 0.0)
    return layer.sum(axis=0)


def vil_grid(ds: xr.Dataset, resolution_m: float = 1000.0, max_range_m: float = 230000.0) -> xr.DataArray:
    """VIL (kg m-2) of each grid column from the nearest-gate sweep stack (see :func:`greene_clark_vil`)."""

    def make() -> xr.DataArray:
        vals, hts, _ = column_stack(ds, "reflectivity", resolution_m, max_range_m)
        vil = greene_clark_vil(vals.astype(np.float64), hts.astype(np.float64))
        vil = np.where(np.isfinite(vals).any(axis=0), vil, np.nan)
        return _grid_array(ds, vil, resolution_m, max_range_m, "vil", "kg/m^2",
                           "vertically integrated liquid (Greene and Clark 1972)")

    return memo(("vil", volume_key(ds), float(resolution_m), float(max_range_m)), make)


def grid_point(da: xr.DataArray, iy: int, ix: int) -> dict[str, float]:
    """Latitude, longitude, range (km) and azimuth (deg) of one grid cell."""
    x, y = float(da["x"].values[ix]), float(da["y"].values[iy])
    return {"lat": float(da["lat"].values[iy, ix]), "lon": float(da["lon"].values[iy, ix]),
            "range_km": float(np.hypot(x, y) / 1000.0),
            "azimuth": float(np.rad2deg(np.arctan2(x, y)) % 360.0)}


def max_gate(ds: xr.Dataset, var: str = "reflectivity", min_range_m: float = 0.0) -> dict[str, float] | None:
    """The gate with the largest ``var`` beyond ``min_range_m`` slant range, or ``None``."""
    da = ds[var]
    dim = _range_dim(da)
    sfx = _suffix(dim)
    vals = np.where(ds[dim].values[None, None, :] >= min_range_m, da.values, np.nan)
    if not np.isfinite(vals).any():
        return None
    i, j, k = np.unravel_index(int(np.nanargmax(vals)), vals.shape)
    return {"value": float(vals[i, j, k]), "lat": float(ds["lat" + sfx].values[i, j, k]),
            "lon": float(ds["lon" + sfx].values[i, j, k]), "height_m": float(ds["z" + sfx].values[i, j, k]),
            "range_km": float(ds[dim].values[k]) / 1000.0, "azimuth": float(ds["azimuth"].values[i, j]),
            "elevation": float(ds["elevation"].values[i, j]), "sweep": int(i),
            "fixed_angle": float(ds["fixed_angle"].values[i])}


def _median3x3(v: np.ndarray) -> np.ndarray:
    """NaN-aware median of each gate's 3 x 3 (ray, gate) neighbourhood, rays wrapping
    round the sweep (speckle filter); gates that were NaN stay NaN."""
    from numpy.lib.stride_tricks import sliding_window_view

    pad = np.concatenate([v[-1:], v, v[:1]], axis=0)
    pad = np.pad(pad, ((0, 0), (1, 1)), constant_values=np.nan)
    keep = np.isfinite(v)
    win = np.sort(sliding_window_view(pad, (3, 3)).reshape(v.shape + (9,))[keep], axis=-1)  # NaN last
    n = np.isfinite(win).sum(axis=-1)
    rows = np.arange(len(win))
    med = np.full(v.shape, np.nan)
    med[keep] = 0.5 * (win[rows, (n - 1) // 2] + win[rows, n // 2])
    return np.where(np.isfinite(v), med, np.nan)


def _echo_mask(ds: xr.Dataset, sweep: int, az: np.ndarray, r: np.ndarray, min_dbz: float) -> np.ndarray:
    """Whether the reflectivity nearest each velocity gate (rays ``az``, slant ranges ``r``)
    of ``sweep`` reaches ``min_dbz``; all True when the volume has no reflectivity there."""
    refl = ds["reflectivity"]
    fixed = ds["fixed_angle"].values
    has = np.isfinite(refl.values).any(axis=(1, 2))
    same = [j for j in range(len(fixed)) if has[j] and abs(fixed[j] - fixed[sweep]) < 0.3]
    if not same:
        return np.ones((len(az), len(r)), bool)
    j = sweep if sweep in same else same[0]
    rr = ds[_range_dim(refl)].values.astype(np.float64)
    gate = np.clip(np.rint((r - rr[0]) / (rr[1] - rr[0])).astype(np.int64), 0, len(rr) - 1)
    ray_tab, _ = _nearest_ray_table(ds["azimuth"].values[j])
    ray = ray_tab[np.minimum((az % 360.0 * 10.0).astype(np.int64), 3599)]
    with np.errstate(invalid="ignore"):
        return refl.values[j][ray][:, gate] >= min_dbz


def rotation_couplet(ds: xr.Dataset, *, max_elevation: float = 1.5, max_diameter_m: float = 5000.0,
                     min_range_m: float = 5000.0, max_range_m: float = 150000.0,
                     max_spectrum_width: float = 12.0, nyquist_fraction: float = 0.98,
                     alias_fraction: float = 0.8, radial_window_m: float = 1000.0,
                     min_reflectivity: float = 30.0, separation_m: float = 10000.0,
                     n_couplets: int = 10) -> dict[str, Any]:
    """Cyclonic velocity couplets on the low sweeps (no dealiasing), strongest first.

    On each sweep with ``radial_velocity`` at or below ``max_elevation`` degrees, gates are
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
    cut) must reach ``min_reflectivity`` dBZ. A pair whose two velocities both exceed ``alias_fraction`` of the Nyquist
    velocity in magnitude is skipped: without dealiasing it cannot be told from a folding
    boundary (the count of such pairs is returned).

    Returns
    -------
    dict
        ``couplets``: up to ``n_couplets`` dicts at least ``separation_m`` apart, strongest
        first, each with ``vrot`` (m/s), ``shear`` (1/s), ``diameter_m``, ``v_in``,
        ``v_out``, ``lat``, ``lon``, ``range_km``, ``azimuth``, ``height_m`` (MSL),
        ``elevation``, ``sweep``; ``gate_to_gate_shear`` (largest adjacent-ray shear, 1/s),
        ``sweeps`` (used), ``masked_fraction`` (share of velocity gates masked),
        ``alias_pairs`` (gates where a stronger pair was skipped as possibly folded), ``nyquist``
        (m/s, per sweep used).
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    def make() -> dict[str, Any]:
        vel = ds["radial_velocity"]
        dim = _range_dim(vel)
        sfx = _suffix(dim)
        rng = ds[dim].values.astype(np.float64)
        dr = float(rng[1] - rng[0])
        win = max(1, int(round(radial_window_m / 2 / dr))) * 2 + 1
        gsel = np.flatnonzero((rng >= min_range_m) & (rng <= max_range_m))
        r = rng[gsel]
        sweeps = sweeps_with(ds, "radial_velocity", dedupe=False, max_elevation=max_elevation)
        cands: list[dict[str, Any]] = []
        g2g, n_all, n_masked, n_alias, nyqs = 0.0, 0, 0, 0, []
        for i in sweeps:
            rays = np.flatnonzero(np.isfinite(ds["azimuth"].values[i]))
            az = ds["azimuth"].values[i][rays].astype(np.float64)
            v = vel.values[i][rays][:, gsel].astype(np.float64)
            finite = np.isfinite(v)
            mask = np.zeros_like(finite)
            nyq = float(ds["nyquist_velocity"].values[i]) if "nyquist_velocity" in ds.coords else np.nan
            nyqs.append(nyq)
            with np.errstate(invalid="ignore"):
                if np.isfinite(nyq):
                    mask |= np.abs(v) >= nyquist_fraction * nyq
                if "spectrum_width" in ds:
                    mask |= ds["spectrum_width"].values[i][rays][:, gsel] > max_spectrum_width
            mask &= finite
            n_all += int(finite.sum())
            n_masked += int(mask.sum())
            v = _median3x3(np.where(mask, np.nan, v))
            vmax = maximum_filter1d(np.where(np.isfinite(v), v, -np.inf), win, axis=1)
            vmin = minimum_filter1d(np.where(np.isfinite(v), v, np.inf), win, axis=1)
            nray = len(az)
            step = float(np.nanmedian(np.diff(az)))
            echo = _echo_mask(ds, i, az, r, min_reflectivity)
            kmax = int(min(nray // 4, np.ceil(max_diameter_m / (min_range_m * np.deg2rad(step)))))
            best = np.full(v.shape, -np.inf)
            best_k = np.zeros(v.shape, np.int64)
            best_d = np.ones(v.shape)
            alias_any = np.zeros(v.shape, bool)
            for k in range(1, max(kmax, 1) + 1):
                j2 = (np.arange(nray) + k) % nray
                ng = int(np.searchsorted(r, max_diameter_m / np.deg2rad(max(k * step, 1e-3)) * 1.5))
                if ng == 0:
                    break
                dist = np.deg2rad((az[j2] - az) % 360.0)[:, None] * r[None, :ng]
                near = dist <= max_diameter_m
                vo, vi = vmax[j2, :ng], vmin[:, :ng]
                with np.errstate(invalid="ignore"):
                    dv = np.where(near & np.isfinite(vo - vi), vo - vi, -np.inf)
                    if np.isfinite(nyq):
                        folded = (np.abs(vo) >= alias_fraction * nyq) & (np.abs(vi) >= alias_fraction * nyq)
                        alias_any[:, :ng] |= folded & (dv > best[:, :ng])
                        dv = np.where(folded, -np.inf, dv)
                    dv = np.where(echo[:, :ng] & echo[j2, :ng], dv, -np.inf)
                if k == 1:
                    with np.errstate(invalid="ignore"):
                        adj = (v[j2] - v) / np.maximum(dist, 1.0)
                    if np.isfinite(adj).any():
                        g2g = max(g2g, float(np.nanmax(adj)))
                upd = dv > best[:, :ng]
                best[:, :ng] = np.where(upd, dv, best[:, :ng])
                best_k[:, :ng] = np.where(upd, k, best_k[:, :ng])
                best_d[:, :ng] = np.where(upd, dist, best_d[:, :ng])
            n_alias += int(alias_any.sum())
            flat = np.flatnonzero(np.isfinite(best) & (best > 0))
            top = flat[np.argsort(best.ravel()[flat])[::-1][:2000]]
            lat_i, lon_i, z_i = (ds[c + sfx].values[i] for c in ("lat", "lon", "z"))
            az_i, el_i = ds["azimuth"].values[i], float(ds["fixed_angle"].values[i])
            for f in top:
                jj, gg = np.unravel_index(int(f), best.shape)
                k = int(best_k[jj, gg])
                mid = int(rays[(jj + k // 2) % nray])
                gi = int(gsel[gg])
                cands.append({"vrot": float(best[jj, gg] / 2.0), "shear": float(best[jj, gg] / best_d[jj, gg]),
                              "diameter_m": float(best_d[jj, gg]), "v_out": float(vmax[(jj + k) % nray, gg]),
                              "v_in": float(vmin[jj, gg]), "sweep": int(i),
                              "elevation": el_i,
                              "lat": float(lat_i[mid, gi]), "lon": float(lon_i[mid, gi]),
                              "height_m": float(z_i[mid, gi]),
                              "range_km": float(rng[gi]) / 1000.0,
                              "azimuth": float(az_i[mid])})
        cands.sort(key=lambda c: -c["vrot"])
        chosen: list[dict[str, Any]] = []
        for c in cands:
            a = np.deg2rad(c["azimuth"])
            x, y = c["range_km"] * np.sin(a), c["range_km"] * np.cos(a)
            if all(np.hypot(x - o["_x"], y - o["_y"]) * 1000.0 >= separation_m for o in chosen):
                chosen.append({**c, "_x": x, "_y": y})
                if len(chosen) >= n_couplets:
                    break
        for c in chosen:
            c.pop("_x"), c.pop("_y")
        return {"couplets": chosen, "gate_to_gate_shear": g2g, "sweeps": sweeps,
                "masked_fraction": n_masked / n_all if n_all else float("nan"),
                "alias_pairs": n_alias, "nyquist": nyqs}

    key = ("rotation", volume_key(ds), max_elevation, max_diameter_m, min_range_m, max_range_m,
           max_spectrum_width, nyquist_fraction, alias_fraction, radial_window_m, min_reflectivity,
           separation_m, n_couplets)
    return memo(key, make)


def label_cells(comp: xr.DataArray, threshold_dbz: float, min_area_km2: float = 0.0) -> list[dict[str, Any]]:
    """Storm cells: 8-connected regions of ``comp >= threshold_dbz`` (scipy.ndimage.label).

    Returns one dict per cell (largest maximum first): ``area_km2``, centroid
    ``lat``/``lon``, ``max_dbz`` and the maximum's ``max_lat``/``max_lon``, ``range_km``,
    ``azimuth`` (of the centroid).
    """
    from scipy import ndimage

    field = comp.values
    with np.errstate(invalid="ignore"):
        mask = np.nan_to_num(field, nan=-np.inf) >= threshold_dbz
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
    from pyproj import Transformer

    tr = Transformer.from_crs(f"+proj=aeqd +lat_0={comp.attrs['site_latitude']} "
                              f"+lon_0={comp.attrs['site_longitude']} +ellps=WGS84 +units=m",
                              "EPSG:4326", always_xy=True)
    xc = np.interp(cx, np.arange(len(x)), x)
    yc = np.interp(cy, np.arange(len(y)), y)
    lonc, latc = tr.transform(xc, yc)
    cells = []
    for k in range(n):
        area = float(counts[k] * cell_area)
        if area < min_area_km2:
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
