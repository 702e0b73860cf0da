"""``hvrmet bench run``: every task through the same tool registry and H-V-R graph the
chat uses, scored, with per-loop scores for the tasks that run the loop.

Results go to ``<out>/results.jsonl`` (one line per task, written as each finishes, so an
interrupted run resumes where it stopped) and ``<out>/summary.json``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml

from hvrmet.benchmark.scorers import score
from hvrmet.benchmark.tasks import LOOP_CATEGORIES, PLOT_TOOL, Task, load_tasks, tool_for_quantity

__all__ = ["run_benchmark", "run_task", "summarize", "BenchContext"]


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
        """The case a task runs on (a case file is built for tasks that give files)."""
        if task.case:
            return task.case
        from hvrmet.data.readers import sniff_format

        root = Path(self.data_dir or ".")
        extra = task.model_extra or {}
        data = {"id": task.id.lower().replace(".", "-").replace("_", "-"), "title": task.id,
                "time": extra.get("time", "2000-01-01T00:00:00Z"),
                "location": extra.get("location", {"lat": 0.0, "lon": 0.0}), "data_dir": str(root.resolve()),
                "files": [{"role": role, "format": sniff_format(root / p), "path": p} for role, p in task.files.items()]}
        path = self.out / "cases" / f"{data['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data))
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
    base = q.rsplit("_", 1)[0] if q.endswith(("_id", "_station")) else q
    for lat, lon in ((f"{q}_lat", f"{q}_lon"), (f"{base}_lat", f"{base}_lon"), ("strongest_lat", "strongest_lon"),
                     ("couplet_lat", "couplet_lon"), ("max_lat", "max_lon")):
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
def _posteriors_by_loop(state: dict) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    prev = {h["id"]: h["prior"] for h in state.get("hypotheses", [])}
    for d in state.get("decisions", []):
        prev = {**prev, **d.get("posteriors", {})}
        out[d["loop"]] = dict(prev)
    return out


def per_loop(state: dict, gold_hazards: list[str], gold_status: str | None = None) -> list[dict]:
    """Scores of every loop: gold hazard present and its rank, verdict against gold, the
    share of valid tool calls, repeated calls, tool calls, seconds; and each replanning
    step's gain (change of the gold hazard's posterior)."""
    hyps = state.get("hypotheses", [])
    posts = _posteriors_by_loop(state)
    statuses: dict[str, str] = {h["id"]: "proposed" for h in hyps}
    rows, seen, last_post = [], set(), None
    for d in state.get("decisions", []):
        loop = d["loop"]
        for hid, change in d.get("status_changes", {}).items():
            statuses[hid] = change.split("->")[-1]
        present = [h for h in hyps if h.get("loop_proposed", 1) <= loop]
        ranked = sorted(present, key=lambda h: -posts[loop].get(h["id"], h["prior"]))
        rank = next((i + 1 for i, h in enumerate(ranked) if h["hazard"] in gold_hazards), None)
        gold_h = next((h for h in ranked if h["hazard"] in gold_hazards), None)
        post = posts[loop].get(gold_h["id"]) if gold_h else None
        evs = [e for e in state.get("evidence", []) if e["loop"] in ((0, 1) if loop == 1 else (loop,))]
        keys = [(e["tool"], json.dumps({k: v for k, v in e["arguments"].items() if k != "case"}, sort_keys=True)) for e in evs]
        repeated = sum(1 for k in keys if k in seen)
        seen.update(keys)
        rows.append({"loop": loop, "gold_present": rank is not None, "gold_rank": rank, "gold_posterior": post,
                     "verdict_correct": (statuses.get(gold_h["id"]) == gold_status) if gold_h and gold_status else None,
                     "tool_calls": len(evs), "valid_call_share": (sum(e["ok"] for e in evs) / len(evs)) if evs else None,
                     "repeated_calls": repeated, "seconds": round(sum(e.get("seconds", 0.0) for e in evs), 3),
                     "gain": None if post is None or last_post is None else round(post - last_post, 4)})
        last_post = post if post is not None else last_post
    return rows


def _loop_answer(task: Task, state: dict) -> Any:
    hyps = state.get("hypotheses", [])
    hazard = task.target.get("hazard")
    if task.category == "hypothesis":
        first = sorted((h for h in hyps if h.get("loop_proposed", 1) == 1), key=lambda h: -h["prior"])
        return {"members": [h["hazard"] for h in first], "value": first[0]["hazard"] if first else None}
    h = next((x for x in hyps if x["hazard"] == hazard), None)
    if task.category == "verification":
        return {"value": h["status"] if h else "not proposed"}
    if task.category == "replanning":
        if h is None:
            return {"members": []}
        tools = [c["tool"] for c in h.get("checks", [])]
        tools += [e["tool"] for e in state.get("evidence", []) if e.get("for_hypothesis") == h["id"]]
        for d in state.get("decisions", []):
            tools += d.get("new_checks", {}).get(h["id"], [])
        return {"members": sorted(set(tools))}
    accepted = [x["hazard"] for x in hyps if x["status"] == "supported"]
    summary = (state.get("report") or {}).get("summary", "").lower()
    named = set(accepted) | {x["hazard"] for x in hyps if x["hazard"].replace("_", " ") in summary}
    ev = {e["id"]: e["tool"] for e in state.get("evidence", [])}
    cited = {ev[i] for x in hyps if x["status"] == "supported" for i in x.get("evidence_ids", []) if i in ev}
    return {"named": sorted(named), "accepted": accepted, "cited": sorted(cited)}


def _gold_hazards(task: Task) -> list[str]:
    a = task.answer
    if task.target.get("hazard"):
        return [task.target["hazard"]]
    if a["type"] == "label":
        return [a["value"], *a.get("synonyms", [])]
    if a["type"] == "set":
        return list(a["members"])
    if a["type"] == "checklist":
        return list(a.get("must_name", []))
    return []


def run_task(task: Task, ctx: BenchContext) -> dict:
    """Run and score one task; errors are recorded as a failed task, never raised."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"id": task.id, "category": task.category, "brain": ctx.cfg.brain}
    try:
        case = ctx.case_of(task)
        if task.category in LOOP_CATEGORIES:
            state = ctx.diagnosis(case)
            given = _loop_answer(task, state)
            if task.category == "hypothesis" and task.answer["type"] == "number":
                gold = _gold_hazards(task)
                rank = next((i + 1 for i, m in enumerate(given["members"]) if m in gold), None)
                passed, detail = score(task.answer, {"value": rank, "units": task.answer.get("units", "1")})
                given = {**given, "rank": rank}
            elif task.category == "hypothesis" and task.answer["type"] == "label":
                accepted = {task.answer["value"], *task.answer.get("synonyms", [])}
                hit = next((m for m in given["members"] if m in accepted), given.get("value"))
                passed, detail = score(task.answer, {"value": hit})
            else:
                passed, detail = score(task.answer, given)
            gold_status = task.answer.get("value") if task.category == "verification" else None
            row["loops"] = per_loop(state, _gold_hazards(task), gold_status)
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


