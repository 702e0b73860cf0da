#!/usr/bin/env python
"""Build the task sets of the atomic-subtask benchmark (``hvrmet/benchmark/data/dev.jsonl`` and ``test.jsonl``).

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

* **Search windows**: the tools search around the case's place (docs/windows.md); every task on
  a windowed tool states its radius (``args.radius``), the whole view (20038 km) where the
  gold is a whole-volume/grid/network extreme, else the radius the gold was computed within
  (gates' ground positions from the 4/3-earth beam model and a WGS84 geodesic, haversine
  distance from the place; see :func:`polar_max_within`).
* **Test split** (:func:`build_test`): the catalogue cases added for the new readers and files
  in no catalogue case (xradar, ``metpy.io.Level2File`` and ``Level3File`` readings); hazard
  tasks from what the place, the season, the public record or the kind of data rule out,
  and from the physics of the data (no echo of 40 dBZ: the null outcome).

The data files are located only under ``HVRMET_DATA_DIR`` (``hvrmet.data.registry`` is not
needed: paths are the ones the catalogue names).

How to run
----------
::

    export HVRMET_DATA_DIR=/path/to/data
    python tools/build_benchmark.py                          # writes hvrmet/benchmark/data/{dev,test}.jsonl
    python tools/build_benchmark.py --split test --out FILE  # one split, elsewhere

The output is deterministic (fixed ordering, no randomness); the script prints the number of
tasks per category and validates each file (JSON per line, unique ids, >= 30 tasks per category
on both splits and >= 400 on dev, every case in the catalogue and of its split, every
windowed task stating its radius, replanning golds naming only tools the case's data allow,
the tasks of one files case describing it alike).
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
CATEGORIES = ("index", "signal", "plot", "abstention", "hypothesis", "verification", "replanning", "report",
              "loop")

# Published WSR-88D site coordinates (NWS/ROC NEXRAD site list); message-1 files carry none.
SITES = {"KTLX": (35.3331, -97.2778), "KLIX": (30.3367, -89.8256), "KVWX": (38.2603, -87.7246),
         "KLBB": (33.6541, -101.8142), "KFTG": (39.7866, -104.5458), "KLTX": (33.9892, -78.4292)}


def data_dir() -> Path:
    d = os.environ.get("HVRMET_DATA_DIR")
    if not d:
        sys.exit("set HVRMET_DATA_DIR to the data folder")
    # MetPy's station table (METAR positions) from the data folder, never downloaded
    os.environ.setdefault("TEST_DATA_DIR", str(Path(d) / "metpy" / "staticdata"))
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


# =========================================================================== search windows
# The tools search a window around the case's place (docs/windows.md): 75 km for radar volumes
# and Level III, 1500 km and 12 h for analyses and station networks. Every task on such a
# tool states its radius (``args.radius``; stations also ``time_window``) and its gold is
# computed over that radius here: each gate's ground position (4/3-earth beam model and a
# WGS84 geodesic from the site), its haversine distance from the place. A maximum counts
# only when it is the same inside the radius minus and plus WINDOW_MARGIN_KM (so the
# tools' own distance approximation cannot change the answer). Tasks about the whole
# volume, grid or network ask with the radius of the whole view.
WHOLE_KM = 20038.0        # half the Earth's circumference: the whole view
STORM_KM = 75.0           # storm-scale default radius (radar volumes, Level III)
SYNOPTIC_KM = 1500.0      # synoptic default radius (analyses, station networks)
ALL_HOURS = 8784.0        # a time window of a year either side: every report
WINDOW_MARGIN_KM = 2.0
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance (km) on a sphere of the mean Earth radius (numpy, broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def polar_gates_latlon(site: tuple[float, float], az, rng_km, el):
    """Ground positions (lat, lon) of a sweep's gates: ``az``/``el`` per ray (degree),
    ``rng_km`` slant range per gate; 4/3-earth beam model and a WGS84 geodesic."""
    from pyproj import Geod

    az = np.asarray(az, float)[:, None] * np.ones((1, len(rng_km)))
    el = np.radians(np.asarray(el, float))[:, None]
    rk = np.asarray(rng_km, float)[None, :]
    re_ = 4.0 / 3.0 * 6371.0
    h = np.sqrt(rk ** 2 + re_ ** 2 + 2 * rk * re_ * np.sin(el)) - re_
    s = re_ * np.arcsin(rk * np.cos(el) / (re_ + h))
    lon, lat, _ = Geod(ellps="WGS84").fwd(np.full(az.size, site[1]), np.full(az.size, site[0]), az.ravel(),
                                          s.ravel() * 1000.0)
    return np.asarray(lat).reshape(az.shape), np.asarray(lon).reshape(az.shape)


def polar_max_within(sweeps: list[tuple], site: tuple[float, float], center: tuple[float, float],
                     radius_km: float) -> dict:
    """The maximum of polar sweeps inside a circle around ``center``.

    ``sweeps``: ``(values[ray, gate], az[ray], range_km[gate], el[ray])``. Returns ``max``
    inside ``radius_km``, its gates ``locs`` ``(lat, lon, az, range, el)``, their
    ``spread_km``, the maxima inside the radius minus and plus :data:`WINDOW_MARGIN_KM` and
    ``stable`` (both equal to ``max``)."""
    best = {"in": -np.inf, "lo": -np.inf, "hi": -np.inf}
    gates: list[tuple] = []
    for d, az, rng, el in sweeps:
        d = np.asarray(d, float)
        if not np.isfinite(d).any():
            continue
        near = np.asarray(rng, float) <= radius_km + WINDOW_MARGIN_KM + 60.0 + haversine_km(
            site[0], site[1], center[0], center[1])  # gates that can lie inside at all
        if not near.any():
            continue
        dd = d[:, near]
        rk = np.asarray(rng, float)[near]
        lat, lon = polar_gates_latlon(site, az, rk, el)
        dist = haversine_km(center[0], center[1], lat, lon)
        for key, rad in (("in", radius_km), ("lo", radius_km - WINDOW_MARGIN_KM),
                         ("hi", radius_km + WINDOW_MARGIN_KM)):
            vals = np.where(dist <= rad, dd, np.nan)
            if np.isfinite(vals).any():
                m = float(np.nanmax(vals))
                if key == "in" and m > best["in"] + 1e-9:
                    gates = []
                if key == "in" and abs(m - max(best["in"], m)) <= 1e-9:
                    for i, j in np.argwhere(vals == m):
                        gates.append((float(lat[i, j]), float(lon[i, j]), float(np.asarray(az)[i]), float(rk[j]),
                                      float(np.asarray(el)[i])))
                best[key] = max(best[key], m)
    spread = max((_dist_km(a[0], a[1], b[0], b[1]) for a in gates for b in gates), default=0.0)
    return {"max": best["in"], "locs": gates, "spread_km": spread, "max_inner": best["lo"], "max_outer": best["hi"],
            "stable": np.isfinite(best["in"]) and best["lo"] == best["in"] == best["hi"]}


def radius_text(radius_km: float) -> str:
    """How a task states its search radius."""
    return "the whole view (radius 20038 km)" if radius_km >= WHOLE_KM else f"{radius_km:g} km"


#: The kind of data each windowed quantity's tool searches (docs/windows.md): a task on one
#: of these states its radius; those without one are about the whole view (:func:`state_windows`).
WINDOW_KIND = {
    **{q: "radar" for q in ("max_reflectivity", "max_rotational_velocity", "debris_signature_flag")},
    **{q: "level3" for q in ("max_value", "max_posh", "max_hail_size", "max_hail_storm_id", "storms_with_posh",
                             "storms_in_table", "mesocyclone_count", "strongest_circulation_id", "strongest_storm_id",
                             "strongest_low_level_rotational_velocity", "strongest_max_rotational_velocity",
                             "storm_count", "fastest_storm_id", "fastest_storm_speed", "mean_motion_speed",
                             "max_vil_storm_id", "tvs_count")},
    **{q: "gridded" for q in ("min_pressure", "max_wind_speed", "max_relative_vorticity", "min_relative_vorticity",
                              "max_absolute_vorticity", "max_divergence", "max_frontogenesis", "max_warm_advection",
                              "max_moistening", "max_anomaly")},
    **{q: "stations" for q in ("max_wind_gust", "max_wind_gust_station", "max_wind_speed_station",
                               "min_pressure_station")},
    **{q: "composite" for q in ("max_rain_rate", "max_accumulation", "max_accumulation_1h", "max_accumulation_3h",
                                "max_accumulation_6h", "max_area", "max_duration", "max_consecutive_duration",
                                "area_30min", "p99_wet_rain_rate", "wet_fraction", "mean_wet_rain_rate")},
}
WHOLE_WORDS = {"radar": "the whole volume", "level3": "the whole product", "gridded": "the whole grid",
               "stations": "every station and every report time", "composite": "the whole composite, every frame"}
#: Kinds whose whole view needs every time as well as the whole area.
ALL_TIMES = ("stations", "composite")


def state_windows(rows: list[dict]) -> list[dict]:
    """Every index and signal task (and every range abstention) on a windowed tool states its
    window: the tasks built without one ask about the whole view, and say so (radius 20038
    km; station networks every report time as well). The tasks computed inside a window set
    their radius where they are built."""
    for t in rows:
        tg = t["target"]
        args = tg.get("args") or {}
        kind = WINDOW_KIND.get(tg.get("quantity"))
        if kind is None or "hazard" in tg or "radius" in args or "lat_min" in args:
            continue
        if t["category"] not in ("index", "signal") and not (t["category"] == "abstention" and "min_range" in args):
            continue
        args = tg.setdefault("args", {})
        args["radius"] = WHOLE_KM
        if kind in ALL_TIMES:
            args["time_window"] = ALL_HOURS
        t["question"] = t["question"].rstrip() + f" (Search radius: {WHOLE_WORDS[kind]}.)"
        t["source"] += f"; over {WHOLE_WORDS[kind]} (the task's radius {WHOLE_KM:g} km" + (
            f", time window {ALL_HOURS:g} h" if kind in ALL_TIMES else "") + ")"
    return rows


def case_place(case: str) -> tuple[float, float]:
    """A catalogue case's place (its ``location``), the centre of the tools' window."""
    import yaml

    loc_ = yaml.safe_load((CATALOGUE / f"{case}.yaml").read_text())["location"]
    return float(loc_["lat"]), float(loc_["lon"])


WINDOW_RADII = (STORM_KM, 50.0, 100.0)  # tried in order: the first whose maximum is stable


def add_windowed_max(T: "Tasks", tid: str, case: str | None, what: str, place: str, summary: dict, src: str, *,
                     quantity: str = "max_reflectivity", args: dict | None = None, units: str = "dBZ",
                     atol: float = 0.5, **extra) -> None:
    """An index task (and a signal task, when the tied gates lie within 10 km of each other)
    on the maximum inside the first of :data:`WINDOW_RADII` around the case's place whose
    maximum is stable (:func:`polar_max_within`); the radius is stated in the task."""
    for rad in WINDOW_RADII:
        w = summary["within"].get(rad)
        if w is not None and w["stable"]:
            break
    else:
        return
    a = {**(args or {}), "radius": rad}
    near = (f"searched within {rad:g} km of the case's place (haversine distance of each gate's ground position, "
            f"4/3-earth beam model and a WGS84 geodesic from the site; the same maximum within {rad - WINDOW_MARGIN_KM:g}"
            f" and {rad + WINDOW_MARGIN_KM:g} km)")
    T.add("index", f"{tid}-r{rad:g}", case, f"What is the highest {what} within {rad:g} km of {place}?",
          {"quantity": quantity, "args": a}, num(w["max"], units, 0.0, atol),
          f"{src}: maximum {w['max']:.2f} {units} ({len(w['locs'])} gate(s)), {near}; the whole view holds "
          f"{summary['max']:.2f} {units}", **extra)
    if w["spread_km"] <= 10.0 and w["locs"]:
        la, lo, az, rg, el = w["locs"][0]
        T.add("signal", f"{tid}-r{rad:g}-location", case, f"Where is the strongest {what} within {rad:g} km of "
              f"{place}?", {"quantity": quantity, "what": "location", "args": a}, loc(la, lo, 15.0),
              f"{src}: maximum {w['max']:.2f} {units} at azimuth {az:.1f} deg, range {rg:.2f} km, elevation "
              f"{el:.2f} deg, {near}", **extra)


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


def level2_summary(path: Path, site: str, center: tuple[float, float] | None = None,
                   radii: tuple[float, ...] = ()) -> dict:
    """The REF maximum of a Level II volume over every sweep and gate (and, with ``center``,
    inside each of ``radii`` km of it: ``within``, see :func:`polar_max_within`)."""
    import logging

    from metpy.io import Level2File

    logging.disable(logging.WARNING)  # MetPy logs out-of-order metadata segments of these files
    f = Level2File(str(path))
    logging.disable(logging.NOTSET)
    gates = []
    first_ref = first_vel = None
    polar: dict[tuple, list] = {}  # (sweep, first gate, gate width, gates) -> [(az, el, data)]
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
            if center is not None:
                polar.setdefault((i, mh.first_gate, mh.gate_width, len(d)), []).append(
                    (float(hdr.az_angle), float(hdr.el_angle), d))
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
    within = {}
    if center is not None:
        sweeps = [(np.stack([x[2] for x in rays]), [x[0] for x in rays],
                   fg + gw * np.arange(n), [x[1] for x in rays]) for (_i, fg, gw, n), rays in polar.items()]
        within = {rad: polar_max_within(sweeps, (lat0, lon0), center, rad) for rad in radii}
    return {"max": vmax, "locs": locs, "spread_km": spread, "volume_time": f.dt, "first_ref": first_ref,
            "first_vel": first_vel, "site": (lat0, lon0), "within": within}


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
      "knmi_hdf5": {"accutime": 5, "qty": "ACRR", "pixelsize": 1000.0}, "bom_rf3": {}, "opera_hdf5": {}}


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


def composite_max_1h(dd: Path, pattern: str, importer: str) -> dict | None:
    """The largest 1-h sum of a composite sequence in mm (sliding windows of frames) and its
    pixel centre (pyproj on the importer's projection metadata); ``None`` for dBZ composites."""
    from pyproj import Proj
    from pysteps.io import get_method

    files = sorted(glob.glob(str(dd / pattern)))
    imp = get_method(importer, "importer")
    frames, md = [], None
    for f in files:
        R, _q, md = imp(f, **KW[importer])
        frames.append(np.asarray(R, float))
    if md["unit"] != "mm":
        return None
    A = np.nan_to_num(np.stack(frames))
    times = [_file_time(f, importer) for f in files]
    step = (times[1] - times[0]).total_seconds() / 60.0
    k = max(1, int(round(60.0 / step)))
    c = np.cumsum(A, axis=0)
    win = c[k - 1:] - np.concatenate([np.zeros_like(c[:1]), c[:-k]], axis=0)
    best = win.max(axis=0)
    vmax = float(best.max())
    idx = np.argwhere(best == vmax)
    proj = Proj(md["projection"])
    ny, nx = best.shape
    pts = []
    for i, j in idx:
        x = md["x1"] + (j + 0.5) * md["xpixelsize"]
        y = (md["y2"] - (i + 0.5) * md["ypixelsize"]) if md.get("yorigin", "upper") == "upper" else \
            (md["y1"] + (i + 0.5) * md["ypixelsize"])
        lo, la = proj(x, y, inverse=True)
        pts.append((la, lo))
    spread = max((_dist_km(a[0], a[1], b[0], b[1]) for a in pts for b in pts), default=0.0)
    return {"max": vmax, "lat": pts[0][0], "lon": pts[0][1], "spread_km": spread, "k": k}


# =========================================================================== task writers
class Tasks:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, category: str, tid: str, case: str | None, question: str, target: dict, answer: dict, source: str,
            **extra) -> None:
        row = {"id": f"{category}-{tid}", "category": category, "case": case, "question": question,
               "target": target, "answer": answer, "source": source}
        if case is None:
            row.pop("case")
        row.update({k: v for k, v in extra.items() if v is not None})
        self.rows.append(row)


