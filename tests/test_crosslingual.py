"""English-to-Chinese expansion: the domain glossary (``rag/data/glossary.json``) is read
before CC-CEDICT, and the longest known phrase wins."""

from __future__ import annotations

from rag import vocab
from rag.crosslingual import expand, expand_groups, has_english


def test_the_domain_glossary_is_data_and_wins_over_the_dictionary():
    terms = vocab.data("glossary")["terms"]
    assert terms["gdp"] == ["国内生产总值"] and "城镇调查失业率" in terms["surveyed unemployment"]
    assert expand("GDP growth target")[:1] == ["国内生产总值"]


def test_the_longest_phrase_is_read_first():
    # the modern reports' 城镇调查失业率 and the older reports' 城镇登记失业率 are told apart
    groups = dict(expand_groups("What was the surveyed urban unemployment rate target for 2023?"))
    assert groups["surveyed urban unemployment"] == ["城镇调查失业率"]
    groups = dict(expand_groups("What was the registered urban unemployment rate in 2013?"))
    assert groups["registered urban unemployment"] == ["城镇登记失业率"]
    # plural and hyphenated: the phrase as written, the Chinese word of its singular
    assert dict(expand_groups("local government special-purpose bonds"))[
        "special-purpose bonds"] == ["专项债券"]


def test_chinese_text_has_no_english_to_expand():
    assert not has_english("2024年赤字率是多少") and expand("2024年赤字率是多少") == []
