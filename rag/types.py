"""The records that flow through the pipeline. Ids derive from content, so re-indexing the
same text yields the same ids."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


def content_id(*parts: object, length: int = 16) -> str:
    """A short, stable hex id from the given parts."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]


@dataclass(frozen=True)
class Passage:
    """A chunk of one section of one article, with its span in the source text.

    ``text`` quotes the original characters; column-break gaps inside a sentence are closed,
    real paragraph breaks become a newline. ``start``/``end`` delimit it in the source.
    """

    passage_id: str
    doc_id: str
    source: str
    title: str
    subtitle: str | None
    section: str | None
    kind: str
    text: str
    start: int
    end: int

    def header(self) -> str:
        """Title, subtitle and section: indexed with the text so headings are searchable."""
        return " ".join(p for p in (self.title, self.subtitle, self.section) if p)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Scores:
    dense: float | None
    bm25: float | None
    fused: float

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its scores (``None`` where a retriever did not return it)."""

    passage: Passage
    scores: Scores
    rank: int = 0

    def to_dict(self) -> dict[str, object]:
        p = self.passage
        return {
            "passage_id": p.passage_id,
            "doc_id": p.doc_id,
            "title": p.title,
            "section": p.section,
            "text": p.text,
            "start": p.start,
            "end": p.end,
            "scores": self.scores.to_dict(),
        }


@dataclass(frozen=True)
class DocumentInfo:
    """What the index knows about one source document."""

    doc_id: str
    source: str
    title: str
    content_hash: str
    chunk_digest: str
    passages: int
    chars: int
    articles: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """A passage an answer cites; ``id`` is the number used in the ``[n]`` markers."""

    id: int
    passage_id: str
    doc_id: str
    title: str
    section: str | None
    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "passage_id": self.passage_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }


@dataclass(frozen=True)
class AnswerFigure:
    """A figure used in (or offered with) an answer, tied to the citation it comes from."""

    text: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    kind: str
    qualifier: str
    subject: str | None
    date: str | None
    citation: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The ``rag ask --json`` contract, reused by the HTTP API."""

    question: str
    rewritten_question: str | None
    found: bool
    answer: str
    figures: list[AnswerFigure]
    citations: list[Citation]

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question,
            "rewritten_question": self.rewritten_question,
            "found": self.found,
            "answer": self.answer,
            "figures": [f.to_dict() for f in self.figures],
            "citations": [c.to_dict() for c in self.citations],
        }


@dataclass(frozen=True)
class FigureRow:
    """One row of the corpus figure table (``rag figures``, ``GET /figures``)."""

    text: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    kind: str
    qualifier: str
    subject: str | None
    date: str | None
    doc_id: str
    passage_id: str
    title: str
    section: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


FIGURE_FIELDS = ("text", "value", "low", "high", "unit", "kind", "qualifier", "subject", "date")


def figure_values(f: Any) -> dict[str, Any]:
    """A figure's public fields, shared by AnswerFigure and FigureRow."""
    return {name: getattr(f, name) for name in FIGURE_FIELDS}


def figure_table(passages: list[Passage]) -> list[FigureRow]:
    """Figures of all passages, each once even where chunks overlap."""
    from rag.figures import extract_figures

    rows: list[FigureRow] = []
    seen: set[tuple[str, str | None, str, str]] = set()
    for p in passages:
        text = p.text
        for f in extract_figures(text):
            # the sentence around the figure identifies it across overlapping chunks
            left = max(text.rfind(c, 0, f.start) for c in "。！？；;\n")
            right = min((i for i in (text.find(c, f.end) for c in "。！？；;\n") if i >= 0),
                        default=len(text))
            key = (p.doc_id, p.section, f.text, text[left + 1:right])
            if key in seen:
                continue
            seen.add(key)
            rows.append(FigureRow(**figure_values(f), doc_id=p.doc_id, passage_id=p.passage_id,
                                  title=p.title, section=p.section))
    return rows
