"""The crime types of a crime report (M-CCTNS crime mapping): a fixed vocabulary, plus ``other``.

The keys are what the API takes and returns (``type=``); the labels and descriptions are for people
(``GET /crimes/types``). A report of type ``other`` must say what it was (``type_detail``).
"""

from __future__ import annotations

from typing import Literal

CrimeType = Literal[
    "murder",
    "attempted_murder",
    "hurt",
    "kidnapping",
    "sexual_assault",
    "robbery",
    "dacoity",
    "burglary",
    "theft",
    "vehicle_theft",
    "snatching",
    "fraud",
    "narcotics",
    "illegal_weapons",
    "arson",
    "rioting",
    "terrorism",
    "cybercrime",
    "harassment",
    "domestic_violence",
    "gambling",
    "other",
]

# key: (label, what it covers)
CRIME_TYPES: dict[str, tuple[str, str]] = {
    "murder": ("Murder", "Qatl-i-amd and other unlawful killing (PPC 302)"),
    "attempted_murder": ("Attempted murder", "An attempt to kill (PPC 324)"),
    "hurt": ("Hurt / assault", "Causing hurt, grievous hurt, assault (PPC 332-337, 352)"),
    "kidnapping": ("Kidnapping / abduction", "Kidnapping, abduction, kidnapping for ransom (PPC 359-369)"),
    "sexual_assault": ("Sexual assault", "Rape and other sexual offences (PPC 375-377)"),
    "robbery": ("Robbery", "Theft with force or threat by fewer than five (PPC 390-392)"),
    "dacoity": ("Dacoity", "Robbery by five or more (PPC 391, 395)"),
    "burglary": ("Burglary / house-breaking", "Lurking house-trespass, house-breaking (PPC 453-457)"),
    "theft": ("Theft", "Theft of property other than vehicles (PPC 378-381)"),
    "vehicle_theft": ("Vehicle theft", "Theft of a car, motorcycle or other vehicle (PPC 381-A)"),
    "snatching": ("Street snatching", "Mobile phone, purse or bag snatching in the street"),
    "fraud": ("Fraud / cheating", "Cheating, forgery, criminal breach of trust (PPC 406, 420, 468)"),
    "narcotics": ("Narcotics", "Possession or trafficking of narcotics (CNSA 1997)"),
    "illegal_weapons": ("Illegal weapons", "Unlicensed arms and ammunition (Arms Ordinance)"),
    "arson": ("Arson", "Mischief by fire or explosive (PPC 435-438)"),
    "rioting": ("Rioting", "Rioting and unlawful assembly (PPC 144-148)"),
    "terrorism": ("Terrorism", "Offences under the Anti-Terrorism Act 1997"),
    "cybercrime": ("Cybercrime", "Offences under PECA 2016"),
    "harassment": ("Harassment", "Harassment, criminal intimidation (PPC 506, 509)"),
    "domestic_violence": ("Domestic violence", "Violence within the household"),
    "gambling": ("Gambling", "Gambling and betting (Gambling Act)"),
    "other": ("Other", "Anything else; the report says what in type_detail"),
}
CRIME_TYPE_KEYS: tuple[str, ...] = tuple(CRIME_TYPES)
assert set(CRIME_TYPE_KEYS) == set(CrimeType.__args__)  # type: ignore[attr-defined]
TYPE_PATTERN = "^(" + "|".join(CRIME_TYPE_KEYS) + ")$"
