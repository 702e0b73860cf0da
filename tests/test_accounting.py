"""Evidence accounting: each number counts once, the posterior is the printed sum, no
refutation without a met refuting condition; condition evaluation with unit conversion
and exact thresholds (hand calculations, independent of hvrmet's readers)."""

from __future__ import annotations

import math

import pytest

from hvrmet.agents.accounting import ledger, logistic, logit, number_key, quantity_key
from hvrmet.agents.state import Evidence, Hypothesis, Verdict
from hvrmet.knowledge import default_store
from hvrmet.knowledge.conditions import convert, evaluate_condition, evaluate_conditions
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


def _max_refl(eid, radius, value, lat, widened=None):
    ev = _ev(eid, "find_max_reflectivity", [_v("max_reflectivity", "weakly_supports", True, value=value)],
             args={"radius": radius}, files=[{"path": "v.ar2", "sha256": "f00d", "role": "radar_volume"}])
    ev.values = {"max_reflectivity": {"value": value, "units": "dBZ"},
                 "max_reflectivity_lat": {"value": lat, "units": "degree_north"},
                 "max_reflectivity_lon": {"value": -101.8, "units": "degree_east"},
                 "window_radius": {"value": radius, "units": "km"},
                 "window_center_lat": {"value": 33.65, "units": "degree_north"}}
    ev.widened_from = widened
    return ev


def test_a_wider_search_that_finds_the_same_maximum_measured_it_once():
    near = _max_refl("E0-S2", 75.0, 60.0, 33.5477)
    wide = _max_refl("E2-H1-1", 150.0, 60.0, 33.5477, widened=75.0)
    counted = ledger(H, [wide, near], W).counted()
    # one term, the unscaled one of the storm-scale window
    assert [(c.evidence_id, c.weight, c.scale) for c in counted] == [("E0-S2", W.meanings.weakly_supports, 1.0)]
    # the wider window's maximum elsewhere (another gate) is another number, weighed less
    other = _max_refl("E2-H1-1", 150.0, 60.0, 34.6, widened=75.0)
    counted = ledger(H, [near, other], W).counted()
    assert sorted(c.weight for c in counted) == pytest.approx(
        sorted([W.meanings.weakly_supports, W.meanings.weakly_supports * W.wider_window]))
    # so is another value at the same place, and the same value from another file
    assert len(ledger(H, [near, _max_refl("E2-H1-1", 150.0, 61.0, 33.5477, widened=75.0)], W).counted()) == 2
    moved = _max_refl("E2-H1-1", 150.0, 60.0, 33.5477, widened=75.0)
    moved.files = [{"path": "w.ar2", "sha256": "beef", "role": "radar_volume"}]
    assert len(ledger(H, [near, moved], W).counted()) == 2


def _composite(eid, radius, value, lat, sha="f00d"):
    ev = _ev(eid, "compute_composite_reflectivity",
             [_v("max_composite_reflectivity", "supports", True, card="c2", value=value)],
             files=[{"path": "v.ar2", "sha256": sha, "role": "radar_volume"}])
    ev.values = {"max_composite_reflectivity": {"value": value, "units": "dBZ"},
                 "max_lat": {"value": lat, "units": "degree_north"},  # the grid cell's centre, not the gate
                 "max_lon": {"value": -101.79, "units": "degree_east"},
                 "window_radius": {"value": radius, "units": "km"},
                 "window_center_lat": {"value": 33.65, "units": "degree_north"}}
    return ev


def test_the_composite_maximum_and_the_strongest_gate_are_one_number():
    """The column-maximum composite's largest value is the volume's strongest gate (the
    registry declares both one quantity): two cards on the two tools count it once."""
    gate = _max_refl("E1-H1-1", 75.0, 35.5, 33.5477)
    comp = _composite("E1-H1-2", 75.0, 35.5, 33.551)
    led = ledger(H, [gate, comp], W)
    counted = led.counted()
    assert len(counted) == 1 and counted[0].meaning == "supports" and counted[0].weight == W.meanings.supports
    assert led.pieces == 1.0
    same = [c for c in led.contributions if not c.counted]
    assert len(same) == 1 and same[0].note.startswith("same number as")
    # another value, another window or another file: two numbers
    assert len(ledger(H, [gate, _composite("E1-H1-2", 75.0, 36.0, 33.551)], W).counted()) == 2
    assert len(ledger(H, [gate, _composite("E1-H1-2", 150.0, 35.5, 33.551)], W).counted()) == 2
    assert len(ledger(H, [gate, _composite("E1-H1-2", 75.0, 35.5, 33.551, sha="beef")], W).counted()) == 2
    # joined transitively: the widened search found the gate's number, the composite the
    # same number by the other tool; all three are one term, whatever their order
    wide = _max_refl("E2-H1-1", 150.0, 35.5, 33.5477, widened=75.0)
    for evs in ([gate, comp, wide], [wide, comp, gate], [comp, wide, gate]):
        counted = ledger(H, evs, W).counted()
        assert [(c.evidence_id, c.weight) for c in counted] == [("E1-H1-2", W.meanings.supports)], evs
    # evidence that names no file is never joined by its value alone
    bare = _composite("E1-H1-2", 75.0, 35.5, 33.551)
    bare.files = []
    nofile = _max_refl("E1-H1-1", 75.0, 35.5, 33.5477)
    nofile.files = []
    assert len(ledger(H, [nofile, bare], W).counted()) == 2
    # a field that declares no quantity is never joined across tools
    other = _ev("E1-H1-3", "compute_echo_tops", [_v("max_echo_top", "supports", True, value=35.5)],
                files=[{"path": "v.ar2", "sha256": "f00d", "role": "radar_volume"}])
    other.values = {"max_echo_top": {"value": 35.5, "units": "dBZ"}, "window_radius": {"value": 75.0, "units": "km"},
                    "window_center_lat": {"value": 33.65, "units": "degree_north"}}
    assert len(ledger(H, [gate, other], W).counted()) == 2


