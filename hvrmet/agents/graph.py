"""The Hypothesis-Verification-Replanning graph.

``START -> (screen | review | fork)`` by the input (:func:`hvrmet.agents.fork.route_start`), then
``screen -> hypothesis -> verify (one branch per hypothesis, via Send) -> replan ->
(verify | replan | review) -> report -> END``; *review* pauses for the forecaster's
sign-off when the run asks for it (the chat) and passes through otherwise. Routing is explicit (:func:`route_after_hypothesis`,
:func:`hvrmet.agents.replanning.route_after_replan`) and tested.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.fork import fork, route_start
from hvrmet.agents.hypothesis import hypothesis
from hvrmet.agents.replanning import replan, route_after_replan
from hvrmet.agents.report import report
from hvrmet.agents.review import review, route_after_review
from hvrmet.agents.screen import screen
from hvrmet.agents.state import DiagnosisInput, DiagnosisState
from hvrmet.agents.verification import dispatch, verify

__all__ = ["build_graph", "route_after_hypothesis", "route_after_fork", "graph"]


def route_after_hypothesis(state: DiagnosisState):
    """Verification branches for the proposed hypotheses (or replanning if none has a
    check to run, or the review and report if the step failed)."""
    if state.get("done"):
        return "review"
    sends = dispatch(state)
    return sends if sends else "replan"


def route_after_fork(state: DiagnosisState):
    """After a fork: the forked loop's checks (or replanning if none is left to run)."""
    sends = dispatch(state)
    return sends if sends else "replan"


def build_graph(checkpointer=None):
    """Compile the graph (with a checkpointer for persistence and resumption)."""
    g = StateGraph(DiagnosisState, input_schema=DiagnosisInput, config_schema=Configuration)
    g.add_node("screen", screen)
    g.add_node("hypothesis", hypothesis)
    g.add_node("verify", verify)
    g.add_node("replan", replan)
    g.add_node("review", review)
    g.add_node("report", report)
    g.add_node("fork", fork)
    g.add_conditional_edges(START, route_start, ["screen", "review", "fork"])
    g.add_conditional_edges("fork", route_after_fork, ["verify", "replan"])
    g.add_edge("screen", "hypothesis")
    g.add_conditional_edges("hypothesis", route_after_hypothesis, ["verify", "replan", "review"])
    g.add_edge("verify", "replan")
    g.add_conditional_edges("replan", route_after_replan, ["verify", "replan", "review"])
    g.add_conditional_edges("review", route_after_review, ["review", "report"])
    g.add_edge("report", END)
    return g.compile(checkpointer=checkpointer)


#: The graph without a checkpointer, for LangGraph Studio (``langgraph.json``).
graph = build_graph()
