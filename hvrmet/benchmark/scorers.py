"""Scorers of the benchmark's answer types: number, location, label, ranked, set, replan,
figure, checklist, abstain and loop.

Each takes the gold ``answer`` (a dict with ``type``) and what the system answered, and
returns ``(passed, detail)``. The scorers are strict on purpose (see
``hvrmet/benchmark/data/README.md``):

* a hypothesis answer counts at its **rank** (hypotheses ordered by status, then posterior:
  :func:`rank_hypotheses`), not anywhere in the list;
* a report **names** a hazard only when it accepts it (status ``supported``), or refutes it
  where the task asks for the refutation;
* a replanning answer is read at the **loop** the task names and fails when no replanning
  happened after that loop;
* checklists and tool sets go through the **vocabularies**: hazard labels and their
  synonyms (``hvrmet/knowledge/data/hazards.yaml``), tool names and the quantities they
  return (``hvrmet bench vocab``);
* a "not computable" answer (``abstain``) passes only for the right reason class and fails
  when a number is given; a number answer fails when the system abstains.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

__all__ = ["score", "SCORERS", "STATUS_ORDER", "REASON_CLASSES", "rank_hypotheses", "canonical_hazard",
           "canonical_tool", "hazard_lineage", "classify_reason", "entropy"]

#: How hypotheses are ranked: by status first (accepted before open before untested
#: before refuted), then by posterior (highest first), then by id.
STATUS_ORDER = {"supported": 0, "inconclusive": 1, "proposed": 2, "not_assessed": 2, "refuted": 3}

#: Why a quantity cannot be computed from a case's data.
REASON_CLASSES = ("missing_layer", "missing_variable", "out_of_domain", "missing_time")

# The wording a system uses for each reason class, tried in this order (first match wins).
_REASON_PATTERNS = (
    ("missing_layer", r"no \d+(\.\d+)? ?hpa level|has no level|levels? (above|below) \d+"),  # before 'has no ...'
    ("missing_time", r"single (analysis )?time|one (analysis )?time|only one (frame|time)|single frame|"
                     r"fewer than two (times|frames)|needs? (at least )?two (times|frames)|no (earlier|later) (time|analysis)"),
    ("out_of_domain", r"out(side)? (of )?(the )?(domain|range|grid|coverage)|outside|beyond|out of range|"
                      r"not covered|no grid points? (in|inside)|off the grid|too far"),
    ("missing_variable", r"lacks?|not in the file|has no '?\w+|no file of role|no dual-?pol|"
                         r"no (radial_)?velocity|no [a-z_]+ on|missing (variable|field|moment)|"
                         r"dew ?points? (are |is )?missing|no dew ?point|holds? no|no such (variable|field)|no '?\w+'? role"),
    ("missing_layer", r"reach(es)? only|ends? below|stops? (at|below)|does not reach|too shallow|no pressure (levels|axis)|"
                      r"single level|not deep enough|depth|below \d+ ?hpa|only \d+ (wind )?levels?|missing layer"),
)


def classify_reason(text: Any) -> str | None:
    """The reason class of a "not computable" explanation (a class name is returned as
    it is); ``None`` when the text gives no recognisable reason."""
    if text is None:
        return None
    t = str(text).strip().lower()
    if not t:
        return None
    if t.replace(" ", "_") in REASON_CLASSES:
        return t.replace(" ", "_")
    for cls, pat in _REASON_PATTERNS:
        if re.search(pat, t):
            return cls
    return None


# ------------------------------------------------------------------------ vocabularies
def _norm(s: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(s).strip().lower())


@functools.lru_cache(maxsize=1)
def _hazards() -> tuple[dict[str, str], dict[str, str | None]]:
    import yaml

    from hvrmet._resources import package_path

    data = yaml.safe_load((package_path("hvrmet.knowledge", "data") / "hazards.yaml").read_text())
    alias: dict[str, str] = {}
    parent: dict[str, str | None] = {}
    for h in data["hazards"]:
        parent[h["id"]] = h.get("parent")
        alias[_norm(h["id"])] = h["id"]
    for h in data["hazards"]:
        for s in h.get("synonyms", []):
            alias.setdefault(_norm(s), h["id"])
    return alias, parent


def canonical_hazard(name: Any) -> str:
    """The hazard label a name stands for (its id, the id with spaces, or a synonym from
    hazards.yaml, case-insensitive); an unknown name comes back normalised."""
    alias, _ = _hazards()
    return alias.get(_norm(name), _norm(name))


def hazard_lineage(name: Any) -> list[str]:
    """The label and the more general labels it specialises (``supercell_large_hail`` ->
    ``[supercell_large_hail, large_hail]``)."""
    _, parent = _hazards()
    out, h = [], canonical_hazard(name)
    while h and h not in out:
        out.append(h)
        h = parent.get(h)
    return out


@functools.lru_cache(maxsize=1)
def _tool_alias() -> dict[str, str]:
    from hvrmet.benchmark.tasks import PLOT_TOOL, quantity_vocabulary
    from hvrmet.tools import list_tools

    alias = {q: v["tool"] for q, v in quantity_vocabulary().items()}
    alias.update({k: v for k, v in PLOT_TOOL.items()})
    alias.update({t.name: t.name for t in list_tools()})
    return alias


def canonical_tool(name: Any) -> str:
    """The registry tool a name stands for: a tool name, or a quantity (the tool that
    returns it, as ``hvrmet bench vocab`` lists), or a figure kind (its plot tool)."""
    return _tool_alias().get(_norm(name), str(name).strip())


def rank_hypotheses(hyps: list) -> list[dict]:
    """Hypotheses (dicts with ``hazard``, ``status``, ``posterior``; a bare label counts as
    an untested hypothesis) in rank order: status (:data:`STATUS_ORDER`), then posterior,
    then id."""
    items = [h if isinstance(h, dict) else {"hazard": h} for h in hyps]
    return sorted(items, key=lambda h: (STATUS_ORDER.get(str(h.get("status") or "proposed"), 2),
                                        -float(h.get("posterior") or 0.0), str(h.get("id") or "")))


def entropy(posteriors: list[float]) -> float | None:
    """Shannon entropy (bits) of the posteriors normalised to sum to one; ``None`` when
    there is none with weight."""
    ps = [float(p) for p in posteriors if p is not None and float(p) > 0]
    if not ps:
        return None
    total = sum(ps)
    return -sum(p / total * math.log2(p / total) for p in ps)


# ------------------------------------------------------------------------ scorers
def _abstained(given: Any) -> str | None:
    """The system's "not computable" reason (text), when it abstained."""
    if not isinstance(given, dict):
        return None
    if given.get("error"):
        return str(given["error"])
    if given.get("value") is None and (given.get("not_computable") or given.get("note")):
        return str(given.get("not_computable") or given.get("note"))
    return None


