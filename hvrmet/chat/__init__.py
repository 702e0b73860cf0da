"""The interactive diagnosis chat: a session (case, run, history), its commands, and the
terminal front end; the web page (:mod:`hvrmet.web`) uses the same session and commands.

The names below are imported on first use, so that :mod:`hvrmet.chat.progress` (the
command line's spinners) does not load the graph."""

from __future__ import annotations

import importlib

__all__ = ["ChatSession", "list_sessions", "handle", "COMMANDS", "Reply", "Table"]

_WHERE = {"ChatSession": "session", "list_sessions": "session", "handle": "commands", "COMMANDS": "commands",
          "Reply": "reply", "Table": "reply"}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"hvrmet.chat.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hvrmet.chat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
