"""What a `Filters` record means, for any store: case-folded names, dates as UTC timestamps, one passage's verdict."""

from __future__ import annotations

from datetime import datetime, time, timezone

from qa.errors import QueryError
from qa.records import Filters


def timestamp(value: str, *, end_of_day: bool = False) -> float:
    """Seconds since the epoch of an ISO date or time; a bare date is its first (or last) instant, UTC when unzoned.

    Raises:
        ValueError: `value` is not an ISO date or time.
    """
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if len(value) == 10:  # a bare date covers its whole day
        parsed = datetime.combine(parsed.date(), time.max if end_of_day else time.min)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def published_timestamp(published: str | None) -> float | None:
    """An article's publication time as a timestamp, or None when it has no readable date."""
    if not published:
        return None
    try:
        return timestamp(published)
    except ValueError:
        return None


def date_bounds(filters: Filters) -> tuple[float | None, float | None]:
    """The (since, until) timestamps of `filters`, None where open; `until` as a date includes its whole day.

    Raises:
        QueryError: a bound is not an ISO date or time.
    """
    return _bound(filters.since, "since", end_of_day=False), _bound(filters.until, "until", end_of_day=True)


def folded(names: tuple[str, ...]) -> tuple[str, ...]:
    """Names as filters compare them: case-folded."""
    return tuple(name.casefold() for name in names)


def matches(filters: Filters, site: str | None, category: str | None, published: str | None) -> bool:
    """Whether a passage of an article with this site, category and date passes `filters`.

    The meaning every store implements (as a row mask, or as a server's own
    expression); it is the reference the store tests compare against.
    """
    if filters.sources and (site or "").casefold() not in folded(filters.sources):
        return False
    if filters.categories and (category or "").casefold() not in folded(filters.categories):
        return False
    since, until = date_bounds(filters)
    if since is None and until is None:
        return True
    moment = published_timestamp(published)
    if moment is None:
        return filters.keep_undated
    return (since is None or moment >= since) and (until is None or moment <= until)


def _bound(value: str | None, name: str, *, end_of_day: bool) -> float | None:
    if not value:
        return None
    try:
        return timestamp(value, end_of_day=end_of_day)
    except ValueError:
        raise QueryError(f"{name} must be an ISO date such as 2018-03-01 or 2018-03-01T12:00:00+00:00, got {value!r}") from None
