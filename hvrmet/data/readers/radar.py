"""Radar volumes of every format as one sweep tree: xradar's FM-301 / CfRadial 2 layout.

Every radar reader returns the same model, an :class:`xarray.DataTree`:

* the root holds the site (coordinates ``latitude``, ``longitude`` in degrees and
  ``altitude`` in m above mean sea level), the FM-301 root variables
  (``time_coverage_start``, ``time_coverage_end``, ``sweep_group_name``,
  ``sweep_fixed_angle``, ...) and attributes: ``instrument_name`` (the site id, also as
  ``radar_site``), ``time_coverage_start`` (UTC, ``YYYY-MM-DDTHH:MM:SSZ``, also as
  ``volume_start_time``), ``source_file``, ``sha256``, ``format`` (the hvrmet format
  name), ``decoder`` (the library and function that decoded the file),
  ``site_location_source`` and, for the code that reads them as attributes,
  ``site_latitude``, ``site_longitude`` and ``site_altitude_m``;
* one node per sweep, ``sweep_0``, ``sweep_1``, ... in the file's order, each with its own
  ``range`` (slant range to the gate centre, m; ``meters_between_gates`` and
  ``meters_to_center_of_first_gate`` in its attributes), its own moments and the sweep
  variables ``sweep_number``, ``sweep_mode``, ``sweep_fixed_angle`` and, where the file
  gives it, ``nyquist_velocity`` (m/s). A PPI (``sweep_mode`` ``azimuth_surveillance``
  or ``sector``) has dims ``(azimuth, range)``, rays sorted by azimuth; an RHI
  (``sweep_mode`` ``rhi``) has dims ``(elevation, range)``, rays sorted by elevation.
  Every ray has ``azimuth``, ``elevation`` (degree) and ``time`` (UTC) coordinates.

Moments get hvrmet's names and units whatever the format calls them (:data:`MOMENTS`):
``DBZH``/``DBZ``/``REF``/``TH``/``reflectivity`` become ``reflectivity`` (dBZ),
``VRADH``/``VEL``/``VR`` become ``radial_velocity`` (m/s) and so on; the name in the file
is kept in the moment's ``source_name`` attribute, and a moment hvrmet does not know
keeps its own name. Where a file holds two candidates (ODIM ``DBZH`` and ``TH``), the
first in :data:`MOMENTS` order wins and the other keeps its own name.

Decoding is xradar's (``xradar.io.open_*_datatree``) for every format it reads; NEXRAD
Level II files it cannot read (message 1, and TDWR where it fails) are decoded by MetPy
(:mod:`hvrmet.data.readers.nexrad_level2`) into the same tree. Every failure is a
:class:`hvrmet.errors.FormatError` naming the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, reading
from hvrmet.errors import FormatError

__all__ = ["read_cfradial1", "read_cfradial2", "read_odim_h5", "read_iris", "read_rainbow", "read_gamic",
           "read_uf", "read_furuno", "normalise_tree", "build_tree", "sweep_dataset", "decode_codes",
           "cf_time_reference", "MOMENTS",
           "MIN_SWEEP_COVERAGE_DEG", "PPI_MODES", "XRADAR_OPENERS"]

#: hvrmet moment name -> units, CF standard name, long name, names in files (in order of
#: preference) and standard names that also identify it.
MOMENTS: dict[str, dict[str, Any]] = {
    "reflectivity": {
        "units": "dBZ", "standard_name": "equivalent_reflectivity_factor",
        "long_name": "equivalent reflectivity factor",
        "names": ("DBZH", "DBZ", "REF", "reflectivity", "DBZHC", "corrected_reflectivity", "TH"),
        "standard_names": ("equivalent_reflectivity_factor", "radar_equivalent_reflectivity_factor_h")},
    "radial_velocity": {
        "units": "m/s", "standard_name": "radial_velocity_of_scatterers_away_from_instrument",
        "long_name": "radial velocity of scatterers away from the radar",
        "names": ("VRADH", "VEL", "VR", "VRAD", "radial_velocity", "velocity", "mean_doppler_velocity",
                  "corrected_velocity"),
        "standard_names": ("radial_velocity_of_scatterers_away_from_instrument",
                           "radial_velocity_of_scatterers_away_from_instrument_h")},
    "spectrum_width": {
        "units": "m/s", "standard_name": "doppler_spectrum_width", "long_name": "Doppler spectrum width",
        "names": ("WRADH", "SW", "WRAD", "WIDTH", "spectrum_width", "spectral_width"),
        "standard_names": ("doppler_spectrum_width", "radar_doppler_spectrum_width", "doppler_spectrum_width_h")},
    "differential_reflectivity": {
        "units": "dB", "standard_name": "log_differential_reflectivity_hv", "long_name": "differential reflectivity",
        "names": ("ZDR", "differential_reflectivity"),
        "standard_names": ("log_differential_reflectivity_hv", "radar_differential_reflectivity_hv")},
    "cross_correlation_ratio": {
        "units": "1", "standard_name": "cross_correlation_ratio_hv", "long_name": "co-polar correlation coefficient",
        "names": ("RHOHV", "RHO", "CC", "cross_correlation_ratio", "cross_correlation_ratio_hv"),
        "standard_names": ("cross_correlation_ratio_hv", "radar_correlation_coefficient_hv")},
    "differential_phase": {
        "units": "degree", "standard_name": "differential_phase_hv", "long_name": "differential phase",
        "names": ("PHIDP", "PHI", "differential_phase"),
        "standard_names": ("differential_phase_hv", "radar_differential_phase_hv")},
    "specific_differential_phase": {
        "units": "degree/km", "standard_name": "specific_differential_phase_hv",
        "long_name": "specific differential phase",
        "names": ("KDP", "specific_differential_phase"),
        "standard_names": ("specific_differential_phase_hv", "radar_specific_differential_phase_hv")},
}

#: Unit spellings met in radar files, for each hvrmet unit (compared lower-case, no spaces).
_UNIT_SPELLINGS = {
    "dBZ": {"dbz", "db(z)", "dbz(h)"},
    "m/s": {"m/s", "meterspersecond", "metersperseconds", "meters/second", "meter/second", "ms-1", "m.s-1",
            "m*s-1", "meters_per_second", "m/sec", "metrepersecond", "metrespersecond"},
    "dB": {"db"},
    "1": {"", "1", "unitless", "none", "ratio", "dimensionless", "-", "fraction", "n/a"},
    "degree": {"degree", "degrees", "deg", "°", "degrees_east", "degree_angle"},
    "degree/km": {"degree/km", "degrees/km", "deg/km", "degreesperkilometer", "degreesperkm", "degreeperkm",
                  "°/km", "degreesperkilometre", "deg.km-1", "degkm-1"},
}

#: A full-circle sweep must cover at least this much azimuth, else the volume is called truncated.
MIN_SWEEP_COVERAGE_DEG = 300.0

#: ``sweep_mode`` values of plan-position (constant-elevation) sweeps.
PPI_MODES = ("azimuth_surveillance", "sector", "ppi", "manual_ppi")

#: hvrmet format name -> (xradar opener, words for messages).
XRADAR_OPENERS: dict[str, tuple[str, str]] = {
    "cfradial1": ("open_cfradial1_datatree", "CfRadial 1"),
    "cfradial2": ("open_cfradial2_datatree", "CfRadial 2"),
    "odim_h5": ("open_odim_datatree", "ODIM_H5"),
    "iris": ("open_iris_datatree", "IRIS/Sigmet RAW"),
    "rainbow": ("open_rainbow_datatree", "Gematronik Rainbow 5"),
    "gamic": ("open_gamic_datatree", "GAMIC HDF5"),
    "uf": ("open_uf_datatree", "Universal Format (UF)"),
    "furuno": ("open_furuno_datatree", "Furuno SCN/SCNX"),
}

#: Record formats: a cut file decodes into short sweeps, so short full-circle sweeps mean
#: truncation. (A netCDF or HDF5 file that is cut does not open at all; a short sweep in
#: it is a sector scan.)
_RECORD_FORMATS = {"iris", "uf", "furuno", "rainbow", "nexrad_level2"}


#: Formats whose integer-coded moments hvrmet decodes itself (xradar is opened with
#: ``mask_and_scale=False``), so that the format's no-data codes become NaN: ODIM_H5
#: ``nodata`` and ``undetect``, Rainbow 0, NEXRAD Level II 0 (below threshold) and
#: 1 (range folded). (With the xarray here xradar leaves them as values: -32 dBZ,
#: -64.5 m/s.)
_RAW_CODED = {"odim_h5": (), "rainbow": (0,), "nexrad_level2": (0, 1)}


# --------------------------------------------------------------------------- readers
def _xradar_reader(fmt: str) -> Callable[..., xr.DataTree]:
    opener, words = XRADAR_OPENERS[fmt]

    def read(path: str | Path, *, sha256: str = "", site: str | None = None) -> xr.DataTree:
        p = check_file(path)
        with reading(p, words), _quiet():
            import xradar

            kwargs = {"mask_and_scale": False} if fmt in _RAW_CODED else {}
            tree = _iris_tree(p) if fmt == "iris" else getattr(xradar.io, opener)(str(p), **kwargs)
            try:
                nyq = _odim_nyquist(p) if fmt == "odim_h5" else None
                out = normalise_tree(tree, p, fmt, site=site, nyquist=nyq,
                                     decoder=f"xradar {xradar.__version__} {opener}")
            finally:
                tree.close()
        return _provenance(out, p, sha256, fmt)

    read.__name__ = f"read_{fmt}"
    read.__qualname__ = read.__name__
    read.__doc__ = f"""Read a {words} radar file into hvrmet's sweep tree (see :mod:`hvrmet.data.readers.radar`).

    Decoded by ``xradar.io.{opener}``; moments renamed to hvrmet's names and units.

    Parameters
    ----------
    path
        The file.
    sha256
        The file's sha256 (computed when not given), recorded in the root attributes.
    site
        Site id to use when the file names none.

    Returns
    -------
    xarray.DataTree
        Root with the site and volume metadata, one ``sweep_<n>`` node per sweep.

    Raises
    ------
    hvrmet.errors.FormatError
        If the file cannot be decoded as {words}, holds no sweep or no moment, or is
        truncated (a full-circle sweep covering under {MIN_SWEEP_COVERAGE_DEG:g} degrees
        of azimuth in a record format).
    """
    return read


read_cfradial1 = _xradar_reader("cfradial1")
read_cfradial2 = _xradar_reader("cfradial2")
read_odim_h5 = _xradar_reader("odim_h5")
read_iris = _xradar_reader("iris")
read_rainbow = _xradar_reader("rainbow")
read_gamic = _xradar_reader("gamic")
read_uf = _xradar_reader("uf")
read_furuno = _xradar_reader("furuno")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the decoders' warnings (unclosed files, numpy casts): the reader reports
    what matters itself."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _provenance(tree: xr.DataTree, p: Path, sha256: str, fmt: str) -> xr.DataTree:
    if not sha256:
        from hvrmet.data.registry import file_sha256

        sha256 = file_sha256(p)
    add_provenance(tree, p, sha256, fmt)  # type: ignore[arg-type]  (works on the root's attrs)
    tree.attrs["format"] = fmt
    return tree


# --------------------------------------------------------------------------- normalising
def _text(v: Any) -> str:
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        v = v.item() if v.size == 1 else ""
        return _text(v)
    s = str(v).strip().strip("\x00").strip()
    return "" if s.lower() in ("none", "nan", "unknown", "") else s


def _scalar(ds: xr.Dataset, name: str) -> Any:
    if name not in ds.variables:
        return None
    v = np.asarray(ds[name].values)
    if v.size == 0:
        return None
    return v.reshape(-1)[0]


def _sweep_mode(ds: xr.Dataset) -> str:
    mode = _text(_scalar(ds, "sweep_mode") or "").lower().replace(" ", "")
    for known in ("azimuth_surveillance", "elevation_surveillance", "vertical_pointing", "manual_ppi",
                  "manual_rhi", "sector", "rhi", "ppi", "pointing", "sun", "idle"):
        if known in mode:
            return known
    return mode


_KNOWN_MODES = ("azimuth_surveillance", "elevation_surveillance", "vertical_pointing", "manual_ppi",
                "manual_rhi", "sector", "rhi", "ppi", "sun", "idle")


def _mode_from_angles(ds: xr.Dataset, ray_dim: str) -> str:
    """A sweep's mode from its angles, where the file's is missing or unreadable."""
    el = np.asarray(ds["elevation"].values, np.float64) if "elevation" in ds.coords else np.array([np.nan])
    az = np.asarray(ds["azimuth"].values, np.float64) if "azimuth" in ds.coords else np.array([np.nan])
    if np.nanmedian(el) > 85.0:
        return "vertical_pointing"
    if np.nanmax(el) - np.nanmin(el) > 5.0 and _coverage(az) < 10.0:
        return "rhi"
    return "azimuth_surveillance"


def _units_factor(units: str, target: str) -> float | None:
    """The factor that converts data in ``units`` to ``target``, or ``None`` when they
    do not convert."""
    key = units.strip().lower().replace(" ", "")
    if key in _UNIT_SPELLINGS.get(target, set()):
        return 1.0
    if target in ("dBZ", "dB", "1"):
        return None
    try:
        from metpy.units import units as ureg

        return float(ureg.Quantity(1.0, units.replace("seconds", "second")).to(
            target.replace("degree/km", "degree/kilometer")).magnitude)
    except Exception:  # noqa: BLE001 - units pint cannot read do not convert
        return None


def _rename_moments(ds: xr.Dataset, ray_dim: str, notes: list[str],
                    label: str) -> tuple[dict[str, xr.Variable], list[str]]:
    """A sweep's moments under hvrmet's names and units (see :data:`MOMENTS`): the new
    variables by name, and the names in the file they replace."""
    moments = [v for v in ds.data_vars if ds[v].dims == (ray_dim, "range")]
    taken: dict[str, str] = {}
    for name, spec in MOMENTS.items():
        cands = [n for n in spec["names"] if n in moments and n not in taken.values()]
        cands += [n for n in moments if n not in cands and n not in taken.values()
                  and str(ds[n].attrs.get("standard_name", "")) in spec["standard_names"]]
        for cand in cands:
            factor = _units_factor(str(ds[cand].attrs.get("units", "")), spec["units"])
            if factor is None:
                notes.append(f"{label}: {cand} is in {ds[cand].attrs.get('units', '')!r}, not {spec['units']}: "
                             f"kept under its own name")
                continue
            taken[name] = cand
            break
    out = {}
    for canon, src in taken.items():
        spec = MOMENTS[canon]
        factor = _units_factor(str(ds[src].attrs.get("units", "")), spec["units"]) or 1.0
        data = ds[src].values.astype(np.float32)
        if factor != 1.0:
            data = data * np.float32(factor)
        attrs = {"units": spec["units"], "standard_name": spec["standard_name"], "long_name": spec["long_name"],
                 "source_name": src}
        if str(ds[src].attrs.get("units", "")) not in ("", spec["units"]):
            attrs["source_units"] = str(ds[src].attrs.get("units"))
        out[canon] = xr.Variable((ray_dim, "range"), data, attrs)
    for v in moments:
        if v in taken.values():
            continue
        new = v if v not in MOMENTS else f"{v}_unselected"
        src = ds[v].variable
        var = src.astype(np.float32) if src.dtype.kind == "f" else src.copy(deep=False)
        var.attrs = {**src.attrs, "source_name": v}
        out[new] = var
    return out, moments


def _coverage(az: np.ndarray) -> float:
    """Degrees of azimuth a sweep covers: 360 less its largest gap between rays."""
    a = np.asarray(az, np.float64)
    a = a[np.isfinite(a)]
    if a.size < 2:
        return 0.0
    s = np.sort(a % 360.0)
    gaps = np.diff(np.concatenate([s, s[:1] + 360.0]))
    return float(360.0 - gaps.max())


def sweep_dataset(ds: xr.Dataset, *, label: str, p: Path, fmt: str, notes: list[str],
                  nyquist: float | None = None) -> xr.Dataset | None:
    """One decoded sweep in hvrmet's layout (or ``None`` for a sweep without moments).

    Loads the data into memory, sorts the rays (by azimuth for a PPI, by elevation for an
    RHI, whose ray dimension becomes ``elevation``), renames the moments
    (:data:`MOMENTS`), checks the azimuth coverage and records the gate geometry.
    """
    ds = ds.load()
    site = [c for c in ("latitude", "longitude", "altitude") if c in ds.coords and ds[c].ndim == 0]
    if site:
        ds = ds.drop_vars(site)
    if "range" not in ds.dims:
        return None
    ray_dim = next((d for d in ds.dims if d != "range" and d in ("azimuth", "elevation", "time")), None)
    if ray_dim is None:
        raise FormatError(p, f"{label} has no ray dimension (dims {', '.join(map(str, ds.dims))})")
    mode = _sweep_mode(ds)
    if mode not in _KNOWN_MODES or mode == "pointing":
        mode = _mode_from_angles(ds, ray_dim)
    if mode == "rhi" and ray_dim != "elevation" and "elevation" in ds.coords:
        ds = ds.swap_dims({ray_dim: "elevation"})
        ray_dim = "elevation"
    elif mode in PPI_MODES and ray_dim != "azimuth" and "azimuth" in ds.coords:
        ds = ds.swap_dims({ray_dim: "azimuth"})
        ray_dim = "azimuth"
    for c in ("azimuth", "elevation"):
        if c not in ds.coords:
            raise FormatError(p, f"{label} has no {c} angles")
    key = ds[ray_dim].values
    order = np.argsort(key, kind="stable")  # as sortby: stable, NaN last
    if not np.array_equal(order, np.arange(order.size)):
        ds = ds.isel({ray_dim: order})
    moments, replaced = _rename_moments(ds, ray_dim, notes, label)
    if not moments:
        notes.append(f"{label}: no moment; left out")
        return None
    rng = ds["range"].values.astype(np.float64)
    if rng.size < 1 or not np.all(np.isfinite(rng)) or (rng.size > 1 and not np.all(np.diff(rng) > 0)):
        raise FormatError(p, f"{label} has no valid range axis (gate ranges missing or not increasing)")
    spacing = float(np.median(np.diff(rng))) if rng.size > 1 else float("nan")
    # the sweep is assembled once at the end from its variables (each assign or drop on a
    # dataset copies and realigns it: a dozen of them cost more than decoding a sweep)
    coords: dict[str, Any] = {}
    rv = ds["range"].variable.copy(deep=False)
    rv.attrs = {**rv.attrs, "units": "m", "long_name": "slant range to the gate centre",
                "meters_between_gates": spacing, "meters_to_center_of_first_gate": float(rng[0])}
    coords["range"] = rv
    for c in ("azimuth", "elevation"):
        var = ds[c].variable.astype(np.float32)
        var.attrs = {**ds[c].attrs, "units": "degree"}
        coords[c] = var
    if "time" in ds.coords and ds["time"].dtype.kind != "M":
        with contextlib.suppress(Exception):
            coords["time"] = ds["time"].variable.astype("datetime64[ns]")
    upd: dict[str, Any] = {}
    fixed = _float(_scalar(ds, "sweep_fixed_angle")) if "sweep_fixed_angle" in ds.variables else float("nan")
    if not np.isfinite(fixed):
        angle = coords["azimuth"] if mode == "rhi" else coords["elevation"]
        upd["sweep_fixed_angle"] = xr.Variable((), np.float32(np.nanmedian(angle.values)), {"units": "degree"})
    if "sweep_mode" not in ds.variables or not _text(_scalar(ds, "sweep_mode")):
        upd["sweep_mode"] = xr.Variable((), "azimuth_surveillance" if ray_dim == "azimuth" else "rhi")
    else:
        upd["sweep_mode"] = xr.Variable((), mode)
    drop = set(replaced)
    if "nyquist_velocity" in ds.variables:
        try:
            nv = np.asarray(ds["nyquist_velocity"].values, dtype=np.float64)
            ok = np.isfinite(nv).any()
        except (TypeError, ValueError):
            ok = False
        if ok:
            upd["nyquist_velocity"] = xr.Variable((), np.float32(np.nanmedian(nv)), {"units": "m/s"})
        else:
            drop.add("nyquist_velocity")
    if nyquist is not None and np.isfinite(nyquist):
        upd["nyquist_velocity"] = xr.Variable((), np.float32(nyquist), {"units": "m/s"})
        drop.discard("nyquist_velocity")
    attrs = dict(ds.attrs)
    if mode in ("azimuth_surveillance", "ppi") or (mode in PPI_MODES and fmt in _RECORD_FORMATS):
        cover = _coverage(coords["azimuth"].values)
        attrs["azimuth_coverage_deg"] = round(cover, 1)
        if cover < MIN_SWEEP_COVERAGE_DEG:
            if fmt in _RECORD_FORMATS:
                raise FormatError(p, f"{label} covers only {cover:.0f} degrees of azimuth: the volume is "
                                     "truncated or corrupted")
            upd["sweep_mode"] = xr.Variable((), "sector")
            notes.append(f"{label}: a sector of {cover:.0f} degrees of azimuth")
    attrs["gate_spacing_m"] = spacing
    coord_names = set(ds.coords)
    data_vars, coord_vars = {}, {}
    for name, var in ds.variables.items():  # the file's order, changed variables in place
        if name in drop:
            continue
        var = coords.get(name, upd.pop(name, var)) if name in coord_names else upd.pop(name, var)
        (coord_vars if name in coord_names else data_vars)[name] = var
    for name, var in {**moments, **upd}.items():
        data_vars[name] = var
    return xr.Dataset(data_vars, coords=coord_vars, attrs=attrs)


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _iso(t: Any) -> str:
    """A time (text, datetime, datetime64) as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or ''."""
    if t is None:
        return ""
    if isinstance(t, dt.datetime):
        if t.tzinfo is not None:
            t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return f"{np.datetime64(t, 's')}Z"
    s = _text(t)
    if not s:
        return ""
    try:
        v = np.datetime64(s.replace("Z", "").replace("+00:00", "").replace(" ", "T").rstrip("T"), "s")
    except ValueError:
        return ""
    return "" if np.isnat(v) else f"{v}Z"


def build_tree(sweeps: list[xr.Dataset], *, p: Path, fmt: str, site_id: str, lat: float, lon: float,
               alt: float, location_source: str, decoder: str, root: xr.Dataset | None = None,
               attrs: dict[str, Any] | None = None, notes: list[str] | None = None,
               time_start: str = "", time_end: str = "") -> xr.DataTree:
    """Assemble sweep datasets (already in hvrmet's layout, see :func:`sweep_dataset`) and
    the site into hvrmet's sweep tree, renumbering the sweeps ``sweep_0..``."""
    if not sweeps:
        raise FormatError(p, "no sweep with radar moments decoded: not a radar volume, or truncated")
    for name, v in (("latitude", lat), ("longitude", lon)):
        if not np.isfinite(v) or abs(v) > (90.0 if name == "latitude" else 360.0):
            raise FormatError(p, f"the site {name} ({v}) is not valid")
    if not np.isfinite(alt):
        alt = 0.0
    times = [ds["time"].values for ds in sweeps if "time" in ds.coords and ds["time"].dtype.kind == "M"]
    times = [t[~np.isnat(t)] for t in times]
    times = [t for t in times if t.size]
    t0 = time_start or (_iso(min(t.min() for t in times)) if times else "")
    t1 = time_end or (_iso(max(t.max() for t in times)) if times else "")
    if not t0:
        raise FormatError(p, "the file gives no time for the volume")
    base = root.copy() if root is not None else xr.Dataset()
    base = base.drop_vars([v for v in base.variables if "sweep" in base[v].dims or v in (
        "latitude", "longitude", "altitude", "time_coverage_start", "time_coverage_end")], errors="ignore")
    names = [f"sweep_{i}" for i in range(len(sweeps))]
    fixed = [np.float32(_float(_scalar(ds, "sweep_fixed_angle"))) for ds in sweeps]
    base = base.assign({
        "time_coverage_start": ((), t0), "time_coverage_end": ((), t1 or t0),
        "sweep_group_name": (("sweep",), np.array(names)),
        "sweep_fixed_angle": (("sweep",), np.array(fixed, np.float32), {"units": "degree"}),
    })
    for v, val in (("volume_number", 0), ("platform_type", "fixed"), ("instrument_type", "radar")):
        if v not in base.variables:
            base[v] = ((), val)
    base = base.assign_coords(
        latitude=((), float(lat), {"units": "degree_north", "standard_name": "latitude"}),
        longitude=((), float(lon), {"units": "degree_east", "standard_name": "longitude"}),
        altitude=((), float(alt), {"units": "m", "standard_name": "altitude",
                                   "long_name": "altitude of the radar above mean sea level"}))
    keep = {k: v for k, v in base.attrs.items() if _text(v) and k not in ("comment",)}
    base.attrs = keep
    base.attrs.update({
        "Conventions": "CF-1.8, FM-301 (CfRadial 2.1) sweep groups",
        "instrument_name": site_id, "radar_site": site_id,
        "time_coverage_start": t0, "time_coverage_end": t1 or t0, "volume_start_time": t0,
        "site_latitude": float(lat), "site_longitude": float(lon), "site_altitude_m": float(alt),
        "site_location_source": location_source, "decoder": decoder, "format": fmt,
        "title": f"{site_id or 'radar'} volume {t0}",
        "notes": list(notes or []),
        **(attrs or {}),
    })
    tree = xr.DataTree.from_dict({"/": base, **{n: ds for n, ds in zip(names, sweeps)}})
    return tree


def normalise_tree(tree: xr.DataTree, p: Path, fmt: str, *, site: str | None = None, decoder: str = "",
                   nyquist: dict[int, float] | None = None, attrs: dict[str, Any] | None = None) -> xr.DataTree:
    """An xradar tree in hvrmet's layout: sweeps loaded, sorted and renamed, site and
    time checked, provenance-ready root attributes.

    Raises
    ------
    hvrmet.errors.FormatError
        If no sweep holds a moment, a full-circle sweep of a record format is short
        (truncated), or the site or time is missing.
    """
    root = tree.to_dataset(inherit=False)
    notes: list[str] = []
    nodes = sorted((n for n in tree.children if n.startswith("sweep_")), key=lambda n: int(n.split("_")[1])
                   if n.split("_")[1].isdigit() else 10**6)
    sweeps = []
    iris_values, iris_raw = _iris_nodata_values(p) if fmt == "iris" else ({}, [])
    iris_masks = _iris_nodata(p, len(nodes), only=iris_raw) if iris_raw else {}
    for k, name in enumerate(nodes):
        ds = tree[name].to_dataset(inherit=False).load()
        if fmt in _RAW_CODED:
            ds = decode_codes(ds, _RAW_CODED[fmt], fmt)
        for m, values in iris_values.items():
            if m in ds.data_vars and ds[m].ndim == 2:
                ds[m] = ds[m].where(~_near_any(ds[m].values, values))
        for m, bad in iris_masks.get(k, {}).items():
            if m in ds.data_vars and ds[m].shape == bad.shape:
                ds[m] = ds[m].where(~bad)
        num = _scalar(ds, "sweep_number")
        nyq = (nyquist or {}).get(int(num) if num is not None and np.isfinite(_float(num)) else k)
        out = sweep_dataset(ds, label=f"sweep {k}", p=p, fmt=fmt, notes=notes, nyquist=nyq)
        if out is not None:
            sweeps.append(out)
    if fmt in ("cfradial1", "cfradial2"):
        _fix_cf_times(p, sweeps, notes)
    site_id = _site_id(tree, p, fmt) or (site or "").upper()
    lat, lon, alt = (_float(_scalar(root, c)) for c in ("latitude", "longitude", "altitude"))
    source = "file"
    if not (np.isfinite(lat) and np.isfinite(lon)) or (lat == 0.0 and lon == 0.0):
        from hvrmet.data.readers.nexrad_level2 import site_from_table

        site_id, lat, lon, alt, source = site_from_table(p, site_id or site)
    return build_tree(sweeps, p=p, fmt=fmt, site_id=site_id, lat=lat, lon=lon, alt=alt,
                      location_source=source, decoder=decoder, root=root, attrs=attrs, notes=notes,
                      time_start=_iso(_scalar(root, "time_coverage_start")),
                      time_end=_iso(_scalar(root, "time_coverage_end")))


def decode_codes(ds: xr.Dataset, codes: tuple[int, ...], fmt: str) -> xr.Dataset:
    """Decode a sweep's integer-coded moments (``scale_factor``, ``add_offset``) to float32,
    the no-data codes (``codes``, ``_FillValue``, ODIM's ``_Undetect``) as NaN."""
    for v in list(ds.data_vars):
        da = ds[v]
        if da.ndim != 2:
            continue
        attrs = dict(da.attrs)
        fill = [attrs.pop(k) for k in ("_FillValue", "_Undetect", "missing_value") if attrs.get(k) is not None]
        scale = attrs.pop("scale_factor", None)
        offset = attrs.pop("add_offset", None)
        raw = da.values
        if raw.dtype.kind not in "ui" and not fill:
            continue
        bad = np.zeros(raw.shape, bool)
        if raw.dtype.kind in "ui":
            for c in codes:
                bad |= raw == c
        for f in fill:
            with np.errstate(invalid="ignore"):
                bad |= raw == np.asarray(f).astype(raw.dtype) if raw.dtype.kind in "ui" else raw == f
        val = raw.astype(np.float64)
        if scale is not None:
            val = val * float(scale)
        if offset is not None:
            val = val + float(offset)
        val = val.astype(np.float32)
        val[bad] = np.nan
        attrs["no_data_codes"] = f"{fmt} no-data codes (raw {', '.join(str(c) for c in [*codes, *fill])}) set to NaN"
        ds[v] = xr.Variable(da.dims, val, attrs)
    return ds


def _iris_offsets(rf):
    """An IRIS/Sigmet raw file with every sweep's ray offsets found first, so that every
    moment (and the ray angles and times) is read by ray offset.

    xradar reads the first moment of a sweep while it scans for the offsets, and stores
    that scan's ray ``r`` in row ``r - 1`` (its row counter starts at -1), so the first
    moment and the ray angles decoded from it are one ray out of step with every moment
    read afterwards by offset: in xradar 0.12's own tree all moments but one sit one ray
    (about a degree) away from their azimuth, as Py-ART's reading of the same file shows.
    With the offsets found beforehand no moment goes through that scan.
    """
    for n, sweep in rf.data.items():
        if not sweep.get("ray_offsets"):
            rf._get_ray_record_offsets_and_data(n, None, idx=None)
    return rf


def _iris_tree(p: Path) -> xr.DataTree:
    """An IRIS/Sigmet RAW volume as xradar's tree (the steps of
    :func:`xradar.io.open_iris_datatree`), read from one file object whose ray offsets are
    found before any moment (:func:`_iris_offsets`); loaded. Another IRIS file type (a
    product) goes to xradar's own function."""
    import xradar
    from xarray.backends.file_manager import DummyFileManager
    from xarray.backends.store import StoreBackendEntrypoint

    try:
        from xradar.io.backends.common import (_apply_site_as_coords, _attach_sweep_groups,
                                               _get_required_root_dataset)
        from xradar.io.backends.iris import IrisRawFile, IrisStore, _check_iris_file
    except ImportError:  # another xradar: its own reader
        return xradar.io.open_iris_datatree(str(p)).load()
    _sid, opener = _check_iris_file(str(p))
    if opener is not IrisRawFile:
        return xradar.io.open_iris_datatree(str(p)).load()
    rf = _iris_offsets(IrisRawFile(str(p), loaddata=False))
    manager = DummyFileManager(rf)
    entry = StoreBackendEntrypoint()
    sweeps = []
    try:
        for grp in sorted(rf.data):
            ds = entry.open_dataset(IrisStore(manager, group=f"sweep_{grp - 1}"))
            ds = ds.assign_coords({"azimuth": ds.azimuth, "elevation": ds.elevation, "time": ds.time})
            ds = ds.drop_vars("DB_XHDR", errors="ignore").load()
            ds.attrs.pop("elevation_lower_limit", None)
            ds.attrs.pop("elevation_upper_limit", None)
            dim0 = "elevation" if str(ds["sweep_mode"].values) == "rhi" else "azimuth"
            sweeps.append(_apply_site_as_coords(ds.sortby(dim0), False))
    finally:
        manager.close()
    tree = {"/": _get_required_root_dataset(sweeps, optional=True)}
    return xr.DataTree.from_dict(_attach_sweep_groups(tree, sweeps))


#: Decoded values closer than this (relative) to a no-data code's value are that code.
_IRIS_TOL = 1e-9


def _near_any(a: np.ndarray, values: list[float]) -> np.ndarray:
    """Where ``a`` equals one of ``values`` (within :data:`_IRIS_TOL`, relative)."""
    bad = np.zeros(a.shape, bool)
    with np.errstate(invalid="ignore"):
        for v in values:
            bad |= np.abs(a - v) <= _IRIS_TOL * max(1.0, abs(v))
    return bad


def _iris_nodata_values(p: Path) -> tuple[dict[str, list[float]], list[str]]:
    """The decoded values of IRIS/Sigmet no-data codes, by xradar moment name.

    The codes are raw 0 and, for 2-byte types, 65535 (area not scanned); xradar decodes
    them to values (-32 dBZ, 0 m/s), which hvrmet sets to NaN. Every IRIS decoding is a
    function of the code alone, so decoding all codes of a data type through xradar's own
    decoder (from the file's headers: wavelength, PRF, Nyquist) tells which value each
    no-data code becomes; where no other code decodes to (nearly) the same value, that
    value marks the no-data gates exactly, without reading the moments twice. The names
    of the moments where it does not (or whose type is not 1 or 2 bytes) come second:
    :func:`_iris_nodata` reads their raw codes.
    """
    from xradar.io.backends.iris import IrisRawFile, iris_mapping

    rf = IrisRawFile(str(p), loaddata=False)  # the headers only
    values: dict[str, list[float]] = {}
    raw_needed: list[str] = []
    for prod in rf.data_types_dict:
        name = prod["name"]
        if name == "DB_XHDR" or prod.get("func") is None:
            continue
        mname = iris_mapping.get(name, name)
        dtype = np.dtype(prod["dtype"])
        if dtype.itemsize == 1:  # xradar views int16 words as byte pairs
            b = np.zeros(512, np.uint8)
            b[:256] = np.arange(256)
            words, ncode = b.view(np.int16).reshape(1, 256), 256
        elif dtype.itemsize == 2:
            words, ncode = np.arange(65536, dtype=np.uint16).view(np.int16).reshape(1, 65536), 65536
        else:
            raw_needed.append(name)
            continue
        try:
            dec = rf.decode_data(words, prod)
        except Exception:  # noqa: BLE001 - this type's decoder needs the real data: read the raw codes
            raw_needed.append(name)
            continue
        lut = np.asarray(np.ma.getdata(dec), np.float64).reshape(-1)[:ncode]
        codes = [0] + ([ncode - 1] if dtype.itemsize == 2 and dtype.kind == "u" else [])
        if lut.size != ncode:
            raw_needed.append(name)
            continue
        others = np.delete(lut, codes)
        vals = []
        for c in codes:
            v = float(lut[c])
            if not np.isfinite(v):
                # NaN already (a gate that holds it is NaN whatever its code) or infinite
                if np.isinf(v):
                    raw_needed.append(name)
                    break
                continue
            with np.errstate(invalid="ignore"):
                near = np.abs(others - v) <= 1e3 * _IRIS_TOL * max(1.0, abs(v))
            if near.any():  # another code decodes to the same value: only the raw codes tell
                raw_needed.append(name)
                break
            vals.append(v)
        else:
            if vals:
                values[mname] = vals
    return values, raw_needed


def _iris_nodata(p: Path, nsweeps: int, only: list[str] | None = None) -> dict[int, dict[str, np.ndarray]]:
    """Where IRIS/Sigmet moments hold the no-data code (raw 0; 65535, area not scanned, for
    2-byte types), by sweep and xradar moment name, rays sorted by azimuth as xradar sorts
    them, from the raw codes (read a second time, undecoded). ``only`` limits it to these
    IRIS data types (the others are found by :func:`_iris_nodata_values`)."""
    from xradar.io.backends.iris import IrisRawFile, iris_mapping

    rf = _iris_offsets(IrisRawFile(str(p), loaddata=False))
    rf._rawdata = True  # moments come back undecoded (the headers are decoded already)
    dec = _iris_offsets(IrisRawFile(str(p), loaddata=False))
    out: dict[int, dict[str, np.ndarray]] = {}
    types = {d["name"]: d for d in rf.data_types_dict}
    for k in range(nsweeps):
        grp = k + 1
        if grp not in rf.data:
            continue
        first = next((n for n in types if n != "DB_XHDR"), None)
        if first is None:
            break
        dec.get_moment(grp, first)
        az = np.asarray(dec.data[grp]["sweep_data"]["azimuth"], np.float64)
        order = np.lexsort((az,))
        masks = {}
        for name, prod in types.items():
            if name == "DB_XHDR" or prod.get("func") is None or (only is not None and name not in only):
                continue
            rf.get_moment(grp, name)
            raw = np.asarray(rf.data[grp]["sweep_data"][name])
            dtype = np.dtype(prod["dtype"])
            try:
                raw = raw.view(dtype).reshape(raw.shape[0], -1)[:, : raw.shape[1]]
            except ValueError:
                continue
            bad = raw == 0
            if dtype.itemsize == 2 and dtype.kind == "u":
                bad |= raw == np.iinfo(dtype).max
            if bad.shape[0] == order.size:
                masks[iris_mapping.get(name, name)] = bad[order]
        out[k] = masks
    return out


_CF_TIME = re.compile(r"^\s*(seconds?|s|milliseconds?|ms|minutes?|hours?|days?)\s+since\s+(\d{4}-\d{1,2}-\d{1,2})"
                      r"(?:[T ](\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?))?\s*(Z|UTC|GMT|[+-]?\d{1,2}(?::?\d{2})?)?\s*$",
                      re.IGNORECASE)
_CF_UNIT_S = {"s": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
              "minute": 60.0, "minutes": 60.0, "hour": 3600.0, "hours": 3600.0, "day": 86400.0, "days": 86400.0}


def cf_time_reference(units: str) -> tuple[float, np.datetime64] | None:
    """Seconds per unit and the UTC reference time of CF time units
    (``seconds since 2021-09-22 15:00:06 0:00``), the time-zone offset applied."""
    m = _CF_TIME.match(units or "")
    if not m:
        return None
    unit, date, clock, tz = m.groups()
    y, mo, d = (int(x) for x in date.split("-"))
    ref = np.datetime64(f"{y:04d}-{mo:02d}-{d:02d}T00:00:00", "ms")
    if clock:
        parts = clock.split(":")
        secs = int(parts[0]) * 3600 + int(parts[1]) * 60 + (float(parts[2]) if len(parts) > 2 else 0.0)
        ref = ref + np.timedelta64(int(round(secs * 1000)), "ms")
    if tz and tz.upper() not in ("Z", "UTC", "GMT"):
        sign = -1 if tz.startswith("-") else 1
        hh, _, mm = tz.lstrip("+-").partition(":")
        if not mm and len(hh) > 2:
            hh, mm = hh[:-2], hh[-2:]
        off = sign * (int(hh) * 60 + int(mm or 0))
        ref = ref - np.timedelta64(off, "m")  # local time minus its offset is UTC
    return _CF_UNIT_S[unit.lower()], ref


def _fix_cf_times(p: Path, sweeps: list[xr.Dataset], notes: list[str]) -> None:
    """Correct ray times xarray decoded against a wrong reference: it drops the clock time
    of units such as ``seconds since 2021-09-22 15:00:06 0:00`` (ARM files). The file's
    own units, read here, decide; every ray is shifted by the same amount."""
    try:
        import netCDF4

        with netCDF4.Dataset(p) as nc:
            var = nc.variables.get("time")
            if var is None:
                return
            units = str(getattr(var, "units", ""))
            raw = np.ma.filled(np.ma.masked_invalid(np.asarray(var[:], np.float64)), np.nan)
        ref = cf_time_reference(units)
        if ref is None or not np.isfinite(raw).any():
            return
        first = float(np.nanmin(raw))
        per, t_ref = ref
        want = t_ref + np.timedelta64(int(round(first * per * 1000)), "ms")
        # what xarray made of the same number: the two differ by one constant
        have = np.asarray(xr.coding.times.decode_cf_datetime(np.array([first]), units)).astype("datetime64[ns]")[0]
    except Exception:  # noqa: BLE001 - no readable time variable: keep xarray's times
        return
    delta = want.astype("datetime64[ns]") - have
    if abs(delta) <= np.timedelta64(1, "s"):
        return
    for ds in sweeps:
        if "time" in ds.coords and ds["time"].dtype.kind == "M":
            ds.coords["time"] = ds["time"] + delta
    notes.append(f"ray times shifted by {delta / np.timedelta64(1, 's'):.0f} s to the file's time units "
                 f"({units!r}: xarray drops their clock time)")


def _site_id(tree: xr.DataTree, p: Path, fmt: str) -> str:
    """The site's id: the file's instrument name, or the format's own site field."""
    attrs = tree.attrs
    if fmt == "odim_h5":
        sid = _odim_source(p)
        if sid:
            return sid
    if fmt == "rainbow":
        sid = _rainbow_sensor(p)
        if sid:
            return sid
    for key in ("instrument_name", "site_name", "radar_name"):
        s = _text(attrs.get(key, ""))
        if s:
            return s
    return ""


def _odim_source(p: Path) -> str:
    """The radar of an ODIM_H5 file from ``/what/source``: NOD, else RAD, PLC or WMO."""
    try:
        import h5py

        with h5py.File(p, "r") as h:
            src = _text(h["what"].attrs.get("source", b""))
    except Exception:  # noqa: BLE001 - no source field: no id
        return ""
    fields = dict(kv.split(":", 1) for kv in src.split(",") if ":" in kv)
    for key in ("NOD", "RAD", "PLC", "WMO", "CMT"):
        if fields.get(key, "").strip():
            return fields[key].strip()
    return ""


def _odim_nyquist(p: Path) -> dict[int, float]:
    """Nyquist velocity (m/s) of each ODIM_H5 dataset (sweep): ``/datasetN/how/NI``, else
    the file's ``/how/NI`` (xradar does not carry it)."""
    out: dict[int, float] = {}
    try:
        import h5py

        with h5py.File(p, "r") as h:
            top = h["how"].attrs.get("NI") if "how" in h else None
            names = sorted((k for k in h if k.startswith("dataset") and k[7:].isdigit()), key=lambda k: int(k[7:]))
            for i, k in enumerate(names):
                ni = h[k]["how"].attrs.get("NI") if "how" in h[k] else None
                ni = top if ni is None else ni
                if ni is not None and np.isfinite(float(ni)) and float(ni) > 0:
                    out[i] = float(ni)
    except Exception:  # noqa: BLE001 - no NI: the Nyquist velocity stays unknown
        return {}
    return out


def _rainbow_sensor(p: Path) -> str:
    """The radar of a Rainbow 5 file from its ``<sensorinfo>`` (id, else name)."""
    try:
        from xradar.io.backends.rainbow import RainbowFile

        rf = RainbowFile(str(p), loaddata=False)
        info = rf.header.get("sensorinfo", {}) or {}
    except Exception:  # noqa: BLE001 - no sensor block: no id
        return ""
    return _text(info.get("@id", "")) or _text(info.get("@name", ""))
