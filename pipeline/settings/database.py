"""How a long-running process holds its database connections (``database_pool:`` in the YAML file): how
many, how long a request waits for one, and how long PostgreSQL may take to connect or run a statement.

A request that finds no free connection within ``wait_s``, or a database that is down, is answered 503
with Retry-After by the command centre, never 500. Size the pool so that every process of every replica
together stays under PostgreSQL's ``max_connections`` (default 100): replicas x worker processes x
(size + overflow), plus the workers and CLI commands that connect too."""

from __future__ import annotations

from pydantic import Field

from pipeline.settings.base import Strict


class DatabasePoolSettings(Strict):
    size: int = Field(5, ge=1, le=200, description="Connections kept open (PostgreSQL).")
    overflow: int = Field(
        10, ge=0, le=500, description="Connections opened beyond `size` under load, closed when returned."
    )
    wait_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="How long a request waits for a free connection before it is refused as busy (503).",
    )
    connect_timeout_s: int = Field(
        10, ge=1, le=300, description="How long connecting to PostgreSQL may take (an unreachable host)."
    )
    statement_timeout_s: float = Field(
        0,
        ge=0,
        le=3600,
        description="PostgreSQL cancels a statement running longer than this (the request gets 503); 0: no "
        "limit. Migrations run without it.",
    )
