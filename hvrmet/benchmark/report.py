"""``hvrmet bench report`` and ``hvrmet bench compare``: pass rates by category, by answer type
and by loop, Markdown tables and plots; two results side by side."""

from __future__ import annotations

import json
from pathlib import Path

from hvrmet.benchmark.runner import summarize

__all__ = ["load_results", "markdown", "write_report", "compare", "compare_markdown"]


def load_results(path: str | Path) -> list[dict]:
    """Rows of a ``results.jsonl`` (or of the folder holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


LOOP_COLUMNS = (("entries", "entries"), ("pass_rate", "loop passed"), ("hypotheses_ok", "hypotheses right"),
                ("checks_ok", "checks valid"), ("direction_ok", "statuses right way"),
                ("gold_present", "gold present"), ("mean_gold_rank", "mean gold rank"),
                ("verdict_correct", "verdict correct"), ("gain", "posterior gain"), ("delta_rank", "rank gain"),
                ("entropy", "entropy (bits)"), ("delta_entropy", "entropy change"),
                ("valid_call_share", "valid calls"), ("repeated_calls", "repeated calls"),
                ("tool_calls", "tool calls"), ("seconds", "seconds"))


def markdown(summary: dict) -> str:
    """The summary as Markdown tables: by category, by answer type, by loop."""
    lines = ["| category | tasks | passed | pass rate |", "| --- | --- | --- | --- |"]
    for c, v in summary["by_category"].items():
        lines.append(f"| {c} | {v['tasks']} | {v['passed']} | {v['pass_rate']:.2f} |")
    lines.append(f"| **all** | {summary['tasks']} | {summary['passed']} | {summary['pass_rate']:.2f} |")
    if summary.get("by_answer_type"):
        lines += ["", "| answer type | tasks | passed | pass rate |", "| --- | --- | --- | --- |"]
        for c, v in summary["by_answer_type"].items():
            lines.append(f"| {c} | {v['tasks']} | {v['passed']} | {v['pass_rate']:.2f} |")
    if summary.get("by_loop"):
        lines += ["", "| loop | " + " | ".join(h for _, h in LOOP_COLUMNS) + " |",
                  "| --- |" + " --- |" * len(LOOP_COLUMNS)]
        for k, v in summary["by_loop"].items():
            cells = [str(v.get(key)) if key == "entries" else _f(v.get(key)) for key, _ in LOOP_COLUMNS]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compare(a: str | Path, b: str | Path) -> dict:
    """Per-category and per-loop differences of two results (B minus A)."""
    sa, sb = summarize(load_results(a)), summarize(load_results(b))
    rows = []
    for c in sorted(set(sa["by_category"]) | set(sb["by_category"])):
        x, y = sa["by_category"].get(c), sb["by_category"].get(c)
        rows.append({"what": f"category {c}", "metric": "pass rate", "a": x and x["pass_rate"], "b": y and y["pass_rate"],
                     "n_a": x and x["tasks"], "n_b": y and y["tasks"]})
    rows.append({"what": "all", "metric": "pass rate", "a": sa["pass_rate"], "b": sb["pass_rate"], "n_a": sa["tasks"],
                 "n_b": sb["tasks"]})
    for k in sorted(set(sa["by_loop"]) | set(sb["by_loop"]), key=int):
        x, y = sa["by_loop"].get(k, {}), sb["by_loop"].get(k, {})
        for key, label in LOOP_COLUMNS[1:]:
            rows.append({"what": f"loop {k}", "metric": label, "a": x.get(key), "b": y.get(key),
                         "n_a": x.get("entries"), "n_b": y.get("entries")})
    for r in rows:
        r["delta"] = None if r["a"] is None or r["b"] is None else round(r["b"] - r["a"], 4)
    # tasks that flipped
    ra = {r["id"]: r["passed"] for r in load_results(a)}
    rb = {r["id"]: r["passed"] for r in load_results(b)}
    common = set(ra) & set(rb)
    return {"rows": rows, "gained": sorted(i for i in common if rb[i] and not ra[i]),
            "lost": sorted(i for i in common if ra[i] and not rb[i]), "only_a": len(set(ra) - set(rb)),
            "only_b": len(set(rb) - set(ra))}


def compare_markdown(cmp: dict, a: str = "A", b: str = "B") -> str:
    """The comparison as one Markdown table."""
    lines = [f"| what | metric | {a} | {b} | change | tasks/entries ({a}, {b}) |", "| --- | --- | --- | --- | --- | --- |"]
    for r in cmp["rows"]:
        d = "n/a" if r["delta"] is None else f"{r['delta']:+.2f}"
        lines.append(f"| {r['what']} | {r['metric']} | {_f(r['a'])} | {_f(r['b'])} | {d} | {r['n_a']}, {r['n_b']} |")
    lines.append("")
    lines.append(f"{len(cmp['gained'])} task(s) pass only in {b}, {len(cmp['lost'])} only in {a}; "
                 f"{cmp['only_a']} task(s) only in {a}, {cmp['only_b']} only in {b}")
    return "\n".join(lines) + "\n"


def write_report(results: str | Path, out: str | Path | None = None) -> tuple[dict, Path]:
    """Summarise results, write ``report.md`` and ``pass_rates.png``; return both."""
    from matplotlib.figure import Figure

    rows = load_results(results)
    summary = summarize(rows)
    out = Path(out or (Path(results) if Path(results).is_dir() else Path(results).parent))
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown(summary))
    fig = Figure(figsize=(7, 3.5), dpi=100)
    ax = fig.add_subplot()
    cats = list(summary["by_category"])
    ax.bar(cats, [summary["by_category"][c]["pass_rate"] for c in cats], color="#4c72b0")
    ax.set_ylim(0, 1)
    ax.set_ylabel("pass rate")
    ax.set_title(f"{summary['tasks']} tasks, pass rate {summary['pass_rate']:.2f}")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out / "pass_rates.png")
    return summary, out
