"""Evidence accounting: each number counts once, the posterior is the printed sum, no
refutation without a met refuting condition; condition evaluation with unit conversion
and exact thresholds (hand calculations, independent of hvrmet's readers)."""

from __future__ import annotations

import math

import pytest

from hvrmet.agents.accounting import ledger, logistic, logit, number_key
from hvrmet.agents.state import Evidence, Hypothesis, Verdict
from hvrmet.knowledge import default_store
from hvrmet.knowledge.conditions import convert, evaluate_condition
from hvrmet.knowledge.model import Condition
from hvrmet.tools.results import ToolResult, Value

W = default_store().weights


def _v(field, meaning, met, card="c1", value=1.0, hid="H1", **kw):
    return Verdict(hypothesis_id=hid, hazard="tornadic_supercell", card=card, condition=f"{field} {meaning}",
                   field=field, op=">=", meaning=meaning, met=met, value=value, **kw)


def _ev(eid, tool, verdicts, args=None, files=None):
    return Evidence(id=eid, loop=1, tool=tool, arguments={"case": "x", **(args or {})}, ok=True,
                    verdicts=verdicts, files=files or [])


H = Hypothesis(id="H1", hazard="tornadic_supercell", statement="s", prior=0.4, posterior=0.4)


# -- condition evaluation -----------------------------------------------------------------------
@pytest.mark.parametrize("value, units, op, threshold, t_units, met", [
    (1000.0, "m", ">=", 1.0, "km", True),          # 1000 m is 1 km: met only after conversion
    (999.0, "m", ">=", 1.0, "km", False),
    (1.0, "km", "<", 1500.0, "m", True),           # 1 km < 1500 m; without conversion 1 < 1500 too ...
    (2.0, "km", "<", 1500.0, "m", False),          # ... but 2 km < 1500 m is false (2 < 1500 is true)
    (50.0, "knot", ">=", 25.0, "m/s", True),       # 50 kt = 25.72 m/s
    (48.0, "knot", ">=", 25.0, "m/s", False),      # 48 kt = 24.69 m/s
    (20.0, "degC", ">", 290.0, "K", True),         # 293.15 K
    (2.0, "inch", ">=", 5.0, "cm", True),          # 5.08 cm
    (1000.0, "J/kg", ">=", 1000.0, "J/kg", True),  # exactly at the threshold: >= is met ...
    (1000.0, "J/kg", ">", 1000.0, "J/kg", False),  # ... > is not
    (100.0, "J/kg", "<=", 100.0, "J/kg", True),
    (100.0, "J/kg", "<", 100.0, "J/kg", False),
    (3.0, "1", "==", 3.0, "1", True),
    (3.0, "1", "!=", 3.0, "1", False),
])
def test_condition_converts_units_and_respects_the_operator(value, units, op, threshold, t_units, met):
    cond = Condition(tool="t", field="f", op=op, value=threshold, units=t_units, meaning="supports", hazard="x")
    out = evaluate_condition("card", cond, ToolResult(tool="t", arguments={}, ok=True,
                                                      values={"f": Value(value=value, units=units)}))
    assert out.met is met
    assert out.units == t_units


def test_conversion_by_hand():
    assert convert(1000.0, "m", "km") == pytest.approx(1.0)
    assert convert(50.0, "knot", "m/s") == pytest.approx(50 * 1852 / 3600)
    assert convert(20.0, "degC", "K") == pytest.approx(293.15)
    assert convert(7.0, "K/km", "delta_degC/km") == pytest.approx(7.0)


def test_not_computable_carries_the_tools_reason():
    cond = Condition(tool="t", field="shear_0_6km", op=">=", value=10, units="m/s", meaning="supports", hazard="x")
    res = ToolResult(tool="t", arguments={}, ok=True,
                     values={"shear_0_6km": Value(value=None, units="m/s", note="winds end at 5.6 km")})
    out = evaluate_condition("card", cond, res)
    assert out.met is None and out.reason == "not computable: winds end at 5.6 km"
    err = evaluate_condition("card", cond, ToolResult(tool="t", arguments={}, ok=False, error="no sounding"))
    assert err.met is None and "no sounding" in err.reason


