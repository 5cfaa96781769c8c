"""Scored evidence: every candidate figure of the retrieved passages gets a vector of named
features (how well its sentence covers the question, how close the question's terms stand to
it, whether its period, stance, metric and subject are the ones asked for, where retrieval
ranked its passage), and a fitted model turns the vector into a probability that the figure
is the answer.

The weights are data (``rag/data/evidence_model.json``), fitted by
``benchmarks/fit_evidence.py`` on the fit halves of the QA sets only; nothing here is tuned
per question. This module sits below both retrieval (which ranks passages by their best
figure) and answer composition (which picks, explains and refuses by confidence).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag import vocab
from rag.errors import ConfigError
from rag.figures import Figure
from rag.question import Question, _with_synonyms, find_places, has_word, place_core
from rag.text import normalize, sentence_spans, word_parts
from rag.types import FigureFact, Hit, Passage, figure_values

_CLAUSE = re.compile(r"[,，;；。]")
_RANGE = re.compile(r"范围|区间|\brange\b", re.I)
_OPPOSED = {("target", "actual"), ("actual", "target"), ("cap", "actual"), ("actual", "cap")}

# The features, in the order of the weight vector, each with what it measures. Adding one
# here and re-running the fitting script is how the answerer learns a new signal.
FEATURES: tuple[tuple[str, str], ...] = (
    ("sentence_coverage", "share of the question's terms in the figure's sentence, weighted "
                          "by closeness to the asking word"),
    ("passage_coverage", "share of the question's terms in the passage and its headings"),
    ("proximity", "closeness of the question's terms to the figure within its sentence"),
    ("rank_prior", "1 / (retrieval rank + 1) of the passage"),
    ("fused_ratio", "the passage's fused retrieval score over the best hit's"),
    ("heading_place", "a place asked about names the passage's section or title"),
    ("in_title", "the figure stands inside a title 《…》"),
    ("range_asked", "the question asks for a range and the figure is one"),
    ("bound_match", "the question asks for a cap or floor and the figure is one"),
    ("bound_unasked", "the figure is a cap or floor and the question asks for neither"),
    ("bound_opposed", "the question asks for a cap and the figure is a floor, or the reverse"),
    ("other_part", "a part word (首期, 其中, 每家) precedes the figure and the question does "
                   "not ask for the part"),
    ("subject_match", "share of the question's terms in the figure's subject"),
    ("actor_missing", "the question names an actor or group (中央财政, 城镇居民, 国有企业: the "
                      "figure store's subject words) that neither the figure's stored subject "
                      "nor its metric has: 其中中央财政赤字9500亿元 beside the total 13500亿元 "
                      "(2014), 城镇居民 and 农村居民 incomes in one sentence (2003, 2006, 2008)"),
    ("metric_match", "share of the question's terms in the figure's metric phrase"),
    ("stance_match", "the figure's stance is the one asked for"),
    ("stance_opposed", "the figure's stance contradicts the one asked for"),
    ("stance_base", "the figure is a comparison base (比上年…) rather than a value"),
    ("period_stated", "a year (or a plan's span) is asked and the figure's period, stated "
                      "in its text, holds it"),
    ("period_inferred", "a year (or a plan's span) is asked and the figure's period, "
                        "inferred (今年, a heading, the document date), holds it"),
    ("period_wide", "a year is asked and the figure's period spans several years (年均 over "
                    "过去五年, a five-year plan): it holds the year without being about it"),
    ("kind_primary", "the figure is of the first kind the question expects"),
    ("kind_unexpected", "the figure is a quantity of none of the kinds the question expects "
                        "(减少了多少 read as a rate, answered by 1650万人): admitted, at a cost"),
    ("rate_percent", "the question asks about a rate or growth and the figure is a percentage"),
    ("unit_match", "the question names the unit it asks in (多少公里) and the figure has it"),
    ("unit_mismatch", "the question names the unit it asks in and the figure has another"),
    ("implied_unit_match", "the question names no unit and asks no rate, but what it "
                           "measures implies a unit (钢产量: 吨) and the figure has it"),
    ("implied_unit_mismatch", "such a question, and the figure has none of the implied units"),
    ("clause_coverage", "share of the question's terms in the figure's own clause"),
    ("head_in_clause", "the question names what it is about by a name suffix (基金, 公司, 计划) "
                       "and the figure's clause or subject has it"),
    ("head_missing", "the question names such a head and the figure's clause and subject lack it"),
    ("unasked_target", "the question names a year but no stance and the figure is a target: "
                       "a plain question about a year asks for what happened (a question "
                       "naming no year, 北京基金规模多大, asks for the size a fund was set up "
                       "with, which its page writes as 目标规模)"),
    ("per_year_missing", "the question asks for a yearly average (年均, 平均每年) and the "
                         "figure's clause does not say one before it"),
    ("per_year_unasked", "the figure is a yearly average and the question asks for none"),
    ("from_value", "the figure is the old value of a change written from … to … (由15.3%降到12%) "
                   "and the question does not ask where it started"),
    ("clause_idf_coverage", "share of the question's terms in the figure's clause and its "
                            "subject, each weighted by its rarity (jieba's word frequencies): "
                            "中央财政 tells more than 安排. The subject counts because Chinese "
                            "leaves it out of later clauses (…基金正式成立,目标规模为100亿元; "
                            "国内生产总值…,增长7.7%)"),
    ("change_unasked", "the figure is the amount of a change (削减财政赤字450亿元, 2008; 比上年"
                       "增加1500亿元, 2014; 比上年增加42亿元, 2006) and the question asks for a "
                       "level, naming no change (增加, 减少…) and no comparison (比)"),
    ("lead_coverage", "what the lead-in of the figure's list adds to the share of the "
                      "question's terms: an item of a list after a colon (今年经济社会发展的"
                      "主要预期目标是：｜国内生产总值增长8％左右；城镇新增就业900万人以上；…, "
                      "2010, 2011, 2012) says its metric, and the lead-in says it is a target"),
    ("clause_outshone", "how much more of the question another figure's clause in the same "
                        "sentence holds than this figure's (clause_idf_coverage, best sibling "
                        "minus own, at least 0): a long sentence lists several metrics, and "
                        "the one asked is in its figure's clause (新建大型数据中心电能利用效率"
                        "降到1.25以下 beside 通信业智算占比达到35%, seed page; 城镇新增就业"
                        "900万人以上 beside 城镇登记失业率4.6%以内, 2010-2012)"),
    ("position", "where the figure stands in its sentence (0 start, 1 end)"),
    ("crowding", "log(1 + other figures of an expected kind in the sentence)"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(n for n, _ in FEATURES)

# The direction each feature may push a candidate, part of its definition: the fit may
# give a feature any weight of its sign (or zero), never the other sign. Without this, two
# correlated features can trade signs (stance_match came out negative beside
# stance_opposed), and a weight then says the opposite of what the feature means.
# "+" helps, "-" hurts, "±" either (no prior on the direction).
SIGNS: dict[str, str] = {
    "sentence_coverage": "+", "passage_coverage": "+", "proximity": "+", "rank_prior": "+",
    "fused_ratio": "+", "heading_place": "+", "in_title": "-", "range_asked": "+",
    "bound_match": "+", "bound_unasked": "-", "bound_opposed": "-", "other_part": "-",
    "subject_match": "+", "actor_missing": "-", "metric_match": "+", "stance_match": "+", "stance_opposed": "-",
    "stance_base": "-", "period_stated": "+", "period_inferred": "+", "period_wide": "-", "kind_primary": "+",
    "kind_unexpected": "-",
    "rate_percent": "+", "unit_match": "+", "unit_mismatch": "-", "clause_coverage": "+",
    "implied_unit_match": "+", "implied_unit_mismatch": "-",
    "head_in_clause": "+", "head_missing": "-", "unasked_target": "-", "position": "±",
    "per_year_missing": "-", "per_year_unasked": "-", "from_value": "-", "change_unasked": "-",
    "clause_idf_coverage": "+", "lead_coverage": "+", "clause_outshone": "-",
    "crowding": "-",
    # sentence candidates
    "sentence_plain": "+", "length": "±",
}

# Features of a sentence candidate (a question that asks for no figure: who, which, what).
SENTENCE_FEATURES: tuple[tuple[str, str], ...] = (
    ("sentence_coverage", "share of the question's terms in the sentence, weighted by "
                          "closeness to the asking word"),
    ("sentence_plain", "share of the question's terms in the sentence, unweighted"),
    ("passage_coverage", "share of the question's terms in the passage and its headings"),
    ("rank_prior", "1 / (retrieval rank + 1) of the passage"),
    ("fused_ratio", "the passage's fused retrieval score over the best hit's"),
    ("heading_place", "a place asked about names the passage's section or title"),
    ("length", "log(1 + characters of the sentence) / 5: long sentences hold more but say "
               "less precisely what answers"),
)
SENTENCE_FEATURE_NAMES: tuple[str, ...] = tuple(n for n, _ in SENTENCE_FEATURES)


@dataclass(frozen=True)
class SentenceFigures:
    """One sentence of a passage with the stored figures inside it (offsets relative to the
    sentence) and their records."""

    start: int
    text: str
    figures: tuple[Figure, ...]
    facts: tuple[FigureFact, ...]
    lead: str = ""  # the lead-in of the list the sentence is an item of (see list_lead)


def list_lead(sentences: Sequence[str], i: int) -> str:
    """The lead-in of the colon list that sentence ``i`` is an item of: back over the items
    before it (each ends with ；) to the text up to a colon (…主要预期目标是：); "" when the
    sentence is no list item. The first item shares its sentence with the colon."""
    for j in range(i - 1, -1, -1):
        prev = sentences[j].rstrip()
        colon = max(prev.rfind("："), prev.rfind(":"))
        if colon >= 0 and (colon == len(prev) - 1 or prev.endswith(("；", ";"))):
            return prev[:colon + 1]
        if not prev.endswith(("；", ";")):
            return ""
    return ""


def by_sentence(text: str, figures: Sequence[FigureFact]) -> list[SentenceFigures]:
    """The sentences of a passage text with the figure-store records inside each."""
    grouped: dict[int, list[FigureFact]] = {}
    for f in figures:
        grouped.setdefault(f.sentence_start, []).append(f)
    spans = sentence_spans(text)
    texts = [text[a:b] for a, b in spans]
    out = []
    for i, (a, b) in enumerate(spans):
        if b - a < 2:
            continue
        facts = tuple(grouped.get(a, ()))
        figs = tuple(Figure(**figure_values(f), start=f.start - a, end=f.end - a) for f in facts)
        out.append(SentenceFigures(a, texts[i], figs, facts, list_lead(texts, i)))
    return out


@lru_cache(maxsize=1)
def _inside() -> dict[str, tuple[str, ...]]:
    """evidence_words.json ``inside_words``, read once: term_hits runs per candidate."""
    return {k: tuple(v) for k, v in vocab.data("evidence_words")["inside_words"].items()}


def _spans_of(term: str, text: str) -> list[tuple[int, int]]:
    """Where ``term`` occurs in ``text``, leaving out its occurrences inside a word that
    means something else (出口 inside 进出口; evidence_words.json ``inside_words``)."""
    found = [(m.start(), m.end()) for m in re.finditer(re.escape(term), text)]
    for word in _inside().get(term, ()):
        covered = [(m.start(), m.end()) for m in re.finditer(re.escape(word), text)]
        found = [(a, b) for a, b in found if not any(c <= a and b <= d for c, d in covered)]
    return found


def _occurs(term: str, text: str) -> bool:
    if term not in text:
        return False
    return term not in _inside() or bool(_spans_of(term, text))


def term_hits(terms: Sequence[tuple[str, ...]], text: str) -> list[bool]:
    """Which terms (any alternative) occur in the text; a long alternative may match by
    its stem (机器人学 → 机器人), or a compound by its words in order (粮食产量 in
    全国粮食连续四年增产，2007年产量…)."""
    return [any(_occurs(a, text) or (len(a) > 2 and _occurs(a[:-1], text)) or _parts_in(a, text)
                for a in alts) for alts in terms]


def _parts_in(word: str, text: str) -> bool:
    parts = word_parts(word)
    at = 0
    for part in parts:
        after = [b for a, b in _spans_of(part, text) if a >= at]
        if not after:
            return False
        at = after[0]
    return bool(parts)


def coverage(q: Question, text: str) -> float:
    """Share of the question's content terms that occur in ``text`` (lower-cased, normalised)."""
    if not q.terms:
        return 1.0
    hits = term_hits(q.terms, text)
    return sum(hits) / len(hits)


