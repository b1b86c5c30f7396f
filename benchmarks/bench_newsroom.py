"""Time in the news, end to end: `qa.ask` on the newsroom dev questions, scored by kind.

    python benchmarks/bench_newsroom.py --index /work/idx/june/vectors          # figures, JSON then a table
    python benchmarks/bench_newsroom.py --index /work/idx/june/vectors --fit    # fit RECENCY_MARGIN on odd ids

Each question of benchmarks/data/newsroom-dev.json is asked with `now` = the file's reference
(2018-06-30), one answerer shared by all. By kind:
- when: the short answer's resolved date (`Answer.short.date`) is `gold.date`;
- dated: the share of cited passages whose article was published within gold.since..gold.until (by
  the day its own `published` writes), the share of questions whose asked span (`Answer.searched_since`/
  `searched_until`) is the gold one, and answer-hit: a cited sentence (or all of them joined) contains
  the gold answer, or the gold answer contains a cited sentence, after `qa.normalize`, or their token
  F1 (`qa.evaluate.token_f1`) is at least 0.5; beside it, answer-hit by recall: half the gold answer's
  tokens (`qa.evaluate.answer_tokens`) are in one cited sentence (F1 against a whole sentence punishes
  a short gold phrase; this second rule was added after reading the first one's misses);
- latest: the first citation is of `gold.newest`, or of a listed article published within an hour of it
  (a wire copy, as the file's notes allow);
- timeline: lines listed, chronological order (its gold events are scored by W's bench_timeline, if any);
- unanswerable: the answer abstains.
Every kind is reported on all its questions; where something was fitted on them (RECENCY_MARGIN, on the
odd-numbered latest questions) the odd and even halves are given apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qa  # noqa: E402
import qa.answer  # noqa: E402
from qa.answer import make_answerer  # noqa: E402
from qa.evaluate import answer_tokens, token_f1  # noqa: E402
from qa.normalize import normalize  # noqa: E402
from qa.records import Answer  # noqa: E402
from qa.stores.filters import published_timestamp  # noqa: E402
from qa.text import published_date  # noqa: E402

DEV = Path(__file__).resolve().parent / "data" / "newsroom-dev.json"
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12)
WIRE_SECONDS = 3600


def _odd(question: dict[str, Any]) -> bool:
    return int("".join(ch for ch in question["id"] if ch.isdigit())) % 2 == 1


def _share(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def answer_hit(gold: str, sentences: Sequence[str]) -> bool:
    """Whether the cited sentences hold the gold answer (the rule in the module docstring)."""
    wanted = normalize(gold)
    for sentence in [*sentences, " ".join(sentences)]:
        plain = normalize(sentence)
        if wanted and (wanted in plain or (plain and plain in wanted) or token_f1(sentence, gold) >= 0.5):
            return True
    return False


def recall_hit(gold: str, sentences: Sequence[str]) -> bool:
    """Whether one cited sentence holds at least half the gold answer's tokens."""
    wanted = set(answer_tokens(gold))
    return bool(wanted) and any(len(wanted & set(answer_tokens(s))) >= len(wanted) / 2 for s in sentences)


def latest_right(answer: Answer, gold: dict[str, Any], listed: Sequence[str], retriever: qa.Retriever) -> bool:
    if not answer.citations:
        return False
    first = answer.citations[0].article_id
    if first == gold["newest"]:
        return True
    newest = published_timestamp(retriever.article(gold["newest"]).published)
    cited = published_timestamp(answer.citations[0].published)
    return first in listed and newest is not None and cited is not None and abs(newest - cited) <= WIRE_SECONDS


def score(question: dict[str, Any], answer: Answer, retriever: qa.Retriever) -> dict[str, Any]:
    """What one answer gets right, by its question's kind."""
    gold, kind = question["gold"], question["kind"]
    row: dict[str, Any] = {"id": question["id"], "kind": kind, "abstained": answer.abstained}
    if kind == "when":
        row["date"] = answer.short.date if answer.short is not None else None
        row["right"] = row["date"] == gold["date"]
    elif kind == "dated":
        since, until = dt.date.fromisoformat(gold["since"]), dt.date.fromisoformat(gold["until"])
        days = [published_date(c.published) for c in answer.citations]
        row["cited"] = len(days)
        row["inside"] = sum(day is not None and since <= day <= until for day in days)
        row["span_right"] = (answer.searched_since, answer.searched_until) == (gold["since"], gold["until"])
        row["hit"] = answer_hit(gold["answer"], [c.sentence for c in answer.citations])
        row["recall_hit"] = recall_hit(gold["answer"], [c.sentence for c in answer.citations])
    elif kind == "latest":
        row["right"] = latest_right(answer, gold, question["articles"], retriever)
        row["as_of"] = answer.as_of
    elif kind == "timeline":
        dates = [entry.date.split("/")[0] for entry in answer.timeline]
        row["lines"] = len(dates)
        row["chronological"] = dates == sorted(dates)
    else:
        row["right"] = answer.abstained
    return row


