"""The email fast path (`identities._plain_email`) answers as email-validator does, or leaves the address to it."""

from __future__ import annotations

import random
import string

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
