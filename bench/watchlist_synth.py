"""Synthetic face embeddings with the structure of the real model, for watchlist benchmarks at scale.

Uniform random unit vectors are the worst case for approximate search and unlike faces; this draws
identities and noisy samples whose similarity distributions match what MobileFaceNet gives on the real
labelled photos in ``media/faces`` (embedded here with the production detect → align → embed path).

The model, in 128-d:

* identity centre ``c = normalise(beta * u0 + U diag(sqrt(lambda)) z / sqrt(d))`` with ``z ~ N(0, I)``,
  ``U`` a random rotation and ``lambda_j ∝ j^-alpha`` (sum d): ``alpha`` makes the space anisotropic
  (a few directions carry more of the variance, as in a trained embedding), ``beta`` is a direction
  shared by all faces (real embeddings are not centred);
* a photo of that identity ``x = normalise(c + sigma * g / sqrt(d))``, ``g ~ N(0, I)``, with a quality
  factor ``sigma = sigma0 * exp(s * N(0, 1))`` drawn per photo (good and poor photos).

The four parameters are fitted (coordinate search with common random numbers) to four measured
figures: the mean and spread of genuine-pair cosines (two photos of one person) and of impostor-pair
cosines (photos of two people). Enrolled vectors and queries are both such photos, so a query meets its
enrolled twin at a genuine similarity and everybody else at impostor similarities, as in production.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

DIM = 128
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PairStats:
    genuine_mean: float
    genuine_std: float
    impostor_mean: float
    impostor_std: float
    genuine_pairs: int = 0
    impostor_pairs: int = 0

    def as_row(self) -> str:
        return (
            f"genuine {self.genuine_mean:.3f} ± {self.genuine_std:.3f} (n={self.genuine_pairs}), "
            f"impostor {self.impostor_mean:.3f} ± {self.impostor_std:.3f} (n={self.impostor_pairs})"
        )


def pair_stats(embeddings: FloatArray, labels: npt.NDArray[np.int64]) -> PairStats:
    sims = embeddings @ embeddings.T
    upper = np.triu_indices(len(embeddings), 1)
    same = (labels[:, None] == labels[None, :])[upper]
    values = sims[upper]
    genuine, impostor = values[same], values[~same]
    return PairStats(
        float(genuine.mean()),
        float(genuine.std()),
        float(impostor.mean()),
        float(impostor.std()),
        len(genuine),
        len(impostor),
    )


def embed_real_faces(media_dir: Path, models_dir: Path) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """MobileFaceNet embeddings of the labelled single-person photos (resolution copies excluded)."""
    import cv2

    from pipeline.face import FaceAnalyzer
    from pipeline.settings import parse

    analyzer = FaceAnalyzer(parse({}), models_dir)
    analyzer.load()
    vectors: list[FloatArray] = []
    names: list[str] = []
    with (media_dir / "faces" / "labels.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            identity, note = row["identity"], row.get("note") or ""
            if "/_multi/" in f"/{row['file']}" or ";" in identity or "(" in identity or "SAME PHOTO" in note:
                continue
            image = cv2.imread(str(media_dir / row["file"]))
            if image is None:
                continue
            _, embedding = analyzer.analyse(image)
            if len(embedding) == 1:  # a second face (a poster, a reflection) makes the label ambiguous
                vectors.append(embedding[0])
                names.append(identity)
    index = {name: i for i, name in enumerate(sorted(set(names)))}
    return np.stack(vectors).astype(np.float32), np.array([index[n] for n in names], dtype=np.int64)


@dataclass(frozen=True)
class FaceSpace:
    alpha: float
    beta: float
    sigma0: float
    sigma_spread: float
    seed: int = 0

    def axes(self) -> FloatArray:
        """The principal axes (columns), first the direction every face shares. The space is symmetric
        under a sign flip of any axis but the first: flipping them draws the same distribution."""
        rotation, _ = np.linalg.qr(np.random.default_rng(self.seed).standard_normal((DIM, DIM)))
        return rotation.astype(np.float32)

    def _basis(self) -> tuple[FloatArray, FloatArray]:
        rotation = self.axes().astype(np.float64)
        spectrum = np.arange(1, DIM + 1, dtype=np.float64) ** -self.alpha
        spectrum *= DIM / spectrum.sum()
        scaled = rotation * np.sqrt(spectrum)[None, :] / np.sqrt(DIM)  # columns: scaled directions
        return scaled.astype(np.float32), rotation[:, 0].astype(np.float32)

    def centres(self, rng: np.random.Generator, n: int) -> FloatArray:
        scaled, shared = self._basis()
        raw = rng.standard_normal((n, DIM), dtype=np.float32) @ scaled.T + self.beta * shared
        return _normalise(raw)

    def photos(self, rng: np.random.Generator, centres: FloatArray) -> FloatArray:
        sigma = self.sigma0 * np.exp(self.sigma_spread * rng.standard_normal(len(centres), dtype=np.float32))
        noise = rng.standard_normal(centres.shape, dtype=np.float32) / np.float32(np.sqrt(DIM))
        return _normalise(centres + sigma[:, None] * noise)

    def sample_stats(self, seed: int = 12345, identities: int = 1500) -> PairStats:
        """Pair statistics of two photos of each of ``identities`` people (fixed seed: comparable)."""
        rng = np.random.default_rng(seed)
        centres = self.centres(rng, identities)
        first, second = self.photos(rng, centres), self.photos(rng, centres)
        genuine = np.einsum("ij,ij->i", first, second)
        impostor = (first[: identities // 2] @ second[identities // 2 :].T).ravel()
        return PairStats(
            float(genuine.mean()),
            float(genuine.std()),
            float(impostor.mean()),
            float(impostor.std()),
            len(genuine),
            len(impostor),
        )

    def gallery(self, n: int, seed: int, chunk: int = 100_000) -> Iterator[tuple[FloatArray, FloatArray]]:
        """(centres, one enrolled photo each) for identities 0..n-1, in chunks to bound memory."""
        rng = np.random.default_rng(seed)
        for start in range(0, n, chunk):
            centres = self.centres(rng, min(chunk, n - start))
            yield centres, self.photos(rng, centres)


def _normalise(x: FloatArray) -> FloatArray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _loss(space: FaceSpace, target: PairStats) -> float:
    got = space.sample_stats()
    return (
        (got.genuine_mean - target.genuine_mean) ** 2
        + (got.genuine_std - target.genuine_std) ** 2
        + (got.impostor_mean - target.impostor_mean) ** 2
        + (got.impostor_std - target.impostor_std) ** 2
    )


def fit(target: PairStats, rounds: int = 4) -> FaceSpace:
    """Coordinate search over (alpha, beta, sigma0, sigma_spread), shrinking the step each round."""
    params = {"alpha": 0.3, "beta": 0.1, "sigma0": 0.6, "sigma_spread": 0.2}
    bounds = {"alpha": (0.0, 2.0), "beta": (0.0, 1.0), "sigma0": (0.05, 3.0), "sigma_spread": (0.0, 1.0)}
    steps = {"alpha": 0.4, "beta": 0.1, "sigma0": 0.2, "sigma_spread": 0.2}
    best = _loss(FaceSpace(**params), target)
    for _ in range(rounds):
        for name in params:
            lo, hi = bounds[name]
            for candidate in np.linspace(params[name] - steps[name], params[name] + steps[name], 9):
                trial = dict(params, **{name: float(np.clip(candidate, lo, hi))})
                loss = _loss(FaceSpace(**trial), target)
                if loss < best:
                    best, params = loss, trial
            steps[name] /= 3
    return FaceSpace(**params)
