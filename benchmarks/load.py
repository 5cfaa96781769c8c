"""A bounded load check of the HTTP server on loopback: N requests per endpoint at a fixed
concurrency (threads with one keep-alive httpx client each), reporting throughput and
latency percentiles for ``GET /search`` and ``POST /chat``.

By default it starts its own server (``rag serve`` in a subprocess, over a temporary copy
of the corpus, so the index build is part of start-up and not of the numbers); ``--url``
points it at a running server instead. Only loopback addresses are accepted.

    .venv/bin/python benchmarks/load.py --requests 1000 --concurrency 8
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]

QUESTIONS = [
    "北京机器人产业发展投资基金的目标规模是多少?",
    "成都人工智能与机器人基金的目标规模是多少?",
    "上海未来产业基金总规模多大?",
    "哪些城市设立了机器人产业基金?",
    "南京先进制造产业专项母基金规模是多少?",
    "山东5G基站将达到多少个?",
    "What is the target size of Beijing's robot industry fund?",
    "河北省机器人产业基金什么时候成立?",
]
FOLLOW_UPS = [("北京机器人产业发展投资基金的目标规模是多少?", "那成都呢?"),
              ("深圳的人工智能和机器人产业基金规模多大?", "那武汉呢?")]


@dataclass
class Result:
    endpoint: str
    requests: int
    errors: int
    statuses: dict[int, int]
    seconds: float
    latencies_ms: list[float]

    def summary(self) -> dict[str, float | int | str | dict[int, int]]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 1) if lat else 0.0

        return {
            "endpoint": self.endpoint,
            "requests": self.requests,
            "errors": self.errors,
            "statuses": self.statuses,
            "seconds": round(self.seconds, 2),
            "throughput_rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "max_ms": round(lat[-1], 1) if lat else 0.0,
            "mean_ms": round(statistics.fmean(lat), 1) if lat else 0.0,
        }


def search_request(client: httpx.Client, i: int) -> httpx.Response:
    return client.get("/search", params={"q": QUESTIONS[i % len(QUESTIONS)], "k": 5})


def chat_request(client: httpx.Client, i: int) -> httpx.Response:
    if i % 4 == 3:  # every fourth request is a follow-up in a conversation
        first, second = FOLLOW_UPS[(i // 4) % len(FOLLOW_UPS)]
        messages = [{"role": "user", "content": first}, {"role": "assistant", "content": "…"},
                    {"role": "user", "content": second}]
    else:
        messages = [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]
    return client.post("/chat", json={"messages": messages})


ENDPOINTS: dict[str, Callable[[httpx.Client, int], httpx.Response]] = {
    "GET /search": search_request,
    "POST /chat": chat_request,
}


def run_load(url: str, name: str, requests: int, concurrency: int, max_seconds: float,
             headers: dict[str, str]) -> Result:
    """Send `requests` requests from `concurrency` threads; stop early at `max_seconds`."""
    call = ENDPOINTS[name]
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    status = call(client, i).status_code
                except httpx.HTTPError:
                    status = 0
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(ms)
                    statuses[status] = statuses.get(status, 0) + 1

    with httpx.Client(base_url=url, timeout=60, headers=headers) as warm:
        for i in range(min(20, requests)):
            call(warm, i)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    errors = sum(n for s, n in statuses.items() if s != 200)
    return Result(name, len(latencies), errors, dict(sorted(statuses.items())), seconds,
                  latencies)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def own_server(model_cache: str | None, startup_timeout: float) -> Iterator[str]:
    """`rag serve` in a subprocess over a temporary copy of the corpus."""
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(REPO / "corpus", corpus)
        port = _free_port()
        env = {**os.environ, "RAG_INDEX_DIR": str(Path(tmp) / "index"),
               "RAG_CORPUS_DIR": str(corpus)}
        env.pop("RAG_READ_KEY", None)
        if model_cache:
            env["RAG_MODEL_CACHE"] = model_cache
        log = (Path(tmp) / "server.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited ({proc.returncode}); see its log:\n"
                                       + (Path(tmp) / "server.log").read_text()[-3000:])
                try:
                    if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("server did not become healthy in time")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (loopback only); default: start one")
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint (max 10000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (max 64)")
    parser.add_argument("--max-seconds", type=float, default=180.0,
                        help="stop an endpoint's run after this long")
    parser.add_argument("--endpoints", default="search,chat", help="search, chat or both")
    parser.add_argument("--model-cache", help="converted-model cache for the own server")
    parser.add_argument("--api-key", default=os.environ.get("RAG_READ_KEY"),
                        help="key for a server with a read key (default $RAG_READ_KEY)")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 10_000 or not 1 <= args.concurrency <= 64:
        parser.error("--requests must be 1..10000 and --concurrency 1..64")
    if args.url and not _loopback(args.url):
        parser.error("--url must be a loopback address (127.0.0.1, ::1 or localhost)")
    names = [n for n in ENDPOINTS if n.split(" /")[1] in args.endpoints.split(",")]
    headers = {"X-API-Key": args.api_key} if args.api_key else {}

    def run_all(url: str) -> None:
        health = httpx.get(f"{url}/healthz", timeout=30).json()
        if not args.json:
            print(f"server {url}: index {health.get('index_version')}, "
                  f"{health.get('passages')} passages; {args.requests} requests per endpoint "
                  f"at concurrency {args.concurrency}")
        for name in names:
            s = run_load(url, name, args.requests, args.concurrency, args.max_seconds,
                         headers).summary()
            if args.json:
                print(json.dumps(s))
            else:
                print(f"{s['endpoint']:<12} {s['requests']:>5} req  {s['errors']} errors  "
                      f"{s['seconds']:>7.2f} s  {s['throughput_rps']:>7.1f} req/s  "
                      f"p50 {s['p50_ms']:>7.1f} ms  p95 {s['p95_ms']:>7.1f} ms  "
                      f"p99 {s['p99_ms']:>7.1f} ms  max {s['max_ms']:>7.1f} ms")

    if args.url:
        run_all(args.url.rstrip("/"))
    else:
        with own_server(args.model_cache, startup_timeout=600) as url:
            run_all(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
