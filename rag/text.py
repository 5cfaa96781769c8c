"""Text normalisation and tokenisation shared by indexing and querying.

Originals are never changed: these forms are only for matching (embedding, BM25, figure
lookup). Answers always quote the original characters.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import jieba

from rag.hanzi import fold

jieba.setLogLevel(logging.WARNING)

# Zero-width and bidi control characters: invisible, but they split words for jieba and BM25.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_WORDISH = re.compile(r"\w", re.UNICODE)

# Function words and question words that carry no topic; dropped from BM25 queries only.
QUERY_STOPWORDS = frozenset(
    """的 了 吗 呢 吧 啊 是 在 和 与 及 或 有 多少 多大 几 什么 哪些 哪个 哪 怎么 怎样 如何 为什么
    请问 是否 请 一下 那 那么 这 这个 那个 其 之 为 对 把 被 给 就 都 也 还 又 what how which
    who when where why is are was were the a an of in on to for and or do does did much many will
    be by with at from as that this it its""".split()
)


def normalize(text: str) -> str:
    """NFKC, zero-width/bidi characters removed and traditional characters read as
    simplified: the form used for all matching.

    The invisible characters go first, so that what they separated is composed as if they
    had never been there (``e\u200b\u0301`` gives ``é``, as ``e\u0301`` does). Folding
    the script makes a simplified question find a traditional text (the 1954 report's
    ``鋼…二百十七萬噸``, parts of 1957's; Taiwan and Hong Kong sources) and the reverse.
    """
    return fold(unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)))


@lru_cache(maxsize=4096)
def _cut(text: str) -> tuple[str, ...]:
    return tuple(jieba.cut_for_search(text))


def tokenize(text: str) -> list[str]:
    """jieba search-mode tokens of the normalised, lower-cased text, punctuation dropped."""
    norm = normalize(text).lower()
    return [t for t in (tok.strip() for tok in _cut(norm)) if t and _WORDISH.search(t)]


@lru_cache(maxsize=4096)
def word_parts(word: str) -> tuple[str, ...]:
    """A Chinese compound as the words it is made of (粮食产量 → 粮食, 产量), when jieba's
    search mode splits all of it into words of two characters or more; else ``()``. The
    documents often write the parts apart (全国粮食连续四年增产，2007年产量达到…)."""
    if len(word) < 4 or not re.fullmatch(r"[\u4e00-\u9fff]+", word):
        return ()
    subs = {t for t in _cut(word) if 2 <= len(t) < len(word)}
    parts: list[str] = []
    i = 0
    while i < len(word):
        # the longest sub-word that starts here
        nxt = max((t for t in subs if word.startswith(t, i)), key=len, default=None)
        if nxt is None:
            return ()
        parts.append(nxt)
        i += len(nxt)
    return tuple(parts)


def query_tokens(text: str) -> list[str]:
    """Tokens for a BM25 query: like :func:`tokenize` without question and function words."""
    toks = [t for t in tokenize(text) if t not in QUERY_STOPWORDS]
    return toks or tokenize(text)


# One sentence splitter for the library: a sentence ends at 。！？；, their ASCII forms, or a
# line break, with closing quotes and brackets kept on the sentence they close.
SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*[”’」』）)]*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, surrounding whitespace excluded."""
    out: list[tuple[int, int]] = []
    for m in SENTENCE.finditer(text):
        a, b = m.span()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out
