"""Input models of the tools: which case and files, and numbers with their units.

Every numeric field states its units (``json_schema_extra={"units": ...}``, set by
:func:`quantity`). A caller may pass a bare number, taken in those units, or a string
with units (``"3 km"``, ``"700 hPa"``), read by :func:`hvrmet.units.parse_quantity` (a
bounded grammar checked before pint sees the text) and converted with pint; a string that
is not a plain quantity, or in units of another dimension, is rejected with a message
naming the field.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hvrmet.units import parse_quantity, parse_units

__all__ = ["quantity", "CaseInput", "WindowInput", "field_units", "NUMERIC_TYPES"]

NUMERIC_TYPES = (int, float)


def quantity(default: Any = ..., *, units: str, description: str, ge: float | None = None,
             le: float | None = None) -> Any:
    """A numeric pydantic field that carries its units (``"1"`` for dimensionless)."""
    return Field(default, description=f"{description} [{units}]", ge=ge, le=le,
                 json_schema_extra={"units": units})


def field_units(model: type[BaseModel], name: str) -> str | None:
    """The units a field declares, or ``None``."""
    extra = model.model_fields[name].json_schema_extra
    return extra.get("units") if isinstance(extra, dict) else None


class CaseInput(BaseModel):
    """Which data a tool works on: a case, and optionally explicit files by role."""

    model_config = ConfigDict(extra="forbid")

    case: str = Field(description="case id from the catalogue (hvrmet cases list) or the path of a case YAML file")
    data_dir: str | None = Field(None, description="data folder a user's case file is relative to")
    files: dict[str, str] = Field(default_factory=dict,
                                  description="explicit files by role (path per role), used instead of the case's own")

    @model_validator(mode="before")
    @classmethod
    def _convert_units(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, val in data.items():
            if name not in cls.model_fields or not isinstance(val, str):
                continue
            target = field_units(cls, name)
            if target is None:
                continue
            q = parse_quantity(val, name=name)  # UnitsError (a ValueError) names the field
            if q.unitless:  # a number given as text: taken in the field's units
                out[name] = float(q.magnitude)
                continue
            try:
                out[name] = float(q.to(parse_units(target, name=name)).magnitude)
            except Exception:
                raise ValueError(f"{name}: {val!r} cannot be converted to {target}") from None
            if not math.isfinite(out[name]):
                raise ValueError(f"{name}: {val!r} is not finite in {target}")
        return out


class WindowInput(CaseInput):
    """A case, and the window around its place and time that a tool searches.

    Left out, ``radius`` and ``time_window`` take the defaults of the tool's kind of data
    (:data:`hvrmet.tools.window.DEFAULTS`: storm scale for radar volumes and Level III,
    synoptic scale for analyses and station networks).
    """

    radius: float | None = quantity(None, units="km", description="radius of the search window around the case's "
                                    "place (the default of the tool's kind of data when omitted: storm scale for "
                                    "radar and Level III, synoptic scale for analyses and stations; 20038 km takes "
                                    "in the whole globe)", ge=0.1, le=20038.0)
    time_window: float | None = quantity(None, units="hour", description="half-width of the time window around the "
                                         "case's time: data farther from it are left out or flagged and weigh less "
                                         "(the default of the tool's kind of data when omitted)", ge=0.0, le=8784.0)
