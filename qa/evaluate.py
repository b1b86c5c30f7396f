"""`qa eval`: retrieval quality and latency on SQuAD-format data, through the public API only."""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

import qa.extractive
from qa.answer import Answerer, AnswererFactory, ExtractiveAnswerer, ask, make_answerer
from qa.build import BuildProgress, build_index
from qa.config import MODES, Settings
from qa.embed import Embedder
from qa.errors import InputError, SettingsError
from qa.ingest import iter_articles
from qa.normalize import normalize
from qa.records import Answer, Article, Hit
from qa.retrieve import Retriever
from qa.text import detect_language, question_type

_BATCH = 64
# Passages of one article can fill several slots; ask for enough hits to rank 10 articles.
_DEPTH = 30


@dataclass(frozen=True)
class Question:
    text: str
    article_id: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class EvalResult:
    """Retrieval figures for one mode: recall at 1, 5, 10, MRR@10, query latency."""

    mode: str
    questions: int
    passages: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    latency_p50_ms: float
    latency_p95_ms: float
    # Questions whose paragraph ranked in the top 10 only as a copy another article's hit carries
    # (a file holding one paragraph twice): counted as found.
    found_as_copy: int = 0


def load_squad(path: str | Path) -> tuple[list[Article], list[Question]]:
    """Each paragraph of a SQuAD v1.1 file becomes an article; each question names its paragraph.

    The whole file is checked first (`squad_problems`), so a bad item is named
    before any model loads. A paragraph's id is `squad:TITLE:N` (N its place in
    its article); an article whose title an earlier one already has gets
    `squad:TITLE (2):N`, and so on, so titles need not be unique and ids (and
    `split_of`'s halves) stay what they were for files whose titles are.

    Raises:
        InputError: the file cannot be read, is not SQuAD v1.1 JSON, or an item of it is wrong
            (the message names the first, as `data[3].paragraphs[2].qas[0].answers[0]`).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path} is not a SQuAD-format JSON file: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a SQuAD-format JSON file: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not a SQuAD-format JSON file: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (RecursionError, ValueError):
        raise InputError(f"{path} is not a SQuAD-format JSON file: JSON nested too deeply or a number too long to read") from None
    problems = squad_problems(document)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        if problems[0].startswith("the top level"):
            raise InputError(f"{path} is not a SQuAD-format JSON file: {problems[0]}")
        raise InputError(f"{path}: {problems[0]}{more}")
    articles: list[Article] = []
    questions: list[Question] = []
    used: set[str] = set()
    for doc in document["data"]:
        title = doc.get("title", "")
        key, copy = title, 1
        while key in used:
            copy += 1
            key = f"{title} ({copy})"
        used.add(key)
        for number, paragraph in enumerate(doc["paragraphs"]):
            article_id = f"squad:{key}:{number}"
            articles.append(Article(id=article_id, title=title, text=paragraph["context"], origin=f"{path}#{article_id}"))
            for item in paragraph["qas"]:
                questions.append(Question(text=item["question"], article_id=article_id, answers=tuple(a["text"] for a in item["answers"])))
    return articles, questions


_SURROGATE = re.compile("[\ud800-\udfff]")


def squad_problems(document: object) -> list[str]:
    """What is wrong in a parsed SQuAD v1.1 document, each problem as `WHERE: WHAT`, in file order; [] if nothing.

    Checked: a `data` list of articles, each with an optional string `title` and a
    `paragraphs` list; each paragraph with a non-blank string `context` and a `qas`
    list; each question with a non-blank string `question` and a non-empty
    `answers` list; each answer with a non-empty string `text` and an integer
    `answer_start` where the context holds that text. A file without a question is a problem too.
    """
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        found = _kind(document) if not isinstance(document, dict) else "an object without a 'data' list"
        return [f"the top level must be an object with a 'data' list, got {found}"]
    problems: list[str] = []
    questions = 0

    def text_problem(value: object, what: str, *, blank_ok: bool = False) -> str | None:
        if value is None:
            return f"missing {what}"
        if not isinstance(value, str):
            return f"{what} must be a string, got {_kind(value)}"
        if not blank_ok and not value.strip():
            return f"{what} is empty"
        if _SURROGATE.search(value):
            return f"{what} holds an unpaired surrogate escape (\\ud800-\\udfff), which is not text"
        return None

    def list_problem(container: dict[str, object], key: str, where: str) -> list[object] | None:
        value = container.get(key)
        if not isinstance(value, list):
            problems.append(f"{where}: {'missing ' + repr(key) if value is None else f'{key!r} must be a list, got {_kind(value)}'}")
            return None
        return value

    for i, doc in enumerate(document["data"]):
        where = f"data[{i}]"
        if not isinstance(doc, dict):
            problems.append(f"{where}: an article must be an object, got {_kind(doc)}")
            continue
        if "title" in doc and (problem := text_problem(doc["title"], "'title'", blank_ok=True)):
            problems.append(f"{where}: {problem}")
        paragraphs = list_problem(doc, "paragraphs", where)
        for j, paragraph in enumerate(paragraphs or []):
            where = f"data[{i}].paragraphs[{j}]"
            if not isinstance(paragraph, dict):
                problems.append(f"{where}: a paragraph must be an object, got {_kind(paragraph)}")
                continue
            context = paragraph.get("context")
            if problem := text_problem(context, "'context'"):
                problems.append(f"{where}: {problem}")
                context = None
            for k, item in enumerate(list_problem(paragraph, "qas", where) or []):
                where = f"data[{i}].paragraphs[{j}].qas[{k}]"
                if not isinstance(item, dict):
                    problems.append(f"{where}: a question must be an object, got {_kind(item)}")
                    continue
                questions += 1
                if problem := text_problem(item.get("question"), "'question'"):
                    problems.append(f"{where}: {problem}")
                answers = list_problem(item, "answers", where)
                if answers == []:
                    problems.append(f"{where}: 'answers' is empty (SQuAD v2.0 unanswerable questions are not supported)")
                for m, answer in enumerate(answers or []):
                    if problem := _answer_problem(answer, context):
                        problems.append(f"{where}.answers[{m}]: {problem}")
    if not problems and not questions:
        problems.append("data: the file holds no questions")
    return problems


def _answer_problem(answer: object, context: str | None) -> str | None:
    if not isinstance(answer, dict):
        return f"an answer must be an object, got {_kind(answer)}"
    text, start = answer.get("text"), answer.get("answer_start")
    if text is None:
        return "missing 'text'"
    if not isinstance(text, str):
        return f"'text' must be a string, got {_kind(text)}"
    if not text.strip():
        return "'text' is empty"
    if start is None:
        return "missing 'answer_start'"
    if type(start) is not int:
        return f"'answer_start' must be an integer, got {_kind(start)}"
    if context is None:
        return None
    if start < 0:
        return f"answer_start {start} is negative"
    if start + len(text) > len(context):
        return (
            f"answer_start {start} is out of range: the text ({len(text)} characters) would end at {start + len(text)}, "
            f"past the end of the context ({len(context)} characters)"
        )
    if context[start:start + len(text)] != text:
        elsewhere = context.find(text)
        return (
            f"text {_clip_repr(text)} is not at answer_start {start} (the context has {_clip_repr(context[start:start + len(text)])} there"
            + (f"; the text is at {elsewhere})" if elsewhere >= 0 else "; the text is nowhere in the context)")
        )
    return None


def _kind(value: object) -> str:
    """A JSON value's kind as a message names it."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def _clip_repr(text: str, limit: int = 40) -> str:
    """The text quoted on one line (newlines escaped), clipped."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def build_eval_index(
    articles: Sequence[Article],
    out: Path,
    *,
    distractors: str | Path | None = None,
    limit: int = 5000,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[BuildProgress], None] | None = None,
    store_options: Mapping[str, str | None] | None = None,
) -> Path:
    """Write the articles (and the first `limit` distractor articles) as JSON Lines, then build them.

    `store_options` (store, uri, token, collection) build them into another store than the embedded one.
    """
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.jsonl"
    with open(corpus, "w", encoding="utf-8") as stream:
        stream.writelines(
            json.dumps({"id": a.id, "title": a.title, "text": a.text}, ensure_ascii=False) + "\n" for a in articles
        )
        if distractors is not None:
            for article in islice(iter_articles([distractors]), limit):
                record = {"id": f"distractor:{article.id}", "title": article.title, "text": article.text,
                          "source": article.site, "published": article.published}
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    index = out / "vectors"
    build_index([corpus], index, settings=settings, embedder=embedder, progress=progress, **(store_options or {}))
    return index


def evaluate(
    retriever: Retriever, questions: Sequence[Question], *, mode: str = Settings.mode, latency_sample: int = 200
) -> EvalResult:
    """Score where each question's paragraph ranks, and time single-question searches.

    Ranks come from batched searches (the same results as one at a time, faster);
    latency is measured on the first `latency_sample` questions asked one at a
    time, as a user asks them, query encoding included.
    """
    ranks: list[int | None] = []
    copies = 0
    for start in range(0, len(questions), _BATCH):
        batch = questions[start:start + _BATCH]
        for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=_DEPTH, mode=mode)):
            rank, as_copy = rank_of(question.article_id, hits)
            ranks.append(rank)
            copies += as_copy and rank is not None and rank <= 10
    latencies = []
    for question in questions[:latency_sample]:
        started = time.perf_counter()
        retriever.search(question.text, k=5, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    n = len(questions)
    return EvalResult(
        mode=mode,
        questions=n,
        passages=retriever.size,
        recall_at_1=sum(1 for r in ranks if r is not None and r <= 1) / n,
        recall_at_5=sum(1 for r in ranks if r is not None and r <= 5) / n,
        recall_at_10=sum(1 for r in ranks if r is not None and r <= 10) / n,
        mrr_at_10=sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        latency_p50_ms=statistics.median(latencies),
        latency_p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        found_as_copy=copies,
    )


def rank_of(article_id: str, hits: Sequence[Hit]) -> tuple[int | None, bool]:
    """Where `article_id` ranks among the articles `hits` bring (1 first), and whether only as a copy; (None, False) if absent.

    Hits of an article already ranked add no rank. A hit stands for every article
    carrying its passage (wire copies grouped, `Hit.carriers`): the gold article
    found among a hit's carriers but not as its own article is found as a copy.
    """
    ranked: set[str] = set()
    for hit in hits:
        if hit.article_id in ranked:
            continue
        ranked.add(hit.article_id)
        if hit.article_id == article_id:
            return len(ranked), False
        if any(c.article_id == article_id for c in hit.carriers):
            return len(ranked), True
    return None, False


@contextmanager
def _workspace(workdir: str | Path | None, keep: bool) -> Iterator[Path]:
    """A temporary folder, or with `keep` the folder `workdir` itself, kept so a rerun reuses its embeddings."""
    if keep:
        if workdir is None:
            raise SettingsError("keep needs a workdir to keep the index in")
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        yield Path(tmp)


@contextmanager
def _indexed(
    articles: Sequence[Article],
    *,
    distractors: str | Path | None,
    limit: int,
    settings: Settings | None,
    workdir: str | Path | None,
    keep: bool,
    progress: Callable[[BuildProgress], None] | None,
    store_options: Mapping[str, str | None] | None = None,
) -> Iterator[Retriever]:
    """A retriever over the articles (and distractors), in a workspace that lives as long as the block."""
    embedder = Embedder.from_settings(settings or Settings())
    with _workspace(workdir, keep) as folder:
        index = build_eval_index(articles, folder, distractors=distractors, limit=limit, settings=settings, embedder=embedder, progress=progress,
                                 store_options=store_options)
        with Retriever.load(index, embedder=embedder, **(store_options or {})) as retriever:
            yield retriever


def run_eval(
    data: str | Path,
    *,
    modes: Sequence[str] = MODES,
    distractors: str | Path | None = None,
    limit: int = 5000,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    keep: bool = False,
    progress: Callable[[BuildProgress], None] | None = None,
    store_options: Mapping[str, str | None] | None = None,
) -> list[EvalResult]:
    """Index the paragraphs of `data` (with distractors), then evaluate each mode.

    `store_options` (store, uri, token, collection) evaluate another store than the embedded one.
    """
    articles, questions = load_squad(data)
    options = {"distractors": distractors, "limit": limit, "settings": settings, "workdir": workdir, "keep": keep,
               "progress": progress, "store_options": store_options}
    with _indexed(articles, **options) as retriever:
        return [evaluate(retriever, questions, mode=mode) for mode in modes]


@dataclass(frozen=True)
class AnswerEvalResult:
    """Answer figures for one retrieval mode on one split of the questions.

    `split` is "all", "calibration" (the half the answerer's weights and
    abstention threshold were fitted on) or "held-out" (the other half); the
    halves are fixed by a hash of the paragraph id, so they transfer to any
    SQuAD-format file. Lengths are over the answers given (abstentions left out).
    """

    mode: str
    split: str
    questions: int
    passages: int
    answer_hit: float
    first_sentence_hit: float
    words_median: float
    words_p90: float
    abstention_rate: float
    spans_exact: float
    latency_p50_ms: float
    latency_p95_ms: float
    # Which answerer; for a generating one, the share of its sentences that verification kept
    # (None when it wrote none) and the share of answers that fell back to extraction.
    answerer: str = "extractive"
    verified_share: float | None = None
    fallback_rate: float = 0.0
    # Short answers (`Answer.short`), scored as reading-comprehension papers do: on the factoid
    # questions (`question_type` is not "other"), the share with one shown, then over those shown
    # the mean exact match and token F1 against the best gold answer, and the share right (F1 >= 0.5);
    # None where none was shown. `short_shown_other`: the share of the other questions given one.
    factoid_questions: int = 0
    short_shown: float = 0.0
    short_exact: float | None = None
    short_f1: float | None = None
    short_right: float | None = None
    short_shown_other: float = 0.0
    # The same exact match and F1 over every factoid question, a question given no short answer scoring 0.
    short_exact_all: float = 0.0
    short_f1_all: float = 0.0


@dataclass(frozen=True)
class AbstentionCalibration:
    """A support threshold, and how often it abstains with and without the answer in the index."""

    threshold: float
    answerable_abstention: float
    unanswerable_abstention: float
    held_out_answerable_abstention: float
    held_out_unanswerable_abstention: float


@dataclass(frozen=True)
class _Graded:
    split: str
    hit: bool
    first_hit: bool
    words: int
    abstained: bool
    spans_exact: bool
    kept: int = 0
    removed: int = 0
    fell_back: bool = False
    factoid: bool = False
    short: bool = False
    short_exact: bool = False
    short_f1: float = 0.0


SPLITS = ("all", "calibration", "held-out")
_PUNCTUATION = re.compile(r"[^\w\s]")


def split_of(article_id: str) -> str:
    """The half a paragraph's questions belong to: "calibration" or "held-out", by a hash of its id."""
    return "calibration" if hashlib.sha1(article_id.encode("utf-8")).digest()[-1] % 2 == 0 else "held-out"


