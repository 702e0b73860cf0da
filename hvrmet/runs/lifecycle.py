"""One run lifecycle: start, stream, resume, pause for review, sign off, add a check, fork,
write the report.

:class:`Run` is the only code that drives the compiled graph on a thread. ``hvrmet
diagnose``, the chat (terminal and web), batch, the benchmark and the Python API all go
through it. It changes a run only through the graph's own inputs: a new run's
:class:`~hvrmet.agents.state.DiagnosisInput`, ``Command(resume=...)`` at the review, and
the documented ``request`` inputs (``reopen``, ``fork``; see :mod:`hvrmet.agents.fork`).
While it streams it holds the thread's claim in the store, so a second process on the
same thread is refused (:class:`~hvrmet.runs.store.ThreadBusy`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from langgraph.types import Command

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.review import apply_signoff, find_hypothesis
from hvrmet.agents.state import Evidence, Hypothesis
from hvrmet.errors import HvrmetError
from hvrmet.runs.store import RunStore

__all__ = ["Run", "OnUpdate", "diagnose"]

#: Called with ``(node, update)`` for every step of the graph, for live display.
OnUpdate = Callable[[str, dict], None]


class Run:
    """One diagnosis thread in a :class:`RunStore`.

    Parameters
    ----------
    cfg
        The run's configuration (its key, if any, stays in this process).
    thread_id
        An existing thread to reopen, or ``None`` for a new one (made by :meth:`start`).
    store
        The store to use (opened on ``cfg.out_dir`` when ``None``, and closed with the run).
    """

    def __init__(self, cfg: Configuration, *, thread_id: str | None = None, store: RunStore | None = None) -> None:
        from hvrmet.agents.graph import build_graph

        self.cfg = cfg
        self.thread_id = thread_id
        self._own_store = store is None
        self.store = store or RunStore(cfg.out_dir)
        self.graph = build_graph(self.store.saver)

    def close(self) -> None:
        if self._own_store:
            self.store.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        """The LangGraph run config of the thread (no secret in it)."""
        if self.thread_id is None:
            raise HvrmetError("no diagnosis yet: start one first")
        return {"configurable": {"thread_id": self.thread_id, **self.cfg.configurable()}, "recursion_limit": 200}

    def state(self) -> dict:
        """The thread's current values (``{}`` before the first step)."""
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
        h = find_hypothesis(hyps, hid)
        if h is not None:
            return h
        known = ", ".join(f"{h.id} ({h.hazard})" for h in hyps) or "none yet: diagnose first"
        raise HvrmetError(f"no hypothesis {hid!r}; known: {known}")

    def loops_available(self) -> list[int]:
        """Loops with a checkpoint to fork from (the point where their checks start)."""
        return sorted({s.values.get("loop") for s in self.graph.get_state_history(self.config)
                       if "verify" in s.next and s.values.get("loop")})

    # -- driving ------------------------------------------------------------------------
    def _stream(self, inputs: Any, config: dict, on_update: OnUpdate | None) -> dict:
        with self.store.claim(self.thread_id):
            for chunk in self.graph.stream(inputs, config, stream_mode="updates"):
                for node, update in chunk.items():
                    if on_update is not None and isinstance(update, dict):
                        on_update(node, update)
        state = self.state()
        if state.get("report"):
            self.store.record_run(self.thread_id, case_id=state.get("case"), brain=self.cfg.brain,
                                  finished=time.time(), outcome=state.get("outcome", ""),
                                  report=state["report"].get("html", ""))
        return state

    def start(self, case: str, data_dir: str | None = None, on_update: OnUpdate | None = None) -> dict:
        """A new diagnosis of ``case`` (catalogue id or case file), run to its end, or to
        the review when the configuration asks for one. Keeps ``thread_id`` if it was
        given and is unused, else makes one."""
        if self.thread_id is None:
            self.thread_id = uuid.uuid4().hex[:12]
        elif self.state():
            raise HvrmetError(f"thread {self.thread_id} already holds a run; resume it or start a new thread")
        self.store.record_run(self.thread_id, case_id=case, brain=self.cfg.brain, started=time.time())
        inputs = {"case": case, "data_dir": data_dir, "run_id": self.thread_id}
        return self._stream(inputs, self.config, on_update)

    def resume(self, on_update: OnUpdate | None = None) -> dict:
        """Continue an interrupted run from its last checkpoint."""
        if not self.state():
            raise HvrmetError(f"no run with thread id {self.thread_id!r} in {self.store.path}")
        return self._stream(None, self.config, on_update)

    def _to_review(self, on_update: OnUpdate | None) -> None:
        """Make sure the run is paused at the review (reopening it after a report)."""
        status = self.status()
        if status == "none":
            raise HvrmetError("no diagnosis yet: diagnose first")
        if status == "running":
            self._stream(None, self.config, on_update)
        if self.status() == "reported":
            self._stream({"request": {"action": "reopen"}}, self.config, on_update)
        if self.status() != "review":
            raise HvrmetError(f"the run did not reach the review (status {self.status()}); "
                              "the review needs a configuration with review on")

    def _answer(self, answer: dict, on_update: OnUpdate | None) -> dict:
        self._to_review(on_update)
        return self._stream(Command(resume=answer), self.config, on_update)

    def signoff(self, hid: str, verdict: str, note: str = "", on_update: OnUpdate | None = None) -> Hypothesis:
        """Accept or reject a hypothesis; recorded in the run (and in the next report)."""
        h = self.hypothesis(hid)
        apply_signoff(h, verdict, note)  # validates the verdict before touching the run
        self._answer({"signoffs": {h.id: {"verdict": verdict, "note": note}}}, on_update)
        return self.hypothesis(h.id)

    def add_check(self, tool: str, args: dict[str, Any], on_update: OnUpdate | None = None) -> Evidence:
        """Run one registry tool as the forecaster's check: it runs inside the graph, on the
        run's case, and joins the evidence (judged against every hypothesis)."""
        before = {e["id"] for e in self.state().get("evidence", [])}
        state = self._answer({"checks": [{"tool": tool, "args": args}]}, on_update)
        new = [e for e in state.get("evidence", []) if e["id"] not in before and e.get("origin") == "forecaster"]
        if not new:
            raise HvrmetError(f"the check {tool} did not reach the run")
        return Evidence.model_validate(new[-1])

    def write_report(self, on_update: OnUpdate | None = None) -> dict:
        """Write the report with everything signed off so far; returns its paths."""
        return self._answer({"action": "report"}, on_update).get("report", {})

    def fork(self, loop: int, *, thresholds: dict[str, float] | None = None, drop: list[str] | None = None,
             add: list[str] | None = None, on_update: OnUpdate | None = None) -> dict:
        """Go back to where ``loop``'s checks were dispatched and continue from there with
        changed thresholds (``{"card-id:field>=": value}``, in the condition's units),
        hypotheses dropped (rejected by the forecaster) or hazards added. The earlier branch
        stays in the checkpoint history."""
        from hvrmet.agents.fork import validate_fork

        snaps = [s for s in self.graph.get_state_history(self.config)
                 if s.values.get("loop") == loop and "verify" in s.next]
        if not snaps:
            raise HvrmetError(f"no checkpoint at loop {loop}; loops that can be forked: "
                              f"{', '.join(map(str, self.loops_available())) or 'none'}")
        snap = snaps[-1]  # the earliest: where the loop's checks were dispatched
        request = {"action": "fork", "loop": loop, "thresholds": dict(thresholds or {}),
                   "drop": list(drop or []), "add": list(add or [])}
        validate_fork(snap.values, request)  # a bad request fails here, before the thread changes
        config = {**self.config, "configurable": {**self.config["configurable"], **snap.config["configurable"]}}
        return self._stream({"request": request}, config, on_update)


def diagnose(case: str, cfg: Configuration | None = None, *, data_dir: str | None = None,
             thread_id: str | None = None, resume: bool = False, on_update: OnUpdate | None = None) -> dict:
    """Run (or resume) one diagnosis to the end and return its final state with its
    ``thread_id``.

    Parameters
    ----------
    case
        Catalogue id or case-file path (ignored when resuming: the thread knows it).
    cfg
        The configuration (:meth:`Configuration.resolve` when ``None``).
    thread_id
        The run's thread (a new one if ``None``); with ``resume=True`` the run continues
        from its last checkpoint.
    on_update
        Called with ``(node, update)`` for every step, for live display.
    """
    cfg = cfg or Configuration.resolve()
    with Run(cfg, thread_id=thread_id) as run:
        state = run.resume(on_update) if resume else run.start(case, data_dir, on_update)
        return {**state, "thread_id": run.thread_id}
