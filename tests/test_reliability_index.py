"""Reliability of the persisted index: crash safety under SIGKILL, detection of corrupted or
mismatched files with clear errors, recovery by re-indexing, and query normalisation.

The crash test runs the indexer in child processes with :class:`HashEmbedder`, a cheap
deterministic *fake* embedder (hashed character bigrams, 384 dimensions): that test is about
how index files are written, not about embeddings, and a fake lets each child start in about a
second instead of loading the model fifty times. Everything else here uses the real model.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag import index as store
from rag import segments
from rag.engine import Engine
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing
from rag.retrieve import bm25_query, bm25_ranking, dense_ranking
from rag.text import normalize

from .conftest import CORPUS_FILE, REPO, make_config

INDEX_ERRORS = (IndexCorrupt, IndexMismatch, IndexMissing)


# --------------------------------------------------------------------------- fake embedder


class HashEmbedder:
    """A FAKE embedder for the crash test only: hashed character bigrams, L2-normalised.

    Deterministic and fast, with the dimension of the real model; it implements the
    :class:`rag.embed.Embedder` protocol, so the engine writes exactly the same files.
    """

    name = "hash-bigram-fake"
    fingerprint = "fake-hash-bigram-384"
    dim = 384

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:] + " ", strict=True):
            h = int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 40) & 1 else -1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


# Two contents of one corpus file; the indexer alternates between them, so each run writes a
# new version. Each has words the other lacks, so BM25 and dense results tell them apart.
VARIANTS = {
    "A": (
        "# 量子计算实验室启用\n\n"
        "本报讯 2025年3月，苏州量子计算实验室正式启用，首期投入12亿元。\n\n"
        "实验室将建设超导量子芯片产线，计划到2027年培育50家量子企业。\n"
    ),
    "B": (
        "# 低空经济示范区获批\n\n"
        "本报讯 2025年6月，合肥低空经济示范区获批，设立30亿元无人机产业基金。\n\n"
        "示范区将开通20条无人机物流航线，到2026年底低空经济规模超过500亿元。\n"
    ),
}
VARIANT_FILE = "variant.md"
CRASH_QUERIES = ["量子计算实验室 超导芯片", "低空经济 无人机 物流航线", "人形机器人 产业基金 规模"]


def write_variant(corpus: Path, label: str) -> None:
    """Replace the variant file atomically (the hidden temporary name is never indexed)."""
    part = corpus / f".{VARIANT_FILE}.part"
    part.write_text(VARIANTS[label], encoding="utf-8")
    os.replace(part, corpus / VARIANT_FILE)


# The indexer process. To pay its start-up (imports, the jieba dictionary) once rather than at
# every kill, it loads everything, says "ready", and then forks one indexer per command read
# from stdin (the command holds the index of the content to start with). Each forked indexer
# says its pid and re-indexes in a loop, alternating the two contents, until it is killed; the
# server says how it ended.
#
# The hang in CI (issue 14), reproduced with the old harness under load: with
# PYTHONUNBUFFERED=1 (set here and in CI) print() writes each of its arguments with a write()
# of its own, so a child killed inside print("done", version, label) left "done" in the pipe
# without a newline; the server's "ended 9" joined it ("doneended 9"), the test skipped that
# line as unknown and waited forever for a line starting with "ended", while the server, its
# child reaped, waited for the next command. Now protocol lines go through their own pipe, each
# as one os.write (atomic below PIPE_BUF), never through sys.stdout (which children and
# libraries also write to); an unknown line fails the test at once; every read has a deadline.
# Also: the server forks single-threaded (one BLAS/OpenMP thread, checked before every fork: a
# fork copies the locks of threads it does not copy), and children read /dev/null, so no
# process but the server can take a command meant for it.
INDEXER = r"""
import os, sys, time
from pathlib import Path

import bm25s, faiss  # warm the imports that the index writer does lazily

