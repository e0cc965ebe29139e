"""The calibration a deployment applies to its watch lists: the embedder's measured score distributions
(from the model registry), the vote's shape and the deployment's floors, in one object."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.calibration import Calibration, ScoreModel, VoteShape, calibrate
from pipeline.models.registry import (
    CalibrationVariant,
    ModelError,
    Registry,
    load_registry,
    locate_registry,
)
from pipeline.settings import Settings


@dataclass(frozen=True, slots=True)
class Calibrator:
    model: ScoreModel
    shape: VoteShape
    min_genuine_pass: float
    floor: float  # recognition.threshold: no list matches below it
    default_target: float
    stranger_tracks_per_hour: float
    source: str  # where the score figures come from, shown beside a list's threshold

    def calibrate(self, gallery: int, target_fpir: float, raised_to: float | None = None) -> Calibration:
        floor = max(self.floor, raised_to or 0.0)
        return calibrate(self.model, self.shape, gallery, target_fpir, self.min_genuine_pass, floor)

    @classmethod
    def of(cls, settings: Settings, registry: Registry | None = None) -> Calibrator:
        """From the settings and the registry entry of the configured embedder; ModelError if that
        entry carries no measured calibration."""
        registry = registry or load_registry(locate_registry(settings.models_registry))
        rec = settings.recognition
        entry = registry.get(rec.embedder_model)
        variant: CalibrationVariant = "flip_tta" if rec.flip_tta else "plain"
        figures = entry.calibration.get(variant)
        if figures is None:
            raise ModelError(
                f"model {entry.name!r} has no {variant} calibration in the registry: its score "
                "distributions must be measured before watch lists can be calibrated"
            )
        lists, vote = settings.watchlist.lists, settings.vote
        return cls(
            model=ScoreModel(
                figures.impostor_mean, figures.impostor_sd, figures.genuine_mean, figures.genuine_sd
            ),
            shape=VoteShape(vote.max_attempts, vote.min_frames, vote.strong_margin),
            min_genuine_pass=lists.min_genuine_pass,
            floor=rec.threshold,
            default_target=lists.target_fpir,
            stranger_tracks_per_hour=lists.stranger_tracks_per_hour,
            source=f"{entry.name} ({variant}): {figures.measured}",
        )
