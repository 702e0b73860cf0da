"""The brain interface: what the H-V-R graph asks of whoever reasons.

Two implementations sit behind it: the offline expert policy
(:class:`hvrmet.agents.expert.ExpertPolicy`, deterministic, driven by the knowledge cards)
and an OpenAI-compatible chat model (:class:`hvrmet.llm.openai_brain.OpenAIBrain`). The
graph's nodes call only these methods; they never import ``openai``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from hvrmet.agents.state import Evidence, Hypothesis, PlannedCheck, Signal

__all__ = ["Brain", "BrainContext", "Proposal", "Assessment", "ReplanPlan", "BrainError", "Answer", "ToolRunner",
           "Capabilities", "get_brain", "available_brains"]


class BrainError(RuntimeError):
    """The brain could not answer (timeout, unreachable endpoint, output still malformed
    after the retries). The graph records it, ends the run with the reason in the report,
    and the command exits non-zero.

    ``kind`` says which failure it was (``timeout``, ``unreachable``, ``http``,
    ``malformed``, ``budget``), for tests and the report.
    """

    def __init__(self, message: str, kind: str = "malformed") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Capabilities:
    """What a brain can do, asked by the front ends instead of its name.

    Attributes
    ----------
    free_text
        Composes answers to free-text questions (a language model); the offline policy
        answers with the closest command or a knowledge search instead.
    deterministic
        Same input, same output (no sampling, no network).
    tool_calling
        Chooses tools itself by function calling (so it can answer an atomic question by
        calling one tool, as the benchmark asks).
    """

    free_text: bool = False
    deterministic: bool = True
    tool_calling: bool = False


class Proposal(BaseModel):
    """A hypothesis the brain proposes."""

    hazard: str = Field(description="a label from the hazard vocabulary")
    statement: str = Field(description="the hypothesis in one sentence")
    prior: float = Field(ge=0.0, le=1.0, description="prior probability")
    checks: list[PlannedCheck] = Field(default_factory=list, description="tool calls that would confirm or refute it")
    cards: list[str] = Field(default_factory=list, description="knowledge cards the proposal rests on")
    rationale: str = ""


class Assessment(BaseModel):
    """The brain's judgement of one hypothesis after the evidence so far."""

    hypothesis_id: str
    posterior: float = Field(ge=0.0, le=1.0)
    status: str = Field(description="proposed, supported, refuted, inconclusive or not_assessed")
    rationale: str = ""
    ledger: dict | None = Field(None, description="the posterior as a sum (hvrmet.agents.accounting.Ledger), "
                                                  "when the brain keeps one")


class ReplanPlan(BaseModel):
    """What to do after a verification round."""

    assessments: list[Assessment]
    new_checks: dict[str, list[PlannedCheck]] = Field(default_factory=dict, description="hypothesis id -> checks")
    new_hypotheses: list[Proposal] = Field(default_factory=list)
    stop: bool
    reason: str


class Answer(BaseModel):
    """The brain's answer to a forecaster's free-text question in the chat."""

    text: str = Field(description="the answer; every number in it comes from a tool result or a card")
    evidence_ids: list[str] = Field(default_factory=list, description="evidence items the tools recorded")
    cards: list[str] = Field(default_factory=list, description="knowledge cards quoted")


#: Runs a tool for the brain in the chat: ``(tool name, arguments) -> evidence dict``
#: (recorded in the run, errors included).
ToolRunner = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class BrainContext:
    """What the brain sees: the case's roles (never its events or title), the signals,
    the hypotheses and evidence so far, and the tools it may call."""

    case: str
    roles: list[str]
    time: str
    location: dict
    loop: int
    signals: list[Signal] = field(default_factory=list)
    hypotheses: list[Hypothesis] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    budget_left: dict = field(default_factory=dict)


@runtime_checkable
class Brain(Protocol):
    """The reasoning steps of the H-V-R loop."""

    name: str
    tokens_used: int
    capabilities: Capabilities

    def propose(self, ctx: BrainContext) -> list[Proposal]:
        """Propose and rank hypotheses from the signals, each with its checks."""

    def replan(self, ctx: BrainContext) -> ReplanPlan:
        """Update posteriors from the evidence, refute, plan new checks or hypotheses,
        and decide whether to stop."""

    def summarize(self, ctx: BrainContext) -> str:
        """The final diagnosis in a few sentences, citing evidence ids."""

    def answer(self, question: str, ctx: BrainContext, run_tool: ToolRunner) -> Answer:
        """Answer a forecaster's free-text question in the chat, through ``run_tool`` (the
        same registry) or the knowledge cards; never a made-up number."""


#: Brains built into the graph layer; others come from the ``hvrmet.brains`` entry points.
_BUILTIN = {"offline": "hvrmet.agents.expert:ExpertPolicy"}
_GROUP = "hvrmet.brains"


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, Any]:
    """The installed ``hvrmet.brains`` entry points (read once per process: scanning the
    installed distributions costs a tenth of a second, and every node asks)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=_GROUP)}


def available_brains() -> list[str]:
    """The names a configuration may give as ``brain``: built in, then plugged in."""
    return sorted(set(_BUILTIN) | set(_entry_points()))


def get_brain(cfg: Any) -> Brain:
    """The brain a configuration names, built from it.

    A brain is a class taking the :class:`~hvrmet.agents.configuration.Configuration`
    (the offline policy takes none). Unknown names list the known ones.
    """
    import importlib

    name = cfg.brain
    if name in _BUILTIN:
        mod, _, attr = _BUILTIN[name].partition(":")
        return getattr(importlib.import_module(mod), attr)()
    eps = _entry_points()
    if name not in eps:
        raise ValueError(f"unknown brain {name!r}; known brains: {', '.join(available_brains())}")
    return eps[name].load()(cfg)
