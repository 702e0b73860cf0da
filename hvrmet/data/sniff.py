"""Guess a data file's format from its bytes and headers (never from its name alone).

:func:`sniff` opens the file and looks at what it holds:

* **compressed wrappers**: gzip (a NEXRAD Level II volume, a tar of Level II real-time
  chunks, an FMI PGM composite frame, a Furuno scan) and bzip2 (a Level II volume);
* **HDF5**, opened with h5py: ODIM_H5 (``/what`` ``object``: ``PVOL``/``SCAN``/``ELEV``/
  ``AZIM`` is a polar volume or scan, ``COMP``/``IMAGE``/``CVOL`` a composite, read with
  the pysteps importer named by its ``source``), KNMI's HDF5 composites (``overview`` and
  ``image1`` groups), GAMIC volumes (``scan0`` group) and NetCDF-4 files (below);
* **NetCDF** (3 or 4), opened with netCDF4: CfRadial 2 (``sweep_*`` groups, or
  ``Conventions``/``version`` naming CF/Radial 2), CfRadial 1 (``Conventions`` naming
  CF/Radial, or a ``sweep_number``/``fixed_angle`` variable), BoM Rainfields (rf3) radar
  composites (``precipitation`` on ``valid_time`` with a ``proj`` variable), any other
  NetCDF as a gridded file;
* **binary radar formats** by their magic: NEXRAD Level II (``AR2V``/``ARCH``), IRIS/Sigmet
  (the ``product_hdr`` structure, id 27, followed by ``product_configuration``, id 26),
  Rainbow (an XML ``<volume`` header), UF (``UF`` at offset 0 or 4, the latter after a
  record length), Furuno (header size and format version 3, 10 or 103 followed by a valid
  date), NEXRAD Level III (a WMO header ``SDUS``/``NXUS``, or a bare product whose header
  has the ``-1`` block divider at byte 18 and a product code), GINI (a WMO header ``TI..``),
  GRIB (``GRIB``; MRMS products, discipline 209, are composites), MeteoSwiss GIF
  composites (GIF of 710×640), a shapefile (SPC outlook fields), zip archives (NHC
  wind-probability shapefiles ``*_wsp*knt*hr``, SPC outlook shapefiles);
* **text**: UWyo soundings (the ``PRES HGHT TEMP`` column header), IGRA2 (``#`` header
  lines with an 11-character station id and the date), SHARPpy (``%TITLE%`` and
  ``%RAW%``), upper-air CSV (``pressure,height,temperature``), surface CSV
  (``station,valid,``), local storm reports (SPC's ``Time,F_Scale|Speed|Size,Location,
  County,State,Lat,Lon,Comments``), METAR bulletins (``SAUS``/``SPUS`` WMO headers or
  ``METAR`` lines), WPC coded surface analyses (``CODSUS``), SPC outlooks in GeoJSON
  (features with ``LABEL``/``LABEL2``/``DN``).

An unknown, empty or unreadable file raises :class:`~hvrmet.errors.FormatError` (a
:class:`~hvrmet.errors.DataError`) whose one-line message names the file.
"""

from __future__ import annotations

import bz2
import gzip
import json
import re
import struct
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from hvrmet.errors import DataError, DataFileMissing, FormatError

__all__ = ["Sniffed", "sniff", "sniff_format", "KINDS", "SHAPEFILE_COMPANIONS", "UnknownFormat"]


class UnknownFormat(FormatError, ValueError):
    """A format name no reader has (a case file naming a format that does not exist, or
    whose reader is not installed); a ``ValueError`` too, as :func:`get_reader` always
    raised."""

