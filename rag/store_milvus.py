"""The Milvus store: index segments and versions as rows of two Milvus collections, reached
by URI (a Milvus Lite ``.db`` folder, or ``http://HOST:PORT`` for Standalone or a cluster).

``<name>_rows``  one row per passage of a segment: primary key ``seg-…:row``, the segment's
                 name and row, scalar fields for filters (source, doc_id, date, year), the
                 passage, its BM25 tokens and its figures (JSON), and its dense vector.
``<name>_meta``  one row per part of a version (its manifest and documents as JSON text,
                 split into parts under Milvus's string limit), and the pointer row
                 ``CURRENT`` whose text is the live version's name.

Consistency is the embedded store's, row for row: a segment is inserted once and never
changed; a version lists its segments and the runs of live rows in them; a writer inserts
its segment and its version parts, flushes, and only then upserts the one ``CURRENT`` row
(the switch: a single-row write, which a Strong-consistency reader sees whole or not at
all). Until then nothing refers to the new rows, so a writer killed at any point leaves the
previous version readable; the next writer deletes the rows of segments no kept version
lists. A reader pins a version: its dense searches filter on that version's live row
ranges, so rows of documents replaced since never show up in its results.

Ranking is the embedded store's too: BM25 is ours (jieba tokens stored with each row, IDF
over the live rows computed when a version is loaded, rag.postings), fusion is ours
(rag.retrieve); Milvus answers the dense part with exact inner product (FLAT) or HNSW like
the FAISS index. Writers on one index are serialised by a lock file in the index folder:
run writes from one machine (a server's admin API), reads from any.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from rag import index
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing, StoreUnavailable
from rag.index import HNSW_EF_SEARCH, SEGMENT_PREFIX, Manifest, Snapshot, parse_manifest
from rag.postings import BM25, Postings
from rag.types import DocumentInfo, FigureFact, Passage

POINTER = "CURRENT"
BATCH = 512  # rows per insert request
PAGE = 4096  # rows per query request (Milvus caps one query at 16,384)
MAX_TOPK = 16384  # Milvus's limit on one search's top-k
PART_CHARS = 60_000  # ASCII characters per version part (VARCHAR holds 65,535 bytes)
CONNECT_TIMEOUT = 10.0
_TEXT = 65_535

_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(uri: str, label: str) -> Any:
    """One client per URI and process (Milvus Lite lets one process open a ``.db``)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(uri)
        if client is None:
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # errors are ours to tell
            # Milvus Lite serves in-process and logs a traceback for a call it does not
            # implement (AllocTimestamp, while an index is created) that pymilvus gets past
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
            from pymilvus import MilvusClient

            try:
                client = MilvusClient(uri=uri, timeout=CONNECT_TIMEOUT)
            except Exception as exc:  # MilvusException, milvus_lite's DataDirLockedError …
                hint = ("; only one process may open a Milvus Lite .db: let several share it "
                        "through `milvus-lite server`") if uri.endswith(".db") else ""
                raise StoreUnavailable(f"{label}: cannot connect ({_message(exc)}){hint}") from None
            _CLIENTS[uri] = client
        return client


def close_clients() -> None:
    """Close every client this process opened, and the Milvus Lite databases it opened, so
    that another process may open them."""
    with _CLIENTS_LOCK:
        for uri, client in _CLIENTS.items():
            with contextlib.suppress(Exception):
                client.close()
            if uri.endswith(".db"):  # stop Milvus Lite's in-process server: frees the .db
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(uri)
        _CLIENTS.clear()


def _message(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())[:300]


