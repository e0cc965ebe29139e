"""A plain (core NATS) subscription held by a component: opened by ``subscribe``, closed quietly."""

from __future__ import annotations

import contextlib

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


class Listening:
    """Subclasses name ``_subject`` and handle ``_on_message``."""

    _subject: str
    _subscription: Subscription | None = None

    async def subscribe(self, nc: NATS) -> None:
        self._subscription = await nc.subscribe(self._subject, cb=self._on_message)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _on_message(self, msg: Msg) -> None:
        raise NotImplementedError
