"""Normalising the ways customers are reached: phones to E.164 (phonenumbers), emails (email-validator)."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.lib.errors import Invalid


def normalize_email(email: str, field: str = "email") -> str:
    try:
        # Syntax only: deliverability checks would send DNS queries, and we never leave loopback in tests.
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Invalid("That email address is not valid: %(exc)s", field=field, exc=exc) from None


def normalize_phone(raw: str, region: str = "US", field: str = "phones") -> str:
    """E.164 for a number written in any common format; local formats use the tenant's default region.

    A Russian trunk prefix 8 (`89123456789`) is read as +7, as people there write it.
    """
    text = (raw or "").strip()
    if not text:
        raise Invalid("A phone number is empty.", field=field)
    digits = "".join(ch for ch in text if ch.isdigit())
    candidates = [text]
    if not text.startswith("+") and len(digits) == 11 and digits.startswith("8") and region in {"RU", "KZ"}:
        candidates.insert(0, "+7" + digits[1:])
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise Invalid("%(raw)s is not a valid phone number (default country %(region)s); write it with its country code, "
                  "e.g. +1 415 555 0100.", field=field, raw=repr(raw), region=region)


def try_phone(raw: str, region: str) -> str | None:
    try:
        return normalize_phone(raw, region)
    except Invalid:
        return None


def pretty_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
