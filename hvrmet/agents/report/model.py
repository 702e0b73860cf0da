"""The report model: what a diagnosis report shows, built once from the final state.

:func:`build_report` reads the state (hypotheses, evidence, decisions, thresholds, trace
messages) and the case, and returns a :class:`Report`. The Markdown and HTML renderers
and the chat's tables render this model; none of them reads the state itself.

Links (figures, their sidecars, local data files, the trace) are stored relative to the
report's folder (``os.path.relpath``), so they resolve from wherever the report is opened.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from hvrmet.units import format_units
from hvrmet.agents.state import DiagnosisState, Evidence, Hypothesis

__all__ = ["Report", "HypothesisEntry", "ChainItem", "EvidenceEntry", "KeyValue", "FileRead", "FigureEntry",
           "ThresholdChange", "DecisionEntry", "CardEntry", "Failure", "RunFailure", "TraceMessage", "VerdictEntry",
           "build_report", "hypothesis_entries", "evidence_entries", "outcome_of", "format_value", "key_values",
           "relative_link", "SETTLED", "Breakdown", "Term", "breakdown_of"]

#: The statuses whose evidence chain the report spells out.
SETTLED = ("supported", "refuted", "inconclusive", "not_assessed")


def format_value(v) -> str:
    """A value as the report prints it (four significant digits for floats)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def human_condition(text: str) -> str:
    """A card condition as written in the cards (``tool.field op value units -> meaning
    hazard``) with its units for people (``m^2/s^2`` -> ``m²/s²``, ``delta_degC`` -> ``K``)."""
    m = re.match(r"^(\S+ \S+ \S+)(?: (\S+))?( -> .*)?$", text)
    if not m or not m.group(2):
        return text
    return f"{m.group(1)} {format_units(m.group(2))}".rstrip() + (m.group(3) or "")


def key_values(ev: Evidence, n: int = 6) -> str:
    """The first ``n`` scalar values of an evidence item as ``name = value units``."""
    return _join_key_values([_key_value(k, v) for k, v in ev.values.items()], n)


def relative_link(target: str | os.PathLike, folder: str | os.PathLike | None) -> str | None:
    """``target`` relative to ``folder`` (both taken from the current directory when
    relative), or ``None`` when there is no folder or the file does not exist."""
    if folder is None or not target or not os.path.isfile(target):
        return None
    try:
        return Path(os.path.relpath(os.path.abspath(target), os.path.abspath(folder))).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return Path(os.path.abspath(target)).as_uri()


# --------------------------------------------------------------------------- the model
class KeyValue(BaseModel):
    """One output of a tool: its value as printed, and its units."""

    name: str
    value: str
    units: str = ""
    scalar: bool = True  # lists and missing values are not printed in the result column

    @property
    def text(self) -> str:
        return f"{self.name} = {self.value} {self.units}".strip()


class FileRead(BaseModel):
    """A data file a tool read: its name, sha256 and (when it is a local file) a link."""

    name: str
    path: str
    sha256: str
    role: str = ""
    link: str | None = None


class FigureEntry(BaseModel):
    """A figure a tool drew: the PNG and its JSON sidecar, with links from the report."""

    evidence_id: str
    kind: str
    png: str  # absolute path (the HTML embeds it)
    sidecar: str = ""
    png_link: str | None = None
    sidecar_link: str | None = None


class VerdictEntry(BaseModel):
    """What one card condition says about one hypothesis, given one result."""

    hypothesis_id: str
    card: str
    condition: str
    meaning: str
    met: bool | None
    value: str  # as printed ("n/a" when missing)
    units: str = ""

    @property
    def outcome(self) -> str:
        return "n/a" if self.met is None else "met" if self.met else "not met"


class EvidenceEntry(BaseModel):
    """A tool call of the run: arguments, key values with units, data read, figures, verdicts."""

    id: str
    loop: int
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)  # without the case
    ok: bool
    error: str | None = None
    summary: str = ""
    for_hypothesis: str = ""
    values: list[KeyValue] = Field(default_factory=list)
    verdicts: list[VerdictEntry] = Field(default_factory=list)
    files: list[FileRead] = Field(default_factory=list)
    figures: list[FigureEntry] = Field(default_factory=list)
    cards: list[str] = Field(default_factory=list)

    @property
    def anchor(self) -> str:
        return self.id.lower()

    @property
    def arguments_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.arguments.items())

    def result(self, n: int = 6) -> str:
        """The first ``n`` scalar values (``name = value units``), or the error."""
        return _join_key_values(self.values, n) if self.ok else f"ERROR: {self.error}"


