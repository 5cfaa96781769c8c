"""The analyst's workbench in a real headless Chromium against the live test server: the whole
flow (upload by drag-and-drop or file picker, the job's progress bar, ask about the new
document, follow its citation into the viewer, filter, sort, chart and export the figures
explorer, delete with confirmation) at 1280 and 390 px, an axe-core audit of every view, the
keyboard, and answer tables. Screenshots go to benchmarks/out/screenshots/ (CI artifacts)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_page import SHOTS, Watched, browser
from tests.test_server import ADMIN_KEY, BEIJING_Q, Live, live_server

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with test_page.py

pytestmark = pytest.mark.slow

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, model_path: Path,
         request: pytest.FixtureRequest) -> Live:
    return live_server(tmp_path_factory, model_cache, request)


@pytest.fixture()
def api(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=120, headers={"X-API-Key": ADMIN_KEY}) as c:
        yield c


def audit(page: Any, where: str) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA and best-practice rules on the page as it is; returns the
    violations (the caller asserts none is serious or critical)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")  # CDP evaluate: not under the CSP
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    bad = [v for v in result if v["impact"] in BLOCKING]
    assert not bad, f"{where}: {json.dumps(bad, ensure_ascii=False, indent=1)}"
    return list(result)


def set_key(page: Any) -> None:
    page.click("#key-box summary")
    page.fill("#api-key", ADMIN_KEY)
    page.press("#api-key", "Tab")


def drop_file(page: Any, name: str, text: str) -> None:
    """Drag-and-drop of a file onto the drop zone, as the browser delivers it."""
    dt = page.evaluate_handle("""([name, text]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], name, {type: "text/markdown"}));
        return dt;
    }""", [name, text])
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": dt})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dt})


def shot(page: Any, name: str, width: int, *, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000
    print(f"screenshot: {path}")
    return path


def doc_text(city: str, size: int) -> str:
    return (f"---\ntitle: {city}氢能产业基金设立\ndate: 2025-04-18\n---\n\n"
            f"# {city}氢能产业基金设立\n\n## 基金方案\n\n"
            f"2025年4月,{city}设立{city}氢能产业基金,目标规模为{size}亿元,"
            f"重点投向氢燃料电池、储氢装备和加氢站建设。\n\n"
            f"## 配套政策\n\n{city}计划到2027年建成加氢站{size // 6}座。\n")


@pytest.mark.parametrize(("width", "height", "city", "size", "via"), [
    (1280, 900, "青岚市", 66, "drop"), (390, 844, "云栖市", 54, "picker"),
])
def test_upload_ask_view_explore_delete(browser: Any, live: Live, api: httpx.Client, width: int,
                                        height: int, city: str, size: int, via: str) -> None:
    name = f"{'qinglan' if via == 'drop' else 'yunqi'}-hydrogen.md"
    text = doc_text(city, size)
    w = Watched(browser, live.url, width=width, height=height)
    page = w.page
    try:
        set_key(page)
        # -- the library: upload, watch the job's progress bar, see the new row ------------
        page.click(".tab[data-view=library]")
        page.locator("#library-table table").wait_for()
        assert "cen-page-robot-funds.txt" in page.locator("#library-table").inner_text()
        audit(page, f"library {width}")
        if via == "drop":
            drop_file(page, name, text)
        else:
            page.set_input_files("#upload-input", files=[
                {"name": name, "mimeType": "text/markdown", "buffer": text.encode()}])
        item = page.locator("#uploads li.upload").first
        item.locator(".upload-bar").wait_for()
        assert item.locator(".upload-name").inner_text() == name
        page.wait_for_function("() => document.querySelector('#uploads li')?.dataset.state === 'done'",
                               timeout=300_000)
        assert f"{city}氢能产业基金设立" in item.locator(".upload-stage").inner_text()
        assert item.locator(".upload-bar").evaluate("b => b.value") == 1
        row = page.locator("#library-table tbody tr", has_text=name)
        row.wait_for()
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == f"uploads/{name}" and cells[1] == f"{city}氢能产业基金设立"
        assert cells[2] == "2025-04-18" and int(cells[3]) >= 1 and int(cells[4]) >= 2
        shot(page, "library", width)
        doc = next(d for d in api.get("/documents").json()["documents"]
                   if d["source"] == f"uploads/{name}")

        # -- ask about it and follow the citation into the viewer --------------------------
        page.click(".tab[data-view=chat]")
        bubble = w.ask(f"{city}氢能产业基金的目标规模是多少?", 1)
        assert f"{size}亿元" in bubble.locator(".answer-text").inner_text()
        bubble.locator(".sources-box summary").click()
        source = bubble.locator(".sources li").first.inner_text()
        assert f"uploads/{name}" in source and "2025-04-18" in source and "基金方案" in source
        bubble.locator(".answer-text button.cite").first.click()
        page.locator("#passage").wait_for(state="visible")
        assert page.locator("#passage-source").inner_text() == f"uploads/{name} · 2025-04-18"
        assert page.locator("#passage-title").inner_text() == f"{city}氢能产业基金设立"
        assert page.locator("#passage-section").inner_text() == "基金方案"
        audit(page, f"chat {width}")
        page.click("#passage-open")
        hit = page.locator("#viewer #viewer-hit")
        hit.wait_for()
        passage = page.locator("#passage-text").inner_text()
        assert hit.inner_text() == passage and f"{size}亿元" in hit.inner_text()
        full = page.locator("#viewer-text").inner_text()
        assert "## 配套政策" in full and full.index(hit.inner_text()) > 0  # the whole text
        page.wait_for_timeout(300)
        inside = page.evaluate("""() => {
            const h = document.getElementById("viewer-hit").getBoundingClientRect();
            const v = document.getElementById("viewer-text").getBoundingClientRect();
            return h.top >= v.top - 1 && h.top < v.bottom;
        }""")
        assert inside, "the cited span is not scrolled into the viewer"
        assert page.locator("#viewer-meta").inner_text().startswith(f"uploads/{name} · 2025-04-18")
        audit(page, f"viewer {width}")
        shot(page, "viewer", width, full_page=False)  # a modal: what the screen shows
        page.keyboard.press("Escape")
        page.locator("#viewer").wait_for(state="hidden")

        # -- the figures explorer: filter by document, sort, chart, CSV --------------------
        page.click(".tab[data-view=explorer]")
        page.locator("#fig-table table").wait_for()
        page.select_option("#fig-filters select[name=doc]", doc["doc_id"])
        page.click("#fig-filters button[type=submit]")
        page.wait_for_function(
            "id => [...document.querySelectorAll('#fig-table tbody tr')].length > 0 && "
            "[...document.querySelectorAll('#fig-table tbody tr')].every(r => r.textContent.includes('氢能'))",
            arg=doc["doc_id"])
        expected = api.get("/figures", params={"doc": doc["doc_id"]}).json()
        rows = page.locator("#fig-table tbody tr")
        assert rows.count() == expected["total"] >= 2
        assert f"共 {expected['total']} 个数字" in page.locator("#fig-status").inner_text()
        texts = page.locator("#fig-table tbody td.fig-text").all_inner_texts()
        assert f"{size}亿元" in texts
        value_head = page.locator("#fig-table th", has_text="数值")
        value_head.locator("button").click()
        assert value_head.get_attribute("aria-sort") == "ascending"
        value_head.locator("button").click()
        assert value_head.get_attribute("aria-sort") == "descending"
        values = [f["value"] for f in expected["figures"] if f["value"] is not None]
        first = page.locator("#fig-table tbody tr").first.locator("td.fig-text").inner_text()
        assert first == next(f["text"] for f in expected["figures"] if f["value"] == max(values))
        assert page.locator("#fig-chart canvas").count() >= 1
        assert page.locator("#fig-chart").get_attribute("role") == "img"
        box = page.locator("#fig-chart canvas").first.bounding_box()
        assert box and box["width"] <= width and box["height"] > 100
        with page.expect_download() as dl:
            page.click("#fig-csv")
        data = Path(dl.value.path()).read_text(encoding="utf-8-sig")
        table = list(csv.DictReader(io.StringIO(data)))
        assert len(table) == expected["total"]
        assert {r["text"] for r in table} == {f["text"] for f in expected["figures"]}
        assert all(r["source"] == f"uploads/{name}" for r in table)
        audit(page, f"explorer {width}")
        shot(page, "explorer", width)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width

        # -- delete with confirmation: cancel keeps it, confirm removes it ---------------
        page.click(".tab[data-view=library]")
        row = page.locator("#library-table tbody tr", has_text=name)
        row.locator("button", has_text="删除").click()
        dialog = page.locator("#confirm")
        dialog.wait_for()
        assert name in page.locator("#confirm-text").inner_text()
        dialog.locator("button", has_text="取消").click()
        dialog.wait_for(state="hidden")
        assert any(d["doc_id"] == doc["doc_id"] for d in api.get("/documents").json()["documents"])
        row.locator("button", has_text="删除").click()
        dialog.wait_for()
        page.click("#confirm-ok")
        page.locator("#library-table tbody tr", has_text=name).wait_for(state="detached")
        assert "已删除" in page.locator("#library-status").inner_text()
        assert all(d["doc_id"] != doc["doc_id"] for d in api.get("/documents").json()["documents"])
        assert not (live.corpus / "uploads" / name).exists()
        assert w.dialogs == [] and w.errors == []
        assert all(u.startswith(live.url) or u.startswith("blob:") for u in w.requests)
    finally:
        w.close()
        for d in api.get("/documents").json()["documents"]:
            if d["source"] == f"uploads/{name}":
                api.delete(f"/documents/{d['doc_id']}")


def test_a_failed_upload_says_why(browser: Any, live: Live) -> None:
    w = Watched(browser, live.url)
    page = w.page
    try:
        set_key(page)
        page.click(".tab[data-view=library]")
        page.set_input_files("#upload-input", files=[
            {"name": "slides.pptx", "mimeType": "application/octet-stream", "buffer": b"PK\x03\x04"},
            {"name": "nul.txt", "mimeType": "text/plain", "buffer": b"\x00" * 64},
        ])
        page.wait_for_function("() => { const li = [...document.querySelectorAll('#uploads li')];"
                               " return li.length === 2 && li.every(x => x.dataset.state === 'failed'); }",
                               timeout=120_000)
        stages = page.locator("#uploads .upload-stage").all_inner_texts()
        assert any("slides.pptx" in s and "unsupported file type" in s for s in stages), stages
        assert any("nul.txt" in s and "binary" in s for s in stages), stages
        assert w.dialogs == []
        # the 422 of the refused .pptx is the only failed request the console may show
        assert all("422" in e or "Failed to load resource" in e for e in w.errors), w.errors
    finally:
        w.close()


def test_keyboard_reaches_every_view(browser: Any, live: Live) -> None:
    """Tab order from the top: key box, new chat, the three tabs; Enter switches views;
    header buttons sort; dialogs take focus and Escape gives it back."""
    w = Watched(browser, live.url)
    page = w.page
    try:
        order = []
        for _ in range(5):
            page.keyboard.press("Tab")
            order.append(page.evaluate("() => document.activeElement.textContent.trim()"))
        assert order == ["API 密钥", "新对话", "问答", "文档库", "数字浏览"], order
        page.keyboard.press("Enter")  # on 数字浏览
        page.locator("#view-explorer").wait_for()
        assert page.locator(".tab[aria-current=page]").inner_text() == "数字浏览"
        page.locator("#fig-table table").wait_for()
        page.focus("#fig-filters input[name=metric]")
        page.keyboard.type("规模")
        page.keyboard.press("Enter")  # submits the filters
        page.wait_for_function("() => document.getElementById('fig-status').textContent.startsWith('共')")
        page.locator(".tab[data-view=library]").focus()
        page.keyboard.press("Enter")
        page.locator("#library-table table").wait_for()
        page.wait_for_load_state("networkidle")  # the list drawn again by the library's own load
        head = page.locator("#library-table th", has_text="段落")
        head.locator("button").focus()
        page.keyboard.press("Enter")
        assert head.get_attribute("aria-sort") == "ascending"
        passages = [int(t) for t in page.locator("#library-table tbody td.num").all_inner_texts()[::2]]
        assert passages == sorted(passages)
        view = page.locator("#library-table tbody tr").first.locator("button", has_text="查看")
        view.focus()
        page.keyboard.press("Enter")
        page.locator("#viewer").wait_for()
        page.wait_for_function("() => document.getElementById('viewer-text').textContent.length > 100")
        assert page.evaluate("() => document.getElementById('viewer').contains(document.activeElement)")
        page.keyboard.press("Escape")
        page.locator("#viewer").wait_for(state="hidden")
        assert page.evaluate("() => document.activeElement.textContent") == "查看"
        assert w.errors == []
    finally:
        w.close()


@pytest.mark.parametrize("rows_by", ["item", "year"])
def test_answer_tables_render_sortable_with_a_chart(browser: Any, live: Live,
                                                    api: httpx.Client, rows_by: str) -> None:
    """An answer whose JSON has ``table`` (comparison, superlative and trend answers): a real
    answer from the server, given a table of its own figures in the answerer's shape, renders
    as a sortable table with a citation per row, and a bar chart by item or a line chart by
    year; a row where nothing was found is a gap, sorted last."""
    answer = api.post("/chat", json={"messages": [
        {"role": "user", "content": "哪些城市设立了机器人产业基金?"}]}).json()
    figures = [f for f in answer["figures"] if f["value"] is not None and f["unit"] == "元"]
    if len(figures) < 2:
        figures = [f for f in answer["figures"] if f["value"] is not None]
    assert len(figures) >= 2, answer["figures"]
    cited = {c["id"]: c for c in answer["citations"]}
    rows = [{"label": f["subject"] or f["text"] if rows_by == "item" else f"{2015 + i}年",
             "figure": f, "citation": f["citation"], "quote": cited[f["citation"]]["text"][:30]}
            for i, f in enumerate(figures)]
    rows.append({"label": "无此项" if rows_by == "item" else "2030年", "figure": None,
                 "citation": None, "quote": None})
    first_col = "项目" if rows_by == "item" else "年份"
    answer["table"] = {"columns": [first_col, "数值", "依据"], "rows": rows}
    body = f"event: done\ndata: {json.dumps(answer, ensure_ascii=False)}\n\n"
    w = Watched(browser, live.url)
    page = w.page
    try:
        page.route("**/chat", lambda route: route.fulfill(
            status=200, headers={"Content-Type": "text/event-stream"}, body=body))
        bubble = w.ask("哪些城市设立了机器人产业基金?", 1)
        table = bubble.locator(".answer-table table")
        assert table.locator("th").all_inner_texts() == [first_col, "数值", "依据", "出处"]
        assert table.locator("tbody tr").count() == len(figures) + 1
        assert table.locator("tbody button.cite").count() == len(figures)
        table.locator("th", has_text="数值").locator("button").click()
        shown = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
        by_value = [f["text"] for f in sorted(figures, key=lambda f: f["value"])]
        assert shown == [*by_value, "未找到"]  # the gap last
        bubble.locator(".answer-table canvas").first.wait_for()
        kind = bubble.locator(".answer-chart").get_attribute("aria-label")
        assert ("折线图" if rows_by == "year" else "柱状图") in kind, kind
        table.locator("tbody button.cite").first.click()
        page.locator("#passage").wait_for(state="visible")
        audit(page, "answer table")
        assert w.errors == []
    finally:
        w.close()


def test_every_page_asset_is_served_by_the_package(live: Live) -> None:
    page = httpx.get(f"{live.url}/", timeout=60).text
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all(r.startswith("/") and not r.startswith("//") for r in refs), refs
    for ref in refs:
        r = httpx.get(f"{live.url}{ref}", timeout=60)
        assert r.status_code == 200, ref
    vendored = (Path(__file__).resolve().parents[1] / "server" / "static" / "VENDORED.txt").read_text()
    assert "uPlot 1.6.32" in vendored and "MIT" in vendored


def test_conversations_persist_rename_export_and_delete(browser: Any, live: Live) -> None:
    w = Watched(browser, live.url)
    page = w.page
    try:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
        first = w.ask(BEIJING_Q, 1)
        w.ask("那成都呢?", 2)
        first.locator("button.copy").click()
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert copied.startswith(first.locator(".answer-text").inner_text()[:20])
        assert "来源：" in copied and "cen-page-robot-funds.txt" in copied
        page.reload()  # the conversation comes back, follow-up context included
        page.locator(".turn.assistant .bubble").nth(1).wait_for()
        assert page.locator(".turn.user .bubble").all_inner_texts() == [BEIJING_Q, "那成都呢?"]
        assert "100亿元" in page.locator(".turn.assistant .answer-text").first.inner_text()
        page.locator(".turn.assistant button.cite").first.click()
        page.locator("#passage").wait_for(state="visible")
        assert page.locator("#conv-select option:checked").inner_text().startswith(BEIJING_Q[:20])

        page.click("#conv-rename")
        page.fill("#rename-input", "北京与成都的基金")
        page.click("#rename-ok")
        # the list is redrawn after the rename is stored: wait for it rather than race it
        page.wait_for_function("() => document.querySelector('#conv-select option:checked')"
                               ".textContent === '北京与成都的基金（2）'")
        assert page.locator("#conv-select option:checked").inner_text() == "北京与成都的基金（2）"
        with page.expect_download() as dl:
            page.click("#conv-export")
        md = Path(dl.value.path()).read_text(encoding="utf-8")
        assert md.startswith("# 北京与成都的基金\n") and f"## 问：{BEIJING_Q}" in md
        assert "[1] 《地方政府产业基金瞄准人形机器人》 cen-page-robot-funds.txt" in md
        assert "100亿元" in md and "> " in md

        page.click("#new-chat")  # a second conversation; the first stays in the list
        w.ask("5G基站将达多少个?", 1)
        assert page.locator("#conv-select option").count() == 3  # (新对话) + 2
        page.select_option("#conv-select", label="北京与成都的基金（2）")
        assert page.locator(".turn.user .bubble").all_inner_texts() == [BEIJING_Q, "那成都呢?"]
        third = w.ask("重庆呢?", 3)  # the restored conversation still resolves follow-ups
        assert "重庆" in third.locator(".rewritten-text").inner_text()
        page.click("#conv-delete")
        page.click("#confirm-ok")
        page.wait_for_function("() => document.querySelectorAll('#conv-select option').length === 2")
        assert page.locator(".turn").count() == 0
        page.reload()
        assert page.locator("#conv-select option").count() == 2
        audit(page, "conversations")
        assert w.dialogs == [] and w.errors == []
    finally:
        w.close()


def test_stop_ends_a_slow_answer(browser: Any, live: Live) -> None:
    w = Watched(browser, live.url)
    page = w.page
    try:
        page.route("**/chat", lambda route: page.wait_for_timeout(5000) or route.abort())
        page.fill("#question", BEIJING_Q)
        page.press("#question", "Enter")
        page.locator("#send.stop").wait_for()
        assert page.locator("#send").inner_text() == "停止"
        page.click("#send")
        page.locator(".bubble.error", has_text="已停止").wait_for(timeout=4000)
        assert page.locator("#send").inner_text() == "发送"
        assert page.locator("#conv-select option").count() == 1  # nothing was recorded
    finally:
        w.close()
