"""Exact, rule-based extraction of figures (amounts, counts, percentages, dates) from Chinese text.

Analysts must be able to trust every number, so extraction is deliberately conservative: regexes
find candidates, small parsers compute values exactly (``decimal``), and guards drop anything that
is a name rather than a measurement. No model is involved and nothing here raises.

Decisions (the rules behind them are general, not tuned to one document):

* Values are in base units: ``100亿元`` -> 1e10 元, ``27万个`` -> 270000 个, ``35%`` -> 35.0 (%).
  A range (``2亿元至100亿元``, ``30%-40%``, ``3-5万元``) has ``value=None`` and ``low``/``high``;
  a bare left side borrows the right side's multiplier and unit (``3-5万元`` = 3万-5万元).
* ``qualifier`` is one of ``≥ ≤ ≈ =``. Qualifier words are part of ``text`` (``不低于1000万元``).
  A comparative separated from its percentage or amount by a short noun phrase
  (``不高于项目总投资额10%``) still applies, and ``text`` then starts at the comparative.
* Counts with a measure word are figures, also with Chinese numerals: ``九大行动`` (9 个, the
  ``N大`` form only for 2-10, so ``二十大`` the congress is not a count), ``三个亮点``, ``十条``.
  ``text`` covers the numeral and the measure word (``七个``), not the noun after it.
  Chinese numerals need a unit, except bare amounts ending in 亿 (``百亿基金`` -> 1e10, kind
  number). A lone ``一`` (一批, 一方面, 一体化) only counts before time units and 级/倍;
  a lone ``百``/``千``/``万``/``亿``/``零`` (百城, 千兆, 万兆, 零部件) never does.
* Names are not figures: ``5G``, ``5G-A``, ``6G``, ``IPv6``, ``L3`` (digits glued to Latin
  letters), ordinals (``第一``), list numbering (``一是``, ``1、``), numbers followed by 号,
  and a bare number inside a short quotation (``“8810”行动计划``).
* Vague amounts (``几十万个``, ``数千项``) are ranges with 几/数 as 2-9 of kind ``vague``: the
  store lists them, and no question's expected kind admits them as an answer. ``近百个``,
  ``上千种``, ``近千万`` are that magnitude, qualifier ``≈``. ``○`` is read as zero
  (``一九八○年``, ``二百○八所``).
  ``L3-L5级`` / ``L4级`` are levels.
* Words are not figures either: list numbering, relative time phrases (``过去一年``), anniversaries
  (``70周年``, kept with ``kind="anniversary"``), digits inside names (``C919``, ``211工程``,
  ``十一届三中全会``, ``“四人帮”``): the rules, each with the reports that motivated it, are in
  :mod:`rag.figure_words`.
* Chinese decimals and full-width grouping of the older reports are parsed exactly:
  ``百分之九点六`` -> 9.6 %, ``增长二点一倍`` -> 2.1 倍 (1955), ``二十点五亿元``, and
  ``２７，２０３，３１９，０００元`` (1956: a full-width comma groups digits only between full-width
  digits and only with two or more groups, or one group before 万/亿 (``３，６８０亿斤``, 1956), so
  ``增长5，300个`` stays two figures).
* Dates: ``2023年12月`` -> kind date, ``date="2023-12"``, ``value=None``. ``到/至/截至 2025年``
  and ``2025年底/年末`` (a deadline, "by the end of") get qualifier ``≤`` (``到2025年年底`` ->
  ``"2025-12"``, ``≤``); ``自/从 …``, ``…起/以来/以后`` get ``≥``. ``2024—2026年`` is a date range
  (``low=2024``, ``high=2026``, ``date="2024/2026"``). Half years and quarters normalise to
  ``2025-H1`` / ``2025-Q3``; a month or day without a year to ``--12`` / ``--12-05`` / ``---05``.
  A 4-digit number 1500-2299 followed by 年 is a year; other numbers before 年 are durations.
* Dates inside titles (``《2025年山东…方案》``) are extracted like any other date; every figure
  inside 《…》 gets the title as ``subject`` and is never used as the date of figures outside it.
* ``subject``: the fund, voucher or programme a figure belongs to (:mod:`rag.figure_names`).
  ``date``: the nearest earlier date in the same sentence (sentences end at 。！？ and newlines,
  so callers should pass text whose column breaks are already rejoined).
* Numbers and units (``一千五百``, ``百分之九点六``, the unit table) are parsed by :mod:`rag.numbers`;
  :func:`parse_number` is re-exported here.

Tokens (:func:`figure_tokens`) make equal quantities match whatever their form:
``fig:<v>`` and ``fig:<v>:<unit>`` where ``<v>`` is the value in base units, an integer with three
or more trailing zeros written as mantissa-e-exponent (``100亿``, ``百亿元``, ``1e10`` -> ``1e10``,
``27万`` -> ``27e4``), other integers plainly (``35``), non-integers to 6 significant digits
(``1/3`` -> ``0.333333``). Ranges add ``fig:<low>-<high>[:unit]`` and tokens for both ends.
Dates give ``date:<normalised>`` plus coarser ``date:<year>`` / ``date:<year-month>`` tokens
(a year range gives every year in it). Qualifiers are not part of tokens.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, DivisionByZero, InvalidOperation

from rag.figure_names import Entities
from rag.figure_tokens import tokens_of
from rag.figure_words import bare_ok, in_spans, is_word
from rag.numbers import CN_CHARS as _CN_CHARS
from rag.numbers import CN_DIGITS as _CN_DIGITS
from rag.numbers import CN_UNITS as _CN_UNITS
from rag.numbers import LONG_ONLY_UNITS, parse_number
from rag.numbers import ONE_UNITS as _ONE_UNITS
from rag.numbers import UNITS as _UNITS
from rag.numbers import decimal_value as _decimal
from rag.numbers import to_float as _float
from rag.numbers import unit_alternation as _unit_alternation

__all__ = ["Figure", "extract_figures", "figure_tokens", "parse_number"]


@dataclass(frozen=True)
class Figure:
    """One figure found in a text; ``text == source[start:end]``."""

    text: str
    start: int
    end: int
    value: float | None
    low: float | None
    high: float | None
    unit: str
    kind: str
    qualifier: str
    subject: str | None
    date: str | None

    def to_dict(self) -> dict[str, object]:
        """A plain dict (JSON-ready) of all fields."""
        return asdict(self)


# --------------------------------------------------------------------------- patterns

_D = "[0-9０-９]"
_NOT_AFTER_ARABIC = r"(?<![A-Za-z0-9０-９.．/第])(?<![A-Za-z][-_])"
_ARABIC = (
    rf"(?:{_D}{{1,3}}(?:,{_D}{{3}})+|[０-９]{{1,3}}(?:，[０-９]{{3}}){{2,}}"
    rf"|[０-９]{{1,3}}，[０-９]{{3}}(?=[万亿億萬])"
    rf"|[0-9]{{1,3}}(?:，[0-9]{{3}})+(?=[万亿億萬])|{_D}{{1,24}})"  # 33，212万吨 (1980), not 增长5，300个
    rf"(?:[.．]{_D}{{1,12}})?"
    rf"(?!{_D}|[.．]{_D})"
)
_CN_CLASS = f"[{_CN_CHARS}]"
_CN_POINT = r"点[〇零一二三四五六七八九]{1,8}(?:[万萬亿億]{1,2})?"  # 九点六, 二十点五亿
_CNNUM = rf"(?<![{_CN_CHARS}第几数上])(?:{_CN_CLASS}{{1,24}})(?:{_CN_POINT})?(?!{_CN_CLASS})"
_NUM = rf"(?:{_NOT_AFTER_ARABIC}{_ARABIC}|{_CNNUM})"
_MULT = r"(?:[万萬亿億]|[十百千](?![瓦米克]|分点|兆))*"
_UNIT = _unit_alternation()
_QPRE = (
    r"(?:最高不超过|原则上不超过|不超过|不高于|不低于|不少于|不多于|不足|至少|最少|最多|最高|最低"
    r"|超过|高于|低于|多于|少于|大于|小于|上限为|上限|大约|约为|约|将近|接近|近|逾|超)(?:为|达)?"
)
_QSUF = r"(?:及以上|以上|及以下|以下|以内|之内|左右|上下(?!游)|封顶|内)"
_SEP = r"[ ]?[-－—–~～至到][ ]?"
_NO_LATIN = r"(?![A-Za-z])"


def _quantity(i: str) -> str:
    return (
        rf"(?P<n{i}>{_NUM})(?P<a{i}>余|多)?(?P<m{i}>{_MULT})(?P<b{i}>余|多)?(?P<u{i}>{_UNIT})?"
        rf"(?(u{i})|{_NO_LATIN})"
    )


_GENERAL_SINGLE = rf"(?P<qp>{_QPRE})?{_quantity('1')}(?P<qs>{_QSUF})?"
_GENERAL = rf"(?P<qp>{_QPRE})?{_quantity('1')}(?:{_SEP}{_quantity('2')})?(?P<qs>{_QSUF})?"

_YEAR = r"(?:[1１][5-9５-９]|[2２][0-2０-２])[0-9０-９]{2}"
_CN_YEAR = r"[一二][〇零一二三四五六七八九]{3}"
_MON = r"(?:[1１][0-2０-２]|[0０]?[1-9１-９])(?![0-9０-９])"
_CN_MON = r"(?:十[一二]?|[一二三四五六七八九])"
_DAY = r"(?:[3３][01０１]|[12１２][0-9０-９]|[0０]?[1-9１-９])(?![0-9０-９])"
_CN_DAY = r"(?:三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九])"
_SP = r"[ \u3000]?"
_DATE_PREFIX = r"(?:截至|截止到|截止|直到|(?<![达得提做])到|(?<!乃)至|(?<!来)自|从)"
_MONTH_TAIL = r"(?:底|末|初|中旬|上旬|下旬)"
_YEAR_TAIL = r"(?:年底|年末|年初|底|末|初|上半年|下半年|第?[一二三四1-4１-４]季度)"
_DATE_SUFFIX = (
    r"(?:以前|之前|前(?![一二三两四五六七八九十0-9０-９])|以来|以后"
    r"|起(?![步草点源飞])|后(?!续))"
)

# An order of magnitude led by 几/数 (几十万个, 1981, 1982; 几百位, 1957, 1983; 数千项, 1992) is a
# vague amount: a range with 几 as 2-9, of kind "vague" so that no question's expected kind admits
# it as an answer. Led by 近/将近/接近/上 (近百个, 上百万, 1975; 上千种, 1980, 1982; 近千公里, 2003;
# 近亿人次, 2014) it is that magnitude, approximately. 几十年/上十年 are durations, not figures;
# 以上/成千上万 are no lead.
_VAGUE = (
    rf"(?<![{_CN_CHARS}几数以之础成])(?P<vw>几|数|将近|接近|近|上)"
    rf"(?P<vm>(?:[十百千](?:万万|[万亿])?|万万|[万亿]))(?!分之|[{_CN_CHARS}])"
    r"(?![多余]?(?:年|个月|周|天|小时|分钟))(?P<va>多|余)?"  # a duration: left to the general form
    rf"(?P<vu>{_UNIT})?"
)

_ALTERNATIVES = [
    # L3-L5级 / L4级 (a bare L3 is a name).
    rf"(?P<level>(?<![A-Za-z])[Ll](?P<l1>{_D})(?:{_SEP}[Ll]?(?P<l2>{_D}))?(?![0-9０-９])"
    rf"{_SP}(?P<lj>级)?)",
    rf"(?P<iso>{_NOT_AFTER_ARABIC}(?P<iy>{_YEAR})(?P<isep>[-/.])(?P<im>{_MON})(?P=isep)"
    rf"(?P<id>{_DAY}))",
    rf"(?P<yrange>{_NOT_AFTER_ARABIC}(?P<ry1>{_YEAR}){_SP}年?{_SEP}(?P<ry2>{_YEAR}){_SP}年)",
    rf"(?P<ydate>(?P<dp>{_DATE_PREFIX})?(?:{_NOT_AFTER_ARABIC}(?P<y>{_YEAR})"
    rf"|(?<![{_CN_CHARS}])(?P<cy>{_CN_YEAR})){_SP}年(?!代)"
    rf"(?:{_SP}(?:(?P<mo>{_MON})|(?P<cmo>{_CN_MON})){_SP}月"
    rf"(?:{_SP}(?:(?P<d>{_DAY})|(?P<cd>{_CN_DAY})){_SP}[日号])?(?P<mt>{_MONTH_TAIL})?"
    rf"|(?P<yt>{_YEAR_TAIL}))?(?P<ds>{_DATE_SUFFIX})?)",
    rf"(?P<mdate>(?:(?<![0-9０-９])(?P<om>{_MON})|(?<![{_CN_CHARS}第个])(?P<com>{_CN_MON}))"
    rf"{_SP}月(?:{_SP}(?:(?P<od>{_DAY})|(?P<cod>{_CN_DAY})){_SP}[日号])?(?P<omt>{_MONTH_TAIL})?)",
    rf"(?P<ddate>(?<![0-9０-９])(?P<dd>{_DAY}){_SP}日(?!元))",
    rf"(?P<cpctr>百分之(?P<pr1>{_CNNUM}|{_ARABIC})[至到—－-](?:百分之)?(?P<pr2>{_CNNUM}|{_ARABIC})"
    rf"(?P<prq>{_QSUF})?)",
    rf"(?P<cpct>(?P<pqp>{_QPRE})?百分之(?P<pn>{_CNNUM}|{_ARABIC})(?P<pq>{_QSUF})?)",  # 近百分之二 (1957)
    rf"(?P<cfrac>(?P<fd>{_CNNUM})分之(?P<fn>{_CNNUM}))",
    rf"(?P<afrac>{_NOT_AFTER_ARABIC}(?P<fa>{_ARABIC})/(?P<fb>{_ARABIC})(?![/0-9０-９]))",
    rf"(?P<vague>{_VAGUE})",
    rf"(?P<general>{_GENERAL})",
]
_MASTER = re.compile("|".join(_ALTERNATIVES))
_SINGLE = re.compile(_GENERAL_SINGLE)

_QUOTE_RE = re.compile(r"[“\"「『‘]([^“”\"「」『』‘’\n]{1,20})[”\"」』’]")
_TITLE_RE = re.compile(r"《([^《》\n]{1,120})》")
_SENTENCE_END_RE = re.compile(r"[。！？!?\n]")
_COMPARED_GOAL_RE = re.compile(r"的(?:预定|预期|奋斗|原定)?(?:目标|计划|指标)")
_FAR_QUALIFIER_RE = re.compile(r"(不高于|不低于|不超过|不少于|不多于)[\u4e00-\u9fff]{1,10}$")


_QUALIFIERS = {
    "≥": "不低于 不少于 至少 最少 最低 超过 高于 多于 大于 逾 超 及以上 以上".split(),
    "≤": (
        "最高不超过 原则上不超过 不超过 不高于 不多于 不足 最多 最高 低于 少于 小于 上限为 上限"
        " 及以下 以下 以内 之内 封顶 内"
    ).split(),
    "≈": "大约 约为 约 将近 接近 近 左右 上下 余 多".split(),
}
_QUALIFIER_OF = {w: q for q, words in _QUALIFIERS.items() for w in words}


def _qualifier(word: str | None) -> str:
    if not word:
        return "="
    for w in (word, word[:-1]):  # "最高为" -> "最高"
        if w in _QUALIFIER_OF:
            return _QUALIFIER_OF[w]
    return "="


# --------------------------------------------------------------------------- candidates


@dataclass
class _Raw:
    start: int
    end: int
    value: float | None
    low: float | None
    high: float | None
    unit: str
    kind: str
    qualifier: str
    date: str | None = None
    bare: bool = False


def _is_cn(s: str) -> bool:
    return bool(s) and s[0] in _CN_CHARS


def _cn_ok(num: str, unit: str | None) -> bool:
    """Whether a Chinese numeral with this unit (None: bare) is a measurement, not a word."""
    if len(num) > 1 and all(c in _CN_DIGITS for c in num):
        return False  # 五一, 一二: positional digits only make sense in years
    if unit is None:
        # a bare amount in 亿 (十亿人民), or in 万 led by a digit (裁减军队员额五十万, 1998; 有一百
        # 万以上的干部下放到农村, 1959): not 千万/万万, which are adverbs (千万不要)
        return len(num) > 1 and (num[-1] in "亿億" or (
            num[-1] in "万萬" and ((num[0] in _CN_DIGITS and num[0] not in "零〇")
                                   or (num[0] == "十" and len(num) > 2))))  # 十五万
    if unit not in _CN_UNITS:
        return False
    if len(num) == 1 and unit in LONG_ONLY_UNITS:
        return False
    if len(num) == 1:
        if num in "一壹":
            return unit in _ONE_UNITS
        return num not in "百佰千仟万萬亿億零〇"
    return True


def _quant(text: str, m: re.Match[str], i: str) -> tuple[Decimal, str | None] | None:
    """The (value, unit text) of quantity ``i`` of a general match, or None if not a figure."""
    num = m.group(f"n{i}")
    mult = m.group(f"m{i}") or ""
    unit = m.group(f"u{i}")
    if len(num) > 1 and num[-1] in "千仟" and not mult and unit in ("瓦", "米", "克", "瓦时"):
        num, unit = num[:-1], "千" + unit  # 三百万千瓦: the 千 belongs to the unit
    shared = unit
    if shared is None and i == "1" and "u2" in m.re.groupindex and m.group("u2"):
        shared = m.group("u2")  # 二百八十万到三百万千瓦: the range's unit
        n2 = m.group("n2") or ""
        if n2[-1:] in ("千", "仟") and shared in ("瓦", "米", "克", "瓦时"):
            shared = "千" + shared
    if _is_cn(num) and not _cn_ok(num, shared) and not (
            unit is None and len(num) >= 2 and any(c in mult for c in "万萬亿億")):
        return None  # 四千二百多万(城镇劳动力): a bare amount in 万 or 亿, as in the 1980s reports
    value = _decimal(num + mult)
    if value is None:
        return None
    if unit == "大" and not (2 <= value <= 10 and _followed_by_cjk(text, m.end(f"u{i}"))):
        return None
    return value, unit


def _followed_by_cjk(text: str, pos: int) -> bool:
    return pos < len(text) and "\u4e00" <= text[pos] <= "\u9fff"


class _Extractor:
    """One pass over one text; holds the spans of quotes, titles and sentences."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.quotes = [m.span(1) for m in _QUOTE_RE.finditer(text)]
        self.quote_starts = [a for a, _ in self.quotes]
        self.titles = [m.span(1) for m in _TITLE_RE.finditer(text)]
        self.title_starts = [a for a, _ in self.titles]

    # -- scanning

    def scan(self) -> list[_Raw]:
        out: list[_Raw] = []
        text, pos, n = self.text, 0, len(self.text)
        while pos < n:
            m = _MASTER.search(text, pos)
            if m is None:
                break
            raw = self._build(m)
            if raw is None or raw.end <= raw.start:
                pos = m.start() + 1
                continue
            if raw.kind != "date" and self._is_word(raw):
                pos = raw.end  # nothing inside a name is a figure either (十一届 -> not 一届)
                continue
            if out and raw.start < out[-1].end:  # a far qualifier cannot reach into a figure
                raw.start = out[-1].end
            out.append(raw)
            pos = raw.end
        return out

    def _build(self, m: re.Match[str]) -> _Raw | None:
        kind = m.lastgroup
        if kind == "general":
            raw = self._general(m)
            if raw is None and m.group("n2") is not None:
                single = _SINGLE.match(self.text, m.start())
                raw = self._general(single) if single else None
            return raw
        handler = {
            "level": self._level, "iso": self._iso, "yrange": self._yrange, "ydate": self._ydate,
            "mdate": self._mdate, "ddate": self._ddate, "cpct": self._cpct, "cpctr": self._cpctr, "cfrac": self._cfrac,
            "afrac": self._afrac, "vague": self._vague,
        }[kind or ""]  # fmt: skip
        return handler(m)

    # -- general quantities

    def _general(self, m: re.Match[str]) -> _Raw | None:
        q1 = _quant(self.text, m, "1")
        if q1 is None:
            return None
        v1, u1 = q1
        has_range = "n2" in m.re.groupindex and m.group("n2") is not None
        start, end = m.start(), m.end()
        qp, qs = m.group("qp"), m.group("qs")
        approx = m.group("a1") or m.group("b1")
        low = high = None
        if has_range:
            q2 = _quant(self.text, m, "2")
            if q2 is None:
                return None
            v2, u2 = q2
            if u1 and u2 and _UNITS[u1][0] != _UNITS[u2][0]:
                return None
            if not m.group("m1") and not u1 and m.group("m2"):
                v1 = _decimal(m.group("n1") + m.group("m2")) or v1  # 3-5万元 = 3万-5万元
            if not v1 < v2:
                return None
            unit_text = u2 or u1
            low, high = _float(v1), _float(v2)
            value = None
            if low is None or high is None:
                return None
            approx = approx or m.group("a2") or m.group("b2")
        else:
            unit_text = u1
            value = _float(v1)
            if value is None:
                return None
        if unit_text is None and approx and not m.group("m1") and not has_range:
            end = m.end("n1")  # 10多地: 多 belongs to the next word
            approx = None
            qs = None
        base, kind = _UNITS[unit_text] if unit_text else ("", "number")
        if qs == "内" and kind != "duration":
            end, qs = m.start("qs"), None
        qualifier = _qualifier(qp) if qp else _qualifier(qs) if qs else "≈" if approx else "="
        if kind == "level" and (m.group("m1") or (value or high or 0) >= 100):
            base, kind = "", "number"  # 千亿级: an order of magnitude, not a grade
            qualifier = "≈" if qualifier == "=" else qualifier
        bare = unit_text is None and not m.group("m1") and not qp and not qs
        if bare and not self._bare_ok(m.start("n1"), m.end("n1")):
            return None
        if qp and _COMPARED_GOAL_RE.match(self.text, end) and _qualifier(qp) in ("≤", "≥") \
                and not (qs or approx):
            # 略低于8％的预定目标 (1999): the comparative measures another figure (the 7.8％
            # result) against this one, which is the goal itself, as stated
            start, qualifier = m.start("n1"), "="
        if not qp and kind in ("money", "percent"):
            far = _FAR_QUALIFIER_RE.search(self.text, max(0, start - 16), start)
            if far and not self._sentence_break(far.start(), start):
                start, qualifier = far.start(), _qualifier(far.group(1))
        return _Raw(start, end, value, low, high, base, kind, qualifier, bare=bare)

    def _vague(self, m: re.Match[str]) -> _Raw | None:
        mag = _decimal(m.group("vm"))
        unit_text = m.group("vu")
        if mag is None:
            return None
        if unit_text is None:
            if m.group("vw") in ("几", "数") or not any(c in m.group("vm") for c in "万亿"):
                return None  # 几万要求, 近十: only 近千万/上千万 stand without a unit
            base, kind, end = "", "number", m.end("vm") + len(m.group("va") or "")
        else:
            base, kind = _UNITS[unit_text]
            if kind in ("anniversary", "level") or unit_text not in _CN_UNITS:
                return None
            end = m.end()
        if m.group("vw") in ("几", "数"):
            return _Raw(m.start(), end, None, _float(mag * 2), _float(mag * 9), base, "vague", "≈")
        return _Raw(m.start(), end, _float(mag), None, None, base, kind, "≈")

    def _is_word(self, raw: _Raw) -> bool:
        """Whether a candidate is part of a name or a time phrase (:mod:`rag.figure_words`)."""
        return is_word(self.text, self.quotes, self.quote_starts, raw.start, raw.end, unit=raw.unit,
                       kind=raw.kind, qualifier=raw.qualifier, value=raw.value, bare=raw.bare)

    def _sentence_break(self, a: int, b: int) -> bool:
        return _SENTENCE_END_RE.search(self.text, a, b) is not None

    def _bare_ok(self, a: int, b: int) -> bool:
        """A unitless Arabic number is a figure unless it is a name, a label or list numbering."""
        return bare_ok(self.text, self.quotes, self.quote_starts, a, b)

    # -- dates

    def _date(self, m: re.Match[str], date: str, qualifier: str = "=") -> _Raw:
        return _Raw(m.start(), m.end(), None, None, None, "", "date", qualifier, date=date)

    def _ydate(self, m: re.Match[str]) -> _Raw | None:
        y = _year(m.group("y"), m.group("cy"))
        if y is None:
            return None
        date = f"{y:04d}"
        mo = _small(m.group("mo"), m.group("cmo"))
        if mo is not None:
            date += f"-{mo:02d}"
            d = _small(m.group("d"), m.group("cd"))
            if d is not None:
                date += f"-{d:02d}"
        tail = m.group("mt") or m.group("yt") or ""
        qualifier = "="
        if tail in ("年底", "年末", "底", "末") and mo is None:
            date += "-12"
        if tail in ("年底", "年末", "底", "末"):
            qualifier = "≤"
        elif tail in ("年初", "初") and mo is None:
            date, qualifier = date + "-01", "≈"
        elif tail in ("上半年", "下半年"):
            date += "-H1" if tail == "上半年" else "-H2"
        elif tail.endswith("季度"):
            quarter = _small(tail[-3:-2] if tail[-3:-2].isdigit() else None, tail[-3:-2])
            date += f"-Q{quarter or 1}"
        prefix, suffix = m.group("dp"), m.group("ds")
        if prefix in ("自", "从") or suffix in ("以来", "以后", "起", "后"):
            qualifier = "≥"
        elif prefix or suffix:
            qualifier = "≤"
        return self._date(m, date, qualifier)

    def _yrange(self, m: re.Match[str]) -> _Raw | None:
        y1, y2 = _year(m.group("ry1"), None), _year(m.group("ry2"), None)
        if y1 is None or y2 is None or y1 >= y2:
            return None
        raw = self._date(m, f"{y1}/{y2}")
        raw.low, raw.high = float(y1), float(y2)
        return raw

    def _iso(self, m: re.Match[str]) -> _Raw | None:
        y, mo, d = (_small(m.group(g), None) for g in ("iy", "im", "id"))
        if y is None or mo is None or d is None:
            return None
        return self._date(m, f"{y:04d}-{mo:02d}-{d:02d}")

    def _mdate(self, m: re.Match[str]) -> _Raw | None:
        mo = _small(m.group("om"), m.group("com"))
        if mo is None or not 1 <= mo <= 12:
            return None
        date = f"--{mo:02d}"
        d = _small(m.group("od"), m.group("cod"))
        if d is not None:
            date += f"-{d:02d}"
        return self._date(m, date, "≤" if m.group("omt") in ("底", "末") else "=")

    def _ddate(self, m: re.Match[str]) -> _Raw | None:
        d = _small(m.group("dd"), None)
        return None if d is None else self._date(m, f"---{d:02d}")

    # -- ratios and levels

    def _cpctr(self, m: re.Match[str]) -> _Raw | None:
        """百分之八至九, 百分之四至百分之五 (1993): a range of percentages."""
        lo, hi = _float(_decimal(m.group("pr1"))), _float(_decimal(m.group("pr2")))
        if lo is None or hi is None or not lo < hi:
            return None
        q = _qualifier(m.group("prq")) if m.group("prq") else "="
        return _Raw(m.start(), m.end(), None, lo, hi, "%", "percent", q)

    def _cpct(self, m: re.Match[str]) -> _Raw | None:
        v = _float(_decimal(m.group("pn")))
        if v is None:
            return None
        q = next((_qualifier(g) for g in (m.group("pqp"), m.group("pq")) if g), "=")
        return _Raw(m.start(), m.end(), v, None, None, "%", "percent", q)

    def _fraction(self, m: re.Match[str], num: Decimal | None, den: Decimal | None) -> _Raw | None:
        if num is None or den is None:
            return None
        try:
            v = _float(num / den)
        except (DivisionByZero, InvalidOperation):
            return None
        if v is None:
            return None
        return _Raw(m.start(), m.end(), v, None, None, "", "ratio", "=")

    def _cfrac(self, m: re.Match[str]) -> _Raw | None:
        fd, fn = m.group("fd"), m.group("fn")
        if fn in "零〇" or (not _cn_ok(fd, "个") and fd not in "百千万"):
            return None
        return self._fraction(m, _decimal(fn), _decimal(fd))

    def _afrac(self, m: re.Match[str]) -> _Raw | None:
        return self._fraction(m, _decimal(m.group("fa")), _decimal(m.group("fb")))

    def _level(self, m: re.Match[str]) -> _Raw | None:
        l1 = _small(m.group("l1"), None)
        l2 = _small(m.group("l2"), None)
        if l1 is None or (l2 is None and not m.group("lj")):
            return None
        if l2 is None:
            return _Raw(m.start(), m.end(), float(l1), None, None, "级", "level", "=")
        if l1 >= l2:
            return None
        return _Raw(m.start(), m.end(), None, float(l1), float(l2), "级", "level", "=")

    # -- attachment

    def finish(self, raws: list[_Raw]) -> list[Figure]:
        """Turn candidates into Figures with subject and date attached."""
        text = self.text
        ends = [m.start() for m in _SENTENCE_END_RE.finditer(text)]
        entities = Entities(text, [r.start for r in raws], [r.end for r in raws], self.quotes, self.titles)
        out: list[Figure] = []
        last_date: tuple[int, str] | None = None  # (sentence index, date)
        for raw in raws:
            sentence = bisect.bisect_left(ends, raw.start)
            s_start = ends[sentence - 1] + 1 if sentence > 0 else 0
            s_end = ends[sentence] if sentence < len(ends) else len(text)
            title = in_spans(self.titles, self.title_starts, raw.start, raw.end)
            subject: str | None
            if title >= 0:
                a, b = self.titles[title]
                subject = text[a:b]
                date = raw.date or self._title_date(out, a)
            else:
                subject = None if raw.kind == "date" else entities.subject(raw.start, raw.end, s_start, s_end)
                date = raw.date
                if raw.kind == "date" and raw.date:
                    last_date = (sentence, raw.date)
                elif last_date and last_date[0] == sentence:
                    date = last_date[1]
            out.append(
                Figure(
                    text=text[raw.start : raw.end],
                    start=raw.start,
                    end=raw.end,
                    value=raw.value,
                    low=raw.low,
                    high=raw.high,
                    unit=raw.unit,
                    kind=raw.kind,
                    qualifier=raw.qualifier,
                    subject=subject,
                    date=date,
                )
            )
        return out

    @staticmethod
    def _title_date(done: list[Figure], title_start: int) -> str | None:
        for f in reversed(done):
            if f.start < title_start:
                break
            if f.kind == "date":
                return f.date
        return None


