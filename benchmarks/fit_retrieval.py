"""Fit the hybrid retrieval score model (``rag/data/retrieval_model.json``) on the fit halves
of the QA sets, and report every set's fit and test halves apart, with an ablation.

    RAG_THREADS=1 .venv/bin/python benchmarks/fit_retrieval.py [--limit 1000] [--fit-extra 1000]
        [--reuse]

1. Encodes every question of four sets once and keeps its query vector, dense ranking and
   the rank of the first gold passage under today's rank fusion (``fusion="rrf"``). Sets:
   CMRC 2018 and DRCD (``--limit`` questions each, seed 0, a 1,000-passage pool as
   ``rag eval --limit`` builds it; halves by ``rag.qasets.external_split``; plus up to
   ``--fit-extra`` fit-half questions from outside the sample whose passage is in the
   pool, so the fit halves are not 500 questions where a variant moves 2), the policy set
   (``corpus/qa_policy.jsonl`` over the 42 reports, its ``split`` field), the seed set
   (``corpus/qa.jsonl`` over ``corpus/``, halved by ``external_split`` of its ids). Saved
   with the indexes to ``benchmarks/out/retr-fit/``; ``--reuse`` starts from there.
2. Computes, from those and the indexes (no encoding), the candidates the score model
   ranks (``rag.retrieve.fusion_candidates``: the first 50 passages of BM25 and of the
   dense ranking, with every feature of ``rag.fusion.FEATURES``), which rows are gold and
   the gold rank under BM25 and dense alone.
3. Fits a pairwise logistic model (gold minus each non-gold candidate of the same
   question; every set weighs the same, every question the same within its set) on the fit
   halves only, for each variant of the ablation, and ranks every half with it.
4. Chooses the variant by two-fold cross-validation within the fit halves, repeated
   CV_REPEATS times (the test halves play no part): the criterion is the issue's goal, the
   worst set's cross-validated MRR@10 above its best single mode on the fit half; the
   simplest variant within 0.001 of the best is kept. Writes its weights (fitted on all fit
   halves; ``--keep`` picks another) to the model file, keeping the shipped English
   routing (``max_latin``), and prints markdown tables: MRR@10 and recall@5 per set and
   half for BM25, dense, rank fusion and each variant, and the cross-validation table.
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
CV_REPEATS = 4
SETS = ("cmrc2018", "drcd_simplified", "policy", "seed")

# name, features, candidate depth (the first `depth` of each ranking are ranked)
BASE = ("bm25", "bm25_rank", "cosine_gap", "dense_rank", "coverage")
KEPT = (*BASE, "figure")  # the variant shipped before the character features
# a feature named "x:bias" has one weight, whatever the question; "x:nonfigure" one weight
# for questions that do not ask for a figure and none for those that do (figure evidence
# speaks for those); any other is weighted by every question feature (with by_query)
CHARS = (*KEPT, "char_cover:nonfigure", "char_bm25:nonfigure")
VARIANTS: list[tuple[str, tuple[str, ...], bool, int]] = [
    ("ranks only (fitted RRF)", ("bm25_rank", "dense_rank"), False, 30),
    ("+ scores (normalised BM25, cosine gap)", BASE[:4], False, 30),
    ("+ query-dependent weights", BASE[:4], True, 30),
    ("+ term coverage", BASE, True, 30),
    ("+ figure evidence", KEPT, True, 30),
    ("+ character bigrams (idf coverage, bigram BM25; questions without a figure)", CHARS,
     True, 30),
    ("+ title match", (*CHARS, "title:bias"), True, 30),
    ("+ longest verbatim stretch", (*CHARS, "title:bias", "char_span:nonfigure"), True, 30),
    ("+ densest bigram window", (*CHARS, "title:bias", "char_span:nonfigure",
                                 "char_window:nonfigure"), True, 30),
    ("character bigrams weighted by every question feature, all questions",
     (*KEPT, "char_cover", "char_bm25"), True, 30),
    ("figure evidence + title match only", (*KEPT, "title:bias"), True, 30),
    ("figure evidence + proximity (best window, adjacent pairs)",
     (*KEPT, "window", "bigram"), True, 30),
    ("+ PRF", (*KEPT, "window", "bigram", "prf"), True, 30),
    ("+ calibrated cosine, sharp ranks", (*KEPT, "window", "bigram", "prf", "cosine_z",
                                          "bm25_top", "dense_top"), True, 30),
]


def _base(corpus: Path | None) -> Any:
    from rag.settings import Settings

    return replace(Settings().engine_config(), corpus_dir=corpus, auto_index=False)


def _question_rows(engine: Any, emb: Any, cases: list[tuple[str, str, str, set[str]]],
                   name: str) -> list[dict[str, Any]]:
    """Encode (id, split, query, gold ids) cases once: the query vector, the dense ranking
    (passage ids) and the rank of the first gold passage under today's rank fusion; the
    candidate features are computed from these by :func:`featurize` (no encoding)."""
    from rag.config import RetrievalConfig
    from rag.retrieve import dense_ranking
    from rag.retrieve import search as retrieve
    from rag.text import normalize

    snap = engine.snapshot()
    rrf = RetrievalConfig(fusion="rrf")
    out = []
    t0 = time.perf_counter()
    for cid, split, query, gold in cases:
        qvec = emb.encode_queries([normalize(query)])[0]
        dense = [(snap.passages[i].passage_id, s) for i, s in dense_ranking(snap, qvec, 100)]
        hits = retrieve(snap, emb, query, k=10, cfg=rrf)
        rrf_rank = next((h.rank for h in hits if h.passage.passage_id in gold), None)
        out.append({"set": name, "id": cid, "split": split, "query": query, "qvec": qvec,
                    "dense": dense, "gold_ids": sorted(gold), "rrf_rank": rrf_rank})
    print(f"{name}: {len(cases)} questions, {len(snap.passages)} passages, "
          f"{time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return out


def _first(ranks: np.ndarray, rows: list[int]) -> int | None:
    """The best rank among the gold rows (None: no gold row among the candidates)."""
    r = [round(float(ranks[j])) for j in rows]
    return min(r) if r else None


def gather(limit: int, pool: int, extra: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every set's encoded questions and the index each was run on (set name → folder);
    CMRC and DRCD also get up to ``extra`` fit-half questions from outside the sample whose
    passage is in the pool (more fit data; the test half stays the sample's)."""
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
    roots: dict[str, str] = {}
    for name in SETS[:2]:
        items, passages = load_external(EXTERNAL / f"qa_{name}.jsonl",
                                        EXTERNAL / f"passages_{name}.jsonl")
        chosen = sample(items, limit, 0)
        ppool = passage_pool(chosen, passages, pool, 0)
        engine = passages_engine(FIT_DIR / "index" / name, ppool, emb, _base(None), cache=cache,
                                 progress=True)
        taken = {it.id for it in chosen}
        in_pool = {p.passage_id for p in ppool}
        more = sample([it for it in items if it.id not in taken and it.passage_id in in_pool
                       and external_split(it.id) == "fit"], extra, 1)
        cases = [(it.id, external_split(it.id), it.question, {it.passage_id or ""})
                 for it in chosen + more]
        rows += _question_rows(engine, emb, cases, name)
        roots[name] = str(engine.config.index_dir)
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
        roots[name] = str(engine.config.index_dir)
    return rows, roots


