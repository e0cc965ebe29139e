"""From OCR probabilities to a plate number: nominate readings per crop, then score them on all crops.

Nominating: each crop variant is decoded under every class string of the rules at once (``constrained``
CTC: a format's letter slot may take the network's ``O`` where it preferred ``0``, at the correction
penalty), and also region-free (any letters and digits, ``A`` slots). The readings within
``nominate_within`` of that variant's best (bonus included) are candidates.

Scoring: every candidate is scored on all variants together (``likelihood.TextLikelihood``: mean CTC
forward log-probability over the variants, plus the best format bonus of the class strings it fits), and
the best wins, unless the network's own reading is no plate (a sign word, a string too short or too long)
and likelier still. A variant that is unsure still contributes, rather than a vote of first choices; a
format only re-ranks, so a plate that fits no format is read as the network sees it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.plates import ctc
from pipeline.plates.formats import PlateRules, PlateText, Template, is_sign_word, transfer_matrices
from pipeline.plates.likelihood import Pool, Scored, TextLikelihood

ProbMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class DecodeParams:
    """Which readings of a crop become candidates.

    ``min_char_conf``: no character of a candidate may be less likely than this (a corrected character
    counts at its confusable pair's probability). ``nominate_within``: a variant's reading under a class
    string is a candidate when at least this fraction as likely (bonus included) as its best reading.
    """

    min_char_conf: float = 0.08
    nominate_within: float = 1e-3


@dataclass(frozen=True, slots=True)
class TextRead:
    """A plate number with per-character confidences and the unconstrained OCR text."""

    plate: PlateText
    template: Template
    char_conf: tuple[float, ...]
    raw_text: str
    log_score: float

    @property
    def text(self) -> str:
        return self.plate.text

    @property
    def confidence(self) -> float:
        """The weakest character's probability: one doubtful character makes a doubtful plate."""
        return min(self.char_conf, default=0.0)


@dataclass(frozen=True, slots=True)
class Combined:
    """The reading chosen over several crops of one plate.

    ``confidence`` is the winner's weakest-character confidence averaged over all variants, counting 0 for a
    variant that did not nominate it, so disagreement between crops lowers it. ``candidates`` are the texts
    considered, with their share of the scores' softmax (best first, the winner included).
    """

    best: TextRead
    confidence: float
    agreement: float
    candidates: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class _Nominee:
    variant: int
    classes: str
    decoded: ctc.Decoded


class TextDecoder:
    """Decodes (T, 37) OCR probability matrices under ``rules``. Stateless after construction."""

    def __init__(self, rules: PlateRules, params: DecodeParams | None = None) -> None:
        self.rules = rules
        self.params = params or DecodeParams()
        self.likelihood = TextLikelihood(rules)
        self._transfer = transfer_matrices(rules.correction_penalty, rules.distinct_penalty)
        # Confidence in a corrected character is that of the confusable pair (O or 0) as a whole: the
        # format decides which of the two it is; the penalty prices the choice of format, not the read.
        self._confidence_transfer = transfer_matrices(1.0)
        self._widest_bonus = max(rules.bonus(c) for c in rules.classes)

    def decode(self, probs: ProbMatrix) -> TextRead | None:
        """The best reading of one crop, or None when nothing plausible is read."""
        combined = self.combine([probs])
        return None if combined is None else combined.best

    def combine(self, variants: Sequence[ProbMatrix]) -> Combined | None:
        """The reading best supported by all crop variants of one plate (None if none nominates one)."""
        nominees: dict[str, list[_Nominee]] = {}
        raws = [ctc.greedy(p) for p in variants]
        for i, (probs, raw) in enumerate(zip(variants, raws, strict=True)):
            for nominee in self._nominate(i, probs, raw):
                nominees.setdefault(nominee.decoded.text, []).append(nominee)
        if not nominees:
            return None
        pool = self.likelihood.pool([self.likelihood.evidence(variants)])
        scored = self.likelihood.score(pool, list(nominees))
        if not scored or self._no_plate_wins(pool, raws, scored[0]):
            return None
        winner = scored[0]
        # Per variant, the weakest character of its most confident nomination of the winner (0 if none).
        per_variant = [0.0] * len(variants)
        written = [n for t, ns in nominees.items() for n in ns if self._written(t, winner) == winner.text]
        best_read = max(written, key=lambda n: n.decoded.confidence)
        for n in written:
            per_variant[n.variant] = max(per_variant[n.variant], n.decoded.confidence)
        logs = np.array([s.log_score for s in scored])
        shares = np.exp(logs - logs.max())
        shares /= shares.sum()
        template = self.rules.template(winner.classes)
        read = TextRead(
            self.rules.describe(winner.text, winner.classes),
            template,
            best_read.decoded.char_conf,
            raws[best_read.variant].text,
            winner.log_score,
        )
        return Combined(
            read,
            sum(per_variant) / len(variants),
            sum(c > 0 for c in per_variant) / len(variants),
            tuple((s.text, float(share)) for s, share in zip(scored, shares, strict=True)),
        )

    def _written(self, text: str, winner: Scored) -> str:
        """A nominated text as the winner's country writes it (the winner may stand for several)."""
        return self.rules.written(text, winner.classes) if len(text) == len(winner.text) else text

    def _no_plate_wins(self, pool: Pool, raws: Sequence[ctc.Decoded], best: Scored) -> bool:
        """The network's own reading of each crop competes too, with no bonus: when it is no plate (a word
        on a sign, or too short or too long for a plate of no format) and likelier than every plate
        reading, the crop shows no plate. Otherwise CALIFORNIA would be read as CALIFORNA."""
        plain = {r.text for r in raws if r.text and (is_sign_word(r.text) or not self.rules.fitting(r.text))}
        return any(self.likelihood.plain(pool, text) > best.log_score for text in plain)

    def _nominate(self, variant: int, probs: ProbMatrix, raw: ctc.Decoded) -> list[_Nominee]:
        if is_sign_word(raw.text):
            return []  # the network plainly read TAXI or POLICE: no format may make a plate of it
        p = self.params
        within = math.log(p.nominate_within)
        decoded = ctc.constrained(
            probs,
            self.rules.classes,
            self._transfer,
            self._confidence_transfer,
            keep_within=within - self._widest_bonus,
        )
        found = [
            (d.log_score + self.rules.bonus(classes), classes, d)
            for classes, d in zip(self.rules.classes, decoded, strict=True)
            if d is not None
            and d.confidence >= p.min_char_conf
            # A format may correct or drop characters, never invent one the network did not see.
            and (set(classes) == {"A"} or len(d.text) <= len(raw.text))
            and not is_sign_word(d.text)
        ]
        if not found:
            return []
        floor = max(score for score, _, _ in found) + within
        return [_Nominee(variant, classes, d) for score, classes, d in found if score >= floor]
