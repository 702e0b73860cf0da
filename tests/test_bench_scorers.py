"""Scorers of the benchmark: right answers pass; wrong numbers, wrong units, far locations,
wrong labels and incomplete figures fail; random answers score near chance.

The leniencies measured in the old scorers each have a test here that keeps the old logic
as a reference (``_old_*``): the reference passes the flattering answer, the scorer now
fails it (and passes the right one).
"""

from __future__ import annotations

import math
import random

import pytest

from hvrmet.benchmark.scorers import (REASON_CLASSES, STATUS_ORDER, canonical_hazard, canonical_tool, classify_reason,
                                      entropy, hazard_lineage, rank_hypotheses, score)


# -- the old logic, kept as the reference the new tests are measured against ------------------
def _old_checklist(gold, given):
    named, accepted, cited = set(given.get("named", [])), set(given.get("accepted", [])), set(given.get("cited", []))
    problems = [h for h in gold.get("must_name", []) if h not in named]
    problems += [h for h in gold.get("must_not_accept", []) if h in accepted]
    problems += [t for t in gold.get("must_cite", []) if t not in cited]
    return not problems


def _old_report_named(hyps, summary):  # the old harness: accepted, or any label in the summary text
    accepted = [x["hazard"] for x in hyps if x["status"] == "supported"]
    return set(accepted) | {x["hazard"] for x in hyps if x["hazard"].replace("_", " ") in summary.lower()}


def _old_label_anywhere(gold, members):  # the old harness: the label passed if anywhere in the list
    accepted = {gold["value"], *gold.get("synonyms", [])}
    return any(m in accepted for m in members)


def _old_number_null(given):  # the old number scorer on a null value
    return isinstance(given, dict) and given.get("value") is not None


# -- numbers --------------------------------------------------------------------------------
def test_number():
    gold = {"type": "number", "value": 2470.0, "units": "J/kg", "rtol": 0.02, "atol": 5}
    assert score(gold, {"value": 2470.5, "units": "J/kg"})[0]
    assert score(gold, {"value": 2.4705, "units": "kJ/kg"})[0]  # unit conversion allowed
    assert not score(gold, {"value": 3000, "units": "J/kg"})[0]
    assert not score(gold, {"value": 2470, "units": "m/s"})[0]   # wrong units
    assert not score(gold, None)[0]
    assert not score(gold, {"value": None})[0]
    assert not score(gold, {"value": True, "units": "J/kg"})[0]   # a boolean is no number
    assert not score(gold, {"value": "lots", "units": "J/kg"})[0]
    assert not score(gold, {"value": float("nan"), "units": "J/kg"})[0]
    assert not score(gold, {"value": 1.0, "units": "furlongs^^"})[0]


def test_number_both_tolerance_terms_count():
    """Tolerance = atol + rtol*|value|: a value inside the sum but outside either term
    alone passes; just outside the sum fails (kills dropping either term)."""
    gold = {"type": "number", "value": 1000.0, "units": "J/kg", "rtol": 0.02, "atol": 10.0}   # tol 30
    assert score(gold, {"value": 1025.0, "units": "J/kg"})[0]      # > atol 10, > rtol 20: needs both
    assert score(gold, {"value": 975.0, "units": "J/kg"})[0]
    assert score(gold, {"value": 1030.0, "units": "J/kg"})[0]      # exactly at the tolerance
    assert not score(gold, {"value": 1030.5, "units": "J/kg"})[0]
    assert not score(gold, {"value": 969.0, "units": "J/kg"})[0]
    only_r = {"type": "number", "value": -500.0, "units": "J/kg", "rtol": 0.1}               # tol 50 (|value|)
    assert score(only_r, {"value": -545.0, "units": "J/kg"})[0]
    assert not score(only_r, {"value": -555.0, "units": "J/kg"})[0]
    only_a = {"type": "number", "value": 0.0, "units": "1", "atol": 2}
    assert score(only_a, {"value": 2, "units": "1"})[0] and not score(only_a, {"value": 2.1, "units": "1"})[0]
    exact = {"type": "number", "value": 3, "units": "1"}
    assert score(exact, {"value": 3, "units": ""})[0] and not score(exact, {"value": 3.01, "units": "1"})[0]
    ok, detail = score(gold, {"value": 1025.0, "units": "J/kg"})
    assert "1025 J/kg vs 1000" in detail and "tolerance 30" in detail


