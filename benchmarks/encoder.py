"""The encoder backends side by side, in one run: OpenVINO against torch (speed, threads,
vector parity), the whole ``rag index`` of the 42 reports against a bare torch encode of the
same chunks, and ``rag eval`` retrieval quality with each backend.

    .venv/bin/python benchmarks/encoder.py threads [--n 160]
    .venv/bin/python benchmarks/encoder.py index [--policy DIR]
    .venv/bin/python benchmarks/encoder.py quality [--limit 300]

Prints markdown tables. The OpenVINO IR is converted before anything is timed (a one-off per
machine; its time is printed from the conversion marker).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import OUT, REPO, machine, md_table, model_cache, timed

POLICY = Path(os.environ.get("RAG_POLICY_DATA", "/work/shared/corpus-policy"))
EVAL = Path(os.environ.get("RAG_EVAL_DATA", "/work/shared/eval"))


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "RAG_MODEL_CACHE": str(model_cache())}
    env.pop("RAG_THREADS", None)
    env.pop("RAG_EMBED_BACKEND", None)
    return {**env, **extra}


def _model() -> str:
    from rag.model import DEFAULT_MODEL_NAME, resolve_model

    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return resolve_model(DEFAULT_MODEL_NAME, model_cache())


def _openvino(threads: int | None) -> Any:
    from rag.embed_openvino import OpenVINOEmbedder

    return OpenVINOEmbedder(_model(), cache_dir=model_cache(), threads=threads)


def _torch(threads: int | None) -> Any:
    from rag.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(_model(), threads=threads)


def _policy_chunks(n: int, seed: int = 0) -> list[str]:
    """``n`` chunks of the reports as the index cuts them (default chunking)."""
    from rag.chunk import ChunkConfig, chunk_document
    from rag.ingest import load
    from rag.retrieve import passage_index_text

    passages = []
    for f in sorted(POLICY.glob("*.txt")):
        passages += chunk_document(load(f, source=f.name).doc, ChunkConfig())
    return [passage_index_text(p) for p in random.Random(seed).sample(passages, n)]


def _conversion_note() -> str:
    from rag.embed_openvino import IR_MARKER, ir_dir

    marker = json.loads((ir_dir(Path(_model()), model_cache()) / IR_MARKER).read_text())
    return (f"OpenVINO {marker['openvino_version']}, IR converted once in {marker['seconds']} s "
            f"(cached in the model cache)")


def cmd_threads(args: argparse.Namespace) -> None:
    """texts/s of each backend at 1 and 2 threads on the same chunks, interleaved, 2 rounds."""
    texts = _policy_chunks(args.n)
    encoders = {("openvino", t): _openvino(t) for t in (1, 2)}
    ref = _torch(1)
    encoders.update({("torch", 1): ref})
    for e in encoders.values():
        e.encode_passages(texts[:8])  # warm-up
    times: dict[tuple[str, int], list[float]] = {k: [] for k in [*encoders, ("torch", 2)]}
    vecs: dict[tuple[str, int], np.ndarray] = {}
    import torch

    for _ in range(args.rounds):
        for key in times:
            backend, threads = key
            if backend == "torch":
                torch.set_num_threads(threads)
            enc = encoders[("torch", 1)] if backend == "torch" else encoders[key]
            v, dt = timed(enc.encode_passages, texts)
            times[key].append(dt)
            vecs[key] = v
    base = min(times[("torch", 1)])
    rows = []
    for key, ts in times.items():
        cos = (vecs[key] * vecs[("torch", 1)]).sum(axis=1)
        rows.append([key[0], key[1], len(texts) / min(ts), base / min(ts), f"{cos.min():.6f}",
                     " / ".join(f"{t:.1f}" for t in ts)])
    print(f"{len(texts)} report chunks, batch 16, {args.rounds} interleaved rounds (best of) — "
          f"{machine()}; {_conversion_note()}\n")
    print(md_table(["backend", "threads", "texts/s", "speed vs torch 1 thread",
                    "min cosine to torch", "seconds per round"], rows))


def cmd_index(args: argparse.Namespace) -> None:
    """Whole ``rag index`` (process start included, default settings) against a bare torch
    encode of the same chunks in this process, and chunk-for-chunk cosine."""
    from rag.embed import DEFAULT_THREADS
    from rag.index import load_snapshot
    from rag.retrieve import passage_index_text

    _openvino(DEFAULT_THREADS)  # converts the IR now if needed, so it is not timed below
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        index = Path(tmp) / "index"
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "rag.cli", "--index-dir", str(index), "index",
                              str(args.policy), "--json"], cwd=REPO, env=_env(),
                             capture_output=True, text=True, check=False)
        t_cmd = time.perf_counter() - t0
        if out.returncode not in (0, 2):
            raise SystemExit(f"rag index failed ({out.returncode}): {out.stderr[-2000:]}")
        report = json.loads(out.stdout)
        snap = load_snapshot(index)
        texts = [passage_index_text(p) for p in snap.passages]
        stored = snap.vectors(list(range(len(texts))))
        bare = _torch(DEFAULT_THREADS)
        bare.encode_passages(["预热 warm-up"] * 4)
        want, t_bare = timed(bare.encode_passages, texts)
        cos = (stored * want).sum(axis=1)
        rows.append([report["documents"], report["passages"], report["figures"], t_cmd, t_bare,
                     t_bare / t_cmd, f"{cos.min():.6f}", f"{cos.mean():.6f}", len(report["skipped"])])
    print(f"`rag index` of {args.policy} (default settings: OpenVINO, {DEFAULT_THREADS} thread) "
          f"against a bare torch encode ({DEFAULT_THREADS} thread, batch 16) — {machine()}; "
          f"{_conversion_note()}\n")
    print(md_table(["documents", "passages", "figures", "`rag index` wall s", "bare torch encode s",
                    "throughput vs bare encode", "min cosine", "mean cosine", "skipped"], rows))


def cmd_quality(args: argparse.Namespace) -> None:
    """MRR@10 and recall@10 per set and mode from ``rag eval`` run once per backend, each
    with its own fresh vector cache (so neither reuses the other's vectors)."""
    _openvino(1)
    qa = [REPO / "corpus" / "qa.jsonl", EVAL / "qa_cmrc2018.jsonl"]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        for backend in ("torch", "openvino"):
            out_dir = Path(tmp) / backend
            cmd = [sys.executable, "-m", "rag.cli", "eval", *[a for q in qa for a in ("--qa", str(q))],
                   "--limit", str(args.limit), "--no-answers", "--out", str(out_dir), "--json"]
            t0 = time.perf_counter()
            out = subprocess.run(cmd, cwd=REPO, env=_env(RAG_EMBED_BACKEND=backend, RAG_THREADS="1"),
                                 capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"rag eval ({backend}) failed: {out.stderr[-2000:]}")
            results[backend] = {"seconds": time.perf_counter() - t0,
                                "sets": json.loads(out.stdout.strip().splitlines()[-1])}
    rows = []
    for name, summary in results["torch"]["sets"].items():
        for mode in ("hybrid", "dense"):
            a = _metrics(summary, mode)
            b = _metrics(results["openvino"]["sets"][name], mode)
            rows.append([name, mode, a["mrr@10"], b["mrr@10"], b["mrr@10"] - a["mrr@10"],
                         a["recall@10"], b["recall@10"]])
    print(f"`rag eval --limit {args.limit} --no-answers` per backend (fresh vector caches; torch "
          f"{results['torch']['seconds']:.0f} s, OpenVINO {results['openvino']['seconds']:.0f} s) "
          f"— {machine()}\n")
    print(md_table(["set", "mode", "MRR@10 torch", "MRR@10 OpenVINO", "difference",
                    "recall@10 torch", "recall@10 OpenVINO"], rows))


def _metrics(summary: dict[str, Any], mode: str) -> dict[str, float]:
    """The retrieval metrics of one mode in a set's ``rag eval --json`` summary."""
    retrieval = summary.get("retrieval", summary)
    m = retrieval[mode] if mode in retrieval else retrieval["modes"][mode]
    return {k: float(v) for k, v in m.items() if isinstance(v, (int, float))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("threads")
    p.add_argument("--n", type=int, default=160, help="report chunks to encode")
    p.add_argument("--rounds", type=int, default=2)
    p.set_defaults(func=cmd_threads)
    p = sub.add_parser("index")
    p.add_argument("--policy", type=Path, default=POLICY)
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("quality")
    p.add_argument("--limit", type=int, default=300)
    p.set_defaults(func=cmd_quality)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
