"""Node *report*: the diagnosis with its full evidence chain, figures and trace.

Writes ``report.md``, a self-contained ``report.html`` (figures embedded) and
``trace.json`` into ``<out_dir>/<case>/<run_id>/``. Every number in the text links to the
evidence item it comes from, which names the tool, its arguments and the sha256 of the
data it read.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig

import base64
import html
import json
import time
from pathlib import Path

from hvrmet.agents.common import (brain_context, brain_of, config_of, evidence_of, figures_dir, hypotheses_of, message,
                                  run_folder)
from hvrmet.agents.evidence import run_check
from hvrmet.agents.state import DiagnosisState, Evidence, Hypothesis, PlannedCheck
from hvrmet.cases import get_case

__all__ = ["report", "FIGURES_BY_ROLE", "render_markdown", "render_html", "format_value", "key_values"]

#: The figure drawn for each kind of data a case has.
FIGURES_BY_ROLE = {"sounding": "plot_skewt", "radar_volume": "plot_composite_reflectivity",
                   "level3_composite_reflectivity": "plot_composite_reflectivity",
                   "analysis": "plot_field_map", "composite_sequence": "plot_composite_sequence"}


def format_value(v) -> str:
    """A value as the report prints it (four significant digits for floats)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def key_values(ev: Evidence, n: int = 6) -> str:
    """The first ``n`` scalar values of an evidence item as ``name = value units``."""
    parts = []
    for k, v in list(ev.values.items())[:n]:
        if v.get("value") is None or isinstance(v.get("value"), list):
            continue
        parts.append(f"{k} = {format_value(v['value'])} {v.get('units', '')}".strip())
    return "; ".join(parts)


def _figures(state: DiagnosisState, cfg, loop: int, figdir: str) -> list[Evidence]:
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
                             state.get("data_dir"), f"E{loop}-R{len(out) + 1}", loop, out_dir=figdir))
    return out


def report(state: DiagnosisState, config: RunnableConfig) -> dict:
    """Write the report files and return their paths with the outcome."""
    cfg = config_of(config)
    brain = brain_of(cfg)
    loop = state.get("loop", 1)
    figs = _figures(state, cfg, loop, figures_dir(state, cfg, config)) if cfg.figures else []
    ctx = brain_context(state, cfg)
    try:
        summary = brain.summarize(ctx)
    except Exception as exc:  # noqa: BLE001 - the report is still written, with the reason
        summary = f"(the brain could not write the summary: {exc})"
    hyps = hypotheses_of(state)
    sup = [h for h in hyps if h.status == "supported" and h.hazard != "no_severe_hazard"]
    null = next((h for h in hyps if h.hazard == "no_severe_hazard"), None)
    outcome = ("hazard: " + ", ".join(h.hazard for h in sup) if sup else
               "no severe hazard" if null is not None and null.status == "supported" else
               "insufficient evidence")
    folder = run_folder(state, cfg, config)
    folder.mkdir(parents=True, exist_ok=True)
    evidence = evidence_of(state) + figs
    data = {**{k: v for k, v in state.items() if k not in ("evidence",)}, "evidence": [e.model_dump() for e in evidence],
            "summary": summary, "outcome": outcome, "brain": brain.name}
    data.pop("report", None)
    (folder / "trace.json").write_text(json.dumps(data, indent=1, default=str))
    md = render_markdown(state, hyps, evidence, summary, outcome, brain.name)
    (folder / "report.md").write_text(md)
    (folder / "report.html").write_text(render_html(state, hyps, evidence, summary, outcome, brain.name))
    rep = {"folder": str(folder), "markdown": str(folder / "report.md"), "html": str(folder / "report.html"),
           "trace": str(folder / "trace.json"), "summary": summary, "outcome": outcome,
           "seconds": round(time.time() - state.get("started", time.time()), 2)}
    return {"report": rep, "outcome": outcome, "evidence": [e.model_dump() for e in figs],
            "tool_calls": len(figs),
            "messages": [message("report", f"{outcome}: {summary}"), message("report", f"wrote {folder}")]}


def _threshold_lines(state) -> list[str]:
    """A line naming the thresholds the forecaster changed (``/fork``), if any."""
    th = state.get("thresholds") or {}
    if not th:
        return []
    return ["Thresholds changed by the forecaster: " + ", ".join(f"{k}{v:g}" for k, v in sorted(th.items())), ""]


def _cards_cited(evidence: list[Evidence], hyps: list[Hypothesis]) -> list:
    from hvrmet.knowledge import default_store

    store = default_store()
    ids = sorted({c for e in evidence for c in e.cards} | {c for h in hyps for c in h.cards})
    return [store.by_id[i] for i in ids if i in store.by_id]


