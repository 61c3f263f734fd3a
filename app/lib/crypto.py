"""Per-tenant secrets at rest: Fernet tokens keyed by HKDF(SECRET_KEY, tenant schema, purpose)."""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.lib.db import current_tenant
from app.settings import get_settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted: SECRET_KEY changed, or the token belongs to another tenant."""


@functools.lru_cache(maxsize=256)
def _fernet(secret_key: str, schema: str, purpose: str) -> Fernet:
    # The tenant's schema is the HKDF salt: a token copied into another tenant's row does not decrypt there.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=schema.encode(),
               info=f"switchboard:{purpose}".encode()).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _current(purpose: str) -> Fernet:
    return _fernet(get_settings().app.secret_key, current_tenant().schema, purpose)


def encrypt(plaintext: str, *, purpose: str) -> str:
    """Encrypt `plaintext` for the current tenant; `purpose` separates keys (e.g. "twilio.auth_token")."""
    return _current(purpose).encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str, *, purpose: str) -> str:
    try:
        return _current(purpose).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise SecretUnreadable(f"the stored {purpose} cannot be decrypted with this SECRET_KEY") from None
