"""The fingerprint identification client: a print in, the configured AFIS's ranked candidates out.

The print goes to the AFIS as an ANSI/NIST-ITL 1-2011 transaction (traditional encoding): a Type-1
transaction record (1.004 TOT ``RPIS``, 1.009 a fresh TCN, 1.007/1.008 the agencies of the ``afis``
settings) and one Type-14 fingerprint image record (the print as 8-bit grayscale PNG, 14.011 ``PNG``,
500 ppi). The AFIS answers JSON ``{"candidates": [{"subject", "score"}]}``; a subject id is the CRO
person's id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import cv2
import httpx
import numpy as np

from pipeline.settings.afis import AfisSettings
from safecity_afis.ansi_nist import SEARCH_TOT, FingerImage, Transaction, encode


class AfisError(Exception):
    """The AFIS could not be asked (``status`` 503), refused the print (422) or answered nonsense (502)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Match:
    subject: str
    score: float


@dataclass
class Answer:
    tcn: str
    minutiae: int | None
    matches: list[Match]


def transaction(
    image: bytes, settings: AfisSettings, finger: int = 0, max_pixels: int = 25_000_000
) -> Transaction:
    """The ANSI/NIST transaction of an uploaded PNG/JPEG print (any colour: sent as grayscale PNG)."""
    pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if pixels is None:
        raise AfisError(422, "the fingerprint image is not a PNG or JPEG image")
    if pixels.size > max_pixels:
        raise AfisError(422, f"the fingerprint image has more than {max_pixels} pixels")
    ok, png = cv2.imencode(".png", pixels)
    if not ok:
        raise AfisError(422, "the fingerprint image could not be encoded")
    height, width = pixels.shape
    return Transaction(
        tot=SEARCH_TOT,
        tcn=f"SC-{uuid.uuid4().hex[:16]}",
        destination=settings.destination,
        origin=settings.origin,
        images=[FingerImage(png.tobytes(), width, height, compression="PNG", finger=finger)],
    )


async def identify(tx: Transaction, settings: AfisSettings) -> Answer:
    if not settings.url:
        raise AfisError(503, "fingerprint identification is off: no AFIS is configured (settings: afis.url)")
    try:
        async with httpx.AsyncClient(timeout=settings.timeout_s) as client:
            reply = await client.post(
                settings.url, content=encode(tx), headers={"Content-Type": "application/octet-stream"}
            )
    except httpx.TimeoutException:
        raise AfisError(503, f"the AFIS did not answer within {settings.timeout_s} s") from None
    except httpx.HTTPError as exc:
        raise AfisError(503, f"the AFIS cannot be reached: {type(exc).__name__}") from None
    try:
        body = reply.json()
    except ValueError:
        raise AfisError(502, f"the AFIS answered {reply.status_code} with no JSON") from None
    if reply.status_code == 400:
        raise AfisError(422, f"the AFIS refused the print: {body.get('error', 'no reason given')}")
    if reply.status_code != 200 or not isinstance(body.get("candidates"), list):
        raise AfisError(502, f"the AFIS answered {reply.status_code} without candidates")
    try:
        matches = [Match(str(c["subject"]), float(c["score"])) for c in body["candidates"]]
    except (KeyError, TypeError, ValueError):
        raise AfisError(502, "the AFIS's candidates lack a subject or a score") from None
    matches = [m for m in matches if m.score >= settings.min_score]
    matches.sort(key=lambda m: -m.score)
    return Answer(tx.tcn, body.get("minutiae"), matches[: settings.max_candidates])
