"""Measure the date reader on 300 hand-dated ANT time expressions: right where resolved, and resolved share.

    python benchmarks/bench_dates.py                      # qa.text.dates, whole sample and both halves
    python benchmarks/bench_dates.py --errors tune        # list the tune half's misses (never the held-out's)
    python benchmarks/bench_dates.py --reader dateparser  # the same figures for dateparser.search_dates
    python benchmarks/bench_dates.py --draw OUT.json      # redraw the unlabelled sample (seed 22)
    python benchmarks/bench_dates.py --questions          # qa.text.when on the newsroom dev questions
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from qa.text.dates import find_dates, published_date
from qa.text.when import question_time

HERE = Path(__file__).resolve().parent
LABELLED = HERE / "data" / "dates-labelled.json"
DEV = HERE / "data" / "newsroom-dev.json"
NEWS = HERE.parent.parent / "shared" / "data" / "news" / "ant-multisource.jsonl.gz"

# The trigger words that drew the sample: broader than any reader's rules, so the sample holds
# what a reader misses as well as what it finds.
_WEEKDAYS = "الأحد|الاحد|الاثنين|الإثنين|الثلاثاء|الأربعاء|الاربعاء|الخميس|الجمعة|السبت"
_MONTHS = ("يناير|فبراير|مارس|أبريل|إبريل|ابريل|مايو|يونيو|يونيه|يوليو|يوليه|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|نوفمبر|ديسمبر|"
           "كانون الثاني|شباط|آذار|نيسان|أيار|حزيران|تموز|آب|أيلول|تشرين الأول|تشرين الثاني|كانون الأول")
_REL = "أمس|الأمس|امس|البارحة|اليوم|غدا|غداً|الليلة|صباح|مساء"
_UNIT = (r"(?:الأسبوع|الاسبوع|الشهر|العام|السنة)\s+(?:الماضي|الماضية|المقبل|المقبلة|القادم|القادمة|الجاري|الجارية|"
         r"الحالي|الحالية|المنصرم|المنصرمة)")
TRIGGER = re.compile(rf"(?<![\w])(?:[وفبل]?(?:{_WEEKDAYS}|{_REL})|{_UNIT}|\d{{1,2}}\s*(?:{_MONTHS})|(?:{_MONTHS})\s+\d{{4}}"
                     r"|(?:19|20)\d\d|[٠-٩]+)(?![\w])")
SENTENCE = re.compile(r"[^.!?؟\n]+[.!?؟]?")

Reading = tuple[dt.date | None, dt.date | None]


def draw(news: Path, count: int, seed: int = 22) -> list[dict]:
    """One trigger in one sentence of each article, articles in a seeded random order."""
    rows = [json.loads(line) for line in gzip.open(news, "rt", encoding="utf-8")]
    rng = random.Random(seed)
    rng.shuffle(rows)
    items = []
    for row in rows:
        sentences = [m.group(0).strip() for m in SENTENCE.finditer(row["text"]) if TRIGGER.search(m.group(0))]
        sentences = [s for s in sentences if 30 <= len(s) <= 400]
        if not sentences:
            continue
        sentence = rng.choice(sentences)
        hit = rng.choice(list(TRIGGER.finditer(sentence)))
        items.append({"article_id": row["id"], "published": row["published"], "sentence": sentence,
                      "trigger": hit.group(0), "trigger_start": hit.start(), "trigger_end": hit.end()})
        if len(items) >= count:
            break
    return items


def read_qa(item: dict) -> Reading:
    """qa.text.dates' reading of the expression that holds the trigger."""
    for found in find_dates(item["sentence"], item["published"]):
        if found.start < item["trigger_end"] and item["trigger_start"] < found.end:
            return found.since, found.until
    return None, None


def dateparser_reader() -> Callable[[dict], Reading]:
    """dateparser.search_dates, anchored on the publication time, preferring past dates as news does."""
    from dateparser.search import search_dates

    def read(item: dict) -> Reading:
        base = dt.datetime.combine(published_date(item["published"]), dt.time(12))
        try:
            hits = search_dates(item["sentence"], languages=["ar"],
                                settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}) or []
        except Exception:  # noqa: BLE001 - a third-party parser failing counts as not resolved
            hits = []
        position = 0
        for words, when in hits:
            start = item["sentence"].find(words, position)
            position = max(position, start)
            if start < item["trigger_end"] and item["trigger_start"] < start + len(words):
                return when.date(), when.date()
        return None, None

    return read