class ChainItem(BaseModel):
    """One link of a hypothesis's evidence chain: a number, its condition and its source."""

    evidence_id: str
    tool: str
    value: str
    units: str = ""
    condition: str
    met: bool
    card: str

    @property
    def anchor(self) -> str:
        return self.evidence_id.lower()

    @property
    def outcome(self) -> str:
        return "met" if self.met else "not met"


class Term(BaseModel):
    """One term of a posterior's sum: a condition on one measured number, with its weight."""

    evidence_id: str
    number: str                 # tool.field
    value: str
    condition: str              # op threshold units
    card: str = ""
    meaning: str = ""
    met: bool | None = None
    weight: float = 0.0
    counted: bool = False
    aspect: str = ""
    note: str = ""

    @property
    def anchor(self) -> str:
        return self.evidence_id.split(",")[0].lower()

    @property
    def weight_text(self) -> str:
        return f"{self.weight:+.2f}" if self.counted else "0 (" + (self.note or "not counted") + ")"


class Breakdown(BaseModel):
    """A posterior as the sum the report prints: prior, the terms, the total."""

    prior: float
    logit_prior: float
    terms: list[Term] = Field(default_factory=list)
    total: float
    posterior: float
    pieces: float = 0.0
    aspects: list[str] = Field(default_factory=list)
    not_computable: list[str] = Field(default_factory=list)

    @property
    def counted(self) -> list[Term]:
        return [t for t in self.terms if t.counted]

    @property
    def sum_text(self) -> str:
        parts = [f"{self.logit_prior:+.2f} (prior {self.prior:.2f})"] + [f"{t.weight:+.2f}" for t in self.counted]
        return f"{' '.join(parts)} = {self.total:+.2f} -> posterior {self.posterior:.2f}"


def breakdown_of(ledger: dict | None) -> Breakdown | None:
    """The report's view of a hypothesis's ledger (:class:`hvrmet.agents.accounting.Ledger`)."""
    if not ledger:
        return None
    terms = []
    for c in ledger.get("contributions", []):
        thr = c.get("threshold")
        cond = (f"{c.get('op', '')} {format_value(thr)} {format_units(c.get('threshold_units', ''))}".strip()
                if thr is not None else human_condition(c.get("condition", "")))
        val = (f"{format_value(c['value'])} {format_units(c.get('units', ''))}".strip()
               if c.get("value") is not None else "n/a")
        terms.append(Term(evidence_id=c["evidence_id"], number=f"{c['tool']}.{c['field']}", value=val, condition=cond,
                          card=c.get("card", ""), meaning=c.get("meaning", ""), met=c.get("met"),
                          weight=c.get("weight", 0.0), counted=c.get("counted", False), aspect=c.get("aspect", ""),
                          note=c.get("note", "")))
    return Breakdown(prior=ledger["prior"], logit_prior=ledger["logit_prior"], terms=terms, total=ledger["total"],
                     posterior=ledger["posterior"], pieces=ledger.get("pieces", 0.0),
                     aspects=ledger.get("aspects", []), not_computable=ledger.get("not_computable", []))


class HypothesisEntry(BaseModel):
    """A hypothesis: status, prior, posterior, the forecaster's sign-off, its evidence chain."""

    id: str
    hazard: str
    statement: str = ""
    status: str
    prior: float
    posterior: float
    signoff: str | None = None
    rationale: str = ""
    evidence_ids: list[str] = Field(default_factory=list)
    cards: list[str] = Field(default_factory=list)
    loop_proposed: int = 0
    chain: list[ChainItem] = Field(default_factory=list)
    breakdown: Breakdown | None = None

    @property
    def prior_text(self) -> str:
        return f"{self.prior:.2f}"

    @property
    def posterior_text(self) -> str:
        return f"{self.posterior:.2f}"

    @property
    def settled(self) -> bool:
        return self.status in SETTLED


class ThresholdChange(BaseModel):
    """A threshold the forecaster changed (``/fork``): ``card:field op value``."""

    key: str  # "card-id:field>="
    value: float

    @property
    def text(self) -> str:
        return f"{self.key}{self.value:g}"


class DecisionEntry(BaseModel):
    """A replanning (or sign-off, fork) decision of one loop."""

    loop: int
    action: str
    reason: str
    status_changes: dict[str, str] = Field(default_factory=dict)
    posteriors: dict[str, float] = Field(default_factory=dict)
    new_checks: dict[str, list[str]] = Field(default_factory=dict)
    new_hypotheses: list[str] = Field(default_factory=list)


