"""The HTTP server end to end: a real uvicorn server on a loopback port, the real engine,
model and corpus (copied to a temporary folder so uploads never touch the repository)."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.settings import Settings
from server.app import ServerConfigError, create_app
from server.runner import ServerThread, serving
from server.streaming import pieces

REPO = Path(__file__).resolve().parents[1]
ADMIN_KEY = "test-admin-key-0123456789abcdef"
READ_KEY = "test-read-key-0123456789abcdef"
ALLOWED_ORIGIN = "http://allowed.example"
BEIJING_Q = "北京机器人产业发展投资基金的目标规模是多少?"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'")

slow = pytest.mark.slow


# -- the shared live server (also used by tests/test_page.py) ---------------------------


@dataclass
class Live:
    url: str
    root: Path
    corpus: Path
    settings: Settings
    server: ServerThread

    @property
    def engine(self) -> Any:
        return self.server.server.config.app.state.engine


_LIVE: Live | None = None
_LIVE_LOCK = threading.Lock()


def live_server(tmp_path_factory: pytest.TempPathFactory, model_cache: Path,
                request: pytest.FixtureRequest) -> Live:
    """One server per test session: index built from a copy of the corpus at start-up."""
    global _LIVE
    with _LIVE_LOCK:
        if _LIVE is None:
            root = tmp_path_factory.mktemp("live")
            corpus = root / "corpus"
            shutil.copytree(REPO / "corpus", corpus)
            settings = Settings(
                index_dir=root / "index", corpus_dir=corpus, model_cache=model_cache,
                admin_key=ADMIN_KEY, read_key=None, cors_origins=[ALLOWED_ORIGIN],
                threads=1,  # as `rag serve` does: parallelism comes from the thread pool
                # the HTTP and page tests check that answers, citations, tables and uploads
                # travel; which answers the calibrated threshold refuses is the library's
                # (tests/test_answer.py, tests/test_evidence.py), so every answer that passes
                # the hard checks is given here
                min_confidence=0.0,
            )
            srv = ServerThread(create_app(settings)).start(timeout=600)
            _LIVE = Live(srv.url, root, corpus, settings, srv)
            request.addfinalizer(_stop_live)
        r = httpx.get(f"{_LIVE.url}/healthz", timeout=30)
        assert r.status_code == 200, r.text
        return _LIVE


def _stop_live() -> None:
    global _LIVE
    if _LIVE is not None:
        _LIVE.server.stop()
        _LIVE = None


def _no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500 or response.status_code == 503, (
        f"{response.request.method} {response.request.url} gave {response.status_code}"
    )


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, model_path: Path,
         request: pytest.FixtureRequest) -> Live:
    return live_server(tmp_path_factory, model_cache, request)


@pytest.fixture()
def client(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=120,
                      event_hooks={"response": [_no_server_error]}) as c:
        yield c


def admin(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"X-API-Key": key}


def assert_error(r: httpx.Response, status: int, type_: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and body["error"]["message"]
    if type_:
        assert body["error"]["type"] == type_, body
    return body


def parse_sse(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if data:
            events.append((name, "\n".join(data)))
    return events


def wait_job(c: httpx.Client, job_id: str, timeout: float = 300,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Poll ``GET /jobs/{job_id}`` until the upload job is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"/jobs/{job_id}", headers=headers)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']} after {timeout}s: {job}"
        time.sleep(0.1)


def upload(c: httpx.Client, name: str, data: bytes, *, key: str = ADMIN_KEY,
           form: dict[str, str] | None = None, timeout: float = 300) -> dict[str, Any]:
    """``POST /documents`` (202 and a job at once), then the finished job."""
    r = c.post("/documents", files={"file": (name, data)}, data=form,
               headers={"X-API-Key": key})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/jobs/{job['job_id']}"
    assert job["state"] in ("queued", "running", "done") and job["filename"] == name
    return wait_job(c, job["job_id"], timeout)


def ask(client: httpx.Client, *questions: str, **extra: Any) -> httpx.Response:
    messages = []
    for q in questions:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": "…"}]
    return client.post("/chat", json={"messages": messages[:-1], **extra})


# -- start-up validation (no server needed) ---------------------------------------------


@pytest.mark.parametrize("field", ["admin_key", "read_key"])
@pytest.mark.parametrize("key", ["", "short", "x" * 15, "钥匙钥匙钥"])  # the last: 15 bytes
def test_short_key_refuses_start_up(tmp_path: Path, field: str, key: str) -> None:
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=None, **{field: key})
    with pytest.raises(ServerConfigError, match="at least 16 bytes"):
        create_app(settings)


def test_sixteen_byte_keys_are_accepted(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path, corpus_dir=None, admin_key="x" * 16,
                        read_key="钥匙钥匙钥匙")  # 18 bytes
    assert create_app(settings).title == "rag-zh"


def test_rag_serve_stops_with_a_clear_error_on_a_short_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from rag.cli import main

    monkeypatch.setenv("RAG_ADMIN_KEY", "too-short")
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path))
    assert main(["serve", "--port", "9"]) == 2
    assert "RAG_ADMIN_KEY" in capsys.readouterr().err


def test_stream_pieces_keep_citation_markers_whole() -> None:
    text = "北京机器人产业发展投资基金目标规模为100亿元[1]，成都也是100亿元[12]。[x"
    parts = pieces(text)
    assert "".join(parts) == text
    assert "[1]" in parts and "[12]" in parts
    assert not any(re.search(r"\[\d+$|^\d*\]", p) for p in parts)


# -- service, page, schema ----------------------------------------------------------------


@slow
def test_healthz_reports_the_index(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["passages"] > 0 and body["documents"] >= 1
    assert body["index_version"] and body["model"]


@slow
@pytest.mark.parametrize("path", ["/healthz", "/", "/static/app.js", "/nope", "/openapi.json"])
def test_security_headers_on_every_response(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


@slow
def test_page_and_static_files_are_served(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in r.text and "<style" not in r.text
    assert client.get("/static/app.js").headers["content-type"].startswith(
        ("text/javascript", "application/javascript"))
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert_error(client.get("/static/missing.js"), 404, "NotFound")


@slow
def test_openapi_schema_lists_every_endpoint(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/chat", "/v1/chat/completions", "/search", "/figures", "/documents",
            "/documents/{doc_id}", "/healthz"} <= set(paths)
    assert {"get", "post"} <= set(paths["/documents"])
    assert "delete" in paths["/documents/{doc_id}"]
    for name in ("ChatRequest", "AnswerOut", "OpenAIChatRequest", "SearchResponse",
                 "ErrorResponse"):
        assert name in schema["components"]["schemas"]


@slow
def test_unknown_route_and_wrong_method_are_json(client: httpx.Client) -> None:
    assert_error(client.get("/no/such/route"), 404, "NotFound")
    r = client.delete("/healthz")
    assert_error(r, 405, "MethodNotAllowed")
    assert "GET" in r.headers["allow"]
    assert_error(client.put("/chat", json={}), 405, "MethodNotAllowed")


# -- retrieval ------------------------------------------------------------------------------


@slow
def test_search_returns_cited_passages(client: httpx.Client) -> None:
    r = client.get("/search", params={"q": "北京机器人产业发展投资基金", "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "北京机器人产业发展投资基金"
    assert len(body["hits"]) == 3
    top = body["hits"][0]
    assert set(top) == {"passage_id", "doc_id", "title", "section", "text", "start", "end",
                        "scores"}
    assert "100亿元" in top["text"] and top["section"] == "北京市"
    assert set(top["scores"]) == {"dense", "bm25", "fused"}


@slow
def test_search_filters(client: httpx.Client) -> None:
    r = client.get("/search", params={"q": "产业基金 规模", "section": "成都", "k": 2})
    assert r.status_code == 200
    assert r.json()["hits"] and all("成都" in h["section"] for h in r.json()["hits"])


@slow
@pytest.mark.parametrize("params", [
    {}, {"q": ""}, {"q": "   "}, {"q": "问" * 501}, {"q": "基金", "k": 0},
    {"q": "基金", "k": 101}, {"q": "基金", "k": "many"},
])
def test_search_rejects_bad_queries(client: httpx.Client, params: dict[str, Any]) -> None:
    assert_error(client.get("/search", params=params), 422)


@slow
def test_figures_table(client: httpx.Client) -> None:
    rows = client.get("/figures", params={"subject": "北京"}).json()["figures"]
    assert any(f["text"] == "100亿元" and f["kind"] == "money" for f in rows)
    money = client.get("/figures", params={"kind": "money"}).json()["figures"]
    assert money and all(f["kind"] == "money" for f in money)
    assert client.get("/figures", params={"subject": "不存在的地方"}).json() == {"figures": [], "total": 0}


@slow
def test_documents_list(client: httpx.Client) -> None:
    docs = {d["source"]: d for d in client.get("/documents").json()["documents"]}
    page = docs["cen-page-robot-funds.txt"]
    assert page["passages"] > 0 and len(page["articles"]) == 5
    assert "README.md" not in docs


# -- chat -----------------------------------------------------------------------------------


@slow
def test_chat_answers_with_citations_and_figures(client: httpx.Client) -> None:
    r = ask(client, BEIJING_Q)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["found"] is True and a["question"] == BEIJING_Q
    assert a["rewritten_question"] is None
    assert "100亿元" in a["answer"] and "[1]" in a["answer"]
    ids = {c["id"] for c in a["citations"]}
    assert 1 in ids
    assert any(f["text"] == "100亿元" and f["citation"] in ids for f in a["figures"])


@slow
def test_chat_follow_up_is_rewritten(client: httpx.Client) -> None:
    a = ask(client, BEIJING_Q, "那成都呢?").json()
    assert a["question"] == "那成都呢?"
    assert a["rewritten_question"] and "成都" in a["rewritten_question"]
    assert a["found"] and "100亿元" in a["answer"]
    cited = {c["id"]: c for c in a["citations"]}
    assert any("成都" in (cited[f["citation"]]["section"] or "") for f in a["figures"]
               if f["text"] == "100亿元")


@slow
def test_chat_top_k_and_filters(client: httpx.Client) -> None:
    r = ask(client, "产业基金的目标规模是多少?", top_k=3, filters={"section": "成都"})
    assert r.status_code == 200
    assert all("成都" in (c["section"] or "") for c in r.json()["citations"])


@slow
def test_chat_not_found(client: httpx.Client) -> None:
    a = ask(client, "火星基地的建设预算是多少?").json()
    assert a["found"] is False


@slow
def test_chat_stream_sends_deltas_citations_figures_done(client: httpx.Client) -> None:
    with client.stream("POST", "/chat", json={
        "messages": [{"role": "user", "content": BEIJING_Q}], "stream": True,
    }) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(r.read().decode("utf-8"))
    names = [n for n, _ in events]
    assert names[0] == "delta" and names[-3:] == ["citations", "figures", "done"]
    assert set(names[:-3]) == {"delta"} and len(names) > 4
    done = json.loads(events[-1][1])
    assert "".join(json.loads(d)["text"] for n, d in events if n == "delta") == done["answer"]
    assert json.loads(events[-3][1]) == done["citations"]
    assert json.loads(events[-2][1]) == done["figures"]
    assert "100亿元" in done["answer"] and done["found"]


@slow
@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": ""}]},
    {"messages": [{"role": "user", "content": "  \n "}]},
    {"messages": [{"role": "user", "content": "问" * 501}]},
    {"messages": [{"role": "user", "content": "问" * 501}], "stream": True},
    {"messages": []},
    {"messages": [{"role": "assistant", "content": "只有助手"}]},
    {"messages": [{"role": "robot", "content": "你好"}]},
    {"messages": [{"role": "user"}]},
    {"messages": [{"role": "user", "content": 42}]},
    {"messages": "北京"},
    {"messages": [{"role": "user", "content": "北京"}], "top_k": 0},
    {"messages": [{"role": "user", "content": "北京"}], "filters": {"doc_ids": "x"}},
    {"messages": [{"role": "user", "content": "北京"}], "unknown": 1},
    {},
])
def test_chat_rejects_bad_requests(client: httpx.Client, body: dict[str, Any]) -> None:
    assert_error(client.post("/chat", json=body), 422)


@slow
@pytest.mark.parametrize("raw", [
    b"{not json", b"", b"null", b"[]", b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
])
def test_chat_rejects_malformed_json(client: httpx.Client, raw: bytes) -> None:
    r = client.post("/chat", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 422)


@slow
def test_odd_but_valid_input_never_fails(client: httpx.Client) -> None:
    for q in ["\x00", "<script>alert(1)</script>", "'; DROP TABLE x; --", "🤖" * 100,
              "[1][2][3]", "%s%n", "ＡＢＣ１２３", "\u202e反转"]:
        assert client.get("/search", params={"q": q}).status_code == 200
        assert ask(client, q).status_code == 200


# -- OpenAI compatibility ---------------------------------------------------------------------


@slow
def test_openai_client_non_streaming(live: Live) -> None:
    from openai import OpenAI

    oc = OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    resp = oc.chat.completions.create(
        model="rag-zh", messages=[{"role": "system", "content": "请简洁回答"},
                                  {"role": "user", "content": BEIJING_Q}])
    assert resp.object == "chat.completion" and resp.model == "rag-zh"
    choice = resp.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "100亿元" in (choice.message.content or "") and "[1]" in (choice.message.content or "")
    rag = (resp.model_extra or {})["rag"]
    assert rag["answer"] == choice.message.content and rag["citations"] and rag["figures"]
    assert resp.usage is not None and resp.usage.total_tokens > 0


@slow
def test_openai_client_streaming(live: Live) -> None:
    from openai import OpenAI

    oc = OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    chunks = list(oc.chat.completions.create(
        model="rag-zh", stream=True,
        messages=[{"role": "user", "content": BEIJING_Q}, {"role": "assistant", "content": "…"},
                  {"role": "user", "content": "那成都呢?"}]))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    rag = (last.model_extra or {})["rag"]
    assert text == rag["answer"] and "100亿元" in text
    assert "成都" in rag["rewritten_question"]
    assert rag["citations"] and rag["figures"]


@slow
def test_openai_stream_ends_with_done(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json={
        "messages": [{"role": "user", "content": [{"type": "text", "text": BEIJING_Q}]}],
        "stream": True})
    events = parse_sse(r.text)
    assert events[-1] == ("message", "[DONE]")
    first = json.loads(events[0][1])
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["model"] == "rag-zh-extractive"


@slow
def test_openai_errors_are_json(client: httpx.Client) -> None:
    assert_error(client.post("/v1/chat/completions", json={"messages": []}), 422)
    assert_error(client.post("/v1/chat/completions",
                             json={"messages": [{"role": "user", "content": " "}]}), 422)


# -- documents and auth ---------------------------------------------------------------------


UPLOAD = ("# 星河市量子计算产业基金\n\n"
          "2025年6月,星河市宣布设立星河市量子计算产业基金,目标规模为37亿元,"
          "重点投向量子芯片、量子通信和量子测量等领域。\n").encode()


@slow
@pytest.mark.parametrize("headers", [
    {}, {"X-API-Key": "wrong-key-0123456789abcdef"}, {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {ADMIN_KEY}"}, {"X-API-Key": READ_KEY}, {"X-API-Key": "ключ".encode()},
])
def test_writes_need_the_admin_key(client: httpx.Client, headers: dict[str, Any]) -> None:
    r = client.post("/documents", files={"file": ("a.txt", UPLOAD)}, headers=headers)
    assert_error(r, 401, "Unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_error(client.delete("/documents/0123456789abcdef", headers=headers), 401)


@slow
def test_admin_key_passes_either_header(client: httpx.Client) -> None:
    for headers in (admin(), {"Authorization": f"Bearer {ADMIN_KEY}"}):
        assert_error(client.delete("/documents/0123456789abcdef", headers=headers), 404,
                     "NotFound")


@slow
def test_upload_then_search_then_delete_while_readers_keep_answering(
    client: httpx.Client, live: Live
) -> None:
    stop = threading.Event()
    statuses: list[int] = []

    def reader() -> None:
        with httpx.Client(base_url=live.url, timeout=120) as c:
            while not stop.is_set():
                statuses.append(c.get("/search", params={"q": "机器人产业基金"}).status_code)

    t = threading.Thread(target=reader)
    t.start()
    try:
        r = client.post("/documents", files={"file": ("../../etc/evil name.md", UPLOAD)},
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert r.status_code == 202, r.text
        job = wait_job(client, r.json()["job_id"])
        assert job["state"] == "done" and job["stage"] == "done" and job["error"] is None, job
        assert job["filename"] == "../../etc/evil name.md" and job["name"] == "evil name.md"
        assert job["finished"] >= job["started"] >= job["created"]
        # the engine's progress reports: every stage in order, the last one complete
        assert job["stages"] == ["parsing", "chunking", "encoding", "writing"], job
        assert job["total"] and job["done"] == job["total"]
        doc = job["document"]
        assert doc["title"].startswith("星河市量子计算产业基金")
        assert doc["source"] == "uploads/evil name.md"  # the user's name, without its path
        assert (live.corpus / doc["source"]).is_file()
        assert not (live.root / "etc").exists()
        hits = client.get("/search", params={"q": "星河市量子计算产业基金"}).json()["hits"]
        assert hits[0]["doc_id"] == doc["doc_id"] and "37亿元" in hits[0]["text"]
        assert doc["doc_id"] in {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        jobs = client.get("/jobs").json()["jobs"]
        assert jobs[0]["job_id"] == job["job_id"]  # newest first
        again = upload(client, "copy.md", UPLOAD)
        assert again["state"] == "done" and again["document"]["doc_id"] == doc["doc_id"]

        r = client.delete(f"/documents/{doc['doc_id']}", headers=admin())
        assert r.status_code == 200 and r.json()["doc_id"] == doc["doc_id"]
        assert not (live.corpus / doc["source"]).exists()
        hits = client.get("/search", params={"q": "星河市量子计算产业基金"}).json()["hits"]
        assert all(h["doc_id"] != doc["doc_id"] for h in hits)
        assert_error(client.delete(f"/documents/{doc['doc_id']}", headers=admin()), 404)
    finally:
        stop.set()
        t.join()
    assert statuses and set(statuses) == {200}


@slow
@pytest.mark.parametrize(("name", "data", "status"), [
    ("noext", b"hello", 422),
    ("image.png", b"\x89PNG\r\n", 422),
    ("big.txt", "大".encode() * (2 * 1024 * 1024 // 3 + 1), 413),
])
def test_upload_rejected_before_queuing(client: httpx.Client, name: str, data: bytes,
                                        status: int) -> None:
    """What can be told from the name and size is a 4xx at once, and no job is made."""
    before = client.get("/jobs").json()["jobs"]
    r = client.post("/documents", files={"file": (name, data)}, headers=admin())
    message = assert_error(r, status)["error"]["message"]
    assert name in message
    assert client.get("/jobs").json()["jobs"] == before


@slow
def test_upload_with_a_bad_date_is_422_at_once(client: httpx.Client) -> None:
    r = client.post("/documents", files={"file": ("dated.md", UPLOAD)},
                    data={"date": "next tuesday"}, headers=admin())
    assert "not a date" in assert_error(r, 422, "DocumentRejected")["error"]["message"]


@slow
@pytest.mark.parametrize(("name", "data", "reason"), [
    ("report.pdf", b"%PDF-1.4 hello", "PDF"),
    ("binary.txt", b"\x00\x01\x02\xff" * 100, ""),
    ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), ""),
    ("empty.md", b"   \n", "empty"),
])
def test_upload_that_cannot_be_read_fails_its_job(client: httpx.Client, live: Live, name: str,
                                                  data: bytes, reason: str) -> None:
    """A file that is not readable text fails its job with the reason, naming the user's
    file; nothing is stored and the index version stays."""
    version = client.get("/healthz").json()["index_version"]
    job = upload(client, name, data)
    assert job["state"] == "failed" and job["document"] is None, job
    assert job["error"]["type"] == "DocumentRejected"
    assert job["error"]["message"].startswith(name) and reason in job["error"]["message"]
    assert not (live.corpus / "uploads" / name).exists()
    assert client.get("/healthz").json()["index_version"] == version


@slow
def test_unknown_job_is_404(client: httpx.Client) -> None:
    assert_error(client.get("/jobs/0123456789abcdef"), 404, "NotFound")
    assert_error(client.get("/jobs", params={"limit": 0}), 422)


@slow
def test_a_full_queue_refuses_more_uploads_and_jobs_run_in_order(live: Live) -> None:
    """With room for one waiting upload, a burst of three gets QueueFull (the API's 429) at
    least once; the accepted jobs run one at a time, in the order they came."""
    from server.jobs import JobQueue, QueueFull

    q = JobQueue(live.engine, max_pending=1)
    accepted, refused = [], 0
    try:
        for n in range(3):
            data = f"# 队列测试{n}\n\n2025年,队列市设立第{n}号基金,规模为{n + 11}亿元。\n".encode()
            try:
                accepted.append(q.submit(f"queue-{n}.md", f"queue-{n}.md", data, {}).job_id)
            except QueueFull as exc:
                assert "retry later" in str(exc)
                refused += 1
        assert refused >= 1 and accepted
        jobs = [q.wait(j, 300) for j in accepted]
        assert all(j is not None and j.state == "done" for j in jobs), jobs
        done = [j for j in jobs if j is not None]
        for a, b in itertools.pairwise(done):
            assert a.finished is not None and b.started is not None and a.finished <= b.started
        assert [j.job_id for j in q.recent()] == accepted[::-1]
    finally:
        q.stop()
        for j in accepted:
            view = q.get(j)
            if view is not None and view.document is not None:
                live.engine.delete_document(view.document["doc_id"])


@slow
def test_jobs_still_queued_when_the_server_stops_fail_with_that_reason(live: Live) -> None:
    from server.jobs import JobQueue

    q = JobQueue(live.engine)
    data = [f"# 停机测试{n}\n\n2025年,停机市设立第{n}号基金,规模为{n + 21}亿元。\n".encode()
            for n in range(2)]
    jobs = [q.submit(f"stop-{n}.md", f"stop-{n}.md", d, {}).job_id for n, d in enumerate(data)]
    q.stop(timeout=300)  # after the job it is running, if it has started one
    views = [q.get(j) for j in jobs]
    try:
        last = views[-1]
        assert last is not None and last.state == "failed" and last.error is not None
        assert last.error["type"] == "ServerStopping" and last.error["message"].startswith("stop-1.md")
        assert not (live.corpus / "uploads" / "stop-1.md").exists()
        for v in views:  # the first ran to the end or never started
            assert v is not None and (v.state == "done" or (
                v.error is not None and v.error["type"] == "ServerStopping")), v
    finally:
        for v in views:
            if v is not None and v.document is not None:
                live.engine.delete_document(v.document["doc_id"])


@slow
def test_document_text_of_a_changed_file_is_404(client: httpx.Client, live: Live) -> None:
    job = upload(client, "changed.md", "# 会改的文档\n\n2025年,某市设立基金,规模为5亿元。\n".encode())
    doc = job["document"]
    path = live.corpus / doc["source"]
    try:
        assert client.get(f"/documents/{doc['doc_id']}/text").status_code == 200
        path.write_text("# 改过了\n\n内容不同。\n", encoding="utf-8")
        message = assert_error(client.get(f"/documents/{doc['doc_id']}/text"), 404,
                               "NotFound")["error"]["message"]
        assert "changed since it was indexed" in message
    finally:
        assert client.delete(f"/documents/{doc['doc_id']}", headers=admin()).status_code == 200


@slow
def test_document_text_holds_every_citation_span(client: httpx.Client) -> None:
    """The viewer's text: each citation's start/end index into it, giving the passage."""
    answer = ask(client, BEIJING_Q).json()
    assert answer["citations"]
    for c in answer["citations"]:
        r = client.get(f"/documents/{c['doc_id']}/text")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["document"]["doc_id"] == c["doc_id"]
        span = body["text"][c["start"]:c["end"]]
        assert span == c["text"], (span[:60], c["text"][:60])
    assert_error(client.get("/documents/0123456789abcdef/text"), 404, "NotFound")


@slow
def test_upload_needs_a_file(client: httpx.Client) -> None:
    assert_error(client.post("/documents", headers=admin()), 422)
    assert_error(client.post("/documents", data={"file": "text, not a file"}, headers=admin()),
                 422)


@slow
def test_body_over_the_limit_is_413(client: httpx.Client, live: Live) -> None:
    big = b"x" * (live.settings.max_body_bytes + 1)
    r = client.post("/chat", content=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "PayloadTooLarge")

    def chunked() -> Iterator[bytes]:  # no Content-Length: the bytes are counted
        for _ in range(5):
            yield b"y" * (1024 * 1024)

    r = client.post("/chat", content=chunked(), headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "PayloadTooLarge")
    r = client.post("/documents", files={"file": ("a.txt", big)}, headers=admin())
    assert_error(r, 413)
    assert client.get("/healthz").status_code == 200  # the server is fine


# -- CORS ------------------------------------------------------------------------------------


@slow
def test_cors_only_for_configured_origins(client: httpx.Client) -> None:
    pre = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type, x-api-key"}
    ok = client.options("/chat", headers={"Origin": ALLOWED_ORIGIN, **pre})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in ok.headers
    bad = client.options("/chat", headers={"Origin": "http://evil.example", **pre})
    assert_error(bad, 400, "CORSRejected")
    assert "access-control-allow-origin" not in bad.headers
    simple = client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers
    simple = client.get("/healthz", headers={"Origin": ALLOWED_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


# -- other configurations, each a separate app ------------------------------------------------


@slow
def test_read_key_guards_reads_and_no_admin_key_disables_writes(live: Live, tmp_path: Path) -> None:
    settings = live.settings.model_copy(update={"read_key": READ_KEY, "admin_key": None})
    with serving(create_app(settings, engine=live.engine)) as srv, httpx.Client(
        base_url=srv.url, timeout=120, event_hooks={"response": [_no_server_error]}
    ) as c:
        for path, params in (("/search", {"q": "北京"}), ("/documents", {}), ("/figures", {})):
            assert_error(c.get(path, params=params), 401, "Unauthorized")
            assert_error(c.get(path, params=params, headers={"X-API-Key": "nope"}), 401)
            assert c.get(path, params=params, headers={"X-API-Key": READ_KEY}).status_code == 200
        assert_error(c.post("/chat", json={"messages": [{"role": "user", "content": "北京"}]}),
                     401)
        r = c.post("/chat", json={"messages": [{"role": "user", "content": BEIJING_Q}]},
                   headers={"Authorization": f"Bearer {READ_KEY}"})
        assert r.status_code == 200
        assert c.get("/healthz").status_code == 200  # health stays open
        r = c.post("/documents", files={"file": ("a.txt", UPLOAD)},
                   headers={"X-API-Key": READ_KEY})
        assert_error(r, 403, "WritesDisabled")
        assert_error(c.delete("/documents/x", headers={"X-API-Key": READ_KEY}), 403)

    both = live.settings.model_copy(update={"read_key": READ_KEY})
    with serving(create_app(both, engine=live.engine)) as srv:
        r = httpx.get(f"{srv.url}/documents", headers=admin(), timeout=60)
        assert r.status_code == 200  # the admin key reads too


def _small_corpus(root: Path) -> Settings:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "note.md").write_text(
        "# 测试文档\n\n## 甲市\n\n2024年甲市设立产业基金,规模为12亿元。\n\n"
        "## 乙市\n\n2025年乙市设立产业基金,规模为8亿元。\n", encoding="utf-8")
    return Settings(index_dir=root / "index", corpus_dir=corpus, model_cache=Path("unused"),
                    admin_key=ADMIN_KEY)


@slow
def test_corrupt_index_is_503_and_recovers_after_rebuild(live: Live, tmp_path: Path) -> None:
    from rag.engine import Engine

    settings = _small_corpus(tmp_path)
    embedder = live.engine.embedder  # share the loaded model
    Engine(settings.engine_config(), embedder=embedder).index()
    version = (settings.index_dir / "CURRENT").read_text().strip()
    with (settings.index_dir / version / "passages.jsonl").open("ab") as f:
        f.write(b"garbage\n")

    app = create_app(settings, engine=Engine(settings.engine_config(), embedder=embedder))
    with serving(app) as srv, httpx.Client(base_url=srv.url, timeout=120) as c:
        r = c.get("/healthz")
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
        assert r.json()["error"]["type"] == "IndexCorrupt"
        assert_error(c.get("/search", params={"q": "甲市"}), 503, "IndexCorrupt")
        assert_error(c.post("/chat", json={"messages": [{"role": "user", "content": "甲市"}]}),
                     503, "IndexCorrupt")
        assert_error(c.get("/documents"), 503)
        assert srv.alive

        report = Engine(settings.engine_config(), embedder=embedder).index()  # `rag index`
        assert report.rebuilt_from_scratch
        deadline = time.monotonic() + 10
        while (r := c.get("/healthz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.status_code == 200, r.text
        assert r.json()["index_version"] == report.version
        hits = c.get("/search", params={"q": "甲市产业基金"}).json()["hits"]
        assert "12亿元" in hits[0]["text"]


@slow
def test_missing_index_without_corpus_is_503(live: Live, tmp_path: Path) -> None:
    from rag.engine import Engine

    settings = Settings(index_dir=tmp_path / "none", corpus_dir=None, model_cache=Path("x"))
    app = create_app(settings, engine=Engine(settings.engine_config(),
                                             embedder=live.engine.embedder))
    with serving(app) as srv:
        r = httpx.get(f"{srv.url}/healthz", timeout=60)
        assert r.status_code == 503 and r.json()["error"]["type"] == "IndexMissing"
        r = httpx.get(f"{srv.url}/search", params={"q": "北京"}, timeout=60)
        assert_error(r, 503, "IndexMissing")
        assert srv.alive


# -- input that is not text, unknown enum values, bad JSON ------------------------------------

STORED = re.compile(r"uploads/[^/\\\x00-\x1f.][^/\\\x00-\x1f]*\.(txt|md)")
LONE = '"\\udc80abc"'  # valid JSON text that decodes to a lone surrogate


def _raw(messages: str, **extra: str) -> bytes:
    body = '{"messages": ' + messages + "".join(f', "{k}": {v}' for k, v in extra.items())
    return (body + "}").encode()


@slow
@pytest.mark.parametrize(("path", "raw", "where"), [
    ("/chat", _raw(f'[{{"role": "user", "content": {LONE}}}]'), "messages.0.content"),
    ("/chat", _raw(f'[{{"role": "user", "content": {LONE}}}, {{"role": "user", '
                   f'"content": "{BEIJING_Q}"}}]'), "messages.0.content"),
    ("/chat", _raw(f'[{{"role": "user", "content": {LONE}}}]', stream="true"),
     "messages.0.content"),
    ("/v1/chat/completions", _raw(f'[{{"role": "user", "content": {LONE}}}]'),
     "messages.0.content"),
    ("/v1/chat/completions", _raw(f'[{{"role": "user", "content": {LONE}}}, '
                                  f'{{"role": "assistant", "content": "…"}}, '
                                  f'{{"role": "user", "content": "那成都呢?"}}]'),
     "messages.0.content"),
    ("/v1/chat/completions", _raw(f'[{{"role": "user", "content": {LONE}}}]', stream="true"),
     "messages.0.content"),
    ("/v1/chat/completions", _raw(f'[{{"role": "user", "content": [{{"type": "text", '
                                  f'"text": {LONE}}}]}}]', stream="true"),
     "messages.0.content.0.text"),
    ("/v1/chat/completions", _raw(f'[{{"role": "user", "content": "{BEIJING_Q}"}}]',
                                  model=LONE, stream="true"), "model"),
    ("/v1/chat/completions", _raw(f'[{{"role": "user", "content": "{BEIJING_Q}", '
                                  f'"name": {LONE}}}]'), "messages.0.name"),
])
def test_lone_surrogates_in_json_are_422(client: httpx.Client, path: str, raw: bytes,
                                         where: str) -> None:
    r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    message = assert_error(r, 422, "ValidationError")["error"]["message"]
    assert message == (f"{where} is not valid Unicode text: lone surrogate U+DC80 at "
                       "character 0"), message


@slow
@pytest.mark.parametrize(("path", "query"), [
    ("/search", "q=%ED%B2%80abc"), ("/search", "q=%FF"), ("/search", "q=x&title=%ED%B2%80"),
    ("/figures", "subject=%ED%B2%80"), ("/figures", "kind=%C3"),
])
def test_query_strings_that_are_not_utf8_are_422(client: httpx.Client, path: str,
                                                 query: str) -> None:
    message = assert_error(client.get(f"{path}?{query}"), 422)["error"]["message"]
    assert "is not valid UTF-8 text" in message


@slow
@pytest.mark.parametrize("name", [
    "\udc80.txt".encode("utf-8", "surrogatepass").decode("latin-1"), "caf\xe9.md", "a\x00.txt",
])
def test_upload_names_that_are_not_text_never_fail(client: httpx.Client, name: str) -> None:
    r = client.post("/documents", files={"file": (name, UPLOAD)}, headers=admin())
    assert r.status_code in (202, 422), r.text  # the hook fails the test on a 5xx
    if r.status_code == 202:
        job = wait_job(client, r.json()["job_id"])
        assert job["state"] == "done", job
        assert STORED.fullmatch(job["document"]["source"])
        doc_id = job["document"]["doc_id"]
        assert client.delete(f"/documents/{doc_id}", headers=admin()).is_success



@slow
def test_unknown_search_mode_and_figure_kind_are_422(client: httpx.Client) -> None:
    from rag.figstore import FIGURE_KINDS
    from rag.retrieve import MODES

    r = client.get("/search", params={"q": "基金", "mode": "nonsense"})
    message = assert_error(r, 422, "ValidationError")["error"]["message"]
    assert message == "mode: mode must be one of hybrid, dense, bm25 (got 'nonsense')"
    for mode in MODES:
        assert client.get("/search", params={"q": "基金", "mode": mode, "k": 2}).json()["hits"]
    r = client.get("/figures", params={"kind": "nonsense"})
    message = assert_error(r, 422, "ValidationError")["error"]["message"]
    assert message == f"kind: kind must be one of {', '.join(FIGURE_KINDS)} (got 'nonsense')"
    assert "anniversary" in FIGURE_KINDS and "money" in FIGURE_KINDS
    r = client.get("/figures", params={"stance": "nonsense"})
    assert "target, actual" in assert_error(r, 422, "ValidationError")["error"]["message"]
    for kind in ("date", "percent"):
        rows = client.get("/figures", params={"kind": kind}).json()["figures"]
        assert rows and {f["kind"] for f in rows} == {kind}
    params = client.get("/openapi.json").json()["paths"]["/search"]["get"]["parameters"]
    assert next(p for p in params if p["name"] == "mode")["schema"]["enum"] == list(MODES)


@slow
@pytest.mark.parametrize(("raw", "message"), [
    (b'{"messages": [{"role": "user" "content": "x"}]}',
     "invalid JSON at line 1, column 31: Expecting ',' delimiter"),
    (b'{"messages": [\n  {"role": "user",\n   "content": "x",}\n]}',
     "invalid JSON at line 3, column 19: Expecting property name enclosed in double quotes"),
    (b"{not json", "invalid JSON at line 1, column 2: Expecting property name enclosed in "
     "double quotes"),
    (b"", "the request needs a JSON body"),
])
def test_invalid_json_says_what_and_where(client: httpx.Client, raw: bytes, message: str
                                          ) -> None:
    for path in ("/chat", "/v1/chat/completions"):
        r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert assert_error(r, 422, "ValidationError")["error"]["message"] == message


# -- OpenAI models, usage, citations ------------------------------------------------------------


@slow
def test_openai_client_lists_and_retrieves_the_model(live: Live, client: httpx.Client) -> None:
    from openai import NotFoundError, OpenAI

    oc = OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    models = oc.models.list()
    assert [m.id for m in models.data] == ["rag-zh-extractive"]
    m = models.data[0]
    assert m.object == "model" and m.owned_by and m.created > 0
    assert oc.models.retrieve("rag-zh-extractive").id == "rag-zh-extractive"
    with pytest.raises(NotFoundError):
        oc.models.retrieve("gpt-4o")
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and len(body["data"]) == 1
    assert_error(client.get("/v1/models/gpt-4o"), 404, "NotFound")


def _chunks(text: str) -> list[dict[str, Any]]:
    events = parse_sse(text)
    assert events[-1] == ("message", "[DONE]")
    return [json.loads(d) for _, d in events[:-1]]


@slow
def test_openai_usage_is_streamed_only_when_asked(live: Live, client: httpx.Client) -> None:
    from openai import OpenAI

    messages = [{"role": "user", "content": BEIJING_Q}]
    r = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    chunks = _chunks(r.text)
    assert all("usage" not in c for c in chunks)

    r = client.post("/v1/chat/completions", json={
        "messages": messages, "stream": True, "stream_options": {"include_usage": True}})
    chunks = _chunks(r.text)
    *rest, last = chunks
    assert last["choices"] == [] and last["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None and len(c["choices"]) == 1 for c in rest)
    assert rest[-1]["choices"][0]["finish_reason"] == "stop"

    oc = OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    got = list(oc.chat.completions.create(model="rag-zh", stream=True, messages=messages,
                                          stream_options={"include_usage": True}))
    assert got[-1].usage is not None and got[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in got[:-1])
    resp = oc.chat.completions.create(model="rag-zh", messages=messages)
    assert resp.usage is not None and resp.usage.total_tokens > 0  # non-streaming: always


CITATION_FIELDS = {"id", "title", "section", "text", "doc_id", "start", "end"}


def _check_citations(content: str, extra: dict[str, Any]) -> None:
    citations = extra["citations"]
    assert citations and extra["references"] == citations
    assert all(set(c) >= CITATION_FIELDS for c in citations)
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", content)}
    assert markers and markers <= {c["id"] for c in citations}
    assert citations == extra["rag"]["citations"]


@slow
def test_openai_answers_carry_their_citations(live: Live, client: httpx.Client) -> None:
    from openai import OpenAI

    oc = OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    messages: Any = [{"role": "user", "content": BEIJING_Q}]
    resp = oc.chat.completions.create(model="rag-zh", messages=messages)
    content = resp.choices[0].message.content or ""
    _check_citations(content, resp.model_extra or {})
    one = (resp.model_extra or {})["citations"][0]
    assert one["id"] == 1 and "100亿元" in one["text"] and one["section"] == "北京市"
    assert one["end"] > one["start"] >= 0

    chunks = list(oc.chat.completions.create(model="rag-zh", stream=True, messages=messages))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    _check_citations(text, chunks[-1].model_extra or {})
    r = client.post("/v1/chat/completions", json={
        "messages": messages, "stream": True, "stream_options": {"include_usage": True}})
    last = _chunks(r.text)[-1]
    assert last["citations"] and last["references"] == last["citations"]

    schema = client.get("/openapi.json").json()
    props = schema["components"]["schemas"]["OpenAIChatResponse"]["properties"]
    assert {"citations", "references"} <= set(props) and "[n]" in props["citations"]["description"]
    doc = schema["paths"]["/v1/chat/completions"]["post"]["description"]
    assert "citations" in doc and "include_usage" in doc


# -- API docs ------------------------------------------------------------------------------------


@slow
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_are_served_without_a_cdn(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    if path == "/docs":
        assert csp == CSP
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", r.text, re.S)
    assert scripts and all(body.strip() == "" and "src=" in attrs for attrs, body in scripts)
    assert "<style" not in r.text and "http" not in r.text  # no CDN, no inline style
    for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        asset = client.get(f"/{ref}")
        assert asset.status_code == 200, ref
        if ref.endswith(".js"):
            assert "javascript" in asset.headers["content-type"]


@slow
def test_openapi_declares_the_key_schemes(client: httpx.Client, live: Live) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": schemes["ApiKey"]["description"]}
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    paths = schema["paths"]
    either = [{"ApiKey": []}, {"Bearer": []}]
    assert paths["/documents"]["post"]["security"] == either
    assert paths["/documents/{doc_id}"]["delete"]["security"] == either
    for path, method in (("/healthz", "get"), ("/search", "get"), ("/chat", "post")):
        assert "security" not in paths[path][method]  # no read key configured: open

    settings = live.settings.model_copy(update={"read_key": READ_KEY})
    paths = create_app(settings, engine=live.engine).openapi()["paths"]
    for path, method in (("/search", "get"), ("/chat", "post"), ("/v1/models", "get"),
                         ("/v1/chat/completions", "post")):
        assert paths[path][method]["security"] == either
    assert "security" not in paths["/healthz"]["get"]


@slow
def test_docs_pages_render_under_the_csp(live: Live) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            for path, selector in (("/docs", ".opblock-summary-path"),
                                   ("/redoc", "[data-section-id]")):
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.on("console", lambda m, errors=errors: errors.append(m.text)
                        if m.type == "error" and "cdn.redoc.ly" not in m.text else None)
                page.goto(live.url + path)
                page.wait_for_selector(selector, timeout=60_000)
                text = page.inner_text("body")
                assert "/v1/chat/completions" in text and "/documents" in text, path
                assert errors == [], (path, errors)
                page.close()
        finally:
            browser.close()
