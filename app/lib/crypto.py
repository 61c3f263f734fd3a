"""Per-tenant secrets at rest: Fernet tokens keyed by HKDF(key, tenant schema, purpose), over a keyring.

The keyring is SECRET_KEYS (newest first; SECRET_KEY alone when unset): the newest key encrypts, every key
decrypts, so a key can be rotated without downtime (`switchboard secrets rotate` re-encrypts every stored secret
under the newest key; README "Security" gives the rollout order). Every encrypted column is declared once, in its
domain's manifest (`Domain.secrets`), which is the list the rotation walks."""

from __future__ import annotations

import base64
import dataclasses
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.lib.db import current_tenant
from app.settings import get_settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted: no key of the keyring made it, or the token belongs to another tenant."""


@dataclasses.dataclass(frozen=True)
class EncryptedColumn:
    """A tenant-schema column holding `encrypt(..., purpose=purpose)` tokens (NULL or "" for none)."""

    table: str
    column: str
    purpose: str
    key: str = "id"
    """The table's primary key column (the rotation updates row by row)."""


@functools.lru_cache(maxsize=256)
def _fernet(secret_key: str, schema: str, purpose: str) -> Fernet:
    # The tenant's schema is the HKDF salt: a token copied into another tenant's row does not decrypt there.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=schema.encode(),
               info=f"switchboard:{purpose}".encode()).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@functools.lru_cache(maxsize=256)
def _keyring(keys: tuple[str, ...], schema: str, purpose: str) -> MultiFernet:
    return MultiFernet([_fernet(k, schema, purpose) for k in keys])


def _keys() -> tuple[str, ...]:
    return get_settings().app.encryption_keys


def _current(purpose: str) -> MultiFernet:
    return _keyring(_keys(), current_tenant().schema, purpose)


def encrypt(plaintext: str, *, purpose: str) -> str:
    """Encrypt `plaintext` for the current tenant under the newest key; `purpose` separates keys
    (e.g. "twilio.auth_token")."""
    return _current(purpose).encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str, *, purpose: str) -> str:
    try:
        return _current(purpose).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise SecretUnreadable(f"the stored {purpose} cannot be decrypted with any key of SECRET_KEYS") from None


def is_current(token: str, *, purpose: str) -> bool:
    """The token was made with the newest key (a rotation leaves it as it is)."""
    try:
        _fernet(_keys()[0], current_tenant().schema, purpose).decrypt(token.encode("ascii"))
    except (InvalidToken, ValueError):
        return False
    return True


def rotate(token: str, *, purpose: str) -> str:
    """The same secret encrypted under the newest key (SecretUnreadable when no key of the keyring reads it)."""
    try:
        return _current(purpose).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        raise SecretUnreadable(f"the stored {purpose} cannot be decrypted with any key of SECRET_KEYS") from None
