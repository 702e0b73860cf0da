"""NEXRAD Level II volumes (message 1 and 31, TDWR) and their real-time chunks, as hvrmet's
sweep tree (:mod:`hvrmet.data.readers.radar`).

Decoding is xradar's :func:`xradar.io.open_nexradlevel2_datatree` wherever it reads the
file: message-31 volumes, plain or compressed, and a volume given as its real-time chunks
(a tar, optionally gzipped, of the ``<date>-<time>-<seq>-S|I|E`` chunk files, joined in
sequence order, the ``S`` chunk first). Files xradar cannot read (the old message-1
format, and TDWR volumes where it fails) are decoded by MetPy's
:class:`metpy.io.Level2File` into the same tree: one node per elevation cut, a cut whose
moments lie on different gates (message-1 reflectivity at 1 km, Doppler moments at 250 m
beside it) split into one node per gate geometry, so every node has one ``range``.

Message-1 files carry no site position: it comes from the shipped site table
(:mod:`hvrmet.data.sites`), by the id in the file or the ``site`` option.
"""

from __future__ import annotations

import io
import logging
import re
import tarfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import check_file, reading, to_utc64
from hvrmet.data.readers.radar import (MIN_SWEEP_COVERAGE_DEG, _iso, _provenance, _quiet, build_tree,
                                       normalise_tree, sweep_dataset)
from hvrmet.data.sites import get_site
from hvrmet.errors import FormatError

__all__ = ["read_nexrad_level2", "site_from_table", "suggested_site", "SiteUnknown", "LEVEL2_MOMENTS",
           "MIN_SWEEP_COVERAGE_DEG", "MAX_CHUNKS_BYTES"]

#: Level II moment code -> file name hvrmet's renaming knows (see radar.MOMENTS).
LEVEL2_MOMENTS = {"REF": ("REF", "dBZ"), "VEL": ("VEL", "m/s"), "SW": ("SW", "m/s"), "ZDR": ("ZDR", "dB"),
                  "RHO": ("RHO", "1"), "PHI": ("PHI", "degree"), "CFP": ("CFP", "dB")}

#: The most a tar of chunks may hold once unpacked (bytes): a volume is some tens of MB.
MAX_CHUNKS_BYTES = 512 * 1024 * 1024

_CHUNK_NAME = re.compile(r"(\d{8})-(\d{6})-(\d{3})-([SIE])$")


def _name(key) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def read_nexrad_level2(path: str | Path, *, sha256: str = "", site: str | None = None,
                       allow_incomplete: bool = False) -> xr.DataTree:
    """Read a NEXRAD Level II or TDWR volume, or a tar of its real-time chunks.

    Parameters
    ----------
    path
        The volume file (plain, gzip or bzip2), or a tar (``.tar``, ``.tar.gz``) of the
        volume's real-time chunk files.
    sha256
        The file's sha256 (computed when not given), recorded in the root attributes.
    site
        Radar id to locate the site by when the file carries none (message-1 files).
    allow_incomplete
        Keep the complete sweeps of a volume whose last sweep is cut short (real-time
        chunks of a volume still being scanned) instead of refusing it as truncated.

    Returns
    -------
    xarray.DataTree
        hvrmet's sweep tree (:mod:`hvrmet.data.readers.radar`); root attributes also give
        ``message_type`` ("1" or "31"), ``vcp`` and ``decoder``.

    Raises
    ------
    hvrmet.errors.FormatError
        If neither xradar nor MetPy decodes the file, a sweep is incomplete (truncated
        volume), or the site cannot be located.
    """
    p = check_file(path)
    with reading(p, "NEXRAD Level II"), _quiet():
        chunks = _chunks(p) if _is_tar(p) else None
        head = _check_header(p, chunks)
        source: Any = chunks if chunks is not None else str(p)
        if head.startswith(_MESSAGE_1_HEADERS):
            # xradar 0.12 fails on every message-1 volume (a TypeError in its header
            # parse): MetPy's, without the attempt
            tree = _read_metpy(p, source, site, first_error=f"not tried on a message-1 volume "
                                                            f"({head[:8].decode('latin-1')} header)")
        else:
            try:
                tree = _read_xradar(p, source, site, allow_incomplete, chunks is not None)
            except FormatError as exc:
                if "incomplete" in exc.problem or "truncated" in exc.problem:
                    raise
                tree = _read_metpy(p, source, site, first_error=exc.problem)
            except Exception as exc:  # noqa: BLE001 - xradar cannot read it: MetPy's turn
                tree = _read_metpy(p, source, site, first_error=f"{type(exc).__name__}: {exc}"[:200])
    if chunks is not None:
        tree.attrs["chunks"] = True
    return _provenance(tree, p, sha256, "nexrad_level2")


