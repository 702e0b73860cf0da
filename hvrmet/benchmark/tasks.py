"""The task format (see ``hvrmet/benchmark/data/README.md``), the shipped task sets and
the published vocabularies.

The task sets ship inside the package (``hvrmet/benchmark/data/<name>.jsonl``, read through
:mod:`importlib.resources`): ``load_tasks("dev")`` loads the development set; any other
argument is the path of the user's own JSON-lines file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hvrmet._resources import package_path

__all__ = ["Task", "load_tasks", "task_sets", "task_set_path", "CATEGORIES", "LOOP_CATEGORIES", "ANSWER_TYPES",
           "quantity_vocabulary", "tool_for_quantity", "figure_kinds", "PLOT_TOOL"]

CATEGORIES = ("index", "signal", "plot", "abstention", "hypothesis", "verification", "replanning", "report", "loop")
#: Categories answered from a diagnosis (an ``abstention`` task naming a ``hazard`` is too).
LOOP_CATEGORIES = ("hypothesis", "verification", "replanning", "report", "loop")
#: The answer types (see :mod:`hvrmet.benchmark.scorers`).
ANSWER_TYPES = ("number", "location", "label", "ranked", "set", "replan", "figure", "checklist", "abstain", "loop")
PLOT_TOOL = {"skewt": "plot_skewt", "hodograph": "plot_hodograph", "radar_ppi": "plot_radar_ppi",
             "composite_reflectivity": "plot_composite_reflectivity", "field_map": "plot_field_map",
             "composite_sequence": "plot_composite_sequence"}


class Task(BaseModel):
    """One benchmark task."""

    model_config = ConfigDict(extra="allow")

    id: str
    category: Literal["index", "signal", "plot", "abstention", "hypothesis", "verification", "replanning", "report",
                      "loop"]
    case: str | None = None
    files: dict[str, str | dict[str, Any]] | None = None
    question: str
    target: dict[str, Any] = Field(default_factory=dict)
    answer: dict[str, Any]
    source: str = ""

    @model_validator(mode="after")
    def _case_or_files(self) -> "Task":
        if (self.case is None) == (self.files is None):
            raise ValueError(f"task {self.id}: give exactly one of 'case' or 'files'")
        return self


def task_sets() -> dict[str, Path]:
    """The task sets shipped with the package, by name (``dev``: the development set)."""
    root = package_path("hvrmet.benchmark", "data")
    return {p.stem: p for p in sorted(root.glob("*.jsonl"))}


def task_set_path(name_or_path: str | Path) -> Path:
    """The file of a task set: an existing path as given, else a shipped set by name.

    ``benchmark/tasks/<name>.jsonl`` (where the sets lived before they moved into the
    package) also names the shipped set when no such file exists.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    sets = task_sets()
    name = str(name_or_path)
    if name in sets:
        return sets[name]
    if path.suffix == ".jsonl" and path.parent.as_posix().endswith("benchmark/tasks") and path.stem in sets:
        return sets[path.stem]
    raise FileNotFoundError(f"no task file {path} (and no shipped task set {name!r}; shipped sets: "
                            f"{', '.join(sets) or 'none'})")


def load_tasks(path: str | Path) -> list[Task]:
    """Tasks of a JSON-lines file or a shipped set by name (``"dev"``); a relative case-file
    path resolves against the file's folder."""
    path = task_set_path(path)
    tasks, seen = [], set()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        t = Task.model_validate(json.loads(line))
        if t.id in seen:
            raise ValueError(f"{path}:{n}: duplicate task id {t.id!r}")
        seen.add(t.id)
        if t.case and (t.case.endswith((".yaml", ".yml"))) and not Path(t.case).is_absolute():
            t.case = str((path.parent / t.case).resolve())
        tasks.append(t)
    return tasks


#: Quantities whose tool is not the first one found (several tools return them).
_PREFERRED = {"max_reflectivity": "find_max_reflectivity", "min_pressure": "find_pressure_minimum",
              "max_wind_speed": "find_jet_maxima", "mesocyclone_count": "get_mesocyclones"}


def quantity_vocabulary() -> dict[str, dict[str, str]]:
    """Quantity name -> ``{"tool", "units"}``: every output of every non-plot tool
    (specific tools preferred over the summaries)."""
    from hvrmet.tools import list_tools

    vocab: dict[str, dict[str, str]] = {}
    for t in sorted(list_tools(), key=lambda t: (t.name.startswith("summarize_"), t.name)):
        if t.category == "plot":
            continue
        for q, units in t.outputs.items():
            vocab.setdefault(q, {"tool": t.name, "units": units})
    for q, tool in _PREFERRED.items():
        from hvrmet.tools import get_tool
        vocab[q] = {"tool": tool, "units": get_tool(tool).outputs[q]}
    return dict(sorted(vocab.items()))


def tool_for_quantity(q: str) -> str:
    """The tool that answers a quantity; an unknown quantity raises listing a few close ones."""
    vocab = quantity_vocabulary()
    if q not in vocab:
        import difflib
        close = difflib.get_close_matches(q, list(vocab), n=5)
        raise KeyError(f"unknown quantity {q!r}; close: {', '.join(close)} (see `hvrmet bench vocab`)")
    return vocab[q]["tool"]


def figure_kinds() -> dict[str, str]:
    """Figure kind -> plot tool."""
    return dict(PLOT_TOOL)