def answer_contains(answer: str, gold: str) -> bool:
    """Whether `gold` appears in `answer` once both are normalized, punctuation and spacing aside."""
    wanted = _match_form(gold)
    return bool(wanted) and wanted in _match_form(answer)


def _match_form(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", normalize(text)).split())


# Articles, as SQuAD's scorer drops "a", "an", "the": English, French, and Arabic's prefix "ال".
_ARTICLES = frozenset({"a", "an", "the", "le", "la", "les", "l", "un", "une", "des"})
_ARABIC_ARTICLE = "\u0627\u0644"
RIGHT_F1 = 0.5


def answer_tokens(text: str) -> list[str]:
    """The tokens exact match and F1 compare: normalized (`qa.normalize`), punctuation and articles dropped."""
    tokens = []
    for token in _PUNCTUATION.sub(" ", normalize(text)).split():
        if token in _ARTICLES:
            continue
        # Only where a stem remains: "الى" is a word, not an article and "ى".
        tokens.append(token[2:] if token.startswith(_ARABIC_ARTICLE) and len(token) > 3 else token)
    return tokens


def exact_match(prediction: str, gold: str) -> bool:
    """Whether the two answers are the same tokens (`answer_tokens`), as SQuAD's exact match after Arabic normalization."""
    return answer_tokens(prediction) == answer_tokens(gold)


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 of a predicted answer against a gold one, over `answer_tokens`; 1.0 when both are empty."""
    predicted, wanted = answer_tokens(prediction), answer_tokens(gold)
    if not predicted or not wanted:
        return float(predicted == wanted)
    same = sum((Counter(predicted) & Counter(wanted)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(wanted)
    return 2 * precision * recall / (precision + recall)


def evaluate_answers(
    retriever: Retriever,
    questions: Sequence[Question],
    *,
    mode: str = Settings.mode,
    k: int = 5,
    answerer: str | Answerer | None = None,
    latency_sample: int = 100,
) -> list[AnswerEvalResult]:
    """Answer every question and grade the answers, on all questions and on each half.

    Hits come from batched searches; latency is timed first, on the first
    `latency_sample` questions asked with `ask` one at a time, as a user asks them.
    """
    answerer = make_answerer(answerer, retriever.embedder)
    name = "llm" if hasattr(answerer, "stream") else "extractive"
    articles: dict[str, str] = {}
    graded: list[_Graded] = []
    # Timed first, while the answerer has not yet seen (and cached) every passage.
    latencies = []
    # A generating answerer takes seconds a question: each is asked once, timed and graded.
    timed = questions if name == "llm" else questions[:latency_sample]
    for question in timed:
        started = time.perf_counter()
        answer = ask(question.text, retriever, k=k, answerer=answerer, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        if name == "llm":
            graded.append(_grade(retriever, question, answer, articles))
    latencies.sort()
    for start in range(0, len(questions) if name != "llm" else 0, _BATCH):
        batch = questions[start:start + _BATCH]
        for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=k, mode=mode)):
            answer = answerer.answer(question.text, hits, language=detect_language(question.text))
            graded.append(_grade(retriever, question, answer, articles))
    results = []
    for split in SPLITS:
        chosen = [g for g in graded if split in ("all", g.split)]
        if not chosen:
            continue
        n = len(chosen)
        lengths = sorted(g.words for g in chosen if not g.abstained) or [0]
        written = sum(g.kept + g.removed for g in chosen)
        results.append(
            AnswerEvalResult(
                mode=mode,
                split=split,
                questions=n,
                passages=retriever.size,
                answer_hit=sum(g.hit for g in chosen) / n,
                first_sentence_hit=sum(g.first_hit for g in chosen) / n,
                words_median=statistics.median(lengths),
                words_p90=lengths[min(len(lengths) - 1, int(0.9 * len(lengths)))],
                abstention_rate=sum(g.abstained for g in chosen) / n,
                spans_exact=sum(g.spans_exact for g in chosen) / n,
                latency_p50_ms=statistics.median(latencies) if latencies else 0.0,
                latency_p95_ms=latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else 0.0,
                answerer=name,
                verified_share=sum(g.kept for g in chosen) / written if written else None,
                fallback_rate=sum(g.fell_back for g in chosen) / n,
                **_short_figures(chosen),
            )
        )
    return results


def _short_figures(graded: Sequence[_Graded]) -> dict[str, Any]:
    factoid = [g for g in graded if g.factoid]
    others = [g for g in graded if not g.factoid]
    shown = [g for g in factoid if g.short]
    return {
        "factoid_questions": len(factoid),
        "short_shown": len(shown) / len(factoid) if factoid else 0.0,
        "short_exact": sum(g.short_exact for g in shown) / len(shown) if shown else None,
        "short_f1": sum(g.short_f1 for g in shown) / len(shown) if shown else None,
        "short_right": sum(g.short_f1 >= RIGHT_F1 for g in shown) / len(shown) if shown else None,
        "short_shown_other": sum(g.short for g in others) / len(others) if others else 0.0,
        "short_exact_all": sum(g.short_exact for g in shown) / len(factoid) if factoid else 0.0,
        "short_f1_all": sum(g.short_f1 for g in shown) / len(factoid) if factoid else 0.0,
    }


def _grade(retriever: Retriever, question: Question, answer: Answer, articles: dict[str, str]) -> _Graded:
    return replace(_grade_text(retriever, question, answer, articles), **_grade_short(question, answer))


def _grade_short(question: Question, answer: Answer) -> dict[str, Any]:
    # `Answer.short` is None when no phrase was confident enough to show (or the answerer makes none).
    short = getattr(answer, "short", None)
    graded: dict[str, Any] = {"factoid": question_type(question.text) != "other", "short": short is not None}
    if short is not None:
        graded["short_exact"] = any(exact_match(short.text, gold) for gold in question.answers)
        graded["short_f1"] = max((token_f1(short.text, gold) for gold in question.answers), default=0.0)
    return graded


def _grade_text(retriever: Retriever, question: Question, answer: Answer, articles: dict[str, str]) -> _Graded:
    if answer.answerer == "llm":
        # A generated answer is graded on what it says, not on the passage spans it cites.
        from qa.llm.prompt import parse_claims

        kept = [c.text for c in parse_claims(answer.text)] if not answer.abstained else []
        return _Graded(
            split=split_of(question.article_id),
            hit=any(answer_contains(" ".join(kept), gold) for gold in question.answers),
            first_hit=bool(kept) and any(answer_contains(kept[0], gold) for gold in question.answers),
            words=sum(len(s.split()) for s in kept), abstained=answer.abstained, spans_exact=True,
            kept=len(kept), removed=len(answer.removed),
        )
    sentences = [c.sentence for c in answer.citations]
    exact = True
    for citation in answer.citations:
        if citation.article_id not in articles:
            articles[citation.article_id] = retriever.article(citation.article_id).text
        exact = exact and articles[citation.article_id][citation.start:citation.end] == citation.sentence
    return _Graded(
        split=split_of(question.article_id),
        hit=any(answer_contains(" ".join(sentences), gold) for gold in question.answers),
        first_hit=bool(sentences) and any(answer_contains(sentences[0], gold) for gold in question.answers),
        words=sum(len(s.split()) for s in sentences),
        abstained=answer.abstained,
        spans_exact=exact,
        removed=len(answer.removed),
        fell_back=answer.note.startswith("extractive answer"),
    )


def run_answer_eval(
    data: str | Path,
    *,
    modes: Sequence[str] = (Settings.mode,),
    k: int = 5,
    distractors: str | Path | None = None,
    limit: int = 5000,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    keep: bool = False,
    progress: Callable[[BuildProgress], None] | None = None,
    answerers: Sequence[str | Answerer | AnswererFactory] | None = None,
    questions_limit: int | None = None,
) -> list[AnswerEvalResult]:
    """Index the paragraphs of `data` (with distractors), then answer every question in each mode, by each answerer.

    `answerers` default to the settings' one; `questions_limit` keeps that many questions, spread evenly over the file.
    """
    articles, questions = load_squad(data)
    if questions_limit is not None and 0 < questions_limit < len(questions):
        step = len(questions) / questions_limit
        questions = [questions[int(i * step)] for i in range(questions_limit)]
    options = {"distractors": distractors, "limit": limit, "settings": settings, "workdir": workdir, "keep": keep,
               "progress": progress}
    with _indexed(articles, **options) as retriever:
        results = []
        for choice in answerers or [(settings or Settings()).answerer]:
            answerer = make_answerer(choice, retriever.embedder)
            results += [result for mode in modes for result in evaluate_answers(retriever, questions, mode=mode, k=k, answerer=answerer)]
        return results


def calibrate_abstention(
    data: str | Path,
    *,
    answerable_abstention: float = 0.025,
    k: int = 5,
    mode: str = Settings.mode,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    cross_script: bool = False,
) -> AbstentionCalibration:
    """Fit the answerer's `min_support` on the calibration half of SQuAD-format data.

    Answerable: each question asked of an index of every paragraph. Unanswerable:
    each question asked of an index of the other half's paragraphs only, so its
    own paragraph is absent. The threshold is the support (the best sentence's
    score) under which `answerable_abstention` of the answerable calibration
    questions fall; both rates are then reported on the held-out half too.
    This is how `qa.extractive.MIN_SUPPORT` was set (on XQuAD-ar); rerun it for another model.

    With `cross_script`, for data whose questions are written in another script than
    its paragraphs (xquad.en-questions.dev.json: English over Arabic), the threshold is
    fitted the same way and given as `qa.extractive.MIN_SUPPORT_CROSS_SCRIPT` is written:
    on the cross-script scale, before the answerer moves such scores onto `MIN_SUPPORT`'s.
    """
    articles, questions = load_squad(data)
    settings = settings or Settings()
    embedder = Embedder.from_settings(settings)
    # The threshold fitted is the extractive answerer's own `min_support`; here it must abstain never.
    answerer = ExtractiveAnswerer(embedder, min_support=-math.inf)
    support: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        corpora = {"all": articles, **{half: [a for a in articles if split_of(a.id) != half] for half in SPLITS[1:]}}
        for name, corpus in corpora.items():
            index = build_eval_index(corpus, Path(tmp) / name, settings=settings, embedder=embedder)
            asked = questions if name == "all" else [q for q in questions if split_of(q.article_id) == name]
            with Retriever.load(index, embedder=embedder) as retriever:
                for start in range(0, len(asked), _BATCH):
                    batch = asked[start:start + _BATCH]
                    for question, hits in zip(batch, retriever.search_many([q.text for q in batch], k=k, mode=mode)):
                        answer = answerer.answer(question.text, hits, language=detect_language(question.text))
                        score = answer.citations[0].score if answer.citations else -math.inf
                        support.setdefault((split_of(question.article_id), name == "all"), []).append(score)
    answerable = sorted(support[("calibration", True)])
    threshold = answerable[int(answerable_abstention * len(answerable))]

    def below(scores: list[float]) -> float:
        return sum(s < threshold for s in scores) / len(scores) if scores else 0.0

    return AbstentionCalibration(
        threshold=threshold - (qa.extractive.MIN_SUPPORT - qa.extractive.MIN_SUPPORT_CROSS_SCRIPT) if cross_script else threshold,
        answerable_abstention=below(support[("calibration", True)]),
        unanswerable_abstention=below(support.get(("calibration", False), [])),
        held_out_answerable_abstention=below(support.get(("held-out", True), [])),
        held_out_unanswerable_abstention=below(support.get(("held-out", False), [])),
    )