def _number(gold: dict, given: Any) -> tuple[bool, str]:
    from metpy.units import units

    from hvrmet.units import parse_units

    why = _abstained(given)
    if why is not None:
        return False, f"abstained ({why[:80]}) where a number was expected"
    if not isinstance(given, dict) or given.get("value") is None:
        return False, "no number given"
    if isinstance(given["value"], bool):
        return False, f"{given['value']!r} is not a number"
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
    try:
        lat, lon = float(given["lat"]), float(given["lon"])
    except (TypeError, ValueError):
        return False, f"not a position: {given.get('lat')!r}, {given.get('lon')!r}"
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False, "not a position: non-finite latitude or longitude"
    _, _, d = Geod(ellps="WGS84").inv(float(gold["lon"]), float(gold["lat"]), lon, lat)
    km = d / 1000.0
    return km <= float(gold["radius_km"]), f"{km:.1f} km from the gold point (radius {gold['radius_km']} km)"


def _label(gold: dict, given: Any) -> tuple[bool, str]:
    if isinstance(given, dict):
        given = given.get("value")
    if given is None:
        return False, "no label given"
    if gold.get("vocabulary") == "hazard":
        accepted = {canonical_hazard(gold["value"]), *(canonical_hazard(s) for s in gold.get("synonyms", []))}
        return canonical_hazard(given) in accepted, f"{given!r} vs {gold['value']!r}"
    accepted = {_norm(gold["value"]), *(_norm(s) for s in gold.get("synonyms", []))}
    return _norm(given) in accepted, f"{given!r} vs {gold['value']!r}"