def weighted_coverage(q: Question, text: str) -> float:
    """Coverage with each term weighted by its closeness to the asking word, so that for
    采用什么投资模式 the sentence about the 模式 beats one that only names the fund."""
    if not q.terms:
        return 1.0
    weights = dict(q.focus)
    hits = term_hits(q.terms, text)
    total = sum(weights.get(t[0], 1.0) for t in q.terms)
    return sum(weights.get(t[0], 1.0) for t, h in zip(q.terms, hits, strict=True) if h) / total


def proximity(sentence: str, fig: Figure, terms: Sequence[tuple[str, ...]],
              focus: Sequence[tuple[str, float]] = ()) -> float:
    """How close the question's terms stand to the figure (each 0..1; within four characters
    counts as adjacent, so that the order of figures decides between
    "总规模达50亿元,首期规模10亿元"). A term in another clause counts as far, and the
    question's terms next to its asking word weigh more."""
    low = sentence.lower()
    weight_of = dict(focus)
    total = 0.0
    weights = 0.0
    for alts in terms:
        best = len(sentence)
        for a in alts:
            for ms, me in _spans_of(a, low):
                gap = low[me:fig.start] if me <= fig.start else low[fig.end:ms]
                d = len(gap) + (10 if _CLAUSE.search(gap) else 0)
                best = min(best, d)
        w = weight_of.get(alts[0], 1.0)
        total += w / (1.0 + max(best - 4, 0) / 4.0)
        weights += w
    return total / max(weights, 1.0)