def test_what_a_shared_quantity_key_holds():
    gate = _max_refl("E1", 75.0, 35.5, 33.5477)
    comp = _composite("E2", 75.0, 35.5, 33.551)
    assert quantity_key(gate, "max_reflectivity") == quantity_key(comp, "max_composite_reflectivity") is not None
    # a field with a value but no declared quantity, a field the evidence lacks, a tool
    # the registry does not know: no key
    assert quantity_key(gate, "max_reflectivity_lat") is None
    assert quantity_key(gate, "max_composite_reflectivity") is None
    empty = _max_refl("E3", 75.0, 35.5, 33.5477)
    del empty.values["max_reflectivity"]
    assert quantity_key(empty, "max_reflectivity") is None
    empty.values["max_reflectivity"] = {"value": None, "units": "dBZ"}
    assert quantity_key(empty, "max_reflectivity") is None
    unknown = _max_refl("E3", 75.0, 35.5, 33.5477)
    unknown.tool = "measure_nothing_known"
    assert quantity_key(unknown, "max_reflectivity") is None
    # files without a checksum are told apart by their paths
    a, b = _max_refl("E4", 75.0, 35.5, 33.5477), _composite("E5", 75.0, 35.5, 33.551)
    a.files = [{"path": "one.h5", "role": "radar_volume"}]
    b.files = [{"path": "two.h5", "role": "radar_volume"}]
    assert quantity_key(a, "max_reflectivity") != quantity_key(b, "max_composite_reflectivity")
    b.files = [{"path": "one.h5", "role": "radar_volume"}]
    assert quantity_key(a, "max_reflectivity") == quantity_key(b, "max_composite_reflectivity")
    # the same value in other units is another number
    b.values["max_composite_reflectivity"] = {"value": 35.5, "units": "dB"}
    assert quantity_key(a, "max_reflectivity") != quantity_key(b, "max_composite_reflectivity")


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


# -- added after a mutation run (tools/mutation.sh): each test below kills mutants that the ones
# above let through; the expected values are hand calculations, weights.yaml read by eye, or pint.
def _res(values=None, warnings=None, ok=True, error=None):
    return ToolResult(tool="t", arguments={}, ok=ok, values=values or {}, warnings=warnings or [], error=error)


def _cond(op=">=", value=10.0, units="m/s", field="shear_0_6km", **kw):
    return Condition(tool="t", field=field, op=op, value=value, units=units, meaning="supports", hazard="x", **kw)


def test_conversion_of_dimensionless_and_percent_and_incompatible_units():
    import pint

    assert convert(50.0, "percent", "") == pytest.approx(0.5)    # 50 % is 0.5
    assert convert(50.0, "percent", "1") == pytest.approx(0.5)
    assert convert(0.5, "", "percent") == pytest.approx(50.0)
    assert convert(0.5, "1", "percent") == pytest.approx(50.0)
    assert convert(3.0, "", "1") == 3.0 and convert(3.0, "", "") == 3.0
    with pytest.raises(pint.DimensionalityError):
        convert(5.0, "m", "")                                   # a length is not a number
    with pytest.raises(pint.DimensionalityError):
        convert(1.0, "", "km")


def test_a_bad_unit_string_names_its_side():
    from hvrmet.errors import UnitsError

    with pytest.raises(UnitsError) as tool_side:
        convert(1.0, "furlongz", "m")
    assert tool_side.value.name == "tool units" and str(tool_side.value).startswith("tool units: ")
    with pytest.raises(UnitsError) as cond_side:
        convert(1.0, "m", "furlongz")
    assert cond_side.value.name == "condition units" and str(cond_side.value).startswith("condition units: ")


def test_outcome_carries_the_card_the_condition_and_the_converted_value():
    cond = _cond(op=">=", value=25.0, units="m/s")
    out = evaluate_condition("idx-card", cond, _res({"shear_0_6km": Value(value=50.0, units="knot")}))
    assert (out.card, out.condition, out.met, out.units, out.reason) == ("idx-card", cond, True, "m/s", "")
    assert out.value == pytest.approx(50 * 1852 / 3600)        # the value in the condition's units
    assert out.describe() == "t.shear_0_6km = 25.72 m/s >= 25.0 m/s: met"
    low = evaluate_condition("idx-card", cond, _res({"shear_0_6km": Value(value=48.0, units="knot")}))
    assert low.describe() == "t.shear_0_6km = 24.69 m/s >= 25.0 m/s: not met"   # 48 kt = 24.69 m/s


def test_tool_error_outcome():
    cond = _cond()
    out = evaluate_condition("idx-card", cond, _res(ok=False, error="no sounding"))
    assert (out.card, out.condition, out.met, out.value, out.units) == ("idx-card", cond, None, None, "m/s")
    assert out.reason == "tool error: no sounding"
    assert out.describe() == "t.shear_0_6km: not evaluable (tool error: no sounding)"


