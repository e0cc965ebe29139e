"""Strict validation and normalisation of the identifiers people type: CNIC, mobile numbers, names, ids.

Each ``normalise_*`` function is pure: it returns the canonical form or raises ``ValueError`` whose
message says what is wrong (it reaches the caller as a 422). The ``Annotated`` types (``Cnic``,
``Mobile``, ``PersonName``, ``Address``, ``Label``, ``Identifier``, ``Reference``, ``District``) apply them
inside pydantic models, so request bodies and bus contracts hold only normalised values.

Digits are ASCII only: ``str.isdigit`` and Unicode-aware regexes accept Arabic-Indic and other digit
forms ("٤٢١٠١..."), which would normalise to a different record than the one the officer sees.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

CNIC_DIGITS = 13
MAX_NAME_LENGTH = 200
MAX_ADDRESS_LENGTH = 500
MAX_IDENTIFIER_LENGTH = 64
MAX_REFERENCE_LENGTH = 64
MAX_DISTRICT_LENGTH = 64

_CNIC_DASHED = re.compile(r"[0-9]{5}-[0-9]{7}-[0-9]", re.ASCII)
_CNIC_BARE = re.compile(r"[0-9]{13}", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
# Separators people put in phone numbers; removed before the number is read.
_PHONE_SEPARATORS = str.maketrans("", "", " -().")
_PK_MOBILE_NATIONAL = re.compile(r"03[0-9]{9}", re.ASCII)  # 03XX XXXXXXX
_PK_MOBILE_E164 = re.compile(r"\+923[0-9]{9}", re.ASCII)
_E164 = re.compile(r"\+[1-9][0-9]{7,14}", re.ASCII)  # 8 to 15 digits, no leading zero
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*", re.ASCII)
_DISTRICT = re.compile(r"[A-Za-z0-9 _-]+", re.ASCII)
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 /().,_-]*", re.ASCII)
# Characters that make a name render differently from what is stored: bidi overrides and isolates.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control, surrogate, private-use, unassigned, line and paragraph separator categories.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def normalise_cnic(value: str) -> str:
    """A Pakistani CNIC as ``#####-#######-#``, from that form or 13 bare digits."""
    text = value.strip()
    if _CNIC_DASHED.fullmatch(text):
        digits = text.replace("-", "")
    elif _CNIC_BARE.fullmatch(text):
        digits = text
    else:
        raise ValueError(_cnic_problem(text))
    if set(digits) == {"0"}:
        raise ValueError("a CNIC cannot be all zeros")
    return f"{digits[:5]}-{digits[5:12]}-{digits[12]}"


def _cnic_problem(text: str) -> str:
    if not text:
        return "a CNIC is required (13 digits, written #####-#######-#)"
    if any(ch.isdigit() and not ("0" <= ch <= "9") for ch in text):
        return "a CNIC must use the digits 0-9 only"
    digits = sum("0" <= ch <= "9" for ch in text)
    others = set(text) - set("0123456789-")
    if others:
        return f"a CNIC holds digits and dashes only; found {''.join(sorted(others))!r}"
    if digits != CNIC_DIGITS:
        return f"a CNIC has {CNIC_DIGITS} digits; {digits} given"
    return "a CNIC is written #####-#######-# (dashes after the 5th and 12th digits) or as 13 digits"


def normalise_mobile(value: str) -> str:
    """A mobile number in E.164 (``+923XXXXXXXXX`` for Pakistan).

    Accepted: ``03XXXXXXXXX``, ``+923XXXXXXXXX``, ``00923XXXXXXXXX`` and any E.164 number (``+`` and
    8-15 digits, or ``00`` instead of ``+``); spaces, dashes, dots and brackets are ignored.
    """
    text = value.strip().translate(_PHONE_SEPARATORS)
    if not text:
        raise ValueError("a mobile number is required")
    if text.startswith("00"):
        text = "+" + text[2:]
    body = text[1:] if text.startswith("+") else text
    if not _DIGITS.fullmatch(body):
        raise ValueError(
            "a mobile number holds digits only, optionally after '+' (e.g. 03001234567 or +923001234567)"
        )
    if _PK_MOBILE_NATIONAL.fullmatch(text):
        return "+92" + text[1:]
    if not text.startswith("+"):
        raise ValueError(
            "a mobile number is either Pakistani (03XXXXXXXXX, 11 digits) or international "
            "with its country code (+ and 8-15 digits)"
        )
    if text.startswith("+92"):
        if not _PK_MOBILE_E164.fullmatch(text):
            raise ValueError("a Pakistani mobile number is +923 followed by 9 digits (e.g. +923001234567)")
        return text
    if not _E164.fullmatch(text):
        raise ValueError("an international number is + and 8 to 15 digits, not starting with 0")
    return text


