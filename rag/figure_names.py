"""Named funds, vouchers, programmes and projects that a figure belongs to (the ``subject`` of
:class:`rag.figures.Figure`): a name ending in 基金/券/工程/计划/方案/项目/平台 that follows the
figure (``100亿元的X``, ``百亿元规模的X``, ``100亿元X基金``, ``5万元“数转券”``), else the nearest
such name earlier in the same sentence (``X正式成立,目标规模为100亿元``), else ``None``.
Split from :mod:`rag.figures`; names are found lazily, per sentence.
"""

from __future__ import annotations

import bisect
import re

__all__ = ["Entities"]

_CONJ_RE = re.compile(r"以及|和|与|及|、")
_SUFFIX = r"(?:基金(?:矩阵|群|体系|池)?|券|工程|计划|方案|项目|平台)"
_SUFFIX_RE = re.compile(_SUFFIX)
_ENDS_WITH_SUFFIX = re.compile(_SUFFIX + "$")
_STEM_RE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9０-９·\-—]{0,24}$")
_STOP_RE = re.compile(
    r"的|成立|设立|组建|建立|筹备|筹建|打造|宣布|官宣|印发|发布|出台|通过|形成|吸引|撬动|支持|鼓励"
    r"|推动|加快|加大|包括|围绕|进入|聚焦|实施|开展|推进|提供|遴选|一批|每年|按照|根据|给予|申领|将"
    r"|为|是|在|由|对|把|向|从|该|此|其|这|——"
)
_AFTER_GAP_RE = re.compile(r"(?:总规模|资金规模|规模)?的?[“\"]?")


class _SentenceNames:
    """The candidate names of one sentence, indexed for the two lookups in ``subject``."""

    def __init__(self, cands: list[tuple[int, int, bool]]) -> None:
        cands.sort(key=lambda c: (c[1], -c[0]))
        self.cands = cands
        self.ends = [b for _, b, _ in cands]
        # Right after a figure (100亿元的X基金) four characters make a name; further away, where
        # the link is weaker, five (唐山机器人产业投资基金 yes, 传统方案 no). Quoted names always.
        self.after: dict[int, tuple[int, int]] = {}
        self.best_upto: list[int] = []
        best = -1
        for k, (a, b, quoted) in enumerate(cands):
            if (quoted or b - a >= 4) and a not in self.after:
                self.after[a] = (a, b)
            if b - a >= 5 or quoted:
                best = k
            self.best_upto.append(best)


class Entities:
    """Named funds, vouchers, programmes … per sentence, found lazily and cached."""

    def __init__(
        self,
        text: str,
        figure_starts: list[int],
        figure_ends: list[int],
        quotes: list[tuple[int, int]],
        titles: list[tuple[int, int]],
    ) -> None:
        self.text = text
        self.figure_starts = figure_starts
        self.figure_ends = figure_ends
        self.quotes = quotes
        self.titles = titles
        self.cache: dict[int, _SentenceNames] = {}

    def subject(self, start: int, end: int, s_start: int, s_end: int) -> str | None:
        """The name that the figure ``text[start:end]`` of the sentence ``[s_start, s_end)``
        belongs to, or None."""
        names = self._sentence(s_start, s_end)
        gap = _AFTER_GAP_RE.match(self.text, end, s_end)
        after = names.after.get(gap.end() if gap else end)
        if after is not None:
            return self.text[after[0] : after[1]]
        # The nearest acceptable name that ends before the figure starts.
        i = bisect.bisect_right(names.ends, start) - 1
        k = names.best_upto[i] if i >= 0 else -1
        if k < 0:
            return None
        a, b, _ = names.cands[k]
        return self.text[a:b]

    def _sentence(self, s_start: int, s_end: int) -> _SentenceNames:
        if s_start in self.cache:
            return self.cache[s_start]
        text = self.text
        cands: list[tuple[int, int, bool]] = []
        # Quoted names count from two characters (“数转券”); titles from five, since 《方案》
        # is only an abbreviation of a title given earlier.
        for spans, shortest in ((self.quotes, 2), (self.titles, 5)):
            lo = bisect.bisect_left(spans, (s_start, -1))
            for a, b in spans[lo:]:
                if a >= s_end:
                    break
                if b - a >= shortest and _ENDS_WITH_SUFFIX.search(text, a, b):
                    cands.append((a, b, True))
        for m in _SUFFIX_RE.finditer(text, s_start, s_end):
            if not self._in_figure(m.start()):
                cands.append((self._stem_start(s_start, m.start()), m.end(), False))
        names = _SentenceNames(cands)
        self.cache[s_start] = names
        return names

    def _in_figure(self, pos: int) -> bool:
        i = bisect.bisect_right(self.figure_starts, pos) - 1
        return i >= 0 and pos < self.figure_ends[i]

    def _stem_start(self, s_start: int, suffix_start: int) -> int:
        i = bisect.bisect_right(self.figure_ends, suffix_start) - 1
        lo = max(s_start, suffix_start - 24, self.figure_ends[i] if i >= 0 else 0)
        j = bisect.bisect_right(self.figure_starts, suffix_start) - 1
        if j >= 0:
            lo = max(lo, self.figure_starts[j])  # a name never starts before a figure's start
        stem = _STEM_RE.search(self.text, lo, suffix_start)
        a = stem.start() if stem else suffix_start
        for stop in _STOP_RE.finditer(self.text, a, suffix_start):
            a = stop.end()
        for conj in _CONJ_RE.finditer(self.text, a, suffix_start):
            if _ENDS_WITH_SUFFIX.search(self.text, a, conj.start()):
                a = conj.end()  # 甲基金和乙基金: two names, not one
                break
        return a

