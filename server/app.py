"""The HTTP server: the engine's façade over FastAPI, plus the chat web page.

The engine (model and index) is built once in the lifespan handler and injected into the
routes, which are a few lines each; retrieval, answering and indexing live in ``rag``.
Routes that run the model are sync ``def`` so FastAPI runs them in its thread pool and the
event loop keeps serving. Each reading request takes the index snapshot once, passes it to
the engine and reports its version in ``X-Index-Version``, so re-indexing swaps versions
without readers noticing and every answer says which version it came from.

Uploads are background jobs (``server/jobs.py``): ``POST /documents`` checks what it can at
once and answers 202; one worker thread indexes the queued uploads in order while reads keep
serving the previous version; ``GET /jobs/{id}`` reports the job's stage and progress.

Auth: writes (POST/DELETE /documents) need the admin key in ``X-API-Key`` or
``Authorization: Bearer``; with no admin key configured, writes answer 403 (disabled).
Reads are open unless a read key is set; then the read key or the admin key is needed.
``/healthz``, the page and its static files stay open. The OpenAPI schema declares both
key schemes (``ApiKey``: the ``X-API-Key`` header; ``Bearer``) on the routes that need them.

``/docs`` (Swagger UI) and ``/redoc`` are served with their assets from the installed
``fastapi-offline`` package and a same-origin start-up script: no CDN, no inline script, so
the pages work offline and under the strict CSP (``/redoc`` allows inline style only).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote_to_bytes

from fastapi import Depends, FastAPI, File, Form, Query, Request, Security, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from rag.engine import Engine
from rag.errors import QueryRejected
from rag.figstore import FIGURE_KINDS, SORT_KEYS, STANCES, FigureQuery
from rag.index import Snapshot
from rag.retrieve import MODES, Filters
from rag.settings import Settings, prepare_runtime
from server.errors import ApiError, install_error_handlers
from server.jobs import JobQueue, QueueFull
from server.models import (
    AnswerOut,
    ChatRequest,
    DocumentOut,
    DocumentsResponse,
    DocumentTextOut,
    ErrorResponse,
    FiguresResponse,
    FiltersIn,
    Health,
    JobOut,
    JobsResponse,
    OpenAIChatRequest,
    OpenAIChatResponse,
    OpenAIModel,
    OpenAIModelList,
    SearchResponse,
    Unhealthy,
    one_of,
)
from server.security import (
    SECURITY_HEADERS,
    BodyLimitMiddleware,
    JSONCORSMiddleware,
    SecurityHeadersMiddleware,
    ServerConfigError,
    key_matches,
    presented_key,
    validate_keys,
)
from server.streaming import chat_events, completion, completion_chunks

__all__ = ["ServerConfigError", "create_app", "run"]

log = logging.getLogger("rag.server")

STATIC = Path(__file__).resolve().parent / "static"
DOCS_ASSETS_URL = "/docs-static"
"""Where the Swagger UI and ReDoc bundles of ``fastapi-offline`` are served."""
REDOC_CSP = SECURITY_HEADERS["Content-Security-Policy"].replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'; img-src 'self' data:")
"""ReDoc's styled-components writes its CSS into <style> elements and its icons are data:
images, so /redoc alone allows inline style and data: images; scripts stay same-origin only
there too (its search, a blob: worker, is turned off)."""
MODEL_NAME = "rag-zh-extractive"
"""The ``model`` reported by the OpenAI-compatible endpoint when the client names none."""

_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#b3261e"/>'
    '<text x="8" y="12" font-size="10" text-anchor="middle" fill="#fff">问</text></svg>'
)

T = TypeVar("T")


# 400: a body that cannot be parsed (not UTF-8, broken multipart) or a bad Content-Length.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422, 429, 503)
}


# -- dependencies -----------------------------------------------------------------------


def get_engine(request: Request) -> Engine:
    """The engine built at start-up."""
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_jobs(request: Request) -> JobQueue:
    """The upload job queue started with the engine."""
    jobs: JobQueue = request.app.state.jobs
    return jobs


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]

_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="rag"'}


# Declared for the OpenAPI schema (either one will do); the keys are checked below.
_API_KEY = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False,
                        description="the API key in the X-API-Key header")
_BEARER = HTTPBearer(scheme_name="Bearer", auto_error=False,
                     description="the API key as `Authorization: Bearer <key>`")
ApiKeyDep = Annotated[str | None, Security(_API_KEY)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]


def valid_query_string(request: Request) -> None:
    """Query parameters must be UTF-8 text (Starlette would silently turn the bad bytes
    into U+FFFD, and the query would not be the one the client sent)."""
    for part in request.scope.get("query_string", b"").split(b"&"):
        name, _, value = part.partition(b"=")
        for raw in (name, value):
            try:
                unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                label = unquote_to_bytes(name).decode("utf-8", "replace")
                raise ApiError(422, "ValidationError",
                               f"query parameter {label!r} is not valid UTF-8 text") from None


def require_read(request: Request, settings: SettingsDep, _key: ApiKeyDep = None,
                 _bearer: BearerDep = None) -> None:
    """Reads are open unless a read key is configured; then read or admin key."""
    if settings.read_key is None:
        return
    if not key_matches(presented_key(request.headers), settings.read_key, settings.admin_key):
        raise ApiError(401, "Unauthorized", "a valid API key is required (X-API-Key or "
                       "Authorization: Bearer)", _UNAUTHORIZED)


def require_admin(request: Request, settings: SettingsDep, _key: ApiKeyDep = None,
                  _bearer: BearerDep = None) -> None:
    """Writes need the admin key; with none configured they are disabled."""
    if settings.admin_key is None:
        raise ApiError(403, "WritesDisabled",
                       "document changes are disabled: the server has no admin key configured")
    if not key_matches(presented_key(request.headers), settings.admin_key):
        raise ApiError(401, "Unauthorized", "the admin API key is required (X-API-Key or "
                       "Authorization: Bearer)", _UNAUTHORIZED)


# -- helpers ----------------------------------------------------------------------------


def conversation(messages: Iterable[tuple[str, str]]) -> tuple[str, list[str]]:
    """The question (last user message) and the history (earlier user messages)."""
    users = [text for role, text in messages if role == "user"]
    if not users:
        raise QueryRejected("the conversation holds no user message")
    history = [t for t in users[:-1] if t.strip()]
    return users[-1], history


def to_filters(f: FiltersIn | None) -> Filters | None:
    if f is None:
        return None
    lo, hi = f.date_from, f.date_to
    if f.year is not None:
        y = f"{f.year:04d}"
        lo, hi = max(lo or y, y), min(hi or y, y)
    filters = Filters(doc_ids=tuple(f.doc_ids), title=f.title or None, section=f.section or None,
                      date_from=lo, date_to=hi)
    return filters or None


async def _aiter(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


VERSION_HEADER = "X-Index-Version"
"""The index version a response was computed from (one snapshot per request)."""


def _sse(events: Iterable[Any], snap: Snapshot) -> EventSourceResponse:
    return EventSourceResponse(_aiter(events), sep="\n", headers={
        "Cache-Control": "no-store", VERSION_HEADER: snap.version})


def _versioned(response: Response, snap: Snapshot) -> Snapshot:
    """Report the snapshot's version on the response; returns the snapshot."""
    response.headers[VERSION_HEADER] = snap.version
    return snap


