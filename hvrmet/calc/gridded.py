"""Diagnostics of gridded isobaric analyses, as pure functions on xarray objects.

Fields come in as DataArrays normalised by the field resolver
(:func:`hvrmet.data.fields.fields_of`): pressure levels on a ``pressure`` dimension in hPa,
a ``time`` dimension, longitudes in -180..180, a ``units`` attribute and a MetPy CRS.
The functions select a level and a time, compute with ``metpy.calc`` (grid spacing and map
factors from the grid's CRS, see :func:`grid_calc`), integrate over pressure and locate
extremes; they return DataArrays with units (pint-backed) or plain numbers, never touch
files, and raise :class:`TypeError`/:class:`ValueError` naming the bad argument, or
:class:`~hvrmet.errors.VariableMissing` when a level or a time asked for is not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.errors import VariableMissing

__all__ = ["POLE_LAT", "wrap_lon", "lat_lon_2d", "Box", "extremum", "grid_calc", "level_values", "time_dim",
           "select_time", "valid_time", "at_level", "common_levels", "pressure_array", "pressure_integral",
           "vorticity", "divergence", "advection", "moisture", "frontogenesis", "qvector_convergence",
           "moisture_flux_convergence", "column_moisture_flux_convergence", "precipitable_water",
           "weighted_mean", "climatology_month", "climatology_level", "to_grid", "wind_speed"]

#: Extremes of derivative fields poleward of this latitude (degrees) are ignored: the grid
#: spacing in longitude vanishes at the poles.
POLE_LAT = 88.0


# ------------------------------------------------------------------------------------ checks
def _da(name: str, x, ndim: int | tuple[int, ...] | None = None) -> xr.DataArray:
    if not isinstance(x, xr.DataArray):
        raise TypeError(f"{name} must be an xarray.DataArray, got {type(x).__name__}")
    if ndim is not None:
        ok = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in ok:
            raise ValueError(f"{name} must have {' or '.join(map(str, ok))} dimensions, got {x.ndim} {x.dims}")
    return x


def _same_grid(**arrays: xr.DataArray) -> None:
    names = list(arrays)
    ref = arrays[names[0]]
    for n in names[1:]:
        a = arrays[n]
        if dict(a.sizes) != dict(ref.sizes):
            raise ValueError(f"{n} must be on the grid of {names[0]}: {n} has {dict(a.sizes)}, "
                             f"{names[0]} has {dict(ref.sizes)}")


def _pressure_q(name: str, p):
    """``p`` as a pint quantity of pressure (a number is taken as hPa)."""
    from metpy.units import units

    if isinstance(p, (int, float, np.floating, np.integer)):
        return float(p) * units.hPa
    if not hasattr(p, "units") or p.units.dimensionality != units.Pa.dimensionality:
        raise TypeError(f"{name} must be a pressure (a pint quantity, or a number in hPa), got {p!r}")
    return p


# ---------------------------------------------------------------------------------- geometry
def wrap_lon(lon: np.ndarray | float) -> np.ndarray | float:
    """Longitudes in -180..180 degree_east."""
    return (np.asarray(lon) + 180.0) % 360.0 - 180.0


def lat_lon_2d(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """2-D latitude and longitude (-180..180) of a field.

    Parameters
    ----------
    da : xarray.DataArray
        A field whose latitude and longitude MetPy can identify.

    Returns
    -------
    tuple of numpy.ndarray
        Latitude and longitude (degrees), each shaped like the field's horizontal grid.
    """
    _da("da", da)
    lat = np.asarray(da.metpy.latitude.values, dtype=float)
    lon = np.asarray(da.metpy.longitude.values, dtype=float)
    if lat.ndim == 1:
        lon, lat = np.meshgrid(lon, lat)
    return lat, wrap_lon(lon)


@dataclass(frozen=True)
class Box:
    """A lat/lon search box (``None`` sides are open); lon_min > lon_max crosses 180."""

    lat_min: float | None = None
    lat_max: float | None = None
    lon_min: float | None = None
    lon_max: float | None = None

    def mask(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """True where a point lies inside the box."""
        m = np.ones(np.shape(lat), bool)
        if self.lat_min is not None:
            m &= lat >= self.lat_min
        if self.lat_max is not None:
            m &= lat <= self.lat_max
        lo = None if self.lon_min is None else float(wrap_lon(self.lon_min))
        hi = None if self.lon_max is None else float(wrap_lon(self.lon_max))
        if lo is not None and hi is not None and lo > hi:
            m &= (lon >= lo) | (lon <= hi)
        else:
            if lo is not None:
                m &= lon >= lo
            if hi is not None:
                m &= lon <= hi
        return m

    def describe(self) -> str:
        """Text for a summary ('' when the box is open)."""
        if all(x is None for x in (self.lat_min, self.lat_max, self.lon_min, self.lon_max)):
            return ""
        return f" within lat {self.lat_min}..{self.lat_max}, lon {self.lon_min}..{self.lon_max}"


def extremum(da: xr.DataArray, how: str, *, box: Box | None = None, units_out: str | None = None,
             max_abs_lat: float = 90.0, skip_border: bool = False
             ) -> tuple[float | None, float | None, float | None, bool]:
    """The maximum or minimum of a 2-D field, with its latitude and longitude.

    Parameters
    ----------
    da : xarray.DataArray
        A 2-D field with units (quantified or a ``units`` attribute).
    how : {'max', 'min'}
        Which extreme.
    box : Box, optional
        Where to search.
    units_out : str, optional
        Units of the value returned (the field's own when ``None``).
    max_abs_lat : float
        Points poleward of this latitude (degrees) are ignored.
    skip_border : bool
        Ignore the outer ring of grid points (derivatives there are one-sided
        differences); a grid that wraps around in longitude keeps its east and west columns.

    Returns
    -------
    tuple
        (value, lat, lon, on_edge): ``on_edge`` says the extreme lies on the border of
        the grid or box (it may then not be a closed centre); all ``None`` when no point is
        left. NaN and infinite values are ignored.
    """
    _da("da", da, 2)
    if how not in ("max", "min"):
        raise ValueError(f"how must be 'max' or 'min', got {how!r}")
    q = da.metpy.convert_units(units_out) if units_out else da
    vals = np.asarray(q.metpy.unit_array.m, dtype=float)
    lat, lon = lat_lon_2d(da)
    ok = np.isfinite(vals) & (np.abs(lat) <= max_abs_lat)
    wraps = lon.shape[1] > 2 and np.isclose((lon[0, -1] - lon[0, 0]) % 360 + abs(lon[0, 1] - lon[0, 0]), 360)
    if skip_border:
        ok[[0, -1], :] = False
        if not wraps:
            ok[:, [0, -1]] = False
    if box is not None:
        ok &= box.mask(lat, lon)
    if not ok.any():
        return None, None, None, False
    work = np.where(ok, vals, np.inf if how == "min" else -np.inf)
    i = np.unravel_index(int(np.argmin(work) if how == "min" else np.argmax(work)), vals.shape)
    padded = np.pad(ok, 1, constant_values=False)
    r, c = i[0] + 1, i[1] + 1
    on_edge = not padded[r - 1:r + 2, c - 1:c + 2].all()
    if wraps and box is None and i[0] not in (0, vals.shape[0] - 1):
        on_edge = False  # a global grid wraps around in longitude
    return float(vals[i]), float(lat[i]), float(lon[i]), on_edge


def weighted_mean(da: xr.DataArray, box: Box | None = None) -> float | None:
    """The cos(latitude)-weighted mean of a 2-D field inside ``box`` (``None`` when empty).

    Parameters
    ----------
    da : xarray.DataArray
        A 2-D field (plain values in its own units).
    box : Box, optional
        Where to average.
    """
    _da("da", da, 2)
    lat, lon = lat_lon_2d(da)
    vals = np.asarray(da.metpy.dequantify().values if hasattr(da.data, "units") else da.values, float)
    m = (box or Box()).mask(lat, lon) & np.isfinite(vals)
    if not m.any():
        return None
    w = np.cos(np.deg2rad(lat))[m]
    return float(np.sum(vals[m] * w) / np.sum(w))


@lru_cache(maxsize=32)
def _pyproj_crs(items: tuple):
    from pyproj import CRS

    return CRS.from_cf(dict(items))


def grid_calc(func, *arrays: xr.DataArray, **kwargs):
    """Call a grid function of ``metpy.calc`` on DataArrays on one lat/lon grid.

    Equivalent to calling ``func`` on the DataArrays themselves (MetPy then takes the grid
    spacing and map factors from the CRS that ``parse_cf`` attached), but builds the
    pyproj CRS once per grid instead of once per use (~0.5 s each), by passing the
    arrays with 1-D ``latitude``/``longitude`` and ``crs``. Grids with 2-D
    latitude/longitude fall back to the plain xarray call.

    Returns
    -------
    xarray.DataArray or tuple of them
        Shaped and labelled like the first array, quantified (pint-backed).
    """
    from metpy.units import units

    if not callable(func):
        raise TypeError(f"func must be a metpy.calc function, got {type(func).__name__}")
    proto = _da("arrays[0]", arrays[0])
    ydim, xdim = proto.metpy.y.name, proto.metpy.x.name
    lat, lon = proto.metpy.latitude, proto.metpy.longitude
    if lat.ndim != 1 or lon.ndim != 1:
        return func(*arrays, **kwargs)
    proto = proto.transpose(..., ydim, xdim)
    crs = _pyproj_crs(tuple(sorted(proto.metpy.crs.to_dict().items())))
    plain = [a.transpose(..., ydim, xdim).metpy.unit_array if isinstance(a, xr.DataArray) else a
             for a in arrays]
    res = func(*plain, latitude=lat.values * units.degree, longitude=lon.values * units.degree,
               crs=crs, **kwargs)

    def wrap(r):
        return proto.metpy.dequantify().copy(data=np.asarray(r.m)).assign_attrs(
            units=str(r.units)).metpy.quantify()

    return tuple(wrap(r) for r in res) if isinstance(res, tuple) else wrap(res)


# ------------------------------------------------------------------------- levels and times
def level_values(da: xr.DataArray) -> list[float]:
    """The pressure levels of a normalised field in hPa (``[]`` without a ``pressure`` axis)."""
    _da("da", da)
    if "pressure" not in da.dims:
        return []
    from metpy.units import units

    c = da["pressure"]
    return [float(x) for x in (np.asarray(c.values, float) * units(c.attrs.get("units", "hPa"))).to("hPa").m]


def time_dim(da: xr.DataArray) -> str | None:
    """The dimension of ``da`` holding datetimes, or ``None``."""
    _da("da", da)
    for d in da.dims:
        if d in da.coords and np.issubdtype(da[d].dtype, np.datetime64):
            return str(d)
    return None


def select_time(da: xr.DataArray, when: str | None, *, path: str | None = None
                ) -> tuple[xr.DataArray, list[str]]:
    """``da`` at the valid time ``when`` (ISO 8601, UTC; the first time when ``None``).

    Raises
    ------
    hvrmet.errors.VariableMissing
        When no time lies within 30 minutes of ``when``; the message lists the times.
    """
    _da("da", da)
    dim = time_dim(da)
    notes: list[str] = []
    if dim is None:
        return da, notes
    times = pd.DatetimeIndex(da[dim].values)
    if when is None:
        if len(times) > 1:
            notes.append(f"{len(times)} times in the analysis; used the first, {times[0]:%Y-%m-%d %H:%M} UTC "
                         "(pass 'time' to choose)")
        return da.isel({dim: 0}), notes
    try:
        t = pd.Timestamp(when)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"when must be an ISO 8601 time, got {when!r}") from exc
    t = t.tz_localize(None) if t.tzinfo is None else t.tz_convert("UTC").tz_localize(None)
    gap = np.abs((times - t).total_seconds())
    i = int(np.argmin(gap))
    if gap[i] > 1800:
        raise VariableMissing(path, f"no analysis time within 30 min of {t:%Y-%m-%d %H:%M}; times: "
                                    + ", ".join(f"{x:%Y-%m-%d %H:%M}" for x in times))
    return da.isel({dim: i}), notes


def valid_time(da: xr.DataArray) -> str:
    """The valid time of a 2-D field as ISO text ('' when it has none)."""
    _da("da", da)
    for _, c in da.coords.items():
        if c.ndim == 0 and np.issubdtype(c.dtype, np.datetime64):
            return pd.Timestamp(c.values).strftime("%Y-%m-%dT%H:%MZ")
    return ""


def at_level(da: xr.DataArray, level: float | None, when: str | None = None, *, units_out: str | None = None,
             path: str | None = None) -> tuple[xr.DataArray, list[str]]:
    """A 2-D field at ``level`` hPa (``None``: a single-level field) and time ``when``.

    Parameters
    ----------
    da : xarray.DataArray
        A normalised field (see the module docstring).
    level : float or None
        Isobaric level (hPa); levels are never interpolated.
    when : str, optional
        Valid time (ISO 8601); the first time when ``None``.
    units_out : str, optional
        Units to convert to.
    path : str, optional
        The file, for error messages.

    Returns
    -------
    tuple
        The quantified 2-D DataArray (with its CRS) and notes.

    Raises
    ------
    hvrmet.errors.VariableMissing
        When the level or the time is absent; the message lists what there is.
    """
    _da("da", da)
    if level is not None and not (isinstance(level, (int, float, np.floating, np.integer)) and level > 0):
        raise ValueError(f"level must be a positive pressure in hPa or None, got {level!r}")
    name = da.attrs.get("hvrmet_source") or da.name
    da, notes = select_time(da, when, path=path)
    if level is not None:
        if "pressure" not in da.dims:
            raise VariableMissing(path, f"{name} has no pressure levels")
        levs = np.array(level_values(da))
        i = int(np.argmin(np.abs(levs - level)))
        if abs(levs[i] - level) > 0.5:
            raise VariableMissing(path, f"{name} has no {level:g} hPa level; levels (hPa): "
                                        + ", ".join(f"{x:g}" for x in sorted(levs, reverse=True)))
        da = da.isel(pressure=i)
    da = da.squeeze(drop=False)
    if da.ndim != 2:
        raise VariableMissing(path, f"{name} is not a 2-D lat/lon field after selecting level and time "
                                    f"(dims {da.dims})")
    q = da.metpy.quantify()
    if units_out:
        q = q.metpy.convert_units(units_out)
    return q, notes


def common_levels(fields: dict[str, xr.DataArray], bottom: float, top: float, when: str | None = None, *,
                  path: str | None = None) -> tuple[dict[str, xr.DataArray], list[str]]:
    """3-D fields on their common pressure levels within [top, bottom] hPa, at one time.

    Parameters
    ----------
    fields : dict of str to xarray.DataArray
        Normalised fields on pressure levels.
    bottom, top : float
        The layer (hPa), bottom > top.
    when : str, optional
        Valid time (the first when ``None``).

    Returns
    -------
    tuple
        The fields (quantified), each on the levels chosen (descending, on the
        ``pressure`` coordinate of the first field), and notes.

    Raises
    ------
    hvrmet.errors.VariableMissing
        When fewer than two common levels lie in the layer.
    """
    if not isinstance(fields, dict) or not fields:
        raise TypeError("fields must be a non-empty dict of DataArrays")
    if not bottom > top:
        raise ValueError(f"bottom must exceed top (hPa), got bottom={bottom}, top={top}")
    sel, levs, notes = {}, None, []
    for k, da in fields.items():
        _da(f"fields[{k!r}]", da)
        if "pressure" not in da.dims:
            raise ValueError(f"fields[{k!r}] has no pressure dimension")
        da, n = select_time(da, when, path=path)
        notes += [x for x in n if x not in notes]
        sel[k] = da
        lv = {round(x, 3) for x in level_values(da)}
        levs = lv if levs is None else levs & lv
    chosen = sorted((x for x in levs if top - 0.01 <= x <= bottom + 0.01), reverse=True)
    if len(chosen) < 2:
        raise VariableMissing(path, f"fewer than two common pressure levels of {', '.join(fields)} between "
                                    f"{bottom:g} and {top:g} hPa (common levels: {sorted(levs or [], reverse=True)})")
    out, ref = {}, None
    for k, da in sel.items():
        lv = np.round(level_values(da), 3)
        sub = da.isel(pressure=[int(np.flatnonzero(lv == x)[0]) for x in chosen])
        if ref is None:
            ref = sub["pressure"]
        out[k] = sub.assign_coords(pressure=ref).squeeze(drop=False).metpy.quantify()
    return out, notes


def pressure_array(da: xr.DataArray) -> xr.DataArray:
    """The ``pressure`` coordinate of ``da`` as a quantified 1-D DataArray (broadcasts by name)."""
    from metpy.units import units

    _da("da", da)
    if "pressure" not in da.dims:
        raise ValueError("da has no pressure dimension")
    c = da["pressure"]
    return xr.DataArray(units.Quantity(np.asarray(c.values, float), c.attrs.get("units", "hPa")), dims=["pressure"],
                        coords={"pressure": c})


def pressure_integral(values: np.ndarray, p_hpa: np.ndarray, axis: int, ground_hpa: np.ndarray | None = None
                      ) -> np.ndarray:
    """Trapezoid integral over pressure of ``values`` (per Pa), in values x Pa.

    Parameters
    ----------
    values : numpy.ndarray
        The integrand on pressure levels along ``axis``.
    p_hpa : numpy.ndarray
        The levels (hPa), descending (bottom first).
    axis : int
        The pressure axis of ``values``.
    ground_hpa : numpy.ndarray, optional
        Pressure of the ground (hPa) on the horizontal grid: a layer with a level of
        higher pressure (below the ground) is left out.

    Returns
    -------
    numpy.ndarray
        The integral on the horizontal grid, integrating upwards (dp > 0 going up).
    """
    f = np.moveaxis(np.asarray(values, float), axis, 0)
    p = np.asarray(p_hpa, float)
    if p.ndim != 1 or p.size != f.shape[0]:
        raise ValueError(f"p_hpa must be 1-D with one value per level ({f.shape[0]}), got shape {p.shape}")
    if p.size < 2 or not (np.diff(p) < 0).all():
        raise ValueError("p_hpa must hold two or more levels in descending order (bottom first)")
    valid = np.ones(f.shape, bool)
    if ground_hpa is not None:
        g = np.asarray(ground_hpa, float)
        if g.shape != f.shape[1:]:
            raise ValueError(f"ground_hpa must be shaped like the grid {f.shape[1:]}, got {g.shape}")
        valid = p.reshape((-1,) + (1,) * g.ndim) <= g[None]
    dp = -np.diff(p * 100.0).reshape((-1,) + (1,) * (f.ndim - 1))  # Pa, positive going up
    both = valid[:-1] & valid[1:]
    return np.sum(0.5 * (f[:-1] + f[1:]) * dp * both, axis=0)


# ----------------------------------------------------------------------------------- physics
def wind_speed(u: xr.DataArray, v: xr.DataArray) -> xr.DataArray:
    """Wind speed of u and v (``metpy.calc.wind_speed``)."""
    import metpy.calc as mpcalc

    _same_grid(u=_da("u", u), v=_da("v", v))
    return mpcalc.wind_speed(u, v)


def vorticity(u: xr.DataArray, v: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Relative and absolute vorticity of a 2-D wind field.

    Parameters
    ----------
    u, v : xarray.DataArray
        Wind components (quantified) on one lat/lon grid with a CRS.

    Returns
    -------
    tuple of xarray.DataArray
        Relative vorticity (``metpy.calc.vorticity``) and absolute vorticity (plus
        ``metpy.calc.coriolis_parameter``, as ``metpy.calc.absolute_vorticity``), 1/s.
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    _same_grid(u=_da("u", u, 2), v=_da("v", v, 2))
    rel = grid_calc(mpcalc.vorticity, u, v)
    lat2d, _ = lat_lon_2d(rel)
    return rel, rel + mpcalc.coriolis_parameter(units.Quantity(lat2d, "degree"))


def divergence(u: xr.DataArray, v: xr.DataArray) -> xr.DataArray:
    """Horizontal divergence of a 2-D wind field (``metpy.calc.divergence``), 1/s."""
    import metpy.calc as mpcalc

    _same_grid(u=_da("u", u, 2), v=_da("v", v, 2))
    return grid_calc(mpcalc.divergence, u, v)


def advection(scalar: xr.DataArray, u: xr.DataArray, v: xr.DataArray) -> xr.DataArray:
    """Horizontal advection -V . grad(scalar) (``metpy.calc.advection``)."""
    import metpy.calc as mpcalc

    _same_grid(scalar=_da("scalar", scalar, 2), u=_da("u", u, 2), v=_da("v", v, 2))
    return grid_calc(mpcalc.advection, scalar, u, v)


def moisture(pressure, temperature: xr.DataArray | None = None, relative_humidity: xr.DataArray | None = None,
             specific_humidity: xr.DataArray | None = None) -> tuple[xr.DataArray, str]:
    """The moisture variable of the moisture diagnostics, and what it is.

    Parameters
    ----------
    pressure : pint.Quantity, float or xarray.DataArray
        Pressure of the level (a number is hPa), or of each level (a DataArray).
    temperature, relative_humidity : xarray.DataArray, optional
        Used when ``specific_humidity`` is not given.
    specific_humidity : xarray.DataArray, optional
        Used as it is when given.

    Returns
    -------
    tuple
        Specific humidity (kg/kg) when given, else the mixing ratio of
        ``metpy.calc.mixing_ratio_from_relative_humidity`` (kg/kg); and its description.
    """
    import metpy.calc as mpcalc

    if specific_humidity is not None:
        return _da("specific_humidity", specific_humidity).metpy.convert_units("kg/kg"), "specific humidity"
    if temperature is None or relative_humidity is None:
        raise ValueError("temperature and relative_humidity are needed when specific_humidity is not given")
    _same_grid(temperature=_da("temperature", temperature), relative_humidity=_da("relative_humidity",
                                                                                   relative_humidity))
    p = pressure if isinstance(pressure, xr.DataArray) else _pressure_q("pressure", pressure)
    w = mpcalc.mixing_ratio_from_relative_humidity(p, temperature, relative_humidity)
    return w.metpy.convert_units("kg/kg"), "mixing ratio (from relative humidity and temperature)"


def frontogenesis(temperature: xr.DataArray, u: xr.DataArray, v: xr.DataArray, pressure) -> xr.DataArray:
    """Petterssen 2-D frontogenesis of potential temperature at one level (K/m/s).

    ``metpy.calc.frontogenesis`` of ``metpy.calc.potential_temperature(pressure,
    temperature)`` with the wind (u, v).
    """
    import metpy.calc as mpcalc

    _same_grid(temperature=_da("temperature", temperature, 2), u=_da("u", u, 2), v=_da("v", v, 2))
    theta = mpcalc.potential_temperature(_pressure_q("pressure", pressure), temperature)
    return grid_calc(mpcalc.frontogenesis, theta, u, v)


def qvector_convergence(u: xr.DataArray, v: xr.DataArray, temperature: xr.DataArray, pressure,
                        temperature_column: xr.DataArray) -> xr.DataArray:
    """Q-vector convergence -2 div Q at one level (Pa/m2/s; positive forces ascent).

    Parameters
    ----------
    u, v, temperature : xarray.DataArray
        2-D fields at the level.
    pressure : pint.Quantity or float
        The level (a number is hPa).
    temperature_column : xarray.DataArray
        Temperature on pressure levels (quantified, ``pressure`` dimension) for
        ``metpy.calc.static_stability``, taken at the level nearest ``pressure``.

    Notes
    -----
    ``metpy.calc.q_vector`` with that static stability, then ``metpy.calc.divergence``
    of Q (quasi-geostrophic omega equation; Hoskins, Draghici and Davies 1978,
    Q. J. R. Meteorol. Soc. 104, 31-38).
    """
    import metpy.calc as mpcalc

    _same_grid(u=_da("u", u, 2), v=_da("v", v, 2), temperature=_da("temperature", temperature, 2))
    tcol = _da("temperature_column", temperature_column, 3)
    p = _pressure_q("pressure", pressure)
    sigma = mpcalc.static_stability(pressure_array(tcol), tcol, vertical_dim=tcol.dims.index("pressure"))
    lv = np.array(level_values(tcol))
    sig = sigma.isel(pressure=int(np.argmin(np.abs(lv - p.m_as("hPa")))))
    qx, qy = grid_calc(mpcalc.q_vector, u, v, temperature, p,
                       static_stability=sig.transpose(*temperature.dims).metpy.unit_array)
    return -2 * grid_calc(mpcalc.divergence, qx, qy)


def moisture_flux_convergence(q: xr.DataArray, u: xr.DataArray, v: xr.DataArray) -> xr.DataArray:
    """Moisture flux convergence -div(q V) at one level (``metpy.calc.divergence`` of (q u, q v))."""
    import metpy.calc as mpcalc

    _same_grid(q=_da("q", q, 2), u=_da("u", u, 2), v=_da("v", v, 2))
    return -grid_calc(mpcalc.divergence, q * u, q * v)


def column_moisture_flux_convergence(q: xr.DataArray, u: xr.DataArray, v: xr.DataArray,
                                     ground_hpa: np.ndarray | None = None) -> xr.DataArray:
    """Column-integrated moisture flux convergence, -(1/g) int div(q V) dp (mm/day).

    Parameters
    ----------
    q, u, v : xarray.DataArray
        Moisture (kg/kg) and wind on the same pressure levels (``pressure`` dimension,
        descending), quantified.
    ground_hpa : numpy.ndarray, optional
        Ground pressure (hPa) on the grid: layers below it are left out.

    Returns
    -------
    xarray.DataArray
        2-D, in mm/day (kg/m2/day), trapezoid integral between the first and last level.
    """
    import metpy.calc as mpcalc
    from metpy.constants import g
    from metpy.units import units

    _same_grid(q=_da("q", q, 3), u=_da("u", u, 3), v=_da("v", v, 3))
    div3 = grid_calc(mpcalc.divergence, q * u, q * v)
    integral = pressure_integral(div3.metpy.unit_array.m_as("1/s"), np.array(level_values(div3)),
                                 div3.dims.index("pressure"), ground_hpa)
    colq = (-integral * units("Pa/s") / g).to("kg/m^2/day")
    out = div3.isel(pressure=0).metpy.dequantify().copy(data=colq.m)
    out.attrs["units"] = "mm/day"
    return out


def precipitable_water(mixing_ratio: xr.DataArray, ground_hpa: np.ndarray | None = None) -> xr.DataArray:
    """Precipitable water, (1/(rho_w g)) int w dp, on a grid (mm).

    As ``metpy.calc.precipitable_water`` (trapezoid in pressure), vectorised over the grid.

    Parameters
    ----------
    mixing_ratio : xarray.DataArray
        Water-vapour mixing ratio (quantified) on pressure levels, descending.
    ground_hpa : numpy.ndarray, optional
        Ground pressure (hPa): layers below it are left out.
    """
    from metpy.constants import g, rho_l
    from metpy.units import units

    w = _da("mixing_ratio", mixing_ratio, 3)
    integral = pressure_integral(w.metpy.unit_array.m_as("kg/kg"), np.array(level_values(w)),
                                 w.dims.index("pressure"), ground_hpa)
    pw = integral * units.Pa / (g * rho_l)
    out = w.isel(pressure=0).metpy.dequantify().copy(data=pw.to("mm").m)
    out.attrs["units"] = "mm"
    return out


# ------------------------------------------------------------------------------- climatology
def climatology_month(clim: xr.DataArray, month: int, *, path: str | None = None) -> xr.DataArray:
    """The climatology of one calendar month (a ``month`` dim 1..12, or a datetime dim averaged).

    Raises
    ------
    hvrmet.errors.VariableMissing
        When the month is absent; the message lists the months there are.
    """
    _da("clim", clim)
    if not (isinstance(month, (int, np.integer)) and 1 <= month <= 12):
        raise ValueError(f"month must be 1..12, got {month!r}")
    if "month" in clim.dims:
        months = [int(m) for m in clim["month"].values]
        if month not in months:
            raise VariableMissing(path, f"the climatology has no month {month}; months available: "
                                        + ", ".join(pd.Timestamp(2000, m, 1).strftime("%B") for m in months))
        return clim.sel(month=month)
    dim = time_dim(clim)
    if dim is None:
        raise VariableMissing(path, "the climatology has neither a 'month' nor a time dimension")
    times = pd.DatetimeIndex(clim[dim].values)
    sel = times.month == month
    if not sel.any():
        raise VariableMissing(path, f"the climatology has no month {month}; months available: "
                                    + ", ".join(sorted({t.strftime('%B') for t in times})))
    return clim.isel({dim: np.flatnonzero(sel)}).mean(dim, keep_attrs=True)


def climatology_level(clim: xr.DataArray, level: float, *, path: str | None = None
                      ) -> tuple[xr.DataArray, list[str]]:
    """Climatological height (m) at ``level`` hPa.

    Between two levels, interpolated in ln p on the departures from the US Standard
    Atmosphere (``metpy.calc.pressure_to_height_std``).

    Returns
    -------
    tuple
        The 2-D field (plain values in m) and notes (the interpolation warning).
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    _da("clim", clim)
    levs = np.array(level_values(clim))
    if not levs.size:
        raise VariableMissing(path, "the climatology has no pressure levels")
    hit = np.flatnonzero(np.abs(levs - level) <= 0.5)
    if hit.size:
        return clim.isel(pressure=int(hit[0])), []
    above, below = levs[levs < level], levs[levs > level]
    if not above.size or not below.size:
        raise VariableMissing(path, f"the climatology has no {level:g} hPa level and does not bracket it; "
                                    f"levels (hPa): {', '.join(f'{x:g}' for x in sorted(levs))}")
    pa, pb = float(above.max()), float(below.min())
    ia, ib = int(np.flatnonzero(levs == pa)[0]), int(np.flatnonzero(levs == pb)[0])
    std = {p: float(mpcalc.pressure_to_height_std(p * units.hPa).m_as("m")) for p in (pa, pb, level)}
    wgt = np.log(level / pa) / np.log(pb / pa)
    za, zb = clim.isel(pressure=ia) - std[pa], clim.isel(pressure=ib) - std[pb]
    out = za + wgt * (zb - za) + std[level]
    return out, [f"the climatology has no {level:g} hPa level: interpolated between {pa:g} and {pb:g} hPa in "
                 "ln p on departures from the US Standard Atmosphere (this method reproduces the GFS "
                 "300 hPa height of 2010-10-26 from its 200 and 500 hPa heights with RMS error 47 m, "
                 "max 126 m): treat anomalies below ~50 m as within the error"]


def to_grid(field: xr.DataArray, target: xr.DataArray) -> np.ndarray:
    """``field`` (2-D, regular lat/lon) bilinearly interpolated onto the grid of ``target``.

    Longitudes wrap around (the field is closed with its first column + 360 degrees).
    """
    _da("field", field, 2)
    _da("target", target, 2)
    ydim, xdim = field.metpy.y.name, field.metpy.x.name
    f = field.assign_coords({xdim: wrap_lon(field[xdim].values)}).sortby(xdim).sortby(ydim)
    ring = f.isel({xdim: 0}).assign_coords({xdim: f[xdim].values[0] + 360.0})
    f = xr.concat([f, ring], dim=xdim)
    lat, lon = lat_lon_2d(target)
    lon360 = np.where(lon < f[xdim].values[0], lon + 360.0, lon)
    dims = target.dims
    return f.interp({ydim: xr.DataArray(lat, dims=dims), xdim: xr.DataArray(lon360, dims=dims)}).values
