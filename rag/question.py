"""Question analysis: what is asked (how much, how many, what share, when, which, whether,
a comparison or a list) and about what (places, years, figures, other terms). Follow-up
turns (``那成都呢?``) are rewritten from the previous one in :mod:`rag.followup`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import jieba

from rag import places, vocab
from rag.crosslingual import expand_groups, has_english
from rag.figures import Figure, extract_figures
from rag.periods import find_time_expressions
from rag.text import QUERY_STOPWORDS, normalize, tokenize

_ASKING_DATA = vocab.data("asking")
# Words that ask rather than describe; never required to match the evidence.
_ASKING = frozenset(_ASKING_DATA["asking_words"]["words"])
_GENERIC_PLACES = frozenset({"城市", "地方", "全国", "国内", "国家", "各地", "中国", "我国", "全省",
                             "全市", "省", "市", "区", "县", "地区", "本地", "当地"})
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")

# what a question asks, tried in order (asking.json ``intents``; each names its motivating questions)
_INTENTS: list[tuple[str, re.Pattern[str]]] = [
    (i["name"], re.compile(i["pattern"], re.I)) for i in _ASKING_DATA["intents"]]
INTENT_KINDS: dict[str, tuple[str, ...]] = {
    "amount": ("money",),
    "duration": ("duration",),
    "count": ("count",),
    "share": ("percent", "ratio", "number"),
    "when": ("date",),
    "quantity": ("money", "count", "percent", "ratio", "number", "duration", "level"),
}
# a query of keywords for a passage, not a figure: 2024年政府工作报告, 2014年的工作重点
_OVERVIEW = re.compile(_ASKING_DATA["overview"]["pattern"], re.I)
_LIST_KINDS = [(re.compile(r["pattern"], re.I), tuple(r["kinds"])) for r in _ASKING_DATA["list_kinds"]["rules"]]
_BOUNDS = [(re.compile(r["pattern"], re.I), str(r["bound"])) for r in _ASKING_DATA["bounds"]["rules"]]


@dataclass(frozen=True)
class Question:
    """A question as the answerer understands it."""

    text: str
    english: bool
    intent: str
    kinds: tuple[str, ...]
    places: tuple[str, ...]
    years: tuple[str, ...]
    figures: tuple[Figure, ...]
    terms: tuple[tuple[str, ...], ...]  # each content term, with alternatives (translations)
    bound: str | None = None  # "≤" when the question asks for a maximum, "≥" for a minimum
    # weight of each term by its closeness to the asking word: in 吸引撬动多少社会资本 the
    # figure is about 撬动 and 社会资本 more than about anything else in the question
    focus: tuple[tuple[str, float], ...] = ()
    codes: tuple[str, ...] = ()  # 6G, L3, IPv6: identifiers the evidence must contain exactly
    parts: tuple[str, ...] = ()  # 首期, 首批: the figure must be about that part
    counted: str | None = None  # 多少家企业 → 企业: what a count must count
    stance: str | None = None  # target, actual or cap when the question asks for one
    # more than one figure: "trend" (one row a year of ``span``), "max"/"min" (the row or
    # subject with the largest/smallest figure), "stances" (one figure per stance asked)
    aggregation: str = "single"
    span: tuple[int, int] | None = None  # 2008年至2013年 → (2008, 2013)
    row_years: tuple[str, ...] = ()  # 2012年和2013年…哪年更多: the years compared, one row each
    stances: tuple[str, ...] = ()  # 预期目标和实际 → ("target", "actual")
    which_year: bool = False  # 哪一年: the answer is a year, found through its figure
    # a multi-part question's parts, each a question of its own (label, text):
    # 补贴比例和上限是多少 → 补贴比例是多少, 补贴上限是多少
    pieces: tuple[tuple[str, str], ...] = ()
    # 1955年…比1954年增长多少: years named as the comparison base, not asked about
    base_years: tuple[str, ...] = ()
    # a plan or decade named where no year is (“十五”期间 → (2001, 2005)): the figure asked is
    # one over that whole span (年均增长, 年平均产量), not one of its years
    period_span: tuple[int, int] | None = None

    @property
    def numeric(self) -> bool:
        return bool(self.kinds)


def place_core(place: str) -> str:
    """``北京市`` → ``北京``: the part a passage is sure to contain."""
    return places.short_form(place)  # the one place normaliser


def find_places(text: str) -> list[str]:
    """Place names in a text: Chinese names from the gazetteer, English ones (pinyin or
    dictionary names such as "Beijing", "Shandong") through the dictionary."""
    norm = normalize(text)
    out = [p for p in places.find(norm) if p not in _GENERIC_PLACES]
    if has_english(norm):
        known = places.gazetteer()
        for phrase, zh in expand_groups(norm):
            if not re.search(r"\b" + re.escape(phrase) + r"\b", norm, re.I) or not any(
                w[:1].isupper() for w in re.findall(re.escape(phrase), norm, re.I)
            ):
                continue
            # several places share a pinyin name (苏州, 宿州): take the most common one
            cands = sorted((c for c in zh if c in known), key=lambda c: -jieba.dt.FREQ.get(c, 0))
            if cands and cands[0] not in out:
                out.append(cands[0])
    return out


def _intent(text: str) -> str:
    for name, pattern in _INTENTS:
        if pattern.search(text):
            return name
    return "what"


def _terms(text: str, places: list[str], english: bool,
           figures: tuple[Figure, ...]) -> tuple[tuple[str, ...], ...]:
    """Content terms that the evidence should contain (places, figures and asking words
    excluded: they are checked on their own)."""
    cores = {place_core(p) for p in places} | set(places)
    for f in figures:
        text = text.replace(f.text, " ")
    out: list[tuple[str, ...]] = []
    seen: set[str] = set()
    nation = frozenset(vocab.data("evidence_words")["nation_words"])
    products = frozenset(vocab.data("evidence_words")["product_chars"])
    if english:
        for phrase, zh in expand_groups(text):
            words = phrase.split()
            if phrase.lower() in nation or set(zh) & nation:
                continue
            if all(w in _ASKING or w in QUERY_STOPWORDS for w in words):
                continue
            alts = tuple(z for z in zh if z not in cores)
            if alts and not (set(zh) & cores):
                out.append(alts)
    for tok in tokenize(_YEAR_WITH_NIAN.sub(" ", text)):
        if (
            tok in seen
            or tok in _ASKING
            or tok in QUERY_STOPWORDS
            or tok in cores
            or tok in nation
            or any(tok in c for c in cores)
            or re.fullmatch(r"[\d.,%]+", tok)
            or (english and re.fullmatch(r"[a-z]+", tok))
            or (len(tok) < 2 and tok not in products)
        ):
            continue
        seen.add(tok)
        if re.fullmatch(r"[a-z]{2,}", tok):
            # 2013年我国GDP总量: the reports write 国内生产总值, so the Latin word of a
            # Chinese question takes its Chinese forms as alternatives (as English ones do)
            zh = [z for _, words in expand_groups(tok) for z in words]
            out.append((tok, *zh))
            continue
        out.append(_with_synonyms([tok]))
    # drop a term contained in a longer one (jieba search mode yields 机器, 机器人)
    flat = [t[0] for t in out]
    return tuple(t for t in out if not (len(t) == 1 and any(t[0] != o and t[0] in o for o in flat)))


# a year cut out of a question with its 年 (2014年拟安排 would tokenise as 年拟), but not
# the 年 of a word that follows it and is asked about (2007年末, 2012年底, 年均)
_YEAR_WITH_NIAN = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)(?:年(?!均|底|末|初|度|中|内|间))?")
_CODE = re.compile(r"[a-z]+\d+[a-z\d\-]*|\d+[a-z]+[a-z\d\-]*")
_COUNTED = re.compile(r"(?:多少|几)(?:个|家|项|条|座|所|名|批|种|大|款|只|类|位)?"
                      r"([\u4e00-\u9fffA-Za-z0-9]{2,})")


def _counted(text: str) -> str | None:
    """The noun a count question counts: 多少家企业 → 企业, 多少个榜单项目 → 榜单."""
    m = _COUNTED.search(text)
    if not m:
        return None
    for word in jieba.cut(m.group(1)):
        if len(word) >= 2 and re.fullmatch(r"[\u4e00-\u9fff]+", word) and word not in _ASKING:
            return word
    return None


_ASK_AT = re.compile(_ASKING_DATA["ask_at"]["pattern"], re.I)


def _focus(text: str, terms: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, float], ...]:
    """Each term's weight, 1 plus up to 3 by its closeness to the asking word."""
    low = text.lower()
    spots = [m.span() for m in _ASK_AT.finditer(low)]
    out: list[tuple[str, float]] = []
    for alts in terms:
        t = alts[0]
        dist = min(
            (max(a - m.end(), m.start() - b, 0) for m in re.finditer(re.escape(t), low)
             for a, b in spots),
            default=None,
        )
        out.append((t, 1.0 + 3.0 / (1.0 + dist / 2.0) if dist is not None else 1.0))
    return tuple(out)


