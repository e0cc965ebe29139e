"""Names as search keys: transliteration-folded text and phonetic codes, the same on both databases.

South Asian names reach the records in many Latin spellings of one Urdu name (Muhammad / Mohammad /
Mohd / Muhammed, Hussain / Husain / Hussein, Chaudhry / Chaudhary / Ch.). A name is keyed three ways:

* ``canonical``: ASCII-folded lower-case tokens, each spelling variant replaced by one canonical form
  from ``VARIANTS`` (an explicit table: abbreviations such as "Mohd" and "Ch." cannot be guessed by
  any phonetic algorithm), honorifics and joining particles ("ul", "ur", "bin", "s/o") dropped;
* ``phonetic``: the Double Metaphone primary code of each canonical token (Khan and Kahn are both
  ``KN``), catching the variants the table does not list;
* ``phonetic_sorted``: the same codes sorted, so "Aslam Chaudhry" and "Chaudhry Aslam" key alike.

A name written in Urdu script is transliterated first (``records.urdu``), so "محمد علی" keys as
"Muhammad Ali" and either finds the other.

``score`` ranks a candidate against a query with rapidfuzz on the canonical text and the phonetic
codes. Everything here is pure and cheap; the stores compute the keys when a record is written.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from doublemetaphone import doublemetaphone
from rapidfuzz import fuzz

from command_center.records.urdu import to_latin

# canonical form: the spellings folded onto it (lower case, punctuation already removed).
# fmt: off
VARIANTS: dict[str, tuple[str, ...]] = {
    "muhammad": (
        "mohammad", "mohammed", "muhammed", "mohamed", "mohamad", "muhamad", "muhamed", "mohammod",
        "mohd", "muhd", "mhd", "md", "mahomed", "mohamud", "muhammadh", "mohmmad", "mohmad",
    ),
    "ahmad": ("ahmed", "ahmd", "ahemad", "ahamed"),
    "hussain": ("husain", "hussein", "husein", "hussian", "hossain", "hosain", "husayn", "hussien"),
    "hassan": ("hasan", "hasen", "hassen"),
    "chaudhry": (
        "ch", "chaudhary", "chaudhri", "chaudhari", "choudhry", "choudhary", "chowdhury", "chowdhry",
        "chaudry", "choudri", "chohdry", "chaudary", "choudhury", "chaudhuri",
    ),
    "khan": ("kahn", "khaan"),
    "qureshi": ("kureshi", "quraishi", "qureishi", "qurashi", "qureshy", "qurayshi"),
    "siddiqui": ("siddiqi", "sidiqui", "siddiki", "sidiqi", "siddique"),
    "sheikh": ("shaikh", "shaykh", "sheik", "shiekh", "shk"),
    "syed": ("sayed", "sayyid", "saiyed", "sayyed", "syyed"),
    "rehman": ("rahman", "rehmaan", "rahmaan", "rehmán"),
    "abdul": ("abd", "abdal", "abdel", "abdur", "abdus", "abdool", "abdull"),
    "yousaf": ("yusuf", "yousuf", "yousef", "yusof", "yosuf", "yusaf", "yousif"),
    "usman": ("osman", "uthman", "othman", "usmaan"),
    "umar": ("omar", "omer", "umer"),
    "farooq": ("faruq", "farook", "farouk", "faruk", "farooque"),
    "mehmood": ("mahmood", "mahmud", "mehmud", "mahmoud", "mehmod"),
    "javed": ("javaid", "jawed", "javid", "jawaid"),
    "pervez": ("parvez", "parvaiz", "pervaiz", "parwez"),
    "iqbal": ("ikbal", "iqbaal"),
    "ijaz": ("ejaz", "aijaz", "ejaaz", "ijaaz"),
    "zulfiqar": ("zulfikar", "zulfaqar", "zulfiqaar", "zulfiquar"),
    "tariq": ("tarik", "tareq", "tarique"),
    "rashid": ("rasheed", "rashed"),
    "saeed": ("saed", "saeid", "saiid"),
    "hameed": ("hamid", "hamed"),
    "majeed": ("majid", "majed"),
    "waheed": ("wahid", "wahed"),
    "naveed": ("navid", "naved", "naweed"),
    "nazir": ("nazeer", "nazer"),
    "bashir": ("basheer", "bashier"),
    "shahzad": ("shehzad", "shazad", "shahzaad"),
    "akhtar": ("akhter", "akhtur", "akthar"),
    "zafar": ("zafer", "zaffar"),
    "asif": ("aasif", "asiff"),
    "ali": ("aly", "alli"),
    "rizwan": ("rizwaan", "ridwan", "rizvan"),
    "imran": ("imraan", "emran"),
    "kamran": ("kamraan",),
    "irfan": ("irfaan", "erfan"),
    "sajjad": ("sajad",),
    "abbas": ("abas",),
    "malik": ("malick", "malek"),
    "butt": ("bhatt", "but"),
    "jutt": ("jatt", "jat"),
    "ayesha": ("aisha", "aysha", "aishah", "ayisha"),
    "fatima": ("fatimah", "fatma"),
    "zainab": ("zaynab", "zenab"),
    "nasreen": ("nasrin",),
    "parveen": ("parvin", "perveen"),
    "shamim": ("shameem",),
    "bibi": ("bebe",),
    "aslam": ("aslum",),
    "yaqoob": ("yaqub", "yakub", "yaqoub", "yacoob"),
    "ishaq": ("ishak", "ishaaq"),
    "ismail": ("ismael", "esmail"),
    "ibrahim": ("ibraheem", "ebrahim"),
    "mustafa": ("mustapha", "mostafa"),
    "noor": ("nur", "noer"),
    "din": ("deen", "uddin", "uddeen"),
    "ullah": ("ulla", "ulah"),
}
# fmt: on
# Dropped: honorifics, and the particles that join parts of one name (Abd-ur-Rehman, Zia-ul-Haq)
# or a person to a parent (s/o: son of). Spelled with or without them, a name keys alike.
DROPPED = frozenset({"mr", "mrs", "ms", "miss", "ul", "ur", "us", "ud", "un", "al", "el", "bin", "binte"})
_RELATIONS = re.compile(r"\b[sdw]\s*/\s*o\b")  # s/o, d/o, w/o
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_CANONICAL: dict[str, str] = {
    variant: canonical for canonical, variants in VARIANTS.items() for variant in variants
}
assert not set(_CANONICAL) & set(VARIANTS), "a canonical form is listed as another's variant"


def fold(text: str) -> str:
    """ASCII lower case: Urdu script transliterated (``records.urdu``), accents dropped (NFKD), every
    run of other characters a single space."""
    latin = to_latin(unicodedata.normalize("NFKC", text))
    ascii_text = unicodedata.normalize("NFKD", latin).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(_NON_ALNUM.sub(" ", _RELATIONS.sub(" ", ascii_text)).split())


def canonical_tokens(text: str) -> list[str]:
    tokens = []
    for token in fold(text).split():
        if token in DROPPED:
            continue
        tokens.append(_CANONICAL.get(token, token))
    return tokens


@lru_cache(maxsize=65_536)
def phonetic_code(token: str) -> str:
    """Double Metaphone primary code; the token itself when it has none (digits, one letter)."""
    if token.isdigit():
        return token
    primary, _ = doublemetaphone(token)
    return primary or token.upper()


@dataclass(frozen=True, slots=True)
class NameKey:
    canonical: str
    phonetic: str  # one code per canonical token, in order
    phonetic_sorted: str

    @property
    def codes(self) -> list[str]:
        return self.phonetic.split()

    @property
    def empty(self) -> bool:
        return not self.canonical


def name_key(text: str) -> NameKey:
    tokens = canonical_tokens(text)
    codes = [phonetic_code(t) for t in tokens]
    return NameKey(" ".join(tokens), " ".join(codes), " ".join(sorted(codes)))


def score(query: NameKey, candidate: NameKey) -> float:
    """How well a stored name answers a query, 0..1.

    Mostly order-insensitive similarity of the canonical text (typos, missing letters), then of the
    phonetic codes (spellings the table does not list), and a little of the subset ratio, so a query
    naming two of a person's three names still ranks that person high without every "Muhammad" in
    the records scoring 1.
    """
    if query.empty or candidate.empty:
        return 0.0
    text = fuzz.token_sort_ratio(query.canonical, candidate.canonical)
    subset = fuzz.token_set_ratio(query.canonical, candidate.canonical)
    sound = fuzz.token_sort_ratio(query.phonetic, candidate.phonetic)
    sound_subset = fuzz.token_set_ratio(query.phonetic, candidate.phonetic)
    return (0.45 * text + 0.2 * subset + 0.25 * sound + 0.1 * sound_subset) / 100.0