def num(value: float, units: str, rtol: float, atol: float) -> dict:
    """A number gold: 3 decimals, or 4 significant digits for small values (vorticity)."""
    v = float(value)
    return {"type": "number", "value": r(v, 3) if v == 0 or abs(v) >= 0.1 else float(f"{v:.4g}"), "units": units,
            "rtol": rtol, "atol": atol}


def loc(lat: float, lon: float, radius: float) -> dict:
    return {"type": "location", "lat": r(lat, 4), "lon": r(lon, 4), "radius_km": radius}


def label(value: str, synonyms: list[str] | None = None) -> dict:
    return {"type": "label", "value": value, "synonyms": synonyms or []}


def ranked(hazard: str, max_rank: int | None = 1, min_rank: int = 1, absent_ok: bool = False) -> dict:
    """A hypothesis at a rank (hypotheses ranked by status, then posterior)."""
    out = {"type": "ranked", "value": hazard, "synonyms": [], "min_rank": min_rank, "max_rank": max_rank}
    if absent_ok:
        out["absent_ok"] = True
    return out


def abstain(*reasons: str) -> dict:
    return {"type": "abstain", "reason": list(reasons)}


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
        s = level2_summary(dd / path, site, case_place(case), WINDOW_RADII)
        rad[case] = s
        add_windowed_max(T, f"{case}-max_reflectivity", case, "reflectivity", f"the case's place ({site})", s,
                         f"independent: metpy.io.Level2File on {path}, REF moment over all sweeps")
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
    for case, hz, rank, _atol, q in hyp:
        T.add("hypothesis", f"{case}-{hz}", case, q, {"hazard": hz},
              ranked(hz, max_rank=rank),
              f"{hz} at rank {'1' if rank == 1 else f'1..{rank}'} (hypotheses ranked by status, then posterior): "
              f"{why(case)}")

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
              {"hazard": hz, "loop": 1}, {"type": "replan", "loop": 1, "members": members, "vocabulary": "tool",
                                          "min": min(2, len(members)), "max": len(members)},
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
    extend_dev(T, dd, why=why, snd=snd, rad=rad, comp=comp, g=g)
    return state_windows(T.rows)


# =========================================================================== wider task sets
# The catalogue's development split (the cases the cards and the expert policy's weights were
# written beside) and everything else, which only the test split uses.
def dev_cases() -> set[str]:
    import yaml

    return set(yaml.safe_load((ROOT / "hvrmet" / "benchmark" / "data" / "events.yaml").read_text())["dev_cases"])


NOT_SUPPORTED = ["inconclusive", "not_assessed", "not proposed", "proposed"]


def not_supported() -> dict:
    """A hazard the data cannot support: refuted, left open, untested or never proposed."""
    return {"type": "label", "value": "refuted", "synonyms": list(NOT_SUPPORTED)}


XRADAR_OPEN = {"odim_h5": "open_odim_datatree", "iris": "open_iris_datatree", "rainbow": "open_rainbow_datatree",
               "cfradial1": "open_cfradial1_datatree", "nexrad_level2": "open_nexradlevel2_datatree"}
REF_NAMES = ("DBZH", "DBZ", "reflectivity", "TH", "DBZ_TOT")
VEL_NAMES = ("VRADH", "VRAD", "VEL", "velocity", "mean_doppler_velocity")


def volume_summary(path: Path, fmt: str, center: tuple[float, float] | None = None,
                   radii: tuple[float, ...] = ()) -> dict:
    """An xradar reading of a radar volume: site, the reflectivity maximum over every PPI sweep
    and its gates (4/3-earth beam model, WGS84 geodesic), and with ``center`` the maximum
    inside each of ``radii`` km of it (``within``: :func:`polar_max_within`); the lowest
    sweep's first ray time, the volume's start (``time_coverage_start``), moments present, the
    largest range."""
    import xradar as xd

    if str(path).endswith((".tar.gz", ".tgz", ".tar")):  # NEXRAD Level II real-time chunks: xradar reads the list
        import tarfile
        import tempfile

        tmp = tempfile.TemporaryDirectory()
        with tarfile.open(path) as tf:
            tf.extractall(tmp.name, filter="data")
        chunks = sorted(str(p) for p in Path(tmp.name).rglob("*") if p.is_file())
        dt = getattr(xd.io, XRADAR_OPEN[fmt])(chunks)
    else:
        dt = getattr(xd.io, XRADAR_OPEN[fmt])(str(path))
    root = dt.ds
    lat0, lon0 = float(root["latitude"].values), float(root["longitude"].values)
    best, gates, lowest, moments, rmax = -np.inf, [], None, set(), 0.0
    sweeps = []
    for name in sorted((k for k in dt.children if k.startswith("sweep")), key=lambda k: int(k.split("_")[1])):
        ds = dt[name].ds
        moments |= set(map(str, ds.data_vars))
        mode = str(ds["sweep_mode"].values) if "sweep_mode" in ds else "azimuth_surveillance"
        if "azimuth" not in mode:
            continue
        ref = next((v for v in REF_NAMES if v in ds), None)
        if ref is None:
            continue
        el = float(ds["sweep_fixed_angle"].values)
        t = np.asarray(ds["time"].values)
        if lowest is None or el < lowest[0]:
            lowest = (el, np.nanmin(t).astype("datetime64[s]").item())
        rng = np.asarray(ds["range"].values, float) / 1000.0
        rmax = max(rmax, float(rng.max()))
        d = np.asarray(ds[ref].values, float)
        if not np.isfinite(d).any():
            continue
        if center is not None:
            sweeps.append((d, np.asarray(ds["azimuth"].values, float), rng,
                           np.asarray(ds["elevation"].values, float) if "elevation" in ds else
                           np.full(d.shape[0], el)))
        m = float(np.nanmax(d))
        if m > best + 1e-9:
            best, gates = m, []
        if abs(m - best) <= 1e-9:
            az = np.asarray(ds["azimuth"].values, float)
            els = np.asarray(ds["elevation"].values, float) if "elevation" in ds else np.full(len(az), el)
            for i, j in np.argwhere(d == m):
                gates.append((float(az[i]), float(rng[j]), float(els[i])))
    locs = []
    for az, rg, el in gates:
        s_, _h = beam_ground_range_km(rg, el)
        locs.append((*geod_fwd(lat0, lon0, az, s_), az, rg, el))
    spread = max((_dist_km(a[0], a[1], b[0], b[1]) for a in locs for b in locs), default=0.0)
    if fmt == "cfradial1" and lowest is not None:
        lowest = (lowest[0], _cfradial_first_ray_time(path, lowest[0]))
    within = {rad: polar_max_within(sweeps, (lat0, lon0), center, rad) for rad in radii} if center else {}
    start = root["time_coverage_start"].values if "time_coverage_start" in root else root.attrs.get(
        "time_coverage_start")
    if start is not None:
        start = np.asarray(start).item() if hasattr(start, "shape") else start
        start = start.decode() if isinstance(start, bytes) else str(start)
    return {"site": (lat0, lon0), "max": best, "locs": locs, "spread_km": spread, "lowest": lowest, "within": within,
            "start": start,
            "moments": sorted(moments),
            "velocity": any(v in moments for v in VEL_NAMES), "rhohv": any(v.startswith("RHOHV") or
                                                                           v == "cross_correlation_ratio"
                                                                           for v in moments),
            "max_range_km": rmax}


def _cfradial_first_ray_time(path: Path, elevation: float) -> datetime:
    """The first ray time of the CfRadial sweep at ``elevation``, read with netCDF4 against the
    file's own time units (xarray drops the clock time of units such as 'seconds since
    2021-09-22 15:00:06 0:00')."""
    import netCDF4

    ds = netCDF4.Dataset(str(path))
    m = re.search(r"since\s+(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)", ds["time"].units)
    base = datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S")
    angles = np.asarray(ds["fixed_angle"][:], float)
    k = int(np.argmin(np.abs(angles - elevation)))
    first = int(ds["sweep_start_ray_index"][k])
    t = base + timedelta(seconds=float(ds["time"][first]))
    ds.close()
    return t


L3_UNITS = {"N0Q": "dBZ", "N0B": "dBZ", "H0Z": "dBZ", "TZ0": "dBZ", "TZ1": "dBZ", "TZ2": "dBZ", "TR0": "dBZ", "TR1": "dBZ",
            "TR2": "dBZ", "TZL": "dBZ", "DHR": "dBZ", "NVL": "kg/m^2", "NET": "kft"}
L3_ROLE = {"N0Q": "level3_base_reflectivity", "N0B": "level3_base_reflectivity", "H0Z": "level3_base_reflectivity", "TZ0": "level3_base_reflectivity",
           "TZ1": "level3_base_reflectivity", "TZ2": "level3_base_reflectivity", "TR0": "level3_base_reflectivity",
           "TR1": "level3_base_reflectivity", "TR2": "level3_base_reflectivity", "TZL": "level3_base_reflectivity",
           "DHR": "level3_hybrid_reflectivity", "NVL": "level3_vil", "NET": "level3_echo_tops"}


def level3_field(path: Path, radii: tuple[float, ...] = ()) -> dict:
    """metpy.io.Level3File: the product's maximum (map_data of its first data packet), the
    radar position and the volume time; for a radial product, the maximum inside each of
    ``radii`` km of the radar (``within``: bins at their centres, ``max_range`` / bins apart
    as MetPy's examples place them, at the product's elevation; :func:`polar_max_within`)."""
    from metpy.io import Level3File

    f = Level3File(str(path))
    packet = f.sym_block[0][0]
    data = np.asarray(f.map_data(packet["data"]), float)
    out = {"max": float(np.nanmax(data)), "lat": float(f.lat), "lon": float(f.lon),
           "time": f.metadata["vol_time"], "product": f.product_name, "within": {}}
    if radii and "start_az" in packet:
        start, end = np.asarray(packet["start_az"], float), np.asarray(packet["end_az"], float)
        az = (start + ((end - start) % 360.0) / 2.0) % 360.0
        step = float(f.max_range) / data.shape[1]
        rng = (np.arange(data.shape[1]) + 0.5) * step
        el = np.full(len(az), float(f.metadata.get("el_angle") or 0.0))
        site = (float(f.lat), float(f.lon))
        out["within"] = {rad: polar_max_within([(data, az, rng, el)], site, site, rad) for rad in radii}
    return out


