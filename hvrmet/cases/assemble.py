"""A case from a folder of files: sniff each file, assign roles, read time and place.

:func:`assemble_case` takes files and folders (folders are walked), tells each file's
format from its content (:func:`hvrmet.data.sniff.sniff`), opens it with its reader (so an
unreadable file is found now, as a warning, and the rest still loads), and builds a
:class:`~hvrmet.cases.model.Case`:

* radar volumes (NEXRAD Level II, CfRadial, ODIM_H5, IRIS, Rainbow, GAMIC, UF, Furuno) in
  time order: ``radar_volume``, ``radar_volume_2``, ...;
* composite frames of one kind (the same pysteps importer in the same folder): one
  ``composite_sequence`` entry with a glob; frames of another kind are left out, with a
  warning;
* soundings (UWyo, IGRA2, SHARPpy): ``sounding`` (the one nearest the case time);
* gridded files: ``analysis`` (a file on a ``month`` axis: ``climatology``);
* Level III products: their product role (``level3_base_reflectivity``, ...);
* the rest by kind (``surface_obs``, ``upper_air``, ``fronts``, ``wind_probability``,
  ``satellite``, ``spc_outlook``, ``spc_outlook_2``, ...); local storm reports go under the
  case's ``context`` (scoring only, never read by the diagnosis).

The case's time and place come from the data, in this order of kinds: a radar volume
(volume start, the radar site's position), a Level III product, a sounding (launch time,
station), a composite (first frame, grid centre), a gridded file (first time, grid
centre), then the others. A file that carries neither (an untitled UWyo sounding, a
message-1 Level II volume with no site) takes them from the catalogue case that names the
same registered file, or from the caller (``--time``, ``--lat``/``--lon``, ``--site``);
the case's ``notes`` say where each came from. No event type is ever recorded: the data
do not name one.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from hvrmet.cases.model import CONTEXT_ONLY_ROLES, NUMBERED_ROLES, Case, CaseFile, Location
from hvrmet.data.registry import default_registry, file_sha256, resolve
from hvrmet.data.sniff import SHAPEFILE_COMPANIONS, Sniffed, sniff
from hvrmet.errors import CaseError, DataError, DataFileMissing, FormatError, VariableMissing

__all__ = ["FileInfo", "Assembly", "collect_files", "inspect_file", "assemble_case", "case_yaml",
           "write_case", "load_context", "level3_role", "LEVEL3_ROLES"]

#: Level III product code -> case role (products with no role of their own are left out).
LEVEL3_ROLES = {
    **dict.fromkeys((19, 20, 94, 153, 180, 181, 186), "level3_base_reflectivity"),
    **dict.fromkeys((27, 99, 154, 182), "level3_velocity"),
    **dict.fromkeys((37, 38), "level3_composite_reflectivity"),
    58: "level3_storm_tracks", 141: "level3_mesocyclone",
    **dict.fromkeys((57, 134), "level3_vil"),
    **dict.fromkeys((41, 135), "level3_echo_tops"),
    **dict.fromkeys((161, 167), "level3_correlation"),
    **dict.fromkeys((78, 169), "level3_precip_1h"),
    32: "level3_hybrid_reflectivity",
}
#: Which kind of file gives the case its time and place, first to last.
_PRIMARY = ["radar_volume", "level3", "sounding", "composite", "gridded", "spc_outlook", "wind_probability",
            "surface_obs", "upper_air", "fronts", "satellite", "storm_reports"]
#: Role of each kind holding one file.
_SINGLE_ROLE = {"sounding": "sounding", "upper_air": "upper_air", "surface_obs": "surface_obs",
                "fronts": "fronts", "wind_probability": "wind_probability", "satellite": "satellite"}
_TIME_ATTRS = ("volume_start_time", "time_coverage_start", "volume_time", "product_time", "time",
               "valid_start", "issued", "valid", "analysis_time")
_IMPORTER_AGENCY = {"mch_gif": "MeteoSwiss", "mch_hdf5": "MeteoSwiss", "fmi_pgm": "FMI", "knmi_hdf5": "KNMI",
                    "bom_rf3": "BoM", "mrms_grib": "NOAA MRMS", "opera_hdf5": "EUMETNET OPERA",
                    "odim_hdf5": "ODIM", "dwd_hdf5": "DWD"}


@dataclass
class FileInfo:
    """One file as found: its format, kind, reader options, and the time and place it gives."""

    path: Path
    sniffed: Sniffed
    options: dict = field(default_factory=dict)
    time: dt.datetime | None = None
    lat: float | None = None
    lon: float | None = None
    site: str | None = None
    place: str = ""
    time_from: str = ""
    place_from: str = ""
    radius_km: float | None = None  # a composite's: centre to farthest corner, the area it covers
    product_code: int | None = None
    product_role: str | None = None
    climatology: bool = False

    @property
    def format(self) -> str:
        return self.sniffed.format

    @property
    def kind(self) -> str:
        return self.sniffed.kind


@dataclass
class Assembly:
    """What :func:`assemble_case` made: the case, the files it uses, one line per file left
    out (unknown, unreadable, or with no role left for it), and the notes written."""

    case: Case
    files: list[FileInfo]
    warnings: list[str]


# --- finding files ----------------------------------------------------------------------

def collect_files(paths: list[str | Path]) -> list[Path]:
    """The files named and those inside the folders named (walked, hidden entries and
    shapefile companions beside their ``.shp`` left out), sorted and without repeats.

    Raises
    ------
    DataFileMissing
        If a path does not exist.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            raise DataFileMissing(p, "no such file or folder")
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        out.append(Path(root) / name)
        else:
            out.append(p)
    seen, unique = set(), []
    for f in out:
        key = str(f.resolve())
        if key not in seen:
            seen.add(key)
            unique.append(f)
    shp_stems = {str(f.with_suffix("")).lower() for f in unique if f.suffix.lower() == ".shp"}
    return [f for f in unique
            if not (f.suffix.lower() in SHAPEFILE_COMPANIONS and str(f.with_suffix("")).lower() in shp_stems)
            and not (f.name.lower().endswith(".shp.xml") and str(f)[:-8].lower() in shp_stems)]


