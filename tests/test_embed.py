"""rag.embed and rag.embed_openvino: the OpenVINO backend gives torch's vectors (on real Chinese
text from the corpora), converts once and reuses the cached IR, detects a corrupt IR and converts
it again, falls back to torch with one warning line; and commands that need no model start
without importing torch."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.embed import SentenceTransformerEmbedder, load_embedder
from rag.errors import ModelError

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO.parent / "shared" / "corpus-policy"
SEED_PAGE = REPO / "corpus" / "cen-page-robot-funds.txt"
HEAVY = ("torch", "transformers", "sentence_transformers", "openvino")


def _corpus_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` real passages: paragraphs of the policy reports and the seed page, most cut to
    300 characters (about a chunk), every 20th kept whole (some pass the 512-token limit)."""
    paras: list[str] = []
    for f in [SEED_PAGE, *sorted(POLICY.glob("*.txt"))]:
        paras += [p.strip() for p in f.read_text(encoding="utf-8").splitlines() if len(p.strip()) >= 20]
    rng = random.Random(seed)
    picked = rng.sample(paras, n)
    return [p if i % 20 == 0 else p[:300] for i, p in enumerate(picked)]


@pytest.fixture(scope="module")
def ov_embedder(model_path: Path, model_cache: Path) -> Any:
    from rag.embed_openvino import OpenVINOEmbedder

    return OpenVINOEmbedder(str(model_path), cache_dir=model_cache, threads=1)


@pytest.mark.slow
@pytest.mark.skipif(not POLICY.is_dir(), reason="needs the policy reports in ../shared")
def test_openvino_vectors_match_torch_on_real_chinese_text(
    ov_embedder: Any, embedder: SentenceTransformerEmbedder
) -> None:
    passages = _corpus_texts(110)
    queries = [json.loads(line)["question"] for line in
               (REPO / "corpus" / "qa.jsonl").read_text(encoding="utf-8").splitlines()[:30]]
    assert sum(any("\u4e00" <= c <= "\u9fff" for c in t) for t in passages) >= 100
    for got, want in ((ov_embedder.encode_passages(passages), embedder.encode_passages(passages)),
                      (ov_embedder.encode_queries(queries), embedder.encode_queries(queries))):
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        cos = (got * want).sum(axis=1)
        assert cos.min() >= 0.999, f"lowest cosine {cos.min():.6f} at {int(cos.argmin())}"
    assert ov_embedder.fingerprint == embedder.fingerprint  # so indexes are interchangeable
    assert ov_embedder.dim == embedder.dim


@pytest.fixture(scope="module")
def fresh_cache(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A cache folder holding one conversion made by this test module, and its IR folder."""
    from rag.embed_openvino import OpenVINOEmbedder

    cache = tmp_path_factory.mktemp("ov-cache")
    first = OpenVINOEmbedder(str(model_path), cache_dir=cache, threads=1)
    assert first.converted
    return cache, first.ir_dir


@pytest.mark.slow
def test_conversion_happens_once_and_is_reused(model_path: Path, fresh_cache: tuple[Path, Path]) -> None:
    from rag.embed_openvino import IR_MARKER, OpenVINOEmbedder

    cache, ir = fresh_cache
    files = {p.name: p.stat().st_mtime_ns for p in ir.iterdir()}
    assert {"model.xml", "model.bin", IR_MARKER} <= set(files)
    first = OpenVINOEmbedder(str(model_path), cache_dir=cache, threads=1)
    second = OpenVINOEmbedder(str(model_path), cache_dir=cache, threads=1)
    assert not first.converted and not second.converted
    assert first.ir_dir == second.ir_dir == ir
    assert {p.name: p.stat().st_mtime_ns for p in ir.iterdir()} == files
    text = ["全年粮食产量６９５４１万吨，比上年增加８８８万吨。"]
    np.testing.assert_array_equal(first.encode_passages(text), second.encode_passages(text))


def _damage(ir: Path, how: str) -> None:
    from rag.embed_openvino import IR_MARKER

    binary = ir / "model.bin"
    size = binary.stat().st_size
    if how == "truncated-bin":
        with binary.open("r+b") as fh:
            fh.truncate(size // 2)
    elif how == "zeroed-bin":  # same size: only the probe encoded at load can notice
        with binary.open("r+b") as fh:
            fh.seek(size - size // 4)
            fh.write(b"\0" * (size // 4))
    elif how == "no-marker":
        (ir / IR_MARKER).unlink()
    else:
        xml = ir / "model.xml"
        xml.write_bytes(b"<net>" + b"x" * (xml.stat().st_size - 5))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncated-bin", "garbage-xml", "no-marker"])
def test_damaged_cache_is_not_trusted(fresh_cache: tuple[Path, Path], tmp_path: Path, how: str) -> None:
    """Damage that the files' sizes, hashes and marker show is caught before loading."""
    from rag.embed_openvino import is_complete

    copy = tmp_path / fresh_cache[1].name
    shutil.copytree(fresh_cache[1], copy)
    assert is_complete(copy)
    _damage(copy, how)
    assert not is_complete(copy)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["zeroed-bin"])  # the others: the test above and prepare_ir
