"""Document metadata: title, date (as far as known), type, and where each came from.

Sources, first that gives a value wins: what the caller says (an upload's form fields, an
API call), metadata inside the file (YAML front matter in ``.md``, ``<title>``/``<meta>``/
``<time>`` in ``.html``, core properties of ``.docx``), a sidecar ``NAME.meta.json``, the
text itself (a title line; a date line such as ``——2024年3月5日在…``, ``1957年6月26日在第一届
全国人民代表大会第四次会议上``, a dated ``本报讯`` lead), and last the file name
(``2014-政府工作报告.txt``). ``date_source`` / ``title_source`` record which one it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from rag.errors import DocumentRejected
from rag.types import DocumentInfo

SIDECAR_SUFFIX = ".meta.json"
GIVEN_MARK = "given"  # in a sidecar the server wrote for an upload: the uploader said it
META_KEYS = ("title", "date", "type")

_ISO = re.compile(r"^\s*((?:1[5-9]|2[0-2])\d{2})(?:[-/.年]\s*(\d{1,2})(?:[-/.月]\s*(\d{1,2})日?)?月?)?年?"
                  r"(?:[T\s].*)?$")
_NAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:[-_.]?(0[1-9]|1[0-2])(?:[-_.]?(0[1-9]|[12]\d|3[01]))?)?"
                        r"(?!\d)")
_LINE_LEAD = re.compile(r"^[\s\u3000]*(?:——|—|-{1,2}|（|\()?[\s\u3000]*")
_HEAD_LINES = 12
_TAIL_LINES = 3


@dataclass(frozen=True)
class DocMeta:
    """What is known about a document beyond its text."""

    title: str
    title_source: str
    date: str | None  # "2014", "2014-03" or "2014-03-05"
    date_source: str | None
    type: str | None
    type_source: str | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date else None


def parse_date(value: object) -> str | None:
    """``2024-03-05``, ``2024/3/5``, ``2024年3月5日``, ``2024-03-05T10:00+08:00``,
    ``一九五七年六月二十六日``, ``2024`` → ISO prefix (``2024-03-05``, ``2024``); None if it is
    not a date."""
    if value is None:
        return None
    s = str(value).strip()
    if not s:
        return None
    m = _ISO.match(s)
    if m:
        return _iso(int(m.group(1)), m.group(2), m.group(3))
    from rag.figures import extract_figures

    for f in extract_figures(s):
        if f.kind == "date" and f.date and f.date[:1].isdigit() and f.start == 0:
            return _clean_iso(f.date)
    return None


def _iso(year: int, month: str | None, day: str | None) -> str | None:
    if month is None:
        return f"{year:04d}"
    mo = int(month)
    if not 1 <= mo <= 12:
        return None
    if day is None:
        return f"{year:04d}-{mo:02d}"
    d = int(day)
    if not 1 <= d <= 31:
        return None
    return f"{year:04d}-{mo:02d}-{d:02d}"


def _clean_iso(date: str) -> str | None:
    """A figure's date (``2025-12``, ``2025-H1``, ``2025-Q3``) reduced to year[-month[-day]]."""
    m = re.match(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", date)
    return _iso(int(m.group(1)), m.group(2), m.group(3)) if m else None


def date_from_name(name: str) -> str | None:
    """The date a file name states: ``2014-政府工作报告.txt`` → 2014, ``20240305_通知`` →
    2024-03-05."""
    m = _NAME_DATE.search(Path(name).stem)
    return _iso(int(m.group(1)), m.group(2), m.group(3)) if m else None


def title_from_name(name: str) -> str:
    """``2014-政府工作报告.txt`` → ``政府工作报告``: the stem without a leading date."""
    stem = Path(name).stem
    m = _NAME_DATE.match(stem)
    if m:
        rest = stem[m.end():].lstrip(" -_.年")
        if rest:
            return rest
    return stem


def date_from_text(text: str) -> str | None:
    """A document's own date line among its first and last lines: a line that starts with a
    full date and is short or goes on with 在/于 (``——2024年3月5日在第十四届全国人民代表大会
    第二次会议上``), or a dated news lead (``本报讯 2025年1月3日``). A date that opens an
    ordinary sentence (``2023年12月,北京机器人产业发展投资基金正式成立``) is an event, not
    the document's date."""
    from rag.figures import extract_figures

    lines = [ln.strip(" \t\u3000\u200b\ufeff") for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    candidates = lines[:_HEAD_LINES] + lines[-_TAIL_LINES:]
    news = re.compile(_doctypes()["news_lead"])
    best: str | None = None
    for line in candidates:
        lead = _LINE_LEAD.match(line)
        body = line[lead.end():] if lead else line
        figs = [f for f in extract_figures(body[:80]) if f.kind == "date" and f.date
                and f.date[:1].isdigit()]
        if not figs:
            continue
        f = figs[0]
        rest = body[f.end:].lstrip(" \u3000")
        dated = _clean_iso(f.date or "")
        if dated is None or len(dated) < 7:
            continue  # a year alone is too weak (2025年政府工作报告指出…)
        if f.start == 0 and (len(body) <= 40 or rest[:1] in ("在", "于", "）", ")")):
            if best is None or len(dated) > len(best):
                best = dated
        elif news.match(body) and f.start <= 40 and best is None:
            best = dated
    return best


@lru_cache(maxsize=1)
def _doctypes() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files("rag").joinpath("data/doctypes.json").read_text(encoding="utf-8"))
    return data


def type_from_title(title: str, text: str) -> str | None:
    """A document type inferred from its title (``…工作报告`` → report), or news for a page
    that opens with a news lead; None when nothing says."""
    for word, kind in _doctypes()["title_words"]:
        if word in title:
            return str(kind)
    head = "\n".join(ln.strip() for ln in text.splitlines()[:40])
    if re.search(_doctypes()["news_lead"], head, re.M):
        return "news"
    return None


def read_sidecar(path: Path) -> dict[str, str]:
    """``NAME.meta.json`` (or ``STEM.meta.json``) beside a file: its title/date/type, or {}.
    A sidecar that exists but is not a JSON object of strings rejects the document, rather
    than giving it silently wrong metadata."""
    for side in (path.with_name(path.name + SIDECAR_SUFFIX), path.with_name(path.stem + SIDECAR_SUFFIX)):
        if not side.is_file():
            continue
        try:
            raw = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DocumentRejected(f"{path.name}: unreadable sidecar {side.name} ({exc})") from None
        if not isinstance(raw, dict):
            raise DocumentRejected(f"{path.name}: sidecar {side.name} must be a JSON object")
        out = clean_meta(raw, f"{path.name}: sidecar {side.name}")
        if raw.get(GIVEN_MARK) is True:
            out[GIVEN_MARK] = "1"
        return out
    return {}


def clean_meta(raw: dict[str, Any], where: str, *, strict: bool = True) -> dict[str, str]:
    """The known keys of a metadata mapping as strings. A value that is not a string or a
    date that is not a date is an error when ``strict`` (what a user wrote for us: an upload,
    a sidecar), and is ignored otherwise (what some tool left inside a file)."""
    out: dict[str, str] = {}
    for key in META_KEYS:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str | int):
            if not strict:
                continue
            raise DocumentRejected(f"{where}: {key} must be a string")
        text = str(value).strip()
        if key == "date":
            date = parse_date(text)
            if date is None:
                if not strict:
                    continue
                raise DocumentRejected(f"{where}: date {text!r} is not a date (use 2024-03-05)")
            text = date
        out[key] = text[:300]
    return out


