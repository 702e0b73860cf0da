#!/usr/bin/env python3
"""Baseline for ``hvrmet diagnose may1999``: the same files decoded and the same
diagnostics computed by a plain script calling MetPy, numpy and scipy directly.

Used to measure the engine's overhead (README, "Speed"). Run with the data folder:

    HVRMET_DATA_DIR=../shared/data python tools/baseline_may1999.py
"""

from __future__ import annotations

import os
import time

T0 = time.perf_counter()

import metpy.calc as mpcalc  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from metpy.io import Level2File  # noqa: E402
from metpy.units import units  # noqa: E402
from pyproj import Geod  # noqa: E402
from scipy import ndimage  # noqa: E402

DATA = os.environ["HVRMET_DATA_DIR"]
KTLX = (35.33306, -97.2775)


def sounding():
    names = ["PRES", "HGHT", "TEMP", "DWPT", "RELH", "MIXR", "DRCT", "SKNT", "THTA", "THTE", "THTV"]
    df = pd.read_fwf(f"{DATA}/metpy/staticdata/may4_sounding.txt", skiprows=5, names=names,
                     widths=[7] * 11).dropna(subset=["TEMP", "DWPT"])
    p, t, td = df.PRES.values * units.hPa, df.TEMP.values * units.degC, df.DWPT.values * units.degC
    z = (df.HGHT.values - df.HGHT.values[0]) * units.m
    u, v = mpcalc.wind_components(df.SKNT.values * units.knot, df.DRCT.values * units.degree)
    out = {}
    prof = mpcalc.parcel_profile(p, t[0], td[0])
    out["sbcape"], out["sbcin"] = mpcalc.surface_based_cape_cin(p, t, td)
    out["mlcape"] = mpcalc.mixed_layer_cape_cin(p, t, td, depth=100 * units.hPa)
    out["mucape"] = mpcalc.most_unstable_cape_cin(p, t, td)
    out["lcl"] = mpcalc.lcl(p[0], t[0], td[0])
    out["lfc"], out["el"] = mpcalc.lfc(p, t, td, prof), mpcalc.el(p, t, td, prof)
    out["li"] = mpcalc.lifted_index(p, t, prof)
    out["ki"], out["tt"] = mpcalc.k_index(p, t, td), mpcalc.total_totals_index(p, t, td)
    out["si"], out["pw"] = mpcalc.showalter_index(p, t, td), mpcalc.precipitable_water(p, td)
    out["dcape"] = mpcalc.downdraft_cape(p, t, td)
    out["tw"] = mpcalc.wet_bulb_temperature(p, t, td)
    for km in (1, 3, 6):
        out[f"shear{km}"] = mpcalc.bulk_shear(p, u, v, height=z, depth=km * units.km)
    rm, lm, _ = mpcalc.bunkers_storm_motion(p, u, v, z)
    srh1 = mpcalc.storm_relative_helicity(z, u, v, 1 * units.km, storm_u=rm[0], storm_v=rm[1])[2]
    srh3 = mpcalc.storm_relative_helicity(z, u, v, 3 * units.km, storm_u=rm[0], storm_v=rm[1])[2]
    sh6 = np.hypot(*out["shear6"])
    lcl_h = np.interp(np.log(out["lcl"][0].m), np.log(p.m[::-1]), z.m[::-1]) * units.m
    out["stp"] = mpcalc.significant_tornado(out["sbcape"], lcl_h, srh1, sh6)
    out["scp"] = mpcalc.supercell_composite(out["mucape"][0], srh3, sh6)
    return out


def radar():
    f = Level2File(f"{DATA}/metpy/staticdata/KTLX19990503_235621.gz")
    ref_max, best, vrot = -99.0, None, 0.0
    xs, ys, zs = [], [], []
    ke = 4 / 3 * 6371008.8
    for sweep in f.sweeps:
        az = np.array([ray[0].az_angle for ray in sweep])
        el = np.deg2rad(np.mean([ray[0].el_angle for ray in sweep]))
        if "REF" in sweep[0][1]:
            hdr = sweep[0][1]["REF"][0]
            ref = np.array([ray[1]["REF"][1] for ray in sweep])
            rng = (hdr.first_gate + hdr.gate_width * np.arange(ref.shape[1])) * 1000.0
            s = ke * np.arcsin(rng * np.cos(el) / ke)
            x = s[None, :] * np.sin(np.deg2rad(az))[:, None]
            y = s[None, :] * np.cos(np.deg2rad(az))[:, None]
            xs.append(x.ravel()), ys.append(y.ravel()), zs.append(ref.ravel())
            i = np.nanargmax(ref)
            if ref.flat[i] > ref_max:
                ref_max, best = ref.flat[i], (az[i // ref.shape[1]], rng[i % ref.shape[1]])
        if "VEL" in sweep[0][1] and np.rad2deg(el) < 2.0:
            vel = np.array([ray[1]["VEL"][1] for ray in sweep])
            dv = np.abs(np.diff(vel, axis=0))
            vrot = max(vrot, float(np.nanmax(dv)) / 2.0)
    x, y, zr = np.concatenate(xs), np.concatenate(ys), np.concatenate(zs)
    ok = np.isfinite(zr) & (np.abs(x) < 230e3) & (np.abs(y) < 230e3)
    ix, iy = ((x[ok] + 230e3) // 1000).astype(int), ((y[ok] + 230e3) // 1000).astype(int)
    grid = np.full((460, 460), -np.inf)
    np.maximum.at(grid, (iy, ix), zr[ok])
    cells, n = ndimage.label(grid >= 40)
    lon, lat, _ = Geod(ellps="WGS84").fwd(KTLX[1], KTLX[0], best[0], best[1])
    return {"max_ref": ref_max, "lat": lat, "lon": lon, "cells": n, "area40": int((grid >= 40).sum()), "vrot": vrot}


if __name__ == "__main__":
    t1 = time.perf_counter()
    s = sounding()
    r = radar()
    t2 = time.perf_counter()
    print(f"imports {t1 - T0:.2f} s, decode + diagnostics {t2 - t1:.2f} s, total {t2 - T0:.2f} s")
    print(f"SBCAPE {s['sbcape'].m:.0f} J/kg, STP {np.atleast_1d(s['stp'].m)[0]:.2f}, max {r['max_ref']} dBZ at "
          f"({r['lat']:.3f}, {r['lon']:.3f}), {r['cells']} cells, {r['area40']} km2 >= 40 dBZ")
