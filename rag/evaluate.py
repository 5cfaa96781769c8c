"""Evaluation: retrieval quality per mode and answer quality, on the project's own QA set and
on external reading-comprehension sets (CMRC 2018, DRCD).

Retrieval metrics, per question and averaged (binary relevance):

* ``recall@k`` — hit rate: 1 if any relevant passage is among the first k, else 0;
* ``mrr@10`` — 1 / rank of the first relevant passage within the first 10, else 0;
* ``ndcg@10`` — DCG of the first 10 (gain 1 per relevant passage at rank r: 1/log2(r+1))
  divided by the ideal DCG for the number of relevant passages in the index (capped at 10).

Relevant passages: for the project set, every indexed passage whose text contains the gold
quote (chunks overlap, so there may be several) in the gold article, and in the gold section
when one is given; for an external set, the passage with the gold ``passage_id``.

Answer metrics (project set; :func:`answer_checks`):

* ``figure_accuracy`` — over questions with a numeric gold (value, range or date): the first
  figure of the answer equals the gold in base units (and unit, and kind date for a date);
* ``text_accuracy`` — over questions with a text gold: every gold string occurs in the answer;
* ``answer_accuracy`` — both together, over all answerable questions;
* ``refusal_accuracy`` — over unanswerable questions: ``found`` is false;
* ``false_refusals`` — answerable questions answered ``found: false``;
* ``cited_gold`` — share of answerable questions where a citation contains the gold quote.

External sets: ``span_hit`` — an answer span occurs in the answer text, or, for a numeric
answer, one of the answer's figures has the span's value.

The project set is indexed from scratch by :meth:`Engine.index` from the configured corpus
folder into ``<out>/index/project-*`` (the live index is never touched); an external set's
passages are indexed as they are, one record per passage (no chunking), into
``<out>/index/<set>``. Passage vectors of both are cached by text in ``<out>/cache``, so that
re-runs do not encode again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag import figstore
from rag import index as store
from rag.config import EngineConfig
from rag.embed import Embedder
from rag.engine import Engine
from rag.errors import RagError
from rag.figures import extract_figures
from rag.question import rewrite
from rag.retrieve import MODES, passage_index_text, passage_tokens
from rag.text import normalize
from rag.types import Passage, content_id

DEFAULT_KS = (1, 3, 5, 10)
RANK_DEPTH = 10  # MRR and nDCG are computed over the first 10 results
QA_TYPES = ("amount", "count", "share", "date", "which", "compare", "list", "trend", "followup",
            "unanswerable", "english")
SPLITS = ("fit", "test")
_REL_TOL = 1e-6
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?|-H[12]|-Q[1-4])?$")


# --------------------------------------------------------------------------- metrics


def recall_at_k(relevant: Sequence[bool], k: int) -> float:
    """Hit rate: 1.0 if any of the first k results is relevant."""
    return 1.0 if any(relevant[:k]) else 0.0


def mrr_at_k(relevant: Sequence[bool], k: int = RANK_DEPTH) -> float:
    """Reciprocal rank of the first relevant result within the first k, else 0."""
    for i, rel in enumerate(relevant[:k], start=1):
        if rel:
            return 1.0 / i
    return 0.0


def ndcg_at_k(relevant: Sequence[bool], k: int = RANK_DEPTH, n_relevant: int | None = None) -> float:
    """Binary-relevance nDCG@k; the ideal ranking puts ``n_relevant`` relevant results first
    (default: as many as the ranking holds)."""
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(relevant[:k], start=1) if rel)
    n = sum(bool(r) for r in relevant) if n_relevant is None else n_relevant
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(n, k) + 1))
    return dcg / ideal if ideal > 0 else 0.0


def retrieval_metrics(rankings: Sequence[tuple[Sequence[bool], int]],
                      ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Averages over questions; each question is (relevance of its ranking, number of
    relevant passages in the index)."""
    out: dict[str, float] = {}
    n = len(rankings)
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at_k(r, k) for r, _ in rankings) / n if n else 0.0
    out[f"mrr@{RANK_DEPTH}"] = sum(mrr_at_k(r) for r, _ in rankings) / n if n else 0.0
    out[f"ndcg@{RANK_DEPTH}"] = (
        sum(ndcg_at_k(r, RANK_DEPTH, nr) for r, nr in rankings) / n if n else 0.0
    )
    return out


# --------------------------------------------------------------------------- QA sets


@dataclass(frozen=True)
class Gold:
    """Where the answer is: an article title and a section (or None), or a document's source
    name (``doc``, for sets over many documents), and a verbatim quote. ``more`` holds the
    further places of an answer spread over several documents (a trend over years)."""

    title: str
    section: str | None
    quote: str
    doc: str | None = None
    more: tuple[Gold, ...] = ()

    def matches(self, p: Passage) -> bool:
        if self.quote in _squeeze(p.text) and (
                (self.doc is not None and p.source == self.doc)
                or (self.doc is None and p.title == self.title
                    and (self.section is None or p.section == self.section))):
            return True
        return any(g.matches(p) for g in self.more)

    def cited_by(self, c: dict[str, Any]) -> bool:
        text = _squeeze(str(c.get("text", "")))
        if self.quote in text and (c.get("source") == self.doc if self.doc
                                   else c.get("title") == self.title):
            return True
        return any(g.cited_by(c) for g in self.more)


