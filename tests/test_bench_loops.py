"""Every loop scored, and the answers the harness reads from a run, on written run states
(no data, no diagnosis): per-loop hypotheses, checks, status directions and information
gain; replanning read at its loop; reports naming only accepted hazards; the diagnosis's
"not computable" records; the per-loop table and ``hvrmet bench compare``."""

from __future__ import annotations

import json

from hvrmet.benchmark.report import compare, compare_markdown, markdown
from hvrmet.benchmark.runner import (_diagnosis_abstention, _loop_answer, _replan_answer, _report_answer, hypotheses_at,
                                     loop_table, per_loop, summarize)
from hvrmet.benchmark.scorers import score
from hvrmet.benchmark.tasks import Task


def _ev(eid, loop, tool, hyp="", ok=True, values=None, verdicts=(), warnings=()):
    return {"id": eid, "loop": loop, "tool": tool, "arguments": {"case": "c"}, "ok": ok, "for_hypothesis": hyp,
            "values": values if values is not None else {"x": {"value": 1.0, "units": ""}},
            "verdicts": list(verdicts), "warnings": list(warnings), "seconds": 0.5}


def _state(replans=True):
    """Loop 1: tornado inconclusive behind 'no severe hazard'; loop 2 (after replanning):
    tornado supported and first, the null refuted."""
    hyps = [{"id": "H1", "hazard": "no_severe_hazard", "prior": 0.5, "posterior": 0.05, "status": "refuted",
             "loop_proposed": 1, "evidence_ids": ["E1-H1-1"], "ledger": {"not_computable": []}},
            {"id": "H2", "hazard": "tornadic_supercell", "prior": 0.3, "posterior": 0.95, "status": "supported",
             "loop_proposed": 1, "evidence_ids": ["E1-H2-1", "E2-H2-1"],
             "ledger": {"not_computable": ["compute_bulk_shear.shear_0_6km: not computable: wind reaches only 3100 m "
                                           "above ground"]}},
            {"id": "H3", "hazard": "large_hail", "prior": 0.2, "posterior": 0.3, "status": "inconclusive",
             "loop_proposed": 2, "evidence_ids": []}]
    d1 = {"loop": 1, "action": "continue" if replans else "stop", "reason": "more checks",
          "new_checks": {"H2": ["detect_rotation"]} if replans else {}, "new_hypotheses": ["H3"] if replans else [],
          "status_changes": {"H1": "proposed->inconclusive", "H2": "proposed->inconclusive"},
          "posteriors": {"H1": 0.6, "H2": 0.55},
          "checks": [{"hypothesis": "H1", "evidence": "E1-H1-1", "tool": "compute_sbcape", "did": ""},
                     {"hypothesis": "H2", "evidence": "E1-H2-1", "tool": "compute_helicity", "did": ""}]}
    d2 = {"loop": 2, "action": "stop", "reason": "settled", "new_checks": {},
          "status_changes": {"H1": "inconclusive->refuted", "H2": "inconclusive->supported",
                             "H3": "proposed->inconclusive"},
          "posteriors": {"H1": 0.05, "H2": 0.95, "H3": 0.3},
          "checks": [{"hypothesis": "H2", "evidence": "E2-H2-1", "tool": "detect_rotation", "did": ""}]}
    ev = [_ev("E0-S1", 0, "summarize_sounding"), _ev("E1-H1-1", 1, "compute_sbcape", "H1"),
          _ev("E1-H2-1", 1, "compute_helicity", "H2"),
          _ev("E1-H2-2", 1, "compute_bulk_shear", "H2", values={"shear_0_6km": {"value": None, "units": "m/s"}},
              verdicts=[{"field": "shear_0_6km", "met": None, "reason": "not computable: not computable from this "
                                                                          "sounding: shear_0_6km"}],
              warnings=["wind reaches only 3100 m above ground"])]
    if replans:
        ev.append(_ev("E2-H2-1", 2, "detect_rotation", "H2"))
    else:
        hyps = [{**h, "status": "inconclusive", "posterior": {"H1": 0.6, "H2": 0.55}.get(h["id"])} for h in hyps[:2]]
    return {"hypotheses": hyps, "decisions": [d1, d2] if replans else [d1], "evidence": ev,
            "report": {"summary": "Tornadic supercell is supported. Refuted: no severe hazard."}}


