from __future__ import annotations

import re

import pytest

from rag.chunk import ChunkConfig, chunk_document
from rag.ingest import load_document, parse_text

from .conftest import CORPUS_FILE

NUMBER = re.compile(r"\d+(?:\.\d+)?(?:%|万|亿)?")


@pytest.fixture(scope="module")
def doc():
    return load_document(CORPUS_FILE)


@pytest.mark.parametrize("size,overlap", [(240, 60), (120, 30), (60, 0), (500, 100)])
def test_chunks_respect_size_and_cover_every_sentence(doc, size, overlap):
    passages = chunk_document(doc, ChunkConfig(size=size, overlap=overlap))
    assert passages
    assert all(0 < len(p.text) <= size + 1 for p in passages)  # +1: a paragraph newline
    joined = "".join(p.text.replace("\n", "") for p in passages)
    for a in doc.articles:
        for s in a.sections:
            for para in s.paragraphs:
                for sentence in re.split(r"(?<=[。！？；;])", para.text):
                    if sentence and len(sentence) <= size:
                        assert sentence in joined


def test_numbers_are_never_cut(doc):
    whole = {m.group() for a in doc.articles for s in a.sections for p in s.paragraphs
             for m in NUMBER.finditer(p.text)}
    for size in (40, 60, 120):
        passages = chunk_document(doc, ChunkConfig(size=size, overlap=0))
        for p in passages:
            for edge in (p.text[:8], p.text[-8:]):
                for m in NUMBER.finditer(edge):
                    # a number at a chunk edge must be a number of the source, not a fragment
                    if m.start() == 0 or m.end() == len(edge):
                        assert any(m.group() in w for w in whole)
        assert any("27万个" in p.text for p in passages)
        assert any("1.25以下" in p.text for p in passages)


def test_chunks_end_on_sentence_boundaries(doc):
    for p in chunk_document(doc, ChunkConfig(size=240, overlap=60)):
        if p.kind in ("caption", "byline"):
            continue
        assert p.text[-1] in "。！？；;”)）" or doc.text[p.end:p.end + 1] in ("\n", "") or \
            p.end == len(doc.text.rstrip())


def test_spans_map_back_to_the_source(doc):
    for p in chunk_document(doc, ChunkConfig()):
        first = p.text.lstrip()[0]
        assert doc.text[p.start] == first
        assert doc.text[p.end - 1] == p.text.rstrip()[-1]
        # every character of the passage appears in order in the source span
        src = doc.text[p.start:p.end]
        pos = 0
        for ch in p.text.replace("\n", ""):
            pos = src.index(ch, pos) + 1


def test_sections_and_headings_travel_with_passages(doc):
    passages = chunk_document(doc, ChunkConfig())
    chengdu = [p for p in passages if p.section == "成都市"]
    assert chengdu and all("成都市" in p.header() for p in chengdu)
    assert all(p.title == "地方政府产业基金瞄准人形机器人" for p in chengdu)
    shandong = [p for p in passages if p.title == "山东实施“三新”工程"]
    assert any("27万个" in p.text for p in shandong)
    assert not any("具身智\n" in p.text or "设立\n" in p.text for p in passages)


def test_ids_are_stable_and_unique(doc):
    a = chunk_document(doc, ChunkConfig())
    b = chunk_document(load_document(CORPUS_FILE), ChunkConfig())
    assert [p.passage_id for p in a] == [p.passage_id for p in b]
    assert len({p.passage_id for p in a}) == len(a)


def test_a_sentence_longer_than_the_limit_is_cut_between_clauses():
    text = "# 标题\n\n" + "，".join(f"第{i}项资金为{i * 100}万元" for i in range(1, 40)) + "。\n"
    doc = parse_text(text, source="t.md", content_hash="1" * 64)
    passages = chunk_document(doc, ChunkConfig(size=50, overlap=0))
    assert len(passages) > 5
    for p in passages:
        assert len(p.text) <= 50
        assert re.search(r"\d$", p.text) is None or p.text.endswith("万元") is False


def test_invalid_config_is_rejected():
    with pytest.raises(ValueError):
        ChunkConfig(size=10)
    with pytest.raises(ValueError):
        ChunkConfig(size=100, overlap=100)
