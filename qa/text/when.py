"""Time in a question: the dates it asks about, and whether it wants the latest state or a timeline."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qa.errors import DateError
from qa.text.dates import (
    LANGUAGES,
    UNRESOLVED,
    TimeExpression,
    find_dates_on,
    find_invalid_dates,
    format_range,
    published_date,
)
from qa.text.language import detect_language
from qa.text.words import content_words, split_words


@dataclass(frozen=True)
class QuestionTime:
    """What a question says about time, anchored on `reference` (the newest article, or the caller's `now`).

    `since` and `until` bound the publication dates it asks about, both days included (both None
    when it names no time; `since` None for "before 2017"; "since 14 May" ends at the reference). `words` are the question's time words as written, `label` says the span for the
    reader («مقالات 8–15 مايو 2018», "articles 8–15 May 2018"). `latest` marks a question about
    the current state (آخر، أحدث، حاليا، الآن, latest, current, dernières), `timeline` one about a
    story's course (تطورات، ماذا حدث، ما قصة, timeline, chronologie).
    """

    since: dt.date | None
    until: dt.date | None
    words: tuple[str, ...]
    label: str | None
    latest: bool
    timeline: bool
    reference: dt.date
    language: str

    @property
    def filtered(self) -> bool:
        """Whether the question names dates (so retrieval should keep to them)."""
        return self.since is not None or self.until is not None


_LABEL = {"ar": "مقالات {}", "en": "articles {}", "fr": "articles {}"}
_LABEL_UNTIL = {"ar": "مقالات حتى {}", "en": "articles until {}", "fr": "articles jusqu'au {}"}

_LATEST = re.compile(
    r"(?<!\w)(?:آخر|اخر|أحدث|احدث|أخير|الأخيرة|الاخيرة|حاليا|حالياً|الآن|الان|حتى\s+الآن|حتى\s+الان|الراهن|الراهنة|مؤخرا|مؤخراً)(?!\w)"
    # "الوضع الحالي", "الرئيس الحالي", but not "الشهر الحالي" (a time, not the current state)
    r"|(?<!الشهر\s)(?<!العام\s)(?<!السنة\s)(?<!الأسبوع\s)(?<!الاسبوع\s)(?<!\w)(?:الحالي|الحالية)(?!\w)"
    r"|\b(?:latest|current|currently|now|most\s+recent|recent|recently|so\s+far|as\s+of\s+now)\b"
    r"|\b(?:dernières|derniers|dernière\s+(?:nouvelle|information|situation)|actuel|actuelle|actuellement|maintenant|récent|récentes)\b",
    re.IGNORECASE,
)
_TIMELINE = re.compile(
    r"(?<!\w)(?:تطورات|التطورات|تطور|ماذا\s+حدث|ما\s+الذي\s+حدث|ماذا\s+جرى|ما\s+قصة|تسلسل|التسلسل\s+الزمني|مراحل|كيف\s+تطورت|كيف\s+تطور|خط\s+زمني|تطور\s+(?:قضية|أزمة|ملف))(?!\w)"
    r"|\b(?:timeline|what\s+happened|what\s+has\s+happened|how\s+did\s+.+\s+unfold|chronology|history\s+of|sequence\s+of\s+events)\b"
    r"|\b(?:chronologie|que\s+s'est-il\s+passé|qu'est-ce\s+qui\s+s'est\s+passé|historique)\b",
    re.IGNORECASE,
)
# A latest-state cue with the news words it governs ("آخر الأخبار عن", "أحدث التطورات في", "latest news on",
# "dernières nouvelles du"): what the question wants to be new, not what it is about. Searched for, "الأخبار"
# finds a newsroom shooting and "أحدث" an app's "latest version" (June 2018 newsroom dev, la57 and la58).
_NEWS_WORDS = (r"(?:\s+(?:ال)?(?:أخبار|اخبار|تطورات|مستجدات|معلومات|أنباء|انباء)"
               r"|\s+(?:news|developments|updates?|nouvelles|informations|évolutions|développements))")
_CUE = re.compile(
    rf"(?:{_LATEST.pattern})(?:{_NEWS_WORDS}(?:\s+(?:عن|في|بشأن|حول|من|on|about|in|of|from|du|de\s+la|de|des|sur|concernant)(?!\w))?"
    rf"|\s+(?:عن|بشأن|حول|on|about|sur|concernant)(?!\w))?",
    re.IGNORECASE,
)
# A timeline cue with what it governs ("ما تطورات", "Give me a timeline of", "Chronologie de la"): searched for,
# "تطورات" finds every "ويأتي هذا التطور" of a story's background (June 2018 newsroom dev, ti68 and ti70).
_TIMELINE_CUE = re.compile(
    rf"(?:(?:give\s+me\s+)?(?:a\s+|the\s+)?(?:{_TIMELINE.pattern})(?:\s+(?:of|de\s+la|de|du|des)(?!\w))?)",
    re.IGNORECASE,
)


def topic(question: str) -> str:
    """`question` without its latest-state and timeline cues: the words to search its story by.

    "ما آخر الأخبار عن معركة الحديدة؟" → "ما معركة الحديدة؟"; "Who is Spain's prime minister now?" →
    "Who is Spain's prime minister?"; "ما تطورات أزمة السفينة؟" → "ما أزمة السفينة؟". A question that
    is only cues is kept whole.
    """
    stripped = _TIMELINE_CUE.sub(" ", _CUE.sub(" ", question))
    stripped = re.sub(r"\s+([?؟.!])", r"\1", re.sub(r"\s{2,}", " ", stripped)).strip()
    return stripped if content_words(split_words(stripped)) else question


# "آخر 3 أيام", "the last 7 days", "les 3 derniers jours": a window back from the reference.
_WINDOW = re.compile(
    r"(?<!\w)(?:(?:خلال|في)\s+)?(?:آخر|اخر)\s*(?P<n>\d+|ثلاثة|أربعة|خمسة|سبعة|عشرة)?\s*(?P<unit>أيام|يوما|يومًا|أسابيع|أسبوعا|أشهر|شهور|ساعة|يوم|أسبوع|شهر)(?:\s+(?:الأخيرة|الماضية))?(?!\w)"
    r"|(?<!\w)(?:خلال|في)\s+(?:الـ?\s*)?(?P<n2>\d+)\s*(?P<unit2>أيام|يوما|أسابيع|أشهر|ساعة)\s+(?:الأخيرة|الماضية)(?!\w)"
    r"|\b(?:in\s+|over\s+|during\s+)?the\s+(?:last|past)\s+(?P<n3>\d+|two|three|seven|ten)?\s*(?P<unit3>days?|weeks?|months?|24\s+hours)\b"
    r"|\b(?:les|ces)\s+(?P<n4>\d+)?\s*(?:derniers|dernières)\s+(?P<unit4>jours|semaines|mois)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = {"ثلاثة": 3, "أربعة": 4, "خمسة": 5, "سبعة": 7, "عشرة": 10, "two": 2, "three": 3, "seven": 7, "ten": 10}
_UNIT_DAYS = {"يوم": 1, "أيام": 1, "يوما": 1, "يومًا": 1, "day": 1, "days": 1, "jours": 1, "ساعة": 1, "24 hours": 1,
              "أسبوع": 7, "أسابيع": 7, "أسبوعا": 7, "week": 7, "weeks": 7, "semaines": 7,
              "شهر": 30, "أشهر": 30, "شهور": 30, "month": 30, "months": 30, "mois": 30}
# "الأسبوع الماضي" in a question is the seven days up to the reference, as "last week" is asked of news.
_PAST_WEEK = re.compile(r"(?:الأسبوع|الاسبوع)\s+(?:الماضي|المنصرم|الفائت)|last\s+week|la\s+semaine\s+(?:dernière|passée)",
                        re.IGNORECASE)
_SINCE = re.compile(r"(?:منذ|بعد|ابتداء\s+من|اعتبارا\s+من|since|after|depuis|après|à\s+partir\s+du?)\s*$", re.IGNORECASE)
_UNTIL = re.compile(r"(?:حتى|قبل|لغاية|إلى|until|till|before|by|jusqu'au|jusqu'à|avant)\s*$", re.IGNORECASE)


def reference_date(now: dt.date | dt.datetime | str, *, today: dt.date | None = None) -> dt.date:
    """The day a question's relative words count from.

    Args:
        now: a date, a datetime or an ISO 8601 / RFC 2822 string (its own calendar day is used).
        today: the real current day, which the reference may not pass (default: the system's).

    Raises:
        DateError: `now` does not parse, or lies after `today` (an archive has no future articles).
    """
    if isinstance(now, dt.datetime):
        day = now.date()
    elif isinstance(now, dt.date):
        day = now
    elif isinstance(now, str) and now.strip():
        try:
            day = published_date(now)
        except DateError as error:
            raise DateError(f"now {now!r} is not a date: expected ISO 8601 such as 2018-05-15") from error
    else:
        raise DateError(f"now {now!r} is not a date: expected ISO 8601 such as 2018-05-15")
    assert day is not None
    limit = today or dt.date.today()
    if day > limit:
        raise DateError(f"now {day.isoformat()} is in the future (today is {limit.isoformat()}); give a past or present day")
    return day


def newest_day(published: Iterable[str | None]) -> dt.date | None:
    """The newest publication day among articles' `published` values: the default reference of a question.

    Undated articles are skipped; None when no article is dated.

    Raises:
        DateError: a value is present but is not a date (see `qa.text.dates.published_date`).
    """
    days = [day for day in map(published_date, published) if day is not None]
    return max(days, default=None)


def question_times(questions: Sequence[str], now: dt.date | dt.datetime | str, *, language: str | None = None,
                   today: dt.date | None = None) -> list[QuestionTime]:
    """What each question says about time, all anchored on one reference day.

    Args:
        questions: the questions as asked.
        now: the reference day (see `reference_date`): the newest article of the index unless the
            caller gives one.
        language: the label's language ("ar", "en" or "fr"); by default each question's own.
        today: the real current day (default: the system's), which `now` may not pass.

    Raises:
        DateError: `now` is malformed or in the future; a question names a date that cannot be
            ("31 فبراير") or a range that ends before it starts ("بين 15 و1 مايو").
    """
    reference = reference_date(now, today=today)
    if language is not None and language not in LANGUAGES:
        raise DateError(f"no date label for language {language!r}; valid: {', '.join(LANGUAGES)}")
    return [_question_time(question, reference, language) for question in questions]


def question_time(question: str, now: dt.date | dt.datetime | str, *, language: str | None = None,
                  today: dt.date | None = None) -> QuestionTime:
    """What one question says about time; see `question_times`."""
    return question_times([question], now, language=language, today=today)[0]


def _question_time(question: str, reference: dt.date, language: str | None) -> QuestionTime:
    invalid = find_invalid_dates(question)
    if invalid:
        raise DateError(f"the question's date {invalid[0]!r} cannot be: a range that ends before it starts, "
                        f"or a day its month does not have")
    lang = language or detect_language(question)
    if lang not in LANGUAGES:
        lang = "en"
    spans: list[tuple[dt.date | None, dt.date, str]] = []
    taken: list[tuple[int, int]] = []
    for m in _WINDOW.finditer(question):
        n_text = next((g for g in (m.group("n"), m.group("n2"), m.group("n3"), m.group("n4")) if g), None)
        unit = next(g for g in (m.group("unit"), m.group("unit2"), m.group("unit3"), m.group("unit4")) if g)
        unit_days = _UNIT_DAYS.get(re.sub(r"\s+", " ", unit.lower()), 1)
        count = int(n_text) if n_text and n_text.isdigit() else _NUMBER_WORDS.get(n_text or "", 1)
        if unit.lower() in ("24 hours", "ساعة"):
            count = 1
        spans.append((reference - dt.timedelta(days=count * unit_days), reference, m.group(0).strip()))
        taken.append(m.span())
    for found in _archive_dates(question, reference):
        if any(found.start < e and s < found.end for s, e in taken) or found.since is None or found.until is None:
            continue
        since, until = found.since, found.until
        if _PAST_WEEK.fullmatch(found.text.strip()):
            since, until = reference - dt.timedelta(days=7), reference
        # the preposition before the time, or the one its match begins with ("قبل 2017")
        left = question[max(0, found.start - 20):found.start]
        before = next((head for head in (left, left + found.text.split()[0])
                       if _SINCE.search(head) or _UNTIL.search(head)), left)
        if _SINCE.search(before):
            since, until = (until + dt.timedelta(days=1) if re.search(r"(?:بعد|after|après)\s*$", before) else since), reference
        elif _UNTIL.search(before):
            until = since - dt.timedelta(days=1) if re.search(r"(?:قبل|before|avant)\s*$", before) else until
            since = None
        spans.append((since, until, found.text))
    words = tuple(text for _, _, text in spans)
    latest = bool(_LATEST.search(question)) and not _only_window_words(question)
    timeline = bool(_TIMELINE.search(question)) and not re.search(
        r"(?:آخر|اخر|أحدث|احدث)\s+(?:ال)?تطورات|latest\s+developments|dernières\s+évolutions", question, re.IGNORECASE)
    if not spans:
        return QuestionTime(None, None, (), None, latest, timeline, reference, lang)
    starts = [s for s, _, _ in spans]
    since = None if None in starts else min(s for s in starts if s is not None)
    until = max(u for _, u, _ in spans)
    if since is not None and until < since:
        raise DateError(f"the question's dates end ({until.isoformat()}) before they start ({since.isoformat()})")
    if since is None:
        label = _LABEL_UNTIL[lang].format(format_range(until, until, lang))
    else:
        label = _LABEL[lang].format(format_range(since, until, lang))
    return QuestionTime(since, until, words, label, latest, timeline, reference, lang)


def _only_window_words(question: str) -> bool:
    """"آخر 3 أيام" and "the last 7 days" ask for a window, not for the latest state."""
    rest = _WINDOW.sub(" ", question)
    return not _LATEST.search(rest)


def _archive_dates(question: str, reference: dt.date) -> list[TimeExpression]:
    """The question's dates, where a weekday or a day without a year is the last one on or before the reference."""
    out = []
    for found in find_dates_on(question, reference):
        if found.certainty == UNRESOLVED:
            continue
        if found.relative and found.since is not None and found.since > reference and found.since == found.until:
            # "ماذا قال الثلاثاء" or "في 14 مايو" asked of an archive: the past one
            shifted = _previous(found, reference)
            if shifted is not None:
                found = shifted
        out.append(found)
    return out


def _previous(found: TimeExpression, reference: dt.date) -> TimeExpression | None:
    day = found.since
    assert day is not None
    if found.certainty == "weekday":
        back = (reference.weekday() - day.weekday()) % 7
        new = reference - dt.timedelta(days=back)
    elif found.certainty == "year":
        try:
            new = day.replace(year=day.year - 1)
        except ValueError:
            return None
        if new > reference:
            return None
    else:
        return None
    return TimeExpression(found.start, found.end, found.text, new, new, found.certainty, found.relative)
