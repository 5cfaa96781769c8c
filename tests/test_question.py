from __future__ import annotations

import pytest

from rag.question import analyse, is_elliptical, rewrite


@pytest.mark.parametrize(
    ("question", "intent", "kinds"),
    [
        ("北京机器人基金规模多大?", "amount", ("money",)),
        ("山东5G基站将达到多少个?", "count", ("count",)),
        ("山东通信业智算占比要达到多少?", "share", ("percent", "ratio", "number")),
        ("北京基金什么时候成立?", "when", ("date",)),
        ("补助期限最长几年?", "duration", ("duration",)),
        ("河北省和唐山的基金哪个规模更大?", "compare", ("money",)),
        ("哪些城市设立了100亿元的机器人基金?", "list", ("money",)),
        ("How many 5G base stations will Shandong have?", "count", ("count",)),
        ("重庆市印发了什么政策措施?", "what", ()),
    ],
)
def test_intent_and_expected_kind(question, intent, kinds):
    q = analyse(question)
    assert (q.intent, q.kinds) == (intent, kinds)


def test_places_years_figures_and_terms():
    q = analyse("河北省和唐山的机器人产业基金2023年规模是多少?")
    assert q.places == ("河北省", "唐山") and q.years == ("2023",)
    assert ("基金",) in q.terms and not any("唐山" in t for alts in q.terms for t in alts)
    q = analyse("哪些城市设立了100亿元的机器人基金?")
    assert [f.value for f in q.figures] == [1e10]
    assert analyse("What is the target size of Beijing's robot fund?").places == ("北京",)
    assert analyse("北京的GDP是多少?").terms == (("gdp",),)


def test_bounds_and_focus():
    assert analyse("补助最高多少?").bound == "≤"
    assert analyse("总额不低于多少?").bound == "≥"
    focus = dict(analyse("河北计划吸引撬动多少社会资本?").focus)
    assert focus["撬动"] > focus["计划"] and focus["社会"] > focus["计划"]


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
