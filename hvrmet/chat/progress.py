"""Signs of life: a spinner on stderr while something slow runs, and each tool call of a
run as it starts and finishes.

* :class:`Busy` shows a spinner with a message and the seconds elapsed on the standard
  error while a block runs, only when the standard error is a terminal (pipes, files and
  the tests see nothing), and clears it when the block ends. Standard output is never
  redirected, so ``--json`` output stays clean.
* :func:`tool_events` calls a function before and after every tool call that a run makes
  in the current context (the screening tools, the checks, the report's figures), so the
  terminal and the web page can show each screening tool as it finishes instead of
  waiting for the screening node to return.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.spinner import Spinner
from rich.text import Text

__all__ = ["Busy", "busy", "tool_events", "ToolEvent"]

#: ``(phase, tool, arguments, result)``: phase ``"start"`` (result ``None``) or ``"end"``
#: (the same as :data:`hvrmet.agents.evidence.ToolEvent`).
ToolEvent = Callable[[str, str, dict, Any], None]


class _Line:
    """The spinner's line: the message and the seconds since it started."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.t0 = time.monotonic()
        self.spinner = Spinner("dots", style="status.spinner")

    def __rich__(self):
        self.spinner.text = Text(f"{self.text} ({time.monotonic() - self.t0:.0f} s)")
        return self.spinner


class Busy:
    """A spinner on ``console`` (standard error by default) while the block runs.

    Nothing is drawn when the console is not a terminal. :meth:`update` changes the
    message; :meth:`pause` hides the spinner while something else prints (a line on
    standard output would otherwise be drawn over by it).
    """

    def __init__(self, text: str, console: Console | None = None) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.line = _Line(text)
        self.live = None

    @property
    def shown(self) -> bool:
        return self.live is not None

    def __enter__(self) -> "Busy":
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self.line, console=self.console, transient=True, refresh_per_second=8,
                             redirect_stdout=False, redirect_stderr=True)
            self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def update(self, text: str) -> None:
        """Show ``text`` instead (the clock goes on)."""
        self.line.text = text

    def printer(self, console: Console) -> "_PausingConsole":
        """``console`` whose ``print`` hides the spinner while it prints (for code that
        prints as it goes, such as the live log of a run)."""
        return _PausingConsole(console, self)

    def tool_listener(self, prefix: str = "") -> ToolEvent:
        """A :func:`tool_events` listener that shows the tool running in the spinner."""
        def on_tool(phase: str, tool: str, arguments: dict, result) -> None:
            if phase == "start":
                self.update(f"{prefix}{tool}")
        return on_tool

    @contextlib.contextmanager
    def pause(self) -> Iterator[None]:
        """Hide the spinner for the block (while printing), then show it again."""
        if self.live is None:
            yield
            return
        self.live.stop()
        try:
            yield
        finally:
            self.live.start()


class _PausingConsole:
    """A console's ``print`` (and the attributes read around it) with a spinner hidden
    while it prints."""

    def __init__(self, console: Console, spin: Busy) -> None:
        self._console = console
        self._spin = spin

    def print(self, *args, **kw) -> None:
        with self._spin.pause():
            self._console.print(*args, **kw)

    def __getattr__(self, name: str):
        return getattr(self._console, name)


def busy(text: str, console: Console | None = None) -> Busy:
    """``with busy("decoding ..."):`` - a :class:`Busy` spinner."""
    return Busy(text, console)


def tool_events(listener: ToolEvent):
    """Call ``listener`` before and after each tool call that a run makes in this context
    (:func:`hvrmet.agents.evidence.tool_events`, the hook :func:`~hvrmet.agents.evidence.run_check`
    calls; imported here on first use, so that a spinner alone does not load the agents)."""
    from hvrmet.agents.evidence import tool_events as hook

    return hook(listener)
