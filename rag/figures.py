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
  letters), ordinals (``第一``), list numbering (``一是``, ``1、``), vague amounts (``数十``,
  ``几百``), numbers followed by 号, and a bare number inside a short quotation
  (``“8810”行动计划``).
  ``L3-L5级`` / ``L4级`` are levels.
* Words are not figures either (each rule seen in at least two Government Work Reports of
  ``corpus-policy``; the report years are given):

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
* ``subject``: a name ending in 基金/券/工程/计划/方案/项目/平台 that follows the figure
  (``100亿元的X``, ``百亿元规模的X``, ``100亿元X基金``, ``5万元“数转券”``), else the nearest such
  name earlier in the same sentence (``X正式成立,目标规模为100亿元``), else ``None``.
  ``date``: the nearest earlier date in the same sentence (sentences end at 。！？ and newlines,
  so callers should pass text whose column breaks are already rejoined).

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
import math
import re
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, DivisionByZero, InvalidOperation

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


# --------------------------------------------------------------------------- number parsing

_FULLWIDTH = str.maketrans("０１２３４５６７８９，．", "0123456789,.")

_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2,
    "三": 3, "叁": 3, "參": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6,
    "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_SMALL) + "".join(_CN_BIG)
_MULTIPLIERS = {**_CN_SMALL, **_CN_BIG}

_ARABIC_FULL = re.compile(r"[+\-−]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")


def _parse_cn(s: str) -> int | None:
    """Value of a Chinese numeral (一千五百, 百亿, 二〇二五, 一千五); None if malformed."""
    if not s or any(c not in _CN_CHARS for c in s):
        return None
    if all(c in _CN_DIGITS for c in s):
        if len(s) == 1:
            return _CN_DIGITS[s]
        if any(c in "两兩" for c in s):
            return None
        return int("".join(str(_CN_DIGITS[c]) for c in s))  # positional, as in 二〇二五
    total = section = 0
    digit: int | None = None
    zero_seen = False
    last_unit = 0  # the unit just applied, to expand a trailing digit (一千五 = 1500)
    prev_small = 10**9
    for c in s:
        if c in _CN_DIGITS:
            d = _CN_DIGITS[c]
            if d == 0:
                zero_seen = True
                continue
            if digit is not None:
                return None  # two digits in a row: 十四五 is a name, not a number
            digit = d
        elif c in _CN_SMALL:
            u = _CN_SMALL[c]
            if u >= prev_small:
                return None
            section += (1 if digit is None else digit) * u
            digit, prev_small, last_unit, zero_seen = None, u, u, False
        else:
            u = _CN_BIG[c]
            if u == 10**8:
                total = ((total + section + (digit or 0)) or 1) * u
            else:
                total += ((section + (digit or 0)) or 1) * u
            section, digit, prev_small, last_unit, zero_seen = 0, None, 10**9, u, False
    if digit is not None:
        if not zero_seen and last_unit >= 100:
            return total + section + digit * last_unit // 10
        return total + section + digit
    return total + section


def _decimal(s: str) -> Decimal | None:
    """Exact value of an Arabic (ASCII or full-width) or Chinese numeral, multipliers included."""
    s = s.translate(_FULLWIDTH).replace("−", "-")
    if not s:
        return None
    if "点" in s:
        return _cn_point(s)
    i = len(s)
    while i > 0 and s[i - 1] in _MULTIPLIERS:
        i -= 1
    head, mults = s[:i], s[i:]
    if head and _ARABIC_FULL.fullmatch(head):
        try:
            value = Decimal(head.replace(",", ""))
        except InvalidOperation:
            return None
        for c in mults:
            value *= _MULTIPLIERS[c]
        return value
    if head and head[0] in "+-":
        return None
    cn = _parse_cn(s)
    return None if cn is None else Decimal(cn)


