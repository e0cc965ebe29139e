"""Similarity-score statistics of a face model: genuine and impostor pairs, ROC points, and the figures a
match threshold is calibrated from (the impostor distribution's mean and spread). Pure numpy, no I/O.

Conventions: scores are cosine similarities; a pair is accepted when its score is above the threshold.
A "genuine" pair shows one person twice, an "impostor" pair two different people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# False-accept rates the ROC is read at: a watchlist of N profiles multiplies the per-pair rate by ~N.
FARS = (1e-3, 1e-4, 1e-5)


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    n: int
    mean: float
    sd: float

    def as_dict(self, prefix: str) -> dict[str, float | int]:
        return {f"{prefix}_pairs": self.n, f"{prefix}_mean": self.mean, f"{prefix}_sd": self.sd}


def summarise(scores: npt.ArrayLike) -> ScoreSummary:
    """Count, mean and sample standard deviation (n - 1); a single score has sd 0."""
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(values) == 0:
        raise ValueError("no scores to summarise")
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return ScoreSummary(len(values), float(values.mean()), sd)


def pair_scores(embeddings: npt.ArrayLike, labels: Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """Genuine and impostor scores of every unordered pair of distinct rows."""
    vectors = np.asarray(embeddings, dtype=np.float64)
    if len(vectors) != len(labels):
        raise ValueError(f"{len(vectors)} embeddings but {len(labels)} labels")
    upper = np.triu_indices(len(vectors), 1)
    same = _same(labels, labels)[upper]
    sims = (vectors @ vectors.T)[upper]
    return sims[same], sims[~same]


@dataclass(frozen=True, slots=True)
class CrossScores:
    """Scores of probes against a gallery; ``*_pairs`` holds each score's (probe row, gallery row)."""

    genuine: FloatArray
    impostor: FloatArray
    genuine_pairs: npt.NDArray[np.intp]
    impostor_pairs: npt.NDArray[np.intp]


def cross_scores(
    probes: npt.ArrayLike,
    probe_labels: Sequence[str],
    gallery: npt.ArrayLike,
    gallery_labels: Sequence[str],
    compared: npt.NDArray[np.bool_] | None = None,
) -> CrossScores:
    """Genuine and impostor scores of probes against a gallery.

    ``compared`` (probes x gallery) leaves out the pairs it marks False: a probe of unknown identity
    against a profile it might be, a photo against itself or its own degraded copy.
    """
    sims = np.asarray(probes, dtype=np.float64) @ np.asarray(gallery, dtype=np.float64).T
    mask = np.ones(sims.shape, dtype=bool) if compared is None else np.asarray(compared, dtype=bool)
    if mask.shape != sims.shape:
        raise ValueError(f"compared mask is {mask.shape}, scores are {sims.shape}")
    same = _same(probe_labels, gallery_labels)
    genuine, impostor = np.argwhere(mask & same), np.argwhere(mask & ~same)
    return CrossScores(
        sims[genuine[:, 0], genuine[:, 1]], sims[impostor[:, 0], impostor[:, 1]], genuine, impostor
    )


def empirical_tar_at_far(genuine: npt.ArrayLike, impostor: npt.ArrayLike, far: float) -> float | None:
    """Share of genuine scores accepted at the threshold that accepts at most ``far`` of the impostors.

    None when there are fewer than 1/far impostor scores: the rate cannot be read off the sample.
    """
    imp = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    if len(imp) < round(1 / far):
        return None
    allowed = int(np.floor(far * len(imp) + 1e-9))
    threshold = imp[allowed]  # the highest impostor score that must be refused
    return float(np.mean(np.asarray(genuine, dtype=np.float64) > threshold))


def fitted_threshold(impostor: ScoreSummary, far: float) -> float:
    """The score a Gaussian fitted to the impostors exceeds with probability ``far`` (an extrapolation
    into the tail: real impostor tails are often heavier than Gaussian)."""
    return impostor.mean + impostor.sd * NormalDist().inv_cdf(1.0 - far)


