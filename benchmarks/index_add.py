"""Incremental add: one report-sized document (~10 pages) added to an index of the 42
Government Work Reports at 1x, 4x and 16x corpus size, beside a full rebuild.

    .venv/bin/python benchmarks/index_add.py [--scales 1,4,16] [--adds 3]

The 1x index is built by ``Engine.index`` over ``../shared/corpus-policy`` (that is the full
rebuild at 1x). The 4x and 16x indexes are made from it by copying every document under new
names and ids (``copy-K/<name>``: new passage ids, the same texts, tokens, figures and
vectors) and compacting into one segment, which is what indexing the copied files would give
but without parsing and extracting figures from 16 x 42 reports again (about an hour on this
machine); their full rebuild is therefore scaled from the 1x one (marked "est."). Each add is
``Engine.index([file])`` on a new document (the 2014 report with a distinct first line): its
parse, chunking, figures, encoding and write. Vectors come from a FAKE fast embedder (seeded
random unit vectors per text) so that the table shows the index's own cost; the real encoder
adds the same time per added document at every corpus size (~110 chunks).

"warm" adds run in the process that wrote the index (file checksums already known); "cold"
forgets them first, as a new process would, and re-reads every segment once to verify it.
"reload" is loading the new version for search (all segments, global BM25), a read cost.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _common import OUT, machine, md_table, timed

POLICY = Path("/work/shared/corpus-policy")


class FakeEmbedder:
    """FAKE: a seeded random unit vector per text (fast, deterministic); not a model."""

    name = "fake-random-384"
    fingerprint = "fake-random-384"
    dim = 384

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


def scaled_copy(base: Path, dest: Path, scale: int, engine_ident: object) -> None:
    """``dest``: the index at ``base`` plus ``scale - 1`` renamed copies of every document,
    compacted into one segment."""
    from rag import index as store
    from rag import segments
    from rag.types import content_id

    shutil.copytree(base, dest)
    snap = store.load_snapshot(dest)
    vectors = snap.dense.reconstruct_n(0, snap.dense.ntotal)
    segs = list(snap.manifest.segments)
    runs = list(snap.manifest.runs)
    docs = list(snap.documents)
    with store.write_lock(dest):
        for k in range(1, scale):
            def moved(source: str, k: int = k) -> str:
                return f"copy-{k}/{source}"
            passages = [replace(p, passage_id=content_id(k, p.passage_id),
                                doc_id=content_id(k, p.doc_id), source=moved(p.source))
                        for p in snap.passages]
            segs.append(store.write_segment(dest, passages=passages, tokens=snap.tokens,
                                            vectors=vectors, figures=snap.figures,
                                            dim=snap.manifest.dim, ann=snap.manifest.ann))
            runs += [{**r, "segment": len(segs) - 1, "source": moved(r["source"])}
                     for r in snap.manifest.runs]
            docs += [replace(d, doc_id=content_id(k, d.doc_id), source=moved(d.source))
                     for d in snap.documents]
        order = sorted(range(len(docs)), key=lambda i: docs[i].source)
        by_source = {r["source"]: r for r in runs}
        m = snap.manifest
        store.write_version(
            dest, segments=segs, runs=[by_source[docs[i].source] for i in order],
            documents=[docs[i] for i in order], figures=m.figures * scale, model=m.model,
            model_fingerprint=m.model_fingerprint, dim=m.dim, chunking=m.chunking,
            chunk_digest=m.chunk_digest, ann=m.ann, figure_digest=m.figure_digest)
        segments.compact(dest, engine_ident)  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,4,16")
    ap.add_argument("--adds", type=int, default=3, help="adds per corpus size (median shown)")
    args = ap.parse_args()
    scales = [int(x) for x in args.scales.split(",")]

    from rag import index as store
    from rag.config import EngineConfig
    from rag.engine import Engine

    emb = FakeEmbedder()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(dir=OUT) as tmp_name:
        tmp = Path(tmp_name)

        def engine(root: Path) -> Engine:
            return Engine(EngineConfig(index_dir=root, corpus_dir=None,
                                       model_cache=tmp / "unused"), embedder=emb)

        base = tmp / "base"
        report, t_build = timed(engine(base).index, [POLICY])
        new_docs = tmp / "new"
        new_docs.mkdir()
        text = (POLICY / "2014-政府工作报告.txt").read_text(encoding="utf-8")
        for s in scales:
            root = tmp / f"index-{s}x"
            ident = engine(base)._identity(emb)
            if s == 1:
                shutil.copytree(base, root)
            else:
                scaled_copy(base, root, s, ident)
            live = store.load_snapshot(root)
            warm, cold, reload = [], [], []
            for j in range(args.adds):
                for kind, times in (("warm", warm), ("cold", cold)):
                    doc = new_docs / f"{s}x-{j}-{kind}-新增报告.txt"
                    doc.write_text(f"新增文档 {s}-{j}-{kind}\n\n" + text, encoding="utf-8")
                    if kind == "cold":
                        store._HASHED.clear()
                    e = engine(root)
                    added, t_add = timed(e.index, [doc])
                    assert added.added == [doc.name] and added.segments >= 2, added
                    times.append(t_add)
                    _, t_load = timed(e.snapshot)
                    reload.append(t_load)
            chunks = added.embedded
            rebuild = t_build * s
            rows.append([f"{s}x", live.manifest.documents, live.manifest.passages, chunks,
                         statistics.median(warm), statistics.median(cold),
                         statistics.median(reload),
                         f"{rebuild:.1f}" + ("" if s == 1 else " (est.)"),
                         rebuild / statistics.median(warm)])
    print(f"incremental add — {machine()}, FAKE embedder (seeded random vectors), "
          f"1x build {report.passages} passages in {t_build:.1f} s, median of {args.adds}\n")
    print(md_table(["corpus", "documents", "passages", "added chunks", "add warm (s)",
                    "add cold (s)", "reload (s)", "full rebuild (s)", "rebuild / add"], rows))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
