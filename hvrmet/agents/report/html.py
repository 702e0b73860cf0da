"""The report model as a self-contained HTML page: figures embedded as data URIs (each
once, beside the first evidence it illustrates), every string escaped, file links
relative to the report's folder.

At the top the case title, the data's times and the plain-language summary; then per
settled hypothesis its status in words, what decided it with its figures, the
posterior's sum, and the other checks folded in ``<details>``."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from urllib.parse import quote

from hvrmet.agents.report.model import Deciding, DecisionEntry, FigureEntry, FileRead, HypothesisEntry, Report, Term

__all__ = ["render_html"]

esc = html.escape

_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}tr.supported td{background:#e6f4ea}
tr.refuted td{background:#fce8e6}tr.inconclusive td{background:#fef7e0}.err{color:#b00}
figure img{max-width:100%}code{font-size:90%}
.summary{background:#f4f6f8;border-left:4px solid #5a7;padding:.6em 1em}.data{color:#333}
.status{font-weight:bold}.status.supported{color:#1e6b34}.status.refuted{color:#a32}.status.inconclusive{color:#8a6d00}
.decided{display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap}.decided ol{flex-grow:1;flex-basis:420px;margin:0}
.decided li{margin-bottom:.4em}.decided .where,.decided .src{color:#555;font-size:92%}
.decided .figs{flex-basis:440px}.decided figure{margin:0 0 .8em 0}details{margin:.6em 0 1.4em 0}
summary{cursor:pointer;color:#345}"""


def _href(link: str) -> str:
    """A relative link as an attribute value (percent-encoded, then escaped)."""
    return esc(quote(link, safe="/:#._-+~@!$&'*,;="), quote=True)


def _file(f: FileRead) -> str:
    name = f"<a href='{_href(f.link)}'>{esc(f.name)}</a>" if f.link else esc(f.name)
    return f"{name} <code title='{esc(f.sha256)}'>{esc(f.sha256[:16])}</code>"


def _figure(f: FigureEntry, placed: dict[str, str] | None = None, where: str = "") -> str:
    """The figure embedded once; when ``placed`` already holds it, a link to it."""
    if placed is not None and f.png in placed:
        return (f"<p class='figref'>Figure <a href='#{esc(f.anchor)}'>{esc(f.kind)}</a>: shown with "
                f"{esc(placed[f.png])}.</p>")
    try:
        b64 = base64.b64encode(Path(f.png).read_bytes()).decode()
    except OSError:
        return ""
    if placed is not None:
        placed[f.png] = where
    links = " ".join(f"<a href='{_href(link)}'>{label}</a>" for label, link in (("png", f.png_link),
                                                                               ("sidecar", f.sidecar_link)) if link)
    return (f"<figure id='{esc(f.anchor)}'><img alt='{esc(f.kind)}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{esc(f.kind)} (<a href='#{esc(f.evidence_id.lower())}'>{esc(f.evidence_id)}</a>)"
            f"{' ' + links if links else ''}</figcaption></figure>")


def _evidence_links(ids: str) -> str:
    return ", ".join(f"<a href='#{esc(e.lower())}'>{esc(e)}</a>" for e in ids.split(",") if e)


def _deciding(d: Deciding, cards: set[str]) -> str:
    cond = f", {esc(d.condition_text)}" if d.condition_text else ""
    val = f" {esc(d.value_text)}" if d.value_text else ""
    out = f"<li><b>{esc(d.quantity)}</b>{val}{cond}: {esc(d.verdict_text)}"
    if d.place is not None:
        out += f"<br><span class='where'>at {esc(d.place.text)}</span>"
    src = []
    if d.card:
        card = f"<a href='#card-{esc(d.card)}'>{esc(d.card)}</a>" if d.card in cards else esc(d.card)
        src.append(f"Card {card}" + (f" ({esc(d.card_title)})" if d.card_title else ""))
    frm = f"from {_evidence_links(d.evidence_id)}" + (f" <code>{esc(d.tool)}</code>" if d.tool != "(hypothesis)" else "")
    if d.files:
        frm += " on " + ", ".join(f"<a href='{_href(f.link)}'>{esc(f.name)}</a>" if f.link else esc(f.name)
                                  for f in d.files[:2])
    src.append(frm)
    if d.note and d.weight:
        src.append(esc(d.note))
    return out + "<br><span class='src'>" + "; ".join(src) + "</span></li>"


def _term_rows(terms: list[Term], met_column: bool) -> str:
    return "".join(
        f"<tr><td><a href='#{esc(t.anchor)}'>{esc(t.evidence_id)}</a></td><td>{esc(t.number)}</td>"
        f"<td>{esc(t.value)}</td><td>{esc(t.condition)}</td><td>{esc(t.card)}</td><td>{esc(t.meaning)}</td>"
        + (f"<td>{'n/a' if t.met is None else ('met' if t.met else 'not met')}</td>" if met_column else "")
        + f"<td>{esc(t.weight_text)}</td></tr>" for t in terms)


