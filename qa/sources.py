"""Sources of the web and of spreadsheets, read into a spool of JSON Lines files that `build_index` indexes.

`qa build` and `qa watch` hand the index builder the sources it reads itself (.txt/.md articles,
folders of them, JSON Lines) as they are; every other source (a feed or page URL, a saved page, a
feed file, a CSV/TSV or Parquet export, the pages and tables inside a folder) is read here into one
JSON Lines file of its own in the spool folder. The spool is what makes a poll incremental: a feed's
items stay once read (a feed shows only its latest), each new item is fetched once, an article whose
canonical URL or text is already spooled is a duplicate and left out, and a file rewritten with the
same content keeps its bytes, so an unchanged round leaves the index "up to date".

Over 500 lines: the collector and its spool share the per-source bookkeeping (what was fetched, when, and why it failed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from qa.errors import InputError, SettingsError
from qa.fetch import Fetched, Fetcher, is_url
from qa.ingest import JSONL_SUFFIXES, TEXT_SUFFIXES
from qa.records import Article, Skipped
from qa.text.feeds import Feed, FeedItem, looks_like_feed, parse_feed
from qa.text.html import WebPage, extract_page
from qa.text.tabular import PARQUET_SUFFIXES, TABLE_SUFFIXES, iter_table, parse_columns, table_kind

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

FORMATS = ("auto", "feed", "html", "csv", "tsv", "parquet")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
FEED_SUFFIXES = (".rss", ".atom", ".xml")
# Files a folder source contributes through the spool (the builder reads its .txt/.md/.jsonl itself).
SPOOLED_SUFFIXES = HTML_SUFFIXES + FEED_SUFFIXES + TABLE_SUFFIXES
_STATE = "state.json"
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|at_medium|at_campaign|ocid|cmpid)$", re.I)
_WORDS = re.compile(r"\w+")
# A feed item's content:encoded of at least this many words is the story itself, not a teaser.
_FULL_STORY_WORDS = 80
_FEED_TYPES = ("rss", "atom", "/xml", "+xml")
_ACCEPT_FEED = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
_ACCEPT_PAGE = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class SourceReport:
    """What reading one source did: the line `qa watch` logs for it each round.

    `new` articles were spooled, `unchanged` were already there (or the source answered 304),
    `duplicates` had the canonical URL or the text of a spooled article from elsewhere, `failed`
    lists the items (feed entries, rows, pages) left out and why; `error` is set when the
    source as a whole could not be read (then nothing of it changed).
    """

    source: str
    new: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: tuple[Skipped, ...] = ()
    error: str | None = None
    not_modified: bool = False

    def __str__(self) -> str:
        if self.error:
            return f"{self.source}: failed ({self.error})"
        line = f"{self.source}: {self.new} new, {self.unchanged} unchanged"
        if self.not_modified:
            line += " (not modified)"
        if self.duplicates:
            line += f", {self.duplicates} duplicate(s)"
        if self.failed:
            first = self.failed[0]
            line += f", {len(self.failed)} failed ({first}" + (f"; and {len(self.failed) - 1} more" if len(self.failed) > 1 else "") + ")"
        return line


@dataclass(frozen=True)
class Prepared:
    """What `Collector.prepare` made: the paths to give `build_index`, and one report per spooled source."""

    paths: tuple[str, ...]
    reports: tuple[SourceReport, ...]

    @property
    def changed(self) -> bool:
        return any(r.new for r in self.reports)


def canonical_url(url: str) -> str:
    """The URL two links to one story share: lower-case scheme and host, no default port, fragment or tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def text_hash(text: str) -> str:
    """The hash two copies of one story share, whatever their spacing and punctuation."""
    return hashlib.sha256(" ".join(_WORDS.findall(text.lower())).encode()).hexdigest()


def is_native(source: str | Path) -> bool:
    """Whether `build_index` reads the source itself: a folder, a .txt/.md article, a JSON Lines file."""
    if isinstance(source, str) and is_url(source):
        return False
    path = Path(source)
    name = path.name.lower()
    return path.is_dir() or name.endswith(TEXT_SUFFIXES) or name.endswith(JSONL_SUFFIXES)


