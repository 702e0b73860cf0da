"""NEXRAD and TDWR Level III products into :class:`xarray.Dataset`.

Decoding is MetPy's :class:`metpy.io.Level3File`; this module turns the structures MetPy
decodes (``sym_block``, ``graph_pages``, ``tab_pages``, ``metadata``) into datasets. Every
product code of MetPy's product table (``Level3File.prod_spec_map``) decodes:

* radial images (base and super-resolution reflectivity, velocity and spectrum width,
  dual-pol moments, precipitation, hybrid scan, TDWR products, XDR generic radials) become
  ``(azimuth, range)`` fields, raster images (composite reflectivity, VIL, echo tops,
  layer composites, the digital precipitation array) ``(y, x)`` fields on the product's km
  grid centred on the radar; both get latitude and longitude for every bin. The digital
  enhanced echo tops add a ``topped`` flag, categorical products their class labels;
* graphic and tabular products become tables (dim ``row``): storm tracking information
  (NST, every cell of the symbology block, checked against the header's count), the
  mesocyclone detection (NMD), tornado vortex signatures (NTV), the hail index (NHI),
  storm structure (NSS) and the VAD wind profile (NVW);
* the composite reflectivity product (NCR) carries the storm-attributes table (TVS and
  MDA flags, POSH, POH, maximum hail size, VIL, maximum reflectivity and its height, top,
  movement: every row) as variables ``storm_*`` on dim ``storm``;
* text products (free text, radar coded message, general status message, standalone
  tabular products) become a ``text`` variable of lines.

Before MetPy parses a file, the message length in its product header is compared with
the bytes present: a file whose size does not match is rejected (MetPy would only warn,
and loops forever on some truncated tabular blocks). MetPy then reads through a buffer
that refuses to read past the end of the data, and under a time limit
(:data:`PARSE_TIME_LIMIT_S`), so corrupted length fields end in a
:class:`~hvrmet.errors.FormatError` naming the file, never a hang.

Case roles: :func:`level3_roles` generates a ``level3_<product>`` role for every product of
MetPy's table (``level3_tornado_vortex_signature``, ``level3_hail_index``...), and
:func:`is_level3_role` accepts them (and any Level III role with a ``_<n>`` suffix, for a
second product of the same kind).
"""

from __future__ import annotations

import ctypes
import functools
import math
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import (add_provenance, aeqd_transformer, check_file, gate_lat_lon, lazy_lat_lon, reading,
                                         to_utc64)
from hvrmet.errors import FormatError

__all__ = ["read_nexrad_level3", "level3_roles", "is_level3_role", "product_role", "PARSE_TIME_LIMIT_S"]

NM_TO_M = 1852.0
KM_TO_NM = 1000.0 / NM_TO_M
#: Seconds MetPy may take to parse one product before the file is declared corrupted
#: (the largest real product, a 0.5 MB super-resolution correlation coefficient, takes
#: about a second).
PARSE_TIME_LIMIT_S = 60.0
#: Width of one character of a graphic alphanumeric page, in the page's pixel units (the
#: pages' own grid lines fall on multiples of it).
CHAR_PX = 7


# ----------------------------------------------------------------------------- roles
def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@functools.lru_cache(maxsize=1)
def level3_roles() -> dict[str, str]:
    """A case role for every product of MetPy's Level III product table.

    Generated from :attr:`metpy.io.Level3File.prod_spec_map`: ``level3_<product name>``
    (lower case, words joined by ``_``), described with the product codes it covers.
    """
    from metpy.io import Level3File

    names: dict[str, tuple[str, list[int]]] = {}
    for code, spec in sorted(Level3File.prod_spec_map.items()):
        names.setdefault(_slug(spec[0]), (spec[0], []))[1].append(int(code))
    return {f"level3_{slug}": f"Level III {name} (product code{'s' if len(codes) > 1 else ''} "
                              f"{', '.join(str(c) for c in codes)})"
            for slug, (name, codes) in sorted(names.items())}


def product_role(code: int) -> str:
    """The generated role of a product code (``level3_product_<code>`` when MetPy lacks it)."""
    from metpy.io import Level3File

    spec = Level3File.prod_spec_map.get(int(code))
    return f"level3_{_slug(spec[0])}" if spec else f"level3_product_{int(code)}"


