"""The chat in a terminal: a prompt, the loop streamed as it runs, replies as rich tables.

Data strings and model text are printed with markup off, so a bracket in a file name or
an answer is shown as it is, never read as styling.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from hvrmet.chat.commands import handle
from hvrmet.chat.progress import Busy, tool_events
from hvrmet.chat.reply import Reply
from hvrmet.chat.session import ChatSession

__all__ = ["live_printer", "render", "run_terminal", "PROMPT"]

PROMPT = "hvrmet> "
_STYLES = {"screen": "dim", "signal": "cyan", "hypothesis": "magenta", "check": "white", "replan": "yellow",
           "decision": "bold yellow", "report": "green", "error": "bold red", "signoff": "bold blue", "fork": "bold blue"}


def live_printer(console: Console) -> Callable[[str, dict], None]:
    """An ``on_update`` that prints each message of the run as it arrives."""
    def show(node: str, update: dict) -> None:
        for m in update.get("messages", []):
            console.print(f"[{_STYLES.get(m['kind'], 'white')}]{m['kind']:>10}[/] {escape(m['text'])}", highlight=False)
    return show


def render(console: Console, reply: Reply) -> None:
    """Print a reply: its text, tables, figures and links."""
    if reply.text:
        console.print(Text(reply.text, style="bold red" if reply.error else ""), highlight=False)
    for t in reply.tables:
        table = RichTable(title=Text(t.title), title_justify="left")
        for c in t.columns:
            table.add_column(Text(c), overflow="fold")
        for r in t.rows:
            table.add_row(*(Text(x) for x in r))
        console.print(table)
    for f in reply.figures:
        console.print(Text(f"figure: {f}"), highlight=False)
    for label, path in reply.links.items():
        console.print(Text(f"report ({label}): {path}"), highlight=False)


def run_terminal(session: ChatSession, console: Console, *, first: list[str] | None = None,
                 resumed: bool = False, progress: Console | None = None) -> None:
    """Read lines until ``/quit`` or end of input; ``first`` lines run before the prompt.

    While a line runs, a spinner on ``progress`` (a standard-error console; none by
    default) names the tool that is running; it is drawn only on a terminal."""
    console.print(Text(f"hvrmet chat, session {session.session_id} (brain: {session.cfg.brain}; runs in "
                       f"{session.cfg.out_dir}/runs.sqlite). /help for the commands, /quit to leave."))
    if resumed:
        for role, text in session.history(last=10):
            console.print(Text(f"  {role}: {text}", style="dim"), highlight=False)
        console.print(Text(f"resumed: case {session.case or '(none)'}, run {session.thread_id or '(none)'}, "
                           f"status {session.status()}"))
    show = live_printer(console)
    lines = list(first or [])
    while True:
        if lines:
            line = lines.pop(0)
            console.print(Text(PROMPT + line), highlight=False)
        else:
            try:
                line = console.input(PROMPT)
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
        if line.strip() in ("/quit", "/exit", "/q"):
            break
        if progress is None:
            render(console, handle(session, line, on_update=show))
            continue
        with Busy(line.strip(), progress) as spin, tool_events(spin.tool_listener(f"{line.strip()}: running ")):
            reply = handle(session, line, on_update=live_printer(spin.printer(console)))
        render(console, reply)