#: What a file is, by the format it is sniffed as (the case role family it fills).
KINDS = {
    "nexrad_level2": "radar_volume", "cfradial1": "radar_volume", "cfradial2": "radar_volume",
    "odim_h5": "radar_volume", "iris": "radar_volume", "rainbow": "radar_volume",
    "gamic": "radar_volume", "uf": "radar_volume", "furuno": "radar_volume",
    "nexrad_level3": "level3", "composite": "composite",
    "uwyo_sounding": "sounding", "igra2": "sounding", "sharppy": "sounding",
    "upper_air_csv": "upper_air", "netcdf": "gridded", "grib": "gridded",
    "surface_csv": "surface_obs", "metar": "surface_obs", "wpc_fronts": "fronts",
    "nhc_windprob": "wind_probability", "gini": "satellite",
    "spc_outlook": "spc_outlook", "storm_reports": "storm_reports",
}

#: Files that belong to a shapefile beside its ``.shp`` (read with it, never on their own).
SHAPEFILE_COMPANIONS = (".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".xml")

_HDF5 = b"\x89HDF\r\n\x1a\n"
_WMO = re.compile(r"^(?:\x01\r\r\n\d{3} ?\r\r\n)?\s*([A-Z]{4})(\d{2}) ([A-Z]{4}) (\d{6})")
_IGRA2 = re.compile(r"^#[A-Z0-9]{11} \d{4} \d{2} \d{2} \d{2}")
_LSR = re.compile(r"^\s*time\s*,\s*(f_scale|speed|size)\s*,\s*location\s*,\s*county\s*,\s*state\s*,"
                  r"\s*lat\s*,\s*lon\s*,\s*comments", re.I)
_METAR_LINE = re.compile(r"^(?:METAR |SPECI )?[A-Z][A-Z0-9]{3} \d{6}Z ", re.M)
_NHC_MEMBER = re.compile(r"_wsp\d+knt\d+hr", re.I)
_SPC_LABELS = {"TSTM", "MRGL", "SLGT", "ENH", "MDT", "HIGH", "SIGN"}
#: ODIM ``source`` organisations whose composites pysteps reads with its own importer.
_ODIM_COMPOSITE_IMPORTERS = {"247": "opera_hdf5"}  # ORG:247 is EUMETNET OPERA
_GEOJSON_MAX = 64 << 20


@dataclass(frozen=True)
class Sniffed:
    """What :func:`sniff` found: the reader's format name, the kind of data (the case role
    family: ``radar_volume``, ``composite``, ``sounding``, ...), the reader options the
    content implies (a composite's pysteps importer) and what was seen, in words."""

    format: str
    kind: str
    detail: str
    options: dict = field(default_factory=dict)


def _found(fmt: str, detail: str, **options) -> Sniffed:
    return Sniffed(format=fmt, kind=KINDS[fmt], detail=detail, options=dict(options))


def sniff_format(path: str | Path) -> str:
    """The reader name of a file's format, guessed from its content (see :func:`sniff`)."""
    return sniff(path).format


def sniff(path: str | Path) -> Sniffed:
    """Guess what a file is from its bytes and headers.

    Raises
    ------
    hvrmet.errors.FormatError
        If the file is empty, unreadable or of no known format; the message names the file.
    hvrmet.errors.DataFileMissing
        If there is no such file.
    """
    p = Path(path)
    if not p.exists():
        raise DataFileMissing(p, "file not found")
    if p.is_dir():
        raise FormatError(p, "a folder, not a data file")
    if not p.is_file():
        raise FormatError(p, "not a regular file")
    try:
        if p.stat().st_size == 0:
            raise FormatError(p, "file is empty")
        with open(p, "rb") as fh:
            head = fh.read(8192)
        return _sniff_bytes(p, head)
    except DataError:
        raise
    except MemoryError:
        raise FormatError(p, "cannot be sniffed: ran out of memory (corrupted?)") from None
    except Exception as exc:  # noqa: BLE001 - any library's failure on a bad file is one line
        msg = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise FormatError(p, f"cannot be read to tell its format: {type(exc).__name__}"
                             f"{': ' + msg if msg else ''}") from None


def _sniff_bytes(p: Path, head: bytes) -> Sniffed:
    if head[:2] == b"\x1f\x8b":
        return _sniff_gzip(p)
    if head[:3] == b"BZh":
        inner = _bz2_head(p)
        if inner[:4] in (b"AR2V", b"ARCH"):
            return _found("nexrad_level2", "NEXRAD Level II volume (bzip2-compressed)")
        raise FormatError(p, "a bzip2 file holding no known format")
    if head[:8] == _HDF5:
        return _sniff_hdf5(p)
    if head[:3] == b"CDF" and head[3:4] in (b"\x01", b"\x02", b"\x05"):
        return _sniff_netcdf(p, "NetCDF-3")
    if head[:4] in (b"AR2V", b"ARCH"):
        return _found("nexrad_level2", f"NEXRAD Level II volume ({head[:4].decode()} header, "
                                       f"site {head[20:24].decode('latin-1').strip() or '?'})")
    if head[:4] == b"GRIB":
        return _sniff_grib(p, head)
    if head[:4] == b"PK\x03\x04":
        return _sniff_zip(p)
    if head[:4] == b"\x00\x00\x27\x0a":
        return _sniff_shapefile(p)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", head[6:10])
        if (w, h) == (710, 640):
            return _found("composite", "MeteoSwiss radar composite (GIF 710x640)", importer="mch_gif")
        raise FormatError(p, f"a GIF image of {w}x{h}, not a MeteoSwiss radar composite")
    if head[:2] == b"P5" and _is_fmi_pgm(head):
        return _found("composite", "FMI radar composite (PGM)", importer="fmi_pgm",
                      importer_kwargs={"gzipped": False})
    binary = _sniff_binary_radar(p, head)
    if binary is not None:
        return binary
    return _sniff_text(p, head)


# --- compressed -------------------------------------------------------------------------

def _gzip_head(p: Path, n: int = 1024) -> bytes:
    try:
        with gzip.open(p) as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:
        raise FormatError(p, f"a gzip file that cannot be decompressed ({exc})") from None


def _bz2_head(p: Path, n: int = 64) -> bytes:
    dec = bz2.BZ2Decompressor()
    out = b""
    with open(p, "rb") as fh:
        while len(out) < n and not dec.eof:
            block = fh.read(65536)
            if not block:
                break
            try:
                out += dec.decompress(block)
            except OSError as exc:
                raise FormatError(p, f"a bzip2 file that cannot be decompressed ({exc})") from None
    return out


def _sniff_gzip(p: Path) -> Sniffed:
    inner = _gzip_head(p, 1024)
    if inner[:4] in (b"AR2V", b"ARCH"):
        return _found("nexrad_level2", "NEXRAD Level II volume (gzip-compressed)")
    if len(inner) >= 262 and inner[257:262] == b"ustar":
        return _sniff_tar(p)
    if inner[:2] == b"P5" and _is_fmi_pgm(inner):
        return _found("composite", "FMI radar composite (gzipped PGM)", importer="fmi_pgm")
    furuno = _furuno(inner)
    if furuno:
        return _found("furuno", f"Furuno {furuno} scan (gzip-compressed)")
    raise FormatError(p, "a gzip file holding no known format")


def _sniff_tar(p: Path) -> Sniffed:
    with tarfile.open(p) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        if not members:
            raise FormatError(p, "an empty tar archive")
        first = min(members, key=lambda m: m.name)
        fh = tar.extractfile(first)
        start = fh.read(64) if fh else b""
        chunk_names = sum(bool(re.search(r"\d{8}-\d{6}-\d{3}-[SIE]$", m.name)) for m in members)
    if start[:4] in (b"AR2V", b"ARCH") and chunk_names >= len(members) // 2:
        return _found("nexrad_level2", f"tar of {len(members)} NEXRAD Level II real-time chunks "
                                       f"(site {start[20:24].decode('latin-1').strip() or '?'})")
    raise FormatError(p, f"a tar archive of {len(members)} files that are not NEXRAD Level II chunks")


def _is_fmi_pgm(head: bytes) -> bool:
    text = head[:1024].decode("latin-1")
    return bool(re.search(r"^# (obstime|producttype|projection|radar|metersperpixel)", text, re.M))


# --- HDF5 / NetCDF ----------------------------------------------------------------------

def _text_attr(v) -> str:
    if isinstance(v, bytes):
        return v.decode("latin-1", "replace")
    if hasattr(v, "tolist"):
        v = v.tolist()
        if isinstance(v, list):
            v = v[0] if v else ""
        if isinstance(v, bytes):
            return v.decode("latin-1", "replace")
    return str(v)


def _sniff_hdf5(p: Path) -> Sniffed:
    import h5py

    try:
        h5 = h5py.File(p, "r")
    except OSError as exc:
        raise FormatError(p, f"an HDF5 file that cannot be opened ({str(exc)[:120]})") from None
    with h5:
        conv = _text_attr(h5.attrs.get("Conventions", ""))
        what = h5.get("what")
        obj = _text_attr(what.attrs.get("object", "")).strip().upper() if what is not None else ""
        if conv.upper().startswith("ODIM_H5") or (obj and "dataset1" in h5):
            source = _text_attr(what.attrs.get("source", "")) if what is not None else ""
            if obj in ("PVOL", "SCAN", "ELEV", "AZIM"):
                return _found("odim_h5", f"ODIM_H5 {obj} ({source or 'no source'})")
            if obj in ("COMP", "IMAGE", "CVOL"):
                org = re.search(r"ORG:(\d+)", source)
                importer = _ODIM_COMPOSITE_IMPORTERS.get(org.group(1) if org else "", "odim_hdf5")
                return _found("composite", f"ODIM_H5 {obj} composite ({source or 'no source'})",
                              importer=importer)
            raise FormatError(p, f"an ODIM_H5 file of object {obj or '(none)'}: neither a polar "
                                 "volume/scan nor a composite")
        if "overview" in h5 and "image1" in h5 and "geographic" in h5:
            return _found("composite", "KNMI HDF5 radar composite", importer="knmi_hdf5")
        if "scan0" in h5 and "how" in h5:
            return _found("gamic", "GAMIC HDF5 volume")
        netcdf4 = "_NCProperties" in h5.attrs or any(
            isinstance(obj_, h5py.Dataset) and "DIMENSION_LIST" in obj_.attrs or
            _text_attr(getattr(obj_, "attrs", {}).get("CLASS", "")) == "DIMENSION_SCALE"
            for obj_ in (h5[k] for k in list(h5.keys())[:50]))
    if netcdf4:
        return _sniff_netcdf(p, "NetCDF-4")
    raise FormatError(p, "an HDF5 file of no known layout (not ODIM_H5, KNMI, GAMIC or NetCDF-4)")


def _sniff_netcdf(p: Path, kind: str) -> Sniffed:
    import netCDF4

    try:
        nc = netCDF4.Dataset(p, "r")
    except OSError as exc:
        raise FormatError(p, f"a {kind} file that cannot be opened ({str(exc)[:120]})") from None
    with nc:
        attrs = {k: str(nc.getncattr(k)) for k in nc.ncattrs()}
        conv = (attrs.get("Conventions", "") + " " + attrs.get("version", "")).lower()
        names = set(nc.variables)
        groups = set(nc.groups)
        if any(g.startswith("sweep") for g in groups) or re.search(r"cf/radial-2|cfradial-2|cf-radial-2", conv) \
                or ("cf/radial" in conv and re.search(r"\b2\.\d", attrs.get("version", ""))):
            return _found("cfradial2", f"CfRadial 2 ({kind})")
        if "cf/radial" in conv or "cf-radial" in conv or {"sweep_number", "fixed_angle"} & names:
            return _found("cfradial1", f"CfRadial 1 ({kind}, Conventions {attrs.get('Conventions', '?')!r})")
        if "precipitation" in names and "valid_time" in names and "proj" in names:
            return _found("composite", f"BoM Rainfields radar composite ({kind})", importer="bom_rf3")
        if not names and not groups:
            raise FormatError(p, f"a {kind} file holding no variables")
    return _found("netcdf", f"gridded {kind}")


def _sniff_grib(p: Path, head: bytes) -> Sniffed:
    edition = head[7]
    discipline = head[6] if edition == 2 else None
    if edition == 2 and discipline == 209:  # MRMS's local discipline
        return _found("composite", "NOAA MRMS GRIB2 product", importer="mrms_grib")
    return _found("grib", f"GRIB{edition}")


# --- archives and shapefiles ------------------------------------------------------------

def _sniff_zip(p: Path) -> Sniffed:
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise FormatError(p, f"a zip archive that cannot be opened ({exc})") from None
    with zf:
        names = zf.namelist()
        shps = [n for n in names if n.lower().endswith(".shp")]
        if shps and all(_NHC_MEMBER.search(n) for n in shps):
            return _found("nhc_windprob", f"NHC wind-speed probabilities ({len(shps)} shapefiles)")
        if shps:
            dbf = next((n for n in names if n.lower().endswith(".dbf")), None)
            if dbf and _spc_fields(_dbf_fields(zf.read(dbf)[:4096])):
                return _found("spc_outlook", f"SPC convective outlook ({len(shps)} shapefile layers, zipped)")
        geo = [n for n in names if n.lower().endswith((".geojson", ".json"))]
        if geo and _spc_geojson(zf.read(geo[0])[:_GEOJSON_MAX]):
            return _found("spc_outlook", f"SPC convective outlook ({len(geo)} GeoJSON layers, zipped)")
    raise FormatError(p, "a zip archive holding no known format (not NHC wind probabilities or an SPC outlook)")


def _dbf_fields(head: bytes) -> list[str]:
    """Field names of a dBASE table header."""
    out = []
    for off in range(32, len(head) - 32, 32):
        if head[off] == 0x0D:
            break
        out.append(head[off:off + 11].split(b"\x00")[0].decode("latin-1").strip().upper())
    return out


def _spc_fields(fields: list[str]) -> bool:
    f = set(fields)
    return "LABEL" in f and ("DN" in f or "LABEL2" in f)


def _sniff_shapefile(p: Path) -> Sniffed:
    dbf = p.with_suffix(".dbf")
    if not dbf.is_file():
        dbf = p.with_suffix(".DBF")
    if p.suffix.lower() != ".shp":
        raise FormatError(p, "a shapefile index (read with its .shp)")
    if not dbf.is_file():
        raise FormatError(p, "a shapefile without its .dbf table")
    with open(dbf, "rb") as fh:
        fields = _dbf_fields(fh.read(4096))
    if _spc_fields(fields):
        return _found("spc_outlook", "SPC convective outlook (shapefile)")
    raise FormatError(p, f"a shapefile of fields {', '.join(fields[:6]) or 'none'}: not an SPC outlook "
                         "(map layers are lookups, not case data)")


def _spc_geojson(raw: bytes) -> bool:
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list):
        return False
    if not feats:  # SPC publishes empty layers ("no risk") with no features
        return doc.get("type") == "FeatureCollection" and "spc" in json.dumps(doc.get("metadata", "")).lower()
    props = [f.get("properties") or {} for f in feats if isinstance(f, dict)]
    keys = {k.upper() for pr in props for k in pr}
    if not ("LABEL" in keys and ("DN" in keys or "LABEL2" in keys)):
        return False
    labels = {str(pr.get("LABEL", pr.get("label", ""))).upper() for pr in props}
    return bool(labels & _SPC_LABELS) or all(re.fullmatch(r"0?\.\d+|\d+%?", lab) for lab in labels if lab)