from rag.config import EngineConfig
from rag.engine import Engine
from rag.text import tokenize
from tests.test_reliability_index import VARIANTS, HashEmbedder, write_variant

index_dir, corpus, proto = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
from rag import places, segments

segments.MAX_SEGMENTS = 3  # compact often: kills must also land in compactions


def say(*words):
    os.write(proto, (" ".join(str(w) for w in words) + "\n").encode())


def threads():
    return len(os.listdir("/proc/self/task"))


for text in VARIANTS.values():
    tokenize(text)  # loads the jieba dictionary
places.find("北京")  # loads the gazetteer that the figure store's subjects use
say("ready", threads())
pending = b""
while True:
    while b"\n" not in pending:
        data = os.read(0, 256)
        if not data:
            sys.exit(0)
        pending += data
    line, pending = pending.split(b"\n", 1)
    if threads() != 1:
        say("error", "threads", threads())
        continue
    pid = os.fork()
    if pid == 0:
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(2, 1)  # anything printed goes to the log, not into the protocol
            engine = Engine(EngineConfig(index_dir=index_dir, corpus_dir=corpus,
                                         model_cache=index_dir.parent / "unused-model-cache"),
                            embedder=HashEmbedder())
            say("pid", os.getpid())
            i = int(line)
            writing = [0.0]

            def progress(stage, done, total):
                if stage == "writing" and done == 0:
                    writing[0] = time.monotonic()
                    say("writing")

            while True:
                label = "AB"[i % 2]
                write_variant(corpus, label)
                say("start", label)
                report = engine.index(progress=progress)
                say("done", report.version, label, f"{time.monotonic() - writing[0]:.3f}")
                if i % 3 == 2:  # and now and then an explicit compaction
                    say("start", label)
                    writing[0] = time.monotonic()
                    report = engine.compact()
                    say("done", report.version, label, f"{time.monotonic() - writing[0]:.3f}")
                i += 1
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    say("ended", pid, status)
"""


def _tmp_entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".tmp-"))


def _fingerprint_of(snap: store.Snapshot, emb: HashEmbedder) -> dict[str, object]:
    """What a version answers: its passages and its BM25 and dense rankings of fixed queries."""
    out: dict[str, object] = {"passages": [p.passage_id for p in snap.passages]}
    for q in CRASH_QUERIES:
        bm = bm25_ranking(snap, bm25_query(q), 10)
        dn = dense_ranking(snap, emb.encode_queries([normalize(q)])[0], 10)
        out["bm25:" + q] = [(snap.passages[i].passage_id, round(s, 4)) for i, s in bm]
        out["dense:" + q] = [(snap.passages[i].passage_id, round(s, 4)) for i, s in dn]
    return out


def _variant_label(snap: store.Snapshot) -> str:
    hashes = {hashlib.sha256(t.encode()).hexdigest(): k for k, t in VARIANTS.items()}
    labels = [hashes[d.content_hash] for d in snap.documents if d.source == VARIANT_FILE]
    assert len(labels) == 1, snap.documents
    return labels[0]


# How long the test waits for any one line of the indexer. A line normally comes within a
# second or two; the deadline only turns a hang into a failure that says where it stopped.
READ_DEADLINE = 120.0


class IndexerProcess:
    """The indexer server (``INDEXER``) and its protocol pipe, read by a thread into a queue so
    that every read has a deadline."""

    def __init__(self, root: Path, corpus: Path, err: Path) -> None:
        self.err = err
        read_fd, write_fd = os.pipe()
        # One BLAS/OpenMP thread: the server must have no other thread when it forks.
        env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with err.open("w") as err_out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", INDEXER, str(root), str(corpus), str(write_fd)],
                cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=err_out, stderr=err_out,
                pass_fds=(write_fd,),
            )
        os.close(write_fd)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.history: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(read_fd,), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as f:
            for raw in f:
                self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)  # end of file: the server and every child have exited

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, waiting_for: str) -> list[str]:
        """The next protocol line, split; fails with what it waited for and what came last."""
        try:
            line = self.lines.get(timeout=READ_DEADLINE)
        except queue.Empty:
            pytest.fail(f"no line from the indexer for {READ_DEADLINE:.0f} s while waiting for "
                        f"{waiting_for!r} (server exit code {self.proc.poll()}); last lines: "
                        f"{self.history[-6:]}; log: {self._log()}")
        if line is None:
            pytest.fail(f"the indexer closed its pipe while waiting for {waiting_for!r} "
                        f"(exit code {self.proc.poll()}); last lines: {self.history[-6:]}; "
                        f"log: {self._log()}")
        self.history.append(line)
        words = line.split()
        if not words or words[0] not in PROTOCOL:
            pytest.fail(f"unexpected line from the indexer {line!r} while waiting for "
                        f"{waiting_for!r}; log: {self._log()}")
        return words

    def _log(self) -> str:
        return self.err.read_text(errors="replace")[-2000:]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


PROTOCOL = {"ready", "pid", "start", "writing", "done", "ended", "error"}


@pytest.mark.slow
def test_sigkill_at_random_moments_never_breaks_the_index(tmp_path: Path, monkeypatch):
    """Kill the indexer 100 times with SIGKILL at a random moment while it updates the index
    in a loop: each update appends a segment and leaves a tombstone, every third run is an
    explicit compaction, and more than three segments compact by themselves.

    After every kill the index loads and is exactly the last committed version or the one
    being written (never a mix), and the next run removes the crashed build's leftovers.
    """
    kills, window = 100, 0.3
    monkeypatch.setattr(segments, "MAX_SEGMENTS", 3)  # as in the indexer process
    rng = random.Random(20250601)
    emb = HashEmbedder()

    # Expected answers of each content, from indexes built in-process.
    expected: dict[str, dict[str, object]] = {}
    for label in VARIANTS:
        corpus = tmp_path / f"ref-{label}" / "corpus"
        corpus.mkdir(parents=True)
        shutil.copy(CORPUS_FILE, corpus / CORPUS_FILE.name)
        write_variant(corpus, label)
        ref = Engine(make_config(corpus.parent / "index", corpus), embedder=emb)
        ref.index()
        expected[label] = _fingerprint_of(ref.snapshot(), emb)
    assert expected["A"] != expected["B"]

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus / CORPUS_FILE.name)
    write_variant(corpus, "A")
    root = tmp_path / "index"
    engine = Engine(make_config(root, corpus), embedder=emb)
    committed = (engine.index().version, "A")
    seen = {committed[0]}

    mid_write = new_after_kill = multi_segment = 0
    writes: list[float] = []  # how long writing a version took, as the indexer reported it
    started = time.monotonic()
    server = IndexerProcess(root, corpus, tmp_path / "indexer.err")
    try:
        ready = server.expect("ready")
        assert ready == ["ready", "1"], f"the indexer server must be single-threaded: {ready}"
        for k in range(kills):
            server.send("1" if committed[1] == "A" else "0")  # start with the other content
            word, pid = server.expect("pid")[:2]
            if word == "error":
                pytest.fail(f"the indexer server refused to fork: {server.history[-1]}")
            inflight: str | None = None
            lines: list[list[str]] = []
            if k % 2 == 0:
                # Every other kill: at a random moment.
                time.sleep(rng.uniform(0, window))
            else:
                # The others: at a random moment while the new version is being written
                # (measured, so that these land there however loaded the machine is).
                while (rec := server.expect(f"writing (kill {k})"))[0] != "writing":
                    lines.append(rec)
                typical = sorted(writes)[len(writes) // 2] if writes else 0.05
                time.sleep(rng.uniform(0, typical))
            os.kill(int(pid), signal.SIGKILL)
            while (ended := server.expect(f"ended {pid} (kill {k})"))[0] != "ended":
                lines.append(ended)
            for rec in lines:
                if rec[0] == "start":
                    inflight = rec[1]
                elif rec[0] == "done":
                    committed, inflight = (rec[1], rec[2]), None
                    seen.add(rec[1])
                    writes = [*writes[-19:], float(rec[3])]
            rec = ended
            assert rec[1] == pid, f"kill {k}: ended {rec[1]}, expected {pid}"
            status = int(rec[2])
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, server.history
            if _tmp_entries(root):
                mid_write += 1

            snap = store.load_snapshot(root, model_fingerprint=emb.fingerprint, dim=emb.dim)
            multi_segment += len(snap.manifest.segments) > 1
            label = _variant_label(snap)
            if snap.version == committed[0]:
                assert label == committed[1], f"kill {k}: version {snap.version} holds {label}"
            else:
                # Killed after the new version became current, before the indexer said so.
                assert inflight is not None and snap.version not in seen, f"kill {k}"
                assert label == inflight
                new_after_kill += 1
            assert _fingerprint_of(snap, emb) == expected[label], f"kill {k}"

            report = engine.index()  # the next run, in-process
            assert _tmp_entries(root) == [], f"kill {k}: leftovers {_tmp_entries(root)}"
            live = store.load_snapshot(root, model_fingerprint=emb.fingerprint, dim=emb.dim)
            assert live.version == report.version
            committed = (live.version, _variant_label(live))
            seen.add(live.version)
            assert _fingerprint_of(live, emb) == expected[committed[1]]
    finally:
        server.close()

    elapsed = time.monotonic() - started
    print(f"{kills} kills survived, {mid_write} mid-write, {new_after_kill} after the switch, "
          f"{multi_segment} found several segments, {len(seen)} versions, {elapsed:.0f} s")
    assert multi_segment >= 10, f"only {multi_segment} kills left an index of several segments"
    # Much of an indexing run is spent writing the new version; make sure the kills hit it.
    assert mid_write >= 30, f"only {mid_write} of {kills} kills landed while a build was written"


def test_leftovers_of_a_crashed_build_are_removed(tmp_path: Path):
    """A crash can leave a half-written version folder and a half-written CURRENT pointer
    file; the next writer removes both."""
    emb = HashEmbedder()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_variant(corpus, "A")
    root = tmp_path / "index"
    engine = Engine(make_config(root, corpus), embedder=emb)
    live = engine.index().version
    (root / ".tmp-20250101T000000-deadbeef").mkdir()
    (root / ".tmp-20250101T000000-deadbeef" / "passages.jsonl").write_text("{")
    (root / ".tmp-CURRENT-20250101T000000-deadbeef").write_text("v-20250101T000000-deadbeef")
    (root / "v-20250101T000000-cafebabe").mkdir()  # renamed, but CURRENT was never switched
    (root / ".tmp-seg-20250101T000000-deadbeef").mkdir()  # a segment being written
    (root / "seg-20250101T000000-cafebabe").mkdir()  # a segment no version lists
    segments = [p.name for p in _segment_dirs(root)]
    report = engine.index()
    assert not report.changed and report.version == live
    assert _tmp_entries(root) == []
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("v-")) == [f"v-{live}"]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("seg-")) == segments


# --------------------------------------------------------------------------- corruption


class CachingEmbedder:
    """The real model, with vectors memoised by text: every recovery below re-indexes the
    corpus from scratch and repeats the same queries, and embedding the same texts again
    each time would only repeat the same work."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.fingerprint, self.dim = inner.name, inner.fingerprint, inner.dim
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def _encode(self, kind: str, texts: list[str], encode) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (kind, t) not in self._cache]
        if missing:
            for t, v in zip(missing, encode(missing), strict=True):
                self._cache[kind, t] = v
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._cache[kind, t] for t in texts]).astype(np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode("query", texts, self.inner.encode_queries)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self._encode("passage", texts, self.inner.encode_passages)


RECOVERY_QUERIES = ["成都市人形机器人产业基金规模", "山东5G基站将达到多少个"]


class Built:
    """The pristine index, its corpus, and the top results it gives for the recovery queries."""

    def __init__(self, root: Path, corpus: Path, emb: CachingEmbedder) -> None:
        self.root, self.corpus, self.emb = root, corpus, emb
        engine = Engine(make_config(root, corpus), embedder=emb)
        self.top = {q: [h.passage.passage_id for h in engine.search(q, k=5)]
                    for q in RECOVERY_QUERIES}

    def copy(self, dest: Path) -> Path:
        shutil.copytree(self.root, dest)
        return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder) -> Built:
    """A real index of the bundled corpus, built once with the real model."""
    base = tmp_path_factory.mktemp("pristine")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus / CORPUS_FILE.name)
    emb = CachingEmbedder(embedder)
    Engine(make_config(base / "index", corpus), embedder=emb).index()
    return Built(base / "index", corpus, emb)


