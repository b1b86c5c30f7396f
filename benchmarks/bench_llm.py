"""The LLM answerer's figures: calibration of the verifier, and generated against extractive answers.

Usage:
    python -m benchmarks.bench_llm calibrate [--data XQUAD-AR] [--english XQUAD-EN-QUESTIONS]
    python -m benchmarks.bench_llm browser [--runs 5]

browser: the app over the seed index with --llm (llama.cpp's server, gemma-3-270m, started here),
in Chromium: seconds from Enter to the first streamed text and to the checked answer with its
sources, median of `--runs` questions asked in new conversations.

calibrate: how often the verifier wrongly removes a correct sentence, and how often it lets an
unsupported one through, on claims built from XQuAD-ar (the small model cannot write good
sentences, so correct ones are constructed, four kinds per question):
  copy       the sentence of the paragraph that holds the gold answer (Arabic);
  clause     the gold answer with at most 6 words either side of it, from that sentence: a
             shortened restatement, as a model compresses;
  restated   the Arabic question, its question mark dropped, then the gold answer;
  english    the English question (xquad.en-questions) then the gold answer: a cross-lingual claim.
Each claim cites its own paragraph (correct) and, separately, another paragraph of the same
article (unsupported: same topic, other facts, the hardest swap the data offers). Support, word
coverage and the lexical checks are computed once per pair; the thresholds are chosen on the
calibration half of the paragraphs (`qa.evaluate.split_of`) as the pair with the fewest correct
claims removed among those letting at most 5% of unsupported ones through, then reported on the
held-out half.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.embed import Embedder
from qa.evaluate import split_of
from qa.llm.prompt import Claim
from qa.records import Hit
from qa.llm.verify import Verifier

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "xquad-ar"
CLAUSE_WORDS = 6


@dataclass(frozen=True)
class Scored:
    split: str
    kind: str
    correct: bool
    support: float
    coverage: float | None
    lexical_ok: bool
    alignment: float | None = None


def _hit(article_id: str, title: str, text: str) -> Hit:
    return Hit(passage_id=article_id, article_id=article_id, ordinal=0, text=text, score=1.0, start=0, end=len(text), title=title, origin="xquad")


def _claims(context: str, question: str, answer: str, start: int, english: str | None) -> list[tuple[str, str]]:
    from qa.answer import answer_sentences

    sentence = next((context[s.start:s.end] for s in answer_sentences(context) if s.start <= start < s.end), None)
    found = []
    if sentence:
        found.append(("copy", sentence))
        left = context[:start].split()[-CLAUSE_WORDS:]
        right = context[start + len(answer):].split()[:CLAUSE_WORDS]
        found.append(("clause", " ".join([*left, answer, *right])))
    found.append(("restated", f"{re.sub(r'[?؟]', '', question).strip()} {answer}"))
    if english:
        found.append(("english", f"{english.rstrip('?').strip()}: {answer}."))
    return found


def calibrate(data: Path, english_file: Path) -> dict:
    paragraphs = json.loads(data.read_text(encoding="utf-8"))["data"]
    english = {}
    if english_file.is_file():
        for doc in json.loads(english_file.read_text(encoding="utf-8"))["data"]:
            for paragraph in doc["paragraphs"]:
                for item in paragraph["qas"]:
                    english[item["id"]] = item["question"]
    verifier = Verifier(Embedder(), threshold=-1.0, min_coverage=0.0, min_alignment=-1.0)
    scored: list[Scored] = []
    for doc in paragraphs:
        items = doc["paragraphs"]
        for number, paragraph in enumerate(items):
            article_id = f"squad:{doc['title']}:{number}"
            other = items[(number + 1) % len(items)]
            own = _hit(article_id, doc["title"], paragraph["context"])
            swapped = _hit(article_id + ":other", doc["title"], other["context"])
            claims: list[tuple[str, str]] = []
            for item in paragraph["qas"]:
                gold = item["answers"][0]
                claims += _claims(paragraph["context"], item["question"], gold["text"], gold["answer_start"], english.get(item["id"]))
            for passage, correct in ((own, True), (swapped, False)):
                verdicts = verifier.verify([Claim(text, (1,)) for _, text in claims], [passage])
                for (kind, _), verdict in zip(claims, verdicts):
                    lexical_ok = not verdict.reason  # thresholds -1 and coverage 0: only the number and name checks can fail
                    scored.append(Scored(split_of(article_id), kind, correct, verdict.support, verdict.coverage, lexical_ok,
                                         verdict.alignment))
    return choose(scored)


def _kept(s: Scored, threshold: float, min_coverage: float, min_alignment: float = -1.0) -> bool:
    return (s.lexical_ok and s.support >= threshold and (s.coverage is None or s.coverage >= min_coverage)
            and (s.alignment is None or s.alignment >= min_alignment))


def rates(scored: list[Scored], threshold: float, min_coverage: float, min_alignment: float = -1.0) -> dict:
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        groups["all"].append(s)
        groups[s.kind].append(s)
    out = {}
    for name, group in groups.items():
        correct = [s for s in group if s.correct]
        wrong = [s for s in group if not s.correct]
        out[name] = {
            "correct": len(correct), "unsupported": len(wrong),
            "correct_removed": round(sum(not _kept(s, threshold, min_coverage, min_alignment) for s in correct)
                                     / max(1, len(correct)), 4),
            "unsupported_surviving": round(sum(_kept(s, threshold, min_coverage, min_alignment) for s in wrong)
                                           / max(1, len(wrong)), 4),
        }
    return out


def choose(scored: list[Scored], target: float = 0.05) -> dict:
    """The support threshold, word coverage and (across scripts) token alignment that remove the fewest
    correct claims of the calibration half while letting at most `target` of its unsupported ones through."""
    tune = [s for s in scored if s.split == "calibration"]
    correct = np.array([s.correct for s in tune])
    passes = np.array([s.lexical_ok for s in tune])
    support = np.array([s.support for s in tune])
    coverage = np.array([np.inf if s.coverage is None else s.coverage for s in tune])
    alignment = np.array([np.inf if s.alignment is None else s.alignment for s in tune])
    best = None
    for min_alignment in [-1.0, *np.arange(0.70, 0.85, 0.005)]:
        aligned = passes & (alignment >= min_alignment)
        for min_coverage in np.arange(0.0, 0.85, 0.05):
            covered = aligned & (coverage >= min_coverage)
            for threshold in np.arange(0.70, 0.95, 0.0025):
                kept = covered & (support >= threshold)
                surviving = kept[~correct].mean()
                removed = 1 - kept[correct].mean()
                if surviving <= target and (best is None or removed < best[0]):
                    best = (removed, round(float(threshold), 4), round(float(min_coverage), 2), round(float(min_alignment), 3))
    assert best is not None, "no threshold lets at most 5% of unsupported claims through"
    _, threshold, min_coverage, min_alignment = best
    return {
        "threshold": threshold, "min_coverage": min_coverage, "min_alignment": min_alignment,
        "calibration": rates(tune, threshold, min_coverage, min_alignment),
        "held_out": rates([s for s in scored if s.split == "held-out"], threshold, min_coverage, min_alignment),
    }


def browser(runs: int) -> dict:
    import statistics
    import tempfile

    from playwright.sync_api import sync_playwright

    import qa
    from qa.web.background import serve_in_background
    from tests.conftest import SEEDS
    from tests.llm_server import llama_server
    from tests.test_llm_browser import QUESTION, ask_and_time
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    timings = []
    with tempfile.TemporaryDirectory() as tmp, llama_server() as llm:
        index = Path(tmp) / "vectors"
        qa.build_index([SEEDS], index, embedder=Embedder())
        with serve_in_background(["--index", str(index), "--build", "never", "--llm", llm.url]) as url, sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1400, "height": 900}, locale="ar")
            page.goto(url)
            page.locator("#qa-question textarea").wait_for()
            for _ in range(runs):
                timings.append(ask_and_time(page, QUESTION))
            chromium.close()
    return {
        "runs": timings,
        "first_token_s_median": round(statistics.median(t["first_token_s"] for t in timings), 2),
        "total_s_median": round(statistics.median(t["total_s"] for t in timings), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    cal = commands.add_parser("calibrate")
    cal.add_argument("--data", type=Path, default=SHARED / "xquad.ar.json")
    cal.add_argument("--english", type=Path, default=SHARED / "xquad.en-questions.dev.json")
    timed = commands.add_parser("browser")
    timed.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.command == "calibrate":
        print(json.dumps(calibrate(args.data, args.english), indent=1))
    else:
        print(json.dumps(browser(args.runs), indent=1))


if __name__ == "__main__":
    main()
