"""Settings: defaults, the bounds of every number, the allowed values of every choice."""

from __future__ import annotations

from typing import Any

import pytest

from qa.config import (
    ANSWERERS,
    INDEX_TYPES,
    MAX_TOP_K,
    MODES,
    PRECISIONS,
    STORES,
    Settings,
    check_choice,
)
from qa.errors import QAError, QueryError, SettingsError


def test_defaults_are_valid_choices() -> None:
    settings = Settings()
    assert settings.mode == "hybrid" and settings.answerer == "extractive" and settings.store == "faiss"
    assert settings.precision in PRECISIONS and settings.index_type in INDEX_TYPES
    assert settings.mode in MODES and settings.answerer in ANSWERERS and settings.store in STORES
    assert 1 <= settings.top_k <= MAX_TOP_K


@pytest.mark.parametrize(
    ("field", "allowed"),
    [("precision", PRECISIONS), ("index_type", INDEX_TYPES), ("mode", MODES), ("answerer", ANSWERERS), ("store", STORES)],
)
def test_every_allowed_value_is_accepted_and_anything_else_refused_with_the_list(field: str, allowed: tuple[str, ...]) -> None:
    for value in allowed:
        assert getattr(Settings(**{field: value}), field) == value
    for bad in ("nope", allowed[0].upper(), "", None, 3):
        with pytest.raises(SettingsError) as caught:
            Settings(**{field: bad})
        assert str(caught.value) == f"{field} must be one of {', '.join(allowed)}, got {bad!r}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunk_tokens": 15}, "chunk_tokens must be at least 16, got 15"),
        ({"overlap_sentences": -1}, "overlap_sentences must be 0 or more, got -1"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"top_k": 0}, "top_k must be at least 1, got 0"),
        ({"top_k": MAX_TOP_K + 1}, f"top_k must be at most {MAX_TOP_K}, got {MAX_TOP_K + 1}"),
    ],
)
def test_numbers_out_of_range_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(**options)
    assert str(caught.value) == message
    assert isinstance(caught.value, (QAError, ValueError))


@pytest.mark.parametrize(
    "options",
    [{"chunk_tokens": 16}, {"overlap_sentences": 0}, {"batch_size": 1}, {"top_k": 1}, {"top_k": MAX_TOP_K}],
)
def test_the_bounds_themselves_are_accepted(options: dict[str, Any]) -> None:
    Settings(**options)


def test_check_choice_returns_the_value_and_names_the_bad_one_with_the_valid_ones() -> None:
    assert check_choice("mode", "dense", MODES) == "dense"
    with pytest.raises(SettingsError, match=r"^mode must be one of hybrid, dense, lexical, got 'fuzzy'$"):
        check_choice("mode", "fuzzy", MODES)


def test_check_choice_raises_the_error_type_asked_for() -> None:
    with pytest.raises(QueryError, match="'mode' must be one of hybrid, dense, lexical, got 'x'"):
        check_choice("'mode'", "x", MODES, QueryError)
