"""The vote over a vehicle pass: table-driven."""

from __future__ import annotations

import pytest

from workers.plate_vote import PlateVoteRules, Reading, decide

RULES = PlateVoteRules(min_frames=2, strong_confidence=0.95, min_share=0.5, min_confidence=0.5)


def reads(*pairs: tuple[str, float]) -> list[Reading]:
    return [Reading(text, conf) for text, conf in pairs]


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # Frames agree.
        (reads(("KA22P3368", 0.9), ("KA22P3368", 0.9), ("KA22P3368", 0.8)), "KA22P3368"),
        # Each frame misreads a different character: the per-position vote restores the plate.
        (reads(("KA22P3368", 0.9), ("KA22P3S68", 0.8), ("KA2ZP3368", 0.8), ("KA22P3368", 0.7)), "KA22P3368"),
        # Misreads with no exact majority still converge position by position.
        (reads(("LEA1234", 0.9), ("LEA1Z34", 0.9), ("LEAI234", 0.9), ("LE41234", 0.9)), "LEA1234"),
        # A distractor (bus text) read once is outvoted.
        (reads(("L417VS", 0.9), ("L417VS", 0.9), ("SRS", 0.9)), "L417VS"),
        # A dropped character in one frame: the longer, better supported reading wins.
        (reads(("BFR123", 0.9), ("BFR123", 0.85), ("FR123", 0.9)), "BFR123"),
        # One frame only, very confident: enough.
        (reads(("ABC123", 0.97)), "ABC123"),
        # One frame only, ordinary confidence: not enough.
        (reads(("ABC123", 0.8)), None),
        # Low-confidence frames do not vote at all.
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


def test_the_decision_reports_confidence_frames_and_candidates() -> None:
    readings = [
        Reading("LEA1234", 0.9, "LEA-1234", "pk", "pk-3l4d"),
        Reading("LEA1234", 0.8, "LEA-1234", "pk", "pk-3l4d"),
        Reading("LEA1Z34", 0.6),
        Reading("BFR123", 0.7),
    ]
    decision = decide(readings, RULES)
    assert decision is not None
    assert (decision.text, decision.display, decision.country) == ("LEA1234", "LEA-1234", "pk")
    assert decision.frames == 3  # LEA1Z34 voted too, position by position
    assert decision.candidates[0][:1] == ("LEA1234",) and decision.candidates[0][2] == 2
    assert {c[0] for c in decision.candidates} == {"LEA1234", "LEA1Z34", "BFR123"}
    # Share of support 2.3 / 3.0 times the mean confidence of the three voting frames.
    assert decision.confidence == pytest.approx(2.3 / 3.0 * (2.3 / 3), abs=1e-3)


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError):
        PlateVoteRules(min_frames=0)