SND_MORE = OrderedDict([
    ("lcl_height", ("m", 0.05, 50.0, "How high above ground is the surface parcel's LCL on the {st} {tm} UTC sounding?")),
    ("mlcin", ("J/kg", 0.1, 10.0, "What is the 100 hPa mixed-layer CIN of the {st} {tm} UTC sounding?")),
    ("shear_0_3km", ("m/s", 0.05, 1.0, "What is the 0-3 km bulk shear at {st}, {tm} UTC?")),
    ("t500", ("degC", 0.0, 0.5, "What is the 500 hPa temperature over {st} at {tm} UTC?")),
    ("bunkers_right_speed", ("m/s", 0.05, 1.0, "How fast does a Bunkers right-moving supercell move on the {st} {tm} "
                                               "UTC hodograph?")),
])


def sounding_more(path: Path) -> dict[str, float]:
    """More MetPy quantities on the same reading as :func:`sounding_indices`."""
    import metpy.calc as mpcalc
    from metpy.units import units

    df = read_uwyo(path)
    p_all, t_all, td_all, z_all = (df[c].to_numpy(float) for c in ("pressure", "temperature", "dewpoint", "height"))
    ok = np.isfinite(p_all) & np.isfinite(t_all) & np.isfinite(z_all) & np.isfinite(td_all)
    _, uniq = np.unique(-p_all[ok], return_index=True)
    sel = np.flatnonzero(ok)[np.sort(uniq)]
    p, t, td, z = p_all[sel], t_all[sel], td_all[sel], z_all[sel]
    out = {}
    lcl_p, _ = mpcalc.lcl(p[0] * units.hPa, t[0] * units.degC, td[0] * units.degC)
    out["lcl_height"] = float(np.interp(np.log(lcl_p.m_as("hPa")), np.log(p[::-1]), (z - z[0])[::-1]))
    _, mlcin = mpcalc.mixed_layer_cape_cin(p * units.hPa, t * units.degC, td * units.degC, depth=100 * units.hPa)
    out["mlcin"] = mlcin.m_as("J/kg")
    okt = np.isfinite(p_all) & np.isfinite(t_all)
    _, ut = np.unique(-p_all[okt], return_index=True)
    st_ = np.flatnonzero(okt)[np.sort(ut)]
    out["t500"] = float(np.interp(np.log(500.0), np.log(p_all[st_][::-1]), t_all[st_][::-1]))
    if len(sel) < len(st_) - 2:  # dew points stop well below the top: CIN of a truncated profile is not graded
        out.pop("mlcin")
    wd, ws = df["direction"].to_numpy(float), df["speed"].to_numpy(float)
    okw = np.isfinite(p_all) & np.isfinite(wd) & np.isfinite(ws) & np.isfinite(z_all)
    _, uw = np.unique(-p_all[okw], return_index=True)
    sw = np.flatnonzero(okw)[np.sort(uw)]
    u, v = mpcalc.wind_components(ws[sw] * units.knot, wd[sw] * units.degree)
    u, v = u.to("m/s"), v.to("m/s")
    pw, zw = p_all[sw] * units.hPa, (z_all[sw] - z_all[np.isfinite(z_all)][0]) * units.m
    su, sv = mpcalc.bulk_shear(pw, u, v, height=zw, depth=3 * units.km)
    out["shear_0_3km"] = float(np.hypot(su, sv).m_as("m/s"))
    rm, _lm, _mean = mpcalc.bunkers_storm_motion(pw, u, v, zw)
    out["bunkers_right_speed"] = float(np.hypot(rm[0], rm[1]).m_as("m/s"))
    return out