@pytest.mark.parametrize("values, warnings, reason", [
    # the field absent: a warning that names the field, else the first that says "not computable"
    ({}, ["sounding has 40 levels", "deep-layer shear not computable: winds end at 5.6 km"],
     "not computable: deep-layer shear not computable: winds end at 5.6 km"),
    # the value missing without a note: a warning that names the field
    ({"shear_0_6km": Value(value=None, units="m/s")}, ["sounding has 40 levels", "shear_0_6km: winds end at 5.6 km"],
     "not computable: shear_0_6km: winds end at 5.6 km"),
    # the value's own note comes first
    ({"shear_0_6km": Value(value=None, units="m/s", note="winds end at 5.6 km")}, ["shear_0_6km: other"],
     "not computable: winds end at 5.6 km"),
    # a warning naming the field wins over an earlier one about another quantity
    ({}, ["srh_0_3km not computable: no storm motion", "shear_0_6km not computable: winds end at 5.6 km"],
     "not computable: shear_0_6km not computable: winds end at 5.6 km"),
    # nothing says why
    ({}, ["sounding has 40 levels"], "shear_0_6km not computed"),
    ({"shear_0_6km": Value(value=None, units="m/s")}, [], "shear_0_6km not computed"),
])
def test_not_computable_reasons(values, warnings, reason):
    cond = _cond()
    out = evaluate_condition("idx-card", cond, _res(values, warnings))
    assert (out.card, out.condition, out.met, out.value, out.units) == ("idx-card", cond, None, None, "m/s")
    assert out.reason == reason


@pytest.mark.parametrize("got, op, threshold, met", [
    (True, "==", True, True),
    (False, "==", True, False),
    (False, "!=", True, True),
    ("north", "==", "north", True),
    ("south", "==", "north", False),
    ("north", "==", 1.0, False),     # text against a number: compared as it is, never converted
])
def test_flags_and_text_are_compared_as_they_are(got, op, threshold, met):
    cond = _cond(op=op, value=threshold, units="", field="flag")
    out = evaluate_condition("idx-card", cond, _res({"flag": Value(value=got)}))
    assert (out.card, out.condition, out.met, out.value, out.units, out.reason) == ("idx-card", cond, met, got, "", "")


def test_incompatible_units_are_reported_in_the_tools_units():
    from metpy.units import units

    cond = _cond(op=">=", value=1.0, units="m/s")
    out = evaluate_condition("idx-card", cond, _res({"shear_0_6km": Value(value=5.0, units="m")}))
    try:
        units.Quantity(5.0, "m").to("m/s")
    except Exception as exc:  # noqa: BLE001 - pint's own message, to compare with
        expected = f"units: {exc}"
    assert (out.card, out.condition, out.met, out.value, out.units) == ("idx-card", cond, None, 5.0, "m")
    assert out.reason == expected


def test_evaluate_conditions_calls_each_tool_call_once(monkeypatch):
    import hvrmet.tools

    calls = []

    def fake_call_tool(name, args):
        calls.append((name, dict(args)))
        lvl = args.get("level", 0)
        return ToolResult(tool=name, arguments=args, ok=True,
                          values={"a": Value(value=2.0 + lvl, units="km"), "b": Value(value=500.0, units="m")})

    monkeypatch.setattr(hvrmet.tools, "call_tool", fake_call_tool)
    base = default_store().cards[0]
    c1 = base.model_copy(update={"id": "card-one", "conditions": [
        Condition(tool="t", field="a", op=">=", value=2000.0, units="m", meaning="supports", hazard="x"),
        Condition(tool="t", field="b", op="<", value=0.4, units="km", meaning="refutes", hazard="x")]})
    c2 = base.model_copy(update={"id": "card-two", "conditions": [
        Condition(tool="t", field="a", op=">", value=2.5, units="km", meaning="supports", hazard="x", args={"level": 1})]})
    results: dict = {}
    out = evaluate_conditions([c1, c2], "case-x", results)
    assert calls == [("t", {"case": "case-x"}), ("t", {"case": "case-x", "level": 1})]
    assert [(o.card, o.condition.field, o.met) for o in out] == [
        ("card-one", "a", True),      # 2 km >= 2000 m
        ("card-one", "b", False),     # 500 m < 0.4 km is false
        ("card-two", "a", True)]      # 3 km > 2.5 km
    assert out[0].value == pytest.approx(2000.0) and out[1].value == pytest.approx(0.5)
    assert set(results) == {("t", ()), ("t", (("level", 1),))}
    # results given in are used, not called again
    calls.clear()
    again = evaluate_conditions([c1, c2], "case-x", results)
    assert calls == [] and [o.met for o in again] == [True, False, True]
    # without a results dict every call is made once per evaluation
    evaluate_conditions([c1], "case-x")
    assert calls == [("t", {"case": "case-x"})]


def test_logit_clips_at_one():
    assert logit(1.0) == pytest.approx(math.log(0.999 / 0.001))
    assert logit(1.5) == pytest.approx(math.log(0.999 / 0.001))


def test_aspect_of_by_category_and_by_tool():
    from hvrmet.agents.accounting import aspect_of

    assert aspect_of("compute_sbcape", W) == "environment"             # category sounding
    assert aspect_of("detect_rotation", W) == "storm_scale_radar"      # category radar
    assert aspect_of("compute_divergence", W) == "synoptic_pattern"    # category gridded ...
    assert aspect_of("compute_gridded_precipitable_water", W) == "environment"  # ... but this tool is listed
    assert aspect_of("no_such_tool", W) == ""                          # unregistered: no category


