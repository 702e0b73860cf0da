"""``hvrmet batch``: diagnose many cases in parallel on a Dask ``LocalCluster`` (or an
existing cluster), each case's report and trace in its own folder.

Each case first has every data file opened (so a corrupted or missing file fails the
case with its message instead of becoming a long run of failed tools), then is
diagnosed. A ``status.json`` in the case's folder records the outcome when the case ends;
a rerun skips the cases that finished and redoes the failed ones. One case failing never
stops the others.

Dask's own log (worker start and shutdown warnings, ``CommClosedError`` tracebacks when
the cluster closes), tornado's and asyncio's, and Python warnings go to ``batch.log`` in
the output folder, in this process and in every worker of the local cluster
(:func:`library_logs`), not to the terminal; a case that fails is still in the summary
with its message, and the command says how many errors the log holds.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

__all__ = ["run_batch", "diagnose_case", "summary_rows", "case_folder", "library_logs", "NOISY_LOGGERS", "LOG_NAME"]

#: The loggers whose records go to the batch's log file instead of the terminal.
NOISY_LOGGERS = ("distributed", "dask", "tornado", "asyncio", "bokeh", "py.warnings")
#: The log file's name in the output folder.
LOG_NAME = "batch.log"
_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"


class _Count(logging.Handler):
    """Counts the records at ERROR or above (what the command reports at the end)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.errors += 1


class _LogFile(logging.FileHandler):
    """A log file opened (and its folder made) at the first record."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter(_FORMAT))

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def _capturing_warnings() -> bool:
    return warnings.showwarning is getattr(logging, "_showwarning", None)


@contextlib.contextmanager
def library_logs(path: str | Path, loggers: tuple[str, ...] = NOISY_LOGGERS) -> Iterator[_Count]:
    """While the block runs, the records of ``loggers`` (and Python warnings, through
    ``logging.captureWarnings``, when ``py.warnings`` is one of them) go to the file
    ``path`` only, created at the first record; afterwards the loggers are as they were.
    Yields a counter of the records at ERROR or above."""
    fh = _LogFile(Path(path))
    count = _Count()
    saved = []
    for name in loggers:
        lg = logging.getLogger(name)
        saved.append((lg, list(lg.handlers), lg.propagate))
        lg.handlers = [fh, count]
        lg.propagate = False
    capture = "py.warnings" in loggers and not _capturing_warnings()
    if capture:
        logging.captureWarnings(True)
    try:
        yield count
    finally:
        if capture:
            logging.captureWarnings(False)
        for lg, handlers, propagate in saved:
            lg.handlers = handlers
            lg.propagate = propagate
        fh.close()


def _worker_logs(path: str, loggers: tuple[str, ...] = NOISY_LOGGERS) -> int:
    """In a worker process: the same routing, for the rest of the process's life (its
    shutdown messages included)."""
    fh = _LogFile(Path(path))
    for name in loggers:
        lg = logging.getLogger(name)
        lg.handlers = [fh]
        lg.propagate = False
    logging.captureWarnings(True)
    return 0


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
    from rich.console import Console

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [c for c in cases if not _finished(out, c)]
    log_path = out / LOG_NAME
    if todo:
        with library_logs(log_path) as count:
            _run(todo, cases, out, log_path, workers, scheduler, data_dir, figures, progress)
        if count.errors:
            Console(stderr=True).print(f"dask logged {count.errors} error(s) while the cluster ran or closed; "
                                       f"they are in {log_path}", markup=False, highlight=False, soft_wrap=True)
    rows = summary_rows(out, cases)
    _write_summary(out, rows)
    return rows


def _run(todo: list[str], cases: list[str], out: Path, log_path: Path, workers: int, scheduler: str | None,
         data_dir: str | None, figures: bool, progress: bool) -> None:
    from distributed import Client, LocalCluster, as_completed
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        client.run(_worker_logs, str(log_path.resolve()))
    try:
        futures = [client.submit(diagnose_case, c, str(out.resolve()), data_dir, figures, pure=False, key=f"case-{c}")
                   for c in todo]
        with Progress(TextColumn("batch"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TextColumn("{task.fields[last]}"), TimeElapsedColumn(), disable=not progress,
                      console=Console(stderr=True)) as bar:
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
