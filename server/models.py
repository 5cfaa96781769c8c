"""Request and response models of the HTTP API: they validate input and document the
OpenAPI schema. The answer fields mirror ``rag.types.Answer.to_dict()`` (the ``rag ask
--json`` contract) so the API and the CLI stay one contract."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

MAX_MESSAGES = 64
MAX_MESSAGE_CHARS = 20_000  # the question itself is held to settings.max_query_chars



# -- text checks ---------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> int | None:
    """Where ``text`` holds a lone surrogate (JSON ``"\\udc80"`` decodes to one), or None.
    Paired surrogates are already one character after JSON decoding."""
    m = _SURROGATE.search(text)
    return m.start() if m else None


def _bad_text(value: Any, path: str) -> tuple[str, int, str] | None:
    """The first string (or key) under ``value`` that is not valid Unicode."""
    if isinstance(value, str):
        i = lone_surrogate(value)
        return None if i is None else (path or "request", i, value[i])
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            found = _bad_text(key, sub) if isinstance(key, str) else None
            found = found or _bad_text(item, sub)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            found = _bad_text(item, f"{path}.{n}" if path else str(n))
            if found:
                return found
    return None


class TextBody(BaseModel):
    """A JSON request body whose every string (keys, ignored extra fields and earlier turns
    included) must be valid Unicode: a lone surrogate is a 422, never a crash downstream
    (tokenizer, UTF-8 encoding of the response)."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        found = _bad_text(data, "")
        if found:
            path, index, char = found
            raise PydanticCustomError(
                "invalid_unicode",
                "{path} is not valid Unicode text: lone surrogate U+{code} at character "
                "{index}", {"path": path, "code": f"{ord(char):04X}", "index": index})
        return data


def one_of(name: str, allowed: Sequence[str]) -> Callable[[str | None], str | None]:
    """A validator for an enumerated query parameter: the value, or a ValueError that lists
    the allowed values."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        return value

    return check


class ErrorBody(BaseModel):
    type: str = Field(description="error class, e.g. QueryRejected, NotFound, Unauthorized")
    message: str


class ErrorResponse(BaseModel):
    """Every error the API returns has this shape."""

    error: ErrorBody


# -- requests ----------------------------------------------------------------------------


class FiltersIn(BaseModel):
    """Restrict retrieval to documents (id, source name or folder prefix), articles and
    sections (substring), and document dates (ISO prefixes, inclusive; ``year`` is a
    shorthand for from = to = that year)."""

    model_config = ConfigDict(extra="forbid")

    doc_ids: list[str] = Field(default_factory=list, max_length=100)
    title: str | None = Field(default=None, max_length=200)
    section: str | None = Field(default=None, max_length=200)
    date_from: str | None = Field(default=None, max_length=10, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    date_to: str | None = Field(default=None, max_length=10, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    year: int | None = Field(default=None, ge=1000, le=2999)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatRequest(TextBody):
    """The whole conversation; the last user message is the question, earlier user messages
    are the history used to rewrite elliptical follow-ups (``那成都呢?``)."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    top_k: int | None = Field(default=None, ge=1, le=100)
    filters: FiltersIn | None = None
    stream: bool = False


class OpenAITextPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)


class OpenAIMessage(BaseModel):
    """An OpenAI chat message; content may be a string or a list of text parts."""

    model_config = ConfigDict(extra="allow")

    role: Literal["user", "assistant", "system", "developer", "tool", "function"]
    content: str | list[OpenAITextPart] | None = Field(default=None)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


class OpenAIStreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = Field(
        default=False, description="send a last chunk (empty choices) with the usage")