def _load(built: Built, root: Path) -> store.Snapshot:
    return store.load_snapshot(root, model_fingerprint=built.emb.fingerprint, dim=built.emb.dim)


def _expect_error(built: Built, root: Path, names: str | list[str],
                  kinds: tuple[type[Exception], ...] = INDEX_ERRORS) -> Exception:
    """Loading must fail with one of ``kinds`` whose message names one of ``names``."""
    with pytest.raises(Exception) as info:
        _load(built, root)
    exc = info.value
    assert type(exc) in kinds, f"{type(exc).__name__}: {exc}"
    names = [names] if isinstance(names, str) else names
    assert any(n in str(exc) for n in names), f"{exc} does not name any of {names}"
    assert "\n" not in str(exc)
    return exc


def _assert_recovers(built: Built, root: Path, *, from_scratch: bool = True) -> None:
    """``Engine.index()`` rebuilds a working index that answers as the pristine one did."""
    engine = Engine(make_config(root, built.corpus), embedder=built.emb)
    report = engine.index()
    assert report.changed and report.version
    if from_scratch:
        assert report.rebuilt_from_scratch
    assert _tmp_entries(root) == []
    snap = _load(built, root)
    assert snap.version == report.version
    for q, top in built.top.items():
        assert [h.passage.passage_id for h in engine.search(q, k=5)] == top
    assert not engine.index().changed  # and the rebuilt index is reused as it is


