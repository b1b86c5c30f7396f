"""Time expressions in news text (Arabic, English, French), resolved against the article's publication date.

Over 500 lines: one grammar of time expressions; its patterns and their resolution are read together.
"""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.errors import DateError

# Why our own rules: on the 300 hand-dated ANT expressions (benchmarks/bench_dates.py), dateparser
# 1.5 (search_dates, languages=["ar"], anchored on the publication time) was right on 27.6% of
# those it resolved (41.7% of the one-day ones) at 4 ms of CPU a sentence (ours: 0.35): it has no ranges (a year or
# "last week" becomes one day), reads "الخميس المقبل" as last Thursday, "أول أمس" as yesterday,
# and misses "14 مايو/أيار". Puckling (Duckling's port, Arabic included) needs Python 3.13;
# datefinder, ctparse and parsedatetime have no Arabic. These rules: 96.7% on the held-out half.

EXACT = "exact"
"""The day is written, or follows from the publication date by counting days (أمس, غدا, today)."""
WEEKDAY = "weekday"
"""The day is inferred from a weekday name: the nearest such day before (or, for a coming event, after) publication."""
YEAR = "year"
"""Day and month are written; the year is the one that puts the date nearest the publication date."""
RANGE = "range"
"""A week, month, quarter, year or a written span: `since` and `until` are its first and last days."""
UNRESOLVED = "unresolved"
"""A relative expression in an undated article, or one the sentence does not fix: kept as words, never guessed."""
CERTAINTIES = (EXACT, WEEKDAY, YEAR, RANGE, UNRESOLVED)


@dataclass(frozen=True)
class TimeExpression:
    """A time expression found in a text: `text == source[start:end]`.

    `since` and `until` are the first and last day it denotes (equal for one day), both None when
    it is `UNRESOLVED`. `relative` says whether it needed the publication date (a weekday, أمس,
    "last month", a day and month without a year).
    """

    start: int
    end: int
    text: str
    since: dt.date | None
    until: dt.date | None
    certainty: str
    relative: bool

    @property
    def day(self) -> dt.date | None:
        """The one day it denotes, or None for a range or an unresolved expression."""
        return self.since if self.since is not None and self.since == self.until else None


# -- the publication date ------------------------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def published_date(published: str | None) -> dt.date | None:
    """The calendar day of a `published` value, in the time zone it is written in.

    The article's own "today" and "yesterday" are the newsroom's, so a time such as
    `2018-05-08T23:30:00-05:00` is 8 May, not 9 May in UTC.

    Args:
        published: ISO 8601 (`2018-05-08`, `2018-05-08T13:50:28+00:00`, `...Z`) or RFC 2822
            (`Tue, 08 May 2018 13:50:28 GMT`); None or blank for an undated article.

    Returns:
        The day, or None when the article is undated.

    Raises:
        DateError: `published` is present but is not a date or time in those forms.
    """
    if published is None or not published.strip():
        return None
    value = published.strip()
    try:
        if _ISO_DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
        if _ISO_DATE.match(value):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")).date()
        return email.utils.parsedate_to_datetime(value).date()
    except (ValueError, TypeError, IndexError) as error:
        raise DateError(
            f"published {published!r} is not a date: expected ISO 8601 (2018-05-08 or "
            f"2018-05-08T13:50:28+00:00) or RFC 2822 (Tue, 08 May 2018 13:50:28 GMT)"
        ) from error


def published_day(published: str | None) -> dt.date | None:
    """`published_date`, with None for a `published` that does not parse as well as for none: where an
    unreadable date may only leave its article undated (ingestion is where it is refused, saying why)."""
    try:
        return published_date(published)
    except DateError:
        return None


# -- vocabulary ----------------------------------------------------------------------------

# One character in, one character out: spans found in the normalized copy are spans of the text.
_FOLD = str.maketrans(
    "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹أإآٱىةـ\u00a0",
    "01234567890123456789اااايه_ ",
)


def _fold(text: str) -> str:
    return text.translate(_FOLD)


def _words(names: dict[str, int]) -> tuple[str, dict[str, int]]:
    folded = {_fold(name).lower(): value for name, value in names.items()}
    pattern = "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in sorted(folded, key=len, reverse=True))
    return f"(?:{pattern})", folded


_WEEKDAY_NAMES = {
    "الاثنين": 0, "الإثنين": 0, "الثلاثاء": 1, "الأربعاء": 2, "الخميس": 3, "الجمعة": 4, "السبت": 5, "الأحد": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
}
# Names that are also ordinary words (آب "father", ماي "May" the surname, may, mars) are months
# only beside a day number, a year or their other name.
_MONTH_NAMES_SAFE = {
    "يناير": 1, "فبراير": 2, "مارس": 3, "أبريل": 4, "إبريل": 4, "مايو": 5, "يونيو": 6, "يونيه": 6,
    "يوليو": 7, "يوليه": 7, "أغسطس": 8, "سبتمبر": 9, "أكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    "كانون الثاني": 1, "شباط": 2, "آذار": 3, "نيسان": 4, "أيار": 5, "حزيران": 6, "تموز": 7,
    "أيلول": 9, "تشرين الأول": 10, "تشرين أول": 10, "تشرين الثاني": 11, "تشرين ثاني": 11, "كانون الأول": 12,
    "جانفي": 1, "فيفري": 2, "أفريل": 4, "جوان": 6, "جويلية": 7, "أوت": 8, "نونبر": 11, "دجنبر": 12,
    "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
    "janvier": 1, "février": 2, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "août": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12,
}
_MONTH_NAMES_BOUND = {"آب": 8, "may": 5, "mars": 3, "ماي": 5,
                      "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
                      "oct": 10, "nov": 11, "dec": 12}
