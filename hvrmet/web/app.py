"""The chat as a web page: FastAPI, one JSON API, server-sent events for the live loop.

* ``GET /`` the page (static HTML and JavaScript that build the DOM with ``textContent``
  only: data strings and model text are never parsed as HTML);
* ``GET /api/cases``; ``GET /api/sessions`` (the caller's own sessions only);
  ``POST /api/sessions`` (new, or reopen one of the caller's by ``session_id``);
* ``POST /api/sessions/{id}/command`` ``{"line": "/diagnose"}``: runs one chat line in
  the background (one at a time per session; 409 while busy);
* ``GET /api/sessions/{id}/events``: server-sent events (``message`` for each step of
  the loop and, kind ``tool``, for each tool call as it finishes, so the screening tools
  show one by one; ``reply``, ``state``, ``busy``/``idle``), resumable with ``Last-Event-ID``;
* ``GET /api/sessions/{id}/state``: hypotheses, evidence, figures and report links;
* ``GET /files?path=...``: a run's artefact (report ``.html``/``.md``, figure
  ``.png``/``.svg``, a figure's ``.json`` sidecar, ``trace.json``) from the output folder
  or the data roots; any other path or kind of file is 403, a missing one 404.

Security (the server has no accounts; it is meant for one forecaster's machine):

* the ``Host`` header must name the bound address (for a loopback bind also
  ``localhost``/``127.0.0.1``/``[::1]``), with its port: else 400 (DNS rebinding);
  a request with an ``Origin`` other than its ``Host`` that changes something is 403;
* a bind beyond loopback needs a ``token`` (``hvrmet serve`` makes one and prints the
  URL with it, as Jupyter does): every request carries it, as ``?token=`` once (then a
  cookie), or ``Authorization: Bearer``; else 401;
* a session belongs to the browser that made it (an owner token in an HttpOnly,
  SameSite=Strict cookie): it is listed to that browser only, and a request about it
  without that cookie is 404, as is an unknown id. A session idle for ``idle_timeout``
  seconds (no request, no open event stream, no line running) is closed; its owner can
  reopen it;
* every response carries a Content-Security-Policy (no inline script;
  ``frame-ancestors 'none'``, ``'self'`` for a report shown in the page's sandboxed
  frame), ``X-Frame-Options``, ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer``;
* every path a user types (``/case``, ``/check``, ``/plot``, the files served) passes
  the one check :func:`hvrmet.chat.commands.inside_roots` against :func:`allowed_roots`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import secrets
import shlex
import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders

from hvrmet.agents.configuration import Configuration
from hvrmet.agents.state import Evidence, Hypothesis
from hvrmet.chat.commands import PathRefused, evidence_table, handle, hypothesis_table, inside_roots
from hvrmet.chat.progress import tool_events
from hvrmet.chat.session import ChatSession, list_sessions

__all__ = ["create_app", "allowed_roots", "is_loopback", "ARTEFACT_SUFFIXES"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

#: The kinds of file ``/files`` serves: reports, figures, figure sidecars and traces.
ARTEFACT_SUFFIXES = frozenset({".html", ".md", ".png", ".svg", ".json"})

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: A report: embedded figures and inline style only, no scripts; shown in the page's frame.
REPORT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
#: Any other served file (a figure opened on its own, Markdown, JSON): nothing runs.
FILE_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
SECURITY_HEADERS = {"content-security-policy": PAGE_CSP, "x-frame-options": "DENY",
                    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


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


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is this machine only."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, int | None] | None:
    """A ``Host`` header as ``(name, port)``; ``None`` when it cannot be read."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            return None
    else:
        name, sep, port = value.rpartition(":") if ":" in value else (value, "", None)
        if sep and not port:
            return None
    if not name:
        return None
    if port is None:
        return name, None
    return (name, int(port)) if port.isdigit() else None


