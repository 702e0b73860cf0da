"""A small scripted OpenAI-compatible server for tests (never a real provider).

It listens on 127.0.0.1, answers ``POST /v1/chat/completions`` with the next scripted
reply, and records every request. When the script runs out, a ``responder(request) ->
reply`` callable, if given, answers instead. A reply is

- a string: the assistant's text;
- a dict with ``tool_calls``, a list of ``(name, arguments)``: the arguments are sent
  JSON-encoded (a dict, or anything else, e.g. a list), or verbatim when wrapped in
  :class:`Raw` (truncated JSON); an optional ``content`` goes with them;
- ``{"sleep": seconds, "then": reply}``: answer late, to make the client time out;
- a :class:`Fault`, built by the helpers below, for an endpoint that misbehaves:
  :func:`raw_body` / :func:`html_page` (a body that is not a completion),
  :func:`http_error` (429, 500, 503 ... with an optional body and ``Retry-After``),
  :func:`completion` (top-level keys replaced, e.g. ``choices=[]`` or ``None``),
  :func:`missing_message`, :func:`message` (the assistant message verbatim, e.g.
  ``content=None`` and no tool calls) and :func:`drop_connection`;
- any other value: its JSON as the assistant's text (a structured answer).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedOpenAIServer", "Fault", "Raw", "raw_body", "html_page", "http_error", "completion",
           "missing_message", "message", "drop_connection"]


class Raw(str):
    """Tool-call arguments sent verbatim (not JSON-encoded), e.g. ``Raw('{"case": "may')``."""


@dataclass(frozen=True)
class Fault:
    """A scripted reply that is not a well-formed completion.

    ``body`` (text, sent verbatim) replaces the whole completion; otherwise ``completion``
    replaces top-level keys of the usual completion and ``message`` its assistant message.
    ``drop`` closes the connection without an answer.
    """

    status: int = 200
    body: str | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    completion: dict[str, Any] | None = None
    message: dict[str, Any] | None = None
    drop: bool = False


def raw_body(text: str, content_type: str = "text/plain", status: int = 200) -> Fault:
    """A body sent as it is (not JSON, truncated JSON, anything)."""
    return Fault(status=status, body=text, content_type=content_type)


def html_page(status: int = 200, title: str = "502 Bad Gateway") -> Fault:
    """An HTML page, as a proxy in front of the model answers when the model is down."""
    page = (f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
            f"<body><center><h1>{title}</h1></center><hr><center>nginx</center></body></html>\n")
    return raw_body(page, "text/html", status)


def http_error(status: int, body: str | dict | None = None, retry_after: float | str | None = None,
               headers: dict[str, str] | None = None) -> Fault:
    """An HTTP error: an OpenAI-style error object unless ``body`` is given (a dict is
    sent as JSON, a string verbatim); ``retry_after`` sets the ``Retry-After`` header."""
    hdrs = dict(headers or {})
    if retry_after is not None:
        hdrs["Retry-After"] = str(retry_after)
    if body is None:
        body = {"error": {"message": f"scripted HTTP {status}", "type": "server_error", "code": status}}
    text = body if isinstance(body, str) else json.dumps(body)
    ctype = "application/json" if not isinstance(body, str) or body.lstrip().startswith(("{", "[")) else "text/plain"
    return Fault(status=status, body=text, content_type=ctype, headers=hdrs)


def completion(**keys: Any) -> Fault:
    """The usual completion with these top-level keys replaced (``choices=[]``, ``choices=None``)."""
    return Fault(completion=keys)


def missing_message() -> Fault:
    """A completion whose only choice has no ``message``."""
    return completion(choices=[{"index": 0, "finish_reason": "stop"}])


def message(**fields: Any) -> Fault:
    """The assistant message verbatim (``role`` is ``assistant`` unless given), e.g.
    ``message(content=None)`` for no text and no tool calls."""
    return Fault(message={"role": "assistant", **fields})


def drop_connection() -> Fault:
    """Close the connection without answering."""
    return Fault(drop=True)


def _message(reply: Any) -> tuple[dict[str, Any], str]:
    """The assistant message and finish reason of an ordinary scripted reply."""
    msg: dict[str, Any] = {"role": "assistant", "content": None}
    if isinstance(reply, dict) and "tool_calls" in reply:
        msg["content"] = reply.get("content")
        msg["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, Raw) else json.dumps(args)}}
            for i, (name, args) in enumerate(reply["tool_calls"])]
        return msg, "tool_calls"
    msg["content"] = reply if isinstance(reply, str) else json.dumps(reply)
    return msg, "stop"


def render(reply: Any, model: str = "test") -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body the server sends for one scripted reply."""
    fault = reply if isinstance(reply, Fault) else Fault()
    if fault.body is not None:
        return fault.status, {"Content-Type": fault.content_type, **fault.headers}, fault.body.encode()
    if fault.message is not None:
        msg, finish = dict(fault.message), "tool_calls" if fault.message.get("tool_calls") else "stop"
    else:
        msg, finish = _message("" if isinstance(reply, Fault) else reply)
    payload = {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
               "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
               "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    payload.update(fault.completion or {})
    return fault.status, {"Content-Type": "application/json", **fault.headers}, json.dumps(payload).encode()


class ScriptedOpenAIServer:
    """Context manager: ``with ScriptedOpenAIServer([...]) as srv: srv.base_url``."""

    def __init__(self, script: list[Any] | None = None,
                 responder: Callable[[dict], Any] | None = None) -> None:
        self.script = list(script or [])
        self.responder = responder
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _next(self, request: dict, headers: dict[str, str] | None = None) -> Any:
        with self._lock:
            self.requests.append(request)
            self.headers.append(dict(headers or {}))
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(request)
        return "no more scripted replies"

    def __enter__(self) -> "ScriptedOpenAIServer":
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                reply = outer._next(body, {k.lower(): v for k, v in self.headers.items()})
                if isinstance(reply, dict) and "sleep" in reply:
                    time.sleep(reply["sleep"])
                    reply = reply.get("then", "late")
                if isinstance(reply, Fault) and reply.drop:
                    self.close_connection = True
                    return
                status, headers, data = render(reply, body.get("model", "test") if isinstance(body, dict) else "test")
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
