"""A forecaster's chat session: a case, its diagnosis thread, and the conversation.

The session drives the same compiled graph as ``hvrmet diagnose``, with
``Configuration.review`` on, so a run pauses at the *review* node (LangGraph
``interrupt``) for the forecaster's sign-off. Sign-offs and the forecaster's own checks
go back into the run as ``Command(resume=...)``; ``fork`` goes back to a checkpoint of
an earlier loop and continues from there with changed thresholds or hypotheses. Runs and
the conversation persist in ``<out_dir>/runs.sqlite`` (LangGraph's SQLite checkpointer
plus two small tables), so ``hvrmet chat --resume`` picks a session up where it stopped.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from langgraph.types import Command

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.evidence import attach_verdicts, rejudge
from hvrmet.agents.review import apply_signoff
from hvrmet.agents.run import record_run, runs_db
from hvrmet.agents.state import Decision, Evidence, Hypothesis, PlannedCheck
from hvrmet.errors import HvrmetError

__all__ = ["ChatSession", "list_sessions", "OnUpdate"]

#: Called with ``(node, update)`` for every step of the graph, for live display.
OnUpdate = Callable[[str, dict], None]

_SCHEMA = ("CREATE TABLE IF NOT EXISTS hvrmet_chat_sessions (session_id TEXT PRIMARY KEY, case_id TEXT, "
           "thread_id TEXT, data_dir TEXT, created REAL, updated REAL)",
           "CREATE TABLE IF NOT EXISTS hvrmet_chat_history (session_id TEXT, seq INTEGER, role TEXT, "
           "text TEXT, at REAL, PRIMARY KEY (session_id, seq))")


def _db(cfg: Configuration) -> sqlite3.Connection:
    conn = sqlite3.connect(str(runs_db(cfg)), check_same_thread=False)
    for stmt in _SCHEMA:
        conn.execute(stmt)
    conn.commit()
    return conn


def _find(hyps, hid: str) -> Hypothesis | None:
    """A hypothesis by id (``H2``, any case) or hazard label (``tornadic_supercell``)."""
    return next((h for h in hyps if hid.upper() == h.id or hid == h.hazard), None)


def list_sessions(cfg: Configuration) -> list[dict]:
    """Chat sessions, most recently used first: id, case, thread, created, updated, turns."""
    conn = _db(cfg)
    try:
        rows = conn.execute(
            "SELECT s.session_id, s.case_id, s.thread_id, s.created, s.updated, "
            "(SELECT COUNT(*) FROM hvrmet_chat_history h WHERE h.session_id = s.session_id) "
            "FROM hvrmet_chat_sessions s ORDER BY s.updated DESC").fetchall()
    finally:
        conn.close()
    return [dict(zip(("session_id", "case", "thread_id", "created", "updated", "turns"), r)) for r in rows]


class ChatSession:
    """One conversation. Not thread-safe by itself: callers hold :attr:`lock`."""

    def __init__(self, cfg: Configuration | None = None, *, session_id: str | None = None,
                 data_dir: str | None = None, roots: list | None = None) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver

        from hvrmet.agents.graph import build_graph

        self.cfg = (cfg or Configuration.from_runnable_config()).model_copy(update={"review": True})
        self.session_id = session_id or uuid.uuid4().hex[:10]
        self.data_dir = data_dir
        #: Folders a path the user types may point into (``None``: anywhere, as in the
        #: terminal); the web page sets them (see :mod:`hvrmet.web.app`).
        self.roots = roots
        self.case: str | None = None
        self.thread_id: str | None = None
        self.lock = threading.RLock()
        self._conn = _db(self.cfg)
        self._saver = SqliteSaver(self._conn)
        self._saver.setup()
        self.graph = build_graph(self._saver)
        row = self._conn.execute("SELECT case_id, thread_id, data_dir FROM hvrmet_chat_sessions WHERE session_id=?",
                                 (self.session_id,)).fetchone()
        if row:
            self.case, self.thread_id, self.data_dir = row[0], row[1], data_dir or row[2]
        else:
            self._save()

    # -- persistence ---------------------------------------------------------------------
    @classmethod
    def resume(cls, cfg: Configuration, session_id: str | None = None) -> "ChatSession":
        """Reopen a session (the most recent one when ``session_id`` is ``None``)."""
        known = list_sessions(cfg)
        if not known:
            raise HvrmetError(f"no chat session in {runs_db(cfg)}")
        if session_id is None:
            session_id = known[0]["session_id"]
        elif session_id not in {s["session_id"] for s in known}:
            raise HvrmetError(f"no chat session {session_id!r}; known: {', '.join(s['session_id'] for s in known)}")
        return cls(cfg, session_id=session_id)

    def _save(self) -> None:
        now = time.time()
        self._conn.execute(
            "INSERT INTO hvrmet_chat_sessions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET "
            "case_id=excluded.case_id, thread_id=excluded.thread_id, data_dir=excluded.data_dir, updated=excluded.updated",
            (self.session_id, self.case, self.thread_id, self.data_dir, now, now))
        self._conn.commit()

    def record(self, role: str, text: str) -> None:
        """Append one turn (``user``, ``assistant`` or ``event``) to the history."""
        seq = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM hvrmet_chat_history WHERE session_id=?",
                                 (self.session_id,)).fetchone()[0]
        self._conn.execute("INSERT INTO hvrmet_chat_history VALUES (?, ?, ?, ?, ?)",
                           (self.session_id, seq, role, text, time.time()))
        self._conn.commit()
        self._save()

    def history(self, last: int | None = None) -> list[tuple[str, str]]:
        """The conversation so far as ``(role, text)``, oldest first."""
        rows = self._conn.execute("SELECT role, text FROM hvrmet_chat_history WHERE session_id=? ORDER BY seq",
                                  (self.session_id,)).fetchall()
        return [tuple(r) for r in (rows[-last:] if last else rows)]

    def close(self) -> None:
        self._conn.close()

    # -- the run ---------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        """The LangGraph run config of the current thread."""
        if self.thread_id is None:
            raise HvrmetError("no diagnosis yet: /diagnose first")
        return {"configurable": {"thread_id": self.thread_id, **self.cfg.model_dump()}, "recursion_limit": 200}

    def load_case(self, case: str) -> Any:
        """Choose a case (catalogue id or case-file path); the next ``diagnose`` runs on it."""
        from hvrmet.cases import get_case

        c = get_case(case, self.data_dir)
        self.case, self.thread_id = case, None
        self._save()
        return c

    def state(self) -> dict:
        """The current values of the thread (``{}`` before the first diagnosis)."""
        if self.thread_id is None:
            return {}
        return dict(self.graph.get_state(self.config).values)

    def status(self) -> str:
        """``none`` (no run), ``running`` (interrupted midway), ``review`` (awaiting
        sign-off) or ``reported``."""
        if self.thread_id is None:
            return "none"
        snap = self.graph.get_state(self.config)
        if not snap.values:
            return "none"
        if "review" in snap.next:
            return "review"
        return "running" if snap.next else "reported"

    def hypotheses(self) -> list[Hypothesis]:
        return [Hypothesis.model_validate(h) for h in self.state().get("hypotheses", [])]

    def evidence(self) -> list[Evidence]:
        return [Evidence.model_validate(e) for e in self.state().get("evidence", [])]

    def hypothesis(self, hid: str) -> Hypothesis:
        """A hypothesis by id (``H2``) or hazard label (``tornado``)."""
        hyps = self.hypotheses()
        h = _find(hyps, hid)
        if h is not None:
            return h
        known = ", ".join(f"{h.id} ({h.hazard})" for h in hyps) or "none yet: /diagnose first"
        raise HvrmetError(f"no hypothesis {hid!r}; known: {known}")

    def _stream(self, inputs: Any, config: dict, on_update: OnUpdate | None) -> dict:
        for chunk in self.graph.stream(inputs, config, stream_mode="updates"):
            for node, update in chunk.items():
                if on_update is not None and isinstance(update, dict):
                    on_update(node, update)
        state = self.state()
        if state.get("report"):
            record_run(self.cfg, self.thread_id, case_id=state.get("case"), brain=self.cfg.brain, finished=time.time(),
                    outcome=state.get("outcome", ""), report=state["report"].get("html", ""))
        return state

    def diagnose(self, on_update: OnUpdate | None = None) -> dict:
        """Run a new diagnosis of the case up to the forecaster's review."""
        if self.case is None:
            raise HvrmetError("no case loaded: /case ID first")
        self.thread_id = uuid.uuid4().hex[:12]
        self._save()
        record_run(self.cfg, self.thread_id, case_id=self.case, brain=self.cfg.brain, started=time.time())
        inputs = {"case": self.case, "data_dir": self.data_dir, "run_id": self.thread_id, "started": time.time()}
        return self._stream(inputs, self.config, on_update)

    def _to_review(self, on_update: OnUpdate | None) -> None:
        """Make sure the run is paused at the review (reopening it after a report)."""
        status = self.status()
        if status == "none":
            raise HvrmetError("no diagnosis yet: /diagnose first")
        if status == "running":
            self._stream(None, self.config, on_update)
        if self.status() == "reported":
            self.graph.update_state(self.config, {"awaiting_signoff": True}, as_node="replan")
            self._stream(None, self.config, on_update)
        if self.status() != "review":
            raise HvrmetError(f"the run did not reach the review (status {self.status()})")

    def _resume(self, answer: dict, on_update: OnUpdate | None) -> dict:
        self._to_review(on_update)
        return self._stream(Command(resume=answer), self.config, on_update)

    def signoff(self, hid: str, verdict: str, note: str = "", on_update: OnUpdate | None = None) -> Hypothesis:
        """Accept or reject a hypothesis; recorded in the run (and in the next report)."""
        h = self.hypothesis(hid)
        apply_signoff(h, verdict, note)  # validates the verdict before touching the run
        self._resume({"signoffs": {h.id: {"verdict": verdict, "note": note}}}, on_update)
        return self.hypothesis(h.id)

    def write_report(self, on_update: OnUpdate | None = None) -> dict:
        """Write the report with everything signed off so far; returns its paths."""
        self._resume({"action": "report"}, on_update)
        return self.state().get("report", {})

    def run_tool(self, tool: str, args: dict[str, Any], on_update: OnUpdate | None = None) -> Evidence:
        """Run one registry tool on the case; with a diagnosis under way the result joins
        its evidence (judged against every hypothesis) as a forecaster's check."""
        from hvrmet.agents.evidence import run_check

        if self.case is None:
            raise HvrmetError("no case loaded: /case ID first")
        state = self.state()
        n = sum(1 for e in state.get("evidence", []) if "-F" in e["id"]) + 1
        loop = state.get("loop", 0)
        ev = run_check(PlannedCheck(tool=tool, args=args, reason="the forecaster's check"), self.case, self.data_dir,
                       f"E{loop}-F{n}", loop, for_hypothesis="forecaster", out_dir=self.cfg.out_dir)
        if not state:
            return ev
        hyps = [Hypothesis.model_validate(h) for h in state.get("hypotheses", [])]
        ev = attach_verdicts(ev, hyps, state.get("thresholds"))
        self._resume({"evidence": [ev.model_dump()]}, on_update)
        return ev

    # -- forking ---------------------------------------------------------------------------
    def loops_available(self) -> list[int]:
        """Loops with a checkpoint to fork from (the point where their checks start)."""
        return sorted({s.values.get("loop") for s in self.graph.get_state_history(self.config)
                       if "verify" in s.next and s.values.get("loop")})

    def fork(self, loop: int, *, thresholds: dict[str, float] | None = None, drop: list[str] | None = None,
             add: list[str] | None = None, on_update: OnUpdate | None = None) -> dict:
        """Go back to the start of ``loop``'s checks and continue from there with changed
        thresholds (``{"card-id:field>=": value}``, in the condition's units), hypotheses
        dropped (rejected by the forecaster) or hazards added. The earlier branch stays in
        the checkpoint history."""
        from hvrmet.knowledge import default_store

        snaps = [s for s in self.graph.get_state_history(self.config) if s.values.get("loop") == loop and "verify" in s.next]
        if not snaps:
            raise HvrmetError(f"no checkpoint at loop {loop}; loops that can be forked: "
                              f"{', '.join(map(str, self.loops_available())) or 'none'}")
        snap = snaps[-1]  # the earliest: where the loop's checks were dispatched
        values = snap.values
        store = default_store()
        th = dict(values.get("thresholds") or {})
        for key, val in (thresholds or {}).items():
            card_id, _, field_op = key.partition(":")
            card = store.by_id.get(card_id)
            if card is None:
                raise HvrmetError(f"unknown card {card_id!r} in threshold {key!r}")
            numeric = [c for c in card.conditions if not isinstance(c.value, (bool, str))]
            if field_op not in {f"{c.field}{c.op}" for c in numeric}:
                raise HvrmetError(f"card {card_id} has no numeric condition {field_op!r}; its conditions: "
                                  + ", ".join(f"{c.field}{c.op}{c.value:g}" for c in numeric))
            th[f"{card_id}:{field_op}"] = float(val)
        hyps = {h["id"]: Hypothesis.model_validate(h) for h in values.get("hypotheses", [])}
        for hid in drop or []:
            h = _find(hyps.values(), hid)
            if h is None:
                raise HvrmetError(f"no hypothesis {hid!r} at loop {loop}; known: {', '.join(hyps)}")
            hyps[h.id] = apply_signoff(h, "rejected", f"dropped at the fork of loop {loop}").model_copy(update={"checks": []})
        new_ids = []
        if add:
            from hvrmet.agents.common import brain_context
            from hvrmet.agents.expert import FIRST_LOOP_CHECKS, ExpertPolicy

            ctx = brain_context(values, self.cfg)
            for hazard in add:
                if hazard not in store.hazards:
                    raise HvrmetError(f"unknown hazard {hazard!r}; known: {', '.join(sorted(store.hazards))}")
                hid = f"H{len(hyps) + 1}"
                hyps[hid] = Hypothesis(id=hid, hazard=hazard, statement=store.hazards[hazard].description, prior=0.5,
                                       posterior=0.5, checks=ExpertPolicy(store).plan(hazard, ctx)[:FIRST_LOOP_CHECKS], loop_proposed=loop,
                                       rationale=f"added by the forecaster at the fork of loop {loop}")
                new_ids.append(hid)
        ev = [Evidence.model_validate(e) for e in values.get("evidence", [])]
        if th != (values.get("thresholds") or {}) or new_ids:
            ev = [rejudge(e, list(hyps.values()), th) for e in ev]
        what = ", ".join([f"{k}{v:g}" for k, v in (thresholds or {}).items()]
                         + [f"drop {d}" for d in drop or []] + [f"add {a}" for a in add or []]) or "no change"
        update = {"hypotheses": [h.model_dump() for h in hyps.values()], "evidence": [e.model_dump() for e in ev],
                  "thresholds": th, "done": False, "report": {}, "outcome": "",
                  "decisions": [Decision(loop=loop, action="fork", reason=f"the forecaster forked loop {loop}: {what}",
                                         new_hypotheses=new_ids).model_dump()],
                  "messages": [{"kind": "fork", "text": f"forked at loop {loop}: {what}"}]}
        as_node = "hypothesis" if loop == 1 else "replan"
        new = self.graph.update_state(snap.config, update, as_node=as_node)
        config = {**self.config, "configurable": {**self.config["configurable"], **new["configurable"]}}
        return self._stream(None, config, on_update)
