"""The page in a real browser: Debian's Chromium driven by Playwright, against the real app and model."""

from __future__ import annotations

import importlib.util
import re
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.web.background import serve_in_background
from tests.conftest import SEEDS, require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
QUESTION = "متى يزور أولوند موسكو؟"
ANSWER_TIMEOUT_MS = 120_000
PAGE_ERRORS: list[str] = []

pytestmark = pytest.mark.slow


# An article whose title and text carry markup: the page must show it as text and run none of it.
SCRIPT_TAG = "<script>window.__xss = 3</script>"
IMG_TAG = '<img src=x onerror="window.__xss = 4">'
HOSTILE_ARTICLE = f"""مهرجان الزيتون في تلة الصفصاف {SCRIPT_TAG} – وكالة الاختبار
مهرجان الزيتون في تلة الصفصاف {SCRIPT_TAG}

اختتم مهرجان الزيتون في قرية تلة الصفصاف دورته الأولى يوم السبت {SCRIPT_TAG} بحضور ألفي زائر {IMG_TAG}.

وقال المنظمون إن الدورة الثانية من مهرجان الزيتون ستقام في الربيع المقبل {IMG_TAG}.

المصدر:وكالة الاختبار
"""
HOSTILE_QUESTION = "متى اختتم مهرجان الزيتون في تلة الصفصاف دورته الأولى؟"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[str]:
    import qa

    # Checked before anything is built: without a browser these tests skip (fail under CI) at once.
    require(shutil.which(CHROMIUM) is not None, f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None, "needs the playwright package (pip install playwright)")
    folder = tmp_path_factory.mktemp("browser")
    hostile = folder / "hostile"
    hostile.mkdir()
    (hostile / "olives.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    index = folder / "vectors"
    qa.build_index([str(SEEDS), str(hostile)], index, embedder=embedder)
    with serve_in_background(["--index", str(index), "--seeds", str(SEEDS)]) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="ar")
        page.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))
        page.goto(server)
        page.locator("#qa-question textarea").wait_for()
        yield page
        browser.close()


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, and return the locator of the answer once it is shown."""
    before = page.locator(".qa-answer").count()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".qa-answer").nth(before)
    answer.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return answer


def new_conversation(page: Any) -> None:
    page.locator("#qa-new").click()
    page.locator(".qa-msg").first.wait_for(state="detached")


def test_answer_is_right_to_left_and_its_marker_brings_the_highlighted_sentence_into_view(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    new_conversation(page)
    answer = ask(page, QUESTION)
    expect(answer).to_contain_text("الخميس")
    assert answer.evaluate("element => getComputedStyle(element).direction") == "rtl"
    marker = answer.locator("a.qa-cite").first
    card = page.locator(marker.get_attribute("href"))
    marker.click()
    expect(card).to_have_class(re.compile(r"\bqa-active\b"))
    highlight = card.locator(".qa-passage mark.qa-hl")
    expect(highlight).to_be_in_viewport()
    sentence = highlight.inner_text().strip()
    assert sentence and sentence in answer.inner_text()
    expect(card.locator(".qa-meta")).to_contain_text("مصدر24")
    card.locator("details.qa-article summary").click()
    expect(card.locator(".qa-article-text mark.qa-hl")).to_be_visible()
    page.screenshot(path=str(tmp_path / "answer.png"))
    assert (tmp_path / "answer.png").stat().st_size > 10_000
    assert not PAGE_ERRORS


def test_direction_is_decided_per_message(page: Any) -> None:
    new_conversation(page)
    ask(page, "When does Hollande visit Moscow?")
    question = page.locator(".qa-question").last
    assert question.evaluate("element => getComputedStyle(element).direction") == "ltr"


def test_follow_up_uses_the_conversation(page: Any) -> None:
    from playwright.sync_api import expect

    new_conversation(page)
    ask(page, QUESTION)
    ask(page, "ومع من سيلتقي هناك؟")
    expect(page.locator(".qa-answer")).to_have_count(2)
    expect(page.locator("details.qa-older")).to_have_count(1)


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), (" \t\n ", "empty"), ("\u202e\u2066", "empty"), ("س" * 10_000, "2,000"), ("x" * 100_000, "2,000")],
    ids=["empty", "whitespace", "only-bidi-controls", "10k-arabic", "100k-characters"],
)
def test_bad_questions_get_a_message_in_the_chat(page: Any, question: str, message: str) -> None:
    from playwright.sync_api import expect

    new_conversation(page)
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    error = page.locator(".qa-error").last
    expect(error).to_contain_text(message)
    assert "Traceback" not in page.content()


def test_typed_html_is_shown_as_text(page: Any) -> None:
    from playwright.sync_api import expect

    new_conversation(page)
    typed = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script> **bold**'
    ask(page, typed)
    expect(page.locator(".qa-question").last).to_have_text(typed)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#qa-chat img[src='x'], #qa-chat strong:has-text('bold')").count() == 0


@pytest.mark.parametrize(
    "question",
    ["؟؟؟ ... !!! ،،", "🙂🚀🔥", "When يزور Hollande موسكو ?", "\u202eمتى يزور أولوند موسكو؟\u202c"],
    ids=["only-punctuation", "emoji", "mixed-scripts", "bidi-override"],
)
def test_odd_questions_get_an_answer_or_an_abstention(page: Any, question: str) -> None:
    from playwright.sync_api import expect

    new_conversation(page)
    answer = ask(page, question)
    assert answer.inner_text().strip()
    shown = question.replace("\u202e", "").replace("\u202c", "").strip()
    expect(page.locator(".qa-question").last).to_have_text(shown)  # the bidi controls are dropped, not shown
    assert page.locator(".qa-error").count() == 0


def test_an_article_with_markup_is_shown_as_text(page: Any) -> None:
    from playwright.sync_api import expect

    new_conversation(page)
    answer = ask(page, HOSTILE_QUESTION)
    expect(answer).to_contain_text("السبت")
    card = page.locator("#qa-sources-panel .qa-src").first
    expect(card.locator(".qa-title")).to_contain_text(SCRIPT_TAG)
    expect(card.locator(".qa-passage")).to_contain_text(SCRIPT_TAG)
    expect(card.locator(".qa-passage")).to_contain_text(IMG_TAG)
    card.locator("details.qa-article summary").click()
    expect(card.locator(".qa-article-text")).to_contain_text(IMG_TAG)
    expect(card.locator(".qa-article-text")).to_be_visible()
    page.wait_for_timeout(300)  # an onerror handler would have run by now
    assert page.evaluate("window.__xss") is None
    assert page.locator("#qa-sources-panel img, #qa-sources-panel script, #qa-chat img[src='x']").count() == 0
    assert not PAGE_ERRORS


def test_time_to_first_answer(page: Any, capsys: pytest.CaptureFixture[str]) -> None:
    seconds = []
    for _ in range(5):
        new_conversation(page)
        started = time.perf_counter()
        answer = ask(page, QUESTION)
        answer.filter(has_text="الخميس").wait_for()
        seconds.append(time.perf_counter() - started)
    with capsys.disabled():
        print(f"\ntime to first answer in the browser: median {statistics.median(seconds):.2f} s "
              f"over 5 ({', '.join(f'{s:.2f}' for s in seconds)})")
    assert statistics.median(seconds) < 30


def test_the_sources_filter_lists_the_index_s_sites(page: Any) -> None:
    from playwright.sync_api import expect

    new_conversation(page)
    settings = page.get_by_text("الإعدادات")
    settings.click()
    page.locator("#qa-sources-filter input").click()
    options = page.locator("#qa-sources-filter [data-testid=dropdown-option]")
    expect(options).to_have_count(2)
    assert sorted(options.all_inner_texts()) == sorted(["مصدر24", "وكالة الاختبار"])
    options.filter(has_text="وكالة الاختبار").click()
    page.keyboard.press("Escape")
    answer = ask(page, QUESTION)  # only the hostile article's site: Moscow is not in it
    assert "الخميس" not in answer.inner_text()
    expect(page.locator("#qa-sources-panel .qa-meta").first).to_contain_text("وكالة الاختبار")
    page.reload()  # the next test starts without the filter
    page.locator("#qa-question textarea").wait_for()


def test_on_a_phone_the_chat_label_leaves_the_first_question_clear(page: Any, server: str) -> None:
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844}, locale="ar")
    try:
        phone.goto(server)
        answer = ask(phone, "مع من اتفق أولوند على توسيع العمليات العسكرية ضد داعش؟")
        assert answer.inner_text().strip()
        label = phone.locator("#qa-chat label[data-testid=block-label]")
        assert "المحادثة" in label.inner_text()
        box, question = label.bounding_box(), phone.locator(".qa-question").first.bounding_box()
        assert box is not None and question is not None
        assert box["y"] + box["height"] <= question["y"], (box, question)
        # Above the scrolling messages, not over them: no message can slide under it either.
        messages = phone.locator("#qa-chat .bubble-wrap").bounding_box()
        assert messages is not None and box["y"] + box["height"] <= messages["y"] + 1, (box, messages)
    finally:
        phone.close()
