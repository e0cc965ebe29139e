"""Frame stamps: a sender's frame number and send time carried inside the H.264 or HEVC stream itself.

camera_sim inserts one SEI "user data unregistered" NAL unit into each access unit it sends; a worker
finds it in the packet it demuxes and so knows exactly when that frame left the camera. Decoders ignore
unknown SEI, so any RTSP client still plays the stream. The payload is ASCII (``seq:sent_ns``), which
holds no zero bytes and therefore never needs emulation-prevention bytes.

``NalSyntax`` is what differs between the two codecs at the level of NAL units: the header (one byte in
H.264, two in HEVC), where the type sits in it, and which types are slices, parameter sets, delimiters.
"""

from __future__ import annotations

from dataclasses import dataclass

# 16 bytes identifying our SEI payload; chosen with no zero bytes.
STAMP_UUID = bytes.fromhex("5afec17a11f0c4a5b3e7d2c9aa55e1f1")
_START = b"\x00\x00\x00\x01"
_USER_DATA_UNREGISTERED = 5
_RBSP_STOP = 0x80


@dataclass(frozen=True, slots=True)
class NalSyntax:
    codec: str
    sei_header: bytes  # the NAL header of a (prefix) SEI unit
    vcl_types: range  # coded slices
    random_access_types: range  # slices a decoder can start at (IDR; in HEVC also BLA and CRA)
    parameter_set_types: frozenset[int]
    delimiter_type: int  # access unit delimiter
    shift: int  # the type sits at (first header byte >> shift) & mask
    mask: int

    def nal_type(self, first_byte: int) -> int:
        return (first_byte >> self.shift) & self.mask

    def is_random_access(self, access_unit: bytes) -> bool:
        """Whether a decoder can start at this access unit (it holds an IDR, BLA or CRA slice)."""
        return any(t in self.random_access_types for _, t in nal_units(access_unit, self))


H264 = NalSyntax("h264", b"\x06", range(1, 6), range(5, 6), frozenset({7, 8}), 9, 0, 0x1F)
# HEVC: a two-byte header (type in bits 1-6 of the first), prefix SEI is type 39, layer 0, temporal id 1.
HEVC = NalSyntax("hevc", b"\x4e\x01", range(32), range(16, 22), frozenset({32, 33, 34}), 35, 1, 0x3F)
NAL_SYNTAX = {"h264": H264, "hevc": HEVC}


@dataclass(frozen=True, slots=True)
class FrameStamp:
    seq: int
    sent_ns: int


def sei_nal(stamp: FrameStamp, syntax: NalSyntax = H264) -> bytes:
    """An Annex-B SEI NAL unit (with start code) carrying ``stamp``."""
    if stamp.seq < 0 or stamp.sent_ns < 0:
        raise ValueError("frame stamps are non-negative")
    payload = STAMP_UUID + f"{stamp.seq}:{stamp.sent_ns}".encode("ascii")
    if len(payload) >= 255:
        raise ValueError("stamp payload too long")
    return (
        _START
        + syntax.sei_header
        + bytes([_USER_DATA_UNREGISTERED, len(payload)])
        + payload
        + bytes([_RBSP_STOP])
    )


def nal_units(data: bytes, syntax: NalSyntax) -> list[tuple[int, int]]:
    """(offset of the start code, 3 or 4 bytes, NAL type) of each NAL unit in Annex-B ``data``."""
    found = []
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < len(data) - 3:
        start = i - 1 if i > 0 and data[i - 1] == 0 else i
        found.append((start, syntax.nal_type(data[i + 3])))
        i = data.find(b"\x00\x00\x01", i + 3)
    return found


def insert_stamp(access_unit: bytes, stamp: FrameStamp, syntax: NalSyntax = H264) -> bytes:
    """Insert the stamp SEI before the first slice (VCL NAL) of an Annex-B access unit."""
    for start, nal_type in nal_units(access_unit, syntax):
        if nal_type in syntax.vcl_types:
            return access_unit[:start] + sei_nal(stamp, syntax) + access_unit[start:]
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
