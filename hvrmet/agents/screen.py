"""Node *screen*: run the screening tools over whatever data the case has and list the
anomalous signals."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

import time

from hvrmet.agents.common import config_of, tools_out_dir, message, run_id_of
from hvrmet.agents.evidence import run_check
from hvrmet.agents.signals import find_signals, screening_plan
from hvrmet.agents.state import DiagnosisState, PlannedCheck
from hvrmet.cases import get_case
from hvrmet.units import format_units

__all__ = ["screen"]


def screen(state: DiagnosisState, config: RunnableConfig) -> dict:
    """Screen the case: one evidence item per screening tool call, then the signals."""
    started = state.get("started") or time.time()  # the run's clock starts before screening
    cfg = config_of(config)
    case = get_case(state["case"], state.get("data_dir"))
    evidence = []
    for i, (tool_name, args) in enumerate(screening_plan(case.roles), 1):
        evidence.append(run_check(PlannedCheck(tool=tool_name, args=args, reason="screening"), state["case"],
                                  state.get("data_dir"), origin="screen", loop=0, seq=i,
                                  out_dir=tools_out_dir(state, cfg, config)))
    signals = find_signals(evidence)
    msgs = [message("screen", ev.summary if ev.ok else f"{ev.tool}: error: {ev.error}", evidence=ev.id)
            for ev in evidence]
    msgs += [message("signal", f"{s['id']}: {s['description']} ({s['tool']}.{s['field']} = "
                               f"{s['value'] if not isinstance(s['value'], float) else round(s['value'], 3)} {format_units(s['units'])}".rstrip() + ")",
                     evidence=s["evidence_id"]) for s in signals]
    return {"evidence": [e.model_dump() for e in evidence], "signals": signals, "messages": msgs,
            "tool_calls": len(evidence), "loop": 0, "screen_done": 1,
            "started": started, "run_id": run_id_of(state, config)}
