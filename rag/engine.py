"""The façade: one object, built once, that the CLI, the server and the evaluation call."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag import index as store
from rag.answer import compose
from rag.chunk import chunk_document
from rag.config import EngineConfig
from rag.embed import Embedder, SentenceTransformerEmbedder
from rag.errors import (
    DocumentRejected,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    NotFound,
    QueryRejected,
    RagError,
)
from rag.ingest import SUPPORTED_SUFFIXES, decode_source, discover, parse_text, read_source
from rag.model import resolve_model
from rag.question import analyse, rewrite
from rag.retrieve import MODES, Filters, passage_index_text, passage_tokens
from rag.retrieve import search as hybrid_search
from rag.types import Answer, DocumentInfo, FigureRow, Hit, Passage, figure_table

UPLOADS = "uploads"


@dataclass(frozen=True)
class IndexReport:
    """What a call to :meth:`Engine.index` did."""

    version: str | None
    changed: bool
    documents: int
    passages: int
    embedded: int
    reused: int
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: int
    seconds: float
    rebuilt_from_scratch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine:
    """Indexes a corpus and answers queries over the live index version."""

    def __init__(self, config: EngineConfig, *, embedder: Embedder | None = None) -> None:
        self.config = config
        self._embedder = embedder
        self._snap: store.Snapshot | None = None
        self._model_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._checked = 0.0
        self._figure_rows: dict[str, list[FigureRow]] = {}

    # -- components -----------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded (and converted if needed) on first use."""
        if self._embedder is None:
            with self._model_lock:
                if self._embedder is None:
                    path = resolve_model(self.config.model, self.config.model_cache)
                    self._embedder = SentenceTransformerEmbedder(
                        path, name=self.config.model, batch_size=self.config.embed_batch_size
                    )
        return self._embedder

    def snapshot(self) -> store.Snapshot:
        """The live index version; built on first use when a corpus folder is configured,
        and reloaded when another process has switched the index to a new version."""
        snap = self._snap
        if snap is not None and time.monotonic() - self._checked < 1.0:
            return snap
        with self._load_lock:
            snap = self._snap
            root = self.config.index_dir
            self._checked = time.monotonic()
            live = store.current_version(root)
            if snap is not None and live == snap.root.name:
                return snap
            if live is None and self.config.auto_index and self.config.corpus_dir is not None:
                self.index()
                assert self._snap is not None
                return self._snap
            emb = self.embedder
            snap = store.load_snapshot(root, model_fingerprint=emb.fingerprint, dim=emb.dim)
            self._snap = snap
            return snap

    # -- indexing -------------------------------------------------------------------------

    def index(self, paths: list[Path] | None = None, *, progress: bool = False) -> IndexReport:
        """Make the index mirror the given files and folders (default: the corpus folder).

        Only new or changed documents are embedded (content hash + chunking digest + model);
        documents no longer present are dropped. Nothing is written when nothing changed.
        """
        t0 = time.perf_counter()
        roots = paths if paths else ([self.config.corpus_dir] if self.config.corpus_dir else [])
        if not roots:
            raise RagError("nothing to index: give files or folders, or configure a corpus folder")
        files = discover([Path(p) for p in roots])
        emb = self.embedder
        cfg = self.config
        digest = cfg.chunking.digest()
        root = cfg.index_dir
        with store.write_lock(root):
            try:
                live = store.current_version(root) if root.is_dir() else None
            except IndexCorrupt:
                live = None  # a damaged CURRENT pointer: rebuilt below like any damage
            store.remove_leftovers(root, keep={live} if live else set())
            prev: store.Snapshot | None = None
            reason: str | None = None
            try:
                prev = store.load_snapshot(root, model_fingerprint=emb.fingerprint, dim=emb.dim)
            except IndexMissing:
                prev = None
            except (IndexCorrupt, IndexMismatch) as exc:
                reason = str(exc)
            old_rows: dict[tuple[str, str], list[int]] = {}
            old_docs: dict[tuple[str, str], DocumentInfo] = {}
            if prev is not None:
                for row, p in enumerate(prev.passages):
                    old_rows.setdefault((p.doc_id, p.source), []).append(row)
                for d in prev.documents:
                    if d.chunk_digest == digest:
                        old_docs[(d.doc_id, d.source)] = d

            passages: list[Passage] = []
            tokens: list[list[str]] = []
            reuse_rows: list[int] = []
            new_at: list[int] = []
            documents: list[DocumentInfo] = []
            added: list[str] = []
            updated: list[str] = []
            seen: set[str] = set()
            sources_before = {d.source for d in (prev.documents if prev else [])}
            for f in files:
                source = _source_name(f, [Path(p) for p in roots])
                text, content_hash = read_source(f)
                doc_id = content_hash[:16]
                if doc_id in seen:
                    continue  # identical content under another name: index it once
                seen.add(doc_id)
                key = (doc_id, source)
                if key in old_docs and prev is not None:
                    rows = old_rows.get(key, [])
                    for r in rows:
                        passages.append(prev.passages[r])
                        tokens.append(prev.tokens[r])
                        reuse_rows.append(r)
                    documents.append(old_docs[key])
                    continue
                doc = parse_text(text, source=source, content_hash=content_hash)
                doc_passages = chunk_document(doc, cfg.chunking)
                for p in doc_passages:
                    new_at.append(len(passages))
                    passages.append(p)
                    tokens.append(passage_tokens(p))
                (updated if source in sources_before else added).append(source)
                documents.append(
                    DocumentInfo(
                        doc_id=doc_id,
                        source=source,
                        title=doc.title,
                        content_hash=content_hash,
                        chunk_digest=digest,
                        passages=len(doc_passages),
                        chars=len(text),
                        articles=[a.title for a in doc.articles],
                    )
                )
            kept = {d.source for d in documents}
            removed = sorted(sources_before - kept)
            if prev is not None and not new_at and not removed and len(documents) == len(
                prev.documents
            ):
                self._snap = prev
                return IndexReport(prev.version, False, len(documents), len(passages), 0,
                                   len(reuse_rows), [], [], [], len(documents),
                                   time.perf_counter() - t0)
            import numpy as np

            vectors = np.zeros((len(passages), emb.dim), dtype=np.float32)
            if prev is not None and reuse_rows:
                fresh = set(new_at)
                reused_at = [i for i in range(len(passages)) if i not in fresh]
                vectors[reused_at] = prev.vectors(reuse_rows)
            if new_at:
                texts = [passage_index_text(passages[i]) for i in new_at]
                vectors[new_at] = emb.encode_passages(texts, progress=progress)
            snap = store.write_snapshot(
                root,
                passages=passages,
                tokens=tokens,
                vectors=vectors,
                documents=documents,
                model=cfg.model,
                model_fingerprint=emb.fingerprint,
                dim=emb.dim,
                chunking=asdict(cfg.chunking),
                chunk_digest=digest,
                ann=cfg.ann,
            )
            self._snap = snap
            self._checked = time.monotonic()
            store.remove_leftovers(root, keep={snap.root.name} | ({live} if live else set()))
            return IndexReport(
                snap.version, True, len(documents), len(passages), len(new_at), len(reuse_rows),
                added, updated, removed, len(documents) - len(added) - len(updated),
                time.perf_counter() - t0, reason,
            )

    # -- queries --------------------------------------------------------------------------

    def check_query(self, query: str) -> str:
        """The query stripped, or QueryRejected when it is empty or too long."""
        if not isinstance(query, str) or not query.strip():
            raise QueryRejected("the query is empty")
        q = query.strip()
        if len(q) > self.config.max_query_chars:
            raise QueryRejected(
                f"the query is {len(q)} characters long; the limit is "
                f"{self.config.max_query_chars}"
            )
        return q

    def search(self, query: str, *, k: int | None = None, filters: Filters | None = None,
               mode: str = "hybrid", snapshot: store.Snapshot | None = None) -> list[Hit]:
        """The k best passages for a query, best first. ``snapshot`` pins the index version
        (a server reads it once per request and reports it)."""
        q = self.check_query(query)
        r = self.config.retrieval
        k = r.top_k if k is None else k
        if not 1 <= k <= r.max_k:
            raise QueryRejected(f"k must be between 1 and {r.max_k}, got {k}")
        if mode not in MODES:
            raise QueryRejected(f"mode must be one of {', '.join(MODES)}")
        snap = snapshot or self.snapshot()
        return hybrid_search(snap, self.embedder, q, k=k, cfg=r, filters=filters, mode=mode)

    def ask(self, question: str, *, history: Sequence[str] | None = None,
            k: int | None = None, filters: Filters | None = None,
            snapshot: store.Snapshot | None = None) -> Answer:
        """Answer a question, with earlier user turns (oldest first) for follow-ups;
        ``snapshot`` pins the index version as in :meth:`search`."""
        q_text = self.check_query(question)
        previous: str | None = None
        for turn in history or []:
            if isinstance(turn, str) and turn.strip():
                turn = turn.strip()[: self.config.max_query_chars]
                previous = rewrite(turn, previous) or turn
        rewritten = rewrite(q_text, previous)
        q = analyse(rewritten or q_text)
        k_eff = self.config.retrieval.top_k * 2 if k is None else k
        if not 1 <= k_eff <= self.config.retrieval.max_k:
            raise QueryRejected(f"k must be between 1 and {self.config.retrieval.max_k}")
        snap = snapshot or self.snapshot()

        def search(query: str, n: int) -> list[Hit]:
            n = min(n, self.config.retrieval.max_k)
            return hybrid_search(snap, self.embedder, query, k=n, cfg=self.config.retrieval,
                                 filters=filters)

        return compose(q, q_text, rewritten, search, k=k_eff)

    def figures(self, *, subject: str | None = None, kind: str | None = None) -> list[FigureRow]:
        """Every figure of the corpus (one row per figure and section), optionally filtered
        by subject (substring of subject, section or title) and kind."""
        snap = self.snapshot()
        rows = self._figure_rows.get(snap.version)
        if rows is None:
            rows = figure_table(snap.passages)
            self._figure_rows = {snap.version: rows}
        out = rows
        if subject:
            out = [r for r in out if subject in (r.subject or "") or subject in (r.section or "")
                   or subject in r.title]
        if kind:
            out = [r for r in out if r.kind == kind]
        return out

    def info(self) -> dict[str, Any]:
        """Index facts from the manifest; does not load the model."""
        root = self.config.index_dir
        live = store.current_version(root) if root.is_dir() else None
        out: dict[str, Any] = {"index_dir": str(root), "model": self.config.model,
                               "version": None}
        if live is None:
            return out
        snap = self._snap if self._snap and self._snap.root.name == live else None
        manifest = snap.manifest if snap else store.read_manifest(root / live)
        out.update(
            version=manifest.version,
            created=manifest.created,
            passages=manifest.passages,
            documents=manifest.documents,
            model=manifest.model,
            dim=manifest.dim,
            chunking=manifest.chunking,
            ann=manifest.ann,
        )
        return out

    def documents(self) -> list[DocumentInfo]:
        return list(self.snapshot().documents)

    # -- document management (used by the server) ---------------------------------------

    def add_document(self, filename: str, data: bytes) -> DocumentInfo:
        """Store an uploaded document in the corpus under a server-made name and index it.

        Only the suffix of the client's file name is used; the stored name is the content
        id, so no client-supplied text ever becomes part of a path.
        """
        corpus = self._corpus_dir()
        suffix = Path(filename.replace("\\", "/")).suffix.lower() if filename else ""
        if suffix not in SUPPORTED_SUFFIXES:
            raise DocumentRejected(
                f"unsupported file type {suffix or '(none)'}; "
                f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
            )
        if len(data) > self.config.max_upload_bytes:
            raise DocumentRejected(
                f"document is {len(data)} bytes; the limit is {self.config.max_upload_bytes}"
            )
        text, content_hash = decode_source(data, f"upload{suffix}")
        if not text.strip():
            raise DocumentRejected("document holds no text")
        doc_id = content_hash[:16]
        folder = corpus / UPLOADS
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{doc_id}{suffix}"
        if not target.exists():
            tmp = folder / f".{doc_id}{suffix}.part"
            tmp.write_bytes(data)
            os.replace(tmp, target)
        self.index()
        for d in self.snapshot().documents:
            if d.doc_id == doc_id:
                return d
        raise DocumentRejected("document was stored but produced no passages")

    def delete_document(self, doc_id: str) -> DocumentInfo:
        """Remove a document's file from the corpus folder and drop it from the index."""
        corpus = self._corpus_dir().resolve()
        for d in self.snapshot().documents:
            if d.doc_id == doc_id:
                path = (corpus / d.source).resolve()
                if corpus not in path.parents:
                    raise NotFound(f"document {doc_id} is not stored in the corpus folder")
                path.unlink(missing_ok=True)
                self.index()
                return d
        raise NotFound(f"no document with id {doc_id!r}")

    def _corpus_dir(self) -> Path:
        if self.config.corpus_dir is None:
            raise RagError("no corpus folder is configured")
        return self.config.corpus_dir


def _source_name(path: Path, roots: list[Path]) -> str:
    """A document's source name: its path inside the folder it was found in."""
    for r in roots:
        if r.is_dir():
            try:
                return path.resolve().relative_to(r.resolve()).as_posix()
            except ValueError:
                continue
    return path.name
