# ruff: noqa: E501  (sentences are quoted verbatim from the reports)
"""rag.periods on sentences copied verbatim from the Government Work Reports (/work/shared/corpus-policy)."""

from __future__ import annotations

import pytest

from rag.figures import extract_figures
from rag.periods import DocDate, Period, find_time_expressions, heading_period, resolve


def _fig(text: str, fig: str) -> tuple[int, int]:
    for f in extract_figures(text):
        if f.text == fig:
            return f.start, f.end
    i = text.find(fig)
    assert i >= 0, fig
    return i, i + len(fig)


def period_of(text: str, fig: str, year: int | None, context: Period | None = None) -> tuple[str, str] | None:
    a, b = _fig(text, fig)
    p = resolve(text, a, b, doc=DocDate(year) if year else None, context=context)
    return None if p is None else (p.start, p.end)


CASES = [
    # 现在 as a clause of its own governs the next clause, not the one after it (1964, 1988)
    (1964, "现在，同我国建交的国家已经增加到五十个，同我国有着贸易和文化联系的国家和地区，已经达到一百二十多个。",
     "五十个", ("1964", "1964")),
    (1964, "现在，同我国建交的国家已经增加到五十个，同我国有着贸易和文化联系的国家和地区，已经达到一百二十多个。",
     "一百二十多个", None),
    # 2014: 今年 targets; 比上年 is a base, the heading governs
    (2014, "今年经济社会发展的主要预期目标是：国内生产总值增长7.5%左右，居民消费价格涨幅控制在3.5%左右，城镇新增就业1000万人以上，城镇登记失业率控制在4.6%以内，国际收支基本平衡，努力实现居民收入增长和经济发展同步。",
     "4.6%以内", ("2014", "2014")),
    (2014, "今年拟安排财政赤字13500亿元，比上年增加1500亿元，其中中央财政赤字9500亿元，由中央代地方发债4000亿元。",
     "1500亿元", ("2014", "2014")),
    # 2013: a stated year, 年初 does not reach the next clause
    (2013, "2012年，在世界各大经济体增长全面减速、各种风险不断暴露的情况下，我们合理把握政策力度，保持财政预算支出规模不变，优化支出结构，扭转经济下滑趋势，全面实现年初确定的主要目标，国内生产总值增长7.8%，城镇新增就业1266万人，居民消费价格涨幅回落到2.6%，为今年经济发展打下好的基础。",
     "7.8%", ("2012", "2012")),
    (2013, "2012年底，城镇和农村人均住房面积32.9平方米、37.1平方米，分别比2007年增加2.8平方米和5.5平方米；城镇居民每百户拥有家用汽车21.5辆，比2007年增加15.5辆；旅游、文化消费大幅增加。",
     "15.5辆", ("2012-12", "2012-12")),
    # 2008: 比2002年 is a base
    (2008, "2007年，国内生产总值达到24.66万亿元，比2002年增长65.5%，年均增长10.6%，从世界第六位上升到第四位；全国财政收入达到5.13万亿元，增长1.71倍；外汇储备超过1.52万亿美元。",
     "65.5%", ("2007", "2007")),
    # 2004: 去年底; 上年 counts from the governing 2003年; 由上年A增加到B
    (2004, "加强对高校扩招后首批毕业生就业的指导和服务，全国普通高校毕业生就业率去年底达到 83%，比上年增加60万人。",
     "83%", ("2003-12", "2003-12")),
    (2004, "为继续落实“两个确保”和“三条保障线”，2003年中央财政支出700亿元，比上年增长19.9%；其中用于城市居民最低生活保障的补助资金由上年46亿元增加到92亿元。",
     "46亿元", ("2002", "2002")),
    (2004, "为继续落实“两个确保”和“三条保障线”，2003年中央财政支出700亿元，比上年增长19.9%；其中用于城市居民最低生活保障的补助资金由上年46亿元增加到92亿元。",
     "92亿元", ("2003", "2003")),
    # 2003: 从X年的A增加到Y年的B
    (2003, "全国研究与试验开发经费，从1997年的509亿元增加到2002年的1161亿元，占国内生产总值的比重从0.64%提高到1.13%。",
     "509亿元", ("1997", "1997")),
    (2003, "全国研究与试验开发经费，从1997年的509亿元增加到2002年的1161亿元，占国内生产总值的比重从0.64%提高到1.13%。",
     "1161亿元", ("2002", "2002")),
    # 1998: spaced digits
    (1998, "1 9 9 7 年,城镇居民人均可支配收入达到5 1 6 0 元,五年平均每年实际增长6 . 2 ％;农民人均纯收入达到2 0 9 0 元,平均每年实际增长4 . 6 ％。",
     "元", ("1997", "1997")),
    # 1988: 过去五年中 in a 1988 report
    (1988, "过去五年中，全国共取得重大科技成果５万多项，其中一部分达到了世界先进水平。",
     "５万多项", ("1983", "1987")),
    # 1985: a span of years
    (1985, "1979年至1983年,轻工业总产值平均每年增长11.2%,1984年又比上年增长13.9%。", "11.2%", ("1979", "1983")),
    (1985, "1979年至1983年,轻工业总产值平均每年增长11.2%,1984年又比上年增长13.9%。", "13.9%", ("1984", "1984")),
    # 1982: 一九五三年至一九八○年 (○ for 〇)
    (1982, "平均每年递增百分之四点一,高于一九五三年至一九八○年二十八年平均每年递增百分之二点六的水平。",
     "百分之二", ("1953", "1980")),
    # 1981: a month span of 今年
    (1981, "城乡人民的储蓄存款,今年1到10月增加了九十五亿元,达到四百九十四亿元,这是广大人民生活改善的一个标志。",
     "九十五亿元", ("1981-01", "1981-10")),
    # 1980: 上半年 of 今年; 比去年同期 is a base
    (1980, "今年上海市纺织工业实行了全行业利润留成的试点,上半年产值比去年同期增长14.1%,上缴国家的利润增长16.3%,都高于全市总产值和上缴利润的增长幅度。",
     "14.1%", ("1980-01", "1980-06")),
    # 1956: full-width digits; 本年 and 上年 count from the stated year
    (1956, "１９５５年国家决算的收支总数如下：１９５５年本年收入合计２７，２０３，３１９，０００元，加上上年结转收入３，１５４，６５７，０００元，全年收入总数３０，３５７，９７６，０００元。",
     "２７", ("1955", "1955")),
    (1956, "１９５５年国家决算的收支总数如下：１９５５年本年收入合计２７，２０３，３１９，０００元，加上上年结转收入３，１５４，６５７，０００元，全年收入总数３０，３５７，９７６，０００元。",
     "１５４", ("1954", "1954")),
    # 1955: Chinese-numeral years; 比一九五二年 is a base
    (1955, "一九五七年比一九五二年，我国工业总产值将增长百分之九十八点三，即平均每年递增百分之十四点七。",
     "百分之九十八", ("1957", "1957")),
    (1955, "两年工业发展所引起的变化：第一是现代工业在工业农业总产值中所占的比重，已由一九五二年的百分之二十六点七上升到一九五四年的百分之三十三；第二是国营、合作社营、公私合营的工业的产值在工业总产值中所占的比重，已由一九五二年的百分之六十一上升到一九五四年的百分之七十五点一。",
     "百分之七十五", ("1954", "1954")),
    # 1955: 到一九五七年 (deadline) with 由一九五二年的A上升到B
    (1955, "到一九五七年，现代工业在工业农业总产值中的比重，将由一九五二年的百分之二十六点七上升到百分之三十六。",
     "百分之三十六", ("1955", "1957")),
    (1955, "到一九五七年，现代工业在工业农业总产值中的比重，将由一九五二年的百分之二十六点七上升到百分之三十六。",
     "百分之二十六", ("1952", "1952")),
    # 1954: a list after a colon takes its lead-in's first year across ；, not the base year
    (1954, "拿幾項最重要的工業産品的一九五四年預計産量來同一九四九年産量比較一下，我們可以看到以下的動人的數字：電力一百零八億度，等於一九四九年的二點五倍；原煤八千一百九十九萬噸，等於一九四九年的二點六倍；生鐵三百零三萬噸，等於一九四九年的十二點四倍。",
     "八千一百九十九萬噸", ("1954", "1954")),
    (1954, "拿幾項最重要的工業産品的一九五四年預計産量來同一九四九年産量比較一下，我們可以看到以下的動人的數字：電力一百零八億度，等於一九四九年的二點五倍；原煤八千一百九十九萬噸，等於一九四九年的二點六倍；生鐵三百零三萬噸，等於一九四九年的十二點四倍。",
     "三百零三萬噸", ("1954", "1954")),
]  # fmt: skip