class _WebSession:
    """A chat session with its event log (appended by a worker thread, read by SSE)."""

    def __init__(self, chat: ChatSession, clock: Callable[[], float]) -> None:
        self.chat = chat
        self.events: list[dict[str, Any]] = []
        self.busy = False
        self.closed = False
        self.streams = 0  # open event streams (a page that is looking)
        self.snapshot: dict[str, Any] = {}
        self._clock = clock
        self.last_used = clock()
        self._lock = threading.Lock()

    def touch(self) -> None:
        self.last_used = self._clock()

    def claim(self) -> bool:
        """Mark the session busy; ``False`` if it already is (one line at a time)."""
        with self._lock:
            if self.busy or self.closed:
                return False
            self.busy = True
            return True

    def push(self, kind: str, data: Any) -> None:
        with self._lock:
            self.events.append({"seq": len(self.events) + 1, "type": kind, "data": data})

    def idle_for(self, now: float) -> float:
        """Seconds since the session was last used; 0 while busy or watched."""
        return 0.0 if self.busy or self.streams else now - self.last_used

    def close(self) -> None:
        with self._lock:
            self.closed = True
        with self.chat.lock:
            self.chat.close()

    def state(self) -> dict[str, Any]:
        """Tables, figures and report of the run (called on the worker thread or when idle)."""
        chat = self.chat
        with chat.lock:
            st = chat.state()  # read the checkpoint once for all the tables
            status = chat.status()
        hyps = [Hypothesis.model_validate(h) for h in st.get("hypotheses", [])]
        evidence = [Evidence.model_validate(e) for e in st.get("evidence", [])]
        figures = [{"id": e.id, "kind": f["kind"], "path": f["png"]} for e in evidence for f in e.figures]
        rep = st.get("report") or {}
        self.snapshot = {"session_id": chat.session_id, "case": chat.case,
                         "thread_id": getattr(chat, "thread_id", None) or st.get("run_id"),
                         "status": status, "outcome": st.get("outcome", ""), "loop": st.get("loop", 0),
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

        def on_tool(phase: str, tool: str, arguments: dict, result) -> None:
            # each tool call as it finishes: the screening node's own messages come only
            # when all of its tools have run
            if phase == "end" and result is not None:
                done = f"done in {result.seconds:.1f} s" if result.ok else f"error ({result.error_type or 'failed'})"
                self.push("message", {"node": "tool", "kind": "tool", "text": f"{tool}: {done}"})

        try:
            self.push("user", {"line": line})
            with tool_events(on_tool):
                reply = handle(self.chat, line, on_update=on_update)
            self.push("reply", reply.model_dump())
            self.push("state", self.state())
        except Exception as exc:  # noqa: BLE001 - shown on the page, and the session stays usable
            # the message may quote data (a file's text): it goes to the server's log only
            log.exception("session %s: %r failed", self.chat.session_id, line)
            self.push("reply", {"text": f"internal error ({type(exc).__name__}); the details are in the server's log",
                                "error": True, "tables": [], "figures": [], "links": {}, "refresh": False})
        finally:
            self.touch()
            self.busy = False
            self.push("idle", {})


def _artefact(p: Path) -> bool:
    """Whether ``p`` is a kind of file a run writes for people to read."""
    if p.suffix not in ARTEFACT_SUFFIXES:
        return False
    if p.suffix == ".json":  # a trace, or the sidecar of a figure beside it
        return p.name == "trace.json" or p.with_suffix(".png").is_file() or p.with_suffix(".svg").is_file()
    return True


class _Guard:
    """ASGI middleware: the Host (and Origin) check, the token, and the security headers
    on every response (a route's own CSP or X-Frame-Options stays)."""

    def __init__(self, app, *, hosts: set[str] | None, port: int | None, token: str | None,
                 token_cookie: str) -> None:
        self.app, self.hosts, self.port, self.token, self.token_cookie = app, hosts, port, token, token_cookie

    def _host_ok(self, value: str | None) -> bool:
        parsed = _split_host(value) if value else None
        if parsed is None:
            return False
        name, port = parsed
        if self.hosts is not None and name not in self.hosts:
            return False
        return self.port is None or (port or 80) == self.port

    def _given_token(self, headers: Headers, query: dict[str, str]) -> tuple[bool, bool]:
        """``(valid, from_query)``: whether the request carries the token, and whether
        it came in the URL (then it is set as a cookie)."""
        tok = self.token or ""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and secrets.compare_digest(auth[7:].strip().encode(), tok.encode()):
            return True, False
        cookie = SimpleCookie()
        with contextlib.suppress(Exception):
            cookie.load(headers.get("cookie", ""))
        if self.token_cookie in cookie and secrets.compare_digest(cookie[self.token_cookie].value.encode(), tok.encode()):
            return True, False
        if "token" in query and secrets.compare_digest(query["token"].encode(), tok.encode()):
            return True, True
        return False, False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        extra: list[tuple[str, str]] = []

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    if k not in h:
                        h[k] = v
                for k, v in extra:
                    h.append(k, v)
            await send(message)

        async def refuse(status: int, detail: str) -> None:
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send_with_headers)

        if not self._host_ok(headers.get("host")):
            await refuse(400, "unexpected Host header: this server answers to the address it is bound to")
            return
        origin = headers.get("origin")
        if origin is not None and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            if urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
                await refuse(403, "cross-origin request refused")
                return
        if self.token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            ok, from_query = self._given_token(headers, query)
            if not ok:
                await refuse(401, "this server needs its token: open the URL hvrmet serve printed "
                                  "(.../?token=...), or send 'Authorization: Bearer TOKEN'")
                return
            if from_query:
                extra.append(("set-cookie", f"{self.token_cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"))
                if scope["method"] == "GET" and scope["path"] == "/":  # the token out of the address bar
                    rest = urlencode([(k, v) for k, v in parse_qsl(scope["query_string"].decode("latin-1"))
                                      if k != "token"])
                    await RedirectResponse("/" + (f"?{rest}" if rest else ""), status_code=303)(
                        scope, receive, send_with_headers)
                    return
        await self.app(scope, receive, send_with_headers)


