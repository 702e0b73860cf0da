"""The chat's commands, one function each, shared by the terminal and the web page.

``handle(session, line)`` answers one line: a ``/command`` runs its function; free text
goes to the brain (an OpenAI-compatible model answers through the same tools; the
offline policy points to the closest command or returns a knowledge search).

Paths a user types (``/case PATH``, a tool's ``case=``, ``data_dir=`` and ``files=``, the
data files a case file names) must lie inside ``session.roots`` when the session has
them (the web page: the output folder and the data roots); :func:`inside_roots` is the
one check, also used by the page for the files it serves.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hvrmet.agents.report import format_value
from hvrmet.agents.report.model import human_condition
from hvrmet.units import format_units
from hvrmet.agents.state import Evidence, Hypothesis
from hvrmet.chat.reply import Reply, Table
from hvrmet.chat.session import ChatSession, OnUpdate
from hvrmet.errors import HvrmetError

__all__ = ["COMMANDS", "Command", "handle", "parse_args", "hypothesis_table", "evidence_table", "inside_roots",
           "PathRefused"]


class PathRefused(HvrmetError):
    """A path a user typed resolves outside the folders the session may read."""


def inside_roots(path: str | Path, roots: list | None, *, base: str | Path | None = None) -> Path:
    """``path`` resolved (relative to ``base``, else the working folder; ``~``, ``..`` and
    links resolved); :class:`PathRefused` unless it lies inside one of ``roots``
    (``None``: anywhere, as in the terminal), and is not the runs database. Whether the
    file exists is not looked at, so the answer says nothing about files outside the roots."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base or Path.cwd()) / p
    try:
        p = p.resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        raise PathRefused(f"{path}: cannot be resolved") from None
    if roots is None:
        return p
    if not any(p.is_relative_to(Path(r).resolve()) for r in roots):
        raise PathRefused(f"{path}: outside the folders this session may read (the output folder and the data roots)")
    if ".sqlite" in p.name:  # the runs database: every session's conversation and checkpoints
        raise PathRefused(f"{path}: the runs database is no input")
    return p


def _checked_case(session: ChatSession, key: str) -> str:
    """The case a user named, as :func:`hvrmet.cases.get_case` will take it: a catalogue
    id as it is, a case file's path resolved, after checking it and the data files it
    names against the session's roots."""
    roots = session.roots
    if roots is None:
        return key
    from hvrmet.cases import get_case, list_cases

    if key in {c.id for c in list_cases()} and not Path(key).is_file():  # get_case's own rule
        return key
    p = inside_roots(key, roots)
    if p.suffix not in (".yaml", ".yml"):
        raise PathRefused(f"{key}: not a case file (a .yaml or .yml file, or a catalogue id: /cases)")
    _check_case_data(get_case(p, session.data_dir), roots)
    return str(p)


def _check_case_data(case: Any, roots: list) -> None:
    """Every data file a user's case file names (its data folder, paths and patterns)
    must be inside ``roots``."""
    from hvrmet.data.registry import default_registry

    ddir = case.resolved_data_dir()
    if ddir is not None:
        inside_roots(ddir, roots)
    reg = default_registry()
    for f in case.files:
        if f.path is not None:
            if ddir is not None or f.path not in reg:  # a registry key is fetched into the data roots
                inside_roots(f.path, roots, base=ddir)
        elif ddir is not None:
            if Path(f.glob).is_absolute() or ".." in Path(f.glob).parts:
                raise PathRefused(f"the {f.role} pattern of case {case.id} leaves its data folder")
            for m in ddir.glob(f.glob):
                inside_roots(m, roots)


def _checked_args(session: ChatSession, args: dict) -> dict:
    """A tool's arguments with the paths in them checked against the session's roots
    (the case, its data folder, explicit files by role)."""
    roots = session.roots
    if roots is None:
        return args
    from hvrmet.cases import get_case

    args = dict(args)
    key = args.get("case", session.case)
    if not isinstance(key, str):
        return args  # no case (run_tool says so) or not a string (the tool's validation does)
    key = _checked_case(session, key)
    if "case" in args:
        args["case"] = key
    data_dir = session.data_dir or args.get("data_dir")
    if isinstance(data_dir, str):
        inside_roots(data_dir, roots)
    files = args.get("files")
    if isinstance(files, dict) and files:
        ddir = get_case(key, data_dir if isinstance(data_dir, str) else None).resolved_data_dir()
        for v in files.values():
            if isinstance(v, str):
                inside_roots(v, roots, base=ddir)
    return args


