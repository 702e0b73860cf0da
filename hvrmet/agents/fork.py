"""Node *fork* and the start router: a run changed through the graph's own inputs.

A thread that already ran is changed only by documented inputs (``request`` in
:class:`~hvrmet.agents.state.DiagnosisInput`) or by ``Command(resume=...)`` at the review,
never by writing a node's output from outside:

* ``{"request": {"action": "reopen"}}`` goes from the start straight to the review (a
  sign-off after the report);
* ``{"request": {"action": "fork", "loop": N, ...}}``, sent with the config of the
  checkpoint where loop N's checks were dispatched, applies the forecaster's changes
  (thresholds, hypotheses dropped or added) here and continues with loop N's checks.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

from hvrmet.agents.common import brain_context, config_of, message
from hvrmet.agents.evidence import rejudge
from hvrmet.agents.review import apply_signoff, find_hypothesis
from hvrmet.agents.state import Decision, DiagnosisState, Evidence, Hypothesis
from hvrmet.errors import HvrmetError

__all__ = ["fork", "route_start", "validate_fork"]


def route_start(state: DiagnosisState) -> str:
    """Where an input enters the graph: a new run screens the case; a request goes to the
    review (``reopen``) or to the fork node (``fork``)."""
    action = (state.get("request") or {}).get("action")
    if action == "reopen":
        return "review"
    if action == "fork":
        return "fork"
    return "screen"


def validate_fork(values: dict, request: dict) -> dict[str, float]:
    """Check a fork request against the state it forks from; return the thresholds it
    sets (``{"card-id:field>=": value}``). Raises :class:`HvrmetError` naming what is
    wrong: an unknown card, condition, hypothesis or hazard."""
    from hvrmet.knowledge import default_store

    store = default_store()
    th = dict(values.get("thresholds") or {})
    for key, val in (request.get("thresholds") or {}).items():
        card_id, _, field_op = key.partition(":")
        card = store.by_id.get(card_id)
        if card is None:
            raise HvrmetError(f"unknown card {card_id!r} in threshold {key!r}")
        numeric = [c for c in card.conditions if not isinstance(c.value, (bool, str))]
        if field_op not in {f"{c.field}{c.op}" for c in numeric}:
            raise HvrmetError(f"card {card_id} has no numeric condition {field_op!r}; its conditions: "
                              + ", ".join(f"{c.field}{c.op}{c.value:g}" for c in numeric))
        th[f"{card_id}:{field_op}"] = float(val)
    hyps = [Hypothesis.model_validate(h) for h in values.get("hypotheses", [])]
    for hid in request.get("drop") or []:
        if find_hypothesis(hyps, hid) is None:
            raise HvrmetError(f"no hypothesis {hid!r} at loop {request.get('loop')}; known: "
                              f"{', '.join(h.id for h in hyps)}")
    for hazard in request.get("add") or []:
        if hazard not in store.hazards:
            raise HvrmetError(f"unknown hazard {hazard!r}; known: {', '.join(sorted(store.hazards))}")
    return th


def fork(state: DiagnosisState, config: RunnableConfig) -> dict:
    """Apply a fork request: thresholds changed (the evidence judged again), hypotheses
    dropped (rejected by the forecaster) or hazards added (with the checks the knowledge
    cards list for them); then the loop's checks run again."""
    from hvrmet.agents.expert import ExpertPolicy
    from hvrmet.knowledge import default_store

    cfg = config_of(config)
    req = dict(state.get("request") or {})
    loop = int(req.get("loop", state.get("loop", 1)))
    th = validate_fork(state, req)
    hyps = {h["id"]: Hypothesis.model_validate(h) for h in state.get("hypotheses", [])}
    for hid in req.get("drop") or []:
        h = find_hypothesis(hyps.values(), hid)
        hyps[h.id] = apply_signoff(h, "rejected", f"dropped at the fork of loop {loop}").model_copy(update={"checks": []})
    new_ids = []
    if req.get("add"):
        store = default_store()
        planner = ExpertPolicy(store)  # the checks the cards list for a hazard, whatever the brain
        ctx = brain_context(state, cfg)
        for hazard in req["add"]:
            hid = f"H{len(hyps) + 1}"
            hyps[hid] = Hypothesis(id=hid, hazard=hazard, statement=store.hazards[hazard].description, prior=0.5,
                                   posterior=0.5, checks=planner.first_checks(planner.plan(hazard, ctx), ctx),
                                   loop_proposed=loop, rationale=f"added by the forecaster at the fork of loop {loop}")
            new_ids.append(hid)
    ev = [Evidence.model_validate(e) for e in state.get("evidence", [])]
    if th != (state.get("thresholds") or {}) or new_ids:
        ev = [rejudge(e, list(hyps.values()), th) for e in ev]
    what = ", ".join([f"{k}{v:g}" for k, v in (req.get("thresholds") or {}).items()]
                     + [f"drop {d}" for d in req.get("drop") or []] + [f"add {a}" for a in req.get("add") or []]) \
        or "no change"
    return {"hypotheses": [h.model_dump() for h in hyps.values()], "evidence": [e.model_dump() for e in ev],
            "thresholds": th, "done": False, "report": {}, "outcome": "", "request": None, "loop": loop,
            "awaiting_signoff": False,
            "decisions": [Decision(loop=loop, action="fork", reason=f"the forecaster forked loop {loop}: {what}",
                                   new_hypotheses=new_ids).model_dump()],
            "messages": [message("fork", f"forked at loop {loop}: {what}")]}
