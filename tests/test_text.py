"""Text analysis: stopwords, the index stem and the match keys, scripts and languages, question types, follow-ups."""

from __future__ import annotations

import pytest

from qa.normalize import normalize
from qa.records import Turn
from qa.text import (
    INDEX_STEMMERS,
    INDEX_STOPWORDS,
    MATCH_STOPWORDS,
    content_words,
    detect_language,
    index_stem,
    is_arabic,
    is_index_stopword,
    match_keys,
    question_type,
    resolve_followup,
    script_of,
    split_words,
    text_direction,
)

# Stopwords: two lists on purpose, one for the index and one for matching answers.


def test_stopwords_are_stored_normalized() -> None:
    for stopwords in (INDEX_STOPWORDS, MATCH_STOPWORDS):
        assert "الي" in stopwords and "إلى" not in stopwords  # إلى normalized
        assert "the" in stopwords and "quand" in stopwords


@pytest.mark.parametrize("word", ["علي", "us", "may", "will", "car", "son"])
def test_the_index_keeps_function_words_that_are_also_names(word: str) -> None:
    # علي (على normalized) is the name Ali, "us" a country, "may" a month, "car"/"son" English words.
    assert word not in INDEX_STOPWORDS


def test_the_match_list_drops_more_question_words() -> None:
    # Nothing is stored from the match list, so it can drop على, "us" and conjunction-joined question words.
    assert {"علي", "us", "ومتي", "وكم", "said"} <= MATCH_STOPWORDS - INDEX_STOPWORDS


@pytest.mark.parametrize(("token", "stop"), [("هذا", True), ("وهذا", True), ("فهل", True), ("مدرسه", False), ("بهذا", False)])
def test_a_stopword_after_a_conjunction_is_an_index_stopword(token: str, stop: bool) -> None:
    assert is_index_stopword(token) is stop


# The index stem and the match keys, side by side.


@pytest.mark.parametrize(
    ("word", "stem"),
    [("الهجمات", "هجم"), ("والمدرسة", "مدرس"), ("المصريين", "مصر"), ("كتب", "كتب"), ("votes", "votes"), ("2018", "2018")],
)
def test_the_index_stem_strips_arabic_clitics_and_suffixes_only(word: str, stem: str) -> None:
    assert index_stem(normalize(word)) == stem


@pytest.mark.parametrize("words", [["كتاب", "الكتاب", "بالكتاب", "وبالكتاب", "للكتاب"], ["مصري", "المصرية", "المصريين"]])
def test_the_index_stem_gives_every_form_one_term(words: list[str]) -> None:
    assert len({index_stem(normalize(word)) for word in words}) == 1


def test_the_index_stem_keeps_min_stem_letters() -> None:
    assert index_stem("كتب", min_stem=3) == "كتب"
    assert index_stem("كتب", min_stem=2) == "تب"


def test_the_index_stemmers() -> None:
    assert INDEX_STEMMERS == ("light", "snowball", "none")
    assert index_stem("الهجمات", "none") == "الهجمات"
    # PyStemmer is a test dependency (pyproject's "test" extra).
    assert index_stem("بالكتاب", "snowball") == "كتاب" and index_stem("paris", "snowball") == "paris"


@pytest.mark.parametrize(
    ("word", "keys"),
    [
        ("الهجمات", {"الهجمات", "هجمات", "هجم"}),
        ("هجماتهم", {"هجماتهم", "هجمات"}),
        ("والمدرسه", {"والمدرسه", "مدرسه", "مدرس"}),
        ("votes", {"votes", "vote"}),
        ("bus", {"bus"}),
        ("2018", {"2018"}),
    ],
)
def test_match_keys_keep_the_word_beside_its_stems(word: str, keys: set[str]) -> None:
    assert match_keys(word) == keys


def test_the_two_policies_differ_on_purpose() -> None:
    # Matching is looser: هجماتهم meets هجمات through a shared key, while the index keeps them apart.
    assert match_keys("هجماتهم") & match_keys("الهجمات")
    assert index_stem("هجماتهم") != index_stem("الهجمات")


@pytest.mark.parametrize(
    ("question", "content"),
    [
        ("كم شخصا قتل في هجمات باريس؟", ["شخصا", "قتل", "هجمات", "باريس"]),
        ("How many people were killed in the Paris attacks?", ["people", "killed", "Paris", "attacks"]),
        ("Combien de personnes sont mortes à Paris en 2015 ?", ["personnes", "mortes", "Paris", "2015"]),
    ],
)
def test_content_words_drop_question_and_function_words(question: str, content: list[str]) -> None:
    words = split_words(question)
    assert [w.raw for w in content_words(words)] == content
    assert all(w.plain == normalize(w.raw) and w.keys == match_keys(w.plain) for w in words)


# Scripts, languages and direction.


@pytest.mark.parametrize(
    ("text", "arabic", "direction"),
    [
        ("ما هو موقف Google؟", True, "rtl"),  # mixed, Arabic letters dominate
        ("Hello مرحبا بكم", True, "rtl"),
        ("Google ما", False, "ltr"),  # mixed, Latin letters dominate
        ("ab ما", True, "rtl"),  # a tie goes to Arabic
        ("שלום", False, "rtl"),  # Hebrew: right to left, but not Arabic
        ("2015", False, "ltr"),
        ("", False, "ltr"),
    ],
)
def test_script_and_direction(text: str, arabic: bool, direction: str) -> None:
    assert is_arabic(text) is arabic
    assert text_direction(text) == direction


@pytest.mark.parametrize(("word", "script"), [("باريس", "arabic"), ("Paris", "latin"), ("2015", "neutral"), ("Paris2015", "latin"), ("أB", "arabic")])
def test_script_of_a_word(word: str, script: str) -> None:
    assert script_of(word) == script


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("متى يزور أولوند موسكو؟", "ar"),
        ("ما هو موقف Google؟", "ar"),
        ("When does Hollande visit Moscow?", "en"),
        ("what did he say about it?", "en"),
        ("What does مرحبا mean?", "en"),
        ("Quand Hollande se rend-il à Moscou ?", "fr"),
        ("Qui est l'ambassadeur de Russie ?", "fr"),
        ("Que pense-t-il ?", "fr"),
        ("2015", "en"),
    ],
)
def test_detect_language(question: str, language: str) -> None:
    assert detect_language(question) == language


# Question types and follow-ups.


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
