"""hvrmet: Hypothesis-Verification-Replanning agents that diagnose extreme weather.

The Python API (see :mod:`hvrmet.api`)::

    import hvrmet
    result = hvrmet.diagnose("mycase.yaml")    # a catalogue id or a case file; a typed DiagnosisResult
    case = hvrmet.load_case("mycase.yaml")     # the case and its decoded data
    res = hvrmet.call_tool("compute_sbcape", {"case": "mycase.yaml"})

The names are imported on first use, so ``import hvrmet`` stays light.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Any

try:
    __version__ = _metadata.version("hvrmet")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "diagnose", "load_case", "call_tool", "DiagnosisResult"]

_API = {"diagnose", "load_case", "call_tool", "DiagnosisResult"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from hvrmet import api

        return getattr(api, name)
    raise AttributeError(f"module 'hvrmet' has no attribute {name!r}")
