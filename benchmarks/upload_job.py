"""A large upload through the HTTP API as a background job (issue 14): how long the client
waits for the 202 against how long the job runs, what readers see meanwhile, and whether a
question about the document is answered once the job is done.

A real server on loopback over a copy of the seed corpus; the upload is Government Work
Reports joined into one .md of about ``--mb`` megabytes with one planted sentence to ask
about. Readers send /search requests before the upload (idle) and during the job, with the
same clients, so the latency ratio is measured side by side in one run.

    .venv/bin/python benchmarks/upload_job.py --mb 1.9 --readers 4
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _common import CORPUS, machine, md_table, model_cache, setup

REPORTS = Path("/work/shared/corpus-policy")
KEY = "bench-admin-key-0123456789abcdef"
PLANTED = "2025年9月,星澜市设立星澜市深海探测产业基金,目标规模为77亿元。"
QUESTIONS = [("星澜市深海探测产业基金的目标规模是多少?", "77亿元"),  # the planted sentence
             ("2014年国内生产总值增长的预期目标是多少？", "7.5%左右")]  # the 2014 report
QUERIES = ["北京机器人产业发展投资基金", "成都 产业基金 规模", "5G基站", "人形机器人"]


def big_document(mb: float) -> bytes:
    """Reports joined under one title, newest first, until the UTF-8 size reaches ``mb`` MB."""
    parts = ["# 政府工作报告合订本\n\n## 附记\n\n" + PLANTED + "\n"]
    size = len(parts[0].encode())
    for f in sorted(REPORTS.glob("*.txt"), reverse=True):
        if size >= mb * 1e6:
            break
        text = f.read_text(encoding="utf-8")
        part = f"\n## {f.stem}\n\n{text}\n"
        parts.append(part)
        size += len(part.encode())
    return "".join(parts).encode()[: int(mb * 1e6) + 200_000]


def p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def readers(url: str, n: int, stop: threading.Event, out: list[tuple[float, int, str]]) -> list[threading.Thread]:
    def run(i: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            k = 0
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    r = c.get("/search", params={"q": QUERIES[(i + k) % len(QUERIES)], "k": 3})
                    out.append((time.perf_counter() - t, r.status_code, r.headers.get("x-index-version", "")))
                except Exception as exc:
                    out.append((time.perf_counter() - t, 0, repr(exc)))
                k += 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=1.9)
    ap.add_argument("--readers", type=int, default=4)
    ap.add_argument("--idle-s", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup(args.threads)
    from rag.settings import Settings
    from server.app import create_app
    from server.runner import serving

    data = big_document(args.mb)
    tmp = Path(tempfile.mkdtemp(prefix="upload-bench-"))
    try:
        shutil.copytree(CORPUS, tmp / "corpus")
        settings = Settings(index_dir=tmp / "index", corpus_dir=tmp / "corpus",
                            model_cache=model_cache(), admin_key=KEY, threads=args.threads,
                            max_upload_bytes=max(len(data) + 1, 2 * 1024 * 1024),
                            max_body_bytes=len(data) + 1_000_000)
        with serving(create_app(settings), log_level="error") as srv, httpx.Client(
                base_url=srv.url, timeout=300) as c:
            idle: list[tuple[float, int, str]] = []
            stop = threading.Event()
            ts = readers(srv.url, args.readers, stop, idle)
            time.sleep(args.idle_s)
            stop.set()
            for t in ts:
                t.join()

            busy: list[tuple[float, int, str]] = []
            stop = threading.Event()
            ts = readers(srv.url, args.readers, stop, busy)
            t0 = time.perf_counter()
            r = c.post("/documents", files={"file": ("合订本.md", data)}, headers={"X-API-Key": KEY})
            accepted = time.perf_counter() - t0
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]
            timeline: list[tuple[float, str, Any, Any]] = []
            while True:
                job = c.get(f"/jobs/{job_id}").json()
                key = (job["stage"], job["done"], job["total"])
                if not timeline or timeline[-1][1:] != key:
                    timeline.append((time.perf_counter() - t0, *key))
                if job["state"] in ("done", "failed"):
                    break
                time.sleep(0.25)
            job_s = time.perf_counter() - t0
            stop.set()
            for t in ts:
                t.join()
            assert job["state"] == "done", job
            answers = [c.post("/chat", json={"messages": [{"role": "user", "content": q}]}).json()
                       for q, _ in QUESTIONS]

        def lat(rows: list[tuple[float, int, str]]) -> list[float]:
            return [x[0] for x in rows]

        failed = [x for x in busy if x[1] != 200]
        versions = {x[2] for x in busy}
        print(f"\n{machine()}; document {len(data) / 1e6:.2f} MB, {job['document']['passages']} "
              f"passages; {args.readers} readers\n")
        print(md_table(
            ["202 after", "job done after", "202 / job", "stages (s: stage done/total)",
             "reads during job", "failed", "p50 idle → job", "p99 idle → job", "p99 ratio",
             "versions seen", "answer after job"],
            [[f"{accepted * 1000:.0f} ms", f"{job_s:.1f} s", f"{accepted / job_s:.4f}",
              "; ".join(f"{t:.1f}: {s} {d}/{n}" for t, s, d, n in timeline
                        if s != "encoding" or d in (0, n))[:400],
              len(busy), len(failed),
              f"{statistics.median(lat(idle)) * 1000:.0f} → {statistics.median(lat(busy)) * 1000:.0f} ms",
              f"{p(lat(idle), 0.99) * 1000:.0f} → {p(lat(busy), 0.99) * 1000:.0f} ms",
              f"{p(lat(busy), 0.99) / p(lat(idle), 0.99):.2f}", len(versions),
              ", ".join(f"{want}: {want in a['answer']}" for (_, want), a in zip(QUESTIONS, answers, strict=True))]]))
        for (q, _), a in zip(QUESTIONS, answers, strict=True):
            print(f"\n{q} → {a['answer'][:160]!r} (found {a['found']}, reason {a.get('reason')}, "
                  f"cited {[c['source'] for c in a['citations']]})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
