"""The benchmark harness on task files written elsewhere, and with the LLM brain against
a scripted local OpenAI-compatible server."""

from __future__ import annotations

import json
import shutil

from hvrmet.benchmark.runner import run_benchmark
from hvrmet.testing.openai_server import ScriptedOpenAIServer


def _foreign_tasks(tmp_path, data_dir):
    mine = tmp_path / "elsewhere"
    (mine / "snd").mkdir(parents=True)
    shutil.copy(data_dir / "metpy/staticdata/may4_sounding.txt", mine / "snd" / "oun.txt")
    tasks = [
        {"id": "x-cape", "category": "index", "files": {"sounding": "snd/oun.txt"},
         "location": {"lat": 35.18, "lon": -97.44}, "time": "1999-05-04T00:00:00Z",
         "question": "What is the surface-based CAPE of this sounding?", "target": {"quantity": "sbcape"},
         "answer": {"type": "number", "value": 2470.5, "units": "J/kg", "rtol": 0.02, "atol": 5},
         "source": "MetPy surface_based_cape_cin"},
        {"id": "x-srh", "category": "index", "files": {"sounding": "snd/oun.txt"},
         "location": {"lat": 35.18, "lon": -97.44}, "time": "1999-05-04T00:00:00Z",
         "question": "How much 0-1 km storm-relative helicity is there?", "target": {"quantity": "srh_0_1km"},
         "answer": {"type": "number", "value": 228.0, "units": "m^2/s^2", "rtol": 0.05, "atol": 5},
         "source": "MetPy storm_relative_helicity, Bunkers right mover"},
        {"id": "x-wrong", "category": "index", "files": {"sounding": "snd/oun.txt"},
         "location": {"lat": 35.18, "lon": -97.44}, "time": "1999-05-04T00:00:00Z",
         "question": "What is the surface-based CAPE?", "target": {"quantity": "sbcape"},
         "answer": {"type": "number", "value": 900.0, "units": "J/kg", "rtol": 0.02, "atol": 5},
         "source": "a deliberately wrong gold value"},
        {"id": "x-hyp", "category": "hypothesis", "case": "null-jan20", "question": "Is anything severe likely?",
         "target": {"hazard": "no_severe_hazard"}, "answer": {"type": "label", "value": "no_severe_hazard"},
         "source": "stable sounding"},
    ]
    f = tmp_path / "tasks" / "mine.jsonl"
    f.parent.mkdir()
    f.write_text("\n".join(json.dumps(t) for t in tasks) + "\n")
    return f, mine


def test_foreign_task_file_with_data_elsewhere(tmp_path, data_dir):
    f, mine = _foreign_tasks(tmp_path, data_dir)
    out = tmp_path / "out"
    summary = run_benchmark(f, data_dir=str(mine), out=out, progress=False)
    rows = {json.loads(x)["id"]: json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()}
    assert rows["x-cape"]["passed"] and rows["x-srh"]["passed"]
    assert not rows["x-wrong"]["passed"]
    assert rows["x-hyp"]["passed"] and rows["x-hyp"]["loops"][0]["gold_present"]
    assert summary["by_category"]["index"]["tasks"] == 3
    # a rerun resumes: nothing is run again
    again = run_benchmark(f, data_dir=str(mine), out=out, progress=False)
    assert again["tasks"] == 4 and len((out / "results.jsonl").read_text().splitlines()) == 4


def test_llm_brain_runs_the_same_tasks(tmp_path, data_dir):
    f, mine = _foreign_tasks(tmp_path, data_dir)

    def responder(req):
        last = req["messages"][-1]
        text = last["content"] or ""
        if last["role"] == "tool":  # the tool's result: answer with the number it gave
            res = json.loads(text)["values"]
            key = "srh_0_1km" if "srh_0_1km" in res else "sbcape"
            return json.dumps({"value": res[key]["value"], "units": res[key]["units"]})
        if req.get("tools"):
            name = "compute_helicity" if "helicity" in text else "compute_sbcape"
            return {"tool_calls": [(name, {"case": "ignored"})]}
        if "Propose" in text:
            return {"proposals": [{"hazard": "no_severe_hazard", "statement": "stable", "prior": 0.6, "rationale": "no CAPE"}]}
        if "Update each hypothesis" in text:
            return {"assessments": [{"hypothesis_id": "H1", "posterior": 0.9, "status": "supported", "rationale": "CAPE 0"}],
                    "new_checks": [], "stop": True, "reason": "done"}
        return "No severe hazard."

    with ScriptedOpenAIServer(responder=responder) as srv:
        summary = run_benchmark(f, data_dir=str(mine), out=tmp_path / "llm", progress=False, llm="openai",
                                base_url=srv.base_url, model="m", api_key="x")
        assert any(r.get("tools") for r in srv.requests)
    rows = {json.loads(x)["id"]: json.loads(x) for x in (tmp_path / "llm" / "results.jsonl").read_text().splitlines()}
    assert rows["x-cape"]["passed"] and rows["x-srh"]["passed"] and not rows["x-wrong"]["passed"]
    assert rows["x-hyp"]["passed"]
    assert summary["tokens"] > 0


