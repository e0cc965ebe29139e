"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.private_servers import PrivateNats


@pytest.fixture
def private_nats() -> Iterator[PrivateNats]:
    """A NATS server with JetStream of the test's own (one it may stop and start)."""
    server = PrivateNats()
    server.start()
    try:
        yield server
    finally:
        server.close()
