"""Figures of hvrmet: skew-T and hodograph, radar maps, gridded field maps and composite
sequences, drawn with matplotlib, MetPy and cartopy from local files only (no download).

Maps carry the places a reader needs to find their way (:mod:`hvrmet.plot.places`, an
offline GeoNames gazetteer) and the features a diagnosis found, marked and labelled
(:mod:`hvrmet.plot.marks`). Every figure is saved as a PNG with a JSON sidecar of the
same stem (:func:`hvrmet.plot.sidecar.save_figure`) that lists both; the plot tools live
in :mod:`hvrmet.tools.plots`.
"""

from hvrmet.plot.basemap import add_map_features, configure_offline
from hvrmet.plot.marks import Mark, draw_marks, pressure_centres
from hvrmet.plot.places import describe_point, label_places, nearest_place
from hvrmet.plot.sidecar import FigureMeta, SavedFigure, figure_stem, save_figure

__all__ = ["add_map_features", "configure_offline", "FigureMeta", "SavedFigure", "figure_stem", "save_figure",
           "Mark", "draw_marks", "pressure_centres", "describe_point", "label_places", "nearest_place"]
