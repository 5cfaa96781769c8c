#!/usr/bin/env python3
"""Stdlib-only checker for corpus/qa_policy.jsonl (policy-report evaluation QA set).

Usage:
    python3 tests/data/check_qa_policy.py [QA_JSONL] [CORPUS_DIR]

Defaults: corpus/qa_policy.jsonl relative to the repository root, and
/work/shared/corpus-policy (override with the second argument or the
environment variable POLICY_CORPUS_DIR).

Checks:
  * every line is a JSON object with exactly the expected keys and types;
  * ids are unique; type and split values are valid;
  * split rule: fit for a gold report delivered in an even year, test for an
    odd year (first gold document for multi-document gold);
  * answerable questions have gold (one {doc, quote} or a list of them) and an
    answer; unanswerable ones have gold == answer == None;
  * every gold quote is 8-60 characters, has no line break, and occurs verbatim
    in its file (inside one line of the file = one paragraph); if it only
    occurs after removing '\n' from the file, that is reported as an error too;
  * answer shapes: {value, unit, text}, {low, high, unit, text}, {date, text}
    or {text: str | [str]}; every numeric/date answer text (and every element
    of a text list with multi-doc gold) occurs in a gold quote;
  * follow-up questions have non-empty turns.
Prints counts per type, per split, per answerable flag and per report.
Exit status 0 when clean, 1 otherwise.
"""
import collections
import json
import os
import re
import sys

TYPES = {"amount", "count", "share", "date", "which", "compare", "list", "trend",
         "followup", "unanswerable", "english"}
