"""Figures of hvrmet: skew-T and hodograph, radar maps, gridded field maps and composite
sequences, drawn with matplotlib, MetPy and cartopy from local files only (no download).

Every figure is saved as a PNG with a JSON sidecar of the same stem
(:func:`hvrmet.plot.sidecar.save_figure`); the plot tools live in
:mod:`hvrmet.tools.plots`.
"""

from hvrmet.plot.basemap import add_map_features, configure_offline
from hvrmet.plot.sidecar import FigureMeta, figure_stem, save_figure

__all__ = ["add_map_features", "configure_offline", "FigureMeta", "figure_stem", "save_figure"]
