"""``hvrmet bench report``: pass rates by category and by loop, a Markdown table and plots."""

from __future__ import annotations

import json
from pathlib import Path

from hvrmet.benchmark.runner import summarize

__all__ = ["load_results", "markdown", "write_report"]


def load_results(path: str | Path) -> list[dict]:
    """Rows of a ``results.jsonl`` (or of the folder holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def markdown(summary: dict) -> str:
    """The summary as two Markdown tables."""
    lines = ["| category | tasks | passed | pass rate |", "| --- | --- | --- | --- |"]
    for c, v in summary["by_category"].items():
        lines.append(f"| {c} | {v['tasks']} | {v['passed']} | {v['pass_rate']:.2f} |")
    lines.append(f"| **all** | {summary['tasks']} | {summary['passed']} | {summary['pass_rate']:.2f} |")
    lines += ["", "| loop | entries | gold hazard present | mean gold rank | verdict correct | valid calls | "
                  "repeated calls | tool calls | seconds | posterior gain |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def f(x):
        return "n/a" if x is None else f"{x:.2f}"

    for k, v in summary["by_loop"].items():
        lines.append(f"| {k} | {v['entries']} | {f(v['gold_present'])} | {f(v['mean_gold_rank'])} | "
                     f"{f(v['verdict_correct'])} | {f(v['valid_call_share'])} | {f(v['repeated_calls'])} | "
                     f"{f(v['tool_calls'])} | {f(v['seconds'])} | {f(v['gain'])} |")
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
