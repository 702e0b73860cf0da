"""The ``hvrmet`` command line (typer + rich).

Every command that takes a case id also takes the path of a case YAML file, with
``--data-dir`` for the folder its files are relative to. A :class:`~hvrmet.errors.DataError`
is printed as one line and the command exits with status 2, without a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape as _escape
from rich.console import Console
from rich.table import Table

from hvrmet.errors import HvrmetError

app = typer.Typer(help="hvrmet: agents that diagnose extreme weather from real data.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
cases_app = typer.Typer(help="The real cases: list, show and load them.", no_args_is_help=True)
data_app = typer.Typer(help="The data registry.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(data_app, name="data")
knowledge_app = typer.Typer(help="The expert-knowledge cards: search, show, check, eval.", no_args_is_help=True)
app.add_typer(knowledge_app, name="knowledge")
nowcast_app = typer.Typer(help="Radar nowcasting: train, evaluate and run the models.", no_args_is_help=True)
app.add_typer(nowcast_app, name="nowcast")
bench_app = typer.Typer(help="The atomic-subtask benchmark: run, report, vocabularies.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
tools_app = typer.Typer(help="The tool registry: list, describe and run tools.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")

console = Console()
err_console = Console(stderr=True)


def _busy(text: str):
    """A spinner on stderr while a slow step runs (nothing when stderr is not a terminal)."""
    from hvrmet.chat.progress import Busy

    return Busy(text, err_console)

CaseArg = Annotated[str, typer.Argument(help="catalogue id or path of a case YAML file")]
DataDirOpt = Annotated[Optional[Path], typer.Option("--data-dir", help="folder the case's files are relative to")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
LlmOpt = Annotated[Optional[str], typer.Option("--llm", help="brain: offline (default) or openai")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="a TOML file of run settings (after the environment, before the flags)")]
BaseUrlOpt = Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint URL")]
ModelOpt = Annotated[Optional[str], typer.Option(help="model name at the endpoint")]
RunOutOpt = Annotated[Path, typer.Option("--out", help="output folder (reports, figures, runs and sessions database)")]
NoFiguresOpt = Annotated[bool, typer.Option("--no-figures", help="skip the report figures")]


@cases_app.command("list")
def cases_list(as_json: JsonOpt = False) -> None:
    """List the cases in the catalogue."""
    from hvrmet.cases import list_cases

    cases = list_cases()
    if as_json:
        print(json.dumps([c.model_dump(mode="json", exclude={"source_path", "data_dir"}) for c in cases],
                         indent=1))
        return
    table = Table(title=f"{len(cases)} cases")
    for col in ("id", "time (UTC)", "place", "roles", "title"):
        table.add_column(col, overflow="fold")
    for c in cases:
        table.add_row(c.id, c.time.strftime("%Y-%m-%d %H:%M"), c.location.place,
                      ", ".join(c.roles), c.title)
    console.print(table)


@cases_app.command("show")
def cases_show(case: CaseArg, data_dir: DataDirOpt = None) -> None:
    """Show a case: its place, time, events, files, variables and time span."""
    from hvrmet.cases import get_case, load_role
    from hvrmet.cases.catalogue import case_files

    with _busy(f"reading case {case}"):
        c = get_case(case, data_dir)
    console.print(f"[bold]{c.id}[/bold]  {c.title}")
    console.print(f"time {c.time:%Y-%m-%d %H:%M} UTC   place {c.location.place} "
                  f"({c.location.lat:.3f}, {c.location.lon:.3f})"
                  + (f"   radar {c.location.radar_site}" if c.location.radar_site else ""))
    for e in c.events:
        console.print(f"event [cyan]{e.type}[/cyan]: {e.source}")
    for f in c.files:
        files = case_files(c, f.role)
        with _busy(f"decoding {f.role} ({len(files)} file{'s' if len(files) > 1 else ''})"):
            ds = load_role(c, f.role)
        table = Table(title=f"{f.role} ({f.format}, {len(files)} file{'s' if len(files) > 1 else ''})",
                      title_justify="left")
        table.add_column("variable")
        table.add_column("dims")
        table.add_column("units")
        for name, dims, units in _variables(ds):
            table.add_row(name, dims, units)
        console.print(table)
        console.print(f"  files: {files[0][0]}" + (f" … {files[-1][0].name}" if len(files) > 1 else ""))
        console.print(f"  sha256: {files[0][1][:16]}…   time span: {_time_span(ds)}")
        _print_gridded_fields(f.role, ds)


def _variables(ds) -> list[tuple[str, str, str]]:
    """``(name, dims, units)`` of a dataset's variables; for a radar sweep tree each moment
    once, with the sweeps that hold it and their sizes."""
    import xarray as xr

    if not isinstance(ds, xr.DataTree):
        return [(str(n), " × ".join(f"{d}={ds.sizes[d]}" for d in v.dims), str(v.attrs.get("units", "")))
                for n, v in ds.data_vars.items()]
    sweeps = [node for name, node in ds.children.items() if name.startswith("sweep_")]
    seen: dict[str, list] = {}
    for node in sweeps:
        for n, v in node.ds.data_vars.items():
            if {"azimuth", "range"} <= set(v.dims) or {"elevation", "range"} <= set(v.dims):
                seen.setdefault(str(n), []).append((node.ds, v))
    rows = []
    for n, items in seen.items():
        gates = sorted({d.sizes.get("range", 0) for d, _ in items})
        rows.append((n, f"{len(items)} of {len(sweeps)} sweeps; rays × gates up to "
                        f"{max(v.shape[0] for _, v in items)} × {max(gates)}", str(items[0][1].attrs.get("units", ""))))
    return rows


def _print_gridded_fields(role: str, ds) -> None:
    """The physical fields of a gridded file (from which variable, by which rule) and the
    gridded tools that can run on them (:func:`hvrmet.tools.gridded.gridded_summary`)."""
    from hvrmet.tools.gridded import gridded_summary

    summary = gridded_summary(ds)
    if summary is None:
        return
    table = Table(title=f"{role}: fields identified", title_justify="left")
    for col in ("field", "variable", "rule", "units", "levels"):
        table.add_column(col, overflow="fold")
    for m in summary["found"]:
        table.add_row(m["field"], _escape(m["variable"]), _escape(m["rule"]),
                      _escape(m["units"] + ("" if m["units_from"] == "file" else f" ({m['units_from']})")),
                      m["levels"])
    console.print(table)
    for m in summary["found"]:
        for w in m["warnings"]:
            console.print(f"  [yellow]warning[/yellow] {m['field']}: {_escape(w)}")
    if summary["missing"]:
        console.print("  not found: " + ", ".join(summary["missing"]))
    for name, why in summary["unused"].items():
        console.print(f"  unused variable {_escape(name)}: {_escape(why)}")
    ok = [t["tool"] for t in summary["tools"] if t["can_run"]]
    console.print("  gridded tools that can run: " + (", ".join(ok) or "none"))
    for t in summary["tools"]:
        if not t["can_run"]:
            console.print(f"  cannot run {t['tool']}: {_escape(t['missing'])}")


def _time_span(ds) -> str:
    import numpy as np

    for name in ("time", "valid"):
        if name in ds.coords or name in ds:
            t = np.asarray(ds[name].values).ravel()
            t = t[~np.isnat(t)] if t.dtype.kind == "M" else t
            if t.size:
                lo, hi = str(t.min())[:19], str(t.max())[:19]
                return lo if lo == hi else f"{lo} – {hi}"
    for key in ("volume_time", "volume_start_time", "time", "issued"):
        if key in ds.attrs:
            return str(ds.attrs[key])[:19]
    return "n/a"


@cases_app.command("load")
def cases_load(cases: Annotated[Optional[list[str]], typer.Argument(help="case ids or YAML paths (all if none)")] = None,
               data_dir: DataDirOpt = None) -> None:
    """Open every file of the cases and report; exits non-zero if any file fails."""
    from hvrmet.cases import get_case, list_cases, load_role

    chosen = [get_case(c, data_dir) for c in cases] if cases else list_cases()
    table = Table(title="cases load")
    for col in ("case", "role", "format", "variables", "seconds", "status"):
        table.add_column(col)
    failed = 0
    n, i = sum(len(c.files) for c in chosen), 0
    with _busy("loading") as spin:
        for c in chosen:
            for f in c.files:
                i += 1
                spin.update(f"loading {c.id} {f.role} ({f.format}; {i} of {n})")
                t0 = time.perf_counter()
                try:
                    ds = load_role(c, f.role)
                    status, nvar = "[green]ok[/green]", str(len(ds.data_vars))
                except HvrmetError as exc:
                    failed += 1
                    status, nvar = f"[red]{exc}[/red]", "-"
                table.add_row(c.id, f.role, f.format, nvar, f"{time.perf_counter() - t0:.2f}", status)
    console.print(table)
    if failed:
        raise typer.Exit(2)


@cases_app.command("new")
def cases_new(paths: Annotated[list[Path], typer.Argument(help="data files and folders (folders are walked)")],
              out: Annotated[Optional[Path], typer.Option("--out", help="write the case YAML here (default: print it)")] = None,
              case_id: Annotated[Optional[str], typer.Option("--id", help="the case id (default: from the folder or file name)")] = None,
              title: Annotated[Optional[str], typer.Option(help="the case title (default: from the data)")] = None,
              time_: Annotated[Optional[str], typer.Option("--time", help="reference time, UTC ISO 8601 (default: from the data)")] = None,
              lat: Annotated[Optional[float], typer.Option(help="latitude, degree north (default: from the data)")] = None,
              lon: Annotated[Optional[float], typer.Option(help="longitude, degree east (default: from the data)")] = None,
              place: Annotated[Optional[str], typer.Option(help="place name")] = None,
              site: Annotated[Optional[str], typer.Option(help="radar site id for Level II volumes that record none")] = None) -> None:
    """Make a case from data files: sniff each file's format, assign roles, read time and place.

    An unknown or unreadable file is one warning line and is left out; the command fails
    (exit status 2) only when no file is readable."""
    from hvrmet.cases.assemble import assemble_case, case_yaml, write_case

    if (lat is None) != (lon is None):
        raise typer.BadParameter("give both --lat and --lon, or neither")
    asm = assemble_case(list(paths), case_id=case_id, title=title, time=time_, lat=lat, lon=lon, place=place,
                        site=site)
    _print_warnings(asm.warnings)
    if out is None:
        print(case_yaml(asm.case), end="")
        return
    write_case(asm.case, out)
    err_console.print(f"wrote {out}: case {asm.case.id}, {len(asm.case.files)} role(s) "
                      f"({', '.join(asm.case.roles)}) from {len(asm.files)} file(s)", markup=False, highlight=False,
                      soft_wrap=True)


def _print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        err_console.print(f"warning: {w}", markup=False, highlight=False, soft_wrap=True)


def _case_from_paths(paths: list[str], out_dir: Path) -> str:
    """The case to diagnose: a catalogue id or case YAML as given, or a case built from data
    files and folders and written into the output folder (``<out>/cases/<id>.yaml``)."""
    from hvrmet.cases.assemble import assemble_case, write_case

    if len(paths) == 1:
        one = Path(paths[0])
        if not one.exists() or (one.is_file() and one.suffix in (".yaml", ".yml")):
            return paths[0]  # a catalogue id (or an unknown one: the usual one-line error) or a case file
    asm = assemble_case(paths)
    _print_warnings(asm.warnings)
    path = write_case(asm.case, Path(out_dir) / "cases" / f"{asm.case.id}.yaml")
    err_console.print(f"case {asm.case.id} built from {len(asm.files)} file(s): {path}", markup=False,
                      highlight=False, soft_wrap=True)
    return str(path)


@data_app.command("list")
def data_list(pattern: Annotated[str, typer.Argument(help="shell pattern of keys")] = "*") -> None:
    """List registered data files (key, size, sha256, public URL)."""
    from hvrmet.data.registry import default_registry

    reg = default_registry()
    table = Table(title=f"data registry (local folder: {reg.data_dir or 'none'})")
    for col in ("key", "bytes", "sha256", "url"):
        table.add_column(col, overflow="fold")
    for k in reg.glob(pattern):
        e = reg.entry(k)
        table.add_row(k, str(e.size_bytes), e.sha256[:12] + "…", e.url)
    console.print(table)


@data_app.command("fetch")
def data_fetch(keys: Annotated[list[str], typer.Argument(help="registry keys or shell patterns")]) -> None:
    """Fetch (or find locally) and verify registered files; print their paths."""
    from hvrmet.data.registry import default_registry

    reg = default_registry()
    for pat in keys:
        for k in reg.glob(pat) or [pat]:
            print(reg.fetch(k))


@tools_app.command("list")
def tools_list(category: Annotated[Optional[str], typer.Option(help="only this category")] = None,
               as_json: JsonOpt = False) -> None:
    """List the registered tools (name, category, outputs, summary)."""
    from hvrmet.tools import list_tools

    tools = list_tools(category)
    if as_json:
        print(json.dumps([{"name": t.name, "category": t.category, "summary": t.summary,
                           "outputs": t.outputs, "needs": list(t.needs), "example": t.example}
                          for t in tools], indent=1))
        return
    table = Table(title=f"{len(tools)} tools")
    for col in ("name", "category", "outputs", "summary"):
        table.add_column(col, overflow="fold")
    for t in tools:
        outs = ", ".join(list(t.outputs)[:5]) + (" …" if len(t.outputs) > 5 else "")
        table.add_row(t.name, t.category, outs, t.summary)
    console.print(table)


@tools_app.command("schema")
def tools_schema(name: Annotated[str, typer.Argument(help="tool name")]) -> None:
    """Print a tool's OpenAI function-calling schema, outputs and example (JSON)."""
    from hvrmet.tools import get_tool
    from hvrmet.tools.adapters import openai_schema

    try:
        t = get_tool(name)
    except KeyError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc.args[0]}")
        raise typer.Exit(2) from None
    print(json.dumps({"schema": openai_schema(t), "outputs": t.outputs, "example": t.example,
                      "docstring": t.description}, indent=1))


