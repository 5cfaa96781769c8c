"""Extractive, rule-based answers with citations.

No language model: the answer is assembled from the retrieved passages' own sentences and
figures. Every figure in an answer is a figure extracted from a passage it cites; this is
checked in :func:`enforce_citations` on every answer, and anything else is dropped.
When the evidence does not mention the place or year asked about, or does not cover the
question's terms, the answer is ``found: false`` rather than another subject's figure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rag import vocab
from rag.evidence import (
    EvidenceModel,
    SentenceFigures,
    admitted_kinds,
    asks,
    by_sentence,
    coverage,
    features,
    heading_names_place,
    idf_coverage,
    load_model,
    passage_context,
    question_features,
    sentence_features,
    value_support,
    weighted_coverage,
)
from rag.figures import Figure, extract_figures
from rag.question import Question, filter_figures, place_core, sub_questions
from rag.text import normalize
from rag.types import Answer, AnswerFigure, Citation, FigureFact, Hit, Passage, figure_values

# A passage must cover at least this share of the question's content terms to be evidence,
# counted plainly and weighted by rarity: 合肥新能源汽车产业母基金 is not answered from a
# passage about 合肥's robot funds that holds only 基金 and 规模.
MIN_COVERAGE = 0.5
# English terms reach Chinese text only through a dictionary, which misses some words.
MIN_COVERAGE_EN = 0.34
# The rarity-weighted share may fall this far below the plain one (粮食总产量 is answered by
# 粮食产量, and 总产量 is the rarer word)
MIN_IDF_SHARE = 0.8
# How many candidates ``explain`` lists when asked without a number.
EXPLAIN_DEFAULT = 2
_MARKER = re.compile(r"\[\d+\]")


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
            if q.codes and not all(c in sent_low for c in q.codes):
                continue  # 6G is not 5G
            for f, fact in zip(s.figures, s.facts or (None,) * len(s.figures), strict=True):
                if f.kind not in kinds or not _year_ok(q, s.text, f, fact):
                    continue
                if f.kind == "date" and (f.date or "").startswith("--") and asks(q, "year_asked"):
                    continue  # 哪一年 is not answered by 1月26日
                before = s.text[max(0, f.start - 8):f.start]
                if q.parts and not any(w in before for w in q.parts):
                    continue  # 首期规模 needs a first-phase figure, not the total
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


def _quote(s: _Sentence, fig: Figure | None = None, limit: int = 90,
           q: Question | None = None) -> str:
    """The evidence, verbatim: the whole sentence if short, else the clauses around the
    figure (the preceding clause first: it usually holds the date and the subject), or,
    without a figure, around the clause that holds most of the question's terms."""
    text = s.text.rstrip("。；;，,")
    if len(text) <= limit:
        return text
    bounds = [0] + [m.end() for m in re.finditer(r"[,，;；]", text)] + [len(text) + 1]
    clauses = [(bounds[i], bounds[i + 1] - 1) for i in range(len(bounds) - 1)]
    if fig is not None:
        pos = fig.start
    elif q is not None and q.terms:
        best = max(clauses, key=lambda c: weighted_coverage(q, normalize(text[c[0]:c[1]]).lower()))
        pos = best[0]
    else:
        pos = 0
    i = next((j for j, (a, b) in enumerate(clauses) if a <= pos < b + 1), 0)
    lo, hi = i, i
    while True:
        grown = False
        for j in (lo - 1, hi + 1):
            if 0 <= j < len(clauses):
                a = clauses[min(lo, j)][0]
                b = clauses[max(hi, j)][1]
                if b - a <= limit:
                    lo, hi = min(lo, j), max(hi, j)
                    grown = True
                    break
        if not grown:
            break
    a, b = clauses[lo][0], clauses[hi][1]
    out = text[a:b].rstrip(",，;；")
    return ("…" if a > 0 else "") + out + ("…" if b < len(text) else "")


def _lang(q: Question, zh: str, en: str) -> str:
    return en if q.english else zh


def _single(q: Question, cands: list[_Candidate]) -> _Draft | None:
    if not cands:
        return None
    best = cands[0]
    d = _Draft()
    s = best.sentence
    if best.figure is not None:
        f = best.figure
        d.add(f.text, s.hit)
        if q.english and f.value is not None and f.kind in ("money", "count") and f.unit:
            d.add(f" (= {f.value:,.0f} {f.unit})")
        d.add(_lang(q, "。依据：", ". Source: "))
        d.used.append((f, s.hit))
    d.add(_quote(s, best.figure, q=q), s.hit)
    d.add(_lang(q, "。", "."))
    d.evidence.append(s)
    return d


