"""Staff sign-in, tokens, integration keys and the audit chain's key (``security:`` in the YAML file),
included as ``Settings.security``. The secrets default to a development value that ``Settings`` refuses
outside development."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from pipeline.settings.base import Strict

DEV_SECRET = "development-only-secret-change-me"  # noqa: S105 (refused outside development)


class SecuritySettings(Strict):
    jwt_secret: SecretStr = Field(
        SecretStr(DEV_SECRET), description="Signs access tokens (HS256); at least 32 characters."
    )
    api_key_pepper: SecretStr = Field(
        SecretStr(DEV_SECRET), description="Server-side secret mixed into integration key hashes."
    )
    audit_anchor_every_s: float = Field(
        60.0,
        ge=1,
        le=86_400,
        description="How often the audit chain's head is anchored in JetStream when it moved (and at "
        "shutdown): entries removed or rewritten since an anchor are detected by audit verify.",
    )
    audit_key: SecretStr = Field(
        SecretStr(DEV_SECRET),
        description="Keys the audit trail's hash chain (HMAC): kept out of the database, so its "
        "administrator cannot rewrite entries and recompute the chain.",
    )
    access_token_ttl_s: int = Field(900, ge=60, le=86_400, description="Lifetime of an access token.")
    refresh_token_ttl_s: int = Field(
        43_200, ge=300, le=30 * 86_400, description="Lifetime of a refresh token (about one shift)."
    )
    otp_ttl_s: int = Field(300, ge=30, le=3600, description="How long a one-time code stays valid.")
    otp_digits: int = Field(6, ge=6, le=10)
    max_failed_attempts: int = Field(
        5,
        ge=1,
        le=100,
        description="Wrong codes for one (government ID, mobile) pair before the pair locks; attempts with "
        "another mobile never count against an account.",
    )
    lockout_s: int = Field(900, ge=10, le=86_400, description="How long a locked pair stays locked.")
    max_requests_per_address: int = Field(
        300,
        ge=1,
        le=100_000,
        description="Sign-in requests (codes asked for and tried) one source address may make per "
        "address_window_s: generous, since a control room's consoles may share one address.",
    )
    address_window_s: int = Field(900, ge=10, le=86_400, description="Window of the per-address throttle.")
    sms_backend: Literal["console", "outbox", "http"] = Field(
        "console",
        description="console: log codes (development); outbox: append JSON lines to "
        "sms_outbox (tests); http: POST to sms_http_url (a real gateway adapter).",
    )
    sms_outbox: Path = Field(Path("data/sms_outbox.jsonl"), description="File for the outbox backend.")
    sms_http_url: str = Field("", description="SMS gateway endpoint for the http backend.")
    trust_tokens_without_session_store: bool = Field(
        True,
        description="While Redis (the session store) is down, accept unexpired access tokens of active "
        "accounts without the logout check, so operators keep acknowledging and dispatching; a token "
        "logged out during the outage stays usable until it expires (access_token_ttl_s). Sign-in, "
        "refresh and logout answer 503 meanwhile. False refuses every staff request (503) instead.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser; none by default."
    )
