"""Hybrid retrieval: the fitted score fusion (rag.fusion) against its own single modes on a
real DRCD sample (held-out half, real model), its features on the real corpus index, and
the model file's validation."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from rag import fusion
from rag.config import RetrievalConfig
from rag.errors import ConfigError
from rag.qasets import external_split, load_external
from rag.retrieve import Filters, fusion_candidates
from rag.retrieve import search as retrieve
from rag.text import normalize

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
DRCD = (EVAL / "qa_drcd_simplified.jsonl", EVAL / "passages_drcd_simplified.jsonl")


def _mrr(ranks: list[int | None]) -> float:
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks)


@pytest.fixture(scope="module")
def drcd_sample(tmp_path_factory, embedder):
    """120 DRCD passages indexed as records (real model) and their held-out questions."""
    from rag.evaluate import index_passages

    if not DRCD[0].is_file():
        pytest.skip("the DRCD files are not here")
    items, passages = load_external(*DRCD)
    pids = sorted(passages)[:120]
    keep = set(pids)
    questions = [it for it in items if it.passage_id in keep and external_split(it.id) == "test"]
    snap = index_passages(tmp_path_factory.mktemp("drcd"), [passages[p] for p in pids], embedder)
    return snap, questions[::2]


@pytest.mark.slow
def test_score_fusion_beats_either_mode_on_held_out_drcd(drcd_sample, embedder):
    snap, questions = drcd_sample
    assert len(questions) >= 80
    ranks: dict[str, list[int | None]] = {"hybrid": [], "bm25": [], "dense": [], "rrf": []}
    cfg = RetrievalConfig()
    assert cfg.fusion == "score"
    for it in questions:
        for mode in ranks:
            c = replace(cfg, fusion="rrf") if mode == "rrf" else cfg
            hits = retrieve(snap, embedder, it.question, k=10, cfg=c,
                            mode="hybrid" if mode == "rrf" else mode)
            ranks[mode].append(next((h.rank for h in hits
                                     if h.passage.passage_id == it.passage_id), None))
    mrr = {m: _mrr(r) for m, r in ranks.items()}
    assert mrr["hybrid"] >= max(mrr["bm25"], mrr["dense"]), mrr
    assert mrr["hybrid"] >= mrr["rrf"], mrr
    assert mrr["hybrid"] >= 0.9, mrr


def test_features_on_the_corpus_index(corpus_engine, embedder):
    """Each candidate's features are what they say: BM25 normalised to the best passage,
    the cosine gap 0 at the best dense passage, ranks in (0, 1), coverage a share."""
    from rag.retrieve import dense_ranking

    snap = corpus_engine.snapshot()
    query = "地方政府产业基金的规模在什么范围内？"
    qvec = embedder.encode_queries([normalize(query)])[0]
    dense = dense_ranking(snap, qvec, 100)
    c = fusion_candidates(snap, query, qvec, dense, depth=10, figure_depth=5, prf_depth=3,
                          prf_size=10)
    f = {name: c.features[:, j] for j, name in enumerate(fusion.FEATURES)}
    assert len(c.rows) == len(set(c.rows)) >= 10
    assert f["bm25"].max() == pytest.approx(1.0) and f["bm25"].min() >= 0
    assert f["cosine_gap"].max() == pytest.approx(0.0, abs=1e-5) and f["cosine_gap"].max() <= 1e-5
    for name in ("bm25_rank", "dense_rank", "coverage", "prf"):
        assert ((f[name] >= 0) & (f[name] <= 1)).all(), name
    assert c.query[3] == 1.0 and c.query[4] == 0.0  # asks for a figure, in Chinese
    assert f["figure"].max() > 0
    # a row's cosine is its stored vector's, whether or not the dense list had it
    vecs = snap.vectors(c.rows)
    best = max(s for _, s in dense)
    np.testing.assert_allclose(f["cosine_gap"], vecs @ qvec - best, atol=1e-4)


def test_score_fusion_honours_filters_and_k(corpus_engine):
    snap = corpus_engine.snapshot()
    title = snap.passages[-1].title
    hits = corpus_engine.search("人形机器人产业基金", k=5, filters=Filters(title=title))
    assert hits and all(title in h.passage.title for h in hits)
    many = corpus_engine.search("人形机器人产业基金", k=40)
    assert len(many) == min(40, len(snap.passages))
    assert [h.rank for h in many] == list(range(1, len(many) + 1))
    assert all(a.scores.fused >= b.scores.fused for a, b in pairwise(many))


def test_the_shipped_model_loads_and_a_bad_one_is_a_config_error(tmp_path):
    m = fusion.load_model()
    assert m.features and set(m.features) <= set(fusion.FEATURES)
    assert fusion.FusionModel.from_dict(m.to_dict()) == m
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({**m.to_dict(), "features": ["bm25", "clicks"]}), encoding="utf-8")
    with pytest.raises(ConfigError, match="clicks"):
        fusion.load_model(bad)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError):
        fusion.load_model(bad)


def test_latin_share_tells_an_english_question():
    assert fusion.latin_share("How many 5G base stations will Shandong have?") == 1.0
    assert fusion.latin_share("山东5G基站有多少个？") == pytest.approx(1 / 9)
    assert fusion.latin_share("？") == 0.0


def test_fusion_must_be_known():
    with pytest.raises(ValueError, match="fusion"):
        RetrievalConfig(fusion="max")


def test_char_bigrams_are_chinese_pairs_without_question_words():
    grams = fusion.char_bigrams("《战国无双３》是由哪两个公司开发的？这是什么")
    assert {"战国", "国无", "无双", "公司", "开发"} <= set(grams)
    assert len(grams) == len(set(grams))
    assert all(len(g) == 2 and all("\u4e00" <= ch <= "\u9fff" for ch in g) for g in grams)
    assert "什么" not in grams  # a question word (rag.text.QUERY_STOPWORDS)
    assert fusion.char_bigrams("How many? 2013") == []


def test_character_features_on_the_corpus_index(corpus_engine, embedder):
    """A question quoting a stretch of one passage: that passage holds the most of its
    bigrams and the longest verbatim stretch, every feature a share in [0, 1]."""
    from rag.retrieve import dense_ranking

    snap = corpus_engine.snapshot()
    source = max(range(len(snap.passages)), key=lambda i: len(snap.passages[i].text))
    text = normalize(snap.passages[source].text)
    run = max(fusion._HAN.findall(text), key=len)
    assert len(run) >= 16
    query = f"{run[2:14]}是指什么？"
    qvec = embedder.encode_queries([normalize(query)])[0]
    c = fusion_candidates(snap, query, qvec, dense_ranking(snap, qvec, 100), depth=20,
                          figure_depth=5, prf_depth=0, prf_size=0)
    f = {name: c.features[:, fusion.FEATURES.index(name)] for name in fusion.CHAR_FEATURES}
    for name, v in f.items():
        assert ((v >= 0) & (v <= 1 + 1e-6)).all(), name
    j = c.rows.index(source)
    assert f["char_cover"][j] == f["char_cover"].max() > 0
    assert f["char_span"][j] == f["char_span"].max() == pytest.approx(12 / 16)  # 12 of 16 Chinese characters
    assert f["char_bm25"].max() == pytest.approx(1.0)
    assert f["char_window"][j] > 0
    none = fusion_candidates(snap, query, qvec, dense_ranking(snap, qvec, 100), depth=20,
                             figure_depth=5, prf_depth=0, prf_size=0, chars=())
    assert not none.features[:, [fusion.FEATURES.index(n) for n in fusion.CHAR_FEATURES]].any()


def test_shipped_character_weights_leave_figure_questions_alone(corpus_engine, embedder):
    """The character-bigram features are fitted for questions that ask no figure: zeroing
    them changes no score of a figure question, and does change a plain question's."""
    from rag.retrieve import dense_ranking

    model = fusion.load_model()
    chars = [n for n in fusion.CHAR_FEATURES if n in model.features]
    assert chars
    cols = [fusion.FEATURES.index(n) for n in chars]
    snap = corpus_engine.snapshot()
    changed = {}
    for query in ("地方政府产业基金的规模在什么范围内？", "人形机器人产业基金由谁发起？"):
        qvec = embedder.encode_queries([normalize(query)])[0]
        c = fusion_candidates(snap, query, qvec, dense_ranking(snap, qvec, 100), depth=20,
                              figure_depth=5, prf_depth=0, prf_size=0)
        f = c.features.copy()
        f[:, cols] = 0
        zeroed = replace(c, features=f)
        changed[bool(c.query[3])] = not np.allclose(model.score(c), model.score(zeroed))
    assert changed == {True: False, False: True}


