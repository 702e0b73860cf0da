"""The command line: tables, JSON, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def hvrmet(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hvrmet.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"})


def test_cases_list_table_and_json():
    res = hvrmet("cases", "list")
    assert res.returncode == 0, res.stderr
    for cid in ("may1999", "katrina2005", "knmi20100826", "null-jan20"):
        assert cid in res.stdout
    data = json.loads(hvrmet("cases", "list", "--json").stdout)
    assert len(data) >= 15 and {"id", "title", "time", "location", "files", "events"} <= set(data[0])


def test_cases_show(data_dir):
    res = hvrmet("cases", "show", "may1999")
    assert res.returncode == 0, res.stderr
    assert "reflectivity" in res.stdout and "dBZ" in res.stdout
    assert "1999-05-03 23:56" in res.stdout and "KTLX" in res.stdout


def test_cases_load_some(data_dir):
    res = hvrmet("cases", "load", "may1999", "null-dec9", "mci20160526")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("ok") >= 12


def test_errors_are_one_line_without_traceback(tmp_path, data_dir):
    res = hvrmet("cases", "show", "nosuchcase")
    assert res.returncode == 2
    assert "unknown case 'nosuchcase'" in res.stderr and "Traceback" not in res.stderr
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "snd.txt").write_text("not a sounding\n")
    (tmp_path / "c.yaml").write_text(
        "id: broken\ntitle: broken\ntime: 2020-01-01T00:00Z\nlocation: {lat: 0, lon: 0}\n"
        "files: [{role: sounding, format: uwyo_sounding, path: snd.txt}]\n")
    res = hvrmet("cases", "show", str(tmp_path / "c.yaml"), "--data-dir", str(tmp_path / "d"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "snd.txt" in res.stderr and "not a UWyo sounding" in res.stderr
    res = hvrmet("cases", "load", str(tmp_path / "c.yaml"), "--data-dir", str(tmp_path / "d"))
    # the message sits in a table cell, which wraps when the temporary path is long
    flat = " ".join(re.sub("[\u2500-\u257f]", " ", res.stdout).split())
    assert res.returncode == 2 and "not a UWyo sounding" in flat


