"""When-questions answered with the date: the short answer's ISO date against the gold day, on the newsroom dev questions.

    python benchmarks/bench_when.py --index /work/idx/june/vectors

Each "when" question of benchmarks/data/newsroom-dev.json is asked (`qa.ask`, the default answerer); its
short answer's `date` is compared with `gold.date`, the day the article's own words denote. Beside the
shipped rule, the other ways of choosing among a cited sentence's time expressions are scored on the same
sentence: the first one, the one nearest the question's words (no short-answer hint), and the short-answer
rule's phrase alone (dated only when it overlaps an expression). The rule was chosen on the odd ids;
figures are given for odd ids, even ids and all.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qa
from qa.answer import make_answerer
from qa.short import short_phrase
from qa.text.answer_date import answer_date, iso_date
from qa.text.dates import find_dates

DEV = Path(__file__).resolve().parent / "data" / "newsroom-dev.json"


def variants(question: str, sentence: str, published: str | None, language: str) -> dict[str, str | None]:
    """The date each way of choosing gives for one cited sentence."""
    found = find_dates(sentence, published)
    phrase = short_phrase(question, sentence)
    prefer = (phrase.start, phrase.end) if phrase is not None else None
    shipped = answer_date(question, sentence, published, language=language, prefer=prefer)
    nearest = answer_date(question, sentence, published, language=language)
    overlapping = [f for f in found if prefer is not None and f.start < prefer[1] and prefer[0] < f.end]
    return {
        "shipped": shipped.date if shipped else None,
        "nearest": nearest.date if nearest else None,
        "first": iso_date(found[0]) if found else None,
        "rule_only": iso_date(overlapping[0]) if overlapping else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="/work/idx/june/vectors")
    parser.add_argument("--data", default=str(DEV))
    parser.add_argument("--verbose", action="store_true", help="one line per question")
    args = parser.parse_args()
    doc = json.loads(Path(args.data).read_text(encoding="utf-8"))
    questions = [q for q in doc["questions"] if q["kind"] == "when"]
    retriever = qa.Retriever.load(args.index)
    answerer = make_answerer(None, retriever.embedder)
    rows = []
    started = time.perf_counter()
    for q in questions:
        answer = qa.ask(q["question"], retriever, answerer=answerer)
        gold = q["gold"]["date"]
        short = answer.short
        row = {"id": q["id"], "gold": gold, "ask": short.date if short else None,
               "display": short.display if short else None, "words": short.text if short else None,
               "cited_gold_article": bool(answer.citations) and answer.citations[0].article_id in q["articles"]}
        if answer.citations:
            best = answer.citations[0]
            row.update(variants(answer.search_query, best.sentence, best.published, answer.language))
        rows.append(row)
        if args.verbose:
            print(json.dumps(row, ensure_ascii=False), flush=True)
    seconds = time.perf_counter() - started

    def share(subset: list[dict], key: str) -> str:
        right = sum(r.get(key) == r["gold"] for r in subset)
        return f"{right}/{len(subset)} = {right / len(subset):.3f}" if subset else "0/0"

    halves = {"odd ids (fit)": [r for r in rows if int(r["id"][2:]) % 2 == 1],
              "even ids (held out)": [r for r in rows if int(r["id"][2:]) % 2 == 0], "all": rows}
    report = {"questions": len(rows), "seconds": round(seconds, 1)}
    for name, subset in halves.items():
        report[name] = {"ask: short.date right": share(subset, "ask"),
                        **{f"{key} rule on the cited sentence": share(subset, key) for key in ("shipped", "nearest", "first", "rule_only")},
                        "first citation from a gold article": f"{sum(r['cited_gold_article'] for r in subset)}/{len(subset)}"}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    retriever.close()


if __name__ == "__main__":
    main()
