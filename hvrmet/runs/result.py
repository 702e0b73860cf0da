"""The typed result of a diagnosis, as the Python API and ``hvrmet diagnose --json`` give it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from hvrmet.agents.report.model import RunFailure as Failure
from hvrmet.agents.state import Evidence

__all__ = ["DiagnosisResult", "HypothesisResult", "ReportPaths", "Failure"]


class HypothesisResult(BaseModel):
    """One hypothesis at the end of the run."""

    id: str
    hazard: str
    status: str
    prior: float
    posterior: float
    evidence_ids: list[str] = Field(default_factory=list)
    signoff: str | None = None


class ReportPaths(BaseModel):
    """Where the run wrote its report (empty strings when it wrote none)."""

    folder: str = ""
    markdown: str = ""
    html: str = ""
    trace: str = ""
    summary: str = ""


class DiagnosisResult(BaseModel):
    """A finished (or paused) diagnosis: its hypotheses, evidence and report."""

    case: str
    thread_id: str
    outcome: str = ""
    loops: int = 0
    tool_calls: int = 0
    signals: list[str] = Field(default_factory=list)
    hypotheses: list[HypothesisResult] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    report: ReportPaths = Field(default_factory=ReportPaths)
    failure: Failure | None = None

    @property
    def failed(self) -> bool:
        """Whether the brain failed (the command exits non-zero)."""
        return self.failure is not None

    def leading(self) -> HypothesisResult | None:
        """The supported hypothesis with the highest posterior, if any: a warning-level
        hazard before a null outcome (ordinary convection, stratiform rain), before the
        null hypothesis."""
        from hvrmet.knowledge import default_store

        hz = default_store().hazards
        sup = [h for h in self.hypotheses if h.status == "supported"]

        def rank(h: HypothesisResult) -> tuple[int, float]:
            fam = getattr(hz.get(h.hazard), "family", "")
            return (0 if fam != "null" else 1 if h.hazard != "no_severe_hazard" else 2, -h.posterior)
        return min(sup, key=rank) if sup else None

    @classmethod
    def from_state(cls, state: dict[str, Any], thread_id: str | None = None) -> "DiagnosisResult":
        rep = state.get("report") or {}
        return cls(
            case=str(state.get("case", "")), thread_id=thread_id or state.get("thread_id") or state.get("run_id", ""),
            outcome=state.get("outcome", ""), loops=state.get("loop", 0) or 0,
            tool_calls=state.get("tool_calls", 0) or 0, signals=[s["id"] for s in state.get("signals", [])],
            hypotheses=[HypothesisResult.model_validate(h) for h in state.get("hypotheses", [])],
            evidence=[Evidence.model_validate(e) for e in state.get("evidence", [])],
            report=ReportPaths(**{k: str(rep.get(k, "")) for k in ReportPaths.model_fields}),
            failure=Failure(**state["failure"]) if state.get("failure") else None)

    def brief(self) -> dict[str, Any]:
        """The result without the evidence items (``hvrmet diagnose --json``)."""
        return self.model_dump(exclude={"evidence"})