def _label(hit: Hit, f: Figure | None) -> str:
    """What a list item is about: its section (a city) or the figure's subject. Not the
    article title: a title can hold a figure of its own (“十条措施”) that the cited passage
    does not, and the citation check would rightly drop it."""
    p = hit.passage
    return p.section or (f.subject if f and f.subject else None) or ""


def _list(q: Question, hits: Sequence[Hit], model: EvidenceModel,
          threshold: float = 0.0) -> _Draft | None:
    kinds = q.kinds
    target = q.figures[0] if q.figures else None
    groups: dict[str, list[_Candidate]] = {}
    order: list[str] = []
    for c in _candidates(q, hits, kinds=kinds, model=model):
        f = c.figure
        if target is not None:
            if f is None or f.qualifier != "=" or not _same_quantity(f, target):
                continue
        elif kinds and f is None:
            continue
        if coverage(q, normalize(f"{c.sentence.hit.passage.header()} {c.sentence.text}").lower()) < (
            MIN_COVERAGE
        ):
            continue
        label = _label(c.sentence.hit, f)
        if label not in groups:
            groups[label] = []
            order.append(label)
        if f is None and groups[label]:
            continue
        if f is not None and any(x.figure is not None and x.figure.text == f.text
                                 and x.sentence.hit is c.sentence.hit for x in groups[label]):
            continue
        groups[label].append(c)
    order.sort(key=lambda lab: min(c.sentence.hit.passage.start for c in groups[lab]))
    # what a refusal of the whole list points at: its first item, whatever its confidence
    lead = next((c for lab in order for c in groups[lab] if c.figure is not None), None)
    # each item is scored and refused on its own: a list shows only what it is sure of
    confident: list[float] = []
    refused: list[float] = []
    for lab in list(order):
        conf = _confidence(model, sorted(groups[lab], key=lambda c: -c.score), q)
        if conf is not None and conf < threshold:
            order.remove(lab)
            del groups[lab]
            refused.append(conf)
        elif conf is not None:
            confident.append(conf)
    if not groups:
        # items were found, none sure enough: an empty draft that carries the first of them
        return _Draft(confidence=min(refused), lead=lead) if refused and lead is not None else None
    d = _Draft(confidence=min(confident) if confident else None, lead=lead)
    for i, lab in enumerate(order):
        if i:
            d.add(_lang(q, "；", "; "))
        if lab:
            d.add(_lang(q, f"{lab}：", f"{lab}: "))
        for j, c in enumerate(groups[lab]):
            if j:
                d.add("、")
            if c.figure is not None:
                d.add(c.figure.text, c.sentence.hit)
                d.used.append((c.figure, c.sentence.hit))
            else:
                d.add(_quote(c.sentence, q=q), c.sentence.hit)
            if c.sentence not in d.evidence:
                d.evidence.append(c.sentence)
    d.add(_lang(q, "。", "."))
    return d


def _same_quantity(a: Figure, b: Figure) -> bool:
    if a.unit != b.unit and a.unit and b.unit:
        return False
    va = a.value if a.value is not None else a.low
    vb = b.value if b.value is not None else b.low
    return va is not None and vb is not None and abs(va - vb) <= 1e-9 * max(abs(vb), 1.0)


def _compare(q: Question, per_place: dict[str, Sequence[Hit]],
             model: EvidenceModel) -> tuple[_Draft | None, list[str]]:
    """The best figure for each place, then which is larger. Returns the draft and the
    places without evidence."""
    kinds = q.kinds or ("money",)
    best: list[tuple[str, _Candidate]] = []
    missing: list[str] = []
    confidences: list[float] = []
    for place, hits in per_place.items():
        cands = [c for c in _candidates(q, hits, kinds=kinds, places=[place], model=model)
                 if c.figure]
        if not cands:
            missing.append(place)
        else:
            best.append((place, cands[0]))
            conf = _confidence(model, cands, q)
            if conf is not None:
                confidences.append(conf)
    if missing or len(best) < 2:
        return None, missing

    ranked = sorted(best, key=lambda pc: -_size(pc[1]))
    d = _Draft(confidence=min(confidences) if confidences else None)
    top, second = ranked[0], ranked[1]
    if _size(top[1]) == _size(second[1]):
        d.add(_lang(q, "两者相同：", "They are equal: "))
    else:
        d.add(_lang(q, f"{top[0]}更大：", f"{top[0]} is larger: "))
    for i, (place, c) in enumerate(ranked):
        f = c.figure
        assert f is not None
        if i:
            d.add(_lang(q, "，", ", "))
        subject = f.subject or place
        d.add(f"{subject}{_lang(q, '', ' ')}")
        d.add(f.text, c.sentence.hit)
        d.used.append((f, c.sentence.hit))
        d.evidence.append(c.sentence)
    d.add(_lang(q, "。", "."))
    return d, []


