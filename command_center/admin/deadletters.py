"""Dead letters: messages a consumer can never handle, kept with their error instead of retried for ever.

NATS JetStream's own guidance: terminate what can never succeed, keep it where someone can look. A
consumer that meets a permanent failure (a message its contract refuses, a value the database refuses, a
camera in the body that is not the one in the subject) copies the message, byte for byte, with its
original subject and the error, to ``<prefix>.deadletters.<origin>`` (stream ``<PREFIX>_DEADLETTERS``)
and only then terminates it; if the copy cannot be made, the message waits and is tried again, so nothing
is lost either way. Failures that can pass (the database away, a timeout) are retried as before.

``DeadLetters`` reads that stream for ``safecity deadletters``: list, show, replay (publish the message
again on its original subject, then delete the copy) and drop.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from pipeline.adapters.streams import deadletters_stream_config, ensure_stream
from pipeline.subjects import Subjects

ORIGINAL_SUBJECT = "Safecity-Original-Subject"
ERROR = "Safecity-Error"
FAILED_AT = "Safecity-Failed-At"
CONSUMER = "Safecity-Consumer"
MAX_ERROR = 2_000


def retryable(exc: BaseException) -> bool:
    """Whether a failure to handle a message can pass by itself (the database or the network away)."""
    return isinstance(
        exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout | TimeoutError | OSError
    )


async def dead_letter(
    js: JetStreamContext, names: Subjects, msg: Msg, origin: str, consumer: str, error: str
) -> None:
    """Copy ``msg`` with its error to the dead-letter stream (raises if it cannot be stored)."""
    await ensure_stream(js, deadletters_stream_config(names))
    headers = {
        ORIGINAL_SUBJECT: msg.subject,
        ERROR: " ".join(error.split())[:MAX_ERROR],
        FAILED_AT: datetime.now(UTC).isoformat(),
        CONSUMER: consumer,
    }
    original_id = (msg.headers or {}).get("Nats-Msg-Id")
    if original_id:
        # De-duplicated: dead-lettered twice (a replica died between copy and terminate), it is kept once.
        headers["Nats-Msg-Id"] = f"dead:{original_id}"[:256]
    await js.publish(names.deadletter(origin), msg.data, headers=headers)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    seq: int
    origin: str
    original_subject: str
    error: str
    failed_at: str
    consumer: str
    data: bytes

    def summary(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "origin": self.origin,
            "subject": self.original_subject,
            "error": self.error,
            "failed_at": self.failed_at,
            "consumer": self.consumer,
            "bytes": len(self.data),
        }


class DeadLetterNotFound(LookupError):
    def __init__(self, seq: int) -> None:
        super().__init__(f"no dead letter with sequence {seq}")


class DeadLetters:
    def __init__(self, js: JetStreamContext, names: Subjects) -> None:
        self._js = js
        self._names = names
        self._stream = names.deadletters_stream

    async def count(self) -> int:
        await ensure_stream(self._js, deadletters_stream_config(self._names))
        return int((await self._js.stream_info(self._stream)).state.messages)

    async def list(self, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters still kept, read in batches by a consumer of this call's own
        (one request per message would take seconds for a few thousand)."""
        await ensure_stream(self._js, deadletters_stream_config(self._names))
        if not (await self._js.stream_info(self._stream)).state.messages:
            return []
        sub = await self._js.pull_subscribe(
            self._names.stream_subjects("deadletters")[0],
            stream=self._stream,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
        )
        found: list[DeadLetter] = []
        try:
            while len(found) < limit:
                try:
                    batch = await sub.fetch(min(_FETCH, limit - len(found)), timeout=1.0)
                except nats.errors.TimeoutError:
                    break
                found.extend(_letter(msg) for msg in batch)
                if batch[-1].metadata.num_pending == 0:
                    break
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return found[:limit]

    async def get(self, seq: int) -> DeadLetter:
        try:
            raw = await self._js.get_msg(self._stream, seq)
        except NotFoundError:
            raise DeadLetterNotFound(seq) from None
        return _made(seq, raw.subject or "", raw.headers or {}, raw.data or b"")

    async def replay(self, seq: int) -> DeadLetter:
        """Publish the message again on its original subject (a fix deployed, say), then delete the copy.
        A new message id: the original's is still remembered by the stream's de-duplication window."""
        letter = await self.get(seq)
        if not letter.original_subject:
            raise DeadLetterNotFound(seq)
        replay_id = f"replay:{seq}:{uuid.uuid4()}"
        await self._js.publish(letter.original_subject, letter.data, headers={"Nats-Msg-Id": replay_id})
        await self._js.delete_msg(self._stream, seq)
        return letter

    async def drop(self, seq: int) -> DeadLetter:
        letter = await self.get(seq)
        await self._js.delete_msg(self._stream, seq)
        return letter


_FETCH = 500


def _made(seq: int, subject: str, headers: dict[str, str], data: bytes) -> DeadLetter:
    return DeadLetter(
        seq=seq,
        origin=subject.rpartition(".")[2],
        original_subject=headers.get(ORIGINAL_SUBJECT, ""),
        error=headers.get(ERROR, ""),
        failed_at=headers.get(FAILED_AT, ""),
        consumer=headers.get(CONSUMER, ""),
        data=data,
    )


def _letter(msg: Msg) -> DeadLetter:
    return _made(msg.metadata.sequence.stream, msg.subject, dict(msg.headers or {}), msg.data)
