"""The records that flow through the pipeline. Ids derive from content, so re-indexing the
same text yields the same ids."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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
    headings: tuple[str, ...] = ()  # the heading path, outermost first (section = last)
    date: str | None = None  # the document's date: "2014", "2014-03" or "2014-03-05"

    def header(self) -> str:
        """Title, subtitle, heading path and date: embedded and indexed with the text, so
        that headings and the document's year are searchable."""
        heads = self.headings or ((self.section,) if self.section else ())
        return " ".join(p for p in (self.title, self.subtitle, *heads, date_words(self.date)) if p)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, rec: dict[str, Any]) -> Passage:
        return cls(**{**rec, "headings": tuple(rec.get("headings") or ())})


def date_words(date: str | None) -> str:
    """``2014-03-05`` → ``2014年3月5日``: a date as Chinese text says it (for matching)."""
    if not date:
        return ""
    parts = date.split("-")
    out = f"{int(parts[0])}年"
    if len(parts) > 1 and parts[1].isdigit():
        out += f"{int(parts[1])}月"
    if len(parts) > 2 and parts[2].isdigit():
        out += f"{int(parts[2])}日"
    return out


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
    figures: tuple[FigureFact, ...] = ()  # the passage's figures, from the figure store

    def to_dict(self) -> dict[str, object]:
        p = self.passage
        return {
            "passage_id": p.passage_id,
            "doc_id": p.doc_id,
            "source": p.source,
            "title": p.title,
            "date": p.date,
            "section": p.section,
            "headings": list(p.headings),
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
    date: str | None = None
    date_source: str | None = None
    title_source: str | None = None
    type: str | None = None
    encoding: str | None = None
    figures: int = 0

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
    source: str = ""
    date: str | None = None
    headings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "passage_id": self.passage_id,
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "date": self.date,
            "headings": list(self.headings),
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
    # probability that the answering figure is right (the evidence model's), also on a
    # refusal for want of confidence; None where no figure was scored
    confidence: float | None = None
    # the scored candidates behind the answer, best first (``explain``): figure, passage,
    # features, score
    evidence: list[dict[str, Any]] | None = None
    # on a refusal: the nearest figure found, cited, and never the answer
    nearest: dict[str, Any] | None = None
    # on a refusal: which slot failed (year, place, terms, confidence)
    reason: str | None = None
    # an aggregate answer (trend, stances, superlative) as rows: columns, and per row its
    # label, figure, citation and quote (figure and citation null where nothing was found)
    table: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "question": self.question,
            "rewritten_question": self.rewritten_question,
            "found": self.found,
            "answer": self.answer,
            "figures": [f.to_dict() for f in self.figures],
            "citations": [c.to_dict() for c in self.citations],
            "confidence": None if self.confidence is None else round(self.confidence, 4),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.nearest is not None:
            out["nearest"] = self.nearest
        if self.table is not None:
            out["table"] = self.table
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out


@dataclass(frozen=True)
class FigureFact:
    """A figure of the figure store: extracted once, at index time, from one passage, with
    what it measures (metric), about whom (subject), for when (period) and how it is meant
    (stance: target, actual, cap, threshold, base, unknown). Offsets are in the passage
    text; ``sentence`` delimits the sentence that holds it."""

    text: str
    start: int
    end: int
    value: float | None
    low: float | None
    high: float | None
    unit: str
    kind: str
    qualifier: str
    subject: str | None
    date: str | None
    metric: str | None = None
    stance: str = "unknown"
    period_start: str | None = None
    period_end: str | None = None
    period_stated: bool | None = None
    period_basis: str | None = None
    sentence_start: int = 0
    sentence_end: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, rec: dict[str, Any]) -> FigureFact:
        return cls(**rec)


@dataclass(frozen=True)
class FigureRow:
    """One row of the corpus figure table (``rag figures``, ``GET /figures``)."""

    fact: FigureFact
    doc_id: str
    passage_id: str
    source: str
    title: str
    doc_date: str | None
    headings: tuple[str, ...]

    @property
    def section(self) -> str | None:
        return self.headings[-1] if self.headings else None

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {k: v for k, v in self.fact.to_dict().items()
                                if k not in ("start", "end", "sentence_start", "sentence_end")}
        d.update(doc_id=self.doc_id, passage_id=self.passage_id, source=self.source,
                 title=self.title, doc_date=self.doc_date, section=self.section,
                 headings=list(self.headings))
        return d


FIGURE_FIELDS = ("text", "value", "low", "high", "unit", "kind", "qualifier", "subject", "date")


def figure_values(f: Any) -> dict[str, Any]:
    """A figure's public fields, shared by AnswerFigure and the figure store."""
    return {name: getattr(f, name) for name in FIGURE_FIELDS}


def figure_key(p: Passage, f: FigureFact) -> tuple[str, tuple[str, ...], str, str]:
    """What makes a stored figure one figure: overlapping chunks repeat a sentence, and its
    figures are the same figures (same document, heading, text and sentence)."""
    return (p.doc_id, p.headings, f.text, p.text[f.sentence_start:f.sentence_end])


def count_figures(passages: Sequence[Passage], figures: Sequence[Sequence[FigureFact]]) -> int:
    """Distinct figures of these passages, counted as ``rag figures`` lists them."""
    return len({figure_key(p, f) for p, figs in zip(passages, figures, strict=True)
                for f in figs})