def _hypothesis(h: HypothesisEntry, cards: set[str], placed: dict[str, str]) -> str:
    out = [f"<h3 id='hyp-{esc(h.id.lower())}'>{esc(h.id)} {esc(h.hazard)}: "
           f"<span class='status {esc(h.status)}'>{esc(h.status_title.lower())}</span> (posterior {h.posterior_text})</h3>",
           f"<p>{esc(h.status_text or h.status_title + '.')}</p>"]
    if h.signoff:
        out.append(f"<p class='signoff'><b>Forecaster:</b> {esc(h.signoff)}</p>")
    b = h.breakdown
    if h.deciding:
        figs = "".join(_figure(f, placed, h.id) for f in h.figures)
        out.append("<p><b>What decided it</b></p><div class='decided'><ol>"
                   + "".join(_deciding(d, cards) for d in h.deciding) + "</ol>"
                   + (f"<div class='figs'>{figs}</div>" if figs else "") + "</div>")
    elif b is None and h.chain:
        out.append("<p><b>What decided it</b></p><ul>" + "".join([
            f"<li><a href='#{esc(c.anchor)}'>{esc(c.evidence_id)}</a> {esc(c.words)} ({esc(c.card)})</li>"
            for c in h.chain if c.met][:5]) + "</ul>")
    if b is not None:
        out.append(f"<p>Posterior as a sum: {esc(b.sum_text)}</p>")
        if b.counted:
            out.append("<table class='sum'><tr><th>evidence</th><th>number</th><th>value</th><th>condition</th>"
                       "<th>card</th><th>meaning</th><th>weight</th></tr>" + _term_rows(b.counted, False) + "</table>")
    others = h.other_terms
    rest = [c for c in h.chain if not c.met] if b is None else []
    nc = b.not_computable if b is not None else []
    if others or rest or nc or h.rationale:
        inner = f"<p>The accounting's note: {esc(h.rationale)}</p>" if h.rationale else ""
        if others:
            inner += ("<table class='other'><tr><th>evidence</th><th>number</th><th>value</th><th>condition</th>"
                      "<th>card</th><th>meaning</th><th>met</th><th>weight</th></tr>" + _term_rows(others, True)
                      + "</table>")
        items = [f"<li><a href='#{esc(c.anchor)}'>{esc(c.evidence_id)}</a> {esc(c.words)} ({esc(c.card)})</li>"
                 for c in rest] + [f"<li>not computable: {esc(x)}</li>" for x in nc]
        if items:
            inner += "<ul>" + "".join(items) + "</ul>"
        out.append(f"<details><summary>Other checks ({len(others) + len(rest)}): not met, the same number counted "
                   f"once, or not computable</summary>{inner}</details>")
    return "".join(out)


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
    cards_cited = {c.id for c in rep.cards}
    placed: dict[str, str] = {}
    chain = "".join(_hypothesis(h, cards_cited, placed) for h in rep.chained)
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
    figs = "".join(_figure(f, placed, "the hypothesis it illustrates") for f in rep.figures)
    cards = "".join(f"<li id='{esc(c.anchor)}'><b>{esc(c.id)}</b> {esc(c.title)}: "
                    + "; ".join(esc(r) for r in c.references) + "</li>" for c in rep.cards)
    trace = "".join(f"<li>[{esc(m.kind)}] {esc(m.text)}</li>" for m in rep.messages)
    trace += "".join(_decision(d) for d in rep.decisions)
    files = ", ".join(f"<a href='{_href(link)}'>{name}</a>" for name, link in
                      (("report.md", rep.links.get("markdown")), ("trace.json", rep.links.get("trace"))) if link)
    thresholds = ("<p class='thresholds'>Thresholds changed by the forecaster: "
                  + esc(", ".join(t.text for t in rep.thresholds)) + "</p>") if rep.thresholds else ""
    data = ""
    if rep.data_times or rep.window:
        data = (f"<p class='data'><b>Data:</b> {esc(rep.data_text or 'times not recorded by the tools')}"
                + (f" ({esc(rep.window)})" if rep.window else "") + ".</p>")
    plain = f"<h2>Summary</h2><p class='summary'>{esc(rep.plain_summary)}</p>" if rep.plain_summary else ""
    failure = (f"<p class='err run-failure'>The run stopped early: the brain failed in the {esc(rep.failure.node)} step "
               f"({esc(rep.failure.kind)}): {esc(rep.failure.message)}</p>") if rep.failure else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>hvrmet diagnosis {esc(rep.case)}: {esc(rep.title)}</title>
<style>{_STYLE}</style></head><body>
<h1>Diagnosis: {esc(rep.title or rep.case)}</h1>
<p><i>Case {esc(rep.case)}, {esc(rep.when)}, {esc(rep.where)};
brain: {esc(rep.brain)}; run {esc(rep.run_id)}; {rep.loops} loop(s), {rep.tool_calls} tool calls</i></p>
{data}
{f"<p class='files'>Files: {files}</p>" if files else ""}
{thresholds}
{plain}
<h2>Diagnosis</h2><p><b>{esc(rep.outcome)}.</b> {esc(rep.summary)}</p>{failure}
<h2>Hypotheses</h2><table id="hypotheses"><tr><th>id</th><th>hazard</th><th>status</th><th>prior</th><th>posterior</th><th>evidence</th><th>forecaster</th></tr>{rows}</table>
<h2>What decided each hypothesis</h2>{chain}
<h2>Evidence</h2><table id="evidence"><tr><th>id</th><th>loop</th><th>tool</th><th>arguments</th><th>result</th><th>data (sha256)</th></tr>{''.join(ev_rows)}</table>
{failures}
<h2>Figures</h2>{figs or '<p>none</p>'}
<h2>Knowledge cards cited</h2><ul>{cards}</ul>
<h2>Loop-by-loop trace</h2><ol>{trace}</ol>
</body></html>
"""