# --- reading each file ------------------------------------------------------------------

def _utc(value) -> dt.datetime | None:
    if value is None:
        return None
    try:
        t = np.datetime64(str(value).replace("Z", "").replace("+00:00", "")[:26], "s")
    except (ValueError, TypeError):
        return None
    if np.isnat(t):
        return None
    return t.astype(dt.datetime)


def _first_time(ds: xr.Dataset) -> dt.datetime | None:
    for key in _TIME_ATTRS:
        if key in ds.attrs:
            t = _utc(ds.attrs[key])
            if t is not None:
                return t
    for name in ("time", "valid_time", "valid", "time1", "time2", "time3"):
        if name in ds.coords or name in ds.data_vars:
            vals = np.asarray(ds[name].values).ravel()
            if vals.dtype.kind == "M":
                vals = vals[~np.isnat(vals)]
                if vals.size:
                    return vals.min().astype("datetime64[s]").astype(dt.datetime)
    for name in ds.coords:
        if str(name).startswith("time") and np.asarray(ds[name].values).dtype.kind == "M":
            vals = np.asarray(ds[name].values).ravel()
            vals = vals[~np.isnat(vals)]
            if vals.size:
                return vals.min().astype("datetime64[s]").astype(dt.datetime)
    return None


def _centre(lat, lon) -> tuple[float, float] | None:
    lat = np.asarray(lat, dtype=np.float64).ravel()
    lon = np.asarray(lon, dtype=np.float64).ravel()
    ok = np.isfinite(lat) & np.isfinite(lon) if lat.shape == lon.shape else None
    if ok is not None:
        lat, lon = lat[ok], lon[ok]
    else:
        lat, lon = lat[np.isfinite(lat)], lon[np.isfinite(lon)]
    if not lat.size or not lon.size:
        return None
    lon = np.where(lon > 180.0, lon - 360.0, lon)
    return float((lat.min() + lat.max()) / 2.0), float((lon.min() + lon.max()) / 2.0)


def _station_position(station: str) -> tuple[float, float] | None:
    """A station's position from MetPy's station tables in the local static data."""
    try:
        from hvrmet.data.readers.metar import _use_local_station_tables
        from metpy.io import station_data

        _use_local_station_tables()
        tables = station_data.station_info.__dict__["tables"]
    except Exception:  # noqa: BLE001 - no tables: no position, said in the notes
        return None
    for cand in (station, "K" + station, "C" + station, "P" + station):
        info = tables.get(cand.upper())
        if info is not None and np.isfinite(info.latitude) and np.isfinite(info.longitude):
            return float(info.latitude), float(info.longitude)
    return None


def _site_place(site: str) -> str:
    try:
        from hvrmet.data.sites import get_site

        s = get_site(site)
        return f"radar {s.site} ({s.name})"
    except KeyError:
        return f"radar {site}"


