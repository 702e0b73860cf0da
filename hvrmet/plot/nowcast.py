"""Nowcast figures: observed vs forecast reflectivity at several lead times with threshold
contours, and CSI/HSS against lead time.

Both are drawn from arrays the caller verified (:mod:`hvrmet.nowcast.verification`,
pysteps' contingency tables); nothing here computes a score. The tools that call them
are in :mod:`hvrmet.tools.nowcast_figures`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["nowcast_panels_figure", "nowcast_scores_figure", "THRESHOLD_COLOURS"]

#: Contour colours of the reflectivity thresholds, in the order given.
THRESHOLD_COLOURS = ("#1b1b1b", "#c2185b", "#6a1b9a", "#00695c")
#: Line styles of the thresholds in the score plot, in the order given.
_STYLES = ("-", "--", ":", "-.")
_METHOD_COLOURS = {"persistence": "#9e9e9e", "extrapolation": "#1f77b4", "sprog": "#2ca02c",
                   "pa_net": "#d62728", "metok": "#9467bd", "impa_net": "#ff7f0e"}


def _contours(ax, field: np.ndarray, thresholds: Sequence[float], extent, origin: str, *, linestyle="-",
              linewidth=0.9) -> None:
    f = np.where(np.isfinite(field), field, -np.inf)
    for k, thr in enumerate(thresholds):
        if not np.any(f > thr):
            continue
        ax.contour(np.where(np.isfinite(field), field, -99.0), levels=[float(thr)], extent=extent, origin=origin,
                   colors=[THRESHOLD_COLOURS[k % len(THRESHOLD_COLOURS)]], linewidths=linewidth,
                   linestyles=linestyle)


def nowcast_panels_figure(observed: Sequence[np.ndarray | None], forecast: Sequence[np.ndarray],
                          leads_min: Sequence[float], thresholds: Sequence[float], *, analysis: np.ndarray,
                          extent_km: tuple[float, float, float, float], origin: str, title: str,
                          valid_times: Sequence[str], panel_notes: Sequence[str] | None = None,
                          method: str = "forecast"):
    """Two rows of panels, one column per lead time (after a column with the analysis):
    observed reflectivity above, the forecast below, both on the NWS colour table with
    the thresholds as contours of their own field (solid); each forecast panel also has
    the observed contour of the first threshold (dashed) to compare positions. A lead
    without a native observation (``observed[i] is None``) says so instead of a field.

    Returns the :class:`matplotlib.figure.Figure` and the colour-scale info.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from hvrmet.plot.maps import reflectivity_scale

    cmap, norm, info = reflectivity_scale()
    n = len(leads_min)
    if len(observed) != n or len(forecast) != n or len(valid_times) != n:
        raise ValueError("observed, forecast, valid_times and leads_min must have the same length")
    fig = Figure(figsize=(2.6 * (n + 1) + 0.6, 5.6))
    axes = fig.subplots(2, n + 1, sharex=True, sharey=True, squeeze=False)
    kw = dict(cmap=cmap, norm=norm, extent=extent_km, origin=origin, interpolation="nearest")

    def shade(ax, field):
        return ax.imshow(np.ma.masked_where(~np.isfinite(field) | (field < norm.vmin), field), **kw)

    im = shade(axes[0, 0], analysis)
    _contours(axes[0, 0], analysis, thresholds, extent_km, origin)
    axes[0, 0].set_title("analysis (observed)", fontsize=9)
    axes[1, 0].axis("off")
    handles = [Line2D([], [], color=THRESHOLD_COLOURS[k % len(THRESHOLD_COLOURS)], lw=1.2, label=f"{thr:g} dBZ")
               for k, thr in enumerate(thresholds)]
    handles.append(Line2D([], [], color=THRESHOLD_COLOURS[0], lw=1.2, ls="--",
                          label=f"observed {thresholds[0]:g} dBZ\non the forecast"))
    axes[1, 0].legend(handles=handles, loc="center", fontsize=8, frameon=False, title="contours",
                      title_fontsize=8)
    for i, lead in enumerate(leads_min):
        top, bot = axes[0, i + 1], axes[1, i + 1]
        obs = observed[i]
        if obs is None:
            top.text(0.5, 0.5, "no native\nobservation", ha="center", va="center", transform=top.transAxes,
                     fontsize=9, color="0.35")
            top.set_facecolor("0.93")
        else:
            shade(top, obs)
            _contours(top, obs, thresholds, extent_km, origin)
        top.set_title(f"observed +{lead:g} min\n{valid_times[i]}", fontsize=8)
        shade(bot, forecast[i])
        _contours(bot, forecast[i], thresholds, extent_km, origin)
        if obs is not None:
            _contours(bot, obs, thresholds[:1], extent_km, origin, linestyle="--", linewidth=0.8)
        note = f"\n{panel_notes[i]}" if panel_notes else ""
        bot.set_title(f"{method} +{lead:g} min{note}", fontsize=8)
    for ax in axes.ravel():
        ax.tick_params(labelsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("km", fontsize=8)
    for ax in axes[1, 1:]:
        ax.set_xlabel("km", fontsize=8)
    cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.01, fraction=0.02)
    cb.set_label("reflectivity (dBZ)", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    return fig, info


def nowcast_scores_figure(leads_min: Sequence[float], scores: dict[str, dict[str, dict[float, Sequence[float]]]],
                          thresholds: Sequence[float], *, title: str, n_pairs: Sequence[int] | None = None):
    """CSI (left) and HSS (right) against lead time: one colour per method, one line
    style per threshold; a lead with no verified pair is a gap (NaN).

    ``scores`` is ``method -> {"CSI": {thr: per lead}, "HSS": {thr: per lead}}``.
    Returns the :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.5, 4.2))
    axes = fig.subplots(1, 2, sharex=True)
    lt = np.asarray(leads_min, dtype=float)
    for j, (method, by_score) in enumerate(scores.items()):
        colour = _METHOD_COLOURS.get(method, f"C{j % 10}")
        for ax, name in zip(axes, ("CSI", "HSS")):
            for k, thr in enumerate(thresholds):
                v = np.asarray(by_score[name][thr], dtype=float)
                ax.plot(lt, v, color=colour, ls=_STYLES[k % len(_STYLES)], marker="o", ms=3, lw=1.4,
                        label=f"{method} {thr:g} dBZ")
    for ax, name in zip(axes, ("CSI", "HSS")):
        ax.set_xlabel("lead time (min)")
        ax.set_ylabel(name)
        ax.set_title(f"{name} per lead time" + (" (critical success index)" if name == "CSI" else
                                               " (Heidke skill score)"), fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_xticks(lt)
        ax.tick_params(labelsize=7)
        ax.axhline(0.0, color="0.6", lw=0.6)
    axes[1].legend(fontsize=7, loc="upper right", ncol=1 if len(scores) * len(thresholds) <= 6 else 2)
    if n_pairs is not None:
        axes[0].text(0.01, 0.01, "verified analyses per lead: " + " ".join(str(int(x)) for x in n_pairs),
                     transform=axes[0].transAxes, fontsize=6.5, color="0.35", va="bottom")
    fig.suptitle(title, fontsize=10)
    return fig
