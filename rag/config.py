"""The engine's explicit configuration. Built once from settings (env vars, flags) by the
CLI or the server; the library itself never reads the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rag.chunk import ChunkConfig
from rag.embed import DEFAULT_THREADS, EMBED_BACKENDS
from rag.index import ANN_KINDS
from rag.model import DEFAULT_MODEL_NAME

FUSIONS = ("score", "rrf")


@dataclass(frozen=True)
class RetrievalConfig:
    """Hybrid retrieval: ``fusion`` "score" ranks the candidates of both rankings by the
    fitted score model (rag.fusion, weights in rag/data/retrieval_model.json); "rrf" is the
    weighted reciprocal-rank fusion of dense and BM25 rankings the weights below set."""

    fusion: str = "score"
    dense_weight: float = 0.3
    bm25_weight: float = 1.0
    rrf_k: int = 10
    candidates: int = 100
    figure_weight: float = 0.5  # figure-aware ranking, for questions that ask for a figure
    figure_depth: int = 20  # how many top dense and BM25 candidates it re-scores
    top_k: int = 5
    max_k: int = 100

    def __post_init__(self) -> None:
        if self.dense_weight < 0 or self.bm25_weight < 0:
            raise ValueError("fusion weights must be non-negative")
        if self.dense_weight == 0 and self.bm25_weight == 0:
            raise ValueError("at least one fusion weight must be positive")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.rrf_k < 1 or self.candidates < 1 or not 1 <= self.top_k <= self.max_k:
            raise ValueError("rrf_k, candidates and top_k must be positive, top_k <= max_k")


@dataclass(frozen=True)
class EngineConfig:
    index_dir: Path
    corpus_dir: Path | None = None
    model: str = DEFAULT_MODEL_NAME
    model_cache: Path = Path(".cache/models")
    chunking: ChunkConfig = field(default_factory=ChunkConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    ann: str = "flat"
    store: str = "faiss"  # faiss | milvus-lite:PATH.db | http://HOST:PORT (rag.store)
    max_query_chars: int = 500
    auto_index: bool = True
    embed_batch_size: int = 16
    embed_backend: str = "openvino"
    embed_threads: int | None = DEFAULT_THREADS  # None: the runtime's own default (all cores)
    max_upload_bytes: int = 2 * 1024 * 1024
    # the evidence model's weights (None: the one shipped in rag/data) and the confidence
    # an answer needs (None: the model's calibrated threshold)
    evidence_model: Path | None = None
    min_confidence: float | None = None

    def __post_init__(self) -> None:
        if self.ann not in ANN_KINDS:
            raise ValueError(f"ann must be one of {ANN_KINDS}, got {self.ann!r}")
        if self.embed_backend not in EMBED_BACKENDS:
            raise ValueError(f"embed_backend must be one of {EMBED_BACKENDS}, got {self.embed_backend!r}")
        if self.embed_threads is not None and self.embed_threads < 1:
            raise ValueError("embed_threads must be positive")
        if self.max_query_chars < 1:
            raise ValueError("max_query_chars must be positive")