# -- the app ----------------------------------------------------------------------------


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The FastAPI app. Raises :class:`ServerConfigError` for unsafe settings (short keys).

    ``engine`` lets a caller share an already-built engine; by default the lifespan builds
    one from the settings and loads the model and index before serving. An unusable index
    does not stop start-up: ``/healthz`` reports 503 until it is rebuilt.
    """
    validate_keys(settings.admin_key, settings.read_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_runtime(settings)
        eng = engine if engine is not None else Engine(settings.engine_config())
        app.state.engine = eng
        try:
            snap = await run_in_threadpool(eng.snapshot)
            log.info("index %s loaded: %d passages", snap.version, len(snap.passages))
        except Exception as exc:  # serve anyway; /healthz reports why
            log.error("index unusable at start-up (serving, unhealthy): %s: %s",
                      type(exc).__name__, exc)
        app.state.jobs = JobQueue(eng)
        try:
            yield
        finally:
            app.state.jobs.stop()

    app = FastAPI(
        title="rag-zh",
        summary="Chinese-first extractive question answering with every figure cited.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load a CDN and run inline script: see docs() below
        redoc_url=None,
        dependencies=[Depends(valid_query_string)],
    )
    app.state.settings = settings
    if engine is not None:
        app.state.engine = engine
    install_error_handlers(app)
    # Added innermost first: security headers wrap CORS, which wraps the body limit.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(
        JSONCORSMiddleware,
        allow_origins=[o for o in settings.cors_origins if o],
        allow_credentials=False,  # keys travel in headers, never cookies
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        expose_headers=[VERSION_HEADER],
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware)

    # Reads declare (and need) a key only when a read key is configured.
    read = [Depends(require_read)] if settings.read_key is not None else []
    write = [Depends(require_admin)]
    started = int(time.time())

    @app.post("/chat", response_model=AnswerOut, dependencies=read, tags=["answers"],
              responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}})
    def chat(body: ChatRequest, engine: EngineDep, response: Response) -> Any:
        """Answer the last user message, using earlier user messages to resolve follow-ups.
        With ``stream``: SSE events ``delta`` ({"text"}) …, ``citations``, ``figures``,
        ``done`` (the full answer)."""
        question, history = conversation((m.role, m.content) for m in body.messages)
        snap = _versioned(response, engine.snapshot())
        answer = engine.ask(question, history=history, k=body.top_k,
                            filters=to_filters(body.filters), snapshot=snap).to_dict()
        return _sse(chat_events(answer), snap) if body.stream else answer

    @app.post("/v1/chat/completions", response_model=OpenAIChatResponse, dependencies=read,
              tags=["answers"], responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}})
    def chat_completions(body: OpenAIChatRequest, engine: EngineDep, response: Response) -> Any:
        """OpenAI-compatible chat completions.

        The message content keeps the answer's ``[n]`` markers; its sources are the
        top-level ``citations`` list (alias ``references``): one entry per marker with
        ``id`` (the n), ``title``, ``section``, ``text``, ``doc_id``, ``start`` and ``end``
        (character offsets in the source document), ``passage_id`` and ``score``. The full
        answer (figures included) rides along under ``rag``.

        Streaming (``stream: true``): SSE ``chat.completion.chunk`` data lines, a role
        chunk, content chunks, a chunk with ``finish_reason: "stop"`` that carries
        ``citations``, ``references`` and ``rag``, then ``[DONE]``. Usage is streamed only
        when ``stream_options.include_usage`` is true, as OpenAI does: then one more chunk,
        with empty ``choices``, carries ``usage`` (and ``citations``/``references`` again,
        so the last chunk always has them). Usage counts characters, not tokens."""
        question, history = conversation((m.role, m.text()) for m in body.messages)
        snap = _versioned(response, engine.snapshot())
        answer = engine.ask(question, history=history, snapshot=snap).to_dict()
        model = body.model or MODEL_NAME
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return _sse(completion_chunks(answer, model, question,
                                          include_usage=include_usage), snap)
        return completion(answer, model, question)

    def _model(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": started, "owned_by": "rag-zh"}

    @app.get("/v1/models", response_model=OpenAIModelList, dependencies=read,
             tags=["answers"], responses=ERRORS)
    def list_models() -> Any:
        """OpenAI-compatible model list: the one model this server answers with."""
        return {"object": "list", "data": [_model(MODEL_NAME)]}

    @app.get("/v1/models/{model_id}", response_model=OpenAIModel, dependencies=read,
             tags=["answers"], responses=ERRORS)
    def get_model(model_id: str) -> Any:
        """OpenAI-compatible model lookup; 404 for any model but the server's own."""
        if model_id != MODEL_NAME:
            raise ApiError(404, "NotFound",
                           f"model {model_id!r} not found; this server serves {MODEL_NAME!r}")
        return _model(MODEL_NAME)

    @app.get("/search", response_model=SearchResponse, dependencies=read, tags=["retrieval"],
             responses=ERRORS)
    def search(
        engine: EngineDep,
        response: Response,
        q: Annotated[str, Query(description="the query")],
        k: Annotated[int | None, Query(ge=1, le=100)] = None,
        doc_id: Annotated[list[str] | None, Query(max_length=100)] = None,
        title: Annotated[str | None, Query(max_length=200)] = None,
        section: Annotated[str | None, Query(max_length=200)] = None,
        year: Annotated[int | None, Query(ge=1000, le=2999, description="document year")] = None,
        date_from: Annotated[str | None, Query(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")] = None,
        date_to: Annotated[str | None, Query(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")] = None,
        mode: Annotated[str, Query(description="retrieval mode",
                                   json_schema_extra={"enum": list(MODES)}),
                        AfterValidator(one_of("mode", MODES))] = "hybrid",
    ) -> Any:
        """The k best passages (the ``rag search --json`` shape)."""
        filters = to_filters(FiltersIn(doc_ids=doc_id or [], title=title, section=section,
                                       year=year, date_from=date_from, date_to=date_to))
        snap = _versioned(response, engine.snapshot())
        hits = engine.search(q, k=k, filters=filters, mode=mode, snapshot=snap)
        return {"query": q, "hits": [h.to_dict() for h in hits]}

    @app.get("/figures", response_model=FiguresResponse, dependencies=read, tags=["retrieval"],
             responses=ERRORS)
    def figures(
        engine: EngineDep,
        response: Response,
        metric: Annotated[str | None, Query(max_length=200, description="substring of the metric")] = None,
        subject: Annotated[str | None, Query(max_length=200)] = None,
        year: Annotated[int | None, Query(ge=1000, le=2999)] = None,
        year_to: Annotated[int | None, Query(ge=1000, le=2999, description="with year: a range")] = None,
        stance: Annotated[str | None, Query(json_schema_extra={"enum": list(STANCES)}),
                          AfterValidator(one_of("stance", STANCES))] = None,
        kind: Annotated[str | None, Query(description="figure kind",
                                          json_schema_extra={"enum": list(FIGURE_KINDS)}),
                        AfterValidator(one_of("kind", FIGURE_KINDS))] = None,
        doc: Annotated[str | None, Query(max_length=300, description="document id or name")] = None,
        sort: Annotated[str, Query(json_schema_extra={"enum": list(SORT_KEYS)}),
                        AfterValidator(one_of("sort", SORT_KEYS))] = "document",
        desc: bool = False,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> Any:
        """The figure store: filter by metric, subject, period (year or year..year_to), stance,
        kind and document; sort by document order, value or period."""
        years = None
        if year is not None or year_to is not None:
            first = year if year is not None else year_to
            assert first is not None
            years = (first, year_to if year_to is not None else first)
            if years[0] > years[1]:
                raise QueryRejected(f"year range {years[0]}-{years[1]} is empty")
        q = FigureQuery(metric=metric, subject=subject, years=years, stance=stance, kind=kind,
                        doc=doc, sort=sort, descending=desc)
        snap = _versioned(response, engine.snapshot())
        rows = engine.figures(q, snapshot=snap)
        return {"figures": [r.to_dict() for r in rows[:limit]], "total": len(rows)}

    @app.get("/documents", response_model=DocumentsResponse, dependencies=read,
             tags=["documents"], responses=ERRORS)
    def list_documents(engine: EngineDep) -> Any:
        """The indexed documents."""
        return {"documents": [d.to_dict() for d in engine.documents()]}

    @app.post("/documents", response_model=JobOut, status_code=202, dependencies=write,
              tags=["documents"], responses=ERRORS)
    def upload_document(
        engine: EngineDep, settings: SettingsDep, jobs: JobsDep, response: Response,
        file: Annotated[UploadFile, File()],
        title: Annotated[str | None, Form(max_length=300)] = None,
        date: Annotated[str | None, Form(max_length=40, description="2024-03-05, 2024年3月5日")] = None,
        doc_type: Annotated[str | None, Form(alias="type", max_length=40)] = None,
    ) -> Any:
        """Upload a .txt, .md, .html, .pdf or .docx document: answers ``202`` at once with
        an upload job (``Location: /jobs/{job_id}``); poll ``GET /jobs/{job_id}`` until its
        ``state`` is ``done`` (``document`` is the indexed document) or ``failed``
        (``error`` says why, naming the file: not text, damaged, empty …). Reads keep
        answering from the previous index version until the job's version is complete.

        Checked before queuing (4xx at once): the file type (422), size (413), metadata
        (a ``date`` that is no date: 422) and a full queue (429). The file is stored in the
        corpus under the client's file name made safe (no path; a different file of the same
        name gets a numbered name) and indexed incrementally; uploading bytes that are
        already indexed finishes with that document. ``title``, ``date`` and ``type`` are
        what the uploader says about it and rank above anything the file says."""
        limit = settings.max_upload_bytes
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, "PayloadTooLarge",
                           f"{file.filename or 'the document'} is larger than {limit} bytes")
        meta = {k: v for k, v in (("title", title), ("date", date), ("type", doc_type)) if v}
        name = engine.upload_name(file.filename or "", len(data), meta)
        try:
            job = jobs.submit(file.filename or "", name, data, meta)
        except QueueFull as exc:
            raise ApiError(429, "TooManyRequests", str(exc), {"Retry-After": "10"}) from None
        response.headers["Location"] = f"/jobs/{job.job_id}"
        return job.to_dict()

    @app.get("/jobs", response_model=JobsResponse, dependencies=read, tags=["documents"],
             responses=ERRORS)
    def list_jobs(jobs: JobsDep,
                  limit: Annotated[int, Query(ge=1, le=100)] = 50) -> Any:
        """Recent upload jobs, newest first (kept in memory: the last 100 finished)."""
        return {"jobs": [j.to_dict() for j in jobs.recent(limit)]}

    @app.get("/jobs/{job_id}", response_model=JobOut, dependencies=read, tags=["documents"],
             responses=ERRORS)
    def get_job(job_id: str, jobs: JobsDep) -> Any:
        """One upload job: ``state`` (queued, running, done, failed), ``stage`` and
        ``done``/``total`` progress while running, ``document`` or ``error`` when over."""
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NotFound", f"no upload job {job_id!r} (jobs are kept in "
                           "memory until the server restarts)")
        return job.to_dict()

    @app.get("/documents/{doc_id}/text", response_model=DocumentTextOut, dependencies=read,
             tags=["documents"], responses=ERRORS)
    def document_text(doc_id: str, engine: EngineDep) -> Any:
        """A document's full text, as indexed: a citation's ``start``/``end`` are offsets
        into ``text`` (the page's viewer highlights that span)."""
        doc, text = engine.document_text(doc_id)
        return {"document": doc.to_dict(), "text": text}

    @app.delete("/documents/{doc_id}", response_model=DocumentOut, dependencies=write,
                tags=["documents"], responses=ERRORS)
    def delete_document(doc_id: str, engine: EngineDep, response: Response) -> Any:
        """Remove a document from the corpus folder and the index."""
        doc = engine.delete_document(doc_id)
        _versioned(response, engine.snapshot())
        return doc.to_dict()

    @app.get("/healthz", response_model=Health, tags=["service"],
             responses={503: {"model": Unhealthy}})
    def healthz(engine: EngineDep, response: Response) -> Any:
        """200 when the index is loaded and verified; 503 with the reason otherwise."""
        try:
            snap = engine.snapshot()
        except Exception as exc:
            body = {"status": "unavailable",
                    "error": {"type": type(exc).__name__, "message": str(exc)}}
            return JSONResponse(body, 503)
        _versioned(response, snap)
        return {"status": "ok", "index_version": snap.version, "passages": len(snap.passages),
                "documents": len(snap.documents), "model": snap.manifest.model}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(_FAVICON, media_type="image/svg+xml")

    docs_assets = _docs_assets()

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        """Swagger UI: its bundle from fastapi-offline, started by ``static/docs.js``."""
        return _docs_page("docs.html", docs_assets)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> FileResponse:
        """ReDoc: its bundle from fastapi-offline, started by ``static/redoc.js``."""
        return _docs_page("redoc.html", docs_assets, {"Content-Security-Policy": REDOC_CSP})

    if docs_assets is not None:
        app.mount(DOCS_ASSETS_URL, StaticFiles(directory=docs_assets), name="docs-static")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _docs_assets() -> Path | None:
    """The folder of Swagger UI and ReDoc bundles shipped by ``fastapi-offline``."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _docs_page(name: str, assets: Path | None,
               headers: dict[str, str] | None = None) -> FileResponse:
    if assets is None:
        raise ApiError(404, "NotFound", "the API docs need the fastapi-offline package; the "
                       "schema is at /openapi.json")
    return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache", **(headers or {})})


def run(settings: Settings) -> None:
    """``rag serve``: start uvicorn on the configured host and port.

    Unless ``RAG_THREADS`` says otherwise, each inference uses one CPU thread: requests run
    in parallel in the thread pool, and several multi-threaded inferences at once
    oversubscribe the cores (measured: 25 ms per query with one thread, 0.6-1 s with two
    on a busy 2-core machine).
    """
    import uvicorn

    if settings.threads is None:
        settings = settings.model_copy(update={"threads": 1})
    prepare_runtime(settings)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                server_header=False, proxy_headers=False)