def passage_context(p: Passage) -> str:
    """The passage with its headings, in the form used for matching."""
    return normalize(f"{p.header()} {p.text}").lower()


def heading_names_place(q: Question, p: Passage, places: Sequence[str] | None = None) -> bool:
    """A place asked about names the passage's section or title: the section about a place
    is the authority on it, more than a passage elsewhere that merely names it."""
    heading = f"{p.section or ''} {p.title}"
    return any(place_core(pl) in heading for pl in (q.places if places is None else places))


def other_place(q: Question, sentence: str, fig: Figure,
                places: Sequence[str] | None = None) -> bool:
    """The figure's subject is another place than the one asked, and its sentence does not
    name the asked one: 武汉人工智能产业规模达1000亿元 is no answer about 杭州 though the
    passage goes on 对标杭州… (seed page); a passage naming a place does not make each of its
    figures that place's. Places come from the figure store's subjects."""
    asked = [place_core(pl) for pl in (q.places if places is None else places)]
    if not asked or not fig.subject:
        return False
    # the subject must be a place and nothing else: 新建大型数据中心 names a data centre,
    # though 新建 is also a district's name
    theirs = place_core(fig.subject)
    if theirs not in {place_core(t) for t in find_places(fig.subject)}:
        return False
    return not any(a in fig.subject or a in sentence or theirs in a for a in asked)


