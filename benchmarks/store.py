"""The two vector stores side by side, in one run: the FAISS folder store (RAG_STORE=faiss)
and Milvus (Milvus Lite embedded, and the same engine as a loopback gRPC server).

    .venv/bin/python benchmarks/store.py [--policy DIR] [--synthetic 200000] [--queries 300]

1. The 42 Government Work Reports: ``Engine.index`` of the folder into each store (vectors
   come from a cache filled by a warm-up build first, so both builds time parsing, chunking,
   the figure store and writing, not the model), then every question of corpus/qa_policy.jsonl
   searched (hybrid and dense) with per-query p50/p95, recall@10 and MRR@10 per fit/test
   half (rag.evaluate), and how many hybrid top-10 lists equal the FAISS store's.
2. Synthetic rows (``--synthetic``): vectors that are L2-normalised means of 2–4 of the
   reports' passage vectors, written as one segment (batched inserts for Milvus), then dense
   top-10 for real question vectors: p50/p95, and recall@10 against FAISS exact search.

Prints markdown tables (benchmarks/README.md, "Vector stores").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import OUT, REPO, load_embedder, machine, md_table, model_cache, pctl, setup, timed

POLICY = Path(os.environ.get("RAG_POLICY_DATA", "/work/shared/corpus-policy"))
QA = REPO / "corpus" / "qa_policy.jsonl"


def _server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server",
                             "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    raise SystemExit("milvus-lite server did not start")


def _policy(args: argparse.Namespace, tmp: Path, stores: dict[str, str], emb: Any) -> Any:
    from rag.config import EngineConfig
    from rag.engine import Engine
    from rag.evaluate import CachedEmbedder, EvalOptions, VectorCache, evaluate_project
    from rag.qasets import load_qa

    cache = VectorCache(OUT / "store" / "cache", emb.fingerprint, emb.dim)
    cached = CachedEmbedder(emb, cache)
    corpus = tmp / "policy"
    shutil.copytree(args.policy, corpus)

    def engine(name: str, spec: str) -> Engine:
        cfg = EngineConfig(index_dir=tmp / f"idx_{name}", corpus_dir=corpus, store=spec,
                           model_cache=model_cache())
        return Engine(cfg, embedder=cached)

    warm = engine("warm", "faiss").index()  # fills the vector cache
    cache.save()
    items = [it for it in load_qa(QA) if it.gold is not None]
    opts = EvalOptions(modes=("hybrid", "dense"), answers=False)
    rows_build, rows_query, tops = [], [], {}
    for name, spec in stores.items():
        eng = engine(name, spec)
        report, t_build = timed(eng.index)
        snap, t_load = timed(eng.snapshot)
        assert report.passages == warm.passages == len(snap.passages)
        rows_build.append([name, report.documents, report.passages, report.figures, t_build,
                           t_load])
        lat: dict[str, list[float]] = {"hybrid": [], "dense": []}
        tops[name] = []
        for it in items:
            for mode in lat:
                hits, t = timed(eng.search, it.question, k=10, mode=mode)
                lat[mode].append(t * 1000)
                if mode == "hybrid":
                    tops[name].append([h.passage.passage_id for h in hits])
        rep = evaluate_project(eng, items, opts, "policy")
        halves = rep.retrieval_halves
        for mode in ("hybrid", "dense"):
            rows_query.append([name, mode, pctl(lat[mode], 50), pctl(lat[mode], 95)]
                              + [halves[h][mode][m] for h in ("fit", "test")
                                 for m in ("recall@10", "mrr@10")])
    same = {n: sum(a == b for a, b in zip(tops["faiss"], t, strict=True)) for n, t in tops.items()}
    print(f"### 42 reports: build and queries — {machine()}\n")
    print(md_table(["store", "documents", "passages", "figures", "index s (vectors cached)",
                    "load s"], rows_build))
    print()
    print(md_table(["store", "mode", "p50 ms", "p95 ms", "fit recall@10", "fit MRR@10",
                    "test recall@10 (held out)", "test MRR@10 (held out)"], rows_query))
    print(f"\n{len(items)} questions; hybrid top-10 identical to the FAISS store's: "
          + ", ".join(f"{n} {same[n]}/{len(items)}" for n in stores) + "\n")
    return warm, cached, items


def _synthetic(args: argparse.Namespace, tmp: Path, stores: dict[str, str], emb: Any,
               items: Any) -> None:
    from rag import store_milvus
    from rag.retrieve import passage_index_text
    from rag.store import open_store
    from rag.text import normalize
    from rag.types import Passage

    src = open_store("faiss", tmp / "idx_warm").load_snapshot()
    base = src.vectors(list(range(len(src.passages))))
    rng = np.random.default_rng(0)
    n = args.synthetic
    k = rng.integers(2, 5, size=n)
    vecs = np.zeros((n, emb.dim), dtype=np.float32)
    for j in range(4):
        pick = rng.integers(0, len(base), size=n)
        vecs += np.where((j < k)[:, None], base[pick], 0.0)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    passages = [Passage(f"syn{i:07d}", "synthetic", "synthetic.txt", "合成", None, None,
                        "body", passage_index_text(src.passages[i % len(src.passages)])[:80],
                        0, 80) for i in range(n)]
    tokens = [["合成"] for _ in range(n)]
    figures: list[tuple[Any, ...]] = [() for _ in range(n)]
    qv = emb.encode_queries([normalize(it.question) for it in items][:args.queries])
    rows, exact = [], None
    for name, spec in stores.items():
        st = open_store(spec, tmp / f"syn_{name}")
        with st.write_lock():
            seg, t_write = timed(st.write_segment, passages=passages, tokens=tokens,
                                 vectors=vecs, figures=figures, dim=emb.dim, ann="flat")
            st.write_version(segments=[seg], runs=[{"segment": 0, "start": 0, "end": n,
                                                    "source": None}],
                             documents=[], figures=0, model=emb.name,
                             model_fingerprint=emb.fingerprint, dim=emb.dim, chunking={},
                             chunk_digest="synthetic", ann="flat", figure_digest="")
        snap, t_load = timed(st.load_snapshot)
        lat, ids = [], []
        for q in qv:
            (_, found), t = timed(snap.dense.search, q.reshape(1, -1), 10)
            lat.append(t * 1000)
            ids.append(set(found[0].tolist()))
        if exact is None:
            exact = ids
        recall = float(np.mean([len(a & b) / 10 for a, b in zip(ids, exact, strict=True)]))
        rows.append([name, n, t_write, n / t_write, t_load, pctl(lat, 50), pctl(lat, 95), recall])
        del snap
    store_milvus.close_clients()
    print(f"### {n:,} synthetic rows: write and dense top-10 — {machine()}\n")
    print(md_table(["store", "rows", "write s", "rows/s", "load s", "dense p50 ms",
                    "dense p95 ms", "recall@10 vs FAISS exact"], rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", type=Path, default=POLICY)
    ap.add_argument("--synthetic", type=int, default=200_000, help="rows (0: skip)")
    ap.add_argument("--queries", type=int, default=300, help="synthetic: question vectors")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    emb = load_embedder()
    with tempfile.TemporaryDirectory(dir=OUT) as t:
        tmp = Path(t)
        proc, uri = _server(tmp / "server-db")
        try:
            stores = {"faiss": "faiss", "milvus-lite": f"milvus-lite:{tmp / 'lite.db'}",
                      "milvus server": uri}
            t0 = time.perf_counter()
            _, _, items = _policy(args, tmp, stores, emb)
            if args.synthetic:
                _synthetic(args, tmp, stores, emb, items)
            print(f"\n(total {time.perf_counter() - t0:.0f} s; "
                  f"command: `{' '.join(['.venv/bin/python', *sys.argv])}`)")
            print(json.dumps({"synthetic": args.synthetic}))
        finally:
            from rag import store_milvus

            store_milvus.close_clients()
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
