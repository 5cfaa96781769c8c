"""Document metadata: each source of a title and a date, and their order of precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import DocumentRejected
from rag.ingest import load
from rag.metadata import date_from_name, date_from_text, parse_date, resolve, title_from_name

REPORT_2014 = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy" / "2014-政府工作报告.txt"


@pytest.mark.parametrize(
    ("raw", "iso"),
    [("2024-03-05", "2024-03-05"), ("2024/3/5", "2024-03-05"), ("2024年3月5日", "2024-03-05"),
     ("2024-03-05T10:00:00+08:00", "2024-03-05"), ("一九五七年六月二十六日", "1957-06-26"), ("2024", "2024"),
     ("2024年3月", "2024-03"), ("March", None), ("2024-13-01", None), ("", None)],
)
def test_parse_date(raw: str, iso: str | None):
    assert parse_date(raw) == iso


def test_file_names():
    assert date_from_name("2014-政府工作报告.txt") == "2014"
    assert date_from_name("20240305_通知.docx") == "2024-03-05"
    assert date_from_name("cen-page-robot-funds.txt") is None
    assert title_from_name("2014-政府工作报告.txt") == "政府工作报告"
    assert title_from_name("notes.md") == "notes"


def test_date_lines_and_event_dates():
    head = "政府工作报告\n\n——2024年3月5日在第十四届全国人民代表大会第二次会议上\n\n各位代表："
    assert date_from_text(head) == "2024-03-05"
    assert date_from_text("关于印发方案的通知\n\n各区县：\n\n现印发。\n\n2025年1月3日\n") == "2025-01-03"
    assert date_from_text("本报讯 （记者 王伟）2025年2月10日，深圳宣布设立基金。") == "2025-02-10"
    # a date that opens an ordinary sentence is an event, not the document's date
    assert date_from_text("# 标题\n\n2023年12月,北京机器人产业发展投资基金正式成立,目标规模为100亿元,围绕"
                          "国家及北京市机器人产业相关领域战略性布局开展直接股权投资。") is None


def test_precedence_given_file_sidecar_text_name():
    text = "——2024年3月5日在第十四届全国人民代表大会第二次会议上\n\n正文。"
    name = "2014-政府工作报告.txt"
    assert resolve(source=name, text="正文。").date_source == "file-name"
    assert resolve(source=name, text=text).date == "2024-03-05"
    m = resolve(source=name, text=text, sidecar={"date": "2024-03-06"})
    assert (m.date, m.date_source) == ("2024-03-06", "sidecar")
    m = resolve(source=name, text=text, sidecar={"date": "2024-03-06"}, embedded={"date": "2024-03-07"})
    assert (m.date, m.date_source) == ("2024-03-07", "file")
    m = resolve(source=name, text=text, given={"date": "2024-03-08", "title": "报告"},
                embedded={"date": "2024-03-07", "title": "文件里的标题"})
    assert (m.date, m.date_source, m.title, m.title_source) == ("2024-03-08", "given", "报告", "given")
    assert resolve(source=name, text="正文。").type == "report"


def test_sidecar_beside_a_real_report(tmp_path: Path):
    doc = tmp_path / REPORT_2014.name
    doc.write_bytes(REPORT_2014.read_bytes())
    (tmp_path / (doc.name + ".meta.json")).write_text(
        json.dumps({"title": "2014年国务院政府工作报告", "date": "2014-03-05", "type": "report"},
                   ensure_ascii=False), encoding="utf-8")
    m = load(doc, source=doc.name).meta
    assert (m.title, m.date, m.date_source, m.title_source) == (
        "2014年国务院政府工作报告", "2014-03-05", "sidecar", "sidecar")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"date": "tomorrow"}'])
def test_a_bad_sidecar_rejects_the_document_clearly(tmp_path: Path, content: str):
    doc = tmp_path / "a.txt"
    doc.write_text("正文。", encoding="utf-8")
    (tmp_path / "a.meta.json").write_text(content, encoding="utf-8")
    with pytest.raises(DocumentRejected, match=r"a\.txt: .*sidecar"):
        load(doc, source=doc.name)


def test_markdown_front_matter_and_html_meta(tmp_path: Path):
    md = tmp_path / "note.md"
    md.write_text("---\ntitle: 低空经济简报\ndate: 2025-01-03\n---\n\n# 正文标题\n\n杭州设立基金。\n",
                  encoding="utf-8")
    m = load(md, source=md.name).meta
    assert (m.title, m.date, m.date_source) == ("低空经济简报", "2025-01-03", "file")
    page = tmp_path / "page.html"
    page.write_text('<html><head><title>基金新闻</title><meta name="pubdate" content="2025-02-10"></head>'
                    "<body><h1>深圳设立基金</h1><p>深圳宣布设立100亿元基金。</p></body></html>",
                    encoding="utf-8")
    m = load(page, source=page.name).meta
    assert m.date == "2025-02-10" and m.date_source == "file"