def total_unmet(q: Question, sentence: str, fig: Figure) -> bool:
    """The question asks for a total (``total_words``) and the figure is a cap or a
    per-unit amount, not named as the total (总额不超过…): 南昌数转券的总金额 is not the
    不超过5万元 one company may claim (seed page)."""
    if not asks(q, "total_words"):
        return False
    before = sentence[max(0, fig.start - 8):fig.start]
    if "总" in before[-6:]:
        return False
    w = _words()
    return fig.qualifier in ("≤", "<") or any(u in before for u in w["per_unit_words"])


def _period_holds(q: Question, fact: FigureFact | None) -> bool:
    """The figure is of the years asked: it holds each year named, or, for a plan or decade
    named (“十五”期间), its period is that span."""
    if fact is None or not fact.period_start or not fact.period_end:
        return False
    if q.years:
        return all(fact.period_start[:4] <= y <= fact.period_end[:4] for y in q.years)
    if q.period_span is not None:
        return (int(fact.period_start[:4]), int(fact.period_end[:4])) == q.period_span
    return False


def features(q: Question, hit: Hit, sent: SentenceFigures, fig: Figure,
             fact: FigureFact | None, *, pass_cov: float, top_fused: float,
             heading_place: bool) -> dict[str, float]:
    """The feature vector of one candidate figure (see :data:`FEATURES`)."""
    text = normalize(sent.text)
    low = text.lower()
    # a part word reaches the figure across a comma (其中，农业总产值增长4%, 1980; 其中中央
    # 财政赤字9500亿元, 2014) but not past the figure before it (总规模50亿元,首期10亿元)
    prev_end = max((g.end for g in sent.figures if g.end <= fig.start), default=0)
    before = sent.text[max(prev_end, fig.start - 12):fig.start]
    part = _part_pattern().search(before)
    holds = _period_holds(q, fact)
    stance = fact.stance if fact is not None else "unknown"
    metric = normalize(fact.metric).lower() if fact is not None and fact.metric else ""
    crowd = sum(1 for g in sent.figures if g.kind in q.kinds) - 1
    unit = asked_unit(q)
    implied = implied_units(q) if unit is None else ()
    clause = _clause(low, fig)
    head = asked_head(q)
    subject = normalize(fig.subject).lower() if fig.subject else ""
    per_year_asked = asks(q, "per_year_words")
    lead = clause[:max(0, clause.find(fig.text.lower()))] if fig.text.lower() in clause else clause
    per_year = any(w in lead for w in _words()["per_year_words"])
    own_clause = idf_coverage(q, f"{subject} {clause}")
    siblings = [idf_coverage(q, f"{normalize(g.subject).lower() if g.subject else ''} "
                                f"{_clause(low, g)}")
                for g in sent.figures
                if (g.start, g.end) != (fig.start, fig.end) and g.kind in q.kinds]
    return {
        "sentence_coverage": weighted_coverage(q, low),
        "passage_coverage": pass_cov,
        "proximity": proximity(text, fig, q.terms, q.focus),
        "rank_prior": 1.0 / (hit.rank + 1),
        "fused_ratio": hit.scores.fused / top_fused if top_fused > 0 else 0.0,
        "heading_place": float(heading_place),
        "in_title": float(sent.text[:fig.start].count("《") > sent.text[:fig.start].count("》")),
        "range_asked": float(fig.high is not None and bool(_RANGE.search(q.text))),
        "bound_match": float(bool(q.bound) and fig.qualifier == q.bound),
        "bound_unasked": float(not q.bound and fig.qualifier in ("≤", "<")),
        "bound_opposed": float(q.bound is not None and fig.qualifier in ("≤", "≥")
                               and fig.qualifier != q.bound),
        "other_part": float(part is not None and part.group() not in q.text
                            and not _part_named(q, before[part.end():],
                                                sent.text[:fig.start - len(before) + part.start()])),
        "subject_match": coverage(q, normalize(fig.subject).lower()) if fig.subject and q.terms
        else 0.0,
        "actor_missing": float(_actor_missing(q, fact)),
        "metric_match": coverage(q, metric) if metric and q.terms else 0.0,
        "stance_match": float(bool(q.stance) and stance == q.stance),
        "stance_opposed": float((q.stance, stance) in _OPPOSED),
        "stance_base": float(stance == "base"),
        "period_stated": float(holds and bool(fact and fact.period_stated)),
        "period_inferred": float(holds and not (fact and fact.period_stated)),
        "period_wide": float(holds and q.period_span is None and fact is not None
                             and bool(fact.period_start)
                             and bool(fact.period_end)
                             and (fact.period_start or "")[:4] != (fact.period_end or "")[:4]),
        "kind_primary": float(bool(q.kinds) and fig.kind == q.kinds[0]),
        "kind_unexpected": float(bool(q.kinds) and fig.kind not in q.kinds),
        "rate_percent": float(fig.kind == "percent" and _asks_rate(q)),
        "unit_match": float(unit is not None and _has_unit(fig, fact, unit)),
        "unit_mismatch": float(unit is not None and not _has_unit(fig, fact, unit)),
        "implied_unit_match": float(bool(implied) and any(_has_unit(fig, fact, u) for u in implied)),
        "implied_unit_mismatch": float(bool(implied)
                                       and not any(_has_unit(fig, fact, u) for u in implied)),
        "clause_coverage": coverage(q, clause),
        "head_in_clause": float(head is not None and (head in clause or head in subject)),
        "head_missing": float(head is not None and head not in clause and head not in subject),
        "unasked_target": float(q.stance is None and bool(q.years) and stance == "target"),
        "per_year_missing": float(per_year_asked and not per_year),
        "per_year_unasked": float(per_year and not per_year_asked),
        "from_value": float(_is_from_value(low, fig) and not asks(q, "from_asked")),
        "change_unasked": float(_after_change(sent.text, fig) and not asks(q, "change_asked")),
        "clause_idf_coverage": own_clause,
        "lead_coverage": max(0.0, weighted_coverage(q, normalize(sent.lead + sent.text).lower())
                             - weighted_coverage(q, low)) if sent.lead else 0.0,
        "clause_outshone": max(0.0, max(siblings, default=0.0) - own_clause),
        "position": fig.start / max(len(sent.text), 1),
        "crowding": math.log1p(max(crowd, 0)),
    }