def _cn_point(s: str) -> Decimal | None:
    """A Chinese decimal: ``九点六`` -> 9.6, ``二十点五亿`` -> 2.05e9 (digits after 点 are positional)."""
    whole, _, frac = s.partition("点")
    i = len(frac)
    while i > 0 and frac[i - 1] in _CN_BIG:
        i -= 1
    digits, mults = frac[:i], frac[i:]
    if not digits or any(c not in _CN_DIGITS for c in digits):
        return None
    head = _parse_cn(whole)
    if head is None:
        return None
    value = Decimal(f"{head}.{''.join(str(_CN_DIGITS[c]) for c in digits)}")
    for c in mults:
        value *= _MULTIPLIERS[c]
    return value


def _float(d: Decimal | None) -> float | None:
    if d is None:
        return None
    try:
        f = float(d)
    except (OverflowError, ValueError):
        return None
    return f if math.isfinite(f) else None


def parse_number(s: str) -> float | None:
    """Parse one number: ``"1,000"``, ``"0.2"``, ``"１２"``, ``"百"``, ``"一千五百"``, ``"1.5万"``.

    Returns None when ``s`` (surrounding whitespace ignored) is not exactly a number.
    """
    if not isinstance(s, str):
        return None
    s = s.strip()
    if not s or len(s) > 64:
        return None
    return _float(_decimal(s))


# --------------------------------------------------------------------------- units

_MONEY = {
    "元人民币": "元", "人民币": "元", "元": "元", "美元": "美元", "欧元": "欧元", "英镑": "英镑",
    "日元": "日元", "港元": "港元", "港币": "港元", "韩元": "韩元",
}  # fmt: skip
_PERCENT = {"%": "%", "％": "%", "‰": "‰", "个百分点": "百分点", "百分点": "百分点"}
_COUNT_WORDS = (
    "个 家 条 项 只 台 套 件 座 所 种 类 批 次 位 名 人次 人 户 款 部门 部 辆 架 颗 张 份 篇 处 场"
    " 轮 枚 株 艘 支 届 参数"
).split()
_COUNT = {w: w for w in _COUNT_WORDS} | {"大": "个"}
_DURATION = {"年": "年", "个月": "月", "周": "周", "天": "天", "小时": "小时", "分钟": "分钟"}
_PHYSICAL_CJK = (
    "吨 千瓦时 千瓦 兆瓦 瓦 公里 千米 平方公里 平方米 立方米 纳米 毫米 厘米 米 亩 公顷 千克 公斤 克 斤 担"
).split()
_PHYSICAL_LATIN = ("GWh MWh kWh GW MW kW KW TB PB EB GB MB Gbps Mbps Tbps EFLOPS PFLOPS TFLOPS nm km kg").split()

_UNITS: dict[str, tuple[str, str]] = {}
for _table, _kind in ((_MONEY, "money"), (_PERCENT, "percent"), (_COUNT, "count"),
                      (_DURATION, "duration")):  # fmt: skip
    for _k, _v in _table.items():
        _UNITS[_k] = (_v, _kind)
_UNITS["周年"] = ("周年", "anniversary")
_UNITS["级"] = ("级", "level")
_UNITS["倍"] = ("倍", "ratio")
for _k in _PHYSICAL_CJK + _PHYSICAL_LATIN:
    _UNITS[_k] = (_k, "number")

# Units a Chinese numeral may take; the full list would turn place names (三台, 五台山) into counts.
_CN_UNITS = (
    set(_MONEY)
    | set(_PERCENT)
    | set(_DURATION)
    | {"周年"}
    | set("个 家 条 项 大 类 种 次 名 件 款 所 座 轮 批 届 部门 人次 人 户 参数 倍 级 只".split())
    | set("吨 公里 平方米 公顷 千瓦 亩 斤 担".split())
)
# A lone 一 is an article far more often than a count (一批, 一方面); only these make it a figure.
_ONE_UNITS = {"年", "个月", "周", "天", "小时", "分钟", "级", "倍", "周年"}


def _unit_alternation() -> str:
    parts = []
    for u in sorted(_UNITS, key=len, reverse=True):
        esc = re.escape(u)
        parts.append(esc + r"(?![A-Za-z])" if u[0].isascii() and u[0].isalpha() else esc)
    return "(?:" + "|".join(parts) + ")"


