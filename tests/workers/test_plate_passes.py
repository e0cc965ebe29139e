"""One PlateRead per vehicle pass, even when the tracker loses the plate for a moment (the real tracker;
the reader's output is scripted frame by frame, since this is about what happens after reading)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pytest

from pipeline.contracts import PlateRead
from pipeline.plate_detections import PlateDetections
from pipeline.settings import Settings, parse
from pipeline.types import Frame, Image
from tests.plate_probs import reading
from workers.plate_analysis import PlateAnalyser
from workers.stats import CameraCounters

FPS = 5
STEP_NS = 1_000_000_000 // FPS
IMAGE = np.full((360, 640, 3), 90, np.uint8)
LEFT, RIGHT = (40.0, 250.0, 120.0, 30.0), (460.0, 60.0, 120.0, 30.0)  # far apart: no overlap


@dataclass(frozen=True)
class Seen:
    text: str
    box: tuple[float, float, float, float]
    display: str = ""
    country: str | None = "in"
    plate_format: str | None = None
    confidence: float = 0.97
    detector_score: float = 0.9
    crop: Image = field(default_factory=lambda: IMAGE[:30, :120])
    char_conf: tuple[float, ...] = ()
    candidates: tuple[tuple[str, float], ...] = ()
    evidence: tuple[np.ndarray, ...] = ()


class Scripted:
    """A reader whose detections are scripted: ``seen`` gives each call's plates; ``recognise`` returns
    the scripted observations of the detections it is asked about."""

    def __init__(self) -> None:
        self._last: list[Seen] = []
        self.recognised = 0  # observations asked for (OCR reads, in the real reader)

    def seen(self, image: Image, regions: list[tuple[int, int, int, int]] | None) -> list[Seen]:
        raise NotImplementedError

    def detect(self, image: Image, regions: object = None, *, known: object = ()) -> PlateDetections:
        self._last = self.seen(image, regions)  # type: ignore[arg-type]
        boxes = np.array([s.box for s in self._last], np.float32).reshape(-1, 4)
        return PlateDetections(boxes, np.array([s.detector_score for s in self._last], np.float32))

    def recognise(self, image: Image, detections: PlateDetections) -> list[Seen]:
        by_box = {s.box: s for s in self._last}
        self.recognised += len(detections)
        return [by_box[(float(x), float(y), float(w), float(h))] for x, y, w, h in detections.boxes.tolist()]


class Script(Scripted):
    """What the reader 'sees' in each frame, in order."""

    def __init__(self, frames: list[list[Seen]]) -> None:
        super().__init__()
        self._frames = iter(frames)

    def seen(self, image: Image, regions: list[tuple[int, int, int, int]] | None) -> list[Seen]:
        return next(self._frames)


def plate(text: str, box: tuple[float, float, float, float], frames: int) -> list[list[Seen]]:
    return [[Seen(text, box)] for _ in range(frames)]


def nothing(frames: int) -> list[list[Seen]]:
    return [[] for _ in range(frames)]


def run(script: list[list[Seen]], settings: Settings) -> tuple[list[PlateRead], CameraCounters]:
    reads: list[PlateRead] = []
    counters = CameraCounters("cam")
    analyser = PlateAnalyser("cam", "w1", settings, Script(script), counters, reads.append)
    for i in range(len(script)):
        analyser.process(Frame("cam", IMAGE, received_ns=1_000_000_000 + i * STEP_NS, seq=i))
    analyser.finish()
    return reads, counters


@pytest.fixture(scope="module")
def settings() -> Settings:
    # The frames are all alike: motion gating off, every frame is read (what follows reading is tested).
    return parse(
        {
            "tracking": {"scene_cut_correlation": 0},
            "vote": {"max_track_age_s": 30},
            "plates": {"motion": {"enabled": False}},
        }
    )


@pytest.mark.parametrize(
    ("script", "texts", "rejoined"),
    [
        # The plate lost for 2 s, found again elsewhere in the frame: one pass (as in the dash-cam clip).
        (plate("KA22P3368", LEFT, 3) + nothing(10) + plate("KA22P3368", RIGHT, 6), ["KA22P3368"], 1),
        # Another plate after the first: two passes.
        (
            plate("KA22P3368", LEFT, 3) + nothing(10) + plate("MH12AB1234", RIGHT, 6),
            ["KA22P3368", "MH12AB1234"],
            0,
        ),
        # The same plate again, but 20 s later: a second pass.
        (plate("KA22P3368", LEFT, 3) + nothing(100) + plate("KA22P3368", RIGHT, 6), ["KA22P3368"] * 2, 0),
        # Two vehicles in view at once, each read once.
        (
            [[Seen("KA22P3368", LEFT), Seen("MH12AB1234", RIGHT)] for _ in range(5)],
            ["KA22P3368", "MH12AB1234"],
            0,
        ),
    ],
    ids=["lost-and-found", "next-vehicle", "returns-later", "side-by-side"],
)
def test_one_read_per_pass(
    script: list[list[Seen]], texts: list[str], rejoined: int, settings: Settings
) -> None:
    reads, counters = run(script, settings)
    assert sorted(r.text for r in reads) == sorted(texts)
    assert counters.plate_passes_rejoined == rejoined
    assert counters.plate_reads_published == len(texts)


def test_a_vehicle_queued_in_view_is_reported_again_at_the_track_age_budget(settings: Settings) -> None:
    """A pass still ends at max_track_age_s (30 s here): 75 s in view, its plate lost for 1.4 s every 10 s
    (each loss ends the track), gives a read at the start and one per 30 s, the other tracks rejoined."""
    blinking = (plate("KA22P3368", LEFT, 45) + nothing(7)) * 7 + plate("KA22P3368", LEFT, 10)
    reads, counters = run(blinking, settings)
    assert [r.text for r in reads] == ["KA22P3368"] * 3
    starts = [r.first_seen_at.timestamp() for r in reads]
    assert all(30 <= b - a <= 42 for a, b in itertools.pairwise(starts)), starts
    assert counters.plate_passes_rejoined == 5


def test_a_long_pass_weighs_the_ocr_evidence_of_its_frames(settings: Settings) -> None:
    """Frames carry the OCR's matrices: one frame sure of D does not decide against frames that saw 0
    clearly but were unsure of their last character (each below the vote's min_confidence), also when
    the pass is longer than the frames whose matrices are kept (the rest count by their text)."""
    sure_d = reading("KXDWQ7M")
    saw_0 = reading("KXDWQ7M", {2: {"0": 0.9, "D": 0.05}, 6: {"M": 0.45, "N": 0.4}})

    def seen(matrix: np.ndarray, text: str, confidence: float) -> list[Seen]:
        return [Seen(text, LEFT, confidence=confidence, evidence=(matrix,))]

    script = [seen(sure_d, "KXDWQ7M", 0.99)] + [seen(saw_0, "KX0WQ7M", 0.45)] * 40
    reads, _ = run(script, settings)
    assert [r.text for r in reads] == ["KX0WQ7M"]
    assert reads[0].frames_read == 41


class Recording(Scripted):
    """A reader that sees one plate wherever it is asked to look (the whole frame or a region holding
    its box) and records where it was asked."""

    def __init__(self, box: tuple[float, float, float, float]) -> None:
        super().__init__()
        self.box = box
        self.asked: list[object] = []

    def seen(self, image: Image, regions: list[tuple[int, int, int, int]] | None) -> list[Seen]:
        self.asked.append(regions)
        x, y, w, h = self.box
        inside = any(
            rx <= x and x + w <= rx + rw and ry <= y and y + h <= ry + rh for rx, ry, rw, rh in regions or []
        )
        if regions is None or inside:
            return [Seen("KA22P3368", self.box)]
        return []


def test_still_frames_are_gated_and_tracks_outside_the_motion_keep() -> None:
    """At 25 fps a parked car is looked at on the first frame and once a second; a car driving past
    elsewhere is looked at where it moves, and the parked car's track is neither missed nor ended."""
    gated = parse({"tracking": {"scene_cut_correlation": 0}, "vote": {"max_track_age_s": 30}})
    assert gated.plates.motion.enabled
    counters = CameraCounters("cam")
    reads: list[PlateRead] = []
    reader = Recording(LEFT)
    analyser = PlateAnalyser("cam", "w1", gated, reader, counters, reads.append)
    step = 40_000_000
    frames = 50
    for i in range(frames):
        image = IMAGE.copy()
        if i >= 30:  # a dark car drives along the top right from frame 30 on
            x = 500 + 2 * (i - 30)
            image[40:100, x : x + 100] = 10
        analyser.process(Frame("cam", image, received_ns=1_000_000_000 + i * step, seq=i))
    assert sum(analyser.gate_counts.values()) == frames  # the runner counts frames_analysed
    assert reader.asked[:2] == [None, None]  # the first frame, and the keep-alive at 1 s (frame 25)
    moving = reader.asked[2:]
    # Only where the car moves (its edges: a plain dark box changes only there), never the parked car.
    assert moving and all(r is not None and r for r in moving)
    assert all(x >= 400 and y + h <= 160 for r in moving if r for x, y, _, h in r)
    assert analyser.gate_counts["still"] == frames - len(reader.asked) and analyser.open_tracks == 1
    analyser.finish()
    assert [r.text for r in reads] == ["KA22P3368"] and reads[0].frames_read == 2


@pytest.mark.parametrize(("confidence", "recognised"), [(0.97, 5), (0.6, 20)])
def test_a_settled_plate_is_followed_not_read_again(
    settings: Settings, confidence: float, recognised: int
) -> None:
    """Five frames reading one text confidently settle a track (plates.settled_reads): its plate is then
    only followed; a doubtful plate is read in every frame."""
    reader = Script([[Seen("KA22P3368", LEFT, confidence=confidence)] for _ in range(20)])
    reads: list[PlateRead] = []
    analyser = PlateAnalyser("cam", "w1", settings, reader, CameraCounters("cam"), reads.append)
    for i in range(20):
        analyser.process(Frame("cam", IMAGE, received_ns=1_000_000_000 + i * STEP_NS, seq=i))
    analyser.finish()
    assert reader.recognised == recognised
    assert [r.text for r in reads] == ["KA22P3368"] and reads[0].frames_read == recognised
    assert reads[0].last_seen_at.timestamp() == pytest.approx(1.0 + 19 * STEP_NS / 1e9)
