"""Evaluation metrics: retrieval (recall@k, MRR@10, nDCG@10) and answers (strict figure
checks, text checks, wrong-answer rate, coverage, and the risk–coverage curve that the
refusal threshold moves along)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.qasets import DEFAULT_KS, QAItem, _close, figure_matches, gold_figures, same_date
from rag.text import normalize

RANK_DEPTH = 10  # MRR and nDCG are computed over the first 10 results

def recall_at_k(relevant: Sequence[bool], k: int) -> float:
    """Hit rate: 1.0 if any of the first k results is relevant."""
    return 1.0 if any(relevant[:k]) else 0.0


def mrr_at_k(relevant: Sequence[bool], k: int = RANK_DEPTH) -> float:
    """Reciprocal rank of the first relevant result within the first k, else 0."""
    for i, rel in enumerate(relevant[:k], start=1):
        if rel:
            return 1.0 / i
    return 0.0


def ndcg_at_k(relevant: Sequence[bool], k: int = RANK_DEPTH, n_relevant: int | None = None) -> float:
    """Binary-relevance nDCG@k; the ideal ranking puts ``n_relevant`` relevant results first
    (default: as many as the ranking holds)."""
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(relevant[:k], start=1) if rel)
    n = sum(bool(r) for r in relevant) if n_relevant is None else n_relevant
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(n, k) + 1))
    return dcg / ideal if ideal > 0 else 0.0


def retrieval_metrics(rankings: Sequence[tuple[Sequence[bool], int]],
                      ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Averages over questions; each question is (relevance of its ranking, number of
    relevant passages in the index)."""
    out: dict[str, float] = {}
    n = len(rankings)
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at_k(r, k) for r, _ in rankings) / n if n else 0.0
    out[f"mrr@{RANK_DEPTH}"] = sum(mrr_at_k(r) for r, _ in rankings) / n if n else 0.0
    out[f"ndcg@{RANK_DEPTH}"] = (
        sum(ndcg_at_k(r, RANK_DEPTH, nr) for r, nr in rankings) / n if n else 0.0
    )
    return out







def answer_checks(item: QAItem, answer: dict[str, Any]) -> dict[str, Any]:
    """Score one ``Answer.to_dict()`` against a project-set item."""
    found = bool(answer.get("found"))
    out: dict[str, Any] = {"found": found}
    if not item.answerable:
        out["correct"] = not found
        return out
    gold = item.answer or {}
    figures = answer.get("figures") or []
    numeric = bool({"value", "low", "date"} & set(gold))
    out["numeric"] = numeric
    if numeric:
        ok = found and bool(figures) and figure_matches(figures[0], gold)
    else:
        text = gold.get("text")
        texts = [text] if isinstance(text, str) else list(text or [])
        body = normalize(str(answer.get("answer", ""))).lower()
        ok = found and all(normalize(t).lower() in body for t in texts)
    out["correct"] = ok
    g = item.gold
    out["cited_gold"] = g is not None and any(g.cited_by(c) for c in answer.get("citations") or [])
    return out


def span_hit(item: QAItem, answer: dict[str, Any]) -> bool:
    """External sets: a gold span is in the answer text, or a figure has a span's value."""
    if not answer.get("found"):
        return False
    body = normalize(str(answer.get("answer", ""))).lower()
    if any(normalize(s).lower() in body for s in item.spans):
        return True
    if item.numeric:
        gold_figs = gold_figures(item)
        for f in answer.get("figures") or []:
            for g in gold_figs:
                if g["kind"] == "date":
                    if f.get("date") and f.get("date") == g["date"]:
                        return True
                elif g["value"] is not None and _close(f.get("value"), g["value"]):
                    return True
    return False