def _parse_arg(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise typer.BadParameter(f"--arg {text!r}: expected KEY=VALUE")
    key, val = text.split("=", 1)
    try:
        return key, json.loads(val)
    except ValueError:  # not JSON (or a number too long for it): the text itself
        return key, val


@tools_app.command("run")
def tools_run(name: Annotated[str, typer.Argument(help="tool name")],
              case: Annotated[str, typer.Option("--case", help="case id or case YAML path")],
              arg: Annotated[Optional[list[str]], typer.Option("--arg", help="KEY=VALUE (repeatable); values may carry units, e.g. --arg 'resolution=2 km' --arg 'max_range=150 km' for compute_composite_reflectivity")] = None,
              data_dir: DataDirOpt = None, out: Annotated[Path, typer.Option(help="output folder for figures")] = Path("out"),
              as_json: JsonOpt = False) -> None:
    """Run one tool on a case and print its result; exits 2 if the tool reports an error."""
    from hvrmet.tools import call_tool

    args: dict = {"case": case}
    if data_dir:
        args["data_dir"] = str(data_dir)
    for a in arg or []:
        k, v = _parse_arg(a)
        args[k] = v
    with _busy(f"running {name} on {case}"):
        res = call_tool(name, args, out_dir=str(out))
    if as_json:
        print(res.model_dump_json(indent=1))
    else:
        if res.ok:
            table = Table(title=f"{name} on {case} ({res.seconds:.2f} s)", title_justify="left")
            table.add_column("output")
            table.add_column("value")
            table.add_column("units")
            for k, v in res.values.items():
                val = f"{v.value:.4g}" if isinstance(v.value, float) else str(v.value)
                table.add_row(k, val, v.units)
            console.print(table)
            if res.summary:
                console.print(res.summary)
            for w in res.warnings:
                console.print(f"[yellow]note:[/yellow] {w}")
            for f in res.files:
                console.print(f"read {f.path} (sha256 {f.sha256[:12]}…)")
            for fig in res.figures:
                console.print(f"figure {fig.png}")
        else:
            err_console.print(f"[bold red]error:[/bold red] {res.error}", highlight=False)
    if not res.ok:
        raise typer.Exit(2)


@knowledge_app.command("search")
def knowledge_search(query: Annotated[str, typer.Argument(help="free-text question")],
                     k: Annotated[int, typer.Option("-k", help="how many cards")] = 5,
                     mode: Annotated[str, typer.Option(help="hybrid, bm25 or semantic")] = "hybrid",
                     as_json: JsonOpt = False) -> None:
    """Find the cards that answer a question (BM25 fused with semantic similarity)."""
    from hvrmet.knowledge import default_store
    from hvrmet.knowledge.search import CardSearch

    t0 = time.perf_counter()
    with _busy("loading the knowledge cards and the search model"):
        store = default_store()
        if store._search is None:
            store._search = CardSearch(store.cards)
        store._search.prepare(mode)
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    hits = store.search(query, k=k, mode=mode)
    dt = (time.perf_counter() - t0) * 1000
    if as_json:
        print(json.dumps([{"id": c.id, "library": c.library, "title": c.title, "score": s} for c, s in hits], indent=1))
        return
    table = Table(title=f"{query!r} ({mode}; query {dt:.0f} ms, loading {load:.1f} s)", title_justify="left")
    for col in ("rank", "card", "library", "title", "hazards"):
        table.add_column(col, overflow="fold")
    for i, (c, _s) in enumerate(hits, 1):
        table.add_row(str(i), c.id, c.library, c.title, ", ".join(c.hazards))
    console.print(table)


@knowledge_app.command("show")
def knowledge_show(card_id: Annotated[str, typer.Argument(help="card id")]) -> None:
    """Show a card: statement, conditions, checks and references."""
    from hvrmet.knowledge import default_store

    try:
        c = default_store().get(card_id)
    except KeyError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc.args[0]}")
        raise typer.Exit(2) from None
    console.print(f"[bold]{c.id}[/bold] ({c.library}) {c.title}")
    console.print(f"hazards: {', '.join(c.hazards)}")
    if c.quantity:
        console.print(f"quantity: {c.quantity} [{c.units or ''}]")
    console.print(c.statement)
    if c.signals:
        console.print(f"signals: {', '.join(c.signals)}")
    if c.checks:
        console.print("checks, in order: " + " -> ".join(c.checks))
    for cond in c.conditions:
        console.print(f"  condition: {cond.describe()}" + (f"  ({cond.note})" if cond.note else ""))
    for r in c.references:
        console.print(f"  ref: {r.author} ({r.year}). {r.title}. {r.venue}.")


