"""Kinds of alert and hit subjects: one registry, built and parsed in one place; an unknown kind raises."""

from __future__ import annotations

from typing import get_args

import pytest

from pipeline.contracts import HIT_CONTRACTS, FaceHit, PlateHit
from pipeline.kinds import ALERT_KINDS, HIT_KINDS, hit_kind
from pipeline.settings.camera import Analytic
from tests.names import subjects


def test_every_hit_kind_has_a_contract_and_a_subject_that_parses_back() -> None:
    assert set(HIT_CONTRACTS) == set(HIT_KINDS) and set(HIT_KINDS) < set(ALERT_KINDS)
    assert HIT_CONTRACTS["face"] is FaceHit and HIT_CONTRACTS["plate"] is PlateHit
    assert set(get_args(Analytic)) == set(HIT_KINDS)  # a camera is analysed for the kinds of hit
    for kind in HIT_KINDS:
        subject = subjects.hits(hit_kind(kind), "cam-7")
        assert subject == f"safecity.hits.{kind}.cam-7"
        assert subjects.parse_hit(subject) == (kind, "cam-7")


@pytest.mark.parametrize(
    "subject",
    [
        "safecity.hits.weapon.cam-7",  # a kind nobody registered
        "safecity.hits.face",
        "safecity.hits.face.cam-7.extra",
        "safecity.plates.read.cam-7",
        "other.hits.face.cam-7",
        "safecity.hits.face.bad id",
    ],
)
def test_what_is_not_a_hit_subject_is_refused_with_a_reason(subject: str) -> None:
    with pytest.raises(ValueError, match=r"hit|camera"):
        subjects.parse_hit(subject)


def test_an_unknown_kind_is_never_guessed() -> None:
    with pytest.raises(ValueError, match="no kind of hit is called 'checkin'"):
        hit_kind("checkin")  # raised by the command centre itself, never a worker's hit
