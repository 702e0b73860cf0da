"""Shared computation of the gridded-analysis tools: find variables, pick a level and a
time, compute with MetPy's xarray accessor, and locate extremes.

Variables are found by CF ``standard_name``, then by the names GFS (NCEP THREDDS),
ERA-Interim/ERA5 and cfgrib use, then by ``long_name``; each candidate must carry units
of the right dimension. Geopotential (m2/s2) is turned into geopotential height by
dividing by g. Longitudes are reported in -180..180 degree_east.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import xarray as xr

from hvrmet.errors import VariableMissing
from hvrmet.tools.inputs import CaseInput, quantity

__all__ = ["grid_calc", "KINDS", "resolve", "field", "level_values", "pressure_dim", "time_dim", "select_time",
           "Box", "extremum", "wrap_lon", "lat_lon_2d", "valid_time"]


@dataclass(frozen=True)
class Kind:
    """How to recognise one physical variable."""

    standard_names: tuple[str, ...]
    names: tuple[str, ...]
    long_names: tuple[str, ...]
    units: str


KINDS: dict[str, Kind] = {
    "temperature": Kind(("air_temperature",), ("Temperature_isobaric", "t", "T", "temp", "air", "TMP"),
                        ("temperature",), "K"),
    "geopotential_height": Kind(("geopotential_height",),
                                ("Geopotential_height_isobaric", "gh", "hgt", "HGT", "height"),
                                ("geopotential height",), "m"),
    "geopotential": Kind(("geopotential",), ("z", "Geopotential_isobaric", "phi"), ("geopotential",),
                         "m^2/s^2"),
    "u": Kind(("eastward_wind", "x_wind"), ("u-component_of_wind_isobaric", "u", "U", "UGRD"),
              ("u-component of wind", "u component of wind"), "m/s"),
    "v": Kind(("northward_wind", "y_wind"), ("v-component_of_wind_isobaric", "v", "V", "VGRD"),
              ("v-component of wind", "v component of wind"), "m/s"),
    "relative_humidity": Kind(("relative_humidity",), ("Relative_humidity_isobaric", "r", "rh", "RH"),
                              ("relative humidity",), "percent"),
    "specific_humidity": Kind(("specific_humidity",), ("Specific_humidity_isobaric", "q", "SPFH"),
                              ("specific humidity",), "kg/kg"),
    "mslp": Kind(("air_pressure_at_mean_sea_level", "air_pressure_at_sea_level"),
                 ("Pressure_reduced_to_MSL_msl", "PRMSL_meansealevel", "MSLP_Eta_model_reduction_msl",
                  "msl", "prmsl", "mslp", "slp"),
                 ("pressure reduced to msl", "mean sea level pressure"), "Pa"),
}


def _units_ok(da: xr.DataArray, target: str) -> bool:
    from metpy.units import units

    try:
        return units(da.attrs.get("units", "")).dimensionality == units(target).dimensionality
    except Exception:  # unparseable units
        return False


def pressure_dim(da: xr.DataArray) -> str | None:
    """The dimension of ``da`` whose coordinate is pressure, or ``None``."""
    from metpy.units import units

    for d in da.dims:
        if d in da.coords and da[d].ndim == 1:
            try:
                if units(da[d].attrs.get("units", "")).dimensionality == units.Pa.dimensionality:
                    return str(d)
            except Exception:  # unparseable units: not a pressure axis
                continue
    return None


def time_dim(da: xr.DataArray) -> str | None:
    """The dimension of ``da`` holding datetimes, or ``None``."""
    for d in da.dims:
        if d in da.coords and np.issubdtype(da[d].dtype, np.datetime64):
            return str(d)
    return None


def _path(ds: xr.Dataset) -> str | None:
    return ds.attrs.get("source_file")


def resolve(ds: xr.Dataset, kind: str, *, levels: bool) -> str:
    """The name of the variable of ``kind`` in ``ds``.

    Parameters
    ----------
    ds
        A decoded gridded dataset.
    kind
        A key of :data:`KINDS`; ``"geopotential_height"`` also accepts geopotential.
    levels
        Whether the variable must be on pressure levels (``True``) or a single surface.

    Raises
    ------
    VariableMissing
        Naming what was looked for and what the dataset holds.
    """
    kinds = [kind] + (["geopotential"] if kind == "geopotential_height" else [])
    for k in kinds:
        spec = KINDS[k]
        cands = [n for n, da in ds.data_vars.items()
                 if da.ndim >= 2 and _units_ok(da, spec.units)
                 and (pressure_dim(da) is not None) == levels]
        tests = (lambda n: ds[n].attrs.get("standard_name") in spec.standard_names,
                 lambda n: n in spec.names,
                 lambda n: ds[n].attrs.get("GRIB_shortName") in spec.names,
                 lambda n: any(s in str(ds[n].attrs.get("long_name", "")).lower() for s in spec.long_names))
        for test in tests:
            hit = [n for n in cands if test(n)]
            if hit:
                return hit[0]
    where = "on pressure levels" if levels else "on a single level (no pressure axis)"
    raise VariableMissing(_path(ds), f"no {kind.replace('_', ' ')} {where} in this analysis "
                                     f"(looked for standard_name {KINDS[kind].standard_names} or names "
                                     f"{KINDS[kind].names}); it holds: {', '.join(map(str, ds.data_vars))}")


def level_values(da: xr.DataArray) -> list[float]:
    """The pressure levels of ``da`` in hPa."""
    from metpy.units import units

    dim = pressure_dim(da)
    if dim is None:
        return []
    return [float(x) for x in (da[dim].values * units(da[dim].attrs["units"])).to("hPa").m]


def select_time(da: xr.DataArray, when: str | None) -> tuple[xr.DataArray, list[str]]:
    """``da`` at the valid time ``when`` (ISO 8601; the first time when ``None``)."""
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
    t = pd.Timestamp(when).tz_localize(None) if pd.Timestamp(when).tzinfo is None else \
        pd.Timestamp(when).tz_convert("UTC").tz_localize(None)
    gap = np.abs((times - t).total_seconds())
    i = int(np.argmin(gap))
    if gap[i] > 1800:
        raise VariableMissing(None, f"no analysis time within 30 min of {t:%Y-%m-%d %H:%M}; times: "
                                    + ", ".join(f"{x:%Y-%m-%d %H:%M}" for x in times))
    return da.isel({dim: i}), notes


def valid_time(da: xr.DataArray) -> str:
    """The valid time of a 2-D field as ISO text ('' when it has none)."""
    for name, c in da.coords.items():
        if c.ndim == 0 and np.issubdtype(c.dtype, np.datetime64):
            return pd.Timestamp(c.values).strftime("%Y-%m-%dT%H:%MZ")
    return ""


def field(ds: xr.Dataset, kind: str, *, level: float | None, when: str | None,
          units_out: str | None = None) -> tuple[xr.DataArray, list[str]]:
    """A 2-D (lat, lon) field of ``kind`` at ``level`` hPa (``None``: a single-level field).

    Returns the DataArray (parsed by ``metpy.parse_cf``, so it carries its CRS) and notes.
    Raises :class:`VariableMissing` when the variable or the level is absent; levels are
    never interpolated here.
    """
    from metpy.constants import g

    name = resolve(ds, kind, levels=level is not None)
    da = ds.metpy.parse_cf(name)
    da, notes = select_time(da, when)
    if level is not None:
        dim = pressure_dim(da)
        levs = np.array(level_values(da))
        i = int(np.argmin(np.abs(levs - level)))
        if abs(levs[i] - level) > 0.5:
            raise VariableMissing(_path(ds), f"{name} has no {level:g} hPa level; levels (hPa): "
                                             + ", ".join(f"{x:g}" for x in sorted(levs, reverse=True)))
        da = da.isel({dim: i})
    da = da.squeeze(drop=False)
    if da.ndim != 2:
        raise VariableMissing(_path(ds), f"{name} is not a 2-D lat/lon field after selecting level and "
                                         f"time (dims {da.dims})")
    q = da.metpy.quantify()
    if kind == "geopotential_height" and _units_ok(da, "m^2/s^2"):
        q = q / g
        notes.append(f"{name} is geopotential (m2/s2): divided by g = 9.80665 m/s2")
    if units_out or kind == "geopotential_height":
        q = q.metpy.convert_units(units_out or "m")
    return q, notes


def wrap_lon(lon: np.ndarray | float) -> np.ndarray | float:
    """Longitudes in -180..180 degree_east."""
    return (np.asarray(lon) + 180.0) % 360.0 - 180.0


def lat_lon_2d(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """2-D latitude and longitude (-180..180) of a field."""
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
        m = np.ones(lat.shape, bool)
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
    """The maximum (``how='max'``) or minimum of a 2-D field, with its latitude and longitude.

    NaN and infinite values, points outside ``box`` and points poleward of ``max_abs_lat``
    are ignored; so is the outer ring of grid points when ``skip_border`` (derivatives
    there are one-sided differences; a grid that wraps around in longitude keeps its
    east and west columns). Returns (value, lat, lon, on_edge), where ``on_edge`` says the extreme lies
    on the border of the grid or box (it may then not be a closed centre); all ``None``
    when no point is left.
    """
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


@lru_cache(maxsize=32)
def _pyproj_crs(items: tuple):
    from pyproj import CRS

    return CRS.from_cf(dict(items))


def grid_calc(func, *arrays: xr.DataArray, **kwargs):
    """Call a grid function of ``metpy.calc`` on DataArrays on one lat/lon grid.

    Equivalent to calling ``func`` on the DataArrays themselves (MetPy then takes the grid
    spacing and map factors from the CRS that ``parse_cf`` attached), but builds the
    pyproj CRS once per grid instead of once per use (~0.5 s each), by passing the
    arrays with 1-D ``latitude``/``longitude`` and ``crs``. Returns DataArrays shaped and
    labelled like the first array, quantified (pint-backed).
    Grids with 2-D latitude/longitude fall back to the plain xarray call.
    """
    from metpy.units import units

    proto = arrays[0]
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


class BoxInput(CaseInput):
    """A case and an optional lat/lon search box (the gridded and station tools share it)."""

    lat_min: float | None = quantity(None, units="degree_north", description="southern edge of the search box",
                                     ge=-90, le=90)
    lat_max: float | None = quantity(None, units="degree_north", description="northern edge of the search box",
                                     ge=-90, le=90)
    lon_min: float | None = quantity(None, units="degree_east", description="western edge of the search box "
                                     "(-180..360; west > east crosses the date line)", ge=-180, le=360)
    lon_max: float | None = quantity(None, units="degree_east", description="eastern edge of the search box",
                                     ge=-180, le=360)

    def box(self) -> Box:
        """The search box."""
        return Box(self.lat_min, self.lat_max, self.lon_min, self.lon_max)