def test_corrupt_cached_conversion_is_detected_and_redone(
    model_path: Path, fresh_cache: tuple[Path, Path], tmp_path: Path,
    embedder: SentenceTransformerEmbedder, how: str
) -> None:
    from rag.embed_openvino import OpenVINOEmbedder, is_complete

    cache = tmp_path / "cache"
    shutil.copytree(fresh_cache[0], cache)
    ir = cache / fresh_cache[1].relative_to(fresh_cache[0])
    _damage(ir, how)
    assert is_complete(ir) == (how == "zeroed-bin")  # that one only the probe finds
    again = OpenVINOEmbedder(str(model_path), cache_dir=cache, threads=1)
    assert again.converted and again.ir_dir == ir and is_complete(ir)
    text = ["城镇新增就业1200万人以上，城镇调查失业率5.5%左右。"]
    cos = float((again.encode_passages(text) * embedder.encode_passages(text)).sum())
    assert cos >= 0.999


@pytest.mark.slow
def test_unsupported_model_falls_back_to_torch_with_one_warning(
    model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder OpenVINO's path does not handle (CLS pooling here) runs on torch instead."""
    copy = tmp_path / "cls-model"
    copy.mkdir()
    for item in model_path.iterdir():
        if item.name != "1_Pooling":
            (copy / item.name).symlink_to(item)
    (copy / "1_Pooling").mkdir()
    pooling = json.loads((model_path / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    (copy / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "pooling_mode": "cls"}))
    with caplog.at_level(logging.WARNING, logger="rag"):
        emb = load_embedder(str(copy), backend="openvino", cache_dir=tmp_path / "cache", threads=1)
    assert isinstance(emb, SentenceTransformerEmbedder)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "OpenVINO" in warnings[0] and "using torch" in warnings[0] and "mean pooling" in warnings[0]
    assert not (tmp_path / "cache").exists()  # nothing was converted


def test_unknown_backend_is_rejected(tmp_path: Path) -> None:
    from rag.config import EngineConfig

    with pytest.raises(ModelError, match="embed backend"):
        load_embedder(str(tmp_path), backend="cuda", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="embed_backend"):
        EngineConfig(index_dir=tmp_path, embed_backend="cuda")
    with pytest.raises(ValueError, match="embed_threads"):
        EngineConfig(index_dir=tmp_path, embed_threads=0)


def test_bad_backend_setting_is_one_line_cli_error(tmp_path: Path) -> None:
    env = {**os.environ, "RAG_EMBED_BACKEND": "cuda", "RAG_MODEL_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "rag.cli", "--index-dir", str(tmp_path), "info"],
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "embed_backend" in out.stderr, out.stderr


_PROBE = """
import contextlib, io, json, sys
import rag.cli
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    try:
        rc = rag.cli.main(sys.argv[1:])
    except SystemExit as exc:
        rc = exc.code
print(json.dumps({"rc": rc, "out": buf.getvalue()[-300:],
                  "heavy": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["--help"], ["info"], ["info", "--json"],
                                  ["figures", "--year", "2023"], ["figures", "--json"]])
def test_commands_that_need_no_model_do_not_import_torch(
    corpus_engine: Any, argv: list[str]
) -> None:
    """``rag info``, ``rag figures`` and ``rag --help`` on a real index: no torch,
    transformers, sentence-transformers or OpenVINO in the process afterwards."""
    index = corpus_engine.config.index_dir
    env = {**os.environ, "RAG_THREADS": "1", "RAG_MODEL_CACHE": str(corpus_engine.config.model_cache)}
    args = argv if argv == ["--help"] else ["--index-dir", str(index), *argv]
    out = subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, (result, out.stderr)
    assert result["out"].strip()  # it printed something: the command really ran
    assert result["heavy"] == [], f"{argv} imported {result['heavy']}"


@pytest.mark.slow
def test_search_imports_the_model_so_the_probe_can_see_it(corpus_engine: Any) -> None:
    """The probe above would pass vacuously if it could not see imports: a command that
    needs the model must show them (OpenVINO, and no torch: only a conversion needs it)."""
    index = corpus_engine.config.index_dir
    env = {**os.environ, "RAG_THREADS": "1", "RAG_MODEL_CACHE": str(corpus_engine.config.model_cache)}
    out = subprocess.run([sys.executable, "-c", _PROBE, "--index-dir", str(index), "search", "机器人基金"],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, (result, out.stderr)
    assert "openvino" in result["heavy"]
    assert "torch" not in result["heavy"]  # the default backend runs without torch at all


def test_ir_folder_is_keyed_by_model_and_openvino_version(tmp_path: Path) -> None:
    from rag.embed_openvino import ir_dir

    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    a = ir_dir(model, tmp_path / "cache")
    (model / "config.json").write_text('{"changed": 1}')
    b = ir_dir(model, tmp_path / "cache")
    assert a != b and a.parent == b.parent == tmp_path / "cache" / "openvino"
    assert "-ov" in a.name
    shutil.rmtree(model)
