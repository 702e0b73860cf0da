"""A forecaster's chat session: a case, its diagnosis thread, and the conversation.

The session drives the same compiled graph as ``hvrmet diagnose``, with
``Configuration.review`` on, so a run pauses at the *review* node (LangGraph
``interrupt``) for the forecaster's sign-off. Sign-offs and the forecaster's own checks
go back into the run as ``Command(resume=...)``; ``fork`` goes back to a checkpoint of
an earlier loop and continues from there with changed thresholds or hypotheses. All of it
goes through the one run lifecycle (:class:`hvrmet.runs.Run`); runs and the conversation
persist in ``<out_dir>/runs.sqlite`` (:class:`hvrmet.runs.RunStore`), so ``hvrmet chat
--resume`` picks a session up where it stopped.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.state import Evidence, Hypothesis
from hvrmet.errors import HvrmetError
from hvrmet.runs import OnUpdate, Run, RunStore

__all__ = ["ChatSession", "list_sessions", "OnUpdate"]


def list_sessions(cfg: Configuration) -> list[dict]:
    """Chat sessions, most recently used first: id, case, thread, created, updated, turns."""
    with RunStore(cfg.out_dir) as store:
        return store.list_sessions()


class ChatSession:
    """One conversation over one :class:`~hvrmet.runs.Run` at a time. Not thread-safe by
    itself: callers hold :attr:`lock`."""

    def __init__(self, cfg: Configuration | None = None, *, session_id: str | None = None,
                 data_dir: str | None = None, roots: list | None = None) -> None:
        self.cfg = (cfg or Configuration.resolve()).model_copy(update={"review": True})
        self.session_id = session_id or uuid.uuid4().hex[:10]
        self.data_dir = data_dir
        #: Folders a path the user types may point into (``None``: anywhere, as in the
        #: terminal); the web page sets them (see :mod:`hvrmet.web.app`).
        self.roots = roots
        self.case: str | None = None
        self.lock = threading.RLock()
        self.store = RunStore(self.cfg.out_dir)
        self.run = Run(self.cfg, store=self.store)
        row = self.store.session(self.session_id)
        if row:
            self.case, self.run.thread_id, self.data_dir = row[0], row[1], data_dir or row[2]
        else:
            self._save()

    @property
    def thread_id(self) -> str | None:
        """The thread of the session's current diagnosis."""
        return self.run.thread_id

    # -- persistence ---------------------------------------------------------------------
    @classmethod
    def resume(cls, cfg: Configuration, session_id: str | None = None) -> "ChatSession":
        """Reopen a session (the most recent one when ``session_id`` is ``None``)."""
        known = list_sessions(cfg)
        if not known:
            raise HvrmetError(f"no chat session in {cfg.out_dir}/runs.sqlite")
        if session_id is None:
            session_id = known[0]["session_id"]
        elif session_id not in {s["session_id"] for s in known}:
            raise HvrmetError(f"no chat session {session_id!r}; known: {', '.join(s['session_id'] for s in known)}")
        return cls(cfg, session_id=session_id)

    def _save(self) -> None:
        self.store.save_session(self.session_id, self.case, self.thread_id, self.data_dir)

    def record(self, role: str, text: str) -> None:
        """Append one turn (``user``, ``assistant`` or ``event``) to the history."""
        self.store.append_turn(self.session_id, role, text)

    def history(self, last: int | None = None) -> list[tuple[str, str]]:
        """The conversation so far as ``(role, text)``, oldest first."""
        rows = self.store.history(self.session_id)
        return rows[-last:] if last else rows

    def close(self) -> None:
        self.store.close()

    # -- the run ---------------------------------------------------------------------------
    def load_case(self, case: str) -> Any:
        """Choose a case (catalogue id or case-file path); the next ``diagnose`` runs on it."""
        from hvrmet.cases import get_case

        c = get_case(case, self.data_dir)
        self.case, self.run.thread_id = case, None
        self._save()
        return c

    def state(self) -> dict:
        """The current values of the thread (``{}`` before the first diagnosis)."""
        return self.run.state()

    def status(self) -> str:
        """``none``, ``running``, ``review`` or ``reported`` (see :meth:`Run.status`)."""
        return self.run.status()

    def hypotheses(self) -> list[Hypothesis]:
        return self.run.hypotheses()

    def evidence(self) -> list[Evidence]:
        return self.run.evidence()

    def hypothesis(self, hid: str) -> Hypothesis:
        """A hypothesis by id (``H2``) or hazard label (``tornado``)."""
        return self.run.hypothesis(hid)

    def diagnose(self, on_update: OnUpdate | None = None) -> dict:
        """Run a new diagnosis of the case up to the forecaster's review."""
        if self.case is None:
            raise HvrmetError("no case loaded: /case ID first")
        self.run.thread_id = uuid.uuid4().hex[:12]
        self._save()
        return self.run.start(self.case, self.data_dir, on_update)

    def signoff(self, hid: str, verdict: str, note: str = "", on_update: OnUpdate | None = None) -> Hypothesis:
        """Accept or reject a hypothesis; recorded in the run (and in the next report)."""
        return self.run.signoff(hid, verdict, note, on_update)

    def write_report(self, on_update: OnUpdate | None = None) -> dict:
        """Write the report with everything signed off so far; returns its paths."""
        return self.run.write_report(on_update)

    def run_tool(self, tool: str, args: dict[str, Any], on_update: OnUpdate | None = None) -> Evidence:
        """Run one registry tool on the case; with a diagnosis under way it runs inside the
        run as the forecaster's check (judged against every hypothesis), otherwise on its own."""
        if self.case is None:
            raise HvrmetError("no case loaded: /case ID first")
        if self.run.status() != "none":
            return self.run.add_check(tool, args, on_update)
        from hvrmet.agents.evidence import run_check
        from hvrmet.agents.state import PlannedCheck

        return run_check(PlannedCheck(tool=tool, args=args, reason="the forecaster's check"), self.case,
                         self.data_dir, origin="forecaster", loop=0, seq=1, for_hypothesis="forecaster",
                         out_dir=str(self.store.path.parent / "checks" / self.session_id))

    # -- forking ---------------------------------------------------------------------------
    def loops_available(self) -> list[int]:
        """Loops with a checkpoint to fork from (the point where their checks start)."""
        return self.run.loops_available()

    def fork(self, loop: int, *, thresholds: dict[str, float] | None = None, drop: list[str] | None = None,
             add: list[str] | None = None, on_update: OnUpdate | None = None) -> dict:
        """Continue from the start of ``loop``'s checks with changed thresholds, hypotheses
        dropped or hazards added (see :meth:`Run.fork`)."""
        return self.run.fork(loop, thresholds=thresholds, drop=drop, add=add, on_update=on_update)
