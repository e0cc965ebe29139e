"""Tamper cameras (``analytics: [tamper]``): a camera whose view is lost is itself an alert.

A fixed camera shows the same scene day and night; people and cars pass through it. Twice a second the
watch compares a small grey copy of the frame with the camera's usual view, learned over its first
seconds and kept up to date slowly while nothing is wrong:

- **covered**: almost no contrast left (a hand, a bag or paint on the lens, a light shone into it, a dead
  sensor);
- **defocused**: the picture's fine detail (variance of its Laplacian) down to a fraction of the usual
  (the focus turned, a smeared or fogged lens);
- **moved**: the scene's layout no longer correlates with the usual one (the camera turned away), while
  the picture itself is still sharp and contrasted.

A condition must hold for ``hold_s`` before it is published as a :class:`TamperHit` (the view now as the
crop, the usual view as the scene) and is published again every ``repeat_s`` while it lasts, which keeps
its alert current. The usual view is never learned from a covered or defocused picture; a camera that was
turned and stays turned for ``adopt_after_s`` has its new view adopted (an operator has had the alert).
Nothing is stored of a view that is not reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np
import numpy.typing as npt

from pipeline.hits import TamperCondition, TamperHit
from pipeline.messages import Box
from pipeline.types import Frame, Image
from workers.evidence import downscale, encode_jpeg
from workers.kinds import StageContext

Grey = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TamperRules:
    check_every_s: float = 0.5  # how often the view is looked at
    learn_s: float = 8.0  # the usual view is learned this long before anything is judged
    hold_s: float = 5.0  # a condition must last this long to be reported
    repeat_s: float = 30.0  # and is reported again this often while it lasts
    adopt_after_s: float = 300.0  # a turned camera's new view becomes the usual one after this
    covered_contrast: float = 8.0  # grey standard deviation (0-255) below this: nothing to see
    defocus_ratio: float = 0.2  # sharpness below this fraction of the usual: out of focus
    moved_correlation: float = 0.3  # layout correlation with the usual view below this: turned away
    learn_rate: float = 0.05  # how fast the usual view follows a normal scene (per look)


@dataclass(frozen=True, slots=True)
class Look:
    grey: Grey  # 64x36 grey, zero mean and unit variance: the scene's layout
    contrast: float
    sharpness: float

    @classmethod
    def of(cls, image: Image) -> Look:
        grey = cv2.cvtColor(cv2.resize(image, (160, 90), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        contrast = float(grey.std())
        sharpness = float(cv2.Laplacian(grey, cv2.CV_32F).var())
        small = cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
        layout = (small - small.mean()) / max(float(small.std()), 1e-3)
        return cls(layout, contrast, sharpness)


class TamperWatch:
    """The judgement, frame by frame (pure: no I/O); ``observe`` says which condition is due to report."""

    def __init__(self, rules: TamperRules | None = None) -> None:
        self.rules = rules or TamperRules()
        self.usual: Look | None = None
        self.usual_image: Image | None = None
        self._started_ns: int | None = None
        self._last_look_ns = 0
        self._condition: TamperCondition | None = None
        self._since_ns = 0
        self._reported_ns: int | None = None
        self.score = 0.0
        self.measures: dict[str, float] = {}

    @property
    def since_ns(self) -> int:
        return self._since_ns

    def observe(self, image: Image, now_ns: int) -> TamperCondition | None:
        r = self.rules
        if now_ns - self._last_look_ns < r.check_every_s * 1e9:
            return None
        self._last_look_ns = now_ns
        look = Look.of(image)
        if self.usual is None or self._started_ns is None:
            self._started_ns = now_ns
            self._learn(look, image, 1.0)
            return None
        condition = self._judge(look)
        if condition is None:
            self._condition, self._reported_ns = None, None
            rate = 1.0 if now_ns - self._started_ns < r.learn_s * 1e9 else r.learn_rate
            self._learn(look, image, rate)
            return None
        if now_ns - self._started_ns < r.learn_s * 1e9:
            return None  # still learning what is usual: a covered start is judged once learned
        if condition != self._condition:
            self._condition, self._since_ns, self._reported_ns = condition, now_ns, None
        held = now_ns - self._since_ns
        if condition == "moved" and held >= r.adopt_after_s * 1e9:
            self._learn(look, image, 1.0)  # the camera was re-aimed for good: this is its view now
            self._condition, self._reported_ns = None, None
            return None
        due = self._reported_ns is None or now_ns - self._reported_ns >= r.repeat_s * 1e9
        if held >= r.hold_s * 1e9 and due:
            self._reported_ns = now_ns
            return condition
        return None

    def _judge(self, look: Look) -> TamperCondition | None:
        r, usual = self.rules, self.usual
        assert usual is not None
        correlation = float(np.mean(look.grey * usual.grey))
        ratio = look.sharpness / max(usual.sharpness, 1e-3)
        self.measures = {
            "contrast": round(look.contrast, 2),
            "usual_contrast": round(usual.contrast, 2),
            "sharpness_ratio": round(ratio, 3),
            "layout_correlation": round(correlation, 3),
        }
        if usual.contrast < 2 * r.covered_contrast:
            return None  # the usual view shows nothing to compare with (dark, or covered from the start)
        if look.contrast < r.covered_contrast:
            self.score = 1.0 - look.contrast / (2 * r.covered_contrast)
            return "covered"
        if ratio < r.defocus_ratio:
            self.score = 1.0 - ratio
            return "defocused"
        if correlation < r.moved_correlation:
            self.score = min(1.0, 1.0 - correlation)
            return "moved"
        return None

    def _learn(self, look: Look, image: Image, rate: float) -> None:
        if self.usual is None or rate >= 1.0:
            self.usual = look
            self.usual_image = downscale(image, 640).copy()
            return
        grey = (1 - rate) * self.usual.grey + rate * look.grey
        grey = (grey - grey.mean()) / max(float(grey.std()), 1e-3)
        self.usual = Look(
            grey.astype(np.float32),
            (1 - rate) * self.usual.contrast + rate * look.contrast,
            (1 - rate) * self.usual.sharpness + rate * look.sharpness,
        )
        self.usual_image = downscale(image, 640).copy()  # the last normal picture: what it should show


class TamperAnalyser:
    """The camera's tamper stage: watches every frame it is given and publishes what is due."""

    def __init__(self, context: StageContext, rules: TamperRules | None = None) -> None:
        self._camera_id = context.camera.id
        self._worker_id = context.worker_id
        self._submit = context.submit
        self._wopt = context.settings.worker
        self.watch = TamperWatch(rules)
        self.last_stage_ms: dict[str, float] = {}

    def process(self, frame: Frame) -> TamperHit | None:
        started = time.perf_counter()
        condition = self.watch.observe(frame.image, frame.received_ns)
        hit = self._hit(frame, condition) if condition is not None else None
        if hit is not None:
            self._submit(hit)
        self.last_stage_ms = {"tamper": (time.perf_counter() - started) * 1e3}
        return hit

    def _hit(self, frame: Frame, condition: TamperCondition) -> TamperHit:
        usual = self.watch.usual_image
        assert usual is not None
        quality = self._wopt.jpeg_quality
        height, width = frame.image.shape[:2]
        return TamperHit(
            camera_id=self._camera_id,
            worker_id=self._worker_id,
            condition=condition,
            score=max(0.0, min(1.0, self.watch.score)),
            measures=self.watch.measures,
            since=_utc(self.watch.since_ns),
            frame_sent_at=_utc(frame.sent_ns) if frame.sent_ns is not None else None,
            captured_at=_utc(frame.received_ns),
            box=Box(x=0, y=0, w=width, h=height),
            crop_jpeg=encode_jpeg(downscale(frame.image, self._wopt.scene_max_side), quality),
            scene_jpeg=encode_jpeg(downscale(usual, self._wopt.scene_max_side), quality),
        )

    def finish(self) -> None:
        """Nothing pending: a condition not yet held long enough is not reported."""


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


def stage(context: StageContext) -> TamperAnalyser:
    return TamperAnalyser(context)
