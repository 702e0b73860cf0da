"""Find the physical fields of a gridded dataset, whatever its naming.

One resolver, :func:`identify_fields` (cached per dataset by :func:`fields_of`), finds each
field of the alias table ``field_aliases.yaml`` beside this module: air temperature,
geopotential height (geopotential is divided by g), u/v wind and wind speed/direction,
relative and specific humidity, dew point, mean sea-level and surface pressure, relative
and absolute vorticity, precipitation amount and rate, CAPE/CIN, 2 m temperature and dew
point, 10 m wind and precipitable water.

For each field, in the table's order (single-level fields first), the first rule that names
an unclaimed variable wins:

1. its CF ``standard_name`` (looked up with cf_xarray's ``ds.cf.standard_names``);
2. GRIB keys: ``GRIB_paramId``, ``GRIB_shortName``, ``GRIB_cfVarName``, the GRIB2
   discipline-category-number (cfgrib's keys, or NCEP THREDDS's ``Grib2_Parameter``), the
   NCEP abbreviation (THREDDS ``abbreviation``);
3. the table's variable names, exactly and then ignoring case; a name made of a stem of
   the table and a pressure (``TMP_500mb``, ``t500``, ``Temperature_isobaric_500``,
   ``u_850hPa``) makes one 2-D variable per level, and those are assembled into one
   variable on a pressure coordinate;
4. the ``long_name``, compared whole.

The variable must then sit on the field's vertical coordinate: pressure levels (a
dimension or scalar coordinate found by its pressure units, MetPy's ``metpy.vertical``
identification or its name -- ``isobaric*``, ``lev``, ``plev``, ``level``, ``pressure`` --
in Pa or hPa, or levels in the variable names), a single level, or a height above ground
(2 m, 10 m). And it must carry units of the field's dimension whose values are plausible
for it (the 0.5th and 99.5th percentiles inside the table's range). A variable without units
is used only when its values fit one of the table's ``assume`` entries (temperature
between 150 and 350 taken as K, ...), always with a warning saying so; geopotential height
without units is told apart from geopotential by the US Standard Atmosphere height of
its levels. A candidate that fails is reported with the reason, never used silently.

Every field found comes back normalised (:class:`FieldSet`): a DataArray with its
pressure levels on a ``pressure`` dimension in hPa, its datetime dimension named
``time``, longitudes in -180..180 (sorted), units pint can read, and a MetPy CRS
(``metpy.parse_cf``). Winds given only as speed and direction are turned into u and v
(and speed/direction derived from u and v), on the levels both have.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field as dc_field
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from hvrmet.errors import UnitsError, VariableMissing

__all__ = ["FieldSpec", "FieldMatch", "FieldSet", "field_specs", "identify_fields", "fields_of",
           "file_units", "horizontal_coords", "UNIT_FIXES", "LEVEL_NAME"]

#: Unit strings seen in real files that pint reads wrongly or not at all.
UNIT_FIXES = {"gpm": "m", "m**2 s**-2": "m^2/s^2", "m s**-1": "m/s", "s**-1": "1/s", "Pa s**-1": "Pa/s",
               "kg m**-2": "kg/m^2", "(0 - 1)": "1", "~": "1", "mb": "hPa", "MB": "hPa", "mbar": "hPa",
               "millibars": "hPa", "millibar": "hPa", "fraction": "1", "m of water equivalent": "m",
               "degrees": "degree", "deg": "degree", "Celsius": "degC", "C": "degC", "kelvin": "K",
               "mm/hr": "mm/h", "mm hr**-1": "mm/h", "mm h**-1": "mm/h", "percent": "percent"}
_NO_UNITS = {"", "unknown", "none", "None", "n/a", "?", "undefined"}

#: A variable name made of a stem and a pressure level: ``TMP_500mb``, ``t500``,
#: ``Temperature_isobaric_500``, ``u_850hPa``, ``HGT:500 mb``, ``temp_50000Pa``.
LEVEL_NAME = re.compile(r"^(?P<stem>[A-Za-z][A-Za-z0-9_\-]*?)[_:\-\s.]?(?P<num>\d+(?:\.\d+)?)[_\s]?"
                        r"(?P<unit>mb|mbar|hpa|pa)?$", re.IGNORECASE)
_PRESSURE_NAMES = re.compile(r"^(isobaric\w*|lev|levs|level|levels|plev|plevs|pressure|pres|p|pressure_levels?|"
                             r"air_pressure|isobaricinhpa|isobaricinpa|lv_isbl\d*|pressure_level)(_?\d+)?$", re.IGNORECASE)
_NOT_LEVELS = re.compile(r"(?<![a-z])(layer|difference|bnds|bounds|hybrid|sigma|eta|model|soil|depth)", re.IGNORECASE)
_METRE_LONG_NAME = re.compile(r"\b\d+\s*(m|metre|meter|metres|meters)\b", re.IGNORECASE)
_G = 9.80665


# ------------------------------------------------------------------------------------ table
@dataclass(frozen=True)
class Ids:
    """How one quantity is recognised (a field's own lists, or its geopotential lists)."""

    units: str
    standard_names: tuple[str, ...] = ()
    grib_param_ids: tuple[int, ...] = ()
    grib_short_names: tuple[str, ...] = ()
    grib_cf_var_names: tuple[str, ...] = ()
    grib2: tuple[tuple[str, str | None, str | None], ...] = ()  # (code, table units, table name)
    abbreviations: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    long_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldSpec:
    """One physical field of the alias table."""

    name: str
    label: str
    description: str
    vertical: str  # "pressure", "single" or "height"
    units: str
    range: tuple[float, float]
    ids: Ids
    height_m: float | None = None
    assume: tuple[tuple[str, float, float], ...] = ()
    water_equivalent: bool = False
    geopotential: Ids | None = None


def _ids(d: dict, units: str) -> Ids:
    g2 = []
    for e in d.get("grib2", []) or []:
        g2.append((e["code"], e.get("units"), e.get("table")) if isinstance(e, dict) else (str(e), None, None))
    return Ids(units=d.get("units", units), standard_names=tuple(d.get("standard_names", []) or []),
               grib_param_ids=tuple(int(x) for x in d.get("grib_param_ids", []) or []),
               grib_short_names=tuple(str(x) for x in d.get("grib_short_names", []) or []),
               grib_cf_var_names=tuple(str(x) for x in d.get("grib_cf_var_names", []) or []),
               grib2=tuple(g2), abbreviations=tuple(d.get("abbreviations", []) or []),
               names=tuple(str(x) for x in d.get("names", []) or []),
               long_names=tuple(str(x).lower() for x in d.get("long_names", []) or []))


@lru_cache(maxsize=1)
def field_specs() -> dict[str, FieldSpec]:
    """The alias table (``hvrmet/data/field_aliases.yaml``), in resolution order."""
    import yaml

    from hvrmet._resources import package_path

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(package_path("hvrmet.data", "field_aliases.yaml").read_text(), Loader=loader)  # noqa: S506
    out = {}
    for name, d in raw["fields"].items():
        out[name] = FieldSpec(
            name=name, label=d.get("label", name), description=d.get("description", name), vertical=d["vertical"],
            units=d["units"], range=tuple(float(x) for x in d["range"]), ids=_ids(d, d["units"]),
            height_m=None if d.get("height_m") is None else float(d["height_m"]),
            assume=tuple((str(a["units"]), float(a["range"][0]), float(a["range"][1])) for a in d.get("assume", [])),
            water_equivalent=bool(d.get("water_equivalent", False)),
            geopotential=_ids(d["geopotential"], d["geopotential"]["units"]) if d.get("geopotential") else None)
    return out


# ------------------------------------------------------------------------------------ units
def file_units(text: Any) -> str | None:
    """A file's ``units`` attribute as a string pint reads (``None`` when missing).

    ``gpm`` becomes ``m``, ``mb`` and ``millibars`` ``hPa``, ``(0 - 1)`` and ``~`` ``1`` ...

    Raises
    ------
    hvrmet.errors.UnitsError
        When the text is there but cannot be read as units.
    """
    from hvrmet.units import parse_units

    if text is None:
        return None
    s = str(text).strip()
    if s in _NO_UNITS:
        return None
    s = UNIT_FIXES.get(s, s)
    parse_units(s, name="units")
    return s


def _u(s: str):
    from hvrmet.units import parse_units

    return parse_units(s, name="units")


def _same_dim(a: str, b: str) -> bool:
    return _u(a).dimensionality == _u(b).dimensionality


def _sample(values: np.ndarray, n: int = 200_000) -> np.ndarray:
    v = np.asarray(values).ravel()
    if v.dtype.kind not in "fiu":
        return np.array([], float)
    if v.size > n:
        v = v[:: v.size // n + 1]
    v = v.astype(float)
    return v[np.isfinite(v)]


def _span(v: np.ndarray) -> tuple[float, float]:
    if not v.size:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [0.5, 99.5])
    return float(lo), float(hi)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


# ------------------------------------------------------------------------------ vertical axes
@dataclass(frozen=True)
class _Vertical:
    kind: str  # "pressure", "height", "single", "other"
    dim: str | None = None  # the pressure dimension of a variable (None: scalar or from names)
    coord: str | None = None
    levels: tuple[float, ...] = ()  # hPa
    height_m: float | None = None
    note: str = ""


def _pressure_levels(c: xr.DataArray, name: str, metpy_vertical: bool = False
                     ) -> tuple[tuple[float, ...], str] | None:
    """The hPa values of coordinate ``c`` if it is a pressure axis, with a note on how told.

    Its units decide; without units, its name, its CF attributes or MetPy's identification
    of it as the vertical axis (``metpy_vertical``) say it is pressure, and its values
    whether in Pa or hPa."""
    from metpy.units import units

    if _NOT_LEVELS.search(name) or _NOT_LEVELS.search(str(c.attrs.get("long_name", ""))):
        return None
    if c.dtype.kind not in "fiu":
        return None
    vals = np.atleast_1d(np.asarray(c.values, float))
    try:
        u = file_units(c.attrs.get("units"))
    except UnitsError:
        u = None
    if u is not None and u != "1":
        if _u(u).dimensionality != units.Pa.dimensionality:
            return None
        return tuple(float(x) for x in units.Quantity(vals, _u(u)).to("hPa").m), ""
    named = bool(_PRESSURE_NAMES.match(name)) or c.attrs.get("_CoordinateAxisType") == "Pressure" \
        or c.attrs.get("standard_name") == "air_pressure" or c.attrs.get("positive") == "down" or metpy_vertical
    if not named or not np.isfinite(vals).all():
        return None
    if vals.min() >= 1 and vals.max() <= 1100 and (vals.size == 1 or vals.max() >= 200):
        return tuple(float(x) for x in vals), (f"pressure coordinate {name!r} has no units: its values "
                                               f"({_fmt(vals.min())}..{_fmt(vals.max())}) taken as hPa")
    if vals.min() >= 100 and vals.max() <= 110000 and vals.max() > 1100:
        return tuple(float(x) / 100.0 for x in vals), (f"pressure coordinate {name!r} has no units: its values "
                                                       f"({_fmt(vals.min())}..{_fmt(vals.max())}) taken as Pa")
    return None


def _is_height(c: xr.DataArray, name: str) -> float | None:
    """The height above ground (m) of a scalar or size-1 height coordinate, else None."""
    if c.size != 1 or c.dtype.kind not in "fiu":
        return None
    lname = str(c.attrs.get("long_name", "")).lower()
    if not ("height" in name.lower() or c.attrs.get("standard_name") == "height" or "above ground" in lname
            or c.attrs.get("_CoordinateAxisType") == "Height"):
        return None
    try:
        u = file_units(c.attrs.get("units"))
    except UnitsError:
        return None
    if u is None or u == "1":
        u = "m" if "heightaboveground" in name.lower() else None
    if u is None or not _same_dim(u, "m"):
        return None
    return float((float(np.asarray(c.values).ravel()[0]) * _u(u)).to("m").m)


def _metpy_vertical(da: xr.DataArray) -> str | None:
    """The dimension MetPy identifies as the vertical axis of ``da`` (``da.metpy.vertical``)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = da.metpy.vertical
    except Exception:  # noqa: BLE001 - MetPy finds none (AttributeError) or cannot parse the attributes
        return None
    return str(v.dims[0]) if v.ndim == 1 and v.dims[0] in da.dims else None


def _vertical(da: xr.DataArray, horizontal: set[str]) -> _Vertical:
    mv = _metpy_vertical(da)
    if mv is not None and mv not in horizontal and mv in da.coords:
        p = _pressure_levels(da[mv], mv, metpy_vertical=True)
        if p is not None:
            return _Vertical("pressure", dim=mv, coord=mv, levels=p[0], note=p[1])
    for d in da.dims:
        if d in horizontal or d not in da.coords or da[d].ndim != 1:
            continue
        if np.issubdtype(da[d].dtype, np.datetime64) or np.issubdtype(da[d].dtype, np.timedelta64):
            continue
        p = _pressure_levels(da[d], str(d))
        if p is not None:
            return _Vertical("pressure", dim=str(d), coord=str(d), levels=p[0], note=p[1])
    for name, c in da.coords.items():
        if c.ndim == 0 or (c.ndim == 1 and c.size == 1 and name not in horizontal):
            p = _pressure_levels(c, str(name))
            if p is not None and c.ndim == 0:
                return _Vertical("pressure", coord=str(name), levels=p[0], note=p[1])
            h = _is_height(c, str(name))
            if h is not None:
                return _Vertical("height", coord=str(name), height_m=h)
    others = [d for d in da.dims if d not in horizontal and da.sizes[d] > 1 and not (
        d in da.coords and (np.issubdtype(da[d].dtype, np.datetime64) or np.issubdtype(da[d].dtype, np.timedelta64)))
              and d not in ("month", "time", "step", "number", "realization", "member", "ensemble")]
    if others:
        return _Vertical("other", dim=str(others[0]), note=f"on a {others[0]!r} axis that is not pressure")
    return _Vertical("single")


# --------------------------------------------------------------------------------- candidates
@dataclass
class _Cand:
    name: str  # a variable, or the stem of level-named variables
    members: tuple[str, ...]
    attrs: dict
    vertical: _Vertical
    group: bool = False


def _grib2_code(attrs: dict) -> str | None:
    keys = ("GRIB_discipline", "GRIB_parameterCategory", "GRIB_parameterNumber")
    if all(k in attrs for k in keys):
        try:
            return "-".join(str(int(attrs[k])) for k in keys)
        except (TypeError, ValueError):
            return None
    p = attrs.get("Grib2_Parameter")
    if p is not None:
        arr = np.atleast_1d(np.asarray(p)).ravel()
        if arr.size == 3:
            return "-".join(str(int(x)) for x in arr)
    m = re.match(r"VAR_(\d+)-(\d+)-(\d+)_", str(attrs.get("Grib_Variable_Id", "")))
    return "-".join(m.groups()) if m else None


def _long_name(attrs: dict) -> str:
    return str(attrs.get("long_name", "")).split(" @ ")[0].strip().lower()


def _rules(ids: Ids, cand: _Cand) -> list[tuple[str, bool]]:
    """(rule, implies-the-height) for every rule of ``ids`` that ``cand`` matches, in order."""
    a = cand.attrs
    out: list[tuple[str, bool]] = []
    sn = a.get("standard_name")
    if sn in ids.standard_names:
        out.append((f"standard_name {sn}", False))
    pid = a.get("GRIB_paramId")
    if pid is not None and str(pid).lstrip("-").isdigit() and int(pid) in ids.grib_param_ids:
        out.append((f"GRIB_paramId {int(pid)}", True))
    if a.get("GRIB_shortName") in ids.grib_short_names:
        out.append((f"GRIB_shortName {a['GRIB_shortName']}", True))
    if a.get("GRIB_cfVarName") in ids.grib_cf_var_names:
        out.append((f"GRIB_cfVarName {a['GRIB_cfVarName']}", True))
    code = _grib2_code(a)
    if code is not None and code in [c for c, _, _ in ids.grib2]:
        out.append((f"GRIB2 parameter {code}", False))
    if a.get("abbreviation") in ids.abbreviations:
        out.append((f"NCEP abbreviation {a['abbreviation']}", False))
    if cand.name in ids.names:
        out.append((f"name {cand.name!r}" if not cand.group else f"level-named {cand.name!r}", True))
    elif cand.name.lower() in {n.lower() for n in ids.names}:
        out.append((f"name {cand.name!r} (ignoring case)" if not cand.group
                    else f"level-named {cand.name!r} (ignoring case)", True))
    ln = _long_name(a)
    if ln and ln in ids.long_names:
        out.append((f"long_name {ln!r}", False))
    return out


def _grib2_table_units(ids: Ids, attrs: dict) -> tuple[str, str] | None:
    code = _grib2_code(attrs)
    for c, u, table in ids.grib2:
        if c == code and u:
            return u, table or f"GRIB2 parameter {c}"
    return None


# ----------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class FieldMatch:
    """A field found: from which variable(s), by which rule, with which units."""

    field: str
    variables: tuple[str, ...]
    rule: str
    units: str
    units_from: str  # "file", "assumed", a GRIB table, "converted"
    levels: tuple[float, ...] = ()  # hPa, for fields on pressure levels
    warnings: tuple[str, ...] = ()

    @property
    def variable(self) -> str:
        """The variable (or the level-named variables, shortened) it came from."""
        if len(self.variables) <= 2:
            return ", ".join(self.variables)
        return f"{self.variables[0]} … {self.variables[-1]} ({len(self.variables)} variables)"

    def levels_text(self) -> str:
        """Its pressure levels in words ('' for a single-level field)."""
        if not self.levels:
            return ""
        lv = sorted(self.levels, reverse=True)
        if len(lv) <= 4:
            return ", ".join(f"{x:g}" for x in lv) + " hPa"
        return f"{len(lv)} levels {lv[0]:g}-{lv[-1]:g} hPa"

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"field": self.field, "variable": self.variable, "variables": list(self.variables),
                "rule": self.rule, "units": self.units, "units_from": self.units_from,
                "levels_hPa": list(self.levels), "warnings": list(self.warnings)}


@dataclass
class FieldSet:
    """The fields of one dataset: normalised arrays, how each was found, and what is missing."""

    source: str | None
    arrays: dict[str, xr.DataArray] = dc_field(default_factory=dict)
    found: dict[str, FieldMatch] = dc_field(default_factory=dict)
    missing: dict[str, str] = dc_field(default_factory=dict)
    unused: dict[str, str] = dc_field(default_factory=dict)
    warnings: list[str] = dc_field(default_factory=list)

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def has(self, name: str, *, min_levels: int = 0) -> bool:
        """Whether ``name`` was found (with at least ``min_levels`` pressure levels)."""
        return name in self.found and len(self.found[name].levels) >= min_levels

    def get(self, name: str) -> xr.DataArray:
        """The normalised DataArray of field ``name``.

        Raises
        ------
        hvrmet.errors.VariableMissing
            Naming the field, where it was looked for and why it was not taken.
        KeyError
            If ``name`` is not a field of the alias table.
        """
        if name not in field_specs():
            raise KeyError(f"unknown field {name!r}; fields: {', '.join(field_specs())}")
        if name in self.arrays:
            return self.arrays[name]
        spec = field_specs()[name]
        where = {"pressure": "on pressure levels", "single": "on a single level (no pressure axis)"}.get(
            spec.vertical) or f"at {spec.height_m:g} m above ground"
        holds = [f"{v} ({k})" for k, m in self.found.items() if m.units_from != "derived" for v in m.variables[:1]]
        holds += list(self.unused)
        raise VariableMissing(self.source, f"no {spec.label} {where} in this file: {self.missing.get(name, '')}; "
                                           f"it holds: {', '.join(holds) or 'no gridded variable'}")

    def report(self) -> dict:
        """JSON-ready: the fields found, those not found with the reason, unused variables."""
        return {"source": self.source, "found": [m.as_dict() for m in self.found.values()],
                "missing": dict(self.missing), "unused": dict(self.unused), "warnings": list(self.warnings)}

    def summary(self) -> str:
        """One line: ``field<-variable`` for each field found."""
        return "; ".join(f"{k}<-{m.variable}" for k, m in self.found.items()) or "no known field"


# ------------------------------------------------------------------------------ normalising
def horizontal_coords(ds: xr.Dataset) -> tuple[xr.Dataset, set[str], list[str]]:
    """Name the latitude/longitude coordinates ``lat``/``lon`` (found by cf_xarray), make
    2-D lat/lon variables coordinates; return the dataset, its horizontal dims, notes."""
    import cf_xarray  # noqa: F401  (registers the .cf accessor)

    notes: list[str] = []
    renames: dict = {}
    cf_coords = None
    for key, target in (("latitude", "lat"), ("longitude", "lon")):
        if target in ds.variables:
            continue
        if cf_coords is None:  # cf_xarray's classification, once for both
            try:
                cf_coords = ds.cf.coordinates
            except Exception:  # noqa: BLE001 - cf_xarray cannot classify: fall back to names
                cf_coords = {}
        names = [n for n in cf_coords.get(key, []) if n not in renames]
        names = names or [n for n in ds.variables if n not in renames and str(n).lower() in (
            {"latitude", "lats", "nav_lat", "xlat", "y_lat"} if key == "latitude" else
            {"longitude", "lons", "nav_lon", "xlong", "x_lon"})]
        if names:
            renames[names[0]] = target
            notes.append(f"{names[0]!r} taken as the {key}")
    if renames:
        ds = ds.rename(renames)  # one rename (each copies the dataset)
    to_coords = [n for n in ("lat", "lon") if n in ds.data_vars]
    if to_coords:
        ds = ds.set_coords(to_coords)
    hor: set[str] = set()
    for n in ("lat", "lon"):
        if n in ds.coords:
            hor |= set(map(str, ds[n].dims))
    for n in ("x", "y"):
        if n in ds.dims:
            hor.add(n)
    return ds, hor, notes


def _normal_lon(da: xr.DataArray, notes: list[str]) -> xr.DataArray:
    if "lon" not in da.coords:
        return da
    lon = da["lon"]
    wrapped = (np.asarray(lon.values, float) + 180.0) % 360.0 - 180.0
    if lon.ndim != 1 or lon.dims[0] not in da.dims:
        return da.assign_coords(lon=(lon.dims, wrapped, lon.attrs))
    dim = lon.dims[0]
    if dim != "lon":
        return da.assign_coords(lon=(lon.dims, wrapped, lon.attrs))
    da = da.assign_coords(lon=("lon", wrapped, lon.attrs))
    _, first = np.unique(wrapped, return_index=True)
    if first.size < wrapped.size:
        notes.append(f"{wrapped.size - first.size} repeated longitude column(s) (e.g. 0 and 360) dropped")
        da = da.isel(lon=np.sort(first))
    if da.sizes["lon"] > 1 and not (np.diff(da["lon"].values) > 0).all():
        da = da.sortby("lon")
    return da


def _normal_time(da: xr.DataArray) -> xr.DataArray:
    if "valid_time" in da.coords and "time" in da.coords:
        vt, t = da["valid_time"], da["time"]
        if vt.ndim == 0 and t.ndim == 0:
            da = da.drop_vars("valid_time").assign_coords(time=vt.values)
        elif vt.dims == t.dims and t.ndim == 1 and t.dims[0] == "time":
            da = da.drop_vars("valid_time").assign_coords(time=("time", vt.values, t.attrs))
    for d in list(da.dims):
        if d != "time" and d in da.coords and np.issubdtype(da[d].dtype, np.datetime64) and "time" not in da.coords:
            da = da.rename({d: "time"})
            break
    return da


def _pressure_coord(levels, original: str | None) -> xr.DataArray:
    return xr.DataArray(np.asarray(levels, float), dims=["pressure"],
                        attrs={"units": "hPa", "standard_name": "air_pressure", "positive": "down",
                               "long_name": "pressure", **({"original_name": original} if original else {})})


def _build(ds: xr.Dataset, cand: _Cand) -> tuple[xr.DataArray, list[str]]:
    """The candidate as one DataArray: pressure on ``pressure`` (hPa), ``time``, lon -180..180."""
    notes = [cand.vertical.note] if cand.vertical.note else []
    if cand.group:
        parts = []
        levels = cand.vertical.levels
        seen: set[float] = set()
        for name, lev in sorted(zip(cand.members, levels), key=lambda x: -x[1]):
            if lev in seen:
                notes.append(f"{name} repeats the {lev:g} hPa level: left out")
                continue
            seen.add(lev)
            part = ds[name]
            drop = [c for c, v in part.coords.items() if v.ndim == 0 and c not in ("time", "valid_time")]
            parts.append(part.drop_vars(drop).expand_dims(pressure=[lev]))
        da = xr.concat(parts, dim="pressure", combine_attrs="override", coords="minimal", compat="override",
                       join="exact")
        da = da.assign_coords(pressure=_pressure_coord(da["pressure"].values, None))
        da.name = cand.name
    else:
        da = ds[cand.name]
        v = cand.vertical
        if v.kind == "pressure" and v.dim is not None:
            da = da.rename({v.dim: "pressure"}).assign_coords(pressure=_pressure_coord(v.levels, v.dim))
        elif v.kind == "pressure":
            da = da.drop_vars(v.coord).expand_dims(pressure=list(v.levels))
            da = da.assign_coords(pressure=_pressure_coord(v.levels, v.coord))
    da = _normal_time(da)
    keep = {"time", "pressure", "lat", "lon", "x", "y", "month"}
    for d in list(da.dims):
        if d not in keep and da.sizes[d] == 1:
            da = da.squeeze(d, drop=False)
    da = _normal_lon(da, notes)
    return da, notes


def _with_crs(ds: xr.Dataset, da: xr.DataArray, attrs: dict) -> xr.DataArray:
    """``da`` parsed by ``metpy.parse_cf`` with the source's grid mapping (lat/lon when none)."""
    name = str(da.name or "field")
    gm = attrs.get("grid_mapping")
    vars_ = {name: da.drop_vars("metpy_crs", errors="ignore")}
    if isinstance(gm, str) and gm in ds.variables:
        vars_[gm] = ds[gm]
    try:
        return xr.Dataset(vars_).metpy.parse_cf(name)
    except Exception:  # noqa: BLE001 - a grid MetPy cannot parse: leave it as it is
        return da


# ------------------------------------------------------------------------------------ checks
def _check_units(spec: FieldSpec, ids: Ids, cand: _Cand, da: xr.DataArray) -> tuple[str | None, str, list[str], str]:
    """Units to give ``da``: (units or None, where from, warnings, reason when refused)."""
    warns: list[str] = []
    try:
        u = file_units(da.attrs.get("units"))
    except UnitsError as exc:
        return None, "", [], f"its units {da.attrs.get('units')!r} cannot be read ({exc.problem})"
    source = "file"
    sample = _sample(da.values)
    lo, hi = _span(sample)
    if not sample.size:
        return None, "", [], "it holds no finite values"
    if u is None:
        tab = _grib2_table_units(ids, cand.attrs)
        if tab is not None:
            u, source = tab[0], tab[1]
            warns.append(f"{cand.name} has no units in the file: {u} from the {tab[1]}")
        elif spec.name == "geopotential_height" and "pressure" in da.dims:
            u = _height_or_geopotential(da, tuple(float(x) for x in da["pressure"].values))
            if u is None:
                return None, "", [], (f"it has no units and its values ({_fmt(lo)}..{_fmt(hi)}) are neither heights "
                                      "(m) nor geopotential (m2/s2) of its pressure levels")
            source = "assumed"
            warns.append(f"{cand.name} has no units: taken as {u}, its values matching the US Standard "
                         "Atmosphere at its levels")
        else:
            fit = next((a for a in spec.assume if a[1] <= lo and hi <= a[2]), None)
            if fit is None:
                hint = (f"values {_fmt(lo)}..{_fmt(hi)} fit none of "
                        + ", ".join(f"{a[0]} ({_fmt(a[1])}..{_fmt(a[2])})" for a in spec.assume)) \
                    if spec.assume else f"values {_fmt(lo)}..{_fmt(hi)}; no units are assumed for {spec.label}"
                return None, "", [], f"it has no units attribute ({hint})"
            u, source = fit[0], "assumed"
            warns.append(f"{cand.name} has no units: its values {_fmt(lo)}..{_fmt(hi)} taken as {u} "
                         f"(the plausible range of {spec.label} in {u}); check the file")
    want = ids.units
    dims_ok = _same_dim(u, want) or (spec.water_equivalent and _water(u, want) is not None)
    if spec.name == "geopotential_height":  # a height (m) or a geopotential (m2/s2), whatever the name says
        want = "m or m^2/s^2"
        dims_ok = _same_dim(u, "m") or _same_dim(u, "m^2/s^2")
    if not dims_ok:
        return None, "", [], f"its units {u!r} are not those of {spec.description} ({want})"
    # plausible values, in the field's units
    conv = _to_field_units(sample, u, spec)
    clo, chi = _span(conv)
    if not (spec.range[0] <= clo and chi <= spec.range[1]):
        return None, "", [], (f"its values ({_fmt(clo)}..{_fmt(chi)} {spec.units}, from {u}) are implausible for "
                              f"{spec.label} (expected {_fmt(spec.range[0])}..{_fmt(spec.range[1])} {spec.units})")
    return u, source, warns, ""


def _water(u: str, want: str) -> float | None:
    """Factor from mass-per-area (flux) units ``u`` to the length (rate) units ``want``."""
    from metpy.units import units

    try:
        q = (1.0 * _u(u) / (1000.0 * units("kg/m^3"))).to(want)
    except Exception:  # noqa: BLE001 - not a water-equivalent pair
        return None
    return float(q.m)


def _to_field_units(values: np.ndarray, u: str, spec: FieldSpec) -> np.ndarray:
    from metpy.units import units

    if spec.name == "geopotential_height" and _same_dim(u, "m^2/s^2"):
        return (units.Quantity(values, _u(u)) / (_G * units("m/s^2"))).to("m").m
    if _same_dim(u, spec.units):
        return units.Quantity(values, _u(u)).to(spec.units).m
    f = _water(u, spec.units)
    return values * f


def _height_or_geopotential(da: xr.DataArray, levels: tuple[float, ...]) -> str | None:
    """'m' or 'm^2/s^2' for unit-less heights, from the standard-atmosphere height of the levels."""
    import metpy.calc as mpcalc
    from metpy.units import units

    ratios = []
    for k, p in enumerate(levels):
        if not 10 <= p <= 850:
            continue
        z = float(mpcalc.pressure_to_height_std(p * units.hPa).m_as("m"))
        sub = da.isel(pressure=k).values
        med = float(np.nanmedian(sub))
        if np.isfinite(med) and z > 0:
            ratios.append(med / z)
    if not ratios:
        return None
    r = float(np.median(ratios))
    if 0.8 <= r <= 1.2:
        return "m"
    if 0.8 <= r / _G <= 1.2:
        return "m^2/s^2"
    return None


# ---------------------------------------------------------------------------------- resolver
def _candidates(ds: xr.Dataset, hor: set[str]) -> tuple[list[_Cand], dict[str, str]]:
    """Plain variables with a horizontal grid, and level-named groups; with skipped ones."""
    all_names = {n for s in field_specs().values() for n in s.ids.names}
    skipped: dict[str, str] = {}
    plain: list[_Cand] = []
    groups: dict[str, list[tuple[str, float]]] = {}
    try:  # CF standard names, as cf_xarray reads them
        std = {str(v): sn for sn, vs in ds.cf.standard_names.items() for v in vs}
    except Exception:  # noqa: BLE001 - cf_xarray cannot parse the attributes: use them as they are
        std = {}
    for name, da in ds.data_vars.items():
        name = str(name)
        if not hor or len(set(map(str, da.dims)) & hor) < 2:
            skipped[name] = "not on the horizontal grid"
            continue
        if da.dtype.kind not in "fiu":
            skipped[name] = f"not numeric ({da.dtype})"
            continue
        vert = _vertical(da, hor)
        attrs = dict(da.attrs)
        if name in std:
            attrs["standard_name"] = std[name]
        plain.append(_Cand(name, (name,), attrs, vert))
        m = LEVEL_NAME.match(name)
        if (m and vert.kind == "single" and name not in all_names
                and str(da.attrs.get("GRIB_typeOfLevel", "isobaricInhPa")) in ("isobaricInhPa", "isobaricInPa")
                and not _METRE_LONG_NAME.search(str(da.attrs.get("long_name", "")))):
            num, unit = float(m["num"]), (m["unit"] or "").lower()
            hpa = num / 100.0 if unit == "pa" else num if unit else (num if num <= 1100 else num / 100.0)
            if 1 <= hpa <= 1100:
                groups.setdefault(m["stem"].rstrip("_-:. "), []).append((name, hpa))
    cands = list(plain)
    for stem, members in groups.items():
        first = ds[members[0][0]]
        same = [mb for mb in members if ds[mb[0]].dims == first.dims and ds[mb[0]].shape == first.shape]
        names, levs = tuple(x for x, _ in same), tuple(lv for _, lv in same)
        cands.append(_Cand(stem, names, dict(first.attrs),
                           _Vertical("pressure", levels=levs, note=""), group=True))
    return cands, skipped


def _acceptable(spec: FieldSpec, cand: _Cand, implied: bool) -> str:
    """'' when ``cand`` sits on the field's vertical coordinate, else why not."""
    v = cand.vertical
    if spec.vertical == "pressure":
        if v.kind == "pressure":
            return ""
        if v.kind == "height":
            return f"it is at {v.height_m:g} m above ground, not on pressure levels"
        if v.kind == "other":
            return f"it is {v.note}"
        return "it has no pressure levels (a single-level field)"
    if spec.vertical == "single":
        if v.kind == "pressure" and len(v.levels) > 1:
            return f"it is on {len(v.levels)} pressure levels, not a single-level field"
        if v.kind == "other":
            return f"it is {v.note}"
        return ""
    # a height above ground
    if v.kind == "height":
        return "" if abs(v.height_m - spec.height_m) <= 0.5 else f"it is at {v.height_m:g} m, not {spec.height_m:g} m"
    if v.kind == "pressure":
        return "it is on pressure levels"
    if v.kind == "other":
        return f"it is {v.note}"
    return "" if implied else f"it carries no height coordinate saying it is at {spec.height_m:g} m"


def _looked_for(spec: FieldSpec) -> str:
    i = spec.ids
    parts = []
    if i.standard_names:
        parts.append("standard_name " + "/".join(i.standard_names))
    grib = [f"paramId {x}" for x in i.grib_param_ids[:2]] + [f"shortName {x}" for x in i.grib_short_names[:2]]
    grib += [f"GRIB2 {c}" for c, _, _ in i.grib2[:2]]
    if grib:
        parts.append("GRIB " + ", ".join(grib))
    parts.append("a name such as " + ", ".join(i.names[:6]))
    if spec.geopotential is not None:
        parts.append("or geopotential (standard_name geopotential, paramId 129, name z)")
    return "; ".join(parts)


def identify_fields(ds: xr.Dataset, fields: list[str] | None = None) -> FieldSet:
    """Find the fields of the alias table in ``ds``.

    Parameters
    ----------
    ds
        A decoded gridded dataset (any naming).
    fields
        Field names to look for (all of the table when ``None``).

    Returns
    -------
    FieldSet
        Normalised arrays of the fields found, how each was found, and for every field not
        found the reason.
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be an xarray.Dataset, got {type(ds).__name__}")
    specs = field_specs()
    wanted = list(specs) if fields is None else list(fields)
    for f in wanted:
        if f not in specs:
            raise ValueError(f"fields: unknown field {f!r}; fields: {', '.join(specs)}")
    fs = FieldSet(source=ds.attrs.get("source_file"))
    work, hor, notes = horizontal_coords(ds)
    fs.warnings += notes
    cands, skipped = _candidates(work, hor)
    claimed: dict[str, str] = {}
    for fname in specs:
        if fname not in wanted and fname not in ("eastward_wind", "northward_wind", "wind_speed", "wind_direction"):
            continue
        spec = specs[fname]
        id_sets = [spec.ids] + ([spec.geopotential] if spec.geopotential is not None else [])
        rejected: list[str] = []
        best = None
        hits = []
        for k_ids, ids in enumerate(id_sets):
            for c in cands:
                rules = _rules(ids, c)
                if not rules:
                    continue
                rule, implied = rules[0][0], any(r[1] for r in rules)
                taken = [m for m in c.members if m in claimed]
                if taken:
                    if not c.group:
                        rejected.append(f"{c.name!r} ({rule}) is already the {claimed[taken[0]]}")
                    continue
                why = _acceptable(spec, c, implied)
                if why:
                    rejected.append(f"{c.name!r} ({rule}): {why}")
                    continue
                order = next(k for k, r in enumerate(_RULE_ORDER) if rule.startswith(r)) \
                    + (0.5 if "(ignoring case)" in rule else 0.0)
                hits.append((order, -len(c.vertical.levels), k_ids, rule, c, ids))
        tried: set[str] = set()
        for _, _, _, rule, c, ids in sorted(hits, key=lambda h: h[:3]):
            if c.name in tried:
                continue
            tried.add(c.name)
            da, bnotes = _build(work, c)
            u, src, warns, why = _check_units(spec, ids, c, da)
            if why:
                rejected.append(f"{c.name!r} ({rule}): {why}")
                continue
            best = (c, rule, da, u, src, warns + bnotes)
            break
        if best is None:
            if fname in wanted:
                fs.missing[fname] = ("; ".join(dict.fromkeys(rejected)) if rejected
                                     else f"not in the file (looked for {_looked_for(spec)})")
            continue
        c, rule, da, u, src, warns = best
        da, u, src, rule, warns = _finish(spec, c, rule, da, u, src, warns)
        da = _with_crs(work, da.rename(fname), c.attrs)
        fs.arrays[fname] = da
        levels = tuple(float(x) for x in da["pressure"].values) if "pressure" in da.dims else ()
        fs.found[fname] = FieldMatch(fname, c.members, rule, u, src, levels, tuple(warns))
        for m in c.members:
            claimed[m] = spec.label
    _derive_winds(fs, work, wanted)
    for f in list(fs.found):
        if f not in wanted:
            fs.found.pop(f)
            fs.arrays.pop(f)
    for n in map(str, ds.data_vars):
        if "grid_mapping_name" in ds[n].attrs:
            continue
        if n not in claimed and not any(n in m.variables for m in fs.found.values()):
            fs.unused[n] = skipped.get(n, "matches no field of the alias table")
    return fs


_RULE_ORDER = ("standard_name", "GRIB_paramId", "GRIB_shortName", "GRIB_cfVarName", "GRIB2", "NCEP",
               "name", "level-named", "long_name")


def _finish(spec: FieldSpec, c: _Cand, rule: str, da: xr.DataArray, u: str, src: str, warns: list[str]):
    """Convert geopotential to height and mass per area to mm; set the units attribute."""
    from metpy.units import units

    attrs = {k: v for k, v in da.attrs.items() if k not in ("units",)}
    attrs.update(hvrmet_field=spec.name, hvrmet_source=", ".join(c.members), hvrmet_rule=rule)
    if spec.name == "geopotential_height" and _same_dim(u, "m^2/s^2"):
        q = units.Quantity(np.asarray(da.values, float), _u(u)) / (_G * units("m/s^2"))
        da = da.copy(data=q.to("m").m)
        rule = f"{rule}: geopotential divided by g = {_G} m/s2"
        u, src = "m", "converted"
    elif spec.water_equivalent and not _same_dim(u, spec.units) and _water(u, spec.units) is not None:
        f = _water(u, spec.units)
        da = da.copy(data=np.asarray(da.values, float) * f)
        warns = warns + [f"{c.name} in {u} taken as water equivalent: {spec.units} (1 kg/m2 = 1 mm)"]
        u, src = spec.units, "converted"
    if c.attrs.get("standard_name") == "x_wind" or c.attrs.get("standard_name") == "y_wind":
        warns = warns + [f"{c.name} is grid-relative ({c.attrs['standard_name']}); taken as earth-relative"]
    da.attrs = {**attrs, "units": u}
    return da, u, src, rule, warns


def _derive_winds(fs: FieldSet, ds: xr.Dataset, wanted: list[str]) -> None:
    """u/v from speed and direction, speed/direction from u and v (metpy.calc), where absent."""
    import metpy.calc as mpcalc

    def common(a: xr.DataArray, b: xr.DataArray):
        lv = sorted(set(np.round(a["pressure"].values, 3)) & set(np.round(b["pressure"].values, 3)), reverse=True)
        if not lv:
            return None
        pick = lambda x: x.isel(pressure=[int(np.flatnonzero(np.round(x["pressure"].values, 3) == p)[0]) for p in lv])
        return pick(a), pick(b)

    def put(name: str, da: xr.DataArray, srcs: tuple[str, ...], rule: str, units: str) -> None:
        da = da.metpy.dequantify() if hasattr(da.data, "units") else da
        da = da.rename(name)
        da.attrs.update(units=units, hvrmet_field=name, hvrmet_rule=rule)
        fs.arrays[name] = da
        fs.found[name] = FieldMatch(name, srcs, rule, units, "derived",
                                    tuple(float(x) for x in da["pressure"].values))
        fs.missing.pop(name, None)

    have_uv = "eastward_wind" in fs.arrays and "northward_wind" in fs.arrays
    have_sd = "wind_speed" in fs.arrays and "wind_direction" in fs.arrays
    if not have_uv and have_sd:
        pair = common(fs.arrays["wind_speed"], fs.arrays["wind_direction"])
        if pair is not None:
            s, d = pair
            u, v = mpcalc.wind_components(s.metpy.quantify(), d.metpy.quantify())
            srcs = fs.found["wind_speed"].variables + fs.found["wind_direction"].variables
            put("eastward_wind", u.metpy.convert_units("m/s"), srcs,
                "derived from wind speed and direction (metpy.calc.wind_components)", "m/s")
            put("northward_wind", v.metpy.convert_units("m/s"), srcs,
                "derived from wind speed and direction (metpy.calc.wind_components)", "m/s")
    elif have_uv and not have_sd and ({"wind_speed", "wind_direction"} & set(wanted)):
        pair = common(fs.arrays["eastward_wind"], fs.arrays["northward_wind"])
        if pair is not None:
            u, v = (x.metpy.quantify() for x in pair)
            srcs = fs.found["eastward_wind"].variables + fs.found["northward_wind"].variables
            if "wind_speed" not in fs.arrays:
                put("wind_speed", mpcalc.wind_speed(u, v).metpy.convert_units("m/s"), srcs,
                    "derived from u and v (metpy.calc.wind_speed)", "m/s")
            if "wind_direction" not in fs.arrays:
                put("wind_direction", mpcalc.wind_direction(u, v).metpy.convert_units("degree"), srcs,
                    "derived from u and v (metpy.calc.wind_direction)", "degree")


# ------------------------------------------------------------------------------------ cache
_CACHE: dict[int, tuple[weakref.ref, FieldSet]] = {}
_LOCK = threading.Lock()


def fields_of(ds: xr.Dataset) -> FieldSet:
    """:func:`identify_fields` of ``ds``, computed once per dataset object."""
    key = id(ds)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0]() is ds:
            return hit[1]
    fs = identify_fields(ds)
    with _LOCK:
        _CACHE[key] = (weakref.ref(ds, lambda _r, k=key: _CACHE.pop(k, None)), fs)
    return fs