@knowledge_app.command("check")
def knowledge_check() -> None:
    """Validate every card: schema, units, tools and fields, references, ids, coverage."""
    from hvrmet.knowledge.check import check_knowledge

    problems, stats = check_knowledge()
    for p in problems:
        console.print(f"[red]problem:[/red] {p}", highlight=False)
    if stats:
        console.print(f"{stats['cards']} cards ({stats['guideline']} guideline, {stats['index']} index, "
                      f"{stats['figure']} figure), {stats['conditions']} conditions, "
                      f"{stats['hazards']} hazard labels in {len(stats['families'])} families")
    undetected = (stats or {}).get("undetected_signals") or {}
    if undetected:
        n = sum(len(v) for v in undetected.values())
        console.print(f"note: {n} signal(s) named by guideline cards have no definition in signals.yaml (no "
                      "detector shows them yet; they count in the cards' priors as signals not seen): "
                      + "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(undetected.items())), highlight=False)
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/red]")
        raise typer.Exit(2)
    console.print("[green]knowledge check passed[/green]")


@knowledge_app.command("eval")
def knowledge_eval(k: Annotated[int, typer.Option("-k")] = 5, as_json: JsonOpt = False) -> None:
    """Score retrieval on the labelled query set: recall@k and MRR per search mode."""
    from hvrmet.knowledge import default_store
    from hvrmet.knowledge.evaluate import evaluate_retrieval

    store = default_store()
    modes = ["bm25", "semantic", "hybrid"] if store.search("x", k=1) and store._search.semantic else ["bm25"]
    results = [evaluate_retrieval(store, k=k, mode=m) for m in modes]
    if as_json:
        print(json.dumps([{"mode": r.mode, "queries": r.queries, f"recall@{k}": r.recall_at_k,
                           "mrr": r.mrr, "ms_per_query": r.ms_per_query} for r in results], indent=1))
        return
    table = Table(title=f"knowledge eval ({results[0].queries} labelled queries, {len(store.cards)} cards)")
    for col in ("mode", f"recall@{k}", "MRR", "ms/query"):
        table.add_column(col)
    for r in results:
        table.add_row(r.mode, f"{r.recall_at_k:.3f}", f"{r.mrr:.3f}", f"{r.ms_per_query:.1f}")
    console.print(table)
    for q, rel, got in results[-1].misses:
        console.print(f"[yellow]miss ({results[-1].mode}):[/yellow] {q!r} wants {rel}, got {got}")


