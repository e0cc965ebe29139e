"""The AFIS's enrolled prints: one directory per subject under the data directory, one minutiae file
(``.npy``) per enrolled impression; a search scores the probe against every impression and ranks the
subjects by their best."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safecity_afis import matching, minutiae

SUBJECT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass
class Candidate:
    subject: str
    score: float


class Gallery:
    def __init__(self, data: Path) -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)

    def enrol(self, subject: str, image: np.ndarray) -> int:
        """Extract the print's minutiae and keep them under ``subject``; the number of minutiae."""
        if not SUBJECT.match(subject):
            raise ValueError(f"subject id {subject!r}: 1-64 letters, digits, '_', '.', ':' or '-'")
        found = minutiae.extract(image).minutiae
        if len(found) < 10:
            raise minutiae.ImageError(f"only {len(found)} minutiae found: too poor a print to enrol")
        folder = self.data / subject.replace(":", "_")
        folder.mkdir(exist_ok=True)
        (folder / "subject.txt").write_text(subject)
        np.save(folder / f"{hashlib.sha256(found.tobytes()).hexdigest()[:16]}.npy", found)
        return len(found)

    def templates(self) -> list[tuple[str, np.ndarray]]:
        out = []
        for folder in sorted(p for p in self.data.iterdir() if p.is_dir()):
            subject = (folder / "subject.txt").read_text().strip()
            out += [(subject, np.load(f)) for f in sorted(folder.glob("*.npy"))]
        return out

    def subjects(self) -> int:
        return sum(1 for p in self.data.iterdir() if (p / "subject.txt").exists())

    def search(self, probe: np.ndarray, limit: int = 10) -> list[Candidate]:
        best: dict[str, float] = {}
        for subject, template in self.templates():
            best[subject] = max(best.get(subject, 0.0), matching.score(probe, template))
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:limit]
        return [Candidate(s, round(v, 2)) for s, v in ranked]