def test_a_conditions_own_weight_counts_and_the_sum_is_rounded_as_printed():
    ev = _ev("E1", "compute_sbcape", [_v("sbcape", "supports", True, weight=0.1234567)])
    led = ledger(H, [ev], W)
    # by hand: ln(0.4/0.6) = -0.405465; -0.405465 + 0.1234567 = -0.2820083 -> -0.282008;
    # 1/(1+exp(0.282008)) = 0.42996 -> 0.43
    assert led.logit_prior == -0.405465
    assert [c.weight for c in led.counted()] == [0.1234567]
    assert led.total == -0.282008
    assert led.posterior == 0.43
    # an own weight larger than a refutation's chooses the counted condition and is its weight
    ev = _ev("E1", "compute_sbcape", [_v("sbcape", "supports", True, card="a", weight=3.0),
                                      _v("sbcape", "refutes", True, card="b")])
    led = ledger(H, [ev], W)
    assert [(c.card, c.weight) for c in led.counted()] == [("a", 3.0)]
    assert led.total == 2.594535 and led.posterior == 0.9305    # -0.405465 + 3; 1/(1+exp(-2.594535))


def test_a_tie_in_weight_goes_to_the_refutation():
    ev = _ev("E1", "compute_sbcape", [_v("sbcape", "supports", True, card="z", weight=2.5),
                                      _v("sbcape", "refutes", True, card="a")])
    led = ledger(H, [ev], W)
    assert [(c.card, c.meaning, c.weight) for c in led.counted()] == [("a", "refutes", -2.5)]
    assert led.refuting == ["E1"]


def test_two_fields_of_one_call_are_two_numbers():
    ev = _ev("E1", "compute_helicity", [_v("srh_0_1km", "supports", True), _v("srh_0_3km", "supports", True)])
    led = ledger(H, [ev], W)
    assert sorted(c.field for c in led.counted()) == ["srh_0_1km", "srh_0_3km"]
    assert led.pieces == 2 and led.total == pytest.approx(-0.405465 + 2 * 1.0)


def test_a_contribution_carries_the_verdicts_number_and_threshold():
    files = [{"path": "s.txt", "sha256": "abc", "role": "sounding"}, {"path": "t.txt", "role": "sounding"}]
    v = _v("srh_0_1km", "supports", True, card="idx-srh", value=250.0, units="m**2/s**2", threshold=150.0,
           threshold_units="m**2/s**2")
    led = ledger(H, [_ev("E1", "compute_helicity", [v], files=files)], W)
    (c,) = led.contributions
    assert (c.evidence_id, c.tool, c.field, c.value, c.units) == ("E1", "compute_helicity", "srh_0_1km", 250.0, "m**2/s**2")
    assert (c.card, c.condition, c.op, c.threshold, c.threshold_units) == (
        "idx-srh", "srh_0_1km supports", ">=", 150.0, "m**2/s**2")
    assert (c.meaning, c.met, c.weight, c.counted, c.aspect, c.note) == ("supports", True, 1.0, True, "environment", "")
    assert c.sources == ["abc"]                  # a file without a checksum is no source
    assert led.refuting == [] and led.strong_pieces == 1


def test_tested_counts_every_number_that_was_judged():
    ev = [_ev("E1", "compute_sbcape", [_v("sbcape", "supports", True)]),
          _ev("E2", "compute_mlcape", [_v("mlcape", "supports", True)]),
          _ev("E3", "compute_helicity", [_v("srh_0_1km", "supports", False)]),
          _ev("E4", "compute_tornado_parameter", [_v("stp", "refutes", False)]),
          _ev("E5", "compute_bulk_shear", [_v("shear_0_6km", "supports", None)])]
    assert ledger(H, ev, W).tested == 4           # two met, two unmet, one not computable
    null = Hypothesis(id="H2", hazard="no_severe_hazard", statement="s", prior=0.3, posterior=0.3)
    sup = [Hypothesis(id=f"H{i}", hazard="large_hail", statement="s", prior=0.5, posterior=0.9, status="supported",
                      evidence_ids=[f"E{i}"]) for i in (3, 4)]
    led = ledger(null, [], W, competing=sup)
    assert led.tested == 2 and led.refuting == ["E3", "E4"]
    assert led.total == pytest.approx(round(math.log(0.3 / 0.7), 6) - 6.0)   # two terms of -3.0


def test_met_and_unmet_on_one_number_are_both_listed():
    ev = _ev("E1", "compute_sbcape", [_v("sbcape", "supports", True, card="a"),
                                      _v("sbcape", "supports", False, card="b")])
    led = ledger(H, [ev], W)
    assert [(c.card, c.met, c.weight, c.counted, c.note) for c in led.contributions] == [
        ("a", True, 1.0, True, ""), ("b", False, 0.0, False, "not met")]
    assert all(c.evidence_id == "E1" and c.field == "sbcape" for c in led.contributions)


def test_unmet_support_counts_the_first_unmet_supporting_condition_once():
    ev = _ev("E1", "compute_helicity", [
        _v("srh_0_1km", "supports", None, card="a", reason="units: condition units: cannot read 'm2s'"),
        _v("srh_0_1km", "supports", None, card="b"),
        _v("srh_0_1km", "refutes", False, card="c"),
        _v("srh_0_1km", "supports", False, card="d"),
        _v("srh_0_1km", "weakly_supports", False, card="e"),
        _v("srh_0_1km", "supports", False, card="f")])
    led = ledger(H, [ev], W)
    assert [(c.card, c.weight, c.counted, c.note) for c in led.contributions] == [
        ("a", 0.0, False, "units: condition units: cannot read 'm2s'"),
        ("b", 0.0, False, "not computable"),
        ("c", 0.0, False, "not met"),
        ("d", W.unmet_support, True, "supporting condition not met"),
        ("e", 0.0, False, "not met"),
        ("f", 0.0, False, "not met")]
    assert led.total == pytest.approx(-0.405465 - 0.3)
    # an unmet supporting condition is no supporting piece, and an unmet refutation refutes nothing
    assert (led.pieces, led.strong_pieces, led.aspects, led.sources, led.refuting) == (0, 0, [], [], [])
    assert led.not_computable == [] and led.tested == 1


