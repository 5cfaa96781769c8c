"""Words that look like figures and are not: list numbering, relative time phrases, names
with digits, doctrines and abbreviations. Used by :mod:`rag.figures` on every candidate.

Each rule was seen in at least two Government Work Reports of ``corpus-policy`` (the report
years are given) or on the seed page:

- List numbering: ``一、`` ``（一）`` ``一是`` ``二要`` ``第一，`` have no unit and are never figures;
  ``1.`` / ``１．`` at the start of a line — also after the full-width indent ``　　`` of the
  older reports (1956, 1979) — and ``（1）`` are dropped.
- Relative time phrases are not durations: ``过去一年`` (2014 ``一、2013年工作回顾⏎过去一年是…``,
  2012), ``一年来``/``五年来``/``两年来`` (1955, 2014), ``这一年``/``这两年`` (1955, 1979),
  ``今明两年`` (2008, 2014), ``新的一年``/``关键的一年``/``关键一年``/``重要一年``/``最后一年``
  (2008, 2012, 2013), ``极不平凡的五年。`` (2008, 2013), ``一年又一年`` (1955). A ``一年`` that
  measures time stays a duration: ``用一年时间``, ``一年内``, ``提前一年完成`` (2008, 2014),
  ``近3年``, ``一年零三个月`` (1979).
- Anniversaries keep their figure with ``kind="anniversary"`` (unit ``周年``) so that a question
  about an anniversary can still use them, but they are not durations: ``建国三十周年`` (1979),
  ``和平共处五项原则提出六十周年`` (2014), ``70周年``.
- Digits inside names: ``5G``, ``C919``, ``PM⏎2.5`` / ``M⏎2`` (a subscript on its own line,
  2013, 2014), ``211工程`` / ``863计划`` / ``21世纪`` (a bare number before 工程/计划/世纪/年代,
  1998, 2003, 2014); five-year plans ``第一个五年计划`` (1955, 1956), ``十年规划`` (1979, 2003),
  decades ``五十年代``/``90年代`` (1979, 1986): ``N年`` before 计划/规划/代 is a name; five-year
  plan and congress abbreviations ``“十二五”``/``十二五``/``“六五”``, ``十八大``/``二十大`` (no valid
  numeral); sessions and plenums ``十一届三中全会``, ``五届人大``, ``十八届二中、三中全会`` (``N届``
  before 全国/人大/中央/政协/全会/``三中``…, 1979, 1982, 2014); any figure inside a short
  quotation (at most 12 characters) — ``“四人帮”``, ``“三个代表”``, ``“两个一百年”``, ``“三个1亿人”``
  (1979, 2003, 2014) — unless the rest of the quotation is a generic noun like 措施 (the seed
  page's ``“十条措施”`` is ten measures); and doctrines named without quotes: ``四项基本原则``,
  ``和平共处五项原则``, ``八项规定``, ``四个现代化``, ``三个代表`` (1979, 1993, 1998, 2014).
- Classes: a bare magnitude with a unit before 级 names a size class (``千万吨级炼油厂``, 2008;
  ``百万千瓦级核电机组``, 2007; ``万吨级码头泊位``, 2003, 2013).
- Labels: numbers followed by 号 or 、, a bare number inside a short quotation (``“8810”行动计划``),
  ``(1)`` and ``1.`` list numbering, clock times (``10:30``). (Digits glued to Latin letters,
  ``5G``, ``IPv6``, never match the patterns of :mod:`rag.figures` at all.)
"""

from __future__ import annotations

import bisect
import re

__all__ = ["bare_ok", "in_spans", "is_word"]

_LIST_START_RE = re.compile(r"(?:^|\n)[ \t\u3000#>*\-]*$")
_CLOCK_AFTER_RE = re.compile(r"[:：][0-9０-９]")
_CLOCK_BEFORE_RE = re.compile(r"[0-9０-９][:：]$")

