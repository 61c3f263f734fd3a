"""The wallboard: its links (API, hashed, revocable, audited), a link's screen sees the board and nothing else,
the board's socket follows the queue live and hears only its own shop, a revoked link is refused and its open
screens are closed."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.accounts.services import create_session
from app.accounts.tables import User
from app.lib.db import tenant_context
from tests.conftest import ShopFixture
from tests.servers import ConsoleSocket, InProcessServer, parse_frame

ORIGIN = "http://testserver.local"


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _user(shop: ShopFixture, role: str, name: str) -> tuple[int, str]:
    """A new user of `role` with a session: (user id, session token)."""
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{role}-{name.lower()}@{shop.slug}.example", name=name,
                                      role=role)).returning(User.id)
        token, _ = await create_session(rows[0]["id"])
    return rows[0]["id"], token


async def _link(client: Any, shop: ShopFixture, name: str = "Floor TV") -> dict[str, Any]:
    resp = await client.post(api(shop, "/wallboard/tokens"), json={"name": name}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _figure(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert found, f"{testid} is not in {html[:300]!r}"
    return found.group(1).strip()


class BoardSocket(ConsoleSocket):
    @classmethod
    async def board(cls, server: InProcessServer, slug: str, *, link: str | None = None,
                    session: str | None = None) -> BoardSocket:
        cookies = [f"sb_wallboard={link}"] if link else []
        cookies += [f"sb_session={session}"] if session else []
        ws = await connect(f"{server.ws_url}/t/{slug}/wallboard/ws?last_id=", origin=ORIGIN,  # type: ignore[arg-type]
                           additional_headers={"Cookie": "; ".join(cookies)} if cookies else {}, open_timeout=10)
        sock = cls(ws)
        await sock.ready()
        return sock


async def test_admin_manages_links_over_the_api_secret_shown_once_stored_hashed_and_audited(
    fx_client: Any, fx_shop: ShopFixture
) -> None:
    created = await _link(fx_client, fx_shop)
    secret = created["secret"]
    assert secret.startswith("wb_") and created["url"] == f"/t/{fx_shop.slug}/wallboard?token={secret}&tv=1"
    listed = await fx_client.get(api(fx_shop, "/wallboard/tokens"), headers=fx_shop.auth)
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()] == ["Floor TV"] and secret not in listed.text
    async with tenant_context(fx_shop.tenant) as uow:
        stored = await uow.connection.fetchval("SELECT token_hash FROM wallboard_token")
        actions = [r["action"] for r in await uow.connection.fetch("SELECT action FROM audit_entry ORDER BY id")]
    assert secret not in stored and len(stored) == 64
    assert "wallboard_token.created" in actions

    bad = await fx_client.post(api(fx_shop, "/wallboard/tokens"), json={"name": "  "}, headers=fx_shop.auth)
    assert bad.status_code == 400 and "name" in bad.text
    revoked = await fx_client.delete(api(fx_shop, f"/wallboard/tokens/{created['token']['id']}"),
                                     headers=fx_shop.auth)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    async with tenant_context(fx_shop.tenant) as uow:
        assert await uow.connection.fetchval(
            "SELECT count(*) FROM audit_entry WHERE action = 'wallboard_token.revoked'") == 1


async def test_only_admins_manage_links_and_supervisors_read_the_board(fx_client: Any, fx_shop: ShopFixture) -> None:
    _, supervisor = await _user(fx_shop, "supervisor", "Sue")
    _, operator = await _user(fx_shop, "operator", "Olga")
    await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "Cracked mug"},
                         headers=fx_shop.auth)
    fx_client.cookies.set("sb_session", supervisor, path=f"/t/{fx_shop.slug}")
    board = await fx_client.get(api(fx_shop, "/wallboard/"))
    assert board.status_code == 200, board.text
    general = next(q for q in board.json()["queues"] if q["key"] == "general")
    assert general["waiting"] == 1 and general["longest_wait_seconds"] >= 0
    assert general["agents"]["offline"]["count"] >= 1 and "Sue" in general["agents"]["offline"]["names"]
    refused = await fx_client.post(api(fx_shop, "/wallboard/tokens"), json={"name": "TV"})
    assert refused.status_code == 403
    fx_client.cookies.set("sb_session", operator, path=f"/t/{fx_shop.slug}")
    assert (await fx_client.get(api(fx_shop, "/wallboard/"))).status_code == 403
    page = await fx_client.get(f"/t/{fx_shop.slug}/wallboard", headers={"accept": "text/html"})
    assert page.status_code == 403


async def test_a_link_shows_the_board_and_opens_nothing_else(fx_client: Any, fx_shop: ShopFixture) -> None:
    secret = (await _link(fx_client, fx_shop))["secret"]
    await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "Where is my parcel"},
                         headers=fx_shop.auth)
    opened = await fx_client.get(f"/t/{fx_shop.slug}/wallboard?token={secret}&tv=1", headers={"accept": "text/html"})
    assert opened.status_code == 303 and opened.headers["location"] == f"/t/{fx_shop.slug}/wallboard?tv=1"
    cookie = opened.headers["set-cookie"]
    assert f"Path=/t/{fx_shop.slug}/wallboard" in cookie and "HttpOnly" in cookie
    screen = {"Cookie": f"sb_wallboard={secret}", "accept": "text/html"}
    page = await fx_client.get(f"/t/{fx_shop.slug}/wallboard?tv=1", headers=screen)
    assert page.status_code == 200, page.text
    assert _figure(page.text, "waiting-general") == "1"
    assert 'class="wallboard tv"' in page.text and f'ws-connect="/t/{fx_shop.slug}/wallboard/ws"' in page.text
    assert "Where is my parcel" not in page.text and 'data-testid="who"' not in page.text  # no items, no nav
    for path in ("/console/", "/contacts/", "/", "/settings/wallboard/"):
        resp = await fx_client.get(f"/t/{fx_shop.slug}{path}", headers=screen)
        assert resp.status_code == 303 and "/login" in resp.headers["location"], path
    for path in ("/me", "/wallboard/", "/wallboard/tokens", "/conversations/waiting"):
        assert (await fx_client.get(api(fx_shop, path), headers={"Cookie": f"sb_wallboard={secret}"})).status_code \
            == 401, path
        assert (await fx_client.get(api(fx_shop, path), headers={"Authorization": f"Bearer {secret}"})).status_code \
            == 404, path


async def test_a_revoked_or_foreign_link_is_refused(fx_client: Any, fx_shop: ShopFixture,
                                                   fx_other_shop: ShopFixture) -> None:
    created = await _link(fx_client, fx_shop)
    secret = created["secret"]
    mine = await fx_client.get(f"/t/{fx_other_shop.slug}/wallboard?token={secret}", headers={"accept": "text/html"})
    assert mine.status_code == 404  # shop A's link on shop B: as if it did not exist
    other = await fx_client.get(f"/t/{fx_other_shop.slug}/wallboard",
                                headers={"Cookie": f"sb_wallboard={secret}", "accept": "text/html"})
    assert other.status_code == 303 and "/login" in other.headers["location"]
    gone = await fx_client.delete(api(fx_other_shop, f"/wallboard/tokens/{created['token']['id']}"),
                                  headers=fx_other_shop.auth)
    assert gone.status_code == 404  # B's admin cannot reach (or learn about) A's link by its id
    assert [t["id"] for t in (await fx_client.get(api(fx_other_shop, "/wallboard/tokens"),
                                                  headers=fx_other_shop.auth)).json()] == []

    await fx_client.delete(api(fx_shop, f"/wallboard/tokens/{created['token']['id']}"), headers=fx_shop.auth)
    assert (await fx_client.get(f"/t/{fx_shop.slug}/wallboard?token={secret}",
                                headers={"accept": "text/html"})).status_code == 404
    page = await fx_client.get(f"/t/{fx_shop.slug}/wallboard",
                               headers={"Cookie": f"sb_wallboard={secret}", "accept": "text/html"})
    assert page.status_code == 303 and "/login" in page.headers["location"]


@pytest.mark.xdist_group("realtime")
async def test_the_board_follows_the_queue_live_and_hears_only_its_shop(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    secret = (await _link(fx_client, fx_shop))["secret"]
    other_secret = (await _link(fx_client, fx_other_shop))["secret"]
    _, sup_session = await _user(fx_shop, "supervisor", "Sue")
    screen = await BoardSocket.board(fx_live, fx_shop.slug, link=secret)
    supervisor_board = await BoardSocket.board(fx_live, fx_shop.slug, session=sup_session)
    stranger = await BoardSocket.board(fx_live, fx_other_shop.slug, link=other_secret)
    console = await ConsoleSocket.open(fx_live.ws_url, fx_shop.slug, sup_session, ORIGIN)
    await console.ready()

    made = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "Sentinel"},
                                headers=fx_shop.auth)
    assert made.status_code == 201, made.text
    for sock in (screen, supervisor_board):
        frames = await sock.until(lambda f: f.event == "queue.item_added" and "wallboard-board" in f.text)
        assert 'hx-swap-oob="true"' in frames[-1].text
        assert _figure(frames[-1].text, "waiting-general") == "1"
        assert 'data-since="' in frames[-1].text  # the longest wait ticks in the browser
        assert not any("Sentinel" in f.text or "console-queue" in f.text for f in frames)  # board only
    heard = await console.until(lambda f: f.event == "queue.item_added" and "Sentinel" in f.text)
    assert not any("wallboard-board" in f.text for f in heard)  # consoles never render the board

    taken = await fx_client.post(api(fx_shop, f"/conversations/{made.json()['id']}/take"), headers=fx_shop.auth)
    assert taken.status_code == 200, taken.text
    frames = await screen.until(lambda f: f.event == "queue.item_taken" and "wallboard-board" in f.text)
    assert _figure(frames[-1].text, "waiting-general") == "0"

    with pytest.raises(TimeoutError):  # another shop's board hears nothing of this shop
        await stranger.until(lambda f: f.event is not None, wait=1.0)
    for sock in (screen, supervisor_board, stranger, console):
        await sock.close()


@pytest.mark.xdist_group("realtime")
async def test_sockets_without_a_right_are_refused_and_a_revoked_links_screen_goes_dark(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    created = await _link(fx_client, fx_shop)
    _, operator = await _user(fx_shop, "operator", "Olga")
    for slug, kwargs in ((fx_shop.slug, {"session": operator}), (fx_other_shop.slug, {"link": created["secret"]}),
                         (fx_shop.slug, {})):
        with pytest.raises(InvalidStatus):
            await BoardSocket.board(fx_live, slug, **kwargs)
    screen = await BoardSocket.board(fx_live, fx_shop.slug, link=created["secret"])
    await fx_client.delete(api(fx_shop, f"/wallboard/tokens/{created['token']['id']}"), headers=fx_shop.auth)

    async def drain() -> None:
        while True:  # frames of the revocation's own events may come first; the close follows within a second
            parse_frame(await screen.ws.recv())

    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(drain(), 15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    with pytest.raises(InvalidStatus):
        await BoardSocket.board(fx_live, fx_shop.slug, link=created["secret"])

    # A supervisor's board goes dark when they are moved to a lower role.
    sup_id, sup_session = await _user(fx_shop, "supervisor", "Sue")
    board = await BoardSocket.board(fx_live, fx_shop.slug, session=sup_session)
    demoted = await fx_client.patch(api(fx_shop, f"/users/{sup_id}"), json={"role": "operator"}, headers=fx_shop.auth)
    assert demoted.status_code == 200, demoted.text

    async def drain_board() -> None:
        while True:
            parse_frame(await board.ws.recv())

    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(drain_board(), 15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_the_demo_shop_has_a_wallboard_link_made_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.demo import demo_wallboard_path, ensure_demo_wallboard

    assert await ensure_demo_wallboard(fx_shop.slug) is True
    assert await ensure_demo_wallboard(fx_shop.slug) is False  # made once; a revoked one is not brought back
    opened = await fx_client.get(demo_wallboard_path(fx_shop.slug), headers={"accept": "text/html"})
    assert opened.status_code == 303 and opened.headers["location"] == f"/t/{fx_shop.slug}/wallboard?tv=1"
    listed = (await fx_client.get(api(fx_shop, "/wallboard/tokens"), headers=fx_shop.auth)).json()
    assert [t["name"] for t in listed] == ["Demo: floor TV"]


async def test_the_board_shows_service_level_and_abandons_today_from_the_queue_report(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    from app.lib import i18n
    from tests.integration.test_reports_queues import _sofia, _visits

    await _sofia(fx_client, fx_shop)
    queues = (await fx_client.get(api(fx_shop, "/queues"), headers=fx_shop.auth)).json()
    general = int(next(q["id"] for q in queues if q["key"] == "general"))
    midnight = i18n.day_start("Europe/Sofia")
    await _visits(fx_shop, [
        {"queue": general, "entered": midnight - dt.timedelta(seconds=1), "wait": 2},  # yesterday: not counted
        {"queue": general, "entered": midnight, "wait": 12},
        {"queue": general, "entered": midnight + dt.timedelta(seconds=1), "wait": 33},
        {"queue": general, "entered": midnight + dt.timedelta(seconds=2), "wait": 4, "outcome": "abandoned"},
        {"queue": general, "entered": midnight + dt.timedelta(seconds=3), "wait": 50, "outcome": "abandoned"},
    ])
    board = (await fx_client.get(api(fx_shop, "/wallboard/"), headers=fx_shop.auth)).json()
    service = next(q for q in board["queues"] if q["key"] == "general")["service"]
    # Default formula: answered within 20 s ÷ (offered - short abandons) = 1 ÷ (4 - 1).
    assert service == {"offered": 4, "answered": 2, "abandoned": 2, "service_level": 1 / 3,
                       "formula": "answered within T ÷ (offered - short abandons)"}
    secret = (await _link(fx_client, fx_shop))["secret"]
    page = await fx_client.get(f"/t/{fx_shop.slug}/wallboard",
                               headers={"Cookie": f"sb_wallboard={secret}", "accept": "text/html"})
    assert _figure(page.text, "sl-general") == "33%" and _figure(page.text, "abandoned-general") == "2"
    assert 'title="answered within T ÷ (offered - short abandons)"' in page.text

    other = (await fx_client.get(api(fx_other_shop, "/wallboard/"), headers=fx_other_shop.auth)).json()
    assert next(q for q in other["queues"] if q["key"] == "general")["service"]["offered"] == 0  # A's never B's


async def test_a_screen_reads_the_board_in_the_workspaces_language(fx_client: Any, fx_shop: ShopFixture) -> None:
    resp = await fx_client.put(api(fx_shop, "/workspace"), json={"language": "ru"}, headers=fx_shop.auth)
    assert resp.status_code == 200, resp.text
    secret = (await _link(fx_client, fx_shop))["secret"]
    page = await fx_client.get(f"/t/{fx_shop.slug}/wallboard",
                               headers={"Cookie": f"sb_wallboard={secret}", "accept": "text/html"})
    assert page.status_code == 200
    assert '<html lang="ru">' in page.text and "Уровень обслуживания сегодня" in page.text and "Табло" in page.text


def _shown(html: str, testid: str) -> str | None:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    return found.group(1).strip() if found else None


@pytest.mark.xdist_group("realtime")
async def test_the_board_redraws_service_level_and_abandons_once_the_reports_listener_wrote_them(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture
) -> None:
    from app.lib.db import current_uow
    from tests.conftest import run_jobs_until

    secret = (await _link(fx_client, fx_shop))["secret"]
    screen = await BoardSocket.board(fx_live, fx_shop.slug, link=secret)
    answered = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "A"},
                                    headers=fx_shop.auth)
    assert answered.status_code == 201, answered.text
    taken = await fx_client.post(api(fx_shop, f"/conversations/{answered.json()['id']}/take"), headers=fx_shop.auth)
    assert taken.status_code == 200, taken.text
    left = await fx_client.post(api(fx_shop, "/conversations"), json={"channel": "chat", "subject": "B"},
                                headers=fx_shop.auth)
    assert left.status_code == 201, left.text
    gone = await fx_client.post(api(fx_shop, f"/conversations/{left.json()['id']}/wrapup"),  # untaken: abandoned
                                json={"code": "hung up", "note": ""}, headers=fx_shop.auth)
    assert gone.status_code == 200, gone.text
    # The board rendered on those events before the reports listener wrote their facts (it is not running yet).
    await screen.until(lambda f: f.event == "queue.item_removed" and "wallboard-board" in f.text)

    async def written() -> bool:
        async with tenant_context(fx_shop.tenant):
            return sorted(r["outcome"] for r in await current_uow().connection.fetch(
                "SELECT outcome FROM report_queue_visit")) == ["abandoned", "answered"]

    await run_jobs_until(written, timeout=20)
    # Then, with no other event, the board redraws: 1 answered within 20 s ÷ (2 offered - 1 short abandon).
    frames = await screen.until(lambda f: f.event == "reports.facts_changed"
                                and _shown(f.text, "abandoned-general") == "1", wait=10)
    assert _figure(frames[-1].text, "sl-general") == "100%"
    assert 'hx-swap-oob="true"' in frames[-1].text
    await screen.close()