def featurize(raw: list[dict[str, Any]], roots: dict[str, str]) -> list[dict[str, Any]]:
    """The candidates the score model ranks for every encoded question
    (``rag.retrieve.fusion_candidates``: the first GATHER_DEPTH passages of BM25 and of the
    dense ranking, every feature of ``rag.fusion.FEATURES``), which rows are gold, and the
    rank of the first gold passage under BM25 and dense."""
    from rag.engine import Engine
    from rag.fusion import FEATURES, RANK_K
    from rag.retrieve import fusion_candidates

    out = []
    for name, root in roots.items():
        t0 = time.perf_counter()
        cfg = replace(_base(None), index_dir=Path(root), corpus_dir=None, auto_index=False)
        snap = Engine(cfg).snapshot()
        row_of = {p.passage_id: i for i, p in enumerate(snap.passages)}
        todo = [r for r in raw if r["set"] == name]
        for r in todo:
            dense = [(row_of[pid], s) for pid, s in r["dense"]]
            c = fusion_candidates(snap, r["query"], r["qvec"], dense, depth=GATHER_DEPTH,
                                  figure_depth=20, prf_depth=3, prf_size=10)
            gold = set(r["gold_ids"])
            gold_rows = [j for j, i in enumerate(c.rows) if snap.passages[i].passage_id in gold]
            bm25_r = RANK_K / c.features[:, FEATURES.index("bm25_rank")] - RANK_K
            dense_r = (RANK_K / np.maximum(c.features[:, FEATURES.index("dense_rank")], 1e-9)
                       - RANK_K)
            out.append({"set": name, "id": r["id"], "split": r["split"], "rows": c.rows,
                        "features": c.features, "query": c.query, "gold": gold_rows,
                        "bm25_rank": _first(bm25_r, gold_rows),
                        "dense_rank": _first(dense_r, gold_rows), "rrf_rank": r["rrf_rank"]})
        print(f"{name}: features of {len(todo)} questions, {time.perf_counter() - t0:.0f}s",
              file=sys.stderr)
    return out


