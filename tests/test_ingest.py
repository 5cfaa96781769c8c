from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import DocumentRejected
from rag.ingest import decode_source, discover, load_document, parse_text

from .conftest import CORPUS_FILE

SECTIONS = ["北京市", "上海市", "深圳市", "苏州市", "成都市", "南京市", "绍兴市", "武汉市",
            "河北省", "唐山市", "赣州市", "合肥市", "重庆市"]
TITLES = [
    "地方政府产业基金瞄准人形机器人",
    "山东实施“三新”工程",
    "武汉打造国内一流",
    "甘肃启动产业科技创新任务“揭榜挂帅”工作",
    "南昌出台支持制造业全面数字化转型“十条措施”",
]


@pytest.fixture(scope="module")
def doc():
    return load_document(CORPUS_FILE)


def test_five_articles_with_titles_and_subtitles(doc):
    assert [a.title for a in doc.articles] == TITLES
    assert doc.articles[1].subtitle == "5G基站将达27万个"
    assert doc.articles[2].subtitle == "人工智能创新集聚区和产业高地"
    assert doc.articles[0].byline == "本报记者 王伟"


def test_thirteen_city_sections_in_the_lead_article(doc):
    headings = [s.heading for s in doc.articles[0].sections if s.heading]
    assert headings == SECTIONS
    for a in doc.articles[1:]:
        assert all(s.heading is None for s in a.sections)


def test_lead_caption_and_byline_are_recognised(doc):
    kinds = [(p.kind, p.text[:6]) for p in doc.articles[0].sections[0].paragraphs]
    assert kinds[0] == ("caption", "图为一小鹏人")
    assert kinds[1] == ("byline", "本报记者 王")
    assert kinds[2][0] == "lead"
    for a in doc.articles[1:]:
        first = a.sections[0].paragraphs[0]
        assert first.kind == "lead" and first.text.startswith("本报讯")


@pytest.mark.parametrize(
    "joined",
    ["加速具身智能机器人技术", "苏州吴中区设立总规模达100亿元", "调度还不够", "重点投资智能机器人",
     "显著提升", "科技重点项目组织管理方式", "产业科技攻关", "进行奖补", "工业互联网平台建设",
     "工业互联网一体化进园区"],
)
def test_column_breaks_are_rejoined(doc, joined):
    paragraphs = [p.text for a in doc.articles for s in a.sections for p in s.paragraphs]
    assert any(joined in p for p in paragraphs)


def test_paragraph_offsets_point_into_the_source(doc):
    n = 0
    for a in doc.articles:
        for s in a.sections:
            for p in s.paragraphs:
                assert len(p.offsets) == len(p.text)
                for ch, off in zip(p.text, p.offsets, strict=True):
                    assert doc.text[off] == ch or ch == " "
                n += 1
    assert n > 30


def test_real_paragraph_breaks_are_kept(doc):
    shandong = doc.articles[1].sections[0].paragraphs
    assert len(shandong) >= 10
    assert not any("**" in p.text for p in shandong)


def test_doc_id_comes_from_content(tmp_path: Path):
    a = tmp_path / "a.txt"
    b = tmp_path / "b.md"
    a.write_text("# 标题\n\n正文。", encoding="utf-8")
    b.write_text("# 标题\n\n正文。", encoding="utf-8")
    assert load_document(a).doc_id == load_document(b).doc_id
    b.write_text("# 标题\n\n正文有变。", encoding="utf-8")
    assert load_document(a).doc_id != load_document(b).doc_id


def test_html_scripts_and_tags_are_stripped():
    html = (b"<html><head><title>t</title><script>alert(1)</script></head><body>"
            b"<h1>\xe6\xa0\x87\xe9\xa2\x98</h1><p>Hello <b>world</b><img src=x onerror=alert(1)>"
            b"</p><a href='javascript:alert(2)'>link</a><style>p{}</style></body></html>")
    text, _ = decode_source(html, "page.html")
    assert "alert" not in text and "<" not in text and "onerror" not in text
    assert "# 标题" in text and "Hello world" in text
    doc = parse_text(text, source="page.html", content_hash="0" * 64)
    assert doc.articles[0].title == "标题"


@pytest.mark.parametrize(
    ("raw", "name", "message"),
    [(b"\x00\x01\x02", "x.txt", "binary"), (b"\xff\xfe\xfa", "x.txt", "UTF-8")],
)
def test_bad_bytes_are_rejected(raw, name, message):
    with pytest.raises(DocumentRejected, match=message):
        decode_source(raw, name)


def test_unsupported_and_missing_files_are_rejected(tmp_path: Path):
    f = tmp_path / "x.exe"
    f.write_bytes(b"MZ")
    with pytest.raises(DocumentRejected, match="unsupported"):
        load_document(f)
    with pytest.raises(DocumentRejected, match="no such file"):
        discover([tmp_path / "nope"])


def test_plain_text_without_headings_gets_one_article(tmp_path: Path):
    f = tmp_path / "note.txt"
    f.write_text("这是第一句。这是第二句。\n\n第二段。", encoding="utf-8")
    doc = load_document(f)
    assert len(doc.articles) == 1
    assert doc.articles[0].title == "note"
