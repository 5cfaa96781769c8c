"""BM25 over index segments: each segment stores its passages' term counts (postings); the
scorer is assembled from the live rows of every segment, with IDF and average length over
those rows only, so that scores are the same however the corpus was split into segments.

The formula and arithmetic are those of ``bm25s`` (method ``lucene``, k1 1.2, b 0.75, float32
scores summed in query-term order), which the index used before segments: a test checks that
the scores equal a ``bm25s`` index over the same passages.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

K1 = 1.2
B = 0.75
FILES = ("bm25/vocab.json", "bm25/indptr.npy", "bm25/terms.npy", "bm25/counts.npy")


@dataclass(frozen=True)
class Postings:
    """Term counts of a segment's passages: row r holds ``terms[indptr[r]:indptr[r+1]]``
    (ids into ``vocab``) with their ``counts``."""

    vocab: list[str]
    indptr: np.ndarray  # int64, rows + 1
    terms: np.ndarray  # int32
    counts: np.ndarray  # int32

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def build(cls, tokens: list[list[str]]) -> Postings:
        vocab: dict[str, int] = {}
        indptr = [0]
        terms: list[int] = []
        counts: list[int] = []
        for toks in tokens:
            for t, c in Counter(toks).items():
                terms.append(vocab.setdefault(t, len(vocab)))
                counts.append(c)
            indptr.append(len(terms))
        return cls(list(vocab), np.asarray(indptr, dtype=np.int64),
                   np.asarray(terms, dtype=np.int32), np.asarray(counts, dtype=np.int32))

    def save(self, folder: Path) -> None:
        (folder / "bm25").mkdir()
        (folder / FILES[0]).write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        for name, arr in zip(FILES[1:], (self.indptr, self.terms, self.counts), strict=True):
            np.save(folder / name, arr, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> Postings:
        """Raises ValueError (or OSError) when the files are not postings."""
        vocab = json.loads((folder / FILES[0]).read_text(encoding="utf-8"))
        indptr, terms, counts = (np.load(folder / n, allow_pickle=False) for n in FILES[1:])
        if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
            raise ValueError("vocabulary is not a list of terms")
        if (indptr.ndim != 1 or len(indptr) < 1 or indptr[0] != 0 or terms.shape != counts.shape
                or indptr[-1] != len(terms) or np.any(np.diff(indptr) < 0)):
            raise ValueError("postings arrays do not fit together")
        if len(terms) and (terms.min() < 0 or terms.max() >= len(vocab) or counts.min() < 1):
            raise ValueError("postings hold terms outside the vocabulary")
        return cls(vocab, indptr.astype(np.int64), terms.astype(np.int32), counts.astype(np.int32))


class BM25:
    """Scores of every live passage for a query, from the postings of the live rows."""

    def __init__(self, parts: list[tuple[Postings, int, int]]) -> None:
        """``parts``: (postings, start, end) row ranges, in the snapshot's row order."""
        vocab: dict[str, int] = {}
        rows: list[np.ndarray] = []
        terms: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        row0 = 0
        remaps: dict[int, np.ndarray] = {}
        for post, start, end in parts:
            remap = remaps.get(id(post))
            if remap is None:
                remap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in post.vocab),
                                    dtype=np.int32, count=len(post.vocab))
                remaps[id(post)] = remap
            a, b = int(post.indptr[start]), int(post.indptr[end])
            per_row = np.diff(post.indptr[start:end + 1])
            rows.append(np.repeat(np.arange(row0, row0 + end - start, dtype=np.int32), per_row))
            terms.append(remap[post.terms[a:b]])
            c = post.counts[a:b]
            counts.append(c)
            local = np.repeat(np.arange(end - start), per_row)
            lengths.append(np.bincount(local, weights=c, minlength=end - start).astype(np.int64))
            row0 += end - start
        self.vocab = vocab
        self.num_docs = row0
        row = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        term = np.concatenate(terms) if terms else np.zeros(0, np.int32)
        tf = (np.concatenate(counts) if counts else np.zeros(0, np.int32)).astype(np.float32)
        doc_len = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        n_docs = self.num_docs
        df = np.bincount(term, minlength=len(vocab))
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        avg_len = doc_len.mean() if n_docs else 1.0
        tfc = tf / (K1 * ((1 - B) + B * doc_len[row] / avg_len) + tf)
        scores = (idf[term] * tfc).astype(np.float32)
        order = np.lexsort((row, term))  # column-major: by term, then by row
        self._data = scores[order]
        self._rows = row[order]
        self._indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term, minlength=len(vocab)), out=self._indptr[1:])

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of each row for the query terms (a repeated term counts again)."""
        scores = np.zeros(self.num_docs, dtype=np.float32)
        for t in tokens:
            i = self.vocab.get(t)
            if i is not None:
                a, b = self._indptr[i], self._indptr[i + 1]
                np.add.at(scores, self._rows[a:b], self._data[a:b])
        return scores