@lru_cache(maxsize=1)
def _stance_words() -> dict[str, tuple[str, ...]]:
    raw = vocab.data("question_stance")
    return {k: tuple(v) for k, v in raw.items()
            if not k.startswith("_") and k not in ("perfect_verbs", "future_modals")}


def _stance_at(low: str, stance: str, words: Sequence[str]) -> list[int]:
    """Where the stance's words stand in ``low``; a result word right after a future modal
    (要实现, 将完成) is a plan's and not counted (``future_modals``)."""
    modals = tuple(vocab.data("question_stance").get("future_modals", ()))
    return [m.start() for w in words for m in re.finditer(
        r"\b" + re.escape(w) + r"\b" if w.isascii() else re.escape(w), low)
        if stance != "actual" or not low[:m.start()].endswith(modals)]


def asked_stance(text: str) -> str | None:
    """The stance a question asks for: the earliest stance word in it (目标 → target,
    实际 → actual, 上限 → cap), English words as whole words, none inside a title (the 计划
    of 《…行动计划》 names a document); None when it says none."""
    low = untitled(text).lower()
    best: tuple[int, str] | None = None
    for stance, words in _stance_words().items():
        at = _stance_at(low, stance, words)
        if at and (best is None or min(at) < best[0]):
            best = (min(at), stance)
    if best is None:
        verbs = "|".join(map(re.escape, vocab.data("question_stance")["perfect_verbs"]))
        if re.search(rf"\bdid\b(?:\s+[\w']+){{0,6}}?\s+(?:{verbs})\b", low):
            return "actual"
    return best[1] if best else None