# refusals for figures that were found but ruled out (Scorer.vetoes), by reason
VETO_MESSAGES: dict[str, tuple[str, str]] = {
    "stance": ("未找到：找到的数字与所问的性质不符（例如问实际完成，文件只给出目标或计划），不能作为答案。",
               "Not found: the figures found are of another kind than asked (a target where "
               "a result is asked, or the reverse)."),
    "unit": ("未找到：找到的数字单位与所问的不符。",
             "Not found: the figures found are in another unit than the one asked."),
    "kind": ("未找到：找到的数字不是所问的那类数量。",
             "Not found: the figures found are not the kind of quantity asked."),
}
VETO_NOTES = {"stance": "it is of another stance than asked (a target, not a result, or the "
                        "reverse)", "unit": "it is in another unit than asked",
              "kind": "it is another kind of quantity than asked",
              "terms": "it does not match what is asked"}


def veto_reason(feature: str | None) -> str:
    """The refusal reason a veto feature stands for (``evidence_words.json`` ``veto_reasons``)."""
    return str(vocab.data("evidence_words")["veto_reasons"].get(feature or "", "terms"))


def not_found(q: Question, missing: Sequence[str] = (), reason: str = "place") -> str:
    """A plain statement that the corpus does not hold the answer, and what is missing."""
    places = list(missing) or list(q.places)
    if reason == "year" and q.years:
        # no figure in a refusal: it would be a number no passage supports
        return _lang(q, "未找到：语料中没有所问年份的相关内容可以回答这个问题。",
                     "Not found: the documents say nothing about that year that answers this.")
    if reason == "document" and missing:
        return _lang(q, f"未找到：语料中没有{'、'.join(missing)}，无法回答关于它的问题。",
                     "Not found: the documents do not include the "
                     f"{', '.join(missing)} that the question asks about.")
    if reason == "no_words":
        return _lang(q, "未找到：问题里没有可以检索的文字（只有符号或表情），请用文字提问。",
                     "Not found: the question has no words to search for (only symbols or "
                     "emoji); ask in words.")
    if reason == "confidence":
        return _lang(q, "未找到可靠的答案：找到的数字与问题不够吻合，不能确认是所问的数字。",
                     "No reliable answer: the figures found do not match the question well "
                     "enough to be sure.")
    if reason in VETO_MESSAGES:
        return _lang(q, *VETO_MESSAGES[reason])
    if reason == "place" and places:
        return _lang(q, f"未找到：语料中没有关于{'、'.join(places)}的相关内容可以回答这个问题。",
                     "Not found: the documents contain nothing that answers this about "
                     f"{', '.join(places)}.")
    return _lang(q, "未找到：语料中没有能回答这个问题的内容。",
                 "Not found: the documents contain nothing that answers this question.")


def refusal(q: Question, question: str, rewritten: str | None, reason: str,
            missing: Sequence[str] = ()) -> Answer:
    """A refusal decided before any evidence is weighed (a document named that is not
    indexed)."""
    return Answer(question, rewritten, False, not_found(q, missing, reason), [], [],
                  reason=reason)


def _finish(question: str, rewritten: str | None, d: _Draft) -> Answer:
    """Number citations by first use, render the text and list the figures."""
    ids: dict[str, int] = {}
    hits: dict[str, Hit] = {}
    text_parts: list[str] = []
    for text, hit in d.parts:
        text_parts.append(text)
        if hit is not None:
            pid = hit.passage.passage_id
            if pid not in ids:
                ids[pid] = len(ids) + 1
                hits[pid] = hit
            text_parts.append(f"[{ids[pid]}]")
    citations = [
        Citation(
            id=ids[pid],
            passage_id=pid,
            doc_id=h.passage.doc_id,
            title=h.passage.title,
            section=h.passage.section,
            text=h.passage.text,
            start=h.passage.start,
            end=h.passage.end,
            score=round(h.scores.fused, 6),
            source=h.passage.source,
            date=h.passage.date,
            headings=h.passage.headings,
        )
        for pid, h in hits.items()
    ]
    figures: list[AnswerFigure] = []
    seen: set[tuple[str, int]] = set()
    for f, hit in d.used:
        _add_figure(figures, seen, f, ids[hit.passage.passage_id])
    for s in d.evidence:
        cid = ids.get(s.hit.passage.passage_id)
        if cid is not None:
            for f in s.figures:
                _add_figure(figures, seen, f, cid)
    table = None
    if d.rows:
        table = {"columns": list(d.columns), "rows": [
            {"label": lab, "figure": AnswerFigure(**figure_values(f), citation=ids[
                s.hit.passage.passage_id]).to_dict() if f is not None and s is not None else None,
             "citation": ids[s.hit.passage.passage_id] if s is not None else None,
             "quote": _quote(s, f) if s is not None else None}
            for lab, f, s in d.rows]}
    answer = Answer(question, rewritten, True, "".join(text_parts), figures, citations,
                    confidence=d.confidence, table=table)
    # a row's label (2008年) is the period the figure store resolved for the row's figure
    # (去年 in the 2009 report), or a year the question asked for: not a figure to cite
    return enforce_citations(answer, labels=frozenset(lab for lab, _, _ in d.rows),
                             derived=frozenset(d.derived))


