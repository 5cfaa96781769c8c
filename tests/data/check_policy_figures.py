#!/usr/bin/env python3
"""Validate tests/data/policy_figures.jsonl (stdlib only).

Usage: python3 tests/data/check_policy_figures.py [CORPUS_DIR] [JSONL]
CORPUS_DIR defaults to $POLICY_CORPUS or /work/shared/corpus-policy.
Exit status 0 when every line is clean, 1 otherwise.

Every record has a ``split``: ``fit`` (labels that extractor rules may be tuned on) or
``test`` (held out: no rule may be fitted to them). A report's labels are all in one split,
so that a held-out figure never shares a document with a fitted one.
"""
import json
import os
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIRED = ["id", "doc", "sentence", "text", "value", "low", "high", "unit",
            "metric", "subject", "period", "stance", "split"]
OPTIONAL = {"note", "joined"}
STANCES = {"target", "actual", "cap", "threshold", "base"}
SPLITS = {"fit", "test"}


def join_single_newlines(text):
    """Remove newlines that are not part of a blank-line paragraph break."""
    return re.sub(r"(?<!\n)\n(?!\n)", "", text)


def main(argv):
    corpus = argv[1] if len(argv) > 1 else os.environ.get(
        "POLICY_CORPUS", "/work/shared/corpus-policy")
    path = argv[2] if len(argv) > 2 else os.path.join(HERE, "policy_figures.jsonl")
    errors, warnings = [], []
    ids, docs_cache = set(), {}
    stances, per_doc = Counter(), Counter()
    split_of_doc, per_split = {}, Counter()

    def load(doc, joined):
        key = (doc, joined)
        if key not in docs_cache:
            fp = os.path.join(corpus, doc)
            if not os.path.exists(fp):
                docs_cache[key] = None
            else:
                with open(fp, encoding="utf-8") as f:
                    t = f.read()
                docs_cache[key] = join_single_newlines(t) if joined else t
        return docs_cache[key]

    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    n = 0
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        n += 1
        where = f"line {ln}"
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: bad JSON: {e}")
            continue
        if not isinstance(d, dict):
            errors.append(f"{where}: not an object")
            continue
        where = f"line {ln} ({d.get('id')})"
        missing = [k for k in REQUIRED if k not in d]
        extra = [k for k in d if k not in REQUIRED and k not in OPTIONAL]
        if missing:
            errors.append(f"{where}: missing keys {missing}")
            continue
        if extra:
            errors.append(f"{where}: unexpected keys {extra}")
        # id
        i = d["id"]
        if not isinstance(i, str) or not re.fullmatch(r"\d{4}-\d{3}", i):
            errors.append(f"{where}: bad id {i!r}")
        elif i in ids:
            errors.append(f"{where}: duplicate id {i}")
        ids.add(i)
        # doc
        doc = d["doc"]
        m = re.fullmatch(r"(\d{4})-政府工作报告\.txt", doc or "")
        if not m:
            errors.append(f"{where}: bad doc name {doc!r}")
            continue
        year = int(m.group(1))
        if isinstance(i, str) and not i.startswith(m.group(1) + "-"):
            errors.append(f"{where}: id prefix does not match doc year")
        # strings
        for k in ("sentence", "text", "unit", "metric"):
            if not isinstance(d[k], str) or not d[k]:
                errors.append(f"{where}: {k} must be a non-empty string")
        if d["subject"] is not None and (not isinstance(d["subject"], str) or not d["subject"]):
            errors.append(f"{where}: subject must be null or a non-empty string")
        if "note" in d and not isinstance(d["note"], str):
            errors.append(f"{where}: note must be a string")
        joined = d.get("joined", False)
        if not isinstance(joined, bool):
            errors.append(f"{where}: joined must be true/false")
            joined = bool(joined)
        s, text = d["sentence"], d["text"]
        if isinstance(s, str) and isinstance(text, str):
            if text not in s:
                errors.append(f"{where}: text {text!r} not in sentence")
            if "\n" in s:
                errors.append(f"{where}: sentence contains a newline")
            body = load(doc, joined)
            if body is None:
                errors.append(f"{where}: file {doc} not found in {corpus}")
            elif s not in body:
                hint = " (try joined: true)" if not joined and s in load(doc, True) else ""
                errors.append(f"{where}: sentence not found in {doc}{hint}")
            if joined and load(doc, False) is not None and s in load(doc, False):
                warnings.append(f"{where}: joined=true but sentence occurs unjoined")
            if isinstance(d["metric"], str) and d["metric"] not in s:
                warnings.append(f"{where}: metric {d['metric']!r} not verbatim in sentence")
        # numbers
        def num(x):
            return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))
        for k in ("value", "low", "high"):
            if not num(d[k]):
                errors.append(f"{where}: {k} must be a number or null")
        v, lo, hi = d["value"], d["low"], d["high"]
        if v is None:
            if lo is None or hi is None:
                errors.append(f"{where}: value null requires low and high (range)")
            elif num(lo) and num(hi) and lo > hi:
                errors.append(f"{where}: low > high")
        elif lo is not None or hi is not None:
            errors.append(f"{where}: low/high must be null when value is set")
        if d["unit"] in ("万元", "亿元", "万人", "万吨", "亿斤", "元人民币"):
            errors.append(f"{where}: unit {d['unit']!r} still carries a multiplier")
        # period
        p = d["period"]
        if (not isinstance(p, list) or len(p) != 2
                or not all(isinstance(y, int) and not isinstance(y, bool) for y in p)):
            errors.append(f"{where}: period must be [int, int]")
        else:
            a, b = p
            if not (1949 <= a <= 2030 and 1949 <= b <= 2030):
                errors.append(f"{where}: period {p} outside 1949-2030")
            if a > b:
                errors.append(f"{where}: period start after end")
            if a > year + 1 and d["stance"] == "actual":
                errors.append(f"{where}: actual figure for a year after the report")
        if d["stance"] not in STANCES:
            errors.append(f"{where}: stance {d['stance']!r} not in {sorted(STANCES)}")
        stances[d["stance"]] += 1
        per_doc[doc] += 1
        split = d["split"]
        if split not in SPLITS:
            errors.append(f"{where}: split {split!r} not in {sorted(SPLITS)}")
        elif split_of_doc.setdefault(doc, split) != split:
            errors.append(f"{where}: {doc} has labels in both splits")
        per_split[split] += 1

    for w in warnings:
        print("WARN", w)
    for e in errors:
        print("ERROR", e)
    print(f"{n} figures, {len(per_doc)} reports, stances: {dict(stances)}")
    for split in sorted(per_split):
        docs = sorted(d[:4] for d, sp in split_of_doc.items() if sp == split)
        print(f"  {split}: {per_split[split]} figures, {len(docs)} reports ({', '.join(docs)})")
    if errors:
        print(f"{len(errors)} error(s)")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
