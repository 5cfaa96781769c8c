"""The `rag` command as a user runs it: a real process, real model, real corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS_FILE, _model_cache

pytestmark = pytest.mark.slow


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        capture_output=True, text=True, env=env, input=stdin, timeout=600,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus / CORPUS_FILE.name)
    e = dict(os.environ)
    e.update(RAG_INDEX_DIR=str(root / "index"), RAG_CORPUS_DIR=str(corpus),
             RAG_MODEL_CACHE=str(_model_cache()))
    return e


def test_search_builds_the_index_on_first_use_and_prints_json(env):
    r = run(["search", "苏州吴中区机器人基金", "--json", "--k", "3"], env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["query"] == "苏州吴中区机器人基金"
    assert len(out["hits"]) == 3
    first = out["hits"][0]
    assert set(first) == {"passage_id", "doc_id", "title", "section", "text", "start", "end", "scores"}
    assert set(first["scores"]) == {"dense", "bm25", "fused"}
    assert first["section"] == "苏州市"
    source = CORPUS_FILE.read_text(encoding="utf-8")
    assert source[first["start"]:first["end"]].startswith(first["text"][:8])


def test_index_again_embeds_nothing(env):
    r = run(["index", "--json"], env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["embedded"] == 0 and report["changed"] is False


def test_info(env):
    r = run(["info", "--json"], env)
    info = json.loads(r.stdout)
    assert info["passages"] > 30 and info["dim"] == 384 and info["documents"] == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["search", "   "], 2, "empty"),
        (["search", "x" * 600], 2, "limit"),
        (["search", "北京", "--k", "0"], 2, "k must be"),
        (["index", "/nonexistent/folder"], 2, "no such file"),
        (["ask", "--batch", "/nonexistent.jsonl"], 1, "cannot read"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(env, args, code, message):
    r = run(args, env)
    assert r.returncode == code
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("rag:")]
    assert len(lines) == 1 and message in lines[0]


def test_corrupt_index_is_reported_not_raised(env, tmp_path: Path):
    broken = dict(env)
    idx = tmp_path / "index"
    shutil.copytree(env["RAG_INDEX_DIR"], idx)
    live = (idx / "CURRENT").read_text().strip()
    (idx / live / "passages.jsonl").write_text("{not json", encoding="utf-8")
    broken["RAG_INDEX_DIR"] = str(idx)
    r = run(["search", "北京"], broken)
    assert r.returncode == 4 and "Traceback" not in r.stderr
    assert "passages.jsonl" in r.stderr


def test_ask_json_contract(env):
    r = run(["ask", "北京机器人产业发展投资基金的目标规模是多少?", "--json"], env)
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout)
    assert set(a) == {"question", "rewritten_question", "found", "answer", "figures", "citations"}
    assert a["found"] is True and "100亿元" in a["answer"] and "[1]" in a["answer"]
    f = a["figures"][0]
    assert f["value"] == 1e10 and f["unit"] == "元" and f["citation"] == 1
    assert set(f) == {"text", "value", "low", "high", "unit", "kind", "qualifier", "subject", "date",
                      "citation"}
    assert set(a["citations"][0]) == {"id", "doc_id", "title", "section", "text", "start", "end",
                                      "score", "passage_id"}


def test_ask_follow_up_with_turns_and_batch(env, tmp_path: Path):
    r = run(["ask", "那成都呢?", "--turn", "北京机器人基金规模多大?", "--json"], env)
    a = json.loads(r.stdout)
    assert a["rewritten_question"] and "成都" in a["rewritten_question"]
    assert a["citations"][0]["section"] == "成都市"
    batch = tmp_path / "q.jsonl"
    batch.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in [
            {"question": "广州机器人基金规模多大?"},
            {"question": "南京的呢?", "turns": ["北京机器人基金规模多大?"]},
            {"question": "山东5G基站将达到多少个?"},
        ]) + "\n", encoding="utf-8")
    r = run(["ask", "--json", "--batch", str(batch)], env)
    assert r.returncode == 0, r.stderr
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["found"] for x in answers] == [False, True, True]
    assert "50亿元" in answers[1]["answer"] and "27万个" in answers[2]["answer"]


def test_chat_reads_turns_from_stdin(env):
    r = run(["chat"], env, stdin="北京机器人基金规模多大?\n那成都呢?\n\n")
    assert r.returncode == 0, r.stderr
    assert "100亿元" in r.stdout and "成都机器人基金规模多大" in r.stdout


def test_figures_table(env):
    r = run(["figures", "--kind", "money", "--json"], env)
    rows = json.loads(r.stdout)
    assert rows and all(x["kind"] == "money" for x in rows)
    beijing = [x for x in rows if x["section"] == "北京市"]
    assert beijing[0]["value"] == 1e10 and beijing[0]["subject"] == "北京机器人产业发展投资基金"
    r = run(["figures", "--subject", "算力服务券"], env)
    assert "不低于1000万元" in r.stdout and "最高20万元" in r.stdout
