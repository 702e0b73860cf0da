"""Running a diagnosis: the SQLite checkpointer (one thread per diagnosis), streaming,
resuming an interrupted run, and listing past runs."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from hvrmet.agents.configuration import Configuration

__all__ = ["runs_db", "open_checkpointer", "diagnose", "list_runs", "final_state", "record_run"]


def runs_db(cfg: Configuration) -> Path:
    """The SQLite file holding every run's checkpoints (``<out_dir>/runs.sqlite``)."""
    p = Path(cfg.out_dir) / "runs.sqlite"
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


@contextlib.contextmanager
def open_checkpointer(cfg: Configuration) -> Iterator:
    """A LangGraph ``SqliteSaver`` on the runs database."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(runs_db(cfg)), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        _ensure_index(conn)
        yield saver
    finally:
        conn.close()


def _ensure_index(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS hvrmet_runs (thread_id TEXT PRIMARY KEY, case_id TEXT, "
                 "brain TEXT, started REAL, finished REAL, outcome TEXT, report TEXT)")
    conn.commit()


def record_run(cfg: Configuration, thread_id: str, **fields) -> None:
    """Insert or update a run's row in the index of runs (``hvrmet diagnose --list``)."""
    conn = sqlite3.connect(str(runs_db(cfg)))
    try:
        _ensure_index(conn)
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        updates = ", ".join(f"{k}=excluded.{k}" for k in fields)
        conn.execute(f"INSERT INTO hvrmet_runs (thread_id, {cols}) VALUES (?, {marks}) "
                     f"ON CONFLICT(thread_id) DO UPDATE SET {updates}", [thread_id, *fields.values()])
        conn.commit()
    finally:
        conn.close()


def list_runs(cfg: Configuration) -> list[dict]:
    """Past runs, newest first: thread id, case, brain, start, end, outcome, report."""
    conn = sqlite3.connect(str(runs_db(cfg)))
    try:
        _ensure_index(conn)
        rows = conn.execute("SELECT thread_id, case_id, brain, started, finished, outcome, report "
                            "FROM hvrmet_runs ORDER BY started DESC").fetchall()
    finally:
        conn.close()
    keys = ("thread_id", "case", "brain", "started", "finished", "outcome", "report")
    return [dict(zip(keys, r)) for r in rows]


def diagnose(case: str, cfg: Configuration | None = None, *, data_dir: str | None = None,
             thread_id: str | None = None, resume: bool = False,
             on_update: Callable[[str, dict], None] | None = None) -> dict:
    """Run (or resume) one diagnosis to the end and return its final state.

    Parameters
    ----------
    case
        Catalogue id or case-file path (ignored when resuming: the thread knows it).
    thread_id
        The run's thread (a new one if ``None``); with ``resume=True`` the run continues
        from its last checkpoint.
    on_update
        Called with ``(node, update)`` for every step, for live display.
    """
    from hvrmet.agents.graph import build_graph

    cfg = cfg or Configuration.from_runnable_config()
    thread_id = thread_id or uuid.uuid4().hex[:12]
    config = {"configurable": {"thread_id": thread_id, **cfg.model_dump()}, "recursion_limit": 200}
    with open_checkpointer(cfg) as saver:
        graph = build_graph(saver)
        if resume:
            snap = graph.get_state(config)
            if not snap.values:
                from hvrmet.errors import HvrmetError
                raise HvrmetError(f"no run with thread id {thread_id!r} in {runs_db(cfg)}")
            inputs = None
            case = snap.values.get("case", case)
        else:
            inputs = {"case": case, "data_dir": data_dir, "run_id": thread_id, "started": time.time()}
            record_run(cfg, thread_id, case_id=case, brain=cfg.brain, started=time.time())
        for chunk in graph.stream(inputs, config, stream_mode="updates"):
            for node, update in chunk.items():
                if on_update is not None and isinstance(update, dict):
                    on_update(node, update)
        state = graph.get_state(config).values
    rep = state.get("report") or {}
    record_run(cfg, thread_id, case_id=state.get("case", case), brain=cfg.brain, finished=time.time(),
            outcome=state.get("outcome", ""), report=rep.get("html", ""))
    return {**state, "thread_id": thread_id}


def final_state(state: dict) -> dict:
    """The final state as printed by ``hvrmet diagnose --json``: each hypothesis with its
    hazard, status, posterior and evidence ids, plus outcome and report paths."""
    return {
        "case": state.get("case"), "thread_id": state.get("thread_id"), "outcome": state.get("outcome"),
        "loops": state.get("loop"), "tool_calls": state.get("tool_calls"),
        "signals": [s["id"] for s in state.get("signals", [])],
        "hypotheses": [{k: h[k] for k in ("id", "hazard", "status", "prior", "posterior", "evidence_ids")}
                       for h in state.get("hypotheses", [])],
        "report": state.get("report", {}),
    }


def dumps(state: dict) -> str:
    """JSON of :func:`final_state`."""
    return json.dumps(final_state(state), indent=1, default=str)
