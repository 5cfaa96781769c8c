"""Turn the bytes of one file into the text the parser reads, plus metadata hints.

Formats (by suffix, see ``SUPPORTED_SUFFIXES``):

* ``.txt`` / ``.md`` / ``.markdown`` / ``.html`` / ``.htm`` -- text, decoded as below. A
  markdown file's YAML front matter (``---`` ... ``---`` at the very start) is removed from
  the text and its ``title``/``date``/``type`` (or ``category``)/``author`` become ``meta``.
  HTML becomes plain text (``html_to_text``): headings ``h1``-``h6`` become ``#`` lines,
  blocks become paragraphs; ``<title>``, ``<meta>`` and the first ``<time datetime>`` give
  ``meta``.
* ``.pdf`` -- pdfplumber, page by page; hard-wrapped lines are rejoined into paragraphs
  (``_pdf_paragraphs`` documents the rule). Encrypted or damaged files are rejected.
* ``.docx`` -- python-docx: paragraphs and tables in body order; ``Heading N`` / ``标题 N``
  styles become ``#``*(N+1) lines, sections under the title (``Title`` -> ``#``); a table
  row becomes one line, its cells joined with `` | ``. Core properties ``title`` and ``created`` become ``meta``.

Text decoding, a strict try-order (never a guess that could silently produce mojibake):

1. a byte-order mark decides: UTF-8 (``utf-8-sig``), UTF-16 LE/BE (``utf-16``); the rest must
   decode strictly;
2. a file holding NUL bytes is UTF-16 without a BOM only when it is clearly so (even length,
   it decodes strictly and reads as text in one byte order and not in the other:
   ``utf-16-le`` / ``utf-16-be``); otherwise it is binary data and rejected. (A UTF-16 text
   without a BOM and without any ASCII character, newline included, is not recognised);
3. strict UTF-8 (``utf-8``);
4. strict GB18030 (``gb18030``, a superset of GBK and GB2312). Every Big5 byte sequence is
   also valid GB18030, so when the bytes decode as Big5 too, ``charset-normalizer``
   (restricted to those two) decides between them (``big5``);
5. anything else is rejected, naming the first byte GB18030 cannot decode.

For HTML, a ``charset`` declared in the first 2 KiB is tried (strictly) before step 3.
Decoded text with more than 1% control characters (other than tab, newlines, form feed) is
rejected as binary. ``encoding`` in the result is the Python codec that decodes the raw bytes.

Every failure raises ``DocumentRejected`` with one line: the file name, then why.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import hashlib
import io
import itertools
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import DocumentRejected

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_HTML_SUFFIXES = (".html", ".htm")
_MD_SUFFIXES = (".md", ".markdown")
META_KEYS = ("title", "date", "type", "author")


@dataclass(frozen=True)
class Extracted:
    """The text of one file as the parser reads it, and what the file says about itself."""

    text: str
    content_hash: str  # sha256 hex of the raw bytes
    encoding: str | None  # the codec that decodes the raw bytes; None for pdf/docx
    meta: dict[str, str] = field(default_factory=dict)  # keys among META_KEYS, dates as written

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "content_hash": self.content_hash, "encoding": self.encoding,
                "meta": dict(self.meta)}


def read_file(path: Path) -> Extracted:
    """Read one file and extract it; raise DocumentRejected when it cannot be used."""
    check_suffix(path.name)
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:  # before reading it all
            raise DocumentRejected(f"{path.name}: file too large ({size} bytes; the limit is {MAX_DOCUMENT_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentRejected(f"{path.name}: cannot read file ({exc.strerror or exc})") from None
    return extract(raw, path.name)


def extract(raw: bytes, name: str) -> Extracted:
    """Text and metadata hints of the file ``name`` holding ``raw``; raise DocumentRejected
    (unsupported type, empty, too large, undecodable, damaged, binary) otherwise."""
    suffix = check_suffix(name)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(f"{name}: file too large ({len(raw)} bytes; the limit is {MAX_DOCUMENT_BYTES})")
    if not raw:
        raise DocumentRejected(f"{name}: empty (zero bytes)")
    content_hash = hashlib.sha256(raw).hexdigest()
    meta: dict[str, str] = {}
    encoding: str | None = None
    if suffix == ".pdf":
        text = _pdf_text(raw, name)
    elif suffix == ".docx":
        text, meta = _docx_text(raw, name)
    else:
        text, encoding = decode_text(raw, name, html=suffix in _HTML_SUFFIXES)
        if suffix in _HTML_SUFFIXES:
            text, meta = html_extract(text)
        elif suffix in _MD_SUFFIXES:
            text, meta = split_front_matter(text)
    if not text.strip():
        raise DocumentRejected(f"{name}: empty (no text)")
    return Extracted(text=text, content_hash=content_hash, encoding=encoding, meta=meta)


def check_suffix(name: str) -> str:
    """The file's suffix, or DocumentRejected naming the supported ones."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentRejected(
            f"{name}: unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return suffix


