"""A load generator's HTTP/1.1 client kept as lean as a hotel fleet's would be on its own machines.

The bench's client shares the two cores with the server and PostgreSQL; what it spends is taken from
them. So each connection is an ``asyncio.Protocol`` (on uvloop when installed) writing a request built
beforehand in one call and reading the answer from the bytes received: no stream readers, no header
objects, no JSON parsed unless the answer's body is needed. Only what HTTP/1.1 keep-alive with
``Content-Length`` answers needs is understood (the command centre's server, uvicorn, answers so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, cast

_LENGTH = b"\r\ncontent-length:"


def _length(head: bytes) -> int:
    """The Content-Length of a lowercased response head (0 when there is none)."""
    at = head.find(_LENGTH)
    if at < 0:
        return 0
    stop = head.find(b"\r\n", at + 2)
    return int(head[at + len(_LENGTH) : stop if stop >= 0 else len(head)])


class Connection(asyncio.Protocol):
    """One keep-alive connection: ``await exchange(request)`` → (status, body), one request at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._waiter is None:
            return
        head = bytes(self._buffer[:end]).lower()
        total = end + 4 + _length(head)
        if len(self._buffer) < total:
            return
        body = bytes(self._buffer[end + 4 : total])
        del self._buffer[:total]
        waiter, self._waiter = self._waiter, None
        if not waiter.done():
            waiter.set_result((int(head[9:12]), body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionResetError("the server closed the connection"))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` (the whole of it: line, headers, body) and wait for the answer."""
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def connect(host: str, port: int) -> Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(Connection, host, port)
    return protocol


def request(head: bytes, body: bytes) -> bytes:
    """A request ready to send: ``head`` is the request line and headers but Content-Length."""
    return head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """``asyncio.run(main())`` on uvloop when it is installed (as the command centre's server runs)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())
