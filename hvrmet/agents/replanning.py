"""Node *replanning*: update posteriors from the evidence, refute, plan new checks or new
hypotheses, and decide whether to stop (also on a spent budget)."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

from hvrmet.agents.common import brain_context, brain_failure, brain_of, budget_left, config_of, evidence_of, hypotheses_of, message
from hvrmet.agents.evidence import attach_verdicts
from hvrmet.agents.hypothesis import to_hypotheses
from hvrmet.agents.state import Decision, DiagnosisState
from hvrmet.agents.brain import BrainError

__all__ = ["replan", "route_after_replan"]


def replan(state: DiagnosisState, config: RunnableConfig) -> dict:
    """One replanning step (see the module docstring)."""
    cfg = config_of(config)
    brain = brain_of(cfg)
    loop = state.get("loop", 1)
    hyps = hypotheses_of(state)
    evidence = evidence_of(state)
    ctx = brain_context(state, cfg)
    tokens0 = brain.tokens_used
    try:
        plan = brain.replan(ctx)
    except BrainError as exc:
        d = Decision(loop=loop, action="stop", reason=f"the brain failed: {exc}")
        return {"decisions": [d.model_dump()], "done": True, "outcome": "brain error",
                "failure": brain_failure("replan", exc), "messages": [message("error", f"replanning failed: {exc}; stopping with the evidence so far")]}
    by_id = {h.id: h for h in hyps}
    changes, posts = {}, {}
    for a in plan.assessments:
        h = by_id.get(a.hypothesis_id)
        if h is None:
            continue
        if a.status != h.status:
            changes[h.id] = f"{h.status}->{a.status}"
        posts[h.id] = a.posterior
        ev_ids = sorted({e.id for e in evidence for v in e.verdicts if v.hypothesis_id == h.id and v.met is not None})
        by_id[h.id] = h.model_copy(update={"posterior": a.posterior, "status": a.status, "evidence_ids": ev_ids,
                                           "rationale": a.rationale, "ledger": a.ledger,
                                           "checks": plan.new_checks.get(h.id, h.checks if a.status == "proposed" else [])})
    checks_done = _check_outcomes(hyps, evidence, loop, plan, changes)
    new = to_hypotheses(plan.new_hypotheses, len(hyps) + 1, loop + 1)
    for h in new:
        by_id[h.id] = h
    if new:
        evidence = [attach_verdicts(e, new, state.get("thresholds")) for e in evidence]
    left = budget_left(state, cfg)
    stop, reason = plan.stop, plan.reason
    if not stop and left["loops"] <= 1:
        stop, reason = True, f"loop budget spent ({cfg.max_loops} loops)"
    elif not stop and left["tool_calls"] <= 0:
        stop, reason = True, f"tool-call budget spent ({cfg.max_tool_calls} calls)"
    elif not stop and left["seconds"] <= 0:
        stop, reason = True, f"time budget spent ({cfg.max_seconds:.0f} s)"
    if stop:  # whatever is still open is inconclusive
        for hid, h in by_id.items():
            if h.status == "proposed":
                by_id[hid] = h.model_copy(update={"status": "inconclusive",
                                                  "rationale": h.rationale + "; stopped: " + reason})
                changes[hid] = "proposed->inconclusive"
    d = Decision(loop=loop, action="stop" if stop else "continue", reason=reason,
                 new_checks={k: [c.tool for c in v] for k, v in plan.new_checks.items()},
                 new_hypotheses=[h.id for h in new], status_changes=changes, posteriors=posts, checks=checks_done)
    msgs = [message("replan", f"loop {loop}: {h.id} {h.hazard} {h.status} (posterior {h.posterior:.2f}) - {h.rationale}",
                    hypothesis=h.id) for h in by_id.values()]
    msgs += [message("check-outcome", f"loop {loop}: {c['evidence']} {c['tool']} for {c['hypothesis']}: expected "
                                      f"{c['expected'] or 'a first look'}; did: {c['did']}", evidence=c["evidence"])
             for c in checks_done]
    msgs.append(message("decision", f"loop {loop}: {'stop' if stop else 'continue'}: {reason}"))
    return {"hypotheses": [h.model_dump() for h in by_id.values()],
            "evidence": [e.model_dump() for e in evidence] if new else [],
            "decisions": [d.model_dump()], "messages": msgs, "done": stop,
            "loop": loop if stop else loop + 1, "llm_tokens": brain.tokens_used - tokens0}


def route_after_replan(state: DiagnosisState):
    """Stop -> review (the forecaster's sign-off, then the report); otherwise verification branches, or replanning again when the new
    hypotheses need no new tool call."""
    from hvrmet.agents.verification import dispatch

    if state.get("done"):
        return "review"
    sends = dispatch(state)
    return sends if sends else "replan"


def _check_outcomes(hyps, evidence, loop: int, plan, changes: dict[str, str]) -> list[dict]:
    """For each check a hypothesis ran in this loop: what it was expected to decide (the
    plan's reason) and what it did (its counted terms in the new ledger, the status change)."""
    from hvrmet.agents.evidence import check_key

    ledgers = {a.hypothesis_id: a.ledger for a in plan.assessments if a.ledger}
    out = []
    for h in hyps:
        for c in h.checks:
            ev = next((e for e in evidence if e.loop == loop and e.for_hypothesis == h.id
                       and check_key(e.tool, e.arguments) == c.key()), None)
            if ev is None:
                continue
            terms = [t for t in (ledgers.get(h.id) or {}).get("contributions", [])
                     if t["evidence_id"] == ev.id and t["counted"]]
            did = ", ".join(f"{t['field']} {t['meaning']} {'met' if t['met'] else 'not met'} {t['weight']:+.2f}"
                            for t in terms) or ("error: " + (ev.error or "") if not ev.ok else "no counted term")
            if h.id in changes:
                did += f"; {h.id} {changes[h.id]}"
            expected = c.reason.split("expected to decide ", 1)[1] if "expected to decide " in c.reason else ""
            out.append({"hypothesis": h.id, "evidence": ev.id, "tool": ev.tool, "expected": expected, "did": did})
    return out