def _run_tool(session: ChatSession, tool: str, args: dict, on_update: OnUpdate | None) -> Evidence:
    """``session.run_tool`` after the paths in ``args`` passed :func:`_checked_args`."""
    return session.run_tool(tool, _checked_args(session, args), on_update)


def _validation_text(exc: ValidationError) -> str:
    """A pydantic error as ``field: what is wrong``, without the input values."""
    return "; ".join(f"{'.'.join(str(x) for x in e['loc']) or e.get('type', 'value')}: {e['msg']}"
                     for e in exc.errors(include_url=False, include_input=False, include_context=False))


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[[ChatSession, list[str], OnUpdate | None], Reply]
    keywords: tuple[str, ...] = ()
    plain: bool = False  # words split on spaces only (a free-text note keeps its quotes)


COMMANDS: dict[str, Command] = {}


def command(usage: str, keywords: tuple[str, ...] = (), plain: bool = False):
    """Register a command; its help is the function's docstring."""
    def deco(fn):
        name = usage.split()[0].lstrip("/")
        COMMANDS[name] = Command(name, usage, (fn.__doc__ or "").strip().splitlines()[0], fn, keywords, plain)
        return fn
    return deco


def parse_args(words: list[str]) -> dict:
    """``k=v`` words into arguments (values parsed as JSON where they can be, so numbers
    are numbers and ``"3 km"`` stays a quantity string)."""
    out = {}
    for w in words:
        if "=" not in w:
            raise HvrmetError(f"expected KEY=VALUE, got {w!r}")
        k, v = w.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def hypothesis_table(hyps: list[Hypothesis]) -> Table:
    """The hypotheses as the report model's table (the statuses and posteriors the report prints)."""
    from hvrmet.agents.report import hypothesis_entries, hypothesis_rows

    return Table(**hypothesis_rows(hypothesis_entries(hyps)).model_dump())


def evidence_table(evidence: list[Evidence]) -> Table:
    """The evidence as the report model's table (first three key values, or the error)."""
    from hvrmet.agents.report import evidence_entries, evidence_rows

    return Table(**evidence_rows(evidence_entries(evidence)).model_dump())


def _values_table(title: str, ev: Evidence) -> Table:
    return Table(title=title, columns=["output", "value", "units"],
                 rows=[[k, format_value(v.get("value")), format_units(v.get("units", ""))] for k, v in ev.values.items()])


@command("/help", ("help", "commands", "what can"))
def _help(session, args, on_update) -> Reply:
    """The commands."""
    rows = [[c.usage, c.help] for c in COMMANDS.values()]
    return Reply(text="Free text: a question (the LLM brain answers it through the tools; the offline brain "
                      "points to the closest command or searches the knowledge cards).",
                 tables=[Table(title="commands", columns=["command", "what it does"], rows=rows)])


@command("/cases", ("cases", "catalogue", "list"))
def _cases(session, args, on_update) -> Reply:
    """The catalogue's cases."""
    from hvrmet.cases import list_cases

    rows = [[c.id, f"{c.time:%Y-%m-%d %H:%M}", c.location.place or "", ", ".join(c.roles)] for c in list_cases()]
    return Reply(tables=[Table(title="cases", columns=["id", "time (UTC)", "place", "data"], rows=rows)])


@command("/case ID|PATH", ("case", "load", "open"))
def _case(session, args, on_update) -> Reply:
    """Load a case (catalogue id or case-file path)."""
    if len(args) != 1:
        return Reply.fail("usage: /case ID|PATH (see /cases)")
    c = session.load_case(_checked_case(session, args[0]))
    return Reply(text=f"case {c.id}: {c.title} ({c.time:%Y-%m-%d %H:%M} UTC, {c.location.place or ''}); "
                      f"data: {', '.join(c.roles)}. /diagnose to start.", refresh=True)


