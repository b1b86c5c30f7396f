"""Text analysis in one home: stopwords and stems (`qa.text.words`), scripts, languages and questions (`qa.text.language`), dates (`qa.text.dates`, `qa.text.when`)."""

from __future__ import annotations

from qa.text.dates import (
    TimeExpression,
    find_dates,
    find_dates_batch,
    format_date,
    format_published,
    format_range,
    format_time,
    published_date,
    published_day,
)
from qa.text.language import (
    CONTEXT_TURNS,
    CONTEXT_WORDS,
    detect_language,
    is_arabic,
    question_type,
    resolve_followup,
    script_of,
    text_direction,
)
from qa.text.when import QuestionTime, newest_day, question_time, question_times, reference_date, topic
from qa.text.words import (
    INDEX_STEMMERS,
    INDEX_STOPWORDS,
    MATCH_STOPWORDS,
    Word,
    content_words,
    index_stem,
    is_index_stopword,
    match_keys,
    snowball_stemmer,
    split_words,
)

__all__ = [
    "CONTEXT_TURNS",
    "CONTEXT_WORDS",
    "INDEX_STEMMERS",
    "INDEX_STOPWORDS",
    "MATCH_STOPWORDS",
    "QuestionTime",
    "TimeExpression",
    "Word",
    "content_words",
    "detect_language",
    "find_dates",
    "find_dates_batch",
    "format_date",
    "format_published",
    "format_range",
    "format_time",
    "index_stem",
    "is_arabic",
    "is_index_stopword",
    "match_keys",
    "newest_day",
    "published_date",
    "published_day",
    "question_time",
    "question_times",
    "reference_date",
    "topic",
    "question_type",
    "resolve_followup",
    "script_of",
    "snowball_stemmer",
    "split_words",
    "text_direction",
]