# --- text decoding ----------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16-LE"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16-BE"))
_CHARSET_DECL = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_DECLARED = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "x-gbk": "gb18030",
             "cp936": "gb18030", "big5": "big5", "big5-hkscs": "big5", "utf-8": "utf-8", "utf8": "utf-8"}
_BAD_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode_text(raw: bytes, name: str, *, html: bool = False) -> tuple[str, str]:
    """(text, codec) of a text file's bytes, by the try-order in the module docstring."""
    text, encoding = _decode(raw, name, html=html)
    if "\x00" in text or len(_BAD_CONTROLS.findall(text)) > len(text) / 100:
        raise DocumentRejected(f"{name}: binary data (control characters) is not a text document")
    return text, encoding


def _decode(raw: bytes, name: str, *, html: bool) -> tuple[str, str]:
    for bom, codec, label in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec), codec
            except UnicodeDecodeError as exc:
                raise DocumentRejected(
                    f"{name}: undecodable text: starts with a {label} byte-order mark but byte {exc.start} "
                    f"is not valid {label} ({exc.reason}); it is not UTF-8 or GB18030 text either"
                ) from None
    if b"\x00" in raw:
        utf16 = _utf16_without_bom(raw)
        if utf16 is None:
            raise DocumentRejected(f"{name}: binary data (NUL bytes) is not a text document")
        return utf16
    if html:
        m = _CHARSET_DECL.search(raw[:2048])
        declared = _DECLARED.get(m.group(1).decode("ascii").lower()) if m else None
        if declared:
            try:
                return raw.decode(declared), declared
            except UnicodeDecodeError:
                pass  # the declaration is wrong; fall back to the try-order
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_at = exc.start
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(
            f"{name}: undecodable text: byte {exc.start} (0x{raw[exc.start]:02x}) is not valid GB18030/GBK "
            f"and the file is not UTF-8 either (byte {utf8_at})"
        ) from None
    try:
        big5 = raw.decode("big5")
    except UnicodeDecodeError:
        return text, "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=["gb18030", "big5"]).best()
    if best is not None and best.encoding == "big5":
        return big5, "big5"
    return text, "gb18030"


def _plausible(ch: str) -> bool:
    o = ord(ch)
    return (ch in "\t\n\r\f" or 0x20 <= o < 0x7F or 0xA0 <= o < 0x250 or 0x2000 <= o < 0x2070
            or 0x2190 <= o < 0x2700 or 0x3000 <= o < 0x3100 or 0x3400 <= o < 0xA000
            or 0xF900 <= o < 0xFB00 or 0xFE30 <= o < 0xFE50 or 0xFF00 <= o < 0xFFF0)


