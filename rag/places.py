"""A gazetteer of Chinese administrative divisions (provinces, cities, districts, counties),
read from the data file of the ``cpca`` package, to recognise the places a question is
about. jieba's dictionary misses many (唐山, 吴中区), and a place named in a question is a
hard constraint on the evidence: we never answer about 广州 with a figure about 北京."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
from functools import lru_cache
from pathlib import Path

_SUFFIX = re.compile(r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|自治县|新区|省|市|区|县|盟|旗)$")
_GENERIC = frozenset({"城区", "郊区", "矿区", "市区", "新区", "开发区", "高新区", "中国", "全国"})


def _adcodes_text() -> str:
    spec = importlib.util.find_spec("cpca")  # locate the data without importing the package
    if spec is None or not spec.submodule_search_locations:
        return ""
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def short_form(name: str) -> str:
    """``唐山市`` → ``唐山``; names that would become a single character stay whole."""
    core = _SUFFIX.sub("", name)
    return core if len(core) >= 2 else name


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, str]:
    """Every known place form (full and short) → its full name."""
    out: dict[str, str] = {}
    import jieba.posseg as pseg

    # the part-of-speech table is read when jieba.posseg is imported, so this does not
    # depend on whether jieba has been initialised yet (its FREQ table does: 合肥 was a
    # place before the first tokenisation and a common noun after it)
    word_tag = pseg.dt.word_tag_tab
    for row in csv.DictReader(io.StringIO(_adcodes_text())):
        name = (row.get("name") or "").strip()
        if len(name) < 2 or name in _GENERIC:
            continue
        out.setdefault(name, name)
        short = short_form(name)
        if short != name and short not in _GENERIC:
            # a province or prefecture-level city (adcode XXXX00000000) is known by its
            # short form (合肥, tagged a common noun by jieba); a county or district only
            # when jieba knows the short form as a place or not at all (not 和平, 新城)
            code = (row.get("adcode") or "").strip()
            city = len(code) == 12 and code[4:] == "00000000"
            if city or word_tag.get(short) in (None, "ns"):
                out.setdefault(short, name)
    return out


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str] | None:
    names = sorted(gazetteer(), key=len, reverse=True)
    if not names:
        return None
    return re.compile("|".join(re.escape(n) for n in names))


def find(text: str) -> list[str]:
    """Places named in a text, longest match first, in order of appearance."""
    pat = _pattern()
    if pat is None:
        return []
    out: list[str] = []
    for m in pat.finditer(text):
        if m.group() not in out:
            out.append(m.group())
    return out
