"""NEXRAD Level II (message 1 and 31) and TDWR volumes into an :class:`xarray.Dataset`.

Decoding is MetPy's :class:`metpy.io.Level2File`; this module lays the sweeps out as
CF-style variables with dims ``(sweep, ray, range)``. Moments recorded on another gate
spacing (message-1 Doppler moments at 250 m beside 1 km reflectivity, say) get their own
range dimension, named after the moment (``range_vel``). Rays are sorted by azimuth and
padded with NaN to the longest sweep. Every gate has latitude, longitude and beam height
(4/3-earth model) as coordinates.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import xarray as xr

from hvrmet.data.readers._common import add_provenance, check_file, gate_lat_lon, reading, to_utc64
from hvrmet.data.sites import get_site
from hvrmet.errors import FormatError

__all__ = ["read_nexrad_level2", "MOMENTS"]

#: Level II moment code -> (variable name, units, CF standard name or "").
MOMENTS = {
    "REF": ("reflectivity", "dBZ", "equivalent_reflectivity_factor"),
    "VEL": ("radial_velocity", "m/s", "radial_velocity_of_scatterers_away_from_instrument"),
    "SW": ("spectrum_width", "m/s", "doppler_spectrum_width"),
    "ZDR": ("differential_reflectivity", "dB", "log_differential_reflectivity_hv"),
    "RHO": ("cross_correlation_ratio", "1", "cross_correlation_ratio_hv"),
    "PHI": ("differential_phase", "degree", "differential_phase_hv"),
    "CFP": ("clutter_filter_power_removed", "dB", ""),
}

#: A sweep must cover at least this much azimuth, else the volume is called truncated.
MIN_SWEEP_COVERAGE_DEG = 300.0


def _name(key) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def read_nexrad_level2(path: str | Path, *, sha256: str = "", site: str | None = None,
                       gate_coords: bool = True) -> xr.Dataset:
    """Read a NEXRAD Level II or TDWR volume.

    Parameters
    ----------
    path
        The volume file (plain, gzip or bzip2, as MetPy reads them).
    sha256
        The file's sha256, recorded in the attributes.
    site
        Radar id to locate the site by when the file carries none (message-1 files).
    gate_coords
        Compute latitude, longitude and height of every gate (default ``True``).

    Returns
    -------
    xarray.Dataset
        Moments as variables (``reflectivity`` in dBZ, ``radial_velocity`` in m/s, ...),
        coordinates ``azimuth``, ``elevation``, ``time`` per ray, ``fixed_angle`` per
        sweep, ``range`` (m) and ``lat``/``lon``/``z`` per gate.
    """
    from metpy.io import Level2File

    p = check_file(path)
    with reading(p, "NEXRAD Level II"):
        logging.getLogger("metpy.io.nexrad").setLevel(logging.ERROR)
        f = Level2File(str(p))
        if not f.sweeps:
            raise FormatError(p, "no radials decoded: not a Level II volume or truncated")
        ds = _to_dataset(p, f, site)
        if gate_coords:
            _add_gate_coords(ds)
    return add_provenance(ds, p, sha256, "nexrad_level2")


def _site_location(p: Path, f, site: str | None) -> tuple[str, float, float, float, str]:
    stid = _name(f.stid).strip("\x00 ").strip()
    first = f.sweeps[0][0]
    if len(first) > 2 and getattr(first[1], "lat", None) is not None:
        vol = first[1]
        return stid or (site or ""), float(vol.lat), float(vol.lon), float(vol.site_amsl), "file"
    sid = stid or site
    if not sid:
        raise FormatError(p, "the file records no radar site and none was given "
                             "(pass site=, or set radar_site in the case)")
    try:
        s = get_site(sid)
    except KeyError as exc:
        raise FormatError(p, str(exc)) from None
    if not np.isfinite(s.elevation_m):  # the table lacks a few elevations
        return s.site, s.latitude, s.longitude, 0.0, "hvrmet radar site table (elevation unknown: heights are above the radar)"
    return s.site, s.latitude, s.longitude, s.elevation_m, "hvrmet radar site table"


def _to_dataset(p: Path, f, site: str | None) -> xr.Dataset:
    stid, lat, lon, alt, loc_source = _site_location(p, f, site)
    nsweep = len(f.sweeps)
    nray = max(len(s) for s in f.sweeps)
    az = np.full((nsweep, nray), np.nan, np.float32)
    el = np.full((nsweep, nray), np.nan, np.float32)
    tt = np.full((nsweep, nray), np.datetime64("NaT"), "datetime64[ns]")
    nyq = np.full(nsweep, np.nan, np.float32)
    geometry: dict[str, tuple[float, float, int]] = {}
    orders = []
    for i, sweep in enumerate(f.sweeps):
        hdrs = [ray[0] for ray in sweep]
        a = np.array([h.az_angle for h in hdrs], np.float32)
        order = np.argsort(a, kind="stable")
        orders.append(order)
        az[i, : len(a)] = a[order]
        el[i, : len(a)] = np.array([h.el_angle for h in hdrs], np.float32)[order]
        times = np.array([_ray_time(h) for h in hdrs], "datetime64[ns]")
        tt[i, : len(a)] = times[order]
        nyq[i] = _nyquist(sweep[0])
        cover = _coverage(a)
        if cover < MIN_SWEEP_COVERAGE_DEG:
            raise FormatError(p, f"sweep {i} covers only {cover:.0f} degrees of azimuth: "
                                 "the volume is truncated or corrupted")
        for ray in sweep:
            for key, (hdr, _data) in ray[-1].items():
                m = _name(key)
                g = (float(hdr.first_gate), float(hdr.gate_width), int(hdr.num_gates))
                old = geometry.get(m)
                if old is None:
                    geometry[m] = g
                else:
                    if (old[0], old[1]) != (g[0], g[1]):
                        raise FormatError(p, f"moment {m} changes gate spacing within the "
                                             "volume; not supported")
                    geometry[m] = (old[0], old[1], max(old[2], g[2]))
    # range dimensions: one per distinct (first gate, spacing)
    dims_of: dict[tuple[float, float], str] = {}
    ref_geom = geometry.get("REF")
    if ref_geom:
        dims_of[ref_geom[:2]] = "range"
    order = list(MOMENTS)
    for m, g in sorted(geometry.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99):
        dims_of.setdefault(g[:2], "range" if not dims_of else f"range_{m.lower()}")
    ngates = {d: max(g[2] for m, g in geometry.items() if dims_of[g[:2]] == d)
              for d in set(dims_of.values())}
    coords = {
        "sweep": np.arange(nsweep),
        "azimuth": (("sweep", "ray"), az, {"units": "degree", "standard_name": "ray_azimuth_angle"}),
        "elevation": (("sweep", "ray"), el, {"units": "degree", "standard_name": "ray_elevation_angle"}),
        "time": (("sweep", "ray"), tt),
        "fixed_angle": ("sweep", np.nanmedian(el, axis=1).astype(np.float32),
                        {"units": "degree", "long_name": "sweep elevation angle"}),
        "nyquist_velocity": ("sweep", nyq, {"units": "m/s"}),
    }
    for (first, width), d in dims_of.items():
        coords[d] = (d, ((first + width * np.arange(ngates[d])) * 1000.0).astype(np.float32),
                     {"units": "m", "long_name": "slant range to gate centre"})
    arrays = {m: np.full((nsweep, nray, ngates[dims_of[g[:2]]]), np.nan, np.float32)
              for m, g in geometry.items()}
    for i, sweep in enumerate(f.sweeps):
        for j, k in enumerate(orders[i]):
            for key, (_hdr, data) in sweep[k][-1].items():
                arrays[_name(key)][i, j, : len(data)] = data
    data_vars = {}
    for m, g in geometry.items():
        name, units, std = MOMENTS.get(m, (m.lower(), "", ""))
        attrs = {"units": units, "moment": m}
        if std:
            attrs["standard_name"] = std
        data_vars[name] = (("sweep", "ray", dims_of[g[:2]]), arrays[m], attrs)
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update({
        "title": f"NEXRAD Level II volume {stid}",
        "radar_site": stid,
        "site_latitude": lat, "site_longitude": lon, "site_altitude_m": alt,
        "site_location_source": loc_source,
        "volume_start_time": str(to_utc64(f.dt)),
        "message_type": "31" if len(f.sweeps[0][0]) > 2 else "1",
        "vcp": int(_vcp(f)),
    })
    return ds


def _ray_time(hdr) -> np.datetime64:
    base = np.datetime64("1969-12-31T00:00:00", "ns")  # NEXRAD Julian date 1 = 1970-01-01
    return base + np.timedelta64(int(hdr.date), "D") + np.timedelta64(int(hdr.time_ms), "ms")


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


def _coverage(az: np.ndarray) -> float:
    if az.size < 2:
        return 0.0
    s = np.sort(az % 360.0)
    gaps = np.diff(np.concatenate([s, s[:1] + 360.0]))
    return float(360.0 - gaps.max())


def _add_gate_coords(ds: xr.Dataset) -> None:
    lat0, lon0, alt0 = ds.attrs["site_latitude"], ds.attrs["site_longitude"], ds.attrs["site_altitude_m"]
    az = ds["azimuth"].values[..., None]
    el = ds["elevation"].values[..., None]
    for d in [d for d in ds.dims if d.startswith("range")]:
        suffix = d[len("range"):]
        lat, lon, z = gate_lat_lon(lat0, lon0, np.nan_to_num(az), np.nan_to_num(el),
                                   ds[d].values[None, None, :], alt0)
        dims = ("sweep", "ray", d)
        ds.coords["lat" + suffix] = (dims, lat, {"units": "degree_north", "standard_name": "latitude"})
        ds.coords["lon" + suffix] = (dims, lon, {"units": "degree_east", "standard_name": "longitude"})
        ds.coords["z" + suffix] = (dims, z, {"units": "m", "long_name": "beam centre height above mean sea level"})
