"""Node *verification*: run one hypothesis's checks through the tool registry.

One branch per hypothesis runs in parallel (LangGraph ``Send``); each tool call is
assigned to one branch only, so no call is repeated within a loop or across loops.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

from langgraph.types import Send

from hvrmet.agents.common import config_of, tools_out_dir, hypotheses_of, message
from hvrmet.agents.evidence import attach_verdicts, check_key, run_check
from hvrmet.agents.state import DiagnosisState, Hypothesis, PlannedCheck

__all__ = ["verify", "dispatch"]


def dispatch(state: DiagnosisState) -> list[Send]:
    """One ``Send`` per hypothesis that has checks not yet run (each call assigned once): an
    open hypothesis, or a supported one whose checks could change which hazard leads."""
    done = {check_key(e["tool"], e["arguments"]) for e in state.get("evidence", [])}
    hyps = [h for h in hypotheses_of(state) if h.status in ("proposed", "supported")]
    sends, assigned = [], set(done)
    active = [h.model_dump() for h in hypotheses_of(state)]
    for h in hyps:
        mine = []
        for c in h.checks:
            if c.key() not in assigned:
                assigned.add(c.key())
                mine.append(c.model_dump())
        if mine:
            sends.append(Send("verify", {"hypothesis": h.model_dump(), "checks": mine, "loop": state.get("loop", 1),
                                         "case": state["case"], "data_dir": state.get("data_dir"), "run_id": state.get("run_id"),
                                         "hypotheses": active, "thresholds": state.get("thresholds") or {}}))
    return sends


def verify(payload: dict, config: RunnableConfig) -> dict:
    """Run the assigned checks of one hypothesis and judge them against every hypothesis."""
    cfg = config_of(config)
    h = Hypothesis.model_validate(payload["hypothesis"])
    everyone = [Hypothesis.model_validate(x) for x in payload["hypotheses"]]
    loop = payload["loop"]
    evidence, msgs = [], []
    for i, c in enumerate(payload["checks"], 1):
        check = PlannedCheck.model_validate(c)
        ev = run_check(check, payload["case"], payload.get("data_dir"), origin="check", loop=loop, seq=i,
                       for_hypothesis=h.id, out_dir=tools_out_dir(payload, cfg, config))
        ev = attach_verdicts(ev, everyone, payload.get("thresholds"))
        evidence.append(ev.model_dump())
        mine = [v for v in ev.verdicts if v.hypothesis_id == h.id and v.met is not None]
        verdict = "; ".join(f"{v.meaning} {'met' if v.met else 'not met'} ({v.card})" for v in mine) or "no condition"
        text = (f"{h.id} {ev.id} {check.tool}: " + (ev.summary if ev.ok else f"error: {ev.error}") + f" -> {verdict}")
        msgs.append(message("check", text, hypothesis=h.id, evidence=ev.id))
    return {"evidence": evidence, "messages": msgs, "tool_calls": len(evidence)}
