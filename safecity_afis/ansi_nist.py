"""ANSI/NIST-ITL 1-2011 transactions, traditional encoding: the Type-1 transaction record and Type-14
variable-resolution fingerprint image records.

A record is a run of tagged fields ``t.nnn:value`` separated by GS (0x1D) and ended by FS (0x1C); its
first field ``t.001`` (LEN) is the record's length in bytes, so a binary image field (``14.999``, always
last) may hold any byte. Within a field, subfields are separated by RS (0x1E) and items by US (0x1F).
Type-1's ``1.003`` (CNT) lists the records: first ``1`` US the count of the others, then each as
record type US IDC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

FS, GS, RS, US = b"\x1c", b"\x1d", b"\x1e", b"\x1f"
VERSION = "0500"  # ANSI/NIST-ITL 1-2011
SEARCH_TOT = "RPIS"  # rapid fingerprint identification search (a mobile ID query)
PPMM_500 = "19.69"  # 500 ppi in pixels per millimetre (1.011, 1.012)
_TAG = re.compile(rb"^(\d{1,2})\.(\d{3}):")
_TYPE1_REQUIRED = ("1.001", "1.002", "1.003", "1.004", "1.005", "1.007", "1.008", "1.009", "1.011", "1.012")
_TYPE14_REQUIRED = ("14.001", "14.002", "14.003", "14.006", "14.007", "14.008", "14.011", "14.013", "14.999")
COMPRESSIONS = ("NONE", "PNG", "JPEGB")


class AnsiNistError(ValueError):
    """A transaction that cannot be read; the message says what is wrong."""


@dataclass
class FingerImage:
    """A Type-14 record: one fingerprint image."""

    data: bytes
    width: int
    height: int
    compression: str = "PNG"  # 14.011 CGA
    ppi: int = 500
    finger: int = 0  # 14.013 FGP: 0 unknown, 1-10 the fingers
    impression: int = 0  # 14.003 IMP: 0 live-scan plain
    source: str = "SAFECITY"  # 14.004 SRC


@dataclass
class Transaction:
    tot: str  # 1.004 type of transaction
    tcn: str  # 1.009 transaction control number
    destination: str  # 1.007 DAI
    origin: str  # 1.008 ORI
    images: list[FingerImage] = field(default_factory=list)
    date: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%d"))


def _record(fields: list[tuple[str, bytes]]) -> bytes:
    """A record with its LEN field (listed first as ``t.001``, value computed here) filled in."""
    tag_len = fields[0][0]
    rest = GS.join(f"{tag}:".encode() + value for tag, value in fields[1:])
    length = 0
    while True:  # the length counts its own digits
        body = f"{tag_len}:{length}".encode() + GS + rest + FS
        if len(body) == length:
            return body
        length = len(body)


def encode(tx: Transaction) -> bytes:
    """The transaction in traditional encoding: Type-1, then a Type-14 per image (IDC 1, 2, ...)."""
    cnt = [f"1{US.decode()}{len(tx.images)}"] + [
        f"14{US.decode()}{i:02d}" for i in range(1, len(tx.images) + 1)
    ]
    type1 = [
        ("1.001", b""),
        ("1.002", VERSION.encode()),
        ("1.003", RS.join(c.encode() for c in cnt)),
        ("1.004", tx.tot.encode()),
        ("1.005", tx.date.encode()),
        ("1.007", tx.destination.encode()),
        ("1.008", tx.origin.encode()),
        ("1.009", tx.tcn.encode()),
        ("1.011", PPMM_500.encode()),
        ("1.012", PPMM_500.encode()),
    ]
    out = [_record(type1)]
    for idc, img in enumerate(tx.images, start=1):
        out.append(_record(_type14(idc, img)))
    return b"".join(out)


def _type14(idc: int, img: FingerImage) -> list[tuple[str, bytes]]:
    return [
        ("14.001", b""),
        ("14.002", f"{idc:02d}".encode()),
        ("14.003", str(img.impression).encode()),
        ("14.004", img.source.encode()),
        ("14.005", datetime.now(UTC).strftime("%Y%m%d").encode()),
        ("14.006", str(img.width).encode()),
        ("14.007", str(img.height).encode()),
        ("14.008", b"1"),  # scale units: pixels per inch
        ("14.009", str(img.ppi).encode()),
        ("14.010", str(img.ppi).encode()),
        ("14.011", img.compression.encode()),
        ("14.012", b"8"),
        ("14.013", str(img.finger).encode()),
        ("14.999", img.data),
    ]


def _split_records(data: bytes) -> list[tuple[int, dict[str, bytes]]]:
    """Each record's type and fields, cut by their LEN fields."""
    records = []
    at = 0
    while at < len(data):
        head = _TAG.match(data[at : at + 8])
        if head is None or head.group(2) != b"001":
            raise AnsiNistError(f"byte {at}: a record must begin with its LEN field (t.001)")
        end_len = data.find(GS, at)
        try:
            length = int(data[at + head.end() : end_len])
        except ValueError:
            raise AnsiNistError(f"byte {at}: the LEN field is not a number") from None
        if length <= 0 or at + length > len(data):
            raise AnsiNistError(f"byte {at}: LEN {length} runs past the end of the transaction")
        body = data[at : at + length]
        if not body.endswith(FS):
            raise AnsiNistError(f"byte {at}: the record of LEN {length} does not end with FS (0x1C)")
        records.append(_fields(int(head.group(1)), body[:-1]))
        at += length
    return records