def test_traditional_text_is_matched_in_simplified():
    """The 1954 report is in traditional characters: 鋼的產量 must meet a question's 钢产量 in
    BM25 and in every other match (rag.text.normalize folds the script; originals are kept)."""
    from rag.text import normalize, query_tokens, tokenize

    text = "一九五四年鋼的預計產量是二百十七萬噸"
    assert normalize(text) == "一九五四年钢的预计产量是二百十七万吨"
    assert {"钢", "产量"} <= set(tokenize(text)) and "产量" in query_tokens("1954年钢产量是多少")


def test_period_first_puts_passages_with_figures_of_the_asked_year_first() -> None:
    """2013's growth stands in the 2014 review (一、2013年工作回顾); the 2013 report's
    过去五年 passages outrank it on words alone."""
    from rag import figstore
    from rag.chunk import ChunkConfig, chunk_document
    from rag.ingest import load
    from rag.retrieve import period_first
    from rag.types import Hit, Scores

    policy = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"
    hits = []
    for name in ("2013-政府工作报告.txt", "2014-政府工作报告.txt"):
        loaded = load(policy / name, source=name)
        passages = chunk_document(loaded.doc, ChunkConfig(), date=loaded.meta.date)
        lead = next(p for p in passages if "国内生产总值" in p.text)
        hits.append(Hit(lead, Scores(dense=None, bm25=None, fused=1.0), rank=len(hits) + 1,
                        figures=figstore.annotate(lead)))
    ordered = period_first(hits, ("2013",))
    assert [h.passage.source for h in ordered] == ["2014-政府工作报告.txt", "2013-政府工作报告.txt"]
    assert period_first(hits, ()) == hits


def test_a_document_named_by_year_and_title_is_found_or_missing():
    from rag.retrieve import named_documents
    from rag.types import DocumentInfo

    docs = [DocumentInfo(f"id{y}", f"{y}-政府工作报告.txt", "政府工作报告", "h", "c", 1, 1, date=y)
            for y in ("2013", "2014")] + [
        DocumentInfo("seed", "page.txt", "机器人产业基金汇总", "h", "c", 1, 1)]
    (n,) = named_documents("2013年的政府工作报告提出的增长目标是多少？", docs)
    assert [d.doc_id for d in n.matches] == ["id2013"]
    (n,) = named_documents("What did the 1990 government work report plan?", docs)
    assert n.matches == () and n.mention == "1990 government work report"
    # a year that names no document is a period, not a document
    assert named_documents("2013年国内生产总值增长多少？", docs) == []
    assert named_documents("2013年机器人产业投资多少？", docs) == []
