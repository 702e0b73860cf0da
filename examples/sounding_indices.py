"""Registry tools one by one on a case's sounding: each result comes with its units and
the sha256 of the file it read.

    python examples/sounding_indices.py [CASE]
"""

import argparse

import hvrmet
from hvrmet.units import format_units

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("case", nargs="?", default="may1999")
args = ap.parse_args()

case = hvrmet.load_case(args.case)
snd = case["sounding"]
print(f"{args.case}: sounding with {snd.sizes['level']} levels from {float(snd['pressure'].max()):.0f} hPa "
      f"to {float(snd['pressure'].min()):.0f} hPa")
for tool in ("compute_sbcape", "compute_mlcape", "compute_bulk_shear", "compute_helicity", "compute_tornado_parameter"):
    res = hvrmet.call_tool(tool, {"case": args.case})
    if not res.ok:
        print(f"{tool}: {res.error}")
        continue
    vals = ", ".join(f"{k} {v.value:.4g} {format_units(v.units)}".rstrip() for k, v in res.values.items()
                     if isinstance(v.value, (int, float)) and not isinstance(v.value, bool))
    print(f"{tool}: {vals}  [{res.files[0].sha256[:12]}]")