def _catalogue_options(path: Path) -> tuple[dict, str] | None:
    """Reader options a catalogue case gives the same registered file (an untitled
    sounding's station and time, a message-1 volume's site), with that case's id."""
    from hvrmet.cases.catalogue import list_cases

    reg = default_registry()
    if reg.data_dir is None:
        return None
    try:
        key = str(path.resolve().relative_to(reg.data_dir))
    except ValueError:
        return None
    if key not in reg:
        return None
    for c in list_cases():
        for f in c.files:
            if f.path == key and f.options:
                opts = dict(f.options)
                if f.format == "nexrad_level2" and "site" not in opts and c.location.radar_site:
                    opts["site"] = c.location.radar_site
                return opts, c.id
            if f.path == key and f.format == "nexrad_level2" and c.location.radar_site:
                return {"site": c.location.radar_site}, c.id
    return None


def inspect_file(path: str | Path, *, site: str | None = None, read: bool = True) -> FileInfo:
    """Sniff one file, open it with its reader and read the time and place it gives.

    Parameters
    ----------
    site
        A radar site id for a Level II volume that records none (message-1 files).
    read
        Open the file with its reader (checking it decodes); ``False`` only sniffs.

    Raises
    ------
    hvrmet.errors.DataError
        The file is unknown, unreadable, or its reader is not installed; one line.
    """
    p = Path(path)
    found = sniff(p)
    info = FileInfo(path=p, sniffed=found, options=dict(found.options))
    if found.kind == "composite":
        _composite_frame(info, read=read)
        return info
    if found.kind == "storm_reports":
        info.options = {}
    if not read:
        return info
    from hvrmet.data.readers import READERS, get_reader, reader_names

    if found.format not in READERS and found.format not in reader_names():
        raise FormatError(p, f"sniffed as {found.format} ({found.detail}), but no {found.format} reader is "
                             "installed")
    reader = get_reader(found.format)
    sha = file_sha256(p)
    try:
        ds = reader([p] if found.kind == "storm_reports" else p, sha256=[sha] if found.kind == "storm_reports"
                    else sha, **info.options)
    except DataError as exc:
        # a message-1 Level II volume records no site: the caller's, or the catalogue's
        fallback = ({"site": site}, "the caller") if site and found.format == "nexrad_level2" else None
        if fallback is None:
            found_in = _catalogue_options(p)
            fallback = (found_in[0], f"catalogue case {found_in[1]}") if found_in else None
        if fallback is None:
            raise
        opts, whose = fallback
        ds = reader(p, sha256=sha, **{**info.options, **opts})
        info.options.update(opts)
        info.time_from = f"the {found.detail}; reader options from {whose} (the file lacks them: {exc.problem})"
    _describe(info, ds)
    return info


def _describe(info: FileInfo, ds: xr.Dataset) -> None:
    a = ds.attrs
    kind = info.kind
    if kind == "sounding" and not a.get("time"):
        fallback = _catalogue_options(info.path)
        if fallback is not None:
            opts, cid = fallback
            info.options.update(opts)
            info.time = _utc(opts.get("time"))
            if opts.get("latitude") is not None and opts.get("longitude") is not None:
                info.lat, info.lon = float(opts["latitude"]), float(opts["longitude"])
            info.site = opts.get("station")
            info.time_from = info.place_from = f"catalogue case {cid} (the sounding has no title line)"
            info.place = f"station {info.site}" if info.site else ""
            return
    info.time = _first_time(ds)
    if info.time is not None and not info.time_from:
        info.time_from = f"the {info.sniffed.detail}"
    if kind in ("radar_volume", "level3"):
        info.site = str(a.get("radar_site") or a.get("instrument_name") or "") or None
        if a.get("site_latitude") is not None and a.get("site_longitude") is not None:
            info.lat, info.lon = float(a["site_latitude"]), float(a["site_longitude"])
            info.place_from = f"radar site {info.site or '?'} ({a.get('site_location_source', 'file')})"
        if info.site:
            try:
                from hvrmet.data.sites import get_site

                info.site = get_site(info.site).site  # the site table's id (TMCI for Level III's MCI)
            except KeyError:
                pass
        info.place = _site_place(info.site) if info.site else info.sniffed.detail
        if kind == "level3":
            info.product_code = int(a.get("product_code", 0)) or None
            info.product_role = str(a.get("product_role") or "") or None  # the reader's role for the product
        return
    if kind == "sounding":
        info.site = str(a.get("station") or a.get("station_id") or "") or None
        lat = a.get("latitude", a.get("station_latitude"))
        lon = a.get("longitude", a.get("station_longitude"))
        if lat is not None and lon is not None:
            info.lat, info.lon = float(lat), float(lon)
            info.place_from = f"sounding station {info.site or '?'} (file)"
        elif info.site:
            pos = _station_position(info.site)
            if pos:
                info.lat, info.lon = pos
                info.place_from = f"sounding station {info.site} (MetPy's station tables)"
        info.place = f"station {info.site}" if info.site else "sounding"
        return
    if kind == "gridded":
        info.climatology = "month" in ds.dims and not any(str(d).startswith("time") for d in ds.dims)
    for latn, lonn in (("lat", "lon"), ("latitude", "longitude"), ("vertex_lat", "vertex_lon")):
        if latn in ds and lonn in ds:
            c = _centre(ds[latn].values, ds[lonn].values)
            if c:
                info.lat, info.lon = c
                info.place_from = f"the centre of the {info.sniffed.detail}'s extent"
                break
    info.place = f"{info.sniffed.detail} centre" if info.lat is not None else info.sniffed.detail


