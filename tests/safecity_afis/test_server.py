"""The AFIS's answer to a transaction, in process: a raw (CGA ``NONE``) print of an enrolled finger comes
back first; transactions it cannot use are refused with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safecity_afis import synth
from safecity_afis.ansi_nist import AnsiNistError, FingerImage, Transaction, encode
from safecity_afis.gallery import Gallery
from safecity_afis.minutiae import ImageError
from safecity_afis.server import identify


def _tx(images: list[FingerImage]) -> bytes:
    return encode(Transaction("RPIS", "T-1", "AFIS", "TEST", images))


def test_enrolled_finger_comes_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(99)
    fingers = [synth.master(rng) for _ in range(2)]
    gallery = Gallery(tmp_path)
    for n, finger in enumerate(fingers, start=1):
        gallery.enrol(str(n), synth.impression(finger, rng))
    probe = synth.impression(fingers[1], rng)
    answer = identify(gallery, _tx([FingerImage(probe.tobytes(), probe.shape[1], probe.shape[0], "NONE")]))
    assert answer["tcn"] == "T-1" and answer["minutiae"] >= 20
    assert answer["candidates"][0]["subject"] == "2"
    assert answer["candidates"][0]["score"] > answer["candidates"][1]["score"]


def test_unusable_transactions_refused(tmp_path: Path) -> None:
    gallery = Gallery(tmp_path)
    with pytest.raises(AnsiNistError, match="no Type-14"):
        identify(gallery, _tx([]))
    blank = np.full((200, 200), 200, np.uint8)
    with pytest.raises(ImageError, match="no fingerprint found"):
        identify(gallery, _tx([FingerImage(blank.tobytes(), 200, 200, "NONE")]))
    with pytest.raises(ImageError, match="cannot be decoded"):
        identify(gallery, _tx([FingerImage(b"not a png", 200, 200, "PNG")]))
    with pytest.raises(ValueError, match="subject id"):
        gallery.enrol("../escape", blank)
