"""Names written in Urdu (Arabic script) as Latin text, so they key and rank like their Latin spellings.

A clerk may type "محمد علی" and the record say "Muhammad Ali", or the other way round. Both become the
same search keys (``records.names``) if the Urdu text is transliterated before it is folded:

* ``WORDS``: the common Pakistani name words, written as they are usually spelt in Urdu (short vowels
  unwritten), mapped to their usual Latin form, which ``names.VARIANTS`` then folds onto its canonical
  form. Urdu leaves out the short vowels, so "محمد" letter by letter is "mhmd": only a table gives
  "Muhammad" back. Arabic-keyboard forms (ي ك ه ة) are folded onto the Urdu letters first, and vowel
  marks dropped, so "علي" and "عَلی" find "علی";
* every other word letter by letter (``LETTERS``): each consonant its usual Latin letter(s); alif, waw
  and ye as vowels inside a word (so the Double Metaphone code, which keeps consonants and a word's first
  vowel, comes out as the Latin spelling's: "نوشاد" -> "noshad" -> NXT, as "Naushad"), waw and ye as
  consonants at the start of a word; a final he as "a" (فرحانہ -> farhana).

Own table, no dependency: the transliteration libraries on PyPI target Arabic or Hindi, not Urdu names.
"""

# ruff: noqa: RUF001, RUF002  (Urdu letters are the point of this module)
from __future__ import annotations

import re

# Arabic-keyboard letters and presentation variants -> the Urdu letter.
_UNIFY = str.maketrans(
    {"ي": "ی", "ى": "ی", "ك": "ک", "ه": "ہ", "ة": "ہ", "ۃ": "ہ", "ۂ": "ہ", "أ": "ا", "إ": "ا", "ٱ": "ا"}
)
# Vowel marks, tatweel, superscript alif, hamza marks, zero-width joiners: not written in a name's keys.
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640\u06d6-\u06ed\u200c\u200d\u200e\u200f]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_WORD = re.compile("[\u0600-\u06ff\u0750-\u077f]+")

# fmt: off
LETTERS: dict[str, str] = {
    "ا": "a", "آ": "a", "ب": "b", "پ": "p", "ت": "t", "ٹ": "t", "ث": "s", "ج": "j", "چ": "ch",
    "ح": "h", "خ": "kh", "د": "d", "ڈ": "d", "ذ": "z", "ر": "r", "ڑ": "r", "ز": "z", "ژ": "zh",
    "س": "s", "ش": "sh", "ص": "s", "ض": "z", "ط": "t", "ظ": "z", "ع": "a", "غ": "gh", "ف": "f",
    "ق": "q", "ک": "k", "گ": "g", "ل": "l", "م": "m", "ن": "n", "ں": "n", "و": "o", "ہ": "h",
    "ھ": "h", "ی": "i", "ے": "e", "ء": "", "ئ": "i", "ؤ": "o",
    "۰": "0", "۱": "1", "۲": "2", "۳": "3", "۴": "4", "۵": "5", "۶": "6", "۷": "7", "۸": "8", "۹": "9",
    "٠": "0", "١": "1", "٢": "2", "٣": "3", "٤": "4", "٥": "5", "٦": "6", "٧": "7", "٨": "8", "٩": "9",
    "،": " ", "؛": " ", "؟": " ", "۔": " ",
}

