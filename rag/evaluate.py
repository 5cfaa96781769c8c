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
import os
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
from rag.metrics import (
    RANK_DEPTH,
    Outcome,
    answer_checks,
    answer_summary,
    at_threshold,
    retrieval_metrics,
    risk_coverage,
    span_hit,
    strict_numeric,
)
from rag.qasets import (
    DEFAULT_KS,
    SPLITS,
    QAItem,
    effective_query,
    external_split,
    gold_figures,
    is_external,
    load_external,
    load_qa,
    passage_pool,
    passages_file_for,
    sample,
    set_name,
)
from rag.retrieve import MODES, passage_index_text, passage_tokens
from rag.store import open_store, write_snapshot
from rag.types import Passage

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
                   progress: bool = False, store_spec: str = "faiss") -> store.Snapshot:
    """Index the given passage records as they are (no chunking) as the live version of
    ``root`` (in the store ``store_spec`` names, rag.store), and return it. Vectors come
    from ``cache`` where it has them."""
    texts = [passage_index_text(p) for p in passages]
    vectors = encode_cached(embedder, texts, cache, progress=progress)
    tokens = [passage_tokens(p) for p in passages]
    st = open_store(store_spec, root)
    with st.write_lock():
        live = st.current_version()
        st.remove_leftovers(keep={live} if live else set())
        snap = write_snapshot(
            st, passages=list(passages), tokens=tokens, vectors=vectors, documents=[],
            model=embedder.name, model_fingerprint=embedder.fingerprint, dim=embedder.dim,
            chunking={"records": True}, chunk_digest="records", ann=ann,
            figures=[figstore.annotate(p) for p in passages], figure_digest=figstore.store_digest(),
        )
        st.remove_leftovers(keep={snap.root.name})
    return snap


def passages_engine(root: Path, passages: Sequence[Passage], embedder: Embedder,
                    base: EngineConfig, *, cache: VectorCache | None = None,
                    progress: bool = False) -> Engine:
    """An engine over the given passage records (indexed into ``root``)."""
    index_passages(root, passages, embedder, cache=cache, ann=base.ann, progress=progress,
                   store_spec=base.store)
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
                   cache: VectorCache | None = None) -> Engine:
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
    engine.index()
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
    numeric: bool = False  # external sets: only the questions whose gold spans hold a figure

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
    # the same per fit/test half (rag.qasets.external_split of the id where a set has none)
    retrieval_halves: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
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
                       halves: dict[str, str] | None = None,
                       by_half: dict[str, dict[str, dict[str, float]]] | None = None,
                       ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, Any]]]:
    """Rank every case (id, query) with every mode; ``gold[id]`` holds the ids (passage ids,
    or the external passage ids) that count as relevant. Returns metrics per mode and, per
    case and mode, the rank of the first relevant passage (None when not in the top); with
    ``halves`` (case id → fit | test), fills ``by_half[half][mode]`` with the metrics of
    each half's cases."""
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
        if halves is not None and by_half is not None:
            for half in sorted(set(halves.values())):
                part = [rk for (cid, _), rk in zip(cases, rankings, strict=True)
                        if halves.get(cid) == half]
                by_half.setdefault(half, {})[mode] = {**retrieval_metrics(part, opts.ks),
                                                      "questions": float(len(part))}
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
    halves = {it.id: it.split or external_split(it.id) for it in items if it.gold is not None}
    report.retrieval, ranks = evaluate_retrieval(engine, cases, gold, n_rel, opts,
                                                 desc=name, halves=halves,
                                                 by_half=report.retrieval_halves)
    details: dict[str, dict[str, Any]] = {
        it.id: {"id": it.id, "type": it.type, "question": it.question,
                "query": effective_query(it) if it.gold else None,
                "gold_passages": len(gold.get(it.id, ())), "rank": ranks.get(it.id)}
        for it in items
    }
    if opts.answers:
        checks: list[tuple[QAItem, dict[str, Any]]] = []
        points: list[Outcome] = []
        threshold = engine.answer_threshold
        for it in _bar(items, f"{name} (answers)", opts.progress):
            # asked with the threshold at 0, then refused here below it: one run gives both
            # the metrics at the default threshold and the whole risk-coverage curve
            ans: dict[str, Any] = engine.ask(it.question, history=list(it.turns),
                                             min_confidence=0.0).to_dict()
            free = answer_checks(it, ans)
            conf = ans.get("confidence")
            points.append(Outcome(conf, bool(ans.get("found")),
                                  bool(free["correct"]) if it.answerable else False,
                                  it.answerable))
            refused = conf is not None and conf < threshold and bool(ans.get("found"))
            c = answer_checks(it, {**ans, "found": False}) if refused else free
            checks.append((it, c))
            figs: list[dict[str, Any]] = list(ans.get("figures") or [])
            details[it.id].update(
                found=c["found"], correct=c["correct"], cited_gold=c.get("cited_gold"),
                confidence=conf, answer=str(ans.get("answer", ""))[:300],
                first_figure=({k: figs[0].get(k) for k in ("text", "value", "low", "high",
                                                            "unit", "kind", "date")}
                              if figs else None),
                rewritten=ans.get("rewritten_question"),
            )
        report.answers = answer_summary(checks)
        report.answers["threshold"] = threshold
        report.answers["risk_coverage"] = risk_coverage(points)
    report.details = list(details.values())
    return report


