"""Features marked on a map: what a diagnosis found (rotation, TVS, storm cells, the hail
core, pressure centres), each a symbol with a short label.

Symbols follow the usual radar-display conventions: a mesocyclone or rotation couplet is
a thick circle, a tornado vortex signature a red inverted triangle, a storm cell a black
cross with its id, the hail core a green triangle; pressure centres are a blue **H** and a
red **L** with the central value beneath, as on surface analyses. Every mark drawn is
returned as a record for the figure's sidecar (kind, lat, lon, label, and where it is
relative to the nearest town).

:func:`pressure_centres` finds H and L centres as local extrema of a gridded field
(``scipy.ndimage.maximum_filter`` / ``minimum_filter`` over a window, as in the Unidata
gallery's ``plot_maxmin_points``), keeping only those that stand out from their
surroundings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["Mark", "MARK_KINDS", "draw_marks", "pressure_centres"]

#: Kinds of mark and their style: marker, size (points), face, edge, edge width, label colour.
MARK_KINDS: dict[str, dict[str, Any]] = {
    "rotation": {"marker": "o", "ms": 17, "mfc": "none", "mec": "#ffd400", "mew": 3.0, "colour": "black",
                 "outline": "black"},
    "mesocyclone": {"marker": "o", "ms": 17, "mfc": "none", "mec": "#ffd400", "mew": 3.0, "colour": "black",
                    "outline": "black"},
    "tvs": {"marker": "v", "ms": 13, "mfc": "#e00000", "mec": "white", "mew": 1.2, "colour": "#b00000"},
    "cell": {"marker": "P", "ms": 8, "mfc": "black", "mec": "white", "mew": 0.8, "colour": "black"},
    "hail_core": {"marker": "^", "ms": 11, "mfc": "#00c000", "mec": "black", "mew": 1.0, "colour": "#006000"},
    "low": {"text": "L", "colour": "#d00000"},
    "high": {"text": "H", "colour": "#0033cc"},
    "point": {"marker": "X", "ms": 9, "mfc": "#ff00ff", "mec": "black", "mew": 0.8, "colour": "black"},
}


_TAGS = {"rotation": "ROT", "mesocyclone": "MESO", "tvs": "TVS", "hail_core": "HAIL", "point": ""}


@dataclass
class Mark:
    """A feature to mark: its kind (a key of :data:`MARK_KINDS`), where, and a label.

    ``tag`` is the short text beside the symbol (``"MESO"``, ``"C2"``; from the kind when
    empty); ``label`` the full text of the figure's key (``"Vrot 22 m/s at 0.4°"``).
    ``value`` (with ``units``) is the number the label shows (Vrot, dBZ, hPa); ``detail``
    carries anything else for the sidecar; ``near`` is filled in when drawn
    (``"6 km W of Newcastle"``)."""

    kind: str
    lat: float
    lon: float
    label: str
    value: float | None = None
    units: str = ""
    source: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    near: str = ""
    tag: str = ""

    def short(self) -> str:
        if self.tag:
            return self.tag
        if self.kind in _TAGS and _TAGS[self.kind]:
            return _TAGS[self.kind]
        return self.label if len(self.label) <= 14 else self.kind

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["tag"] = self.short()
        if not d["detail"]:
            d.pop("detail")
        return {k: v for k, v in d.items() if v not in (None, "")}


def _style(kind: str) -> dict[str, Any]:
    return MARK_KINDS.get(kind, MARK_KINDS["point"])


def draw_marks(ax, marks: list[Mark], layout=None, *, describe: bool = True, fontsize: float = 8.5,
               zorder: float = 11, key: bool = True, before_tags=None) -> list[dict[str, Any]]:
    """Draw the marks that fall on the map: the symbols first, then a short tag beside
    each where it fits, and (``key``) a key below the map giving each mark's tag, label
    and nearest town.

    Parameters
    ----------
    ax
        A cartopy GeoAxes.
    marks
        What to mark; unknown kinds are drawn as ``point``.
    layout
        A :class:`hvrmet.plot.places.LabelLayout`: the marks' symbols and tags take
        their boxes there, so place names drawn afterwards keep clear of them.
    describe
        Fill each mark's ``near`` from the gazetteer (``"6 km W of Newcastle"``).
    before_tags
        Called with the marks on the map once their symbols are drawn and before their
        tags are placed (to label the towns beside them first).

    Returns
    -------
    list of dict
        The sidecar record of every mark drawn (off-map marks are left out).
    """
    import cartopy.crs as ccrs
    import matplotlib.patheffects as pe

    from hvrmet.plot.places import LabelLayout, describe_point

    layout = layout or LabelLayout(ax)
    pc = ccrs.PlateCarree()
    to_px = ax.figure.dpi / 72.0
    halo = [pe.withStroke(linewidth=2.8, foreground="white")]
    on_map: list[tuple[Mark, tuple[float, float]]] = []
    for m in marks:
        if not (np.isfinite(m.lat) and np.isfinite(m.lon)):
            continue
        xy = layout.display_xy(m.lon, m.lat)
        if xy is None:
            continue
        if describe and not m.near and m.kind not in ("low", "high"):
            m.near = describe_point(m.lat, m.lon)
        on_map.append((m, xy))
    for m, xy in on_map:  # every symbol first, so no tag covers another mark
        st = _style(m.kind)
        if "text" in st:  # pressure centres: a letter with the value beneath
            ax.text(m.lon, m.lat, st["text"], transform=pc, ha="center", va="center", fontsize=22,
                    fontweight="bold", color=st["colour"], zorder=zorder, clip_on=True, path_effects=halo)
            if m.value is not None:
                ax.annotate(f"{m.value:.0f}", (m.lon, m.lat), xycoords=pc._as_mpl_transform(ax), xytext=(0, -12),
                            textcoords="offset points", ha="center", va="top", fontsize=9, fontweight="bold",
                            color=st["colour"], zorder=zorder, path_effects=halo, annotation_clip=True)
            r = 11 * to_px
            layout.take((xy[0] - r, xy[1] - 2.3 * r, xy[0] + r, xy[1] + r))
            continue
        if st.get("outline"):  # a dark rim under the yellow ring, visible on any colour
            ax.plot(m.lon, m.lat, marker=st["marker"], ms=st["ms"], mfc="none", mec=st["outline"],
                    mew=st["mew"] + 2.0, transform=pc, zorder=zorder, linestyle="none")
        ax.plot(m.lon, m.lat, marker=st["marker"], ms=st["ms"], mfc=st["mfc"], mec=st["mec"],
                mew=st["mew"], transform=pc, zorder=zorder + 0.1, linestyle="none")
        r = (st["ms"] / 2 + st["mew"]) * to_px
        layout.take((xy[0] - r, xy[1] - r, xy[0] + r, xy[1] + r))
    if before_tags is not None:
        before_tags([m for m, _ in on_map])
    for m, xy in on_map:
        st = _style(m.kind)
        if "text" in st:
            continue
        tag = m.short()
        off = st["ms"] / 2 + 2
        slots = [(off, 0, "left", "center"), (-off, 0, "right", "center"), (0, off, "center", "bottom"),
                 (0, -off, "center", "top"), (off, off, "left", "bottom"), (-off, off, "right", "bottom"),
                 (off, -off, "left", "top"), (-off, -off, "right", "top")]
        for dx, dy, ha, va in slots:
            box = layout.text_box(tag, fontsize, xy, dx * to_px, dy * to_px, ha, va)
            if layout.free(box):
                break
        else:  # nowhere free: the slot that covers least of what is drawn
            dx, dy, ha, va = min(slots, key=lambda sl: layout.overlap(
                layout.text_box(tag, fontsize, xy, sl[0] * to_px, sl[1] * to_px, sl[2], sl[3])))
            box = layout.text_box(tag, fontsize, xy, dx * to_px, dy * to_px, ha, va)
        ax.annotate(tag, (m.lon, m.lat), xycoords=pc._as_mpl_transform(ax), xytext=(dx, dy),
                    textcoords="offset points", ha=ha, va=va, fontsize=fontsize, fontweight="bold",
                    color=st["colour"], zorder=zorder + 0.2, path_effects=halo, annotation_clip=True)
        layout.take(box)
    shown = [m for m, _ in on_map]
    if key and any(m.kind not in ("low", "high") for m in shown):
        _key(ax, [m for m in shown if m.kind not in ("low", "high")])
    return [m.record() for m in shown]


def _key(ax, marks: list[Mark]) -> None:
    """The marks' key under the map: symbol, tag, label and nearest town of each."""
    from matplotlib.lines import Line2D

    handles = []
    for m in marks:
        st = _style(m.kind)
        text = f"{m.short()}: {m.label}" if m.label and m.label != m.short() else m.short()
        if m.near:
            text += f", {m.near}"
        handles.append(Line2D([], [], ls="none", marker=st["marker"], ms=min(st["ms"], 11), mfc=st["mfc"],
                              mec=st["mec"], mew=min(st["mew"], 2.0), label=text))
    ncol = 1 if len(handles) <= 3 else 2
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.055), ncol=ncol, fontsize=8,
                    frameon=False, handletextpad=0.4, columnspacing=1.5, borderaxespad=0.0,
                    title="marked (found in the data by the diagnosis tools, or given)", title_fontsize=8)
    leg._legend_box.align = "left"


