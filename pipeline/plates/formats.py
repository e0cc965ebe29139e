"""Plate formats per country, the prior they put on readings, and the normalised plate text.

A format is a pattern of character classes: ``L`` a letter, ``D`` a digit, ``A`` either; a class followed
by ``?`` is optional; ``-`` and spaces are where the display form puts separators (they are not part of
the plate number). ``LLL-DDDD`` reads ``LEA-1234``; ``LL DD L?L?L? DDDD`` covers ``KA 22 P 3368`` and
``MH 12 AB 1234``. The canonical text (what hotlists and votes compare) is the characters alone, upper case.

Plates are read *region-free*: any string of letters and digits of a sensible length (``free_lengths``)
is a possible plate, except common words on vehicles and signs (TAXI, POLICE). Formats never discard a
reading; they are a prior that re-ranks readings. A reading that fits a format gains ``bonus`` (a log
factor): the formats of the countries a camera declares gain the most (``format_margin``), every other
known format less (``foreign_margin``), and with no country declared every known format gains the full
bonus. A format also corrects look-alike characters where it assigns a class (``0`` → ``O`` in a letter
slot, ``O`` → ``0`` in a digit slot), at ``correction_penalty`` per correction of look-alikes plate fonts
draw the same (O/0, I/1) and the smaller ``distinct_penalty`` for those a sharp plate tells apart (8/B,
4/A ...); where it says ``A`` nothing is changed. The rules are applied to OCR output in probability space
(``pipeline/plates/decide.py``): a correction costs what the network's own probabilities say, times the
penalty.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.plates.alphabet import PLATE_ALPHABET

LETTER_TO_DIGIT: Mapping[str, str] = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "Z": "2",
    "S": "5",
    "B": "8",
    "G": "6",
    "T": "7",
    "A": "4",
}
"""A letter read where the format wants a digit → the digit it is usually mistaken for."""

DIGIT_TO_LETTER: Mapping[str, str] = {
    "0": "O",
    "1": "I",
    "2": "Z",
    "5": "S",
    "8": "B",
    "6": "G",
    "7": "T",
    "4": "A",
}
"""A digit read where the format wants a letter → the letter it is usually mistaken for."""


def _look_alikes() -> dict[str, tuple[str, ...]]:
    pairs = {*LETTER_TO_DIGIT.items(), *DIGIT_TO_LETTER.items()}
    found: dict[str, set[str]] = {}
    for a, b in pairs:
        found.setdefault(a, set()).add(b)
        found.setdefault(b, set()).add(a)
    return {char: tuple(sorted(others)) for char, others in found.items()}


LOOK_ALIKES: Mapping[str, tuple[str, ...]] = _look_alikes()
"""Each symbol's look-alikes in either direction (``0``: ``D``, ``O``, ``Q``): what OCR swaps it for."""

FREE_LENGTHS = (5, 9)
"""Shortest and longest region-free reading (one that fits no format). Five to nine characters cover the
plates of most countries (nine: Russia's A123BC777); India's ten fit its formats. Shorter strings are
mostly model badges (F150, GT86), a dash-cam's clock (48AM in the KA22P3368 clip) and fragments, longer
ones a slogan or a state's name; plates of four characters or fewer are read where a format says so."""

DEFAULT_FORMATS: Mapping[str, tuple[str, ...]] = {
    # Pakistan: Punjab LEA-1234, Sindh BFR-123, ICT/KP ABC 123, older two-letter series.
    "pk": ("LLL-DDDD", "LLL-DDD", "LL-DDDD", "LL-DDD"),
    # India: state, district (1-2 digits), series of 0-3 letters, 4-digit number; Bharat series 22 BH 1234 AA.
    "in": ("LL DD L?L?L? DDDD", "LL D L?L?L? DDDD", "DD LL DDDD LL?"),
    # Brazil: old grey plates ABC-1234 and Mercosur ABC1D23.
    "br": ("LLL-DDDD", "LLLDLDD"),
    # United States: no national format. California 1ABC234; the common ABC-1234, ABC-123, 123-ABC, 1AB-234;
    # AB1-C2D (with a sticker between the halves); all-digit and letter + 6 digits series. Vanity plates
    # fit no format and are read region-free.
    "us": (
        "DLLLDDD",
        "LLL-DDDD",
        "LLL-DDD",
        "DDD-LLL",
        "DLL-DDD",
        "LLD-LDL",
        "DDDDDDD",
        "L DDDDDD",
    ),
    # Europe: FR/IT AB-123-CD, SK BA-123AB, CZ 1AB-2345, ES 1234-ABC, PL SG 47471 / BSE 5579, GB AB12 CDE;
    # the rest (Germany's, the Netherlands' ...) region-free.
    "eu": ("LL-DDD-LL", "DLA-DDDD", "DDDD-LLL", "LL DDDDD", "LLL DDDD", "LLDD LLL"),
}

