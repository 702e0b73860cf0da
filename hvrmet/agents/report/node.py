"""Node *report*: the diagnosis with its full evidence chain, figures and trace.

Writes ``trace.json``, ``report.md`` and a self-contained ``report.html`` (figures
embedded) into the run's folder ``<out_dir>/<case>/<run_id>/``, its figures into
``figures/`` inside it. Both reports render one :class:`~hvrmet.agents.report.model.Report`
built from the final state; every number links to the evidence item it comes from, which
names the tool, its arguments and the sha256 of the data it read.
"""

from __future__ import annotations

import json
import time

from langchain_core.runnables import RunnableConfig

from hvrmet.agents.common import brain_context, brain_of, config_of, evidence_of, tools_out_dir, hypotheses_of, message, \
    run_folder
from hvrmet.agents.evidence import run_check
from hvrmet.agents.report.html import render_html
from hvrmet.agents.report.markdown import render_markdown
from hvrmet.agents.report.model import build_report, format_value, key_values, outcome_of
from hvrmet.agents.state import DiagnosisState, Evidence, PlannedCheck
from hvrmet.cases import get_case

__all__ = ["report", "FIGURES_BY_ROLE", "format_value", "key_values"]

#: The figure drawn for each kind of data a case has.
FIGURES_BY_ROLE = {"sounding": "plot_skewt", "radar_volume": "plot_composite_reflectivity",
                   "level3_composite_reflectivity": "plot_composite_reflectivity",
                   "analysis": "plot_field_map", "composite_sequence": "plot_composite_sequence"}


def _figures(state: DiagnosisState, loop: int, figdir: str) -> list[Evidence]:
    from hvrmet.tools import REGISTRY, list_tools

    list_tools()
    case = get_case(state["case"], state.get("data_dir"))
    out, seen = [], set()
    for role in case.roles:
        name = FIGURES_BY_ROLE.get(role)
        if not name or name in seen or name not in REGISTRY:
            continue
        seen.add(name)
        args = {"role": role} if "role" in REGISTRY[name].input_model.model_fields else {}
        out.append(run_check(PlannedCheck(tool=name, args=args, reason="report figure"), state["case"],
                             state.get("data_dir"), origin="report", loop=loop, seq=len(out) + 1, out_dir=figdir))
    return out


def report(state: DiagnosisState, config: RunnableConfig) -> dict:
    """Write the report files and return their paths with the outcome."""
    cfg = config_of(config)
    brain = brain_of(cfg)
    loop = state.get("loop", 1)
    figs = _figures(state, loop, tools_out_dir(state, cfg, config)) if cfg.figures else []
    ctx = brain_context(state, cfg)
    try:
        summary = brain.summarize(ctx)
    except Exception as exc:  # noqa: BLE001 - the report is still written, with the reason
        summary = f"(the brain could not write the summary: {exc})"
    outcome = outcome_of(hypotheses_of(state))
    folder = run_folder(state, cfg, config)
    folder.mkdir(parents=True, exist_ok=True)
    evidence = evidence_of(state) + figs
    data = {**{k: v for k, v in state.items() if k not in ("evidence",)}, "evidence": [e.model_dump() for e in evidence],
            "summary": summary, "outcome": outcome, "brain": brain.name}
    data.pop("report", None)
    (folder / "trace.json").write_text(json.dumps(data, indent=1, default=str))
    counted = {**state, "tool_calls": state.get("tool_calls", 0) + len(figs)}  # the report's figures are tool calls too
    model = build_report(counted, folder=folder, summary=summary, outcome=outcome, brain=brain.name, evidence=evidence)
    (folder / "report.md").write_text(render_markdown(model))
    (folder / "report.html").write_text(render_html(model))
    rep = {"folder": str(folder), "markdown": str(folder / "report.md"), "html": str(folder / "report.html"),
           "trace": str(folder / "trace.json"), "summary": summary, "outcome": outcome,
           "seconds": round(time.time() - state.get("started", time.time()), 2)}
    return {"report": rep, "outcome": outcome, "evidence": [e.model_dump() for e in figs],
            "tool_calls": len(figs),
            "messages": [message("report", f"{outcome}: {summary}"), message("report", f"wrote {folder}")]}
