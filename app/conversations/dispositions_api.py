"""Disposition codes per queue under /t/{slug}/api/v1/queues/{key}/dispositions: read (who sees the queue), add,
change and remove (admins). The queue's wrap-up seconds and required flag are set with PATCH /queues/{key}."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from app.accounts.guards import requires, signed_in
from app.accounts.services import Principal
from app.contacts.services import to_struct
from app.conversations import dispositions, services
from app.conversations.schemas import DispositionIn, DispositionOut, DispositionPatch
from app.lib.errors import NotFound

Req = Request[Principal, Any, Any]


class DispositionsApi(Controller):
    path = "/api/v1/queues/{key:str}/dispositions"
    tags = ["queue"]
    guards = [signed_in]

    @get("/", summary="The queue's disposition codes, in order")
    async def codes(self, request: Req, key: FromPath[str]) -> list[DispositionOut]:
        queue = next((q for q in await services.queues(include_archived=True) if q["key"] == key), None)
        if queue is None or not services.visible(queue, request.user):
            raise NotFound("No queue %(key)s.", key=repr(key))
        return [to_struct(DispositionOut, r) for r in await dispositions.of_queue(queue["id"])]

    @post("/", guards=[requires("admin")], summary="Add a disposition code to the queue")
    async def add(self, request: Req, key: FromPath[str], data: JSONBody[DispositionIn]) -> DispositionOut:
        return to_struct(DispositionOut, await dispositions.add(request.user, key, code=data.code, label=data.label,
                                                                position=data.position))

    @patch("/{code:str}", guards=[requires("admin")], summary="Relabel or reorder a disposition code")
    async def update(self, request: Req, key: FromPath[str], code: FromPath[str],
                     data: JSONBody[DispositionPatch]) -> DispositionOut:
        return to_struct(DispositionOut, await dispositions.update(request.user, key, code, label=data.label,
                                                                   position=data.position))

    @delete("/{code:str}", guards=[requires("admin")], summary="Remove a disposition code")
    async def remove(self, request: Req, key: FromPath[str], code: FromPath[str]) -> None:
        await dispositions.remove(request.user, key, code)
