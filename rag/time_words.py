"""Time expressions in Chinese text: where they are and what they say, before any document
date or heading is applied (:mod:`rag.periods` resolves them into absolute periods).

Split from :mod:`rag.periods` (which passed 600 lines): this module scans (years, ``今年``/
``去年``/``上年``…, five-year plans, decades, months and parts of a year, ``以来``, deadlines,
comparison bases) with the vocabulary of ``rag/data/periods.json``; offsets are into the
caller's text (normalisation is character by character).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from rag.figures import parse_number

__all__ = ["Expr", "alt", "data", "norm", "scan"]


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


# 1950年代, 2010年代 (CMRC and DRCD passages): the decade's first year, a group
_DIGIT_DECADE = r"((?:1[5-9]|20)[0-9]0)年代"


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
        rf"(?P<year>{_LB}{_YA} ?年(?!代)(?:度)?(?:的?{part_after})?)",
        r"(?P<decade>(?:二十一世纪|21世纪|二十世纪|20世纪)?(?:[五六七八九]十|[5-9]0)年代"
        rf"|(?<![0-9]){_DIGIT_DECADE})",
        rf"(?P<century>{_alt(_keys(d['century_phrases']))})",
        rf"(?P<rel>(?:{'|'.join(rel)})(?:的?{part_after})?)",
        rf"(?P<past>(?:{_alt(past['prefixes'])}){_N}(?:{_alt(past['suffixes'])})|(?<![0-9几多十]){_N}{past['bare_suffix']})",
        rf"(?P<future>(?:{_alt(fut['prefixes'])}){_N}年)",
        rf"(?P<counted>(?<![{re.escape(d['counted_spans']['not_after'])}]){_N}年(?=(?:{_alt(d['counted_spans']['before'])}))"
        rf"|(?:{_alt(d['counted_spans']['prefixes'])}){_N}年)",
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
        full = re.fullmatch(_DIGIT_DECADE, label)
        if full:
            a = int(full.group(1))
            return _Expr(s, e, label, "abs", (a, a + 9), None, True, why=f"{label} ({a}–{a + 9})")
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
        ex.clause_only = word in d["clause_only_parts"]["words"]
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
    # a decade names an origin's level too: 已由五十年代的５０％左右，上升到８０％以上 (1984)
    decade = ex.label.endswith("年代") and post.startswith("的")
    if (one_year or decade) and any(pre.endswith(w) for w in og["before"]) and post.startswith(og["after"]):
        ex.origin = True


def _price_base(text: str, ex: _Expr) -> bool:
    """``按一九五二年不变价格计算`` (1958), ``按2010年价格计算`` (2011): the year values the
    figure's prices; it is no time of the figure (periods.json ``price_bases``)."""
    pb = _data()["price_bases"]
    pre = text[max(0, ex.start - 2) : ex.start]
    post = text[ex.end : ex.end + 5]
    return any(pre.endswith(w) for w in pb["before"]) and any(post.startswith(w) for w in pb["after"])


def _scan(text: str) -> list[_Expr]:
    out = []
    for m in _scanner().finditer(text):
        ex = _parse(m)
        if ex is not None and not (ex.kind == "abs" and _price_base(text, ex)):
            _flags(text, ex)
            out.append(ex)
    return out


# --------------------------------------------------------------------------- resolution


Expr = _Expr
alt = _alt
data = _data
norm = _norm
scan = _scan
