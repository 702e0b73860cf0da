"""The report model as Markdown (numbers link to evidence anchors; file links are
relative to the report's folder)."""

from __future__ import annotations

from urllib.parse import quote

from hvrmet.agents.report.model import DecisionEntry, FileRead, Report

__all__ = ["render_markdown"]


def _cell(text) -> str:
    """A table cell: pipes escaped, on one line."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _target(link: str) -> str:
    """A link target as Markdown needs it (spaces and brackets percent-encoded)."""
    return quote(link, safe="/:#._-+~@!$&'*,;=")


def _file(f: FileRead) -> str:
    name = f"[{f.name}]({_target(f.link)})" if f.link else f.name
    return f"{name} ({f.sha256[:12]})"


def _decision(d: DecisionEntry) -> str:
    changes = ", ".join(f"{k} {v}" for k, v in d.status_changes.items())
    return f"- [decision, loop {d.loop}] {d.action}: {d.reason}" + (f" ({changes})" if changes else "")


def render_markdown(rep: Report) -> str:
    """The report as Markdown."""
    title = f" ({rep.title})" if rep.title else ""
    lines = [f"# Diagnosis: {rep.case}{title}", "",
             f"*{rep.when}, {rep.where}; brain: {rep.brain}; run {rep.run_id}; "
             f"{rep.loops} loop(s), {rep.tool_calls} tool calls*", ""]
    if rep.links:
        lines += ["Files: " + ", ".join(f"[{name}]({_target(link)})" for name, link in
                                        (("report.html", rep.links.get("html")), ("trace.json", rep.links.get("trace")))
                                        if link), ""]
    if rep.thresholds:
        lines += ["Thresholds changed by the forecaster: " + ", ".join(t.text for t in rep.thresholds), ""]
    lines += ["## Diagnosis", "", f"**{rep.outcome}.** {rep.summary}", ""]
    if rep.failure:
        lines += [f"The run stopped early: the brain failed in the {rep.failure.node} step ({rep.failure.kind}): "
                  f"{rep.failure.message}", ""]
    lines += ["## Hypotheses", "",
              "| id | hazard | status | prior | posterior | evidence | forecaster |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for h in rep.hypotheses:
        evs = ", ".join(f"[{e}](#{e.lower()})" for e in h.evidence_ids)
        lines.append(f"| {_cell(h.id)} | {_cell(h.hazard)} | {h.status} | {h.prior_text} | {h.posterior_text} | {evs} | "
                     f"{_cell(h.signoff or '')} |")
    lines += ["", "## Evidence chain", ""]
    for h in rep.chained:
        lines += [f"### {h.id} {h.hazard} ({h.status}, posterior {h.posterior_text})", "", h.rationale, ""]
        if h.signoff:
            lines += [f"**Forecaster:** {h.signoff}", ""]
        for c in h.chain:
            lines.append(f"- [{c.value} {c.units}](#{c.anchor}) from `{c.tool}`: {c.condition} -> {c.outcome} ({c.card})")
        lines.append("")
        b = h.breakdown
        if b is not None:
            lines += [f"Posterior as a sum: {b.sum_text}", "",
                      "| evidence | number | value | condition | card | meaning | met | weight |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- |"]
            for t in b.terms:
                met = "n/a" if t.met is None else ("met" if t.met else "not met")
                lines.append(f"| [{_cell(t.evidence_id)}](#{t.anchor}) | {_cell(t.number)} | {_cell(t.value)} | "
                             f"{_cell(t.condition)} | {_cell(t.card)} | {t.meaning} | {met} | {_cell(t.weight_text)} |")
            lines.append("")
            for nc in b.not_computable:
                lines.append(f"- not computable: {nc}")
            if b.not_computable:
                lines.append("")
    lines += ["## Evidence", "", "| id | loop | tool | arguments | result | data (sha256) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for e in rep.evidence:
        files = "; ".join(_file(f) for f in e.files[:3])
        files += f" +{len(e.files) - 3} more" if len(e.files) > 3 else ""
        lines.append(f"| <a id=\"{e.anchor}\"></a>{e.id} | {e.loop} | `{e.tool}` | {_cell(e.arguments_text)} | "
                     f"{_cell(e.result())} | {files} |")
    if rep.failures:
        lines += ["", "## Tool failures", ""]
        lines += [f"- [{f.evidence_id}](#{f.anchor}) `{f.tool}` (loop {f.loop}): {f.error}" for f in rep.failures]
    if rep.figures:
        lines += ["", "## Figures", ""]
        for f in rep.figures:
            if f.png_link:
                lines.append(f"![{f.kind}]({_target(f.png_link)})")
            side = f"; [sidecar]({_target(f.sidecar_link)})" if f.sidecar_link else ""
            missing = "" if f.png_link else " (the PNG is missing)"
            lines += [f"*{f.kind} ([{f.evidence_id}](#{f.evidence_id.lower()})){missing}{side}*", ""]
    lines += ["", "## Knowledge cards cited", ""]
    for c in rep.cards:
        lines.append(f"- **{c.id}** {c.title}. {'; '.join(c.references)}")
    lines += ["", "## Loop-by-loop trace", ""]
    lines += [f"- [{m.kind}] {m.text}" for m in rep.messages]
    lines += [_decision(d) for d in rep.decisions]
    return "\n".join(lines) + "\n"