WD, _WEEKDAYS = _words(_WEEKDAY_NAMES)
_MS, _MONTHS_SAFE = _words(_MONTH_NAMES_SAFE)
_MB, _MONTHS_BOUND = _words(_MONTH_NAMES_BOUND)
_MONTHS = {**_MONTHS_SAFE, **_MONTHS_BOUND}
# A month as a day's or a year's neighbour: any name, and "مايو/أيار" or "أيار (مايو)" pairs.
_M = rf"(?:{_MS}|{_MB})\.?(?:\s*[/(\-]\s*(?:{_MS}|{_MB})\)?)?"
# A month standing alone ("في مايو الماضي").
_MA = rf"{_MS}(?:\s*[/(\-]\s*(?:{_MS}|{_MB})\)?)?"
_Y = r"(?:1[89]\d\d|20\d\d|21\d\d)"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_B = r"(?<![\w])"  # left word edge (Arabic letters are \w)
_E = r"(?![\w])"
_CL = r"(?:[وفبلك]|وب|ول|فب|فل)?"  # clitics that join the next word
_PAST = _fold("الماضي|الماضية|المنصرم|المنصرمة|الفائت|الفائتة|المنقضي|last|dernier|dernière|passé|passée")
_NEXT = _fold("المقبل|المقبلة|القادم|القادمة|next|prochain|prochaine")
_THIS = _fold("الجاري|الجارية|الحالي|الحالية|هذا|هذه|this|ce|cette|cet")
_MOD = f"(?:{_PAST}|{_NEXT}|{_THIS})"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(_fold(pattern), re.IGNORECASE)


# -- patterns ------------------------------------------------------------------------------
# Each is tried over the folded text; the longest match wins where two overlap. Groups:
# d/m/y (a written date), wd (weekday), rel (a day word), unit + mod (week/month/year),
# part (early/mid/late), y2... for spans.

_PART_AR = "مطلع|بداية|أوائل|أول|منتصف|أواسط|نهاية|أواخر|آخر|ختام"
_PART_EN = "early|mid|late|the end of|the beginning of|the start of|the middle of|début|mi|fin"
_YEARWORD = r"(?:عام|العام|عامي|العامين|سنة|السنة|لعام|للعام|year)"
_TIME_PREP = (r"(?:في|منذ|حتى|بحلول|خلال|قبل|بعد|مطلع|بداية|منتصف|نهاية|أواخر|أوائل|من|إلى|الى|عن|لغاية|وحتى|ومنذ|وفي"
              r"|in|since|until|till|by|from|to|during|before|after|of|through|en|depuis|jusqu'en|avant|après|dès|de|à)")
# Years that name an event or a plan rather than a time ("كأس العالم 2018", "رؤية 2030").
_NAME_BEFORE = re.compile(_fold(
    r"(?:(?:كأس|مونديال|دورة|نسخة|موسم|بطولة|أولمبياد|world\s+cup|olympics|season|coupe|saison)(?:\s+\S+){0,2}"
    r"|رؤية|رؤيه|إكسبو|اكسبو|حرب|ثورة|انتفاضة|vision|expo)\s*(?:لعام|للعام|عام|العام|في\s+\S+)?\s*$"),
    re.IGNORECASE)

