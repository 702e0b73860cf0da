"""The shipped task sets: sizes per category on both splits, search windows stated and
agreeing with their gold, replanning golds that name only tools the case's data allow,
files cases described alike, and the oracle/random levels of both splits."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from hvrmet.benchmark.tasks import CATEGORIES, load_tasks, task_set_path, tool_for_quantity

SPLITS = ("dev", "test")


def _tasks(split):
    return load_tasks(split)


@pytest.mark.parametrize("split", SPLITS)
def test_every_category_has_thirty_tasks(split):
    tasks = _tasks(split)
    counts = Counter(t.category for t in tasks)
    assert all(counts[c] >= 30 for c in CATEGORIES), counts
    if split == "dev":
        assert len(tasks) >= 400


def _windowed_tools() -> dict[str, str]:
    """Tools whose window limits what they search: not the tools of one sounding (a point
    profile: its window checks the launch time and the station's distance, and the value
    is the same whatever the radius)."""
    from hvrmet.tools import list_tools

    return {t.name: t.category for t in list_tools() if "window_radius" in t.outputs and "sounding" not in t.needs}


@pytest.mark.parametrize("split", SPLITS)
def test_tasks_on_windowed_tools_state_their_window(split):
    """The tools search a window around the case's place (docs/windows.md); a task asking a
    windowed tool for a number or a place states its radius (the whole view, 20038 km, or
    the radius its gold was computed within), in its arguments and its question; station
    tasks their time window too."""
    windowed = _windowed_tools()
    n = 0
    for t in _tasks(split):
        q = t.target.get("quantity")
        if t.category not in ("index", "signal") or not q or t.target.get("hazard"):
            continue
        tool = tool_for_quantity(q)
        if tool not in windowed:
            continue
        n += 1
        args = t.target.get("args") or {}
        if "lat_min" in args:  # a box replaces the radius
            continue
        assert "radius" in args, t.id
        r = float(args["radius"])
        assert r == 20038.0 or f"{r:g} km" in t.question, (t.id, t.question)
        if r == 20038.0:
            assert "Search radius" in t.question, t.id
        if windowed[tool] == "surface":
            assert "time_window" in args, t.id
    assert n >= 30


def test_windowed_golds_differ_from_the_whole_view_where_the_window_matters():
    """Each radar maximum asked within a radius has its own gold (computed inside that
    radius), next to the whole-view task: where the two differ, the window matters."""
    import re

    test = {t.id: t for t in _tasks("test")}
    pairs = [(t, test.get(re.sub(r"-r\d+$", "", t.id))) for t in test.values()
             if t.category == "index" and re.search(r"-r\d+$", t.id)]
    pairs = [(a, b) for a, b in pairs if b is not None]
    assert len(pairs) >= 20
    for a, b in pairs:
        assert a.target["args"]["radius"] < 20038.0 and b.target["args"]["radius"] == 20038.0
        assert a.answer["value"] <= b.answer["value"] + 1e-9, a.id
    assert any(a.answer["value"] < b.answer["value"] for a, b in pairs)


@pytest.mark.parametrize("split", SPLITS)
def test_replanning_golds_name_tools_the_data_allow(split):
    """A replanning gold is read at its loop, names the loop, and lists only tools whose
    data the case holds."""
    from hvrmet.cases import get_case
    from hvrmet.tools import get_tool

    for t in _tasks(split):
        if t.category != "replanning":
            continue
        a = t.answer
        assert a["type"] == "replan" and int(a["loop"]) == int(t.target["loop"]) >= 1, t.id
        extra = t.model_extra or {}
        roles = set(extra.get("roles") or ([f.role for f in get_case(t.case).files] if t.case else t.files))
        for m in a["members"]:
            needs = set(get_tool(m).needs or ())
            assert not needs or needs & roles, (t.id, m, sorted(roles))
        assert 1 <= int(a["min"]) <= int(a["max"]) <= len(a["members"]), t.id


def test_files_cases_are_described_alike():
    """Tasks sharing a case_id share one case file: same files, time and place."""
    seen: dict[str, str] = {}
    for t in _tasks("test"):
        extra = t.model_extra or {}
        if extra.get("case_id"):
            key = json.dumps([t.files, extra.get("time"), extra.get("location")], sort_keys=True)
            assert seen.setdefault(extra["case_id"], key) == key, t.id


def test_test_split_hazard_tasks_cover_every_files_case():
    """Every files case of the test split with a radar volume or product has a report and a
    verification task (the public record, the season and place, or the data rule the
    hazard out), so each diagnosis is scored."""
    by_case: dict[str, set[str]] = {}
    for t in _tasks("test"):
        cid = (t.model_extra or {}).get("case_id")
        if cid:
            by_case.setdefault(cid, set()).add(t.category)
    assert len(by_case) >= 20
    for cid, cats in by_case.items():
        assert {"report", "verification", "loop", "hypothesis"} <= cats, (cid, cats)


def test_oracle_scores_one_and_random_is_printed_beside_it(tmp_path, capsys):
    from hvrmet.benchmark.runner import run_benchmark

    lines = []
    for split in SPLITS:
        oracle = run_benchmark(split, out=tmp_path / f"{split}-o", progress=False, answerer="oracle")
        rnd = run_benchmark(split, out=tmp_path / f"{split}-r", progress=False, answerer="random")
        assert oracle["pass_rate"] == 1.0 and oracle["tasks"] == len(_tasks(split))
        assert all(v["pass_rate"] == 1.0 for v in oracle["by_category"].values())
        assert rnd["pass_rate"] < 0.45
        lines.append(f"{split}: oracle {oracle['pass_rate']:.2f}, random {rnd['pass_rate']:.2f} "
                     f"({rnd['passed']}/{rnd['tasks']})")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert task_set_path("test").is_file()
