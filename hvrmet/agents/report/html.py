"""The report model as a self-contained HTML page: figures embedded as data URIs,
every string escaped, file links relative to the report's folder."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from urllib.parse import quote

from hvrmet.agents.report.model import DecisionEntry, FigureEntry, FileRead, Report

__all__ = ["render_html"]

esc = html.escape

_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}tr.supported td{background:#e6f4ea}
tr.refuted td{background:#fce8e6}tr.inconclusive td{background:#fef7e0}.err{color:#b00}
figure img{max-width:100%}code{font-size:90%}"""


def _href(link: str) -> str:
    """A relative link as an attribute value (percent-encoded, then escaped)."""
    return esc(quote(link, safe="/:#._-+~@!$&'*,;="), quote=True)


def _file(f: FileRead) -> str:
    name = f"<a href='{_href(f.link)}'>{esc(f.name)}</a>" if f.link else esc(f.name)
    return f"{name} <code title='{esc(f.sha256)}'>{esc(f.sha256[:16])}</code>"


def _figure(f: FigureEntry) -> str:
    try:
        b64 = base64.b64encode(Path(f.png).read_bytes()).decode()
    except OSError:
        return ""
    links = " ".join(f"<a href='{_href(link)}'>{label}</a>" for label, link in (("png", f.png_link),
                                                                               ("sidecar", f.sidecar_link)) if link)
    return (f"<figure><img alt='{esc(f.kind)}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{esc(f.kind)} (<a href='#{esc(f.evidence_id.lower())}'>{esc(f.evidence_id)}</a>)"
            f"{' ' + links if links else ''}</figcaption></figure>")


def _decision(d: DecisionEntry) -> str:
    changes = ", ".join(f"{k} {v}" for k, v in d.status_changes.items())
    return (f"<li>[decision, loop {d.loop}] {esc(d.action)}: {esc(d.reason)}"
            + (f" ({esc(changes)})" if changes else "") + "</li>")


