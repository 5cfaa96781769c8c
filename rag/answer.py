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

from rag.figures import Figure, extract_figures
from rag.question import Question, place_core
from rag.text import normalize, sentence_spans
from rag.types import Answer, AnswerFigure, Citation, FigureFact, Hit, Passage, figure_values

# A passage must cover at least this share of the question's content terms to be evidence.
MIN_COVERAGE = 0.5
# English terms reach Chinese text only through a dictionary, which misses some words.
MIN_COVERAGE_EN = 0.34
_MARKER = re.compile(r"\[\d+\]")
_PART = re.compile(r"首期|一期|二期|其中|单笔|每家")
_CLAUSE = re.compile(r"[,，;；。]")
_RANGE = re.compile(r"范围|区间|\brange\b", re.I)


@dataclass(frozen=True)
class _Sentence:
    hit: Hit
    text: str
    start: int  # offset in the passage text
    figures: tuple[Figure, ...]  # with offsets relative to the sentence
    facts: tuple[FigureFact | None, ...] = ()  # the stored record of each figure


@dataclass
class _Candidate:
    sentence: _Sentence
    figure: Figure | None
    score: float
    coverage: float


@dataclass
class _Draft:
    """An answer under construction: text parts refer to hits by object, numbered later."""

    parts: list[tuple[str, Hit | None]] = field(default_factory=list)
    used: list[tuple[Figure, Hit]] = field(default_factory=list)
    evidence: list[_Sentence] = field(default_factory=list)

    def add(self, text: str, hit: Hit | None = None) -> None:
        self.parts.append((text, hit))


def _by_sentence(text: str, figures: Sequence[FigureFact]
                 ) -> list[tuple[int, str, tuple[Figure, ...], tuple[FigureFact, ...]]]:
    """Each sentence of a passage (start, text) with the stored figures inside it, as
    :class:`Figure` objects with offsets relative to the sentence, and their records."""
    grouped: dict[int, list[FigureFact]] = {}
    for f in figures:
        grouped.setdefault(f.sentence_start, []).append(f)
    out = []
    for a, b in sentence_spans(text):
        if b - a < 2:
            continue
        facts = tuple(grouped.get(a, ()))
        figs = tuple(Figure(**figure_values(f), start=f.start - a, end=f.end - a) for f in facts)
        out.append((a, text[a:b], figs, facts))
    return out


def sentences(hit: Hit) -> list[_Sentence]:
    """The sentences of a passage with the figures inside each (from the figure store)."""
    return [_Sentence(hit, s, start, figs, facts)
            for start, s, figs, facts in _by_sentence(hit.passage.text, hit.figures)]


def figure_evidence(q: Question, text: str, figures: Sequence[FigureFact]) -> float:
    """How well a passage text answers a figure question: the best figure of an expected
    kind, scored by the question terms in its sentence and their closeness to it (0 if
    none). Used by retrieval to rank passages that hold the asked-for figure higher."""
    if not q.kinds:
        return 0.0
    best = 0.0
    for _, sent, all_figs, _facts in _by_sentence(text, figures):
        figs = [f for f in all_figs if f.kind in q.kinds]
        if not figs:
            continue
        norm = normalize(sent).lower()
        cov = coverage(q, norm)
        for f in figs:
            best = max(best, cov + _proximity(norm, f, q.terms, q.focus))
    return best


def _context(p: Passage) -> str:
    return normalize(f"{p.header()} {p.text}").lower()


def _term_hits(terms: Sequence[tuple[str, ...]], text: str) -> list[bool]:
    """Which terms (any alternative) occur in the text; a long alternative may match by
    its stem (机器人学 → 机器人)."""
    out = []
    for alts in terms:
        out.append(any(a in text or (len(a) > 2 and a[:-1] in text) for a in alts))
    return out


def coverage(q: Question, text: str) -> float:
    if not q.terms:
        return 1.0
    hits = _term_hits(q.terms, text)
    return sum(hits) / len(hits)


def _weighted_coverage(q: Question, text: str) -> float:
    """Coverage with each term weighted by its closeness to the asking word, so that for
    采用什么投资模式 the sentence about the 模式 beats one that only names the fund."""
    if not q.terms:
        return 1.0
    weights = dict(q.focus)
    hits = _term_hits(q.terms, text)
    total = sum(weights.get(t[0], 1.0) for t in q.terms)
    return sum(weights.get(t[0], 1.0) for t, h in zip(q.terms, hits, strict=True) if h) / total


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


_OPPOSED = {("target", "actual"), ("actual", "target"), ("cap", "actual")}


