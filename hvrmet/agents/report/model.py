"""The report model: what a diagnosis report shows, built once from the final state.

:func:`build_report` reads the state (hypotheses, evidence, decisions, thresholds, trace
messages) and the case, and returns a :class:`Report`. The Markdown and HTML renderers
and the chat's tables render this model; none of them reads the state itself.

Each settled hypothesis leads with what decided it (:attr:`HypothesisEntry.deciding`):
the three to five terms of its posterior's sum that moved it most, each in words with
its value and units, threshold, card, the data file it came from, the place and distance
of the feature where the tool located one, and the figures drawn from the same data. The
rest of the sum's terms are its "other checks". :attr:`Report.plain_summary` says the
outcome in a paragraph a forecaster can paste into a discussion (deterministic text).

Links (figures, their sidecars, local data files, the trace) are stored relative to the
report's folder (``os.path.relpath``), so they resolve from wherever the report is opened.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from hvrmet.units import format_units
from hvrmet.agents.report.words import (bearing_deg, compass, hazard_words, latlon_text, meaning_words, op_words,
                                        quantity_name, status_words, value_words)
from hvrmet.agents.state import DiagnosisState, Evidence, Hypothesis

log = logging.getLogger(__name__)

__all__ = ["Report", "HypothesisEntry", "ChainItem", "EvidenceEntry", "KeyValue", "FileRead", "FigureEntry",
           "ThresholdChange", "DecisionEntry", "CardEntry", "Failure", "RunFailure", "TraceMessage", "VerdictEntry",
           "build_report", "hypothesis_entries", "evidence_entries", "outcome_of", "format_value", "key_values",
           "relative_link", "SETTLED", "Breakdown", "Term", "breakdown_of", "Deciding", "Place", "DataTime",
           "DECIDING_MAX"]

#: The statuses whose evidence chain the report spells out.
SETTLED = ("supported", "refuted", "inconclusive", "not_assessed")
#: At most this many terms lead a hypothesis as what decided it.
DECIDING_MAX = 5


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

    @property
    def anchor(self) -> str:
        return "fig-" + re.sub(r"[^a-z0-9-]+", "-", f"{self.evidence_id}-{Path(self.png).stem}".lower()).strip("-")


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

    @property
    def words(self) -> str:
        """The link in words: ``surface-based CAPE 2470 J/kg, at least 1000 J/kg: supports
        tornadic supercell (met)``."""
        m = re.match(r"^\S+?\.(\S+) (\S+) (\S+)(?: (\S+))?(?: -> (\S+) (\S+))?", self.condition)
        if not m:
            return f"{self.value} {self.units}".strip() + f": {self.condition} ({self.outcome})"
        field, op, thr, units, meaning, hazard = m.groups()
        cond = f"{op_words(op, True)} {value_words(thr)}{' ' + units if units else ''}"
        said = f": {meaning_words(meaning)} {hazard_words(hazard)}" if meaning else ""
        return f"{quantity_name(field)} {value_words(self.value)} {self.units}".rstrip() + f", {cond}{said} ({self.outcome})"


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
    tool: str = ""
    field: str = ""
    op: str = ""
    threshold: str = ""         # threshold with units
    hazard: str = ""            # the hazard the card's condition is about

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
        thr_text = (f"{format_value(thr)} {format_units(c.get('threshold_units', ''))}".strip()
                    if thr is not None else "")
        about = re.search(r"-> \S+ (\S+)\s*$", c.get("condition", "") or "")
        terms.append(Term(evidence_id=c["evidence_id"], number=f"{c['tool']}.{c['field']}", value=val, condition=cond,
                          card=c.get("card", ""), meaning=c.get("meaning", ""), met=c.get("met"),
                          weight=c.get("weight", 0.0), counted=c.get("counted", False), aspect=c.get("aspect", ""),
                          note=c.get("note", ""), tool=c.get("tool", ""), field=c.get("field", ""),
                          op=c.get("op", ""), threshold=thr_text, hazard=about.group(1) if about else ""))
    return Breakdown(prior=ledger["prior"], logit_prior=ledger["logit_prior"], terms=terms, total=ledger["total"],
                     posterior=ledger["posterior"], pieces=ledger.get("pieces", 0.0),
                     aspects=ledger.get("aspects", []), not_computable=ledger.get("not_computable", []))


class Place(BaseModel):
    """Where a tool located the feature behind a number: its position, its distance and
    bearing from the case's place, and the nearest town (offline gazetteer)."""

    lat: float
    lon: float
    distance_km: float | None = None
    bearing: float | None = None  # from the case's place to the feature, degree
    near: str = ""                # "7 km W of Newcastle"
    of: str = ""                  # the case's place

    @property
    def text(self) -> str:
        parts = [latlon_text(self.lat, self.lon)]
        if self.near:
            parts.append(self.near)
        if self.distance_km is not None and self.of:
            away = (f"{self.distance_km:.0f} km {compass(self.bearing)} of {self.of}"
                    if self.bearing is not None and self.distance_km >= 1.0 else f"{self.distance_km:.0f} km from {self.of}")
            parts.append(away)
        return ", ".join(parts)