class Spool:
    """A folder of JSON Lines files, one per source, and `state.json` (validators, file stamps, body hashes).

    The index of every spooled article's canonical URL and text hash is read once, when the spool opens.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        state_file = self.folder / _STATE
        try:
            self.state: dict[str, dict[str, object]] = json.loads(state_file.read_text("utf-8")) if state_file.exists() else {}
        except (OSError, ValueError) as exc:
            raise InputError(f"{state_file}: the spool's state cannot be read ({exc}); delete the folder to start over") from exc
        self._articles: dict[str, dict[str, dict[str, str]]] = {}
        self._urls: dict[str, tuple[str, str]] = {}
        self._hashes: dict[str, tuple[str, str]] = {}
        self._duplicates: set[str] = {url for entry in self.state.values() for url in entry.get("duplicates", ())}  # type: ignore[union-attr]
        for source, entry in self.state.items():
            records = {}
            for record in self._read(self.folder / str(entry["file"])):
                records[record["id"]] = record
            self._articles[source] = records
            for record in records.values():
                self._index(source, record)

    def path(self, source: str) -> Path:
        """The JSON Lines file of `source` (a name made of its readable end and a hash of the whole)."""
        entry = self.state.get(source)
        if entry is not None:
            return self.folder / str(entry["file"])
        tail = re.sub(r"[^\w.-]+", "_", source.rstrip("/").rsplit("/", 1)[-1])[-40:] or "source"
        return self.folder / f"{tail}-{hashlib.sha256(source.encode()).hexdigest()[:12]}.jsonl"

    def entry(self, source: str) -> dict[str, object]:
        return self.state.setdefault(source, {"file": self.path(source).name})

    def has_url(self, url: str) -> bool:
        """Whether an article with this canonical URL is spooled, or a feed link was found to duplicate one."""
        key = canonical_url(url)
        return key in self._urls or key in self._duplicates

    def remember_duplicate(self, source: str, url: str) -> None:
        """Note a feed link whose page duplicated a spooled article, so later rounds do not fetch it again."""
        seen = self.entry(source).setdefault("duplicates", [])
        key = canonical_url(url)
        if key not in self._duplicates:
            self._duplicates.add(key)
            seen.append(key)  # type: ignore[union-attr]

    def add(self, source: str, article: Article, *, link: str | None = None) -> str:
        """Spool `article` for `source`: "new", "changed" (its id held other content), "same" or "duplicate".

        A duplicate has the canonical URL or the text of an article spooled under another id; it is left
        out. `link`, the feed item's link when it differs from the page's canonical URL, is remembered
        so that it is not fetched again.
        """
        record = _record(article)
        if link and canonical_url(link) != record.get("url"):
            record["link"] = canonical_url(link)
        records = self._articles.setdefault(source, {})
        old = records.get(record["id"])
        if old is not None:
            if {k: v for k, v in old.items() if k != "link"} == {k: v for k, v in record.items() if k != "link"}:
                if "link" in record and "link" not in old:
                    old["link"] = record["link"]
                    self._index(source, old)
                return "same"
            self._unindex(old)
        url = canonical_url(record["url"]) if record.get("url") else None
        for key, table in ((url, self._urls), (record["_hash"], self._hashes)):
            owner = table.get(key) if key else None
            if owner is not None and owner != (source, record["id"]):
                if old is not None:
                    self._index(source, old)
                return "duplicate"
        records[record["id"]] = record
        self._index(source, record)
        self.entry(source)
        return "new" if old is None else "changed"

    def count(self, source: str) -> int:
        """How many articles `source` has in the spool."""
        return len(self._articles.get(source, {}))

    def ids(self, source: str) -> set[str]:
        return set(self._articles.get(source, {}))

    def clear(self, source: str) -> None:
        """Forget the articles of `source` (before reading a file source again whole)."""
        for record in self._articles.pop(source, {}).values():
            self._unindex(record)

    def save(self, source: str) -> Path:
        """Write the JSON Lines file of `source` atomically; a file whose content is unchanged keeps its bytes."""
        path = self.path(source)
        self.entry(source)
        lines = [json.dumps({k: v for k, v in r.items() if not k.startswith("_")}, ensure_ascii=False)
                 for r in sorted(self._articles.get(source, {}).values(), key=lambda r: r["id"])]
        content = ("\n".join(lines) + "\n").encode() if lines else b""
        if not path.exists() or path.read_bytes() != content:
            _write_atomic(path, content)
        self.save_state()
        return path

    def save_state(self) -> None:
        _write_atomic(self.folder / _STATE, json.dumps(self.state, ensure_ascii=False, indent=1, sort_keys=True).encode())

    def files(self, sources: Iterable[str]) -> list[str]:
        """The non-empty spool files of `sources`, in their order."""
        paths = []
        for source in sources:
            if source in self.state:
                path = self.path(source)
                if path.exists() and path.stat().st_size:
                    paths.append(str(path))
        return paths

    def _index(self, source: str, record: dict[str, str]) -> None:
        for key in ("url", "link"):
            if record.get(key):
                self._urls.setdefault(canonical_url(record[key]), (source, record["id"]))
        self._hashes.setdefault(record["_hash"], (source, record["id"]))

    def _unindex(self, record: dict[str, str]) -> None:
        for key in ("url", "link"):
            if record.get(key):
                self._urls.pop(canonical_url(record[key]), None)
        self._hashes.pop(record["_hash"], None)

    @staticmethod
    def _read(path: Path) -> Iterator[dict[str, str]]:
        if not path.exists():
            return
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    record = json.loads(line)
                    record["_hash"] = text_hash(record["text"])
                    yield record


class Collector:
    """Reads sources into a `Spool`: fetches feeds (conditionally) and their new items' pages, reads files.

    Args:
        spool: where the articles go.
        fmt: one of FORMATS; "auto" tells a source's kind by its URL's Content-Type, its content and its suffix.
        columns: for CSV/TSV/Parquet, the `--columns` mapping (`title=headline,text=body`).

    `prepare` and `collect` take the HTTP client: one per round, so its time budget covers the round.
    """

    def __init__(self, spool: Spool, *, fmt: str = "auto", columns: str | Mapping[str, str] | None = None) -> None:
        if fmt not in FORMATS:
            raise SettingsError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.spool = spool
        self.fmt = fmt
        self.columns = dict(columns) if isinstance(columns, Mapping) else parse_columns(columns)

    def prepare(self, sources: Iterable[str | Path], fetcher: Fetcher) -> Prepared:
        """Read every source that is not native into the spool; the paths `build_index` should read.

        Raises:
            InputError: a path source does not exist (a URL that fails is reported, not raised).
        """
        sources = [str(s) for s in sources]
        for source in sources:
            if not is_url(source) and not Path(source).exists():
                raise InputError(f"{source}: no such file or folder")
        reports, spooled = [], []
        for source in sources:
            if is_native(source):
                if Path(source).is_dir() and any(folder_files(Path(source))):
                    spooled.append(source)
                    reports.append(self.collect(source, fetcher))
                continue
            spooled.append(source)
            reports.append(self.collect(source, fetcher))
        native = [s for s in sources if is_native(s)]
        return Prepared(paths=tuple(native + self.spool.files(spooled)), reports=tuple(reports))

    def collect(self, source: str, fetcher: Fetcher) -> SourceReport:
        """Read one source into the spool and save it; failures are reported, never raised."""
        try:
            if is_url(source):
                report = self._collect_url(source, fetcher)
            else:
                report = self._collect_path(source, fetcher)
        except InputError as exc:
            return SourceReport(source, error=_reason(exc, source))
        self.spool.save(source)
        return report

    def _collect_url(self, source: str, fetcher: Fetcher) -> SourceReport:
        entry = self.spool.entry(source)
        fetched = fetcher.fetch(source, etag=_str(entry.get("etag")), last_modified=_str(entry.get("last_modified")),
                                accept=_ACCEPT_FEED if self.fmt in ("auto", "feed") else _ACCEPT_PAGE)
        if fetched.not_modified:
            return SourceReport(source, unchanged=int(entry.get("articles", 0)), not_modified=True)
        digest = hashlib.sha256(fetched.body).hexdigest()
        if digest == entry.get("sha256") and not entry.get("retry"):
            self._remember(entry, fetched, digest)
            return SourceReport(source, unchanged=int(entry.get("articles", 0)))
        kind = self._kind(source, fetched.content_type, fetched.body)
        if kind == "feed":
            report = self._collect_feed(source, parse_feed(fetched.body, url=fetched.final_url, content_type=fetched.content_type), fetcher,
                                        referrer=fetched.final_url)
        elif kind == "html":
            report = self._collect_page(source, fetched)
        else:
            raise InputError(f"{source}: a {kind} file is read from disk, not from a URL; download it first")
        entry["kind"] = kind
        entry["articles"] = self.spool.count(source)
        # A round that left items out asks for the whole feed again next time, so they are retried.
        entry["retry"] = bool(report.failed)
        self._remember(entry, fetched, digest)
        return report

    def _remember(self, entry: dict[str, object], fetched: Fetched, digest: str) -> None:
        entry["sha256"] = digest
        retry = bool(entry.get("retry"))
        entry["etag"] = None if retry else fetched.etag
        entry["last_modified"] = None if retry else fetched.last_modified

    def _collect_feed(self, source: str, feed: Feed, fetcher: Fetcher, *, referrer: str | None = None) -> SourceReport:
        new = unchanged = duplicates = 0
        failed: list[Skipped] = []
        if feed.problem:
            failed.append(Skipped(source, None, f"feed only partly readable ({feed.problem})"))
        for item in feed.items:
            if self.spool.has_url(item.link):
                unchanged += 1
                continue
            try:
                article = self._item_article(item, feed, fetcher, referrer)
            except InputError as exc:
                failed.append(Skipped(item.link, None, _reason(exc, item.link)))
                continue
            status = self.spool.add(source, article, link=item.link)
            if status in ("new", "changed"):
                new += 1
            elif status == "same":
                unchanged += 1
            else:
                duplicates += 1
                self.spool.remember_duplicate(source, item.link)
        return SourceReport(source, new=new, unchanged=unchanged, duplicates=duplicates, failed=tuple(failed))

    def _item_article(self, item: FeedItem, feed: Feed, fetcher: Fetcher, referrer: str | None) -> Article:
        """The article of a feed item: its page, read; a feed that carries the whole story stands in for a page that fails."""
        if not item.link.startswith(("http://", "https://")):
            raise InputError(f"{item.link}: a feed item's link must be an http(s) URL")
        try:
            fetched = fetcher.fetch(item.link, accept=_ACCEPT_PAGE, referrer=referrer)
            page = extract_page(fetched.body, url=fetched.final_url, content_type=fetched.content_type)
        except InputError:
            if len(_WORDS.findall(item.content)) < _FULL_STORY_WORDS:
                raise
            return _article(WebPage(url=item.link, title=item.title, text=item.content), item.link, item=item, feed_title=feed.title)
        return _article(page, fetched.final_url, item=item, feed_title=feed.title)

    def _collect_page(self, source: str, fetched: Fetched) -> SourceReport:
        page = extract_page(fetched.body, url=fetched.final_url, content_type=fetched.content_type)
        status = self.spool.add(source, _article(page, fetched.final_url))
        return SourceReport(source, new=int(status in ("new", "changed")), unchanged=int(status == "same"),
                            duplicates=int(status == "duplicate"))

    def _collect_path(self, source: str, fetcher: Fetcher) -> SourceReport:
        path = Path(source)
        files = sorted(folder_files(path)) if path.is_dir() else [path]
        entry = self.spool.entry(source)
        stamp = [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
        if stamp == entry.get("stamp") and not entry.get("retry"):
            return SourceReport(source, unchanged=int(entry.get("articles", 0)))
        known = self.spool.ids(source)
        new = duplicates = 0
        failed: list[Skipped] = []
        feed_reports: list[SourceReport] = []
        self.spool.clear(source)
        for file in files:
            try:
                kind = self._kind(str(file), None, _head(file))
                if kind == "feed":
                    # A saved feed's items are stories on the web: fetched like a live feed's.
                    feed_reports.append(self._collect_feed(source, parse_feed(file.read_bytes(), url=str(file)), fetcher))
                    continue
                articles = self._file_articles(file, path if path.is_dir() else None, kind, failed)
            except (InputError, OSError) as exc:
                failed.append(Skipped(str(file), None, _reason(exc, str(file))))
                continue
            for article in articles:
                if self.spool.add(source, article) == "duplicate":
                    duplicates += 1
                else:
                    new += article.id not in known
        for report in feed_reports:
            new, duplicates = new + report.new, duplicates + report.duplicates
            failed.extend(report.failed)
        total = self.spool.count(source)
        entry.update(stamp=stamp, articles=total, retry=bool(feed_reports and failed))
        return SourceReport(source, new=new, unchanged=total - new, duplicates=duplicates, failed=tuple(failed))

    def _file_articles(self, file: Path, folder: Path | None, kind: str, failed: list[Skipped]) -> list[Article]:
        if kind == "html":
            page = extract_page(file.read_bytes())
            article_id = file.relative_to(folder).as_posix() if folder else file.name
            return [replace(_article(page, page.url), id=article_id, origin=str(file))]
        if kind in ("csv", "tsv", "parquet"):
            return list(iter_table(file, self.columns, lambda o, line, why: failed.append(Skipped(o, line, why)), kind=kind))
        raise InputError(f"{file}: unsupported file type {file.suffix!r}; use a feed, an HTML page, CSV, TSV or Parquet")

    def _kind(self, source: str, content_type: str | None, head: bytes) -> str:
        if self.fmt != "auto":
            return self.fmt
        lowered = (content_type or "").lower()
        if any(t in lowered for t in _FEED_TYPES) or looks_like_feed(head):
            return "feed"
        name = urlsplit(source).path.lower() if is_url(source) else source.lower()
        if name.endswith(TABLE_SUFFIXES):
            return table_kind(Path(name))
        if "html" in lowered or name.endswith(HTML_SUFFIXES) or b"<html" in head[:4096].lower():
            return "html"
        if is_url(source):
            return "html"
        raise InputError(f"{source}: cannot tell what kind of source this is; name it with --format {'|'.join(FORMATS[1:])}")


def folder_files(folder: Path) -> Iterator[Path]:
    """The files of a folder read through the spool: pages, feeds and tables, not hidden."""
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if (path.is_file() and path.name.lower().endswith(SPOOLED_SUFFIXES)
                and not any(part.startswith(".") for part in path.relative_to(folder).parts)):
            yield path


def _head(path: Path) -> bytes:
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        return b""
    with path.open("rb") as stream:
        return stream.read(4096)


def _article(page: WebPage, url: str | None, *, item: FeedItem | None = None, feed_title: str | None = None) -> Article:
    """An article from a page; the feed's item fills what the page lacks."""
    canonical = canonical_url(page.url or url or "") if (page.url or url) else None
    title = page.title or (item.title if item else "")
    text = page.text
    if not title:
        title = text.split("\n", 1)[0][:120]
    host = urlsplit(canonical).hostname if canonical else None
    article_id = f"{host}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}" if canonical else f"page-{text_hash(text)[:16]}"
    return Article(
        id=article_id, title=title, text=text, origin=url or canonical or "", site=page.site or feed_title or host,
        published=page.published or (item.published if item else None), url=canonical,
        category=item.category if item else None, author=page.author or (item.author if item else None),
        summary=(item.summary if item and item.summary else None) or page.description,
    )


def _record(article: Article) -> dict[str, str]:
    record = {"id": article.id, "title": article.title, "text": article.text}
    for key, value in (("url", article.url), ("source", article.site), ("published", article.published),
                       ("category", article.category), ("author", article.author), ("summary", article.summary)):
        if value:
            record[key] = value
    record["_hash"] = text_hash(article.text)
    return record


def _write_atomic(path: Path, content: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _reason(exc: Exception, source: str) -> str:
    """The error's message without the source's name in front (the report line names it already)."""
    message = str(exc)
    for prefix in (f"{source}: ",):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message

