"""Fusion weights, RRF k and chunk size, measured with the evaluation library.

    .venv/bin/python benchmarks/sweep.py [--limit 300] [--eval-out benchmarks/out/eval]

Variants: dense_weight in {0, 0.3, 0.5, 1.0} (bm25_weight 1.0) × rrf_k in {60, 10} at the
default chunking (240/60) and the default figure-ranking weight (0.5); three of them without
figure ranking (figure 0); then chunk size 120/30 and 400/100 at the default fusion. Each is
scored on the project set (hybrid retrieval + answers) and, for the fusion variants, on the
same CMRC 2018 / DRCD samples as ``rag eval --limit`` (vectors from the eval's cache: run
``rag eval ... --limit 300 --out benchmarks/out/eval`` first, or they are encoded here).
Query vectors are memoised across variants (encoding is deterministic), so only ranking and
answering are repeated.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _common import CORPUS, EXTERNAL, EXTERNAL_SETS, OUT, load_embedder, machine, md_table, setup


class MemoEmbedder:
    """Caches query vectors; passages go to the wrapped model."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.fingerprint, self.dim = inner.name, inner.fingerprint, inner.dim
        self._q: dict[str, np.ndarray] = {}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._q]
        if missing:
            for t, v in zip(missing, self.inner.encode_queries(missing), strict=True):
                self._q[t] = v
        return np.stack([self._q[t] for t in texts])

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return self.inner.encode_passages(texts, progress=progress)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=300, help="questions per external set")
    ap.add_argument("--pool", type=int, default=1000, help="passages per external set")
    ap.add_argument("--eval-out", type=Path, default=OUT / "eval",
                    help="folder of a `rag eval` run whose vector cache to reuse")
    ap.add_argument("--no-external", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup(args.threads)

    from rag import evaluate as ev
    from rag import qasets
    from rag.chunk import ChunkConfig
    from rag.config import EngineConfig, RetrievalConfig
    from rag.engine import Engine

    emb = MemoEmbedder(load_embedder())
    out = OUT / "sweep"
    base = EngineConfig(index_dir=out / "unused", corpus_dir=CORPUS)
    items = qasets.load_qa(CORPUS / "qa.jsonl")
    hybrid = ev.EvalOptions(modes=("hybrid",), ks=(1, 3, 5, 10))

    external: list[tuple[str, Engine, list[qasets.QAItem]]] = []
    cache = ev.VectorCache(args.eval_out / "cache", emb.fingerprint, emb.dim)
    if not args.no_external:
        for name in EXTERNAL_SETS:
            qa, passages = qasets.load_external(EXTERNAL / f"qa_{name}.jsonl",
                                            EXTERNAL / f"passages_{name}.jsonl")
            qa = qasets.sample(qa, args.limit, 0)
            pool = qasets.passage_pool(qa, passages, args.pool, 0)
            eng = ev.passages_engine(out / "index" / name, pool, emb, base, cache=cache,
                                     progress=True)
            external.append((name, eng, qa))

    fusion = [RetrievalConfig(dense_weight=w, bm25_weight=1.0, rrf_k=k)
              for k in (60, 10) for w in (0.0, 0.3, 0.5, 1.0)]
    variants: list[tuple[str, EngineConfig, bool]] = [
        (f"dense {r.dense_weight} / bm25 1.0, rrf_k {r.rrf_k}, chunk 240/60",
         replace(base, retrieval=r), True) for r in fusion
    ]
    variants += [(f"dense {w} / bm25 1.0, rrf_k {k}, figure 0, chunk 240/60",
                  replace(base, retrieval=RetrievalConfig(dense_weight=w, rrf_k=k,
                                                          figure_weight=0.0)), True)
                 for w, k in ((0.5, 60), (0.3, 10), (0.5, 10))]
    variants += [(f"dense 0.5 / bm25 1.0, rrf_k 60, chunk {s}/{o}",
                  replace(base, chunking=ChunkConfig(size=s, overlap=o)), False)
                 for s, o in ((120, 30), (400, 100))]
    rows = []
    for label, cfg, with_ext in variants:
        proj = ev.evaluate_project(ev.project_engine(cfg, out, emb, cache=cache), items,
                                   hybrid)
        h = proj.retrieval["hybrid"]
        a = proj.answers
        row: list[Any] = [label, proj.passages, h["recall@1"], h["recall@3"], h["recall@5"],
                          h["mrr@10"], h["ndcg@10"], a["answer_accuracy"], a["figure_accuracy"],
                          a["refusal_accuracy"]]
        for _name, eng, qa in external:
            if with_ext:
                e = Engine(replace(eng.config, retrieval=cfg.retrieval), embedder=emb)
                r = ev.evaluate_external(e, qa, replace(hybrid, answers=False), _name)
                row += [r.retrieval["hybrid"]["recall@5"], r.retrieval["hybrid"]["mrr@10"]]
            else:
                row += ["–", "–"]
        rows.append(row)
        print(label, "done", flush=True)
    headers = ["variant", "passages", "R@1", "R@3", "R@5", "MRR@10", "nDCG@10", "answer acc",
               "figure acc", "refusal acc"]
    for name, _, _qa in external:
        headers += [f"{name} R@5", f"{name} MRR@10"]
    print(f"\nsweep (hybrid) — project set {len(items)} questions"
          + "".join(f"; {n} {len(q)} q / {e.snapshot().manifest.passages} passages"
                    for n, e, q in external) + f"; {machine()}\n")
    print(md_table(headers, rows))


if __name__ == "__main__":
    main()
