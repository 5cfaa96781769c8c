"""rag.formats on real files made here: the same report text as UTF-8, GB18030, UTF-16,
DOCX and PDF must give the same paragraphs; bad files are rejected with a clear reason."""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import pytest

from rag.errors import DocumentRejected
from rag.formats import (
    MAX_DOCUMENT_BYTES,
    SUPPORTED_SUFFIXES,
    Extracted,
    clean_pdf_line,
    extract,
    html_to_text,
    read_file,
)
from rag.ingest import decode_source, parse_text, read_source

REPORT = Path("/work/shared/corpus-policy/2014-政府工作报告.txt")
HEADING = "一、2013年工作回顾"


def _report_paragraphs() -> list[str]:
    if not REPORT.exists():
        pytest.skip(f"{REPORT} (the 2014 government work report) is not on this machine")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", REPORT.read_text(encoding="utf-8")) if b.strip()]
    start = blocks.index(HEADING)
    return blocks[:start + 9]  # 各位代表：…, the heading, and the paragraphs after it


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    paras = _report_paragraphs()
    assert HEADING in paras
    assert any("国内生产总值达到56.9万亿元，比上年增长7.7%" in p for p in paras)
    return paras


def paras_of(text: str) -> list[str]:
    """Paragraphs of an extracted text: blank-line separated blocks, lines joined without a
    gap (as the parser reads them), markdown heading marks dropped."""
    out = []
    for block in re.split(r"\n[ \t\u3000]*\n", text):
        joined = "".join(line.strip() for line in block.splitlines())
        joined = re.sub(r"^#{1,6} ", "", joined)
        if joined:
            out.append(joined)
    return out


def txt_twin(tmp_path: Path, paragraphs: list[str]) -> Extracted:
    f = tmp_path / "report.txt"
    f.write_bytes(("\n\n".join(paragraphs) + "\n").encode("utf-8"))
    ex = read_file(f)
    assert ex.encoding == "utf-8" and ex.meta == {}
    assert paras_of(ex.text) == paragraphs
    return ex


# --- text encodings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "bom", "expected"),
    [
        ("gb18030", b"", "gb18030"),
        ("gbk", b"", "gb18030"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("utf-16-le", b"\xff\xfe", "utf-16"),
        ("utf-16-be", b"\xfe\xff", "utf-16"),
        ("utf-16-le", b"", "utf-16-le"),
        ("utf-16-be", b"", "utf-16-be"),
    ],
)
def test_encodings_give_the_txt_twins_paragraphs(tmp_path: Path, paragraphs, codec, bom, expected):
    twin = txt_twin(tmp_path, paragraphs)
    raw = bom + ("\n\n".join(paragraphs) + "\n").encode(codec)
    f = tmp_path / f"report-{codec}.txt"
    f.write_bytes(raw)
    ex = read_file(f)
    assert ex.encoding == expected
    assert ex.text == twin.text
    assert raw.decode(ex.encoding) == ex.text  # the reported codec decodes the bytes
    assert ex.content_hash != twin.content_hash  # the hash is of the raw bytes


def test_utf16_without_bom_needs_clear_evidence():
    text = "国内生产总值达到56.9万亿元，比上年增长7.7%。\n"
    assert extract(text.encode("utf-16-le"), "a.txt").text == text
    # NUL bytes scattered over both halves of the code units: binary, not UTF-16
    raw = bytes([0, 65, 66, 0] * 20)
    with pytest.raises(DocumentRejected, match=r"^a\.txt: binary data"):
        extract(raw, "a.txt")


def test_big5_is_told_from_gb18030():
    text = "過去一年是本屆政府依法履職的第一年，任務艱巨而繁重。面對世界經濟復甦艱難、國內經濟下行壓力加大。\n"
    ex = extract(text.encode("big5"), "tw.txt")
    assert (ex.encoding, ex.text) == ("big5", text)
    simplified = "过去一年是本届政府依法履职的第一年，任务艰巨而繁重。\n"
    assert extract(simplified.encode("gbk"), "cn.txt").encoding == "gb18030"


def test_invalid_gbk_byte_is_rejected_with_its_offset(tmp_path: Path, paragraphs):
    good = "\n\n".join(paragraphs).encode("gbk")
    at = good.index("国内生产总值".encode("gbk"))
    f = tmp_path / "broken-gbk.txt"
    f.write_bytes(good[:at] + b"\xff" + good[at:])
    with pytest.raises(DocumentRejected) as err:
        read_file(f)
    msg = str(err.value)
    assert msg.startswith("broken-gbk.txt: undecodable text: byte ")
    assert f"byte {at} (0xff)" in msg and "GB18030" in msg
    assert "\n" not in msg


