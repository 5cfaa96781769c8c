"""CLI start-up: wall time of ``rag --help``, ``rag info``, ``rag figures``, ``rag search`` and
``rag ask`` (process start to exit, on a small real index), for the working tree and for an
earlier commit ("before"), interleaved in one run.

    .venv/bin/python benchmarks/startup.py [--before COMMIT] [--rounds 3]

Each tree gets its own index of the bundled corpus (built first, not timed), since index formats
differ between commits. Both run with ``RAG_THREADS=1``, as the other benchmarks and ``rag
serve`` do. Prints a markdown table: median seconds, and each command's ratio to ``rag ask``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPUS, OUT, REPO, machine, md_table, model_cache

QUESTION = "北京机器人产业发展投资基金的目标规模是多少?"
COMMANDS: dict[str, list[str]] = {
    "rag --help": ["--help"],
    "rag info": ["info"],
    "rag figures": ["figures"],
    "rag search": ["search", "机器人基金"],
    "rag ask": ["ask", QUESTION],
}


def _run(tree: Path | None, index: Path, argv: list[str]) -> float:
    """Seconds of one command; run outside the repository so that ``python -m`` finds the
    tree's ``rag`` (PYTHONPATH) or the installed one, not the current folder's."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "RAG_MODEL_CACHE": str(model_cache()), "RAG_THREADS": "1"}
    env.pop("RAG_EMBED_BACKEND", None)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    args = argv if argv == ["--help"] else ["--index-dir", str(index), "--corpus-dir", str(CORPUS),
                                            *argv]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=index.parent, env=env,
                         capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t0
    if out.returncode not in ((0, 2) if argv[0] == "index" else (0,)):  # 2: a file skipped
        raise SystemExit(f"{argv} failed ({out.returncode}) in {tree or 'working tree'}: "
                         f"{out.stderr[-1500:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="d287057", help="commit to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "archive", args.before, "rag"], cwd=REPO,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        trees: dict[str, Path | None] = {f"before ({args.before})": before, "after": None}
        indexes = {name: Path(tmp) / f"index-{i}" for i, name in enumerate(trees)}
        for name, tree in trees.items():
            _run(tree, indexes[name], ["index", str(CORPUS)])
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                for label, argv in COMMANDS.items():
                    times.setdefault((name, label), []).append(_run(tree, indexes[name], argv))
    rows = []
    for name in trees:
        ask = statistics.median(times[(name, "rag ask")])
        for label in COMMANDS:
            t = statistics.median(times[(name, label)])
            rows.append([name, label, t, t / ask])
    print(f"median of {args.rounds} interleaved rounds, RAG_THREADS=1 — {machine()}\n")
    print(md_table(["code", "command", "wall s (median)", "ratio to `rag ask`"], rows))


if __name__ == "__main__":
    main()
