"""Fixtures of the web: ANT articles rendered as news pages with real furniture, and as RSS 2.0 and Atom feeds.

Each page wraps one article in what Arabic news sites put around a story: a navigation bar,
breadcrumbs, share buttons, an inline ad and its script, "اقرأ أيضا" boxes between the
paragraphs, related stories, readers' comments and a footer. Layouts, encodings (UTF-8,
windows-1256 declared in a <meta> or only in the HTTP header, ISO-8859-6) and where the date is
(a visible <time>, or only <meta property="article:published_time">) vary with the page number,
so any slice of pages mixes them. Used by tests/test_sources_*.py and benchmarks/bench_ingest.py.
"""

from __future__ import annotations

import gzip
import html
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime
from pathlib import Path

ANT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "news" / "ant-multisource.jsonl.gz"

SITES = {
    "alarabia": ("العربية.نت", "www.alarabiya.net"),
    "bbc": ("بي بي سي عربي", "www.bbc.com"),
    "cnn": ("سي إن إن بالعربية", "arabic.cnn.com"),
    "france24": ("فرانس 24", "www.france24.com"),
    "skynews": ("سكاي نيوز عربية", "www.skynewsarabia.com"),
}
MENU = ("الرئيسية", "أخبار", "الشرق الأوسط", "العالم", "اقتصاد", "رياضة", "ثقافة", "تكنولوجيا", "فيديو", "آراء")
COMMENTERS = ("أبو محمد", "سارة من الرياض", "خالد", "مواطن عربي", "Ahmed_88", "ام يوسف")


@dataclass(frozen=True)
class NewsArticle:
    """One ANT article as the fixtures use it; `text` has one paragraph a line."""

    id: str
    title: str
    text: str
    url: str
    source: str
    published: str
    category: str
    author: str
    summary: str


@dataclass(frozen=True)
class Page:
    """A rendered page: its bytes, the Content-Type a server sends with it, and what it was made from."""

    body: bytes
    content_type: str
    encoding: str
    date_in_meta_only: bool
    article: NewsArticle


def load_articles(n: int, *, seed: int = 23, path: Path = ANT, min_chars: int = 200) -> list[NewsArticle]:
    """`n` ANT articles with a title, a date and at least `min_chars` of text, sampled reproducibly."""
    pool: list[NewsArticle] = []
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            if len(record.get("text") or "") < min_chars or not record.get("title") or not record.get("published"):
                continue
            pool.append(NewsArticle(**{key: record.get(key) or "" for key in NewsArticle.__dataclass_fields__}))
    rng = random.Random(seed)
    return rng.sample(pool, n)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _paragraphs(article: NewsArticle) -> list[str]:
    return [line.strip() for line in article.text.split("\n") if line.strip()]


def _site(article: NewsArticle) -> tuple[str, str]:
    return SITES.get(article.source, (article.source or "موقع الأخبار", "news.example"))


