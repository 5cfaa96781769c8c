"""The documents issue's "done when" through the `rag index` command itself (a real process,
the real model): PDF, DOCX and GB18030 twins of a real report, made here, come out with the
passages of their UTF-8 text; a damaged PDF, a zero-byte file, a GBK file with an invalid
byte, a 50 MB file and an unreadable entry are skipped with their reasons (exit 2) and lose
nothing that was indexed before. The library-level versions are in test_index.py."""

from __future__ import annotations

import json
import os

import pytest

from rag import index as store

from .conftest import _model_cache
from .test_cli import run
from .test_formats import HEADING, _docx, _pdf, _report_paragraphs

pytestmark = pytest.mark.slow

TWINS = ("utf8.txt", "gb18030.txt", "twin.docx", "twin.pdf")
BAD = ("damaged.pdf", "zero.txt", "bad-gbk.txt", "huge.txt", "gone.md")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One folder: the four twins, then the bad files; `rag index` run on it twice."""
    root = tmp_path_factory.mktemp("documents-cli")
    folder = root / "docs"
    folder.mkdir()
    paras = _report_paragraphs()
    text = "\n\n".join(paras) + "\n"
    (folder / "utf8.txt").write_bytes(text.encode("utf-8"))
    (folder / "gb18030.txt").write_bytes(text.encode("gb18030"))
    (folder / "twin.docx").write_bytes(_docx(paras, heading=HEADING))
    (folder / "twin.pdf").write_bytes(_pdf(paras, indent=False))
    env = dict(os.environ)
    env.update(RAG_INDEX_DIR=str(root / "index"), RAG_CORPUS_DIR=str(folder),
               RAG_MODEL_CACHE=str(_model_cache()))
    first = run(["index", str(folder), "--json"], env)
    before = store.load_snapshot(root / "index")

    (folder / "damaged.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    (folder / "zero.txt").write_bytes(b"")
    (folder / "bad-gbk.txt").write_bytes("国内生产总值".encode("gb18030") + b"\x81\x20" + "增长".encode("gb18030"))
    with (folder / "huge.txt").open("wb") as f:  # 50 MB, sparse
        f.truncate(50 * 1024 * 1024)
    (folder / "gone.md").symlink_to(root / "nowhere.md")
    # an indexed file damaged since: its indexed version must stay
    (folder / "gb18030.txt").write_bytes(text.encode("gb18030")[:40] + b"\x81\x20" + text.encode("gb18030")[40:])
    second = run(["index", str(folder), "--json"], env)
    after = store.load_snapshot(root / "index")
    return {"first": first, "second": second, "before": before, "after": after}


def _passages(snap: store.Snapshot, source: str) -> list[tuple[str, tuple[str, ...], str | None]]:
    return [(p.text, p.headings, p.date) for p in snap.passages if p.source == source]


def test_twins_index_to_the_passages_of_the_utf8_text(indexed):
    first = indexed["first"]
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["documents"] == 4 and not report["skipped"]
    snap = indexed["before"]
    want = _passages(snap, "utf8.txt")
    assert want and any(h == (HEADING,) for _, h, _ in want)
    for source in TWINS[1:]:
        assert _passages(snap, source) == want, source


def test_bad_files_are_skipped_with_reasons_and_nothing_is_lost(indexed):
    second = indexed["second"]
    assert second.returncode == 2, second.stderr
    report = json.loads(second.stdout)
    reasons = {s["source"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {*BAD, "gb18030.txt"}, reasons
    assert "pdf" in reasons["damaged.pdf"].lower()
    assert "empty" in reasons["zero.txt"]
    assert "byte" in reasons["bad-gbk.txt"] and "byte" in reasons["gb18030.txt"]
    assert "too large" in reasons["huge.txt"]
    assert "cannot read" in reasons["gone.md"]
    for name in reasons:
        assert f"rag: skipped {name}: " in second.stderr
    assert "Traceback" not in second.stderr
    before, after = indexed["before"], indexed["after"]
    assert {d.source for d in after.documents} == set(TWINS)
    for source in TWINS:  # the damaged GB18030 twin keeps the passages indexed before
        assert _passages(after, source) == _passages(before, source), source
