"""nats_url as a list, nats_replicas applied to what the services create (one server here; the three-node
cluster is tests/fleet/)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import nats
import nats.errors
import pytest
from nats.js.api import StreamConfig

from pipeline.adapters import streams
from pipeline.adapters.fleet import ensure_bucket
from pipeline.settings import ConfigError, parse


@pytest.fixture
def replicas() -> Iterator[None]:
    yield
    streams.use_replicas(1)


def test_nats_url_takes_a_list_or_a_comma_separated_string() -> None:
    listed = parse({"nats_url": ["nats://10.0.0.1:4222", " nats://10.0.0.2:4222"]})
    assert listed.nats_url == "nats://10.0.0.1:4222,nats://10.0.0.2:4222"
    assert parse({"nats_url": "nats://a:4222,nats://b:4222"}).nats_url == "nats://a:4222,nats://b:4222"
    assert parse({}).nats_replicas == 1


@pytest.mark.parametrize("count", [0, 6])
def test_nats_replicas_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(ConfigError, match="nats_replicas"):
        parse({"nats_replicas": count})


def _config() -> StreamConfig:
    name = f"T_{uuid.uuid4().hex[:10]}"
    return StreamConfig(name=name, subjects=[f"test.{name}.>"])


async def test_streams_and_buckets_are_created_with_the_configured_replicas(
    nats_url: str, replicas: None
) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        streams.use_replicas(1)
        config = _config()
        await streams.ensure_stream(js, config)
        assert (await js.stream_info(config.name or "")).config.num_replicas == 1
        bucket = f"t_{uuid.uuid4().hex[:10]}"
        await ensure_bucket(js, bucket, ttl_s=5)
        assert (await js.stream_info(f"KV_{bucket}")).config.num_replicas == 1
        await js.delete_stream(config.name or "")
        await js.delete_key_value(bucket)
    finally:
        await nc.close()


async def test_more_replicas_than_servers_leaves_an_existing_stream_as_it_was(
    nats_url: str, replicas: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A single server cannot keep three copies: the stream stays, the service starts, the log says why."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        config = _config()
        await streams.ensure_stream(js, config)
        streams.use_replicas(3)
        with caplog.at_level(logging.WARNING, logger="pipeline.adapters.streams"):
            await streams.ensure_stream(js, config)
        assert (await js.stream_info(config.name or "")).config.num_replicas == 1
        assert f"stream {config.name}: could not change replicas to 3" in caplog.text
        await js.delete_stream(config.name or "")
    finally:
        await nc.close()


async def test_set_up_is_tried_again_while_a_cluster_elects_its_leaders() -> None:
    calls = 0

    async def setup() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise nats.errors.TimeoutError
        return "created"

    assert await streams.patiently("stream T", setup, budget_s=10) == "created"
    assert calls == 3


async def test_set_up_gives_up_after_its_budget() -> None:
    async def setup() -> None:
        raise nats.errors.TimeoutError

    with pytest.raises(nats.errors.TimeoutError):
        await streams.patiently("stream T", setup, budget_s=0.2)
