"""Words to terms and keys: stopwords and the two stemming policies, the BM25 index stem and the answer's match keys."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qa.errors import SettingsError
from qa.normalize import normalize

# Two policies, on purpose. The index policy (INDEX_STOPWORDS, index_stem) turns text
# into the terms the BM25 index stores: changing it changes the terms of every index
# already built, so bump qa.lexical.ANALYZER_VERSION with it. The match policy
# (MATCH_STOPWORDS, match_keys) compares a question's words with a candidate sentence's
# when answering: nothing is stored, so it can be looser (a word and its stems all count).

# The 28 letters and the hamza forms: index_stem stems words that start with one. A
# wider range (ARABIC in qa.text.language) would also stem Persian and Urdu letters and
# change the terms of existing indexes.
_ARABIC_ALPHABET = re.compile("[\u0621-\u064a]")
# Any letter of the Arabic blocks: match_keys strips Arabic clitics from words starting with one.
_ARABIC_BLOCKS = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")

# --- The index policy -------------------------------------------------------------

# Function words of Arabic, English and French, the languages questions come in: they
# carry no topic. Written in ordinary spelling and normalized below, so they
# match whatever normalize() does. "على" is left out on purpose: normalized it
# becomes "علي", the name Ali.
_ARABIC_STOPWORDS = """
ما ماذا متى من كم هل أين أي كيف لماذا لمن مما ممن عما بما لما لم لن لا ليس ليست
في إلى عن مع بين عند منذ حتى لدى خلال حول نحو دون عبر ضمن قبل بعد
و ف ثم أو أم بل لكن إن أن إنّ أنّ إنه إنها أنه أنها أنهم قد لقد كان كانت كانوا يكون تكون تم يتم
هو هي هم هن هما أنا نحن أنت أنتم
هذا هذه هذان هاتان ذلك تلك هؤلاء أولئك هنا هناك
الذي التي الذين اللذان اللتان اللذين اللتين اللاتي اللواتي
كل بعض غير أيضا فقط إلا سوى إذا إذ لو كما مثل حيث عندما بينما ذات
به بها بهم له لها لهم لي منه منها منهم عنه عنها عنهم فيه فيها فيهم عليه عليها عليهم إليه إليها إليهم معه معها معهم
"""
# "us", "may" and "will" are left out: they are also a country, a month and a name.
_ENGLISH_STOPWORDS = """
a an the of in on at to for from by with about as into than then there here
is are was were be been being am do does did done has have had
what when where who whom whose which why how many much
it its this that these those and or but not no if so such
can could would should shall might must he she they them his her their we you me my our your also
"""
# "car" and "son" are left out: they are also English words.
_FRENCH_STOPWORDS = """
le la les un une des du de et ou où en dans sur sous pour par avec sans
qui que qu quoi quand comment combien pourquoi quel quelle quels quelles lequel laquelle
est sont était étaient ont été être avoir ce cet cette ces il elle ils elles on au aux
ne pas plus se sa ses leur leurs ni mais donc je tu nous vous te lui
"""
INDEX_STOPWORDS = frozenset(
    normalize(word) for word in (_ARABIC_STOPWORDS + _ENGLISH_STOPWORDS + _FRENCH_STOPWORDS).split()
)
INDEX_STEMMERS = ("light", "snowball", "none")
_CONJUNCTIONS = "وف"
_PREPOSITIONS = "بكل"
# Light10's suffixes (Larkey et al.) after normalize(): ية -> يه and ة -> ه.
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")


# An index term before stemming: a run of digits or a run of letters (of `normalize`d text).
INDEX_TOKEN = re.compile(r"\d+|[^\W\d_]+")


def is_index_stopword(token: str) -> bool:
    """Whether a normalized token is left out of the index: a stopword, bare or after و/ف."""
    return token in INDEX_STOPWORDS or (token[0] in _CONJUNCTIONS and token[1:] in INDEX_STOPWORDS)


def index_stem(token: str, stemmer: str = "light", min_stem: int = 3) -> str:
    """The BM25 index term of one normalized token: an Arabic word stemmed, anything else as is.

    Args:
        token: a normalized run of letters.
        stemmer: "light" (clitic and suffix stripping of our own), "snowball"
            (PyStemmer's Arabic) or "none"; the caller checks it is one of `INDEX_STEMMERS`.
        min_stem: the light stemmer strips nothing that would leave fewer letters.
    """
    if stemmer == "none" or not _ARABIC_ALPHABET.match(token):
        return token
    if stemmer == "light":
        return _light_stem(token, min_stem)
    return str(snowball_stemmer().stemWord(token))


@lru_cache(maxsize=1 << 16)
def _light_stem(word: str, min_stem: int) -> str:
    # Clitics stack as conjunction, preposition, article, word (و+ب+ال+كتاب; لل is
    # ل + ال with the alef dropped). A lone ب ك ل cannot be told from a word's own
    # first letter, so those letters are stripped from every word, after the article
    # too: bare, definite and prefixed forms (كتاب، الكتاب، بكتاب) then share one stem.
    # Nothing is stripped below min_stem letters, so short roots survive.
    if word[0] in _CONJUNCTIONS and len(word) - 1 >= min_stem:
        word = word[1:]
    if word.startswith("لل") and len(word) - 2 >= min_stem:
        word = word[2:]
    elif word[0] in _PREPOSITIONS and word[1:3] == "ال" and len(word) - 3 >= min_stem:
        word = word[3:]
    elif word.startswith("ال") and len(word) - 2 >= min_stem:
        word = word[2:]
    while word[0] in _PREPOSITIONS and len(word) - 1 >= min_stem:
        word = word[1:]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            word = word[: -len(suffix)]
    return word


@lru_cache(maxsize=1)
def snowball_stemmer() -> Any:
    """PyStemmer's Arabic stemmer, loaded once.

    Raises:
        SettingsError: PyStemmer is not installed.
    """
    try:
        import Stemmer
    except ImportError:
        raise SettingsError('the "snowball" stemmer needs PyStemmer: pip install PyStemmer') from None
    return Stemmer.Stemmer("arabic")


# --- The match policy -------------------------------------------------------------

# Question words and function words, in `normalize`d form; they carry no topic.
MATCH_STOPWORDS = frozenset(
    normalize(
        # Arabic
        "ما ماذا ماسم من متى كم أين كيف لماذا هل أي أيّ أية هو هي هم هن هما أنت نحن أنا "
        "في من إلى على عن مع منذ حتى خلال بين عند عندما بعد قبل ثم أو أم إن أن إنه أنه أنها لا لم لن "
        "قد الذي التي الذين اللذين اللتين اللواتي هذا هذه ذلك تلك هؤلاء هناك هنا كان كانت كانوا يكون "
        "تكون تم يتم كل بعض غير أيضا حيث لدى له لها لهم به بها بهم فيه فيها منه منها عليه عليها إليه "
        "إليها إلا وما ومن ومتى وكم وأين وكيف ولماذا وهل فما فمن فمتى وماذا وفي سوى مثل الى على "
        # English
        "what which who whom whose when where why how is are was were be been being the a an of in on at "
        "to for from by with about as into than that this these those it its he she they them his her "
        "their there do does did done has have had will would can could should may might and or not "
        "many much long did say said tell me us "
        # French
        "que qui quoi quand où comment pourquoi combien quel quelle quels quelles est sont était étaient "
        "le la les un une des du de d l à au aux en dans sur par pour avec ce cet cette ces il elle ils "
        "elles lui leur et ou ne pas y a ont été fait dit se sa son ses qu c s"
    ).split()
)
WORD = re.compile(r"\w+")
# Definite-article and preposition prefixes, then pronoun and plural suffixes, of Arabic words.
_MATCH_PREFIXES = ("وبال", "وال", "فال", "بال", "كال", "لل", "ال")
_MATCH_SUFFIXES = ("هما", "كما", "هم", "هن", "ها", "ات", "ون", "ين", "ان", "ه", "ي")


def match_keys(word: str) -> frozenset[str]:
    """A normalized word and its light stems, so `الهجمات` meets `هجمات` and `هجماتهم`.

    Looser than `index_stem`: every stem found is kept beside the word, and one
    word matches another when their keys meet.
    """
    keys = {word}
    if _ARABIC_BLOCKS.match(word):
        stem = word
        for prefix in _MATCH_PREFIXES:
            if stem.startswith(prefix) and len(stem) - len(prefix) >= 3:
                stem = stem[len(prefix):]
                break
        else:
            if stem[0] in "وفبل" and len(stem) >= 5:
                keys.add(stem[1:])
        for suffix in _MATCH_SUFFIXES:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= 3:
                keys.add(stem[: -len(suffix)])
                break
        keys.add(stem)
    elif len(word) > 3 and word.endswith("s"):
        keys.add(word[:-1])
    return frozenset(keys)


@dataclass(frozen=True)
class Word:
    """A word as written (`raw`), normalized (`plain`), and its `match_keys`."""

    raw: str
    plain: str
    keys: frozenset[str]


def split_words(text: str) -> list[Word]:
    """The words of `text`, in order."""
    found = []
    for match in WORD.finditer(text):
        raw = match.group()
        plain = normalize(raw)
        found.append(Word(raw, plain, match_keys(plain)))
    return found


def content_words(found: Sequence[Word]) -> list[Word]:
    """The words that carry a topic: not in `MATCH_STOPWORDS`, and no lone letter (a lone digit stays)."""
    return [w for w in found if w.plain not in MATCH_STOPWORDS and not (len(w.plain) == 1 and not w.plain.isdigit())]
