"""Helpers shared by the nodes: the brain of a run, the brain's view of the state, budgets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.state import DiagnosisState, Evidence, Hypothesis, Signal
from hvrmet.cases import get_case
from hvrmet.agents.brain import get_brain
from hvrmet.agents.brain import Brain, BrainContext

__all__ = ["config_of", "brain_of", "brain_context", "hypotheses_of", "evidence_of", "budget_left", "message",
           "run_id_of", "run_folder", "tools_out_dir", "brain_failure"]

_BRAINS: dict[tuple, Brain] = {}


def config_of(config: dict | None) -> Configuration:
    """The run configuration from LangGraph's ``config`` (and the environment)."""
    return Configuration.from_runnable_config(config)


def brain_of(cfg: Configuration) -> Brain:
    """The brain of a configuration (one instance per configuration per process)."""
    key = (cfg.brain, cfg.base_url, cfg.model, cfg.llm_timeout_s, cfg.llm_retries, cfg.key())
    if key not in _BRAINS:
        _BRAINS[key] = get_brain(cfg)
    return _BRAINS[key]


def hypotheses_of(state: DiagnosisState) -> list[Hypothesis]:
    return [Hypothesis.model_validate(h) for h in state.get("hypotheses", [])]


def evidence_of(state: DiagnosisState) -> list[Evidence]:
    return [Evidence.model_validate(e) for e in state.get("evidence", [])]


def budget_left(state: DiagnosisState, cfg: Configuration) -> dict[str, float]:
    """What is left of each budget."""
    return {"loops": cfg.max_loops - state.get("loop", 0),
            "tool_calls": cfg.max_tool_calls - state.get("tool_calls", 0),
            "seconds": cfg.max_seconds - (time.time() - state.get("started", time.time()))}


def brain_context(state: DiagnosisState, cfg: Configuration) -> BrainContext:
    """The brain's view: roles, time and place, signals, hypotheses, evidence; never the
    case's recorded events or title."""
    from hvrmet.tools import list_tools

    case = get_case(state["case"], state.get("data_dir"))
    return BrainContext(
        case=state["case"], roles=case.roles, time=case.time.isoformat(),
        location={"lat": case.location.lat, "lon": case.location.lon, "radar_site": case.location.radar_site},
        loop=state.get("loop", 0), signals=[Signal.model_validate(s) for s in state.get("signals", [])],
        hypotheses=hypotheses_of(state), evidence=evidence_of(state),
        tools=[t.name for t in list_tools() if t.category != "plot"], budget_left=budget_left(state, cfg))


def message(kind: str, text: str, **data: Any) -> dict:
    """A log message of the run (shown live, kept in the trace)."""
    return {"kind": kind, "text": text, **data}


def run_id_of(state: DiagnosisState, config: dict | None = None) -> str:
    """The run's id: the state's ``run_id``, else the LangGraph thread id (served runs
    that give none), so two runs never share a folder."""
    rid = state.get("run_id") or ((config or {}).get("configurable") or {}).get("thread_id")
    if not rid:
        raise ValueError("the run has neither a run_id in its state nor a thread_id in its config")
    return str(rid)


def run_folder(state: DiagnosisState, cfg: Configuration, config: dict | None = None) -> Path:
    """``<out_dir>/<case>/<run id>/``: the run's report, trace and figures."""
    return Path(cfg.out_dir) / Path(str(state["case"])).stem / run_id_of(state, config)


def tools_out_dir(state: DiagnosisState, cfg: Configuration, config: dict | None = None) -> str:
    """The output folder handed to the run's tools: the run's folder, so their figures go
    into ``figures/`` beside the report (the tools add ``figures/`` themselves)."""
    return str(run_folder(state, cfg, config))


def brain_failure(node: str, exc: Exception) -> dict:
    """The ``failure`` a node records when the brain fails: which step, what kind, why
    (the run then ends with that reason in its report and a non-zero exit status)."""
    return {"node": node, "kind": getattr(exc, "kind", "error"), "message": str(exc)}
