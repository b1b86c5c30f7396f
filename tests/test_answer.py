"""Cited answers: sentences, question types, follow-ups, citations and abstention; then end to end on the seed."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.answer import (
    ABSTENTION,
    Answerer,
    ExtractiveAnswerer,
    answer_sentences,
    ask,
    detect_language,
    question_type,
    resolve_followup,
)
from qa.cli import main
from qa.embed import Embedder
from qa.errors import QueryError, SettingsError
from qa.evaluate import answer_contains, split_of
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


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("متى يزور أولوند موسكو؟", "ar"),
        ("ما هو موقف Google؟", "ar"),
        ("When does Hollande visit Moscow?", "en"),
        ("what did he say about it?", "en"),
        ("Quand Hollande se rend-il à Moscou ?", "fr"),
        ("Qui est l'ambassadeur de Russie ?", "fr"),
        ("Que pense-t-il ?", "fr"),
    ],
)
def test_detect_language(question: str, language: str) -> None:
    assert detect_language(question) == language


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("متى يزور أولوند موسكو؟", "time"),
        ("ومتى حدث ذلك؟", "time"),
        ("\u200fفي أي عام تأسست الشركة؟", "time"),
        ("ما هو تاريخ الاتفاق؟", "time"),
        ("كم شخصا قتل في هجمات باريس؟", "number"),
        ("ما هي نسبة البطالة؟", "number"),
        ("من هو السفير الروسي لدى فرنسا؟", "person"),
        ("فمن قال ذلك؟", "person"),
        ("أين تقع باريس؟", "place"),
        ("من أين جاء اللاجئون؟", "place"),
        ("في أي مدينة عقد المؤتمر؟", "place"),
        ("ماذا طلب من الرئيس؟", "other"),
        ("ما نوع الطائرة؟", "other"),
        ("When did the war end?", "time"),
        ("In what year was it founded?", "time"),
        ("How many people died?", "number"),
        ("What percentage voted?", "number"),
        ("Who is the ambassador?", "person"),
        ("Where is the summit held?", "place"),
        ("Which country hosted it?", "place"),
        ("What did he say about it?", "other"),
        ("Quand le sommet a-t-il eu lieu ?", "time"),
        ("En quelle année la guerre a-t-elle fini ?", "time"),
        ("Combien de personnes sont mortes ?", "number"),
        ("Qui est l'ambassadeur ?", "person"),
        ("Où se trouve Paris ?", "place"),
        ("D'où viennent-ils ?", "place"),
        ("Le pays qui a gagné, ou le perdant ?", "other"),
    ],
)
def test_question_type(question: str, kind: str) -> None:
    assert question_type(question) == kind


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("ومتى حدث ذلك؟", "ومتى حدث ذلك؟ شخصا قتل هجمات باريس"),
        ("what did he say about it?", "what did he say about it? شخصا قتل هجمات باريس"),
        ("Et quand ?", "Et quand ? شخصا قتل هجمات باريس"),
        ("من هو السفير الروسي لدى فرنسا؟", "من هو السفير الروسي لدى فرنسا؟"),
        ("Who is the Russian ambassador to France?", "Who is the Russian ambassador to France?"),
    ],
)
def test_resolve_followup_carries_the_previous_question(question: str, expected: str) -> None:
    history = [Turn("كم شخصا قتل في هجمات باريس؟", "قتل 130 شخصا [1]")]
    assert resolve_followup(question, history) == expected


def test_resolve_followup_chains_and_needs_history() -> None:
    assert resolve_followup("ومتى حدث ذلك؟", []) == "ومتى حدث ذلك؟"
    history = [Turn("كم شخصا قتل في هجمات باريس؟"), Turn("ومتى حدث ذلك؟")]
    # The second follow-up leans on the first, itself resolved against the question before it.
    assert resolve_followup("وأين؟", history) == "وأين؟ حدث شخصا قتل هجمات باريس"


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
    assert answer.text == " ".join(f"{c.sentence} [{c.number}]" for c in answer.citations)


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
    [({"passages": 0}, "passages"), ({"max_sentences": 0}, "max_sentences"), ({"margin": -1.0}, "margin"), ({"max_words": 0}, "max_words")],
)
def test_bad_settings_are_refused(options: dict[str, float], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ExtractiveAnswerer(BagOfWords(), **options)  # type: ignore[arg-type]


def test_the_extractive_answerer_is_an_answerer() -> None:
    answerer: Answerer = ExtractiveAnswerer(BagOfWords())
    assert callable(answerer.answer)


@pytest.mark.parametrize(
    ("answer", "gold", "found"),
    [
        ("قُتل 130 شخصاً في الهجمات [1]", "130 شخصا", True),
        ("وصل إلى الإمارات.", "الامارات", True),
        ("لوك كوتشلي تصدر الفريق", "لوك كوتشلي.", True),
        ("يوم الخميس", "الجمعة", False),
        ("نص", "", False),
    ],
)
def test_answer_contains_compares_normalized_text(answer: str, gold: str, found: bool) -> None:
    assert answer_contains(answer, gold) is found


def test_split_of_is_a_stable_half() -> None:
    ids = [f"squad:doc:{i}" for i in range(200)]
    halves = [split_of(i) for i in ids]
    assert set(halves) == {"calibration", "held-out"} and 60 < halves.count("calibration") < 140
    assert halves == [split_of(i) for i in ids]


# End to end: the real model over the seed article.


@pytest.fixture(scope="module")
def retriever(seed_index: Path, embedder: Embedder) -> qa.Retriever:
    return qa.Retriever.load(seed_index, embedder=embedder)


def assert_cited(answer: Answer, retriever: qa.Retriever) -> None:
    assert not answer.abstained and answer.citations
    assert re.fullmatch(r"(?:.+? \[\d+\])(?: .+? \[\d+\])*", answer.text, flags=re.DOTALL)
    for citation in answer.citations:
        article = retriever.article(citation.article_id)
        assert article.text[citation.start:citation.end] == citation.sentence
        assert citation.passage_start <= citation.start < citation.end <= citation.passage_end
        assert f"{citation.sentence} [{citation.number}]" in answer.text


@pytest.mark.slow
def test_when_does_hollande_visit_moscow(retriever: qa.Retriever) -> None:
    answer = ask("متى يزور أولوند موسكو؟", retriever)
    assert_cited(answer, retriever)
    assert "الخميس" in answer.text and answer.language == "ar"
    cited = [c for c in answer.citations if "الخميس" in c.sentence]
    assert cited and "يوم الخميس" in cited[0].passage_text
    assert (cited[0].site, cited[0].agency) == ("مصدر24", "رويترز")


@pytest.mark.slow
def test_how_many_were_killed_in_paris(retriever: qa.Retriever) -> None:
    answer = ask("كم شخصا قتل في هجمات باريس؟", retriever)
    assert_cited(answer, retriever)
    assert "130" in answer.citations[0].sentence


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "language"),
    [("ما هي عاصمة أستراليا؟", "ar"), ("What is the capital of Australia?", "en"), ("Quelle est la capitale de l'Australie ?", "fr")],
)
def test_abstains_when_the_seed_does_not_say(retriever: qa.Retriever, question: str, language: str) -> None:
    answer = ask(question, retriever, k=3)
    assert answer.abstained and answer.citations == ()
    assert answer.text == ABSTENTION[language] and answer.language == language
    assert len(answer.hits) == 3


@pytest.mark.slow
def test_a_scripted_conversation_about_the_seed(retriever: qa.Retriever) -> None:
    history: list[Turn] = []

    def turn(question: str) -> Answer:
        answer = ask(question, retriever, history=history)
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
def test_ask_passes_search_options_and_checks_the_question(retriever: qa.Retriever) -> None:
    dense = ask("متى يزور أولوند موسكو؟", retriever, mode="dense")
    assert "الخميس" in dense.text
    with pytest.raises(QueryError, match="empty"):
        ask("   ", retriever)
    with pytest.raises(QueryError, match="mode"):
        ask("متى يزور أولوند موسكو؟", retriever, mode="telepathy")


@pytest.mark.slow
def test_cli_ask_prints_the_answer_then_the_sources(seed_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "متى يزور أولوند موسكو؟", "--index", str(seed_index)]) == 0
    out = capsys.readouterr().out
    answer, sources = out.split("\nSources:\n")
    assert "الخميس" in answer and re.search(r" \[1\]$", answer.strip())
    first = sources.splitlines()[0]
    assert first.startswith("[1] أولوند يقصد روسيا") and "مصدر24" in first
    assert "يوم الخميس" in sources

    assert main(["ask", "ما هي عاصمة أستراليا؟", "--index", str(seed_index), "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(ABSTENTION["ar"]) and out.count("\n- ") == 2

    assert main(["ask", "كم شخصا قتل في هجمات باريس؟", "--index", str(seed_index), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "130" in record["text"] and record["citations"][0]["number"] == 1 and record["abstained"] is False


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "message"), [(["-k", "0"], "k must"), (["--mode", "dense", "--since", "yesterday"], "")])
def test_cli_ask_errors(seed_index: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code = main(["ask", "متى يزور أولوند موسكو؟", "--index", str(seed_index), *argv])
    err = capsys.readouterr().err
    # A refused question or option is bad usage: exit 2, like a bad flag.
    assert code == 2 and err.startswith("qa: error: ") and message in err


@pytest.mark.slow
def test_eval_answers_grades_a_small_squad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paragraphs = [
        ("يقصد الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس للقاء بوتين. وقتل 130 شخصا في هجمات باريس.",
         [("متى يزور أولوند موسكو؟", "يوم الخميس"), ("كم شخصا قتل في هجمات باريس؟", "130")]),
        ("فاز نادي ليفربول على روما بخمسة أهداف مقابل هدفين في نصف نهائي دوري الأبطال.",
         [("على من فاز ليفربول؟", "روما")]),
    ]
    data = {"data": [{"title": f"doc{i}", "paragraphs": [{"context": context, "qas": [
        {"id": f"{i}-{j}", "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]} for j, (q, a) in enumerate(qas)
    ]}]} for i, (context, qas) in enumerate(paragraphs)]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["eval", str(path), "--answers", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["split"] == "all" and rows[0]["questions"] == 3 and {r["split"] for r in rows} <= {"all", "calibration", "held-out"}
    assert rows[0]["answer_hit"] == 1.0 and rows[0]["spans_exact"] == 1.0 and rows[0]["abstention_rate"] == 0.0