def _squeeze(text: str) -> str:
    """Passage text as quotes are written: the line breaks between joined lines removed."""
    return text.replace("\n", "")


def _gold(g: Any) -> Gold | None:
    """A gold object ({title, section, quote} or {doc, quote}) or a list of them."""
    if isinstance(g, list) and g and all(isinstance(x, dict) for x in g):
        parts = [_gold(x) for x in g]
        if any(x is None for x in parts):
            return None
        first = parts[0]
        assert first is not None
        return replace(first, more=tuple(x for x in parts[1:] if x is not None))
    if not isinstance(g, dict) or not (isinstance(g.get("quote"), str) and g["quote"]):
        return None
    if isinstance(g.get("doc"), str) and g["doc"]:
        return Gold(title="", section=None, quote=g["quote"], doc=g["doc"])
    if isinstance(g.get("title"), str) and g["title"] and (
            g.get("section") is None or isinstance(g.get("section"), str)):
        return Gold(g["title"], g.get("section"), g["quote"])
    return None


@dataclass(frozen=True)
class QAItem:
    """One question of an evaluation set (project or external format)."""

    id: str
    question: str
    type: str
    answerable: bool
    turns: tuple[str, ...] = ()
    gold: Gold | None = None  # project set
    answer: dict[str, Any] | None = None  # project set: value/unit, low/high, date, text
    passage_id: str | None = None  # external sets
    spans: tuple[str, ...] = ()  # external sets: answer spans
    numeric: bool = False
    split: str | None = None  # fit | test: fit weights and thresholds on fit only


def _fail(path: Path, line: int, msg: str) -> RagError:
    return RagError(f"{path}:{line}: {msg}")


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RagError(f"{path}: cannot read ({exc.strerror or exc})") from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise _fail(path, n, f"not JSON ({exc})") from None
        if not isinstance(rec, dict):
            raise _fail(path, n, "each line must be a JSON object")
        out.append((n, rec))
    return out


def is_external(path: Path) -> bool:
    """Whether a QA file is in the external format (``passage_id`` + ``answers``)."""
    recs = _read_jsonl(path)
    return bool(recs) and "passage_id" in recs[0][1]


def _check_answer(ans: Any) -> str | None:
    """Why a project-set answer object is malformed, or None."""
    if not isinstance(ans, dict) or not ans:
        return "answer must be an object or null"
    unknown = set(ans) - {"value", "unit", "low", "high", "date", "text"}
    if unknown:
        return f"unknown answer keys {sorted(unknown)}"
    for key in ("value", "low", "high"):
        if key in ans and (isinstance(ans[key], bool) or not isinstance(ans[key], int | float)
                           or not math.isfinite(ans[key])):
            return f"answer {key} must be a finite number"
    if ("low" in ans) != ("high" in ans):
        return "a range answer needs both low and high"
    if "date" in ans and not (isinstance(ans["date"], str) and _DATE.match(ans["date"])):
        return "answer date must look like 2025, 2025-03 or 2025-03-01"
    if "unit" in ans and not isinstance(ans["unit"], str):
        return "answer unit must be a string"
    text = ans.get("text")
    if text is not None and not (
        (isinstance(text, str) and text)
        or (isinstance(text, list) and text and all(isinstance(t, str) and t for t in text))
    ):
        return "answer text must be a non-empty string or list of strings"
    if not ({"value", "low", "date"} & set(ans)) and text is None:
        return "answer needs a value, a range, a date or a text"
    return None


def load_qa(path: Path) -> list[QAItem]:
    """Read a project-format QA set (see ``corpus/qa.jsonl``); raise RagError on a bad line."""
    items: list[QAItem] = []
    seen: dict[str, int] = {}
    for n, rec in _read_jsonl(path):
        qid, question, qtype = rec.get("id"), rec.get("question"), rec.get("type")
        if not isinstance(qid, str) or not qid:
            raise _fail(path, n, "id must be a non-empty string")
        if qid in seen:
            raise _fail(path, n, f"duplicate question id {qid!r} (first on line {seen[qid]})")
        seen[qid] = n
        split = rec.get("split")
        if split is not None and split not in SPLITS:
            raise _fail(path, n, f"split must be one of {', '.join(SPLITS)}")
        if not isinstance(question, str) or not question.strip():
            raise _fail(path, n, "question must be a non-empty string")
        if qtype not in QA_TYPES:
            raise _fail(path, n, f"type must be one of {', '.join(QA_TYPES)}")
        turns = rec.get("turns") or []
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise _fail(path, n, "turns must be a list of strings")
        answerable = rec.get("answerable")
        if not isinstance(answerable, bool):
            raise _fail(path, n, "answerable must be true or false")
        g, ans = rec.get("gold"), rec.get("answer")
        gold: Gold | None = None
        if answerable:
            gold = _gold(g)
            if gold is None:
                raise _fail(path, n, "an answerable question needs gold {section, title, quote} "
                                     "or {doc, quote} (or a list of them)")
            why = _check_answer(ans)
            if why:
                raise _fail(path, n, why)
        elif g is not None or ans is not None:
            raise _fail(path, n, "an unanswerable question has gold and answer null")
        items.append(QAItem(id=qid, question=question.strip(), type=qtype, answerable=answerable,
                            turns=tuple(turns), gold=gold, answer=ans if answerable else None,
                            split=split))
    if not items:
        raise RagError(f"{path}: no questions")
    return items