def _rank_of(gold: dict, given: Any) -> tuple[int | None, list[str]]:
    if isinstance(given, dict):
        items = given.get("ranking")
        if items is None:
            items = given.get("hypotheses")
        if items is None:
            items = given.get("members") or []
    else:
        items = given or []
    order = [canonical_hazard(h.get("hazard")) for h in rank_hypotheses(list(items))]
    accepted = {canonical_hazard(gold["value"]), *(canonical_hazard(s) for s in gold.get("synonyms", []))}
    rank = next((i + 1 for i, h in enumerate(order) if h in accepted), None)
    return rank, order


def _ranked(gold: dict, given: Any) -> tuple[bool, str]:
    rank, order = _rank_of(gold, given)
    lo, hi = int(gold.get("min_rank", 1)), gold.get("max_rank", 1)
    want = (f"rank {lo}" if hi is not None and int(hi) == lo else
            f"rank {lo}..{hi}" if hi is not None else f"rank {lo} or lower, or absent")
    if not order:
        return False, "no hypotheses given"
    if rank is None:
        ok = bool(gold.get("absent_ok"))
        return ok, f"{gold['value']} not among {len(order)} hypotheses (want {want})"
    ok = rank >= lo and (hi is None or rank <= int(hi))
    return ok, f"{gold['value']} at rank {rank} of {len(order)} (want {want}; first: {order[0]})"


def _set_hits(gold: dict, items: list) -> tuple[list, list]:
    if gold.get("vocabulary") == "tool":
        members = {canonical_tool(m) for m in gold["members"]}
        items = list(dict.fromkeys(canonical_tool(i) for i in items))
    elif gold.get("vocabulary") == "hazard":
        members = {canonical_hazard(m) for m in gold["members"]}
        items = list(dict.fromkeys(canonical_hazard(i) for i in items))
    else:
        members = {str(m) for m in gold["members"]}
        items = list(dict.fromkeys(str(i) for i in items))
    return [i for i in items if i in members], items


def _set(gold: dict, given: Any) -> tuple[bool, str]:
    items = given.get("members") if isinstance(given, dict) else given
    hits, items = _set_hits(gold, list(items or []))
    lo, hi = int(gold.get("min", 1)), gold.get("max")
    ok = len(hits) >= max(lo, 1) and (hi is None or len(hits) <= int(hi))
    return ok, f"{len(hits)} of {len(items)} answered items are acceptable (need {lo}" + (f"..{hi}" if hi else "+") + ")"


def _replan(gold: dict, given: Any) -> tuple[bool, str]:
    k = int(gold.get("loop", 1))
    if not isinstance(given, dict):
        return False, "no replanning answer"
    if given.get("loop") is not None and int(given["loop"]) != k:
        return False, f"answer read at loop {given['loop']}, the task asks about loop {k}"
    if not given.get("replanned"):
        return False, f"no replanning after loop {k}: " + str(given.get("why") or "the run did not go on")
    ok, detail = _set(gold, given)
    return ok, f"after loop {k}: {detail}"


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
        if not got or not got.startswith(str(gold["valid_time"])[:16]):
            problems.append(f"valid_time {got!r} != {gold['valid_time']!r}")
    if "contains" in gold:
        ext = given.get("extent")
        lat, lon = gold["contains"]
        if not ext or not (ext[0] <= lon <= ext[1] and ext[2] <= lat <= ext[3]):
            problems.append(f"extent {ext} does not contain ({lat}, {lon})")
    return not problems, "; ".join(problems) or "all required fields match"


def _statuses(given: dict) -> tuple[set[str], set[str]]:
    """(accepted, refuted) hazard labels of a report answer."""
    if given.get("hypotheses") is not None:
        hyps = [h for h in given["hypotheses"] if isinstance(h, dict)]
        acc = {canonical_hazard(h["hazard"]) for h in hyps if h.get("status") == "supported"}
        ref = {canonical_hazard(h["hazard"]) for h in hyps if h.get("status") == "refuted"}
        return acc, ref
    return ({canonical_hazard(h) for h in given.get("accepted", [])},
            {canonical_hazard(h) for h in given.get("refuted", [])})