NOT_PLATES = frozenset(
    {
        *("TAXI", "TAXICAB", "STOP", "POLICE", "POLIS", "POLIZEI", "SHERIFF", "RESCUE", "SCHOOL"),
        *("EXIT", "ONEWAY", "PARKING", "HOTEL", "SALE", "OPEN", "CLOSED", "GARAGE", "DELIVERY"),
        *("TOYOTA", "HONDA", "SUZUKI", "NISSAN", "FORD", "HYUNDAI", "MAZDA", "TESLA", "DODGE"),
        *("CHEVY", "JEEP", "AUDI", "VOLVO", "SKODA", "RENAULT", "FIAT", "LEXUS", "ACURA", "BUICK"),
    }
)
"""Words painted on vehicles or signs: read plainly, they are no plate, whatever format could bend them
into one (TOYOTA is not TOY-074, POLICE is not POLIC).

Why a list and not "a region-free plate needs a digit": vanity plates are all letters (the benchmark has
GWAGEN, BIMMIAN, FZRULZ, NEILDMND), and requiring a digit dropped exact accuracy from 0.851 to 0.839.
The price: a vanity plate spelling one of these words is not read.
"""


def is_sign_word(text: str) -> bool:
    """Whether canonical ``text`` is a word seen on vehicles and signs rather than a plate number."""
    return text in NOT_PLATES


_TOKEN = re.compile(r"[LDA]\??|[- ]")


SAME_GLYPH = frozenset({("O", "0"), ("0", "O"), ("I", "1"), ("1", "I")})
"""Look-alikes that many plate fonts draw the same (the UK's and Slovakia's O and 0, a serif-less I and
1): the network's choice between them says little, and a format may decide it cheaply. The other
look-alikes (8/B, 5/S, 2/Z, 6/G, 7/T, 4/A, D/0, Q/0) differ in a sharp image."""


def transfer_matrices(penalty: float, distinct: float | None = None) -> dict[str, npt.NDArray[np.float32]]:
    """Per slot class, the (37, 37) matrix that lends a confusable symbol's probability to the symbol the
    slot allows (``0`` → ``O`` in a letter slot, ``O`` → ``0`` in a digit slot): ``penalty`` times it for
    ``SAME_GLYPH`` pairs, ``distinct`` times it (default: ``penalty``) for the other look-alikes."""
    other = penalty if distinct is None else distinct
    index = {c: i for i, c in enumerate(PLATE_ALPHABET)}
    out: dict[str, npt.NDArray[np.float32]] = {}
    for cls, table in (("L", DIGIT_TO_LETTER), ("D", LETTER_TO_DIGIT)):
        matrix = np.eye(len(PLATE_ALPHABET), dtype=np.float32)
        for wrong, right in table.items():
            matrix[index[wrong], index[right]] += penalty if (wrong, right) in SAME_GLYPH else other
        out[cls] = matrix
    return out


WRITTEN_AS: Mapping[str, Mapping[str, str]] = {"us": {"O": "0"}}
"""How a country's records write a glyph its plates draw alike for two characters. US plate fonts draw O
and 0 the same, most states issue no letter O in their serials and treat the two as one character on
vanity plates, and US plate records (openalpr's annotations among them) write 0: a US plate read with an
O is written with a 0. Hotlist matching treats O and 0 alike either way (``watchlist/plate_text.py``)."""


class FormatError(ValueError):
    """A plate format pattern that cannot be parsed, or a country without formats."""


@dataclass(frozen=True, slots=True)
class Template:
    """One fixed-length expansion of a format: ``classes`` like ``LLLDDDD``, ``layout`` like ``LLL-DDDD``.

    ``bonus`` is the template's log prior relative to a region-free reading. A region-free template has
    no country or format, only ``A`` slots and no bonus.
    """

    country: str | None
    format: str | None
    classes: str
    layout: str
    bonus: float = 0.0

    def display(self, text: str) -> str:
        """``text`` (canonical, same length as the template) laid out with the format's separators."""
        chars = iter(text)
        out = [next(chars) if c in "LDA" else c for c in self.layout]
        return re.sub(r"[- ]+", lambda m: "-" if "-" in m.group() else " ", "".join(out)).strip(" -")


@dataclass(frozen=True, slots=True)
class PlateText:
    """A plate number: ``text`` canonical (``LEA1234``), ``display`` (``LEA-1234``), and the country and
    format it fits (None for both when it was read region-free, or fits several countries' formats)."""

    text: str
    display: str
    country: str | None
    format: str | None


def expand(pattern: str) -> list[tuple[str, str]]:
    """All ``(classes, layout)`` expansions of a pattern (each optional slot present or absent)."""
    compact = pattern.strip()
    tokens = _TOKEN.findall(compact)
    if "".join(tokens) != compact or not any(t[0] in "LDA" for t in tokens):
        raise FormatError(
            f"plate format {pattern!r}: use L (letter), D (digit), A (either), '?' for optional, "
            "'-' or space as separators"
        )
    optional = [i for i, t in enumerate(tokens) if t.endswith("?")]
    seen: dict[str, str] = {}
    for present in itertools.product((True, False), repeat=len(optional)):
        keep = dict(zip(optional, present, strict=True))
        layout = "".join(t[0] for i, t in enumerate(tokens) if keep.get(i, True))
        classes = "".join(c for c in layout if c in "LDA")
        if classes and classes not in seen:
            seen[classes] = layout
    return list(seen.items())


