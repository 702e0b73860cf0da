"""Scorers of the benchmark: right answers pass; wrong numbers, wrong units, far
locations, wrong labels and incomplete figures fail; random answers score near chance."""

from __future__ import annotations

import random

import pytest

from hvrmet.benchmark.scorers import score


def test_number():
    gold = {"type": "number", "value": 2470.0, "units": "J/kg", "rtol": 0.02, "atol": 5}
    assert score(gold, {"value": 2470.5, "units": "J/kg"})[0]
    assert score(gold, {"value": 2.4705, "units": "kJ/kg"})[0]  # unit conversion allowed
    assert not score(gold, {"value": 3000, "units": "J/kg"})[0]
    assert not score(gold, {"value": 2470, "units": "m/s"})[0]   # wrong units
    assert not score(gold, None)[0]


def test_location():
    gold = {"type": "location", "lat": 36.025, "lon": -97.896, "radius_km": 5}
    assert score(gold, {"lat": 36.03, "lon": -97.89})[0]
    assert not score(gold, {"lat": 36.2, "lon": -97.9})[0]       # ~19 km away


def test_label_and_set():
    gold = {"type": "label", "value": "tornadic_supercell", "synonyms": ["tornado"]}
    assert score(gold, {"value": "Tornado"})[0] and not score(gold, {"value": "large_hail"})[0]
    s = {"type": "set", "members": ["compute_helicity", "detect_rotation", "compute_tornado_parameter"], "min": 2}
    assert score(s, {"members": ["compute_helicity", "detect_rotation", "plot_skewt"]})[0]
    assert not score(s, {"members": ["compute_helicity"]})[0]


def test_figure_and_checklist():
    gold = {"type": "figure", "kind": "skewt", "units": "degC", "valid_time": "1999-05-04T00:00",
            "contains": [35.18, -97.44]}
    side = {"kind": "skewt", "units": "degC", "valid_time": "1999-05-04T00:00Z", "extent": [-98, -97, 35, 36]}
    assert score(gold, side)[0]
    assert not score(gold, {k: v for k, v in side.items() if k != "valid_time"})[0]   # missing field
    assert not score(gold, {**side, "extent": [-90, -89, 30, 31]})[0]
    ck = {"type": "checklist", "must_name": ["tornadic_supercell"], "must_not_accept": ["no_severe_hazard"],
          "must_cite": ["compute_helicity"]}
    good = {"named": ["tornadic_supercell"], "accepted": ["tornadic_supercell"], "cited": ["compute_helicity"]}
    assert score(ck, good)[0]
    assert not score(ck, {**good, "accepted": ["no_severe_hazard"]})[0]


def test_unknown_type_lists_known():
    with pytest.raises(ValueError, match="known types: number"):
        score({"type": "essay"}, "x")


def test_random_answers_score_near_chance():
    """A brain answering at random: numbers almost never pass, labels at about 1/k."""
    rng = random.Random(0)
    hazards = ["tornadic_supercell", "supercell_large_hail", "damaging_wind", "flash_flood", "tropical_cyclone",
               "extratropical_cyclone", "heat_wave", "winter_storm", "no_severe_hazard"]
    n, passed_num, passed_lab = 600, 0, 0
    for _ in range(n):
        gold_n = {"type": "number", "value": rng.uniform(0, 4000), "units": "J/kg", "rtol": 0.02, "atol": 5}
        passed_num += score(gold_n, {"value": rng.uniform(0, 4000), "units": "J/kg"})[0]
        gold_l = {"type": "label", "value": rng.choice(hazards)}
        passed_lab += score(gold_l, {"value": rng.choice(hazards)})[0]
    assert passed_num / n < 0.05
    assert abs(passed_lab / n - 1 / len(hazards)) < 0.05
