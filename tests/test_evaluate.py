"""Evaluation: metric functions on hand-made rankings, the project QA set's validity against
the corpus, answer scoring, and real `rag eval` runs (library and CLI) with the real model."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag import evalreport, metrics, qasets
from rag import evaluate as ev
from rag.chunk import ChunkConfig, chunk_document
from rag.errors import RagError
from rag.ingest import load_document

from .conftest import CORPUS, CORPUS_FILE, make_config

QA_FILE = CORPUS / "qa.jsonl"
SECTIONS = ["北京市", "上海市", "深圳市", "苏州市", "成都市", "南京市", "绍兴市", "武汉市",
            "河北省", "唐山市", "赣州市", "合肥市", "重庆市"]


# --------------------------------------------------------------------------- metrics


def test_recall_is_a_hit_rate():
    rel = [False, False, True, True, False]
    assert metrics.recall_at_k(rel, 1) == 0.0
    assert metrics.recall_at_k(rel, 2) == 0.0
    assert metrics.recall_at_k(rel, 3) == 1.0
    assert metrics.recall_at_k(rel, 10) == 1.0
    assert metrics.recall_at_k([], 5) == 0.0


def test_mrr_uses_the_first_relevant_rank_within_the_cut_off():
    assert metrics.mrr_at_k([True, True]) == 1.0
    assert metrics.mrr_at_k([False, False, False, True]) == 0.25
    assert metrics.mrr_at_k([False] * 10 + [True]) == 0.0  # rank 11 is beyond @10
    assert metrics.mrr_at_k([False, True], k=1) == 0.0


def test_ndcg_exact_values():
    # relevant at ranks 2 and 4, two relevant passages in the index
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert metrics.ndcg_at_k([False, True, False, True], 10, 2) == pytest.approx(dcg / idcg)
    # only one of three relevant passages retrieved, at rank 1
    assert metrics.ndcg_at_k([True, False], 10, 3) == pytest.approx(1 / (1 + 1 / math.log2(3)
                                                                    + 1 / math.log2(4)))
    assert metrics.ndcg_at_k([True], 10, 1) == 1.0
    assert metrics.ndcg_at_k([False, False], 10, 1) == 0.0
    # the ideal ranking is capped at k
    assert metrics.ndcg_at_k([True, True], 2, 5) == 1.0


def test_retrieval_metrics_average_over_questions():
    rankings = [([True, False, False], 1), ([False, False, True], 1), ([False] * 10, 1),
                ([False, True], 2)]
    m = metrics.retrieval_metrics(rankings, ks=(1, 3))
    assert m["recall@1"] == 0.25
    assert m["recall@3"] == 0.75
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    expected = (1 + 1 / math.log2(4) + 0 + (1 / math.log2(3)) / (1 + 1 / math.log2(3))) / 4
    assert m["ndcg@10"] == pytest.approx(expected)
    assert metrics.retrieval_metrics([], ks=(1,))["recall@1"] == 0.0


def test_parse_ks():
    assert qasets.parse_ks("10,1,3,5") == (1, 3, 5, 10)
    for bad in ("", "0,1", "a", "1,1000"):
        with pytest.raises(ValueError):
            qasets.parse_ks(bad)


# --------------------------------------------------------------------------- the QA set


@pytest.fixture(scope="module")
def qa_items() -> list[qasets.QAItem]:
    return qasets.load_qa(QA_FILE)


def test_qa_set_covers_the_corpus(qa_items):
    assert len(qa_items) >= 80
    types = {it.type for it in qa_items}
    assert {"english", "followup", "compare", "list", "unanswerable", "amount", "date"} <= types
    assert sum(not it.answerable for it in qa_items) >= 8
    doc = load_document(CORPUS_FILE)
    assert {it.gold.title for it in qa_items if it.gold} == {a.title for a in doc.articles}
    assert {it.gold.section for it in qa_items if it.gold and it.gold.section} == set(SECTIONS)
    assert all(it.turns for it in qa_items if it.type == "followup")
    assert all(not it.answerable for it in qa_items if it.type == "unanswerable")


@pytest.mark.parametrize("size", [240, 120, 400])
def test_every_gold_quote_and_answer_checks_out(qa_items, size):
    """Each quote is verbatim in a paragraph (column breaks repaired) of its article and
    section and inside one indexed passage; each numeric answer is what its text parses to."""
    doc = load_document(CORPUS_FILE)
    paragraphs = [(a.title, s.heading, p.text) for a in doc.articles for s in a.sections
                  for p in s.paragraphs]
    passages = chunk_document(doc, ChunkConfig(size=size, overlap=min(60, size // 4)))
    assert qasets.check_qa(qa_items, passages, paragraphs) == []


def test_unanswerable_questions_name_nothing_the_corpus_holds(qa_items):
    text = CORPUS_FILE.read_text(encoding="utf-8")
    for place in ("广州", "天津", "西安", "2019", "2022", "2030", "6G基站"):
        assert place not in text


def test_load_qa_rejects_malformed_lines(tmp_path):
    good = {"id": "a", "question": "北京基金多大？", "type": "amount", "answerable": True,
            "gold": {"section": "北京市", "title": "T", "quote": "q"},
            "answer": {"value": 1e10, "unit": "元", "text": "100亿元"}}
    bad = [
        {**good, "type": "nonsense"},
        {**good, "answer": {"value": "100亿元"}},
        {**good, "answer": {"low": 1}},
        {**good, "answer": {"date": "March"}},
        {**good, "gold": None},
        {**good, "answerable": False},
        {**good, "turns": "not a list"},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n", encoding="utf-8")
    assert len(qasets.load_qa(path)) == 1
    for rec in bad:
        path.write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
        with pytest.raises(RagError, match=r"qa\.jsonl:1"):
            qasets.load_qa(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    with pytest.raises(RagError, match="duplicate question id"):
        qasets.load_qa(path)


# --------------------------------------------------------------------------- answer scoring


def _fig(**kw):
    base = {"text": "", "value": None, "low": None, "high": None, "unit": "", "kind": "money",
            "date": None}
    return {**base, **kw}


def test_figure_matching_in_base_units():
    assert qasets.figure_matches(_fig(value=1e10, unit="元"), {"value": 1e10, "unit": "元"})
    assert not qasets.figure_matches(_fig(value=5e9, unit="元"), {"value": 1e10, "unit": "元"})
    assert not qasets.figure_matches(_fig(value=1e10, unit="美元"), {"value": 1e10, "unit": "元"})
    assert qasets.figure_matches(_fig(value=1 / 3), {"value": 0.3333333333333333, "unit": ""})
    assert qasets.figure_matches(_fig(low=30.0, high=40.0, unit="%"),
                             {"low": 30, "high": 40, "unit": "%"})
    assert qasets.figure_matches(_fig(kind="date", date="2023-12"), {"date": "2023-12"})
    # a money figure dated 2023-12 is not the date 2023-12
    assert not qasets.figure_matches(_fig(value=1e10, date="2023-12"), {"date": "2023-12"})


def test_answer_checks_first_figure_text_and_refusal():
    item = qasets.QAItem(id="x", question="q", type="amount", answerable=True,
                     gold=qasets.Gold("T", None, "首期规模10亿元"),
                     answer={"value": 1e9, "unit": "元", "text": "10亿元"})
    right = {"found": True, "answer": "10亿元[1]", "figures": [_fig(value=1e9, unit="元")],
             "citations": [{"title": "T", "text": "总规模50亿元,首期规模10亿元"}]}
    wrong_first = {**right, "figures": [_fig(value=5e9, unit="元"), _fig(value=1e9, unit="元")]}
    assert metrics.answer_checks(item, right) == {"found": True, "numeric": True, "correct": True,
                                             "cited_gold": True}
    assert not metrics.answer_checks(item, wrong_first)["correct"]
    assert not metrics.answer_checks(item, {**right, "found": False})["correct"]
    listing = qasets.QAItem(id="y", question="q", type="list", answerable=True,
                        gold=qasets.Gold("T", None, "q"), answer={"text": ["济南", "青岛"]})
    assert metrics.answer_checks(listing, {"found": True, "answer": "济南、青岛、滨州"})["correct"]
    assert not metrics.answer_checks(listing, {"found": True, "answer": "济南"})["correct"]
    refusal = qasets.QAItem(id="z", question="q", type="unanswerable", answerable=False)
    assert metrics.answer_checks(refusal, {"found": False})["correct"]
    assert not metrics.answer_checks(refusal, {"found": True})["correct"]
    summary = metrics.answer_summary([(item, metrics.answer_checks(item, right)),
                                 (refusal, metrics.answer_checks(refusal, {"found": True}))])
    assert summary["figure_accuracy"] == 1.0
    assert summary["refusal_accuracy"] == 0.0
    assert summary["failing"] == ["z"]


def test_span_hit_by_text_or_numeric_value():
    item = qasets.QAItem(id="e", question="q", type="external", answerable=True, passage_id="p",
                     spans=("1500万元",), numeric=True)
    assert metrics.span_hit(item, {"found": True, "answer": "约1500万元。", "figures": []})
    assert metrics.span_hit(item, {"found": True, "answer": "1,500万",
                              "figures": [_fig(value=1.5e7, unit="元")]})
    assert not metrics.span_hit(item, {"found": False, "answer": "1500万元"})
    assert not metrics.span_hit(item, {"found": True, "answer": "800万元",
                                  "figures": [_fig(value=8e6, unit="元")]})


def test_followup_query_is_rewritten_like_ask(qa_items):
    fu = next(it for it in qa_items if it.id == "fu-chengdu")
    assert "成都" in qasets.effective_query(fu)
    assert "规模" in qasets.effective_query(fu)


# --------------------------------------------------------------------------- real runs


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Single-threaded torch: on a shared, loaded machine two threads make each query
    encode an order of magnitude slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def eval_out(tmp_path_factory, embedder, model_cache) -> tuple[Path, ev.EvalReport]:
    out = tmp_path_factory.mktemp("eval")
    base = make_config(out / "unused-index", CORPUS, model_cache)
    with _one_thread():
        report = ev.run_eval(base, [(QA_FILE, None)], out, ev.EvalOptions(), embedder=embedder)
    evalreport.write_outputs(report, out)
    return out, report


@pytest.mark.slow
def test_eval_on_the_project_set_writes_json_and_chart(eval_out):
    out, report = eval_out
    data = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    project = data["sets"]["project"]
    assert set(project["retrieval"]) == {"hybrid", "dense", "bm25"}
    assert project["retrieval"]["hybrid"]["recall@5"] >= 0.9
    assert project["retrieval"]["hybrid"]["mrr@10"] >= 0.75
    assert project["questions"] == len(qasets.load_qa(QA_FILE))
    assert project["answers"]["answerable"] + project["answers"]["unanswerable"] == \
        project["questions"]
    assert all(d["gold_passages"] >= 1 for d in project["details"] if d["query"])
    png = (out / "eval.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    table = evalreport.format_tables(report)
    assert "| project | hybrid |" in table and "refusal acc" in table


@pytest.mark.slow
def test_cli_eval_prints_the_table(eval_out, model_cache, capsys):
    from rag.cli import main

    out, _ = eval_out
    with _one_thread():
        code = main(["--corpus-dir", str(CORPUS), "--model-cache", str(model_cache), "eval",
                     "--qa", str(QA_FILE), "--mode", "bm25", "--k", "1,5", "--limit", "20",
                     "--no-answers", "--out", str(out / "cli")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| project | bm25 | " in printed and "recall@5" in printed
    assert (out / "cli" / "eval.json").is_file() and (out / "cli" / "eval.png").is_file()
    assert main(["eval", "--k", "0", "--out", str(out / "cli")]) == 2


class _Counting:
    """An embedder wrapper that counts encoded passages."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.fingerprint, self.dim = inner.name, inner.fingerprint, inner.dim
        self.passages = 0

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        self.passages += len(texts)
        return self.inner.encode_passages(texts)


