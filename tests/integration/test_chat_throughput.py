"""Web chat under many senders: visitors' messages through the widget's socket go through the group-commit writer
(app.chat.writer). Every message is stored once, in order per chat, and seen by the operator and the visitor; a
message that breaks its batch loses no other; one shop's sockets never see another's messages; a batch costs the
same few statements whatever its size."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from app.accounts.services import Principal
from app.chat import live, services, socket, writer
from app.lib.db import current_uow, tenant_context
from app.lib.errors import Conflict, NotFound
from tests.conftest import ShopFixture, make_shop
from tests.integration.test_chat import SITE, Widget, allow, console, fx_server, start, waiting_chat, widget
from tests.integration.test_orders import api
from tests.servers import InProcessServer
from tests.statements import statements_of

pytestmark = pytest.mark.xdist_group("realtime")

__all__ = ["fx_server"]  # the live server fixture of test_chat (memory and Redis backends)

CHATS = 12
EACH = 5


async def open_chats(client: Any, shop: ShopFixture, n: int, *, take: bool) -> list[dict[str, Any]]:
    """`n` chats with a first message each (by POST: it opens the conversation), taken by the owner when `take`."""
    chats = []
    for i in range(n):
        s = await start(client, shop)
        resp = await client.post(f"/t/{shop.slug}/chat/messages", json={"body": f"hello {i}"},
                                 headers={"Origin": SITE, "X-Chat-Token": s["token"]})
        assert resp.status_code == 201, resp.text
        async with tenant_context(shop.tenant) as uow:
            conversation_id = await uow.connection.fetchval(
                "SELECT conversation FROM chat_session WHERE id = $1", s["session_id"])
        chats.append({**s, "conversation_id": conversation_id})
    if take:
        for c in chats:
            took = await client.post(api(shop, f"/conversations/{c['conversation_id']}/take"), headers=shop.auth)
            assert took.status_code in (200, 201), took.text
    return chats


async def answers(w: Widget, count: int) -> list[dict[str, Any]]:
    """The socket's next `count` answers to messages it sent (sync and typing frames skipped)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        msg = await w.until(lambda m: m["type"] in ("sent", "error"), wait=15)
        got.append(msg)
    return got


async def stored(shop: ShopFixture, session_id: int) -> list[str]:
    async with tenant_context(shop.tenant) as uow:
        rows = await uow.connection.fetch(
            "SELECT body FROM chat_message WHERE chat_session = $1 AND direction = 'in' ORDER BY id", session_id)
    return [r["body"] for r in rows]