def _version_dir(root: Path) -> Path:
    name = store.current_version(root)
    assert name is not None
    return root / name


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


VERSION_FILES = ("manifest.json", "documents.json")


def _segment_dirs(root: Path) -> list[Path]:
    """The segment folders the live version lists, in its order."""
    manifest = store.read_manifest(_version_dir(root))
    return [root / seg["name"] for seg in manifest.segments]


def _index_file(root: Path, name: str) -> Path:
    """A file of the live index: of its version folder, or of its (single) segment."""
    if name in VERSION_FILES:
        return _version_dir(root) / name
    (segment,) = _segment_dirs(root)
    return segment / name


def _all_files(root: Path) -> list[Path]:
    folder = _version_dir(root)
    return [folder / n for n in _files(folder)] + [
        seg / n for seg in _segment_dirs(root) for n in _files(seg)]


def test_pristine_index_has_the_expected_files(built: Built):
    assert _files(_version_dir(built.root)) == ["documents.json", "manifest.json"]
    (segment,) = _segment_dirs(built.root)
    assert _files(segment) == ["bm25/counts.npy", "bm25/indptr.npy", "bm25/terms.npy",
                               "bm25/vocab.json", "dense.faiss", "figures.jsonl", "passages.jsonl"]


@pytest.mark.parametrize("how", ["zero", "half"])
@pytest.mark.parametrize("name", ["manifest.json", "passages.jsonl", "documents.json",
                                  "figures.jsonl", "dense.faiss", "bm25/vocab.json",
                                  "bm25/terms.npy", "bm25/counts.npy"])