def test_number_fails_on_abstention():
    gold = {"type": "number", "value": 12.0, "units": "m/s", "atol": 1}
    ok, detail = score(gold, {"value": None, "note": "wind reaches only 3100 m above ground"})
    assert not ok and detail.startswith("abstained (wind reaches only")
    ok, detail = score(gold, {"error": "no sounding"})
    assert not ok and "abstained (no sounding)" in detail
    assert score(gold, {"value": None})[1] == "no number given"


# -- locations --------------------------------------------------------------------------------
def test_location():
    gold = {"type": "location", "lat": 36.025, "lon": -97.896, "radius_km": 5}
    assert score(gold, {"lat": 36.03, "lon": -97.89})[0]
    assert not score(gold, {"lat": 36.2, "lon": -97.9})[0]       # ~19 km away
    assert not score(gold, None)[0] and not score(gold, {"lat": 36.0})[0]
    assert not score(gold, {"lat": "north", "lon": 1})[0]
    assert not score(gold, {"lat": float("nan"), "lon": -97.9})[0]


def test_location_radius_is_the_whole_radius():
    """A point at 0.75 of the radius passes (halving the radius would fail it), one at 1.1
    of it fails (doubling would pass it)."""
    from pyproj import Geod

    g = Geod(ellps="WGS84")
    gold = {"type": "location", "lat": 35.0, "lon": -97.0, "radius_km": 20.0}
    for frac, want in ((0.75, True), (0.999, True), (1.1, False), (1.9, False)):
        lon, lat, _ = g.fwd(-97.0, 35.0, 45.0, frac * 20e3)
        ok, detail = score(gold, {"lat": lat, "lon": lon})
        assert ok is want, (frac, detail)
    lon, lat, _ = g.fwd(-97.0, 35.0, 90.0, 15e3)
    assert "15.0 km from the gold point (radius 20.0 km)" == score(gold, {"lat": lat, "lon": lon})[1]


# -- labels, ranks and sets ------------------------------------------------------------------
def test_label_and_set():
    gold = {"type": "label", "value": "tornadic_supercell", "synonyms": ["tornado"]}
    assert score(gold, {"value": "Tornado"})[0] and not score(gold, {"value": "large_hail"})[0]
    assert score(gold, "tornadic supercell")[0]  # spaces and case normalised
    assert not score(gold, None)[0] and not score(gold, {"value": None})[0]
    voc = {"type": "label", "value": "tornadic_supercell", "vocabulary": "hazard"}
    assert score(voc, {"value": "supercell tornado"})[0]  # a hazards.yaml synonym
    assert not score(voc, {"value": "mesocyclone"})[0]
    s = {"type": "set", "members": ["compute_helicity", "detect_rotation", "compute_tornado_parameter"], "min": 2}
    assert score(s, {"members": ["compute_helicity", "detect_rotation", "plot_skewt"]})[0]
    assert not score(s, {"members": ["compute_helicity"]})[0]
    assert not score(s, {"members": ["compute_helicity", "compute_helicity"]})[0]  # repeats count once
    assert score(s, ["compute_helicity", "detect_rotation"])[0]
    capped = {"type": "set", "members": ["a", "b", "c"], "min": 1, "max": 2}
    assert score(capped, ["a", "b"])[0] and not score(capped, ["a", "b", "c"])[0]
    assert not score({"type": "set", "members": ["a"], "min": 0}, [])[0]  # at least one, whatever min says
    assert score({"type": "set", "members": ["a"]}, ["a"])[1] == "1 of 1 answered items are acceptable (need 1+)"
    assert score(capped, ["a", "z"])[1] == "1 of 2 answered items are acceptable (need 1..2)"


def test_rank_counts_not_presence():
    """Leniency: a run whose top hypothesis is 'no severe hazard' passed a tornado task when
    tornado was anywhere in the list. Now the rank counts (status, then posterior)."""
    run = [{"id": "H1", "hazard": "no_severe_hazard", "status": "supported", "posterior": 0.9},
           {"id": "H2", "hazard": "tornadic_supercell", "status": "inconclusive", "posterior": 0.95}]
    label_gold = {"type": "label", "value": "tornadic_supercell", "synonyms": ["tornado"]}
    assert _old_label_anywhere(label_gold, [h["hazard"] for h in run])          # the old harness passed it
    gold = {"type": "ranked", "value": "tornadic_supercell", "synonyms": ["tornado"]}   # default: top 1
    ok, detail = score(gold, {"ranking": run})
    assert not ok and "at rank 2 of 2" in detail and "first: no_severe_hazard" in detail
    assert score({**gold, "max_rank": 2}, {"ranking": run})[0]
    # status before posterior: a supported 0.6 outranks an inconclusive 0.95
    assert [h["hazard"] for h in rank_hypotheses(run)] == ["no_severe_hazard", "tornadic_supercell"]
    swapped = [{**run[0], "status": "refuted"}, run[1]]
    assert score(gold, {"ranking": swapped})[0]
    assert score(gold, {"hypotheses": swapped})[0] and score(gold, ["tornado"])[0]