def _reads_of(monkeypatch: Any, query: str) -> list[str]:
    """Every time `query` is fetched from now on (a list that fills as the test goes)."""
    reads: list[str] = []
    fetch = asyncpg.Connection.fetch

    async def counted(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql == query:
            reads.append(sql)
        return await fetch(self, sql, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "fetch", counted)
    return reads

async def test_many_chats_send_at_once_through_the_socket(fx_server: InProcessServer) -> None:
    import httpx

    a, b = await make_shop("chat_tp_a"), await make_shop("chat_tp_b")
    async with httpx.AsyncClient(base_url=fx_server.url, trust_env=False, timeout=20) as client:
        await allow(client, a, SITE)
        await allow(client, b, SITE)
        chats = await open_chats(client, a, CHATS, take=True)
        (other,) = await open_chats(client, b, 1, take=False)
        op_a, op_b = await console(fx_server, a), await console(fx_server, b)
        widgets = [await widget(fx_server, a, c["token"]) for c in chats]
        second_tab = await widget(fx_server, a, chats[0]["token"])
        spy = await widget(fx_server, b, other["token"])
        for w in [*widgets, second_tab, spy]:
            await w.until(lambda m: m["type"] == "sync" and m["full"])

        # Every chat sends all its messages at once, all chats together: the server answers each after its commit.
        for i, w in enumerate(widgets):
            for k in range(EACH):
                await w.ws.send(json.dumps({"send": f"chat {i} says {k}", "ref": k}))
        await spy.ws.send(json.dumps({"send": "shop B only", "ref": "b"}))
        replies = await asyncio.gather(*(answers(w, EACH) for w in widgets))
        for i, got in enumerate(replies):
            assert [r["type"] for r in got] == ["sent"] * EACH
            assert [r["ref"] for r in got] == list(range(EACH))
            assert [r["message"]["body"] for r in got] == [f"chat {i} says {k}" for k in range(EACH)]
            ids = [r["message"]["id"] for r in got]
            assert ids == sorted(ids)
        (b_reply,) = await answers(spy, 1)
        assert b_reply["type"] == "sent" and b_reply["message"]["body"] == "shop B only"

        # Stored once each, in the order each chat sent them.
        for i, c in enumerate(chats):
            assert await stored(a, c["session_id"]) == [f"hello {i}", *(f"chat {i} says {k}" for k in range(EACH))]
        assert await stored(b, other["session_id"]) == ["hello 0", "shop B only"]

        # The operator handling the chats sees every message, each pushed alone into its chat's pane.
        wanted = {f"chat {i} says {k}" for i in range(CHATS) for k in range(EACH)}
        seen: set[str] = set()

        def all_seen(frame: Any) -> bool:
            if frame.event == "chat.message":
                assert 'hx-swap-oob="beforeend"' in frame.text and "chat-msgs-" in frame.text
                seen.update(t for t in wanted if t in frame.text)
            return seen == wanted

        frames = await op_a.until(all_seen, wait=20)
        assert not [f for f in frames if "shop B only" in f.text]

        # The visitor's other tab gets them through its sync; nothing of shop A reaches shop B's socket or console.
        await second_tab.until(lambda m: m["type"] == "sync" and {x["body"] for x in m["messages"]} >= {
            f"chat 0 says {k}" for k in range(EACH)}, wait=15)
        conv_b = await waiting_chat(client, b)
        sentinel = await client.post(api(b, f"/conversations/{conv_b['id']}/take"), headers=b.auth)
        assert sentinel.status_code in (200, 201), sentinel.text
        b_frames = await op_b.until(lambda f: f.event == "queue.item_taken", wait=10)
        assert not [f for f in b_frames if "says" in f.text]
        await spy.ws.send(json.dumps({"send": "shop B again", "ref": "b2"}))
        spy_frames = []
        while True:
            msg = await spy.until(lambda m: True, wait=10)
            spy_frames.append(msg)
            if msg.get("type") == "sent":
                break
        assert not [m for m in spy_frames if "says" in json.dumps(m)]

        # Refused input is answered on the socket, the socket stays open.
        await widgets[1].ws.send(json.dumps({"send": "   ", "ref": "empty"}))
        (refused,) = await answers(widgets[1], 1)
        assert refused["type"] == "error" and refused["ref"] == "empty" and refused["status_code"] == 400
        assert refused["detail"]
        for w in [*widgets, second_tab, spy]:
            await w.ws.close()
        await op_a.close()
        await op_b.close()


async def test_a_message_that_breaks_its_batch_loses_no_other(fx_db: str) -> None:
    shop = await make_shop("chat_tp_bad")
    async with tenant_context(shop.tenant):
        sessions = [(await services.start_session())["session_id"] for _ in range(4)]
        for sid in sessions:
            await services.visitor_message(sid, "first")
    retried = writer.STATS["retried"]
    w = writer.ChatWriter(shop.tenant)
    good = [w.submit(sid, f"good {n}") for n, sid in enumerate(sessions)]
    # Past the public checks (which refuse a NUL), PostgreSQL refuses it: the whole batch fails in the database.
    bad = w.submit(sessions[1], "bad \x00 byte")
    gone = w.submit(999_999, "to a chat that does not exist")
    more = w.submit(sessions[0], "good again")
    results = await asyncio.gather(*good, bad, gone, more, return_exceptions=True)
    assert [r["body"] for r in results[:4]] == [f"good {n}" for n in range(4)]  # type: ignore[index]
    assert isinstance(results[4], Exception) and not isinstance(results[4], NotFound)
    assert isinstance(results[5], NotFound)
    assert results[6]["body"] == "good again"  # type: ignore[index]
    assert writer.STATS["retried"] == retried + 7  # the failed batch, each message then alone
    async with tenant_context(shop.tenant) as uow:
        rows = await uow.connection.fetch(
            "SELECT chat_session, body FROM chat_message WHERE direction = 'in' ORDER BY id")
    by_session: dict[int, list[str]] = {}
    for r in rows:
        by_session.setdefault(r["chat_session"], []).append(r["body"])
    assert by_session == {sessions[0]: ["first", "good 0", "good again"], sessions[1]: ["first", "good 1"],
                          sessions[2]: ["first", "good 2"], sessions[3]: ["first", "good 3"]}


async def test_one_batch_files_new_and_known_chats_with_a_fixed_number_of_statements(fx_db: str) -> None:
    shop = await make_shop("chat_tp_batch")
    async with tenant_context(shop.tenant):
        old = [(await services.start_session())["session_id"] for _ in range(30)]
        for sid in old:
            await services.visitor_message(sid, "first")
        known = (await services.start_session(email="known@example.com"))["session_id"]
        await services.visitor_message(known, "first")
        new = (await services.start_session())["session_id"]

    async def batch(items: list[tuple[int, str]]) -> tuple[list[Any], int]:
        async with tenant_context(shop.tenant) as uow:
            with statements_of(uow.connection) as statements:
                results = await services.visitor_messages(items)
        return results, len(statements)

    _, small = await batch([(sid, "again") for sid in old[:3]])
    _, large = await batch([(sid, "and again") for sid in old])
    assert large == small  # one statement per kind of row, whatever the batch size
    results, _ = await batch([(new, "I am new"), (known, "known here"), (new, "still me"), (404_404, "nobody")])
    assert isinstance(results[3], NotFound)
    first, second = results[0], results[2]
    assert first["conversation_id"] and second["conversation_id"] == first["conversation_id"]  # type: ignore[index]
    assert second["id"] > first["id"]  # type: ignore[index]
    async with tenant_context(shop.tenant) as uow:
        conn = uow.connection
        assert await conn.fetchval("SELECT count(*) FROM conversation WHERE external_ref = $1", f"chat:{new}") == 1
        contact = await conn.fetchval("SELECT contact FROM chat_session WHERE id = $1", known)
        summaries = [r["summary"] for r in await conn.fetch(
            "SELECT summary FROM interaction WHERE contact = $1 AND channel = 'chat' ORDER BY id", contact)]
        assert summaries[-1] == "known here"
        names = [r["name"] for r in await conn.fetch(
            "SELECT name FROM event_log WHERE name IN ('chat.message', 'interaction.created') ORDER BY tx, id")]
        assert names.count("chat.message") == 31 + 3 + 30 + 3  # the firsts, the two batches, this one


async def _shop_with_chats(name: str, n: int) -> tuple[ShopFixture, list[int]]:
    """A new shop with `n` web chats, each with the visitor's first message filed."""
    shop = await make_shop(name)
    async with tenant_context(shop.tenant):
        sessions = [(await services.start_session())["session_id"] for _ in range(n)]
        for sid in sessions:
            await services.visitor_message(sid, "first")
    return shop, sessions


def _held_broadcasts(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, list[list[int]]]:
    """Every broadcast after a commit waits until the returned event is set, then notes its chat message ids."""
    from realtime import publish

    release = asyncio.Event()
    sent: list[list[int]] = []

    async def held_send_many(tenant: Any, events: list[Any]) -> None:
        await release.wait()
        sent.append([e.data["message_id"] for e in events])

    monkeypatch.setattr(publish, "_send_many", held_send_many)
    return release, sent


async def test_the_writer_answers_after_the_commit_without_waiting_for_the_broadcast(
        fx_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shop, sessions = await _shop_with_chats("chat_tp_first", 3)
    release, sent = _held_broadcasts(monkeypatch)  # the broadcast is stuck until the answers are in
    w = writer.ChatWriter(shop.tenant)
    pending = [w.submit(sid, f"quick {n}") for n, sid in enumerate(sessions)]
    rows = await asyncio.wait_for(asyncio.gather(*pending), 10)  # answered while the events are still held
    assert [r["body"] for r in rows] == ["quick 0", "quick 1", "quick 2"]
    assert not sent
    async with tenant_context(shop.tenant) as uow:  # committed before the answer
        assert await uow.connection.fetchval(
            "SELECT count(*) FROM chat_message WHERE body LIKE 'quick %'") == 3
    release.set()
    assert w.task is not None
    await asyncio.wait_for(w.task, 10)
    assert sent == [[r["id"] for r in rows]]  # then every event goes out, nothing lost


async def test_the_next_batch_commits_while_the_previous_one_is_still_broadcast(
        fx_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    shop, sessions = await _shop_with_chats("chat_tp_overlap", 2)
    release, sent = _held_broadcasts(monkeypatch)  # every broadcast is stuck until both batches are answered
    w = writer.ChatWriter(shop.tenant)
    one = await asyncio.wait_for(w.submit(sessions[0], "batch one"), 10)
    two = await asyncio.wait_for(w.submit(sessions[1], "batch two"), 10)  # the same writer, its next batch
    assert not sent and w.task is not None and not w.task.done()  # still waiting for the broadcasts
    release.set()
    await asyncio.wait_for(w.task, 10)  # the writer leaves only once everything it filed went out
    assert sorted(sent) == sorted([[one["id"]], [two["id"]]])


async def test_a_batch_renders_each_event_of_one_chat_with_its_own_message(
        fx_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed renders a backlog in batches with one memo (realtime.render.frames_of): the visitor's message and the
    operator's reply of one chat, in one batch, each append their own message to the operator's pane, both read in
    one statement."""
    from app.conversations import services as conversations
    from realtime import log as event_log
    from realtime import render
    from realtime.events import START
    from tests.integration.test_workspace import _user

    shop = await make_shop("chat_tp_pane")
    anna = await _user(shop, "operator", "Anna Operator")
    async with tenant_context(shop.tenant):
        session_id = (await services.start_session())["session_id"]
        conversation_id = (await services.visitor_message(session_id, "hello"))["conversation_id"]
        await conversations.take(anna, conversation_id)
        asked = await services.visitor_message(session_id, "where is my parcel")
        answered = await services.operator_reply(anna, conversation_id, "on its way")
    async with tenant_context(shop.tenant):
        events = [e for e in await event_log.read(START, names=["chat.message"])
                  if e.data["message_id"] in (asked["id"], answered["id"])]
    reads = _reads_of(monkeypatch, live._HANDLERS_AND_MESSAGES)
    got = await render.frames_of([(event, [anna]) for event in events], shop.tenant)
    assert len(reads) == 1  # the batch's chat messages in one read
    assert [e.data["message_id"] for e in events] == [asked["id"], answered["id"]]
    assert "where is my parcel" in got[0][0] and "on its way" not in got[0][0]
    assert "on its way" in got[1][0] and "where is my parcel" not in got[1][0]
    for event, frames in zip(events, got, strict=True):
        assert frames == await render.frames(event, shop.tenant, [anna])  # as if rendered alone


async def test_the_widget_read_and_the_status_topics_cost_nothing_extra(fx_db: str) -> None:
    """The widget's socket reads its messages and the linked contact's language in one statement; what the visitor
    reports about the operator's messages goes to the operator handling the chat, not back to the widget (which
    ignores it), and to the chat's own channel only when nobody handles it."""
    shop = await make_shop("chat_tp_status")
    async with tenant_context(shop.tenant) as uow:
        session_id = (await services.start_session())["session_id"]
        first = await services.visitor_message(session_id, "first")
        conversation_id = first["conversation_id"]
        await services.auto_message(conversation_id, "we are away")
        rows, contact, language = await services.messages_and_contact(session_id)
        assert [r["body"] for r in rows] == [r["body"] for r in await services.messages(session_id)]
        assert rows == await services.messages(session_id) and (contact, language) == (None, "")
        assert await services.mark(session_id, direction="out", upto=rows[-1]["id"], status="delivered") == 1
        assert await services.mark(session_id, direction="out", upto=rows[-1]["id"], status="delivered") == 0
        waiting = await uow.connection.fetchval(
            "SELECT channels FROM event_log WHERE name = 'chat.status' ORDER BY id DESC LIMIT 1")
        assert waiting == [f"chat:{session_id}"]
        await uow.connection.execute("UPDATE conversation SET status = 'active', assigned_to = $1 WHERE id = $2",
                                     shop.user_id, conversation_id)
        await services.auto_message(conversation_id, "back now")
        newest = (await services.messages(session_id))[-1]["id"]
        assert await services.mark(session_id, direction="out", upto=newest, status="read") == 2
        assert await services.mark(session_id, direction="in", upto=newest, status="delivered") == 1
        topics = await uow.connection.fetch(
            "SELECT data->>'direction' AS direction, channels FROM event_log WHERE name = 'chat.status' "
            "ORDER BY id DESC LIMIT 2")
        assert [(t["direction"], t["channels"]) for t in topics] == [
            ("in", [f"chat:{session_id}", f"user:{shop.user_id}"]), ("out", [f"user:{shop.user_id}"])]


async def test_the_widget_resync_reads_only_and_delivery_is_marked_once_the_frame_is_out(
        fx_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The widget's resync is a read: the frame shows the operator's messages delivered, but the mark (and the
    operator's "delivered" tick) is a separate write after it, group-committed for many chats in one statement,
    and none at all when nothing is undelivered."""
    shop = await make_shop("chat_tp_resync")
    async with tenant_context(shop.tenant):
        session_id = (await services.start_session())["session_id"]
        first = await services.visitor_message(session_id, "first")
        reply = await services.auto_message(first["conversation_id"], "we are away")
        others = [(await services.start_session())["session_id"] for _ in range(3)]
        for sid in others:
            conv = (await services.visitor_message(sid, "hi"))["conversation_id"]
            await services.auto_message(conv, "away")

    async def state() -> tuple[str, int]:
        async with tenant_context(shop.tenant) as uow:
            status = await uow.connection.fetchval("SELECT status FROM chat_message WHERE id = $1", reply["id"])
            events = await uow.connection.fetchval("SELECT count(*) FROM event_log WHERE name = 'chat.status'")
        return status, events

    frame, cursor, delivered = await socket.sync(shop.tenant, session_id)
    assert json.loads(frame)["messages"][-1]["status"] == "delivered" and delivered == reply["id"]
    assert cursor == first["id"]  # the visitor's message is not read yet: its state may still change
    assert await state() == ("sent", 0)  # the read wrote nothing
    # The delivery transactions of this shop alone (the process's STATS count every tenant's, and another test's
    # batches may still be draining).
    batches: list[dict[int, int]] = []
    delivered_many = services.delivered_many

    async def counted(batch: dict[int, int]) -> Any:
        if current_uow().schema == shop.tenant.schema:
            batches.append(dict(batch))
        return await delivered_many(batch)

    monkeypatch.setattr(services, "delivered_many", counted)
    # The other chats' frames go out first; their marks then arrive while the first chat's batch commits (no await
    # between them: a resync in between could let that batch finish first, and each mark would be a batch of its own).
    others_delivered = [(sid, (await socket.sync(shop.tenant, sid))[2]) for sid in others]
    writer.deliver(shop.tenant, session_id, delivered)
    for sid, upto in others_delivered:
        writer.deliver(shop.tenant, sid, upto)
    await writer.delivered(shop.tenant)
    assert await state() == ("delivered", 4)  # the operator is told, for each chat
    assert 1 <= len(batches) <= 2  # the first chat's batch, then the others' together
    assert sorted(sid for b in batches for sid in b) == sorted([session_id, *others])
    async with tenant_context(shop.tenant) as uow:
        assert await uow.connection.fetchval(
            "SELECT count(*) FROM chat_message WHERE direction = 'out' AND status = 'sent'") == 0
    frame, _, delivered = await socket.sync(shop.tenant, session_id, cursor)
    assert delivered == 0 and json.loads(frame)["messages"][-1]["status"] == "delivered"
    writer.deliver(shop.tenant, session_id, delivered)
    await writer.delivered(shop.tenant)
    assert await state() == ("delivered", 4)  # nothing undelivered: nothing written


async def test_an_operator_reply_reads_its_chat_and_locks_the_session_in_one_statement(fx_db: str) -> None:
    """The operator's answer costs three statements: the conversation with its chat session locked, the answer (with
    the visitor's messages marked read), its event. A conversation that is not a web chat, a chat whose session is
    gone and one still waiting are refused as before."""
    shop = await make_shop("chat_tp_reply")
    owner = Principal(user_id=shop.user_id, email=shop.email, name="Owner", role="owner", via="session",
                      credential_id=0)
    async with tenant_context(shop.tenant) as uow:
        session_id = (await services.start_session())["session_id"]
        first = await services.visitor_message(session_id, "where is my parcel")
        conversation_id = first["conversation_id"]
        with pytest.raises(Conflict):
            await services.operator_reply(owner, conversation_id, "too early")
        await uow.connection.execute("UPDATE conversation SET status = 'active', assigned_to = $1 WHERE id = $2",
                                     shop.user_id, conversation_id)
        other = await uow.connection.fetchval(
            "INSERT INTO conversation (channel, status, subject, external_ref, queue) SELECT 'chat', 'active', 'x', "
            "'order:7', queue FROM conversation WHERE id = $1 RETURNING id", conversation_id)
        gone = await uow.connection.fetchval(
            "INSERT INTO conversation (channel, status, subject, external_ref, queue) SELECT 'chat', 'active', 'x', "
            "'chat:2147483000', queue FROM conversation WHERE id = $1 RETURNING id", conversation_id)

    async with tenant_context(shop.tenant) as uow:
        with statements_of(uow.connection) as statements:
            answer = await services.operator_reply(owner, conversation_id, "on its way")
            await asyncio.sleep(0)  # asyncpg calls query loggers soon after, not at once
        assert len(statements) == 3, statements
        assert answer["direction"] == "out" and answer["conversation_id"] == conversation_id
        assert await uow.connection.fetchval("SELECT status FROM chat_message WHERE id = $1", first["id"]) == "read"
        for refused in (other, gone, 404_404):
            with pytest.raises(NotFound):
                await services.operator_reply(owner, refused, "hello?")


async def test_a_batch_of_delivery_marks_is_read_once_and_redraws_only_what_changed(
        fx_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer commits many chats' delivery marks together; the feed renders their events in one batch with ONE
    read for all of them, and each operator's pane gets the marks of the messages that changed (`since`..`upto`),
    not one per earlier message of the chat."""
    from app.conversations import services as conversations
    from realtime import log as event_log
    from realtime import render
    from realtime.events import START
    from tests.integration.test_workspace import _user

    shop = await make_shop("chat_tp_marks")
    anna = await _user(shop, "operator", "Anna Operator")
    chats = []
    async with tenant_context(shop.tenant):
        for i in range(3):
            session_id = (await services.start_session())["session_id"]
            conversation_id = (await services.visitor_message(session_id, f"hello {i}"))["conversation_id"]
            await conversations.take(anna, conversation_id)
            earlier = await services.operator_reply(anna, conversation_id, f"first answer {i}")
            await services.delivered_many({session_id: earlier["id"]})
            newer = await services.operator_reply(anna, conversation_id, f"second answer {i}")
            chats.append((session_id, earlier["id"], newer["id"]))
        assert await services.delivered_many({s: newer for s, _, newer in chats}) == 3
    async with tenant_context(shop.tenant):
        events = (await event_log.read(START, names=["chat.status"]))[-3:]
    assert [(e.data["since"], e.data["upto"]) for e in events] == [(newer, newer) for _, _, newer in chats]
    reads = _reads_of(monkeypatch, live._HANDLERS_AND_STATUSES)
    got = await render.frames_of([(event, [anna]) for event in events], shop.tenant)
    assert len(reads) == 1  # the batch's marks in one read
    for (_, earlier, newer), frames in zip(chats, got, strict=True):
        assert f'id="chat-status-{newer}"' in frames[0] and 'data-status="delivered"' in frames[0]
        assert f'id="chat-status-{earlier}"' not in frames[0]  # unchanged: not redrawn
    for event, frames in zip(events, got, strict=True):
        assert frames == await render.frames(event, shop.tenant, [anna])  # as if rendered alone


async def test_the_operators_own_seen_costs_the_console_feed_no_read(
        fx_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console posts "seen" for every visitor message it shows: the resulting chat.status (direction in) goes to
    the operator's channel, but their pane draws nothing for it, so the feed reads nothing for it either; the marks
    of the operator's own messages (direction out) are still drawn."""
    from app.conversations import services as conversations
    from realtime import log as event_log
    from realtime import render
    from realtime.events import START
    from tests.integration.test_workspace import _user

    shop = await make_shop("chat_tp_seen")
    anna = await _user(shop, "operator", "Anna Operator")
    async with tenant_context(shop.tenant):
        session_id = (await services.start_session())["session_id"]
        asked = await services.visitor_message(session_id, "hello")
        await conversations.take(anna, asked["conversation_id"])
        assert await services.operator_seen(anna, asked["conversation_id"], asked["id"]) == 1
        answer = await services.operator_reply(anna, asked["conversation_id"], "hi there")
        await services.delivered_many({session_id: answer["id"]})
    async with tenant_context(shop.tenant):
        seen, delivered = await event_log.read(START, names=["chat.status"])
    assert (seen.data["direction"], delivered.data["direction"]) == ("in", "out")
    assert f"user:{anna.user_id}" in seen.channels
    reads: list[str] = []
    for method in ("fetch", "fetchrow", "fetchval"):
        original = getattr(asyncpg.Connection, method)

        async def counted(self: Any, query: str, *args: Any, original: Any = original, **kwargs: Any) -> Any:
            if "conversation" in query:
                reads.append(query)
            return await original(self, query, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, method, counted)
    drawn = "".join(await render.frames(seen, shop.tenant, [anna]))
    assert "chat-status-" not in drawn and "chat-msgs-" not in drawn  # only the feed's own last-event marker
    assert reads == []
    assert f'id="chat-status-{answer["id"]}"' in "".join(await render.frames(delivered, shop.tenant, [anna]))
    assert reads == [live._HANDLERS_AND_STATUSES]
