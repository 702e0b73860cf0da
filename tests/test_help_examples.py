"""Every example a command's help gives works as written (run through the CLI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


def _help(*cmd: str) -> str:
    r = subprocess.run([sys.executable, "-m", "hvrmet.cli", *cmd, "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "400"})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.realdata
def test_tools_run_help_example_works(tmp_path, data_dir):
    text = " ".join(_help("tools", "run").split())
    m = re.search(r"e\.g\. ((?:--arg '[^']+' ?)+) for (\w+)", text)
    assert m, text
    args = re.findall(r"--arg '([^']+)'", m.group(1))
    cmd = [sys.executable, "-m", "hvrmet.cli", "tools", "run", m.group(2), "--case", "may1999", "--out", str(tmp_path)]
    for a in args:
        cmd += ["--arg", a]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "HVRMET_DATA_DIR": str(data_dir)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in r.stdout.lower() and "Traceback" not in r.stderr


@pytest.mark.realdata
def test_every_tool_example_validates(data_dir):
    """The example arguments each tool declares (shown by ``hvrmet tools schema``) are valid inputs."""
    from hvrmet.tools import list_tools

    for t in list_tools():
        t.input_model.model_validate({"case": "may1999", **t.example})