@nowcast_app.command("train")
def nowcast_train(model: Annotated[str, typer.Argument(help="pa_net, metok or impa_net")],
                  config: Annotated[Optional[Path], typer.Option("--config", help="YAML training configuration")] = None,
                  device: Annotated[str, typer.Option(help="auto, cuda or cpu")] = "auto",
                  out: Annotated[Optional[Path], typer.Option(help="checkpoint path (default: the package's)")] = None,
                  epochs: Annotated[Optional[int], typer.Option(help="override the configuration's epochs")] = None,
                  steps: Annotated[Optional[int], typer.Option("--steps-per-epoch", help="override steps per epoch")] = None) -> None:
    """Train a model on the real sequences of the training split and write its checkpoint."""
    import shlex

    from hvrmet.nowcast import LEARNED
    from hvrmet.nowcast.train import CHECKPOINT_DIR, TrainConfig, train

    if model not in LEARNED:
        raise typer.BadParameter(f"unknown model {model!r}; known: {', '.join(LEARNED)}")
    cfg = TrainConfig.from_file(model, str(config) if config else None, device=device, epochs=epochs,
                                steps_per_epoch=steps)
    target = out or CHECKPOINT_DIR / f"{model}.pt"
    cmd = "hvrmet nowcast train " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("train") + 1:]) \
        if "train" in sys.argv else f"hvrmet nowcast train {model}"
    meta = train(cfg, target, command=cmd)
    sel = meta["selected"]
    console.print(f"wrote {target} ({meta['parameters']} parameters, {meta['seconds']} s on {meta['device']}, "
                  f"{meta['steps']} steps); selected step {sel['step']}"
                  f"{' (the zero-residual start: extrapolation)' if meta['selected_is_zero_residual_start'] else ''}: "
                  f"validation CSI35 {sel['CSI35']:.3f}, HSS45 {sel['HSS45']:.3f}, RAPSD ratio {sel['RAPSD_ratio']:.3f} "
                  f"(start: CSI35 {meta['candidates'][0]['CSI35']:.3f}, HSS45 {meta['candidates'][0]['HSS45']:.3f})")


