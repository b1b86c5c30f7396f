"""Read articles from text files, folders and JSON Lines into `Article` records."""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from qa.errors import DuplicateArticleError, InputError
from qa.records import Article, Skipped

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

TEXT_SUFFIXES = (".txt", ".md")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
# Every file a folder source contributes ends with one of these (any case); others in it are ignored.
SOURCE_SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES
JSONL_REQUIRED = ("id", "title", "text")
JSONL_OPTIONAL = ("url", "source", "published", "category", "author", "summary")

# "headline – site": an en dash, em dash or hyphen with spaces around it.
_TITLE_SITE = re.compile(r"^(?P<title>.+?)\s+[\u2013\u2014-]\s+(?P<site>[^\u2013\u2014-]+)$")
_AGENCY = re.compile(r"^\s*(?:المصدر|مصدر الخبر|Source)\s*[:：]\s*(?P<agency>.+?)\s*$", re.I)
_HEADING = re.compile(r"^#{1,6}\s+")
# A line with no letter or digit in any script (a lone quote, dashes, NBSPs) is layout debris.
_HAS_WORD = re.compile(r"\w")
_BLANKS = re.compile(r"[\s\u00a0\u200b-\u200f\u202a-\u202e\u2060\ufeff]+")
# A JSON "\ud800" escape decodes to a lone surrogate, which no UTF-8 writer (SQLite, the tokenizer) accepts.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF16_HINT = "UTF-16 text, not UTF-8; convert it, e.g. iconv -f utf-16 -t utf-8"

OnSkip = Callable[[Skipped], None]


def iter_articles(
    sources: Iterable[str | Path],
    *,
    strict: bool = False,
    on_skip: OnSkip | None = None,
) -> Iterator[Article]:
    """Yield the articles of files, folders (recursively) and JSON Lines files, streaming.

    Args:
        sources: paths of `.txt`/`.md` articles, folders of them, or `.jsonl`
            (optionally gzipped) files with one article per line.
        strict: raise at the first unreadable input instead of skipping it.
        on_skip: called with a `Skipped` record for every input left out.

    Raises:
        InputError: a source does not exist, or (with `strict`) an input is bad.
        DuplicateArticleError: two articles carry the same id.
    """
    seen: dict[str, str] = {}
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder; give a .txt/.md file, a folder or a .jsonl(.gz) file")
        for article in _iter_source(path, strict=strict, on_skip=on_skip):
            first = seen.get(article.id)
            if first is not None:
                raise DuplicateArticleError(
                    f"two articles have the id {article.id!r}: {first} and {article.origin}; "
                    "rename one of them or remove the duplicate"
                )
            seen[article.id] = article.origin
            yield article


def iter_source_files(sources: Iterable[str | Path]) -> Iterator[Path]:
    """Yield the files the sources are read from, in the order `iter_articles` reads them.

    A file source is yielded as given, whatever its suffix (reading it says why it
    is unsupported); a folder yields, sorted and recursively, its files ending with
    one of SOURCE_SUFFIXES, leaving out hidden entries (a name starting with a dot,
    at any depth below the folder), symlinked folders (not descended into) and
    dangling links. A source that does not exist yields nothing.
    """
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.name.lower().endswith(SOURCE_SUFFIXES)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            yield path


def read_articles(sources: Iterable[str | Path], *, strict: bool = False) -> tuple[list[Article], list[Skipped]]:
    """Read every article of `sources` into memory; see `iter_articles`."""
    skipped: list[Skipped] = []
    articles = list(iter_articles(sources, strict=strict, on_skip=skipped.append))
    return articles, skipped


def _iter_source(path: Path, *, strict: bool, on_skip: OnSkip | None) -> Iterator[Article]:
    def skip(origin: str, line: int | None, reason: str) -> None:
        record = Skipped(origin=_printable(origin), line=line, reason=reason)
        if strict:
            raise InputError(str(record))
        logger.warning("skipped %s", record)
        if on_skip is not None:
            on_skip(record)

    if path.is_dir():
        for file in iter_source_files([path]):
            if not _valid_name(file):
                skip(str(file), None, "the file name is not valid UTF-8; rename it")
            elif _is_jsonl(file):
                yield from _iter_jsonl(file, skip)
            elif file.suffix.lower() in TEXT_SUFFIXES:
                article = _read_text_file(file, file.relative_to(path).with_suffix("").as_posix(), skip)
                if article is not None:
                    yield article
        return
    if not _valid_name(path):
        skip(str(path), None, "the file name is not valid UTF-8; rename it")
    elif _is_jsonl(path):
        yield from _iter_jsonl(path, skip)
    elif path.suffix.lower() in TEXT_SUFFIXES:
        article = _read_text_file(path, path.stem, skip)
        if article is not None:
            yield article
    else:
        skip(str(path), None, f"unsupported file type {path.suffix!r}; use .txt, .md, .jsonl or .jsonl.gz here "
             "(feeds, pages, CSV/TSV and Parquet are read by qa.sources: `qa build` passes them through it)")


def _valid_name(path: Path) -> bool:
    """Whether the path decodes as UTF-8 (undecodable bytes come in as surrogates, which cannot be stored)."""
    return _SURROGATE.search(str(path)) is None


def _printable(origin: str) -> str:
    return os.fsencode(origin).decode("utf-8", "replace") if _SURROGATE.search(origin) else origin