def is_level3_role(role: str, known: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether ``role`` is a Level III role.

    One of :func:`level3_roles`, or one of those or of ``known`` (the hand-written
    ``level3_*`` roles) followed by ``_<n>`` (a second product of the same kind, e.g.
    ``level3_tdwr_base_velocity_2``).
    """
    if not isinstance(role, str) or not role.startswith("level3_"):
        return False
    base = re.sub(r"_\d+$", "", role)
    if role in known:
        return True
    roles = level3_roles()
    return role in roles or (base != role and (base in roles or base in known))


# ----------------------------------------------------------------------------- reading
def read_nexrad_level3(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read a Level III product file.

    Returns
    -------
    xarray.Dataset
        A field (``data`` with the product's physical units), a table (dim ``row``) or
        text lines, with the product code and name, site, volume time and site location in
        the attributes, and ``decode_warnings`` listing anything the decoder noticed
        (a count that differs from the header's, rows it could not read).

    Raises
    ------
    hvrmet.errors.FormatError
        The file is truncated or padded (its size differs from the header's message
        length), corrupted, or not a Level III product: the message names the file.
    """
    p = check_file(path)
    with reading(p, "NEXRAD Level III"):
        _check_message_length(p)
        f = _parse(p)
        ds = _decode(p, f)
    return add_provenance(ds, p, sha256, "nexrad_level3")


def _check_message_length(p: Path) -> None:
    """Compare the message length in the product header with the bytes present.

    The steps mirror :class:`metpy.io.Level3File`'s own start: drop the WMO header and
    trailer, undo zlib framing, drop a second WMO header. MetPy only warns when the sizes
    differ (and then loops forever on some truncated tabular blocks); here the file is
    rejected before MetPy parses it.
    """
    from metpy.io._tools import IOBuffer
    from metpy.io.nexrad import Level3File, zlib_decompress_all_frames

    raw = p.read_bytes()
    probe = Level3File.__new__(Level3File)
    probe._buffer = IOBuffer(raw)
    probe._process_wmo_header()
    probe._process_end_bytes()
    if probe.wmo_code == "NOUS":  # free text message: no binary header
        return
    probe._buffer = IOBuffer(probe._buffer.read_func(zlib_decompress_all_frames))
    probe._process_wmo_header()
    remaining = len(probe._buffer) - probe._buffer._offset
    size = Level3File.header_fmt.size
    if remaining < size:
        raise FormatError(p, f"only {remaining} bytes of product follow the WMO header (a product header "
                             f"alone is {size}): the file is truncated or not a Level III product")
    header = probe._buffer.read_struct(Level3File.header_fmt)
    if header.msg_len != remaining:
        what = "truncated" if header.msg_len > remaining else "longer than its product (padded or corrupted)"
        raise FormatError(p, f"the product header gives a message length of {header.msg_len} bytes but "
                             f"{remaining} are present ({len(raw)} bytes in the file): the file is {what}")


class _ParseTimeout(BaseException):
    """Raised inside the parsing thread when MetPy runs past the time limit."""


class _ReadPastEnd(EOFError):
    """MetPy asked for bytes beyond the end of the product."""


#: run-length byte (count in the high nibble, code in the low) -> the codes it stands for
_RLE_RUNS = [bytes([b & 0x0F]) * (b >> 4) for b in range(256)]


@functools.lru_cache(maxsize=1)
def _strict_classes():
    from metpy.io._tools import IOBuffer
    from metpy.io.nexrad import Level3File

    class StrictBuffer(IOBuffer):
        """An IOBuffer that refuses reads past the end (MetPy's returns b'' and loops)."""

        def read(self, num_bytes=None):
            # IOBuffer.read (get_next + skip) in one frame: it is called for every field
            off, data = self._offset, self._data
            if num_bytes is None:
                self._offset = len(data)
                return data[off:]
            if num_bytes < 0 or off + num_bytes > len(data):
                raise _ReadPastEnd(f"a length field asks for {num_bytes} bytes at offset {off} "
                                   f"of a {len(data)}-byte product")
            self._offset = off + num_bytes
            return data[off:off + num_bytes]

    class StrictLevel3File(Level3File):
        """MetPy's Level3File reading through :class:`StrictBuffer`, with run-length rows
        decoded to bytes by table lookup (the same codes as MetPy's loop, which builds a
        list one run at a time and was most of the decode time of raster products)."""

        @staticmethod
        def _unpack_rle_data(data):
            return b"".join(map(_RLE_RUNS.__getitem__, data))

        @property
        def _buffer(self):
            return self.__dict__["_strict_buffer"]

        @_buffer.setter
        def _buffer(self, buf):
            if not isinstance(buf, StrictBuffer):
                new = StrictBuffer(buf._data)
                new._offset, new._bookmarks = buf._offset, list(buf._bookmarks)
                buf = new
            self.__dict__["_strict_buffer"] = buf

    return StrictLevel3File


class _Watchdog:
    """One daemon thread that stops overrunning parses: :meth:`arm` registers a deadline
    for the calling thread, :meth:`disarm` removes it; at a deadline the thread gets a
    :class:`_ParseTimeout` (``PyThreadState_SetAsyncExc``), delivered at its next Python
    instruction. (A ``threading.Timer`` per file cost more than MetPy's whole parse of a
    small product.) Firing and disarming hold the same lock, so no exception is sent
    after :meth:`disarm` returns ``False``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: dict[int, tuple[float, int]] = {}
        self._fired: set[int] = set()
        self._next = 0
        self._thread: threading.Thread | None = None

    def arm(self, limit_s: float) -> int:
        import time

        with self._cond:
            self._next += 1
            token = self._next
            self._jobs[token] = (time.monotonic() + limit_s, threading.get_ident())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hvrmet-level3-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        return token

    def disarm(self, token: int) -> bool:
        """Remove the deadline; ``True`` if it had already fired."""
        with self._cond:
            self._jobs.pop(token, None)
            fired = token in self._fired
            self._fired.discard(token)
            return fired

    def _run(self) -> None:
        import time

        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, tid) in list(self._jobs.items()):
                    if deadline <= now:
                        del self._jobs[token]
                        self._fired.add(token)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid),
                                                                   ctypes.py_object(_ParseTimeout))
                wait = min((d for d, _ in self._jobs.values()), default=now + 3600.0) - now
                self._cond.wait(timeout=max(wait, 0.001))


_WATCHDOG = _Watchdog()


def _parse(p: Path):
    """``Level3File(p)`` through a strict buffer, stopped after :data:`PARSE_TIME_LIMIT_S`.

    The limit works in any thread: a watchdog thread raises an exception in the parsing
    thread (``PyThreadState_SetAsyncExc``), delivered at MetPy's next Python instruction.
    """
    cls = _strict_classes()
    limit = float(PARSE_TIME_LIMIT_S)
    timed_out = False
    try:
        token = _WATCHDOG.arm(limit)
        try:
            f = cls(str(p))
        finally:
            if _WATCHDOG.disarm(token):  # fired: drop the exception if not yet delivered
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(threading.get_ident()), None)
                timed_out = True
    except _ParseTimeout:
        timed_out = True
    except _ReadPastEnd as exc:
        raise FormatError(p, f"the product is corrupted: {exc}") from None
    except AssertionError as exc:
        raise FormatError(p, "the product is corrupted: a block divider or length check failed"
                             + (f" ({exc})" if str(exc) else "")) from None
    if timed_out:
        raise FormatError(p, f"MetPy did not finish decoding the product within {limit:g} s: the file is "
                             "corrupted (a length field that never ends)")
    return f


# ----------------------------------------------------------------------------- dispatch
#: Product codes decoded as tables, by the name of their table.
TABLE_PRODUCTS = {58: "storm_tracks", 141: "mesocyclones", 61: "tvs", 59: "hail_index",
                  62: "storm_structure", 48: "vad_winds"}


def _decode(p: Path, f) -> xr.Dataset:
    if getattr(f, "header", None) is None and getattr(f, "wmo_code", "") == "NOUS":
        ds = _text_dataset(getattr(f, "text", "").splitlines())
        ds.attrs.update({"product_code": 0, "product_name": "Free Text Message", "geometry": "text",
                         "radar_site": getattr(f, "siteID", "")})
        return ds
    if not hasattr(f, "header"):
        raise FormatError(p, "the product is empty (no message header after the WMO header)")
    if getattr(f, "gsm", None) is not None:
        return _gsm(f)
    code = int(f.header.code)
    attrs = _attrs(f, code)
    warnings: list[str] = []
    if "defaultVals" in f.metadata:
        warnings.append(f"product code {code} is not in MetPy's product table: decoded with default metadata")
    if code in TABLE_PRODUCTS:
        ds = _TABLES[TABLE_PRODUCTS[code]](p, f, warnings)
    elif code == 74:
        lines = []
        for name in ("rcm_ref", "rcm_vad", "rcm_remarks"):
            lines.extend(getattr(f, name, "").splitlines())
        ds = _text_dataset(lines)
    elif code in f.standalone_tabular:
        ds = _text_dataset(_tab_lines(f))
    else:
        packet = _field_packet(f)
        if packet is not None:
            ds = _field(p, f, packet, code, warnings)
            if code in (37, 38):
                table = _storm_attributes(f, warnings)
                if table is not None:
                    ds = xr.merge([ds, table], combine_attrs="override")
        else:
            ds = _features(p, f, warnings)
    ds.attrs.update(attrs)
    if getattr(f, "tab_pages", None) and "product_text" not in ds.attrs:
        ds.attrs["product_text"] = "\n\f\n".join(f.tab_pages)
    ds.attrs["decode_warnings"] = list(dict.fromkeys(ds.attrs.get("decode_warnings", []) + warnings))
    ds.attrs["title"] = f"{attrs['product_name']} ({attrs['radar_site']}, {attrs['volume_time']})"
    return ds


def _attrs(f, code: int) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "product_code": code,
        "product_name": f.product_name,
        "product_role": product_role(code),
        "radar_site": f.siteID,
        "site_latitude": float(f.lat), "site_longitude": float(f.lon),
        "site_altitude_m": float(f.height) * 0.3048,
        "volume_time": str(to_utc64(f.metadata["vol_time"])),
        "product_time": str(to_utc64(f.metadata.get("prod_time", f.metadata["vol_time"]))),
    }
    for k, v in f.metadata.items():
        if k in ("vol_time", "prod_time", "msg_time", "defaultVals"):
            continue
        key = "product_max" if k == "max" else ("product_min" if k == "min" else k)
        key = "elevation_angle" if k == "el_angle" else key
        if isinstance(v, (bool, np.bool_)):
            attrs[key] = int(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            attrs[key] = float(v) if isinstance(v, (float, np.floating)) else int(v)
        elif hasattr(v, "isoformat"):
            attrs[key] = str(to_utc64(v)) if hasattr(v, "hour") else v.isoformat()
        elif v is not None:
            attrs[key] = str(v)
    return attrs


def _text_dataset(lines: list[str]) -> xr.Dataset:
    lines = [ln.rstrip() for ln in lines]
    ds = xr.Dataset({"text": ("line", np.array(lines, dtype=str))}, coords={"line": np.arange(len(lines))})
    ds.attrs["geometry"] = "text"
    return ds


def _tab_lines(f) -> list[str]:
    out: list[str] = []
    for page in getattr(f, "tab_pages", None) or []:
        out.extend(page.splitlines())
    return out


def _gsm(f) -> xr.Dataset:
    ds = _text_dataset([f"{k}: {v}" for k, v in f.gsm._asdict().items()])
    ds.attrs.update({"product_code": 2, "product_name": "General Status Message", "geometry": "text",
                     "radar_site": getattr(f, "siteID", "")})
    return ds


# ----------------------------------------------------------------------------- fields
#: Units of the values MetPy's mappers give, by product code (ICD 2620001; legacy 16-level
#: velocities and spectrum widths are in knots, digital ones in m/s).
_UNITS = {
    **dict.fromkeys((16, 17, 18, 19, 20, 21, 32, 33, 35, 36, 37, 38, 50, 63, 64, 65, 66, 67, 89, 90,
                     94, 95, 96, 97, 98, 153, 180, 181, 186, 187), "dBZ"),
    **dict.fromkeys((22, 23, 24, 25, 26, 27, 28, 29, 30, 51, 55, 56, 183, 185), "knot"),
    **dict.fromkeys((93, 99, 154, 155, 182), "m/s"),
    **dict.fromkeys((31, 78, 79, 80, 138, 169, 170, 171, 172, 173, 174, 175), "inch"),
    **dict.fromkeys((57, 134), "kg/m^2"),
    **dict.fromkeys((41, 135), "kft"),
    **dict.fromkeys((158, 159), "dB"),
    **dict.fromkeys((160, 161, 167, 157), "1"),
    **dict.fromkeys((162, 163), "degree/km"),
    168: "degree", 176: "inch/h", 81: "dBA", 113: "dB", 132: "percent", 133: "percent",
    156: "m^(2/3)/s",
}
#: Digital accumulation arrays: MetPy's generic mapper gives hundredths of an inch.
_SCALE = dict.fromkeys((170, 172, 173, 174, 175), 0.01)
#: Products whose values are classes, not quantities.
_CATEGORICAL = {34, 164, 165, 166, 177}


def _field_packet(f) -> dict | None:
    for layer in getattr(f, "sym_block", None) or []:
        for pk in layer:
            if not isinstance(pk, dict):
                continue
            if "data" in pk and ("start_az" in pk or "start_x" in pk or set(pk) == {"data"}):
                return pk
            comp = pk.get("components")
            if comp is not None and hasattr(comp, "radials") and comp.radials:
                return pk
    return None


def _ragged(rows: list, fill: int = 0) -> np.ndarray:
    """Rows of codes (bytes or sequences of ints) as one array, short rows padded with
    ``fill``; bytes rows give ``uint8``."""
    n = max((len(r) for r in rows), default=0)
    if rows and all(isinstance(r, (bytes, bytearray)) for r in rows) and 0 <= fill <= 255:
        if all(len(r) == n for r in rows):
            return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), n)
        out = np.full((len(rows), n), fill, dtype=np.uint8)
        for i, r in enumerate(rows):
            out[i, :len(r)] = np.frombuffer(bytes(r), dtype=np.uint8)
        return out
    if rows and 0 <= fill <= 255 and all(len(r) == n for r in rows):
        try:  # codes of 0-255 (run-length raster rows): through bytes, far faster than element by element
            return np.frombuffer(b"".join(map(bytes, rows)), dtype=np.uint8).reshape(len(rows), n)
        except (TypeError, ValueError):  # a code outside 0-255
            pass
    out = np.full((len(rows), n), fill, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = np.frombuffer(bytes(r), dtype=np.uint8) if isinstance(r, (bytes, bytearray)) else r
    return out


def _map_codes(mapper, raw: np.ndarray, scale: float):
    """Physical values of the codes ``raw`` through MetPy's mapper (codes beyond its
    table clipped to its last entry), times ``scale``, as float32; a mapper that gives
    (values, flags) gives both."""
    nlut = len(mapper.lut)
    if raw.size and (raw.min() < 0 or raw.max() > nlut - 1):
        raw = np.clip(raw, 0, nlut - 1)
    if _plain_mapper(mapper):
        lut = np.asarray(mapper.lut, dtype=np.float64) * scale
        return lut.astype(np.float32)[raw], None
    mapped = mapper(raw)
    topped = None
    if isinstance(mapped, tuple):  # digital enhanced echo tops: (values, topped flags)
        mapped, topped = mapped
    return (np.asarray(mapped, dtype=np.float64) * scale).astype(np.float32), topped


def _plain_mapper(mapper) -> bool:
    """Whether MetPy's mapper is a plain table lookup (``DataMapper.__call__``)."""
    from metpy.io.nexrad import DataMapper

    return type(mapper).__call__ is DataMapper.__call__


