"""What a worker runs for each kind of analysis a camera asks for (``analytics: [face, plate]``), one
module per kind (``face.py``, ``plate.py``) found by the kind's name.

A kind's module defines ``stage(context) -> Stage``: the analyser of one camera's frames, which publishes
what it decides through ``context.submit``. Models that every camera of a kind can share are kept in
``context.shared`` under the kind's name, loaded by the first camera that needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.settings import CameraConfig, Settings
from watchlist.matcher import WatchlistMatcher
from watchlist.policies import ListPolicies
from workers.publisher import Outgoing
from workers.runner import Stage
from workers.stats import CameraCounters


@dataclass
class StageContext:
    """Everything a kind's stage may need of the worker, for one camera."""

    camera: CameraConfig
    worker_id: str
    settings: Settings
    counters: CameraCounters
    submit: Callable[[Outgoing], None]  # thread-safe: hand a hit or a read to the publisher
    matcher: WatchlistMatcher  # the live watch lists' embeddings
    policies: ListPolicies  # each live list's threshold, cameras and rules
    shared: dict[str, Any] = field(default_factory=dict)  # per process, by kind: loaded models


def stage_for(kind: str, context: StageContext) -> Stage:
    """The analyser of ``kind`` for the context's camera; ValueError for a kind no module analyses."""
    try:
        module = importlib.import_module(f"{__name__}.{kind}")
    except ModuleNotFoundError as e:
        raise ValueError(f"no worker analysis for the kind {kind!r} ({__name__}.{kind} is missing)") from e
    stage: Callable[[StageContext], Stage] = module.stage
    return stage(context)
