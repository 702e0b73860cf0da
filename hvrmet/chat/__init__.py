"""The interactive diagnosis chat: a session (case, run, history), its commands, and the
terminal front end; the web page (:mod:`hvrmet.web`) uses the same session and commands."""

from hvrmet.chat.commands import COMMANDS, handle
from hvrmet.chat.reply import Reply, Table
from hvrmet.chat.session import ChatSession, list_sessions

__all__ = ["ChatSession", "list_sessions", "handle", "COMMANDS", "Reply", "Table"]