def render_markdown(state, hyps: list[Hypothesis], evidence: list[Evidence], summary: str, outcome: str,
                    brain: str) -> str:
    """The report as Markdown (numbers link to evidence anchors)."""
    case = get_case(state["case"], state.get("data_dir"))
    ev_by_id = {e.id: e for e in evidence}
    lines = [f"# Diagnosis: {case.id}", "",
             f"*{case.time:%Y-%m-%d %H:%M} UTC, {case.location.place or ''} ({case.location.lat:.3f}, "
             f"{case.location.lon:.3f}); brain: {brain}; run {state.get('run_id', '')}; "
             f"{state.get('loop', 0)} loop(s), {state.get('tool_calls', 0)} tool calls*", "",
             *_threshold_lines(state),
             "## Diagnosis", "", f"**{outcome}.** {summary}", "", "## Hypotheses", "",
             "| id | hazard | status | prior | posterior | evidence | forecaster |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for h in hyps:
        evs = ", ".join(f"[{e}](#{e.lower()})" for e in h.evidence_ids)
        lines.append(f"| {h.id} | {h.hazard} | {h.status} | {h.prior:.2f} | {h.posterior:.2f} | {evs} | {h.signoff or ''} |")
    lines += ["", "## Evidence chain", ""]
    for h in hyps:
        if h.status not in ("supported", "refuted", "inconclusive"):
            continue
        lines.append(f"### {h.id} {h.hazard} ({h.status}, posterior {h.posterior:.2f})")
        lines.append("")
        lines.append(h.rationale)
        lines.append("")
        if h.signoff:
            lines += [f"**Forecaster:** {h.signoff}", ""]
        for eid in h.evidence_ids:
            ev = ev_by_id.get(eid)
            if ev is None:
                continue
            for v in ev.verdicts:
                if v.hypothesis_id == h.id and v.met is not None:
                    val = format_value(v.value) if v.value is not None else "n/a"
                    lines.append(f"- [{val} {v.units}](#{ev.id.lower()}) from `{ev.tool}`: {v.condition} "
                                 f"-> {'met' if v.met else 'not met'} ({v.card})")
        lines.append("")
    lines += ["## Evidence", "", "| id | loop | tool | arguments | result | data (sha256) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for e in evidence:
        args = ", ".join(f"{k}={v}" for k, v in e.arguments.items() if k != "case")
        files = "; ".join(f"{Path(f['path']).name} ({f['sha256'][:12]})" for f in e.files[:3])
        files += f" +{len(e.files) - 3} more" if len(e.files) > 3 else ""
        res = key_values(e) if e.ok else f"ERROR: {e.error}"
        lines.append(f"| <a id=\"{e.id.lower()}\"></a>{e.id} | {e.loop} | `{e.tool}` | {args} | {res} | {files} |")
    figs = [f for e in evidence for f in e.figures]
    if figs:
        lines += ["", "## Figures", ""]
        for f in figs:
            lines.append(f"![{f['kind']}]({f['png']})")
    lines += ["", "## Knowledge cards cited", ""]
    for c in _cards_cited(evidence, hyps):
        refs = "; ".join(f"{r.author} ({r.year}), {r.title}, {r.venue}" for r in c.references)
        lines.append(f"- **{c.id}** {c.title}. {refs}")
    lines += ["", "## Loop-by-loop trace", ""]
    for m in state.get("messages", []):
        lines.append(f"- [{m['kind']}] {m['text']}")
    for d in state.get("decisions", []):
        lines.append(f"- [decision, loop {d['loop']}] {d['action']}: {d['reason']}")
    return "\n".join(lines) + "\n"


def render_html(state, hyps: list[Hypothesis], evidence: list[Evidence], summary: str, outcome: str,
                brain: str) -> str:
    """A self-contained HTML page (figures embedded as data URIs, every string escaped)."""
    esc = html.escape
    case = get_case(state["case"], state.get("data_dir"))
    ev_by_id = {e.id: e for e in evidence}
    rows = "".join(
        f"<tr class='{esc(h.status)}'><td>{esc(h.id)}</td><td>{esc(h.hazard)}</td><td>{esc(h.status)}</td>"
        f"<td>{h.prior:.2f}</td><td>{h.posterior:.2f}</td><td>"
        + ", ".join(f"<a href='#{esc(e.lower())}'>{esc(e)}</a>" for e in h.evidence_ids)
        + f"</td><td>{esc(h.signoff or '')}</td></tr>" for h in hyps)
    chain = []
    for h in hyps:
        if h.status not in ("supported", "refuted", "inconclusive"):
            continue
        items = []
        for eid in h.evidence_ids:
            ev = ev_by_id.get(eid)
            for v in (ev.verdicts if ev else []):
                if v.hypothesis_id == h.id and v.met is not None:
                    val = format_value(v.value) if v.value is not None else "n/a"
                    items.append(f"<li><a href='#{esc(ev.id.lower())}'>{esc(val)} {esc(v.units)}</a> from "
                                 f"<code>{esc(ev.tool)}</code>: {esc(v.condition)} &rarr; "
                                 f"<b>{'met' if v.met else 'not met'}</b> ({esc(v.card)})</li>")
        signoff = f"<p class='signoff'><b>Forecaster:</b> {esc(h.signoff)}</p>" if h.signoff else ""
        chain.append(f"<h3>{esc(h.id)} {esc(h.hazard)} ({esc(h.status)}, {h.posterior:.2f})</h3>"
                     f"<p>{esc(h.rationale)}</p>{signoff}<ul>{''.join(items)}</ul>")
    ev_rows = []
    for e in evidence:
        args = ", ".join(f"{k}={v}" for k, v in e.arguments.items() if k != "case")
        files = "<br>".join(f"{esc(Path(f['path']).name)} <code>{esc(f['sha256'][:16])}</code>" for f in e.files[:3])
        res = esc(key_values(e)) if e.ok else f"<span class='err'>ERROR: {esc(e.error or '')}</span>"
        ev_rows.append(f"<tr id='{esc(e.id.lower())}'><td>{esc(e.id)}</td><td>{e.loop}</td><td><code>{esc(e.tool)}</code>"
                       f"</td><td>{esc(args)}</td><td>{res}</td><td>{files}</td></tr>")
    figs = []
    for e in evidence:
        for f in e.figures:
            try:
                b64 = base64.b64encode(Path(f["png"]).read_bytes()).decode()
            except OSError:
                continue
            figs.append(f"<figure><img alt='{esc(f['kind'])}' src='data:image/png;base64,{b64}'>"
                        f"<figcaption>{esc(f['kind'])} ({esc(e.id)})</figcaption></figure>")
    cards = "".join(f"<li><b>{esc(c.id)}</b> {esc(c.title)}: "
                    + "; ".join(esc(f"{r.author} ({r.year}), {r.title}, {r.venue}") for r in c.references) + "</li>"
                    for c in _cards_cited(evidence, hyps))
    trace = "".join(f"<li>[{esc(m['kind'])}] {esc(m['text'])}</li>" for m in state.get("messages", []))
    trace += "".join(f"<li>[decision, loop {d['loop']}] {esc(d['action'])}: {esc(d['reason'])}</li>"
                     for d in state.get("decisions", []))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>hvrmet diagnosis {esc(case.id)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}}table{{border-collapse:collapse;font-size:90%}}
td,th{{border:1px solid #ccc;padding:3px 6px;vertical-align:top}}tr.supported td{{background:#e6f4ea}}
tr.refuted td{{background:#fce8e6}}tr.inconclusive td{{background:#fef7e0}}.err{{color:#b00}}
figure img{{max-width:100%}}code{{font-size:90%}}</style></head><body>
<h1>Diagnosis: {esc(case.id)}</h1>
<p><i>{case.time:%Y-%m-%d %H:%M} UTC, {esc(case.location.place or '')} ({case.location.lat:.3f}, {case.location.lon:.3f});
brain: {esc(brain)}; run {esc(str(state.get('run_id', '')))}; {state.get('loop', 0)} loop(s), {state.get('tool_calls', 0)} tool calls</i></p>
{''.join(f"<p class='thresholds'>{esc(t)}</p>" for t in _threshold_lines(state) if t)}
<h2>Diagnosis</h2><p><b>{esc(outcome)}.</b> {esc(summary)}</p>
<h2>Hypotheses</h2><table id="hypotheses"><tr><th>id</th><th>hazard</th><th>status</th><th>prior</th><th>posterior</th><th>evidence</th><th>forecaster</th></tr>{rows}</table>
<h2>Evidence chain</h2>{''.join(chain)}
<h2>Figures</h2>{''.join(figs) or '<p>none</p>'}
<h2>Evidence</h2><table id="evidence"><tr><th>id</th><th>loop</th><th>tool</th><th>arguments</th><th>result</th><th>data (sha256)</th></tr>{''.join(ev_rows)}</table>
<h2>Knowledge cards cited</h2><ul>{cards}</ul>
<h2>Loop-by-loop trace</h2><ol>{trace}</ol>
</body></html>
"""