def create_app(cfg: Configuration | None = None, *, data_dir: str | None = None, host: str = "127.0.0.1",
               port: int | None = None, token: str | None = None, allowed_hosts: list[str] | None = None,
               idle_timeout: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """The web app for one output folder and brain (``hvrmet serve``).

    Parameters
    ----------
    host, port
        Where the server is bound: the ``Host`` header must name it (any name for a
        wildcard bind such as ``0.0.0.0``, where the token is the guard); ``port``
        ``None`` accepts any port.
    token
        The secret every request must carry; required unless ``host`` is loopback.
    allowed_hosts
        More names the ``Host`` header may give (a DNS name of the machine).
    idle_timeout
        Seconds after which an unused session is closed.
    clock
        Monotonic seconds (tests pass a fake one).
    """
    cfg = cfg or Configuration.from_runnable_config()
    if token is None and not is_loopback(host):
        raise ValueError(f"binding to {host} (beyond this machine) needs a token: create_app(..., token=...)")
    roots = allowed_roots(cfg, data_dir)
    sessions: dict[str, _WebSession] = {}
    owners: dict[str, str] = {}  # session id -> its owner's token (kept after expiry, to reopen)
    registry = threading.Lock()
    suffix = f"_{port}" if port else ""
    owner_cookie, token_cookie = f"hvrmet_owner{suffix}", f"hvrmet_token{suffix}"

    def sweep() -> None:
        """Close the sessions idle for longer than ``idle_timeout``."""
        now = clock()
        with registry:
            stale = [sid for sid, ws in sessions.items() if ws.idle_for(now) > idle_timeout]
            dead = [sessions.pop(sid) for sid in stale]
        for ws in dead:
            log.info("session %s idle for %.0f s: closed", ws.chat.session_id, now - ws.last_used)
            ws.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async def reaper() -> None:
            while True:
                await asyncio.sleep(max(1.0, min(60.0, idle_timeout / 4)))
                await asyncio.to_thread(sweep)

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            with registry:
                left = list(sessions.values())
                sessions.clear()
            for ws in left:
                if not ws.busy:
                    ws.close()

    app = FastAPI(title="hvrmet", description="Interactive diagnosis chat", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.sweep = sweep

    if is_loopback(host):
        hosts = {*_LOOPBACK_NAMES, host.strip("[]").lower()}
    elif host in ("0.0.0.0", "::", ""):
        hosts = None  # every address of the machine: any name, the token guards
    else:
        hosts = {host.strip("[]").lower()}
    if hosts is not None and allowed_hosts:
        hosts |= {h.lower() for h in allowed_hosts}
    app.add_middleware(_Guard, hosts=hosts, port=port, token=token, token_cookie=token_cookie)

    def owner_of(request: Request) -> str | None:
        return request.cookies.get(owner_cookie) or None

    def owns(request: Request, sid: str) -> bool:
        tok, owner = owner_of(request), owners.get(sid)
        return bool(tok and owner and secrets.compare_digest(tok.encode(), owner.encode()))

    def get(sid: str, request: Request) -> _WebSession:
        """The caller's live session ``sid``: 404 when unknown, expired or someone else's."""
        sweep()
        with registry:
            ws = sessions.get(sid)
            if ws is None or not owns(request, sid):
                raise HTTPException(404, f"no session {sid!r}")
            ws.touch()
        return ws

    def set_owner(response: Response, tok: str) -> None:
        response.set_cookie(owner_cookie, tok, httponly=True, samesite="strict", path="/")

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
    def sessions_list(request: Request) -> list[dict]:
        sweep()
        with registry:
            mine = {sid for sid in owners if owns(request, sid)}
        return [s for s in list_sessions(cfg) if s["session_id"] in mine] if mine else []

    @app.post("/api/sessions")
    def new_session(body: _NewSession, request: Request, response: Response) -> dict:
        sweep()
        tok = owner_of(request)
        if body.session_id:  # reopen one of the caller's own
            sid = body.session_id
            with registry:
                if not owns(request, sid):
                    raise HTTPException(404, f"no session {sid!r}")
                ws = sessions.get(sid)
            if ws is None:
                chat = ChatSession(cfg, session_id=sid, data_dir=data_dir, roots=roots)
                with registry:
                    ws = sessions.setdefault(sid, _WebSession(chat, clock))
                if ws.chat is not chat:
                    chat.close()
        else:
            tok = tok or secrets.token_urlsafe(24)
            chat = ChatSession(cfg, data_dir=data_dir, roots=roots)
            ws = _WebSession(chat, clock)
            with registry:
                sessions[chat.session_id] = ws
                owners[chat.session_id] = tok
            set_owner(response, tok)
        ws.touch()
        if body.case:
            reply = handle(ws.chat, f"/case {shlex.quote(body.case)}")
            ws.push("reply", reply.model_dump())
        return ws.state()

    @app.post("/api/sessions/{sid}/command", status_code=202)
    def command(sid: str, body: _Line, request: Request) -> dict:
        ws = get(sid, request)
        if not ws.claim():
            raise HTTPException(409, "the session is still working on the previous line")
        ws.push("busy", {"line": body.line})
        threading.Thread(target=ws.run, args=(body.line,), daemon=True).start()
        return {"accepted": True}

    @app.get("/api/sessions/{sid}/state")
    def state(sid: str, request: Request) -> dict:
        ws = get(sid, request)
        return ws.snapshot if ws.busy else ws.state()

    @app.get("/api/sessions/{sid}/events")
    async def events(sid: str, request: Request) -> StreamingResponse:
        ws = await asyncio.to_thread(get, sid, request)
        start = int(request.headers.get("last-event-id") or 0)

        async def stream():
            i, idle = start, 0
            ws.streams += 1
            try:
                while not ws.closed and not await request.is_disconnected():
                    new = ws.events[i:]
                    for e in new:
                        yield f"id: {e['seq']}\nevent: {e['type']}\ndata: {json.dumps(e['data'], default=str)}\n\n"
                    i += len(new)
                    idle = 0 if new else idle + 1
                    if idle and idle % 100 == 0:
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(0.15)
            finally:
                ws.streams -= 1
                ws.touch()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/files")
    def files(path: str) -> FileResponse:
        try:
            p = inside_roots(path, roots)
        except PathRefused:
            raise HTTPException(403, "outside the output folder and the data roots") from None
        if not _artefact(p):
            raise HTTPException(403, "only a run's reports, figures and traces are served")
        if not p.is_file():
            raise HTTPException(404, "no such file")
        if p.suffix == ".html":  # our report, shown in the page's sandboxed frame
            headers = {"Content-Security-Policy": REPORT_CSP, "X-Frame-Options": "SAMEORIGIN"}
        else:
            headers = {"Content-Security-Policy": FILE_CSP}
        return FileResponse(p, headers=headers)

    return app