_COUNTED = re.compile(_fold(
    r"(?:\s*(?:إلى|الى|و|حتى|to|and|à|-|–)\s*[\d.,]+)?\s*(?:[وف]?(?:شخص|أشخاص|نسمة|دولار|يورو|جنيه|ريال|درهم|دينار|ليرة|برميل|طن|كيلو|متر|ميل|قتيل|جريح|مهاجر|لاجئ|"
    r"جندي|عنصر|مقاتل|طفل|امرأة|مواطن|منزل|صاروخ|سيارة|مليون|مليار|ألف|بالمئة|بالمائة|في\s+المئة|نقطة|حالة|"
    r"people|dollars|euros|percent|per\s+cent|personnes|habitants|morts)\w*|%)"), re.IGNORECASE)

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # 2018-05-14, 14/5/2018, 14.05.2018
    ("iso", _rx(rf"{_B}(?P<y>{_Y})-(?P<m>0?[1-9]|1[0-2])-(?P<d>{_DAY}){_E}")),
    ("numeric", _rx(rf"{_B}(?P<d>{_DAY})[/.\-](?P<m>0?[1-9]|1[0-2])[/.\-](?P<y>{_Y}){_E}")),
    # spans of days in one month: "بين 1 و15 مايو", "من 8 إلى 15 مايو 2018", "8-15 May 2018", "May 8-15"
    ("dayspan", _rx(rf"{_B}(?:(?:بين|من|فيما\s+بين|between|from|du|entre)\s+)?(?:ال|الـ\s*)?(?P<d>{_DAY})\s*(?:و|-|–|إلى|الى|حتى|and|to|au|et)\s*(?:ال|الـ\s*)?(?P<d2>{_DAY})\s*(?:من\s+)?(?:شهر\s+)?(?P<mon>{_M})(?:\s*,?\s*(?:من\s+)?(?:عام|العام)?\s*(?P<y>{_Y})م?)?{_E}")),
    ("dayspan_en", _rx(rf"{_B}(?P<mon>{_M})\s+(?P<d>{_DAY})\s*(?:-|–|to|and)\s*(?P<d2>{_DAY})(?:,?\s+(?P<y>{_Y}))?{_E}")),
    # "14 مايو/أيار 2018", "14 من مايو", "يوم 15 يونيو/حزيران", "le 14 mai", "14th of May, 2018"
    ("daymonth", _rx(rf"{_B}(?:(?:يوم|le|the)\s+)?(?:ال|الـ\s*)?(?P<d>{_DAY}|1er)(?:st|nd|rd|th)?\s*(?:من\s+|of\s+)?(?:شهر\s+)?(?P<mon>{_M})(?:\s*,?\s*(?:من\s+)?(?:عام|العام|سنة)?\s*(?P<y>{_Y})م?)?(?:\s+(?P<mod>{_MOD}))?{_E}")),
    # "May 14, 2018", "May 14th"
    ("monthday", _rx(rf"{_B}(?P<mon>{_M})\s+(?P<d>{_DAY})(?:st|nd|rd|th)?(?:,?\s+(?P<y>{_Y}))?{_E}")),
    # "28 الشهر الجاري", "الـ 20 من الشهر الماضي"
    ("dayofunit", _rx(rf"{_B}(?:يوم\s+)?(?:ال|الـ\s*)?(?P<d>{_DAY})\s+(?:من\s+)?(?:الشهر|شهر)\s+(?P<mod>{_MOD}){_E}")),
    # "مايو 2018", "أيار/مايو من عام 2014", "شهر يونيو/حزيران 2018", "May 2018", "mai 2018"
    ("monthyear", _rx(rf"{_B}(?:(?P<part>{_PART_AR}|{_PART_EN})\s+(?:شهر\s+)?)?{_CL}(?:شهر\s+)?(?P<mon>{_M})\s*,?\s*(?:من\s+)?(?:عام|العام|سنة|of)?\s*(?P<y>{_Y})م?{_E}")),
    # "مايو الماضي", "في مايو", "شهر مايو", "last May", "in May", "en mai"
    ("month", _rx(rf"{_B}(?:(?P<part>{_PART_AR}|{_PART_EN})\s+)?(?:(?P<lead>شهر|في|خلال|منذ|حتى|in|since|until|during|last|next|this|en|depuis)\s+(?:شهر\s+)?)?(?P<mon>{_MA})(?:\s+(?P<mod>{_MOD}))?{_E}")),
    # "الربع الأخير من عام 2016", "النصف الأول من 2018", "the first half of 2018"
    ("yearpart", _rx(rf"{_B}(?P<q>الربع|النصف|the\s+first|the\s+second|the\s+third|the\s+fourth|the\s+last)\s+(?P<which>الأول|الثاني|الثالث|الرابع|الأخير|half|quarter)\s+(?:من\s+|of\s+)?(?:عام\s+|العام\s+)?(?P<y>{_Y}){_E}")),
    # "بين عامي 2013 و2015", "من 2012 إلى 2017", "2013-2015", "between 2013 and 2015"
    ("yearspan", _rx(rf"{_B}(?:(?:بين|من|فيما\s+بين|between|from|entre|de)\s+)?{_YEARWORD}?\s*(?P<y>{_Y})\s*(?:و|-|–|إلى|الى|حتى|and|to|à|et)\s*{_YEARWORD}?\s*(?P<y2>{_Y}){_E}")),
    # "عام 2010", "العام 2004", "في 2017", "منذ 2012", "in 2010", "en 2010", "نهاية 2019"
    ("year", _rx(rf"{_B}(?:(?P<part>{_PART_AR}|{_PART_EN})\s+)?(?:(?P<lead>{_CL}{_YEARWORD}|{_CL}{_TIME_PREP})\s+)(?P<y>{_Y})م?{_E}")),
    ("yearcomma", _rx(rf"{_B}(?P<y>{_Y})م?(?=\s*[،,:]|\s*$){_E}")),
    # weekdays: "الثلاثاء", "يوم الخميس المقبل", "مساء الأحد", "اليوم الاثنين", "أمس (الجمعة)", "last Tuesday", "mardi dernier"
    ("weekday", _rx(rf"{_B}(?:(?P<lead>ليلة|ليل|صباح|مساء|ظهر|ظهيرة|عصر|فجر|نهار|اليوم|أمس|امس|يوم\s+أمس|غدا|غداً|بعد\s+غد|last|next|this|on|ce)\s+\(?)?(?:يوم\s+)?{_CL}(?P<wd>{WD})\)?(?:\s*[-–]\s*(?P<wd2>{WD}))?(?:\s+(?P<mod>{_PAST}|{_NEXT}))?(?:\s+(?P<tod>morning|evening|night|afternoon|matin|soir))?{_E}")),
    # day words: "أمس", "أول أمس", "اليوم", "غدا", "الليلة الماضية", "صباح اليوم", "yesterday", "hier"
    ("relday", _rx(rf"{_B}(?:(?:صباح|مساء|ظهر|ظهيرة|عصر|فجر|ليلة|ليل|نهار|في\s+وقت\s+سابق|في\s+وقت\s+لاحق)\s+)?(?:يوم\s+)?(?:[وف]?(?:ب(?=ال))?)(?P<rel>أول\s+من\s+أمس|أول\s+أمس|أمس|الأمس|البارحة|بعد\s+غد|غدا|غداً|الغد|اليوم|الليلة\s+الماضية|الليلة|the\s+day\s+before\s+yesterday|yesterday|today|tomorrow|tonight|last\s+night|avant-hier|après-demain|aujourd'hui|hier|demain|cette\s+nuit){_E}")),
    # "الأسبوع الماضي", "مطلع الشهر الجاري", "هذا العام", "نهاية الأسبوع الماضي", "last month", "l'an dernier"
    ("unit", _rx(rf"{_B}(?:(?P<part>{_PART_AR}|{_PART_EN})\s+)?(?:(?P<pre>هذا|هذه|this|ce|cette|cet|la|le|l')\s*)?{_CL}(?P<unit>الأسبوع|الاسبوع|الشهر|العام|السنة|week|month|year|semaine|mois|an|année)(?:\s+(?P<mod>{_MOD}))?{_E}")),
    ("unit_en", _rx(rf"{_B}(?:(?P<part>{_PART_EN})\s+)?(?P<mod>last|next|this)\s+(?P<unit>week|month|year){_E}")),
]
_UNITS = {_fold(k): v for k, v in {
    "الأسبوع": "week", "الاسبوع": "week", "week": "week", "semaine": "week",
    "الشهر": "month", "month": "month", "mois": "month",
    "العام": "year", "السنة": "year", "year": "year", "an": "year", "année": "year"}.items()}
