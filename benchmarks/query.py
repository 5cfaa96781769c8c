"""Query latency in process: ``Engine.search`` (each mode) and ``Engine.ask`` over the
project index, beside the bare query encode + FAISS search of the same queries.

    .venv/bin/python benchmarks/query.py [--external 400] [--threads 1] [--index DIR]

Queries: every question of ``corpus/qa.jsonl`` (follow-ups as written, with their turns for
``ask``) plus a seeded sample of CMRC 2018 + DRCD questions; each query is timed once, in a
fixed order, after a warm-up, with the embedder's recent-query cache emptied before each call
(one extra row: ``ask`` again right after, its query vector cached). Prints a markdown table
of p50/p95 milliseconds; the ratio is p50 of the call / p50 of the bare encode + search.
``--index`` times an index built before (e.g. the 42 reports or a DRCD pool of
``benchmarks/fit_retrieval.py``) instead of the seed page indexed afresh. The hybrid row is
timed twice: the fitted score fusion (the default) and the rank fusion it replaced
(``fusion="rrf"``), side by side on the same index, with their p50 ratio printed below.
``--model-before FILE`` (score-fusion weights of an earlier commit, e.g.
``git show HEAD~1:rag/data/retrieval_model.json``) adds two rows, ``rag.retrieve.search``
with the shipped weights and with those, and their p50 ratio.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _common import CORPUS, OUT, external_questions, load_embedder, machine, md_table, pctl, setup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--external", type=int, default=400, help="external questions (default 400)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--index", type=Path, help="an existing index folder to time (read only)")
    ap.add_argument("--model-before", type=Path,
                    help="score-fusion weights to time beside the shipped ones")
    args = ap.parse_args()
    setup(args.threads)

    from dataclasses import replace

    from rag.config import EngineConfig, RetrievalConfig
    from rag.engine import Engine
    from rag.fusion import load_model
    from rag.qasets import load_qa
    from rag.retrieve import search as retrieve
    from rag.text import normalize

    emb = load_embedder()
    qa = load_qa(CORPUS / "qa.jsonl")
    queries = [(it.question, list(it.turns)) for it in qa]
    queries += [(q, []) for q in external_questions(args.external, seed=2)]
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "corpus"
        corpus.mkdir()
        for f in CORPUS.glob("*.txt"):
            shutil.copy(f, corpus / f.name)
        if args.index is not None:
            cfg = EngineConfig(index_dir=args.index, corpus_dir=None, auto_index=False)
        else:
            cfg = EngineConfig(index_dir=tmp / "index", corpus_dir=corpus)
        engine = Engine(cfg, embedder=emb)
        if args.index is None:
            engine.index()
        snap = engine.snapshot()
        rrf = Engine(replace(cfg, auto_index=False, retrieval=RetrievalConfig(fusion="rrf")),
                     embedder=emb)
        for q, turns in queries[:10]:  # warm-up
            engine.ask(q, history=turns)

        def bare(q: str) -> None:
            vec = emb.encode_queries([normalize(q)])
            snap.dense.search(vec, 10)

        # (name, call, whether the engine's query-vector cache is emptied before it)
        calls = [
            ("bare encode + FAISS search", lambda q, t: bare(q), True),
            ("Engine.search hybrid (k=5)", lambda q, t: engine.search(q, k=5), True),
            ("Engine.search hybrid, rank fusion (k=5)",
             lambda q, t: rrf.search(q, k=5, snapshot=snap), True),
            ("Engine.search dense (k=5)", lambda q, t: engine.search(q, k=5, mode="dense"), True),
            ("Engine.search bm25 (k=5)", lambda q, t: engine.search(q, k=5, mode="bm25"), True),
            ("Engine.ask", lambda q, t: engine.ask(q, history=t), True),
            ("Engine.ask, query vector cached", lambda q, t: engine.ask(q, history=t), False),
        ]
        if args.model_before is not None:
            shipped, before = load_model(), load_model(args.model_before)
            score = RetrievalConfig()
            calls += [
                ("retrieve.search hybrid, shipped weights (k=5)",
                 lambda q, t: retrieve(snap, emb, q, k=5, cfg=score, model=shipped), True),
                (f"retrieve.search hybrid, {args.model_before.name} (k=5)",
                 lambda q, t: retrieve(snap, emb, q, k=5, cfg=score, model=before), True),
            ]
        cache = getattr(emb, "_cache", None)  # recent query vectors (rag.embed)
        times: dict[str, list[float]] = {name: [] for name, _, _ in calls}
        for q, turns in queries:
            for name, fn, cold in calls:
                if cold and cache is not None:
                    cache.clear()
                t0 = time.perf_counter()
                fn(q, turns)
                times[name].append(1000.0 * (time.perf_counter() - t0))
    base = pctl(times["bare encode + FAISS search"], 50)
    rows = [[name, len(ts), pctl(ts, 50), pctl(ts, 95), max(ts), pctl(ts, 50) / base]
            for name, ts in times.items()]
    print(f"query latency — {len(queries)} queries ({len(qa)} project + {args.external} "
          f"CMRC/DRCD) over {args.index or 'the corpus index'} ({len(snap.passages)} passages); {machine()}\n")
    print(md_table(["call", "queries", "p50 ms", "p95 ms", "max ms", "p50 / bare p50"], rows))
    ratio = pctl(times["Engine.search hybrid (k=5)"], 50) / pctl(
        times["Engine.search hybrid, rank fusion (k=5)"], 50)
    print(f"\nhybrid p50, score fusion / rank fusion: {ratio:.2f}")
    if args.model_before is not None:
        now = pctl(times["retrieve.search hybrid, shipped weights (k=5)"], 50)
        then = pctl(times[f"retrieve.search hybrid, {args.model_before.name} (k=5)"], 50)
        print(f"hybrid p50, shipped weights / {args.model_before.name}: {now / then:.2f}")


if __name__ == "__main__":
    main()