class Deciding(BaseModel):
    """One term of a posterior that moved it most, in words: the number, its value and
    units, the threshold, what the card says, the data it came from, where and the
    figures drawn from the same data."""

    evidence_id: str
    tool: str
    field: str
    quantity: str                 # the number's name for people
    value: str                    # with units
    op: str = ""
    threshold: str = ""           # with units
    met: bool | None = None
    meaning: str = ""
    hazard: str = ""              # the hypothesis's hazard
    about: str = ""               # the hazard the condition is about, when another one
    weight: float = 0.0
    aspect: str = ""
    card: str = ""
    card_title: str = ""
    note: str = ""
    files: list[FileRead] = Field(default_factory=list)
    place: Place | None = None
    figures: list[FigureEntry] = Field(default_factory=list)

    @property
    def anchor(self) -> str:
        return self.evidence_id.split(",")[0].lower()

    @property
    def flag(self) -> bool:
        """A yes/no number (a detection): said as found or not found."""
        return self.threshold in ("True", "False") and self.op in ("==", "!=")

    @property
    def condition_text(self) -> str:
        """``at least 1000 J/kg`` (``below 40 kg/m²`` when it was not met)."""
        if not self.threshold or self.flag:
            return ""
        return f"{op_words(self.op, self.met)} {value_words(self.threshold)}"

    @property
    def value_text(self) -> str:
        """The value as said (``2470 J/kg``; a detection as ``found`` / ``not found``)."""
        if self.flag:
            return {"True": "found", "False": "not found"}.get(self.value, value_words(self.value))
        return value_words(self.value)

    @property
    def verdict_text(self) -> str:
        """What the term did: ``supports (+1.00)``, ``refutes (-2.50)``, or for a
        supporting condition not met, ``support missing (-0.30)``."""
        w = f"{self.weight:+.2f}".replace("-", "−")
        if self.met is False and self.meaning != "refutes":
            return f"the support it would give is missing ({w})"
        about = f" {hazard_words(self.about)}" if self.about and self.about != self.hazard else ""
        return f"{meaning_words(self.meaning)}{about} ({w})"

    @property
    def sentence(self) -> str:
        """The term as one line of plain text (the chat and the summary use it)."""
        cond = f" ({self.condition_text})" if self.condition_text else ""
        where = f" at {self.place.text}" if self.place else ""
        return f"{self.short}{cond}{where}: {self.verdict_text}"

    @property
    def short(self) -> str:
        """``surface-based CAPE 2470 J/kg`` (the summary paragraph's form)."""
        if self.flag:
            return f"{self.quantity} {self.value_text}"
        return f"{self.quantity} {self.value_text}".strip()


