#!/usr/bin/env bash
# Mutation run (mutmut 3, config in pyproject.toml [tool.mutmut]) over the condition evaluation
# (hvrmet/knowledge/conditions.py), the evidence accounting (hvrmet/agents/accounting.py) and the
# status rules of hvrmet/agents/expert.py, against tests/test_accounting.py only.
#
# It runs in a throw-away copy (HEAD, plus the working-tree versions of the files under test), so
# mutmut's mutants/ folder never lands in the repository. Prints the kill rate per module and the
# surviving mutants; exits 1 when a module kills fewer than FAIL_UNDER % (default 80).
#
#   tools/mutation.sh [WORKDIR]        (default: a new /tmp/hvrmet-mutation.XXXXXX)
#   MAX_CHILDREN=2 FAIL_UNDER=80 PYTHON=.venv/bin/python   (environment, optional)
#   MODE=bench tools/mutation.sh       the benchmark's scorers (hvrmet/benchmark/scorers.py) against
#                                      tests/test_bench_scorers.py; the copy's [tool.mutmut] is rewritten
#                                      for it (the repository's stays as it is)
#   MODE=module MUTATE=hvrmet/tools/upper_air.py TESTS=tests/test_upper_air.py tools/mutation.sh
#                                      any one module against the tests named (space-separated), the same way
#   ONLY='hvrmet.calc.radar.x_weak_echo_regions__mutmut_*' MODE=module MUTATE=... TESTS=... tools/mutation.sh
#                                      only the mutants matching the glob(s) (space-separated) are run and
#                                      counted: one function of a large module
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel)
work=${1:-$(mktemp -d /tmp/hvrmet-mutation.XXXXXX)}
py=${PYTHON:-$repo/.venv/bin/python}
mkdir -p "$work"
git -C "$repo" archive HEAD | tar x -C "$work"
for f in pyproject.toml tests/conftest.py tests/test_accounting.py \
         hvrmet/knowledge/conditions.py hvrmet/agents/accounting.py hvrmet/agents/expert.py; do
    cp "$repo/$f" "$work/$f"
done
mode=${MODE:-accounting}
if [ "$mode" = bench ]; then
    MUTATE=hvrmet/benchmark/scorers.py
    TESTS=tests/test_bench_scorers.py
    cp "$repo/hvrmet/benchmark/tasks.py" "$work/hvrmet/benchmark/tasks.py"
fi
if [ "$mode" = bench ] || [ "$mode" = module ]; then
    : "${MUTATE:?MODE=module needs MUTATE=path/to/module.py}" "${TESTS:?MODE=module needs TESTS=tests/...}"
    for f in $MUTATE $TESTS; do
        cp "$repo/$f" "$work/$f"
    done
    "$py" - "$work/pyproject.toml" "$MUTATE" $TESTS <<'PY'
import json, re, sys

p, mutate, tests = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(p, encoding="utf-8").read()
section = (f'[tool.mutmut]\nsource_paths = ["hvrmet/"]\nonly_mutate = [{json.dumps(mutate)}]\n'
           f'pytest_add_cli_args_test_selection = {json.dumps(tests)}\n'
           'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n')
text = re.sub(r"\[tool\.mutmut\]\n(?:[^\[].*\n|\n)*", section + "\n", text, count=1)
open(p, "w", encoding="utf-8").write(text)
PY
fi
if [ -z "${HVRMET_DATA_DIR:-}" ] && [ -f "$repo/../shared/data/MANIFEST.tsv" ]; then
    export HVRMET_DATA_DIR=$(cd "$repo/../shared/data" && pwd)
fi
export MPLBACKEND=Agg PATH="$(dirname "$py"):$PATH"
cd "$work"
echo "mutation run in $work"
# shellcheck disable=SC2086 # ONLY holds space-separated globs, each one argument
"$py" -m mutmut run --max-children "${MAX_CHILDREN:-2}" ${ONLY:-} > mutmut-run.log 2>&1 || { tail -c 2000 mutmut-run.log; exit 2; }
"$py" -m mutmut results --all true > results.txt 2>/dev/null
if [ -n "${ONLY:-}" ]; then
    "$py" - results.txt $ONLY <<'PY'
import fnmatch, sys
path, globs = sys.argv[1], sys.argv[2:]
keep = [l for l in open(path, encoding="utf-8")
        if ": " in l and any(fnmatch.fnmatchcase(l.strip().rsplit(": ", 1)[0], g) for g in globs)]
open(path, "w", encoding="utf-8").writelines(keep)
PY
fi
"$py" - "${FAIL_UNDER:-80}" <<'PY'
import collections, re, subprocess, sys

fail_under = float(sys.argv[1])
# expert.py: only the status rules are under test here; its other functions are reported apart
scope = {"hvrmet.agents.expert": {"ǁExpertPolicyǁ_status", "ǁExpertPolicyǁrelevant_aspects"}}
if __import__("os").environ.get("MODE") in ("bench", "module"):
    scope = {}
per_module, per_function, survivors = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter), []
for line in open("results.txt", encoding="utf-8"):
    if ": " not in line:
        continue
    name, status = line.strip().rsplit(": ", 1)
    module, _, rest = name.partition(".x")
    function = re.sub(r"__mutmut_\d+$", "", rest).lstrip("_")
    per_function[(module, function)][status] += 1
    if module in scope and function.lstrip("_") not in {f.lstrip("_") for f in scope[module]}:
        continue
    per_module[module][status] += 1
    if status != "killed":
        survivors.append((name, status))
print("\nper function (generated: killed / survived / no tests / other)")
for (module, function), c in sorted(per_function.items()):
    n = sum(c.values())
    print(f"  {module}.{function}: {n}: {c['killed']} / {c['survived']} / {c['no tests']} / "
          f"{n - c['killed'] - c['survived'] - c['no tests']}")
print("\nper module (expert.py: _status and relevant_aspects); every mutant not killed counts against it")
ok = True
for module, c in sorted(per_module.items()):
    n = sum(c.values())
    rate = 100.0 * c["killed"] / n if n else 0.0
    ok &= rate >= fail_under
    print(f"  {module}: {n} generated, {c['killed']} killed, {n - c['killed']} not killed ({dict(c)}): {rate:.1f} %")
print(f"\n{len(survivors)} mutants not killed (mutmut show NAME in this folder for the diff)")
for name, status in survivors:
    diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True).stdout
    changed = [l for l in diff.splitlines() if l[:1] in "+-" and l[:3] not in ("+++", "---")]
    print(f"  {name} [{status}]")
    for l in changed:
        print(f"      {l.strip()[:150]}")
sys.exit(0 if ok else 1)
PY