def _add_figure(out: list[AnswerFigure], seen: set[tuple[str, int]], f: Figure, cid: int) -> None:
    key = (f.text, cid)
    if key in seen:
        return
    seen.add(key)
    out.append(AnswerFigure(**figure_values(f), citation=cid))


def enforce_citations(answer: Answer, labels: frozenset[str] = frozenset(),
                      derived: frozenset[str] = frozenset()) -> Answer:
    """Drop any part of the answer holding a figure that no cited passage contains.

    Each sentence of the answer is checked: every figure in it must equal (by text, or by
    value and unit) a figure of a passage that the sentence cites. A sentence that fails is
    removed; if nothing is left, the answer becomes "not found". The figures list keeps only
    figures of cited passages. ``labels`` are an aggregate answer's row labels, which
    name the rows rather than state figures; ``derived`` are figures the answer computed
    from rows it cites (a count), allowed only in a sentence that cites.
    """
    if not answer.found:
        return answer
    by_id = {c.id: c for c in answer.citations}
    cited_figs = {c.id: extract_figures(c.text) for c in answer.citations}
    kept: list[str] = []
    for part in re.split(r"(?<=[。；;!?])|(?<=\.)(?=\s|$)", answer.answer):
        if not part.strip():
            continue
        cites = [int(m.group()[1:-1]) for m in _MARKER.finditer(part)]
        ok = all(c in by_id for c in cites)
        body = _MARKER.sub("", part)
        for f in extract_figures(body):
            if f.kind in ("date", "number") and f.text in labels:
                continue  # a row's year label (2012年, or 2012 in English)
            if f.text in derived and cites:
                continue
            sources = [g for c in cites for g in cited_figs.get(c, [])]
            if not any(g.text == f.text or _same_value(g, f) for g in sources):
                ok = False
                break
        if ok:
            kept.append(part)
    text = "".join(kept).strip()
    figures = [f for f in answer.figures if f.citation in by_id and any(
        f.text == g.text for g in cited_figs[f.citation])]
    if not _MARKER.search(text):
        return replace(answer, found=False, answer="未找到：没有可以引用的依据。", figures=[],
                       citations=[], reason="citations")
    return replace(answer, answer=text, figures=figures)


def _same_value(a: Figure, b: Figure) -> bool:
    def close(x: float | None, y: float | None) -> bool:
        if x is None or y is None:
            return x is None and y is None
        return abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1.0)

    if a.kind == "date" or b.kind == "date":
        return a.date is not None and a.date == b.date
    has = a.value is not None or a.low is not None
    return has and close(a.value, b.value) and close(a.low, b.low) and close(a.high, b.high)


