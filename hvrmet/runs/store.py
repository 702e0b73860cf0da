"""The one SQLite store of runs: ``<out_dir>/runs.sqlite``.

It holds LangGraph's checkpoints (through :class:`ScrubbingSqliteSaver`, which keeps
secrets out of every checkpoint's metadata), the index of runs (``hvrmet diagnose
--list``), the chat sessions and their history, and the claims that stop two processes
from driving one thread at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from hvrmet.agents.configuration import SECRET_KEYS
from hvrmet.errors import HvrmetError

__all__ = ["RunStore", "ScrubbingSqliteSaver", "ThreadBusy"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hvrmet_runs (thread_id TEXT PRIMARY KEY, case_id TEXT, brain TEXT, "
    "started REAL, finished REAL, outcome TEXT, report TEXT)",
    "CREATE TABLE IF NOT EXISTS hvrmet_chat_sessions (session_id TEXT PRIMARY KEY, case_id TEXT, "
    "thread_id TEXT, data_dir TEXT, created REAL, updated REAL)",
    "CREATE TABLE IF NOT EXISTS hvrmet_chat_history (session_id TEXT, seq INTEGER, role TEXT, "
    "text TEXT, at REAL, PRIMARY KEY (session_id, seq))",
    "CREATE TABLE IF NOT EXISTS hvrmet_claims (thread_id TEXT PRIMARY KEY, host TEXT, pid INTEGER, since REAL)",
)
_RUN_COLUMNS = ("thread_id", "case", "brain", "started", "finished", "outcome", "report")


class ThreadBusy(HvrmetError):
    """Another live process is driving this thread."""


def _looks_secret(key: str) -> bool:
    k = key.lower()
    return key in SECRET_KEYS or any(w in k for w in ("key", "token", "secret", "password", "credential"))


def _scrub(d: dict | None) -> dict | None:
    if not d:
        return d
    return {k: v for k, v in d.items() if not _looks_secret(k)}


class ScrubbingSqliteSaver(SqliteSaver):
    """LangGraph's SQLite checkpointer, minus secrets: LangGraph copies every string of
    ``configurable`` into each checkpoint's metadata, so keys that name a secret (the API
    key, its reference, anything called key, token, secret, password, credential) are
    dropped before a checkpoint is written."""

    def put(self, config, checkpoint, metadata, new_versions):  # noqa: D102 - LangGraph's signature
        clean = {**config, "configurable": _scrub(config.get("configurable")) or {}}
        if "metadata" in config:
            clean["metadata"] = _scrub(config.get("metadata"))
        return super().put(clean, checkpoint, _scrub(dict(metadata)), new_versions)


def _alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True  # cannot tell: another machine on a shared folder keeps its claim
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """``<out_dir>/runs.sqlite``: checkpoints, the runs index, chat sessions, claims."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.path = Path(out_dir) / "runs.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        for stmt in _SCHEMA:
            self.conn.execute(stmt)
        self.conn.commit()
        self.saver = ScrubbingSqliteSaver(self.conn)
        self.saver.setup()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the runs index ------------------------------------------------------------------
    def record_run(self, thread_id: str, **fields: Any) -> None:
        """Insert or update a run's row (case_id, brain, started, finished, outcome, report)."""
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        updates = ", ".join(f"{k}=excluded.{k}" for k in fields)
        self.conn.execute(f"INSERT INTO hvrmet_runs (thread_id, {cols}) VALUES (?, {marks}) "
                          f"ON CONFLICT(thread_id) DO UPDATE SET {updates}", [thread_id, *fields.values()])
        self.conn.commit()

    def list_runs(self) -> list[dict]:
        """Past runs, newest first."""
        rows = self.conn.execute("SELECT thread_id, case_id, brain, started, finished, outcome, report "
                                 "FROM hvrmet_runs ORDER BY started DESC").fetchall()
        return [dict(zip(_RUN_COLUMNS, r)) for r in rows]

    # -- claims ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def claim(self, thread_id: str) -> Iterator[None]:
        """Hold ``thread_id`` for this process while it runs; another live process on the
        same thread is refused with :class:`ThreadBusy`."""
        host, pid = socket.gethostname(), os.getpid()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            row = self.conn.execute("SELECT host, pid, since FROM hvrmet_claims WHERE thread_id=?",
                                    (thread_id,)).fetchone()
            if row and (row[0], row[1]) != (host, pid) and _alive(row[0], row[1]):
                raise ThreadBusy(f"run {thread_id} is being driven by process {row[1]} on {row[0]} since "
                                 f"{time.strftime('%H:%M:%S', time.localtime(row[2]))}; wait for it to finish "
                                 "or start a new run")
            mine = row is not None and (row[0], row[1]) == (host, pid)
            self.conn.execute("INSERT INTO hvrmet_claims VALUES (?, ?, ?, ?) ON CONFLICT(thread_id) DO UPDATE SET "
                              "host=excluded.host, pid=excluded.pid, since=excluded.since",
                              (thread_id, host, pid, time.time()))
        try:
            yield
        finally:
            if not mine:
                with self.conn:
                    self.conn.execute("DELETE FROM hvrmet_claims WHERE thread_id=? AND host=? AND pid=?",
                                      (thread_id, host, pid))

    # -- chat sessions ----------------------------------------------------------------------
    def save_session(self, session_id: str, case: str | None, thread_id: str | None, data_dir: str | None) -> None:
        now = time.time()
        self.conn.execute(
            "INSERT INTO hvrmet_chat_sessions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET "
            "case_id=excluded.case_id, thread_id=excluded.thread_id, data_dir=excluded.data_dir, "
            "updated=excluded.updated", (session_id, case, thread_id, data_dir, now, now))
        self.conn.commit()

    def session(self, session_id: str) -> tuple[str | None, str | None, str | None] | None:
        """``(case, thread_id, data_dir)`` of a session, or ``None``."""
        return self.conn.execute("SELECT case_id, thread_id, data_dir FROM hvrmet_chat_sessions WHERE session_id=?",
                                 (session_id,)).fetchone()

    def list_sessions(self) -> list[dict]:
        """Chat sessions, most recently used first, with their number of turns."""
        rows = self.conn.execute(
            "SELECT s.session_id, s.case_id, s.thread_id, s.created, s.updated, "
            "(SELECT COUNT(*) FROM hvrmet_chat_history h WHERE h.session_id = s.session_id) "
            "FROM hvrmet_chat_sessions s ORDER BY s.updated DESC").fetchall()
        return [dict(zip(("session_id", "case", "thread_id", "created", "updated", "turns"), r)) for r in rows]

    def append_turn(self, session_id: str, role: str, text: str) -> None:
        with self.conn:
            seq = self.conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM hvrmet_chat_history WHERE session_id=?",
                                    (session_id,)).fetchone()[0]
            self.conn.execute("INSERT INTO hvrmet_chat_history VALUES (?, ?, ?, ?, ?)",
                              (session_id, seq, role, text, time.time()))
            self.conn.execute("UPDATE hvrmet_chat_sessions SET updated=? WHERE session_id=?", (time.time(), session_id))

    def history(self, session_id: str) -> list[tuple[str, str]]:
        rows = self.conn.execute("SELECT role, text FROM hvrmet_chat_history WHERE session_id=? ORDER BY seq",
                                 (session_id,)).fetchall()
        return [tuple(r) for r in rows]
