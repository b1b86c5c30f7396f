"""The words of answer types, in one home: months, weekdays, number words, units, titles, place nouns, time words.

Each set holds normalized words (`qa.normalize`); the short answers (`qa.short`), the extractive answerer's
expected-type feature (`qa.extractive`) and the figures (`qa.figures`) import them from here, and widen a set
where they need more, saying why. The dates' own name-to-value maps stay with the resolver (`qa.text.dates`).
"""

from __future__ import annotations

import re

from qa.normalize import normalize

__all__ = ["CARDINALS", "DAYS", "MONTHS", "NUMBER", "PERSON_TITLES", "PLACE_NOUNS", "SCALES", "TIME_WORDS", "UNITS", "words"]


def words(text: str) -> frozenset[str]:
    """The normalized words of `text`, as a set."""
    return frozenset(normalize(text).split())


# A number as written, digits folded first (`qa.normalize.fold_digits`): 1,000  3.5  56٫2  1٬000.
NUMBER = re.compile(r"\d+(?:[.,٫٬]\d+)*")

MONTHS = words(
    "يناير فبراير مارس أبريل ابريل إبريل مايو يونيو يونيه يوليو يوليه أغسطس اغسطس سبتمبر أكتوبر اكتوبر نوفمبر ديسمبر "
    "جانفي فيفري أفريل ماي جوان جويلية أوت كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين "
    "january february march april may june july august september october november december "
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
)
DAYS = words(
    "الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة السبت "
    "monday tuesday wednesday thursday friday saturday sunday lundi mardi mercredi jeudi vendredi samedi dimanche"
)
# Cardinal words (a digit is a number by itself).
CARDINALS = words(
    "واحد اثنان اثنين اثنا اثني اثنتان اثنتين ثلاث ثلاثة أربع أربعة خمس خمسة ست ستة سبع سبعة ثمان ثماني ثمانية تسع تسعة "
    "عشر عشرة عشرون عشرين ثلاثون ثلاثين أربعون أربعين خمسون خمسين ستون ستين سبعون سبعين ثمانون ثمانين تسعون تسعين "
    "مئة مائة مئات مائتين مئتين مائتان ألف آلاف ألفين ألفا مليون ملايين مليار مليارات نصف ربع ثلث عشرات "
    "two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands million millions billion billions dozen dozens "
    "deux trois quatre cinq six sept huit neuf dix onze douze vingt trente quarante cinquante soixante cent cents mille "
    "million millions milliard milliards douzaine"
)
# Scales and units: they extend a number whether or not the question names them.
SCALES = words("ألف آلاف ألفا مليون ملايين مليار مليارات million millions billion billions thousand milliard milliards mille")
UNITS = words(
    "دولار دولارا دولارات يورو جنيه جنيها ريال ريالا درهم درهما دينار دينارا ليرة روبل يوان ين "
    "كيلومتر كيلومترا كم متر مترا أمتار ميل ميلا أميال قدم أقدام كيلوغرام كيلوغراما كغ طن أطنان غرام لتر "
    "بالمئة بالمائة المئة المائة درجة درجات ساعة ساعات دقيقة دقائق ثانية ثوان يوم يوما أيام أسبوع أسابيع شهر أشهر شهرا سنة سنوات عاما أعوام "
    "dollars dollar euros euro pounds percent per cent km kilometres kilometers miles mile metres meters feet tons tonnes "
    "hours minutes seconds days weeks months years pour cent dollars"
)
# Titles before a person's name.
PERSON_TITLES = words(
    "الرئيس السيد السيدة الملك الملكة الأمير الأميرة الشيخ الدكتور الوزير السفير الإمام البابا القس الجنرال اللواء "
    "العقيد الكاتب المؤلف الشاعر الفنان اللاعب المدرب الفيلسوف المهندس القائد الزعيم المتحدث "
    "mr mrs ms dr president king queen prince minister general sir lord saint mme président roi reine ministre"
)
# Nouns that name a kind of place.
PLACE_NOUNS = words(
    "مدينة دولة بلد بلدة عاصمة منطقة ولاية جزيرة قارة قرية محافظة إقليم مقاطعة نهر جبل بحر محيط ساحل شمال جنوب شرق غرب "
    "وسط قرب بالقرب شارع حي ميناء مطار "
    "city country state capital region island town village province river mountain sea ocean coast north south east west "
    "ville pays état capitale région île village province fleuve montagne mer océan côte nord sud est ouest"
)
# Words of time other than months and weekdays.
TIME_WORDS = words(
    "القرن قرن قرون القرون ميلادي الميلادي هجري هجرية للميلاد أمس غدا الليلة صباح مساء فجر ظهر "
    "century centuries yesterday today tomorrow ago decade bc ad siècle siècles hier aujourd demain"
)
