"""The figure store: every figure of every passage, extracted once at index time and kept
with the passage, with its metric, subject, period and stance.

Queries read figures from here instead of extracting them again. The store is versioned
with the index (``STORE_VERSION`` plus the extractor's own versions): when any of them
changes, an index update re-extracts the figures of every passage (no re-embedding).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag import facts, periods, respective, time_words, vocab
from rag.figures import Figure, extract_figures
from rag.hanzi import fold
from rag.periods import DocDate, Period
from rag.text import sentence_spans
from rag.types import FigureFact, FigureRow, Passage, figure_key, figure_values

# 2: traditional characters folded, 分别 pairs, metric actors as subjects; 3: price-base years,
# cited plans, opening actors as subjects, 国家财政 as the nation; 4: a heading naming the year
# reviewed and the year planned dates a figure by its stance; 5: undated counts as states at
# delivery, counted nouns and groups after a figure as its metric, bare amounts in 万; 6: vague
# amounts, ○ as zero, objects after 了/的; 7: traditional units (噸, 個), 农户 implies 户, a
# colon list takes its lead-in's year, 现在/目前 states are results, FIGURE的目标/任务 a target;
# 8: a goal verb's deadline makes a target; 9: 1950年代 is a decade (a period), not the year 1950
STORE_VERSION = 10
STANCES = facts.STANCES
FIGURE_KINDS = ("money", "count", "percent", "ratio", "number", "duration", "level", "date", "vague",
                "anniversary")
SORT_KEYS = ("document", "value", "period")


def store_digest() -> str:
    """Identifies the code that made the figures: when it changes, figures are re-made."""
    parts = [str(STORE_VERSION), getattr(facts, "VERSION", "0"), getattr(periods, "VERSION", "0"),
             _source_digest()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _source_digest() -> str:
    """The extractor modules' and their data files' bytes, and the text normaliser's (BM25
    tokens are made again with the figures): any rule change re-makes the store."""
    from importlib import resources

    h = hashlib.sha256()
    for mod in ("figures.py", "numbers.py", "figure_words.py", "figure_names.py", "figure_tokens.py",
                "facts.py", "periods.py", "time_words.py", "figstore.py", "hanzi.py", "respective.py",
                "text.py"):
        f = resources.files("rag").joinpath(mod)
        if f.is_file():
            h.update(f.read_bytes())
    data = resources.files("rag").joinpath("data")
    for f in sorted(data.iterdir(), key=lambda x: x.name):
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def doc_date(date: str | None) -> DocDate | None:
    """``2014-03-05`` → DocDate(2014, 3, 5)."""
    if not date:
        return None
    parts = [int(x) for x in date.split("-") if x.isdigit()]
    if not parts:
        return None
    return DocDate(parts[0], parts[1] if len(parts) > 1 else None,
                   parts[2] if len(parts) > 2 else None)


def heading_context(headings: Sequence[str], doc: DocDate | None) -> Period | None:
    """The period the headings above a passage set: the innermost one that says (under
    ``一、2013年工作回顾`` everything is about 2013 unless a sentence says otherwise)."""
    found: Period | None = None
    for h in headings:
        p = periods.heading_period(h, doc)
        if p is not None:
            found = p
    return found


_FROM = re.compile(r"(?:从|由)$")
_TO = re.compile(r"^(?:增加|增长|提高|上升|下降|降低|减少|扩大|缩小|降|升)?(?:到|至|为)")


@lru_cache(maxsize=1)
def _written_span_re() -> re.Pattern[str]:
    years = r"(?:\d{4}|[〇零一二三四五六七八九]{4})年?"
    joins = "|".join(re.escape(w) for w in time_words.data()["year_span_words"]["words"] if w != "、")
    return re.compile(f"{years}(?:{joins}){years}")


def _written_span(basis: str) -> bool:
    """Whether a period is a span written as its two end years (``1978年到1983年``,
    ``一九八〇年至一九八五年``), not counted (过去五年) nor named (“十一五”)."""
    return _written_span_re().fullmatch(basis) is not None


@lru_cache(maxsize=1)
def _from_level() -> re.Pattern[str]:
    origin = time_words.data()["origin"]
    quals = "|".join(re.escape(w) for w in origin["level_qualifiers"])
    return re.compile(f"(?:{'|'.join(origin['before'])})(?:{quals})?$")


def _starts_change(sentence: str, figs: list[Figure], i: int, *, qualified: bool = True) -> bool:
    """``由每人每年240元提高到280元``: figure ``i`` is the level a change starts from (由/从 before
    it, a to-word after it, then the next figure), with no time of its own between 由 and it
    (``由上年的88个``, ``由1997年的65%`` have theirs). ``qualified``: a qualifier such as 每人每年
    may stand between 由 and the figure (periods.json ``origin.level_qualifiers``)."""
    if i < 0 or i + 1 >= len(figs):
        return False
    start = figs[i].start
    if qualified:
        if not _from_level().search(sentence[max(0, start - 6):start]):
            return False
    elif not _FROM.search(sentence[max(0, start - 1):start]):
        return False
    between = sentence[figs[i].end:figs[i + 1].start]
    return len(between) <= 6 and _TO.match(between) is not None


def _from_to(sentence: str, figs: list[Figure], i: int, period: Period | None) -> Period | None:
    """``国内生产总值从26.6万亿元增加到51.9万亿元`` under 过去五年 (2008–2012): the figure
    after 从 is the level before the span began (2007), the one after 增加到 the level at its
    end (2012); seen in the 2003, 2008 and 2013 reports' reviews of five years. A span written
    as its end years counts them both: ``从１９７８年到１９８３年，…由一百七十五元提高到二百八十八元``
    (1985: 175元 is 1978's), ``从一九七八年到一九八二年，…由五百九十八所增加到七百一十五所`` (1983).
    Under a single year the change is that year's and the level it starts from the year
    before's: ``今年…补助标准由每人每年240元提高到280元`` (2013: 240元 is 2012's), ``由每人每年
    50元提高到100元`` (2008), ``从２００２年１月１日起，…由１５．３％降到１２％`` (2002), ``去年…物价涨幅
    要从１４．８％降到１０％左右`` (1997: 14.8% is 1995's)."""
    if period is None or not period.start[:4].isdigit():
        return period
    first, last = int(period.start[:4]), int(period.end[:4])
    if first == last:
        if _starts_change(sentence, figs, i):
            y = str(first - 1)
            return Period(y, y, False, f"由…到…: the level before {period.basis}")
        return period
    if _starts_change(sentence, figs, i, qualified=False):
        if period.stated and _written_span(period.basis):
            return Period(str(first), str(first), True, f"从…到… start of {period.basis}")
        y = str(first - 1)
        return Period(y, y, False, f"从…到… before {period.basis}")
    if _starts_change(sentence, figs, i - 1, qualified=False):
        return Period(str(last), str(last), False, f"从…到… end of {period.basis}")
    return period


_LEVEL_VERB = re.compile(r"(?:达到|增加到|提高到|上升到|下降到|降低到|减少到|扩大到)(?:了)?"
                         r"(?:约|近|超过|接近)?$")
_AVERAGE = re.compile(r"(?:平均每年|年均|每年平均|平均)(?:实际)?(?:增长|递增|增加|提高|下降)$")
_BASE_BEFORE = re.compile(r"(?:比|较|同|与|和|跟)$")


def _refine(sentence: str, f: Figure, period: Period | None, doc: DocDate | None,
            stance: str, context: Period | None = None) -> Period | None:
    """Three readings that hold across the reports:

    * a level that a figure reaches in a span that is over (``粮食总产量…达到４０２４亿公斤``
      under 过去五年, 1988; ``下降到10.06‰``, 1998) is the level at the span's end;
    * an average annual rate (``1997年国内生产总值…平均每年增长11%`` under 过去五年, 1998;
      ``１９８７年…平均每年增长１１．１％``, 1988) is over the span its heading sets, when the
      year the sentence names is that span's last;
    * a change over the same part of another year (``今年上半年又比去年同期增长24.2％``, 1980;
      ``第一季度…比去年同期增长６２％``, 1956) is of the governing part of the year alone;
    * a change measured from a stated base year (``2007年…比2002年增长65.5%``, 2008;
      ``１９９２年同１９８７年相比，钢产量增长百分之四十二``, 1993) covers the years after the
      base up to the governing year; the level it reaches does not (``…，达到８０００万吨``, 1993;
      ``比1956年将增长百分之四点五，达到六百…``, 1957; ``比一九五六年，粮食增加了五十亿斤，达到
      三千七百亿斤``, 1958): that is of the governing year alone;
    * a figure that no time expression, heading or date governs is, in a dated document, a
      plan for the year after a stated comparison base when it is a target (``计划草案拟定，
      工业总产值比一九六四年增长百分之十一左右``, 1964: 1965; ``国民收入也安排为比今年增长４％
      左右``, 1981: 1982), else a plan for the document's year, else a result of the year before
      when the document is dated early in a year or by its year alone (a report delivered
      in March reviews the past year), else of its year.
    """
    if period is None:
        if stance == "unknown" and not _PLAN_WORDS.search(sentence):
            # a level reported without a plan word is a result: 其中工农业总产值１５１０４亿元
            # (1987), 其中有…共约三百万人 (1957)
            stance = "actual"
        if doc is None or stance not in ("target", "actual"):
            return None
        if stance == "target":
            base_year = _base_year(sentence[:f.start], doc)
            if base_year is not None:
                nxt = str(base_year + 1)
                return Period(nxt, nxt, False, f"a plan over the base year {base_year}")
            return Period(str(doc.year), str(doc.year), False, "no time stated: the document's year")
        y = doc.year - 1 if doc.month is None or doc.month <= 3 else doc.year
        if y < doc.year and _counts_things(sentence, f) and not _year_before(sentence):
            return Period(str(doc.year), str(doc.year), False, STATE_BASIS)
        return Period(str(y), str(y), False, "no time stated: a result reported in the document")
    first, last = period.start[:4], period.end[:4]
    if not (first.isdigit() and last.isdigit()):
        return period
    if first == last and _AVERAGE.search(sentence[max(0, f.start - 8):f.start]):
        y0 = _earlier_year(sentence[:f.start], doc, int(last))
        if y0 is not None:
            return Period(str(y0 + 1), last, False, f"an annual average since {y0} ({period.basis})")
    if context is not None and first == last and context.start[:4] != context.end[:4] \
            and context.end[:4] == last and _AVERAGE.search(sentence[max(0, f.start - 8):f.start]):
        return Period(context.start[:4], last, False, f"an annual average over {context.basis}")
    if first != last and doc is not None and int(last) < doc.year \
            and _LEVEL_VERB.search(sentence[max(0, f.start - 6):f.start]):
        return Period(last, last, period.stated, f"the level at the end of {period.basis}")
    if first == last and not _LEVEL_VERB.search(sentence[max(0, f.start - 6):f.start]):
        for s, e, base in reversed(periods.find_time_expressions(sentence[:f.start], doc=doc)):
            if base is None or not _BASE_BEFORE.search(sentence[max(0, s - 1):s]):
                continue
            if sentence.startswith("同期", e):
                break  # 今年上半年又比去年同期增长24.2％ (1980): of the half-year alone
            b = base.end[:4]
            if b.isdigit() and int(b) < int(last):
                return Period(str(int(b) + 1), last, period.stated and base.stated,
                              f"since the base year {b} ({period.basis})")
    return period


def review_and_plan(headings: Sequence[str], doc: DocDate | None) -> tuple[str, str] | None:
    """The year reviewed and the year planned, when the innermost heading that dates a
    passage names just those two consecutive years (``一、1998年工作回顾和1999年工作的总体要求``,
    1999; ``一、１９９３年国内工作的回顾和１９９４年工作的基本方针``, 1994); else None."""
    for h in reversed(headings):
        found = periods.heading_periods(h, doc)
        if not found:
            continue
        if any(p.start != p.end or len(p.start) != 4 for p in found):
            return None
        years = sorted({p.start for p in found})
        if len(years) == 2 and years[0].isdigit() and years[1].isdigit() \
                and int(years[1]) - int(years[0]) == 1:
            return years[0], years[1]
        return None
    return None


def _review_or_plan(period: Period | None, context: Period | None,
                    years: tuple[str, str] | None, stance: str, sentence: str,
                    f: Figure) -> Period | None:
    """Under a heading that names the year reviewed and the year planned (``years``, see
    :func:`review_and_plan`), a figure that only the heading dates is of the first year when
    it is a result or a base, or stands in a sentence that names a plan as set before
    (``比上年增长7.8％，虽然略低于8％的预定目标``: both of 1998; facts.json ``past_plan``),
    and of the second when it is a plan: not of both."""
    if years is None or period is None or context is None or stance == "unknown":
        return period
    if period != context:
        return _part_reviewed(period, context, years, stance)
    words = _facts_data()["stance"]["past_plan"]
    at = _clause_start(sentence, f)
    clause = _clause(sentence, f)
    # the figure's own clause cites the plan set before (低于8％的预定目标), or the sentence
    # does and the figure's clause, read alone, plans nothing of its own (比上年增长7.8％
    # beside it; not 预期增长7％左右 beside 继续按原定计划推进…)
    past_plan = any(w in clause for w in words) or (
        any(w in sentence for w in words)
        and facts.stance(clause, f.start - at, f.end - at) != "target")
    if stance in ("actual", "base") or past_plan:
        return Period(years[0], years[0], False, f"the year reviewed under {context.basis}")
    return Period(years[1], years[1], False, f"the year planned under {context.basis}")


def _part_reviewed(period: Period, context: Period, years: tuple[str, str], stance: str) -> Period:
    """A part of a year that only the two-year heading dates (``年末`` under ``一、１９９３年国内
    工作的回顾和１９９４年工作的基本方针``, 1994: 存款余额１４７６４亿元 is of end-1993; ``下半年``
    under ``一、1998年工作回顾和1999年工作的总体要求``, 1999) is of the year reviewed when it is a
    result or a base: the period resolver took the heading's last year."""
    if stance not in ("actual", "base") or not period.basis.endswith(f"({context.basis})") \
            or period.start[:4] != years[1] or period.end[:4] != years[1]:
        return period
    y = years[0]
    return Period(y + period.start[4:], y + period.end[4:], False,
                  f"{period.basis.split(' of ')[0]} of {y}, the year reviewed under {context.basis}")


def _earlier_year(before: str, doc: DocDate | None, last: int) -> int | None:
    """The first single year before ``last`` that ``before`` names, base or level: an average
    rate runs from the year after it (``一九八二年…比一九七八年增长百分之三十二点六，平均每年增长
    百分之七点三``, 1983: 1979–1982; ``从1997年的8651亿元增加到2002年的18914亿元，平均每年增加
    2053亿元``, 2003: 1998–2002)."""
    for _s, _e, p in periods.find_time_expressions(before, doc=doc):
        if p is not None and p.start[:4] == p.end[:4] and p.start[:4].isdigit() and int(p.start[:4]) < last:
            return int(p.start[:4])
    return None


def _base_level(lead: str, sentence: str, figs: list[Figure], i: int, period: Period | None,
                doc: DocDate | None) -> Period | None:
    """``１９８６年同１９７８年相比，国民生产总值由３４８０亿元增加到９３８０亿元…；国家财政收入由
    １１２１亿元增加到２２２０亿元`` (1987), ``一九八二年同一九七八年相比，社会商品零售总额由一千五百
    五十九亿元增加到二千五百七十亿元`` (1983): the level a change starts from is of the base year
    the sentence compares with, in its own clause or an earlier ；-clause (``lead``)."""
    if not _starts_change(sentence, figs, i, qualified=False):
        return period
    b = _base_year(lead + sentence[:figs[i].start], doc)
    if b is None:
        return period
    return Period(str(b), str(b), False, f"the level of the base year {b}")


def _base_year(before: str, doc: DocDate | None) -> int | None:
    """The single year of the last comparison base (比一九六四年, 比今年) in ``before``."""
    for s, _e, base in reversed(periods.find_time_expressions(before, doc=doc)):
        if base is not None and _BASE_BEFORE.search(before[max(0, s - 1):s]):
            a, b = base.start[:4], base.end[:4]
            return int(b) if a == b and b.isdigit() else None
    return None


STATE_BASIS = "no time stated: a state at the document's date"


_RESULT_BEFORE = re.compile(r"了|已|全年|新增|建成|完成|成功")


def _counts_things(sentence: str, f: Figure) -> bool:
    """A count of things or people (五十多个民族, 十亿人口, １８个机构) can be a stock at a date;
    an amount of money, a rate or an output is a year's flow, which a report reviews."""
    a = max(sentence.rfind(c, 0, f.start) for c in "，；：。,;:") + 1
    if _RESULT_BEFORE.search(sentence[a:f.start]):
        return False  # 全年施工的…七万四千个 (1985), 试制成功了…945种 (1980): the year's work
    return f.kind == "count" or implied_unit(sentence, f) is not None


def _year_before(sentence: str) -> bool:
    """Whether the sentence measures against the year before (比上年, 同比): a result of the
    past year, which a report delivered in March reviews; without it, an undated count is a
    state at delivery (``我国是一个共有五十多个民族的统一国家``, 1978; ``我国有十亿人口``, 1985;
    ``国务院直属机构…精简后为１８个``, 1993; periods.json ``year_before_markers``)."""
    return any(w in sentence for w in time_words.data()["year_before_markers"]["words"])


_PLAN_WORDS = re.compile(r"预期目标|目标|计划|规划|原定|拟|力争|争取|预计|预算|将")


_PAST = re.compile(r"了|已")
_HELD = re.compile(r"控制在$")


@lru_cache(maxsize=1)
def _cited_plans() -> tuple[re.Pattern[str], ...]:
    st = _facts_data()["stance"]
    return tuple(re.compile("|".join(re.escape(w) for w in sorted(st[k], key=len, reverse=True)))
                 for k in ("cited_plan", "cited_plan_outcome"))


def _cited_plan(sentence: str, clause: str) -> bool:
    """The sentence cites an earlier report's plan (``去年我在政府工作报告中曾提出，要把…控制在
    百分之十以内``, 1995; ``去年政府工作报告提出，物价涨幅要从１４．８％降到１０％左右``, 1997):
    its figures stay that year's plan, but for a clause that states the outcome (``实际回落到
    ６．１％``, 1997; facts.json ``stance.cited_plan``)."""
    plan, outcome = _cited_plans()
    return bool(plan.search(sentence)) and not outcome.search(clause)


def _under_plan_heading(period: Period, context: Period | None, year: int) -> bool:
    """The period comes from a heading, or the passage stands under one that names the
    document's year alone (``二、关于1998年政府工作的建议``: a 今年 earlier in the paragraph
    does not make ``粮食总产量稳定在…`` a result, 1998)."""
    if period.basis.startswith("heading"):
        return True
    return context is not None and context.basis.startswith("heading") \
        and context.start[:4] == context.end[:4] == str(year)


def _settle_stance(stance: str, period: Period | None, doc: DocDate | None, clause: str,
                   f: Figure, sentence: str = "", context: Period | None = None) -> str:
    """When a figure is decides between result and plan, over the words around it:

    * nothing said: before the document's year a result (a report reviews the past), from
      its year on a plan (it sets the year's targets);
    * a figure for a span that ends after the document's year cannot be a result
      (``到一九八五年，粮食产量达到八千亿斤``, 1978; the 1953–1957 plan in the 1955 report),
      nor one of the document's own year whose clause, or whose sentence when the clause
      has no past marker (了, 已), names a plan or budget (``１９５６年国家预算规定，本年收入共为…``,
      ``１９５６年国营企业收入为…，占本年预算收入的…``, 1956; ``一九五九年的工农业总产值将比…
      增长百分之四十，达到二千八百七十亿元``, 1959); one for a year before it is a result unless its clause names a
      plan (``2012年…国内生产总值增长7.8%`` in the 2013 report);
    * a result for the document's year under a heading that names that year (the year's plan:
      ``二、2005年工作总体部署``, ``二、关于1998年政府工作的建议``) is a target unless its clause has
      a past marker (了, 已): ``粮食总产量稳定在4 9 2 5 0 万吨`` (1998), ``城镇登记失业率控制在
      4.6%`` (2005);
    * a planned ceiling (``≤``: 以内, 低于, 不超过) is a cap (``城镇登记失业率控制在4.6%以内``,
      2012-2014), and so is a planned ``控制在X`` without 左右 (``城镇登记失业率控制在4.6%``, 2005;
      ``居民消费价格总水平涨幅控制在3%``, 2006; the 2014 review's ``控制在2.6%`` is a result).
    """
    if period is not None and (period.basis == STATE_BASIS or period.basis.startswith(
            tuple(w + " →" for w in time_words.data()["present_words"]["words"]))):
        return "actual" if stance == "unknown" else stance  # a state at delivery, not a plan
    if period is not None and doc is not None and period.start[:4].isdigit() and \
            period.end[:4].isdigit():
        first, last = int(period.start[:4]), int(period.end[:4])
        if stance == "unknown":
            # a span that ends after the document's year is not over: 其中，城镇居民的消费水平平均
            # 每年递增百分之三点二 in the 1982 report on the 1981–1985 plan
            stance = "actual" if last < doc.year else "target" if first >= doc.year or last > doc.year \
                else stance
        elif stance == "actual" and (last > doc.year or (
                last == doc.year and (_PLAN_WORDS.search(clause) or (
                    _PLAN_WORDS.search(sentence) and not _PAST.search(clause))))):
            stance = "target"  # a span not over yet, or this year's budget or plan
        elif stance == "target" and last < doc.year and not _PLAN_WORDS.search(clause) \
                and not _cited_plan(sentence, clause):
            stance = "actual"
        elif stance == "actual" and first == last == doc.year and _under_plan_heading(
                period, context, doc.year) and not _PAST.search(clause):
            stance = "target"  # under 二、2005年工作总体部署: the year's plan
    if stance == "target" and period is not None and doc is not None and len(period.end) > 4 \
            and period.start[:4] == period.end[:4] == str(doc.year) and not _PLAN_WORDS.search(clause):
        stance = "actual"  # a part of the year reported: 第一季度…比去年同期增长 (1956), 今年上半年 (1980)
    if stance == "target" and (f.qualifier == "≤" or (
            f.qualifier == "=" and _HELD.search(sentence[max(0, f.start - 4):f.start]))):
        stance = "cap"
    return stance


@lru_cache(maxsize=1)
def _facts_data() -> dict[str, dict[str, list[str]]]:
    from importlib import resources

    raw = resources.files("rag").joinpath("data/facts.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, list[str]]] = json.loads(raw)
    return data


def _national() -> frozenset[str]:
    """Words for the nation as a whole (facts.json ``subject.national``)."""
    return frozenset(_facts_data()["subject"]["national"])


def _standalone(subject: str | None, sentence: str) -> str | None:
    """A subject that the sentence names as a word of its own: the nation (全国) is no
    subject, and a place name that only stands inside another word (增城 in 新增城镇就业,
    2008 and 2013 reports) is none either."""
    if subject is None or subject in _national():
        return None
    from rag.places import gazetteer
    from rag.text import tokenize

    if subject in gazetteer() and subject not in tokenize(sentence):
        return None
    return subject


def _clause_start(sentence: str, f: Figure) -> int:
    return max(sentence.rfind(c, 0, f.start) for c in "，；：,;:") + 1


def _clause(sentence: str, f: Figure) -> str:
    """The clause of a sentence that holds a figure (between ，；：)."""
    a = _clause_start(sentence, f)
    ends = [i for i in (sentence.find(c, f.end) for c in "，；：,;:") if i >= 0]
    return sentence[a:min(ends) if ends else len(sentence)]


@lru_cache(maxsize=1)
def _implied() -> tuple[int, tuple[tuple[str, str, re.Pattern[str], re.Pattern[str] | None], ...]]:
    d = vocab.data("implied_units")
    after = int(d.get("max_gap_after", 0))
    rules = tuple((str(u["unit"]), str(u["kind"]),
                   re.compile(f"(?:{time_words.alt(u['nouns'])})" if u["nouns"] else "(?!)"),
                   re.compile(rf"[\u4e00-\u9fff]{{0,{after}}}?(?:{time_words.alt(u['nouns_after'])})")
                   if u.get("nouns_after") else None)
                  for u in d["units"])
    return int(d["max_gap"]), rules


def implied_unit(sentence: str, f: Figure) -> tuple[str, str] | None:
    """(unit, kind) of a bare amount whose noun implies the unit: ``人口控制在１２亿左右``
    (1988) counts people (``rag/data/implied_units.json``)."""
    if f.unit or f.kind != "number" or not re.search(r"[万萬亿億]", f.text):
        return None
    gap, rules = _implied()
    a = max(sentence.rfind(c, 0, f.start) for c in "，；：。,;:") + 1
    before = sentence[a:f.start]
    for unit, kind, nouns, after in rules:
        for m in nouns.finditer(before):
            if len(before) - m.end() <= gap:
                return unit, kind
        if after is not None and after.match(sentence, f.end):
            return unit, kind
    return None


def _verbatim(phrase: str | None, folded: str, original: str) -> str | None:
    """``phrase`` (found in the folded sentence) as the original writes it: 手工業总产值, not
    手工业总产值 (1957), character by character (the fold keeps one for one)."""
    if not phrase:
        return phrase
    if folded == original:
        return phrase
    back = {f: o for f, o in zip(folded, original, strict=True) if f != o}
    return "".join(back.get(ch, ch) for ch in phrase)


def _subject(sentence: str, f: Figure, metric: str | None) -> str | None:
    """The figure's own subject, else the actor that opens its metric (2003, 2006), else the
    actor that opens the sentence in a first clause without figures of its own, for a figure
    in a later clause: ``国有及国有控股工业企业经济效益大幅度提高，实现利润3784亿元`` (2004),
    ``农民的纯收入，全国平均每人达到三百五十五元`` (1985)."""
    named = facts.name_subject(sentence, f.subject) if f.subject else None
    subject = named or _standalone(facts.subject(sentence, f.start, f.end), sentence)
    if subject is None:
        subject = _standalone(facts.metric_actor(metric), sentence)
    if subject is None:
        cut = min((i for i in (sentence.find(c) for c in "，,；;：:") if i >= 0), default=-1)
        if 0 < cut < f.start and not extract_figures(sentence[:cut]):
            opening = sentence[:cut]
            lead = periods.find_time_expressions(opening)
            if lead and lead[0][0] == 0:
                opening = opening[lead[0][1]:]  # 一九八二年亏损工业企业…
            subject = _standalone(facts.metric_actor(opening), sentence)
    return subject


def _lead(text: str, a: int) -> str:
    """The ；-clauses of the full sentence (up to 。！？ or a line break) before offset ``a``."""
    s0 = max(text.rfind(c, 0, a) for c in "。！？!?\n") + 1
    return text[s0:a]


def annotate(p: Passage) -> tuple[FigureFact, ...]:
    """The figures of one passage with metric, subject, period and stance."""
    doc = doc_date(p.date)
    context = heading_context(p.headings, doc)
    years = review_and_plan(p.headings, doc)
    original = p.text
    text = fold(original)  # 較 as 较 (1957): analysed folded, copied out verbatim
    out: list[FigureFact] = []
    for a, b in sentence_spans(text):
        sentence = text[a:b]
        figs = extract_figures(original[a:b])
        metrics = [facts.metric(sentence, f.start, f.end) for f in figs]
        subjects = [_subject(sentence, f, m) for f, m in zip(figs, metrics, strict=True)]
        respective.pair(sentence, figs, metrics, subjects, lambda n: _standalone(facts.metric_actor(n), n))
        for i, f in enumerate(figs):
            if f.kind == "date":
                period = periods.resolve(sentence, f.start, f.end, doc=doc, context=None)
            else:
                # the passage, not the sentence alone: a year that opens an earlier sentence of
                # the paragraph governs (``1956年，全国农業总产值…；粮食…的产量为…``, 1957)
                period = periods.resolve(text, a + f.start, a + f.end, doc=doc, context=context)
                period = _from_to(sentence, figs, i, period)
                period = _base_level(_lead(text, a), sentence, figs, i, period, doc)
            stance = "unknown" if f.kind == "date" else facts.stance(sentence, f.start, f.end)
            if f.kind != "date":
                period = _review_or_plan(period, context, years, stance, sentence, f)
                period = _refine(sentence, f, period, doc, stance, context)
                stance = _settle_stance(stance, period, doc, _clause(sentence, f), f, sentence,
                                        context)
            values = {**figure_values(f), "subject": _verbatim(subjects[i], sentence, original[a:b])}
            implied = implied_unit(sentence, f)
            if implied is not None:
                values["unit"], values["kind"] = implied
            out.append(FigureFact(
                **values,
                start=a + f.start,
                end=a + f.end,
                metric=_verbatim(metrics[i], sentence, original[a:b]),
                stance=stance,
                period_start=period.start if period else None,
                period_end=period.end if period else None,
                period_stated=period.stated if period else None,
                period_basis=period.basis if period else None,
                sentence_start=a,
                sentence_end=b,
            ))
    return tuple(out)


def table(passages: Sequence[Passage], figures: Sequence[Sequence[FigureFact]]) -> list[FigureRow]:
    """Rows of the figure table, each figure once even where chunks overlap (the same
    figure in the same sentence of the same document and heading)."""
    rows: list[FigureRow] = []
    seen: set[tuple[str, tuple[str, ...], str, str]] = set()
    for p, figs in zip(passages, figures, strict=True):
        for f in figs:
            key = figure_key(p, f)
            if key in seen:
                continue
            seen.add(key)
            rows.append(FigureRow(fact=f, doc_id=p.doc_id, passage_id=p.passage_id,
                                  source=p.source, title=p.title, doc_date=p.date,
                                  headings=p.headings))
    return rows


@dataclass(frozen=True)
class FigureQuery:
    """Filters of ``rag figures`` / ``GET /figures``; every one optional, all must hold.

    ``metric``/``subject`` match by substring; ``years`` keeps figures whose period overlaps
    the range (first, last); ``doc`` matches a document id, source name or title."""

    metric: str | None = None
    subject: str | None = None
    years: tuple[int, int] | None = None
    stance: str | None = None
    kind: str | None = None
    doc: str | None = None
    sort: str = "document"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.stance is not None and self.stance not in STANCES:
            raise ValueError(f"stance must be one of {', '.join(STANCES)}, got {self.stance!r}")
        if self.sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {', '.join(SORT_KEYS)}, got {self.sort!r}")
        if self.years is not None and self.years[0] > self.years[1]:
            raise ValueError(f"year range {self.years[0]}-{self.years[1]} is empty")

    def names(self, doc_id: str, source: str, title: str) -> bool:
        """Whether ``doc`` names this document (id, source name or its prefix, title)."""
        return self.doc in (doc_id, source, title) or source.startswith(self.doc or "\0")

    def accepts(self, r: FigureRow) -> bool:
        f = r.fact
        if self.metric and self.metric not in (f.metric or ""):
            return False
        if self.subject and not (self.subject in (f.subject or "")
                                 or any(self.subject in h for h in r.headings)
                                 or self.subject in r.title):
            return False
        if self.stance and f.stance != self.stance:
            return False
        if self.kind and f.kind != self.kind:
            return False
        if self.doc and not self.names(r.doc_id, r.source, r.title):
            return False
        if self.years is not None:
            span = period_years(f)
            if span is None or span[1] < self.years[0] or span[0] > self.years[1]:
                return False
        return True


def period_years(f: FigureFact) -> tuple[int, int] | None:
    if not f.period_start or not f.period_end:
        return None
    try:
        return int(f.period_start[:4]), int(f.period_end[:4])
    except ValueError:
        return None


def query(rows: Iterable[FigureRow], q: FigureQuery) -> list[FigureRow]:
    """Rows that pass the filters, in the asked order (stable: document order breaks ties)."""
    out = [r for r in rows if q.accepts(r)]
    if q.sort == "value":
        # Values compare only within one unit (元 with 元, never with 美元, 斤 or ％): each
        # unit is a block, in the order the units first appear, sorted inside; rows with no
        # value come last.
        blocks: dict[str, int] = {}
        for r in out:
            blocks.setdefault(r.fact.unit or "", len(blocks))
        sign = -1.0 if q.descending else 1.0

        def value(r: FigureRow) -> tuple[int, int, float]:
            f = r.fact
            v = f.value if f.value is not None else f.high if f.high is not None else f.low
            return (blocks[f.unit or ""], v is None, 0.0 if v is None else sign * v)
        out.sort(key=value)
    elif q.sort == "period":
        out.sort(key=lambda r: (r.fact.period_start or "", r.fact.period_end or ""),
                 reverse=q.descending)
    elif q.descending:
        out.reverse()
    return out