def load_external(qa_path: Path, passages_path: Path) -> tuple[list[QAItem], dict[str, Passage]]:
    """Read an external set: questions with a gold ``passage_id`` and their passages.
    Questions with an empty text are skipped."""
    passages: dict[str, Passage] = {}
    for n, rec in _read_jsonl(passages_path):
        pid, text = rec.get("passage_id"), rec.get("text")
        if not isinstance(pid, str) or not isinstance(text, str):
            raise _fail(passages_path, n, "each passage needs passage_id and text")
        passages[pid] = Passage(
            passage_id=pid, doc_id=content_id(pid), source=str(rec.get("source") or
                                                                passages_path.stem),
            title=str(rec.get("title") or ""), subtitle=None, section=None, kind="body",
            text=text, start=0, end=len(text),
        )
    items: list[QAItem] = []
    for n, rec in _read_jsonl(qa_path):
        pid, question = rec.get("passage_id"), rec.get("question")
        if isinstance(question, str) and not question.strip():
            continue  # an empty question (CMRC 2018 has two) cannot be asked
        if not isinstance(question, str) or pid not in passages:
            raise _fail(qa_path, n, "each question needs a question and a known passage_id")
        spans = tuple(a["text"] for a in rec.get("answers") or []
                      if isinstance(a, dict) and isinstance(a.get("text"), str) and a["text"])
        items.append(QAItem(id=str(rec.get("id") or f"{qa_path.stem}:{n}"),
                            question=question.strip(), type="external", answerable=True,
                            passage_id=pid, spans=spans, numeric=bool(rec.get("numeric_answer"))))
    return items, passages


def set_name(path: Path) -> str:
    """``qa_cmrc2018.jsonl`` → ``cmrc2018``; ``corpus/qa.jsonl`` → ``project``."""
    stem = path.stem
    if stem == "qa":
        return "project"
    return stem.removeprefix("qa_") or stem


def passages_file_for(qa_path: Path) -> Path:
    """The passages file that sits beside an external QA file (``qa_X`` → ``passages_X``)."""
    return qa_path.with_name("passages_" + qa_path.name.removeprefix("qa_"))


def resolve_inputs(qa_files: Sequence[Path], passages_files: Sequence[Path] = ()
                   ) -> list[tuple[Path, Path | None]]:
    """Pair each external QA file with a passages file: the given ones in order, else the
    ``passages_*`` file beside it. Project-format files get None."""
    given = list(passages_files)
    out: list[tuple[Path, Path | None]] = []
    for q in qa_files:
        if is_external(q):
            p = given.pop(0) if given else passages_file_for(q)
            if not p.is_file():
                raise RagError(f"{q}: no passages file (looked for {p}); give --passages")
            out.append((q, p))
        else:
            out.append((q, None))
    if given:
        raise RagError("more --passages files than external --qa files")
    return out


def parse_ks(text: str) -> tuple[int, ...]:
    """``"1,3,5,10"`` → (1, 3, 5, 10); raise ValueError on anything else."""
    try:
        ks = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise ValueError(f"--k must be a comma-separated list of integers, got {text!r}") from None
    if not ks or ks[0] < 1 or ks[-1] > 100:
        raise ValueError(f"--k values must be between 1 and 100, got {text!r}")
    return ks


def sample(items: Sequence[QAItem], limit: int | None, seed: int = 0) -> list[QAItem]:
    """A reproducible random sample of ``limit`` items, kept in file order."""
    if limit is None or limit >= len(items):
        return list(items)
    keep = set(random.Random(seed).sample(range(len(items)), limit))
    return [it for i, it in enumerate(items) if i in keep]


def passage_pool(items: Sequence[QAItem], passages: dict[str, Passage], size: int | None,
                 seed: int = 0) -> list[Passage]:
    """The gold passages of ``items`` plus random distractors up to ``size`` passages
    (all passages when ``size`` is None), in file order."""
    if size is None:
        return list(passages.values())
    need = {it.passage_id for it in items if it.passage_id}
    rest = [pid for pid in passages if pid not in need]
    extra = max(0, size - len(need))
    need |= set(random.Random(seed).sample(rest, min(extra, len(rest))))
    return [p for pid, p in passages.items() if pid in need]


