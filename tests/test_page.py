"""The chat page in a real headless Chromium (Debian's, driven by Python playwright) against
the live test server: ask, follow up, open citations, and never run passage markup."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_server import ADMIN_KEY, BEIJING_Q, Live, live_server, upload

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "benchmarks" / "out" / "screenshots"  # git-ignored; CI keeps benchmarks/out/
ACCENT_RED = "rgb(179, 38, 30)"  # --accent: the page's error/invalid colour
FONT_STACK = ['"Noto Sans CJK SC"', '"Noto Sans SC"', '"Source Han Sans SC"', '"PingFang SC"',
              '"Hiragino Sans GB"', '"Microsoft YaHei"', '"WenQuanYi Micro Hei"', "sans-serif"]
CJK_FONT_WORDS = ("CJK", "Source Han", "Noto Sans SC", "PingFang", "Hiragino", "YaHei", "WenQuanYi")

pytestmark = pytest.mark.slow

INJECTION = (
    "# 紫藤市海洋产业基金\n\n"
    "2025年3月,紫藤市设立紫藤市海洋产业基金,目标规模为88亿元。"
    "<script>window.pwned = 1; alert('script')</script>"
    "<img src=x onerror=\"window.pwned = 2; alert('img')\">"
    "<b onmouseover=alert(3)>粗体</b>该基金重点投向海洋装备。\n"
).encode()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("RAG_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and RAG_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, model_path: Path,
         request: pytest.FixtureRequest) -> Live:
    return live_server(tmp_path_factory, model_cache, request)


class Watched:
    """A page with its dialogs, page errors and console errors recorded."""

    def __init__(self, browser: Any, url: str, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ask(self, question: str, turn: int) -> Any:
        """Type a question, send it, and wait for the turn-th answer to finish."""
        self.page.fill("#question", question)
        self.page.press("#question", "Enter")
        done = self.page.locator(".turn.assistant .bubble:not(.streaming)").nth(turn - 1)
        done.wait_for()
        return done

    def close(self) -> None:
        self.context.close()


def test_ask_follow_up_and_open_citations(browser: Any, live: Live, tmp_path: Path) -> None:
    w = Watched(browser, live.url)
    page = w.page
    try:
        assert page.title().startswith("政策新闻问答")
        first = w.ask(BEIJING_Q, 1)
        assert "100亿元" in first.locator(".answer-text").inner_text()
        assert not first.evaluate("e => e.classList.contains('not-found')")
        table = first.locator(".figures-table")
        assert "100亿元" in table.inner_text()
        assert table.locator("th").all_inner_texts() == ["数字", "数值", "单位", "主体", "日期",
                                                         "出处"]

        first.locator(".answer-text button.cite[data-citation='1']").first.click()
        panel = page.locator("#passage")
        panel.wait_for(state="visible")
        assert page.locator("#passage-title").inner_text() == "地方政府产业基金瞄准人形机器人"
        assert page.locator("#passage-section").inner_text() == "北京市"
        assert "北京机器人产业发展投资基金" in page.locator("#passage-text").inner_text()
        assert "100亿元" in page.locator("#passage-text mark").all_inner_texts()

        second = w.ask("那成都呢?", 2)
        rewritten = second.locator(".rewritten-text").inner_text()
        assert "成都" in rewritten and "北京" not in rewritten
        assert "100亿元" in second.locator(".answer-text").inner_text()
        second.locator(".answer-text button.cite").first.click()
        assert "成都" in page.locator("#passage-section").inner_text()
        assert "100亿元" in page.locator("#passage-text mark").all_inner_texts()

        third = w.ask("火星基地的建设预算是多少?", 3)
        assert third.evaluate("e => e.classList.contains('not-found')")

        second.scroll_into_view_if_needed()
        second.locator(".answer-text button.cite").first.click()
        shot = tmp_path / "chat.png"
        page.set_viewport_size({"width": 1280, "height": 1300})  # the whole conversation
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
        assert w.dialogs == [] and w.errors == []
        assert all(u.startswith(live.url) for u in w.requests)  # nothing leaves the server
    finally:
        w.close()


def test_markup_in_passages_never_runs(browser: Any, live: Live) -> None:
    with httpx.Client(base_url=live.url, timeout=120) as c:
        job = upload(c, "injection.txt", INJECTION)
    assert job["state"] == "done", job
    doc_id = job["document"]["doc_id"]
    w = Watched(browser, live.url)
    page = w.page
    try:
        bubble = w.ask("紫藤市海洋产业基金的目标规模是多少?", 1)
        assert "88亿元" in bubble.inner_text()
        cites = bubble.locator(".answer-text button.cite")
        assert cites.count() >= 1
        for i in range(cites.count()):
            cites.nth(i).click()
            text = page.locator("#passage-text").inner_text()
            if "<script>" in text:
                break
        assert "<script>window.pwned = 1;" in text  # shown as text
        assert "<img src=x onerror=" in text
        passage = page.locator("#passage-text")
        assert passage.locator("script, img, b").count() == 0
        assert page.locator("#conversation script, #conversation img").count() == 0
        assert "88亿元" in passage.locator("mark").all_inner_texts()
        page.mouse.move(10, 10)
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.pwned") is None
        assert w.dialogs == [] and w.errors == []
        assert not any(u.rstrip("/").endswith("/x") for u in w.requests)
    finally:
        w.close()
        httpx.delete(f"{live.url}/documents/{doc_id}", headers={"X-API-Key": ADMIN_KEY},
                     timeout=120)


def _border(page: Any) -> dict[str, Any]:
    return page.evaluate("""() => {
        const q = document.getElementById("question");
        const cs = getComputedStyle(q);
        return {color: cs.borderTopColor, invalid: q.matches(":invalid"),
                aria: q.getAttribute("aria-invalid")};
    }""")


def test_input_looks_normal_after_send(browser: Any, live: Live) -> None:
    w = Watched(browser, live.url)
    page = w.page
    try:
        before = _border(page)
        assert before["color"] != ACCENT_RED and not before["invalid"]
        w.ask(BEIJING_Q, 1)
        page.wait_for_function("() => document.activeElement.id === 'question'")
        after = _border(page)  # emptied and focused again, ready for the next question
        assert after == before, f"input looks different after a send: {before} -> {after}"
        assert after["color"] != ACCENT_RED and not after["invalid"] and after["aria"] != "true"
        assert w.errors == []
    finally:
        w.close()


def test_figures_table_readable_at_390(browser: Any, live: Live) -> None:
    w = Watched(browser, live.url, width=390, height=844)
    page = w.page
    try:
        first = w.ask(BEIJING_Q, 1)
        table = first.locator(".figures-table")
        table.wait_for()
        boxes = table.evaluate("""t => {
            const lines = (e) => {
                const cs = getComputedStyle(e);
                const pad = parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom)
                    + parseFloat(cs.borderTopWidth) + parseFloat(cs.borderBottomWidth);
                const lh = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.65;
                return (e.getBoundingClientRect().height - pad) / lh;
            };
            const textLines = (e) => {  // line boxes the cell's text occupies (cells share a row height)
                const r = document.createRange();
                r.selectNodeContents(e);
                return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size;
            };
            return {
                cites: [...t.querySelectorAll("button.cite")].map(b => ({
                    text: b.textContent, lines: lines(b), width: b.getBoundingClientRect().width,
                    fs: parseFloat(getComputedStyle(b).fontSize)})),
                heads: [...t.querySelectorAll("th")].map(h => ({text: h.textContent, lines: lines(h)})),
                figs: [...t.querySelectorAll("td.fig-text")].map(d => ({
                    text: d.textContent, lines: textLines(d)})),
                cells: [...t.querySelectorAll("td")].map(d => ({
                    text: d.textContent, width: d.getBoundingClientRect().width,
                    fs: parseFloat(getComputedStyle(d).fontSize)})),
            };
        }""")
        assert boxes["cites"], "no citation marker in the figures table"
        for c in boxes["cites"]:  # "[1]" on one line, about as wide as its three characters
            assert c["lines"] < 1.5 and c["width"] >= 1.2 * c["fs"], c
        for h in boxes["heads"]:  # 数字, 数值, … each on one line, never letter by letter
            assert h["lines"] < 1.5, h
        for f in boxes["figs"]:  # a figure such as 100亿元 is never cut in two
            assert f["lines"] < 1.5, f
        for d in boxes["cells"]:  # no cell squeezed below two characters
            assert d["width"] >= 2 * d["fs"], d
        # The table scrolls inside its box; the page itself never scrolls sideways.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert w.errors == []
    finally:
        w.close()


def test_citation_panel_is_an_overlay_at_390(browser: Any, live: Live) -> None:
    w = Watched(browser, live.url, width=390, height=844)
    page = w.page
    try:
        first = w.ask(BEIJING_Q, 1)
        first.locator(".answer-text button.cite[data-citation='1']").first.click()
        panel = page.locator("#passage")
        panel.wait_for(state="visible")
        page.wait_for_timeout(400)  # let any smooth scrolling settle
        geo = page.evaluate("""() => {
            const p = document.getElementById("passage");
            const r = p.getBoundingClientRect();
            const x = r.left + r.width / 2, y = r.top + Math.min(r.height / 2, 40);
            const hit = document.elementFromPoint(x, y);
            const form = document.getElementById("ask-form").getBoundingClientRect();
            return {position: getComputedStyle(p).position, top: r.top, bottom: r.bottom,
                    left: r.left, right: r.right, vw: innerWidth, vh: innerHeight,
                    onTop: p.contains(hit), formTop: form.top,
                    scrollY: scrollY};
        }""")
        assert geo["position"] == "fixed", geo
        assert geo["onTop"], f"the panel is not over the page: {geo}"
        assert geo["left"] >= 0 and geo["right"] <= geo["vw"] + 0.5, geo
        assert geo["top"] >= 0 and geo["bottom"] <= geo["vh"] + 0.5, geo
        assert geo["bottom"] - geo["top"] <= 0.85 * geo["vh"], geo  # page still visible above
        assert "北京机器人产业发展投资基金" in page.locator("#passage-text").inner_text()
        close = page.locator("#passage-close")
        assert close.is_visible()
        close.click()
        panel.wait_for(state="hidden")
        first.locator(".answer-text button.cite[data-citation='1']").first.click()
        panel.wait_for(state="visible")
        page.keyboard.press("Escape")
        panel.wait_for(state="hidden")
        assert w.errors == []
    finally:
        w.close()


def _platform_fonts(page: Any, selector: str) -> list[str]:
    cdp = page.context.new_cdp_session(page)
    doc = cdp.send("DOM.getDocument")
    node = cdp.send("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": selector})
    cdp.send("CSS.enable")
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    return [f["familyName"] for f in fonts if f["glyphCount"] > 0]


def test_cjk_fonts_and_screenshots(browser: Any, live: Live) -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "fonts-noto-cjk" in ci, ".ci/run must install a CJK font with chromium"
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        w = Watched(browser, live.url, width=width, height=height)
        page = w.page
        try:
            family = page.evaluate("() => getComputedStyle(document.body).fontFamily")
            names = [f.strip() for f in family.split(",")]
            positions = [names.index(f) for f in FONT_STACK if f in names]
            assert len(positions) == len(FONT_STACK) and positions == sorted(positions), family
            first = w.ask(BEIJING_Q, 1)
            used = _platform_fonts(page, "h1")  # 政策新闻问答: every glyph from a CJK font
            assert used and all(any(k in f for k in CJK_FONT_WORDS) for f in used), used
            first.locator(".answer-text button.cite[data-citation='1']").first.click()
            page.locator("#passage").wait_for(state="visible")
            page.wait_for_timeout(400)
            shot = SHOTS / f"page-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            print(f"screenshot: {shot}")
            assert w.errors == []
        finally:
            w.close()
