from __future__ import annotations

import pytest

from pipeline.frame_stamp import STAMP_UUID, FrameStamp, find_stamp, insert_stamp, sei_nal

AUD = b"\x00\x00\x00\x01\x09\xf0"
SPS = b"\x00\x00\x00\x01\x67\x42\x00\x1f"
PPS = b"\x00\x00\x00\x01\x68\xce\x3c\x80"
IDR = b"\x00\x00\x01\x65\x88\x84\x00\x00\x03\x01"
NON_IDR = b"\x00\x00\x00\x01\x41\x9a\x00"


@pytest.mark.parametrize(
    ("au", "prefix"),
    [
        (AUD + SPS + PPS + IDR, AUD + SPS + PPS),
        (NON_IDR, b""),
        (AUD + NON_IDR, AUD),
    ],
)
def test_stamp_goes_before_the_first_slice(au: bytes, prefix: bytes) -> None:
    stamp = FrameStamp(seq=41, sent_ns=1_763_000_000_123_456_789)
    out = insert_stamp(au, stamp)
    assert out.startswith(prefix + sei_nal(stamp))
    assert out.endswith(au[len(prefix) :])
    assert find_stamp(out) == stamp


def test_payload_needs_no_emulation_prevention() -> None:
    nal = sei_nal(FrameStamp(seq=0, sent_ns=10**18))
    body = nal[4:]
    assert b"\x00\x00" not in body


@pytest.mark.parametrize("packet", [b"", IDR, STAMP_UUID + b"12:34", STAMP_UUID + b"x:y\x80"])
def test_find_stamp_tolerates_packets_without_a_valid_stamp(packet: bytes) -> None:
    assert find_stamp(packet) is None


def test_access_unit_without_slice_is_refused() -> None:
    with pytest.raises(ValueError, match="no slice"):
        insert_stamp(AUD + SPS, FrameStamp(1, 1))