def test_not_computable_without_a_reason():
    ev = _ev("E1", "compute_bulk_shear", [_v("shear_0_6km", "supports", None, card="a"),
                                          _v("shear_0_6km", "refutes", None, card="b")])
    led = ledger(H, [ev], W)
    assert led.not_computable == ["compute_bulk_shear.shear_0_6km: not computable"]
    assert [c.note for c in led.contributions] == ["not computable", "not computable"]
    ev = _ev("E1", "compute_bulk_shear", [_v("shear_0_6km", "supports", None, card="a"),
                                          _v("shear_0_6km", "refutes", None, card="b", reason="winds end at 5.6 km")])
    assert ledger(H, [ev], W).not_computable == ["compute_bulk_shear.shear_0_6km: winds end at 5.6 km"]


def test_the_competing_term_says_what_it_is():
    null = Hypothesis(id="H2", hazard="no_severe_hazard", statement="s", prior=0.3, posterior=0.3)
    sup = Hypothesis(id="H1", hazard="tornadic_supercell", statement="s", prior=0.5, posterior=0.99,
                     status="supported", evidence_ids=[f"E{i}" for i in range(1, 8)])
    (c,) = ledger(null, [], W, competing=[sup]).contributions
    assert (c.evidence_id, c.tool, c.field, c.value, c.card) == (
        "E1,E2,E3,E4,E5,E6", "(hypothesis)", "tornadic_supercell", "supported", "")   # the first six
    assert (c.condition, c.meaning, c.met, c.weight, c.counted, c.aspect) == (
        "H1 tornadic_supercell is supported", "refutes", True, -3.0, True, "competing hypothesis")
    assert c.note == "a warning-level hazard is supported, so 'no severe hazard' (nothing at warning level) is contradicted"


# -- the status rules on ledgers written by hand (weights.yaml: supported_at 0.75, min_pieces 3,
# min_aspects 2, refuted_below 0.5; a sounding and a radar volume give the environment and the
# storm-scale radar aspects)
def _ledger(**kw):
    from hvrmet.agents.accounting import Ledger

    return Ledger(**{"hypothesis_id": "H1", "prior": 0.4, "logit_prior": -0.405465, "tested": 1, **kw})


def _policy_ctx():
    from hvrmet.agents.brain import BrainContext
    from hvrmet.agents.expert import ExpertPolicy

    return ExpertPolicy(), BrainContext(case="x", roles=["sounding", "radar_volume"], time="", location={}, loop=1)


def test_status_refuted_only_below_the_threshold_and_says_so():
    pol, ctx = _policy_ctx()
    nc = ["compute_bulk_shear.shear_0_6km: not computable: winds end at 5.6 km", "compute_helicity.srh_0_1km: x"]
    assert pol._status(H, _ledger(posterior=0.3, refuting=["E1", "E2"], not_computable=nc), ctx, []) == (
        "refuted", "a refuting condition is met (E1, E2); posterior 0.30; not computable: "
                   "compute_bulk_shear.shear_0_6km: not computable: winds end at 5.6 km; compute_helicity.srh_0_1km: x")
    # at exactly refuted_below it is not refuted
    assert pol._status(H, _ledger(posterior=0.5, refuting=["E1"]), ctx, [])[0] == "inconclusive"
    assert pol._status(H, _ledger(posterior=0.4999, refuting=["E1"]), ctx, [])[0] == "refuted"


def test_status_not_assessed_and_proposed_rationales():
    from hvrmet.agents.state import PlannedCheck

    pol, ctx = _policy_ctx()
    assert pol._status(H, _ledger(posterior=0.4, tested=0), ctx, []) == (
        "not_assessed", "no check could test it with the data of this case")
    assert pol._status(H, _ledger(posterior=0.6), ctx, [PlannedCheck(tool="detect_rotation")]) == (
        "proposed", "posterior 0.60; 1 check(s) still to run")
    # nothing tested yet but a check pending: proposed, not not_assessed
    assert pol._status(H, _ledger(posterior=0.4, tested=0), ctx, [PlannedCheck(tool="detect_rotation")])[0] == "proposed"


def test_status_supported_exactly_at_every_threshold():
    pol, ctx = _policy_ctx()
    led = _ledger(posterior=0.75, pieces=3.0, strong_pieces=1, aspects=["environment", "storm_scale_radar"])
    assert pol._status(H, led, ctx, []) == (
        "supported", "posterior 0.75 from 3 supporting pieces from 2 aspects (environment, storm_scale_radar)")


