"""Identity over a track: per-frame matches, weighted by shot quality, become at most one decision.

Pure and deterministic (no I/O, no clock, no images), so the rules are tested with tables.

A frame votes for its best profile only if that profile reaches its threshold and leads the second
best by ``min_margin``; otherwise it is unknown or ambiguous and votes for nobody. Each candidate carries
the threshold of the watch list it is matched through (calibrated for that list's size); the rules'
``threshold`` and ``strong_threshold`` apply to a candidate that carries none. A track is decided
for the profile with the most quality-weighted support when

* no rival profile has more than ``max_rival_ratio`` of that support (two identities: no decision),
* and either ``min_frames`` frames voted for it and they are at least ``min_match_fraction`` of the
  embedded frames (consensus), or one of its frames reached its strong threshold (strong).

Besides the frames, the track's *template* votes: the quality-weighted mean of its face embeddings,
matched like a frame once ``template_min_faces`` (2) faces are in it. Noise of single frames (blur,
pose, light) averages out of it while the person stays, so a genuine track scores much higher as a
whole than frame by frame (Lin-Manuel Miranda's close-up: 0.52 a frame on average, 0.69 at best, 0.76
as a template),
and a stranger's template is still one unit vector against another, as spread as a single face
(``pipeline.calibration`` counts its looks). When frames alone do not decide, a template that reaches
its list's threshold with the margin does (rule ``template``).

Budgets: a track gets at most ``max_attempts`` embeddings. Once decided, a face is only embedded
again when its shot is clearly better than the published best shot, and such an improvement is
published as an update at most ``max_updates`` times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pipeline.settings import Settings


@dataclass(frozen=True, slots=True)
class Candidate:
    """One profile's similarity to one face; a frame's candidates come best first. ``threshold`` and
    ``strong`` are those of the profile's watch list here (None: the rules' own)."""

    profile_id: int
    similarity: float
    threshold: float | None = None
    strong: float | None = None


class FrameVote(StrEnum):
    VOTED = "voted"
    UNKNOWN = "unknown"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class VoteRules:
    threshold: float
    strong_threshold: float
    min_frames: int = 3
    template_min_faces: int = 2
    min_match_fraction: float = 0.3
    min_margin: float = 0.05
    max_rival_ratio: float = 0.5
    max_attempts: int = 15
    update_min_quality_gain: float = 1.5
    max_updates: int = 2

    def __post_init__(self) -> None:
        if self.strong_threshold <= self.threshold:
            raise ValueError("strong_threshold must exceed threshold")
        if self.template_min_faces < 2:
            raise ValueError("a template of one face is that face: template_min_faces must be >= 2")

    @classmethod
    def of(cls, settings: Settings) -> VoteRules:
        v = settings.vote
        return cls(
            threshold=settings.recognition.threshold,
            strong_threshold=settings.recognition.threshold + v.strong_margin,
            min_frames=v.min_frames,
            template_min_faces=v.template_min_faces,
            min_match_fraction=v.min_match_fraction,
            min_margin=v.min_margin,
            max_rival_ratio=v.max_rival_ratio,
            max_attempts=v.max_attempts,
            update_min_quality_gain=v.update_min_quality_gain,
            max_updates=v.max_updates,
        )


@dataclass(slots=True)
class Tally:
    """The frames of one track that voted for one profile."""

    frames: int = 0
    support: float = 0.0  # sum of quality x similarity
    similarity_sum: float = 0.0
    max_similarity: float = -1.0
    strong: float = 1.0  # the similarity at which one frame decides, for this profile here

    def add(self, similarity: float, quality: float) -> None:
        self.frames += 1
        self.support += quality * similarity
        self.similarity_sum += similarity
        self.max_similarity = max(self.max_similarity, similarity)

    @property
    def mean_similarity(self) -> float:
        return self.similarity_sum / self.frames if self.frames else 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    profile_id: int
    rule: Literal["consensus", "strong", "template"]
    frames_matched: int
    frames_embedded: int
    mean_similarity: float
    max_similarity: float
    runner_up_support: float
    """The second profile's support as a fraction of the leader's (0 if there is none)."""


def classify(candidates: Sequence[Candidate], rules: VoteRules) -> tuple[FrameVote, Candidate | None]:
    """What one embedded frame says: a vote for its best candidate, unknown, or ambiguous."""
    ranked = sorted(candidates, key=lambda c: c.similarity, reverse=True)
    if not ranked or ranked[0].similarity < threshold_of(ranked[0], rules):
        return FrameVote.UNKNOWN, None
    if len(ranked) > 1 and ranked[0].similarity - ranked[1].similarity < rules.min_margin:
        return FrameVote.AMBIGUOUS, None
    return FrameVote.VOTED, ranked[0]


def threshold_of(candidate: Candidate, rules: VoteRules) -> float:
    return candidate.threshold if candidate.threshold is not None else rules.threshold


def strong_of(candidate: Candidate, rules: VoteRules) -> float:
    return candidate.strong if candidate.strong is not None else rules.strong_threshold


def decide(tallies: dict[int, Tally], embedded: int, rules: VoteRules) -> Decision | None:
    """The track's identity if the evidence so far is enough, else None."""
    if not tallies:
        return None
    ranked = sorted(tallies.items(), key=lambda kv: (kv[1].support, kv[1].frames), reverse=True)
    profile_id, lead = ranked[0]
    rival = ranked[1][1].support / lead.support if len(ranked) > 1 and lead.support > 0 else 0.0
    if len(ranked) > 1 and (lead.support <= 0 or rival > rules.max_rival_ratio):
        return None
    consensus = lead.frames >= rules.min_frames and lead.frames >= rules.min_match_fraction * embedded
    strong = lead.max_similarity >= lead.strong
    if not (consensus or strong):
        return None
    return Decision(
        profile_id=profile_id,
        rule="consensus" if consensus else "strong",
        frames_matched=lead.frames,
        frames_embedded=embedded,
        mean_similarity=lead.mean_similarity,
        max_similarity=lead.max_similarity,
        runner_up_support=rival,
    )


