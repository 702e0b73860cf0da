"""The Python API: diagnose a case, load a case, call a tool.

Work in progress in this commit: the result type grows with the run lifecycle.
"""

from __future__ import annotations

from typing import Any

__all__ = ["diagnose", "load_case", "call_tool", "DiagnosisResult"]


def diagnose(case: str, **kwargs: Any) -> dict:
    from hvrmet.agents.run import diagnose as _diagnose

    return _diagnose(case, **kwargs)


def load_case(case: str, data_dir: str | None = None):
    from hvrmet.cases import get_case

    return get_case(case, data_dir)


def call_tool(name: str, args: dict[str, Any] | None = None, **kwargs: Any):
    from hvrmet.tools import call_tool as _call

    return _call(name, args or {}, **kwargs)


DiagnosisResult = dict
