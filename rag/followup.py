"""Follow-up turns of a conversation made self-contained: an elliptical turn (``那成都呢?``,
``去年的呢``, ``目标呢``) rewritten from the previous question, with a place, year, stance or
topic swapped or a pronoun (它, 该基金) resolved, and relative years (今年, 去年) read at the
newest document's date.

Apart from :mod:`rag.question`, which analyses one question on its own: this module reads a
turn against the one before it. It builds on that analysis (it imports from
:mod:`rag.question`, never the reverse), and the words it uses are in ``followup.json``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rag import vocab
from rag.question import (
    _ASK_AT,
    _ASKS,
    _YEAR,
    Question,
    _followup_words,
    _place_mentions,
    _stance_words,
    _strip_words,
    _subject_phrase,
    _word_re,
    analyse,
    asked_stance,
    find_places,
    has_word,
)
from rag.text import normalize

_ELLIPSIS = re.compile(r"^(那|那么|还有|另外|然后|and|what about|how about)|(呢|的呢)[?？。.!！]*$",
                       re.I)


def is_elliptical(text: str) -> bool:
    """A follow-up that only makes sense with the previous question (``那成都呢?``)."""
    norm = normalize(text).strip()
    if _ELLIPSIS.search(norm):
        return True
    q = analyse(norm)
    return len(norm) <= 8 and not q.terms and bool(q.places or q.years)


def _resolve_pronoun(question: str, previous: str) -> str | None:
    """A question that points back (它, 其, 该基金, it) with the pronoun replaced by the
    previous question's subject; None when it has no pronoun or there is no subject."""
    norm = normalize(question).strip()
    m = _word_re(_followup_words()["pronouns"]).search(norm)
    if not m:
        return None
    subject = _subject_phrase(normalize(previous).strip(), analyse(previous).places)
    if not subject:
        return None
    word = m.group()
    tail = "的" if word.endswith("的") or word in ("其", "its") else ""
    if word.lower() in ("its",) and not re.search(r"[\u4e00-\u9fff]", subject):
        tail = "'s"
    return norm[:m.start()] + subject + tail + norm[m.end():]


def anchor_years(question: str, year: int | None, *, current_only: bool = False) -> str | None:
    """The question with 今年/去年/明年 (this/last/next year) written as the year they mean
    when "now" is ``year`` (the newest document's), or None when nothing changes: the
    question names a year itself, says no such word, or uses it as a comparison base
    (比去年增长多少, 与去年相比). ``followup.json`` ``anchored_years`` holds the words and
    offsets; ``current_only`` anchors only 今年/this year (a follow-up's 去年 moves the
    previous question's year instead)."""
    if year is None:
        return None
    norm = normalize(question).strip()
    if _YEAR.search(norm):
        return None
    words = _followup_words()
    table: dict[str, int] = words["anchored_years"]
    bases = tuple(words["comparison_before"])
    around: dict[str, list[str]] = words["anchored_not_around"]
    # characters that make the word part of another one (目前年均, 提前年底, 当前年份): the
    # same table the figure store's time expressions use
    not_after: dict[str, str] = vocab.data("periods")["relative_not_after"]
    pattern = _anchored_pattern(current_only)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(norm):
        word = m.group()
        before = norm[:m.start()].rstrip().lower()
        prev_char = norm[m.start() - 1] if m.start() > 0 else ""
        next_char = norm[m.end()] if m.end() < len(norm) else ""
        not_before, not_next = around.get(word, ["", ""])
        if (before.endswith(bases) and not before.endswith("比较")) \
                or (prev_char and prev_char in not_after.get(word, "") + not_before) \
                or (next_char and next_char in not_next):
            continue
        absolute = str(year + table[word.lower()])
        if word.isascii():
            attached = next_char in ("'", "’", "-")  # this year's, this year-end
            prep = re.search(r"\b(in|of|for|during|by|since|from|to|until|till|before|after|"
                             r"at|through)\s*$", before)
            absolute = absolute if attached or prep else f"in {absolute}"
        else:
            absolute += "年"
        out.append(norm[last:m.start()] + absolute)
        last = m.end()
    if not out:
        return None
    return "".join(out) + norm[last:]


