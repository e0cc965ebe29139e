"""``POST /faces/search``: investigative photo search, the M-CCTNS face client and Chennai's "top 20".

A photo and a stated reason in, ranked candidates out: the largest face of the photo against the watch
lists the caller may see (live or search-only, the whole CRO gallery included when visible), with no
threshold, for a person to judge. Nobody is paged: a search raises no alert. Each candidate carries its
similarity, how many strangers would be expected to score that high by chance in a gallery this size
(from the embedder's measured impostor scores), the profile's legal basis, the lists it is on and the CRO
persons linked to it with their cases. The probe photo is not kept; the search, its reason and what it
returned are audited.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from command_center.admin.api.watch_lists import viewer
from command_center.api.deps import ServicesDep, require
from command_center.records.faces import SearchResult
from command_center.security.api.auditing import AuditorDep, ReasonForm
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.models.registry import ModelError
from watchlist.list_types import WatchList, may_view
from watchlist.photos import PhotoError

router = APIRouter(prefix="/faces", tags=["face search"])

MAX_CANDIDATES = 50
Searcher = Annotated[Principal, require(Permission.FACES_SEARCH)]


class LinkedCase(BaseModel):
    fir_number: str
    police_station: str
    sections: list[str]
    status: str


class LinkedPerson(BaseModel):
    id: int
    name: str
    father_name: str | None
    category: str
    cases: list[LinkedCase]


class Candidate(BaseModel):
    rank: int
    profile_id: int
    name: str
    category: str
    similarity: float
    chance_matches: float = Field(
        description="Strangers expected to score this high by chance against a gallery of this size: "
        "well below 1 makes the candidate worth a look, above 1 means the score alone says little"
    )
    lists: list[str] = Field(description="The visible watch lists the profile is on")
    status: str
    legal_reference: str
    expires_at: datetime
    photo_jpeg: str = Field(description="The enrolled face crop, base64 JPEG")
    persons: list[LinkedPerson] = Field(description="CRO persons linked to the profile, with their cases")


class SearchAnswer(BaseModel):
    faces_in_photo: int = Field(description="Faces found; the largest was searched")
    box: tuple[float, float, float, float] | None
    lists_searched: list[str]
    gallery: int = Field(description="Enrolled embeddings held by the search")
    candidates: list[Candidate]


@router.post("/search", response_model=SearchAnswer)
async def search_faces(
    principal: Searcher,
    services: ServicesDep,
    auditor: AuditorDep,
    photo: Annotated[UploadFile, File(description="A photo of the person sought (one face, or the largest)")],
    reason: ReasonForm,
    lists: Annotated[
        list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None,
        Form(max_length=100, description="Search only these lists (default: every list you may see)"),
    ] = None,
    top_k: Annotated[int, Form(ge=1, le=MAX_CANDIDATES)] = 20,
) -> SearchAnswer:
    faces = services.records.faces
    limit = services.settings.records.max_photo_bytes
    data = await photo.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"the photo is larger than {limit} bytes")
    await run_in_threadpool(faces.refresh)
    mine = [w for w in faces.lists().all_lists() if may_view(w, viewer(principal))]
    chosen = _chosen(mine, lists)
    try:
        result = await faces.search(data, [w.id for w in chosen], top_k)
    except PhotoError as exc:
        raise HTTPException(422, str(exc)) from None
    except ModelError as exc:
        raise HTTPException(503, f"face models unavailable: {exc}") from None
    answer = await _answer(services, result, chosen)
    await auditor.record(
        "faces.search",
        "watchlist_profiles",
        reason=reason,
        details={
            "photo_sha256": hashlib.sha256(data).hexdigest(),
            "lists": [w.id for w in chosen],
            "faces_in_photo": result.faces,
            "returned": [[c.profile_id, round(c.similarity, 4)] for c in answer.candidates],
        },
    )
    return answer


def _chosen(mine: list[WatchList], asked: list[int] | None) -> list[WatchList]:
    if asked is None:
        return mine
    by_id = {w.id: w for w in mine}
    missing = [i for i in asked if i not in by_id]
    if missing:
        raise HTTPException(404, f"no watch list with id {missing[0]} that you may search")
    return [by_id[i] for i in dict.fromkeys(asked)]


async def _answer(services: ServicesDep, result: SearchResult, chosen: list[WatchList]) -> SearchAnswer:
    names = {w.id: w.name for w in chosen}
    gallery_names = [w.name for w in chosen if w.all_profiles]
    model = services.watch_lists.lists.calibrator.model
    store = services.watchlist
    persons = services.records.persons
    profiles = {
        p.id: p
        for p in await run_in_threadpool(store.profiles_by_ids, [m.profile_id for m in result.candidates])
    }
    candidates = []
    for rank, match in enumerate(result.candidates, 1):
        profile = profiles.get(match.profile_id)
        if profile is None:
            continue
        crop = await run_in_threadpool(store.profile_photo, match.profile_id, True)
        linked = await run_in_threadpool(persons.by_watchlist_profile, match.profile_id)
        records = [await run_in_threadpool(persons.record, p.id) for p in linked]
        candidates.append(
            Candidate(
                rank=rank,
                profile_id=match.profile_id,
                name=match.name,
                category=match.category,
                similarity=round(match.similarity, 4),
                chance_matches=result.gallery * model.impostor_tail(match.similarity),
                lists=[names[i] for i in match.lists if i in names] + gallery_names,
                status=profile.status.value,
                legal_reference=profile.legal_reference,
                expires_at=profile.expires_at,
                photo_jpeg=base64.b64encode(crop or b"").decode(),
                persons=[
                    LinkedPerson(
                        id=r.person.id,
                        name=r.person.name,
                        father_name=r.person.fields.father_name,
                        category=r.person.category,
                        cases=[
                            LinkedCase(
                                fir_number=c.fields.fir_number,
                                police_station=c.fields.police_station,
                                sections=list(c.fields.sections),
                                status=c.fields.status,
                            )
                            for c in r.cases
                        ],
                    )
                    for r in records
                ],
            )
        )
    return SearchAnswer(
        faces_in_photo=result.faces,
        box=result.box,
        lists_searched=[w.name for w in chosen],
        gallery=result.gallery,
        candidates=candidates,
    )
