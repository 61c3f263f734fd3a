"""Outbound webhooks JSON API under /t/{slug}/api/v1 (admins): endpoints, secrets, deliveries."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromQuery, JSONBody

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib.wire import PathId, QueryId, QueryInt
from app.webhooks_out import services
from app.webhooks_out.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    SecretOut,
    SecretValue,
)

Req = Request[Principal, Any, Any]


def endpoint_out(row: dict[str, Any]) -> EndpointOut:
    return EndpointOut(id=row["id"], url=row["url"], description=row["description"], events=list(row["events"]),
                       enabled=row["enabled"], disabled_reason=row["disabled_reason"],
                       failing_since=row["failing_since"], created_at=row["created_at"],
                       secrets=[SecretOut(**s) for s in row["secrets"]])


def delivery_out(row: dict[str, Any]) -> DeliveryOut:
    return DeliveryOut(
        id=row["id"], endpoint_id=row["endpoint"], msg_id=row["msg_id"], event_id=row["event_id"],
        event_type=row["event_type"], status=row["status"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], last_attempt_at=row["last_attempt_at"],
        response_code=row["response_code"], latency_ms=row["latency_ms"], error=row["error"],
        request_headers=row["request_headers"] or {}, request_body=row["body"], response_body=row["response_body"],
        is_test=row["is_test"], created_at=row["created_at"],
        attempt_log=[AttemptOut(attempted_at=a["attempted_at"], response_code=a["response_code"],
                                latency_ms=a["latency_ms"], error=a["error"], response_body=a["response_body"])
                     for a in row["attempt_log"]])


class WebhooksApi(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]
    guards = [requires("admin")]

    @get("/", summary="Webhook endpoints")
    async def list_endpoints(self) -> list[EndpointOut]:
        return [endpoint_out(await services.get(e["id"])) for e in await services.endpoints()]

    @post("/", summary="Subscribe a URL to events; the answer holds its signing secret")
    async def create(self, request: Req, data: JSONBody[EndpointIn]) -> EndpointCreated:
        row = await services.create(request.user, url=data.url, events=data.events, description=data.description,
                                    enabled=data.enabled)
        return EndpointCreated(id=row["id"], secret=row["secret"], endpoint=endpoint_out(row))

    @get("/{endpoint_id:int}")
    async def read(self, endpoint_id: PathId) -> EndpointOut:
        return endpoint_out(await services.get(endpoint_id))

    @patch("/{endpoint_id:int}", summary="Change the URL, events or description; turn it on or off")
    async def update(self, request: Req, endpoint_id: PathId, data: JSONBody[EndpointPatch]) -> EndpointOut:
        return endpoint_out(await services.update(request.user, endpoint_id, url=data.url, events=data.events,
                                                  description=data.description, enabled=data.enabled))

    @delete("/{endpoint_id:int}", summary="Remove an endpoint and its delivery log")
    async def remove(self, request: Req, endpoint_id: PathId) -> None:
        await services.delete(request.user, endpoint_id)

    @get("/{endpoint_id:int}/secret", summary="The secret that signs now")
    async def secret(self, request: Req, endpoint_id: PathId) -> SecretValue:
        return SecretValue(secret=await services.current_secret(request.user, endpoint_id))

    @post("/{endpoint_id:int}/rotate", status_code=200,
          summary="A new signing secret; the previous one keeps signing beside it for 24 hours")
    async def rotate(self, request: Req, endpoint_id: PathId) -> EndpointCreated:
        row = await services.rotate(request.user, endpoint_id)
        return EndpointCreated(id=row["id"], secret=row["secret"], endpoint=endpoint_out(row))

    @post("/{endpoint_id:int}/test", status_code=202, summary="Queue a webhook.test message to the endpoint")
    async def test(self, request: Req, endpoint_id: PathId) -> DeliveryOut:
        return delivery_out(await services.send_test(request.user, endpoint_id))

    @get("/{endpoint_id:int}/deliveries", summary="The endpoint's deliveries, newest first, with their attempts")
    async def deliveries(self, endpoint_id: PathId, status: FromQuery[str | None] = None, before: QueryId = None,
                         limit: QueryInt = 50) -> list[DeliveryOut]:
        return [delivery_out(d) for d in await services.deliveries(endpoint_id, status=status, before=before,
                                                                     limit=limit)]

    @get("/{endpoint_id:int}/deliveries/{delivery_id:int}")
    async def delivery(self, endpoint_id: PathId, delivery_id: PathId) -> DeliveryOut:
        return delivery_out(await services.delivery(delivery_id, endpoint_id))

    @post("/{endpoint_id:int}/deliveries/{delivery_id:int}/redeliver", status_code=202,
          summary="Send a finished delivery again (same webhook-id, full retry schedule)")
    async def redeliver(self, request: Req, endpoint_id: PathId, delivery_id: PathId) -> DeliveryOut:
        return delivery_out(await services.redeliver(request.user, endpoint_id, delivery_id))
