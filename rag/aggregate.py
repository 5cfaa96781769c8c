"""Aggregate answers: an answer made of several single-figure answers, one row each: a
trend (a row a year), the stances asked (目标 and 实际), the difference of two rows, the
row or subject with the largest (smallest) figure (哪个城市的基金规模最大), and a count of
the subjects that hold a figure (几个城市设立了100亿元的基金). Each row is scored and
refused on its own, and the answer cites every row it gives.

Apart from :mod:`rag.answer`, which decides which kind of answer a question gets and
renders it; both build on :mod:`rag.candidates`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from rag import vocab
from rag.candidates import (
    _Candidate,
    _candidates,
    _confidence,
    _Draft,
    _label,
    _lang,
    _same_value,
    _size,
)
from rag.evidence import EvidenceModel, admitted_kinds
from rag.figures import Figure, extract_figures
from rag.question import Question, filter_figures
from rag.types import Hit


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
    found: list[list[_Candidate]] = []
    for _name, sq in subs:
        hits = search(sq.text, k, sq.years)
        # a count's rows hold its filter figure, which the vetoes do not judge (_subject_rows)
        found.append([c for c in _candidates(sq, hits, kinds=admitted_kinds(sq.kinds or q.kinds),
                                             model=model, keep_vetoed=q.aggregation == "count")
                      if c.figure is not None])
    kind = _one_kind(q, found) if q.aggregation in ONE_KIND else None
    for (label, sq), cands in zip(subs, found, strict=True):
        conf = _confidence(model, cands, sq)
        scored_any = scored_any or bool(cands)
        if kind is not None and cands and cands[0].figure is not None and \
                (cands[0].figure.kind, cands[0].figure.unit) != kind:
            # not promoted to the row's best of that kind: without its rivals that one
            # would be surer than the evidence is
            rows.append((label, None))
        elif cands and conf is not None and conf >= threshold:
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
    rows, refused = _subject_rows(q, hits, model, threshold)
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
    elif refused:
        # a subject whose figure was not sure enough may hold the largest (北京 at 100亿元
        # beside 苏州 and 上海): the answer is over the rows found, and says so
        scope = _lang(q, f"在能确认的{len(rows)}个对象中，", f"Among the {len(rows)} subjects found, ")
        d.add(scope)
        d.derived.extend(f.text for f in extract_figures(scope))
    d.add(_lang(q, f"{'、'.join(r[0] for r in top)}{word}：",
                f"{', '.join(r[0] for r in top)} {word}: "))
    for i, (_lab, c, _) in enumerate(top):
        assert c.figure is not None
        d.add(("" if i == 0 else "、") + c.figure.text, c.sentence.hit)
        d.used.append((c.figure, c.sentence.hit))
    if refused and not q.which_year:
        d.add(_lang(q, f"（另有{refused}项未能确认，未计入）", f" ({refused} not sure enough, left out)"))
        d.derived.extend(f.text for f in extract_figures(d.parts[-1][0]))
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


# the aggregations whose rows are one metric's values: a trend, a which-year superlative, a
# difference. Their rows share a kind and a unit (2013年比2012年国内生产总值增长高多少 had the
# 2013 row's best figure 56.9万亿元, the level, beside 2012's 7.8%, the growth)
ONE_KIND = ("trend", "max", "min", "difference")


def _one_kind(q: Question, found: Sequence[Sequence[_Candidate]]) -> tuple[str, str] | None:
    """The kind and unit of a one-metric aggregate's rows: the one most rows' best figures
    have; on a tie, the kind asked first before one that is not, then the best-scored. A
    row whose best figure is of another is not found. None when the rows agree."""
    tops = [(c[0].figure.kind, c[0].figure.unit, c[0].score) for c in found
            if c and c[0].figure is not None]
    keys = {(kind, unit) for kind, unit, _ in tops}
    if len(keys) < 2:
        return None

    def rank(key: tuple[str, str]) -> tuple[int, bool, float]:
        scores = [score for kind, unit, score in tops if (kind, unit) == key]
        return len(scores), key[0] in q.kinds[:1], max(scores)

    return max(keys, key=rank)


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
