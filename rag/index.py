"""The persisted hybrid index: append-only segments (FAISS vectors, BM25 postings over jieba
tokens, passage metadata, figures) and versions, each a manifest listing its live segments.

Layout under the index folder::

    CURRENT                name of the live version folder (replaced atomically)
    v-<id>/manifest.json   model, dimensions, chunking, counts, the live segments with their
                           files' checksums, and the runs of live rows (the snapshot's order)
    v-<id>/documents.json  what was indexed from which source, with its metadata
    seg-<id>/passages.jsonl one passage (with its BM25 tokens) per line
    seg-<id>/figures.jsonl  the figure store: the figures of each passage (one line a passage)
    seg-<id>/dense.faiss    vectors (exact inner product, or HNSW)
    seg-<id>/bm25/          the passages' term counts (rag.postings)
    .tmp-*/                 a build in progress; removed by the next writer if it crashed

A segment is written once and never changed. A new or changed document goes into a new
segment; a removed or replaced one simply has no run in the next version (a tombstone: its
rows stay in their segment, dead, until compaction rewrites the live rows into one segment).
A writer writes its segment and its version into temporary folders, fsyncs them, renames them
into place and only then replaces ``CURRENT``: a crash at any point leaves the previous
version loadable, and readers holding the old version keep working.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing
from rag.postings import BM25, Postings
from rag.types import DocumentInfo, FigureFact, Passage, count_figures

FORMAT_VERSION = 3  # 3: segments; 2: one folder per version
CURRENT = "CURRENT"
LOCK = ".lock"
_TMP_PREFIX = ".tmp-"
SEGMENT_PREFIX = "seg-"
_NAME = re.compile(r"(v|seg)-[0-9A-Za-z-]{1,64}")
ANN_KINDS = ("flat", "hnsw")
# At 200,000 passages efSearch 64 gave recall@10 0.74 against exact search; 512 gave
# 0.96-0.98 at p95 under 5 ms (benchmarks/README.md, scale).
HNSW_EF_SEARCH = 512


@dataclass(frozen=True)
class Manifest:
    """What an index version holds and how it was built."""

    format: int
    version: str
    created: float
    model: str
    model_fingerprint: str
    dim: int
    chunking: dict[str, Any]
    chunk_digest: str
    ann: str
    passages: int
    documents: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    figure_digest: str = ""  # the figure store's code version (rag.figstore.store_digest)
    figures: int = 0
    # [{"name": "seg-…", "passages": n, "files": {path: {"sha256", "bytes"}}}]
    segments: list[dict[str, Any]] = field(default_factory=list)
    # the live rows in snapshot order: [{"segment": i, "start": a, "end": b, "source": s}]
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def dead(self) -> int:
        """Rows of the listed segments that no run uses (removed or replaced documents)."""
        return sum(int(s["passages"]) for s in self.segments) - self.passages


@dataclass
class Snapshot:
    """One loaded, immutable index version; safe to share between threads."""

    root: Path
    manifest: Manifest
    passages: list[Passage]
    tokens: list[list[str]]
    documents: list[DocumentInfo]
    dense: Any  # faiss.Index
    bm25: Any  # bm25s.BM25 | None
    figures: list[tuple[FigureFact, ...]] = field(default_factory=list)  # per passage row

    @property
    def version(self) -> str:
        return self.manifest.version

    def vectors(self, rows: list[int]) -> np.ndarray:
        """Stored vectors of the given rows (reused when a document did not change)."""
        if not rows:
            return np.zeros((0, self.manifest.dim), dtype=np.float32)
        if hasattr(self.dense, "reconstruct_rows"):  # a store that fetches many at once
            return np.asarray(self.dense.reconstruct_rows(rows), dtype=np.float32)
        return np.vstack([self.dense.reconstruct(int(r)) for r in rows]).astype(np.float32)


_HASHED: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime) -> sha256


def _sha256(path: Path) -> str:
    """The file's SHA-256. Segments never change once written, so a file this process has
    hashed (or written) is not hashed again while its inode, size and mtime stay the same:
    a writer adding one document does not re-read the whole corpus."""
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    known = _HASHED.get(key)
    if known is not None:
        return known
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if len(_HASHED) > 100_000:
        _HASHED.clear()
    _HASHED[key] = h.hexdigest()
    return _HASHED[key]


def _fsync_tree(folder: Path) -> None:
    for p in sorted(folder.rglob("*"), reverse=True):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())
    for d in [*(p for p in folder.rglob("*") if p.is_dir()), folder, folder.parent]:
        _fsync_dir(d)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def write_lock(root: Path) -> Iterator[None]:
    """Serialise writers (CLI, server, tests) on one index folder."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK).open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _segments_of(folder: Path) -> set[str]:
    """The segment names a version's manifest lists; none when it is unreadable."""
    try:
        raw = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return {str(s["name"]) for s in raw["segments"]}
    except (OSError, ValueError, TypeError, KeyError):
        return set()


