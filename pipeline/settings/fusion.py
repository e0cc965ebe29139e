"""Face + plate fusion (``fusion:`` in the YAML file), included as ``Settings.fusion``.

When a CRO person's face is seen (a face alert of their watchlist profile) and one of their known vehicles
is read (a plate alert of its hotlist entry) within ``window_s`` of each other, by cameras at most
``distance_m`` apart, the command centre raises one ``fusion`` alert, one priority step more urgent than
the more urgent of the two (``command_center.records.fusion``).
"""

from __future__ import annotations

from pydantic import Field

from pipeline.settings.base import Strict


class FusionSettings(Strict):
    enabled: bool = Field(True, description="Raise fusion alerts at all.")
    window_s: float = Field(
        600.0, gt=0, le=86_400, description="Most seconds between the face and the vehicle sightings."
    )
    distance_m: float = Field(
        2000.0, gt=0, le=100_000, description="Most metres between the two cameras (their positions)."
    )
