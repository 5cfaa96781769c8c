"""All 42 Government Work Reports in one ``rag index`` run: wall time of the whole command
(process start, parsing, chunking, the figure store, embedding, writing), passages and
figures, beside a bare ``encode`` of the same chunk texts in this process (same run).

    .venv/bin/python benchmarks/index_policy.py [--threads 1] [--policy DIR]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import OUT, REPO, load_embedder, machine, md_table, model_cache, setup, timed

POLICY = Path(os.environ.get("RAG_POLICY_DATA", "/work/shared/corpus-policy"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--policy", type=Path, default=POLICY, help="folder of reports")
    args = ap.parse_args()
    setup(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    rag = [sys.executable, "-m", "rag.cli"]
    env = {**os.environ, "RAG_MODEL_CACHE": str(model_cache()), "RAG_THREADS": str(args.threads)}
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        index = Path(tmp) / "index"
        t0 = time.perf_counter()
        out = subprocess.run([*rag, "--index-dir", str(index), "index", str(args.policy), "--json"],
                             cwd=REPO, env=env, capture_output=True, text=True, check=False)
        t_cmd = time.perf_counter() - t0
        if out.returncode not in (0, 2):
            raise SystemExit(f"rag index failed ({out.returncode}): {out.stderr[-2000:]}")
        report = json.loads(out.stdout)

        from rag.index import load_snapshot
        from rag.retrieve import passage_index_text

        snap = load_snapshot(index)
        texts = [passage_index_text(p) for p in snap.passages]
        emb = load_embedder()
        emb.encode_passages(["预热 warm-up"] * 4)
        _, t_bare = timed(emb.encode_passages, texts)
        chars = sum(len(p.text) for p in snap.passages)
    print(f"index build of {report['documents']} reports — {machine()}, batch size "
          f"{emb.batch_size}, {args.threads} torch thread(s)\n")
    print(md_table(
        ["documents", "passages", "figures", "source chars", "`rag index` wall s",
         "bare encode s", "throughput vs bare encode (bare s / rag index s)", "skipped"],
        [[report["documents"], report["passages"], report["figures"], chars, t_cmd, t_bare,
          t_bare / t_cmd, len(report["skipped"])]]))


if __name__ == "__main__":
    main()
