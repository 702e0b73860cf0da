"""Turning tool results into evidence, and evidence into verdicts on hypotheses."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from hvrmet.agents.state import Evidence, Hypothesis, Origin, PlannedCheck, Verdict, effective_args, evidence_id
from hvrmet.knowledge import KnowledgeStore, default_store
from hvrmet.knowledge.conditions import evaluate_condition
from hvrmet.knowledge.model import Condition
from hvrmet.tools import call_tool
from hvrmet.tools.results import ToolResult, Value

__all__ = ["run_check", "attach_verdicts", "rejudge", "check_key", "result_of", "threshold_key", "with_threshold",
           "time_window_of", "tool_events", "ToolEvent"]

#: ``(phase, tool, arguments, result)``: phase ``"start"`` (result ``None``) or ``"end"``
#: (the :class:`~hvrmet.tools.results.ToolResult`).
ToolEvent = Callable[[str, str, dict, Any], None]

_LISTENERS: contextvars.ContextVar[tuple[ToolEvent, ...]] = contextvars.ContextVar("hvrmet_tool_events", default=())


@contextlib.contextmanager
def tool_events(listener: ToolEvent) -> Iterator[None]:
    """Call ``listener`` before and after each tool call :func:`run_check` makes in this
    context: the screening tools, the checks, the report's figures, so that a terminal or
    a web page can show each tool as it runs. Threads a run starts inherit the context
    (LangGraph copies it into them). A failing listener is logged and never stops the run."""
    token = _LISTENERS.set(_LISTENERS.get() + (listener,))
    try:
        yield
    finally:
        _LISTENERS.reset(token)


def _notify(phase: str, tool: str, arguments: dict, result: Any) -> None:
    for f in _LISTENERS.get():
        try:
            f(phase, tool, arguments, result)
        except Exception:  # noqa: BLE001 - a display callback never breaks the run; it is logged
            logging.getLogger(__name__).warning("tool event listener %r failed", f, exc_info=True)

_BASE_ARGS = ("case", "data_dir", "files")


def check_key(tool: str, arguments: dict[str, Any]) -> str:
    """The key of a tool call, ignoring which case and files it ran on."""
    return PlannedCheck(tool=tool, args={k: v for k, v in arguments.items() if k not in _BASE_ARGS}).key()


def run_check(check: PlannedCheck, case: str, data_dir: str | None, *, origin: Origin, loop: int, seq: int,
              for_hypothesis: str = "", out_dir: str | None = None) -> Evidence:
    """Run one planned tool call and record it as evidence (errors included), with its
    provenance (``origin``, ``loop``, ``seq``, ``for_hypothesis``) as fields and its id
    from :func:`~hvrmet.agents.state.evidence_id`."""
    args = {"case": case, **check.args}
    if data_dir:
        args["data_dir"] = data_dir
    _notify("start", check.tool, args, None)
    res = call_tool(check.tool, args, out_dir=out_dir)
    _notify("end", check.tool, args, res)
    outside, offset = time_window_of(res)
    return Evidence(
        id=evidence_id(origin, loop, seq, for_hypothesis if origin == "check" else ""), loop=loop, origin=origin,
        seq=seq, tool=check.tool, arguments={k: v for k, v in args.items() if k != "data_dir"},
        ok=res.ok, values={k: v.model_dump() for k, v in res.values.items()}, summary=res.summary,
        error=res.error, warnings=list(res.warnings), files=[{"path": f.path, "sha256": f.sha256, "role": f.role} for f in res.files],
        figures=[f.model_dump() for f in res.figures], for_hypothesis=for_hypothesis,
        seconds=round(res.seconds, 3), outside_time_window=outside, data_time_offset=offset,
        widened_from=check.widened_from)


def time_window_of(res: ToolResult) -> tuple[bool, float | None]:
    """Whether a result's data lie outside the time window around the case's time, and
    the data's offset from it (hours), from the window values a windowed tool records
    (``outside_time_window``, ``data_time_offset``: :mod:`hvrmet.tools.window`)."""
    out = res.values.get("outside_time_window") if res.ok else None
    off = res.values.get("data_time_offset") if res.ok else None
    offset = None
    if off is not None and isinstance(off.value, (int, float)) and not isinstance(off.value, bool):
        offset = float(off.value)
    return bool(out is not None and out.value is True), offset


def result_of(ev: Evidence) -> ToolResult:
    """The evidence seen again as a tool result (for evaluating conditions)."""
    return ToolResult(tool=ev.tool, arguments=ev.arguments, ok=ev.ok, error=ev.error, warnings=ev.warnings,
                      values={k: Value(**v) for k, v in ev.values.items()})


def _args_match(cond_args: dict, ev_args: dict, tool: str = "", *, standin: bool = False) -> bool:
    """Whether a call's arguments are those a condition asks for, the tool's defaults
    filled in on both sides (a level left at its default is that level).

    A condition that names no ``radius`` is written for the tool's default window: a call
    that searched another radius (screening's look over the radar's whole view, say) is
    not its number, so that one maximum is not judged twice through two windows, unless
    the call stands in for the default one (``standin``: a replanning check that widened
    the window, weighed less for it, or a forecaster's own call)."""
    if "radius" not in cond_args and ev_args.get("radius") is not None and not standin:
        return False
    if not cond_args:
        return True
    have = effective_args(tool, ev_args) if tool else ev_args
    want = effective_args(tool, cond_args) if tool else cond_args
    return all(_same(have.get(k), want.get(k)) for k in cond_args)


def _same(a, b) -> bool:
    try:
        return a == b or float(a) == float(b)
    except (TypeError, ValueError):
        return False


def bears_on(hazard: str, condition_hazard: str, meaning: str | None = None, *,
             store: KnowledgeStore | None = None) -> bool:
    """Whether a condition about ``condition_hazard`` bears on a hypothesis of ``hazard``:
    the same label, a hazard it specialises (``parent`` in hazards.yaml: the hail index
    written for large hail bears on supercell large hail), or a mechanism of the same family (a mesocyclone for a tornadic
    supercell, a stable column for the null hypothesis). A mechanism's refuting condition
    (``meaning`` ``"refutes"``) reaches the family's hazards only when the mechanism is
    ``necessary`` to them: a filling low refutes explosive deepening, not the cyclone.
    ``store`` is the knowledge store to ask (the process's default store when None)."""
    if hazard == condition_hazard:
        return True
    return _bears_on(default_store() if store is None else store, hazard, condition_hazard, meaning)


@functools.lru_cache(maxsize=8192)
def _bears_on(store: KnowledgeStore, hazard: str, condition_hazard: str, meaning: str | None) -> bool:
    """:func:`bears_on` for two different labels in ``store`` (memoised per store: the
    verdicts ask it for every card condition on every hypothesis and every evidence)."""
    if condition_hazard in store.ancestors(hazard):  # a parent's conditions reach its children
        return True
    hz = store.hazards
    a, b = hz.get(hazard), hz.get(condition_hazard)
    if not (a and b and a.kind != "mechanism" and b.kind == "mechanism" and a.family == b.family):
        return False
    return meaning != "refutes" or b.necessary


def threshold_key(card_id: str, field: str, op: str) -> str:
    """The key of a forecaster's threshold override: ``"card-id:field>="`` (a card may
    bound a field from both sides, e.g. STP >= 1 supports and STP < 0.3 refutes)."""
    return f"{card_id}:{field}{op}"


def with_threshold(card_id: str, cond: Condition, thresholds: dict[str, float] | None) -> Condition:
    """The condition with the forecaster's threshold for ``card:field op``, if one is set
    (in the condition's own units)."""
    key = threshold_key(card_id, cond.field, cond.op)
    if thresholds and key in thresholds:
        return cond.model_copy(update={"value": float(thresholds[key])})
    return cond


def rejudge(ev: Evidence, hypotheses: list[Hypothesis], thresholds: dict[str, float]) -> Evidence:
    """Judge ``ev`` again after the thresholds changed: drop the verdicts of the changed
    conditions and attach them anew."""
    keep = [v for v in ev.verdicts if threshold_key(v.card, v.field, v.op) not in thresholds]
    return attach_verdicts(ev.model_copy(update={"verdicts": keep}), hypotheses, thresholds)


def attach_verdicts(ev: Evidence, hypotheses: list[Hypothesis], thresholds: dict[str, float] | None = None) -> Evidence:
    """Add the verdicts of every card condition on ``ev``'s tool for each hypothesis
    (each verdict once: re-attaching is idempotent). ``thresholds`` overrides conditions'
    values by ``"card-id:field>="`` (the chat's ``/fork``)."""
    store = default_store()
    have = {(v.hypothesis_id, v.card, v.condition) for v in ev.verdicts}
    verdicts = list(ev.verdicts)
    cards = set(ev.cards)
    res = result_of(ev)
    for h in hypotheses:
        for card in store.cards:
            for cond in card.conditions:
                if (cond.tool != ev.tool or not bears_on(h.hazard, cond.hazard, cond.meaning, store=store)
                        or not _args_match(cond.args, ev.arguments, ev.tool,
                                           standin=ev.widened_from is not None or ev.origin == "forecaster")):
                    continue
                cond = with_threshold(card.id, cond, thresholds)
                key = (h.id, card.id, cond.describe())
                if key in have:
                    continue
                out = evaluate_condition(card.id, cond, res)
                have.add(key)
                cards.add(card.id)
                val = out.value if isinstance(out.value, (int, float, str, bool)) or out.value is None else str(out.value)
                verdicts.append(Verdict(hypothesis_id=h.id, hazard=h.hazard, card=card.id, condition=cond.describe(),
                                        field=cond.field, op=cond.op, meaning=cond.meaning, met=out.met, value=val,
                                        units=out.units, threshold=cond.value, threshold_units=cond.units,
                                        weight=cond.weight, reason=out.reason))
    return ev.model_copy(update={"verdicts": verdicts, "cards": sorted(cards)})
