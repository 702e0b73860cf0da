"""A real sounding whose winds end below 6 km: the diagnosis says which kinematic
quantities are not computable, and why, in the report (the issue's acceptance point)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

SRC = "metpy/staticdata/20110522_OUN_12Z.txt"
CUT_M = 5600.0  # winds removed above this height (MSL)


def _cut_winds(src: Path, dst: Path) -> float:
    """Write ``src`` with wind speed and direction blanked above CUT_M; return the height
    above ground of the last wind left (read independently with pandas)."""
    lines = src.read_text().split("\n")
    out = []
    for ln in lines:
        try:
            h = float(ln[7:14])
        except ValueError:
            out.append(ln)
            continue
        out.append(ln[:49] + " " * 14 + ln[63:] if h > CUT_M and len(ln) >= 63 else ln)
    dst.write_text("\n".join(out))  # no final newline, as the file is
    cols = [(0, 7), (7, 14), (14, 21), (21, 28), (28, 35), (35, 42), (42, 49), (49, 56), (56, 63)]
    df = pd.read_fwf(dst, colspecs=cols, skiprows=5, header=None,
                     names=["p", "z", "t", "td", "rh", "mr", "drct", "sknt", "x"]).apply(pd.to_numeric, errors="coerce")
    df = df[df.p.notna()]
    surface = df[df.t.notna()].iloc[0].z
    return float(df[df.sknt.notna()].z.max() - surface)


def test_short_wind_profile_is_reported_not_computable_with_its_reason(tmp_path, data_dir):
    snd = tmp_path / "OUN_12Z_short_winds.txt"
    top = _cut_winds(data_dir / SRC, snd)
    assert 4000 < top < 6000
    out = tmp_path / "out"
    env = {**os.environ, "HVRMET_DATA_DIR": str(data_dir), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, "-c", "from hvrmet.cli import main; main()", "diagnose", str(snd), "--no-figures", "--out", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = next(out.rglob("report.md")).read_text()
    assert f"wind reaches only {top:.0f} m above ground" in report
    for field, need in [("shear_0_6km", "winds to 6 km above ground"),
                        ("srh_0_1km", "a storm motion, from winds to 6 km above ground")]:
        line = next((ln for ln in report.splitlines() if f"{field} not computable" in ln), None)
        assert line is not None, f"{field} is not said to be not computable"
        assert need in line
    # the blank cells are explained, never left empty: every n/a row of the tables names its reason
    na_rows = [ln for ln in report.splitlines() if ln.startswith("| [E") and "| n/a |" in ln]
    assert na_rows and all("not computable:" in ln or "tool error" in ln for ln in na_rows)