_FUTURE_CUE = re.compile(_fold(
    r"(?<!\w)(?:[وف]?(?:سوف|المقرر|المقررة|المنتظر|المتوقع|مقرر|مقررة|يعتزم|تعتزم|يستعد|تستعد|يستضيف|تستضيف|"
    r"يلتقي|تلتقي|يلتقيان|يواجه|تواجه|يخوض|تخوض|يحل|تحل|تنطلق|ينطلق|تقام|يقام|تبدأ|يبدأ|يعقد|تعقد|تجرى|يجرى|"
    r"يلعب|تلعب|يصل|تصل|يزور|تزور|تختتم|يختتم|ستـ?\w+|سي\w{2,}|سن\w{3,})|will|shall|is\s+due|are\s+due|"
    r"scheduled|to\s+be\s+held|va|doit|devra|aura\s+lieu)(?!\w)"), re.IGNORECASE)
# Words that begin like a future verb (س + prefix) but are nouns.
_NOT_FUTURE = re.compile(_fold(
    r"(?<!\w)[وفبل]?(?:سيار|سياس|سيطر|سيد|ستة|ست(?!\w)|ستين|سنة|سنوات|سنوي|سيناء|سيول|سيئ|سير|سيادة|سيف|سيل|ستار|"
    r"ستوديو|سيرغي|سيرجي|سيلفا|سينما|سيمون|ستيف|ستراتيج|سنغافور|سنغال|سنت|سنود)\w*"), re.IGNORECASE)
_DEICTIC_BLOCK_BEFORE = re.compile(_fold(r"(?:ذلك|نفس|ذات|هذا|في|من|إلى|الى|حتى)\s*$"))
_DEICTIC_BLOCK_AFTER = re.compile(_fold(
    r"^\s*(?:التالي|الذي|التي|العالمي|الوطني|الأول|الثاني|الثالث|الرابع|الخامس|الأخير|السابق|نفسه|ذاته|الموعود)"))
_DAY_WORDS = {_fold(k): v for k, v in {
    "أول من أمس": -2, "أول أمس": -2, "the day before yesterday": -2, "avant-hier": -2,
    "أمس": -1, "الأمس": -1, "البارحة": -1, "yesterday": -1, "hier": -1,
    "الليلة الماضية": -1, "last night": -1,
    "اليوم": 0, "الليلة": 0, "today": 0, "tonight": 0, "aujourd'hui": 0, "cette nuit": 0,
    "غدا": 1, "غداً": 1, "الغد": 1, "tomorrow": 1, "demain": 1,
    "بعد غد": 2, "après-demain": 2}.items()}
_LEAD_DAY = {_fold(k): v for k, v in {"أمس": -1, "امس": -1, "يوم أمس": -1, "غدا": 1, "غداً": 1, "بعد غد": 2, "اليوم": 0}.items()}


# -- resolution ----------------------------------------------------------------------------

def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _month_of(text: str) -> int:
    first = re.split(r"\s*[/(\-]\s*", text.strip(" .)"))[0]
    return _MONTHS[_key(first.rstrip("."))]


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _day_of(text: str) -> int:
    return 1 if text.lower() == "1er" else int(text)


def _direction(mod: str | None) -> int:
    if not mod:
        return 0
    mod = _key(mod)
    if re.fullmatch(_PAST, mod):
        return -1
    if re.fullmatch(_NEXT, mod):
        return 1
    return 2  # this / current


def _nearest_year(month: int, day: int, anchor: dt.date, direction: int) -> dt.date | None:
    """The date with this month and day nearest the anchor; on or before it for -1, on or after for +1."""
    candidates = [d for d in (_safe_date(anchor.year + k, month, day) for k in (-1, 0, 1)) if d is not None]
    if direction == 2:
        return _safe_date(anchor.year, month, day)
    if direction == -1:
        candidates = [d for d in candidates if d <= anchor] or candidates
    elif direction == 1:
        candidates = [d for d in candidates if d >= anchor] or candidates
    return min(candidates, key=lambda d: (abs((d - anchor).days), d > anchor)) if candidates else None