def resolve(*, source: str, text: str, given: dict[str, str] | None = None,
            embedded: dict[str, str] | None = None, sidecar: dict[str, str] | None = None,
            heading_title: str | None = None, title_line: str | None = None) -> DocMeta:
    """Combine every source of metadata in order of precedence (see the module docstring).

    ``heading_title`` is the document's first ``#`` heading and ``title_line`` a plain
    text's title line; both count as the text's own title."""
    layers: list[tuple[str, dict[str, str]]] = [
        ("given", given or {}), ("file", embedded or {}), ("sidecar", sidecar or {})]

    def pick(key: str) -> tuple[str | None, str | None]:
        for name, layer in layers:
            value = layer.get(key)
            if value:
                return value, name
        return None, None

    title, title_src = pick("title")
    if not title:
        own = heading_title or title_line
        title, title_src = (own, "text") if own else (title_from_name(source), "file-name")
    date_raw, date_src = pick("date")
    date = parse_date(date_raw) if date_raw else None
    if date is None:
        date, date_src = date_from_text(text), "text"
    if date is None:
        date, date_src = date_from_name(source), "file-name"
    if date is None:
        date_src = None
    kind, kind_src = pick("type")
    if not kind:
        kind = type_from_title(title, text)
        kind_src = "inferred" if kind else None
    return DocMeta(title=title, title_source=title_src or "file-name", date=date,
                   date_source=date_src, type=kind, type_source=kind_src)


def newest_year(documents: Sequence[DocumentInfo]) -> int | None:
    """The year of the newest dated document: the "now" that 今年 and 去年 in a question
    refer to (reports up to 2024: 去年 is 2023). None when no document has a date."""
    years = [int(d.date[:4]) for d in documents if d.date and d.date[:4].isdigit()]
    return max(years) if years else None