def compose(
    q: Question,
    question: str,
    rewritten: str | None,
    search: Callable[[str, int, Sequence[str]], list[Hit]],
    *,
    k: int,
    model: EvidenceModel | None = None,
    min_confidence: float | None = None,
    explain: int = 0,
) -> Answer:
    """Answer an analysed question from retrieval results (``search(query, k, years)``:
    the years let the search prefer documents of those years and the next, where a year's
    results are reported).

    A figure answer is given only when the evidence model's confidence reaches
    ``min_confidence`` (default: the model's calibrated threshold); otherwise the answer is
    a refusal that names the failed slot and offers the nearest figure, labelled as such.
    ``explain`` lists that many scored candidates in ``Answer.evidence``.
    """
    model = model or load_model()
    threshold = model.threshold if min_confidence is None else min_confidence

    def nothing(missing: Sequence[str] = (), reason: str = "place") -> Answer:
        return Answer(question, rewritten, False, not_found(q, missing, reason), [], [],
                      reason=reason)

    if not any(ch.isalnum() for ch in q.text):
        # emoji and punctuation only: nothing to search for, so no figure can match it
        return nothing(reason="no_words")
    if q.aggregation == "count" and q.span is None:
        hits = search(q.text, max(k, 30), q.years)
        draft = _count_subjects(q, hits, model, threshold)
        if draft is None:
            return nothing(reason="confidence")
        return _finish(question, rewritten, draft)
    if q.aggregation in ("max", "min") and q.span is None and not q.row_years \
            and len(q.places) < 2:
        hits = search(q.text, max(k, 30), q.years)
        draft = _superlative(q, hits, model, threshold)
        if draft is None:
            return nothing(reason="confidence")
        return _finish(question, rewritten, draft)
    subs = sub_questions(q)
    if subs:
        draft, scored = _aggregate(q, subs, search, k, model, threshold)
        if draft is None:
            # rows were found but none was sure enough, or nothing was found at all
            return nothing(reason="confidence" if scored else "terms")
        return _finish(question, rewritten, draft)
    if q.intent == "compare" and len(q.places) >= 2:
        per_place: dict[str, Sequence[Hit]] = {}
        others = set(q.places)
        for place in q.places:
            sub = q.text
            for other in others - {place}:
                sub = sub.replace(other, " ")
            per_place[place] = search(sub, k, q.years)
        draft, missing = _compare(q, per_place, model)
        if draft is None:
            return nothing(missing)
        if draft.confidence is not None and draft.confidence < threshold:
            return replace(nothing(reason="confidence"), confidence=draft.confidence)
        return _finish(question, rewritten, draft)
    hits = search(q.text, max(k, 30) if q.intent == "list" else k, q.years)
    if q.intent == "list":
        draft = _list(q, hits, model, threshold)
        if draft is not None and draft.parts:
            return _finish(question, rewritten, draft)
        if draft is not None and draft.lead is not None:
            # items were found, none sure enough: the list is refused, and its first item,
            # not some other figure, is the nearest
            return Answer(question, rewritten, False, not_found(q, reason="confidence"), [], [],
                          confidence=draft.confidence, nearest=_nearest(draft.lead),
                          reason="confidence")
    every = _candidates(q, hits, kinds=admitted_kinds(q.kinds), model=model, keep_vetoed=True)
    cands = [c for c in every if c.vetoed is None]
    evidence = [_explained(c) for c in every[:explain]] if explain else None
    draft = _single(q, cands)
    if draft is None:
        ruled_out = next((c for c in every if c.vetoed), None)
        if ruled_out is not None:
            # figures were found, and each carries what rules it out (a target where a
            # result is asked): say so, and point at the best of them
            reason = veto_reason(ruled_out.vetoed)
            return Answer(question, rewritten, False, not_found(q, reason=reason), [], [],
                          evidence=evidence, nearest=_nearest(ruled_out), reason=reason)
        reason = _why_not(q, hits, model)
        return Answer(question, rewritten, False, not_found(q, reason=reason), [], [],
                      evidence=evidence, reason=reason)
    draft.confidence = _confidence(model, cands, q)
    if draft.confidence is not None and draft.confidence < threshold:
        return Answer(question, rewritten, False, not_found(q, reason="confidence"), [], [],
                      confidence=draft.confidence, evidence=evidence,
                      nearest=_nearest(cands[0]), reason="confidence")
    return replace(_finish(question, rewritten, draft), evidence=evidence)


def _aggregate(q: Question, subs: Sequence[tuple[str, Question]],
               search: Callable[[str, int, Sequence[str]], list[Hit]], k: int,
               model: EvidenceModel, threshold: float) -> tuple[_Draft | None, bool]:
    """An answer made of single-figure answers, one row each (a year of a trend, a stance):
    a row whose best figure falls below the threshold says so instead of giving it. A
    which-year superlative names the row with the largest (smallest) figure, ties
    included. The confidence is the weakest given row's."""
    rows: list[tuple[str, _Candidate | None]] = []
    confidences: list[float] = []
    scored_any = False
    for label, sq in subs:
        hits = search(sq.text, k, sq.years)
        # a count's rows hold its filter figure, which the vetoes do not judge (_subject_rows)
        cands = [c for c in _candidates(sq, hits, kinds=admitted_kinds(sq.kinds or q.kinds),
                                        model=model, keep_vetoed=q.aggregation == "count")
                 if c.figure is not None]
        conf = _confidence(model, cands, sq)
        scored_any = scored_any or bool(cands)
        if cands and conf is not None and conf >= threshold:
            rows.append((label, cands[0]))
            confidences.append(conf)
        else:
            rows.append((label, None))
    given = [(lab, c) for lab, c in rows if c is not None]
    if not given:
        return None, bool(confidences) or scored_any
    d = _Draft(confidence=min(confidences), columns=(
        _lang(q, "年份", "year") if q.span or q.row_years else _lang(q, "项目", "item"),
        _lang(q, "数值", "figure"), _lang(q, "依据", "source")))
    if q.aggregation == "count":
        hit = [lab for lab, c in given if c is not None and _matches(q, c.figure)]
        if not hit:
            return None, True  # "none" would need every row found and sure
        _counted_rows(q, d, rows, hit, sum(c is None for _, c in rows))
        return d, True
    if q.aggregation == "difference":
        _difference(q, d, given)
    if q.aggregation in ("max", "min"):
        sign = 1.0 if q.aggregation == "max" else -1.0
        best = max(sign * _size(c) for _, c in given if c is not None)
        top = [lab for lab, c in given if c is not None and sign * _size(c) == best]
        word = _lang(q, "最高" if sign > 0 else "最低", " is the highest" if sign > 0 else
                     " is the lowest")
        d.add(_lang(q, f"{'、'.join(top)}{word}：", f"{', '.join(top)}{word}: "))
        first = True
        for lab, c in given:
            if c is not None and lab in top:
                d.add(("" if first else "、") + f"{c.figure.text if c.figure else ''}",
                      c.sentence.hit)
                first = False
        d.add(_lang(q, "。各年：", ". By year: "))
    for i, (lab, row) in enumerate(rows):
        if i:
            d.add(_lang(q, "；", "; "))
        if row is None or row.figure is None:
            d.add(_lang(q, f"{lab}：未找到", f"{lab}: not found"))
            d.rows.append((lab, None, None))
            continue
        d.add(_lang(q, f"{lab}：", f"{lab}: "))
        d.add(row.figure.text, row.sentence.hit)
        d.used.append((row.figure, row.sentence.hit))
        if row.sentence not in d.evidence:
            d.evidence.append(row.sentence)
        d.rows.append((lab, row.figure, row.sentence))
    d.add(_lang(q, "。", "."))
    return d, True


