"""The report model as Markdown (numbers link to evidence anchors; file links are
relative to the report's folder).

At the top the case title, the data's times and the plain-language summary; then per
settled hypothesis its status in words, what decided it (with the figures drawn from the
same data), the posterior's sum, and the other checks folded in a ``<details>`` block."""

from __future__ import annotations

from urllib.parse import quote

from hvrmet.agents.report.model import Deciding, DecisionEntry, FigureEntry, FileRead, HypothesisEntry, Report, Term

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


def _evidence_links(ids: str) -> str:
    return ", ".join(f"[{e}](#{e.lower()})" for e in ids.split(",") if e)


def _deciding(d: Deciding, cards: set[str]) -> str:
    """One line of what decided a hypothesis."""
    cond = f", {d.condition_text}" if d.condition_text else ""
    head = f"**{d.quantity}** {d.value_text}{cond}: {d.verdict_text}" if d.value_text else \
        f"**{d.quantity}**: {d.verdict_text}"
    bits = []
    if d.place is not None:
        bits.append(f"At {d.place.text}")
    if d.card:
        card = f"[{d.card}](#card-{d.card})" if d.card in cards else d.card
        bits.append(f"{'card' if bits else 'Card'} {card}" + (f" ({d.card_title})" if d.card_title else ""))
    src = f"{'from' if bits else 'From'} {_evidence_links(d.evidence_id)}" + (f" `{d.tool}`" if d.tool != "(hypothesis)" else "")
    if d.files:
        src += " on " + ", ".join(f"[{f.name}]({_target(f.link)})" if f.link else f.name for f in d.files[:2])
    bits.append(src)
    if d.note and d.weight:
        bits.append(d.note)
    return f"{head}. " + "; ".join(bits) + "."


def _figure(f: FigureEntry, placed: dict[str, str], where: str) -> list[str]:
    """A figure shown once (its anchor, image and caption); later mentions link to it."""
    if f.png in placed:
        return [f"*Figure {f.kind}: shown with {placed[f.png]} ([{f.kind}](#{f.anchor})).*", ""]
    placed[f.png] = where
    lines = [f"<a id=\"{f.anchor}\"></a>", ""]
    if f.png_link:
        lines.append(f"![{f.kind}]({_target(f.png_link)})")
    side = f"; [sidecar]({_target(f.sidecar_link)})" if f.sidecar_link else ""
    missing = "" if f.png_link else " (the PNG is missing)"
    lines += [f"*{f.kind} ([{f.evidence_id}](#{f.evidence_id.lower()})){missing}{side}*", ""]
    return lines


def _counted_table(terms: list[Term]) -> list[str]:
    lines = ["| evidence | number | value | condition | card | meaning | weight |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for t in terms:
        lines.append(f"| [{_cell(t.evidence_id)}](#{t.anchor}) | {_cell(t.number)} | {_cell(t.value)} | "
                     f"{_cell(t.condition)} | {_cell(t.card)} | {t.meaning} | {_cell(t.weight_text)} |")
    return lines


def _other_table(terms: list[Term]) -> list[str]:
    lines = ["| evidence | number | value | condition | card | meaning | met | weight |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for t in terms:
        met = "n/a" if t.met is None else ("met" if t.met else "not met")
        lines.append(f"| [{_cell(t.evidence_id)}](#{t.anchor}) | {_cell(t.number)} | {_cell(t.value)} | "
                     f"{_cell(t.condition)} | {_cell(t.card)} | {t.meaning} | {met} | {_cell(t.weight_text)} |")
    return lines


def _hypothesis(h: HypothesisEntry, cards: set[str], placed: dict[str, str]) -> list[str]:
    lines = [f"### {h.id} {h.hazard}: {h.status_title.lower()} (posterior {h.posterior_text})", ""]
    lines += [h.status_text or f"{h.status_title}.", ""]
    if h.signoff:
        lines += [f"**Forecaster:** {h.signoff}", ""]
    b = h.breakdown
    if h.deciding:
        lines += ["**What decided it**", ""]
        lines += [f"{i}. {_deciding(d, cards)}" for i, d in enumerate(h.deciding, 1)]
        lines.append("")
        for f in h.figures:
            lines += _figure(f, placed, h.id)
    elif b is None and h.chain:  # no ledger (another brain): the met links lead
        lines += ["**What decided it**", ""]
        lines += [f"- [{c.evidence_id}](#{c.anchor}) {c.words} ({c.card})" for c in h.chain if c.met][:5]
        lines.append("")
    if b is not None:
        lines += [f"Posterior as a sum: {b.sum_text}", ""]
        if b.counted:
            lines += _counted_table(b.counted) + [""]
    others = h.other_terms
    rest = [c for c in h.chain if not c.met] if b is None else []
    if others or rest or (b is not None and b.not_computable) or h.rationale:
        n = len(others) + len(rest)
        lines += ["<details>", f"<summary>Other checks ({n}): not met, the same number counted once, "
                               "or not computable</summary>", ""]
        if h.rationale:
            lines += [f"The accounting's note: {h.rationale}", ""]
        if others:
            lines += _other_table(others) + [""]
        lines += [f"- [{c.evidence_id}](#{c.anchor}) {c.words} ({c.card})" for c in rest]
        for nc in (b.not_computable if b is not None else []):
            lines.append(f"- not computable: {nc}")
        if rest or (b is not None and b.not_computable):
            lines.append("")
        lines += ["</details>", ""]
    return lines


def render_markdown(rep: Report) -> str:
    """The report as Markdown."""
    heading = rep.title or rep.case
    lines = [f"# Diagnosis: {heading}", "",
             f"*Case {rep.case}, {rep.when}, {rep.where}; brain: {rep.brain}; run {rep.run_id}; "
             f"{rep.loops} loop(s), {rep.tool_calls} tool calls*", ""]
    if rep.data_times or rep.window:
        lines += [f"**Data:** {rep.data_text or 'times not recorded by the tools'}"
                  + (f" ({rep.window})" if rep.window else "") + ".", ""]
    if rep.links:
        lines += ["Files: " + ", ".join(f"[{name}]({_target(link)})" for name, link in
                                        (("report.html", rep.links.get("html")), ("trace.json", rep.links.get("trace")))
                                        if link), ""]
    if rep.thresholds:
        lines += ["Thresholds changed by the forecaster: " + ", ".join(t.text for t in rep.thresholds), ""]
    if rep.plain_summary:
        lines += ["## Summary", "", rep.plain_summary, ""]
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
    lines += ["", "## What decided each hypothesis", ""]
    cards = {c.id for c in rep.cards}
    placed: dict[str, str] = {}
    for h in rep.chained:
        lines += _hypothesis(h, cards, placed)
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
            lines += _figure(f, placed, "the hypothesis it illustrates")
    lines += ["", "## Knowledge cards cited", ""]
    for c in rep.cards:
        lines.append(f"- <a id=\"{c.anchor}\"></a>**{c.id}** {c.title}. {'; '.join(c.references)}")
    lines += ["", "## Loop-by-loop trace", ""]
    lines += [f"- [{m.kind}] {m.text}" for m in rep.messages]
    lines += [_decision(d) for d in rep.decisions]
    return "\n".join(lines) + "\n"
