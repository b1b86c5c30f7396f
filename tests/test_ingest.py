from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from qa.errors import DuplicateArticleError, InputError
from qa.ingest import SOURCE_SUFFIXES, iter_articles, iter_source_files, parse_text_article, read_articles


def test_seed_article_is_parsed(seed_file: Path) -> None:
    articles, skipped = read_articles([seed_file])
    assert skipped == []
    [article] = articles
    assert article.id == seed_file.stem
    assert article.title == "أولوند يقصد روسيا أملا في تحقيق تقدم بشأن سوريا"
    assert article.site == "مصدر24"
    assert article.agency == "رويترز"
    assert article.origin == str(seed_file)
    assert article.published is None
    assert article.paragraphs[0].startswith("يقصد الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس")
    # The repeated headline, the source line and stray lines are not body text.
    assert all(p != article.title for p in article.paragraphs)
    assert "المصدر" not in article.text
    assert all(p.strip() not in ("'", "") for p in article.paragraphs)
    assert "\u00a0" not in article.text


def test_an_article_read_from_a_folder_is_the_file_read_alone(seed_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "sub" / seed_file.name
    copy.parent.mkdir()
    copy.write_bytes(seed_file.read_bytes())
    [alone], _ = read_articles([seed_file])
    [in_folder], skipped = read_articles([tmp_path])
    assert skipped == [] and in_folder.id == f"sub/{seed_file.stem}" and in_folder.origin == str(copy)
    fields = ("title", "text", "site", "agency", "published", "summary")
    assert [getattr(in_folder, f) for f in fields] == [getattr(alone, f) for f in fields]


def test_markdown_heading_and_no_site() -> None:
    article = parse_text_article("# عنوان الخبر\n\nالفقرة الأولى.\n\nالفقرة الثانية.\n", article_id="x", origin="x.md")
    assert article is not None
    assert (article.title, article.site, article.paragraphs) == ("عنوان الخبر", None, ["الفقرة الأولى.", "الفقرة الثانية."])


def test_folder_is_read_recursively_with_relative_ids(tmp_path: Path, seed_file: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "one.txt").write_bytes(seed_file.read_bytes())
    (tmp_path / "two.md").write_text("# Title\n\nBody text.", encoding="utf-8")
    (tmp_path / "notes.csv").write_text("ignored", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_text("hidden", encoding="utf-8")
    articles, skipped = read_articles([tmp_path])
    assert [a.id for a in articles] == ["a/b/one", "two"]
    assert skipped == []


def test_bad_files_are_skipped_with_a_message_and_the_rest_is_read(tmp_path: Path, seed_file: Path) -> None:
    (tmp_path / "good.txt").write_bytes(seed_file.read_bytes())
    (tmp_path / "cp1256.txt").write_bytes("مرحبا بالعالم".encode("cp1256"))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes("\u00a0\n'\n \n".encode())
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    articles, skipped = read_articles([tmp_path])
    assert [a.id for a in articles] == ["good"]
    reasons = {Path(s.origin).name: s.reason for s in skipped}
    assert "not UTF-8" in reasons["cp1256.txt"] and "iconv" in reasons["cp1256.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "empty" in reasons["blank.txt"]
    assert "binary" in reasons["binary.txt"]


def test_strict_stops_at_the_first_bad_file(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(InputError, match="bad.txt: not UTF-8"):
        read_articles([tmp_path], strict=True)


def _jsonl(path: Path, lines: list[str], gz: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


GOOD = {"id": "n1", "title": "عنوان", "text": "نص الخبر.\nفقرة ثانية.", "source": "bbc", "published": "2018-03-01T10:00:00+00:00", "category": "world"}


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_lines_and_their_errors(tmp_path: Path, gz: bool) -> None:
    path = _jsonl(
        tmp_path / ("news.jsonl.gz" if gz else "news.jsonl"),
        [
            json.dumps(GOOD, ensure_ascii=False),
            "{not json",
            json.dumps({"id": "n2", "title": "t"}),
            json.dumps({"id": "n3", "title": "t", "text": 5}),
            json.dumps(["a list"]),
            json.dumps({**GOOD, "id": "n4"}, ensure_ascii=False),
        ],
        gz=gz,
    )
    articles, skipped = read_articles([path])
    assert [a.id for a in articles] == ["n1", "n4"]
    first = articles[0]
    assert (first.site, first.published, first.category, first.paragraphs) == ("bbc", GOOD["published"], "world", ["نص الخبر.", "فقرة ثانية."])
    assert first.origin == f"{path}:1"
    assert [(s.line, s.reason.split(" (")[0]) for s in skipped] == [
        (2, "not valid JSON"),
        (3, "missing required field(s) text; each line needs id, title and text"),
        (4, "field 'text' must be a string, got int"),
        (5, "expected a JSON object, got list"),
    ]
    assert str(skipped[0]).startswith(f"{path}:2: ")


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(json.dumps({**GOOD, "id": f"n{i}"}) for i in range(200)) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    articles, skipped = read_articles([path])
    assert len(skipped) == 1 and "cannot read" in skipped[0].reason
    assert 0 < len(articles) < 200


def test_duplicate_ids_name_both_origins(tmp_path: Path) -> None:
    a = _jsonl(tmp_path / "a.jsonl", [json.dumps(GOOD)])
    b = _jsonl(tmp_path / "b.jsonl", [json.dumps(GOOD)])
    with pytest.raises(DuplicateArticleError) as error:
        list(iter_articles([a, b]))
    assert f"{a}:1" in str(error.value) and f"{b}:1" in str(error.value)


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        read_articles([tmp_path / "nope"])


def test_ant_corpus_schema_is_read(ant: Path) -> None:
    articles = []
    for article in iter_articles([ant]):
        articles.append(article)
        if len(articles) == 50:
            break
    assert all(a.title and a.text and a.published and a.site for a in articles)


# ---------------------------------------------------------------- the walk over source folders

def _touch(path: Path, content: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def test_a_folder_yields_its_source_files_sorted_and_recursively(tmp_path: Path) -> None:
    names = ["b.txt", "a.md", "sub/c.jsonl", "sub/d.ndjson", "sub/deeper/e.jsonl.gz", "f.ndjson.gz", "G.TXT"]
    for name in names:
        _touch(tmp_path / name)
    assert list(iter_source_files([tmp_path])) == sorted(tmp_path / name for name in names)
    assert all(p.name.lower().endswith(SOURCE_SUFFIXES) for p in iter_source_files([tmp_path]))


def test_hidden_entries_and_other_suffixes_are_left_out(tmp_path: Path) -> None:
    kept = _touch(tmp_path / "kept.txt")
    for name in [".hidden.txt", ".git/objects/a.txt", "sub/.cache/b.jsonl", "notes.pdf", "data.json", "x.gz", "README"]:
        _touch(tmp_path / name)
    assert list(iter_source_files([tmp_path])) == [kept]


def test_a_hidden_folder_given_as_the_source_is_walked(tmp_path: Path) -> None:
    """Only names below the source count: a checkout under ~/.local still reads."""
    article = _touch(tmp_path / ".local" / "news" / "a.txt")
    assert list(iter_source_files([tmp_path / ".local"])) == [article]


def test_a_file_source_is_yielded_as_given_and_a_missing_one_not_at_all(tmp_path: Path) -> None:
    odd = _touch(tmp_path / "odd.pdf")
    folder_file = _touch(tmp_path / "in" / "a.txt")
    assert list(iter_source_files([odd, tmp_path / "missing", str(tmp_path / "in")])) == [odd, folder_file]


def test_linked_files_are_followed_linked_folders_and_dangling_links_are_not(tmp_path: Path) -> None:
    outside = _touch(tmp_path / "outside" / "linked.txt")
    other = _touch(tmp_path / "other" / "inner.txt")
    folder = tmp_path / "in"
    own = _touch(folder / "own.txt")
    (folder / "linked.txt").symlink_to(outside)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "elsewhere").symlink_to(other.parent, target_is_directory=True)
    (folder / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    assert list(iter_source_files([folder])) == [folder / "linked.txt", own]


def test_iter_articles_reads_exactly_the_files_the_walk_yields(tmp_path: Path) -> None:
    _touch(tmp_path / "a.txt", "عنوان أ\n\nنص أ.")
    _touch(tmp_path / "sub" / "b.ndjson", json.dumps({**GOOD, "id": "b"}) + "\n")
    with gzip.open(tmp_path / "c.jsonl.gz", "wt", encoding="utf-8") as stream:
        stream.write(json.dumps({**GOOD, "id": "c"}) + "\n")
    _touch(tmp_path / ".hidden" / "d.txt", "عنوان د\n\nنص د.")
    _touch(tmp_path / "e.csv", "id,title,text")
    articles, skipped = read_articles([tmp_path])
    assert skipped == []
    assert {a.origin for a in articles} == {str(tmp_path / "a.txt"), f"{tmp_path / 'c.jsonl.gz'}:1", f"{tmp_path / 'sub' / 'b.ndjson'}:1"}
    assert {a.id for a in articles} == {"a", "b", "c"}
