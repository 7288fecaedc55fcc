"""Field validators shared by every app; each message names the rule it enforces."""

import phonenumbers
from django.core.exceptions import ValidationError

from ketapath.core.timeutils import is_valid_time_zone

MESSAGE_PHONE = "Enter a valid phone number, for example (303) 555-0142 or +1 303 555 0142."
MESSAGE_TIME_ZONE = "Enter an IANA time zone such as America/Denver."
MESSAGE_DEA_FORMAT = "A DEA number is two letters followed by seven digits, e.g. AB1234563."
MESSAGE_DEA_CHECK = "This DEA number fails its check digit; check it for typing errors."
MESSAGE_NPI = "An NPI is ten digits with a valid check digit."

DEFAULT_PHONE_REGION = "US"


def normalize_phone(value: str) -> str:
    """Return the number in E.164 form, or raise ValidationError(MESSAGE_PHONE)."""
    try:
        parsed = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(MESSAGE_PHONE, code="phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(MESSAGE_PHONE, code="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_phone(value: str) -> None:
    if value:
        normalize_phone(value)


def format_phone(value: str) -> str:
    """A stored E.164 number in national form for display: (303) 555-0142."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def validate_time_zone(value: str) -> None:
    if not is_valid_time_zone(value):
        raise ValidationError(MESSAGE_TIME_ZONE, code="time_zone")


def dea_check_digit_ok(number: str) -> bool:
    """The DEA check digit: (d1+d3+d5) + 2*(d2+d4+d6); its last digit equals d7.

    Source: DEA registration number format, 21 CFR 1301.12 as summarised in public
    validators (e.g. the "DEA Number" reference article).
    """
    digits = [int(c) for c in number[2:]]
    total = digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])
    return total % 10 == digits[6]


def validate_dea_number(value: str) -> None:
    if not value:
        return
    if len(value) != 9 or not value[:2].isalpha() or not value[2:].isdigit():
        raise ValidationError(MESSAGE_DEA_FORMAT, code="dea_format")
    if not dea_check_digit_ok(value):
        raise ValidationError(MESSAGE_DEA_CHECK, code="dea_check")


def npi_check_digit_ok(npi: str) -> bool:
    """NPI check digit: Luhn over the prefix 80840 plus the first nine digits (CMS NPI standard)."""
    body = "80840" + npi[:9]
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def validate_npi(value: str) -> None:
    if not value:
        return
    if len(value) != 10 or not value.isdigit() or not npi_check_digit_ok(value):
        raise ValidationError(MESSAGE_NPI, code="npi")
