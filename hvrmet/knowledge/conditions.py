"""Evaluating cards' conditions against tool results (with unit conversion by pint)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from hvrmet.knowledge.model import Card, Condition
from hvrmet.tools.results import ToolResult

__all__ = ["Outcome", "evaluate_condition", "evaluate_conditions", "convert"]

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
        "==": operator.eq, "!=": operator.ne}


@dataclass(frozen=True)
class Outcome:
    """The outcome of one condition on one case."""

    card: str
    condition: Condition
    met: bool | None          # None: could not be evaluated (tool error or missing value)
    value: Any                # the tool's value, converted to the condition's units
    units: str
    reason: str = ""

    def describe(self) -> str:
        """One line: the value, the threshold and the outcome."""
        c = self.condition
        if self.met is None:
            return f"{c.tool}.{c.field}: not evaluable ({self.reason})"
        val = f"{self.value:.4g}" if isinstance(self.value, float) else str(self.value)
        verdict = "met" if self.met else "not met"
        return f"{c.tool}.{c.field} = {val} {self.units} {c.op} {c.value} {c.units}: {verdict}".replace("  ", " ")


def convert(value: float, from_units: str, to_units: str) -> float:
    """Convert a magnitude between pint units ('' or '1' mean dimensionless).

    Both unit strings are read by :func:`hvrmet.units.parse_units` (bounded; a bad one
    raises :class:`~hvrmet.errors.UnitsError`)."""
    from metpy.units import units

    from hvrmet.units import parse_units

    if (from_units or "1") == (to_units or "1"):
        return value
    q = units.Quantity(value, parse_units(from_units or "", name="tool units"))
    return float(q.to(parse_units(to_units or "", name="condition units")).magnitude)


def evaluate_condition(card_id: str, cond: Condition, result: ToolResult) -> Outcome:
    """Compare a tool result's field with the condition's threshold."""
    if not result.ok:
        return Outcome(card_id, cond, None, None, cond.units, f"tool error: {result.error}")
    val = result.values.get(cond.field)
    if val is None or val.value is None:
        # the tool's own reason: a warning naming the field, else one that says "not computable"
        why = (val.note if val is not None and val.note else
               next((w for w in result.warnings if cond.field in w),
                    next((w for w in result.warnings if "not computable" in w), "")))
        return Outcome(card_id, cond, None, None, cond.units,
                       f"not computable: {why}" if why else f"{cond.field} not computed")
    if isinstance(cond.value, (bool, str)) or isinstance(val.value, (bool, str)):
        got = val.value
        try:
            return Outcome(card_id, cond, bool(_OPS[cond.op](got, cond.value)), got, cond.units)
        except TypeError:  # text against a number with an ordering: reported, not raised
            return Outcome(card_id, cond, None, got, val.units,
                           f"{cond.field} is {got!r}, which cannot be compared with {cond.op} {cond.value!r}")
    try:
        got = convert(float(val.value), val.units, cond.units)
    except Exception as exc:  # noqa: BLE001 - incompatible units are reported, not raised
        return Outcome(card_id, cond, None, val.value, val.units, f"units: {exc}")
    return Outcome(card_id, cond, bool(_OPS[cond.op](got, float(cond.value))), got, cond.units)


def evaluate_conditions(cards: list[Card], case: str, results: dict | None = None) -> list[Outcome]:
    """Evaluate every condition of ``cards`` on a case, calling each tool once."""
    from hvrmet.tools import call_tool

    results = {} if results is None else results
    out = []
    for card in cards:
        for cond in card.conditions:
            key = (cond.tool, tuple(sorted(cond.args.items())))
            if key not in results:
                results[key] = call_tool(cond.tool, {"case": case, **cond.args})
            out.append(evaluate_condition(card.id, cond, results[key]))
    return out
