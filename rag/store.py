"""The vector store behind the index: one interface (:class:`VectorStore`), two stores.

- :class:`FaissStore` (default, ``RAG_STORE=faiss``): the embedded files of :mod:`rag.index`
  (FAISS vectors, BM25 postings, passages and figures in immutable segments; a version is
  a manifest, ``CURRENT`` names the live one).
- :class:`rag.store_milvus.MilvusStore` (``RAG_STORE=milvus-lite:PATH.db`` embedded, or
  ``http://HOST:PORT`` for Milvus Standalone or a cluster): the same segments and versions
  as rows of two Milvus collections, with a pointer row as the switch.

Both hold the same things in the same order and give the same :class:`rag.index.Snapshot`
(passages, BM25 over our own jieba tokens, figures; dense search in the store), so retrieval
and fusion (rag.retrieve) rank identically whichever store is configured. The update logic
(what a run adds, keeps, replaces; compaction) is the store-independent :mod:`rag.segments`.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rag import index
from rag.errors import ConfigError
from rag.index import Manifest, Snapshot
from rag.types import DocumentInfo, FigureFact, Passage, count_figures

STORE_KINDS = ("faiss", "milvus-lite:PATH.db", "http://HOST:PORT")


@runtime_checkable
class VectorStore(Protocol):
    """Where index segments and versions live. Writers hold :meth:`write_lock`; readers
    load a :class:`Snapshot` of one version and keep using it while writers go on."""

    @property
    def label(self) -> str:
        """Where the index lives, for messages."""
        ...

    def write_lock(self) -> AbstractContextManager[None]:
        """Serialise writers on this index."""
        ...

    def current_version(self) -> str | None:
        """The live version's name (``v-…``), None when no index was built here."""
        ...

    def read_manifest(self, name: str) -> Manifest:
        """The named version's manifest (no checks of its rows)."""
        ...

    def open_version(self, *, model_fingerprint: str | None = None, dim: int | None = None,
                     name: str | None = None) -> tuple[Manifest, list[DocumentInfo]]:
        """The current (or named) version's manifest and documents, checked."""
        ...

    def load_snapshot(self, *, model_fingerprint: str | None = None, dim: int | None = None,
                      name: str | None = None) -> Snapshot:
        """The current (or named) version loaded for search."""
        ...

    def write_segment(self, *, passages: list[Passage], tokens: list[list[str]],
                      vectors: np.ndarray, figures: list[tuple[FigureFact, ...]], dim: int,
                      ann: str) -> dict[str, Any]:
        """Write an immutable segment, invisible until a version lists it."""
        ...

    def write_version(self, *, segments: list[dict[str, Any]], runs: list[dict[str, Any]],
                      documents: list[DocumentInfo], figures: int, model: str,
                      model_fingerprint: str, dim: int, chunking: dict[str, Any],
                      chunk_digest: str, ann: str, figure_digest: str) -> Manifest:
        """Write a version listing ``segments`` and make it current (the switch)."""
        ...

    def remove_leftovers(self, keep: set[str]) -> None:
        """Drop crashed writes, versions not in ``keep`` and segments none of them lists."""
        ...