@pytest.mark.parametrize(("year", "text", "fig", "expected"), CASES)
def test_real_sentences(year: int, text: str, fig: str, expected: tuple[str, str]) -> None:
    assert period_of(text, fig, year) == expected


def test_heading_context_governs_and_base_marker_does_not() -> None:
    ctx = heading_period("一、2013年工作回顾", DocDate(2014))
    s = "——经济运行稳中向好。国内生产总值达到56.9万亿元，比上年增长7.7%。"  # 2014
    assert period_of(s, "7.7%", 2014, ctx) == ("2013", "2013")
    assert period_of(s, "56.9万亿元", 2014, ctx) == ("2013", "2013")
    assert period_of(s, "7.7%", 2014) is None  # nothing governs
    # 比上年 is a base also with a doc date and no context
    assert period_of("比上年增长7.7%。", "7.7%", 2014) is None
    # the same 上年 alone does set the period
    assert period_of("上年结转收入3亿元。", "3亿元", 1956) == ("1955", "1955")


def test_paired_base_and_tongbi() -> None:
    s = "高校毕业生初次就业率77.8%，同比提高1.2个百分点。"  # 2012
    assert period_of(s, "1.2个百分点", 2012) is None
    assert period_of("与上年相比增长5%。", "5%", 2014) is None


