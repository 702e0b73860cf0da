"""Card search without torch: the NumPy MiniLM gives sentence-transformers' vectors, and
the cards' embeddings are cached on disk under a key of the model and the card texts."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hvrmet.knowledge import default_store
from hvrmet.knowledge.embeddings import cache_key, cache_path, card_embeddings, encoder
from hvrmet.knowledge.search import CardSearch, embedding_model_path

MODEL = embedding_model_path()
pytestmark = pytest.mark.skipif(MODEL is None, reason="the semantic extra is not installed")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HVRMET_EMBEDDINGS_DIR", str(tmp_path / "emb"))
    return tmp_path / "emb"


def test_numpy_encoder_matches_sentence_transformers():
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is not installed")
    from sentence_transformers import SentenceTransformer

    cards = default_store().cards
    texts = ["low-level rotation of a tornadic storm", cards[0].text(), max((c.text() for c in cards), key=len),
             "x " * 400]  # the last is cut at the model's 256 tokens, as sentence-transformers cuts it
    mine = encoder(str(MODEL)).encode(texts)
    ref = SentenceTransformer(str(MODEL), device="cpu").encode(texts, normalize_embeddings=True,
                                                              show_progress_bar=False)
    assert mine.shape == ref.shape == (4, 384) and mine.dtype == np.float32
    assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    assert (mine * ref).sum(1).min() > 0.99999


def test_card_embeddings_are_cached_by_model_and_texts(cache, monkeypatch):
    texts = ["hail in a supercell", "a stable winter sounding"]
    first = card_embeddings(texts, MODEL)
    path = cache_path(texts, MODEL)
    assert path.parent == cache and path.is_file() and np.array_equal(np.load(path), first)
    # the cached file is read back: the encoder is not run again
    import hvrmet.knowledge.embeddings as emb

    def no_encoder(_path):
        raise AssertionError("encoded again")

    monkeypatch.setattr(emb, "encoder", no_encoder)
    assert np.array_equal(card_embeddings(texts, MODEL), first)
    # other texts (a card edited) are another key
    assert cache_key(texts, MODEL) != cache_key([texts[0], texts[1] + "."], MODEL)
    with pytest.raises(AssertionError, match="encoded again"):
        card_embeddings([texts[0], texts[1] + "."], MODEL)


def test_search_loads_apart_from_the_query(cache):
    store = default_store()
    s = CardSearch(store.cards)
    assert s.prepare("bm25") == 0.0 and s._emb is None  # BM25 needs no model
    assert s.prepare("hybrid") > 0.0 and s._emb.shape == (len(store.cards), 384)
    assert s.prepare("hybrid") == 0.0  # loaded once
    assert cache_path([c.text() for c in store.cards], MODEL).is_file()
    hits = [c.id for c, _ in s.search("low-level rotation of a tornadic storm", k=5, mode="semantic")]
    assert len(hits) == 5 and any("rotation" in h or "meso" in h or "tornad" in h or "couplet" in h for h in hits)
