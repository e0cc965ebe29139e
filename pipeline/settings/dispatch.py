"""Settings of the alert lifecycle and patrol dispatch (``dispatch:`` in the YAML file).

Kept apart from ``settings.py`` (which includes it as ``Settings.dispatch``) so that the noun stays
small: escalation times per priority, the patrol units' positions, the officer's acknowledgement
budget and the auto-dispatch policy.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from pipeline.settings.base import Strict

PRIORITIES = (1, 2, 3, 4, 5)  # 1 is the most urgent

DEFAULT_ESCALATE_AFTER_S: dict[int, float] = {1: 60.0, 2: 180.0, 3: 600.0, 4: 1800.0, 5: 3600.0}


class DispatchSettings(Strict):
    escalate_after_s: dict[int, float] = Field(
        default_factory=lambda: dict(DEFAULT_ESCALATE_AFTER_S),
        description="Seconds an alert may stay unacknowledged ('new') before it escalates to supervisors, "
        "per alert priority (1 most urgent .. 5); a priority left out never escalates.",
    )
    escalation_horizon_s: float = Field(
        86_400.0,
        ge=60,
        le=30 * 86_400,
        description="Only alerts opened within this many seconds are escalated or auto-dispatched, so a "
        "first start on an old database does not page supervisors about last month's alerts.",
    )
    # Priority 1 only by default: the issue asks policy to send units to the highest-priority categories
    # itself ("wanted" faces, vehicles hotlisted at priority 1), where a minute waiting for an operator
    # matters. Lower priorities (a missing person is 2) wait for a person to decide.
    auto_dispatch_max_priority: int = Field(
        1,
        ge=0,
        le=5,
        description="Alerts of this priority or more urgent (1 is the most urgent) are dispatched to the "
        "nearest available unit of their own district without waiting for an operator (default 1: only "
        "the most urgent categories, e.g. 'wanted'; one unit, the officer still acknowledges and "
        "operators may dismiss or reassign at once); 0 turns it off.",
    )
    auto_dispatch_window_s: float = Field(
        300.0,
        ge=5,
        le=86_400,
        description="How long after an alert opens auto-dispatch keeps trying when no unit is available.",
    )
    ack_timeout_s: float = Field(
        60.0,
        ge=0.5,
        le=3600,
        description="Seconds a dispatched unit has to acknowledge before the next nearest available unit "
        "is dispatched instead (and operators are told).",
    )
    max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Units dispatched to one alert, one after another, before it goes back to operators.",
    )
    search_radius_m: float = Field(
        15_000.0, ge=100, le=500_000, description="Farthest a suggested unit may be from the camera (metres)."
    )
    suggestions: int = Field(5, ge=1, le=50, description="Units suggested for an alert, nearest first.")
    speed_kmh: float = Field(
        30.0, gt=1, le=200, description="Average patrol speed used for the ETA of a suggested unit."
    )
    detour_factor: float = Field(
        1.4,
        ge=1,
        le=5,
        description="Road distance over straight-line distance, for the ETA (city grids are about 1.3-1.5).",
    )
    position_stale_s: float = Field(
        120.0,
        ge=5,
        le=86_400,
        description="A unit whose last position is older than this is not suggested (and is dropped from "
        "the position index): its GPS or app has gone quiet.",
    )
    max_clock_skew_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Positions stamped further than this in the future (a phone's wrong clock) are refused.",
    )
    redis_prefix: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9:_-]{1,64}$",
        description="Prefix of the Redis keys holding unit positions. null: <nats.subject_prefix>:patrol, so "
        "deployments sharing one Redis keep apart as they do on NATS.",
    )
    tick_s: float = Field(
        1.0,
        ge=0.05,
        le=60,
        description="How often each replica checks for alerts to escalate or auto-dispatch and for "
        "unacknowledged dispatches (every replica may run it; each alert is acted on once).",
    )
    notice_ack_wait_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="An officer's app confirms each notification it received; unconfirmed ones are sent "
        "again after this long, and at once on reconnection.",
    )
    max_photo_bytes: int = Field(
        300_000,
        ge=0,
        le=900_000,
        description="Largest evidence crop sent inside a notification (NATS payloads are limited to 1 MB); "
        "a larger one is left out and the officer sees the text only.",
    )

    @field_validator("escalate_after_s")
    @classmethod
    def _priorities_and_times(cls, value: dict[int, float]) -> dict[int, float]:
        for priority, seconds in value.items():
            if priority not in PRIORITIES:
                raise ValueError(f"escalate_after_s: priority {priority} is not one of 1..5")
            if not 1 <= seconds <= 7 * 86_400:
                raise ValueError(f"escalate_after_s[{priority}]: {seconds} s must be 1 .. 604800")
        return value

    @property
    def eta_speed_mps(self) -> float:
        return self.speed_kmh / 3.6 / self.detour_factor

    def eta_s(self, distance_m: float) -> float:
        """A simple ETA: straight-line distance stretched by the detour factor, at the average speed."""
        return distance_m / self.eta_speed_mps