def render_html(rep: Report) -> str:
    """The report as one HTML page."""
    rows = "".join(
        f"<tr class='{esc(h.status)}'><td>{esc(h.id)}</td><td>{esc(h.hazard)}</td><td>{esc(h.status)}</td>"
        f"<td>{h.prior_text}</td><td>{h.posterior_text}</td><td>"
        + ", ".join(f"<a href='#{esc(e.lower())}'>{esc(e)}</a>" for e in h.evidence_ids)
        + f"</td><td>{esc(h.signoff or '')}</td></tr>" for h in rep.hypotheses)
    chain = []
    for h in rep.chained:
        items = "".join(f"<li><a href='#{esc(c.anchor)}'>{esc(c.value)} {esc(c.units)}</a> from "
                        f"<code>{esc(c.tool)}</code>: {esc(c.condition)} &rarr; <b>{esc(c.outcome)}</b> ({esc(c.card)})</li>"
                        for c in h.chain)
        signoff = f"<p class='signoff'><b>Forecaster:</b> {esc(h.signoff)}</p>" if h.signoff else ""
        table = ""
        b = h.breakdown
        if b is not None:
            brows = "".join(
                f"<tr><td><a href='#{esc(t.anchor)}'>{esc(t.evidence_id)}</a></td><td>{esc(t.number)}</td>"
                f"<td>{esc(t.value)}</td><td>{esc(t.condition)}</td><td>{esc(t.card)}</td><td>{esc(t.meaning)}</td>"
                f"<td>{'n/a' if t.met is None else ('met' if t.met else 'not met')}</td><td>{esc(t.weight_text)}</td></tr>"
                for t in b.terms)
            nc = "".join(f"<li>not computable: {esc(x)}</li>" for x in b.not_computable)
            table = (f"<p>Posterior as a sum: {esc(b.sum_text)}</p><table><tr><th>evidence</th><th>number</th>"
                     f"<th>value</th><th>condition</th><th>card</th><th>meaning</th><th>met</th><th>weight</th></tr>"
                     f"{brows}</table>" + (f"<ul>{nc}</ul>" if nc else ""))
        chain.append(f"<h3>{esc(h.id)} {esc(h.hazard)} ({esc(h.status)}, {h.posterior_text})</h3>"
                     f"<p>{esc(h.rationale)}</p>{signoff}<ul>{items}</ul>{table}")
    ev_rows = []
    for e in rep.evidence:
        files = "<br>".join(_file(f) for f in e.files[:3])
        files += f"<br>+{len(e.files) - 3} more" if len(e.files) > 3 else ""
        res = esc(e.result()) if e.ok else f"<span class='err'>ERROR: {esc(e.error or '')}</span>"
        ev_rows.append(f"<tr id='{esc(e.anchor)}'><td>{esc(e.id)}</td><td>{e.loop}</td><td><code>{esc(e.tool)}</code>"
                       f"</td><td>{esc(e.arguments_text)}</td><td>{res}</td><td>{files}</td></tr>")
    failures = ""
    if rep.failures:
        failures = "<h2>Tool failures</h2><ul class='failures'>" + "".join(
            f"<li><a href='#{esc(f.anchor)}'>{esc(f.evidence_id)}</a> <code>{esc(f.tool)}</code> (loop {f.loop}): "
            f"<span class='err'>{esc(f.error)}</span></li>" for f in rep.failures) + "</ul>"
    figs = "".join(_figure(f) for f in rep.figures)
    cards = "".join(f"<li><b>{esc(c.id)}</b> {esc(c.title)}: " + "; ".join(esc(r) for r in c.references) + "</li>"
                    for c in rep.cards)
    trace = "".join(f"<li>[{esc(m.kind)}] {esc(m.text)}</li>" for m in rep.messages)
    trace += "".join(_decision(d) for d in rep.decisions)
    files = ", ".join(f"<a href='{_href(link)}'>{name}</a>" for name, link in
                      (("report.md", rep.links.get("markdown")), ("trace.json", rep.links.get("trace"))) if link)
    thresholds = ("<p class='thresholds'>Thresholds changed by the forecaster: "
                  + esc(", ".join(t.text for t in rep.thresholds)) + "</p>") if rep.thresholds else ""
    title = f" ({esc(rep.title)})" if rep.title else ""
    failure = (f"<p class='err run-failure'>The run stopped early: the brain failed in the {esc(rep.failure.node)} step "
               f"({esc(rep.failure.kind)}): {esc(rep.failure.message)}</p>") if rep.failure else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>hvrmet diagnosis {esc(rep.case)}</title>
<style>{_STYLE}</style></head><body>
<h1>Diagnosis: {esc(rep.case)}{title}</h1>
<p><i>{esc(rep.when)}, {esc(rep.where)};
brain: {esc(rep.brain)}; run {esc(rep.run_id)}; {rep.loops} loop(s), {rep.tool_calls} tool calls</i></p>
{f"<p class='files'>Files: {files}</p>" if files else ""}
{thresholds}
<h2>Diagnosis</h2><p><b>{esc(rep.outcome)}.</b> {esc(rep.summary)}</p>{failure}
<h2>Hypotheses</h2><table id="hypotheses"><tr><th>id</th><th>hazard</th><th>status</th><th>prior</th><th>posterior</th><th>evidence</th><th>forecaster</th></tr>{rows}</table>
<h2>Evidence chain</h2>{''.join(chain)}
<h2>Figures</h2>{figs or '<p>none</p>'}
<h2>Evidence</h2><table id="evidence"><tr><th>id</th><th>loop</th><th>tool</th><th>arguments</th><th>result</th><th>data (sha256)</th></tr>{''.join(ev_rows)}</table>
{failures}
<h2>Knowledge cards cited</h2><ul>{cards}</ul>
<h2>Loop-by-loop trace</h2><ol>{trace}</ol>
</body></html>
"""