def summarize(rows: list[dict]) -> dict:
    """Pass rates by category and the per-loop means."""
    by_cat: dict[str, list[bool]] = defaultdict(list)
    loops: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(bool(r["passed"]))
        for lp in r.get("loops", []):
            loops[lp["loop"]].append(lp)

    def mean(xs):
        xs = [x for x in xs if x is not None]
        return round(sum(xs) / len(xs), 4) if xs else None

    return {
        "tasks": len(rows), "passed": sum(r["passed"] for r in rows),
        "pass_rate": round(sum(r["passed"] for r in rows) / max(len(rows), 1), 4),
        "by_category": {c: {"tasks": len(v), "passed": sum(v), "pass_rate": round(sum(v) / len(v), 4)}
                        for c, v in sorted(by_cat.items())},
        "by_loop": {str(k): {"entries": len(v), "gold_present": mean([float(x["gold_present"]) for x in v]),
                             "mean_gold_rank": mean([x["gold_rank"] for x in v]),
                             "verdict_correct": mean([None if x["verdict_correct"] is None else float(x["verdict_correct"]) for x in v]),
                             "valid_call_share": mean([x["valid_call_share"] for x in v]),
                             "repeated_calls": mean([x["repeated_calls"] for x in v]),
                             "tool_calls": mean([x["tool_calls"] for x in v]),
                             "seconds": mean([x["seconds"] for x in v]), "gain": mean([x["gain"] for x in v])}
                    for k, v in sorted(loops.items())},
        "tokens": sum(r.get("tokens", 0) or 0 for r in rows),
        "seconds": round(sum(r.get("seconds", 0.0) for r in rows), 2),
    }


def run_benchmark(tasks_file: str | Path, *, llm: str = "offline", data_dir: str | None = None, workers: int = 1,
                  out: str | Path = "out/bench", progress: bool = True, **llm_kw) -> dict:
    """Run a task file; resume from ``<out>/results.jsonl`` if it exists.

    ``data_dir`` is the folder the tasks' ``files`` are relative to; catalogue cases are
    served by the data registry (``HVRMET_DATA_DIR``).
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

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
    ctx = BenchContext(llm=llm, out=out, data_dir=data_dir, **llm_kw)
    lock = threading.Lock()
    # loop tasks of one case share a diagnosis: order by case so workers overlap cases
    todo.sort(key=lambda t: (t.category not in LOOP_CATEGORIES, t.case or t.id))
    with Progress(TextColumn("bench"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), disable=not progress) as bar, open(results_path, "a") as fh:
        job = bar.add_task("tasks", total=len(tasks), completed=len(done))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(run_task, t, ctx): t for t in todo}
            for fut in as_completed(futures):
                row = fut.result()
                with lock:
                    fh.write(json.dumps(row, default=str) + "\n")
                    fh.flush()
                    done[row["id"]] = row
                bar.advance(job)
    rows = [done[t.id] for t in tasks if t.id in done]
    summary = summarize(rows)
    summary.update({"tasks_file": str(tasks_file), "brain": llm})
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
