"""Server-Sent Events for answers. Answers are extractive and computed before the response
starts (so every error is still a plain JSON status); streaming sends the text in pieces so
clients can render progressively, with ``[n]`` markers never split across pieces."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

_PIECE = re.compile(r"\[\d+\]|[^\[]{1,16}|\[")


def pieces(text: str) -> list[str]:
    """The answer text cut into short pieces; ``"".join(pieces(t)) == t``."""
    return _PIECE.findall(text)


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def chat_events(answer: dict[str, Any]) -> Iterator[dict[str, str]]:
    """``/chat`` stream: ``delta`` events ({"text"}), then ``citations``, ``figures`` and
    ``done`` (the full answer)."""
    for piece in pieces(str(answer["answer"])):
        yield {"event": "delta", "data": _json({"text": piece})}
    yield {"event": "citations", "data": _json(answer["citations"])}
    yield {"event": "figures", "data": _json(answer["figures"])}
    yield {"event": "done", "data": _json(answer)}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(prompt: str, completion: str) -> dict[str, int]:
    """OpenAI-style usage; the counts are characters (no tokenizer generates the text)."""
    return {"prompt_tokens": len(prompt), "completion_tokens": len(completion),
            "total_tokens": len(prompt) + len(completion)}


def sources(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer's citations as top-level ``citations`` (and its alias ``references``):
    the field chat front-ends read to show the sources behind the ``[n]`` markers."""
    citations = list(answer["citations"])
    return {"citations": citations, "references": citations}


def completion(answer: dict[str, Any], model: str, prompt: str) -> dict[str, Any]:
    """A non-streaming OpenAI ``chat.completion``: the text with its ``[n]`` markers, usage,
    the sources under ``citations``/``references`` and the full answer under ``rag``."""
    text = str(answer["answer"])
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": usage(prompt, text),
        **sources(answer),
        "rag": answer,
    }


def completion_chunks(answer: dict[str, Any], model: str, prompt: str, *,
                      include_usage: bool = False) -> Iterator[str]:
    """OpenAI ``chat.completion.chunk`` SSE data lines: a role chunk, content chunks, a
    final chunk (finish_reason ``stop``, the sources under ``citations``/``references`` and
    the full answer under ``rag``), then ``[DONE]``.

    As OpenAI does, usage is sent only when asked for (``stream_options.include_usage``):
    then every chunk has ``"usage": null`` and one more chunk, with no choices, carries the
    usage (and the sources again, so the last chunk always has them)."""
    cid, created = completion_id(), int(time.time())
    extra_usage: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta,
                                             "finish_reason": finish}]
        return _json({"id": cid, "object": "chat.completion.chunk", "created": created,
                      "model": model, "choices": choices, **extra_usage, **extra})

    yield chunk({"role": "assistant", "content": ""})
    text = str(answer["answer"])
    for piece in pieces(text):
        yield chunk({"content": piece})
    yield chunk({}, "stop", **sources(answer), rag=answer)
    if include_usage:
        yield chunk(None, usage=usage(prompt, text), **sources(answer))
    yield "[DONE]"
