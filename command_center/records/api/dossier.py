"""``GET /persons/{id}/dossier?reason=``: one view of a CRO person for an investigation.

Identity, photos, cases and known vehicles (as ``GET /persons/{id}``), the alerts about the person (face
alerts of their watchlist profile, plate alerts of their known vehicles, check-in and fusion alerts), their
hotel check-ins, arrests, missing-person reports and followers, and one timeline of all of it, newest
first, with positions for a map. Like every person view it needs ``persons:read`` and a reason, and is
audited before it is returned. Each part is shown only to those who may read it elsewhere: alerts with
``alerts:read`` and, for district-scoped roles, only of their districts (as ``GET /alerts``); check-ins
with ``checkins:read``, arrests with ``arrests:read``, missing-person reports with ``missing:read``.
"""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter

from command_center.alerts.api.alerts import district_scope
from command_center.alerts.store import Alert
from command_center.alerts.views import AlertView
from command_center.api.deps import ServicesDep
from command_center.records.api.arrest_views import ArrestView
from command_center.records.api.dossier_views import (
    Dossier,
    DossierAlerts,
    FollowerView,
    HotelCheckinView,
    TimelineEvent,
    alert_event,
    arrest_event,
    case_event,
    checkin_event,
    checkin_view,
    missing_event,
)
from command_center.records.api.missing_views import MissingView
from command_center.records.api.person_views import PersonView
from command_center.records.api.persons import PersonId, Reader, _call, target
from command_center.records.arrests import Arrest, ArrestFilters
from command_center.records.missing_types import MissingPerson
from command_center.records.person_alerts import person_alerts
from command_center.records.types import PersonRecord
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from command_center.services import Services

router = APIRouter(prefix="/persons", tags=["persons"])

MAX_EACH = 200  # alerts, check-ins, arrests: the latest this many of each


@router.get("/{person_id}/dossier", response_model=Dossier)
async def get_dossier(
    person_id: PersonId, principal: Reader, auditor: AuditorDep, services: ServicesDep, reason: ReasonQuery
) -> Dossier:
    """Everything about one CRO person, and its timeline (newest first) for a map."""
    dossier: Dossier = await _call(gather, services, person_id, principal)
    shown = {kind: [a.id for a in found] for kind, found in dossier.alerts}
    details = {"alerts": shown, "arrests": [a.id for a in dossier.arrests], "events": len(dossier.timeline)}
    await auditor.record("persons.dossier_view", target(person_id), reason=reason, details=details)
    return dossier


def gather(services: Services, person_id: int, principal: Principal) -> Dossier:
    """The dossier as ``principal`` may see it (PersonNotFoundError for no such person)."""
    record = services.records.persons.record(person_id)
    alerts = _alerts(services, person_id, principal)
    checkins = _checkins(services, record) if principal.can(Permission.CHECKINS_READ) else []
    arrests = _arrests(services, person_id) if principal.can(Permission.ARRESTS_READ) else []
    missing = _missing(services, record) if principal.can(Permission.MISSING_READ) else []
    cameras = services.cameras
    timeline = [alert_event(a, cameras.get(a.camera_id)) for a in alerts]
    timeline += [checkin_event(c) for c in checkins]
    timeline += [arrest_event(a) for a in arrests]
    timeline += [case_event(c) for c in record.cases]
    timeline += [missing_event(m) for m in missing]
    by_kind: dict[str, list[AlertView]] = defaultdict(list)
    for alert in alerts:
        by_kind[alert.kind].append(AlertView.of(alert))
    return Dossier(
        person=PersonView.of_record(record),
        alerts=DossierAlerts(**{k: by_kind[k] for k in DossierAlerts.model_fields}),
        checkins=checkins,
        arrests=[ArrestView.of(a) for a in arrests],
        missing=[MissingView.of(m) for m in missing],
        followers=_followers(services, person_id),
        timeline=sorted(timeline, key=_newest_first),
    )


def _newest_first(event: TimelineEvent) -> tuple[float, bool, str]:
    return -event.at.timestamp(), event.kind != "fusion", event.link  # a fusion before what it fuses


def _alerts(services: Services, person_id: int, principal: Principal) -> list[Alert]:
    if not principal.can(Permission.ALERTS_READ):
        return []
    records = services.records
    scope = district_scope(principal)
    return person_alerts(
        services.engine, records.persons, services.alerts, person_id, MAX_EACH, districts=scope
    )


def _checkins(services: Services, record: PersonRecord) -> list[HotelCheckinView]:
    cnic = record.person.fields.cnic
    if cnic is None:
        return []
    found, _ = services.records.checkins.list(
        hotel_id=None, cnic=cnic, since=None, until=None, limit=MAX_EACH, offset=0
    )
    hotels = {c.hotel_id: services.apikeys.get_hotel(c.hotel_id) for c in found}
    return [checkin_view(c, hotels[c.hotel_id]) for c in found]


def _arrests(services: Services, person_id: int) -> list[Arrest]:
    found, _ = services.casework.arrests.search(ArrestFilters(person_id=person_id), MAX_EACH, 0)
    return [arrest for arrest, _score in found]


def _missing(services: Services, record: PersonRecord) -> list[MissingPerson]:
    store = services.casework.missing.store
    fields = record.person.fields
    found: list[MissingPerson] = store.missing_by_cnic(fields.cnic) if fields.cnic else []
    if fields.watchlist_profile_id is not None:
        found += store.by_watchlist_profile(fields.watchlist_profile_id)
    return list({m.id: m for m in found}.values())


def _followers(services: Services, person_id: int) -> list[FollowerView]:
    since = services.records.persons.followed_since(person_id)
    users = services.records.notifier.users
    shown = []
    for officer_id, at in sorted(since.items(), key=lambda item: item[1]):
        user = users.get(officer_id)
        name, government_id = (user.name, user.government_id) if user is not None else (None, None)
        shown.append(FollowerView(officer_id=officer_id, name=name, government_id=government_id, since=at))
    return shown
