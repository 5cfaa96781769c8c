"""Per-field accuracy of the figure store on the hand-labelled figures of the Government
Work Reports (``tests/data/policy_figures.jsonl``), for the ``fit`` split (labels the rules
were tuned on) and the held-out ``test`` split apart.

    .venv/bin/python benchmarks/figure_accuracy.py [--errors] [--fit-only] [--fit-reports 1957,1975,...]

Prints a markdown table (no model needed: the reports are parsed, chunked and annotated as
at index time). ``--errors`` adds, per field, the fit-split labels that are wrong, with what
the store made of them; the test split's errors are never listed (no rule may be fitted to
them, so nobody should read them). ``--fit-reports`` adds a row for some fit reports alone
(the 123 labels added later: 1957,1975,1980,1987,1997,2003,2006); ``--sample`` one for the
systematic sample of the fit reports (ids YYYY-5NN: six figures a report, one from each sixth
of its text, every kind of figure, labelled before any rule was written from them). ``--fit-only`` leaves the
test row out, so that rules can be checked on the fit split without looking at the test split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import md_table  # noqa: E402

from rag import figstore  # noqa: E402
from tests.test_figstore import FIELDS, _labels, accuracy, field_checks, find  # noqa: E402


def _fit_errors() -> None:
    labels = {lab["id"]: lab for lab in _labels() if lab["split"] == "fit"}
    _, rows = accuracy("fit")
    for field in FIELDS:
        wrong = [i for i, c in rows if not c[field]]
        print(f"\n### fit errors: {field} ({len(wrong)})\n")
        for i in wrong:
            lab = labels[i]
            f = find(lab)
            gold = {"value": (lab["value"], lab["low"], lab["high"], lab["unit"]),
                    "period": tuple(lab["period"]), "stance": lab["stance"],
                    "metric": lab["metric"], "subject": lab["subject"]}[field]
            if f is None:
                got: object = "(not in the store)"
            else:
                got = {"value": (f.value, f.low, f.high, f.unit), "period": figstore.period_years(f),
                       "stance": f.stance, "metric": f.metric, "subject": f.subject}[field]
            basis = f" [{f.period_basis}]" if f is not None and field == "period" else ""
            print(f"- {i} `{lab['text']}` gold {gold!r} got {got!r}{basis} — {lab['sentence'][:80]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--errors", action="store_true", help="list the fit split's errors per field")
    parser.add_argument("--fit-reports", default="", help="comma-separated years: a row for these fit reports")
    parser.add_argument("--sample", action="store_true",
                        help="a row for the systematic sample of the fit split alone (ids YYYY-5NN)")
    parser.add_argument("--fit-only", action="store_true",
                        help="leave the held-out test row out (score it once, at the end of a round)")
    args = parser.parse_args()
    labels = _labels()
    table = []
    for split in ("fit",) if args.fit_only else ("fit", "test"):
        share, rows = accuracy(split)
        docs = {lab["doc"] for lab in labels if lab["split"] == split}
        table.append([split, len(docs), len(rows), *(share[f] for f in FIELDS)])
    if args.sample:
        some = [lab for lab in labels if lab["split"] == "fit" and lab["id"][5] == "5"]
        checks = [field_checks(lab, find(lab)) for lab in some]
        table.append(["fit sample", len({lab["doc"] for lab in some}), len(checks),
                      *(sum(c[f] for c in checks) / max(len(checks), 1) for f in FIELDS)])
    years = {y.strip() for y in args.fit_reports.split(",") if y.strip()}
    if years:
        some = [lab for lab in labels if lab["split"] == "fit" and lab["doc"][:4] in years]
        checks = [field_checks(lab, find(lab)) for lab in some]
        n = max(len(checks), 1)
        table.append([f"fit {','.join(sorted(years))}", len({lab['doc'] for lab in some}), len(checks),
                      *(sum(c[f] for c in checks) / n for f in FIELDS)])
    print(md_table(["split", "reports", "figures", *FIELDS], table))
    if args.errors:
        _fit_errors()


if __name__ == "__main__":
    main()