def fitted_tar_at_far(genuine: npt.ArrayLike, impostor: ScoreSummary, far: float) -> float:
    """Share of genuine scores above the fitted impostor threshold for ``far``."""
    return float(np.mean(np.asarray(genuine, dtype=np.float64) > fitted_threshold(impostor, far)))


def equal_error_rate(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> float:
    """The smallest, over thresholds, of the larger of the two error rates (false reject, false accept);
    0 when some threshold separates the two sets."""
    gen = np.sort(np.asarray(genuine, dtype=np.float64))
    imp = np.sort(np.asarray(impostor, dtype=np.float64))
    thresholds = np.concatenate([gen, imp, [np.inf]])
    false_reject = np.searchsorted(gen, thresholds, side="left") / len(gen)  # genuine below t
    false_accept = 1.0 - np.searchsorted(imp, thresholds, side="left") / len(imp)  # impostors at or above t
    return float(np.min(np.maximum(false_reject, false_accept)))


def d_prime(genuine: ScoreSummary, impostor: ScoreSummary) -> float:
    """Separation of the two distributions in pooled standard deviations."""
    pooled = np.sqrt((genuine.sd**2 + impostor.sd**2) / 2)
    return float((genuine.mean - impostor.mean) / pooled) if pooled > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class UpperBounds:
    mean: float
    sd: float


def upper_bounds(
    scores: npt.ArrayLike,
    probe_clusters: npt.ArrayLike,
    gallery_clusters: npt.ArrayLike | None = None,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> UpperBounds:
    """Upper ``confidence`` bounds of the scores' mean and standard deviation by a cluster bootstrap.

    Scores that share a probe person (a photo's subject, a face tracked over many frames) are not
    independent, nor are those that share a gallery person, so whole clusters are resampled with
    replacement, on both sides when ``gallery_clusters`` is given (a pair's weight is the product of its
    two clusters' multiplicities). With few clusters the bounds are wide, as they should be.
    """
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    probe_codes, n_probe = _codes(probe_clusters, len(values))
    gallery_codes, n_gallery = (
        _codes(gallery_clusters, len(values))
        if gallery_clusters is not None
        else (np.zeros_like(probe_codes), 1)
    )
    cell = probe_codes * n_gallery + gallery_codes
    shape = (n_probe, n_gallery)
    count = np.bincount(cell, minlength=n_probe * n_gallery).reshape(shape).astype(np.float64)
    total = np.bincount(cell, weights=values, minlength=n_probe * n_gallery).reshape(shape).astype(np.float64)
    squares = (
        np.bincount(cell, weights=values**2, minlength=n_probe * n_gallery).reshape(shape).astype(np.float64)
    )
    rng = np.random.default_rng(seed)
    wp = rng.multinomial(n_probe, np.full(n_probe, 1.0 / n_probe), size=resamples).astype(np.float64)
    wg = (
        rng.multinomial(n_gallery, np.full(n_gallery, 1.0 / n_gallery), size=resamples).astype(np.float64)
        if gallery_clusters is not None
        else np.ones((resamples, 1))
    )

    def weighted(table: FloatArray) -> FloatArray:
        return np.asarray(np.sum((wp @ table) * wg, axis=1), dtype=np.float64)

    n = weighted(count)
    mean = weighted(total) / np.maximum(n, 1)
    variance = (weighted(squares) - n * mean**2) / np.maximum(n - 1, 1)
    sd = np.sqrt(np.maximum(variance, 0.0))
    return UpperBounds(float(np.quantile(mean, confidence)), float(np.quantile(sd, confidence)))


def _codes(clusters: npt.ArrayLike, n: int) -> tuple[npt.NDArray[np.intp], int]:
    ids = np.asarray(clusters).reshape(-1)
    if len(ids) != n:
        raise ValueError(f"{n} scores but {len(ids)} cluster ids")
    _, codes = np.unique(ids, return_inverse=True)
    return np.asarray(codes, dtype=np.intp), int(codes.max()) + 1 if len(codes) else 0


def _same(left: Sequence[str], right: Sequence[str]) -> npt.NDArray[np.bool_]:
    same = np.asarray(left, dtype=object)[:, None] == np.asarray(right, dtype=object)[None, :]
    return np.asarray(same, dtype=bool)