def test_paragraph_leading_year_governs_later_sentences() -> None:
    s = "1999年，全国各族人民团结奋斗。国民经济增长7.1%。"
    assert period_of(s, "7.1%", 2000) == ("1999", "1999")


def test_relative_words() -> None:
    d = DocDate(2014)
    cases = {
        "今年增长5%": ("2014", "2014"), "去年增长5%": ("2013", "2013"), "前年增长5%": ("2012", "2012"),
        "明年增长5%": ("2015", "2015"), "过去一年增长5%": ("2013", "2013"), "近五年增长5%": ("2009", "2013"),
        "五年来增长5%": ("2009", "2013"), "今后五年增长5%": ("2014", "2018"), "今年年底达到5%": ("2014-12", "2014-12"),
        "今年一季度增长5%": ("2014-01", "2014-03"), "去年下半年增长5%": ("2013-07", "2013-12"),
        "今年前三季度增长5%": ("2014-01", "2014-09"), "到2020年增长5%": ("2014", "2020"),
        "2020年前增长5%": ("2014", "2020"), "2011—2015年增长5%": ("2011", "2015"), "2008年以来增长5%": ("2008", "2014"),
    }  # fmt: skip
    for text, want in cases.items():
        a, b = _fig(text, "5%")
        p = resolve(text, a, b, doc=d)
        assert p is not None and (p.start, p.end) == want, text
    p = resolve("今年增长5%", 4, 6, doc=d)
    assert p is not None and not p.stated and p.basis == "今年 → document year 2014"
    assert resolve("今年增长5%", 4, 6, doc=None) is None
    p = resolve("2013年增长5%", 7, 9, doc=None)
    assert p == Period("2013", "2013", True, "2013年")
    assert p.years() == (2013, 2013) and p.to_dict()["basis"] == "2013年"


def test_deadline_uses_context_start() -> None:
    ctx = Period("2011", "2015", False, "x")
    assert period_of("到2020年增长5%", "5%", 2013, ctx) == ("2011", "2020")


