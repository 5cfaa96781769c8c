from __future__ import annotations

import pytest

from rag.question import analyse


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


@pytest.mark.parametrize(
    ("question", "intent", "asking"),
    [
        # DRCD asks a year with 何年 (154 of its numeric questions), a day with 哪一天; CMRC
        # and DRCD ask an age with 几岁
        ("霍布斯的第一份引发争议的文章于何年发表?", "when", "何年"),
        ("「奥本山皇宫事件」于何年发生?", "when", "何年"),
        ("平安在哪一天趁虚攻入北平?", "when", "哪一天"),
        ("严秋华几岁签约了无线电视？", "quantity", "几岁"),
        ("本国公民在征得父母同意的情况下可以申请加入美军是要年满几岁的时候?", "quantity", "几岁"),
    ],
)
def test_year_day_and_age_questions_ask_for_a_figure(question, intent, asking):
    q = analyse(question)
    assert q.intent == intent
    assert ("date" in q.kinds) == (intent == "when") and ("number" in q.kinds) == (intent != "when")
    # the asking word is not a term the evidence must hold
    assert all(asking not in alts for alts in q.terms)


def test_places_years_figures_and_terms():
    q = analyse("河北省和唐山的机器人产业基金2023年规模是多少?")
    assert q.places == ("河北省", "唐山") and q.years == ("2023",)
    assert ("基金",) in q.terms and not any("唐山" in t for alts in q.terms for t in alts)
    q = analyse("哪些城市设立了100亿元的机器人基金?")
    assert [f.value for f in q.figures] == [1e10]
    assert analyse("What is the target size of Beijing's robot fund?").places == ("北京",)
    # a Latin word of a Chinese question takes its Chinese forms (the reports write 国内生产总值)
    assert analyse("北京的GDP是多少?").terms == (("gdp", "国内生产总值"),)
    assert analyse("2013年我国GDP总量达到多少？").terms == (("gdp", "国内生产总值"), ("总量",), ("达到",))


def test_bounds_and_focus():
    assert analyse("补助最高多少?").bound == "≤"
    assert analyse("总额不低于多少?").bound == "≥"
    focus = dict(analyse("河北计划吸引撬动多少社会资本?").focus)
    assert focus["撬动"] > focus["计划"] and focus["社会"] > focus["计划"]


@pytest.mark.parametrize(("question", "has", "lacks"), [
    ("1956年钢计划比1955年增长多少?", "钢", None),  # a product named by one character
    ("2014年拟安排的财政赤字是多少？", "财政赤字", "年拟"),  # the year's 年 is not a word
    ("1956年发电量增长多少", "发电量", "年发电量"),
    ("2007年末外汇储备超过多少？", "年末", None),  # ... but 年末 after a year is
    ("2008年全国财政比年度预算超收多少？", "年度预算", "度预算"),
])
def test_terms_are_words_of_the_question(question: str, has: str, lacks: str | None):
    terms = [t[0] for t in analyse(question).terms]
    assert has in terms and (lacks is None or lacks not in terms)


# -- aggregates ---------------------------------------------------------------------------

@pytest.mark.parametrize(("question", "aggregation", "span", "stances"), [
    ("2008年至2013年历年国内生产总值增长率分别是多少？", "trend", (2008, 2013), ()),
    ("2009年到2014年每年的GDP增长预期目标是多少？", "trend", (2009, 2014), ()),
    ("What was GDP growth from 2009 to 2013 each year?", "trend", (2009, 2013), ()),
    ("2016到2025年哪一年的赤字率最高？", "max", (2016, 2025), ()),
    ("2010年至2014年哪一年拟安排的财政赤字最少？", "min", (2010, 2014), ()),
    ("2013年国内生产总值增长的预期目标和实际增长分别是多少？", "stances", None, ("target", "actual")),
    # a cumulative span is one figure; two years joined by 和 are no span (but compared)
    ("2008年至2013年累计城镇新增就业多少？", "single", None, ()),
    ("2012年和2013年拟安排的财政赤字哪年更多？", "max", None, ()),  # one row a year
    ("北京机器人基金的规模多大?", "single", None, ()),
])
def test_aggregate_questions(question, aggregation, span, stances):
    q = analyse(question)
    assert (q.aggregation, q.span, q.stances) == (aggregation, span, stances)


def test_a_trend_is_one_single_figure_question_a_year():
    from rag.question import sub_questions

    subs = sub_questions(analyse("2009年到2014年每年的GDP增长预期目标是多少？"))
    assert [label for label, _ in subs] == [f"{y}年" for y in range(2009, 2015)]
    for label, sq in subs:
        assert sq.years == (label[:4],) and sq.aggregation == "single"
        assert sq.stance == "target" and "每年" not in sq.text


