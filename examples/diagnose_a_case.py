"""Diagnose a catalogue case offline and print what the loop concluded.

    python examples/diagnose_a_case.py [CASE] [--out DIR]
"""

import argparse

import hvrmet

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("case", nargs="?", default="may1999", help="catalogue id or case file")
ap.add_argument("--out", default="out/examples", help="output folder")
args = ap.parse_args()

result = hvrmet.diagnose(args.case, out_dir=args.out, figures=False)
print(f"{result.case}: {result.outcome} after {result.loops} loop(s), {result.tool_calls} tool calls")
for h in result.hypotheses:
    print(f"  {h.id:<3} {h.hazard:<24} {h.status:<13} posterior {h.posterior:.2f}")
print(f"report: {result.report.html}")