def test_truncated_file_is_reported_and_rebuilt(built: Built, tmp_path: Path, name: str, how: str):
    root = built.copy(tmp_path / "index")
    path = _index_file(root, name)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(0 if how == "zero" else size // 2)
    _expect_error(built, root, str(path), (IndexCorrupt,))
    _assert_recovers(built, root)


FLIP_SEEDS = range(24)


@pytest.mark.parametrize("seed", FLIP_SEEDS)
def test_flipped_byte_is_reported_and_rebuilt(built: Built, tmp_path: Path, seed: int):
    """One byte changed at a random place of a random file (CURRENT included)."""
    rng = random.Random(seed)
    root = built.copy(tmp_path / "index")
    candidates = [*_all_files(root), root / store.CURRENT]
    path = candidates[seed % len(candidates)] if seed < len(candidates) else rng.choice(candidates)
    data = bytearray(path.read_bytes())
    pos = rng.randrange(len(data))
    data[pos] ^= rng.randrange(1, 256)
    path.write_bytes(bytes(data))
    try:
        snap = _load(built, root)
    except Exception as exc:
        assert type(exc) in INDEX_ERRORS, f"{path.name}@{pos}: {type(exc).__name__}: {exc}"
        if path.name in ("manifest.json", store.CURRENT):
            # the damaged manifest or pointer, or a file whose manifest entry changed
            assert str(root) in str(exc), exc
        else:
            assert str(path) in str(exc), exc
        _assert_recovers(built, root)
        return
    # Only bytes that no reader depends on may change unnoticed: a manifest field that is
    # purely descriptive (creation time, ...) or the whitespace around the CURRENT pointer.
    assert path.name in ("manifest.json", store.CURRENT), f"{path}@{pos} went unnoticed"
    _assert_same_data(built, snap)


def _assert_same_data(built: Built, snap: store.Snapshot) -> None:
    pristine = _load(built, built.root)
    assert [p.to_dict() for p in snap.passages] == [p.to_dict() for p in pristine.passages]
    assert snap.tokens == pristine.tokens and snap.documents == pristine.documents
    rows = list(range(len(pristine.passages)))
    assert np.array_equal(snap.vectors(rows), pristine.vectors(rows))
    assert snap.manifest.dim == pristine.manifest.dim
    assert snap.manifest.files == pristine.manifest.files
    assert snap.manifest.segments == pristine.manifest.segments
    assert snap.manifest.runs == pristine.manifest.runs


def test_manifest_with_a_changed_text_character(built: Built, tmp_path: Path):
    """40 random manifest characters replaced by another printable ASCII character (so the
    file stays valid UTF-8, unlike most random flips): loading fails with a clear error, or
    the changed byte was in a field no reader relies on and the data is exactly intact."""
    rng = random.Random(7)
    root = built.copy(tmp_path / "index")
    path = _version_dir(root) / "manifest.json"
    original = path.read_bytes()
    outcomes: dict[str, int] = {}
    for _ in range(40):
        data = bytearray(original)
        pos = rng.randrange(len(data))
        data[pos] = rng.choice([c for c in range(0x20, 0x7F) if c != data[pos]])
        path.write_bytes(bytes(data))
        try:
            snap = _load(built, root)
        except Exception as exc:
            assert type(exc) in INDEX_ERRORS, f"@{pos}: {type(exc).__name__}: {exc}"
            assert str(root) in str(exc)
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
            continue
        _assert_same_data(built, snap)
        outcomes["unnoticed"] = outcomes.get("unnoticed", 0) + 1
    assert outcomes.get("IndexCorrupt", 0) >= 20, outcomes


@pytest.mark.parametrize("name", ["manifest.json", "passages.jsonl", "documents.json",
                                  "dense.faiss", "bm25/indptr.npy"])
def test_deleted_file_is_reported_and_rebuilt(built: Built, tmp_path: Path, name: str):
    root = built.copy(tmp_path / "index")
    path = _index_file(root, name)
    path.unlink()
    _expect_error(built, root, str(path), (IndexCorrupt,))
    _assert_recovers(built, root)


def test_extra_file_in_a_version_is_reported(built: Built, tmp_path: Path):
    root = built.copy(tmp_path / "index")
    (_segment_dirs(root)[0] / "bm25" / "stray.npy").write_bytes(b"x")
    _expect_error(built, root, "stray.npy", (IndexCorrupt,))
    _assert_recovers(built, root)


def test_deleted_version_folder_and_pointer(built: Built, tmp_path: Path):
    root = built.copy(tmp_path / "gone")
    shutil.rmtree(_version_dir(root))
    _expect_error(built, root, str(root / store.CURRENT), (IndexCorrupt,))
    _assert_recovers(built, root)

    root = built.copy(tmp_path / "no-segment")
    (segment,) = _segment_dirs(root)
    shutil.rmtree(segment)
    _expect_error(built, root, str(segment), (IndexCorrupt,))
    _assert_recovers(built, root)

    root = built.copy(tmp_path / "no-pointer")
    (root / store.CURRENT).unlink()
    _expect_error(built, root, str(root), (IndexMissing,))
    _assert_recovers(built, root, from_scratch=False)


def _edit_manifest(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / "manifest.json"
        raw = json.loads(path.read_text(encoding="utf-8"))
        edit(raw)
        path.write_text(json.dumps(raw), encoding="utf-8")
    return apply


def _set(key: str, value: object) -> Callable[[dict], None]:
    return lambda raw: raw.__setitem__(key, value)


def _set_file(name: str, key: str, value: object) -> Callable[[dict], None]:
    """Change a file's entry: of the version folder, or of the segment."""
    def edit(raw: dict) -> None:
        files = raw["files"] if name in VERSION_FILES else raw["segments"][0]["files"]
        files[name][key] = value
    return edit


def _set_run(key: str, value: object) -> Callable[[dict], None]:
    return lambda raw: raw["runs"][0].__setitem__(key, value)


MANIFEST_EDITS: dict[str, tuple[Callable[[dict], None], type[Exception], str]] = {
    "checksum": (_set_file("passages.jsonl", "sha256", "0" * 64), IndexCorrupt, "passages.jsonl"),
    "size": (_set_file("dense.faiss", "bytes", 1), IndexCorrupt, "dense.faiss"),
    "fingerprint": (_set("model_fingerprint", "0123456789abcdef"), IndexMismatch, "manifest.json"),
    "format": (_set("format", store.FORMAT_VERSION + 1), IndexMismatch, "manifest.json"),
    "old format": (_set("format", 2), IndexMismatch, "index format 2"),  # before segments
    "dim": (_set("dim", 768), IndexMismatch, "manifest.json"),
    "passages": (_set("passages", 1), IndexCorrupt, "v-"),
    "unlisted file": (lambda raw: raw["files"].pop("documents.json"), IndexCorrupt,
                      "documents.json"),
    "unlisted segment file": (lambda raw: raw["segments"][0]["files"].pop("figures.jsonl"),
                              IndexCorrupt, "figures.jsonl"),
    "documents checksum": (_set_file("documents.json", "sha256", "0" * 64), IndexCorrupt,
                           "documents.json"),
    "missing segment": (lambda raw: raw["segments"][0].__setitem__(
        "name", "seg-19990101T000000-00000000"), IndexCorrupt, "seg-19990101T000000-00000000"),
    "segment name escapes": (lambda raw: raw["segments"][0].__setitem__("name", "../seg-x"),
                             IndexCorrupt, "manifest.json"),
    "segment row count": (lambda raw: raw["segments"][0].__setitem__("passages", 1),
                          IndexCorrupt, "manifest.json"),
    "run past its segment": (_set_run("end", 10_000), IndexCorrupt, "manifest.json"),
    "run shortened": (_set_run("end", 3), IndexCorrupt, "v-"),
    "run of another source": (_set_run("source", "other.txt"), IndexCorrupt, "other.txt"),
    "run of no segment": (_set_run("segment", 1), IndexCorrupt, "manifest.json"),
    "runs not a list": (_set("runs", {}), IndexCorrupt, "manifest.json"),
    "unknown field": (_set("extra", 1), IndexCorrupt, "manifest.json"),
    "missing field": (lambda raw: raw.pop("dim"), IndexCorrupt, "manifest.json"),
    "files not a mapping": (_set("files", []), IndexCorrupt, "manifest.json"),
    "file entry not a mapping": (_set_file("dense.faiss", "bytes", None), IndexCorrupt,
                                 "dense.faiss"),
    "not an object": (lambda raw: raw.clear(), IndexCorrupt, "manifest.json"),
}


@pytest.mark.parametrize("case", list(MANIFEST_EDITS))
def test_mismatched_manifest_is_reported_and_rebuilt(built: Built, tmp_path: Path, case: str):
    edit, kind, name = MANIFEST_EDITS[case]
    root = built.copy(tmp_path / "index")
    _edit_manifest(edit)(_version_dir(root))
    _expect_error(built, root, name, (kind,))
    _assert_recovers(built, root)


GARBAGE_POINTERS: dict[str, bytes] = {
    "empty": b"",
    "spaces": b"  \n",
    "missing version": b"v-19990101T000000-00000000\n",
    "not a version": b"manifest.json\n",
    "path escape": b"v-x/../../etc\n",
    "parent": b"..\n",
    "nul byte": b"v-\x00\n",
    "binary": bytes(range(256)),
    "latin-1": "v-café".encode("latin-1"),
    "long": b"v-" + b"a" * 5000,
}


@pytest.mark.parametrize("case", list(GARBAGE_POINTERS))
def test_garbage_current_pointer_is_reported_and_rebuilt(built: Built, tmp_path: Path, case: str):
    root = built.copy(tmp_path / "index")
    (root / store.CURRENT).write_bytes(GARBAGE_POINTERS[case])
    _expect_error(built, root, str(root / store.CURRENT), (IndexCorrupt,))
    _assert_recovers(built, root)


def test_current_pointer_that_is_a_folder(built: Built, tmp_path: Path):
    root = built.copy(tmp_path / "index")
    (root / store.CURRENT).unlink()
    (root / store.CURRENT).mkdir()
    _expect_error(built, root, str(root / store.CURRENT), (IndexCorrupt,))


# --------------------------------------------------------------------------- query normalisation


def _top_ids(engine: Engine, query: str, k: int = 5) -> list[str]:
    return [h.passage.passage_id for h in engine.search(query, k=k)]


def test_full_width_question_gets_the_results_of_its_ascii_form(corpus_engine):
    ascii_top = _top_ids(corpus_engine, "2025年山东5G基站")
    assert ascii_top
    assert _top_ids(corpus_engine, "２０２５年山东５Ｇ基站") == ascii_top
    assert "27万个" in corpus_engine.search("２０２５年山东５Ｇ基站", k=1)[0].passage.text


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
                                       "\u200e", "\u202e"])
def test_invisible_character_inside_a_word_does_not_break_retrieval(corpus_engine, invisible):
    plain = corpus_engine.search("苏州吴中区机器人基金", k=1)[0].passage
    assert "吴中" in plain.text
    hidden = corpus_engine.search(f"苏{invisible}州吴中区机器人基金", k=1)[0].passage
    assert hidden.passage_id == plain.passage_id
