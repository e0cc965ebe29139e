"""How a worker reads camera streams: what it need not decode, how long it waits for a keyframe, and the
evidence it takes from a camera's main stream when it analyses the camera's sub-stream.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.settings.base import Strict


class StreamSettings(Strict):
    skip_nonref: bool = Field(
        True,
        description="Frames that no analysis will take and no other frame refers to (B-frames, a "
        "camera's non-reference P-frames) are not decoded. Costs nothing in recognition; streams whose "
        "every frame is a reference (most cameras send IPPP...) gain nothing either.",
    )
    skip_loop_filter: bool = Field(
        False,
        description="Decode without the deblocking (loop) filter: 10-25 % cheaper (4K HEVC 499 -> 399 ms "
        "a camera-second), but the reference pictures drift from the encoder's until the next keyframe, "
        "and a genuine face's median similarity drops by 0.011-0.016 at 720p and 1080p (0.008 at 4K). "
        "Worth it only for large faces on high-resolution streams (README, Camera streams).",
    )
    keyframe_wait_s: float = Field(
        60.0,
        ge=5,
        le=600,
        description="How long a connection that has received no keyframe yet may decode nothing before "
        "it is opened again. A camera joined between keyframes decodes nothing until its next one, which "
        "a long-GOP ('smart codec') camera sends only every 10-20 s; that is waiting, not a fault.",
    )
    evidence_buffer_s: float = Field(
        10.0,
        ge=1,
        le=60,
        description="For a camera analysed on its sub-stream (analysis_url): how much of its main stream "
        "is kept, compressed and undecoded, to take a hit's evidence images from. Must cover a GOP and "
        "the time from a track's best shot to its hit.",
    )
    evidence_wait_s: float = Field(
        1.2,
        ge=0,
        le=5,
        description="For a camera analysed on its sub-stream: how long after a face hit (which goes at once "
        "with the sub-stream's images) the worker may still send the camera's main-stream crop and scene of "
        "the same instant, to sharpen the alert in place. Decoding from the keyframe before the frame takes "
        "~0.1 s for 1080p H.264 and 0.4-1.1 s for 4K HEVC with a 2 s GOP; a decode that cannot end in time "
        "is not started, and a main-stream crop that does not show what the analysed frame showed is not "
        "sent. 0: the sub-stream's images only.",
    )
