"""Evidence accounting: a hypothesis's posterior as a sum that a forecaster can check.

For one hypothesis the verdicts of all evidence are grouped by the *measured number*
they judge (one tool call's field; calls that differ only in their search window and
return the same value at the same place, such as a wider search finding the same
maximum, measured one number: :func:`measurement_key`; so did two tools' outputs that the
tool registry declares one quantity, on the same files and window with the same value:
:func:`quantity_key`). Each number contributes once, however many cards
state a condition on it: the met condition of largest absolute weight counts; the other
met ones are kept in the ledger as "same number" with weight 0. A number whose
supporting conditions are all unmet counts ``unmet_support`` once. A number the data
could not give is recorded as "not computable: <why>" (weight 0) and lowers the
hypothesis's confidence instead of vanishing.

A number whose data lie outside the time window around the case's time (the evidence's
``outside_time_window``, set from the tool's window: :mod:`hvrmet.tools.window`) counts
with its weight multiplied by ``outside_time_window`` of ``weights.yaml``; the
contribution keeps the factor (``scale``) and its note says it was scaled and why, so the
sum stays checkable term by term. A number from a replanning check that searched wider
than the storm-scale window (the evidence's ``widened_from``) is scaled the same way by
``wider_window``.

``posterior = logistic(logit(prior) + sum of counted weights)``; the weights and the
status thresholds are data (``weights.yaml`` in the knowledge store). Independence is
counted by *aspect* (environment, storm-scale radar signature, detection product,
synoptic pattern, observed precipitation) and by data source (the files read).

Statuses:

* **refuted** only with a counted, met refuting condition (and the posterior below
  ``refuted_below``); the null hypothesis is also refuted by a supported hazard, recorded
  as its own contribution;
* **supported** with the posterior at ``supported_at`` or more, at least ``min_pieces``
  supporting pieces (a weak one counts half), at least one full ``supports`` piece, and
  pieces from ``min_aspects`` aspects when the case has data of that many aspects bearing
  on the hazard; support from one aspect only is said in the rationale;
* **not_assessed** when no check could test it (every verdict not computable, or none);
* otherwise proposed (checks left) or inconclusive.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from hvrmet.agents.state import Evidence, Hypothesis

__all__ = ["Contribution", "Ledger", "ledger", "logit", "logistic", "number_key", "measurement_key", "quantity_key",
           "aspect_of"]


def logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class Contribution(BaseModel):
    """One term of a posterior: a condition judged on one measured number."""

    evidence_id: str
    tool: str
    field: str
    value: Any = None
    units: str = ""
    card: str = ""
    condition: str = ""
    op: str = ""
    threshold: Any = None
    threshold_units: str = ""
    meaning: str = ""
    met: bool | None = None
    weight: float = 0.0
    scale: float = Field(1.0, description="factor already applied to the weight (outside_time_window or wider_window of "
                         "weights.yaml when the number's data lie outside the time window or it was searched wider than "
                         "the storm-scale window; 1 otherwise)")
    counted: bool = False
    aspect: str = ""
    sources: list[str] = Field(default_factory=list, description="sha256 of the files the number came from")
    note: str = ""


class Ledger(BaseModel):
    """A hypothesis's posterior as a sum: prior, every contribution, the total."""

    hypothesis_id: str
    prior: float
    logit_prior: float
    contributions: list[Contribution] = Field(default_factory=list)
    total: float = 0.0
    posterior: float = 0.0
    pieces: float = 0.0
    strong_pieces: int = 0
    aspects: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    refuting: list[str] = Field(default_factory=list, description="evidence ids of counted, met refuting conditions")
    not_computable: list[str] = Field(default_factory=list)
    tested: int = 0

    def counted(self) -> list[Contribution]:
        return [c for c in self.contributions if c.counted]

    def check_sum(self) -> float:
        """logit(prior) + the counted weights (equals ``total``)."""
        return self.logit_prior + sum(c.weight for c in self.counted())


def number_key(ev: Evidence, field: str) -> str:
    """The measured number a verdict judges: the tool call (tool and arguments, whichever
    evidence item ran it) and the field."""
    from hvrmet.agents.evidence import check_key

    return f"{check_key(ev.tool, ev.arguments)}.{field}"


#: Arguments that only set where a tool searches: two calls that differ in these alone and
#: find the same value at the same place measured one number.
_WINDOW_ARGS = ("radius", "time_window")
_PLACE_UNITS = ("degree_north", "degree_east")


def _files_key(ev: Evidence) -> list[str]:
    """The files a number came from: their checksums (their paths where none is given), sorted."""
    return sorted(f.get("sha256") or f.get("path", "") for f in ev.files)