def _header_frame_time(path: Path, importer: str) -> dt.datetime | None:
    """A composite frame's valid time from its header (``None`` when it has none)."""
    try:
        if importer in ("opera_hdf5", "odim_hdf5", "knmi_hdf5"):
            import h5py

            with h5py.File(path, "r") as h5:
                if importer == "knmi_hdf5":
                    raw = h5["overview"].attrs["product_datetime_end"]
                    text = (raw[0] if hasattr(raw, "__len__") and not isinstance(raw, bytes) else raw)
                    text = text.decode() if isinstance(text, bytes) else str(text)
                    return dt.datetime.strptime(text[:20], "%d-%b-%Y;%H:%M:%S")
                w = h5["what"].attrs
                d, t = (w[k].decode() if isinstance(w[k], bytes) else str(w[k]) for k in ("date", "time"))
                return dt.datetime.strptime(d + t[:6], "%Y%m%d%H%M%S")
        if importer == "fmi_pgm":
            import gzip

            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rb") as fh:
                m = re.search(rb"# obstime (\d{12})", fh.read(4096))
            return dt.datetime.strptime(m.group(1).decode(), "%Y%m%d%H%M") if m else None
        if importer == "mch_gif":
            with open(path, "rb") as fh:
                m = re.search(rb"PRDT=[A-Z]{3}(\d{2})(\d{3})(\d{2})(\d{2})", fh.read(2048))
            if m:
                yy, doy, hh, mm = (int(g) for g in m.groups())
                return dt.datetime(2000 + yy, 1, 1) + dt.timedelta(days=doy - 1, hours=hh, minutes=mm)
            return None
        if importer == "bom_rf3":
            import netCDF4

            with netCDF4.Dataset(path) as nc:
                v = nc["valid_time"]
                return netCDF4.num2date(v[:], v.units, only_use_cftime_datetimes=False).replace(tzinfo=None)
        if importer == "mrms_grib":
            import pygrib

            with pygrib.open(str(path)) as g:
                return g.message(1).validDate
    except Exception:  # noqa: BLE001 - a header without a time: the file name is tried next
        return None
    return None


def _composite_frame(info: FileInfo, *, read: bool) -> None:
    importer = info.options.get("importer", "")
    t = _header_frame_time(info.path, importer)
    info.time_from = "the frame headers" if t is not None else ""
    if t is None:
        from hvrmet.data.readers.composite import frame_time

        t = frame_time(info.path)  # FormatError when the name gives none either
        info.time_from = "the frame file names (pysteps naming; no time in the headers)"
    info.time = t
    agency = _IMPORTER_AGENCY.get(importer, importer)
    info.place = f"the {agency} composite's centre"
    if read:
        _check_frame(info)


def _check_frame(info: FileInfo) -> None:
    """Decode a frame with its pysteps importer (as the composite reader does) and take
    the grid centre from its metadata."""
    import hvrmet._pysteps  # noqa: F401  (imports pysteps quietly)
    from pysteps import io as psio

    from hvrmet.data.readers._common import reading
    from hvrmet.data.readers.composite import IMPORTER_DEFAULTS, _latlon

    importer = info.options["importer"]
    kw = {**IMPORTER_DEFAULTS.get(importer, {}), **info.options.get("importer_kwargs", {})}
    with reading(info.path, f"{importer} composite frame"):
        R, _q, meta = psio.get_method(importer, "importer")(str(info.path), **kw)
        if np.ndim(R) != 2 or np.size(R) == 0:
            raise FormatError(info.path, f"frame has shape {np.shape(R)}, expected a 2-D image")
        cx = (float(meta["x1"]) + float(meta["x2"])) / 2.0
        cy = (float(meta["y1"]) + float(meta["y2"])) / 2.0
        lat, lon = _latlon(meta, np.array([cx]), np.array([cy]))
        clat, clon = _latlon(meta, np.array([meta["x1"], meta["x2"], meta["x1"], meta["x2"]], dtype=float),
                             np.array([meta["y1"], meta["y1"], meta["y2"], meta["y2"]], dtype=float))
    info.lat, info.lon = float(lat.ravel()[0]), float(lon.ravel()[0])
    clat, clon = np.ravel(clat).astype(float), np.ravel(clon).astype(float)
    ok = np.isfinite(clat) & np.isfinite(clon)
    if ok.any():
        from pyproj import Geod

        _, _, far = Geod(ellps="WGS84").inv(np.full(ok.sum(), info.lon), np.full(ok.sum(), info.lat),
                                            clon[ok], clat[ok])
        info.radius_km = float(np.ceil(np.max(far) / 1000.0))
    info.place_from = "the centre of the composite grid"


