"""Questions and scripts: script and language detection, text direction, question type, follow-up resolution."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.normalize import normalize
from qa.records import Turn
from qa.text.words import MATCH_STOPWORDS, WORD, content_words, split_words

# Letters of the Arabic blocks, and of the Latin alphabet with its accented forms.
ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Right-to-left letters (Hebrew, Arabic, Syriac, Thaana, N'Ko, ...): what sets a page's direction.
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_FRENCH_MARKS = re.compile(r"[éèêàâçùûîôœ]|-t-|\b(?:que|qu|il|elle|ce|quand|combien|qui|où|quel|quelle|quels|quelles|est-ce|les|des|une|du|dans|pourquoi|comment|est|sont|le|la)\b", re.IGNORECASE)
_ENGLISH_MARKS = re.compile(r"\b(?:what|when|who|whom|where|which|how|why|the|is|are|was|were|did|does|of|in|many|much)\b", re.IGNORECASE)


def is_arabic(text: str) -> bool:
    """Whether Arabic letters are present and at least as many as Latin ones."""
    arabic = len(ARABIC.findall(text))
    return arabic > 0 and arabic >= len(LATIN.findall(text))


def script_of(word: str) -> str:
    """The script of a word: "arabic" if it holds an Arabic letter, else "latin" if a Latin one, else "neutral"."""
    if ARABIC.search(word):
        return "arabic"
    return "latin" if LATIN.search(word) else "neutral"


def detect_language(text: str) -> str:
    """The language of a question: "ar" if Arabic letters dominate, else "fr" or "en" (the default)."""
    if is_arabic(text):
        return "ar"
    if len(_FRENCH_MARKS.findall(text)) > len(_ENGLISH_MARKS.findall(text)):
        return "fr"
    return "en"


def text_direction(text: str) -> str:
    """"rtl" when right-to-left letters (Arabic, Hebrew) are at least as many as Latin ones, else "ltr"."""
    rtl = len(_RTL.findall(text))
    return "rtl" if rtl and rtl >= len(LATIN.findall(text)) else "ltr"


# Patterns over the `normalize`d question, words separated by single spaces. `_LEAD`
# rules must match where the question starts (after a conjunction or preposition),
# because `من`, `who` and `qui` are also prepositions or relative pronouns mid-sentence;
# `_ANYWHERE` rules are interrogatives that cannot be anything else.
_OPENER = r"^(?:(?:و|ف|and|so|but|et|mais|alors|then|in|at|on|from|to|for|by|of|en|a|à|au|de|d|dans|depuis|pour|par|في|الي|علي|خلال|منذ|بعد|قبل|حتي|مع|لدي)\s)*"
_TIME_NOUNS_AR = r"(?:عام|العام|سنه|السنه|يوم|اليوم|شهر|الشهر|تاريخ|التاريخ|قرن|القرن|وقت|الوقت|عقد|العقد|فتره|الفتره|ساعه|الساعه|موسم|الموسم|عصر|العصر)"
_PLACE_NOUNS_AR = r"(?:مدينه|المدينه|بلد|البلد|دوله|الدوله|مكان|المكان|منطقه|المنطقه|ولايه|الولايه|قاره|القاره|جزيره|الجزيره|موقع|الموقع|عاصمه|العاصمه|بلده|البلده|قريه|القريه|حي|الحي|شارع|الشارع|اقليم|الاقليم|محافظه|المحافظه|مقاطعه|المقاطعه)"
_NUMBER_NOUNS_AR = r"(?:عدد|نسبه|مقدار|حجم|مبلغ|طول|عمر|سعر|كميه|مساحه|قيمه|متوسط|ارتفاع|عمق|وزن|تكلفه|درجه حراره|مسافه)"
_LEAD = {
    "time": (
        rf"متي|منذ متي|اي {_TIME_NOUNS_AR}|(?:ما|ماذا) (?:هو |هي |كان |كانت )?{_TIME_NOUNS_AR}\b"
        r"|when|what (?:year|date|day|month|century|decade|time|period|season)|which (?:year|date|day|month|century|decade)"
        r"|quand|(?:quelle|quel|quels|quelles) (?:annee|année|date|jour|mois|siecle|siècle|heure|epoque|époque|periode|période)"
    ),
    "number": (
        rf"كم|بكم|(?:ما|ماذا) (?:هو |هي |كان |كانت )?{_NUMBER_NOUNS_AR}\b"
        r"|how (?:many|much|long|old|far|big|large|tall|high|often)|what (?:percentage|percent|proportion|number|amount|share|fraction)"
        r"|combien|(?:quel|quelle) (?:pourcentage|nombre|montant|proportion|part|age|âge)"
    ),
    "place": (
        rf"اين|من اين|الي اين|اي {_PLACE_NOUNS_AR}|(?:ما|ماذا) (?:هو |هي |كان |كانت )?{_PLACE_NOUNS_AR}\b"
        r"|where|(?:what|which) (?:city|country|state|place|region|town|continent|island|province|capital|location)|what is the capital"
        r"|où|d où|(?:quel|quelle|quels|quelles) (?:ville|pays|lieu|endroit|region|région|etat|état|continent|ile|île|province|capitale)"
    ),
    "person": (
        r"من(?! اين| اي\b)|لمن|اي (?:شخص|رجل|امراه|لاعب|رئيس)|(?:ما|ماذا) (?:هو |هي )?اسم (?:الشخص|الرجل|المراه|الرئيس|اللاعب|الكاتب|المؤلف)"
        r"|who|whom|whose|which (?:person|man|woman|player|president|author|king|queen)"
        r"|qui|a qui|à qui|de qui|(?:quel|quelle) (?:personne|homme|femme|joueur|president|président|auteur|roi|reine)"
    ),
}
_ANYWHERE = {
    "time": r"(?:^| )(?:[وف]?متي|when|quand)(?: |$)",
    "number": r"(?:^| )(?:[وف]?كم|how many|how much|combien)(?: |$)",
    "place": r"(?:^| )(?:[وف]?اين|where|où)(?: |$)",
}
# An Arabic conjunction is written joined to the next word: `ومتى`, `فكم`.
_LEAD_RULES = [(kind, re.compile(_OPENER + rf"[وف]?(?:{pattern})(?:\s|$)")) for kind, pattern in _LEAD.items()]
_ANYWHERE_RULES = [(kind, re.compile(pattern)) for kind, pattern in _ANYWHERE.items()]


def _plain(text: str) -> str:
    """The normalized words of a text, separated by single spaces (`d'où` -> `d où`)."""
    return " ".join(WORD.findall(normalize(text)))


def question_type(question: str) -> str:
    """What a question asks for: "time", "number", "person", "place" or "other".

    Reads the interrogative that opens the question (after a conjunction or a
    preposition: `ومتى`, `In what year`, `En quelle année`), in Arabic, English
    and French; `متى`/`when`/`quand`, `كم`/`how many`/`combien` and `أين`/`where`/`où`
    count anywhere, `من`/`who`/`qui` only at the start.
    """
    plain = _plain(question)
    for kind, rule in _LEAD_RULES:
        if rule.match(plain):
            return kind
    found = [(match.start(), kind) for kind, rule in _ANYWHERE_RULES if (match := rule.search(plain))]
    return min(found)[1] if found else "other"


# Words that point back to an earlier turn. Arabic هو/هي are left out: they are
# also the copula of standalone questions (`من هو السفير؟`).
_ANAPHORA = frozenset(
    normalize(
        "ذلك هذا هذه تلك ذاك هؤلاء هناك حينها آنذاك حينذاك عندئذ وقتها "
        "he she it they him her them his its their there then "
        "il elle ils elles lui leur cela ça celui celle ceux celles là"
    ).split()
)
_CONJUNCTION_OPENER = re.compile(
    r"^(?:[وف](?:متي|كم|من|اين|ماذا|لماذا|كيف|هل|ما|اي|الي|في|علي|بعد|قبل)|و|ف|ماذا عن|وماذا عن|"
    r"and|so|but|what about|how about|et|mais|alors|quant)(?: |$)"
)
# The words carried over from earlier turns, at most.
CONTEXT_WORDS = 12
# Earlier turns a follow-up may lean on, at most.
CONTEXT_TURNS = 3


def resolve_followup(question: str, history: Sequence[Turn]) -> str:
    """The query to retrieve with: `question`, completed from the turns before it if it is a follow-up.

    A question is a follow-up when it opens with a conjunction (`ومتى`, `and`,
    `et`, `ماذا عن`, `what about`), holds a word that points back (`ذلك`, `هذه`,
    `هناك`, `he`, `it`, `there`, `il`, `cela`) or has fewer than two content
    words of its own. Its query is the question followed by the content words
    (question words and function words dropped) of the previous question, itself
    resolved the same way, that the follow-up does not already have, so
    `ومتى حدث ذلك؟` after `كم شخصا قتل في هجمات باريس؟` retrieves with
    `ومتى حدث ذلك؟ شخصا قتل هجمات باريس`. A standalone question is returned as is.
    Earlier answers are not used: they would pull retrieval back to the passage
    already shown.
    """
    question = question.strip()
    turns = list(history)[-CONTEXT_TURNS:]
    if not turns or not _is_followup(question):
        return question
    previous = resolve_followup(turns[-1].question, turns[:-1])
    own = set().union(*(w.keys for w in content_words(split_words(question))))
    carried: list[str] = []
    for word in split_words(previous):
        if word.plain in MATCH_STOPWORDS or word.plain in _ANAPHORA or word.keys & own or len(word.plain) < 2:
            continue
        carried.append(word.raw)
        own |= word.keys
        if len(carried) == CONTEXT_WORDS:
            break
    return f"{question} {' '.join(carried)}" if carried else question


def _is_followup(question: str) -> bool:
    plain = _plain(question)
    tokens = plain.split()
    content = [w for w in tokens if w not in MATCH_STOPWORDS and w not in _ANAPHORA and not _CONJUNCTION_OPENER.match(w)]
    return bool(_CONJUNCTION_OPENER.match(plain)) or any(w in _ANAPHORA for w in tokens) or len(content) < 2
