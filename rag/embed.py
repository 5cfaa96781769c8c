"""Dense embedders. The protocol lets a test or a deployment swap the model; the default is
a sentence-transformers model loaded from a local folder (never from a hub at run time)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ModelError

QUERY_CACHE_SIZE = 2048


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    fingerprint: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model; uses its ``query``/``passage`` prompts when it has them."""

    def __init__(self, model_path: str, *, name: str | None = None, batch_size: int = 16) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # load reports and progress bars are noise to users
        hf_logging.disable_progress_bar()
        try:
            self._model = SentenceTransformer(model_path, device="cpu")
        except Exception as exc:  # the library raises many types; all mean "cannot load"
            raise ModelError(f"cannot load embedding model {model_path!r}: {exc}") from None
        self.name = name or model_path
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise ModelError(f"model {model_path!r} does not report an embedding dimension")
        self.dim = int(dim)
        self.batch_size = batch_size
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        self.fingerprint = _fingerprint(model_path, self.dim, prompts)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors; recent single queries are served from a small cache, since users
        (and follow-ups, comparisons, retries) repeat questions."""
        if len(texts) != 1:
            return self._encode(texts, self._query_prompt, progress=False)
        key = texts[0]
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit.reshape(1, -1)
        vec = self._encode(texts, self._query_prompt, progress=False)
        vec.setflags(write=False)
        with self._cache_lock:
            self._cache[key] = vec[0]
            while len(self._cache) > QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
        return vec

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, progress=progress)

    def _encode(self, texts: list[str], prompt_name: str | None, *, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            texts,
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def _fingerprint(model_path: str, dim: int, prompts: dict[str, str]) -> str:
    """Identifies the model an index was built with: path name, config files and prompts."""
    h = hashlib.sha256(json.dumps({"dim": dim, "prompts": prompts}, sort_keys=True).encode())
    p = Path(model_path)
    h.update(p.name.encode())
    if p.is_dir():
        for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
            f = p / name
            if f.is_file():
                h.update(f.read_bytes())
        for f in sorted(p.glob("*.safetensors")):
            h.update(str(f.stat().st_size).encode())
    return h.hexdigest()[:16]
