"""One plate read per vehicle pass: the frames of a track vote on the text.

Pure and table-tested. Each frame of a plate's track contributes a reading (text + OCR confidence). When
the track ends, readings are grouped into clusters of near-identical strings (an OCR slip in one
character keeps a reading in its cluster); the cluster with the most confidence-weighted support wins,
and within it each character position is voted separately among readings of the winning length, so
that frames which misread different characters still agree on the right text. The pass is published
only with enough evidence: several agreeing frames, or one very confident frame.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein


@dataclass(frozen=True, slots=True)
class PlateVoteRules:
    min_frames: int = 2  # agreeing frames for a decision ...
    strong_confidence: float = 0.95  # ... unless one frame read it this confidently
    min_share: float = 0.5  # the winning cluster's share of all support
    min_confidence: float = 0.5  # frames read below this OCR confidence do not vote
    cluster_distance: int = 1  # readings this close (or a third of the length apart) are one cluster
    # A track whose plate was published on this camera less than this before the track began is the same
    # vehicle, re-acquired after the tracker lost it for a moment (a missed detection, a jolt of the
    # camera, frames dropped under load): seen as two reads of one pass in the dash-cam clip. It is not
    # published again. No vehicle passes one camera twice within seconds; one queued in view for longer
    # than max_track_age_s is still reported again then.
    rejoin_s: float = 10.0

    def __post_init__(self) -> None:
        if self.min_frames < 1 or not 0 < self.min_share <= 1:
            raise ValueError("min_frames >= 1 and 0 < min_share <= 1")
        if self.rejoin_s < 0:
            raise ValueError("rejoin_s >= 0")


@dataclass(frozen=True, slots=True)
class Reading:
    text: str  # normalised A-Z0-9
    confidence: float  # 0..1 from the OCR
    display: str = ""  # with the format's separators, when a format matched
    country: str | None = None
    plate_format: str | None = None


@dataclass(frozen=True, slots=True)
class PassDecision:
    text: str
    display: str
    country: str | None
    plate_format: str | None
    confidence: float  # share of support x mean confidence of the agreeing frames
    frames: int  # frames whose readings voted for the decided text, position by position
    support: float
    candidates: tuple[tuple[str, float, int], ...]  # (text, support, frames), best first


@dataclass(slots=True)
class _Cluster:
    readings: list[Reading] = field(default_factory=list)

    @property
    def support(self) -> float:
        return sum(r.confidence for r in self.readings)


def _cluster(readings: Sequence[Reading], max_distance: int) -> list[_Cluster]:
    """Single-linkage clusters of the distinct strings: two strings within the allowed edit distance
    (``max_distance``, or a third of the length for long plates) are one cluster."""
    texts = sorted({r.text for r in readings})
    parent = {t: t for t in texts}

    def root(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            allowed = max(max_distance, min(len(a), len(b)) // 3)
            if Levenshtein.distance(a, b, score_cutoff=allowed) <= allowed:
                parent[root(a)] = root(b)
    clusters: dict[str, _Cluster] = defaultdict(_Cluster)
    for reading in readings:
        clusters[root(reading.text)].readings.append(reading)
    return list(clusters.values())


def _per_position(readings: Sequence[Reading]) -> str:
    """The confidence-weighted majority character at each position, over readings of one length."""
    length = len(readings[0].text)
    chars = []
    for i in range(length):
        weights: dict[str, float] = defaultdict(float)
        for r in readings:
            weights[r.text[i]] += r.confidence
        chars.append(max(sorted(weights), key=lambda ch: weights[ch]))
    return "".join(chars)


def decide(readings: Sequence[Reading], rules: PlateVoteRules) -> PassDecision | None:
    """The pass's plate, or None when the frames do not agree enough."""
    voting = [r for r in readings if r.confidence >= rules.min_confidence and r.text]
    if not voting:
        return None
    clusters = sorted(_cluster(voting, rules.cluster_distance), key=lambda c: -c.support)
    best = clusters[0]
    total = sum(c.support for c in clusters)
    share = best.support / total
    if share < rules.min_share or (len(clusters) > 1 and clusters[1].support == best.support):
        return None  # no majority, or a tie between two different plates
    # The most supported length within the cluster, then a per-position vote among those readings.
    lengths: dict[int, float] = defaultdict(float)
    for r in best.readings:
        lengths[len(r.text)] += r.confidence
    length = max(sorted(lengths), key=lambda n: lengths[n])
    same_length = [r for r in best.readings if len(r.text) == length]
    text = _per_position(same_length)
    # The frames behind the decision: the readings of its length that voted position by position.
    agreeing = same_length
    strongest = max(r.confidence for r in agreeing)
    if len(agreeing) < rules.min_frames and strongest < rules.strong_confidence:
        return None
    exact = [r for r in agreeing if r.text == text]
    described = max(exact or agreeing, key=lambda r: (r.display != "" and r.text == text, r.confidence))
    mean_confidence = sum(r.confidence for r in agreeing) / len(agreeing)
    candidates = sorted(
        ((t, sum(r.confidence for r in rs), len(rs)) for t, rs in _group(voting).items()),
        key=lambda c: (-c[1], c[0]),
    )[:8]
    return PassDecision(
        text=text,
        display=described.display if described.text == text and described.display else text,
        country=described.country,
        plate_format=described.plate_format,
        confidence=round(min(1.0, share * mean_confidence), 4),
        frames=len(agreeing),
        support=best.support,
        candidates=tuple(candidates),
    )


def _group(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    grouped: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        grouped[r.text].append(r)
    return grouped
