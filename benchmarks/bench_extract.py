"""Compare main-text extractors on ANT articles rendered into news pages (tests/news_pages.py).

For each page: token F1 of the extracted body against the article's text, whether the title is the
article's title, whether the date (day) is the article's. Prints one line per extractor.

    python benchmarks/bench_extract.py --pages 500 [--extractor trafilatura --extractor readability ...]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.text.html import decode_html, extract_page  # noqa: E402
from tests.news_pages import Page, load_articles, pages  # noqa: E402

_TOKEN = re.compile(r"\w+")
_META_DATE = re.compile(r'<meta property="article:published_time" content="([^"]+)"')


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def token_f1(found: str, expected: str) -> float:
    a, b = Counter(tokens(found)), Counter(tokens(expected))
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def _trafilatura(page: Page) -> tuple[str, str, str | None]:
    found = extract_page(page.body, content_type=page.content_type)
    return found.text, found.title, found.published


def _trafilatura_alone(page: Page) -> tuple[str, str, str | None]:
    """trafilatura without qa.text.html's removal of in-story boxes and its meta-tag date."""
    import trafilatura

    text, _ = decode_html(page.body, page.content_type)
    document = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=False)
    return document.text, (document.title or "").split(" | ")[0], document.date


def _readability(page: Page) -> tuple[str, str, str | None]:
    import lxml.html
    from readability import Document

    text, _ = decode_html(page.body, page.content_type)
    document = Document(text)
    tree = lxml.html.fromstring(document.summary(html_partial=True))
    for br in tree.iter("br"):
        br.tail = "\n" + (br.tail or "")
    body = "\n".join(t.strip() for t in tree.itertext() if t.strip())
    match = _META_DATE.search(text)
    return body, document.short_title(), match.group(1) if match else None


def _resiliparse(page: Page) -> tuple[str, str, str | None]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    text, _ = decode_html(page.body, page.content_type)
    tree = HTMLTree.parse(text)
    body = extract_plain_text(tree, main_content=True, comments=False, alt_texts=False, links=False)
    match = _META_DATE.search(text)
    return body, (tree.title or "").split(" | ")[0], match.group(1) if match else None


def _justext(page: Page) -> tuple[str, str, str | None]:
    import justext

    text, _ = decode_html(page.body, page.content_type)
    paragraphs = justext.justext(text, justext.get_stoplist("Arabic"))
    body = "\n".join(p.text for p in paragraphs if not p.is_boilerplate)
    title = re.search(r"<title>(.*?)</title>", text)
    match = _META_DATE.search(text)
    return body, (title.group(1) if title else "").split(" | ")[0], match.group(1) if match else None


EXTRACTORS: dict[str, Callable[[Page], tuple[str, str, str | None]]] = {
    "trafilatura": _trafilatura, "trafilatura-alone": _trafilatura_alone, "readability": _readability, "resiliparse": _resiliparse, "justext": _justext,
}


def measure(name: str, rendered: list[Page]) -> dict[str, float]:
    import html

    extract = EXTRACTORS[name]
    f1s, titles, dates, failures = [], 0, 0, 0
    started = time.process_time()
    for page in rendered:
        try:
            body, title, date = extract(page)
        except Exception:  # noqa: BLE001 - a failed page counts as F1 0
            failures += 1
            f1s.append(0.0)
            continue
        f1s.append(token_f1(html.unescape(body), page.article.text))
        titles += " ".join(title.split()) == " ".join(page.article.title.split())
        dates += (date or "")[:10] == page.article.published[:10]
    cpu = time.process_time() - started
    f1s.sort()
    n = len(rendered)
    return {
        "pages": n, "f1_median": statistics.median(f1s), "f1_p5": f1s[max(0, int(0.05 * n) - 1)] if n >= 20 else f1s[0],
        "f1_mean": statistics.fmean(f1s), "title": titles / n, "date": dates / n, "failures": failures,
        "ms_per_page": 1000 * cpu / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--extractor", action="append", choices=sorted(EXTRACTORS))
    args = parser.parse_args()
    rendered = list(pages(load_articles(args.pages)))
    print(f"{'extractor':<12} {'pages':>5} {'F1 p50':>7} {'F1 p5':>6} {'F1 mean':>7} {'title':>6} {'date':>6} {'fail':>4} {'ms/page':>8}")
    for name in args.extractor or sorted(EXTRACTORS):
        r = measure(name, rendered)
        print(f"{name:<12} {r['pages']:>5} {r['f1_median']:>7.3f} {r['f1_p5']:>6.3f} {r['f1_mean']:>7.3f} "
              f"{r['title']:>6.3f} {r['date']:>6.3f} {r['failures']:>4} {r['ms_per_page']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
