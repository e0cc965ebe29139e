"""Plate cameras: plates detected where something moved, tracked, read and voted into one PlateRead per
pass (``workers.plate_analysis.PlateAnalyser``); the command centre matches the reads against the hotlist.
The ANPR models load only on a worker that has a plate camera, with the camera's own plate regions."""

from __future__ import annotations

from workers.kinds import StageContext
from workers.plate_analysis import PlateAnalyser


def stage(context: StageContext) -> PlateAnalyser:
    from pipeline.plates.reader import PlateReader

    camera, settings = context.camera, context.settings
    reader = PlateReader(
        settings.plates.for_camera(camera.plate_countries), settings.models_dir, engines=settings.models
    )
    reader.load()
    return PlateAnalyser(
        camera.id, context.worker_id, settings, reader, context.counters, context.submit, formats=reader.rules
    )