def effective_query(item: QAItem) -> str:
    """The query retrieval sees: a follow-up made self-contained from its earlier turns,
    exactly as :meth:`Engine.ask` does it."""
    previous: str | None = None
    for turn in item.turns:
        if turn.strip():
            previous = rewrite(turn.strip(), previous) or turn.strip()
    return rewrite(item.question, previous) or item.question


def check_qa(items: Sequence[QAItem], passages: Sequence[Passage],
             paragraphs: Iterable[tuple[str, str | None, str]]) -> list[str]:
    """Problems of a project QA set against a document: every gold quote must occur in a
    paragraph (after column-break repair) of the gold article/section and in an indexed
    passage; every numeric answer must be what its ``text`` parses to; a text answer must be
    in the quote's paragraph. ``paragraphs`` is (title, section, text) of each paragraph."""
    paras = list(paragraphs)
    problems: list[str] = []
    for it in items:
        if it.gold is None or it.answer is None:
            continue
        g = it.gold
        where = [t for title, sec, t in paras
                 if title == g.title and (g.section is None or sec == g.section) and g.quote in t]
        if not where:
            problems.append(f"{it.id}: quote not in any paragraph of {g.title}/{g.section}")
            continue
        if not any(g.matches(p) for p in passages):
            problems.append(f"{it.id}: quote not inside any one indexed passage")
        ans = it.answer
        text = ans.get("text")
        if {"value", "low", "date"} & set(ans):
            if not isinstance(text, str) or text not in where[0]:
                problems.append(f"{it.id}: a numeric answer needs its source text from the quote's "
                                "paragraph")
                continue
            figs = extract_figures(text)
            if not figs or not figure_matches(figs[0].to_dict(), ans):
                problems.append(f"{it.id}: {text!r} does not parse to the gold answer")
        elif text is not None:
            texts = [text] if isinstance(text, str) else text
            if it.type not in ("list", "compare") and not all(t in where[0] for t in texts):
                problems.append(f"{it.id}: answer text not in the quote's paragraph")
    return problems


# --------------------------------------------------------------------------- answers


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return abs(float(a) - float(b)) <= _REL_TOL * max(abs(float(a)), abs(float(b)), 1e-12)


def figure_matches(fig: dict[str, Any], gold: dict[str, Any]) -> bool:
    """Whether an answer figure (``AnswerFigure.to_dict()``) equals a numeric gold answer."""
    if "date" in gold:
        return fig.get("kind") == "date" and fig.get("date") == gold["date"]
    if "unit" in gold and fig.get("unit", "") != gold["unit"]:
        return False
    if "value" in gold:
        return _close(fig.get("value"), gold["value"])
    return _close(fig.get("low"), gold.get("low")) and _close(fig.get("high"), gold.get("high"))


def answer_checks(item: QAItem, answer: dict[str, Any]) -> dict[str, Any]:
    """Score one ``Answer.to_dict()`` against a project-set item."""
    found = bool(answer.get("found"))
    out: dict[str, Any] = {"found": found}
    if not item.answerable:
        out["correct"] = not found
        return out
    gold = item.answer or {}
    figures = answer.get("figures") or []
    numeric = bool({"value", "low", "date"} & set(gold))
    out["numeric"] = numeric
    if numeric:
        ok = found and bool(figures) and figure_matches(figures[0], gold)
    else:
        text = gold.get("text")
        texts = [text] if isinstance(text, str) else list(text or [])
        body = normalize(str(answer.get("answer", ""))).lower()
        ok = found and all(normalize(t).lower() in body for t in texts)
    out["correct"] = ok
    g = item.gold
    out["cited_gold"] = g is not None and any(g.cited_by(c) for c in answer.get("citations") or [])
    return out


def span_hit(item: QAItem, answer: dict[str, Any]) -> bool:
    """External sets: a gold span is in the answer text, or a figure has a span's value."""
    if not answer.get("found"):
        return False
    body = normalize(str(answer.get("answer", ""))).lower()
    if any(normalize(s).lower() in body for s in item.spans):
        return True
    if item.numeric:
        gold_figs = [f.to_dict() for s in item.spans for f in extract_figures(s)]
        for f in answer.get("figures") or []:
            for g in gold_figs:
                if g["kind"] == "date":
                    if f.get("date") and f.get("date") == g["date"]:
                        return True
                elif g["value"] is not None and _close(f.get("value"), g["value"]):
                    return True
    return False


# --------------------------------------------------------------------------- indexing


