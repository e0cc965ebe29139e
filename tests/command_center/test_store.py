"""AlertStore.record_hit: episodes, idempotence and races, on SQLite and PostgreSQL; record_evidence: a face
hit's sharper images sent after it, on its own alert in place and audited, only while the alert shows that
hit's images, once, never an alert of its own."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, func, select, update

from command_center.alerts.store import AlertStore, HitOutcome
from command_center.alerts.tables import alert_evidence, alerts
from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from pipeline.contracts import Box, FaceHit, PlateHit
from pipeline.settings import EpisodePolicy
from tests.command_center.helpers import MAIN_STREAM, T0, camera, hit, jpeg, main_stream_images
from tests.services import TEST_SECURITY

RECEIVED = datetime(2025, 1, 1, 12, 0, 1, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> AlertStore:
    store = AlertStore(engine, merge_window_s=60)
    store.create_schema()
    return store


def test_first_hit_opens_an_alert_with_its_evidence(store: AlertStore) -> None:
    cam = camera()
    first = hit(cam, similarity=0.55, crop=jpeg((0, 0, 200)))
    alert, created, duplicate, quiet = store.record_hit(first, RECEIVED)
    assert not quiet
    assert created and not duplicate
    assert (alert.camera_id, alert.profile_id, alert.hit_count, alert.status) == (cam, 7, 1, "new")
    assert alert.first_seen == alert.last_seen == T0
    assert alert.first_hit_id == first.hit_id
    assert store.evidence(alert.id, "crop") == first.crop_jpeg
    assert store.evidence(alert.id, "scene") == first.scene_jpeg
    assert store.get_alert(alert.id) == alert


def test_hits_within_the_window_update_one_alert_keeping_the_best_evidence(store: AlertStore) -> None:
    cam = camera()
    best = jpeg((0, 255, 0))
    a = store.record_hit(hit(cam, similarity=0.5, at=T0, crop=jpeg((0, 0, 255))), RECEIVED)
    b = store.record_hit(hit(cam, similarity=0.8, at=T0 + timedelta(seconds=30), crop=best), RECEIVED)
    c = store.record_hit(
        hit(cam, similarity=0.6, at=T0 + timedelta(seconds=80), crop=jpeg((9, 9, 9))), RECEIVED
    )
    assert a.created and not b.created and not c.created
    assert a.alert.id == b.alert.id == c.alert.id
    assert c.alert.hit_count == 3
    assert c.alert.best_similarity == pytest.approx(0.8)
    assert c.alert.last_seen == T0 + timedelta(seconds=80)
    assert store.evidence(a.alert.id, "crop") == best
    assert store.count_hits(a.alert.id) == 3


def test_a_hit_beyond_the_window_opens_a_new_alert(store: AlertStore) -> None:
    cam = camera()
    first = store.record_hit(hit(cam, at=T0), RECEIVED)
    later = store.record_hit(hit(cam, at=T0 + timedelta(seconds=61)), RECEIVED)
    assert later.created and later.alert.id != first.alert.id


@pytest.mark.parametrize(
    ("camera_of_second", "profile_of_second"), [("other", 7), ("same", 8)], ids=["camera", "profile"]
)
def test_another_camera_or_profile_is_another_alert(
    store: AlertStore, camera_of_second: str, profile_of_second: int
) -> None:
    cam = camera()
    second_camera = cam if camera_of_second == "same" else camera()
    first = store.record_hit(hit(cam), RECEIVED)
    second = store.record_hit(hit(second_camera, profile_id=profile_of_second), RECEIVED)
    assert second.created and second.alert.id != first.alert.id


def test_a_repeated_hit_is_a_duplicate_and_changes_nothing(store: AlertStore) -> None:
    cam = camera()
    original = hit(cam, similarity=0.5)
    first = store.record_hit(original, RECEIVED)
    again = store.record_hit(hit(cam, similarity=0.9, event_id=original.event_id), RECEIVED)
    assert again == HitOutcome(first.alert, created=False, duplicate=True)
    assert store.get_alert(first.alert.id) == first.alert
    assert store.evidence(first.alert.id, "crop") == original.crop_jpeg


def _race(store: AlertStore, hits: list[FaceHit]) -> list[HitOutcome]:
    barrier = threading.Barrier(len(hits))
    outcomes: list[HitOutcome] = []
    errors: list[BaseException] = []

    def run(h: FaceHit) -> None:
        barrier.wait()
        try:
            outcomes.append(store.record_hit(h, RECEIVED))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(h,)) for h in hits]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return outcomes


def test_the_same_hit_from_two_consumers_at_once_is_stored_once(store: AlertStore) -> None:
    cam = camera()
    event_id = uuid.uuid4()
    outcomes = _race(store, [hit(cam, event_id=event_id), hit(cam, event_id=event_id)])
    assert sorted(o.duplicate for o in outcomes) == [False, True]
    assert outcomes[0].alert.id == outcomes[1].alert.id
    alerts = store.list_alerts(camera_id=cam)
    assert [a.hit_count for a in alerts] == [1]


def test_concurrent_hits_of_one_episode_make_one_alert(store: AlertStore) -> None:
    cam = camera()
    hits = [hit(cam, similarity=0.5 + i / 100, at=T0 + timedelta(seconds=i)) for i in range(4)]
    outcomes = _race(store, hits)
    assert sum(o.created for o in outcomes) == 1
    [alert] = store.list_alerts(camera_id=cam)
    assert alert.hit_count == 4
    assert alert.best_similarity == pytest.approx(0.53)


def test_list_alerts_newest_first_with_filters_and_paging(store: AlertStore) -> None:
    cam, other = camera(), camera()
    ids = [store.record_hit(hit(cam, profile_id=p), RECEIVED).alert.id for p in (1, 2, 3)]
    store.record_hit(hit(other), RECEIVED)
    assert [a.id for a in store.list_alerts(camera_id=cam)] == ids[::-1]
    assert [a.id for a in store.list_alerts(limit=2, camera_id=cam)] == ids[:0:-1]
    assert [a.id for a in store.list_alerts(before_id=ids[1], camera_id=cam)] == ids[:1]
    assert store.list_alerts(camera_id=cam, status="closed") == []
    assert len(store.list_alerts(camera_id=cam, status="new")) == 3


def test_absent_things_are_none(store: AlertStore) -> None:
    assert store.get_alert(123456) is None
    assert store.evidence(123456, "crop") is None


# -- episode policies per category, cooldown after closing, plate hits ---------------------------------


def plate_hit(camera_id: str, *, entry_id: int = 7, at: datetime = T0, score: float = 1.0) -> PlateHit:
    return PlateHit(
        camera_id=camera_id,
        read_id=uuid.uuid4(),
        worker_id="worker-test",
        track_id=3,
        read_text="LEA1234",
        read_display="LEA-1234",
        read_confidence=0.93,
        entry_id=entry_id,
        plate="LEA1234",
        plate_display="LEA-1234",
        status="stolen",
        priority=1,
        reason="stolen from Gulberg, FIR 112/26",
        case_reference="FIR 112/26",
        match_kind="exact" if score == 1.0 else "confusion",
        match_score=score,
        captured_at=at,
        box=Box(x=1, y=2, w=100, h=30),
        detector_score=0.8,
        crop_jpeg=jpeg((0, 200, 0)),
        scene_jpeg=jpeg((40, 40, 40), 96),
    )


@pytest.fixture
def policy_store(engine: Engine) -> AlertStore:
    policies = {
        "wanted": EpisodePolicy(window_s=300, cooldown_s=600, priority=1),
        "vehicle:stolen": EpisodePolicy(window_s=30, cooldown_s=0, priority=2),
    }
    store = AlertStore(engine, merge_window_s=60, cooldown_s=120, policies=policies)
    store.create_schema()
    return store


@pytest.mark.parametrize(
    ("category", "gap_s", "joins"),
    [
        ("wanted", 299, True),  # wanted: a 300 s window
        ("wanted", 301, False),
        ("other", 59, True),  # no policy: the default 60 s window
        ("other", 61, False),
    ],
)
def test_each_category_has_its_own_episode_window(
    policy_store: AlertStore, category: str, gap_s: float, joins: bool
) -> None:
    cam = camera()
    first = policy_store.record_hit(hit(cam, at=T0).model_copy(update={"category": category}), RECEIVED)
    later_hit = hit(cam, at=T0 + timedelta(seconds=gap_s)).model_copy(update={"category": category})
    later = policy_store.record_hit(later_hit, RECEIVED)
    assert (later.alert.id == first.alert.id) is joins
    assert first.alert.priority == (1 if category == "wanted" else 3)


def close(engine: Engine, alert_id: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(status=status))


@pytest.mark.parametrize("status", ["dismissed", "resolved"])
def test_after_an_alert_is_closed_sightings_within_the_cooldown_join_it_quietly(
    engine: Engine, policy_store: AlertStore, status: str
) -> None:
    cam = camera()
    first = policy_store.record_hit(hit(cam, at=T0).model_copy(update={"category": "wanted"}), RECEIVED)
    close(engine, first.alert.id, status)
    soon = policy_store.record_hit(
        hit(cam, at=T0 + timedelta(seconds=500)).model_copy(update={"category": "wanted"}), RECEIVED
    )
    assert soon.alert.id == first.alert.id and soon.quiet and not soon.created
    assert soon.alert.status == status and soon.alert.hit_count == 2
    # Counted from the last sighting: 500 + 601 s is past the cooldown, so a new alert opens.
    later = policy_store.record_hit(
        hit(cam, at=T0 + timedelta(seconds=1101)).model_copy(update={"category": "wanted"}), RECEIVED
    )
    assert later.created and not later.quiet and later.alert.status == "new"


def test_plate_hits_make_plate_alerts_apart_from_face_alerts_of_the_same_id(policy_store: AlertStore) -> None:
    cam = camera()
    face = policy_store.record_hit(hit(cam, profile_id=7), RECEIVED)
    plate = policy_store.record_hit(plate_hit(cam, entry_id=7), RECEIVED)
    assert plate.created and plate.alert.id != face.alert.id
    alert = plate.alert
    assert (alert.kind, alert.category, alert.priority, alert.profile_name) == (
        "plate",
        "vehicle:stolen",
        1,  # the hotlist entry's own priority wins over the category's
        "LEA-1234",
    )
    assert alert.details is not None and alert.details["read_display"] == "LEA-1234"
    again = policy_store.record_hit(plate_hit(cam, entry_id=7, at=T0 + timedelta(seconds=20)), RECEIVED)
    assert again.alert.id == alert.id and again.alert.hit_count == 2
    (first_hit, _) = policy_store.list_hits(alert.id)
    assert first_hit.track_id == 3 and first_hit.details is not None
    assert first_hit.details["match_kind"] == "exact"


# -- a face hit's sharper images, after the hit (record_evidence) ----------------------------------------


@pytest.fixture
def trail(engine: Engine) -> AuditTrail:
    return AuditTrail(engine, str(TEST_SECURITY["audit_key"]).encode())


@pytest.fixture
def audited(engine: Engine, trail: AuditTrail) -> AlertStore:
    store = AlertStore(engine, merge_window_s=60, audit=trail)
    store.create_schema()
    trail.create_schema()
    return store


def evidence_entries(trail: AuditTrail, alert_id: int) -> list[dict[str, object]]:
    return [e.details for e in trail.query(action="alert.evidence", target=f"alert:{alert_id}")]


def test_the_images_go_on_the_hits_alert_in_place_and_are_audited(
    audited: AlertStore, trail: AuditTrail
) -> None:
    first = hit(camera(), crop=jpeg((0, 0, 255)))
    stored = audited.record_hit(first, RECEIVED).alert
    main_crop = jpeg((0, 255, 0), 128)
    outcome = audited.record_evidence(main_stream_images(first, main_crop))
    assert (outcome.result, outcome.alert_id) == ("applied", stored.id)
    after = audited.get_alert(stored.id)
    assert after is not None and after.updated_at > stored.updated_at
    assert (after.hit_count, after.best_similarity, after.status) == (1, stored.best_similarity, "new")
    assert after.details is not None and after.details["evidence"] == MAIN_STREAM.model_dump(mode="json")
    assert audited.evidence(stored.id, "crop") == main_crop
    assert audited.list_hits(stored.id)[0].details["evidence"]["stream"] == "main"  # type: ignore[index]
    newest = evidence_entries(trail, stored.id)[0]
    assert newest["hit_id"] == str(first.hit_id) and newest["stream"] == "main"
    # Sent again (a redelivery, a restarted worker): nothing changes, nothing more is audited.
    assert audited.record_evidence(main_stream_images(first, main_crop)).result == "duplicate"
    assert len(evidence_entries(trail, stored.id)) == 2  # the hit's images, then the sharper ones
    assert audited.get_alert(stored.id) == after


def test_a_better_sightings_images_are_not_overwritten_by_an_earlier_ones(audited: AlertStore) -> None:
    cam = camera()
    weak = hit(cam, similarity=0.5, crop=jpeg((0, 0, 255)))
    better_crop = jpeg((255, 0, 0))
    alert_id = audited.record_hit(weak, RECEIVED).alert.id
    audited.record_hit(hit(cam, similarity=0.8, at=T0 + timedelta(seconds=1), crop=better_crop), RECEIVED)
    assert audited.record_evidence(main_stream_images(weak, jpeg((0, 255, 0)))).result == "superseded"
    assert audited.evidence(alert_id, "crop") == better_crop


def test_images_for_an_unknown_hit_or_purged_images_change_nothing(
    audited: AlertStore, engine: Engine
) -> None:
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(alerts)).scalar_one()
    unknown = main_stream_images(hit(camera(), event_id=uuid.uuid4()), jpeg((1, 1, 1)))
    assert audited.record_evidence(unknown).result == "unknown"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == before  # none opened
    first = hit(camera())
    alert_id = audited.record_hit(first, RECEIVED).alert.id
    with engine.begin() as conn:  # what the retention does to a closed alert's images
        conn.execute(delete(alert_evidence).where(alert_evidence.c.alert_id == alert_id))
    assert audited.record_evidence(main_stream_images(first, jpeg((2, 2, 2)))).result == "purged"
    assert audited.evidence(alert_id, "crop") is None
