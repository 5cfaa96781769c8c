"""Background upload jobs: ``POST /documents`` queues the upload and answers at once; one
worker thread indexes the queued uploads in order while reads keep serving the live index
version (a new version is switched in only when a job's index write is complete).

A job is ``queued``, ``running``, ``done`` or ``failed``; while running it reports the stage
(``parsing``, ``chunking``, ``encoding``, ``writing``) and its progress (done/total) from the
engine's ``add_document`` progress callback, and keeps the list of stages it went through.
Jobs live in memory: the last :data:`KEEP` finished ones are kept for ``GET /jobs``, and
queued uploads are lost if the server stops before they run (nothing indexed is lost).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from rag.engine import Engine
from rag.errors import RagError

log = logging.getLogger("rag.server.jobs")

STATES = ("queued", "running", "done", "failed")
STAGES = ("queued", "parsing", "chunking", "encoding", "writing", "done", "failed")
"""A job's stages: the engine's progress stages between queued and done/failed."""
KEEP = 100
"""Finished jobs kept for ``GET /jobs`` (oldest dropped first)."""
MAX_PENDING = 16
"""Uploads waiting to run at most; more are refused with 429 until the queue drains."""



class QueueFull(Exception):
    """Too many uploads are waiting; the client should retry later."""


@dataclass(frozen=True)
class JobView:
    """What ``GET /jobs/{id}`` reports about one upload job."""

    job_id: str
    state: str
    stage: str
    done: int | None
    total: int | None
    filename: str
    name: str
    created: float
    started: float | None
    finished: float | None
    error: dict[str, str] | None
    document: dict[str, Any] | None
    index_version: str | None
    stages: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Job:
    job_id: str
    filename: str
    name: str
    data: bytes | None
    meta: dict[str, str]
    created: float = field(default_factory=time.time)
    state: str = "queued"
    stage: str = "queued"
    done: int | None = None
    total: int | None = None
    started: float | None = None
    finished: float | None = None
    error: dict[str, str] | None = None
    document: dict[str, Any] | None = None
    index_version: str | None = None
    stages: list[str] = field(default_factory=list)

    def view(self) -> JobView:
        return JobView(self.job_id, self.state, self.stage, self.done, self.total,
                       self.filename, self.name, self.created, self.started, self.finished,
                       None if self.error is None else dict(self.error),
                       None if self.document is None else dict(self.document),
                       self.index_version, list(self.stages))


class JobQueue:
    """Upload jobs run one at a time, in order, by one daemon worker thread."""

    def __init__(self, engine: Engine, *, max_pending: int = MAX_PENDING,
                 keep: int = KEEP) -> None:
        self._engine = engine
        self._max_pending = max_pending
        self._keep = keep
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._run, name="rag-upload-jobs", daemon=True)
        self._worker.start()

    # -- the API side ---------------------------------------------------------------------

    def submit(self, filename: str, name: str, data: bytes, meta: dict[str, str]) -> JobView:
        """Queue an upload; QueueFull when :data:`MAX_PENDING` are already waiting."""
        with self._lock:
            pending = sum(1 for j in self._jobs.values() if j.state == "queued")
            if pending >= self._max_pending:
                raise QueueFull(f"{pending} uploads are waiting to be indexed; retry later")
            job = _Job(secrets.token_hex(8), filename, name, data, dict(meta))
            self._jobs[job.job_id] = job
            self._trim()
            view = job.view()
        self._queue.put(job)
        return view

    def get(self, job_id: str) -> JobView | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.view()

    def recent(self, limit: int = 50) -> list[JobView]:
        """The newest jobs first."""
        with self._lock:
            return [j.view() for j in reversed(self._jobs.values())][:limit]

    def wait(self, job_id: str, timeout: float) -> JobView | None:
        """The job once it is done or failed, or as it is when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(job_id)
            if view is None or view.state in ("done", "failed") or time.monotonic() > deadline:
                return view
            time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker after the job it is running; jobs still queued fail with that
        reason (their uploads were never stored, nothing indexed is lost)."""
        self._stopping.set()
        self._queue.put(None)
        self._worker.join(timeout)

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state in ("done", "failed")]
        for key in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[key]

    # -- the worker -----------------------------------------------------------------------

    def _set(self, job: _Job, **fields: Any) -> None:
        with self._lock:
            for k, v in fields.items():
                setattr(job, k, v)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._stopping.is_set():
                self._set(job, state="failed", stage="failed", finished=time.time(), data=None,
                          error={"type": "ServerStopping",
                                 "message": f"{job.name}: the server stopped before this "
                                            "upload was indexed; upload it again"})
                continue
            try:
                self._one(job)
            except Exception:  # never let the worker die: the next job must run
                log.exception("upload job %s crashed", job.job_id)
                self._set(job, state="failed", stage="failed", finished=time.time(),
                          error={"type": "InternalError", "message": "internal server error"},
                          data=None)

    def _one(self, job: _Job) -> None:
        # reading and parsing the bytes comes first, before the engine's first report
        self._set(job, state="running", stage="parsing", started=time.time(), stages=["parsing"])

        def progress(stage: str, done: int, total: int) -> None:
            with self._lock:
                job.stage, job.done, job.total = stage, done, total
                if job.stages[-1:] != [stage]:
                    job.stages.append(stage)

        try:
            doc = self._engine.add_document(job.filename, job.data or b"", job.meta,
                                            progress=progress)
        except RagError as exc:
            self._set(job, state="failed", stage="failed", finished=time.time(), data=None,
                      error={"type": type(exc).__name__, "message": str(exc)})
            return
        version = None
        try:
            version = self._engine.snapshot().version
        except Exception as exc:  # the document is indexed; the version is a nicety
            log.warning("no index version after job %s: %s", job.job_id, exc)
        with self._lock:
            job.state, job.stage, job.finished = "done", "done", time.time()
            job.document, job.index_version, job.data = doc.to_dict(), version, None
            if job.total is not None:
                job.done = job.total
            self._trim()