# Urdu spelling (after _UNIFY and _MARKS) -> the usual Latin spelling.
WORDS: dict[str, str] = {
    # given names
    "محمد": "muhammad", "احمد": "ahmad", "علی": "ali", "حسین": "hussain", "حسن": "hassan",
    "عمر": "umar", "عثمان": "usman", "بلال": "bilal", "عمران": "imran", "کامران": "kamran",
    "آصف": "asif", "طارق": "tariq", "نوید": "naveed", "شہزاد": "shahzad", "ظفر": "zafar",
    "جاوید": "javed", "پرویز": "pervez", "اقبال": "iqbal", "اعجاز": "ijaz", "رضوان": "rizwan",
    "عرفان": "irfan", "سجاد": "sajjad", "عباس": "abbas", "رشید": "rashid", "سعید": "saeed",
    "حمید": "hameed", "مجید": "majeed", "وحید": "waheed", "نذیر": "nazir", "نزیر": "nazir",
    "بشیر": "bashir", "اسلم": "aslam", "اختر": "akhtar", "فاروق": "farooq", "محمود": "mehmood",
    "یوسف": "yousaf", "اسحاق": "ishaq", "اسماعیل": "ismail", "ابراہیم": "ibrahim",
    "مصطفی": "mustafa", "ذوالفقار": "zulfiqar", "خالد": "khalid", "وقاص": "waqas", "عدنان": "adnan",
    "ارشد": "arshad", "شفیق": "shafiq", "رفیق": "rafiq", "صادق": "sadiq", "زاہد": "zahid",
    "ساجد": "sajid", "واجد": "wajid", "امجد": "amjad", "اصغر": "asghar", "اکبر": "akbar",
    "انور": "anwar", "بابر": "babar", "فہد": "fahad", "فیصل": "faisal", "ہارون": "haroon",
    "جمیل": "jamil", "کاشف": "kashif", "لیاقت": "liaquat", "منصور": "mansoor", "ندیم": "nadeem",
    "نعمان": "noman", "قاسم": "qasim", "راحیل": "raheel", "سلمان": "salman", "شعیب": "shoaib",
    "طاہر": "tahir", "طلحہ": "talha", "یاسر": "yasir", "زبیر": "zubair", "دانش": "danish",
    "احسان": "ehsan", "فواد": "fawad", "غلام": "ghulam", "حبیب": "habib", "جنید": "junaid",
    "کلیم": "kaleem", "لطیف": "lateef", "مظہر": "mazhar", "ناصر": "nasir", "عبید": "obaid",
    "قدیر": "qadeer", "رؤف": "rauf", "سہیل": "sohail", "تنویر": "tanveer", "وسیم": "waseem",
    "یعقوب": "yaqoob", "ذیشان": "zeeshan", "رسول": "rasool", "نواز": "nawaz", "شریف": "sharif",
    "عبد": "abdul", "عبدل": "abdul", "عبدالله": "abdullah", "عبداللہ": "abdullah",
    "اللہ": "ullah", "الله": "ullah", "الدین": "din", "دین": "din", "نور": "noor", "رحمان": "rehman",
    "رحمن": "rehman", "الرحمان": "rehman", "الرحمن": "rehman", "عبدالرحمان": "abdul rehman",
    "عبدالرحمن": "abdul rehman", "عبدالغفور": "abdul ghafoor", "عبدالقادر": "abdul qadir",
    "عبدالستار": "abdul sattar", "عبدالمجید": "abdul majeed", "عبدالرشید": "abdul rashid",
    "شاہد": "shahid", "خورشید": "khurshid", "جہانگیر": "jahangir", "اشرف": "ashraf", "افضل": "afzal",
    "اسد": "asad", "اویس": "owais", "حمزہ": "hamza", "حیدر": "haider", "رضا": "raza",
    # women's names
    "فاطمہ": "fatima", "عائشہ": "ayesha", "عایشہ": "ayesha", "زینب": "zainab", "نسرین": "nasreen",
    "پروین": "parveen", "شمیم": "shamim", "سعدیہ": "sadia", "صائمہ": "saima", "روبینہ": "rubina",
    "شازیہ": "shazia", "نادیہ": "nadia", "اسماء": "asma", "اسما": "asma", "ثناء": "sana",
    "ثنا": "sana", "حنا": "hina", "رابعہ": "rabia", "ثمینہ": "samina", "کرن": "kiran",
    "عظمی": "uzma", "آمنہ": "amina", "بشری": "bushra", "فرزانہ": "farzana", "غزالہ": "ghazala",
    "حمیرا": "humaira", "ارم": "iram", "جویریہ": "javeria", "خدیجہ": "khadija", "لبنی": "lubna",
    "مہوش": "mehwish", "نائلہ": "naila", "ریحانہ": "rehana", "بیبی": "bibi", "بیگم": "begum",
    "مریم": "maryam", "صغری": "sughra", "کلثوم": "kulsoom", "سکینہ": "sakina",
    # family names, castes, titles
    "خان": "khan", "چوہدری": "chaudhry", "چودھری": "chaudhry", "چوھدری": "chaudhry",
    "قریشی": "qureshi", "صدیقی": "siddiqui", "شیخ": "sheikh", "سید": "syed", "ملک": "malik",
    "بٹ": "butt", "جٹ": "jutt", "اعوان": "awan", "راجپوت": "rajput", "گوندل": "gondal",
    "بھٹی": "bhatti", "چیمہ": "cheema", "گل": "gill", "وڑائچ": "warraich", "عباسی": "abbasi",
    "آفریدی": "afridi", "یوسفزئی": "yousafzai", "مغل": "mughal", "انصاری": "ansari",
    "بلوچ": "baloch", "خٹک": "khattak", "نیازی": "niazi", "آرائیں": "arain", "ہاشمی": "hashmi",
    "رضوی": "rizvi", "نقوی": "naqvi", "جعفری": "jafri", "کاظمی": "kazmi", "بخاری": "bukhari",
    "گیلانی": "gilani", "شاہ": "shah", "مرزا": "mirza", "تارڑ": "tarar", "ورک": "virk",
    "سندھو": "sandhu", "ڈوگر": "dogar", "کھرل": "kharal", "سیال": "sial", "لودھی": "lodhi",
    "درانی": "durrani", "مروت": "marwat", "بنگش": "bangash", "میمن": "memon", "جتوئی": "jatoi",
    "بخش": "bakhsh", "ولد": "s/o", "بنت": "d/o", "زوجہ": "w/o",
}
# fmt: on
_VOWEL_LETTERS = frozenset("اآوی")