def test_utf8_is_preferred_and_html_declared_charset_is_used():
    assert extract("中文。".encode(), "a.txt").encoding == "utf-8"
    page = '<html><head><meta charset="gb2312"><title>报告</title></head><body><p>增长7.7%。</p></body></html>'
    ex = extract(page.encode("gbk"), "p.html")
    assert ex.encoding == "gb18030" and ex.text == "增长7.7%。\n" and ex.meta == {"title": "报告"}


# --- markdown front matter --------------------------------------------------------------


def test_front_matter_goes_to_meta():
    raw = ("---\ntitle: 2014年政府工作报告\ndate: 2014-03-05\ncategory: 政府工作报告\nauthor: [李克强]\n"
           "extra: ignored\n---\n# 一、2013年工作回顾\n\n国内生产总值达到56.9万亿元。\n").encode()
    ex = extract(raw, "r.md")
    assert ex.text == "# 一、2013年工作回顾\n\n国内生产总值达到56.9万亿元。\n"
    assert ex.meta == {"title": "2014年政府工作报告", "date": "2014-03-05", "type": "政府工作报告",
                       "author": "李克强"}
    # dates as written stay as written; type wins over category
    ex = extract("---\r\ndate: 2024年3月5日\r\ntype: 新闻\r\ncategory: x\r\n---\r\n正文。\r\n".encode(), "n.markdown")
    assert ex.meta == {"date": "2024年3月5日", "type": "新闻"} and ex.text == "正文。\r\n"
    assert extract(b"---\ndate: 2024-03-05 10:00:00\n---\nx\n", "d.md").meta == {"date": "2024-03-05T10:00:00"}


@pytest.mark.parametrize(
    "raw",
    [
        "---\ntitle: [unclosed\n---\n正文。\n",  # not YAML
        "---\n- a list\n---\n正文。\n",  # not a mapping
        "---\ntitle: no end\n正文。\n",  # never closed
        "前言\n---\ntitle: T\n---\n正文。\n",  # not at the very start
    ],
)
def test_broken_front_matter_is_left_in_the_text(raw):
    ex = extract(raw.encode(), "r.md")
    assert ex.text == raw and ex.meta == {}


def test_front_matter_in_txt_is_just_text():
    raw = "---\ntitle: T\n---\n正文。\n"
    assert extract(raw.encode(), "r.txt").text == raw


# --- HTML -------------------------------------------------------------------------------


def test_html_meta_and_headings():
    page = """<!doctype html><html><head><title>报告_新华网</title>
      <meta property="og:title" content="2014年政府工作报告">
      <meta name="DC.date.issued" content="2014-03-05">
      <meta name="author" content="李克强"><script>var x = "<p>no</p>";</script></head>
      <body><nav>首页</nav><h1>政府工作报告</h1><h2>一、2013年工作回顾</h2>
      <p>国内生产总值达到<b>56.9万亿元</b>，比上年增长7.7%。</p><h2>二、2014年工作总体部署</h2>
      <p>增长7.5%左右。</p><time datetime="2020-01-01">x</time></body></html>"""
    ex = extract(page.encode(), "r.html")
    assert ex.meta == {"title": "2014年政府工作报告", "date": "2014-03-05", "author": "李克强"}
    assert ex.text == ("# 政府工作报告\n\n## 一、2013年工作回顾\n\n国内生产总值达到 56.9万亿元 ，比上年增长7.7%。"
                       "\n\n## 二、2014年工作总体部署\n\n增长7.5%左右。\n")
    assert html_to_text(page) == ex.text
    doc = parse_text(ex.text, source="r.html", content_hash="0" * 64)
    assert doc.articles[0].title == "政府工作报告"
    assert doc.articles[0].sections[0].heading == "一、2013年工作回顾"  # a section, not a subtitle


def test_html_title_and_time_fallbacks():
    page = "<html><head><title> 报告  全文 </title></head><body><p>正文。</p><time datetime='2024-03-05T09:00+08:00'>" \
           "3月5日</time><time datetime='2025-01-01'></time></body></html>"
    assert extract(page.encode(), "p.htm").meta == {"title": "报告 全文", "date": "2024-03-05T09:00+08:00"}
    ex = extract(b"<p>only text</p>", "p.html")
    assert ex.meta == {} and ex.text == "only text\n"
    assert decode_source(b"<p>only text</p>", "p.html") == (ex.text, ex.content_hash)


# --- DOCX -------------------------------------------------------------------------------


