"""Extractive, rule-based answers with citations.

No language model: the answer is assembled from the retrieved passages' own sentences and
figures. Every figure in an answer is a figure extracted from a passage it cites; this is
checked in :func:`enforce_citations` on every answer, and anything else is dropped.
When the evidence does not mention the place or year asked about, or does not cover the
question's terms, the answer is ``found: false`` rather than another subject's figure.
Answers of several rows (a trend, a superlative, a count) are built in :mod:`rag.aggregate`,
both from the scored candidates of :mod:`rag.candidates`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from rag import vocab
from rag.aggregate import _aggregate, _count_subjects, _superlative
from rag.candidates import (
    MIN_COVERAGE,
    _Candidate,
    _candidates,
    _confidence,
    _Draft,
    _label,
    _lang,
    _place_ok,
    _same_value,
    _Sentence,
    _size,
)

# public names of rag.answer that now live in rag.candidates, re-exported
from rag.candidates import MIN_COVERAGE_EN as MIN_COVERAGE_EN
from rag.candidates import MIN_IDF_SHARE as MIN_IDF_SHARE
from rag.candidates import sentences as sentences
from rag.evidence import EvidenceModel, admitted_kinds, coverage, load_model, weighted_coverage
from rag.figures import Figure, extract_figures
from rag.question import Question, sub_questions
from rag.text import normalize
from rag.types import Answer, AnswerFigure, Citation, Hit, figure_values

# How many candidates ``explain`` lists when asked without a number.
EXPLAIN_DEFAULT = 2
_MARKER = re.compile(r"\[\d+\]")


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


def not_found(q: Question, missing: Sequence[str] = (), reason: str = "place", *,
              sentence: bool = False) -> str:
    """A plain statement that the corpus does not hold the answer, and what is missing
    (``sentence``: the evidence weighed was sentences, not figures)."""
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
    if reason == "confidence" and sentence:
        # the best evidence is a sentence (谁/为什么 questions): there is no figure to doubt
        return _lang(q, "未找到可靠的答案：找到的句子与问题不够吻合，不能确认它回答了这个问题。",
                     "No reliable answer: the sentences found do not match the question well "
                     "enough to be sure.")
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
        return Answer(question, rewritten, False,
                      not_found(q, reason="confidence", sentence=cands[0].figure is None), [], [],
                      confidence=draft.confidence, evidence=evidence,
                      nearest=_nearest(cands[0]), reason="confidence")
    return replace(_finish(question, rewritten, draft), evidence=evidence)


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