def _subject_rows(q: Question, hits: Sequence[Hit], model: EvidenceModel,
                  threshold: float) -> tuple[list[tuple[str, _Candidate, float]], int]:
    """The best figure of each subject (its section or the figure's subject; with 哪一年,
    the figure's year), each scored and kept only at or above the threshold; and how many
    subjects were refused."""
    kinds = q.kinds if q.kinds and q.kinds != ("date",) else ("money", "count", "percent",
                                                               "ratio", "number")
    # a count's figures are its filter (几个城市…100亿元: money), not what it asks: the unit it
    # asks (个) is not theirs, so the vetoes fitted on single figures do not apply
    keep = q.aggregation == "count"
    if keep:
        kinds = tuple(dict.fromkeys(f.kind for f in filter_figures(q)))
    groups: dict[str, list[_Candidate]] = {}
    for c in _candidates(q, hits, kinds=kinds, model=model, keep_vetoed=keep):
        if c.figure is None:
            continue
        if c.features and c.features.get("head_missing"):
            # every row must be about what is asked: 武汉人工智能产业规模达1000亿元 is an
            # industry's size, not a fund's, and would win 哪个城市的基金规模最大
            continue
        if q.which_year:
            fact = next((x for x, g in zip(c.sentence.facts, c.sentence.figures, strict=False)
                         if g is c.figure), None)
            label = fact.period_start[:4] + "年" if fact and fact.period_start and \
                fact.period_start[:4] == (fact.period_end or "")[:4] else ""
        else:
            label = _label(c.sentence.hit, c.figure)
        if label:
            groups.setdefault(label, []).append(c)
    rows: list[tuple[str, _Candidate, float]] = []
    for label, cands in groups.items():
        if not q.which_year:
            # each subject's row is judged as the question about that subject would be
            # (北京市的机器人产业基金规模): its place matched, no superlative asked
            sq = replace(q, places=(label,), aggregation="single", bound=None)
            mine = {id(c.sentence.hit) for c in cands}
            cands = [c for c in _candidates(sq, [h for h in hits if id(h) in mine], kinds=kinds,
                                            model=model, keep_vetoed=keep)
                     if c.figure is not None and _label(c.sentence.hit, c.figure) == label
                     and not (c.features and c.features.get("head_missing"))] or cands
        conf = _confidence(model, cands, q)
        if conf is not None and conf >= threshold:
            rows.append((label, cands[0], conf))
    return rows, len(groups) - len(rows)