@pytest.mark.parametrize(
    ("name", "years"),
    [
        ("第一个五年计划", (1953, 1957)), ("第一個五年計劃", (1953, 1957)), ("“二五”计划", (1958, 1962)),
        ("“六五”期间", (1981, 1985)), ("六五计划", (1981, 1985)), ("第七个五年计划", (1986, 1990)),
        ("“九五”时期", (1996, 2000)), ("新世纪第一个五年计划", (2001, 2005)), ("“十五”期间", (2001, 2005)),
        ("“十一五”规划", (2006, 2010)), ("第十一个五年规划", (2006, 2010)), ("“十二五”", (2011, 2015)),
        ("“十三五”", (2016, 2020)), ("“十四五”时期", (2021, 2025)), ("“十二五”末", (2015, 2015)),
    ],
)  # fmt: skip
def test_five_year_plans(name: str, years: tuple[int, int]) -> None:
    text = f"{name}年均增长7%"
    a, b = _fig(text, "7%")
    p = resolve(text, a, b, doc=None)
    assert p is not None and p.years() == years and p.stated


def test_figure_that_is_a_date_is_its_own_period() -> None:
    s = "2023年12月,北京机器人产业发展投资基金正式成立,目标规模为100亿元"
    assert period_of(s, "2023年12月", None) == ("2023-12", "2023-12")
    assert period_of(s, "100亿元", None) == ("2023-12", "2023-12")
    p = resolve("一九五七年", 0, 5, doc=None)
    assert p is not None and p.start == "1957" and p.stated


def test_decade_and_century() -> None:
    assert period_of("八十年代增长5%", "5%", 1986) == ("1980", "1989")
    # digits too (DRCD 台湾战后时期; CMRC): a decade, not its first year
    assert period_of("到1960年代，台湾的进口替代产业面临国内市场饱和的问题", "饱和", None) == ("1960", "1969")
    assert period_of("1950年，吉米·史都华推出改编自普立兹奖名作的电影", "电影", None) == ("1950", "1950")
    assert period_of("到本世纪末实现工农业总产值翻两番。", "两番", 1986) == ("1986", "2000")


def test_nothing_governs() -> None:
    assert period_of("全社会研发支出占国内生产总值比重超过2%。", "超过2%", 2014) is None
    assert period_of("把揭批“四人帮”的斗争进行到底，增长5%", "5%", 1978) is None
    # 十月革命 is not a month; 目前年均 holds no 前年 (目前 is the document's year, not 2012)
    assert period_of("十月革命以后，增长5%", "5%", 1955) is None
    assert period_of("目前年均增长5%", "5%", 2014) == ("2014", "2014")
    assert resolve("", 0, 0, doc=None) is None


HEADINGS = [
    (2014, "一、2013年工作回顾", ("2013", "2013"), True),
    (2014, "二、2014年工作总体部署", ("2014", "2014"), True),
    (2008, "一、 过去五年工作回顾", ("2003", "2007"), False),
    (2008, "二、2008年主要任务", ("2008", "2008"), True),
    (2013, "三、对今年政府工作的建议", ("2013", "2013"), False),
    (1998, "一、关于过去五年的政府工作", ("1993", "1997"), False),
    (1998, "二、关于1 9 9 8 年政府工作的建议", ("1998", "1998"), True),
    (1978, "一、三年来的斗争和新时期的总任务", ("1975", "1977"), False),
    (1955, "二、第一个五年计划概要", ("1953", "1957"), True),
    (2004, "一、一年来工作回顾", ("2003", "2003"), False),
    (2006, "一、去年工作回顾", ("2005", "2005"), False),
    (2011, "一、“十一五”时期国民经济和社会发展的回顾", ("2006", "2010"), True),
    (1999, "一、1998年工作回顾和1999年工作的总体要求", ("1998", "1999"), True),
    (1958, "（一）一九五七年经济战线", ("1957", "1957"), True),
    (2002, "首先报告２００１年的工作", ("2001", "2001"), True),
]


@pytest.mark.parametrize(("year", "heading", "span", "stated"), HEADINGS)
def test_heading_period(year: int, heading: str, span: tuple[str, str], stated: bool) -> None:
    p = heading_period(heading, DocDate(year))
    assert p is not None and (p.start, p.end) == span and p.stated is stated
    assert p.basis.startswith("heading ")