class OpenAIChatRequest(TextBody):
    """The subset of OpenAI's chat-completions request the server uses; other fields
    (temperature, max_tokens …) are accepted and ignored: answers are extractive."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(default=None, max_length=200)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: OpenAIStreamOptions | None = None


# -- responses ---------------------------------------------------------------------------


class Scores(BaseModel):
    dense: float | None
    bm25: float | None
    fused: float


class HitOut(BaseModel):
    passage_id: str
    doc_id: str
    title: str
    section: str | None
    text: str
    start: int
    end: int
    scores: Scores


class SearchResponse(BaseModel):
    """Same shape as ``rag search --json``."""

    query: str
    hits: list[HitOut]


class FigureOut(BaseModel):
    text: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    kind: str
    qualifier: str
    subject: str | None
    date: str | None
    citation: int = Field(description="the [n] citation this figure comes from")


class CitationOut(BaseModel):
    id: int = Field(description="the number used in the answer's [n] markers")
    passage_id: str
    doc_id: str
    source: str = Field(default="", description="the document's file name")
    title: str
    date: str | None = Field(default=None, description="the document's date (ISO prefix)")
    headings: list[str] = Field(default_factory=list, description="heading path, outermost first")
    section: str | None
    text: str
    start: int
    end: int
    score: float


class AnswerOut(BaseModel):
    """Same shape as ``rag ask --json``."""

    question: str
    rewritten_question: str | None
    found: bool
    answer: str = Field(description="answer text with inline [n] citation markers")
    figures: list[FigureOut]
    citations: list[CitationOut]
    confidence: float | None = Field(
        None, description="the evidence model's probability that the answering figure is right")
    reason: str | None = Field(
        None, description="on a refusal: the slot that failed (year, place, terms, confidence; "
                          "stance, unit, kind when every figure found is ruled out)")
    nearest: dict[str, Any] | None = Field(
        None, description="on a refusal for want of confidence, or with every figure ruled "
                          "out: the best figure found, cited, and not the answer")
    table: dict[str, Any] | None = Field(
        None, description="an aggregate answer: columns, and rows of {label, figure, citation, "
                          "quote}")
    evidence: list[dict[str, Any]] | None = Field(
        None, description="with explain: the scored candidates, best first")


class FigureRowOut(BaseModel):
    """A figure of the figure store, with the passage and document it stands in."""

    text: str = Field(description="as written: 100亿元, 7.5%左右")
    value: float | None = Field(description="in base units (元, %, 人 …)")
    low: float | None
    high: float | None
    unit: str
    kind: str
    qualifier: str
    subject: str | None
    date: str | None
    metric: str | None = Field(description="the quantity measured, as the text names it")
    stance: str = Field(description="target, actual, cap, threshold, base or unknown")
    period_start: str | None
    period_end: str | None
    period_stated: bool | None = Field(description="the text names the period (vs inferred)")
    period_basis: str | None = Field(description="how the period was found")
    doc_id: str
    passage_id: str
    source: str
    title: str
    doc_date: str | None
    section: str | None
    headings: list[str]


class FiguresResponse(BaseModel):
    figures: list[FigureRowOut]
    total: int = Field(description="rows that passed the filters (figures holds up to limit)")


class DocumentOut(BaseModel):
    doc_id: str
    source: str = Field(description="the file name in the corpus (uploads/NAME for uploads)")
    title: str
    content_hash: str
    chunk_digest: str
    passages: int
    chars: int
    articles: list[str]
    date: str | None = Field(default=None, description="ISO prefix: 2014, 2014-03, 2014-03-05")
    date_source: str | None = Field(default=None, description="given, file, sidecar, text or file-name")
    title_source: str | None = None
    type: str | None = None
    encoding: str | None = None
    figures: int = 0


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]


class DocumentTextOut(BaseModel):
    """A document's full source text: citations' ``start``/``end`` index into ``text``."""

    document: DocumentOut
    text: str


class JobError(BaseModel):
    type: str = Field(description="DocumentRejected for a file that cannot be indexed")
    message: str = Field(description="names the uploaded file and the reason")


class JobOut(BaseModel):
    """An upload job: queued, running (stage and progress), done (the document) or failed
    (the error)."""

    job_id: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str = Field(description="queued, parsing, chunking, encoding, writing, done or "
                       "failed")
    done: int | None = Field(description="units of the stage done (with total), when known")
    total: int | None
    filename: str = Field(description="the file name the client sent")
    name: str = Field(description="the safe name it is stored under (before numbering)")
    created: float = Field(description="Unix time the upload was accepted")
    started: float | None
    finished: float | None
    error: JobError | None
    document: DocumentOut | None = Field(description="the indexed document, once done")
    index_version: str | None = Field(description="the index version that holds it, once done")
    stages: list[str] = Field(description="the stages the job went through, in order")


class JobsResponse(BaseModel):
    jobs: list[JobOut] = Field(description="newest first")


class Health(BaseModel):
    status: Literal["ok"]
    index_version: str
    passages: int
    documents: int
    model: str


class Unhealthy(BaseModel):
    status: Literal["unavailable"]
    error: ErrorBody


class OpenAIChoiceMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class OpenAIChoice(BaseModel):
    index: int
    message: OpenAIChoiceMessage
    finish_reason: Literal["stop"]


class OpenAIUsage(BaseModel):
    """Counts are characters, not tokens: no tokenizer-based generation happens."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


CITATIONS_DOC = (
    "the sources of the answer: each entry's ``id`` is the n of an ``[n]`` marker in the "
    "message content, with the passage's ``title``, ``section``, ``text``, ``doc_id`` and "
    "its ``start``/``end`` character offsets in the source document"
)


class OpenAIChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[OpenAIChoice]
    usage: OpenAIUsage
    citations: list[CitationOut] = Field(description=CITATIONS_DOC)
    references: list[CitationOut] = Field(description="the same list as ``citations``")
    rag: AnswerOut = Field(description="the full answer: citations and figures")


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"]
    data: list[OpenAIModel]


def error_body(type_: str, message: str) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"type": type_, "message": message}}