def _docx(paragraphs: list[str], *, heading: str = HEADING, **props) -> bytes:
    import docx

    d = docx.Document()
    for p in paragraphs:
        if p == heading:
            d.add_paragraph(p, style="Heading 1")
        else:
            d.add_paragraph(p)
    for key, value in props.items():
        setattr(d.core_properties, key, value)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_docx_gives_the_txt_twins_paragraphs(tmp_path: Path, paragraphs):
    twin = txt_twin(tmp_path, paragraphs)
    f = tmp_path / "report.docx"
    f.write_bytes(_docx(paragraphs))
    ex = read_file(f)
    assert ex.encoding is None
    assert f"\n\n## {HEADING}\n\n" in ex.text
    assert paras_of(ex.text) == paras_of(twin.text)
    assert ex.meta == {}  # python-docx's template stamp (2013-12-23) is not a document date
    assert read_source(f) == (ex.text, ex.content_hash)


def test_docx_headings_tables_and_properties():
    import datetime as dt

    import docx
    from docx.enum.style import WD_STYLE_TYPE

    d = docx.Document()
    d.add_paragraph("2014年政府工作报告", style="Title")
    zh = d.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("一、2013年工作回顾", style="Heading 1")
    d.add_paragraph("（一）经济运行", style=zh)
    d.add_paragraph("  国内生产总值达到56.9万亿元。 ")
    d.add_paragraph("")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["指标", "2013年", "增长"], ["国内生产总值", "56.9万亿元", "7.7%"],
                             ["", "", ""]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(0, 1).merge(table.cell(0, 2))
    d.add_paragraph("全社会用电量增长7.5%。")
    d.core_properties.title = "政府工作报告"
    d.core_properties.created = dt.datetime(2014, 3, 5, 9, 0)
    buf = io.BytesIO()
    d.save(buf)
    ex = extract(buf.getvalue(), "r.docx")
    assert ex.text == ("# 2014年政府工作报告\n\n## 一、2013年工作回顾\n\n### （一）经济运行\n\n"
                       "国内生产总值达到56.9万亿元。\n\n"
                       "指标 | 2013年 增长\n国内生产总值 | 56.9万亿元 | 7.7%\n\n全社会用电量增长7.5%。\n")
    assert ex.meta == {"title": "政府工作报告", "date": "2014-03-05"}


# --- PDF --------------------------------------------------------------------------------


def _pdf(paragraphs: list[str], *, indent: bool, page_height: float = 842, encrypt: str | None = None) -> bytes:
    """A PDF set in reportlab's built-in CID font STSong-Light (no font file needed): body
    12 pt, heading 16 pt, lines wrapped at 300 pt, a half-line gap between paragraphs, and
    with ``indent`` a two-character first-line indent instead of the gap."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(420, page_height), encrypt=encrypt)
    left, width, top, bottom = 50.0, 300.0, page_height - 50, 50.0
    y = top
    for p in paragraphs:
        size = 16.0 if p == HEADING else 12.0
        lines: list[str] = []
        line = ""
        first = indent and p != HEADING
        for ch in p:
            room = width - (2 * size if first and not lines else 0)
            if pdfmetrics.stringWidth(line + ch, font, size) > room:
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
        for i, text in enumerate(lines):
            if y < bottom:
                c.showPage()
                y = top
            c.setFont(font, size)
            c.drawString(left + (2 * size if first and i == 0 else 0), y, text)
            y -= size * 1.5
        if not indent:
            y -= 9
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.mark.parametrize("indent", [False, True], ids=["gaps", "indents"])
def test_pdf_gives_the_txt_twins_paragraphs(tmp_path: Path, paragraphs, indent):
    twin = txt_twin(tmp_path, paragraphs)
    f = tmp_path / "report.pdf"
    raw = _pdf(paragraphs, indent=indent, page_height=842 if not indent else 400)
    f.write_bytes(raw)
    if indent:
        import pdfplumber

        with pdfplumber.open(f) as pdf:
            assert len(pdf.pages) > 2  # paragraphs continue across page breaks
    ex = read_file(f)
    assert ex.encoding is None and ex.meta == {}
    assert paras_of(ex.text) == paras_of(twin.text)
    for figure in ("56.9万亿元", "7.7%", "2.6%", "7.5%", "1.2万亿斤"):
        assert figure in ex.text
    assert " " not in ex.text


@pytest.mark.parametrize(("indent", "space_after"), [(22, 0), (0, 8)], ids=["indents", "gaps"])
def test_justified_pdf_gives_the_txt_twins_paragraphs(tmp_path: Path, paragraphs, indent, space_after):
    """reportlab's platypus: CJK wrapping, justified lines (glyph gaps become spaces in
    pdfplumber's text), several pages."""
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    body = ParagraphStyle("body", fontName="STSong-Light", fontSize=11, leading=17, wordWrap="CJK",
                          alignment=TA_JUSTIFY, firstLineIndent=indent, spaceAfter=space_after)
    head = ParagraphStyle("head", parent=body, fontSize=15, leading=22, firstLineIndent=0)
    f = tmp_path / "justified.pdf"
    SimpleDocTemplate(str(f), pagesize=(400, 500)).build(
        [Paragraph(p, head if p == HEADING else body) for p in paragraphs])
    ex = read_file(f)
    assert paras_of(ex.text) == paras_of(txt_twin(tmp_path, paragraphs).text)


