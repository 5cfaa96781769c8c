"""What a figure measures, whether it is a plan or a result, and whom it is about.

Three functions over one sentence and the span ``[start, end)`` of a figure in it (the span of a
:class:`rag.figures.Figure` found in that sentence). No model: the words that decide are data
(``rag/data/facts.json``, loaded once), the window rules are here. Nothing raises; a span outside
the sentence gives ``"unknown"`` / ``None``.

Windows. The *sentence* is the part of ``sentence`` between 。！？ or newlines around the figure;
a *clause* is the part between ，；：; a *segment* (for metrics) also ends at 、 (lists of items).
The figure's own clause decides first, then the earlier clauses of its sentence.

:func:`stance` — one of :data:`STANCES`, decided in this order:

1. ``base``: the figure is the starting value of a change: followed by 上升到/增加到/下降为…
   (1955 ``由一九五二年的百分之二十六点七上升到…``), or right after 比/较/相比 with no change
   verb between (``比上年的…``). ``比上年增长7.7%`` is not base: 7.7% is the growth (actual).
   So is the level of one year that the next clause raises for a later year:
   ``１９８２年为２７０元，１９８７年提高到４６３元`` (1988), ``１９７９年有一千六百二十二个，
   １９８０年增加到…`` (1981), ``…年为百分之四十一点五，一九五七年上升为…`` (1959).
2. ``cap``: a ceiling word in or just before the figure (最高, 不超过, 上限, 封顶; suffix 以内):
   a cap when the clause or sentence speaks of eligibility or support (每家, 补助, 给予, 标准…:
   ``每家企业最高补助20万元``); a target when it follows 控制在/保持在 or the sentence is about
   this year's plan (``城镇登记失业率控制在4.6%以内``); else a cap.
3. ``target`` when the figure is named as a goal or task right after it (``8％的预定目标``,
   ``裁减军队员额20万的任务``; facts.json ``goal_after``).
4. ``threshold``: a floor (不低于, 不少于, 至少; suffix 以上) that is a condition: the figure
   qualifies a noun (``年营业收入2000万元以上的企业``) or the clause has a condition word (凡,
   符合, 申请, 认定…). ``城镇新增就业1000万人以上`` (a plan) is not a threshold.
5. 控制在/保持在/稳定在 (a ceiling the government holds): target when the figure is approximate
   or bounded (左右, 以内, 以下) or the sentence has target context (今年, 目标, 预计…); otherwise
   the result of holding it (2014 review ``居民消费价格涨幅控制在2.6%`` -> actual).
6. Markers in the clause before the figure: a target word (预期目标, 目标, 计划, 拟, 力争, 争取,
   将, 要, 预计, 安排, 确保…) makes a target unless a past marker (…了, 已, 已经) follows it; else an
   actual word (实现, 达到, 完成, 比上年, 同比, 累计, 突破, and weak 为/是/达/共); 超过/突破 at the
   start of the figure itself count as actual words. ``目标规模为100亿元``: 目标 wins over 为.
   Level words (下降到, 增加到…) are a result unless the sentence has a target word
   (``今年拟安排财政赤字8000亿元，赤字率下降到1.5％左右``, 2012; ``计划，积累率可能进一步降到30％
   左右``, 1980).
   Compounds that only contain a marker are not markers (主要, 重要, 将近, 为了, 作为…).
   A verb that sets a target (提出, 规定, 确定) makes a target even with 了 (``提出了钢产量
   一千八百万吨``, 1959; ``提出了再超额生产煤炭十五万吨``, 1958).
7. A figure ending in 左右 in a sentence with target context (``今年…国内生产总值增长7.5%左右``).
8. The nearest marker in the earlier clauses of the sentence (``主要预期目标是：…，城镇新增就业
   1000万人以上``), then target context words anywhere in the sentence (今年, 明年, 目标…), then
   actual context (去年, 上年, 过去, 已经…); else ``unknown``.

:func:`metric` — a phrase copied from the text: the segment before the figure with trailing verbs
and markers removed (达到, 为, 超过, 控制在, 拟按, 累计…), cut after the last boundary word
(我们, 其中, 把, 在, 的, 今年, 全年…; a leading year such as ``2013年`` is dropped) and kept to 16
characters. A change figure keeps its verb: ``国内生产总值增长`` for ``国内生产总值增长7.5%``; 实际
stays (``城镇居民人均可支配收入实际增长``), comparison words go (比上年, 同比). A segment with no noun
borrows the noun of the previous figure of the sentence: ``国内生产总值达到56.9万亿元，比上年增长
7.7%`` -> ``国内生产总值增长``. Where the phrase gives no noun (only modifiers, 全国平均每人, or
a time), the noun after the figure names it (``安排了四千二百多万城镇劳动力就业``, ``发行１５００亿元
长期建设国债``), else the previous figure's, else the topic clause before it (``农民人均纯收入，
１９８２年为２７０元``). ``从/由`` (``原定``, ``预计``) before a figure start a change and are no part of
the metric; ``X占Y比重`` is one noun. ``None`` when no noun is found.

:func:`subject` — who or what the figure is about, in this order: the fund/programme subject of
:mod:`rag.figures` (``北京机器人产业发展投资基金``); a name ending in a data suffix (基金, 公司,
集团, 中心, 规划, 办法, 条例, 工程, 计划, 方案, 项目, 平台…) earlier in the clause; an actor from the
data list (中央财政, 中西部地区, 农村居民, 国有企业…) in the clause, then a place (``rag.places``)
in the clause; then the same two in the earlier part of the sentence, but only when the clause
names no quantity of its own (``…，比上年增长7.7%``). Actors and places in the
figure's own metric count (``农村居民人均纯收入`` is about 农村居民). ``None`` otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from rag import places, vocab
from rag.figures import extract_figures
from rag.periods import find_time_expressions

__all__ = ["STANCES", "metric", "name_subject", "stance", "subject"]

STANCES = ("target", "actual", "cap", "threshold", "base", "unknown")

_SENTENCE_END = "。！？!?\n"
_CLAUSE_END = _SENTENCE_END + "，；：,;:"
_SEGMENT_END = _CLAUSE_END + "、（(）)"
_YEAR_RE = re.compile(
    r"^(?:[0-9０-９]{4}|[一二][〇○零一二三四五六七八九]{3})年(?:底|末|初|上半年|下半年)?"
    r"|^(?:[一二三四五六七八九十两]{1,3}|[0-9０-９]{1,2})年(?:来|间|中|内)?"
)
# A time or comparison phrase that ends a segment: 从1997年的, 降到去年的, 五年
_TIME_TAIL_RE = re.compile(
    r"(?:从|由|比)?(?:(?:[0-9０-９]{4}|[一二][〇○零一二三四五六七八九]{3})年?[到至—－-])?"  # １９７９到１９８３年
    r"(?:(?:[0-9０-９]{4}|[一二][〇○零一二三四五六七八九]{3})年|去年|上年|今年|前年"
    r"|(?:[一二三四五六七八九十两]{1,3}|[0-9０-９]{1,2})年)的?$"
)


def _alt(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@dataclass(frozen=True)
class _Vocab:
    data: dict[str, Any]
    markers: re.Pattern[str]  # protected compounds first, then every stance word
    target: frozenset[str]
    setting: frozenset[str]
    actual: frozenset[str]
    weak: frozenset[str]
    level: frozenset[str]
    target_context: re.Pattern[str]
    actual_context: re.Pattern[str]
    cap: re.Pattern[str]
    eligibility: re.Pattern[str]
    ceiling: re.Pattern[str]
    floor: re.Pattern[str]
    condition: re.Pattern[str]
    base_after: re.Pattern[str]
    base_before: re.Pattern[str]
    skip_tail: re.Pattern[str]
    change_tail: re.Pattern[str]
    change_any: re.Pattern[str]
    modifier_tail: re.Pattern[str]
    origin_tail: re.Pattern[str]
    share: re.Pattern[str]
    not_noun: re.Pattern[str]
    object_head: re.Pattern[str]
    object_verb: re.Pattern[str]
    boundary: re.Pattern[str]
    suffix: re.Pattern[str]
    stem_stop: re.Pattern[str]
    actors: re.Pattern[str]
    hides_place: re.Pattern[str]
    set_deadline: re.Pattern[str]


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    raw = resources.files("rag").joinpath("data/facts.json").read_text(encoding="utf-8")
    d: dict[str, Any] = json.loads(raw)
    st, me, su = d["stance"], d["metric"], d["subject"]
    protected = d["not_markers"]
    words = st["target"] + st["actual"]
    return _Vocab(
        data=d,
        markers=re.compile(f"(?P<p>{_alt(protected)})|(?P<w>{_alt(words)})"),
        target=frozenset(st["target"]),
        setting=frozenset(st["target_setting"]),
        actual=frozenset(st["actual"]),
        weak=frozenset(st["actual_weak"]),
        level=frozenset(st["actual_level"]),
        target_context=re.compile(_alt(st["target_context"])),
        actual_context=re.compile(f"(?:{_alt(protected)})|(?P<w>{_alt(st['actual_context'])})"),
        cap=re.compile(_alt(st["cap"])),
        eligibility=re.compile(_alt(st["cap_eligibility"])),
        ceiling=re.compile(_alt(st["target_ceiling"])),
        floor=re.compile(_alt(st["threshold"])),
        condition=re.compile(_alt(st["threshold_context"])),
        base_after=re.compile(_alt(st["base_after"])),
        base_before=re.compile(f"(?:{_alt(st['base_before'])})(?![重例率值较])[^，；：。]{{0,12}}$"),
        skip_tail=re.compile(f"(?:{_alt(me['skip_verbs'])})$"),
        change_tail=re.compile(f"(?:实际)?(?:{_alt(me['change_verbs'])})(?:了)?$"),
        change_any=re.compile(f"增|降|{_alt(me['change_verbs'])}"),
        modifier_tail=re.compile(f"(?:{_alt(me['change_modifiers'])})$"),
        origin_tail=re.compile(
            f"(?:{_alt(me['origin']['words'])})(?:今年|去年|上年|(?:[0-9０-９]{{4}}|[一二][〇○零一二三四五六七八九]{{3}})年)?"
            f"(?:{_alt(me['origin']['plan_words'])})?的?(?:{_alt(me['change_modifiers'])})?$"),
        share=re.compile(f"占[^占，；：。]{{1,14}}?的?(?:{_alt(me['share_heads'])})$"),
        not_noun=re.compile(_alt(me["not_nouns"])),
        object_head=re.compile(f"[\u4e00-\u9fff]{{0,8}}?(?:{_alt(me['object_heads'])})"),
        object_verb=re.compile(f"(?:{_alt(me['object_verbs'])})了?$"),
        boundary=re.compile(f"(?P<k>{_alt(me['keep_whole'])})|(?P<b>{_alt(me['boundaries'])})"),
        suffix=re.compile(_alt(su["suffixes"])),
        stem_stop=re.compile(_alt(su["stem_stops"])),
        set_deadline=re.compile(
            f"(?:{_alt(st['set_deadline'])})[，,：:\\s]*(?:到|至)(?:[0-9０-９]{{4}}|[一二][〇○零一二三四五六七八九]{{3}})年"),
        actors=re.compile(_alt(su["actors"])),
        hides_place=re.compile(_alt(su["words_hiding_places"])),
    )


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class _Win:
    s: str
    start: int
    end: int
    sent_a: int  # sentence start
    sent_b: int  # sentence end
    cl_a: int  # clause start
    cl_b: int  # clause end


def _window(sentence: object, start: object, end: object) -> _Win | None:
    if not isinstance(sentence, str) or not isinstance(start, int) or not isinstance(end, int):
        return None
    if not 0 <= start < end <= len(sentence):
        return None
    s = sentence
    sent_a = max((s.rfind(c, 0, start) for c in _SENTENCE_END), default=-1) + 1
    while sent_a > 0 and s[sent_a - 1] == "\n" and s[:sent_a].rstrip().endswith(("：", ":")):
        # 主要预期目标是：⏎国内生产总值增长7.5％ — a list after a colon continues the sentence
        head = s[:sent_a].rstrip()
        sent_a = max((head.rfind(c) for c in _SENTENCE_END), default=-1) + 1
    sent_b = min((i for i in (s.find(c, end) for c in _SENTENCE_END) if i >= 0), default=len(s))
    cl_a = max([sent_a] + [s.rfind(c, sent_a, start) + 1 for c in _CLAUSE_END])
    cl_b = min([sent_b] + [i for i in (s.find(c, end, sent_b) for c in _CLAUSE_END) if i >= 0])
    return _Win(s, start, end, sent_a, sent_b, cl_a, cl_b)


def _markers(text: str) -> list[tuple[int, str]]:
    """(position, word) of the stance words in ``text``, protected compounds skipped."""
    return [(m.start(), m.group("w")) for m in _vocab().markers.finditer(text) if m.group("w")]


# --------------------------------------------------------------------------- stance


def stance(sentence: str, start: int, end: int) -> str:
    """Whether the figure at ``sentence[start:end]`` is a target, an actual result, a cap, a
    threshold, a comparison base or unknown (rules in the module docstring)."""
    w = _window(sentence, start, end)
    if w is None:
        return "unknown"
    v = _vocab()
    s = w.s
    fig = s[start:end]
    pre = s[w.cl_a : start]
    post = s[end : w.cl_b]
    before = s[w.sent_a : start]
    whole = s[w.sent_a : w.sent_b]
    # 1. base
    if v.base_after.match(post):
        return "base"
    if not post.strip() and s[w.cl_b : w.cl_b + 1] in "，,":
        nxt = s[w.cl_b + 1 : w.sent_b]
        year = _YEAR_RE.match(nxt)
        if year and _YEAR_RE.match(s[w.cl_a : start]) and v.base_after.match(nxt[year.end() :]):
            return "base"
    m = v.base_before.search(pre)
    if m and not v.change_tail.search(pre) and not v.change_any.search(pre[m.start() :]):
        return "base"
    # 2. cap
    cap_word = v.cap.match(fig) or v.cap.search(pre[-4:]) or fig.endswith(("以内", "之内", "封顶"))
    if cap_word:
        if v.ceiling.search(pre):
            return "target"
        if v.eligibility.search(before):
            return "cap"
        if v.target_context.search(whole):
            return "target"
        return "cap"
    # 3. a goal or task named after the figure (8％的预定目标, 五十万的任务), or reached by a
    # deadline a goal-setting verb gives (提出,到2025年,…规模达1000亿元)
    if v.set_deadline.search(before) and not re.search(r"了|已", pre):
        return "target"
    if post.startswith(tuple(v.data["stance"]["goal_after"])):
        return "target"
    # 4. threshold
    floor_word = v.floor.match(fig) and not fig.startswith("达到")
    goal = ("%" in fig or "％" in fig) and any(w in pre for w in v.data["stance"]["share_goal"])
    group = post.startswith("的") and post[1:].startswith(tuple(v.data["stance"]["share_of_group"]))
    condition = (post.startswith("的") and not goal and not group) or v.condition.search(pre)  # 要使80％以上的 (1999)
    if (floor_word or fig.endswith("以上")) and condition:
        return "threshold"
    # 5. ceilings held
    if v.ceiling.search(pre):
        if fig.endswith(("左右", "以内", "以下")) or v.target_context.search(whole):
            return "target"
        return "actual"
    # 6. markers of the clause (and 超过/突破 opening the figure)
    found = _markers(pre)
    if fig.startswith(("超过", "突破", "超")):
        found.append((len(pre), "突破"))
    decided = _decide(found, pre, whole)
    if decided:
        return decided
    # 7. 左右 with target context
    if fig.endswith("左右") and v.target_context.search(whole):
        return "target"
    # 8. earlier clauses, then context words
    decided = _decide(_markers(s[w.sent_a : w.cl_a]), s[w.sent_a : w.cl_a], whole)
    if decided:
        return decided
    if v.target_context.search(whole):
        return "target"
    if any(m.group("w") for m in v.actual_context.finditer(before)):
        return "actual"
    return "unknown"


def _decide(found: list[tuple[int, str]], text: str, whole: str) -> str | None:
    """Target if a target word is found (and no past marker follows it), actual if a strong
    result word is; weak result words (为, 是, 比上年, 同比…) give way to target context."""
    v = _vocab()
    targets = [(p, word) for p, word in found if word in v.target]
    if targets:
        p, word = targets[-1]
        if word in v.setting:
            return "target"  # 提出了钢产量一千八百万吨 (1959): a target set, not a result
        return "actual" if re.search(r"了|已", text[p:]) else "target"
    strong = [word for _, word in found if word in v.actual and word not in v.weak]
    if strong and all(word in v.level for word in strong):
        planned = any(word in v.target for _, word in _markers(whole))
        return "target" if planned else "actual"
    if strong:
        return "actual"
    if found:
        return "target" if v.target_context.search(whole) else "actual"
    return None


# --------------------------------------------------------------------------- metric


def _segment_start(s: str, lo: int, pos: int) -> int:
    return max([lo] + [s.rfind(c, lo, pos) + 1 for c in _SEGMENT_END])


def _strip_tail(seg: str) -> str:
    v = _vocab()
    while True:
        seg = seg.rstrip(" \u3000")
        m = v.skip_tail.search(seg) or _TIME_TAIL_RE.search(seg) or v.origin_tail.search(seg)
        if not m or m.start() == m.end():
            cut = _period_tail(seg.removesuffix("的"))
            if cut is None:
                return seg.removesuffix("的")
            seg = seg[:cut]
            continue
        seg = seg[: m.start()]


def _period_tail(seg: str) -> int | None:
    """Where a time expression that ends ``seg`` starts (with a 比/从/由/在 before it):
    ``比第五个五年计划期间`` (1982), ``在“十一五”期间``."""
    for a, e, _p in find_time_expressions(seg):
        if e == len(seg):
            return a - 1 if a > 0 and seg[a - 1] in "比从由在" else a
    return None


def _noun(seg: str, *, plain: bool = False) -> str:
    """The noun phrase that ends ``seg``: after the last boundary word (a boundary word that
    ends ``seg``, 国民收入也, is dropped first), without a leading year; a share ``X占Y比重`` is
    one noun; a phrase made only of modifiers (全国平均每人, 一律) is none."""
    v = _vocab()
    me = v.data["metric"]
    while not plain:
        tail = [m for m in v.boundary.finditer(seg) if m.group("b") and m.end() == len(seg)]
        if not tail or tail[-1].start() == 0:
            break
        seg = seg[: tail[-1].start()]
    share = None if plain else v.share.search(seg)
    if share and share.start() > 0:
        head = _noun(seg[: share.start()])
        if head:
            return (head + share.group())[-int(me["max_share_chars"]):]
    cuts = [0] + [m.end() for m in v.boundary.finditer(seg) if m.group("b")]
    cut = cuts[-1]
    if len(cuts) > 1 and seg[cut - 1] == "的" and seg[cut:] in me["owned_heads"]:
        cut = cuts[-2]  # 生产资料工业的产值 (1957), not 产值
    noun = seg[cut:].strip(' \u3000“”"')
    lead = find_time_expressions(noun)
    if lead and lead[0][0] == 0 and "月" in noun[: lead[0][1]]:
        # a month opens no quantity: 外贸出口从7月份开始大幅度回升 (2000), 今年２月修订计划时减少为 (1981)
        bounds = [m for m in v.boundary.finditer(seg) if m.group("b") and m.end() == cut]
        noun = seg[cuts[-2] : bounds[0].start()] if len(cuts) > 1 and bounds else ""
        noun = noun if len(noun) >= 2 else ""
    while True:
        y = _YEAR_RE.match(noun)
        if not y:
            break
        noun = noun[y.end() :]
    if not plain and not v.not_noun.sub("", noun):
        return ""
    limit = int(me["max_chars"])
    return noun[-limit:]


def _metric(w: _Win, depth: int = 0) -> tuple[str, str] | None:
    """(noun, metric) of the figure in window ``w``."""
    v = _vocab()
    s = w.s
    seg = _strip_tail(s[_segment_start(s, _after_previous(w), w.start) : w.start])
    verb = ""
    change = v.change_tail.search(seg)
    if change:
        verb = seg[change.start() :].removesuffix("了")
        seg = seg[: change.start()]
        while True:
            mod = v.modifier_tail.search(seg)
            if not mod or mod.start() == mod.end():
                break
            seg = seg[: mod.start()]
        # the base: 比一九五二年, 較1955年 (1957, read folded as 较), not 比重, 较大
        seg = re.sub(r"(?:比|较)(?![重例率好大多少为])[^，；：。比较]{1,12}$", "", seg)
        seg = _strip_tail(seg)
    noun = _object(w, seg) or _noun(seg)
    if not noun and depth < 3:
        prev = _previous_figure(w)
        if prev is not None:
            got = _metric(prev, depth + 1)
            noun = got[0] if got else ""
    if not noun:
        noun = _topic(w)
    if not noun:
        return None
    return noun, noun + verb


def _object(w: _Win, seg: str) -> str:
    """The quantity named after the figure: ``安排了四千二百多万城镇劳动力就业`` (1985),
    ``拟发行１５００亿元长期建设国债`` (2002)."""
    v = _vocab()
    me = v.data["metric"]
    after = w.s[w.end : _segment_end(w.s, w.end, w.cl_b)]
    head = v.object_head.match(after)
    if head:
        return head.group()
    fig = w.s[w.start:w.end]
    group = _group_after().match(after)
    if group and (re.search(r"[%％万萬亿億]", fig) or fig.endswith(("人", "户", "戶"))):
        return group.group(1)  # 十亿人口 (1985), ７５％以上的农户 (1957): the group counted
    if fig.endswith(tuple(me["counted_classifiers"])):
        counted = re.match(r"[\u4e00-\u9fff]{2,}?(?=的|$)", after)
        if counted and not v.not_noun.fullmatch(counted.group()):
            return counted.group()[: int(me["max_chars"])]
    raw = w.s[_segment_start(w.s, w.cl_a, w.start) : w.start].rstrip()
    after = after.removeprefix("的")
    if (v.object_verb.search(seg) or v.object_verb.search(raw)) and re.fullmatch(
            r"[\u4e00-\u9fff]{2,12}", after or ""):
        return after[: int(me["max_chars"])]
    return ""


@lru_cache(maxsize=1)
def _group_after() -> re.Pattern[str]:
    """A group of people right after an amount or a share (``６００多万香港人``, 1997; ``十亿
    人民``, 1987; ``３２００万农村人口``, 2008; ``７５％以上的农户``, 1957): the people counted
    (implied_units.json's nouns after an amount, facts.json's ``share_of_group``)."""
    nouns = {n for u in vocab.data("implied_units")["units"] for n in u.get("nouns_after", [])}
    nouns |= set(_vocab().data["stance"]["share_of_group"])
    alt = "|".join(re.escape(n) for n in sorted(nouns, key=len, reverse=True))
    return re.compile(rf"的?([\u4e00-\u9fff]{{0,4}}?(?:{alt}))")


def _segment_end(s: str, pos: int, hi: int) -> int:
    return min([hi] + [i for i in (s.find(c, pos, hi) for c in _SEGMENT_END) if i >= 0])


def _topic(w: _Win) -> str:
    """The noun of the clause before the figure's, when that clause holds no figure: the topic
    of ``农民人均纯收入，１９８２年为２７０元`` (1988), ``粮食：达到三千八百五十六亿斤`` (1955),
    ``一九六四年全国工业总产值，预计比一九六三年增长…`` (1964)."""
    s = w.s
    if w.cl_a <= w.sent_a:
        return ""
    a = max([w.sent_a] + [s.rfind(c, w.sent_a, w.cl_a - 1) + 1 for c in _CLAUSE_END])
    clause = s[a : w.cl_a - 1]
    if any(kind != "date" for _a, _b, kind in _spans(_Win(s, a, w.cl_a - 1, w.sent_a, w.sent_b,
                                                           a, w.cl_a - 1))
           if a <= _a < w.cl_a):
        return ""
    for open_, close in _vocab().data["metric"]["frames"]:
        if clause.endswith(close) and open_ in clause:
            clause = clause[: clause.rfind(open_, 0, len(clause) - len(close))]  # 粮食总产量在…的基础上
    return _noun(_strip_tail(clause))


def _spans(w: _Win) -> list[tuple[int, int, str]]:
    """(start, end, kind) of the figures of the window's sentence, in ``w.s`` offsets."""
    sent = w.s[w.sent_a : w.sent_b]
    return [(f.start + w.sent_a, f.end + w.sent_a, f.kind) for f in extract_figures(sent)]