def _utf16_without_bom(raw: bytes) -> tuple[str, str] | None:
    """(text, codec) when ``raw`` is clearly UTF-16 without a BOM, else None: even length,
    a strict decode without NUL characters in one byte order, at least 95% of the characters
    ordinary text (CJK, Latin, punctuation, whitespace) in that order and at most 80% in the
    other (``一`` is ``00 4E``, so where the NULs sit alone does not tell the order)."""
    if len(raw) % 2:
        return None
    scores: dict[str, tuple[float, str]] = {}
    for codec in ("utf-16-le", "utf-16-be"):
        sample = raw[:65536].decode(codec, errors="replace")  # cheap first look at big binaries
        if sum(map(_plausible, sample)) < 0.9 * len(sample) and len(raw) > 65536:
            continue
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if text and "\x00" not in text:
            scores[codec] = (sum(map(_plausible, text)) / len(text), text)
    ranked = sorted(scores.items(), key=lambda kv: kv[1][0], reverse=True)
    if not ranked or ranked[0][1][0] < 0.95 or (len(ranked) > 1 and ranked[1][1][0] > 0.8):
        return None
    codec, (_, text) = ranked[0]
    # and words, not symbols: binary such as 00 01 02 ff reads as Ā＂Ā＂ (all "ordinary")
    if sum(map(_wordlike, text)) < 0.4 * len(text):
        return None
    return text, codec


def _wordlike(ch: str) -> bool:
    """ASCII letters, digits and spaces, or CJK ideographs: what most of a text is made of."""
    o = ord(ch)
    return (ch.isascii() and (ch.isalnum() or ch.isspace())) or 0x3400 <= o < 0xA000 or 0xF900 <= o < 0xFB00


# --- markdown front matter --------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)",
                           re.DOTALL | re.MULTILINE)


def split_front_matter(text: str) -> tuple[str, dict[str, str]]:
    """(text without its YAML front matter, meta from it). Front matter that is not valid
    YAML or not a mapping is left in the text, and gives no meta."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return text, {}
    import yaml

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return text, {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return text, {}
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    meta: dict[str, str] = {}
    for key, names in (("title", ("title",)), ("date", ("date",)), ("type", ("type", "category")),
                       ("author", ("author", "authors"))):
        for n in names:
            value = _meta_value(lowered.get(n))
            if value:
                meta[key] = value
                break
    return text[m.end():], meta


def _meta_value(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        parts = [p for p in (_meta_value(v) for v in value) if p]
        return "、".join(parts) or None
    if isinstance(value, dict):
        return None
    s = " ".join(str(value).split())
    return s or None


# --- HTML -------------------------------------------------------------------------------

_META_TITLE = ("title", "og:title", "twitter:title", "dc.title")
_META_DATE = ("date", "pubdate", "publishdate", "article:published_time", "dc.date", "dc.date.issued")
_META_AUTHOR = ("author", "article:author", "dc.creator")
_DROP = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head", "meta",
         "link", "button", "form", "nav", "footer"]
_BLOCKS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "figcaption"]


def html_to_text(markup: str) -> str:
    """Plain text of an HTML page: headings become ``#`` lines, blocks become paragraphs.

    Scripts, styles and other non-content elements are dropped; nothing is executed and no
    markup survives, so hostile pages cannot inject HTML into answers.
    """
    return html_extract(markup)[0]


def html_extract(markup: str) -> tuple[str, dict[str, str]]:
    """(text, meta) of an HTML page. ``meta``: title from ``<meta name|property=title|og:title>``
    or else ``<title>``; date from ``<meta name=date|pubdate|publishdate|article:published_time|
    dc.date|DC.date.issued>`` or else the first ``<time datetime>``; author from
    ``<meta name=author>``. Each heading keeps its own level (an ``h2`` after the ``h1`` stays
    a ``##`` section line)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    meta = _html_meta(soup)
    for tag in soup(_DROP):
        tag.decompose()
    blocks: list[str] = []
    for el in soup.find_all(_BLOCKS):
        if el.find_parent(["p", "li", "pre", "blockquote", "td", "th"]) is not None:
            continue
        words = " ".join(el.get_text(" ", strip=True).split())
        if not words:
            continue
        if el.name and el.name[0] == "h" and el.name[1:].isdigit():
            words = "#" * int(el.name[1:]) + " " + words
        blocks.append(words)
    if not blocks:
        blocks = [line.strip() for line in soup.get_text("\n").splitlines() if line.strip()]
    return "\n\n".join(blocks) + "\n", meta


def _html_meta(soup: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = str(tag.get("name") or tag.get("property") or tag.get("itemprop") or "").strip().lower()
        content = " ".join(str(tag.get("content") or "").split())
        if not key or not content:
            continue
        for out, names in (("title", _META_TITLE), ("date", _META_DATE), ("author", _META_AUTHOR)):
            if key in names and out not in found:
                found[out] = content
    if "title" not in found and soup.title is not None:
        title = " ".join(soup.title.get_text(" ", strip=True).split())
        if title:
            found["title"] = title
    if "date" not in found:
        time = soup.find("time", attrs={"datetime": True})
        if time is not None:
            value = " ".join(str(time.get("datetime")).split())
            if value:
                found["date"] = value
    return found


# --- PDF --------------------------------------------------------------------------------

_PARA_END = tuple("。！？：!?:")
_CJK_CLASS = r"\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u3000-\u303f“”‘’"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK_CLASS}])[ \t]+|[ \t]+(?=[{_CJK_CLASS}])")
# a decimal point with a gap before it, or after it when a unit or % follows the digits
# (``2013. 2014 was`` keeps its space)
_SPACED_POINT = re.compile(r"(?<=\d)[ \t]+\.[ \t]*(?=\d)|(?<=\d)\.[ \t]+(?=\d+(?:[%‰]|[\u3400-\u9fff]))")
_SPACE_BEFORE = re.compile(r"(?<=\d)[ \t]+(?=[%‰]|,\d)")


