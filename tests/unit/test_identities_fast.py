"""The email fast path (`identities._plain_email`) answers as email-validator does, or leaves the address to it."""

from __future__ import annotations

import random
import string

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.lib import identities

TRICKY = ["a@b.ru", "A.B@Example.RU", "a..b@x.ru", ".a@x.ru", "a.@x.ru", "a@x--y.ru", "a@ab--c.ru", "a@x.123",
          "a@x.r1", "a@-x.ru", "a@x-.ru", "a@localhost", "a@x.test", "a@x.local", "a@x", "a_b+c@x.ru", "a@x.example",
          "a@xn--p1ai.ru", "client1@@example", "x" * 65 + "@x.ru", "a@" + "b" * 64 + ".ru", "a@b.c", "a-@x.ru",
          "-a@x.ru", "a@x.onion", "a@sub.x.arpa", "a@x.co.uk", "a b@x.ru", "a@x_y.ru", "a@1.2.3.ru"]


def _slow(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def test_the_fast_path_never_disagrees_with_email_validator() -> None:
    rnd = random.Random(15)
    alphabet = string.ascii_letters + string.digits + "._+-@"
    samples = [*TRICKY, *("".join(rnd.choice(alphabet) for _ in range(rnd.randint(3, 20))) for _ in range(3000)),
               *(f"{rnd.choice(['a', 'b.c', 'd-e', 'f_g+h'])}@{rnd.choice(['x', 'x-y', 'x--y', '1x'])}."
                 f"{rnd.choice(['ru', 'com', 'test', 'r1', 'local', 'co.uk'])}" for _ in range(500))]
    fast_hits = 0
    for text in samples:
        fast = identities._plain_email(text)
        if fast is not None:
            fast_hits += 1
            assert fast == _slow(text), text
        assert identities._email(text)[0] == _slow(text), text
    assert fast_hits > 100  # the common shapes do take the fast path


def _slow_phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if phonenumbers.is_valid_number(
        number) else None


def test_the_e164_fast_path_never_disagrees_with_phonenumbers() -> None:
    """Every country code's example numbers of every type, written in E.164 and with a national prefix or a zero
    after the country code, and random digits after every country code: the fast path answers as parse does,
    or leaves the number to it."""
    rnd = random.Random(1564)
    samples: list[str] = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                code = str(example.country_code)
                samples += [e164, f"+{code}0{e164[len(code) + 1:]}", f"+{code}8{e164[len(code) + 1:]}",
                            f"+{code}1{e164[len(code) + 1:]}", e164[:-1], e164 + "5"]
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    samples += [f"+{rnd.choice(codes)}{rnd.randint(0, 10 ** 14):0{rnd.randint(4, 13)}d}"[:16] for _ in range(30_000)]
    samples += [f"+79{rnd.randint(0, 10 ** 9 - 1):09d}" for _ in range(3_000)]
    samples += [f"+1{rnd.randint(200, 999)}{rnd.randint(200, 999)}{rnd.randint(0, 9999):04d}" for _ in range(3_000)]
    samples += ["+79123456789", "+78123456789", "+7912345678", "+442071234567", "+4402071234567", "+390612345678",
                "+3906123456789", "+12125550100", "+11234567890", "+80012345678", "+8613800138000", "+9999999999"]
    fast_hits = 0
    for text in samples:
        fast = identities._plain_e164(text)
        if fast is not None:
            fast_hits += 1
            assert fast == _slow_phone(text, "RU") == _slow_phone(text, "US"), text
        assert identities._parse_e164(text, "RU") == _slow_phone(text, "RU"), text
    assert fast_hits > 5_000  # the valid numbers take the fast path