def test_status_inconclusive_lists_exactly_what_is_short():
    pol, ctx = _policy_ctx()
    two = ["environment", "storm_scale_radar"]
    head = "no check left that could settle it: "
    assert pol._status(H, _ledger(posterior=0.75, pieces=3.0, strong_pieces=1, aspects=["environment"]), ctx, []) == (
        "inconclusive", f"posterior 0.75; {head}support from 1 aspect(s) (environment) of the 2 the case has "
                        "(environment, storm_scale_radar)")
    assert pol._status(H, _ledger(posterior=0.7, pieces=3.0, strong_pieces=1, aspects=two), ctx, []) == (
        "inconclusive", f"posterior 0.70; {head}posterior 0.70 below 0.75")
    assert pol._status(H, _ledger(posterior=0.8, pieces=2.5, strong_pieces=1, aspects=two), ctx, []) == (
        "inconclusive", f"posterior 0.80; {head}2.5 supporting pieces of the 3 needed")
    assert pol._status(H, _ledger(posterior=0.8, pieces=3.0, strong_pieces=0, aspects=two), ctx, []) == (
        "inconclusive", f"posterior 0.80; {head}no full supporting condition met")
    assert pol._status(H, _ledger(posterior=0.2, pieces=0.5, strong_pieces=0), ctx, []) == (
        "inconclusive", f"posterior 0.20; {head}posterior 0.20 below 0.75; 0.5 supporting pieces of the 3 needed; "
                        "no full supporting condition met; support from 0 aspect(s) (none) of the 2 the case has "
                        "(environment, storm_scale_radar)")


def test_relevant_aspects_and_runnable_follow_the_cases_data():
    from hvrmet.agents.brain import BrainContext

    pol, ctx = _policy_ctx()
    assert pol.tokens_used == 0
    assert pol.relevant_aspects("tornadic_supercell", ctx) == {"environment", "storm_scale_radar"}
    only = BrainContext(case="x", roles=["sounding"], time="", location={}, loop=1)
    assert pol.relevant_aspects("tornadic_supercell", only) == {"environment"}
    assert pol.runnable("compute_sbcape", ctx) and pol.runnable("describe_case_setting", ctx)   # no data needed
    assert not pol.runnable("get_hail_index", ctx)       # a Level III product the case lacks
    assert not pol.runnable("plot_skewt", ctx)           # figures are no checks
    assert not pol.runnable("no_such_tool", ctx)


def test_describe_a_flag_prints_it_as_it_is():
    cond = _cond(op="==", value=True, units="", field="debris_signature_flag")
    out = evaluate_condition("idx-card", cond, _res({"debris_signature_flag": Value(value=True)}))
    # no units: no double space; a flag is not formatted as a number (True, not 1)
    assert out.describe().startswith("t.debris_signature_flag = True == True") and out.describe().endswith(": met")


def test_status_names_every_aspect_short_when_more_are_needed():
    from hvrmet.agents.brain import BrainContext

    pol, _ = _policy_ctx()
    # weights are data: with min_aspects 3 and a case with Level III too, two aspects are short of three
    pol.store = type("Store", (), {"weights": W.model_copy(update={"min_aspects": 3}), "cards": pol.store.cards})()
    ctx = BrainContext(case="x", roles=["sounding", "radar_volume", "level3_mesocyclone"], time="", location={}, loop=1)
    assert pol.relevant_aspects("tornadic_supercell", ctx) == {"environment", "storm_scale_radar", "detection_product"}
    led = _ledger(posterior=0.9, pieces=4.0, strong_pieces=2, aspects=["environment", "storm_scale_radar"])
    assert pol._status(H, led, ctx, []) == (
        "inconclusive", "posterior 0.90; no check left that could settle it: support from 2 aspect(s) (environment, "
                        "storm_scale_radar) of the 3 the case has (detection_product, environment, storm_scale_radar)")


def test_text_against_a_number_is_reported_not_raised():
    cond = Condition(tool="t", field="f", op=">=", value=3.0, units="1", meaning="supports", hazard="x")
    out = evaluate_condition("card", cond, ToolResult(tool="t", arguments={}, ok=True, values={"f": Value(value="high")}))
    assert out.met is None and "cannot be compared with >= 3.0" in out.reason


# -- searching wider than the storm-scale window, null outcomes ---------------------------------
def test_a_wider_window_number_is_scaled_and_says_why():
    v = _v("mesocyclone_flag", "supports", True, value=True)
    near = _ev("E1", "detect_rotation", [v])
    wide = _ev("E2", "detect_rotation", [v], args={"radius": 150.0}).model_copy(update={"widened_from": 75.0})
    led = ledger(H, [near, wide], W)
    by = {c.evidence_id: c for c in led.counted()}
    assert (by["E1"].weight, by["E1"].scale) == (W.meanings.supports, 1.0)
    assert by["E2"].weight == pytest.approx(W.meanings.supports * W.wider_window)
    assert by["E2"].scale == pytest.approx(W.wider_window)
    assert by["E2"].note == (f"weight {W.meanings.supports:+.2f} x {W.wider_window:g} (wider_window in weights.yaml): "
                             "searched 150 km around the place, beyond the storm-scale window of 75 km")
    assert led.total == pytest.approx(led.logit_prior + W.meanings.supports * (1 + W.wider_window))
    # not counted, not scaled: an unmet weak condition from the wider search
    unmet = _ev("E3", "compute_vil", [_v("max_vil", "weakly_supports", False)], args={"radius": 150.0})
    c = ledger(H, [unmet.model_copy(update={"widened_from": 75.0})], W).contributions[0]
    assert (c.counted, c.weight, c.scale) == (False, 0.0, 1.0)
    # no radius among the arguments: the note still says it looked beyond the window
    bare = _ev("E4", "detect_rotation", [v]).model_copy(update={"widened_from": 75.0})
    assert ledger(H, [bare], W).counted()[0].note.endswith("searched beyond the storm-scale window")