def _aggregation_words() -> dict[str, Any]:
    return vocab.data("aggregation")


def has_word(low: str, words: Sequence[str]) -> bool:
    """Whether lower-cased ``low`` holds one of ``words`` (English ones as whole words)."""
    return any((re.search(r"\b" + re.escape(w) + r"\b", low) if w.isascii() else w in low)
               for w in words)


def _span_match(text: str) -> re.Match[str] | None:
    words = _aggregation_words()
    conn = "|".join(re.escape(c) for c in words["span_connectors"]) + r"|\bto\b|\band\b"
    return re.search(r"(?:\b(?:from|between)\s+)?((?:19|20)\d{2})\s*年?\s*(?:" + conn
                     + r")\s*((?:19|20)\d{2})(?!\d)\s*年?", text, re.I)


_TITLE = re.compile(r"《[^《》]*》")


def untitled(text: str) -> str:
    """``text`` with every title 《…》 blanked out (same length)."""
    return _TITLE.sub(lambda t: " " * len(t.group(0)), text)


def named_span(text: str) -> tuple[int, int] | None:
    """The span of a five-year plan or decade the text names without a year (the plan
    table of ``rag/data/periods.json``): `“十五”期间` → (2001, 2005) (2006 report: `“十五”期间
    …年均增长9.5%`), `“六五”时期` → (1981, 1985) (1986 report: `“六五”时期…粮食的年平均产量`).
    None when the text names a year, or a span only a document date resolves (过去五年)."""
    if _YEAR.search(text):
        return None
    for _, _, period in find_time_expressions(text):
        if period is not None and (span := period.years())[0] != span[1]:
            return span
    return None


def year_span(text: str) -> tuple[int, int] | None:
    """A span of years the question names: 2008年至2013年, 2009到2014年, from 2010 to 2014.
    Not one inside a title, which names a document (《合肥市智能机器人产业发展行动计划
    (2024—2026年)》 on the seed page; the 1981 report's 《１９８２年…计划要点》 likewise dates
    itself): asked about such a plan, a question asks one figure, not a row a year, and
    its figure need not name those years (the title's words still steer the search)."""
    m = _span_match(untitled(text))
    if not m:
        return None
    a, b = int(m.group(1)), int(m.group(2))
    if not a < b or b - a >= int(_aggregation_words()["max_rows"]):
        return None
    if re.search(r"\band\b", m.group(0), re.I) and not re.search(r"\bbetween\b", m.group(0), re.I):
        return None  # "2012 and 2013" names two years, not a span
    return a, b