@lru_cache(maxsize=2)
def _anchored_pattern(current_only: bool) -> re.Pattern[str]:
    """The anchored words of ``followup.json`` (only those meaning "now" if ``current_only``),
    longest first, English as whole words."""
    table = {w: d for w, d in _followup_words()["anchored_years"].items()
             if d == 0 or not current_only}
    return re.compile("|".join((rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w))
                               for w in sorted(table, key=len, reverse=True)), re.I)


def resolve_turn(turn: str, previous: str | None, now: int | None) -> str | None:
    """A turn of a conversation made self-contained, or None when it stood alone: its
    relative years read at ``now`` (:func:`anchor_years`), then the follow-up rewrite
    (:func:`rewrite`). A follow-up after a question that names a year keeps its 去年/明年 for
    the rewrite, which moves that question's year (2014年… + 去年的呢 → 2013年…); its 今年
    still means ``now``."""
    elliptical_after_year = bool(previous) and bool(_YEAR.search(normalize(previous or ""))) \
        and is_elliptical(turn)
    anchored = anchor_years(turn, now, current_only=elliptical_after_year)
    return rewrite(anchored or turn, previous) or anchored


def _shift_year(fragment: str, previous: str, old: Question) -> str | None:
    """去年的呢 after a 2014 question asks about 2013."""
    if not old.years:
        return None
    for word, delta in sorted(_followup_words()["relative_years"].items(), key=lambda kv: -len(kv[0])):
        if has_word(fragment.lower(), [word]):
            year = old.years[0]
            return previous.replace(year, str(int(year) + int(delta)))
    return None


def _swap_stance(fragment: str, previous: str) -> str | None:
    """目标呢 / 实际呢 / and the target? after a question about the same figure: the
    previous question with its stance word replaced (or added before the asking word)."""
    words = _stance_words()
    rest = _strip_words(fragment.lower(), _followup_words()["stance_only"])
    rest = re.sub(r"[?？。!！,，\s]", "", rest)
    stance = next((st for st, ws in words.items() if st != "cap" and rest in
                   {w.lower().replace(" ", "") for w in ws}), None) if rest else None
    if stance is None:
        return None
    new_word = next(w for w in words[stance] if not w.isascii()) if re.search(
        r"[\u4e00-\u9fff]", previous) else rest
    others = _word_re([w for st, ws in words.items() if st != stance for w in ws])
    m = others.search(previous)
    if m:
        w = m.group()
        if w.endswith("了"):  # 增长了多少 names the change: 增长的预期目标是多少
            repl = f"{w[:-1]}的{new_word}" + ("是" if previous[m.end():].startswith("多少") else "")
        else:
            repl = new_word
        return previous[:m.start()] + repl + previous[m.end():]
    ask = _ASK_AT.search(previous)
    if not ask:
        return None
    head = previous[:ask.start()].rstrip("了的是")
    return f"{head}的{new_word}是{previous[ask.start():]}" if not previous.isascii() else None


def _stance_fragment(rest: str, previous: str) -> str | None:
    """The stance word a follow-up's remainder consists of, beside words the previous
    question already has (计划增长 after …增长了多少 → 计划); None otherwise."""
    low = _strip_words(rest.lower(), _followup_words()["stance_only"])
    low = re.sub(r"[?？。!！,，\s]", "", low)
    if not low:
        return None
    prev = normalize(previous).lower()
    for words in _stance_words().values():
        for w in sorted(words, key=len, reverse=True):
            w = w.lower()
            if w in low and all(ch in prev for ch in low.replace(w, "", 1)):
                return w
    return None