def test_heading_without_time() -> None:
    assert heading_period("三、关于国际形势和外交工作", DocDate(1998)) is None
    assert heading_period("二、把揭批“四人帮”的斗争进行到底", DocDate(1978)) is None
    assert heading_period("过去五年工作回顾", None) is None
    assert heading_period("", DocDate(2014)) is None
    assert heading_period("一、2013年工作回顾", DocDate(2014)) == Period(
        "2013", "2013", True, "heading 一、2013年工作回顾"
    )


def test_find_time_expressions_offsets() -> None:
    s = "去年国内生产总值达到56.9万亿元，比上年增长7.7%。"
    got = find_time_expressions(s, doc=DocDate(2014))
    # the base 上年 counts from the governing 去年: growth of 2013 over 2012
    assert [(s[a:b], p.start if p else None) for a, b, p in got] == [("去年", "2013"), ("上年", "2012")]
    assert [p for _, _, p in find_time_expressions(s)] == [None, None]
    s2 = "２０１３年增长５％"
    ((a, b, p),) = find_time_expressions(s2)
    assert s2[a:b] == "２０１３年" and p is not None and p.start == "2013"


def test_price_base_years_are_no_period() -> None:
    # 1958: the 1952 and 1957 prices value the figures; the years they are about come from elsewhere
    s = "农业和农副业总产值达到六百零三亿五千万元（按一九五二年不变价格计算），比一九五六年增长百分之三点五。"
    assert period_of("一九五七年，" + s, "百分之三点五", 1958) == ("1957", "1957")
    s = "一九五八年农业和农副业总产值，拟定为六百八十八亿三千万元（按一九五七年不变价格计算），比一九五七年增长百分之六点一。"
    assert period_of(s, "百分之六点一", 1958) == ("1958", "1958")
    # 2011: 按2010年价格计算 is no time of the 2015 figure
    assert period_of("按2010年价格计算，2015年国内生产总值将超过55万亿元。", "55万亿元", 2011) == ("2015", "2015")


def test_word_boundaries_and_comparisons() -> None:
    # 2011: 基础上年均 holds no 上年
    s = "今后五年，我国经济增长预期目标是在明显提高质量和效益的基础上年均增长7%。"
    assert period_of(s, "7%", 2011) == ("2011", "2015")
    # 1992: 与去年大体持平 is a comparison, not the time of the cap after it
    s = "今年计划要求，国民生产总值增长百分之六。社会商品零售总额增长百分之十二点三，货币发行和新增信贷规模与去年大体持平，零售物价上涨幅度控制在百分之六以内。"
    assert period_of(s, "百分之六以内", 1992) == ("1992", "1992")


def test_running_years_and_now() -> None:
    # 1995: 连续三年 with nothing governing: the three years before the report
    s = "由于已经连续三年增长速度在百分之十一以上，当前又存在着较为严重的通货膨胀。"
    assert period_of(s, "百分之十一以上", 1995) == ("1992", "1994")
    # 目前 is the document's year (1984), not the decade of the base before the level
    s = "目前国营建筑企业固定职工的比例，已由五十年代的５０％左右，上升到８０％以上。"
    assert period_of(s, "８０％以上", 1984) == ("1984", "1984")


def test_n_years_of_growth_count_back_from_the_governing_year() -> None:
    # 1960: 一九五八年和一九五九年…粮食两年增长 → 1958-1959
    s = "使我们在一九五八年和一九五九年取得了农业生产的连续大跃进，粮食两年增长百分之四十六，棉花两年增长百分之四十七。"
    assert period_of(s, "百分之四十六", 1960) == ("1958", "1959")
    # 1983: 四年增长 after 增加到一九八二年的… → 1979-1982
    s = "我国进出口贸易总额，由一九七八年的三百五十五亿元增加到一九八二年的七百七十二亿元，四年增长一点二倍。"
    assert period_of(s, "一点二倍", 1983) == ("1979", "1982")
