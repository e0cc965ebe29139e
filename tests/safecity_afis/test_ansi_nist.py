"""ANSI/NIST-ITL 1-2011 traditional encoding: a round trip, and malformed transactions refused."""

from __future__ import annotations

import pytest

from safecity_afis.ansi_nist import FS, GS, AnsiNistError, FingerImage, Transaction, decode, encode


def _tx() -> Transaction:
    # image bytes that include the separators: the LEN fields, not the separators, must cut the records
    pixels = bytes(range(256)) * 4
    return Transaction(
        tot="RPIS",
        tcn="SC-1",
        destination="AFIS0001",
        origin="SAFECITY",
        images=[
            FingerImage(pixels, 32, 32, compression="NONE", finger=2),
            FingerImage(b"\x89PNG" + FS + GS, 10, 10, compression="PNG"),
        ],
    )


def test_round_trip() -> None:
    tx = _tx()
    data = encode(tx)
    assert data.startswith(b"1.001:")
    assert b"1.002:0500" in data
    assert b"1.003:1\x1f2\x1e14\x1f01\x1e14\x1f02" in data
    back = decode(data)
    assert back == tx


def test_len_counts_the_whole_record() -> None:
    data = encode(_tx())
    first = int(data[6 : data.index(GS)])
    assert data[first - 1 : first] == FS
    assert data[first:].startswith(b"14.001:")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: b"", "empty"),
        (lambda d: d[:-5], "runs past the end"),
        (lambda d: d.replace(b"1.002:0500", b"1.002:0400"), "not 0500"),
        (lambda d: d.replace(b"1.003:1\x1f2", b"1.003:1\x1f3"), "lists 2"),
        (lambda d: d.replace(b"14.011:NONE", b"14.011:WSQX"), "compression"),
        (lambda d: d.replace(b"\x1d1.009:SC-1", b"\x1d1.019:SC-1"), "lacks required field(s) 1.009"),
        (lambda d: b"X" + d, "LEN field"),
    ],
)
def test_malformed_refused_with_reason(damage, reason) -> None:
    with pytest.raises(AnsiNistError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode(damage(encode(_tx())))


def test_wrong_image_size_refused() -> None:
    tx = _tx()
    tx.images[0].width = 33
    with pytest.raises(AnsiNistError, match="is not 33x32"):
        decode(encode(tx))
