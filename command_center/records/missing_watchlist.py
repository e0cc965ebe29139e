"""A missing person on the camera watchlist: the one watchlist addition without a second approval.

A missing person's photos are enrolled at once, in the category ``missing`` (alerts ask for a welfare
check, not an arrest). Its legal basis is the missing report registered by records staff, so the entry
records that report (``Missing person case <id>``), the staff member who registered it as the
authorising officer (whoever adds a later photo), and an expiry (``missing_watchlist_days``). Every
addition and removal is written to the audit trail (``watchlist.enroll_missing``,
``watchlist.remove_missing``) by the actor who caused it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NATS

from command_center.records.faces import GuestFaceMatcher
from command_center.records.missing import MissingPerson
from command_center.security.audit import AuditTrail
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from watchlist.announce import announce_committed
from watchlist.enrol import Enroller, EnrolmentError, EnrolResult
from watchlist.governance import LegalBasis
from watchlist.store import ProfileNotFoundError, WatchlistStore
from watchlist.tables import MAX_ACTOR_LENGTH, MAX_REFERENCE_LENGTH

log = logging.getLogger(__name__)

MAX_ENROL_TRIES = 4


class MissingWatchlist:
    def __init__(
        self,
        faces: GuestFaceMatcher,
        watchlist: WatchlistStore,
        nc: NATS,
        settings: Settings,
        audit: AuditTrail,
    ) -> None:
        self._faces = faces
        self._watchlist = watchlist
        self._nc = nc
        self._settings = settings
        self._audit = audit

    async def enrol(
        self, case: MissingPerson, photos: list[tuple[str, bytes]], actor: str
    ) -> tuple[int | None, str]:
        """Enrol the face photos as a new active profile: (its id or None, a note for the case)."""
        basis = self._basis(case)
        result, note = await self._enrol_photos(case, photos, basis, actor)
        if result is None:
            return None, note
        await self._audit_enrolment(case, result, basis, actor)
        if result.change is not None:
            await self._announce(result.change)
        return result.profile_id, note

    def _basis(self, case: MissingPerson) -> LegalBasis:
        """The entry's legal basis: the registered report (by case id), authorised by whoever registered
        it (not whoever added a later photo), for ``missing_watchlist_days``."""
        days = self._settings.records.missing_watchlist_days
        report = f", report {case.report_number}" if case.report_number else ""
        reference = f"Missing person case {case.id}{report}"[:MAX_REFERENCE_LENGTH]
        authorised = case.registered.registered_by[:MAX_ACTOR_LENGTH]
        return LegalBasis(reference, authorised, datetime.now(UTC) + timedelta(days=days))

    async def _audit_enrolment(
        self, case: MissingPerson, result: EnrolResult, basis: LegalBasis, actor: str
    ) -> None:
        stored = basis.validated()  # as the watchlist keeps it
        details = {
            "name": result.name,
            "category": result.category,
            "missing_case_id": case.id,
            "photos": len(result.photo_ids),
            "replaces": case.watchlist_profile_id,
            "legal_reference": stored.legal_reference,
            "authorised_by": stored.authorised_by,
            "expires_at": stored.expires_at.isoformat(),
        }
        await asyncio.to_thread(
            self._audit.record,
            actor,
            "watchlist.enroll_missing",
            f"watchlist_profile:{result.profile_id}",
            reason=f"registered missing person report (case {case.id}); no second approval needed",
            details=details,
        )

    async def _enrol_photos(
        self, case: MissingPerson, photos: list[tuple[str, bytes]], basis: LegalBasis, actor: str
    ) -> tuple[EnrolResult | None, str]:
        expires = basis.expires_at
        for _ in range(MAX_ENROL_TRIES):
            if not photos:
                return None, "not on the camera watchlist: no photo with one clear face"
            chosen = photos

            def work(analyzer: FaceAnalyzer, chosen: list[tuple[str, bytes]] = chosen) -> EnrolResult:
                enroller = Enroller(self._settings, analyzer, self._watchlist)
                return enroller.enrol(case.name, "missing", chosen, basis, actor)

            try:
                result = await self._faces.with_analyzer(work)
            except EnrolmentError as exc:
                refused = [p for p in photos if p[0] == exc.photo]
                if not refused:
                    return None, f"not on the camera watchlist: {exc}"[:300]
                photos = [p for p in photos if p[0] != exc.photo]
                continue
            except Exception as exc:
                log.warning("missing person %s not enrolled: %s", case.id, exc)
                return None, f"not on the camera watchlist: {exc}"[:300]
            return result, f"on the camera watchlist (category missing) until {expires:%Y-%m-%d}"
        return None, "not on the camera watchlist: no photo could be enrolled"

    async def remove(self, profile_id: int, actor: str, reason: str) -> None:
        """Take the profile off the watchlist at once (the case is closed or the profile replaced)."""

        def work(analyzer: FaceAnalyzer) -> Any:
            return Enroller(self._settings, analyzer, self._watchlist).remove(profile_id, actor, reason)

        try:
            change = await self._faces.with_analyzer(work)
        except ProfileNotFoundError:
            return
        except Exception as exc:
            log.warning("watchlist profile %s of a missing person not removed: %s", profile_id, exc)
            return
        await asyncio.to_thread(
            self._audit.record,
            actor,
            "watchlist.remove_missing",
            f"watchlist_profile:{profile_id}",
            reason=reason,
        )
        await self._announce(change)

    async def _announce(self, change: Any) -> None:
        await announce_committed(self._nc, self._settings.nats.subjects, change)
