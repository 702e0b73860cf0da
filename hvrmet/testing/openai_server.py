"""A small scripted OpenAI-compatible server for tests (never a real provider).

It listens on 127.0.0.1, answers ``POST /v1/chat/completions`` with the next scripted
reply, and records every request. A reply is a string (assistant text), a dict with
``tool_calls`` (list of ``(name, arguments_dict)``), or ``{"sleep": seconds}`` to make the
client time out. When the script runs out, a ``responder(request) -> reply`` callable, if
given, answers instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedOpenAIServer"]


class ScriptedOpenAIServer:
    """Context manager: ``with ScriptedOpenAIServer([...]) as srv: srv.base_url``."""

    def __init__(self, script: list[Any] | None = None,
                 responder: Callable[[dict], Any] | None = None) -> None:
        self.script = list(script or [])
        self.responder = responder
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _next(self, request: dict) -> Any:
        with self._lock:
            self.requests.append(request)
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
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                reply = outer._next(body)
                if isinstance(reply, dict) and "sleep" in reply:
                    time.sleep(reply["sleep"])
                    reply = reply.get("then", "late")
                message: dict[str, Any] = {"role": "assistant", "content": None}
                finish = "stop"
                if isinstance(reply, dict) and "tool_calls" in reply:
                    message["tool_calls"] = [
                        {"id": f"call_{i}", "type": "function",
                         "function": {"name": name, "arguments": json.dumps(args)}}
                        for i, (name, args) in enumerate(reply["tool_calls"])]
                    finish = "tool_calls"
                else:
                    message["content"] = reply if isinstance(reply, str) else json.dumps(reply)
                payload = {"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                           "model": body.get("model", "test"),
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                           "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
