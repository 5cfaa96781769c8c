"""Shared helpers of the benchmark scripts (not a test module, not part of the library)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
CORPUS = REPO / "corpus"
EXTERNAL = Path(os.environ.get("RAG_EVAL_DATA", "/work/shared/eval"))
EXTERNAL_SETS = ("cmrc2018", "drcd_simplified")


def setup(threads: int) -> None:
    """Offline model loading and a fixed torch thread count (the numbers depend on it)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(threads)


def model_cache() -> Path:
    from rag.settings import Settings

    return Settings().model_cache  # RAG_MODEL_CACHE or the per-user cache


def load_embedder() -> Any:
    from rag.embed import SentenceTransformerEmbedder
    from rag.model import DEFAULT_MODEL_NAME, resolve_model

    return SentenceTransformerEmbedder(resolve_model(DEFAULT_MODEL_NAME, model_cache()),
                                       name=DEFAULT_MODEL_NAME)


def machine() -> str:
    """CPU count and load, printed with every table: the machine is shared."""
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}, "
            f"torch threads {_threads()}")


def _threads() -> int:
    import torch

    return int(torch.get_num_threads())


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(x: Any) -> str:
        if isinstance(x, float):
            return f"{x:.3f}" if abs(x) < 100 else f"{x:,.0f}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def pctl(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


# -- memory (Linux) -----------------------------------------------------------------------


def _status(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0  # kB -> MiB
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    return _status("VmRSS")


def peak_mb() -> float:
    """Peak resident memory since the last :func:`reset_peak` (VmHWM)."""
    return _status("VmHWM")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); a no-op elsewhere."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


# -- external data ----------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def external_questions(n: int, seed: int = 0) -> list[str]:
    """``n`` questions sampled evenly from CMRC 2018 and DRCD (seeded)."""
    rng = random.Random(seed)
    out: list[str] = []
    for i, name in enumerate(EXTERNAL_SETS):
        qs = [r["question"].strip() for r in read_jsonl(EXTERNAL / f"qa_{name}.jsonl")
              if r.get("question", "").strip()]
        take = n // len(EXTERNAL_SETS) + (1 if i < n % len(EXTERNAL_SETS) else 0)
        out += rng.sample(qs, take)
    return out


def external_passages(n: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Passages (passage_id, title, text) of CMRC 2018 and DRCD; a seeded sample of ``n``."""
    rows = [r for name in EXTERNAL_SETS for r in read_jsonl(EXTERNAL / f"passages_{name}.jsonl")]
    if n is not None and n < len(rows):
        rows = random.Random(seed).sample(rows, n)
    return rows
