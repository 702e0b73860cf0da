"""The expert-knowledge store: the check, retrieval quality, and the cards'
conditions on real cases judged as a meteorologist would."""

from __future__ import annotations

from collections import defaultdict

import pytest

from hvrmet.knowledge import KnowledgeStore, default_store
from hvrmet.knowledge.check import REQUIRED_FAMILIES, check_knowledge
from hvrmet.knowledge.conditions import convert, evaluate_conditions
from hvrmet.knowledge.evaluate import evaluate_retrieval, load_queries

CONVECTIVE = {"tornadic_supercell", "supercell_large_hail", "large_hail", "damaging_wind", "derecho",
              "mesocyclone", "bow_echo", "mcs_cold_pool"}


def test_knowledge_check_passes():
    problems, stats = check_knowledge()
    assert not problems, "\n".join(problems)
    assert stats["cards"] >= 60
    assert set(REQUIRED_FAMILIES) <= set(stats["families"])


def test_cli_check(tmp_path):
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "hvrmet.cli", "knowledge", "check"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "knowledge check passed" in res.stdout


def test_check_catches_bad_cards(tmp_path):
    import shutil

    from hvrmet.knowledge.store import knowledge_dir

    root = tmp_path / "k"
    shutil.copytree(knowledge_dir(), root)
    card = root / "cards" / "index" / "sbcape.yaml"
    text = card.read_text()
    card.write_text(text.replace("field: sbcape, op", "field: sbcapee, op", 1)
                    .replace("units: J/kg, meaning", "units: J/kgg, meaning", 1))
    (root / "cards" / "index" / "dup.yaml").write_text(text)
    problems, _ = check_knowledge(root)
    joined = "\n".join(problems)
    assert "returns no field 'sbcapee'" in joined
    assert "duplicate card id 'idx-sbcape'" in joined


def test_check_catches_bad_signals(tmp_path):
    """A signal naming an unregistered tool, a field the tool does not return, units of
    another dimension or an argument the tool does not take, and a screening call of an
    unknown tool, are problems; a guideline signal without a definition is reported (not
    a problem: no detector shows it yet)."""
    import shutil

    from hvrmet.knowledge.store import knowledge_dir

    root = tmp_path / "k"
    shutil.copytree(knowledge_dir(), root)
    sig = root / "signals.yaml"
    text = sig.read_text()
    for old, new in [("tool: compute_vil, field: max_vil, op: '>=', value: 40, units: kg/m^2}",
                      "tool: compute_vil, field: max_vill, op: '>=', value: 40, units: kg/m^2}"),
                     ("tool: detect_convective_line, field: line_flag",
                      "tool: detect_convective_lines, field: line_flag"),
                     ("field: max_echo_top, op: '>=', value: 12, units: km}",
                      "field: max_echo_top, op: '>=', value: 12, units: kg}"),
                     ("tools: [describe_case_setting]", "tools: [describe_case_settings]")]:
        assert old in text, old
        text = text.replace(old, new, 1)
    old = "field: cell_count, op: '>=', value: 1, units: '1', args: {radius: 230}}"
    assert old in text
    text = text.replace(old, old.replace("{radius: 230}", "{radius: 230, radious: 1}"), 1)
    sig.write_text(text)
    problems, stats = check_knowledge(root)
    joined = "\n".join(problems)
    assert "compute_vil returns no field 'max_vill'" in joined
    assert "tool 'detect_convective_lines' is not registered" in joined
    assert "compute_echo_tops.max_echo_top: threshold units 'kg'" in joined
    assert "takes no argument(s) ['radious']" in joined
    assert "calls 'describe_case_settings', which is not a registered tool" in joined
    _, ok = check_knowledge()
    assert "hook_echo" in ok["undetected_signals"]["gl-tornadic-supercell"]
    assert all("convective_line" not in v for v in ok["undetected_signals"].values())


def test_retrieval_quality():
    store = default_store()
    assert len(load_queries()) >= 40
    res = evaluate_retrieval(store, k=5, mode="hybrid")
    assert res.recall_at_k >= 0.9, res.misses
    assert res.mrr > 0.6


def test_loading_and_search():
    """A fresh store loads and answers every labelled query with k ranked cards. (How fast:
    ``python tools/bench_knowledge.py``; no wall-clock limit here, the suite runs on busy
    machines.)"""
    store = KnowledgeStore()
    assert store.cards
    assert len(store.search("warm-up query about hail", k=5)) == 5
    for q in load_queries():
        hits = store.search(q["query"], k=5)
        assert 0 < len(hits) <= 5, q["query"]
        assert len({c.id for c, _ in hits}) == len(hits)  # no card twice
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True), q["query"]  # ranked best first
        assert all(c.id in store.by_id for c, _ in hits)


def test_selection():
    store = default_store()
    assert store.guideline("tornadic_supercell").id == "gl-tornadic-supercell"
    assert all("flash_flood" in c.hazards for c in store.select("flash_flood"))
    ranked = store.for_signals(["high_cape", "strong_deep_shear", "strong_low_level_helicity"])
    assert ranked and ranked[0].hazards[0] in CONVECTIVE | {"tornadic_supercell"}


def test_unit_conversion_in_conditions():
    assert convert(1.0, "km", "m") == 1000.0
    assert convert(10.0, "knot", "m/s") == pytest.approx(5.144, abs=1e-3)


def _verdicts(case: str) -> dict[str, set[str]]:
    """hazard -> meanings of the conditions met on the case."""
    out = defaultdict(set)
    for o in evaluate_conditions(default_store().cards, case):
        if o.met:
            out[o.condition.hazard].add(o.condition.meaning)
    return out


@pytest.mark.parametrize("case", ["may1999", "oun20110522"])
def test_tornado_environments_meet_tornadic_conditions(data_dir, case):
    v = _verdicts(case)
    assert "supports" in v["tornadic_supercell"]
    assert "refutes" not in v["tornadic_supercell"]
    assert "refutes" in v["no_severe_hazard"] or "refutes" in v["stable_environment"] \
        or not v["no_severe_hazard"] - {"refutes"}


@pytest.mark.parametrize("case", ["null-jan20", "null-dec9"])
def test_null_soundings_meet_no_convective_condition(data_dir, case):
    v = _verdicts(case)
    for hazard in CONVECTIVE:
        assert not ({"supports", "weakly_supports"} & v[hazard]), (hazard, v[hazard])
    assert "refutes" in v["tornadic_supercell"]
    assert "supports" in v["no_severe_hazard"] or "supports" in v["stable_environment"]
