"""The chat as a web page: FastAPI, one JSON API, server-sent events for the live loop.

* ``GET /`` the page (static HTML and JavaScript that build the DOM with ``textContent``
  only: data strings and model text are never parsed as HTML);
* ``GET /api/cases``; ``GET /api/sessions``; ``POST /api/sessions`` (new, or reopen one
  by ``session_id``);
* ``POST /api/sessions/{id}/command`` ``{"line": "/diagnose"}``: runs one chat line in
  the background (one at a time per session; 409 while busy);
* ``GET /api/sessions/{id}/events``: server-sent events (``message`` for each step of
  the loop, ``reply``, ``state``, ``busy``/``idle``), resumable with ``Last-Event-ID``;
* ``GET /api/sessions/{id}/state``: hypotheses, evidence, figures and report links;
* ``GET /files?path=...``: a figure or report, only from the output folder and the data
  roots (anything else is 403).
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from pydantic import BaseModel

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.state import Evidence, Hypothesis
from hvrmet.chat.commands import evidence_table, handle, hypothesis_table
from hvrmet.chat.session import ChatSession, list_sessions

__all__ = ["create_app", "allowed_roots"]

STATIC = Path(__file__).parent / "static"


class _NewSession(BaseModel):
    case: str | None = None
    session_id: str | None = None


class _Line(BaseModel):
    line: str


def allowed_roots(cfg: Configuration, data_dir: str | None = None) -> list[Path]:
    """Folders the page may read from: the output folder and the data roots (the local
    data folder, pooch's cache, and ``data_dir``)."""
    from hvrmet.data.registry import default_registry

    reg = default_registry()
    roots = [Path(cfg.out_dir), reg.cache_dir]
    if reg.data_dir is not None:
        roots.append(reg.data_dir)
    if data_dir:
        roots.append(Path(data_dir))
    return [r.resolve() for r in roots]


class _WebSession:
    """A chat session with its event log (appended by a worker thread, read by SSE)."""

    def __init__(self, chat: ChatSession) -> None:
        self.chat = chat
        self.events: list[dict[str, Any]] = []
        self.busy = False
        self.snapshot: dict[str, Any] = {}
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """Mark the session busy; ``False`` if it already is (one line at a time)."""
        with self._lock:
            if self.busy:
                return False
            self.busy = True
            return True

    def push(self, kind: str, data: Any) -> None:
        with self._lock:
            self.events.append({"seq": len(self.events) + 1, "type": kind, "data": data})

    def state(self) -> dict[str, Any]:
        """Tables, figures and report of the run (called on the worker thread or when idle)."""
        chat = self.chat
        st = chat.state()  # read the checkpoint once for all the tables
        hyps = [Hypothesis.model_validate(h) for h in st.get("hypotheses", [])]
        evidence = [Evidence.model_validate(e) for e in st.get("evidence", [])]
        figures = [{"id": e.id, "kind": f["kind"], "path": f["png"]} for e in evidence for f in e.figures]
        rep = st.get("report") or {}
        self.snapshot = {"session_id": chat.session_id, "case": chat.case, "thread_id": chat.thread_id,
                         "status": chat.status(), "outcome": st.get("outcome", ""), "loop": st.get("loop", 0),
                         "hypotheses": hypothesis_table(hyps).model_dump() if st else None,
                         "evidence": evidence_table(evidence).model_dump() if st else None,
                         "figures": figures, "report": {k: rep.get(k, "") for k in ("html", "markdown", "trace", "summary")}}
        return self.snapshot

    def run(self, line: str) -> None:
        def on_update(node: str, update: dict) -> None:
            for m in update.get("messages", []):
                self.push("message", {"node": node, "kind": m["kind"], "text": m["text"]})
            if node in ("hypothesis", "replan", "review", "report"):
                self.push("state", self.state())

        try:
            self.push("user", {"line": line})
            reply = handle(self.chat, line, on_update=on_update)
            self.push("reply", reply.model_dump())
            self.push("state", self.state())
        except Exception as exc:  # noqa: BLE001 - shown on the page, and the session stays usable
            self.push("reply", {"text": f"internal error: {type(exc).__name__}: {exc}", "error": True, "tables": [],
                                "figures": [], "links": {}, "refresh": False})
        finally:
            self.busy = False
            self.push("idle", {})


def create_app(cfg: Configuration | None = None, *, data_dir: str | None = None) -> FastAPI:
    """The web app for one output folder and brain (``hvrmet serve``)."""
    cfg = cfg or Configuration.from_runnable_config()
    roots = allowed_roots(cfg, data_dir)
    sessions: dict[str, _WebSession] = {}
    app = FastAPI(title="hvrmet", description="Interactive diagnosis chat", docs_url="/api/docs")

    def get(sid: str) -> _WebSession:
        ws = sessions.get(sid)
        if ws is None:
            raise HTTPException(404, f"no session {sid!r}")
        return ws

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return (STATIC / "index.html").read_text()

    @app.get("/static/{name}")
    def static(name: str) -> FileResponse:
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(path)

    @app.get("/api/cases")
    def cases() -> list[dict]:
        from hvrmet.cases import list_cases

        return [{"id": c.id, "title": c.title, "time": f"{c.time:%Y-%m-%d %H:%M}", "place": c.location.place or "",
                 "roles": c.roles} for c in list_cases()]

    @app.get("/api/sessions")
    def sessions_list() -> list[dict]:
        return list_sessions(cfg)

    @app.post("/api/sessions")
    def new_session(body: _NewSession) -> dict:
        if body.session_id:
            chat = sessions[body.session_id].chat if body.session_id in sessions else ChatSession.resume(cfg, body.session_id)
        else:
            chat = ChatSession(cfg, data_dir=data_dir)
        ws = sessions.setdefault(chat.session_id, _WebSession(chat))
        if body.case:
            reply = handle(chat, f"/case {body.case}")
            ws.push("reply", reply.model_dump())
        return ws.state()

    @app.post("/api/sessions/{sid}/command", status_code=202)
    def command(sid: str, body: _Line) -> dict:
        ws = get(sid)
        if not ws.claim():
            raise HTTPException(409, "the session is still working on the previous line")
        ws.push("busy", {"line": body.line})
        threading.Thread(target=ws.run, args=(body.line,), daemon=True).start()
        return {"accepted": True}

    @app.get("/api/sessions/{sid}/state")
    def state(sid: str) -> dict:
        ws = get(sid)
        return ws.snapshot if ws.busy else ws.state()

    @app.get("/api/sessions/{sid}/events")
    async def events(sid: str, request: Request) -> StreamingResponse:
        ws = get(sid)
        start = int(request.headers.get("last-event-id") or 0)

        async def stream():
            i, idle = start, 0
            while not await request.is_disconnected():
                new = ws.events[i:]
                for e in new:
                    yield f"id: {e['seq']}\nevent: {e['type']}\ndata: {json.dumps(e['data'], default=str)}\n\n"
                i += len(new)
                idle = 0 if new else idle + 1
                if idle and idle % 100 == 0:
                    yield ": keep-alive\n\n"
                await asyncio.sleep(0.15)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/files")
    def files(path: str) -> FileResponse:
        p = Path(path)
        p = (p if p.is_absolute() else Path.cwd() / p).resolve()
        if not any(p.is_relative_to(r) for r in roots) or not p.is_file():
            raise HTTPException(403, "outside the output folder and the data roots")
        headers = {"X-Content-Type-Options": "nosniff"}
        if p.suffix == ".html":  # our report: embedded figures and inline style only, no scripts
            headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
        return FileResponse(p, headers=headers)

    return app