def test_each_stance_asked_is_its_own_question_without_the_other_stances_words():
    from rag.question import sub_questions

    subs = dict(sub_questions(analyse("2013年国内生产总值增长的预期目标和实际增长分别是多少？")))
    assert subs["目标"].stance == "target" and ("实际",) not in subs["目标"].terms
    assert subs["实际"].stance == "actual" and ("目标",) not in subs["实际"].terms
    assert subs["实际"].years == ("2013",)


@pytest.mark.parametrize(("question", "parts"), [
    ("上海未来产业基金总规模多少,何时进入投资阶段?",
     [("总规模", "上海未来产业基金总规模多少?"), ("何时进入投资阶段", "上海未来产业基金何时进入投资阶段?")]),
    ("河北省机器人产业基金的补贴比例和上限是多少?",
     [("比例", "河北省机器人产业基金的补贴比例是多少?"), ("上限", "河北省机器人产业基金的补贴上限是多少?")]),
    ("2012年小麦和稻谷最低收购价平均每50公斤分别提高多少？",
     [("小麦", "2012年小麦最低收购价平均每50公斤提高多少?"),
      ("稻谷", "2012年稻谷最低收购价平均每50公斤提高多少?")]),
    # two whole phrases with one head word (…目标和…目标): each part is its phrase
    ("2014年国内生产总值增长目标和城镇新增就业目标分别是多少？",
     [("国内生产总值增长目标", "2014年国内生产总值增长目标是多少?"),
      ("城镇新增就业目标", "2014年城镇新增就业目标是多少?")]),
    # a first phrase ended by a stance word (目标) has no tail shared with the second
    ("2012年城镇新增就业目标和城镇登记失业率分别是多少？",
     [("城镇新增就业目标", "2012年城镇新增就业目标是多少?"),
      ("城镇登记失业率", "2012年城镇登记失业率是多少?")]),
    ("武汉人工智能和机器人产业规模分别是多少？",
     [("人工智能", "武汉人工智能产业规模是多少?"), ("机器人", "武汉机器人产业规模是多少?")]),
    ("2013年财政收入和财政支出分别是多少？",
     [("财政收入", "2013年财政收入是多少?"), ("财政支出", "2013年财政支出是多少?")]),
])
def test_multi_part_questions_ask_each_part(question, parts):
    from rag.question import sub_questions

    q = analyse(question)
    assert q.aggregation == "parts"
    assert [(label, sq.text) for label, sq in sub_questions(q)] == parts


@pytest.mark.parametrize("question", ["2012年和2013年拟安排的财政赤字哪年更多？", "长江和黄河是什么",
                                      "北京机器人产业发展投资基金的目标规模是多少?"])
def test_pairs_of_years_and_text_questions_are_not_split(question):
    assert analyse(question).aggregation != "parts"


def test_years_compared_are_one_question_a_year():
    from rag.question import sub_questions

    q = analyse("2012年和2013年拟安排的财政赤字哪年更多？分别是多少？")
    assert (q.aggregation, q.row_years, q.years) == ("max", ("2012", "2013"), ())
    assert [(label, sq.text) for label, sq in sub_questions(q)] == [
        ("2012年", "2012年拟安排的财政赤字是多少?"), ("2013年", "2013年拟安排的财政赤字是多少?")]
    assert analyse("2013年和2014年的财政赤字哪年更少？").aggregation == "min"


def test_one_place_normaliser_for_questions_and_the_gazetteer():
    """question.place_core is places.short_form: 广西壮族自治区 is 广西 in both (they disagreed)."""
    from rag.places import short_form
    from rag.question import place_core

    for name in ("广西壮族自治区", "新疆维吾尔自治区", "北京市", "香港特别行政区", "吴中区"):
        assert place_core(name) == short_form(name)
    assert place_core("广西壮族自治区") == "广西"


@pytest.mark.parametrize(("question", "years", "base"), [
    ("1955年全国工业总产值比1954年增长多少？", ("1955",), ("1954",)),
    ("1964年全国工业总产值预计比1963年增长多少？", ("1964",), ("1963",)),
    ("与2012年相比，2013年粮食产量增加多少？", ("2013",), ("2012",)),
    ("1958年和1959年两年粮食增长了多少？", ("1958", "1959"), ()),
])
def test_a_comparison_base_year_is_not_an_asked_year(question, years, base):
    q = analyse(question)
    assert (q.years, q.base_years, q.aggregation) == (years, base, "single")


