"""Traditional characters read as simplified, one character for one, so that offsets into
the folded text are offsets into the original.

Why: the older reports are written wholly or partly in traditional characters (1957:
``手工業总产值…較1955年增長了16％``; the 1954 report throughout), while the vocabulary of
periods, stances and metrics (``rag/data/*.json``) is simplified: ``較1955年`` must be read
as the comparison base ``较1955年``, ``過去`` as ``过去``. The figure store analyses the folded
text and keeps what it copies out (figure text, metric, subject) verbatim from the original.
Conversion by OpenCC (``t2s``), a well-kept converter.
"""

from __future__ import annotations

from functools import lru_cache

import opencc

__all__ = ["fold"]


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=8192)
def _char(ch: str) -> str:
    out = _converter().convert(ch)
    return out if len(out) == 1 else ch


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """``text`` with each traditional character replaced by its simplified form (same length)."""
    if text.isascii():
        return text
    whole = _converter().convert(text)
    if len(whole) == len(text):
        return whole
    return "".join(_char(ch) for ch in text)
