"""Where a face alert's time went in the capacity bench (bench/camera_capacity.py): glass-to-alert per
decided track from the command centre's own records, its parts, and what the workers' logs say about
evidence updates and decisions."""

from __future__ import annotations

import re
import statistics
import sys
import urllib.error
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.procs import get_json

IMPLAUSIBLE_MS = 3_600_000


def glass_to_alert(
    base: str,
    token: str,
    cameras: set[str],
    alerts: list[tuple[float, dict[str, Any]]],
    published: dict[str, tuple[float, float]],
) -> tuple[list[float], dict[str, list[float]]]:
    """Camera send → WebSocket, per decided track: from the send stamp of the frame of a track's first hit
    to the first alert event (created, or updated when the track joined an open episode) that arrived after
    the command centre stored that hit. Later hits of the same track (better shots) are not counted.

    Also where that time went (``parts``, ms per track): ``sent_to_received`` (the best shot's frame
    from camera_sim to the worker), ``vote_wait`` (from it to the frame that decided the track),
    ``decided_to_emitted`` (that frame's analysis, to the hit made), ``emitted_to_nats`` (until the hit
    was on NATS: ``published``, hit id -> (on NATS, emitted), as the bench saw them),
    ``nats_to_stored`` (the command centre consuming and storing it) and ``stored_to_console``."""
    events: dict[int, list[float]] = {}
    for received_at, event in alerts:
        if event.get("kind") in ("created", "updated") and event.get("camera_id") in cameras:
            events.setdefault(int(event["alert_id"]), []).append(received_at)
    latencies: list[float] = []
    parts: dict[str, list[float]] = {}
    for alert_id, arrivals in events.items():
        try:
            hits = get_json(f"{base}/alerts/{alert_id}/hits?limit=1000", token)
        except urllib.error.HTTPError as exc:
            print(f"alert {alert_id}: {exc}", file=sys.stderr)
            continue
        previous: object = None
        for hit in hits:  # oldest first; a track's later, better shots come right after its first hit
            track, first_of_track = hit.get("track_id"), hit.get("track_id") != previous or previous is None
            previous = track
            if not first_of_track or not hit.get("frame_sent_at"):
                continue
            stored = moment(hit["received_at"])
            shown = [t for t in arrivals if t >= stored]
            if shown:
                sent = moment(hit["frame_sent_at"])
                latency_ms = (min(shown) - sent) * 1e3
                if latency_ms > IMPLAUSIBLE_MS:  # a stamp that is not this run's (seen once in ~10 runs)
                    print(
                        f"ignored: frame sent {hit['frame_sent_at']}, shown {latency_ms:.0f} ms on",
                        file=sys.stderr,
                    )
                    continue
                latencies.append(latency_ms)
                on_nats = published.get(hit["hit_id"])
                for name, ms in _parts(hit, sent, on_nats, stored, min(shown)).items():
                    parts.setdefault(name, []).append(ms)
    return latencies, parts


def moment(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _parts(
    hit: dict[str, Any], sent: float, on_nats: tuple[float, float] | None, stored: float, shown: float
) -> dict[str, float]:
    """Where a track's glass-to-alert time went, from its first hit's stamps (see ``glass_to_alert``)."""
    received = moment(hit["captured_at"])
    decision = (hit.get("details") or {}).get("decision") or {}
    decided = moment(decision["last_seen_at"]) if decision.get("last_seen_at") else received
    parts = {
        "sent_to_received": (received - sent) * 1e3,
        "vote_wait": (decided - received) * 1e3,
        "stored_to_console": (shown - stored) * 1e3,
    }
    if on_nats is not None:
        arrived, emitted = on_nats
        parts |= {
            "decided_to_emitted": (emitted - decided) * 1e3,
            "emitted_to_nats": (arrived - emitted) * 1e3,
            "nats_to_stored": (stored - arrived) * 1e3,
        }
    return parts


_EVIDENCE_AFTER = re.compile(r'"evidence_update_ms": ([0-9.]+)|evidence_update_ms=([0-9.]+)')


_DECIDED = re.compile(r"is profile \d+ \((consensus|strong|template), (\d+)/(\d+) frames")


def evidence_waits(logs: list[Path]) -> list[float]:
    """How long after each face hit of a sub-stream camera its main-stream images were seen to
    (workers.evidence_upgrade logs it), over the whole run, in ms."""
    texts = [path.read_text(errors="replace") for path in logs if path.exists()]
    return [float(m[1] or m[2]) for text in texts for m in _EVIDENCE_AFTER.finditer(text)]


def decisions(logs: list[Path]) -> dict[str, Any]:
    """How the run's tracks were decided (the worker logs each): tracks by rule, and the median number of
    faces embedded when decided (1: on the first face, by the strong rule)."""
    found = [m for path in logs if path.exists() for m in _DECIDED.finditer(path.read_text(errors="replace"))]
    rules: dict[str, int] = {}
    for m in found:
        rules[m[1]] = rules.get(m[1], 0) + 1
    embedded = [int(m[3]) for m in found]
    return {"by_rule": rules, "faces_embedded_p50": statistics.median(embedded) if embedded else None}