@nowcast_app.command("run")
def nowcast_run(method: Annotated[str, typer.Argument(help="nowcasting method")],
                case: Annotated[str, typer.Option("--case", help="case with a composite sequence")],
                lead: Annotated[float, typer.Option(help="lead time, minutes")] = 30.0,
                threshold: Annotated[float, typer.Option(help="threshold, dBZ")] = 45.0,
                data_dir: DataDirOpt = None, as_json: JsonOpt = False) -> None:
    """Run one nowcast (through the registered `run_nowcast` tool) and print the answer."""
    from hvrmet.tools import call_tool

    args = {"case": case, "method": method, "lead": lead, "threshold": threshold}
    if data_dir:
        args["data_dir"] = str(data_dir)
    with _busy(f"nowcasting {case} with {method} ({lead:g} min)"):
        res = call_tool("run_nowcast", args)
    if as_json:
        print(res.model_dump_json(indent=1))
    elif res.ok:
        console.print(res.summary)
        for k, v in res.values.items():
            console.print(f"  {k}: {v.value} {v.units}")
    else:
        err_console.print(f"[bold red]error:[/bold red] {_escape(res.error)}")
    if not res.ok:
        raise typer.Exit(2)


@nowcast_app.command("eval")
def nowcast_eval(cases: Annotated[Optional[list[str]], typer.Option("--cases", help="case ids or case files (default: the test split)")] = None,
                 methods: Annotated[Optional[list[str]], typer.Option("--methods", help="methods (default: all six)")] = None,
                 data_dir: DataDirOpt = None, out: Annotated[Path, typer.Option(help="output folder")] = Path("out/nowcast"),
                 every: Annotated[float, typer.Option("--every", help="minutes between analysis times (native frames only)")] = 30.0,
                 starts: Annotated[Optional[int], typer.Option("--starts", help="analysis times per event (default: all)")] = None,
                 max_times: Annotated[Optional[int], typer.Option("--max-times", help="same as --starts (older name)")] = None,
                 full_domain: Annotated[bool, typer.Option("--full-domain/--no-full-domain", help="verify on each event's whole grid (the default)")] = True,
                 crop: Annotated[Optional[int], typer.Option("--crop", help="verify on the N x N window with the most pixel-times >= 35 dBZ")] = None,
                 lead_max: Annotated[float, typer.Option("--lead-max", help="longest lead time, minutes (5-min steps)")] = 60.0,
                 fss_scales: Annotated[Optional[list[int]], typer.Option("--fss-scale", help="FSS neighbourhood sizes, pixels (default 1, 4, 16)")] = None,
                 as_json: JsonOpt = False) -> None:
    """Verify every method on the same held-out events: CSI/POD/FAR/HSS, FSS, RAPSD ratio,
    only against observations at native data times, per lead time in scores.json."""
    from hvrmet.nowcast import METHODS
    from hvrmet.nowcast.report import evaluate_and_report

    if crop is not None and crop < 16:
        raise typer.BadParameter("--crop must be at least 16 pixels")
    if not full_domain and crop is None:
        raise typer.BadParameter("--no-full-domain needs --crop N")
    if lead_max < 5:
        raise typer.BadParameter("--lead-max must be at least 5 minutes")
    if every <= 0:
        raise typer.BadParameter("--every must be a positive number of minutes")
    with _busy(f"verifying {len(methods or METHODS)} nowcasting methods on the held-out events") as spin:
        res = evaluate_and_report(list(methods or METHODS), cases, data_dir=str(data_dir) if data_dir else None,
                                  out=out, every_min=every, starts=starts if starts is not None else max_times,
                                  crop=crop, lead_max_min=lead_max, scales=tuple(fss_scales or (1, 4, 16)),
                                  console=None if as_json else spin.printer(console))
    if as_json:
        print(json.dumps(res, indent=1, default=float))


@bench_app.command("run")
def bench_run(tasks: Annotated[Path, typer.Option("--tasks", help="task file (JSON lines)")],
              data_dir: DataDirOpt = None,
              llm: Annotated[str, typer.Option("--llm", help="offline or openai")] = "offline",
              workers: Annotated[int, typer.Option(help="worker processes (spawned; the tasks of one case run "
                                                         "in one)")] = 1,
              out: Annotated[Path, typer.Option(help="results folder (an existing one is resumed)")] = Path("out/bench"),
              base_url: Annotated[Optional[str], typer.Option(help="OpenAI-compatible endpoint")] = None,
              model: Annotated[Optional[str], typer.Option(help="model at the endpoint")] = None,
              answerer: Annotated[str, typer.Option(help="system (hvrmet answers), oracle (the gold answers: every "
                                                         "task satisfiable) or random (the chance level)")] = "system",
              seed: Annotated[int, typer.Option(help="seed of the random answerer")] = 0) -> None:
    """Run every task, score it, write results.jsonl and summary.json; print the pass rates."""
    import os

    from hvrmet.benchmark.report import markdown
    from hvrmet.benchmark.runner import run_benchmark

    if data_dir and (Path(data_dir) / "metpy" / "staticdata").is_dir():
        os.environ["HVRMET_DATA_DIR"] = str(Path(data_dir).resolve())  # a registry-shaped data folder
    summary = run_benchmark(tasks, llm=llm, data_dir=str(data_dir) if data_dir else None, workers=workers, out=out,
                            base_url=base_url, model=model, answerer=answerer, seed=seed)
    console.print(markdown(summary))
    console.print(f"{summary['tasks']} tasks in {summary['seconds']:.0f} s of task time "
                  f"({summary['wall_seconds']:.0f} s wall); results in {out}")


