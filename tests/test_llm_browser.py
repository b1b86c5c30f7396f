"""Streaming reaches the page: the app with --llm (a real llama.cpp server), in Debian's Chromium driven by Playwright."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.web.background import serve_in_background
from tests.conftest import SEEDS, require
from tests.llm_server import llama_server, missing
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.slow

QUESTION = "متى يزور أولوند موسكو؟"
TIMEOUT_MS = 180_000

# Times, from the question's Enter, of the first streamed text and of the checked answer (performance.now()).
WATCH = """() => {
  window.__qa = {start: performance.now(), first: null, done: null, pieces: 0};
  const seen = new Set();
  new MutationObserver(() => {
    const streaming = document.querySelector('.qa-streaming');
    if (streaming) {
      if (window.__qa.first === null) window.__qa.first = performance.now();
      seen.add(streaming.textContent.length);
      window.__qa.pieces = seen.size;
    }
    const answers = document.querySelectorAll('.qa-answer:not(.qa-streaming)');
    if (answers.length && window.__qa.done === null && document.querySelector('#qa-sources-panel .qa-src')) window.__qa.done = performance.now();
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def app(seed_index: Path) -> Iterator[str]:
    require(shutil.which(CHROMIUM) is not None, f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "needs the playwright package (pip install playwright)")
    require(missing() is None, missing() or "")
    with llama_server() as llm, serve_in_background(
        ["--index", str(seed_index), "--seeds", str(SEEDS), "--build", "never", "--llm", llm.url, "--llm-model", "gemma-3-270m"],
        env={**os.environ, "QA_LLM_API_KEY": "not-a-real-key"},
    ) as url:
        yield url


def ask_and_time(page: Any, question: str) -> dict[str, float]:
    """Ask in the page; the seconds to the first streamed text and to the checked answer with its sources."""
    page.locator("#qa-new").click()
    page.evaluate(WATCH)
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function("() => window.__qa.done !== null", timeout=TIMEOUT_MS)
    timing = page.evaluate("() => window.__qa")
    return {"first_token_s": (timing["first"] - timing["start"]) / 1000 if timing["first"] else float("nan"),
            "total_s": (timing["done"] - timing["start"]) / 1000, "pieces": timing["pieces"]}


def test_generated_text_streams_into_the_chat_then_the_sources_fill(app: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="ar")
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(app)
        page.locator("#qa-question textarea").wait_for()
        timing = ask_and_time(page, QUESTION)
        answer = page.locator(".qa-answer").last
        expect(answer).not_to_have_class("qa-streaming")
        # The text was seen growing before the answer was complete, and the sources came with the answer.
        assert timing["pieces"] >= 2 and timing["first_token_s"] < timing["total_s"], timing
        expect(page.locator("#qa-sources-panel .qa-src").first).to_be_visible()
        assert answer.locator(".qa-verified, .qa-fallback").count() == 1
        content = page.content()
        assert "not-a-real-key" not in content
        browser.close()
    assert not errors