class VectorCache:
    """Passage vectors keyed by model fingerprint and indexed text, in one ``.npz`` file."""

    def __init__(self, folder: Path, fingerprint: str, dim: int) -> None:
        self.path = folder / f"vectors-{fingerprint}.npz"
        self.dim = dim
        self._rows: dict[str, int] = {}
        self._vecs = np.zeros((0, dim), dtype=np.float32)
        if self.path.is_file():
            try:
                with np.load(self.path) as z:
                    keys = [str(k) for k in z["keys"]]
                    vecs = np.asarray(z["vectors"], dtype=np.float32)
                if vecs.shape == (len(keys), dim):
                    self._rows = {k: i for i, k in enumerate(keys)}
                    self._vecs = vecs
            except (OSError, ValueError, KeyError):
                pass  # an unreadable cache is rebuilt

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def get(self, text: str) -> np.ndarray | None:
        i = self._rows.get(self.key(text))
        return None if i is None else self._vecs[i]

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        new = [(self.key(t), v) for t, v in zip(texts, vectors, strict=True)
               if self.key(t) not in self._rows]
        if not new:
            return
        base = len(self._vecs)
        self._vecs = np.vstack([self._vecs, np.stack([v for _, v in new]).astype(np.float32)])
        for j, (k, _) in enumerate(new):
            self._rows[k] = base + j

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".part.npz")
        keys = np.array(sorted(self._rows, key=self._rows.__getitem__))
        np.savez(tmp, keys=keys, vectors=self._vecs)
        os.replace(tmp, self.path)


