"""The report model's hypotheses and evidence as rows of strings (the chat's tables).

Plain data (title, columns, rows) that :class:`hvrmet.chat.reply.Table` holds; the
statuses, priors and posteriors are the ones the Markdown and HTML reports print.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from hvrmet.agents.report.model import EvidenceEntry, HypothesisEntry, Report

__all__ = ["Rows", "hypothesis_rows", "evidence_rows", "report_tables"]

HYPOTHESIS_COLUMNS = ["id", "hazard", "status", "prior", "posterior", "evidence", "forecaster"]
EVIDENCE_COLUMNS = ["id", "loop", "tool", "for", "result"]


class Rows(BaseModel):
    """A titled table of strings."""

    title: str
    columns: list[str]
    rows: list[list[str]] = Field(default_factory=list)


def hypothesis_rows(hyps: Iterable[HypothesisEntry]) -> Rows:
    """One row per hypothesis: id, hazard, status, prior, posterior, number of evidence
    items, the forecaster's sign-off."""
    return Rows(title="hypotheses", columns=list(HYPOTHESIS_COLUMNS),
                rows=[[h.id, h.hazard, h.status, h.prior_text, h.posterior_text, str(len(h.evidence_ids)),
                       h.signoff or ""] for h in hyps])


def evidence_rows(evidence: Iterable[EvidenceEntry], n_values: int = 3) -> Rows:
    """One row per evidence item: id, loop, tool, the hypothesis it was run for, and its
    first ``n_values`` key values (or its error)."""
    return Rows(title="evidence", columns=list(EVIDENCE_COLUMNS),
                rows=[[e.id, str(e.loop), e.tool, e.for_hypothesis, e.result(n_values)] for e in evidence])


def report_tables(rep: Report) -> list[Rows]:
    """The hypothesis and evidence tables of a whole report."""
    return [hypothesis_rows(rep.hypotheses), evidence_rows(rep.evidence)]
