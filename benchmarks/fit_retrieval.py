"""Fit the hybrid retrieval score model (``rag/data/retrieval_model.json``) on the fit halves
of the QA sets, and report every set's fit and test halves apart, with an ablation.

    RAG_THREADS=1 .venv/bin/python benchmarks/fit_retrieval.py [--limit 1000] [--reuse]

1. Gathers, for every question of four sets, the candidates the score model ranks
   (``rag.retrieve.fusion_candidates``: the first 50 passages of BM25 and of the dense
   ranking, with every feature of ``rag.fusion.FEATURES``), which rows are gold, and the
   rank of the first gold passage under BM25, dense and today's rank fusion
   (``fusion="rrf"``). Sets: CMRC 2018 and DRCD (``--limit`` questions each, seed 0, a
   1,000-passage pool as ``rag eval --limit`` builds it; halves by
   ``rag.qasets.external_split``), the policy set (``corpus/qa_policy.jsonl`` over the 42
   reports, its ``split`` field), the seed set (``corpus/qa.jsonl`` over ``corpus/``,
   halved by ``external_split`` of its ids). Saved to ``benchmarks/out/retr-fit/``;
   ``--reuse`` refits from there.
2. Fits a pairwise logistic model (gold minus each non-gold candidate of the same
   question; every set weighs the same, every question the same within its set) on the fit
   halves only, for each variant of the ablation, and ranks every half with it.
3. Chooses the variant by two-fold cross-validation within the fit halves (the test halves
   play no part; the simplest variant within 0.001 of the best score), writes its weights
   (fitted on all fit halves; ``--keep`` picks another) to the model file and prints
   markdown tables: MRR@10 and recall@5 per set and half for
   BM25, dense, rank fusion and each variant.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from _common import EXTERNAL, OUT, load_embedder, machine, md_table, setup  # noqa: E402

FIT_DIR = OUT / "retr-fit"
MODEL_PATH = REPO / "rag" / "data" / "retrieval_model.json"
GATHER_DEPTH = 50
CV_TIE = 0.001
SETS = ("cmrc2018", "drcd_simplified", "policy", "seed")

# name, features, candidate depth (the first `depth` of each ranking are ranked)
VARIANTS: list[tuple[str, tuple[str, ...], bool, int]] = [
    ("ranks only (fitted RRF)", ("bm25_rank", "dense_rank"), False, 30),
    ("+ scores (normalised BM25, cosine gap)", ("bm25", "bm25_rank", "cosine_gap", "dense_rank"),
     False, 30),
    ("+ query-dependent weights", ("bm25", "bm25_rank", "cosine_gap", "dense_rank"), True, 30),
    ("+ term coverage", ("bm25", "bm25_rank", "cosine_gap", "dense_rank", "coverage"), True, 30),
    ("+ figure evidence", ("bm25", "bm25_rank", "cosine_gap", "dense_rank", "coverage",
                           "figure"), True, 30),
    ("+ proximity (best window, adjacent pairs)", ("bm25", "bm25_rank", "cosine_gap",
                                                   "dense_rank", "coverage", "figure",
                                                   "window", "bigram"), True, 30),
    ("+ PRF", ("bm25", "bm25_rank", "cosine_gap", "dense_rank", "coverage", "figure",
               "window", "bigram", "prf"), True, 30),
    ("+ calibrated cosine, sharp ranks", ("bm25", "bm25_rank", "cosine_gap", "dense_rank",
                                          "coverage", "figure", "window", "bigram", "prf",
                                          "cosine_z", "bm25_top", "dense_top"), True, 30),
]


def _base(corpus: Path | None) -> Any:
    from rag.settings import Settings

    return replace(Settings().engine_config(), corpus_dir=corpus, auto_index=False)


def _question_rows(engine: Any, emb: Any, cases: list[tuple[str, str, str, set[str]]],
                   name: str) -> list[dict[str, Any]]:
    """Gather candidates and single-mode ranks of (id, split, query, gold ids) cases."""
    from rag.config import RetrievalConfig
    from rag.fusion import FEATURES, RANK_K
    from rag.retrieve import dense_ranking, fusion_candidates
    from rag.retrieve import search as retrieve
    from rag.text import normalize

    snap = engine.snapshot()
    rrf = RetrievalConfig(fusion="rrf")
    out = []
    t0 = time.perf_counter()
    for cid, split, query, gold in cases:
        qvec = emb.encode_queries([normalize(query)])[0]
        dense = dense_ranking(snap, qvec, 100)
        c = fusion_candidates(snap, query, qvec, dense, depth=GATHER_DEPTH, figure_depth=20,
                              prf_depth=3, prf_size=10)
        gold_rows = [j for j, i in enumerate(c.rows) if snap.passages[i].passage_id in gold]
        bm25_r = RANK_K / c.features[:, FEATURES.index("bm25_rank")] - RANK_K
        dense_r = RANK_K / np.maximum(c.features[:, FEATURES.index("dense_rank")], 1e-9) - RANK_K


        hits = retrieve(snap, emb, query, k=10, cfg=rrf)
        rrf_rank = next((h.rank for h in hits if h.passage.passage_id in gold), None)
        out.append({"set": name, "id": cid, "split": split, "features": c.features,
                    "query": c.query, "gold": gold_rows, "bm25_rank": _first(bm25_r, gold_rows),
                    "dense_rank": _first(dense_r, gold_rows), "rrf_rank": rrf_rank})
    print(f"{name}: {len(cases)} questions, {len(snap.passages)} passages, "
          f"{time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return out


def _first(ranks: np.ndarray, rows: list[int]) -> int | None:
    """The best rank among the gold rows (None: no gold row among the candidates)."""
    r = [round(float(ranks[j])) for j in rows]
    return min(r) if r else None


def gather(limit: int, pool: int) -> list[dict[str, Any]]:
    from rag.evaluate import VectorCache, passages_engine, project_engine
    from rag.qasets import (
        effective_query,
        external_split,
        load_external,
        load_qa,
        passage_pool,
        sample,
    )

    emb = load_embedder()
    cache = VectorCache(OUT / "retr" / "cache", emb.fingerprint, emb.dim)
    rows: list[dict[str, Any]] = []
    for name in SETS[:2]:
        items, passages = load_external(EXTERNAL / f"qa_{name}.jsonl",
                                        EXTERNAL / f"passages_{name}.jsonl")
        items = sample(items, limit, 0)
        ppool = passage_pool(items, passages, pool, 0)
        engine = passages_engine(FIT_DIR / "index" / name, ppool, emb, _base(None), cache=cache,
                                 progress=True)
        cases = [(it.id, external_split(it.id), it.question, {it.passage_id or ""})
                 for it in items]
        rows += _question_rows(engine, emb, cases, name)
    for name, corpus, qa in (
            ("policy", REPO.parent / "shared" / "corpus-policy", REPO / "corpus" / "qa_policy.jsonl"),
            ("seed", REPO / "corpus", REPO / "corpus" / "qa.jsonl")):
        engine = project_engine(_base(corpus), FIT_DIR / name, emb, cache=cache)
        snap = engine.snapshot()
        cases = []
        for it in load_qa(qa):
            if it.gold is None:
                continue
            gold = {p.passage_id for p in snap.passages if it.gold.matches(p)}
            cases.append((it.id, it.split or external_split(it.id), effective_query(it), gold))
        rows += _question_rows(engine, emb, cases, name)
    return rows


def _design(r: dict[str, Any], feats: tuple[str, ...], by_query: bool) -> np.ndarray:
    from rag.fusion import FEATURES, QUERY_FEATURES

    f = r["features"][:, [FEATURES.index(x) for x in feats]]
    q = r["query"] if by_query else np.eye(len(QUERY_FEATURES), dtype=np.float32)[0]
    return (f[:, :, None] * q[None, None, :]).reshape(len(f), -1)


def _in_depth(r: dict[str, Any], depth: int) -> np.ndarray:
    """Candidate rows within the first ``depth`` of either ranking."""
    from rag.fusion import FEATURES, RANK_K

    f = r["features"]
    lim = RANK_K / (RANK_K + depth) - 1e-6
    return np.asarray((f[:, FEATURES.index("bm25_rank")] >= lim)
                      | (f[:, FEATURES.index("dense_rank")] >= lim))


def fit(rows: list[dict[str, Any]], feats: tuple[str, ...], by_query: bool, depth: int,
        c: float = 1.0) -> np.ndarray:
    """Pairwise logistic weights over the fit halves (no intercept; both signs of every
    difference, so the problem is symmetric)."""
    from sklearn.linear_model import LogisticRegression

    xs: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    fit_rows = [r for r in rows if r["split"] == "fit" and r["gold"]]
    per_set = {s: sum(r["set"] == s for r in fit_rows) for s in SETS}
    for r in fit_rows:
        keep = _in_depth(r, depth)
        x = _design(r, feats, by_query)
        gold = [j for j in r["gold"] if keep[j]]
        neg = [j for j in range(len(x)) if keep[j] and j not in r["gold"]]
        if not gold or not neg:
            continue
        d = (x[gold][:, None, :] - x[neg][None, :, :]).reshape(-1, x.shape[1])
        xs.append(d)
        ws.append(np.full(len(d), 1.0 / (len(d) * per_set[r["set"]])))
    x_all = np.vstack(xs)
    w_all = np.concatenate(ws)
    w_all = w_all / w_all.mean()
    x2 = np.vstack([x_all, -x_all])
    y2 = np.concatenate([np.ones(len(x_all)), np.zeros(len(x_all))])
    m = LogisticRegression(fit_intercept=False, C=c, max_iter=2000)
    m.fit(x2, y2, sample_weight=np.concatenate([w_all, w_all]))
    return np.asarray(m.coef_[0], dtype=np.float64)


def rank_of_gold(r: dict[str, Any], w: np.ndarray, feats: tuple[str, ...], by_query: bool,
                 depth: int) -> int | None:
    keep = _in_depth(r, depth)
    s = _design(r, feats, by_query) @ w
    s = np.where(keep, s, -np.inf)
    order = np.argsort(-s, kind="stable")
    gold = set(r["gold"])
    for rank, j in enumerate(order[:10], start=1):
        if not keep[j]:
            return None
        if int(j) in gold:
            return rank
    return None


def metrics(ranks: list[int | None]) -> tuple[float, float]:
    n = max(len(ranks), 1)
    mrr = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n
    r5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    return mrr, r5


def cross_validated(rows: list[dict[str, Any]], feats: tuple[str, ...], by_query: bool,
                    depth: int) -> float:
    """Mean MRR@10 + recall@5 over the sets, two-fold within the fit halves (folds by the
    second byte of the id's sha1): how the variant is chosen without the test halves."""
    import hashlib

    fold = {r["id"]: hashlib.sha1(r["id"].encode("utf-8")).digest()[1] % 2 for r in rows}
    fit_rows = [r for r in rows if r["split"] == "fit"]
    per_set: dict[str, list[int | None]] = {s: [] for s in SETS}
    for k in (0, 1):
        train = [r for r in fit_rows if fold[r["id"]] != k]
        w = fit(train, feats, by_query, depth)
        for r in fit_rows:
            if fold[r["id"]] == k:
                per_set[r["set"]].append(rank_of_gold(r, w, feats, by_query, depth))
    return sum(sum(metrics(v)) for v in per_set.values() if v) / (2 * len(SETS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1000, help="questions per external set")
    ap.add_argument("--pool", type=int, default=1000, help="passages per external set")
    ap.add_argument("--reuse", action="store_true", help="refit from the gathered candidates")
    ap.add_argument("--keep", type=int,
                    help="which variant's weights to write (index; default: the best by "
                         "cross-validation within the fit halves)")
    ap.add_argument("--no-write", action="store_true", help="do not write the model file")
    args = ap.parse_args()
    setup(1)
    store = FIT_DIR / f"candidates-{args.limit}-{args.pool}.pkl"
    if args.reuse and store.is_file():
        rows = pickle.loads(store.read_bytes())
    else:
        FIT_DIR.mkdir(parents=True, exist_ok=True)
        rows = gather(args.limit, args.pool)
        store.write_bytes(pickle.dumps(rows))

    from rag.fusion import QUERY_FEATURES, FusionModel

    halves = [(s, h) for s in SETS for h in ("fit", "test")]
    table: dict[str, dict[tuple[str, str], tuple[float, float]]] = {}
    for label, key in (("BM25", "bm25_rank"), ("dense", "dense_rank"),
                       ("rank fusion today (rrf)", "rrf_rank")):
        table[label] = {sh: metrics([r[key] for r in rows if (r["set"], r["split"]) == sh])
                        for sh in halves}
    weights: list[tuple[str, tuple[str, ...], bool, int, np.ndarray]] = []
    cv: dict[str, float] = {}
    for label, feats, by_query, depth in VARIANTS:
        cv[label] = cross_validated(rows, feats, by_query, depth)
        w = fit(rows, feats, by_query, depth)
        weights.append((label, feats, by_query, depth, w))
        table[label] = {sh: metrics([rank_of_gold(r, w, feats, by_query, depth) for r in rows
                                     if (r["set"], r["split"]) == sh]) for sh in halves}
    n = {sh: sum((r["set"], r["split"]) == sh for r in rows) for sh in halves}
    head = ["ranking"] + [f"{s} {h} (n={n[(s, h)]})" for s, h in halves]
    for i, what in enumerate(("MRR@10", "recall@5")):
        print(f"\n{what}, fit and test halves — {machine()}\n")
        print(md_table(head, [[label] + [v[sh][i] for sh in halves]
                              for label, v in table.items()]))
    print("\ntwo-fold cross-validation within the fit halves (mean of MRR@10 and recall@5 "
          "over the sets):\n")
    print(md_table(["variant", "CV score"], [[k, f"{v:.4f}"] for k, v in cv.items()]))
    best = max(cv.values())
    # the simplest (first) variant within CV_TIE of the best: closer than that is noise
    keep = args.keep if args.keep is not None else next(
        i for i, v in enumerate(VARIANTS) if cv[v[0]] >= best - CV_TIE)
    label, feats, by_query, depth, w = weights[keep]
    print(f"\nkept: {label}")
    names = [f"{f}*{q}" for f in feats for q in (QUERY_FEATURES if by_query else ("bias",))]
    model = FusionModel(feats, {k: round(float(v), 5) for k, v in zip(names, w, strict=True)},
                        depth=depth, prf_depth=3, prf_size=10,
                        meta={"variant": label, "fitted_on": "fit halves of " + ", ".join(SETS),
                              "command": "benchmarks/fit_retrieval.py "
                                         f"--limit {args.limit} --pool {args.pool}"})
    print("\nweights:", {k: round(v, 3) for k, v in model.weights.items()})
    if not args.no_write:
        import json

        MODEL_PATH.write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=1) + "\n",
                              encoding="utf-8")
        print(f"wrote {MODEL_PATH.relative_to(REPO)}")


if __name__ == "__main__":
    main()
