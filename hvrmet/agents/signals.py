"""Screening: which tools run first for each kind of data, and what counts as a signal.

Both come from ``signals.yaml`` of the knowledge folder (``hvrmet/knowledge/data/``; data,
not code): ``screening`` maps case roles to their screening tools, and each signal is a
named condition on one screening output.

Screening entries
    ``role`` is one role or a list of them; a name may be a shell pattern
    (``level3_*vil*``) and matches a numbered role too (``level3_vil`` matches
    ``level3_vil_2``). A tool argument written ``"{role}"`` is the matched role, so a tool
    reading one product runs once per product of the case. Tools that are not registered
    (yet) are left out of the plan.

Signals
    ``tool``/``field``/``op``/``value``/``units`` as a card condition; ``args`` selects the
    screening call (a list value or a pattern matches any of those roles); ``requires``
    names other signals that must be present too (moisture that counts only in the cold
    season). Several definitions may share an id: the signal is present when any of them
    is met (a velocity couplet from the volume or from the Level III detection).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from typing import Any

from pydantic import BaseModel

from hvrmet._resources import load_yaml
from hvrmet.knowledge.conditions import evaluate_condition
from hvrmet.knowledge.model import Condition
from hvrmet.knowledge.store import knowledge_dir

__all__ = [
    "ScreeningEntry",
    "SignalDef",
    "find_signals",
    "role_matches",
    "screening_entries",
    "screening_plan",
    "signal_defs",
]


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
    requires: list[str] = []


class ScreeningEntry(BaseModel):
    """Screening tools for cases holding some role(s)."""

    role: str | list[str]
    tools: list[str | dict]

    def patterns(self) -> list[str]:
        return [self.role] if isinstance(self.role, str) else list(self.role)


@functools.cache
def _data() -> dict:
    return load_yaml((knowledge_dir() / "signals.yaml").read_text())


def _base(role: str) -> str:
    """A numbered role's family (``level3_vil_2`` -> ``level3_vil``)."""
    return re.sub(r"_\d+$", "", role)


def role_matches(role: str, pattern: str) -> bool:
    """Whether a case role matches a screening pattern (itself or as a numbered role)."""
    return pattern == "*" or fnmatch.fnmatchcase(role, pattern) or fnmatch.fnmatchcase(_base(role), pattern)


def screening_entries() -> list[ScreeningEntry]:
    """Every screening entry of ``signals.yaml``."""
    return [ScreeningEntry.model_validate(e) for e in _data()["screening"]]


def signal_defs() -> list[SignalDef]:
    """Every signal definition."""
    return [SignalDef.model_validate(s) for s in _data()["signals"]]


def _registered() -> set[str]:
    from hvrmet.tools import list_tools

    return {t.name for t in list_tools()}


def _fill(args: dict, role: str) -> dict:
    return {k: (role if v == "{role}" else v) for k, v in args.items()}


def screening_plan(roles: list[str]) -> list[tuple[str, dict]]:
    """The screening tool calls for a case with these roles, in a fixed order."""
    plan: list[tuple[str, dict]] = []
    known = _registered()
    roles = list(roles)
    for entry in screening_entries():
        matched = [r for r in roles if any(role_matches(r, p) for p in entry.patterns())]
        if not matched:
            continue
        for call in entry.tools:
            name, args = (call, {}) if isinstance(call, str) else (call["tool"], call.get("args", {}))
            if name not in known:
                continue
            templated = any(v == "{role}" for v in args.values())
            for role in (matched if templated else matched[:1]):
                filled = _fill(args, role)
                if (name, filled) not in plan:
                    plan.append((name, filled))
    return plan


def _arg_matches(have: Any, want: Any) -> bool:
    if isinstance(want, list):
        return any(_arg_matches(have, w) for w in want)
    if isinstance(want, str) and isinstance(have, str):
        return role_matches(have, want)
    if have == want:
        return True
    try:
        return float(have) == float(want)
    except (TypeError, ValueError):
        return False


def _met(sd: SignalDef, evidence) -> dict | None:
    from hvrmet.agents.evidence import result_of

    for ev in evidence:
        if ev.tool != sd.tool or not all(_arg_matches(ev.arguments.get(k), v) for k, v in sd.args.items()):
            continue
        cond = Condition(tool=sd.tool, field=sd.field, op=sd.op, value=sd.value, units=sd.units,
                         meaning="supports", hazard="no_severe_hazard")
        out = evaluate_condition("signal", cond, result_of(ev))
        if out.met:
            return {"id": sd.id, "description": sd.description, "tool": sd.tool, "field": sd.field,
                    "value": out.value, "units": out.units, "evidence_id": ev.id}
    return None


def find_signals(evidence) -> list[dict]:
    """The signals that screening evidence shows (as dicts for the state), in the order of
    ``signals.yaml``; a definition with ``requires`` counts only when those signals are
    present too."""
    defs = signal_defs()
    order: dict[str, int] = {}
    for i, sd in enumerate(defs):
        order.setdefault(sd.id, i)
    cache: dict[int, dict | None] = {}
    present: dict[str, dict] = {}
    changed = True
    while changed:  # requirements only add signals, so this ends
        changed = False
        for i, sd in enumerate(defs):
            if sd.id in present or any(r not in present for r in sd.requires):
                continue
            if i not in cache:
                cache[i] = _met(sd, evidence)
            if cache[i] is not None:
                present[sd.id] = cache[i]
                changed = True
    return sorted(present.values(), key=lambda h: order[h["id"]])
