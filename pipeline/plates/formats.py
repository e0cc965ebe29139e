"""Plate formats per country, position-aware character correction, and the normalised plate text.

A format is a pattern of character classes: ``L`` a letter, ``D`` a digit, ``A`` either; a class followed
by ``?`` is optional; ``-`` and spaces are where the display form puts separators (they are not part of
the plate number). ``LLL-DDDD`` reads ``LEA-1234``; ``LL DD L?L?L? DDDD`` covers ``KA 22 P 3368`` and
``MH 12 AB 1234``. The canonical text (what hotlists and votes compare) is the characters alone, upper case.

Correction only ever happens where a format assigns a class: an ``O`` in a digit slot becomes ``0``, a
``0`` in a letter slot becomes ``O``; where the format says ``A`` nothing is changed. Among the formats
that fit, a national one beats the generic one (any letters and digits, but not a common word such as
TAXI or POLICE), then the one needing the fewest corrections wins, then the more specific one (fewer
``A`` slots), then the earlier country.
Reading OCR output applies the same rules in probability space (``pipeline/plates/decide.py``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
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

GENERIC = "AAAAA?A?A?A?"
"""Four to eight letters or digits in any order: plates of countries without a fixed national format.
A reading under it that is a common word on vehicles and signs (``NOT_PLATES``) is no plate."""

DEFAULT_FORMATS: Mapping[str, tuple[str, ...]] = {
    # Pakistan: Punjab LEA-1234, Sindh BFR-123, ICT/KP ABC 123, older two-letter series.
    "pk": ("LLL-DDDD", "LLL-DDD", "LL-DDDD", "LL-DDD"),
    # India: state, district (1-2 digits), series of 0-3 letters, 4-digit number; Bharat series 22 BH 1234 AA.
    "in": ("LL DD L?L?L? DDDD", "LL D L?L?L? DDDD", "DD LL DDDD LL?"),
    # Brazil: old grey plates ABC-1234 and Mercosur ABC1D23.
    "br": ("LLL-DDDD", "LLLDLDD"),
    # United States: no national format. California 1ABC234; the common ABC-1234, ABC-123, 123-ABC, 1AB-234;
    # AB1-C2D (with a sticker between the halves); all-digit and letter + 6 digits series; vanity generic.
    "us": (
        "DLLLDDD",
        "LLL-DDDD",
        "LLL-DDD",
        "DDD-LLL",
        "DLL-DDD",
        "LLD-LDL",
        "DDDDDDD",
        "L DDDDDD",
        GENERIC,
    ),
    # Europe: FR/IT AB-123-CD, SK BA-123AB, CZ 1AB-2345, ES 1234-ABC, PL SG 47471 / BSE 5579;
    # the rest generic.
    "eu": ("LL-DDD-LL", "DLA-DDDD", "DDDD-LLL", "LL DDDDD", "LLL DDDD", GENERIC),
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
into one (TOYOTA is not TOY-074, POLICE is not the catch-all POLIC).

Why a list and not "a catch-all plate needs a digit": vanity plates are all letters (the benchmark has
GWAGEN, BIMMIAN, FZRULZ, NEILDMND), and requiring a digit dropped exact accuracy from 0.851 to 0.839.
The price: a vanity plate spelling one of these words is not read.
"""


def is_sign_word(text: str) -> bool:
    """Whether canonical ``text`` is a word seen on vehicles and signs rather than a plate number."""
    return text in NOT_PLATES


_TOKEN = re.compile(r"[LDA]\??|[- ]")
_SEPARATORS = re.compile(r"[^0-9A-Za-z]")


def transfer_matrices(penalty: float) -> dict[str, npt.NDArray[np.float32]]:
    """Per slot class, the (37, 37) matrix that lends ``penalty`` times a confusable symbol's probability
    to the symbol the slot allows (``0`` → ``O`` in a letter slot, ``O`` → ``0`` in a digit slot)."""
    index = {c: i for i, c in enumerate(PLATE_ALPHABET)}
    out: dict[str, npt.NDArray[np.float32]] = {}
    for cls, table in (("L", DIGIT_TO_LETTER), ("D", LETTER_TO_DIGIT)):
        matrix = np.eye(len(PLATE_ALPHABET), dtype=np.float32)
        for wrong, right in table.items():
            matrix[index[wrong], index[right]] += penalty
        out[cls] = matrix
    return out