_CLAUSE_STOP = re.compile(r"[.!?؟\n]")


def _looks_ahead(folded: str, start: int) -> bool:
    """Whether the clause before a weekday speaks of a coming event (a future verb, "scheduled")."""
    # The clause: back to its stop, at most 90 characters; searched in place, so a cue's word-edge check
    # sees the letter before the window (a window cut mid-word made «استدعت» «ستدعت», a future verb).
    begin = max(0, start - 90)
    stops = [m.end() for m in _CLAUSE_STOP.finditer(folded, begin, start)]
    begin = stops[-1] if stops else begin
    for cue in _FUTURE_CUE.finditer(folded, begin, start):
        if not _NOT_FUTURE.match(folded, cue.start(), start):
            return True
    return False


def _weekday_date(wd: int, anchor: dt.date, direction: int) -> dt.date:
    back = (anchor.weekday() - wd) % 7
    ahead = (wd - anchor.weekday()) % 7
    if direction == -1:
        return anchor - dt.timedelta(days=back or 7)
    if direction == 1:
        return anchor + dt.timedelta(days=ahead or 7)
    if direction == 2:
        return anchor + dt.timedelta(days=ahead)
    return anchor - dt.timedelta(days=back)


def _part_of(part: str | None, since: dt.date, until: dt.date) -> tuple[dt.date, dt.date]:
    """Narrow a span to its early, middle or late third ("مطلع الشهر", "late May")."""
    if not part:
        return since, until
    part = _key(part)
    early = part in {_fold(w) for w in ("مطلع", "بداية", "أوائل", "أول", "early", "the beginning of", "the start of", "début")}
    middle = part in {_fold(w) for w in ("منتصف", "أواسط", "mid", "the middle of", "mi")}
    if since.day == 1 and until == _month_end(since.year, since.month):
        # a month's thirds as newsrooms count them: 1-10, 11-20, 21 to the end
        if early:
            return since, since.replace(day=10)
        if middle:
            return since.replace(day=11), since.replace(day=20)
        return since.replace(day=21), until
    third = max(1, round(((until - since).days + 1) / 3))
    if early:
        return since, since + dt.timedelta(days=third - 1)
    if middle:
        return since + dt.timedelta(days=third), until - dt.timedelta(days=third)
    return until - dt.timedelta(days=third - 1), until


def _unit_span(unit: str, anchor: dt.date, direction: int) -> tuple[dt.date, dt.date]:
    step = {-1: -1, 1: 1}.get(direction, 0)
    if unit == "week":
        monday = anchor - dt.timedelta(days=anchor.weekday()) + dt.timedelta(weeks=step)
        return monday, monday + dt.timedelta(days=6)
    if unit == "month":
        index = anchor.year * 12 + anchor.month - 1 + step
        year, month = divmod(index, 12)
        return dt.date(year, month + 1, 1), _month_end(year, month + 1)
    return dt.date(anchor.year + step, 1, 1), dt.date(anchor.year + step, 12, 31)


