"""Fit and check the reader's answer thresholds on dev data; print the figures `qa eval --answers` would give for each setting.

    PYTHONPATH=. python benchmarks/reader_dev.py --data ../shared/data/xquad-ar/xquad.ar.json --index /work/ev/xq/vectors \
        [--reader qa/reader/reader.safetensors] [--unanswerable-index DIR] [--fit]

The index is one `qa eval DATA --keep DIR` built (DIR/vectors). Candidates are read once per question
(top 5 hybrid hits, the answerer's own prefilter and reader), then every setting is replayed on them
with the answerer's own `_compose` and `_short`. `--fit` applies the rules in docs/reader.md on the
calibration half and prints the held-out half beside it. `--unanswerable-index` (built by
`--make-unanswerable DIR`) asks AAQAD's held-out unanswerable questions of an index of their own paragraphs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from qa.extractive import ExtractiveAnswerer, _Candidate, _read_short
from qa.evaluate import answer_contains, exact_match, load_squad, split_of, token_f1
from qa.reader import load_reader
from qa.records import Article, Citation
from qa.retrieve import Retriever
from qa.text import question_type

AAQAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train" / "aaqad.json"


@dataclass
class Asked:
    split: str
    answers: tuple[str, ...]
    factoid: bool
    question: str
    candidates: list[_Candidate]


def read_all(retriever: Retriever, answerer: ExtractiveAnswerer, questions, split=lambda q: split_of(q.article_id)) -> list[Asked]:
    asked = []
    texts = [q.text for q in questions]
    for start in range(0, len(texts), 64):
        for question, hits in zip(questions[start:start + 64], retriever.search_many(texts[start:start + 64], k=5)):
            candidates = answerer._candidates(question.text, hits)
            asked.append(Asked(split(question), question.answers, question_type(question.text) != "other", question.text, candidates))
    return asked


def grade(asked: list[Asked], answerer: ExtractiveAnswerer, min_support: float, margin: float, short_min: float) -> dict[str, float]:
    import qa.extractive as answer_module

    answerer.margin = margin
    saved = answer_module.READER_SHORT_MIN
    answer_module.READER_SHORT_MIN = short_min
    hit = first = abstained = 0
    words: list[int] = []
    factoid = shown = right = 0
    f1_all = em_all = 0.0
    for a in asked:
        if not a.candidates or a.candidates[0].score < min_support:
            abstained += 1
            factoid += a.factoid
            continue
        chosen = answerer._compose(a.candidates)
        text = " ".join(c.text for c in chosen)
        hit += any(answer_contains(text, g) for g in a.answers)
        first += any(answer_contains(chosen[0].text, g) for g in a.answers)
        words.append(sum(len(c.text.split()) for c in chosen))
        if a.factoid:
            factoid += 1
            best = chosen[0]
            citation = Citation(1, best.text, best.start, best.end, "", "", 0, 0, best.hit.article_id, "", "", best.score)
            short = _read_short(a.question, best, citation)
            if short is not None:
                shown += 1
                f1 = max(token_f1(short.text, g) for g in a.answers)
                right += f1 >= 0.5
                f1_all += f1
                em_all += any(exact_match(short.text, g) for g in a.answers)
    answer_module.READER_SHORT_MIN = saved
    n = max(len(asked), 1)
    return {"questions": n, "answer_hit": hit / n, "first": first / n, "abstention": abstained / n,
            "words_median": statistics.median(words) if words else 0, "factoid": factoid,
            "short_shown": shown / max(factoid, 1), "short_right": right / max(shown, 1),
            "short_f1_all": f1_all / max(factoid, 1), "short_em_all": em_all / max(factoid, 1)}


def abstention(asked: list[Asked], min_support: float) -> float:
    return sum(1 for a in asked if not a.candidates or a.candidates[0].score < min_support) / max(len(asked), 1)


def make_unanswerable(folder: Path) -> None:
    """Index AAQAD's held-out paragraphs (those the reader never trained on) and write their questions beside."""
    from qa.evaluate import build_eval_index
    from qa.reader.data import load_items

    source = load_items(AAQAD, "aaqad")
    held = sorted({i.paragraph for i in source.items if i.split == "held-out"})
    articles = [Article(id=f"aaqad:{p}", title="", text=source.paragraphs[p], origin=f"aaqad#{p}") for p in held]
    build_eval_index(articles, folder)
    items = [{"question": i.question, "article_id": f"aaqad:{i.paragraph}", "answerable": i.gold is not None,
              "answer": i.answer_text} for i in source.items if i.split == "held-out"]
    (folder / "questions.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")


@dataclass(frozen=True)
class _Q:
    text: str
    article_id: str
    answers: tuple[str, ...]


