"""``hvrmet knowledge eval``: retrieval quality on a labelled set of forecaster questions.

The set (``eval/queries.yaml`` of the knowledge folder, ``hvrmet/knowledge/data/``) pairs
questions, worded differently from the cards, with the ids of the cards that answer them.
Scores: recall@k (a query counts if any relevant card is in the top k) and mean
reciprocal rank of the first relevant card.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from hvrmet.knowledge.store import KnowledgeStore, knowledge_dir

__all__ = ["EvalResult", "evaluate_retrieval", "load_queries"]


@dataclass
class EvalResult:
    """Scores of one retrieval mode."""

    mode: str
    queries: int
    recall_at_k: float
    mrr: float
    k: int
    ms_per_query: float
    misses: list[tuple[str, list[str], list[str]]]


def load_queries(root: Path | None = None) -> list[dict]:
    """The labelled queries: ``[{"query": str, "relevant": [card ids]}, ...]``."""
    data = yaml.safe_load(((root or knowledge_dir()) / "eval" / "queries.yaml").read_text())
    return data["queries"]


def evaluate_retrieval(store: KnowledgeStore, k: int = 5, mode: str = "hybrid") -> EvalResult:
    """Run every labelled query and score the ranking."""
    queries = load_queries(store.root)
    store.search("warm-up", k=k, mode=mode)  # build indexes and load the model first
    hits, rr, misses = 0, 0.0, []
    t0 = time.perf_counter()
    for q in queries:
        ranked = [c.id for c, _ in store.search(q["query"], k=len(store.cards), mode=mode)]
        rel = set(q["relevant"])
        first = next((i for i, cid in enumerate(ranked) if cid in rel), None)
        if first is not None and first < k:
            hits += 1
        else:
            misses.append((q["query"], q["relevant"], ranked[:k]))
        rr += 0.0 if first is None else 1.0 / (first + 1)
    dt = (time.perf_counter() - t0) / max(len(queries), 1) * 1000
    return EvalResult(mode, len(queries), hits / len(queries), rr / len(queries), k, dt, misses)