#: Volume headers of the message-1 (legacy, before 2008) format.
_MESSAGE_1_HEADERS = (b"ARCHIVE2", b"AR2V0001")


def _check_header(p: Path, chunks: bytes | None) -> bytes:
    """The first bytes of the volume (after gzip or bzip2 decompression of the whole
    file); a file that does not start like a Level II volume (``AR2V`` or ``ARCHIVE2``) is
    refused."""
    import bz2
    import gzip

    if chunks is not None:
        head = chunks[:8]
    else:
        with open(p, "rb") as fh:
            head = fh.read(64)
        try:
            if head[:2] == b"\x1f\x8b":
                with gzip.open(p) as fh:
                    head = fh.read(8)
            elif head[:3] == b"BZh":
                with bz2.open(p) as fh:
                    head = fh.read(8)
        except (OSError, EOFError, ValueError):
            raise FormatError(p, "the compressed file is corrupted or truncated: not a readable Level II volume") from None
    if head[:4] not in (b"AR2V", b"ARCH"):
        what = "the chunks do not" if chunks is not None else "the file does not"
        raise FormatError(p, f"not a NEXRAD Level II volume: {what} start with a Level II volume header "
                             "('AR2V' or 'ARCHIVE2')")
    return head


# --------------------------------------------------------------------------- chunks
def _is_tar(p: Path) -> bool:
    try:
        return tarfile.is_tarfile(p)
    except (OSError, EOFError, tarfile.TarError):
        return False


def _chunks(p: Path) -> bytes:
    """The chunk files of a tar joined in sequence order (``S`` chunk first)."""
    items = []
    total = 0
    try:
        with tarfile.open(p, "r:*") as tf:
            for m in tf.getmembers():
                if not m.isfile():
                    continue
                total += m.size
                if total > MAX_CHUNKS_BYTES:
                    raise FormatError(p, f"the tar holds more than {MAX_CHUNKS_BYTES // 2**20} MB: not one volume's chunks")
                fh = tf.extractfile(m)
                data = fh.read() if fh is not None else b""
                items.append((Path(m.name).name, data))
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise FormatError(p, f"cannot be read as a tar of Level II chunks (truncated or corrupted): {exc}") from None
    if not items:
        raise FormatError(p, "the tar holds no chunk files")
    named = [(n, d) for n, d in items if _CHUNK_NAME.search(n)]
    if len(named) != len(items):
        bad = next(n for n, _ in items if not _CHUNK_NAME.search(n))
        raise FormatError(p, f"tar member {bad!r} is not a Level II chunk (names are <date>-<time>-<seq>-S|I|E)")
    named.sort(key=lambda nd: (_CHUNK_NAME.search(nd[0]).group(1, 2), int(_CHUNK_NAME.search(nd[0]).group(3))))
    starts = [n for n, _ in named if n.endswith("-S")]
    if len(starts) != 1:
        raise FormatError(p, f"the tar holds {len(starts)} start (S) chunks: it must hold exactly one volume")
    if not named[0][0].endswith("-S"):
        raise FormatError(p, "the start (S) chunk is not the first of the sequence")
    seqs = [int(_CHUNK_NAME.search(n).group(3)) for n, _ in named]
    missing = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
    if missing:
        raise FormatError(p, f"chunk(s) {', '.join(f'{m:03d}' for m in missing[:8])} missing from the sequence")
    return b"".join(d for _, d in named)


