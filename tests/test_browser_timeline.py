"""The timeline and the examples in a real browser (Debian's Chromium, Playwright), over a small index of real ANT articles."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.web.background import serve_in_background
from tests.conftest import SEEDS, require
from tests.test_browser import ANSWER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS
from tests.test_timeline import QUESTION, _aquarius

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, ant: Path, embedder: Any) -> Iterator[Any]:
    import qa

    require(shutil.which(CHROMIUM) is not None, f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "needs the playwright package (pip install playwright)")
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("browser-timeline")
    source = folder / "aquarius.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _aquarius(ant)), encoding="utf-8")
    qa.build_index([str(source)], folder / "vectors", embedder=embedder)
    errors: list[str] = []
    with serve_in_background(["--index", str(folder / "vectors"), "--seeds", str(SEEDS)]) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="ar")
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.locator("#qa-question textarea").wait_for()
        page.errors = errors
        yield page
        browser.close()


def test_the_examples_are_the_index_s_newest_titles(page: Any) -> None:
    from playwright.sync_api import expect

    # the newest article's title, as a question (Gradio cuts a long example short on the page)
    expect(page.locator("body")).to_contain_text("ما تفاصيل خبر «إيطاليا ترفض استقبال سفينة")
    assert "أولوند" not in page.locator("body").inner_text()  # the seed's examples belong to the seed index


def test_a_story_question_gets_its_timeline_right_to_left(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    box = page.locator("#qa-question textarea")
    box.fill(QUESTION)
    box.press("Enter")
    timeline = page.locator(".qa-answer ol.qa-timeline").first
    timeline.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert timeline.get_attribute("dir") == "rtl"
    assert timeline.evaluate("element => getComputedStyle(element).direction") == "rtl"
    lines = timeline.locator("li")
    assert lines.count() >= 3
    days = [lines.nth(i).locator("time.qa-tl-date").get_attribute("datetime") for i in range(lines.count())]
    assert days == sorted(days) and all(d and d.startswith("2018-06") for d in days)
    expect(lines.first.locator("time.qa-tl-date")).to_contain_text("يونيو 2018")
    expect(lines.first.locator(".qa-tl-sites")).not_to_be_empty()
    marker = lines.last.locator("a.qa-cite")
    # A passage the answer cites for another sentence too has one card per cited sentence.
    cards = page.locator(marker.get_attribute("href"))
    marker.click()
    expect(cards.first).to_be_in_viewport()
    highlighted = [cards.nth(i).locator(".qa-passage mark.qa-hl").inner_text().strip() for i in range(cards.count())]
    assert any(h and h in lines.last.inner_text() for h in highlighted), highlighted
    page.screenshot(path=str(tmp_path / "timeline.png"))
    assert not page.errors
