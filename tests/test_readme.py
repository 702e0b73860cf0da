"""The README's counts are the code's: tools and categories, cards, conditions, hazard
labels and families, registry files, catalogue cases."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _num(pattern: str) -> tuple[int, ...]:
    m = re.search(pattern, " ".join(README.split()))
    assert m, f"the README no longer says {pattern!r}"
    return tuple(int(g) for g in m.groups())


def test_tool_counts():
    from hvrmet.tools import list_tools

    tools = list_tools()
    cats = Counter(t.category for t in tools)
    n, m = _num(r"(\d+) tools in (\d+) categories")
    assert (n, m) == (len(tools), len(cats))
    listed = re.search(r"\d+ tools in \d+ categories \(([^)]*)\)", " ".join(README.split())).group(1)
    assert dict((k.strip().replace("Level III", "level3").replace("plotting", "plot"), int(v))
                for k, v in re.findall(r"([A-Za-z ]+?) (\d+)", listed)) == dict(cats)


def test_knowledge_counts():
    from hvrmet.knowledge.check import check_knowledge

    problems, stats = check_knowledge()
    assert problems == []
    assert _num(r"holds (\d+) cards \((\d+) guideline, (\d+) index, (\d+) figure") == (
        stats["cards"], stats["guideline"], stats["index"], stats["figure"])
    assert _num(r"(\d+) machine-testable conditions") == (stats["conditions"],)
    assert _num(r"(\d+) labels in (\d+) families") == (stats["hazards"], len(stats["families"]))


def test_registry_and_catalogue_counts():
    from hvrmet.cases import list_cases
    from hvrmet.data.registry import default_registry

    assert _num(r"knows \((\d+) files") == (len(default_registry().entries),)
    assert _num(r"catalogue/\*\.yaml`\) holds (\d+) cases") == (len(list_cases()),)
