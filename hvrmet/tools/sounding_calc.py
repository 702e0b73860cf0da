"""Moved: the sounding science is :mod:`hvrmet.calc.sounding`.

This name stays only for the modules that still import it (``hvrmet.tools.plots``,
``hvrmet.tools.radar`` and their tests); new code imports :mod:`hvrmet.calc.sounding`.
"""

from hvrmet.calc.sounding import UNITS, Profile, diagnostics, profile_from_dataset, ship  # noqa: F401

__all__ = ["Profile", "profile_from_dataset", "diagnostics", "ship", "UNITS"]
