"""Hostile input at the edge: CORS closed by default, oversized bodies, corrupt and bomb images → 4xx."""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js.api import DeliverPolicy

from command_center.app import create_app
from pipeline.settings import Settings
from tests.command_center.helpers import Served, jpeg, serve
from tests.names import subjects

CONSOLE = "https://console.safecity.example"
STRANGER = "https://evil.example"


def with_cors(settings: Settings, origins: list[str]) -> Settings:
    security = settings.security.model_copy(update={"cors_origins": origins})
    return settings.model_copy(update={"security": security})


@contextlib.asynccontextmanager
async def served_with(settings: Settings, nc: Client) -> AsyncIterator[Served]:
    async with serve(create_app(settings, hits_deliver_policy=DeliverPolicy.NEW)) as running:
        yield running
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_consumer(subjects.hits_stream, settings.command_center.consumer_name)


def enrolment_form(name: str) -> dict[str, str]:
    """The text fields ``POST /watchlist/profiles`` needs besides the photos."""
    expires = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    return {
        "name": name,
        "category": "wanted",
        "legal_reference": "FIR 123/2025",
        "authorised_by": "SSP Operations",
        "expires_at": expires,
    }


def preflight(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "GET"}


async def test_cors_is_closed_by_default(served: Served) -> None:
    response = await served.http.options("/alerts", headers=preflight(CONSOLE))
    assert "access-control-allow-origin" not in response.headers
    response = await served.http.get("/health/live", headers={"Origin": CONSOLE})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


async def test_cors_allows_exactly_the_configured_origins(settings: Settings, nc: Client) -> None:
    async with served_with(with_cors(settings, [CONSOLE]), nc) as served:
        allowed = await served.http.options("/alerts", headers=preflight(CONSOLE))
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == CONSOLE
        assert "access-control-allow-credentials" not in allowed.headers
        assert allowed.headers["x-frame-options"] == "DENY"  # security headers on preflights too

        refused = await served.http.options("/alerts", headers=preflight(STRANGER))
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        simple = await served.http.get("/health/live", headers={"Origin": STRANGER})
        assert "access-control-allow-origin" not in simple.headers
        simple = await served.http.get("/health/live", headers={"Origin": CONSOLE})
        assert simple.headers["access-control-allow-origin"] == CONSOLE


def test_a_wildcard_origin_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="'\\*'"):
        create_app(with_cors(settings, ["*"]))


async def test_an_oversized_upload_is_413_not_500(served: Served, settings: Settings) -> None:
    too_big = b"\xff\xd8\xff" + b"\0" * (settings.command_center.max_upload_bytes + 1)
    response = await served.http.post(
        "/watchlist/profiles",
        data=enrolment_form("Big"),
        files=[("photos", ("big.jpg", too_big, "image/jpeg"))],
    )
    assert response.status_code == 413, response.text
    # A JSON body too, on a route that takes one.
    response = await served.http.post(
        "/integrations/hotels",
        content=b'{"name": "' + b"a" * settings.command_center.max_upload_bytes + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text


async def test_an_oversized_chunked_body_is_413_too(served: Served, settings: Settings) -> None:
    """No Content-Length to check up front: the limit counts bytes as they stream in."""
    limit = settings.command_center.max_upload_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(limit // 65_536 + 2):
            yield b"a" * 65_536
        yield b'"}'

    response = await served.http.post(
        "/integrations/hotels", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text


def png_header(width: int, height: int, tail: bytes = b"") -> bytes:
    """A PNG signature and a well-formed IHDR chunk (valid CRC) claiming ``width`` x ``height``."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + tail


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG whose start-of-frame says ``width`` x ``height``, followed by no real image data."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xd9"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.jpg", b"", "empty"),
        ("corrupt.png", png_header(64, 64, b"\x00\x00\x00\x10IDAT" + b"\x13" * 40), "corrupt"),
        ("truncated.jpg", jpeg((10, 200, 30), 128)[:200], "corrupt"),
        ("bomb.png", png_header(100_000, 100_000), "pixels"),
        ("bomb.jpg", jpeg_claiming(65_000, 65_000), "pixels"),
        ("zero.png", png_header(0, 64), "empty size"),
        ("text.jpg", b"GIF89a not really", "not a readable"),
    ],
)
async def test_bad_images_are_refused_with_4xx(served: Served, name: str, data: bytes, reason: str) -> None:
    response = await served.http.post(
        "/watchlist/profiles",
        data=enrolment_form("Hostile Upload"),
        files=[("photos", (name, data, "image/png"))],
        timeout=120,
    )
    assert 400 <= response.status_code < 500, response.text
    detail = str(response.json()["detail"])
    assert name in detail and reason in detail


@pytest.mark.parametrize(
    "url",
    [
        "/audit?target=%00x",
        "/audit?actor=a%00",
        "/watchlist/profiles?category=wanted%00&reason=enquiry%2012",
        "/watchlist/profiles/1%00",
        "/integrations/keys/0123456789abcde%00",
    ],
)
async def test_a_nul_in_the_url_is_400_on_every_database(served: Served, url: str) -> None:
    response = await served.http.get(url)
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("name", ["Bad\x00Name", "Bad\x1bName", "Bad\u202eName"])
async def test_control_characters_in_a_profile_name_are_422(
    served: Served, media_dir: Path, name: str
) -> None:
    """Found by schemathesis-style probing: a NUL in the name was a 500 from PostgreSQL."""
    photo = (media_dir / "faces" / "obama" / "examples_obama.jpg").read_bytes()
    response = await served.http.post(
        "/watchlist/profiles",
        data=enrolment_form(name),
        files=[("photos", ("obama.jpg", photo, "image/jpeg"))],
        timeout=120,
    )
    assert response.status_code == 422, response.text
    assert "control character" in response.json()["detail"]