class DataTime(BaseModel):
    """When the data of one kind (role) were valid, as the tools recorded it."""

    role: str
    source: str = ""  # the station or radar, when the tools name it
    times: list[str] = Field(default_factory=list)  # "YYYY-MM-DD HH:MM", sorted

    @property
    def text(self) -> str:
        when = self.times[0] if len(self.times) == 1 else f"{self.times[0]} to {self.times[-1]}"
        return f"{self.role.replace('_', ' ')}{' ' + self.source if self.source else ''} {when} UTC"


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
    deciding: list[Deciding] = Field(default_factory=list, description="the terms that moved the posterior most")
    status_text: str = ""  # the status in words, with why

    @property
    def hazard_text(self) -> str:
        return hazard_words(self.hazard)

    @property
    def status_title(self) -> str:
        return status_words(self.status)

    @property
    def counted_terms(self) -> list[Term]:
        """The terms of the posterior's sum (the breakdown table shows them)."""
        return self.breakdown.counted if self.breakdown is not None else []

    @property
    def other_terms(self) -> list[Term]:
        """The checks that did not enter the sum: not met, the same number again, not
        computable (the report folds them)."""
        return [t for t in self.breakdown.terms if not t.counted] if self.breakdown is not None else []

    @property
    def figures(self) -> list[FigureEntry]:
        """The figures of the deciding evidence, each once."""
        seen, out = set(), []
        for d in self.deciding:
            for f in d.figures:
                if f.png not in seen:
                    seen.add(f.png)
                    out.append(f)
        return out

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

    @property
    def anchor(self) -> str:
        return f"card-{self.id}"


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
    data_times: list[DataTime] = Field(default_factory=list, description="when the data used were valid, by kind")
    window: str = ""  # the space and time window the tools searched, in words
    plain_summary: str = ""  # the outcome in a paragraph for a forecast discussion

    @property
    def data_text(self) -> str:
        """``radar volume KTLX 1999-05-03 23:56 UTC; sounding OUN 1999-05-04 00:00 UTC``
        (kinds of data from one source at the same times said once)."""
        groups: dict[tuple, list[DataTime]] = {}
        for d in self.data_times:
            groups.setdefault((d.source, tuple(d.times)), []).append(d)
        out = []
        for items in groups.values():
            first = items[0]
            if len(items) == 1:
                out.append(first.text)
                continue
            roles = [d.role.replace("_", " ") for d in items]
            merged = first.model_copy(update={"role": roles[0] + "".join(", " + r for r in roles[1:])})
            out.append(merged.text)
        return "; ".join(out)

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
    """The first ``n`` measured scalar values (not the window's record: RECORD_KEYS)."""
    from hvrmet.tools.window import RECORD_KEYS

    return "; ".join(kv.text for kv in [v for v in values if v.name not in RECORD_KEYS][:n]
                     if kv.scalar)


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


def hypothesis_entries(hyps: Iterable[Hypothesis], evidence: Iterable[Evidence] = (), *, case=None,
                       folder: str | os.PathLike | None = None) -> list[HypothesisEntry]:
    """The hypotheses as the report shows them; with ``evidence``, each with its chain;
    with the ``case`` too, each settled one with what decided it and its status in words
    (file and figure links relative to ``folder``)."""
    evidence = list(evidence)
    by_id = {e.id: e for e in evidence}
    out = []
    for h in hyps:
        entry = HypothesisEntry(id=h.id, hazard=h.hazard, statement=h.statement, status=h.status, prior=h.prior,
                                posterior=h.posterior, signoff=h.signoff, rationale=h.rationale,
                                evidence_ids=list(h.evidence_ids), cards=list(h.cards), loop_proposed=h.loop_proposed,
                                chain=_chain(h, by_id) if h.status in SETTLED else [], breakdown=breakdown_of(h.ledger))
        if case is not None and entry.settled:
            entry.deciding = deciding_of(entry, by_id, evidence, case, folder)
            entry.status_text = _status_text(entry)
        out.append(entry)
    return out


# --------------------------------------------------------------------------- what decided
def _card_titles() -> dict[str, str]:
    from hvrmet.knowledge import default_store

    return {c.id: c.title for c in default_store().cards}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(float(v)) else None


def _near(lat: float, lon: float) -> str:
    """The nearest town, from the offline gazetteer the maps use ("" without it)."""
    from hvrmet.errors import DataFileMissing
    from hvrmet.plot.places import describe_point

    try:
        return describe_point(lat, lon)  # "" far from any town
    except DataFileMissing as exc:  # no gazetteer installed: the report names no town, and says why in the log
        log.warning("no town named for (%.3f, %.3f): %s", lat, lon, exc)
        return ""