# --- binary radar formats ---------------------------------------------------------------

def _furuno(head: bytes) -> str | None:
    if len(head) < 16:
        return None
    size, version = struct.unpack("<HH", head[:4])
    if version not in (3, 10, 103) or not 32 <= size <= 8192:
        return None
    if version == 10:
        year, month, day, hour, minute = struct.unpack("<HBBBB", head[4:10])
    else:
        year, month, day, hour, minute = struct.unpack("<HHHHH", head[4:14])
    if 1990 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60:
        return "SCNX" if version == 10 else "SCN"
    return None


def _sniff_binary_radar(p: Path, head: bytes) -> Sniffed | None:
    if len(head) >= 14:
        sid, = struct.unpack("<h", head[0:2])
        nxt, = struct.unpack("<h", head[12:14])
        if sid == 27 and nxt == 26:
            return _found("iris", "IRIS/Sigmet RAW product (product_hdr structure)")
    stripped = head.lstrip()
    if stripped.startswith(b"<volume"):
        return _found("rainbow", "Rainbow 5 volume (XML <volume header)")
    if head[:2] == b"UF" or head[4:6] == b"UF":
        return _found("uf", "Universal Format (UF) record")
    furuno = _furuno(head)
    if furuno:
        return _found("furuno", f"Furuno {furuno} scan")
    text = head[:64].decode("latin-1")
    m = _WMO.match(text)
    if m:
        tt = m.group(1)[:2]
        if tt in ("SD", "NX"):
            return _found("nexrad_level3", f"NEXRAD Level III product (WMO header {m.group(1)}{m.group(2)} "
                                           f"{m.group(3)})")
        if tt == "TI":
            return _found("gini", f"GINI satellite image (WMO header {m.group(1)}{m.group(2)} {m.group(3)})")
    if len(head) >= 30 and head[18:20] == b"\xff\xff":
        code, days, secs, length = struct.unpack(">hhiI", head[:12])
        if 1 <= code <= 299 and 5000 <= days <= 40000 and 0 <= secs <= 86400 and length >= 30:
            return _found("nexrad_level3", f"NEXRAD Level III product (message code {code}, no WMO header)")
    return None


