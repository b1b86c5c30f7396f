"""The reader: a small model trained here that reads candidate sentences against a question (see docs/reader.md)."""

from qa.reader.model import (
    READER_FILE,
    READER_SHA256,
    SCORER_FEATURES,
    Reader,
    ReaderConfig,
    Reading,
    Scorer,
    load_reader,
    load_scorer,
    sentence_features,
)
from qa.reader.span import best_span, char_span, span_probability

__all__ = [
    "READER_FILE",
    "READER_SHA256",
    "Reader",
    "ReaderConfig",
    "Reading",
    "SCORER_FEATURES",
    "Scorer",
    "best_span",
    "char_span",
    "load_reader",
    "load_scorer",
    "sentence_features",
    "span_probability",
]