def pressure_centres(values: np.ndarray, lat: np.ndarray, lon: np.ndarray, *, window_km: float = 1000.0,
                     min_depth: float = 2.0, extent: tuple[float, float, float, float] | None = None,
                     units: str = "hPa", max_each: int = 6, min_depth_high: float | None = None) -> list[Mark]:
    """H and L centres of a field on a regular ``lat``/``lon`` grid (1-D, degrees).

    A grid point is a low (high) centre where it is the minimum (maximum) of the window
    around it (``scipy.ndimage.minimum_filter`` / ``maximum_filter``, ``window_km`` wide,
    about 1000 km for surface pressure) and lies at least ``min_depth`` below (above) the
    mean of that window (``min_depth_high`` for highs, which are broader; ``min_depth``
    when not given), so a flat col or an edge of the grid gives no centre. Centres
    on the grid's outer row are dropped (they may be the edge of a larger system).

    Returns
    -------
    list of Mark
        ``low`` and ``high`` marks (deepest low and strongest high first), each labelled
        ``"L 956 hPa"`` with ``value`` the central value.
    """
    from scipy import ndimage

    v = np.asarray(values, float)
    la, lo = np.asarray(lat, float), np.asarray(lon, float)
    dlat = abs(float(np.median(np.diff(la)))) if la.size > 1 else 1.0
    dlon = abs(float(np.median(np.diff(lo)))) if lo.size > 1 else 1.0
    ny = max(3, int(round(window_km / (111.0 * dlat))) | 1)
    clat = float(np.nanmean(la)) if extent is None else (extent[2] + extent[3]) / 2
    nx = max(3, int(round(window_km / (111.0 * dlon * max(np.cos(np.radians(clat)), 0.2)))) | 1)
    filled = np.where(np.isfinite(v), v, np.nanmean(v))
    mean = ndimage.uniform_filter(filled, size=(ny, nx), mode="nearest")
    out: list[Mark] = []
    for kind, filt, sign in (("low", ndimage.minimum_filter, -1.0), ("high", ndimage.maximum_filter, 1.0)):
        ext = filt(filled, size=(ny, nx), mode="nearest")
        depth = min_depth if kind == "low" or min_depth_high is None else min_depth_high
        hit = (filled == ext) & np.isfinite(v) & (sign * (filled - mean) >= depth)
        hit[0, :] = hit[-1, :] = hit[:, 0] = hit[:, -1] = False
        iy, ix = np.nonzero(hit)
        found = []
        for y, x in zip(iy, ix):
            if extent is not None and not (extent[0] <= lo[x] <= extent[1] and extent[2] <= la[y] <= extent[3]):
                continue
            found.append((float(v[y, x]), float(la[y]), float(lo[x])))
        found.sort(key=lambda t: sign * -t[0])
        kept: list[tuple[float, float, float]] = []
        for val, y, x in found:  # plateaus: one centre per window
            if all(abs(y - a) > ny * dlat / 2 or abs(x - b) > nx * dlon / 2 for _, a, b in kept):
                kept.append((val, y, x))
        for val, y, x in kept[:max_each]:
            out.append(Mark(kind=kind, lat=y, lon=x, label=f"{'L' if kind == 'low' else 'H'} {val:.0f} {units}",
                            value=val, units=units, source="local extremum (scipy.ndimage)"))
    return out