@dataclass(frozen=True, slots=True)
class Published:
    """What the sink already has for one (track, profile)."""

    quality: float
    similarity: float
    updates: int = 0


def improves(published: Published, quality: float, rules: VoteRules) -> bool:
    """Is a best shot of this quality substantially better than the published one, and may it be sent?"""
    return (
        published.updates < rules.max_updates and quality >= published.quality * rules.update_min_quality_gain
    )


@dataclass(slots=True)
class TrackVote:
    """The voting state of one track."""

    rules: VoteRules
    embedded: int = 0
    unknown: int = 0
    ambiguous: int = 0
    tallies: dict[int, Tally] = field(default_factory=dict)
    published: dict[int, Published] = field(default_factory=dict)
    template: Candidate | None = None  # what the track's template last voted for, if anything

    @property
    def budget_left(self) -> int:
        return max(0, self.rules.max_attempts - self.embedded)

    def wants_embedding(self, quality: float) -> bool:
        """Spend an embedding on a face of this quality? Undecided: while budget lasts; decided: only
        for a shot clearly better than every published one, while updates remain."""
        if self.budget_left == 0:
            return False
        if not self.published:
            return True
        return any(improves(p, quality, self.rules) for p in self.published.values())

    def observe(self, candidates: Sequence[Candidate], quality: float) -> tuple[FrameVote, Candidate | None]:
        """Count one embedded frame; returns what it voted (the candidate it voted for, if any)."""
        self.embedded += 1
        verdict, best = classify(candidates, self.rules)
        if verdict is FrameVote.UNKNOWN:
            self.unknown += 1
        elif verdict is FrameVote.AMBIGUOUS:
            self.ambiguous += 1
        else:
            assert best is not None
            tally = self.tallies.setdefault(best.profile_id, Tally(strong=strong_of(best, self.rules)))
            tally.add(best.similarity, quality)
        return verdict, best

    def observe_template(self, candidates: Sequence[Candidate]) -> tuple[FrameVote, Candidate | None]:
        """What the track's template (its faces so far, quality-weighted) matches; it has a say only
        once ``template_min_faces`` faces are in it."""
        if self.embedded < self.rules.template_min_faces:
            self.template = None
            return FrameVote.UNKNOWN, None
        verdict, best = classify(candidates, self.rules)
        self.template = best if verdict is FrameVote.VOTED else None
        return verdict, self.template

    def decide(self) -> Decision | None:
        frames = decide(self.tallies, self.embedded, self.rules)
        if frames is not None or self.template is None:
            return frames
        best = self.template
        tally = self.tallies.get(best.profile_id, Tally())
        return Decision(
            profile_id=best.profile_id,
            rule="template",
            frames_matched=tally.frames,
            frames_embedded=self.embedded,
            mean_similarity=best.similarity,
            max_similarity=max(best.similarity, tally.max_similarity),
            runner_up_support=0.0,
        )

    def publication(self, decision: Decision, quality: float, similarity: float) -> int | None:
        """The revision to publish for this decision with this best shot (0 first, then updates), or
        None if nothing new is worth sending. Records it as published."""
        before = self.published.get(decision.profile_id)
        if before is None:
            self.published[decision.profile_id] = Published(quality, similarity)
            return 0
        if not improves(before, quality, self.rules):
            return None
        self.published[decision.profile_id] = Published(quality, similarity, before.updates + 1)
        return before.updates + 1
