"""Count wire stories in a news corpus: articles sharing long paragraphs word for word (after normalization).

Usage: python benchmarks/wire_groups.py ../shared/data/news/ant-multisource.jsonl.gz [--min-words 20]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections import Counter, defaultdict

from qa.ingest import iter_articles
from qa.normalize import normalize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--min-words", type=int, default=20, help="ignore paragraphs shorter than this (boilerplate)")
    args = parser.parse_args()
    started = time.perf_counter()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owners: dict[bytes, str] = {}
    sites: dict[str, str | None] = {}
    articles = 0
    shared_paragraphs = 0
    for article in iter_articles([args.corpus]):
        articles += 1
        sites[article.id] = article.site
        for paragraph in article.paragraphs:
            words = normalize(paragraph).split()
            if len(words) < args.min_words:
                continue
            key = hashlib.blake2b(" ".join(words).encode(), digest_size=12).digest()
            first = owners.setdefault(key, article.id)
            if first != article.id:
                shared_paragraphs += 1
                parent[find(article.id)] = find(first)
    groups: dict[str, list[str]] = defaultdict(list)
    for article_id in list(parent):
        groups[find(article_id)].append(article_id)
    groups = {root: members for root, members in groups.items() if len(members) > 1}
    cross_site = [m for m in groups.values() if len({sites[a] for a in m}) > 1]
    sizes = Counter(len(m) for m in groups.values())
    print(f"articles: {articles:,}  ({time.perf_counter() - started:.1f} s)")
    print(f"paragraphs of >= {args.min_words} words repeated in another article: {shared_paragraphs:,}")
    print(f"groups of articles sharing such a paragraph: {len(groups):,} holding {sum(map(len, groups.values())):,} articles")
    print(f"  of which span more than one site: {len(cross_site):,}")
    print("  group sizes: " + ", ".join(f"{size}: {count}" for size, count in sorted(sizes.items())[:10]))


if __name__ == "__main__":
    main()
