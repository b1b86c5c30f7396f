"""The short answer's phrase: candidates of the kind asked for, the nearest to the question's words, abstention when unsure."""

from __future__ import annotations

import pytest

from qa.short import short_phrase


def phrase(question: str, sentence: str) -> str | None:
    found = short_phrase(question, sentence)
    return None if found is None else sentence[found.start:found.end]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("كم شخصا قتل في هجمات باريس؟", "وقتل 130 شخصا في هجمات باريس في 13 نوفمبر.", "130 شخصا"),
        ("متى قتل 130 شخصا في هجمات باريس؟", "وقتل 130 شخصا في هجمات باريس في 13 نوفمبر.", "13 نوفمبر"),
        ("متى يزور أولوند موسكو؟", "يزور الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس للقاء بوتين.", "الخميس"),
        ("في أي عام تأسست الشركة؟", "تأسست الشركة في عام 1998 في كاليفورنيا على يد طالبين.", "1998"),
        ("كم بلغت تكلفة المشروع؟", "وبلغت تكلفة المشروع 20 مليون دولار بحسب الوزارة.", "20 مليون دولار"),
        ("How many people were killed in the Paris attacks?", "The attacks in Paris killed 130 people on 13 November.", "130 people"),
        ("When did the attacks in Paris happen?", "The attacks in Paris killed 130 people on 13 November 2015.", "13 November 2015"),
        ("Who met Putin in Moscow?", "In Moscow, French President François Hollande met Putin on Thursday.", "François Hollande"),
        ("Combien de personnes sont mortes à Paris ?", "Les attentats de Paris ont fait 130 morts le 13 novembre.", "130"),
        ("ما هي نسبة الفتيات في المناطق الساحلية؟", "قدرت اليونيسف أن 30 في المئة من الفتيات في المناطق الساحلية تركن المدرسة.", "30 في المئة"),
        ("متى حكم جيجين؟", "حكم جيجين خان لمدة عامين فقط، من 1321 إلى 1323.", "1321 إلى 1323"),
        ("كم قتيلا سقط في الهجوم؟", "سقط إثنا عشر قتيلا في الهجوم.", "إثنا عشر قتيلا"),
        ("في أي قرن أنشأ المبشرون مدارس؟", "أنشأ المبشرون مدارس كنسية في القرن التاسع عشر في جنوب أفريقيا.", "القرن التاسع عشر"),
        # Two dates as near the question's words: the one right after them.
        ("متى تم تمرير قانون الجنسية البريطانية؟", "قدمت بموجب قانون مجلس العموم لعام 1975 وقانون الجنسية البريطانية 1981.", "1981"),
        # The only date of the sentence, however far from the question's words.
        ("متى كان جيجن الامبراطور؟", "حكم الإمبراطور جيجين خان، نجل أيورباروادا وخلفه، لمدة عامين فقط، من 1321 إلى 1323.", "1321 إلى 1323"),
        # A time counted back from now or from an era.
        ("منذ متى دخلت البكتيريا الزرقاء خلية؟", "في مكان ما منذ حوالي مليار سنة، دخلت البكتيريا الزرقاء الحية خلية مبكرة.", "حوالي مليار سنة"),
        ("متى بدأ الاحترار في أوروبا؟", "بدأت أوروبا في الاحترار من 22،000 سنة مضت فصاعدا.", "22،000 سنة مضت"),
        ("When did the rapid warming begin?", "The rapid warming began about 13000 BP.", "13000 BP"),
        ("When did the dinosaurs die out?", "The dinosaurs died out 66 million years ago in a mass extinction.", "66 million years ago"),
        # A time of day (3:08) is no count, nor part of the score before it.
        ("كم كانت النتيجة قبل نهاية المباراة؟", "تقدمت دنفر 24-10 3:08 قبل نهاية المباراة.", "24-10"),
        # A how-long question wants a duration, and a named unit picks its number.
        ("كم من الوقت بقي في المباراة؟", "فاز الفريق 20–18 مع 17 ثانية متبقية في المباراة.", "17 ثانية"),
        # `كم كان عدد الترشيحات` counts nominations, and `ترشيحاً` is one of them.
        ("كم كان عدد الترشيحات للجائزة في 1915؟", "تلقى إديسون واحداً من بين 38 ترشيحاً محتملاً في عام 1915.", "38 ترشيحاً"),
        # A unit that names the next year (`طن سنة 2005`) is that date's: the number does not take it.
        (
            "كم طنا من الكربون يمتص الأمازون في السنة العادية؟",
            "يمتص الأمازون في السنة العادية 1.5 مليار طن من الكربون، غير أنه انبعثت 5 مليارات طن سنة 2005 و8 مليار طن سنة 2010.",
            "1.5 مليار طن",
        ),
        # How old: an age counted back from now.
        (
            "كم عمر المستحثات المكتشفة التي تعود إلى المشطيات؟",
            "عثر على مستحثات لمشطيات ذات أجسام ناعمة، وتعود إلى أوائل العصر الكمبري منذ حوالي 515 مليون سنة.",
            "حوالي 515 مليون سنة",
        ),
        ("How old are the fossils?", "The fossils are dated to 515 million years ago.", "515 million years ago"),
        # `واحدة من` picks one of them; the count is the number after it.
        ("كم عدد سلالات البلاستيدات الخضراء؟", "تنتمي جميع البلاستيدات الخضراء إلى واحدة من ثلاث سلالات للبلاستيدات الخضراء.", "ثلاث سلالات"),
        ("بكم ميلا تزايدت نسبة إزالة الغابات؟", "تزايدت نسبة إزالة الغابات 18% أي 8,646 ميلا مربعا.", "8,646 ميلا"),
        # No date: a time told by an event.
        ("متى كانت راينلاند خاضعة لمعاهدة فرساي؟", "في نهاية الحرب العالمية الأولى، كانت راينلاند خاضعة لمعاهدة فرساي.", "نهاية الحرب العالمية الأولى"),
        ("متى عاد الوفد إلى القاهرة؟", "عاد الوفد إلى القاهرة بعد انتهاء المفاوضات في الدوحة.", "بعد انتهاء المفاوضات"),
    ],
)
def test_the_phrase_of_the_kind_asked_for(question: str, sentence: str, expected: str) -> None:
    assert phrase(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # A title, its adjectives, then the name; a preposition's word after two words of it opens the next phrase.
        ("من المهندس الذي صمم المتحف؟", "في عام 1855 قام المهندس المعماري الألماني غوتفريت زيمبا بوضع تصميم المتحف.", "غوتفريت زيمبا"),
        ("من كان ابن أيورباروادا؟", "حكم الإمبراطور جيجين خان، نجل أيورباروادا وخلفه، لمدة عامين فقط.", "جيجين خان"),
        ("من هو الأمين العام للأمم المتحدة الذي درس في هارفارد؟", "علم السياسة: الأمين العام للأمم المتحدة بان كي مون.", "بان كي مون"),
        # News: a title's complement may hold a preposition or a noun in construct; after عبد, أبو, بن the word with the
        # article is the name's.
        ("من هو المتحدث باسم الخارجية الأمريكية؟", "وقال المتحدث باسم الخارجية الأمريكية نيد برايس إن المحادثات مستمرة.", "نيد برايس"),
        ("من هو الرئيس المصري؟", "التقى الرئيس المصري عبد الفتاح السيسي وزير الخارجية الأمريكي في القاهرة.", "عبد الفتاح"),
        ("من هو الأمين العام لجامعة الدول العربية؟", "قال الأمين العام لجامعة الدول العربية أحمد أبو الغيط إن القمة ستعقد في موعدها.", "أحمد أبو الغيط"),
        ("من اعتبرت أن تصريحات نتانياهو لا تدفع إلى التشكيك؟", "واعتبرت وزيرة خارجية الاتحاد الأوروبي فيديريكا موغيريني أن تصريحات نتانياهو لا تدفع إلى التشكيك.", "فيديريكا موغيريني"),
        ("من هو رئيس حكومة الوفاق الوطني؟", "استقبل رئيس حكومة الوفاق الوطني فايز السراج السفير الإيطالي في طرابلس.", "فايز"),
        # No title: an article-less run between the question's words, after a described noun or the question's verb.
        ("من الذي خسر أمام البرونكوس في الجولة الفاصلة؟", "هزم البرونكوس فريق بيتسبرغ ستيلرز في الجولة الفاصلة، 23–16.", "فريق بيتسبرغ ستيلرز"),
        ("من غنى النشيد الوطني؟", "أدّت الفائزة بجائزة غرامي والمرشحة لجائزة الأوسكار ليدي غاغا النشيد الوطني.", "ليدي غاغا"),
        ("من صمم شعار الشبكة؟", "بدأت الشبكة باستخدام هوية صممها بيتارد ساليفان، إذ تعرض شعارا صغيرا.", "بيتارد ساليفان"),
        # Two names as near the question's words: the one among clearly more of them.
        (
            "من الفائز بجائزة نوبل في العلوم الاقتصادية؟",
            (
                "في الاقتصاد، الفائزون بجائزة نوبل التذكارية في العلوم الاقتصادية ميلتون فريدمان، مستشار الرئيس رونالد ريغان، "
                "وبول سامويلسون، أول أمريكي يفوز في العلوم الاقتصادية ويوجين فاما، وجميعهم من الخريجين."
            ),
            "ميلتون فريدمان",
        ),
        # The agent of a passive sentence.
        ("من اختطف زوجة تيموجين؟", "تم اختطاف زوجة تيموجين من قبل المركيتيين بعد الزواج.", "المركيتيين"),
        ("Who was the song written by?", "The song was written by Paul McCartney in 1965.", "Paul McCartney"),
        ("Qui a écrit la chanson ?", "La chanson a été écrite par Paul McCartney en 1965.", "Paul McCartney"),
        # Where: the phrase after a place preposition that follows the question's words.
        ("أين تتم معظم أعمال البرلمان الاسكتلندي؟", "تتم معظم أعمال البرلمان الاسكتلندي في لجنة.", "لجنة"),
        # A place noun introduces a place's name as a title a person's; alone it is no answer; a time ends a name.
        ("أين ولد فيكتور هوغو؟", "ولد فيكتور هوغو في مدينة بيزانسون عام 1802.", "بيزانسون"),
        ("من زار موسكو يوم الخميس؟", "زار الرئيس الفرنسي فرانسوا أولوند موسكو يوم الخميس.", "فرانسوا أولوند"),
        ("ما هي المدينة الأمريكية التي تقع فيها الجامعة؟", "تقع الجامعة في جميع أنحاء منطقة مدينة بوسطن: الحرم الرئيسي 209 فدان.", "بوسطن"),
        ("أين يتدفق نهر الراين الأوسط؟", "بين بينجن وبون، يتدفق الراين الأوسط عبر مضيق رهين، وهو تكوين من التعرية.", "مضيق رهين"),
        # A noun of quantity takes its `من` and what follows; `بالقرب من` is a place preposition; a time between the
        # question's words and the preposition is the verb's.
        ("أين عاش تسلا معظم حياته؟", "عاش تسلا معظم حياته في سلسلة من فنادق نيويورك خلال تقاعده.", "سلسلة من فنادق نيويورك"),
        ("أين تبدأ الدلتا؟", "تبدأ الدلتا بالقرب من ميلنجن عند الحدود.", "بالقرب من ميلنجن"),
        # A four-letter verb meets its other persons: the question's `يبدأ` is the sentence's `تبدأ`.
        (
            "من أين يبدأ الدلتا في هولندا؟",
            "راين-ميوزي دلتا، المنطقة الطبيعية الأكثر أهمية في هولندا تبدأ بالقرب من ميلنجن آن دي ريجن، بالقرب من الحدود.",
            "بالقرب من ميلنجن",
        ),
        ("أين بدأ النهر؟", "بدأ النهر في القرن التاسع عشر داخل مدينة صغيرة.", "مدينة صغيرة"),
        # A relative pronoun or `وهو` and the question's words after a run: the run is whom they tell of; a noun with
        # its pronoun or a preposition's word before it is not the name's.
        ("من كان أول مدير للمتحف؟", "شارك في تخطيطه هنري كول وهو أول مدير للمتحف.", "هنري كول"),
        # `إلواي` opens with a hamza, not the article.
        ("من هو المدير العام للبرونكوس؟", "كان الرقم القياسي بحوزة جون إلواي، الذي قاد البرونكوس للفوز.", "جون إلواي"),
        # After `أن`, the subject, then the question's verb.
        ("من تلقى ترشيحا لجائزة نوبل؟", "على الرغم من أن إديسون تلقى ترشيحا لجائزة نوبل في عام 1915.", "إديسون"),
        ("من يعتقد أن النظام مضلل؟", 'كتب المؤرخ فريديريك موت أن استخدام مصطلح "الطبقات" لهذا النظام كان مضللا.', "فريديريك موت"),
    ],
)
def test_arabic_names_and_places_by_their_place_in_the_sentence(question: str, sentence: str, expected: str) -> None:
    assert phrase(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # A title's complement with a preposition is no name.
        ("من هو المدير العام للفريق؟", "كان جون إلواي نائب الرئيس والمدير العام لدنفر."),
        # A time of day is no name.
        ("من وصل إلى الرياض؟", "وصل الرئيس الفرنسي مساء الأحد إلى الرياض في زيارة رسمية."),
        # `أمام` (before) is no imam, and a word with a pronoun (`خسارته`) is no name.
        ("من واجه روما في نصف النهائي؟", "تأهل ليفربول إلى النهائي رغم خسارته أمام مضيفه روما في نصف النهائي."),
        # `تحاصر` is the question's `يحاصر` in another person, not the start of a name.
        ("من يحاصر معقل الحوثيين؟", "أفادت مصادر أن قوات الجيش الوطني باتت تحاصر معقلهم الأخير في صعدة."),
        # A sentence that shares too few of the question's words is about something else.
        ("من هو الحاكم الألماني الذي دعا الهوغونتيين للهجرة؟", "ومن بين أحفادهم الجنرال هيرمان فون فرانسوا."),
        # An Arabic sentence opens with its verb: `يعود أصل` is no name.
        ("من كان أول مدير للمتحف؟", "يعود أصل المتحف إلى المعرض الكبير."),
        # A time of day is no count, a year after في no duration.
        ("كم هدفا سجل الفريق؟", "سجل الفريق هدفه الأول عند الدقيقة 3:08."),
        ("كم دام القتال في الحرب؟", "بدأ القتال في الحرب في 1756 وانتهى بمعاهدة سلام."),
        # A place phrase is no time.
        ("أين بدأت الحركة؟", "بدأت الحركة في منتصف القرن الثامن عشر."),
        # A time word before no event is no time.
        ("متى عاد الوفد إلى القاهرة؟", "عاد الوفد إلى القاهرة بعد ذلك بقليل."),
        # After `أن`, a phrase the question's verb does not follow in the same clause is no subject.
        ("من يعتقد أن الطبقات مضللة؟", 'كتب أن استخدام مصطلح "الطبقات" كان مضللا.'),
    ],
)
def test_no_name_or_place_when_unsure(question: str, sentence: str) -> None:
    assert phrase(question, sentence) is None


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # `كان` or a sister opens the clause, then the subject, then what the question says of it.
        (
            "من كان أول ظهير رباعي يقود فريقين إلى أكثر من سوبر بول واحدة؟",
            "أصبح بايتون مانينغ أول ظهير رباعي على الإطلاق يقود فريقين مختلفين لألقاب سوبر بول متعددة.",
            "بايتون مانينغ",
        ),
        ("من أصبح أول رئيس منتخب للبلاد؟", "وقد أصبح محمد مرسي أول رئيس منتخب للبلاد بعد الثورة.", "محمد مرسي"),
        ("من كان ثاني أكبر منتج للنفط في العالم؟", "في ذلك الوقت، كانت إيران ثاني أكبر مُصدِّر للنفط في العالم وحليفة الولايات المتحدة.", "إيران"),
        # A passive verb of deeming, after `غالبا ما`; `كأول` opens the predicate.
        ("من الذي يعتبر أول عالم جيولوجي حديث؟", "غالباً ما يُرى جيمس هوتون كأول عالم جيولوجي حديث.", "جيمس هوتون"),
        ("ما هي المدينة الأكبر التي لا ترتبط بطرق ما بين الولايات؟", "تعتبر فريسنو المدينة الأمريكية الأكبر التي لا ترتبط مباشرةً بطريق سريعة بين الولايات.", "فريسنو"),
        # `أما` puts the topic first; the clause that `فـ` opens says what the question asks of it.
        ("ما هي الدولة التي وقَّعت معاهدةً في سنة 1985؟", "أما غرينلاند، فقد وقَّعت معاهدةً في سنة 1985 تمنحها منزلةً قانونيةً خاصة.", "غرينلاند"),
        # Examples of the question's noun after `مثل` or `بما في ذلك`, joined by `و`.
        (
            "من كانا اثنان من مستشاري كوبلاي الصينيين؟",
            "أعطى المستشارون الصينيون مثل ليو بينزهونج وياو شو تأثيراً قوياً على محكمة كوبلاي المبكرة.",
            "ليو بينزهونج وياو شو",
        ),
        ("من هم اللاعبون الذين غابوا عن المباراة؟", "غاب عن المباراة عدة لاعبين بما في ذلك محمد صلاح وساديو ماني بسبب الإصابة.", "محمد صلاح وساديو ماني"),
    ],
)
def test_subjects_of_kana_and_examples(question: str, sentence: str, expected: str) -> None:
    assert phrase(question, sentence) == expected


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # A feminine noun after `كانت` is no name.
        ("من كان أول زائر للمعرض؟", "كانت زيارة الوفد أول حدث في المعرض."),
        # After `كان` and a word, a preposition opens no predicate: `حضور في المؤتمر` is no one.
        ("من كان ضيف المؤتمر؟", "كان حضور في المؤتمر محدودا هذا العام."),
        # A topic whose clause is not the question's.
        ("من وقع الاتفاق مع الحكومة؟", "وقعت الحكومة الاتفاق أمس، أما نتنياهو فلم يعلق على الأنباء."),
        # Examples of a noun that is not the question's.
        ("من المستشارون الذين عينهم كوبلاي؟", "اعتمد كوبلاي على نظم إدارية صينية مثل ديوان الرقابة."),
    ],
)
def test_no_subject_or_example_when_unsure(question: str, sentence: str) -> None:
    assert phrase(question, sentence) is None


