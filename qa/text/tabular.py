"""CSV, TSV and Parquet exports in, `Article` records out, through a mapping of article fields to column names."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path

from qa.errors import InputError, SettingsError
from qa.records import Article

FIELDS = ("id", "title", "text", "url", "source", "published", "category", "author", "summary")
CSV_SUFFIXES = (".csv", ".csv.gz")
TSV_SUFFIXES = (".tsv", ".tsv.gz", ".tab")
PARQUET_SUFFIXES = (".parquet", ".pq")
TABLE_SUFFIXES = CSV_SUFFIXES + TSV_SUFFIXES + PARQUET_SUFFIXES
_PARQUET_HINT = "reading Parquet needs pyarrow; install it with: pip install 'pyarrow>=15'"
_BLANKS = re.compile(r"[ \t\u00a0\u200b\ufeff]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Skip = Callable[[str, "int | None", str], None]


def parse_columns(spec: str | None) -> dict[str, str]:
    """Read `title=headline,text=body` into {field: column}; unnamed fields keep their own name as column.

    Raises:
        SettingsError: an entry without `=`, or a field that is not one of FIELDS.
    """
    columns = {name: name for name in FIELDS}
    if not spec:
        return columns
    for entry in spec.split(","):
        if not entry.strip():
            continue
        field, sep, column = entry.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column:
            raise SettingsError(f"--columns entry {entry.strip()!r} must be FIELD=COLUMN, e.g. title=headline")
        if field not in FIELDS:
            raise SettingsError(f"--columns field must be one of {', '.join(FIELDS)}, got {field!r}")
        columns[field] = column
    return columns


def iter_table(path: Path, columns: Mapping[str, str], skip: Skip, *, kind: str | None = None) -> Iterator[Article]:
    """Yield one article a row of a CSV, TSV or Parquet file; rows without text are passed to `skip`.

    `kind` is "csv", "tsv" or "parquet" (by default, from the suffix). A row's id is its id column,
    else a hash of its url, else of its title and text: the same row read twice gets the same id.
    """
    kind = kind or table_kind(path)
    if kind == "parquet":
        rows = _parquet_rows(path)
    else:
        rows = _csv_rows(path, "\t" if kind == "tsv" else None)
    header_checked = False
    for line, row in rows:
        if not header_checked:
            header_checked = True
            _check_header(path, row.keys(), columns)
        article = _article(path, line, row, columns, skip)
        if article is not None:
            yield article


def table_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(TSV_SUFFIXES):
        return "tsv"
    return "csv"


def _check_header(path: Path, header: object, columns: Mapping[str, str]) -> None:
    names = list(header)  # type: ignore[call-overload]
    missing = [f"{field} (column {columns[field]!r})" for field in ("text",) if columns[field] not in names]
    if missing:
        raise InputError(
            f"{path}: no column for {', '.join(missing)}; the columns are {', '.join(map(repr, names))}; "
            "map them with --columns text=COLUMN,title=COLUMN"
        )


def _csv_rows(path: Path, delimiter: str | None) -> Iterator[tuple[int, dict[str, object]]]:
    import gzip

    # A news story in one cell easily passes csv's default limit of 128 KiB.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc})") from exc
    try:
        # utf-8-sig: Excel starts its CSV exports with a byte order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (invalid byte at offset {exc.start}); convert it, e.g. iconv -f cp1256 -t utf-8") from exc
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, {(k or "").strip(): v for k, v in row.items()}
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from exc


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InputError(_PARQUET_HINT) from exc
    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for a damaged file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    number = 0
    for batch in table.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def _value(row: Mapping[str, object], column: str) -> str | None:
    value = row.get(column)
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    return text or None


def _article(path: Path, line: int, row: Mapping[str, object], columns: Mapping[str, str], skip: Skip) -> Article | None:
    values = {field: _value(row, column) for field, column in columns.items()}
    if any(value and _SURROGATE.search(value) for value in values.values()):
        skip(str(path), line, "a cell holds an unpaired surrogate, which is not text")
        return None
    text = _clean(values["text"] or "")
    if not text:
        skip(str(path), line, f"empty text (column {columns['text']!r})")
        return None
    title = _BLANKS.sub(" ", values["title"] or "").strip() or text.split("\n", 1)[0][:120]
    article_id = values["id"] or _row_id(path, values["url"], title, text)
    return Article(
        id=article_id, title=title, text=text, origin=f"{path}:{line}", site=values["source"],
        published=values["published"], url=values["url"], category=values["category"], author=values["author"],
        summary=values["summary"],
    )


def _row_id(path: Path, url: str | None, title: str, text: str) -> str:
    key = url or f"{title}\n{text}"
    return f"{path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _clean(text: str) -> str:
    lines = (_BLANKS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)
