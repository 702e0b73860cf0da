"""Imports every module that declares built-in tools (each registers on import)."""

import importlib

MODULES = ["sounding", "upper_air", "gridded", "radar", "velocity", "level3", "precipitation", "surface", "tropical", "cyclone", "setting", "spc",
           "nowcast", "nowcast_figures", "plots"]

for _m in MODULES:
    try:
        importlib.import_module(f"hvrmet.tools.{_m}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"hvrmet.tools.{_m}":
            raise