def evaluate_external(engine: Engine, items: Sequence[QAItem], opts: EvalOptions,
                      name: str) -> SetReport:
    """Retrieval metrics per mode (gold = the question's passage) and answer span hits."""
    snap = engine.snapshot()
    gold = {it.id: {it.passage_id or ""} for it in items}
    n_rel = dict.fromkeys(gold, 1)
    cases = [(it.id, it.question) for it in items]
    report = SetReport(name, "external", len(items), len(snap.passages))
    report.retrieval, ranks = evaluate_retrieval(
        engine, cases, gold, n_rel, opts, desc=name,
        halves={it.id: external_split(it.id) for it in items}, by_half=report.retrieval_halves)
    details: dict[str, dict[str, Any]] = {
        it.id: {"id": it.id, "question": it.question, "rank": ranks[it.id]} for it in items}
    if opts.answers:
        hits = 0
        found = 0
        threshold = engine.answer_threshold
        numeric: dict[str, list[Outcome]] = {split: [] for split in SPLITS}
        for it in _bar(items, f"{name} (answers)", opts.progress):
            ans_ext: dict[str, Any] = engine.ask(it.question, min_confidence=0.0).to_dict()
            conf = ans_ext.get("confidence")
            given = bool(ans_ext.get("found")) and (conf is None or conf >= threshold)
            ok = given and span_hit(it, ans_ext)
            hits += ok
            found += given
            strict = strict_numeric(it, ans_ext) if it.numeric else None
            if strict is not None:
                numeric[external_split(it.id)].append(
                    Outcome(conf, bool(ans_ext.get("found")), strict))
            details[it.id].update(found=given, span_hit=ok, confidence=conf,
                                  strict=strict if strict is None else (given and strict))
        n = max(len(items), 1)
        report.answers = {"questions": len(items), "span_hit": hits / n, "found": found / n,
                          "threshold": threshold}
        for split, outs in numeric.items():
            report.answers[f"numeric_{split}"] = {**at_threshold(outs, threshold),
                                                  "risk_coverage": risk_coverage(outs)}
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
            if opts.numeric:
                items = [it for it in items if it.numeric and gold_figures(it)]
            items = sample(items, opts.limit, opts.seed)
            pool = passage_pool(items, passages, opts.pool if opts.limit else None, opts.seed)
            engine = passages_engine(out_dir / "index" / name, pool, emb, base, cache=cache,
                                     progress=opts.progress)
            sets.append(evaluate_external(engine, items, opts, name))
        else:
            qa = sample(load_qa(qa_path), opts.limit, opts.seed)
            if project is None:
                project = project_engine(base, out_dir, emb, cache=cache)
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