@bench_app.command("report")
def bench_report(results: Annotated[Path, typer.Argument(help="results folder or results.jsonl")]) -> None:
    """Print pass rates by category and by loop; write report.md and pass_rates.png."""
    from hvrmet.benchmark.report import markdown, write_report

    with _busy("writing the benchmark report and its figure"):
        summary, out = write_report(results)
    console.print(markdown(summary))
    console.print(f"wrote {out / 'report.md'} and {out / 'pass_rates.png'}")


@bench_app.command("compare")
def bench_compare(results_a: Annotated[Path, typer.Argument(help="results folder or results.jsonl (A)")],
                  results_b: Annotated[Path, typer.Argument(help="results folder or results.jsonl (B)")],
                  as_json: JsonOpt = False) -> None:
    """Per-category and per-loop differences of two results (B minus A) in one table."""
    from hvrmet.benchmark.report import compare, compare_markdown

    with _busy("comparing the results"):
        cmp = compare(results_a, results_b)
    if as_json:
        print(json.dumps(cmp, indent=1))
        return
    console.print(compare_markdown(cmp, "A", "B"))


@bench_app.command("calibration")
def bench_calibration(out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("out/bench/calibration"),
                      data_dir: DataDirOpt = None,
                      case: Annotated[Optional[list[str]], typer.Option("--case", help="only these cases")] = None) -> None:
    """Brier score, reliability and leading hypotheses on the catalogue cases with recorded events."""
    from hvrmet.benchmark.calibration import run_calibration

    with _busy("diagnosing the catalogue cases with recorded events"):
        summary = run_calibration(out, data_dir=str(data_dir) if data_dir else None, cases=case)
    table = Table(title="catalogue cases with recorded events")
    for col in ("case", "split", "recorded", "leading accepted", "posterior", "aspects", "names the event"):
        table.add_column(col)
    for r in summary["cases"]:
        table.add_row(r["case"], r["split"], ", ".join(r["events"]), r["leading"],
                      f"{r['posterior']:.2f}" if r["posterior"] is not None else "", ", ".join(r["aspects"]),
                      "yes" if r["correct"] else "no")
    console.print(table)
    for split, s in summary["splits"].items():
        if not s["cases"]:
            continue
        console.print(f"{split}: {s['leading_correct']}/{s['cases']} cases lead with a recorded event; "
                      f"Brier {s['brier']} over {s['forecasts']} hypotheses")
        rel = Table(title=f"reliability ({split})")
        for col in ("posterior bin", "n", "mean posterior", "observed frequency"):
            rel.add_column(col)
        for b in s["reliability"]:
            rel.add_row(b["bin"], str(b["n"]), str(b["mean_posterior"] or ""), str(b["observed"] or ""))
        console.print(rel)
    console.print(f"wrote {out / 'calibration.json'}")


@bench_app.command("vocab")
def bench_vocab(as_json: JsonOpt = False) -> None:
    """The vocabularies task targets use: quantities (with tool and units), hazards, figure kinds."""
    from hvrmet.benchmark.scorers import REASON_CLASSES
    from hvrmet.benchmark.tasks import ANSWER_TYPES, CATEGORIES, figure_kinds, quantity_vocabulary
    from hvrmet.knowledge import default_store

    with _busy("collecting the vocabularies from the tools and the knowledge cards"):
        vocab = {"categories": list(CATEGORIES), "quantities": quantity_vocabulary(),
                 "hazards": sorted(default_store().hazards), "figure_kinds": figure_kinds(),
                 "answer_types": list(ANSWER_TYPES), "reason_classes": list(REASON_CLASSES)}
    if as_json:
        print(json.dumps(vocab, indent=1))
        return
    table = Table(title=f"{len(vocab['quantities'])} quantities")
    for col in ("quantity", "tool", "units"):
        table.add_column(col)
    for q, v in vocab["quantities"].items():
        table.add_row(q, v["tool"], v["units"])
    console.print(table)
    console.print("hazards: " + ", ".join(vocab["hazards"]))
    console.print("figure kinds: " + ", ".join(f"{k} ({v})" for k, v in vocab["figure_kinds"].items()))
    console.print("categories: " + ", ".join(vocab["categories"]))


