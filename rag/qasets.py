"""QA sets for evaluation: the project format (``corpus/qa.jsonl``: questions with a gold
article/section or document, a verbatim quote and a value) and the external format (CMRC
2018, DRCD: questions with a gold ``passage_id`` and answer spans); loading with a clear
error per bad line, sampling, passage pools and the fit/test halves."""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.figures import extract_figures
from rag.followup import rewrite
from rag.types import Passage, content_id

DEFAULT_KS = (1, 3, 5, 10)
QA_TYPES = ("amount", "count", "share", "date", "which", "compare", "list", "trend", "followup",
            "unanswerable", "english")
SPLITS = ("fit", "test")
_REL_TOL = 1e-6
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?|-H[12]|-Q[1-4])?$")

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



def external_split(item_id: str) -> str:
    """The half of an external set a question belongs to, fixed by its id: weights and
    thresholds are fitted on ``fit`` only and ``test`` is reported apart."""
    return "fit" if hashlib.sha1(item_id.encode("utf-8")).digest()[0] % 2 == 0 else "test"



def gold_figures(item: QAItem) -> list[dict[str, Any]]:
    """The figures of an external question's gold spans (empty when the spans hold none)."""
    return [f.to_dict() for s in item.spans for f in extract_figures(s)]

def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return abs(float(a) - float(b)) <= _REL_TOL * max(abs(float(a)), abs(float(b)), 1e-12)

def same_date(answer: str | None, gold: str | None) -> bool:
    """An answer date equals a gold one, or names a day or month within it: 1859年6月21日
    answers 哪一年 whose gold span is 1859年 (DRCD), the date as the passage gives it."""
    if not answer or not gold:
        return False
    return answer == gold or answer.startswith(gold + "-")


def figure_matches(fig: dict[str, Any], gold: dict[str, Any]) -> bool:
    """Whether an answer figure (``AnswerFigure.to_dict()``) equals a numeric gold answer."""
    if "date" in gold:
        return fig.get("kind") == "date" and same_date(fig.get("date"), gold["date"])
    if "unit" in gold and fig.get("unit", "") != gold["unit"]:
        return False
    if "value" in gold:
        return _close(fig.get("value"), gold["value"])
    return _close(fig.get("low"), gold.get("low")) and _close(fig.get("high"), gold.get("high"))
