"""``POST /fingerprints/identify``: a print from an officer's phone against the configured AFIS.

A fingerprint image (PNG or JPEG; sent on as grayscale) and a stated reason in; the AFIS's candidates
scoring at least ``afis.min_score`` out, ranked, each with the CRO person its subject id names (none when
the id names no record). Like every record search it is audited (the image's hash, the transaction's
TCN and what was returned) before the answer leaves. No AFIS configured, or none reachable: 503.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from command_center.api.deps import ServicesDep, require
from command_center.records import fingerprints
from command_center.records.api.person_views import PersonSummary
from command_center.security.api.auditing import AuditorDep, ReasonForm
from command_center.security.permissions import Permission
from command_center.security.principal import Principal

router = APIRouter(prefix="/fingerprints", tags=["fingerprints"])

Reader = Annotated[Principal, require(Permission.PERSONS_READ)]
MAX_ID = 2**31 - 1


class FingerprintCandidate(BaseModel):
    rank: int
    subject: str = Field(description="The AFIS's subject id (a CRO person's id)")
    score: float = Field(description="The AFIS's score, 0-100")
    person: PersonSummary | None = Field(description="The CRO person the subject id names, if any")


class FingerprintAnswer(BaseModel):
    tcn: str = Field(description="The ANSI/NIST transaction control number (1.009) sent")
    minutiae: int | None = Field(description="Minutiae the AFIS found in the print")
    min_score: float
    candidates: list[FingerprintCandidate]


@router.post("/identify", response_model=FingerprintAnswer)
async def identify_fingerprint(
    _: Reader,
    services: ServicesDep,
    auditor: AuditorDep,
    image: Annotated[UploadFile, File(description="The fingerprint: PNG or JPEG, ~500 ppi")],
    reason: ReasonForm,
    finger: Annotated[int, Form(ge=0, le=10, description="14.013 finger position; 0 unknown")] = 0,
) -> FingerprintAnswer:
    settings = services.settings.afis
    if not settings.url:
        raise HTTPException(503, "fingerprint identification is off: no AFIS is configured (afis.url)")
    limit = services.settings.records.max_photo_bytes
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"the image is larger than {limit} bytes")
    try:
        pixels = services.settings.records.max_photo_pixels
        tx = await run_in_threadpool(fingerprints.transaction, data, settings, finger, pixels)
        answer = await fingerprints.identify(tx, settings)
    except fingerprints.AfisError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    ids = [_person_id(m.subject) for m in answer.matches]
    persons = await run_in_threadpool(services.records.persons.by_ids, [i for i in ids if i is not None])
    candidates = [
        FingerprintCandidate(
            rank=rank,
            subject=m.subject,
            score=m.score,
            person=PersonSummary.of(persons[pid]) if pid in persons else None,
        )
        for rank, (m, pid) in enumerate(zip(answer.matches, ids, strict=True), start=1)
    ]
    await auditor.record(
        "fingerprints.identify",
        "persons",
        reason=reason,
        details={
            "image_sha256": hashlib.sha256(data).hexdigest(),
            "tcn": answer.tcn,
            "returned": [[c.subject, c.score] for c in candidates],
        },
    )
    return FingerprintAnswer(
        tcn=answer.tcn, minutiae=answer.minutiae, min_score=settings.min_score, candidates=candidates
    )


def _person_id(subject: str) -> int | None:
    """The CRO person id a subject id names (its decimal digits), or None."""
    return int(subject) if subject.isdigit() and 0 < int(subject) <= MAX_ID else None
