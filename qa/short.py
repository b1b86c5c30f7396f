"""The short answer: the phrase of a cited sentence that answers a factoid question (a date, a number, a name, a place).

Over 500 lines: one rule set (number, date, name and place phrases share the token scanner and its word sets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.normalize import normalize
from qa.text import (
    MATCH_STOPWORDS,
    content_words,
    is_arabic,
    question_type,
    split_words,
)
from qa.text.lexicon import CARDINALS as NUMBER_WORDS
from qa.text.lexicon import DAYS, MONTHS, SCALES, UNITS
from qa.text.lexicon import PERSON_TITLES as _PERSON_TITLES
from qa.text.words import INDEX_STOPWORDS, Word, match_keys

__all__ = ["SHORT_KINDS", "Phrase", "short_phrase"]

# What each question type asks for, as `records.Short.kind` names it.
SHORT_KINDS = {"time": "date", "number": "number", "person": "person", "place": "place"}


def _n(words: str) -> frozenset[str]:
    return frozenset(normalize(words).split())


_RANGE = re.compile(r"\s*[-–—]\s*")
_RANGE_WORDS = _n("إلى الى حتى to à")
_PER_HUNDRED = _n("المئة المائة cent")
# A share (a percentage, a fraction) answers a question about a share, and only such a question.
_SHARE_WORDS = _n("نسبة النسبة بنسبة نسبه حصة percentage percent proportion share fraction pourcentage proportion part")
_ONE = _n("واحد واحدة واحدا واحدًا")
_FRACTIONS = _n("نصف ثلث ربع ثلثي ثلثا half third quarter thirds moitié tiers quart")
_YEAR_NOUNS = _n("عام العام سنة السنة year in en vers")
# Before a four-digit year, these make it a date, not a count: `في 1756`, `منذ 2000`.
_YEAR_PREPOSITIONS = _n("في منذ since depuis")
_CENTURY = _n("القرن قرن century siècle")
_DECADE = re.compile(r"^(?:\w+ينيات|\w+ينات|1[0-9]{3}s|20[0-9]{2}s)$")
# Titles match on their stems, so `والجنرال` and `مستشاره` are titles too; roles that introduce a name in apposition.
_TITLE_KEYS = frozenset().union(
    *(
        match_keys(title)
        for title in _PERSON_TITLES
        | _n(
            "الإمبراطور الإمبراطورة السلطان الخليفة المدافع المعترض الظهير الممثل الممثلة المغني المغنية المخرج المترجم "
            "الطبيب الحاكم المستشار الباحث المقاول المليونير الأمين القنصل الروائي المؤرخ "
            "رئيس رئيسة نائب وزير وزيرة مدير مديرة مؤسس"
        )
    )
) - _n("أمام")  # normalized, the preposition `أمام` (before) is `إمام` (an imam)
# Place nouns that introduce a place's name: `بمدينة فريسنو`, `ولاية فيكتوريا`.
_PLACE_TITLE_KEYS = frozenset().union(
    *(
        match_keys(title)
        for title in _n("مدينة المدينة بلدة البلدة ولاية الولاية دولة الدولة عاصمة العاصمة منطقة المنطقة جزيرة الجزيرة نهر النهر "
                        "محافظة المحافظة إقليم الإقليم مقاطعة المقاطعة قرية القرية حي الحي شارع الشارع جادة ميناء مطار جبل بحيرة")
    )
)
# Before a word with the article, these keep an Arabic name going: `عبد الفتاح`, `أبو الغيط`.
_ARABIC_JOINERS = _n("عبد أبو أبي ابن بن ذو")
_NAME_JOINERS = _n("بن ابن أبو أبي آل عبد de du von van der bin al el la le of")
_STOP = MATCH_STOPWORDS | INDEX_STOPWORDS

# A token: a number as written (1,000  3.5  56,2 ٪) or a run of letters with their Arabic marks.
_TOKEN = re.compile(r"\d+(?:(?:[.,٫٬]|،(?=\d{3}(?!\d)))\d+)*(?:\s?[%٪])?|(?:[^\W\d_]|[\u0610-\u061a\u064b-\u065f\u0670])+")
_CLAUSE_BREAK = re.compile(r"[،,;؛:()\[\]«»\"“”]")
# How far (in words) a phrase may lie from the nearest word it shares with the question.
MAX_DISTANCE = 6


@dataclass(frozen=True)
class Phrase:
    """A span `sentence[start:end]` that answers the question, and what it is ("date", "number", ...)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    raw: str
    plain: str
    keys: frozenset[str]
    digits: bool
    clause: int
    # What separates the token from the one before it ("" for the first).
    gap: str = ""
    # With the article `ال`: not `إلواي` nor `ألمانيا`, whose hamza normalizing drops.
    definite: bool = False


def _verb_stem(plain: str) -> frozenset[str]:
    """A present-tense verb without its person prefix, so `يحاصر` in the question meets `تحاصر` in the sentence."""
    if _ARABIC_LETTER.match(plain) and len(plain) >= 4 and plain[0] in "يتن":
        return frozenset({plain[1:]})
    return frozenset()


