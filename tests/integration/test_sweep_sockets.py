"""Socket sweep: every websocket route of the app (from its route table) refuses another shop's session or token, a
foreign Origin, and a missing Origin (a browser always sends one on a websocket handshake), and accepts its own
page. A new websocket route fails this test until it says here how a page opens it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from litestar.routes import WebSocketRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.accounts.services import create_session
from app.lib.db import tenant_context
from app.security import rejections
from tests.conftest import ShopFixture, make_shop
from tests.integration.test_orders import api, make_contact, make_order
from tests.servers import InProcessServer, realtime_runtime

pytestmark = pytest.mark.xdist_group("realtime")

APP_ORIGIN = "http://testserver.local"  # BASE_URL of the test settings: the app's own pages
SITE = "https://shop-site.example"  # the shop's own site, where its chat widget runs
EVIL = "https://evil.example"


@dataclasses.dataclass
class Opening:
    """How a page of the shop opens a socket: the URL path after /t/{slug}, headers, subprotocols, its Origin."""

    path: str
    origin: str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    subprotocols: list[str] | None = None


async def _console(client: httpx.AsyncClient, shop: ShopFixture) -> Opening:
    async with tenant_context(shop.tenant):
        token, _ = await create_session(shop.user_id)
    return Opening("/ws?last_id=", APP_ORIGIN, headers={"Cookie": f"sb_session={token}"})


async def _portal(client: httpx.AsyncClient, shop: ShopFixture) -> Opening:
    contact = await make_contact(client, shop)
    order = await make_order(client, shop, contact["id"])
    link = await client.post(api(shop, f"/orders/{order['id']}/portal"), headers=shop.auth)
    assert link.status_code in (200, 201), link.text
    return Opening(f"/portal/{link.json()['url'].rsplit('/', 1)[1]}/ws", APP_ORIGIN)


async def _chat(client: httpx.AsyncClient, shop: ShopFixture) -> Opening:
    saved = await client.put(api(shop, "/chat/settings"), json={"allowed_origins": [SITE]}, headers=shop.auth)
    assert saved.status_code == 200, saved.text
    started = await client.post(f"/t/{shop.slug}/chat/sessions", json={}, headers={"Origin": SITE})
    assert started.status_code == 201, started.text
    return Opening("/chat/ws", SITE, subprotocols=["sb-chat", started.json()["token"]])


async def _wallboard(client: httpx.AsyncClient, shop: ShopFixture) -> Opening:
    made = await client.post(api(shop, "/wallboard/tokens"), json={"name": "Floor TV"}, headers=shop.auth)
    assert made.status_code == 201, made.text
    return Opening("/wallboard/ws", APP_ORIGIN, headers={"Cookie": f"sb_wallboard={made.json()['secret']}"})


OPENINGS: dict[str, Callable[[httpx.AsyncClient, ShopFixture], Awaitable[Opening]]] = {
    "/t/{slug:str}/ws": _console,
    "/t/{slug:str}/portal/{token:str}/ws": _portal,
    "/t/{slug:str}/chat/ws": _chat,
    "/t/{slug:str}/wallboard/ws": _wallboard,
}


@pytest.fixture
async def fx_server(fx_db: str) -> AsyncIterator[InProcessServer]:
    from app.asgi import create_app

    async with realtime_runtime("memory"):
        server = await InProcessServer(create_app()).start()
        try:
            yield server
        finally:
            await server.stop()


async def _outcome(server: InProcessServer, slug: str, opening: Opening, *, origin: str | None) -> str:
    """"accepted" when the socket opens and sends its first frame, "refused" when the handshake or the first read
    fails."""
    url = f"{server.ws_url}/t/{slug}{opening.path}"
    try:
        async with connect(url, origin=origin, additional_headers=opening.headers,  # type: ignore[arg-type]
                           subprotocols=opening.subprotocols, open_timeout=10) as ws:  # type: ignore[arg-type]
            await asyncio.wait_for(ws.recv(), 10)
    except (InvalidStatus, ConnectionClosed):
        return "refused"
    return "accepted"


async def test_every_socket_refuses_foreign_credentials_and_foreign_or_missing_origins(
        fx_server: InProcessServer) -> None:
    from app.asgi import create_app

    routes = {r.path for r in create_app().routes if isinstance(r, WebSocketRoute)}
    assert routes == set(OPENINGS), f"say how a page opens these sockets: {sorted(routes ^ set(OPENINGS))}"
    a, b = await make_shop("ws_a"), await make_shop("ws_b")
    async with httpx.AsyncClient(base_url=fx_server.url, trust_env=False, timeout=10) as client:
        for path, open_for in OPENINGS.items():
            mine, theirs = await open_for(client, a), await open_for(client, b)
            outcomes = {
                "own page": await _outcome(fx_server, a.slug, mine, origin=mine.origin),
                "other shop's credentials": await _outcome(fx_server, a.slug, theirs, origin=mine.origin),
                "foreign origin": await _outcome(fx_server, a.slug, mine, origin=EVIL),
                "no origin": await _outcome(fx_server, a.slug, mine, origin=None),
                "own credentials, other shop's url": await _outcome(fx_server, b.slug, mine, origin=mine.origin),
            }
            assert outcomes == {
                "own page": "accepted", "other shop's credentials": "refused", "foreign origin": "refused",
                "no origin": "refused", "own credentials, other shop's url": "refused"}, path
        # The chat socket's refusals for its origin are in the shop's security console.
        listed = (await client.get(api(a, "/security/rejections"), headers=a.auth)).json()["items"]
        chat = [i for i in listed if i["path"] == f"/t/{a.slug}/chat/ws"]
        assert sorted(i["detail"] for i in chat) == ["Origin (none)", f"Origin {EVIL}"]
        assert {i["reason"] for i in chat} == {rejections.FOREIGN_ORIGIN}