def _field(p: Path, f, packet: dict, code: int, warnings: list[str]) -> xr.Dataset:
    comp = packet.get("components")
    if comp is not None:  # XDR generic radial component
        raw = _ragged([list(r.data) for r in comp.radials])
        start = np.array([r.azimuth for r in comp.radials], dtype=np.float64)
        width = np.array([r.width for r in comp.radials], dtype=np.float64)
        az_c = (start + width / 2.0) % 360.0
        first_m = float(comp.first_gate) * 1000.0 if comp.first_gate < 50 else float(comp.first_gate)
        geometry = "radial"
    else:
        raw = _ragged(packet["data"])
        geometry = "radial" if "start_az" in packet else "raster"
    if raw.size == 0:
        raise FormatError(p, f"product {f.product_name!r} has an empty data packet")
    site_lat, site_lon = float(f.lat), float(f.lon)
    if not (np.isfinite(site_lat) and abs(site_lat) <= 90.0 and np.isfinite(site_lon) and abs(site_lon) <= 360.0):
        # checked now: the gates' lat/lon are computed from it on first use, after the read
        raise FormatError(p, f"the product gives an impossible radar position ({site_lat}, {site_lon}): "
                             "the header is corrupted")
    values, topped = _map_codes(f.map_data, raw, _SCALE.get(code, 1.0))
    extra: dict[str, Any] = {}
    if topped is not None:
        extra["topped"] = np.asarray(topped, dtype=bool)
    units = _UNITS.get(code, getattr(f.map_data, "units", "1"))
    data_attrs: dict[str, Any] = {"units": units, "long_name": f.product_name}
    labels = getattr(f.map_data, "labels", None)
    if labels:
        if code in _CATEGORICAL or type(f.map_data).__name__ == "DigitalHMCMapper":
            data_attrs["flag_meanings"] = " ".join(str(x) or "-" for x in labels)
            if type(f.map_data).__name__ == "DigitalHMCMapper":
                data_attrs["flag_values"] = list(range(len(labels)))
        else:
            data_attrs["level_labels"] = [str(x) for x in labels]
    if code in (170, 172, 173, 174, 175) and "product_max" not in data_attrs:
        data_attrs["note"] = "MetPy's values are hundredths of an inch; scaled to inches"
    if code == 81:
        data_attrs["note"] = "10 log10 of the hourly accumulation in mm (dBA); HRAP boxes, positions approximate"
    if geometry == "radial":
        if comp is None:
            start = np.asarray(packet["start_az"], dtype=np.float64)
            end = np.asarray(packet["end_az"], dtype=np.float64)
            az_c = (start + ((end - start) % 360.0) / 2.0) % 360.0
            first_m = None
        n = values.shape[1]
        # the packet's gate scale is unreliable for TDWR and super-resolution products
        # (0.001 or 0.999 where the gates are 150-300 m); the product's maximum range
        # over the number of bins is right for every product here
        max_range = float(f.max_range or 230.0)
        gate = max_range * 1000.0 / n
        if comp is not None and comp.gate_width:
            gate = float(comp.gate_width) * (1000.0 if comp.gate_width < 50 else 1.0)
        first = first_m if first_m is not None else float(packet.get("first", 0)) * gate
        rng = first + gate * (np.arange(n) + 0.5)
        el = float(f.metadata.get("el_angle", 0.0) or 0.0)
        dims = ("azimuth", "range")
        # lat/lon of every gate: computed on first use (most uses read the field alone)
        lat, lon = lazy_lat_lon(dims, values.shape, gate_lat_lon, float(f.lat), float(f.lon), az_c[:, None],
                                np.full((len(az_c), 1), el), rng[None, :], float(f.height) * 0.3048)
        ds = xr.Dataset(
            {"data": (dims, values, data_attrs)},
            coords={"azimuth": ("azimuth", az_c.astype(np.float32), {"units": "degree"}),
                    "range": ("range", rng.astype(np.float32), {"units": "m"}),
                    "lat": lat, "lon": lon})
    elif code in (50, 51):  # cross sections: distance along the section by height
        dims = ("height_bin", "distance_bin")
        ds = xr.Dataset({"data": (dims, values, data_attrs)})
        ds.attrs["geometry"] = "cross_section"
        return _with_extra(ds, extra, dims)
    else:
        # raster products: square boxes centred on the radar; the box size is the
        # product's diameter over the number of columns, on the nearest of 0.25-4 km
        ny, nx = values.shape
        box = 2.0 * float(f.max_range or 230.0) / nx
        size_km = min((0.25, 0.5, 1.0, 2.0, 4.0), key=lambda b: abs(b - box))
        x = (np.arange(nx) - nx / 2 + 0.5) * size_km * 1000.0
        y = (ny / 2 - 0.5 - np.arange(ny)) * size_km * 1000.0
        dims = ("y", "x")
        lat, lon = lazy_lat_lon(dims, values.shape, _raster_lat_lon, float(f.lat), float(f.lon), x, y)
        ds = xr.Dataset({"data": (dims, values, data_attrs)},
                        coords={"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"}),
                                "lat": lat, "lon": lon})
        ds.attrs["grid_box_km"] = size_km
    ds.attrs["geometry"] = geometry
    return _with_extra(ds, extra, dims)