# --- roles ------------------------------------------------------------------------------

def level3_role(code: int | None) -> str | None:
    """The case role of a Level III product code (``None`` for a product with no role)."""
    return LEVEL3_ROLES.get(int(code)) if code else None


def _role_ok(role: str) -> bool:
    """Whether the case model accepts ``role`` (the hand-written roles and any the readers
    generate, e.g. numbered Level III roles)."""
    try:
        CaseFile(role=role, format="x", path="x")
    except ValueError:
        return False
    return True


def _numbered(family: str, n: int) -> str:
    return family if n == 0 else f"{family}_{n + 1}"


def _sort_key(f: FileInfo):
    return (f.time or dt.datetime.max, str(f.path))


def _assign(infos: list[FileInfo], ref_time: dt.datetime | None, warnings: list[str]):
    """``[(role, [FileInfo...], format, options)]`` for the files, and context entries."""
    entries, context = [], []
    by_kind: dict[str, list[FileInfo]] = {}
    for f in infos:
        by_kind.setdefault(f.kind, []).append(f)
    for kind in ("radar_volume", "spc_outlook"):
        files = sorted(by_kind.get(kind, []), key=_sort_key)
        most = NUMBERED_ROLES[kind]
        for i, f in enumerate(files):
            if i >= most:
                warnings.append(f"{f.path}: left out: a case holds at most {most} {kind} files")
                continue
            entries.append((_numbered(kind, i), [f], f.format, f.options))
    comps = by_kind.get("composite", [])
    if comps:
        groups: dict[tuple, list[FileInfo]] = {}
        for f in comps:
            groups.setdefault((f.options.get("importer"), str(f.path.parent)), []).append(f)
        ranked = sorted(groups.values(), key=lambda g: (-len(g), _sort_key(min(g, key=_sort_key))))
        best = sorted(ranked[0], key=_sort_key)
        entries.append(("composite_sequence", best, "composite", best[0].options))
        for g in ranked[1:]:
            warnings.append(f"{g[0].path.parent}: left out {len(g)} {g[0].options.get('importer')} composite "
                            f"frame(s): a case holds one composite sequence ({len(best)} frames of "
                            f"{best[0].options.get('importer')} in {best[0].path.parent} kept)")
    for kind, role in _SINGLE_ROLE.items():
        files = by_kind.get(kind, [])
        if not files:
            continue
        if kind == "sounding" and ref_time is not None:
            files = sorted(files, key=lambda f: (abs((f.time - ref_time).total_seconds()) if f.time else 1e12,
                                                 str(f.path)))
        else:
            files = sorted(files, key=_sort_key)
        entries.append((role, [files[0]], files[0].format, files[0].options))
        for f in files[1:]:
            warnings.append(f"{f.path}: left out: the case already has a {role} ({files[0].path.name})")
    grids = sorted(by_kind.get("gridded", []), key=_sort_key)
    taken = set()
    for f in grids:
        role = "climatology" if f.climatology else "analysis"
        if role in taken:
            warnings.append(f"{f.path}: left out: the case already has an {role}")
            continue
        taken.add(role)
        entries.append((role, [f], f.format, f.options))
    l3 = sorted(by_kind.get("level3", []), key=_sort_key)
    used: dict[str, FileInfo] = {}
    for f in l3:
        role = next((r for r in (level3_role(f.product_code), f.product_role) if r and _role_ok(r)), None)
        if role is None:
            warnings.append(f"{f.path}: left out: no case role for Level III product {f.product_code}")
            continue
        if role in used:  # a second product of the kind: its numbered role, where the model has one
            n = 2
            while f"{role}_{n}" in used:
                n += 1
            if not _role_ok(f"{role}_{n}"):
                warnings.append(f"{f.path}: left out: the case already has a {role} ({used[role].path.name})")
                continue
            role = f"{role}_{n}"
        used[role] = f
        entries.append((role, [f], f.format, f.options))
    for f in sorted(by_kind.get("storm_reports", []), key=_sort_key):
        context.append(("storm_reports", [f], f.format, {}))
    return entries, context


