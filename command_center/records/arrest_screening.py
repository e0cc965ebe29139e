"""After an arrest is stored: tell every officer (a broadcast with the photo and the crime), then look
for the arrested person in the other cases and tell those cases' officers, so they can coordinate.

The person is looked for by CNIC (CRO records, earlier arrests, missing persons), by name (the CRO
spelling-agnostic search and earlier arrests; with the father's name when given), and by the face of
the arrest photo (the camera watchlist, earlier arrests, missing persons, unidentified bodies). What it
finds is kept with the arrest (``screening``). Those told:

* every officer following a CRO person found: the personal-watchlist "arrested" notice;
* the officers of the other cases: the investigating officer of each of a CRO person's open cases, who
  reported the crime of a matching FIR, who made an earlier arrest of the person, who registered a
  matching missing person or body — each on their casework channel. A closed case (convicted,
  acquitted, ...) tells no one.

A match by name alone (no CNIC, no face, no father's name to confirm it) is kept and shown, but tells no
one: common names would otherwise send officers after namesakes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from command_center.records.arrest_links import Link, arrest_link, missing_link, same_father, udr_link
from command_center.records.arrests import Arrest, ArrestStore
from command_center.records.bulletins import Bulletins
from command_center.records.casework_photos import best_matches, faceprint, thumbnail
from command_center.records.faces import GuestFaceMatcher
from command_center.records.notices import FollowNotifier
from command_center.records.search import PersonSearch, Query
from command_center.records.store import PersonStore
from pipeline.adapters import transactions
from pipeline.contracts import OfficerBulletin
from pipeline.settings.records import RecordsSettings

log = logging.getLogger(__name__)

OPEN_STATUSES = frozenset(
    {
        "registered",
        "under_investigation",
        "challan_submitted",
        "under_trial",
        "on_bail",
        "absconding",
        "proclaimed_offender",
    }
)
HOW_RANK = {"record": 4, "cnic": 3, "face": 2, "name": 1}


class CaseOfficers(Protocol):
    """Who works the other cases (crime reports by FIR; missing persons and bodies)."""

    def reporting_officers(self, cases: list[tuple[str, str]]) -> dict[tuple[str, str], set[int]]: ...


class MissingCases(Protocol):
    def faceprints(self, kind: str) -> list[tuple[int, bytes | None]]: ...

    def missing_by_cnic(self, cnic: str) -> list[Any]: ...

    def cases_by_ids(self, kind: str, ids: list[int]) -> dict[int, Any]: ...

    def candidates(self, kind: str, case_id: int, limit: int) -> list[Any]: ...


class ArrestScreener:
    def __init__(
        self,
        store: ArrestStore,
        persons: PersonStore,
        search: PersonSearch,
        faces: GuestFaceMatcher,
        notifier: FollowNotifier,
        bulletins: Bulletins,
        crimes: CaseOfficers,
        missing: MissingCases,
        settings: RecordsSettings,
    ) -> None:
        self._store = store
        self._persons = persons
        self._search = search
        self._faces = faces
        self._notifier = notifier
        self._bulletins = bulletins
        self._crimes = crimes
        self._missing = missing
        self._settings = settings
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, arrest_id: int) -> None:
        """Screen it in the background, once it is committed (after the request's unit of work)."""
        transactions.after_commit(lambda: self._start(arrest_id))

    def _start(self, arrest_id: int) -> None:
        task = asyncio.create_task(self._screen_logged(arrest_id), name=f"screen-arrest:{arrest_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        for arrest_id in await asyncio.to_thread(self._store.unfinished):
            self.submit(arrest_id)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def _screen_logged(self, arrest_id: int) -> None:
        try:
            await self.screen(arrest_id)
        except Exception:
            log.exception("screening arrest %s failed; it is retried at the next start", arrest_id)

    async def screen(self, arrest_id: int) -> dict[str, Any]:
        arrest = await asyncio.to_thread(self._store.get, arrest_id)
        if arrest is None or arrest.screened_at is not None:
            return {}
        photo = await asyncio.to_thread(self._store.photo, arrest_id) if arrest.has_photo else None
        if arrest.broadcast_at is None:
            await self._bulletins.broadcast(self._broadcast(arrest, photo), _event(arrest))
            await asyncio.to_thread(self._store.mark_broadcast, arrest.id)
        links = await self._links(arrest)
        await self._case_officers(arrest, links)
        await self._bodies_ruled_out(links)
        followers = await self._tell_followers(arrest, links)
        told = await self._tell_officers(arrest, links, photo)
        screening = {
            "matches": [link.as_json() for link in links],
            "wanted_elsewhere": any(link.strong and link.kind != "udr" for link in links),
            "face": "compared" if arrest.has_face else ("no face found" if arrest.has_photo else "no photo"),
            "told": {"officers": told, "followers": followers},
        }
        await asyncio.to_thread(self._store.mark_screened, arrest.id, screening)
        return screening

    # -- finding the person in other cases -----------------------------------------------------------

    async def _links(self, arrest: Arrest) -> list[Link]:
        found: list[Link] = []
        if arrest.cro_person_id is not None:
            person = await asyncio.to_thread(self._persons.get, arrest.cro_person_id)
            if person is not None:
                found.append(Link("person", person.id, person.name, "record", 1.0, person=person))
        if arrest.cnic is not None:
            found.extend(await self._by_cnic(arrest, arrest.cnic))
        found.extend(await self._by_name(arrest))
        vector = faceprint(await asyncio.to_thread(self._store.faceprint, arrest.id))
        if vector is not None:
            found.extend(await self._by_face(arrest, vector))
        best: dict[tuple[str, int], Link] = {}
        for link in found:
            key = (link.kind, link.id)
            held = best.get(key)
            if held is None or (link.strong, HOW_RANK.get(link.how, 0), link.score) > (
                held.strong,
                HOW_RANK.get(held.how, 0),
                held.score,
            ):
                best[key] = link
        return sorted(best.values(), key=lambda k: (not k.strong, -k.score, k.kind, k.id))

    async def _by_cnic(self, arrest: Arrest, cnic: str) -> list[Link]:
        found = []
        person = await asyncio.to_thread(self._persons.by_cnic, cnic)
        if person is not None:
            found.append(Link("person", person.id, person.name, "cnic", 1.0, person=person))
            if arrest.cro_person_id is None:
                await asyncio.to_thread(self._store.link_person, arrest.id, person.id)
        for earlier in await asyncio.to_thread(self._store.by_cnic, cnic, arrest.id):
            found.append(arrest_link(earlier, "cnic", 1.0))
        for case in await asyncio.to_thread(self._missing.missing_by_cnic, cnic):
            found.append(missing_link(case, "cnic", 1.0))
        return found

    async def _by_name(self, arrest: Arrest) -> list[Link]:
        minimum = self._settings.arrest_name_min_score
        query = Query(name=arrest.person_name, father=arrest.father_name)
        hits = await asyncio.to_thread(self._search.search, query, 10)
        persons = await asyncio.to_thread(self._persons.by_ids, [h.person_id for h in hits])
        found = []
        for hit in hits:
            person = persons.get(hit.person_id)
            if person is None or hit.score < minimum:
                continue
            confirmed = arrest.father_name is not None and "father" in hit.matched
            found.append(
                Link("person", person.id, person.name, "name", hit.score, strong=confirmed, person=person)
            )
        for earlier, value in await asyncio.to_thread(
            self._store.by_name, arrest.person_name, arrest.id, minimum
        ):
            found.append(arrest_link(earlier, "name", value, strong=same_father(arrest, earlier)))
        return found

    async def _by_face(self, arrest: Arrest, vector: Any) -> list[Link]:
        found: list[Link] = []
        threshold = self._faces.threshold
        try:
            profiles = await self._faces.match_embedding(vector)
        except Exception as exc:  # no watchlist models: the stored faceprints still count
            log.warning("arrest %s not matched against the watchlist: %s", arrest.id, exc)
            profiles = []
        for match in profiles:
            linked = await asyncio.to_thread(self._persons.by_watchlist_profile, match.profile_id)
            for person in linked:
                found.append(Link("person", person.id, person.name, "face", match.similarity, person=person))
            if not linked and match.category != "missing":
                detail = f"watchlist category {match.category}"
                found.append(Link("profile", match.profile_id, match.name, "face", match.similarity, detail))
        stored = await asyncio.to_thread(self._store.faceprints, arrest.id)
        earlier = best_matches(vector, stored, threshold)
        for other in (await asyncio.to_thread(self._store.by_ids, list(earlier))).values():
            found.append(arrest_link(other, "face", earlier[other.id]))
        for kind in ("missing", "udr"):
            sims = best_matches(vector, await asyncio.to_thread(self._missing.faceprints, kind), threshold)
            cases = await asyncio.to_thread(self._missing.cases_by_ids, kind, list(sims))
            for case in cases.values():
                link = (
                    missing_link(case, "face", sims[case.id])
                    if kind == "missing"
                    else udr_link(case, sims[case.id])
                )
                found.append(link)
        return found

    async def _case_officers(self, arrest: Arrest, links: list[Link]) -> None:
        """A CRO person's open cases (not this one): their investigating officers, the officers who
        reported those crimes and who made earlier arrests in them. Closed cases tell no one."""
        this = (arrest.fir_number, arrest.police_station.lower())
        for link in links:
            if link.person is None:
                continue
            record = await asyncio.to_thread(self._persons.record, link.person.id)
            cases = [
                c.fields
                for c in record.cases
                if c.fields.status in OPEN_STATUSES
                and (c.fields.fir_number, c.fields.police_station.lower()) != this
            ]
            open_cases = [(c.fir_number, c.police_station) for c in cases]
            if open_cases:
                link.detail = "; ".join(f"FIR {fir}, {station}" for fir, station in open_cases)[:500]
            elif link.person.category == "wanted":
                link.detail = "category: wanted"
            link.officers |= await self._investigators(c.investigating_officer for c in cases)
            reporters = await asyncio.to_thread(self._crimes.reporting_officers, open_cases)
            for officers in reporters.values():
                link.officers |= officers
            for earlier in await asyncio.to_thread(self._store.by_cases, open_cases, arrest.id):
                link.officers.add(earlier.officer_id)

    async def _investigators(self, government_ids: Iterable[str | None]) -> set[int]:
        """The accounts of the cases' investigating officers (an ID whose account is gone is skipped)."""
        found = set()
        for government_id in {g for g in government_ids if g}:
            user = await asyncio.to_thread(self._notifier.users.by_government_id, government_id)
            if user is not None:
                found.add(user.id)
        return found

    async def _bodies_ruled_out(self, links: list[Link]) -> None:
        """A missing person arrested alive is none of the unidentified bodies ranked as maybe them: say
        so on the link, and tell the staff of those bodies too."""
        for link in links:
            if link.kind != "missing" or not link.strong:
                continue
            ranked = await asyncio.to_thread(self._missing.candidates, "missing", link.id, 10)
            if not ranked:
                continue
            bodies = ", ".join(f"UDR {c.other.udr_number} (case {c.other.id})" for c in ranked)
            link.detail = f"{link.detail}; arrested alive, so not the bodies ranked for them: {bodies}"[:500]
            link.officers |= {c.other.registered_by_id for c in ranked}

    # -- telling -------------------------------------------------------------------------------------

    async def _tell_followers(self, arrest: Arrest, links: list[Link]) -> int:
        told = 0
        for link in links:
            if link.person is None or not link.strong:
                continue
            told += await self._notifier.notify(
                link.person,
                "arrested",
                _event(arrest),
                at=arrest.arrested_at,
                summary=f"arrested: {arrest.case_label}"[:500],
                place=(arrest.place or arrest.police_station)[:500],
                district=arrest.district or "",
                latitude=arrest.latitude,
                longitude=arrest.longitude,
            )
        return told

    async def _tell_officers(self, arrest: Arrest, links: list[Link], photo: bytes | None) -> list[int]:
        by_officer: dict[int, list[Link]] = {}
        for link in links:
            if not link.strong:
                continue
            for officer_id in link.officers - {arrest.officer_id}:
                by_officer.setdefault(officer_id, []).append(link)
        small = thumbnail(photo, self._settings.bulletin_photo_max_side) if photo else None
        told: list[int] = []
        for officer_id, theirs in sorted(by_officer.items()):
            kind = (
                "missing_match" if all(k.kind in ("missing", "udr") for k in theirs) else "wanted_elsewhere"
            )
            cases = "; ".join(f"{k.kind} {k.id}" + (f" ({k.detail})" if k.detail else "") for k in theirs)
            bulletin = OfficerBulletin(
                kind=kind,
                title=f"{arrest.person_name} arrested ({arrest.case_label}): linked to your case"[:200],
                summary=f"Arrested {arrest.arrested_at:%Y-%m-%d %H:%M} UTC by {arrest.police_station}. "
                f"Linked to: {cases}"[:1000],
                at=arrest.arrested_at,
                subject=arrest_link(arrest, "record", 1.0).contract(),
                matches=[k.contract() for k in theirs][:50],
                fir_number=arrest.fir_number,
                police_station=arrest.police_station,
                sections=list(arrest.sections),
                district=arrest.district or "",
                place=arrest.place or "",
                latitude=arrest.latitude,
                longitude=arrest.longitude,
                photo_jpeg=small,
            )
            if await self._bulletins.tell_all({officer_id}, bulletin, _event(arrest)):
                told.append(officer_id)
        return told

    def _broadcast(self, arrest: Arrest, photo: bytes | None) -> OfficerBulletin:
        father = f" s/o {arrest.father_name}" if arrest.father_name else ""
        where = arrest.place or arrest.police_station
        sections = ", ".join(arrest.sections)
        return OfficerBulletin(
            kind="arrest",
            title=f"Arrest: {arrest.person_name} ({arrest.case_label})"[:200],
            summary=f"{arrest.person_name}{father} arrested at {where} on "
            f"{arrest.arrested_at:%Y-%m-%d %H:%M} UTC under {sections}"[:1000],
            at=arrest.arrested_at,
            subject=arrest_link(arrest, "record", 1.0).contract(),
            fir_number=arrest.fir_number,
            police_station=arrest.police_station,
            sections=list(arrest.sections),
            district=arrest.district or "",
            place=where or "",
            latitude=arrest.latitude,
            longitude=arrest.longitude,
            photo_jpeg=thumbnail(photo, self._settings.bulletin_photo_max_side) if photo else None,
        )


def _event(arrest: Arrest) -> str:
    """Names the arrest for deduplication (ids alone repeat across databases sharing one NATS)."""
    return f"arrest:{arrest.id}:{arrest.recorded_at.isoformat()}"