def _resolve(kind: str, m: re.Match[str], folded: str, anchor: dt.date | None
             ) -> tuple[dt.date | None, dt.date | None, str, bool] | None:
    """(since, until, certainty, relative) for one match, or None when it is not a time expression."""
    g = m.groupdict()
    if kind in ("iso", "numeric"):
        day = _safe_date(int(g["y"]), int(g["m"]), int(g["d"]))
        return (day, day, EXACT, False) if day else None
    if kind in ("daymonth", "monthday", "dayspan", "dayspan_en"):
        month = _month_of(g["mon"])
        first = _day_of(g["d"])
        last = int(g["d2"]) if g.get("d2") else first
        if last < first:
            return None
        if g.get("y"):
            since, until = _safe_date(int(g["y"]), month, first), _safe_date(int(g["y"]), month, last)
            if since is None or until is None:
                return None
            return since, until, (RANGE if last != first else EXACT), False
        if anchor is None:
            return None, None, UNRESOLVED, True
        since = _nearest_year(month, first, anchor, _direction(g.get("mod")))
        if since is None:
            return None
        until = _safe_date(since.year, month, last)
        if until is None:
            return None
        return since, until, (RANGE if last != first else YEAR), True
    if kind == "dayofunit":
        if anchor is None:
            return None, None, UNRESOLVED, True
        since, _ = _unit_span("month", anchor, _direction(g["mod"]))
        day = _safe_date(since.year, since.month, int(g["d"]))
        return (day, day, EXACT, True) if day else None
    if kind == "monthyear":
        month, year = _month_of(g["mon"]), int(g["y"])
        since, until = _part_of(g.get("part"), dt.date(year, month, 1), _month_end(year, month))
        return since, until, RANGE, False
    if kind == "month":
        if not g.get("lead") and not g.get("mod") and not g.get("part"):
            return None
        if anchor is None:
            return None, None, UNRESOLVED, True
        month = _month_of(g["mon"])
        direction = _direction(g.get("mod"))
        lead = _key(g.get("lead") or "")
        if lead in ("last",):
            direction = -1
        elif lead in ("next",):
            direction = 1
        elif lead in ("this",):
            direction = 2
        first = _nearest_year(month, 1, anchor.replace(day=1), direction)
        if first is None:
            return None
        since, until = _part_of(g.get("part"), first, _month_end(first.year, month))
        return since, until, RANGE, True
    if kind == "yearpart":
        year = int(g["y"])
        q, which = _key(g["q"]), _key(g["which"])
        halves = q == _fold("النصف") or which == "half"
        order = {_fold("الأول"): 1, _fold("الثاني"): 2, _fold("الثالث"): 3, _fold("الرابع"): 4, _fold("الأخير"): 9,
                 "the first": 1, "the second": 2, "the third": 3, "the fourth": 4, "the last": 9}
        n = order.get(which, order.get(q, 1))
        size = 6 if halves else 3
        count = 12 // size
        n = count if n == 9 else min(n, count)
        first_month = (n - 1) * size + 1
        return dt.date(year, first_month, 1), _month_end(year, first_month + size - 1), RANGE, False
    if kind == "yearspan":
        first, last = int(g["y"]), int(g["y2"])
        if last <= first or _NAME_BEFORE.search(folded[max(0, m.start() - 30):m.start()]):
            return None
        return dt.date(first, 1, 1), dt.date(last, 12, 31), RANGE, False
    if kind in ("year", "yearcomma"):
        if _NAME_BEFORE.search(folded[max(0, m.start("y") - 30):m.start("y")]):
            return None
        if _COUNTED.match(folded, m.end()) and not re.search(_fold(_YEARWORD), g.get("lead") or ""):
            return None  # "من 2000 إلى 1900 نسمة": numbers of things, not years
        year = int(g["y"])
        if kind == "yearcomma" and not re.search(r"(?:في|عام|العام|منذ|حتى|in|en)\s*$", folded[max(0, m.start() - 12):m.start()]):
            return None
        since, until = _part_of(g.get("part"), dt.date(year, 1, 1), dt.date(year, 12, 31))
        if g.get("part") and _key(g["part"]) in {_fold(w) for w in ("نهاية", "the end of", "fin")}:
            since = until = dt.date(year, 12, 31)
            return since, until, EXACT, False
        return since, until, RANGE, False
    if kind == "weekday":
        if anchor is None:
            return None, None, UNRESOLVED, True
        wd = _WEEKDAYS[_key(g["wd"])]
        lead = _key(g.get("lead") or "")
        direction = _direction(g.get("mod"))
        if lead in ("last",):
            direction = -1
        elif lead in ("next",):
            direction = 1
        elif lead in ("this", "ce"):
            direction = 0 if not _looks_ahead(folded, m.start()) else 2
        if lead in _LEAD_DAY and not g.get("mod"):
            offset = _LEAD_DAY[lead]
            near = anchor + dt.timedelta(days=offset)
            if near.weekday() == wd:
                return near, near, EXACT, True
            # The day word and the weekday disagree (a quote reported a day or two later: "غدا
            # (الجمعة)" in Saturday's paper): the weekday nearest the publication date wins.
            back, ahead = _weekday_date(wd, anchor, 0), _weekday_date(wd, anchor, 2)
            day = back if (anchor - back) <= (ahead - anchor) else ahead
            return day, day, WEEKDAY, True
        if direction == 0 and _looks_ahead(folded, m.start()):
            direction = 2
        day = _weekday_date(wd, anchor, direction)
        if g.get("wd2"):
            day2 = day + dt.timedelta(days=(_WEEKDAYS[_key(g["wd2"])] - wd) % 7)
            return day, day2, RANGE, True
        return day, day, WEEKDAY, True
    if kind == "relday":
        rel = _key(g["rel"])
        if rel == _fold("اليوم") and (
            _DEICTIC_BLOCK_BEFORE.search(folded[max(0, m.start("rel") - 8):m.start("rel")])
            and not re.search(_fold(r"(?:حتى|من|إلى|الى)\s*$"), folded[max(0, m.start("rel") - 8):m.start("rel")])
            or _DEICTIC_BLOCK_AFTER.match(folded[m.end():m.end() + 12])
        ):
            return None
        if anchor is None:
            return None, None, UNRESOLVED, True
        day = anchor + dt.timedelta(days=_DAY_WORDS[rel])
        return day, day, EXACT, True
    if kind in ("unit", "unit_en"):
        unit = _UNITS.get(_key(g["unit"]))
        mod, pre = g.get("mod"), _key(g.get("pre") or "")
        if unit is None:
            return None
        if not mod:
            if pre not in {_fold(w) for w in ("هذا", "هذه", "this", "ce", "cette", "cet")}:
                return None
            direction = 2
        else:
            direction = _direction(mod)
            if direction == 2 and _key(mod) in {"this", "ce", "cette", "cet", _fold("هذا"), _fold("هذه")}:
                return None  # "العام هذا" is not a phrase; "this" precedes its noun
        if kind == "unit" and _key(g["unit"]) in ("an", "la", "le") and not mod:
            return None
        if anchor is None:
            return None, None, UNRESOLVED, True
        since, until = _unit_span(unit, anchor, direction)
        part = g.get("part")
        if part and unit == "week" and _key(part) in {_fold(w) for w in ("نهاية", "the end of", "fin")}:
            return since + dt.timedelta(days=4), until, RANGE, True  # the weekend: Friday to Sunday
        since, until = _part_of(part, since, until)
        return since, until, RANGE, True
    return None


# -- spans joined into one range -------------------------------------------------------------

