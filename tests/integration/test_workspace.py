"""The operator's workspace: thread assembly across channels, unread counts, @mentions, typing fan-out, who may open
what, and tenant isolation of every new route and socket message."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from app.accounts.services import Principal, create_session
from app.accounts.tables import User
from app.conversations import services as conversations
from app.lib.clock import now
from app.lib.db import tenant_context
from app.timeline import services as timeline
from app.workspace import services
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.servers import ConsoleSocket, InProcessServer

ORIGIN = "http://testserver.local"


async def _contact(client: Any, shop: ShopFixture, name: str = "Mara Petrova", **extra: Any) -> int:
    body = {"name": name, "phones": ["+35928880001"], "emails": ["mara@example.com"], **extra}
    created = await client.post(f"/t/{shop.slug}/api/v1/contacts", json=body, headers=shop.auth)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _user(shop: ShopFixture, role: str, name: str) -> Principal:
    async with tenant_context(shop.tenant):
        rows = await User.insert(User(email=f"{name.split()[0].lower()}@{shop.slug}.example", name=name,
                                      role=role)).returning(User.id)
    return Principal(user_id=rows[0]["id"], email=f"{name.split()[0].lower()}@{shop.slug}.example", name=name,
                     role=role, via="session", credential_id=0)


async def _inbound(shop: ShopFixture, contact_id: int, text: str, channel: str = "sms") -> int:
    async with tenant_context(shop.tenant):
        conversation_id, _ = await conversations.receive_inbound(channel, contact_id, summary=text, subject=text,
                                                                 from_address="+35928880001",
                                                                 payload={"body": text})
    return conversation_id


async def test_page_lists_conversations_with_unread_counts_and_opening_reads_them(
    fx_client: Any, fx_shop: ShopFixture
) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "Where is my parcel?")
    await _inbound(fx_shop, contact_id, "Order 1042, please")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)

    page = await fx_client.get(f"/t/{fx_shop.slug}/workspace/", headers={"accept": "text/html"})
    assert page.status_code == 200
    for marker in ('id="ws-list"', 'id="ws-main"', 'ws-connect="/t/', 'data-testid="ws-unread"',
                   f'hx-get="/t/{fx_shop.slug}/workspace/{conversation_id}"', 'hx-push-url="true"'):
        assert marker in page.text, marker
    listed = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/workspace/conversations")).json()
    assert [(c["id"], c["unread"]) for c in listed["waiting"]] == [(conversation_id, 2)]

    # Opening swaps only the panes for htmx; a reload (no HX-Request) gets the whole page on the same URL.
    panes = await fx_client.get(f"/t/{fx_shop.slug}/workspace/{conversation_id}", headers={"HX-Request": "true"})
    assert panes.status_code == 200 and panes.text.lstrip().startswith('<div id="ws-main"')
    assert "Where is my parcel?" in panes.text and "Order 1042, please" in panes.text
    assert 'data-ws-watch="contact:%d"' % contact_id in panes.text
    full = await fx_client.get(f"/t/{fx_shop.slug}/workspace/{conversation_id}", headers={"accept": "text/html"})
    assert "<html" in full.text and 'data-testid="ws-thread"' in full.text and "Mara Petrova" in full.text
    listed = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/workspace/conversations")).json()
    assert listed["waiting"][0]["unread"] == 0

    await _inbound(fx_shop, contact_id, "Hello? Anyone?")
    listed = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/workspace/conversations")).json()
    assert listed["waiting"][0]["unread"] == 1


async def test_take_note_and_wrap_up_without_leaving_the_page(fx_client: Any, fx_shop: ShopFixture) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "Can I change the size?")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/workspace/{conversation_id}")
    h = {"X-CSRF-Token": token, "HX-Request": "true"}
    base = f"/t/{fx_shop.slug}/workspace/{conversation_id}"

    took = await fx_client.post(f"{base}/take", headers=h)
    assert took.status_code == 200 and 'data-status="active"' in took.text and 'id="ws-list" class="card ws-list" hx-swap-oob="true"' in took.text
    note = await fx_client.post(f"{base}/note", data={"body": "Size M is in stock"}, headers=h)
    assert note.status_code == 200 and 'data-testid="notice"' in note.text
    empty = await fx_client.post(f"{base}/wrapup", data={"code": "", "note": ""}, headers=h)
    assert empty.status_code == 400 and "disposition" in empty.text
    done = await fx_client.post(f"{base}/wrapup", data={"code": "resolved", "note": "Exchanged"}, headers=h)
    assert done.status_code == 200 and 'data-status="closed"' in done.text and "Wrapped up." in done.text
    thread = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{conversation_id}")).json()
    bodies = [i["payload"].get("body", i["summary"]) for i in thread["items"]]
    assert "Size M is in stock" in bodies and any("Exchanged" in b for b in bodies)


async def test_thread_is_one_timeline_across_channels_newest_page_first_then_earlier(
    fx_client: Any, fx_shop: ShopFixture
) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "first")
    start = now() - dt.timedelta(days=1)
    async with tenant_context(fx_shop.tenant):
        for n in range(70):
            channel = ("sms", "email", "chat", "call", "note")[n % 5]
            direction = "internal" if channel == "note" else ("in" if n % 2 else "out")
            await timeline.record(contact_id, channel, direction, f"item {n}", payload={"body": f"item {n}"},
                                  occurred_at=start + dt.timedelta(minutes=n))
        await timeline.record(contact_id, "order", "internal", "order noise", occurred_at=start)
        await timeline.record(contact_id, "system", "internal", "system noise", occurred_at=start)
    url = f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{conversation_id}"
    pages, before = [], ""
    while True:
        got = (await fx_client.get(url, params={"before": before} if before else None, headers=fx_shop.auth)).json()
        pages.append([i["summary"] for i in got["items"]])
        before = got["earlier"]
        if not before:
            break
    assert [len(p) for p in pages] == [30, 30, 11]
    assert pages[0][-1] == "first" and pages[0][0] == "item 41"  # oldest first within the newest page
    everything = [s for p in reversed(pages) for s in p]
    assert everything == [f"item {n}" for n in range(70)] + ["first"]
    assert "order noise" not in everything and "system noise" not in everything
    bad = await fx_client.get(url, params={"before": "not-a-cursor"}, headers=fx_shop.auth)
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


async def test_mentions_notify_the_teammate_and_clear_when_they_open_it(fx_client: Any, fx_shop: ShopFixture) -> None:
    olga = await _user(fx_shop, "operator", "Olga Ivanova")
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "Refund please")
    noted = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{conversation_id}/notes",
                                 json={"body": "@olga.ivanova can you check the refund? cc @nobody"},
                                 headers=fx_shop.auth)
    assert noted.status_code == 201 and noted.json()["mentioned"] == [olga.user_id]
    async with tenant_context(fx_shop.tenant):
        assert [m["conversation_id"] for m in await services.mentions(olga.user_id)] == [conversation_id]
        assert await services.mentions(fx_shop.user_id) == []
        assert [u["id"] for u in await services.mentioned_users("hi @Olga and @OLGA")] == [olga.user_id]
        await services.mark_seen(olga, conversation_id)
        assert await services.mentions(olga.user_id) == []


async def test_operator_cannot_open_or_act_on_a_queue_their_role_does_not_see(
    fx_client: Any, fx_shop: ShopFixture
) -> None:
    await fx_client.post(f"/t/{fx_shop.slug}/api/v1/queues", json={"key": "vip", "name": "VIP", "roles":
                                                                   ["supervisor"]}, headers=fx_shop.auth)
    contact_id = await _contact(fx_client, fx_shop)
    opened = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/conversations", json={
        "channel": "sms", "queue": "vip", "contact_id": contact_id, "subject": "VIP only"}, headers=fx_shop.auth)
    conversation_id = opened.json()["id"]
    operator = await _user(fx_shop, "operator", "Ivan Operator")
    async with tenant_context(fx_shop.tenant):
        token, _ = await create_session(operator.user_id)
        listed = await services.left_list(operator)
        assert conversation_id not in [c["id"] for c in listed["waiting"]]
        assert not await services.typing(fx_shop.slug, operator, conversation_id)
    fx_client.cookies.set("sb_session", token)
    csrf = await csrf_from(fx_client, f"/t/{fx_shop.slug}/workspace/")
    h = {"X-CSRF-Token": csrf}
    base = f"/t/{fx_shop.slug}/workspace/{conversation_id}"
    assert (await fx_client.get(base, headers={"accept": "text/html"})).status_code == 404
    assert (await fx_client.get(base, headers={"HX-Request": "true"})).status_code == 404
    assert (await fx_client.get(f"{base}/thread")).status_code == 404
    for action in ("take", "note", "reply", "wrapup", "transfer", "contact/link", "contact/create"):
        answer = await fx_client.post(f"{base}/{action}", data={"body": "x", "code": "x", "name": "X",
                                                                 "contact_id": str(contact_id)}, headers=h)
        assert answer.status_code == 404, (action, answer.text)
        assert "VIP only" not in answer.text
    api = f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{conversation_id}"
    assert (await fx_client.get(api)).status_code == 404
    assert (await fx_client.post(f"{api}/notes", json={"body": "x"}, headers=h)).status_code == 404


async def test_another_tenants_user_cannot_reach_a_conversation_by_id(
    fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "Secret of shop A")
    api = f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{conversation_id}"
    assert (await fx_client.get(api, headers=fx_other_shop.auth)).status_code == 404
    foreign = await fx_client.get(f"/t/{fx_other_shop.slug}/api/v1/workspace/conversations/{conversation_id}",
                                  headers=fx_other_shop.auth)
    assert foreign.status_code == 404 and "Secret" not in foreign.text
    await browser_login(fx_client, fx_other_shop.slug, fx_other_shop.email, fx_other_shop.password)
    # Shop B's session is no session on shop A: the page sends it to A's sign-in, never shows the conversation.
    page = await fx_client.get(f"/t/{fx_shop.slug}/workspace/{conversation_id}", headers={"accept": "text/html"})
    assert page.status_code == 303 and "/login" in page.headers["location"] and "Secret" not in page.text
    mentions = await fx_client.get(f"/t/{fx_other_shop.slug}/api/v1/workspace/mentions")
    assert mentions.status_code == 200 and mentions.json() == []


async def test_reply_refuses_a_channel_the_client_cannot_be_reached_on(fx_client: Any, fx_shop: ShopFixture) -> None:
    created = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/contacts", json={"name": "No Address"},
                                   headers=fx_shop.auth)
    contact_id = created.json()["id"]
    opened = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/conversations", json={
        "channel": "call", "contact_id": contact_id}, headers=fx_shop.auth)
    api = f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{opened.json()['id']}"
    assert (await fx_client.get(api, headers=fx_shop.auth)).json()["reply_channels"] == []
    for channel, word in (("sms", "phone"), ("email", "email"), ("chat", "web chat"), ("call", "Call back")):
        answer = await fx_client.post(f"{api}/reply", json={"channel": channel, "body": "hi"}, headers=fx_shop.auth)
        assert answer.status_code == 400 and word in answer.json()["detail"], (channel, answer.text)


async def test_unknown_sender_is_named_or_linked_in_one_step(fx_client: Any, fx_shop: ShopFixture) -> None:
    known = await _contact(fx_client, fx_shop, name="Known Client", phones=["+35928880009"], emails=[])
    async with tenant_context(fx_shop.tenant):
        stranger = await conversations.open_conversation(channel="chat", subject="Hi from the site")
        placeholder = await conversations.open_conversation(channel="sms", subject="Text from a new number")
    unlinked = f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{stranger['id']}/contact"
    assert (await fx_client.post(unlinked, json={}, headers=fx_shop.auth)).status_code == 400
    named = await fx_client.post(unlinked, json={"name": "Anna New", "email": "anna@example.com"},
                                 headers=fx_shop.auth)
    assert named.status_code == 200 and named.json()["contact_name"] == "Anna New"
    linked = await fx_client.post(f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{placeholder['id']}/contact",
                                  json={"contact_id": known}, headers=fx_shop.auth)
    assert linked.status_code == 200 and linked.json()["contact_id"] == known
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    found = await fx_client.get(f"/t/{fx_shop.slug}/workspace/{stranger['id']}/contacts", params={"q": "Known"})
    assert "Known Client" in found.text and 'data-testid="ws-link"' in found.text


# -- live: the thread, the typing indicator and mentions over real sockets ----------------------------------------

async def _socket(server: InProcessServer, shop: ShopFixture, user_id: int) -> ConsoleSocket:
    async with tenant_context(shop.tenant):
        token, _ = await create_session(user_id)
    sock = await ConsoleSocket.open(server.ws_url, shop.slug, token, ORIGIN)
    await sock.ready()
    return sock


@pytest.mark.xdist_group("realtime")
async def test_typing_reaches_teammates_who_may_see_it_and_no_one_else(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture
) -> None:
    olga = await _user(fx_shop, "operator", "Olga Ivanova")
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "Is it in stock?")
    owner = await _socket(fx_live, fx_shop, fx_shop.user_id)
    typist = await _socket(fx_live, fx_shop, olga.user_id)
    stranger = await _socket(fx_live, fx_other_shop, fx_other_shop.user_id)
    # Shop B's socket names shop A's conversation id: nothing happens anywhere.
    await stranger.send({"typing": conversation_id})
    await typist.send({"typing": conversation_id})
    frames = await owner.until(lambda f: f.event == "workspace.typing")
    assert f'id="ws-typing-{conversation_id}"' in frames[-1].text and "Olga Ivanova is replying" in frames[-1].text
    assert frames[-1].text.count("workspace.typing") == 1
    own = await typist.until(lambda f: f.event == "workspace.typing")
    assert "is replying" not in own[-1].text  # never to the one typing
    await typist.send({"typing": conversation_id})  # within the throttle: no second event
    await typist.send({"typing": "nonsense"})
    with pytest.raises(asyncio.TimeoutError):
        await owner.until(lambda f: f.event == "workspace.typing", wait=1.0)
    with pytest.raises(asyncio.TimeoutError):
        await stranger.until(lambda f: f.event == "workspace.typing", wait=0.5)
    for sock in (owner, typist, stranger):
        await sock.close()


@pytest.mark.xdist_group("realtime")
async def test_new_messages_and_mentions_arrive_live(
    fx_live: InProcessServer, fx_client: Any, fx_shop: ShopFixture
) -> None:
    olga = await _user(fx_shop, "operator", "Olga Ivanova")
    contact_id = await _contact(fx_client, fx_shop)
    conversation_id = await _inbound(fx_shop, contact_id, "Hi")
    owner = await _socket(fx_live, fx_shop, fx_shop.user_id)
    await owner.send({"watch": f"contact:{contact_id}"})
    mentioned = await _socket(fx_live, fx_shop, olga.user_id)
    await asyncio.sleep(0.2)
    await _inbound(fx_shop, contact_id, "My parcel is late")
    frames = await owner.until(lambda f: f.event == "interaction.created")
    assert f'hx-swap-oob="beforeend:#ws-thread-{contact_id}"' in frames[-1].text
    assert "My parcel is late" in frames[-1].text
    # The list itself is the same for every console of a role; the owner's own unread count comes on its own.
    assert f'<span id="ws-unread-{conversation_id}" hx-swap-oob="true"><span class="ws-unread"' in frames[-1].text
    assert '>2</span></span>' in frames[-1].text
    await fx_client.post(f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{conversation_id}/notes",
                         json={"body": "@olga have a look"}, headers=fx_shop.auth)
    frames = await mentioned.until(lambda f: f.event == "workspace.mentioned")
    assert 'id="ws-mentions" class="card ws-mentions" hx-swap-oob="true"' in frames[-1].text
    assert "Owner mentioned you" in frames[-1].text
    for sock in (owner, mentioned):
        await sock.close()


async def test_the_demo_operator_finds_conversations_with_history_and_a_mention(fx_client: Any) -> None:
    from app import demo
    from app.lib.db import resolve_active

    await demo.ensure_demo()
    tenant = await resolve_active(demo.DEMO_SLUG)
    async with tenant_context(tenant):
        operator = await User.select().where(User.email == demo.DEMO_OPERATOR[0]).first()
        me = Principal(user_id=operator["id"], email=operator["email"], name=operator["name"], role=operator["role"],
                       via="session", credential_id=0)
        listed = await services.left_list(me)
        assert listed["mine"] and listed["waiting"]
        mentions = await services.mentions(me.user_id)
        assert len(mentions) == 1 and mentions[0]["conversation_id"] in [c["id"] for c in listed["mine"]]
        items, _ = await services.thread(listed["mine"][0]["contact_id"])
        assert len(items) >= 2
    from realtime.runtime import ensure_started

    await ensure_started()  # the home page reads presence (the app's lifespan is not run here)
    await browser_login(fx_client, demo.DEMO_SLUG, *demo.DEMO_OPERATOR)
    home = await fx_client.get(f"/t/{demo.DEMO_SLUG}/", headers={"accept": "text/html"})
    assert 'data-testid="open-workspace"' in home.text and 'data-testid="nav-workspace"' in home.text
    panel = await fx_client.get(f"/t/{demo.DEMO_SLUG}/workspace/mentions")
    assert 'data-testid="ws-mention"' in panel.text


async def test_a_chat_answered_by_email_with_a_file_sends_it_and_keeps_it_on_the_card(
    fx_client: Any, fx_shop: ShopFixture
) -> None:
    from tests.conftest import free_port, run_jobs_until
    from tests.integration.email_kit import Mailbox, configure, smtp_server

    box = Mailbox()
    server = smtp_server(box, free_port())
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        contact_id = await _contact(fx_client, fx_shop)
        async with tenant_context(fx_shop.tenant):
            conv = await conversations.open_conversation(channel="chat", contact_id=contact_id,
                                                         subject="Web chat: send me the invoice")
        await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
        base = f"/t/{fx_shop.slug}/workspace/{conv['id']}"
        token = await csrf_from(fx_client, base)
        await fx_client.post(f"{base}/take", headers={"X-CSRF-Token": token, "HX-Request": "true"})
        pdf = b"%PDF-1.4\n% invoice\n"
        sent = await fx_client.post(f"{base}/reply", headers={"X-CSRF-Token": token},
                                    data={"channel": "email", "body": "Here it is.", "subject": "Your invoice"},
                                    files={"file": ("invoice.pdf", pdf, "application/pdf")})
        assert sent.status_code == 200 and "Sent." in sent.text, sent.text

        async def delivered() -> bool:
            return bool(box.messages)

        await run_jobs_until(delivered)
        [msg] = box.messages
        assert msg["Subject"] == "Your invoice" and msg["To"] == "mara@example.com"
        [part] = list(msg.iter_attachments())
        assert part.get_filename() == "invoice.pdf" and part.get_content() == pdf
        thread = (await fx_client.get(f"/t/{fx_shop.slug}/api/v1/workspace/conversations/{conv['id']}")).json()
        assert [i["channel"] for i in thread["items"]][-2:] == ["file", "email"]
        files = await fx_client.get(f"/t/{fx_shop.slug}/contacts/{contact_id}/files/")
        assert "invoice.pdf" in files.text
    finally:
        server.stop()
