"""Score fusion for hybrid retrieval: every candidate of the BM25 and dense rankings gets a
row of features (normalised BM25 score, cosine gap to the best passage raw and over the
spread of the dense ranking, both ranks, the idf-weighted share of query terms it holds,
how closely they stand (best window, adjacent pairs), figure evidence, a
pseudo-relevance-feedback score) and a linear score over them, with weights that depend on
the question (its length, how rare its terms are, whether it asks for a figure, whether it
is English). The weights are fitted on the fit halves of the QA sets by
``benchmarks/fit_retrieval.py`` and shipped in ``rag/data/retrieval_model.json``.

Why not rank fusion: reciprocal ranks throw away how far apart two passages are, so a weak
dense ranking pulls a confident BM25 ranking down; scores keep the margin, and the fitted
question-dependent weights let BM25 lead where the question reuses the passage's words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError
from rag.index import Snapshot
from rag.text import QUERY_STOPWORDS, normalize
from rag.vocab import data

_HAN = re.compile(r"[\u4e00-\u9fff]+")  # runs of Chinese characters

# candidate features, each multiplied by every question feature (QUERY_FEATURES)
FEATURES = ("bm25", "bm25_rank", "cosine_gap", "dense_rank", "coverage", "figure", "prf",
            "window", "bigram", "cosine_z", "bm25_top", "dense_top",
            "char_cover", "char_bm25", "char_window", "char_span", "title")
# features over Chinese character bigrams (rag.fusion.char_features): computed only for a
# model that uses one of them
CHAR_FEATURES = ("char_cover", "char_bm25", "char_window", "char_span", "title")
QUERY_FEATURES = ("bias", "length", "rarity", "asks_figure", "latin")
WINDOW = 24  # tokens: about one sentence, where a question's words cluster
CHAR_WINDOW = 40  # characters: the densest window of matched question bigrams
CHAR_K1, CHAR_B = 1.2, 0.75  # BM25 saturation and length normalisation over bigrams
RANK_K = 10.0  # a rank r enters as RANK_K / (RANK_K + r): reciprocal-rank fusion's term, scaled to (0, 1)


@dataclass(frozen=True)
class Terms:
    """A query's BM25 terms over one snapshot: the distinct terms, how often each is asked,
    each term's score of every passage (rows: terms) and its idf."""

    terms: tuple[str, ...]
    counts: np.ndarray
    scores: np.ndarray
    idf: np.ndarray
    sequence: tuple[str, ...] = ()  # the query's terms in order, as asked

    @property
    def total(self) -> np.ndarray:
        """The BM25 score of every passage (a repeated term counts again)."""
        if not self.terms:
            return np.zeros(self.scores.shape[1], dtype=np.float32)
        return np.asarray(self.counts @ self.scores, dtype=np.float32)


def term_scores(bm25: Any, tokens: Sequence[str], n_docs: int) -> Terms:
    """Score the passages one distinct term at a time (the cost of one BM25 query), so that
    which terms a passage holds and how rare each term is come for free."""
    uniq = list(dict.fromkeys(tokens))
    counts = np.array([tokens.count(t) for t in uniq], dtype=np.float32)
    if bm25 is None or not uniq or n_docs == 0:
        return Terms((), np.zeros(0, np.float32), np.zeros((0, n_docs), np.float32),
                     np.zeros(0, np.float32))
    scores = np.vstack([np.asarray(bm25.get_scores([t]), dtype=np.float32) for t in uniq])
    df = np.count_nonzero(scores > 0, axis=1)
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    return Terms(tuple(uniq), counts, scores, idf, tuple(tokens))


def proximity(t: Terms, tokens: Sequence[str]) -> tuple[float, float]:
    """How closely a passage's tokens follow the question: the idf-weighted share of query
    terms found within one window of WINDOW tokens (the best window), and the share of the
    question's adjacent term pairs that stand adjacent in the passage."""
    index = {w: j for j, w in enumerate(t.terms)}
    hits = [(p, j) for p, j in ((p, index.get(tok)) for p, tok in enumerate(tokens))
            if j is not None]
    total = float(t.idf.sum())
    if not hits or total <= 0:
        return 0.0, 0.0
    pairs = {(a, b) for a, b in zip(t.sequence, t.sequence[1:], strict=False) if a != b}
    seen_pairs: set[tuple[str, str]] = set()
    count: dict[int, int] = {}
    mass = best = 0.0
    lo = 0
    for hi, (p, j) in enumerate(hits):
        if count.get(j, 0) == 0:
            mass += float(t.idf[j])
        count[j] = count.get(j, 0) + 1
        while hits[lo][0] <= p - WINDOW:
            q = hits[lo][1]
            count[q] -= 1
            if count[q] == 0:
                mass -= float(t.idf[q])
            lo += 1
        best = max(best, mass)
        if hi > 0 and hits[hi - 1][0] == p - 1:
            pair = (t.terms[hits[hi - 1][1]], t.terms[j])
            if pair in pairs:
                seen_pairs.add(pair)
    return best / total, (len(seen_pairs) / len(pairs) if pairs else 0.0)