# --------------------------------------------------------------------------- patterns

_D = "[0-9０-９]"
_NOT_AFTER_ARABIC = r"(?<![A-Za-z0-9０-９.．/第])(?<![A-Za-z][-_])"
_ARABIC = (
    rf"(?:{_D}{{1,3}}(?:,{_D}{{3}})+|[０-９]{{1,3}}(?:，[０-９]{{3}}){{2,}}"
    rf"|[０-９]{{1,3}}，[０-９]{{3}}(?=[万亿億萬])|{_D}{{1,24}})"
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

_ALTERNATIVES = [
    # L3-L5级 / L4级 (a bare L3 is a name).
    rf"(?P<level>(?<![A-Za-z])[Ll](?P<l1>{_D})(?:{_SEP}[Ll]?(?P<l2>{_D}))?(?![0-9０-９])"
    rf"{_SP}(?P<lj>级)?)",
    rf"(?P<iso>{_NOT_AFTER_ARABIC}(?P<iy>{_YEAR})(?P<isep>[-/.])(?P<im>{_MON})(?P=isep)"
    rf"(?P<id>{_DAY}))",
    rf"(?P<yrange>{_NOT_AFTER_ARABIC}(?P<ry1>{_YEAR}){_SP}年?{_SEP}(?P<ry2>{_YEAR}){_SP}年)",
    rf"(?P<ydate>(?P<dp>{_DATE_PREFIX})?(?:{_NOT_AFTER_ARABIC}(?P<y>{_YEAR})"
    rf"|(?<![{_CN_CHARS}])(?P<cy>{_CN_YEAR})){_SP}年"
    rf"(?:{_SP}(?:(?P<mo>{_MON})|(?P<cmo>{_CN_MON})){_SP}月"
    rf"(?:{_SP}(?:(?P<d>{_DAY})|(?P<cd>{_CN_DAY})){_SP}[日号])?(?P<mt>{_MONTH_TAIL})?"
    rf"|(?P<yt>{_YEAR_TAIL}))?(?P<ds>{_DATE_SUFFIX})?)",
    rf"(?P<mdate>(?:(?<![0-9０-９])(?P<om>{_MON})|(?<![{_CN_CHARS}第个])(?P<com>{_CN_MON}))"
    rf"{_SP}月(?:{_SP}(?:(?P<od>{_DAY})|(?P<cod>{_CN_DAY})){_SP}[日号])?(?P<omt>{_MONTH_TAIL})?)",
    rf"(?P<ddate>(?<![0-9０-９])(?P<dd>{_DAY}){_SP}日(?!元))",
    rf"(?P<cpctr>百分之(?P<pr1>{_CNNUM}|{_ARABIC})[至到—－-](?:百分之)?(?P<pr2>{_CNNUM}|{_ARABIC})"
    rf"(?P<prq>{_QSUF})?)",
    rf"(?P<cpct>百分之(?P<pn>{_CNNUM}|{_ARABIC})(?P<pq>{_QSUF})?)",
    rf"(?P<cfrac>(?P<fd>{_CNNUM})分之(?P<fn>{_CNNUM}))",
    rf"(?P<afrac>{_NOT_AFTER_ARABIC}(?P<fa>{_ARABIC})/(?P<fb>{_ARABIC})(?![/0-9０-９]))",
    rf"(?P<general>{_GENERAL})",
]
_MASTER = re.compile("|".join(_ALTERNATIVES))
_SINGLE = re.compile(_GENERAL_SINGLE)

_QUOTE_RE = re.compile(r"[“\"「『‘]([^“”\"「」『』‘’\n]{1,20})[”\"」』’]")
_TITLE_RE = re.compile(r"《([^《》\n]{1,120})》")
_SENTENCE_END_RE = re.compile(r"[。！？!?\n]")
_FAR_QUALIFIER_RE = re.compile(r"(不高于|不低于|不超过|不少于|不多于)[\u4e00-\u9fff]{1,10}$")
_LIST_START_RE = re.compile(r"(?:^|\n)[ \t\u3000#>*\-]*$")
_CLOCK_AFTER_RE = re.compile(r"[:：][0-9０-９]")
_CLOCK_BEFORE_RE = re.compile(r"[0-9０-９][:：]$")
_CONJ_RE = re.compile(r"以及|和|与|及|、")

# Word rules (see the module docstring).
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
        return num[-1] in "亿億" and len(num) > 1
    if unit not in _CN_UNITS:
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


def _in_spans(spans: list[tuple[int, int]], starts: list[int], a: int, b: int) -> int:
    """Index of the span that contains [a, b), or -1."""
    i = bisect.bisect_right(starts, a) - 1
    if i >= 0 and spans[i][0] <= a and b <= spans[i][1]:
        return i
    return -1


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
            "afrac": self._afrac,
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
        if not qp and kind in ("money", "percent"):
            far = _FAR_QUALIFIER_RE.search(self.text, max(0, start - 16), start)
            if far and not self._sentence_break(far.start(), start):
                start, qualifier = far.start(), _qualifier(far.group(1))
        return _Raw(start, end, value, low, high, base, kind, qualifier, bare=bare)

    def _is_word(self, raw: _Raw) -> bool:
        """Whether a candidate is part of a name or a time phrase (the word rules of the docstring)."""
        text, a, b = self.text, raw.start, raw.end
        q = _in_spans(self.quotes, self.quote_starts, a, b)
        if (
            q >= 0
            and self.quotes[q][1] - self.quotes[q][0] <= _SHORT_QUOTE
            and not _GENERIC_REST_RE.fullmatch(text, b, self.quotes[q][1])
        ):
            return True  # “四人帮”, “三个代表”, “十二五”, “211工程” (not “十条措施”)
        if _NAMED_RE.match(text, a):
            return True  # 四项基本原则, 和平共处五项原则, 四个现代化
        after = text[b : b + 4]
        before = text[max(0, a - 4) : a]
        if raw.unit == "年" and raw.kind == "duration":
            if _PLAN_AFTER_RE.match(after):
                return True  # 第一个五年计划, 十年规划, 九十年代
            if raw.qualifier == "=" and _time_phrase(before, after, raw.value):
                return True  # 过去一年, 五年来, 新的一年, 一年又一年
        if raw.unit == "届" and _SESSION_AFTER_RE.match(after):
            return True  # 十一届三中全会, 五届人大, 十八届二中、三中全会
        if raw.bare:
            if _BARE_NAME_AFTER_RE.match(after):
                return True  # 211工程, 863计划, 21世纪
            if _LATIN_BEFORE_RE.search(before):
                return True  # PM⏎2.5⏎ (a subscript on its own line)
        return False

    def _sentence_break(self, a: int, b: int) -> bool:
        return _SENTENCE_END_RE.search(self.text, a, b) is not None

    def _bare_ok(self, a: int, b: int) -> bool:
        """A unitless Arabic number is a figure unless it is a name, a label or list numbering."""
        text = self.text
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
        return _in_spans(self.quotes, self.quote_starts, a, b) < 0  # “8810”行动计划

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
        q = _qualifier(m.group("pq")) if m.group("pq") else "="
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
        entities = _Entities(text, [r.start for r in raws], [r.end for r in raws], self.quotes, self.titles)
        out: list[Figure] = []
        last_date: tuple[int, str] | None = None  # (sentence index, date)
        for raw in raws:
            sentence = bisect.bisect_left(ends, raw.start)
            s_start = ends[sentence - 1] + 1 if sentence > 0 else 0
            s_end = ends[sentence] if sentence < len(ends) else len(text)
            title = _in_spans(self.titles, self.title_starts, raw.start, raw.end)
            subject: str | None
            if title >= 0:
                a, b = self.titles[title]
                subject = text[a:b]
                date = raw.date or self._title_date(out, a)
            else:
                subject = None if raw.kind == "date" else entities.subject(raw, s_start, s_end)
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


# --------------------------------------------------------------------------- subjects

_SUFFIX = r"(?:基金(?:矩阵|群|体系|池)?|券|工程|计划|方案|项目|平台)"
_SUFFIX_RE = re.compile(_SUFFIX)
_ENDS_WITH_SUFFIX = re.compile(_SUFFIX + "$")
_STEM_RE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9０-９·\-—]{0,24}$")
_STOP_RE = re.compile(
    r"的|成立|设立|组建|建立|筹备|筹建|打造|宣布|官宣|印发|发布|出台|通过|形成|吸引|撬动|支持|鼓励"
    r"|推动|加快|加大|包括|围绕|进入|聚焦|实施|开展|推进|提供|遴选|一批|每年|按照|根据|给予|申领|将"
    r"|为|是|在|由|对|把|向|从|该|此|其|这|——"
)
_AFTER_GAP_RE = re.compile(r"(?:总规模|资金规模|规模)?的?[“\"]?")


