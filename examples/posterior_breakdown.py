"""Why a posterior is what it is: the prior and every term of its sum, from the ledger the
offline expert policy keeps for each hypothesis.

    python examples/posterior_breakdown.py [CASE] [--out DIR]
"""

import argparse

import hvrmet
from hvrmet.runs import RunStore
from hvrmet.units import format_units

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("case", nargs="?", default="may1999")
ap.add_argument("--out", default="out/examples")
args = ap.parse_args()

result = hvrmet.diagnose(args.case, out_dir=args.out, figures=False)
lead = result.leading() or max(result.hypotheses, key=lambda h: h.posterior)
# the full state (with the ledgers) is in the run's trace
import json  # noqa: E402

trace = json.loads(open(result.report.trace).read())
h = next(x for x in trace["hypotheses"] if x["id"] == lead.id)
led = h["ledger"]
print(f"{h['id']} {h['hazard']}: {h['status']}, posterior {h['posterior']:.2f}")
print(f"  {led['logit_prior']:+.2f}  log-odds of the prior {led['prior']:.2f}")
for c in led["contributions"]:
    if c["counted"]:
        value = f"{c['value']:.4g}" if isinstance(c["value"], float) else c["value"]
        print(f"  {c['weight']:+.2f}  {c['tool']}.{c['field']} = {value} {format_units(c['units'])} {c['op']} "
              f"{c['threshold']} {format_units(c['threshold_units'])} ({c['meaning']}, {c['card'] or c['condition']}, "
              f"{c['evidence_id']})")
print(f"  = {led['total']:+.2f} -> posterior {led['posterior']:.2f}; aspects: {', '.join(led['aspects'])}")
with RunStore(args.out) as store:
    print(f"{len(store.list_runs())} run(s) in {store.path}")
