"""How likely a plate text is, given what the OCR saw and the formats' prior.

One scorer for two jobs: the crops of one plate in one frame (``decide.py``), and the frames of one
vehicle's pass (``workers/plate_vote.py``). A text's score is, for the best class string it fits,

    mean over frames of (mean over the frame's views of log P_ctc(text | view)) + bonus(classes)

The CTC forward probability sums every alignment path, so a text one frame read with a character
missing or doubled is still weighed, not thrown out. Averaging (a geometric mean of probabilities)
ranks texts exactly as the product over frames would, but keeps the evidence on the scale of one
observation against the prior: the views of a frame are crops of the same pixels, and the frames of a
pass show the same glyphs in the same font, so ten frames agreeing that a character looks like 0 are
no ten independent reasons to overrule the format that says it is an O. The prior is counted once.

Separate frames are not equally trustworthy: one frame may be confidently wrong (a D read as 0 in
glare). Each step of a frame's evidence lends a share ``look_alike`` of its probability to the symbol's
look-alikes (``formats.LOOK_ALIKES``), so a confident misread of a look-alike costs a text about
log(look_alike) in that frame instead of a veto, and several frames that saw the right character
outweigh it; a share ``outlier`` is spread over every symbol, so that even a frame that saw something
else entirely (a K as M, a smear as a character) costs a bounded log(outlier / 37).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.plates import ctc
from pipeline.plates.alphabet import PLATE_ALPHABET
from pipeline.plates.formats import LOOK_ALIKES, PlateRules, transfer_matrices

FloatArray = npt.NDArray[np.float32]
Evidence = FloatArray
"""(V, 3, T, 37): ``ctc.class_probs`` of each of V views of one plate in one frame."""

_TEXT_BLANK = 0.98  # the blank's share at the steps between characters of a text-only reading


def confusion_kernel() -> FloatArray:
    """(37, 37) row-stochastic: each symbol spread evenly over its look-alikes (itself when it has none;
    the blank stays the blank)."""
    index = {c: i for i, c in enumerate(PLATE_ALPHABET)}
    kernel = np.eye(len(PLATE_ALPHABET), dtype=np.float32)
    for char, others in LOOK_ALIKES.items():
        row = index[char]
        kernel[row, row] = 0.0
        kernel[row, [index[o] for o in others]] = 1.0 / len(others)
    return kernel


_KERNEL = confusion_kernel()


def robust_view(probs: FloatArray, look_alike: float, outlier: float) -> FloatArray:
    """``probs`` (T, 37) with a share ``look_alike`` of every step's probability moved to each symbol's
    look-alikes, and a share ``outlier`` spread evenly over all symbols (the blank included)."""
    if look_alike <= 0.0 and outlier <= 0.0:
        return probs
    mixed = (1.0 - look_alike - outlier) * probs + look_alike * (probs @ _KERNEL) + outlier / probs.shape[1]
    return np.asarray(mixed, dtype=np.float32)


def text_evidence(text: str, char_conf: Sequence[float]) -> FloatArray:
    """A (T, 37) matrix for a reading known only as text and per-character confidences: one step per
    character between blank steps; what a character's confidence leaves goes to its look-alikes (to every
    other symbol for one that has none)."""
    if len(char_conf) != len(text):
        raise ValueError(f"{len(char_conf)} confidences for {len(text)} characters of {text!r}")
    n = len(PLATE_ALPHABET)
    steps = np.full((2 * len(text) + 1, n), (1.0 - _TEXT_BLANK) / (n - 1), dtype=np.float32)
    steps[:, 0] = _TEXT_BLANK
    for k, (char, conf) in enumerate(zip(text, char_conf, strict=True)):
        p = float(np.clip(conf, 1e-4, 1.0))
        others = [PLATE_ALPHABET.index(o) for o in LOOK_ALIKES.get(char, ())]
        row = steps[2 * k + 1]
        row[:] = 0.0
        if others:
            row[others] = (1.0 - p) / len(others)
        else:
            row[:] = (1.0 - p) / (n - 1)
        row[PLATE_ALPHABET.index(char)] = p
    return steps


@dataclass(frozen=True, slots=True)
class Pool:
    """The views of several frames stacked: ``seen`` (N, 3, T, 37), ``owners`` the frame of each view,
    ``views`` the number of views per frame."""

    seen: FloatArray
    owners: npt.NDArray[np.intp]
    views: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Scored:
    """A text's log score (likelihood plus prior) under the class string that scores it best."""

    text: str
    log_score: float
    classes: str


