"""Cited answers: sentences, citations, abstention and the answerer registry; then end to end on the seed, for every answerer."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.answer import (
    ABSTENTION,
    SHORT_SEPARATOR,
    Answerer,
    ExtractiveAnswerer,
    answer_sentences,
    ask,
    answerer_factory,
    make_answerer,
)
from qa.config import ANSWERERS, Settings
from qa.embed import Embedded, Embedder
from qa.errors import QueryError, SettingsError
from qa.normalize import normalize
from qa.records import Answer, Article, Hit, Turn


def texts(text: str) -> list[str]:
    return [text[s.start:s.end] for s in answer_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قال د. أحمد إن النمو بلغ 3.5 في المئة. وأضاف أن التضخم تراجع.", ["قال د. أحمد إن النمو بلغ 3.5 في المئة.", "وأضاف أن التضخم تراجع."]),
        ("هل انتهت الأزمة؟ لا أحد يعرف! ربما غدا.", ["هل انتهت الأزمة؟", "لا أحد يعرف!", "ربما غدا."]),
        (
            "وقال دبلوماسي “خلصنا إلى العمل مع بوتين. يجب أن نحاول ضمه.” ثم غادر.",
            ["وقال دبلوماسي “خلصنا إلى العمل مع بوتين. يجب أن نحاول ضمه.”", "ثم غادر."],
        ),
        ("وقال «سنعود. قريبا جدا.» وانتهى اللقاء.", ["وقال «سنعود. قريبا جدا.»", "وانتهى اللقاء."]),
        ("Mr. Smith paid $2.50 in the U.S. today. Then he left.", ["Mr. Smith paid $2.50 in the U.S. today.", "Then he left."]),
        ("سطر أول بلا نقطة\nسطر ثان", ["سطر أول بلا نقطة", "سطر ثان"]),
    ],
)
def test_answer_sentences_split_arabic_text(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_an_unclosed_quote_stops_at_the_paragraph() -> None:
    text = "قال “لن نتراجع. أبدا\nفقرة جديدة. ثانية."
    assert texts(text) == ["قال “لن نتراجع. أبدا", "فقرة جديدة.", "ثانية."]


def test_answer_sentences_are_spans_of_the_text() -> None:
    text = "  مقدمة.  “اقتباس. طويل.”  خاتمة.  "
    for span in answer_sentences(text, 2, len(text) - 2):
        piece = text[span.start:span.end]
        assert piece == piece.strip() and piece


class BagOfWords:
    """A stand-in embedder: hashed bags of normalized words, so shared words mean closeness."""

    dimension = 256

    def __init__(self) -> None:
        self.passage_calls: list[list[str]] = []

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passage_calls.append(list(texts))
        return self._encode(texts)

    def encode_tokens(self, texts: Sequence[str], *, query: bool) -> Embedded:
        if not query:
            self.passage_calls.append(list(texts))
        tokens = [self._encode(re.findall(r"\w+", normalize(text))) for text in texts]
        return Embedded(self._encode(texts), tokens)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", normalize(text)):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            out[row, -1] += 0.1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


ARTICLE = Article(
    id="news-1",
    title="زيارة أولوند",
    origin="test",
    site="مصدر24",
    agency="رويترز",
    published="2015-11-25",
    text=(
        "يزور الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس للقاء بوتين.\n"
        "وقتل 130 شخصا في هجمات باريس في 13 نوفمبر.\n"
        "وقال دبلوماسي “علينا العمل مع بوتين. يجب أن نحاول.” ثم غادر القاعة.\n"
        "وأسقطت تركيا طائرة روسية يوم الثلاثاء قرب الحدود السورية."
    ),
)


def hits_of(article: Article, windows: Sequence[tuple[int, int]]) -> list[Hit]:
    """Passages of `article` over its lines `[first, last)`, best first, as the retriever returns them."""
    lines = article.text.split("\n")
    starts = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines) + 1)]
    hits = []
    for ordinal, (first, last) in enumerate(windows):
        start, end = starts[first], starts[last] - 1
        hits.append(
            Hit(
                passage_id=f"{article.id}:{ordinal}", article_id=article.id, ordinal=ordinal, text=article.text[start:end],
                score=1.0 - ordinal / 10, start=start, end=end, title=article.title, origin=article.origin,
                site=article.site, agency=article.agency, published=article.published,
            )
        )
    return hits


def test_citations_locate_their_sentences_in_the_article() -> None:
    answerer = ExtractiveAnswerer(BagOfWords(), min_support=0.0, margin=1.0)
    hits = hits_of(ARTICLE, [(1, 3), (0, 2), (2, 4)])
    answer = answerer.answer("كم شخصا قتل في هجمات باريس؟", hits, language="ar")
    assert not answer.abstained and answer.citations
    assert "130" in answer.citations[0].sentence
    for citation in answer.citations:
        assert ARTICLE.text[citation.start:citation.end] == citation.sentence
        assert ARTICLE.text[citation.passage_start:citation.passage_end] == citation.passage_text
        assert (citation.title, citation.site, citation.agency, citation.published) == ("زيارة أولوند", "مصدر24", "رويترز", "2015-11-25")
    # A how-many question: the short answer, read from the best sentence, leads the cited sentences.
    assert answer.short is not None and answer.short.text == "130 شخصا" and answer.short.citation == 1
    assert ARTICLE.text[answer.short.start:answer.short.end] == answer.short.text
    assert answer.text == f"130 شخصا {SHORT_SEPARATOR} " + " ".join(f"{c.sentence} [{c.number}]" for c in answer.citations)


def test_a_question_in_another_script_gets_no_short_answer() -> None:
    # Nothing of the English question can be found beside the Arabic phrase: it would be a guess.
    answerer = ExtractiveAnswerer(BagOfWords(), min_support=-math.inf, margin=1.0)
    answer = answerer.answer("How many people were killed in the Paris attacks?", hits_of(ARTICLE, [(1, 2)]), language="en")
    assert not answer.abstained and "130" in answer.citations[0].sentence
    assert answer.short is None and answer.text.startswith(answer.citations[0].sentence)


def test_citations_are_numbered_by_first_use_and_shared_within_a_passage() -> None:
    answerer = ExtractiveAnswerer(BagOfWords(), min_support=0.0, margin=10.0, max_words=500)
    hits = hits_of(ARTICLE, [(3, 4), (0, 3)])
    answer = answerer.answer("متى أسقطت تركيا طائرة روسية ومتى يزور أولوند موسكو وكم شخصا قتل؟", hits, language="ar")
    numbers = [c.number for c in answer.citations]
    by_passage = {c.passage_id: c.number for c in answer.citations}
    assert numbers[0] == 1 and sorted(set(numbers)) == list(range(1, len(set(numbers)) + 1))
    assert all(c.number == by_passage[c.passage_id] for c in answer.citations)
    first_use = list(dict.fromkeys(numbers))
    assert first_use == sorted(first_use)
    assert len(answer.citations) == 3 and len(set(numbers)) == 2


def test_a_sentence_in_two_overlapping_passages_is_cited_once() -> None:
    answerer = ExtractiveAnswerer(BagOfWords(), min_support=0.0, margin=10.0, max_words=500)
    hits = hits_of(ARTICLE, [(0, 2), (1, 3)])
    answer = answerer.answer("كم شخصا قتل في هجمات باريس يوم الخميس؟", hits, language="ar")
    spans = [(c.start, c.end) for c in answer.citations]
    assert len(spans) == len(set(spans))
    assert {c.passage_id for c in answer.citations if "130" in c.sentence} == {"news-1:0"}


def test_quotes_are_cited_whole() -> None:
    answerer = ExtractiveAnswerer(BagOfWords(), min_support=0.0)
    answer = answerer.answer("ماذا قال الدبلوماسي عن العمل مع بوتين؟", hits_of(ARTICLE, [(2, 3)]), language="ar")
    assert answer.citations[0].sentence == "وقال دبلوماسي “علينا العمل مع بوتين. يجب أن نحاول.”"


def test_sentences_are_embedded_in_one_batch_and_cached() -> None:
    embedder = BagOfWords()
    answerer = ExtractiveAnswerer(embedder, min_support=0.0)
    hits = hits_of(ARTICLE, [(0, 2), (2, 4)])
    answerer.answer("متى يزور أولوند موسكو؟", hits, language="ar")
    answerer.answer("كم شخصا قتل؟", hits, language="ar")
    assert len(embedder.passage_calls) == 1 and len(embedder.passage_calls[0]) == 5


def test_only_the_most_promising_sentences_are_embedded() -> None:
    # Ten passages of two sentences, the better ranked first; the answer sits in the last one.
    lines = [f"جملة عادية رقم {i} عن موضوع عام." for i in range(19)] + ["وأسقطت تركيا طائرة روسية قرب الحدود."]
    article = Article(id="long", title="طويل", origin="test", text="\n".join(lines))
    hits = [replace(hit, similarity=0.9 - hit.ordinal / 100)
            for hit in hits_of(article, [(i, i + 2) for i in range(0, 20, 2)])]
    embedder = BagOfWords()
    answer = ExtractiveAnswerer(embedder, passages=10, sentences=3, min_support=0.0).answer(
        "ماذا أسقطت تركيا؟", hits, language="ar")
    # Three sentences embedded: the best-ranked passage's two, and the one its words make promising.
    assert [len(call) for call in embedder.passage_calls] == [3]
    assert set(embedder.passage_calls[0]) == {lines[0], lines[1], lines[19]}
    assert answer.citations[0].sentence == lines[19]
    embedder = BagOfWords()
    ExtractiveAnswerer(embedder, passages=10, sentences=None, min_support=0.0).answer("ماذا أسقطت تركيا؟", hits, language="ar")
    assert [len(call) for call in embedder.passage_calls] == [20]


def test_a_question_in_another_script_embeds_more_sentences() -> None:
    # An English question shares no word with Arabic sentences: the prefilter cannot tell the
    # sentences of a passage apart, so it embeds `sentences_cross_script` of them, not `sentences`.
    # A Latin line among the Arabic ones (a quote, a source) does not make the Arabic question cross-script.
    lines = [f"جملة عادية رقم {i} عن موضوع عام." for i in range(19)] + ["وأسقطت تركيا طائرة روسية قرب الحدود."]
    lines[1] = "Reuters contributed to this report."
    article = Article(id="long", title="طويل", origin="test", text="\n".join(lines))
    hits = [replace(hit, similarity=0.9 - hit.ordinal / 100)
            for hit in hits_of(article, [(i, i + 2) for i in range(0, 20, 2)])]
    embedded = {}
    for question in ("What did Turkey shoot down?", "ماذا أسقطت تركيا؟"):
        embedder = BagOfWords()
        ExtractiveAnswerer(embedder, passages=10, sentences=3, sentences_cross_script=7, min_support=0.0).answer(
            question, hits, language="en")
        [embedded[question]] = embedder.passage_calls
    # Across scripts: the best-ranked passages' first seven sentences; in Arabic, three as before.
    assert embedded["What did Turkey shoot down?"] == lines[:7]
    assert set(embedded["ماذا أسقطت تركيا؟"]) == {lines[0], lines[1], lines[19]}


@pytest.mark.parametrize("language", ["ar", "en", "fr"])
def test_abstention_is_worded_in_the_question_language_and_lists_the_hits(language: str) -> None:
    answerer = ExtractiveAnswerer(BagOfWords(), min_support=5.0)
    hits = hits_of(ARTICLE, [(0, 2)])
    answer = answerer.answer("سؤال", hits, language=language)
    assert answer.abstained and answer.citations == ()
    assert answer.text == ABSTENTION[language] and answer.hits == tuple(hits)


def test_no_hits_abstain() -> None:
    answer = ExtractiveAnswerer(BagOfWords()).answer("متى؟", [], language="en")
    assert answer.abstained and answer.hits == ()


@pytest.mark.parametrize(
    ("options", "message"),
    [({"passages": 0}, "passages"), ({"max_sentences": 0}, "max_sentences"), ({"margin": -1.0}, "margin"),
     ({"max_words": 0}, "max_words"), ({"sentences": 0}, "sentences")],
)
def test_bad_settings_are_refused(options: dict[str, float], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ExtractiveAnswerer(BagOfWords(), **options)  # type: ignore[arg-type]


def test_every_configured_answerer_is_registered() -> None:
    for name in ANSWERERS:
        assert callable(answerer_factory(name))
        assert isinstance(make_answerer(name, BagOfWords()), Answerer)


def test_make_answerer_builds_the_settings_default_and_passes_an_answerer_through() -> None:
    assert Settings().answerer == "extractive"
    default = make_answerer(None, BagOfWords())
    assert type(default) is ExtractiveAnswerer and type(make_answerer("extractive", BagOfWords())) is ExtractiveAnswerer
    mine = ExtractiveAnswerer(BagOfWords(), passages=2)
    assert make_answerer(mine, BagOfWords()) is mine


@pytest.mark.parametrize("choice", ["generative", "", 42])
def test_make_answerer_refuses_an_unknown_choice_listing_the_valid_ones(choice: object) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"answerer must be one of {', '.join(ANSWERERS)}, got {choice!r}")):
        make_answerer(choice, BagOfWords())  # type: ignore[arg-type]


# End to end: the real model over the seed article.


@pytest.fixture(scope="module")
def retriever(seed_index: Path, embedder: Embedder) -> qa.Retriever:
    return qa.Retriever.load(seed_index, embedder=embedder)


@pytest.fixture(scope="module", params=ANSWERERS)
def answerer(request: pytest.FixtureRequest, embedder: Embedder) -> Answerer:
    """Each registered answerer in turn: the tests below hold for any of them."""
    return make_answerer(request.param, embedder)


def assert_cited(answer: Answer, retriever: qa.Retriever) -> None:
    assert not answer.abstained and answer.citations
    assert re.fullmatch(r"(?:.+? \[\d+\])(?: .+? \[\d+\])*", answer.text, flags=re.DOTALL)
    for citation in answer.citations:
        article = retriever.article(citation.article_id)
        assert article.text[citation.start:citation.end] == citation.sentence
        assert citation.passage_start <= citation.start < citation.end <= citation.passage_end
        assert f"{citation.sentence} [{citation.number}]" in answer.text


@pytest.mark.slow
def test_the_registry_answers_a_seed_question_from_the_seed_article(retriever: qa.Retriever, embedder: Embedder) -> None:
    answerer = make_answerer("extractive", embedder)
    assert type(answerer) is ExtractiveAnswerer
    question = "كم شخصا قتل في هجمات باريس؟"
    hits = retriever.search(question, 5)
    answer = answerer.answer(question, hits, language="ar")
    assert_cited(answer, retriever)
    seed_article = hits[0].article_id
    assert retriever.article(seed_article).title.startswith("أولوند يقصد روسيا")
    assert answer.citations[0].article_id == seed_article and "130" in answer.citations[0].sentence


def cited_places(answer: Answer) -> tuple[str, list[tuple[str, int, int]]]:
    return answer.text, [(c.passage_id, c.start, c.end) for c in answer.citations]


@pytest.mark.slow
def test_ask_takes_an_answerer_by_default_by_name_or_as_an_instance(retriever: qa.Retriever, embedder: Embedder) -> None:
    question = "متى يزور أولوند موسكو؟"
    by_default = cited_places(ask(question, retriever))
    assert "الخميس" in by_default[0]
    assert cited_places(ask(question, retriever, answerer=Settings().answerer)) == by_default
    assert cited_places(ask(question, retriever, answerer=make_answerer(None, embedder))) == by_default
    with pytest.raises(SettingsError, match="answerer must be one of extractive"):
        ask(question, retriever, answerer="oracle")


@pytest.mark.slow
def test_when_does_hollande_visit_moscow(retriever: qa.Retriever, answerer: Answerer) -> None:
    answer = ask("متى يزور أولوند موسكو؟", retriever, answerer=answerer)
    assert_cited(answer, retriever)
    assert "الخميس" in answer.text and answer.language == "ar"
    cited = [c for c in answer.citations if "الخميس" in c.sentence]
    assert cited and "يوم الخميس" in cited[0].passage_text
    assert (cited[0].site, cited[0].agency) == ("مصدر24", "رويترز")


@pytest.mark.slow
def test_how_many_were_killed_in_paris(retriever: qa.Retriever, answerer: Answerer) -> None:
    answer = ask("كم شخصا قتل في هجمات باريس؟", retriever, answerer=answerer)
    assert_cited(answer, retriever)
    assert "130" in answer.citations[0].sentence


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "language"),
    [("ما هي عاصمة أستراليا؟", "ar"), ("What is the capital of Australia?", "en"), ("Quelle est la capitale de l'Australie ?", "fr")],
)
def test_abstains_when_the_seed_does_not_say(retriever: qa.Retriever, answerer: Answerer, question: str, language: str) -> None:
    answer = ask(question, retriever, k=3, answerer=answerer)
    assert answer.abstained and answer.citations == ()
    assert answer.text == ABSTENTION[language] and answer.language == language
    assert len(answer.hits) == 3


@pytest.mark.slow
def test_a_scripted_conversation_about_the_seed(retriever: qa.Retriever, answerer: Answerer) -> None:
    history: list[Turn] = []

    def turn(question: str) -> Answer:
        answer = ask(question, retriever, history=history, answerer=answerer)
        history.append(Turn(question, answer.text))
        return answer

    killed = turn("كم شخصا قتل في هجمات باريس؟")
    assert "130" in killed.text and killed.search_query == killed.question

    when = turn("ومتى حدث ذلك؟")
    assert when.question == "ومتى حدث ذلك؟" and "هجمات باريس" in when.search_query
    assert_cited(when, retriever)
    assert "13 نوفمبر" in when.text

    who = turn("من هو السفير الروسي لدى فرنسا؟")
    assert who.search_query == who.question and "ألكسندر أورلوف" in who.text

    said = turn("what did he say about it?")
    assert said.language == "en" and "السفير الروسي" in said.search_query
    assert_cited(said, retriever)
    assert "أورلوف" in said.citations[0].passage_text


@pytest.mark.slow
def test_ask_passes_search_options_and_checks_the_question(retriever: qa.Retriever, answerer: Answerer) -> None:
    dense = ask("متى يزور أولوند موسكو؟", retriever, mode="dense", answerer=answerer)
    assert "الخميس" in dense.text
    with pytest.raises(QueryError, match="empty"):
        ask("   ", retriever, answerer=answerer)
    with pytest.raises(QueryError, match="mode"):
        ask("متى يزور أولوند موسكو؟", retriever, mode="telepathy", answerer=answerer)