def _proximity(sentence: str, fig: Figure, terms: Sequence[tuple[str, ...]],
               focus: Sequence[tuple[str, float]] = ()) -> float:
    """How many of the question's terms stand close to the figure (each 0..1; within four
    characters counts as adjacent, so that the order of figures decides between
    "总规模达50亿元,首期规模10亿元"). A term in another clause counts as far, and the
    question's terms next to its asking word weigh more."""
    low = sentence.lower()
    weight_of = dict(focus)
    total = 0.0
    weights = 0.0
    for alts in terms:
        best = len(sentence)
        for a in alts:
            for m in re.finditer(re.escape(a), low):
                gap = low[m.end():fig.start] if m.end() <= fig.start else low[fig.end:m.start()]
                d = len(gap) + (10 if _CLAUSE.search(gap) else 0)
                best = min(best, d)
        w = weight_of.get(alts[0], 1.0)
        total += w / (1.0 + max(best - 4, 0) / 4.0)
        weights += w
    return total / max(weights, 1.0)


def _candidates(q: Question, hits: Sequence[Hit], *, kinds: Sequence[str],
                places: Sequence[str] | None = None) -> list[_Candidate]:
    """Scored evidence: one candidate per matching figure (or per sentence when no figure
    is asked for), after the hard constraints (place, year, coverage, kind)."""
    out: list[_Candidate] = []
    for rank, hit in enumerate(hits, start=1):
        p = hit.passage
        pass_cov = coverage(q, _context(p))
        if pass_cov < (MIN_COVERAGE_EN if q.english else MIN_COVERAGE):
            continue
        prior = 1.0 / (rank + 1)
        # the section (or article) about a place is the authority on it, more than a
        # passage elsewhere that merely names it
        heading = f"{p.section or ''} {p.title}"
        if any(place_core(pl) in heading for pl in (q.places if places is None else places)):
            prior += 0.5
        for s in sentences(hit):
            if not _place_ok(q, p, s.text, places):
                continue
            # the sentence itself must carry the terms: a headline that states a figure
            # (5G基站将达27万个) would otherwise lend them to every sentence under it
            sent_cov = _weighted_coverage(q, normalize(s.text).lower())
            base = 2.0 * sent_cov + pass_cov + prior
            if not kinds:
                if _year_ok(q, s.text, None):
                    out.append(_Candidate(s, None, base, pass_cov))
                continue
            sent_low = normalize(s.text).lower()
            if q.codes and not all(c in sent_low for c in q.codes):
                continue  # 6G is not 5G
            for f, fact in zip(s.figures, s.facts or (None,) * len(s.figures), strict=True):
                if f.kind not in kinds or not _year_ok(q, s.text, f, fact):
                    continue
                before = s.text[max(0, f.start - 8):f.start]
                if q.parts and not any(w in before for w in q.parts):
                    continue  # 首期规模 needs a first-phase figure, not the total
                if q.counted and f.kind == "count" and q.counted not in s.text[
                        max(0, f.start - 12):f.end + 8]:
                    continue  # 多少个榜单项目 is not answered by 七个步骤
                score = base + 2.0 * _proximity(normalize(s.text), f, q.terms, q.focus)
                if f.qualifier == "=":
                    score += 0.1
                if s.text[:f.start].count("《") > s.text[:f.start].count("》"):
                    score -= 1.0  # inside a title (《…(2024—2026年)》) a figure is a name
                if f.high is not None and _RANGE.search(q.text):
                    score += 1.0  # 规模范围 asks for a range (2亿元至100亿元)
                if q.bound and f.qualifier == q.bound:
                    score += 0.5  # 最高多少 asks for the cap (最高20万元), not a floor
                part = _PART.search(s.text[max(0, f.start - 6):f.start])
                if part and part.group() not in q.text:
                    score -= 0.3  # a part of the total (首期, 其中) unless the part is asked
                if f.subject and q.terms:
                    score += 0.5 * coverage(q, normalize(f.subject).lower())
                if q.stance and fact is not None:
                    if fact.stance == q.stance:
                        score += 1.0  # 预期目标 asks for the target, 实际 for the result
                    elif (q.stance, fact.stance) in _OPPOSED:
                        score -= 1.5
                score -= 0.01 * (f.start / max(len(s.text), 1))
                out.append(_Candidate(s, f, score, pass_cov))
    out.sort(key=lambda c: -c.score)
    return out


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
        best = max(clauses, key=lambda c: _weighted_coverage(q, normalize(text[c[0]:c[1]]).lower()))
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


def _list(q: Question, hits: Sequence[Hit]) -> _Draft | None:
    kinds = q.kinds
    target = q.figures[0] if q.figures else None
    groups: dict[str, list[_Candidate]] = {}
    order: list[str] = []
    for c in _candidates(q, hits, kinds=kinds):
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
    if not groups:
        return None
    order.sort(key=lambda lab: min(c.sentence.hit.passage.start for c in groups[lab]))
    d = _Draft()
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