def remove_leftovers(root: Path, keep: set[str]) -> None:
    """Remove crashed builds, superseded versions and the segments no kept version lists.
    Call with the write lock held."""
    if not root.is_dir():
        return
    segments: set[str] = set()
    for name in keep:
        segments |= _segments_of(root / name)
    for p in root.iterdir():
        if (p.name.startswith(_TMP_PREFIX) or (p.name.startswith("v-") and p.name not in keep)
                or (p.name.startswith(SEGMENT_PREFIX) and p.name not in segments)):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:  # a half-written CURRENT pointer (rmtree ignores files)
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()


def current_version(root: Path) -> str | None:
    """The live version folder name, or None when no index was ever built here."""
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"{root / CURRENT}: cannot read ({exc})") from None
    except ValueError:  # UnicodeDecodeError: garbage bytes
        raise IndexCorrupt(f"{root / CURRENT}: not a version name (not UTF-8 text)") from None
    try:
        found = name.startswith("v-") and "/" not in name and (root / name).is_dir()
    except (OSError, ValueError):  # e.g. a name too long for the file system
        found = False
    if not found:
        shown = name if len(name) <= 80 else name[:80] + "…"
        raise IndexCorrupt(f"{root / CURRENT}: points to a missing version {shown!r}")
    return name


def build_dense(vectors: np.ndarray, dim: int, ann: str) -> Any:
    import faiss

    index: Any
    if ann == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif ann == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        raise ValueError(f"unknown ANN kind {ann!r}; choose one of {ANN_KINDS}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _new_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def _file_list(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.relative_to(folder)): {"sha256": _sha256(p), "bytes": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_segment(root: Path, *, passages: list[Passage], tokens: list[list[str]],
                  vectors: np.ndarray, figures: list[tuple[FigureFact, ...]], dim: int,
                  ann: str) -> dict[str, Any]:
    """Write a new, immutable segment and return its manifest entry. Nothing refers to it
    until a version lists it. Call with the write lock held."""
    import faiss

    if not (len(passages) == len(tokens) == len(vectors) == len(figures)):
        raise ValueError("passages, tokens, vectors and figures must have the same length")
    name = f"{SEGMENT_PREFIX}{_new_id()}"
    tmp = root / f"{_TMP_PREFIX}{name}"
    tmp.mkdir(parents=True)
    with (tmp / "passages.jsonl").open("w", encoding="utf-8") as f:
        for p, toks in zip(passages, tokens, strict=True):
            f.write(json.dumps({**p.to_dict(), "tokens": toks}, ensure_ascii=False) + "\n")
    with (tmp / "figures.jsonl").open("w", encoding="utf-8") as f:
        for figs in figures:
            f.write(json.dumps([x.to_dict() for x in figs], ensure_ascii=False) + "\n")
    faiss.write_index(build_dense(vectors, dim, ann), str(tmp / "dense.faiss"))
    Postings.build(tokens).save(tmp)
    _fsync_tree(tmp)
    final = root / name
    os.rename(tmp, final)
    _fsync_dir(root)
    # Hashed under its final name, so that verifying this segment later costs nothing here.
    return {"name": name, "passages": len(passages), "files": _file_list(final)}