def test_null_outcomes_are_weighed_against_supported_hazards():
    from hvrmet.agents.expert import ExpertPolicy

    pol = ExpertPolicy()
    assert pol._null_outcome("ordinary_convection") and pol._null_outcome("stratiform_rain")
    assert not pol._null_outcome("tornadic_supercell") and not pol._null_outcome("flash_flood")
    oc = Hypothesis(id="H3", hazard="ordinary_convection", statement="s", prior=0.5, posterior=0.5)
    sup = Hypothesis(id="H1", hazard="tropical_cyclone", statement="s", prior=0.5, posterior=0.9,
                     status="supported", evidence_ids=["E1"])
    (c,) = ledger(oc, [], W, competing=[sup]).contributions
    assert c.weight == W.competing_supported and c.meaning == "refutes" and c.met is True
    assert c.note == "a warning-level hazard is supported, so 'ordinary convection' (nothing at warning level) is contradicted"


def test_replanning_weighs_a_null_outcome_after_the_hazards_it_competes_with():
    from hvrmet.agents.brain import BrainContext
    from hvrmet.agents.expert import ExpertPolicy

    tc = Hypothesis(id="H2", hazard="tropical_cyclone", statement="s", prior=0.5, posterior=0.5)
    oc = Hypothesis(id="H1", hazard="ordinary_convection", statement="s", prior=0.5, posterior=0.5)

    def sup(hid, hazard, field):
        return Verdict(hypothesis_id=hid, hazard=hazard, card="c1", condition=f"{field} ok", field=field, op=">=",
                       meaning="supports", met=True, value=1.0)
    ev = [_ev(f"E{i}", tool, [sup("H2", "tropical_cyclone", f), sup("H1", "ordinary_convection", f)])
          for i, (tool, f) in enumerate([("detect_storm_cells", "cell_count"), ("compute_vil", "max_vil"),
                                         ("compute_echo_tops", "max_echo_top")])]
    # the null outcome comes first in the list: it is still weighed after the hazard
    ctx = BrainContext(case="x", roles=[], time="", location={}, loop=1, hypotheses=[oc, tc], evidence=ev)
    plan = ExpertPolicy().replan(ctx)
    a = {x.hypothesis_id: x for x in plan.assessments}
    assert a["H2"].status == "supported"
    terms = [c for c in a["H1"].ledger["contributions"] if c["tool"] == "(hypothesis)"]
    assert [(c["field"], c["weight"]) for c in terms] == [("tropical_cyclone", W.competing_supported)]
    assert a["H1"].posterior < a["H2"].posterior


def test_an_out_of_time_number_is_scaled_and_says_why():
    v = _v("min_pressure", "supports", True)
    late = _ev("E1", "find_pressure_minimum", [v]).model_copy(update={"outside_time_window": True,
                                                                       "data_time_offset": -26.0})
    (c,) = ledger(H, [late], W).counted()
    f = W.outside_time_window
    assert (c.weight, c.scale) == (pytest.approx(W.meanings.supports * f), f)
    assert c.note == (f"weight {W.meanings.supports:+.2f} x {f:g} (outside_time_window in weights.yaml): the data "
                      "are -26.0 h from the case's time, outside the tool's time window")
    # no offset known; an unmet number is not scaled; a note of its own is kept in front
    (c,) = ledger(H, [late.model_copy(update={"data_time_offset": None})], W).counted()
    assert "the data are away from the case's time" in c.note
    unmet = late.model_copy(update={"verdicts": [_v("min_pressure", "weakly_supports", False)]})
    (c,) = ledger(H, [unmet], W).contributions
    assert (c.counted, c.weight, c.scale, c.note) == (False, 0.0, 1.0, "not met")
    refuting_unmet = late.model_copy(update={"verdicts": [_v("min_pressure", "supports", False)]})
    (c,) = ledger(H, [refuting_unmet], W).counted()
    assert c.weight == pytest.approx(W.unmet_support * f)
    assert c.note.startswith("supporting condition not met; weight ")


def test_both_factors_multiply_and_both_notes_are_kept():
    v = _v("mesocyclone_flag", "supports", True, value=True)
    ev = _ev("E1", "detect_rotation", [v], args={"radius": 150.0}).model_copy(update={
        "widened_from": 75.0, "outside_time_window": True, "data_time_offset": 2.0})
    (c,) = ledger(H, [ev], W).counted()
    f, g = W.outside_time_window, W.wider_window
    assert c.weight == pytest.approx(W.meanings.supports * f * g) and c.scale == pytest.approx(f * g)
    first, second = c.note.split("; ")
    assert first.startswith(f"weight {W.meanings.supports:+.2f} x {f:g} (outside_time_window")
    assert second.startswith(f"weight {W.meanings.supports * f:+.2f} x {g:g} (wider_window")


def test_a_numbers_sources_are_the_files_it_came_from():
    v = _v("sbcape", "supports", True)
    ev = _ev("E1", "compute_sbcape", [v], files=[{"path": "a", "sha256": "abc"}, {"path": "b"},
                                                  {"path": "c", "sha256": ""}, {"path": "d", "sha256": "abc"}])
    (c,) = ledger(H, [ev], W).counted()
    assert c.sources == ["abc"]


def test_a_mechanisms_refutation_reaches_its_hazards_only_when_it_is_necessary():
    from hvrmet.agents.evidence import bears_on

    hz = default_store().hazards
    assert hz["mesocyclone"].necessary and not hz["explosive_cyclogenesis"].necessary
    # supporting conditions on a mechanism reach the family's hazards
    assert bears_on("extratropical_cyclone", "explosive_cyclogenesis", "supports")
    assert bears_on("tornadic_supercell", "mesocyclone", "weakly_supports")
    # a refutation only when the mechanism is necessary
    assert not bears_on("extratropical_cyclone", "explosive_cyclogenesis", "refutes")
    assert bears_on("tornadic_supercell", "mesocyclone", "refutes")
    assert bears_on("explosive_cyclogenesis", "explosive_cyclogenesis", "refutes")  # its own
    # planning asks without a meaning: every condition of the family's mechanisms is a check to run
    assert bears_on("extratropical_cyclone", "explosive_cyclogenesis")
    # never from a hazard to a mechanism, nor across families
    assert not bears_on("mesocyclone", "tornadic_supercell", "supports")
    assert not bears_on("large_hail", "mesocyclone", "supports")


