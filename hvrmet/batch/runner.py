"""``hvrmet batch``: diagnose many cases in parallel on a Dask ``LocalCluster`` (or an
existing cluster), each case's report and trace in its own folder.

Each case first has every data file opened (so a corrupted or missing file fails the
case with its message instead of becoming a long run of failed tools), then is
diagnosed. A ``status.json`` in the case's folder records the outcome when the case ends;
a rerun skips the cases that finished and redoes the failed ones. One case failing never
stops the others.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

__all__ = ["run_batch", "diagnose_case", "summary_rows", "case_folder"]


def case_folder(out: Path, case: str) -> Path:
    """The folder of one case's results."""
    return Path(out) / Path(case).stem


def diagnose_case(case: str, out: str, data_dir: str | None = None, figures: bool = True) -> dict:
    """Open the case's files, diagnose it, write ``status.json``; never raises."""
    from hvrmet.agents.configuration import Configuration
    from hvrmet.runs import diagnose
    from hvrmet.errors import HvrmetError
    from hvrmet.tools.context import ToolContext

    folder = case_folder(Path(out), case)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    status = {"case": case, "ok": False, "started": t0}
    try:
        ctx = ToolContext(case, data_dir)
        for role in ctx.case.roles:
            ctx.load(role)
        state = diagnose(case, Configuration.resolve(out_dir=str(folder), figures=figures), data_dir=data_dir)
        accepted = [h["hazard"] for h in state["hypotheses"] if h["status"] == "supported"]
        failure = state.get("failure")
        if failure:
            status.update(error=f"the brain failed at {failure['node']} ({failure['kind']}): {failure['message']}",
                          error_type="BrainError")
        status.update(ok=not failure, outcome=state.get("outcome", ""), accepted=accepted, loops=state.get("loop", 0),
                      tool_calls=state.get("tool_calls", 0), report=(state.get("report") or {}).get("html", ""),
                      trace=(state.get("report") or {}).get("trace", ""), thread=state["thread_id"])
    except HvrmetError as exc:
        status.update(error=str(exc), error_type=type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - one case failing never stops the others
        status.update(error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)
    status["seconds"] = round(time.time() - t0, 2)
    (folder / "status.json").write_text(json.dumps(status, indent=1))
    return status


def _finished(out: Path, case: str) -> bool:
    p = case_folder(out, case) / "status.json"
    if not p.is_file():
        return False
    try:
        return bool(json.loads(p.read_text()).get("ok"))
    except json.JSONDecodeError:
        return False


def summary_rows(out: Path, cases: list[str]) -> list[dict]:
    """One row per case from its ``status.json`` (missing ones marked not run)."""
    rows = []
    for c in cases:
        p = case_folder(out, c) / "status.json"
        s = json.loads(p.read_text()) if p.is_file() else {"case": c, "ok": False, "error": "not run"}
        rows.append({"case": c, "status": "ok" if s.get("ok") else "failed",
                     "accepted hazards": ", ".join(s.get("accepted", [])) or ("-" if s.get("ok") else ""),
                     "outcome": s.get("outcome", ""), "loops": s.get("loops", ""), "tool calls": s.get("tool_calls", ""),
                     "seconds": s.get("seconds", ""), "message": s.get("error", "")})
    return rows


def _write_summary(out: Path, rows: list[dict]) -> None:
    cols = list(rows[0]) if rows else ["case"]
    with open(out / "summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    md = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    md += ["| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |" for r in rows]
    (out / "summary.md").write_text("\n".join(md) + "\n")


def run_batch(cases: list[str], out: str | Path = "out/batch", workers: int = 2, scheduler: str | None = None,
              data_dir: str | None = None, figures: bool = True, progress: bool = True) -> list[dict]:
    """Diagnose ``cases`` in parallel; returns the summary rows (also written as
    ``summary.md`` and ``summary.csv`` in ``out``)."""
    from hvrmet.extras import require

    require("distributed", "batch case studies (hvrmet batch)", extra="batch")
    from distributed import Client, LocalCluster, as_completed
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [c for c in cases if not _finished(out, c)]
    if todo:
        cluster = None
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        try:
            futures = [client.submit(diagnose_case, c, str(out.resolve()), data_dir, figures, pure=False, key=f"case-{c}")
                       for c in todo]
            with Progress(TextColumn("batch"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TextColumn("{task.fields[last]}"), TimeElapsedColumn(), disable=not progress) as bar:
                job = bar.add_task("cases", total=len(cases), completed=len(cases) - len(todo), last="")
                for fut in as_completed(futures):
                    try:
                        s = fut.result()
                        last = f"{s['case']}: {'ok' if s['ok'] else 'FAILED'}"
                    except Exception as exc:  # noqa: BLE001 - a worker lost: recorded, others go on
                        last = f"worker error: {exc}"
                    bar.update(job, advance=1, last=last)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    rows = summary_rows(out, cases)
    _write_summary(out, rows)
    return rows
