"""Headings and heading paths: the numbering styles of Chinese documents, markdown levels,
and every Government Work Report of the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest import load, parse_text
from rag.structure import HeadingStack, article_marker, is_plain_heading, numbered_style

POLICY = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"
REPORTS = sorted(POLICY.glob("*.txt"))

# The first top-level heading of each report, read off the files by hand (None: the report
# has no headings at all).
FIRST_HEADING = {
    "1954": None, "1955": "一、国家在过渡时期的总任务", "1956": "一、１９５５年国家决算",
    "1957": "一、关于社会主义革命", "1958": "（一）一九五七年经济战线上的胜利",
    "1959": "一、第一个五年计划时期内和第二个五年计划的第一年——一九五八年的伟大成就",
    "1960": None, "1964": "国民经济的成就和今后的建设任务", "1975": None,
    "1978": "一、三年来的斗争和新时期的总任务", "1979": "一、伟大的历史性转变",
    "1980": "一、国民经济在调整、改革、整顿、提高中取得了新的进展", "1981": "（一）当前的经济形势",
    "1982": "第六个五年计划的基本任务", "1983": "过去五年的回顾", "1984": "关于国内建设",
    "1985": "（一）关于经济形势", "1986": "一、“六五”计划执行情况的回顾",
    "1987": "一、当前国内形势和基本任务", "1988": "过去五年国内工作的基本总结",
    "1992": "一、１９９１年国内工作的回顾", "1993": "一、改革开放和现代化建设取得伟大成就的五年",
    "1994": "一、１９９３年国内工作的回顾和１９９４年工作的基本方针", "1995": "一、１９９４年国内工作的回顾",
    "1997": "一、１９９６年国内工作的回顾", "1998": "一、关于过去五年的政府工作",
    "1999": "一、1998年工作回顾和1999年工作的总体要求", "2000": "一、1999年国内工作回顾",
    "2001": "一、“九五”时期国民经济和社会发展的回顾", "2002": "首先报告２００１年的工作",
    "2003": "一、过去五年政府工作的回顾", "2004": "一、一年来工作回顾", "2005": "一、过去一年工作回顾",
    "2006": "一、去年工作回顾", "2007": "一、2006年工作回顾", "2008": "一、 过去五年工作回顾",
    "2009": "一、2008年工作回顾", "2010": "一、2009年工作回顾",
    "2011": "一、“十一五”时期国民经济和社会发展的回顾", "2012": "一、2011年工作回顾",
    "2013": "一、过去五年工作回顾", "2014": "一、2013年工作回顾",
}  # fmt: skip

NESTED = [
    ("2008", ("二、2008年主要任务", "（一）搞好宏观调控，保持经济平稳较快发展")),
    ("1978", ("三、加快社会主义经济建设", "第一，全国动员，大办农业")),
    ("1955", ("三、第一個五年計劃的若幹問題", "（一）关于工业和运输业的基本建设问题")),
    ("2014", ("三、2014年重点工作",)),
]


def _paths(year: str) -> list[tuple[str, ...]]:
    path = POLICY / f"{year}-政府工作报告.txt"
    doc = load(path, source=path.name).doc
    return [s.headings for a in doc.articles for s in a.sections]


def test_the_corpus_is_there():
    assert len(REPORTS) == 42 and set(FIRST_HEADING) == {p.name[:4] for p in REPORTS}


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.name[:4])
def test_every_report_gets_its_headings_and_date(report: Path):
    year = report.name[:4]
    loaded = load(report, source=report.name)
    assert loaded.meta.date is not None and loaded.meta.date[:4] == year
    assert loaded.meta.date_source in ("text", "file-name")
    paths = [s.headings for a in loaded.doc.articles for s in a.sections]
    tops = [p[0] for p in paths if p]
    assert (tops[0] if tops else None) == FIRST_HEADING[year]
    lines = {ln.strip(" \t\u3000") for ln in report.read_text(encoding="utf-8").splitlines()}
    for p in paths:
        for h in p:
            assert h in lines, f"{h!r} is not a line of {report.name}"  # never glued to text
            assert len(h) <= 60 and h[-1] not in "。；！？："


def test_the_date_line_of_a_report_beats_its_file_name():
    loaded = load(POLICY / "1957-政府工作报告.txt", source="1957-政府工作报告.txt")
    assert (loaded.meta.date, loaded.meta.date_source) == ("1957-06-26", "text")
    assert (loaded.meta.title, loaded.meta.title_source) == ("政府工作报告", "text")


@pytest.mark.parametrize(("year", "path"), NESTED)
def test_nested_heading_paths(year: str, path: tuple[str, ...]):
    assert path in _paths(year)


def test_a_numbered_heading_is_never_joined_to_the_paragraph_below():
    """``一、2014年工作回顾`` followed by ``过去一年…`` became ``一、2014年工作回顾过去一年``."""
    text = "一、2014年工作回顾\n\n过去一年，国内生产总值增长7.4%。\n"
    doc = parse_text(text, source="r.txt", content_hash="0" * 64)
    (section,) = doc.articles[0].sections
    assert section.headings == ("一、2014年工作回顾",)
    assert section.paragraphs[0].text.startswith("过去一年")


@pytest.mark.parametrize(
    ("line", "style"),
    [("一、2013年工作回顾", "一、"), ("（一）加强和改善宏观调控", "（一）"), ("第一，全国动员，大办农业", "第一，"),
     ("1. 总体要求", "1."), ("（2）实施范围", "（1）"), ("第三章 财政预算", "第章"),
     ("一是着力深化改革开放，激发市场活力。", None), ("一、", None), ("1.5%左右", None),
     ("第二，关于农业的增产措施，现在我提出以下几点：", None), ("三、关于《", None)],
)
def test_numbering_styles(line: str, style: str | None):
    assert numbered_style(line) == style


def test_outline_levels_follow_first_appearance():
    s = HeadingStack()
    s.push_numbered("一、", "一、回顾")
    s.push_numbered("（一）", "（一）宏观")
    s.push_numbered("1.", "1. 财政")
    assert s.path() == ("一、回顾", "（一）宏观", "1. 财政")
    s.push_numbered("（一）", "（二）改革")
    assert s.path() == ("一、回顾", "（二）改革")
    s.push_numbered("一、", "二、任务")
    assert s.path() == ("二、任务",)
    s.push_markdown(2, "附录")
    assert s.path() == ("附录",)


def test_law_articles_split_marker_from_body():
    text = ("第一章 总则\n\n第一条　为了规范政府投资行为，制定本条例。\n\n"
            "第二条　本条例所称政府投资，是指在境内使用预算安排的资金。\n")
    assert article_marker("第一条　为了规范") == 3
    doc = parse_text(text, source="条例.txt", content_hash="0" * 64)
    paths = [(s.headings, s.paragraphs[0].text) for s in doc.articles[0].sections]
    assert paths[0] == (("第一章 总则", "第一条"), "为了规范政府投资行为，制定本条例。")
    assert paths[1][0] == ("第一章 总则", "第二条")


def test_plain_headings_need_a_finished_sentence_before_them():
    assert is_plain_heading("过去五年的回顾", "……取得了很大成绩。")
    assert not is_plain_heading("过去五年的回顾", "2024年5月,苏州吴中区设立")  # a column break
    assert not is_plain_heading("各位代表：", None)


def test_markdown_first_h2_after_h1_is_a_section_not_a_subtitle():
    text = "# 年度报告\n\n## 总体情况\n\n全年实现营业收入100亿元。\n\n## 下一步\n\n继续推进。\n"
    doc = parse_text(text, source="r.md", content_hash="0" * 64)
    (article,) = doc.articles
    assert article.title == "年度报告" and article.subtitle is None
    assert [s.headings for s in article.sections] == [("总体情况",), ("下一步",)]


def test_a_newspaper_split_headline_is_still_a_subtitle():
    text = ("## 山东实施“三新”工程\n\n### 5G基站将达27万个\n\n本报讯 山东省印发方案。\n\n"
            "## 武汉打造国内一流\n\n本报讯 武汉市印发方案。\n")
    doc = parse_text(text, source="page.txt", content_hash="0" * 64)
    assert doc.articles[0].subtitle == "5G基站将达27万个"
    assert [a.title for a in doc.articles] == ["山东实施“三新”工程", "武汉打造国内一流"]