@lru_cache(maxsize=64)  # asked once per question, not per candidate
def asked_actors(q: Question) -> tuple[str, ...]:
    """The actors and groups a question names (中央财政, 城镇居民), longest first and not
    inside one another; the whole nation (全国, 我国, 国家财政) is none."""
    su = vocab.data("facts")["subject"]
    national = set(su["national"])
    low = normalize(q.text)
    found: list[str] = []
    for actor in sorted(su["actors"], key=len, reverse=True):
        if actor in national or actor not in low or any(actor in f for f in found):
            continue
        found.append(actor)
    return tuple(found)


def _has_unit(fig: Figure, fact: FigureFact | None, unit: str) -> bool:
    """The figure is in ``unit``: as written (folded: 萬噸 is 万吨), or as the store reads a
    unit the text leaves out (十亿人口: 人)."""
    return unit in normalize(fig.text) or (fact is not None and fact.unit == unit)


def _actor_missing(q: Question, fact: FigureFact | None) -> bool:
    actors = asked_actors(q)
    if not actors:
        return False
    # the store keeps its phrases as written (國營企業, 1957): matched folded
    held = normalize(f"{fact.subject or ''} {fact.metric or ''}") if fact is not None else ""
    return not any(w in held for w in _with_synonyms(actors))


@lru_cache(maxsize=64)  # asked once per question, not per candidate
@lru_cache(maxsize=1)
def _change_verbs() -> str:
    verbs = vocab.data("facts")["metric"]["change_verbs"]
    return "|".join(map(re.escape, sorted(verbs, key=len, reverse=True)))


