"""The NATS side of a deployment: the prefix that keeps its subjects, streams and buckets its own."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from pipeline.settings.base import Strict

if TYPE_CHECKING:
    from pipeline.subjects import Subjects

DEFAULT_PREFIX = "safecity"
# One NATS token that is also valid in stream, KV and object-store names. Lower case only: stream names
# take it upper-cased (SAFECITY_HITS), so "City" and "city" would share streams while their subjects differ.
_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
PREFIX_RULE = (
    "1-32 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit "
    "(one NATS subject token; stream names take it upper-cased)"
)


def check_prefix(prefix: str) -> str:
    """The prefix if it is one; ValueError saying what a prefix may hold otherwise."""
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        raise ValueError(f"not a valid subject prefix: {prefix!r}; a prefix is {PREFIX_RULE}")
    return prefix


class NatsSettings(Strict):
    subject_prefix: str = Field(
        DEFAULT_PREFIX,
        description="Names this deployment on NATS: every subject (<prefix>.hits.face.<camera>), JetStream "
        "stream (<PREFIX>_HITS), KV bucket and object store (<prefix>_cameras) starts with it, so two "
        "deployments sharing one NATS server never see each other's messages or state. 1-32 characters: "
        "lower-case letters, digits, '-' and '_'. Changing it on a running deployment starts it afresh on "
        "NATS (hits not yet consumed stay in the old streams).",
    )

    @field_validator("subject_prefix")
    @classmethod
    def _one_token(cls, value: str) -> str:
        return check_prefix(value)

    @property
    def subjects(self) -> Subjects:
        """The deployment's names, to hand to whatever publishes, subscribes or opens a bucket."""
        from pipeline.subjects import Subjects  # pipeline.subjects reads the settings package

        return Subjects(self.subject_prefix)