def test_rank_bounds_and_absence():
    run = [{"id": f"H{i}", "hazard": h, "status": "proposed", "posterior": p}
           for i, (h, p) in enumerate((("large_hail", 0.5), ("damaging_wind", 0.4), ("tornadic_supercell", 0.3)), 1)]
    not_first = {"type": "ranked", "value": "large_hail", "min_rank": 2, "max_rank": None, "absent_ok": True}
    assert not score(not_first, {"ranking": run})[0]
    assert score({**not_first, "value": "damaging_wind"}, {"ranking": run})[0]
    assert score({**not_first, "value": "heat_wave"}, {"ranking": run})[0]           # absent is fine here
    assert not score({"type": "ranked", "value": "heat_wave"}, {"ranking": run})[0]  # ... but not by default
    assert not score({"type": "ranked", "value": "large_hail"}, {"ranking": []})[0]
    assert not score({"type": "ranked", "value": "large_hail"}, None)[0]
    band = {"type": "ranked", "value": "damaging_wind", "min_rank": 2, "max_rank": 2}
    assert score(band, {"ranking": run})[1].startswith("damaging_wind at rank 2 of 3 (want rank 2;")
    assert not score({**band, "value": "tornadic_supercell"}, {"ranking": run})[0]
    assert "want rank 1..3" in score({**band, "min_rank": 1, "max_rank": 3}, {"ranking": run})[1]
    assert "or absent" in score(not_first, {"ranking": run})[1]
    # ties on status and posterior: by id
    tie = [{"id": "H2", "hazard": "b", "status": "proposed", "posterior": 0.5},
           {"id": "H1", "hazard": "a", "status": "proposed", "posterior": 0.5}]
    assert [h["hazard"] for h in rank_hypotheses(tie)] == ["a", "b"]
    assert [h["hazard"] for h in rank_hypotheses(["x"])] == ["x"]
    order = sorted(STATUS_ORDER, key=STATUS_ORDER.get)
    assert order[0] == "supported" and order[-1] == "refuted" and STATUS_ORDER["proposed"] == STATUS_ORDER["not_assessed"]
    assert STATUS_ORDER["inconclusive"] < STATUS_ORDER["proposed"]


# -- replanning at the loop asked about -------------------------------------------------------
def test_replanning_needs_the_loop():
    """Leniency: replanning tasks took every tool ever run for the hazard, so runs that never
    replanned passed. Now the answer is read after the task's loop and fails without it."""
    gold = {"type": "replan", "loop": 1, "members": ["compute_helicity", "detect_rotation"], "min": 2,
            "vocabulary": "tool"}
    old_set = {"type": "set", "members": gold["members"], "min": 2}
    never = {"loop": 1, "replanned": False, "members": [], "why": "the run stopped after loop 1"}
    union_of_all_tools = {"members": ["compute_helicity", "detect_rotation"]}   # what the old harness answered
    assert score(old_set, union_of_all_tools)[0]
    ok, detail = score(gold, never)
    assert not ok and detail.startswith("no replanning after loop 1: the run stopped")
    assert score(gold, {"loop": 1, "replanned": True, "members": ["srh_0_1km", "detect_rotation"]})[0]  # a quantity names its tool
    assert not score(gold, {"loop": 2, "replanned": True, "members": gold["members"]})[0]
    assert "loop 2" in score(gold, {"loop": 2, "replanned": True, "members": gold["members"]})[1]
    assert not score(gold, {"loop": 1, "replanned": True, "members": ["compute_helicity"]})[0]
    assert not score(gold, None)[0]
    assert score({**gold, "loop": 3}, {"replanned": True, "members": gold["members"]})[1].startswith("after loop 3")
    assert score({k: v for k, v in gold.items() if k != "loop"}, {"loop": 1, "replanned": True,
                                                                   "members": gold["members"]})[0]


