"""Scorers of the benchmark's answer types: number, location, label, set, figure, checklist.

Each takes the gold ``answer`` (a dict with ``type``) and what the system answered, and
returns ``(passed, detail)``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["score", "SCORERS"]


def _number(gold: dict, given: Any) -> tuple[bool, str]:
    from metpy.units import units

    from hvrmet.units import parse_units

    if not isinstance(given, dict) or given.get("value") is None:
        return False, "no number given"
    try:
        value = float(given["value"])
        q = units.Quantity(value, parse_units(given.get("units") or "", name="units")).to(
            parse_units(gold.get("units") or "", name="gold units"))
    except Exception as exc:  # noqa: BLE001 - wrong or unparsable units fail the task
        return False, f"units {given.get('units')!r} do not convert to {gold.get('units')!r}: {exc}"
    x, want = float(q.magnitude), float(gold["value"])
    tol = float(gold.get("atol", 0.0)) + float(gold.get("rtol", 0.0)) * abs(want)
    ok = math.isfinite(x) and abs(x - want) <= tol
    return ok, f"{x:.4g} {gold.get('units', '')} vs {want:.4g} (tolerance {tol:.3g})"


def _location(gold: dict, given: Any) -> tuple[bool, str]:
    from pyproj import Geod

    if not isinstance(given, dict) or given.get("lat") is None or given.get("lon") is None:
        return False, "no location given"
    _, _, d = Geod(ellps="WGS84").inv(float(gold["lon"]), float(gold["lat"]), float(given["lon"]), float(given["lat"]))
    km = d / 1000.0
    return km <= float(gold["radius_km"]), f"{km:.1f} km from the gold point (radius {gold['radius_km']} km)"


def _label(gold: dict, given: Any) -> tuple[bool, str]:
    if isinstance(given, dict):
        given = given.get("value")
    if given is None:
        return False, "no label given"
    accepted = {str(gold["value"]).strip().lower(), *(str(s).strip().lower() for s in gold.get("synonyms", []))}
    text = str(given).strip().lower()
    return text in accepted, f"{given!r} vs {gold['value']!r}"


def _set(gold: dict, given: Any) -> tuple[bool, str]:
    items = given.get("members") if isinstance(given, dict) else given
    items = list(items or [])
    members = {str(m) for m in gold["members"]}
    hits = [i for i in items if str(i) in members]
    lo, hi = int(gold.get("min", 1)), gold.get("max")
    ok = len(hits) >= max(lo, 1) and (hi is None or len(hits) <= int(hi))
    return ok, f"{len(hits)} of {len(items)} answered items are acceptable (need {lo}" + (f"..{hi}" if hi else "+") + ")"


def _figure(gold: dict, given: Any) -> tuple[bool, str]:
    if not isinstance(given, dict):
        return False, "no figure sidecar"
    problems = []
    for key in ("kind", "level", "units"):
        if key in gold and str(given.get(key)) != str(gold[key]):
            problems.append(f"{key} {given.get(key)!r} != {gold[key]!r}")
    if "variables" in gold:
        have = set(given.get("variables") or [])
        missing = set(gold["variables"]) - have
        if missing:
            problems.append(f"variables missing {sorted(missing)}")
    if "valid_time" in gold:
        got = str(given.get("valid_time") or "")
        if not got.startswith(str(gold["valid_time"])[:16]):
            problems.append(f"valid_time {got!r} != {gold['valid_time']!r}")
    if "contains" in gold:
        ext = given.get("extent")
        lat, lon = gold["contains"]
        if not ext or not (ext[0] <= lon <= ext[1] and ext[2] <= lat <= ext[3]):
            problems.append(f"extent {ext} does not contain ({lat}, {lon})")
    return not problems, "; ".join(problems) or "all required fields match"


def _checklist(gold: dict, given: Any) -> tuple[bool, str]:
    if not isinstance(given, dict):
        return False, "no report"
    named, accepted, cited = set(given.get("named", [])), set(given.get("accepted", [])), set(given.get("cited", []))
    problems = [f"does not name {h}" for h in gold.get("must_name", []) if h not in named]
    problems += [f"accepts {h}" for h in gold.get("must_not_accept", []) if h in accepted]
    problems += [f"cites no {t}" for t in gold.get("must_cite", []) if t not in cited]
    return not problems, "; ".join(problems) or "checklist complete"


SCORERS = {"number": _number, "location": _location, "label": _label, "set": _set, "figure": _figure,
           "checklist": _checklist}


def score(answer: dict, given: Any) -> tuple[bool, str]:
    """Score ``given`` against the gold ``answer``; an unknown type lists the known ones."""
    kind = answer.get("type")
    if kind not in SCORERS:
        raise ValueError(f"unknown answer type {kind!r}; known types: {', '.join(SCORERS)}")
    return SCORERS[kind](answer, given)
