"""What arrest screening finds: a link from the arrested person to another case (a CRO person, an earlier
arrest, a missing person, an unidentified body, a watchlist profile), how it was found, how sure it is,
and the officers of that case to tell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from command_center.records.arrests import Arrest
from command_center.records.names import name_key, score
from command_center.records.types import Person
from pipeline.contracts import BulletinLink

FATHER_MIN_SCORE = 0.8


@dataclass
class Link:
    kind: str  # person, arrest, missing, udr, profile
    id: int
    name: str
    how: str
    score: float
    detail: str = ""
    strong: bool = True
    officers: set[int] = field(default_factory=set)
    person: Person | None = None

    @property
    def url(self) -> str:
        return {
            "person": f"/persons/{self.id}",
            "arrest": f"/arrests/{self.id}",
            "missing": f"/missing/{self.id}",
            "udr": f"/udr/{self.id}",
            "profile": f"/watchlist/profiles/{self.id}",
        }[self.kind]

    def contract(self) -> BulletinLink:
        return BulletinLink(
            kind=self.kind,
            id=self.id,
            name=self.name[:200],
            how=self.how,
            score=max(0.0, min(1.0, round(self.score, 4))),
            detail=self.detail[:500],
            url=self.url,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            **self.contract().model_dump(mode="json"),
            "strong": self.strong,
            "officers": sorted(self.officers),
        }


def same_father(a: Arrest, b: Arrest) -> bool:
    if not a.father_name or not b.father_name:
        return False
    return score(name_key(a.father_name), name_key(b.father_name)) >= FATHER_MIN_SCORE


def arrest_link(arrest: Arrest, how: str, value: float, strong: bool = True) -> Link:
    return Link(
        "arrest", arrest.id, arrest.person_name, how, value, arrest.case_label, strong, {arrest.officer_id}
    )


def missing_link(case: Any, how: str, value: float) -> Link:
    detail = f"missing since {case.last_seen_at:%Y-%m-%d}, {case.district or case.police_station}"
    return Link("missing", case.id, case.name, how, value, detail, True, {case.registered_by_id})


def udr_link(case: Any, value: float) -> Link:
    detail = f"unidentified body {case.udr_number}, found {case.found_at:%Y-%m-%d}"
    return Link("udr", case.id, case.udr_number, "face", value, detail, True, {case.registered_by_id})