def test_a_base_year_with_a_difference_word_still_compares_two_rows():
    q = analyse("2013年比2012年GDP高多少？")
    assert q.aggregation == "difference" and set(q.row_years) == {"2012", "2013"}


@pytest.mark.parametrize("question", [
    "What was China's grain output in 2011?",
    "What was the consumer price inflation target for 2010?",
    "What was the total GDP in 2007?",
])
def test_english_what_was_questions_ask_for_a_figure(question):
    assert analyse(question).numeric


@pytest.mark.parametrize(("question", "stance"), [
    ("How much did China's GDP grow in 2013?", "actual"),
    ("How much did the government plan to spend?", "target"),
    ("What was the GDP growth target for 2014?", "target"),
])
def test_an_english_past_question_asks_for_a_result_unless_it_names_a_plan(question, stance):
    assert analyse(question).stance == stance


def test_a_span_asked_as_a_yearly_average_is_one_figure():
    q = analyse("2003年至2007年国内生产总值年均增长多少？")
    assert q.aggregation == "single" and q.years == ("2003", "2007")


@pytest.mark.parametrize(("question", "intent"), [
    ("2024年经济增长目标", "quantity"),      # keywords with a year: a figure is asked
    ("国内生产总值增长预期目标", "quantity"),  # keywords with a stance
    ("北京机器人基金", "what"),              # neither: a passage is asked
    ("2024年赤字率是多少?", "share"),        # a rate named by its noun
    ("居民消费价格涨幅的目标是多少?", "share"),
    ("哪个城市率先设立基金?", "which"),       # 率先 is no rate
])
def test_intent_of_keyword_queries_and_rate_nouns(question, intent):
    assert analyse(question).intent == intent


@pytest.mark.parametrize(("question", "intent"), [
    ("如何提高行政效率", "what"),            # 效率 is no rate asked
    ("汇率政策是什么", "what"),
    ("2024年政府工作报告", "what"),          # keywords for a passage
    ("2014年的工作重点", "what"),
])
def test_words_that_look_like_a_figure_question_but_are_not(question, intent):
    assert analyse(question).intent == intent


def test_a_title_names_a_document_and_asks_no_years_or_stance():
    # 《…行动计划(2024—2026年)》: neither a trend over 2024-2026 nor a target asked (计划)
    q = analyse("《合肥市智能机器人产业发展行动计划(2024—2026年)》提出建立多大规模的专项基金体系？")
    assert q.aggregation == "single" and q.span is None and q.years == () and q.stance is None
    assert any(t[0] == "行动计划" for t in q.terms)  # the title still steers the search
    # the same words outside a title are asked
    q = analyse("2024年到2026年合肥计划建立多大规模的基金？")
    assert q.span == (2024, 2026) and q.stance == "target"


@pytest.mark.parametrize(("question", "stance", "aggregation"), [
    # a result word after a future modal is a plan's: one figure, what is needed
    ("武汉要实现人工智能产业规模目标，年增速需要达到多少？", "target", "single"),
    ("2014年要实现城镇新增就业多少人？", None, "single"),
    ("2014年国内生产总值实际增长了多少？", "actual", "single"),
    ("1998年经济增长的目标是多少，实际增长了多少？", "target", "stances"),
])
def test_a_result_word_after_a_future_modal_asks_no_result(question, stance, aggregation):
    q = analyse(question)
    assert q.stance == stance and q.aggregation == aggregation, q


@pytest.mark.parametrize(("question", "span"), [
    ("“十五”期间国内生产总值年均增长多少？", (2001, 2005)),  # 2006 report
    ("“六五”时期粮食年平均产量是多少？", (1981, 1985)),  # 1986 report
    ("十一五时期GDP年均增长多少", (2006, 2010)),
    ("2005年国内生产总值增长多少？", None),  # a year named: the year is asked
    ("过去五年GDP年均增长多少", None),  # only a document date resolves it
    ("《十一五规划纲要》提出了什么", None),  # a title names a document
])
def test_a_plan_named_without_a_year_is_the_span_asked(question, span):
    assert analyse(question).period_span == span


def test_a_name_joined_by_yu_is_one_thing_not_two_parts() -> None:
    """研究与实验发展经费 (R&D spending) is one metric; 比例和上限 are two parts."""
    from rag.question import _pieces

    assert _pieces("2007年研究与实验发展经费是多少？", ()) == ()
    assert [p[0] for p in _pieces("南昌数转券的补贴比例和上限是多少", ())] == ["比例", "上限"]