# -- the ledger ------------------------------------------------------------------------------------
def test_one_number_counts_once_however_many_cards_state_it():
    ev = _ev("E1", "compute_downdraft_cape", [_v("dcape", "supports", True, card="a"),
                                              _v("dcape", "supports", True, card="b"),
                                              _v("dcape", "weakly_supports", True, card="c")])
    led = ledger(H, [ev], W)
    counted = led.counted()
    assert len(counted) == 1 and counted[0].weight == W.meanings.supports
    assert sum(1 for c in led.contributions if "same number" in c.note) == 2
    assert led.total == pytest.approx(logit(0.4) + W.meanings.supports)
    assert led.posterior == pytest.approx(logistic(logit(0.4) + W.meanings.supports), abs=1e-4)


def test_the_same_call_in_two_evidence_items_is_one_number():
    a = _ev("E0-S1", "compute_sbcape", [_v("sbcape", "supports", True)])
    b = _ev("E1-H1-1", "compute_sbcape", [_v("sbcape", "supports", True, card="c2")])
    assert number_key(a, "sbcape") == number_key(b, "sbcape")
    assert len(ledger(H, [a, b], W).counted()) == 1
    other = _ev("E1-H1-2", "compute_sbcape", [_v("sbcape", "supports", True)], args={"parcel": "ml"})
    assert len(ledger(H, [a, other], W).counted()) == 2  # another call is another number


def test_refuting_outweighs_and_unmet_support_counts_once():
    ev = _ev("E1", "compute_tornado_parameter", [_v("stp", "supports", True, card="a"),
                                                 _v("stp", "refutes", True, card="b")])
    c = ledger(H, [ev], W).counted()
    assert [x.meaning for x in c] == ["refutes"] and c[0].weight == W.meanings.refutes
    unmet = _ev("E2", "compute_helicity", [_v("srh_0_1km", "supports", False, card="a"),
                                           _v("srh_0_1km", "supports", False, card="b"),
                                           _v("srh_0_1km", "refutes", False, card="c")])
    led = ledger(H, [unmet], W)
    assert [x.weight for x in led.counted()] == [W.unmet_support]
    assert led.refuting == [] and led.tested == 1


def test_not_computable_is_recorded_and_tests_nothing():
    ev = _ev("E1", "compute_bulk_shear", [_v("shear_0_6km", "refutes", None, reason="not computable: winds end at 5.6 km")])
    led = ledger(H, [ev], W)
    assert led.counted() == [] and led.tested == 0
    assert led.not_computable == ["compute_bulk_shear.shear_0_6km: not computable: winds end at 5.6 km"]
    assert led.posterior == pytest.approx(logistic(logit(0.4)), abs=1e-4)


def test_pieces_aspects_and_sources():
    files = [{"path": "s.txt", "sha256": "abc", "role": "sounding"}]
    ev = [_ev("E1", "compute_sbcape", [_v("sbcape", "supports", True)], files=files),
          _ev("E2", "compute_helicity", [_v("srh_0_3km", "weakly_supports", True)], files=files),
          _ev("E3", "detect_rotation", [_v("max_rotational_velocity", "weakly_supports", True)],
              files=[{"path": "v.gz", "sha256": "def", "role": "radar_volume"}]),
          _ev("E4", "describe_case_setting", [_v("tropical_cyclone_exposure", "weakly_supports", True)])]
    led = ledger(H, ev, W)
    assert led.pieces == pytest.approx(1 + 0.5 + 0.5 + 0.5)
    assert led.strong_pieces == 1
    assert led.aspects == ["environment", "storm_scale_radar"]  # the setting is not an independent aspect
    assert led.sources == ["abc", "def"]


def test_competing_hazard_refutes_the_null_as_its_own_term():
    null = Hypothesis(id="H2", hazard="no_severe_hazard", statement="s", prior=0.3, posterior=0.3)
    sup = Hypothesis(id="H1", hazard="tornadic_supercell", statement="s", prior=0.5, posterior=0.99,
                     status="supported", evidence_ids=["E1"])
    led = ledger(null, [], W, competing=[sup])
    assert led.refuting == ["E1"] and led.counted()[0].weight == W.competing_supported
    assert led.total == pytest.approx(led.check_sum())


