"""Read source files and recover their structure: articles, subtitles, sections, leads,
bylines and captions, with extraction defects (column breaks) repaired.

Every paragraph keeps the spans of the source text it came from, so a passage can always be
traced back to ``source_text[start:end]``. For ``.html`` the source text is the text
extracted from the markup (tags, scripts and styles dropped); offsets refer to that text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentRejected
from rag.formats import MAX_DOCUMENT_BYTES as MAX_DOCUMENT_BYTES  # re-exported
from rag.formats import SUPPORTED_SUFFIXES as SUPPORTED_SUFFIXES  # re-exported
from rag.formats import extract, read_file
from rag.formats import html_to_text as html_to_text  # re-exported
from rag.metadata import GIVEN_MARK, SIDECAR_SUFFIX, DocMeta, clean_meta, read_sidecar
from rag.metadata import resolve as resolve_meta
from rag.structure import HeadingStack, article_marker, is_plain_heading, numbered_style

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
    """Paragraphs under one heading path (outermost heading first; empty: no heading)."""

    headings: tuple[str, ...] = ()
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def heading(self) -> str | None:
        """The innermost heading, or None."""
        return self.headings[-1] if self.headings else None


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
    title_line: str | None = None  # a title standing alone at the top of a plain text

    @property
    def title(self) -> str:
        return self.articles[0].title if self.articles else self.source


def read_source(path: Path) -> tuple[str, str]:
    """Return (source text, content hash) of a file, or raise DocumentRejected."""
    ex = read_file(path)
    return ex.text, ex.content_hash


def decode_source(raw: bytes, name: str) -> tuple[str, str]:
    """Decode uploaded or read bytes into source text (see ``rag.formats``); reject binary,
    undecodable, damaged or unsupported data."""
    ex = extract(raw, name)
    return ex.text, ex.content_hash


def doc_id_for(content_hash: str) -> str:
    """Document ids derive from content: the same bytes always get the same id."""
    return content_hash[:16]


@dataclass
class _Block:
    spans: list[tuple[int, int]]
    text: str
    level: int  # 0 for text, 1-6 for markdown headings
    offsets: tuple[int, ...] = ()
    style: str | None = None  # the numbering style of a numbered (or plain) heading

    @property
    def is_heading(self) -> bool:
        return self.level > 0 or self.style is not None


def _is_md_heading(text: str, span: tuple[int, int]) -> bool:
    return bool(_HEADING.match(text[span[0]:span[1]]))


def _is_numbered(text: str, span: tuple[int, int]) -> bool:
    return numbered_style(text[span[0]:span[1]]) is not None


def _blocks(text: str) -> list[_Block]:
    """Blank-line separated blocks with the spans of their (stripped) lines. A heading line
    (markdown or numbered) is a block of its own even without blank lines around it, and a
    ``第一条`` marker is split from the article body that follows it on its line."""
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
        marker = article_marker(text[s:e])
        if marker and s + marker < e:
            if cur:
                blocks.append(_make_block(text, cur))
            blocks.append(_Block([(s, s + marker)], text[s:s + marker], 0, style="第条"))
            cur = []
            s += marker
            while s < e and text[s] in " \t\u3000":
                s += 1
        if cur and (_is_md_heading(text, (s, e)) or _is_md_heading(text, cur[0])
                    or _is_numbered(text, (s, e)) or _is_numbered(text, cur[0])):
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
    block = _block(text, spans)
    if len(lines) == 1:
        block.style = numbered_style(block.text)
    return block


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
            and not run[0].is_heading
            and not b.is_heading
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


def _mark_plain_headings(blocks: list[_Block]) -> None:
    """Unnumbered headings of plain texts (no markdown headings): see
    :func:`rag.structure.is_plain_heading`. Marked before column-break repair, which would
    otherwise join them to the paragraph below."""
    if any(b.level for b in blocks):
        return
    prev: str | None = None
    for b in blocks:
        if (b.style is None and len(b.spans) == 1 and not _is_caption(b.text)
                and not _is_byline(b.text) and is_plain_heading(b.text, prev)):
            b.style = "plain"
        prev = b.text


def _title_line(blocks: list[_Block]) -> str | None:
    """A plain text's own title: a first block with no punctuation at all (``政府工作报告``
    above its date line), not a salutation such as ``各位代表：``."""
    for b in blocks:
        t = b.text.strip(" \t\u3000\u200b\ufeff")
        if not t:
            continue
        if b.level or len(t) > 30 or re.search(r"[，。、：；！？,.:;!?]", t):
            return None
        return t
    return None


def _lone_child(blocks: list[_Block], i: int) -> bool:
    """Whether markdown heading ``i`` is the only heading of its level under its parent: a
    newspaper's split headline (``## 山东实施“三新”工程`` / ``### 5G基站将达27万个``),
    not the first of several sections."""
    level = blocks[i].level
    for b in blocks[i + 1:]:
        if b.level and b.level < level:
            return True
        if b.level == level:
            return False
    return True


def _opens_news(text: str, b: _Block | None) -> bool:
    return b is not None and b.level == 0 and b.style is None and bool(
        _NEWS_LEAD.match(text[b.spans[0][0]:]) or _is_byline(b.text))


def parse_text(text: str, *, source: str, content_hash: str,
               title: str | None = None) -> ParsedDocument:
    """Recover articles, heading paths and paragraphs from extracted text.

    A ``#`` heading starts an article. A ``##`` starts one (as on a newspaper page) when a
    news lead (本报讯…) or byline follows it, or a lone ``###`` (its subtitle). Any other
    heading, markdown or numbered, opens a section; the first ``##`` after a ``#`` title is
    a section unless a news lead or byline follows it. Text before any heading belongs to an
    article titled ``title`` (the document's title), else the file name.
    """
    raw_blocks = [b for b in _blocks(text) if b.spans]
    title_line = _title_line(raw_blocks)
    _mark_plain_headings(raw_blocks)
    blocks = _repair_column_breaks(text, raw_blocks)
    articles: list[Article] = []
    article: Article | None = None
    section: Section | None = None
    stack = HeadingStack()
    i = 0
    while i < len(blocks):
        b = blocks[i]
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        after = blocks[i + 2] if i + 2 < len(blocks) else None
        if b.level:
            starts_article = (
                article is None
                or b.level == 1
                or (b.level == 2 and nxt is not None and nxt.level == 3 and _lone_child(blocks, i + 1))
                or (b.level == 2 and _opens_news(text, nxt))
            )
            if starts_article:
                article = Article(title=b.text)
                articles.append(article)
                stack.clear()
                if (nxt is not None and nxt.level == b.level + 1 and b.level <= 2
                        and (_opens_news(text, after) or (b.level >= 2 and _lone_child(blocks, i + 1)))):
                    article.subtitle = nxt.text
                    i += 1
            else:
                stack.push_markdown(b.level, b.text)
            section = Section(stack.path())
            assert article is not None
            article.sections.append(section)
            i += 1
            continue
        if article is None or section is None:
            article = Article(title=title or _fallback_title(source))
            section = Section(())
            article.sections.append(section)
            articles.append(article)
        if b.style is not None:
            stack.push_numbered(b.style, b.text)
            section = Section(stack.path())
            article.sections.append(section)
            i += 1
            continue
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
        title_line=title_line,
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


def _fallback_title(source: str) -> str:
    return Path(source).stem


def load_document(path: Path, *, source: str | None = None) -> ParsedDocument:
    """Read and parse one file (no metadata; see :func:`load` for that)."""
    text, content_hash = read_source(path)
    return parse_text(text, source=source or path.name, content_hash=content_hash)


@dataclass(frozen=True)
class LoadedDocument:
    """A parsed document with its metadata, ready to chunk."""

    doc: ParsedDocument
    meta: DocMeta
    encoding: str | None


def load(path: Path, *, source: str, given: dict[str, str] | None = None) -> LoadedDocument:
    """Read, decode and parse one file and resolve its metadata (file, sidecar, text, name);
    raise DocumentRejected with the reason when it cannot be indexed."""
    from rag.formats import read_file

    ex = read_file(path)
    return _loaded(ex.text, ex.content_hash, ex.encoding, ex.meta, source=source,
                   given=given, sidecar=read_sidecar(path))


def _loaded(text: str, content_hash: str, encoding: str | None, embedded: dict[str, str], *,
            source: str, given: dict[str, str] | None, sidecar: dict[str, str]) -> LoadedDocument:
    if not text.strip():
        raise DocumentRejected(f"{Path(source).name}: empty (no text)")
    file_meta = clean_meta(embedded, f"{Path(source).name}: embedded metadata", strict=False)
    # a sidecar written for an upload records what the uploader said: it ranks first
    if sidecar.pop(GIVEN_MARK, None):
        given = {**sidecar, **(given or {})}
        sidecar = {}
    blocks = [b for b in _blocks(text) if b.spans]
    first_md = next((b.text for b in blocks if b.level), None)
    heading_title = first_md if blocks and blocks[0].level == 1 else None
    meta = resolve_meta(source=source, text=text, given=given, embedded=file_meta,
                        sidecar=sidecar, heading_title=heading_title,
                        title_line=_title_line(blocks))
    doc = parse_text(text, source=source, content_hash=content_hash, title=meta.title)
    if not doc.articles:
        raise DocumentRejected(f"{Path(source).name}: empty (no paragraphs)")
    return LoadedDocument(doc, meta, encoding)


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    source: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason}


IGNORE_FILE = ".ragignore"


def _ignored(folder: Path) -> list[str]:
    """Patterns of a folder's ``.ragignore`` (one glob a line, ``#`` comments): files that
    live beside the documents but are not documents (``qa.jsonl``)."""
    try:
        lines = (folder / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def scan(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """The documents under the given files and folders (sorted) and the files skipped there
    because of their type. Hidden files, READMEs, metadata sidecars and what a folder's
    ``.ragignore`` names are not documents and are passed over silently."""
    import fnmatch

    found: list[Path] = []
    skipped: list[Skipped] = []
    for p in paths:
        if p.is_dir():
            patterns = _ignored(p)
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if not f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES and not f.is_dir():
                    skipped.append(Skipped(rel.as_posix(), "cannot read (not a regular file: "
                                           "a broken link or a device)"))
                    continue
                if (not f.is_file() or any(part.startswith(".") for part in rel.parts)
                        or f.name.lower().startswith("readme")
                        or f.name.endswith(SIDECAR_SUFFIX)
                        or any(fnmatch.fnmatch(rel.as_posix(), pat) or fnmatch.fnmatch(f.name, pat)
                               for pat in patterns)):
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(f)
                else:
                    skipped.append(Skipped(rel.as_posix(), f"unsupported file type "
                                           f"{f.suffix or '(none)'}"))
        elif p.is_file():
            found.append(p)
        else:
            raise DocumentRejected(f"{p}: no such file or folder")
    return found, skipped


def discover(paths: list[Path]) -> list[Path]:
    """Supported files under the given files and folders, sorted (see :func:`scan`)."""
    return scan(paths)[0]
