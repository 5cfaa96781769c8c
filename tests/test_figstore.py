"""The figure store on real text: hand-labelled figures of the Government Work Reports
(``tests/data/policy_figures.jsonl``, labelled by reading, independently of the extractor)
against what the index-time annotation makes of the same reports."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

from rag import figstore
from rag.chunk import ChunkConfig, chunk_document
from rag.ingest import load
from rag.text import normalize
from rag.types import FigureFact, Passage

POLICY = Path(__file__).resolve().parents[2] / "shared" / "corpus-policy"
LABELS = Path(__file__).resolve().parent / "data" / "policy_figures.jsonl"
FIELDS = ("value", "period", "stance", "metric", "subject")
# The documents issue's goals are value, period and stance 0.95, metric and subject 0.85.
# Floors just below what benchmarks/figure_accuracy.py measures (benchmarks/README.md): on the
# fit split (674 labels, 35 reports; the rules were written from its errors; its last 208, a
# systematic sample of every figure kind, are harder than the economic figures before them)
# and on the held-out test split (142 labels, 7 other reports; no rule is fitted to it, and
# its failures report shares only, never the labels that are wrong).
FIT_FLOORS = {"value": 0.975, "period": 0.90, "stance": 0.92, "metric": 0.89, "subject": 0.88}
TEST_FLOORS = {"value": 0.95, "period": 0.82, "stance": 0.875, "metric": 0.85, "subject": 0.805}
MISSING_AT_MOST = {"fit": 0.03, "test": 0.08}


def _labels() -> list[dict]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]


@lru_cache(maxsize=64)
def _store(doc: str) -> tuple[tuple[Passage, tuple[FigureFact, ...]], ...]:
    path = POLICY / doc
    loaded = load(path, source=path.name)
    passages = chunk_document(loaded.doc, ChunkConfig(), date=loaded.meta.date)
    return tuple((p, figstore.annotate(p)) for p in passages)


def _squash(s: str) -> str:
    return normalize(s).replace("\n", "").replace(" ", "")


def find(label: dict) -> FigureFact | None:
    """The stored figure the label is about: same text, in a passage sentence that is (part
    of) the labelled sentence."""
    want = _squash(label["sentence"])
    text = _squash(label["text"])
    near: FigureFact | None = None
    for p, figs in _store(label["doc"]):
        for f in figs:
            sent = _squash(p.text[f.sentence_start:f.sentence_end])
            if not (sent in want or want in sent):
                continue
            if _squash(f.text) == text:
                return f  # the same text first: 二十七亿元 is not 一百二十七亿元 (1981)
            if near is None and text in _squash(f.text):
                near = f
    return near


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1.0)


_ADVERBIAL = re.compile(r"^(?:比上年|比去年|比上一年|平均每年|每年|年均|全年|计划|实际|预计)+")
_INNER_ADVERBIAL = re.compile(r"比上年|比去年|比上一年|平均每年|年均|计划(?=增长|提高|下降)")


def _metric_ok(gold: str | None, got: str | None) -> bool:
    """The metric as labelled, or a phrase that holds it / is held by it (国内生产总值 vs
    国内生产总值增长): the phrase is copied from the text, so its edges may differ. A label
    that is only a rate's verb with its adverbial (比上年增长, 平均每年增长) matches a metric
    that ends with that verb (国内生产总值增长): the labeller named the change, the store
    names the quantity that changed as well. The adverbials are left out inside a phrase
    too, on both sides (国内生产总值年均增长, 国民生产总值比上年增长, 国民生产总值计划增长 are
    国内/国民生产总值增长: the store drops them by design, and they are the period's and the
    stance's business, scored there)."""
    if not gold:
        return not got
    if not got:
        return False
    g, m = _squash(gold), _squash(got)
    if g in m or m in g:
        return True
    g2, m2 = _INNER_ADVERBIAL.sub("", g), _INNER_ADVERBIAL.sub("", m)
    if g2 and m2 and (g2 in m2 or m2 in g2):
        return True
    core = _ADVERBIAL.sub("", g)
    return core in ("增长", "递增", "下降", "提高") and m.endswith(core)


def field_checks(label: dict, f: FigureFact | None) -> dict[str, bool]:
    if f is None:
        return dict.fromkeys(FIELDS, False)
    years = figstore.period_years(f)
    subject = label.get("subject")
    return {
        "value": _close(f.value, label["value"]) and _close(f.low, label["low"])
        and _close(f.high, label["high"]) and f.unit == label["unit"],
        "period": years == tuple(label["period"]),
        "stance": f.stance == label["stance"],
        "metric": _metric_ok(label.get("metric"), f.metric),
        "subject": (not subject and not f.subject) or bool(
            subject and f.subject and (_squash(subject) in _squash(f.subject)
                                       or _squash(f.subject) in _squash(subject))),
    }


def accuracy(split: str | None = None) -> tuple[dict[str, float], list[tuple[str, dict[str, bool]]]]:
    """Per-field share right over the labels of one split (``fit``/``test``), or all."""
    rows = [(lab["id"], field_checks(lab, find(lab))) for lab in _labels()
            if split is None or lab["split"] == split]
    share = {k: sum(c[k] for _, c in rows) / len(rows) for k in FIELDS}
    return share, rows


def test_the_labelled_set_is_real_and_broad():
    labels = _labels()
    assert len(labels) >= 120
    docs = {lab["doc"] for lab in labels}
    assert len(docs) >= 12 and min(int(d[:4]) for d in docs) < 1970
    for lab in labels:
        assert lab["text"] in lab["sentence"]


@pytest.mark.parametrize("split", ["fit", "test"])
def test_every_labelled_figure_is_in_the_store(split: str):
    labels = [lab for lab in _labels() if lab["split"] == split]
    missing = [lab["id"] for lab in labels if find(lab) is None]
    shown = missing if split == "fit" else f"{len(missing)} of {len(labels)}"
    assert len(missing) <= MISSING_AT_MOST[split] * len(labels), shown


@pytest.mark.parametrize("field", FIELDS)
def test_field_accuracy_on_the_fit_split(field: str):
    share, rows = accuracy("fit")
    wrong = [i for i, c in rows if not c[field]]
    assert share[field] >= FIT_FLOORS[field], f"{field}: {share[field]:.3f}; wrong: {wrong}"


@pytest.mark.parametrize("field", FIELDS)
def test_field_accuracy_on_the_held_out_split(field: str):
    share, _rows = accuracy("test")
    assert share[field] >= TEST_FLOORS[field], f"{field}: {share[field]:.3f} (held out: no ids)"


def test_the_splits_are_apart():
    """Every report's labels are in one split, and both splits are broad."""
    split_of: dict[str, set[str]] = {}
    for lab in _labels():
        split_of.setdefault(lab["doc"], set()).add(lab["split"])
    assert all(len(s) == 1 for s in split_of.values())
    for split, docs_at_least in (("fit", 12), ("test", 6)):
        docs = [d for d, s in split_of.items() if split in s]
        assert len(docs) >= docs_at_least
        assert min(int(d[:4]) for d in docs) < 1960 and max(int(d[:4]) for d in docs) > 2005


def test_store_records_how_a_period_was_found():
    for _p, figs in _store("2014-政府工作报告.txt"):
        for f in figs:
            if f.kind != "date" and f.period_start:
                assert f.period_basis and f.period_stated is not None
    facts = [f for _, figs in _store("2014-政府工作报告.txt") for f in figs]
    assert any(f.period_start == "2014" and not f.period_stated for f in facts)  # 今年 → 2014
    assert any(f.period_start == "2013" for f in facts)  # under 一、2013年工作回顾


def test_words_are_not_stored_as_figures():
    """``一年`` from 过去一年 and list numbering are no figures to answer with."""
    store = [(p.text[f.sentence_start:f.sentence_end], f) for p, figs in _store("2014-政府工作报告.txt")
             for f in figs]
    for sentence, f in store:
        if f.text == "一年":  # 提前一年完成 is a duration; 过去一年, 一年来 are not
            assert "过去一年" not in sentence and "一年来" not in sentence, sentence
        assert f.text not in ("一、", "二、", "三、", "一是", "二是")


def _figure(doc: str, text: str, sentence_part: str) -> FigureFact:
    for p, figs in _store(doc):
        for f in figs:
            if f.text == text and sentence_part in p.text[f.sentence_start:f.sentence_end]:
                return f
    raise AssertionError(f"{text} not stored in {doc}")


def test_traditional_characters_are_read_and_kept_verbatim():
    """較1955年 (1957, partly traditional) is a comparison base like 较, not the figure's year;
    the stored metric is copied as written (手工業), and the fold keeps every offset."""
    from rag.hanzi import fold

    text = (POLICY / "1957-政府工作报告.txt").read_text(encoding="utf-8")
    folded = fold(text)
    assert len(folded) == len(text) and "較" in text and "較" not in folded
    f = _figure("1957-政府工作报告.txt", "16％", "較1955年增長了16％")
    assert figstore.period_years(f) == (1956, 1956)  # 这一年 = the 1956年 of the sentence before
    assert f.metric and "手工業" in f.metric and f.stance == "actual"


def test_respectively_pairs_each_figure_with_its_own_noun():
    """分别增长9.6%和6.2% after the urban and the rural income (2006): each has its own."""
    urban = _figure("2006-政府工作报告.txt", "9.6%", "分别增长9.6%和6.2%")
    rural = _figure("2006-政府工作报告.txt", "6.2%", "分别增长9.6%和6.2%")
    assert (urban.subject, rural.subject) == ("城镇居民", "农村居民")
    assert urban.metric and urban.metric.startswith("城镇居民人均可支配收入")
    assert rural.metric and rural.metric.startswith("农村居民人均纯收入")
    # coordinated nouns before 分别 (2013): 化学需氧量、二氧化硫排放总量分别下降15.7%和17.5%
    cod = _figure("2013-政府工作报告.txt", "15.7%", "分别下降15.7%和17.5%")
    so2 = _figure("2013-政府工作报告.txt", "17.5%", "分别下降15.7%和17.5%")
    assert cod.metric and cod.metric.startswith("化学需氧量")
    assert so2.metric and so2.metric.startswith("二氧化硫排放总量")


def test_a_reported_part_of_the_year_is_a_result_of_that_part():
    """今年上半年又比去年同期增长24.2％ in the August 1980 report: a result of 1980's first
    half, not a plan, and not a change since the year before the base."""
    f = _figure("1980-政府工作报告.txt", "24.2％", "今年上半年又比去年同期增长24.2％")
    assert (f.period_start, f.period_end, f.stance) == ("1980-01", "1980-06", "actual")


def test_a_change_from_a_stated_base_year():
    """１９８６年同１９７８年相比，国民生产总值由３４８０亿元增加到９３８０亿元 (1987): the level the
    change starts from is 1978's, also in the next ；-clause; an average rate after a stated
    earlier year runs from the year after it (1983: 比一九七八年…平均每年增长百分之七点三)."""
    gnp = _figure("1987-政府工作报告.txt", "３４８０亿元", "由３４８０亿元增加到")
    revenue = _figure("1987-政府工作报告.txt", "１１２１亿元", "由１１２１亿元增加到")
    assert figstore.period_years(gnp) == figstore.period_years(revenue) == (1978, 1978)
    avg = _figure("1983-政府工作报告.txt", "百分之七点三", "平均每年增长百分之七点三")
    assert figstore.period_years(avg) == (1979, 1982) and avg.stance == "actual"


def test_a_cited_past_plan_stays_a_plan():
    """去年…政府工作报告中曾提出，要把…控制在百分之十以内 (1995) is 1994's cap, not a result;
    1997's 要从１４．８％降到１０％左右 is 1996's target and its 实际回落到６．１％ the result; a
    figure over a plan that ends after the report (1982, 1981–1985) is a target."""
    cap = _figure("1995-政府工作报告.txt", "百分之十以内", "曾提出")
    assert (figstore.period_years(cap), cap.stance) == ((1994, 1994), "cap")
    target = _figure("1997-政府工作报告.txt", "１０％左右", "政府工作报告提出")
    result = _figure("1997-政府工作报告.txt", "６．１％", "实际回落到")
    assert (target.stance, result.stance) == ("target", "actual")
    urban = _figure("1982-政府工作报告.txt", "百分之三点二", "城镇居民的消费水平")
    assert (figstore.period_years(urban), urban.stance) == ((1981, 1985), "target")


def test_a_heading_of_the_year_reviewed_and_planned_dates_by_stance():
    """Under 一、1998年工作回顾和1999年工作的总体要求 (1999) a result is of 1998, not of
    1998-1999, and so is the 预定目标 it is measured against."""
    growth = _figure("1999-政府工作报告.txt", "7.8％", "国内生产总值比上年增长7.8％")
    assert (figstore.period_years(growth), growth.stance) == ((1998, 1998), "actual")
    assert "the year reviewed" in (growth.period_basis or "")


def test_a_plan_of_its_own_clause_is_the_year_planned(tmp_path: Path):
    """A 原定计划 elsewhere in the sentence does not make a clause that plans (预期增长) a
    review of the first year."""
    doc = tmp_path / "1999-报告.txt"
    doc.write_text("政府工作报告\n\n——1999年3月5日在第九届全国人民代表大会第二次会议上\n\n"
                   "一、1998年工作回顾和1999年工作的总体要求\n\n"
                   "国内生产总值预期增长7％左右，继续按原定计划推进国有企业改革。\n", encoding="utf-8")
    loaded = load(doc, source=doc.name)
    facts = [f for p in chunk_document(loaded.doc, ChunkConfig(), date=loaded.meta.date)
             for f in figstore.annotate(p) if f.text == "7％左右"]
    assert [(figstore.period_years(f), f.stance) for f in facts] == [((1999, 1999), "target")]


def test_the_state_budget_is_the_nation():
    """国家财政收入 (1987, 2000) is the nation's revenue: no subject; 中央财政 keeps its own."""
    assert _figure("1987-政府工作报告.txt", "２２２０亿元", "国家财政收入").subject is None
    assert _figure("2000-政府工作报告.txt", "11377亿元", "国家财政收入").subject is None
    assert _figure("2014-政府工作报告.txt", "9500亿元", "中央财政赤字").subject == "中央财政"


def test_an_opening_actor_is_the_subject_of_later_clauses():
    """国有及国有控股工业企业经济效益大幅度提高，实现利润3784亿元 (2004): the group that opens the
    sentence is whose profit it is; 高校毕业生初次就业率77.8％，同比提高1.2个百分点 (2012)."""
    assert _figure("2004-政府工作报告.txt", "3784亿元", "实现利润3784亿元").subject == "国有及国有控股工业企业"
    assert _figure("2012-政府工作报告.txt", "1.2个百分点", "高校毕业生初次就业率").subject == "高校毕业生"


def test_an_undated_count_is_a_state_at_delivery():
    """我国是一个共有五十多个民族的统一国家 (1978) and 国务院组成部门…精简后为１８个 (1993) say what is
    at the report's date; an undated result measured against the year before (比上年, 1987) is of
    that year; 现在 (1995) is the report's year; a group after an amount names it and its unit."""
    nations = _figure("1978-政府工作报告.txt", "五十多个", "五十多个民族")
    assert (figstore.period_years(nations), nations.stance, nations.metric) == ((1978, 1978), "actual", "民族")
    output = _figure("1987-政府工作报告.txt", "１８７７４亿元", "全国社会总产值达到")
    assert figstore.period_years(output) == (1986, 1986)
    people = _figure("1995-政府工作报告.txt", "１２亿", "现在我国人口已经达到")
    assert figstore.period_years(people) == (1995, 1995) and people.unit == "人"
    rural = _figure("2008-政府工作报告.txt", "3200万", "农村人口的安全饮水")
    assert (rural.unit, rural.metric) == ("人", "农村人口")
    council = _figure("2005-政府工作报告.txt", "30亿元", "国务院决定今年安排")
    assert (council.subject, council.metric) == ("国务院", "建设资金")
    approvals = _figure("2003-政府工作报告.txt", "1195个", "行政审批事项")
    assert approvals.metric == "行政审批事项"


@pytest.mark.parametrize(("doc", "text"), [
    ("1957-政府工作报告.txt", "一亿二千万农戶"),  # traditional 戶, folded before the match
    ("1960-政府工作报告.txt", "一亿二千万农户"),
])
def test_a_bare_amount_of_farm_households_counts_households(doc: str, text: str) -> None:
    from rag.figures import extract_figures
    from rag.hanzi import fold

    body = (POLICY / doc).read_text(encoding="utf-8").replace("\n", "")
    at = body.index(text)
    sentence = fold(body[max(0, at - 40):at + 40])
    f = next(g for g in extract_figures(sentence) if g.text == fold(text)[:-2])
    assert figstore.implied_unit(sentence, f) == ("户", "count")


@pytest.mark.parametrize(("doc", "text", "lead"), [
    ("1997-政府工作报告.txt", "１００多个", "现在全国有"),
    ("1987-政府工作报告.txt", "３２０００多个", "目前在全国注册登记的各种经济联合体有"),
])
def test_a_present_state_is_a_result_of_the_reports_year(doc: str, text: str, lead: str) -> None:
    """现在/目前 with no plan word: the state at delivery, even under the year's plan heading."""
    fact = next(f for p, figs in _store(doc) for f in figs
                if f.text == text and lead in p.text[max(0, f.start - 40):f.start])
    year = int(doc[:4])
    assert (fact.stance, figstore.period_years(fact)) == ("actual", (year, year))


def test_sorting_by_value_never_compares_two_units():
    # 1964 reports debts in 新卢布 beside amounts in 元; 1954 mixes 元, 吨 and 斤
    rows = []
    for doc in ("1954-政府工作报告.txt", "1964-政府工作报告.txt"):
        store = _store(doc)
        rows += figstore.table([p for p, _ in store], [f for _, f in store])
    for descending in (False, True):
        out = figstore.query(rows, figstore.FigureQuery(kind="money", sort="value",
                                                        descending=descending))
        units = [r.fact.unit for r in out]
        assert len(set(units)) > 1
        # each unit is one block
        assert units == sorted(units, key=units.index)
        for unit in set(units):
            values = [r.fact.value for r in out if r.fact.unit == unit and r.fact.value is not None]
            assert values == sorted(values, reverse=descending)


def test_the_level_a_change_starts_from_is_of_the_year_before():
    """由A提高到B: under a single year the change is that year's and A the year before's
    (2013: 今年…由每人每年240元提高到280元; 2002: 从２００２年１月１日起…由１５．３％降到１２％);
    under a span written as its end years A is of the first (1985: 从１９７８年到１９８３年，…由一百
    七十五元提高到二百八十八元), under a counted span of the year before it (2013: 过去五年)."""
    before = _figure("2013-政府工作报告.txt", "240元", "由每人每年240元提高到280元")
    after = _figure("2013-政府工作报告.txt", "280元", "由每人每年240元提高到280元")
    assert (figstore.period_years(before), figstore.period_years(after)) == ((2012, 2012), (2013, 2013))
    tariff = _figure("2002-政府工作报告.txt", "１５．３％", "由１５．３％降到１２％")
    assert figstore.period_years(tariff) == (2001, 2001)
    spending = _figure("1985-政府工作报告.txt", "一百七十五元", "由一百七十五元提高到二百八十八元")
    assert figstore.period_years(spending) == (1978, 1978)
    gdp = _figure("2013-政府工作报告.txt", "26.6万亿元", "从26.6万亿元增加到51.9万亿元")
    assert figstore.period_years(gdp) == (2007, 2007)


def test_a_part_of_the_year_reviewed_under_a_two_year_heading():
    """年末 under 一、１９９３年国内工作的回顾和１９９４年工作的基本方针 (1994): a result of end-1993,
    the year reviewed, not of the heading's last year (a user's 1993年底…存款余额 was refused)."""
    deposits = _figure("1994-政府工作报告.txt", "１４７６４亿元", "存款余额")
    assert (deposits.period_start, deposits.period_end, deposits.stance) == ("1993-12", "1993-12", "actual")