def _after_previous(w: _Win) -> int:
    """Where the figure's segment may start: after the previous non-date figure (so that
    ``7.4万亿元增加到…10.2万亿元`` does not make 7.4万亿元 part of a metric)."""
    lo = w.sent_a
    for a, b, kind in _spans(w):
        if a >= w.start:
            break
        if kind != "date":
            lo = max(lo, b)
    return lo


def _previous_figure(w: _Win) -> _Win | None:
    s = w.s
    sent = s[w.sent_a : w.sent_b]
    prev = None
    for f in extract_figures(sent):
        a = f.start + w.sent_a
        if a >= w.start:
            break
        if f.kind != "date":
            prev = f
    if prev is None:
        return None
    return _window(s, prev.start + w.sent_a, prev.end + w.sent_a)


def metric(sentence: str, start: int, end: int) -> str | None:
    """The quantity that the figure at ``sentence[start:end]`` measures, copied from the text
    (``国内生产总值``, ``国内生产总值增长``, ``赤字率``), or None."""
    w = _window(sentence, start, end)
    if w is None:
        return None
    got = _metric(w)
    return got[1] if got else None


# --------------------------------------------------------------------------- subject


def _named(text: str) -> str | None:
    """The last name ending in a subject suffix in ``text`` (a stem of 2-14 characters)."""
    v = _vocab()
    su = v.data["subject"]
    best = None
    plan_verbs = tuple(su["verb_after_plan"])
    for m in v.suffix.finditer(text):
        if m.group() in ("计划", "规划") and text.startswith(plan_verbs, m.end()):
            continue  # 投资总额计划为三千六百亿元: 计划 is the verb, not a programme's name
        lo = max(0, m.start() - int(su["max_stem"]))
        stem = text[lo : m.start()]
        cut = 0
        for stop in v.stem_stop.finditer(stem):
            cut = stop.end()
        stem = stem[cut:]
        stem = re.sub(r"^[^\u4e00-\u9fffA-Za-z0-9]+", "", stem)
        name = stem + m.group()
        if len(stem) >= int(su["min_stem"]) and not _YEAR_RE.match(stem) and not _is_period(name):
            best = name
    return best