def _swap_metric(fragment: str, previous: str, old: Question) -> str | None:
    """那城镇新增就业呢 after 2013年国内生产总值增长了多少: the previous question with its
    topic (what stands between its year/place and its asking word) replaced."""
    products = vocab.data("evidence_words")["product_chars"]
    if not (re.fullmatch(r"[\u4e00-\u9fffA-Za-z0-9]{2,20}", fragment) or fragment in products):
        return None  # 钢呢, 煤呢: one character names a product in the reports (not 它, 个)
    ask = _ASK_AT.search(previous)
    if not ask:
        return None
    lead = 0
    for y in old.years:
        at = previous.find(y)
        if at >= 0:
            lead = max(lead, at + len(y) + (1 if previous[at + len(y):at + len(y) + 1] == "年" else 0))
    for p in _place_mentions(previous, old.places):
        at = previous.find(p)
        if at >= 0:
            lead = max(lead, at + len(p))
    end = ask.start()
    while end > lead and previous[end - 1] in "了的是有":
        end -= 1
    if end - lead < 2:
        return None
    fragment = _strip_part_lead(fragment)
    # the topic's noun only: a plan word or a comparison after it stays (1956年工业生产总值
    # 计划比1955年增长多少 + 其中钢呢 → 1956年钢计划比1955年增长多少)
    tail = _topic_tail(previous[lead:end])
    keep = previous[lead + tail:] if tail else previous[ask.start():]
    if not fragment:
        return None
    out = previous[:lead] + fragment + keep
    if old.stance and asked_stance(out) is None:
        # 城镇新增就业呢 after …增长了多少 still asks for the result
        word = next(w for w in _stance_words()[old.stance] if not w.isascii())
        out = previous[:lead] + fragment + word + previous[ask.start():]
    return out


_COMPARED = re.compile(r"(?:比|较|同|与)(?=(?:19|20)\d{2}|上|去|前)")


def _topic_tail(topic: str) -> int | None:
    """Where the noun of a question's topic ends: at its first plan or cap word (计划, 预期
    目标, 上限) or comparison (比1955年); None when the whole topic is the noun. Result
    words are not a tail: 增长了 after 国内生产总值 is part of what was asked about."""
    plan = [w for st in ("target", "cap") for w in _stance_words()[st] if not w.isascii()]
    cuts = [m.start() for m in _COMPARED.finditer(topic)]
    cuts += [m.start() for w in plan for m in re.finditer(re.escape(w), topic)]
    cuts = [i for i in cuts if i >= 2]
    if not cuts:
        return None
    cut = min(cuts)
    # the tail may hold only plan words, the comparison and the change: in 的政府工作报告拟
    # 安排中央财政赤字 the noun comes after 拟, so the whole topic is replaced
    rest = re.sub(r"(?:比|较|同|与)(?:(?:19|20)\d{2}年?|上一?年|去年|前年)", "", topic[cut:])
    rest = _strip_words(rest, plan + list(vocab.data("facts")["metric"]["change_verbs"]))
    return cut if not re.sub(r"[的了是为]", "", rest) else None


def _strip_part_lead(fragment: str) -> str:
    """其中钢 → 钢: in a follow-up, 其中 points back at the previous question's whole."""
    for w in sorted(_followup_words()["part_leads"], key=len, reverse=True):
        if fragment.startswith(w):
            return fragment[len(w):]
    return fragment


_WHO_WHERE = re.compile(r"谁|哪里|\b(?:who|where)\b", re.I)


def _standalone(question: str, rest: str, previous: str, old: Question) -> str | None:
    """A follow-up that asks a whole question of its own (And how much did GDP actually grow
    that year?): the question itself, its pronoun resolved, its 那年/that year the previous
    question's year, and that year added when it names none. None when it asks nothing."""
    if not (_ASKS.search(rest) or _WHO_WHERE.search(rest)) or not analyse(rest).terms:
        return None
    out = normalize(question).strip()
    if old.years:
        year = old.years[0]
        m = _word_re(_followup_words()["same_year"]).search(out)
        if m:
            word = m.group()
            prep = re.search(r"\b(?:in|during|for|of)\s+$", out[:m.start()], re.I)
            repl = (year if prep else f"in {year}") if word.isascii() else f"{year}年"
            out = out[:m.start()] + repl + out[m.end():]
    out = re.sub(_ELLIPSIS, "", out).strip(" ?？。.")
    resolved = _resolve_pronoun(out, previous)
    english = not re.search(r"[\u4e00-\u9fff]", out)
    if resolved:
        out = resolved
    elif not english and old.places and not find_places(out):
        # 那规模是多少 after 南京的机器人基金什么时候成立: still about 南京's fund
        subject = _subject_phrase(normalize(previous).strip(), old.places)
        out = f"{subject}的{out}" if subject else out
    if old.years and not _YEAR.search(out):
        out = f"{out} in {old.years[0]}" if english else f"{old.years[0]}年{out}"
    return out.rstrip("?？。. ") + "?"


