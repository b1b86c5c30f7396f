"""English and French questions over the Arabic seed: the sentence that answers, under the cross-script threshold fitted by `qa.evaluate`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.answer import answer_sentences, ask
from qa.embed import Embedder, token_alignment
from qa.llm.prompt import Claim
from qa.llm.verify import Verifier

# Across scripts e5-small ranks the seed's lead sentence (cosine 0.801, passage 0.803) over
# Orlov's (0.784, 0.787), and the token alignment does not make up for it: its question's
# tokens align with the lead a little better (0.786) than with Orlov's sentence (0.768).
ORLOV = pytest.mark.xfail(reason="the Orlov sentence ranks fourth across scripts", strict=True)


@pytest.fixture(scope="module")
def retriever(seed_index: Path, embedder: Embedder) -> Iterator[qa.Retriever]:
    with qa.Retriever.load(seed_index, embedder=embedder) as loaded:
        yield loaded


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        pytest.param("Who is the Russian ambassador to France?", "ألكسندر أورلوف السفير الروسي لدى فرنسا", marks=ORLOV),
        pytest.param("Qui est l'ambassadeur de Russie en France ?", "ألكسندر أورلوف السفير الروسي لدى فرنسا", marks=ORLOV),
        ("What did Turkey shoot down?", "إسقاط تركيا العضو بحلف شمال الأطلسي لطائرة روسية"),
        ("When does Hollande go to Moscow?", "يقصد الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس"),
        ("How many people were killed in the Paris attacks?", "قتل 130 شخصا"),
    ],
)
def test_a_question_in_another_script_cites_the_arabic_sentence_that_answers(
    retriever: qa.Retriever, question: str, answer: str
) -> None:
    reply = ask(question, retriever)
    assert not reply.abstained
    assert answer in reply.citations[0].sentence


@pytest.mark.slow
@pytest.mark.parametrize("question", ["What is the capital of Australia?", "Quelle est la capitale de l'Australie ?"])
def test_a_question_in_another_script_the_seed_does_not_answer_abstains(retriever: qa.Retriever, question: str) -> None:
    assert ask(question, retriever).abstained


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "answer"),
    [("What did Turkey shoot down?", "إسقاط تركيا"), ("When does Hollande go to Moscow?", "يقصد الرئيس الفرنسي")],
)
def test_token_alignment_finds_the_sentence_that_translates_the_question(
    retriever: qa.Retriever, embedder: Embedder, question: str, answer: str
) -> None:
    # Across scripts no word matches, but the model's token vectors align words with their translations.
    text = next(retriever.store.iter_passages()).article.text
    sentences = [text[span.start:span.end] for span in answer_sentences(text)]
    asked = embedder.encode_tokens([question], query=True).tokens[0]
    aligned = {s: token_alignment(asked, tokens) for s, tokens in zip(sentences, embedder.encode_tokens(sentences, query=False).tokens)}
    assert answer in max(aligned, key=aligned.get)


@pytest.mark.slow
def test_the_verifier_checks_english_claims_against_arabic_passages_by_token_alignment(retriever: qa.Retriever) -> None:
    hits = retriever.search("Hollande Moscow Putin", k=5)
    claims = [
        "Hollande is going to Moscow on Thursday to meet Putin [1].",
        "Turkey shot down a Russian warplane near the Syrian border [1].",
        "The French president will visit Beijing next month to sign a trade deal [1].",  # not in the seed
        "Germany closed its embassy in Cairo after the floods [1].",  # not in the seed
    ]
    verdicts = Verifier(retriever.embedder).verify([Claim(c, tuple(range(1, len(hits) + 1))) for c in claims], hits)
    assert [v.verified for v in verdicts] == [True, True, False, False], [v.reason for v in verdicts]
    assert all("align" in v.reason for v in verdicts[2:])
    # The cosine support alone, at the threshold fitted before the alignment (0.7975), let both through.
    assert all(v.support >= 0.7975 for v in verdicts[2:])