def matches_any(fig: dict[str, Any], gold: Sequence[dict[str, Any]]) -> bool:
    """Whether an answer figure equals one of the figures of the gold spans: by date, by
    value, or by range (units are not compared: a span's unit may be spelled otherwise)."""
    for g in gold:
        if g["kind"] == "date" or fig.get("kind") == "date":
            if same_date(fig.get("date"), g.get("date")):
                return True
        elif g["value"] is not None:
            if _close(fig.get("value"), g["value"]):
                return True
        elif g["low"] is not None and _close(fig.get("low"), g["low"]) and _close(
                fig.get("high"), g["high"]):
            return True
    return False


def strict_numeric(item: QAItem, answer: dict[str, Any]) -> bool | None:
    """External sets, numeric questions: the answering (first) figure equals a figure of a
    gold span. None when no gold span holds a figure (the question cannot be checked
    strictly)."""
    gold = gold_figures(item)
    if not gold:
        return None
    figs = answer.get("figures") or []
    return bool(answer.get("found")) and bool(figs) and matches_any(figs[0], gold)


def answer_summary(checks: Sequence[tuple[QAItem, dict[str, Any]]]) -> dict[str, Any]:
    """Aggregate :func:`answer_checks` results."""
    answerable = [(it, c) for it, c in checks if it.answerable]
    numeric = [(it, c) for it, c in answerable if c.get("numeric")]
    textual = [(it, c) for it, c in answerable if not c.get("numeric")]
    refusals = [(it, c) for it, c in checks if not it.answerable]

    def share(xs: Sequence[tuple[QAItem, dict[str, Any]]], key: str = "correct") -> float | None:
        return sum(bool(c.get(key)) for _, c in xs) / len(xs) if xs else None

    by_type: dict[str, dict[str, int]] = {}
    for it, c in checks:
        t = by_type.setdefault(it.type, {"n": 0, "correct": 0})
        t["n"] += 1
        t["correct"] += int(bool(c["correct"]))
    return {
        "answerable": len(answerable),
        "unanswerable": len(refusals),
        "answer_accuracy": share(answerable),
        "figure_accuracy": share(numeric),
        "figure_questions": len(numeric),
        "text_accuracy": share(textual),
        "text_questions": len(textual),
        "refusal_accuracy": share(refusals),
        "false_refusals": sum(not c["found"] for _, c in answerable),
        # found, with a wrong answering figure or text, or an answer to an unanswerable one
        "wrong_answer_rate": (sum(bool(c["found"]) and not c["correct"] for _, c in checks)
                              / len(checks) if checks else None),
        "coverage": sum(bool(c["found"]) for _, c in checks) / len(checks) if checks else None,
        "cited_gold": share(answerable, "cited_gold"),
        "by_type": by_type,
        "failing": [it.id for it, c in checks if not c["correct"]],
    }


@dataclass(frozen=True)
class Outcome:
    """One question asked with the refusal threshold at 0: the answer's confidence (None
    when it has none and is given whenever found), whether it was found, whether it is
    right if given (always False for an unanswerable question), and whether it has an
    answer at all."""

    confidence: float | None
    found: bool
    right: bool
    answerable: bool = True

    def given(self, threshold: float) -> bool:
        return self.found and (self.confidence is None or self.confidence >= threshold)


def at_threshold(outcomes: Sequence[Outcome], threshold: float) -> dict[str, Any]:
    """Accuracy (right answers over answerable questions), wrong-answer rate (given and
    wrong, over all questions) and coverage (share given) at one threshold."""
    n = len(outcomes)
    answerable = sum(o.answerable for o in outcomes)
    given = [o for o in outcomes if o.given(threshold)]
    right = sum(o.right for o in given)
    return {"questions": n,
            "accuracy": right / answerable if answerable else None,
            "wrong_answer_rate": (len(given) - right) / n if n else None,
            "coverage": len(given) / n if n else None}


def risk_coverage(outcomes: Sequence[Outcome], steps: int = 20) -> list[dict[str, Any]]:
    """The wrong-answer rate and coverage as the threshold moves from 0 to 1."""
    return [{"threshold": t, **{k: v for k, v in at_threshold(outcomes, t).items()
                                if k != "questions"}}
            for t in (i / steps for i in range(steps + 1))]