def measurement_key(ev: Evidence, field: str) -> str | None:
    """What a number measured, whatever window found it: the tool, its other arguments,
    the files, the field, its value and the place the tool put it (every latitude and
    longitude it reported outside the window's own centre). Two calls with different
    windows that return the same maximum at the same gate measured it once. ``None`` when
    the evidence holds no value for ``field``."""
    import json

    from hvrmet.agents.evidence import _BASE_ARGS

    val = ev.values.get(field)
    if val is None or val.get("value") is None:
        return None
    place = sorted((k, v.get("value")) for k, v in ev.values.items()
                   if not k.startswith("window_") and v.get("units") in _PLACE_UNITS)
    args = {k: v for k, v in ev.arguments.items() if k not in (*_BASE_ARGS, *_WINDOW_ARGS)}
    return json.dumps([ev.tool, args, _files_key(ev), field, val.get("value"), val.get("units"), place],
                      sort_keys=True)


def quantity_key(ev: Evidence, field: str) -> str | None:
    """What a number measured, whatever tool measured it, for a field that the tool
    registry declares a shared quantity (``quantities`` of :func:`hvrmet.tools.registry.tool`:
    the composite's maximum and the volume's strongest gate are one
    ``volume_max_reflectivity``): the quantity, the files, the window, the value and its
    units (not the place each tool puts it: a grid cell's centre or the gate itself). Calls
    of two tools on the same files, in the same window, that found the same value measured
    it once. ``None`` for a field that declares no quantity or holds no value, and for
    evidence that names no file."""
    import json

    from hvrmet.tools import find_tool

    t = find_tool(ev.tool)
    qty = t.quantities.get(field) if t is not None else None
    val = ev.values.get(field)
    if not qty or val is None or val.get("value") is None or not ev.files:
        return None
    window = sorted((k, v.get("value")) for k, v in ev.values.items() if k.startswith("window_"))
    return json.dumps(["quantity", qty, _files_key(ev), val.get("value"), val.get("units"), window], sort_keys=True)


def _merge_measurements(groups: dict[str, list]) -> dict[str, list]:
    """Groups of verdicts by call (:func:`number_key`) joined when their calls measured the
    same number (:func:`measurement_key`, or across tools :func:`quantity_key`), joined
    transitively (a call that shares one key with one group and another with a second
    joins all three); a joined group keeps its first key (sorted)."""
    keys = sorted(groups)
    parent = {k: k for k in keys}

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    home: dict[str, str] = {}
    for key in keys:
        ev, v = groups[key][0]
        for m in (measurement_key(ev, v.field), quantity_key(ev, v.field)):
            if m is None:
                continue
            if m in home:
                a, b = sorted((root(home[m]), root(key)))
                parent[b] = a
            else:
                home[m] = key
    out: dict[str, list] = {}
    for key in keys:
        out.setdefault(root(key), []).extend(groups[key])
    return out


def aspect_of(tool: str, weights) -> str:
    """The aspect of a tool's evidence (from weights.yaml by the tool's category)."""
    from hvrmet.tools import find_tool

    t = find_tool(tool)
    return weights.aspect(tool, t.category if t is not None else "")


def _outside_window(ev: Evidence, weight: float, note: str, weights) -> dict[str, Any]:
    """A counted weight scaled for data outside the time window: the weight, the factor and
    the note that says so (the weight before scaling, the factor's name, the data's offset)."""
    factor = float(weights.outside_time_window)
    off = getattr(ev, "data_time_offset", None)
    when = f"{off:+.1f} h from the case's time" if isinstance(off, (int, float)) else "away from the case's time"
    why = (f"weight {weight:+.2f} x {factor:g} (outside_time_window in weights.yaml): the data are {when}, "
           f"outside the tool's time window")
    return {"weight": round(weight * factor, 6), "scale": factor, "note": f"{note}; {why}" if note else why}


def _wider_window(ev: Evidence, weight: float, note: str, scale: float, weights) -> dict[str, Any]:
    """A counted weight scaled for a check that searched wider than the storm-scale window
    (``wider_window`` of weights.yaml), on top of any earlier scaling."""
    factor = float(weights.wider_window)
    radius = ev.arguments.get("radius")
    why = (f"weight {weight:+.2f} x {factor:g} (wider_window in weights.yaml): searched {radius:g} km around the "
           f"place, beyond the storm-scale window of {ev.widened_from:g} km") if isinstance(radius, (int, float)) else \
          f"weight {weight:+.2f} x {factor:g} (wider_window in weights.yaml): searched beyond the storm-scale window"
    return {"weight": round(weight * factor, 6), "scale": round(scale * factor, 6),
            "note": f"{note}; {why}" if note else why}