# --- text -------------------------------------------------------------------------------

def _sniff_text(p: Path, head: bytes) -> Sniffed:
    printable = sum(32 <= b < 127 or b in (9, 10, 13, 1, 3) for b in head)
    if printable < 0.95 * len(head):
        raise FormatError(p, "binary content of no known format; name the format in a case file")
    text = head.decode("latin-1")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    first = lines[0].strip() if lines else ""
    if re.search(r"^\s*PRES\s+HGHT\s+TEMP\b", text, re.M):
        return _found("uwyo_sounding", "University of Wyoming sounding text")
    if "%TITLE%" in text and "%RAW%" in text:
        return _found("sharppy", "SHARPpy sounding text (%TITLE%/%RAW%)")
    if _IGRA2.match(first):
        return _found("igra2", f"IGRA2 sounding (station {first[1:12]})")
    if _LSR.match(first):
        return _found("storm_reports", f"SPC local storm reports ({first.split(',')[1].strip()} layout)")
    low = first.lower().replace(" ", "")
    if low.startswith("station,valid,"):
        return _found("surface_csv", "surface observations CSV (station,valid,...)")
    if low.startswith("pressure,height,temperature"):
        return _found("upper_air_csv", "upper-air observations CSV (pressure,height,temperature,...)")
    if first.startswith("{"):
        size = p.stat().st_size
        if size > _GEOJSON_MAX:
            raise FormatError(p, "a JSON file too large to be an SPC outlook")
        if _spc_geojson(p.read_bytes()):
            return _found("spc_outlook", "SPC convective outlook (GeoJSON)")
        raise FormatError(p, "JSON that is not an SPC outlook GeoJSON (no LABEL/LABEL2/DN properties)")
    wmo = [m for m in (_WMO.match(ln.strip()) for ln in lines[:8]) if m]
    if "CODSUS" in text[:400] or any(m.group(1)[:2] == "AS" and "CODSUS" in text for m in wmo):
        return _found("wpc_fronts", "WPC coded surface analysis (CODSUS)")
    if any(m.group(1)[:2] in ("SA", "SP") for m in wmo) or re.search(r"^METAR\s*$", text, re.M) \
            or len(_METAR_LINE.findall(text)) >= 3:
        return _found("metar", "METAR reports")
    raise FormatError(p, "text of no known layout (not a sounding, observations, storm reports, "
                         "METAR, WPC fronts or SPC outlook); name the format in a case file")
