from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.contracts import Box, FaceHit, FrameSent, WatchlistChange
from tests.names import subjects

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))


def _hit(**overrides: object) -> FaceHit:
    fields: dict[str, object] = {
        "camera_id": "cam-1",
        "worker_id": "w1",
        "captured_at": datetime.now(UTC),
        "box": Box(x=1, y=2, w=30, h=40),
        "landmarks": [(1.0, 2.0)] * 5,
        "detector_score": 0.9,
        "similarity": 0.7,
        "threshold": 0.42,
        "profile_id": 3,
        "profile_name": "X",
        "category": "wanted",
        "embedder_model": "mobilefacenet",
        "crop_jpeg": JPEG,
        "scene_jpeg": JPEG[::-1],
    }
    fields.update(overrides)
    return FaceHit.model_validate(fields)


def test_evidence_bytes_survive_the_wire_unchanged() -> None:
    hit = _hit()
    wire = hit.to_bytes()
    assert b"JFIF" not in wire  # base64 on the wire
    back = FaceHit.from_bytes(wire)
    assert back.crop_jpeg == JPEG and back.scene_jpeg == JPEG[::-1]
    assert back == hit


@pytest.mark.parametrize(
    "bad",
    [{"similarity": 1.5}, {"landmarks": [(0.0, 0.0)] * 4}, {"detector_score": -0.1}, {"extra_field": 1}],
)
def test_invalid_hits_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _hit(**bad)


def test_every_message_has_an_id_a_version_and_a_time() -> None:
    a = FrameSent(camera_id="c", seq=1, loop=0, sent_at_ns=5)
    b = WatchlistChange(action="remove", profile_id=1)
    assert a.event_id != b.event_id
    assert a.schema_version == b.schema_version == 1
    assert a.emitted_at.tzinfo is not None


@pytest.mark.parametrize("camera_id", ["a.b", "a b", "a*", ">", ""])
def test_subjects_refuse_ids_that_would_break_wildcards(camera_id: str) -> None:
    with pytest.raises(ValueError):
        subjects.hits("face", camera_id)


def test_subjects_are_inside_their_streams() -> None:
    assert subjects.hits("face", "cam-1").startswith(subjects.stream_subjects("hits")[0][:-1])
    assert subjects.watchlist_changes().startswith(subjects.stream_subjects("watchlist")[0][:-1])
