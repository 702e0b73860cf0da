"""Skew-T log-p diagram and hodograph of a sounding (MetPy ``SkewT`` and ``Hodograph``).

Laid out as in MetPy's gallery ("Hodograph Inset", "Advanced Sounding"): temperature,
dew point and the surface parcel with CAPE and CIN shaded, the LCL, LFC and EL marked,
barbs in knots thinned to a readable spacing, a box of indices, and an inset hodograph
whose rings are labelled in knots and whose height layers (0-1, 1-3, 3-6, 6-9 km above
ground) have a legend, with the Bunkers storm motions marked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hvrmet.calc.sounding import Profile

__all__ = ["skewt_figure", "hodograph_figure", "thin_levels", "LAYERS_KM", "LAYER_COLOURS"]

#: Height layers (km above ground) of the coloured hodograph segments.
LAYERS_KM = (0.0, 1.0, 3.0, 6.0, 9.0)
LAYER_COLOURS = ("tab:red", "tab:green", "tab:blue", "tab:purple")


def _knots(prof: Profile):
    return prof.u.to("knot"), prof.v.to("knot")


def thin_levels(p_hpa: np.ndarray, min_dlogp: float = 0.035) -> np.ndarray:
    """Indices of levels at least ``min_dlogp`` apart in ln(p) (about 35 hPa near the
    ground, 9 hPa at 250 hPa): barbs that do not overlap on the log-p axis."""
    p = np.asarray(p_hpa, float)
    keep: list[int] = []
    last = np.inf
    for i in np.argsort(-p):
        if not np.isfinite(p[i]):
            continue
        if not keep or abs(np.log(last) - np.log(p[i])) >= min_dlogp:
            keep.append(int(i))
            last = p[i]
    return np.array(sorted(keep, key=lambda i: -p[i]), int)


def _ring_labels(ax_h, component_range: float, increment: float, fontsize: float) -> None:
    """Speed of each ring (kt), written where the ring crosses the lower-right diagonal
    (northern-hemisphere hodographs veer into the upper right)."""
    import matplotlib.patheffects as pe

    r = increment
    while r < component_range:
        a = np.deg2rad(315.0)
        ax_h.text(r * np.cos(a), r * np.sin(a), f"{r:g}", fontsize=fontsize, color="0.3", ha="center", va="center",
                  path_effects=[pe.withStroke(linewidth=2, foreground="white")], zorder=4)
        r += increment


def _draw_hodograph(ax_h, prof: Profile, diag: dict, *, component_range: float, label: bool,
                    inset: bool = False) -> list[dict[str, Any]]:
    """The hodograph on ``ax_h``; returns the marks drawn (storm motions) for the sidecar."""
    from matplotlib.lines import Line2D
    from metpy.plots import Hodograph
    from metpy.units import units

    h = Hodograph(ax_h, component_range=component_range)
    increment = 20 if component_range > 40 else 10
    h.add_grid(increment=increment, linewidth=0.5)
    _ring_labels(ax_h, component_range, increment, 6.5 if inset else 8)
    u, v = _knots(prof)
    z = prof.z_w.to("m")
    top = min(LAYERS_KM[-1], z[-1].m / 1000.0)
    bounds = [b for b in LAYERS_KM if b < top] + [top]
    if len(bounds) >= 2:
        h.plot_colormapped(u, v, z, intervals=np.array(bounds) * units.km,
                           colors=list(LAYER_COLOURS[:len(bounds) - 1]), linewidth=2.2)
    handles = [Line2D([], [], color=c, lw=2.2, label=f"{a:g}-{b:g} km")
               for c, a, b in zip(LAYER_COLOURS, bounds[:-1], bounds[1:])]
    marks: list[dict[str, Any]] = []
    rm_u, rm_v = diag["bunkers_right_u"][0], diag["bunkers_right_v"][0]
    if np.isfinite(rm_u):
        kt = (1 * units("m/s")).to("knot").m
        lm_u, lm_v = diag["bunkers_left_u"][0], diag["bunkers_left_v"][0]
        ax_h.plot(rm_u * kt, rm_v * kt, "o", ms=7 if not inset else 6, mfc="white", mec="k", mew=1.3, zorder=6)
        ax_h.plot(lm_u * kt, lm_v * kt, "s", ms=5, mfc="white", mec="0.3", mew=1.0, zorder=6)
        ax_h.annotate("RM", (rm_u * kt, rm_v * kt), xytext=(5, -9), textcoords="offset points",
                      fontsize=7 if inset else 9)
        ax_h.annotate("LM", (lm_u * kt, lm_v * kt), xytext=(5, 4), textcoords="offset points", fontsize=7 if inset else 9)
        rm_dir, rm_spd = diag["bunkers_right_direction"][0], diag["bunkers_right_speed"][0] * kt
        handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="k",
                              label=f"Bunkers RM {rm_dir:.0f}°/{rm_spd:.0f} kt"))
        marks.append({"kind": "storm_motion", "label": f"Bunkers right mover {rm_dir:.0f}° {rm_spd:.0f} kt",
                      "u_kt": round(float(rm_u * kt), 1), "v_kt": round(float(rm_v * kt), 1)})
        marks.append({"kind": "storm_motion", "label": "Bunkers left mover",
                      "u_kt": round(float(lm_u * kt), 1), "v_kt": round(float(lm_v * kt), 1)})
    if label or inset:
        ax_h.legend(handles=handles, loc="lower left", fontsize=6.5 if inset else 8, framealpha=0.9,
                    handlelength=1.4, borderpad=0.3, labelspacing=0.25)
    return marks


def skewt_figure(prof: Profile, diag: dict, title: str):
    """A skew-T with temperature, dew point, the surface parcel, CAPE/CIN shading, the
    LCL, LFC and EL, wind barbs (kt) and an inset hodograph (0-1/1-3/3-6/6-9 km coloured,
    rings labelled in kt, Bunkers motion).

    Parameters
    ----------
    prof
        Cleaned sounding (:func:`hvrmet.calc.sounding.profile_from_dataset`).
    diag
        Its diagnostics (:func:`hvrmet.calc.sounding.diagnostics`), for the labels.
    title
        Figure title (station and time).

    Returns
    -------
    fig, marks
        The figure and the levels and storm motions marked (sidecar records).
    """
    import matplotlib.patheffects as pe
    import metpy.calc as mpcalc
    from matplotlib.figure import Figure
    from metpy.plots import SkewT
    from mpl_toolkits.axes_grid1.inset_locator import inset_axes

    fig = Figure(figsize=(8.4, 8.4))
    skew = SkewT(fig, rotation=45)
    p, t, td = prof.p, prof.t, prof.td
    skew.plot(p, t, "r", linewidth=2, label="temperature (°C)")
    skew.plot(p, td, "g", linewidth=2, label="dew point (°C)")
    parcel = mpcalc.parcel_profile(p, t[0], td[0]).to("degC")
    skew.plot(p, parcel, "k", linewidth=1.6, ls="--", label="surface parcel")
    skew.shade_cape(p, t, parcel, alpha=0.25)
    skew.shade_cin(p, t, parcel, td, alpha=0.25)
    marks: list[dict[str, Any]] = []
    halo = [pe.withStroke(linewidth=2.5, foreground="white")]
    lcl_p, lcl_t = mpcalc.lcl(p[0], t[0], td[0])
    levels = [("LCL", lcl_p.to("hPa").m, lcl_t.to("degC").m)]
    for name, key in (("LFC", "lfc_pressure"), ("EL", "el_pressure")):
        val = diag.get(key, (np.nan,))[0]
        if np.isfinite(val):
            levels.append((name, float(val), float(np.interp(np.log(val), np.log(p.m[::-1]), parcel.m[::-1]))))
    for name, lp, lt in levels:
        skew.plot(lp, lt, "ko", markerfacecolor="black", ms=5)
        skew.ax.annotate(f"{name} {lp:.0f} hPa", (lt, lp), xytext=(7, 0), textcoords="offset points", fontsize=8.5,
                         va="center", path_effects=halo, zorder=8)
        marks.append({"kind": name.lower(), "label": f"{name} {lp:.0f} hPa", "pressure_hpa": round(float(lp), 1)})
    if prof.u is not None:
        u, v = _knots(prof)
        idx = thin_levels(prof.p_w.to("hPa").m)
        idx = idx[prof.p_w.to("hPa").m[idx] >= 100]
        skew.plot_barbs(prof.p_w[idx], u[idx], v[idx], length=6, xloc=0.95)
        skew.ax.text(0.95, 1.005, "wind (kt)", transform=skew.ax.transAxes, ha="center", va="bottom", fontsize=8)
    skew.plot_dry_adiabats(alpha=0.25, linewidth=0.8)
    skew.plot_moist_adiabats(alpha=0.25, linewidth=0.8)
    skew.plot_mixing_lines(alpha=0.3, linewidth=0.8)
    skew.ax.axvline(0, color="c", linestyle="--", linewidth=1)
    skew.ax.set_ylim(1050, 100)
    skew.ax.set_xlim(-40, 50)
    skew.ax.set_xlabel("temperature (°C)")
    skew.ax.set_ylabel("pressure (hPa)")
    skew.ax.legend(loc="lower left", fontsize=8, framealpha=0.9)

    def fmt(key: str, unit: str, nd: int = 0) -> str:
        val = diag[key][0]
        return "n/a" if not np.isfinite(val) else f"{val:.{nd}f} {unit}".rstrip()

    text = "\n".join([f"SBCAPE {fmt('sbcape', 'J/kg')}", f"SBCIN  {fmt('sbcin', 'J/kg')}",
                      f"MLCAPE {fmt('mlcape', 'J/kg')}", f"LCL    {fmt('lcl_height', 'm')} AGL",
                      f"0-6 km shear {fmt('shear_0_6km', 'm/s')}", f"0-1 km SRH {fmt('srh_0_1km', 'm²/s²')}",
                      f"STP {fmt('stp', '', 1)}"])
    skew.ax.text(0.015, 0.985, text, transform=skew.ax.transAxes, va="top", fontsize=8.5, family="monospace",
                 bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.6"})
    if prof.u is not None:
        ax_h = inset_axes(skew.ax, "36%", "36%", loc="upper right", borderpad=0.9)
        marks += _draw_hodograph(ax_h, prof, diag, component_range=60, label=False, inset=True)
        ax_h.set_xticklabels([])
        ax_h.set_yticklabels([])
        ax_h.tick_params(length=0)
        ax_h.set_title("hodograph (kt; rings every 20 kt)", fontsize=7.5, pad=2)
    skew.ax.set_title(title, fontsize=10.5)
    return fig, marks


def hodograph_figure(prof: Profile, diag: dict, title: str):
    """A hodograph in knots with 0-1, 1-3, 3-6 and 6-9 km segments coloured, rings
    labelled and the Bunkers right- (circle) and left-mover (square) motions marked.

    Returns
    -------
    fig, marks
        The figure and the storm motions marked (sidecar records).
    """
    from matplotlib.figure import Figure

    if prof.u is None:
        raise ValueError("the sounding has no wind")
    fig = Figure(figsize=(6.2, 6.2))
    ax = fig.add_subplot(1, 1, 1)
    u, v = _knots(prof)
    zmask = prof.z_w.m <= LAYERS_KM[-1] * 1000.0
    reach = float(np.nanmax(np.hypot(u.m[zmask], v.m[zmask]))) if zmask.any() else 40.0
    rng = float(np.ceil(max(reach, 30.0) / 10.0) * 10.0 + 10.0)
    marks = _draw_hodograph(ax, prof, diag, component_range=rng, label=True)
    ax.set_xlabel("u (kt)")
    ax.set_ylabel("v (kt)")
    ax.set_title(title, fontsize=11)
    return fig, marks
