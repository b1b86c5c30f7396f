"""HTML of the chat messages and the sources panel; every piece of text is escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from qa.records import Answer, Article
from qa.text import format_published, text_direction
from qa.web.errors import Problem
from qa.web.request import strip_bidi_controls

_MARKER = re.compile(r"\[(\d{1,3})\]")

EMPTY_PANEL = '<div class="qa-sources" dir="rtl"><p class="qa-empty">ستظهر هنا المقاطع التي يستشهد بها الجواب، والجملة المستشهد بها مظللة.</p></div>'
PENDING = '<div class="qa-msg qa-pending" dir="rtl">… جارٍ البحث في المقالات</div>'


def esc(text: str | None) -> str:
    """`text` escaped for HTML, bidi controls dropped."""
    return html.escape(strip_bidi_controls(text or ""), quote=True)


def _lines(text: str) -> str:
    """Escaped text with its line breaks kept (no blank line, so Markdown never parses it)."""
    return "<br>".join(esc(line) for line in text.strip().split("\n"))


def source_id(turn: int, number: int) -> str:
    """The id of a source card in the panel, the target of the answer's marker `[number]`."""
    return f"qa-src-{turn}-{number}"


def user_message(question: str) -> str:
    return f'<div class="qa-msg qa-question" dir="{text_direction(question)}">{_lines(question)}</div>'


