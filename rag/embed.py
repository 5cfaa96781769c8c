"""Dense embedders. The protocol lets a test or a deployment swap the model; the default is
a sentence-transformers model loaded from a local folder (never from a hub at run time), run by
the OpenVINO runtime (:mod:`rag.embed_openvino`) or by torch (the ``embed_backend`` setting)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ModelError

QUERY_CACHE_SIZE = 2048
DEFAULT_THREADS = 1
"""Encoder threads unless ``RAG_THREADS`` says otherwise (measured: benchmarks/README.md,
"Encoder threads")."""
EMBED_BACKENDS = ("openvino", "torch")
"""``openvino`` is the default: several times faster here with the same vectors (see
benchmarks/README.md); ``torch`` runs sentence-transformers itself."""

log = logging.getLogger("rag")


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    fingerprint: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray: ...


class QueryCache:
    """Shared part of the backends: prompts, and a small cache of recent single queries,
    since users (and follow-ups, comparisons, retries) repeat questions."""

    dim: int
    _query_prompt: str | None
    _passage_prompt: str | None

    def __init__(self) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
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

    def _encode(self, texts: list[str], prompt: str | None, *, progress: bool) -> np.ndarray:
        raise NotImplementedError


class SentenceTransformerEmbedder(QueryCache):
    """A sentence-transformers model on torch; uses its ``query``/``passage`` prompts when it
    has them. ``threads`` sets torch's (process-wide) intra-op thread count."""

    def __init__(self, model_path: str, *, name: str | None = None, batch_size: int = 16,
                 threads: int | None = None) -> None:
        super().__init__()
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        if threads:
            torch.set_num_threads(int(threads))
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
        self._query_prompt = prompts.get("query")
        self._passage_prompt = prompts.get("passage")
        self.fingerprint = model_fingerprint(model_path, self.dim, prompts)

    def _encode(self, texts: list[str], prompt: str | None, *, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def load_embedder(model_path: str, *, backend: str, cache_dir: Path, name: str | None = None,
                  batch_size: int = 16, threads: int | None = None) -> Embedder:
    """The embedder for ``backend``. When OpenVINO cannot run the model (not installed, a
    model it does not support, a failed conversion) this logs one warning line and uses torch,
    whose vectors are the same (so is the fingerprint)."""
    if backend not in EMBED_BACKENDS:
        raise ModelError(f"embed backend must be one of {EMBED_BACKENDS}, got {backend!r}")
    if backend == "openvino":
        try:
            from rag.embed_openvino import OpenVINOEmbedder

            return OpenVINOEmbedder(model_path, cache_dir=cache_dir, name=name,
                                    batch_size=batch_size, threads=threads)
        except (ImportError, ModelError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("rag: warning: OpenVINO backend unavailable (%s); using torch", reason)
    return SentenceTransformerEmbedder(model_path, name=name, batch_size=batch_size,
                                       threads=threads)


def model_fingerprint(model_path: str, dim: int, prompts: dict[str, str]) -> str:
    """Identifies the model an index was built with: path name, config files and prompts.
    The backend is not part of it: both give the same vectors (cosine ≥ 0.999, a test)."""
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