def _form(spec: str, by_query: bool) -> tuple[str, str]:
    """(feature, how it is weighted: "query", "bias" or "nonfigure") of a variant's entry."""
    name, _, form = spec.partition(":")
    return name, form or ("query" if by_query else "bias")


def _design(r: dict[str, Any], feats: tuple[str, ...], by_query: bool) -> np.ndarray:
    """The fitted columns of a question's candidates (see :func:`weight_names`)."""
    from rag.fusion import FEATURES, QUERY_FEATURES

    cols = []
    q = r["query"]
    for spec in feats:
        name, form = _form(spec, by_query)
        v = r["features"][:, FEATURES.index(name)]
        if form == "query":
            cols.append(v[:, None] * q[None, :])
        elif form == "nonfigure":
            cols.append((v * (1.0 - q[QUERY_FEATURES.index("asks_figure")]))[:, None])
        else:
            cols.append(v[:, None])
    return np.hstack(cols)


def weight_names(feats: tuple[str, ...], by_query: bool,
                 w: np.ndarray) -> dict[str, float]:
    """The fitted columns as the model file's ``feature*query`` weights: a "nonfigure"
    weight w is w on the bias and -w on asks_figure (asks_figure is 0 or 1)."""
    from rag.fusion import QUERY_FEATURES

    out: dict[str, float] = {}
    j = 0
    for spec in feats:
        name, form = _form(spec, by_query)
        if form == "query":
            for qf in QUERY_FEATURES:
                out[f"{name}*{qf}"] = round(float(w[j]), 5)
                j += 1
            continue
        out[f"{name}*bias"] = round(float(w[j]), 5)
        if form == "nonfigure":
            out[f"{name}*asks_figure"] = -round(float(w[j]), 5)
        j += 1
    return out


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
                    depth: int) -> dict[str, tuple[float, float]]:
    """MRR@10 and recall@5 of every set's fit half, two-fold within the fit halves repeated
    CV_REPEATS times (folds by the sha1 of repeat and id; one split of 52 seed questions
    moves the score by more than the variants differ): how the variant is chosen without
    the test halves."""
    import hashlib

    fit_rows = [r for r in rows if r["split"] == "fit"]
    per_set: dict[str, list[int | None]] = {s: [] for s in SETS}
    for rep in range(CV_REPEATS):
        fold = {r["id"]: hashlib.sha1(f"{rep}:{r['id']}".encode()).digest()[0] % 2
                for r in fit_rows}
        for k in (0, 1):
            w = fit([r for r in fit_rows if fold[r["id"]] != k], feats, by_query, depth)
            for r in fit_rows:
                if fold[r["id"]] == k:
                    per_set[r["set"]].append(rank_of_gold(r, w, feats, by_query, depth))
    return {s: metrics(v) for s, v in per_set.items() if v}