SPLITS = {"fit", "test"}
KEYS = {"id", "question", "type", "turns", "answerable", "split", "gold", "answer"}
DOC_RE = re.compile(r"^(\d{4})-政府工作报告\.txt$")
DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
NUM = (int, float)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    qa_path = argv[1] if len(argv) > 1 else os.path.join(root, "corpus", "qa_policy.jsonl")
    corpus = argv[2] if len(argv) > 2 else os.environ.get(
        "POLICY_CORPUS_DIR", "/work/shared/corpus-policy")

    errors = []
    cache = {}

    def err(qid, msg):
        errors.append(f"{qid}: {msg}")

    def load(doc):
        if doc not in cache:
            p = os.path.join(corpus, doc)
            cache[doc] = open(p, encoding="utf-8").read() if os.path.isfile(p) else None
        return cache[doc]

    rows = []
    with open(qa_path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                errors.append("line %d: empty line" % n)
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                errors.append("line %d: bad JSON (%s)" % (n, e))
                continue
            if not isinstance(obj, dict):
                errors.append("line %d: not an object" % n)
                continue
            rows.append((n, obj))

    ids = collections.Counter()
    by_type = collections.Counter()
    by_split = collections.Counter()
    by_ans = collections.Counter()
    by_doc = collections.Counter()
    by_split_type = collections.Counter()
    n_turns = 0

    for n, q in rows:
        qid = q.get("id", "line %d" % n)
        keys = set(q)
        if keys != KEYS:
            err(qid, f"keys missing {sorted(KEYS - keys)} / extra {sorted(keys - KEYS)}")
            continue
        ids[qid] += 1
        if not isinstance(qid, str) or not qid:
            err(qid, "id must be a non-empty string")
        if not isinstance(q["question"], str) or not q["question"].strip():
            err(qid, "question must be a non-empty string")
        if q["type"] not in TYPES:
            err(qid, "bad type {!r}".format(q["type"]))
        if q["split"] not in SPLITS:
            err(qid, "bad split {!r}".format(q["split"]))
        if not isinstance(q["turns"], list) or not all(isinstance(t, str) and t for t in q["turns"]):
            err(qid, "turns must be a list of non-empty strings")
        if q["turns"]:
            n_turns += 1
        if q["type"] == "followup" and not q["turns"]:
            err(qid, "followup without turns")
        if not isinstance(q["answerable"], bool):
            err(qid, "answerable must be a bool")
            continue
        by_type[q["type"]] += 1
        by_split[q["split"]] += 1
        by_ans[q["answerable"]] += 1
        by_split_type[(q["split"], q["type"])] += 1

        if not q["answerable"]:
            if q["gold"] is not None or q["answer"] is not None:
                err(qid, "unanswerable question must have gold and answer null")
            continue
        if q["type"] == "unanswerable":
            err(qid, "type unanswerable but answerable is true")

        gold = q["gold"]
        golds = gold if isinstance(gold, list) else [gold]
        if not golds or len(golds) > 15:
            err(qid, "gold list must hold 1-15 items")
            continue
        quotes = []
        first_year = None
        for g in golds:
            if not isinstance(g, dict) or set(g) != {"doc", "quote"}:
                err(qid, f"gold item must be {{doc, quote}}: {g!r}")
                continue
            doc, quote = g["doc"], g["quote"]
            m = DOC_RE.match(doc) if isinstance(doc, str) else None
            if not m:
                err(qid, f"bad doc name {doc!r}")
                continue
            if first_year is None:
                first_year = int(m.group(1))
            by_doc[doc] += 1
            if not isinstance(quote, str):
                err(qid, "quote must be a string")
                continue
            if not 8 <= len(quote) <= 60:
                err(qid, "quote length %d outside 8-60: %r" % (len(quote), quote))
            if "\n" in quote or "\r" in quote:
                err(qid, "quote contains a line break")
            text = load(doc)
            if text is None:
                err(qid, f"doc not found: {doc}")
                continue
            if quote in text:
                if not any(quote in line for line in text.split("\n")):
                    err(qid, f"quote spans paragraphs in {doc}: {quote!r}")
            elif quote in text.replace("\n", ""):
                err(qid, f"quote found only after removing line breaks in {doc}: {quote!r}")
            else:
                err(qid, f"quote not found verbatim in {doc}: {quote!r}")
            quotes.append(quote)

        if first_year is not None:
            want = "fit" if first_year % 2 == 0 else "test"
            if q["split"] != want:
                err(qid, "split %s but first gold doc year %d wants %s" % (q["split"], first_year, want))

        a = q["answer"]
        if not isinstance(a, dict):
            err(qid, "answer must be an object")
            continue
        ak = set(a)
        texts = []
        if ak == {"value", "unit", "text"}:
            if not isinstance(a["value"], NUM) or isinstance(a["value"], bool):
                err(qid, "value must be a number")
            if not isinstance(a["unit"], str) or not a["unit"]:
                err(qid, "unit must be a non-empty string")
            texts = [a["text"]]
        elif ak == {"low", "high", "unit", "text"}:
            if not all(isinstance(a[k], NUM) for k in ("low", "high")) or a["low"] > a["high"]:
                err(qid, "range needs numbers low <= high")
            texts = [a["text"]]
        elif ak == {"date", "text"}:
            if not isinstance(a["date"], str) or not DATE_RE.match(a["date"]):
                err(qid, "date must be YYYY, YYYY-MM or YYYY-MM-DD")
            texts = [a["text"]]
        elif ak == {"text"}:
            t = a["text"]
            if isinstance(t, list):
                if not t or not all(isinstance(x, str) and x for x in t):
                    err(qid, "text list must hold non-empty strings")
                texts = list(t)
            elif not isinstance(t, str) or not t:
                err(qid, "text must be a non-empty string or list")
            else:
                texts = [t]
        else:
            err(qid, f"unknown answer shape {sorted(ak)}")
            continue
        for t in texts:
            if not isinstance(t, str):
                err(qid, "answer text must be a string")
            elif not any(t in qu for qu in quotes):
                err(qid, f"answer text {t!r} not in any gold quote")
        if isinstance(gold, list) and isinstance(a.get("text"), list) and len(gold) > 1 \
                and len(a["text"]) == len(gold):
            for t, qu in zip(a["text"], quotes, strict=False):
                if t not in qu:
                    err(qid, f"answer text {t!r} not in its own gold quote {qu!r}")

    for qid, c in ids.items():
        if c > 1:
            errors.append("%s: duplicate id (%d times)" % (qid, c))

    total = len(rows)
    print("questions: %d  answerable: %d  unanswerable: %d  with turns: %d"
          % (total, by_ans[True], by_ans[False], n_turns))
    print("per split: " + ", ".join("%s=%d" % kv for kv in sorted(by_split.items())))
    print("per type:")
    for t in sorted(by_type):
        print("  %-13s %4d   (fit %d, test %d)" % (t, by_type[t], by_split_type[("fit", t)],
                                                  by_split_type[("test", t)]))
    print("per report (gold references): %d reports" % len(by_doc))
    for d in sorted(by_doc):
        print("  %s %3d" % (d, by_doc[d]))
    if errors:
        print("\n%d ERROR(S):" % len(errors))
        for e in errors:
            print("  " + e)
        return 1
    print("\nOK: no errors")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
