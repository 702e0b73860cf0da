"""Screening: which tools run first for each kind of data, and what counts as a signal.

Both come from ``signals.yaml`` of the knowledge folder (``hvrmet/knowledge/data/``; data,
not code): ``screening`` maps a case role to its screening tools, and each signal is a
named condition on one screening output.
"""

from __future__ import annotations

import functools

import yaml
from pydantic import BaseModel

from hvrmet.knowledge.conditions import evaluate_condition
from hvrmet.knowledge.model import Condition
from hvrmet.knowledge.store import knowledge_dir

__all__ = ["SignalDef", "screening_plan", "signal_defs", "find_signals"]


class SignalDef(BaseModel):
    """A named signal: a condition on a screening tool's output."""

    id: str
    description: str
    tool: str
    field: str
    op: str
    value: float | bool | str
    units: str = ""
    args: dict = {}


@functools.cache
def _data() -> dict:
    return yaml.safe_load((knowledge_dir() / "signals.yaml").read_text())


def signal_defs() -> list[SignalDef]:
    """Every signal definition."""
    return [SignalDef.model_validate(s) for s in _data()["signals"]]


def screening_plan(roles: list[str]) -> list[tuple[str, dict]]:
    """The screening tool calls for a case with these roles, in a fixed order."""
    plan: list[tuple[str, dict]] = []
    for entry in _data()["screening"]:
        if entry["role"] in roles or entry["role"] == "*":
            for call in entry["tools"]:
                name, args = (call, {}) if isinstance(call, str) else (call["tool"], call.get("args", {}))
                if (name, args) not in plan:
                    plan.append((name, args))
    return plan


def find_signals(evidence) -> list[dict]:
    """The signals that screening evidence shows (as dicts for the state)."""
    from hvrmet.agents.evidence import result_of

    found = []
    for sd in signal_defs():
        if any(f["id"] == sd.id for f in found):
            continue
        for ev in evidence:
            if ev.tool != sd.tool or any(ev.arguments.get(k) != v for k, v in sd.args.items()):
                continue
            cond = Condition(tool=sd.tool, field=sd.field, op=sd.op, value=sd.value, units=sd.units,
                             meaning="supports", hazard="no_severe_hazard")
            out = evaluate_condition("signal", cond, result_of(ev))
            if out.met:
                found.append({"id": sd.id, "description": sd.description, "tool": sd.tool, "field": sd.field,
                              "value": out.value, "units": out.units, "evidence_id": ev.id})
                break
    return found