def clean_pdf_line(text: str) -> str:
    """A PDF text line without the spaces that glyph gaps put between CJK characters and
    inside numbers (``56 . 9 万亿元`` -> ``56.9万亿元``, ``7.5 %`` -> ``7.5%``)."""
    text = " ".join(text.split())
    text = _SPACE_NEAR_CJK.sub("", text)
    return _SPACE_BEFORE.sub("", _SPACED_POINT.sub(".", text))


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    page: int

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)


def _pdf_text(raw: bytes, name: str) -> str:
    head = raw[:1024]
    if b"%PDF-" not in head:
        raise DocumentRejected(f"{name}: damaged PDF (no %PDF header)")
    if b"%%EOF" not in raw[-2048:]:
        raise DocumentRejected(f"{name}: damaged PDF (truncated: no %%EOF marker at the end)")
    import pdfplumber

    lines: list[list[_Line]] = []
    try:
        with pdfplumber.open(io.BytesIO(raw)) as pdf:
            for n, page in enumerate(pdf.pages):
                page_lines = []
                for ln in page.extract_text_lines(strip=True, return_chars=False):
                    text = clean_pdf_line(str(ln["text"]))
                    if text:
                        page_lines.append(_Line(text, float(ln["x0"]), float(ln["x1"]), float(ln["top"]),
                                                float(ln["bottom"]), n))
                lines.append(page_lines)
    except Exception as exc:  # pdfminer raises many unrelated types on bad input
        if _is_password_error(exc):
            raise DocumentRejected(f"{name}: encrypted PDF (password protected); decrypt it first") from None
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise DocumentRejected(f"{name}: damaged PDF ({type(exc).__name__}: {detail})") from None
    paragraphs = _pdf_paragraphs(lines)
    if not paragraphs:
        raise DocumentRejected(f"{name}: empty (no text in the PDF; a scanned PDF needs OCR first)")
    return "\n\n".join(paragraphs) + "\n"


def _is_password_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if "Password" in type(seen).__name__ or "password" in str(seen).lower():
            return True
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = inner or seen.__cause__ or seen.__context__
    return False


