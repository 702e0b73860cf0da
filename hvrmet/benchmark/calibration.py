"""Calibration of the diagnosis on the catalogue cases with recorded events.

Each case is diagnosed (offline brain, no figures); every hypothesis gives one forecast
``(posterior, outcome)`` where the outcome is 1 when its hazard label names one of the
case's recorded events (``events.yaml``), else 0. The Brier score and a reliability table
(forecasts binned by posterior: mean posterior against observed frequency) follow, for
the development split (the cases the cards and weights were written beside) and the
rest apart. The per-case table lists the recorded events, the leading accepted
hypothesis and the aspects its support came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

__all__ = ["event_table", "forecasts", "brier", "reliability", "case_rows", "run_calibration"]


def event_table() -> tuple[dict[str, list[str]], set[str]]:
    """``(event type -> hazard labels, development cases)`` from ``events.yaml``."""
    from hvrmet._resources import package_path

    data = yaml.safe_load(package_path("hvrmet.benchmark", "data", "events.yaml").read_text())
    return {k: list(v) for k, v in data["event_hazards"].items()}, set(data["dev_cases"])


def _names(events: Iterable[str], table: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for e in events:
        if e not in table:
            raise ValueError(f"event type {e!r} has no entry in events.yaml; known: {', '.join(sorted(table))}")
        out |= set(table[e])
    return out


def forecasts(state: dict, events: list[str], table: dict[str, list[str]]) -> list[tuple[float, int, str]]:
    """``(posterior, outcome, hazard)`` of every hypothesis of a finished run."""
    severe = [e for e in events if e != "none"]
    names = _names(severe, table) if severe else set()
    null_ok = not severe
    out = []
    for h in state.get("hypotheses", []):
        if h["hazard"] == "no_severe_hazard":
            y = int(null_ok)
        else:
            y = int(h["hazard"] in names)
        out.append((float(h["posterior"]), y, h["hazard"]))
    return out


def brier(fc: list[tuple[float, int, str]]) -> float | None:
    """Mean squared difference of posterior and outcome (0 is perfect)."""
    return round(sum((p - y) ** 2 for p, y, _ in fc) / len(fc), 4) if fc else None


def reliability(fc: list[tuple[float, int, str]], bins: int = 5) -> list[dict[str, Any]]:
    """Forecasts binned by posterior: count, mean posterior, observed frequency."""
    rows = []
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        sel = [(p, y) for p, y, _ in fc if lo <= p < hi or (i == bins - 1 and p == 1.0)]
        rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": len(sel),
                     "mean_posterior": round(sum(p for p, _ in sel) / len(sel), 3) if sel else None,
                     "observed": round(sum(y for _, y in sel) / len(sel), 3) if sel else None})
    return rows


def case_rows(case: str, state: dict, events: list[str], table: dict[str, list[str]]) -> dict[str, Any]:
    """One row of the README table: events, leading accepted hypothesis, its aspects, and
    whether it names a recorded event (for null records: whether no hazard is accepted)."""
    from hvrmet.knowledge import default_store

    hz = default_store().hazards
    severe = [e for e in events if e != "none"]
    sup = [h for h in state.get("hypotheses", []) if h["status"] == "supported"]
    hazards = [h for h in sup if h["hazard"] != "no_severe_hazard"
               and getattr(hz.get(h["hazard"]), "family", "") != "null"]
    outcomes = [h for h in sup if h["hazard"] != "no_severe_hazard" and h not in hazards]
    # the lead: a warning-level hazard, else a null outcome (ordinary convection), else the null
    lead = max(hazards or outcomes or sup, key=lambda h: h["posterior"], default=None)
    aspects = ((lead or {}).get("ledger") or {}).get("aspects", [])
    if severe:
        ok = lead is not None and lead["hazard"] in _names(severe, table)
    else:
        ok = not hazards
    return {"case": case, "events": events, "leading": lead["hazard"] if lead else "(none accepted)",
            "posterior": lead["posterior"] if lead else None, "aspects": aspects, "outcome": state.get("outcome", ""),
            "correct": ok}


def run_calibration(out: Path, *, data_dir: str | None = None, cases: list[str] | None = None) -> dict[str, Any]:
    """Diagnose the catalogue cases with recorded events and compute the scores; writes
    ``calibration.json`` into ``out``."""
    from hvrmet.agents.configuration import Configuration
    from hvrmet.cases import list_cases
    from hvrmet.runs import diagnose

    table, dev = event_table()
    cfg = Configuration.resolve(out_dir=str(Path(out) / "runs"), figures=False)
    rows, fc = [], {"dev": [], "other": []}
    for c in list_cases():
        if not c.events or (cases and c.id not in cases):
            continue
        events = [e.type for e in c.events]
        state = diagnose(c.id, cfg, data_dir=data_dir)
        split = "dev" if c.id in dev else "other"
        rows.append({**case_rows(c.id, state, events, table), "split": split})
        fc[split] += forecasts(state, events, table)
    summary = {"cases": rows,
               "splits": {s: {"cases": sum(r["split"] == s for r in rows),
                              "leading_correct": sum(r["correct"] for r in rows if r["split"] == s),
                              "forecasts": len(f), "brier": brier(f), "reliability": reliability(f)}
                          for s, f in fc.items()}}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "calibration.json").write_text(json.dumps(summary, indent=1))
    return summary