@command("/diagnose", ("diagnose", "run", "start", "analyse", "analyze"))
def _diagnose(session, args, on_update) -> Reply:
    """Run the Hypothesis-Verification-Replanning loop on the case (streams each step)."""
    st = session.diagnose(on_update)
    return Reply(text=f"loop stopped after {st.get('loop')} loop(s), {st.get('tool_calls')} tool calls. "
                      "Sign off with /accept HYP or /reject HYP, ask /why HYP, then /report.",
                 tables=[hypothesis_table(session.hypotheses())], refresh=True)


@command("/hypotheses", ("hypotheses", "hypothesis", "candidates", "status"))
def _hypotheses(session, args, on_update) -> Reply:
    """The hypotheses with status, posterior and sign-off."""
    if not session.state():
        return Reply.fail("no diagnosis yet: /diagnose first")
    return Reply(tables=[hypothesis_table(session.hypotheses())])


@command("/evidence [ID]", ("evidence", "results"))
def _evidence(session, args, on_update) -> Reply:
    """All evidence, or one item in full (values, data files with sha256, verdicts)."""
    if not session.state():
        return Reply.fail("no diagnosis yet: /diagnose first")
    if not args:
        return Reply(tables=[evidence_table(session.evidence())])
    ev = next((e for e in session.evidence() if e.id.lower() == args[0].lower()), None)
    if ev is None:
        return Reply.fail(f"no evidence {args[0]!r}; see /evidence")
    vals = _values_table(f"{ev.id} {ev.tool}({', '.join(f'{k}={v}' for k, v in ev.arguments.items() if k != 'case')})", ev)
    verdicts = Table(title="what it says about each hypothesis", columns=["hypothesis", "condition", "value", "outcome", "card"],
                     rows=[[v.hypothesis_id, human_condition(v.condition), f"{format_value(v.value)} {format_units(v.units)}".strip(),
                            "n/a" if v.met is None else "met" if v.met else "not met", v.card] for v in ev.verdicts])
    files = "\n".join(f"read {f['path']} (sha256 {f['sha256']})" for f in ev.files)
    text = (ev.summary if ev.ok else f"ERROR: {ev.error}") + (f"\n{files}" if files else "")
    return Reply(text=text, tables=[vals, verdicts], figures=[f["png"] for f in ev.figures])


@command("/why HYP", ("why", "reason", "because", "chain", "explain"))
def _why(session, args, on_update) -> Reply:
    """The evidence chain of a hypothesis: each number, its threshold and its source."""
    if len(args) != 1:
        return Reply.fail("usage: /why HYP (an id such as H1, or a hazard label)")
    h = session.hypothesis(args[0])
    by_id = {e.id: e for e in session.evidence()}
    rows = []
    for eid in h.evidence_ids:
        ev = by_id.get(eid)
        for v in (ev.verdicts if ev else []):
            if v.hypothesis_id == h.id and v.met is not None:
                data = ", ".join(f"{Path(f['path']).name} ({f['sha256'][:12]})" for f in ev.files[:2])
                rows.append([eid, ev.tool, f"{format_value(v.value)} {format_units(v.units)}".strip(), human_condition(v.condition),
                             "met" if v.met else "not met", v.card, data])
    text = (f"{h.id} {h.hazard}: {h.status}, posterior {h.posterior:.2f} (prior {h.prior:.2f}). {h.statement}\n"
            f"Why: {h.rationale}" + (f"\nForecaster: {h.signoff}" if h.signoff else ""))
    decided = _deciding_lines(session, h, list(by_id.values()))
    if decided:
        text += "\nWhat decided it:\n" + "\n".join(f"  {i}. {line}" for i, line in enumerate(decided, 1))
    return Reply(text=text, tables=[Table(title=f"evidence chain of {h.id}",
                                          columns=["evidence", "tool", "value", "condition", "outcome", "card", "data (sha256)"],
                                          rows=rows)])