def _raster_lat_lon(lat0: float, lon0: float, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of raster boxes centred at ``x``, ``y`` (m) about the radar."""
    xx, yy = np.meshgrid(x, y)
    lon, lat = aeqd_transformer(lat0, lon0).transform(xx, yy)
    return np.asarray(lat, np.float32), np.asarray(lon, np.float32)


def _with_extra(ds: xr.Dataset, extra: dict, dims: tuple[str, str]) -> xr.Dataset:
    if "topped" in extra:
        ds["topped"] = (dims, extra["topped"], {"long_name": "echo top limited by the highest elevation scanned",
                                                "units": "1"})
    return ds


# ----------------------------------------------------------------------------- text helpers
_SLASH_SPACES = re.compile(r"\s*/\s*")
_QUALIFIER_SPACES = re.compile(r"([<>])\s+")
_CELL_SPLIT = re.compile(r"[/\s]+")


def _tokens(line: str) -> list[str]:
    s = line.replace("NO DATA", "NODATA")
    s = _SLASH_SPACES.sub("/", s)
    s = _QUALIFIER_SPACES.sub(r"\1", s)
    return s.split()


def _qnum(tok: str | None) -> tuple[float, str]:
    """A number and its qualifier ('<', '>' or '') from a table cell; NaN for NEW, NONE..."""
    if tok is None:
        return math.nan, ""
    tok = tok.strip()
    q = tok[0] if tok[:1] in ("<", ">") else ""
    try:
        return float(tok[len(q):]), q
    except ValueError:
        return math.nan, ""


def _num(tok: str | None) -> float:
    return _qnum(tok)[0]


def _parts(tok: str | None, n: int) -> list[str | None]:
    """``"111/34"`` -> ``["111", "34"]`` (padded with None to ``n``)."""
    bits = (tok or "").split("/") if tok and "/" in tok else [tok]
    return (bits + [None] * n)[:n]


_ID = re.compile(r"^[A-Z][0-9]$")


def _graph_rows(page: list) -> list[list[str]]:
    """The text lines of a graphic alphanumeric page, each split into the cells of the
    page's own grid (its vertical lines, :data:`CHAR_PX` pixels to a character)."""
    xs = sorted({v[0] for pk in page if isinstance(pk, dict) and "vectors" in pk
                 for v in pk["vectors"] if len(v) == 4 and v[0] == v[2]})
    rows = []
    for pk in page:
        if not (isinstance(pk, dict) and "text" in pk):
            continue
        text = pk["text"]
        if len(xs) >= 2:
            bounds = [int(round((x - xs[0]) / CHAR_PX)) for x in xs]
            cells = [text[a:b].strip() for a, b in zip(bounds, bounds[1:])]
            if bounds[-1] < len(text.rstrip()):
                cells.append(text[bounds[-1]:].strip())
        else:
            cells = [text[:10].strip()] + [text[i:i + 10].strip() for i in range(10, len(text), 10)]
        rows.append(cells)
    return rows


def _transposed(f) -> dict[str, list[str]]:
    """Graphic pages laid out with one line per attribute and one column per storm:
    attribute label -> cells of every page, in order."""
    out: dict[str, list[str]] = {}
    for page in getattr(f, "graph_pages", None) or []:
        rows = _graph_rows(page)
        width = max((len(r) for r in rows), default=0)
        for r in rows:
            if not r or not r[0]:
                continue
            label = " ".join(r[0].split())
            cells = (r[1:] + [""] * width)[:max(width - 1, 0)]
            out.setdefault(label, []).extend(cells)
    return out


def _table(rows: list[dict], columns: dict[str, str], dim: str = "row") -> xr.Dataset:
    """Rows -> dataset; ``columns`` maps each column to its units (``""`` for text)."""
    data: dict[str, tuple] = {}
    for k, units in columns.items():
        vals = [r.get(k) for r in rows]
        if units == "":
            data[k] = (dim, np.array(["" if v is None else str(v) for v in vals], dtype=str))
        else:
            data[k] = (dim, np.array([np.nan if v is None else float(v) for v in vals], dtype=np.float64),
                       {"units": units})
    ds = xr.Dataset(data, coords={dim: np.arange(len(rows))})
    ds.attrs["geometry"] = "table"
    return ds


def _site_xy(f, x_km: np.ndarray, y_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x_km) == 0:
        return np.zeros(0), np.zeros(0)
    x, y = np.asarray(x_km, np.float64), np.asarray(y_km, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    lat, lon = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    if ok.any():
        lo, la = aeqd_transformer(float(f.lat), float(f.lon)).transform(x[ok] * 1000.0, y[ok] * 1000.0)
        lat[ok], lon[ok] = la, lo
    return lat, lon


def _azran_xy(az: float, rng_nm: float) -> tuple[float, float]:
    r = rng_nm * NM_TO_M / 1000.0
    return r * math.sin(math.radians(az)), r * math.cos(math.radians(az))


def _xy_azran(x: float, y: float) -> tuple[float, float]:
    return math.degrees(math.atan2(x, y)) % 360.0, math.hypot(x, y) * KM_TO_NM


def _add_latlon(ds: xr.Dataset, f, dim: str = "row", prefix: str = "") -> None:
    """Latitude and longitude from ``x_km``/``y_km`` (symbology) or azimuth/range (text)."""
    n = ds.sizes[dim]
    if n == 0:
        ds.coords.update({prefix + "lat": (dim, np.zeros(0), {"units": "degree_north"}),
                          prefix + "lon": (dim, np.zeros(0), {"units": "degree_east"})})
        return
    x = ds[prefix + "x_km"].values.copy() if prefix + "x_km" in ds else np.full(n, np.nan)
    y = ds[prefix + "y_km"].values.copy() if prefix + "y_km" in ds else np.full(n, np.nan)
    az, rg = ds[prefix + "azimuth"].values, ds[prefix + "range_nm"].values
    for i in range(n):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])) and np.isfinite(az[i]) and np.isfinite(rg[i]):
            x[i], y[i] = _azran_xy(float(az[i]), float(rg[i]))
    lat, lon = _site_xy(f, x, y)
    ds.coords.update({prefix + "lat": (dim, lat, {"units": "degree_north"}),
                      prefix + "lon": (dim, lon, {"units": "degree_east"})})


