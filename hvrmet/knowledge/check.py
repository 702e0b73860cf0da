"""``hvrmet knowledge check``: every card valid, testable and cited."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hvrmet.knowledge.model import LIBRARIES
from hvrmet.errors import HvrmetError
from hvrmet.knowledge.store import KnowledgeError, knowledge_dir, load_cards, load_hazards

__all__ = ["check_knowledge", "REQUIRED_FAMILIES", "MIN_CARDS"]

MIN_CARDS = 60
#: Hazard families that must each have a guideline card and index cards.
REQUIRED_FAMILIES = ("tornadic_supercell", "supercell_hail", "damaging_wind", "flash_flood",
                     "tropical_cyclone", "extratropical_cyclone", "heat_wave", "winter_storm",
                     "null")


def _units_ok(text: str) -> str | None:
    from hvrmet.units import parse_units

    try:
        parse_units(text, name="units")
    except ValueError as exc:
        return f"units {text!r} do not parse: {exc}"
    return None


def _dimension_problem(cond_units: str, tool_units: str) -> str | None:
    from hvrmet.units import parse_units

    try:
        a, b = parse_units(cond_units or "", name="units"), parse_units(tool_units or "", name="units")
    except ValueError:
        return None  # reported by _units_ok
    if a.dimensionality != b.dimensionality:
        return f"threshold units {cond_units!r} do not convert from the tool's {tool_units!r}"
    return None


def _reading_problems(where: str, tools: dict, name: str, field: str, units: str, value, args: dict,
                      *, per_call_units: bool = False) -> list[str]:
    """What is wrong with a condition or a signal reading ``field`` of tool ``name``: the
    tool is not registered, it returns no such field, the units do not parse or do not
    convert from the field's, it takes no such argument. With ``per_call_units`` a field
    declared without units (its units come with each call: a Level III product's values)
    is not checked for dimension."""
    t = tools.get(name)
    if t is None:
        return [f"{where}: tool {name!r} is not registered"]
    if field not in t.outputs:
        return [f"{where}: {name} returns no field {field!r} (it returns {', '.join(t.outputs)})"]
    problems = []
    declared = t.outputs[field]
    if msg := _units_ok(units):
        problems.append(f"{where}: {msg}")
    elif (not isinstance(value, (bool, str)) and (declared or not per_call_units)
          and (msg := _dimension_problem(units, declared))):
        problems.append(f"{where}: {name}.{field}: {msg}")
    bad_args = set(args or {}) - set(t.input_model.model_fields)
    if bad_args:
        problems.append(f"{where}: {name} takes no argument(s) {sorted(bad_args)}")
    return problems


def check_knowledge(root: Path | None = None) -> tuple[list[str], dict]:
    """Check the cards; returns ``(problems, stats)``. No problems means the check passed."""
    from hvrmet.tools import list_tools

    problems: list[str] = []
    try:
        hazards = load_hazards(root)
        cards = load_cards(root)
    except KnowledgeError as exc:
        return [str(exc)], {}
    tools = {t.name: t for t in list_tools()}
    dup = [i for i, n in Counter(c.id for c in cards).items() if n > 1]
    problems += [f"duplicate card id {i!r}" for i in dup]
    for c in cards:
        where = f"{Path(c.source_path or '').name} ({c.id})"
        for h in c.hazards:
            if h not in hazards:
                problems.append(f"{where}: hazard {h!r} is not in hazards.yaml")
        if c.units and (msg := _units_ok(c.units)):
            problems.append(f"{where}: {msg}")
        if c.library == "index" and not c.quantity:
            problems.append(f"{where}: index card without a quantity")
        if c.library == "guideline" and not c.checks:
            problems.append(f"{where}: guideline card without checks")
        if c.library == "figure" and not c.figure_kind:
            problems.append(f"{where}: figure card without figure_kind")
        for name in c.checks:
            if name not in tools:
                problems.append(f"{where}: check {name!r} is not a registered tool")
        for r in c.references:
            if not (r.author.strip() and r.title.strip() and r.venue.strip()):
                problems.append(f"{where}: incomplete reference {r}")
        for cond in c.conditions:
            if cond.hazard not in hazards:
                problems.append(f"{where}: condition hazard {cond.hazard!r} is not in hazards.yaml")
            problems += _reading_problems(where, tools, cond.tool, cond.field, cond.units,
                                          cond.value, cond.args)
    # the hazard taxonomy: parents exist, in the same family, without cycles
    for h in hazards.values():
        if h.parent is None:
            continue
        if h.parent not in hazards:
            problems.append(f"hazards.yaml: {h.id}: parent {h.parent!r} is not a hazard label")
        elif hazards[h.parent].family != h.family:
            problems.append(f"hazards.yaml: {h.id}: parent {h.parent} is in family {hazards[h.parent].family}, "
                            f"not {h.family}")
        seen, p = {h.id}, h.parent
        while p in hazards and p not in seen:
            seen.add(p)
            p = hazards[p].parent
        if p in seen:
            problems.append(f"hazards.yaml: {h.id}: the parent chain loops")
    # every condition's hazard must be one a guideline uses, or a parent of one (its
    # conditions then reach the guideline's label)
    used = {label for c in cards if c.library == "guideline" for label in c.hazards}
    reach = set(used)
    for label in used:
        p = hazards[label].parent if label in hazards else None
        while p and p not in reach:
            reach.add(p)
            p = hazards[p].parent if p in hazards else None
    for c in cards:
        for cond in c.conditions:
            if cond.hazard in hazards and cond.hazard not in reach:
                problems.append(f"{Path(c.source_path or '').name} ({c.id}): condition hazard {cond.hazard!r} is "
                                "used by no guideline card (nor is it a parent of one): no hypothesis would see it")
    try:
        from hvrmet.knowledge.weights import load_weights

        weights = load_weights(root or knowledge_dir())
    except HvrmetError as exc:
        problems.append(str(exc))
    else:
        categories = {t.category for t in tools.values()}
        for cat in sorted(categories - set(weights.aspects) - {"plot"}):
            problems.append(f"weights.yaml: tool category {cat!r} has no aspect")
        for name in sorted(set(weights.tool_aspects) - set(tools)):
            problems.append(f"weights.yaml: tool_aspects names {name!r}, which is not a registered tool")
    if len(cards) < MIN_CARDS:
        problems.append(f"only {len(cards)} cards (at least {MIN_CARDS} required)")
    families = {h.family for h in hazards.values()}
    for fam in REQUIRED_FAMILIES:
        if fam not in families:
            problems.append(f"hazard family {fam!r} is missing from hazards.yaml")
            continue
        fam_cards = [c for c in cards if any(hazards.get(h) and hazards[h].family == fam for h in c.hazards)]
        if not any(c.library == "guideline" for c in fam_cards):
            problems.append(f"hazard family {fam!r} has no guideline card")
        if not any(c.library == "index" for c in fam_cards):
            problems.append(f"hazard family {fam!r} has no index card")
    defined, sig_problems = _signal_definitions(root or knowledge_dir(), tools)
    problems += sig_problems
    undetected = {c.id: [s for s in c.signals if s not in defined] for c in cards if c.library == "guideline"}
    stats = {"cards": len(cards), **{lib: sum(c.library == lib for c in cards) for lib in LIBRARIES},
             "conditions": sum(len(c.conditions) for c in cards), "hazards": len(hazards),
             "families": sorted(families), "undetected_signals": {k: v for k, v in undetected.items() if v}}
    return problems, stats


def _signal_definitions(root: Path, tools: dict) -> tuple[set[str], list[str]]:
    """The signal ids ``signals.yaml`` defines, and its problems: a signal or a screening
    call naming a tool that is not registered, a field the tool does not return, units that
    do not convert, arguments the tool does not take (such a signal would never fire)."""
    from hvrmet._resources import load_yaml

    path = root / "signals.yaml"
    if not path.is_file():
        return set(), [f"{path}: no signals.yaml"]
    data = load_yaml(path.read_text()) or {}
    problems, ids = [], set()
    for sd in data.get("signals", []):
        sid = sd.get("id", "?")
        ids.add(sid)
        problems += _reading_problems(f"signals.yaml: signal {sid!r}", tools, sd.get("tool", ""), sd.get("field", ""),
                                      str(sd.get("units", "")), sd.get("value"), sd.get("args") or {},
                                      per_call_units=True)
    for entry in data.get("screening", []):
        for call in entry.get("tools", []):
            name = call if isinstance(call, str) else call.get("tool", "")
            if name not in tools:
                problems.append(f"signals.yaml: screening of {entry.get('role')!r} calls {name!r}, "
                                "which is not a registered tool")
    return ids, problems
