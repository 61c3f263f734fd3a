"""Normalising the ways customers are reached: phones to E.164 (phonenumbers), emails (email-validator)."""

from __future__ import annotations

import functools
import re

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.lib.errors import Invalid

_PLAIN_EMAIL = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
"""Addresses email-validator accepts as they are (ASCII, dot-atom, hostname labels, a letters-only top-level
domain; labels with `--` and special-use names are left to it): most of a customer list, checked in a microsecond
instead of fifty (tests/unit/test_identities.py holds the two to the same answers)."""
_SPECIAL_USE = tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(text: str) -> str | None:
    low = text.lower()
    if len(low) > 254 or not _PLAIN_EMAIL.fullmatch(low):
        return None
    local, domain = low.rsplit("@", 1)
    if len(local) > 64 or "--" in domain or any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE):
        return None
    return low


@functools.lru_cache(maxsize=65_536)
def _email(text: str) -> tuple[str | None, str]:
    """(normalised, "") or (None, why not): memoised, as an import meets each address in several steps."""
    if (plain := _plain_email(text)) is not None:
        return plain, ""
    try:
        # Syntax only: deliverability checks would send DNS queries, and we never leave loopback in tests.
        return validate_email(text, check_deliverability=False).normalized.lower(), ""
    except EmailNotValidError as exc:
        return None, str(exc)


def normalize_email(email: str, field: str = "email") -> str:
    address, problem = _email((email or "").strip())
    if address is None:
        raise Invalid("That email address is not valid: %(exc)s", field=field, exc=problem)
    return address


def normalize_phone(raw: str, region: str = "US", field: str = "phones") -> str:
    """E.164 for a number written in any common format; local formats use the tenant's default region.

    A Russian trunk prefix 8 (`89123456789`) is read as +7, as people there write it.
    """
    text = (raw or "").strip()
    if not text:
        raise Invalid("A phone number is empty.", field=field)
    e164 = _e164(text, region)
    if e164 is None:
        raise Invalid("%(raw)s is not a valid phone number (default country %(region)s); write it with its country "
                      "code, e.g. +1 415 555 0100.", field=field, raw=repr(raw), region=region)
    return e164


@functools.lru_cache(maxsize=65_536)
def _e164(text: str, region: str) -> str | None:
    """The number in E.164, or None: memoised, as an import meets each number in several steps."""
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
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return None


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
