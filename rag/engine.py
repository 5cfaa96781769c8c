"""The façade: one object, built once, that the CLI, the server and the evaluation call."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from rag import figstore, segments
from rag import index as store
from rag.answer import compose, refusal
from rag.chunk import chunk_document
from rag.config import EngineConfig
from rag.embed import Embedder, load_embedder
from rag.errors import (
    DocumentRejected,
    IndexMissing,
    NotFound,
    QueryRejected,
    RagError,
)
from rag.evidence import EvidenceModel, load_model
from rag.followup import resolve_turn
from rag.ingest import GIVEN_MARK, SIDECAR_SUFFIX, Skipped, load, scan
from rag.metadata import newest_year
from rag.model import resolve_model
from rag.question import analyse
from rag.retrieve import (
    MODES,
    Filters,
    merge_hits,
    named_documents,
    passage_index_text,
    period_first,
    year_filter,
)
from rag.retrieve import search as hybrid_search
from rag.segments import Progress
from rag.store import VectorStore, open_store
from rag.types import Answer, DocumentInfo, FigureRow, Hit

UPLOADS = "uploads"
ENCODE_BLOCK = 64  # chunks encoded between two progress reports


@dataclass(frozen=True)
class IndexReport:
    """What a call to :meth:`Engine.index` (or :meth:`Engine.remove`) did."""

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
    skipped: list[dict[str, str]] = field(default_factory=list)
    figures: int = 0
    segments: int = 0  # segments of the version written (or kept)
    compacted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine:
    """Indexes a corpus and answers queries over the live index version."""

    def __init__(self, config: EngineConfig, *, embedder: Embedder | None = None) -> None:
        self.config = config
        self._embedder = embedder
        self._snap: store.Snapshot | None = None
        self._plain: store.Snapshot | None = None  # loaded without the model (see stored)
        self._model_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._checked = 0.0
        self._figure_rows: dict[str, list[FigureRow]] = {}
        self._evidence: EvidenceModel | None = None
        # where segments and versions live (RAG_STORE); nothing connects before first use
        self.store: VectorStore = open_store(config.store, config.index_dir)

    # -- components -----------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded (and converted if needed) on first use."""
        if self._embedder is None:
            with self._model_lock:
                if self._embedder is None:
                    path = resolve_model(self.config.model, self.config.model_cache)
                    c = self.config
                    self._embedder = load_embedder(
                        path, backend=c.embed_backend, cache_dir=c.model_cache, name=c.model,
                        batch_size=c.embed_batch_size, threads=c.embed_threads)
        return self._embedder

    def snapshot(self) -> store.Snapshot:
        """The live index version; built on first use when a corpus folder is configured,
        and reloaded when another process has switched the index to a new version."""
        snap = self._snap
        if snap is not None and time.monotonic() - self._checked < 1.0:
            return snap
        with self._load_lock:
            snap = self._snap
            self._checked = time.monotonic()
            live = self.store.current_version()
            if snap is not None and live == snap.root.name:
                return snap
            if live is None and self.config.auto_index and self.config.corpus_dir is not None:
                self.index()  # writes the index; loaded below like any other version
            emb = self.embedder
            snap = self.store.load_snapshot(model_fingerprint=emb.fingerprint, dim=emb.dim)
            self._snap = snap
            return snap

    def stored(self) -> store.Snapshot:
        """The live index version for reads that need no model (figures, documents): loaded
        without the model check, so that ``rag figures`` starts without loading torch. Never
        used for search."""
        snap = self._snap
        live = self.store.current_version()
        if snap is not None and snap.root.name == live:
            return snap
        if live is None:
            if self.config.auto_index and self.config.corpus_dir is not None:
                return self.snapshot()
            raise IndexMissing(f"no index in {self.store.label}; build one with `rag index`")
        plain = self._plain
        if plain is None or plain.root.name != live:
            plain = self.store.load_snapshot()
            self._plain = plain
        return plain

    # -- indexing -------------------------------------------------------------------------

    def index(self, paths: list[Path] | None = None, *, prune: bool = False,
              progress: Progress | None = None) -> IndexReport:
        """Add or update the documents under the given files and folders (default: the
        corpus folder); every other indexed document is kept, unless ``prune``: then the
        index holds exactly the documents found now (a file that could not be read this
        time keeps its indexed version either way: nothing indexed is lost to a bad file).

        Only new or changed documents are embedded (content hash + chunking digest + model).
        A file that cannot be indexed is skipped with its reason in the report. Nothing is
        written when nothing changed. ``progress`` is called with (stage, done, total) as the
        work goes: ``parsing`` and ``chunking`` count files, ``encoding`` chunks, ``writing``
        is 0/1 then 1/1.
        """
        t0 = time.perf_counter()
        roots = paths if paths else ([self.config.corpus_dir] if self.config.corpus_dir else [])
        if not roots:
            raise RagError("nothing to index: give files or folders, or configure a corpus folder")
        root_paths = [Path(p) for p in roots]
        files, skipped = scan(root_paths)
        return self._update(
            [(f, _source_name(f, root_paths)) for f in files], skipped=skipped,
            prune=prune, progress=progress, t0=t0)

    def remove(self, names: Sequence[str]) -> IndexReport:
        """Drop documents from the index by source name or document id; NotFound (and
        nothing changes) when one of them is not indexed."""
        t0 = time.perf_counter()
        return self._update([], remove=list(names), progress=None, t0=t0)

    def compact(self) -> IndexReport:
        """Rewrite the live index into one segment (no encoding): what a write does by
        itself when segments pile up or dead rows outnumber live ones."""
        t0 = time.perf_counter()
        emb = self.embedder
        with self.store.write_lock():
            out = segments.compact(self.store, self._identity(emb))
        self._snap = None
        return IndexReport(out.version, True, len(out.documents), out.passages, 0, out.reused,
                           [], [], [], len(out.documents), time.perf_counter() - t0, None, [],
                           out.figures, out.segments, True)

    def _identity(self, emb: Embedder) -> segments.Identity:
        cfg = self.config
        return segments.Identity(
            model=cfg.model, model_fingerprint=emb.fingerprint, dim=emb.dim,
            chunking=asdict(cfg.chunking), chunk_digest=cfg.chunking.digest(), ann=cfg.ann,
            figure_digest=figstore.store_digest())

    def _update(self, files: list[tuple[Path, str]], *, skipped: list[Skipped] | None = None,
                prune: bool = False, remove: list[str] | None = None,
                progress: Progress | None, t0: float) -> IndexReport:
        """Read the files, let the index layer decide what is new, changed, kept or removed,
        chunk and encode only what is new, and commit it (rag.segments)."""
        emb = self.embedder
        cfg = self.config
        ident = self._identity(emb)
        skipped = list(skipped or [])
        report = progress or _no_progress
        with self.store.write_lock():
            up = segments.Update(self.store, ident)
            removing = up.removal(remove) if remove else None
            to_chunk: list[tuple[Any, DocumentInfo]] = []
            for n_file, (path, source) in enumerate(files, start=1):
                try:
                    loaded = load(path, source=source)
                except DocumentRejected as exc:
                    skipped.append(Skipped(source, _reason(exc, path)))
                    continue
                finally:
                    report("parsing", n_file, len(files))
                doc = loaded.doc
                info = DocumentInfo(
                    doc_id=doc.doc_id, source=source, title=loaded.meta.title,
                    content_hash=doc.content_hash, chunk_digest=ident.chunk_digest, passages=0,
                    chars=len(doc.text), articles=[a.title for a in doc.articles],
                    date=loaded.meta.date, date_source=loaded.meta.date_source,
                    title_source=loaded.meta.title_source, type=loaded.meta.type,
                    encoding=loaded.encoding)
                verdict = up.offer(info)
                if verdict == "duplicate":
                    skipped.append(Skipped(source, "same content as another file of this run"))
                elif verdict == "new":
                    to_chunk.append((loaded, info))
            if len(to_chunk) >= PARALLEL_MIN_DOCS and _workers() > 0:
                _chunk_in_workers(up, to_chunk, cfg, emb, report)
            else:
                for n_doc, (loaded, info) in enumerate(to_chunk, start=1):
                    up.put(info, chunk_document(loaded.doc, cfg.chunking, date=loaded.meta.date))
                    report("chunking", n_doc, len(to_chunk))
            up.finish(failed={s.source for s in skipped}, prune=prune, remove=removing)
            texts = up.texts() if up.changed else []
            out = up.commit(_encode(emb, texts, report) if texts else
                            np.zeros((0, emb.dim), dtype=np.float32), progress=report)
        if out.changed:
            self._snap = None  # loaded again on the next read
            self._checked = 0.0
        return IndexReport(
            out.version, out.changed, len(out.documents), out.passages, out.embedded,
            out.reused, up.added if out.changed else [], up.updated if out.changed else [],
            up.removed if out.changed else [],
            len(out.documents) - len(up.added) - len(up.updated) if out.changed else len(out.documents),
            time.perf_counter() - t0, up.reason, [s.to_dict() for s in skipped], out.figures,
            out.segments, out.compacted)

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
        for d in filters.doc_ids if filters else ():
            _known(snap.documents, d, partial(_names_doc, d))
        return hybrid_search(snap, self.embedder, q, k=k, cfg=r, filters=filters, mode=mode)

    def ask(self, question: str, *, history: Sequence[str] | None = None,
            k: int | None = None, filters: Filters | None = None,
            snapshot: store.Snapshot | None = None, min_confidence: float | None = None,
            explain: int = 0) -> Answer:
        """Answer a question, with earlier user turns (oldest first) for follow-ups;
        ``snapshot`` pins the index version as in :meth:`search`. ``min_confidence``
        overrides the configured refusal threshold (0 answers whenever a figure is found:
        the evaluation does so to draw its risk–coverage curve); ``explain`` lists that
        many scored candidates in the answer's evidence."""
        q_text = self.check_query(question)
        k_eff = self.config.retrieval.top_k * 2 if k is None else k
        if not 1 <= k_eff <= self.config.retrieval.max_k:
            raise QueryRejected(f"k must be between 1 and {self.config.retrieval.max_k}")
        snap = snapshot or self.snapshot()
        now = newest_year(snap.documents)  # 今年/去年 in a question: the newest documents' years
        previous: str | None = None
        for turn in history or []:
            if isinstance(turn, str) and turn.strip():
                turn = turn.strip()[: self.config.max_query_chars]
                previous = resolve_turn(turn, previous, now) or turn
        rewritten = resolve_turn(q_text, previous, now)
        q = analyse(rewritten or q_text)
        named = named_documents(q.text, snap.documents)
        missing = [n.mention for n in named if not n.matches]
        if missing:
            return refusal(q, question, rewritten, "document", missing)
        if named and not (filters and filters.doc_ids):
            # 2014年的政府工作报告提出的…: that report's passages only
            filters = replace(filters or Filters(),
                              doc_ids=tuple(d.doc_id for n in named for d in n.matches))

        def search(query: str, n: int, years: Sequence[str] = ()) -> list[Hit]:
            n = min(n, self.config.retrieval.max_k)
            hits = hybrid_search(snap, self.embedder, query, k=n, cfg=self.config.retrieval,
                                 filters=filters)
            steer = year_filter(years, filters)
            if steer is None:
                return hits
            # a year's targets stand in that year's documents and its results in the next
            # year's: those documents first, then the rest as ranked; but a plan for a later
            # year stands in an earlier report (1985's in 1978's and 1982's, 1981's in the
            # August 1980 one), so the best undated hits keep a third of the places
            dated = period_first(hybrid_search(snap, self.embedder, query, k=n,
                                               cfg=self.config.retrieval, filters=steer), years)
            keep = n - max(1, n // 3)
            return merge_hits(dated[:keep], [*hits, *dated[keep:]], n)

        threshold = self.config.min_confidence if min_confidence is None else min_confidence
        return compose(q, q_text, rewritten, search, k=k_eff, model=self.evidence_model,
                       min_confidence=threshold, explain=max(0, explain))

    @property
    def answer_threshold(self) -> float:
        """The confidence an answer needs: the configured one, else the model's own."""
        t = self.config.min_confidence
        return self.evidence_model.threshold if t is None else t

    @property
    def evidence_model(self) -> EvidenceModel:
        """The evidence model's weights, read once."""
        if self._evidence is None:
            self._evidence = load_model(self.config.evidence_model)
        return self._evidence

    def figures(self, q: figstore.FigureQuery | None = None, *,
                snapshot: store.Snapshot | None = None) -> list[FigureRow]:
        """Rows of the figure store (one per figure and sentence), filtered and sorted."""
        snap = snapshot or self.stored()
        if q is not None and q.doc:
            _known(snap.documents, q.doc, lambda doc: q.names(doc.doc_id, doc.source, doc.title))
        rows = self._figure_rows.get(snap.version)
        if rows is None:
            rows = figstore.table(snap.passages, snap.figures)
            self._figure_rows = {snap.version: rows}
        return figstore.query(rows, q or figstore.FigureQuery())

    def info(self) -> dict[str, Any]:
        """Index facts from the manifest; does not load the model."""
        root = self.config.index_dir
        live = self.store.current_version()
        out: dict[str, Any] = {"index_dir": str(root), "model": self.config.model,
                               "version": None}
        if live is None:
            return out
        snap = self._snap if self._snap and self._snap.root.name == live else None
        manifest = snap.manifest if snap else self.store.read_manifest(live)
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
        return list(self.stored().documents)

    # -- document management (used by the server) ---------------------------------------

    def add_document(self, filename: str, data: bytes, meta: dict[str, str] | None = None, *,
                     progress: Progress | None = None) -> DocumentInfo:
        """Store an uploaded document in the corpus folder under its own (sanitised) file
        name and index it; ``meta`` (title, date, type) is what the uploader says and ranks
        above anything the file says. It is kept in a sidecar beside the file. ``progress``
        is called as in :meth:`index`.

        The stored name keeps only safe characters of the client's name; a different file
        already stored under that name gets a numbered name, never overwritten.
        """
        from rag.formats import check_suffix, extract
        from rag.metadata import clean_meta

        name = safe_name(filename)
        suffix = check_suffix(name)
        if len(data) > self.config.max_upload_bytes:
            raise DocumentRejected(
                f"{name}: document is {len(data)} bytes; the limit is {self.config.max_upload_bytes}"
            )
        given = clean_meta(meta or {}, f"{name}: upload metadata")
        ex = extract(data, name)
        if not ex.text.strip():
            raise DocumentRejected(f"{name}: empty (no text)")
        doc_id = ex.content_hash[:16]
        try:
            for d in self.stored().documents:
                if d.doc_id == doc_id:
                    return d  # the same bytes are indexed already (under some name)
        except IndexMissing:
            pass
        folder = self._corpus_dir() / UPLOADS
        folder.mkdir(parents=True, exist_ok=True)
        target = _free_name(folder, name, data)
        if not target.exists():
            tmp = folder / f".{doc_id}{suffix}.part"
            tmp.write_bytes(data)
            os.replace(tmp, target)
        side = target.with_name(target.name + SIDECAR_SUFFIX)
        if given:
            tmp = folder / f".{doc_id}.meta.part"
            tmp.write_text(json.dumps({**given, GIVEN_MARK: True}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, side)
        source = f"{UPLOADS}/{target.name}"
        report = self._update([(target, source)], progress=progress, t0=time.perf_counter())
        for s in report.skipped:
            if s["source"] == source:
                raise DocumentRejected(f"{name}: {s['reason']}")
        for d in self.snapshot().documents:
            if d.doc_id == doc_id:
                return d
        raise DocumentRejected(f"{name}: stored but produced no passages")

    def delete_document(self, doc_id: str) -> DocumentInfo:
        """Remove a document's file (and sidecar) from the corpus folder and drop it from
        the index."""
        corpus = self._corpus_dir().resolve()
        for d in self.snapshot().documents:
            if d.doc_id == doc_id:
                path = (corpus / d.source).resolve()
                if corpus not in path.parents:
                    raise NotFound(f"document {doc_id} is not stored in the corpus folder")
                self.remove([d.source])
                path.unlink(missing_ok=True)
                path.with_name(path.name + SIDECAR_SUFFIX).unlink(missing_ok=True)
                return d
        raise NotFound(f"no document with id {doc_id!r}")

    def _corpus_dir(self) -> Path:
        if self.config.corpus_dir is None:
            raise RagError("no corpus folder is configured")
        return self.config.corpus_dir

    # -- read-only helpers for the server ---------------------------------------------

    def upload_name(self, filename: str, size: int, meta: dict[str, str] | None = None) -> str:
        """The name an upload would be stored under, or DocumentRejected when its suffix is
        not one we read, it is over the size limit or its metadata is bad (a date that is
        no date): the checks an upload can pass or fail before it is queued. Reads nothing,
        writes nothing."""
        from rag.formats import check_suffix
        from rag.metadata import clean_meta

        name = safe_name(filename)
        check_suffix(name)
        if size > self.config.max_upload_bytes:
            raise DocumentRejected(
                f"{name}: document is {size} bytes; the limit is {self.config.max_upload_bytes}")
        clean_meta(meta or {}, f"{name}: upload metadata")
        return name

    def document_text(self, doc_id: str) -> tuple[DocumentInfo, str]:
        """An indexed document and its full source text: the text its passages' ``start``/
        ``end`` offsets refer to, read again from the corpus folder. NotFound when the id is
        unknown or the file is gone or changed since it was indexed."""
        from rag.formats import read_file

        for d in self.stored().documents:
            if d.doc_id != doc_id:
                continue
            roots = [r for r in (self.config.corpus_dir,) if r is not None]
            for root in roots:
                path = (root / d.source).resolve()
                if root.resolve() in path.parents and path.is_file():
                    ex = read_file(path)
                    if ex.content_hash != d.content_hash:
                        raise NotFound(f"{d.source} has changed since it was indexed; "
                                       "re-index it to view it")
                    return d, ex.text
            raise NotFound(f"the file of document {doc_id} ({d.source}) is not in the corpus "
                           "folder")
        raise NotFound(f"no document with id {doc_id!r}")


def _source_name(path: Path, roots: list[Path]) -> str:
    """A document's source name: its path inside the folder it was found in."""
    for r in roots:
        if r.is_dir():
            try:
                return path.resolve().relative_to(r.resolve()).as_posix()
            except ValueError:
                continue
    return path.name


_UNSAFE = re.compile(r"[^\w\u3400-\u9fff\uf900-\ufaff.\-（）()《》 ]+")


def safe_name(filename: str) -> str:
    """A client's file name made safe to store: the last path part, with characters other
    than letters, digits, CJK, ``.-()（）《》`` and spaces replaced, no leading dots, at most
    120 characters. The suffix is the client's own (``x.txt\u2024`` has none we read)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    suffix = Path(base).suffix.lower() if _SAFE_SUFFIX.fullmatch(Path(base).suffix) else ""
    stem = base[: len(base) - len(suffix)] if suffix else base.replace(".", "_")
    stem = _UNSAFE.sub("_", stem).strip(" ._") or "upload"
    return stem[: 120 - len(suffix)] + suffix


_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")


def _free_name(folder: Path, name: str, data: bytes) -> Path:
    """``name`` in ``folder``, or ``stem-2.ext``… when another file already has that name."""
    target = folder / name
    n = 2
    while target.exists() and target.read_bytes() != data:
        target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    return target


def _reason(exc: DocumentRejected, path: Path) -> str:
    """The reason part of a rejection message (without the leading file name)."""
    msg = str(exc).splitlines()[0] if str(exc) else "cannot be indexed"
    for prefix in (f"{path}: ", f"{path.name}: "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


PARALLEL_MIN_DOCS = 3
"""From this many documents to chunk, chunking (with tokens and figures) runs in worker
processes while this process encodes the documents they have finished."""
MAX_WORKERS = 4


def _workers() -> int:
    """Chunking workers: one core is left to the encoder."""
    return min(MAX_WORKERS, (os.cpu_count() or 1) - 1)


def _chunk_in_workers(up: segments.Update, todo: list[tuple[Any, DocumentInfo]],
                      cfg: EngineConfig, emb: Embedder, report: Progress) -> None:
    """Chunk ``todo`` in worker processes (started fresh: forking a process that runs
    encoder threads is unsafe) and encode each document as soon as it is chunked, so that
    the encoder and the workers work at the same time. Encoding reports n/N chunks, N being
    the chunks known so far."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=_workers(), mp_context=ctx) as pool:
        futures = {pool.submit(segments.prepare, loaded.doc, cfg.chunking, loaded.meta.date): info
                   for loaded, info in todo}
        encoded = total = 0
        for n_doc, fut in enumerate(as_completed(futures), start=1):
            prepared = fut.result()
            report("chunking", n_doc, len(todo))
            passages = prepared[0]
            total += len(passages)
            texts = [passage_index_text(p) for p in passages]
            vectors = np.zeros((0, emb.dim), dtype=np.float32)
            if texts:
                def shifted(stage: str, done: int, _: int, base: int = encoded,
                            known: int = total) -> None:
                    report(stage, base + done, known)
                vectors = _encode(emb, texts, shifted)
            encoded += len(texts)
            up.put(futures[fut], passages, prepared=prepared, vectors=vectors)


def _encode(emb: Embedder, texts: list[str], report: Progress) -> np.ndarray:
    """Passage vectors of ``texts``, encoded a block at a time to report n/N chunks."""
    out = np.zeros((len(texts), emb.dim), dtype=np.float32)
    report("encoding", 0, len(texts))
    for a in range(0, len(texts), ENCODE_BLOCK):
        block = texts[a:a + ENCODE_BLOCK]
        out[a:a + len(block)] = emb.encode_passages(block)
        report("encoding", a + len(block), len(texts))
    return out


def _names_doc(d: str, doc: DocumentInfo) -> bool:
    return Filters.names(d, doc.doc_id, doc.source)


def _known(documents: Sequence[DocumentInfo], name: str,
           names: Callable[[DocumentInfo], bool]) -> None:
    """Raise :class:`NotFound` when a search's or a figure query's document filter (``names``,
    the filter's own matcher) names no indexed document, so that a typo is an error, not an
    empty result that reads as "nothing found". A question is answered or refused whatever
    its filters (a chat always answers)."""
    if not any(names(doc) for doc in documents):
        raise NotFound(f"no indexed document matches {name!r}")
