"""Secrets, tokens and password hashing (argon2id via argon2-cffi)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.lib.errors import Invalid
from app.settings import get_settings

MIN_PASSWORD_LENGTH = 10
# The most common passwords that satisfy the length rule; a long list would belong in a data file.
_COMMON = {
    "password123", "1234567890", "qwertyuiop", "password1234", "iloveyou123", "0123456789", "1q2w3e4r5t",
    "qwerty12345", "letmein123", "administrator", "passw0rd123", "welcome123", "changeme123", "abcdefghij",
}


@functools.cache
def _hasher() -> PasswordHasher:
    sec = get_settings().security
    return PasswordHasher(time_cost=sec.argon2_time_cost, memory_cost=sec.argon2_memory_kib, parallelism=1)


def check_password_policy(password: str, *, email: str = "", field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("Password must be at least %(min_password_length)s characters long.", field=field,
                      min_password_length=MIN_PASSWORD_LENGTH)
    if len(password) > 256:
        raise Invalid("Password must be at most 256 characters long.", field=field)
    if password.lower() in _COMMON or len(set(password)) < 4:
        raise Invalid("Password is too easy to guess; use a longer phrase or a password manager.", field=field)
    if email and password.lower() == email.lower():
        raise Invalid("Password must not be your email address.", field=field)


async def hash_password(password: str) -> str:
    """argon2id; runs in a thread so the event loop keeps serving while it works (~19 MiB, t=2)."""
    return await asyncio.to_thread(_hasher().hash, password)


_DUMMY_HASH: str | None = None


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check: an unknown user still costs one argon2 verification."""
    global _DUMMY_HASH
    if password_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = await hash_password(secrets.token_urlsafe(16))
        password_hash = _DUMMY_HASH
        password = password + "\x00never"

    def _verify() -> bool:
        try:
            return _hasher().verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token; 32 bytes = 256 bits (sessions need at least 128)."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """Tokens are high-entropy, so a plain SHA-256 is the right stored form (lookup by hash, nothing to crack)."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(value: str, purpose: str) -> str:
    key = get_settings().app.secret_key.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