def fits(text: str, classes: str) -> bool:
    """Whether canonical ``text`` fits ``classes`` as it is, without corrections."""
    return len(text) == len(classes) and all(
        c == "A" or (c == "L" and ch.isalpha()) or (c == "D" and ch.isdigit())
        for ch, c in zip(text, classes, strict=True)
    )


class PlateRules:
    """Every known format as a prior over readings, the ``countries`` declared (in order) weighing most.

    ``classes`` lists each distinct class string once (formats first, then the region-free lengths): a
    decoder works through those, and ``bonus(classes)`` is the best prior any template gives them.
    """

    def __init__(
        self,
        countries: Sequence[str] = (),
        formats: Mapping[str, Sequence[str]] | None = None,
        *,
        free_lengths: tuple[int, int] = FREE_LENGTHS,
        format_margin: float = 0.03,
        foreign_margin: float = 0.2,
        correction_penalty: float = 0.1,
        distinct_penalty: float = 0.01,
    ) -> None:
        table = {**DEFAULT_FORMATS, **{c: tuple(p) for c, p in (formats or {}).items()}}
        unknown = [c for c in countries if c not in table]
        if unknown:
            raise FormatError(f"no plate formats for {', '.join(unknown)}; known: {', '.join(sorted(table))}")
        low, high = free_lengths
        if not 1 <= low <= high <= 16:
            raise FormatError(f"region-free lengths must satisfy 1 <= min <= max <= 16, got {free_lengths}")
        margins = (format_margin, foreign_margin, correction_penalty, distinct_penalty)
        if not all(0 < m <= 1 for m in margins):
            raise FormatError(
                "format_margin, foreign_margin, correction_penalty and distinct_penalty must be in (0, 1]"
            )
        self.countries = tuple(countries)
        self.correction_penalty = correction_penalty
        self.distinct_penalty = distinct_penalty
        home, away = -math.log(format_margin), -math.log(foreign_margin)
        templates = [
            Template(
                country,
                pattern,
                classes,
                layout,
                home if country in self.countries or not countries else away,
            )
            for country in [*self.countries, *(c for c in table if c not in self.countries)]
            for pattern in table[country]
            for classes, layout in expand(pattern)
        ]
        templates += [Template(None, None, "A" * n, "A" * n) for n in range(low, high + 1)]
        self.templates: tuple[Template, ...] = tuple(templates)
        by_classes: dict[str, list[Template]] = {}
        for template in templates:  # stable: the earlier of two equal bonuses stays first
            by_classes.setdefault(template.classes, []).append(template)
        self._by_classes = {c: sorted(ts, key=lambda t: -t.bonus) for c, ts in by_classes.items()}
        self.classes: tuple[str, ...] = tuple(self._by_classes)

    def bonus(self, classes: str) -> float:
        """The log prior of a reading under ``classes`` relative to a region-free one."""
        return self._by_classes[classes][0].bonus

    def fitting(self, text: str) -> list[str]:
        """The class strings ``text`` fits as it is."""
        return [c for c in self.classes if fits(text, c)]

    def template(self, classes: str) -> Template:
        """The template that gives ``classes`` its bonus (a declared country's before any other)."""
        return self._by_classes[classes][0]

    def written(self, text: str, classes: str) -> str:
        """``text`` (read under ``classes``) as its country writes it (``WRITTEN_AS``): the country its
        format names (see ``describe``), or for a reading of no format the camera's declared countries
        when they all write alike."""
        country = self.describe_country(classes)
        if country is None and set(classes) == {"A"} and self.countries:
            tables = {tuple(sorted(WRITTEN_AS.get(c, {}).items())) for c in self.countries}
            country = self.countries[0] if len(tables) == 1 else None
        table = WRITTEN_AS.get(country or "")
        return "".join(table.get(ch, ch) for ch in text) if table else text

    def describe_country(self, classes: str) -> str | None:
        """The country a reading under ``classes`` is of: the first declared country whose format gives
        the bonus, or the only country among equals (None for a reading of no format)."""
        best = self._by_classes[classes]
        top = {t.country for t in best if t.bonus == best[0].bonus}
        return best[0].country if best[0].country in self.countries or len(top) == 1 else None

    def describe(self, text: str, classes: str) -> PlateText:
        """``text``, read under ``classes``, as a PlateText. Its country is named when one country's
        format gives the bonus: the first declared one, or the only one among equals."""
        best = self._by_classes[classes][0]
        return PlateText(text, best.display(text), self.describe_country(classes), best.format)
