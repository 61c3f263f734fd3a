"""Normalising the ways customers are reached: phones to E.164 (phonenumbers), emails (email-validator)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

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


_MEMO_LIMIT = 262_144
"""Entries each memo below keeps before it starts again empty (a 1M-row import meets a million distinct numbers)."""
_EMAILS: dict[str, tuple[str | None, str]] = {}
_PHONES: dict[tuple[str, str], str | None] = {}


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def _email(text: str) -> tuple[str | None, str]:
    """(normalised, "") or (None, why not): memoised, as an import meets each address in several steps."""
    try:
        return _EMAILS[text]
    except KeyError:
        pass
    found = _check_email(text)
    _remember(_EMAILS, text, found)
    return found


def _check_email(text: str) -> tuple[str | None, str]:
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


def _e164(text: str, region: str) -> str | None:
    """The number in E.164, or None: memoised, as an import meets each number in several steps."""
    try:
        return _PHONES[(text, region)]
    except KeyError:
        pass
    found = _parse_e164(text, region)
    _remember(_PHONES, (text, region), found)
    return found


_E164_FORM = re.compile(r"\+[1-9][0-9]{6,14}")


def _plain_e164(text: str) -> str | None:
    """`text` when it is written in E.164 already and `phonenumbers.parse` would keep it as it is, decided without
    parse (8 µs of the 14 a number costs): the country code read as parse reads it (the first 1-3 digits that are
    one), a national number parse would neither strip a national prefix from (the country's
    `national_prefix_for_parsing` does not match its start) nor read a leading zero in, valid by the country's
    metadata. None leaves the number to the full parse (tests/unit/test_identities_fast.py holds the two to the
    same answers)."""
    if not _E164_FORM.fullmatch(text):
        return None
    digits = text[1:]
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if len(national) < 2 or national[0] == "0":
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code))
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.compile(prefix).match(national):
        return None
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    return text if phonenumbers.is_valid_number(number) else None


def _parse_e164(text: str, region: str) -> str | None:
    if (plain := _plain_e164(text)) is not None:
        return plain
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


# -- many at once: a contact import works out a batch's addresses in worker processes, then hands the answers to
# the process that validates the rows (`learn`), so its rules find every address already worked out.

Worked = tuple[dict[str, str | None], dict[str, tuple[str | None, str]]]
"""(raw phone -> E.164 or None, raw email -> (normalised or None, why not)), keyed by the stripped raw text."""


def work_out(phones: Iterable[str], emails: Iterable[str], region: str) -> Worked:
    """Normalise many phones (in `region`) and emails at once, each distinct raw value once."""
    phone_out: dict[str, str | None] = {}
    email_out: dict[str, tuple[str | None, str]] = {}
    for raw in phones:
        text = raw.strip()
        if text and text not in phone_out:
            phone_out[text] = _e164(text, region)
    for raw in emails:
        text = raw.strip()
        if text not in email_out:
            email_out[text] = _email(text)
    return phone_out, email_out


def learn(worked: Worked, region: str) -> None:
    """Take answers worked out elsewhere (another process) into this process's memos."""
    phones, emails = worked
    for text, e164 in phones.items():
        _remember(_PHONES, (text, region), e164)
    for text, found in emails.items():
        _remember(_EMAILS, text, found)


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