def _checklist(gold: dict, given: Any) -> tuple[bool, str]:
    if not isinstance(given, dict):
        return False, "no report"
    accepted, refuted = _statuses(given)
    acc_lineage = {a for h in accepted for a in hazard_lineage(h)}
    cited = {canonical_tool(t) for t in given.get("cited", [])}
    problems = [f"does not accept {h}" for h in gold.get("must_name", []) if canonical_hazard(h) not in acc_lineage]
    problems += [f"does not refute {h}" for h in gold.get("must_refute", [])
                 if not any(a in refuted for a in hazard_lineage(h))]
    problems += [f"accepts {h}" for h in gold.get("must_not_accept", []) if canonical_hazard(h) in acc_lineage]
    problems += [f"cites no {t}" for t in gold.get("must_cite", []) if canonical_tool(t) not in cited]
    return not problems, "; ".join(problems) or "checklist complete"


def _abstain(gold: dict, given: Any) -> tuple[bool, str]:
    want = gold.get("reason")
    want = [want] if isinstance(want, str) else list(want or [])
    if not isinstance(given, dict):
        return False, "no answer (an abstention with its reason was expected)"
    value = given.get("value")
    if value is not None:
        return False, f"gave {value!r} {given.get('units') or ''}".rstrip() + " where the data cannot answer"
    why = given.get("not_computable") or given.get("reason") or given.get("error") or given.get("note")
    cls = classify_reason(why)
    if cls is None:
        return False, "abstained without a recognisable reason" + (f" ({str(why)[:80]})" if why else "")
    return cls in want, f"abstained: {cls} (want {' or '.join(want)})"


def _loop(gold: dict, given: Any) -> tuple[bool, str]:
    """Replanning improved the diagnosis where it could: right at the first loop and kept,
    or wrong at the first loop and better (right, or the gold hazard's posterior moved
    toward the gold status by ``min_gain`` at no worse rank) at the last one. The gold
    status is ``supported`` (at rank <= ``max_rank``), ``refuted`` or ``not_supported``
    (anything but supported, not proposed included)."""
    loops = given.get("loops") if isinstance(given, dict) else None
    rows = sorted(loops or [], key=lambda r: r["loop"])
    if not rows:
        return False, "no loop ran"
    status, max_rank = gold.get("status", "supported"), int(gold.get("max_rank", 1))
    min_gain = float(gold.get("min_gain", 0.1))

    def right(r: dict) -> bool:
        if status == "not_supported":
            return r.get("gold_status") != "supported"
        if r.get("gold_status") != status:
            return False
        return status != "supported" or (r.get("gold_rank") is not None and int(r["gold_rank"]) <= max_rank)

    def toward(r: dict) -> float:
        p = r.get("gold_posterior")
        if status == "supported":
            return 0.0 if p is None else float(p)
        if p is None:  # refuted: not proposed is half way (a not_supported run is right when absent)
            return 0.5
        return 1.0 - float(p)

    def rank(r: dict) -> float:
        return float(r["gold_rank"]) if r.get("gold_rank") is not None else math.inf

    first, last = rows[0], rows[-1]
    if right(first):
        return right(last), (f"right at loop {first['loop']}, " +
                             ("kept" if right(last) else f"lost by loop {last['loop']}"))
    if len(rows) == 1:
        return False, f"wrong at loop {first['loop']} ({first.get('gold_status')}) and no replanning"
    if right(last):
        return True, f"wrong at loop {first['loop']}, right at loop {last['loop']}"
    gain = toward(last) - toward(first)
    ok = gain >= min_gain and rank(last) <= rank(first)
    return ok, (f"wrong at loop {first['loop']} and at loop {last['loop']}; moved {gain:+.2f} toward {status} "
                f"(need {min_gain:+.2f}), rank {first.get('gold_rank')} -> {last.get('gold_rank')}")


SCORERS = {"number": _number, "location": _location, "label": _label, "ranked": _ranked, "set": _set,
           "replan": _replan, "figure": _figure, "checklist": _checklist, "abstain": _abstain, "loop": _loop}


def score(answer: dict, given: Any) -> tuple[bool, str]:
    """Score ``given`` against the gold ``answer``; an unknown type lists the known ones."""
    kind = answer.get("type")
    if kind not in SCORERS:
        raise ValueError(f"unknown answer type {kind!r}; known types: {', '.join(SCORERS)}")
    return SCORERS[kind](answer, given)
