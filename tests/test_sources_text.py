"""Pages, feeds and tables read offline: qa.text.html, qa.text.feeds, qa.text.tabular."""

from __future__ import annotations

import codecs
import re
import statistics
from collections import Counter
from pathlib import Path

import pytest

from qa.errors import InputError, SettingsError
from qa.records import Skipped
from qa.text.feeds import looks_like_feed, parse_feed
from qa.text.html import extract_page, published_time, sniff_encoding
from qa.text.tabular import FIELDS, iter_table, parse_columns
from tests.news_pages import load_articles, pages, render_atom, render_rss

_WORD = re.compile(r"\w+")


def _f1(found: str, expected: str) -> float:
    a, b = Counter(_WORD.findall(found)), Counter(_WORD.findall(expected))
    overlap = sum((a & b).values())
    return 0.0 if not overlap else 2 * overlap / (sum(a.values()) + sum(b.values()))


@pytest.fixture(scope="module")
def rendered(ant: Path):
    return list(pages(load_articles(40, path=ant), base_url="http://news.test"))


def test_pages_are_read_without_their_furniture_in_every_encoding_and_layout(rendered) -> None:
    f1s = []
    for page in rendered:
        found = extract_page(page.body, content_type=page.content_type)
        f1s.append(_f1(found.text, page.article.text))
        assert found.title == " ".join(page.article.title.split())
        assert found.published == page.article.published
        assert "اقرأ أيضا" not in found.text and "جميع الحقوق محفوظة" not in found.text and "googletag" not in found.text
    assert statistics.median(f1s) >= 0.95 and min(f1s) >= 0.75
    assert {p.encoding for p in rendered} == {"utf-8", "windows-1256", "iso-8859-6"}
    assert any(p.date_in_meta_only for p in rendered)


def test_windows_1256_is_found_in_the_header_the_meta_or_by_detection(rendered) -> None:
    arabic = rendered[0].article.title + " " + rendered[0].article.text[:2000]
    raw = f"<html><head><title>{arabic[:60]}</title></head><body><p>{arabic}</p></body></html>".encode("cp1256", "xmlcharrefreplace")
    assert sniff_encoding(raw, "text/html; charset=windows-1256") == "cp1256"
    assert sniff_encoding(b'<meta charset="windows-1256">' + raw) == "cp1256"
    assert sniff_encoding(raw) == "cp1256"
    assert sniff_encoding(raw, "text/html; charset=utf-8") == "cp1256"  # the bytes contradict the header
    assert sniff_encoding(codecs.BOM_UTF8 + "نص".encode(), "text/html; charset=windows-1256") == "utf-8"
    iso = arabic.encode("iso8859_6", "xmlcharrefreplace")
    assert sniff_encoding(iso, "text/html; charset=ISO-8859-6") == "iso8859-6"


def test_the_date_is_read_from_meta_tags_and_json_ld() -> None:
    assert published_time('<meta content="2018-05-06T06:21:15+00:00" property="article:published_time">') == "2018-05-06T06:21:15+00:00"
    assert published_time('<script type="application/ld+json">{"datePublished": "2018-02-01"}</script>') == "2018-02-01"
    assert published_time('<meta name="date" content="yesterday">') is None


def test_a_page_without_text_is_refused() -> None:
    with pytest.raises(InputError, match="no article text"):
        extract_page(b"<html><body><nav><a href='/'>home</a></nav></body></html>", url="http://x.test/empty")


def test_rss_and_atom_feeds_give_their_items(rendered) -> None:
    articles = [p.article for p in rendered[:5]]
    items = [(a, f"http://news.test/{i}") for i, a in enumerate(articles)]
    for raw in (render_rss("أخبار", "http://news.test", items), render_atom("أخبار", "http://news.test", items),
                render_rss("أخبار", "http://news.test", items, encoding="windows-1256")):
        assert looks_like_feed(raw)
        feed = parse_feed(raw)
        assert [i.link for i in feed.items] == [u for _, u in items]
        assert feed.items[0].title == articles[0].title and feed.items[0].published[:10] == articles[0].published[:10]
        assert feed.problem is None


