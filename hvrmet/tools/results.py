"""What a tool returns: values with units, the files it read, the figures it wrote.

A tool never raises to its caller: a failure is a :class:`ToolResult` with ``ok=False``
and an ``error`` message, which the agents record as evidence and replan on.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Value", "FileRef", "FigureRef", "ToolOutput", "ToolResult"]


class Value(BaseModel):
    """One output quantity: a number (or text, or a list) and its units (pint syntax)."""

    model_config = ConfigDict(extra="forbid")

    value: float | int | str | bool | list | None
    units: str = ""
    note: str = ""

    def magnitude(self) -> float:
        """The value as a float (NaN when missing or not numeric)."""
        if isinstance(self.value, bool) or self.value is None:
            return float("nan") if self.value is None else float(self.value)
        try:
            return float(self.value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return float("nan")

    def quantity(self):
        """The value as a pint quantity (MetPy's registry)."""
        from metpy.units import units

        return units.Quantity(self.magnitude(), self.units or "dimensionless")


class FileRef(BaseModel):
    """A data file a tool read."""

    path: str
    sha256: str
    role: str = ""


class FigureRef(BaseModel):
    """A figure a tool wrote: the PNG and its JSON sidecar."""

    png: str
    sidecar: str
    kind: str


class ToolOutput(BaseModel):
    """What a tool function hands back to the registry (which adds the rest)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    values: dict[str, Value] = Field(default_factory=dict)
    summary: str = ""
    figures: list[FigureRef] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    table: list[dict[str, Any]] | None = None


class ToolResult(BaseModel):
    """The full result of one tool call."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    values: dict[str, Value] = Field(default_factory=dict)
    summary: str = ""
    files: list[FileRef] = Field(default_factory=list)
    figures: list[FigureRef] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    table: list[dict[str, Any]] | None = None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    cache_hits: int = 0

    def value(self, name: str) -> float:
        """Shorthand: the magnitude of one output (NaN if absent)."""
        v = self.values.get(name)
        return v.magnitude() if v is not None else math.nan

    def brief(self) -> str:
        """One line for a terminal or a log."""
        if not self.ok:
            return f"{self.tool}: ERROR {self.error}"
        shown = []
        for k, v in list(self.values.items())[:6]:
            if isinstance(v.value, float):
                shown.append(f"{k}={v.value:.4g} {v.units}".rstrip())
            elif isinstance(v.value, (int, str, bool)):
                shown.append(f"{k}={v.value} {v.units}".rstrip())
        return f"{self.tool}: " + ", ".join(shown)