def latin_share(query: str) -> float:
    """The share of a question's letters that are Latin: an English question over Chinese
    passages, which the dense model serves poorly and BM25 through its Chinese expansion."""
    latin = sum(1 for ch in query if ch.isascii() and ch.isalpha())
    han = sum(1 for ch in query if "\u4e00" <= ch <= "\u9fff")
    return latin / (latin + han) if latin + han else 0.0


def query_features(t: Terms, n_docs: int, asks_figure: bool, latin: float = 0.0) -> np.ndarray:
    """The question's features: 1, its length (terms / 10, at most 2), the mean idf of its
    terms over the largest idf the index allows (rarity), whether it asks for a figure and
    the share of its letters that are Latin."""
    length = min(len(t.terms) / 10.0, 2.0)
    top = float(np.log(1 + (n_docs - 0.5) / 1.5)) if n_docs > 1 else 1.0
    present = t.idf[np.any(t.scores > 0, axis=1)] if t.terms else t.idf
    rarity = float(present.mean()) / top if len(present) and top > 0 else 0.0
    return np.array([1.0, length, rarity, float(asks_figure), latin], dtype=np.float32)


def prf_terms(snap: Snapshot, t: Terms, bm25_top: Sequence[int], n_terms: int,
              n_docs: int) -> list[str]:
    """Pseudo-relevance feedback: the terms of the first BM25 passages that are not query
    terms, ranked by tf·idf over those passages (idf from the index's postings)."""
    if not bm25_top or n_terms <= 0 or snap.bm25 is None:
        return []
    asked = set(t.terms)
    tf: dict[str, int] = {}
    for i in bm25_top:
        for tok in snap.tokens[i]:
            if tok not in asked and len(tok) > 1:
                tf[tok] = tf.get(tok, 0) + 1
    if not tf:
        return []
    vocab = snap.bm25.vocab
    cand = [w for w in tf if w in vocab]
    if not cand:
        return []
    probe = term_scores(snap.bm25, cand, n_docs)
    weight = {w: tf[w] * float(idf) for w, idf in zip(probe.terms, probe.idf, strict=True)}
    return sorted(weight, key=lambda w: (-weight[w], w))[:n_terms]


def char_bigrams(text: str) -> list[str]:
    """The distinct bigrams of a text's runs of Chinese characters (anything else breaks a
    run: digits and Latin words are whole BM25 tokens already), question and function
    words (rag.text.QUERY_STOPWORDS) left out: the unit jieba cannot mis-segment, so a rare
    name cut differently in question and passage still matches."""
    out: dict[str, None] = {}
    for run in _HAN.findall(normalize(text)):
        for a in range(len(run) - 1):
            bg = run[a:a + 2]
            if bg not in QUERY_STOPWORDS:
                out.setdefault(bg)
    return list(out)


def longest_span(question: str, text: str) -> int:
    """Characters in the longest stretch of the question found verbatim in ``text``."""
    best = 0
    for a in range(len(question)):
        if a + best >= len(question):
            break
        while a + best < len(question) and question[a:a + best + 1] in text:
            best += 1
    return best


def char_features(question: str, texts: Sequence[str], titles: Sequence[str],
                  need: Collection[str] = CHAR_FEATURES) -> np.ndarray:
    """Features of each candidate passage (rows: ``texts``) over the question's character
    bigrams, with document frequencies from the candidates themselves (no index change):
    idf-weighted coverage, a BM25 over bigrams (normalised to the best candidate), the
    densest CHAR_WINDOW-character window of matched bigrams, the longest verbatim stretch
    of the question (a share of its word characters) and the share of the passage title's
    bigrams the question holds (a passage about the entity the question names). Columns
    not in ``need`` are left 0."""
    out = np.zeros((len(texts), len(CHAR_FEATURES)), dtype=np.float32)
    grams = char_bigrams(question)
    if not texts or not grams:
        return out
    low = [normalize(t).lower() for t in texts]
    tf = np.array([[t.count(g) for g in grams] for t in low], dtype=np.float32)
    n = len(low)
    df = np.count_nonzero(tf, axis=0)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32) * (df > 0)
    mass = float(idf.sum())
    if mass > 0:
        out[:, 0] = ((tf > 0) @ idf) / mass
        lengths = np.array([len(t) for t in low], dtype=np.float32)
        norm = CHAR_K1 * (1 - CHAR_B + CHAR_B * lengths / max(float(lengths.mean()), 1.0))
        bm = (tf * (CHAR_K1 + 1) / (tf + norm[:, None])) @ idf
        if float(bm.max()) > 0:
            out[:, 1] = bm / float(bm.max())
        if "char_window" in need:
            for j, t in enumerate(low):
                out[j, 2] = _densest(t, grams, idf, tf[j]) / mass
    q = normalize(question).lower()
    words = sum(len(r) for r in _HAN.findall(q))
    if "char_span" in need and words:
        for j, t in enumerate(low):
            out[j, 3] = min(longest_span(q, t) / words, 1.0)
    if "title" in need:
        for j, title in enumerate(titles):
            tg = char_bigrams(title)
            if tg:
                out[j, 4] = sum(1 for g in tg if g in q) / len(tg)
    return out


