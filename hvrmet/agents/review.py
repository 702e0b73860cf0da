"""Node *review*: the forecaster's sign-off before the report (LangGraph ``interrupt``).

With ``Configuration.review`` off (batch runs, the benchmark, ``hvrmet diagnose``) the
node passes straight to the report. With it on (the chat), the run pauses here; the
forecaster's answer arrives as ``Command(resume=...)``, a dict with any of

* ``signoffs``: ``{hypothesis id: {"verdict": "accepted" | "rejected", "note": str}}``,
* ``checks``: tool calls the forecaster asks for (``/check``, ``/plot``), as
  ``{"tool": name, "args": {...}}``; they run here, on the run's case, and join the
  evidence as the forecaster's (judged against every hypothesis),
* ``action``: ``"report"`` to write the report; otherwise the run pauses here again.

An accepted hypothesis becomes *supported* and a rejected one *refuted*; the machine's
status and posterior are kept in the sign-off text, so the report shows both.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from hvrmet.agents.common import config_of, hypotheses_of, message
from hvrmet.agents.state import Decision, DiagnosisState, Evidence, Hypothesis
from hvrmet.errors import HvrmetError

__all__ = ["review", "route_after_review", "apply_signoff", "find_hypothesis", "VERDICTS"]

#: A sign-off verdict and the status it sets.
VERDICTS = {"accepted": "supported", "rejected": "refuted"}


def apply_signoff(h: Hypothesis, verdict: str, note: str = "") -> Hypothesis:
    """The hypothesis after the forecaster's ``verdict`` (``accepted`` or ``rejected``)."""
    if verdict not in VERDICTS:
        raise HvrmetError(f"verdict must be one of {sorted(VERDICTS)}, not {verdict!r}")
    machine = h.signoff.split(" (machine: ", 1)[1].split(")", 1)[0] if h.signoff and "(machine: " in h.signoff \
        else f"{h.status}, {h.posterior:.2f}"
    text = f"{verdict} by the forecaster (machine: {machine})" + (f": {note}" if note else "")
    return h.model_copy(update={"status": VERDICTS[verdict], "signoff": text})


def find_hypothesis(hyps, hid: str) -> Hypothesis | None:
    """A hypothesis by id (``H2``, any case) or hazard label (``tornadic_supercell``)."""
    return next((h for h in hyps if hid.upper() == h.id or hid == h.hazard), None)


def _forecaster_checks(state: DiagnosisState, config: RunnableConfig, checks: list[dict],
                       hyps: list[Hypothesis]) -> list[Evidence]:
    from hvrmet.agents.common import tools_out_dir
    from hvrmet.agents.evidence import attach_verdicts, run_check
    from hvrmet.agents.state import PlannedCheck

    cfg = config_of(config)
    loop = state.get("loop", 0)
    done = sum(1 for e in state.get("evidence", []) if e.get("origin") == "forecaster" and e.get("loop") == loop)
    out = []
    for i, c in enumerate(checks, done + 1):
        check = PlannedCheck(tool=c["tool"], args=c.get("args") or {}, reason="the forecaster's check")
        ev = run_check(check, state["case"], state.get("data_dir"), origin="forecaster", loop=loop, seq=i,
                       for_hypothesis="forecaster", out_dir=tools_out_dir(state, cfg, config))
        out.append(attach_verdicts(ev, hyps, state.get("thresholds")))
    return out


def review(state: DiagnosisState, config: RunnableConfig) -> dict:
    """Pause for the forecaster (when ``review`` is on) and apply what they sign off."""
    cfg = config_of(config)
    if not cfg.review:
        return {"awaiting_signoff": False, "request": None}
    hyps = hypotheses_of(state)
    answer = interrupt({"ask": "sign-off", "hypotheses": [
        {"id": h.id, "hazard": h.hazard, "status": h.status, "posterior": h.posterior, "signoff": h.signoff}
        for h in hyps]}) or {}
    by_id = {h.id: h for h in hyps}
    changes, msgs, touched = {}, [], set()
    for hid, s in (answer.get("signoffs") or {}).items():
        if hid not in by_id:
            msgs.append(message("error", f"sign-off for unknown hypothesis {hid}; known: {', '.join(by_id)}"))
            continue
        old = by_id[hid]
        new = apply_signoff(old, s.get("verdict", ""), s.get("note", ""))
        by_id[hid] = new
        changes[hid] = f"{old.status}->{new.status}"
        touched.add(hid)
        msgs.append(message("signoff", f"{hid} {new.hazard}: {new.signoff}", hypothesis=hid))
    evidence = [e.model_dump() for e in _forecaster_checks(state, config, answer.get("checks") or [],
                                                            list(by_id.values()))]
    for e in evidence:
        for v in e["verdicts"]:
            h = by_id.get(v["hypothesis_id"])
            if h is not None and v["met"] is not None and e["id"] not in h.evidence_ids:
                by_id[h.id] = h.model_copy(update={"evidence_ids": [*h.evidence_ids, e["id"]]})
                touched.add(h.id)
        msgs.append(message("check", f"forecaster {e['id']} {e['tool']}: {e['summary'] or e['error']}", evidence=e["id"]))
    out: dict = {"awaiting_signoff": answer.get("action") != "report", "messages": msgs, "request": None}
    if touched:
        out["hypotheses"] = [by_id[h].model_dump() for h in sorted(touched)]
    if changes:
        out["decisions"] = [Decision(loop=state.get("loop", 1), action="signoff", reason="the forecaster's sign-off",
                                     status_changes=changes).model_dump()]
    if evidence:
        out["evidence"] = evidence
        out["tool_calls"] = len(evidence)
    return out


def route_after_review(state: DiagnosisState) -> str:
    """Back to the review while the forecaster is still signing off; then the report."""
    return "review" if state.get("awaiting_signoff") else "report"
