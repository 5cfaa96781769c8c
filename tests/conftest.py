"""Shared fixtures: the real converted model (converted once per machine, cached) and a real
index of the bundled corpus built in a temporary folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
CORPUS_FILE = CORPUS / "cen-page-robot-funds.txt"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _model_cache() -> Path:
    from rag.settings import Settings

    env = os.environ.get("RAG_TEST_MODEL_CACHE")
    return Path(env) if env else Settings().model_cache


@pytest.fixture(scope="session")
def model_cache() -> Path:
    return _model_cache()


@pytest.fixture(scope="session")
def model_path(model_cache: Path) -> Path:
    from rag.model import prepare_model

    return prepare_model(model_cache)


@pytest.fixture(scope="session")
def embedder(model_path: Path):
    from rag.embed import SentenceTransformerEmbedder
    from rag.model import DEFAULT_MODEL_NAME

    return SentenceTransformerEmbedder(str(model_path), name=DEFAULT_MODEL_NAME)


def make_config(index_dir: Path, corpus_dir: Path | None = CORPUS, model_cache: Path | None = None,
                **kw):
    from rag.config import EngineConfig

    return EngineConfig(index_dir=index_dir, corpus_dir=corpus_dir,
                        model_cache=model_cache or _model_cache(), **kw)


@pytest.fixture(scope="session")
def corpus_engine(tmp_path_factory: pytest.TempPathFactory, embedder):
    """An engine over a real index of the bundled corpus, built once per test session."""
    from rag.engine import Engine

    root = tmp_path_factory.mktemp("corpus-index")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS_FILE, corpus / CORPUS_FILE.name)
    engine = Engine(make_config(root / "index", corpus), embedder=embedder)
    engine.index()
    return engine


def sentence_feature(engine, question: str, passage_has: str, sentence_has: str, name: str,
                     source_prefix: str = "") -> dict[str, float]:
    """One evidence feature of every figure of the sentence holding ``sentence_has``, in the
    first retrieved passage holding ``passage_has`` (from a source whose name starts with
    ``source_prefix``): features read off a real index."""
    from rag.evidence import by_sentence, features
    from rag.question import analyse

    q = analyse(question)
    hit = next(h for h in engine.search(question, k=10)
               if passage_has in h.passage.text and h.passage.source.startswith(source_prefix))
    sent = next(s for s in by_sentence(hit.passage.text, hit.figures) if sentence_has in s.text)
    values = {}
    for fig in sent.figures:
        fact = next((f for f in hit.figures if f.text == fig.text), None)
        values[fig.text] = features(q, hit, sent, fig, fact, pass_cov=1.0, top_fused=1.0,
                                    heading_place=False)[name]
    return values