def write_version(root: Path, *, segments: list[dict[str, Any]], runs: list[dict[str, Any]],
                  documents: list[DocumentInfo], figures: int, model: str,
                  model_fingerprint: str, dim: int, chunking: dict[str, Any],
                  chunk_digest: str, ann: str, figure_digest: str) -> Manifest:
    """Write a version listing ``segments`` (already written) with the live ``runs`` of rows,
    and make it current. Call with the write lock held."""
    version = _new_id()
    tmp = root / f"{_TMP_PREFIX}{version}"
    tmp.mkdir(parents=True)
    (tmp / "documents.json").write_text(
        json.dumps([d.to_dict() for d in documents], ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    manifest = Manifest(
        format=FORMAT_VERSION, version=version, created=time.time(), model=model,
        model_fingerprint=model_fingerprint, dim=dim, chunking=chunking,
        chunk_digest=chunk_digest, ann=ann,
        passages=sum(int(r["end"]) - int(r["start"]) for r in runs), documents=len(documents),
        files=_file_list(tmp), figure_digest=figure_digest, figures=figures,
        segments=segments, runs=runs,
    )
    (tmp / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=1), encoding="utf-8")
    _fsync_tree(tmp)
    final = root / f"v-{version}"
    os.rename(tmp, final)
    pointer = root / f"{_TMP_PREFIX}{CURRENT}-{version}"
    with pointer.open("w", encoding="utf-8") as f:
        f.write(final.name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer, root / CURRENT)
    _fsync_dir(root)
    return manifest


def write_snapshot(
    root: Path,
    *,
    passages: list[Passage],
    tokens: list[list[str]],
    vectors: np.ndarray,
    documents: list[DocumentInfo],
    model: str,
    model_fingerprint: str,
    dim: int,
    chunking: dict[str, Any],
    chunk_digest: str,
    ann: str,
    figures: list[tuple[FigureFact, ...]] | None = None,
    figure_digest: str = "",
) -> Snapshot:
    """Write the given rows as one segment and a version holding exactly them, make it
    current, and return it loaded. Call with the write lock held."""
    figures = figures if figures is not None else [() for _ in passages]
    if len(figures) != len(passages):
        raise ValueError("figures must be given for every passage")
    root.mkdir(parents=True, exist_ok=True)
    segments = []
    runs: list[dict[str, Any]] = []
    if passages:
        segments.append(write_segment(root, passages=passages, tokens=tokens, vectors=vectors,
                                      figures=figures, dim=dim, ann=ann))
        runs = [{"segment": 0, "start": 0, "end": len(passages), "source": None}]
    manifest = write_version(
        root, segments=segments, runs=runs, documents=documents,
        figures=count_figures(passages, figures), model=model, model_fingerprint=model_fingerprint,
        dim=dim, chunking=chunking, chunk_digest=chunk_digest, ann=ann,
        figure_digest=figure_digest)
    return load_snapshot(root, model_fingerprint=model_fingerprint, dim=dim,
                         name=f"v-{manifest.version}")


def read_manifest(folder: Path) -> Manifest:
    path = folder / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(f"{path}: manifest is missing") from None
    except (ValueError, OSError) as exc:
        raise IndexCorrupt(f"{path}: manifest is unreadable ({exc})") from None
    return parse_manifest(raw, path)


def parse_manifest(raw: object, path: Path | str) -> Manifest:
    """A manifest from its decoded JSON, checked; ``path`` names where it came from (a file,
    or a version row of another store) in the errors."""
    try:
        if not isinstance(raw, dict):
            raise TypeError("not an object")
        manifest = Manifest(**raw)
    except (ValueError, TypeError) as exc:
        raise IndexCorrupt(f"{path}: manifest is unreadable ({exc})") from None
    if manifest.format != FORMAT_VERSION:
        raise IndexMismatch(
            f"{path}: index format {manifest.format}, this version reads {FORMAT_VERSION}; "
            "rebuild with `rag index`"
        )
    if not _files_ok(manifest.files) or not isinstance(manifest.segments, list) or not all(
            isinstance(s, dict) and isinstance(s.get("name"), str) and _NAME.fullmatch(s["name"])
            and s["name"].startswith(SEGMENT_PREFIX) and _count(s.get("passages"))
            and _files_ok(s.get("files")) for s in manifest.segments):
        raise IndexCorrupt(f"{path}: manifest is unreadable (malformed file or segment list)")
    if not isinstance(manifest.runs, list) or not all(
            isinstance(r, dict) and set(r) == {"segment", "start", "end", "source"}
            and _count(r["segment"]) and r["segment"] < len(manifest.segments)
            and _count(r["start"]) and _count(r["end"]) and r["start"] < r["end"]
            and r["end"] <= manifest.segments[r["segment"]]["passages"]
            and (r["source"] is None or isinstance(r["source"], str)) for r in manifest.runs):
        raise IndexCorrupt(f"{path}: manifest is unreadable (malformed runs of live rows)")
    if sum(r["end"] - r["start"] for r in manifest.runs) != manifest.passages:
        raise IndexCorrupt(f"{path}: the runs of live rows do not add up to "
                           f"{manifest.passages} passages")
    return manifest


def _count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _files_ok(files: object) -> bool:
    return isinstance(files, dict) and all(isinstance(meta, dict) for meta in files.values())


def _verify_files(folder: Path, files: dict[str, dict[str, Any]], *, own: set[str]) -> None:
    """Every listed file is there with its size and checksum, and nothing else is."""
    if not folder.is_dir():
        raise IndexCorrupt(f"{folder}: listed in the manifest, missing")
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    on_disk -= own
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            raise IndexCorrupt(f"{path}: file listed in the manifest is missing")
        size = path.stat().st_size
        if size != meta.get("bytes"):
            raise IndexCorrupt(f"{path}: size {size} bytes, manifest says {meta.get('bytes')}")
        if _sha256(path) != meta.get("sha256"):
            raise IndexCorrupt(f"{path}: checksum does not match the manifest")
    extra = on_disk - set(files)
    if extra:
        raise IndexCorrupt(f"{folder}: files not in the manifest: {', '.join(sorted(extra))}")


def open_version(root: Path, *, model_fingerprint: str | None = None, dim: int | None = None,
                 name: str | None = None) -> tuple[Path, Manifest, list[DocumentInfo]]:
    """The current (or named) version's folder, manifest and documents, with every file of
    it and of its segments checked against the manifest; a clear error if it is unusable.
    Reads no segment contents: this is what a writer needs to add or replace documents."""
    name = name or current_version(root)
    if name is None:
        raise IndexMissing(f"no index in {root}; build one with `rag index`")
    folder = root / name
    manifest = read_manifest(folder)
    if model_fingerprint is not None and manifest.model_fingerprint != model_fingerprint:
        raise IndexMismatch(
            f"{folder / 'manifest.json'}: index was built with model {manifest.model!r} "
            f"({manifest.model_fingerprint}), not the configured one; rebuild with `rag index`"
        )
    if dim is not None and manifest.dim != dim:
        raise IndexMismatch(
            f"{folder / 'manifest.json'}: index has {manifest.dim}-dimensional vectors, "
            f"the model gives {dim}; rebuild with `rag index`"
        )
    _verify_files(folder, manifest.files, own={"manifest.json"})
    for seg in manifest.segments:
        _verify_files(root / seg["name"], seg["files"], own=set())
    path = folder / "documents.json"
    try:
        documents = [DocumentInfo(**d) for d in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, TypeError, OSError) as exc:
        raise IndexCorrupt(f"{path}: unreadable ({exc})") from None
    if len(documents) != manifest.documents:
        raise IndexCorrupt(f"{path}: {len(documents)} documents, manifest says {manifest.documents}")
    per_source: dict[str, int] = {}
    for run in manifest.runs:
        if run["source"] is not None:
            per_source[run["source"]] = per_source.get(run["source"], 0) + run["end"] - run["start"]
    if per_source and per_source != {d.source: d.passages for d in documents if d.passages}:
        listed = {d.source: d.passages for d in documents if d.passages}
        odd = sorted(s for s in set(per_source) | set(listed) if per_source.get(s) != listed.get(s))
        raise IndexCorrupt(f"{folder / 'manifest.json'}: the runs of live rows do not match "
                           f"documents.json for {', '.join(map(repr, odd[:3]))}")
    return folder, manifest, documents


@dataclass(frozen=True)
class _Segment:
    passages: list[Passage]
    tokens: list[list[str]]
    figures: list[tuple[FigureFact, ...]]
    dense: Any
    postings: Postings


def _read_segment(folder: Path, rows: int) -> _Segment:
    import faiss

    passages: list[Passage] = []
    tokens: list[list[str]] = []
    figures: list[tuple[FigureFact, ...]] = []
    path = folder / "passages.jsonl"
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                tokens.append(rec.pop("tokens"))
                passages.append(Passage.from_dict(rec))
        path = folder / "figures.jsonl"
        with path.open(encoding="utf-8") as f:
            for line in f:
                figures.append(tuple(FigureFact.from_dict(x) for x in json.loads(line)))
    except (ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
        raise IndexCorrupt(f"{path}: unreadable metadata ({exc})") from None
    try:
        dense = faiss.read_index(str(folder / "dense.faiss"))
    except RuntimeError as exc:
        raise IndexCorrupt(f"{folder / 'dense.faiss'}: unreadable ({exc})") from None
    try:
        postings = Postings.load(folder)
    except (ValueError, OSError) as exc:
        raise IndexCorrupt(f"{folder / 'bm25'}: unreadable ({exc})") from None
    for what, n in (("passages", len(passages)), ("figure rows", len(figures)),
                    ("vectors", dense.ntotal), ("BM25 rows", postings.rows)):
        if n != rows:
            raise IndexCorrupt(f"{folder}: {n} {what}, the manifest says {rows} passages")
    return _Segment(passages, tokens, figures, dense, postings)


def load_snapshot(root: Path, *, model_fingerprint: str | None = None,
                  dim: int | None = None, name: str | None = None) -> Snapshot:
    """Load and verify the current (or named) version; raise a clear error if it is unusable."""
    folder, manifest, documents = open_version(root, model_fingerprint=model_fingerprint,
                                               dim=dim, name=name)
    segments = [_read_segment(root / s["name"], int(s["passages"])) for s in manifest.segments]
    passages: list[Passage] = []
    tokens: list[list[str]] = []
    figures: list[tuple[FigureFact, ...]] = []
    for run in manifest.runs:
        seg, a, b = segments[run["segment"]], run["start"], run["end"]
        rows = seg.passages[a:b]
        if run["source"] is not None and any(p.source != run["source"] for p in rows):
            raise IndexCorrupt(f"{folder / 'manifest.json'}: rows {a}-{b} of "
                               f"{manifest.segments[run['segment']]['name']} are not of "
                               f"{run['source']!r}")
        passages += rows
        tokens += seg.tokens[a:b]
        figures += seg.figures[a:b]
    dense = _merged_dense(manifest, segments)
    if hasattr(dense, "hnsw"):
        dense.hnsw.efSearch = max(dense.hnsw.efSearch, HNSW_EF_SEARCH)
    bm25 = BM25([(segments[r["segment"]].postings, r["start"], r["end"]) for r in manifest.runs])
    return Snapshot(folder, manifest, passages, tokens, documents, dense,
                    bm25 if passages else None, figures)


def _merged_dense(manifest: Manifest, segments: list[_Segment]) -> Any:
    """One FAISS index over the live rows in snapshot order: a single fully live segment's
    own index, else a new one from the segments' stored vectors."""
    runs = manifest.runs
    ends = [0] + [r["end"] for r in runs]
    if len(segments) == 1 and runs and ends[-1] == segments[0].dense.ntotal and all(
            r["segment"] == 0 and r["start"] == ends[i] for i, r in enumerate(runs)):
        return segments[0].dense
    parts = [segments[r["segment"]].dense.reconstruct_n(r["start"], r["end"] - r["start"])
             for r in runs]
    vectors = np.vstack(parts) if parts else np.zeros((0, manifest.dim), dtype=np.float32)
    return build_dense(vectors, manifest.dim, manifest.ann)
