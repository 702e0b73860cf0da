"""Loading and validating the knowledge cards and the hazard vocabulary.

The cards ship inside the package, in ``hvrmet/knowledge/data/`` (one YAML file per card
under ``cards/guideline``, ``cards/index`` and ``cards/figure``, beside ``hazards.yaml``,
``signals.yaml`` and ``eval/queries.yaml``), read through :mod:`importlib.resources`;
``HVRMET_KNOWLEDGE_DIR`` (or the ``root`` argument) points at a folder of the same layout.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from hvrmet._resources import load_yaml, package_path
from hvrmet.errors import HvrmetError
from hvrmet.knowledge.model import Card, Hazard

from hvrmet.knowledge.weights import load_weights  # noqa: E402

__all__ = ["KnowledgeError", "knowledge_dir", "load_cards", "load_hazards", "KnowledgeStore", "default_store"]


class KnowledgeError(HvrmetError):
    """A card or the hazard vocabulary is malformed; the message names the file."""


def knowledge_dir() -> Path:
    """The knowledge folder: ``HVRMET_KNOWLEDGE_DIR`` or the package's own (``hvrmet/knowledge/data``)."""
    env = os.environ.get("HVRMET_KNOWLEDGE_DIR")
    if env:
        return Path(env)
    return _package_knowledge_dir()


@functools.cache
def _package_knowledge_dir() -> Path:
    """The package's own knowledge folder, located once per process (the package does not
    move while it runs)."""
    return package_path("hvrmet.knowledge", "data")


def _read_yaml(path: Path) -> dict:
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: a card must be a YAML mapping")
    return data


def load_hazards(root: Path | None = None) -> dict[str, Hazard]:
    """The hazard vocabulary, by label."""
    path = (root or knowledge_dir()) / "hazards.yaml"
    data = _read_yaml(path)
    out = {}
    for item in data.get("hazards", []):
        try:
            h = Hazard.model_validate(item)
        except ValidationError as exc:
            raise KnowledgeError(f"{path}: hazard {item.get('id')!r}: {exc}") from None
        if h.id in out:
            raise KnowledgeError(f"{path}: hazard {h.id!r} listed twice")
        out[h.id] = h
    return out


def load_cards(root: Path | None = None) -> list[Card]:
    """Every card, validated against the schema (ids may still clash: see ``check``)."""
    base = (root or knowledge_dir()) / "cards"
    cards = []
    for path in sorted(base.rglob("*.yaml")):
        data = _read_yaml(path)
        try:
            card = Card.model_validate(data)
        except ValidationError as exc:
            errs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise KnowledgeError(f"{path}: {errs}") from None
        if path.parent.name != card.library:
            raise KnowledgeError(f"{path}: library {card.library!r} but filed under {path.parent.name}/")
        card.source_path = str(path)
        cards.append(card)
    if not cards:
        raise KnowledgeError(f"no cards under {base}")
    return cards


class KnowledgeStore:
    """The cards, the vocabulary, and selection by id, hazard, library and signal."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or knowledge_dir()
        self.hazards = load_hazards(self.root)
        self.cards = load_cards(self.root)
        self.by_id = {c.id: c for c in self.cards}
        self.weights = load_weights(self.root)
        self._search = None

    def ancestors(self, hazard: str) -> list[str]:
        """The hazards ``hazard`` specialises, nearest first (``parent`` in hazards.yaml)."""
        out, seen = [], {hazard}
        h = self.hazards.get(hazard)
        while h is not None and h.parent and h.parent not in seen:
            out.append(h.parent)
            seen.add(h.parent)
            h = self.hazards.get(h.parent)
        return out

    def get(self, card_id: str) -> Card:
        """A card by id; ``KeyError`` suggests close ids."""
        try:
            return self.by_id[card_id]
        except KeyError:
            import difflib
            close = difflib.get_close_matches(card_id, list(self.by_id), n=3)
            raise KeyError(f"no card {card_id!r}" + (f"; did you mean {', '.join(close)}?" if close else "")) from None

    def select(self, hazard: str | None = None, library: str | None = None) -> list[Card]:
        """Cards concerning ``hazard`` (and of ``library``), in id order."""
        return [c for c in self.cards if (hazard is None or hazard in c.hazards)
                and (library is None or c.library == library)]

    def guideline(self, hazard: str) -> Card | None:
        """The guideline card of a hazard, if any: the first by id whose leading hazard it
        is, else the first by id that lists it."""
        cards = self.select(hazard, "guideline")
        lead = [c for c in cards if c.hazards and c.hazards[0] == hazard]
        return (lead or cards or [None])[0]

    def for_signals(self, signals: list[str]) -> list[Card]:
        """Guideline cards whose signals overlap the signals a case shows, most overlap first."""
        sig = set(signals)
        scored = [(len(sig & set(c.signals)), c) for c in self.cards if c.library == "guideline"]
        return [c for n, c in sorted(scored, key=lambda x: (-x[0], x[1].id)) if n > 0]

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[tuple[Card, float]]:
        """Rank cards for a free-text query (see :class:`hvrmet.knowledge.search.CardSearch`)."""
        if self._search is None:
            from hvrmet.knowledge.search import CardSearch
            self._search = CardSearch(self.cards)
        return self._search.search(query, k=k, mode=mode)


@functools.cache
def _store_for(root: str) -> KnowledgeStore:
    return KnowledgeStore(Path(root))


#: ``(HVRMET_KNOWLEDGE_DIR as last seen, its store)``: :func:`default_store` is asked tens of
#: thousands of times a diagnosis, so the lookup is one environment read and a comparison.
_default: tuple[str | None, KnowledgeStore] | None = None


def default_store() -> KnowledgeStore:
    """The store of the current knowledge folder, loaded once per process (and once per
    folder when ``HVRMET_KNOWLEDGE_DIR`` changes)."""
    global _default
    env = os.environ.get("HVRMET_KNOWLEDGE_DIR")
    last = _default
    if last is not None and last[0] == env:
        return last[1]
    store = _store_for(str(knowledge_dir()))
    _default = (env, store)
    return store