def _is_period(name: str) -> bool:
    """A name that ends in a time expression is a period, not a programme: 第一个五年计划
    (1959 由于第一个五年计划的完成…; 第一个五年计划期间，…投资总额共为…), “十一五”规划."""
    return any(e == len(name) for _s, e, _p in find_time_expressions(name))


def name_subject(sentence: str, name: str) -> str | None:
    """A programme name that :mod:`rag.figures` attached to a figure of ``sentence``, or None
    when it is no programme: its 计划/规划 is a verb (``投资总额计划为…``, ``国民生产总值计划增长``),
    it is a period (``第一个五年计划``) or the plan a result is measured against (``原定计划``)."""
    return _fund_subject(sentence, name)


def _fund_subject(sent: str, name: str) -> str | None:
    """rag.figures' subject, unless its 计划/规划 is a verb (投资总额计划为…) or it starts with 比."""
    su = _vocab().data["subject"]
    i = sent.find(name)
    if name.endswith(("计划", "规划")) and sent.startswith(tuple(su["verb_after_plan"]), i + len(name)):
        return None
    if name.endswith(tuple(su["not_programmes"])):
        return None
    name = name.removeprefix("比")
    return name if len(name) >= int(su["min_stem"]) and not _is_period(name) else None


def _actor_or_place(text: str) -> str | None:
    v = _vocab()
    best: tuple[int, str] | None = None
    for m in v.actors.finditer(text):
        best = (m.end(), m.group())
    hidden = v.hides_place.sub(lambda m: "\u3000" * len(m.group()), text)
    for name in places.find(text):
        i = hidden.rfind(name)
        if i < 0:
            continue  # 工农 (a district) inside 工农业总产值 (1959, 1981, 1985)
        if best is None or i + len(name) > best[0]:
            best = (i + len(name), name)
    return best[1] if best else None