# a figure and a conjunction right before another figure: 增长9.8%和8.5% (2010), 增长29.2%、39.4%
_JOINED = re.compile(r"[0-9０-９][0-9０-９.．]*(?:[%％‰]|[\u4e00-\u9fff]{0,3})(?:和|与|及|、)$")


def _after_change(sentence: str, fig: Figure) -> bool:
    """The figure is the amount of a change: right after a change verb (比上年增加1500亿元),
    or after the verb and its object (削减财政赤字450亿元), an object with no verb of a
    level in it (增长速度达到7% is a level); or joined to such a figure by 和/、 (实际增长9.8%
    和8.5%, 2010; the same form in 2001, 2005-2008)."""
    at = fig.start
    for _ in range(4):
        lead = sentence[max(0, at - 9):at]
        m = re.search(f"(?:{_change_verbs()})了?([\u4e00-\u9fff]{{0,6}})$", lead)
        if m is not None:
            return not re.search("[达为是到在有占约共计将]", m.group(1))
        j = _JOINED.search(sentence[max(0, at - 16):at])
        if j is None:
            return False
        at -= len(j.group())
    return False


def asks(q: Question, key: str) -> bool:
    """Whether the question holds one of the ``evidence_words.json`` word list ``key``
    (English as whole words)."""
    return has_word(q.text.lower(), _words()[key])


def _part_named(q: Question, after_part: str, whole: str) -> bool:
    """The question names the part itself (中央财政赤字 after 其中): the part is asked. A word
    the part shares with the whole before the part word (财政赤字 in 今年拟安排财政赤字10500亿元，
    其中中央财政赤字8500亿元, 2010; the same in 2012 and 2014) does not name the part: only
    a word that tells it apart (中央) does."""
    terms = [alts for alts in q.terms if any(len(t) >= 2 for t in alts)]
    whole = normalize(whole).lower()
    # read as term_hits reads them: 出口额 by its stem 出口, which 进出口 does not hold
    in_part, in_whole = term_hits(terms, after_part), term_hits(terms, whole)
    return (any(p and not w for p, w in zip(in_part, in_whole, strict=True))
            and coverage(q, after_part) >= 0.5)


def _is_from_value(low: str, fig: Figure) -> bool:
    """The figure follows 由/从 and a to-word (降到, 增加到) follows it in its clause."""
    w = _words()
    before = low[max(0, fig.start - 2):fig.start]
    if not any(before.endswith(f) for f in w["from_words"]):
        return False
    rest = low[fig.end:fig.end + 12]
    cut = re.search(r"[,，;；。]", rest)
    rest = rest[:cut.start()] if cut else rest
    return any(t in rest for t in w["to_words"])


@lru_cache(maxsize=1)
def _idf_table() -> tuple[dict[str, int], float]:
    """Word counts of jieba's own dictionary file, read once: not ``jieba.dt.FREQ``, which
    grows with every word added at run time (the gazetteer's places), so that a term's
    rarity is the same in every process whatever was loaded first."""
    import jieba

    freq: dict[str, int] = {}
    with jieba.get_dict_file() as fh:
        for raw in fh:
            parts = raw.decode("utf-8").split(" ", 2)
            if len(parts) >= 2 and parts[1].strip().isdigit():
                freq[parts[0]] = int(parts[1])
    return freq, math.log(max(sum(freq.values()), 2))


@lru_cache(maxsize=4096)
def _idf(term: str) -> float:
    """-log of the word's share in jieba's dictionary counts (a word it lacks is as rare as
    its rarest): a corpus-free rarity, the same at index and query time."""
    freq, log_total = _idf_table()
    n = freq.get(term, 0)
    return log_total - math.log(n) if n > 0 else log_total


def idf_coverage(q: Question, text: str) -> float:
    """Coverage of the question's terms in ``text``, each term weighted by its rarity."""
    if not q.terms:
        return 1.0
    weights = [max(_idf(alts[0]), 0.0) for alts in q.terms]
    total = sum(weights)
    if total <= 0:
        return 0.0
    hits = term_hits(q.terms, text)
    return sum(w for w, h in zip(weights, hits, strict=True) if h) / total


@lru_cache(maxsize=1)
def _part_pattern() -> re.Pattern[str]:
    w = _words()
    return re.compile("|".join(map(re.escape, [*w["part_words"], *w["per_unit_words"]])))


def _words() -> dict[str, Any]:
    return vocab.data("evidence_words")


@lru_cache(maxsize=64)  # asked once per question, not per candidate
def asked_unit(q: Question) -> str | None:
    """The unit a question asks in: 多少公里 → 公里, 几个 → 个; None when it names none."""
    w = _words()
    m = re.search(w["asked_unit"], q.text)
    if not m:
        return None
    tail = m.group(1)
    for size in (2, 1):
        if tail[:size] in w["unit_words"]:
            return tail[:size]
    return None