def encode_cached(embedder: Embedder, texts: Sequence[str], cache: VectorCache | None, *,
                  progress: bool = False, block: int = 64) -> np.ndarray:
    """Passage vectors of ``texts``, encoding only those the cache lacks (saved as it goes)."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    todo: list[int] = []
    for i, t in enumerate(texts):
        v = cache.get(t) if cache is not None else None
        if v is None:
            todo.append(i)
        else:
            out[i] = v
    if not todo:
        return out
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="encoding passages", unit="passage", disable=not progress)
    for a in range(0, len(todo), block):
        rows = todo[a:a + block]
        vecs = embedder.encode_passages([texts[i] for i in rows])
        out[rows] = vecs
        if cache is not None:
            cache.put([texts[i] for i in rows], vecs)
            cache.save()
        bar.update(len(rows))
    bar.close()
    return out


def index_passages(root: Path, passages: Sequence[Passage], embedder: Embedder, *,
                   cache: VectorCache | None = None, ann: str = "flat",
                   progress: bool = False) -> store.Snapshot:
    """Index the given passage records as they are (no chunking) as the live version of
    ``root``, and return it. Vectors come from ``cache`` where it has them."""
    texts = [passage_index_text(p) for p in passages]
    vectors = encode_cached(embedder, texts, cache, progress=progress)
    tokens = [passage_tokens(p) for p in passages]
    with store.write_lock(root):
        live = store.current_version(root) if root.is_dir() else None
        store.remove_leftovers(root, keep={live} if live else set())
        snap = store.write_snapshot(
            root, passages=list(passages), tokens=tokens, vectors=vectors, documents=[],
            model=embedder.name, model_fingerprint=embedder.fingerprint, dim=embedder.dim,
            chunking={"records": True}, chunk_digest="records", ann=ann,
            figures=[figstore.annotate(p) for p in passages], figure_digest=figstore.store_digest(),
        )
        store.remove_leftovers(root, keep={snap.root.name})
    return snap


def passages_engine(root: Path, passages: Sequence[Passage], embedder: Embedder,
                    base: EngineConfig, *, cache: VectorCache | None = None,
                    progress: bool = False) -> Engine:
    """An engine over the given passage records (indexed into ``root``)."""
    index_passages(root, passages, embedder, cache=cache, ann=base.ann, progress=progress)
    cfg = replace(base, index_dir=root, corpus_dir=None, auto_index=False)
    return Engine(cfg, embedder=embedder)


class CachedEmbedder:
    """An embedder whose passage vectors go through a :class:`VectorCache` (queries are
    passed through), so that an index can be rebuilt from scratch without encoding again."""

    def __init__(self, inner: Embedder, cache: VectorCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name, self.fingerprint, self.dim = inner.name, inner.fingerprint, inner.dim

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        return encode_cached(self.inner, texts, self.cache, progress=progress)


def project_engine(base: EngineConfig, out_dir: Path, embedder: Embedder, *,
                   cache: VectorCache | None = None, progress: bool = False) -> Engine:
    """An engine over the configured corpus folder, indexed by :meth:`Engine.index` from
    scratch into ``out_dir/index`` (an index kept from an earlier run could hold passages
    made by older ingest/chunking code); with a ``cache``, only new texts are encoded."""
    if base.corpus_dir is None:
        raise RagError("the project set needs a corpus folder (--corpus-dir)")
    root = out_dir / "index" / f"project-{base.chunking.digest()}-{base.ann}"
    if root.is_dir():
        shutil.rmtree(root)
    cfg = replace(base, index_dir=root, auto_index=False)
    emb: Embedder = CachedEmbedder(embedder, cache) if cache is not None else embedder
    engine = Engine(cfg, embedder=emb)
    engine.index(progress=progress)
    return engine


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class EvalOptions:
    ks: tuple[int, ...] = DEFAULT_KS
    modes: tuple[str, ...] = MODES
    limit: int | None = None  # questions per set (a seeded random sample)
    pool: int = 1000  # with a limit: passages indexed per external set (gold + distractors)
    seed: int = 0
    answers: bool = True
    progress: bool = False

    def __post_init__(self) -> None:
        if not self.ks or any(k < 1 for k in self.ks):
            raise ValueError("k values must be positive")
        if not self.modes or any(m not in MODES for m in self.modes):
            raise ValueError(f"modes must be among {', '.join(MODES)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be positive")


@dataclass
class SetReport:
    """Results of one evaluation set."""

    name: str
    kind: str  # project | external
    questions: int
    passages: int
    retrieval: dict[str, dict[str, float]] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bar(items: Sequence[Any], desc: str, progress: bool) -> Iterable[Any]:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="q", disable=not progress or len(items) < 20,
                leave=False)


def evaluate_retrieval(engine: Engine, cases: Sequence[tuple[str, str]],
                       gold: dict[str, set[str]], n_relevant: dict[str, int],
                       opts: EvalOptions, *, desc: str = "retrieval",
                       ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, Any]]]:
    """Rank every case (id, query) with every mode; ``gold[id]`` holds the ids (passage ids,
    or the external passage ids) that count as relevant. Returns metrics per mode and, per
    case and mode, the rank of the first relevant passage (None when not in the top)."""
    depth = max(max(opts.ks), RANK_DEPTH)
    metrics: dict[str, dict[str, float]] = {}
    per_case: dict[str, dict[str, Any]] = {cid: {} for cid, _ in cases}
    for mode in opts.modes:
        rankings: list[tuple[list[bool], int]] = []
        elapsed = 0.0
        for cid, query in _bar(cases, f"{desc} ({mode})", opts.progress):
            t0 = time.perf_counter()
            hits = engine.search(query, k=depth, mode=mode)
            elapsed += time.perf_counter() - t0
            rel = [h.passage.passage_id in gold[cid] for h in hits]
            rankings.append((rel, n_relevant[cid]))
            per_case[cid][mode] = next((i for i, r in enumerate(rel, start=1) if r), None)
        m = retrieval_metrics(rankings, opts.ks)
        # wall time only: the embedder may serve repeated queries from its cache (see
        # benchmarks/query.py for latency)
        m["ms_per_query"] = 1000.0 * elapsed / max(len(cases), 1)
        metrics[mode] = m
    return metrics, per_case


def evaluate_project(engine: Engine, items: Sequence[QAItem], opts: EvalOptions,
                     name: str = "project") -> SetReport:
    """Retrieval metrics per mode and answer metrics for a project-format set."""
    snap = engine.snapshot()
    gold: dict[str, set[str]] = {}
    cases: list[tuple[str, str]] = []
    for it in items:
        if it.gold is None:
            continue
        gold[it.id] = {p.passage_id for p in snap.passages if it.gold.matches(p)}
        cases.append((it.id, effective_query(it)))
    n_rel = {cid: max(len(g), 1) for cid, g in gold.items()}
    report = SetReport(name, "project", len(items), len(snap.passages))
    report.retrieval, ranks = evaluate_retrieval(engine, cases, gold, n_rel, opts,
                                                 desc=name)
    details: dict[str, dict[str, Any]] = {
        it.id: {"id": it.id, "type": it.type, "question": it.question,
                "query": effective_query(it) if it.gold else None,
                "gold_passages": len(gold.get(it.id, ())), "rank": ranks.get(it.id)}
        for it in items
    }
    if opts.answers:
        checks: list[tuple[QAItem, dict[str, Any]]] = []
        for it in _bar(items, f"{name} (answers)", opts.progress):
            ans: dict[str, Any] = engine.ask(it.question, history=list(it.turns)).to_dict()
            c = answer_checks(it, ans)
            checks.append((it, c))
            figs: list[dict[str, Any]] = list(ans.get("figures") or [])
            details[it.id].update(
                found=c["found"], correct=c["correct"], cited_gold=c.get("cited_gold"),
                answer=str(ans.get("answer", ""))[:300],
                first_figure=({k: figs[0].get(k) for k in ("text", "value", "low", "high",
                                                            "unit", "kind", "date")}
                              if figs else None),
                rewritten=ans.get("rewritten_question"),
            )
        report.answers = answer_summary(checks)
    report.details = list(details.values())
    return report


def answer_summary(checks: Sequence[tuple[QAItem, dict[str, Any]]]) -> dict[str, Any]:
    """Aggregate :func:`answer_checks` results."""
    answerable = [(it, c) for it, c in checks if it.answerable]
    numeric = [(it, c) for it, c in answerable if c.get("numeric")]
    textual = [(it, c) for it, c in answerable if not c.get("numeric")]
    refusals = [(it, c) for it, c in checks if not it.answerable]

    def share(xs: Sequence[tuple[QAItem, dict[str, Any]]], key: str = "correct") -> float | None:
        return sum(bool(c.get(key)) for _, c in xs) / len(xs) if xs else None

    by_type: dict[str, dict[str, int]] = {}
    for it, c in checks:
        t = by_type.setdefault(it.type, {"n": 0, "correct": 0})
        t["n"] += 1
        t["correct"] += int(bool(c["correct"]))
    return {
        "answerable": len(answerable),
        "unanswerable": len(refusals),
        "answer_accuracy": share(answerable),
        "figure_accuracy": share(numeric),
        "figure_questions": len(numeric),
        "text_accuracy": share(textual),
        "text_questions": len(textual),
        "refusal_accuracy": share(refusals),
        "false_refusals": sum(not c["found"] for _, c in answerable),
        # found, with a wrong answering figure or text, or an answer to an unanswerable one
        "wrong_answer_rate": (sum(bool(c["found"]) and not c["correct"] for _, c in checks)
                              / len(checks) if checks else None),
        "coverage": sum(bool(c["found"]) for _, c in checks) / len(checks) if checks else None,
        "cited_gold": share(answerable, "cited_gold"),
        "by_type": by_type,
        "failing": [it.id for it, c in checks if not c["correct"]],
    }


def evaluate_external(engine: Engine, items: Sequence[QAItem], opts: EvalOptions,
                      name: str) -> SetReport:
    """Retrieval metrics per mode (gold = the question's passage) and answer span hits."""
    snap = engine.snapshot()
    gold = {it.id: {it.passage_id or ""} for it in items}
    n_rel = dict.fromkeys(gold, 1)
    cases = [(it.id, it.question) for it in items]
    report = SetReport(name, "external", len(items), len(snap.passages))
    report.retrieval, ranks = evaluate_retrieval(engine, cases, gold, n_rel, opts, desc=name)
    details: dict[str, dict[str, Any]] = {
        it.id: {"id": it.id, "question": it.question, "rank": ranks[it.id]} for it in items}
    if opts.answers:
        hits = 0
        found = 0
        numeric = [0, 0]
        for it in _bar(items, f"{name} (answers)", opts.progress):
            ans_ext: dict[str, Any] = engine.ask(it.question).to_dict()
            ok = span_hit(it, ans_ext)
            hits += ok
            found += bool(ans_ext.get("found"))
            if it.numeric:
                numeric[0] += 1
                numeric[1] += ok
            details[it.id].update(found=bool(ans_ext.get("found")), span_hit=ok)
        n = max(len(items), 1)
        report.answers = {"questions": len(items), "span_hit": hits / n, "found": found / n,
                          "numeric_questions": numeric[0],
                          "numeric_span_hit": numeric[1] / numeric[0] if numeric[0] else None}
    report.details = list(details.values())
    return report


@dataclass
class EvalReport:
    sets: list[SetReport]
    options: dict[str, Any]
    config: dict[str, Any]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"options": self.options, "config": self.config, "seconds": self.seconds,
                "sets": {s.name: s.to_dict() for s in self.sets}}


