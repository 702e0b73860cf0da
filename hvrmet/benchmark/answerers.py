"""Reference answerers: the oracle and the random answerer.

* The **oracle** reads the gold answer and writes it the way the system answers (a value
  with units, a ranking of hypotheses, a report's statuses, a loop trace...). Scored by
  the same scorers, it must pass every task: a task it fails is not satisfiable.
* The **random** answerer answers every task at random from plausible pools: numbers drawn
  over the range of the task set's gold values of the same units, labels from the gold
  labels of the same kind, rankings as random orders of the hazard vocabulary, tool sets
  from the tool vocabulary, a random reason class or a number for an abstention. Its pass
  rate is the chance level a system must beat.

``hvrmet bench run --answerer oracle|random`` runs them (no tool, no diagnosis).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Iterable

from hvrmet.benchmark.scorers import REASON_CLASSES, STATUS_ORDER, score
from hvrmet.benchmark.tasks import Task

__all__ = ["oracle_answer", "random_answer", "answer_all"]


def _figure_of(gold: dict) -> dict:
    side = {k: gold[k] for k in ("kind", "level", "units", "valid_time") if k in gold}
    if "variables" in gold:
        side["variables"] = list(gold["variables"])
    if "contains" in gold:
        lat, lon = gold["contains"]
        side["extent"] = [lon - 1.0, lon + 1.0, lat - 1.0, lat + 1.0]
    return side


def oracle_answer(task: Task) -> Any:
    """The gold answer of ``task`` in the system's answer format."""
    a = task.answer
    kind = a["type"]
    if kind == "number":
        return {"value": a["value"], "units": a.get("units", "")}
    if kind == "location":
        return {"lat": a["lat"], "lon": a["lon"]}
    if kind == "label":
        return {"value": a["value"]}
    if kind == "ranked":
        k = int(a.get("min_rank", 1))
        ranking = [{"hazard": f"other_{i}", "status": "supported", "posterior": 1.0} for i in range(1, k)]
        ranking.append({"hazard": a["value"], "status": "supported" if k == 1 else "inconclusive", "posterior": 0.5})
        return {"ranking": ranking}
    if kind in ("set", "replan"):
        n = max(int(a.get("min", 1)), 1)
        out = {"members": list(a["members"])[:n]}
        if kind == "replan":
            out.update({"loop": int(a.get("loop", 1)), "replanned": True})
        return out
    if kind == "figure":
        return _figure_of(a)
    if kind == "checklist":
        hyps = [{"hazard": h, "status": "refuted", "posterior": 0.0} for h in a.get("must_not_accept", [])]
        hyps += [{"hazard": h, "status": "refuted", "posterior": 0.0} for h in a.get("must_refute", [])]
        hyps += [{"hazard": h, "status": "supported", "posterior": 1.0} for h in a.get("must_name", [])]
        return {"hypotheses": hyps, "cited": list(a.get("must_cite", []))}
    if kind == "abstain":
        reason = a["reason"] if isinstance(a["reason"], str) else a["reason"][0]
        return {"value": None, "not_computable": reason}
    if kind == "loop":
        status = a.get("status", "supported")
        return {"loops": [{"loop": 1, "gold_rank": 1, "gold_status": status,
                           "gold_posterior": 1.0 if status == "supported" else 0.0}]}
    raise ValueError(f"no oracle for answer type {kind!r}")


