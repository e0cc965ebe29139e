"""Settings of the worker's decision over time: tracking, quality gates before inference, the vote."""

from __future__ import annotations

from pydantic import Field, model_validator

from pipeline.settings.base import Strict


class TrackingSettings(Strict):
    """Per-camera multi-object tracking of detection boxes (faces now; vehicles and plates can share it)."""

    min_iou: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Smallest overlap (IoU) between a track's predicted box and a detection for them to "
        "be the same object; analysed frames are ~0.2 s apart, so faces move a fair way between them.",
    )
    max_missed_frames: int = Field(
        5,
        ge=1,
        le=300,
        description="Analysed frames a track survives without a detection (a brief occlusion or a missed "
        "detection) before it ends.",
    )
    box_buffer: float = Field(
        0.5,
        ge=0,
        le=3,
        description="Boxes are grown by this fraction of their size on each side before the IoU is "
        "taken (buffered IoU): a head that sways or a walker who moves between analysed frames keeps "
        "overlapping its track. At 0 (plain IoU) the Hamilton close-up broke into 2-3 tracks at 2-6 "
        "analysed frames per second; at 0.5 it stays one track and neighbouring faces stay apart.",
    )
    scene_cut_correlation: float = Field(
        0.75,
        ge=0,
        le=1,
        description="A frame whose colour histogram correlates less than this with the previous "
        "analysed frame is a scene cut (a video edit, a camera switch, a loop restarting): every track "
        "ends, so nobody inherits another person's track. 0 disables. Measured on the shared clips: "
        "cuts 0.53-0.70, motion within a shot 0.93 and above.",
    )
    confirm_frames: int = Field(
        0,
        ge=0,
        le=30,
        description="Extra detections a new track needs before it gets an id (0: at once). Must be "
        "below max_missed_frames.",
    )

    @model_validator(mode="after")
    def _confirm_before_expiry(self) -> TrackingSettings:
        if self.confirm_frames >= self.max_missed_frames:
            raise ValueError("tracking.confirm_frames must be below tracking.max_missed_frames")
        return self


class MotionSettings(Strict):
    """Face detection only where something changed (workers/motion.py): detection is most of a camera's
    CPU, and a fixed camera sees the same picture most of the time."""

    enabled: bool = Field(
        True,
        description="Skip detection on an analysed frame in which nothing changed since the last "
        "detection; its faces are still where they were, so tracks and votes simply wait.",
    )
    keepalive_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Detect at least this often whatever the frames look like, so a track is confirmed "
        "(or ends) even in a scene too still to notice.",
    )
    pixel_delta: int = Field(
        10,
        ge=1,
        le=255,
        description="Grey levels a pixel of the small blurred copy must change by to count as changed. "
        "A still scene encoded by x264 with sensor noise of 8 grey levels changed at most 1 pixel of "
        "57,600 by more than 10; a person moving, hundreds to thousands.",
    )

    full_frame_every: int = Field(
        2,
        ge=1,
        le=25,
        description="Analysed frames per whole-frame detection while the picture changes; on the frames "
        "between, faces are detected only around the camera's tracks (their last box and motion, "
        "widened by track_margin), at the same size, so a tracked face is still analysed on every "
        "analysed frame and a new face is found at the next whole-frame detection (at 5 fps and 2: "
        "within 0.4 s). 1: every analysed frame is detected whole.",
    )
    track_margin: float = Field(
        0.5,
        ge=0.25,
        le=4,
        description="Between whole-frame detections, a track's region is its predicted box widened by "
        "this many face sides on every side.",
    )


class QualitySettings(Strict):
    """Cheap gates on a detected face before any embedding is spent on it.

    The defaults were measured on the shared Hamilton clip and photos: sharp faces score 400-1400 on
    the sharpness scale, the defocused stage and audience faces 2-16; frontal faces have |yaw| < 0.4,
    profiles 0.9 and above. The smallest face is ``recognition.min_face_px``.
    """

    min_detector_score: float = Field(
        0.7, ge=0, le=1, description="Faces the detector is less sure of than this are not embedded."
    )
    sharpness_px: int = Field(
        64, ge=16, le=256, description="Side of the grey face crop on which sharpness is measured."
    )
    min_sharpness: float = Field(
        25.0,
        ge=0,
        le=10_000,
        description="Smallest variance of the Laplacian of the face crop (resized to sharpness_px); "
        "below it the face is too blurred to recognise.",
    )
    max_yaw: float = Field(
        0.6,
        gt=0,
        le=2,
        description="Largest sideways turn: the nose's offset from the eyes' midpoint in eye distances "
        "(0 frontal, ~0.6 about 40 degrees).",
    )
    max_pitch: float = Field(
        0.3,
        gt=0,
        le=1,
        description="Largest nod: the nose's deviation from its frontal height between the eye and "
        "mouth lines, as a fraction of that distance.",
    )
    good_face_px: int = Field(
        112,
        ge=16,
        le=1000,
        description="Face side at which size stops improving the quality score (the embedder's input).",
    )
    good_sharpness: float = Field(
        300.0, gt=0, le=100_000, description="Sharpness at which it stops improving the quality score."
    )


class VoteSettings(Strict):
    """How per-frame matches over one track become one identity decision, and the budgets per track."""

    strong_margin: float = Field(
        0.08,
        ge=0.01,
        le=0.5,
        description="A single frame this far above its list's threshold is enough to decide (the strong "
        "rule); the calibration bounds false alerts from both rules (pipeline/calibration.py).",
    )
    min_frames: int = Field(
        3,
        ge=1,
        le=100,
        description="Frames of a track that must match the same profile (at or above its list's "
        "threshold) before the track is decided without a strong frame.",
    )
    min_match_fraction: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Fraction of a track's embedded frames that must match the leading profile for a "
        "consensus decision; a stranger's occasional look-alike frames do not add up to one.",
    )
    min_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="A frame whose best profile leads the second-best by less than this is ambiguous "
        "and votes for neither.",
    )
    max_rival_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="No decision while the second profile's quality-weighted support exceeds this "
        "fraction of the leader's (two identities on one track: a tie).",
    )
    template_min_faces: int = Field(
        2,
        ge=2,
        le=100,
        description="Faces in a track's template before it votes. Two: the alert comes one analysed "
        "frame (0.2 s at 5 fps) after a second look at the person, not two; a single face never decides "
        "below the strong threshold. The calibration bound counts every look of the template whenever "
        "it starts (pipeline/calibration.py), so this does not loosen it.",
    )
    max_attempts: int = Field(
        15,
        ge=1,
        le=1000,
        description="Budget: embeddings spent on one track, decisions and updates included.",
    )
    max_track_age_s: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="Budget: a track older than this is closed and its object starts a new track, so "
        "a long stay is re-examined and per-track state stays bounded.",
    )
    update_min_quality_gain: float = Field(
        1.5,
        ge=1,
        le=100,
        description="After a decision, a face is embedded again only if its quality beats the "
        "published best shot by this factor; if it matches the same profile it is published as an "
        "update with the better evidence.",
    )
    max_updates: int = Field(
        2, ge=0, le=100, description="Updates published per track and identity after its decision."
    )