def _superlative(q: Question, hits: Sequence[Hit], model: EvidenceModel,
                 threshold: float) -> _Draft | None:
    """哪个城市的基金规模最大: the rows of :func:`_subject_rows`, then the largest
    (smallest) with every tie, and the other rows as a table."""
    rows, _ = _subject_rows(q, hits, model, threshold)
    if len(rows) < 2:
        return None  # a superlative over one subject is no answer to "which"
    sign = 1.0 if q.aggregation == "max" else -1.0
    rows.sort(key=lambda r: -sign * _size(r[1]))
    best = sign * _size(rows[0][1])
    top = [r for r in rows if sign * _size(r[1]) == best]
    if q.which_year:
        top.sort(key=lambda r: r[0])  # tied years in order
    d = _Draft(confidence=min(r[2] for r in rows), columns=(
        _lang(q, "年份", "year") if q.which_year else _lang(q, "对象", "subject"),
        _lang(q, "数值", "figure"), _lang(q, "依据", "source")))
    word = _lang(q, "最大" if sign > 0 else "最小", "largest" if sign > 0 else "smallest")
    if q.which_year:
        # the rows are the years the search found, not every year of the corpus: say so
        # (哪一年的国内生产总值增长目标最高 over 42 reports finds a handful of years)
        scope = _lang(q, f"在找到的{len(rows)}个年份中，", f"Among the {len(rows)} years found, ")
        d.add(scope)
        d.derived.extend(f.text for f in extract_figures(scope))  # a count of the rows cited
    d.add(_lang(q, f"{'、'.join(r[0] for r in top)}{word}：",
                f"{', '.join(r[0] for r in top)} {word}: "))
    for i, (_lab, c, _) in enumerate(top):
        assert c.figure is not None
        d.add(("" if i == 0 else "、") + c.figure.text, c.sentence.hit)
        d.used.append((c.figure, c.sentence.hit))
    d.add(_lang(q, "。", ". "))
    others = [r for r in rows if r not in top]
    if others:
        d.add(_lang(q, "其余：", "Others: "))
        for i, (label, c, _) in enumerate(others):
            assert c.figure is not None
            d.add(_lang(q, "；" if i else "", "; " if i else "") + _lang(q, f"{label}：", f"{label}: "))
            d.add(c.figure.text, c.sentence.hit)
            d.used.append((c.figure, c.sentence.hit))
        d.add(_lang(q, "。", "."))
    for label, c, _ in rows:
        d.rows.append((label, c.figure, c.sentence))
        if c.sentence not in d.evidence:
            d.evidence.append(c.sentence)
    return d


def _matches(q: Question, f: Figure | None) -> bool:
    return f is not None and any(_same_value(f, g) for g in filter_figures(q))


def _count_subjects(q: Question, hits: Sequence[Hit], model: EvidenceModel,
                    threshold: float) -> _Draft | None:
    """一共有几个城市设立了100亿元的基金: the subjects whose best figure (each scored and
    refused on its own) equals the question's figure, counted and named, every row cited."""
    rows, refused = _subject_rows(q, hits, model, threshold)
    hit_rows = [r for r in rows if _matches(q, r[1].figure)]
    if not hit_rows:
        return None  # "none" would need every subject found and sure: refused instead
    d = _Draft(confidence=min(r[2] for r in rows), columns=(
        _lang(q, "对象", "subject"), _lang(q, "数值", "figure"), _lang(q, "依据", "source")))
    _counted_rows(q, d, [(lab, c) for lab, c, _ in rows], [lab for lab, _, _ in hit_rows],
                  refused)
    return d


def _counted_rows(q: Question, d: _Draft, rows: Sequence[tuple[str, _Candidate | None]],
                  hit: Sequence[str], missing: int) -> None:
    """The count (``hit`` is never empty: a count of none is refused, since it would need
    every row found and sure), the rows that hold the figure (each cited), then every row
    as a table."""
    n = len(hit)
    # rows not found may hold the figure too: then the count is a lower bound
    head = _lang(q, f"至少{n}个：" if missing else f"共{n}个：",
                 f"at least {n}: " if missing else f"{n}: ")
    d.add(head)
    d.derived.extend(f.text for f in extract_figures(head))
    first = True
    for lab, c in rows:
        if c is not None and c.figure is not None and lab in hit:
            d.add(_lang(q, "" if first else "、", "" if first else ", ") + lab
                  + _lang(q, " ", ": "))
            d.add(c.figure.text, c.sentence.hit)
            d.used.append((c.figure, c.sentence.hit))
            first = False
    others = [(lab, c) for lab, c in rows if c is not None and c.figure is not None
              and lab not in hit]
    for i, (lab, c) in enumerate(others):
        assert c is not None and c.figure is not None
        d.add(_lang(q, "。其余：" if i == 0 else "；", ". Others: " if i == 0 else "; ")
              + f"{lab}{_lang(q, '：', ': ')}")
        d.add(c.figure.text, c.sentence.hit)
        d.used.append((c.figure, c.sentence.hit))
    if missing:
        d.add(_lang(q, f"（另有{missing}项未找到，未计入）", f" ({missing} not found, not counted)"))
        d.derived.extend(f.text for f in extract_figures(d.parts[-1][0]))
    d.add(_lang(q, "。", "."))
    for lab, c in rows:
        if c is None or c.figure is None:
            d.rows.append((lab, None, None))
            continue
        d.rows.append((lab, c.figure, c.sentence))
        if c.sentence not in d.evidence:
            d.evidence.append(c.sentence)


