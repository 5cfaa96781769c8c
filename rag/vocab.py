"""The vocabulary files of ``rag/data``, read once per process."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def data(name: str) -> dict[str, Any]:
    """``rag/data/NAME.json`` as a dict (shared: callers must not change it)."""
    text = resources.files("rag").joinpath(f"data/{name}.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def subject_suffixes() -> tuple[str, ...]:
    """Name suffixes that end a subject (基金, 公司, 计划 …), from ``facts.json``."""
    return tuple(data("facts")["subject"]["suffixes"])