# -- reports -------------------------------------------------------------------------------------
def test_report_names_only_accepted_hazards():
    """Leniency: report-henri2021 passed with tropical cyclone refuted (the summary text
    named it). A report names a hazard only by accepting it."""
    hyps = [{"id": "H1", "hazard": "no_severe_hazard", "status": "not_assessed", "posterior": 0.4},
            {"id": "H2", "hazard": "tropical_cyclone", "status": "refuted", "posterior": 0.06}]
    summary = "Insufficient evidence. Refuted: tropical cyclone, tropical cyclone rain."
    gold = {"type": "checklist", "must_name": ["tropical_cyclone"], "must_not_accept": ["no_severe_hazard"],
            "must_cite": []}
    old_given = {"named": sorted(_old_report_named(hyps, summary)), "accepted": [], "cited": []}
    assert _old_checklist(gold, old_given)                                   # the old pass
    ok, detail = score(gold, {"hypotheses": hyps, "cited": [], "summary": summary})
    assert not ok and detail == "does not accept tropical_cyclone"
    # the refutation counts where the task asks for it
    ask = {"type": "checklist", "must_refute": ["tropical_cyclone"]}
    assert score(ask, {"hypotheses": hyps})[0]
    assert not score(ask, {"hypotheses": [{**hyps[1], "status": "inconclusive"}]})[0]
    assert score(gold, {"hypotheses": [{**hyps[1], "status": "supported"}], "cited": []})[0]
    assert not score(gold, None)[0]


def test_checklist_through_the_vocabularies():
    """Leniency: checklists matched exact strings. Now hazard synonyms and the tool
    vocabulary (a quantity names its tool) count, both ways."""
    given = {"hypotheses": [{"hazard": "tornadic_supercell", "status": "supported", "posterior": 0.99}],
             "cited": ["compute_helicity"]}
    gold = {"type": "checklist", "must_name": ["Tornado"], "must_cite": ["srh_0_1km"]}
    assert not _old_checklist(gold, {"named": ["tornadic_supercell"], "accepted": ["tornadic_supercell"],
                                     "cited": ["compute_helicity"]})       # old: exact strings only
    assert score(gold, given)[0]
    banned = {"type": "checklist", "must_not_accept": ["tornado outbreak"]}
    assert _old_checklist(banned, {"accepted": ["tornadic_supercell"]})     # old: the synonym slipped through
    ok, detail = score(banned, given)
    assert not ok and detail == "accepts tornado outbreak"
    # a specialisation names its parent (a supercell's large hail is large hail), not the reverse
    hail = {"hypotheses": [{"hazard": "supercell_large_hail", "status": "supported"}]}
    assert score({"type": "checklist", "must_name": ["large_hail"]}, hail)[0]
    assert not score({"type": "checklist", "must_not_accept": ["large_hail"]}, hail)[0]
    assert not score({"type": "checklist", "must_name": ["supercell_large_hail"]},
                     {"hypotheses": [{"hazard": "large_hail", "status": "supported"}]})[0]
    assert score({"type": "checklist", "must_refute": ["supercell_large_hail"]},
                 {"hypotheses": [{"hazard": "large_hail", "status": "refuted"}]})[0]   # refuting the parent refutes it
    assert score({"type": "checklist", "must_cite": ["skewt"]}, {"cited": ["plot_skewt"]})[0]
    assert not score({"type": "checklist", "must_cite": ["compute_sbcape"]}, {"cited": ["compute_mlcape"]})[0]
    # the old answer form (accepted/refuted lists) still reads, strictly
    assert score({"type": "checklist", "must_name": ["tornado"], "must_refute": ["no_severe_hazard"]},
                 {"accepted": ["tornadic_supercell"], "refuted": ["no severe hazard"]})[0]
    assert score({"type": "checklist"}, {})[1] == "checklist complete"


def test_vocabularies():
    assert canonical_hazard("Tornadic Supercell") == "tornadic_supercell"
    assert canonical_hazard("severe-hail") == "large_hail"
    assert canonical_hazard("something else") == "something_else"
    assert hazard_lineage("heavy_snow") == ["heavy_snow", "winter_storm"]
    assert hazard_lineage("tornado") == ["tornadic_supercell"]
    assert canonical_tool("sbcape") == "compute_sbcape" and canonical_tool("compute_sbcape") == "compute_sbcape"
    assert canonical_tool(" hodograph ") == "plot_hodograph" and canonical_tool("no_such") == "no_such"