def ledger(h: Hypothesis, evidence: list[Evidence], weights, *, competing: list[Hypothesis] | None = None) -> Ledger:
    """The ledger of ``h`` over ``evidence`` (see the module docstring).

    ``competing`` are the supported warning-level hazard hypotheses; for the null
    hypothesis and the null outcomes (ordinary convection, stratiform rain) each is a
    refuting contribution of weight ``competing_supported``.
    """
    groups: dict[str, list[tuple[Evidence, Any]]] = {}
    for ev in evidence:
        for v in ev.verdicts:
            if v.hypothesis_id == h.id:
                groups.setdefault(number_key(ev, v.field), []).append((ev, v))
    groups = _merge_measurements(groups)
    led = Ledger(hypothesis_id=h.id, prior=h.prior, logit_prior=round(logit(h.prior), 6))
    for key in sorted(groups):
        items = groups[key]
        ev0 = items[0][0]
        aspect = aspect_of(ev0.tool, weights)
        sources = sorted({f.get("sha256", "") for f in ev0.files if f.get("sha256")})

        def contrib(ev, v, **kw) -> Contribution:
            if kw.get("counted") and getattr(ev, "outside_time_window", False):
                kw = {**kw, **_outside_window(ev, kw.get("weight", 0.0), kw.get("note", ""), weights)}
            if kw.get("counted") and getattr(ev, "widened_from", None):
                kw = {**kw, **_wider_window(ev, kw.get("weight", 0.0), kw.get("note", ""), kw.get("scale", 1.0),
                                            weights)}
            return Contribution(evidence_id=ev.id, tool=ev.tool, field=v.field, value=v.value, units=v.units,
                                card=v.card, condition=v.condition, op=v.op, threshold=v.threshold,
                                threshold_units=v.threshold_units, meaning=v.meaning, met=v.met, aspect=aspect,
                                sources=sources, **kw)

        met = [i for i, (_, v) in enumerate(items) if v.met is True]
        if met:
            led.tested += 1
            best = max(met, key=lambda i: (abs(weights.weight(items[i][1].meaning, items[i][1].weight)),
                                           items[i][1].meaning == "refutes", not items[i][0].widened_from,
                                           not items[i][0].outside_time_window, items[i][1].card))
            for i, (ev, v) in enumerate(items):
                if i == best:
                    led.contributions.append(contrib(ev, v, weight=weights.weight(v.meaning, v.weight), counted=True))
                elif v.met is True:
                    led.contributions.append(contrib(ev, v, note=f"same number as {items[best][1].card} (counted once)"))
                else:
                    led.contributions.append(contrib(ev, v, note="not met"))
            continue
        unmet_support = [i for i, (_, v) in enumerate(items) if v.met is False and v.meaning == "supports"]
        if any(v.met is False for _, v in items):
            led.tested += 1
        for i, (ev, v) in enumerate(items):
            if v.met is None:
                led.contributions.append(contrib(ev, v, note=v.reason or "not computable"))
            elif unmet_support and i == unmet_support[0]:
                led.contributions.append(contrib(ev, v, weight=weights.unmet_support, counted=True,
                                                 note="supporting condition not met"))
            else:
                led.contributions.append(contrib(ev, v, note="not met"))
        if all(v.met is None for _, v in items):
            why = next((v.reason for _, v in items if v.reason), "not computable")
            led.not_computable.append(f"{ev0.tool}.{items[0][1].field}: {why}")
    for other in competing or []:
        led.tested += 1
        led.contributions.append(Contribution(
            evidence_id=",".join(other.evidence_ids[:6]), tool="(hypothesis)", field=other.hazard, value=other.status,
            card="", condition=f"{other.id} {other.hazard} is supported", meaning="refutes", met=True,
            weight=weights.competing_supported, counted=True, aspect="competing hypothesis",
            note=f"a warning-level hazard is supported, so '{h.hazard.replace('_', ' ')}' (nothing at warning "
                 f"level) is contradicted"))
    counted = led.counted()
    led.total = round(led.logit_prior + sum(c.weight for c in counted), 6)
    led.posterior = round(logistic(led.total), 4)
    independent = set(weights.independent_aspects)
    support = [c for c in counted if c.met and c.meaning in ("supports", "weakly_supports")]
    led.pieces = sum(1.0 if c.meaning == "supports" else 0.5 for c in support)
    led.strong_pieces = sum(1 for c in support if c.meaning == "supports")
    led.aspects = sorted({c.aspect for c in support if c.aspect in independent})
    led.sources = sorted({s for c in support for s in c.sources})
    led.refuting = [c.evidence_id for c in counted if c.met and c.meaning == "refutes"]
    return led
