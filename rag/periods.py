"""Absolute periods for figures: which year (or span, or part of a year) a figure is about.

Policy documents rarely name the year of a figure: a report delivered in 2014 reviews 2013 under
``一、2013年工作回顾`` and says ``过去一年``, ``去年``, ``比上年增长7.7%``; it sets 2014's targets with
``今年``. This module turns those words into absolute periods. It is rule-based, and all vocabulary
(relative words and their offsets, the five-year-plan table, base markers, span words) lives in
``rag/data/periods.json``; every rule there names the reports (``/work/shared/corpus-policy``) that
motivated it.

Rules, in the order :func:`resolve` applies them to the figure ``text[start:end]``:

1. A figure that is itself a time expression (``2023年12月``, ``一九五七年``) is its own period.
2. The nearest time expression to the left in the same sentence (sentences end at 。！？ and line
   breaks; ``；`` does not end one) governs: ``去年国内生产总值达到56.9万亿元`` (→ year−1);
   ``2013年…增长7.7%``; ``从1997年的509亿元增加到2002年的1161亿元`` (509亿元 → 1997, 1161亿元 → 2002).
3. Else the nearest earlier sentence of the same paragraph that *begins* with a time expression
   (``1999年，全国…。…增长7.1%``).
4. Else ``context`` (the heading's period, from :func:`heading_period`), else None.

Expressions that never govern:

* Comparison bases: a year after ``比 较 较之 相当于 比较`` or inside ``与/同/和/跟 … 相比``:
  ``比上年增长7.7%`` (2014), ``一九五七年比一九五二年将有如下的增长`` (1955), ``比去年同期增长14.1%``
  (1980). ``同比`` names no year and is not an expression at all.
* Dates inside a title ``《…》`` for figures outside that title.

A figure that directly follows a comparison base and ``的`` is that base's value, of that year:
``比一九五二年的八百二十七亿一千万元`` (1959: 1952), ``比一九八○年的七千一百五十九亿元`` (1982: 1980).

What the expressions mean (``doc`` is the document date; without it relative words give None):

* ``2013年``, ``一九五七年``, ``２０１３年``, ``1 9 9 8 年`` (spaced digits, 1998 report): that year,
  ``stated=True``; ``2013年12月`` → ``2013-12``; ``一九八二年底`` → ``1982-12``.
* ``今年/本年`` → doc year; ``去年/上年/上一年/过去一年/一年来`` → year−1; ``前年`` → year−2;
  ``明年`` → year+1; ``后年`` → year+2.
* ``过去五年/近五年/五年来/三年来`` → (year−N … year−1); ``今后五年/未来五年`` → (year … year+N−1).
* ``N年平均每年`` / ``N年年均`` count back from the year that governs them: ``１９９２年国民生产总值…，
  五年平均每年增长百分之七点九`` (1993: 1988–1992); ``两年平均每年递增百分之五点五`` (1982); with
  nothing governing, the N years before the document year.
* ``上半年`` (01–06), ``下半年``, ``一季度`` … ``四季度``, ``前三季度``, ``1—11月``, ``年底/年末`` (12),
  ``年初`` (01): months of the year they follow (``今年上半年``, ``2013年1—11月``), or alone of the
  governing year (rules 2–4).
* ``“十二五”(期间|时期|规划)``, ``六五计划``, ``第一个五年计划`` / ``第一個五年計劃``,
  ``新世纪第一个五年计划`` (十五): the plan's five years from the table; ``“十二五”末`` → its last year;
  ``“十一五”前四年`` (2010) → its first four years (also ``五年计划的前三年``, 1957).
* ``2011年至2015年``, ``2011—2015年``, ``一九五三年到一九五七年``, ``1980、1981年``: a span.
* ``到2020年`` / ``2020年前``: ends 2020 and starts at the context's start or the doc year (when not
  later); after a verb (``增加到2002年的…``) ``到`` is not a deadline. ``截至2013年底`` is a point.
* ``2008年以来`` → 2008 … doc year.
* ``上年/上一年/本年`` are anaphoric: they count from the year that governs them (rules 2–4), and
  from the doc year only when nothing does: ``１９５５年本年收入合计…，加上上年结转收入`` (1956: 本年 =
  1955, 上年 = 1954); ``2003年…由上年46亿元增加到92亿元`` (2004: 46亿元 is 2002's). ``今年/去年/明年``
  always count from the doc year.
* ``由/从 YEAR (的) A … 到/为 B``: the year is A's only; B takes the period governing the clause
  (``到一九五七年，…将由一九五二年的百分之二十六点七上升到百分之三十六``, 1955). A span ``从A年到B年``
  is no origin: it governs what follows (``从一九七八年到一九八五年八年间，…每年要增长百分之十以上``,
  1978; ``从１９７９年到１９８４年安排了…``, 1985).
* A time inside a frame ``在 … 的基础上`` governs nothing after the frame: ``在１９７９到１９８３年
  平均每年递增７．９％的基础上，比上年增长１４．２％`` (1985: 14.2% is 1984's); ``在上年大幅度增长的
  基础上，又增产291亿斤`` (2006).
* ``年初`` alone governs only its own clause (``全面实现年初确定的主要目标，国内生产总值增长7.8%``, 2013).
* ``八十年代`` → 1980–1989; ``到本世纪末`` in a report before 2000 → 2000. ``本世纪末`` is a deadline
  with or without ``到`` (``在本世纪末把我国人口控制在１２亿左右``, 1988; ``为实现本世纪末把我国人口
  控制在十二亿以内的目标``, 1981): from the document year to 2000.

``stated`` is True when the text alone fixes the period (a year, a named plan or decade) and False
when it needs the document date or the heading.

Offsets are always into the caller's ``text``: normalisation (full-width digits, ``○`` as ``〇``) is
done character by character, so it never moves an offset.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from rag.time_words import Expr as _Expr
from rag.time_words import data as _data
from rag.time_words import norm as _norm
from rag.time_words import scan as _scan

__all__ = ["DocDate", "Period", "find_time_expressions", "heading_period", "resolve"]


@dataclass(frozen=True)
class Period:
    """A period as ISO prefixes: ``"2013"``, ``"2013-01"``; a single year has ``start == end``."""

    start: str
    end: str
    stated: bool
    basis: str

    def to_dict(self) -> dict[str, object]:
        """A plain dict (JSON-ready) of all fields."""
        return asdict(self)

    def years(self) -> tuple[int, int]:
        """(first year, last year)."""
        return int(self.start[:4]), int(self.end[:4])


@dataclass(frozen=True)
class DocDate:
    """When a document was delivered or published."""

    year: int
    month: int | None = None
    day: int | None = None


# --------------------------------------------------------------------------- data



def _ym(y: int, m: int | None) -> str:
    return f"{y:04d}" if m is None else f"{y:04d}-{m:02d}"


def _span(y1: int, y2: int, months: tuple[int, int] | None) -> tuple[str, str]:
    if months is not None and y1 == y2:
        return _ym(y1, months[0]), _ym(y2, months[1])
    return _ym(y1, None), _ym(y2, None)


def _yr(a: int, b: int) -> str:
    return str(a) if a == b else f"{a}–{b}"


class _Ctx:
    """Sentence and paragraph geometry of one text, and its expressions."""

    def __init__(self, text: str, doc: DocDate | None, context: Period | None) -> None:
        self.text = _norm(text)
        self.doc = doc
        self.context = context
        self.exprs = _scan(self.text)
        self.titles = [(m.start(), m.end()) for m in re.finditer(r"《[^《》]*》", self.text)]

    def _title(self, pos: int) -> tuple[int, int] | None:
        return next(((a, b) for a, b in self.titles if a <= pos < b), None)

    def sentence_start(self, pos: int) -> int:
        i = pos
        while i > 0 and self.text[i - 1] not in "。！？!?\n":
            i -= 1
        return i

    def period(self, ex: _Expr) -> Period | None:
        doc = self.doc
        anchor = self.governing(ex.start, skip_parts=True) if ex.anaphoric else None
        if ex.demonstrative and (anchor is None or anchor is self.context):
            anchor = self._previous_year(ex.start) or anchor
        if ex.counted and anchor is not None:
            base_year = anchor.years()[1]
            y1, y2 = base_year - ex.counted + 1, base_year
            why = f"{ex.label} up to {base_year} ({anchor.basis})"
            stated = False
        elif ex.kind == "rel" and anchor is not None and ex.years is not None:
            base_year = anchor.years()[1]
            y1, y2 = base_year + ex.years[0], base_year + ex.years[1]
            why = f"{ex.label} → {_yr(y1, y2)} (from {base_year}: {anchor.basis})"
            stated = False
        elif ex.kind == "rel":
            if doc is None or ex.years is None:
                return None
            y1, y2 = doc.year + ex.years[0], doc.year + ex.years[1]
            why = (
                f"{ex.label} → document year {doc.year}"
                if ex.years == (0, 0) and not ex.months
                else (f"{ex.label} → {_yr(y1, y2)} (document year {doc.year})")
            )
            stated = False
        elif ex.kind == "part":
            anchor = self.governing(ex.start, skip_parts=True)
            if anchor is None:
                return None
            y1 = y2 = anchor.years()[1]
            why = f"{ex.label} of {y1} ({anchor.basis})"
            stated = anchor.stated
        else:
            if ex.years is None:
                return None
            if ex.needs_doc_century is not None and (doc is None or doc.year >= ex.needs_doc_century):
                return None
            y1, y2 = ex.years
            why = ex.why or ex.label
            stated = ex.stated
        start, end = _span(y1, y2, ex.months)
        if ex.deadline:
            first = None
            if self.context is not None and self.context.years()[0] <= y1:
                first = self.context.years()[0]
            elif doc is not None and doc.year <= y1:
                first = doc.year
            if first is not None and first < y1:
                start = _ym(first, None)
                why = f"{why}: deadline, from {first}"
        elif ex.since and doc is not None and doc.year > y2:
            end = _ym(doc.year, None)
            why = f"{why}以来 → {y1}–{doc.year}"
        return Period(start, end, stated, why)

    def _usable(self, ex: _Expr, pos: int) -> bool:
        if ex.base:
            return False
        if ex.clause_only and re.search(r"[，,；;：:]", self.text[ex.end : pos]) \
                and not self._governs_next_clause(ex, pos):
            return False
        if ex.origin and any(w in self.text[ex.end : pos] for w in _data()["origin"]["until"]):
            return False
        if self._framed(ex, pos):
            return False
        t = self._title(ex.start)
        return t is None or t == self._title(pos)

    def _governs_next_clause(self, ex: _Expr, pos: int) -> bool:
        """A clause-only word that is a clause of its own (``现在，同我国建交的国家已经达到１３５个``,
        1988; 1964) governs the clause after it, and no further."""
        return self._clause_initial(ex) and self.text[ex.end : ex.end + 1] in "，," \
            and not re.search(r"[，,；;：:]", self.text[ex.end + 1 : pos])

    def _framed(self, ex: _Expr, pos: int) -> bool:
        """Inside a closed frame ``在 … 的基础上`` that ends before ``pos``: the frame's time is
        the background, not the period of what follows (periods.json ``frames``)."""
        for fr in _data()["frames"]["pairs"]:
            close = self.text.find(fr["close"], ex.end, pos)
            if close < 0 or re.search(r"[。！？!?\n]", self.text[ex.end : close]):
                continue
            a = self.text.rfind(fr["open"], 0, ex.start)
            if a >= 0 and not re.search(r"[，,；;。！？!?\n]", self.text[a : ex.start]):
                return True
        return False

    def _previous_year(self, pos: int) -> Period | None:
        """The last single stated year of the sentence before ``pos``'s, in its paragraph
        (``…1956年手工業…也都得到了發展。这一年，手工業总产值…``, 1957)."""
        s0 = self.sentence_start(pos)
        if s0 == 0 or self.text[s0 - 1] == "\n":
            return None
        s = self.sentence_start(s0 - 1)
        for e in reversed(self.exprs):
            if s <= e.start and e.end <= s0 and e.kind == "abs" and not e.base and e.years \
                    and e.years[0] == e.years[1]:
                return self.period(e)
        return None

    def _clause_initial(self, ex: _Expr) -> bool:
        """The expression opens its clause (``1956年，…；``, 1957; ``，2003年中央财政支出…；``, 2004):
        only such a time reaches past a ``；`` to the clauses after it."""
        i = ex.start
        while i > 0 and self.text[i - 1] in " \t—“‘(（":
            i -= 1
        return i == 0 or self.text[i - 1] in "，,；;：:。！？!?\n"

    def governing(self, pos: int, *, skip_parts: bool = False) -> Period | None:
        """Rules 2-4: left in the sentence, a sentence-initial expression earlier in the paragraph, context."""
        s0 = self.sentence_start(pos)
        left = [e for e in self.exprs if s0 <= e.start and e.end <= pos and self._usable(e, pos)]
        if skip_parts:
            left = [e for e in left if e.kind != "part"] or left
        for ex in reversed(left):
            if skip_parts and ex.kind == "part":
                continue
            if re.search(r"[；;]", self.text[ex.end : pos]) and not self._clause_initial(ex):
                if re.search(r"[：:]", self.text[ex.end : pos]):
                    # a list after a colon takes the first time of its lead-in, whatever the
                    # ；: 拿幾項…的一九五四年預計産量來同一九四九年産量比較一下，…數字：電力…；
                    # 原煤… (1954); 主要产品在一九五七年的计划产量比一九五二年…如下列： (1955);
                    # 一九五七年新增加的工业生产能力…就有： (1958)
                    return self.period(next(e for e in left if e.end <= ex.end))
                continue  # 接近了第一个五年計划最后一年的指标；粮食…的产量为… (1957): not a time of what follows
            return self.period(ex)
        # rule 3: earlier sentences of the same paragraph that begin with a time expression
        p0 = self.text.rfind("\n", 0, s0) + 1
        s = s0
        while s > p0:
            s = self.sentence_start(s - 1)
            lead = s
            while lead < len(self.text) and self.text[lead] in " \t—“‘(（":
                lead += 1
            first = next((e for e in self.exprs if e.start >= s and self._usable(e, pos)), None)
            if first is not None and first.start - lead <= 2 and first.end <= s0 and first.kind != "part":
                return self.period(first)
        return self.context


@lru_cache(maxsize=32)
def _ctx(text: str, doc: DocDate | None, context: Period | None) -> _Ctx:
    """Scanned once per (text, doc, context): callers resolve every figure of one passage in turn."""
    return _Ctx(text, doc, context)


def resolve(text: str, start: int, end: int, *, doc: DocDate | None, context: Period | None = None) -> Period | None:
    """The period of the figure ``text[start:end]`` (see the module docstring for the rules)."""
    if not text or start < 0 or end > len(text) or start >= end:
        return context
    c = _ctx(text, doc, context)
    own = [e for e in c.exprs if e.start < end and e.end > start]
    if own:
        periods = [p for p in (c.period(e) for e in own) if p is not None]
        if periods:
            return _merge(periods, " + ".join(p.basis for p in periods)) if len(periods) > 1 else periods[0]
    base = next((e for e in reversed(c.exprs) if e.base and e.end <= start
                 and c.text[e.end : start] in _data()["base_markers"]["value_links"]), None)
    if base is not None:
        got = c.period(base)
        if got is not None:
            return Period(got.start, got.end, got.stated, f"the base value of {got.basis}")
    return c.governing(start)


def _merge(periods: list[Period], basis: str) -> Period:
    return Period(min(p.start for p in periods), max(p.end for p in periods), all(p.stated for p in periods), basis)


def heading_periods(heading: str, doc: DocDate | None) -> list[Period]:
    """The periods of the time expressions a heading names (comparison bases left out), in
    order: ``一、1998年工作回顾和1999年工作的总体要求`` names 1998 and 1999."""
    if not heading or not heading.strip():
        return []
    c = _Ctx(heading.strip(), doc, None)
    return [p for p in (c.period(e) for e in c.exprs if not e.base) if p is not None]


def heading_period(heading: str, doc: DocDate | None) -> Period | None:
    """The period a heading sets for the body beneath it; None when it says nothing about time."""
    periods = heading_periods(heading, doc)
    if not periods:
        return None
    h = heading.strip()
    inner = "; ".join(p.basis for p in periods)
    label = re.sub(r"\s+", "", _norm(h))
    basis = (
        f"heading {label}"
        if all(p.basis.replace(" ", "") in label for p in periods)
        else (f"heading {label} ({inner})")
    )
    return _merge(periods, basis)


def find_time_expressions(text: str, *, doc: DocDate | None = None) -> list[tuple[int, int, Period | None]]:
    """Every time expression in ``text`` with its period (None where it needs a doc date that is missing).

    Comparison bases (``比上年``) are included: they are time expressions, they just do not govern.
    """
    c = _Ctx(text, doc, None)
    return [(e.start, e.end, c.period(e)) for e in c.exprs]
