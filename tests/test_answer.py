"""Answers end to end: real corpus, real model, questions written from the page.

Each case states what an analyst expects: the value of the answering figure (in base
units), the section the citation must come from, or that the corpus cannot answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from rag.figures import extract_figures

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    question: str
    value: float | None = None  # first figure's value (or low for ranges)
    high: float | None = None
    date: str | None = None
    section: str | None = None  # section of the first citation ("" = article without sections)
    contains: tuple[str, ...] = ()
    found: bool = True
    turns: tuple[str, ...] = ()


LEAD = "地方政府产业基金瞄准人形机器人"
CASES = [
    # lead article, one or more questions per city section
    Case("北京机器人产业发展投资基金的目标规模是多少?", 1e10, section="北京市"),
    Case("北京机器人产业发展投资基金什么时候成立?", date="2023-12", section="北京市"),
    Case("上海浦东筹备设立的人形机器人产业基金规模多大?", 1e10, section="上海市", contains=("百亿元",)),
    Case("上海未来产业基金总规模是多少?", 1e10, section="上海市"),
    Case("深圳宣布设立的人工智能和机器人产业基金规模是多少?", 1e10, section="深圳市"),
    Case("苏州吴中区设立的机器人产业投资基金总规模多大?", 1e10, section="苏州市"),
    Case("成都人工智能与机器人基金目标总规模是多少?", 1e10, section="成都市"),
    Case("南京先进制造产业专项母基金目标规模是多少?", 5e9, section="南京市"),
    Case("绍兴上虞区特别设立的具身智能机器人产业基金规模是多少?", 2e8, section="绍兴市"),
    Case("武汉汉阳区打造的基金矩阵总规模是多少?", 5e9, section="武汉市"),
    Case("河北省机器人产业基金总规模是多少?", 2e9, section="河北省"),
    Case("河北省机器人产业基金计划吸引撬动多少社会资本?", 8e9, section="河北省"),
    Case("唐山机器人产业投资基金首期规模是多少?", 1e9, section="唐山市"),
    Case("唐山机器人产业投资基金总规模多大?", 5e9, section="唐山市"),
    Case("赣州—黄浦江资本智能机器人基金总规模多大?", 1e9, section="赣州市"),
    Case("合肥专项基金体系总规模是多少?", 5e9, section="合肥市", contains=("超50亿元",)),
    Case("安徽省人形机器人子基金首期规模是多少?", 5e8, section="合肥市"),
    Case("重庆市印发了什么政策措施?", section="重庆市", contains=("重庆市支持具身智能机器人产业创新发展若干政策措施",)),
    Case("目前有多少个地方政府建立和筹备建立机器人产业基金?", 10, section=None, contains=("10余个",)),
    Case("地方政府机器人产业基金的规模范围是多少?", 2e8, high=1e10, contains=("2亿元至100亿元",)),
    # 山东
    Case("山东到2025年年底5G基站将达到多少个?", 270000, contains=("27万个",)),
    Case("山东通信业智算占比要达到多少?", 35),
    Case("山东新建大型数据中心电能利用效率要降到多少?", 1.25),
    Case("山东5G个人用户普及率要达到多少?", 70),
    Case("山东要新打造多少个5G融合应用项目?", 700),
    Case("山东信息通信业将开展几大行动?", 9),
    # 武汉
    Case("武汉算力服务券每年总额不低于多少?", 1e7),
    Case("武汉对企业使用算力服务费用补助最高多少?", 2e5),
    Case("武汉算力服务补助期限最长几年?", 3),
    Case("到2025年武汉人工智能产业规模要达到多少?", 1e11),
    Case("武汉人工智能产业年增速要达到多少?", 30, high=40),
    Case("武汉对人工智能领域中试平台最高给予多少资金支持?", 1e7),
    Case("武汉对人工智能示范应用场景项目最高支持多少钱?", 1e6),
    # 甘肃
    Case("甘肃揭榜挂帅实施方案明确了几个步骤?", 7),
    Case("甘肃省工信厅对揭榜项目的专项资金支持最高不超过多少?", 5e6),
    Case("甘肃方案提出到哪一年全省力争突破一批关键核心技术?", date="2027"),
    # 南昌
    Case("南昌对工业企业入企诊断按照每家企业多少钱的标准奖补?", 2000),
    Case("南昌数转券最高多少钱?", 5e4),
    Case("南昌累计支持多少家企业开展数字化改造?", 1500),
    Case("南昌措施重点支持数字化发展水平为什么级别的制造业企业?", 3, high=5, contains=("L3-L5级",)),
    Case("南昌支持制造业数字化转型的措施共计多少条?", 10),
    # English
    Case("What is the target size of the Beijing robot industry fund?", 1e10, section="北京市"),
    Case("How many 5G base stations will Shandong have by the end of 2025?", 270000),
    Case("What is the maximum subsidy for computing power vouchers in Wuhan?", 2e5),
    Case("How large is the Chengdu AI and robotics fund?", 1e10, section="成都市"),
    Case("When was the Tangshan robot fund set up?", date="2023-11", section="唐山市"),
    # follow-up dialogues
    Case("那成都呢?", 1e10, section="成都市", turns=("北京机器人基金规模多大?",)),
    Case("南京的呢?", 5e9, section="南京市", turns=("北京机器人基金规模多大?", "那成都呢?")),
    Case("What about Suzhou?", 1e10, section="苏州市", turns=("What is the target size of Beijing's robot fund?",)),
    # comparison and list questions
    Case("河北省和唐山的机器人产业基金哪个规模更大?", 5e9, contains=("唐山", "50亿元", "20亿元")),
    Case("深圳和南京的机器人基金哪个规模更大?", 1e10, contains=("深圳", "100亿元", "50亿元")),
    Case("哪些城市设立了100亿元的机器人基金?", 1e10, contains=("北京市", "上海市", "深圳市", "苏州市", "成都市")),
    # not in the corpus
    Case("广州机器人基金规模多大?", found=False),
    Case("武汉2030年人工智能产业规模目标是多少?", found=False),
    Case("北京的GDP是多少?", found=False),
    Case("What is the size of the Guangzhou robot fund?", found=False),
    # near misses: the subject is in the corpus, the specific figure is not
    Case("到2025年年底山东全省6G基站将达到多少个?", found=False),
    Case("成都人工智能与机器人基金的首期规模是多少?", found=False),
    Case("甘肃揭榜挂帅首批共发布了多少个榜单项目?", found=False),
    # a wrong premise: 合肥 has robot funds, not this one (rare terms must be in the passage)
    Case("合肥新能源汽车产业母基金规模是多少?", found=False),
    # the question's word for the part (第一期) is the page's (首期)
    Case("唐山机器人产业投资基金第一期规模是多少?", 1e9, section="唐山市"),
    # what exactly is asked: a difference, a share of a total, an event date vs a title's years
    Case("深度求索训练千亿参数模型时,算力成本比其他城市低多少?", 37),
    Case("甘肃省工信厅对揭榜项目的专项资金支持不高于项目总投资额的多少?", 10),
    Case("《合肥市智能机器人产业发展行动计划》是什么时候印发的?", date="2024-09", section="合肥市"),
    Case("那对公共服务平台呢?", 5e6, turns=("武汉对人工智能领域中试平台最高给予多少资金支持?",)),
]


@pytest.fixture(scope="module")
def answers(corpus_engine):
    """Each case asked with the refusal threshold at 0: these tests check which figure the
    evidence ranks first and the hard refusals (place, year, terms); the calibrated
    threshold is checked on its own below."""
    return {c: corpus_engine.ask(c.question, history=list(c.turns), min_confidence=0.0)
            for c in CASES}


@pytest.fixture(scope="module")
def default_answers(corpus_engine):
    return {c: corpus_engine.ask(c.question, history=list(c.turns)) for c in CASES}


def _close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-6 * max(abs(b), 1.0)


def _check(a, case: Case, *, partial: bool = False) -> None:
    """What the analyst expects of an answer given to ``case`` (``partial``: a list may
    hold only the items that are sure enough)."""
    assert a.citations and "[1]" in a.answer
    if case.value is not None or case.date is not None:
        first = a.figures[0]
        if case.date is not None:
            assert first.kind == "date" and first.date == case.date, a.answer
        elif case.high is not None:
            got_low = first.low if first.low is not None else first.value
            assert _close(got_low, case.value) and _close(first.high, case.high), a.answer
        else:
            assert _close(first.value, case.value), a.answer
        assert first.text in a.answer
    if case.section is not None:
        assert a.citations[0].section == case.section, a.answer
    if partial and len(case.contains) > 1:
        assert any(text in a.answer for text in case.contains), a.answer
    else:
        for text in case.contains:
            assert text in a.answer, a.answer
    if case.turns:
        assert a.rewritten_question, "a follow-up must be rewritten"


@pytest.mark.parametrize("case", CASES, ids=[c.question[:24] for c in CASES])
def test_answer(default_answers, case: Case):
    """At the default threshold every answer is right or a refusal: a question the page
    cannot answer is refused, and one it can is answered as expected or refused for want of
    confidence, never answered with another figure."""
    a = default_answers[case]
    if not case.found:
        assert not a.found, a.answer
    if not a.found:
        assert a.answer.startswith(("未找到", "Not found", "No reliable answer")), a.answer
        assert not a.citations and not a.figures
        return
    _check(a, case, partial=True)


def test_the_ranking_picks_the_expected_figure(answers):
    """With the threshold at 0 (every answer that passes the hard checks is given), the
    figure ranked first is the expected one for nearly every case: the seed page is a fit
    set of the evidence model, so this is its training accuracy, kept as a floor."""
    wrong = []
    for case, a in answers.items():
        try:
            assert a.found is case.found, a.answer
            if case.found:
                _check(a, case)
        except AssertionError as exc:
            wrong.append(f"{case.question}: {str(exc).splitlines()[0][:120]}")
    assert len(wrong) <= len(CASES) // 20, wrong


def test_every_figure_in_every_answer_is_cited(answers):
    """Independent of the answerer's own check: each figure in an answer's text is a figure
    of a passage that the same sentence cites, and each listed figure is in its citation."""
    import re

    checked = 0
    for a in answers.values():
        by_id = {c.id: c for c in a.citations}
        for part in re.split(r"(?<=[。；])|(?<=\.)(?=\s|$)", a.answer):
            cites = [int(x) for x in re.findall(r"\[(\d+)\]", part)]
            body = re.sub(r"\[\d+\]", "", part)
            for f in extract_figures(body):
                sources = [g for c in cites for g in extract_figures(by_id[c].text)]
                assert any(g.text == f.text or (g.value is not None and g.value == f.value)
                           for g in sources), (a.question, f.text)
                checked += 1
        for f in a.figures:
            assert f.text in by_id[f.citation].text
    assert checked >= 40


def test_at_the_default_threshold_a_given_answer_is_the_ranked_one_and_refusals_say_why(
        answers, default_answers, corpus_engine):
    """The calibrated threshold only ever turns an answer (or a list's item) into a refusal:
    it never changes which figure is given, and a refusal for want of confidence names the
    nearest figure (the one that would have been given) as not the answer."""
    given = 0
    for case, a in default_answers.items():
        ranked = answers[case]
        if a.found:
            given += 1
            # the same answer, or (a list) the items of it that are sure enough
            assert {f.text for f in a.figures} <= {f.text for f in ranked.figures}, a.answer
            assert a.confidence is None or a.confidence >= corpus_engine.answer_threshold
        elif ranked.found and a.reason == "confidence":
            assert a.confidence is not None and a.confidence < corpus_engine.answer_threshold
            if a.nearest is not None:
                assert a.nearest["figure"]["text"] == ranked.figures[0].text
            assert not a.figures and not a.citations
    assert given >= len(CASES) // 8  # the threshold leaves the seed page answerable


def test_which_city_has_the_largest_fund_names_every_tie(corpus_engine):
    """A superlative over subjects: each city's fund size is scored on its own, and every
    city at the largest size is named (北京, 上海, 深圳, 苏州, 成都 all at 100亿元), each cited;
    the smallest fund (2亿元) is never given as the largest."""
    a = corpus_engine.ask("哪个城市的机器人产业基金规模最大?", min_confidence=0.0)
    assert a.found and a.table is not None, a.answer
    head = a.answer.split("。")[0]
    assert "最大" in head and "100亿元" in head and "2亿元" not in head, a.answer
    tied = [r for r in a.table["rows"] if r["figure"] and r["figure"]["text"] == "100亿元"]
    assert len(tied) >= 3 and all(r["label"] in head for r in tied), a.answer
    texts = {c.id: c.text for c in a.citations}
    for r in a.table["rows"]:
        assert r["figure"]["text"] in texts[r["citation"]]


def test_a_superlative_over_the_rows_found_says_what_it_left_out(corpus_engine):
    """At the default threshold some cities' rows are not sure enough: the answer is over
    the rows it could confirm and says how many it left out, so that 苏州、上海最大 is not
    read as 北京 having less."""
    a = corpus_engine.ask("哪个城市的机器人产业基金规模最大?")
    assert a.found and a.table is not None, a.answer
    head = a.answer.split("。")[0]
    named = {r["label"] for r in a.table["rows"]}
    if not {"北京市", "上海市", "深圳市", "苏州市", "成都市"} <= named:
        assert head.startswith("在能确认的") and "未能确认" in head, a.answer


@pytest.mark.parametrize(("question", "never"), [
    # the passage goes on 对标杭州深度求索的经验; the 1000亿元 is 武汉's
    ("杭州人工智能产业规模的目标是多少?", "1000亿元"),
    # 不超过5万元 is what one company may claim, not the voucher scheme's total
    ("南昌数转券的总金额是多少?", "不超过5万元"),
])
def test_a_figure_is_not_given_for_another_place_nor_a_cap_for_a_total(corpus_engine, question,
                                                                      never):
    a = corpus_engine.ask(question, min_confidence=0.0)
    assert never not in a.answer.split("依据")[0], a.answer


def test_a_multi_part_question_answers_every_part(corpus_engine):
    a = corpus_engine.ask("上海未来产业基金总规模多少,何时进入投资阶段?", min_confidence=0.0)
    assert a.found and a.table is not None, a.answer
    rows = {r["label"]: r["figure"]["text"] if r["figure"] else None for r in a.table["rows"]}
    assert rows == {"总规模": "100亿元", "何时进入投资阶段": "2025年3月"}, a.answer


def test_a_count_of_cities_names_each_city_counted(corpus_engine):
    """一共有几个城市设立了100亿元的基金: every city counted is named with its cited 100亿元
    (北京, 上海, 深圳, 苏州, 成都 on the page); a 2亿元 or 50亿元 fund is not counted."""
    a = corpus_engine.ask("一共有几个城市设立了100亿元的基金?", min_confidence=0.0)
    assert a.found and a.table is not None, a.answer
    m = re.match(r"(?:共|至少)(\d+)个：([^。]*)", a.answer)
    assert m, a.answer
    counted = m.group(2)
    assert "2亿元" not in counted and "50亿元" not in counted, a.answer
    assert int(m.group(1)) == len(re.findall(r"\[\d+\]", counted)) >= 4, a.answer
    assert all(city in counted for city in ("北京", "上海", "深圳", "苏州", "成都")), a.answer
    d = corpus_engine.ask("一共有几个城市设立了100亿元的基金?")
    if d.found:
        assert d.answer.startswith("至少") or d.answer.startswith("共"), d.answer
        assert "2亿元" not in d.answer.split("。")[0], d.answer


def test_a_which_year_question_is_not_answered_by_a_date_without_a_year():
    """西沙群岛在哪一年正式成为中国领土 (DRCD) was answered by 1月26日; a which-year question
    admits only dates that name a year."""
    from rag.candidates import _candidates
    from rag.evidence import asks
    from rag.question import analyse
    from rag.types import Hit, Passage, Scores

    for text, asked in (("西沙群岛在哪一年正式成为中国领土?", True), ("In which year was it renamed?", True),
                       ("我国关税总水平从哪一天起降到12%？", False)):
        assert asks(analyse(text), "year_asked") is asked
    from rag import figstore

    text = "西沙群岛在1月26日正式成为中国领土。西沙群岛在1910年正式成为中国领土。"
    p = Passage(passage_id="p1", doc_id="d1", source="x.txt", title="西沙群岛", subtitle=None,
                section=None, kind="text", text=text, start=0, end=len(text))
    hit = Hit(passage=p, rank=0, scores=Scores(fused=1.0, dense=1.0, bm25=1.0),
              figures=figstore.annotate(p))

    def dates(question: str) -> list[str]:
        q = analyse(question)
        return [c.figure.text for c in _candidates(q, [hit], kinds=q.kinds) if c.figure is not None]

    assert dates("西沙群岛在哪一年正式成为中国领土?") == ["1910年"]
    assert "1月26日" in dates("西沙群岛什么时候正式成为中国领土?")  # a when question takes either


@pytest.mark.parametrize("question", ["🤖🤖🤖??", "？！……", "👍 🎉"])
def test_a_question_without_words_is_refused_for_that_reason(corpus_engine, question: str):
    # even with the threshold at 0, where any found figure would be given
    a = corpus_engine.ask(question, min_confidence=0)
    assert not a.found and a.reason == "no_words" and not a.figures and not a.citations
    assert "没有可以检索的文字" in a.answer


def test_a_sentence_refused_for_its_confidence_says_so_not_that_a_figure_failed(corpus_engine):
    # 重庆市印发了什么 asks for a name; its evidence is sentences, so the refusal speaks of them
    a = corpus_engine.ask("重庆市印发了什么政策措施?", min_confidence=1.01)
    assert not a.found and a.reason == "confidence" and a.confidence is not None
    assert "找到的句子" in a.answer and "数字" not in a.answer
    b = corpus_engine.ask("北京机器人基金规模多大?", min_confidence=1.01)
    assert not b.found and b.reason == "confidence" and "找到的数字" in b.answer