# -- figures ---------------------------------------------------------------------------------------
def test_figure():
    gold = {"type": "figure", "kind": "skewt", "units": "degC", "valid_time": "1999-05-04T00:00",
            "contains": [35.18, -97.44], "variables": ["temperature"], "level": 500}
    side = {"kind": "skewt", "units": "degC", "valid_time": "1999-05-04T00:00Z", "extent": [-98, -97, 35, 36],
            "variables": ["temperature", "dewpoint"], "level": 500}
    assert score(gold, side) == (True, "all required fields match")
    assert not score(gold, {k: v for k, v in side.items() if k != "valid_time"})[0]   # missing field
    assert not score(gold, {**side, "valid_time": "1999-05-04T01:00Z"})[0]
    assert not score(gold, {**side, "extent": [-90, -89, 30, 31]})[0]
    assert not score(gold, {**side, "extent": None})[0]
    for key, bad in (("kind", "hodograph"), ("units", "K"), ("level", 850), ("variables", ["dewpoint"])):
        ok, detail = score(gold, {**side, key: bad})
        assert not ok and key in detail
    for ext in ([-97.44, -97, 35, 36], [-98, -97.44, 35, 36], [-98, -97, 35.18, 36], [-98, -97, 35, 35.18]):
        assert score(gold, {**side, "extent": ext})[0]        # the edges are inside
    for ext in ([-97.4, -97, 35, 36], [-98, -97.5, 35, 36], [-98, -97, 35.2, 36], [-98, -97, 35, 35.1]):
        assert not score(gold, {**side, "extent": ext})[0]
    assert not score(gold, "figure.png")[0]


# -- abstention --------------------------------------------------------------------------------------
def test_abstention():
    """A correct 'not computable' could never pass (a null was 'no answer given'). Now it
    passes for the right reason and fails with a number or the wrong reason."""
    gold = {"type": "abstain", "reason": ["missing_layer"]}
    assert not _old_number_null({"value": None, "note": "wind reaches only 3100 m above ground"})
    assert score(gold, {"value": None, "note": "wind reaches only 3100 m above ground"})[0]
    assert score(gold, {"value": None, "not_computable": "missing_layer"})[0]
    assert score({"type": "abstain", "reason": "missing_layer"}, {"value": None, "not_computable": "missing layer"})[0]
    ok, detail = score(gold, {"value": 17.2, "units": "m/s"})
    assert not ok and detail == "gave 17.2 m/s where the data cannot answer"
    ok, detail = score(gold, {"value": None, "not_computable": "out_of_domain"})
    assert not ok and detail == "abstained: out_of_domain (want missing_layer)"
    assert not score(gold, {"value": None, "note": "hmm"})[0]
    assert score(gold, {"value": None, "note": "hmm"})[1] == "abstained without a recognisable reason (hmm)"
    assert not score(gold, None)[0] and not score(gold, {"value": None})[0]
    assert score({"type": "abstain", "reason": ["missing_variable"]},
                 {"error": "radar volume has no radial_velocity (it has reflectivity)"})[0]
    assert score({"type": "abstain", "reason": ["out_of_domain", "missing_variable"]},
                 {"value": None, "reason": "no reflectivity beyond 400 km"})[0]


@pytest.mark.parametrize("text,cls", [
    ("wind reaches only 3100 m above ground", "missing_layer"),
    ("the sounding stops at 700 hPa, below 500 hPa: indices needing mid-levels are not computed", "missing_layer"),
    ("no reflectivity beyond 400 km", "out_of_domain"),
    ("the point lies outside the grid", "out_of_domain"),
    ("a single analysis time: the deepening rate cannot be measured", "missing_time"),
    ("debris detection not possible: no dual-pol moments (cross_correlation_ratio)", "missing_variable"),
    ("no u on pressure levels in this file: not in the file", "missing_variable"),
    ("case 'katrina2005' has no file of role 'sounding'", "missing_variable"),
    ("downdraft CAPE not computed: dew points are missing in the lowest 400 hPa", "missing_variable"),
    ("the sounding has no wind: kinematic quantities are not computed", "missing_variable"),
    ("geopotential_height has no 500 hPa level; levels: 300 hPa", "missing_layer"),
    ("no mslp on a single level (no pressure axis) in this file: not in the file", "missing_variable"),
    ("missing_time", "missing_time"), ("", None), (None, None), ("it rained", None),
])
def test_reason_classes(text, cls):
    assert classify_reason(text) == cls
    assert cls is None or cls in REASON_CLASSES