def figures(rows: Sequence[dict[str, Any]], odd: set[str]) -> dict[str, Any]:
    by = {kind: [r for r in rows if r["kind"] == kind] for kind in ("when", "dated", "latest", "timeline", "unanswerable")}
    dated = by["dated"]
    cited = sum(r["cited"] for r in dated)
    latest = by["latest"]
    return {
        "when": {"questions": len(by["when"]), "date_right": _share([r["right"] for r in by["when"]]),
                 "dated_shown": _share([r["date"] is not None for r in by["when"]])},
        "dated": {"questions": len(dated), "cited": cited,
                  "cited_inside": round(sum(r["inside"] for r in dated) / cited, 3) if cited else None,
                  "span_right": _share([r["span_right"] for r in dated]), "answer_hit": _share([r["hit"] for r in dated]),
                  "answer_hit_recall": _share([r["recall_hit"] for r in dated]),
                  "abstained": _share([r["abstained"] for r in dated])},
        "latest": {"questions": len(latest), "newest_first": _share([r["right"] for r in latest]),
                   "odd_fit": _share([r["right"] for r in latest if r["id"] in odd]),
                   "even_held_out": _share([r["right"] for r in latest if r["id"] not in odd])},
        "timeline": {"questions": len(by["timeline"]), "with_lines": _share([r["lines"] > 0 for r in by["timeline"]]),
                     "median_lines": statistics.median([r["lines"] for r in by["timeline"]]) if by["timeline"] else None,
                     "chronological": _share([r["chronological"] for r in by["timeline"]])},
        "unanswerable": {"questions": len(by["unanswerable"]), "abstained": _share([r["right"] for r in by["unanswerable"]])},
    }


def run(questions: Sequence[dict[str, Any]], retriever: qa.Retriever, answerer: Any, now: str) -> tuple[list[dict[str, Any]], list[float]]:
    rows, seconds = [], []
    for question in questions:
        started = time.perf_counter()
        answer = qa.ask(question["question"], retriever, answerer=answerer, now=now)
        seconds.append(time.perf_counter() - started)
        rows.append(score(question, answer, retriever))
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="the June 2018 ANT index")
    parser.add_argument("--data", type=Path, default=DEV)
    parser.add_argument("--fit", action="store_true", help="score the latest questions at each margin of MARGINS; "
                        "choose on odd ids (ties: the smaller margin), report even ids")
    parser.add_argument("--rows", action="store_true", help="print each question's row")
    args = parser.parse_args()

    data = json.loads(args.data.read_text(encoding="utf-8"))
    now = data["reference"]
    questions = data["questions"]
    odd = {q["id"] for q in questions if _odd(q)}
    print(f"load {os.getloadavg()[0]:.2f}; now {now}; {len(questions)} questions", file=sys.stderr)
    with qa.Retriever.load(args.index) as retriever:
        answerer = make_answerer(None, retriever.embedder)
        if args.fit:
            latest = [q for q in questions if q["kind"] == "latest"]
            table = {}
            for margin in MARGINS:
                qa.answer.RECENCY_MARGIN = margin
                rows, _ = run(latest, retriever, answerer, now)
                table[margin] = {"odd": _share([r["right"] for r in rows if r["id"] in odd]),
                                 "even": _share([r["right"] for r in rows if r["id"] not in odd])}
                print(f"margin {margin:.2f}: odd {table[margin]['odd']}, even {table[margin]['even']}", file=sys.stderr)
            chosen = max(MARGINS, key=lambda m: (table[m]["odd"] or 0.0, -m))
            print(json.dumps({"fit": {str(m): v for m, v in table.items()}, "chosen": chosen}, ensure_ascii=False))
            return
        rows, seconds = run(questions, retriever, answerer, now)
    result = figures(rows, odd)
    result["seconds"] = {"p50": round(statistics.median(seconds), 3), "max": round(max(seconds), 3)}
    result["recency_margin"] = qa.answer.RECENCY_MARGIN
    if args.rows:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))
    print(f"{'kind':<13} {'n':>3}  figures")
    for kind, values in result.items():
        if isinstance(values, dict) and "questions" in values:
            shown = ", ".join(f"{k} {v}" for k, v in values.items() if k != "questions")
            print(f"{kind:<13} {values['questions']:>3}  {shown}")
    print(f"qa.ask p50 {result['seconds']['p50'] * 1000:.0f} ms a question; recency margin {result['recency_margin']}")


if __name__ == "__main__":
    main()
