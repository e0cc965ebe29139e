"""Table-driven tests of the identifier validators: every accepted form and every refusal's reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import BaseModel, ValidationError

from pipeline.validators import (
    Cnic,
    Identifier,
    Mobile,
    PersonName,
    Reference,
    normalise_address,
    normalise_cnic,
    normalise_district,
    normalise_identifier,
    normalise_label,
    normalise_mobile,
    normalise_person_name,
    normalise_reference,
)


def other_digits(text: str, zero: int) -> str:
    """``text`` with its ASCII digits replaced by another script's digits (``zero``: that script's 0)."""
    return text.translate({ord("0") + i: zero + i for i in range(10)})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42101-1234567-1", "42101-1234567-1"),
        ("4210112345671", "42101-1234567-1"),
        ("  35202-9876543-9 ", "35202-9876543-9"),
        ("0000000000001", "00000-0000000-1"),
    ],
)
def test_cnic_accepted_and_normalised(raw: str, expected: str) -> None:
    assert normalise_cnic(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "required"),
        ("   ", "required"),
        ("42101-1234567", "13 digits; 12 given"),
        ("421011234567", "13 digits; 12 given"),
        ("42101-1234567-12", "13 digits; 14 given"),
        ("42101123456712", "13 digits; 14 given"),
        ("4210-11234567-1", "dashes after the 5th and 12th"),
        ("421011234567-1", "dashes after the 5th and 12th"),
        ("42101-12345671", "dashes after the 5th and 12th"),
        ("42101--1234567-1", "dashes after the 5th and 12th"),
        ("42101-1234567-1-", "dashes after"),
        ("42101 1234567 1", "digits and dashes only"),
        ("4210A-1234567-1", "digits and dashes only"),
        ("42101_1234567_1", "digits and dashes only"),
        ("00000-0000000-0", "all zeros"),
        ("0000000000000", "all zeros"),
        (other_digits("42101-1234567-1", 0x0660), "0-9 only"),  # Arabic-Indic digits
        (other_digits("42101-1234567-1", 0xFF10), "0-9 only"),  # fullwidth digits
        ("42101-1234567-1\n", None),  # trailing newline is stripped: accepted
    ],
)
def test_cnic_refused_with_reason(raw: str, reason: str | None) -> None:
    if reason is None:
        assert normalise_cnic(raw) == "42101-1234567-1"
        return
    with pytest.raises(ValueError, match=reason):
        normalise_cnic(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("03001234567", "+923001234567"),
        ("0300-1234567", "+923001234567"),
        ("0300 123 4567", "+923001234567"),
        ("+923001234567", "+923001234567"),
        ("+92 300 1234567", "+923001234567"),
        ("00923001234567", "+923001234567"),
        ("+447911123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+12025550123", "+12025550123"),
        ("+(1) 202.555.0123", "+12025550123"),
        ("+12345678", "+12345678"),  # 8 digits: shortest E.164 accepted
        ("+123456789012345", "+123456789012345"),  # 15 digits: longest
    ],
)
def test_mobile_accepted_as_e164(raw: str, expected: str) -> None:
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "required"),
        ("3001234567", "either Pakistani"),
        ("0300123456", "either Pakistani"),  # 10 digits
        ("030012345678", "either Pakistani"),  # 12 digits
        ("04235761234", "either Pakistani"),  # a Lahore landline, not a mobile
        ("+924235761234", "Pakistani mobile number is \\+923"),
        ("+92300123456", "Pakistani mobile number"),
        ("+1234567", "8 to 15 digits"),
        ("+1234567890123456", "8 to 15 digits"),
        ("+0123456789", "not starting with 0"),
        ("+92300123456a", "digits only"),
        ("++923001234567", "digits only"),
        ("+" + other_digits("923001234567", 0x0660), "digits only"),
        ("0300/1234567", "digits only"),
    ],
)
def test_mobile_refused_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalise_mobile(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Muhammad Ali", "Muhammad Ali"),
        ("  Muhammad   Ali  ", "Muhammad Ali"),
        ("محمد علی", "محمد علی"),
        ("Zoe\u0301", "Zoé"),  # NFC: combining accent composed
        ("A", "A"),
        ("x" * 200, "x" * 200),
    ],
)
def test_person_name_accepted(raw: str, expected: str) -> None:
    assert normalise_person_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "required"),
        (" \t ", "required"),
        ("x" * 201, "at most 200"),
        ("Ali\x00Khan", "U\\+0000"),
        ("Ali\x1bKhan", "U\\+001B"),
        ("Ali\u202eKhan", "U\\+202E"),  # right-to-left override
        ("Ali\u2028Khan", None),  # line separator counts as whitespace: collapsed
        ("Ali\ue000", "U\\+E000"),  # private use
    ],
)
def test_person_name_refused_with_reason(raw: str, reason: str | None) -> None:
    if reason is None:
        assert normalise_person_name(raw) == "Ali Khan"
        return
    with pytest.raises(ValueError, match=reason):
        normalise_person_name(raw)


@pytest.mark.parametrize(
    ("fn", "raw", "outcome"),
    [
        (normalise_identifier, "abc-123_x.y:z", "abc-123_x.y:z"),
        (normalise_identifier, " a1 ", "a1"),
        (normalise_identifier, "", ValueError("required")),
        (normalise_identifier, "-abc", ValueError("starts with a letter")),
        (normalise_identifier, "a b", ValueError("only A-Z")),
        (normalise_identifier, "a/b", ValueError("only A-Z")),
        (normalise_identifier, "ä", ValueError("only A-Z")),
        (normalise_identifier, "a" * 65, ValueError("at most 64")),
        (normalise_reference, "FIR 123/2024", "FIR 123/2024"),
        (normalise_reference, " LHR-HTL-0042 ", "LHR-HTL-0042"),
        (normalise_reference, "PS (Gulberg) 12, 2024", "PS (Gulberg) 12, 2024"),
        (normalise_reference, "", ValueError("required")),
        (normalise_reference, "#12", ValueError("starts with a letter")),
        (normalise_reference, "12;DROP", ValueError("only A-Z")),
        (normalise_reference, "1" * 65, ValueError("at most 64")),
        (normalise_address, " 1  Mall Road,\nLahore ", "1 Mall Road, Lahore"),
        (normalise_address, "", ValueError("an address is required")),
        (normalise_address, "a" * 501, ValueError("at most 500")),
        (normalise_address, "Mall\x07Road", ValueError("U\\+0007")),
        (normalise_label, " front  desk PMS ", "front desk PMS"),
        (normalise_label, "PMS\x00", ValueError("a label cannot contain")),
        (normalise_district, " Lahore   Cantt ", "Lahore Cantt"),
        (normalise_district, "Rawalpindi_2-A", "Rawalpindi_2-A"),
        (normalise_district, "", ValueError("required")),
        (normalise_district, "Lahore/Cantt", ValueError("only A-Z")),
        (normalise_district, "Lähore", ValueError("only A-Z")),
        (normalise_district, "d" * 65, ValueError("at most 64")),
    ],
)
def test_identifiers_and_references(fn: Callable[[str], str], raw: str, outcome: str | ValueError) -> None:
    if isinstance(outcome, ValueError):
        with pytest.raises(ValueError, match=str(outcome)):
            fn(raw)
    else:
        assert fn(raw) == outcome


class Guest(BaseModel):
    cnic: Cnic
    mobile: Mobile
    name: PersonName
    ref: Reference
    key: Identifier


def test_annotated_types_normalise_inside_models() -> None:
    guest = Guest(cnic="4210112345671", mobile="0300-1234567", name=" Ali  Khan ", ref="R 1", key="k1")
    assert (guest.cnic, guest.mobile, guest.name) == ("42101-1234567-1", "+923001234567", "Ali Khan")


def test_annotated_types_refuse_with_the_field_and_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        Guest(cnic="12345", mobile="x", name="", ref="R", key="k")
    errors = {err["loc"][0]: err["msg"] for err in caught.value.errors()}
    assert set(errors) == {"cnic", "mobile", "name"}
    assert "13 digits; 5 given" in errors["cnic"]


def test_non_strings_are_refused() -> None:
    with pytest.raises(ValidationError):
        Guest(cnic=4210112345671, mobile="03001234567", name="A", ref="R", key="k")  # type: ignore[arg-type]


def test_json_schema_describes_the_accepted_forms() -> None:
    schema = Guest.model_json_schema()["properties"]
    assert schema["cnic"]["pattern"] == r"^([0-9]{5}-[0-9]{7}-[0-9]|[0-9]{13})$"
    assert schema["mobile"]["type"] == "string"
    assert schema["name"]["maxLength"] == 200
