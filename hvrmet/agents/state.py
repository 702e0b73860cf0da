"""The typed state of a diagnosis (LangGraph), with reducers for the parallel branches.

Hypotheses and evidence are keyed by id and merged with :func:`merge_by_id`, so parallel
verification branches and a resumed run never duplicate or lose an item.
"""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, Literal

from typing_extensions import Required, TypedDict

from pydantic import BaseModel, Field

__all__ = ["Signal", "PlannedCheck", "Hypothesis", "Verdict", "Evidence", "Decision", "DiagnosisState",
           "merge_by_id", "Status", "DiagnosisInput", "Origin", "evidence_id"]

Status = Literal["proposed", "supported", "refuted", "inconclusive", "not_assessed"]
Origin = Literal["screen", "check", "report", "forecaster"]
_ORIGIN_TAG = {"screen": "S", "report": "R", "forecaster": "F"}


def evidence_id(origin: Origin, loop: int, seq: int, hypothesis: str = "") -> str:
    """The one way an evidence id is made: ``E0-S3`` (screening), ``E1-H2-4`` (a check of
    hypothesis H2), ``E2-R1`` (a report figure), ``E1-F2`` (the forecaster's check). Code
    reads the provenance from the fields (``origin``, ``loop``, ``seq``,
    ``for_hypothesis``), never from the id."""
    if seq < 1 or loop < 0:
        raise ValueError(f"evidence seq must be >= 1 and loop >= 0, not seq={seq}, loop={loop}")
    if origin == "check":
        if not hypothesis:
            raise ValueError("a check's evidence id needs its hypothesis")
        return f"E{loop}-{hypothesis}-{seq}"
    return f"E{loop}-{_ORIGIN_TAG[origin]}{seq}"


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
    widened_from: float | None = None  # a replanning check that searches wider than the storm-scale
    #                                    window of its kind of data (this radius, km): it weighs less

    def key(self) -> str:
        """A stable key for the call: the tool and its effective arguments (the tool's
        defaults filled in, so ``level`` left at its default and given explicitly are one
        call), sorted; the case and its files are not part of it."""
        args = effective_args(self.tool, self.args)
        items = ",".join(f"{k}={args[k]}" for k in sorted(args))
        return f"{self.tool}({items})"


_BASE_ARGS = ("case", "data_dir", "files")


def effective_args(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """A tool call's arguments with the tool's defaults filled in (the registry's input
    model), without the case and its files; the arguments as given when the tool is
    unknown or they do not validate."""
    given = {k: v for k, v in args.items() if k not in _BASE_ARGS}
    try:
        frozen = tuple(sorted((k, repr(v)) for k, v in given.items()))
        return dict(_effective(tool, frozen, tuple(sorted(given))))  # cached on the call
    except Exception:  # noqa: BLE001 - unhashable or unknown: the arguments as given
        return given


@functools.lru_cache(maxsize=4096)
def _effective(tool: str, frozen: tuple, names: tuple) -> tuple:
    import ast

    from hvrmet.tools import find_tool

    t = find_tool(tool)
    given = {k: ast.literal_eval(v) for k, v in frozen}
    if t is None:
        return tuple(sorted(given.items()))
    model = t.input_model.model_validate({"case": "-", **given})
    dumped = model.model_dump(mode="json", exclude=set(_BASE_ARGS))
    return tuple(sorted((k, v if not isinstance(v, (list, dict)) else repr(v)) for k, v in dumped.items()))


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
    ledger: dict | None = None  # the posterior as a sum (hvrmet.agents.accounting.Ledger), when the brain keeps one


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
    threshold: float | str | bool | None = None
    threshold_units: str = ""
    weight: float | None = None     # the condition's own weight, if it gives one
    reason: str = ""                # why it could not be evaluated (met is None): "not computable: ..."


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
    warnings: list[str] = Field(default_factory=list)
    files: list[dict[str, str]] = Field(default_factory=list)
    figures: list[dict[str, str]] = Field(default_factory=list)
    cards: list[str] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    for_hypothesis: str = ""
    seconds: float = 0.0
    origin: Origin = "check"        # who asked for it: screening, a hypothesis's check, the report, the forecaster
    seq: int = 0                    # its number among the items of that origin (and hypothesis) in its loop
    outside_time_window: bool = False  # its data lie outside the time window around the case's time (the
    #                                    tool's window, hvrmet.tools.window): its numbers weigh less in the ledger
    data_time_offset: float | None = None  # hours from the case's time to the data's valid time, when the tool says
    widened_from: float | None = None  # searched wider than the storm-scale window (this default radius, km) by a
    #                                    replanning check: its numbers weigh less (wider_window in weights.yaml)


class Decision(BaseModel):
    """A replanning decision, kept for the loop-by-loop trace."""

    loop: int
    action: Literal["continue", "stop", "signoff", "fork"]
    reason: str
    new_checks: dict[str, list[str]] = Field(default_factory=dict)
    new_hypotheses: list[str] = Field(default_factory=list)
    status_changes: dict[str, str] = Field(default_factory=dict)
    posteriors: dict[str, float] = Field(default_factory=dict)
    checks: list[dict[str, Any]] = Field(default_factory=list, description="per check run in the loop: the "
                                         "hypothesis, the evidence id, what it was expected to decide, what it did")


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
    request: dict | None


#: The documented ``request`` inputs of a thread that already ran (the chat and the run
#: lifecycle change a run only through these and ``Command(resume=...)``):
#:
#: * ``{"action": "reopen"}``: back to the review after the report (a late sign-off);
#: * ``{"action": "fork", "loop": N, "thresholds": {"card:field>=": v}, "drop": [...],
#:   "add": [...]}``: sent with the config of the checkpoint where loop N's checks
#:   started, it continues from there with changed thresholds or hypotheses.
REQUESTS = ("reopen", "fork")


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
    request: dict | None            # an input asking for something other than a new run (see DiagnosisInput)
    failure: dict | None            # why the run could not finish its reasoning (the brain's error), if it could not
    awaiting_signoff: bool          # paused at the review for the forecaster's sign-off