def run_eval(base: EngineConfig, qa_files: Sequence[tuple[Path, Path | None]], out_dir: Path,
             opts: EvalOptions, *, embedder: Embedder | None = None) -> EvalReport:
    """Evaluate every QA file: project format (scored on the configured corpus) or external
    format (paired passages file, or ``passages_*`` beside it). Writes nothing but indexes
    and caches under ``out_dir``; see :func:`write_outputs` for the JSON and the chart."""
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    emb = embedder if embedder is not None else Engine(base).embedder
    sets: list[SetReport] = []
    project: Engine | None = None
    cache = VectorCache(out_dir / "cache", emb.fingerprint, emb.dim)
    for qa_path, passages_path in qa_files:
        name = set_name(qa_path)
        if is_external(qa_path):
            ppath = passages_path or passages_file_for(qa_path)
            items, passages = load_external(qa_path, ppath)
            items = sample(items, opts.limit, opts.seed)
            pool = passage_pool(items, passages, opts.pool if opts.limit else None, opts.seed)
            engine = passages_engine(out_dir / "index" / name, pool, emb, base, cache=cache,
                                     progress=opts.progress)
            sets.append(evaluate_external(engine, items, opts, name))
        else:
            qa = sample(load_qa(qa_path), opts.limit, opts.seed)
            if project is None:
                project = project_engine(base, out_dir, emb, cache=cache,
                                         progress=opts.progress)
            splits = sorted({it.split for it in qa if it.split})
            if splits:  # a set with a fit and a test half is reported per half
                for split in splits:
                    sets.append(evaluate_project(project, [it for it in qa if it.split == split],
                                                 opts, f"{name}-{split}"))
            else:
                sets.append(evaluate_project(project, qa, opts, name))
    r = base.retrieval
    config = {"model": base.model, "chunking": asdict(base.chunking), "ann": base.ann,
              "retrieval": asdict(r)}
    options = {**asdict(opts), "qa": [str(q) for q, _ in qa_files]}
    options.pop("progress", None)
    return EvalReport(sets, options, config, time.perf_counter() - t0)