def score(items: list[dict], reader: Callable[[dict], Reading]) -> dict:
    resolved = right = 0
    misses = []
    for item in items:
        since, until = reader(item)
        gold = (dt.date.fromisoformat(item["since"]) if item["since"] else None,
                dt.date.fromisoformat(item["until"]) if item["until"] else None)
        if since is None:
            if gold[0] is not None:
                misses.append((item, None))
            continue
        resolved += 1
        if (since, until) == gold:
            right += 1
        else:
            misses.append((item, (since, until)))
    return {"items": len(items), "resolved": resolved, "right": right,
            "right_where_resolved": round(right / resolved, 4) if resolved else 0.0,
            "resolved_share": round(resolved / len(items), 4) if items else 0.0, "misses": misses}


def score_questions(path: Path) -> dict:
    """Time in the dev questions: the asked span of "dated" ones, the flags of "latest" and "timeline"
    ones, and no filter on the others (when-questions and unanswerable ones name no date)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    spans = flags_latest = flags_timeline = no_filter = 0
    counts = {"dated": 0, "latest": 0, "timeline": 0, "other": 0}
    false_latest = false_timeline = 0
    for q in doc["questions"]:
        found = question_time(q["question"], doc["reference"])
        kind = q["kind"]
        if kind == "dated":
            counts["dated"] += 1
            spans += ((found.since.isoformat() if found.since else None), (found.until.isoformat() if found.until else None)) == (
                q["gold"]["since"], q["gold"]["until"])
        elif kind == "latest":
            counts["latest"] += 1
            flags_latest += found.latest
        elif kind == "timeline":
            counts["timeline"] += 1
            flags_timeline += found.timeline
        else:
            counts["other"] += 1
            no_filter += not found.filtered
        false_latest += found.latest and kind != "latest"
        false_timeline += found.timeline and kind not in ("timeline", "dated")
    return {"questions": len(doc["questions"]), "dated_span_right": f"{spans}/{counts['dated']}",
            "latest_flagged": f"{flags_latest}/{counts['latest']}", "timeline_flagged": f"{flags_timeline}/{counts['timeline']}",
            "when_and_unanswerable_unfiltered": f"{no_filter}/{counts['other']}",
            "latest_flag_elsewhere": false_latest, "timeline_flag_on_when_latest_unanswerable": false_timeline}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reader", choices=["qa", "dateparser"], default="qa")
    parser.add_argument("--errors", choices=["tune"], help="print the misses of the tune half")
    parser.add_argument("--draw", type=Path, metavar="OUT", help="write a fresh unlabelled sample and stop")
    parser.add_argument("--count", type=int, default=360, help="candidates to draw (some turn out not to be times)")
    parser.add_argument("--questions", action="store_true", help="score qa.text.when on benchmarks/data/newsroom-dev.json")
    args = parser.parse_args(argv)
    if args.questions:
        print(json.dumps(score_questions(DEV), ensure_ascii=False))
        return 0
    if args.draw:
        args.draw.write_text(json.dumps(draw(NEWS, args.count), ensure_ascii=False, indent=1), encoding="utf-8")
        return 0
    data = json.loads(LABELLED.read_text(encoding="utf-8"))
    reader = read_qa if args.reader == "qa" else dateparser_reader()
    began = time.process_time()  # CPU time: a shared machine inflates wall time many times over
    report = {}
    for name, items in (("all", data["items"]), ("tune", [i for i in data["items"] if i["split"] == "tune"]),
                        ("heldout", [i for i in data["items"] if i["split"] == "heldout"]),
                        ("one_day", [i for i in data["items"] if i["since"] and i["since"] == i["until"]])):
        result = score(items, reader)
        misses = result.pop("misses")
        report[name] = result
        if args.errors == name:
            for item, got in misses:
                print(f"#{item['n']} {item['published'][:10]} gold {item['since']}..{item['until']} got {got}: "
                      f"{item['sentence'][max(0, item['trigger_start'] - 60):item['trigger_end'] + 40]!r}", file=sys.stderr)
    false_alarms = sum(1 for item in data["not_time"] if reader(item)[0] is not None)
    report["not_time"] = {"items": len(data["not_time"]), "resolved_anyway": false_alarms}
    report["cpu_ms_per_sentence"] = round(1000 * (time.process_time() - began) / (2 * len(data["items"]) + len(data["not_time"])), 3)
    report["reader"] = args.reader
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
