"""Missing person ↔ body scoring, table-driven: the hard filters, each feature, and faces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from command_center.records.matching import Features, compare

T = datetime(2025, 6, 1, tzinfo=UTC)
PERSON = Features(
    sex="male",
    at=T,
    age_min=25,
    age_max=30,
    height_cm=170,
    build="slim",
    complexion="wheatish",
    marks="mole on left cheek, scar on right hand",
    clothing="white shalwar kameez",
    district="Lahore",
)


def body(**changes: object) -> Features:
    values = {name: getattr(PERSON, name) for name in Features.__dataclass_fields__}
    values["at"] = T + timedelta(days=5)
    values.update(changes)
    return Features(**values)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"sex": "female"}, "another sex"),
        ({"at": T - timedelta(days=3)}, "found before going missing"),
        ({"age_min": 60, "age_max": 70}, "decades apart"),
    ],
)
def test_hard_filters_rule_a_pair_out(changes: dict[str, object], why: str) -> None:
    assert compare(PERSON, body(**changes)) is None, why


def test_unknown_sex_and_a_day_of_clock_slack_pass() -> None:
    assert compare(PERSON, body(sex="unknown")) is not None
    assert compare(PERSON, body(at=T - timedelta(hours=12))) is not None


@pytest.mark.parametrize(
    ("changes", "feature", "expected"),
    [
        ({}, "age", 1.0),
        ({"age_min": 33, "age_max": 40}, "age", pytest.approx(0.7, abs=0.01)),  # 3 years apart
        ({"height_cm": 174}, "height", 1.0),
        ({"height_cm": 180}, "height", pytest.approx(1 - 5 / 15, abs=1e-3)),
        ({"build": "medium"}, "build", 0.5),
        ({"complexion": "dark"}, "complexion", 0.0),
        ({"marks": "scar on right hand and a mole on the left cheek"}, "marks", 1.0),  # any order
        ({"marks": "tattoo on the neck"}, "marks", pytest.approx(0.3, abs=0.2)),
        ({"district": "Multan"}, "place", 0.3),
    ],
)
def test_each_feature_scores(changes: dict[str, object], feature: str, expected: float) -> None:
    scored = compare(PERSON, body(**changes))
    assert scored is not None and scored.reasons[feature] == expected


def test_a_full_match_ranks_above_a_partial_one_and_faces_lead() -> None:
    same = compare(PERSON, body())
    worse = compare(PERSON, body(height_cm=150, build="obese", marks="tattoo of an eagle", district="Multan"))
    assert same is not None and worse is not None and same.score > worse.score + 0.3
    sparse = Features(sex="male", at=T + timedelta(days=2))
    with_face = compare(PERSON, sparse, face=0.7)
    stranger = compare(PERSON, body(), face=0.02)
    assert with_face is not None and stranger is not None
    assert with_face.score > same.score * 0.5 and with_face.face_score == 0.7
    assert stranger.score < same.score - 0.4  # a clear face mismatch sinks the best description
