"""Sending one attempt of a delivery, and what its answer means.

An attempt reads the delivery in one short unit of work, sends with no transaction open (a slow receiver holds no
connection and no lock), and records the answer in a second one. The second only lands while the delivery still
waits for that very attempt, so a repeated job cannot count an attempt twice; a worker killed mid-send sends the
attempt again (at least once: receivers drop duplicates by `webhook-id`, the same on every attempt).

Answers: 2xx succeeds. Timeouts, network errors, 429 (its Retry-After honoured) and 5xx are retried on SCHEDULE with
jitter, about a day in all. 410 Gone fails the delivery and turns the endpoint off. Redirects are not followed, and
they and every other 4xx fail the delivery at once. An endpoint whose failures have gone on for FAILING_DISABLE is
turned off and the workspace's admins get an email in their language.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import random
import time
from typing import Any

import httpx
import structlog

from app.lib import crypto, i18n
from app.lib.clock import now
from app.lib.db import current_uow, resolve_active, resolve_active_cached, tenant_context
from app.lib.jobs import enqueue
from app.webhooks_out import net, services, signing
from app.webhooks_out.tables import WebhookAttempt, WebhookDelivery

log = structlog.get_logger(__name__)

SCHEDULE: tuple[float, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
"""Seconds before each retry (Standard Webhooks' suggested schedule): 8 attempts over about 27.6 hours, each delay
moved by up to JITTER either way so that a receiver back from an outage is not hit by every retry at once."""
JITTER = 0.2
RETRY_AFTER_CAP = 10 * 3600.0
"""The longest Retry-After honoured (a longer one waits this long)."""
FAILING_DISABLE = dt.timedelta(days=1)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEADLINE = 15.0
"""Seconds one attempt may take in all (a receiver that drips its answer byte by byte is cut off)."""
RESPONSE_KEPT = 2000
"""Characters of a response body kept in the log."""
USER_AGENT = "Switchboard-Webhooks/1.0"


@dataclasses.dataclass(frozen=True)
class Prepared:
    delivery_id: int
    endpoint_id: int | None
    attempt: int
    step: int
    is_test: bool
    url: str
    body: str
    headers: dict[str, str]
    failing: bool = False
    """The endpoint had failed since its last success (a success clears that)."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    code: int | None = None
    latency_ms: int | None = None
    error: str = ""
    response: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300

    @property
    def retryable(self) -> bool:
        if self.code is None:
            return not self.error.startswith("refused:")  # timeouts and network errors, not an SSRF refusal
        return self.code == 429 or self.code >= 500


def retry_delay(step: int, retry_after: float | None = None, rng: random.Random | None = None) -> float | None:
    """Seconds before the retry after the attempt at `step` (0-based) failed; None when the schedule is done."""
    if step >= len(SCHEDULE):
        return None
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP)
    base = SCHEDULE[step]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now()).total_seconds())


# -- the job -------------------------------------------------------------------------------------------------------

