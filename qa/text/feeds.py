"""RSS and Atom feeds in, `FeedItem` records out (feedparser reads every dialect; nothing is fetched here)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from qa.errors import InputError

_INSTALL_HINT = "reading feeds needs feedparser; install it with: pip install 'feedparser>=6.0,<7'"
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]", re.I)
_TAGS = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"[ \t\u00a0]+")


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed: where its story is and what the feed says of it."""

    link: str
    title: str = ""
    published: str | None = None
    summary: str = ""
    content: str = ""
    author: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Feed:
    """A parsed feed. `problem` says why it was only partly readable (a truncated or malformed document)."""

    title: str
    link: str | None
    items: tuple[FeedItem, ...]
    problem: str | None = None


def looks_like_feed(raw: bytes) -> bool:
    """Whether a document's root element is a feed's (`<rss>`, `<feed>` or `<rdf:RDF>`)."""
    return _FEED_ROOT.search(raw[:4096]) is not None


def parse_feed(raw: bytes, *, url: str | None = None, content_type: str | None = None) -> Feed:
    """Parse an RSS 0.9x/1.0/2.0 or Atom document; items without a link are left out.

    Raises:
        InputError: not a feed, or malformed with no item readable; feedparser missing.
    """
    try:
        import feedparser
    except ImportError as exc:
        raise InputError(_INSTALL_HINT) from exc
    headers = {"content-type": content_type} if content_type else {}
    if url and url.startswith(("http://", "https://")):
        headers["content-location"] = url  # the base that relative item links resolve against
    parsed = feedparser.parse(raw, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    problem = None
    if parsed.bozo:
        problem = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"
    if not parsed.get("version") and not parsed.entries:
        raise InputError(f"{url or 'feed'}: not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    items = []
    for entry in parsed.entries:
        link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith(("http://", "https://")) else "")
        if not link:
            continue
        content = " ".join(part.get("value", "") for part in entry.get("content", ()))
        tags = entry.get("tags") or ()
        items.append(FeedItem(
            link=link,
            title=_plain(entry.get("title", "")),
            published=_iso(entry.get("published_parsed") or entry.get("updated_parsed")),
            summary=_plain(entry.get("summary", "")),
            content=_plain(content),
            author=_plain(entry.get("author", "")) or None,
            category=_plain(tags[0].get("term", "")) or None if tags else None,
        ))
    if not items and problem:
        raise InputError(f"{url or 'feed'}: malformed feed, no item could be read ({problem})")
    channel = parsed.get("feed", {})
    return Feed(title=_plain(channel.get("title", "")), link=channel.get("link"), items=tuple(items),
                problem=problem if parsed.bozo else None)


def _plain(value: str) -> str:
    import html

    lines = (_BLANKS.sub(" ", line).strip() for line in html.unescape(_TAGS.sub("\n", value)).split("\n"))
    return "\n".join(line for line in lines if line)


def _iso(value: time.struct_time | None) -> str | None:
    if not value:
        return None
    return datetime(*value[:6], tzinfo=timezone.utc).isoformat()
