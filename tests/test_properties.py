"""Property tests: text cleaning, parsing, chunking and figure extraction on arbitrary Unicode.

Inputs mix CJK, full-width and ASCII digits, Chinese numerals, zero-width and bidi control
characters, punctuation, blank lines and ``#`` headings, plus fully arbitrary code points;
a few inputs are 100,000 characters long (a generated document repeated).
"""

from __future__ import annotations

import bisect
import math

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag import ingest
from rag.chunk import ChunkConfig, chunk_document
from rag.figures import extract_figures, figure_tokens
from rag.ingest import ParsedDocument, html_to_text, parse_text
from rag.text import normalize, tokenize

CJK = (
    "的一是在不了有人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子"
    "说产种面而方后多定行学法所民得经之进着等部度家电力里如水化高自理起小物现实加量都体制机当使点"
    "从业本去把性好应开它合还因由其些然前外天政日那社义事平形相全表间样与关各重新线内数正心反你明"
    "看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展果"
    "基金券工程计划方案项目平台本报讯记者通讯员图为省市县区亿万元个家级倍底末初季度以上以下不超过约"
)
NUMERALS = "零〇一二三四五六七八九十百千万亿两壹贰叁"
DIGITS = "0123456789０１２３４５６７８９"
LATIN = "ABCGLabcgl"
PUNCT = "。，、；：！？“”‘’《》（）()【】—-~～/.．,:;!?%％\"' "
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
COMBINING = "\u0301\u0300\u0308\u1100\u1161\u11a8"  # accents, Hangul jamo
SPACE = " \t\u3000"
MARKUP = "#*_"
ALPHABET = CJK + NUMERALS + DIGITS + LATIN + PUNCT + INVISIBLE + COMBINING + SPACE + MARKUP

words = st.text(alphabet=ALPHABET, min_size=0, max_size=80)
heading = st.builds(lambda n, sp, t: "#" * n + sp + t, st.integers(1, 7),
                    st.sampled_from([" ", "  ", "\t", "\u3000", ""]), words)
line = st.one_of(words, words, words, heading, st.just(""),
                 st.sampled_from(["本报讯 ", "本报记者 王伟", "图为：", "**", "1. ", "- "]).flatmap(
                     lambda p: words.map(lambda w: p + w)))
newline = st.sampled_from(["\n", "\n", "\n", "\n\n", "\r\n", " \n"])
structured = st.lists(st.tuples(line, newline), max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts))
arbitrary = st.text(max_size=400)  # any code point but lone surrogates
with_line_breaks = st.text(alphabet=ALPHABET + "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
                           max_size=400)
