"""qa watch and the new qa build sources: rounds, builds, failures that lose nothing, the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qa
from qa.cli import main
from qa.errors import SettingsError
from qa.watch import Watcher, default_spool, parse_duration
from tests.news_pages import load_articles, pages, render_rss
from tests.news_server import NewsServer, Route


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("0.5m", 30)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15 minutes", "-5m", "0", "m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(SettingsError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("argv", "message"), [
    (["watch", "http://127.0.0.1:9/feed", "--every", "soon"], "duration"),
    (["watch", "http://127.0.0.1:9/feed", "--rounds", "-1"], "--rounds"),
    (["watch", "http://127.0.0.1:9/feed", "--timeout", "0"], "timeout_s"),
    (["build", "x.csv", "--columns", "headline"], "FIELD=COLUMN"),
    (["build", "x.csv", "--columns", "body=text"], "must be one of id, title, text"),
])
def test_bad_watch_and_build_options_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.csv").write_text("title,text\na,b\n", encoding="utf-8")
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_spool_sits_beside_the_index() -> None:
    assert default_spool("data/vectors") == Path("data/vectors.sources")


@pytest.fixture()
def site(ant: Path):
    articles = load_articles(16, path=ant, seed=11)
    with NewsServer() as server:
        rendered = list(pages(articles, base_url=server.url))
        for i, page in enumerate(rendered):
            server.routes[f"/news/{i}.html"] = Route(page.body, page.content_type)
        server.articles = articles

        def publish(numbers: range) -> None:
            server.routes["/rss"] = Route(render_rss("t", server.url, [(articles[i], f"{server.url}/news/{i}.html") for i in numbers]),
                                          "application/rss+xml")

        server.publish = publish
        publish(range(0, 5))
        yield server


@pytest.mark.slow
def test_rounds_add_new_items_and_a_failing_source_loses_nothing(site: NewsServer, tmp_path: Path, embedder) -> None:
    out = tmp_path / "vectors"
    watcher = Watcher([site.url + "/rss"], out, embedder=embedder)
    first = watcher.poll()
    assert first.new == 5 and first.build is not None and first.build.articles == 5
    site.publish(range(3, 10))
    second = watcher.poll()
    assert (second.new, second.build.articles, second.build.kept_articles) == (5, 10, 5)
    third = watcher.poll()
    assert third.new == 0 and third.build is None and third.sources[0].not_modified
    site.routes["/rss"] = Route(b"down", status=500)
    fourth = watcher.poll()
    assert fourth.sources[0].error and fourth.build is None
    with qa.Retriever.load(out, embedder=embedder) as retriever:
        title = " ".join(site.articles[8].title.split())
        hits = retriever.search(site.articles[8].text.split("\n")[0][:200], k=3)
        assert hits[0].title == title and hits[0].url == f"{site.url}/news/8.html"


@pytest.mark.slow
def test_qa_build_and_qa_watch_take_urls_tables_and_folders(site: NewsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "export.csv"
    table.write_text('\ufeffheadline,body,day\n"عنوان من الجدول","نص الصف الأول، ""مقتبس""",2018-05-01\n', encoding="utf-8")
    out = tmp_path / "vectors"
    code = main(["build", site.url + "/rss", str(table), site.url + "/missing", "--columns", "title=headline,text=body,published=day",
                 "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["articles"] == 6
    assert "qa build: " + site.url + "/missing: failed (HTTP 404" in captured.err
    site.publish(range(0, 8))
    code = main(["watch", site.url + "/rss", str(table), "--columns", "title=headline,text=body", "--out", str(out),
                 "--every", "0.1", "--rounds", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert f"qa watch: round 1: {site.url}/rss: 3 new, 5 unchanged" in lines
    assert any(line.startswith("qa watch: round 1: indexed 9 articles") for line in lines)
    assert f"qa watch: round 2: {site.url}/rss: 0 new, 8 unchanged (not modified)" in lines
    assert f"qa watch: round 2: {table}: 0 new, 1 unchanged" in lines
