"""The command centre's /metrics, /healthz and /readyz, with hits arriving through real JetStream."""

from __future__ import annotations

from nats.aio.client import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.command_center.helpers import SCRAPER, Served, camera, eventually, hit
from tests.names import subjects


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


async def test_metrics_count_alerts_by_kind_and_outcome(served: Served, nc: Client) -> None:
    cam = camera()
    first, again = hit(cam, profile_id=5), hit(cam, profile_id=5)
    js = nc.jetstream()
    for h in (first, again, first):  # the last one is a redelivery under another message id
        await js.publish(
            subjects.hits("face", cam), h.to_bytes(), headers={"Nats-Msg-Id": f"{h.event_id}-{id(h)}"}
        )
    await js.publish(
        subjects.hits("face", cam), first.to_bytes(), headers={"Nats-Msg-Id": f"x-{first.event_id}"}
    )

    async def counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        response = await served.anon.get("/metrics", headers=SCRAPER)  # type: ignore[union-attr]
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        m = samples(response.text)
        duplicates = m.get(("safecity_cc_hits_total", (("kind", "face"), ("outcome", "duplicate"))), 0)
        return m if duplicates >= 1 else None

    m = await eventually(counted, 10)
    assert m[("safecity_alerts_created_total", (("kind", "face"),))] == 1
    assert m[("safecity_cc_hits_total", (("kind", "face"), ("outcome", "updated")))] == 1
    assert m[("safecity_cc_stage_seconds_count", (("stage", "store"),))] >= 3
    assert m[("safecity_cc_hits_consumed_total", (("outcome", "created"),))] == 1
    assert m[("safecity_nats_connected", ())] == 1
    assert ("safecity_cc_websocket_clients", ()) in m


async def test_probes_and_consumer_lag(served: Served) -> None:
    anon = served.anon
    assert anon is not None
    live = await anon.get("/healthz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await anon.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok" and body["checks"] == {
        "database": "ok",
        "nats": "ok",
        "hit_consumer": "ok",
        "redis": "ok",
    }

    async def lag_polled() -> bool:
        m = samples((await anon.get("/metrics", headers=SCRAPER)).text)
        return ("safecity_jetstream_consumer_pending", (("consumer", "hits"),)) in m

    assert await eventually(lag_polled, 5)
    m = samples((await anon.get("/metrics", headers=SCRAPER)).text)
    assert m[("safecity_dependency_up", (("dependency", "redis"),))] == 1
    assert "/metrics" not in served.app.openapi()["paths"]  # probes stay out of the API document