class _SentenceNames:
    """The candidate names of one sentence, indexed for the two lookups in ``subject``."""

    def __init__(self, cands: list[tuple[int, int, bool]]) -> None:
        cands.sort(key=lambda c: (c[1], -c[0]))
        self.cands = cands
        self.ends = [b for _, b, _ in cands]
        # Right after a figure (100亿元的X基金) four characters make a name; further away, where
        # the link is weaker, five (唐山机器人产业投资基金 yes, 传统方案 no). Quoted names always.
        self.after: dict[int, tuple[int, int]] = {}
        self.best_upto: list[int] = []
        best = -1
        for k, (a, b, quoted) in enumerate(cands):
            if (quoted or b - a >= 4) and a not in self.after:
                self.after[a] = (a, b)
            if b - a >= 5 or quoted:
                best = k
            self.best_upto.append(best)


class _Entities:
    """Named funds, vouchers, programmes … per sentence, found lazily and cached."""

    def __init__(
        self,
        text: str,
        figure_starts: list[int],
        figure_ends: list[int],
        quotes: list[tuple[int, int]],
        titles: list[tuple[int, int]],
    ) -> None:
        self.text = text
        self.figure_starts = figure_starts
        self.figure_ends = figure_ends
        self.quotes = quotes
        self.titles = titles
        self.cache: dict[int, _SentenceNames] = {}

    def subject(self, raw: _Raw, s_start: int, s_end: int) -> str | None:
        names = self._sentence(s_start, s_end)
        gap = _AFTER_GAP_RE.match(self.text, raw.end, s_end)
        after = names.after.get(gap.end() if gap else raw.end)
        if after is not None:
            return self.text[after[0] : after[1]]
        # The nearest acceptable name that ends before the figure starts.
        i = bisect.bisect_right(names.ends, raw.start) - 1
        k = names.best_upto[i] if i >= 0 else -1
        if k < 0:
            return None
        a, b, _ = names.cands[k]
        return self.text[a:b]

    def _sentence(self, s_start: int, s_end: int) -> _SentenceNames:
        if s_start in self.cache:
            return self.cache[s_start]
        text = self.text
        cands: list[tuple[int, int, bool]] = []
        # Quoted names count from two characters (“数转券”); titles from five, since 《方案》
        # is only an abbreviation of a title given earlier.
        for spans, shortest in ((self.quotes, 2), (self.titles, 5)):
            lo = bisect.bisect_left(spans, (s_start, -1))
            for a, b in spans[lo:]:
                if a >= s_end:
                    break
                if b - a >= shortest and _ENDS_WITH_SUFFIX.search(text, a, b):
                    cands.append((a, b, True))
        for m in _SUFFIX_RE.finditer(text, s_start, s_end):
            if not self._in_figure(m.start()):
                cands.append((self._stem_start(s_start, m.start()), m.end(), False))
        names = _SentenceNames(cands)
        self.cache[s_start] = names
        return names

    def _in_figure(self, pos: int) -> bool:
        i = bisect.bisect_right(self.figure_starts, pos) - 1
        return i >= 0 and pos < self.figure_ends[i]

    def _stem_start(self, s_start: int, suffix_start: int) -> int:
        i = bisect.bisect_right(self.figure_ends, suffix_start) - 1
        lo = max(s_start, suffix_start - 24, self.figure_ends[i] if i >= 0 else 0)
        j = bisect.bisect_right(self.figure_starts, suffix_start) - 1
        if j >= 0:
            lo = max(lo, self.figure_starts[j])  # a name never starts before a figure's start
        stem = _STEM_RE.search(self.text, lo, suffix_start)
        a = stem.start() if stem else suffix_start
        for stop in _STOP_RE.finditer(self.text, a, suffix_start):
            a = stop.end()
        for conj in _CONJ_RE.finditer(self.text, a, suffix_start):
            if _ENDS_WITH_SUFFIX.search(self.text, a, conj.start()):
                a = conj.end()  # 甲基金和乙基金: two names, not one
                break
        return a