def test_the_span_is_the_sentence_text() -> None:
    sentence = "وقتل 130 شخصا في هجمات باريس."
    found = short_phrase("كم شخصا قتل في هجمات باريس؟", sentence)
    assert found is not None and found.kind == "number" and sentence[found.start:found.end] == "130 شخصا"


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        # Not a factoid question.
        ("لماذا يزور أولوند موسكو؟", "يزور أولوند موسكو يوم الخميس للقاء بوتين."),
        # No phrase of the kind asked for.
        ("متى يزور أولوند موسكو؟", "يزور أولوند موسكو للقاء بوتين."),
        # Two numbers as near the question's words, one each side: ambiguous.
        ("كم شخصا أصيب؟", "قتل 12 وأصيب 40 آخرون."),
        # A count does not answer a question about a share, nor a share one about a count.
        ("كم عدد المثليين المتزوجين؟", "وكان هناك 0.9% من الشراكات بين المثليين المتزوجين."),
        # A date is no age.
        ("كم عمر المستحثات؟", "عثر على المستحثات في عام 1909."),
        # `واحدة من` is no count.
        ("كم عدد المدن التي زارها الوفد؟", "زار الوفد واحدة من أكبر المدن في البلاد."),
        # The only number is the question's own.
        ("كم شخصا قتل في 13 هجوما؟", "قتل كثيرون في 13 هجوما."),
    ],
)
def test_no_phrase_when_unsure(question: str, sentence: str) -> None:
    assert phrase(question, sentence) is None


def test_an_event_is_a_time_only_when_the_sentence_has_no_date() -> None:
    sentence = "في نهاية الحرب العالمية الأولى عام 1918 كانت راينلاند خاضعة لمعاهدة فرساي."
    assert phrase("متى كانت راينلاند خاضعة لمعاهدة فرساي؟", sentence) == "1918"


def test_a_month_name_alone_is_no_date() -> None:
    # مارس is March and also "he practised".
    assert phrase("متى مارس الطب؟", "مارس الطب طويلا في القاهرة.") is None
    assert phrase("متى مارس الطب؟", "مارس الطب منذ 3 مارس 1990 في القاهرة.") == "3 مارس 1990"
