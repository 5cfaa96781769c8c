"""The persisted index and retrieval, with the real model on the real corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import index as store
from rag.engine import Engine
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing, NotFound
from rag.retrieve import Filters

from .conftest import CORPUS_FILE, make_config

pytestmark = pytest.mark.slow


def test_corpus_index_holds_every_article_and_section(corpus_engine):
    snap = corpus_engine.snapshot()
    titles = {p.title for p in snap.passages}
    assert len(titles) == 5
    sections = {p.section for p in snap.passages if p.section}
    assert len(sections) == 13
    m = snap.manifest
    assert m.dim == 384 and m.passages == len(snap.passages) and m.documents == 1
    assert m.files and all(len(meta["sha256"]) == 64 for meta in m.files.values())


def test_suzhou_section_ranks_first(corpus_engine):
    hits = corpus_engine.search("苏州吴中区机器人基金", k=5)
    assert hits[0].passage.section == "苏州市"
    s = hits[0].scores
    assert s.dense is not None and s.bm25 is not None and s.fused > 0


def test_english_question_finds_the_shandong_passage(corpus_engine):
    hits = corpus_engine.search("How many 5G base stations will Shandong have?", k=3)
    assert any("27万个" in h.passage.text for h in hits)


def test_section_heading_is_searchable(corpus_engine):
    hits = corpus_engine.search("成都", k=3)
    assert hits[0].passage.section == "成都市"


def test_figure_forms_match_each_other(corpus_engine):
    # 百亿元 in a query must reach passages that write 100亿元 (and the other way round)
    hits = corpus_engine.search("百亿元", k=8, mode="bm25")
    texts = " ".join(h.passage.text for h in hits)
    assert "100亿元" in texts and "百亿元" in texts


def test_modes_and_filters(corpus_engine):
    for mode in ("dense", "bm25", "hybrid"):
        hits = corpus_engine.search("北京机器人产业发展投资基金", k=3, mode=mode)
        assert hits[0].passage.section == "北京市", mode
    only_wuhan = corpus_engine.search("基金", k=5, filters=Filters(title="武汉打造"))
    assert only_wuhan and all(h.passage.title == "武汉打造国内一流" for h in only_wuhan)
    ranks = [h.rank for h in corpus_engine.search("机器人", k=7)]
    assert ranks == list(range(1, 8))
    fused = [h.scores.fused for h in corpus_engine.search("机器人", k=7)]
    assert fused == sorted(fused, reverse=True)


def test_incremental_reindex(tmp_path: Path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus / "page.txt")
    (corpus / "note.md").write_text("# 测试文档\n\n杭州设立了30亿元的低空经济基金。\n", encoding="utf-8")
    engine = Engine(make_config(tmp_path / "index", corpus), embedder=embedder)
    first = engine.index()
    assert first.changed and first.embedded == first.passages and first.documents == 2

    again = engine.index()
    assert not again.changed and again.embedded == 0 and again.version == first.version

    (corpus / "note.md").write_text("# 测试文档\n\n杭州设立了40亿元的低空经济基金。\n", encoding="utf-8")
    changed = engine.index()
    assert changed.updated == ["note.md"] and changed.embedded == 1
    assert changed.reused == first.passages - 1
    hits = engine.search("杭州低空经济基金", k=1)
    assert "40亿元" in hits[0].passage.text

    (corpus / "note.md").unlink()
    kept = engine.index()  # removing is explicit: a missing file alone removes nothing
    assert not kept.changed and kept.documents == 2 and kept.removed == []
    removed = engine.index(prune=True)
    assert removed.removed == ["note.md"] and removed.embedded == 0 and removed.documents == 1
    assert all(p.source == "page.txt" for p in engine.snapshot().passages)
    # ids come from content: the same corpus indexed elsewhere gives the same passage ids
    other = Engine(make_config(tmp_path / "other", corpus), embedder=embedder)
    other.index()
    assert [p.passage_id for p in other.snapshot().passages] == [
        p.passage_id for p in engine.snapshot().passages
    ]


def test_missing_corrupt_and_mismatched_index(tmp_path: Path, embedder):
    root = tmp_path / "index"
    cfg = make_config(root, None)
    engine = Engine(cfg, embedder=embedder)
    with pytest.raises(IndexMissing):
        engine.search("北京")
    Engine(make_config(root, CORPUS_FILE.parent), embedder=embedder).index()
    snap = store.load_snapshot(root)
    faiss_file = snap.root / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match=r"dense\.faiss"):
        Engine(cfg, embedder=embedder).search("北京")
    # a rebuild recovers from the damage
    report = Engine(make_config(root, CORPUS_FILE.parent), embedder=embedder).index()
    assert report.changed and report.rebuilt_from_scratch and "dense.faiss" in report.rebuilt_from_scratch
    assert Engine(cfg, embedder=embedder).search("北京", k=1)[0].passage.section == "北京市"


def test_model_mismatch_is_reported(tmp_path: Path, embedder):
    root = tmp_path / "index"
    Engine(make_config(root, CORPUS_FILE.parent), embedder=embedder).index()
    with pytest.raises(IndexMismatch, match="model"):
        store.load_snapshot(root, model_fingerprint="0000000000000000")
    with pytest.raises(IndexMismatch, match="384"):
        store.load_snapshot(root, dim=768)


def test_indexing_a_folder_keeps_every_other_document(tmp_path: Path, embedder):
    """`rag index FOLDER` adds or updates what FOLDER holds; documents from elsewhere (an
    upload, another folder) stay until removed explicitly."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "杭州.md").write_text("# 杭州\n\n杭州设立了30亿元的低空经济基金。\n", encoding="utf-8")
    (b / "宁波.md").write_text("# 宁波\n\n宁波设立了20亿元的海洋经济基金。\n", encoding="utf-8")
    engine = Engine(make_config(tmp_path / "index", None), embedder=embedder)
    engine.index([a])
    report = engine.index([b])
    assert report.added == ["宁波.md"] and report.documents == 2 and report.removed == []
    assert {d.source for d in engine.documents()} == {"杭州.md", "宁波.md"}
    with pytest.raises(NotFound, match="nope.md"):
        engine.remove(["nope.md"])
    assert engine.documents() and len(engine.documents()) == 2
    gone = engine.remove(["杭州.md"])
    assert gone.removed == ["杭州.md"] and [d.source for d in engine.documents()] == ["宁波.md"]
    assert all(h.passage.source == "宁波.md" for h in engine.search("低空经济基金", k=3))
