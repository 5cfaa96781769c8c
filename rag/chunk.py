"""Split sections into passages on sentence boundaries.

A chunk holds whole sentences up to ``size`` characters; ``overlap`` characters of trailing
sentences are repeated at the start of the next chunk so a fact split across a boundary is
still found whole. A sentence longer than ``size`` is cut at a clause boundary (，,、 or a
space) and, failing that, at a point that is not inside a number or a Latin word.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from rag.ingest import Paragraph, ParsedDocument
from rag.types import Passage, content_id

_SENTENCE_END = re.compile(r"[。！？!?；;]+[”’」』）)]*|\.(?=\s)|\n")
_CLAUSE_END = re.compile(r"[，,、：:]|\s+")
# Characters that may belong to a number or a code such as "1.25", "30%-40%", "L3-L5".
_NUMERIC = re.compile(r"[0-9０-９.．,，%％/\-A-Za-zＡ-Ｚａ-ｚ]")


CHUNKER_VERSION = 3


@dataclass(frozen=True)
class ChunkConfig:
    """Chunking parameters; their digest is part of every document's index key."""

    size: int = 240
    overlap: int = 60

    def __post_init__(self) -> None:
        if self.size < 20:
            raise ValueError(f"chunk size must be at least 20 characters, got {self.size}")
        if not 0 <= self.overlap < self.size:
            raise ValueError(f"chunk overlap must be in [0, size), got {self.overlap}")

    def digest(self) -> str:
        # the version changes with ingest/chunking code, so stale passages are re-made
        blob = json.dumps({"v": CHUNKER_VERSION, **asdict(self)}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


@dataclass(frozen=True)
class _Piece:
    """A sentence (or part of one) with the source offset of each of its characters."""

    text: str
    offsets: tuple[int, ...]


def _sentences(p: Paragraph) -> Iterator[_Piece]:
    text = p.text
    offs = p.offsets
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if text[start:end].strip():
            yield _Piece(text[start:end], tuple(offs[start:end]))
        start = end
    if text[start:].strip():
        yield _Piece(text[start:], tuple(offs[start:]))


def _safe_cut(text: str, limit: int) -> int:
    """A cut position <= limit that splits neither a number nor a Latin word."""
    for pos in range(limit, max(limit // 2, 1), -1):
        if not (_NUMERIC.match(text[pos - 1]) and _NUMERIC.match(text[pos])):
            return pos
    return limit


def _split_long(piece: _Piece, size: int) -> Iterator[_Piece]:
    """Cut a sentence longer than ``size`` at clause boundaries, never inside a number."""
    text, offs = piece.text, piece.offsets
    while len(text) > size:
        cut = 0
        for m in _CLAUSE_END.finditer(text, 0, size):
            cut = m.end()
        if cut < size // 3:
            cut = _safe_cut(text, size)
        yield _Piece(text[:cut], offs[:cut])
        text, offs = text[cut:], offs[cut:]
    if text.strip():
        yield _Piece(text, offs)


def _pack(pieces: list[_Piece], cfg: ChunkConfig) -> Iterator[list[_Piece]]:
    """Greedy packing of whole sentences with a sentence-level overlap."""
    cur: list[_Piece] = []
    length = 0
    for piece in pieces:
        if cur and length + len(piece.text) > cfg.size:
            yield cur
            carry: list[_Piece] = []
            carried = 0
            for prev in reversed(cur):
                if carried + len(prev.text) > cfg.overlap:
                    break
                carry.insert(0, prev)
                carried += len(prev.text)
            if carried + len(piece.text) > cfg.size:
                carry, carried = [], 0
            cur, length = carry, carried
        cur.append(piece)
        length += len(piece.text)
    if cur:
        yield cur


def chunk_document(doc: ParsedDocument, cfg: ChunkConfig, *, date: str | None = None) -> list[Passage]:
    """All passages of a document, in reading order, each with its heading path and the
    document's ``date``. Chunks never cross a section."""
    passages: list[Passage] = []
    seen: set[str] = set()
    for article in doc.articles:
        for section in article.sections:
            for kind, paras in _groups(section.paragraphs):
                pieces: list[_Piece] = []
                for para in paras:
                    sents = [s for p in _sentences(para) for s in _split_long(p, cfg.size)]
                    if pieces and sents:
                        # paragraph break: shown as a newline between paragraphs
                        first = sents[0]
                        sents[0] = _Piece("\n" + first.text, (first.offsets[0], *first.offsets))
                    pieces.extend(sents)
                for group in _pack(pieces, cfg):
                    text = "".join(p.text for p in group).strip()
                    if not text:
                        continue
                    offs = [o for p in group for o in p.offsets]
                    start, end = offs[0], offs[-1] + 1
                    pid = content_id(doc.doc_id, start, end, text)
                    if pid in seen:
                        continue
                    seen.add(pid)
                    passages.append(
                        Passage(
                            passage_id=pid,
                            doc_id=doc.doc_id,
                            source=doc.source,
                            title=article.title,
                            subtitle=article.subtitle,
                            section=section.heading,
                            kind=kind,
                            text=text,
                            start=start,
                            end=end,
                            headings=section.headings,
                            date=date,
                        )
                    )
    return passages


def _groups(paras: list[Paragraph]) -> Iterator[tuple[str, list[Paragraph]]]:
    """Runs of paragraphs that may share a chunk: captions and bylines stand alone, and the
    lead is kept apart from the body."""
    cur: list[Paragraph] = []
    kind = ""
    for p in paras:
        if cur and (p.kind != kind or p.kind in ("caption", "byline")):
            yield kind, cur
            cur = []
        kind = p.kind
        cur.append(p)
    if cur:
        yield kind, cur
