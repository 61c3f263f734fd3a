"""Outbound webhook rules: endpoints and their secrets, queuing deliveries (one per subscribed endpoint and event,
or one-off from an automation), redelivery and test sends, and turning an endpoint off.

A delivery is a row written inside the caller's unit of work plus a job (`webhooks_out.send`, app.webhooks_out.jobs)
queued in the same transaction: nothing leaves the product for work that rolled back. The fan-out from the event log
is a durable listener (`fan_out`): one delivery per (endpoint, event id), whatever happens to the listener.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets as random
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from app.accounts.services import Principal
from app.accounts.tables import User, Workspace
from app.audit import services as audit
from app.lib import crypto, i18n, jobs, mail
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound
from app.settings import get_settings
from app.webhooks_out import net
from app.webhooks_out.events import ENDPOINT_DISABLED
from app.webhooks_out.signing import SECRET_PREFIX
from app.webhooks_out.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookSecret
from realtime.events import CATALOGUE, Event
from realtime.publish import emit

SEND_JOB = "webhooks_out.send"
SECRET_PURPOSE = "webhooks_out.secret"  # noqa: S105 (a key-derivation label, not a secret)
SECRET_BYTES = 32
"""Random bytes of a new signing secret (Standard Webhooks asks for 24 to 64)."""
NOTIFY_JOB = "webhooks_out.notify_disabled"
ALL_EVENTS = "*"
ROTATION_OVERLAP = dt.timedelta(hours=24)
"""How long the previous secret keeps signing after a rotation (receivers have a day to switch)."""
DISABLED_REASONS = {"gone": i18n.N_("The receiver answered 410 Gone."),
                    "failing": i18n.N_("Every delivery failed for a day."),
                    "manual": i18n.N_("Turned off by an admin.")}


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode("ascii")


def new_msg_id() -> str:
    return "msg_" + random.token_urlsafe(18)


def check_url(url: str) -> str:
    """The URL's form (http or https, a host, no credentials): the addresses it resolves to are checked by
    app.webhooks_out.net at creation and again at each attempt."""
    url = (url or "").strip()
    if not url or len(url) > 2000:
        raise Invalid("url must be 1 to 2000 characters.", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise Invalid("url %(url)s is not a valid URL.", field="url", url=repr(url)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must start with http:// or https:// and name a host.", field="url")
    if parts.username or parts.password:
        raise Invalid("url must not contain a user name or password.", field="url")
    return url


def body(event_type: str, data: dict[str, Any], *, timestamp: str | None = None) -> str:
    """The JSON body of a delivery: `{"type", "timestamp", "data"}` (Standard Webhooks' payload structure)."""
    stamp = timestamp or now().isoformat().replace("+00:00", "Z")
    return json.dumps({"type": event_type, "timestamp": stamp, "data": data}, separators=(",", ":"),
                      ensure_ascii=False, default=str)


async def queue(*, url: str, event_type: str, payload: str, endpoint_id: int | None = None,
                secret: str | None = None, event_id: int | None = None, causation: dict[str, Any] | None = None,
                is_test: bool = False) -> int:
    """Write a pending delivery and queue its first attempt in the current unit of work; returns its id."""
    row = await WebhookDelivery.insert(WebhookDelivery(
        endpoint=endpoint_id, url=url, secret=crypto.encrypt(secret, purpose=SECRET_PURPOSE) if secret else None,
        msg_id=new_msg_id(), event_id=event_id, event_type=event_type, body=payload,
        causation=None if causation is None else json.dumps(causation, default=str),
        status="pending", next_attempt_at=now(), is_test=is_test)).returning(WebhookDelivery.id)
    delivery_id = int(row[0]["id"])
    await jobs.enqueue(SEND_JOB, {"delivery_id": delivery_id, "attempt": 1, "step": 0},
                       dedupe_key=send_key(delivery_id, 1))
    return delivery_id


def send_key(delivery_id: int, attempt: int) -> str:
    """The job queue's dedupe key of one attempt: the same attempt is never queued twice. The queue is shared by
    every tenant and delivery ids are per tenant, so the key names the tenant."""
    return f"{SEND_JOB}:{current_tenant().slug}:{delivery_id}:{attempt}"


async def deliver_once(url: str, event_type: str, data: dict[str, Any], *, secret: str | None = None,
                       causation: dict[str, Any] | None = None) -> int:
    """Queue ONE signed delivery of `{type: event_type, timestamp, data}` to `url` (an automation's "call a webhook"
    action) inside the current unit of work; returns the delivery id.

    Signed with `secret` (a `whsec_...` string) when given, else sent with the `webhook-id` and `webhook-timestamp`
    headers only. Retried and SSRF-checked like every delivery (the address is checked at each attempt, so a URL
    that resolves to a private address ends as a failed delivery, not an error here). A malformed URL or secret
    raises `Invalid`. `causation` (e.g. {"rule_id": 3, "event_id": 81, "depth": 1}) is stored on the delivery."""
    url = check_url(url)
    if secret is not None:
        check_secret(secret)
    if not isinstance(data, dict):
        raise Invalid("data must be a JSON object.", field="data")
    return await queue(url=url, event_type=event_type, payload=body(event_type, data), secret=secret,
                       causation=causation)


def check_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_` secret (base64 after the prefix, 24 to 64 bytes)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("secret must be whsec_ followed by base64.", field="secret") from None
    if not 24 <= len(key) <= 64:
        raise Invalid("secret must hold 24 to 64 bytes.", field="secret")
    return key


# -- endpoints --------------------------------------------------------------------------------------------------

def catalogue() -> list[str]:
    """Event names an endpoint may subscribe to: every durable event of the catalogue (live-only ones are not in
    the log's durable stream)."""
    return sorted(name for name, t in CATALOGUE.items() if not t.ephemeral)


def check_events(events: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys((e or "").strip() for e in events or []))
    if not chosen or "" in chosen:
        raise Invalid("Choose at least one event (or * for every event).", field="events")
    if ALL_EVENTS in chosen:
        return [ALL_EVENTS]
    known = set(catalogue())
    unknown = [e for e in chosen if e not in known]
    if unknown:
        raise Invalid("Unknown event %(name)s; GET /api/v1/events/catalogue lists them.", field="events",
                      name=repr(unknown[0]))
    return sorted(chosen)


async def check_reachable(url: str) -> None:
    """Refuse at creation what every attempt would refuse (private, loopback, link-local... addresses)."""
    try:
        await net.check(url)
    except net.Refused as exc:
        params = {k: i18n.gettext(v) if k == "why" else v for k, v in exc.params.items()}
        raise Invalid("Webhooks cannot be sent to this URL: %(reason)s.", field="url",
                      reason=i18n.gettext(exc.message, **params)) from None


def _admin(actor: Principal) -> None:
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can manage webhooks.")


async def _endpoint(endpoint_id: int) -> dict[str, Any]:
    row = await WebhookEndpoint.select().where(WebhookEndpoint.id == endpoint_id).first()
    if row is None:
        raise NotFound("Webhook endpoint %(id)s was not found.", id=endpoint_id)
    return row


async def _add_secret(endpoint_id: int) -> str:
    secret = new_secret()
    await WebhookSecret.insert(WebhookSecret(endpoint=endpoint_id,
                                             secret=crypto.encrypt(secret, purpose=SECRET_PURPOSE)))
    return secret


async def create(actor: Principal, *, url: str, events: list[str], description: str = "",
                 enabled: bool = True) -> dict[str, Any]:
    """A new endpoint with its first secret; the answer carries the secret (shown this once and on request)."""
    _admin(actor)
    url = check_url(url)
    chosen = check_events(events)
    description = (description or "").strip()
    if len(description) > 500:
        raise Invalid("description must be at most 500 characters.", field="description")
    await check_reachable(url)
    row = await WebhookEndpoint.insert(WebhookEndpoint(url=url, events=chosen, description=description,
                                                       enabled=enabled)).returning(WebhookEndpoint.id)
    endpoint_id = int(row[0]["id"])
    secret = await _add_secret(endpoint_id)
    await _start_fan_out()
    await audit.record("webhook.created", actor_id=actor.user_id, actor=actor.label, target_type="webhook",
                       target_id=endpoint_id, detail={"url": url, "events": chosen})
    return {**await get(endpoint_id), "secret": secret}


async def update(actor: Principal, endpoint_id: int, *, url: str | None = None, events: list[str] | None = None,
                 description: str | None = None, enabled: bool | None = None) -> dict[str, Any]:
    _admin(actor)
    await _endpoint(endpoint_id)
    values: dict[Any, Any] = {WebhookEndpoint.updated_at: now()}
    if url is not None:
        values[WebhookEndpoint.url] = check_url(url)
        await check_reachable(values[WebhookEndpoint.url])
    if events is not None:
        values[WebhookEndpoint.events] = check_events(events)
    if description is not None:
        if len(description.strip()) > 500:
            raise Invalid("description must be at most 500 characters.", field="description")
        values[WebhookEndpoint.description] = description.strip()
    if enabled is not None:
        values[WebhookEndpoint.enabled] = enabled
        values[WebhookEndpoint.disabled_reason] = "" if enabled else "manual"
        values[WebhookEndpoint.failing_since] = None
    await WebhookEndpoint.update(values).where(WebhookEndpoint.id == endpoint_id)
    if enabled is False:
        await _fail_pending(endpoint_id)
    await audit.record("webhook.updated", actor_id=actor.user_id, actor=actor.label, target_type="webhook",
                       target_id=endpoint_id, detail={str(k._meta.name): v for k, v in values.items()
                                                     if k is not WebhookEndpoint.updated_at})
    return await get(endpoint_id)


async def delete(actor: Principal, endpoint_id: int) -> None:
    _admin(actor)
    row = await _endpoint(endpoint_id)
    await WebhookEndpoint.delete().where(WebhookEndpoint.id == endpoint_id)
    await audit.record("webhook.deleted", actor_id=actor.user_id, actor=actor.label, target_type="webhook",
                       target_id=endpoint_id, detail={"url": row["url"]})


async def rotate(actor: Principal, endpoint_id: int) -> dict[str, Any]:
    """A new current secret; the ones in use until now keep signing for ROTATION_OVERLAP beside it."""
    _admin(actor)
    await _endpoint(endpoint_id)
    until = now() + ROTATION_OVERLAP
    await WebhookSecret.update({WebhookSecret.expires_at: until}).where(
        (WebhookSecret.endpoint == endpoint_id) & (WebhookSecret.expires_at.is_null()))
    secret = await _add_secret(endpoint_id)
    await audit.record("webhook.secret_rotated", actor_id=actor.user_id, actor=actor.label, target_type="webhook",
                       target_id=endpoint_id)
    return {**await get(endpoint_id), "secret": secret}


async def active_secrets(endpoint_id: int) -> list[dict[str, Any]]:
    """Secrets that sign now, the current one first: {id, secret, created_at, expires_at}."""
    rows = await WebhookSecret.select().where(
        (WebhookSecret.endpoint == endpoint_id)
        & ((WebhookSecret.expires_at.is_null()) | (WebhookSecret.expires_at > now()))
    ).order_by(WebhookSecret.id, ascending=False)
    return [{**r, "secret": crypto.decrypt(r["secret"], purpose=SECRET_PURPOSE)} for r in rows]


async def signing_secrets(endpoint_id: int) -> list[str]:
    return [r["secret"] for r in await active_secrets(endpoint_id)]


async def get(endpoint_id: int) -> dict[str, Any]:
    row = await _endpoint(endpoint_id)
    return {**row, "secrets": [{"id": s["id"], "created_at": s["created_at"], "expires_at": s["expires_at"],
                                "hint": s["secret"][:10] + "…"} for s in await active_secrets(endpoint_id)]}


async def current_secret(actor: Principal, endpoint_id: int) -> str:
    """The secret that signs now (an admin copies it into the receiver)."""
    _admin(actor)
    secrets = await signing_secrets((await _endpoint(endpoint_id))["id"])
    if not secrets:
        raise NotFound("Webhook endpoint %(id)s has no active secret; rotate it.", id=endpoint_id)
    return secrets[0]


async def endpoints() -> list[dict[str, Any]]:
    rows = await WebhookEndpoint.select().order_by(WebhookEndpoint.id)
    stats = {r["endpoint"]: r for r in await current_uow().connection.fetch(
        "SELECT endpoint, count(*) FILTER (WHERE status = 'failed') AS failed, "
        "count(*) FILTER (WHERE status = 'pending') AS pending, max(last_attempt_at) AS last_attempt_at "
        "FROM webhook_delivery WHERE endpoint IS NOT NULL GROUP BY endpoint")}
    out = []
    for r in rows:
        stat = stats.get(r["id"]) or {}
        out.append({**r, "failed": stat.get("failed", 0), "pending": stat.get("pending", 0),
                    "last_attempt_at": stat.get("last_attempt_at")})
    return out


# -- deliveries -----------------------------------------------------------------------------------------------------

DELIVERY_COLUMNS = (WebhookDelivery.id, WebhookDelivery.endpoint, WebhookDelivery.url, WebhookDelivery.msg_id,
                    WebhookDelivery.event_id, WebhookDelivery.event_type, WebhookDelivery.body,
                    WebhookDelivery.status, WebhookDelivery.attempts, WebhookDelivery.next_attempt_at,
                    WebhookDelivery.last_attempt_at, WebhookDelivery.response_code, WebhookDelivery.latency_ms,
                    WebhookDelivery.error, WebhookDelivery.request_headers, WebhookDelivery.response_body,
                    WebhookDelivery.is_test, WebhookDelivery.created_at)


async def deliveries(endpoint_id: int, *, status: str | None = None, before: int | None = None,
                     limit: int = 50) -> list[dict[str, Any]]:
    """An endpoint's deliveries, newest first, each with its attempts."""
    await _endpoint(endpoint_id)
    query = WebhookDelivery.select(*DELIVERY_COLUMNS).where(WebhookDelivery.endpoint == endpoint_id).order_by(
        WebhookDelivery.id, ascending=False).limit(min(max(limit, 1), 200)).output(load_json=True)
    if status:
        query = query.where(WebhookDelivery.status == status)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = await query
    attempts: dict[int, list[dict[str, Any]]] = {}
    if rows:
        for a in await WebhookAttempt.select().where(WebhookAttempt.delivery.is_in([r["id"] for r in rows])).order_by(
                WebhookAttempt.id):
            attempts.setdefault(a["delivery"], []).append(a)
    return [{**r, "attempt_log": attempts.get(r["id"], [])} for r in rows]


async def delivery(delivery_id: int, endpoint_id: int | None = None) -> dict[str, Any]:
    query = WebhookDelivery.select(*DELIVERY_COLUMNS).where(WebhookDelivery.id == delivery_id).output(load_json=True)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint == endpoint_id)
    row = await query.first()
    if row is None:
        raise NotFound("Delivery %(id)s was not found.", id=delivery_id)
    log = await WebhookAttempt.select().where(WebhookAttempt.delivery == delivery_id).order_by(WebhookAttempt.id)
    return {**row, "attempt_log": log}


async def redeliver(actor: Principal, endpoint_id: int, delivery_id: int) -> dict[str, Any]:
    """Send a finished delivery again (same `webhook-id`, a fresh signature and a full retry schedule)."""
    _admin(actor)
    endpoint = await _endpoint(endpoint_id)
    d = await delivery(delivery_id, endpoint_id)
    if d["status"] == "pending":
        raise Conflict("Delivery %(id)s is still being delivered.", id=delivery_id)
    if not endpoint["enabled"] and not d["is_test"]:
        raise Conflict("The endpoint is disabled; enable it before redelivering.")
    attempt = d["attempts"] + 1
    await WebhookDelivery.update({WebhookDelivery.status: "pending", WebhookDelivery.next_attempt_at: now(),
                                  WebhookDelivery.error: ""}).where(WebhookDelivery.id == delivery_id)
    await jobs.enqueue(SEND_JOB, {"delivery_id": delivery_id, "attempt": attempt, "step": 0},
                       dedupe_key=send_key(delivery_id, attempt))
    await audit.record("webhook.redelivered", actor_id=actor.user_id, actor=actor.label, target_type="webhook",
                       target_id=endpoint_id, detail={"delivery_id": delivery_id})
    return await delivery(delivery_id)


async def send_test(actor: Principal, endpoint_id: int) -> dict[str, Any]:
    """Queue a `webhook.test` message to the endpoint (even a disabled one, to try it before turning it on): one
    attempt, no retries, and it does not count toward the endpoint's failures."""
    _admin(actor)
    endpoint = await _endpoint(endpoint_id)
    data = {"endpoint_id": endpoint_id, "message": "A test from Switchboard."}
    delivery_id = await queue(url=endpoint["url"], event_type="webhook.test", payload=body("webhook.test", data),
                              endpoint_id=endpoint_id, is_test=True)
    return await delivery(delivery_id)


def encode_headers(headers: dict[str, str]) -> str:
    return json.dumps(headers)


async def _fail_pending(endpoint_id: int) -> None:
    await WebhookDelivery.update({WebhookDelivery.status: "failed", WebhookDelivery.next_attempt_at: None,
                                  WebhookDelivery.error: "The endpoint is disabled."}).where(
        (WebhookDelivery.endpoint == endpoint_id) & (WebhookDelivery.status == "pending")
        & (WebhookDelivery.is_test.eq(False)))


async def disable(endpoint_id: int, reason: str) -> None:
    """Turn an endpoint off by itself (410, a day of failures): its waiting deliveries fail, the event is emitted
    and the admins are emailed."""
    await WebhookEndpoint.update({WebhookEndpoint.enabled: False, WebhookEndpoint.disabled_reason: reason,
                                  WebhookEndpoint.updated_at: now()}).where(WebhookEndpoint.id == endpoint_id)
    await _fail_pending(endpoint_id)
    await audit.record("webhook.disabled", actor="Switchboard", target_type="webhook", target_id=endpoint_id,
                       detail={"reason": reason})
    await jobs.enqueue(NOTIFY_JOB, {"endpoint_id": endpoint_id},
                       dedupe_key=f"{NOTIFY_JOB}:{current_tenant().slug}:{endpoint_id}")
    await emit(ENDPOINT_DISABLED, endpoint_id=endpoint_id, reason=reason)


def reason_text(reason: str) -> str:
    text = DISABLED_REASONS.get(reason)
    return i18n.gettext(text) if text else reason


async def disabled_letters(endpoint_id: int) -> list[EmailMessage]:
    """The emails telling each active admin and owner that the endpoint was turned off, in their language."""
    endpoint = await WebhookEndpoint.select().where(WebhookEndpoint.id == endpoint_id).first()
    if endpoint is None or endpoint["enabled"]:
        return []
    ws = await Workspace.select(Workspace.display_name, Workspace.language).first()
    admins = await User.select(User.email, User.language).where(
        User.role.is_in(["owner", "admin"]) & (User.status == "active"))
    settings = get_settings()
    page = f"{settings.app.base_url}/t/{current_tenant().slug}/settings/webhooks/{endpoint_id}"
    shop = ws["display_name"] if ws else current_tenant().name
    out = []
    for admin in admins:
        with i18n.viewing(admin["language"] or (ws["language"] if ws else None)):
            subject = i18n.gettext("Webhook to %(url)s was turned off", url=endpoint["url"])
            text = "\n\n".join([
                i18n.gettext("Switchboard stopped sending webhooks of %(shop)s to %(url)s.", shop=shop,
                             url=endpoint["url"]),
                reason_text(endpoint["disabled_reason"]),
                i18n.gettext("See the deliveries, fix the receiver and turn the endpoint on again: %(page)s",
                             page=page)])
        out.append(mail.build_message(settings.mail.from_address, admin["email"], subject, text + "\n"))
    return out


async def send_mail(message: EmailMessage) -> None:
    await mail.send(mail.SmtpAccount.platform(get_settings().mail), message)


# -- the fan-out (durable listener) -------------------------------------------------------------------------------

FAN_OUT = "webhooks_out.fan_out"


async def _start_fan_out() -> None:
    """Make sure the fan-out's cursor exists, at the log's end, once an endpoint exists: every event committed after
    the endpoint is delivered even when the worker has not visited the workspace yet (a cursor it makes itself
    starts where the log ends at that visit). Until then there is no cursor, so a workspace without webhooks never
    holds its event log back. The worker fills in the cursor's event names."""
    await current_uow().connection.execute(
        """
        INSERT INTO listener_cursor (name, events, last_tx, last_event_id)
        SELECT $1, '{}', COALESCE(l.tx, '0'::xid8), COALESCE(l.id, 0)
        FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT tx, id FROM event_log ORDER BY tx DESC, id DESC LIMIT 1) l
            ON true
        ON CONFLICT (name) DO NOTHING
        """, FAN_OUT)


async def fan_out(event: Event) -> None:
    """One delivery per enabled endpoint subscribed to the event (by name or "*"); a second run over the same
    event adds nothing (unique per endpoint and event id)."""
    conn = current_uow().connection
    targets = await conn.fetch(
        "SELECT id, url FROM webhook_endpoint WHERE enabled AND (events @> ARRAY[$1]::varchar[] "
        "OR events @> ARRAY['*']::varchar[])", event.name)
    if not targets:
        return
    payload = json.dumps({"id": event.id, "type": event.name,
                          "timestamp": event.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                          "data": event.data}, separators=(",", ":"), ensure_ascii=False, default=str)
    rows = await conn.fetch(
        """
        INSERT INTO webhook_delivery (endpoint, url, msg_id, event_id, event_type, body, status, next_attempt_at)
        SELECT t.id, t.url, t.msg_id, $3, $4, $5, 'pending', now()
        FROM unnest($1::int[], $2::varchar[], $6::varchar[]) AS t(id, url, msg_id)
        ON CONFLICT (endpoint, event_id) WHERE event_id IS NOT NULL AND NOT is_test DO NOTHING
        RETURNING id
        """, [t["id"] for t in targets], [t["url"] for t in targets], event.id, event.name, payload,
        [new_msg_id() for _ in targets])
    for row in rows:
        await jobs.enqueue(SEND_JOB, {"delivery_id": row["id"], "attempt": 1, "step": 0},
                           dedupe_key=send_key(row["id"], 1))