def _clean_text(value: str, what: str, maximum: int) -> str:
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise ValueError(f"{what} is required")
    if len(text) > maximum:
        raise ValueError(f"{what} is at most {maximum} characters; {len(text)} given")
    for ch in text:
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            raise ValueError(f"{what} cannot contain the control character U+{ord(ch):04X}")
    return text


def normalise_person_name(value: str) -> str:
    """A name: NFC, trimmed, runs of whitespace collapsed, 1-200 characters, no control characters."""
    return _clean_text(value, "a name", MAX_NAME_LENGTH)


def normalise_address(value: str) -> str:
    """A postal address: the same rules as a name, up to 500 characters."""
    return _clean_text(value, "an address", MAX_ADDRESS_LENGTH)


def normalise_label(value: str) -> str:
    """A free-text label (what a key or device is for): the same rules as a name."""
    return _clean_text(value, "a label", MAX_NAME_LENGTH)


def normalise_identifier(value: str) -> str:
    """An opaque id (key ids, external record ids): ASCII letters, digits and ``_ . : -``, 1-64 long."""
    text = value.strip()
    if not text:
        raise ValueError("an identifier is required")
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise ValueError(f"an identifier is at most {MAX_IDENTIFIER_LENGTH} characters; {len(text)} given")
    if not _IDENTIFIER.fullmatch(text):
        raise ValueError("an identifier starts with a letter or digit and holds only A-Z a-z 0-9 _ . : -")
    return text


def normalise_reference(value: str) -> str:
    """A written reference number (FIR, licence, registration): ASCII letters, digits, ``/ - . , ( )``."""
    text = " ".join(value.split())
    if not text:
        raise ValueError("a reference number is required")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise ValueError(
            f"a reference number is at most {MAX_REFERENCE_LENGTH} characters; {len(text)} given"
        )
    if not _REFERENCE.fullmatch(text):
        raise ValueError(
            "a reference number starts with a letter or digit and holds only "
            "A-Z a-z 0-9, spaces and / - . , ( ) _"
        )
    return text


def normalise_district(value: str) -> str:
    """An administrative district as staff accounts and cameras name it: ASCII letters, digits, spaces,
    ``_`` and ``-``; whitespace collapsed, 1-64 long. Compared exactly, so it is never case-folded."""
    text = " ".join(value.split())
    if not text:
        raise ValueError("a district is required")
    if len(text) > MAX_DISTRICT_LENGTH:
        raise ValueError(f"a district is at most {MAX_DISTRICT_LENGTH} characters; {len(text)} given")
    if not _DISTRICT.fullmatch(text):
        raise ValueError("a district holds only A-Z a-z 0-9, spaces, _ and -")
    return text


def _string_schema(pattern: str | None = None, **extra: Any) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", **extra}
    if pattern is not None:
        schema["pattern"] = pattern
    return WithJsonSchema(schema)


Cnic = Annotated[
    str,
    AfterValidator(normalise_cnic),
    _string_schema(
        r"^([0-9]{5}-[0-9]{7}-[0-9]|[0-9]{13})$",
        description="CNIC: 13 digits, #####-#######-# or bare; stored dashed",
        examples=["42101-1234567-1"],
    ),
]
Mobile = Annotated[
    str,
    AfterValidator(normalise_mobile),
    _string_schema(
        r"^(03[0-9]{9}|(\+|00)[1-9][0-9]{7,14})$",
        description="Mobile number: 03XXXXXXXXX, +923XXXXXXXXX or E.164; stored as E.164",
        examples=["+923001234567"],
    ),
]
PersonName = Annotated[
    str,
    AfterValidator(normalise_person_name),
    _string_schema(minLength=1, maxLength=MAX_NAME_LENGTH, description="A name; whitespace is collapsed"),
]
Address = Annotated[
    str,
    AfterValidator(normalise_address),
    _string_schema(minLength=1, maxLength=MAX_ADDRESS_LENGTH, description="A postal address"),
]
Label = Annotated[
    str,
    AfterValidator(normalise_label),
    _string_schema(minLength=1, maxLength=MAX_NAME_LENGTH, description="A short free-text label"),
]
Identifier = Annotated[
    str,
    AfterValidator(normalise_identifier),
    _string_schema(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="An opaque identifier"),
]
Reference = Annotated[
    str,
    AfterValidator(normalise_reference),
    _string_schema(
        r"^[A-Za-z0-9][A-Za-z0-9 /().,_-]{0,63}$", description="A reference number (FIR, licence, ...)"
    ),
]
District = Annotated[
    str,
    AfterValidator(normalise_district),
    _string_schema(r"^[A-Za-z0-9 _-]{1,64}$", description="An administrative district, e.g. 'Lahore Cantt'"),
]
