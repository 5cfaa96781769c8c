"""Read source files and recover their structure: articles, subtitles, sections, leads,
bylines and captions, with extraction defects (column breaks) repaired.

Every paragraph keeps the spans of the source text it came from, so a passage can always be
traced back to ``source_text[start:end]``. For ``.html`` the source text is the text
extracted from the markup (tags, scripts and styles dropped); offsets refer to that text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentRejected

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

_HEADING = re.compile(r"^(#{1,6})[ \t\u3000]+(.*?)[ \t\u3000#]*$")
_CAPTION = re.compile(r"^(图为|图:|图：|图片|（图|\(图)")
_BYLINE = re.compile(
    r"^(本报|特约|见习)?(记者|通讯员|评论员)[ \t\u3000]*[\u4e00-\u9fff·]{2,4}"
    r"([ \t\u3000、,，]+[\u4e00-\u9fff·]{2,4})*$"
)
_NEWS_LEAD = re.compile(r"^(\*\*|__)?(本报讯|本刊讯|新华社|据新华社|中新网)")
_EMPHASIS = re.compile(r"\*\*")
# A paragraph ending in one of these is complete; anything else before a blank line is a
# column break (the sentence goes on in the next block).
_TERMINAL = set("。！？；!?;…：:”’」』)）]】》>.\"'")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of text, made of one or more source spans joined without a gap."""

    spans: tuple[tuple[int, int], ...]
    text: str
    kind: str  # lead | body | caption | byline
    offsets: tuple[int, ...]  # source offset of each character of ``text``

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]


@dataclass
class Section:
    heading: str | None
    paragraphs: list[Paragraph] = field(default_factory=list)


@dataclass
class Article:
    title: str
    subtitle: str | None = None
    byline: str | None = None
    sections: list[Section] = field(default_factory=list)


@dataclass
class ParsedDocument:
    doc_id: str
    source: str
    text: str
    content_hash: str
    articles: list[Article]

    @property
    def title(self) -> str:
        return self.articles[0].title if self.articles else self.source


def read_source(path: Path) -> tuple[str, str]:
    """Return (source text, content hash) of a file, or raise DocumentRejected."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentRejected(
            f"{path.name}: unsupported file type {suffix or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentRejected(f"{path}: cannot read file ({exc.strerror or exc})") from None
    return decode_source(raw, path.name)


def decode_source(raw: bytes, name: str) -> tuple[str, str]:
    """Decode uploaded or read bytes into source text; reject binary or non-UTF-8 data."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(f"{name}: file too large ({len(raw)} bytes)")
    if b"\x00" in raw:
        raise DocumentRejected(f"{name}: binary data (NUL bytes) is not a text document")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(f"{name}: not valid UTF-8 text (byte {exc.start})") from None
    content_hash = hashlib.sha256(raw).hexdigest()
    if Path(name).suffix.lower() in (".html", ".htm"):
        text = html_to_text(text)
    return text, content_hash