def _is_utf16(raw: bytes) -> bool:
    if not raw.startswith(_UTF16_BOMS) or len(raw) % 2:
        return False
    try:
        raw.decode("utf-16")
    except UnicodeDecodeError:
        return False
    return True


def _is_jsonl(path: Path) -> bool:
    return any(path.name.lower().endswith(suffix) for suffix in JSONL_SUFFIXES)


def _read_text_file(path: Path, article_id: str, skip: Callable[[str, int | None, str], None]) -> Article | None:
    origin = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        skip(origin, None, f"cannot read the file ({exc.strerror})")
        return None
    if _is_utf16(raw):
        skip(origin, None, _UTF16_HINT)
        return None
    if b"\x00" in raw:
        skip(origin, None, "binary file (contains NUL bytes), not a text article")
        return None
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        skip(origin, None, f"not UTF-8 (invalid byte at offset {exc.start}); convert it, e.g. iconv -f cp1256 -t utf-8")
        return None
    article = parse_text_article(content, article_id=article_id, origin=origin)
    if article is None:
        skip(origin, None, "empty article: no title or body text")
    return article


def parse_text_article(content: str, *, article_id: str, origin: str) -> Article | None:
    """Parse one article in the seed layout; None when it has no text.

    The layout: a first line `headline – site`, optionally the headline again,
    body paragraphs, a source line such as `المصدر:رويترز`, and stray lines
    (a lone quote, lines of non-breaking spaces) that are dropped. Markdown
    files may start with a `# heading` instead.
    """
    lines = [_BLANKS.sub(" ", line).strip() for line in content.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if _HAS_WORD.search(line)]
    if not lines:
        return None
    first = _HEADING.sub("", lines[0])
    site = None
    match = _TITLE_SITE.match(first)
    if match:
        title, site = match["title"].strip(), match["site"].strip()
    else:
        title = first
    body: list[str] = []
    agency = None
    for line in lines[1:]:
        line = _HEADING.sub("", line)
        agency_match = _AGENCY.match(line)
        if agency_match:
            agency = agency_match["agency"]
            continue
        if line == title and not body:
            continue
        body.append(line)
    text = "\n\n".join(body) if body else title
    return Article(id=article_id, title=title, text=text, origin=origin, site=site, agency=agency)


def _iter_jsonl(path: Path, skip: Callable[[str, int | None, str], None]) -> Iterator[Article]:
    origin = str(path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    line_no = 0
    any_line = False
    try:
        with opener(path, "rb") as stream:
            for line_no, raw in enumerate(stream, start=1):
                if line_no == 1 and raw.startswith(_UTF16_BOMS):
                    skip(origin, None, _UTF16_HINT)
                    return
                if not raw.strip():
                    continue
                any_line = True
                article = _parse_json_line(raw, origin, line_no, skip)
                if article is not None:
                    yield article
    except (OSError, EOFError, zlib.error) as exc:
        skip(origin, line_no or None, f"cannot read the file ({exc}); is it a complete (gzipped) JSON Lines file?")
        return
    if not any_line:
        skip(origin, None, "empty file: no JSON lines")


def _parse_json_line(
    raw: bytes, origin: str, line_no: int, skip: Callable[[str, int | None, str], None]
) -> Article | None:
    try:
        # Editors on Windows start a file with a byte order mark; it is not part of the first record.
        record = json.loads(raw.decode("utf-8-sig" if line_no == 1 else "utf-8"))
    except UnicodeDecodeError as exc:
        skip(origin, line_no, f"not UTF-8 (invalid byte at offset {exc.start})")
        return None
    except json.JSONDecodeError as exc:
        skip(origin, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})")
        return None
    except RecursionError:
        skip(origin, line_no, "not valid JSON (nested too deeply)")
        return None
    except ValueError:
        # Python refuses to convert integers of more than 4,300 digits.
        skip(origin, line_no, "not valid JSON (a number too long to read)")
        return None
    if not isinstance(record, dict):
        skip(origin, line_no, f"expected a JSON object, got {type(record).__name__}")
        return None
    missing = [key for key in JSONL_REQUIRED if key not in record]
    if missing:
        skip(origin, line_no, f"missing required field(s) {', '.join(missing)}; each line needs id, title and text")
        return None
    for key in JSONL_REQUIRED + JSONL_OPTIONAL:
        value = record.get(key)
        if value is None and key not in JSONL_REQUIRED:
            continue
        if not isinstance(value, str) and not (key == "id" and type(value) is int):
            kind = "null" if value is None else type(value).__name__
            skip(origin, line_no, f"field {key!r} must be a string, got {kind}")
            return None
        if isinstance(value, str) and _SURROGATE.search(value):
            skip(origin, line_no, f"field {key!r} holds an unpaired surrogate escape (\\ud800-\\udfff), which is not text")
            return None
    text = _clean_body(record["text"])
    if not text:
        skip(origin, line_no, "empty text")
        return None
    article_id = str(record["id"]).strip()
    if not article_id:
        skip(origin, line_no, "empty id")
        return None
    return Article(
        id=article_id,
        title=_BLANKS.sub(" ", record["title"]).strip(),
        text=text,
        origin=f"{origin}:{line_no}",
        site=record.get("source") or None,
        published=record.get("published") or None,
        url=record.get("url") or None,
        category=record.get("category") or None,
        author=record.get("author") or None,
        summary=record.get("summary") or None,
    )


def _clean_body(text: str) -> str:
    lines = [_BLANKS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)