class CardEntry(BaseModel):
    """A knowledge card cited by the evidence or the hypotheses, with its references."""

    id: str
    title: str
    references: list[str] = Field(default_factory=list)


class Failure(BaseModel):
    """A tool call that failed (its error is evidence too)."""

    evidence_id: str
    loop: int
    tool: str
    error: str

    @property
    def anchor(self) -> str:
        return self.evidence_id.lower()


class RunFailure(BaseModel):
    """Why the reasoning could not finish (the brain's error): the step, the kind, the message."""

    node: str = ""
    kind: str = ""
    message: str = ""


class TraceMessage(BaseModel):
    """A log line of the run, in order."""

    kind: str
    text: str


class Report(BaseModel):
    """Everything a diagnosis report shows, built once from the final state."""

    case: str
    title: str = ""
    time: dt.datetime
    place: str = ""
    lat: float
    lon: float
    run_id: str = ""
    brain: str = ""
    loops: int = 0
    tool_calls: int = 0
    outcome: str
    summary: str = ""
    hypotheses: list[HypothesisEntry] = Field(default_factory=list)
    evidence: list[EvidenceEntry] = Field(default_factory=list)
    thresholds: list[ThresholdChange] = Field(default_factory=list)
    decisions: list[DecisionEntry] = Field(default_factory=list)
    cards: list[CardEntry] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    failure: RunFailure | None = None  # the run's own failure (the brain's), if it had one
    messages: list[TraceMessage] = Field(default_factory=list)
    folder: str | None = None  # the report's folder; links below are relative to it
    links: dict[str, str] = Field(default_factory=dict, description="label -> link (trace.json, the other report)")

    @property
    def figures(self) -> list[FigureEntry]:
        return [f for e in self.evidence for f in e.figures]

    @property
    def chained(self) -> list[HypothesisEntry]:
        """The hypotheses whose evidence chain is spelled out (settled ones)."""
        return [h for h in self.hypotheses if h.settled]

    @property
    def when(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} UTC"

    @property
    def where(self) -> str:
        return f"{self.place} ({self.lat:.3f}, {self.lon:.3f})"

    def decisions_by_loop(self) -> dict[int, list[DecisionEntry]]:
        out: dict[int, list[DecisionEntry]] = {}
        for d in self.decisions:
            out.setdefault(d.loop, []).append(d)
        return out


# --------------------------------------------------------------------------- the builder
def _key_value(name: str, v: dict) -> KeyValue:
    val = v.get("value")
    return KeyValue(name=name, value=format_value(val), units=format_units(str(v.get("units", "") or "")),
                    scalar=not (val is None or isinstance(val, list)))


def _join_key_values(values: list[KeyValue], n: int) -> str:
    return "; ".join(kv.text for kv in values[:n] if kv.scalar)


def _verdict(v) -> VerdictEntry:
    return VerdictEntry(hypothesis_id=v.hypothesis_id, card=v.card, condition=human_condition(v.condition), meaning=v.meaning,
                        met=v.met, value=format_value(v.value) if v.value is not None else "n/a", units=format_units(v.units))


def evidence_entries(evidence: Iterable[Evidence], folder: str | os.PathLike | None = None) -> list[EvidenceEntry]:
    """The evidence as the report shows it (links relative to ``folder`` when given)."""
    out = []
    for e in evidence:
        files = [FileRead(name=Path(f["path"]).name, path=f["path"], sha256=f.get("sha256", ""),
                          role=f.get("role", ""), link=relative_link(f["path"], folder)) for f in e.files]
        figs = [FigureEntry(evidence_id=e.id, kind=f.get("kind", ""), png=os.path.abspath(f["png"]),
                            sidecar=os.path.abspath(f["sidecar"]) if f.get("sidecar") else "",
                            png_link=relative_link(f["png"], folder),
                            sidecar_link=relative_link(f.get("sidecar", ""), folder)) for f in e.figures]
        out.append(EvidenceEntry(
            id=e.id, loop=e.loop, tool=e.tool, arguments={k: v for k, v in e.arguments.items() if k != "case"},
            ok=e.ok, error=e.error, summary=e.summary, for_hypothesis=e.for_hypothesis,
            values=[_key_value(k, v) for k, v in e.values.items()], verdicts=[_verdict(v) for v in e.verdicts],
            files=files, figures=figs, cards=list(e.cards)))
    return out


