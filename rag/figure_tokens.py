"""Canonical tokens of figures, so that equal quantities match whatever their form (the
``Tokens`` paragraph of :mod:`rag.figures`): ``100亿``, ``百亿元`` and ``1e10`` all give
``fig:1e10``; dates give ``date:2023-12`` plus ``date:2023``. Split from :mod:`rag.figures`,
whose :func:`rag.figures.figure_tokens` is the entry point."""

from __future__ import annotations

import math
from typing import Protocol

__all__ = ["tokens_of"]


class _FigureLike(Protocol):
    """What a token needs of a figure (rag.figures.Figure, rag.types.FigureFact)."""

    @property
    def kind(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def low(self) -> float | None: ...
    @property
    def high(self) -> float | None: ...
    @property
    def date(self) -> str | None: ...


def _canon(v: float) -> str:
    if not math.isfinite(v):
        return "nan"
    if v == int(v) and abs(v) < 1e21:
        n = int(v)
        if n == 0:
            return "0"
        k = 0
        while n % 10 == 0:
            n //= 10
            k += 1
        return f"{n}e{k}" if k >= 3 else str(int(v))
    return format(v, ".6g")


def tokens_of(f: _FigureLike) -> list[str]:
    """The tokens of one figure."""
    if f.kind == "date":
        return _date_tokens(f)
    unit = f":{f.unit}" if f.unit else ""
    if f.value is not None:
        v = _canon(f.value)
        return [f"fig:{v}", f"fig:{v}{unit}"] if unit else [f"fig:{v}"]
    if f.low is None or f.high is None:
        return []
    lo, hi = _canon(f.low), _canon(f.high)
    out = [f"fig:{lo}-{hi}", f"fig:{lo}", f"fig:{hi}"]
    if unit:
        out += [f"fig:{lo}-{hi}{unit}", f"fig:{lo}{unit}", f"fig:{hi}{unit}"]
    return out


def _date_tokens(f: _FigureLike) -> list[str]:
    if not f.date:
        return []
    if f.low is not None and f.high is not None and f.high - f.low <= 50:
        years = range(int(f.low), int(f.high) + 1)
        return [f"date:{f.date}"] + [f"date:{y}" for y in years]
    out = [f"date:{f.date}"]
    parts = f.date.split("-")
    if parts[0]:  # has a year: add coarser tokens (2023-12-05 -> 2023-12, 2023)
        for i in range(len(parts) - 1, 0, -1):
            out.append("date:" + "-".join(parts[:i]))
    return out
