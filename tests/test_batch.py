"""Batch case studies on a Dask LocalCluster: completion, reruns, a failing case, a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml

from hvrmet.batch import run_batch

CASES = ["null-jan20", "null-dec9", "oun20110522"]


def test_batch_completes_and_rerun_skips(tmp_path, data_dir):
    rows = run_batch(CASES, out=tmp_path, workers=2, figures=False, progress=False)
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert (tmp_path / "summary.md").read_text().count("| ok |") == 3
    assert "accepted hazards" in (tmp_path / "summary.csv").read_text().splitlines()[0]
    mtimes = {c: (tmp_path / c / "status.json").stat().st_mtime_ns for c in CASES}
    run_batch(CASES, out=tmp_path, workers=2, figures=False, progress=False)
    assert mtimes == {c: (tmp_path / c / "status.json").stat().st_mtime_ns for c in CASES}


def test_corrupted_case_fails_with_message_others_succeed(tmp_path, data_dir):
    d = tmp_path / "data"
    d.mkdir()
    src = (data_dir / "metpy/staticdata/jan20_sounding.txt").read_bytes()
    cut = src.index(b"\n", len(src) // 3) + 4  # a few bytes into a line: truncated mid-line
    (d / "snd.txt").write_bytes(src[:cut])
    bad = tmp_path / "corrupt.yaml"
    bad.write_text(yaml.safe_dump({"id": "corrupt", "title": "t", "time": "2013-01-20T12:00:00Z",
                                   "location": {"lat": 35.18, "lon": -97.44}, "data_dir": "data",
                                   "files": [{"role": "sounding", "format": "uwyo_sounding", "path": "snd.txt"}]}))
    rows = {r["case"]: r for r in run_batch(["null-jan20", str(bad)], out=tmp_path / "out", workers=2,
                                            figures=False, progress=False)}
    assert rows["null-jan20"]["status"] == "ok"
    assert rows[str(bad)]["status"] == "failed" and "truncated" in rows[str(bad)]["message"]


def test_killed_midway_rerun_finishes_only_the_rest(tmp_path, data_dir):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hvrmet.cli", "batch", *CASES, "--workers", "1", "--out", str(out), "--no-figures"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 300 and not any((out / c / "status.json").exists() for c in CASES):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    done_first = {c: (out / c / "status.json").stat().st_mtime_ns for c in CASES if (out / c / "status.json").exists()}
    assert 1 <= len(done_first) < len(CASES)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    for c in CASES:
        assert json.loads((out / c / "status.json").read_text())["ok"]
    assert done_first == {c: (out / c / "status.json").stat().st_mtime_ns for c in done_first}