# --------------------------------------------------------------------------- public API


# Digits written one by one with spaces between them (``1 9 9 7 年``, ``7 4 7 7 2 亿元``,
# ``1 1 ％``): the 1998 report throughout, and what some PDF text layers give. A run of two or
# more single digits separated by single spaces is read as one number; a single space after
# the run, before its unit, goes too.
_SPACED = re.compile(r"(?<![0-9０-９A-Za-z.．])[0-9０-９](?: ?[0-9０-９.．])*(?: [0-9０-９.．])(?: ?[0-9０-９.．])*"
                     r"(?: (?=[^\s0-9０-９A-Za-z]))?")


_SPACE_BEFORE_PERCENT = re.compile(r"(?<=[0-9０-９]) (?=[％%‰])")  # 经济增长速度8 ％ (1998)


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


def extract_figures(text: str) -> list[Figure]:
    """Every figure in ``text`` in reading order (see the module docstring for the rules)."""
    if not isinstance(text, str) or not text:
        return []
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


def _canon(v: float) -> str:
    if not math.isfinite(v):
        return "nan"
    if v == int(v) and abs(v) < 1e21:
        n = int(v)
        if n == 0:
            return "0"
        k = 0
        while n % 10 == 0:
            n //= 10
            k += 1
        return f"{n}e{k}" if k >= 3 else str(int(v))
    return format(v, ".6g")


