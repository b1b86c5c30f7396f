"""Errors as the web app shows them: refusals before the library, and any exception as a message for people."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from qa.errors import DateError, IndexStoreError, ModelError, QAError, QueryError

logger = logging.getLogger("qa.app")


class RequestError(Exception):
    """A request the app refuses before it reaches the library; `status` is the HTTP status."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class Busy(RequestError):
    """More questions are waiting than the server admits."""

    def __init__(self) -> None:
        super().__init__("the server is busy answering other questions; try again in a moment", 503, "busy")


@dataclass(frozen=True)
class Problem:
    """An error as a user sees it: a headline, the detail, and the HTTP status for API clients."""

    status: int
    kind: str
    headline: str
    detail: str


def explain(exc: BaseException) -> Problem:
    """Translate any exception into a message for people; unexpected ones are logged, never shown."""
    if isinstance(exc, RequestError):
        headline = "الخادم مشغول" if isinstance(exc, Busy) else "تعذّر قبول الطلب"
        return Problem(exc.status, exc.kind, headline, str(exc))
    if isinstance(exc, (QueryError, DateError)):
        return Problem(400, "invalid_request", "تعذّر قبول السؤال", str(exc))
    if isinstance(exc, (IndexStoreError, ModelError)):
        return Problem(503, "index_unavailable", "الفهرس غير متاح", str(exc))
    if isinstance(exc, QAError):
        return Problem(500, "error", "تعذّرت الإجابة", str(exc))
    reference = uuid.uuid4().hex[:8]
    logger.error("internal error %s", reference, exc_info=exc)
    return Problem(500, "internal_error", "حدث خطأ داخلي", f"internal error (reference {reference}); see the server log")
