"""JSON and text log lines: ids from ``extra=``, a camera's threads named after it, exceptions."""

from __future__ import annotations

import json
import logging
import sys
import threading
import uuid

import pytest

from pipeline.log_format import JsonFormatter, TextFormatter, configure_logging


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("safecity.test", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_extra_ids_and_stay_valid_json() -> None:
    event_id = uuid.uuid4()
    line = JsonFormatter().format(record('hit "%s"\nnext', "x", camera_id="cam-1", event_id=event_id))
    data = json.loads(line)
    assert "\n" not in line  # one line per record, whatever the message holds
    assert data["message"] == 'hit "x"\nnext'
    assert data["level"] == "WARNING" and data["logger"] == "safecity.test"
    assert data["camera_id"] == "cam-1" and data["event_id"] == str(event_id)
    assert data["time"].endswith("+00:00")


@pytest.mark.parametrize(
    ("thread_name", "camera"),
    [("source-cam-7", "cam-7"), ("analyse-gate_2", "gate_2"), ("MainThread", None), ("source-", None)],
)
def test_a_cameras_own_threads_name_it(thread_name: str, camera: str | None) -> None:
    lines: list[str] = []

    def log_one() -> None:
        lines.append(JsonFormatter().format(record("frame")))

    thread = threading.Thread(target=log_one, name=thread_name)
    thread.start()
    thread.join()
    assert json.loads(lines[0]).get("camera_id") == camera


def test_exceptions_are_kept() -> None:
    try:
        raise ValueError("bad frame")
    except ValueError:
        rec = record("failed")
        rec.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter().format(rec))
    assert "ValueError: bad frame" in data["exc"]


def test_text_lines_append_ids() -> None:
    line = TextFormatter().format(record("lease claimed", camera_id="cam-1", lease_revision=4))
    assert line.endswith("lease claimed [camera_id=cam-1 lease_revision=4]")


def test_configure_logging_installs_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    root.handlers[:] = []  # as in a fresh process (pytest has its own handlers on the root)
    try:
        configure_logging("INFO", "json")
        configure_logging("INFO", "json")  # twice: still one line per record
        logging.getLogger("safecity.x").info("ready", extra={"worker_id": "w1"})
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and json.loads(err[0])["worker_id"] == "w1"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