class TextLikelihood:
    """Scores texts against OCR evidence under ``rules`` (their formats' bonuses and corrections)."""

    def __init__(self, rules: PlateRules, look_alike: float = 0.0, outlier: float = 0.0) -> None:
        if look_alike < 0.0 or outlier < 0.0 or look_alike + outlier >= 1.0:
            raise ValueError(
                f"look_alike and outlier must be >= 0 with a sum < 1, got {look_alike}, {outlier}"
            )
        self.rules = rules
        self.look_alike = look_alike
        self.outlier = outlier
        self._transfer = transfer_matrices(rules.correction_penalty, rules.distinct_penalty)

    def evidence(self, views: Sequence[FloatArray]) -> Evidence:
        """The views of one plate, each a (T, 37) OCR matrix, ready for scoring. Views of different
        lengths are padded with certain blanks, which changes no text's probability."""
        if not views:
            raise ValueError("evidence needs at least one view")
        steps = max(v.shape[0] for v in views)
        stacked = []
        for view in views:
            padded = np.zeros((steps, len(PLATE_ALPHABET)), dtype=np.float32)
            padded[:, 0] = 1.0
            padded[: view.shape[0]] = robust_view(view, self.look_alike, self.outlier)
            stacked.append(ctc.class_probs(padded, self._transfer))
        return np.stack(stacked)

    def pool(self, frames: Sequence[Evidence]) -> Pool:
        """Several frames' evidence stacked for scoring at once (padded to one length with certain blanks,
        which changes no text's probability)."""
        if not frames:
            raise ValueError("a pool needs at least one frame")
        steps = max(f.shape[2] for f in frames)
        padded = []
        for frame in frames:
            out = np.zeros((frame.shape[0], 3, steps, len(PLATE_ALPHABET)), dtype=np.float32)
            out[:, :, :, 0] = 1.0
            out[:, :, : frame.shape[2]] = frame
            padded.append(out)
        owners = np.repeat(np.arange(len(frames)), [f.shape[0] for f in frames])
        return Pool(np.concatenate(padded), owners, np.bincount(owners).astype(np.float64))

    def score(self, pool: Pool, texts: Sequence[str]) -> list[Scored]:
        """Each text's best score over the class strings it fits, best first, as its country writes it
        (``PlateRules.written``: the best of the texts written alike); texts that fit none (too short
        or too long for a region-free reading, and no format) are left out."""
        items = [(text, classes) for text in texts for classes in self.rules.fitting(text)]
        if not items:
            return []
        per_view = ctc.string_log_probs(pool.seen, items)  # (items, views)
        per_frame = np.stack([np.bincount(pool.owners, weights=row) for row in per_view]) / pool.views
        best: dict[str, Scored] = {}
        for (text, classes), total in zip(items, per_frame.mean(axis=1), strict=True):
            score = float(total) + self.rules.bonus(classes)
            written = self.rules.written(text, classes)  # US O as 0: two readings, one plate
            if written not in best or score > best[written].log_score:
                best[written] = Scored(written, score, classes)
        return sorted(best.values(), key=lambda s: -s.log_score)

    def plain(self, pool: Pool, text: str) -> float:
        """``text``'s score as a string of any letters and digits, of any length, with no prior."""
        per_view = ctc.string_log_probs(pool.seen, [(text, "A" * len(text))])[0]
        return float((np.bincount(pool.owners, weights=per_view) / pool.views).mean())