@pytest.mark.slow
def test_external_format_indexes_records_and_caches_vectors(tmp_path, embedder, model_cache):
    topics = [("长江", "长江是中国第一长河，全长约6300公里，流经青海、西藏、四川等省区。"),
              ("黄河", "黄河全长约5464公里，是中国第二长河，被称为中华民族的母亲河。"),
              ("珠穆朗玛峰", "珠穆朗玛峰海拔8848.86米，是世界最高峰，位于中国与尼泊尔边境。"),
              ("故宫", "北京故宫始建于1406年，是明清两代的皇家宫殿，现为故宫博物院。"),
              ("西湖", "杭州西湖于2011年列入世界遗产名录，以苏堤春晓等十景闻名。")]
    questions = ["长江全长大约多少公里？", "哪条河被称为中华民族的母亲河？", "世界最高峰海拔多少米？",
                 "北京故宫始建于哪一年？", "杭州西湖哪一年列入世界遗产名录？"]
    answers = ["6300公里", "黄河", "8848.86米", "1406年", "2011年"]
    (tmp_path / "passages_toy.jsonl").write_text("".join(
        json.dumps({"passage_id": f"toy:{i}", "title": t, "text": x}, ensure_ascii=False) + "\n"
        for i, (t, x) in enumerate(topics)), encoding="utf-8")
    (tmp_path / "qa_toy.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "question": q, "passage_id": f"toy:{i}",
                    "answers": [{"text": a, "answer_start": 0}], "numeric_answer": True},
                   ensure_ascii=False) + "\n"
        for i, (q, a) in enumerate(zip(questions, answers, strict=True))), encoding="utf-8")
    inputs = qasets.resolve_inputs([tmp_path / "qa_toy.jsonl"])
    assert inputs == [(tmp_path / "qa_toy.jsonl", tmp_path / "passages_toy.jsonl")]
    base = make_config(tmp_path / "unused", None, model_cache)
    counting = _Counting(embedder)
    opts = ev.EvalOptions(ks=(1, 3))
    with _one_thread():
        first = ev.run_eval(base, inputs, tmp_path / "out", opts, embedder=counting)
        assert counting.passages == 5
        second = ev.run_eval(base, inputs, tmp_path / "out", opts, embedder=counting)
    assert counting.passages == 5  # vectors came from the cache
    toy = second.sets[0]
    assert toy.name == "toy" and toy.kind == "external" and toy.passages == 5
    assert toy.retrieval["hybrid"]["recall@3"] == 1.0
    assert toy.retrieval["hybrid"]["recall@3"] == first.sets[0].retrieval["hybrid"]["recall@3"]
    assert 0.0 <= toy.answers["span_hit"] <= 1.0
    # numeric questions are checked strictly, per half; 黄河 holds no figure and is not
    halves = [toy.answers["numeric_fit"], toy.answers["numeric_test"]]
    assert sum(h["questions"] for h in halves) == 4
    for h in halves:
        cov = [p["coverage"] for p in h["risk_coverage"] if p["coverage"] is not None]
        assert cov == sorted(cov, reverse=True)  # a higher threshold never answers more