async def send(payload: dict[str, Any]) -> None:
    """Job `webhooks_out.send`: {delivery_id, attempt (1-based, over the delivery's life), step (in SCHEDULE)}."""
    tenant = await resolve_active_cached(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        prepared = await _prepare(int(payload["delivery_id"]), int(payload["attempt"]), int(payload.get("step", 0)))
    if prepared is None:
        return
    outcome = await post(prepared.url, prepared.body, prepared.headers)
    async with tenant_context(tenant):
        await _record(prepared, outcome)


async def _prepare(delivery_id: int, attempt: int, step: int) -> Prepared | None:
    """The delivery, its endpoint and the endpoint's active secrets in one query; the headers signed now."""
    d = await current_uow().connection.fetchrow(
        """
        SELECT d.endpoint, d.url, d.secret, d.msg_id, d.body, d.status, d.attempts, d.is_test,
               e.id AS endpoint_found, e.url AS endpoint_url, e.enabled, e.failing_since IS NOT NULL AS failing,
               ARRAY(SELECT s.secret FROM webhook_secret s WHERE s.endpoint = d.endpoint
                       AND (s.expires_at IS NULL OR s.expires_at > now()) ORDER BY s.id DESC) AS secrets
        FROM webhook_delivery d LEFT JOIN webhook_endpoint e ON e.id = d.endpoint WHERE d.id = $1
        """, delivery_id)
    if d is None or d["status"] != "pending" or d["attempts"] != attempt - 1:
        return None  # removed, finished, or this attempt ran already
    stored: list[str] = []
    url = d["url"]
    if d["endpoint"] is not None:
        if d["endpoint_found"] is None:
            return None
        if not d["enabled"] and not d["is_test"]:
            await _finish(delivery_id, "failed", error=i18n.N_("The endpoint is disabled."))
            return None
        stored = list(d["secrets"])
        url = d["endpoint_url"]  # an admin may have moved the endpoint since the delivery was queued
    elif d["secret"]:
        stored = [d["secret"]]
    secrets = [crypto.decrypt(token, purpose=services.SECRET_PURPOSE) for token in stored]
    headers = signing.headers(d["msg_id"], int(time.time()), d["body"], secrets)
    return Prepared(delivery_id, d["endpoint"], attempt, step, d["is_test"], url, d["body"], headers,
                    bool(d["failing"]))


_clients: dict[int, httpx.AsyncClient] = {}


def _client() -> httpx.AsyncClient:
    """One client per event loop (its connection pool keeps connections to receivers open between deliveries).
    No redirects followed; proxies from the environment ignored (a proxy would connect instead of us)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(id(loop))
    if client is None or client.is_closed:
        client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False,
                                   limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        _clients.clear()  # a client of a closed loop cannot be used again
        _clients[id(loop)] = client
    return client


async def post(url: str, body: str, headers: dict[str, str]) -> Outcome:
    """One POST to `url` at an address checked by app.webhooks_out.net (refused ones are never connected to)."""
    try:
        target = await net.check(url)
    except net.Refused as exc:
        return Outcome(error=f"refused: {exc}")
    sent = {**headers, "host": target.host_header, "user-agent": USER_AGENT}
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        # Certificates are checked against the host's name; the connection is not pooled, as the pool keys
        # connections by the address (another name on the same address must not reuse this TLS session).
        extensions["sni_hostname"] = target.host
        sent["connection"] = "close"
    start = time.monotonic()
    try:
        async with asyncio.timeout(DEADLINE):
            async with _client().stream("POST", target.pinned_url(), content=body.encode(), headers=sent,
                                        extensions=extensions, timeout=TIMEOUT) as response:
                kept = b""
                async for chunk in response.aiter_bytes():  # a receiver's endless answer is cut short
                    kept += chunk
                    if len(kept) >= RESPONSE_KEPT:
                        break
    except (httpx.TimeoutException, TimeoutError):
        return Outcome(latency_ms=_ms(start), error=f"timed out after {_ms(start) / 1000:.1f} s")
    except httpx.HTTPError as exc:
        return Outcome(latency_ms=_ms(start), error=f"network error: {type(exc).__name__}: {exc}"[:500])
    text = kept[:RESPONSE_KEPT].decode("utf-8", "replace")
    retry_after = parse_retry_after(response.headers.get("retry-after")) if response.status_code == 429 else None
    error = ""
    if 300 <= response.status_code < 400:
        error = f"redirect to {response.headers.get('location', '?')} not followed"[:500]
    return Outcome(code=response.status_code, latency_ms=_ms(start), response=text, retry_after=retry_after,
                   error=error)


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


async def _record(p: Prepared, outcome: Outcome) -> None:
    at = now()
    delay = None if outcome.ok or not outcome.retryable or p.is_test else retry_delay(p.step, outcome.retry_after)
    status = "succeeded" if outcome.ok else ("pending" if delay is not None else "failed")
    next_at = at + dt.timedelta(seconds=delay) if delay is not None else None
    error = outcome.error or ("" if outcome.ok else f"HTTP {outcome.code}")
    conn = current_uow().connection
    landed = await conn.fetchval(
        """
        UPDATE webhook_delivery SET attempts = $2, status = $3, next_attempt_at = $4, last_attempt_at = $5,
            response_code = $6, latency_ms = $7, error = $8, response_body = $9, request_headers = $10::jsonb,
            url = $11
        WHERE id = $1 AND attempts = $2 - 1 AND status = 'pending' RETURNING id
        """, p.delivery_id, p.attempt, status, next_at, at, outcome.code, outcome.latency_ms, error,
        outcome.response, services.encode_headers(p.headers), p.url)
    if landed is None:
        return  # another run of this attempt recorded it first
    await WebhookAttempt.insert(WebhookAttempt(
        delivery=p.delivery_id, attempted_at=at, response_code=outcome.code, latency_ms=outcome.latency_ms,
        error=error, response_body=outcome.response))
    if delay is not None:
        following = {"delivery_id": p.delivery_id, "attempt": p.attempt + 1, "step": p.step + 1}
        await enqueue(services.SEND_JOB, following, delay=dt.timedelta(seconds=delay),
                      dedupe_key=services.send_key(p.delivery_id, p.attempt + 1))
    if p.endpoint_id is None or p.is_test:
        return
    if outcome.ok:
        if p.failing:
            await conn.execute("UPDATE webhook_endpoint SET failing_since = NULL WHERE id = $1", p.endpoint_id)
        return
    since = await conn.fetchval(
        "UPDATE webhook_endpoint SET failing_since = coalesce(failing_since, $2) WHERE id = $1 AND enabled "
        "RETURNING failing_since", p.endpoint_id, at)
    if since is None:
        return
    if outcome.code == 410:
        await services.disable(p.endpoint_id, "gone")
    elif at - since >= FAILING_DISABLE:
        await services.disable(p.endpoint_id, "failing")


async def _finish(delivery_id: int, status: str, *, error: str) -> None:
    await WebhookDelivery.update({WebhookDelivery.status: status, WebhookDelivery.next_attempt_at: None,
                                  WebhookDelivery.error: error}).where(WebhookDelivery.id == delivery_id)


# -- the email to admins --------------------------------------------------------------------------------------------

async def notify_disabled(payload: dict[str, Any]) -> None:
    """Job `webhooks_out.notify_disabled`: email every active admin and owner that an endpoint was turned off, each
    in their language."""
    tenant = await resolve_active(payload["tenant"])
    if tenant is None:
        return
    async with tenant_context(tenant):
        letters = await services.disabled_letters(int(payload["endpoint_id"]))
    for message in letters:
        await services.send_mail(message)
