"""Plate formats, position-aware corrections, and the CTC decoding that applies them to OCR output."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.plates import ctc
from pipeline.plates.alphabet import PLATE_ALPHABET
from pipeline.plates.decide import TextDecoder
from pipeline.plates.formats import FormatError, PlateRules, canonical, correct, expand


@pytest.mark.parametrize(
    ("pattern", "templates"),
    [
        ("LLL-DDDD", ["LLLDDDD"]),
        ("LL D? DD", ["LLDDD", "LLDD"]),
        ("LL DD L?L? DDDD", ["LLDDLLDDDD", "LLDDLDDDD", "LLDDDDDD"]),  # L?L? present/absent, deduplicated
        ("A A? A?", ["AAA", "AA", "A"]),
    ],
)
def test_patterns_expand_to_fixed_templates(pattern: str, templates: list[str]) -> None:
    assert [classes for classes, _ in expand(pattern)] == templates


@pytest.mark.parametrize("pattern", ["", "LLX-DDDD", "??", "L??", "---", "lll-dddd"])
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(FormatError):
        expand(pattern)


@pytest.mark.parametrize(
    ("text", "classes", "expected"),
    [
        ("LEA1234", "LLLDDDD", ("LEA1234", 0)),
        ("LEAI234", "LLLDDDD", ("LEA1234", 1)),  # I in a digit slot → 1
        ("1EA1234", "LLLDDDD", ("IEA1234", 1)),  # 1 in a letter slot → I
        ("LEA12S4", "LLLDDDD", ("LEA1254", 1)),  # S → 5
        ("8FR123", "LLLDDD", ("BFR123", 1)),  # 8 → B
        ("BFRZ23", "LLLDDD", ("BFR223", 1)),  # Z → 2
        ("KA22P33G8", "LLDDLDDDD", ("KA22P3368", 1)),  # G → 6
        ("KA22P3368", "LLDDLDDDD", ("KA22P3368", 0)),
        ("O0Q0I1", "AAAAAA", ("O0Q0I1", 0)),  # an A slot never changes anything
        ("LEA1234", "LLLDDD", None),  # wrong length
        ("LEAX234", "LLLDDDD", None),  # X has no digit look-alike
        ("LE71234", "LLLDDDD", ("LET1234", 1)),  # 7 → T
        ("LE31234", "LLLDDDD", None),  # 3 has no letter look-alike
    ],
)
def test_corrections_happen_only_where_the_format_assigns_a_class(
    text: str, classes: str, expected: tuple[str, int] | None
) -> None:
    assert correct(text, classes) == expected


@pytest.mark.parametrize(
    ("countries", "raw", "text", "display", "country"),
    [
        (["pk"], "LEA-1234", "LEA1234", "LEA-1234", "pk"),
        (["pk"], "lea 1234", "LEA1234", "LEA-1234", "pk"),
        (["pk"], "LEA-I234", "LEA1234", "LEA-1234", "pk"),
        (["pk"], "ABC 123", "ABC123", "ABC-123", "pk"),
        (["pk"], "BFR-123", "BFR123", "BFR-123", "pk"),
        (["pk"], "8FR-I23", "BFR123", "BFR-123", "pk"),
        (["pk"], "LE-4321", "LE4321", "LE-4321", "pk"),
        (["in"], "KA22P3368", "KA22P3368", "KA 22 P 3368", "in"),
        (["in"], "KA 22 P 33G8", "KA22P3368", "KA 22 P 3368", "in"),
        (["in"], "KAZ2P3368", "KA22P3368", "KA 22 P 3368", "in"),
        (["in"], "MH12AB1234", "MH12AB1234", "MH 12 AB 1234", "in"),
        (["in"], "DL3CAB1234", "DL3CAB1234", "DL 3 CAB 1234", "in"),
        (["in"], "22BH1234AA", "22BH1234AA", "22 BH 1234 AA", "in"),
        (["br"], "GWT2180", "GWT2180", "GWT-2180", "br"),
        (["br"], "0LC4728", "OLC4728", "OLC-4728", "br"),
        (["br"], "BRA2E19", "BRA2E19", "BRA2E19", "br"),  # Mercosur
        (["us"], "5CJP3O3", "5CJP303", "5CJP303", "us"),  # California: O in a digit slot
        (["us"], "CH0P8Y", "CH0P8Y", "CH0-P8Y", "us"),  # AB1-C2D: the 0 is in a digit slot anyway
        (["us"], "NEILDMND", "NEILDMND", "NEILDMND", "us"),  # vanity plate, generic: untouched
        (["us"], "ABC-1234", "ABC1234", "ABC-1234", "us"),
        (["eu"], "RK-735AS", "RK735AS", "RK-735-AS", "eu"),
        (["eu"], "RK7S5AS", "RK755AS", "RK-755-AS", "eu"),  # S in a digit slot is 5 (never 3)
        (["pk", "in"], "KA22P3368", "KA22P3368", "KA 22 P 3368", "in"),
        (["pk", "br"], "LEA1234", "LEA1234", "LEA-1234", "pk"),  # both fit: the first country wins
    ],
)
def test_plates_per_country(countries: list[str], raw: str, text: str, display: str, country: str) -> None:
    plate = PlateRules(countries).match(raw)
    assert plate is not None, raw
    assert (plate.text, plate.display, plate.country) == (text, display, country)


@pytest.mark.parametrize(
    ("countries", "raw"),
    [
        (["pk"], ""),
        (["pk"], "HELLO"),
        (["pk"], "TAXI"),
        (["pk"], "LEA-12345"),
        (["pk"], "ABCD-1234"),
        (["pk"], "12345678"),
        (["pk"], "LEA"),
        (["in"], "STOP"),
        (["in"], "S.R.S."),
        (["in"], "KA22P33X8"),  # X where a digit must be
        (["br"], "PARE"),
        (["br"], "ABC12345"),
        (["us"], "CA"),  # too short even for a vanity plate
        (["us"], "CALIFORNIA"),  # too long
    ],
)
def test_text_that_is_no_plate_is_rejected(countries: list[str], raw: str) -> None:
    assert PlateRules(countries).match(raw) is None


def test_unknown_countries_and_empty_lists_are_refused() -> None:
    with pytest.raises(FormatError, match="xx"):
        PlateRules(["pk", "xx"])
    with pytest.raises(FormatError):
        PlateRules([])
    custom = PlateRules(["xx"], {"xx": ["DDD-LL"]})
    plate = custom.match("123AB")
    assert plate is not None and plate.display == "123-AB"


def test_canonical_form() -> None:
    assert canonical(" lea-1234 ") == "LEA1234"
    assert canonical("KA·22·P·3368") == "KA22P3368"


# -- CTC decoding ---------------------------------------------------------------------------------------


def _probs(steps: list[dict[str, float]]) -> np.ndarray:
    """A (T, 37) probability matrix from per-step {symbol: probability}; the rest goes to the blank."""
    out = np.zeros((len(steps), len(PLATE_ALPHABET)), np.float32)
    for t, step in enumerate(steps):
        for symbol, p in step.items():
            out[t, PLATE_ALPHABET.index(symbol)] = p
        out[t, 0] += 1.0 - out[t].sum()
    return out


def _reading(text: str, doubts: dict[int, dict[str, float]] | None = None) -> np.ndarray:
    """The network reading ``text`` one character per step with a blank between; character i's step
    uses ``doubts[i]`` instead of certainty when given."""
    steps: list[dict[str, float]] = [{}]
    for i, char in enumerate(text):
        steps.append((doubts or {}).get(i, {char: 0.97}))
        steps.append({})
    return _probs(steps)


@pytest.mark.parametrize(
    ("countries", "probs", "expected"),
    [
        # The network prefers I over 1 in a digit slot of LEA-1234: the format picks 1.
        (["pk"], _reading("LEAX234", {3: {"I": 0.6, "1": 0.35}}), "LEA1234"),
        # ...and O over 0 in the letter slot of an Indian series.
        (["in"], _reading("KA22X3368", {4: {"0": 0.7, "O": 0.25}}), "KA22O3368"),
        # In a US vanity plate (generic format) a slot may be either, so the network's choice stands...
        (["us"], _reading("CHXPS", {2: {"O": 0.6, "0": 0.35}}), "CHOPS"),
        (["us"], _reading("CHXPS", {2: {"0": 0.6, "O": 0.35}}), "CH0PS"),
        # ...but AB1-C2D is a US format, and 0 (second choice) fits it where O does not.
        (["us"], _reading("CHXP8Y", {2: {"O": 0.6, "0": 0.35}}), "CH0P8Y"),
        # A confident 0 in a letter slot is still fixed by the format (O and 0 look the same).
        (["eu"], _reading("PP587A0"), "PP587AO"),
        # A spurious extra character (a sticker read as 7) is dropped to fit AB1-C2D.
        (["us"], _reading("SB37X6N", {3: {"7": 0.45, "_": 0.2}}), "SB3X6N"),
    ],
)
def test_decoding_corrects_by_format_using_the_networks_own_alternatives(
    countries: list[str], probs: np.ndarray, expected: str
) -> None:
    read = TextDecoder(PlateRules(countries)).decode(probs)
    assert read is not None and read.text == expected


def test_decoding_rejects_what_fits_no_format() -> None:
    decoder = TextDecoder(PlateRules(["pk"]))
    assert decoder.decode(_reading("SRS")) is None  # too short for any Pakistani format
    assert decoder.decode(_reading("ABCDEFGH")) is None  # letters where digits must be
    assert decoder.decode(_probs([{}, {}, {}])) is None  # nothing at all


def test_repeated_characters_need_a_blank_between_them() -> None:
    # "LEA1134": two 1s in a row are only two characters if a blank separates them.
    merged = _probs([{"L": 1}, {"E": 1}, {"A": 1}, {"1": 1}, {"1": 1}, {"3": 1}, {"4": 1}, {}])
    separated = _probs([{"L": 1}, {"E": 1}, {"A": 1}, {"1": 1}, {}, {"1": 1}, {"3": 1}, {"4": 1}])
    assert ctc.greedy(merged).text == "LEA134"
    assert ctc.greedy(separated).text == "LEA1134"
    decoder = TextDecoder(PlateRules(["pk"]))
    read = decoder.decode(separated)
    assert read is not None and read.text == "LEA1134"


def _brute_force(probs: np.ndarray, classes: str, symbols: list[int]) -> tuple[float, str | None]:
    """Best path (log score, text) fitting ``classes``, by enumerating every path over ``symbols``."""
    allowed = {"L": set(range(1, 27)), "D": set(range(27, 37)), "A": set(range(1, 37))}
    best: tuple[float, str | None] = (-np.inf, None)
    for path in itertools.product(symbols, repeat=probs.shape[0]):
        out, previous = [], 0
        for s in path:
            if s != 0 and s != previous:
                out.append(s)
            previous = s
        if len(out) != len(classes) or any(o not in allowed[c] for o, c in zip(out, classes, strict=True)):
            continue
        score = float(sum(np.log(probs[t, s]) for t, s in enumerate(path)))
        if score > best[0]:
            best = (score, "".join(PLATE_ALPHABET[o] for o in out))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_constrained_decoding_finds_the_best_path_and_forward_sums_all(seed: int) -> None:
    rng = np.random.default_rng(seed)
    symbols = [0, 1, 2, 27, 28]  # blank, A, B, 0, 1
    probs = np.full((6, len(PLATE_ALPHABET)), 1e-7, np.float32)
    for t in range(6):
        probs[t, symbols] = rng.dirichlet(np.full(len(symbols), 0.5))
    probs /= probs.sum(axis=1, keepdims=True)
    templates = ["LD", "LLD", "DL", "AA", "A", "ALA"]
    decoded = ctc.constrained(probs, templates)
    for classes, got in zip(templates, decoded, strict=True):
        want_score, want_text = _brute_force(probs, classes, symbols)
        if want_text is None or want_score < np.log(1e-3) * 6:
            continue  # only implausible paths fit; the decoder may prune those
        assert got is not None and got.text == want_text, classes
        assert got.log_score == pytest.approx(want_score, abs=1e-3)
    # The forward probability of a string sums over all of its paths.
    seen = ctc.class_probs(probs)
    total: dict[str, float] = {}
    for path in itertools.product(symbols, repeat=6):
        out, previous = [], 0
        for s in path:
            if s != 0 and s != previous:
                out.append(PLATE_ALPHABET[s])
            previous = s
        key = "".join(out)
        total[key] = total.get(key, 0.0) + float(np.prod([probs[t, s] for t, s in enumerate(path)]))
    for text in ("A", "AB", "A0", "B1A"):
        if total.get(text, 0.0) > 1e-6:
            assert ctc.string_log_prob(seen, text, "A" * len(text)) == pytest.approx(
                np.log(total[text]), abs=1e-3
            )


@pytest.mark.parametrize(
    ("countries", "raw"),
    [
        (["us"], "TAXI"),
        (["us"], "STOP"),
        (["us"], "POLICE"),
        (["us"], "police"),
        (["us"], "SHERIFF"),
        (["us"], "TOYOTA"),
        (["eu"], "TAXI"),
        (["eu"], "POLIZEI"),
        (["eu"], "P-O-L-I-C-E"),
        (["eu", "us"], "PARKING"),
    ],
)
def test_words_on_vehicles_and_signs_are_no_plates(countries: list[str], raw: str) -> None:
    assert PlateRules(countries).match(raw) is None


@pytest.mark.parametrize(
    ("countries", "raw", "text"),
    [
        # Vanity plates of the benchmark: all letters, read by the catch-all (a digit is not required).
        (["eu"], "GWAGEN", "GWAGEN"),
        (["eu"], "BIMMIAN", "BIMMIAN"),
        (["us"], "FZRULZ", "FZRULZ"),
        (["us"], "NEILDMND", "NEILDMND"),
        # Catch-all plates with digits, and national plates next to a listed word.
        (["us"], "KCS1M", "KCS1M"),
        (["us"], "TAXI1", "TAXI1"),
        (["us"], "5VCF203", "5VCF203"),
        (["eu"], "WO53011", "WO53011"),
        (["pk"], "LEA-1234", "LEA1234"),
    ],
)
def test_real_plates_are_kept(countries: list[str], raw: str, text: str) -> None:
    plate = PlateRules(countries).match(raw)
    assert plate is not None and plate.text == text


def test_decoding_rejects_a_word_under_the_catch_all_but_not_a_vanity_plate() -> None:
    decoder = TextDecoder(PlateRules(["us"]))
    assert decoder.decode(_reading("POLICE")) is None  # not POLIC either (one character dropped)
    assert decoder.decode(_reading("TAXI")) is None
    assert decoder.decode(_reading("TOYOTA")) is None  # not TOY-074 under LLL-DDD
    vanity = decoder.decode(_reading("FZRULZ"))
    assert vanity is not None and vanity.text == "FZRULZ"
