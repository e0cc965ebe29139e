"""camera_sim: replays H.264 and HEVC files as live RTSP cameras (GStreamer RTSP server, no re-encoding).

``scenario`` (YAML → pydantic), ``clip`` (demux once), ``feeder`` (one clock per camera, frame stamps),
``server`` (``CameraSimulator``), ``publisher`` (FrameSent events on NATS). Nothing is imported here, so
that importing the package does not load GStreamer.
"""