# --------------------------------------------------------------------------- xradar
def _read_xradar(p: Path, source: Any, site: str | None, allow_incomplete: bool, chunked: bool) -> xr.DataTree:
    import xradar
    from xradar.io.backends.nexrad_level2 import NEXRADLevel2File

    src = source if isinstance(source, str) else bytes(source)
    nyquist: dict[int, float] = {}
    extra: dict[str, Any] = {}
    # one parse of the file's headers serves the checks and the decoding (xradar's own
    # open_nexradlevel2_datatree parses them twice more: a third of the reading time)
    nex = NEXRADLevel2File(src, loaddata=False)
    try:
        incomplete = sorted(nex.incomplete_sweeps)
        present = sorted(nex.data)
        # a complete volume's last radial says "end of volume" (status 4): a file cut at a
        # sweep boundary (or chunks of a volume still being scanned) ends without it
        headers = nex.msg_31_header or []
        ended = any(h and h[-1].get("radial_status") == 4 for h in headers)
        msg5 = nex.msg_5 or {}
        expected = int(msg5.get("number_elevation_cuts", 0) or 0)
        for i, sw in nex.data.items():
            hdr = sw.get("msg_31_data_header") or {}
            rad = hdr.get("RAD") or {}
            if "nyquist_vel" in rad:
                nyquist[int(i)] = float(rad["nyquist_vel"]) / 100.0
            vol = hdr.get("VOL") or {}
            if "vcp" in vol and "vcp" not in extra:
                extra["vcp"] = int(vol["vcp"])
            extra.setdefault("message_type", str(sw.get("msg_type", "31")))
        what = "the chunks end mid-volume" if chunked else "the volume is truncated"
        if incomplete and not allow_incomplete:
            raise FormatError(p, f"{what}: sweep(s) {', '.join(map(str, incomplete))} incomplete "
                                 "(pass allow_incomplete=True to keep the complete sweeps)")
        if headers and not ended and not allow_incomplete:
            raise FormatError(p, f"{what}: it ends after {len(headers)} of the {expected or '?'} elevation cuts of "
                                 "its scan pattern, with no end-of-volume radial (pass allow_incomplete=True to keep "
                                 "the complete sweeps)")
        keys = [k for k in present if k not in incomplete]
        tree = _xradar_tree(nex, keys, msg5.get("elevation_data", []) if msg5 else [], src)
    finally:
        nex.close()
    if not tree.children:
        raise FormatError(p, "no complete sweep decoded: the volume is truncated")
    if incomplete:
        extra["incomplete_sweeps_dropped"] = incomplete
    if headers and not ended:
        extra["volume_complete"] = False
    out = normalise_tree(tree, p, "nexrad_level2", site=site, nyquist=nyquist, attrs=extra,
                         decoder=f"xradar {xradar.__version__} open_nexradlevel2_datatree")
    if incomplete:
        out.attrs["notes"] = [*out.attrs.get("notes", []),
                              f"incomplete sweep(s) {', '.join(map(str, incomplete))} left out"]
    return out


def _xradar_tree(nex, keys: list[int], elev_data: list, src: Any) -> xr.DataTree:
    """The sweeps ``keys`` of an open :class:`xradar.io.backends.nexrad_level2.NEXRADLevel2File`
    as xradar's tree, the moments as raw codes (hvrmet decodes them, 0 (below threshold)
    and 1 (range folded) as NaN: :func:`hvrmet.data.readers.radar.decode_codes`), loaded.

    The steps of :func:`xradar.io.open_nexradlevel2_datatree` (its store per sweep, root
    and sweep attributes), on the file already open; where this xradar lacks them, its
    public function is called on the source instead.
    """
    try:
        from xarray.backends.file_manager import DummyFileManager
        from xarray.backends.store import StoreBackendEntrypoint
        from xradar.io.backends.nexrad_level2 import NexradLevel2Store, _assign_root, _assign_sweep_attrs
    except ImportError:  # another xradar: its own reader (parses the headers again)
        import xradar

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = xradar.io.open_nexradlevel2_datatree(src, incomplete_sweep="drop", mask_and_scale=False)
        return tree.load()
    if not keys:
        return xr.DataTree()
    manager = DummyFileManager(nex)  # closed by the caller
    entry = StoreBackendEntrypoint()
    sweeps = {}
    for i in keys:
        ds = entry.open_dataset(NexradLevel2Store(manager, group=f"sweep_{i}"), mask_and_scale=False)
        sweeps[f"sweep_{i}"] = ds.assign_coords({"azimuth": ds.azimuth, "elevation": ds.elevation,
                                                 "time": ds.time}).load()
    root, rest = _assign_root([xr.Dataset(), *sweeps.values()])
    tree = xr.DataTree.from_dict({"/": root, **{k: d.drop_attrs(deep=False) for k, d in zip(sweeps, rest[1:])}})
    _assign_sweep_attrs(tree, elev_data)
    tree.ds.attrs["actual_elevation_cuts"] = len(nex.data)
    return tree