class MilvusStore:
    """Segments and versions in the collections ``<collection>_rows`` and ``_meta``."""

    def __init__(self, uri: str, collection: str, *, lock_dir: Path) -> None:
        self.uri, self.collection, self.lock_dir = uri, collection, lock_dir
        self.rows, self.meta = f"{collection}_rows", f"{collection}_meta"
        self._loaded: set[str] = set()

    @property
    def label(self) -> str:
        return f"Milvus {self.uri} collection {self.collection}"

    @property
    def client(self) -> Any:
        return _client(self.uri, self.label)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Milvus's exceptions as the store's typed errors (connection lost, refused)."""
        try:
            yield
        except (IndexCorrupt, IndexMissing, IndexMismatch, StoreUnavailable):
            raise
        except Exception as exc:
            if type(exc).__module__.startswith(("pymilvus", "milvus_lite", "grpc")):
                raise StoreUnavailable(f"{self.label}: {what} failed ({_message(exc)})") from None
            raise

    def _has(self, name: str) -> bool:
        with self._errors("listing collections"):
            return bool(self.client.has_collection(name))

    def _load(self, name: str) -> None:
        if name in self._loaded:
            return
        try:
            with self._errors(f"loading {name}"):
                self.client.load_collection(name)
        except StoreUnavailable:
            if not self._drop_lite_sidecars(name):
                raise
            with self._errors(f"loading {name} (its vector-index files rebuilt)"):
                self.client.load_collection(name)
        self._loaded.add(name)

    def _drop_lite_sidecars(self, name: str) -> bool:
        """Milvus Lite (3.2) writes a segment's vector-index file in place, so a writer killed
        mid-write leaves it empty and the collection will not load ("No data left in file").
        The files are derived from the segments, which Lite writes safely, and it rebuilds a
        missing one on load: delete the collection's index files and let it. True when any
        were deleted (a ``.db`` URI only)."""
        if not self.uri.endswith(".db"):
            return False
        files = list((Path(self.uri) / "collections" / name / "partitions").glob("*/indexes/*.idx"))
        for f in files:
            f.unlink(missing_ok=True)
        if files:
            logging.getLogger(__name__).warning(
                "%s: %s did not load; rebuilding its %d vector-index files", self.label, name, len(files))
        return bool(files)

    def _query(self, name: str, expr: str, fields: list[str], limit: int = PAGE
               ) -> list[dict[str, Any]]:
        self._load(name)
        with self._errors(f"reading {name}"):
            return list(self.client.query(name, filter=expr, output_fields=fields, limit=limit,
                                          consistency_level="Strong"))

    def _count(self, name: str, expr: str) -> int:
        self._load(name)
        with self._errors(f"counting {name}"):
            res = self.client.query(name, filter=expr, output_fields=["count(*)"],
                                    consistency_level="Strong")
        return int(res[0]["count(*)"])

    def rows_dim(self) -> int | None:
        """The dimension of the rows collection's vectors, None when it does not exist."""
        if not self._has(self.rows):
            return None
        with self._errors(f"describing {self.rows}"):
            desc = self.client.describe_collection(self.rows)
        for f in desc["fields"]:
            if f["name"] == "dense":
                return int(f["params"]["dim"])
        raise IndexMismatch(f"{self.label}: {self.rows} has no 'dense' vector field; "
                            "it was not made by rag")

    # -- the interface -----------------------------------------------------------------

    def write_lock(self) -> AbstractContextManager[None]:
        return index.write_lock(self.lock_dir)

    def current_version(self) -> str | None:
        if not self._has(self.meta):
            return None
        rows = self._query(self.meta, f'pk == "{POINTER}"', ["text"], limit=1)
        if not rows:
            return None
        name = str(rows[0]["text"])
        if not index._NAME.fullmatch(name) or not name.startswith("v-") or not self._count(
                self.meta, f'name == "{name}"'):
            raise IndexCorrupt(f"{self.label}: {POINTER} points to a missing version {name[:80]!r}")
        return name

    def _version(self, name: str) -> dict[str, Any]:
        if not index._NAME.fullmatch(name):
            raise IndexCorrupt(f"{self.label}: not a version name {name[:80]!r}")
        parts = sorted(self._query(self.meta, f'name == "{name}"', ["part", "parts", "text"],
                                   limit=PAGE), key=lambda r: int(r["part"]))
        where = f"{self.label} version {name}"
        if not parts:
            raise IndexCorrupt(f"{where}: missing")
        if [int(r["part"]) for r in parts] != list(range(int(parts[0]["parts"]))):
            raise IndexCorrupt(f"{where}: {len(parts)} of {parts[0]['parts']} parts")
        try:
            raw = json.loads("".join(str(r["text"]) for r in parts))
        except ValueError as exc:
            raise IndexCorrupt(f"{where}: unreadable ({exc})") from None
        if not isinstance(raw, dict) or not {"manifest", "documents"} <= set(raw):
            raise IndexCorrupt(f"{where}: unreadable (no manifest and documents)")
        return raw

    def read_manifest(self, name: str) -> Manifest:
        return parse_manifest(self._version(name)["manifest"], f"{self.label} version {name}")

    def open_version(self, *, model_fingerprint: str | None = None, dim: int | None = None,
                     name: str | None = None) -> tuple[Manifest, list[DocumentInfo]]:
        name = name or self.current_version()
        if name is None:
            raise IndexMissing(f"no index in {self.label}; build one with `rag index`")
        raw = self._version(name)
        where = f"{self.label} version {name}"
        manifest = parse_manifest(raw["manifest"], where)
        if model_fingerprint is not None and manifest.model_fingerprint != model_fingerprint:
            raise IndexMismatch(
                f"{where}: index was built with model {manifest.model!r} "
                f"({manifest.model_fingerprint}), not the configured one; rebuild with `rag index`")
        if dim is not None and manifest.dim != dim:
            raise IndexMismatch(f"{where}: index has {manifest.dim}-dimensional vectors, "
                                f"the model gives {dim}; rebuild with `rag index`")
        if manifest.segments:
            have = self.rows_dim()
            if have is None:
                raise IndexCorrupt(f"{where}: collection {self.rows} is missing; "
                                   "rebuild with `rag index`")
            if have != manifest.dim:
                raise IndexMismatch(f"{where}: {self.rows} holds {have}-dimensional vectors, "
                                    f"the version says {manifest.dim}; rebuild with `rag index`")
        for seg in manifest.segments:
            n = self._count(self.rows, f'segment == "{seg["name"]}"')
            if n != seg["passages"]:
                raise IndexCorrupt(f"{where}: segment {seg['name']} has {n} rows, "
                                   f"the manifest says {seg['passages']}")
        try:
            documents = [DocumentInfo(**d) for d in raw["documents"]]
        except (TypeError, ValueError) as exc:
            raise IndexCorrupt(f"{where}: documents unreadable ({exc})") from None
        if len(documents) != manifest.documents:
            raise IndexCorrupt(f"{where}: {len(documents)} documents, "
                               f"manifest says {manifest.documents}")
        return manifest, documents

    def load_snapshot(self, *, model_fingerprint: str | None = None, dim: int | None = None,
                      name: str | None = None) -> Snapshot:
        manifest, documents = self.open_version(model_fingerprint=model_fingerprint, dim=dim,
                                                name=name)
        name = f"v-{manifest.version}"
        passages: list[Passage] = []
        tokens: list[list[str]] = []
        figures: list[tuple[FigureFact, ...]] = []
        for run in manifest.runs:
            seg = manifest.segments[run["segment"]]["name"]
            got: list[dict[str, Any]] = []
            for lo in range(run["start"], run["end"], PAGE):
                hi = min(run["end"], lo + PAGE)
                got += self._query(self.rows, f'segment == "{seg}" and row >= {lo} and row < {hi}',
                                   ["row", "passage", "tokens", "figures"], limit=hi - lo)
            got.sort(key=lambda r: int(r["row"]))
            if [int(r["row"]) for r in got] != list(range(run["start"], run["end"])):
                raise IndexCorrupt(f"{self.label} version {name}: rows {run['start']}-"
                                   f"{run['end']} of {seg} are incomplete")
            try:
                for r in got:
                    p = Passage.from_dict(r["passage"])
                    if run["source"] is not None and p.source != run["source"]:
                        raise ValueError(f"row {r['row']} of {seg} is not of {run['source']!r}")
                    passages.append(p)
                    tokens.append([str(t) for t in r["tokens"]])
                    figures.append(tuple(FigureFact.from_dict(x) for x in r["figures"]))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise IndexCorrupt(f"{self.label} version {name}: unreadable row ({exc})") from None
        bm25 = BM25([(Postings.build(tokens), 0, len(tokens))]) if passages else None
        return Snapshot(Path(self.collection) / name, manifest, passages, tokens, documents,
                        MilvusDense(self, manifest), bm25, figures)

    def _ensure(self, dim: int, ann: str) -> None:
        """Create the collections when missing; a rows collection of another dimension (an
        index of another model, unusable here) is dropped and made again."""
        from pymilvus import DataType

        c = self.client
        with self._errors("creating collections"):
            if not c.has_collection(self.meta):
                s = c.create_schema(auto_id=False, enable_dynamic_field=False)
                s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=160)
                s.add_field("name", DataType.VARCHAR, max_length=96)
                s.add_field("part", DataType.INT64)
                s.add_field("parts", DataType.INT64)
                s.add_field("text", DataType.VARCHAR, max_length=_TEXT)
                s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
                ip = c.prepare_index_params()
                ip.add_index("vec", index_type="FLAT", metric_type="L2")
                c.create_collection(self.meta, schema=s, index_params=ip,
                                    consistency_level="Strong")
            have = self.rows_dim()
            if have is not None and have != dim:
                c.drop_collection(self.rows)
                self._loaded.discard(self.rows)
                have = None
            if have is None:
                s = c.create_schema(auto_id=False, enable_dynamic_field=False)
                s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=160)
                s.add_field("segment", DataType.VARCHAR, max_length=96)
                s.add_field("row", DataType.INT64)
                s.add_field("source", DataType.VARCHAR, max_length=4096)
                s.add_field("doc_id", DataType.VARCHAR, max_length=256)
                s.add_field("date", DataType.VARCHAR, max_length=32)
                s.add_field("year", DataType.INT64)
                s.add_field("passage", DataType.JSON)
                s.add_field("tokens", DataType.JSON)
                s.add_field("figures", DataType.JSON)
                s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
                ip = c.prepare_index_params()
                if ann == "hnsw":
                    ip.add_index("dense", index_type="HNSW", metric_type="IP",
                                 params={"M": 32, "efConstruction": 80})
                else:
                    ip.add_index("dense", index_type="FLAT", metric_type="IP")
                c.create_collection(self.rows, schema=s, index_params=ip,
                                    consistency_level="Strong")

    def write_segment(self, *, passages: list[Passage], tokens: list[list[str]],
                      vectors: np.ndarray, figures: list[tuple[FigureFact, ...]], dim: int,
                      ann: str) -> dict[str, Any]:
        if not (len(passages) == len(tokens) == len(vectors) == len(figures)):
            raise ValueError("passages, tokens, vectors and figures must have the same length")
        self._ensure(dim, ann)
        self._load(self.rows)
        name = f"{SEGMENT_PREFIX}{index._new_id()}"
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._errors(f"writing {self.rows}"):
            for a in range(0, len(passages), BATCH):
                self.client.insert(self.rows, [
                    {"pk": f"{name}:{i}", "segment": name, "row": i, "source": p.source,
                     "doc_id": p.doc_id, "date": p.date or "", "year": _year(p.date),
                     "passage": p.to_dict(), "tokens": tokens[i],
                     "figures": [f.to_dict() for f in figures[i]], "dense": vecs[i].tolist()}
                    for i, p in enumerate(passages[a:a + BATCH], start=a)])
            self.client.flush(self.rows)
        return {"name": name, "passages": len(passages), "files": {}}

    def write_version(self, *, segments: list[dict[str, Any]], runs: list[dict[str, Any]],
                      documents: list[DocumentInfo], figures: int, model: str,
                      model_fingerprint: str, dim: int, chunking: dict[str, Any],
                      chunk_digest: str, ann: str, figure_digest: str) -> Manifest:
        self._ensure(dim, ann)
        self._load(self.meta)
        version = index._new_id()
        manifest = Manifest(
            format=index.FORMAT_VERSION, version=version, created=index.time.time(),
            model=model, model_fingerprint=model_fingerprint, dim=dim, chunking=chunking,
            chunk_digest=chunk_digest, ann=ann,
            passages=sum(int(r["end"]) - int(r["start"]) for r in runs), documents=len(documents),
            files={}, figure_digest=figure_digest, figures=figures, segments=segments, runs=runs)
        text = json.dumps({"manifest": manifest.to_dict(),
                           "documents": [d.to_dict() for d in documents]}, ensure_ascii=True)
        parts = [text[i:i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
        name = f"v-{version}"
        with self._errors(f"writing {self.meta}"):
            for a in range(0, len(parts), 16):
                self.client.insert(self.meta, [
                    {"pk": f"{name}:{i}", "name": name, "part": i, "parts": len(parts),
                     "text": t, "vec": [0.0, 0.0]}
                    for i, t in enumerate(parts[a:a + 16], start=a)])
            self.client.flush(self.meta)
            # the switch: one row, after everything it points to is written
            self.client.upsert(self.meta, [{"pk": POINTER, "name": POINTER, "part": 0,
                                            "parts": 1, "text": name, "vec": [0.0, 0.0]}])
            self.client.flush(self.meta)
        return manifest

    def remove_leftovers(self, keep: set[str]) -> None:
        if not self._has(self.meta):
            return
        segments: set[str] = set()
        for name in keep:
            with contextlib.suppress(IndexCorrupt, IndexMismatch):
                segments |= {str(s["name"]) for s in self.read_manifest(name).segments}
        names = json.dumps(sorted(keep))
        with self._errors(f"cleaning {self.meta}"):
            self.client.delete(self.meta, filter=f'name != "{POINTER}" and name not in {names}')
        if self._has(self.rows):
            expr = f"segment not in {json.dumps(sorted(segments))}" if segments else "row >= 0"
            with self._errors(f"cleaning {self.rows}"):
                self.client.delete(self.rows, filter=expr)


def _year(date: str | None) -> int:
    return int(date[:4]) if date and date[:4].isdigit() else 0


class MilvusDense:
    """The dense part of a snapshot: the faiss-like calls retrieval makes (``ntotal``,
    ``search``, ``reconstruct``), answered by Milvus over this version's live rows only,
    with ids in the snapshot's row order."""

    def __init__(self, st: MilvusStore, manifest: Manifest) -> None:
        self._st = st
        self.dim, self.ann = manifest.dim, manifest.ann
        names = [str(s["name"]) for s in manifest.segments]
        merged: list[list[Any]] = []
        self._pk: list[str] = []
        for r in manifest.runs:
            seg = names[r["segment"]]
            if merged and merged[-1][0] == seg and merged[-1][2] == r["start"]:
                merged[-1][2] = r["end"]
            else:
                merged.append([seg, r["start"], r["end"]])
            self._pk += [f"{seg}:{i}" for i in range(r["start"], r["end"])]
        self._row = {pk: i for i, pk in enumerate(self._pk)}
        self.ntotal = len(self._pk)
        self._filter = " or ".join(f'(segment == "{s}" and row >= {a} and row < {b})'
                                   for s, a, b in merged)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by inner product for each query (at most Milvus's 16,384): scores and
        snapshot rows, -1 where there are fewer."""
        q = np.asarray(queries, dtype=np.float32).reshape(-1, self.dim)
        scores = np.full((len(q), k), -np.finfo(np.float32).max, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        limit = min(k, self.ntotal, MAX_TOPK)
        if limit <= 0 or not len(q):
            return scores, ids
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.ann == "hnsw":
            params["params"] = {"ef": max(HNSW_EF_SEARCH, limit)}
        st = self._st
        st._load(st.rows)
        with st._errors("searching"):
            res = st.client.search(st.rows, data=q.tolist(), limit=limit, filter=self._filter,
                                   search_params=params, output_fields=["pk"],
                                   consistency_level="Strong")
        for qi, hits in enumerate(res):
            j = 0
            for h in hits:
                row = self._row.get(str(h.get("pk", h.get("id"))))
                if row is not None:
                    scores[qi, j], ids[qi, j] = float(h["distance"]), row
                    j += 1
        return scores, ids

    def reconstruct_rows(self, rows: list[int]) -> np.ndarray:
        """The stored vectors of snapshot rows, in the order given."""
        st = self._st
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        where: dict[str, list[int]] = {}
        for j, r in enumerate(rows):
            where.setdefault(self._pk[r], []).append(j)
        keys = list(where)
        for a in range(0, len(keys), 1000):
            batch = keys[a:a + 1000]
            for rec in st._query(st.rows, f"pk in {json.dumps(batch)}", ["pk", "dense"],
                                 limit=len(batch)):
                for j in where[str(rec["pk"])]:
                    out[j] = np.asarray(rec["dense"], dtype=np.float32)
        return out

    def reconstruct(self, i: int) -> np.ndarray:
        return self.reconstruct_rows([int(i)])[0]

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return self.reconstruct_rows(list(range(start, start + n)))
