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

import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from rag.figures import parse_number

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


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    raw = resources.files("rag").joinpath("data/periods.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def _alt(words: list[str] | Any) -> str:
    """A regex alternation of literal words, longest first."""
    return "|".join(re.escape(w) for w in sorted({str(w) for w in words}, key=len, reverse=True))


def _keys(d: dict[str, Any]) -> list[str]:
    return [k for k in d if not k.startswith("_") and k != "docs"]


_CN_D = "〇零一二三四五六七八九"
_LB = rf"(?<![0-9.{_CN_D}十百千万亿])"
_YA = rf"(?:[12](?: ?[0-9]){{3}}|[一二][{_CN_D}]{{3}})"
_YA_RE = re.compile(_YA)
_MNUM = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_DNUM = r"(?:[12][0-9]|3[01]|0?[1-9]|[二三]?十[一二三四五六七八九]?|[一二三四五六七八九])"
_N = r"(?:[一二两三四五六七八九十]{1,3}|[0-9]{1,2})"
_PLAN_NAME = r"(?:十[一二三四]五|十五|[一二三四五六七八九]五)"


@lru_cache(maxsize=1)
def _scanner() -> re.Pattern[str]:
    d = _data()
    month = rf"{_MNUM} ?月(?:份)?(?:{_DNUM} ?日)?(?!革命)"
    mspan = rf"{_MNUM} ?(?:{_alt(d['month_span_words'])}) ?{_MNUM} ?月(?:份)?"
    parts = _alt(_keys(d["year_parts"]))
    after_parts = _alt(_keys(d["after_year_parts"]))
    part_after = rf"(?:{parts}|{mspan}|{month}|{after_parts})"
    part_alone = rf"(?:{parts}|{mspan}|(?<![0-9.])(?:1[0-2]|0?[1-9]) ?月(?:份)?)"
    yspan = _alt(d["year_span_words"]["words"])
    fyp = d["five_year_plans"]
    suffix = _alt(fyp["suffixes"])
    ends = rf"{_alt(fyp['end_words'])}|的?{fyp['first_years']}{_N}年"
    rel = []
    not_after = d["relative_not_after"]
    for w in sorted(_keys(d["relative_years"]), key=len, reverse=True):
        lb = not_after.get(w, "")
        rel.append((rf"(?<![{re.escape(lb)}])" if lb else "") + re.escape(w))
    past = d["past_spans"]
    fut = d["future_spans"]
    alts = [
        rf"(?P<range>{_LB}{_YA}(?: ?年)?(?:{yspan}){_YA} ?年(?:度)?)",
        rf"(?P<alias>{_alt(fyp['aliases'])})",
        rf"(?P<plan_long>第[一二三四五六七八九十]{{1,3}}[个個]五年(?:{suffix})(?:{suffix})?(?:{ends})?)",
        rf"(?P<plan_q>[“\"「『]{_PLAN_NAME}[”\"」』](?:{suffix})?(?:{suffix})?(?:{ends})?)",
        rf"(?P<plan_bare>(?<![{_CN_D}十]){_PLAN_NAME}(?:{suffix})(?:{suffix})?(?:{ends})?)",
        rf"(?P<year>{_LB}{_YA} ?年(?:度)?(?:的?{part_after})?)",
        r"(?P<decade>(?:二十一世纪|21世纪|二十世纪|20世纪)?(?:[五六七八九]十|[5-9]0)年代)",
        rf"(?P<century>{_alt(_keys(d['century_phrases']))})",
        rf"(?P<rel>(?:{'|'.join(rel)})(?:的?{part_after})?)",
        rf"(?P<past>(?:{_alt(past['prefixes'])}){_N}(?:{_alt(past['suffixes'])})|(?<![0-9几多十]){_N}{past['bare_suffix']})",
        rf"(?P<future>(?:{_alt(fut['prefixes'])}){_N}年)",
        rf"(?P<counted>(?<![{re.escape(d['counted_spans']['not_after'])}]){_N}年(?=(?:{_alt(d['counted_spans']['before'])})))",
        rf"(?P<part>{part_alone})",
    ]
    return re.compile("|".join(alts))


# --------------------------------------------------------------------------- expressions


@dataclass
class _Expr:
    start: int
    end: int
    label: str  # the expression as written, spaces removed
    kind: str  # "abs" (years given), "rel" (offsets from the doc year), "part" (months, year from elsewhere)
    years: tuple[int, int] | None  # absolute years, or offsets for "rel"
    months: tuple[int, int] | None
    stated: bool
    why: str = ""  # basis override (plans, decades)
    base: bool = False
    deadline: bool = False
    point: bool = False
    since: bool = False
    anaphoric: bool = False  # 上年/本年: from the governing year, else the doc year
    demonstrative: bool = False  # 这一年: else the last year of the sentence before
    counted: int = 0  # 五年平均每年: the N years up to the governing year
    clause_only: bool = False  # 年初: governs its own clause only
    origin: bool = False  # 由/从 YEAR 的 A (上升)到 B: governs A only
    needs_doc_century: int | None = None  # 本世纪末: valid only when doc.year < this


def _norm(text: str) -> str:
    """NFKC character by character (offsets kept), with ``○`` read as ``〇``."""
    out = []
    for ch in text:
        if ch in "○◯":
            out.append("〇")
            continue
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


def _int(s: str) -> int | None:
    v = parse_number(s.replace(" ", ""))
    return int(v) if v is not None and v == int(v) else None


def _year(s: str) -> int | None:
    y = _int(s)
    lo, hi = _data()["year_range"]
    return y if y is not None and lo <= y <= hi else None


def _months(s: str) -> tuple[int, int] | None:
    """The months a part-of-year word covers (``上半年``, ``1—11月``, ``12月``, ``底``)."""
    d = _data()
    s = s.removeprefix("的")
    for table in (d["year_parts"], d["after_year_parts"]):
        if s in table and not s.startswith("_"):
            a, b = table[s]
            return int(a), int(b)
    m = re.fullmatch(rf"({_MNUM}) ?(?:{_alt(d['month_span_words'])}) ?({_MNUM}) ?月(?:份)?", s)
    if m:
        a2, b2 = _int(m.group(1)), _int(m.group(2))
        if a2 and b2 and 1 <= a2 <= b2 <= 12:
            return a2, b2
        return None
    m = re.match(rf"({_MNUM}) ?月", s)
    if m:
        mo = _int(m.group(1))
        if mo and 1 <= mo <= 12:
            return mo, mo
    return None


def _plan(n: int) -> tuple[str, int, int] | None:
    for num, name, a, b in _data()["five_year_plans"]["plans"]:
        if num == n:
            return str(name), int(a), int(b)
    return None


def _plan_expr(label: str) -> tuple[tuple[int, int], str] | None:
    fyp = _data()["five_year_plans"]
    if label in fyp["aliases"]:
        n = int(fyp["aliases"][label])
    else:
        m = re.search(r"第([一二三四五六七八九十]{1,3})[个個]五年", label)
        if m:
            n = _int(m.group(1)) or 0
        else:
            m = re.search(_PLAN_NAME, label)
            if not m:
                return None
            n = next((int(p[0]) for p in fyp["plans"] if p[1] == m.group()), 0)
    plan = _plan(n)
    if plan is None:
        return None
    name, a, b = plan
    first = re.search(rf"{fyp['first_years']}({_N})年$", label)
    if first:
        n = _int(first.group(1)) or 0
        if 0 < n <= b - a + 1:
            return (a, a + n - 1), f"{name}{first.group()} ({a}–{a + n - 1})"
    if any(label.endswith(e) for e in fyp["end_words"]):
        return (b, b), f"{name}末 ({b})"
    return (a, b), f"{name} ({a}–{b})"


def _parse(m: re.Match[str]) -> _Expr | None:
    kind = m.lastgroup
    raw = m.group()
    label = raw.replace(" ", "")
    s, e = m.start(), m.end()
    d = _data()
    if kind == "range":
        ys = [_year(y) for y in _YA_RE.findall(raw)]
        if len(ys) != 2 or ys[0] is None or ys[1] is None or ys[0] >= ys[1]:
            return None
        return _Expr(s, e, label, "abs", (ys[0], ys[1]), None, True)
    if kind in ("alias", "plan_long", "plan_q", "plan_bare"):
        got = _plan_expr(label)
        if got is None:
            return None
        return _Expr(s, e, label, "abs", got[0], None, True, why=got[1])
    if kind == "year":
        ym = _YA_RE.match(raw)
        y = _year(ym.group()) if ym else None
        if y is None or ym is None:
            return None
        rest = raw[ym.end() :].lstrip(" ").removeprefix("年").removeprefix("度")
        months = _months(rest) if rest else None
        return _Expr(s, e, label, "abs", (y, y), months, True)
    if kind == "decade":
        tens = re.search(r"([五六七八九])十年代|([5-9])0年代", label)
        if not tens:
            return None
        t = _int(tens.group(1) or tens.group(2)) or 0
        century = 2000 if label.startswith(("二十一", "21")) else 1900
        a = century + 10 * t
        return _Expr(s, e, label, "abs", (a, a + 9), None, True, why=f"{label} ({a}–{a + 9})")
    if kind == "century":
        spec = d["century_phrases"][raw]
        y = int(spec["year"])
        stated = bool(spec.get("stated", False))
        ex = _Expr(s, e, label, "abs", (y, y), None, stated, why=f"{label} ({y})")
        if not stated:
            ex.needs_doc_century = int(spec["doc_before"])
        ex.deadline = bool(spec.get("deadline", False))
        return ex
    if kind == "rel":
        word = next(w for w in sorted(_keys(d["relative_years"]), key=len, reverse=True) if raw.startswith(w))
        off = d["relative_years"][word]["offset"]
        a, b = (off, off) if isinstance(off, int) else (int(off[0]), int(off[1]))
        rest = raw[len(word) :]
        months = _months(rest) if rest else None
        ex = _Expr(s, e, label, "rel", (a, b), months, False, why=word)
        ex.anaphoric = bool(d["relative_years"][word].get("anaphoric", False))
        ex.demonstrative = bool(d["relative_years"][word].get("demonstrative", False))
        return ex
    if kind == "counted":
        nm = re.search(_N, raw)
        n = _int(nm.group()) if nm else None
        if not n or n > 60:
            return None
        ex = _Expr(s, e, label, "rel", (-n, -1), None, False, why=label)
        ex.anaphoric = True
        ex.counted = n
        return ex
    if kind in ("past", "future"):
        nm = re.search(_N, raw)
        n = _int(nm.group()) if nm else None
        if not n or n > 60:
            return None
        span = (-n, -1) if kind == "past" else (0, n - 1)
        return _Expr(s, e, label, "rel", span, None, False, why=label)
    if kind == "part":
        months = _months(raw)
        if months is None:
            return None
        ex = _Expr(s, e, label, "part", None, months, False, why=label)
        ex.clause_only = raw in d["clause_only_parts"]["words"]
        return ex
    return None


def _flags(text: str, ex: _Expr) -> None:
    """Base, deadline, point and since markers around an expression."""
    d = _data()
    pre = text[max(0, ex.start - 4) : ex.start]
    post = text[ex.end : ex.end + 12]
    bm = d["base_markers"]
    if any(pre.endswith(w) for w in bm["before"]):
        ex.base = True
    elif any(pre.endswith(w) for w in bm["paired_before"]):
        clause = re.split(r"[，,。；;！？!?\n]", post, maxsplit=1)[0]
        if any(w in clause for w in bm["paired_after"]):
            ex.base = True
    if ex.base:
        return
    dl = d["deadline"]
    if any(pre.endswith(w) for w in dl["point_before"]):
        ex.point = True
    elif any(pre.endswith(w) for w in dl["before"]):
        word = next(w for w in dl["before"] if pre.endswith(w))
        before = pre[: len(pre) - len(word)]
        if not (before and before[-1] in dl["not_after_verbs"]):
            ex.deadline = True
    if ex.kind == "abs" and ex.months is None:
        after = re.match(rf"(?:{_alt(dl['after'])})(?![后後0-9一二两三四五六七八九十几])", post)
        if after:
            ex.deadline = True
    if any(post.startswith(w) for w in d["since"]["after"]):
        ex.since = True
    og = d["origin"]
    one_year = ex.years is not None and ex.years[0] == ex.years[1]
    if one_year and ex.kind == "abs" and any(pre.endswith(w) for w in d["destination"]["before"]):
        ex.clause_only = True
    if one_year and any(pre.endswith(w) for w in og["before"]) and post.startswith(og["after"]):
        ex.origin = True


def _scan(text: str) -> list[_Expr]:
    out = []
    for m in _scanner().finditer(text):
        ex = _parse(m)
        if ex is not None:
            _flags(text, ex)
            out.append(ex)
    return out


# --------------------------------------------------------------------------- resolution


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
        if ex.clause_only and re.search(r"[，,；;：:]", self.text[ex.end : pos]):
            return False
        if ex.origin and any(w in self.text[ex.end : pos] for w in _data()["origin"]["until"]):
            return False
        if self._framed(ex, pos):
            return False
        t = self._title(ex.start)
        return t is None or t == self._title(pos)

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


def heading_period(heading: str, doc: DocDate | None) -> Period | None:
    """The period a heading sets for the body beneath it; None when it says nothing about time."""
    if not heading or not heading.strip():
        return None
    h = heading.strip()
    c = _Ctx(h, doc, None)
    periods = [p for p in (c.period(e) for e in c.exprs if not e.base) if p is not None]
    if not periods:
        return None
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