def _deciding_lines(session, h: Hypothesis, evidence: list[Evidence]) -> list[str]:
    """The terms that moved the hypothesis's posterior most, in words (as the report
    leads with them)."""
    from hvrmet.agents.report.model import hypothesis_entries
    from hvrmet.cases import get_case

    try:
        case = get_case(session.case, session.data_dir)
    except HvrmetError:
        return []
    entry = hypothesis_entries([h], evidence, case=case)[0]
    return [d.sentence for d in entry.deciding]


def _signoff(session, args, on_update, verdict: str) -> Reply:
    if not args:
        return Reply.fail(f"usage: /{'accept' if verdict == 'accepted' else 'reject'} HYP [note]")
    h = session.signoff(args[0], verdict, " ".join(args[1:]), on_update)
    return Reply(text=f"{h.id} {h.hazard}: {h.signoff}. It will be in the report (/report).",
                 tables=[hypothesis_table(session.hypotheses())], refresh=True)


@command("/accept HYP [note]", ("accept", "agree", "confirm"), plain=True)
def _accept(session, args, on_update) -> Reply:
    """Sign off a hypothesis as accepted (recorded in the report)."""
    return _signoff(session, args, on_update, "accepted")


@command("/reject HYP [note]", ("reject", "disagree", "wrong", "dismiss"), plain=True)
def _reject(session, args, on_update) -> Reply:
    """Sign off a hypothesis as rejected (recorded in the report)."""
    return _signoff(session, args, on_update, "rejected")


@command("/check TOOL k=v ...", ("check", "compute", "calculate", "tool"))
def _check(session, args, on_update) -> Reply:
    """Run a tool on the case; the result joins the evidence and is judged."""
    if not args:
        from hvrmet.tools import list_tools

        names = ", ".join(t.name for t in list_tools() if t.category != "plot")
        return Reply.fail(f"usage: /check TOOL k=v ...; tools: {names}")
    ev = _run_tool(session, args[0], parse_args(args[1:]), on_update)
    if not ev.ok:
        return Reply.fail(f"{ev.id} {ev.tool}: ERROR: {ev.error}")
    return _evidence(session, [ev.id], on_update) if session.state() else Reply(
        text=ev.summary, tables=[_values_table(ev.tool, ev)])


@command("/plot KIND k=v ...", ("plot", "draw", "figure", "skew-t", "skewt", "hodograph", "map"))
def _plot(session, args, on_update) -> Reply:
    """Draw a figure: skewt, hodograph, radar_ppi, composite_reflectivity, field_map, composite_sequence."""
    from hvrmet.tools import list_tools

    kinds = sorted(t.name.removeprefix("plot_") for t in list_tools() if t.category == "plot")
    if not args or args[0] not in kinds:
        return Reply.fail(f"usage: /plot KIND k=v ...; kinds: {', '.join(kinds)}")
    ev = _run_tool(session, f"plot_{args[0]}", parse_args(args[1:]), on_update)
    if not ev.ok:
        return Reply.fail(f"{ev.id} plot_{args[0]}: ERROR: {ev.error}")
    return Reply(text=f"{ev.id}: {ev.summary}", figures=[f["png"] for f in ev.figures], refresh=bool(session.state()))


_FORK_SET = re.compile(r"^([a-z0-9-]+):(\w+)(>=|<=|==|!=|>|<)(.+)$")


@command("/fork LOOP [card:field>=value] [drop HYP] [add HAZARD]", ("fork", "go back", "threshold", "redo"))
def _fork(session, args, on_update) -> Reply:
    """Go back to a loop's checkpoint and continue with a changed threshold or hypothesis."""
    if not args or not args[0].isdigit():
        loops = session.loops_available() if session.state() else []
        return Reply.fail("usage: /fork LOOP [card:field>=value ...] [drop HYP ...] [add HAZARD ...]; "
                          f"loops: {', '.join(map(str, loops)) or 'none (diagnose first)'}")
    thresholds, drop, add = {}, [], []
    rest = iter(args[1:])
    for w in rest:
        m = _FORK_SET.match(w)
        if m:
            thresholds[f"{m[1]}:{m[2]}{m[3]}"] = float(m[4])
        elif w in ("drop", "add"):
            target = next(rest, None)
            if target is None:
                return Reply.fail(f"/fork: {w} needs a hypothesis or hazard")
            (drop if w == "drop" else add).append(target)
        else:
            return Reply.fail(f"/fork: cannot read {w!r} (card:field>=value with the condition's operator, "
                              "drop HYP or add HAZARD)")
    st = session.fork(int(args[0]), thresholds=thresholds, drop=drop, add=add, on_update=on_update)
    return Reply(text=f"forked at loop {args[0]}; the loop stopped after {st.get('loop')} loop(s). "
                      "/report writes the report of this branch.", tables=[hypothesis_table(session.hypotheses())], refresh=True)


