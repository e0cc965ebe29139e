"""The legal basis of a watchlist entry and the rules of its review (four-eyes).

A profile is proposed (``pending_add``), then approved (``active``) or rejected (``rejected``) by a
second person. Removal is proposed likewise (``pending_removal``, still matching meanwhile) and takes
effect only when someone other than its proposer approves it (``removed``); a rejected removal goes
back to ``active``. An entry stops matching when its ``expires_at`` passes, whatever its status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pipeline.adapters.database import as_utc
from watchlist.tables import MAX_ACTOR_LENGTH, MAX_REASON_LENGTH, MAX_REFERENCE_LENGTH

MAX_VALIDITY = timedelta(days=5 * 365 + 2)  # five years, leap days included
MIN_TEXT = 3
MIN_REASON = 5


class Status(StrEnum):
    PENDING_ADD = "pending_add"
    ACTIVE = "active"
    REJECTED = "rejected"
    PENDING_REMOVAL = "pending_removal"
    REMOVED = "removed"


IN_FORCE = (Status.ACTIVE, Status.PENDING_REMOVAL)  # statuses whose (unexpired) entries match
PENDING = (Status.PENDING_ADD, Status.PENDING_REMOVAL)


class InvalidProfileError(ValueError):
    """A profile field that cannot be stored; the message says which and why."""


class ReviewError(Exception):
    """A review step refused; ``code`` is the HTTP status an API should answer with."""

    code = 409


class WrongStatusError(ReviewError):
    """The profile is not in a state that allows this step (409)."""


class FourEyesError(ReviewError):
    """The reviewer is the person who proposed the change (403)."""

    code = 403


utc = as_utc  # a naive moment (a date-only input) is taken to be UTC


def identity(actor: str) -> str:
    """The part of an audit actor name that identifies a person: ``kind:id`` of ``kind:id:name``.

    Four-eyes compares identities, so a renamed account is still the same pair of eyes.
    """
    parts = actor.split(":", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return f"{parts[0]}:{parts[1]}"
    return actor


def same_person(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and identity(a) == identity(b)


def _text(field: str, value: str, maximum: int, minimum: int = MIN_TEXT) -> str:
    text = " ".join(value.split())
    if len(text) < minimum:
        raise InvalidProfileError(f"{field} is required (at least {minimum} characters)")
    if len(text) > maximum:
        raise InvalidProfileError(f"{field} is {len(text)} characters; at most {maximum} allowed")
    if not text.isprintable():
        raise InvalidProfileError(f"{field} contains control characters")
    return text


def validate_actor(actor: str) -> str:
    return _text("actor", actor, MAX_ACTOR_LENGTH, minimum=1)


def validate_reason(reason: str | None) -> str:
    return _text("reason", reason or "", MAX_REASON_LENGTH, minimum=MIN_REASON)


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """Why the state may search for this person: FIR/warrant reference, who authorised it, until when."""

    legal_reference: str
    authorised_by: str
    expires_at: datetime

    def validated(self, now: datetime | None = None) -> LegalBasis:
        """A normalised copy; raises InvalidProfileError naming the field at fault."""
        now = now or datetime.now(UTC)
        expires = utc(self.expires_at)
        if expires <= now:
            raise InvalidProfileError(f"expires_at {expires.isoformat()} is not in the future")
        if expires - now > MAX_VALIDITY:
            raise InvalidProfileError(
                f"expires_at {expires.isoformat()} is more than five years away; renew the entry instead"
            )
        return LegalBasis(
            legal_reference=_text("legal_reference", self.legal_reference, MAX_REFERENCE_LENGTH),
            authorised_by=_text("authorised_by", self.authorised_by, MAX_ACTOR_LENGTH),
            expires_at=expires,
        )