def _chain(h: Hypothesis, by_id: dict[str, Evidence]) -> list[ChainItem]:
    items = []
    for eid in h.evidence_ids:
        ev = by_id.get(eid)
        for v in (ev.verdicts if ev else []):
            if v.hypothesis_id == h.id and v.met is not None:
                items.append(ChainItem(evidence_id=ev.id, tool=ev.tool, condition=human_condition(v.condition), met=v.met, card=v.card,
                                       value=format_value(v.value) if v.value is not None else "n/a", units=format_units(v.units)))
    return items


def hypothesis_entries(hyps: Iterable[Hypothesis], evidence: Iterable[Evidence] = ()) -> list[HypothesisEntry]:
    """The hypotheses as the report shows them; with ``evidence``, each with its chain."""
    by_id = {e.id: e for e in evidence}
    return [HypothesisEntry(id=h.id, hazard=h.hazard, statement=h.statement, status=h.status, prior=h.prior,
                            posterior=h.posterior, signoff=h.signoff, rationale=h.rationale,
                            evidence_ids=list(h.evidence_ids), cards=list(h.cards), loop_proposed=h.loop_proposed,
                            chain=_chain(h, by_id) if h.status in SETTLED else [], breakdown=breakdown_of(h.ledger))
            for h in hyps]


def outcome_of(hyps: Iterable[Hypothesis]) -> str:
    """The run's outcome: the supported hazards (warning-level ones before the null outcomes
    such as ordinary convection), no severe hazard, or insufficient evidence."""
    from hvrmet.knowledge import default_store

    hz = default_store().hazards
    hyps = list(hyps)
    sup = sorted([h for h in hyps if h.status == "supported" and h.hazard != "no_severe_hazard"],
                 key=lambda h: (getattr(hz.get(h.hazard), "family", "") == "null", -h.posterior))
    null = next((h for h in hyps if h.hazard == "no_severe_hazard"), None)
    return ("hazard: " + ", ".join(h.hazard for h in sup) if sup else
            "no severe hazard" if null is not None and null.status == "supported" else
            "insufficient evidence")


def _cards(evidence: list[Evidence], hyps: list[Hypothesis]) -> list[CardEntry]:
    from hvrmet.knowledge import default_store

    store = default_store()
    ids = sorted({c for e in evidence for c in e.cards} | {c for h in hyps for c in h.cards})
    return [CardEntry(id=c.id, title=c.title,
                      references=[f"{r.author} ({r.year}), {r.title}, {r.venue}" for r in c.references])
            for c in (store.by_id[i] for i in ids if i in store.by_id)]


def build_report(state: DiagnosisState, *, folder: str | os.PathLike | None = None, summary: str = "",
                 outcome: str | None = None, brain: str = "", evidence: list[Evidence] | None = None) -> Report:
    """The report of a final state.

    ``folder`` is where the report is written (links are made relative to it);
    ``evidence`` replaces the state's (the report node adds its figures); ``outcome``
    defaults to :func:`outcome_of` the hypotheses.
    """
    from hvrmet.cases import get_case

    case = get_case(state["case"], state.get("data_dir"))
    hyps = [Hypothesis.model_validate(h) for h in state.get("hypotheses", [])]
    evs = evidence if evidence is not None else [Evidence.model_validate(e) for e in state.get("evidence", [])]
    # the report node writes these three side by side in ``folder``
    links = {"trace": "trace.json", "markdown": "report.md", "html": "report.html"} if folder is not None else {}
    return Report(
        case=case.id, title=case.title or "", time=case.time, place=case.location.place or "",
        lat=case.location.lat, lon=case.location.lon, run_id=str(state.get("run_id", "") or ""), brain=brain,
        loops=int(state.get("loop", 0) or 0), tool_calls=int(state.get("tool_calls", 0) or 0),
        outcome=outcome if outcome is not None else outcome_of(hyps), summary=summary,
        hypotheses=hypothesis_entries(hyps, evs), evidence=evidence_entries(evs, folder),
        thresholds=[ThresholdChange(key=k, value=v) for k, v in sorted((state.get("thresholds") or {}).items())],
        decisions=[DecisionEntry.model_validate(d) for d in state.get("decisions", [])],
        cards=_cards(evs, hyps),
        failures=[Failure(evidence_id=e.id, loop=e.loop, tool=e.tool, error=e.error or "unknown error")
                  for e in evs if not e.ok],
        failure=RunFailure.model_validate(state["failure"]) if state.get("failure") else None,
        messages=[TraceMessage(kind=str(m.get("kind", "")), text=str(m.get("text", ""))) for m in state.get("messages", [])],
        folder=str(folder) if folder is not None else None, links=links)
