"""From OCR probabilities to a plate number: decode under every enabled format, then combine crop variants.

One crop: ``constrained`` CTC decoding finds the best reading under each format; a national format that
fits (within ``format_margin`` of the best) wins over the generic one, and among national formats the
likeliest reading wins, so a correction (which costs likelihood) is made only when needed.

Several crops of the same plate (``combine``): every variant's reading is a candidate, and each candidate
is scored by the product over variants of P(text | crop) (the CTC forward probability): a product of
experts in which a variant that is unsure still contributes, rather than a vote of first choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.plates import ctc
from pipeline.plates.formats import PlateRules, PlateText, Template, is_sign_word, transfer_matrices

ProbMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class DecodeParams:
    """How readily a format's correction is accepted.

    ``correction_penalty``: the share of a confusable symbol's probability lent to its counterpart
    (``0`` → ``O`` in a letter slot). ``format_margin``: a national format is preferred to the generic one
    when its reading is at least this fraction as likely as the best reading. ``min_char_conf``: no
    character of a reading may be less likely than this (a corrected character counts at its lent
    probability). ``free_margin``: a reading that fits a format must be at least this fraction as likely
    as the network's own best path with no format, so a format may correct doubtful characters but not
    erase confident ones (an Indian ``KA22P3368`` is not read as a Pakistani ``KAP-3368``).
    """

    correction_penalty: float = 0.1
    format_margin: float = 0.03
    min_char_conf: float = 0.08
    free_margin: float = 1e-3


@dataclass(frozen=True, slots=True)
class TextRead:
    """A plate number under a format, with per-character confidences and the unconstrained OCR text."""

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
    variant that read something else, so disagreement between crops lowers it. ``candidates`` are the texts
    considered, with their share of the combined likelihood (best first, the winner included).
    """

    best: TextRead
    confidence: float
    agreement: float
    candidates: tuple[tuple[str, float], ...]


class TextDecoder:
    """Decodes (T, 37) OCR probability matrices under the enabled formats. Stateless after construction."""

    def __init__(self, rules: PlateRules, params: DecodeParams | None = None) -> None:
        self.rules = rules
        self.params = params or DecodeParams()
        self._classes = [t.classes for t in rules.templates]
        self._transfer = transfer_matrices(self.params.correction_penalty)
        # Confidence in a corrected character is that of the confusable pair (O or 0) as a whole: the
        # format decides which of the two it is; the penalty prices the choice of format, not the read.
        self._confidence_transfer = transfer_matrices(1.0)

    def decode(self, probs: ProbMatrix) -> TextRead | None:
        """The best reading that fits a format, or None when no format fits well enough."""
        raw = ctc.greedy(probs)
        if is_sign_word(raw.text):
            return None  # the network plainly read TAXI or POLICE: no format may make a plate of it
        decoded = ctc.constrained(
            probs,
            self._classes,
            self._transfer,
            self._confidence_transfer,
            keep_within=float(np.log(self.params.format_margin)),
        )
        fits = [(tpl, d) for tpl, d in zip(self.rules.templates, decoded, strict=True) if d is not None]
        if not fits:
            return None
        p = self.params
        floor = max(d.log_score for _, d in fits) + float(np.log(p.format_margin))
        free_floor = raw.log_score + float(np.log(p.free_margin))
        plausible = [
            (tpl, d)
            for tpl, d in fits
            if d.log_score >= floor
            and d.log_score >= free_floor
            and d.confidence >= p.min_char_conf
            # A format may correct or drop characters, never invent one the network did not see.
            and (tpl.specificity == 0 or len(d.text) <= len(raw.text))
            # Under the catch-all, TAXI or POLICE on a roof sign would otherwise pass as a plate.
            and not is_sign_word(d.text)
        ]
        if not plausible:
            return None
        tpl, chosen = max(plausible, key=lambda c: (c[0].specificity > 0, c[1].log_score))
        return TextRead(
            self.rules.describe(chosen.text, tpl), tpl, chosen.char_conf, raw.text, chosen.log_score
        )

    def combine(self, variants: Sequence[ProbMatrix]) -> Combined | None:
        """The reading best supported by all crop variants of one plate (None if none fits a format)."""
        reads = [self.decode(p) for p in variants]
        found = {r.text: r for r in reads if r is not None}
        if not found:
            return None
        national = {t: r for t, r in found.items() if r.template.specificity > 0}
        candidates = national or found
        seen = [ctc.class_probs(p, self._transfer) for p in variants]
        totals = {
            text: sum(ctc.string_log_prob(s, text, read.template.classes) for s in seen)
            for text, read in candidates.items()
        }
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])
        winner = ranked[0][0]
        agreeing = [r for r in reads if r is not None and r.text == winner]
        best = max(agreeing, key=lambda r: r.confidence)
        confidence = sum(r.confidence for r in agreeing) / len(variants)
        # Shares of the combined likelihood, tempered by the number of variants (a geometric mean).
        logs = np.array([v for _, v in ranked]) / len(variants)
        shares = np.exp(logs - logs.max())
        shares /= shares.sum()
        return Combined(
            best,
            confidence,
            len(agreeing) / len(variants),
            tuple((text, float(s)) for (text, _), s in zip(ranked, shares, strict=True)),
        )
