"""The records the library passes around: articles, passages and search hits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article as ingested.

    `text` is the body as it will be displayed; passages and citations are
    character spans into it. `paragraphs` are the body's paragraphs, in order.
    """

    id: str
    title: str
    text: str
    origin: str
    site: str | None = None
    agency: str | None = None
    published: str | None = None
    url: str | None = None
    category: str | None = None
    author: str | None = None
    summary: str | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [line.strip() for line in self.text.split("\n") if line.strip()]


@dataclass(frozen=True)
class Passage:
    """A window of an article's body: `article.text[start:end] == text`."""

    id: str
    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    embed_text: str


@dataclass(frozen=True)
class Carrier:
    """An article that carries a passage (the same wire story republished by several sites)."""

    article_id: str
    passage_id: str
    title: str
    site: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Hit:
    """A passage returned by a search, with what a reader needs to cite it.

    `score` orders the hits of one search (its scale depends on the mode);
    `similarity` is the cosine between question and passage embeddings, comparable
    across searches. `carriers` lists every article found carrying this passage,
    earliest first (more than one for a wire story republished by several sites).
    """

    passage_id: str
    article_id: str
    ordinal: int
    text: str
    score: float
    start: int
    end: int
    title: str
    origin: str
    site: str | None = None
    agency: str | None = None
    published: str | None = None
    url: str | None = None
    category: str | None = None
    similarity: float = 0.0
    carriers: tuple[Carrier, ...] = field(default=())


@dataclass(frozen=True)
class Filters:
    """Metadata filters, applied before the top k is cut.

    Args:
        sources: keep articles from these sites (case-insensitive); empty keeps all.
        categories: keep articles of these categories; empty keeps all.
        since: keep articles published on or after this ISO date (YYYY-MM-DD) or time.
        until: keep articles published on or before this ISO date or time (a date includes its whole day).
        keep_undated: when a date range is given, keep articles that have no date.
    """

    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    keep_undated: bool = True

    @property
    def active(self) -> bool:
        return bool(self.sources or self.categories or self.since or self.until)


@dataclass(frozen=True)
class Skipped:
    """An input that was not ingested, and why."""

    origin: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.origin if self.line is None else f"{self.origin}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Citation:
    """A source of an answer sentence: `[number]` in the answer text points here.

    `start`/`end` locate the cited sentence in the article's text
    (`article.text[start:end] == sentence`); `passage_start`/`passage_end`
    locate the passage it was found in.
    """

    number: int
    sentence: str
    start: int
    end: int
    passage_id: str
    passage_text: str
    passage_start: int
    passage_end: int
    article_id: str
    title: str
    origin: str
    score: float
    site: str | None = None
    agency: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation."""

    question: str
    answer: str = ""


@dataclass(frozen=True)
class Answer:
    """A composed answer: sentences from the articles, each ending with its `[n]` marker.

    When the passages do not support an answer, `abstained` is true, `text`
    says so in the question's language and `hits` still lists the nearest passages.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    abstained: bool
    language: str
    search_query: str
    # Who composed the answer ("extractive" or "llm"); `note` says why a generated answer fell back
    # to extraction or that sentences were removed, and `removed` lists the generated sentences the
    # verifier removed because the passages they cite do not support them.
    answerer: str = "extractive"
    note: str = ""
    removed: tuple[Removed, ...] = ()
    # The phrase that answers a factoid question, taken from a cited sentence (None: none is confident),
    # and, for a how-many question whose top passages' outlets give different numbers, each outlet's figure.
    short: Short | None = None
    figures: tuple[Figure, ...] = ()
    # What scored the sentences of an extractive answer: the trained reader's name (file and sha256
    # prefix, as `qa.reader.load_reader` gives it) or "hand-set scores"; empty where nothing scored.
    reader: str = ""
    # For a story's course (a timeline question, or `timeline=True`): one dated line per event, oldest first.
    timeline: tuple[TimelineEntry, ...] = ()
    # For a question that names dates ("في 14 مايو", "last week"): the publication days retrieval kept to,
    # for people («مقالات 8–15 مايو 2018») and as ISO days (None: open on that side); empty otherwise.
    searched: str = ""
    searched_since: str | None = None
    searched_until: str | None = None
    # For a latest-state question: «حتى 30 يونيو 2018 (france24)», "as of 30 June 2018 (france24)", the
    # date and site of the passage cited first, the newest of the relevant ones; empty otherwise.
    as_of: str = ""


@dataclass(frozen=True)
class Short:
    """The phrase that answers a factoid question: `article.text[start:end] == text`, inside the sentence cited `[citation]`.

    `kind` is what it is: "date", "number", "person", "place", "name" or "other". For a when-question
    whose words resolve against the article's publication date, `date` is the day or range they denote in
    ISO 8601 (`2018-05-08`, `2018-05-01/2018-05-31`) and `display` that date written for the reader in the
    question's language («الثلاثاء 8 مايو 2018», "Tuesday 8 May 2018"); `text` stays the article's words
    (`الثلاثاء`). Both None otherwise: an undated article's relative words are never resolved by a guess.
    """

    text: str
    start: int
    end: int
    article_id: str
    citation: int
    kind: str
    date: str | None = None
    display: str | None = None


@dataclass(frozen=True)
class Figure:
    """One outlet's figure for a how-many question: `value` as written (`article.text[start:end] == value`), read as `number` `unit`.

    `sentence` is the sentence it is read from, cited `[citation]` in the answer.
    """

    value: str
    number: float
    unit: str
    site: str | None
    published: str | None
    citation: int
    sentence: str
    start: int
    end: int
    article_id: str


@dataclass(frozen=True)
class Removed:
    """A generated sentence left out of an answer: what it said, the passages it cited, why it failed."""

    sentence: str
    cited: tuple[int, ...]
    support: float
    reason: str


@dataclass(frozen=True)
class TimelineEntry:
    """One event of a story's timeline: the sentence that reports it, cited `[citation]`, and its date.

    `article.text[start:end] == sentence` for the article `article_id` (its passage `passage_id`). `date`
    is the event's day or range in ISO 8601 (`2018-06-24`, `2018-06-01/2018-06-30`), `date_text` the same
    for people in the question's language («24 يونيو 2018»). `certainty` is how it was found: one of
    `qa.text.dates.CERTAINTIES` when the sentence's own words give it (`when_start`/`when_end`, article
    offsets, locate them), or "published" when the sentence names no time and the article's publication
    day stands in. `sites` lists every outlet that carried the story (wire copies collapsed into this
    line), `articles` their article ids, this one first.
    """

    date: str
    date_text: str
    sentence: str
    start: int
    end: int
    article_id: str
    passage_id: str
    title: str
    sites: tuple[str, ...]
    citation: int
    certainty: str
    published: str | None = None
    url: str | None = None
    articles: tuple[str, ...] = ()
    when_start: int | None = None
    when_end: int | None = None