def _symbols(f, kinds: tuple[str, ...]) -> list[dict]:
    """Point symbols of the given MetPy types in the symbology block, one dict each."""
    out = []
    for layer in getattr(f, "sym_block", None) or []:
        for pk in layer:
            if not isinstance(pk, dict) or "x" not in pk or "type" not in pk:
                continue
            xs = pk["x"] if isinstance(pk["x"], list) else [pk["x"]]
            n = len(xs)
            types = pk["type"] if isinstance(pk["type"], list) else [pk["type"]] * n
            for i in range(n):
                if types[i] not in kinds:
                    continue
                item = {"type": types[i]}
                for k, v in pk.items():
                    if k != "type":
                        item[k] = v[i] if isinstance(v, list) else v
                out.append(item)
    return out


# ----------------------------------------------------------------------------- storm tracks
_NST_COLS = {"storm_id": "", "azimuth": "degree", "range_nm": "nautical_mile", "motion_from": "degree",
             "motion_speed": "knot", "x_km": "km", "y_km": "km", "forecast_error_nm": "nautical_mile",
             "mean_error_nm": "nautical_mile", "max_reflectivity": "dBZ", "max_reflectivity_height_kft": "kft",
             "past_positions": "1", "forecast_positions": "1", "forecast_15_azimuth": "degree",
             "forecast_15_range_nm": "nautical_mile", "forecast_60_azimuth": "degree",
             "forecast_60_range_nm": "nautical_mile", "source": "", "motion_source": ""}


def _storm_tracks(p: Path, f, warnings: list[str]) -> xr.Dataset:
    """Every storm cell of the symbology block (id, position, past and forecast track),
    with the attributes the text and graphic pages give for the cells they list."""
    cells: dict[str, dict] = {}
    order: list[str] = []
    current: str | None = None
    for layer in getattr(f, "sym_block", None) or []:
        for pk in layer:
            if not isinstance(pk, dict):
                continue
            if pk.get("type") == "Storm ID":
                ids = pk["id"] if isinstance(pk["id"], list) else [pk["id"]]
                xs = pk["x"] if isinstance(pk["x"], list) else [pk["x"]]
                ys = pk["y"] if isinstance(pk["y"], list) else [pk["y"]]
                for sid, x, y in zip(ids, xs, ys):
                    sid = sid.strip()
                    if sid not in cells:
                        order.append(sid)
                    cells[sid] = {"storm_id": sid, "x_km": float(x), "y_km": float(y), "past": [], "forecast": []}
                    current = sid
            elif "track" in pk and current is not None:
                markers = pk.get("markers", [])
                markers = markers if isinstance(markers, list) else [markers]
                kinds = {k for m in markers if isinstance(m, dict) for k in m}
                tracks = pk["track"] if pk["track"] and isinstance(pk["track"][0], list) else [pk["track"]]
                for tr in tracks:
                    pts = [tuple(map(float, t)) for t in tr[1:]]
                    if "forecast storm position" in kinds:
                        cells[current]["forecast"] = pts
                    elif "past storm position" in kinds:
                        cells[current]["past"] = pts
    # the text pages: id, AZRAN, movement, 15/30/45/60-min forecasts, error
    text_rows: dict[str, dict] = {}
    for ln in _tab_lines(f):
        t = _tokens(ln)
        if len(t) >= 3 and _ID.match(t[0]) and "/" in t[1]:
            az, rg = _parts(t[1], 2)
            row = {"azimuth": _num(az), "range_nm": _num(rg)}
            if t[2] != "NEW":
                d, s = _parts(t[2], 2)
                row.update(motion_from=_num(d), motion_speed=_num(s))
            fc = t[3:7]
            for minutes, tok in zip((15, 30, 45, 60), fc):
                if tok != "NODATA" and "/" in tok:
                    a, r = _parts(tok, 2)
                    row[f"forecast_{minutes}_azimuth"], row[f"forecast_{minutes}_range_nm"] = _num(a), _num(r)
            if len(t) >= 8 and "/" in t[7]:
                e, m = _parts(t[7], 2)
                row.update(forecast_error_nm=_num(e), mean_error_nm=_num(m))
            text_rows[t[0]] = row
    # the graphic pages: one column per storm
    graph = _transposed(f)
    ids = graph.get("STORM ID", [])
    graph_rows: dict[str, dict] = {}
    def cell(label: str, i: int) -> str:
        cells = graph.get(label, [])
        return cells[i] if i < len(cells) else ""

    for i, sid in enumerate(ids):
        if not _ID.match(sid):
            continue
        row: dict[str, Any] = {}
        for label, names in (("AZ/RAN", ("azimuth", "range_nm")), ("FCST MVT", ("motion_from", "motion_speed")),
                             ("ERR/MEAN", ("forecast_error_nm", "mean_error_nm"))):
            tok = _tokens(cell(label, i))
            if tok and "/" in tok[0]:
                a, b = _parts(tok[0], 2)
                row.update({names[0]: _num(a), names[1]: _num(b)})
        tk = cell("DBZM HGT", i).split()
        if len(tk) == 2:
            row.update(max_reflectivity=_num(tk[0]), max_reflectivity_height_kft=_num(tk[1]))
        graph_rows[sid] = row
    for sid in list(text_rows) + list(graph_rows):
        if sid not in cells:
            order.append(sid)
            cells[sid] = {"storm_id": sid, "x_km": None, "y_km": None, "past": [], "forecast": []}
            warnings.append(f"storm {sid} is listed in the pages but has no symbol in the symbology block")
    rows = []
    for sid in order:
        c = cells[sid]
        row = {"storm_id": sid, "x_km": c["x_km"], "y_km": c["y_km"], "past_positions": len(c["past"]),
               "forecast_positions": len(c["forecast"])}
        sources = []
        if c["x_km"] is not None:
            row["azimuth"], row["range_nm"] = _xy_azran(c["x_km"], c["y_km"])
            sources.append("symbology")
        g, t = graph_rows.get(sid, {}), text_rows.get(sid, {})
        if g:
            sources.append("graphic")
        if t:
            sources.append("tabular")
        row.update({k: v for k, v in g.items()})
        row.update({k: v for k, v in t.items()})  # the text pages' own numbers win
        if "motion_speed" in row and np.isfinite(row["motion_speed"]):
            row["motion_source"] = "tabular" if "motion_speed" in t else "graphic"
        elif c["forecast"] and c["x_km"] is not None:
            # symbology only: the product's 15-min forecast position gives the motion
            x1, y1 = c["forecast"][0]
            dx, dy = x1 - c["x_km"], y1 - c["y_km"]
            row["motion_speed"] = math.hypot(dx, dy) / 0.25 * KM_TO_NM
            row["motion_from"] = (math.degrees(math.atan2(dx, dy)) + 180.0) % 360.0
            row["motion_source"] = "symbology forecast track"
            a, r = _xy_azran(x1, y1)
            row.setdefault("forecast_15_azimuth", a)
            row.setdefault("forecast_15_range_nm", r)
            if len(c["forecast"]) >= 4:
                a, r = _xy_azran(*c["forecast"][3])
                row.setdefault("forecast_60_azimuth", a)
                row.setdefault("forecast_60_range_nm", r)
        else:
            row["motion_source"] = "none (new cell)"
        row["source"] = "+".join(sources)
        rows.append(row)
    if not rows:
        raise FormatError(p, "storm tracking product with no storm cell in its symbology or pages")
    ds = _table(rows, _NST_COLS)
    _add_latlon(ds, f)
    header = f.metadata.get("num_storms")
    ds.attrs["table"] = "storm_tracks"
    ds.attrs["storm_count"] = len(rows)
    ds.attrs["header_storm_count"] = int(header) if header is not None else -1
    ds.attrs["tabular_storm_count"] = len(text_rows)
    ds.attrs["graphic_storm_count"] = len(graph_rows)
    if header is not None and int(header) != len(rows):
        warnings.append(f"the product header counts {int(header)} storm cells but {len(rows)} were decoded")
    m = re.search(r"AVG SPEED\s+(\d+)\s+KTS\s+AVG DIRECTION\s+(\d+)", "\n".join(_tab_lines(f)))
    if m:
        ds.attrs["header_mean_speed_kt"] = float(m.group(1))
        ds.attrs["header_mean_direction_deg"] = float(m.group(2))
    return ds


