"""Frame stamps: a sender's frame number and send time carried inside the H.264 stream itself.

camera_sim inserts one SEI "user data unregistered" NAL unit into each access unit it sends; a worker
finds it in the packet it demuxes and so knows exactly when that frame left the camera. Decoders ignore
unknown SEI, so any RTSP client still plays the stream. The payload is ASCII (``seq:sent_ns``), which
holds no zero bytes and therefore never needs H.264 emulation-prevention bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

# 16 bytes identifying our SEI payload; chosen with no zero bytes.
STAMP_UUID = bytes.fromhex("5afec17a11f0c4a5b3e7d2c9aa55e1f1")
_START = b"\x00\x00\x00\x01"
_SEI_NAL_HEADER = 0x06
_USER_DATA_UNREGISTERED = 5
_RBSP_STOP = 0x80


@dataclass(frozen=True, slots=True)
class FrameStamp:
    seq: int
    sent_ns: int


def sei_nal(stamp: FrameStamp) -> bytes:
    """An Annex-B SEI NAL unit (with start code) carrying ``stamp``."""
    if stamp.seq < 0 or stamp.sent_ns < 0:
        raise ValueError("frame stamps are non-negative")
    payload = STAMP_UUID + f"{stamp.seq}:{stamp.sent_ns}".encode("ascii")
    if len(payload) >= 255:
        raise ValueError("stamp payload too long")
    return (
        _START
        + bytes([_SEI_NAL_HEADER, _USER_DATA_UNREGISTERED, len(payload)])
        + payload
        + bytes([_RBSP_STOP])
    )


def _nal_starts(data: bytes) -> list[int]:
    """Offsets of the first byte after each 3- or 4-byte start code."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    return starts


def insert_stamp(access_unit: bytes, stamp: FrameStamp) -> bytes:
    """Insert the stamp SEI before the first slice (VCL NAL) of an Annex-B access unit."""
    for offset in _nal_starts(access_unit):
        if offset >= len(access_unit):
            break
        nal_type = access_unit[offset] & 0x1F
        if 1 <= nal_type <= 5:
            cut = offset - 3
            if cut > 0 and access_unit[cut - 1] == 0:
                cut -= 1  # 4-byte start code
            return access_unit[:cut] + sei_nal(stamp) + access_unit[cut:]
    raise ValueError("access unit has no slice NAL unit")


def find_stamp(packet: bytes) -> FrameStamp | None:
    """The stamp in a demuxed packet (Annex-B or length-prefixed), or None if it carries none."""
    i = packet.find(STAMP_UUID)
    if i < 0:
        return None
    end = packet.find(bytes([_RBSP_STOP]), i + len(STAMP_UUID))
    if end < 0:
        return None
    try:
        seq_text, ns_text = packet[i + len(STAMP_UUID) : end].decode("ascii").split(":")
        return FrameStamp(int(seq_text), int(ns_text))
    except (UnicodeDecodeError, ValueError):
        return None