_JOIN = re.compile(_fold(r"^\s*(?:و|-|–|إلى|الى|حتى|وحتى|ولغاية|to|until|and|au|à|jusqu'au|et)\s*$"), re.IGNORECASE)
_OPEN = re.compile(_fold(r"(?:بين|من|فيما\s+بين|between|from|du|entre|de)\s*$"), re.IGNORECASE)


def _join_spans(found: list[TimeExpression], text: str, folded: str) -> list[TimeExpression]:
    """ "من 14 يونيو إلى 15 يوليو", "بين أبريل 2014 وأكتوبر 2017": two dated ends become one range."""
    out: list[TimeExpression] = []
    i = 0
    while i < len(found):
        here = found[i]
        if i + 1 < len(found):
            there = found[i + 1]
            gap = folded[here.end:there.start]
            opener = _OPEN.search(folded[max(0, here.start - 12):here.start])
            if (opener and _JOIN.match(gap) and here.since and there.until and here.since <= there.until
                    and here.certainty != UNRESOLVED and there.certainty != UNRESOLVED):
                start = here.start - (len(folded[max(0, here.start - 12):here.start]) - opener.start())
                out.append(TimeExpression(start, there.end, text[start:there.end], here.since, there.until,
                                          RANGE, here.relative or there.relative))
                i += 2
                continue
        out.append(here)
        i += 1
    return out


# -- the front door -------------------------------------------------------------------------

def find_dates_batch(texts: Sequence[str], published: Sequence[str | None]) -> list[list[TimeExpression]]:
    """The time expressions of each text, resolved against its article's publication date.

    Args:
        texts: sentences or whole article bodies.
        published: each text's article `published` value (None for an undated article, whose
            relative expressions come back `UNRESOLVED`, never guessed).

    Returns:
        For each text, its expressions in order of position, none overlapping.

    Raises:
        DateError: a `published` value is present but not a date (see `published_date`), or
            the two sequences differ in length.
    """
    if len(texts) != len(published):
        raise DateError(f"find_dates_batch got {len(texts)} texts and {len(published)} published values; they must pair up")
    anchors = [published_date(value) for value in published]
    return [_find(text, anchor) for text, anchor in zip(texts, anchors)]


def find_dates(text: str, published: str | None) -> list[TimeExpression]:
    """The time expressions of one text; see `find_dates_batch`."""
    return find_dates_batch([text], [published])[0]


def find_dates_on(text: str, anchor: dt.date | None) -> list[TimeExpression]:
    """The time expressions of a text, resolved against a day already parsed (None: undated)."""
    return _find(text, anchor)


# Every expression holds a digit or one of these words; the patterns run only near them, since
# running all of them over whole articles takes twice as long (measured on June 2018 ANT).
_TRIGGER_WORDS = tuple(sorted({_fold(w).lower() for w in (
    *_WEEKDAY_NAMES, *_MONTH_NAMES_SAFE, "أمس", "اليوم", "غدا", "الغد", "الليلة", "البارحة", "الأسبوع", "الاسبوع", "الشهر",
    "العام", "السنة", "today", "yesterday", "tomorrow", "tonight", "night", "hier", "demain", "aujourd", "week", "month",
    "year", "semaine", "mois", " an ", "année", "half", "quarter")}))
_DIGITS = re.compile(r"\d+")
_REACH = 50


def _windows(folded: str) -> list[tuple[int, int]]:
    """Stretches of the text within `_REACH` characters of a digit or a trigger word, merged."""
    lowered = folded.lower()
    if len(lowered) != len(folded):
        return [(0, len(folded))]
    hits = [m.start() for m in _DIGITS.finditer(folded)]
    for word in _TRIGGER_WORDS:
        at = lowered.find(word)
        while at >= 0:
            hits.append(at)
            at = lowered.find(word, at + 1)
    windows: list[tuple[int, int]] = []
    for at in sorted(hits):
        start, end = max(0, at - _REACH), min(len(folded), at + _REACH)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def _find(text: str, anchor: dt.date | None) -> list[TimeExpression]:
    folded = _fold(text)
    candidates: list[tuple[int, int, int, str, re.Match[str]]] = []
    windows = _windows(folded)
    for order, (kind, pattern) in enumerate(_PATTERNS):
        for start, end in windows:
            for m in pattern.finditer(folded, start, end):
                candidates.append((m.start(), m.end(), order, kind, m))
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[2], c[0]))
    taken: list[tuple[int, int]] = []
    found: list[TimeExpression] = []
    for start, end, _, kind, m in candidates:
        if any(start < e and s < end for s, e in taken):
            continue
        resolved = _resolve(kind, m, folded, anchor)
        if resolved is None:
            continue
        since, until, certainty, relative = resolved
        taken.append((start, end))
        if folded[start] in "وف" and folded.startswith("ال", start + 1):
            start += 1  # the conjunction joined to "والعام الماضي" is not part of the time
        found.append(TimeExpression(start, end, text[start:end], since, until, certainty, relative))
    found.sort(key=lambda t: t.start)
    return _join_spans(found, text, folded)


# -- dates for people ----------------------------------------------------------------------

_MONTHS_OUT = {
    "ar": ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}
