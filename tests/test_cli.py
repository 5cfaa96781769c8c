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
    assert set(first) == {"passage_id", "doc_id", "source", "title", "date", "section", "headings",
                          "text", "start", "end", "scores"}
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
        (["ask", "--batch", "/nonexistent.jsonl"], 2, "cannot read"),
        (["ask"], 2, "give a QUESTION"),
        (["ask", "北京?", "--history", "/nonexistent.json"], 2, "cannot read history"),
        (["figures", "--kind", "bogus"], 2, "invalid choice: 'bogus' (choose from 'money', 'count'"),
        (["figures", "--stance", "bogus"], 2, "choose from 'target', 'actual'"),
        (["search", "北京", "--year", "20x3"], 2, "not a year"),
        (["search", "北京", "--from", "yesterday"], 2, "not a date"),
        (["remove", "nope.txt"], 6, "not in the index: nope.txt"),
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
    r = run(["ask", "苏州吴中区设立的机器人产业投资基金总规模多大?", "--json"], env)
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout)
    assert set(a) == {"question", "rewritten_question", "found", "answer", "figures", "citations",
                      "confidence"}
    # README's first command: answered at the default (calibrated) threshold
    assert a["found"] is True and "100亿元" in a["answer"] and "[1]" in a["answer"]
    assert 0.0 < a["confidence"] <= 1.0
    f = a["figures"][0]
    assert f["value"] == 1e10 and f["unit"] == "元" and f["citation"] == 1
    assert set(f) == {"text", "value", "low", "high", "unit", "kind", "qualifier", "subject", "date",
                      "citation"}
    assert set(a["citations"][0]) == {"id", "doc_id", "source", "title", "date", "headings",
                                      "section", "text", "start", "end", "score", "passage_id"}
    assert a["citations"][0]["source"] == CORPUS_FILE.name


def test_ask_follow_up_with_turns_and_batch(env, tmp_path: Path):
    # the turns and the batch travel; which answers the threshold refuses is tested in
    # tests/test_answer.py, so every answer that passes the hard checks is given here
    env = {**env, "RAG_MIN_CONFIDENCE": "0"}
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