def _compare(q: Question, per_place: dict[str, Sequence[Hit]]) -> tuple[_Draft | None, list[str]]:
    """The best figure for each place, then which is larger. Returns the draft and the
    places without evidence."""
    kinds = q.kinds or ("money",)
    best: list[tuple[str, _Candidate]] = []
    missing: list[str] = []
    for place, hits in per_place.items():
        cands = [c for c in _candidates(q, hits, kinds=kinds, places=[place]) if c.figure]
        if not cands:
            missing.append(place)
        else:
            best.append((place, cands[0]))
    if missing or len(best) < 2:
        return None, missing

    def size(c: _Candidate) -> float:
        f = c.figure
        assert f is not None
        return float(f.value if f.value is not None else (f.high or f.low or 0.0))

    ranked = sorted(best, key=lambda pc: -size(pc[1]))
    d = _Draft()
    top, second = ranked[0], ranked[1]
    if size(top[1]) == size(second[1]):
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


def not_found(q: Question, missing: Sequence[str] = (), reason: str = "place") -> str:
    """A plain statement that the corpus does not hold the answer, and what is missing."""
    places = list(missing) or list(q.places)
    if reason == "year" and q.years:
        # no figure in a refusal: it would be a number no passage supports
        return _lang(q, "未找到：语料中没有所问年份的相关内容可以回答这个问题。",
                     "Not found: the documents say nothing about that year that answers this.")
    if reason == "place" and places:
        return _lang(q, f"未找到：语料中没有关于{'、'.join(places)}的相关内容可以回答这个问题。",
                     "Not found: the documents contain nothing that answers this about "
                     f"{', '.join(places)}.")
    return _lang(q, "未找到：语料中没有能回答这个问题的内容。",
                 "Not found: the documents contain nothing that answers this question.")


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
    answer = Answer(question, rewritten, True, "".join(text_parts), figures, citations)
    return enforce_citations(answer)


def _add_figure(out: list[AnswerFigure], seen: set[tuple[str, int]], f: Figure, cid: int) -> None:
    key = (f.text, cid)
    if key in seen:
        return
    seen.add(key)
    out.append(AnswerFigure(**figure_values(f), citation=cid))


def enforce_citations(answer: Answer) -> Answer:
    """Drop any part of the answer holding a figure that no cited passage contains.

    Each sentence of the answer is checked: every figure in it must equal (by text, or by
    value and unit) a figure of a passage that the sentence cites. A sentence that fails is
    removed; if nothing is left, the answer becomes "not found". The figures list keeps only
    figures of cited passages.
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
        return Answer(answer.question, answer.rewritten_question, False,
                      "未找到：没有可以引用的依据。", [], [])
    return Answer(answer.question, answer.rewritten_question, True, text, figures,
                  answer.citations)


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
    search: Callable[[str, int], list[Hit]],
    *,
    k: int,
) -> Answer:
    """Answer an analysed question from retrieval results (``search(query, k)``)."""
    def nothing(missing: Sequence[str] = ()) -> Answer:
        return Answer(question, rewritten, False, not_found(q, missing), [], [])

    if q.intent == "compare" and len(q.places) >= 2:
        per_place: dict[str, Sequence[Hit]] = {}
        others = set(q.places)
        for place in q.places:
            sub = q.text
            for other in others - {place}:
                sub = sub.replace(other, " ")
            per_place[place] = search(sub, k)
        draft, missing = _compare(q, per_place)
        return _finish(question, rewritten, draft) if draft else nothing(missing)
    hits = search(q.text, max(k, 30) if q.intent == "list" else k)
    if q.intent == "list":
        draft = _list(q, hits)
        if draft is not None:
            return _finish(question, rewritten, draft)
    cands = _candidates(q, hits, kinds=q.kinds)
    draft = _single(q, cands)
    if draft is None:
        return Answer(question, rewritten, False, not_found(q, reason=_why_not(q, hits)), [], [])
    return _finish(question, rewritten, draft)


def _why_not(q: Question, hits: Sequence[Hit]) -> str:
    """Which constraint left no evidence: the year, the place, or the question's terms."""
    if q.years and _candidates(replace(q, years=()), hits, kinds=q.kinds):
        return "year"
    if (q.parts or q.codes or q.counted) and _candidates(
            replace(q, parts=(), codes=(), counted=None), hits, kinds=q.kinds):
        return "terms"  # the subject is there, the specific figure asked for is not
    if q.places and _candidates(replace(q, places=()), hits, kinds=q.kinds):
        return "place"
    if q.places and not any(_place_ok(q, h.passage, h.passage.text) for h in hits):
        return "place"
    return "terms"