def test_a_truncated_feed_gives_the_items_before_the_cut_and_says_why(rendered) -> None:
    raw = render_rss("t", "http://news.test", [(p.article, f"http://news.test/{i}") for i, p in enumerate(rendered[:6])])
    cut = raw[: raw.index(b"<item>", raw.index(b"<item>", raw.index(b"<item>") + 1) + 1) + 40]
    feed = parse_feed(cut)
    assert len(feed.items) >= 2 and feed.problem
    with pytest.raises(InputError, match="not an RSS or Atom feed|malformed"):
        parse_feed(b"<html><body>not a feed</body></html>")


def _skips() -> tuple[list[Skipped], object]:
    found: list[Skipped] = []
    return found, lambda origin, line, reason: found.append(Skipped(origin, line, reason))


def test_csv_with_a_bom_quotes_newlines_and_odd_columns_is_mapped(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        "\ufeffHeadline;Body Text;Date;Link;extra\n"
        '"عنوان ""مقتبس""";"فقرة أولى، مع فاصلة\nفقرة ثانية";2018-02-01;http://x.test/1;z\n'
        'بلا نص;;2018-02-02;http://x.test/2;z\n'
        'ثالث;نص ثالث;;;z\n'.encode("utf-8")
    )
    columns = parse_columns("title=Headline,text=Body Text,published=Date,url=Link")
    skipped, skip = _skips()
    articles = list(iter_table(path, columns, skip))
    assert [a.title for a in articles] == ['عنوان "مقتبس"', "ثالث"]
    assert articles[0].text == "فقرة أولى، مع فاصلة\nفقرة ثانية" and articles[0].published == "2018-02-01"
    assert articles[0].url == "http://x.test/1" and articles[1].url is None
    assert [(s.line, "empty text" in s.reason) for s in skipped] == [(4, True)]
    assert articles == list(iter_table(path, columns, skip))  # ids are stable across reads


def test_tsv_and_parquet_use_the_default_columns(tmp_path: Path) -> None:
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    tsv = tmp_path / "news.tsv"
    tsv.write_text("id\ttitle\ttext\tsource\n7\tعنوان\tنص الخبر\tbbc\n", encoding="utf-8")
    skipped, skip = _skips()
    (article,) = iter_table(tsv, parse_columns(None), skip)
    assert (article.id, article.site, article.text) == ("7", "bbc", "نص الخبر")
    table = pa.table({"id": [1, 2], "title": ["أ", "ب"], "text": ["نص أ", None],
                      "published": [datetime.datetime(2018, 3, 1, 12), None], "category": ["sport", "culture"]})
    pq.write_table(table, tmp_path / "news.parquet")
    (first,) = iter_table(tmp_path / "news.parquet", parse_columns(None), skip)
    assert (first.id, first.published, first.category) == ("1", "2018-03-01T12:00:00", "sport")
    assert [s.line for s in skipped] == [2]


def test_a_table_without_its_text_column_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("headline,body\na,b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no column for text.*'headline', 'body'.*--columns"):
        list(iter_table(path, parse_columns(None), lambda *a: None))
    with pytest.raises(InputError, match="not a readable Parquet"):
        (tmp_path / "bad.parquet").write_bytes(b"PAR1 nonsense")
        list(iter_table(tmp_path / "bad.parquet", parse_columns(None), lambda *a: None))


@pytest.mark.parametrize(("spec", "message"), [("titel=h", "must be one of " + ", ".join(FIELDS)), ("title", "FIELD=COLUMN"), ("text=", "FIELD=COLUMN")])
def test_a_bad_column_mapping_is_refused(spec: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        parse_columns(spec)


@pytest.mark.parametrize("raw", [b"", b"<", b"\x00\xff" * 500, b"<html><body>" + bytes(range(256)) * 4 + b"</body>", b"<?xml version='1.0'?><rss>"])
def test_garbage_is_refused_with_an_input_error(raw: bytes) -> None:
    with pytest.raises(InputError):
        extract_page(raw)
    with pytest.raises(InputError):
        parse_feed(raw)


def test_relative_item_links_resolve_against_the_feeds_url() -> None:
    raw = b'<rss version="2.0"><channel><title>t</title><item><title>a</title><link>/news/1.html</link></item></channel></rss>'
    assert parse_feed(raw, url="http://news.test/feeds/rss.xml").items[0].link == "http://news.test/news/1.html"
