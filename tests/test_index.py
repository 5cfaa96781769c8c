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
    faiss_file = root / snap.manifest.segments[0]["name"] / "dense.faiss"
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
    with pytest.raises(NotFound, match=r"nope\.md"):
        engine.remove(["nope.md"])
    assert engine.documents() and len(engine.documents()) == 2
    gone = engine.remove(["杭州.md"])
    assert gone.removed == ["杭州.md"] and [d.source for d in engine.documents()] == ["宁波.md"]
    assert all(h.passage.source == "宁波.md" for h in engine.search("低空经济基金", k=3))


POLICY = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"


def test_bad_files_are_skipped_with_reasons_and_lose_nothing(tmp_path: Path, embedder):
    """A damaged PDF, a zero-byte file, a GBK file with an invalid byte, a 50 MB file and an
    unreadable entry: each is skipped with its reason, the rest is indexed, and a document
    that was indexed before and is damaged now keeps its indexed version."""
    folder = tmp_path / "docs"
    folder.mkdir()
    report_2014 = (POLICY / "2014-政府工作报告.txt").read_bytes()
    (folder / "2014-政府工作报告.txt").write_bytes(report_2014)
    (folder / "gbk.txt").write_bytes("一、2013年工作回顾\n\n国内生产总值达到56.9万亿元。\n".encode("gb18030"))
    engine = Engine(make_config(tmp_path / "index", None), embedder=embedder)
    first = engine.index([folder])
    assert first.documents == 2 and not first.skipped
    gbk_doc = next(d for d in engine.documents() if d.source == "gbk.txt")
    assert gbk_doc.encoding and gbk_doc.encoding.lower().replace("-", "") in ("gb18030", "gbk", "gb2312")

    (folder / "damaged.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    (folder / "zero.txt").write_bytes(b"")
    (folder / "gbk.txt").write_bytes("国内生产总值".encode("gb18030") + b"\x81\x20" + "增长".encode("gb18030"))
    with (folder / "huge.txt").open("wb") as f:  # 50 MB, sparse
        f.truncate(50 * 1024 * 1024)
    (folder / "gone.md").symlink_to(tmp_path / "nowhere.md")
    report = engine.index([folder])
    reasons = {s["source"]: s["reason"] for s in report.skipped}
    assert set(reasons) == {"damaged.pdf", "zero.txt", "gbk.txt", "huge.txt", "gone.md"}, reasons
    assert "damaged" in reasons["damaged.pdf"].lower() or "pdf" in reasons["damaged.pdf"].lower()
    assert "empty" in reasons["zero.txt"]
    assert "byte" in reasons["gbk.txt"]
    assert "too large" in reasons["huge.txt"]
    assert "cannot read" in reasons["gone.md"]
    # nothing indexed was lost: the damaged GBK file keeps its earlier version
    assert {d.source for d in engine.documents()} == {"2014-政府工作报告.txt", "gbk.txt"}
    assert engine.search("国内生产总值达到56.9万亿元", k=1, filters=None)[0].passage.text
    with_prune = engine.index([folder], prune=True)
    assert {d.source for d in engine.documents()} == {"2014-政府工作报告.txt", "gbk.txt"}
    assert with_prune.removed == []


def test_the_figure_store_is_persisted_and_versioned(tmp_path: Path, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "2014-政府工作报告.txt").write_bytes((POLICY / "2014-政府工作报告.txt").read_bytes())
    engine = Engine(make_config(tmp_path / "index", None), embedder=embedder)
    report = engine.index([folder])
    snap = store.load_snapshot(tmp_path / "index")
    # counted as `rag figures` lists them: a sentence that two overlapping chunks share
    # holds its figures once
    assert snap.manifest.figures == report.figures == len(engine.figures()) > 100
    assert report.figures < sum(len(f) for f in snap.figures)
    (doc,) = snap.documents
    assert doc.figures == report.figures and doc.date == "2014" and doc.date_source == "file-name"
    p = next(p for p in snap.passages if "预期目标" in p.text and "7.5%左右" in p.text)
    assert p.headings[0] == "二、2014年工作总体部署" and p.date == "2014"
    row = snap.passages.index(p)
    target = next(f for f in snap.figures[row] if f.text == "7.5%左右")
    assert (target.period_start, target.stance) == ("2014", "target")
    # the passage header (title, heading path, date) is part of what BM25 indexes
    assert "2014" in snap.tokens[row] and {"总体", "部署"} <= set(snap.tokens[row])


def test_pdf_docx_and_gbk_twins_index_like_the_txt(tmp_path: Path, embedder):
    """The same paragraphs of the 2014 report as .txt, GB18030 .txt, .docx (heading style)
    and .pdf: each goes through indexing and comes out with the same passages (text and
    heading path) as the UTF-8 text."""
    from .test_formats import HEADING, _docx, _pdf, _report_paragraphs

    paras = _report_paragraphs()
    text = "\n\n".join(paras) + "\n"
    files = {
        "utf8": ("2014-报告.txt", text.encode("utf-8")),
        "gbk": ("2014-报告.txt", text.encode("gb18030")),
        "docx": ("2014-报告.docx", _docx(paras, heading=HEADING)),
        "pdf": ("2014-报告.pdf", _pdf(paras, indent=False)),
    }
    out: dict[str, list[tuple[str, tuple[str, ...], str | None]]] = {}
    for kind, (name, raw) in files.items():
        folder = tmp_path / kind
        folder.mkdir()
        (folder / name).write_bytes(raw)
        engine = Engine(make_config(tmp_path / f"index-{kind}", None), embedder=embedder)
        report = engine.index([folder])
        assert report.documents == 1 and not report.skipped, (kind, report.skipped)
        out[kind] = [(p.text, p.headings, p.date) for p in engine.snapshot().passages]
    assert out["utf8"] and any(h == (HEADING,) for _, h, _ in out["utf8"])
    for kind in ("gbk", "docx", "pdf"):
        assert out[kind] == out["utf8"], kind


def test_progress_reports_each_stage_in_order(tmp_path: Path, embedder):
    """The progress callback (which `rag index` and the server's jobs show) sees parsing and
    chunking over files, encoding over chunks up to the number embedded, then writing; a run
    that changes nothing only parses."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus / "page.txt")
    (corpus / "note.md").write_text("# 测试文档\n\n杭州设立了30亿元的低空经济基金。\n", encoding="utf-8")
    engine = Engine(make_config(tmp_path / "index", corpus), embedder=embedder)
    calls: list[tuple[str, int, int]] = []
    report = engine.index(progress=lambda stage, done, total: calls.append((stage, done, total)))
    stages = [c[0] for c in calls]
    assert stages == sorted(stages, key=["parsing", "chunking", "encoding", "writing"].index)
    assert [c for c in calls if c[0] == "parsing"][-1] == ("parsing", 2, 2)
    assert [c for c in calls if c[0] == "chunking"][-1] == ("chunking", 2, 2)
    encoding = [c[1:] for c in calls if c[0] == "encoding"]
    assert encoding[0] == (0, report.embedded) and encoding[-1] == (report.embedded, report.embedded)
    assert [d for d, _ in encoding] == sorted(d for d, _ in encoding)
    assert calls[-1] == ("writing", 1, 1)

    calls.clear()
    assert not engine.index(progress=lambda *c: calls.append(c)).changed
    assert {c[0] for c in calls} == {"parsing"}


# --------------------------------------------------------------------------- segments

SEGMENT_REPORTS = ["2012-政府工作报告.txt", "2013-政府工作报告.txt", "2014-政府工作报告.txt"]
SEGMENT_QUERIES = ["国内生产总值增长", "财政赤字 亿元", "城镇新增就业 万人", "粮食产量 万吨",
                   "居民消费价格涨幅", "成都 机器人 产业基金"]


def _hash_engine(root: Path, corpus: Path | None = None) -> Engine:
    from .test_reliability_index import HashEmbedder

    return Engine(make_config(root, corpus), embedder=HashEmbedder())


def _segmented_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(CORPUS_FILE, folder / "page.txt")
    for name in SEGMENT_REPORTS:
        shutil.copy(POLICY / name, folder / name)
    return folder


def test_segments_give_the_scores_of_one_index_over_the_live_passages(tmp_path: Path, monkeypatch):
    """An index grown document by document (one segment each), with a replaced document and
    a removed one (tombstones), ranks exactly as one index built at once over the same live
    passages: same rows, bit-identical BM25 scores (equal to bm25s over those passages, so
    IDF and average length are over live rows only), same dense and hybrid results; and it
    still does after compaction into one segment."""
    import bm25s
    import numpy as np

    from rag import segments
    from rag.retrieve import bm25_query

    monkeypatch.setattr(segments, "MAX_SEGMENTS", 100)
    folder = _segmented_corpus(tmp_path)
    grown = _hash_engine(tmp_path / "grown")
    first = [folder / n for n in ("page.txt", *SEGMENT_REPORTS[:2])]
    assert sorted(grown.index(first).added) == sorted(f.name for f in first)
    assert grown.index([folder / SEGMENT_REPORTS[2]]).added == [SEGMENT_REPORTS[2]]
    changed = folder / SEGMENT_REPORTS[0]
    changed.write_text(changed.read_text(encoding="utf-8").replace("国内生产总值", "GDP", 3),
                       encoding="utf-8")
    assert grown.index([changed]).updated == [changed.name]
    assert grown.remove([SEGMENT_REPORTS[1]]).removed == [SEGMENT_REPORTS[1]]
    (folder / SEGMENT_REPORTS[1]).unlink()
    snap = grown.snapshot()
    # the first segment keeps page.txt alive; its other rows are tombstones
    assert len(snap.manifest.segments) == 3 and snap.manifest.dead > 100

    once = _hash_engine(tmp_path / "once")
    once.index([folder])
    ref = once.snapshot()
    assert len(ref.manifest.segments) == 1 and ref.manifest.dead == 0
    assert [p.passage_id for p in snap.passages] == [p.passage_id for p in ref.passages]
    assert snap.tokens == ref.tokens and snap.documents == ref.documents
    plain = bm25s.BM25(k1=1.2, b=0.75)
    plain.index(ref.tokens, show_progress=False)
    for q in SEGMENT_QUERIES:
        terms = bm25_query(q)
        scores = snap.bm25.get_scores(terms)
        assert scores.max() > 0, q
        assert np.array_equal(scores, ref.bm25.get_scores(terms)), q
        assert np.array_equal(scores, np.asarray(plain.get_scores(terms), dtype=np.float32)), q
        for mode in ("dense", "bm25", "hybrid"):
            a = [(h.passage.passage_id, h.scores) for h in grown.search(q, k=10, mode=mode)]
            assert a == [(h.passage.passage_id, h.scores) for h in once.search(q, k=10, mode=mode)]

    report = grown.compact()
    assert report.compacted and report.segments == 1
    compacted = grown.snapshot()
    assert compacted.manifest.dead == 0 and len(compacted.manifest.segments) == 1
    assert [p.passage_id for p in compacted.passages] == [p.passage_id for p in ref.passages]
    for q in SEGMENT_QUERIES:
        terms = bm25_query(q)
        assert np.array_equal(compacted.bm25.get_scores(terms), ref.bm25.get_scores(terms))
    assert not grown.index([folder]).changed  # compaction kept every document as it was


def test_adding_a_document_writes_only_its_own_segment(tmp_path: Path):
    """Adding or removing a document leaves every existing segment as it is (same folder,
    same bytes): the new segment holds only the new document's passages; a removal writes no
    segment at all; enough dead rows make the next write compact."""
    folder = _segmented_corpus(tmp_path)
    root = tmp_path / "index"
    engine = _hash_engine(root)
    engine.index([folder / "page.txt", folder / SEGMENT_REPORTS[0], folder / SEGMENT_REPORTS[2]])

    def listing() -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes()
                for p in sorted(root.glob("seg-*/**/*")) if p.is_file()}

    before = listing()
    report = engine.index([folder / SEGMENT_REPORTS[1]])
    assert report.embedded == report.passages - report.reused and report.segments == 2
    after = listing()
    assert {k: v for k, v in after.items() if k in before} == before
    new = {k.split("/")[0] for k in after} - {k.split("/")[0] for k in before}
    (seg,) = new
    rows = (root / seg / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == report.embedded and all(SEGMENT_REPORTS[1] in r for r in rows)

    for name in ("page.txt", SEGMENT_REPORTS[2]):
        gone = engine.remove([name])
        assert gone.embedded == 0 and gone.segments == 2 and not gone.compacted
        assert listing() == after
    # Only the 2012 report is left alive in the first segment, and the 2013 one goes: dead
    # rows now outnumber live ones, so this write compacts.
    last = engine.remove([SEGMENT_REPORTS[1]])
    assert last.compacted and last.segments == 1
    snap = engine.snapshot()
    assert snap.manifest.dead == 0 and {p.source for p in snap.passages} == {SEGMENT_REPORTS[0]}


def test_chunking_in_worker_processes_indexes_as_in_process(tmp_path: Path, monkeypatch):
    """With several documents, chunking, tokens and figures run in worker processes while
    this process encodes: the index is the same as one made in process, and progress still
    ends at every document chunked and every chunk encoded."""
    import numpy as np

    from rag import engine as engine_module

    folder = _segmented_corpus(tmp_path)
    monkeypatch.setattr(engine_module, "PARALLEL_MIN_DOCS", 10**9)
    serial = _hash_engine(tmp_path / "serial")
    serial.index([folder])
    monkeypatch.setattr(engine_module, "PARALLEL_MIN_DOCS", 2)
    monkeypatch.setattr(engine_module, "_workers", lambda: 2)
    workers = _hash_engine(tmp_path / "workers")
    calls: list[tuple[str, int, int]] = []
    report = workers.index([folder], progress=lambda *c: calls.append(c))
    a, b = serial.snapshot(), workers.snapshot()
    assert [p.to_dict() for p in a.passages] == [p.to_dict() for p in b.passages]
    assert a.tokens == b.tokens and a.figures == b.figures and a.documents == b.documents
    rows = list(range(len(a.passages)))
    assert np.array_equal(a.vectors(rows), b.vectors(rows))
    assert [c for c in calls if c[0] == "chunking"][-1] == ("chunking", 4, 4)
    assert [c for c in calls if c[0] == "encoding"][-1] == ("encoding", report.embedded,
                                                            report.embedded)