_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u0640]")


def _has_article(raw: str, plain: str) -> bool:
    """Whether a word opens with the article, its alif bare as written: `إلواي` and `ألمانيا` open with a hamza."""
    if not plain.startswith(_DEFINITE):
        return False
    letters = _MARKS.sub("", raw)
    alif = 0 if plain.startswith("ال") else 1
    return plain.startswith("لل") or len(letters) > alif and letters[alif] == "ا"


def _tokens(sentence: str) -> list[_Token]:
    tokens = []
    clause = 0
    last = 0
    for match in _TOKEN.finditer(sentence):
        gap = sentence[last:match.start()] if tokens else ""
        clause += bool(_CLAUSE_BREAK.search(gap))
        last = match.end()
        raw = match.group()
        plain = normalize(raw)
        keys = match_keys(plain) | {plain} | _verb_stem(plain)
        tokens.append(_Token(match.start(), match.end(), raw, plain, keys, raw[0].isdigit(), clause, gap, _has_article(raw, plain)))
    return tokens


def _is_number(token: _Token) -> bool:
    # A number word with the article is an adjective (`الثلاث`), not a count.
    return token.digits or (bool(token.keys & NUMBER_WORDS) and not token.definite)


def _is_year(token: _Token) -> bool:
    if not token.digits or not token.raw.isdigit():
        return False
    return len(token.raw) in (3, 4) and 100 <= int(token.raw) <= 2100


def _is_month(tokens: list[_Token], i: int) -> bool:
    """A month name, only beside a number: `مارس` and `mai` are also ordinary words."""
    if not tokens[i].keys & MONTHS:
        return False
    before = i > 0 and tokens[i - 1].digits
    after = i + 1 < len(tokens) and tokens[i + 1].digits
    return before or after


def _dates(tokens: list[_Token]) -> list[tuple[int, int]]:
    """Token ranges [first, last) of dates: day month year, month year, a year, a weekday, a century, a decade, an age ago."""
    found: list[tuple[int, int]] = []
    used: set[int] = set()
    for i in range(len(tokens)):
        if _is_month(tokens, i):
            first, last = i, i + 1
            if i > 0 and tokens[i - 1].digits and tokens[i - 1].raw.isdigit() and int(tokens[i - 1].raw) <= 31:
                first = i - 1
            if last < len(tokens) and _is_year(tokens[last]):
                last += 1
            found.append((first, last))
            used.update(range(first, last))
    for i, token in enumerate(tokens):
        if i in used:
            continue
        if _is_year(token) and (i == 0 or tokens[i - 1].plain in _YEAR_NOUNS or len(token.raw) == 4) or token.plain in DAYS or bool(token.keys & DAYS) or _DECADE.match(token.plain):
            found.append((i, i + 1))
        elif token.keys & _CENTURY and i + 1 < len(tokens):
            last = i + 2
            if last < len(tokens) and tokens[last].plain in ("عشر", "عشره"):
                last += 1
            found.append((i, last))
    found.extend(span for span in _ages(tokens) if not used.intersection(range(*span)))
    return _ranges(tokens, sorted(set(found)))


# A time counted back from now or from an era: `منذ حوالي مليار سنة`, `22،000 سنة مضت`, `65 million years ago`, `13000 BP`.
_AGO_BEFORE = _n("منذ")
_APPROXIMATELY = _n("حوالي حوالى نحو قرابة زهاء about around some nearly almost environ")
_YEAR_UNITS = _n("سنة سنه سنوات سنين عام عاما أعوام years year ans années")
_AGO_AFTER = _n("مضت خلت ago")
_ERAS = _n("bp bc bce ad ce")


def _ages(tokens: list[_Token]) -> list[tuple[int, int]]:
    found = []
    i = 0
    while i < len(tokens):
        if not _is_number(tokens[i]):
            i += 1
            continue
        first = last = i
        while last + 1 < len(tokens) and (_is_number(tokens[last + 1]) or tokens[last + 1].plain in SCALES) and not tokens[last + 1].gap.strip():
            last += 1
        last += 1
        if last < len(tokens) and tokens[last].plain in _ERAS:
            found.append((first, last + 1))
        elif last < len(tokens) and tokens[last].plain in _YEAR_UNITS:
            start = first - 1 if first > 0 and tokens[first - 1].plain in _APPROXIMATELY else first
            if last + 1 < len(tokens) and tokens[last + 1].plain in _AGO_AFTER:
                found.append((start, last + 2))
            elif start > 0 and tokens[start - 1].plain in _AGO_BEFORE:
                found.append((start, last + 1))
        i = last
    return found