def has_arabic_script(text: str) -> bool:
    return _ARABIC.search(text) is not None


def _letters(word: str) -> str:
    """One word letter by letter (waw and ye consonants at its start, a final he a vowel)."""
    out = []
    for i, letter in enumerate(word):
        last = i == len(word) - 1
        if i == 0 and letter == "و":
            out.append("w")
        elif i == 0 and letter == "ی":
            out.append("y")
        elif letter == "ی" and not last and word[i + 1] in _VOWEL_LETTERS:
            out.append("y")  # ye before a vowel letter: a consonant (ریاض -> riyaz)
        elif letter == "و" and not last and word[i + 1] == "ا":
            out.append("w")  # waw before alif: a consonant (نواز -> nawaz)
        elif letter == "ہ" and last and i > 0 and word[i - 1] not in _VOWEL_LETTERS:
            out.append("a")  # a final he after a consonant: a vowel (فرحانہ -> farhana)
        else:
            out.append(LETTERS.get(letter, letter))
    return "".join(out)


def _word(word: str) -> str:
    known = WORDS.get(word)
    if known is not None:
        return known
    for prefix in ("عبد", "ال"):  # عبدالکریم -> abdul karim; the article before a name part
        if word.startswith(prefix) and len(word) > len(prefix) + 1:
            rest = word[len(prefix) :].removeprefix("ال")
            head = "abdul " if prefix == "عبد" else ""
            return head + WORDS.get(rest, _letters(rest))
    return _letters(word)


def to_latin(text: str) -> str:
    """Text with every Urdu/Arabic-script word written in Latin letters; other text as it was."""
    if not has_arabic_script(text):
        return text
    unified = _MARKS.sub("", text.translate(_UNIFY)).replace("بی بی", "بیبی")  # one name, two words
    return _WORD.sub(lambda m: f" {_word(m.group(0))} ", unified)
