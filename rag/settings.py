"""Settings: defaults, ``RAG_*`` environment variables and command-line flags, read once at
start-up by the CLI or the server and turned into an explicit :class:`EngineConfig`."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.chunk import ChunkConfig
from rag.config import EngineConfig, RetrievalConfig
from rag.embed import DEFAULT_THREADS
from rag.model import DEFAULT_MODEL_NAME


class Settings(BaseSettings):
    """Every knob in one place. Env vars: ``RAG_INDEX_DIR``, ``RAG_EMBED_MODEL`` …"""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Path("index")
    corpus_dir: Path | None = Path("corpus")
    embed_model: str = DEFAULT_MODEL_NAME
    model_cache: Path = Field(default_factory=lambda: Path(user_cache_dir("rag-zh")) / "models")
    chunk_size: int = 240
    chunk_overlap: int = 60
    fusion: str = "score"  # RAG_FUSION: score (fitted, rag.fusion) | rrf (rank fusion)
    dense_weight: float = 0.3
    bm25_weight: float = 1.0
    rrf_k: int = 10
    figure_weight: float = 0.5
    top_k: int = 5
    ann: str = "flat"
    store: str = "faiss"  # RAG_STORE: faiss | milvus-lite:PATH.db | http://HOST:PORT
    max_query_chars: int = 500
    auto_index: bool = True
    threads: int | None = None  # encoder threads (RAG_THREADS); None: the measured default
    embed_backend: str = "openvino"  # or "torch" (RAG_EMBED_BACKEND)
    evidence_model: Path | None = None
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    # server (``rag serve``)
    host: str = "127.0.0.1"
    port: int = 8000
    admin_key: str | None = None  # required for writes (POST/DELETE /documents)
    read_key: str | None = None  # when set, reads need it too
    cors_origins: list[str] = []
    max_body_bytes: int = 4 * 1024 * 1024
    max_upload_bytes: int = 2 * 1024 * 1024

    @field_validator("store")
    @classmethod
    def _store_kind(cls, v: str) -> str:
        from rag.errors import ConfigError
        from rag.store import check_spec

        try:
            return check_spec(v.strip())
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            index_dir=self.index_dir,
            corpus_dir=self.corpus_dir,
            model=self.embed_model,
            model_cache=self.model_cache,
            chunking=ChunkConfig(size=self.chunk_size, overlap=self.chunk_overlap),
            retrieval=RetrievalConfig(
                fusion=self.fusion,
                dense_weight=self.dense_weight,
                bm25_weight=self.bm25_weight,
                rrf_k=self.rrf_k,
                figure_weight=self.figure_weight,
                top_k=self.top_k,
            ),
            ann=self.ann,
            store=self.store,
            max_query_chars=self.max_query_chars,
            auto_index=self.auto_index,
            max_upload_bytes=self.max_upload_bytes,
            evidence_model=self.evidence_model,
            min_confidence=self.min_confidence,
            embed_backend=self.embed_backend,
            embed_threads=self.threads or DEFAULT_THREADS,
        )


def prepare_runtime(settings: Settings) -> None:
    """Process-wide switches, set once at start-up: models load from disk only. (The encoder
    thread count travels in the engine config: setting it here would import torch in
    commands that need no model.)"""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
