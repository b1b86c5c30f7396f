"""Exceptions raised by the library; the CLI and the app turn them into messages."""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error the library raises on purpose."""


class InputError(QAError):
    """An article source cannot be read or parsed."""


class DuplicateArticleError(InputError):
    """Two articles share one id."""


class ModelError(QAError):
    """The embedding model cannot be found, materialized or loaded."""


class IndexStoreError(QAError):
    """The index on disk is missing, damaged or incompatible."""


class IndexMissingError(IndexStoreError):
    """No index has been built at the given place."""


class IndexMismatchError(IndexStoreError):
    """The index was built with another model or other settings."""


class IndexCorruptError(IndexStoreError):
    """A file of the index does not match the checksum in its manifest."""


class StoreClosedError(IndexStoreError):
    """An index was used after it was closed."""


class StoreUnavailableError(IndexStoreError):
    """The store's server does not answer, refused the credentials, or went away during a call."""


class QueryError(QAError):
    """A question or search option is not acceptable."""


class SettingsError(QAError, ValueError):
    """A setting or argument has a value outside its valid range."""


class LLMError(QAError):
    """The language-model server cannot be reached, times out, or returns nothing usable."""


class DateError(QAError, ValueError):
    """A publication date, a reference date or a date range in a question is not acceptable."""
