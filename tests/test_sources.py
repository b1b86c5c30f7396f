"""qa.sources against a real HTTP server on 127.0.0.1: feeds, their pages, failures, dedupe, the spool, folders."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qa.errors import InputError
from qa.fetch import Fetcher, FetchLimits
from qa.ingest import read_articles
from qa.sources import Collector, Spool, canonical_url, is_native
from tests.news_pages import load_articles, pages, render_atom, render_rss
from tests.news_server import NewsServer, Route


@pytest.fixture(scope="module")
def articles(ant: Path):
    return load_articles(30, path=ant, seed=5)


@pytest.fixture()
def site(articles):
    """A news site: 30 pages, an RSS feed of the first 10 (one through a redirect), an Atom feed of 10 more."""
    with NewsServer() as server:
        for i, page in enumerate(pages(articles, base_url=server.url)):
            server.routes[f"/news/{i}.html"] = Route(page.body, page.content_type)
        links = [(a, f"{server.url}/news/{i}.html") for i, a in enumerate(articles[:10])]
        links[3] = (articles[3], f"{server.url}/go/3")
        server.routes["/go/3"] = Route(redirect="/news/3.html")
        server.routes["/rss"] = Route(render_rss("أخبار", server.url, links), "application/rss+xml; charset=utf-8")
        server.routes["/atom"] = Route(render_atom("أخبار", server.url, [(a, f"{server.url}/news/{i}.html?utm_source=rss")
                                                                         for i, a in enumerate(articles) if 10 <= i < 20]),
                                       "application/atom+xml")
        yield server


def _prepare(collector: Collector, sources: list[str], **limits: float):
    with Fetcher(FetchLimits(**limits)) as fetcher:
        return collector.prepare(sources, fetcher)


def test_feed_items_become_articles_from_their_pages(site: NewsServer, articles, tmp_path: Path) -> None:
    collector = Collector(Spool(tmp_path / "spool"))
    prepared = _prepare(collector, [site.url + "/rss", site.url + "/atom"])
    assert [(r.new, r.failed, r.error) for r in prepared.reports] == [(10, (), None), (10, (), None)]
    read, skipped = read_articles(prepared.paths)
    assert not skipped and len(read) == 20
    by_title = {a.title: a for a in read}
    for article in articles[:20]:
        found = by_title[" ".join(article.title.split())]
        assert found.text.split("\n")[0] == article.text.split("\n")[0].strip()
        assert found.published == article.published and found.summary
        assert found.url.startswith(site.url + "/news/") and "utm_source" not in found.url


def test_an_unchanged_round_asks_conditionally_and_fetches_no_page(site: NewsServer, tmp_path: Path) -> None:
    collector = Collector(Spool(tmp_path / "spool"))
    first = _prepare(collector, [site.url + "/rss", site.url + "/atom"])
    stamps = {p: Path(p).stat().st_mtime_ns for p in first.paths}
    hits = dict(site.hits)
    cpu = time.process_time()
    again = _prepare(collector, [site.url + "/rss", site.url + "/atom"])
    assert time.process_time() - cpu < 0.5
    assert [(r.new, r.unchanged, r.not_modified) for r in again.reports] == [(0, 10, True), (0, 10, True)]
    assert {k: v - hits.get(k, 0) for k, v in site.hits.items() if v != hits.get(k, 0)} == {"/rss": 1, "/atom": 1}
    assert {p: Path(p).stat().st_mtime_ns for p in again.paths} == stamps
    # A spool opened afresh (the next `qa watch`) knows the same articles and validators.
    reopened = _prepare(Collector(Spool(tmp_path / "spool")), [site.url + "/rss"])
    assert reopened.reports[0].not_modified


def test_new_items_are_added_and_old_ones_kept_when_the_feed_moves_on(site: NewsServer, articles, tmp_path: Path) -> None:
    collector = Collector(Spool(tmp_path / "spool"))
    _prepare(collector, [site.url + "/rss"])
    site.routes["/rss"] = Route(render_rss("أخبار", site.url, [(a, f"{site.url}/news/{i}.html") for i, a in enumerate(articles) if 5 <= i < 25]),
                                "application/rss+xml")
    prepared = _prepare(collector, [site.url + "/rss"])
    assert (prepared.reports[0].new, prepared.reports[0].unchanged) == (15, 5)
    assert len(read_articles(prepared.paths)[0]) == 25


def test_failures_are_reported_and_skipped_and_the_rest_goes_on(site: NewsServer, articles, tmp_path: Path) -> None:
    site.routes["/news/1.html"] = Route(b"server error", status=500)
    site.routes["/news/2.html"] = Route(b"late", delay_s=1.5)
    site.routes["/news/4.html"] = Route(b"<html>" + b"x" * (20 * 1024 * 1024))
    site.routes["/broken"] = Route(b"oops", status=500)
    full = render_rss("t", site.url, [(a, f"{site.url}/news/{i}.html") for i, a in enumerate(articles) if 20 <= i < 26])
    site.routes["/cut"] = Route(full[: full.index(b"</item>", full.index(b"</item>") + 1) + 200], "application/rss+xml")
    collector = Collector(Spool(tmp_path / "spool"))
    prepared = _prepare(collector, [site.url + "/rss", site.url + "/broken", site.url + "/cut"], timeout_s=0.8)
    rss, broken, cut = prepared.reports
    assert rss.new == 7 and sorted(s.origin.rsplit("/", 1)[-1] for s in rss.failed) == ["1.html", "2.html", "4.html"]
    reasons = " ".join(s.reason for s in rss.failed)
    assert "HTTP 500" in reasons and "within 0.8 s" in reasons and "bytes a page may have" in reasons
    assert broken.error == "HTTP 500 Internal Server Error" and "failed (HTTP 500" in str(broken)
    assert cut.new >= 2 and "partly readable" in str(cut)
    # The failed items are asked for again next round; the others are not fetched again.
    site.routes["/news/1.html"] = Route(next(p for i, p in enumerate(pages(articles, base_url=site.url)) if i == 1).body)
    again = _prepare(collector, [site.url + "/rss"], timeout_s=0.8)
    assert again.reports[0].new == 1 and again.reports[0].unchanged == 7 and len(again.reports[0].failed) == 2


def test_one_story_at_two_urls_or_with_tracking_parameters_is_kept_once(site: NewsServer, articles, tmp_path: Path) -> None:
    site.routes["/copy/7"] = Route(site.routes["/news/7.html"].body.replace(b"/news/7.html", b"/copy/7"), site.routes["/news/7.html"].content_type)
    site.routes["/dupes"] = Route(render_rss("t", site.url, [(articles[7], f"{site.url}/copy/7"), (articles[0], f"{site.url}/news/0.html?utm_medium=x#top")]),
                                  "application/rss+xml")
    collector = Collector(Spool(tmp_path / "spool"))
    prepared = _prepare(collector, [site.url + "/rss", site.url + "/dupes"])
    assert (prepared.reports[1].new, prepared.reports[1].duplicates, prepared.reports[1].unchanged) == (0, 1, 1)
    assert len(read_articles(prepared.paths)[0]) == 10
    hits = site.hits["/copy/7"]
    _prepare(collector, [site.url + "/dupes"])
    assert site.hits["/copy/7"] == hits  # a known duplicate is not fetched again
    assert canonical_url("HTTP://News.Test:80/a?utm_source=x&id=3#c") == "http://news.test/a?id=3"


def test_a_single_page_url_and_a_folder_of_saved_pages_and_tables(site: NewsServer, articles, tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    (folder / "sub").mkdir(parents=True)
    rendered = list(pages(articles[20:24]))
    for i, page in enumerate(rendered):
        (folder / ("sub" if i % 2 else "") / f"{i}.html").write_bytes(page.body)
    (folder / "note.txt").write_text("عنوان – موقع\nنص المقال هنا.\n", encoding="utf-8")
    (folder / "rows.csv").write_text("title,text\nصف,نص الصف الأول\n", encoding="utf-8")
    (folder / ".hidden.html").write_bytes(rendered[0].body)
    collector = Collector(Spool(tmp_path / "spool"))
    prepared = _prepare(collector, [str(folder), site.url + "/news/29.html"])
    assert [(r.new, r.failed) for r in prepared.reports] == [(5, ()), (1, ())]
    assert prepared.paths[0] == str(folder) and len(prepared.paths) == 3
    read, _ = read_articles(prepared.paths)
    assert len(read) == 7 and {"0.html", "sub/1.html", "note"} <= {a.id for a in read}
    windows = next(a for a in read if a.id == "0.html")  # page 0 is windows-1256, declared in its <meta>
    assert windows.title == " ".join(articles[20].title.split())
    # Unchanged files are not read again; a changed one is.
    assert _prepare(collector, [str(folder)]).reports[0].new == 0
    (folder / "rows.csv").write_text("title,text\nصف,نص الصف الأول\nآخر,نص صف آخر\n", encoding="utf-8")
    assert _prepare(collector, [str(folder)]).reports[0].new == 1


def test_sources_that_do_not_exist_or_are_not_feeds_say_so(site: NewsServer, tmp_path: Path) -> None:
    collector = Collector(Spool(tmp_path / "spool"))
    with pytest.raises(InputError, match="no such file"):
        _prepare(collector, [str(tmp_path / "missing.csv")])
    odd = tmp_path / "data.bin"
    odd.write_bytes(b"\x00\x01")
    prepared = _prepare(collector, [str(odd), "ftp://example.org/feed"])
    assert "cannot tell what kind" in str(prepared.reports[0]) and "only http and https" in str(prepared.reports[1])
    assert is_native(tmp_path) and is_native("a.jsonl.gz") and not is_native("a.csv") and not is_native("http://x/a.txt")


def test_a_feed_that_carries_the_whole_story_stands_in_for_a_page_that_fails(site: NewsServer, articles, tmp_path: Path) -> None:
    story = articles[12].text.replace("\n", "</p><p>")
    site.routes["/full"] = Route(
        ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
         f"<channel><title>t</title><item><title>{articles[12].title}</title><link>{site.url}/gone</link>"
         f"<content:encoded><![CDATA[<p>{story}</p>]]></content:encoded></item>"
         f"<item><title>teaser</title><link>{site.url}/gone2</link><description>سطر واحد</description></item></channel></rss>").encode(),
        "application/rss+xml")
    prepared = _prepare(Collector(Spool(tmp_path / "spool")), [site.url + "/full"])
    report = prepared.reports[0]
    assert report.new == 1 and [s.origin for s in report.failed] == [site.url + "/gone2"]
    (article,) = read_articles(prepared.paths)[0]
    assert article.text.split("\n")[0] == articles[12].text.split("\n")[0].strip() and article.url == site.url + "/gone"