def margin(cv: dict[str, tuple[float, float]], single: dict[str, float]) -> float:
    """The criterion: the worst set's cross-validated MRR@10 above its best single mode on
    the fit half (the issue's goal is +0.01 on every set; recall@5 is left out, BM25 is at
    0.99-1.00 on three of the four)."""
    return min(cv[s][0] - single[s] for s in cv)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=1000, help="questions per external set")
    ap.add_argument("--pool", type=int, default=1000, help="passages per external set")
    ap.add_argument("--fit-extra", type=int, default=1000,
                    help="more fit-half questions per external set, from outside the sample")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the encoded questions and indexes of an earlier run")
    ap.add_argument("--keep", type=int,
                    help="which variant's weights to write (index; default: the best by "
                         "cross-validation within the fit halves)")
    ap.add_argument("--no-write", action="store_true", help="do not write the model file")
    args = ap.parse_args()
    setup(1)
    store = FIT_DIR / f"questions-{args.limit}-{args.pool}-{args.fit_extra}.pkl"
    if args.reuse and store.is_file():
        raw, roots = pickle.loads(store.read_bytes())
    else:
        FIT_DIR.mkdir(parents=True, exist_ok=True)
        raw, roots = gather(args.limit, args.pool, args.fit_extra)
        store.write_bytes(pickle.dumps((raw, roots)))
    rows = featurize(raw, roots)

    from rag.fusion import FusionModel, load_model

    halves = [(s, h) for s in SETS for h in ("fit", "test")]
    table: dict[str, dict[tuple[str, str], tuple[float, float]]] = {}
    for label, key in (("BM25", "bm25_rank"), ("dense", "dense_rank"),
                       ("rank fusion today (rrf)", "rrf_rank")):
        table[label] = {sh: metrics([r[key] for r in rows if (r["set"], r["split"]) == sh])
                        for sh in halves}
    weights: list[tuple[str, tuple[str, ...], bool, int, np.ndarray]] = []
    single = {s: max(table["BM25"][(s, "fit")][0], table["dense"][(s, "fit")][0]) for s in SETS}
    cvs: dict[str, dict[str, tuple[float, float]]] = {}
    cv: dict[str, float] = {}
    for label, feats, by_query, depth in VARIANTS:
        cvs[label] = cross_validated(rows, feats, by_query, depth)
        cv[label] = margin(cvs[label], single)
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
    print(f"\ntwo-fold cross-validation within the fit halves, {CV_REPEATS} repeats: MRR@10 / "
          "recall@5 per set, the mean of both over the sets, and the criterion (the worst "
          "set's MRR@10 above its best single mode; best single on the fit halves: "
          + ", ".join(f"{s} {v:.3f}" for s, v in single.items()) + "):\n")
    print(md_table(["variant", *SETS, "mean", "worst margin"],
                   [[k, *(f"{v[s][0]:.3f} / {v[s][1]:.3f}" for s in SETS),
                     f"{sum(sum(x) for x in v.values()) / (2 * len(v)):.4f}", f"{cv[k]:.4f}"]
                    for k, v in cvs.items()]))
    best = max(cv.values())
    # the simplest (first) variant within CV_TIE of the best: closer than that is noise
    keep = args.keep if args.keep is not None else next(
        i for i, v in enumerate(VARIANTS) if cv[v[0]] >= best - CV_TIE)
    label, feats, by_query, depth, w = weights[keep]
    print(f"\nkept: {label}")
    shipped = load_model()  # English routing is a decision about the fit data, kept as is
    meta = {"variant": label, "fitted_on": "fit halves of " + ", ".join(SETS),
            "command": f"benchmarks/fit_retrieval.py --limit {args.limit} --pool {args.pool} "
                       f"--fit-extra {args.fit_extra}"}
    if "max_latin" in shipped.meta:
        meta["max_latin"] = shipped.meta["max_latin"]
    names = tuple(dict.fromkeys(_form(f, by_query)[0] for f in feats))
    model = FusionModel(names, weight_names(feats, by_query, w),
                        depth=depth, prf_depth=3, prf_size=10, max_latin=shipped.max_latin,
                        meta=meta)
    print("\nweights:", {k: round(v, 3) for k, v in model.weights.items()})
    if not args.no_write:
        import json

        MODEL_PATH.write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=1) + "\n",
                              encoding="utf-8")
        print(f"wrote {MODEL_PATH.relative_to(REPO)}")


if __name__ == "__main__":
    main()
