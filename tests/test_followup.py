"""Follow-up turns made self-contained from the previous one (``rag.followup``)."""

from __future__ import annotations

import pytest

from rag.followup import anchor_years, is_elliptical, resolve_turn, rewrite
from rag.question import analyse


@pytest.mark.parametrize(
    ("follow_up", "previous", "expected"),
    [
        ("那成都呢?", "北京机器人基金规模多大?", "成都机器人基金规模多大?"),
        ("南京的呢?", "北京机器人基金规模多大?", "南京机器人基金规模多大?"),
        ("2030年呢?", "到2025年武汉人工智能产业规模达到多少?", "到2030年武汉人工智能产业规模达到多少?"),
        ("What about Chengdu?", "How large is Beijing's robot fund?", "How large is Chengdu's robot fund?"),
    ],
)
def test_follow_ups_are_rewritten(follow_up, previous, expected):
    assert is_elliptical(follow_up)
    assert rewrite(follow_up, previous) == expected


def test_self_contained_questions_are_left_alone():
    assert rewrite("深圳的基金规模多大?", "北京机器人基金规模多大?") is None
    assert rewrite("那成都呢?", None) is None


# -- follow-ups that swap other slots or point back ----------------------------------------

@pytest.mark.parametrize(("follow_up", "previous", "expected"), [
    # an English follow-up to a Chinese question keeps the question Chinese
    ("What about Wuhan?", "北京机器人产业发展投资基金的目标规模是多少?",
     "武汉机器人产业发展投资基金的目标规模是多少?"),
    ("And in 2013?", "What was GDP growth in 2012?", "What was GDP growth in 2013?"),
    # relative years move the previous question's year
    ("去年的呢？", "2014年国内生产总值增长的预期目标是多少？", "2013年国内生产总值增长的预期目标是多少?"),
    ("And the year before?", "What was GDP growth in 2013?", "What was GDP growth in 2012?"),
    # the stance asked for is swapped (or added)
    ("目标呢？", "2013年国内生产总值增长了多少？", "2013年国内生产总值增长的预期目标是多少?"),
    ("实际呢？", "2014年国内生产总值增长的预期目标是多少？", "2014年国内生产总值增长的实际是多少?"),
    # the topic is swapped, the year and the result asked kept
    ("那城镇新增就业呢？", "2013年国内生产总值增长了多少？", "2013年城镇新增就业实际多少?"),
    # pronouns stand for the previous question's subject
    ("它是什么时候成立的?", "南京的机器人基金规模是多少?", "南京的机器人基金是什么时候成立的?"),
    ("其规模是多少?", "合肥市新能源汽车产业母基金是什么时候设立的?",
     "合肥市新能源汽车产业母基金的规模是多少?"),
])
def test_follow_ups_swap_any_slot(follow_up: str, previous: str, expected: str):
    assert rewrite(follow_up, previous) == expected


@pytest.mark.parametrize(("follow_up", "previous", "expected"), [
    # a follow-up that asks a whole question is that question, not the two turns glued
    ("And how much did GDP actually grow that year?", "What was China's GDP growth target for 2013?",
     "how much did GDP actually grow in 2013?"),
    ("那一年的城镇新增就业是多少？", "2013年国内生产总值增长了多少？", "2013年的城镇新增就业是多少?"),
    ("And what was the CPI rise?", "What was China's GDP growth in 2013?", "what was the CPI rise in 2013?"),
    ("And when was it set up?", "What is the size of Beijing's robot industry fund?",
     "when was Beijing's robot industry fund set up?"),
    ("那规模是多少？", "南京的机器人基金什么时候成立的？", "南京的机器人基金的规模是多少?"),
    # only the topic's noun is swapped: its plan word and comparison stay; 其中 points back
    ("其中钢呢？", "1956年工业生产总值计划比1955年增长多少？", "1956年钢计划比1955年增长多少?"),
    ("煤呢？", "1956年工业生产总值计划比1955年增长多少？", "1956年煤计划比1955年增长多少?"),
    # ... but a noun after the plan word is part of the topic, and all of it goes
    ("全国财政赤字合计呢？", "2009年的政府工作报告拟安排中央财政赤字多少？", "2009年全国财政赤字合计预期目标多少?"),
    # the year stays whole when a phrase with the same head is swapped
    ("钢产量呢？", "1978年粮食总产量是多少？", "1978年钢产量是多少?"),
    # "in the same year" is the year, not "in in 2013"; an English name is not cut at a space
    ("And in the same year, what was the deficit?", "What was China's GDP growth target for 2013?",
     "in 2013, what was the deficit?"),
    ("And when did it do so?", "What did the People's Bank of China cut rates to in 2015?",
     "when did it do so in 2015?"),
])
def test_follow_ups_never_glue_turns_together(follow_up: str, previous: str, expected: str):
    assert rewrite(follow_up, previous) == expected


