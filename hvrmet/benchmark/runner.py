"""``hvrmet bench run``: every task through the same tool registry and H-V-R graph the
chat uses, scored, with per-loop scores for the tasks that run the loop.

Results go to ``<out>/results.jsonl`` (one line per task, written as each finishes, so an
interrupted run resumes where it stopped) and ``<out>/summary.json``.

Workers (``workers > 1``) are separate processes started with the ``spawn`` method, never
threads of one process and never forked copies of it: the HDF5 and netCDF-C libraries
behind h5py, netCDF4 and xradar are not thread-safe (two threads opening CfRadial or ODIM
files at once end the process with SIGBUS/SIGSEGV inside ``netCDF4``), and a forked child
inherits the parent's HDF5 state and its running threads. Each process has its own
:class:`BenchContext`; the tasks that share a diagnosis (one case, or one ``case_id``) go
to one process as a group, so every diagnosis still runs once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml

from hvrmet.benchmark.scorers import _rank_of, canonical_hazard, entropy, hazard_lineage, rank_hypotheses, score
from hvrmet.benchmark.tasks import LOOP_CATEGORIES, PLOT_TOOL, Task, load_tasks, tool_for_quantity

__all__ = ["run_benchmark", "run_task", "summarize", "BenchContext", "per_loop", "loop_table", "hypotheses_at",
           "task_groups", "START_METHOD"]

#: How worker processes start: ``spawn`` (a fresh interpreter; see the module docstring).
START_METHOD = "spawn"


class BenchContext:
    """Shared by the tasks of a run: configuration and one diagnosis per case."""

    def __init__(self, llm: str = "offline", out: Path = Path("out/bench"), data_dir: str | None = None,
                 base_url: str | None = None, model: str | None = None, api_key: str | None = None) -> None:
        from hvrmet.agents.configuration import Configuration

        self.out = Path(out)
        self.data_dir = data_dir
        overrides = {"brain": llm, "out_dir": str(self.out / "runs"), "figures": False, "base_url": base_url,
                     "model": model, "api_key": api_key}
        self.cfg = Configuration.resolve(**overrides)
        from hvrmet.agents.brain import get_brain

        self.brain_capabilities = get_brain(self.cfg).capabilities
        self._runs: dict[str, dict] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def case_of(self, task: Task) -> str:
        """The case a task runs on: a catalogue case (or case file) as it is, the same case
        kept to some of its roles (the task's ``roles``: a single-data-type case), or a case
        file built for a task that gives ``files`` (relative to ``data_dir``, default the
        data registry's folder; tasks naming the same ``case_id`` or the same files share
        one case and one diagnosis)."""
        import hashlib
        import os

        extra = task.model_extra or {}
        if task.case and not extra.get("roles"):
            return task.case
        if task.case:
            from hvrmet.cases import get_case

            base = get_case(task.case)
            roles = list(extra["roles"])
            data = base.model_dump(mode="json", exclude_none=True)
            data["files"] = [f for f in data["files"] if f["role"] in roles]
            missing = set(roles) - {f["role"] for f in data["files"]}
            if missing:
                raise ValueError(f"case {task.case} has no role(s) {sorted(missing)}")
            data["id"] = f"{base.id}-only-{'-'.join(r.replace('_', '-') for r in roles)}"
            data["data_dir"] = str(base.resolved_data_dir() or Path(os.environ.get("HVRMET_DATA_DIR", ".")).resolve())
            data["events"] = []  # the diagnosis never sees the record
        else:
            from hvrmet.data.readers import sniff_format

            root = Path(self.data_dir or os.environ.get("HVRMET_DATA_DIR") or ".")
            files = []
            for role, spec in task.files.items():
                spec = spec if isinstance(spec, dict) else {"path": spec}
                entry = {"role": role, "format": spec.get("format") or sniff_format(root / spec["path"]),
                         "path": spec["path"]}
                if spec.get("options"):
                    entry["options"] = spec["options"]
                files.append(entry)
            key = extra.get("case_id") or ("files-" + hashlib.sha1(json.dumps(
                [task.files, extra.get("time"), extra.get("location")], sort_keys=True).encode()).hexdigest()[:10])
            if not extra.get("case_id") and task.category not in LOOP_CATEGORIES and task.category != "abstention":
                key = task.id
            data = {"id": str(key).lower().replace(".", "-").replace("_", "-"), "title": extra.get("title", task.id),
                    "time": extra.get("time", "2000-01-01T00:00:00Z"),
                    "location": extra.get("location", {"lat": 0.0, "lon": 0.0}), "data_dir": str(root.resolve()),
                    "files": files}
        path = self.out / "cases" / f"{data['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._locks["case-file:" + str(path)]:
            path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        return str(path)

    def diagnosis(self, case: str) -> dict:
        """The final state of the diagnosis of ``case`` (run once per bench run)."""
        from hvrmet.runs import diagnose

        with self._locks[case]:
            if case not in self._runs:
                self._runs[case] = diagnose(case, self.cfg, data_dir=None)
            return self._runs[case]


# -- atomic tasks --------------------------------------------------------------------------
def _latlon(values: dict, q: str) -> dict | None:
    """The position a tool gives with quantity ``q``: ``<q>_lat``/``<q>_lon`` and the usual
    variants, else the ``*_lat`` pair sharing the most words with ``q``."""
    base = q.rsplit("_", 1)[0] if q.endswith(("_id", "_station")) else q
    pairs = [(f"{q}_lat", f"{q}_lon"), (f"{base}_lat", f"{base}_lon"), ("strongest_lat", "strongest_lon"),
             ("couplet_lat", "couplet_lon"), ("max_lat", "max_lon")]
    words = set(base.split("_"))
    near = sorted((k[:-4] for k in values if k.endswith("_lat") and f"{k[:-4]}_lon" in values),
                  key=lambda k: -len(words & set(k.split("_"))))
    pairs += [(f"{k}_lat", f"{k}_lon") for k in near if len(words & set(k.split("_"))) >= 2]
    for lat, lon in pairs:
        if lat in values and values[lat].value is not None:
            return {"lat": values[lat].value, "lon": values[lon].value}
    return None


def _offline_atomic(task: Task, case: str, ctx: BenchContext) -> tuple[Any, int]:
    from hvrmet.tools import call_tool

    args = dict(task.target.get("args", {}))
    if task.category == "plot":
        res = call_tool(PLOT_TOOL[task.target["kind"]], {"case": case, **args}, out_dir=str(ctx.out / "figures"))
        if not res.ok or not res.figures:
            return {"error": res.error}, 1
        return json.loads(Path(res.figures[0].sidecar).read_text()), 1
    q = task.target["quantity"]
    res = call_tool(tool_for_quantity(q), {"case": case, **args})
    if not res.ok:
        return {"error": res.error}, 1
    if task.category == "signal" and task.target.get("what") == "location":
        return _latlon(res.values, q), 1
    v = res.values.get(q)
    if v is None:
        return None, 1
    if v.value is None:  # not computable: the tool's note, else its warnings and summary
        why = v.note or "; ".join([*res.warnings, res.summary]).strip("; ")
        return {"value": None, "note": why}, 1
    return ({"value": v.value} if task.target.get("what") == "label" else {"value": v.value, "units": v.units}), 1


def _llm_atomic(task: Task, case: str, ctx: BenchContext) -> tuple[Any, int, int]:
    """A brain that calls tools itself answers through the protocol's ``answer``: it reads
    the question, calls registry tools (run here, on the task's case) and answers in JSON."""
    from hvrmet.agents.brain import BrainContext, get_brain
    from hvrmet.tools import call_tool, list_tools

    brain = get_brain(ctx.cfg)
    plot = task.category == "plot"
    results: list = []

    def run_tool(name: str, args: dict) -> dict:
        res = call_tool(name, {**args, "case": case}, out_dir=str(ctx.out / "figures"))
        results.append(res)
        return {"id": f"B{len(results)}", "ok": res.ok, "error": res.error, "summary": res.summary,
                "values": {k: v.model_dump() for k, v in res.values.items()}}

    form = {"location": '{"lat": number, "lon": number}', "label": '{"value": "text"}'}.get(
        task.target.get("what", ""), '{"value": number, "units": "pint units"}')
    form += (' (or, when the data cannot give it, {"value": null, "not_computable": "missing_layer | '
             'missing_variable | out_of_domain | missing_time", "note": "why"})')
    bctx = BrainContext(case=case, roles=[], time="", location={}, loop=0,
                        tools=[t.name for t in list_tools() if (t.category == "plot") == plot])
    ans = brain.answer(f"{task.question}\nCall one tool, then answer with JSON only: {form}", bctx, run_tool)
    if plot:
        res = next((r for r in results if r.ok and r.figures), None)
        return (json.loads(Path(res.figures[0].sidecar).read_text()) if res else None), len(results), brain.tokens_used
    try:
        return json.loads(ans.text or "null"), len(results), brain.tokens_used
    except json.JSONDecodeError:
        return None, len(results), brain.tokens_used


# -- loop tasks ----------------------------------------------------------------------------
def _proposed_at(h: dict) -> int:
    return max(1, int(h.get("loop_proposed") or 1))


def hypotheses_at(state: dict, loop: int | None = None) -> list[dict]:
    """The hypotheses as they stood after ``loop`` (``None``: the final state), each as
    ``{"id", "hazard", "status", "posterior"}``, in rank order (status, then posterior:
    :func:`hvrmet.benchmark.scorers.rank_hypotheses`)."""
    hyps = state.get("hypotheses", [])
    if loop is None:
        items = [{"id": h["id"], "hazard": h["hazard"], "status": h.get("status", "proposed"),
                  "posterior": h.get("posterior")} for h in hyps]
        return rank_hypotheses(items)
    status = {h["id"]: "proposed" for h in hyps}
    post = {h["id"]: h.get("prior") for h in hyps}
    for d in state.get("decisions", []):
        if d["loop"] > loop:
            break
        for hid, change in d.get("status_changes", {}).items():
            status[hid] = change.split("->")[-1]
        post.update(d.get("posteriors", {}))
    items = [{"id": h["id"], "hazard": h["hazard"], "status": status[h["id"]], "posterior": post[h["id"]]}
             for h in hyps if _proposed_at(h) <= loop]
    return rank_hypotheses(items)


def _find(hyps: list[dict], hazard: str | None) -> dict | None:
    if hazard is None:
        return None
    want = canonical_hazard(hazard)
    return next((h for h in hyps if canonical_hazard(h["hazard"]) == want), None)


def _loops_run(state: dict) -> list[int]:
    return sorted({d["loop"] for d in state.get("decisions", [])})


def _valid(e: dict) -> bool:
    return bool(e.get("ok")) and any(v.get("value") is not None for v in (e.get("values") or {}).values())


def per_loop(state: dict, gold: dict[str, str] | list[str] | None = None, gold_status: str | None = None) -> list[dict]:
    """Every loop of a run scored against the task's gold statuses (``{hazard: status}``,
    status ``supported``, ``refuted`` or ``not_supported``; a list of hazards means
    ``supported``).

    Per loop: whether it carries the hypotheses the data support (``hypotheses_ok``: every
    gold-supported hazard present, no gold-refuted one accepted), whether each planned
    check ran and returned valid evidence (``checks_planned``/``checks_valid``,
    ``checks_ok``), whether statuses moved the right way (``right_changes``,
    ``wrong_changes``, ``direction_ok``), and the information gained: the gold hazard's
    rank and posterior and their change from the loop before, the entropy (bits) over the
    hypotheses' posteriors and its change. ``passed`` is all three checks. Also the old
    accounting: tool calls, valid-call share, repeated calls, seconds."""
    if isinstance(gold, list):
        gold = {h: "supported" for h in gold}
    gold = {canonical_hazard(k): v for k, v in (gold or {}).items()}
    if gold_status is not None:
        gold = {k: gold_status for k in gold}
    lead = next((h for h, s in gold.items() if s == "supported"), next(iter(gold), None))
    hyps_by_id = {h["id"]: h for h in state.get("hypotheses", [])}
    evidence = state.get("evidence", [])
    rows, seen, prev = [], set(), None
    decisions = state.get("decisions", [])
    for i, d in enumerate(decisions):
        loop = d["loop"]
        ranked = hypotheses_at(state, loop)
        names = [canonical_hazard(h["hazard"]) for h in ranked]
        rank = next((j + 1 for j, n in enumerate(names) if lead and n == lead), None)
        gh = ranked[rank - 1] if rank else None
        accepted = {a for h in ranked if h["status"] == "supported" for a in hazard_lineage(h["hazard"])}
        hyps_ok = (all(h in names for h, s in gold.items() if s == "supported")
                   and not any(h in accepted for h, s in gold.items() if s in ("refuted", "not_supported")))
        # planned checks: the ones run in this loop (the decision's trace) and the ones the
        # previous decision planned for this loop
        planned = {(c.get("hypothesis"), c.get("tool")) for c in d.get("checks", [])}
        if i > 0:
            planned |= {(hid, t) for hid, tools in decisions[i - 1].get("new_checks", {}).items() for t in tools}
        evs = [e for e in evidence if e["loop"] == loop or (loop == 1 and e["loop"] == 0)]
        # a call planned for several hypotheses runs once (verification assigns it to the first)
        # and is judged for all: it counts for each that planned it
        valid = sum(1 for hid, t in planned
                    if any(e["tool"] == t and e["loop"] == loop and _valid(e)
                           and (e.get("for_hypothesis") == hid or (e.get("for_hypothesis") or "") in hyps_by_id)
                           for e in evs))
        right = wrong = 0
        for hid, change in d.get("status_changes", {}).items():
            old, _, new = change.partition("->")
            h = hyps_by_id.get(hid)
            want = gold.get(canonical_hazard(h["hazard"])) if h else None
            if want is None:
                continue
            if want == "not_supported":
                right += new == "refuted"
                wrong += new == "supported"
            elif new == want:
                right += 1
            elif old == want or new in ("supported", "refuted"):
                wrong += 1
        ent = entropy([h["posterior"] for h in ranked])
        keys = [(e["tool"], json.dumps({k: v for k, v in e["arguments"].items() if k != "case"}, sort_keys=True,
                                       default=str)) for e in evs]
        repeated = sum(1 for k in keys if k in seen)
        seen.update(keys)
        post = gh["posterior"] if gh else None
        row = {"loop": loop, "gold_hazard": lead, "gold_present": rank is not None, "gold_rank": rank,
               "gold_posterior": post, "gold_status": gh["status"] if gh else None,
               "verdict_correct": (gh["status"] == gold[lead]) if gh and lead in gold else None,
               "hypotheses_ok": hyps_ok, "checks_planned": len(planned), "checks_valid": valid,
               "checks_ok": valid == len(planned), "right_changes": right, "wrong_changes": wrong,
               "direction_ok": wrong == 0, "entropy": None if ent is None else round(ent, 4),
               "delta_entropy": None if ent is None or prev is None or prev["entropy"] is None
               else round(ent - prev["entropy"], 4),
               "gain": None if post is None or prev is None or prev["gold_posterior"] is None
               else round(post - prev["gold_posterior"], 4),
               "delta_rank": None if rank is None or prev is None or prev["gold_rank"] is None
               else prev["gold_rank"] - rank,
               "tool_calls": len(evs), "valid_call_share": (sum(bool(e["ok"]) for e in evs) / len(evs)) if evs else None,
               "repeated_calls": repeated, "seconds": round(sum(e.get("seconds", 0.0) for e in evs), 3),
               "action": d.get("action")}
        row["passed"] = bool(hyps_ok and row["checks_ok"] and row["direction_ok"])
        rows.append(row)
        prev = row
    return rows


def _replan_answer(task: Task, state: dict) -> dict:
    k = int(task.target.get("loop", 1))
    decisions = {d["loop"]: d for d in state.get("decisions", [])}
    h = _find(state.get("hypotheses", []), task.target.get("hazard"))
    d = decisions.get(k)
    if d is None:
        return {"loop": k, "replanned": False, "members": [], "why": f"loop {k} did not happen (loops run: "
                f"{_loops_run(state) or 'none'})"}
    nxt = k + 1 in decisions or any(e["loop"] == k + 1 for e in state.get("evidence", []))
    if d.get("action") != "continue" or not nxt:
        return {"loop": k, "replanned": False, "members": [],
                "why": f"the run stopped after loop {k} ({d.get('action')}: {d.get('reason', '')})"}
    tools = list(d.get("new_checks", {}).get(h["id"], [])) if h else []
    if h:
        tools += [e["tool"] for e in state.get("evidence", []) if e["loop"] == k + 1 and e.get("for_hypothesis") == h["id"]]
    return {"loop": k, "replanned": True, "members": sorted(set(tools)),
            "hypothesis": h["id"] if h else None}


def _report_answer(state: dict) -> dict:
    hyps = state.get("hypotheses", [])
    ev = {e["id"]: e["tool"] for e in state.get("evidence", [])}
    cited = {ev[i] for x in hyps if x.get("status") in ("supported", "refuted") for i in x.get("evidence_ids", [])
             if i in ev}
    return {"hypotheses": hypotheses_at(state), "cited": sorted(cited),
            "summary": (state.get("report") or {}).get("summary", "")}


def _diagnosis_abstention(task: Task, state: dict) -> dict | None:
    """What the diagnosis recorded for a quantity of a hypothesis: its number, or "not
    computable: why" (Verdict.reason, the ledger's not_computable, that call's warnings)."""
    q = task.target.get("quantity")
    h = _find(state.get("hypotheses", []), task.target.get("hazard"))
    evs = [e for e in state.get("evidence", []) if not h or e.get("for_hypothesis") in (h["id"], "")]
    notes = []
    if h:
        notes += [n.split(": ", 1)[-1] for n in (h.get("ledger") or {}).get("not_computable", [])
                  if n.split(":", 1)[0].endswith(f".{q}")]
    for e in evs:
        for v in e.get("verdicts", []):
            if v.get("field") == q and v.get("met") is None and v.get("reason"):
                notes.append(v["reason"])
                notes += list(e.get("warnings", []))
        if q in (e.get("values") or {}) and e["values"][q].get("value") is not None and not notes:
            return {"value": e["values"][q]["value"], "units": e["values"][q].get("units", "")}
    if notes:
        return {"value": None, "note": "; ".join(dict.fromkeys(notes))}
    return None


def _loop_answer(task: Task, state: dict) -> Any:
    hazard = task.target.get("hazard")
    if task.category == "hypothesis":
        ranked = hypotheses_at(state, task.target.get("loop"))
        return {"ranking": ranked, "value": ranked[0]["hazard"] if ranked else None,
                "members": [h["hazard"] for h in ranked]}
    if task.category == "verification":
        h = _find(hypotheses_at(state, task.target.get("loop")), hazard)
        return {"value": h["status"] if h else "not proposed"}
    if task.category == "replanning":
        return _replan_answer(task, state)
    if task.category == "abstention":
        return _diagnosis_abstention(task, state)
    if task.category == "loop":
        gold = {hazard: task.answer.get("status", "supported")}
        return {"loops": per_loop(state, gold)}
    return _report_answer(state)


def _gold_statuses(task: Task) -> dict[str, str]:
    """The hazards a task's gold answer settles, with their gold status."""
    a = task.answer
    if task.category == "verification" and task.target.get("hazard"):
        return {task.target["hazard"]: a.get("value")}
    if a["type"] == "loop":
        return {a.get("hazard") or task.target.get("hazard"): a.get("status", "supported")}
    if a["type"] == "checklist":
        out = {h: "not_supported" for h in a.get("must_not_accept", [])}
        out.update({h: "refuted" for h in a.get("must_refute", [])})
        out.update({h: "supported" for h in a.get("must_name", [])})
        return out
    if a["type"] == "ranked" and int(a.get("min_rank", 1)) == 1:
        return {a["value"]: "supported"}
    if task.target.get("hazard") and a["type"] not in ("ranked",):
        return {task.target["hazard"]: "supported"}
    if a["type"] == "label" and task.category == "hypothesis":
        return {a["value"]: "supported"}
    if a["type"] == "number" and task.category == "hypothesis" and task.target.get("hazard"):
        return {task.target["hazard"]: "supported"}
    return {}


def _gold_hazards(task: Task) -> list[str]:
    return [h for h, s in _gold_statuses(task).items() if s == "supported"]


def _is_diagnosis_task(task: Task) -> bool:
    return task.category in LOOP_CATEGORIES or (task.category == "abstention" and bool(task.target.get("hazard")))


def run_task(task: Task, ctx: BenchContext) -> dict:
    """Run and score one task; errors are recorded as a failed task, never raised."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"id": task.id, "category": task.category, "brain": ctx.cfg.brain,
                           "answer_type": task.answer.get("type"), "split_case": task.case}
    try:
        case = ctx.case_of(task)
        if _is_diagnosis_task(task):
            state = ctx.diagnosis(case)
            given = _loop_answer(task, state)
            if task.category == "hypothesis" and task.answer["type"] == "number":  # a rank with a tolerance
                rank, _ = _rank_of({"value": task.target.get("hazard") or "", "synonyms": []}, given)
                passed, detail = score(task.answer, {"value": rank, "units": task.answer.get("units", "1")})
                given = {**given, "rank": rank}
            else:
                passed, detail = score(task.answer, given)
            row["loops"] = given["loops"] if task.category == "loop" else per_loop(state, _gold_statuses(task))
            row["loops_run"] = _loops_run(state)
            row["tool_calls"] = state.get("tool_calls", 0)
            row["tokens"] = state.get("llm_tokens", 0)
        else:
            if not ctx.brain_capabilities.tool_calling:
                given, calls = _offline_atomic(task, case, ctx)
                tokens = 0
            else:
                given, calls, tokens = _llm_atomic(task, case, ctx)
            passed, detail = score(task.answer, given)
            row["tool_calls"], row["tokens"] = calls, tokens
        row.update({"passed": bool(passed), "detail": detail, "given": given})
    except Exception as exc:  # noqa: BLE001 - a broken task is a failed task, with its message
        row.update({"passed": False, "detail": f"error: {type(exc).__name__}: {exc}", "given": None})
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def _mean(xs):
    xs = [float(x) for x in xs if x is not None]
    return round(sum(xs) / len(xs), 4) if xs else None


def loop_table(rows: list[dict]) -> dict[str, dict]:
    """Per loop over the scored tasks: entries, pass rate of the loop (hypotheses, checks,
    direction), each of the three, gold presence and rank, verdicts, information gain
    (posterior, rank, entropy), and the tool-call accounting. Taken from the ``loop``
    tasks when the run has any (one per case and hazard), else from every task with loops."""
    src = [r for r in rows if r.get("category") == "loop" and r.get("loops")] or [r for r in rows if r.get("loops")]
    loops: dict[int, list[dict]] = defaultdict(list)
    for r in src:
        for lp in r.get("loops", []):
            loops[lp["loop"]].append(lp)

    def b(x):
        return None if x is None else float(bool(x))

    return {str(k): {"entries": len(v), "pass_rate": _mean([b(x.get("passed")) for x in v]),
                     "hypotheses_ok": _mean([b(x.get("hypotheses_ok")) for x in v]),
                     "checks_ok": _mean([b(x.get("checks_ok")) for x in v]),
                     "direction_ok": _mean([b(x.get("direction_ok")) for x in v]),
                     "gold_present": _mean([b(x.get("gold_present")) for x in v]),
                     "mean_gold_rank": _mean([x.get("gold_rank") for x in v]),
                     "verdict_correct": _mean([b(x.get("verdict_correct")) if x.get("verdict_correct") is not None
                                               else None for x in v]),
                     "gain": _mean([x.get("gain") for x in v]), "delta_rank": _mean([x.get("delta_rank") for x in v]),
                     "entropy": _mean([x.get("entropy") for x in v]),
                     "delta_entropy": _mean([x.get("delta_entropy") for x in v]),
                     "valid_call_share": _mean([x.get("valid_call_share") for x in v]),
                     "repeated_calls": _mean([x.get("repeated_calls") for x in v]),
                     "tool_calls": _mean([x.get("tool_calls") for x in v]),
                     "seconds": _mean([x.get("seconds") for x in v])}
            for k, v in sorted(loops.items())}


def summarize(rows: list[dict]) -> dict:
    """Pass rates by category and by answer type, and the per-loop table (:func:`loop_table`)."""
    by_cat: dict[str, list[bool]] = defaultdict(list)
    by_type: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(bool(r["passed"]))
        if r.get("answer_type"):
            by_type[r["answer_type"]].append(bool(r["passed"]))

    def rate(v):
        return {"tasks": len(v), "passed": sum(v), "pass_rate": round(sum(v) / len(v), 4)}

    return {
        "tasks": len(rows), "passed": sum(r["passed"] for r in rows),
        "pass_rate": round(sum(r["passed"] for r in rows) / max(len(rows), 1), 4),
        "by_category": {c: rate(v) for c, v in sorted(by_cat.items())},
        "by_answer_type": {c: rate(v) for c, v in sorted(by_type.items())},
        "by_loop": loop_table(rows),
        "tokens": sum(r.get("tokens", 0) or 0 for r in rows),
        "seconds": round(sum(r.get("seconds", 0.0) for r in rows), 2),
    }


def run_benchmark(tasks_file: str | Path, *, llm: str = "offline", data_dir: str | None = None, workers: int = 1,
                  out: str | Path = "out/bench", progress: bool = True, answerer: str = "system", seed: int = 0,
                  **llm_kw) -> dict:
    """Run a task file; resume from ``<out>/results.jsonl`` if it exists.

    ``data_dir`` is the folder the tasks' ``files`` are relative to (default: the data
    registry's folder, ``HVRMET_DATA_DIR``); catalogue cases are served by the data
    registry. ``answerer`` is ``system`` (hvrmet answers), ``oracle`` (the gold answer,
    written as the system would give it: every task satisfiable) or ``random`` (random
    answers from the task set's own pools: the chance level); the last two run no tool.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = load_tasks(tasks_file)
    results_path = out / "results.jsonl"
    done: dict[str, dict] = {}
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["id"]] = r
    todo = [t for t in tasks if t.id not in done]
    t_start = time.perf_counter()
    if answerer != "system":
        from hvrmet.benchmark.answerers import answer_all

        with open(results_path, "a") as fh:
            for row in answer_all(todo, answerer, seed=seed, pool=tasks):
                fh.write(json.dumps(row, default=str) + "\n")
                done[row["id"]] = row
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        ctx_kw = {"llm": llm, "out": out, "data_dir": data_dir, **llm_kw}
        with Progress(TextColumn("bench"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), disable=not progress) as bar, open(results_path, "a") as fh:
            job = bar.add_task("tasks", total=len(tasks), completed=len(done))

            def record(rows_: list[dict]) -> None:
                for row in rows_:
                    fh.write(json.dumps(row, default=str) + "\n")
                    done[row["id"]] = row
                fh.flush()
                bar.advance(job, len(rows_))

            groups = task_groups(todo)
            if workers <= 1 or len(groups) <= 1:
                ctx = BenchContext(**ctx_kw)
                for t in (t for group in groups for t in group):
                    record([_run_row(t, ctx)])
            else:
                spawn = multiprocessing.get_context(START_METHOD)
                with ProcessPoolExecutor(max_workers=min(workers, len(groups)), mp_context=spawn,
                                         initializer=_init_worker, initargs=(ctx_kw,)) as pool:
                    futures = [pool.submit(_run_group, [t.model_dump(mode="json") for t in g]) for g in groups]
                    for fut in as_completed(futures):
                        record(fut.result())
    rows = [done[t.id] for t in tasks if t.id in done]
    summary = summarize(rows)
    summary.update({"tasks_file": str(tasks_file), "brain": llm, "answerer": answerer,
                    "wall_seconds": round(time.perf_counter() - t_start, 2)})
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def ctx_key(task: Task) -> str:
    """The diagnosis a task shares: its case and the roles it keeps."""
    extra = task.model_extra or {}
    return f"{task.case or task.id}|{','.join(extra.get('roles') or [])}"


def _group_key(task: Task) -> str:
    """The case a task runs on (the catalogue case and the roles it keeps, the ``case_id``
    of a files case, else its files): tasks with one key share one case file and, for
    diagnosis tasks, one diagnosis."""
    extra = task.model_extra or {}
    if task.case:
        return f"case:{task.case}|{','.join(extra.get('roles') or [])}"
    if extra.get("case_id"):
        return f"case_id:{extra['case_id']}"
    return "files:" + json.dumps([task.files, extra.get("time"), extra.get("location")], sort_keys=True)


def task_groups(tasks: list[Task]) -> list[list[Task]]:
    """The tasks grouped by the case they run on (:func:`_group_key`), in the order each
    group first appears, the groups holding diagnosis tasks first (they take longest):
    one worker process runs one group, so a diagnosis shared by several tasks runs once
    and a case's data are decoded by one process."""
    groups: dict[str, list[Task]] = {}
    for t in tasks:
        groups.setdefault(_group_key(t), []).append(t)
    return sorted(groups.values(), key=lambda g: not any(_is_diagnosis_task(t) for t in g))


def _run_row(task: Task, ctx: BenchContext) -> dict:
    return {**run_task(task, ctx), "worker": os.getpid()}


_WORKER_CTX: BenchContext | None = None


def _init_worker(ctx_kw: dict) -> None:
    """A worker process's own context (its own readers, dataset cache and diagnoses)."""
    global _WORKER_CTX
    _WORKER_CTX = BenchContext(**ctx_kw)


def _run_group(group: list[dict]) -> list[dict]:
    """Run one group of tasks (as dicts, paths already resolved) in a worker process."""
    return [_run_row(Task.model_validate(t), _WORKER_CTX) for t in group]
