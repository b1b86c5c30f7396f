"""English and French questions over the Arabic seed: the sentence that answers, under the cross-script threshold fitted by `qa.evaluate`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import qa
from qa.answer import ask
from qa.embed import Embedder

# Across scripts e5-small ranks the seed's lead sentence (cosine 0.799, passage 0.798) over
# Orlov's (0.782, 0.782), and the scorer has no word of the question to find in Arabic:
# choosing Orlov's sentence needs a cross-lingual lexical signal the scorer does not have yet.
ORLOV = pytest.mark.xfail(reason="the Orlov sentence ranks fourth across scripts", strict=False)


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