def _ranges(tokens: list[_Token], spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Dates joined by a range (`1321 إلى 1323`, `2005 و2010`, `1914–1918`) as one span."""
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged:
            previous_first, previous_last = merged[-1]
            between = tokens[previous_last:first]
            dash = first == previous_last and _RANGE.fullmatch(tokens[first].gap)
            word = len(between) == 1 and between[0].plain in _RANGE_WORDS | {"و", "and", "et"}
            if dash or word:
                merged[-1] = (previous_first, last)
                continue
        merged.append((first, last))
    return merged


_HOW_MANY = re.compile(
    r"(?:^|\s)(?:[وف]?كم|بكم|many|much|combien(?:\s+d[e']?)?)\s+(?:(?:كان|كانت|هو|هي|يبلغ|بلغ|تبلغ)\s+)?(?:عدد\s+|من\s+)?(\w+)", re.IGNORECASE
)


def _loose_keys(token: _Token) -> frozenset[str]:
    """A word's keys, and without the accusative alif of `ترشيحاً`, so it meets `الترشيحات`."""
    extra = {key[:-1] for key in token.keys if key.endswith("ا") and len(key) > 3 and _ARABIC_LETTER.match(key)}
    return token.keys | extra


_HOW_LONG = re.compile(r"(?:^|\s)(?:[وف]?كم من الوقت|how long|combien de temps)(?:\s|$)", re.IGNORECASE)
_HOW_OLD = re.compile(r"(?:^|\s)(?:[وف]?كم (?:كان |كانت |يبلغ |تبلغ )?عمر|how old|quel âge)(?:\s|$)", re.IGNORECASE)
DURATIONS = _n(
    "ثانية ثوان ثواني دقيقة دقائق ساعة ساعات يوم يوما أيام أسبوع أسابيع شهر أشهر شهرا شهور سنة سنوات عام عاما أعوام قرن قرون "
    "seconds second minutes minute hours hour days day weeks week months month years year decades centuries "
    "secondes heures jours semaines mois ans années siècles"
)


def _counted(question: str) -> frozenset[str]:
    """The keys of the noun a how-many question counts (`كم شخصا`, `how many people`, `combien de morts`)."""
    match = _HOW_MANY.search(normalize(question))
    return match_keys(match.group(1)) if match else frozenset()


def _numbers(tokens: list[_Token], counted: frozenset[str], dates: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Token ranges of numbers with their scale and unit, or the noun the question counts."""
    in_date = {i for first, last in dates for i in range(first, last) if last - first > 1}
    # 3:08 is a time of day or a score, not a count, nor part of one.
    in_clock = {
        j for i in range(1, len(tokens)) if tokens[i].gap == ":" and tokens[i].digits and tokens[i - 1].digits for j in (i - 1, i)
    }
    found = []
    i = 0
    while i < len(tokens):
        if not _is_number(tokens[i]) or i in in_date:
            i += 1
            continue
        # A year after عام/in is a date, not a count.
        if _is_year(tokens[i]) and i > 0 and (
            tokens[i - 1].plain in _YEAR_NOUNS or len(tokens[i].raw) == 4 and tokens[i - 1].plain in _YEAR_PREPOSITIONS
        ):
            i += 1
            continue
        # `واحدة من ثلاث سلالات`: one of them picks, it does not count.
        if i in in_clock or tokens[i].plain in _ONE and i + 1 < len(tokens) and tokens[i + 1].plain == "من":
            i += 1
            continue
        first = i
        while i + 1 < len(tokens) and i + 1 not in in_clock:
            following = tokens[i + 1]
            if (_is_number(following) or following.plain in SCALES) and not following.gap.strip():
                i += 1
            elif _RANGE.fullmatch(following.gap) and _is_number(following):
                i += 1  # 20–30
            elif following.plain in _RANGE_WORDS and not following.gap.strip() and i + 2 < len(tokens) and _is_number(tokens[i + 2]) and not tokens[i + 2].gap.strip():
                i += 2  # خمس إلى عشر، 30 to 50
            else:
                break
        last = i + 1
        if last + 1 < len(tokens) and tokens[last].plain in ("في", "per", "pour") and tokens[last + 1].plain in _PER_HUNDRED:
            last += 2  # 30 في المئة, 30 per cent
        for _ in range(2):
            # `5 مليارات طن سنة 2005`: a unit that names the next year is that date's.
            if last < len(tokens) and tokens[last].clause == tokens[last - 1].clause and tokens[last].plain not in _STOP and (
                _loose_keys(tokens[last]) & (UNITS | counted)
            ) and not (last + 1 < len(tokens) and _is_year(tokens[last + 1])):
                last += 1
            else:
                break
        found.append((first, last))
        i = last
    return found


def _is_share(tokens: list[_Token], span: tuple[int, int]) -> bool:
    first, last = span
    words = tokens[first:last]
    return any(t.raw[-1] in "%٪" or t.plain in _PER_HUNDRED or "بالميه" in t.plain or "بالمايه" in t.plain for t in words) or (
        all(t.plain in _FRACTIONS or t.keys & _FRACTIONS for t in words if not t.digits) and not any(t.digits for t in words)
    )


def _names(tokens: list[_Token], question_keys: frozenset[str]) -> list[tuple[int, int]]:
    """Capitalized runs (Latin script) that may name a person or a place, a title left out."""
    found = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        capital = token.raw[:1].isupper() and not (token.keys & question_keys)
        if capital:
            first = i
            while i + 1 < len(tokens) and tokens[i + 1].clause == token.clause and (
                tokens[i + 1].raw[:1].isupper() or (tokens[i + 1].plain in _NAME_JOINERS and i + 2 < len(tokens) and tokens[i + 2].raw[:1].isupper())
            ) and not (tokens[i + 1].keys & question_keys):
                i += 1
            # A title is not the name: "French President François Hollande" names François Hollande.
            titled = [j for j in range(first, i + 1) if tokens[j].keys & _PERSON_TITLES]
            if titled and titled[-1] < i:
                first = titled[-1] + 1
            if not (first == 0 and i == first) and not (titled and titled[-1] == i):
                found.append((first, i + 1))
            i += 1
            continue
        i += 1
    return found


_ARABIC_LETTER = re.compile("[\u0621-\u064a]")
_DEFINITE = ("ال", "وال", "بال", "فال", "كال", "لل")


_TANWEEN = re.compile("[\u064b-\u064d]")
# Function words, quantifiers and adverbs that stand without the article and are never part of a name.
_NOT_NAMES = _n(
    "كذلك لذلك لأن لأنه لأنها لكنه لكنها عدة عديد غالبا عادة حاليا سابقا لاحقا أول ثاني ثالث أكثر أقل أكبر أصغر "
    "أحد إحدى نفس جميع أنحاء العديد الكثير معظم أغلب بعد وهو وهي وهم وقد فقد ولكن مساء صباح أمس غدا ظهر فجر"
)


# A noun or verb with an attached pronoun (`مسؤوليته`, `دعمها`, `أصولهم`) is no name.
_PRONOUN_SUFFIX = re.compile("(?:ها|هم|هما|هن|ته)$")


def _name_like(token: _Token, question_keys: frozenset[str], titles: frozenset[str] = _TITLE_KEYS) -> bool:
    """An Arabic word that may be part of a name: no article, function word, tanween or title; not the question's; not a number."""
    plain = token.plain
    return (
        bool(_ARABIC_LETTER.match(plain)) and not token.definite and plain not in _STOP | _NOT_NAMES
        and not (plain[0] in "وف" and plain[1:] in _STOP) and not _TANWEEN.search(token.raw) and not _PRONOUN_SUFFIX.search(token.raw)
        and len(plain) > 1 and not (token.keys & question_keys) and not _is_number(token)
        and not token.keys & (titles | MONTHS | DAYS | _YEAR_NOUNS)
    )


def _common_noun(token: _Token) -> bool:
    """A feminine ending (`ة`) or a feminine plural (`ات`): nouns and adjectives, seldom a name."""
    return token.raw.endswith("ة") or (token.plain.endswith("ات") and len(token.plain) >= 4)


# Inside a run, only `بـ` and `لـ` (`بوضع`, `لتطوير`) end a name: `كـ` starts too many foreign names (`ديوك كينت براون`).
_RUN_BREAKING = "بل"


def _clitic_preposition(token: _Token, letters: str = "بلك") -> bool:
    """A word that opens with the preposition `بـ`, `لـ` or `كـ` (`بشرط`, `لشركة`): after a name, the next phrase."""
    plain = token.plain
    return bool(_ARABIC_LETTER.match(plain)) and plain[0] in letters and len(plain) >= 4 and not token.definite


def _arabic_names(
    tokens: list[_Token], question_keys: frozenset[str], anchors: frozenset[int], titles: frozenset[str] = _TITLE_KEYS, untitled: bool = True
) -> list[tuple[int, int]]:
    """Runs of up to four article-less words that a title introduces, or (`untitled`) that stand beside the question's words.

    Arabic writes no capitals, so a run is a name only by its place: after a title and its adjectives
    (`المهندس المعماري الألماني غوتفريت زيمبا`), or between a described noun, a break or the question's
    verb and the question's next word (`هزم البرونكوس فريق بيتسبرغ ستيلرز في الجولة`). Elsewhere an
    article-less run is as often a verb or a noun in construct. `titles` are the keys of the nouns that
    introduce a name: a person's titles, or place nouns (`منطقة مدينة بوسطن`).
    """
    found = []
    i = 0
    while i < len(tokens):
        if not _name_like(tokens[i], question_keys, titles):
            i += 1
            continue
        first = i
        # `غوتفريت زيمبا بوضع تصميم`: after two words of a name, a word with a preposition opens the next phrase;
        # `عبد الفتاح`, `أبو الغيط`: after عبد, أبو, بن the word with the article is the name's.
        while (
            i + 1 < len(tokens) and i + 1 - first < 4 and tokens[i + 1].clause == tokens[first].clause
            and (
                _name_like(tokens[i + 1], question_keys, titles) and not (i + 1 - first >= 2 and _clitic_preposition(tokens[i + 1], _RUN_BREAKING))
                or tokens[i].plain in _ARABIC_JOINERS and tokens[i + 1].plain.startswith("ال") and tokens[i + 1].plain not in _STOP
            )
        ):
            i += 1
        last = i + 1
        i += 1
        described = untitled and _described(tokens, last, anchors)
        # `تخطيطه هنري كول وهو`, `بحوزة جون إلواي، الذي`: a noun with its pronoun (`ـه`), a feminine noun or a
        # preposition's word ends the phrase before the name.
        while described and last - first > 2 and (
            tokens[first].raw.endswith("ه") and len(tokens[first].plain) > 3 or _common_noun(tokens[first]) or _clitic_preposition(tokens[first])
        ):
            first += 1
        if not (_ends(tokens, last) or last in anchors or described or tokens[last].keys & titles or last - first >= 2 and _clitic_preposition(tokens[last], _RUN_BREAKING)):
            continue
        run = tokens[first:last]
        common = any(_common_noun(t) for t in run)
        if _titled(tokens, first, titles):
            # `المدير العام لدنفر`, `الرئيس التنفيذي لعمليات كرة القدم`: the title's complement, not a name;
            # a name right after its title may end like a noun (`الشيخ حمزة يوسف`).
            complement = titles is _TITLE_KEYS and _clitic_preposition(run[0])
            direct = bool(tokens[first - 1].keys & titles)
            if not common and not complement if len(run) == 1 else not common or direct and not complement:
                found.append((first, last))
        elif untitled and len(run) > 1 and not common and (
            (_opens(tokens, first) or first - 1 in anchors) and (first - 1 in anchors or last in anchors) or described
        ):
            found.append((first, last))
        elif untitled and not common and first > 0 and tokens[first - 1].plain in _SUBJECT_PARTICLES and last in anchors and (
            tokens[last].clause == tokens[first].clause
        ):
            # `أن إديسون تلقى`: after `أن` comes the subject, and the question's verb right after it tells what it did.
            found.append((first, last))
    return found


# `كان` and its sisters, and the passive verbs of deeming (`يعتبر`, `يعد`, `يرى`): a subject, then what is said of it.
_COPULAS = _n(
    "كان كانت يكون تكون أصبح أصبحت يصبح تصبح صار صارت يصير تصير ظل ظلت يظل تظل بات باتت يبقى تبقى ليس ليست "
    "يعتبر تعتبر اعتبر اعتبرت يعد تعد عد عدت يرى ترى"
)
# Particles that may stand between a clause's opening and its verb: `وقد أصبح`, `غالبا ما يرى`.
_VERB_PARTICLES = _n("قد وقد لقد فقد ما ثم")


def _name_run(tokens: list[_Token], first: int, question_keys: frozenset[str], *, clause: int,
              preposition_ends: bool = False) -> int:
    """Where a run of up to 4 name-like words from `first`, within `clause`, ends (`first` when none);
    with `preposition_ends`, a word opening with `بـ`/`لـ`/`كـ` after two of them ends it too."""
    last = first
    while (
        last < len(tokens) and last - first < 4 and tokens[last].clause == clause and _name_like(tokens[last], question_keys)
        and not (preposition_ends and last - first >= 2 and _clitic_preposition(tokens[last]))
    ):
        last += 1
    return last


def _is_copula(token: _Token) -> bool:
    plain = token.plain
    return plain in _COPULAS or plain[:1] in "وف" and plain[1:] in _COPULAS


def _copula_subjects(tokens: list[_Token], question_keys: frozenset[str], anchors: frozenset[int]) -> list[tuple[int, int]]:
    """The article-less subject of a clause that opens with `كان` or a sister, when the question's words say what it is.

    `أصبح بايتون مانينغ أول ظهير رباعي`, `غالبا ما يرى جيمس هوتون كأول عالم جيولوجي`: the verb comes first, then
    its subject, then the predicate; a question that asks who is the predicate asks for the subject.
    """
    found = []
    for verb, token in enumerate(tokens[:-1]):
        opens = verb == 0 or token.clause != tokens[verb - 1].clause or tokens[verb - 1].plain in _VERB_PARTICLES
        if not (_is_copula(token) and opens):
            continue
        first = verb + 1
        last = _name_run(tokens, first, question_keys, clause=token.clause, preposition_ends=True)
        if last == first or any(_common_noun(t) for t in tokens[first:last]) or last == len(tokens):
            continue
        # The predicate: the question's word right after the subject, or after one word that is no function word (`كأول`).
        predicate = last in anchors or last + 1 in anchors and tokens[last].plain not in _STOP
        if predicate and tokens[last].clause == token.clause:
            found.append((first, last))
    return found


_AMMA = _n("أما وأما")


def _topics(tokens: list[_Token], question_keys: frozenset[str], anchors: frozenset[int]) -> list[tuple[int, int]]:
    """The topic that `أما` puts first, when the clause it opens with `فـ` is the question's: `أما غرينلاند، فقد وقعت معاهدة`."""
    found = []
    for i, token in enumerate(tokens[:-1]):
        if token.plain not in _AMMA:
            continue
        first = i + 1
        last = _name_run(tokens, first, question_keys, clause=tokens[first].clause)
        if last == first or last == len(tokens) or not tokens[last].plain.startswith("ف"):
            continue
        # The answer `فـ` opens: the question's words within its first three.
        if any(j in anchors for j in range(last, last + 3)) and not any(_common_noun(t) for t in tokens[first:last]):
            found.append((first, last))
    return found


# What opens examples of the noun before it: `مثل`, `بما في ذلك`, `such as`.
_EXAMPLE_MARKS = _n("مثل ومثل كمثل")
_INCLUDING = ("بما", "في", "ذلك")


def _examples(tokens: list[_Token], question_keys: frozenset[str], anchors: frozenset[int]) -> list[tuple[int, int]]:
    """The article-less names after `مثل` or `بما في ذلك` when the noun they exemplify is the question's.

    `المستشارون الصينيون مثل ليو بينزهونج وياو شو`: the names, with those `و` joins, are the advisers.
    """
    found = []
    for i, token in enumerate(tokens):
        if token.plain in _EXAMPLE_MARKS:
            start = i + 1
        elif tuple(t.plain for t in tokens[i:i + 3]) == _INCLUDING:
            start = i + 3
        else:
            continue
        if not any(j in anchors and tokens[j].clause == token.clause for j in (i - 1, i - 2)):
            continue
        last = _name_run(tokens, start, question_keys, clause=tokens[start].clause) if start < len(tokens) else start
        if last > start and not any(_common_noun(t) for t in tokens[start:last]):
            found.append((start, last))
    return found


# Particles that a subject follows (`أن`, `إن`, `لأن`, `بأن`), a noun before its verb.
_SUBJECT_PARTICLES = _n("أن إن لأن بأن وأن وإن")
# A relative pronoun or `وهو` that opens what is said of a name: `هنري كول وهو أول مدير للمتحف`.
_DESCRIBERS = _n("الذي التي الذين اللذان اللتان اللذين اللتين وهو وهي وهم وهما")


def _described(tokens: list[_Token], last: int, anchors: frozenset[int]) -> bool:
    """Whether a relative pronoun or `وهو` follows `last` and the question's words follow it, so the run is who they tell of."""
    return last < len(tokens) and tokens[last].plain in _DESCRIBERS and any(j in anchors for j in range(last + 1, last + 3))


def _titled(tokens: list[_Token], first: int, titles: frozenset[str]) -> bool:
    """Whether a title comes before `first`, at most three words of its complement between.

    The complement is words with the article, a preposition or a noun in construct: `الرئيس الكولومبي`,
    `المتحدث باسم الخارجية الأمريكية`, `وزيرة خارجية الاتحاد الأوروبي`.
    """
    j = first - 1
    while j >= 0 and first - j <= 4 and tokens[j].clause == tokens[first].clause:
        if tokens[j].keys & titles:
            return True
        # `وزيرة خارجية الاتحاد الأوروبي`: a noun without the article heads the next one, in construct.
        construct = j + 1 < first and tokens[j + 1].definite
        if not (tokens[j].definite or _clitic_preposition(tokens[j]) or construct):
            return False
        j -= 1
    return False


_TO = _n("إلى")


def _opens(tokens: list[_Token], first: int) -> bool:
    """Whether a name run may open at `first`: after a break, a word with the article or `إلى`; a sentence opens with its verb."""
    return first > 0 and (tokens[first].clause != tokens[first - 1].clause or tokens[first - 1].definite or tokens[first - 1].plain in _TO)


# Who did it, in a passive sentence (`من قبل`, `على يد`, `بواسطة`, `by`, `par`); where, after a place preposition.
_AGENT_MARKS = _n("بواسطة بقلم by par")
_AGENT_PAIRS = frozenset({("من", "قبل"), ("علي", "يد")})
_PLACE_PREPOSITIONS = _n("في إلى الى من عبر داخل قرب نحو بمدينة")
_TIME_PARTS = _n("منتصف بداية نهاية أوائل أواخر مطلع أثناء فترة")
_PHRASE_ENDS = _STOP | _NOT_NAMES | _n("و and et")


def _phrase_after(tokens: list[_Token], first: int, anchors: frozenset[int], most: int = 3) -> tuple[int, int] | None:
    """The words from `first` up to a break, a function word, a number, the question's word or a new prepositional phrase."""
    last = first
    while last < len(tokens) and last - first < most and tokens[last].clause == tokens[first].clause and last not in anchors:
        token = tokens[last]
        if token.plain in _PHRASE_ENDS or token.digits or _TANWEEN.search(token.raw) or last > first and _clitic_preposition(token):
            break
        last += 1
    return (first, last) if last > first else None


# Before an event, these make a time of it: `في نهاية الحرب العالمية الأولى`, `بعد وفاة جنكيز`.
_TIME_OPENERS = _TIME_PARTS | _n("قبل بعد خلال عقب إبان")


def _time_phrases(tokens: list[_Token], anchors: frozenset[int]) -> list[tuple[int, int]]:
    """A time told by an event, for a sentence with no date: a time word and the definite phrase after it."""
    found = []
    for i, token in enumerate(tokens[:-1]):
        # The event has the article, or heads one that has it (`بعد انتهاء المفاوضات`).
        definite = tokens[i + 1].definite or i + 2 < len(tokens) and tokens[i + 2].definite
        if token.plain in _TIME_OPENERS and definite and (phrase := _phrase_after(tokens, i + 1, anchors)):
            found.append((i, phrase[1]))
    return found


def _agents(tokens: list[_Token], anchors: frozenset[int]) -> list[tuple[int, int]]:
    """The phrases after a passive sentence's agent marker: `تم اختطافها من قبل المركيتيين`."""
    found = []
    for i, token in enumerate(tokens):
        if token.plain in _AGENT_MARKS:
            start = i + 1
        elif i + 1 < len(tokens) and (token.plain, tokens[i + 1].plain) in _AGENT_PAIRS:
            start = i + 2
        else:
            continue
        if start < len(tokens) and (phrase := _phrase_after(tokens, start, anchors)):
            found.append(phrase)
    return found


# `بالقرب من`, `على مقربة من`: a place preposition of two or three words.
_NEAR = _n("بالقرب مقربة")
# A noun of quantity takes its `من` and what follows: `في سلسلة من فنادق نيويورك`.
_PARTITIVES = _n("سلسلة مجموعة عدد عديد بعض جزء قسم")


def _place_objects(tokens: list[_Token], anchors: frozenset[int], dates: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """The phrase after a place preposition that follows the question's word (`تتم معظم أعمال البرلمان في لجنة`), no time.

    A time between the question's word and the preposition is the verb's too (`بدأت الحركة في منتصف القرن
    الثامن عشر داخل كنيسة إنجلترا`).
    """
    after_time = {last: first for first, last in dates}
    found = []
    for i, token in enumerate(tokens[:-1]):
        opens = token.plain in _PLACE_PREPOSITIONS
        near = token.plain in _NEAR and tokens[i + 1].plain == "من" and i + 2 < len(tokens)
        if near:
            opens, start = True, i + 2
        else:
            start = i + 1
        before = after_time.get(i, i) - 1
        while before < i - 1 and before >= 0 and tokens[before].plain in _TIME_PARTS | _YEAR_PREPOSITIONS:
            before -= 1
        if opens and (i - 1 in anchors or before in anchors) and (phrase := _phrase_after(tokens, start, anchors)):
            first, last = phrase
            if last - first == 1 and tokens[first].plain in _PARTITIVES and last + 1 < len(tokens) and tokens[last].plain == "من":
                last = (_phrase_after(tokens, last + 1, anchors) or (last + 1, last + 1))[1]
            words = tokens[first:last]
            # `في مدينة بيزانسون`: a place noun alone is no answer, the name it introduces is.
            if not any(t.keys & (MONTHS | DAYS | _YEAR_NOUNS | _CENTURY | _TIME_PARTS) for t in words) and not all(t.keys & _PLACE_TITLE_KEYS for t in words):
                # Near a place is not at it: `بالقرب من ميلنجن` keeps its preposition.
                found.append((i if near else first, last))
    return found


def _ends(tokens: list[_Token], last: int) -> bool:
    """Whether a name run ends at `last`: at a break, the sentence's end, a word with the article, a function word or a time."""
    return (
        last == len(tokens) or tokens[last].clause != tokens[last - 1].clause or tokens[last].definite
        or tokens[last].plain in _STOP or tokens[last].digits or bool(tokens[last].keys & (_YEAR_NOUNS | MONTHS | DAYS))
    )


def _anchors(tokens: list[_Token], question_keys: frozenset[str]) -> list[int]:
    """The positions of the question's words in the sentence."""
    return [i for i, t in enumerate(tokens) if t.keys & question_keys and t.plain not in _STOP]


# A name is read from its place in the sentence, so the sentence must be about the question: share this much of its words.
NAME_SUPPORT = 0.3


def _supports(tokens: list[_Token], asked: list[Word]) -> bool:
    """Whether the sentence holds at least `NAME_SUPPORT` of the question's words."""
    said = frozenset().union(*(t.keys for t in tokens))
    return not asked or sum(bool(w.keys & said) for w in asked) >= NAME_SUPPORT * len(asked)


def short_phrase(question: str, sentence: str) -> Phrase | None:
    """The phrase of `sentence` that answers `question`, or None when the question is not factoid or no phrase is confident.

    Candidates are phrases of the kind the question asks for (`question_type`):
    dates for when; numbers with their unit or counted noun for how many (a duration
    for how long); for who, names (capitalized, or Arabic ones by their title or their
    place beside the question's words) and a passive sentence's agent; for where,
    capitalized names and the phrase after a place preposition. A phrase made of the
    question's own words is no answer, and names are read only from a sentence that
    shares `NAME_SUPPORT` of the question's words. The candidate nearest to the words
    the sentence shares with the question wins; none is returned when no candidate
    lies within `MAX_DISTANCE` words of them (the only date of a sentence may lie
    anywhere) or when two lie equally near and nothing tells them apart.
    """
    kind = question_type(question)
    if kind not in SHORT_KINDS:
        return None
    asked = content_words(split_words(question))
    question_keys = frozenset().union(*(w.keys | _verb_stem(w.plain) for w in asked)) if asked else frozenset()
    tokens = _tokens(sentence)
    if not tokens:
        return None
    dates = _dates(tokens)
    if kind == "time":
        candidates = dates or _time_phrases(tokens, frozenset(_anchors(tokens, question_keys)))
    elif kind == "number":
        share = "%" in question or "٪" in question or any(w.keys & _SHARE_WORDS for w in asked)
        counted = _counted(question)
        numbers = _numbers(tokens, counted, dates)
        # When the question names what it counts and a number carries it (`بكم ميلا`), the other numbers answer something else.
        named = [(first, last) for first, last in numbers if any(_loose_keys(t) & counted for t in tokens[first:last])]
        candidates = named or [span for span in numbers if _is_share(tokens, span) == share]
        # How old: an age counted back from now (`منذ حوالي 515 مليون سنة`) is a date elsewhere, the answer here.
        if _HOW_OLD.search(normalize(question)):
            candidates = candidates + [span for span in _ages(tokens) if span not in candidates]
        if _HOW_LONG.search(normalize(question)):
            candidates = [(first, last) for first, last in candidates if any(t.keys & DURATIONS for t in tokens[first:last])]
    else:
        if not _supports(tokens, asked):
            return None
        arabic = is_arabic(sentence)
        anchor_set = frozenset(_anchors(tokens, question_keys))
        # Names in Latin letters inside Arabic text are glosses (`ASL`, `Floresta Amazônica`), not answers.
        latin = [] if arabic else _names(tokens, question_keys)
        # A subject that the question's words describe is whom or what the question asks for.
        subjects = _copula_subjects(tokens, question_keys, anchor_set) + _topics(tokens, question_keys, anchor_set) if arabic else []
        if subjects:
            candidates = subjects
        elif kind == "person":
            candidates = _agents(tokens, anchor_set) + _arabic_names(tokens, question_keys, anchor_set) + latin
            candidates += _examples(tokens, question_keys, anchor_set) if arabic else []
        else:
            # `منطقة مدينة بوسطن`: a place noun introduces a place's name as a title introduces a person's.
            arabic_places = _place_objects(tokens, anchor_set, dates) + _arabic_names(tokens, question_keys, anchor_set, _PLACE_TITLE_KEYS, untitled=False)
            candidates = (arabic_places if arabic else []) + latin
    # One phrase may be found twice (`by Paul McCartney` is an agent and a capitalized name).
    candidates = list(dict.fromkeys((first, last) for first, last in candidates if not all(t.keys & question_keys for t in tokens[first:last])))
    if not candidates:
        return None
    anchors = _anchors(tokens, question_keys)
    if not anchors:
        if len(candidates) != 1:
            return None
        first, last = candidates[0]
    else:
        def distance(span: tuple[int, int]) -> int:
            first, last = span
            return min(first - a if a < first else a - last + 1 if a >= last else 0 for a in anchors)

        def support(span: tuple[int, int]) -> int:
            """How many of the question's words stand within `MAX_DISTANCE` words of the span."""
            first, last = span
            near = tokens[max(0, first - MAX_DISTANCE):last + MAX_DISTANCE]
            return sum(any(w.keys & t.keys for t in near if t.plain not in _STOP) for w in asked)

        def after(span: tuple[int, int]) -> int:
            """How far the span follows the nearest question word before it: a date or a name follows what it tells of."""
            return min((span[0] - a for a in anchors if a < span[0]), default=len(tokens))

        ranked = sorted(candidates, key=lambda span: (distance(span), -support(span), after(span)))
        best = ranked[0]
        # The only date of the sentence answers a when question wherever it stands; other phrases must be near.
        if distance(best) > MAX_DISTANCE and not (kind == "time" and len(ranked) == 1):
            return None
        # Two candidates as near the question's words: the one among clearly more of them, else the one right after them
        # (`قانون العموم لعام 1975 وقانون الجنسية البريطانية 1981`: the nationality act is of 1981).
        if len(ranked) > 1 and distance(ranked[1]) == distance(best) and support(best) - support(ranked[1]) < 2:
            rivals = [span for span in ranked if distance(span) == distance(best)]
            closest = min(after(span) for span in rivals)
            # A count comes before its noun (`أربعة اعتراضات`), so only dates and names are read this way.
            if kind == "number" or sum(after(span) == closest for span in rivals) > 1:
                return None
            best = next(span for span in rivals if after(span) == closest)
        first, last = best
    return Phrase(tokens[first].start, tokens[last - 1].end, SHORT_KINDS[kind])