class FormatError(ValueError):
    """A plate format pattern that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Template:
    """One fixed-length expansion of a format: ``classes`` like ``LLLDDDD``, ``layout`` like ``LLL-DDDD``."""

    country: str
    format: str
    classes: str
    layout: str

    @property
    def specificity(self) -> int:
        """How many slots the template constrains (``A`` slots constrain nothing)."""
        return sum(c != "A" for c in self.classes)

    def display(self, text: str) -> str:
        """``text`` (canonical, same length as the template) laid out with the format's separators."""
        chars = iter(text)
        out = [next(chars) if c in "LDA" else c for c in self.layout]
        return re.sub(r"[- ]+", lambda m: "-" if "-" in m.group() else " ", "".join(out)).strip(" -")


@dataclass(frozen=True, slots=True)
class PlateText:
    """A plate number that fits a format: ``text`` canonical (``LEA1234``), ``display`` (``LEA-1234``)."""

    text: str
    display: str
    country: str
    format: str
    corrections: int = 0


def canonical(text: str) -> str:
    """Upper case, letters and digits only: the form plate numbers are stored and compared in."""
    return _SEPARATORS.sub("", text).upper()


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


def correct(text: str, classes: str) -> tuple[str, int] | None:
    """``text`` forced into ``classes`` with the confusion tables; None if a character cannot be."""
    if len(text) != len(classes):
        return None
    out: list[str] = []
    fixes = 0
    for char, cls in zip(text, classes, strict=True):
        if cls == "A" or (cls == "L" and char.isalpha()) or (cls == "D" and char.isdigit()):
            out.append(char)
            continue
        table = LETTER_TO_DIGIT if cls == "D" else DIGIT_TO_LETTER
        if char not in table:
            return None
        out.append(table[char])
        fixes += 1
    return "".join(out), fixes


class PlateRules:
    """The formats of the enabled countries, in order (an earlier country wins a tie)."""

    def __init__(
        self,
        countries: Sequence[str],
        formats: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        table = {**DEFAULT_FORMATS, **(formats or {})}
        unknown = [c for c in countries if c not in table]
        if unknown:
            raise FormatError(f"no plate formats for {', '.join(unknown)}; known: {', '.join(sorted(table))}")
        if not countries:
            raise FormatError("at least one country must be enabled for plate reading")
        self.countries = tuple(countries)
        templates: list[Template] = []
        seen: set[str] = set()
        for country in countries:
            for pattern in table[country]:
                for classes, layout in expand(pattern):
                    if classes in seen:
                        continue  # the same classes under an earlier country or format
                    seen.add(classes)
                    templates.append(Template(country, pattern, classes, layout))
        self.templates: tuple[Template, ...] = tuple(templates)

    def ranked(self, candidates: Iterable[tuple[Template, str, int]]) -> list[tuple[Template, str, int]]:
        """Candidates ``(template, text, corrections)`` best first: national before generic, then fewest
        corrections, then the most specific, then the earliest country."""
        order = {t: i for i, t in enumerate(self.templates)}
        return sorted(candidates, key=lambda c: (c[0].specificity == 0, c[2], -c[0].specificity, order[c[0]]))

    def match(self, raw: str) -> PlateText | None:
        """The plate number ``raw`` most plausibly is, corrected position by position; None when no
        format fits."""
        text = canonical(raw)
        if is_sign_word(text):
            return None
        fits = []
        for tpl in self.templates:
            fixed = correct(text, tpl.classes)
            if fixed is not None and not is_sign_word(fixed[0]):
                fits.append((tpl, fixed[0], fixed[1]))
        if not fits:
            return None
        tpl, value, fixes = self.ranked(fits)[0]
        return PlateText(value, tpl.display(value), tpl.country, tpl.format, fixes)

    def describe(self, text: str, tpl: Template) -> PlateText:
        """A text already decoded under ``tpl`` as a PlateText."""
        return PlateText(text, tpl.display(text), tpl.country, tpl.format, 0)