# --------------------------------------------------------------------------- MetPy
class SiteUnknown(FormatError):
    """A radar file that records neither its site nor the site's position (a message-1,
    legacy, NEXRAD Level II volume), read without a site id: the error names the file and
    how to give the site (``suggested`` holds an id its file name starts with, when the
    site table knows it)."""

    def __init__(self, path, problem: str, suggested: str | None = None):
        super().__init__(path, problem)
        self.suggested = suggested


def suggested_site(p: Path) -> str | None:
    """The radar id a file's name starts with (``KTLX19990503_235621.gz``), when the site
    table knows it; a hint for messages only, never used to read the file."""
    m = re.match(r"([A-Z]{4})", Path(p).name.upper())
    if not m:
        return None
    try:
        return get_site(m.group(1)).site
    except KeyError:
        return None


def site_from_table(p: Path, sid: str | None, what: str = "the file") -> tuple[str, float, float, float, str]:
    """A site's id, latitude, longitude, altitude (m) and the source of the position,
    from the shipped radar site table.

    Raises
    ------
    SiteUnknown
        If no id is known (the message says how to give one).
    hvrmet.errors.FormatError
        If the table lacks the id.
    """
    if not sid:
        hint = suggested_site(p)
        raise SiteUnknown(p, f"{what} records no radar site or position, and no site was given: give the radar's "
                             "id (hvrmet cases new --site XXXX, radar_site in the case, or site= to the reader)"
                             + (f"; the file name starts with {hint}, a radar of the site table" if hint else ""),
                          suggested=hint)
    try:
        s = get_site(sid)
    except KeyError as exc:
        raise FormatError(p, str(exc.args[0])) from None
    if not np.isfinite(s.elevation_m):  # the table lacks a few elevations
        return s.site, s.latitude, s.longitude, 0.0, ("hvrmet radar site table (elevation unknown: "
                                                       "heights are above the radar)")
    return s.site, s.latitude, s.longitude, s.elevation_m, "hvrmet radar site table"


def _read_metpy(p: Path, source: Any, site: str | None, first_error: str) -> xr.DataTree:
    import metpy
    from metpy.io import Level2File

    logging.getLogger("metpy.io.nexrad").setLevel(logging.ERROR)
    # a MetPy failure goes to the reading() boundary, which words it plainly. A file is
    # handed over open: MetPy then recognises gzip and bzip2 by their bytes (given a path
    # it goes by the name's extension, and reads a gzip file named .bin as garbage).
    if isinstance(source, str):
        with open(source, "rb") as fh:
            f = Level2File(fh)
    else:
        f = Level2File(io.BytesIO(source))
    if not f.sweeps:
        raise FormatError(p, "no radials decoded: not a Level II volume or truncated")
    stid = _name(f.stid).strip("\x00 ").strip()
    first = f.sweeps[0][0]
    if len(first) > 2 and getattr(first[1], "lat", None) is not None and (first[1].lat or first[1].lon):
        vol = first[1]
        sid, lat, lon, alt, loc = stid or (site or ""), float(vol.lat), float(vol.lon), float(vol.site_amsl), "file"
    else:
        sid, lat, lon, alt, loc = site_from_table(p, stid or site, what="this message-1 (legacy) Level II volume")
    notes: list[str] = []
    sweeps = []
    for i, sweep in enumerate(f.sweeps):
        for ds in _cut_datasets(i, sweep):
            out = sweep_dataset(ds, label=f"elevation cut {i}", p=p, fmt="nexrad_level2", notes=notes,
                                nyquist=_nyquist(sweep[0]))
            if out is not None:
                sweeps.append(out)
    msg = "31" if len(first) > 2 else "1"
    return build_tree(sweeps, p=p, fmt="nexrad_level2", site_id=sid, lat=lat, lon=lon, alt=alt,
                      location_source=loc, decoder=f"MetPy {metpy.__version__} Level2File (xradar: {first_error})",
                      attrs={"message_type": msg, "vcp": int(_vcp(f))}, notes=notes,
                      time_start=_iso(to_utc64(f.dt)))


