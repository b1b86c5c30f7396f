"""qa.fetch against a real HTTP server on 127.0.0.1: schemes, redirects, timeouts, size cap, budget, conditional GET."""

from __future__ import annotations

import pytest

from qa.errors import InputError, SettingsError
from qa.fetch import USER_AGENT, FetchError, Fetcher, FetchLimits, check_link, check_url, is_private_host
from tests.news_server import NewsServer, Route


@pytest.fixture()
def server():
    with NewsServer() as running:
        running.routes["/page"] = Route(b"<html><body><p>hello</p></body></html>")
        yield running


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "javascript:alert(1)", "/relative", "http:///nohost"])
def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    with pytest.raises(FetchError):
        check_url(url)
    assert issubclass(FetchError, InputError)


def test_a_page_is_fetched_with_the_projects_user_agent_and_validators(server: NewsServer) -> None:
    with Fetcher() as fetcher:
        page = fetcher.fetch(server.url + "/page")
    assert page.status == 200 and b"hello" in page.body
    assert page.etag and page.last_modified
    assert server.user_agents == {USER_AGENT} and "qa-news" in USER_AGENT


def test_a_conditional_get_of_an_unchanged_page_is_answered_304(server: NewsServer) -> None:
    with Fetcher() as fetcher:
        first = fetcher.fetch(server.url + "/page")
        again = fetcher.fetch(server.url + "/page", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.body == b"" and again.etag == first.etag
    assert server.not_modified["/page"] == 1


def test_redirects_are_followed_up_to_the_limit(server: NewsServer) -> None:
    server.routes["/a"] = Route(redirect="/b")
    server.routes["/b"] = Route(redirect=server.url + "/page")
    with Fetcher(FetchLimits(max_redirects=2)) as fetcher:
        assert fetcher.fetch(server.url + "/a").final_url == server.url + "/page"
    with Fetcher(FetchLimits(max_redirects=1)) as fetcher, pytest.raises(FetchError, match="more than 1 redirects"):
        fetcher.fetch(server.url + "/a")


def test_a_redirect_to_another_scheme_is_refused(server: NewsServer) -> None:
    server.routes["/evil"] = Route(redirect="file:///etc/passwd")
    with Fetcher() as fetcher, pytest.raises(FetchError, match="only http and https"):
        fetcher.fetch(server.url + "/evil")


@pytest.mark.parametrize(("route", "message"), [
    (Route(b"oops", status=500), "HTTP 500"),
    (Route(b"x" * 20 * 1024 * 1024), "bytes a page may have"),
    (Route(b"<rss>" + b"x" * 5000, truncate=100), "RemoteProtocolError|incomplete|peer closed"),
    (Route(b"late", delay_s=1.5), "no answer within"),
])
def test_a_failing_page_raises_one_clear_error(server: NewsServer, route: Route, message: str) -> None:
    server.routes["/bad"] = route
    with Fetcher(FetchLimits(timeout_s=0.5)) as fetcher, pytest.raises(FetchError, match=message):
        fetcher.fetch(server.url + "/bad")


def test_the_time_budget_covers_all_requests_of_a_fetcher(server: NewsServer) -> None:
    server.routes["/slow"] = Route(b"late", delay_s=0.4)
    with Fetcher(FetchLimits(timeout_s=5, budget_s=0.6)) as fetcher:
        fetcher.fetch(server.url + "/slow")
        with pytest.raises(FetchError):
            fetcher.fetch(server.url + "/slow")
            fetcher.fetch(server.url + "/slow")


@pytest.mark.parametrize("field", ["timeout_s", "max_bytes", "budget_s"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(SettingsError, match=field):
        FetchLimits(**{field: 0})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.10", "172.16.5.4", "169.254.169.254",
                                  "[::1]", "0.0.0.0", "fd00::1"])
def test_addresses_of_this_machine_and_its_network_are_private(host: str) -> None:
    assert is_private_host(host)


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "no-such-host.invalid"])
def test_public_addresses_and_unresolvable_names_are_not_private(host: str) -> None:
    assert not is_private_host(host)


def test_a_link_from_a_public_feed_to_a_private_address_is_refused() -> None:
    with pytest.raises(FetchError, match=r"a link from news\.example\.com to a private address \(169\.254\.169\.254\)"):
        check_link("http://169.254.169.254/latest/meta-data/", "https://news.example.com/rss.xml")
    # Within the user's own network, and on the open web, links are followed.
    assert check_link("http://127.0.0.1:8080/story", "http://127.0.0.1:8080/rss.xml")
    assert check_link("https://8.8.8.8/story", "https://news.example.com/rss.xml")


def test_a_private_page_linked_from_a_public_feed_is_refused_before_connecting(server: NewsServer) -> None:
    with Fetcher() as fetcher:
        with pytest.raises(FetchError, match="private address"):
            fetcher.fetch(server.url + "/page", referrer="https://news.example.com/rss.xml")
        # The same page from a feed on this machine (a newsroom's own server) is fetched.
        assert fetcher.fetch(server.url + "/page", referrer=server.url + "/rss.xml").status == 200
    assert server.hits["/page"] == 1  # the refused fetch never reached the server
