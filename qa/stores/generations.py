"""The on-disk layout of an index: generation folders, the manifest, checksums and the SQLite passage store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.chunk import embed_text
from qa.config import INDEX_FORMAT
from qa.digest import file_sha256, text_sha256
from qa.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from qa.manifest import FileEntry, Manifest
from qa.records import Article, Passage

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
STORE = "store.sqlite"
_GEN_PREFIX = "gen-"
_TMP_PREFIX = ".tmp-"
REBUILD_HINT = "rebuild it with `qa build SOURCES --out {out}`"


# ---------------------------------------------------------------- generations

def current_generation(out: Path) -> Path | None:
    """The folder the CURRENT pointer of `out` names, or None when there is none."""
    pointer = out / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_bytes().decode("utf-8", "replace").strip()
    if not name.startswith(_GEN_PREFIX) or "/" in name or "\\" in name:
        raise IndexCorruptError(f"{pointer} names {name!r}, not an index generation; {REBUILD_HINT.format(out=out)}")
    return out / name


def new_generation(out: Path) -> Path:
    """Make an empty temporary folder inside `out` for a build to fill."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{_TMP_PREFIX}{_GEN_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def publish_generation(out: Path, tmp: Path) -> Path:
    """Make the finished build in `tmp` the current index, atomically.

    The folder is renamed to its final name, then the CURRENT pointer is
    replaced with `os.replace`: a crash at any moment leaves either the old or
    the new index current, both complete. Older generations are removed.
    """
    final = out / tmp.name[len(_TMP_PREFIX):]
    _fsync_tree(tmp)
    os.rename(tmp, final)
    pointer_tmp = out / f"{_TMP_PREFIX}{CURRENT}-{uuid.uuid4().hex[:8]}"
    with open(pointer_tmp, "w", encoding="utf-8") as stream:
        stream.write(final.name + "\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(pointer_tmp, out / CURRENT)
    _fsync_dir(out)
    for entry in out.iterdir():
        # Only folders that are index generations (they hold a manifest): never a user's own gen-* folder.
        if entry != final and entry.is_dir() and entry.name.startswith(_GEN_PREFIX) and (entry / MANIFEST).is_file():
            shutil.rmtree(entry, ignore_errors=True)
    return final


def stale_builds(out: Path) -> list[Path]:
    """Temporary folders left by builds that were killed or failed, oldest first."""
    if not out.is_dir():
        return []
    return sorted(
        (e for e in out.iterdir() if e.is_dir() and e.name.startswith(_TMP_PREFIX + _GEN_PREFIX)),
        key=lambda e: e.name,
    )


def remove_stale_builds(out: Path) -> None:
    """Delete temporary folders left by builds that crashed."""
    if not out.is_dir():
        return
    for entry in out.iterdir():
        if entry.name.startswith(_TMP_PREFIX):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _fsync_tree(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_file():
            fd = os.open(entry, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- manifest

def write_manifest(folder: Path, manifest: Manifest, files: Iterable[str]) -> Manifest:
    """Write manifest.json listing the size and sha256 of each of `files`; return what was written."""
    written = manifest.with_files(
        {name: FileEntry(bytes=(folder / name).stat().st_size, sha256=file_sha256(folder / name)) for name in files}
    )
    # A file name that is not UTF-8 (kept by Python as surrogate escapes) is written as \udcXX escapes.
    text = json.dumps(written.to_json(), ensure_ascii=False, indent=2)
    (folder / MANIFEST).write_bytes(text.encode("utf-8", "backslashreplace"))
    return written


def open_generation(
    out: Path, *, verify: bool = True, formats: tuple[int, ...] = (INDEX_FORMAT,)
) -> tuple[Path, Manifest]:
    """Find the current index of `out`, read its manifest and check its files.

    Raises:
        IndexMissingError: nothing has been built at `out`.
        IndexMismatchError: the index was written in another format.
        IndexCorruptError: the manifest is missing, unreadable or inconsistent
            with the files (an edited count, an unlisted file), or a file is
            missing or does not match its checksum.
    """
    hint = REBUILD_HINT.format(out=out)
    folder = current_generation(out)
    if folder is None:
        if out.is_dir() and (out / MANIFEST).exists():
            raise IndexMismatchError(f"{out} holds an index in an older format; {hint}")
        raise IndexMissingError(f"no index at {out}; build one with `qa build SOURCES --out {out}`")
    if not folder.is_dir():
        raise IndexCorruptError(f"{out / CURRENT} names {folder.name}, which is missing; {hint}")
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{path} is missing; {hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} cannot be read ({exc}); {hint}") from None
    manifest = Manifest.from_json(data, where=str(path), rebuild=hint, formats=formats)
    if STORE not in manifest.files:
        raise IndexCorruptError(f"{path} does not list {STORE} (edited or damaged?); {hint}")
    # Every file of a generation is listed, so a file dropped from the manifest cannot escape its checksum.
    listed = {MANIFEST, *manifest.files}
    unlisted = sorted(e.name for e in folder.iterdir() if e.name not in listed and not e.name.startswith("."))
    if unlisted:
        raise IndexCorruptError(f"{folder} holds {', '.join(unlisted)}, which its manifest does not list; {hint}")
    for name, expected in manifest.files.items():
        file = folder / name
        if not file.is_file():
            raise IndexCorruptError(f"{file} is missing; {hint}")
        if file.stat().st_size != expected.bytes:
            raise IndexCorruptError(f"{file} has {file.stat().st_size} bytes, the manifest says {expected.bytes}; {hint}")
        if verify and file_sha256(file) != expected.sha256:
            raise IndexCorruptError(f"{file} does not match its checksum in the manifest (damaged?); {hint}")
    articles, passages = _stored_counts(folder / STORE, hint)
    claimed = [
        ("articles", manifest.counts.articles, articles),
        ("passages", manifest.counts.passages, passages),
        ("index.size", manifest.index.size, passages),
    ]
    if manifest.lexical is not None:
        claimed.append(("lexical.size", manifest.lexical.size, passages))
    for what, count, actual in claimed:
        if count != actual:
            raise IndexCorruptError(f"{path} says {what} {count}, the store holds {actual} (edited or damaged?); {hint}")
    return folder, manifest


def _stored_counts(path: Path, hint: str) -> tuple[int, int]:
    """(articles, passages) in the store, read without writing to it."""
    try:
        store = PassageStore.open(path)
        try:
            return store.count()
        finally:
            store.close()
    except sqlite3.Error as exc:
        raise IndexCorruptError(f"{path} is not a readable passage store ({exc}); {hint}") from None


# ---------------------------------------------------------------- passage store

_SCHEMA = """
CREATE TABLE articles (
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    origin TEXT NOT NULL, site TEXT, agency TEXT, published TEXT, url TEXT, category TEXT,
    author TEXT, summary TEXT, sha256 TEXT NOT NULL
);
CREATE TABLE passages (
    rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, article INTEGER NOT NULL REFERENCES articles(rowid),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, sha256 TEXT NOT NULL
);
"""
_ARTICLE_FIELDS = ("id", "title", "text", "origin", "site", "agency", "published", "url", "category", "author", "summary")


@dataclass(frozen=True)
class StoredPassage:
    """A passage row joined with its article."""

    row: int
    passage: Passage
    article: Article


class PassageStore:
    """Articles and passages in one SQLite file; passage row i is vector i of the FAISS index."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._next_row = 0

    @classmethod
    def create(cls, path: Path, *, durable: bool = False) -> PassageStore:
        """A new, empty store. `durable` stores survive a kill between commits (for resumable builds)."""
        db = sqlite3.connect(path)
        pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;" if durable else "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
        db.executescript(pragmas + _SCHEMA)
        return cls(db)

    @classmethod
    def recover(cls, path: Path) -> PassageStore:
        """Open a store a killed build left behind (replaying its journal), to read what it committed."""
        return cls(sqlite3.connect(path))

    @classmethod
    def open(cls, path: Path) -> PassageStore:
        # as_uri() escapes '#', '?' and '%', which would otherwise end or alter the file name.
        db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        return cls(db)

    def add(self, article: Article, passages: list[Passage], hashes: list[str]) -> None:
        """Append one article and its passages; rows must be added in vector order."""
        cursor = self._db.execute(
            f"INSERT INTO articles ({','.join(_ARTICLE_FIELDS)}, sha256) VALUES ({','.join('?' * (len(_ARTICLE_FIELDS) + 1))})",
            [*(getattr(article, f) for f in _ARTICLE_FIELDS), article_sha256(article)],
        )
        article_row = cursor.lastrowid
        self._db.executemany(
            'INSERT INTO passages (rowid, id, article, ordinal, start, "end", sha256) VALUES (?,?,?,?,?,?,?)',
            [(self._next_row + i, p.id, article_row, p.ordinal, p.start, p.end, h) for i, (p, h) in enumerate(zip(passages, hashes))],
        )
        self._next_row += len(passages)

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def count(self) -> tuple[int, int]:
        articles = self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        passages = self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        return articles, passages

    def articles_by_id(self) -> dict[str, tuple[int, str, int]]:
        """Map each article id to (article row, sha256 of the article, number of passages)."""
        return {
            article_id: (row, sha, count)
            for article_id, row, sha, count in self._db.execute(
                "SELECT a.id, a.rowid, a.sha256, COUNT(p.rowid) FROM articles a "
                "LEFT JOIN passages p ON p.article = a.rowid GROUP BY a.rowid"
            )
        }

    def origins(self) -> dict[int, str]:
        """Map each article row to the file it was read from."""
        return dict(self._db.execute("SELECT rowid, origin FROM articles"))

    def rows_by_hash(self) -> dict[str, int]:
        """Map the sha256 of each passage's embedded text to its vector row."""
        return dict(self._db.execute("SELECT sha256, rowid FROM passages"))

    def corpus_sha256(self) -> str:
        digest = hashlib.sha256()
        for article_id, sha in self._db.execute("SELECT id, sha256 FROM articles ORDER BY id"):
            digest.update(f"{article_id}\t{sha}\n".encode())
        return digest.hexdigest()

    def get(self, rows: Iterable[int]) -> list[StoredPassage]:
        """The passages at these vector rows, in the order asked."""
        rows = [int(r) for r in rows]
        if not rows:
            return []
        found = {}
        query = (
            f'SELECT p.rowid, p.id, p.ordinal, p.start, p."end", {",".join("a." + f for f in _ARTICLE_FIELDS)} '
            f"FROM passages p JOIN articles a ON a.rowid = p.article WHERE p.rowid IN ({','.join('?' * len(rows))})"
        )
        for row in self._db.execute(query, rows):
            article = Article(**dict(zip(_ARTICLE_FIELDS, row[5:])))
            start, end = row[3], row[4]
            body = article.text[start:end]
            passage = Passage(
                id=row[1], article_id=article.id, ordinal=row[2], start=start, end=end, text=body,
                embed_text=embed_text(article.title, body),
            )
            found[row[0]] = StoredPassage(row=row[0], passage=passage, article=article)
        return [found[r] for r in rows if r in found]

    def article(self, article_id: str) -> Article | None:
        row = self._db.execute(f"SELECT {','.join(_ARTICLE_FIELDS)} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return None if row is None else Article(**dict(zip(_ARTICLE_FIELDS, row)))

    def row_metadata(self) -> Iterator[tuple[int, str | None, str | None, str | None]]:
        """(vector row, site, category, published) of every passage, in row order."""
        yield from self._db.execute(
            "SELECT p.rowid, a.site, a.category, a.published FROM passages p JOIN articles a ON a.rowid = p.article ORDER BY p.rowid"
        )

    def published_values(self) -> set[str]:
        """The distinct `published` strings of the articles that have passages (undated ones left out)."""
        return {published for (published,) in self._db.execute(
            "SELECT DISTINCT a.published FROM passages p JOIN articles a ON a.rowid = p.article"
            " WHERE a.published IS NOT NULL AND a.published != ''")}

    def iter_passages(self, start: int = 0) -> Iterator[StoredPassage]:
        """Every passage from row `start` on, in vector order (for building side indexes)."""
        last = start - 1
        while True:
            rows = [r for (r,) in self._db.execute("SELECT rowid FROM passages WHERE rowid > ? ORDER BY rowid LIMIT 1000", (last,))]
            if not rows:
                return
            yield from self.get(rows)
            last = rows[-1]


def article_sha256(article: Article) -> str:
    """The article's content hash: every field but where it was read from, so moving a file changes nothing."""
    fields = asdict(article)
    del fields["origin"]
    return text_sha256(json.dumps(fields, ensure_ascii=False, sort_keys=True))


def assemble_store(
    path: Path, previous: Path | None, kept_articles: Iterable[int], fresh: Path, moved: Iterable[tuple[str, int]] = ()
) -> tuple[list[int], int]:
    """Write the store of a new generation from the kept articles of the previous one and the fresh ones.

    Kept articles come first, in their previous order, with their passages
    (`moved` gives the new origin of kept articles read from another file);
    fresh articles follow in the order they were read. Passage rows are
    renumbered from 0 in that order.

    Returns:
        The previous passage rows kept, in their new order, and the number of
        fresh passages.
    """
    db = sqlite3.connect(path)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        columns = ",".join([*_ARTICLE_FIELDS, "sha256"])
        kept_rows: list[int] = []
        if previous is not None:
            db.execute("ATTACH DATABASE ? AS previous", (str(previous),))
            db.execute("CREATE TEMP TABLE kept (rowid INTEGER PRIMARY KEY)")
            db.executemany("INSERT INTO kept VALUES (?)", ((row,) for row in kept_articles))
            db.execute(f"INSERT INTO articles (rowid, {columns}) SELECT a.rowid, {columns.replace('sha256', 'a.sha256')} "
                       "FROM previous.articles a JOIN kept k ON k.rowid = a.rowid ORDER BY a.rowid")
            db.executemany("UPDATE articles SET origin = ? WHERE rowid = ?", moved)
            kept_rows = [row for (row,) in db.execute(
                "SELECT p.rowid FROM previous.passages p JOIN kept k ON k.rowid = p.article ORDER BY p.rowid")]
            db.execute(
                'INSERT INTO passages (rowid, id, article, ordinal, start, "end", sha256) '
                'SELECT ROW_NUMBER() OVER (ORDER BY p.rowid) - 1, p.id, p.article, p.ordinal, p.start, p."end", p.sha256 '
                "FROM previous.passages p JOIN kept k ON k.rowid = p.article"
            )
            db.commit()
            db.execute("DETACH DATABASE previous")
        db.execute("ATTACH DATABASE ? AS fresh", (str(fresh),))
        offset = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM articles").fetchone()[0]
        db.execute(f"INSERT INTO articles (rowid, {columns}) SELECT rowid + ?, {columns} FROM fresh.articles ORDER BY rowid",
                   (offset,))
        fresh_count = db.execute("SELECT COUNT(*) FROM fresh.passages").fetchone()[0]
        db.execute(
            'INSERT INTO passages (rowid, id, article, ordinal, start, "end", sha256) '
            'SELECT rowid + ?, id, article + ?, ordinal, start, "end", sha256 FROM fresh.passages ORDER BY rowid',
            (len(kept_rows), offset),
        )
        db.commit()
        db.execute("DETACH DATABASE fresh")
    finally:
        db.close()
    return kept_rows, fresh_count