def _cut_datasets(i: int, sweep) -> list[xr.Dataset]:
    """The moments of one elevation cut as sweep datasets, one per gate geometry
    (reflectivity first)."""
    hdrs = [ray[0] for ray in sweep]
    az = np.array([h.az_angle for h in hdrs], np.float64)
    el = np.array([h.el_angle for h in hdrs], np.float32)
    base = np.datetime64("1969-12-31T00:00:00", "ms")  # NEXRAD Julian date 1 = 1970-01-01
    days = np.array([int(h.date) for h in hdrs], np.int64)
    ms = np.array([int(h.time_ms) for h in hdrs], np.int64)
    times = (base + (days * 86400000 + ms).astype("timedelta64[ms]")).astype("datetime64[ns]")
    # one pass over the rays: each moment's data by gate geometry (first gate, spacing)
    geoms: dict[tuple[float, float], dict[str, list]] = {}
    seen: dict[tuple[float, float], tuple[float, float]] = {}
    for j, ray in enumerate(sweep):
        for key, (hdr, data) in ray[-1].items():
            raw_g = (hdr.first_gate, hdr.gate_width)
            g = seen.get(raw_g)
            if g is None:
                g = seen[raw_g] = (round(float(raw_g[0]), 6), round(float(raw_g[1]), 6))
            geoms.setdefault(g, {}).setdefault(_name(key).strip(), []).append((j, int(hdr.num_gates), data))
    order = list(LEVEL2_MOMENTS)
    groups = sorted(geoms.items(), key=lambda kv: min(order.index(m) if m in order else 99 for m in kv[1]))
    out = []
    for (first, width), moms in groups:
        ngate = max(n for rays in moms.values() for _, n, _ in rays)
        data_vars = {}
        for m, rays in moms.items():
            a = np.full((len(sweep), ngate), np.nan, np.float32)
            for j, _, data in rays:
                a[j, : len(data)] = data
            name, units = LEVEL2_MOMENTS.get(m, (m, ""))
            data_vars[name] = (("azimuth", "range"), a, {"units": units})
        rng = ((first + width * np.arange(ngate)) * 1000.0).astype(np.float32)
        ds = xr.Dataset(
            {**data_vars,
             "sweep_number": ((), np.int64(i)),
             "sweep_mode": ((), "azimuth_surveillance"),
             "sweep_fixed_angle": ((), np.float32(np.nanmedian(el)), {"units": "degree"})},
            coords={"azimuth": ("azimuth", az.astype(np.float32), {"units": "degree"}),
                    "elevation": ("azimuth", el, {"units": "degree"}),
                    "time": ("azimuth", times), "range": ("range", rng, {"units": "m"})})
        out.append(ds)
    return out


def _nyquist(ray) -> float:
    hdr = ray[0]
    if hasattr(hdr, "nyq_vel"):
        return float(hdr.nyq_vel or np.nan)
    rad = ray[3] if len(ray) > 4 else None
    return float(getattr(rad, "nyq_vel", np.nan) or np.nan)


def _vcp(f) -> int:
    ray = f.sweeps[0][0]
    if len(ray) > 2 and hasattr(ray[1], "vcp"):
        return ray[1].vcp
    return getattr(ray[0], "vcp", -1) or -1
