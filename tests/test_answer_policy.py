"""Answers over real Government Work Reports: the year asked is the figure's period (2013's
result stands in the 2014 report as 去年 or under 一、2013年工作回顾), and a question that
asks for a target gets the target, one that asks for a result gets the result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.engine import Engine

from .conftest import make_config

pytestmark = pytest.mark.slow

POLICY = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"


@pytest.fixture(scope="module")
def policy_engine(tmp_path_factory: pytest.TempPathFactory, embedder) -> Engine:
    root = tmp_path_factory.mktemp("policy")
    corpus = root / "corpus"
    corpus.mkdir()
    for year in ("2009", "2013", "2014"):
        shutil.copy(POLICY / f"{year}-政府工作报告.txt", corpus)
    engine = Engine(make_config(root / "index", corpus), embedder=embedder)
    engine.index()
    return engine


CASES = [
    ("2013年国内生产总值增长了多少？", "7.7%", "2014-政府工作报告.txt"),
    ("2014年国内生产总值增长的预期目标是多少？", "7.5%左右", "2014-政府工作报告.txt"),
    ("2013年国内生产总值增长的预期目标是多少？", "7.5%左右", "2013-政府工作报告.txt"),
    ("2014年城镇新增就业的目标是多少？", "1000万人以上", "2014-政府工作报告.txt"),
    ("2013年城镇新增就业多少人？", "1310万人", "2014-政府工作报告.txt"),
    ("2012年国内生产总值增长多少？", "7.8%", "2013-政府工作报告.txt"),
    ("2014年居民消费价格涨幅的目标是多少？", "3.5%左右", "2014-政府工作报告.txt"),
    ("2014年财政赤字拟安排多少？", "13500亿元", "2014-政府工作报告.txt"),
    ("2009年国内生产总值增长目标是多少？", "8%左右", "2009-政府工作报告.txt"),
]


@pytest.mark.parametrize(("question", "figure", "source"), CASES)
def test_the_period_and_stance_asked_decide_the_figure(policy_engine: Engine, question: str,
                                                       figure: str, source: str):
    a = policy_engine.ask(question)
    assert a.found, a.answer
    assert a.figures[0].text == figure, a.answer
    cited = {c.id: c for c in a.citations}[a.figures[0].citation]
    assert cited.source == source and cited.date == source[:4]
    assert figure in cited.text


def test_a_year_no_report_covers_is_refused(policy_engine: Engine):
    a = policy_engine.ask("2020年国内生产总值增长多少？")
    assert not a.found and "年份" in a.answer and not a.figures


def test_follow_up_swaps_the_year(policy_engine: Engine):
    a = policy_engine.ask("那2012年呢？", history=["2013年国内生产总值增长了多少？"])
    assert a.found and a.rewritten_question and "2012" in a.rewritten_question
    assert a.figures[0].text == "7.8%"


@pytest.mark.parametrize(("question", "figure"), [
    ("What was the GDP growth target for 2014?", "7.5%左右"),
    ("What was the urban unemployment rate in 2013?", "4.1%"),
    ("How large was the fiscal deficit planned for 2014?", "13500亿元"),
])
def test_english_questions_reach_the_same_figures(policy_engine: Engine, question: str, figure: str):
    a = policy_engine.ask(question)
    assert a.found and a.figures[0].text == figure, a.answer
    assert a.answer.startswith(figure) and "Source:" in a.answer