# -- loop ---------------------------------------------------------------------------------------------
def _loops(*rows):
    return {"loops": [{"loop": i + 1, "gold_rank": rk, "gold_status": st, "gold_posterior": p}
                      for i, (rk, st, p) in enumerate(rows)]}


def test_loop_scorer():
    gold = {"type": "loop", "hazard": "tornadic_supercell", "status": "supported", "max_rank": 1, "min_gain": 0.1}
    assert score(gold, _loops((1, "supported", 0.9)))[0]                       # right at once, kept
    assert not score(gold, _loops((1, "supported", 0.9), (2, "inconclusive", 0.5)))[0]   # lost
    ok, detail = score(gold, _loops((2, "inconclusive", 0.5)))
    assert not ok and detail.startswith("wrong at loop 1 (inconclusive) and no replanning")
    assert score(gold, _loops((2, "inconclusive", 0.5), (1, "supported", 0.9)))[0]        # replanning fixed it
    assert score(gold, _loops((3, "inconclusive", 0.5), (3, "inconclusive", 0.61)))[0]    # moved enough
    eighth = {**gold, "min_gain": 0.125}
    assert score(eighth, _loops((3, "inconclusive", 0.5), (3, "inconclusive", 0.625)))[0]   # exactly min_gain
    assert not score(eighth, _loops((3, "inconclusive", 0.5), (3, "inconclusive", 0.62)))[0]
    assert not score({k: v for k, v in gold.items() if k != "min_gain"},
                     _loops((3, "inconclusive", 0.5), (3, "inconclusive", 0.59)))[0]       # default min_gain 0.1
    assert score({k: v for k, v in gold.items() if k not in ("min_gain", "status", "max_rank")},
                 _loops((1, "supported", 0.9)))[0]                                         # default: supported, top 1
    assert not score(gold, _loops((2, "inconclusive", 0.5), (4, "inconclusive", 0.9)))[0]  # ... at a worse rank
    assert not score(gold, _loops((2, "supported", 0.9)))[0]                    # supported but not first
    assert score({**gold, "max_rank": 2}, _loops((2, "supported", 0.9)))[0]
    assert not score(gold, _loops((None, None, None), (None, None, None)))[0]
    assert score(gold, _loops((None, None, None), (3, "inconclusive", 0.2)))[0]   # proposed by the replanning
    assert not score(gold, {"loops": []})[0] and not score(gold, None)[0]
    ref = {**gold, "status": "refuted"}
    assert score(ref, _loops((1, "refuted", 0.1)))[0] and not score(ref, _loops((1, "supported", 0.1)))[0]
    assert score(ref, _loops((1, "inconclusive", 0.5), (1, "inconclusive", 0.35)))[0]   # 0.15 toward refuted
    assert not score(ref, _loops((1, "inconclusive", 0.5), (1, "inconclusive", 0.45)))[0]
    assert not score(ref, _loops((None, None, None), (None, None, None)))[0]
    ns = {**gold, "status": "not_supported"}
    assert score(ns, _loops((None, None, None)))[0] and score(ns, _loops((3, "inconclusive", 0.7)))[0]
    assert not score(ns, _loops((1, "supported", 0.9)))[0]
    assert score(ns, _loops((1, "supported", 0.9), (2, "refuted", 0.1)))[0]
    assert score(ns, _loops((1, "supported", 0.5), (1, "supported", 0.3)))[0]     # 0.2 away from support
    assert not score(ns, _loops((1, "supported", 0.5), (1, "supported", 0.45)))[0]
    assert "moved +0.05 toward supported (need +0.10), rank 3 -> 3" in score(
        gold, _loops((3, "inconclusive", 0.5), (3, "inconclusive", 0.55)))[1]


def test_entropy():
    assert entropy([0.5, 0.5]) == pytest.approx(1.0)
    assert entropy([1.0, 1.0, 1.0, 1.0]) == pytest.approx(2.0)
    assert entropy([0.9]) == 0.0 and entropy([]) is None and entropy([0.0, None]) is None
    assert entropy([0.2, 0.6]) == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)))


def test_unknown_type_lists_known():
    with pytest.raises(ValueError, match="known types: number"):
        score({"type": "essay"}, "x")