# ----------------------------------------------------------------------------- mesocyclones
_NMD_COLS = {"circulation_id": "", "azimuth": "degree", "range_nm": "nautical_mile", "strength_rank": "1",
             "storm_id": "", "low_level_rotational_velocity": "knot", "low_level_delta_velocity": "knot",
             "base_kft": "kft", "base_qualifier": "", "depth_kft": "kft", "depth_qualifier": "",
             "depth_storm_relative_percent": "percent", "max_rotational_velocity_height_kft": "kft",
             "max_rotational_velocity": "knot", "tvs": "", "motion_from": "degree", "motion_speed": "knot",
             "msi": "1"}


def _mesocyclones(p: Path, f, warnings: list[str]) -> xr.Dataset:
    """The MDA table of the text pages (one row per circulation), checked against the
    circulations drawn in the symbology block."""
    rows = []
    for ln in _tab_lines(f):
        t = _tokens(ln)
        if len(t) < 13 or not t[0].isdigit() or "/" not in t[1] or not _ID.match(t[3]):
            continue
        az, rg = _parts(t[1], 2)
        base, bq = _qnum(t[6])
        depth, dq = _qnum(t[7])
        row = {"circulation_id": t[0], "azimuth": _num(az), "range_nm": _num(rg), "strength_rank": _num(t[2]),
               "storm_id": t[3], "low_level_rotational_velocity": _num(t[4]),
               "low_level_delta_velocity": _num(t[5]), "base_kft": base, "base_qualifier": bq,
               "depth_kft": depth, "depth_qualifier": dq, "depth_storm_relative_percent": _num(t[8]),
               "max_rotational_velocity_height_kft": _num(t[9]), "max_rotational_velocity": _num(t[10]),
               "tvs": t[11], "msi": _num(t[-1])}
        if len(t) >= 14 and "/" in t[12]:
            d, s = _parts(t[12], 2)
            row.update(motion_from=_num(d), motion_speed=_num(s))
        rows.append(row)
    drawn = _symbols(f, ("MDA", "MDA (Elev.)", "MDA (Weak)", "Mesocyclone", "Mesocyclone (ext.)"))
    if not rows and drawn:  # no text table: circulations from the symbology
        for s in drawn:
            az, rg = _xy_azran(float(s["x"]), float(s["y"]))
            rows.append({"circulation_id": "", "azimuth": az, "range_nm": rg, "tvs": ""})
        warnings.append("the product has no readable MDA table: circulations from the symbology only")
    elif drawn and len(drawn) != len(rows):
        warnings.append(f"the MDA table lists {len(rows)} circulations but the symbology draws {len(drawn)}")
    ds = _table(rows, _NMD_COLS)
    _add_latlon(ds, f)
    ds.attrs["table"] = "mesocyclones"
    ds.attrs["symbology_feature_count"] = len(drawn)
    return ds


# ----------------------------------------------------------------------------- TVS
_TVS_COLS = {"feature_type": "", "storm_id": "", "azimuth": "degree", "range_nm": "nautical_mile",
             "x_km": "km", "y_km": "km", "average_delta_velocity": "knot", "low_level_delta_velocity": "knot",
             "max_delta_velocity": "knot", "max_delta_velocity_height_kft": "kft", "depth_kft": "kft",
             "depth_qualifier": "", "base_kft": "kft", "base_qualifier": "", "top_kft": "kft",
             "top_qualifier": "", "max_shear": "1/s", "max_shear_height_kft": "kft", "source": ""}


