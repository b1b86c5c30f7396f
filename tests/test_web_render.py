"""The page's HTML: everything escaped, markers linked to their sources, direction per message, errors for people."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qa.errors import IndexMissingError, QueryError
from qa.records import Answer, Article, Citation, Hit
from qa.text import text_direction
from qa.web.errors import Busy, RequestError, explain
from qa.web.render import EMPTY_PANEL, answer_message, error_message, sources_panel, sources_section, user_message

QUESTION = "متى يزور أولوند موسكو؟"
EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (QUESTION, "rtl"),
        ("When does Hollande visit Moscow?", "ltr"),
        ("ما هو GDP فرنسا في 2015؟", "rtl"),
        ("What does داعش mean?", "ltr"),
        ("2015", "ltr"),
        ("", "ltr"),
    ],
)
def test_direction_is_decided_by_the_letters(text: str, expected: str) -> None:
    assert text_direction(text) == expected
    assert f'dir="{expected}"' in user_message(text)


def _citation(number: int = 1, *, sentence: str = "الجملة الثانية.", url: str | None = None) -> Citation:
    passage = f"الجملة الأولى {EVIL}. {sentence} الجملة الثالثة."
    offset = passage.index(sentence)
    return Citation(
        number=number, sentence=sentence, start=100 + offset, end=100 + offset + len(sentence), passage_id="a:0",
        passage_text=passage, passage_start=100, passage_end=100 + len(passage), article_id="a", title=f"عنوان {EVIL}",
        origin="x.txt", score=0.5, site="مصدر24", agency="رويترز", published="2015-11-25", url=url,
    )


def _answer(citations: tuple[Citation, ...], text: str = f"الجواب {EVIL} [1] [7]") -> Answer:
    return Answer(question=f"سؤال {EVIL}", text=text, citations=citations, hits=(), abstained=not citations,
                  language="ar", search_query=f"سؤال {EVIL}")


def test_messages_escape_everything_and_link_only_real_markers() -> None:
    message = answer_message(_answer((_citation(),)), turn=2)
    assert "<script" not in message and "<img" not in message and "&lt;script&gt;" in message
    assert '<a class="qa-cite" href="#qa-src-2-1"' in message
    assert "[7]" in message and "#qa-src-2-7" not in message  # no citation 7: left as text
    assert 'dir="rtl"' in answer_message(_answer((_citation(),), text="يزور أولوند موسكو يوم الخميس 26 نوفمبر [1]"), 1)
    user = user_message(f"What is this {EVIL}?\nsecond line")
    assert "<script" not in user and 'dir="ltr"' in user and "<br>" in user


def test_sources_highlight_the_cited_sentence_and_escape_the_article() -> None:
    citation = _citation(url="javascript:alert(1)")
    text = " " * 100 + citation.passage_text
    article = Article(id="a", title=citation.title, text=text, origin="x.txt")
    section = sources_section(3, _answer((citation,)), {"a": article})
    assert 'id="qa-src-3-1"' in section
    assert '<mark class="qa-hl">الجملة الثانية.</mark>' in section
    assert section.count('<mark class="qa-hl">') == 2  # in the passage and in the whole article
    assert "<script" not in section and "<img" not in section and "javascript:" not in section
    assert 'مصدر24 · رويترز · <time datetime="2015-11-25">25 نوفمبر 2015</time>' in section
    linked = sources_section(1, _answer((_citation(url="https://example.com/a?b=1&c=<2>"),)), {})
    assert 'href="https://example.com/a?b=1&amp;c=&lt;2&gt;"' in linked and 'rel="noopener noreferrer nofollow"' in linked


@pytest.mark.parametrize(
    ("language", "published", "shown"),
    [
        ("ar", "2018-05-15T13:50:28+00:00", "15 مايو 2018"),
        ("en", "2018-05-15T13:50:28+00:00", "15 May 2018"),
        ("fr", "2018-05-15T13:50:28+00:00", "15 mai 2018"),
        ("ar", "not a date <b>", "not a date &lt;b&gt;"),  # shown as written, escaped, the page still renders
    ],
)
def test_published_is_shown_for_people_in_the_question_language(language: str, published: str, shown: str) -> None:
    citation = replace(_citation(), published=published)
    answer = replace(_answer((citation,)), language=language)
    section = sources_section(1, answer, {})
    assert f">{shown}</time>" in section
    assert f'datetime="{published.replace("<", "&lt;").replace(">", "&gt;")}"' in section


def test_the_score_is_labelled_in_arabic() -> None:
    section = sources_section(1, _answer((_citation(),)), {})
    assert 'الدرجة <bdi dir="ltr">0.500</bdi>' in section
    assert "score" not in section.replace('class="qa-score"', "")


def test_abstention_lists_the_nearest_passages() -> None:
    hit = Hit(passage_id="a:0", article_id="a", ordinal=0, text=f"نص {EVIL}", score=0.1, start=0, end=10,
              title="عنوان", origin="x.txt")
    answer = Answer(question="س", text="لا تذكر المقالات المتاحة إجابة.", citations=(), hits=(hit,), abstained=True,
                    language="ar", search_query="س")
    section = sources_section(1, answer, {})
    assert "أقرب المقاطع" in section and "&lt;script&gt;" in section and "<script" not in section
    assert "qa-abstained" in answer_message(answer, 1)
    assert "الدرجة" in section


def test_the_panel_keeps_the_newest_open_and_folds_the_older() -> None:
    assert sources_panel([]) == EMPTY_PANEL
    panel = sources_panel(["<section>1</section>", "<section>2</section>", "<section>3</section>"])
    assert panel.index("<section>3</section>") < panel.index("سؤال سابق (2)") < panel.index("سؤال سابق (1)")
    assert panel.count("<details class=\"qa-older\">") == 2


def test_explain_hides_internal_errors() -> None:
    problem = explain(RuntimeError("secret /etc/passwd detail"))
    assert problem.status == 500 and "secret" not in problem.detail and "reference" in problem.detail
    assert explain(QueryError("the question is empty")).status == 400
    assert explain(IndexMissingError("no index at x")).status == 503
    assert explain(Busy()).status == 503
    assert explain(RequestError("too big", 413, "too_large")).kind == "too_large"


def test_error_messages_are_escaped() -> None:
    message = error_message(explain(QueryError(f"bad {EVIL}")))
    assert "<script" not in message and "تعذّر قبول السؤال" in message and 'dir="ltr"' in message


def test_a_generated_answer_says_it_was_verified_and_lists_what_was_removed_escaped() -> None:
    from qa.records import Removed
    from qa.web.render import streaming_message

    answer = Answer(
        question=QUESTION, text="يزور أولوند موسكو يوم الخميس. [1]", citations=(_citation(),), hits=(), abstained=False,
        language="ar", search_query=QUESTION, answerer="llm", note="1 generated sentence(s) removed",
        removed=(Removed(f"جملة {EVIL}", (2,), 0.61, "support 0.610 is under 0.840"),),
    )
    html = answer_message(answer, 1)
    assert "qa-generated" in html and "qa-verified" in html and "qa-removed" in html and "under 0.840" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    fallback = Answer(question=QUESTION, text="x [1]", citations=(_citation(),), hits=(), abstained=False, language="ar",
                      search_query=QUESTION, note=f"extractive answer: the language model failed: {EVIL}")
    html = answer_message(fallback, 2)
    assert "qa-fallback" in html and "qa-verified" not in html and "<img" not in html
    assert "qa-note" not in answer_message(Answer(QUESTION, "x [1]", (_citation(),), (), False, "ar", QUESTION), 3)
    streaming = streaming_message(f"نص {EVIL}")
    assert "qa-streaming" in streaming and "<script>" not in streaming


def test_the_short_answer_opens_the_message_and_is_marked_in_its_sentence() -> None:
    from qa.records import Figure, Short

    citation = _citation(sentence="وقتل 130 شخصا في الهجوم.")
    at = citation.start + citation.sentence.index("130 شخصا")
    short = Short(text="130 شخصا", start=at, end=at + len("130 شخصا"), article_id="a", citation=1, kind="number")
    answer = Answer(question="كم شخصا قتل؟", text=f"130 شخصا — {citation.sentence} [1]", citations=(citation,), hits=(),
                    abstained=False, language="ar", search_query="كم شخصا قتل؟", short=short)
    message = answer_message(answer, 1)
    assert message.index('<strong class="qa-short"') < message.index("وقتل") and '<a class="qa-cite"' in message
    article = Article(id="a", title="t", text=" " * 100 + citation.passage_text, origin="x.txt")
    section = sources_section(1, answer, {"a": article})
    assert section.count('<mark class="qa-short-hl">130 شخصا</mark>') == 2  # in the passage and in the whole article
    assert '<mark class="qa-hl">وقتل <mark class="qa-short-hl">' in section
    figure = Figure(value="130 شخصا", number=130.0, unit="شخصا", site="مصدر24", published="2015-11-25", citation=1,
                    sentence=citation.sentence, start=at, end=at + len("130 شخصا"), article_id="a")
    with_figures = Answer(question="كم شخصا قتل؟", text=f"تختلف الأرقام بين المصادر: 130 شخصا (مصدر24، 2015-11-25) [1]\n{citation.sentence} [1]",
                          citations=(citation,), hits=(), abstained=False, language="ar", search_query="كم شخصا قتل؟", figures=(figure,))
    assert "qa-short-hl" in sources_section(1, with_figures, {}) and "<br>" in answer_message(with_figures, 1)
