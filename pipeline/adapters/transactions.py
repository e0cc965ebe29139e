"""One transaction around several stores' writes: a unit of work that stores join without knowing it.

Stores open their connections with ``begin(engine)`` (to write) and ``connect(engine)`` (to read) instead
of ``engine.begin()`` / ``engine.connect()``. Outside a unit nothing changes: each call is its own
transaction. Inside ``unit(engine)`` (in this thread or task, and in the threads it hands work to, since
context variables travel with ``asyncio.to_thread`` and ``run_in_threadpool``) every call of the same engine
shares the unit's one connection, inside a savepoint of its own; the unit commits once at its end, or rolls
everything back when anything in it failed. The command centre wraps each audited change and its audit
entry in a unit, so either both are stored or neither is.

The unit's connection is opened at its first use, and ``on_open`` (the audit chain's lock) runs first on it:
units that audit are serialised from their first statement, so the chain's order is the commit order and
SQLite never has to upgrade a read lock to a write lock. Calls from one unit must not run concurrently.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection, RootTransaction

OnOpen = Callable[[Connection], None]


class Unit:
    """The shared connection of one unit of work (opened lazily)."""

    def __init__(self, engine: Engine, on_open: OnOpen | None = None) -> None:
        self.engine = engine
        self._on_open = on_open
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None
        self._guard = threading.Lock()
        self.finished = False  # a task started inside the unit may outlive it; it then works on its own
        self._after: list[Callable[[], Awaitable[None] | None]] = []
        self.nested = True  # each store's call in a savepoint of its own

    @classmethod
    def over(cls, engine: Engine, conn: Connection) -> Unit:
        """A unit on a connection already in a transaction that its caller commits (a group commit):
        stores inside it write in savepoints of that transaction; ``finish`` is the caller's to skip."""
        found = cls(engine)
        found._conn = conn
        found.nested = False  # the caller runs its work again when any of it fails (no savepoints)
        return found

    @property
    def opened(self) -> bool:
        return self._conn is not None

    def connection(self) -> Connection:
        with self._guard:
            if self.finished:
                raise RuntimeError("this unit of work has finished")
            if self._conn is None:
                conn = self.engine.connect()
                try:
                    self._tx = conn.begin()
                    if self._on_open is not None:
                        self._on_open(conn)
                except BaseException:
                    conn.close()
                    raise
                self._conn = conn
            return self._conn

    def after_commit(self, action: Callable[[], Awaitable[None] | None]) -> None:
        self._after.append(action)

    def committed(self) -> list[Awaitable[None]]:
        """Run what waited for the commit (call where those actions belong, e.g. the event loop); the
        awaitables the asynchronous ones returned, for the caller to await."""
        actions, self._after = self._after, []
        started = [action() for action in actions]
        return [a for a in started if a is not None]

    def finish(self, commit: bool) -> None:
        """Commit (or roll back) and release the connection; nothing to do when it was never opened."""
        conn, tx = self._conn, self._tx
        self._conn, self._tx, self.finished = None, None, True
        if conn is None or tx is None:
            return
        try:
            if commit:
                tx.commit()
            else:
                tx.rollback()
        finally:
            conn.close()


_current: ContextVar[Unit | None] = ContextVar("safecity_unit_of_work", default=None)


def current(engine: Engine) -> Unit | None:
    """The unit this context is in, when it is one of ``engine``."""
    found = _current.get()
    if found is None or found.finished or found.engine is not engine:
        return None
    return found


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the current unit of work commits (never if it rolls back); now outside one.
    Work that reads what the unit writes, on a connection of its own, starts this way."""
    found = _current.get()
    if found is None or found.finished:
        action()
    else:
        found.after_commit(action)


async def when_committed(action: Callable[[], Awaitable[None]]) -> None:
    """Await ``action()`` once the current unit of work commits (never if it rolls back); now outside
    one. Announcements that make others read what the unit wrote go this way."""
    found = _current.get()
    if found is None or found.finished:
        await action()
    else:
        found.after_commit(action)


@contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction: the unit's (in a savepoint) inside one, else a new transaction."""
    with _shared(engine, engine.begin) as conn:
        yield conn


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection to read with; inside a unit its connection, so that it sees the unit's own writes."""
    with _shared(engine, engine.connect) as conn:
        yield conn


@contextmanager
def _shared(engine: Engine, own: Callable[[], AbstractContextManager[Connection]]) -> Iterator[Connection]:
    found = current(engine)
    if found is None:
        with own() as conn:
            yield conn
        return
    conn = found.connection()
    if not found.nested:
        yield conn
        return
    with conn.begin_nested():
        yield conn


@contextmanager
def entered(found: Unit) -> Iterator[Unit]:
    """Make ``found`` the current unit of this context (finishing it is up to the caller)."""
    token = _current.set(found)
    try:
        yield found
    finally:
        _current.reset(token)


@contextmanager
def unit(engine: Engine, on_open: OnOpen | None = None) -> Iterator[Unit]:
    """Run the block as one transaction: commit when it returns, roll back when it raises."""
    found = Unit(engine, on_open)
    with entered(found):
        try:
            yield found
        except BaseException:
            found.finish(commit=False)
            raise
    found.finish(commit=True)
    found.committed()


@asynccontextmanager
async def unit_async(engine: Engine, on_open: OnOpen | None = None) -> AsyncIterator[Unit]:
    """``unit`` for asynchronous code: the block's threads share it; commit and rollback run in a thread,
    and what waited for the commit (``when_committed``) is awaited after it."""
    found = Unit(engine, on_open)
    with entered(found):
        try:
            yield found
        except BaseException:
            await asyncio.to_thread(found.finish, False)
            raise
    await asyncio.to_thread(found.finish, True)
    for action in found.committed():
        await action