def _pdf_paragraphs(pages: list[list[_Line]]) -> list[str]:
    """Rejoin hard-wrapped lines into paragraphs. A paragraph ends after a line when

    * the next line starts lower than usual (the vertical step is more than 1.3 times the
      page's normal line pitch, the lower quartile of its steps, capped at 1.6 line heights),
    * the font size changes (line height differs by more than 15%: a heading),
    * the line ends in ``。！？：`` (or ASCII ``!?:``) and stops short of the right margin
      (more than 1.2 character widths: a paragraph's last line; a full line that happens to
      end a sentence continues), or
    * the next line is indented by about a character (the first line of a paragraph).

    Across a page break only the last two rules apply. Lines are joined without a gap (CJK
    text wraps anywhere, even inside ``10.1%``), except that a line without CJK characters
    ending in a Latin letter or digit gets a space before a next line starting with one.
    Running headers and page numbers are not recognised (they stay as lines of their own
    paragraphs).
    """
    paragraphs: list[str] = []
    current = ""
    prev: _Line | None = None
    prev_right = 0.0
    for page_lines in pages:
        if not page_lines:
            continue
        left = min(ln.x0 for ln in page_lines)
        right = max(ln.x1 for ln in page_lines)
        steps = [b.top - a.top for a, b in itertools.pairwise(page_lines) if b.top - a.top > 0]
        normal = statistics.quantiles(steps, n=4)[0] if len(steps) >= 2 else (steps[0] if steps else 0.0)
        for ln in page_lines:
            if prev is not None:
                charw = prev.height
                brk = (prev.text.endswith(_PARA_END) and prev.x1 < prev_right - 1.2 * charw) or (
                    ln.x0 > left + 0.8 * ln.height)
                if prev.page == ln.page:
                    pitch = min(normal or 1.6 * prev.height, 1.6 * prev.height)
                    brk = brk or ln.top - prev.top > 1.3 * pitch or abs(ln.height - prev.height) > 0.15 * prev.height
                if brk:
                    paragraphs.append(current)
                    current = ln.text
                else:
                    latin = not _CJK.search(prev.text) and current[-1:].isascii() and current[-1:].isalnum()
                    gap = " " if latin and ln.text[0].isascii() and ln.text[0].isalnum() else ""
                    current += gap + ln.text
            else:
                current = ln.text
            prev, prev_right = ln, right
    if current:
        paragraphs.append(current)
    return [p for p in paragraphs if p.strip()]


# --- DOCX -------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLE = ("title", "标题")
# python-docx's own template carries this creation time; it says nothing about the document
_PYTHON_DOCX_STAMP = _dt.datetime(2013, 12, 23, 23, 15, tzinfo=_dt.UTC)


def _docx_text(raw: bytes, name: str) -> tuple[str, dict[str, str]]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if raw.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE container: a legacy .doc or an encrypted .docx
        raise DocumentRejected(f"{name}: damaged DOCX (an OLE file: a password-protected DOCX or an old .doc; "
                               "save it as an unprotected .docx)")
    try:
        document = docx.Document(io.BytesIO(raw))
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                text = " ".join(item.text.split())
                if text:
                    level = _heading_level(item)
                    blocks.append("#" * level + " " + text if level else text)
            elif isinstance(item, Table):
                rows = list(_table_rows(item))
                if rows:
                    blocks.append("\n".join(rows))
        props = document.core_properties
        meta: dict[str, str] = {}
        title = " ".join((props.title or "").split())
        if title:
            meta["title"] = title
        created = props.created
        if isinstance(created, _dt.datetime) and _as_utc(created) != _PYTHON_DOCX_STAMP:
            meta["date"] = created.date().isoformat()
        author = " ".join((props.author or "").split())
        if author and author != "python-docx":
            meta["author"] = author
    except Exception as exc:  # zipfile, lxml and python-docx errors alike
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise DocumentRejected(f"{name}: damaged DOCX ({type(exc).__name__}: {detail})") from None
    return "\n\n".join(blocks) + "\n", meta


def _as_utc(value: _dt.datetime) -> _dt.datetime:
    return value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value.astimezone(_dt.UTC)


def _heading_level(paragraph: Any) -> int:
    style = paragraph.style
    while style is not None:
        style_name = " ".join(str(style.name or "").split())
        m = _HEADING_STYLE.match(style_name)
        if m:  # Heading 1 is a section under the document's title (Title is the #)
            return min(int(m.group(1)) + 1, 6)
        if style_name.lower() in _TITLE_STYLE:
            return 1
        style = style.base_style
    return 0


def _table_rows(table: Any) -> Iterable[str]:
    """One line per row, cells joined with `` | `` (a merged cell counted once; empty rows
    dropped; line breaks inside a cell become spaces)."""
    for row in table.rows:
        cells: list[str] = []
        seen: list[object] = []
        for cell in row.cells:
            if any(cell._tc is s for s in seen):
                continue
            seen.append(cell._tc)
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            yield " | ".join(cells)
