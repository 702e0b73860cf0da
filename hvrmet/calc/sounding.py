"""Sounding science: thermodynamic and kinematic diagnostics of one upper-air profile.

Pure functions on an :class:`xarray.Dataset` (as every hvrmet sounding reader returns it)
and on pint quantities; nothing here knows about cases, tools or agents. Every quantity
comes from :mod:`metpy.calc` except the significant hail parameter, which MetPy does not
provide and which follows SPC's published formula (:func:`ship`). Soundings that stop
early, have missing levels or lack wind are handled: quantities that cannot be computed are
NaN with a note saying why. :func:`diagnostics` computes everything once per sounding
(memoised by the file's sha256), so a loop over the sounding tools pays once.

Conventions
-----------
Heights are above ground (the lowest level with temperature); the mixed layer is the lowest
100 hPa; storm motion is Bunkers' right mover; where a sounding reports no dew point above
some level (very dry air), the dew point there is taken at 1 % relative humidity.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import xarray as xr

__all__ = ["Profile", "profile_from_dataset", "diagnostics", "ship", "UNITS", "warm_nose"]

_LOCK = threading.Lock()

#: Variables a sounding dataset must hold, and the units the computation works in.
_NEEDED = {"pressure": "hPa", "temperature": "degC", "dewpoint": "degC", "height": "m",
           "wind_direction": "degree", "wind_speed": "knot"}


@dataclass
class Profile:
    """A cleaned sounding: pint quantities, surface first.

    Attributes
    ----------
    p, t, td, z
        Pressure, temperature, dew point and height above mean sea level of the levels
        with temperature (no repeated pressure).
    u, v, p_w, z_w
        Wind components, pressure and height above ground of the levels with wind
        (``None`` when the sounding has fewer than 3 wind levels).
    notes
        What was cleaned, filled or cannot be computed, for the reader of the result.
    key
        Memo key (the file's sha256); empty for no memo.
    td_top
        Highest level (hPa) with a measured dew point.
    """

    p: object
    t: object
    td: object
    z: object          # height above mean sea level
    u: object | None   # wind components where wind exists (same levels as p_w)
    v: object | None
    p_w: object | None
    z_w: object | None  # height above ground of the wind levels
    notes: list[str] = field(default_factory=list)
    key: str = ""
    td_top: float = 0.0  # highest level (hPa) with a measured dew point


def _values(ds: xr.Dataset, name: str, target: str) -> np.ndarray:
    """``ds[name]`` as float64 in ``target`` units (converted from its ``units`` attribute)."""
    da = ds[name]
    vals = np.asarray(da.values, dtype=np.float64)
    given = da.attrs.get("units")
    if given and given != target:
        from metpy.units import units

        try:
            vals = np.asarray(units.Quantity(vals, given).to(target).magnitude, dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - re-raised naming the argument
            raise ValueError(f"ds: variable {name!r} has units {given!r}, not convertible to {target}") from exc
    return vals


def profile_from_dataset(ds: xr.Dataset) -> Profile:
    """Clean a sounding dataset into a :class:`Profile`.

    Parameters
    ----------
    ds
        A sounding as the hvrmet sounding readers return it: ``pressure``, ``height``,
        ``temperature``, ``dewpoint``, ``wind_direction`` and ``wind_speed`` on one
        dimension, surface first, each with a ``units`` attribute (values are converted
        from it; hPa, m, degC and knot when absent).

    Returns
    -------
    Profile
        Levels without temperature or height are dropped (and counted in the notes);
        repeated pressures keep their first level; dew points missing between reported
        ones are interpolated in log-pressure, and above the last reported one taken at
        1 % relative humidity; wind levels are kept separately, since some soundings
        report wind where they lack temperature and the reverse. The reader's own notes
        (``ds.attrs["reader_notes"]``) come first in the notes.

    Raises
    ------
    TypeError
        If ``ds`` is not a dataset.
    ValueError
        If ``ds`` lacks a variable, has units that do not convert, has fewer than 3 levels
        with temperature, or no dew point at the lowest level with temperature.
    """
    import metpy.calc as mpcalc
    from metpy.units import units

    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds: expected an xarray.Dataset of a sounding, got {type(ds).__name__}")
    missing = [n for n in _NEEDED if n not in ds.variables]
    if missing:
        raise ValueError(f"ds: not a sounding dataset, it lacks {', '.join(missing)}")
    notes: list[str] = [str(n) for n in np.atleast_1d(ds.attrs.get("reader_notes", [])) if str(n)]
    p = _values(ds, "pressure", "hPa")
    t = _values(ds, "temperature", "degC")
    td = _values(ds, "dewpoint", "degC")
    z = _values(ds, "height", "m")
    ok = np.isfinite(p) & np.isfinite(t) & np.isfinite(z)
    dropped = int((~ok).sum())
    if dropped:
        notes.append(f"{dropped} level(s) without temperature or height were left out")
    if ok.sum() < 3:
        raise ValueError("ds: fewer than 3 levels with temperature")
    _, uniq = np.unique(-p[ok], return_index=True)
    sel = np.flatnonzero(ok)[np.sort(uniq)]
    pp, tt, tdd = p[sel], t[sel], td[sel]
    has_td = np.isfinite(tdd)
    if not has_td[0]:
        raise ValueError("ds: no dew point at the lowest level with temperature")
    if not has_td.all():
        last = np.flatnonzero(has_td)[-1]
        inside = ~has_td & (np.arange(len(tdd)) < last)
        if inside.any():
            tdd[inside] = np.interp(np.log(pp[inside])[::-1], np.log(pp[has_td])[::-1], tdd[has_td][::-1])[::-1]
            notes.append(f"{int(inside.sum())} missing dew point(s) interpolated in log-pressure")
        above = np.arange(len(tdd)) > last
        if above.any():
            rh1 = mpcalc.dewpoint_from_relative_humidity(tt[above] * units.degC, 0.01).to("degC").m
            tdd[above] = np.minimum(rh1, tt[above])
            notes.append(f"no dew point above {pp[last]:.0f} hPa (very dry air is reported without one): "
                         "taken as 1 % relative humidity there")
    prof_p = pp * units.hPa
    z_sfc = z[sel][0]
    if pp[-1] > 500.0:
        notes.append(f"the sounding stops at {pp[-1]:.0f} hPa, below 500 hPa: "
                     "indices needing mid-levels are not computed")
    wd, ws = _values(ds, "wind_direction", "degree"), _values(ds, "wind_speed", "knot")
    okw = np.isfinite(p) & np.isfinite(wd) & np.isfinite(ws) & np.isfinite(z)
    u = v = p_w = z_w = None
    if okw.sum() >= 3:
        _, uw = np.unique(-p[okw], return_index=True)
        sw = np.flatnonzero(okw)[np.sort(uw)]
        uu, vv = mpcalc.wind_components(ws[sw] * units.knot, wd[sw] * units.degree)
        u, v = uu.to("m/s"), vv.to("m/s")
        p_w = p[sw] * units.hPa
        z_w = (z[sw] - z_sfc) * units.m
        if z_w[-1].m < 6000:
            notes.append(f"wind reaches only {z_w[-1].m:.0f} m above ground")
    else:
        notes.append("the sounding has no wind: kinematic quantities are not computed")
    td_top = float(pp[np.flatnonzero(has_td)[-1]])
    return Profile(p=prof_p, t=tt * units.degC, td=tdd * units.degC, z=z[sel] * units.m,
                   u=u, v=v, p_w=p_w, z_w=z_w, notes=notes, key=str(ds.attrs.get("sha256", id(ds))),
                   td_top=td_top)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def ship(mucape: float, mu_mixing_ratio: float, lapse_700_500: float, t500: float,
         shear_0_6: float, freezing_level: float) -> float:
    """Significant hail parameter (SPC; Johnson and Sugden 2014, Electronic J. Severe
    Storms Meteor. 9(5)).

    Parameters
    ----------
    mucape : float
        Most-unstable CAPE (J/kg), at least 0.
    mu_mixing_ratio : float
        Mixing ratio of the most-unstable parcel (g/kg), at least 0; limited to 11–13.6.
    lapse_700_500 : float
        700–500 hPa lapse rate (K/km).
    t500 : float
        500 hPa temperature (degC), capped at -5.5.
    shear_0_6 : float
        0–6 km bulk shear (m/s), at least 0; limited to 7–27.
    freezing_level : float
        Height of the 0 °C level above ground (m), at least 0.

    Returns
    -------
    float
        SHIP (dimensionless); values above 1 point to significant (2 in or larger) hail.

    Raises
    ------
    ValueError
        Naming the argument that is not a finite number, or negative where it cannot be.
    """
    args = {"mucape": mucape, "mu_mixing_ratio": mu_mixing_ratio, "lapse_700_500": lapse_700_500,
            "t500": t500, "shear_0_6": shear_0_6, "freezing_level": freezing_level}
    vals = {k: _number(k, v) for k, v in args.items()}
    for k in ("mucape", "mu_mixing_ratio", "shear_0_6", "freezing_level"):
        if vals[k] < 0:
            raise ValueError(f"{k}: must not be negative, got {vals[k]!r}")
    mucape, lapse_700_500, freezing_level = vals["mucape"], vals["lapse_700_500"], vals["freezing_level"]
    mr = min(max(vals["mu_mixing_ratio"], 11.0), 13.6)
    t5 = min(vals["t500"], -5.5)
    sh = min(max(vals["shear_0_6"], 7.0), 27.0)
    val = mucape * mr * lapse_700_500 * -t5 * sh / 42_000_000.0
    if mucape < 1300.0:
        val *= mucape / 1300.0
    if lapse_700_500 < 5.8:
        val *= lapse_700_500 / 5.8
    if freezing_level < 2400.0:
        val *= freezing_level / 2400.0
    return float(val)


def _interp_at_pressure(p_hpa: np.ndarray, values: np.ndarray, target: float) -> float:
    if not (p_hpa.min() <= target <= p_hpa.max()):
        return float("nan")
    lp = np.log(p_hpa[::-1])
    return float(np.interp(np.log(target), lp, values[::-1]))


def _crossing_height(z_agl: np.ndarray, temp: np.ndarray) -> float:
    """Height above ground of the lowest 0 °C crossing going up (0 if the surface is at or
    below freezing)."""
    if temp[0] <= 0.0:
        return 0.0
    below = np.flatnonzero(temp <= 0.0)
    if below.size == 0:
        return float("nan")
    i = below[0]
    return float(np.interp(0.0, [temp[i], temp[i - 1]], [z_agl[i], z_agl[i - 1]]))


def warm_nose(z_agl: np.ndarray, temp_c: np.ndarray) -> tuple[float, float, float]:
    """The layer structure of freezing rain: a subfreezing layer at the ground under a
    melting (above 0 degC) layer aloft.

    Parameters
    ----------
    z_agl
        Heights above ground (m), increasing, first level the surface.
    temp_c
        Temperatures (degC) at those heights.

    Returns
    -------
    cold_depth, warm_max, warm_depth
        The depth (m) of the subfreezing layer from the ground up to the first 0 degC
        crossing (the whole profile when it never warms above 0 degC; 0 when the surface
        is above 0 degC: there is no such layer); the highest temperature (degC) above
        that layer; and the depth (m) of the first layer above 0 degC over it, between its
        two 0 degC crossings (0 when there is none; to the profile's top when it never
        cools again). Both are NaN without a subfreezing surface layer. Crossings are
        interpolated linearly in height. Falling snow melts partly in a warm layer whose
        maximum is about 1 degC and wholly at about 3-4 degC or more; the drops then
        freeze on contact below, or refreeze into ice pellets in a deep, cold layer (the
        card ``idx-warm-nose``; Bourgouin 2000, Wea. Forecasting 15, 583-592).
    """
    z = np.asarray(z_agl, dtype=np.float64)
    t = np.asarray(temp_c, dtype=np.float64)
    ok = np.isfinite(z) & np.isfinite(t)
    z, t = z[ok], t[ok]
    if z.size < 2:
        return float("nan"), float("nan"), float("nan")
    if t[0] > 0.0:
        return 0.0, float("nan"), float("nan")
    warm = np.flatnonzero(t > 0.0)
    if warm.size == 0:
        return float(z[-1] - z[0]), float(t[1:].max()), 0.0
    i = int(warm[0])
    base = float(np.interp(0.0, [t[i - 1], t[i]], [z[i - 1], z[i]]))
    cold_again = np.flatnonzero(t[i:] <= 0.0)
    if cold_again.size:
        j = i + int(cold_again[0])
        top = float(np.interp(0.0, [t[j], t[j - 1]], [z[j], z[j - 1]]))
    else:
        top = float(z[-1])
    return base - float(z[0]), float(t[i:].max()), top - base


def _mag(q, units_: str) -> float:
    try:
        return float(q.to(units_).magnitude)
    except AttributeError:
        return float(q)


_RESULTS: dict[str, dict] = {}


def diagnostics(prof: Profile) -> dict[str, tuple[float, str]]:
    """Every sounding quantity of :data:`UNITS`, computed with MetPy.

    Parameters
    ----------
    prof : Profile
        A cleaned sounding (:func:`profile_from_dataset`).

    Returns
    -------
    dict
        ``name -> (value, units)``; NaN where not computable, with a note in
        ``prof.notes`` saying why. Computed once per sounding (keyed by ``prof.key``, the
        file's sha256) and shared by every caller, so a loop that asks for several indices
        pays once.

    Raises
    ------
    TypeError
        If ``prof`` is not a :class:`Profile`.
    """
    if not isinstance(prof, Profile):
        raise TypeError(f"prof: expected a Profile (profile_from_dataset), got {type(prof).__name__}")
    with _LOCK:
        if prof.key and prof.key in _RESULTS:
            out, notes = _RESULTS[prof.key]
            prof.notes[:] = notes
            return out
    out = _compute(prof)
    with _LOCK:
        if prof.key:
            _RESULTS[prof.key] = (out, list(prof.notes))
    return out


#: Every quantity :func:`diagnostics` returns, and its units.
UNITS = {
    "sbcape": "J/kg", "sbcin": "J/kg", "mlcape": "J/kg", "mlcin": "J/kg", "mucape": "J/kg",
    "mucin": "J/kg", "mu_parcel_pressure": "hPa", "mu_mixing_ratio": "g/kg", "lcl_pressure": "hPa",
    "lcl_height": "m", "lfc_pressure": "hPa", "lfc_height": "m", "el_pressure": "hPa", "el_height": "m",
    "lifted_index": "delta_degC", "k_index": "degC", "total_totals": "delta_degC",
    "showalter_index": "delta_degC", "lapse_rate_700_500": "K/km", "t500": "degC",
    "precipitable_water": "mm", "dcape": "J/kg", "freezing_level": "m", "wet_bulb_zero_height": "m",
    "shear_0_1km": "m/s", "shear_0_3km": "m/s", "shear_0_6km": "m/s", "bunkers_right_u": "m/s",
    "bunkers_right_v": "m/s", "bunkers_right_speed": "m/s", "bunkers_right_direction": "degree",
    "bunkers_left_u": "m/s", "bunkers_left_v": "m/s", "srh_0_1km": "m^2/s^2", "srh_0_3km": "m^2/s^2",
    "stp": "1", "scp": "1", "ship": "1", "surface_cold_layer_depth": "m", "warm_layer_max_temperature": "degC",
    "warm_layer_depth": "m",
}


def _compute(prof: Profile) -> dict[str, tuple[float, str]]:
    """Fill every quantity of :data:`UNITS`; a step MetPy cannot do on this sounding leaves
    its quantities NaN and adds a note to ``prof.notes`` saying why."""
    import metpy.calc as mpcalc
    from metpy.units import units

    p, t, td, z = prof.p, prof.t, prof.td, prof.z
    z_agl = (z - z[0]).to("m")
    v: dict[str, float] = {k: float("nan") for k in UNITS}
    has_mid = p[-1].m <= 500.0

    def height_of(pres) -> float:
        m = _mag(pres, "hPa")
        return float(np.interp(np.log(m), np.log(p.m[::-1]), z_agl.m[::-1])) if np.isfinite(m) else float("nan")

    def parcels():
        parcel = mpcalc.parcel_profile(p, t[0], td[0]).to("degC")
        cape, cin = mpcalc.surface_based_cape_cin(p, t, td)
        v["sbcape"], v["sbcin"] = _mag(cape, "J/kg"), _mag(cin, "J/kg")
        lcl_p, _ = mpcalc.lcl(p[0], t[0], td[0])
        v["lcl_pressure"], v["lcl_height"] = _mag(lcl_p, "hPa"), height_of(lcl_p)
        lfc_p, _ = mpcalc.lfc(p, t, td, parcel)
        el_p, _ = mpcalc.el(p, t, td, parcel)
        v["lfc_pressure"], v["lfc_height"] = _mag(lfc_p, "hPa"), height_of(lfc_p)
        v["el_pressure"], v["el_height"] = _mag(el_p, "hPa"), height_of(el_p)
        if has_mid:
            v["lifted_index"] = _mag(mpcalc.lifted_index(p, t, parcel)[0], "delta_degC")

    def mixed_layer():
        cape, cin = mpcalc.mixed_layer_cape_cin(p, t, td, depth=100 * units.hPa)
        v["mlcape"], v["mlcin"] = _mag(cape, "J/kg"), _mag(cin, "J/kg")

    def most_unstable():
        cape, cin = mpcalc.most_unstable_cape_cin(p, t, td)
        v["mucape"], v["mucin"] = _mag(cape, "J/kg"), _mag(cin, "J/kg")
        mu_p, mu_t, mu_td, _ = mpcalc.most_unstable_parcel(p, t, td)
        v["mu_parcel_pressure"] = _mag(mu_p, "hPa")
        rh = mpcalc.relative_humidity_from_dewpoint(mu_t, mu_td)
        v["mu_mixing_ratio"] = _mag(mpcalc.mixing_ratio_from_relative_humidity(mu_p, mu_t, rh), "g/kg")

    def classic():
        if not has_mid:
            return
        v["k_index"] = _mag(mpcalc.k_index(p, t, td), "degC")
        v["total_totals"] = _mag(mpcalc.total_totals_index(p, t, td), "delta_degC")
        v["showalter_index"] = _mag(mpcalc.showalter_index(p, t, td)[0], "delta_degC")

    def lapse():
        if not has_mid:
            return
        t700, t500 = _interp_at_pressure(p.m, t.m, 700.0), _interp_at_pressure(p.m, t.m, 500.0)
        z700, z500 = _interp_at_pressure(p.m, z.m, 700.0), _interp_at_pressure(p.m, z.m, 500.0)
        v["lapse_rate_700_500"] = (t700 - t500) / ((z500 - z700) / 1000.0)
        v["t500"] = t500

    def moisture():
        v["precipitable_water"] = _mag(mpcalc.precipitable_water(p, td), "mm")

    def downdraft():
        if prof.td_top > p[0].m - 400.0:
            prof.notes.append("downdraft CAPE not computed: dew points are missing in the lowest 400 hPa")
            return
        v["dcape"] = _mag(mpcalc.downdraft_cape(p, t, td)[0], "J/kg")

    def freezing():
        v["freezing_level"] = _crossing_height(z_agl.m, t.m)
        tw = mpcalc.wet_bulb_temperature(p, t, td).to("degC")
        v["wet_bulb_zero_height"] = _crossing_height(z_agl.m, tw.m)
        cold, wmax, wdepth = warm_nose(z_agl.m, t.to("degC").m)
        v["surface_cold_layer_depth"], v["warm_layer_max_temperature"], v["warm_layer_depth"] = cold, wmax, wdepth

    def kinematics():
        if prof.u is None:
            return
        pw, uw, vw, zw = prof.p_w, prof.u, prof.v, prof.z_w
        top = zw[-1].m
        for depth_km in (1, 3, 6):
            if top >= depth_km * 1000:
                su, sv = mpcalc.bulk_shear(pw, uw, vw, height=zw, depth=depth_km * units.km)
                v[f"shear_0_{depth_km}km"] = _mag(np.hypot(su, sv), "m/s")
        if top < 6000:
            return
        rm, lm, _mean = mpcalc.bunkers_storm_motion(pw, uw, vw, zw)
        v["bunkers_right_u"], v["bunkers_right_v"] = _mag(rm[0], "m/s"), _mag(rm[1], "m/s")
        v["bunkers_left_u"], v["bunkers_left_v"] = _mag(lm[0], "m/s"), _mag(lm[1], "m/s")
        v["bunkers_right_speed"] = _mag(mpcalc.wind_speed(rm[0], rm[1]), "m/s")
        v["bunkers_right_direction"] = _mag(mpcalc.wind_direction(rm[0], rm[1]), "degree")
        for depth_km in (1, 3):
            _pos, _neg, tot = mpcalc.storm_relative_helicity(zw, uw, vw, depth=depth_km * units.km,
                                                             storm_u=rm[0], storm_v=rm[1])
            v[f"srh_0_{depth_km}km"] = _mag(tot, "m^2/s^2")

    def composites():
        stp = mpcalc.significant_tornado(v["sbcape"] * units("J/kg"), v["lcl_height"] * units.m,
                                         v["srh_0_1km"] * units("m^2/s^2"), v["shear_0_6km"] * units("m/s"))
        v["stp"] = float(np.atleast_1d(stp.to("dimensionless").magnitude)[0])
        scp = mpcalc.supercell_composite(v["mucape"] * units("J/kg"), v["srh_0_3km"] * units("m^2/s^2"),
                                         v["shear_0_6km"] * units("m/s"))
        v["scp"] = float(np.atleast_1d(scp.to("dimensionless").magnitude)[0])
        if all(np.isfinite(v[k]) for k in ("mucape", "mu_mixing_ratio", "lapse_rate_700_500", "t500",
                                            "shear_0_6km", "freezing_level")):
            v["ship"] = ship(v["mucape"], v["mu_mixing_ratio"], v["lapse_rate_700_500"], v["t500"],
                             v["shear_0_6km"], v["freezing_level"])

    steps = [("surface parcel", parcels), ("mixed-layer parcel", mixed_layer),
             ("most-unstable parcel", most_unstable), ("classic indices", classic),
             ("lapse rate", lapse), ("precipitable water", moisture), ("downdraft CAPE", downdraft),
             ("freezing level", freezing), ("shear and helicity", kinematics),
             ("composite parameters", composites)]
    for label, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - recorded as a note on the result
            prof.notes.append(f"{label} not computed: {type(exc).__name__}: {exc}")
    return {k: (float(val), UNITS[k]) for k, val in v.items()}