# --- the case ---------------------------------------------------------------------------

def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return s[:60] or "case"


def _common_root(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.absolute().parent) for p in paths]))


def _glob_for(names: list[str], present: list[str]) -> tuple[str, list[str]]:
    """A shell pattern naming exactly ``names`` among the ``present`` names of one folder,
    and the other present names it also matches (none when it is exact)."""
    names = sorted(names)
    shortest = min(len(n) for n in names)
    prefix = os.path.commonprefix(names)
    suffix = os.path.commonprefix([n[::-1] for n in names])[::-1]
    if len(prefix) + len(suffix) > shortest:
        suffix = suffix[len(prefix) + len(suffix) - shortest:]
    candidates = [f"{prefix}*{suffix}"]
    if len({len(n) for n in names}) == 1:
        candidates.append("".join(c if len({n[i] for n in names}) == 1 else "?" for i, c in enumerate(names[0])))
    best = None
    for pattern in candidates:
        extra = sorted(set(fnmatch.filter(present, pattern)) - set(names))
        if best is None or len(extra) < len(best[1]):
            best = (pattern, extra)
    return best


def _locate(used: list[FileInfo], reg) -> tuple[Path | None, dict[str, str]]:
    """Where the case's files are named from: the registry (``None``, keys as paths) when
    every file is a registered file of the data folder and each composite sequence's glob
    is exact among the registered keys; else the files' common folder (paths relative to
    it, as given, links not followed). Returns the folder and each file's name in the case."""
    keys = {str(f.path): _key_of(f.path, reg) for f in used} if reg.data_dir is not None else {}
    if keys and all(keys.values()):
        return None, {p: k for p, k in keys.items()}  # type: ignore[misc]
    root = _common_root([f.path for f in used])
    return root, {str(f.path): str(f.path.absolute().relative_to(root)) for f in used}