def test_statuses_follow_the_rules():
    from hvrmet.agents.brain import BrainContext
    from hvrmet.agents.expert import ExpertPolicy

    pol = ExpertPolicy()
    ctx = BrainContext(case="x", roles=["sounding", "radar_volume"], time="", location={}, loop=1)
    # no evidence, nothing pending: not assessed, never refuted
    led = ledger(H, [], W)
    assert pol._status(H, led, ctx, [])[0] == "not_assessed"
    # a low posterior without a met refuting condition is not a refutation
    low = H.model_copy(update={"prior": 0.05})
    ev = [_ev("E1", "compute_sbcape", [_v("sbcape", "supports", False)])]
    assert pol._status(low, ledger(low, ev, W), ctx, [])[0] == "inconclusive"
    # a met refuting condition refutes
    ev = [_ev("E1", "compute_bulk_shear", [_v("shear_0_6km", "refutes", True)])]
    assert pol._status(H, ledger(H, ev, W), ctx, [])[0] == "refuted"
    # strong environment alone, with radar data in the case: not supported (one aspect of two)
    env = [_ev(f"E{i}", t, [_v(f, "supports", True)]) for i, (t, f) in enumerate(
        [("compute_sbcape", "sbcape"), ("compute_mlcape", "mlcape"), ("compute_helicity", "srh_0_1km"),
         ("compute_tornado_parameter", "stp")])]
    led = ledger(H, env, W)
    assert led.posterior >= W.supported_at and led.pieces >= W.min_pieces
    status, why = pol._status(H, led, ctx, [])
    assert status == "inconclusive" and "aspect" in why
    # the same with radar rotation: supported from two aspects
    both = env + [_ev("E9", "detect_rotation", [_v("max_rotational_velocity", "weakly_supports", True)])]
    status, why = pol._status(H, ledger(H, both, W), ctx, [])
    assert status == "supported" and "2 aspects" in why
    # a case with only a sounding: the one aspect it has is enough, and the status says so
    ctx1 = BrainContext(case="x", roles=["sounding"], time="", location={}, loop=1)
    status, why = pol._status(H, led, ctx1, [])
    assert status == "supported" and "one aspect only (environment)" in why


def test_weights_are_data_and_checked(tmp_path):
    import shutil

    from hvrmet.knowledge.check import check_knowledge
    from hvrmet.knowledge.store import knowledge_dir

    root = tmp_path / "k"
    shutil.copytree(knowledge_dir(), root)
    assert check_knowledge(root)[0] == []
    w = (root / "weights.yaml").read_text()
    (root / "weights.yaml").write_text(w.replace("refutes: -2.5", "refutes: 2.5"))
    problems, _ = check_knowledge(root)
    assert any("weights.yaml" in p and "meanings.refutes" in p for p in problems)
    (root / "weights.yaml").write_text(w.replace("  context: setting\n", ""))
    assert any("tool category 'context' has no aspect" in p for p in check_knowledge(root)[0])


def test_parent_conditions_reach_children_and_orphan_conditions_fail_the_check(tmp_path):
    import shutil

    from hvrmet.agents.evidence import bears_on
    from hvrmet.knowledge.check import check_knowledge
    from hvrmet.knowledge.store import knowledge_dir

    assert bears_on("supercell_large_hail", "large_hail")   # the hail index reaches supercell hail
    assert not bears_on("large_hail", "supercell_large_hail")  # not the other way
    assert bears_on("derecho", "damaging_wind")
    root = tmp_path / "k"
    shutil.copytree(knowledge_dir(), root)
    card = root / "cards" / "index" / "vil.yaml"
    card.write_text(card.read_text().replace("hazard: large_hail", "hazard: heat_dome", 1))
    problems, _ = check_knowledge(root)
    assert not any("used by no guideline" in p for p in problems)  # heat_dome is a guideline label
    hz = root / "hazards.yaml"
    hz.write_text(hz.read_text() + "  - id: orphan_hazard\n    family: heat_wave\n    kind: hazard\n"
                                   "    description: a label no guideline card uses\n")
    card.write_text(card.read_text().replace("hazard: heat_dome", "hazard: orphan_hazard", 1))
    assert any("'orphan_hazard' is used by no guideline card" in p for p in check_knowledge(root)[0])


def test_logit_logistic_round_trip():
    for p in (0.01, 0.2, 0.5, 0.9):
        assert logistic(logit(p)) == pytest.approx(p)
    assert logit(0.0) == pytest.approx(math.log(1e-3 / (1 - 1e-3)))
