"""Hybrid retrieval: dense (FAISS) and BM25 (jieba tokens) rankings fused by a fitted score
model over both (rag.fusion; or, with ``fusion="rrf"``, by weighted reciprocal rank). Each
hit keeps the score of each retriever so callers can see why."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from rag import fusion
from rag.config import RetrievalConfig
from rag.crosslingual import expand, expand_groups
from rag.embed import Embedder
from rag.figures import figure_tokens
from rag.index import Snapshot
from rag.text import normalize, query_tokens, tokenize
from rag.types import DocumentInfo, Hit, Passage, Scores

MODES = ("hybrid", "dense", "bm25")


def passage_index_text(p: Passage) -> str:
    """What gets embedded: headings first, so a passage under 成都市 is about 成都."""
    return normalize(f"{p.header()}\n{p.text}")


def passage_tokens(p: Passage) -> list[str]:
    """BM25 tokens: jieba words of headings and text, plus canonical figure tokens."""
    return tokenize(f"{p.header()}\n{p.text}") + figure_tokens(p.text)


@dataclass(frozen=True)
class Filters:
    """Restrict results to documents, articles, sections and dates.

    ``doc_ids`` match a document id, its source name or a source-name prefix (a folder);
    ``title``/``section`` match by substring (section: any heading of the path);
    ``date_from``/``date_to`` are ISO prefixes (``2013``, ``2013-03``, ``2013-03-05``)
    compared with the document's date at the precision both have: a passage of a
    document without a date never passes a date filter."""

    doc_ids: tuple[str, ...] = ()
    title: str | None = None
    section: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.title or self.section or self.date_from or self.date_to)

    @staticmethod
    def names(d: str, doc_id: str, source: str) -> bool:
        """Whether the ``doc_ids`` entry ``d`` names this document (id, source, folder)."""
        return d in (doc_id, source) or source.startswith(d.rstrip("/") + "/")

    def accepts(self, p: Passage) -> bool:
        if self.doc_ids and not any(self.names(d, p.doc_id, p.source) for d in self.doc_ids):
            return False
        if self.title and self.title not in p.title and self.title not in (p.subtitle or ""):
            return False
        if self.section and not any(self.section in h for h in (p.headings or (p.section or "",))):
            return False
        if self.date_from or self.date_to:
            if not p.date:
                return False
            if self.date_from and p.date[:len(self.date_from)] < self.date_from[:len(p.date)]:
                return False
            if self.date_to and p.date[:len(self.date_to)] > self.date_to[:len(p.date)]:
                return False
        return True


def bm25_query(query: str) -> list[str]:
    """BM25 terms of a query: its words, its figures, and Chinese words for English ones."""
    terms = query_tokens(query) + figure_tokens(query)
    extra = expand(query)
    if extra:
        terms += tokenize(" ".join(extra))
    return terms


def figure_ranking(snap: Snapshot, query: str, candidates: list[int]) -> list[tuple[int, float]]:
    """Figure-aware ranking of candidate passages for a question that asks for a figure
    (how much, how many, what share, when): passages whose figures of that kind stand next
    to the question's terms come first. Empty for other questions."""
    from rag.evidence import figure_evidence
    from rag.question import analyse

    q = analyse(query)
    if not q.kinds:
        return []
    scored: dict[int, float] = {}
    for i in dict.fromkeys(candidates):
        score = figure_evidence(q, snap.passages[i].text, snap.figures[i])
        if score > 0:
            scored[i] = score
    return sorted(scored.items(), key=lambda x: (-x[1], x[0]))


def _top(scores: np.ndarray, n: int) -> list[int]:
    n = min(n, len(scores))
    if n <= 0:
        return []
    idx = np.argpartition(-scores, n - 1)[:n]
    return [int(i) for i in idx[np.argsort(-scores[idx], kind="stable")]]