def assemble_case(paths: list[str | Path], *, case_id: str | None = None, title: str | None = None,
                  time: str | dt.datetime | None = None, lat: float | None = None, lon: float | None = None,
                  place: str | None = None, site: str | None = None, read: bool = True) -> Assembly:
    """Build a case from files and folders (see the module docstring).

    Parameters
    ----------
    paths
        Files and folders (walked).
    case_id, title
        The case's id and title (made from the data when not given).
    time, lat, lon, place, site
        The case's reference time (UTC), position, place name and radar site; each given
        one wins over the data's (and the notes say so).
    read
        Open every file with its reader (an unreadable one becomes a warning).

    Raises
    ------
    hvrmet.errors.CaseError
        If no file is readable (the message names the folder and how many files were
        tried), or neither the data nor the caller give the case a time and a place.
    """
    files = collect_files(paths)
    where = (", ".join(str(p) for p in paths) if len(paths) <= 2 else
             f"{len(paths)} paths under {os.path.commonpath([str(Path(p).resolve()) for p in paths])}") or "(nothing)"
    if not files:
        raise CaseError(where, "no data file in the folder")
    warnings: list[str] = []
    infos: list[FileInfo] = []
    errors: list[DataError] = []
    for f in files:
        try:
            infos.append(inspect_file(f, site=site, read=read))
        except DataError as exc:
            errors.append(exc)
            warnings.append(str(exc) if exc.path else f"{f}: {exc}")
    if not infos:
        if len(files) == 1:
            raise errors[0]
        raise CaseError(where, f"none of the {len(files)} files is readable data (first: {warnings[0]})")
    ranked = sorted(infos, key=lambda f: (_PRIMARY.index(f.kind) if f.kind in _PRIMARY else 99, _sort_key(f)))
    t_src = next((f for f in ranked if f.time is not None), None)
    p_src = next((f for f in ranked if f.lat is not None and f.lon is not None), None)
    notes = []
    if time is not None:
        ref_time = time if isinstance(time, dt.datetime) else _utc(time)
        if ref_time is None:
            raise CaseError(str(time), "not a time (give ISO 8601, UTC)")
        notes.append("time given by the user")
    elif t_src is not None:
        ref_time = t_src.time
        notes.append(f"time {ref_time:%Y-%m-%d %H:%M} UTC read from the data: {t_src.path.name} "
                     f"({t_src.time_from})")
    elif (known := _catalogue_case_of(infos)) is not None:
        ref_time = known.time
        notes.append(f"time {ref_time:%Y-%m-%d %H:%M} UTC from catalogue case {known.id}, which names the same "
                     "registered file (the data carry no time)")
    else:
        unread = _without_site(errors)
        if unread:
            raise CaseError(where, f"no file that could be read gives a time: {unread}, and its time and place "
                                   "come from it; or give the case time (--time)")
        raise CaseError(where, "no file gives a time (a climatology, an untitled sounding?): "
                               "give the case time (--time)")
    area_km = None
    if lat is not None and lon is not None:
        pos = (float(lat), float(lon))
        notes.append("place given by the user")
    elif p_src is not None:
        pos = (p_src.lat, p_src.lon)
        notes.append(f"place ({pos[0]:.3f}, {pos[1]:.3f}) read from the data: {p_src.path.name} "
                     f"({p_src.place_from})")
        if p_src.radius_km is not None:
            area_km = p_src.radius_km
            notes.append(f"the area of interest is the whole composite ({area_km:g} km from its centre to its "
                         "farthest corner), since the data name no spot in it")
    else:
        unread = _without_site(errors)
        if unread:
            raise CaseError(where, f"no file that could be read gives a position: {unread}, and its place comes "
                                   "from it; or give the case place (--lat and --lon)")
        raise CaseError(where, "no file gives a position: give the case place (--lat and --lon)")
    entries, context = _assign(infos, ref_time, warnings)
    if not entries:
        raise CaseError(where, "no file can be a diagnosis input (only context-only files, e.g. storm reports)")
    used = [f for _, fs, _, _ in entries + context for f in fs]
    reg = default_registry()
    root, names = _locate(used, reg)
    if root is None and not all(_exact_in_registry(fs, names, reg) for _, fs, fmt, _ in entries
                                if fmt == "composite" and len(fs) > 1):
        root = _common_root([f.path for f in used])  # a subset of registered frames: name them where they are
        names = {str(f.path): str(f.path.absolute().relative_to(root)) for f in used}
    case_files = [_entry(role, fs, fmt, opts, root, names, reg, warnings) for role, fs, fmt, opts in entries]
    context_files = [_entry(role, fs, fmt, opts, root, names, reg, warnings) for role, fs, fmt, opts in context]
    in_registry = root is None
    radar = next((f for f in ranked if f.kind in ("radar_volume", "level3") and f.site), None)
    radar_site = site or (radar.site if radar is not None else None)
    primary = t_src or ranked[0]
    place_text = place or (p_src.place if p_src is not None else "")
    n_used = len(used)
    notes.append(f"assembled by hvrmet cases new from {n_used} of {len(files)} file(s) in {where}")
    notes.append("no event type is recorded: the data do not name one")
    cid = _slug(case_id or (Path(str(paths[0])).name if len(paths) == 1 else primary.path.stem))
    data = {
        "id": cid,
        "title": title or f"{primary.sniffed.detail}, {ref_time:%Y-%m-%d %H:%M} UTC"
                          + (f", {place_text}" if place_text else ""),
        "time": ref_time,
        "location": Location(lat=pos[0], lon=pos[1], place=place_text, radar_site=radar_site, radius_km=area_km),
        "events": [],
        "files": case_files,
        "context": context_files,
        "notes": "; ".join(notes) + ".",
        "data_dir": None if in_registry else str(root),
    }
    try:
        case = Case.model_validate(data)
    except Exception as exc:  # noqa: BLE001 - a pydantic error naming the field, as one line
        raise CaseError(where, f"the assembled case is not valid: {str(exc).splitlines()[0]}") from None
    return Assembly(case=case, files=used, warnings=warnings)


def _without_site(errors: list[DataError]) -> str:
    """Words naming the radar files left unread for want of a site (message-1 Level II
    volumes record none) and the ``--site`` that reads them; '' when there are none."""
    from hvrmet.data.readers.nexrad_level2 import SiteUnknown

    missing = [e for e in errors if isinstance(e, SiteUnknown)]
    if not missing:
        return ""
    names = [Path(e.path).name for e in missing if e.path]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    hints = sorted({e.suggested for e in missing if e.suggested})
    one = len(missing) == 1
    site = (f"--site {hints[0]} (the file name{'' if one else 's'} start{'s' if one else ''} with {hints[0]}, "
            "a radar of the site table)" if len(hints) == 1 else "--site and the radar's 4-letter id")
    kind = " (message-1, legacy, NEXRAD Level II)" if all("message-1" in e.problem for e in missing) else ""
    return (f"{shown} {'is a radar volume' if one else 'are radar volumes'}{kind} "
            f"that record{'s' if one else ''} no radar site or position, so {'it was' if one else 'they were'} "
            f"not read: give the site with {site}")


