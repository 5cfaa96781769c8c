"""Headings of Chinese documents and the heading path of each paragraph.

Markdown ``#``…``######`` (also what HTML ``h1``–``h6`` and Word heading styles become) have
explicit levels. Numbered headings (``一、`` ``（一）`` ``第一，`` ``1.`` ``（1）`` ``第一章``
``第一条``) get their level from the order in which their numbering styles first appear, the
way outline numbering works: a style seen again closes every deeper heading. The styles are
data (``rag/data/headings.json``), with the documents that motivated each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

PATH_SEPARATOR = " › "


@dataclass(frozen=True)
class _Rules:
    styles: tuple[tuple[str, re.Pattern[str]], ...]
    article: re.Pattern[str]
    max_chars: int
    plain_max: int
    plain_min: int
    final: frozenset[str]
    punctuation: frozenset[str]


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    raw: dict[str, Any] = json.loads(
        resources.files("rag").joinpath("data/headings.json").read_text(encoding="utf-8"))
    return _Rules(
        styles=tuple((s["style"], re.compile(s["pattern"])) for s in raw["styles"]),
        article=re.compile(raw["article_marker"]),
        max_chars=int(raw["max_chars"]),
        plain_max=int(raw["plain"]["max_chars"]),
        plain_min=int(raw["plain"]["min_chars"]),
        final=frozenset(raw["sentence_final"]),
        punctuation=frozenset(raw["punctuation"]),
    )


def numbered_style(line: str) -> str | None:
    """The numbering style of a heading line (``一、2013年工作回顾`` → ``"一、"``), or None
    when the line is not a numbered heading: too long, ending a sentence (``一是…。`` is a
    paragraph), or nothing but the number (``一、`` alone opens a list item)."""
    r = _rules()
    t = line.strip(" \t\u3000")
    if not t or len(t) > r.max_chars or t[-1] in r.final or _unclosed(t):
        return None
    for style, pattern in r.styles:
        m = pattern.match(t)
        if m and len(t) - m.end() >= 2:
            return style
    return None


_PAIRS = (("《", "》"), ("“", "”"), ("（", "）"), ("(", ")"), ("〈", "〉"))


def _unclosed(t: str) -> bool:
    """A line that opens a bracket or quote it does not close goes on in the next line
    (``三、关于《`` + ``中华人民共和国…`` + ``》``, where a link was cut out of a report)."""
    return any(t.count(a) > t.count(b) for a, b in _PAIRS)


def article_marker(line: str) -> int:
    """Length of a leading ``第一条`` article marker of a law or regulation (0 if none): the
    marker is a heading and the rest of the line is the article's body."""
    m = _rules().article.match(line.lstrip(" \t\u3000"))
    return m.end() + (len(line) - len(line.lstrip(" \t\u3000"))) if m else 0


def is_plain_heading(text: str, previous: str | None) -> bool:
    """An unnumbered heading (``过去五年的回顾``): a short line with no punctuation at all,
    standing after a paragraph that ended its sentence (so not a column break)."""
    r = _rules()
    t = text.strip()
    if not r.plain_min <= len(t) <= r.plain_max or any(c in r.punctuation for c in t):
        return False
    if not re.search(r"[\u4e00-\u9fff]", t):
        return False
    return previous is not None and bool(previous.strip()) and previous.strip()[-1] in r.final


@dataclass
class HeadingStack:
    """The open headings above the current paragraph, outermost first.

    Entries are (key, text): markdown headings have keys ``md1``…``md6``; numbered headings
    their style. A markdown heading closes every heading of its level or deeper and every
    numbered heading; a numbered style already open closes what is under it.
    """

    entries: list[tuple[str, str]] = field(default_factory=list)

    def push_markdown(self, level: int, text: str) -> None:
        while self.entries and not (self.entries[-1][0].startswith("md")
                                    and int(self.entries[-1][0][2:]) < level):
            self.entries.pop()
        self.entries.append((f"md{level}", text))

    def push_numbered(self, style: str, text: str) -> None:
        keys = [k for k, _ in self.entries]
        if style in keys:
            del self.entries[keys.index(style):]
        self.entries.append((style, text))

    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.entries)

    def clear(self) -> None:
        self.entries.clear()


def format_path(headings: tuple[str, ...] | list[str]) -> str:
    """``二、…政策取向 › （一）…``: how a heading path is shown."""
    return PATH_SEPARATOR.join(headings)
