"""Bad article input: property-based tests of the parsers in qa.ingest over real files, and a build over good and bad files."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa
from qa.chunk import Chunker
from qa.embed import Embedder
from qa.ingest import _BLANKS, SOURCE_SUFFIXES, iter_articles, iter_source_files, read_articles
from qa.records import Article, Skipped

# Modest example counts keep the suite fast; derandomized, every run tries the same examples and writes no database.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

GOOD_TXT = "خبر سليم يجب ألا يضيع – موقع الأخبار\n\nقال المتحدث إن الاجتماع سيعقد يوم الأحد في القاهرة.\n\nالمصدر:رويترز\n"
GOOD_JSON = {"id": "good-json", "title": "عنوان سليم", "text": "نص سليم عن الاقتصاد.\nفقرة ثانية.", "source": "bbc"}
ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةى"
BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
CONTROLS = "".join(map(chr, range(0x20))) + "\x7f\x85\u2028\u2029\ufeff\u200b\u00a0"


def _folder(tmp_path: Path) -> Path:
    """A fresh folder per example, holding one good text article and one good JSON line."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "good.txt").write_text(GOOD_TXT, encoding="utf-8")
    (folder / "good.jsonl").write_text(json.dumps(GOOD_JSON, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


def _read(folder: Path) -> tuple[list[Article], list[Skipped]]:
    articles, skipped = read_articles([folder])
    by_id = {a.id: a for a in articles}
    # The good articles beside the bad files are never lost or altered.
    assert by_id["good"].title == "خبر سليم يجب ألا يضيع" and by_id["good"].agency == "رويترز"
    assert by_id["good"].paragraphs == ["قال المتحدث إن الاجتماع سيعقد يوم الأحد في القاهرة."]
    assert by_id["good-json"].text == GOOD_JSON["text"] and by_id["good-json"].site == "bbc"
    for article in articles:
        _check_article(article)
    for record in skipped:
        assert record.reason and record.origin
        str(record).encode("utf-8")
    return articles, skipped


def _check_article(article: Article) -> None:
    """What the rest of the build relies on: storable text, a usable id, a non-empty body."""
    for field in fields(article):
        value = getattr(article, field.name)
        assert value is None or isinstance(value, str), (field.name, value)
        if value is not None:
            value.encode("utf-8")  # strict: no lone surrogates reach SQLite or the tokenizer
    assert article.id and article.id == article.id.strip()
    assert article.text.strip()
    assert "\r" not in article.text


def _accounted(path: Path, articles: Sequence[Article], skipped: Sequence[Skipped]) -> bool:
    """Whether the file gave an article or was named in a skip record."""
    name = str(path)
    return any(a.origin == name or a.origin.startswith(name + ":") for a in articles) or any(s.origin == name for s in skipped)


def _jsonl_lines_accounted(path: Path, lines: Sequence[bytes], articles: Sequence[Article], skipped: Sequence[Skipped]) -> None:
    """Every non-blank line of a JSON Lines file is an article or a skip naming that line."""
    if any(s.origin == str(path) and s.line is None for s in skipped):
        return  # the whole file was refused with one message
    expected = {n for n, line in enumerate(lines, start=1) if line.strip()}
    read = {int(a.origin.rsplit(":", 1)[1]) for a in articles if a.origin.startswith(f"{path}:")}
    refused = {s.line for s in skipped if s.origin == str(path)}
    assert read | refused == expected and not read & refused, (sorted(expected), sorted(read), sorted(refused))


# ---------------------------------------------------------------- random bytes, any suffix

@FUZZ
@given(data=st.binary(max_size=4000), suffix=st.sampled_from([".txt", ".md", ".jsonl", ".jsonl.gz", ".ndjson"]), compress=st.booleans())
def test_random_bytes_are_skipped_or_read_and_never_raise(tmp_path: Path, data: bytes, suffix: str, compress: bool) -> None:
    folder = _folder(tmp_path)
    bad = folder / f"bad{suffix}"
    bad.write_bytes(gzip.compress(data) if compress and suffix.endswith(".gz") else data)
    articles, skipped = _read(folder)
    assert _accounted(bad, articles, skipped)


# ---------------------------------------------------------------- invalid UTF-8 and cp1256

arabic_text = st.text(alphabet=ARABIC + " ،؟؛.\n", min_size=1, max_size=300).filter(lambda t: any(c in ARABIC for c in t))


@FUZZ
@given(text=st.text(max_size=300), junk=st.binary(min_size=1, max_size=8), at=st.integers(min_value=0))
def test_invalid_utf8_in_a_text_file_is_named(tmp_path: Path, text: str, junk: bytes, at: int) -> None:
    folder = _folder(tmp_path)
    raw = text.encode("utf-8")
    cut = at % (len(raw) + 1)
    bad = folder / "bad.txt"
    bad.write_bytes(raw[:cut] + junk + raw[cut:])
    articles, skipped = _read(folder)
    assert _accounted(bad, articles, skipped)


@FUZZ
@given(text=arabic_text)
def test_cp1256_arabic_is_refused_with_the_iconv_hint(tmp_path: Path, text: str) -> None:
    folder = _folder(tmp_path)
    raw = text.encode("cp1256")
    (folder / "old.txt").write_bytes(raw)
    (folder / "old.jsonl").write_bytes(json.dumps({"id": "old-json", "title": "t", "text": text}, ensure_ascii=False).encode("cp1256") + b"\n")
    articles, skipped = _read(folder)
    reasons = {Path(s.origin).name: s.reason for s in skipped}
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert "not UTF-8" in reasons["old.txt"] and "iconv -f cp1256" in reasons["old.txt"]
        assert "not UTF-8" in reasons["old.jsonl"]
        assert {a.id for a in articles} == {"good", "good-json"}
    else:
        # A few cp1256 byte pairs are valid UTF-8 by chance; they are read as what they decode to.
        assert _accounted(folder / "old.txt", articles, skipped)


@FUZZ
@given(
    lines=st.lists(
        st.tuples(arabic_text, st.sampled_from(["utf-8", "utf-8", "cp1256", "utf-16-le", "latin-1-junk"])),
        min_size=1,
        max_size=12,
    )
)
def test_mixed_encodings_in_one_jsonl_keep_every_utf8_line(tmp_path: Path, lines: list[tuple[str, str]]) -> None:
    folder = _folder(tmp_path)
    raws = []
    for n, (text, encoding) in enumerate(lines):
        line = json.dumps({"id": f"m{n}", "title": "عنوان", "text": text}, ensure_ascii=False)
        if encoding == "latin-1-junk":
            raws.append(line.encode("utf-8") + b"\xe9\xe0")
        else:
            raws.append(line.encode(encoding))
    bad = folder / "mixed.jsonl"
    bad.write_bytes(b"\n".join(raws) + b"\n")
    articles, skipped = _read(folder)
    read = {a.id: a for a in articles}
    for n, (_, encoding) in enumerate(lines):
        if encoding == "utf-8":
            assert read[f"m{n}"].title == "عنوان"
    _jsonl_lines_accounted(bad, bad.read_bytes().split(b"\n"), articles, skipped)


# ---------------------------------------------------------------- huge lines, control and bidi characters

@settings(FUZZ, max_examples=8)
@given(
    piece=st.sampled_from(["خبر ", "a - ", " – موقع", "المصدر: ", "\u00a0 ", "x", "- - ", ": "]),
    repeat=st.integers(min_value=50_000, max_value=400_000),
    where=st.sampled_from(["txt-first", "txt-body", "json-text", "json-title"]),
)
def test_huge_lines_are_read_whole_and_quickly(tmp_path: Path, piece: str, repeat: int, where: str) -> None:
    folder = _folder(tmp_path)
    line = piece * repeat + "نهاية"
    if where == "txt-first":
        (folder / "huge.txt").write_text(line + "\n\nنص.\n", encoding="utf-8")
    elif where == "txt-body":
        (folder / "huge.txt").write_text("عنوان – موقع\n\n" + line + "\n", encoding="utf-8")
    else:
        record = {"id": "huge", "title": line if where == "json-title" else "عنوان", "text": line if where == "json-text" else "نص."}
        (folder / "huge.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    started = time.perf_counter()
    articles, _ = _read(folder)
    assert time.perf_counter() - started < 20  # no regular expression backtracks over the line
    [huge] = [a for a in articles if a.id == "huge"]
    assert "نهاية" in " ".join(filter(None, (huge.title, huge.site, huge.agency, huge.text)))  # nothing cut off


text_with_controls = st.text(alphabet=st.sampled_from(list(ARABIC + " .؟\n" + BIDI + CONTROLS + "abc")), max_size=200)


@FUZZ
@given(title=text_with_controls, text=text_with_controls, source=text_with_controls, as_json=st.booleans())
def test_control_and_bidi_characters_are_read_and_chunk_cleanly(tmp_path: Path, title: str, text: str, source: str, as_json: bool) -> None:
    folder = _folder(tmp_path)
    if as_json:
        path = folder / "odd.jsonl"
        path.write_text(json.dumps({"id": "odd", "title": title, "text": text, "source": source}) + "\n", encoding="utf-8")
    else:
        path = folder / "odd.txt"
        path.write_text(f"{title} – {source}\n\n{text}\n", encoding="utf-8")
    articles, skipped = _read(folder)
    assert _accounted(path, articles, skipped)
    chunker = Chunker(lambda texts: [len(t.split()) for t in texts], 16, 1)
    for article in articles:
        for passage in chunker.chunk_many([article])[0]:
            assert article.text[passage.start:passage.end] == passage.text


@FUZZ
@given(code=st.integers(min_value=0xD800, max_value=0xDFFF), field=st.sampled_from(["id", "title", "text", "source", "author"]))
def test_unpaired_surrogate_escapes_are_refused_per_line(tmp_path: Path, code: int, field: str) -> None:
    folder = _folder(tmp_path)
    record = {"id": "s1", "title": "عنوان", "text": "نص."}
    record[field] = "قبل @@ بعد"
    line = json.dumps(record).replace("@@", f"\\u{code:04x}")
    path = folder / "surrogate.jsonl"
    path.write_text(line + "\n" + json.dumps({**GOOD_JSON, "id": "after"}) + "\n", encoding="utf-8")
    articles, skipped = _read(folder)
    assert "after" in {a.id for a in articles}
    [record_skip] = [s for s in skipped if s.origin == str(path)]
    assert record_skip.line == 1 and "surrogate" in record_skip.reason and repr(field) in record_skip.reason


# ---------------------------------------------------------------- JSON lines of the wrong shape

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
field_values = st.one_of(json_values, st.text(max_size=40), arabic_text)
KEYS = ("id", "title", "text", "url", "source", "published", "category", "author", "summary")


@FUZZ
@given(
    records=st.lists(
        st.one_of(
            st.dictionaries(st.sampled_from(KEYS), field_values, max_size=len(KEYS)),
            st.fixed_dictionaries({"id": st.integers() | st.text(max_size=10), "title": field_values, "text": field_values}),
            json_values,
        ),
        min_size=1,
        max_size=15,
    )
)
def test_jsonl_lines_with_wrong_types_are_skipped_one_by_one(tmp_path: Path, records: list[object]) -> None:
    folder = _folder(tmp_path)
    for n, record in enumerate(records):
        if isinstance(record, dict) and isinstance(record.get("id"), (str, int)) and not isinstance(record.get("id"), bool):
            record["id"] = f"r{n}-{record['id']}"  # unique ids: duplicates are a separate, fatal error
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    path = folder / "shapes.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    articles, skipped = _read(folder)
    _jsonl_lines_accounted(path, lines, articles, skipped)
    read = {int(a.origin.rsplit(":", 1)[1]): a for a in articles if a.origin.startswith(f"{path}:")}
    for n, record in enumerate(records, start=1):
        valid = (
            isinstance(record, dict)
            and all(k in record for k in ("id", "title", "text"))
            and all(isinstance(record[k], str) for k in ("title", "text"))
            and (isinstance(record["id"], str) or type(record["id"]) is int)
            and all(record.get(k) is None or isinstance(record[k], str) for k in KEYS[3:])
        )
        if not valid:
            assert n not in read, record
        elif _BLANKS.sub("", record["text"]) and str(record["id"]).strip():
            assert read[n].id == str(record["id"]).strip() and read[n].site == (record.get("source") or None)


def test_odd_json_that_once_crashed_or_misread(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    lines = [
        b"\xef\xbb\xbf" + json.dumps({"id": "bom", "title": "t", "text": "x"}).encode(),  # byte order mark before line 1
        json.dumps({"id": None, "title": "t", "text": "x"}).encode(),
        json.dumps({"id": "a", "title": None, "text": "x"}).encode(),
        json.dumps({"id": "b", "title": "t", "text": None}).encode(),
        json.dumps({"id": True, "title": "t", "text": "x"}).encode(),
        b"[" * 100_000,
        b'{"id": ' + b"9" * 5000 + b', "title": "t", "text": "x"}',
        json.dumps({"id": "c", "title": "t", "text": "x", "published": 1519000000}).encode(),
    ]
    path = folder / "odd.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    articles, skipped = _read(folder)
    assert [a.id for a in articles if a.origin.startswith(str(path))] == ["bom"]
    assert [(s.line, s.reason) for s in skipped] == [
        (2, "field 'id' must be a string, got null"),
        (3, "field 'title' must be a string, got null"),
        (4, "field 'text' must be a string, got null"),
        (5, "field 'id' must be a string, got bool"),
        (6, "not valid JSON (nested too deeply)"),
        (7, "not valid JSON (a number too long to read)"),
        (8, "field 'published' must be a string, got int"),
    ]


# ---------------------------------------------------------------- empty and oddly named files

EMPTY_AND_UNREADABLE = [
    ("empty.txt", b"", "empty article"),
    ("empty.md", b"\n \n\t\n", "empty article"),
    ("empty.jsonl", b"", "empty file"),
    ("blank.jsonl", b"\n  \n\r\n", "empty file"),
    ("empty.jsonl.gz", gzip.compress(b""), "empty file"),
    ("zero.jsonl.gz", b"", "empty file"),
    ("notgzip.jsonl.gz", b"plain text", "cannot read the file"),
    ("utf16.txt", "خبر – موقع\n\nنص.".encode("utf-16"), "UTF-16"),
    ("utf16.jsonl", json.dumps(GOOD_JSON, ensure_ascii=False).encode("utf-16"), "UTF-16"),
    ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
]


@pytest.mark.parametrize(("name", "data", "reason"), EMPTY_AND_UNREADABLE, ids=[case[0] for case in EMPTY_AND_UNREADABLE])
def test_empty_and_unreadable_files_get_one_message_each(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    folder = _folder(tmp_path)
    (folder / name).write_bytes(data)
    articles, skipped = _read(folder)
    assert {a.id for a in articles} == {"good", "good-json"}
    [record] = skipped
    assert record.origin == str(folder / name) and reason in record.reason


def test_a_file_name_that_is_not_utf8_is_skipped_by_name(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    bad = os.path.join(os.fsencode(folder), b"\xc7\xe1\xce\xc8\xd1.txt")  # "الخبر" in cp1256
    with open(bad, "wb") as stream:
        stream.write(GOOD_TXT.encode("utf-8"))
    articles, skipped = _read(folder)
    assert {a.id for a in articles} == {"good", "good-json"}
    [record] = skipped
    assert "file name is not valid UTF-8" in record.reason and "\ufffd" in record.origin


def test_streaming_reports_each_skip_as_it_goes(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "z.jsonl").write_bytes(b"{bad\n" + json.dumps({**GOOD_JSON, "id": "z"}).encode() + b"\n")
    seen: list[Skipped] = []
    ids = [a.id for a in iter_articles([folder], on_skip=seen.append)]
    assert ids == ["good-json", "good", "z"] and [(Path(s.origin).name, s.line) for s in seen] == [("z.jsonl", 1)]


# ---------------------------------------------------------------- the walk over source folders

name_part = st.sampled_from(["a", "b", ".h", "news", "x.y", ".git", "Sub"])
file_suffix = st.sampled_from(["", ".txt", ".TXT", ".md", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".gz", ".csv"])


@FUZZ
@given(tree=st.lists(st.tuples(st.lists(name_part, max_size=3), name_part, file_suffix), max_size=12))
def test_the_walk_yields_exactly_the_visible_source_files_and_each_is_read_or_skipped(
    tmp_path: Path, tree: list[tuple[list[str], str, str]]
) -> None:
    folder = _folder(tmp_path)
    written: set[Path] = {folder / "good.txt", folder / "good.jsonl"}
    for parts, stem, suffix in tree:
        path = folder.joinpath(*parts, stem + suffix)
        if any(p.exists() and not p.is_dir() for p in [path, *path.parents]) or path in written or path.is_dir():
            continue  # a name already taken by a file or a folder
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        written.add(path)
    expected = sorted(
        p for p in written
        if p.name.lower().endswith(SOURCE_SUFFIXES) and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    walked = list(iter_source_files([folder]))
    assert walked == expected
    articles, skipped = _read(folder)
    assert all(_accounted(path, articles, skipped) for path in walked)
    assert {Path(s.origin) for s in skipped} <= set(walked)


# ---------------------------------------------------------------- one 50 MB article

def test_a_50_mb_article_is_read_whole_beside_a_good_one(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    paragraph = "قال المتحدث باسم الحكومة إن الاجتماع سيعقد يوم الأحد المقبل في القاهرة بحضور الوزراء. " * 20
    paragraphs = [f"{n} {paragraph.strip()}" for n in range(50 * 2**20 // len(paragraph.encode()) + 1)]
    body = "\n".join(paragraphs)
    assert len(body.encode()) >= 50 * 2**20
    (folder / "big.jsonl").write_text(json.dumps({"id": "big", "title": "خبر طويل", "text": body}, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "big-text.txt").write_text("خبر طويل – موقع\n\n" + body.replace("\n", "\n\n") + "\n", encoding="utf-8")
    started = time.perf_counter()
    articles, skipped = _read(folder)
    seconds = time.perf_counter() - started
    by_id = {a.id: a for a in articles}
    assert skipped == []
    assert by_id["big"].text == body
    assert (by_id["big-text"].title, by_id["big-text"].site) == ("خبر طويل", "موقع")
    assert by_id["big-text"].paragraphs == paragraphs
    assert seconds < 60, seconds


# ---------------------------------------------------------------- end to end: qa build over good and bad files

def _qa(*args: str) -> subprocess.CompletedProcess[str]:
    qa_bin = Path(sys.executable).with_name("qa")
    return subprocess.run([str(qa_bin), *args], capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.slow
def test_qa_build_indexes_the_good_files_and_lists_the_bad_ones(tmp_path: Path, embedder: Embedder) -> None:

    sources = tmp_path / "in"
    sources.mkdir()
    (sources / "good.txt").write_text(GOOD_TXT, encoding="utf-8")
    odd = {"id": "odd", "title": "عنوان\u202e مقلوب\u0007", "text": "فقرة\u200f فيها\u2066 علامات اتجاه\u2069.\x0b\u2028سطر\x00 آخر.", "source": "bbc"}
    lines = [
        json.dumps(odd, ensure_ascii=False).encode(),
        "{\"id\": \"cp\", \"title\": \"ت\", \"text\": \"نص\"}".encode("cp1256"),
        b'{"id": "sur", "title": "t", "text": "\\ud83d"}',
        b"[" * 50_000,
    ]
    (sources / "news.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (sources / "cp1256.txt").write_bytes("خبر قديم – موقع\n\nنص.".encode("cp1256"))
    (sources / "image.md").write_bytes(bytes(range(256)) * 2)
    (sources / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    out = tmp_path / "vectors"
    result = _qa("build", str(sources), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["articles"] == 2
    assert sorted(summary["skipped"]) == [
        f"{sources / 'cp1256.txt'}: not UTF-8 (invalid byte at offset 0); convert it, e.g. iconv -f cp1256 -t utf-8",
        f"{sources / 'empty.jsonl.gz'}: empty file: no JSON lines",
        f"{sources / 'image.md'}: binary file (contains NUL bytes), not a text article",
        f"{sources / 'news.jsonl'}:2: not UTF-8 (invalid byte at offset 23)",
        f"{sources / 'news.jsonl'}:3: field 'text' holds an unpaired surrogate escape (\\ud800-\\udfff), which is not text",
        f"{sources / 'news.jsonl'}:4: not valid JSON (nested too deeply)",
    ]
    with qa.Retriever.load(out, embedder=embedder) as retriever:
        article = retriever.article("odd")
        hits = retriever.search("متى سيعقد الاجتماع؟", k=2)
    assert article is not None and "علامات اتجاه" in article.text
    assert hits and hits[0].article_id == "good"


@pytest.mark.slow
def test_a_build_beside_a_file_name_that_is_not_utf8_skips_it(tmp_path: Path, embedder: Embedder) -> None:
    sources = tmp_path / "in"
    sources.mkdir()
    (sources / "good.txt").write_text(GOOD_TXT, encoding="utf-8")
    with open(os.path.join(os.fsencode(sources), b"\xc7\xe1\xce\xc8\xd1.txt"), "wb") as stream:
        stream.write(GOOD_TXT.encode("utf-8"))
    report = qa.build_index([sources], tmp_path / "vectors", embedder=embedder)
    assert report.articles == 1 and ["file name is not valid UTF-8" in s.reason for s in report.skipped] == [True]
