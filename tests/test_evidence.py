"""Scored evidence: the shipped model, its loading errors, and what an answer shows of it
on the seed page (real model, real index)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.evidence import (
    FEATURE_NAMES,
    SENTENCE_FEATURE_NAMES,
    EvidenceModel,
    Scorer,
    _actor_missing,
    _is_from_value,
    _period_holds,
    admitted_kinds,
    asked_actors,
    idf_coverage,
    implied_units,
    load_model,
    value_support,
)
from rag.figures import extract_figures
from rag.question import analyse
from rag.types import FigureFact

from .conftest import sentence_feature


def test_the_shipped_model_is_fitted_and_names_only_known_features():
    m = load_model()
    assert set(m.figure.weights) <= set(FEATURE_NAMES)
    assert set(m.sentence.weights) <= set(SENTENCE_FEATURE_NAMES)
    assert 0.0 <= m.threshold <= 1.0
    # the fitting script records how it was made; hand weights are never shipped
    assert "command" in m.fitted and m.fitted.get("fit_questions", 0) > 100
    assert m.figure.calibration and m.sentence.calibration


def test_a_model_naming_an_unknown_feature_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"figure": {"weights": {"no_such_feature": 1.0}}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_feature"):
        load_model(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read evidence model"):
        load_model(broken)


def test_confidence_rises_with_the_score_and_the_margin():
    s = Scorer({}, 0.0, {"bias": -1.0, "score": 1.0, "margin": 0.5, "lone": 1.0})
    assert s.confidence(2.0, 1.0) < s.confidence(3.0, 1.0)  # higher score
    assert s.confidence(2.0, 1.5) < s.confidence(2.0, 0.0)  # wider margin
    # no rival at all: worth the fitted "lone" weight instead of a margin
    assert s.confidence(2.0, None) > s.confidence(2.0, 1.5)
    assert s.confidence(2.0, None, {"years": 1.0}) == s.confidence(2.0, None)  # no weight, no effect
    m = EvidenceModel.from_dict(load_model().to_dict())
    assert m == load_model()  # to_dict and from_dict round-trip


@pytest.mark.slow
def test_an_explained_answer_shows_the_chosen_figure_and_the_runner_up(corpus_engine):
    # one sentence holds three amounts (20亿元 母基金, 80亿元以上 社会资本, 100亿元以上 基金群)
    a = corpus_engine.ask("河北省机器人产业基金计划吸引撬动多少社会资本?", explain=2,
                          min_confidence=0.0)
    assert a.found and a.figures[0].text == "80亿元以上", a.answer
    assert a.confidence is not None
    assert a.evidence is not None and len(a.evidence) == 2
    chosen, runner_up = a.evidence
    assert chosen["figure"]["text"] == "80亿元以上" and runner_up["figure"]["text"] != "80亿元以上"
    assert set(chosen["features"]) == set(FEATURE_NAMES)
    assert chosen["score"] >= runner_up["score"]
    d = a.to_dict()
    assert d["confidence"] == round(a.confidence, 4) and d["evidence"] == a.evidence


@pytest.mark.slow
def test_a_refusal_for_want_of_confidence_names_the_slot_and_the_nearest_figure(corpus_engine):
    # a threshold no answer reaches: the refusal says why, and offers the nearest figure
    # as a pointer that is not the answer
    a = corpus_engine.ask("北京机器人产业发展投资基金的目标规模是多少?", min_confidence=1.0)
    assert not a.found and a.reason == "confidence" and not a.figures
    assert a.nearest is not None and a.nearest["figure"]["text"] == "100亿元"
    assert "not the answer" in a.nearest["note"]
    assert a.nearest["quote"].strip("…") in next(
        p.text for p in corpus_engine.snapshot().passages if p.passage_id == a.nearest["passage_id"])


def test_support_is_the_softmax_share_of_the_best_value():
    # one value quoted by two sentences against one rival: its share of exp(score)
    assert value_support([2.0, 2.0, 1.0], [True, True, False]) == pytest.approx(
        2 / (2 + math.exp(-1.0)))
    assert value_support([5.0], [True]) == 1.0
    lone, crowded = value_support([3.0, 0.0], [True, False]), value_support(
        [3.0, 0.0, 0.0, 0.0], [True, False, False, False])
    assert lone > crowded  # the same lead over more rivals is less sure


def test_a_veto_feature_rules_a_candidate_out_and_is_checked_on_load(tmp_path: Path):
    s = Scorer({"metric_match": 1.0}, 0.0, {}, ("stance_opposed",))
    assert s.veto({"stance_opposed": 1.0, "metric_match": 1.0}) == "stance_opposed"
    assert s.veto({"stance_opposed": 0.0, "metric_match": 1.0}) is None
    assert Scorer.from_dict(s.to_dict(), FEATURE_NAMES) == s
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"figure": {"weights": {}, "vetoes": ["no_such_veto"]}}),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_veto"):
        load_model(bad)


def test_the_old_value_of_a_from_to_change_is_marked():
    # 2002: 已由15.3%降到12%; 1986: 由三亿零五百三十万吨增加到三亿七千零六十二万吨
    for text, old, new in (("我国关税总水平已由15.3%降到12%", "15.3%", "12%"),
                           ("年平均产量由三亿零五百三十万吨增加到三亿七千零六十二万吨",
                            "三亿零五百三十万吨", "三亿七千零六十二万吨")):
        figs = {f.text: f for f in extract_figures(text)}
        assert _is_from_value(text, figs[old]) and not _is_from_value(text, figs[new])


def test_quantity_kinds_are_admitted_across_but_dates_are_not():
    assert admitted_kinds(("percent", "ratio", "number"))[:3] == ("percent", "ratio", "number")
    assert "count" in admitted_kinds(("percent", "ratio", "number"))
    assert admitted_kinds(("date",)) == ("date",) and admitted_kinds(()) == ()


def test_rare_terms_weigh_more_and_the_longest_noun_implies_the_unit():
    q = analyse("2014年中央财政赤字安排了多少？")
    # one term of three each, but 财政赤字 is a rarer word than 安排
    assert idf_coverage(q, "财政赤字") > 1 / 3 > idf_coverage(q, "安排")
    assert implied_units(analyse("1985年钢产量要达到多少？"))[0] == "吨"


def test_a_plan_asked_is_held_by_a_figure_of_its_whole_span_only():
    # 2006 report: “十五”期间…年均增长9.5% (2001-2005) beside 今后五年…年均增长7.5% (2006-2010)
    def fact(start: str, end: str) -> FigureFact:
        return FigureFact(text="9.5%", start=0, end=4, value=9.5, low=None, high=None, unit="%",
                          kind="percent", qualifier="", subject=None, date=None,
                          period_start=start, period_end=end, period_stated=False)

    q = analyse("“十五”期间国内生产总值年均增长多少？")
    assert _period_holds(q, fact("2001", "2005"))
    assert not _period_holds(q, fact("2006", "2010")) and not _period_holds(q, fact("2005", "2005"))
    assert _period_holds(analyse("2005年国内生产总值增长多少？"), fact("2001", "2005"))


def test_an_actor_asked_must_be_the_figures_subject_or_in_its_metric():
    # 2014: 今年拟安排财政赤字13500亿元，…其中中央财政赤字9500亿元
    def fact(subject: str | None, metric: str) -> FigureFact:
        return FigureFact(text="9500亿元", start=0, end=6, value=9.5e11, low=None, high=None,
                          unit="元", kind="money", qualifier="", subject=subject, date=None,
                          metric=metric)

    q = analyse("2014年中央财政赤字安排了多少？")
    assert asked_actors(q) == ("中央财政",)
    assert _actor_missing(q, fact(None, "财政赤字")) and not _actor_missing(q, fact("中央财政", "财政赤字"))
    # the nation is no actor; 农民 and 农村居民 name one group (1985 vs 2005 reports)
    assert asked_actors(analyse("全国财政赤字是多少？")) == ()
    assert not _actor_missing(analyse("2005年农民人均纯收入是多少？"), fact(None, "农村居民人均纯收入"))


@pytest.mark.parametrize(("sentence", "text", "change"), [
    ("同时，削减财政赤字450亿元。", "450亿元", True),  # 2008: the cut, not the deficit
    ("今年拟安排财政赤字13500亿元，比上年增加1500亿元。", "1500亿元", True),  # 2014
    ("今年拟安排财政赤字13500亿元，比上年增加1500亿元。", "13500亿元", False),
    ("国内生产总值增长速度达到7%。", "7%", False),  # a level after its noun
])
def test_the_amount_of_a_change_is_marked(sentence: str, text: str, change: bool) -> None:
    from rag.evidence import _after_change
    from rag.figures import extract_figures

    fig = next(f for f in extract_figures(sentence) if f.text == text)
    assert _after_change(sentence, fig) is change


POLICY_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"


def _report_lines(year: int, start: str, n: int, end: str = "") -> list[str]:
    """``n`` non-empty lines of a report from the line that starts with ``start`` (and
    ends with ``end``)."""
    lines = [x.strip() for x in (POLICY_DIR / f"{year}-政府工作报告.txt").read_text(
        encoding="utf-8").splitlines() if x.strip()]
    at = next(i for i, x in enumerate(lines) if x.startswith(start) and x.endswith(end))
    return lines[at:at + n]


@pytest.mark.parametrize("year", [2010, 2011, 2012])
def test_an_item_of_a_colon_list_has_the_lead_in_as_its_context(year: int):
    from rag.evidence import by_sentence

    text = "\n".join(_report_lines(year, "今年", 3, end="主要预期目标是："))
    assert text.split("\n")[0].endswith("主要预期目标是：")
    sents = by_sentence(text, [])
    items = [s for s in sents if not s.text.startswith("今年")]
    # every item of the list up to its full stop, and nothing after it
    assert items[0].text.startswith("国内生产总值增长")
    listed = [s for s in items if s.lead]
    assert listed and all(s.lead.endswith("主要预期目标是：") for s in listed)
    end = next(i for i, s in enumerate(items) if s.text.rstrip().endswith("。"))
    assert listed == items[:end + 1]
    assert not any(s.lead for s in items[end + 1:])


def test_a_compound_term_is_found_by_its_words_in_order():
    from rag.evidence import term_hits

    # 2008: 全国粮食连续四年增产，2007年产量达到50150万吨
    sentence = next(x for x in _report_lines(2008, "——取消农业税", 1)[0].split("。") if "50150" in x)
    assert "粮食产量" not in sentence
    assert term_hits([("粮食产量",)], sentence) == [True]
    assert term_hits([("产量粮食",)], sentence) == [False]  # order counts
    assert term_hits([("财政赤字",)], sentence) == [False]



@pytest.mark.parametrize(("year", "part"), [(2010, "8500亿元"), (2012, "5500亿元"), (2014, "9500亿元")])
def test_a_part_is_named_only_by_a_word_that_tells_it_from_the_whole(year: int, part: str):
    from rag.evidence import _part_named

    # 今年拟安排财政赤字…亿元，…其中中央财政赤字…亿元: 财政赤字 is the whole's word as well
    text = (POLICY_DIR / f"{year}-政府工作报告.txt").read_text(encoding="utf-8")
    line = next(x for x in text.split("。") if "拟安排财政赤字" in x and part in x)
    at = line.index("其中")
    after, whole = line[at + 2:line.index(part)], line[:at]
    assert after == "中央财政赤字"
    assert not _part_named(analyse(f"{year}年财政赤字是多少？"), after, whole)
    assert _part_named(analyse(f"{year}年中央财政赤字是多少？"), after, whole)


SEED_PAGE = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "cen-page-robot-funds.txt"


def _sentence_with(path: Path, text: str) -> str:
    body = path.read_text(encoding="utf-8")
    return next(s for s in re.split("[。；]", body) if text in s)


@pytest.mark.parametrize(("path", "text", "question"), [
    (SEED_PAGE, "不超过5万元", "南昌数转券的总金额是多少？"),  # a cap one company may claim
    (SEED_PAGE, "最高1000万元", "武汉垂直行业模型补助一共多少钱？"),  # a cap per developer
    (POLICY_DIR / "2008-政府工作报告.txt", "50元", "新型农村合作医疗筹资总额是多少？"),  # per person
])
def test_a_total_asked_is_not_a_cap_nor_a_per_unit_amount(path: Path, text: str, question: str):
    from rag.evidence import total_unmet

    sentence = _sentence_with(path, text)
    fig = next(f for f in extract_figures(sentence) if f.text == text)
    assert total_unmet(analyse(question), sentence, fig)
    # the same figure answers a question that asks for no total
    assert not total_unmet(analyse(question.replace("总", "").replace("一共", "")), sentence, fig)


def test_a_figure_of_another_place_is_not_the_asked_places():
    from dataclasses import replace

    from rag.evidence import other_place

    sentence = _sentence_with(SEED_PAGE, "武汉人工智能产业规模达1000亿元")
    fig = replace(next(f for f in extract_figures(sentence) if f.text == "1000亿元"), subject="武汉")
    assert other_place(analyse("杭州人工智能产业规模的目标是多少？"), sentence, fig)
    assert not other_place(analyse("武汉人工智能产业规模的目标是多少？"), sentence, fig)
    assert not other_place(analyse("人工智能产业规模的目标是多少？"), sentence, fig)
    # a place inside the subject's (上海 for 上海浦东) is the same place
    fig = replace(fig, subject="上海浦东")
    assert not other_place(analyse("上海人工智能产业规模的目标是多少？"), sentence, fig)
    # a subject that is more than a place is no place's: 新建 is a district, 新建大型数据中心
    # a data centre (山东's PUE 1.25以下, seed page)
    fig = replace(fig, subject="新建大型数据中心")
    assert not other_place(analyse("山东新建大型数据中心电能利用效率要降到多少?"), sentence, fig)


def test_a_figure_whose_clause_misses_what_another_clause_holds_is_outshone(corpus_engine):
    # 通信业智算占比达到35%,新建大型数据中心电能利用效率(PUE)降到1.25以下: one sentence, two
    # metrics, and only the second clause holds what is asked
    values = sentence_feature(corpus_engine, "山东新建大型数据中心电能利用效率要降到多少?",
                              "1.25以下", "1.25以下", "clause_outshone")
    assert values["1.25以下"] == 0.0
    assert values["35%"] > 0.5
    assert all(v >= 0.0 for v in values.values())


def test_a_word_inside_a_word_of_another_meaning_does_not_match():
    """出口 inside 进出口 is not 出口 (evidence_words.json inside_words): the 2002 report's
    外贸进出口总额突破５０００亿美元，其中出口２６６２亿美元 gives the exports asked for only
    after 其中, and a user's 外贸出口额 had been answered with the trade total at 0.98."""
    from rag.evidence import term_hits

    whole = "外贸进出口总额突破５０００亿美元"
    assert term_hits([("出口额",), ("出口",), ("进出口",)], whole) == [False, False, True]
    assert term_hits([("出口额",)], whole + "，其中出口２６６２亿美元") == [True]
    # and 出口 names the part after 其中, which the whole does not hold: the part is asked
    from rag.evidence import _part_named

    assert _part_named(analyse("2001年外贸出口额是多少？"), "出口２６６２亿美元", whole)
    assert not _part_named(analyse("2001年外贸进出口总额是多少？"), "出口２６６２亿美元", whole)


def test_a_figure_joined_to_a_change_is_a_change():
    """实际增长9.8%和8.5% (2010; the same form in 2001 and 2005-2008): 8.5% is a change like 9.8%,
    so 2009年城镇登记失业率实际是多少 (which the reports never state) is not answered with it."""
    from rag.evidence import _after_change

    text = (POLICY_DIR / "2010-政府工作报告.txt").read_text(encoding="utf-8")
    line = next(x for x in text.split("。") if "实际增长9.8%和8.5%" in x)
    figs = {f.text: f for f in extract_figures(line)}
    assert _after_change(line, figs["9.8%"]) and _after_change(line, figs["8.5%"])
    assert not _after_change(line, figs["5153元"])
    level = "增长速度达到7%和8%"
    assert not any(_after_change(level, f) for f in extract_figures(level))