def answer_message(answer: Answer, turn: int) -> str:
    """The answer, its markers `[n]` linked to their source cards (markers without a citation stay text)."""
    numbers = {c.number for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in numbers:
            return match.group(0)
        return f'<a class="qa-cite" href="#{source_id(turn, number)}" title="المصدر {number}">[{number}]</a>'

    text = _MARKER.sub(link, _lines(answer.text))
    short = answer.short
    # A when-answer opens with its date written for the reader («الثلاثاء 8 مايو 2018»), other short answers with their words.
    written = (short.display or short.text) if short is not None else ""
    if written and "\n" not in written and answer.text.startswith(written):
        # The phrase that answers opens the text: shown apart, before the sentences that support it.
        lead = _lines(written)
        shown = f'<time datetime="{esc(short.date)}">{lead}</time>' if short.date else lead
        title = f"الإجابة المختصرة: «{short.text}» في المقال" if short.display else "الإجابة المختصرة"
        text = f'<strong class="qa-short" title="{esc(title)}">{shown}</strong>{_MARKER.sub(link, _lines(answer.text)[len(lead):])}'
    text += timeline_list(answer, turn)
    note = ""
    if answer.search_query and answer.search_query.strip() != answer.question.strip():
        note = f'<div class="qa-note" dir="rtl">بحثت عن: <bdi>{esc(answer.search_query)}</bdi></div>'
    note += _answerer_note(answer)
    kind = "qa-answer qa-abstained" if answer.abstained else "qa-answer"
    kind += " qa-generated" if answer.answerer == "llm" else ""
    return f'<div class="qa-msg {kind}" dir="{text_direction(answer.text)}" lang="{esc(answer.language)}">{text}{note}</div>'


def timeline_list(answer: Answer, turn: int) -> str:
    """The answer's timeline as a list, oldest first: each line's date, sentence, outlets and `[n]` linked to its source.

    Right to left when the question is Arabic; each sentence keeps its own direction. Empty without a timeline.
    """
    if not answer.timeline:
        return ""
    numbers = {c.number for c in answer.citations}
    direction = "rtl" if answer.language == "ar" else text_direction(answer.question)
    comma = "، " if direction == "rtl" else ", "
    items = []
    for entry in answer.timeline:
        marker = f"[{entry.citation}]"
        if entry.citation in numbers:
            marker = f'<a class="qa-cite" href="#{source_id(turn, entry.citation)}" title="المصدر {entry.citation}">{marker}</a>'
        # A line dated by its article's publication day (its sentence names no time) says so on hover.
        kind, note = (" qa-tl-published", ' title="تاريخ نشر المقال؛ الجملة لا تذكر يوما"') if entry.certainty == "published" else ("", "")
        sites = f' <span class="qa-tl-sites">({esc(comma.join(entry.sites))})</span>' if entry.sites else ""
        items.append(
            f'<li class="qa-tl-line{kind}"><time class="qa-tl-date" datetime="{esc(entry.date)}"{note}>{esc(entry.date_text)}</time> '
            f'<span class="qa-tl-sentence" dir="{text_direction(entry.sentence)}">{esc(entry.sentence)}</span>{sites} {marker}</li>'
        )
    return f'<ol class="qa-timeline" dir="{direction}" lang="{esc(answer.language)}">{"".join(items)}</ol>'


def _answerer_note(answer: Answer) -> str:
    """What the reader must know about a generated answer: verified, sentences removed, or why extraction answered."""
    parts = []
    if answer.answerer == "llm" and not answer.abstained:
        parts.append('<div class="qa-note qa-verified" dir="rtl">✓ إجابة مولّدة؛ كل جملة فيها تحقّقنا من أن المقطع الذي تستشهد به يدعمها.</div>')
    if answer.note.startswith("extractive answer"):
        parts.append(
            '<div class="qa-note qa-fallback" dir="rtl">⚠ تعذّرت الإجابة المولّدة، فهذه جمل منقولة من المقالات. '
            f'<bdi dir="ltr">{esc(answer.note)}</bdi></div>'
        )
    if answer.removed:
        items = "".join(
            f'<li><bdi>{esc(r.sentence)}</bdi> <span class="qa-why" dir="ltr">({esc(r.reason)})</span></li>' for r in answer.removed
        )
        parts.append(
            f'<details class="qa-note qa-removed" dir="rtl"><summary>حُذفت {len(answer.removed)} جملة مولّدة لا تدعمها المقاطع</summary>'
            f"<ul>{items}</ul></details>"
        )
    return "".join(parts)


def streaming_message(text: str) -> str:
    """A generated answer as it is being written: escaped, marked as not yet verified."""
    return (
        f'<div class="qa-msg qa-answer qa-streaming" dir="{text_direction(text)}">{_lines(text)}'
        '<div class="qa-note" dir="rtl">… يُكتب الآن، ولم يُتحقَّق منه بعد</div></div>'
    )


def error_message(problem: Problem) -> str:
    return (
        f'<div class="qa-msg qa-error" dir="rtl"><strong>⚠ {esc(problem.headline)}</strong>'
        f'<div dir="{text_direction(problem.detail)}">{_lines(problem.detail)}</div></div>'
    )


def _highlight(text: str, start: int, end: int, inner: tuple[int, int] | None = None) -> str:
    """Escaped `text` with `text[start:end]` in a <mark>; the whole text unmarked when the span is off.

    `inner`, a span of `text` inside the marked one, is marked again (the short answer in its sentence).
    """
    if not 0 <= start < end <= len(text):
        return _lines(text)
    marked = _piece(text[start:end])
    if inner is not None and start <= inner[0] < inner[1] <= end:
        a, b = inner[0] - start, inner[1] - start
        piece = text[start:end]
        marked = f'{_piece(piece[:a])}<mark class="qa-short-hl">{_piece(piece[a:b])}</mark>{_piece(piece[b:])}'
    return f'{_piece(text[:start])}<mark class="qa-hl">{marked}</mark>{_piece(text[end:])}'


def _piece(text: str) -> str:
    """Part of a text, escaped, its line breaks kept and its spaces too (they separate it from the marked part)."""
    return "<br>".join(esc(line) for line in text.split("\n"))


def _short_in(answer: Answer, number: int, start: int, end: int, base: int) -> tuple[int, int] | None:
    """Where the short answer (or an outlet's figure) lies in the sentence `[number]` at article span [start, end), relative to `base`."""
    spans = [(answer.short.citation, answer.short.start, answer.short.end)] if answer.short is not None else []
    spans += [(f.citation, f.start, f.end) for f in answer.figures]
    for citation, span_start, span_end in spans:
        if citation == number and start <= span_start < span_end <= end:
            return span_start - base, span_end - base
    return None


def _meta(site: str | None, agency: str | None, published: str | None, score: float | None, language: str) -> str:
    parts = [esc(x) for x in (site, agency) if x]
    if published:
        # the reader's date («15 مايو 2018»), the ISO value kept for machines
        parts.append(f'<time datetime="{esc(published)}">{esc(format_published(published, language))}</time>')
    if score is not None:
        parts.append(f'<span class="qa-score">الدرجة <bdi dir="ltr">{score:.3f}</bdi></span>')
    return " · ".join(parts)


def _link(url: str | None) -> str:
    if not url or not re.match(r"https?://", url, re.IGNORECASE):
        return ""
    return f'<a class="qa-url" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">الرابط الأصلي ↗</a>'


def sources_section(turn: int, answer: Answer, articles: dict[str, Article]) -> str:
    """The sources of one answer: each cited passage with its sentence highlighted, and its article."""
    cards = []
    for c in answer.citations:
        offset = c.start - c.passage_start
        sentence_end = c.end - c.passage_start
        if not (0 <= offset < sentence_end <= len(c.passage_text)) or c.passage_text[offset:sentence_end] != c.sentence:
            found = c.passage_text.find(c.sentence)
            offset, sentence_end = (found, found + len(c.sentence)) if found >= 0 else (0, 0)
        # The short answer's span is in article offsets; the passage holds the sentence at `offset`.
        inner = _short_in(answer, c.number, c.start, c.end, c.start - offset)
        article = articles.get(c.article_id)
        whole = ""
        if article is not None:
            body = (
                _highlight(article.text, c.start, c.end, _short_in(answer, c.number, c.start, c.end, 0))
                if article.text[c.start:c.end] == c.sentence else _lines(article.text)
            )
            whole = (
                f'<details class="qa-article"><summary>المقال كاملا</summary>'
                f'<div class="qa-article-text" dir="{text_direction(article.text)}">{body}</div></details>'
            )
        cards.append(
            f'<article class="qa-src" id="{source_id(turn, c.number)}" dir="{text_direction(c.passage_text)}">'
            f'<header><span class="qa-num">[{c.number}]</span> <span class="qa-title">{esc(c.title)}</span></header>'
            f'<div class="qa-meta">{_meta(c.site, c.agency, c.published, c.score, answer.language)}</div>'
            f'<p class="qa-passage">{_highlight(c.passage_text, offset, sentence_end, inner)}</p>'
            f"{whole}{_link(c.url)}</article>"
        )
    if not answer.citations:
        heading = "أقرب المقاطع (لا إجابة)"
        for rank, hit in enumerate(answer.hits, start=1):
            cards.append(
                f'<article class="qa-src qa-near" dir="{text_direction(hit.text)}">'
                f'<header><span class="qa-num">{rank}.</span> <span class="qa-title">{esc(hit.title)}</span></header>'
                f'<div class="qa-meta">{_meta(hit.site, hit.agency, hit.published, hit.score, answer.language)}</div>'
                f'<p class="qa-passage">{_lines(hit.text)}</p>{_link(hit.url)}</article>'
            )
    else:
        heading = "المصادر"
    question = f'<div class="qa-turn-q" dir="{text_direction(answer.question)}">{esc(answer.question)}</div>'
    return f'<section class="qa-turn" data-turn="{turn}"><h4>{heading}</h4>{question}{"".join(cards)}</section>'


def sources_panel(sections: Sequence[str]) -> str:
    """The newest answer's sources open, older ones folded."""
    if not sections:
        return EMPTY_PANEL
    newest, older = sections[-1], sections[:-1]
    folded = "".join(
        f'<details class="qa-older"><summary>سؤال سابق ({i})</summary>{s}</details>'
        for i, s in reversed(list(enumerate(older, start=1)))
    )
    return f'<div class="qa-sources" dir="rtl">{newest}{folded}</div>'