def extend_dev(T: "Tasks", dd: Path, *, why, snd, rad, comp, g) -> None:
    """The development set's wider tasks: more indices, Level III fields, more signals and
    plots, abstentions, single-data-type cases, loop tasks."""
    import pandas as pd

    # ------------------------------------------------------------------ more sounding indices
    for case, meta in SOUNDINGS.items():
        vals = sounding_more(dd / meta["file"])
        for q, (units, rtol, atol, question) in SND_MORE.items():
            if q not in vals:
                continue
            T.add("index", f"{case}-{q}", case, question.format(st=meta["station"], tm=meta["time"].replace("T", " ")),
                  {"quantity": q, "args": {}}, num(vals[q], units, rtol, atol),
                  SRC_SOUNDING.format(file=meta["file"], fn={"lcl_height": "lcl (height log-p interpolated)",
                                                             "mlcin": "mixed_layer_cape_cin", "shear_0_3km": "bulk_shear",
                                                             "t500": "(log-p interpolated T at 500 hPa)",
                                                             "bunkers_right_speed": "bunkers_storm_motion"}[q],
                                      val=vals[q], units=units))
    # ------------------------------------------------------------------ KFTG (dual-pol Level II)
    s = level2_summary(dd / "metpy/staticdata/Level2_KFTG_20150430_1419.ar2v", "KFTG", case_place("kftg20150430"),
                       WINDOW_RADII)
    add_windowed_max(T, "kftg20150430-max_reflectivity", "kftg20150430", "reflectivity", "the case's place (KFTG)", s,
                     "independent: metpy.io.Level2File on Level2_KFTG_20150430_1419.ar2v, REF over all sweeps")
    T.add("index", "kftg20150430-max_reflectivity", "kftg20150430",
          "What is the highest reflectivity in the Denver (KFTG) volume of 30 April 2015?",
          {"quantity": "max_reflectivity", "args": {}}, num(s["max"], "dBZ", 0.0, 0.5),
          f"independent: metpy.io.Level2File on Level2_KFTG_20150430_1419.ar2v, maximum of REF over all sweeps "
          f"({s['max']:.1f} dBZ)")
    if s["spread_km"] <= 10.0:
        la, lo, az, rng, el, sw = s["locs"][0]
        T.add("signal", "kftg20150430-max_reflectivity-location", "kftg20150430",
              "Where is the strongest echo of the KFTG volume?", {"quantity": "max_reflectivity", "what": "location"},
              loc(la, lo, 15.0), f"independent: Level2File REF maximum at azimuth {az:.1f} deg, slant range {rng:.2f} km, "
              f"elevation {el:.2f} deg; 4/3-earth beam model and a geodesic from KFTG (NEXRAD site list)")
    lat0, lon0 = s["site"]
    i, t_ref, el_ref = s["first_ref"]
    T.add("plot", "kftg20150430-radar_ppi-reflectivity", "kftg20150430", "Show the lowest-tilt KFTG reflectivity PPI.",
          {"kind": "radar_ppi", "args": {"field": "reflectivity"}},
          {"type": "figure", "kind": "radar_ppi", "variables": ["reflectivity"], "units": "dBZ",
           "valid_time": t_ref.strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
          f"independent: Level2File first ray time of the lowest sweep with REF (sweep {i}, {el_ref:.2f} deg)")
    T.add("plot", "kftg20150430-composite_reflectivity", "kftg20150430", "Composite reflectivity map of the KFTG volume.",
          {"kind": "composite_reflectivity", "args": {}},
          {"type": "figure", "kind": "composite_reflectivity", "units": "dBZ",
           "valid_time": s["volume_time"].strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
          "independent: Level2File volume start time; the map must contain the radar site")

    # ------------------------------------------------------------------ Level III fields of the mci case
    for code, fname in (("NVL", "Level3_MCI_NVL_20160526_2154.nids"), ("NET", "Level3_MCI_NET_20160526_2154.nids"),
                        ("TZL", "Level3_MCI_TZL_20160526_2154.nids"), ("DHR", "Level3_MCI_DHR_20160526_2154.nids")):
        f3 = level3_field(dd / "metpy/staticdata/nids" / fname)
        role = L3_ROLE[code]
        T.add("index", f"mci20160526-max_value-{code}", "mci20160526",
              f"What is the maximum of the TMCI {f3['product']} product at 21:54 UTC?",
              {"quantity": "max_value", "args": {"role": role}}, num(f3["max"], L3_UNITS[code], 0.0, 0.6),
              f"radar's own product: metpy.io.Level3File {fname}, maximum of map_data over the first data packet "
              f"({f3['max']:.2f} {L3_UNITS[code]})")

    # ------------------------------------------------------------------ surface stations
    sfc = pd.read_csv(dd / "metpy/staticdata/SFC_obs.csv")
    t_case = pd.Timestamp("1993-03-13T12:00")
    inside = haversine_km(*case_place("superstorm1993"), sfc["lat"].to_numpy(float), sfc["lon"].to_numpy(float)) <= \
        SYNOPTIC_KM
    in_time = (abs(pd.to_datetime(sfc["valid"]) - t_case) <= pd.Timedelta(hours=12)).to_numpy()
    # reports outside the time window count only when none is inside it (the documented rule)
    near = sfc[inside & in_time] if (inside & in_time).any() else sfc[inside]
    near = near.dropna(subset=["mslp"])
    row = near.loc[near["mslp"].idxmin()]
    stn = {"radius": SYNOPTIC_KM, "time_window": 12.0, "qc": False}
    T.add("signal", "superstorm1993-min_pressure_station", "superstorm1993",
          "Which station within 1500 km of the case's place reported the lowest sea-level pressure (reports within "
          "12 h of the case's time, or every time when none is; every report as given, no quality control)?",
          {"quantity": "min_pressure_station", "what": "label", "args": stn},
          label(str(row["station"])), f"independent: pandas.read_csv SFC_obs.csv, min of mslp = {row['mslp']:.1f} hPa "
          f"at {row['station']} {row['valid']}, among the reports within 1500 km of the case's place"
          + (" and 12 h of its time" if (inside & in_time).any() else " (none lies within 12 h of the case's time, so "
             "every time counts)") + " (the station window documented in hvrmet/tools/surface.py and docs/windows.md; "
          "haversine distance); every report counts as given (the task asks for no quality control)")
    T.add("signal", "superstorm1993-min_pressure_station-location", "superstorm1993",
          "Where was the lowest sea-level pressure reported within 1500 km of the case's place (reports within 12 h "
          "of its time, or every time when none is; every report as given, no quality control)?",
          {"quantity": "min_pressure_station", "what": "location", "args": stn},
          loc(row["lat"], row["lon"], 5.0), f"independent: SFC_obs.csv position of station {row['station']}")
    # (no METAR tasks: without a station table offline the documented station window cannot be applied)

    # ------------------------------------------------------------------ GFS vorticity maxima
    import netCDF4
    import metpy.calc as mpcalc
    from metpy.units import units as U

    ds = netCDF4.Dataset(str(dd / "metpy/staticdata/GFS_test.nc"))
    lat = np.asarray(ds["lat"][:], float)
    lon = np.asarray(ds["lon"][:], float)
    lon = np.where(lon > 180, lon - 360, lon)
    lev = np.asarray(ds["isobaric3"][:], float) / 100.0
    for L in (500, 700, 850):
        k = int(np.argmin(np.abs(lev - L)))
        u = np.asarray(ds["u-component_of_wind_isobaric"][0, k], float) * U("m/s")
        v = np.asarray(ds["v-component_of_wind_isobaric"][0, k], float) * U("m/s")
        dx, dy = mpcalc.lat_lon_grid_deltas(lon, lat)
        vor = mpcalc.vorticity(u, v, dx=dx, dy=dy[:], latitude=lat[:, None] * U.degree).m_as("1/s")
        vor[[0, -1], :] = np.nan
        vor[:, [0, -1]] = np.nan
        a, b = np.unravel_index(np.nanargmax(vor), vor.shape)
        near = np.argwhere(vor >= 0.9 * vor[a, b])
        spread = max(_dist_km(lat[a], lon[b], lat[x], lon[y]) for x, y in near)
        if spread <= 400:
            T.add("signal", f"cyclone2010-max_relative_vorticity-{L}-location", "cyclone2010",
                  f"Where is the strongest cyclonic relative vorticity at {L} hPa?",
                  {"quantity": "max_relative_vorticity", "what": "location", "args": {"level": L}},
                  loc(lat[a], lon[b], max(150.0, round(spread + 100.0))),
                  f"independent: netCDF4 + metpy.calc.vorticity on GFS_test.nc {L} hPa (border rows left out); "
                  f"maximum {vor[a, b]:.2e} 1/s at {lat[a]:.1f} N {lon[b]:.1f} E; radius covers points within 10 % "
                  f"of it ({spread:.0f} km)")
        if L == 500:
            av = mpcalc.absolute_vorticity(u, v, dx=dx, dy=dy, latitude=lat[:, None] * U.degree).m_as("1/s")
            av[[0, -1], :] = np.nan
            av[:, [0, -1]] = np.nan
            e_, f_ = np.unravel_index(np.nanargmax(av), av.shape)
            near = np.argwhere(av >= 0.95 * av[e_, f_])
            spread_abs = max(_dist_km(lat[e_], lon[f_], lat[x], lon[y]) for x, y in near)
            if spread_abs <= 400:
                T.add("signal", "cyclone2010-max_absolute_vorticity-500-location", "cyclone2010",
                      "Where is the 500 hPa absolute vorticity maximum?",
                      {"quantity": "max_absolute_vorticity", "what": "location", "args": {"level": 500}},
                      loc(lat[e_], lon[f_], max(150.0, round(spread_abs + 100.0))),
                      f"independent: metpy.calc.absolute_vorticity on GFS_test.nc 500 hPa (border rows left out); "
                      f"maximum {av[e_, f_]:.2e} 1/s at {lat[e_]:.1f} N {lon[f_]:.1f} E; radius covers points within "
                      f"5 % of it ({spread_abs:.0f} km)")
        c_, d_ = np.unravel_index(np.nanargmin(vor), vor.shape)
        near = np.argwhere(vor <= 0.9 * vor[c_, d_])
        spread_min = max(_dist_km(lat[c_], lon[d_], lat[x], lon[y]) for x, y in near)
        if spread_min <= 400:
            T.add("signal", f"cyclone2010-min_relative_vorticity-{L}-location", "cyclone2010",
                  f"Where is the strongest anticyclonic relative vorticity at {L} hPa?",
                  {"quantity": "min_relative_vorticity", "what": "location", "args": {"level": L}},
                  loc(lat[c_], lon[d_], max(150.0, round(spread_min + 100.0))),
                  f"independent: netCDF4 + metpy.calc.vorticity on GFS_test.nc {L} hPa (border rows left out); "
                  f"minimum {vor[c_, d_]:.2e} 1/s at {lat[c_]:.1f} N {lon[d_]:.1f} E; radius covers points within "
                  f"10 % of it ({spread_min:.0f} km)")
        T.add("index", f"cyclone2010-max_relative_vorticity-{L}", "cyclone2010",
              f"What is the maximum relative vorticity at {L} hPa in the analysis?",
              {"quantity": "max_relative_vorticity", "args": {"level": L}}, num(float(vor[a, b]), "1/s", 0.1, 0.0),
              "independent: netCDF4 + metpy.calc.vorticity on GFS_test.nc (border rows left out); rtol 10 % for "
              "the differencing scheme")
    ds.close()


    # ------------------------------------------------------------------ more signals: composites, divergence, VIL
    for case in ("mch20150515", "mch20170131", "knmi20100826", "bom20180616"):
        pattern, importer, _c, place = COMPOSITES[case]
        m = composite_max_1h(dd, pattern, importer)
        if m and m["spread_km"] <= 10.0:
            T.add("signal", f"{case}-max_accumulation_1h-location", case,
                  f"Where does the composite sequence near {place} hold its largest 1-hour rain total?",
                  {"quantity": "max_accumulation_1h", "what": "location"}, loc(m["lat"], m["lon"], 10.0),
                  f"independent: pysteps importer {importer}; sliding 1-h sums of the frames ({m['k']} frames), the "
                  f"pixel of the largest ({m['max']:.1f} mm) located with pyproj from the importer's projection "
                  "metadata (pixel centre)")
    ds = netCDF4.Dataset(str(dd / "metpy/staticdata/GFS_test.nc"))
    for L in (250, 300):
        k = int(np.argmin(np.abs(lev - L)))
        u = np.asarray(ds["u-component_of_wind_isobaric"][0, k], float) * U("m/s")
        v = np.asarray(ds["v-component_of_wind_isobaric"][0, k], float) * U("m/s")
        dx, dy = mpcalc.lat_lon_grid_deltas(lon, lat)
        div = mpcalc.divergence(u, v, dx=dx, dy=dy).m_as("1/s")
        div[[0, -1], :] = np.nan
        div[:, [0, -1]] = np.nan
        a, b = np.unravel_index(np.nanargmax(div), div.shape)
        near = np.argwhere(div >= 0.9 * div[a, b])
        spread = max(_dist_km(lat[a], lon[b], lat[x], lon[y]) for x, y in near)
        T.add("index", f"cyclone2010-max_divergence-{L}", "cyclone2010",
              f"What is the strongest divergence at {L} hPa in the analysis?",
              {"quantity": "max_divergence", "args": {"level": L}}, num(float(div[a, b]), "1/s", 0.1, 0.0),
              "independent: netCDF4 + metpy.calc.divergence on GFS_test.nc (border rows left out); rtol 10 %")
        if spread <= 400:
            T.add("signal", f"cyclone2010-max_divergence-{L}-location", "cyclone2010",
                  f"Where is the strongest upper-level divergence at {L} hPa?",
                  {"quantity": "max_divergence", "what": "location", "args": {"level": L}},
                  loc(lat[a], lon[b], max(150.0, round(spread + 100.0))),
                  f"independent: metpy.calc.divergence on GFS_test.nc {L} hPa, maximum at {lat[a]:.1f} N "
                  f"{lon[b]:.1f} E; radius covers points within 10 % of it ({spread:.0f} km)")
    ds.close()
    from metpy.io import Level3File as _L3

    ncr = _L3(str(dd / "metpy/staticdata/nids/Level3_MCI_NCR_20160526_2154.nids"))
    vil_rows = []
    for page in ncr.graph_pages:
        for item in page:
            mm = re.match(r"^\s+([A-Z]\d)\s+(\d+)/\s*(\d+)\s+(\S+)\s+(\S+)\s+(\d+)/\s*(\d+)/\s*(<?[\d.]+)\s+(\d+)\s+(\d+)",
                          item.get("text", ""))
            if mm:
                vil_rows.append((mm.group(1), float(mm.group(9))))
    top = max(v for _, v in vil_rows)
    ids = [i for i, v in vil_rows if v == top]
    if len(ids) == 1:
        T.add("signal", "mci20160526-max_vil_storm_id", "mci20160526", "Which storm has the highest cell VIL in the "
              "TMCI storm table?", {"quantity": "max_vil_storm_id", "what": "label"}, label(ids[0]),
              f"radar's own product: NCR storm-attributes table, largest VIL {top:.0f} kg/m2 (storm {ids[0]})")
    if s["first_vel"] is not None:
        i, t_vel, el_vel = s["first_vel"]
        T.add("plot", "kftg20150430-radar_ppi-velocity", "kftg20150430", "Plot the KFTG low-level radial velocity.",
              {"kind": "radar_ppi", "args": {"field": "velocity"}},
              {"type": "figure", "kind": "radar_ppi", "variables": ["velocity"], "units": "m/s",
               "valid_time": t_vel.strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
              f"independent: Level2File first ray time of the lowest sweep with VEL (sweep {i}, {el_vel:.2f} deg)")
    for case, q, args, reasons, why_not in (
            ("kftg20150430", "max_accumulation", {}, ["missing_variable"], "a Level II volume only: no composite"),
            ("mrms20190610", "max_reflectivity", {}, ["missing_variable"], "a rain-rate mosaic only: no radar volume"),
            ("fmi20170509", "sbcape", {}, ["missing_variable"], "a radar composite only: no sounding"),
            ("goes20151208", "mesocyclone_count", {}, ["missing_variable"], "a satellite image only"),
            ("heatdome2021", "sbcape", {}, ["missing_variable"], "a WPC front analysis only: no sounding"),
            ("era5uk201903", "max_divergence", {}, ["missing_variable"], "2 m temperature only: no winds"),
            ("gfs20210130", "max_divergence", {}, ["missing_variable"], "GFS_global.nc: 300 hPa height and temperature only, no winds")):
        T.add("abstention", f"{case}-{q}", case, f"What is {q.replace('_', ' ')} for this case? Say so if the data "
              "cannot give it, and why.", {"quantity": q, "args": args}, abstain(*reasons),
              f"independent reading of the case's files: {why_not}")

    # ------------------------------------------------------------------ more plots
    import netCDF4 as nc4

    gg = nc4.Dataset(str(dd / "metpy/staticdata/GFS_global.nc"))
    tv = [v for v in gg.variables if v.startswith("time")][0]
    t0 = nc4.num2date(gg[tv][:], gg[tv].units)[0]
    gg.close()
    T.add("plot", "gfs20210130-field_map-geopotential_height", "gfs20210130", "Map the 300 hPa heights of the GFS analysis.",
          {"kind": "field_map", "args": {"variable": "geopotential_height", "level": 300}},
          {"type": "figure", "kind": "field_map", "units": "dam", "valid_time": f"{t0:%Y-%m-%dT%H:%M}",
           "contains": [40.0, -80.0]},
          f"independent: netCDF4 on GFS_global.nc (one level, isobaric6 = 300 hPa), first time {t0:%Y-%m-%d %H:%M}; "
          "display units as the plot tool documents")
    T.add("abstention", "gfs20210130-max_anomaly-500", "gfs20210130",
          "What is the largest 500 hPa height anomaly against the January climatology? Say so if the data cannot "
          "give it, and why.", {"quantity": "max_anomaly", "args": {"level": 500}}, abstain("missing_layer"),
          "independent: netCDF4 on GFS_global.nc: its only pressure level is 300 hPa (isobaric6), so no 500 hPa field")
    for case, pattern, importer, (cla, clo), place in (
            ("fmi20170509", "pysteps-data/radar/fmi/pgm/20170509/*.pgm.gz", "fmi_pgm", (60.17, 24.94), "Helsinki"),):
        c = composite_summary(dd, pattern, importer)
        T.add("plot", f"{case}-composite_sequence", case,
              f"Show the radar composite sequence as a panel plot (the map should include {place}).",
              {"kind": "composite_sequence", "args": {}},
              {"type": "figure", "kind": "composite_sequence", "units": c["fig_units"], "valid_time": c["first"],
               "contains": [cla, clo]},
              f"independent: pysteps importer {importer}, first frame time from the file name ({c['first']})")

    # ------------------------------------------------------------------ abstention (the data cannot answer)
    AB = [
        ("may1999", "debris_signature_flag", {}, ["missing_variable"],
         "KTLX 1999 is a legacy message-1 volume (REF/VEL/SW, Level2File): no correlation coefficient"),
        ("katrina2005", "debris_signature_flag", {}, ["missing_variable"], "KLIX 2005 message-1 volume: no dual-pol"),
        ("kvwx20050626", "debris_signature_flag", {}, ["missing_variable"], "KVWX 2005 message-1 volume: no dual-pol"),
        ("katrina2005", "sbcape", {}, ["missing_variable"], "the case holds only a radar volume: no sounding"),
        ("kvwx20050626", "shear_0_6km", {}, ["missing_variable"], "the case holds only a radar volume: no sounding"),
        ("klbb20160601", "mlcape", {}, ["missing_variable"], "the case holds only a radar volume: no sounding"),
        ("kftg20150430", "srh_0_1km", {}, ["missing_variable"], "the case holds only a radar volume: no sounding"),
        ("mci20160526", "sbcape", {}, ["missing_variable"], "Level III products only: no sounding"),
        ("era5uk201903", "max_relative_vorticity", {}, ["missing_variable"],
         "the ERA5 GRIB holds only 2 m temperature (no winds)"),
        ("era5uk201903", "max_frontogenesis", {}, ["missing_variable"], "2 m temperature only: no winds aloft"),
        ("era5uk201903", "min_pressure", {}, ["missing_variable"], "2 m temperature only: no sea-level pressure"),
        ("era5uk201903", "max_wind_speed", {"level": 250}, ["missing_variable", "missing_layer"],
         "2 m temperature only: no winds, no pressure levels"),
        ("gfs20210130", "max_warm_advection", {}, ["missing_variable"],
         "GFS_global.nc holds 300 hPa height and temperature only (no winds)"),
        ("gfs20210130", "max_relative_vorticity", {}, ["missing_variable"], "GFS_global.nc: 300 hPa height and temperature only, no winds"),
        ("gfs20210130", "max_moistening", {}, ["missing_variable"], "GFS_global.nc: no humidity, no winds"),
        ("cyclone2010", "deepening_rate", {}, ["missing_time"], "GFS_test.nc holds one analysis time"),
        ("cyclone2010", "min_pressure", {"lat_min": -40, "lat_max": -10, "lon_min": 120, "lon_max": 150},
         ["out_of_domain"], "GFS_test.nc covers North America; the box lies over Australia"),
        ("cyclone2010", "max_wind_speed", {"level": 250, "lat_min": -40, "lat_max": -10, "lon_min": 120,
                                           "lon_max": 150}, ["out_of_domain"], "the box lies outside the grid"),
        ("cyclone2010", "max_relative_vorticity", {"lat_min": -40, "lat_max": -10, "lon_min": 120, "lon_max": 150},
         ["out_of_domain"], "the box lies outside the grid"),
        ("may1999", "max_reflectivity", {"min_range": 400}, ["out_of_domain"],
         "KTLX legacy gates end near 460 km for REF at 1 km spacing? no: checked below against the volume"),
        ("null-dec9", "dcape", {}, ["missing_variable", "missing_layer"],
         "dec9_sounding.txt has no dew point above 606 hPa: the lowest 400 hPa lack moisture"),
        ("katrina2005", "max_accumulation", {}, ["missing_variable"], "a radar volume, no composite sequence"),
        ("may1999", "max_rain_rate", {}, ["missing_variable"], "no composite sequence in the case"),
        ("mch20150515", "max_reflectivity", {}, ["missing_variable"], "composites only: no radar volume"),
        ("mch20170131", "mesocyclone_count", {}, ["missing_variable"], "composites only: no Level III"),
        ("kftg20150430", "mesocyclone_count", {}, ["missing_variable"], "a Level II volume, no NMD product"),
        ("henri2021", "sbcape", {}, ["missing_variable"], "NHC wind probabilities only"),
        ("heatdome2021", "min_pressure", {}, ["missing_variable"], "a WPC front analysis only: no gridded pressure"),
        ("superstorm1993", "max_reflectivity", {}, ["missing_variable"], "station observations only: no radar"),
        ("bom20180616", "max_wind_speed", {"level": 250}, ["missing_variable"], "a rain composite only"),
        ("knmi20100826", "shear_0_6km", {}, ["missing_variable"], "a rain composite only: no sounding"),
        ("goes20151208", "max_reflectivity", {}, ["missing_variable"], "a satellite image only"),
        ("metar20190701", "srh_0_1km", {}, ["missing_variable"], "surface METARs only"),
        ("fmi", "mucape", {}, ["missing_variable"], "a radar composite only"),
    ]
    # radar range: out of domain only where the volume's gates truly end before min_range
    ktlx_range = None
    try:
        from metpy.io import Level2File
        import logging

        logging.disable(logging.WARNING)
        f2 = Level2File(str(dd / "metpy/staticdata/KTLX19990503_235621.gz"))
        logging.disable(logging.NOTSET)
        ktlx_range = max(ray[-1][k][0].first_gate + ray[-1][k][0].gate_width * (len(ray[-1][k][1]) - 1)
                         for sw in f2.sweeps for ray in sw[:1] for k in ray[-1] if (k.decode() if isinstance(k, bytes) else k) == "REF")
    except Exception:  # noqa: BLE001
        ktlx_range = None
    for case, q, args, reasons, why_not in AB:
        if q == "max_reflectivity" and case == "may1999":
            if ktlx_range is None or ktlx_range >= args["min_range"]:
                continue
            why_not = f"KTLX 1999 REF gates end at {ktlx_range:.0f} km (Level2File): nothing beyond {args['min_range']} km"
        tid = f"{case}-{q}" + ("-box" if "lat_min" in args else "") + ("-range" if "min_range" in args else "")
        T.add("abstention", tid, case,
              f"What is {q.replace('_', ' ')} for this case" + (" inside the given box" if "lat_min" in args else "")
              + "? Say so if the data cannot give it, and why.", {"quantity": q, "args": args}, abstain(*reasons),
              f"independent reading of the case's files: {why_not}")
    # the diagnosis records it too
    for case, hz, q, reasons, why_not in (
            ("cyclone2010", "explosive_cyclogenesis", "deepening_rate", ["missing_time"], "one analysis time"),
            ("null-dec9", "damaging_wind", "dcape", ["missing_variable", "missing_layer"],
             "no dew point above 606 hPa (the file)")):
        T.add("abstention", f"{case}-{hz}-{q}", case,
              f"While checking {hz.replace('_', ' ')}, could {q.replace('_', ' ')} be computed? If not, why?",
              {"hazard": hz, "quantity": q}, abstain(*reasons),
              f"independent reading of the case's files: {why_not}; the diagnosis must record 'not computable' with why")

    # ------------------------------------------------------------------ single-data-type cases and more hazards
    SUB = {"may1999-snd": ("may1999", ["sounding"]), "may1999-rad": ("may1999", ["radar_volume"]),
           "mci-ncr": ("mci20160526", ["level3_composite_reflectivity"]),
           "mci-nmd": ("mci20160526", ["level3_mesocyclone", "level3_storm_tracks"]),
           "superstorm-sfc": ("superstorm1993", ["surface_obs"])}
    recs = {"may1999-snd": why("may1999") + "; the sounding alone (MetPy: large CAPE, SRH and STP)",
            "may1999-rad": why("may1999") + "; the KTLX volume alone",
            "mci-ncr": why("mci20160526") + "; the NCR storm-attributes table alone (POSH, hail size)",
            "mci-nmd": why("mci20160526") + "; the NMD and NST products alone",
            "superstorm-sfc": why("superstorm1993") + "; the surface reports alone"}

    def add(cat, tid, key, q, target, answer, src):
        if key in SUB:
            case, roles = SUB[key]
            T.add(cat, tid, case, q, target, answer, src, roles=roles)
        else:
            T.add(cat, tid, key, q, target, answer, src)

    def rec(key):
        return recs.get(key) or why(key)

    extra_rec = {
        "kftg20150430": "catalogue events 'none' (MetPy test data: no notable event recorded)",
        "klbb20160601": f"catalogue events (thunderstorm; the volume itself reaches {rad['klbb20160601']['max']:.1f} dBZ "
                        "by Level2File); NHC archive: no tropical cyclone over west Texas on 1 June 2016",
        "mrms20190610": "catalogue events (heavy rain: the MRMS PrecipRate product itself, peak 145 mm/h)",
        "fmi20170509": "catalogue events (heavy rain: the FMI composite itself, maximum 51 dBZ); NHC archive: no "
                       "tropical cyclone over Finland",
        "goes20151208": "physics: a December water-vapour image of the Pacific Northwest (no warm-season hazard)",
        "era5uk201903": "physics: March 2 m temperatures over the UK (no heat wave)",
        "metar20190701": "physics: routine METARs",
    }
    recs.update(extra_rec)
    hyp2 = [
        ("may1999-snd", "tornadic_supercell", dict(max_rank=1), "Given only the Norman sounding of 4 May 1999 00 UTC, what leads?"),
        ("may1999-rad", "tornadic_supercell", dict(max_rank=2), "Given only the KTLX volume, is a tornadic supercell among the top two?"),
        ("mci-ncr", "supercell_large_hail", dict(max_rank=2), "From the storm-attributes table alone, is large hail among the top two?"),
        ("superstorm-sfc", "extratropical_cyclone", dict(max_rank=1), "From the surface reports alone, what leads?"),
        ("mrms20190610", "extreme_short_duration_rain", dict(max_rank=2), "Does the MRMS rain-rate sequence put extreme short-duration rain in the top two?"),
        ("null-jan20", "tornadic_supercell", dict(min_rank=2, max_rank=None, absent_ok=True), "Should a tornado lead for the Norman sounding of 20 January 2013?"),
        ("null-dec9", "tornadic_supercell", dict(min_rank=2, max_rank=None, absent_ok=True), "Should a tornado lead for Boise, 9 December 2010?"),
        ("mch20170131", "extreme_short_duration_rain", dict(min_rank=2, max_rank=None, absent_ok=True), "Should extreme rain lead on 31 January 2017?"),
        ("bom20180616", "tornadic_supercell", dict(min_rank=2, max_rank=None, absent_ok=True), "Should a tornado lead for Melbourne's winter rain?"),
        ("heatdome2021", "winter_storm", dict(min_rank=2, max_rank=None, absent_ok=True), "Should a winter storm lead on 28 June 2021?"),
        ("katrina2005", "no_severe_hazard", dict(min_rank=2, max_rank=None, absent_ok=True), "Should 'no severe hazard' lead for Katrina's landfall volume?"),
        ("may1999", "no_severe_hazard", dict(min_rank=2, max_rank=None, absent_ok=True), "Should 'no severe hazard' lead on 3 May 1999?"),
        ("cyclone2010", "tropical_cyclone", dict(min_rank=2, max_rank=None, absent_ok=True), "Should a tropical cyclone lead for the October 2010 Minnesota low?"),
        ("kftg20150430", "tornadic_supercell", dict(min_rank=2, max_rank=None, absent_ok=True), "Should a tornado lead for the Denver volume of 30 April 2015?"),
        ("superstorm1993", "tropical_cyclone", dict(min_rank=2, max_rank=None, absent_ok=True), "Should a tropical cyclone lead for March 1993?"),
        ("mci20160526", "no_severe_hazard", dict(min_rank=2, max_rank=None, absent_ok=True), "Should 'no severe hazard' lead for the Kansas City products?"),
        ("oun20110522", "no_severe_hazard", dict(min_rank=2, max_rank=None, absent_ok=True), "Should 'no severe hazard' lead on 22 May 2011?"),
        ("henri2021", "no_severe_hazard", dict(min_rank=2, max_rank=None, absent_ok=True), "Should 'no severe hazard' lead given Henri's wind probabilities?"),
        ("may1999", "tornadic_supercell", dict(max_rank=1, loop=1), "After the first loop, what leads for 3 May 1999?"),
        ("null-jan20", "no_severe_hazard", dict(max_rank=1, loop=1), "After the first loop, what leads for 20 January 2013?"),
    ]
    for key, hz, kw, q in hyp2:
        loop_ = kw.pop("loop", None)
        target = {"hazard": hz} | ({"loop": loop_} if loop_ else {})
        add("hypothesis", f"{key}-{hz}" + ("-rank" if kw.get("min_rank", 1) > 1 else "") + (f"-loop{loop_}" if loop_ else ""),
            key, q, target, ranked(hz, **kw),
            ("must not lead (rank 2 or lower, or not proposed)" if kw.get("min_rank", 1) > 1 else
             f"{hz} at rank 1..{kw.get('max_rank')}") + f" (ranked by status, then posterior): {rec(key)}")

    ver2 = [
        ("may1999-snd", "tornadic_supercell", "supported"), ("may1999-snd", "no_severe_hazard", "refuted"),
        ("may1999-rad", "tornadic_supercell", "supported"), ("may1999-rad", "no_severe_hazard", "refuted"),
        ("mci-ncr", "supercell_large_hail", "supported"), ("superstorm-sfc", "extratropical_cyclone", "supported"),
        ("mrms20190610", "extreme_short_duration_rain", "supported"),
        ("kftg20150430", "tornadic_supercell", None), ("kftg20150430", "large_hail", None),
        ("klbb20160601", "tropical_cyclone", None), ("fmi20170509", "tropical_cyclone", None),
        ("knmi20100826", "tropical_cyclone", None), ("mch20170131", "tornadic_supercell", None),
        ("heatdome2021", "winter_storm", None), ("katrina2005", "winter_storm", None),
        ("goes20151208", "heat_wave", None), ("era5uk201903", "heat_wave", None),
    ]
    for key, hz, status in ver2:
        add("verification", f"{key}-{hz}", key, f"Is {hz.replace('_', ' ')} supported by this case's data?",
            {"hazard": hz}, label(status, STATUS_SYN[status]) if status else not_supported(),
            (f"{status}: " if status else "cannot be supported (refuted, open, untested or not proposed): ") + rec(key))

    sounding_tor = ["compute_helicity", "compute_tornado_parameter", "compute_bulk_shear", "compute_sbcape",
                    "compute_mlcape", "compute_supercell_composite", "compute_storm_motion", "summarize_sounding"]
    radar_conv = ["find_max_reflectivity", "detect_rotation", "detect_debris_signature", "compute_composite_reflectivity",
                  "detect_storm_cells", "summarize_radial_velocity", "compute_echo_tops", "compute_vil", "estimate_hail_proxy"]
    rain = ["classify_heavy_rain", "compute_accumulation", "compute_rain_rate_stats", "compute_training_index",
            "compute_area_over_threshold", "compute_motion_field", "run_nowcast"]
    rep2 = [
        ("may1999-snd", "tornadic_supercell", sounding_tor), ("may1999-rad", "tornadic_supercell", radar_conv),
        ("mci-ncr", "supercell_large_hail", ["get_hail_index", "summarize_level3_field", "get_storm_structure"]),
        ("mci-nmd", "tornadic_supercell", ["get_mesocyclones", "get_tvs_detections", "get_storm_tracks"]),
        ("superstorm-sfc", "extratropical_cyclone", ["find_pressure_minimum_station", "compute_pressure_tendency",
                                                     "find_strongest_winds"]),
        ("mrms20190610", "extreme_short_duration_rain", rain), ("fmi20170509", "extreme_short_duration_rain", rain),
        ("klbb20160601", "supercell_large_hail", radar_conv), ("kftg20150430", "tornadic_supercell", radar_conv),
        ("katrina2005", "tropical_cyclone_rain", ["find_max_reflectivity", "compute_composite_reflectivity",
                                                  "detect_storm_cells", "compute_echo_tops", "compute_vil"]),
        ("kvwx20050626", "damaging_wind", ["summarize_radial_velocity", "find_max_reflectivity", "detect_storm_cells",
                                          "compute_composite_reflectivity", "compute_vil", "compute_echo_tops"]),
        ("henri2021", "tropical_cyclone_wind", ["summarize_wind_probability", "describe_case_setting"]),
        ("oun20110522", "supercell_large_hail", ["compute_mucape", "compute_lapse_rate", "compute_freezing_level",
                                                 "compute_hail_parameter", "compute_bulk_shear"]),
        ("null-dec9", "winter_storm", ["compute_freezing_level", "compute_precipitable_water", "summarize_sounding",
                                       "compute_lapse_rate"]),
    ]
    for key, hz, tools in rep2:
        members = list(dict.fromkeys(tools))
        add("replanning", f"{key}-{hz}", key, f"After the first loop, which tools would you run next to settle "
            f"{hz.replace('_', ' ')}?", {"hazard": hz, "loop": 1},
            {"type": "replan", "loop": 1, "members": members, "vocabulary": "tool", "min": min(2, len(members)),
             "max": len(members)},
            "meteorological judgement: diagnostics a forecaster would check for this hazard among the tools "
            f"applicable to the case's data roles ({rec(key)})")

    chk2 = [
        ("may1999-snd", ["tornadic_supercell"], [], ["no_severe_hazard"], ["compute_helicity"]),
        ("may1999-rad", ["tornadic_supercell"], [], ["no_severe_hazard"], ["find_max_reflectivity"]),
        ("mci-ncr", ["supercell_large_hail"], [], ["no_severe_hazard"], ["get_hail_index"]),
        ("superstorm-sfc", ["extratropical_cyclone"], [], ["tropical_cyclone"], ["find_pressure_minimum_station"]),
        ("mrms20190610", ["extreme_short_duration_rain"], [], ["tropical_cyclone", "winter_storm"], ["classify_heavy_rain"]),
        ("fmi20170509", [], [], ["tropical_cyclone", "heat_wave"], []),
        ("klbb20160601", [], [], ["tropical_cyclone", "winter_storm", "heat_wave"], []),
        ("kftg20150430", [], [], ["tornadic_supercell", "tropical_cyclone"], []),
        ("may1999-refute", ["tornadic_supercell"], ["no_severe_hazard"], [], []),
        ("null-jan20-refute", ["no_severe_hazard"], ["tornadic_supercell"], [], []),
        ("null-dec9-refute", ["no_severe_hazard"], ["tornadic_supercell"], [], []),
        ("katrina2005-refute", ["tropical_cyclone"], ["no_severe_hazard"], [], []),
        ("mch20170131-refute", [], ["extreme_short_duration_rain"], [], []),
        ("kvwx20050626-refute", [], ["tropical_cyclone"], [], []),
        ("cyclone2010-refute", ["extratropical_cyclone"], ["no_severe_hazard"], [], []),
        ("henri2021-refute", ["tropical_cyclone"], ["no_severe_hazard"], [], []),
        ("superstorm1993-refute", ["extratropical_cyclone"], ["no_severe_hazard"], [], []),
    ]
    for key, name, refute, notacc, cite in chk2:
        base = key.removesuffix("-refute")
        ask = " Say which hazards the data rule out." if refute else ""
        add("report", key, base, f"Write the diagnosis report for this case: what happened and on what evidence?{ask}",
            {}, {"type": "checklist", "must_name": name, "must_refute": refute, "must_not_accept": notacc,
                 "must_cite": cite},
            f"gold hazards: {rec(base)}; must_name are accepted (status supported), must_refute refuted, "
            "must_not_accept contradicted by the data or not supportable from them")

    # ------------------------------------------------------------------ loop tasks: did replanning help?
    loop_gold = [
        ("may1999", "tornadic_supercell", "supported"), ("may1999", "no_severe_hazard", "refuted"),
        ("oun20110522", "tornadic_supercell", "supported"), ("oun20110522", "no_severe_hazard", "refuted"),
        ("null-jan20", "no_severe_hazard", "supported"), ("null-jan20", "tornadic_supercell", "refuted"),
        ("null-dec9", "no_severe_hazard", "supported"), ("null-dec9", "tornadic_supercell", "refuted"),
        ("katrina2005", "tropical_cyclone", "supported"), ("katrina2005", "no_severe_hazard", "refuted"),
        ("cyclone2010", "extratropical_cyclone", "supported"), ("henri2021", "tropical_cyclone", "supported"),
        ("henri2021", "no_severe_hazard", "refuted"),
        ("mci20160526", "supercell_large_hail", "supported"), ("mci20160526", "no_severe_hazard", "refuted"),
        ("mch20150515", "extreme_short_duration_rain", "supported"),
        ("mch20170131", "extreme_short_duration_rain", "refuted"), ("heatdome2021", "heat_wave", "supported"),
        ("superstorm1993", "extratropical_cyclone", "supported"), ("superstorm1993", "winter_storm", "supported"),
        ("kvwx20050626", "tropical_cyclone", "refuted"), ("mrms20190610", "extreme_short_duration_rain", "supported"),
        ("may1999-snd", "tornadic_supercell", "supported"), ("may1999-rad", "tornadic_supercell", "supported"),
        ("mci-ncr", "supercell_large_hail", "supported"), ("superstorm-sfc", "extratropical_cyclone", "supported"),
        ("kftg20150430", "tornadic_supercell", "not_supported"), ("klbb20160601", "tropical_cyclone", "not_supported"),
        ("fmi20170509", "tropical_cyclone", "not_supported"), ("knmi20100826", "tropical_cyclone", "not_supported"),
        ("bom20180616", "tornadic_supercell", "not_supported"), ("heatdome2021", "winter_storm", "not_supported"),
    ]
    for key, hz, status in loop_gold:
        add("loop", f"{key}-{hz}", key, f"Did replanning bring the diagnosis of {hz.replace('_', ' ')} to the right "
            f"status ({status.replace('_', ' ')}), or keep it there, where the data allowed?", {"hazard": hz},
            {"type": "loop", "hazard": hz, "status": status, "max_rank": 1, "min_gain": 0.1},
            f"gold status {status}: {rec(key)}")


# =========================================================================== the test split
# Radar volumes of the catalogue cases added for the new readers (none in the development split).
TEST_VOLUMES = OrderedDict([
    ("norst20170421", ("open-radar-data/data/T_PAGZ35_C_ENMI_20170421090837.hdf", "odim_h5", "Røst")),
    ("surgavere20210819", ("open-radar-data/data/SUR210819000227.RAWKPJV", "iris", "Sürgavere")),
    ("corozal20131125", ("open-radar-data/data/cor-main131125105503.RAW2049", "iris", "Corozal")),
    ("bewid20230112", ("open-radar-data/data/sample_rainbow_5_59.vol", "rainbow", "Wideumont")),
    ("mll20220628", ("open-radar-data/data/MLL2217907250U.003.nc", "cfradial1", "Monte Lema")),
    ("frave20230420", ("open-radar-data/data/T_PAZA63_C_LFPW_20230420065041.h5", "odim_h5", "Avesnes")),
    ("klot20260328", ("open-radar-data/data/nexrad_level2_chunks_KLOT.tar.gz", "nexrad_level2", "Chicago (KLOT)")),
])
# A legacy Level II volume in no catalogue case (MetPy's test file; message 1, no site position).
TEST_LEVEL2 = ("metpy/staticdata/KLTX20050329_100015.gz", "KLTX")
# Files in no catalogue case: tasks give them as files (relative to the data folder).
TEST_FILES = [
    (f"open-radar-data/data/{n}", "odim_h5", "Avesnes") for n in (
        "T_PAZB63_C_LFPW_20230420065125.h5", "T_PAZB63_C_LFPW_20230420065624.h5", "T_PAZC63_C_LFPW_20230420065228.h5",
        "T_PAZC63_C_LFPW_20230420065727.h5", "T_PAZD63_C_LFPW_20230420065331.h5", "T_PAZD63_C_LFPW_20230420065831.h5",
        "T_PAZE63_C_LFPW_20230420065446.h5", "T_PAZE63_C_LFPW_20230420065946.h5")
] + [("open-radar-data/data/2013051000000600dBZ.vol", "rainbow", "the Rainbow radar"),
     ("open-radar-data/data/houkasacrcfrM1.a1.20210922.150006.nc", "cfradial1", "the Houston KaSACR")]
TEST_L3 = ["KDDC_N0Q_20200817_0501.nids", "KDDC_N0Q_20200817_0503.nids", "KEAX_N0Q_20200817_0401.nids",
           "KEAX_N0Q_20200817_0405.nids", "Level3_FFC_N0Q_20140407_1805.nids", "Level3_FTG_N0B_20220304_1820.nids",
           "Level3_DEN_TZ0_20200804_2226.nids", "Level3_DEN_TZ1_20200804_2226.nids", "Level3_DEN_TZ2_20200804_2227.nids",
           "Level3_MCI_TR0_20160526_2154.nids", "Level3_MCI_TR1_20160526_2154.nids", "Level3_MCI_TR2_20160526_2154.nids",
           "KLZK_H0Z_20200812_1318"]


def _iso(t) -> str:
    return f"{t:%Y-%m-%dT%H:%M:%SZ}"


# What the public record, the season, the place and the kind of data rule out for the test
# split's files cases (first: verification and loop tasks; second: the hypothesis task).
NO_T = "holds no temperature (a heat wave cannot be supported from radar data)"
FILE_FACTS = [
    (r"^T_PAZ[A-E]63_C_LFPW_", [("tropical_cyclone", "Avesnes, northern France: outside every tropical-cyclone basin"),
                                ("heat_wave", f"a single radar scan {NO_T}")]),
    (r"^2013051000000600dBZ$", [("tropical_cyclone", "western Germany (50.9 N, 6.4 E): outside every basin"),
                                ("heat_wave", f"a reflectivity volume {NO_T}")]),
    (r"^houkasacrcfrM1", [("winter_storm", "Houston, Texas, on 22 September"), ("heat_wave", f"a radar volume {NO_T}")]),
    (r"^KLTX20050329", [("tropical_cyclone", "29 March 2005: no tropical cyclone in the Atlantic basin (NHC Tropical "
                                             "Cyclone Reports: the season's first storm, Arlene, formed on 8 June)"),
                        ("heat_wave", f"a radar volume {NO_T}")]),
    (r"^KDDC_", [("winter_storm", "Dodge City, Kansas, in mid-August"), ("heat_wave", f"a base-reflectivity product {NO_T}")]),
    (r"^KEAX_", [("winter_storm", "Kansas City in mid-August"), ("heat_wave", f"a base-reflectivity product {NO_T}")]),
    (r"^Level3_FFC_", [("tropical_cyclone", "7 April 2014: no tropical cyclone in the Atlantic basin (NHC Tropical "
                                            "Cyclone Reports: the season's first storm, Arthur, formed on 1 July)"),
                       ("heat_wave", f"a base-reflectivity product {NO_T}")]),
    (r"^Level3_FTG_", [("tropical_cyclone", "Denver, Colorado: 1500 km inland, outside every basin"),
                       ("heat_wave", f"early March in Denver, and a reflectivity product {NO_T}")]),
    (r"^Level3_DEN_", [("tropical_cyclone", "Denver, Colorado: 1500 km inland, outside every basin"),
                       ("winter_storm", "Denver in early August")]),
    (r"^Level3_MCI_TR", [("tropical_cyclone", "Kansas City, Missouri: far inland, outside every basin"),
                         ("heat_wave", f"a TDWR reflectivity product {NO_T}")]),
    (r"^KLZK_", [("winter_storm", "Little Rock, Arkansas, in mid-August"),
                 ("heat_wave", f"a reflectivity product {NO_T}")]),
]
TOOLS_TORNADO = ["detect_rotation", "summarize_radial_velocity", "detect_storm_cells", "find_max_reflectivity",
                 "compute_composite_reflectivity"]
TOOLS_MESOCYCLONE = ["detect_rotation", "summarize_radial_velocity", "detect_storm_cells", "find_max_reflectivity",
                     "compute_composite_reflectivity"]
TOOLS_WIND = ["summarize_radial_velocity", "detect_storm_cells", "find_max_reflectivity", "compute_composite_reflectivity",
              "compute_vil", "compute_echo_tops"]
TOOLS_CONVECTION = ["detect_storm_cells", "compute_echo_tops", "compute_vil", "find_max_reflectivity",
                    "compute_composite_reflectivity"]
TOOLS_HAIL = ["find_max_reflectivity", "compute_vil", "compute_echo_tops", "estimate_hail_proxy", "detect_storm_cells"]
HAIL_REPLANNED = {"mll20220628", "corozal20131125", "bewid20230112"}  # hail replanning tasks of their own above


def _window_max(within: dict) -> tuple[float, float] | None:
    """(radius, maximum) at the first of WINDOW_RADII whose maximum is stable."""
    for rad in WINDOW_RADII:
        w = within.get(rad)
        if w is not None and w["stable"]:
            return rad, w["max"]
    return None


def test_files_hazards(T: "Tasks", diag: dict) -> None:
    """Hazard-level tasks of the test split's files cases (the catalogue cases have theirs
    above) and replanning tasks for every radar case of the split.

    * what the data cannot support (:data:`FILE_FACTS`: the season and place, the public
      record, the kind of data): not supported, not leading, kept from acceptance by the
      loops, not accepted by the report;
    * a scan whose maximum over every sweep stays below 40 dBZ holds no convective storm:
      'no severe hazard' supported, leading and named by the report, tornado and hail not;
    * replanning after loop 1, read at loop 1 (a run that stopped there fails): the checks
      a forecaster runs next, among the tools the case's data allow, for a convective
      storm (a volume reaching 45 dBZ), a tornadic supercell and damaging wind (a
      volume with radial velocity reaching 45 dBZ) and hail (a maximum of 50
      dBZ inside the storm-scale window), a mesocyclone as well where there is velocity; none on
      a single Level III product (its one field is what the first loop read: no check is left)."""
    for key, d in diag.items():
        case, extra = d["case"], d["extra"]
        mx = d["max"]
        what = {"nexrad_level3": f"{d.get('product', 'Level III')} product"}.get(d["fmt"], f"{d['fmt']} volume")
        moments = "reflectivity" + (", radial velocity" if d["velocity"] else "") + (
            ", correlation coefficient" if d["rhohv"] else "")
        data_txt = f"the case holds one {what} ({moments}); maximum {mx:.1f} dBZ over the whole view"
        if case is None:
            facts = next((f for pat, f in FILE_FACTS if re.search(pat, key)), None)
            assert facts, f"no facts for {key}"
            (h1, w1), (h2, w2) = facts
            weak_ = mx < 40.0
            T.add("verification", f"{key}-{h1}", None, f"Is {h1.replace('_', ' ')} supported by this case's data?",
                  {"hazard": h1}, not_supported(), f"cannot be supported: {w1}", **extra)
            T.add("loop", f"{key}-{h1}", None, f"Did the loops keep {h1.replace('_', ' ')} from being accepted?",
                  {"hazard": h1}, {"type": "loop", "hazard": h1, "status": "not_supported", "max_rank": 1,
                                   "min_gain": 0.1}, f"cannot be supported: {w1}", **extra)
            T.add("hypothesis", f"{key}-{h2}-rank", None, f"Should {h2.replace('_', ' ')} lead the hypotheses here?",
                  {"hazard": h2}, ranked(h2, min_rank=2, max_rank=None, absent_ok=True),
                  f"must not lead (rank 2 or lower, or not proposed): {w2}", **extra)
            notacc = [h1, h2] + (["tornadic_supercell", "large_hail", "supercell_large_hail"] if weak_ else [])
            T.add("report", key, None, "Write the diagnosis report for this case: what happened and on what evidence?",
                  {}, {"type": "checklist", "must_name": ["no_severe_hazard"] if weak_ else [], "must_refute": [],
                       "must_not_accept": notacc, "must_cite": []},
                  f"hazards the data cannot support: {w1}; {w2}" + (
                      f"; {data_txt}: no convective storm, the null outcome" if weak_ else ""), **extra)
            if weak_:
                why_ = (f"physics: {data_txt} (independent reading of every sweep): no convective storm, no severe "
                        "hazard in the data; the null outcome")
                T.add("verification", f"{key}-no_severe_hazard", None, "Is 'no severe hazard' supported by this case's "
                      "data?", {"hazard": "no_severe_hazard"}, label("supported", STATUS_SYN["supported"]),
                      f"supported: {why_}", **extra)
                T.add("hypothesis", f"{key}-no_severe_hazard", None, "What leads your hypotheses for this case?",
                      {"hazard": "no_severe_hazard"}, ranked("no_severe_hazard", max_rank=1), f"rank 1: {why_}", **extra)
                T.add("loop", f"{key}-no_severe_hazard", None, "Did the loops bring 'no severe hazard' to supported?",
                      {"hazard": "no_severe_hazard"}, {"type": "loop", "hazard": "no_severe_hazard",
                                                       "status": "supported", "max_rank": 1, "min_gain": 0.1},
                      f"gold status supported: {why_}", **extra)
        # replanning
        plans = []
        volume = d["fmt"] != "nexrad_level3"
        if volume and mx >= 45.0:
            plans.append(("ordinary_convection", TOOLS_CONVECTION, "echoes of 45 dBZ or more: a convective storm to "
                          "confirm by its cells, echo tops and VIL"))
        if volume and d["velocity"] and mx >= 45.0:
            plans.append(("tornadic_supercell", TOOLS_TORNADO + (["detect_debris_signature"] if d["rhohv"] else []),
                          "radial velocity is present: rotation and the storm's structure can be checked"))
            plans.append(("mesocyclone", TOOLS_MESOCYCLONE, "radial velocity is present: a rotating updraft can be "
                          "looked for"))
            plans.append(("damaging_wind", TOOLS_WIND, "radial velocity is present: the outflow winds can be checked"))
        wm = _window_max(d["window"])
        if volume and wm and wm[1] >= 50.0 and key not in HAIL_REPLANNED:
            plans.append(("large_hail", TOOLS_HAIL + (["detect_rotation"] if d["velocity"] else []),
                          f"a {wm[1]:.1f} dBZ maximum within {wm[0]:g} km: hail not settled by one moment"))
        # (no replanning task on a single Level III product: its one field is what the first loop already
        # read, so no check is left for a second loop)
        for hz, tools, because in plans:
            T.add("replanning", f"{key}-{hz}", case, f"After the first loop, which tools would you run next to settle "
                  f"{hz.replace('_', ' ')}?", {"hazard": hz, "loop": 1},
                  {"type": "replan", "loop": 1, "members": tools, "vocabulary": "tool", "min": min(2, len(tools)),
                   "max": len(tools)},
                  f"meteorological judgement over the tools the case's data allow ({data_txt}): {because}; read at "
                  "loop 1, a run that did not replan after it fails", **extra)


def build_test(dd: Path) -> list[dict]:
    """The test split: the new catalogue cases and files no catalogue case holds."""
    T = Tasks()
    vols = {}
    for case, (path, fmt, place) in TEST_VOLUMES.items():
        vols[case] = (volume_summary(dd / path, fmt, case_place(case), WINDOW_RADII), path, fmt, place, None)
    for path, fmt, place in TEST_FILES:
        site = volume_summary(dd / path, fmt)["site"]  # a files case's place is the radar site
        s = volume_summary(dd / path, fmt, site, WINDOW_RADII)
        vols[Path(path).stem.replace(".", "-")] = (s, path, fmt, place, {"radar_volume": path})
    for key, (s, path, fmt, place, files) in vols.items():
        lat0, lon0 = s["site"]
        extra = {}
        case = key
        if files:
            case = None
            extra = {"files": files, "time": _iso(s["lowest"][1]), "location": {"lat": r(lat0, 4), "lon": r(lon0, 4)},
                     "case_id": f"test-{key}"}
        src = f"independent: xradar.io.{XRADAR_OPEN[fmt]} on {path}"
        if np.isfinite(s["max"]):
            T.add("index", f"{key}-max_reflectivity", case, f"What is the highest reflectivity in the {place} volume?",
                  {"quantity": "max_reflectivity", "args": {}}, num(s["max"], "dBZ", 0.0, 0.5),
                  f"{src}: maximum of the reflectivity moment ({'/'.join(REF_NAMES)}, first present) over every PPI "
                  f"sweep, {s['max']:.1f} dBZ ({len(s['locs'])} gate(s))", **extra)
            if s["spread_km"] <= 10.0 and s["locs"]:
                la, lo, az, rg, el = s["locs"][0]
                T.add("signal", f"{key}-max_reflectivity-location", case, f"Where is the strongest echo of the {place} "
                      "volume?", {"quantity": "max_reflectivity", "what": "location"}, loc(la, lo, 15.0),
                      f"{src}: maximum at azimuth {az:.1f} deg, range {rg:.2f} km, elevation {el:.2f} deg; 4/3-earth "
                      f"beam model and a WGS84 geodesic from the site in the file ({lat0:.4f}, {lon0:.4f})", **extra)
            add_windowed_max(T, f"{key}-max_reflectivity", case, "reflectivity",
                             f"the case's place ({place})" if files is None else f"the {place} radar", s,
                             f"{src}, reflectivity moment over every PPI sweep", **extra)
        if s["lowest"] is not None:
            T.add("plot", f"{key}-radar_ppi-reflectivity", case, f"Show the lowest-tilt reflectivity PPI of the {place} "
                  "volume.", {"kind": "radar_ppi", "args": {"field": "reflectivity"}},
                  {"type": "figure", "kind": "radar_ppi", "variables": ["reflectivity"], "units": "dBZ",
                   "valid_time": f"{s['lowest'][1]:%Y-%m-%dT%H:%M}", "contains": [r(lat0, 4), r(lon0, 4)]},
                  f"{src}: first ray time of the lowest PPI sweep ({s['lowest'][0]:.2f} deg); the map must contain the "
                  "site", **extra)
        if s["start"]:
            T.add("plot", f"{key}-composite_reflectivity", case, f"Make a composite (column-maximum) reflectivity map "
                  f"of the {place} volume.", {"kind": "composite_reflectivity", "args": {}},
                  {"type": "figure", "kind": "composite_reflectivity", "units": "dBZ", "valid_time": s["start"][:16],
                   "contains": [r(lat0, 4), r(lon0, 4)]},
                  f"{src}: the volume's start (time_coverage_start {s['start']}); the map must contain the site",
                  **extra)
        if not s["velocity"]:
            T.add("abstention", f"{key}-max_rotational_velocity", case, f"How strong is the strongest rotation in the "
                  f"{place} volume? Say so if the data cannot tell, and why.",
                  {"quantity": "max_rotational_velocity", "args": {}}, abstain("missing_variable"),
                  f"{src}: the volume has no radial velocity moment", **extra)
        if not s["rhohv"]:
            T.add("abstention", f"{key}-debris_signature_flag", case, f"Is there a tornado debris signature in the "
                  f"{place} volume? Say so if the data cannot tell, and why.",
                  {"quantity": "debris_signature_flag", "args": {}}, abstain("missing_variable"),
                  f"{src}: the volume has no correlation coefficient", **extra)
        beyond = int(math.ceil(s["max_range_km"] / 10.0) * 10 + 10)
        if beyond <= 400:
            T.add("abstention", f"{key}-max_reflectivity-range", case, f"What is the strongest echo beyond {beyond} km "
                  f"of the {place} radar?", {"quantity": "max_reflectivity", "args": {"min_range": beyond}},
                  abstain("out_of_domain"), f"{src}: the gates end at {s['max_range_km']:.1f} km", **extra)
        T.add("abstention", f"{key}-sbcape", case, "What is the surface-based CAPE? Say so if the data cannot give it.",
              {"quantity": "sbcape", "args": {}}, abstain("missing_variable"),
              "the case holds a radar volume only: no sounding", **extra)

    # a legacy Level II volume in no catalogue case (MetPy's KLTX test file)
    path, site = TEST_LEVEL2
    key = Path(path).name.split(".")[0]
    s2 = level2_summary(dd / path, site, SITES[site], WINDOW_RADII)
    lat0, lon0 = SITES[site]
    src = f"independent: metpy.io.Level2File on {path}, REF moment over all sweeps and gates"
    extra = {"files": {"radar_volume": path}, "time": _iso(s2["volume_time"]),
             "location": {"lat": r(lat0, 4), "lon": r(lon0, 4)}, "case_id": f"test-{key}"}
    T.add("index", f"{key}-max_reflectivity", None, f"What is the highest reflectivity in the {site} volume of "
          f"{s2['volume_time']:%Y-%m-%d %H:%M} UTC?", {"quantity": "max_reflectivity", "args": {}},
          num(s2["max"], "dBZ", 0.0, 0.5), f"{src} ({s2['max']:.1f} dBZ, {len(s2['locs'])} gate(s))", **extra)
    if s2["spread_km"] <= 10.0:
        la, lo, az, rng, el, sw = s2["locs"][0]
        T.add("signal", f"{key}-max_reflectivity-location", None, f"Where is the strongest echo of the {site} volume?",
              {"quantity": "max_reflectivity", "what": "location"}, loc(la, lo, 15.0),
              f"{src}: maximum at azimuth {az:.1f} deg, slant range {rng:.2f} km, elevation {el:.2f} deg (sweep {sw}); "
              f"4/3-earth beam model and a WGS84 geodesic from {site} (NEXRAD site list)", **extra)
    add_windowed_max(T, f"{key}-max_reflectivity", None, "reflectivity", f"the {site} radar", s2, src, **extra)
    for fld, first, units in (("reflectivity", s2["first_ref"], "dBZ"), ("velocity", s2["first_vel"], "m/s")):
        if first is not None:
            i, t_, el_ = first
            T.add("plot", f"{key}-radar_ppi-{fld}", None, f"Show the lowest-tilt {fld} PPI of the {site} volume.",
                  {"kind": "radar_ppi", "args": {"field": fld}},
                  {"type": "figure", "kind": "radar_ppi", "variables": [fld], "units": units,
                   "valid_time": t_.strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
                  f"independent: Level2File first ray time of the lowest sweep with {fld} (sweep {i}, {el_:.2f} deg)",
                  **extra)
    T.add("plot", f"{key}-composite_reflectivity", None, f"Make a composite reflectivity map of the {site} volume.",
          {"kind": "composite_reflectivity", "args": {}},
          {"type": "figure", "kind": "composite_reflectivity", "units": "dBZ",
           "valid_time": s2["volume_time"].strftime("%Y-%m-%dT%H:%M"), "contains": [r(lat0, 4), r(lon0, 4)]},
          "independent: Level2File volume start time (volume header); the map must contain the radar site", **extra)
    T.add("abstention", f"{key}-debris_signature_flag", None, f"Is there a tornado debris signature in the {site} "
          "volume? Say so if the data cannot tell, and why.", {"quantity": "debris_signature_flag", "args": {}},
          abstain("missing_variable"), f"{src}: a legacy message-1 volume (REF, VEL, SW): no correlation coefficient",
          **extra)
    T.add("abstention", f"{key}-sbcape", None, "What is the surface-based CAPE? Say so if the data cannot give it.",
          {"quantity": "sbcape", "args": {}}, abstain("missing_variable"), "a radar volume only: no sounding", **extra)
    diag = {k: {"max": v[0]["max"], "velocity": v[0]["velocity"], "rhohv": v[0]["rhohv"], "fmt": v[2],
                "range": v[0]["max_range_km"], "window": v[0]["within"], "case": None if v[4] else k,
                "extra": ({} if v[4] is None else {"files": v[4], "time": _iso(v[0]["lowest"][1]),
                                                  "location": {"lat": r(v[0]["site"][0], 4),
                                                               "lon": r(v[0]["site"][1], 4)},
                                                  "case_id": f"test-{k}"})} for k, v in vols.items()}
    diag[key] = {"max": s2["max"], "velocity": s2["first_vel"] is not None, "rhohv": False, "fmt": "nexrad_level2",
                 "range": 460.0, "window": s2["within"], "case": None, "extra": extra}

    # Level III products beyond the old ones
    for fname in TEST_L3:
        f3 = level3_field(dd / "metpy/staticdata/nids" / fname, WINDOW_RADII)
        code = re.search(r"_(N0Q|N0B|TZ\d|TR\d|H0Z)_", fname).group(1)
        role = L3_ROLE[code]
        files = {role: f"metpy/staticdata/nids/{fname}"}
        stem = Path(fname).stem
        extra = {"files": files, "time": _iso(f3["time"]), "location": {"lat": r(f3["lat"], 4), "lon": r(f3["lon"], 4)},
                 "case_id": f"test-{stem}"}
        src = f"radar's own product: metpy.io.Level3File {fname}, map_data of the first data packet"
        T.add("index", f"{stem}-max_value", None, f"What is the maximum of the {f3['product']} product "
              f"({fname})?", {"quantity": "max_value", "args": {"role": role}}, num(f3["max"], L3_UNITS[code], 0.0, 0.6),
              f"{src}, maximum {f3['max']:.2f} {L3_UNITS[code]}", **extra)
        add_windowed_max(T, f"{stem}-max_value", None, f"value of the {f3['product']} product", "the radar",
                         f3, f"{src} (bins at their centres, max_range / bins apart, at the product's elevation)",
                         quantity="max_value", args={"role": role}, units=L3_UNITS[code], atol=0.6, **extra)
        T.add("abstention", f"{stem}-mesocyclone_count", None,
              "How many mesocyclones does the radar detect? Say so if these data cannot tell.",
              {"quantity": "mesocyclone_count", "args": {}}, abstain("missing_variable"),
              f"{fname} is a single base product: no mesocyclone detection (NMD) product", **extra)
        diag[stem] = {"max": f3["max"], "velocity": False, "rhohv": False, "fmt": "nexrad_level3", "range": None,
                      "window": f3["within"], "case": None, "extra": extra, "product": f3["product"]}

    # the OPERA composite
    c = composite_summary(dd, "pysteps-data/radar/OPERA/20180824/T_PAAH21_C_EUOC_20180824*.hdf", "opera_hdf5")
    T.add("plot", "opera20180824-composite_sequence", "opera20180824",
          "Show the OPERA composite sequence as a panel plot (the map should include Germany).",
          {"kind": "composite_sequence", "args": {}},
          {"type": "figure", "kind": "composite_sequence", "units": c["fig_units"], "valid_time": c["first"],
           "contains": [51.0, 10.0]},
          f"independent: pysteps importer opera_hdf5 (unit {c['unit']}), first frame time from the file names "
          f"({c['first']}, {c['n']} frames)")
    T.add("abstention", "opera20180824-max_rotational_velocity", "opera20180824",
          "How strong is the strongest rotation? Say so if the data cannot tell.",
          {"quantity": "max_rotational_velocity", "args": {}}, abstain("missing_variable"),
          "a reflectivity composite: no radar volume, no radial velocity")
    T.add("abstention", "opera20180824-sbcape", "opera20180824", "What is the surface-based CAPE?",
          {"quantity": "sbcape", "args": {}}, abstain("missing_variable"), "a radar composite only: no sounding")

    # hazard-level tasks on the new cases: what the data cannot support (independent readings above)
    weak = [k for k in TEST_VOLUMES if vols[k][0]["max"] < 40.0]
    season = {  # (case, hazard, why): physically impossible or ruled out by the record at that place and time
        "norst20170421": [("tropical_cyclone", "67.5 N in April: no tropical cyclone (NHC/JTWC archives)"),
                          ("heat_wave", "Arctic Norway in April")],
        "surgavere20210819": [("tropical_cyclone", "Estonia: outside every tropical-cyclone basin"),
                              ("winter_storm", "August in Estonia")],
        "bewid20230112": [("heat_wave", "Belgium in January"), ("tropical_cyclone", "Belgium: outside every basin")],
        "mll20220628": [("winter_storm", "southern Switzerland at the end of June"),
                        ("tropical_cyclone", "the Alps: outside every basin")],
        "frave20230420": [("tropical_cyclone", "northern France: outside every basin"),
                          ("heat_wave", "April in northern France")],
        "klot20260328": [("tropical_cyclone", "Chicago: outside every basin"), ("heat_wave", "March in Chicago")],
        "opera20180824": [("heat_wave", "not a hazard a reflectivity composite can support")],
        "corozal20131125": [("winter_storm", "9 N in the Colombian lowlands"), ("heat_wave",
                                                                               "no temperature data in a radar volume")],
    }
    for case, items in season.items():
        for hz, why_ in items:
            T.add("verification", f"{case}-{hz}", case, f"Is {hz.replace('_', ' ')} supported by this case's data?",
                  {"hazard": hz}, not_supported(), f"cannot be supported: {why_}")
            T.add("hypothesis", f"{case}-{hz}-rank", case, f"Should {hz.replace('_', ' ')} lead the hypotheses here?",
                  {"hazard": hz}, ranked(hz, min_rank=2, max_rank=None, absent_ok=True),
                  f"must not lead (rank 2 or lower, or not proposed): {why_}")
            T.add("loop", f"{case}-{hz}", case, f"Did the loops keep {hz.replace('_', ' ')} from being accepted?",
                  {"hazard": hz}, {"type": "loop", "hazard": hz, "status": "not_supported", "max_rank": 1,
                                   "min_gain": 0.1}, f"cannot be supported: {why_}")
        notacc = [hz for hz, _ in items]
        if case in weak:
            notacc += ["tornadic_supercell", "large_hail", "supercell_large_hail"]
        T.add("report", case, case, "Write the diagnosis report for this case: what happened and on what evidence?", {},
              {"type": "checklist", "must_name": ["no_severe_hazard"] if case in weak else [], "must_refute": [],
               "must_not_accept": notacc, "must_cite": []},
              "hazards the data cannot support: " + "; ".join(w for _, w in items)
              + (f"; the volume's maximum is {vols[case][0]['max']:.1f} dBZ (xradar): no deep convection"
                 if case in weak else ""))
    for case in weak:
        why_ = (f"physics: the case's radar data reach at most {vols[case][0]['max']:.1f} dBZ (xradar reading of every "
                "sweep): no convective storm, no severe hazard in the data; the null outcome")
        T.add("verification", f"{case}-no_severe_hazard", case, "Is 'no severe hazard' supported by this case's data?",
              {"hazard": "no_severe_hazard"}, label("supported", STATUS_SYN["supported"]), f"supported: {why_}")
        T.add("hypothesis", f"{case}-no_severe_hazard", case, "What leads your hypotheses for this case?",
              {"hazard": "no_severe_hazard"}, ranked("no_severe_hazard", max_rank=1), f"rank 1: {why_}")
        T.add("loop", f"{case}-no_severe_hazard", case, "Did the loops bring 'no severe hazard' to supported?",
              {"hazard": "no_severe_hazard"}, {"type": "loop", "hazard": "no_severe_hazard", "status": "supported",
                                               "max_rank": 1, "min_gain": 0.1}, f"gold status supported: {why_}")
        for hz in ("tornadic_supercell", "large_hail"):
            T.add("verification", f"{case}-{hz}", case, f"Is {hz.replace('_', ' ')} supported by this case's data?",
                  {"hazard": hz}, not_supported(),
                  f"cannot be supported: the volume's maximum is {vols[case][0]['max']:.1f} dBZ (xradar reading)")
            T.add("loop", f"{case}-{hz}", case, f"Did the loops keep {hz.replace('_', ' ')} from being accepted?",
                  {"hazard": hz}, {"type": "loop", "hazard": hz, "status": "not_supported", "max_rank": 1,
                                   "min_gain": 0.1},
                  f"cannot be supported: maximum {vols[case][0]['max']:.1f} dBZ (xradar reading)")
    for case, hz, tools in (("mll20220628", "supercell_large_hail", ["find_max_reflectivity", "compute_vil",
                                                                     "compute_echo_tops", "estimate_hail_proxy",
                                                                     "detect_rotation", "detect_storm_cells"]),
                            ("corozal20131125", "supercell_large_hail", ["find_max_reflectivity", "compute_vil",
                                                                         "compute_echo_tops", "estimate_hail_proxy",
                                                                         "detect_storm_cells"]),
                            ("bewid20230112", "supercell_large_hail", ["find_max_reflectivity", "compute_vil",
                                                                       "compute_echo_tops", "detect_storm_cells"])):
        T.add("replanning", f"{case}-{hz}", case, f"After the first loop, which tools would you run next to settle "
              f"{hz.replace('_', ' ')}?", {"hazard": hz, "loop": 1},
              {"type": "replan", "loop": 1, "members": tools, "vocabulary": "tool", "min": 2, "max": len(tools)},
              f"meteorological judgement over the radar tools (the volume reaches {vols[case][0]['max']:.1f} dBZ by "
              "xradar: strong echo, hail not settled by one moment)")
    test_files_hazards(T, diag)
    return state_windows(T.rows)


def _tool_needs() -> dict[str, tuple[str, ...]]:
    """The data roles each registry tool needs (its declaration, not its output): a
    replanning gold names only tools the case's data allow."""
    sys.path.insert(0, str(ROOT))
    from hvrmet.tools import list_tools

    return {t.name: tuple(t.needs or ()) for t in list_tools()}


def validate(rows: list[dict], split: str = "dev") -> Counter:
    import yaml

    cases = {yaml.safe_load(p.read_text())["id"]: yaml.safe_load(p.read_text()) for p in CATALOGUE.glob("*.yaml")}
    dev = dev_cases()
    dev_files = {f.get("path") or f.get("glob") for c in dev for f in cases[c]["files"]}
    ids = [t["id"] for t in rows]
    dup = [k for k, n in Counter(ids).items() if n > 1]
    assert not dup, f"duplicate ids: {dup}"
    counts = Counter(t["category"] for t in rows)
    if split == "dev":
        assert len(rows) >= 400, len(rows)
    for c in CATEGORIES:
        assert counts[c] >= 30, f"{split}: category {c} has {counts[c]} tasks"
    shared: dict[str, str] = {}
    for t in rows:  # the tasks of one files case describe it alike (they share one case file)
        if t.get("case_id"):
            same = json.dumps([t["files"], t.get("time"), t.get("location")], sort_keys=True)
            assert shared.setdefault(t["case_id"], same) == same, f"{t['id']}: case {t['case_id']} described otherwise"
    needs = _tool_needs()
    for t in rows:
        roles = ({f["role"] for f in cases[t["case"]]["files"]} if "case" in t else set(t["files"]))
        roles = set(t.get("roles") or roles)
        if t["answer"]["type"] == "replan":  # every tool named can run on the case's data
            bad = [m for m in t["answer"]["members"] if needs[m] and not set(needs[m]) & roles]
            assert not bad, f"{t['id']}: {bad} need data the case does not hold ({sorted(roles)})"
        q = t["target"].get("quantity")
        if t["category"] in ("index", "signal") and q in WINDOW_KIND:  # the window is stated
            assert "radius" in t["target"]["args"] or "lat_min" in t["target"]["args"], t["id"]
    for t in rows:
        assert ("case" in t) != ("files" in t), t["id"]
        if "case" in t:
            assert t["case"] in cases, f"{t['id']}: unknown case {t['case']}"
            assert (t["case"] in dev) == (split == "dev"), f"{t['id']}: case {t['case']} is not of the {split} split"
            for role in t.get("roles", []):
                assert role in {f["role"] for f in cases[t["case"]]["files"]}, (t["id"], role)
        else:
            assert split == "test", t["id"]
            assert not set(t["files"].values()) & dev_files, f"{t['id']}: a development file"
        assert t["source"], t["id"]
        a = t["answer"]
        if a["type"] == "number":
            assert np.isfinite(a["value"]), t["id"]
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="output file (default: the shipped split's file)")
    ap.add_argument("--split", choices=("dev", "test", "both"), default="both")
    args = ap.parse_args(argv)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    for split in (("dev", "test") if args.split == "both" else (args.split,)):
        rows = build(data_dir()) if split == "dev" else build_test(data_dir())
        rows.sort(key=lambda t: (order[t["category"]], t["id"]))
        out = args.out or DEFAULT_OUT.with_name(f"{split}.jsonl")
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w") as fh:
            for t in rows:
                fh.write(json.dumps(t, ensure_ascii=False, sort_keys=False) + "\n")
        back = [json.loads(ln) for ln in out.read_text().splitlines()]  # re-read and validate what was written
        counts = validate(back, split)
        print(f"wrote {len(back)} {split} tasks to {out}")
        for c in CATEGORIES:
            print(f"  {c:13s} {counts[c]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
