"""Thresholds that keep a watch list's false alerts at its target, from the model's score distributions.

NIST's 1:N evaluation (FRVT, NISTIR 8271) sets an identification threshold per algorithm *and per
gallery size*: the chance that a stranger matches somebody grows with the number of people he is
compared with. Here the stranger is a camera *track* (one person passing), and the figure held to the
list's target is the false-positive identification rate per stranger track (FPIR).

The bound. Let ``q(s)`` be the chance that one stranger face scores at least ``s`` against one enrolled
embedding (the impostor tail, a normal fitted to the model's impostor scores measured in camera
conditions). A track is embedded at most ``K`` times (``vote.max_attempts``) and is decided for a
profile either by consensus — ``m`` frames (``vote.min_frames``) voting for it at or above ``t`` — or by
one frame at or above the strong threshold ``t_s``. For a gallery of ``N`` embeddings:

* consensus: for each embedding, Markov's inequality bounds the chance that ``m`` of ``K`` frames pass
  ``t`` by ``K q(t) / m``, and the union over the gallery gives ``N K q(t) / m``;
* strong: the union over frames and embeddings gives ``N K q(t_s)``;
* template: the track's quality-weighted mean embedding is matched after each face, at most ``K`` looks
  (it has a say from its second face, ``vote.template_min_faces``, or later: never more looks than
  faces); it is a unit vector compared with unit vectors, with the spread of a single face against a
  stranger (measured: 0.091 against 0.096 a face on the Hamilton clip), so the union gives ``N K q(t)``.
  The bound is thus as loose as if any one look at ``t`` decided; the rules ask more of a track (two
  faces averaged, three frames, or one frame at ``t_s``), so the true rate is lower still.

``FPIR <= N K (q(t) / m + q(t) + q(t_s))``, whatever the correlation between the frames of a track
(frames of one face are nearly identical, so the true figure is lower). ``t_s = t + strong_margin``,
and ``t`` is the smallest threshold whose bound meets the target. Every quantity is per list: a list
of 120,000 profiles gets its own threshold, a six-person list its own.

A list is refused for live use when that threshold would pass few genuine faces (the genuine score
distribution, also measured in camera conditions, says how many): such a list cannot alert at its
target and must be searched by people instead, or given a looser target.

Pure arithmetic: no I/O, deterministic, tested with tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_THRESHOLD = 0.99


@dataclass(frozen=True, slots=True)
class ScoreModel:
    """Cosine similarity distributions of one embedder (with its test-time augmentation, if any)."""

    impostor_mean: float
    impostor_sd: float
    genuine_mean: float
    genuine_sd: float

    def __post_init__(self) -> None:
        if not (self.impostor_sd > 0 and self.genuine_sd > 0):
            raise ValueError("score spreads must be positive")
        if self.genuine_mean <= self.impostor_mean:
            raise ValueError("genuine scores must be higher than impostor scores on average")

    def impostor_tail(self, score: float) -> float:
        """P(one stranger face scores >= ``score`` against one enrolled embedding)."""
        return _upper_tail((score - self.impostor_mean) / self.impostor_sd)

    def genuine_pass(self, score: float) -> float:
        """P(a face of an enrolled person scores >= ``score`` against that person's embedding)."""
        return _upper_tail((score - self.genuine_mean) / self.genuine_sd)


@dataclass(frozen=True, slots=True)
class VoteShape:
    """The parts of the track vote that the bound needs."""

    max_attempts: int  # K: embeddings per track at most
    min_frames: int  # m: frames voting for a profile before a consensus decision
    strong_margin: float  # t_s - t

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.min_frames < 1 or self.strong_margin < 0:
            raise ValueError("max_attempts and min_frames must be >= 1, strong_margin >= 0")


@dataclass(frozen=True, slots=True)
class Calibration:
    """What a list of ``gallery`` embeddings needs to keep false alerts at ``target_fpir``."""

    gallery: int
    target_fpir: float
    threshold: float
    strong_threshold: float
    fpir_bound: float  # the bound at the chosen thresholds (<= target unless capped)
    genuine_pass: float  # share of genuine faces at or above the threshold
    feasible: bool
    reason: str  # why not, when not feasible

    def false_alerts_per_hour(self, stranger_tracks_per_hour: float) -> float:
        """Expected false alerts per camera-hour at this many stranger tracks (passers-by) an hour."""
        return self.fpir_bound * stranger_tracks_per_hour


def fpir_bound(model: ScoreModel, shape: VoteShape, gallery: int, threshold: float) -> float:
    """The bound on false identifications per stranger track at ``threshold`` (see the module)."""
    if gallery <= 0:
        return 0.0
    strong = min(1.0, threshold + shape.strong_margin)
    tail = model.impostor_tail(threshold)
    per_embedding = tail / shape.min_frames + tail + model.impostor_tail(strong)
    return min(1.0, gallery * shape.max_attempts * per_embedding)


def calibrate(
    model: ScoreModel,
    shape: VoteShape,
    gallery: int,
    target_fpir: float,
    min_genuine_pass: float,
    floor: float = 0.0,
) -> Calibration:
    """The smallest threshold (at least ``floor``) whose bound meets ``target_fpir`` for ``gallery``."""
    if not 0 < target_fpir < 1:
        raise ValueError(f"target_fpir must be between 0 and 1, got {target_fpir}")
    if gallery < 0:
        raise ValueError("gallery size cannot be negative")
    low, high = max(-1.0, floor), MAX_THRESHOLD
    if fpir_bound(model, shape, gallery, low) > target_fpir:
        if fpir_bound(model, shape, gallery, high) > target_fpir:
            low = high  # no threshold meets it: report the cap as infeasible below
        else:
            for _ in range(60):  # bisection to ~1e-18: the bound falls monotonically with t
                middle = (low + high) / 2
                if fpir_bound(model, shape, gallery, middle) > target_fpir:
                    low = middle
                else:
                    high = middle
            low = high
    threshold = round(math.ceil(low * 1000) / 1000, 3)  # shown to people: three decimals, rounded up
    bound = fpir_bound(model, shape, gallery, threshold)
    passing = model.genuine_pass(threshold)
    feasible, reason = True, ""
    if bound > target_fpir:
        feasible = False
        reason = (
            f"no threshold keeps false alerts at {target_fpir:g} per stranger for {gallery:,} "
            "embeddings with this model"
        )
    elif passing < min_genuine_pass:
        feasible = False
        reason = (
            f"at {gallery:,} embeddings the threshold for {target_fpir:g} false alerts per stranger is "
            f"{threshold:.3f}, which only {passing:.0%} of genuine faces reach (at least "
            f"{min_genuine_pass:.0%} needed): use the list for investigative search, split it, or set "
            "a looser target"
        )
    return Calibration(
        gallery=gallery,
        target_fpir=target_fpir,
        threshold=threshold,
        strong_threshold=round(min(1.0, threshold + shape.strong_margin), 3),
        fpir_bound=bound,
        genuine_pass=passing,
        feasible=feasible,
        reason=reason,
    )


def _upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal Z, accurate far into the tail (erfc, not 1 - cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))
