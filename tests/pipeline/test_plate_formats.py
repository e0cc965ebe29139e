"""Plate formats as a prior over readings, and the CTC decoding that applies them to OCR output: plates of
any country are read, formats only re-rank readings and correct look-alikes in the slots they type."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pipeline.plates import ctc
from pipeline.plates.alphabet import PLATE_ALPHABET
from pipeline.plates.decide import TextDecoder
from pipeline.plates.formats import FormatError, PlateRules, PlateText, expand
from tests.plate_probs import probs, reading


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


def test_rules_know_every_country_and_weigh_the_declared_ones_most() -> None:
    with pytest.raises(FormatError, match="xx"):
        PlateRules(["pk", "xx"])
    free = PlateRules([])  # region-free: every known format weighs the same
    assert free.bonus("LLLDDDD") == free.bonus("LLDDLDDDD") == pytest.approx(-math.log(0.03))
    assert free.bonus("AAAAAA") == 0.0 and "AAAAA" in free.classes and "AAAAAAAAA" in free.classes
    assert "AAAA" not in free.classes and "AAAAAAAAAA" not in free.classes  # region-free: 5 to 9
    pk = PlateRules(["pk"])
    assert pk.bonus("LLLDDDD") == pytest.approx(-math.log(0.03))  # Pakistan's (and others')
    assert pk.bonus("LLDDLDDDD") == pytest.approx(-math.log(0.2))  # India's, not declared
    custom = PlateRules(["xx"], {"xx": ["DDD-LL"]})
    assert custom.describe("123AB", "DDDLL") == PlateText("123AB", "123-AB", "xx", "DDD-LL")


def _decode(
    countries: list[str], matrix: np.ndarray, formats: dict[str, list[str]] | None = None
) -> PlateText | None:
    read = TextDecoder(PlateRules(countries, formats)).decode(matrix)
    return None if read is None else read.plate


@pytest.mark.parametrize(
    ("countries", "text", "display", "country"),
    [
        (["pk"], "LEA1234", "LEA-1234", "pk"),
        (["pk"], "ABC123", "ABC-123", "pk"),
        (["pk"], "LE4321", "LE-4321", "pk"),
        (["in"], "KA22P3368", "KA 22 P 3368", "in"),
        (["in"], "MH12AB1234", "MH 12 AB 1234", "in"),
        (["in"], "DL3CAB1234", "DL 3 CAB 1234", "in"),
        (["in"], "22BH1234AA", "22 BH 1234 AA", "in"),
        (["br"], "GWT2180", "GWT-2180", "br"),
        (["br"], "BRA2E19", "BRA2E19", "br"),  # Mercosur
        (["us"], "5CJP303", "5CJP303", "us"),
        (["us"], "ABC1234", "ABC-1234", "us"),
        (["eu"], "RK735AS", "RK-735-AS", "eu"),
        (["eu"], "OY09FEU", "OY09 FEU", "eu"),  # Great Britain
        (["pk", "in"], "KA22P3368", "KA 22 P 3368", "in"),
        (["pk", "br"], "LEA1234", "LEA-1234", "pk"),  # both declared: the first wins
        # A plate from elsewhere is read, and named when only one country's format fits it...
        (["pk"], "KA22P3368", "KA 22 P 3368", "in"),
        ([], "KA22P3368", "KA 22 P 3368", "in"),
        # ...or left unnamed when several countries use that format and none is declared.
        ([], "LEA1234", "LEA-1234", None),
        # A plate that fits no format at all is read as the network sees it.
        (["us"], "NEILDMND", "NEILDMND", None),  # a vanity plate
        (["pk"], "HELLO", "HELLO", None),
        (["pk"], "WD2R9BX", "WD2R9BX", None),
        ([], "12345678", "12345678", None),
    ],
)
def test_plates_are_read_whatever_their_country(
    countries: list[str], text: str, display: str, country: str | None
) -> None:
    plate = _decode(countries, reading(text))
    assert plate is not None, text
    assert (plate.text, plate.display, plate.country) == (text, display, country)


@pytest.mark.parametrize(
    ("countries", "matrix", "expected"),
    [
        # The network prefers I over 1 in a digit slot of LEA-1234: the format picks 1.
        (["pk"], reading("LEAX234", {3: {"I": 0.6, "1": 0.35}}), "LEA1234"),
        # ...and O over 0 in the letter slot of an Indian series.
        (["in"], reading("KA22X3368", {4: {"0": 0.7, "O": 0.25}}), "KA22O3368"),
        # In a vanity plate (no format) a slot may be either, so the network's choice stands...
        (["eu"], reading("CHXPS", {2: {"O": 0.6, "0": 0.35}}), "CHOPS"),
        (["eu"], reading("CHXPS", {2: {"0": 0.6, "O": 0.35}}), "CH0PS"),
        # ...but a US plate's O is written 0 (US fonts draw them alike; US records write 0), also
        # where a US format has a letter...
        (["us"], reading("CHXPS", {2: {"O": 0.6, "0": 0.35}}), "CH0PS"),
        (["us"], reading("XSG719", {0: {"O": 0.9, "0": 0.05}}), "0SG719"),
        # ...and only there: Brazil's plates have O in letter slots.
        (["br"], reading("XCX4764", {0: {"O": 0.9, "0": 0.05}}), "OCX4764"),
        # ...but AB1-C2D is a US format, and 0 (second choice) fits it where O does not.
        (["us"], reading("CHXP8Y", {2: {"O": 0.6, "0": 0.35}}), "CH0P8Y"),
        # A confident 0 in a letter slot is still fixed by the format (O and 0 look the same).
        (["eu"], reading("PP587A0"), "PP587AO"),
        # A spurious extra character (a sticker read as 7) is dropped to fit AB1-C2D.
        (["us"], reading("SB37X6N", {3: {"7": 0.45, "_": 0.2}}), "SB3X6N"),
        # Region-free, every known format still corrects its slots...
        ([], reading("LEAX234", {3: {"I": 0.6, "1": 0.35}}), "LEA1234"),
        ([], reading("RK7X5AS", {3: {"S": 0.6, "5": 0.35}}), "RK755AS"),
        # ...and a declared country's format outweighs the network's preference for a foreign one
        # (Brazil's Mercosur ABC1D23 or Pakistan's ABC-1023).
        (["pk"], reading("ABC1X23", {4: {"D": 0.55, "0": 0.4}}), "ABC1023"),
        ([], reading("ABC1X23", {4: {"D": 0.55, "0": 0.4}}), "ABC1D23"),
        # A format corrects a doubtful character but does not bend confident ones: two sure look-alikes
        # in the wrong slots are likelier a plate of no known format than two misreads.
        (["pk"], reading("8FRI23"), "8FRI23"),
        (["pk"], reading("8FRX23", {3: {"I": 0.6, "1": 0.35}}), "8FR123"),
        # A format's bonus alone never pays for overruling one confident glyph that a sharp plate tells
        # from its look-alike (Z/2, 4/A): the plate is read as no format rather than bent into one...
        (["us"], reading("ABC12Z4"), "ABC12Z4"),
        ([], reading("DD4C591"), "DD4C591"),
        # ...but a doubtful one is corrected as before.
        (["us"], reading("ABC12X4", {5: {"Z": 0.6, "2": 0.35}}), "ABC1224"),
    ],
)
def test_formats_re_rank_readings_using_the_networks_own_alternatives(
    countries: list[str], matrix: np.ndarray, expected: str
) -> None:
    plate = _decode(countries, matrix)
    assert plate is not None and plate.text == expected


@pytest.mark.parametrize(
    ("countries", "expected"),
    [(["xx"], "B2A3B"), (["yy"], "82A3B"), (["yy", "xx"], "B2A3B"), ([], "B2A3B")],
)
def test_declared_countries_outweigh_foreign_formats(countries: list[str], expected: str) -> None:
    """Two countries' formats explain a doubtful B/8 each their way: the declared one wins; with both or
    neither declared, the network's preference (B) does."""
    formats = {"xx": ["LDLDL"], "yy": ["DDLDL"]}
    plate = _decode(countries, reading("X2A3B", {0: {"B": 0.5, "8": 0.45}}), formats)
    assert plate is not None and plate.text == expected