def _fields(rtype: int, body: bytes) -> tuple[int, dict[str, bytes]]:
    fields: dict[str, bytes] = {}
    at = 0
    while at < len(body):
        head = _TAG.match(body[at : at + 8])
        if head is None:
            raise AnsiNistError(f"Type-{rtype} record: no field tag at byte {at}")
        if int(head.group(1)) != rtype:
            raise AnsiNistError(
                f"Type-{rtype} record: a field tagged for record type {head.group(1).decode()}"
            )
        tag = f"{rtype}.{head.group(2).decode()}"
        start = at + head.end()
        # a binary image field (t.999) is the record's last and may hold GS bytes
        end = len(body) if head.group(2) == b"999" else body.find(GS, start)
        if end < 0:
            end = len(body)
        if tag in fields:
            raise AnsiNistError(f"field {tag} appears twice")
        fields[tag] = body[start:end]
        at = end + 1
    return rtype, fields


def _text(fields: dict[str, bytes], tag: str) -> str:
    try:
        return fields[tag].decode("ascii")
    except UnicodeDecodeError:
        raise AnsiNistError(f"field {tag} is not ASCII text") from None


def _int(fields: dict[str, bytes], tag: str) -> int:
    value = _text(fields, tag)
    if not value.isdigit():
        raise AnsiNistError(f"field {tag} must be a number, not {value[:20]!r}")
    return int(value)


def decode(data: bytes) -> Transaction:
    """The transaction, or ``AnsiNistError`` saying why not (LEN, FS, CNT, required fields, types)."""
    if not data:
        raise AnsiNistError("an empty transaction")
    records = _split_records(data)
    rtype, t1 = records[0]
    if rtype != 1:
        raise AnsiNistError(f"the first record is Type-{rtype}, not the Type-1 transaction record")
    _require(t1, _TYPE1_REQUIRED, 1)
    if _text(t1, "1.002") != VERSION:
        raise AnsiNistError(f"1.002: version {_text(t1, '1.002')!r} is not {VERSION} (ANSI/NIST-ITL 1-2011)")
    listed = _content(_text(t1, "1.003"))
    found = [(t, _text(f, f"{t}.002")) for t, f in records[1:] if f"{t}.002" in f]
    if len(found) != len(records) - 1 or [(t, int(i)) for t, i in found] != listed:
        raise AnsiNistError(f"1.003 lists records {listed} but the transaction holds {found}")
    tx = Transaction(
        tot=_text(t1, "1.004"),
        tcn=_text(t1, "1.009"),
        destination=_text(t1, "1.007"),
        origin=_text(t1, "1.008"),
        date=_text(t1, "1.005"),
    )
    for rtype, f in records[1:]:
        if rtype != 14:
            raise AnsiNistError(f"record Type-{rtype} is not supported (only Type-14 fingerprint images)")
        tx.images.append(_image(f))
    return tx


def _require(fields: dict[str, bytes], tags: tuple[str, ...], rtype: int) -> None:
    missing = [t for t in tags if t not in fields]
    if missing:
        raise AnsiNistError(f"Type-{rtype} record lacks required field(s) {', '.join(missing)}")


def _content(cnt: str) -> list[tuple[int, int]]:
    parts = [p.split(US.decode()) for p in cnt.split(RS.decode())]
    if any(len(p) != 2 or not (p[0].isdigit() and p[1].isdigit()) for p in parts) or parts[0][0] != "1":
        raise AnsiNistError(f"1.003 (CNT) is malformed: {cnt[:60]!r}")
    listed = [(int(t), int(i)) for t, i in parts[1:]]
    if int(parts[0][1]) != len(listed):
        raise AnsiNistError(f"1.003 says {parts[0][1]} records follow but lists {len(listed)}")
    return listed


def _image(f: dict[str, bytes]) -> FingerImage:
    _require(f, _TYPE14_REQUIRED, 14)
    compression = _text(f, "14.011")
    if compression not in COMPRESSIONS:
        raise AnsiNistError(f"14.011: compression {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    if "14.012" in f and _int(f, "14.012") != 8:
        raise AnsiNistError("14.012: only 8 bits per pixel (grayscale) are supported")
    img = FingerImage(
        data=f["14.999"],
        width=_int(f, "14.006"),
        height=_int(f, "14.007"),
        compression=compression,
        ppi=_int(f, "14.009") if "14.009" in f else 500,
        finger=_int(f, "14.013"),
        impression=_int(f, "14.003"),
        source=_text(f, "14.004") if "14.004" in f else "",
    )
    if compression == "NONE" and len(img.data) != img.width * img.height:
        raise AnsiNistError(f"14.999: {len(img.data)} bytes is not {img.width}x{img.height} 8-bit pixels")
    return img