def _task(cat, target, answer):
    return Task.model_validate({"id": "t", "category": cat, "case": "c", "question": "?", "target": target,
                                "answer": answer})


def test_hypotheses_at_a_loop_rank_by_status_then_posterior():
    s = _state()
    assert [(h["hazard"], h["status"]) for h in hypotheses_at(s, 1)] == [
        ("no_severe_hazard", "inconclusive"), ("tornadic_supercell", "inconclusive")]   # H3 not yet proposed
    assert [h["hazard"] for h in hypotheses_at(s)] == ["tornadic_supercell", "large_hail", "no_severe_hazard"]
    assert hypotheses_at(s, 2)[0]["posterior"] == 0.95


def test_per_loop_scores_every_loop():
    rows = per_loop(_state(), {"tornadic_supercell": "supported", "no_severe_hazard": "refuted"})
    one, two = rows
    assert one["loop"] == 1 and one["gold_rank"] == 2 and one["gold_posterior"] == 0.55
    assert one["hypotheses_ok"] and one["checks_planned"] == 2 and one["checks_valid"] == 2 and one["checks_ok"]
    assert one["right_changes"] == 0 and one["wrong_changes"] == 0 and one["direction_ok"] and one["passed"]
    assert one["gain"] is None and one["entropy"] is not None and one["delta_entropy"] is None
    assert two["gold_rank"] == 1 and two["gain"] == 0.4 and two["delta_rank"] == 1
    assert two["right_changes"] == 2 and two["wrong_changes"] == 0 and two["checks_planned"] == 1
    assert two["checks_valid"] == 1 and two["passed"] and two["verdict_correct"]
    assert two["delta_entropy"] == round(two["entropy"] - one["entropy"], 4)
    assert one["tool_calls"] == 4 and two["tool_calls"] == 1    # screening counts in loop 1
    # a wrong direction, an accepted gold-refuted hazard, a failed check
    bad = per_loop(_state(), {"tornadic_supercell": "refuted"})
    assert bad[1]["wrong_changes"] == 1 and not bad[1]["direction_ok"] and not bad[1]["hypotheses_ok"]
    s = _state()
    s["evidence"][-1]["ok"] = False
    assert not per_loop(s, ["tornadic_supercell"])[1]["checks_ok"]
    # one call planned for two hypotheses runs once, for the first: it is valid for both
    s = _state()
    s["decisions"][0]["new_checks"]["H1"] = ["detect_rotation"]
    assert per_loop(s, ["tornadic_supercell"])[1]["checks_planned"] == 2
    assert per_loop(s, ["tornadic_supercell"])[1]["checks_valid"] == 2
    # ... but not a call that ran for no hypothesis of the run (screening, the forecaster's), nor an earlier loop's
    s["evidence"][-1]["for_hypothesis"] = "forecaster"
    assert per_loop(s, ["tornadic_supercell"])[1]["checks_valid"] == 0
    s = _state()
    s["evidence"][-1]["loop"] = 1
    assert per_loop(s, ["tornadic_supercell"])[1]["checks_valid"] == 0
    ns = per_loop(_state(), {"large_hail": "not_supported"})
    assert ns[0]["gold_rank"] is None and ns[1]["right_changes"] == 0 and ns[1]["hypotheses_ok"]
    assert per_loop(_state(), {"tornadic_supercell": "supported"}, gold_status="refuted")[1]["wrong_changes"] == 1


def test_loop_task_improvement_and_no_replanning():
    gold = {"type": "loop", "hazard": "tornadic_supercell", "status": "supported"}
    t = _task("loop", {"hazard": "tornadic_supercell"}, gold)
    assert score(gold, _loop_answer(t, _state()))[0]                 # replanning took it from rank 2 to supported first
    ok, detail = score(gold, _loop_answer(t, _state(replans=False)))
    assert not ok and "no replanning" in detail