class FaissStore:
    """The embedded store: the folder layout of :mod:`rag.index`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def label(self) -> str:
        return str(self.root)

    def write_lock(self) -> AbstractContextManager[None]:
        return index.write_lock(self.root)

    def current_version(self) -> str | None:
        return index.current_version(self.root) if self.root.is_dir() else None

    def read_manifest(self, name: str) -> Manifest:
        return index.read_manifest(self.root / name)

    def open_version(self, *, model_fingerprint: str | None = None, dim: int | None = None,
                     name: str | None = None) -> tuple[Manifest, list[DocumentInfo]]:
        _, manifest, docs = index.open_version(self.root, model_fingerprint=model_fingerprint,
                                               dim=dim, name=name)
        return manifest, docs

    def load_snapshot(self, *, model_fingerprint: str | None = None, dim: int | None = None,
                      name: str | None = None) -> Snapshot:
        return index.load_snapshot(self.root, model_fingerprint=model_fingerprint, dim=dim,
                                   name=name)

    def write_segment(self, *, passages: list[Passage], tokens: list[list[str]],
                      vectors: np.ndarray, figures: list[tuple[FigureFact, ...]], dim: int,
                      ann: str) -> dict[str, Any]:
        return index.write_segment(self.root, passages=passages, tokens=tokens,
                                   vectors=vectors, figures=figures, dim=dim, ann=ann)

    def write_version(self, *, segments: list[dict[str, Any]], runs: list[dict[str, Any]],
                      documents: list[DocumentInfo], figures: int, model: str,
                      model_fingerprint: str, dim: int, chunking: dict[str, Any],
                      chunk_digest: str, ann: str, figure_digest: str) -> Manifest:
        return index.write_version(
            self.root, segments=segments, runs=runs, documents=documents, figures=figures,
            model=model, model_fingerprint=model_fingerprint, dim=dim, chunking=chunking,
            chunk_digest=chunk_digest, ann=ann, figure_digest=figure_digest)

    def remove_leftovers(self, keep: set[str]) -> None:
        index.remove_leftovers(self.root, keep)


_NAME_PART = re.compile(r"[^0-9A-Za-z_]")


def collection_name(index_dir: Path) -> str:
    """The Milvus collection prefix of an index folder: ``rag_`` and its folder name, so
    that the default ``index`` is ``rag_index`` on every machine pointed at one server."""
    return ("rag_" + _NAME_PART.sub("_", index_dir.name or "index"))[:60]


def check_spec(spec: str) -> str:
    """``spec`` if it names a store kind, else ConfigError (read at start-up)."""
    if spec == "faiss" or spec.startswith(("http://", "https://", "tcp://")):
        return spec
    if spec.startswith("milvus-lite:"):
        path = spec[len("milvus-lite:"):]
        if not path.endswith(".db") or len(path) <= 3:
            raise ConfigError(f"RAG_STORE={spec!r}: the Milvus Lite path must end with .db "
                              "(it is a folder Milvus Lite creates)")
        return spec
    raise ConfigError(f"RAG_STORE={spec!r}: not one of {', '.join(STORE_KINDS)}")


def open_store(spec: str, index_dir: Path) -> VectorStore:
    """The store ``spec`` names (see :data:`STORE_KINDS`). A Milvus store keeps its write
    lock in ``index_dir`` and names its collections after it (:func:`collection_name`);
    nothing connects until the first read or write."""
    check_spec(spec)
    if spec == "faiss":
        return FaissStore(index_dir)
    from rag.store_milvus import MilvusStore

    uri = spec
    if spec.startswith("milvus-lite:"):
        uri = str(Path(spec[len("milvus-lite:"):]).expanduser().absolute())
    return MilvusStore(uri, collection_name(index_dir), lock_dir=index_dir)


def write_snapshot(st: VectorStore, *, passages: list[Passage], tokens: list[list[str]],
                   vectors: np.ndarray, documents: list[DocumentInfo], model: str,
                   model_fingerprint: str, dim: int, chunking: dict[str, Any],
                   chunk_digest: str, ann: str,
                   figures: list[tuple[FigureFact, ...]] | None = None,
                   figure_digest: str = "") -> Snapshot:
    """Write the given rows as one segment and a version holding exactly them, make it
    current and return it loaded (:func:`rag.index.write_snapshot` for any store). Call with
    the write lock held."""
    if isinstance(st, FaissStore):
        return index.write_snapshot(
            st.root, passages=passages, tokens=tokens, vectors=vectors, documents=documents,
            model=model, model_fingerprint=model_fingerprint, dim=dim, chunking=chunking,
            chunk_digest=chunk_digest, ann=ann, figures=figures, figure_digest=figure_digest)
    figures = figures if figures is not None else [() for _ in passages]
    if len(figures) != len(passages):
        raise ValueError("figures must be given for every passage")
    segments = []
    runs: list[dict[str, Any]] = []
    if passages:
        segments.append(st.write_segment(passages=passages, tokens=tokens, vectors=vectors,
                                         figures=figures, dim=dim, ann=ann))
        runs = [{"segment": 0, "start": 0, "end": len(passages), "source": None}]
    manifest = st.write_version(
        segments=segments, runs=runs, documents=documents,
        figures=count_figures(passages, figures), model=model, model_fingerprint=model_fingerprint,
        dim=dim, chunking=chunking, chunk_digest=chunk_digest, ann=ann,
        figure_digest=figure_digest)
    return st.load_snapshot(model_fingerprint=model_fingerprint, dim=dim,
                            name=f"v-{manifest.version}")


def as_store(where: Path | VectorStore) -> VectorStore:
    """A store for a folder (the FAISS store) or the store itself."""
    return FaissStore(where) if isinstance(where, Path) else where