def _aggregation(low: str, span: tuple[int, int] | None,
                 stances: tuple[str, ...], has_filter: bool = False) -> tuple[str, bool]:
    words = _aggregation_words()
    which_year = has_word(low, words["which_year"])
    if has_filter and (has_word(low, words["count_years"]) if span is not None
                       else has_word(low, words["count_subjects"])):
        return "count", False
    if span is not None and not has_word(low, [*words["cumulative"], *words["span_average"]]):
        if which_year and has_word(low, words["max"]):
            return "max", True
        if which_year and has_word(low, words["min"]):
            return "min", True
        return "trend", which_year
    if len(stances) >= 2:
        return ("difference" if has_word(low, words["difference"]) else "stances"), which_year
    if which_year or has_word(low, words["which"]):
        if has_word(low, words["max"]):
            return "max", which_year
        if has_word(low, words["min"]):
            return "min", which_year
    return "single", which_year


def asked_stances(text: str) -> tuple[str, ...]:
    """Every stance a question names, in order of first mention: 预期目标和实际增长 asks for
    the target and the result; a cap word alone is left to ``bound``; a title's words are
    a name (:func:`asked_stance`)."""
    low = untitled(text).lower()
    found: list[tuple[int, str]] = []
    for stance, ws in _stance_words().items():
        if stance == "cap":
            continue
        at = _stance_at(low, stance, ws)
        if at:
            found.append((min(at), stance))
    return tuple(s for _, s in sorted(found))


# the words that ask for a figure, a date or a choice: a clause without one is not a part
# of its own, and a question without one (2024年经济增长目标) is a query of keywords
_ASKS = re.compile(_ASKING_DATA["asks"]["pattern"], re.I)


def _strip_words(text: str, words: Sequence[str]) -> str:
    for w in sorted(words, key=len, reverse=True):
        text = re.sub(r"\b" + re.escape(w) + r"\b", " ", text, flags=re.I) if w.isascii() \
            else text.replace(w, "")
    return re.sub(r"\s{2,}", " ", text).strip()


def filter_figures(q: Question) -> list[Figure]:
    """The figures a counting question checks its rows against (一共有几个城市设立了
    100亿元的基金 → 100亿元): the question's figures other than bare years."""
    return [f for f in q.figures if not _YEAR.fullmatch(f.text)]


def sub_questions(q: Question) -> list[tuple[str, Question]]:
    """The single-figure questions an aggregate question is made of, each with its row
    label: one a year for a trend or a which-year superlative, one a stance for
    预期目标和实际. Empty for a single question."""
    words = _aggregation_words()
    out: list[tuple[str, Question]] = []
    if q.span is not None:
        drop = list(words["per_year"]) + list(words["which_year"])
        if q.aggregation in ("max", "min"):
            drop += list(words["max"]) + list(words["min"])
        base = q.text
        if q.aggregation == "count":
            # each year asks for its figure; the filter figure is what the rows are
            # checked against, not a word of the sub-question
            drop += list(words["count_years"])
            for f in filter_figures(q):
                base = re.sub(r"(?:是|为|达到|定为|设为|in|was|of)?\s*" + re.escape(f.text)
                              + r"(?:左右)?", "", base)
        for year in range(q.span[0], q.span[1] + 1):
            said = f" in {year} " if q.english else f"{year}年"
            mm = _span_match(base)
            text = base[:mm.start()] + said + base[mm.end():] if mm else said + base
            text = _strip_words(text, drop)
            if not _ASKS.search(text):
                text = text.rstrip("?？。 ") + ("?" if q.english else "是多少?")
            out.append((str(year) if q.english else f"{year}年", analyse(text)))
    elif q.row_years:
        # each year compared is its own question: the other years taken out of the text
        drop = [*words["more"], *words["less"], *words["which_year"], *words["per_year"],
                *words["difference"]]
        for yr in q.row_years:
            text = q.text
            for other in q.row_years:
                if other == yr:
                    continue
                joined = rf"(?:和|与|及|、|比|\b(?:and|or)\b|\bthan(?:\s+in)?\b)\s*{other}年?"
                text = re.sub(joined, "", text) if re.search(joined, text) else re.sub(
                    rf"(?:\bin\s+)?{other}年?\s*(?:和|与|及|、|比|\b(?:and|or)\b)?\s*", "", text)
                # the comparison's frame, left without its year: 比2012年 → 2012年
                text = re.sub(r"^\s*比|\bthan(?:\s+in)?\s*(?=[?？]|$)|\bthan\s+(?=in\s+\d{4})", "",
                              text)
            text = _strip_words(text, drop)
            text = re.sub(r"[?？]\s*(?=是多少)", "", text)
            if not _ASKS.search(text):
                text = text.rstrip("?？。 ") + ("?" if q.english else "是多少?")
            out.append((f"{yr}年" if not q.english else yr, analyse(text)))
    elif q.aggregation == "parts":
        out = [(label, analyse(text)) for label, text in q.pieces]
    elif q.stances:
        words_of = _stance_words()
        for stance in q.stances:
            others = {w for st, ws in words_of.items() if st != stance for w in ws}
            # the other stance's words are not this figure's terms (实际 is not in the
            # sentence of the target)
            terms = tuple(t for t in q.terms if not any(a in others or any(
                (o in a or a in o) for o in others if len(o) > 1 and len(a) > 1) for a in t))
            sub = replace(q, stance=stance, aggregation="single", stances=(), terms=terms,
                          focus=tuple(f for f in q.focus if any(f[0] == t[0] for t in terms)))
            out.append((_STANCE_LABELS[stance][1 if q.english else 0], sub))
    return out