class _Pools:
    """What a random answer is drawn from: the task set's own golds and the vocabularies."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        from hvrmet.benchmark.scorers import _hazards, _tool_alias

        self.numbers: dict[str, list[float]] = defaultdict(list)
        self.labels: dict[str, list[str]] = defaultdict(list)
        self.locations: list[tuple[float, float]] = []
        self.figures: list[dict] = []
        for t in tasks:
            a = t.answer
            if a["type"] == "number":
                self.numbers[str(a.get("units", ""))].append(float(a["value"]))
            elif a["type"] == "label":
                self.labels[self._label_key(t)].append(str(a["value"]))
            elif a["type"] == "location":
                self.locations.append((float(a["lat"]), float(a["lon"])))
            elif a["type"] == "figure":
                self.figures.append(_figure_of(a))
        self.hazards = sorted(set(_hazards()[1]))
        self.tools = sorted(set(_tool_alias().values()))

    @staticmethod
    def _label_key(t: Task) -> str:
        return f"{t.category}:{t.target.get('quantity', '')}"


def random_answer(task: Task, rng: random.Random, pools: _Pools) -> Any:
    """A random answer to ``task`` of the right format."""
    a = task.answer
    kind = a["type"]
    if kind == "number":
        pool = pools.numbers.get(str(a.get("units", ""))) or [float(a["value"])]
        lo, hi = min(0.0, min(pool)), 2.0 * max(abs(x) for x in pool) + 1.0
        return {"value": rng.uniform(lo, hi), "units": a.get("units", "")}
    if kind == "location":
        from pyproj import Geod

        lat, lon = rng.choice(pools.locations)
        lon2, lat2, _ = Geod(ellps="WGS84").fwd(lon, lat, rng.uniform(0, 360), rng.uniform(0, 300e3))
        return {"lat": lat2, "lon": lon2}
    if kind == "label":
        pool = sorted(set(pools.labels.get(_Pools._label_key(task)) or [a["value"]]))
        if task.category == "verification":
            pool = sorted(STATUS_ORDER)
        return {"value": rng.choice(pool)}
    if kind == "ranked":
        hz = rng.sample(pools.hazards, k=rng.randint(1, 6))
        return {"ranking": [{"hazard": h, "status": rng.choice(sorted(STATUS_ORDER)), "posterior": rng.random()}
                            for h in hz]}
    if kind in ("set", "replan"):
        out = {"members": rng.sample(pools.tools, k=min(len(pools.tools), max(1, len(a["members"]) // 2)))}
        if kind == "replan":
            out.update({"loop": int(a.get("loop", 1)), "replanned": rng.random() < 0.5})
        return out
    if kind == "figure":
        return dict(rng.choice(pools.figures))
    if kind == "checklist":
        hz = rng.sample(pools.hazards, k=rng.randint(1, 5))
        return {"hypotheses": [{"hazard": h, "status": rng.choice(sorted(STATUS_ORDER)), "posterior": rng.random()}
                               for h in hz], "cited": rng.sample(pools.tools, k=3)}
    if kind == "abstain":
        if rng.random() < 0.5:
            return {"value": rng.uniform(0, 1000), "units": ""}
        return {"value": None, "not_computable": rng.choice(REASON_CLASSES)}
    if kind == "loop":
        n = rng.randint(1, 3)
        return {"loops": [{"loop": k + 1, "gold_rank": rng.choice([None, 1, 2, 3, 4]),
                           "gold_status": rng.choice(sorted(STATUS_ORDER)), "gold_posterior": rng.random()}
                          for k in range(n)]}
    raise ValueError(f"no random answer for answer type {kind!r}")


def answer_all(tasks: list[Task], answerer: str, *, seed: int = 0, pool: list[Task] | None = None) -> list[dict]:
    """Result rows of the oracle or the random answerer over ``tasks``."""
    if answerer not in ("oracle", "random"):
        raise ValueError(f"unknown answerer {answerer!r}: system, oracle or random")
    rng = random.Random(seed)
    pools = _Pools(pool or tasks) if answerer == "random" else None
    rows = []
    for t in tasks:
        given = oracle_answer(t) if answerer == "oracle" else random_answer(t, rng, pools)
        passed, detail = score(t.answer, given)
        rows.append({"id": t.id, "category": t.category, "answer_type": t.answer.get("type"), "brain": answerer,
                     "passed": bool(passed), "detail": detail, "given": given, "seconds": 0.0, "split_case": t.case})
    return rows
