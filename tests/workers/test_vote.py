"""The identity vote over a track, table by table.

A frame is written as space-free tokens: ``A.50`` is a face whose best profile is A at 0.50;
``A.50,B.48`` lists the runner-up too; ``A.50@.2`` gives the shot quality 0.2 (default 1); ``-`` is a
face that matched nothing (the watchlist returned no candidate).
"""

from __future__ import annotations

import pytest

from pipeline.settings import ConfigError, parse
from workers.vote import Candidate, Decision, FrameVote, Published, TrackVote, VoteRules, classify, improves

RULES = VoteRules(
    threshold=0.42,
    strong_threshold=0.60,
    min_frames=3,
    template_min_faces=2,
    min_match_fraction=0.3,
    min_margin=0.05,
    max_rival_ratio=0.5,
    max_attempts=15,
    update_min_quality_gain=1.5,
    max_updates=2,
)
PROFILES = {"A": 1, "B": 2, "C": 3}


def frame(token: str) -> tuple[list[Candidate], float]:
    quality = 1.0
    if "@" in token:
        token, q = token.split("@")
        quality = float(q)
    if token == "-":
        return [], quality
    candidates = [Candidate(PROFILES[part[0]], float(part[1:])) for part in token.split(",")]
    return candidates, quality


def track(frames: str, rules: VoteRules = RULES) -> TrackVote:
    vote = TrackVote(rules)
    for token in frames.split():
        vote.observe(*frame(token))
    return vote


def decision(frames: str, rules: VoteRules = RULES) -> Decision | None:
    return track(frames, rules).decide()


@pytest.mark.parametrize(
    ("token", "verdict", "profile"),
    [
        ("A.50", FrameVote.VOTED, "A"),
        ("A.41", FrameVote.UNKNOWN, None),  # under the threshold
        ("-", FrameVote.UNKNOWN, None),
        ("A.42", FrameVote.VOTED, "A"),  # at the threshold
        ("A.50,B.30", FrameVote.VOTED, "A"),
        ("A.50,B.46", FrameVote.AMBIGUOUS, None),  # leads by less than the margin
        ("A.44,B.41", FrameVote.AMBIGUOUS, None),  # the runner-up need not pass the threshold
        ("A.90,B.86", FrameVote.AMBIGUOUS, None),  # a strong frame can be ambiguous too
        ("B.44,A.50", FrameVote.VOTED, "A"),  # candidates in any order
    ],
)
def test_what_one_frame_says(token: str, verdict: FrameVote, profile: str | None) -> None:
    got, best = classify(frame(token)[0], RULES)
    assert got is verdict
    assert (best.profile_id if best else None) == (PROFILES[profile] if profile else None)


@pytest.mark.parametrize(
    ("frames", "profile", "rule"),
    [
        # One frame above the threshold is not enough ...
        ("A.50", None, None),
        ("A.59", None, None),
        # ... unless it is very strong.
        ("A.60", "A", "strong"),
        ("A.75", "A", "strong"),
        ("- - A.65", "A", "strong"),
        # Consensus: min_frames agreeing frames, and enough of the embedded ones.
        ("A.45 A.45", None, None),
        ("A.45 A.45 A.45", "A", "consensus"),
        ("A.45 - A.45 - A.45", "A", "consensus"),
        ("A.45 - - - - - - A.45 - A.45", "A", "consensus"),  # 3 of 10: exactly the fraction
        ("A.45 - - - - - - - A.45 - A.45", None, None),  # 3 of 11: a stranger's stray look-alikes
        ("A.45 A.30 A.20 A.45 A.45", "A", "consensus"),  # below-threshold frames of A count as misses
        # Strong wins over an unmet consensus; consensus is reported when both hold.
        ("A.61 A.45 A.45", "A", "consensus"),
        # Ties and rivals: no decision.
        ("A.50,B.49 A.50,B.49 A.50,B.49", None, None),
        ("A.50 B.50 A.50 B.50 A.50 B.50", None, None),
        ("A.65 B.50", None, None),  # a strong frame contradicted by another identity
        ("A.65 B.62 B.55", None, None),  # B leads by support, A is still more than half of it
        # A small rival does not block: B has 0.45 of A's 2.0 support.
        ("A.50 A.50 A.50 A.50 B.45", "A", "consensus"),
        # Quality weights the support: three poor shots of A do not outvote three good ones of B.
        ("A.50@.1 B.50 A.50@.1 B.50 A.50@.1 B.50", "B", "consensus"),
        # Ambiguous frames vote for nobody but count as embedded.
        ("A.50,B.47 A.50,B.47 A.50 A.50 A.50", "A", "consensus"),
    ],
)
def test_decision_over_a_track(frames: str, profile: str | None, rule: str | None) -> None:
    got = decision(frames)
    if profile is None:
        assert got is None
        return
    assert got is not None
    assert (got.profile_id, got.rule) == (PROFILES[profile], rule)
    assert got.frames_embedded == len(frames.split())


def test_decision_reports_the_evidence() -> None:
    got = decision("A.44 - A.50,B.30 A.56 B.45@.5")
    assert got is not None
    assert got.frames_matched == 3 and got.frames_embedded == 5
    assert got.mean_similarity == pytest.approx((0.44 + 0.50 + 0.56) / 3)
    assert got.max_similarity == pytest.approx(0.56)
    assert got.runner_up_support == pytest.approx(0.5 * 0.45 / (0.44 + 0.50 + 0.56))