def html_to_text(markup: str) -> str:
    """Plain text of an HTML page: headings become ``#`` lines, blocks become paragraphs.

    Scripts, styles and other non-content elements are dropped; nothing is executed and no
    markup survives, so hostile pages cannot inject HTML into answers.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "object", "embed",
                     "svg", "head", "meta", "link", "button", "form", "nav", "footer"]):
        tag.decompose()
    blocks: list[str] = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote",
                             "td", "th", "figcaption"]):
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
    return "\n\n".join(blocks) + "\n"


def doc_id_for(content_hash: str) -> str:
    """Document ids derive from content: the same bytes always get the same id."""
    return content_hash[:16]


@dataclass
class _Block:
    spans: list[tuple[int, int]]
    text: str
    level: int  # 0 for text, 1-6 for headings
    offsets: tuple[int, ...] = ()


def _blocks(text: str) -> list[_Block]:
    """Blank-line separated blocks with the spans of their (stripped) lines."""
    blocks: list[_Block] = []
    cur: list[tuple[int, int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        s, e = pos, pos + len(body)
        while s < e and text[s] in " \t\u3000\ufeff":
            s += 1
        while e > s and text[e - 1] in " \t\u3000":
            e -= 1
        pos += len(line)
        if s == e:
            if cur:
                blocks.append(_make_block(text, cur))
                cur = []
            continue
        if cur and (_HEADING.match(text[s:e]) or _HEADING.match(text[cur[0][0]:cur[0][1]])):
            blocks.append(_make_block(text, cur))
            cur = []
        cur.append((s, e))
    if cur:
        blocks.append(_make_block(text, cur))
    return blocks


def _strip_emphasis(text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """Split a span around markdown emphasis markers so they do not reach the passage text."""
    s, e = span
    out: list[tuple[int, int]] = []
    for m in _EMPHASIS.finditer(text, s, e):
        if m.start() > s:
            out.append((s, m.start()))
        s = m.end()
    if s < e:
        out.append((s, e))
    return out


def _join(text: str, spans: list[tuple[int, int]]) -> tuple[str, tuple[int, ...]]:
    """Join spans into one string and the source offset of each of its characters.

    Spans meet without a gap, except that a space separates two Latin letters or digits
    (hard-wrapped Latin text); that space takes the offset of the character before it.
    """
    parts: list[str] = []
    offs: list[int] = []
    for s, e in spans:
        piece = text[s:e]
        if parts and piece:
            a, b = parts[-1][-1], piece[0]
            if not (_CJK.match(a) or _CJK.match(b)) and a.isalnum() and b.isalnum():
                parts.append(" ")
                offs.append(offs[-1])
        parts.append(piece)
        offs.extend(range(s, e))
    return "".join(parts), tuple(offs)


def _block(text: str, spans: list[tuple[int, int]]) -> _Block:
    joined, offs = _join(text, spans)
    return _Block(spans, joined, 0, offs)


def _make_block(text: str, lines: list[tuple[int, int]]) -> _Block:
    first = text[lines[0][0]:lines[0][1]]
    m = _HEADING.match(first)
    if m:
        s = lines[0][0] + m.start(2)
        e = s + len(m.group(2))
        while s < e and text[s] in " \t\u3000":
            s += 1
        return _Block([(s, e)], text[s:e], len(m.group(1)))
    spans = [piece for span in lines for piece in _strip_emphasis(text, span)]
    spans = [(s, e) for s, e in spans if text[s:e].strip()]
    return _block(text, spans)


def _is_caption(t: str) -> bool:
    return bool(_CAPTION.match(t)) and len(t) <= 60


def _is_byline(t: str) -> bool:
    return bool(_BYLINE.match(t))


def _ends_open(t: str) -> bool:
    t = t.rstrip()
    return bool(t) and t[-1] not in _TERMINAL and unicodedata.category(t[-1])[0] in "LN"


def _repair_column_breaks(text: str, blocks: list[_Block]) -> list[_Block]:
    """Rejoin text blocks that a column break split mid-word or mid-sentence.

    Runs of blocks to rejoin are collected first and each run is joined once (joining block
    by block took quadratic time on a document made of many open-ended blocks).
    """
    runs: list[list[_Block]] = []
    chars = 0  # characters in the blocks of the last run
    for b in blocks:
        run = runs[-1] if runs else None
        if (
            run is not None
            and run[0].level == 0
            and b.level == 0
            and b.spans
            and _ends_open(run[-1].text)
            and not _caption_or_byline(text, run, chars)
            and not _NEWS_LEAD.match(text[b.spans[0][0]:b.spans[0][1]])
            and not _is_byline(b.text)
        ):
            run.append(b)
            chars += len(b.text)
        else:
            runs.append([b])
            chars = len(b.text)
    return [r[0] if len(r) == 1 else _block(text, [s for x in r for s in x.spans]) for r in runs]


def _caption_or_byline(text: str, run: list[_Block], chars: int) -> bool:
    """Whether the blocks of a run, joined, are a caption or a byline. A single block is
    checked whatever its length; joined blocks longer than any caption are taken as neither."""
    if len(run) == 1:
        t = run[0].text
    elif chars > 60:
        return False
    else:
        t = _join(text, [s for x in run for s in x.spans])[0]
    return _is_caption(t) or _is_byline(t)


def parse_text(text: str, *, source: str, content_hash: str) -> ParsedDocument:
    """Recover articles and sections from extracted newspaper or Markdown text.

    ``##`` headings are article titles when a subtitle, a news lead (本报讯…) or a byline
    follows them, and section headings (e.g. ``## 北京市``) otherwise.
    """
    blocks = _repair_column_breaks(text, [b for b in _blocks(text) if b.spans])
    articles: list[Article] = []
    article: Article | None = None
    section: Section | None = None
    i = 0
    while i < len(blocks):
        b = blocks[i]
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if b.level:
            starts_article = (
                article is None
                or b.level == 1
                or (b.level == 2 and nxt is not None and nxt.level == 3)
                or (
                    b.level == 2
                    and nxt is not None
                    and nxt.level == 0
                    and bool(_NEWS_LEAD.match(text[nxt.spans[0][0]:]) or _is_byline(nxt.text))
                )
            )
            if starts_article:
                article = Article(title=b.text)
                section = Section(None)
                article.sections.append(section)
                articles.append(article)
                if nxt is not None and nxt.level == b.level + 1 and b.level <= 2:
                    article.subtitle = nxt.text
                    i += 1
            else:
                assert article is not None
                section = Section(b.text)
                article.sections.append(section)
            i += 1
            continue
        if article is None or section is None:
            article = Article(title=_fallback_title(b.text, source))
            section = Section(None)
            article.sections.append(section)
            articles.append(article)
        if _is_caption(b.text):
            kind = "caption"
        elif _is_byline(b.text):
            kind = "byline"
            article.byline = article.byline or b.text
        else:
            kind = "body"
        section.paragraphs.append(Paragraph(tuple(b.spans), b.text, kind, b.offsets))
        i += 1
    for a in articles:
        a.sections = [s for s in a.sections if s.paragraphs]
        _mark_lead(a)
    articles = [a for a in articles if a.sections]
    return ParsedDocument(
        doc_id=doc_id_for(content_hash),
        source=source,
        text=text,
        content_hash=content_hash,
        articles=articles,
    )


def _mark_lead(article: Article) -> None:
    """The lead is what precedes the first section heading, or, in an article without
    sections, its opening paragraph."""
    if not article.sections or article.sections[0].heading is not None:
        return
    opening = article.sections[0]
    has_sections = len(article.sections) > 1
    seen = False
    for j, p in enumerate(opening.paragraphs):
        if p.kind != "body":
            continue
        if has_sections or not seen:
            opening.paragraphs[j] = Paragraph(p.spans, p.text, "lead", p.offsets)
        seen = True


def _fallback_title(first: str, source: str) -> str:
    first = first.strip()
    if len(first) <= 40 and not _ends_sentence(first):
        return first
    return Path(source).stem


def _ends_sentence(t: str) -> bool:
    return bool(t) and t[-1] in "。！？.!?"


def load_document(path: Path, *, source: str | None = None) -> ParsedDocument:
    """Read and parse one file."""
    text, content_hash = read_source(path)
    return parse_text(text, source=source or path.name, content_hash=content_hash)


def discover(paths: list[Path]) -> list[Path]:
    """Supported files under the given files and folders, sorted, hidden files skipped."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(
                f for f in sorted(p.rglob("*"))
                if f.is_file()
                and f.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and f.name.lower() != "readme.md"
            )
        elif p.is_file():
            found.append(p)
        else:
            raise DocumentRejected(f"{p}: no such file or folder")
    return found
