"""Fit the evidence model (``rag/data/evidence_model.json``) on the fit halves of the QA
sets, and report every set — fit and test halves apart — at the fitted threshold.

    RAG_THREADS=1 .venv/bin/python benchmarks/fit_evidence.py [--reuse] [--target 0.02]

What it does:

1. Asks every question of the sets with the refusal threshold at 0 and ``explain`` on, so
   that each answer lists all its scored candidates (features and figure). Sets: the seed
   page (``corpus/qa.jsonl``, all of it counts as fit: the rules were written on it), the
   policy set (``corpus/qa_policy.jsonl``, its ``split`` field), and the numeric questions
   of CMRC 2018 and DRCD (a sample, halved by question id with
   ``rag.evaluate.external_split``). The candidates go to ``benchmarks/out/fit/``;
   ``--reuse`` refits from them without asking again.
2. Stage 1: logistic regression over the candidates of fit questions (label: the
   candidate's figure equals the gold one) gives the feature weights.
3. Stage 2: logistic regression over fit questions (inputs: the best candidate's logit,
   its margin over the best candidate with another value, the question's features and the
   best candidate's own features; label: the best is right) gives the answer's confidence.
4. The threshold is the lowest confidence at which every fit set's expected wrong-answer
   rate (answered with a wrong figure, over all its questions, unanswerable ones included;
   each answer given counts one minus its out-of-fold confidence) is at most the target.
   The target (unless ``--target``) is the largest whose threshold, set on random halves
   of the fit sets, keeps the other halves at or under the issue's 2% in 95% of halvings,
   and at most half of that 2%. Nothing is fitted on the test halves.

Questions whose answer is not a single scored figure (lists, sentences) are counted as
they are answered; they have no confidence and the threshold does not refuse them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from _common import EXTERNAL, OUT, load_embedder, md_table, setup  # noqa: E402

from rag.evaluate import VectorCache, passages_engine, project_engine  # noqa: E402
from rag.evidence import (  # noqa: E402
    FEATURE_NAMES,
    QUESTION_FEATURES,
    SENTENCE_FEATURE_NAMES,
    SIGNS,
    TOP,
    Scorer,
    question_features,
    value_support,
)
from rag.figures import extract_figures  # noqa: E402
from rag.metrics import (  # noqa: E402
    Outcome,
    answer_checks,
    at_threshold,
    matches_any,
    strict_numeric,
)
from rag.qasets import (  # noqa: E402
    QAItem,
    external_split,
    figure_matches,
    gold_figures,
    load_external,
    load_qa,
    passage_pool,
)
from rag.question import analyse  # noqa: E402
from rag.text import normalize  # noqa: E402

FIT_DIR = OUT / "fit"
MODEL_PATH = REPO / "rag" / "data" / "evidence_model.json"
EXPLAIN = 200


def _base(corpus: Path) -> Any:
    from rag.settings import Settings

    return replace(Settings().engine_config(), corpus_dir=corpus, auto_index=False)


def _first_figure(sentence: str) -> dict[str, Any] | None:
    figs = extract_figures(sentence)
    return figs[0].to_dict() if figs else None


def _record(set_name: str, split: str, item: QAItem, ans: dict[str, Any],
            label: Any) -> dict[str, Any]:
    """One question's outcome at threshold 0 and every scored candidate with its features
    and whether it is right: a figure candidate when its figure is the gold one, a
    sentence candidate when it holds every gold text (or, for a numeric gold, when its
    first figure is the gold one, as the answer's first figure would be)."""
    cands = []
    texts = [normalize(t).lower() for t in _gold_texts(item)]
    for ev in ans.get("evidence") or []:
        fig = ev.get("figure")
        if fig is not None:
            right = bool(label(fig))
        else:
            sent = normalize(ev["sentence"]).lower()
            first = _first_figure(ev["sentence"])
            right = (bool(texts) and all(t in sent for t in texts)) or (
                first is not None and bool(label(first)))
        cands.append({"features": ev["features"], "score": ev["score"],
                      "kind": "figure" if fig is not None else "sentence",
                      "value": [fig.get(k) for k in ("value", "low", "high", "date")] if fig
                      else ev["sentence"], "right": right and item.answerable})
    check = answer_checks(item, ans) if item.type != "external" else {
        "found": bool(ans.get("found")), "correct": bool(strict_numeric(item, ans))}
    q = analyse(ans.get("rewritten_question") or item.question)
    # vetoed candidates are explained but not counted: the answer layer drops them
    qf = question_features(q, sum(not ev.get("vetoed") for ev in ans.get("evidence") or []))
    # an answer made of several figures (a comparison, a table) is judged as given: its
    # explained candidates are one part's, not what the answer says
    composite = bool(ans.get("table")) or q.intent == "compare" or q.aggregation != "single"
    return {"set": set_name, "split": split, "id": item.id, "answerable": item.answerable,
            "question_features": qf, "composite": composite,
            "scored": ans.get("confidence") is not None, "confidence": ans.get("confidence"),
            "kind": cands[0]["kind"] if cands else None,
            "found": bool(ans.get("found")), "correct": bool(check["correct"]),
            "candidates": cands}


def _gold_texts(item: QAItem) -> list[str]:
    if item.type == "external" or not item.answer:
        return []
    text = item.answer.get("text")
    return [text] if isinstance(text, str) else list(text or [])


def gather(limit: int, pool: int) -> list[dict[str, Any]]:
    """Ask every question once with the threshold at 0 and all candidates explained."""
    emb = load_embedder()
    cache = VectorCache(FIT_DIR / "cache", emb.fingerprint, emb.dim)
    rows: list[dict[str, Any]] = []
    for name, corpus, qa_path in (
            ("seed", REPO / "corpus", REPO / "corpus" / "qa.jsonl"),
            ("policy", REPO.parent / "shared" / "corpus-policy", REPO / "corpus" / "qa_policy.jsonl")):
        t0 = time.perf_counter()
        engine = project_engine(_base(corpus), FIT_DIR / name, emb, cache=cache)
        for it in load_qa(qa_path):
            ans = engine.ask(it.question, history=list(it.turns), min_confidence=0.0,
                             explain=EXPLAIN).to_dict()
            gold = it.answer or {}
            rows.append(_record(name, it.split or "fit", it, ans,
                                lambda f, g=gold: bool(g) and figure_matches(f, g)))
        cache.save()
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    for name in ("cmrc2018", "drcd_simplified"):
        t0 = time.perf_counter()
        items, passages = load_external(EXTERNAL / f"qa_{name}.jsonl",
                                        EXTERNAL / f"passages_{name}.jsonl")
        numeric = [it for it in items if it.numeric and gold_figures(it)]
        numeric.sort(key=lambda it: hashlib.sha1(it.id.encode()).hexdigest())
        numeric = numeric[:limit]
        engine = passages_engine(FIT_DIR / "index" / name, passage_pool(numeric, passages, pool),
                                 emb, _base(REPO / "corpus"), cache=cache)
        cache.save()
        for it in numeric:
            ans = engine.ask(it.question, min_confidence=0.0, explain=EXPLAIN).to_dict()
            gold = gold_figures(it)
            rows.append(_record(name, external_split(it.id), it, ans,
                                lambda f, g=gold: matches_any(f, g)))
        print(f"{name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return rows


NAMES = {"figure": FEATURE_NAMES, "sentence": SENTENCE_FEATURE_NAMES}
# stage 2's L2 strength, chosen by out-of-fold wrong rates on the fit halves. A search of
# (0.3, 0.5, 1, 2) by the halving trial's accuracy was tried and dropped (--stage2-c, and
# benchmarks/README.md, fifteenth round): its choice moved between two gathers
STAGE2_C = 0.3
OOF: dict[tuple[str, str], float] = {}  # out-of-fold confidence of each fit question
CROSS_RIGHT: dict[tuple[str, str], bool] = {}  # whether its cross-fitted best candidate is right
FOLDS = 5
PAIRS = 40  # wrong candidates paired with each right one, best-ranked first
STAGE1 = "pairwise"  # or "pointwise" (--stage1): the ablation in benchmarks/README.md


def _matrix(cands: list[dict[str, Any]], kind: str) -> np.ndarray:
    return np.array([[c["features"].get(n, 0.0) for n in NAMES[kind]] for c in cands],
                    dtype=float)


def _scores(scorer: dict[str, Any], cands: list[dict[str, Any]], kind: str) -> np.ndarray:
    w = np.array([scorer["weights"].get(n, 0.0) for n in NAMES[kind]])
    return _matrix(cands, kind) @ w + scorer["bias"]


def _best(scorer: dict[str, Any], cands: list[dict[str, Any]], kind: str
          ) -> tuple[int, float, float | None, float]:
    """The best candidate under the scorer, its logit, its margin over the best one with
    another value, and its value's support (``rag.evidence.value_support``)."""
    scores = _scores(scorer, cands, kind)
    order = np.argsort(-scores, kind="stable")
    best = int(order[0])
    rival = next((float(scores[int(j)]) for j in order[1:]
                  if cands[int(j)]["value"] != cands[best]["value"]), None)
    margin = float(scores[best]) - rival if rival is not None else None
    support = value_support([float(v) for v in scores],
                            [c["value"] == cands[best]["value"] for c in cands]) if SUPPORT else 0.0
    return best, float(scores[best]), margin, support


Q_NAMES = tuple(n for n, _ in QUESTION_FEATURES)
SHARED = ("score", "margin", "lone", "support")  # stage 2's inputs from the ranking
SUPPORT = True  # --no-support: the ablation in benchmarks/README.md
VETO = True  # --no-veto: the same


def _stage2(score: float, margin: float | None, support: float, qf: dict[str, float],
            top: dict[str, float], kind: str) -> list[float]:
    return [score, margin or 0.0, float(margin is None), support,
            *(qf.get(n, 0.0) for n in Q_NAMES),
            *(top.get(n, 0.0) for n in NAMES[kind])]


def _stage2_names(kind: str) -> list[str]:
    return [*SHARED, *Q_NAMES, *(TOP + n for n in NAMES[kind])]


def _confidence(scorer: dict[str, Any], cands: list[dict[str, Any]], kind: str,
                qf: dict[str, float]) -> float:
    best, score, margin, support = _best(scorer, cands, kind)
    c = scorer["calibration"]
    x = _stage2(score, margin, support, qf, cands[best]["features"], kind)
    z = c["bias"] + sum(c.get(n, 0.0) * v for n, v in zip(_stage2_names(kind), x, strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def _fit_scorer(rows: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    fit_rows = [r for r in rows if r["split"] == "fit" and r["candidates"] and r["kind"] == kind
                and not r.get("composite")]
    cands = [c for r in fit_rows for c in r["candidates"]]
    # Stage 1 learns to rank within a question: logistic regression on the difference of a
    # right and a wrong candidate of the same question (both orders). Fitted pointwise,
    # the weights learn instead which questions are easy (the retrieval rank of CMRC's
    # single gold passage) and drown the signals that tell two figures of one passage apart.
    if STAGE1 == "pointwise":
        y = np.array([c["right"] for c in cands], dtype=int)
        point = LogisticRegression(C=1.0, max_iter=5000).fit(_matrix(cands, kind), y)
        scorer = {"weights": {n: round(float(v), 4) for n, v in zip(NAMES[kind], point.coef_[0],
                                                                    strict=True)},
                  "bias": round(float(point.intercept_[0]), 4)}
        return _calibrate(scorer, fit_rows, kind, cands, 0)
    diffs, labels = [], []
    for r in fit_rows:
        x = _matrix(r["candidates"], kind)
        right = [i for i, c in enumerate(r["candidates"]) if c["right"]]
        wrong = [i for i, c in enumerate(r["candidates"]) if not c["right"]][:PAIRS]
        for i in right:
            for j in wrong:
                diffs += [x[i] - x[j], x[j] - x[i]]
                labels += [1, 0]
    w = _signed_logistic(np.array(diffs), np.array(labels), NAMES[kind])
    scorer: dict[str, Any] = {
        "weights": {n: round(float(v), 4) for n, v in zip(NAMES[kind], w, strict=True)},
        "bias": 0.0}
    return _calibrate(scorer, fit_rows, kind, cands, len(labels))


def _signed_logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...],
                     l2: float = 1.0) -> np.ndarray:
    """Logistic regression without intercept (the pairs are symmetric) whose weights keep
    the sign each feature is defined with (``rag.evidence.SIGNS``): L-BFGS-B with bounds,
    L2 penalty ``l2 / 2 * |w|^2`` as scikit-learn's C=1."""
    from scipy.optimize import minimize

    bounds = [(0.0, None) if SIGNS.get(n) == "+" else (None, 0.0) if SIGNS.get(n) == "-"
              else (None, None) for n in names]
    s = 2.0 * y - 1.0

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = s * (x @ w)
        ll = np.logaddexp(0.0, -z)
        grad = -(x.T @ (s * (1.0 / (1.0 + np.exp(z)))))
        return float(ll.sum() + 0.5 * l2 * w @ w), grad + l2 * w

    res = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds)
    return np.asarray(res.x)


def _calibrate(scorer: dict[str, Any], fit_rows: list[dict[str, Any]], kind: str,
               cands: list[dict[str, Any]], pairs: int) -> dict[str, Any]:
    scorer["fit"] = {"questions": len(fit_rows), "candidates": len(cands), "pairs": pairs,
                     "stage1": STAGE1}
    return scorer


def _stage2_row(model: dict[str, Any], r: dict[str, Any]) -> tuple[list[float], int]:
    """Stage 2's inputs for a question (shared inputs, a figure/sentence indicator, then
    one block of the best candidate's features per kind, the other block zero) and
    whether its best candidate is right."""
    kind = r["kind"]
    best, score, margin, support = _best(model[kind], r["candidates"], kind)
    shared = [score, margin or 0.0, float(margin is None), support,
              *(r["question_features"].get(n, 0.0) for n in Q_NAMES)]
    blocks = [[r["candidates"][best]["features"].get(n, 0.0) if k == kind else 0.0
               for n in NAMES[k]] for k in NAMES]
    return [*shared, float(kind == "figure"), *(v for b in blocks for v in b)], int(
        bool(r["candidates"][best]["right"]))


def _calibrate_all(model: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Stage 2: the probability that the best candidate is right, fitted once over the fit
    questions of both kinds (the sentence questions alone are too few), then stored as
    each scorer's calibration: the shared weights, the figure indicator in the figure
    scorer's bias, and each kind's ``top:`` weights."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    fit_rows = [r for r in rows if r["split"] == "fit" and r["candidates"] and r["kind"]
                and not r.get("composite")]
    # Cross-fitting: each question's stage-2 inputs (best candidate, score, margin) come
    # from a stage 1 fitted without its fold. Stage 1 fitted on a question ranks it better
    # and more surely than it will rank a new one, so a stage 2 calibrated on in-sample
    # scores is over-confident on new documents (a refit with in-sample scores chose 0.85
    # and gave 7.0% wrong answers on the policy test half against 1.3% on the fit half).
    fold_of = {(r["set"], r["id"]): int(hashlib.sha1(f"{r['set']}:{_group(r)}".encode())
                                         .hexdigest(), 16) % FOLDS for r in fit_rows}
    pairs: list[tuple[list[float], int]] = []
    for k in range(FOLDS):
        others = [r for r in rows if r["split"] != "fit" or fold_of.get((r["set"], r["id"])) != k]
        stage1 = {kind: _fit_scorer(others, kind) for kind in NAMES}
        for r in fit_rows:
            if fold_of[(r["set"], r["id"])] == k:
                pairs.append(_stage2_row(stage1, r))
                CROSS_RIGHT[(r["set"], r["id"])] = bool(pairs[-1][1])
    order = {id(r): i for i, r in enumerate(fit_rows)}
    fit_rows = sorted(fit_rows, key=lambda r: (fold_of[(r["set"], r["id"])], order[id(r)]))
    x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    stage2 = LogisticRegression(C=STAGE2_C, max_iter=5000).fit(x, y)
    coef = [round(float(v), 4) for v in stage2.coef_[0]]
    shared = dict(zip((*SHARED, *Q_NAMES), coef, strict=False))
    at = len(SHARED) + len(Q_NAMES)
    indicator, blocks = coef[at], coef[at + 1:]
    bias = round(float(stage2.intercept_[0]), 4)
    for k in NAMES:
        w, blocks = blocks[:len(NAMES[k])], blocks[len(NAMES[k]):]
        model[k]["calibration"] = {
            "bias": round(bias + (indicator if k == "figure" else 0.0), 4), **shared,
            **{TOP + n: v for n, v in zip(NAMES[k], w, strict=True)}}
    # The threshold is chosen on out-of-fold confidences: with the best candidate's
    # features in stage 2, in-sample confidences would be optimistic about the fit sets.
    oof = np.zeros(len(y))
    groups = [f"{r['set']}:{_group(r)}" for r in fit_rows]
    for tr, te in StratifiedGroupKFold(5, shuffle=True, random_state=0).split(x, y, groups):
        fold = LogisticRegression(C=STAGE2_C, max_iter=5000).fit(x[tr], y[tr])
        oof[te] = fold.predict_proba(x[te])[:, 1]
    OOF.update({(r["set"], r["id"]): float(p) for r, p in zip(fit_rows, oof, strict=True)})


VETO_MIN = 100  # fit candidates a feature must be seen on before it can veto
# ... and the most of them that may be right: 0.5% keeps kind_unexpected (7 of 719 right)
# a weight, not a veto; chosen by the fit halves' accuracy at wrong-answer budgets of 1-5%
# (seed .755, policy .678 at 0.5% against .727, .638 at 1% and .725, .660 without vetoes)
VETO_SHARE = 0.005


def vetoes(rows: list[dict[str, Any]]) -> list[str]:
    """The 0/1 figure features under which at most ``VETO_SHARE`` of at least ``VETO_MIN``
    fit candidates are right (single-figure questions): the answer layer drops a candidate
    that carries one. Stage 2 cannot learn this from the few questions whose best candidate
    carries such a feature (``stance_opposed``: 5 of 378 before vetoes, 1 of them right;
    the 2014 report's 7.5%左右 target answered 2014年国内生产总值实际增长了多少 at 0.70)."""
    cands = [c for r in rows if r["split"] == "fit" and r["kind"] == "figure"
             and not r.get("composite") for c in r["candidates"]]
    out = []
    for n in FEATURE_NAMES:
        values = [c["features"].get(n, 0.0) for c in cands]
        if not all(v in (0.0, 1.0) for v in values):
            continue
        on = [c["right"] for c, v in zip(cands, values, strict=True) if v == 1.0]
        if len(on) >= VETO_MIN and sum(on) <= VETO_SHARE * len(on):
            out.append(n)
    return out


def apply_vetoes(rows: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """The rows as the answer layer sees them under these vetoes: vetoed candidates gone,
    and a single-figure question left with none refused."""
    rule = Scorer({}, 0.0, {}, tuple(names))  # the answer layer's own veto test
    out = []
    for r in rows:
        if r["kind"] != "figure" or r.get("composite") or not names:
            out.append(r)
            continue
        kept = [c for c in r["candidates"] if rule.veto(c["features"]) is None]
        if kept:
            # stage 2 reads how many candidates passed, as the answer layer counts them
            qf = {**r["question_features"], "candidates": math.log1p(len(kept))}
            out.append({**r, "candidates": kept, "question_features": qf})
        else:
            out.append({**r, "candidates": [], "kind": None, "scored": False, "found": False,
                        "correct": False, "confidence": None})
    return out


def fit(rows: list[dict[str, Any]], target: float | None, veto: list[str] | None = None
        ) -> dict[str, Any]:
    """The model fitted on ``rows`` (already filtered by ``veto``, the vetoes it records)."""
    OOF.clear()
    CROSS_RIGHT.clear()
    model: dict[str, Any] = {kind: _fit_scorer(rows, kind) for kind in NAMES}
    model["figure"]["vetoes"] = list(veto or [])
    _calibrate_all(model, rows)
    model["threshold"], model["target_wrong_rate"] = _threshold(rows, model, target)
    return model


def fit_all(rows: list[dict[str, Any]], target: float | None) -> tuple[dict[str, Any],
                                                                list[dict[str, Any]]]:
    """Vetoes chosen on every gathered candidate, then the model fitted on the rows they
    leave; the rows are returned for the report."""
    veto = vetoes(rows) if VETO else []
    kept = apply_vetoes(rows, veto)
    return fit(kept, target, veto), kept


def _outcomes(rows: list[dict[str, Any]], model: dict[str, Any]) -> list[dict[str, Any]]:
    """Each question's confidence and whether its answer (the best candidate under the
    model, or the unscored answer as given) is right."""
    out = []
    for r in rows:
        if r["candidates"] and r["kind"] and not r.get("composite"):
            cs, kind = r["candidates"], r["kind"]
            best, _, _, _ = _best(model[kind], cs, kind)
            out.append({**r, "confidence": _confidence(model[kind], cs, kind,
                                                       r["question_features"]),
                        "right_if_answered": bool(cs[best]["right"])})
        elif r["scored"]:
            # an aggregate, list or comparison: its confidence (its weakest row's) as
            # asked, under the model of this pass
            out.append({**r, "right_if_answered": r["correct"] if r["found"] else None})
        else:
            out.append({**r, "confidence": None,
                        "right_if_answered": r["correct"] if r["found"] else None})
    return out


def _at(outs: list[dict[str, Any]], t: float) -> dict[str, float]:
    """The set's metrics at threshold ``t`` (``rag.metrics.at_threshold``); a scored
    answer counts as given at its confidence even where composition dropped it."""
    m = at_threshold([Outcome(o["confidence"], o["found"] or o["confidence"] is not None,
                              bool(o["right_if_answered"]), o["answerable"]) for o in outs], t)
    return {"n": m["questions"], "accuracy": m["accuracy"] or 0.0,
            "wrong_rate": m["wrong_answer_rate"] or 0.0, "coverage": m["coverage"] or 0.0}


def _judged(rows: list[dict[str, Any]], model: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`_outcomes` with each fit question's out-of-fold confidence."""
    return [{**o, "confidence": OOF.get((o["set"], o["id"]), o["confidence"]),
             "right_if_answered": CROSS_RIGHT.get((o["set"], o["id"]), o["right_if_answered"])}
            if o["split"] == "fit" and o["candidates"] and o["kind"] and not o.get("composite")
            else o
            for o in _outcomes(rows, model)]


GRID = np.arange(200) / 200  # the thresholds tried


def _expected_wrong(outs: list[dict[str, Any]], t: float) -> float:
    """A set's wrong-answer rate at threshold ``t`` as its calibrated confidences expect it:
    each answer given at ``t`` counts one minus its confidence (the probability, by stage 2,
    that it is wrong); an answer with no confidence (a list, a sentence) counts as judged."""
    total = 0.0
    for o in outs:
        c = o["confidence"]
        if c is None:
            total += _at([o], t)["wrong_rate"]
        elif c >= t:
            total += 1.0 - float(c)
    return total / max(len(outs), 1)


def _expected_rule(per_set: list[list[dict[str, Any]]], target: float) -> float:
    """The lowest grid threshold at which every set's expected wrong rate is at most
    ``target``; 1.0 where none is."""
    for t in GRID:
        if all(_expected_wrong(sub, float(t)) <= target + 1e-12 for sub in per_set):
            return float(t)
    return 1.0


GOAL = 0.02  # the wrong-answer rate on every set
TARGETS = (0.01, 0.0125, 0.015, 0.0175, 0.02)  # the fit-set targets the halving trial tries
HALVINGS = 100  # random halvings of the fit sets behind the target
MISS_SHARE = 0.05  # the most halvings whose other half may miss the goal


def _group(o: dict[str, Any]) -> str:
    """What a halving (and a cross-fitting fold) keeps together: a policy question's report,
    as the policy split is drawn (the first year of its id, which names the gold report of
    all but a few trend and comparison questions); an external question's passage (that
    split is drawn by question, but a passage's questions share its wording and evidence,
    so keeping them together is the stricter trial); a seed question alone."""
    if o["set"] == "policy":
        m = re.search(r"(?:1[89]|20)[0-9]{2}", o["id"])
        return m.group() if m else o["id"]
    if o["set"] in ("cmrc2018", "drcd_simplified"):
        return re.sub(r"(?:_QUERY_[0-9]+|-[0-9]+)$", "", o["id"])
    return str(o["id"])


def _choose_target(outs: list[dict[str, Any]]) -> float:
    """The largest target whose threshold, set on a random half of every fit set, keeps the
    other half of every set at or under the goal in all but ``MISS_SHARE`` of the
    halvings; prints the trial (markdown) to stderr. Halves are of reports and passages
    (:func:`_group`); the test halves play no part."""
    sets = sorted({o["set"] for o in outs if o["split"] == "fit"})
    per = {s: [o for o in outs if o["set"] == s and o["split"] == "fit"] for s in sets}
    groups = {s: sorted({_group(o) for o in per[s]}) for s in sets}
    rng = np.random.default_rng(1)
    halves = []
    for _ in range(HALVINGS):
        first = {s: set(rng.permutation(groups[s])[:len(groups[s]) // 2]) for s in sets}
        halves.append(({s: [o for o in per[s] if _group(o) in first[s]] for s in sets},
                       {s: [o for o in per[s] if _group(o) not in first[s]] for s in sets}))
    rows, chosen = [], TARGETS[0]
    for target in TARGETS:
        thresholds, worst, accuracy = [], [], []
        for a, b in halves:
            t = _expected_rule([a[s] for s in sets], target)
            thresholds.append(t)
            worst.append(max(_at(b[s], t)["wrong_rate"] for s in sets))
            accuracy.append(float(np.mean([_at(b[s], t)["accuracy"] for s in sets])))
        miss = float(np.mean([w > GOAL + 1e-12 for w in worst]))
        if miss <= MISS_SHARE:
            chosen = target
        rows.append([f"{target:.4f}", f"{np.mean(thresholds):.3f}", f"{np.std(thresholds):.3f}",
                     f"{np.mean(worst):.3f}", f"{miss:.2f}", f"{np.mean(accuracy):.3f}"])
    print(md_table(["fit target", "threshold (mean)", "threshold (sd)",
                    "other half: worst set's wrong rate", f"share of halvings over {GOAL:.0%}",
                    "other half: mean accuracy"], rows), file=sys.stderr)
    return chosen


def _threshold(rows: list[dict[str, Any]], model: dict[str, Any], target: float | None
               ) -> tuple[float, float]:
    """The lowest threshold at which every fit set's expected wrong-answer rate (out-of-fold
    confidences, :func:`_expected_wrong`) is at most the target; the target, unless given,
    by the halving trial (:func:`_choose_target`).

    The rules before counted wrong answers: with 122-157 questions a set, 1% is one wrong
    answer, so the threshold was an order statistic (the second-highest wrong confidence
    of the worst set). It moved from 0.945 to 0.980 between two gathers that changed a
    handful of fit questions, and a bootstrap median of it split between two modes
    (0.90 and 0.96-1.00). The expected rate is a sum over every answer: in the halving trial
    its threshold varied six times less and the other halves missed the goal less often."""
    outs = _judged(rows, model)
    if target is None:
        # at most half the goal, and lower where the trial says so: the trial's own choice
        # above half the goal moved between two gathers of one round (a pass-2 trial passed
        # 2.0% with no halving over 2% where the pass-1 trial put 29% of halvings over it),
        # and at that threshold (0.910) the held-out policy half had 4.2% wrong answers
        # (benchmarks/README.md, fifteenth round)
        target = min(_choose_target(outs), GOAL / 2)
    sets = sorted({o["set"] for o in outs if o["split"] == "fit"})
    per_set = [[o for o in outs if o["set"] == s and o["split"] == "fit"] for s in sets]
    t = _expected_rule(per_set, target)
    counted = {s: _at(sub, t)["wrong_rate"] for s, sub in zip(sets, per_set, strict=True)}
    print(f"threshold: {t:.3f} (fit target {target:.4f}); fit sets' wrong rates there: "
          + ", ".join(f"{s} {r:.3f}" for s, r in counted.items()), file=sys.stderr)
    return t, target


def report(rows: list[dict[str, Any]], model: dict[str, Any]) -> str:
    """Every set at the threshold; fit questions by their out-of-fold confidence."""
    outs = _judged(rows, model)
    t = model["threshold"]
    table = []
    for s in ("seed", "policy", "cmrc2018", "drcd_simplified"):
        for split in ("fit", "test"):
            sub = [o for o in outs if o["set"] == s and o["split"] == split]
            if not sub:
                continue
            at = _at(sub, t)
            free = _at(sub, 0.0)
            table.append([f"{s} {split}", at["n"], f"{at['accuracy']:.3f}", f"{at['wrong_rate']:.3f}",
                          f"{at['coverage']:.3f}", f"{free['accuracy']:.3f}", f"{free['wrong_rate']:.3f}"])
    return md_table(["set", "questions", "accuracy", "wrong-answer rate", "coverage",
                     "accuracy (t=0)", "wrong rate (t=0)"], table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reuse", action="store_true", help="refit from the saved candidates")
    # The fit sets' target is below the issue's 2%: held-back halves run above the fit ones,
    # and the halving trial (_choose_target) says by how much
    ap.add_argument("--target", type=float, default=None,
                    help="expected wrong-answer rate on fit sets (default: the halving trial's)")
    ap.add_argument("--limit", type=int, default=240, help="numeric questions per external set")
    ap.add_argument("--pool", type=int, default=600, help="passages per external index")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dry-run", action="store_true", help="report, but do not write the model")
    ap.add_argument("--passes", type=int, default=2, help="gather-and-fit passes (see above)")
    ap.add_argument("--stage1", choices=("pairwise", "pointwise"), default="pairwise")
    ap.add_argument("--no-support", action="store_true",
                    help="leave the value's support out of stage 2 (ablation)")
    ap.add_argument("--no-veto", action="store_true", help="fit no veto features (ablation)")
    ap.add_argument("--stage2-c", type=float, default=None,
                    help="stage 2's L2 strength (ablation; default 0.3)")
    args = ap.parse_args()
    global STAGE1, SUPPORT, VETO, STAGE2_C
    STAGE1 = args.stage1
    SUPPORT = not args.no_support
    VETO = not args.no_veto
    if args.stage2_c is not None:
        STAGE2_C = args.stage2_c
    setup(args.threads)
    FIT_DIR.mkdir(parents=True, exist_ok=True)
    cands_path = FIT_DIR / "candidates.jsonl"
    if args.reuse and cands_path.is_file():
        rows = [json.loads(line) for line in cands_path.read_text(encoding="utf-8").splitlines()]
        model, rows = fit_all(rows, args.target)
    else:
        # pass 1 fits the weights on single-figure answers; pass 2 asks again under them, so
        # that aggregates, lists and comparisons carry confidences of the fitted model,
        # and the threshold is chosen over every answer
        for n in range(args.passes):
            rows = gather(args.limit, args.pool)
            cands_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                  encoding="utf-8")
            model, rows = fit_all(rows, args.target)
            if n + 1 < args.passes:
                _write(model, args, rows, show=False, save=True)
                _bundled_reset()
    _write(model, args, rows, show=True, save=not args.dry_run)


def _bundled_reset() -> None:
    from rag import evidence, vocab

    vocab.data.cache_clear()  # the model file was just rewritten
    evidence._bundled.cache_clear()


def _write(model: dict[str, Any], args: argparse.Namespace, rows: list[dict[str, Any]], *,
           show: bool, save: bool) -> None:
    n_fit = sum(r["split"] == "fit" for r in rows)
    model["fitted"] = {
        "command": "RAG_THREADS=1 .venv/bin/python benchmarks/fit_evidence.py",
        "date": time.strftime("%Y-%m-%d"),
        "target_wrong_rate": model.pop("target_wrong_rate"),
        "fit_questions": n_fit,
        "sets": sorted({r["set"] for r in rows}),
    }
    if save:
        MODEL_PATH.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n",
                              encoding="utf-8")
    if not show:
        return
    print(report(rows, model))
    print(f"\nthreshold {model['threshold']:.3f}")
    for kind, names in NAMES.items():
        sc = model[kind]
        print(f"\n{kind} weights ({sc['fit']['questions']} questions, "
              f"{sc['fit']['candidates']} candidates):")
        for n in names:
            print(f"  {n:18s} {sc['weights'][n]:+.3f}")
        print(f"  {'bias':18s} {sc['bias']:+.3f}; calibration {sc['calibration']}")


if __name__ == "__main__":
    main()