@pytest.mark.parametrize("args, refutes", [({}, True), ({"role": "analysis"}, True), ({"role": "surface_obs"}, False)])
def test_a_station_networks_rising_minimum_does_not_refute_deepening(args, refutes):
    """A filling low in the analyses refutes explosive cyclogenesis; the lowest report of
    a station network rising (no central pressure) leaves it open."""
    from hvrmet.agents.evidence import attach_verdicts

    h = Hypothesis(id="H1", hazard="explosive_cyclogenesis", statement="s", prior=0.2, posterior=0.2)
    ev = Evidence(id="E1", loop=1, tool="compute_deepening_rate", arguments={"case": "x", **args}, ok=True,
                  values={"deepening_rate": {"value": -8.0, "units": "hPa/day"}, "bergerons": {"value": -0.6, "units": "1"}})
    ev = attach_verdicts(ev, [h])
    led = ledger(h, [ev], W)
    assert bool(led.refuting) is refutes
    assert any(v.field == "bergerons" and v.met is False for v in ev.verdicts)  # the support is still weighed


def test_a_condition_without_a_radius_judges_only_the_default_window():
    """The VIL conditions of the hail card name no radius: screening's VIL over the radar's
    whole view (radius 230 km) is not their number and gets none of their verdicts, so one
    maximum is not judged twice; a replanning check that widened the window and a
    forecaster's own call stand in for the default one. The ordinary-convection card's
    condition that names radius 230 judges only that call."""
    from hvrmet.agents.evidence import _args_match, attach_verdicts

    hail = Hypothesis(id="H1", hazard="large_hail", statement="s", prior=0.2, posterior=0.2)
    conv = Hypothesis(id="H2", hazard="ordinary_convection", statement="s", prior=0.5, posterior=0.5)

    def vil(eid, args, **kw):
        ev = Evidence(id=eid, loop=0, tool="compute_vil", arguments={"case": "x", **args}, ok=True,
                      values={"max_vil": {"value": 3.0, "units": "kg/m^2"}}, **kw)
        return attach_verdicts(ev, [hail, conv])

    def cards(ev, hid):
        return sorted({(v.card, v.condition) for v in ev.verdicts if v.hypothesis_id == hid})

    default, whole = vil("E0-S1", {}), vil("E0-S2", {"radius": 230})
    assert cards(default, "H1") and not cards(whole, "H1")
    wide_conv = [v for v in whole.verdicts if v.hypothesis_id == "H2"]
    assert [(v.field, v.op, v.threshold, v.met) for v in wide_conv] == [("max_vil", "<", 5.0, True)]
    assert not any(v.threshold == 5.0 for v in default.verdicts)
    assert cards(vil("E2-H1-1", {"radius": 150}, widened_from=75.0), "H1") == cards(default, "H1")
    assert cards(vil("E1-F-1", {"radius": 100}, origin="forecaster"), "H1") == cards(default, "H1")
    assert _args_match({}, {"radius": None}) and not _args_match({}, {"radius": 230.0})
    assert _args_match({"radius": 230}, {"radius": 230.0}) and not _args_match({"radius": 230}, {})


def test_what_a_measurement_is():
    """``measurement_key``: the case, the data folder and the search window do not change
    what was measured; the tool's other arguments, the file (by sha256, by path when the
    evidence has none), the field, its value and units and every latitude and longitude the
    tool reported outside its window's own centre do."""
    from hvrmet.agents.accounting import measurement_key

    base = _max_refl("E0-S2", 75.0, 60.0, 33.5477)
    key = measurement_key(base, "max_reflectivity")
    assert key is not None and measurement_key(base, "no_such_field") is None

    def variant(**change):
        ev = base.model_copy(deep=True)
        for k, v in change.items():
            setattr(ev, k, v)
        return measurement_key(ev, "max_reflectivity")

    args = dict(base.arguments)
    assert variant(arguments={**args, "case": "other", "data_dir": "/d", "files": ["x"], "time_window": 3.0}) == key
    assert variant(arguments={"threshold": 10, **args}) == variant(arguments={**args, "threshold": 10}) != key
    assert variant(values={**base.values, "window_center_lat": {"value": 40.0, "units": "degree_north"}}) == key
    assert variant(values={**base.values, "max_reflectivity_height": {"value": 9.9, "units": "km"}}) == key
    assert variant(values={**base.values, "max_reflectivity_lon": {"value": -101.9, "units": "degree_east"}}) != key
    assert variant(values={**base.values, "max_reflectivity": {"value": 60.0, "units": "dB"}}) != key
    assert variant(values={**base.values, "max_reflectivity": {"value": None, "units": "dBZ"}}) is None
    assert variant(files=[{"path": "elsewhere.ar2", "sha256": "f00d"}]) == key
    no_sha = [{"path": "a.ar2"}]
    assert variant(files=no_sha) != variant(files=[{"path": "b.ar2"}]) and variant(files=no_sha) != key
    assert variant(files=[{"path": "a.ar2", "sha256": ""}]) == variant(files=no_sha)
    assert variant(tool="compute_composite_reflectivity") != key
