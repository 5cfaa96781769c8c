"""Index build throughput: the whole pipeline (parse, chunk, tokenise, embed, write the
versioned FAISS + BM25 index) beside the same model's bare ``encode`` on the same texts.

    .venv/bin/python benchmarks/index_build.py [--sample 200] [--threads 1]

Two inputs: the bundled corpus (``Engine.index`` on a copy of ``corpus/``) and a seeded sample
of CMRC 2018 + DRCD passages (``rag.evaluate.index_passages``, one record per passage, no
vector cache). Prints a markdown table; overhead = pipeline seconds / bare-encode seconds.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _common import CORPUS, OUT, external_passages, load_embedder, machine, md_table, setup, timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=200, help="external passages (default 200)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args()
    setup(args.threads)

    from rag.chunk import ChunkConfig, chunk_document
    from rag.config import EngineConfig
    from rag.engine import Engine
    from rag.evaluate import index_passages
    from rag.ingest import load_document
    from rag.retrieve import passage_index_text
    from rag.text import tokenize
    from rag.types import Passage, content_id

    emb = load_embedder()
    emb.encode_passages(["预热 warm-up"] * 4)  # steady state: model and jieba loaded
    tokenize("预热")
    rows = []
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp_name:
        tmp = Path(tmp_name)
        # 1. the bundled corpus through Engine.index
        corpus = tmp / "corpus"
        corpus.mkdir()
        for f in CORPUS.glob("*.txt"):
            shutil.copy(f, corpus / f.name)
        engine = Engine(EngineConfig(index_dir=tmp / "index-corpus", corpus_dir=corpus),
                        embedder=emb)
        report, t_pipe = timed(engine.index)
        texts = [passage_index_text(p)
                 for f in sorted(corpus.glob("*.txt"))
                 for p in chunk_document(load_document(f), ChunkConfig())]
        assert len(texts) == report.passages
        _, t_bare = timed(emb.encode_passages, texts)
        chars = sum(len(t) for t in texts) / len(texts)
        rows.append(["corpus (Engine.index)", len(texts), chars, len(texts) / t_pipe,
                     len(texts) / t_bare, t_pipe / t_bare])

        # 2. a CMRC + DRCD sample through index_passages
        recs = external_passages(args.sample, seed=1)
        passages = [Passage(passage_id=r["passage_id"], doc_id=content_id(r["passage_id"]),
                            source=r.get("source", ""), title=r.get("title", ""), subtitle=None,
                            section=None, kind="body", text=r["text"], start=0,
                            end=len(r["text"])) for r in recs]
        _, t_pipe = timed(index_passages, tmp / "index-ext", passages, emb)
        texts = [passage_index_text(p) for p in passages]
        _, t_bare = timed(emb.encode_passages, texts)
        chars = sum(len(t) for t in texts) / len(texts)
        rows.append(["CMRC+DRCD sample (index_passages)", len(texts), chars,
                     len(texts) / t_pipe, len(texts) / t_bare, t_pipe / t_bare])

    print(f"index build — {machine()}, batch size {emb.batch_size}\n")
    print(md_table(["input", "passages", "chars/passage", "pipeline passages/s",
                    "bare encode passages/s", "overhead (pipeline/bare time)"], rows))


if __name__ == "__main__":
    main()
