"""The vote over a vehicle pass: table-driven, from readings known as text and from crafted OCR output."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.plates.decide import TextDecoder
from pipeline.plates.formats import PlateRules
from tests.plate_probs import reading
from workers.plate_vote import PlateVoteRules, Reading, decide

RULES = PlateVoteRules(min_frames=2, strong_confidence=0.95, min_share=0.5, min_confidence=0.5)


def reads(*pairs: tuple[str, float]) -> list[Reading]:
    return [Reading(text, conf) for text, conf in pairs]


def doubtful(text: str, conf: float, weak: int, weak_conf: float) -> Reading:
    """A frame that read ``text`` at ``conf`` per character, but character ``weak`` at ``weak_conf``."""
    chars = tuple(weak_conf if i == weak else conf for i in range(len(text)))
    return Reading(text, min(chars), char_conf=chars)


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # Frames agree.
        (reads(("KA22P3368", 0.9), ("KA22P3368", 0.9), ("KA22P3368", 0.8)), "KA22P3368"),
        # Each frame misreads a different character: the frames together restore the plate.
        (reads(("KA22P3368", 0.9), ("KA22P3S68", 0.8), ("KA2ZP3368", 0.8), ("KA22P3368", 0.7)), "KA22P3368"),
        # Misreads with no exact majority still converge position by position.
        (reads(("LEA1234", 0.9), ("LEA1Z34", 0.9), ("LEAI234", 0.9), ("LE41234", 0.9)), "LEA1234"),
        # A distractor (bus text) read once is outvoted.
        (reads(("L417VS", 0.9), ("L417VS", 0.9), ("SRS", 0.9)), "L417VS"),
        # A dropped character in one frame: the longer, better supported reading wins.
        (reads(("BFR123", 0.9), ("BFR123", 0.85), ("FR123", 0.9)), "BFR123"),
        # One confident misread (8 for B) against frames that saw B clearly but were unsure of another
        # character: they count for the characters they saw (a vote of whole frames would drop them
        # below min_confidence and let the misread decide alone).
        ([Reading("8B0123", 0.97), *[doubtful("BB0123", 0.92, 5, 0.45)] * 3], "BB0123"),
        # One frame only, very confident: enough.
        (reads(("ABC123", 0.97)), "ABC123"),
        # One frame only, ordinary confidence: not enough.
        (reads(("ABC123", 0.8)), None),
        # Low-confidence frames alone decide nothing.
        (reads(("ABC123", 0.3), ("ABC123", 0.4)), None),
        # Two different plates with equal support: a tie decides nothing.
        (reads(("ABC123", 0.9), ("XYZ789", 0.9)), None),
        # No majority among three different plates.
        (reads(("ABC123", 0.9), ("XYZ789", 0.9), ("LMN456", 0.9)), None),
        ([], None),
    ],
)
def test_the_pass_vote(readings: list[Reading], expected: str | None) -> None:
    decision = decide(readings, RULES)
    assert (decision.text if decision else None) == expected


def frame(matrix: np.ndarray, rules: PlateRules | None = None) -> Reading:
    """What the worker keeps of one frame: the reader's decision on one crop and the OCR's evidence."""
    combined = TextDecoder(rules or PlateRules()).combine([matrix])
    assert combined is not None
    best = combined.best
    return Reading(
        best.text,
        combined.confidence,
        char_conf=best.char_conf,
        candidates=combined.candidates,
        evidence=(matrix,),
    )


# KX?WQ7M fits no format, so only the frames' evidence decides (no prior favours either reading).
SURE_D = reading("KXDWQ7M")  # a frame sure of D (0.99)
SAW_0 = reading("KXDWQ7M", {2: {"0": 0.8, "D": 0.15}})  # frames that saw 0, not quite sure
SAW_0_WEAK_M = reading("KXDWQ7M", {2: {"0": 0.8, "D": 0.15}, 6: {"M": 0.45, "N": 0.4}})
SURE_8 = reading("KX8WQ7M")
SAW_B = reading("KX8WQ7M", {2: {"B": 0.9, "8": 0.08}})
SURE_Z = reading("KXZWQ7M")
SAW_2 = reading("KXZWQ7M", {2: {"2": 0.85, "Z": 0.1}})
STICKER = reading("KX0WQ7M1")  # a sticker read confidently as an eighth character
NO_STICKER = reading("KX0WQ7M1", {7: {"1": 0.05}})  # ... where the other frames saw nothing


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        # One confident misread of a look-alike does not win over several frames that saw the character.
        ([SURE_D, SAW_0, SAW_0, SAW_0], "KX0WQ7M"),
        ([SAW_0, SURE_D, SAW_0], "KX0WQ7M"),
        ([SURE_8, SAW_B, SAW_B], "KXBWQ7M"),
        ([SAW_2, SURE_Z, SAW_2, SAW_2], "KX2WQ7M"),
        # ... even when those frames were unsure of another character (each below min_confidence).
        ([SURE_D, SAW_0_WEAK_M, SAW_0_WEAK_M, SAW_0_WEAK_M], "KX0WQ7M"),
        # One frame against one: the surer one wins; and frames that agree stay agreed.
        ([SURE_D, SAW_0], "KXDWQ7M"),
        ([SURE_D, SURE_D, SAW_0], "KXDWQ7M"),
        # A character one frame saw and three did not is dropped.
        ([STICKER, NO_STICKER, NO_STICKER, NO_STICKER], "KX0WQ7M"),
    ],
    ids=[
        "D-0",
        "D-0-middle",
        "8-B",
        "Z-2",
        "D-0-weak-frames",
        "one-against-one",
        "two-against-one",
        "sticker",
    ],
)
def test_frames_combine_per_character_evidence(frames: list[np.ndarray], expected: str) -> None:
    decision = decide([frame(m) for m in frames], RULES)
    assert decision is not None and decision.text == expected, decision


def test_a_text_no_frame_read_can_win() -> None:
    """Each frame misreads a different look-alike; the plate none of them read whole is the most likely."""
    frames = [
        reading("KXZWQ7M", {2: {"Z": 0.6, "2": 0.35}}),
        reading("KX2WQ7N", {6: {"N": 0.6, "M": 0.35}}),
        reading("KX2W07M", {4: {"0": 0.6, "Q": 0.35}}),
    ]
    readings = [frame(m) for m in frames]
    assert "KX2WQ7M" not in {r.text for r in readings}
    decision = decide(readings, RULES)
    assert decision is not None and decision.text == "KX2WQ7M"


@pytest.mark.parametrize("count", [1, 3, 12])
def test_a_pass_corrects_a_look_alike_as_each_of_its_frames_does(count: int) -> None:
    """Frames sure of an O where Pakistan's LEA-1234 wants a digit: each frame's reading corrects it to
    0, and so does the pass, however many frames it has (they all see the same glyph, so their number is
    no reason to overrule the format)."""
    pk = PlateRules(["pk"])
    readings = [frame(reading("LEA12O4"), pk)] * count
    assert {r.text for r in readings} == {"LEA1204"}
    decision = decide(readings, RULES, pk)
    assert decision is not None and (decision.text, decision.country) == ("LEA1204", "pk")


def test_the_decision_reports_confidence_frames_and_candidates() -> None:
    readings = [
        Reading("LEA1234", 0.9, "LEA-1234", "pk", "pk-3l4d"),
        Reading("LEA1234", 0.8, "LEA-1234", "pk", "pk-3l4d"),
        Reading("LEA1Z34", 0.6),
        Reading("BFR123", 0.7),
    ]
    decision = decide(readings, RULES, PlateRules(["pk"]))
    assert decision is not None
    assert (decision.text, decision.display, decision.country) == ("LEA1234", "LEA-1234", "pk")
    assert decision.plate_format == "LLL-DDDD"
    assert decision.frames == 3  # LEA1Z34 is weighed too
    assert decision.candidates[0][:1] == ("LEA1234",) and decision.candidates[0][2] == 2
    assert {c[0] for c in decision.candidates} == {"LEA1234", "LEA1Z34", "BFR123"}
    # Share of support 2.3 / 3.0 times the mean confidence of the three voting frames.
    assert decision.confidence == pytest.approx(2.3 / 3.0 * (2.3 / 3), abs=1e-3)
    # Region-free, LEA-1234 is several countries' format: no country is named.
    free = decide(readings, RULES)
    assert free is not None and (free.text, free.display, free.country) == ("LEA1234", "LEA-1234", None)


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError):
        PlateVoteRules(min_frames=0)
    with pytest.raises(ValueError):
        PlateVoteRules(look_alike=0.6, outlier=0.5)