def test_pdf_line_cleaning():
    assert clean_pdf_line("国内 生产 总值 达到 56 . 9 万亿 元， 增长 7.5 %") == "国内生产总值达到56.9万亿元，增长7.5%"
    assert clean_pdf_line("GDP grew 7.7 % in 2013 年") == "GDP grew 7.7% in 2013年"


def test_damaged_and_encrypted_pdfs_are_rejected(tmp_path: Path, paragraphs):
    raw = _pdf(paragraphs, indent=False)
    cases = {
        "truncated.pdf": raw[: len(raw) // 2],
        "garbage.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\nxref\n0 x\n%%EOF\n",
        "noheader.pdf": b"hello world",
    }
    for name, data in cases.items():
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(DocumentRejected) as err:
            read_file(f)
        assert str(err.value).startswith(f"{name}: damaged PDF (") or str(err.value).startswith(f"{name}: empty")
        assert "\n" not in str(err.value)
    with pytest.raises(DocumentRejected, match=r"^truncated\.pdf: damaged PDF \(truncated"):
        extract(cases["truncated.pdf"], "truncated.pdf")
    locked = _pdf(paragraphs[:2], indent=False, encrypt="secret")
    with pytest.raises(DocumentRejected, match=r"^locked\.pdf: encrypted PDF"):
        extract(locked, "locked.pdf")


def test_pdf_without_text_is_empty():
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.rect(10, 10, 100, 100)
    c.showPage()
    c.save()
    with pytest.raises(DocumentRejected, match=r"^scan\.pdf: empty \(no text"):
        extract(buf.getvalue(), "scan.pdf")


# --- bad inputs -------------------------------------------------------------------------


def test_damaged_docx_is_rejected(tmp_path: Path):
    real = _docx(["正文。"])
    nodoc = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(real)) as zin, zipfile.ZipFile(nodoc, "w") as zout:
        for item in zin.infolist():
            if item.filename != "word/document.xml":
                zout.writestr(item, zin.read(item.filename))
    for name, data in {"notzip.docx": b"PK\x03\x04 this is not a zip", "half.docx": real[: len(real) // 2],
                       "nodoc.docx": nodoc.getvalue(), "locked.docx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)
                       }.items():
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(DocumentRejected, match=rf"^{re.escape(name)}: damaged DOCX \("):
            read_file(f)


def test_bad_files_are_rejected_with_name_and_reason(tmp_path: Path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.md"
    blank.write_bytes("  \n\u3000\n".encode())
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.truncate(50 * 1024 * 1024)
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(0).randbytes(4096))
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    noext = tmp_path / "README"
    noext.write_bytes(b"text")
    expected = {
        empty: r"^empty\.txt: empty \(zero bytes\)$",
        blank: r"^blank\.md: empty \(no text\)$",
        big: r"^big\.txt: file too large \(52428800 bytes; the limit is 20971520\)$",
        binary: r"^photo\.txt: binary data",
        exe: r"^tool\.exe: unsupported file type \.exe; supported: "
             r"\.txt, \.md, \.markdown, \.html, \.htm, \.pdf, \.docx$",
        noext: r"^README: unsupported file type \(none\); supported: ",
        tmp_path / "missing.txt": r"^missing\.txt: cannot read file \(No such file or directory\)$",
    }
    for path, pattern in expected.items():
        with pytest.raises(DocumentRejected, match=pattern):
            read_file(path)
    with pytest.raises(DocumentRejected, match=r"^x\.txt: file too large"):
        extract(b"a" * (MAX_DOCUMENT_BYTES + 1), "x.txt")
    with pytest.raises(DocumentRejected, match=r"^x\.txt: binary data \(control characters\)"):
        extract(b"abc\x01\x02\x03\x04" * 10, "x.txt")
    with pytest.raises(DocumentRejected, match=r"^x\.txt: undecodable text: starts with a UTF-16-LE byte-order mark"):
        extract(b"\xff\xfe\xfa", "x.txt")


def test_public_surface():
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
    assert MAX_DOCUMENT_BYTES == 20 * 1024 * 1024
    ex = extract("---\ntitle: T\n---\n正文。\n".encode(), "a.md")
    assert ex.to_dict() == {"text": "正文。\n", "content_hash": ex.content_hash, "encoding": "utf-8",
                            "meta": {"title": "T"}}
    with pytest.raises(AttributeError):
        ex.text = "x"  # type: ignore[misc]
