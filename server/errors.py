"""Errors of the HTTP API: every one is JSON ``{"error": {"type", "message"}}`` with the
status its type maps to, and nothing leaks a traceback. Validation errors say what was
wrong and where (a JSON syntax error: line and column)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import RagError
from server.models import error_body
from server.security import SECURITY_HEADERS

log = logging.getLogger("rag.server")


class ApiError(Exception):
    """An HTTP error raised by the server itself (auth, limits), rendered as error JSON."""

    def __init__(self, status: int, type_: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = headers


def _status_type(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")
    except ValueError:
        return "HTTPError"


def _json_error_message(err: dict[str, Any], doc: Any) -> str:
    """``invalid JSON at line L, column C: <what json said>`` for a body that is no JSON."""
    what = str((err.get("ctx") or {}).get("error") or "not valid JSON")
    loc = err.get("loc", ())
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if pos is None or not isinstance(doc, str):
        return f"invalid JSON: {what}"
    line = doc.count("\n", 0, pos) + 1
    column = pos - doc.rfind("\n", 0, pos)
    return f"invalid JSON at line {line}, column {column}: {what}"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = err.get("loc", ())
        if err.get("type") == "json_invalid":
            parts.append(_json_error_message(err, getattr(exc, "body", None)))
            continue
        if tuple(where) == ("body",) and err.get("type") == "missing":
            parts.append("the request needs a JSON body")
            continue
        loc = ".".join(str(x) for x in where[1:])
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON ``{"error": {"type", "message"}}``; nothing leaks a traceback."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.type, exc.message), exc.status, headers=exc.headers)

    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        return JSONResponse(error_body(type(exc).__name__, str(exc)), exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(_status_type(exc.status_code), str(exc.detail)),
                            exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("ValidationError", _validation_message(exc)), 422)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        # Runs outside the middleware stack, hence the explicit security headers.
        log.exception("internal error: %s", exc)
        return JSONResponse(error_body("InternalError", "internal server error"), 500,
                            headers=SECURITY_HEADERS)