def rewrite(question: str, previous: str | None) -> str | None:
    """The follow-up made self-contained from the previous question, or None if it already
    is. ``北京机器人基金规模多大?`` + ``那成都呢?`` → ``成都机器人基金规模多大?``; a slot
    swapped (place, year, relative year, stance, topic) or a pronoun resolved (它, 该基金)."""
    if not previous or not previous.strip():
        return None
    if not is_elliptical(question):
        return _resolve_pronoun(question, previous)
    new = analyse(question)
    old = analyse(previous)
    result = normalize(previous).strip()
    changed = False
    if new.places:
        old_mentions = _place_mentions(result, old.places)
        if old_mentions:
            chinese = bool(re.search(r"[\u4e00-\u9fff]", result))
            new_forms = list(new.places) if chinese and new.english else (
                _place_mentions(normalize(question), new.places) or list(new.places))
            result = _replace_places(result, old_mentions, new_forms)
        else:
            result = new.places[0] + result
        changed = True
    if new.years:
        result = result.replace(old.years[0], new.years[0]) if old.years else f"{new.years[0]}年" + result
        changed = True
    if changed:
        # 2004年的目标呢 / 那1994年的计划增长是多少: the year swapped, and the stance too
        rest = re.sub(_ELLIPSIS, "", normalize(question)).strip(" ?？。")
        for y in new.years:
            rest = re.sub(rf"{y}年?", "", rest)
        for pl in _place_mentions(rest, new.places):
            rest = rest.replace(pl, "")
        word = _stance_fragment(rest, result)
        if word is not None and asked_stance(result) != asked_stance(word):
            result = _swap_stance(word, result) or result
    if not changed:
        rest = re.sub(_ELLIPSIS, "", normalize(question)).strip(" ?？。")
        if not rest:
            return None
        swapped = (_shift_year(rest, result, old) or _swap_stance(rest, result)
                   or _standalone(question, rest, result, old)
                   or _swap_phrase(result, rest) or _swap_metric(rest, result, old))
        result = swapped or f"{result.rstrip('?？。')}，{rest}?"
    return result if result != normalize(previous).strip() else None


_PHRASE_START = "对在给向从为与和的"


def _swap_phrase(previous: str, fragment: str) -> str | None:
    """Put a follow-up's noun phrase in place of the previous question's phrase with the
    same head: 武汉对人工智能领域中试平台最高… + 对公共服务平台 → 武汉对公共服务平台最高…"""
    head = fragment[-2:]
    at = previous.rfind(head)
    if len(fragment) < 2 or at < 0 or not re.fullmatch(r"[\u4e00-\u9fff]{2}", head):
        return None
    end = at + len(head)
    start = at
    lead = fragment[0] if fragment[0] in _PHRASE_START else ""
    while start > 0 and re.match(r"[\u4e00-\u9fff]", previous[start - 1]):
        if lead and previous[start - 1] == lead:
            start -= 1
            break
        if not lead and previous[start - 1] in _PHRASE_START:
            break
        if previous[start - 1] == "年" and start > 1 and previous[start - 2].isdigit():
            break  # 1978年粮食总产量 + 钢产量: the year is not part of the phrase
        start -= 1
    return previous[:start] + fragment + previous[end:]


def _replace_places(text: str, mentions: list[str], new: list[str]) -> str:
    """Put the new places where the old ones were, keeping an English possessive."""
    for i, mention in enumerate(mentions):
        target = new[min(i, len(new) - 1)].removesuffix("'s")
        if mention.endswith("'s"):
            target += "'s" if re.fullmatch(r"[A-Za-z' ]+", target) else "的"
        text = text.replace(mention, target, 1)
    return text