_SHORT_QUOTE = 12
_GENERIC_REST_RE = re.compile(r"(?:政策)?(?:措施|举措|意见|任务|行动)")
_NAMED_RE = re.compile(
    r"四项基本原则|五项原则|八项原则|八项主张|八项规定|四个现代化|三个代表|两个文明|四人帮|两个中国"
    r"|两个确保|三个有利于|五个统筹|两个一百年|四个全面|两个务必|两个凡是"
)
_PLAN_AFTER_RE = re.compile(r"计划|規劃|計劃|规划|代")
_SESSION_AFTER_RE = re.compile(r"全国|人大|人民代表|中央|中共|政协|全会|中全会|[一二三四五六七八九十]中")
_BARE_NAME_AFTER_RE = re.compile(r"工程|计划|世纪|年代")
_LATIN_BEFORE_RE = re.compile(r"[A-Za-z][ \t\u3000]*\n[ \t\u3000]*$")
_TIME_BEFORE_RE = re.compile(r"(?:过去|这|那|今明)$")
_ONE_YEAR_BEFORE_RE = re.compile(r"(?:的|又|一年|重要|关键|最后|头|去年|今年|当年)$")
_TIME_AFTER_RE = re.compile(r"(?:来|以来|多来)")


def _time_phrase(before: str, after: str, value: float | None) -> bool:
    """过去一年, 这一年, 今明两年, 五年来 / 一年以来, and for one year 新的一年, 一年又一年."""
    if _TIME_BEFORE_RE.search(before) or _TIME_AFTER_RE.match(after):
        return True
    if value == 1:
        if after.startswith(("零", "半")):
            return False  # 一年零三个月 is a duration
        return bool(_ONE_YEAR_BEFORE_RE.search(before)) or after.startswith(("又一年", "一年"))
    return before.endswith("的") and after[:1] in ("，", "。", "、", "是", "")  # 不平凡的五年。


def in_spans(spans: list[tuple[int, int]], starts: list[int], a: int, b: int) -> int:
    """Index of the span that contains [a, b), or -1."""
    i = bisect.bisect_right(starts, a) - 1
    if i >= 0 and spans[i][0] <= a and b <= spans[i][1]:
        return i
    return -1


def is_word(text: str, quotes: list[tuple[int, int]], quote_starts: list[int], a: int, b: int, *,
            unit: str, kind: str, qualifier: str, value: float | None, bare: bool) -> bool:
    """Whether the candidate ``text[a:b]`` (its unit, kind, qualifier, value; ``bare``: no unit,
    multiplier or qualifier) is part of a name or a time phrase (the rules above)."""
    q = in_spans(quotes, quote_starts, a, b)
    if (
        q >= 0
        and quotes[q][1] - quotes[q][0] <= _SHORT_QUOTE
        and not _GENERIC_REST_RE.fullmatch(text, b, quotes[q][1])
    ):
        return True  # “四人帮”, “三个代表”, “十二五”, “211工程” (not “十条措施”)
    if _NAMED_RE.match(text, a):
        return True  # 四项基本原则, 和平共处五项原则, 四个现代化
    after = text[b : b + 4]
    before = text[max(0, a - 4) : a]
    if unit and after.startswith("级") and text[a] in "十百千万亿":
        return True  # 千万吨级炼油厂 (2008), 百万千瓦级核电机组 (2007): a class, not an amount
    if unit == "年" and kind == "duration":
        if _PLAN_AFTER_RE.match(after):
            return True  # 第一个五年计划, 十年规划, 九十年代
        if qualifier == "=" and _time_phrase(before, after, value):
            return True  # 过去一年, 五年来, 新的一年, 一年又一年
    if unit == "届" and _SESSION_AFTER_RE.match(after):
        return True  # 十一届三中全会, 五届人大, 十八届二中、三中全会
    if bare:
        if _BARE_NAME_AFTER_RE.match(after):
            return True  # 211工程, 863计划, 21世纪
        if _LATIN_BEFORE_RE.search(before):
            return True  # PM⏎2.5⏎ (a subscript on its own line)
    return False


def bare_ok(text: str, quotes: list[tuple[int, int]], quote_starts: list[int], a: int, b: int) -> bool:
    """A unitless Arabic number ``text[a:b]`` is a figure unless it is a name, a label or list
    numbering."""
    nxt = text[b : b + 2]
    prev = text[max(0, a - 2) : a]
    if nxt[:1] in ("号", "、", "〕", "]", "】") or prev[-1:] in ("〔", "[", "【", "#", "＃"):
        return False
    if _CLOCK_AFTER_RE.match(nxt) or _CLOCK_BEFORE_RE.search(prev):
        return False  # 10:30, 1:1
    if prev[-1:] in "(（" and nxt[:1] in ")）":
        return False  # (1) list numbering
    if nxt[:1] in ".．)）" and _LIST_START_RE.search(text, max(0, a - 8), a):
        return False  # "1." at the start of a line
    return in_spans(quotes, quote_starts, a, b) < 0  # “8810”行动计划
