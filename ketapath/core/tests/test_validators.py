"""Shared field validators: phone numbers, time zones, DEA numbers, NPIs."""

import pytest
from django.core.exceptions import ValidationError

from ketapath.core.validators import (
    MESSAGE_DEA_CHECK,
    MESSAGE_DEA_FORMAT,
    MESSAGE_NPI,
    MESSAGE_PHONE,
    MESSAGE_TIME_ZONE,
    dea_check_digit_ok,
    format_phone,
    normalize_phone,
    npi_check_digit_ok,
    validate_dea_number,
    validate_npi,
    validate_phone,
    validate_time_zone,
)


def _messages(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return exc.value.messages


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(303) 555-0142", "+13035550142"),
        ("303-555-0142", "+13035550142"),
        ("303.555.0142", "+13035550142"),
        ("+1 303 555 0142", "+13035550142"),
        ("1 (303) 555 0142", "+13035550142"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_normalise_to_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "abc", "(555) 555-5555", "+1 303 555 01", ""])
def test_invalid_phone_numbers_name_the_rule(raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        normalize_phone(raw)
    assert _messages(exc) == [MESSAGE_PHONE]


def test_validate_phone_allows_blank_and_rejects_junk() -> None:
    validate_phone("")
    validate_phone("(303) 555-0142")
    with pytest.raises(ValidationError):
        validate_phone("call me")


def test_format_phone_for_display() -> None:
    assert format_phone("+13035550142") == "(303) 555-0142"
    assert format_phone("") == ""


@pytest.mark.parametrize("zone", ["America/Denver", "America/Chicago", "UTC", "Pacific/Honolulu"])
def test_valid_time_zones(zone: str) -> None:
    validate_time_zone(zone)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "america/denver", "", "Denver"])
def test_invalid_time_zones(zone: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_time_zone(zone)
    assert _messages(exc) == [MESSAGE_TIME_ZONE]


def test_dea_check_digit() -> None:
    # (1 + 3 + 5) + 2 * (2 + 4 + 6) = 33; the last digit 3 is the check digit.
    assert dea_check_digit_ok("AB1234563")
    assert not dea_check_digit_ok("AB1234567")


def test_valid_dea_number_passes() -> None:
    validate_dea_number("AB1234563")
    validate_dea_number("")


def test_dea_number_with_a_wrong_check_digit() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_dea_number("AB1234567")
    assert _messages(exc) == [MESSAGE_DEA_CHECK]


@pytest.mark.parametrize("value", ["AB123456", "AB12345678", "1B1234563", "AB12345X3", "A 1234563"])
def test_dea_number_format_errors(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_dea_number(value)
    assert _messages(exc) == [MESSAGE_DEA_FORMAT]


def test_npi_luhn_check() -> None:
    assert npi_check_digit_ok("1234567893")
    assert not npi_check_digit_ok("1234567890")
    validate_npi("1234567893")
    validate_npi("")


@pytest.mark.parametrize("value", ["1234567890", "123456789", "12345678931", "12345678a3"])
def test_invalid_npi(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_npi(value)
    assert _messages(exc) == [MESSAGE_NPI]