def _tokens(f: Figure) -> list[str]:
    if f.kind == "date":
        return _date_tokens(f)
    unit = f":{f.unit}" if f.unit else ""
    if f.value is not None:
        v = _canon(f.value)
        return [f"fig:{v}", f"fig:{v}{unit}"] if unit else [f"fig:{v}"]
    if f.low is None or f.high is None:
        return []
    lo, hi = _canon(f.low), _canon(f.high)
    out = [f"fig:{lo}-{hi}", f"fig:{lo}", f"fig:{hi}"]
    if unit:
        out += [f"fig:{lo}-{hi}{unit}", f"fig:{lo}{unit}", f"fig:{hi}{unit}"]
    return out


def _date_tokens(f: Figure) -> list[str]:
    if not f.date:
        return []
    if f.low is not None and f.high is not None and f.high - f.low <= 50:
        years = range(int(f.low), int(f.high) + 1)
        return [f"date:{f.date}"] + [f"date:{y}" for y in years]
    out = [f"date:{f.date}"]
    parts = f.date.split("-")
    if parts[0]:  # has a year: add coarser tokens (2023-12-05 -> 2023-12, 2023)
        for i in range(len(parts) - 1, 0, -1):
            out.append("date:" + "-".join(parts[:i]))
    return out


def figure_tokens(text: str) -> list[str]:
    """Canonical tokens of the figures in ``text`` (for BM25, documents and queries alike)."""
    return [t for f in extract_figures(text) for t in _tokens(f)]