def _tvs(p: Path, f, warnings: list[str]) -> xr.Dataset:
    """TVS and ETVS detections: positions from the symbology block, attributes from the
    text table (feature type, storm, AZ/RAN, average/low-level/max delta velocity,
    depth, base/top, maximum shear (10^-3 s^-1 in the product, 1/s here) and heights)."""
    drawn = _symbols(f, ("TVS", "ETVS", "TVS (Ext.)", "ETVS (Ext.)"))
    rows = []
    for ln in _tab_lines(f):
        t = _tokens(ln)
        if len(t) < 4 or t[0].upper() not in ("TVS", "ETVS") or "/" not in t[2]:
            continue
        az, rg = _parts(t[2], 2)
        row = {"feature_type": t[0].upper(), "storm_id": t[1], "azimuth": _num(az), "range_nm": _num(rg),
               "source": "tabular"}
        rest = t[3:]
        names = ["average_delta_velocity", "low_level_delta_velocity", "max_delta_velocity", "depth", "base_top",
                 "max_shear"]
        for name, tok in zip(names, rest):
            if name == "max_delta_velocity":
                v, h = _parts(tok, 2)
                row["max_delta_velocity"], row["max_delta_velocity_height_kft"] = _num(v), _num(h)
            elif name == "depth":
                row["depth_kft"], row["depth_qualifier"] = _qnum(tok)
            elif name == "base_top":
                b, tp = _parts(tok, 2)
                row["base_kft"], row["base_qualifier"] = _qnum(b)
                row["top_kft"], row["top_qualifier"] = _qnum(tp)
            elif name == "max_shear":
                v, h = _parts(tok, 2)
                row["max_shear"], row["max_shear_height_kft"] = _num(v) * 1e-3, _num(h)
            else:
                row[name] = _num(tok)
        rows.append(row)
    # positions of the symbols, matched to the rows by azimuth/range
    used: set[int] = set()
    for row in rows:
        best, dist = None, 5.0
        for j, s in enumerate(drawn):
            if j in used:
                continue
            x0, y0 = _azran_xy(row["azimuth"], row["range_nm"])
            d = math.hypot(float(s["x"]) - x0, float(s["y"]) - y0)
            if d < dist:
                best, dist = j, d
        if best is not None:
            used.add(best)
            row["x_km"], row["y_km"] = float(drawn[best]["x"]), float(drawn[best]["y"])
            row["source"] = "tabular+symbology"
    for j, s in enumerate(drawn):
        if j not in used:
            az, rg = _xy_azran(float(s["x"]), float(s["y"]))
            rows.append({"feature_type": "ETVS" if "ETVS" in s["type"] else "TVS", "azimuth": az, "range_nm": rg,
                         "x_km": float(s["x"]), "y_km": float(s["y"]), "source": "symbology"})
    ds = _table(rows, _TVS_COLS)
    _add_latlon(ds, f)
    ds["tvs"] = ("row", np.array(["Y"] * len(rows), dtype=str))
    ds.attrs["table"] = "tvs"
    n_tvs, n_etvs = f.metadata.get("num_tvs"), f.metadata.get("num_etvs")
    if n_tvs is not None:
        ds.attrs["header_tvs_count"], ds.attrs["header_etvs_count"] = int(n_tvs), int(n_etvs or 0)
        if int(n_tvs) + int(n_etvs or 0) != len(rows):
            warnings.append(f"the product header counts {int(n_tvs)} TVS and {int(n_etvs or 0)} ETVS but "
                            f"{len(rows)} detections were decoded")
    return ds


# ----------------------------------------------------------------------------- hail index
_HAIL_COLS = {"storm_id": "", "azimuth": "degree", "range_nm": "nautical_mile", "x_km": "km", "y_km": "km",
              "prob_severe_hail": "percent", "prob_hail": "percent", "max_hail_size": "inch",
              "max_hail_size_qualifier": "", "source": ""}


def _hail_index(p: Path, f, warnings: list[str]) -> xr.Dataset:
    """Hail index per cell: POSH, POH and maximum expected hail size (MEHS) from the
    symbology's hail symbols, storm ids and sizes from the graphic pages where given."""
    drawn = _symbols(f, ("HDA",))
    ids = _symbols(f, ("Storm ID",))
    graph = _transposed(f)
    gids = graph.get("STORM ID", [])
    grows = []
    for i, sid in enumerate(gids):
        if not _ID.match(sid):
            continue
        row: dict[str, Any] = {"storm_id": sid}
        for label, cells in graph.items():
            if i >= len(cells) or not cells[i]:
                continue
            tok = _tokens(cells[i])
            if label.startswith("AZ/RAN") and tok and "/" in tok[0]:
                a, r = _parts(tok[0], 2)
                row.update(azimuth=_num(a), range_nm=_num(r))
            elif label.startswith("POSH/POH") and tok and "/" in tok[0]:
                s, h = _parts(tok[0], 2)
                row.update(prob_severe_hail=_num(s), prob_hail=_num(h))
            elif "SIZE" in label and tok:
                row["max_hail_size"], row["max_hail_size_qualifier"] = _qnum(tok[0])
        grows.append(row)
    rows = []
    used: set[int] = set()
    for s in drawn:
        x, y = float(s["x"]), float(s["y"])
        az, rg = _xy_azran(x, y)
        row = {"azimuth": az, "range_nm": rg, "x_km": x, "y_km": y, "prob_hail": float(s.get("POH", math.nan)),
               "prob_severe_hail": float(s.get("POSH", math.nan)), "max_hail_size": float(s.get("Max Size", math.nan)),
               "source": "symbology"}
        near = sorted((math.hypot(float(i["x"]) - x, float(i["y"]) - y), str(i["id"]).strip()) for i in ids)
        if near and near[0][0] < 2.0:
            row["storm_id"] = near[0][1]
        best = next((j for j, g in enumerate(grows) if j not in used and row.get("storm_id")
                     and g["storm_id"] == row["storm_id"]), None)
        if best is None:  # no id: the graphic column nearest in position (within 4 km)
            dists = [(math.hypot(_azran_xy(g["azimuth"], g["range_nm"])[0] - x,
                                 _azran_xy(g["azimuth"], g["range_nm"])[1] - y), j)
                     for j, g in enumerate(grows) if j not in used and "azimuth" in g]
            best = min(dists)[1] if dists and min(dists)[0] < 4.0 else None
        if best is not None:
            used.add(best)
            g = grows[best]
            row["storm_id"] = g["storm_id"]
            for k in ("prob_severe_hail", "prob_hail", "max_hail_size", "max_hail_size_qualifier"):
                if k in g and (k == "max_hail_size_qualifier" or np.isfinite(g[k])):
                    row[k] = g[k]
            row["source"] = "symbology+graphic"
        rows.append(row)
    for j, g in enumerate(grows):
        if j not in used:
            rows.append({**g, "source": "graphic"})
    if not drawn and not grows:
        warnings.append("the hail index product holds no cell")
    ds = _table(rows, _HAIL_COLS)
    _add_latlon(ds, f)
    ds.attrs["table"] = "hail_index"
    return ds


# ----------------------------------------------------------------------------- storm structure
_NSS_COLS = {"storm_id": "", "azimuth": "degree", "range_nm": "nautical_mile", "base_kft": "kft",
             "base_qualifier": "", "top_kft": "kft", "top_qualifier": "", "vil": "kg/m^2",
             "max_reflectivity": "dBZ", "max_reflectivity_height_kft": "kft"}


