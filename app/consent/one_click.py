"""RFC 8058 one-click unsubscribe: signed links (no database row per link) and the List-Unsubscribe headers.

A token carries the tenant, the contact, the channel, the purpose and a free reference (a campaign recipient's
tracking token), and an HMAC of all of them under the app's secret key: a token minted for one shop never verifies
on another (the tenant id is inside the signed part and is compared with the shop of the URL)."""

from __future__ import annotations

import base64
import dataclasses

from app.consent.tables import CHANNELS, PURPOSES
from app.lib.db import current_tenant
from app.lib.errors import NotFound
from app.lib.security import constant_time_equals, sign
from app.settings import get_settings

SIGN_PURPOSE = "consent.one_click"
MAX_TOKEN = 400


@dataclasses.dataclass(frozen=True)
class OneClick:
    tenant_id: int
    contact_id: int
    channel: str
    purpose: str
    ref: str


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def make_token(contact_id: int, channel: str, purpose: str, ref: str = "") -> str:
    payload = f"{current_tenant().id}|{int(contact_id)}|{channel}|{purpose}|{ref}"
    return f"{_b64(payload)}.{sign(payload, SIGN_PURPOSE)[:32]}"


def one_click_url(contact_id: int, channel: str, purpose: str, ref: str = "") -> str:
    """The absolute, signed unsubscribe link of a contact for the current tenant (GET: a confirm page; POST with
    `List-Unsubscribe=One-Click`: unsubscribes at once)."""
    token = make_token(contact_id, channel, purpose, ref)
    return f"{get_settings().app.base_url}/t/{current_tenant().slug}/unsubscribe/{token}"


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """The RFC 8058 headers of a marketing email carrying a one-click link."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def verify(token: str) -> OneClick:
    """The link's contents when its signature holds and it belongs to the current tenant; else 404 (one answer
    for a forged, truncated or foreign token, so nothing can be probed)."""
    missing = NotFound("This unsubscribe link is not valid. Use the link from the latest message.")
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise missing
    encoded, signature = token.split(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise missing from None
    if not constant_time_equals(signature, sign(payload, SIGN_PURPOSE)[:32]):
        raise missing
    parts = payload.split("|", 4)
    if len(parts) != 5 or not parts[0].isdigit() or not parts[1].isdigit():
        raise missing
    tenant_id, contact_id, channel, purpose, ref = parts
    if int(tenant_id) != current_tenant().id or channel not in CHANNELS or purpose not in PURPOSES:
        raise missing
    return OneClick(int(tenant_id), int(contact_id), channel, purpose, ref)