@lru_cache(maxsize=64)  # asked once per question, not per candidate
def implied_units(q: Question) -> tuple[str, ...]:
    """The units what a question measures implies (钢产量 → 吨, 公斤 …) when it asks no
    rate: the last implying noun of the question decides (工业总产值 → 元, not 工业)."""
    if _asks_rate(q):
        return ()
    best: tuple[float, tuple[str, ...]] = (-1.0, ())
    for row in _words()["implied_units"]:
        for noun in row["nouns"]:
            at = q.text.rfind(noun)
            # the noun that ends last, the longer of two ending together (钢产量 over 产量)
            end = at + len(noun) + len(noun) / 100 if at >= 0 else -1
            if end > best[0]:
                best = (end, tuple(row["units"]))
    return best[1]


@lru_cache(maxsize=64)  # asked once per question, not per candidate
def asked_head(q: Question) -> str | None:
    """What the question is about, when it names it by a name suffix: 机器人产业基金 → 基金,
    某公司 → 公司 (the suffixes of ``facts.json``); None when it names none."""
    suffixes = vocab.subject_suffixes()
    for alts in reversed(q.terms):
        for a in alts:
            for suf in suffixes:
                if a.endswith(suf):
                    return suf
    return None


def _clause(low: str, fig: Figure) -> str:
    """The clause of the sentence that holds the figure (between commas or semicolons)."""
    a = max(low.rfind(c, 0, fig.start) for c in ",，;；:：")
    ends = [i for i in (low.find(c, fig.end) for c in ",，;；。") if i >= 0]
    return low[a + 1:min(ends) if ends else len(low)]


@lru_cache(maxsize=64)  # asked once per question, not per candidate
def _asks_rate(q: Question) -> bool:
    low = q.text.lower()
    return any((re.search(r"\b" + re.escape(w), low) if w.isascii() else w in low)
               for w in _words()["rate_words"])


# What the question is like, for the second stage: how hard it is to be sure, whatever
# the candidates (a vague "how much" with a year over many reports, or in English).
QUESTION_FEATURES: tuple[tuple[str, str], ...] = (
    ("candidates", "log(1 + candidates that passed the hard constraints)"),
    ("vague", "the question asks for a figure of any kind (多少 alone, what is)"),
    ("years", "the question names a year"),
    ("english", "the question is in English"),
    ("stance_asked", "the question names a stance (目标, 实际, 上限)"),
)


def admitted_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """The figure kinds a question's candidates may have: the expected ones and, when all of
    those are quantities, every quantity (``evidence_words.json`` ``quantity_kinds``). Which
    quantity a question asks for is read from its wording by rules that miss (2014
    减少了多少 → a rate, yet 1650万人; 2012 增长目标 after 总额 → money, yet 10%左右), so the
    kind is a feature (``kind_unexpected``) weighed against the rest, not a gate."""
    quantities = tuple(_words()["quantity_kinds"])
    if kinds and all(k in quantities for k in kinds):
        return (*kinds, *(k for k in quantities if k not in kinds))
    return tuple(kinds)


def question_features(q: Question, n_candidates: int) -> dict[str, float]:
    """The question-level inputs of the second stage (see :data:`QUESTION_FEATURES`)."""
    return {"candidates": math.log1p(n_candidates),
            "vague": float(q.intent in ("quantity", "what")),
            "years": float(bool(q.years)),
            "english": float(q.english),
            "stance_asked": float(q.stance is not None)}


def sentence_features(q: Question, hit: Hit, text: str, *, pass_cov: float,
                      top_fused: float, heading_place: bool) -> dict[str, float]:
    """The feature vector of one sentence candidate (see :data:`SENTENCE_FEATURES`)."""
    low = normalize(text).lower()
    return {
        "sentence_coverage": weighted_coverage(q, low),
        "sentence_plain": coverage(q, low),
        "passage_coverage": pass_cov,
        "rank_prior": 1.0 / (hit.rank + 1),
        "fused_ratio": hit.scores.fused / top_fused if top_fused > 0 else 0.0,
        "heading_place": float(heading_place),
        "length": math.log1p(len(text)) / 5.0,
    }


def figure_evidence(q: Question, text: str, figures: Sequence[FigureFact]) -> float:
    """How well a passage text answers a figure question, for retrieval's figure ranking:
    the best figure of an expected kind, scored by the question's terms in its sentence and
    their closeness to it (0 if none)."""
    if not q.kinds:
        return 0.0
    best = 0.0
    for s in by_sentence(text, figures):
        figs = [f for f in s.figures if f.kind in q.kinds]
        if not figs:
            continue
        norm = normalize(s.text).lower()
        cov = coverage(q, norm)
        for f in figs:
            best = max(best, cov + proximity(norm, f, q.terms, q.focus))
    return best