# --------------------------------------------------------------------------- output


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def format_tables(report: EvalReport) -> str:
    """Markdown tables: retrieval by set and mode, then answer metrics."""
    ks = report.options.get("ks") or DEFAULT_KS
    cols = [f"recall@{k}" for k in ks] + [f"mrr@{RANK_DEPTH}", f"ndcg@{RANK_DEPTH}"]
    lines = ["| set | mode | questions | passages | " + " | ".join(cols) + " |",
             "|---|---|---:|---:|" + "---:|" * len(cols)]
    for s in report.sets:
        scored = sum(1 for d in s.details if d.get("rank") is not None) if s.kind == "project" \
            else s.questions
        for mode, m in s.retrieval.items():
            lines.append(f"| {s.name} | {mode} | {scored} | {s.passages} | "
                         + " | ".join(_fmt(m.get(c)) for c in cols) + " |")
    out = ["\n".join(lines)]
    proj = [s for s in report.sets if s.kind == "project" and s.answers]
    if proj:
        rows = ["| set | answerable | answer acc | figure acc (n) | text acc (n) | refusal acc (n) "
                "| false refusals | wrong-answer rate | coverage | gold cited |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in proj:
            a = s.answers
            rows.append(
                f"| {s.name} | {a['answerable']} | {_fmt(a['answer_accuracy'])} | "
                f"{_fmt(a['figure_accuracy'])} ({a['figure_questions']}) | "
                f"{_fmt(a['text_accuracy'])} ({a['text_questions']}) | "
                f"{_fmt(a['refusal_accuracy'])} ({a['unanswerable']}) | {a['false_refusals']} | "
                f"{_fmt(a['wrong_answer_rate'])} | {_fmt(a['coverage'])} | {_fmt(a['cited_gold'])} |")
        out.append("\n".join(rows))
        for s in proj:
            bt = s.answers["by_type"]
            out.append("| type | n | correct |\n|---|---:|---:|\n" + "\n".join(
                f"| {t} | {v['n']} | {v['correct']} |" for t, v in sorted(bt.items())))
    ext = [s for s in report.sets if s.kind == "external" and s.answers]
    if ext:
        rows = ["| set | questions | span hit | found | numeric span hit (n) |",
                "|---|---:|---:|---:|---:|"]
        for s in ext:
            a = s.answers
            rows.append(f"| {s.name} | {a['questions']} | {_fmt(a['span_hit'])} | "
                        f"{_fmt(a['found'])} | {_fmt(a['numeric_span_hit'])} "
                        f"({a['numeric_questions']}) |")
        out.append("\n".join(rows))
    return "\n\n".join(out)


def failing(report: EvalReport) -> list[dict[str, Any]]:
    """Project-set questions answered wrongly, with what came back."""
    out = []
    for s in report.sets:
        if s.kind != "project":
            continue
        for d in s.details:
            if "correct" in d and not d["correct"]:
                out.append({"set": s.name, **{k: d.get(k) for k in (
                    "id", "type", "question", "rewritten", "found", "answer", "first_figure")}})
    return out


def write_outputs(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
    """``eval.json`` (everything, per question too) and ``eval.png`` (modes compared)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath = out_dir / "eval.json"
    tmp = jpath.with_name(jpath.name + ".part")
    tmp.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, jpath)
    ppath = out_dir / "eval.png"
    plot(report, ppath)
    return jpath, ppath


def plot(report: EvalReport, path: Path) -> None:
    """One panel per set: retrieval metrics as bars, one colour per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [s for s in report.sets if s.retrieval]
    n = max(len(sets), 1)
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    for ax, s in zip(axes[0], sets, strict=False):
        modes = list(s.retrieval)
        cols = [c for c in next(iter(s.retrieval.values())) if c != "ms_per_query"]
        x = np.arange(len(cols))
        w = 0.8 / max(len(modes), 1)
        for j, mode in enumerate(modes):
            ax.bar(x + (j - (len(modes) - 1) / 2) * w, [s.retrieval[mode][c] for c in cols], w,
                   label=mode)
        ax.set_xticks(x, [c.replace("recall", "R") for c in cols], rotation=30)
        low = min((s.retrieval[m][c] for m in modes for c in cols), default=0.0)
        floor = max(0.0, math.floor((low - 0.05) * 10) / 10)  # zoom in: scores are close
        ax.set_ylim(floor, 1.0 + (1.0 - floor) * 0.04)
        if floor > 0:
            ax.set_ylabel(f"(axis starts at {floor:.1f})", fontsize=8)
        title = f"{s.name} ({s.questions} q, {s.passages} passages)"
        if s.kind == "project" and s.answers:
            a = s.answers
            title += f"\nfigure acc {_fmt(a['figure_accuracy'])}, refusal acc " \
                     f"{_fmt(a['refusal_accuracy'])}"
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".part.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