def test_batch_with_a_bad_line_answers_the_rest_and_exits_2(env, tmp_path: Path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"question": "山东5G基站将达到多少个?"}\n{not json\n[1, 2]\n',
                     encoding="utf-8")
    r = run(["ask", "--json", "--batch", str(batch)], {**env, "RAG_MIN_CONFIDENCE": "0"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert "27万个" in out[0]["answer"]
    assert [x.get("line") for x in out[1:]] == [2, 3] and all(x["error"] for x in out[1:])


@pytest.mark.parametrize("history", ["[1, 2, 3]", '[{"role": "user"}]', '["北京?", null]'])
def test_history_with_items_that_are_not_messages_is_rejected(env, tmp_path: Path, history):
    path = tmp_path / "history.json"
    path.write_text(history, encoding="utf-8")
    r = run(["ask", "那成都呢?", "--history", str(path)], env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "history item" in r.stderr and str(path) in r.stderr


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


def test_missing_index_exit_codes(env, tmp_path: Path):
    """README: 3 = no index. `info` on an empty folder, and any reading command with an
    --index-dir that does not exist (a typo must not build a new index there)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(["--index-dir", str(empty), "info"], env)
    assert r.returncode == 3 and "no index" in r.stderr
    missing = tmp_path / "typo"
    for args in (["search", "北京"], ["ask", "北京基金多大?"], ["figures"]):
        r = run(["--index-dir", str(missing), *args], env)
        assert r.returncode == 3 and "no index" in r.stderr, (args, r.stderr)
        assert not missing.exists()


POLICY = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"


@pytest.fixture(scope="module")
def policy_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two real reports and the seed page in one folder, plus files that cannot be indexed."""
    root = tmp_path_factory.mktemp("cli-policy")
    folder = root / "docs"
    folder.mkdir()
    for year in ("2013", "2014"):
        shutil.copy(POLICY / f"{year}-政府工作报告.txt", folder)
    shutil.copy(CORPUS_FILE, folder / CORPUS_FILE.name)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "bad-gbk.txt").write_bytes("国内生产总值".encode("gb18030") + b"\xff\xfe\x81")
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    e = dict(os.environ)
    e.update(RAG_INDEX_DIR=str(root / "index"), RAG_CORPUS_DIR=str(folder),
             RAG_MODEL_CACHE=str(_model_cache()))
    r = run(["index", str(folder), "--json"], e)
    e["_index_report"] = r.stdout
    e["_index_stderr"] = r.stderr
    e["_index_rc"] = str(r.returncode)
    return e


def test_index_folder_skips_bad_files_and_says_why(policy_env):
    assert policy_env["_index_rc"] == "2", policy_env["_index_stderr"]
    report = json.loads(policy_env["_index_report"])
    assert report["documents"] == 3 and report["figures"] > 100
    skipped = {s["source"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"empty.txt", "bad-gbk.txt", "slides.pptx"}
    assert "empty" in skipped["empty.txt"] and "unsupported" in skipped["slides.pptx"]
    for name in skipped:
        assert f"rag: skipped {name}: " in policy_env["_index_stderr"]


def test_search_by_year_and_document_shows_file_title_date_and_headings(policy_env):
    r = run(["search", "国内生产总值增长", "--year", "2013", "--json"], policy_env)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)["hits"]
    assert hits and {h["source"] for h in hits} == {"2013-政府工作报告.txt"}
    assert all(h["date"] == "2013" and h["title"] == "政府工作报告" for h in hits)
    r = run(["search", "国内生产总值增长", "--doc", "2014-政府工作报告.txt"], policy_env)
    assert r.returncode == 0 and "2014-政府工作报告.txt · 政府工作报告 · 2014 · " in r.stdout
    assert "2013-政府工作报告.txt" not in r.stdout
    r = run(["search", "国内生产总值增长", "--year", "1999"], policy_env)
    assert r.returncode == 0 and "no passages found" in r.stdout


def test_a_document_filter_that_names_no_document_is_an_error(policy_env):
    """A typo in --doc is exit 6 (not found) with one line, not an empty result."""
    for args in (["search", "国内生产总值增长", "--doc", "nosuch.txt"],
                 ["figures", "--doc", "nosuch.txt"]):
        r = run(args, policy_env)
        assert r.returncode == 6, (args, r.stdout, r.stderr)
        assert r.stderr.strip() == "rag: error: no indexed document matches 'nosuch.txt'"
    r = run(["figures", "--doc", "2014", "--kind", "percent"], policy_env)  # a file-name prefix
    assert r.returncode == 0 and "7.5%左右" in r.stdout


def test_figures_filter_by_metric_period_stance_and_print_as_written(policy_env):
    r = run(["figures", "--metric", "国内生产总值", "--year", "2014", "--stance", "target",
             "--doc", "2014-政府工作报告.txt", "--json"], policy_env)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert "7.5%左右" in [x["text"] for x in rows]
    assert all(x["stance"] == "target" and "国内生产总值" in x["metric"] for x in rows)
    assert all(x["period_start"] <= "2014" <= x["period_end"] for x in rows)
    r = run(["figures", "--metric", "国内生产总值", "--doc", "2014-政府工作报告.txt", "--sort", "value",
             "--desc"], policy_env)
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["figure", "metric"] and "56.9万亿元" in r.stdout
    assert "e+" not in r.stdout  # values as written, not 5.69e+13
    # columns line up by display width (a CJK character takes two columns)
    from rag.cli import _width
    starts = {_width(line[:line.index("2014-政府")]) for line in lines[1:-1] if "2014-政府" in line}
    assert len(starts) == 1


def test_remove_is_explicit(policy_env, tmp_path: Path):
    e = dict(policy_env)
    idx = tmp_path / "index"
    shutil.copytree(policy_env["RAG_INDEX_DIR"], idx)
    e["RAG_INDEX_DIR"] = str(idx)
    r = run(["remove", "2013-政府工作报告.txt", "--json"], e)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["removed"] == ["2013-政府工作报告.txt"]
    r = run(["info", "--json"], e)
    assert json.loads(r.stdout)["documents"] == 2


@pytest.mark.parametrize(("value", "message"), [
    ("1.5", "setting RAG_MIN_CONFIDENCE: Input should be less than or equal to 1"),
    ("abc", "setting RAG_MIN_CONFIDENCE: Input should be a valid number"),
])
def test_a_bad_setting_is_named_in_one_line(env, value: str, message: str):
    r = run(["info"], {**env, "RAG_MIN_CONFIDENCE": value})
    assert r.returncode == 2 and r.stderr.startswith(f"rag: error: {message}"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_explain_never_calls_a_ruled_out_candidate_chosen(policy_env):
    # 2014's review states 2013's result (7.7%), which a target question rules out by its
    # stance; it may outscore the target, and is listed, but the answer is the target
    env = {**policy_env, "RAG_MIN_CONFIDENCE": "0"}
    r = run(["ask", "--explain", "2013年国内生产总值增长的预期目标是多少？"], env)
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if x.startswith("  evidence ")]
    chosen = [x for x in lines if x.startswith("  evidence chosen: ")]
    assert len(chosen) == 1 and "7.5%左右" in chosen[0]
    assert r.stdout.startswith("7.5%左右")
    ruled_out = [x for x in lines if "ruled out by" in x]
    assert all("chosen" not in x for x in ruled_out)
