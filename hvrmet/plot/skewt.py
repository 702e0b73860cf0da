"""Skew-T log-p diagram and hodograph of a sounding (MetPy ``SkewT`` and ``Hodograph``)."""

from __future__ import annotations

import numpy as np

from hvrmet.calc.sounding import Profile

__all__ = ["skewt_figure", "hodograph_figure"]

#: Height layers (km above ground) of the coloured hodograph segments.
LAYERS_KM = (0.0, 1.0, 3.0, 6.0, 9.0)
LAYER_COLOURS = ("tab:red", "tab:green", "tab:blue", "tab:purple")


def _knots(prof: Profile):
    return prof.u.to("knot"), prof.v.to("knot")


def _draw_hodograph(ax_h, prof: Profile, diag: dict, *, component_range: float, label: bool) -> None:
    from metpy.plots import Hodograph
    from metpy.units import units

    h = Hodograph(ax_h, component_range=component_range)
    h.add_grid(increment=20 if component_range > 40 else 10, linewidth=0.5)
    u, v = _knots(prof)
    z = prof.z_w.to("m")
    top = min(LAYERS_KM[-1], z[-1].m / 1000.0)
    bounds = [b for b in LAYERS_KM if b < top] + [top]
    if len(bounds) >= 2:
        h.plot_colormapped(u, v, z, intervals=np.array(bounds) * units.km,
                           colors=list(LAYER_COLOURS[:len(bounds) - 1]), linewidth=2.2)
    rm_u, rm_v = diag["bunkers_right_u"][0], diag["bunkers_right_v"][0]
    if np.isfinite(rm_u):
        kt = (1 * units("m/s")).to("knot").m
        lm_u, lm_v = diag["bunkers_left_u"][0], diag["bunkers_left_v"][0]
        ax_h.plot(rm_u * kt, rm_v * kt, "o", ms=7, mfc="white", mec="k", mew=1.3, zorder=6)
        ax_h.plot(lm_u * kt, lm_v * kt, "s", ms=5, mfc="white", mec="0.3", mew=1.0, zorder=6)
        if label:
            ax_h.annotate("RM", (rm_u * kt, rm_v * kt), xytext=(5, -10), textcoords="offset points", fontsize=9)
            ax_h.annotate("LM", (lm_u * kt, lm_v * kt), xytext=(5, 4), textcoords="offset points", fontsize=9)
    if label:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=c, lw=2.2, label=f"{a:g}-{b:g} km")
                   for c, a, b in zip(LAYER_COLOURS, bounds[:-1], bounds[1:])]
        if np.isfinite(rm_u):
            handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="k",
                                  label=f"Bunkers RM {diag['bunkers_right_direction'][0]:.0f}° / "
                                        f"{diag['bunkers_right_speed'][0] * kt:.0f} kt"))
        ax_h.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)


def skewt_figure(prof: Profile, diag: dict, title: str):
    """A skew-T with temperature, dew point, the surface parcel, CAPE/CIN shading, wind
    barbs (kt) and an inset hodograph (0-1/1-3/3-6/6-9 km coloured, Bunkers motion).

    Parameters
    ----------
    prof
        Cleaned sounding (:func:`hvrmet.calc.sounding.profile_from_dataset`).
    diag
        Its diagnostics (:func:`hvrmet.calc.sounding.diagnostics`), for the labels.
    title
        Figure title (station and time).
    """
    from matplotlib.figure import Figure
    import metpy.calc as mpcalc
    from metpy.plots import SkewT
    from mpl_toolkits.axes_grid1.inset_locator import inset_axes

    fig = Figure(figsize=(8.2, 8.2))
    skew = SkewT(fig, rotation=45)
    p, t, td = prof.p, prof.t, prof.td
    skew.plot(p, t, "r", linewidth=2, label="temperature")
    skew.plot(p, td, "g", linewidth=2, label="dew point")
    parcel = mpcalc.parcel_profile(p, t[0], td[0]).to("degC")
    skew.plot(p, parcel, "k", linewidth=1.6, ls="--", label="surface parcel")
    skew.shade_cape(p, t, parcel, alpha=0.25)
    skew.shade_cin(p, t, parcel, td, alpha=0.25)
    lcl_p, lcl_t = mpcalc.lcl(p[0], t[0], td[0])
    skew.plot(lcl_p, lcl_t, "ko", markerfacecolor="black", ms=5)
    skew.ax.annotate("LCL", (lcl_t.m, lcl_p.m), xytext=(6, 0), textcoords="offset points", fontsize=9)
    if prof.u is not None:
        u, v = _knots(prof)
        step = max(1, len(prof.p_w) // 30)
        skew.plot_barbs(prof.p_w[::step], u[::step], v[::step], length=6, xloc=0.95)
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
        return "n/a" if not np.isfinite(val) else f"{val:.{nd}f} {unit}"

    text = "\n".join([f"SBCAPE {fmt('sbcape', 'J/kg')}", f"SBCIN {fmt('sbcin', 'J/kg')}",
                      f"MLCAPE {fmt('mlcape', 'J/kg')}", f"LCL {fmt('lcl_height', 'm')} AGL",
                      f"0-6 km shear {fmt('shear_0_6km', 'm/s')}", f"0-1 km SRH {fmt('srh_0_1km', 'm²/s²')}",
                      f"STP {fmt('stp', '', 1)}"])
    skew.ax.text(0.015, 0.985, text, transform=skew.ax.transAxes, va="top", fontsize=8.5, family="monospace",
                 bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.6"})
    if prof.u is not None:
        ax_h = inset_axes(skew.ax, "30%", "30%", loc="upper right", borderpad=0.8)
        _draw_hodograph(ax_h, prof, diag, component_range=60, label=False)
        ax_h.set_xticklabels([])
        ax_h.set_yticklabels([])
        ax_h.set_title("hodograph (kt)", fontsize=8, pad=2)
    skew.ax.set_title(title, fontsize=11)
    return fig


def hodograph_figure(prof: Profile, diag: dict, title: str):
    """A hodograph in knots with 0-1, 1-3, 3-6 and 6-9 km segments coloured and the Bunkers
    right- (circle) and left-mover (square) motions marked."""
    from matplotlib.figure import Figure

    if prof.u is None:
        raise ValueError("the sounding has no wind")
    fig = Figure(figsize=(6.2, 6.2))
    ax = fig.add_subplot(1, 1, 1)
    u, v = _knots(prof)
    zmask = prof.z_w.m <= LAYERS_KM[-1] * 1000.0
    reach = float(np.nanmax(np.hypot(u.m[zmask], v.m[zmask]))) if zmask.any() else 40.0
    rng = float(np.ceil(max(reach, 30.0) / 10.0) * 10.0 + 10.0)
    _draw_hodograph(ax, prof, diag, component_range=rng, label=True)
    ax.set_xlabel("u (kt)")
    ax.set_ylabel("v (kt)")
    ax.set_title(title, fontsize=11)
    return fig
