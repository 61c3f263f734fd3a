"""Wallboard JSON API under /t/{slug}/api/v1: the board now, and the wallboard-only links (admins)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.lib.wire import PathId
from app.wallboard import services
from app.wallboard.schemas import BoardOut, TokenCreated, TokenIn, TokenOut, to_board, to_token

Req = Request[Principal, Any, Any]


class WallboardApi(Controller):
    path = "/api/v1/wallboard"
    tags = ["wallboard"]

    @get("/", guards=[requires("supervisor")], summary="The wallboard now: per queue waiting, longest wait, agents "
         "by state, service level and abandons today")
    async def board(self) -> BoardOut:
        return to_board(await services.board())

    @get("/tokens", guards=[requires("admin")], summary="Wallboard-only links (their secrets are never shown again)")
    async def tokens(self, request: Req) -> list[TokenOut]:
        return [to_token(r) for r in await services.list_tokens(request.user)]

    @post("/tokens", guards=[requires("admin")], summary="Create a wallboard-only link; its secret is shown only in "
          "this answer")
    async def create_token(self, request: Req, slug: FromPath[str], data: JSONBody[TokenIn]) -> TokenCreated:
        row, secret = await services.create_token(request.user, data.name)
        return TokenCreated(token=to_token(row), secret=secret, url=services.link(slug, secret))

    @delete("/tokens/{token_id:int}", guards=[requires("admin")], status_code=200,
            summary="Revoke a wallboard-only link: its screens go dark at once")
    async def revoke_token(self, request: Req, token_id: PathId) -> TokenOut:
        return to_token(await services.revoke_token(request.user, token_id))