@pytest.mark.parametrize(
    ("countries", "matrix"),
    [
        (["us"], reading("TAXI")),
        (["us"], reading("POLICE")),  # not POLIC either (one character dropped)
        (["us"], reading("TOYOTA")),  # not TOY-074 under LLL-DDD
        ([], reading("SHERIFF")),
        ([], reading("POLIZEI")),
        (["pk"], reading("SRS")),  # too short for a plate of no format (the bus's S.R.S.)
        ([], reading("48AM")),  # ...and a dash-cam's clock
        ([], reading("F150")),  # ...and a model badge
        ([], reading("CALIFORNIA")),  # too long for a plate of no format
        (["pk"], probs([{}, {}, {}])),  # nothing at all
    ],
)
def test_what_is_no_plate_is_not_read(countries: list[str], matrix: np.ndarray) -> None:
    assert _decode(countries, matrix) is None


@pytest.mark.parametrize("text", ["FZRULZ", "GWAGEN", "KCS1M", "TAXI1", "POLICE1"])
def test_vanity_plates_beside_the_sign_words_are_read(text: str) -> None:
    plate = _decode(["us"], reading(text))
    assert plate is not None and plate.text == text.replace("O", "0")  # a US plate's O is written 0


def test_repeated_characters_need_a_blank_between_them() -> None:
    # "LEA1134": two 1s in a row are only two characters if a blank separates them.
    merged = probs([{"L": 1}, {"E": 1}, {"A": 1}, {"1": 1}, {"1": 1}, {"3": 1}, {"4": 1}, {}])
    separated = probs([{"L": 1}, {"E": 1}, {"A": 1}, {"1": 1}, {}, {"1": 1}, {"3": 1}, {"4": 1}])
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
