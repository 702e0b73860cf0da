"""The layering of the package, as import-linter contracts (``[tool.importlinter]`` in
pyproject.toml): each layer imports only the layers below it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache", "--config", str(cwd / "pyproject.toml")], cwd=cwd,
                          capture_output=True, text=True, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_layers_are_kept():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 kept, 0 broken" in r.stdout


def test_a_back_import_breaks_the_contract(tmp_path):
    """The graph layer importing the OpenAI brain (the old ``agents -> llm`` cycle) fails."""
    shutil.copytree(ROOT / "hvrmet", tmp_path / "hvrmet", ignore=shutil.ignore_patterns("__pycache__", "*.pt"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    common = tmp_path / "hvrmet" / "agents" / "common.py"
    common.write_text(common.read_text() + "\nfrom hvrmet.llm import openai_brain  # noqa\n")
    r = _lint(tmp_path)
    assert r.returncode != 0
    assert "hvrmet.agents is not allowed to import hvrmet.llm" in r.stdout
    assert "hvrmet.agents.common -> hvrmet.llm" in r.stdout