def test_dev_task_set_is_complete_and_scores(tmp_path, data_dir):
    """The shipped dev set (hvrmet/benchmark/data/dev.jsonl): >= 400 tasks, >= 30 per category,
    development cases only; a slice runs."""
    from collections import Counter
    from pathlib import Path

    import yaml

    import hvrmet.benchmark
    from hvrmet.benchmark.tasks import CATEGORIES, load_tasks, task_set_path
    from hvrmet.cases import list_cases

    f = task_set_path("dev")
    assert f.parent == Path(hvrmet.benchmark.__file__).parent / "data"
    tasks = load_tasks(f)
    counts = Counter(t.category for t in tasks)
    assert len(tasks) >= 400 and all(counts[c] >= 30 for c in CATEGORIES), counts
    ids = {c.id for c in list_cases()}
    dev = set(yaml.safe_load((f.parent / "events.yaml").read_text())["dev_cases"])
    assert all(t.case in ids and t.case in dev for t in tasks)
    assert all(t.source for t in tasks)
    subset = [t for t in tasks if t.category in ("index", "signal")][:12]
    sub = tmp_path / "sub.jsonl"
    sub.write_text("\n".join(t.model_dump_json() for t in subset) + "\n")
    summary = run_benchmark(sub, out=tmp_path / "o", progress=False)
    assert summary["pass_rate"] >= 0.75


def test_test_split_is_apart_from_the_development_cases():
    """test.jsonl uses no development case and no file of one."""
    import yaml

    from hvrmet.benchmark.tasks import load_tasks, task_set_path
    from hvrmet.cases import get_case

    f = task_set_path("test")
    dev = set(yaml.safe_load((f.parent / "events.yaml").read_text())["dev_cases"])
    dev_files = {fl.path or fl.glob for c in dev for fl in get_case(c).files}
    tasks = load_tasks(f)
    assert len(tasks) >= 150
    for t in tasks:
        assert (t.case is None) != (t.files is None)
        if t.case:
            assert t.case not in dev, t.id
        else:
            paths = {v if isinstance(v, str) else v["path"] for v in t.files.values()}
            assert not paths & dev_files, t.id


def test_oracle_satisfies_every_task_and_random_stays_near_chance(tmp_path):
    """The oracle (the gold written as the system answers) passes every task of both splits:
    each is satisfiable. The random answerer stays far below."""
    for split in ("dev", "test"):
        oracle = run_benchmark(split, out=tmp_path / f"{split}-oracle", progress=False, answerer="oracle")
        assert oracle["pass_rate"] == 1.0, [r for r in (tmp_path / f"{split}-oracle" / "results.jsonl").read_text()
                                            .splitlines() if '"passed": false' in r][:3]
        rnd = run_benchmark(split, out=tmp_path / f"{split}-random", progress=False, answerer="random", seed=1)
        assert rnd["pass_rate"] < 0.45, rnd["by_category"]
    dev_random = run_benchmark("dev", out=tmp_path / "dev-random", progress=False, answerer="random")
    assert dev_random["by_category"]["index"]["pass_rate"] < 0.05


def test_single_data_type_case_and_files_case(tmp_path, data_dir):
    """A task's ``roles`` keep a catalogue case to those roles; tasks naming one case_id share
    one case file; files are relative to the data folder by default."""
    from hvrmet.benchmark.runner import BenchContext
    from hvrmet.benchmark.tasks import Task
    from hvrmet.cases import get_case

    ctx = BenchContext(out=tmp_path)
    t = Task.model_validate({"id": "x", "category": "loop", "case": "may1999", "roles": ["sounding"],
                             "question": "?", "target": {}, "answer": {"type": "loop"}})
    c = get_case(ctx.case_of(t))
    assert c.roles == ["sounding"] and c.id == "may1999-only-sounding" and not c.events
    f = {"radar_volume": "open-radar-data/data/sample_rainbow_5_59.vol"}
    a = Task.model_validate({"id": "a", "category": "abstention", "files": f, "case_id": "t1", "question": "?",
                             "target": {"hazard": "x"}, "answer": {"type": "abstain"}})
    b = Task.model_validate({"id": "b", "category": "abstention", "files": f, "case_id": "t1", "question": "?",
                             "target": {"hazard": "x"}, "answer": {"type": "abstain"}})
    assert ctx.case_of(a) == ctx.case_of(b)
    assert get_case(ctx.case_of(a)).file("radar_volume").format == "rainbow"