def test_risk_coverage_counts_wrong_answers_over_all_questions():
    outs = [metrics.Outcome(0.9, True, True), metrics.Outcome(0.6, True, False),
            metrics.Outcome(0.3, True, True), metrics.Outcome(None, True, False),
            metrics.Outcome(0.8, False, False)]
    at = metrics.at_threshold(outs, 0.5)
    # given: 0.9 (right), 0.6 (wrong), None (wrong: answers without a confidence are given)
    assert at == {"questions": 5, "accuracy": 0.2, "wrong_answer_rate": 0.4, "coverage": 0.6}
    assert metrics.at_threshold(outs, 0.0)["coverage"] == 0.8
    curve = metrics.risk_coverage(outs, steps=4)
    assert [p["threshold"] for p in curve] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve[-1]["coverage"] == 0.2  # only the unscored answer is left at 1.0


def test_duplicate_question_ids_are_rejected_with_file_and_line(tmp_path: Path):
    from rag.errors import RagError
    from rag.qasets import load_qa

    line = ('{"id": "q1", "question": "北京基金多大?", "type": "amount", "answerable": false, '
            '"gold": null, "answer": null}')
    f = tmp_path / "qa.jsonl"
    f.write_text(line + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(RagError, match=r"qa\.jsonl:2: duplicate question id 'q1' \(first on line 1\)"):
        load_qa(f)


def test_the_policy_set_loads_and_every_gold_quote_is_in_a_passage_of_its_report():
    """corpus/qa_policy.jsonl (written by reading the reports, split by report year into fit
    and test halves): each gold quote lies inside one passage of the named report, as chunked
    at the default size."""
    from rag.chunk import ChunkConfig, chunk_document
    from rag.ingest import load
    from rag.qasets import load_qa

    policy = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"
    items = load_qa(Path(__file__).resolve().parents[1] / "corpus" / "qa_policy.jsonl")
    assert len(items) >= 150 and {it.split for it in items} == {"fit", "test"}
    assert sum(not it.answerable for it in items) >= 25
    docs = {d for it in items if it.gold for d in _gold_docs(it.gold)}
    passages = []
    for name in sorted(docs):
        loaded = load(policy / name, source=name)
        passages += chunk_document(loaded.doc, ChunkConfig(), date=loaded.meta.date)
    missing = [it.id for it in items if it.gold and not any(it.gold.matches(p) for p in passages)]
    assert len(missing) <= 0.03 * len(items), missing


def _gold_docs(g) -> list[str]:
    return [g.doc, *(d for m in g.more for d in _gold_docs(m))]


def test_a_date_answer_within_the_gold_date_matches():
    """哪一年 with gold 1859年: the passage's 1859年6月21日 is right; 1860 or a bare month of
    another year is not."""
    from rag.metrics import matches_any
    from rag.qasets import same_date

    assert same_date("1859-06-21", "1859") and same_date("1859-06", "1859")
    assert not same_date("1860-06-21", "1859") and not same_date("18590", "1859")
    gold = [{"kind": "date", "date": "1859", "value": None, "low": None, "high": None}]
    assert matches_any({"kind": "date", "date": "1859-06-21"}, gold)
    assert not matches_any({"kind": "date", "date": "1858-06-21"}, gold)