def _catalogue_case_of(infos: list[FileInfo]) -> Case | None:
    """The catalogue case naming one of these registered files (for the time of data that
    carry none, e.g. a climatology)."""
    from hvrmet.cases.catalogue import list_cases

    reg = default_registry()
    keys = {k for k in (_key_of(f.path, reg) for f in infos) if k} if reg.data_dir is not None else set()
    return next((c for c in list_cases() if any(f.path in keys for f in c.files)), None)


def _key_of(path: Path, reg) -> str | None:
    try:
        key = str(path.resolve().relative_to(reg.data_dir))
    except ValueError:
        return None
    return key if key in reg else None


def _exact_in_registry(files: list[FileInfo], names: dict[str, str], reg) -> bool:
    keys = [names[str(f.path)] for f in files]
    folder = str(Path(keys[0]).parent)
    present = [Path(k).name for k in reg.glob(f"{folder}/*") if str(Path(k).parent) == folder]
    return not _glob_for([Path(k).name for k in keys], present)[1]


def _entry(role: str, files: list[FileInfo], fmt: str, options: dict, root: Path | None, names: dict[str, str],
           reg, warnings: list[str]) -> CaseFile:
    opts = {k: v for k, v in options.items() if v not in (None, {}, "")}
    rels = [names[str(f.path)] for f in files]
    if fmt != "composite" and len(files) == 1:
        return CaseFile(role=role, format=fmt, path=rels[0], options=opts)
    folder = Path(rels[0]).parent
    if root is None:
        present = [Path(k).name for k in reg.glob(f"{folder}/*") if Path(k).parent == folder]
    else:
        present = sorted(p.name for p in (root / folder).iterdir() if p.is_file())
    pattern, extra = _glob_for([Path(r).name for r in rels], present)
    if extra:
        warnings.append(f"{root / folder if root else folder}: the {role} pattern {pattern} also names "
                        f"{len(extra)} other file(s) ({extra[0]}{', ...' if len(extra) > 1 else ''})")
    return CaseFile(role=role, format=fmt, glob=str(folder / pattern) if str(folder) != "." else pattern,
                    options=opts)


def case_yaml(case: Case) -> str:
    """The case as YAML, in the catalogue's layout (time in UTC with a ``Z``)."""
    data = case.model_dump(mode="json", exclude={"source_path"}, exclude_none=True)
    data["time"] = case.time.strftime("%Y-%m-%dT%H:%M:%SZ")
    for key in ("files", "context"):
        for f in data.get(key, []):
            if not f.get("options"):
                f.pop("options", None)
    if not data.get("context"):
        data.pop("context", None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def write_case(case: Case, out: str | Path) -> Path:
    """Write the case YAML to ``out``; a relative ``data_dir`` is kept absolute so the
    file can be moved."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(case_yaml(case))
    return out


# --- context for scoring ----------------------------------------------------------------

def load_context(case: Case, role: str = "storm_reports") -> xr.Dataset:
    """Decode a case's context-only files of ``role`` (all its entries together), for
    scoring. The diagnosis never calls this: its tools read through
    :class:`hvrmet.tools.context.ToolContext`, which refuses context-only roles.

    Raises
    ------
    VariableMissing
        If the case carries no context file of ``role``.
    """
    from hvrmet.data.readers import get_reader

    if role not in CONTEXT_ONLY_ROLES:
        raise VariableMissing(case.source_path or case.id, f"{role!r} is not a context-only role "
                                                           f"({', '.join(sorted(CONTEXT_ONLY_ROLES))})")
    entries = [f for f in case.context if f.role == role]
    if not entries:
        raise VariableMissing(case.source_path or case.id, f"case {case.id!r} carries no {role} context")
    ddir = case.resolved_data_dir()
    files: list[tuple[Path, str]] = []
    options: dict = {}
    for e in entries:
        options.update(e.options)
        if e.path is not None:
            files.append(resolve(e.path, ddir))
            continue
        if ddir is not None:
            keys = sorted(str(p.relative_to(ddir)) for p in ddir.glob(e.glob or "") if p.is_file())
        else:
            keys = default_registry().glob(e.glob or "")
        if not keys:
            raise DataFileMissing(e.glob, f"no file matches the {role} pattern of case {case.id}")
        files.extend(resolve(k, ddir) for k in keys)
    fmt = entries[0].format
    return get_reader(fmt)([p for p, _ in files], sha256=[s for _, s in files], **options)