def _densest(text: str, grams: Sequence[str], idf: np.ndarray, tf: np.ndarray) -> float:
    """The largest idf mass of distinct question bigrams within one CHAR_WINDOW window."""
    hits: list[tuple[int, int]] = []
    for g, (w, c) in enumerate(zip(idf, tf, strict=True)):
        if c <= 0 or w <= 0:
            continue
        at = text.find(grams[g])
        while at >= 0:
            hits.append((at, g))
            at = text.find(grams[g], at + 1)
    hits.sort()
    count: dict[int, int] = {}
    mass = best = 0.0
    lo = 0
    for p, g in hits:
        if count.get(g, 0) == 0:
            mass += float(idf[g])
        count[g] = count.get(g, 0) + 1
        while hits[lo][0] <= p - CHAR_WINDOW:
            h = hits[lo][1]
            count[h] -= 1
            if count[h] == 0:
                mass -= float(idf[h])
            lo += 1
        best = max(best, mass)
    return best


@dataclass(frozen=True)
class Candidates:
    """The candidate rows of one query, their feature matrix (rows × FEATURES), the
    question's features, and each row's BM25 score and (if the dense ranking has it) cosine."""

    rows: list[int]
    features: np.ndarray
    query: np.ndarray
    bm25: dict[int, float]
    dense: dict[int, float]

    def design(self, names: Sequence[str] = FEATURES) -> np.ndarray:
        """The model's inputs: each chosen feature times each question feature."""
        cols = [FEATURES.index(n) for n in names]
        f = self.features[:, cols]
        return (f[:, :, None] * self.query[None, None, :]).reshape(len(self.rows), -1)