def render_page(article: NewsArticle, number: int, others: list[NewsArticle], *, url: str | None = None) -> Page:
    """Render `article` as page `number` of a site; `others` give the read-also links and the comments."""
    rng = random.Random(number)
    site_name, host = _site(article)
    url = url or article.url
    layout = number % 3
    date_in_meta_only = number % 4 == 1
    encoding, declared = _encoding(number)
    paragraphs = _paragraphs(article)
    published = article.published
    day = published[:10]

    head = [
        f'<meta charset="{declared}">' if declared == "windows-1256" and number % 10 == 0 else "",
        f'<meta http-equiv="Content-Type" content="text/html; charset={declared}">' if declared == "iso-8859-6" else "",
        '<meta charset="utf-8">' if declared == "utf-8" else "",
        f"<title>{_esc(article.title)} | {_esc(site_name)}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta property="og:title" content="{_esc(article.title)}">' if layout != 2 else "",
        f'<meta property="og:site_name" content="{_esc(site_name)}">',
        f'<meta name="description" content="{_esc(article.summary[:160])}">',
        f'<meta property="article:published_time" content="{_esc(published)}">',
        f'<link rel="canonical" href="{_esc(url)}">',
        '<link rel="stylesheet" href="/static/main.css">',
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag('js',new Date());</script>",
        '<script async src="https://ads.example/tag.js"></script>',
        '<style>.ad{min-height:250px}.read-also{border:1px solid #ddd}</style>',
    ]
    nav = (
        '<header class="site-header"><div class="logo"><a href="/">' + _esc(site_name) + "</a></div>"
        '<nav class="main-menu"><ul>' + "".join(f'<li><a href="/section/{i}">{_esc(m)}</a></li>' for i, m in enumerate(MENU)) + "</ul></nav>"
        '<div class="ticker"><span>عاجل:</span> ' + _esc(others[0].title) + "</div></header>"
    )
    crumbs = f'<div class="breadcrumb"><a href="/">الرئيسية</a> &gt; <a href="/{_esc(article.category)}">{_esc(article.category)}</a></div>'
    when = "" if date_in_meta_only else f'<time class="date" datetime="{_esc(published)}">{_esc(day)}</time>'
    byline = f'<div class="byline"><span class="author">{_esc(article.author)}</span> {when}</div>' if article.author or when else ""
    share = '<div class="share"><a href="#">فيسبوك</a> <a href="#">تويتر</a> <a href="#">واتساب</a> <span>مشاركة</span></div>'

    body_parts: list[str] = []
    read_also_at = {len(paragraphs) // 2} if len(paragraphs) > 3 else set()
    ad_at = {1} if len(paragraphs) > 2 else set()
    for i, paragraph in enumerate(paragraphs):
        if layout == 1:
            body_parts.append(f"{_esc(paragraph)}<br><br>")
        else:
            body_parts.append(f"<p>{_esc(paragraph)}</p>")
        if i in ad_at:
            body_parts.append('<div class="ad ad-inline"><span>إعلان</span><script>googletag.cmd.push(function(){googletag.display("ad-1");});</script></div>')
        if i in read_also_at:
            picks = rng.sample(others, 2)
            body_parts.append(
                '<div class="read-also"><strong>اقرأ أيضا</strong><ul>'
                + "".join(f'<li><a href="{_esc(o.url)}">{_esc(o.title)}</a></li>' for o in picks) + "</ul></div>"
            )
    related = (
        '<section class="related"><h3>أخبار ذات صلة</h3><ul>'
        + "".join(f'<li><a href="{_esc(o.url)}">{_esc(o.title)}</a></li>' for o in rng.sample(others, 4)) + "</ul></section>"
    )
    comments = []
    for k, other in enumerate(rng.sample(others, 3)):
        sentence = _paragraphs(other)[0][:200]
        comments.append(
            f'<li class="comment"><span class="comment-author">{_esc(COMMENTERS[(number + k) % len(COMMENTERS)])}</span>'
            f"<p>{_esc(sentence)}</p></li>"
        )
    comments_html = '<section id="comments" class="comments"><h3>التعليقات (3)</h3><ol>' + "".join(comments) + "</ol></section>"
    footer = ('<footer><ul><li><a href="/about">من نحن</a></li><li><a href="/privacy">سياسة الخصوصية</a></li></ul>'
              f"<p>جميع الحقوق محفوظة © {_esc(site_name)} 2018</p></footer>")

    if layout == 0:
        main = (f'<main><article class="story">{crumbs}<h1 class="headline">{_esc(article.title)}</h1>{byline}{share}'
                f'<div class="article-body">{"".join(body_parts)}</div>{share}</article>{related}{comments_html}</main>')
    elif layout == 1:
        main = (f'<div id="wrapper"><div class="col-main">{crumbs}<div class="post"><h1>{_esc(article.title)}</h1>{byline}'
                f'<div class="entry-content">{"".join(body_parts)}</div></div>{related}{comments_html}</div>'
                '<div class="sidebar"><h4>الأكثر قراءة</h4><ol>'
                + "".join(f"<li>{_esc(o.title)}</li>" for o in others[1:5]) + "</ol></div></div>")
    else:
        main = (f'<div class="container"><div class="row">{crumbs}<h1 itemprop="headline">{_esc(article.title)}</h1>{byline}'
                f'<div itemprop="articleBody" class="text">{"".join(body_parts)}</div>{share}</div>{related}{comments_html}</div>')
    page = (f'<!DOCTYPE html>\n<html lang="ar" dir="rtl"><head>{"".join(head)}</head>'
            f"<body>{nav}{main}{footer}<script>console.log('loaded')</script></body></html>")
    # windows-1256 is named by a <meta> (page 0 of ten), by the HTTP header only (page 5), or,
    # one page in twenty, nowhere: the reader has to detect it.
    named_in_header = declared != "windows-1256" or (number % 10 == 5 and number % 20 != 15)
    content_type = "text/html" + (f"; charset={declared}" if named_in_header else "")
    return Page(page.encode(encoding, "xmlcharrefreplace"), content_type, declared, date_in_meta_only, article)


def _encoding(number: int) -> tuple[str, str]:
    """The codec a page is written in, and the name it is declared as."""
    if number % 10 in (0, 5):
        return "cp1256", "windows-1256"
    if number % 10 == 7:
        return "iso8859_6", "iso-8859-6"
    return "utf-8", "utf-8"


def render_rss(title: str, link: str, items: list[tuple[NewsArticle, str]], *, encoding: str = "utf-8") -> bytes:
    """An RSS 2.0 feed whose items point at `url` for each article."""
    entries = "".join(
        "<item>"
        f"<title>{_esc(a.title)}</title><link>{_esc(url)}</link><guid isPermaLink=\"true\">{_esc(url)}</guid>"
        f"<pubDate>{format_datetime(datetime.fromisoformat(a.published))}</pubDate>"
        f"<description>{_esc(a.summary)}</description><category>{_esc(a.category)}</category>"
        "</item>"
        for a, url in items
    )
    text = (f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel><title>{_esc(title)}</title>'
            f"<link>{_esc(link)}</link><description>آخر الأخبار</description><language>ar</language>{entries}</channel></rss>")
    return text.encode(encoding, "xmlcharrefreplace")


def render_atom(title: str, link: str, items: list[tuple[NewsArticle, str]]) -> bytes:
    """An Atom 1.0 feed whose entries point at `url` for each article."""
    entries = "".join(
        "<entry>"
        f'<title>{_esc(a.title)}</title><link rel="alternate" href="{_esc(url)}"/><id>{_esc(url)}</id>'
        f"<updated>{_esc(a.published)}</updated><published>{_esc(a.published)}</published>"
        f"<author><name>{_esc(a.author or 'المحرر')}</name></author><summary>{_esc(a.summary)}</summary>"
        "</entry>"
        for a, url in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>{_esc(title)}</title>'
            f'<link href="{_esc(link)}"/><id>{_esc(link)}</id><updated>2018-10-01T00:00:00Z</updated>{entries}</feed>').encode()


def pages(articles: list[NewsArticle], *, base_url: str | None = None) -> Iterator[Page]:
    """Every article rendered as page number i (its url under `base_url` when given)."""
    for i, article in enumerate(articles):
        others = articles[i + 1:i + 12] + articles[:max(0, i + 12 - len(articles))]
        others = [o for o in others if o.id != article.id][:11] or [article]
        while len(others) < 5:
            others = others + others
        yield render_page(article, i, others, url=f"{base_url}/news/{i}.html" if base_url else None)
