"""The typed state of a diagnosis (LangGraph), with reducers for the parallel branches.

Hypotheses and evidence are keyed by id and merged with :func:`merge_by_id`, so parallel
verification branches and a resumed run never duplicate or lose an item.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from typing_extensions import Required, TypedDict

from pydantic import BaseModel, Field

__all__ = ["Signal", "PlannedCheck", "Hypothesis", "Verdict", "Evidence", "Decision", "DiagnosisState",
           "merge_by_id", "Status", "DiagnosisInput"]

Status = Literal["proposed", "supported", "refuted", "inconclusive"]


class Signal(BaseModel):
    """An anomalous (or notably absent) signal found while screening the case."""

    id: str
    description: str
    tool: str
    field: str
    value: float | str | bool | None
    units: str = ""
    evidence_id: str = ""


class PlannedCheck(BaseModel):
    """A tool call planned to confirm or refute a hypothesis."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""

    def key(self) -> str:
        """A stable key for the call (tool plus sorted arguments)."""
        items = ",".join(f"{k}={self.args[k]}" for k in sorted(self.args))
        return f"{self.tool}({items})"


class Hypothesis(BaseModel):
    """A candidate hazard or mechanism and what is known about it."""

    id: str
    hazard: str
    statement: str
    prior: float
    posterior: float
    status: Status = "proposed"
    checks: list[PlannedCheck] = Field(default_factory=list)
    evidence_ids: list[str] = Field(default_factory=list)
    cards: list[str] = Field(default_factory=list)
    loop_proposed: int = 0
    rationale: str = ""
    signoff: str | None = None  # the forecaster's accept/reject, recorded by the chat


class Verdict(BaseModel):
    """What one condition of one card says about one hypothesis, given one result."""

    hypothesis_id: str
    hazard: str
    card: str
    condition: str
    field: str = ""
    op: str = ""
    meaning: Literal["supports", "weakly_supports", "refutes"]
    met: bool | None
    value: float | str | bool | None = None
    units: str = ""


class Evidence(BaseModel):
    """A tool call and what it showed: numbers with units, data read, verdicts."""

    id: str
    loop: int
    tool: str
    arguments: dict[str, Any]
    ok: bool
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)
    summary: str = ""
    error: str | None = None
    files: list[dict[str, str]] = Field(default_factory=list)
    figures: list[dict[str, str]] = Field(default_factory=list)
    cards: list[str] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    for_hypothesis: str = ""
    seconds: float = 0.0


class Decision(BaseModel):
    """A replanning decision, kept for the loop-by-loop trace."""

    loop: int
    action: Literal["continue", "stop", "signoff", "fork"]
    reason: str
    new_checks: dict[str, list[str]] = Field(default_factory=dict)
    new_hypotheses: list[str] = Field(default_factory=list)
    status_changes: dict[str, str] = Field(default_factory=dict)
    posteriors: dict[str, float] = Field(default_factory=dict)


def merge_by_id(left: list[dict] | None, right: list[dict] | None) -> list[dict]:
    """Reducer: update items by ``id`` (right wins), keeping first-seen order."""
    out = {item["id"]: item for item in (left or [])}
    for item in right or []:
        out[item["id"]] = item
    return list(out.values())


def _max(left: int | None, right: int | None) -> int:
    return max(left or 0, right or 0)


class DiagnosisInput(TypedDict, total=False):
    """What a run is started with (the graph's input schema; only ``case`` is required).

    ``case`` is a catalogue id or a case-file path; ``data_dir`` a folder the case's
    relative paths are read from; ``run_id`` names the run's output folder (the LangGraph
    thread id when omitted).
    """

    case: Required[str]
    data_dir: str | None
    run_id: str


class DiagnosisState(TypedDict, total=False):
    """The graph state. Models are stored as plain dicts (JSON-serialisable checkpoints)."""

    case: str                       # catalogue id or case-file path
    data_dir: str | None
    run_id: str
    started: float                  # wall-clock start (s since the epoch), for the budget
    loop: int
    signals: list[dict]
    hypotheses: Annotated[list[dict], merge_by_id]
    evidence: Annotated[list[dict], merge_by_id]
    decisions: Annotated[list[dict], operator.add]
    messages: Annotated[list[dict], operator.add]
    tool_calls: Annotated[int, operator.add]
    llm_tokens: Annotated[int, operator.add]
    done: bool
    outcome: str
    report: dict
    screen_done: Annotated[int, _max]
    thresholds: dict[str, float]    # the forecaster's overrides, "card-id:field>=" -> value (set by /fork)
    awaiting_signoff: bool          # paused at the review for the forecaster's sign-off