def _year(arabic: str | None, cn: str | None) -> int | None:
    v = _small(arabic, cn)
    return v if v is not None and 1500 <= v <= 2299 else None


def _small(arabic: str | None, cn: str | None) -> int | None:
    """An integer from an Arabic or Chinese digit string (months, days, years)."""
    s = arabic if arabic is not None else cn
    if not s:
        return None
    d = _decimal(s)
    if d is None or d != d.to_integral_value():
        return None
    return int(d)


# --------------------------------------------------------------------------- public API


# Digits written one by one with spaces between them (``1 9 9 7 年``, ``7 4 7 7 2 亿元``,
# ``1 1 ％``): the 1998 report throughout, and what some PDF text layers give. A run of two or
# more single digits separated by single spaces is read as one number; a single space after
# the run, before its unit, goes too.
_SPACED = re.compile(r"(?<![0-9０-９A-Za-z.．])[0-9０-９](?: ?[0-9０-９.．])*(?: [0-9０-９.．])(?: ?[0-9０-９.．])*"
                     r"(?: (?=[^\s0-9０-９A-Za-z]))?")


# 经济增长速度8 ％ (1998), 国内生产总值达到39.8 万亿元 (2011): a space before the unit or scale
_SPACE_BEFORE_PERCENT = re.compile(r"(?<=[0-9０-９]) (?=[％%‰]|[万亿萬億][^\s0-9０-９])")