@app.command()
def batch(cases: Annotated[Optional[list[str]], typer.Argument(help="case ids or case YAML paths")] = None,
          all_: Annotated[bool, typer.Option("--all", help="every case of the catalogue")] = False,
          workers: Annotated[int, typer.Option(help="Dask workers (processes) of the local cluster")] = 2,
          scheduler: Annotated[Optional[str], typer.Option(help="address of an existing Dask scheduler")] = None,
          out: Annotated[Path, typer.Option(help="output folder (a rerun skips finished cases)")] = Path("out/batch"),
          data_dir: DataDirOpt = None,
          no_figures: Annotated[bool, typer.Option("--no-figures", help="skip report figures")] = False) -> None:
    """Diagnose many cases in parallel on Dask; one folder per case; summary.md and summary.csv."""
    from hvrmet.batch import run_batch
    from hvrmet.cases import list_cases

    chosen = [c.id for c in list_cases()] if all_ else list(cases or [])
    if not chosen:
        raise typer.BadParameter("give case ids or --all")
    rows = run_batch(chosen, out=out, workers=workers, scheduler=scheduler,
                     data_dir=str(data_dir) if data_dir else None, figures=not no_figures)
    table = Table(title=f"batch: {sum(r['status'] == 'ok' for r in rows)}/{len(rows)} cases ok")
    for col in ("case", "status", "accepted hazards", "loops", "tool calls", "seconds", "message"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("case", "status", "accepted hazards", "loops", "tool calls", "seconds", "message")))
    console.print(table)
    console.print(f"wrote {out / 'summary.md'} and {out / 'summary.csv'}")
    if any(r["status"] != "ok" for r in rows):
        raise typer.Exit(1)


@app.command()
def diagnose(case: Annotated[Optional[list[str]], typer.Argument(help="case id, case YAML path, or data files and folders (a case is built from them)")] = None,
             data_dir: DataDirOpt = None,
             llm: LlmOpt = None,
             base_url: BaseUrlOpt = None,
             model: ModelOpt = None,
             out: RunOutOpt = None,
             resume: Annotated[Optional[str], typer.Option("--resume", help="continue the run of this thread id")] = None,
             list_: Annotated[bool, typer.Option("--list", help="list past runs")] = False,
             max_loops: Annotated[Optional[int], typer.Option(help="budget: loops")] = None,
             max_tool_calls: Annotated[Optional[int], typer.Option(help="budget: tool calls")] = None,
             max_seconds: Annotated[Optional[float], typer.Option(help="budget: seconds")] = None,
             no_figures: NoFiguresOpt = False,
             thread: Annotated[Optional[str], typer.Option(help="thread id for a new run (default: random)")] = None,
             config_file: ConfigOpt = None,
             as_json: JsonOpt = False) -> None:
    """Diagnose a case with the Hypothesis-Verification-Replanning loop; stream each step.

    Exit status 0 when the diagnosis ran to its report, 3 when the brain failed (the report
    says why), 2 on bad input."""
    from hvrmet.runs import DiagnosisResult, diagnose as run_diagnosis, list_runs

    cfg = _run_config(llm=llm, out=out, base_url=base_url, model=model, no_figures=no_figures, max_loops=max_loops,
                      max_tool_calls=max_tool_calls, max_seconds=max_seconds, config_file=config_file)
    if list_:
        table = Table(title="past diagnoses")
        for col in ("thread", "case", "brain", "started (UTC)", "outcome", "report"):
            table.add_column(col, overflow="fold")
        import datetime as _dt
        for r in list_runs(cfg.out_dir):
            started = _dt.datetime.utcfromtimestamp(r["started"]).strftime("%Y-%m-%d %H:%M") if r["started"] else ""
            table.add_row(r["thread_id"], r["case"] or "", r["brain"] or "", started, r["outcome"] or "(unfinished)",
                          r["report"] or "")
        console.print(table)
        return
    if not case and resume is None:
        raise typer.BadParameter("give a CASE, or --resume THREAD, or --list")
    from hvrmet.chat.progress import tool_events

    with _busy("building the case from the files"):
        case_ref = _case_from_paths(list(case), Path(cfg.out_dir)) if case else ""
    with _busy(f"diagnosing {case_ref or resume}: starting") as spin, tool_events(spin.tool_listener("running ")):
        show = None if as_json else _live_printer(spin.printer(console))
        state = run_diagnosis(case_ref, cfg, data_dir=str(data_dir) if data_dir else None,
                              thread_id=resume or thread, resume=resume is not None, on_update=show)
    result = DiagnosisResult.from_state(state, state["thread_id"])
    if as_json:
        print(json.dumps(result.brief(), indent=1, default=str))
    else:
        rep = state.get("report", {})
        console.rule(f"[bold]{state.get('outcome', '')}[/bold]")
        console.print(rep.get("summary", ""))
        console.print(f"report: {rep.get('html', '')}  (markdown {rep.get('markdown', '')}, trace {rep.get('trace', '')})")
        console.print(f"thread {state['thread_id']}: {state.get('loop')} loop(s), {state.get('tool_calls')} tool calls, "
                      f"{rep.get('seconds', 0):.1f} s")
    if result.failure is not None:
        f = result.failure
        err_console.print(f"[bold red]error:[/bold red] the brain failed at the {f.node} step ({f.kind}): {f.message}",
                          highlight=False)
        raise typer.Exit(3)


def _live_printer(out=None):
    from hvrmet.chat.terminal import live_printer

    return live_printer(out if out is not None else console)


