"""One plate read per vehicle pass: the frames of a track vote on the text.

Pure and table-tested. Each frame of a plate's track contributes a reading: its text and confidence, and
the OCR's evidence (per-step character probabilities of the crops it was read from). When the track ends:

1. *Which plate.* Readings are grouped into clusters of near-identical strings (an OCR slip in one
   character keeps a reading in its cluster); the cluster with the most confidence-weighted support
   among frames read confidently (``min_confidence``) wins, if it has a majority. The pass is published
   only with enough evidence: several such frames, or one very confident one.
2. *Which text.* Within the winning cluster, candidate texts (what the frames read, their runners-up,
   and the per-position majority) are scored on every frame's evidence at once
   (``pipeline.plates.likelihood``): the sum over frames of log P(text | frame), plus the formats'
   prior once. Per character, so a frame whose one doubtful character makes it weak still counts for
   the characters it saw clearly; robust, so one frame confidently misreading a look-alike (D for 0,
   8 for B, Z for 2) costs that text a bounded amount rather than vetoing it, and several frames that
   saw the right character win. A reading known only as text (no evidence) counts by its
   per-character confidences.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import Levenshtein

from pipeline.plates.formats import PlateRules, is_sign_word
from pipeline.plates.likelihood import Evidence, Scored, TextLikelihood, text_evidence

ProbMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PlateVoteRules:
    min_frames: int = 2  # confidently read frames for a decision ...
    strong_confidence: float = 0.95  # ... unless one frame read it this confidently
    min_share: float = 0.5  # the winning cluster's share of all support
    min_confidence: float = 0.5  # frames read below this count for no cluster (their evidence still does)
    cluster_distance: int = 1  # readings this close (or a third of the length apart) are one cluster
    # A track whose plate was published on this camera less than this before the track began is the same
    # vehicle, re-acquired after the tracker lost it for a moment (a missed detection, a jolt of the
    # camera, frames dropped under load): seen as two reads of one pass in the dash-cam clip. It is not
    # published again. No vehicle passes one camera twice within seconds; one queued in view for longer
    # than max_track_age_s is still reported again then.
    rejoin_s: float = 10.0
    # Shares of each frame's per-step probability lent to look-alike characters, and spread over every
    # symbol, before frames are multiplied (pipeline/plates/likelihood.py): a frame sure of a look-alike
    # (D for 0) costs the other reading about log(0.1), 2.3 nats, so two frames that saw the right
    # character clearly outweigh it; a frame that saw anything else costs about log(0.02 / 37), 7.5 nats.
    look_alike: float = 0.1
    outlier: float = 0.02
    evidence_frames: int = 24  # the most confident frames whose full evidence is kept and weighed
    alternatives: int = 3  # runners-up of each frame that become candidates

    def __post_init__(self) -> None:
        if self.min_frames < 1 or not 0 < self.min_share <= 1:
            raise ValueError("min_frames >= 1 and 0 < min_share <= 1")
        if self.rejoin_s < 0:
            raise ValueError("rejoin_s >= 0")
        if min(self.look_alike, self.outlier) < 0 or self.look_alike + self.outlier >= 1:
            raise ValueError("look_alike and outlier >= 0 with a sum below 1")
        if self.evidence_frames < 1:
            raise ValueError("evidence_frames >= 1")


@dataclass(frozen=True, slots=True)
class Reading:
    text: str  # normalised A-Z0-9
    confidence: float  # 0..1 from the OCR: its weakest character
    display: str = ""  # with the format's separators, when a format matched
    country: str | None = None
    plate_format: str | None = None
    char_conf: tuple[float, ...] = ()  # per character; empty: each at ``confidence``
    candidates: tuple[tuple[str, float], ...] = ()  # the frame's runners-up with their shares
    evidence: tuple[ProbMatrix, ...] = ()  # the OCR's (T, 37) matrices of the crops it was read from


@dataclass(frozen=True, slots=True)
class PassDecision:
    text: str
    display: str
    country: str | None
    plate_format: str | None
    confidence: float  # share of support x mean confidence of the cluster's confident frames
    frames: int  # frames of the winning cluster, all weighed for the text
    support: float
    candidates: tuple[tuple[str, float, int], ...]  # (text, support, frames), best first


@dataclass(slots=True)
class _Cluster:
    readings: list[Reading] = field(default_factory=list)
    support: float = 0.0  # confidence of the readings that vote
    voters: int = 0


def _cluster(readings: Sequence[Reading], rules: PlateVoteRules) -> list[_Cluster]:
    """Single-linkage clusters of the distinct strings: two strings within the allowed edit distance
    (``cluster_distance``, or a third of the length for long plates) are one cluster."""
    texts = sorted({r.text for r in readings})
    parent = {t: t for t in texts}

    def root(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            allowed = max(rules.cluster_distance, min(len(a), len(b)) // 3)
            if Levenshtein.distance(a, b, score_cutoff=allowed) <= allowed:
                parent[root(a)] = root(b)
    clusters: dict[str, _Cluster] = defaultdict(_Cluster)
    for reading in readings:
        cluster = clusters[root(reading.text)]
        cluster.readings.append(reading)
        if reading.confidence >= rules.min_confidence:
            cluster.support += reading.confidence
            cluster.voters += 1
    return list(clusters.values())


def _per_position(readings: Sequence[Reading]) -> str:
    """The confidence-weighted majority character at each position, over the readings of the most
    supported length: a candidate no single frame may have read."""
    lengths: dict[int, float] = defaultdict(float)
    for r in readings:
        lengths[len(r.text)] += r.confidence
    length = max(sorted(lengths), key=lambda n: lengths[n])
    same = [r for r in readings if len(r.text) == length]
    chars = []
    for i in range(length):
        weights: dict[str, float] = defaultdict(float)
        for r in same:
            weights[r.text[i]] += r.char_conf[i] if r.char_conf else r.confidence
        chars.append(max(sorted(weights), key=lambda ch: weights[ch]))
    return "".join(chars)


def _candidates(readings: Sequence[Reading], rules: PlateVoteRules) -> list[str]:
    found = [r.text for r in readings] + [_per_position(readings)]
    found += [t for r in readings for t, _ in r.candidates[: rules.alternatives]]
    return [t for t in dict.fromkeys(found) if t and not is_sign_word(t)]


class PassVoter:
    """Decides a pass under a camera's format rules (the prior counted once per pass)."""

    def __init__(self, rules: PlateVoteRules, formats: PlateRules | None = None) -> None:
        self.rules = rules
        self.formats = formats or PlateRules()
        self._likelihood = TextLikelihood(self.formats, rules.look_alike, rules.outlier)

    def evidence(self, reading: Reading) -> Evidence:
        """A reading's evidence, from its OCR matrices, else from its text and confidences."""
        if reading.evidence:
            return self._likelihood.evidence(reading.evidence)
        confs = reading.char_conf or (reading.confidence,) * len(reading.text)
        return self._likelihood.evidence([text_evidence(reading.text, confs)])

    def most_likely(self, readings: Sequence[Reading]) -> Scored | None:
        """The candidate text best supported by all ``readings`` together, with the formats' prior."""
        pool = self._likelihood.pool([self.evidence(r) for r in readings])
        scored = self._likelihood.score(pool, _candidates(readings, self.rules))
        return scored[0] if scored else None

    def decide(self, readings: Sequence[Reading]) -> PassDecision | None:
        """The pass's plate, or None when the frames do not agree enough."""
        rules = self.rules
        read = [r for r in readings if r.text]
        clusters = sorted(_cluster(read, rules), key=lambda c: -c.support) if read else []
        total = sum(c.support for c in clusters)
        if not total:
            return None  # nothing read confidently
        best = clusters[0]
        share = best.support / total
        if share < rules.min_share or (len(clusters) > 1 and clusters[1].support == best.support):
            return None  # no majority, or a tie between two different plates
        voters = [r for r in best.readings if r.confidence >= rules.min_confidence]
        if len(voters) < rules.min_frames and max(r.confidence for r in voters) < rules.strong_confidence:
            return None
        winner = self.most_likely(best.readings)
        if winner is None:
            return None
        described = self.formats.describe(winner.text, winner.classes)
        return PassDecision(
            text=winner.text,
            display=described.display,
            country=described.country,
            plate_format=described.format,
            confidence=round(min(1.0, share * sum(r.confidence for r in voters) / len(voters)), 4),
            frames=len(best.readings),
            support=best.support,
            candidates=_support(read, rules),
        )


def _support(readings: Sequence[Reading], rules: PlateVoteRules) -> tuple[tuple[str, float, int], ...]:
    """(text, confidence-weighted support, frames) of each text read confidently, best first (8 at most)."""
    groups: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        if r.confidence >= rules.min_confidence:
            groups[r.text].append(r)
    ranked = sorted(
        ((t, sum(r.confidence for r in rs), len(rs)) for t, rs in groups.items()), key=lambda c: (-c[1], c[0])
    )
    return tuple(ranked[:8])


def decide(
    readings: Sequence[Reading], rules: PlateVoteRules, formats: PlateRules | None = None
) -> PassDecision | None:
    """The pass's plate under ``formats`` (default: region-free with every known format), or None."""
    return PassVoter(rules, formats).decide(readings)
