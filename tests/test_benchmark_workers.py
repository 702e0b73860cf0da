"""``hvrmet bench run --workers N``: worker processes started with ``spawn``.

Two threads of one process reading CfRadial/ODIM files at once crashed the run (SIGBUS
inside netCDF4: the HDF5 and netCDF-C libraries are not thread-safe). The workers are now
separate spawned processes, each with its own readers and diagnoses, and the tasks that
share a case run in one of them.
"""

from __future__ import annotations

import json
import os

from hvrmet.benchmark.runner import START_METHOD, run_benchmark, task_groups
from hvrmet.benchmark.tasks import Task

WHOLE = 20038.0  # km: the whole view


def _tasks() -> list[dict]:
    kasacr = {"radar_volume": "open-radar-data/data/houkasacrcfrM1.a1.20210922.150006.nc"}
    where = {"time": "2021-09-22T15:00:06Z", "location": {"lat": 29.6705, "lon": -95.0587}, "case_id": "w-kasacr"}
    odim = {"radar_volume": "open-radar-data/data/T_PAZB63_C_LFPW_20230420065125.h5"}
    where_odim = {"time": "2023-04-20T06:51:25Z", "location": {"lat": 50.1283, "lon": 3.8118}, "case_id": "w-odim"}
    mx = {"quantity": "max_reflectivity", "args": {"radius": WHOLE}}
    num = {"type": "number", "value": 0.0, "units": "dBZ", "rtol": 0.0, "atol": 0.5}
    nocape = {"quantity": "sbcape", "args": {}}
    abstain = {"type": "abstain", "reason": ["missing_variable"]}
    return [
        {"id": "w-kasacr-max", "category": "index", "files": kasacr, **where, "question": "?", "target": mx,
         "answer": num, "source": "test"},
        {"id": "w-kasacr-cape", "category": "abstention", "files": kasacr, **where, "question": "?", "target": nocape,
         "answer": abstain, "source": "test"},
        {"id": "w-mll-max", "category": "index", "case": "mll20220628", "question": "?", "target": mx, "answer": num,
         "source": "test"},
        {"id": "w-mll-debris", "category": "abstention", "case": "mll20220628", "question": "?",
         "target": {"quantity": "debris_signature_flag", "args": {}}, "answer": abstain, "source": "test"},
        {"id": "w-odim-max", "category": "index", "files": odim, **where_odim, "question": "?", "target": mx,
         "answer": num, "source": "test"},
        {"id": "w-jan20-hyp", "category": "hypothesis", "case": "null-jan20", "question": "?",
         "target": {"hazard": "no_severe_hazard"}, "answer": {"type": "ranked", "value": "no_severe_hazard"},
         "source": "test"},
    ]


def _rows(out) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}


def test_groups_keep_a_case_together():
    tasks = [Task.model_validate(t) for t in _tasks()]
    groups = task_groups(tasks)
    ids = [[t.id for t in g] for g in groups]
    assert ids[0] == ["w-jan20-hyp"]  # the diagnosis first
    assert ["w-kasacr-max", "w-kasacr-cape"] in ids and ["w-mll-max", "w-mll-debris"] in ids
    assert sum(map(len, ids)) == len(tasks)


def test_two_workers_run_in_spawned_processes_and_agree_with_one(tmp_path, data_dir):
    assert START_METHOD == "spawn"
    f = tmp_path / "tasks.jsonl"
    f.write_text("".join(json.dumps(t) + "\n" for t in _tasks()))
    one = run_benchmark(f, out=tmp_path / "one", progress=False, workers=1)
    two = run_benchmark(f, out=tmp_path / "two", progress=False, workers=2)
    a, b = _rows(tmp_path / "one"), _rows(tmp_path / "two")
    assert set(a) == set(b) == {t["id"] for t in _tasks()}
    for k in a:
        assert not str(b[k]["detail"]).startswith("error:"), (k, b[k]["detail"])
        assert (a[k]["passed"], a[k]["detail"]) == (b[k]["passed"], b[k]["detail"]), k
    assert two["tasks"] == one["tasks"] == 6
    # the workers were other processes (never this one); a case's tasks ran in one of them
    pids = {r["worker"] for r in b.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert b["w-kasacr-max"]["worker"] == b["w-kasacr-cape"]["worker"]
    assert b["w-mll-max"]["worker"] == b["w-mll-debris"]["worker"]
    assert {r["worker"] for r in a.values()} == {os.getpid()}
    # resumed: nothing runs again
    again = run_benchmark(f, out=tmp_path / "two", progress=False, workers=2)
    assert again["tasks"] == 6 and len((tmp_path / "two" / "results.jsonl").read_text().splitlines()) == 6