@app.command()
def chat(case: Annotated[Optional[str], typer.Argument(help="case id or case YAML path to load")] = None,
         resume: Annotated[bool, typer.Option("--resume", help="continue the last session (or --session ID)")] = False,
         session: Annotated[Optional[str], typer.Option("--session", help="session id to resume")] = None,
         sessions: Annotated[bool, typer.Option("--sessions", help="list the chat sessions")] = False,
         data_dir: DataDirOpt = None,
         llm: LlmOpt = None,
         base_url: BaseUrlOpt = None,
         model: ModelOpt = None,
         out: RunOutOpt = None,
         no_figures: NoFiguresOpt = False) -> None:
    """Talk to the diagnosis: load a case, watch the loop, ask why, sign off, fork, report."""
    with _busy("starting the chat (loading the graph)"):
        from hvrmet.chat import ChatSession, list_sessions
        from hvrmet.chat.terminal import run_terminal

    cfg = _run_config(llm=llm, out=out, base_url=base_url, model=model, no_figures=no_figures)
    if sessions:
        table = Table(title="chat sessions")
        for col in ("session", "case", "run", "turns", "last used (UTC)"):
            table.add_column(col)
        import datetime as _dt
        for r in list_sessions(cfg):
            table.add_row(r["session_id"], r["case"] or "", r["thread_id"] or "", str(r["turns"]),
                          _dt.datetime.fromtimestamp(r["updated"], _dt.timezone.utc).strftime("%Y-%m-%d %H:%M"))
        console.print(table)
        return
    with _busy("starting the chat (opening the runs database)"):
        if resume or session:
            s = ChatSession.resume(cfg, session)
        else:
            s = ChatSession(cfg, data_dir=str(data_dir) if data_dir else None)
    try:
        run_terminal(s, console, first=[f"/case {case}"] if case else None, resumed=resume or bool(session),
                     progress=err_console)
    finally:
        s.close()


@app.command()
def serve(host: Annotated[str, typer.Option(help="address to bind (loopback unless told otherwise)")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port")] = 8000,
          data_dir: DataDirOpt = None,
          llm: LlmOpt = None,
          base_url: BaseUrlOpt = None,
          model: ModelOpt = None,
          out: RunOutOpt = None,
          no_figures: NoFiguresOpt = False) -> None:
    """Serve the chat as a web page (FastAPI): case picker, streamed loop, tables, figures, report."""
    import os
    import secrets
    import socket

    import uvicorn

    from hvrmet.web import create_app
    from hvrmet.web.app import is_loopback

    cfg = _run_config(llm=llm, out=out, base_url=base_url, model=model, no_figures=no_figures)
    # beyond loopback every request must carry a token, made here and printed (as Jupyter does)
    token = None if is_loopback(host) else secrets.token_urlsafe(32)
    web = create_app(cfg, data_dir=str(data_dir) if data_dir else None, host=host, port=port, token=token,
                     idle_timeout=float(os.environ.get("HVRMET_WEB_IDLE_S", "3600")))
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    console.print(f"hvrmet serve: {url} (brain {cfg.brain}, output {cfg.out_dir})", markup=False, highlight=False)
    if token:
        console.print("every request needs this token: open the URL above once (it is then a cookie), "
                      "or send 'Authorization: Bearer TOKEN'", markup=False, highlight=False)
    uvicorn.run(web, host=host, port=port, log_level="warning")


def _run_config(*, llm: str | None, out: Path | None, base_url: str | None = None, model: str | None = None,
                no_figures: bool = False, config_file: Path | None = None, **budgets):
    """The run configuration: defaults, environment, ``--config`` file, then the flags."""
    from hvrmet.agents.configuration import Configuration

    return Configuration.resolve(config_file, brain=llm, out_dir=str(out) if out is not None else None,
                                 base_url=base_url, model=model, figures=False if no_figures else None, **budgets)


def _print_version(value: bool) -> None:
    if value:
        from hvrmet import __version__

        print(f"hvrmet {__version__}")
        raise typer.Exit()


@app.callback()
def _app(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                               help="print hvrmet's version and exit")] = False) -> None:
    """hvrmet: agents that diagnose extreme weather from real data."""


#: Libraries whose log records go to :data:`LIBRARY_LOG` in the output folder instead of
#: the terminal: cfgrib's tracebacks while it tries hypercubes, dask's worker and shutdown
#: messages, matplotlib's font notes. Python warnings (hvrmet's reader warnings among
#: them) stay on the terminal.
LIBRARY_LOGGERS = ("cfgrib", "gribapi", "eccodes", "distributed", "dask", "tornado", "asyncio", "bokeh", "fsspec",
                   "h5py", "matplotlib", "PIL", "numexpr")
LIBRARY_LOG = "hvrmet.log"
GC_THRESHOLDS = (10_000, 50, 50)
"""Generation thresholds of the garbage collector in the command line (default 700, 10, 10)."""


def main() -> None:
    """Entry point: run the app, printing hvrmet's errors as one line (exit status 2); an
    optional dependency that is missing names the extra that installs it. The libraries'
    log messages go to ``<out>/hvrmet.log`` (``$HVRMET_OUT_DIR`` or ``out``; created at
    the first message), with one line at the end saying how many errors it got.

    The collector runs less often (``gc.set_threshold``): a diagnosis builds many
    long-lived objects (xarray trees, the graph, MetPy's registry), which the default
    threshold of 700 allocations has the collector walk again and again. Before the
    process ends the live objects are frozen (``gc.freeze``), so the interpreter's last collection does
    not walk them once more. Neither changes a result; both only move collector work."""
    import gc
    import os

    gc.set_threshold(*GC_THRESHOLDS)

    from hvrmet.batch.runner import library_logs
    from hvrmet.extras import missing_extra

    log = Path(os.environ.get("HVRMET_OUT_DIR") or "out") / LIBRARY_LOG
    try:
        with library_logs(log, LIBRARY_LOGGERS) as count:
            try:
                app(prog_name="hvrmet")
            finally:
                gc.freeze()
                if count.errors:
                    err_console.print(f"({count.errors} error message(s) of the libraries written to {log})",
                                      style="dim", markup=False, highlight=False, soft_wrap=True)
    except (HvrmetError, ImportError) as exc:
        err = exc if isinstance(exc, HvrmetError) else missing_extra(exc)
        if err is None:
            raise
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/bold red] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
