"""Evidence candidates: the sentences of the retrieved passages, the figures in them that
pass the hard constraints (place, year, coverage, kind), each scored by the evidence model,
the confidence of the best, and the draft an answer is built in.

Shared by the single-figure answers (:mod:`rag.answer`) and the aggregate ones
(:mod:`rag.aggregate`), and apart from both so that neither imports the other's module:
``answer`` imports ``aggregate``, and both import this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.evidence import (
    EvidenceModel,
    SentenceFigures,
    asks,
    by_sentence,
    coverage,
    features,
    heading_names_place,
    idf_coverage,
    load_model,
    other_place,
    passage_context,
    question_features,
    sentence_features,
    total_unmet,
    value_support,
)
from rag.figures import Figure
from rag.question import Question, _with_synonyms, place_core
from rag.text import normalize
from rag.types import FigureFact, Hit, Passage

# A passage must cover at least this share of the question's content terms to be evidence,
# counted plainly and weighted by rarity: 合肥新能源汽车产业母基金 is not answered from a
# passage about 合肥's robot funds that holds only 基金 and 规模.
MIN_COVERAGE = 0.5
# English terms reach Chinese text only through a dictionary, which misses some words.
MIN_COVERAGE_EN = 0.34
# The rarity-weighted share may fall this far below the plain one (粮食总产量 is answered by
# 粮食产量, and 总产量 is the rarer word)
MIN_IDF_SHARE = 0.8


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    text: str
    start: int  # offset in the passage text
    figures: tuple[Figure, ...]  # with offsets relative to the sentence
    facts: tuple[FigureFact | None, ...] = ()  # the stored record of each figure
    lead: str = ""  # the lead-in of the list the sentence is an item of


@dataclass
class _Candidate:
    sentence: _Sentence
    figure: Figure | None
    score: float  # the evidence model's logit for a figure; a ranking score for a sentence
    coverage: float
    features: dict[str, float] | None = None
    vetoed: str | None = None  # the veto feature that rules it out (Scorer.vetoes)


@dataclass
class _Draft:
    """An answer under construction: text parts refer to hits by object, numbered later."""

    parts: list[tuple[str, Hit | None]] = field(default_factory=list)
    used: list[tuple[Figure, Hit]] = field(default_factory=list)
    evidence: list[_Sentence] = field(default_factory=list)
    confidence: float | None = None
    # an aggregate answer's rows: label, figure (None: not found), its sentence
    rows: list[tuple[str, Figure | None, _Sentence | None]] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    # figures the answer computes from its cited rows (共5个: the rows counted), not quotes
    derived: list[str] = field(default_factory=list)
    # a list's first item: what a refusal of the whole list points at as not the answer
    lead: _Candidate | None = None

    def add(self, text: str, hit: Hit | None = None) -> None:
        self.parts.append((text, hit))


def sentences(hit: Hit) -> list[_Sentence]:
    """The sentences of a passage with the figures inside each (from the figure store)."""
    return [_Sentence(hit, s.text, s.start, s.figures, s.facts, s.lead)
            for s in by_sentence(hit.passage.text, hit.figures)]


def _place_ok(q: Question, p: Passage, sentence: str, places: Sequence[str] | None = None) -> bool:
    """Every place asked about is named by the passage (its section, title or text): a
    question about 绍兴上虞区 is answered from the 绍兴市 section that names 上虞区."""
    where = f"{p.section or ''} {p.title} {p.subtitle or ''} {sentence} {p.text}"
    return all(place_core(place) in where for place in (q.places if places is None else places))


def _year_ok(q: Question, sentence: str, fig: Figure | None, fact: FigureFact | None = None) -> bool:
    """Every year asked about is the figure's: named in its sentence or date, or inside the
    period the figure store gave it (2013's growth stands in the 2014 report as 去年, or
    under 一、2013年工作回顾)."""
    for year in q.years:
        if fact is not None and fact.period_start and fact.period_end:
            if fact.period_start[:4] <= year <= fact.period_end[:4]:
                continue
            if fact.period_stated or year not in sentence:
                return False  # the figure is about another year, said or inferred
        if year not in sentence and not (fig and fig.date and year in fig.date):
            return False
    return True


def _candidates(q: Question, hits: Sequence[Hit], *, kinds: Sequence[str],
                places: Sequence[str] | None = None,
                model: EvidenceModel | None = None,
                keep_vetoed: bool = False) -> list[_Candidate]:
    """Scored evidence: one candidate per matching figure (or per sentence when no figure
    is asked for), after the hard constraints (place, year, coverage, kind), best first.
    Figures are scored by the evidence model's logit over their features; one carrying a
    veto feature is left out, or with ``keep_vetoed`` kept and marked."""
    model = model or load_model()
    out: list[_Candidate] = []
    top_fused = max((h.scores.fused for h in hits), default=0.0)
    # 6G is not 5G; M2 may be written 广义货币 (evidence_words.json synonyms)
    codes = [_with_synonyms([c]) for c in q.codes]
    for hit in hits:
        p = hit.passage
        context = passage_context(p)
        pass_cov = coverage(q, context)
        floor = MIN_COVERAGE_EN if q.english else MIN_COVERAGE
        if pass_cov < floor or idf_coverage(q, context) < floor * MIN_IDF_SHARE:
            continue
        heading_place = heading_names_place(q, p, places)
        for s in sentences(hit):
            if not _place_ok(q, p, s.text, places):
                continue
            # the sentence itself must carry the terms: a headline that states a figure
            # (5G基站将达27万个) would otherwise lend them to every sentence under it
            sent_low = normalize(s.text).lower()
            if not kinds:
                if _year_ok(q, s.text, None):
                    sf = sentence_features(q, hit, s.text, pass_cov=pass_cov,
                                           top_fused=top_fused, heading_place=heading_place)
                    out.append(_Candidate(s, None, model.sentence.score(sf), pass_cov, sf))
                continue
            if not all(any(a in sent_low for a in alts) for alts in codes):
                continue
            for f, fact in zip(s.figures, s.facts or (None,) * len(s.figures), strict=True):
                if f.kind not in kinds or not _year_ok(q, s.text, f, fact):
                    continue
                if f.kind == "date" and (f.date or "").startswith("--") and asks(q, "year_asked"):
                    continue  # 哪一年 is not answered by 1月26日
                before = s.text[max(0, f.start - 8):f.start]
                if q.parts and not any(w in before for w in q.parts):
                    continue  # 首期规模 needs a first-phase figure, not the total
                if other_place(q, s.text, f, places) or total_unmet(q, s.text, f):
                    continue  # 武汉's 1000亿元 is not 杭州's; a cap per company is no total
                if q.counted and f.kind == "count" and q.counted not in s.text[
                        max(0, f.start - 12):f.end + 8]:
                    continue  # 多少个榜单项目 is not answered by 七个步骤
                feats = features(q, hit, SentenceFigures(s.start, s.text, s.figures,
                                                         tuple(x for x in s.facts if x),
                                                         s.lead),
                                 f, fact, pass_cov=pass_cov, top_fused=top_fused,
                                 heading_place=heading_place)
                vetoed = model.figure.veto(feats)
                if vetoed is None or keep_vetoed:
                    out.append(_Candidate(s, f, model.figure.score(feats), pass_cov, feats,
                                          vetoed))
    out.sort(key=lambda c: -c.score)
    return out


def _rival(cands: Sequence[_Candidate]) -> _Candidate | None:
    """The best candidate with another value (or, for sentences, another sentence) than
    the best one: what the answer would have been otherwise (the same figure quoted
    twice is no rival)."""
    best = cands[0]
    for c in cands[1:]:
        if best.figure is None:
            if c.figure is None and c.sentence.text != best.sentence.text:
                return c
        elif c.figure is not None and not _same_value(c.figure, best.figure):
            return c
    return None


def _confidence(model: EvidenceModel, cands: Sequence[_Candidate],
                q: Question | None = None) -> float | None:
    if not cands:
        return None
    rival = _rival(cands)
    scorer = model.sentence if cands[0].figure is None else model.figure
    qf = question_features(q, len(cands)) if q is not None else None
    best = cands[0]
    same = [c.sentence.text == best.sentence.text if best.figure is None
            else c.figure is not None and _same_value(c.figure, best.figure) for c in cands]
    return scorer.confidence(best.score, rival.score if rival else None, qf, best.features,
                             value_support([c.score for c in cands], same))


def _same_value(a: Figure, b: Figure) -> bool:
    def close(x: float | None, y: float | None) -> bool:
        if x is None or y is None:
            return x is None and y is None
        return abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1.0)

    if a.kind == "date" or b.kind == "date":
        return a.date is not None and a.date == b.date
    has = a.value is not None or a.low is not None
    return has and close(a.value, b.value) and close(a.low, b.low) and close(a.high, b.high)


def _lang(q: Question, zh: str, en: str) -> str:
    return en if q.english else zh


def _label(hit: Hit, f: Figure | None) -> str:
    """What a list item is about: its section (a city) or the figure's subject. Not the
    article title: a title can hold a figure of its own (“十条措施”) that the cited passage
    does not, and the citation check would rightly drop it."""
    p = hit.passage
    return p.section or (f.subject if f and f.subject else None) or ""


def _size(c: _Candidate) -> float:
    f = c.figure
    if f is None:
        return 0.0
    return float(f.value if f.value is not None else (f.high or f.low or 0.0))
