"""Recognition quality on the shared face set: every genuine pair matches, no impostor pair does, with and
without flip test-time augmentation."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.face import FaceAnalyzer
from pipeline.settings import parse

THRESHOLD = 0.42
_EXCLUDED_NOTES = ("SAME PHOTO", "face cut by the image border")


def _single_person_photos(media_dir: Path) -> list[tuple[str, Path]]:
    """(identity, path) of the single-person photos, without resolution copies or cut-off faces."""
    with (media_dir / "faces" / "labels.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        (row["identity"], media_dir / row["file"])
        for row in rows
        if not row["file"].startswith("faces/_multi/")
        and not any(marker in row["note"] for marker in _EXCLUDED_NOTES)
    ]


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "flip_tta"])
def analyzer(models_dir: Path, request: pytest.FixtureRequest) -> FaceAnalyzer:
    analyzer = FaceAnalyzer(parse({"recognition": {"flip_tta": request.param}}), models_dir)
    analyzer.load()
    return analyzer


def test_every_genuine_pair_matches_and_no_impostor_does(analyzer: FaceAnalyzer, media_dir: Path) -> None:
    photos = _single_person_photos(media_dir)
    assert len(photos) == 51, "the shared face set changed; revisit this test"
    identities, embeddings = [], []
    for identity, path in photos:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert image is not None, path
        detections = analyzer.detect(image)
        assert len(detections) >= 1, f"no face found in {path}"
        # A few photos show bystanders; the subject is the largest face.
        embeddings.append(analyzer.embed(image, detections.largest())[0])
        identities.append(identity)
    vectors = np.stack(embeddings)
    sims = vectors @ vectors.T
    genuine, impostor = [], []
    for i, j in itertools.combinations(range(len(photos)), 2):
        pair = (float(sims[i, j]), photos[i][1].name, photos[j][1].name)
        (genuine if identities[i] == identities[j] else impostor).append(pair)
    worst_genuine, worst_impostor = min(genuine), max(impostor)
    summary = (
        f"min genuine {worst_genuine[0]:.3f} ({worst_genuine[1]} / {worst_genuine[2]}, n={len(genuine)}); "
        f"max impostor {worst_impostor[0]:.3f} ({worst_impostor[1]} / {worst_impostor[2]}, n={len(impostor)})"
    )
    print(summary)
    assert worst_genuine[0] >= THRESHOLD and worst_impostor[0] < THRESHOLD, summary