def _difference(q: Question, d: _Draft, given: Sequence[tuple[str, _Candidate]]) -> None:
    """2013年比2012年高多少: the first row's figure minus the second's, computed only for
    two single values of one kind and unit, in 个百分点 for percentages and otherwise in
    the larger figure's scale word; 约 when either is approximate. Both rows are cited in
    the sentence that states it."""
    if len(given) != 2:
        return
    (la, ca), (lb, cb) = given
    fa, fb = ca.figure, cb.figure
    if fa is None or fb is None or fa.value is None or fb.value is None or \
            fa.kind != fb.kind or fa.unit != fb.unit or fa.kind == "date":
        return
    if ca.sentence is cb.sentence and fa.start == fb.start:
        return  # one figure found for both rows: nothing to subtract
    diff = fa.value - fb.value
    # "=" is an exact figure; 左右, 以上, 超 … make the difference approximate
    about = _lang(q, "约", "about ") if any(f.qualifier not in ("", "=") for f in (fa, fb)) else ""
    if fa.kind == "percent" or fa.unit == "%":
        amount = _lang(q, f"{_plain(abs(diff))}个百分点", f"{_plain(abs(diff))} percentage points")
    else:
        big = fa if abs(fa.value) >= abs(fb.value) else fb
        word, scale = next(((w, float(v)) for w, v in vocab.data("aggregation")["scales"]
                            if w in big.text), ("", 1.0))
        amount = f"{_plain(abs(diff) / scale)}{word}{fa.unit}"
    up = diff > 0
    if diff == 0:
        text = _lang(q, f"{la}与{lb}相同", f"{la} and {lb} are the same")
    else:
        rise = "高" if fa.kind == "percent" or fa.unit == "%" else "多"
        text = _lang(q, f"{la}比{lb}{rise if up else ('低' if rise == '高' else '少')}{about}{amount}",
                     f"{la} is {about}{amount} {'higher' if up else 'lower'} than {lb}")
    d.add(text + _lang(q, "（", " ("))
    d.add(fa.text, ca.sentence.hit)
    d.add(_lang(q, "，", ", "))
    d.add(fb.text, cb.sentence.hit)
    d.add(_lang(q, "）。", "). "))
    d.derived.extend(f.text for f in extract_figures(text))


def _plain(x: float) -> str:
    """A computed value as a reader writes it: 0.1, 1500, 2.35 (no float noise)."""
    return f"{round(x, 4):.4f}".rstrip("0").rstrip(".")


def _size(c: _Candidate) -> float:
    f = c.figure
    if f is None:
        return 0.0
    return float(f.value if f.value is not None else (f.high or f.low or 0.0))


def _explained(c: _Candidate) -> dict[str, Any]:
    """A scored candidate as ``Answer.evidence`` shows it."""
    f = c.figure
    p = c.sentence.hit.passage
    return {
        "figure": AnswerFigure(**figure_values(f), citation=0).to_dict() if f else None,
        "passage_id": p.passage_id,
        "source": p.source,
        "sentence": c.sentence.text,
        "score": round(c.score, 4),
        "features": {k: round(v, 4) for k, v in (c.features or {}).items()},
        **({"vetoed": c.vetoed} if c.vetoed else {}),
    }


def _nearest(c: _Candidate) -> dict[str, Any] | None:
    """The best candidate of a refusal, as a cited pointer that is not the answer."""
    if c.figure is None:
        return None
    p = c.sentence.hit.passage
    return {
        "note": f"not the answer: {VETO_NOTES.get(veto_reason(c.vetoed), VETO_NOTES['terms'])}"
                if c.vetoed else "not the answer: the evidence is too weak to be sure",
        "figure": AnswerFigure(**figure_values(c.figure), citation=0).to_dict(),
        "quote": _quote(c.sentence, c.figure),
        "passage_id": p.passage_id,
        "doc_id": p.doc_id,
        "source": p.source,
        "title": p.title,
        "date": p.date,
    }


def _why_not(q: Question, hits: Sequence[Hit], model: EvidenceModel) -> str:
    """Which constraint left no evidence: the year, the place, or the question's terms."""
    if q.years and _candidates(replace(q, years=()), hits, kinds=q.kinds, model=model):
        return "year"
    if (q.parts or q.codes or q.counted) and _candidates(
            replace(q, parts=(), codes=(), counted=None), hits, kinds=q.kinds, model=model):
        return "terms"  # the subject is there, the specific figure asked for is not
    if q.places and _candidates(replace(q, places=()), hits, kinds=q.kinds, model=model):
        return "place"
    if q.places and not any(_place_ok(q, h.passage, h.passage.text) for h in hits):
        return "place"
    return "terms"