def place_of(ev: Evidence | None, field: str, case) -> Place | None:
    """Where the tool located the feature behind ``field``: the ``<prefix>_lat`` /
    ``<prefix>_lon`` values it recorded (the prefix the field starts with, else the
    strongest feature rather than the nearest one), with ``<prefix>_distance`` from the
    case's place when recorded (else computed)."""
    if ev is None:
        return None
    vals = {k: v.get("value") for k, v in ev.values.items()}
    prefixes = [k[:-4] for k in vals if k.endswith("_lat") and not k.startswith("window_")
                and _number(vals.get(k)) is not None and _number(vals.get(k[:-4] + "_lon")) is not None]
    if not prefixes:
        return None
    matching = sorted((pfx for pfx in prefixes if field.startswith(pfx) or pfx.startswith(field)), key=len, reverse=True)
    pfx = matching[0] if matching else next((x for x in prefixes if not x.startswith("nearest")), prefixes[0])
    lat, lon = _number(vals[pfx + "_lat"]), _number(vals[pfx + "_lon"])
    loc = case.location
    dist = _number(vals.get(pfx + "_distance"))
    if dist is None:
        r = 6371.0
        p0, p1 = math.radians(loc.lat), math.radians(lat)
        a = (math.sin((p1 - p0) / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(math.radians(lon - loc.lon) / 2) ** 2)
        dist = 2 * r * math.asin(min(1.0, math.sqrt(a)))
    return Place(lat=lat, lon=lon, distance_km=dist, bearing=bearing_deg(loc.lat, loc.lon, lat, lon),
                 near=_near(lat, lon), of=(loc.place or "").split(",")[0] or "the case's place")


def _primary(ev: Evidence) -> str | None:
    """The sha256 of the first data file a tool read (the data it is about)."""
    return next((f.get("sha256") for f in ev.files
                 if f.get("sha256") and not str(f.get("path", "")).startswith("catalogue:")), None)


def _figures_for(ev: Evidence | None, evidence: list[Evidence], folder) -> list[FigureEntry]:
    """The figures of the evidence item, then those drawn from the same data (the same
    first file read: a radar map that also reads the sounding illustrates the radar)."""
    if ev is None:
        return []
    sha = _primary(ev)
    items = [ev] + [e for e in evidence if e is not ev and e.figures and sha is not None and _primary(e) == sha]
    return [fig for e in items for fig in evidence_entries([e], folder)[0].figures]


def deciding_of(h: HypothesisEntry, by_id: dict[str, Evidence], evidence: list[Evidence], case,
                folder: str | os.PathLike | None = None, n: int = DECIDING_MAX) -> list[Deciding]:
    """The counted terms of the hypothesis's sum that moved it most (largest absolute
    weight first; ties in the ledger's order), at most ``n``, each in words."""
    if h.breakdown is None:
        return []
    titles = _card_titles()
    out = []
    for t in _strongest(h.breakdown.counted, n):
        tool, field = (t.tool, t.field) if t.tool else (t.number.partition(".")[0], t.number.partition(".")[2])
        if tool == "(hypothesis)":  # another hypothesis's status (a supported hazard against the null one)
            out.append(Deciding(evidence_id=t.evidence_id, tool=tool, field=field,
                                quantity=hazard_words(t.condition), value="", met=t.met, meaning=t.meaning,
                                hazard=h.hazard, weight=t.weight, aspect=t.aspect, note=t.note))
            continue
        ev = by_id.get(t.evidence_id.split(",")[0])
        files = evidence_entries([ev], folder)[0].files if ev is not None else []
        out.append(Deciding(
            evidence_id=t.evidence_id, tool=tool, field=field, quantity=quantity_name(field), value=t.value,
            op=t.op, threshold=t.threshold, met=t.met, meaning=t.meaning, hazard=h.hazard, about=t.hazard,
            weight=t.weight, aspect=t.aspect, card=t.card, card_title=titles.get(t.card, ""), note=t.note,
            files=[f for f in files if not f.path.startswith("catalogue:")],
            place=place_of(ev, field, case), figures=_figures_for(ev, evidence, folder)))
    return out


def _strongest(terms: list[Term], n: int) -> list[Term]:
    """The ``n`` terms of largest absolute weight; among equal weights one of an aspect
    not yet chosen first (then the ledger's order)."""
    left = [t for t in terms if t.weight]
    left.sort(key=lambda t: -abs(t.weight))
    chosen: list[Term] = []
    while left and len(chosen) < n:
        top = abs(left[0].weight)
        group = [t for t in left if abs(t.weight) == top]
        seen = {t.aspect for t in chosen}
        pick = next((t for t in group if t.aspect not in seen), group[0])
        chosen.append(pick)
        left.remove(pick)
    return chosen


def _varied(items: list[Deciding], k: int) -> list[Deciding]:
    """``k`` of the items, the first of each aspect before a second of any."""
    firsts = [d for i, d in enumerate(items) if d.aspect not in {x.aspect for x in items[:i]}]
    rest = [d for d in items if d not in firsts]
    return (firsts + rest)[:k]


def _status_text(h: HypothesisEntry) -> str:
    """The status in words, with the rule that gave it (weights.yaml's thresholds)."""
    from hvrmet.knowledge import default_store

    w = default_store().weights
    b = h.breakdown
    aspects = ", ".join(a.replace("storm_scale", "storm-scale").replace("_", " ") for a in (b.aspects if b else []))
    pieces = f"{b.pieces:g} supporting piece{'s' if b.pieces != 1 else ''}" if b else ""
    p = h.posterior_text
    if h.status == "supported":
        text = (f"Supported: the posterior {p} reached the {w.supported_at:.2f} a supported hazard needs, "
                f"from {pieces}" + (f" in {len(b.aspects)} aspect{'s' if len(b.aspects) != 1 else ''} ({aspects})"
                                    if b and b.aspects else "") + ".")
    elif h.status == "refuted":
        refuting = [d for d in h.deciding if d.meaning == "refutes" and d.met]
        text = (f"Refuted: {'a refuting condition was met' if refuting else 'the evidence went against it'} "
                f"and the posterior fell to {p} (below {w.refuted_below:.2f}).")
    elif h.status == "inconclusive":
        text = (f"Left open: the posterior {p} is short of what a supported hazard needs (posterior "
                f"{w.supported_at:.2f}, {w.min_pieces:g} supporting pieces, data from {w.min_aspects} aspects where "
                f"the case has them)" + (f"; it has {pieces}" + (f" in {aspects}" if aspects else "") if b else "")
                + ".")
    elif h.status == "not_assessed":
        text = "Not assessed: no check could test it with the data of this case."
    else:
        text = f"{status_words(h.status)}: posterior {p}."
    return text


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


_SUMMARY_TIME = re.compile(r"^(?P<src>[A-Z0-9]{3,5}) (?P<t>\d{4}-\d\d-\d\dT\d\d:\d\d)")


def _iso_minute(text: str) -> str | None:
    m = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)", str(text or ""))
    return f"{m.group(1)} {m.group(2)}" if m else None