def test_a_pronoun_whose_subject_was_asked_for_is_left_alone():
    # 什么基金 was the question: the name is not known, so nothing stands for 该基金
    assert rewrite("该基金的规模是多少?", "南京市设立了什么基金?") is None


@pytest.mark.parametrize(("question", "previous", "stance"), [
    ("2004年的目标呢？", "2003年城镇新增就业多少人？", "target"),
    ("那1994年的计划增长是多少？", "1993年国内生产总值增长了多少？", "target"),
])
def test_a_year_follow_up_also_swaps_the_stance_it_names(question, previous, stance):
    new = rewrite(question, previous)
    assert new is not None and analyse(new).stance == stance and analyse(new).years[0] in question


@pytest.mark.parametrize(("question", "year", "expected"), [
    ("去年国内生产总值增长了多少?", 2024, "2023年国内生产总值增长了多少?"),
    ("今年赤字率是多少", 2014, "2014年赤字率是多少"),
    ("前年和今年的目标", 2014, "2012年和2014年的目标"),
    ("What was GDP growth last year?", 2024, "What was GDP growth in 2023?"),
    ("What is this year's GDP target?", 2024, "What is 2024's GDP target?"),
    # a comparison base, a year named, an in-text word, no date to read it at: unchanged
    ("国内生产总值比去年增长多少?", 2024, None),
    ("2023年国内生产总值增长多少?", 2024, None),
    ("在基础上年均增长多少", 2024, None),
    ("目前年均增长多少", 2024, None),       # 前年 inside 目前年均, 提前年底
    ("提前年底完成多少", 2024, None),
    ("如今年轻人就业支持政策有哪些", 2024, None),  # 今年 inside 如今, 年轻
    ("与去年相比GDP增长多少", 2024, None),   # bases written around the year
    ("GDP growth up from last year?", 2024, None),
    ("比较去年和今年GDP增速", 2024, "比较2023年和2024年GDP增速"),  # 比较 compares, no base
    ("since last year", 2024, "since 2023"),
    ("This year’s target", 2024, "2024’s target"),
    ("去年国内生产总值增长了多少?", None, None),
])
def test_anchor_years_reads_relative_years_at_the_newest_date(question, year, expected):
    assert anchor_years(question, year) == expected


@pytest.mark.parametrize(("turn", "previous", "expected"), [
    # a follow-up after a question without a year: its 去年 is read at the newest date
    ("去年的呢", "GDP增长目标是多少", "2023年GDP增长目标是多少"),
    # after a question with a year: 去年 moves that year, 今年 is still the newest
    ("去年的呢", "2014年GDP增长目标是多少", "2013年GDP增长目标是多少"),
    ("今年的呢", "2014年GDP增长目标是多少", "2024年GDP增长目标是多少"),
    ("And this year?", "What was the 2014 GDP growth target?", "What was the 2024 GDP growth target?"),
    ("去年国内生产总值增长了多少?", None, "2023年国内生产总值增长了多少?"),
    ("北京机器人基金规模多大?", None, None),
])
def test_resolve_turn_reads_relative_years_then_rewrites(turn, previous, expected):
    assert resolve_turn(turn, previous, 2024) == expected