_PAIR = re.compile(r"(?:和|及|与|以及)(?=[^,，。？?]*(?:分别|各自|各是)|[\u4e00-\u9fff]{1,6}?"
                   r"(?:分别|各自|各)?(?:是|为|有)?(?:多少|几|什么|何时))")
_CLAUSES = re.compile(r"[,，;；]")
_PAIR_TAIL = re.compile(r"的?(?:分别|各自|各)?(?:是|为|有)?(?:多少|几|什么|何时)|的?(?:分别|各自|各是)")
_YEAR_LEAD = re.compile(r"(?:(?:19|20)\d{2}年)+")


def _year_lead(body: str) -> str:
    lead = _YEAR_LEAD.match(body)
    return lead.group() if lead else ""


def _stance_head(word: str) -> bool:
    """A stance word (目标, 计划, 上限…) that ends a metric phrase, as its head."""
    return any(word == w for words in _stance_words().values() for w in words)


def _pieces(text: str, places: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The parts of a multi-part question: clauses that each ask (总规模多少,何时进入投资阶段;
    the later ones get the first one's subject), or a pair joined by 和 before the asking
    word or with 分别 (比例和上限是多少, 小麦和稻谷…分别提高多少)."""
    body = text.rstrip("?？。 ")
    clauses = [c.strip() for c in _CLAUSES.split(body) if c.strip()]
    if len(clauses) >= 2 and all(_ASKS.search(c) for c in clauses):
        subject = _subject_phrase(clauses[0], tuple(places)) or ""
        out = []
        for i, c in enumerate(clauses):
            full = c if i == 0 or (subject and subject in c) else subject + c
            ask = _ASKS.search(c)
            label = c[:ask.start()] if ask and ask.start() > 0 else c
            if subject and label.startswith(subject):
                label = label[len(subject):]
            out.append((label.strip("的是为 ") or c, full + "?"))
        return tuple(out)
    m = _PAIR.search(body)
    if not m:
        return ()
    before = list(jieba.cut(body[:m.start()]))
    after = list(jieba.cut(body[m.end():]))
    if not before or not after:
        return ()
    a, b = before[-1], after[0]
    if not (re.fullmatch(r"[\u4e00-\u9fffA-Za-z]{2,}", a) and re.fullmatch(r"[\u4e00-\u9fffA-Za-z]{2,}", b)):
        return ()  # 2012年和2013年: years are compared, not parts
    tail = _PAIR_TAIL.search(body, m.end())
    phrase = body[m.end():tail.start()] if tail else ""
    first = body[len(_year_lead(body)):m.start()]
    if (len(phrase) > len(a) and phrase.endswith(a)) or (
            len(first) > len(a) and len(phrase) > len(b) and _stance_head(a)):
        # two whole phrases with one head word (国内生产总值增长目标和城镇新增就业目标分别是
        # 多少, as 财政收入预算和财政支出预算), or a first phrase ended by a stance word that
        # no shared tail follows (城镇新增就业目标和城镇登记失业率分别是多少: not 目标 and
        # 城镇): each part is its phrase, the year kept
        years = _year_lead(body)
        rest = re.sub(r"分别|各自", "", body[tail.start():]) if tail else ""
        return ((first, f"{years}{first}{rest}?"), (phrase, f"{years}{phrase}{rest}?"))
    if not re.search(r"分别|各自|各是", body) and tail and body[m.end() + len(b):tail.start()]:
        # 研究与实验发展经费是多少: B runs on into the noun that A is part of, so A与B is one
        # name (研究与实验发展, 科学与技术…), not two things asked (比例和上限是多少)
        return ()
    head = body[:m.start() - len(a)]
    rest = re.sub(r"分别|各自", "", body[m.end() + len(b):])
    return ((a, f"{head}{a}{rest}?"), (b, f"{head}{b}{rest}?"))


_STANCE_LABELS = {"target": ("目标", "target"), "actual": ("实际", "actual"),
                  "cap": ("上限", "cap")}


@lru_cache(maxsize=512)
def analyse(text: str) -> Question:
    """Work out what a question asks and about what. Memoised (a Question is frozen): the
    engine, retrieval's figure ranking and the evidence features share one analysis of a
    question per ask instead of each redoing it."""
    norm = normalize(text).strip()
    english = has_english(norm) and not re.search(r"[\u4e00-\u9fff]", norm)
    intent = _intent(norm)
    if intent == "what" and not _ASKS.search(norm) and not _OVERVIEW.search(norm) and (
            _YEAR.search(norm) or asked_stances(norm)):
        intent = "quantity"  # a query of keywords for a figure: 2024年经济增长目标
    places = find_places(norm)
    figures = tuple(f for f in extract_figures(norm) if f.kind != "date")
    # a title's years name the document (《…行动计划(2024—2026年)》), not a period asked
    plain = untitled(norm)
    years = tuple(dict.fromkeys(_YEAR.findall(plain)))
    kinds = INTENT_KINDS.get(intent, ())
    if intent in ("compare", "list"):
        named = next((k for pat, k in _LIST_KINDS if pat.search(norm)), None)
        if named is not None:
            kinds = named
        elif figures:
            kinds = (figures[0].kind,)
    bound = next((b for pat, b in _BOUNDS if pat.search(norm)), None)
    terms = _terms(norm, places, english, figures)
    low = norm.lower()
    span = year_span(norm)
    stances = asked_stances(norm)
    aggregation, which_year = _aggregation(
        low, span, stances, has_filter=any(not _YEAR.fullmatch(f.text) for f in figures))
    if span is not None and aggregation in ("trend", "max", "min", "count"):
        years = tuple(y for y in years if not span[0] <= int(y) <= span[1])
    row_years: tuple[str, ...] = ()
    words = _aggregation_words()
    if aggregation == "single" and len(years) == 2 and not places and has_word(
            low, words["difference"]):
        aggregation = "difference"
        row_years, years = years, ()
    base_years: tuple[str, ...] = ()
    if aggregation == "single" and len(years) >= 2:
        base_years = tuple(y for y in years if _is_base_year(norm, y))
        if len(base_years) == len(years):
            base_years = ()
    if base_years and not has_word(low, [*words["more"], *words["less"], *words["per_year"]]):
        years = tuple(y for y in years if y not in base_years)
    else:
        base_years = ()
    if aggregation == "single" and len(years) >= 2 and not places and (
            intent == "compare" or has_word(low, words["per_year"])
            or has_word(low, [*words["more"], *words["less"]])):
        aggregation = "min" if has_word(low, words["less"]) else (
            "max" if has_word(low, words["more"]) else "trend")
        row_years, years = years, ()
    if aggregation == "difference":
        terms = tuple(t for t in terms if not any(t[0] in w for w in words["difference"]))
    if aggregation == "count":
        # 一共有几个城市: the counting words are the question's, no passage's terms
        counting = {*words["cumulative"], *words["count_words"]}
        terms = tuple(t for t in terms if t[0] not in counting)
    pieces: tuple[tuple[str, str], ...] = ()
    if aggregation == "single" and intent not in ("compare", "list"):
        pieces = _pieces(norm, places)
        # only figure questions are split: each part is answered by a scored figure
        if pieces and all(INTENT_KINDS.get(_intent(t)) for _, t in pieces):
            aggregation = "parts"
        else:
            pieces = ()
    return Question(
        aggregation=aggregation,
        pieces=pieces,
        row_years=row_years,
        base_years=base_years,
        period_span=named_span(plain),
        span=span if aggregation in ("trend", "max", "min", "count") else None,
        stances=stances if aggregation in ("stances", "difference") else (),
        which_year=which_year,
        codes=tuple(dict.fromkeys(c for c in _CODE.findall(low) if not c.isdigit())),
        parts=_with_synonyms(w for w in vocab.data("evidence_words")["part_words"] if w in norm),
        counted=_counted(norm) if intent == "count" else None,
        stance=asked_stance(norm),
        focus=_focus(norm, terms),
        bound=bound,
        text=norm,
        english=english,
        intent=intent,
        kinds=kinds,
        places=tuple(places),
        years=years,
        figures=figures,
        terms=terms,
    )


def _with_synonyms(words: Iterable[str]) -> tuple[str, ...]:
    """The words with their synonyms (``evidence_words.json``), in order, each once."""
    groups = vocab.data("evidence_words")["synonyms"]
    out: list[str] = []
    for w in words:
        out.append(w)
        for g in groups:
            if w in g:
                out.extend(g)
    return tuple(dict.fromkeys(out))


def _is_base_year(norm: str, year: str) -> bool:
    """The year is named as a comparison base (比1954年, 较上年, 与2012年相比): the figure
    store's base markers (``periods.json``), read the same way for questions as for
    passages, so that 1955年…比1954年增长多少 asks about 1955 alone."""
    marks = vocab.data("periods")["base_markers"]
    for m in re.finditer(rf"(?<!\d){year}年?", norm):
        before = norm[max(0, m.start() - 3):m.start()]
        if any(before.endswith(w) for w in marks["before"]):
            return True
        after = norm[m.end():m.end() + 4]
        if any(before.endswith(w) for w in marks["paired_before"]) and any(
                after.startswith(w) for w in marks["paired_after"]):
            return True
    return False


def _followup_words() -> dict[str, Any]:
    return vocab.data("followup")


def _word_re(words: Sequence[str]) -> re.Pattern[str]:
    alts = sorted(words, key=len, reverse=True)
    return re.compile("|".join(r"\b" + re.escape(w) + r"\b" if w.isascii() else re.escape(w)
                               for w in alts), re.I)


def _subject_phrase(previous: str, places: tuple[str, ...]) -> str | None:
    """The previous question's subject: from its first place (or the start of the name) to
    the end of its last name with a subject suffix (南京的机器人基金), else its places."""
    suffix = _word_re(vocab.subject_suffixes() + tuple(_followup_words()["subject_suffixes_en"]))
    ends = [m.end() for m in suffix.finditer(previous)]
    mentions = [previous.find(p) for p in _place_mentions(previous, places)]
    mentions = [i for i in mentions if i >= 0]
    if ends:
        end = ends[-1]
        starts = [i for i in mentions if i < end]
        if starts:
            start = min(starts)
        else:
            start = end
            while start > 0 and re.match(r"[\u4e00-\u9fffA-Za-z0-9]", previous[start - 1]) \
                    and end - start < 16:
                start -= 1
        phrase = previous[start:end].strip()
        if not starts and phrase.isascii():
            return None  # People's Bank of China: an English name is not cut at a space
        if _ASK_AT.search(phrase):
            return None  # 南京市设立了什么基金: the name is what was asked, not known
        return phrase or None
    return "、".join(places) if places else None


def _place_mentions(text: str, places: tuple[str, ...]) -> list[str]:
    """How each place of the previous question is written in it (Chinese or English)."""
    out: list[str] = []
    for p in places:
        if p in text:
            out.append(p)
            continue
        for phrase, zh in expand_groups(text):
            if p in zh:
                for form in (phrase.title(), phrase, phrase.upper()):
                    m = re.search(re.escape(form) + r"(?:'s)?", text, re.I)
                    if m:
                        out.append(m.group(0))
                        break
                break
    return out
