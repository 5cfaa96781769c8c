"""Chinese and Arabic numerals, and the units figures are measured in.

Exact parsing with ``decimal``: ``一千五百`` → 1500, ``百分之九点六``'s ``九点六`` → 9.6,
``二十点五亿`` → 2.05e9, ``1.5万`` → 15000, full-width digits and grouping (``２７，２０３``).
Split from :mod:`rag.figures` (which finds figures in text) so that the number grammar can be
read and tested on its own; :func:`parse_number` is re-exported there. Nothing here raises.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "ARABIC_FULL", "CN_BIG", "CN_CHARS", "CN_DIGITS", "CN_SMALL", "CN_UNITS", "MULTIPLIERS",
    "ONE_UNITS", "UNITS", "cn_point", "decimal_value", "parse_cn", "parse_number", "to_float",
    "unit_alternation",
]

_FULLWIDTH = str.maketrans("０１２３４５６７８９，．", "0123456789,.")

CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2,
    "三": 3, "叁": 3, "參": 3, "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6,
    "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
CN_BIG = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
CN_CHARS = "".join(CN_DIGITS) + "".join(CN_SMALL) + "".join(CN_BIG)
MULTIPLIERS = {**CN_SMALL, **CN_BIG}

ARABIC_FULL = re.compile(r"[+\-−]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")


def parse_cn(s: str) -> int | None:
    """Value of a Chinese numeral (一千五百, 百亿, 二〇二五, 一千五); None if malformed."""
    if not s or any(c not in CN_CHARS for c in s):
        return None
    if all(c in CN_DIGITS for c in s):
        if len(s) == 1:
            return CN_DIGITS[s]
        if any(c in "两兩" for c in s):
            return None
        return int("".join(str(CN_DIGITS[c]) for c in s))  # positional, as in 二〇二五
    total = section = 0
    digit: int | None = None
    zero_seen = False
    last_unit = 0  # the unit just applied, to expand a trailing digit (一千五 = 1500)
    prev_small = 10**9
    for c in s:
        if c in CN_DIGITS:
            d = CN_DIGITS[c]
            if d == 0:
                zero_seen = True
                continue
            if digit is not None:
                return None  # two digits in a row: 十四五 is a name, not a number
            digit = d
        elif c in CN_SMALL:
            u = CN_SMALL[c]
            if u >= prev_small:
                return None
            section += (1 if digit is None else digit) * u
            digit, prev_small, last_unit, zero_seen = None, u, u, False
        else:
            u = CN_BIG[c]
            if digit is None and section == 0 and total and last_unit >= 10**4:
                total *= u  # 六万万 (1957): 万万 is 亿
                last_unit = u * last_unit
                continue
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


def decimal_value(s: str) -> Decimal | None:
    """Exact value of an Arabic (ASCII or full-width) or Chinese numeral, multipliers included."""
    s = s.translate(_FULLWIDTH).replace("−", "-")
    if not s:
        return None
    if "点" in s:
        return cn_point(s)
    i = len(s)
    while i > 0 and s[i - 1] in MULTIPLIERS:
        i -= 1
    head, mults = s[:i], s[i:]
    if head and ARABIC_FULL.fullmatch(head):
        try:
            value = Decimal(head.replace(",", ""))
        except InvalidOperation:
            return None
        for c in mults:
            value *= MULTIPLIERS[c]
        return value
    if head and head[0] in "+-":
        return None
    cn = parse_cn(s)
    return None if cn is None else Decimal(cn)


def cn_point(s: str) -> Decimal | None:
    """A Chinese decimal: ``九点六`` -> 9.6, ``二十点五亿`` -> 2.05e9 (digits after 点 are positional)."""
    whole, _, frac = s.partition("点")
    i = len(frac)
    while i > 0 and frac[i - 1] in CN_BIG:
        i -= 1
    digits, mults = frac[:i], frac[i:]
    if not digits or any(c not in CN_DIGITS for c in digits):
        return None
    head = parse_cn(whole)
    if head is None:
        return None
    value = Decimal(f"{head}.{''.join(str(CN_DIGITS[c]) for c in digits)}")
    for c in mults:
        value *= MULTIPLIERS[c]
    return value


def to_float(d: Decimal | None) -> float | None:
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
    return to_float(decimal_value(s))


# --------------------------------------------------------------------------- units

_MONEY = {
    "元人民币": "元", "人民币": "元", "元": "元", "美元": "美元", "欧元": "欧元", "英镑": "英镑",
    "日元": "日元", "港元": "港元", "港币": "港元", "韩元": "韩元",
    "新卢布": "新卢布", "卢布": "卢布",  # 1964: 欠苏联的各项借款…十四亿零六百万新卢布
}  # fmt: skip
_PERCENT = {"%": "%", "％": "%", "‰": "‰", "个百分点": "百分点", "百分点": "百分点"}
_COUNT_WORDS = (
    "个 家 条 项 只 台 套 件 座 所 种 类 批 次 位 名 人次 人 户 款 部门 部 辆 架 颗 张 份 篇 处 场"
    " 轮 枚 株 艘 支 届 参数 头"
).split()
_COUNT = {w: w for w in _COUNT_WORDS} | {"大": "个"}
_DURATION = {"年": "年", "个月": "月", "周": "周", "天": "天", "小时": "小时", "分钟": "分钟"}
_PHYSICAL_CJK = (
    "吨 千瓦时 千瓦 兆瓦 瓦 公里 千米 平方公里 平方米 立方米 纳米 毫米 厘米 米 亩 公顷 千克 公斤 克 斤 担"
).split()
_PHYSICAL_LATIN = ("GWh MWh kWh GW MW kW KW TB PB EB GB MB Gbps Mbps Tbps EFLOPS PFLOPS TFLOPS nm km kg").split()

UNITS: dict[str, tuple[str, str]] = {}
for _table, _kind in ((_MONEY, "money"), (_PERCENT, "percent"), (_COUNT, "count"),
                      (_DURATION, "duration")):  # fmt: skip
    for _k, _v in _table.items():
        UNITS[_k] = (_v, _kind)
UNITS["周年"] = ("周年", "anniversary")
UNITS["级"] = ("级", "level")
UNITS["倍"] = ("倍", "ratio")
for _k in _PHYSICAL_CJK + _PHYSICAL_LATIN:
    UNITS[_k] = (_k, "number")
# Traditional (and long) forms of the units, read as the simplified base unit: 二百十七萬噸 (1954, in
# traditional script throughout), 一亿二千万农戶 (1957, whose print mixes in traditional forms)
TRADITIONAL_UNITS = {
    "噸": "吨", "個": "个", "項": "项", "種": "种", "戶": "户", "畝": "亩", "臺": "台", "輛": "辆",
    "條": "条", "隻": "只", "顆": "颗", "張": "张", "擔": "担", "屆": "届", "處": "处", "場": "场",
    "輪": "轮", "類": "类", "頭": "头", "盧布": "卢布", "新盧布": "新卢布", "港幣": "港元",
    "公頃": "公顷", "千瓦時": "千瓦时",
    "千瓦小时": "千瓦时",  # not a traditional form, the long one: ４４５５亿千瓦小时 (1987) is energy
}
for _trad, _simp in TRADITIONAL_UNITS.items():
    UNITS.setdefault(_trad, UNITS[_simp])

# Units a Chinese numeral may take; the full list would turn place names (三台, 五台山) into counts.
CN_UNITS = (
    set(_MONEY)
    | set(_PERCENT)
    | set(_DURATION)
    | {"周年"}
    | set("个 家 条 项 大 类 种 次 名 件 款 所 座 轮 批 届 部门 人次 人 户 参数 倍 级 只 头".split())
    | set("吨 公里 平方米 公顷 千瓦 亩 斤 担".split())
    # 九万平方公里 (1964), 一万平方公里 (1960); 二十多位 (1984), 几百位 (1957, 1983); 四十公斤
    # (1981, 1988); 六十亿立方米 (1980, 1982)
    | {"平方公里", "位", "公斤", "立方米"}
)
CN_UNITS |= {t for t, u in TRADITIONAL_UNITS.items() if u in CN_UNITS}
# Units a one-character Chinese numeral never takes: 两头, 一头是…, 多头执法 are words, while
# livestock is counted in long numerals (二亿七千万头, 1960; 八千八百二十七万头, 1958).
LONG_ONLY_UNITS = {"头", "頭", "位"}  # and 两位, 一位: determiners (两位数, 这一位)
# A lone 一 is an article far more often than a count (一批, 一方面); only these make it a figure.
ONE_UNITS = {"年", "个月", "周", "天", "小时", "分钟", "级", "倍", "周年"}


def unit_alternation() -> str:
    parts = []
    for u in sorted(UNITS, key=len, reverse=True):
        esc = re.escape(u)
        if u[0].isascii() and u[0].isalpha():
            esc += r"(?![A-Za-z])"
        elif u == "人":
            esc += "(?![口民])"  # 十亿人口, 六亿人民 (1985, 1958): the noun, not the unit
        parts.append(esc)
    return "(?:" + "|".join(parts) + ")"