def _collapse_spaced_digits(text: str) -> tuple[str, list[int]] | None:
    """The text with the spaces inside spaced-out numbers removed, and for each character
    of it the offset in ``text``; None when there are none."""
    drop: set[int] = set()
    for m in _SPACED.finditer(text):
        drop.update(i for i in range(m.start(), m.end()) if text[i] == " ")
    drop.update(m.start() for m in _SPACE_BEFORE_PERCENT.finditer(text))
    if not drop:
        return None
    keep = [i for i in range(len(text)) if i not in drop]
    return "".join(text[i] for i in keep), keep


_CIRCLE_ZERO = str.maketrans("○◯", "〇〇")


def extract_figures(text: str) -> list[Figure]:
    """Every figure in ``text`` in reading order (see the module docstring for the rules)."""
    if not isinstance(text, str) or not text:
        return []
    if "○" in text or "◯" in text:
        # the older reports write zero as a circle (一九八○年, 二百○八所, 1955-1982): read it as
        # 〇, character for character, and give each figure the text as written
        figs = extract_figures(text.translate(_CIRCLE_ZERO))
        return [replace(f, text=text[f.start:f.end]) for f in figs]
    collapsed = _collapse_spaced_digits(text) if " " in text else None
    if collapsed is None:
        ex = _Extractor(text)
        return ex.finish(ex.scan())
    squeezed, offs = collapsed
    ex = _Extractor(squeezed)
    out: list[Figure] = []
    for f in ex.finish(ex.scan()):
        start, end = offs[f.start], offs[f.end - 1] + 1
        out.append(replace(f, text=text[start:end], start=start, end=end))
    return out


def figure_tokens(text: str) -> list[str]:
    """Canonical tokens of the figures in ``text`` (for BM25, documents and queries alike)."""
    return [t for f in extract_figures(text) for t in tokens_of(f)]
