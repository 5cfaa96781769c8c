"""Per-field accuracy of the figure store on the hand-labelled figures of the Government
Work Reports (``tests/data/policy_figures.jsonl``), overall and per half: reports delivered in
an even year and in an odd year.

    .venv/bin/python benchmarks/figure_accuracy.py

Prints a markdown table (no model needed: the reports are parsed, chunked and annotated as
at index time).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import md_table  # noqa: E402

from tests.test_figstore import FIELDS, _labels, accuracy  # noqa: E402


def main() -> None:
    _, rows = accuracy()
    labels = {lab["id"]: lab for lab in _labels()}
    table = []
    for name, keep in (("all", None), ("even-year reports", 0), ("odd-year reports", 1)):
        rs = [c for i, c in rows if keep is None or int(labels[i]["doc"][:4]) % 2 == keep]
        docs = {labels[i]["doc"] for i, _ in rows if keep is None or int(labels[i]["doc"][:4]) % 2 == keep}
        table.append([name, len(docs), len(rs), *(sum(c[f] for c in rs) / len(rs) for f in FIELDS)])
    print(md_table(["labels", "reports", "figures", *FIELDS], table))


if __name__ == "__main__":
    main()