def test_random_answers_score_near_chance():
    """A brain answering at random: numbers almost never pass, labels at about 1/k."""
    rng = random.Random(0)
    hazards = ["tornadic_supercell", "supercell_large_hail", "damaging_wind", "flash_flood", "tropical_cyclone",
               "extratropical_cyclone", "heat_wave", "winter_storm", "no_severe_hazard"]
    n, passed_num, passed_lab, passed_rank = 600, 0, 0, 0
    for _ in range(n):
        gold_n = {"type": "number", "value": rng.uniform(0, 4000), "units": "J/kg", "rtol": 0.02, "atol": 5}
        passed_num += score(gold_n, {"value": rng.uniform(0, 4000), "units": "J/kg"})[0]
        gold_l = {"type": "label", "value": rng.choice(hazards)}
        passed_lab += score(gold_l, {"value": rng.choice(hazards)})[0]
        order = rng.sample(hazards, k=len(hazards))
        passed_rank += score({"type": "ranked", "value": rng.choice(hazards)}, {"ranking": order})[0]
    assert passed_num / n < 0.05
    assert abs(passed_lab / n - 1 / len(hazards)) < 0.05
    assert abs(passed_rank / n - 1 / len(hazards)) < 0.05


# -- every failure says why, in words a reader can check -----------------------------------------
def test_failure_details_are_exact():
    num = {"type": "number", "value": 3}
    assert score(num, {"value": 3}) == (True, "3  vs 3 (tolerance 0)")            # no units on either side
    assert score({**num, "units": "m/s"}, {"value": 3, "units": "m/s", "note": "rounded"})[0]   # a note is no abstention
    long = "x" * 100
    assert score(num, {"value": None, "note": long})[1] == f"abstained ({'x' * 80}) where a number was expected"
    assert score(num, {"value": None, "not_computable": "missing_layer", "note": "n"})[1] == \
        "abstained (missing_layer) where a number was expected"
    ok, detail = score({**num, "units": "J/kg"}, {"value": 3, "units": "m/s"})
    assert not ok and detail.startswith("units 'm/s' do not convert to 'J/kg': ")
    ok, detail = score({**num, "units": "J/kg"}, {"value": 3, "units": "m/s^^"})
    assert not ok and detail.startswith("units 'm/s^^' do not convert to 'J/kg': ") and "units" in detail[30:]
    ok, detail = score({**num, "units": "J/kg^^"}, {"value": 3, "units": "J/kg"})
    assert not ok and "gold units" in detail
    loc = {"type": "location", "lat": 0.0, "lon": 0.0, "radius_km": 1}
    assert score(loc, None)[1] == "no location given"
    assert score(loc, {"lat": "n", "lon": 2})[1] == "not a position: 'n', 2"
    assert score(loc, {"lat": 1.0, "lon": float("nan")})[1] == "not a position: non-finite latitude or longitude"
    assert score(loc, {"lat": float("inf"), "lon": 1.0})[1] == "not a position: non-finite latitude or longitude"
    assert score({"type": "label", "value": "a"}, None)[1] == "no label given"
    assert score({"type": "label", "value": "a"}, {"value": "b"})[1] == "'b' vs 'a'"
    assert score({"type": "ranked", "value": "a"}, {})[1] == "no hypotheses given"
    assert score({"type": "ranked", "value": "a"}, {"members": ["b", "a"]})[1] == "a at rank 2 of 2 (want rank 1; first: b)"
    assert score({"type": "replan", "members": ["a"]}, None)[1] == "no replanning answer"
    assert score({"type": "replan", "members": ["a"]}, {"replanned": False})[1] == \
        "no replanning after loop 1: the run did not go on"
    assert score({"type": "checklist"}, None)[1] == "no report"
    assert score({"type": "checklist", "must_name": ["heat_wave"], "must_not_accept": ["large_hail"]},
                 {"accepted": ["large_hail"]})[1] == "does not accept heat_wave; accepts large_hail"
    fig = {"type": "figure", "kind": "skewt", "units": "degC", "valid_time": "1999-05-04T00:00:00"}
    assert score(fig, None)[1] == "no figure sidecar"
    assert score(fig, {"kind": "skewt", "units": "degC", "valid_time": "1999-05-04T00:00Z"})[0]   # minutes compared
    assert score(fig, {"kind": "hodograph", "units": "K"})[1] == \
        "kind 'hodograph' != 'skewt'; units 'K' != 'degC'; valid_time '' != '1999-05-04T00:00:00'"
    ab = {"type": "abstain", "reason": ["missing_layer", "out_of_domain"]}
    assert score(ab, None)[1] == "no answer (an abstention with its reason was expected)"
    assert score(ab, {"value": 17.2})[1] == "gave 17.2 where the data cannot answer"
    assert score(ab, {"value": None})[1] == "abstained without a recognisable reason"
    assert score(ab, {"value": None, "not_computable": "missing time"})[1] == \
        "abstained: missing_time (want missing_layer or out_of_domain)"
    lp = {"type": "loop"}
    assert score(lp, None)[1] == "no loop ran" and not score(lp, "loops")[0]
    assert score(lp, {"loops": [{"loop": 1, "gold_rank": 1, "gold_status": "supported"}]})[1] == \
        "right at loop 1, kept"
    assert score(lp, _loops((1, "supported", 0.9), (1, "refuted", 0.1)))[1] == "right at loop 1, lost by loop 2"
    with pytest.raises(ValueError, match=r"known types: number, location, label, ranked, set, replan, figure"):
        score({"type": "essay"}, "x")


