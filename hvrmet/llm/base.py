"""The brain interface: what the H-V-R graph asks of whoever reasons.

Two implementations sit behind it: the offline expert policy
(:class:`hvrmet.llm.expert.ExpertPolicy`, deterministic, driven by the knowledge cards)
and an OpenAI-compatible chat model (:class:`hvrmet.llm.openai_brain.OpenAIBrain`). The
graph's nodes call only these methods; they never import ``openai``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from hvrmet.agents.state import Evidence, Hypothesis, PlannedCheck, Signal

__all__ = ["Brain", "BrainContext", "Proposal", "Assessment", "ReplanPlan", "BrainError", "Answer", "ToolRunner"]


class BrainError(RuntimeError):
    """The brain could not answer (timeout, unreachable endpoint, output still malformed
    after the retries). The graph records it and goes on or stops cleanly."""


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
    status: str = Field(description="proposed, supported, refuted or inconclusive")
    rationale: str = ""


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