def data_times(evidence: Iterable[Evidence]) -> list[DataTime]:
    """When the data used were valid, by the role of the files read: the ``data_time``
    the windowed tools record, else the station and time a summary starts with
    (``OUN 1999-05-04T00:00: ...``)."""
    by_role: dict[str, DataTime] = {}
    for e in evidence:
        if not e.ok:
            continue
        roles = [f.get("role", "") for f in e.files if f.get("role") and not str(f.get("path", "")).startswith("catalogue:")]
        if not roles:
            continue
        t = _iso_minute((e.values.get("data_time") or {}).get("value"))
        m = _SUMMARY_TIME.match(e.summary or "")
        if t is None and m:
            t = _iso_minute(m.group("t"))
        if t is None:
            continue
        d = by_role.setdefault(roles[0], DataTime(role=roles[0]))
        if m and not d.source:
            d.source = m.group("src")
        if t not in d.times:
            d.times = sorted(d.times + [t])
    return list(by_role.values())


def window_of(evidence: Iterable[Evidence]) -> str:
    """The window the tools searched, in words (``within 1 h and 75-230 km of the case's
    time and place``); "" when no windowed tool ran."""
    hours, radii = set(), set()
    for e in evidence:
        h, r = (e.values.get("window_time_window") or {}).get("value"), (e.values.get("window_radius") or {}).get("value")
        if _number(h) is not None:
            hours.add(_number(h))
        if _number(r) is not None and _number(r) < 20000:
            radii.add(_number(r))
    if not hours and not radii:
        return ""
    parts = []
    if hours:
        parts.append("±" + "/".join(f"{x:g}" for x in sorted(hours)) + " h")
    if radii:
        lo, hi = min(radii), max(radii)
        parts.append(f"{lo:g} km" if lo == hi else f"{lo:g}–{hi:g} km")
    return "the tools looked within " + " and ".join(parts) + " of the case's time and place"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def plain_summary(rep: "Report") -> str:
    """The outcome as a paragraph for a forecast discussion: the supported hazards with
    the numbers that decided them, the refuted ones with what refuted them, the ones left
    open, and the data. Deterministic: built from the report model alone."""
    from hvrmet.knowledge import default_store

    hz = default_store().hazards
    hyps = [h for h in rep.hypotheses if h.hazard != "no_severe_hazard" or h.status == "supported"]
    sup = sorted([h for h in hyps if h.status == "supported"],
                 key=lambda h: (getattr(hz.get(h.hazard), "family", "") == "null", -h.posterior))
    ref = [h for h in hyps if h.status == "refuted"]
    open_ = [h for h in hyps if h.status in ("inconclusive", "proposed")]
    na = [h for h in hyps if h.status == "not_assessed"]
    when = f"{rep.time:%H%M} UTC {rep.time:%-d %B %Y}"
    where = rep.place or f"{rep.lat:.2f}, {rep.lon:.2f}"
    out = [f"{rep.title or rep.case}: diagnosis for {where} at {when}."]
    for i, h in enumerate(sup):
        why = _varied([d for d in h.deciding if d.weight > 0], 3 if i == 0 else 2)
        feats = _listing([d.short + (f" ({d.place.near})" if d.place and d.place.near and i == 0 else "") for d in why])
        lead = "The evidence supports" if i == 0 else "It also supports"
        out.append(f"{lead} {h.hazard_text} (posterior {h.posterior_text})" + (f": {feats}" if feats else "") + ".")
    if not sup:
        out.append("No hazard is supported by the evidence.")
    if ref:
        items = []
        for h in ref:
            by = next((d for d in h.deciding if d.weight < 0 and d.tool != "(hypothesis)"), None)
            items.append(h.hazard_text + (f" ({by.short})" if by else ""))
        out.append(f"Refuted: {_listing(items)}.")
    if open_:
        out.append("Left open: " + _listing([f"{h.hazard_text} ({h.posterior_text})" for h in open_]) + ".")
    if na:
        out.append("Not assessed with these data: " + _listing([h.hazard_text for h in na]) + ".")
    signed = [h for h in rep.hypotheses if h.signoff]
    if signed:
        out.append("Forecaster: " + "; ".join(f"{h.hazard_text}: {h.signoff}" for h in signed) + ".")
    if rep.data_times:
        out.append(f"Data: {rep.data_text}.")
    return " ".join(out)


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
    rep = Report(
        case=case.id, title=case.title or "", time=case.time, place=case.location.place or "",
        lat=case.location.lat, lon=case.location.lon, run_id=str(state.get("run_id", "") or ""), brain=brain,
        loops=int(state.get("loop", 0) or 0), tool_calls=int(state.get("tool_calls", 0) or 0),
        outcome=outcome if outcome is not None else outcome_of(hyps), summary=summary,
        hypotheses=hypothesis_entries(hyps, evs, case=case, folder=folder), evidence=evidence_entries(evs, folder),
        thresholds=[ThresholdChange(key=k, value=v) for k, v in sorted((state.get("thresholds") or {}).items())],
        decisions=[DecisionEntry.model_validate(d) for d in state.get("decisions", [])],
        cards=_cards(evs, hyps),
        failures=[Failure(evidence_id=e.id, loop=e.loop, tool=e.tool, error=e.error or "unknown error")
                  for e in evs if not e.ok],
        failure=RunFailure.model_validate(state["failure"]) if state.get("failure") else None,
        messages=[TraceMessage(kind=str(m.get("kind", "")), text=str(m.get("text", ""))) for m in state.get("messages", [])],
        folder=str(folder) if folder is not None else None, links=links,
        data_times=data_times(evs), window=window_of(evs))
    rep.plain_summary = plain_summary(rep)
    return rep