def test_replanning_is_read_at_its_loop():
    gold = {"type": "replan", "loop": 1, "members": ["detect_rotation", "compute_helicity"], "min": 1,
            "vocabulary": "tool"}
    t = _task("replanning", {"hazard": "tornado", "loop": 1}, gold)
    ans = _replan_answer(t, _state())
    assert ans == {"loop": 1, "replanned": True, "members": ["detect_rotation"], "hypothesis": "H2"}
    assert score(gold, ans)[0]
    never = _replan_answer(t, _state(replans=False))
    assert not never["replanned"] and "stopped after loop 1" in never["why"] and not score(gold, never)[0]
    later = _replan_answer(_task("replanning", {"hazard": "tornado", "loop": 3}, gold), _state())
    assert not later["replanned"] and "loop 3 did not happen" in later["why"]
    last = _replan_answer(_task("replanning", {"hazard": "tornado", "loop": 2}, gold), _state())
    assert not last["replanned"]


def test_report_and_hypothesis_and_verification_answers():
    s = _state()
    rep = _report_answer(s)
    assert rep["cited"] == ["compute_helicity", "compute_sbcape", "detect_rotation"]
    assert score({"type": "checklist", "must_name": ["tornado"], "must_refute": ["no_severe_hazard"],
                  "must_not_accept": ["large_hail"], "must_cite": ["srh_0_1km"]}, rep)[0]
    assert not score({"type": "checklist", "must_name": ["large_hail"]}, rep)[0]   # open, not accepted
    hyp = _loop_answer(_task("hypothesis", {"hazard": "tornadic_supercell", "loop": 1},
                             {"type": "ranked", "value": "tornadic_supercell"}), s)
    assert hyp["value"] == "no_severe_hazard" and not score({"type": "ranked", "value": "tornado"}, hyp)[0]
    ver = _loop_answer(_task("verification", {"hazard": "tornado"}, {"type": "label", "value": "supported"}), s)
    assert ver == {"value": "supported"}
    assert _loop_answer(_task("verification", {"hazard": "heat_wave"}, {"type": "label", "value": "x"}), s) == {
        "value": "not proposed"}


def test_the_diagnosis_not_computable_record():
    s = _state()
    t = _task("abstention", {"hazard": "tornadic_supercell", "quantity": "shear_0_6km"},
              {"type": "abstain", "reason": ["missing_layer"]})
    given = _diagnosis_abstention(t, s)
    assert given["value"] is None and "wind reaches only 3100 m" in given["note"]
    assert score(t.answer, given)[0]
    helicity = _task("abstention", {"hazard": "tornadic_supercell", "quantity": "x"}, t.answer)
    assert _diagnosis_abstention(helicity, s) == {"value": 1.0, "units": ""}
    assert _diagnosis_abstention(_task("abstention", {"hazard": "tornado", "quantity": "nothing"}, t.answer), s) is None


def _rows(passes, loops):
    return [{"id": f"t{i}", "category": cat, "passed": ok, "answer_type": "loop", "loops": loops}
            for i, (cat, ok) in enumerate(passes)]


def test_loop_table_report_and_compare(tmp_path):
    loops = per_loop(_state(), ["tornadic_supercell"])
    a = _rows([("loop", False), ("index", True)], loops[:1])
    b = _rows([("loop", True), ("index", True)], loops)
    table = loop_table(b)
    assert set(table) == {"1", "2"} and table["2"]["pass_rate"] == 1.0 and table["2"]["gain"] == 0.4
    s = summarize(b)
    assert s["by_category"]["loop"]["pass_rate"] == 1.0 and s["by_answer_type"]["loop"]["tasks"] == 2
    md = markdown(s)
    assert "| loop | entries | loop passed |" in md and "| 2 | 1 | 1.00 |" in md
    for name, rows in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    cmp = compare(tmp_path / "a", tmp_path / "b")
    loop_row = next(r for r in cmp["rows"] if r["what"] == "category loop")
    assert loop_row["a"] == 0.0 and loop_row["b"] == 1.0 and loop_row["delta"] == 1.0
    assert any(r["what"] == "loop 2" and r["a"] is None for r in cmp["rows"])
    assert cmp["gained"] == ["t0"] and cmp["lost"] == []
    text = compare_markdown(cmp)
    assert "| category loop | pass rate | 0.00 | 1.00 | +1.00 | 1, 1 |" in text
    assert "1 task(s) pass only in B" in text
