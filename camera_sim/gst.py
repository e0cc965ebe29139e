"""GStreamer bindings, versions pinned once; ``init()`` is idempotent and called before first use."""

from __future__ import annotations

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")

from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

__all__ = ["GLib", "Gst", "GstRtsp", "GstRtspServer", "init"]


def init() -> None:
    if not Gst.is_initialized():
        Gst.init(None)
