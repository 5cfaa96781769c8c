"""Keys, security headers and the request-body limit: everything the server does to protect
itself, kept apart from the routes so each route stays a few lines."""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.models import error_body

MIN_KEY_BYTES = 16

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ServerConfigError(ValueError):
    """The server settings are unsafe or unusable; start-up stops with this message."""


def validate_keys(admin_key: str | None, read_key: str | None) -> None:
    """Refuse keys that are too short to resist guessing (a set-but-empty key included)."""
    for name, key in (("RAG_ADMIN_KEY", admin_key), ("RAG_READ_KEY", read_key)):
        if key is not None and len(key.encode("utf-8")) < MIN_KEY_BYTES:
            raise ServerConfigError(
                f"{name} is {len(key.encode('utf-8'))} bytes long; keys must be at least "
                f"{MIN_KEY_BYTES} bytes (e.g. `python -c 'import secrets; "
                f"print(secrets.token_urlsafe(32))'`)"
            )


def presented_key(headers: Any) -> str | None:
    """The key a client sent in ``X-API-Key`` or ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if key:
        return str(key)
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = str(auth).partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def key_matches(presented: str | None, *accepted: str | None) -> bool:
    """Constant-time comparison against every accepted key (bytes, so any text is safe)."""
    if presented is None:
        return False
    given = presented.encode("utf-8", "surrogateescape")
    ok = False
    for key in accepted:
        if key is not None:
            ok |= hmac.compare_digest(given, key.encode("utf-8"))
    return ok


def _headers_with(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {k.lower() for k, _ in headers}
    out = list(headers)
    for name, value in SECURITY_HEADERS.items():
        if name.lower().encode() not in present:
            out.append((name.lower().encode(), value.encode()))
    return out


class SecurityHeadersMiddleware:
    """Adds the CSP, nosniff and no-referrer headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _headers_with(list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode())],
    })
    await send({"type": "http.response.body", "body": data})


class BodyLimitMiddleware:
    """413 for bodies over the limit: a declared Content-Length is checked first, then the
    bytes actually received are counted (chunked or lying clients). The body is read here,
    at most ``limit`` bytes, and replayed to the app, so the app never sees an oversize one."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = error_body(
            "PayloadTooLarge", f"the request body is larger than {self.limit} bytes"
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, error_body("BadRequest", "bad Content-Length"))
                    return
                if declared > self.limit:
                    await _send_json(send, 413, too_big)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away before sending it all
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await _send_json(send, 413, too_big)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with a refused preflight answered as error JSON like
    every other error (the CORS headers decide what a browser allows, not the body)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-type", "content-length")}
        return JSONResponse(error_body("CORSRejected", bytes(response.body).decode()),
                            response.status_code, headers=headers)