def candidates(snap: Snapshot, t: Terms, dense: Sequence[tuple[int, float]],
               qvec: np.ndarray | None, *, depth: int, asks_figure: bool,
               figure: Callable[[list[int]], dict[int, float]] | None = None,
               figure_depth: int = 20, prf_depth: int = 3, prf_size: int = 10,
               accept: Callable[[int], bool] | None = None,
               use_proximity: bool = True, latin: float = 0.0,
               question: str | None = None,
               chars: Collection[str] = CHAR_FEATURES) -> Candidates:
    """Features of the union of the first ``depth`` passages of each ranking (``dense``:
    the dense ranking, best first; BM25 is ranked here from ``t``). ``figure`` scores rows
    for a figure question (called with the first ``figure_depth`` of each ranking);
    ``accept`` drops rows a filter rejects before anything is ranked; features a model does
    not use are left 0 (PRF with ``prf_size`` 0, proximity without ``use_proximity``, the
    character features without ``question``, the question's text, or not in ``chars``)."""
    n_docs = len(snap.passages)
    total = t.total
    order = [int(i) for i in np.argsort(-total, kind="stable") if total[i] > 0]
    if accept is not None:
        order = [i for i in order if accept(i)]
        dense = [(i, s) for i, s in dense if accept(i)]
    bm25_list = order[:depth]
    dense_list = [i for i, _ in dense[:depth]]
    rows = list(dict.fromkeys(bm25_list + dense_list))
    bm25_rank = {i: r for r, i in enumerate(order, start=1)}
    dense_rank = {i: r for r, (i, _) in enumerate(dense, start=1)}
    dense_score = dict(dense)
    cos = np.zeros(len(rows), dtype=np.float32)
    missing = [j for j, i in enumerate(rows) if i not in dense_score]
    for j, i in enumerate(rows):
        if i in dense_score:
            cos[j] = dense_score[i]
    if missing and qvec is not None and dense:
        vecs = snap.vectors([rows[j] for j in missing])
        cos[missing] = vecs @ qvec.astype(np.float32)
    best_cos = max(float(cos.max()) if len(cos) else 0.0,
                   max((s for _, s in dense), default=0.0))
    f = np.zeros((len(rows), len(FEATURES)), dtype=np.float32)
    if not rows:
        return Candidates(rows, f, query_features(t, n_docs, asks_figure, latin), {}, {})
    idx = np.array(rows)
    top_bm25 = float(total[order[0]]) if order else 0.0
    if top_bm25 > 0:
        f[:, 0] = total[idx] / top_bm25
    worst = len(order) + 1
    f[:, 1] = [RANK_K / (RANK_K + bm25_rank.get(i, worst)) for i in rows]
    f[:, 2] = (cos - best_cos) if dense else -1.0
    worst = len(dense) + 1
    f[:, 3] = [RANK_K / (RANK_K + dense_rank.get(i, worst)) for i in rows] if dense else 0.0
    if t.terms and float(t.idf.sum()) > 0:
        f[:, 4] = (t.idf @ (t.scores[:, idx] > 0)) / float(t.idf.sum())
    if figure is not None and asks_figure:
        fig = figure(list(dict.fromkeys(bm25_list[:figure_depth] + dense_list[:figure_depth])))
        f[:, 5] = [fig.get(i, 0.0) for i in rows]
    spread = float(np.std([s for _, s in dense[:depth]])) if dense else 0.0
    if dense:
        f[:, 9] = np.maximum((cos - best_cos) / max(spread, 1e-3), -5.0)
    f[:, 10] = [1.0 / bm25_rank.get(i, len(order) + 1) for i in rows]
    f[:, 11] = [1.0 / dense_rank.get(i, len(dense) + 1) for i in rows] if dense else 0.0
    if use_proximity:
        for j, i in enumerate(rows):
            f[j, 7], f[j, 8] = proximity(t, snap.tokens[i])
    if question and chars:
        texts = [f"{snap.passages[i].header()}\n{snap.passages[i].text}" for i in rows]
        cols = [FEATURES.index(n) for n in CHAR_FEATURES]
        f[:, cols] = char_features(question, texts, [snap.passages[i].title for i in rows],
                                   chars)
    if prf_depth > 0 and prf_size > 0:
        extra = prf_terms(snap, t, order[:prf_depth], prf_size, n_docs)
        if extra:
            prf = term_scores(snap.bm25, extra, n_docs).total
            top = float(prf.max())
            if top > 0:
                f[:, 6] = prf[idx] / top
    return Candidates(rows, f, query_features(t, n_docs, asks_figure, latin),
                      {i: float(total[i]) for i in rows if total[i] > 0},
                      {i: dense_score[i] for i in rows if i in dense_score})


@dataclass(frozen=True)
class FusionModel:
    """Linear weights over ``features`` × QUERY_FEATURES (named ``feature*query``)."""

    features: tuple[str, ...]
    weights: dict[str, float]
    depth: int = 30
    prf_depth: int = 3
    prf_size: int = 10
    # questions written mostly in Latin letters are ranked by rank fusion instead: the fit
    # halves hold 22 English questions, too few for the weights that concern them
    max_latin: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def applies(self, query: str) -> bool:
        """Whether this model ranks ``query`` (else the caller falls back to rank fusion)."""
        return latin_share(query) <= self.max_latin

    def vector(self) -> np.ndarray:
        return np.array([self.weights.get(f"{f}*{q}", 0.0) for f in self.features
                         for q in QUERY_FEATURES], dtype=np.float32)

    def score(self, c: Candidates) -> np.ndarray:
        if not c.rows:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(c.design(self.features) @ self.vector(), dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "query_features": list(QUERY_FEATURES),
                "depth": self.depth, "prf_depth": self.prf_depth, "prf_size": self.prf_size,
                "max_latin": self.max_latin, "weights": self.weights, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FusionModel:
        feats = tuple(str(x) for x in d["features"])
        unknown = [f for f in feats if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown fusion features: {', '.join(unknown)}")
        return cls(feats, {str(k): float(v) for k, v in d["weights"].items()},
                   int(d.get("depth", 30)), int(d.get("prf_depth", 3)),
                   int(d.get("prf_size", 10)), float(d.get("max_latin", 1.0)),
                   dict(d.get("meta") or {}))


def load_model(path: Path | None = None) -> FusionModel:
    """The fusion weights at ``path``, or the ones shipped in rag/data; ConfigError when
    they cannot be read or name a feature this code does not compute."""
    try:
        raw = data("retrieval_model") if path is None else json.loads(path.read_text("utf-8"))
        return FusionModel.from_dict(raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read retrieval model {path or 'rag/data'}: {exc}") from None
