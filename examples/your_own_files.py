"""A case from files as a forecaster has them: point hvrmet at a folder (or files), let it
sniff each format from its bytes, assign roles and read the time and place from the data,
then diagnose it.

    python examples/your_own_files.py PATH... [--out DIR]

With no path it uses the ODIM_H5 polar volume of the Norwegian radar in the data folder.
"""

import argparse
import os
from pathlib import Path

import hvrmet
from hvrmet.cases.assemble import assemble_case, write_case

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("paths", nargs="*")
ap.add_argument("--out", default="out/examples")
args = ap.parse_args()

paths = args.paths or [Path(os.environ["HVRMET_DATA_DIR"]) / "open-radar-data" / "data"
                       / "T_PAGZ35_C_ENMI_20170421090837.hdf"]
asm = assemble_case(paths)
for w in asm.warnings:
    print("left out:", w)
for f in asm.case.files:
    print(f"{f.role:<16} {f.format:<14} {f.path}")
print(f"time {asm.case.time:%Y-%m-%d %H:%M} UTC at {asm.case.location.lat:.3f}, {asm.case.location.lon:.3f}"
      + (f" ({asm.case.notes})" if asm.case.notes else ""))
case_file = write_case(asm.case, Path(args.out) / f"{asm.case.id}.yaml")
result = hvrmet.diagnose(str(case_file), out_dir=args.out, figures=False)
print(f"{result.case}: {result.outcome}")
for h in result.hypotheses:
    print(f"  {h.id:<3} {h.hazard:<24} {h.status:<13} posterior {h.posterior:.2f}")
