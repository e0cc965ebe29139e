"""Settings of the fingerprint identification client (``afis:`` in the YAML file): where the AFIS is,
how long to wait for it and the lowest score worth showing. No URL: ``POST /fingerprints/identify``
answers 503."""

from __future__ import annotations

from pydantic import Field

from pipeline.settings.base import Strict


class AfisSettings(Strict):
    url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="The AFIS endpoint that takes ANSI/NIST-ITL transactions (e.g. the project's own "
        "`safecity afis serve`: http://host:port/transactions); none means fingerprint search is off.",
    )
    timeout_s: float = Field(20.0, gt=0, le=300, description="How long to wait for the AFIS's answer.")
    min_score: float = Field(
        35.0,
        ge=0,
        le=100,
        description="Candidates scoring below this are not returned (0-100; the project's AFIS scores "
        "unrelated synthetic prints at most ~25 and other impressions of the same finger 45 or more).",
    )
    max_candidates: int = Field(10, ge=1, le=50, description="Most candidates returned.")
    origin: str = Field(
        "SAFECITY", pattern=r"^[A-Za-z0-9]{1,20}$", description="1.008 ORI: this agency's identifier."
    )
    destination: str = Field(
        "AFIS", pattern=r"^[A-Za-z0-9]{1,20}$", description="1.007 DAI: the AFIS's agency identifier."
    )