def _storm_structure(p: Path, f, warnings: list[str]) -> xr.Dataset:
    """The storm structure table (one row per cell: AZ/RAN, base, top, cell-based VIL,
    maximum reflectivity and its height)."""
    rows = []
    for ln in _tab_lines(f):
        t = _tokens(ln)
        if len(t) >= 7 and _ID.match(t[0]) and "/" in t[1]:
            az, rg = _parts(t[1], 2)
            base, bq = _qnum(t[2])
            top, tq = _qnum(t[3])
            rows.append({"storm_id": t[0], "azimuth": _num(az), "range_nm": _num(rg), "base_kft": base,
                         "base_qualifier": bq, "top_kft": top, "top_qualifier": tq, "vil": _num(t[4]),
                         "max_reflectivity": _num(t[5]), "max_reflectivity_height_kft": _num(t[6])})
    if not rows:
        warnings.append("the storm structure product holds no readable cell row")
    ds = _table(rows, _NSS_COLS)
    _add_latlon(ds, f)
    ds.attrs["table"] = "storm_structure"
    return ds


# ----------------------------------------------------------------------------- VAD winds
def _vad_winds(p: Path, f, warnings: list[str]) -> xr.Dataset:
    """The VAD wind profile: every barb of the time-height display, its time and height
    from the display's own axis labels."""
    barbs, labels = [], []
    for layer in getattr(f, "sym_block", None) or []:
        for pk in layer:
            if isinstance(pk, dict) and "direc" in pk:
                for k in range(len(pk["direc"])):
                    barbs.append((float(pk["x"][k]), float(pk["y"][k]), float(pk["direc"][k]),
                                  float(pk["speed"][k]), int(pk["color"][k])))
            elif isinstance(pk, dict) and "text" in pk:
                labels.append((float(pk["x"]), float(pk["y"]), pk["text"].strip()))
    times = [(x, s) for x, y, s in labels if re.fullmatch(r"\d{4}", s)]
    heights = [(y, float(s)) for x, y, s in labels if re.fullmatch(r"\d{1,2}", s)]
    rows = []
    for x, y, d, s, color in barbs:
        t = min(times, key=lambda tl: abs(tl[0] + 3.5 - x))[1] if times else ""
        h = min(heights, key=lambda hl: abs(hl[0] - y))[1] if heights else math.nan
        rows.append({"time_hhmm": t, "height_kft": h, "wind_direction": d, "wind_speed": s, "rms_color": color})
    if not rows:
        warnings.append("the VAD wind profile holds no wind barb")
    ds = _table(rows, {"time_hhmm": "", "height_kft": "kft", "wind_direction": "degree", "wind_speed": "knot",
                       "rms_color": "1"})
    ds.attrs["table"] = "vad_winds"
    return ds


_TABLES = {"storm_tracks": _storm_tracks, "mesocyclones": _mesocyclones, "tvs": _tvs,
           "hail_index": _hail_index, "storm_structure": _storm_structure, "vad_winds": _vad_winds}


# ----------------------------------------------------------------------------- storm attributes (NCR)
#: Columns of the composite reflectivity's storm-attributes table, by header cell.
_NCR_FIELDS = {
    "STM ID": [("id", "")],
    "AZ/RAN": [("azimuth", "degree"), ("range_nm", "nautical_mile")],
    "TVS": [("tvs", "")],
    "MDA": [("mesocyclone", "")],
    "MESO": [("mesocyclone", "")],
    "POSH/POH/MX SIZE": [("prob_severe_hail", "percent"), ("prob_hail", "percent"), ("max_hail_size", "inch")],
    "VIL": [("vil", "kg/m^2")],
    "DBZM HT": [("max_reflectivity", "dBZ"), ("max_reflectivity_height_kft", "kft")],
    "TOP": [("top_kft", "kft")],
    "FCST MVMT": [("motion_from", "degree"), ("motion_speed", "knot")],
}


def _storm_attributes(f, warnings: list[str]) -> xr.Dataset | None:
    """Every row of the storm-attributes table on the graphic pages of the composite
    reflectivity product, cell by cell along the pages' own grid."""
    rows, skipped = [], 0
    for page in getattr(f, "graph_pages", None) or []:
        table = _graph_rows(page)
        if not table:
            continue
        header = [" ".join(c.split()) for c in table[0]]
        if not header or header[0] != "STM ID":
            continue
        for cells in table[1:]:
            if not cells or not _ID.match(cells[0]):
                if any(cells):
                    skipped += 1
                continue
            row: dict[str, Any] = {}
            for name, cell in zip(header, cells):
                fields = _NCR_FIELDS.get(name)
                if not fields:
                    continue
                if fields[0][1] == "":
                    row[fields[0][0]] = cell.strip()
                    continue
                toks = [x for x in _CELL_SPLIT.split(" ".join(_tokens(cell))) if x]
                if toks == ["NEW"]:
                    toks = []
                for (fname, _), tok in zip(fields, toks + [None] * len(fields)):
                    val, q = _qnum(tok)
                    row[fname] = val
                    if q:
                        row[fname + "_qualifier"] = q
            rows.append(row)
    if skipped:
        warnings.append(f"{skipped} line(s) of the storm-attributes table could not be read")
    if not rows:
        return None
    cols = {"id": ""}
    for fields in _NCR_FIELDS.values():
        for fname, units in fields:
            cols.setdefault(fname, units)
    cols["max_hail_size_qualifier"] = ""
    ds = _table(rows, cols, dim="storm")
    ds.attrs = {}
    ds = ds.rename({k: ("storm_id" if k == "id" else f"storm_{k}") for k in ds.data_vars})
    _add_latlon(ds, f, dim="storm", prefix="storm_")
    return ds


# ----------------------------------------------------------------------------- other graphics
def _features(p: Path, f, warnings: list[str]) -> xr.Dataset:
    """Any other graphic product: every symbol and text label of the symbology block
    with its position."""
    rows = []
    for li, layer in enumerate(getattr(f, "sym_block", None) or []):
        for pk in layer:
            if not isinstance(pk, dict):
                continue
            if "x" in pk and "y" in pk:
                xs = pk["x"] if isinstance(pk["x"], list) else [pk["x"]]
                ys = pk["y"] if isinstance(pk["y"], list) else [pk["y"]]
                kind = pk.get("type", "text" if "text" in pk else "symbol")
                kinds = kind if isinstance(kind, list) else [kind] * len(xs)
                for x, y, k in zip(xs, ys, kinds):
                    rows.append({"layer": li, "kind": str(k), "text": str(pk.get("text", pk.get("id", ""))),
                                 "x_km": float(x), "y_km": float(y)})
            elif "vectors" in pk:
                rows.append({"layer": li, "kind": "vectors", "text": f"{len(pk['vectors'])} vectors"})
            elif "track" in pk:
                rows.append({"layer": li, "kind": "track", "text": f"{len(pk['track'])} points"})
    if not rows and not getattr(f, "tab_pages", None) and not getattr(f, "graph_pages", None):
        raise FormatError(p, f"product {f.product_name!r} (code {f.header.code}) holds no data packet, symbol or text")
    ds = _table(rows, {"layer": "1", "kind": "", "text": "", "x_km": "km", "y_km": "km"})
    ds["azimuth"] = ("row", np.array([_xy_azran(r["x_km"], r["y_km"])[0] if "x_km" in r else np.nan for r in rows]),
                     {"units": "degree"})
    ds["range_nm"] = ("row", np.array([_xy_azran(r["x_km"], r["y_km"])[1] if "x_km" in r else np.nan for r in rows]),
                      {"units": "nautical_mile"})
    _add_latlon(ds, f)
    ds.attrs["table"] = "features"
    return ds
