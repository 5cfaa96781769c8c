"""Stance, metric and subject of figures, on verbatim sentences of the Government Work Reports
(/work/shared/corpus-policy, year in each case) and the seed page."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.facts import STANCES, metric, stance, subject
from rag.figures import extract_figures

# (year, sentence, figure text, stance, metric, subject)
CASES = [
    # 2014: the review of 2013
    (2014, "国内生产总值达到56.9万亿元，比上年增长7.7%。", "56.9万亿元", "actual", "国内生产总值", None),
    (2014, "国内生产总值达到56.9万亿元，比上年增长7.7%。", "7.7%", "actual", "国内生产总值增长", None),
    (2014, "居民消费价格涨幅控制在2.6%。", "2.6%", "actual", "居民消费价格涨幅", None),
    (2014, "城镇新增就业1310万人，创历史新高。", "1310万人", "unknown", "城镇新增就业", None),
    (2014, "进出口总额突破4万亿美元，再上新台阶。", "4万亿美元", "actual", "进出口总额", None),
    (2014, "城镇居民人均可支配收入实际增长7%，农村居民人均纯收入实际增长9.3%，农村贫困人口减少1650万人，"
     "城乡居民收入差距继续缩小。", "9.3%", "actual", "农村居民人均纯收入实际增长", "农村居民"),
    (2014, "城镇居民人均可支配收入实际增长7%，农村居民人均纯收入实际增长9.3%，农村贫困人口减少1650万人，"
     "城乡居民收入差距继续缩小。", "1650万人", "actual", "农村贫困人口减少", None),
    (2014, "粮食产量超过1.2万亿斤，实现“十连增”。", "超过1.2万亿斤", "actual", "粮食产量", None),
    (2014, "服务业增加值比重达到46.1%，首次超过第二产业。", "46.1%", "actual", "服务业增加值比重", None),
    # 2014: this year's targets
    (2014, "今年经济社会发展的主要预期目标是：国内生产总值增长7.5%左右，居民消费价格涨幅控制在3.5%左右，"
     "城镇新增就业1000万人以上，城镇登记失业率控制在4.6%以内，国际收支基本平衡。",
     "7.5%左右", "target", "国内生产总值增长", None),
    (2014, "今年经济社会发展的主要预期目标是：国内生产总值增长7.5%左右，居民消费价格涨幅控制在3.5%左右，"
     "城镇新增就业1000万人以上，城镇登记失业率控制在4.6%以内，国际收支基本平衡。",
     "3.5%左右", "target", "居民消费价格涨幅", None),
    (2014, "今年经济社会发展的主要预期目标是：国内生产总值增长7.5%左右，居民消费价格涨幅控制在3.5%左右，"
     "城镇新增就业1000万人以上，城镇登记失业率控制在4.6%以内，国际收支基本平衡。",
     "1000万人以上", "target", "城镇新增就业", None),
    (2014, "今年经济社会发展的主要预期目标是：国内生产总值增长7.5%左右，居民消费价格涨幅控制在3.5%左右，"
     "城镇新增就业1000万人以上，城镇登记失业率控制在4.6%以内，国际收支基本平衡。",
     "4.6%以内", "target", "城镇登记失业率", None),
    (2014, "今年赤字率拟按2.1%安排，财政赤字1.35万亿元，比去年增加1500亿元，其中中央财政赤字9500亿元，"
     "代地方发行债券4000亿元。", "2.1%", "target", "赤字率", None),
    (2014, "今年赤字率拟按2.1%安排，财政赤字1.35万亿元，比去年增加1500亿元，其中中央财政赤字9500亿元，"
     "代地方发行债券4000亿元。", "1500亿元", "target", "财政赤字增加", None),
    (2014, "今年赤字率拟按2.1%安排，财政赤字1.35万亿元，比去年增加1500亿元，其中中央财政赤字9500亿元，"
     "代地方发行债券4000亿元。", "9500亿元", "target", "中央财政赤字", "中央财政"),
    (2014, "今年要淘汰钢铁2700万吨、水泥4200万吨、平板玻璃3500万标准箱等落后产能。",
     "4200万吨", "target", "水泥", None),
    # 2013
    (2013, "财政赤字占国内生产总值的比重从2009年的2.8%降到去年的1.5%左右，赤字率和债务负担率保持在安全水平。",
     "2.8%", "base", "财政赤字占国内生产总值的比重", None),
    (2013, "财政赤字占国内生产总值的比重从2009年的2.8%降到去年的1.5%左右，赤字率和债务负担率保持在安全水平。",
     "1.5%左右", "actual", "财政赤字占国内生产总值的比重", None),
    # 2012: a target list after a colon and a line break
    (2012, "今年经济社会发展的主要预期目标是：\n\n　　国内生产总值增长7.5％；城镇新增就业900万人以上，"
     "城镇登记失业率控制在4.6％以内；居民消费价格涨幅控制在4％左右；", "7.5％", "target", "国内生产总值增长",
     None),
    (2012, "今年经济社会发展的主要预期目标是：\n\n　　国内生产总值增长7.5％；城镇新增就业900万人以上，"
     "城镇登记失业率控制在4.6％以内；居民消费价格涨幅控制在4％左右；", "4％左右", "target", "居民消费价格涨幅",
     None),
    # 2008
    (2008, "今年国民经济和社会发展的预期目标是：在优化结构、提高效益、降低消耗、保护环境的基础上，国内生产总值增长"
     "8%左右；居民消费价格总水平涨幅控制在4.8%左右；城镇新增就业1000万人，城镇登记失业率控制在4.5%左右；"
     "国际收支状况有所改善。", "4.8%左右", "target", "居民消费价格总水平涨幅", None),
    (2008, "大幅度增加对农业农村投入，中央财政用于“三农”的支出五年累计1.6万亿元，其中用于农村基础设施建设近3000亿元，"
     "地方也较多增加了投入。", "1.6万亿元", "actual", "支出", "中央财政"),
    # 2003
    (2003, "国内生产总值从1997年的7.4万亿元增加到2002年的10.2万亿元，按可比价格计算，平均每年增长7.7%。",
     "7.4万亿元", "base", "国内生产总值", None),
    (2003, "国内生产总值从1997年的7.4万亿元增加到2002年的10.2万亿元，按可比价格计算，平均每年增长7.7%。",
     "10.2万亿元", "actual", "国内生产总值", None),
    (2003, "国内生产总值从1997年的7.4万亿元增加到2002年的10.2万亿元，按可比价格计算，平均每年增长7.7%。",
     "7.7%", "actual", "国内生产总值增长", None),
    # 1993 (full-width digits)
    (1993, "１９９２年国民生产总值接近２４０００亿元，五年平均每年增长百分之七点九。",
     "接近２４０００亿元", "unknown", "国民生产总值", None),
    (1993, "１９９２年国民生产总值接近２４０００亿元，五年平均每年增长百分之七点九。",
     "百分之七点九", "unknown", "国民生产总值增长", None),
    # 1986
    (1986, "“六五”期间，全民所有制单位固定资产投资总额达到五千三百亿元，新增固定资产三千八百八十亿元。",
     "五千三百亿元", "actual", "全民所有制单位固定资产投资总额", None),
    # 1982 (a plan)
    (1982, "固定资产投资总额计划为三千六百亿元，将兴建一批具有现代水平的新工程，并在部分重点企业中实行重大的技术改造。",
     "三千六百亿元", "target", "固定资产投资总额", None),
    (1982, "用于发展教育、科学、文化、卫生事业的经费计划为九百六十七亿元，比第五个五年计划期间的五百七十七亿元"
     "增加百分之六十八。", "五百七十七亿元", "base", "经费", None),  # a plan period is no subject
    # 1979
    (1979, "粮食按人口平均占有量超过了建国以来的最高水平，总产量达到三亿零四百七十五万吨，比上一年增产二千二百万吨，"
     "即百分之七点八。", "三亿零四百七十五万吨", "actual", "总产量", None),
    (1979, "粮食按人口平均占有量超过了建国以来的最高水平，总产量达到三亿零四百七十五万吨，比上一年增产二千二百万吨，"
     "即百分之七点八。", "二千二百万吨", "actual", "总产量增产", None),
    # 1956 (full-width digits and grouping)
    (1956, "１９５６年国营企业收入为１４，３２８，１４４，０００元，占本年预算收入的４８．１９％，"
     "比１９５５年决算数增长２６．４８％。", "１４，３２８，１４４，０００元", "actual", "国营企业收入", "国营企业"),
    (1956, "１９５６年国营企业收入为１４，３２８，１４４，０００元，占本年预算收入的４８．１９％，"
     "比１９５５年决算数增长２６．４８％。", "２６．４８％", "actual", "预算收入增长", None),
    # 1955 (Chinese numerals, a five-year plan)
    (1955, "在五年经济建设和文化教育建设的支出总数中，属于基本建设投资的是四百二十七亿四千万元，占支出总数的"
     "百分之五十五点八。", "四百二十七亿四千万元", "actual", "基本建设投资", None),
    (1955, "一九五七年比一九五二年，我国工业总产值将增长百分之九十八点三，即平均每年递增百分之十四点七。",
     "百分之九十八点三", "target", "工业总产值增长", None),
    (1955, "一九五七年比一九五二年，我国工业总产值将增长百分之九十八点三，即平均每年递增百分之十四点七。",
     "百分之十四点七", "target", "工业总产值递增", None),
    # the seed page and policy forms
    (0, "2023年12月,北京机器人产业发展投资基金正式成立,目标规模为100亿元,围绕国家及北京市机器人产业相关领域"
     "战略性布局开展直接股权投资", "100亿元", "target", "目标规模", "北京机器人产业发展投资基金"),
    (0, "每家企业最高补助20万元。", "20万元", "cap", "每家企业最高补助", None),
    (0, "对年营业收入2000万元以上的企业给予奖励。", "2000万元以上", "threshold", "年营业收入", None),
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus() -> str:
    return (Path(__file__).resolve().parents[1] / "corpus" / "cen-page-robot-funds.txt").read_text(
        encoding="utf-8"
    )


def _span(sentence: str, text: str) -> tuple[int, int]:
    for f in extract_figures(sentence):
        if f.text == text:
            return f.start, f.end
    raise AssertionError(f"{text} is not a figure of {sentence!r}")


@pytest.mark.parametrize(("year", "sentence", "text", "want_stance", "want_metric", "want_subject"), CASES)
def test_stance_metric_subject(
    year: int, sentence: str, text: str, want_stance: str, want_metric: str | None, want_subject: str | None
) -> None:
    a, b = _span(sentence, text)
    assert stance(sentence, a, b) == want_stance
    assert metric(sentence, a, b) == want_metric
    assert subject(sentence, a, b) == want_subject


def test_cases_cover_ten_reports() -> None:
    assert len({year for year, *_ in CASES if year}) >= 10


def test_metric_is_copied_from_the_text() -> None:
    for _, sentence, text, *_ in CASES:
        a, b = _span(sentence, text)
        got = metric(sentence, a, b)
        if got is not None and not got.endswith(("增长", "增加", "减少", "增产", "递增")):
            assert got in sentence


def test_seed_page_fund_figures(corpus: str) -> None:
    for f in extract_figures(corpus):
        if f.text == "100亿元" and f.subject == "北京机器人产业发展投资基金":
            end = corpus.find("。", f.end)
            begin = corpus.rfind("\n", 0, f.start) + 1
            sentence = corpus[begin:end]
            a, b = f.start - begin, f.end - begin
            assert (stance(sentence, a, b), metric(sentence, a, b)) == ("target", "目标规模")
            assert subject(sentence, a, b) == "北京机器人产业发展投资基金"
            return
    raise AssertionError("seed page figure missing")


@pytest.mark.parametrize(
    ("sentence", "start", "end"),
    [("", 0, 0), ("abc", 2, 1), ("abc", -1, 2), ("abc", 0, 9), (None, 0, 1), ("增长7%", "0", 2)],
)
def test_bad_spans_never_raise(sentence: object, start: object, end: object) -> None:
    assert stance(sentence, start, end) == "unknown"  # type: ignore[arg-type]
    assert metric(sentence, start, end) is None  # type: ignore[arg-type]
    assert subject(sentence, start, end) is None  # type: ignore[arg-type]


def test_every_stance_is_known() -> None:
    for _, sentence, text, *_ in CASES:
        a, b = _span(sentence, text)
        assert stance(sentence, a, b) in STANCES


@pytest.mark.parametrize(("sentence", "text", "gold"), [
    # a month opens no quantity: the noun before it (2000) or the topic (1981) names it
    ("外贸出口从7月份开始大幅度回升，全年达到1949亿美元，比上年增长6．1％。", "1949亿美元", "外贸出口"),
    ("基本建设投资总额，今年２月修订计划时减少为三百亿元。", "三百亿元", "基本建设投资总额"),
    # price adjustments and modals are frames, not quantities (2000, 1958)
    ("城镇居民人均可支配收入，考虑价格下降因素比上年实际增长9．3％；", "9．3％", "城镇居民人均可支配收入"),
    ("一九五八年供应社会的商品总量，可以达到五百亿元，比上年增加三十亿元。", "五百亿元", "商品总量"),
    # 定为 after the target's noun; the target keeps its owner before 的 (1995)
    ("综合分析各方面的条件，今年经济增长速度的宏观调控目标，定为百分之八至九。", "百分之八至九", "经济增长速度"),
])
def test_frames_and_months_are_no_metric(sentence: str, text: str, gold: str) -> None:
    a, b = _span(sentence, text)
    got = metric(sentence, a, b)
    assert got is not None and gold in got


def test_a_share_goal_is_no_threshold() -> None:
    """要使全国80％以上的人口地区普及九年义务教育 (1999) and 试点要扩大到全国50%以上的城市 (2008)
    are coverage targets; 年营业收入2000万元以上的企业 qualifies who counts (a threshold)."""
    for sentence, text in (("今年，要使全国80％以上的人口地区普及九年义务教育。", "80％以上"),
                           ("城镇居民基本医疗保险试点要扩大到全国50%以上的城市；", "50%以上")):
        a, b = _span(sentence, text)
        assert stance(sentence, a, b) == "target"
    s = "对年营业收入2000万元以上的企业给予补助。"
    a, b = _span(s, "2000万元以上")
    assert stance(s, a, b) == "threshold"


@pytest.mark.parametrize(("sentence", "text", "gold"), [
    # a count followed by the noun it counts measures that noun (2003, 1978, 1960)
    ("我们对原有审批项目进行了清理，国务院已取消1195个行政审批事项，各级地方政府也取消了一批行政审批事项。",
     "1195个", "行政审批事项"),
    ("我国是一个共有五十多个民族的统一国家。", "五十多个", "民族"),
    ("到一九五九年底，全国农村已经办起三百九十万个食堂，在食堂吃饭的人数有四亿人。", "三百九十万个", "食堂"),
    # a group of people right after an amount or a share (1985, 2008, 1957)
    ("我国有十亿人口，两亿多户，市场容量很大。", "十亿", "人口"),
    ("今年要再解决3200万农村人口的安全饮水问题，增加500万农村沼气用户。", "3200万", "农村人口"),
    ("全国除了灾情严重的地区以外，就有75％以上的农户在不同程度上增加了收入。", "75％以上", "农户"),
    # a verb whose object after the amount is the quantity (2005, 2004)
    ("国务院决定今年安排30亿元建设资金，支持国有煤矿安全技术改造。", "30亿元", "建设资金"),
    ("中央财政新增47亿元专项补助资金，", "47亿元", "专项补助资金"),
])
def test_the_noun_after_a_figure_names_what_it_counts(sentence: str, text: str, gold: str) -> None:
    a, b = _span(sentence, text)
    assert metric(sentence, a, b) == gold


def test_a_share_of_a_group_of_people_is_no_threshold() -> None:
    """７５％以上的农户 (1957) and 一百万以上的干部 (1959) count the group; 三百元以上的大队 (1981)
    is a condition on it."""
    for sentence, text in (("就有75％以上的农户在不同程度上增加了收入。", "75％以上"),
                           ("全国县级以上的各级国家机关中，有一百万以上的干部下放到农村。", "一百万以上")):
        a, b = _span(sentence, text)
        assert stance(sentence, a, b) != "threshold"
    s = "集体分配平均每人在三百元以上的大队，１９７９年有一千六百二十二个。"
    a, b = _span(s, "三百元以上")
    assert stance(s, a, b) == "threshold"


@pytest.mark.parametrize(("sentence", "text"), [
    ("为了实现在本世纪末把我国人口控制在１２亿左右的目标，必须严格执行现行政策。", "１２亿左右"),  # 1988
    ("圆满完成裁减军队员额20万的任务。", "20万"),  # 2005
    ("要按期完成三年内裁减军队员额五十万的任务。", "五十万"),  # 1998
])
def test_a_figure_named_as_a_goal_or_task_is_a_target(sentence: str, text: str) -> None:
    a, b = _span(sentence, text)
    assert stance(sentence, a, b) == "target"


@pytest.mark.parametrize(("sentence", "text", "want"), [
    # seed page (undated): a goal-setting verb, a deadline, then 达
    ("“《方案》提出,到2025年,武汉人工智能产业规模达1000亿元。", "1000亿元", "target"),
    ("规划明确，到2027年，全市数据中心机架达到10万个。", "10万个", "target"),
    # a past marker after the deadline reports what was reached
    ("报告提出，到2020年，产业规模已达到3000亿元。", "3000亿元", "actual"),
    # a deadline that no goal-setting verb gives is left to the other rules (an
    # encyclopedia's 到2004年…下降到廿万六千人, DRCD, is history)
    ("到2004年，全年台湾新生人口数量下降到26万人。", "26万人", "actual"),
])
def test_what_a_set_deadline_reaches_is_a_target(sentence: str, text: str, want: str) -> None:
    a, b = _span(sentence, text)
    assert stance(sentence, a, b) == want
