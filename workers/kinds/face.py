"""Face cameras: faces detected at the camera's size, tracked, embedded and voted against the live watch
lists (``workers.analysis.CameraAnalyser``); one detector and embedder per process."""

from __future__ import annotations

from pipeline.face import FaceAnalyzer
from watchlist.policies import CameraScope
from workers.analysis import CameraAnalyser
from workers.kinds import StageContext


def stage(context: StageContext) -> CameraAnalyser:
    camera, settings = context.camera, context.settings
    analyzer = context.shared.get("face")
    if analyzer is None:
        analyzer = context.shared["face"] = FaceAnalyzer(settings, settings.models_dir)
    analyzer.load()
    return CameraAnalyser(
        camera.id,
        context.worker_id,
        settings,
        analyzer,
        context.matcher,
        context.counters,
        context.submit,
        scope=CameraScope(context.policies, camera.id, camera.district, camera.face_threshold),
        min_face_px=camera.min_face_px,
    )