def metric_actor(metric: str | None) -> str | None:
    """The actor that opens a metric phrase (``城镇居民家庭人均可支配收入``, ``农村居民家庭人均
    纯收入``, 2003; ``城镇居民人均可支配收入``, 2006/2008; a group of enterprises or units:
    ``规模以上工业企业实现利润``, 2002; ``全民所有制单位基本建设投资``, 1987), for a figure whose
    own clause names no subject: the quantity says whose it is."""
    if not metric:
        return None
    m = _vocab().actors.match(metric)
    if m is None:
        heads = "|".join(map(re.escape, _vocab().data["subject"]["group_heads"]))
        m = re.match(rf"[\u4e00-\u9fff]{{2,12}}?(?:{heads})(?=[\u4e00-\u9fff]{{2}})", metric)
        if m and metric.startswith(tuple(_vocab().data["subject"]["not_group_before"]), m.end()):
            m = None  # 累计单位国内生产总值能耗 (2010): per unit of GDP
    if m is None or metric[m.end():m.end() + 1] in ("到", "和", "与", "及", "、", "至"):
        return None  # 从中央到地方，一律削减１０％ (1985): a range of actors, not one
    return m.group()


def subject(sentence: str, start: int, end: int, depth: int = 0) -> str | None:
    """Who or what the figure at ``sentence[start:end]`` is about (a fund, programme, company,
    organisation, actor or place named in the sentence), or None."""
    w = _window(sentence, start, end)
    if w is None:
        return None
    s = w.s
    sent = s[w.sent_a : w.sent_b]
    for f in extract_figures(sent):
        a, b = f.start + w.sent_a, f.end + w.sent_a
        if a < end and start < b and f.subject:
            own = _fund_subject(sent, f.subject)
            if own:
                return own
            break
    named = _named(s[w.cl_a : w.start])
    if named:
        return named
    found = _actor_or_place(s[w.cl_a : w.start])
    if found:
        return found
    own = _noun(_strip_tail(s[_segment_start(s, w.sent_a, w.start) : w.start]), plain=True)
    if own and not _vocab().change_tail.fullmatch(own):
        return None  # the clause names its own quantity: earlier clauses are about something else
    prev = _previous_figure(w)
    if prev is not None and depth < 3:
        # the figure continues the previous one's quantity, so it has that one's subject:
        # …，1979年社会商品零售总额1，753亿元，比上年增加225亿元，增长14.7％ (1980), not the
        # 农民 of an earlier clause
        return subject(sentence, prev.start, prev.end, depth + 1)
    return _actor_or_place(s[w.sent_a : w.cl_a])
