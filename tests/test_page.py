"""The chat page in a real headless Chromium (Debian's, driven by Python playwright) against
the live test server: ask, follow up, open citations, and never run passage markup."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_server import ADMIN_KEY, BEIJING_Q, Live, live_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000

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

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900},
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
    r = httpx.post(f"{live.url}/documents", files={"file": ("injection.txt", INJECTION)},
                   headers={"X-API-Key": ADMIN_KEY}, timeout=120)
    assert r.status_code == 201, r.text
    doc_id = r.json()["doc_id"]
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
