"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`, one per active secret,
space-separated (https://www.standardwebhooks.com/, "Signature scheme")."""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix, not a secret)


def key_of(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(msg_id: str, timestamp: int, body: str, secret: str) -> str:
    digest = hmac.new(key_of(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(msg_id: str, timestamp: int, body: str, secrets: list[str]) -> dict[str, str]:
    """The request headers of one attempt (no `webhook-signature` when there is no secret)."""
    out = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secrets:
        out["webhook-signature"] = " ".join(sign(msg_id, timestamp, body, s) for s in secrets)
    return out
