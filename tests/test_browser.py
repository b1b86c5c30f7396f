"""The page in a real browser: Debian's Chromium driven by Playwright, against the real app and model."""

from __future__ import annotations

import re
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
QUESTION = "متى يزور أولوند موسكو؟"
SEEDS = ROOT / "seeds"
ANSWER_TIMEOUT_MS = 120_000
PAGE_ERRORS: list[str] = []

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"),
]


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
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import qa

    folder = tmp_path_factory.mktemp("browser")
    hostile = folder / "hostile"
    hostile.mkdir()
    (hostile / "olives.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    index = folder / "vectors"
    qa.build_index([str(SEEDS), str(hostile)], index)
    with app.serve_in_background(["--index", str(index), "--seeds", str(SEEDS)]) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
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