def dense_ranking(snap: Snapshot, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
    if snap.dense.ntotal == 0:
        return []
    scores, ids = snap.dense.search(qvec.reshape(1, -1), min(n, snap.dense.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def bm25_ranking(snap: Snapshot, tokens: list[str], n: int) -> list[tuple[int, float]]:
    if snap.bm25 is None or not tokens:
        return []
    scores = np.asarray(snap.bm25.get_scores(tokens), dtype=np.float32)
    return [(i, float(scores[i])) for i in _top(scores, n) if scores[i] > 0]


def search(
    snap: Snapshot,
    embedder: Embedder,
    query: str,
    *,
    k: int,
    cfg: RetrievalConfig,
    filters: Filters | None = None,
    mode: str = "hybrid",
    model: fusion.FusionModel | None = None,
) -> list[Hit]:
    """Top-k passages for a query, best first (``model``: score-fusion weights other than
    the shipped ones, for a side-by-side benchmark)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    # every feature reads the normalised query: a full-width ５Ｇ is the 5G it stands for
    # (the Latin share of the question is one of the fusion's inputs)
    query = normalize(query)
    model = model or _model()
    total = len(snap.passages)
    scored = cfg.fusion == "score" and model.applies(query)
    # With a filter, rank everything so that k matching passages can be found.
    n = total if filters else min(total, max(cfg.candidates, k))
    dense: list[tuple[int, float]] = []
    bm25: list[tuple[int, float]] = []
    qvec: np.ndarray | None = None
    if mode in ("hybrid", "dense") and (mode == "dense" or cfg.dense_weight > 0):
        qvec = embedder.encode_queries([normalize(query)])[0]
        dense = dense_ranking(snap, qvec, n)
        if mode == "hybrid" and scored:
            return _score_fused(snap, query, qvec, dense, k=k, cfg=cfg, filters=filters,
                                model=model)
    if mode in ("hybrid", "bm25") and (mode == "bm25" or cfg.bm25_weight > 0):
        bm25 = bm25_ranking(snap, bm25_query(query), n)
    if filters:
        dense = [(i, s) for i, s in dense if filters.accepts(snap.passages[i])]
        bm25 = [(i, s) for i, s in bm25 if filters.accepts(snap.passages[i])]
    if mode == "hybrid" and scored:  # dense weight 0: BM25 features only
        return _score_fused(snap, query, None, [], k=k, cfg=cfg, filters=filters,
                            model=model)
    figure: list[tuple[int, float]] = []
    if mode == "hybrid" and cfg.figure_weight > 0:
        figure = figure_ranking(snap, query, [i for i, _ in dense[:cfg.figure_depth]]
                                + [i for i, _ in bm25[:cfg.figure_depth]])
    wd = 1.0 if mode == "dense" else (0.0 if mode == "bm25" else cfg.dense_weight)
    wb = 1.0 if mode == "bm25" else (0.0 if mode == "dense" else cfg.bm25_weight)
    fused: dict[int, float] = {}
    dense_score = dict(dense)
    bm25_score = dict(bm25)
    for weight, ranking in ((wd, dense), (wb, bm25), (cfg.figure_weight, figure)):
        for rank, (i, _) in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + weight / (cfg.rrf_k + rank)
    order = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    return [
        Hit(
            passage=snap.passages[i],
            scores=Scores(dense=dense_score.get(i), bm25=bm25_score.get(i), fused=fused[i]),
            rank=r,
            figures=snap.figures[i],
        )
        for r, i in enumerate(order, start=1)
    ]


def fusion_candidates(snap: Snapshot, query: str, qvec: np.ndarray | None,
                      dense: list[tuple[int, float]], *, depth: int, figure_depth: int,
                      prf_depth: int, prf_size: int, proximity: bool = True,
                      chars: Collection[str] = fusion.CHAR_FEATURES,
                      filters: Filters | None = None) -> fusion.Candidates:
    """The feature rows the score model ranks (rag.fusion): the first ``depth`` passages of
    the dense ranking given and of BM25, with figure evidence for a figure question and the
    character-bigram features named in ``chars``."""
    from rag.evidence import figure_evidence
    from rag.question import analyse

    q = analyse(query)
    terms = fusion.term_scores(snap.bm25, bm25_query(query), len(snap.passages))

    def figure(rows: list[int]) -> dict[int, float]:
        return {i: figure_evidence(q, snap.passages[i].text, snap.figures[i]) for i in rows}

    accept = (lambda i: filters.accepts(snap.passages[i])) if filters else None
    return fusion.candidates(snap, terms, dense, qvec, depth=depth, asks_figure=bool(q.kinds),
                             figure=figure, figure_depth=figure_depth, prf_depth=prf_depth,
                             prf_size=prf_size, accept=accept, use_proximity=proximity,
                             latin=fusion.latin_share(query), question=query, chars=chars)


def _score_fused(snap: Snapshot, query: str, qvec: np.ndarray | None,
                 dense: list[tuple[int, float]], *, k: int, cfg: RetrievalConfig,
                 filters: Filters | None, model: fusion.FusionModel) -> list[Hit]:
    uses_prf = "prf" in model.features
    c = fusion_candidates(snap, query, qvec, dense, depth=max(model.depth, k),
                          figure_depth=cfg.figure_depth if cfg.figure_weight > 0 else 0,
                          prf_depth=model.prf_depth if uses_prf else 0,
                          prf_size=model.prf_size if uses_prf else 0,
                          proximity=bool({"window", "bigram"} & set(model.features)),
                          chars=[n for n in fusion.CHAR_FEATURES if n in model.features],
                          filters=filters)
    scores = model.score(c)
    order = sorted(range(len(c.rows)), key=lambda j: (-scores[j], c.rows[j]))[:k]
    return [
        Hit(
            passage=snap.passages[c.rows[j]],
            scores=Scores(dense=c.dense.get(c.rows[j]), bm25=c.bm25.get(c.rows[j]),
                          fused=float(scores[j])),
            rank=r,
            figures=snap.figures[c.rows[j]],
        )
        for r, j in enumerate(order, start=1)
    ]


@cache
def _model() -> fusion.FusionModel:
    """The shipped fusion weights, read once."""
    return fusion.load_model()


@dataclass(frozen=True)
class NamedDocument:
    """A document the question names by its year and title (``1996年的政府工作报告``, ``the
    1990 government work report``) and the indexed documents that are it."""

    mention: str
    matches: tuple[DocumentInfo, ...]


_YEAR_AT = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def named_documents(question: str, documents: Sequence[DocumentInfo]) -> list[NamedDocument]:
    """The documents a question names as a year followed by a title that some indexed
    document has (in English, a phrase whose Chinese is that title). A named year no
    document of that title has is a mention with no match: the question's premise (what
    the 1996 report said) the corpus cannot answer, whatever figures of 1996 it holds."""
    titles = sorted({d.title for d in documents if len(d.title) >= 4}, key=len, reverse=True)
    if not titles:
        return []
    low = normalize(question).lower()
    english = expand_groups(question)
    out: list[NamedDocument] = []
    for m in _YEAR_AT.finditer(low):
        after = low[m.end():m.end() + 40]
        found = next(((t, h) for t in titles
                      if (h := re.match(rf"年?(?:的|度)?{re.escape(t.lower())}", after))), None)
        if found is None:
            # English: 1990 government work report, 1990's government work report
            found = next(((t, h) for t in titles for phrase, words in english if t in words
                          and (h := re.match(rf"(?:'s)?\s+{re.escape(phrase)}", after))), None)
        if found is None:
            continue
        title, hit = found
        year = m.group(1)
        matches = tuple(d for d in documents if d.title == title and (d.date or "")[:4] == year)
        out.append(NamedDocument(low[m.start():m.end() + hit.end()], matches))
    return out


def year_filter(years: Sequence[str], base: Filters | None = None) -> Filters | None:
    """Documents dated in the asked years or the year after (where a year's results are
    reported), on top of ``base``; None when no year is asked or ``base`` already
    restricts dates."""
    if not years or (base is not None and (base.date_from or base.date_to)):
        return None
    lo, hi = min(years), str(int(max(years)) + 1)
    if base is None:
        return Filters(date_from=lo, date_to=hi)
    return replace(base, date_from=lo, date_to=hi)


def period_first(hits: Sequence[Hit], years: Sequence[str]) -> list[Hit]:
    """``hits`` with those first whose figure store holds a figure of an asked year alone
    (its period that one year), each group in its own order. A year's results stand in
    the next year's review under ``去年``/``一、2013年工作回顾``, while the report of that
    year reviews the five years before it (2013's ``过去五年`` passages outrank the 2014
    review for 2013年国内生产总值增长多少 on words alone); its targets stand under ``今年``
    in its own report (2013, 2014)."""
    asked = set(years)

    def holds(h: Hit) -> bool:
        return any(f.period_start and f.period_start[:4] in asked
                   and (f.period_end or f.period_start)[:4] == f.period_start[:4]
                   for f in h.figures)

    return sorted(hits, key=lambda h: not holds(h))  # stable: each group keeps its order


def merge_hits(first: Sequence[Hit], then: Sequence[Hit], k: int) -> list[Hit]:
    """``first`` then the hits of ``then`` not in it, ranked anew, at most ``k``."""
    seen: set[str] = set()
    out: list[Hit] = []
    for h in [*first, *then]:
        if h.passage.passage_id in seen:
            continue
        seen.add(h.passage.passage_id)
        out.append(replace(h, rank=len(out) + 1))
        if len(out) >= k:
            break
    return out
