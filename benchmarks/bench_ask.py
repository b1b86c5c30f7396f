"""`qa.ask` latency on a real index: question encoding, hybrid search and the extractive answer.

Usage: PYTHONPATH=. python benchmarks/bench_ask.py --index DIR [--source ant.jsonl.gz] [--questions 200]

One question at a time, p50/p95, over XQuAD-ar questions (their paragraphs are not
in an archive index: they answer among distractors), questions about the
archive's own articles (`bench_archive`'s title questions) and English XQuAD
questions (cross-script: reported apart, they embed more sentences). Two answerers
side by side, question by question: the default one, which embeds only the
`qa.extractive.SENTENCES` most promising sentences of the top passages
(`SENTENCES_CROSS_SCRIPT` for English), and one that embeds every sentence (the
answerer before that limit). Neither keeps sentence vectors between questions
(`cache_size=0`: each answer pays its own embedding, as a question on new passages
does), and the question's vector is forgotten before each ask, so both pay its
encoding. Also printed: how often the two answers open
with the same sentence and abstain alike.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import qa
from benchmarks.bench_archive import (
    ANT,
    XQUAD_EN,
    percentiles,
    title_questions,
    xquad_questions,
)
from qa.extractive import SENTENCES, SENTENCES_CROSS_SCRIPT, ExtractiveAnswerer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=ANT, help="the archive's articles, for title questions")
    parser.add_argument("--questions", type=int, default=200, help="questions of each kind")
    args = parser.parse_args()

    print(f"load {os.getloadavg()[0]:.2f}")
    retriever = qa.Retriever.load(args.index)
    embedder = retriever.embedder
    print(f"{retriever.manifest.counts.passages:,} passages; model precision {retriever.manifest.model.precision}")
    limited = ExtractiveAnswerer(embedder, cache_size=0)
    every = ExtractiveAnswerer(embedder, cache_size=0, sentences=None, sentences_cross_script=None)
    questions = {
        "XQuAD-ar": xquad_questions(args.questions),
        "archive titles": [q for q, _ in title_questions(args.source, args.questions)],
        "English XQuAD": xquad_questions(args.questions, XQUAD_EN),
    }
    arabic = ("XQuAD-ar", "archive titles")
    for question in questions["XQuAD-ar"][:10]:  # warm up: model, lexical index, caches of the OS
        qa.ask(question, retriever, answerer=limited)
    seconds: dict[str, dict[str, list[float]]] = {name: {"limited": [], "every": []} for name in questions}
    same_first = same_abstain = total = 0
    for kind, asked in questions.items():
        for question in asked:
            answers = {}
            for name, answerer in (("limited", limited), ("every", every)):
                embedder._queries.clear()  # each ask encodes its question, as a new question does
                start = time.perf_counter()
                answers[name] = qa.ask(question, retriever, answerer=answerer)
                seconds[kind][name].append(time.perf_counter() - start)
            a, b = answers["limited"], answers["every"]
            total += 1
            same_abstain += a.abstained == b.abstained
            same_first += (a.abstained and b.abstained) or (
                not a.abstained and not b.abstained and a.citations[0].sentence == b.citations[0].sentence)
    labels = (("limited", f"{SENTENCES} sentences embedded, {SENTENCES_CROSS_SCRIPT} across scripts (default)"),
              ("every", "every sentence embedded"))
    for name, label in labels:
        for kind in questions:
            print(f"qa.ask, {label}: {kind} {percentiles(seconds[kind][name])}")
        print(f"qa.ask, {label}: Arabic (XQuAD-ar and titles) {percentiles([s for kind in arabic for s in seconds[kind][name]])}")
    print(f"same first sentence (or both abstain): {same_first}/{total}; same abstention: {same_abstain}/{total}")
    retriever.close()


if __name__ == "__main__":
    main()
