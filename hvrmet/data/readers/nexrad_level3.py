"""NEXRAD and TDWR Level III products into :class:`xarray.Dataset`.

Decoding is MetPy's :class:`metpy.io.Level3File`. Radial products (base reflectivity,
velocity, dual-pol, TDWR) become ``(azimuth, range)`` fields; raster products (composite
reflectivity, VIL, echo tops) become ``(y, x)`` fields on the product's km grid centred
on the radar; both get latitude and longitude for every bin. Graphic and tabular
products become tables (dim ``row``):

* storm tracking information (NST): ``storm_id``, azimuth, range, movement, forecast;
* mesocyclone detection (NMD): circulation id, storm id, position, low-level rotational
  velocity, depth, strength rank, TVS flag;
* the storm-attributes table of the composite reflectivity product (NCR): TVS and
  mesocyclone flags, probability of severe hail, probability of hail and maximum hail
  size (the hail index), VIL, maximum reflectivity and its height, top, movement.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, gate_lat_lon, reading, to_utc64
from hvrmet.errors import FormatError

__all__ = ["read_nexrad_level3"]

NM_TO_M = 1852.0


def read_nexrad_level3(path: str | Path, *, sha256: str = "") -> xr.Dataset:
    """Read a Level III product file.

    Returns
    -------
    xarray.Dataset
        A field (``data`` variable with the product's physical units) or a table, with the
        product code and name, site, volume time and site location in the attributes.
    """
    from metpy.io import Level3File

    p = check_file(path)
    with reading(p, "NEXRAD Level III"):
        _check_message_length(p)
        f = Level3File(str(p))
        attrs = {
            "product_code": int(f.prod_desc.prod_code),
            "product_name": f.product_name,
            "radar_site": f.siteID,
            "site_latitude": float(f.lat), "site_longitude": float(f.lon),
            "site_altitude_m": float(f.height) * 0.3048,
            "volume_time": str(to_utc64(f.metadata["vol_time"])),
            "product_time": str(to_utc64(f.metadata.get("prod_time", f.metadata["vol_time"]))),
        }
        if "max" in f.metadata:
            attrs["product_max"] = float(f.metadata["max"])
        if "el_angle" in f.metadata:
            attrs["elevation_angle"] = float(f.metadata["el_angle"])
        code = attrs["product_code"]
        if code == 58:
            ds = _storm_tracks(p, f)
        elif code == 141:
            ds = _mesocyclones(p, f)
        else:
            ds = _field(p, f)
            if code == 37:
                table = _storm_attributes(f)
                if table is not None:
                    ds = xr.merge([ds, table])
        ds.attrs.update(attrs)
        ds.attrs["title"] = f"{attrs['product_name']} ({attrs['radar_site']}, {attrs['volume_time']})"
    return add_provenance(ds, p, sha256, "nexrad_level3")


def _check_message_length(p: Path) -> None:
    """Compare the message length in the product header with the bytes present.

    MetPy's decoder loops forever on some truncated tabular blocks, so a short file is
    caught here first. The steps mirror :class:`metpy.io.Level3File`'s own start: drop the
    WMO header and trailer, undo zlib framing, drop a second WMO header.
    """
    from metpy.io._tools import IOBuffer
    from metpy.io.nexrad import Level3File, zlib_decompress_all_frames

    probe = Level3File.__new__(Level3File)
    probe._buffer = IOBuffer(p.read_bytes())
    probe._process_wmo_header()
    probe._process_end_bytes()
    if probe.wmo_code == "NOUS":
        return
    probe._buffer = IOBuffer(probe._buffer.read_func(zlib_decompress_all_frames))
    probe._process_wmo_header()
    start = probe._buffer.set_mark()
    remaining = len(probe._buffer) - start
    if remaining < Level3File.header_fmt.size:
        raise FormatError(p, f"only {remaining} bytes after the WMO header: truncated")
    header = probe._buffer.read_struct(Level3File.header_fmt)
    if header.msg_len > remaining:
        raise FormatError(p, f"the product header announces {header.msg_len} bytes but only "
                             f"{remaining} are present: the file is truncated")


def _field(p: Path, f) -> xr.Dataset:
    if not f.sym_block or not f.sym_block[0]:
        raise FormatError(p, "product has no data packet")
    packet = f.sym_block[0][0]
    if "data" not in packet:
        raise FormatError(p, f"product {f.product_name!r} is neither a field nor a supported table")
    raw = np.asarray(packet["data"])
    values = np.asarray(f.map_data(raw), dtype=np.float32)
    units = _units(f)
    if "start_az" in packet:
        az = np.asarray(packet["start_az"] + [packet["end_az"][-1]], dtype=np.float64)
        az_c = (az[:-1] + np.diff(az) % 360.0 / 2.0) % 360.0
        # the packet's gate scale is unreliable for TDWR and super-resolution products
        # (0.001 or 0.999 where the gates are 150-300 m); the product's maximum range
        # over the number of bins is right for every product here
        gate = float(f.max_range) * 1000.0 / values.shape[1]
        first = float(packet.get("first", 0)) * gate
        rng = first + gate * (np.arange(values.shape[1]) + 0.5)
        el = float(f.metadata.get("el_angle", 0.0))
        lat, lon, z = gate_lat_lon(f.lat, f.lon, az_c[:, None], np.full((len(az_c), 1), el),
                                   rng[None, :], float(f.height) * 0.3048)
        ds = xr.Dataset(
            {"data": (("azimuth", "range"), values, {"units": units})},
            coords={"azimuth": ("azimuth", az_c.astype(np.float32), {"units": "degree"}),
                    "range": ("range", rng.astype(np.float32), {"units": "m"}),
                    "lat": (("azimuth", "range"), lat, {"units": "degree_north"}),
                    "lon": (("azimuth", "range"), lon, {"units": "degree_east"})})
        ds.attrs["geometry"] = "radial"
        return ds
    # raster products: grid of square boxes centred on the radar (km scale in the header)
    ny, nx = values.shape
    size_km = _raster_box_km(f)
    x = (np.arange(nx) - nx / 2 + 0.5) * size_km * 1000.0
    y = (ny / 2 - 0.5 - np.arange(ny)) * size_km * 1000.0
    xx, yy = np.meshgrid(x, y)
    rng = np.hypot(xx, yy)
    az = np.rad2deg(np.arctan2(xx, yy)) % 360.0
    lat, lon, _ = gate_lat_lon(f.lat, f.lon, az, np.zeros_like(az), rng)
    ds = xr.Dataset({"data": (("y", "x"), values, {"units": units})},
                    coords={"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"}),
                            "lat": (("y", "x"), lat, {"units": "degree_north"}),
                            "lon": (("y", "x"), lon, {"units": "degree_east"})})
    ds.attrs["geometry"] = "raster"
    return ds


def _raster_box_km(f) -> float:
    return {37: 1.0, 38: 4.0, 57: 4.0, 41: 4.0, 35: 1.0, 36: 4.0}.get(int(f.prod_desc.prod_code), 1.0)


_UNITS = {
    "Reflectivity": "dBZ", "Velocity": "m/s", "Spectrum Width": "m/s",
    "Vertically Integrated Liquid": "kg/m^2", "Echo Tops": "kft",
    "Correlation Coefficient": "1", "Differential Reflectivity": "dB",
    "Specific Differential Phase": "degree/km", "Accumulation": "inch",
    "Precipitation": "inch", "Hydrometeor": "1", "Melting Layer": "1",
}


def _units(f) -> str:
    name = f.product_name
    for key, units in _UNITS.items():
        if key.lower() in name.lower():
            return units
    return "1"


def _table(rows: list[dict], p: Path) -> xr.Dataset:
    if not rows:
        return xr.Dataset(coords={"row": np.arange(0)})
    cols = {k: [r.get(k) for r in rows] for k in rows[0]}
    ds = xr.Dataset(coords={"row": np.arange(len(rows))})
    for k, v in cols.items():
        if all(isinstance(x, (int, float)) or x is None for x in v):
            ds[k] = ("row", np.array([np.nan if x is None else x for x in v], np.float64))
        else:
            ds[k] = ("row", np.array(["" if x is None else str(x) for x in v]))
    return ds


def _num(s: str) -> float | None:
    s = s.strip().replace("<", "").replace(">", "")
    try:
        return float(s)
    except ValueError:
        return None


def _storm_tracks(p: Path, f) -> xr.Dataset:
    text = "\n".join(f.tab_pages or [])
    pat = re.compile(r"^\s+([A-Z]\d)\s+(\d+)/\s*(\d+)\s+(NEW|\d+/\s*\d+)\s+(.*?)\s+([\d.]+/\s*[\d.]+)?\s*$")
    rows = []
    for ln in text.splitlines():
        m = pat.match(ln)
        if not m:
            continue
        mv = m.group(4)
        d, s = (np.nan, np.nan) if mv == "NEW" else [float(x) for x in mv.split("/")]
        rows.append({"storm_id": m.group(1), "azimuth": float(m.group(2)),
                     "range_nm": float(m.group(3)), "motion_from": d, "motion_speed": s})
    if not rows:
        raise FormatError(p, "storm tracking product with no storm rows")
    ds = _table(rows, p)
    ds["azimuth"].attrs["units"] = "degree"
    ds["range_nm"].attrs["units"] = "nautical_mile"
    ds["motion_from"].attrs["units"] = "degree"
    ds["motion_speed"].attrs["units"] = "knot"
    _add_table_latlon(ds, f)
    ds.attrs["geometry"] = "table"
    ds.attrs["table"] = "storm_tracks"
    return ds


def _mesocyclones(p: Path, f) -> xr.Dataset:
    text = "\n".join(f.tab_pages or [])
    pat = re.compile(r"^\s*(\d+)\s+(\d+)/\s*(\d+)\s+(\d+)\s+([A-Z]\d)\s+(\d+)\s+(\d+)\s+([<>]?\s*\d+)\s+([<>]?\s*\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([YN])\s+(.*?)\s+(\d+)\s*$")
    rows = []
    for ln in text.splitlines():
        m = pat.match(ln)
        if not m:
            continue
        rows.append({"circulation_id": m.group(1), "azimuth": float(m.group(2)),
                     "range_nm": float(m.group(3)), "strength_rank": float(m.group(4)),
                     "storm_id": m.group(5), "low_level_rotational_velocity": float(m.group(6)),
                     "low_level_delta_velocity": float(m.group(7)),
                     "base_kft": _num(m.group(8)), "depth_kft": _num(m.group(9)),
                     "max_rotational_velocity_height_kft": float(m.group(11)),
                     "max_rotational_velocity": float(m.group(12)),
                     "tvs": m.group(13) == "Y", "msi": float(m.group(15))})
    for r in rows:
        r["tvs"] = "Y" if r["tvs"] else "N"
    ds = _table(rows, p)
    for k, u in {"azimuth": "degree", "range_nm": "nautical_mile",
                 "low_level_rotational_velocity": "knot", "low_level_delta_velocity": "knot",
                 "max_rotational_velocity": "knot", "base_kft": "kft", "depth_kft": "kft",
                 "max_rotational_velocity_height_kft": "kft"}.items():
        if k in ds:
            ds[k].attrs["units"] = u
    if rows:
        _add_table_latlon(ds, f)
    ds.attrs["geometry"] = "table"
    ds.attrs["table"] = "mesocyclones"
    return ds


def _storm_attributes(f) -> xr.Dataset | None:
    lines = []
    for page in f.graph_pages or []:
        for item in page:
            if isinstance(item, dict) and "text" in item:
                lines.append(item["text"])
    pat = re.compile(r"^\s*([A-Z]\d)\s+(\d+)/\s*(\d+)\s+(\S+)\s+(\S+)\s+(\d+|UNKNOWN)/\s*(\d+)/\s*([\d.]+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(NEW|\d+/\s*\d+)\s*$")
    rows = []
    for ln in lines:
        m = pat.match(ln)
        if not m:
            continue
        mv = m.group(13)
        d, s = (np.nan, np.nan) if mv == "NEW" else [float(x) for x in mv.split("/")]
        rows.append({"storm_id": m.group(1), "azimuth": float(m.group(2)),
                     "range_nm": float(m.group(3)), "tvs": m.group(4), "mesocyclone": m.group(5),
                     "prob_severe_hail": _num(m.group(6)), "prob_hail": float(m.group(7)),
                     "max_hail_size": float(m.group(8)), "vil": float(m.group(9)),
                     "max_reflectivity": float(m.group(10)),
                     "max_reflectivity_height_kft": float(m.group(11)),
                     "top_kft": float(m.group(12)), "motion_from": d, "motion_speed": s})
    if not rows:
        return None
    ds = _table(rows, Path(""))
    units = {"azimuth": "degree", "range_nm": "nautical_mile", "prob_severe_hail": "percent",
             "prob_hail": "percent", "max_hail_size": "inch", "vil": "kg/m^2",
             "max_reflectivity": "dBZ", "max_reflectivity_height_kft": "kft", "top_kft": "kft",
             "motion_from": "degree", "motion_speed": "knot"}
    for k, u in units.items():
        ds[k].attrs["units"] = u
    ds = ds.rename({"row": "storm"})
    _add_table_latlon(ds, f, dim="storm", prefix="storm_")
    return ds.rename({k: f"storm_{k}" for k in ds.data_vars if not k.startswith("storm_")})


def _add_table_latlon(ds: xr.Dataset, f, dim: str = "row", prefix: str = "") -> None:
    az = ds["azimuth"].values
    rng = ds["range_nm"].values * NM_TO_M
    lat, lon, _ = gate_lat_lon(f.lat, f.lon, az[:, None], np.zeros((len(az), 1)), rng[:, None])
    ds.coords[prefix + "lat"] = (dim, lat[:, 0].astype(np.float64), {"units": "degree_north"})
    ds.coords[prefix + "lon"] = (dim, lon[:, 0].astype(np.float64), {"units": "degree_east"})
