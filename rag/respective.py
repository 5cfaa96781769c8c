"""分别 pairs: ``A和B…分别增长X和Y`` gives X to A and Y to B.

Why: the reports state two or more figures at once with 分别 (respectively), and the nearest
noun before a figure is then the wrong one for all but the last: in ``城镇居民人均可支配收入
达到10493元，农村居民人均纯收入达到3255元，扣除价格因素，分别增长9.6%和6.2%`` (2006; the
same in 2005) 9.6% is the urban income's growth, not the rural one's. Two forms:

* coordinated nouns just before 分别 (in its clause, or the clause before when its own is
  empty): ``化学需氧量、二氧化硫排放总量分别下降15.7%和17.5%`` (2013; 2010, 2014),
  ``城镇居民人均可支配收入和农村居民人均纯收入，分别实际增长58.3%和29.2%`` (2006);
* as many figures just before: the k-th figure after 分别 continues the k-th of them (2005,
  2006, 2013 ``32.9平方米、37.1平方米，分别比2007年增加2.8平方米和5.5平方米``).

Vocabulary (the joiners and change verbs) in ``rag/data/facts.json`` (``respectively``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.figures import Figure
from rag.vocab import data

__all__ = ["pair"]


def _data() -> dict[str, list[str]]:
    d: dict[str, list[str]] = data("facts")["respectively"]
    return d


def _groups(sentence: str, figs: Sequence[Figure]) -> list[tuple[int, list[int]]]:
    """(position of 分别, indexes of the figures it distributes)."""
    d = _data()
    lead = re.compile(r"分别(?P<gap>[^0-9０-９，。；：,;:]{0,8})$")
    joins = tuple(d["joiners"])
    out: list[tuple[int, list[int]]] = []
    i = 0
    while i < len(figs):
        m = lead.search(sentence[max(0, figs[i].start - 10):figs[i].start])
        if figs[i].kind == "date" or m is None:
            i += 1
            continue
        at = figs[i].start - (len(m.group()))
        group = [i]
        while group[-1] + 1 < len(figs) and \
                sentence[figs[group[-1]].end:figs[group[-1] + 1].start] in joins:
            group.append(group[-1] + 1)
        if len(group) > 1:
            out.append((at, group))
        i = group[-1] + 1
    return out


def _verb(gap: str) -> str:
    verbs = sorted(_data()["change_verbs"], key=len, reverse=True)
    return next((v for v in verbs if v in gap), "")


def _nouns(sentence: str, at: int, n: int) -> list[str] | None:
    """The n coordinated nouns that end just before 分别 (its clause, else the clause before)."""
    d = _data()
    a = max(sentence.rfind(c, 0, at) for c in "，；：。,;:") + 1
    phrase = sentence[a:at].strip()
    if not phrase and a > 1:
        b = max(sentence.rfind(c, 0, a - 1) for c in "，；：。,;:") + 1
        phrase = sentence[b:a - 1].strip()
    if not phrase or re.search(r"[0-9０-９]", phrase):
        return None
    parts = [p for p in re.split("|".join(map(re.escape, d["joiners"])), phrase) if p]
    if len(parts) != n or any(len(p) < 2 for p in parts):
        return None
    return parts


def pair(sentence: str, figs: Sequence[Figure], metrics: list[str | None],
         subjects: list[str | None], actor: Callable[[str], str | None]) -> None:
    """Give each figure after 分别 the metric and subject of the noun or figure it pairs with
    (in place). ``actor`` maps a noun phrase to the actor that opens it, or None."""
    for at, group in _groups(sentence, figs):
        gap = sentence[at + 2:figs[group[0]].start]
        verb = _verb(gap)
        nouns = _nouns(sentence, at, len(group))
        if nouns is not None:
            for k, i in enumerate(group):
                metrics[i] = nouns[k] + verb
                subjects[i] = actor(nouns[k])
            continue
        before = [j for j in range(group[0]) if figs[j].kind != "date"][-len(group):]
        if len(before) != len(group) or len({metrics[j] for j in before}) < 2:
            continue
        for j, i in zip(before, group, strict=True):
            base = metrics[j] or ""
            metrics[i] = base if not verb or base.endswith(verb) else base + verb
            subjects[i] = subjects[j]