@pytest.mark.parametrize(
    ("frames", "max_attempts", "budget_left", "wants"),
    [
        ("", 3, 3, True),
        ("- -", 3, 1, True),
        ("- - -", 3, 0, False),  # budget spent, undecided
        ("A.45 A.45", 2, 0, False),
    ],
)
def test_attempt_budget(frames: str, max_attempts: int, budget_left: int, wants: bool) -> None:
    rules = VoteRules(threshold=0.42, strong_threshold=0.6, max_attempts=max_attempts)
    vote = track(frames, rules)
    assert vote.budget_left == budget_left
    assert vote.wants_embedding(quality=1.0) is wants


def test_after_a_decision_only_clearly_better_shots_are_embedded_and_updates_are_capped() -> None:
    vote = track("A.45 A.45 A.45")
    decided = vote.decide()
    assert decided is not None
    assert vote.publication(decided, quality=0.4, similarity=0.45) == 0  # the decision itself
    assert vote.publication(decided, quality=0.4, similarity=0.45) is None  # nothing new
    assert not vote.wants_embedding(quality=0.59)
    assert vote.wants_embedding(quality=0.61)  # over 1.5 x the published quality
    assert vote.publication(decided, quality=0.61, similarity=0.5) == 1
    assert vote.publication(decided, quality=0.95, similarity=0.5) == 2
    assert vote.publication(decided, quality=1.0, similarity=0.7) is None  # max_updates reached
    assert not vote.wants_embedding(quality=1.0)


@pytest.mark.parametrize(
    ("published", "quality", "expected"),
    [
        (Published(0.4, 0.5), 0.59, False),
        (Published(0.4, 0.5), 0.61, True),
        (Published(0.4, 0.5, updates=2), 1.0, False),
    ],
)
def test_what_counts_as_a_substantial_improvement(
    published: Published, quality: float, expected: bool
) -> None:
    assert improves(published, quality, RULES) is expected


def test_rules_come_from_settings_and_refuse_a_weak_strong_threshold() -> None:
    settings = parse({"recognition": {"threshold": 0.45}, "vote": {"strong_margin": 0.25, "min_frames": 4}})
    rules = VoteRules.of(settings)
    assert (rules.threshold, rules.strong_threshold, rules.min_frames) == (0.45, 0.7, 4)
    with pytest.raises(ValueError, match="strong_threshold"):
        VoteRules(threshold=0.5, strong_threshold=0.5)


def test_settings_refuse_a_strong_margin_of_nothing() -> None:
    with pytest.raises(ConfigError, match="strong_margin"):
        parse({"vote": {"strong_margin": 0.0}})


@pytest.mark.parametrize(
    ("similarity", "threshold", "verdict"),
    [
        (0.50, 0.55, FrameVote.UNKNOWN),  # a large list's threshold: 0.50 is not enough there
        (0.50, 0.45, FrameVote.VOTED),
        (0.50, None, FrameVote.VOTED),  # no list threshold: the rules' 0.42
        (0.41, None, FrameVote.UNKNOWN),
    ],
)
def test_each_candidate_is_judged_by_its_own_lists_threshold(
    similarity: float, threshold: float | None, verdict: FrameVote
) -> None:
    assert classify([Candidate(1, similarity, threshold)], RULES)[0] is verdict


@pytest.mark.parametrize(
    ("similarity", "strong", "decided"),
    [(0.72, 0.75, False), (0.76, 0.75, True), (0.65, None, True)],  # None: the rules' 0.60
)
def test_one_frame_decides_at_its_lists_strong_threshold(
    similarity: float, strong: float | None, decided: bool
) -> None:
    vote = TrackVote(RULES)
    vote.observe([Candidate(1, similarity, 0.6 if strong else None, strong)], 1.0)
    assert (vote.decide() is not None) is decided


def test_a_tracks_template_decides_when_its_frames_alone_do_not() -> None:
    vote = track("A.40 A.41 A.39")  # three frames under the 0.42 threshold: unknown, unknown, unknown
    assert vote.decide() is None
    verdict, best = vote.observe_template([Candidate(PROFILES["A"], 0.55), Candidate(PROFILES["B"], 0.10)])
    assert verdict is FrameVote.VOTED and best is not None
    decision = vote.decide()
    assert decision is not None and decision.rule == "template" and decision.profile_id == PROFILES["A"]
    assert (decision.frames_matched, decision.frames_embedded, decision.max_similarity) == (0, 3, 0.55)


@pytest.mark.parametrize(
    ("frames", "template", "decided"),
    [
        ("A.40", "A.60", False),  # one face: the template has no say yet (it is that face)
        ("A.40 A.41", "A.60,B.40", True),  # two faces: it has
        ("A.40 A.41 A.39", "A.40", False),  # under the threshold
        ("A.40 A.41 A.39", "A.60,B.58", False),  # within the margin of a second profile: ambiguous
        ("A.40 A.41 A.39", "A.60,B.40", True),
    ],
)
def test_the_template_obeys_the_frames_rules(frames: str, template: str, decided: bool) -> None:
    vote = track(frames)
    vote.observe_template(frame(template)[0])
    assert (vote.decide() is not None) is decided


def test_frames_that_decide_win_over_the_template() -> None:
    vote = track("A.50 A.52 A.51")
    vote.observe_template(frame("B.70")[0])
    decision = vote.decide()
    assert decision is not None and decision.profile_id == PROFILES["A"] and decision.rule == "consensus"
