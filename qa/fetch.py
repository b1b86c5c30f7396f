"""Fetching that cannot hurt: http(s) only, few redirects, timeouts, a size cap and a time budget, conditional GET."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from qa.errors import InputError, SettingsError

USER_AGENT = "qa-news/0.1 (news question answering; feed and page reader)"
SCHEMES = ("http", "https")
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(InputError):
    """A URL could not be fetched: refused scheme, network error, HTTP error, too large, too slow."""


@dataclass(frozen=True)
class FetchLimits:
    """What one `Fetcher` allows itself.

    Attributes:
        timeout_s: the longest one request may take, connecting and reading included.
        max_bytes: the largest body read; a larger page is refused, not cut.
        max_redirects: redirects followed before giving up.
        budget_s: the time all requests of one fetcher may take together (a poll round, a build).
    """

    timeout_s: float = 15.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    budget_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("timeout_s", "max_bytes", "budget_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be more than 0, got {getattr(self, name)}")
        if self.max_redirects < 0:
            raise SettingsError(f"max_redirects must be 0 or more, got {self.max_redirects}")


@dataclass(frozen=True)
class Fetched:
    """One response. `not_modified` is true for a 304 to a conditional request (then `body` is empty)."""

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def check_url(url: str) -> str:
    """Return `url` when it is an http(s) URL with a host.

    Raises:
        FetchError: another scheme (file:, ftp:, javascript:, ...) or no host.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise FetchError(f"{url}: only http and https URLs are fetched, not {parts.scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host")
    return url


def is_private_host(host: str) -> bool:
    """Whether `host` is, or resolves to, an address of this machine or its private network
    (loopback, private, link-local such as a cloud's metadata service, unspecified, reserved, multicast).

    A name that does not resolve counts as public: fetching it fails on its own.
    """
    try:
        addresses = {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found}
    return any(a.is_private or a.is_loopback or a.is_link_local or a.is_unspecified or a.is_reserved or a.is_multicast
               for a in addresses)


def check_link(url: str, referrer: str) -> str:
    """Return `url` unless it leads from a public `referrer` (a feed, a redirecting page) to a private address.

    A feed on the open web must not make the reader fetch this machine's or its network's pages
    (an intranet page, a cloud metadata service) into an index that others can query. A source the
    user names on a private address (a newsroom's own feed server) may link within it.

    Raises:
        FetchError: `url` is refused by `check_url`, or is private while `referrer` is public.
    """
    host = urlsplit(check_url(url)).hostname or ""
    origin = urlsplit(referrer).hostname or ""
    if is_private_host(host) and not is_private_host(origin):
        raise FetchError(f"{url}: a link from {origin} to a private address ({host}) is not followed")
    return url


def is_url(source: str) -> bool:
    """Whether a source names a URL (any scheme) rather than a path."""
    return "://" in source[:16]


class Fetcher:
    """An HTTP client with limits; one per poll round or build, so the time budget covers all its requests."""

    def __init__(self, limits: FetchLimits | None = None, *, user_agent: str = USER_AGENT) -> None:
        import httpx

        self.limits = limits or FetchLimits()
        self._deadline = time.monotonic() + self.limits.budget_s
        self._client = httpx.Client(
            follow_redirects=False, timeout=httpx.Timeout(self.limits.timeout_s), trust_env=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str = "*/*",
              referrer: str | None = None) -> Fetched:
        """GET `url`, following redirects within the limits; with `etag`/`last_modified` a conditional GET.

        `referrer` is the URL that led here (a feed's, for its items): from a public one, `url` and its
        redirects may not lead to a private address (`check_link`); neither may a redirect from a public URL.

        Raises:
            FetchError: refused scheme, a link or redirect from a public site to a private address,
                too many redirects, an HTTP status other than 2xx/304, a body over
                `max_bytes`, a request over `timeout_s`, the budget spent, or a network error.
        """
        import httpx

        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = check_url(url) if referrer is None else check_link(url, referrer)
        for _ in range(self.limits.max_redirects + 1):
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"{url}: the time budget of {self.limits.budget_s:g} s for fetching is spent")
            started = time.monotonic()
            limit = min(self.limits.timeout_s, remaining)
            try:
                with self._client.stream("GET", current, headers=headers) as response:
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        current = check_link(urljoin(current, response.headers["location"]), current)
                        continue
                    if response.status_code == 304:
                        return Fetched(url, current, 304, response.headers.get("content-type", ""), b"",
                                       response.headers.get("etag") or etag,
                                       response.headers.get("last-modified") or last_modified, not_modified=True)
                    if not 200 <= response.status_code < 300:
                        raise FetchError(f"{current}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
                    body = self._read(response, current, started, limit)
                    return Fetched(url, current, response.status_code, response.headers.get("content-type", ""), body,
                                   response.headers.get("etag"), response.headers.get("last-modified"))
            except httpx.TimeoutException as exc:
                raise FetchError(f"{current}: no answer within {limit:g} s") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from exc
        raise FetchError(f"{url}: more than {self.limits.max_redirects} redirects")

    def _read(self, response: object, url: str, started: float, limit: float) -> bytes:
        cap = self.limits.max_bytes
        length = response.headers.get("content-length")  # type: ignore[attr-defined]
        if length and length.isdigit() and int(length) > cap:
            raise FetchError(f"{url}: {int(length):,} bytes, more than the {cap:,} bytes a page may have")
        chunks, size = [], 0
        for chunk in response.iter_bytes():  # type: ignore[attr-defined]
            size += len(chunk)
            if size > cap:
                raise FetchError(f"{url}: more than the {cap:,} bytes a page may have")
            if time.monotonic() - started > limit:
                raise FetchError(f"{url}: not read within {limit:g} s")
            chunks.append(chunk)
        return b"".join(chunks)