_WEEKDAYS_OUT = {
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
LANGUAGES = tuple(_MONTHS_OUT)


def _language(language: str) -> str:
    if language not in _MONTHS_OUT:
        raise DateError(f"no date format for language {language!r}; valid: {', '.join(LANGUAGES)}")
    return language


def format_date(day: dt.date, language: str, *, weekday: bool = False) -> str:
    """A day as a reader writes it: «15 مايو 2018», "15 May 2018", "15 mai 2018" (with `weekday`,
    «الثلاثاء 8 مايو 2018», "Tuesday 8 May 2018", "mardi 8 mai 2018").

    Raises:
        DateError: `language` is not one of `LANGUAGES`.
    """
    language = _language(language)
    text = f"{day.day} {_MONTHS_OUT[language][day.month - 1]} {day.year}"
    return f"{_WEEKDAYS_OUT[language][day.weekday()]} {text}" if weekday else text


def format_range(since: dt.date, until: dt.date, language: str) -> str:
    """A span as short as it reads: «8–15 مايو 2018», "30 April – 6 May 2018", "May 2018", "2013–2015".

    Raises:
        DateError: `until` is before `since`, or `language` is not one of `LANGUAGES`.
    """
    language = _language(language)
    if until < since:
        raise DateError(f"the range ends ({until.isoformat()}) before it starts ({since.isoformat()})")
    months = _MONTHS_OUT[language]
    whole_years = since == dt.date(since.year, 1, 1) and until == dt.date(until.year, 12, 31)
    if whole_years:
        return str(since.year) if since.year == until.year else f"{since.year}–{until.year}"
    if since.day == 1 and until == _month_end(until.year, until.month):
        if (since.year, since.month) == (until.year, until.month):
            return f"{months[since.month - 1]} {since.year}"
        if since.year == until.year:
            return f"{months[since.month - 1]} – {months[until.month - 1]} {since.year}"
    if since == until:
        return format_date(since, language)
    if (since.year, since.month) == (until.year, until.month):
        return f"{since.day}–{until.day} {months[since.month - 1]} {since.year}"
    if since.year == until.year:
        return f"{since.day} {months[since.month - 1]} – {until.day} {months[until.month - 1]} {until.year}"
    return f"{format_date(since, language)} – {format_date(until, language)}"


def format_time(found: TimeExpression, language: str, *, weekday: bool = True) -> str | None:
    """What an expression resolved to, for the reader: «الثلاثاء 8 مايو 2018», "30 April – 6 May 2018";
    None when it is `UNRESOLVED` (show its own words instead).

    Raises:
        DateError: `language` is not one of `LANGUAGES`.
    """
    if found.since is None or found.until is None:
        return None
    if found.since == found.until:
        return format_date(found.since, language, weekday=weekday)
    return format_range(found.since, found.until, language)


def format_published(published: str | None, language: str) -> str:
    """An article's `published` for a page or a terminal: «15 مايو 2018»; "" when undated.

    A value that is not a date is shown as written, since a reader can still make sense of it
    and the page must not fail on one bad article.
    """
    try:
        day = published_date(published)
    except DateError:
        return (published or "").strip()
    return format_date(day, language if language in _MONTHS_OUT else "en") if day else ""


# -- what a question cannot mean -----------------------------------------------------------

_DAY_MONTH_ANY = _rx(rf"{_B}(?P<d>\d{{1,2}})\s*(?:من\s+|of\s+)?(?P<mon>{_M})(?:\s*,?\s*(?:عام|العام)?\s*(?P<y>{_Y}))?{_E}")
# "بين 15 و1 مايو" (days before a month), "بين عامي 2015 و2013" (years after a year word, or ending the clause);
# "من 15 إلى 10 بالمئة" is not a date.
_SPAN_DAYS = _rx(
    rf"{_B}[وف]?(?:بين|من|فيما\s+بين|between|from|du|entre)\s+(?:ال|الـ\s*)?(?P<a>{_DAY})\s*(?:و|-|–|إلى|الى|حتى|and|to|au|et)\s*(?:ال|الـ\s*)?(?P<b>{_DAY})\s*(?:من\s+)?(?:شهر\s+)?(?:{_M}){_E}")
_SPAN_YEARS = _rx(
    rf"{_B}[وف]?(?:بين|من|فيما\s+بين|between|from|entre|de)\s+(?:(?P<word>{_YEARWORD})\s*)?(?P<a>{_Y})\s*(?:و|-|–|إلى|الى|حتى|and|to|à|et)\s*(?:{_YEARWORD}\s*)?(?P<b>{_Y})(?P<end>\s*(?:[؟?.,،!:;)]|$))?{_E}")


def find_invalid_dates(text: str) -> list[str]:
    """Written dates that cannot be: "31 فبراير", "between 15 and 1 May", "بين 2015 و2013".

    The reader skips them; a question's filter must not, so `qa.text.when` raises on them.
    """
    folded = _fold(text)
    bad = []
    for m in _DAY_MONTH_ANY.finditer(folded):
        year = int(m.group("y")) if m.group("y") else 2000  # a leap year: 29 February stands without one
        if _safe_date(year, _month_of(m.group("mon")), int(m.group("d"))) is None:
            bad.append(text[m.start():m.end()])
    for m in _SPAN_DAYS.finditer(folded):
        if int(m.group("b")) < int(m.group("a")):
            bad.append(text[m.start():m.end()])
    for m in _SPAN_YEARS.finditer(folded):
        if (m.group("word") or m.group("end") is not None) and int(m.group("b")) < int(m.group("a")):
            bad.append(text[m.start():m.end()])
    return bad
