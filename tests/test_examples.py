"""The example gallery: every script under examples/ runs on the real data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
EXPECT = {  # a line each script must print (checked against the data, not hvrmet's own numbers)
    "diagnose_a_case.py": "tornadic_supercell",
    "posterior_breakdown.py": "log-odds of the prior",
    "sounding_indices.py": "compute_sbcape: sbcape 2470 J/kg",  # MetPy's surface CAPE of the OUN sounding
    "storm_structure.py": "wrote",  # the figure (drawn only when a weak-echo region is found)
    "your_own_files.py": "odim_h5",
}


def test_every_example_is_listed():
    assert {p.name for p in EXAMPLES} == set(EXPECT)
    readme = (ROOT / "examples" / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in EXPECT)


@pytest.mark.realdata
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path, data_dir):
    r = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)] if script.name != "sounding_indices.py"
                       else [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                       env={**os.environ, "HVRMET_DATA_DIR": str(data_dir), "MPLBACKEND": "Agg"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert EXPECT[script.name] in r.stdout, r.stdout[-3000:]
    assert "Traceback" not in r.stderr