def value_support(scores: Sequence[float], same: Sequence[bool]) -> float:
    """The softmax share of the candidates flagged ``same`` (those with the best one's
    value) among all candidates' logits: a value that several sentences give, with no
    rival close behind, is surer than one that wins a crowded field by the same margin."""
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    return sum(w for w, m in zip(weights, same, strict=True) if m) / sum(weights)


TOP = "top:"  # calibration weights on the best candidate's features carry this prefix


@dataclass(frozen=True)
class Scorer:
    """Logistic weights over named features, and a second stage that turns the best
    candidate's logit and its margin over the runner-up into a probability of being right."""

    weights: dict[str, float]
    bias: float
    calibration: dict[str, float] = field(default_factory=dict)
    # features that rule a candidate out: on the fit split a candidate carrying one was
    # almost never the answer (benchmarks/fit_evidence.py chooses them), so a best figure
    # with one is no answer, whatever the rest of the question is like
    vetoes: tuple[str, ...] = ()

    def score(self, feats: dict[str, float]) -> float:
        """The candidate's logit: positive means more likely right than wrong."""
        return self.bias + sum(self.weights.get(n, 0.0) * v for n, v in feats.items())

    def veto(self, feats: dict[str, float]) -> str | None:
        """The first veto feature the candidate carries, or None."""
        return next((n for n in self.vetoes if feats.get(n, 0.0) >= 1.0), None)

    def confidence(self, best: float, runner_up: float | None,
                   question: dict[str, float] | None = None,
                   features: dict[str, float] | None = None, support: float = 0.0) -> float:
        """Probability that the best candidate is the answer, from its logit, its margin
        over the runner-up, what the question is like (:func:`question_features`) and the
        best candidate's own features (weights named ``top:<feature>``): the logit ranks
        the figures of one question, while how sure to be of the winner depends on more
        than its lead (a winner that matches no metric word is often a question the
        corpus does not answer), and the share of all candidates' weight that its value
        holds (:func:`value_support`)."""
        c = self.calibration
        if not c:
            return _sigmoid(best)
        # a best candidate without a rival (no other value passed the hard checks) has no
        # margin; how much that is worth is fitted as its own weight
        lone = runner_up is None
        margin = 0.0 if runner_up is None else best - runner_up
        z = c.get("bias", 0.0) + c.get("score", 1.0) * best + c.get("margin", 0.0) * margin
        z += c.get("lone", 0.0) * float(lone) + c.get("support", 0.0) * support
        for name, value in (question or {}).items():
            z += c.get(name, 0.0) * value
        for name, value in (features or {}).items():
            z += c.get(TOP + name, 0.0) * value
        return _sigmoid(z)

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "bias": self.bias, "calibration": self.calibration,
                "vetoes": list(self.vetoes)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], names: Sequence[str]) -> Scorer:
        weights = {str(k): float(v) for k, v in raw.get("weights", {}).items()}
        vetoes = tuple(str(v) for v in raw.get("vetoes", ()))
        unknown = (set(weights) | set(vetoes)) - set(names)
        if unknown:
            raise ConfigError(f"evidence model names unknown features: {', '.join(sorted(unknown))}")
        return cls(weights, float(raw.get("bias", 0.0)),
                   {str(k): float(v) for k, v in raw.get("calibration", {}).items()}, vetoes)


@dataclass(frozen=True)
class EvidenceModel:
    """Two scorers — one for figure candidates (:data:`FEATURES`), one for sentence
    candidates of questions that ask for no figure (:data:`SENTENCE_FEATURES`) — and the
    refusal threshold on the confidence they give, with a record of how they were fitted."""

    figure: Scorer
    sentence: Scorer
    threshold: float = 0.5
    fitted: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"features": dict(FEATURES), "sentence_features": dict(SENTENCE_FEATURES),
                "figure": self.figure.to_dict(), "sentence": self.sentence.to_dict(),
                "threshold": self.threshold, "fitted": self.fitted}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EvidenceModel:
        try:
            return cls(Scorer.from_dict(raw.get("figure", {}), FEATURE_NAMES),
                       Scorer.from_dict(raw.get("sentence", {}), SENTENCE_FEATURE_NAMES),
                       float(raw.get("threshold", 0.5)), dict(raw.get("fitted", {})))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"evidence model is malformed: {exc}") from None


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def load_model(path: Path | None = None) -> EvidenceModel:
    """The evidence model from ``path``, or the one shipped in ``rag/data``."""
    if path is None:
        return _bundled()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read evidence model {path}: {exc}") from None
    return EvidenceModel.from_dict(raw)


@lru_cache(maxsize=1)
def _bundled() -> EvidenceModel:
    return EvidenceModel.from_dict(vocab.data("evidence_model"))
