#!/usr/bin/env python
"""Build the development task set of the atomic-subtask benchmark (``hvrmet/benchmark/data/dev.jsonl``).

What it computes
----------------
Every gold answer is obtained *independently of hvrmet's readers and tools*, so the benchmark
does not grade the system against itself:

* **Soundings** (``may1999``, ``oun20110522``, ``null-jan20``, ``null-dec9``): the University of
  Wyoming text files are read with ``pandas.read_fwf`` (fixed 7-character columns PRES HGHT TEMP
  DWPT ... SKNT) and the indices are computed by calling ``metpy.calc`` directly, following the
  conventions documented in ``hvrmet/tools/sounding_calc.py`` (heights above ground, a 100 hPa
  mixed layer, Bunkers right-mover storm motion for the total storm-relative helicity, STP from
  SBCAPE/LCL height/0-1 km SRH/0-6 km shear, SCP from MUCAPE/0-3 km SRH/0-6 km shear, lowest 0 degC
  crossing for the freezing level). Where a file has no dew point aloft (``null-dec9`` above
  606 hPa) the quantities that integrate moisture aloft (precipitable water, DCAPE) are skipped.
* **Level II radar** (``may1999`` KTLX, ``katrina2005`` KLIX, ``kvwx20050626`` KVWX,
  ``klbb20160601`` KLBB): ``metpy.io.Level2File``; the maximum of the REF moment over all sweeps,
  its gate located with the 4/3-earth beam model and a WGS84 geodesic (pyproj) from the site
  (published NEXRAD site coordinates; the message-1 files carry none).
* **GFS analysis** (``cyclone2010``): ``netCDF4`` on ``GFS_test.nc``: the minimum of
  ``Pressure_reduced_to_MSL_msl`` (hPa) and the maximum isobaric wind speed at 250/300/500 hPa,
  with their grid points.
* **Level III** (``mci20160526``): ``metpy.io.Level3File``: the radar's own tables (NCR storm
  attributes / hail index, NMD mesocyclone detection, NST storm tracking), parsed from the text
  pages; positions from azimuth/range with a geodesic from the product's radar position.
* **Surface observations** (``superstorm1993``): ``pandas.read_csv`` of ``SFC_obs.csv``.
* **Composites** (MeteoSwiss, KNMI, BoM, FMI): pysteps importers directly, for the figure units,
  first-frame time and (in ``source`` text) the peak rain rate / 1-h accumulation.
* **Hazard labels** (hypothesis, verification, replanning, report): the public event record
  (NWS, NHC, SPC reports), the ``events`` of the case's catalogue YAML (which cite public
  sources; this is said in ``source`` where relied on), or, for null cases, the physics
  computed above (no CAPE by MetPy). Replanning sets are meteorological judgement over the tools
  applicable to the case's data, not the output of an hvrmet run.

The data files are located only under ``HVRMET_DATA_DIR`` (``hvrmet.data.registry`` is not
needed: paths are the ones the catalogue names).

How to run
----------
::

    export HVRMET_DATA_DIR=/path/to/data
    python tools/build_benchmark.py            # writes hvrmet/benchmark/data/dev.jsonl
    python tools/build_benchmark.py --out FILE # elsewhere

The output is deterministic (fixed ordering, no randomness); the script prints the number of
tasks per category and validates the file (JSON per line, unique ids, >= 15 tasks per category,
every case in the catalogue).
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import math
import os
import re
import sys
import warnings
from collections import Counter, OrderedDict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "hvrmet" / "cases" / "catalogue"
DEFAULT_OUT = ROOT / "hvrmet" / "benchmark" / "data" / "dev.jsonl"  # shipped in the package (package data)
CATEGORIES = ("index", "signal", "plot", "hypothesis", "verification", "replanning", "report")

# Published WSR-88D site coordinates (NWS/ROC NEXRAD site list); message-1 files carry none.
SITES = {"KTLX": (35.3331, -97.2778), "KLIX": (30.3367, -89.8256), "KVWX": (38.2603, -87.7246),
         "KLBB": (33.6541, -101.8142)}


def data_dir() -> Path:
    d = os.environ.get("HVRMET_DATA_DIR")
    if not d:
        sys.exit("set HVRMET_DATA_DIR to the data folder")
    return Path(d)


def r(x: float, nd: int = 2) -> float:
    return float(round(float(x), nd))


def geod_fwd(lat: float, lon: float, az: float, dist_km: float) -> tuple[float, float]:
    from pyproj import Geod

    lon2, lat2, _ = Geod(ellps="WGS84").fwd(lon, lat, az, dist_km * 1000.0)
    return float(lat2), float(lon2)


def beam_ground_range_km(slant_km: float, elev_deg: float) -> tuple[float, float]:
    """4/3-earth beam model: (ground distance, height above radar) in km."""
    re_ = 4.0 / 3.0 * 6371.0
    el = math.radians(elev_deg)
    h = math.sqrt(slant_km ** 2 + re_ ** 2 + 2 * slant_km * re_ * math.sin(el)) - re_
    s = re_ * math.asin(slant_km * math.cos(el) / (re_ + h))
    return s, h


# =========================================================================== soundings
SOUNDINGS = OrderedDict([
    ("may1999", {"file": "metpy/staticdata/may4_sounding.txt", "station": "OUN", "time": "1999-05-04T00:00",
                 "lat": 35.18, "lon": -97.44}),
    ("oun20110522", {"file": "metpy/staticdata/20110522_OUN_12Z.txt", "station": "OUN",
                     "time": "2011-05-22T12:00", "lat": 35.18, "lon": -97.44}),
    ("null-jan20", {"file": "metpy/staticdata/jan20_sounding.txt", "station": "OUN", "time": "2013-01-20T12:00",
                    "lat": 35.18, "lon": -97.44}),
    ("null-dec9", {"file": "metpy/staticdata/dec9_sounding.txt", "station": "BOI", "time": "2010-12-09T12:00",
                   "lat": 43.57, "lon": -116.21}),
])
COLS = ["pressure", "height", "temperature", "dewpoint", "relh", "mixr", "direction", "speed", "thta", "thte",
        "thtv"]


def read_uwyo(path: Path):
    """The data rows of a UWyo text sounding as a DataFrame (fixed 7-character columns)."""
    import pandas as pd

    lines = path.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("PRES")) + 3
    rows = []
    for ln in lines[start:]:
        if not re.match(r"^\s*\d+(\.\d+)?\s", ln[:8] + " "):
            break
        rows.append(ln)
    df = pd.read_fwf(io.StringIO("\n".join(rows)), colspecs=[(7 * i, 7 * i + 7) for i in range(11)],
                     names=COLS, header=None)
    return df


def sounding_indices(path: Path) -> tuple[dict[str, float], dict]:
    import metpy.calc as mpcalc
    from metpy.units import units

    df = read_uwyo(path)
    p_all = df["pressure"].to_numpy(float)
    t_all = df["temperature"].to_numpy(float)
    td_all = df["dewpoint"].to_numpy(float)
    z_all = df["height"].to_numpy(float)
    ok = np.isfinite(p_all) & np.isfinite(t_all) & np.isfinite(z_all)
    _, uniq = np.unique(-p_all[ok], return_index=True)
    sel = np.flatnonzero(ok)[np.sort(uniq)]
    p, t, td, z = p_all[sel], t_all[sel], td_all[sel], z_all[sel]
    has_td = np.isfinite(td)
    last = int(np.flatnonzero(has_td)[-1])
    td_top = float(p[last])
    inside = ~has_td & (np.arange(len(td)) < last)
    if inside.any():
        td[inside] = np.interp(np.log(p[inside])[::-1], np.log(p[has_td])[::-1], td[has_td][::-1])[::-1]
    above = np.arange(len(td)) > last
    if above.any():
        # documented convention (hvrmet/tools/sounding_calc.py): no dew point reported above the
        # last one means very dry air, taken as 1 % relative humidity. Quantities that integrate
        # that moisture (precipitable water, DCAPE) are skipped below rather than graded.
        rh1 = mpcalc.dewpoint_from_relative_humidity(t[above] * units.degC, 0.01).to("degC").m
        td[above] = np.minimum(rh1, t[above])
    P, T = p * units.hPa, t * units.degC
    pm, tm, tdm = P, T, td * units.degC
    z_agl = z - z[0]
    out: dict[str, float] = {}
    info = {"td_top": td_top, "surface_p": float(p[0]), "top_p": float(p[-1])}

    def hgt(pres: float) -> float:
        return float(np.interp(np.log(pres), np.log(p[::-1]), z_agl[::-1]))

    parcel = mpcalc.parcel_profile(pm, tm[0], tdm[0]).to("degC")
    cape, cin = mpcalc.surface_based_cape_cin(pm, tm, tdm)
    out["sbcape"], out["sbcin"] = cape.m_as("J/kg"), cin.m_as("J/kg")
    lcl_p, _ = mpcalc.lcl(pm[0], tm[0], tdm[0])
    out["lcl_pressure"] = lcl_p.m_as("hPa")
    lcl_h = hgt(out["lcl_pressure"])
    if pm[-1].m <= 500:
        out["lifted_index"] = float(mpcalc.lifted_index(pm, tm, parcel)[0].m_as("delta_degC"))
        out["k_index"] = mpcalc.k_index(pm, tm, tdm).m_as("degC")
        out["total_totals"] = mpcalc.total_totals_index(pm, tm, tdm).m_as("delta_degC")
        out["showalter_index"] = float(mpcalc.showalter_index(pm, tm, tdm)[0].m_as("delta_degC"))
    ml, _ = mpcalc.mixed_layer_cape_cin(pm, tm, tdm, depth=100 * units.hPa)
    out["mlcape"] = ml.m_as("J/kg")
    mu, _ = mpcalc.most_unstable_cape_cin(pm, tm, tdm)
    out["mucape"] = mu.m_as("J/kg")
    if not above.any():
        out["precipitable_water"] = mpcalc.precipitable_water(pm, tdm).m_as("mm")
    if not above.any():
        dcape = float(mpcalc.downdraft_cape(pm, tm, tdm)[0].m_as("J/kg"))
        if dcape >= 0:  # MetPy returns a negative DCAPE on stable winter profiles: not graded
            out["dcape"] = dcape

    def at(pt: float, vals: np.ndarray) -> float:
        return float(np.interp(np.log(pt), np.log(p[::-1]), vals[::-1]))

    t700, t500, z700, z500 = at(700, t), at(500, t), at(700, z), at(500, z)
    out["lapse_rate_700_500"] = (t700 - t500) / ((z500 - z700) / 1000.0)
    if t[0] <= 0.0:
        out["freezing_level"] = 0.0
    else:
        i = int(np.flatnonzero(t <= 0.0)[0])
        out["freezing_level"] = float(np.interp(0.0, [t[i], t[i - 1]], [z_agl[i], z_agl[i - 1]]))

    wd, ws = df["direction"].to_numpy(float), df["speed"].to_numpy(float)
    okw = np.isfinite(p_all) & np.isfinite(wd) & np.isfinite(ws) & np.isfinite(z_all)
    _, uw = np.unique(-p_all[okw], return_index=True)
    sw = np.flatnonzero(okw)[np.sort(uw)]
    u, v = mpcalc.wind_components(ws[sw] * units.knot, wd[sw] * units.degree)
    u, v = u.to("m/s"), v.to("m/s")
    pw = p_all[sw] * units.hPa
    zw = (z_all[sw] - z[0]) * units.m
    for d in (1, 6):
        su, sv = mpcalc.bulk_shear(pw, u, v, height=zw, depth=d * units.km)
        out[f"shear_0_{d}km"] = float(np.hypot(su, sv).m_as("m/s"))
    rm, _lm, _mean = mpcalc.bunkers_storm_motion(pw, u, v, zw)
    for d in (1, 3):
        _a, _b, tot = mpcalc.storm_relative_helicity(zw, u, v, depth=d * units.km, storm_u=rm[0], storm_v=rm[1])
        out[f"srh_0_{d}km"] = tot.m_as("m^2/s^2")
    stp = mpcalc.significant_tornado(out["sbcape"] * units("J/kg"), lcl_h * units.m,
                                     out["srh_0_1km"] * units("m^2/s^2"), out["shear_0_6km"] * units("m/s"))
    out["stp"] = float(np.atleast_1d(stp.to("dimensionless").m)[0])
    scp = mpcalc.supercell_composite(out["mucape"] * units("J/kg"), out["srh_0_3km"] * units("m^2/s^2"),
                                     out["shear_0_6km"] * units("m/s"))
    out["scp"] = float(np.atleast_1d(scp.to("dimensionless").m)[0])
    info["lcl_height"] = lcl_h
    return {k: float(v_) for k, v_ in out.items()}, info


# quantity -> (units, rtol, atol, question templates)
IDX = OrderedDict([
    ("sbcape", ("J/kg", 0.05, 25.0, ["What is the surface-based CAPE of the {st} sounding at {tm} UTC?",
                                     "How much surface-based instability (SBCAPE) does the {tm} UTC {st} sounding carry?"])),
    ("sbcin", ("J/kg", 0.1, 10.0, ["How much convective inhibition does a surface parcel face in the {st} {tm} UTC sounding?"])),
    ("mlcape", ("J/kg", 0.05, 25.0, ["Give the 100 hPa mixed-layer CAPE for {st} at {tm} UTC."])),
    ("mucape", ("J/kg", 0.05, 25.0, ["What is the most-unstable CAPE in the {st} sounding valid {tm} UTC?"])),
    ("lcl_pressure", ("hPa", 0.01, 3.0, ["At what pressure is the surface parcel's LCL on the {st} {tm} UTC sounding?"])),
    ("lifted_index", ("delta_degC", 0.03, 0.5, ["What is the surface-based lifted index at 500 hPa for {st}, {tm} UTC?"])),
    ("k_index", ("degC", 0.03, 1.0, ["Compute the K index from the {st} {tm} UTC sounding."])),
    ("total_totals", ("delta_degC", 0.02, 1.0, ["What is the Total Totals index of the {st} sounding at {tm} UTC?"])),
    ("showalter_index", ("delta_degC", 0.03, 0.5, ["What is the Showalter index (850 hPa parcel) for {st} at {tm} UTC?"])),
    ("precipitable_water", ("mm", 0.03, 1.0, ["How much precipitable water is in the {st} column at {tm} UTC?"])),
    ("shear_0_1km", ("m/s", 0.05, 1.0, ["What is the 0-1 km bulk wind shear on the {st} {tm} UTC sounding?"])),
    ("shear_0_6km", ("m/s", 0.05, 1.0, ["How strong is the 0-6 km bulk shear at {st}, {tm} UTC?"])),
    ("srh_0_1km", ("m^2/s^2", 0.05, 15.0, ["What is the 0-1 km storm-relative helicity (Bunkers right mover) for {st} at {tm} UTC?"])),
    ("srh_0_3km", ("m^2/s^2", 0.05, 15.0, ["Give the 0-3 km storm-relative helicity of the {st} {tm} UTC sounding."])),
    ("stp", ("1", 0.05, 0.3, ["What is the significant tornado parameter for the {st} {tm} UTC sounding?"])),
    ("scp", ("1", 0.05, 0.5, ["What is the supercell composite parameter from the {st} sounding at {tm} UTC?"])),
    ("dcape", ("J/kg", 0.05, 30.0, ["How much downdraft CAPE does the {st} {tm} UTC sounding have?"])),
    ("lapse_rate_700_500", ("K/km", 0.03, 0.2, ["What is the 700-500 hPa lapse rate over {st} at {tm} UTC?"])),
    ("freezing_level", ("m", 0.03, 100.0, ["How high above ground is the freezing level on the {st} {tm} UTC sounding?"])),
])
SRC_SOUNDING = ("independent: {file} read with pandas.read_fwf (7-char UWyo columns), metpy.calc.{fn} called directly "
                "(conventions of hvrmet/tools/sounding_calc.py docstrings: heights above ground, 100 hPa mixed layer, "
                "Bunkers right mover, total SRH); value {val:.3g} {units}")
FN = {"sbcape": "surface_based_cape_cin", "sbcin": "surface_based_cape_cin", "mlcape": "mixed_layer_cape_cin",
      "mucape": "most_unstable_cape_cin", "lcl_pressure": "lcl", "lifted_index": "lifted_index",
      "k_index": "k_index", "total_totals": "total_totals_index", "showalter_index": "showalter_index",
      "precipitable_water": "precipitable_water", "shear_0_1km": "bulk_shear", "shear_0_6km": "bulk_shear",
      "srh_0_1km": "storm_relative_helicity", "srh_0_3km": "storm_relative_helicity",
      "stp": "significant_tornado", "scp": "supercell_composite", "dcape": "downdraft_cape",
      "lapse_rate_700_500": "(log-p interpolated T and z at 700/500 hPa)", "freezing_level": "(lowest 0 degC crossing)"}


# =========================================================================== Level II
RADARS = OrderedDict([
    ("may1999", ("metpy/staticdata/KTLX19990503_235621.gz", "KTLX")),
    ("katrina2005", ("open-radar-data/data/KLIX20050828_180149.gz", "KLIX")),
    ("kvwx20050626", ("metpy/staticdata/KVWX_20050626_221551.gz", "KVWX")),
    ("klbb20160601", ("open-radar-data/data/KLBB20160601_150025_V06", "KLBB")),
])


def _ray_time(hdr) -> datetime:
    return datetime(1970, 1, 1) + timedelta(days=int(hdr.date) - 1, milliseconds=int(hdr.time_ms))


def level2_summary(path: Path, site: str) -> dict:
    import logging

    from metpy.io import Level2File

    logging.disable(logging.WARNING)  # MetPy logs out-of-order metadata segments of these files
    f = Level2File(str(path))
    logging.disable(logging.NOTSET)
    gates = []
    first_ref = first_vel = None
    for i, sweep in enumerate(f.sweeps):
        t_sweep = min(_ray_time(ray[0]) for ray in sweep)
        for ray in sweep:
            hdr, moms = ray[0], ray[-1]
            names = {(k.decode() if isinstance(k, bytes) else k): k for k in moms}
            if "REF" in names and first_ref is None:
                first_ref = (i, t_sweep, hdr.el_angle)
            if "VEL" in names and first_vel is None:
                first_vel = (i, t_sweep, hdr.el_angle)
            if "REF" not in names:
                continue
            mh, data = moms[names["REF"]]
            d = np.asarray(data, float)
            if not np.isfinite(d).any():
                continue
            m = np.nanmax(d)
            for j in np.flatnonzero(d == m):
                gates.append((float(m), i, float(hdr.az_angle), float(hdr.el_angle), mh.first_gate + j * mh.gate_width))
    vmax = max(g[0] for g in gates)
    top = [g for g in gates if g[0] == vmax]
    lat0, lon0 = SITES[site]
    locs = []
    for _, i, az, el, rng in top:
        s, h = beam_ground_range_km(rng, el)
        locs.append((*geod_fwd(lat0, lon0, az, s), az, rng, el, i))
    # the spread of tied maxima decides whether a location task is well posed
    spread = 0.0
    for a in locs:
        for b in locs:
            spread = max(spread, _dist_km(a[0], a[1], b[0], b[1]))
    return {"max": vmax, "locs": locs, "spread_km": spread, "volume_time": f.dt, "first_ref": first_ref,
            "first_vel": first_vel, "site": (lat0, lon0)}


def _dist_km(la1, lo1, la2, lo2) -> float:
    from pyproj import Geod

    return Geod(ellps="WGS84").inv(lo1, la1, lo2, la2)[2] / 1000.0


# =========================================================================== GFS
def gfs_summary(path: Path) -> dict:
    import netCDF4

    ds = netCDF4.Dataset(str(path))
    lat = np.asarray(ds["lat"][:], float)
    lon = np.asarray(ds["lon"][:], float)
    lon = np.where(lon > 180, lon - 360, lon)
    t0 = netCDF4.num2date(ds["time"][:], ds["time"].units)[0]
    mslp = np.asarray(ds["Pressure_reduced_to_MSL_msl"][0], float) / 100.0
    i, j = np.unravel_index(np.argmin(mslp), mslp.shape)
    out = {"time": f"{t0.year:04d}-{t0.month:02d}-{t0.day:02d}T{t0.hour:02d}:{t0.minute:02d}",
           "min_p": float(mslp[i, j]), "min_p_lat": float(lat[i]), "min_p_lon": float(lon[j])}
    near = np.argwhere(mslp <= mslp[i, j] + 0.5)
    out["min_p_spread_km"] = max(_dist_km(lat[i], lon[j], lat[a], lon[b]) for a, b in near)
    lev = np.asarray(ds["isobaric3"][:], float) / 100.0
    u, v = ds["u-component_of_wind_isobaric"], ds["v-component_of_wind_isobaric"]
    for L in (250, 300, 500, 850):
        k = int(np.argmin(np.abs(lev - L)))
        spd = np.hypot(np.asarray(u[0, k], float), np.asarray(v[0, k], float))
        a, b = np.unravel_index(np.argmax(spd), spd.shape)
        near = np.argwhere(spd >= 0.98 * spd[a, b])
        out[f"wind{L}"] = (float(spd[a, b]), float(lat[a]), float(lon[b]),
                           max(_dist_km(lat[a], lon[b], lat[x], lon[y]) for x, y in near))
    ds.close()
    return out


# =========================================================================== Level III
def level3_tables(nids: Path) -> dict:
    from metpy.io import Level3File

    ncr = Level3File(str(nids / "Level3_MCI_NCR_20160526_2154.nids"))
    site = (float(ncr.lat), float(ncr.lon))
    storms = []
    for page in ncr.graph_pages:
        for item in page:
            m = re.match(r"^\s+([A-Z]\d)\s+(\d+)/\s*(\d+)\s+(\S+)\s+(\S+)\s+(\d+)/\s*(\d+)/\s*(<?[\d.]+)\s+(\d+)\s+(\d+)",
                         item.get("text", ""))
            if m:
                size = m.group(8)
                storms.append({"id": m.group(1), "az": float(m.group(2)), "rng_nm": float(m.group(3)),
                               "tvs": m.group(4), "posh": float(m.group(6)), "poh": float(m.group(7)),
                               "size": 0.0 if size.startswith("<") else float(size), "vil": float(m.group(9))})
    nmd = Level3File(str(nids / "Level3_MCI_NMD_20160526_2154.nids"))
    mesos = []
    for page in nmd.tab_pages:
        for ln in page.splitlines():
            m = re.match(r"^\s*(\d+)\s+(\d+)/\s*(\d+)\s+(\d+)\s+([A-Z]\d)\s+(\d+)\s+(\d+)\s+<?\s*(\d+)\s+>?\s*(\d+)\s+(\d+)"
                         r"\s+(\d+)\s+(\d+)\s+([YN])\s.*?(\d+)\s*$", ln)
            if m:
                mesos.append({"cid": m.group(1), "az": float(m.group(2)), "rng_nm": float(m.group(3)),
                              "sr": int(m.group(4)), "storm": m.group(5), "llrv": float(m.group(6)),
                              "mxrv": float(m.group(12)), "tvs": m.group(13), "msi": float(m.group(14))})
    nst = Level3File(str(nids / "Level3_MCI_NST_20160526_2154.nids"))
    text = "\n".join(nst.tab_pages)
    n_cells = int(re.search(r"NUMBER OF STORM CELLS\s+(\d+)", text).group(1))
    avg = re.search(r"AVG SPEED\s+(\d+)\s+KTS\s+AVG DIRECTION\s+(\d+)", text)
    tracks = {}
    for ln in text.splitlines():
        m = re.match(r"^\s+([A-Z]\d)\s+(\d+)/\s*(\d+)\s+(\d+)/\s*(\d+)\s", ln)
        if m:
            tracks[m.group(1)] = {"az": float(m.group(2)), "rng_nm": float(m.group(3)),
                                  "dir": float(m.group(4)), "spd": float(m.group(5))}
    for page in nst.graph_pages:  # the graphic pages list a few storms the text pages leave out
        rows = [it.get("text", "") for it in page]
        ids = next((re.findall(r"[A-Z]\d", x[9:]) for x in rows if x.startswith(" STORM ID")), [])
        azr = next((re.findall(r"(\d+)/\s*(\d+)", x) for x in rows if x.startswith(" AZ/RAN")), [])
        mv = next((x for x in rows if x.startswith(" FCST MVT")), "")
        cells = [mv[10 + 10 * k: 20 + 10 * k] for k in range(len(ids))]
        for sid, (a, rg), c in zip(ids, azr, cells):
            mm = re.search(r"(\d+)/\s*(\d+)", c)
            if sid not in tracks and mm:
                tracks[sid] = {"az": float(a), "rng_nm": float(rg), "dir": float(mm.group(1)),
                               "spd": float(mm.group(2))}
    # storms in the symbology only: speed from the 15-min forecast position (km grid)
    sym_ids = []
    for layer in nst.sym_block:
        cur = None
        for it in layer:
            if isinstance(it, dict) and it.get("type") == "Storm ID":
                sym_ids.append(it["id"])
                cur = it["id"]
            elif isinstance(it, dict) and "track" in it and cur and cur not in tracks and \
                    any("forecast" in k for mk in [it.get("markers")] for d in (mk if isinstance(mk, list) else [mk]) for k in d):
                (x0, y0), (x1, y1) = it["track"][0], it["track"][1]
                tracks[cur] = {"spd_sym": math.hypot(x1 - x0, y1 - y0) / 0.25 / 1.852}
    return {"site": site, "storms": storms, "mesos": mesos, "n_cells": n_cells, "sym_ids": sym_ids,
            "avg_speed": float(avg.group(1)), "avg_dir": float(avg.group(2)), "tracks": tracks,
            "vol_time": ncr.metadata["vol_time"]}


# =========================================================================== composites
COMPOSITES = OrderedDict([
    ("mch20150515", ("pysteps-data/radar/mch/20150515/AQC*.gif", "mch_gif", (46.95, 7.45), "Bern")),
    ("mch20170131", ("pysteps-data/radar/mch/20170131/AQC*.gif", "mch_gif", (46.95, 7.45), "Bern")),
    ("knmi20100826", ("pysteps-data/radar/KNMI/2010/08/RAD_NL25_RAP_5min_*.h5", "knmi_hdf5", (52.10, 5.18), "De Bilt")),
    ("bom20180616", ("pysteps-data/radar/bom/prcp-cscn/2/2018/06/16/*.prcp-cscn.nc", "bom_rf3", (-37.852, 144.752),
                     "the Melbourne radar")),
    ("fmi", ("pysteps-data/radar/fmi/pgm/20160928/*.pgm.gz", "fmi_pgm", (60.17, 24.94), "Helsinki")),
])
KW = {"mch_gif": {"product": "AQC", "unit": "mm", "accutime": 5.0}, "fmi_pgm": {"gzipped": True},
      "knmi_hdf5": {"accutime": 5, "qty": "ACRR", "pixelsize": 1000.0}, "bom_rf3": {}}


def _file_time(name: str, importer: str) -> datetime:
    b = os.path.basename(name)
    if importer == "mch_gif":
        m = re.match(r"AQC(\d{2})(\d{3})(\d{2})(\d{2})", b)
        return datetime(2000 + int(m.group(1)), 1, 1) + timedelta(days=int(m.group(2)) - 1, hours=int(m.group(3)),
                                                                  minutes=int(m.group(4)))
    m = re.search(r"(\d{8})_?(\d{4})", b)
    return datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M")


def composite_summary(dd: Path, pattern: str, importer: str) -> dict:
    from pysteps.io import get_method

    files = sorted(glob.glob(str(dd / pattern)))
    imp = get_method(importer, "importer")
    frames, unit, acc = [], None, None
    for f in files:
        R, _q, md = imp(f, **KW[importer])
        frames.append(np.asarray(R, float))
        unit, acc = md["unit"], float(md.get("accutime") or 5.0)
    A = np.stack(frames)
    times = [_file_time(f, importer) for f in files]
    out = {"first": times[0].strftime("%Y-%m-%dT%H:%M"), "n": len(files), "unit": unit}
    if unit == "mm":
        step = (times[1] - times[0]).total_seconds() / 60.0 if len(times) > 1 else acc
        out["fig_units"] = "mm/h"
        out["max_rate"] = float(np.nanmax(A)) * 60.0 / acc
        k = max(1, int(round(60.0 / step)))
        c = np.nancumsum(np.nan_to_num(A), axis=0)
        win = c[k - 1:] - np.concatenate([np.zeros_like(c[:1]), c[:-k]], axis=0)
        out["max_1h"] = float(win.max())
    else:
        out["fig_units"] = unit
        out["max_dbz"] = float(np.nanmax(A))
    return out


# =========================================================================== task writers
class Tasks:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, category: str, tid: str, case: str, question: str, target: dict, answer: dict, source: str) -> None:
        self.rows.append({"id": f"{category}-{tid}", "category": category, "case": case, "question": question,
                          "target": target, "answer": answer, "source": source})


def num(value: float, units: str, rtol: float, atol: float) -> dict:
    return {"type": "number", "value": r(value, 3), "units": units, "rtol": rtol, "atol": atol}


def loc(lat: float, lon: float, radius: float) -> dict:
    return {"type": "location", "lat": r(lat, 4), "lon": r(lon, 4), "radius_km": radius}


def label(value: str, synonyms: list[str] | None = None) -> dict:
    return {"type": "label", "value": value, "synonyms": synonyms or []}


STATUS_SYN = {"supported": ["confirmed", "verified"], "refuted": ["rejected", "ruled out"],
              "inconclusive": ["undecided", "unresolved"]}


def build(dd: Path) -> list[dict]:
    T = Tasks()

    # ------------------------------------------------------------------ soundings: index
    snd = {}
    for case, meta in SOUNDINGS.items():
        vals, info = sounding_indices(dd / meta["file"])
        snd[case] = (vals, info)
        tm = meta["time"].replace("T", " ")
        for k, q in enumerate(IDX):
            if q not in vals or not np.isfinite(vals[q]):
                continue
            units, rtol, atol, qs = IDX[q]
            question = qs[k % len(qs) if len(qs) > 1 and case in ("oun20110522", "null-dec9") else 0]
            T.add("index", f"{case}-{q}", case, question.format(st=meta["station"], tm=tm),
                  {"quantity": q, "args": {}}, num(vals[q], units, rtol, atol),
                  SRC_SOUNDING.format(file=meta["file"], fn=FN[q], val=vals[q], units=units))

    # ------------------------------------------------------------------ Level II: index, signal, plot
    rad = {}
    for case, (path, site) in RADARS.items():
        s = level2_summary(dd / path, site)
        rad[case] = s
        T.add("index", f"{case}-max_reflectivity", case,
              f"What is the highest reflectivity anywhere in the {site} volume of "
              f"{s['volume_time']:%Y-%m-%d %H:%M} UTC?",
              {"quantity": "max_reflectivity", "args": {}}, num(s["max"], "dBZ", 0.0, 0.5),
              f"independent: metpy.io.Level2File on {path}, maximum of the REF moment over all sweeps and gates "
              f"({s['max']:.1f} dBZ, {len(s['locs'])} gate(s) at that value)")
        if s["spread_km"] <= 10.0:
            la, lo, az, rng, el, sw = s["locs"][0]
            T.add("signal", f"{case}-max_reflectivity-location", case,
                  f"Where is the strongest echo of the {site} volume located?",
                  {"quantity": "max_reflectivity", "what": "location"}, loc(la, lo, 15.0),
                  f"independent: Level2File REF maximum {s['max']:.1f} dBZ at azimuth {az:.1f} deg, slant range "
                  f"{rng:.2f} km, elevation {el:.2f} deg (sweep {sw}); ground position by the 4/3-earth beam model "
                  f"and a WGS84 geodesic from {site} {s['site'][0]:.4f}, {s['site'][1]:.4f} (NEXRAD site list)")
        lat0, lon0 = s["site"]
        i, t_ref, el_ref = s["first_ref"]
        T.add("plot", f"{case}-radar_ppi-reflectivity", case,
              f"Show me the lowest-tilt reflectivity PPI from {site}.",
              {"kind": "radar_ppi", "args": {"field": "reflectivity"}},
              {"type": "figure", "kind": "radar_ppi", "variables": ["reflectivity"], "units": "dBZ",
               "valid_time": t_ref.strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
              f"independent: Level2File first ray time of the lowest sweep with REF (sweep {i}, "
              f"{el_ref:.2f} deg); the map must contain the {site} site")
        if s["first_vel"] is not None:
            i, t_vel, el_vel = s["first_vel"]
            T.add("plot", f"{case}-radar_ppi-velocity", case,
                  f"Plot the {site} low-level radial velocity sweep.",
                  {"kind": "radar_ppi", "args": {"field": "velocity"}},
                  {"type": "figure", "kind": "radar_ppi", "variables": ["velocity"], "units": "m/s",
                   "valid_time": t_vel.strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
                  f"independent: Level2File first ray time of the lowest sweep with VEL (sweep {i}, {el_vel:.2f} deg)")
        T.add("plot", f"{case}-composite_reflectivity", case,
              f"Make a composite (column-maximum) reflectivity map of the {site} volume.",
              {"kind": "composite_reflectivity", "args": {}},
              {"type": "figure", "kind": "composite_reflectivity", "units": "dBZ",
               "valid_time": s["volume_time"].strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
              "independent: Level2File volume start time (volume header); the map must contain the radar site")

    # ------------------------------------------------------------------ sounding plots
    for case, meta in SOUNDINGS.items():
        for kind, units, q in (("skewt", "degC", "Draw a skew-T of the {st} {tm} UTC sounding."),
                               ("hodograph", "knot", "Plot the hodograph for {st} at {tm} UTC.")):
            T.add("plot", f"{case}-{kind}", case, q.format(st=meta["station"], tm=meta["time"].replace("T", " ")),
                  {"kind": kind, "args": {}},
                  {"type": "figure", "kind": kind, "units": units, "valid_time": meta["time"],
                   "contains": [meta["lat"], meta["lon"]]},
                  f"observation time of {meta['file']} (UWyo/MetPy test-data metadata, 00 UTC 4 May 1999 for "
                  f"may4_sounding.txt) and the {meta['station']} station position; figure units as the plot tool "
                  "documents (skew-T in degC, hodograph in knots)")

    # ------------------------------------------------------------------ GFS: index, signal, plot
    g = gfs_summary(dd / "metpy/staticdata/GFS_test.nc")
    gsrc = "independent: netCDF4 on metpy/staticdata/GFS_test.nc"
    T.add("index", "cyclone2010-min_pressure", "cyclone2010",
          "How deep is the low in the 12 UTC 26 October 2010 GFS analysis (minimum sea-level pressure)?",
          {"quantity": "min_pressure", "args": {}}, num(g["min_p"], "hPa", 0.0, 0.5),
          f"{gsrc}: minimum of Pressure_reduced_to_MSL_msl = {g['min_p']:.2f} hPa (1-degree grid; the NWS record "
          "station value of 955.2 hPa is deeper than the grid resolves)")
    T.add("signal", "cyclone2010-min_pressure-location", "cyclone2010",
          "Where is the centre of the surface low in the GFS analysis?",
          {"quantity": "min_pressure", "what": "location"},
          loc(g["min_p_lat"], g["min_p_lon"], max(100.0, round(g["min_p_spread_km"] + 30.0))),
          f"{gsrc}: grid point of the MSLP minimum ({g['min_p_lat']:.1f} N, {g['min_p_lon']:.1f} E); radius covers "
          f"grid points within 0.5 hPa of the minimum ({g['min_p_spread_km']:.0f} km)")
    for L in (250, 300, 500, 850):
        spd, la, lo, spread = g[f"wind{L}"]
        T.add("index", f"cyclone2010-max_wind_speed-{L}", "cyclone2010",
              f"What is the strongest wind speed at {L} hPa in the analysis?",
              {"quantity": "max_wind_speed", "args": {"level": L}}, num(spd, "m/s", 0.02, 1.0),
              f"{gsrc}: max of hypot(u, v) on isobaric3 = {L} hPa = {spd:.2f} m/s")
        if spread <= 250:
            T.add("signal", f"cyclone2010-max_wind_speed-{L}-location", "cyclone2010",
                  f"Where is the {L} hPa jet maximum?", {"quantity": "max_wind_speed", "what": "location",
                                                         "args": {"level": L}},
                  loc(la, lo, max(100.0, round(spread + 50.0))),
                  f"{gsrc}: grid point of the {L} hPa wind-speed maximum ({la:.1f} N, {lo:.1f} E); radius covers "
                  f"points within 2 % of the maximum ({spread:.0f} km)")
    for var, level, units, q in (("mslp", None, "hPa", "Map the sea-level pressure of the 26 October 2010 analysis."),
                                 ("geopotential_height", 500, "dam", "Show me the 500 hPa height field."),
                                 ("wind_speed", 250, "knot", "Plot 250 hPa wind speed over the domain."),
                                 ("temperature", 850, "degC", "Draw the 850 hPa temperature map.")):
        args = {"variable": var} | ({"level": level} if level else {})
        T.add("plot", f"cyclone2010-field_map-{var}", "cyclone2010", q, {"kind": "field_map", "args": args},
              {"type": "figure", "kind": "field_map", "units": units, "valid_time": g["time"],
               "contains": [r(g["min_p_lat"], 2), r(g["min_p_lon"], 2)]},
              f"{gsrc}: analysis time {g['time']} UTC; the map must contain the low centre; display units as the "
              "plot tool documents")

    # ------------------------------------------------------------------ Level III
    l3 = level3_tables(dd / "metpy/staticdata/nids")
    site3 = l3["site"]
    st = l3["storms"]
    src3 = "radar's own product (metpy.io.Level3File, tables parsed from the text pages)"
    max_posh = max(s_["posh"] for s_ in st)
    big = sorted(st, key=lambda s_: (-s_["size"], -s_["posh"], -s_["poh"], -s_["vil"]))[0]
    n_posh50 = sum(s_["posh"] >= 50 for s_ in st)
    mesos = l3["mesos"]
    strongest = sorted(mesos, key=lambda m: (-m["sr"], -m["msi"]))[0]
    fast_id, fast = max(((k, v) for k, v in l3["tracks"].items() if "spd" in v), key=lambda kv: kv[1]["spd"])
    sym_fast = max((v.get("spd_sym", 0) for v in l3["tracks"].values()), default=0)
    l3_index = [
        ("max_posh", max_posh, "percent", 0, 0.5, "What is the highest probability of severe hail the Kansas City radar "
         "assigns to any storm?", "NCR storm-attributes table, largest POSH"),
        ("max_hail_size", big["size"], "inch", 0, 0.01, "What is the largest maximum expected hail size in the TMCI "
         "storm table?", "NCR storm-attributes table, largest MX SIZE"),
        ("storms_with_posh", n_posh50, "1", 0, 0, "How many storms have a POSH of at least 50 % on the TMCI hail "
         "index?", "NCR storm-attributes table, count of POSH >= 50"),
        ("storms_in_table", len(st), "1", 0, 0, "How many storms are listed in the TMCI storm-attributes (hail) "
         "table?", "NCR storm-attributes table rows"),
        ("mesocyclone_count", len(mesos), "1", 0, 0, "How many circulations did the mesocyclone detection algorithm "
         "flag at 21:54 UTC?", "NMD table rows (min strength rank 3)"),
        ("strongest_max_rotational_velocity", strongest["mxrv"], "knot", 0, 1.0, "What is the maximum rotational "
         "velocity of the strongest mesocyclone detected by TMCI?", "NMD table, circulation with highest strength "
         "rank (ties by MSI), MAX RV"),
        ("strongest_low_level_rotational_velocity", strongest["llrv"], "knot", 0, 1.0, "What low-level rotational "
         "velocity does the strongest TMCI mesocyclone have?", "NMD table, strongest circulation, LOW LEVEL RV"),
        ("storm_count", l3["n_cells"], "1", 0, 0, "How many storm cells is the Kansas City radar tracking?",
         "NST header 'NUMBER OF STORM CELLS' (= storm IDs in the symbology block)"),
        ("fastest_storm_speed", fast["spd"], "knot", 0, 1.0, "How fast is the fastest-moving storm tracked by TMCI?",
         "NST tables, largest movement speed"),
        ("mean_motion_speed", l3["avg_speed"], "knot", 0.0, 3.0, "What is the average storm motion speed in the "
         "TMCI storm tracking product?", "NST header 'AVG SPEED' (the radar's average; a vector mean of the table "
         "may differ by a few knots, hence atol 3 kt)"),
        ("tvs_count", 0, "1", 0, 0, "Did the Kansas City radar flag any tornado vortex signatures? How many?",
         "NMD TVS column all N and NCR TVS column all NONE"),
    ]
    for q, val, units, rtol, atol, question, how in l3_index:
        T.add("index", f"mci20160526-{q}", "mci20160526", question, {"quantity": q, "args": {}},
              num(val, units, rtol, atol), f"{src3}: {how} = {val}")
    # signals
    bla, blo = geod_fwd(*site3, big["az"], big["rng_nm"] * 1.852)
    T.add("signal", "mci20160526-max_hail-location", "mci20160526",
          "Where is the storm with the largest expected hail?", {"quantity": "max_hail_size", "what": "location"},
          loc(bla, blo, 10.0), f"{src3}: storm {big['id']} at {big['az']:.0f} deg / {big['rng_nm']:.0f} nm from TMCI "
          f"({site3[0]:.3f}, {site3[1]:.3f}), geodesic; hail size {big['size']} in (ties broken by POSH, POH, VIL)")
    T.add("signal", "mci20160526-max_hail_storm_id", "mci20160526",
          "Which storm cell has the highest hail threat on the TMCI hail index?",
          {"quantity": "max_hail_storm_id", "what": "label"}, label(big["id"]),
          f"{src3}: NCR table, largest MX SIZE {big['size']} in (tie with another storm broken by POSH then POH "
          f"{big['poh']:.0f} % then VIL {big['vil']:.0f})")
    mla, mlo = geod_fwd(*site3, strongest["az"], strongest["rng_nm"] * 1.852)
    T.add("signal", "mci20160526-strongest_mesocyclone-location", "mci20160526",
          "Where is the strongest mesocyclone the Kansas City radar detected?",
          {"quantity": "strongest_max_rotational_velocity", "what": "location"}, loc(mla, mlo, 10.0),
          f"{src3}: NMD circulation {strongest['cid']} (rank {strongest['sr']}, MSI {strongest['msi']:.0f}, "
          f"MAX RV {strongest['mxrv']:.0f} kt) at {strongest['az']:.0f} deg / {strongest['rng_nm']:.0f} nm, geodesic")
    T.add("signal", "mci20160526-strongest_storm_id", "mci20160526",
          "Which storm hosts the strongest mesocyclone?", {"quantity": "strongest_storm_id", "what": "label"},
          label(strongest["storm"]), f"{src3}: NMD table, highest strength rank, ties by MSI (also the highest MAX RV)")
    T.add("signal", "mci20160526-strongest_circulation_id", "mci20160526",
          "What is the circulation ID of the strongest mesocyclone in the NMD product?",
          {"quantity": "strongest_circulation_id", "what": "label"}, label(strongest["cid"]),
          f"{src3}: NMD table, highest strength rank {strongest['sr']}, MSI {strongest['msi']:.0f}")
    fla, flo = geod_fwd(*site3, fast["az"], fast["rng_nm"] * 1.852)
    T.add("signal", "mci20160526-fastest_storm_id", "mci20160526", "Which tracked storm is moving fastest?",
          {"quantity": "fastest_storm_id", "what": "label"}, label(fast_id),
          f"{src3}: NST tables, movement {fast['dir']:.0f}/{fast['spd']:.0f} kt (storms only in the symbology move at "
          f"most {sym_fast:.0f} kt from their 15-min forecast position)")
    T.add("signal", "mci20160526-fastest_storm-location", "mci20160526", "Where is the fastest-moving storm now?",
          {"quantity": "fastest_storm_speed", "what": "location"}, loc(fla, flo, 10.0),
          f"{src3}: storm {fast_id} at {fast['az']:.0f} deg / {fast['rng_nm']:.0f} nm from TMCI, geodesic")
    T.add("plot", "mci20160526-composite_reflectivity", "mci20160526",
          "Show the TMCI Level III composite reflectivity product.",
          {"kind": "composite_reflectivity", "args": {"role": "level3_composite_reflectivity"}},
          {"type": "figure", "kind": "composite_reflectivity", "units": "dBZ",
           "valid_time": l3["vol_time"].strftime("%Y-%m-%dT%H:%M"), "contains": [r(site3[0], 3), r(site3[1], 3)]},
          f"{src3}: NCR volume time; the map must contain the radar position from the product header")

    # ------------------------------------------------------------------ surface obs (superstorm1993)
    import pandas as pd

    sfc = pd.read_csv(dd / "metpy/staticdata/SFC_obs.csv")
    gi = sfc["gust"].idxmax()
    wi = sfc["sknt"].idxmax()
    for q, idx, col, question in (("max_wind_gust_station", gi, "gust", "Which station reported the strongest gust?"),
                                  ("max_wind_speed_station", wi, "sknt", "Which station had the strongest sustained "
                                                                          "wind in these surface reports?")):
        row = sfc.loc[idx]
        T.add("signal", f"superstorm1993-{q}", "superstorm1993", question, {"quantity": q, "what": "label"},
              label(str(row["station"])), f"independent: pandas.read_csv SFC_obs.csv, max of {col} = {row[col]:.0f} kt at "
              f"{row['station']} {row['valid']} (Mount Washington, NH)")
    row = sfc.loc[gi]
    T.add("signal", "superstorm1993-max_wind_gust-location", "superstorm1993", "Where was the peak gust observed?",
          {"quantity": "max_wind_gust", "what": "location"}, loc(row["lat"], row["lon"], 5.0),
          f"independent: SFC_obs.csv station {row['station']} position of the max gust ({row['gust']:.0f} kt)")
    T.add("index", "superstorm1993-max_wind_gust", "superstorm1993",
          "What was the highest wind gust in the surface reports?", {"quantity": "max_wind_gust", "args": {}},
          num(row["gust"], "knot", 0.0, 0.5), f"independent: pandas.read_csv SFC_obs.csv, max of gust ({row['station']})")

    # ------------------------------------------------------------------ composites: plot
    comp = {}
    for case, (pattern, importer, (cla, clo), place) in COMPOSITES.items():
        c = composite_summary(dd, pattern, importer)
        comp[case] = c
        T.add("plot", f"{case}-composite_sequence", case,
              f"Show the radar composite sequence as a panel plot (the map should include {place}).",
              {"kind": "composite_sequence", "args": {}},
              {"type": "figure", "kind": "composite_sequence", "units": c["fig_units"], "valid_time": c["first"],
               "contains": [cla, clo]},
              f"independent: pysteps importer {importer} (unit {c['unit']}; accumulations shown as rain rate mm/h), "
              f"first frame time from the file name ({c['first']}, {c['n']} frames); {place} lies inside the composite")

    # ------------------------------------------------------------------ hazard-level tasks
    jan, dec, may, oun = (snd[k][0] for k in ("null-jan20", "null-dec9", "may1999", "oun20110522"))
    phys = {
        "may1999": f"MetPy on may4_sounding.txt: SBCAPE {may['sbcape']:.0f} J/kg, 0-1 km SRH {may['srh_0_1km']:.0f} m2/s2, "
                   f"0-6 km shear {may['shear_0_6km']:.0f} m/s, STP {may['stp']:.1f}; KTLX max {rad['may1999']['max']:.1f} dBZ",
        "oun20110522": f"MetPy on 20110522_OUN_12Z.txt: MUCAPE {oun['mucape']:.0f} J/kg, SBCAPE {oun['sbcape']:.0f} J/kg, "
                       f"0-6 km shear {oun['shear_0_6km']:.0f} m/s, 0-1 km SRH {oun['srh_0_1km']:.0f} m2/s2",
        "null-jan20": f"MetPy on jan20_sounding.txt: SBCAPE {jan['sbcape']:.0f}, MUCAPE {jan['mucape']:.0f} J/kg, "
                      f"lifted index {jan.get('lifted_index', float('nan')):.1f}",
        "null-dec9": f"MetPy on dec9_sounding.txt: SBCAPE {dec['sbcape']:.0f}, MUCAPE {dec['mucape']:.0f} J/kg, "
                     f"lifted index {dec.get('lifted_index', float('nan')):.1f}",
        "cyclone2010": f"GFS_test.nc MSLP minimum {g['min_p']:.1f} hPa",
        "mci20160526": f"TMCI NCR table: max POSH {max_posh:.0f} %, max expected size {big['size']} in; NMD: "
                       f"{len(mesos)} circulations, strongest rank {strongest['sr']}, no TVS",
        "mch20150515": f"pysteps mch_gif: peak rate {comp['mch20150515']['max_rate']:.1f} mm/h, max 1-h accumulation "
                       f"{comp['mch20150515']['max_1h']:.1f} mm",
        "mch20170131": f"pysteps mch_gif: peak rate {comp['mch20170131']['max_rate']:.1f} mm/h, max 1-h accumulation "
                       f"{comp['mch20170131']['max_1h']:.1f} mm",
        "knmi20100826": f"pysteps knmi_hdf5: peak 5-min rate {comp['knmi20100826']['max_rate']:.1f} mm/h, max 1-h "
                        f"accumulation {comp['knmi20100826']['max_1h']:.1f} mm",
        "bom20180616": f"pysteps bom_rf3: peak rate {comp['bom20180616']['max_rate']:.1f} mm/h, max 1-h accumulation "
                       f"{comp['bom20180616']['max_1h']:.1f} mm",
        "fmi": f"pysteps fmi_pgm: max {comp['fmi'].get('max_dbz', float('nan')):.1f} dBZ",
        "katrina2005": f"KLIX max {rad['katrina2005']['max']:.1f} dBZ",
        "kvwx20050626": f"KVWX max {rad['kvwx20050626']['max']:.1f} dBZ",
    }
    REC = {
        "may1999": "public record: NWS Norman, 'The Great Plains Tornado Outbreak of May 3-4, 1999'; Storm Events "
                   "Database (F5 Bridge Creek-Moore tornado)",
        "oun20110522": "catalogue events (NWS Springfield, Joplin EF5 tornado 22 May 2011; NOAA Storm Events) and the "
                       "sounding's own environment",
        "null-jan20": "null case: physics computed independently (no CAPE), catalogue events 'none'",
        "null-dec9": "null case: physics computed independently (no CAPE), catalogue events 'none'",
        "katrina2005": "public record: NHC Tropical Cyclone Report AL122005 (Knabb, Rhome and Brown 2005)",
        "cyclone2010": "public record: NWS Duluth, 955.2 hPa at Bigfork MN 26 Oct 2010 (record non-tropical low)",
        "henri2021": "public record: NHC Tropical Cyclone Reports AL082021 (Henri) and AL072021 (Grace)",
        "mci20160526": "radar detection only (catalogue events: the NCR storm-attributes table; no ground report here)",
        "mch20150515": "catalogue events (MeteoSwiss AQC composite itself, rates at the 115.5 mm/h ceiling) and the "
                       "independent pysteps read",
        "mch20170131": "catalogue events (winter stratiform contrast case) and the independent pysteps read",
        "kvwx20050626": "catalogue events (summer convection, not a named event); NHC archive: no tropical cyclone "
                        "over Indiana on 26 June 2005",
        "heatdome2021": "public record: NWS Portland, 116 F at PDX on 28 June 2021 (all-time record); Philip et al. 2022",
        "superstorm1993": "public record: Kocin et al. 1995 BAMS 76, 165-182; NOAA NCEI 'Storm of the Century'",
        "knmi20100826": "catalogue events call it a heavy-rain day, but the 00:00-07:35 UTC window read independently "
                        "holds only modest hourly totals, so no hazard is required by name",
        "bom20180616": "catalogue events (BoM RF3, winter frontal rain) and the independent pysteps read",
        "fmi": "catalogue events (FMI composite, convective rain) and the independent pysteps read",
    }

    def why(case: str) -> str:
        return REC[case] + (f"; {phys[case]}" if case in phys else "")

    # hypothesis: rank of H among the proposed hypotheses (value +- atol)
    hyp = [
        ("may1999", "tornadic_supercell", 1, 1, "What hazard hypotheses would you put first for the 3 May 1999 Oklahoma City case?"),
        ("may1999", "supercell_large_hail", 2, 2, "Would you consider supercell hail among the leading hypotheses for 3 May 1999?"),
        ("oun20110522", "tornadic_supercell", 1, 1, "Given the Norman morning sounding on 22 May 2011, what severe threat leads your hypothesis list?"),
        ("null-jan20", "no_severe_hazard", 1, 1, "What is your leading hypothesis for the Norman sounding of 20 January 2013?"),
        ("null-dec9", "no_severe_hazard", 1, 1, "Rank your hypotheses for the Boise sounding of 9 December 2010."),
        ("katrina2005", "tropical_cyclone", 1, 1, "What is the primary hazard suggested by the KLIX volume on 28 August 2005?"),
        ("cyclone2010", "extratropical_cyclone", 1, 1, "What hazard does the 26 October 2010 GFS analysis point to first?"),
        ("henri2021", "tropical_cyclone", 1, 1, "Which hazard should head the list given the NHC wind-speed probabilities?"),
        ("mci20160526", "supercell_large_hail", 1, 2, "What severe hazards would you hypothesise from the Kansas City Level III products?"),
        ("mch20150515", "extreme_short_duration_rain", 1, 1, "What hazard do the Swiss radar composites of 15 May 2015 suggest first?"),
        ("mch20170131", "no_severe_hazard", 1, 1, "Is anything severe suggested by the Swiss composites of 31 January 2017?"),
        ("heatdome2021", "heat_wave", 1, 1, "What hazard leads your hypotheses for the Pacific Northwest on 28 June 2021?"),
        ("superstorm1993", "extratropical_cyclone", 1, 1, "What is the leading hypothesis for the March 1993 surface and upper-air data?"),
        ("superstorm1993", "winter_storm", 2, 2, "Should a winter storm be among the hypotheses for 12-14 March 1993?"),
        ("henri2021", "tropical_cyclone_wind", 2, 1, "Is tropical-storm or hurricane-force wind among your hypotheses for the NHC probabilities of 20 August 2021?"),
        ("bom20180616", "no_severe_hazard", 1, 1, "Rank the hazard hypotheses for Melbourne's radar rain on 16 June 2018."),
    ]
    for case, hz, rank, atol, q in hyp:
        T.add("hypothesis", f"{case}-{hz}", case, q, {"hazard": hz},
              {"type": "number", "value": rank, "units": "1", "rtol": 0.0, "atol": atol},
              f"expected rank {rank} (+-{atol}) of {hz}: {why(case)}")

    ver = [
        ("may1999", "tornadic_supercell", "supported"), ("may1999", "no_severe_hazard", "refuted"),
        ("oun20110522", "no_severe_hazard", "refuted"),
        ("null-jan20", "tornadic_supercell", "refuted"), ("null-jan20", "no_severe_hazard", "supported"),
        ("null-jan20", "large_hail", "refuted"),
        ("null-dec9", "tornadic_supercell", "refuted"), ("null-dec9", "no_severe_hazard", "supported"),
        ("katrina2005", "tropical_cyclone", "supported"), ("katrina2005", "no_severe_hazard", "refuted"),
        ("cyclone2010", "extratropical_cyclone", "supported"), ("cyclone2010", "explosive_cyclogenesis", "inconclusive"),
        ("henri2021", "tropical_cyclone", "supported"),
        ("mci20160526", "supercell_large_hail", "supported"), ("mci20160526", "no_severe_hazard", "refuted"),
        ("mch20150515", "extreme_short_duration_rain", "supported"),
        ("mch20170131", "extreme_short_duration_rain", "refuted"),
        ("heatdome2021", "heat_wave", "supported"),
        ("superstorm1993", "extratropical_cyclone", "supported"),
        ("kvwx20050626", "tropical_cyclone", "refuted"),
    ]
    vq = ["Does the evidence support {h} for this case?", "After checking the data, is {h} supported, refuted or "
          "still open?", "Verify the {h} hypothesis: what is its status?", "Can {h} be ruled out here?"]
    for k, (case, hz, status) in enumerate(ver):
        extra = ""
        if hz == "explosive_cyclogenesis":
            extra = "; a single analysis time: the 24-h deepening rate cannot be measured from this case's data"
        T.add("verification", f"{case}-{hz}", case, vq[k % len(vq)].format(h=hz.replace("_", " ")), {"hazard": hz},
              label(status, STATUS_SYN[status]), f"{status}: {why(case)}{extra}")

    sounding_tor = ["compute_helicity", "compute_tornado_parameter", "compute_bulk_shear", "compute_sbcape",
                    "compute_mlcape", "compute_supercell_composite", "compute_storm_motion", "summarize_sounding"]
    radar_conv = ["find_max_reflectivity", "detect_rotation", "detect_debris_signature", "compute_composite_reflectivity",
                  "detect_storm_cells", "summarize_radial_velocity"]
    stab = ["compute_sbcape", "compute_mucape", "compute_mlcape", "compute_stability_indices", "compute_lapse_rate",
            "summarize_sounding", "compute_precipitable_water"]
    rain = ["classify_heavy_rain", "compute_accumulation", "compute_rain_rate_stats", "compute_training_index",
            "compute_area_over_threshold", "compute_motion_field", "run_nowcast"]
    synoptic = ["find_pressure_minimum", "find_jet_maxima", "compute_vorticity", "compute_temperature_advection",
                "compute_frontogenesis", "compute_qvector_convergence", "compute_divergence", "compute_deepening_rate"]
    rep = [
        ("may1999", "tornadic_supercell", sounding_tor + radar_conv),
        ("may1999", "supercell_large_hail", ["compute_mucape", "compute_lapse_rate", "compute_freezing_level",
                                             "compute_hail_parameter", "compute_bulk_shear", "estimate_hail_proxy",
                                             "compute_vil", "compute_echo_tops", "find_max_reflectivity"]),
        ("oun20110522", "tornadic_supercell", sounding_tor),
        ("null-jan20", "no_severe_hazard", stab),
        ("null-jan20", "tornadic_supercell", stab + ["compute_helicity", "compute_tornado_parameter", "compute_bulk_shear"]),
        ("null-dec9", "no_severe_hazard", stab),
        ("katrina2005", "tropical_cyclone", ["find_max_reflectivity", "compute_composite_reflectivity",
                                             "summarize_radial_velocity", "detect_storm_cells", "compute_echo_tops",
                                             "describe_case_setting"]),
        ("cyclone2010", "extratropical_cyclone", synoptic),
        ("cyclone2010", "explosive_cyclogenesis", ["compute_deepening_rate", "find_pressure_minimum",
                                                   "compute_vorticity", "find_jet_maxima", "compute_divergence",
                                                   "compute_temperature_advection", "compute_qvector_convergence"]),
        ("henri2021", "tropical_cyclone", ["summarize_wind_probability", "describe_case_setting"]),
        ("mci20160526", "supercell_large_hail", ["get_hail_index", "get_mesocyclones", "get_storm_tracks",
                                                 "summarize_level3_field", "get_tvs_detections"]),
        ("mci20160526", "tornadic_supercell", ["get_mesocyclones", "get_tvs_detections", "get_storm_tracks",
                                               "summarize_level3_field"]),
        ("mch20150515", "extreme_short_duration_rain", rain),
        ("mch20170131", "no_severe_hazard", ["compute_rain_rate_stats", "classify_heavy_rain", "compute_accumulation",
                                             "compute_area_over_threshold"]),
        ("knmi20100826", "extreme_short_duration_rain", rain),
        ("bom20180616", "no_severe_hazard", ["compute_rain_rate_stats", "classify_heavy_rain", "compute_accumulation",
                                             "compute_area_over_threshold"]),
        ("superstorm1993", "extratropical_cyclone", ["find_pressure_minimum_station", "compute_pressure_tendency",
                                                     "find_strongest_winds", "compute_deepening_rate"]),
        ("heatdome2021", "heat_wave", ["locate_fronts", "describe_case_setting"]),
    ]
    for case, hz, tools in rep:
        members = list(dict.fromkeys(tools))
        T.add("replanning", f"{case}-{hz}", case,
              f"After the first loop, which tools would you run next to settle {hz.replace('_', ' ')}?",
              {"hazard": hz, "loop": 1}, {"type": "set", "members": members, "min": min(2, len(members)),
                                          "max": len(members)},
              "meteorological judgement: diagnostics a forecaster would check for this hazard among the tools "
              f"applicable to the case's data roles ({why(case)})")

    chk = [
        ("may1999", ["tornadic_supercell"], ["no_severe_hazard"], ["compute_helicity", "find_max_reflectivity"]),
        ("oun20110522", ["tornadic_supercell"], ["no_severe_hazard"], ["compute_sbcape"]),
        ("null-jan20", ["no_severe_hazard"], ["tornadic_supercell", "large_hail", "damaging_wind"], ["compute_sbcape"]),
        ("null-dec9", ["no_severe_hazard"], ["tornadic_supercell", "large_hail"], ["compute_sbcape"]),
        ("katrina2005", ["tropical_cyclone"], ["no_severe_hazard"], ["find_max_reflectivity"]),
        ("cyclone2010", ["extratropical_cyclone"], ["no_severe_hazard", "tropical_cyclone"], ["find_pressure_minimum"]),
        ("henri2021", ["tropical_cyclone"], ["no_severe_hazard"], ["summarize_wind_probability"]),
        ("mci20160526", ["supercell_large_hail"], ["no_severe_hazard"], ["get_hail_index"]),
        ("mch20150515", ["extreme_short_duration_rain"], ["no_severe_hazard"], ["classify_heavy_rain"]),
        ("mch20170131", ["no_severe_hazard"], ["flash_flood", "extreme_short_duration_rain", "tornadic_supercell"],
         ["compute_rain_rate_stats"]),
        ("kvwx20050626", [], ["tropical_cyclone", "extratropical_cyclone"], ["find_max_reflectivity"]),
        ("heatdome2021", ["heat_wave"], ["no_severe_hazard"], ["locate_fronts"]),
        ("superstorm1993", ["extratropical_cyclone"], ["no_severe_hazard", "tropical_cyclone"],
         ["find_pressure_minimum_station"]),
        ("knmi20100826", [], ["tornadic_supercell", "tropical_cyclone"],
         ["compute_accumulation"]),
        ("bom20180616", ["no_severe_hazard"], ["tornadic_supercell", "tropical_cyclone", "flash_flood"],
         ["compute_rain_rate_stats"]),
        ("fmi", [], ["tropical_cyclone", "tornadic_supercell", "extratropical_cyclone"], ["compute_rain_rate_stats"]),
    ]
    for case, name, notacc, cite in chk:
        T.add("report", case, case, f"Write the diagnosis report for {case}: what happened and on what evidence?", {},
              {"type": "checklist", "must_name": name, "must_not_accept": notacc, "must_cite": cite},
              f"gold hazards: {why(case)}; hazards listed in must_not_accept are contradicted by the data or "
              "cannot be supported by this case's data")
    return T.rows


def validate(rows: list[dict]) -> Counter:
    import yaml

    cases = {yaml.safe_load(p.read_text())["id"] for p in CATALOGUE.glob("*.yaml")}
    ids = [t["id"] for t in rows]
    dup = [k for k, n in Counter(ids).items() if n > 1]
    assert not dup, f"duplicate ids: {dup}"
    counts = Counter(t["category"] for t in rows)
    for c in CATEGORIES:
        assert counts[c] >= 15, f"category {c} has {counts[c]} tasks"
    for t in rows:
        assert t["case"] in cases, f"{t['id']}: unknown case {t['case']}"
        assert set(t) == {"id", "category", "case", "question", "target", "answer", "source"}, t["id"]
        a = t["answer"]
        if a["type"] == "number":
            assert np.isfinite(a["value"]), t["id"]
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    rows = build(data_dir())
    order = {c: i for i, c in enumerate(CATEGORIES)}
    rows.sort(key=lambda t: (order[t["category"]], t["id"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        for t in rows:
            fh.write(json.dumps(t, ensure_ascii=False, sort_keys=False) + "\n")
    # re-read the file and validate what was written
    back = [json.loads(ln) for ln in args.out.read_text().splitlines()]
    counts = validate(back)
    print(f"wrote {len(back)} tasks to {args.out}")
    for c in CATEGORIES:
        print(f"  {c:13s} {counts[c]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
