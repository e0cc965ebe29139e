from __future__ import annotations

import pytest

from pipeline.frame_stamp import HEVC, STAMP_UUID, FrameStamp, find_stamp, insert_stamp, nal_units, sei_nal

AUD = b"\x00\x00\x00\x01\x09\xf0"
SPS = b"\x00\x00\x00\x01\x67\x42\x00\x1f"
PPS = b"\x00\x00\x00\x01\x68\xce\x3c\x80"
IDR = b"\x00\x00\x01\x65\x88\x84\x00\x00\x03\x01"
NON_IDR = b"\x00\x00\x00\x01\x41\x9a\x00"
# HEVC: two-byte NAL headers, the type in bits 1-6 of the first.
HEVC_AUD = b"\x00\x00\x00\x01\x46\x01\x50"
HEVC_VPS = b"\x00\x00\x00\x01\x40\x01\x0c\x01"
HEVC_SPS = b"\x00\x00\x00\x01\x42\x01\x01\x01"
HEVC_PPS = b"\x00\x00\x00\x01\x44\x01\xc1\x72"
HEVC_IDR = b"\x00\x00\x01\x28\x01\xaf\x00\x00\x03\x01"  # IDR_N_LP (20)
HEVC_TRAIL = b"\x00\x00\x00\x01\x02\x01\xd0\x09"  # TRAIL_R (1)


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


@pytest.mark.parametrize(
    ("au", "prefix"),
    [
        (HEVC_AUD + HEVC_VPS + HEVC_SPS + HEVC_PPS + HEVC_IDR, HEVC_AUD + HEVC_VPS + HEVC_SPS + HEVC_PPS),
        (HEVC_TRAIL + HEVC_TRAIL, b""),
    ],
)
def test_hevc_stamp_is_a_prefix_sei_before_the_first_slice(au: bytes, prefix: bytes) -> None:
    stamp = FrameStamp(seq=7, sent_ns=1_763_000_000_000_000_001)
    out = insert_stamp(au, stamp, HEVC)
    sei = sei_nal(stamp, HEVC)
    assert sei[4:6] == b"\x4e\x01"  # prefix SEI (39), layer 0, temporal id 1
    assert out.startswith(prefix + sei) and out.endswith(au[len(prefix) :])
    assert find_stamp(out) == stamp
    assert [t for _, t in nal_units(out, HEVC)][len(nal_units(prefix, HEVC))] == 39


def test_hevc_nal_types_are_read_from_the_two_byte_header() -> None:
    au = HEVC_AUD + HEVC_VPS + HEVC_SPS + HEVC_PPS + HEVC_IDR + HEVC_TRAIL
    assert [t for _, t in nal_units(au, HEVC)] == [35, 32, 33, 34, 20, 1]
    with pytest.raises(ValueError, match="no slice"):
        insert_stamp(HEVC_VPS + HEVC_SPS, FrameStamp(1, 1), HEVC)
