"""Missing person ↔ unidentified dead body: how alike two descriptions (and faces) are. Pure functions.

Hard filters (a pair failing one is no candidate at all): a known sex that differs; a body found before
the person went missing (a day's slack for clocks and late reports); ages more than ``MAX_AGE_GAP``
years apart once the time since the disappearance is added.

Each feature both sides describe scores 0..1, and the feature score is their weighted mean, damped when
few features could be compared (two matching marks say less than a full description):

* age: the ranges overlap (the missing person's age moved on by the time elapsed), else falling by
  0.1 a year of gap;
* height: within 5 cm scores 1, then falling to 0 at 20 cm;
* build and complexion: ordinal scales, the same 1, next to each other 0.5;
* marks and clothing: rapidfuzz ``token_set_ratio`` of the folded texts (word order and extra words
  do not matter: "mole on left cheek" vs "left cheek mole, scar on chin");
* place: the distance when both have coordinates (1 within 10 km, 0 at 300 km), else the same district;
* time: found soon after the disappearance scores 1, a body found years later 0.5.

A face similarity (cosine of the embeddings, when both sides have a face photo) weighs 0.6 against the
features' 0.4: a face match lifts a pair to the top, a clear face mismatch sinks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from command_center.records.names import fold

SEXES = ("male", "female", "unknown")
BUILDS = ("thin", "slim", "medium", "heavy", "obese")
COMPLEXIONS = ("very_fair", "fair", "wheatish", "brown", "dark")
WEIGHTS = {
    "age": 0.2,
    "height": 0.15,
    "build": 0.1,
    "complexion": 0.1,
    "marks": 0.2,
    "clothing": 0.1,
    "place": 0.1,
    "time": 0.05,
}
DATE_SLACK = timedelta(days=1)
MAX_AGE_GAP = 15.0
FACE_WEIGHT = 0.6
FACE_FLOOR, FACE_CEILING = 0.2, 0.6  # cosine: impostors sit near 0, the same person above ~0.45
YEAR_DAYS = 365.25


@dataclass(frozen=True, slots=True)
class Features:
    sex: str
    at: datetime  # last seen (missing person) or found (body)
    age_min: int | None = None
    age_max: int | None = None
    height_cm: int | None = None
    build: str | None = None
    complexion: str | None = None
    marks: str | None = None
    clothing: str | None = None
    district: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class PairScore:
    score: float
    feature_score: float
    face_score: float | None
    reasons: dict[str, float]


def plausible(missing: Features, body: Features) -> bool:
    """The hard filters of sex and time (the age filter needs both ranges: see ``compare``)."""
    if missing.sex != "unknown" and body.sex != "unknown" and missing.sex != body.sex:
        return False
    return body.at >= missing.at - DATE_SLACK


def compare(missing: Features, body: Features, face: float | None = None) -> PairScore | None:
    """How likely the body is the missing person, or None when a hard filter rules it out."""
    if not plausible(missing, body):
        return None
    elapsed_years = max(0.0, (body.at - missing.at).days / YEAR_DAYS)
    reasons: dict[str, float] = {}
    age = _age(missing, body, elapsed_years)
    if age is not None:
        gap, value = age
        if gap > MAX_AGE_GAP:
            return None
        reasons["age"] = value
    _put(reasons, "height", _height(missing.height_cm, body.height_cm))
    _put(reasons, "build", _ordinal(BUILDS, missing.build, body.build))
    _put(reasons, "complexion", _ordinal(COMPLEXIONS, missing.complexion, body.complexion))
    _put(reasons, "marks", _text(missing.marks, body.marks))
    _put(reasons, "clothing", _text(missing.clothing, body.clothing))
    _put(reasons, "place", _place(missing, body))
    reasons["time"] = max(0.5, 1.0 - elapsed_years / 4)
    weight = sum(WEIGHTS[k] for k in reasons)
    mean = sum(WEIGHTS[k] * v for k, v in reasons.items()) / weight
    coverage = weight / sum(WEIGHTS.values())
    feature_score = mean * (0.6 + 0.4 * coverage)
    if face is None:
        total = feature_score
    else:
        reasons["face"] = round(face, 4)
        lifted = min(1.0, max(0.0, (face - FACE_FLOOR) / (FACE_CEILING - FACE_FLOOR)))
        total = FACE_WEIGHT * lifted + (1 - FACE_WEIGHT) * feature_score
    rounded = {k: round(v, 4) for k, v in reasons.items()}
    return PairScore(
        round(total, 4), round(feature_score, 4), None if face is None else round(face, 4), rounded
    )


def _put(reasons: dict[str, float], name: str, value: float | None) -> None:
    if value is not None:
        reasons[name] = value


def _age(missing: Features, body: Features, elapsed: float) -> tuple[float, float] | None:
    if None in (missing.age_min, missing.age_max, body.age_min, body.age_max):
        return None
    assert missing.age_min is not None and missing.age_max is not None
    assert body.age_min is not None and body.age_max is not None
    low, high = missing.age_min + elapsed, missing.age_max + elapsed
    gap = max(0.0, body.age_min - high, low - body.age_max)
    return gap, max(0.0, 1.0 - gap / 10)


def _height(a: int | None, b: int | None) -> float | None:
    if a is None or b is None:
        return None
    difference = abs(a - b)
    return 1.0 if difference <= 5 else max(0.0, 1.0 - (difference - 5) / 15)


def _ordinal(scale: tuple[str, ...], a: str | None, b: str | None) -> float | None:
    if a is None or b is None or a not in scale or b not in scale:
        return None
    return max(0.0, 1.0 - abs(scale.index(a) - scale.index(b)) / 2)


def _text(a: str | None, b: str | None) -> float | None:
    left, right = fold(a or ""), fold(b or "")
    if not left or not right:
        return None
    return float(fuzz.token_set_ratio(left, right)) / 100.0


def _place(missing: Features, body: Features) -> float | None:
    if None not in (missing.latitude, missing.longitude, body.latitude, body.longitude):
        assert missing.latitude is not None and missing.longitude is not None
        assert body.latitude is not None and body.longitude is not None
        km = haversine_km(missing.latitude, missing.longitude, body.latitude, body.longitude)
        return 1.0 if km <= 10 else max(0.0, 1.0 - (km - 10) / 290)
    if missing.district and body.district:
        return 1.0 if missing.district.lower() == body.district.lower() else 0.3
    return None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0088 * 2 * math.asin(min(1.0, math.sqrt(a)))