def fit_weights(asked: list[Asked], l2: float = 1e-3) -> tuple[tuple[float, ...], float]:
    """Logistic regression (Newton's method): does a candidate sentence hold a gold answer, from its features."""
    import numpy as np

    rows, labels = [], []
    for a in asked:
        for c in a.candidates:
            rows.append((*c.features, 1.0))
            labels.append(float(any(answer_contains(c.text, g) for g in a.answers)))
    x, y = np.asarray(rows), np.asarray(labels)
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -60, 60)))
        gradient = x.T @ (p - y) + l2 * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return tuple(float(v) for v in w[:-1]), float(w[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", default=[], help="a SQuAD file; repeat, each with its --index")
    parser.add_argument("--index", type=Path, action="append", default=[])
    parser.add_argument("--reader", type=Path, default=None)
    parser.add_argument("--unanswerable-index", type=Path)
    parser.add_argument("--make-unanswerable", type=Path)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--write", action="store_true", help="with --fit, write what it fitted to qa/reader/scorer.json")
    parser.add_argument("--questions", type=int, default=None, help="only the first N questions of each file (a quick check)")
    args = parser.parse_args(argv)
    if args.make_unanswerable:
        make_unanswerable(args.make_unanswerable)
        return 0
    import qa.extractive as answer_module
    from qa.reader import SCORER_FEATURES, Scorer
    from qa.reader.model import SCORER_FILE

    reader = load_reader(args.reader, sha256=None) if args.reader else load_reader()
    sets: list[tuple[str, list[Asked]]] = []
    embedder = None
    answerer = None
    for data, index in zip(args.data, args.index):
        retriever = Retriever.load(index, embedder=embedder)
        embedder = retriever.embedder
        answerer = answerer or ExtractiveAnswerer(embedder, reader=reader, min_support=0.0)
        _, questions = load_squad(data)
        sets.append((data.name, read_all(retriever, answerer, questions[: args.questions])))
    unanswerable: list[Asked] = []
    answerable_aaqad: list[Asked] = []
    if args.unanswerable_index:
        items = json.loads((args.unanswerable_index / "questions.json").read_text(encoding="utf-8"))
        other = Retriever.load(args.unanswerable_index / "vectors", embedder=embedder)
        found = read_all(other, answerer, [_Q(i["question"], i["article_id"], (i["answer"],) if i["answer"] else ()) for i in items],
                         split=lambda q: "held-out")
        unanswerable = [a for a, i in zip(found, items) if not i["answerable"]]
        answerable_aaqad = [a for a, i in zip(found, items) if i["answerable"]]
    scorer = answer_module.SCORER
    if args.fit:
        calibration = [a for _, asked in sets for a in asked if a.split == "calibration"]
        weights, bias = fit_weights(calibration)
        answer_module.SCORER = scorer = Scorer(weights, bias, 0.0, 0.0, 1.0)
        # Rule 1: the highest threshold under which at most 3% of answerable calibration questions fall.
        scores = sorted(a.candidates[0].score if a.candidates else 0.0 for a in calibration)
        min_support = scores[int(0.03 * len(scores))]
        # Rule 2: the widest margin whose calibration answers keep a median of at most 22 words.
        for margin in (0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02, 0.0):
            if grade(calibration, answerer, min_support, margin, 1.0)["words_median"] <= 22:
                break
        # Rule 3: the lowest short-answer threshold whose calibration phrases are right for at least 87% of those shown.
        for short_min in [x / 100 for x in range(2, 100, 2)]:
            if grade(calibration, answerer, min_support, margin, short_min)["short_right"] >= 0.87:
                break
        scorer = Scorer(weights, bias, min_support, margin, short_min,
                        fitted_on=" + ".join(f"{name} (calibration half)" for name, _ in sets))
        answer_module.SCORER = scorer
        print("fitted:", json.dumps(scorer.to_json(), ensure_ascii=False))
        if args.write:
            SCORER_FILE.write_text(json.dumps(scorer.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            print(f"wrote {SCORER_FILE}")
    print("features:", SCORER_FEATURES)
    for name, asked in sets:
        for split in ("all", "calibration", "held-out"):
            part = [a for a in asked if split in ("all", a.split)]
            print(name, split, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in
                                           grade(part, answerer, scorer.min_support, scorer.margin, scorer.short_min).items()}))
    if unanswerable:
        print(f"AAQAD held-out: unanswerable abstain {abstention(unanswerable, scorer.min_support):.3f} ({len(unanswerable)}), "
              f"answerable abstain {abstention(answerable_aaqad, scorer.min_support):.3f} ({len(answerable_aaqad)})")
        print("AAQAD held-out answerable", json.dumps(grade(answerable_aaqad, answerer, scorer.min_support, scorer.margin,
                                                            scorer.short_min)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