@command("/report", ("report", "write up", "summary", "finish"))
def _report(session, args, on_update) -> Reply:
    """Write the report (Markdown, HTML, trace) with the sign-offs."""
    rep = session.write_report(on_update)
    st = session.state()
    return Reply(text=f"{st.get('outcome', '')}. {rep.get('summary', '')}",
                 links={"html": rep.get("html", ""), "markdown": rep.get("markdown", ""), "trace": rep.get("trace", "")},
                 figures=[f["png"] for e in session.evidence() for f in e.figures if e.origin == "report" and e.loop == st.get("loop")],
                 refresh=True)


@command("/history", ("history", "earlier", "before"))
def _history(session, args, on_update) -> Reply:
    """The conversation so far (kept across --resume)."""
    return Reply(tables=[Table(title=f"session {session.session_id}", columns=["who", "said"],
                               rows=[[r, t] for r, t in session.history()])])


def _closest(text: str) -> Command | None:
    words = set(re.findall(r"[a-z][a-z-]*", text.lower()))
    low = text.lower()
    for c in COMMANDS.values():
        if any((k in words) if " " not in k else (k in low) for k in c.keywords):
            return c
    return None


def _free_text(session: ChatSession, text: str, on_update: OnUpdate | None) -> Reply:
    from hvrmet.agents.common import brain_context, brain_of

    brain = brain_of(session.cfg)
    if not brain.capabilities.free_text:
        c = _closest(text)
        if c is not None:
            return Reply(text=f"Closest command: {c.usage} - {c.help}\n(the offline brain does not compose "
                              "free-text answers; type the command, or /help)")
    state = session.state() or ({"case": session.case, "data_dir": session.data_dir, "loop": 0} if session.case else None)
    if brain.capabilities.free_text and state is None:
        return Reply.fail("load a case first (/case ID): the model answers through the case's tools")
    if state is None:  # offline, no case: the knowledge search needs none
        from hvrmet.agents.brain import BrainContext

        ctx = BrainContext(case="", roles=[], time="", location={}, loop=0)
    else:
        ctx = brain_context(state, session.cfg)

    def run_tool(name: str, args: dict) -> dict:
        return _run_tool(session, name, args, on_update).model_dump()

    ans = brain.answer(text, ctx, run_tool)
    return Reply(text=ans.text, refresh=bool(ans.evidence_ids))


def handle(session: ChatSession, line: str, on_update: OnUpdate | None = None) -> Reply:
    """Answer one line of the chat and record both sides in the session's history.
    Errors come back as a failed :class:`Reply` with the message, never as a crash."""
    line = line.strip()
    if not line:
        return Reply()
    session.record("user", line)
    with session.lock:
        try:
            if line.startswith("/"):
                name = line.split()[0][1:]
                cmd = COMMANDS.get(name)
                if cmd is None:
                    near = difflib.get_close_matches(name, list(COMMANDS), n=1)
                    reply = Reply.fail(f"unknown command /{name}" + (f"; did you mean /{near[0]}?" if near else "")
                                       + f" Known: {', '.join('/' + c for c in COMMANDS)}")
                else:
                    words = line.split() if cmd.plain else shlex.split(line)
                    reply = cmd.run(session, words[1:], on_update)
            else:
                reply = _free_text(session, line, on_update)
        except ValidationError as exc:  # its str quotes the input values
            reply = Reply.fail(f"invalid value: {_validation_text(exc)}")
        except (HvrmetError, ValueError) as exc:
            reply = Reply.fail(str(exc))
    session.record("assistant", reply.text or "\n".join(t.title for t in reply.tables))
    return reply