def test_defaults_and_vocabularies_of_the_scorers():
    # loop defaults: supported, rank 1, gain 0.1; a refutation from 'not proposed' counts from half way
    lp = {"type": "loop"}
    assert not score(lp, _loops((2, "supported", 0.9)))[0]
    assert score(lp, _loops((3, "inconclusive", 0.5), (3, "inconclusive", 0.75)))[0]
    ref = {"type": "loop", "status": "refuted"}
    assert score(ref, _loops((None, None, None), (1, "inconclusive", 0.35)))[0]
    assert not score(ref, _loops((None, None, None), (1, "inconclusive", 0.45)))[0]
    # a set with one member needs one hit; the hazard vocabulary maps synonyms on both sides
    assert score({"type": "set", "members": ["a"], "min": 1}, ["a"])[0]
    hz = {"type": "set", "members": ["tornadic_supercell", "large_hail"], "vocabulary": "hazard", "min": 2}
    assert score(hz, ["tornado", "severe hail"])[0] and not score(hz, ["tornado", "tornadic supercell"])[0]
    assert not score({**hz, "vocabulary": None}, ["tornado", "severe hail"])[0]
    # gold synonyms outside hazards.yaml still count
    assert score({"type": "label", "value": "tornadic_supercell", "synonyms": ["twister"], "vocabulary": "hazard"},
                 {"value": "Twister"})[0]
    assert score({"type": "ranked", "value": "tornadic_supercell", "synonyms": ["twister"]}, {"ranking": ["twister"]})[0]
    assert not score({"type": "ranked", "value": "heat_wave", "absent_ok": False}, {"ranking": ["twister"]})[0]
    # the tool vocabulary: case and spacing, a quantity, a figure kind
    assert canonical_tool("Compute_SBCAPE") == "compute_sbcape" and canonical_tool("sbcape") == "compute_sbcape"
    assert canonical_tool("Skewt") == "plot_skewt" and canonical_tool(" Unknown ") == "Unknown"
    assert classify_reason("missing time") == "missing_time" and classify_reason("Out of domain") == "out_of_domain"
    assert entropy([0.0, 0.5]) == 0.0


def test_rank_keys():
    """Unknown statuses rank with the untested ones; a missing posterior is 0; a missing id
    sorts first; bare labels are untested."""
    hyps = [{"id": "H9", "hazard": "x", "status": "weird", "posterior": 0.9},
            {"id": "H8", "hazard": "y", "status": "proposed", "posterior": 0.5},
            {"id": "H7", "hazard": "z", "status": "refuted", "posterior": 0.99},
            {"id": "H6", "hazard": "w", "status": "inconclusive"},
            {"hazard": "v", "status": "inconclusive"},
            {"id": "H5", "hazard": "u", "status": "inconclusive", "posterior": 0.01},
            {"id": "H4", "hazard": "t", "posterior": 0.7}, "s"]
    assert [h["hazard"] for h in rank_hypotheses(hyps)] == ["u", "v", "w", "x", "t", "y", "s", "z"]
    by_post = [{"id": f"H{i}", "hazard": h, "status": "proposed", "posterior": p}
               for i, (h, p) in enumerate((("a", 0.1), ("b", 0.2), ("c", 0.3)), 1)]
    assert [h["hazard"] for h in rank_hypotheses(by_post)] == ["c", "b", "a"]
    assert [h["hazard"] for h in rank_hypotheses([{"id": "A", "hazard": "a"}, {"hazard": "b"}])] == ["b", "a"]
