from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from qa.chunk import Chunker, embed_text, split_sentences
from qa.errors import SettingsError
from qa.ingest import read_articles
from qa.records import Article


def words(texts: Sequence[str]) -> list[int]:
    """A stand-in token counter for pure chunking logic: one token per word."""
    return [len(t.split()) for t in texts]


def sentences(text: str) -> list[str]:
    return [text[s.start:s.end] for s in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قال إنه سيزور موسكو. ثم غادر! هل انتهى؟ نعم", ["قال إنه سيزور موسكو.", "ثم غادر!", "هل انتهى؟", "نعم"]),
        ("بلغ النمو 3.5 في المئة. وتراجع", ["بلغ النمو 3.5 في المئة.", "وتراجع"]),
        ("قال د. أحمد إن الوضع صعب. انتهى", ["قال د. أحمد إن الوضع صعب.", "انتهى"]),
        ("وقال “لن نتراجع.” ثم صمت.", ["وقال “لن نتراجع.”", "ثم صمت."]),
        ("أولا؛ ثانيا", ["أولا؛", "ثانيا"]),
        ("سطر أول\nسطر ثان", ["سطر أول", "سطر ثان"]),
        ("The U.S. said no. Mr. Smith left.", ["The U.S. said no.", "Mr. Smith left."]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def _article(text: str, title: str = "عنوان") -> Article:
    return Article(id="a1", title=title, text=text, origin="test")


def test_offsets_are_exact_and_embedded_text_carries_the_title(seed_file: Path) -> None:
    article = read_articles([seed_file])[0][0]
    passages = Chunker(words, max_tokens=60).chunk(article)
    assert len(passages) > 3
    for ordinal, passage in enumerate(passages):
        assert article.text[passage.start:passage.end] == passage.text
        assert passage.embed_text == f"{article.title}\n{passage.text}"
        assert (passage.ordinal, passage.id, passage.article_id) == (ordinal, f"{article.id}:{ordinal}", article.id)
        assert words([passage.text])[0] <= 60
    # Every sentence of the article is in some passage.
    covered = set()
    for p in passages:
        covered.update(range(p.start, p.end))
    assert all(i in covered for s in split_sentences(article.text) for i in range(s.start, s.end))


def test_windows_never_cut_inside_a_sentence_and_overlap_one_sentence() -> None:
    text = " ".join(f"جملة رقم {i} فيها ست كلمات هنا." for i in range(20))
    passages = Chunker(words, max_tokens=20, overlap_sentences=1).chunk(_article(text))
    bounds = {(s.start, s.end) for s in split_sentences(text)}
    starts = {s for s, _ in bounds}
    ends = {e for _, e in bounds}
    for p in passages:
        assert p.start in starts and p.end in ends
    for before, after in zip(passages, passages[1:]):
        # The last sentence of a passage opens the next one.
        assert after.start < before.end
        assert text[after.start:before.end] == sentences(text[before.start:before.end])[-1]


def test_no_overlap_when_asked() -> None:
    text = " ".join(f"جملة رقم {i} فيها ست كلمات هنا." for i in range(10))
    passages = Chunker(words, max_tokens=20, overlap_sentences=0).chunk(_article(text))
    assert all(a.end <= b.start for a, b in zip(passages, passages[1:]))


def test_a_sentence_longer_than_the_window_is_cut_at_clauses_then_words() -> None:
    text = "، ".join(" ".join(["كلمة"] * 6) for _ in range(10)) + "."
    passages = Chunker(words, max_tokens=16, overlap_sentences=0).chunk(_article(text))
    assert len(passages) > 3
    for p in passages:
        assert text[p.start:p.end] == p.text and words([p.text])[0] <= 16
        assert text[p.start - 1] in " ،" if p.start else True
    one_word_run = " ".join(["كلمة"] * 50)
    passages = Chunker(words, max_tokens=16, overlap_sentences=0).chunk(_article(one_word_run))
    assert [words([p.text])[0] for p in passages] == [16, 16, 16, 2]


def test_windows_are_packed_greedily_and_slide_by_one_sentence() -> None:
    # Six sentences of seven words: two fit in a 20-token window, a third would not.
    text = " ".join(f"جملة رقم {i} فيها ست كلمات هنا." for i in range(6))
    spans = [(s.start, s.end) for s in split_sentences(text)]
    passages = Chunker(words, max_tokens=20, overlap_sentences=1).chunk(_article(text))
    assert [(p.start, p.end) for p in passages] == [(spans[i][0], spans[i + 1][1]) for i in range(5)]
    assert [p.id for p in passages] == [f"a1:{i}" for i in range(5)]


def test_a_batch_gives_each_article_the_passages_it_gets_alone(seed_file: Path) -> None:
    seed = read_articles([seed_file])[0][0]
    short = _article("جملة أولى هنا. وجملة ثانية.")
    chunker = Chunker(words, max_tokens=50)
    alone = [chunker.chunk(seed), chunker.chunk(short)]
    assert chunker.chunk_many([seed, short]) == alone
    assert len(alone[0]) > 1 and [p.text for p in alone[1]] == ["جملة أولى هنا. وجملة ثانية."]


def test_bad_window_is_refused() -> None:
    with pytest.raises(SettingsError, match="max_tokens"):
        Chunker(words, max_tokens=2)


def test_embed_text_puts_the_title_on_its_own_line_before_the_passage() -> None:
    assert embed_text("عنوان الخبر", "نص المقطع.") == "عنوان الخبر\nنص المقطع."
    assert embed_text("", "نص بلا عنوان.") == "نص بلا عنوان."


def test_every_passage_is_embedded_as_embed_text_of_its_title_and_body() -> None:
    article = Article(id="a", title="عنوان", text=" ".join(f"جملة رقم {i} هنا." for i in range(12)), origin="a.txt")
    untitled = Article(id="b", title="", text="جملة وحيدة.", origin="b.txt")
    chunked = Chunker(words, max_tokens=16, overlap_sentences=0).chunk_many([article, untitled])
    assert [len(passages) > 1 for passages in chunked] == [True, False]
    for passages in chunked:
        for passage in passages:
            source = article if passage.article_id == "a" else untitled
            assert passage.embed_text == embed_text(source.title, passage.text)