documents = st.one_of(structured, structured, arbitrary, with_line_breaks)
# 100,000 characters: a generated document repeated, so generating it stays cheap.
huge = st.builds(lambda s: (s * (100_000 // len(s) + 1))[:100_000],
                 structured.filter(lambda s: len(s) >= 20))

configs = st.sampled_from([ChunkConfig(20, 0), ChunkConfig(20, 19), ChunkConfig(60, 15),
                           ChunkConfig(240, 60), ChunkConfig(500, 100)])

FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HUGE = settings(max_examples=5, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------- helpers


def _paragraphs(doc: ParsedDocument):
    for a in doc.articles:
        for s in a.sections:
            yield from s.paragraphs


def check_parse(text: str) -> ParsedDocument:
    doc = parse_text(text, source="doc.md", content_hash="0" * 64)
    assert doc.text == text
    last = -1
    for para in _paragraphs(doc):
        assert para.text and len(para.offsets) == len(para.text)
        assert all(0 <= s < e <= len(text) for s, e in para.spans)
        for i, (ch, off) in enumerate(zip(para.text, para.offsets, strict=True)):
            joiner = i > 0 and ch == " " and off == para.offsets[i - 1]
            assert joiner or text[off] == ch, (i, ch, off)
            assert off >= last  # paragraphs and their characters follow the source order
            last = off
    return doc


def check_chunks(doc: ParsedDocument, cfg: ChunkConfig) -> None:
    text = doc.text
    passages = chunk_document(doc, cfg)
    # every non-space paragraph character, by source offset
    chars = sorted({(o, c) for p in _paragraphs(doc)
                    for c, o in zip(p.text, p.offsets, strict=True) if not c.isspace()})
    offsets = [o for o, _ in chars]
    covered = bytearray(len(text) + 1)
    prev_start = -1
    for p in passages:
        assert p.text and p.text == p.text.strip(), repr(p.text)
        assert len(p.text) <= cfg.size + 1  # +1: the newline of a paragraph break
        assert 0 <= p.start < p.end <= len(text)
        assert p.start >= prev_start
        prev_start = p.start
        # the passage is exactly the paragraph characters in its source span, in order
        lo, hi = bisect.bisect_left(offsets, p.start), bisect.bisect_left(offsets, p.end)
        expected = "".join(c for _, c in chars[lo:hi])
        assert "".join(c for c in p.text if not c.isspace()) == expected
        covered[p.start:p.end] = b"\x01" * (p.end - p.start)
    missing = [o for o in offsets if not covered[o]]
    assert not missing, f"characters at {missing[:5]} are in no passage"


def check_figures(text: str) -> None:
    figures = extract_figures(text)
    prev = 0
    for f in figures:
        assert 0 <= f.start < f.end <= len(text)
        assert text[f.start:f.end] == f.text
        assert f.start >= prev
        prev = f.start
        for v in (f.value, f.low, f.high):
            assert v is None or math.isfinite(v)
    assert all(isinstance(t, str) and t for t in figure_tokens(text))


# --------------------------------------------------------------------------- properties


@FAST
@given(documents)
@example("e\u200b\u0301")  # an invisible character between a letter and its accent
@example("\u1100\u200d\u1161")
def test_normalize_is_clean_and_stable(text):
    norm = normalize(text)
    assert not any(c in INVISIBLE for c in norm)
    assert normalize(norm) == norm
    toks = tokenize(text)
    assert toks == tokenize(norm)
    assert all(t and not any(c.isspace() for c in t) for t in toks)


@FAST
@given(documents)
def test_parse_never_raises_and_offsets_map_back(text):
    check_parse(text)


@FAST
@given(documents, configs)
def test_chunks_cover_the_text_in_order_within_the_size_limit(text, cfg):
    check_chunks(check_parse(text), cfg)


@FAST
@given(documents)
def test_figure_extraction_never_raises_and_spans_are_valid(text):
    check_figures(text)


@HUGE
@given(huge, configs)
def test_huge_documents(text, cfg):
    doc = check_parse(text)
    check_chunks(doc, cfg)
    check_figures(text)


@settings(max_examples=100, deadline=None)
@given(st.one_of(documents, st.text(alphabet="<>/=\"' abcdhpi1脚本&;#", max_size=200)))
def test_html_cleaning_never_raises(markup):
    out = html_to_text(markup)
    assert out.endswith("\n")
    check_parse(out)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet=CJK + DIGITS + LATIN, min_size=1, max_size=12), min_size=1,
                max_size=8),
       st.sampled_from(["\n\n", "\n\n- \n", "\n \n图为"]))
def test_parsing_work_grows_linearly(blocks, sep):
    """Blocks that all end mid-sentence are rejoined into one paragraph; the characters joined
    on the way must grow linearly with the text (they grew quadratically once)."""
    unit = sep.join(blocks) + sep
    text = (unit * (20_000 // len(unit) + 1))[:20_000]
    joined = 0
    real_join = ingest._join

    def counting_join(source, spans):
        nonlocal joined
        out = real_join(source, spans)
        joined += len(out[0])
        return out

    ingest._join = counting_join
    try:
        check_parse(text)
    finally:
        ingest._join = real_join
    assert joined <= 3 * len(text), f"{joined} characters joined for a text of {len(text)}"
