"""Node *hypothesis*: propose and rank hypotheses from the signals and the cards."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

from hvrmet.agents.common import brain_context, brain_failure, brain_of, config_of, evidence_of, message
from hvrmet.agents.evidence import attach_verdicts
from hvrmet.agents.state import DiagnosisState, Hypothesis
from hvrmet.agents.brain import BrainError

__all__ = ["hypothesis", "to_hypotheses"]


def to_hypotheses(proposals, start: int, loop: int) -> list[Hypothesis]:
    """Number new proposals H{start}, H{start+1}, ..."""
    return [Hypothesis(id=f"H{start + i}", hazard=p.hazard, statement=p.statement, prior=p.prior,
                       posterior=p.prior, checks=p.checks, cards=p.cards, loop_proposed=loop,
                       rationale=p.rationale) for i, p in enumerate(proposals)]


def hypothesis(state: DiagnosisState, config: RunnableConfig) -> dict:
    """Ask the brain for hypotheses; judge the screening evidence against them."""
    cfg = config_of(config)
    brain = brain_of(cfg)
    ctx = brain_context(state, cfg)
    tokens0 = brain.tokens_used
    try:
        proposals = brain.propose(ctx)
    except BrainError as exc:
        return {"messages": [message("error", f"hypothesis step failed: {exc}")], "done": True,
                "outcome": "error", "loop": 1, "failure": brain_failure("hypothesis", exc)}
    hyps = to_hypotheses(proposals, 1, 1)
    evidence = [attach_verdicts(e, hyps, state.get("thresholds")) for e in evidence_of(state)]
    msgs = [message("hypothesis", f"{h.id} {h.hazard} (prior {h.prior:.2f}): {h.statement}; "
                                  f"checks: {', '.join(c.tool for c in h.checks) or 'none'}", hypothesis=h.id)
            for h in hyps]
    return {"hypotheses": [h.model_dump() for h in hyps], "evidence": [e.model_dump() for e in evidence],
            "messages": msgs, "loop": 1, "llm_tokens": brain.tokens_used - tokens0}
