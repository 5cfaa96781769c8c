"""Index updates over append-only segments: which documents a run adds, replaces, keeps or
removes (decided document by document as the façade reads them), writing the new and changed
ones as one new segment with a version that lists the live rows, and compaction.

A run's cost is that of its own new documents: documents that did not change keep their rows
where they are (nothing of them is read, copied or encoded again), a removed or replaced
document just loses its run of rows in the next version. Compaction rewrites the live rows
into one segment (when segments pile up or dead rows outnumber live ones, when the figure
store's code changed, or on request); it encodes nothing and is crash-safe like any write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag import figstore, index
from rag.chunk import ChunkConfig, chunk_document
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing, NotFound
from rag.ingest import ParsedDocument
from rag.retrieve import passage_index_text, passage_tokens
from rag.store import VectorStore, as_store
from rag.types import DocumentInfo, FigureFact, Passage, count_figures

MAX_SEGMENTS = 12
"""More live segments than this after a write, and the write compacts them into one."""

Progress = Callable[[str, int, int], None]
"""An indexing progress callback: (stage, done, total), stage one of PROGRESS_STAGES."""
PROGRESS_STAGES = ("parsing", "chunking", "encoding", "writing")


@dataclass(frozen=True)
class Identity:
    """What every version of an index shares: the model, chunking and figure-store code."""

    model: str
    model_fingerprint: str
    dim: int
    chunking: dict[str, Any]
    chunk_digest: str
    ann: str
    figure_digest: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Outcome:
    """What :meth:`Update.commit` did."""

    version: str | None
    changed: bool
    documents: list[DocumentInfo]
    passages: int
    figures: int
    embedded: int
    reused: int
    segments: int
    compacted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class _New:
    info: DocumentInfo
    passages: list[Passage]
    tokens: list[list[str]] = field(default_factory=list)
    figures: list[tuple[FigureFact, ...]] = field(default_factory=list)
    vectors: np.ndarray | None = None


Prepared = tuple[list[Passage], list[list[str]], list[tuple[FigureFact, ...]]]


def prepare(doc: ParsedDocument, chunking: ChunkConfig, date: str | None) -> Prepared:
    """A document's passages with their BM25 tokens and figures: the CPU work of indexing
    it apart from encoding, which the façade runs in worker processes for many documents."""
    passages = chunk_document(doc, chunking, date=date)
    return passages, [passage_tokens(p) for p in passages], [figstore.annotate(p) for p in passages]


class Update:
    """One run's changes to the index under ``root``. Open it with the write lock held.

    The live version is checked (every file against its manifest); when it is unusable
    (damaged, another model or format) the run rebuilds from scratch and ``reason`` says why.
    """

    def __init__(self, root: Path | VectorStore, ident: Identity) -> None:
        self.store = store = as_store(root)
        self.ident = ident
        try:
            live = store.current_version()
        except IndexCorrupt:
            live = None  # a damaged CURRENT pointer: rebuilt like any damage
        store.remove_leftovers(keep={live} if live else set())
        self.live = live
        self.reason: str | None = None
        self.manifest: index.Manifest | None = None
        docs: list[DocumentInfo] = []
        try:
            self.manifest, docs = store.open_version(
                model_fingerprint=ident.model_fingerprint, dim=ident.dim)
        except IndexMissing:
            pass
        except (IndexCorrupt, IndexMismatch) as exc:
            self.reason = str(exc)
        self.old = {d.source: d for d in docs}
        self._runs = {r["source"]: r for r in self.manifest.runs} if self.manifest else {}
        self.refigure = self.manifest is not None and self.manifest.figure_digest != ident.figure_digest
        self._new: list[_New] = []
        self._kept: dict[str, DocumentInfo] = {}
        self._seen_ids: set[str] = set()
        self._seen_sources: set[str] = set()
        self.added: list[str] = []
        self.updated: list[str] = []
        self.removed: list[str] = []

    # -- deciding, document by document ------------------------------------------------

    def removal(self, names: Sequence[str]) -> set[str]:
        """The sources that ``names`` (sources or document ids) denote; NotFound when one
        of them is not indexed."""
        wanted = set(names)
        hit = {d.source for d in self.old.values() if d.source in wanted or d.doc_id in wanted}
        missing = wanted - hit - {d.doc_id for d in self.old.values() if d.source in hit}
        if missing:
            raise NotFound(f"not in the index: {', '.join(sorted(missing))}")
        return hit

    def offer(self, info: DocumentInfo) -> str:
        """``duplicate`` (the same content came earlier in this run: skip it), ``unchanged``
        (kept as it is indexed) or ``new`` (chunk it and :meth:`put` its passages)."""
        if info.doc_id in self._seen_ids:
            return "duplicate"
        self._seen_ids.add(info.doc_id)
        self._seen_sources.add(info.source)
        old = self.old.get(info.source)
        if (old is not None and old.doc_id == info.doc_id and old.chunk_digest == info.chunk_digest
                and (old.title, old.date, old.type) == (info.title, info.date, info.type)):
            self._kept[info.source] = old
            return "unchanged"
        return "new"

    def put(self, info: DocumentInfo, passages: list[Passage], *,
            prepared: Prepared | None = None, vectors: np.ndarray | None = None) -> None:
        """A new or changed document's passages, with their tokens and figures when
        ``prepared`` (by :func:`prepare`, else made here) and vectors when already encoded."""
        _, tokens, figures = prepared or (passages, [passage_tokens(p) for p in passages],
                                          [figstore.annotate(p) for p in passages])
        self._new.append(_New(info, passages, tokens, figures, vectors))
        (self.updated if info.source in self.old else self.added).append(info.source)

    def finish(self, *, failed: set[str], prune: bool = False,
               remove: set[str] | None = None) -> None:
        """Decide the indexed documents this run did not see: kept, unless removed by name,
        pruned (not found now, and not because their file failed to read), or now indexed
        under another name."""
        for source, old in self.old.items():
            if source in self._seen_sources:
                continue
            drop = (remove is not None and source in remove) or (prune and source not in failed)
            if drop or old.doc_id in self._seen_ids:
                self.removed.append(source)
            else:
                self._kept[source] = old
        self.removed.sort()

    @property
    def changed(self) -> bool:
        return self.manifest is None or bool(self._new or self.removed or self.refigure)

    def texts(self) -> list[str]:
        """What gets embedded, for every new passage not encoded yet, in the order commit
        expects their vectors."""
        return [passage_index_text(p) for n in self._sorted_new() if n.vectors is None
                for p in n.passages]

    # -- writing ----------------------------------------------------------------------

    def commit(self, vectors: np.ndarray, *, progress: Progress | None = None) -> Outcome:
        """Write the new documents (``vectors`` in the order of :meth:`texts`) as a new
        segment and a version of every live document, compacting when due."""
        report = progress or _no_progress
        kept = sorted(self._kept.values(), key=lambda d: d.source)
        reused = sum(d.passages for d in kept)
        new = self._sorted_new()
        vectors = _assemble(new, vectors, self.ident.dim)
        if not self.changed:
            assert self.manifest is not None
            return Outcome(self.manifest.version, False, kept, reused, self.manifest.figures,
                           0, reused, len(self.manifest.segments))
        report("writing", 0, 1)
        if self.manifest is None or self.refigure:
            manifest, docs = _rewrite(self.store, self.ident, self.live if self.manifest else None,
                                      kept, new, vectors)
        else:
            manifest, docs = self._append(kept, new, vectors)
        previous = {self.live} if self.live else set()
        compacted = False
        if len(manifest.segments) > MAX_SEGMENTS or manifest.dead > manifest.passages:
            self.store.remove_leftovers(keep={f"v-{manifest.version}"} | previous)
            previous = {f"v-{manifest.version}"}
            manifest, docs = _rewrite(self.store, self.ident, f"v-{manifest.version}", docs, [],
                                      np.zeros((0, self.ident.dim), dtype=np.float32))
            compacted = True
        self.store.remove_leftovers(keep={f"v-{manifest.version}"} | previous)
        report("writing", 1, 1)
        return Outcome(manifest.version, True, docs, manifest.passages, manifest.figures,
                       len(vectors), reused, len(manifest.segments), compacted)

    def _sorted_new(self) -> list[_New]:
        return sorted(self._new, key=lambda n: n.info.source)

    def _append(self, kept: list[DocumentInfo], new: list[_New], vectors: np.ndarray
                ) -> tuple[index.Manifest, list[DocumentInfo]]:
        """The live segments that still hold a kept document, plus one new segment."""
        assert self.manifest is not None
        old_segments = self.manifest.segments
        placed = [d for d in kept if d.source in self._runs]
        used = sorted({self._runs[d.source]["segment"] for d in placed})
        segments = [old_segments[i] for i in used]
        where = {old: i for i, old in enumerate(used)}
        runs: dict[str, dict[str, Any]] = {
            d.source: {**self._runs[d.source], "segment": where[self._runs[d.source]["segment"]]}
            for d in placed}
        docs = {d.source: d for d in kept}
        if new:
            rows = [p for n in new for p in n.passages]
            segments.append(self.store.write_segment(
                passages=rows, tokens=[t for n in new for t in n.tokens],
                vectors=vectors, figures=[f for n in new for f in n.figures],
                dim=self.ident.dim, ann=self.ident.ann))
            start = 0
            for n in new:
                end = start + len(n.passages)
                if n.passages:
                    runs[n.info.source] = {"segment": len(segments) - 1, "start": start,
                                           "end": end, "source": n.info.source}
                docs[n.info.source] = replace(n.info, passages=len(n.passages),
                                              figures=count_figures(n.passages, n.figures))
                start = end
        order = sorted(docs)
        listed = [docs[s] for s in order]
        return self.store.write_version(
            segments=segments, runs=[runs[s] for s in order if s in runs],
            documents=listed, figures=sum(d.figures for d in listed),
            **_version_args(self.ident)), listed


def _assemble(new: list[_New], vectors: np.ndarray, dim: int) -> np.ndarray:
    """Vectors of every new passage in commit order: each document's own where it was
    encoded already, else the next rows of ``vectors``."""
    if all(n.vectors is None for n in new):
        return vectors
    parts: list[np.ndarray] = []
    at = 0
    for n in new:
        if n.vectors is not None:
            parts.append(n.vectors)
        else:
            parts.append(vectors[at:at + len(n.passages)])
            at += len(n.passages)
    return np.vstack(parts).astype(np.float32) if parts else np.zeros((0, dim), np.float32)


def compact(root: Path | VectorStore, ident: Identity) -> Outcome:
    """Rewrite the live rows of the current version into one segment (no encoding). Call
    with the write lock held; the index must be loadable."""
    store = as_store(root)
    manifest, docs = store.open_version(model_fingerprint=ident.model_fingerprint,
                                        dim=ident.dim)
    live = f"v-{manifest.version}"
    out, listed = _rewrite(store, ident, live, docs, [], np.zeros((0, ident.dim), dtype=np.float32))
    store.remove_leftovers(keep={f"v-{out.version}", live})
    return Outcome(out.version, True, listed, out.passages, out.figures, 0, out.passages,
                   len(out.segments), True)


def _rewrite(store: VectorStore, ident: Identity, live: str | None, kept: list[DocumentInfo],
             new: list[_New], vectors: np.ndarray) -> tuple[index.Manifest, list[DocumentInfo]]:
    """One segment of the kept documents' live rows (read from version ``live``; figures and
    BM25 tokens made again when the figure store's code changed) and the new documents, and a
    version."""
    rows: dict[str, tuple[list[Passage], list[list[str]], np.ndarray, list[tuple[FigureFact, ...]]]] = {}
    if kept:
        assert live is not None
        snap = store.load_snapshot(model_fingerprint=ident.model_fingerprint,
                                   dim=ident.dim, name=live)
        fresh = snap.manifest.figure_digest != ident.figure_digest
        all_vectors = snap.dense.reconstruct_n(0, snap.dense.ntotal) if len(snap.passages) else None
        at = 0
        wanted = {d.source for d in kept}
        for run in snap.manifest.runs:
            a, b = at, at + run["end"] - run["start"]
            at = b
            if run["source"] in wanted:
                ps = snap.passages[a:b]
                assert all_vectors is not None
                # the figure store's digest covers the text normaliser too: BM25 tokens are
                # made again with the figures (no re-embedding)
                rows[run["source"]] = (ps, [passage_tokens(p) for p in ps] if fresh
                                       else snap.tokens[a:b], all_vectors[a:b],
                                       [figstore.annotate(p) for p in ps] if fresh
                                       else snap.figures[a:b])
    at = 0
    for n in new:
        rows[n.info.source] = (n.passages, n.tokens, vectors[at:at + len(n.passages)], n.figures)
        at += len(n.passages)
    docs = {d.source: d for d in kept} | {n.info.source: n.info for n in new}
    order = sorted(docs)
    runs: list[dict[str, Any]] = []
    start = 0
    for s in order:
        ps, _, _, figs = rows.get(s, ([], [], None, []))
        docs[s] = replace(docs[s], passages=len(ps), figures=count_figures(ps, figs))
        if ps:
            runs.append({"segment": 0, "start": start, "end": start + len(ps), "source": s})
            start += len(ps)
    present = [s for s in order if rows.get(s, ([],))[0]]
    segments = []
    if present:
        segments.append(store.write_segment(
            passages=[p for s in present for p in rows[s][0]],
            tokens=[t for s in present for t in rows[s][1]],
            vectors=np.vstack([rows[s][2] for s in present]).astype(np.float32),
            figures=[f for s in present for f in rows[s][3]], dim=ident.dim, ann=ident.ann))
    listed = [docs[s] for s in order]
    return store.write_version(
        segments=segments, runs=runs, documents=listed,
        figures=sum(d.figures for d in listed), **_version_args(ident)), listed


def _version_args(ident: Identity) -> dict[str, Any]:
    return {"model": ident.model, "model_fingerprint": ident.model_fingerprint,
            "dim": ident.dim, "chunking": ident.chunking, "chunk_digest": ident.chunk_digest,
            "ann": ident.ann, "figure_digest": ident.figure_digest}


def _no_progress(stage: str, done: int, total: int) -> None:
    return None
