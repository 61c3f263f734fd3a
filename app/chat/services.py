"""Web chat rules: the shop's widget settings, visitor sessions (token in the visitor's localStorage, its hash
here), messages both ways with their delivery state, typing, and linking a visitor to a contact.

A visitor message is stored first, in the request's unit of work; the conversation in the queue, the timeline
entry and the event follow in the same transaction, so either all of it lands or the visitor gets an error.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from app.accounts.services import Principal
from app.audit import services as audit
from app.chat import events as chat_events
from app.chat.tables import STATUSES, ChatMessage, ChatSession, ChatSettings
from app.contacts import identities
from app.contacts import services as contacts
from app.conversations import events as conversation_events
from app.conversations import services as conversations
from app.conversations.tables import OPEN_STATUSES, Conversation
from app.lib.clock import now
from app.lib.db import current_tenant, current_uow, save_single_row
from app.lib.domain import MergeStep
from app.lib.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.lib.forms import message_text
from app.lib.i18n import N_
from app.lib.identities import normalize_email, normalize_phone
from app.lib.lru import LRU
from app.lib.security import constant_time_equals, new_token, token_hash
from app.timeline import services as timeline
from realtime import channels
from realtime.publish import emit, emit_many

MAX_MESSAGE = 2000
MAX_ORIGINS = 20
HISTORY = 100
"""Messages the widget loads when it opens (the newest)."""
CONSOLE_HISTORY = 40
"""Messages a console chat pane shows (the newest); the whole chat is on the API and the contact's timeline."""
TOKEN_LEN = (40, 64)
TYPING_EVERY = 2.0
"""Seconds between two typing events of one side of one chat: a typing burst costs one event, not one per key."""
DEFAULT_GREETING = "Hi! How can we help?"
GONE = N_("This chat has ended. Start a new one.")


def ref(session_id: int) -> str:
    """Conversation.external_ref of a web chat."""
    return f"chat:{session_id}"


def session_id_of(conversation: dict[str, Any]) -> int | None:
    """The chat session behind a conversation, or None when it is not a web chat (a portal chat is `order:N`)."""
    external = conversation.get("external_ref") or ""
    if conversation.get("channel") != "chat" or not external.startswith("chat:") or not external[5:].isdigit():
        return None
    return int(external[5:])


# -- settings --------------------------------------------------------------------------------------------------

def normalize_origin(raw: str) -> str:
    """`https://shop.example.com` (scheme, host, port; no path): what a browser sends in the Origin header."""
    text = (raw or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment \
            or parts.username or parts.password:
        raise Invalid("%(raw)s is not an origin: write scheme and host, e.g. https://shop.example.com",
                      field="allowed_origins", raw=repr(raw))
    try:
        port = parts.port
    except ValueError:
        raise Invalid("%(raw)s has an invalid port.", field="allowed_origins", raw=repr(raw)) from None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


SETTINGS_TTL = 5.0
"""Seconds a process trusts its copy of a tenant's chat settings (every widget call checks the origin list)."""
SETTINGS_CACHED = 1024
"""Tenants whose chat settings one process keeps (the most recently used): a process serving every shop must not
keep a copy for each shop it ever served."""
_settings_cache: LRU[str, tuple[float, dict[str, Any]]] = LRU(SETTINGS_CACHED)


async def cached_settings() -> dict[str, Any]:
    """The settings, read at most every SETTINGS_TTL seconds per process; a change made here applies at once."""
    slug = current_tenant().slug
    hit = _settings_cache.get(slug)
    if hit is not None and time.monotonic() - hit[0] < SETTINGS_TTL:
        return hit[1]
    row = await get_settings()
    _settings_cache[slug] = (time.monotonic(), row)
    return row


async def get_settings() -> dict[str, Any]:
    row = await ChatSettings.select().order_by(ChatSettings.id).output(load_json=True).first()
    if row is None:
        return {"allowed_origins": [], "greeting": DEFAULT_GREETING, "updated_at": None}
    return {"allowed_origins": list(row["allowed_origins"] or []), "greeting": row["greeting"],
            "updated_at": row["updated_at"]}


async def update_settings(actor: Principal, *, allowed_origins: list[str], greeting: str) -> dict[str, Any]:
    origins = list(dict.fromkeys(normalize_origin(o) for o in allowed_origins if o and o.strip()))
    if len(origins) > MAX_ORIGINS:
        raise Invalid("At most %(max_origins)s origins.", field="allowed_origins", max_origins=MAX_ORIGINS)
    greeting = (greeting or "").strip() or DEFAULT_GREETING
    if len(greeting) > 300:
        raise Invalid("The greeting must be at most 300 characters.", field="greeting")
    values: dict[Any, Any] = {ChatSettings.allowed_origins: origins, ChatSettings.greeting: greeting,
                              ChatSettings.updated_at: now()}
    row = await ChatSettings.select(ChatSettings.id).order_by(ChatSettings.id).first()
    await save_single_row(ChatSettings, values, row["id"] if row else None)
    await audit.record("chat.settings_updated", actor_id=actor.user_id, actor=actor.label, target_type="chat",
                       target_id="settings", detail={"allowed_origins": origins})
    _settings_cache.pop(current_tenant().slug, None)
    return await get_settings()


async def origin_allowed(origin: str | None) -> bool:
    if not origin:
        return False
    try:
        wanted = normalize_origin(origin)
    except Invalid:
        return False
    return wanted in (await cached_settings())["allowed_origins"]


# -- sessions --------------------------------------------------------------------------------------------------

SESSION_COLUMNS = (ChatSession.id, ChatSession.origin, ChatSession.visitor_name, ChatSession.visitor_email,
                   ChatSession.visitor_phone, ChatSession.contact.as_alias("contact_id"),
                   ChatSession.conversation.as_alias("conversation_id"), ChatSession.created_at, ChatSession.token_hash)


async def start_session(*, origin: str = "", page_url: str = "", name: str = "", email: str = "",
                        phone: str = "") -> dict[str, Any]:
    """A new chat for a visitor: the token is returned once and never stored."""
    token = new_token(32)
    rows = await ChatSession.insert(ChatSession(token_hash=token_hash(token), origin=origin[:300],
                                                page_url=page_url[:500])).returning(ChatSession.id)
    session_id = int(rows[0]["id"])
    if name or email or phone:
        await identify(session_id, name=name, email=email, phone=phone)
    return {"token": token, "session_id": session_id, "greeting": (await get_settings())["greeting"]}


async def resolve(token: str | None) -> dict[str, Any]:
    """The session behind a widget token of the current tenant; the same 404 for unknown or malformed tokens."""
    if not isinstance(token, str) or not TOKEN_LEN[0] <= len(token) <= TOKEN_LEN[1]:
        raise NotFound(GONE)
    wanted = token_hash(token)
    row = await ChatSession.select(*SESSION_COLUMNS).where(ChatSession.token_hash == wanted).first()
    if row is None or not constant_time_equals(row["token_hash"], wanted):
        raise NotFound(GONE)
    return row


_LOCK_SESSION = """
SELECT id, origin, visitor_name, visitor_email, visitor_phone, contact AS contact_id, conversation AS conversation_id,
       created_at, token_hash FROM chat_session WHERE id = $1 FOR UPDATE
"""


_LOCK_SESSION_CONVERSATION = """
SELECT s.id, s.visitor_name, s.visitor_email, s.visitor_phone, s.contact AS contact_id,
       s.conversation AS conversation_id, c.status AS conv_status, c.assigned_to AS conv_assigned_to_id,
       c.contact AS conv_contact_id, c.queue AS conv_queue_id
FROM chat_session s LEFT JOIN conversation c ON c.id = s.conversation WHERE s.id = $1 FOR UPDATE OF s
"""


async def get_session(session_id: int, *, lock: bool = False) -> dict[str, Any]:
    if lock:
        found = await current_uow().connection.fetchrow(_LOCK_SESSION, session_id)
        row = dict(found) if found is not None else None
    else:
        row = await ChatSession.select(*SESSION_COLUMNS).where(ChatSession.id == session_id).first()
    if row is None:
        raise NotFound(GONE)
    return row


def _text(value: Any, field: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise Invalid("%(field_name)s must be at most %(limit)s characters.", field=field, field_name=field,
                      limit=limit)
    return text


async def identify(session_id: int, *, name: str = "", email: str = "", phone: str = "") -> dict[str, Any]:
    """The visitor left an email or a phone: link the chat to that contact (or a new one), put the transcript so
    far on its timeline, and attach the open conversation to it."""
    name = _text(name, "name", 100)
    email = normalize_email(email) if (email or "").strip() else ""
    phone = normalize_phone(phone, await contacts.default_region(), field="phone") if (phone or "").strip() else ""
    if not (email or phone):
        raise Invalid("Leave an email address or a phone number.", field="email")
    await get_session(session_id)  # a gone chat is refused before anything is created
    # The addresses before the session's row, in the order a merge takes them (which moves chat sessions too).
    contact_id = await identities.find_or_create(None, email=email or None, phone=phone or None, name=name,
                                                 source="chat")
    session = await get_session(session_id, lock=True)
    await ChatSession.update({ChatSession.contact: contact_id,
                              ChatSession.visitor_name: name or session["visitor_name"],
                              ChatSession.visitor_email: email or session["visitor_email"],
                              ChatSession.visitor_phone: phone or session["visitor_phone"]}).where(
        ChatSession.id == session_id)
    if session["contact_id"] != contact_id:
        earlier = await ChatMessage.select(ChatMessage.direction, ChatMessage.body, ChatMessage.author_label,
                                           ChatMessage.created_at).where(
            ChatMessage.chat_session == session_id).order_by(ChatMessage.id)
        if earlier:
            transcript = "\n".join(
                f"{m['created_at']:%H:%M} {'Visitor' if m['direction'] == 'in' else m['author_label']}: {m['body']}"
                for m in earlier)
            await timeline.record(contact_id, "chat", "in", "Web chat transcript (%(count)s messages)",
                                  params={"count": len(earlier)},
                                  actor_type="customer", links=_links(session_id, session["conversation_id"]),
                                  payload={"event": "chat_transcript", "body": transcript, "session_id": session_id})
    conv = await _open_conversation_of(session)
    if conv is not None and conv["contact_id"] != contact_id:
        await Conversation.update({Conversation.contact: contact_id}).where(Conversation.id == conv["id"])
        conv = await conversations.get(conv["id"])
        kind = conversation_events.QUEUE_ITEM_TAKEN if conv["assigned_to_id"] else conversation_events.QUEUE_ITEM_ADDED
        await emit(kind, **conversation_events.about(conv))
    return {"session_id": session_id, "contact_id": contact_id}


def _links(session_id: int, conversation_id: int | None) -> dict[str, Any]:
    return {"chat_session_id": session_id, **({"conversation_id": conversation_id} if conversation_id else {})}


async def _open_conversation_of(session: dict[str, Any]) -> dict[str, Any] | None:
    """The chat's open conversation: id, status, assignee, contact (a light read; the hot path of every message)."""
    if not session["conversation_id"]:
        return None
    row = await current_uow().connection.fetchrow(
        "SELECT id, status, assigned_to AS assigned_to_id, contact AS contact_id, queue AS queue_id "
        "FROM conversation WHERE id = $1", session["conversation_id"])
    return dict(row) if row is not None and row["status"] in OPEN_STATUSES else None


_SESSION_CONVERSATION = """
SELECT c.id, c.status, c.assigned_to AS assigned_to_id, c.contact AS contact_id, c.queue AS queue_id
FROM chat_session s JOIN conversation c ON c.id = s.conversation WHERE s.id = $1
"""


async def _open_conversation_of_session(session_id: int) -> dict[str, Any] | None:
    """`_open_conversation_of(get_session(session_id))` in one query (a status change of every pushed message)."""
    row = await current_uow().connection.fetchrow(_SESSION_CONVERSATION, session_id)
    return dict(row) if row is not None and row["status"] in OPEN_STATUSES else None


# -- messages --------------------------------------------------------------------------------------------------

MESSAGE_COLUMNS = (ChatMessage.id, ChatMessage.direction, ChatMessage.body, ChatMessage.author_label,
                   ChatMessage.status, ChatMessage.created_at, ChatMessage.conversation.as_alias("conversation_id"))


def _body(body: Any) -> str:
    text = message_text(body, MAX_MESSAGE)
    if "\x00" in text:  # PostgreSQL text cannot hold it: refused here, not a failed transaction
        raise Invalid("The message contains a NUL character, which cannot be stored; remove it.", field="body")
    return text


check_body = _body
"""A message's text as stored (Invalid for an empty or too long one): checked before it joins a batch."""


_MESSAGES = """
SELECT id, direction, body, author_label, status, created_at, conversation AS conversation_id FROM chat_message
WHERE chat_session = $1 AND id >= $2 ORDER BY id DESC LIMIT $3
"""


async def messages(session_id: int, *, limit: int = HISTORY, since: int = 0) -> list[dict[str, Any]]:
    """The newest messages (with `since`, only those from that id on), oldest first. Plain SQL: this runs for
    every message on both sides."""
    rows = await current_uow().connection.fetch(_MESSAGES, session_id, since, limit)
    return [dict(r) for r in reversed(rows)]


_MESSAGES_AND_CONTACT = """
SELECT s.contact, ct.language, m.id, m.direction, m.body, m.author_label, m.status, m.created_at,
       m.conversation AS conversation_id
FROM chat_session s LEFT JOIN contact ct ON ct.id = s.contact
LEFT JOIN LATERAL (SELECT * FROM chat_message WHERE chat_session = s.id AND id >= $2 ORDER BY id DESC LIMIT $3) m
  ON true
WHERE s.id = $1
"""


async def messages_and_contact(session_id: int, *, limit: int = HISTORY, since: int = 0
                               ) -> tuple[list[dict[str, Any]], int | None, str]:
    """`messages`, and the contact the chat is linked to with their own language ("" for none), in ONE statement:
    what the widget's socket reads after every burst of events."""
    rows = await current_uow().connection.fetch(_MESSAGES_AND_CONTACT, session_id, since, limit)
    if not rows:
        return [], None, ""
    out = [{k: r[k] for k in ("id", "direction", "body", "author_label", "status", "created_at", "conversation_id")}
           for r in reversed(rows) if r["id"] is not None]
    return out, rows[0]["contact"], str(rows[0]["language"] or "")


async def get_message(message_id: int) -> dict[str, Any]:
    row = await ChatMessage.select(*MESSAGE_COLUMNS).where(ChatMessage.id == message_id).first()
    if row is None:
        raise NotFound("No chat message %(message_id)s.", message_id=message_id)
    return row


def _topics(session_id: int, conv: dict[str, Any] | None, *, visitor: bool = True) -> list[str]:
    topics = [channels.chat(session_id)] if visitor else []
    if conv is not None and conv.get("assigned_to_id"):
        topics.append(channels.user(conv["assigned_to_id"]))
    return topics


async def visitor_message(session_id: int, body: str) -> dict[str, Any]:
    """From the widget: stored at once, then the chat's conversation (opened in the queue if there is none open),
    the contact's timeline when the visitor is known, and the event for the operator's console."""
    text = _body(body)
    conn = current_uow().connection
    # One visitor message at a time (the session's row lock): one conversation per chat. Its conversation comes in
    # the same read.
    found = await conn.fetchrow(_LOCK_SESSION_CONVERSATION, session_id)
    if found is None:
        raise NotFound(GONE)
    session = dict(found)
    stored = await conn.fetchrow(
        "INSERT INTO chat_message (chat_session, conversation, direction, body, author_label) "
        "VALUES ($1, $2, 'in', $3, $4) RETURNING id, direction, body, author_label, status, created_at",
        session_id, session["conversation_id"], text, (session["visitor_name"] or "Visitor")[:100])
    message_id = int(stored["id"])
    conv = None
    if session["conversation_id"] and session["conv_status"] in OPEN_STATUSES:
        conv = {"id": session["conversation_id"], "status": session["conv_status"],
                "assigned_to_id": session["conv_assigned_to_id"], "contact_id": session["conv_contact_id"],
                "queue_id": session["conv_queue_id"]}
    who = session["visitor_name"] or session["visitor_email"] or session["visitor_phone"] or "Web visitor"
    # A chat threads by its session: the message joins the session's open conversation, or opens one in the
    # General queue whose "queued" item (subject "Web chat: ...") is the first message on the contact's timeline.
    conversation_id, _ = await conversations.receive_inbound(
        "chat", session["contact_id"], summary=text[:200], subject=f"Web chat: {text[:200]}",
        from_address=who[:254], external_ref=ref(session_id), thread=conv["id"] if conv else None,
        record_on_open=False, links=_links(session_id, None),
        payload={"event": "chat_message", "message_id": message_id, "body": text})
    if conv is None:
        conv = {"id": conversation_id, "assigned_to_id": None}  # just opened: waiting, nobody's yet
    if conv["id"] != session["conversation_id"]:
        await conn.execute("UPDATE chat_message SET conversation = $1 WHERE id = $2", conv["id"], message_id)
    await conn.execute("UPDATE chat_session SET conversation = $1, last_seen_at = now() WHERE id = $2", conv["id"],
                       session_id)
    await emit(chat_events.CHAT_MESSAGE, session_id=session_id, conversation_id=conv["id"], message_id=message_id,
               direction="in", channels=_topics(session_id, conv))
    return {**dict(stored), "conversation_id": conv["id"]}


_LOCK_SESSIONS = """
SELECT s.id, s.visitor_name, s.visitor_email, s.visitor_phone, s.contact AS contact_id,
       s.conversation AS conversation_id, c.status AS conv_status, c.assigned_to AS conv_assigned_to_id
FROM chat_session s LEFT JOIN conversation c ON c.id = s.conversation
WHERE s.id = ANY($1::int[]) ORDER BY s.id FOR UPDATE OF s
"""

_INSERT_MESSAGES = """
INSERT INTO chat_message (chat_session, conversation, direction, body, author_label)
SELECT u.session, u.conversation, 'in', u.body, u.label
FROM unnest($1::int[], $2::int[], $3::text[], $4::text[]) WITH ORDINALITY AS u(session, conversation, body, label, ord)
ORDER BY u.ord
RETURNING id, direction, body, author_label, status, created_at, conversation AS conversation_id
"""

JOINS_AS_IS = ("waiting", "active")
"""Conversation states a visitor's message simply joins (a snoozed one wakes up, a closed or missing one is replaced:
those take `visitor_message`'s one-by-one path)."""


def _visitor_label(session: dict[str, Any]) -> str:
    return session["visitor_name"] or session["visitor_email"] or session["visitor_phone"] or "Web visitor"


async def visitor_messages(items: list[tuple[int, str]]) -> list[dict[str, Any] | DomainError]:
    """Many visitors' messages (session id, checked text) filed in the open unit of work at once: the group commit
    of app.chat.writer. What `visitor_message` does for each, with one statement per kind of row for the whole batch
    (the sessions locked in id order, the messages, the sessions' last-seen, the timeline, the events). Messages of a
    chat that needs more (a first message opens a conversation, a snoozed one wakes, a blocked sender) go through
    `visitor_message` one by one in the same transaction. Returns each message's row in the order of `items`, or the
    error that refused it (a chat that is gone) without failing the others."""
    conn = current_uow().connection
    sessions = {r["id"]: dict(r) for r in await conn.fetch(_LOCK_SESSIONS, sorted({s for s, _ in items}))}
    labels = {s["id"]: _visitor_label(s) for s in sessions.values()}
    keys = {conversations.address_key(label)[0] for label in labels.values()}
    blocked = {r["address"] for r in await conn.fetch(
        "SELECT address FROM blocked_address WHERE address = ANY($1::text[])", sorted(k for k in keys if k))}
    out: list[dict[str, Any] | DomainError | None] = [None] * len(items)
    simple: list[int] = []
    for i, (session_id, text) in enumerate(items):
        session = sessions.get(session_id)
        if session is None:
            out[i] = NotFound(GONE)
        elif session["conv_status"] in JOINS_AS_IS and conversations.address_key(labels[session_id])[0] not in blocked:
            simple.append(i)
        else:  # opens (or wakes) its conversation; the chat's later messages in this batch then join it as usual
            try:
                out[i] = await visitor_message(session_id, text)
            except DomainError as exc:
                out[i] = exc
    if simple:
        rows = await conn.fetch(_INSERT_MESSAGES, [items[i][0] for i in simple],
                                [sessions[items[i][0]]["conversation_id"] for i in simple],
                                [items[i][1] for i in simple],
                                [(sessions[items[i][0]]["visitor_name"] or "Visitor")[:100] for i in simple])
        stored = sorted((dict(r) for r in rows), key=lambda r: r["id"])  # serial ids follow the insert's order
        await conn.execute("UPDATE chat_session SET last_seen_at = now() WHERE id = ANY($1::int[])",
                           sorted({items[i][0] for i in simple}))
        known = [(i, row) for i, row in zip(simple, stored, strict=True) if sessions[items[i][0]]["contact_id"]]
        await timeline.record_many("chat", "in", [
            (sessions[items[i][0]]["contact_id"], row["body"][:200],
             {"event": "chat_message", "message_id": row["id"], "body": row["body"]},
             {**_links(items[i][0], None), "conversation_id": row["conversation_id"]}) for i, row in known])
        notices = []
        for i, row in zip(simple, stored, strict=True):
            session_id = items[i][0]
            conv = {"id": row["conversation_id"], "assigned_to_id": sessions[session_id]["conv_assigned_to_id"]}
            notices.append((chat_events.CHAT_MESSAGE, _topics(session_id, conv),
                            {"session_id": session_id, "conversation_id": row["conversation_id"],
                             "message_id": row["id"], "direction": "in"}))
            out[i] = row
        await emit_many(notices)
    return [r if r is not None else NotFound(GONE) for r in out]


_CONVERSATION = """
SELECT id, channel, external_ref, status, assigned_to AS assigned_to_id, contact AS contact_id, queue AS queue_id
FROM conversation WHERE id = $1
"""


async def conversation_session(conversation_id: int) -> tuple[dict[str, Any], int]:
    """The conversation (id, channel, status, assignee, contact, queue: a light read, on every operator message)
    and its chat session id; NotFound when it is not a web chat."""
    found = await current_uow().connection.fetchrow(_CONVERSATION, conversation_id)
    if found is None:
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    conv = dict(found)
    session_id = session_id_of(conv)
    if session_id is None:
        raise NotFound("Conversation %(conversation_id)s is not a web chat.", conversation_id=conversation_id)
    return conv, session_id


def _may_answer(actor: Principal, conv: dict[str, Any]) -> None:
    if conv["status"] == "closed":
        raise Conflict("This chat is closed; the visitor's next message opens a new one.")
    if conv["status"] == "waiting":
        raise Conflict("Take this chat from the queue first.")
    if conv["assigned_to_id"] != actor.user_id and not actor.has_role("supervisor"):
        raise Forbidden("Only the operator handling this chat or a supervisor can answer it.")


_CONVERSATION_LOCKING_SESSION = """
WITH c AS (SELECT id, channel, external_ref, status, assigned_to AS assigned_to_id, contact AS contact_id,
                  queue AS queue_id FROM conversation WHERE id = $1),
     s AS (SELECT s.id, s.contact FROM chat_session s JOIN c ON s.id = CASE WHEN c.channel = 'chat'
               AND c.external_ref ~ '^chat:[0-9]{1,18}$' THEN substr(c.external_ref, 6)::bigint END
           FOR UPDATE OF s)
SELECT c.*, s.id AS session_id, s.contact AS session_contact_id FROM c LEFT JOIN s ON true
"""
"""`conversation_session` and `get_session(lock=True)` in ONE statement (the operator's answer: one round trip less
on every reply). The session's row lock is taken before the answer's checks: a refused answer only rolls it back."""


async def _conversation_locking_session(conversation_id: int) -> tuple[dict[str, Any], int, int | None]:
    """The conversation as `conversation_session` reads it, its chat session id and that session's contact, the
    session's row locked (one visitor message or answer at a time per chat)."""
    found = await current_uow().connection.fetchrow(_CONVERSATION_LOCKING_SESSION, conversation_id)
    if found is None:
        raise NotFound("No conversation %(conversation_id)s.", conversation_id=conversation_id)
    conv = {k: found[k] for k in ("id", "channel", "external_ref", "status", "assigned_to_id", "contact_id",
                                  "queue_id")}
    session_id = session_id_of(conv)
    if session_id is None:
        raise NotFound("Conversation %(conversation_id)s is not a web chat.", conversation_id=conversation_id)
    if found["session_id"] is None:
        raise NotFound(GONE)
    return conv, session_id, found["session_contact_id"]


async def operator_reply(actor: Principal, conversation_id: int, body: str) -> dict[str, Any]:
    """An operator's answer: stored, on the timeline when the visitor is known, live in the widget. Everything
    the visitor wrote before it counts as read."""
    text = _body(body)
    conv, session_id, contact_id = await _conversation_locking_session(conversation_id)
    _may_answer(actor, conv)
    conn = current_uow().connection
    stored = dict(await conn.fetchrow(_ANSWER, session_id, conversation_id, text, actor.user_id,
                                      (actor.name or "Operator")[:100], now()))
    message_id = int(stored["id"])
    if contact_id:
        await timeline.record(contact_id, "chat", "out", text[:200], actor_type="user",
                              actor_id=actor.user_id, actor_label=actor.label,
                              links=_links(session_id, conversation_id),
                              payload={"event": "chat_reply", "message_id": message_id, "body": text})
    await emit(chat_events.CHAT_MESSAGE, session_id=session_id, conversation_id=conversation_id,
               message_id=message_id, direction="out", channels=_topics(session_id, conv))
    return stored


async def auto_message(conversation_id: int, body: str, *, subject: str = "") -> dict[str, Any]:
    """An automatic message from the shop (the outside-hours reply): stored and live in the widget like an operator's
    answer, with no operator; the conversation keeps its place in the queue and the visitor's messages stay unread.
    Chats have no subject."""
    text = _body(body)
    conv, session_id = await conversation_session(conversation_id)
    stored = dict(await current_uow().connection.fetchrow(_REPLY, session_id, conversation_id, text, None,
                                                          "Auto-reply"))
    await emit(chat_events.CHAT_MESSAGE, session_id=session_id, conversation_id=conversation_id,
               message_id=int(stored["id"]), direction="out", channels=_topics(session_id, conv))
    return stored


_REPLY = """
INSERT INTO chat_message (chat_session, conversation, direction, body, author, author_label)
VALUES ($1, $2, 'out', $3, $4, $5)
RETURNING id, direction, body, author_label, status, created_at, conversation AS conversation_id
"""


_ANSWER = """
WITH seen AS (UPDATE chat_message SET status = 'read', read_at = $6
              WHERE chat_session = $1 AND direction = 'in' AND status <> 'read')
INSERT INTO chat_message (chat_session, conversation, direction, body, author, author_label)
VALUES ($1, $2, 'out', $3, $4, $5)
RETURNING id, direction, body, author_label, status, created_at, conversation AS conversation_id
"""
"""`_REPLY` and, in the same statement (after the session's lock: it sees every visitor message filed before the
answer), everything the visitor wrote marked read."""


_RANK = {s: i for i, s in enumerate(STATUSES)}


_MARK = """
WITH changed AS (
    UPDATE chat_message SET status = $4, STAMP_ = $5
    WHERE chat_session = $1 AND direction = $2 AND id <= $3 AND status = ANY($6::varchar[]) RETURNING id)
SELECT m.upto, m.since, m.n, c.id, c.status, c.assigned_to AS assigned_to_id, c.contact AS contact_id,
       c.queue AS queue_id
FROM (SELECT max(id) AS upto, min(id) AS since, count(*) AS n FROM changed) m
LEFT JOIN chat_session s ON m.n > 0 AND s.id = $1 LEFT JOIN conversation c ON c.id = s.conversation
"""
_MARKS = {"delivered": _MARK.replace("STAMP_", "delivered_at"), "read": _MARK.replace("STAMP_", "read_at")}


async def mark(session_id: int, *, direction: str, upto: int, status: str) -> int:
    """Move messages of one direction up to `upto` forward to `status` (never back); tell both sides. One statement
    (the update and the chat's conversation): it runs for every message pushed to either side."""
    if status not in ("delivered", "read") or direction not in ("in", "out"):
        raise Invalid("status must be delivered or read.", field="status")
    lower = [s for s in STATUSES if _RANK[s] < _RANK[status]]
    row = await current_uow().connection.fetchrow(_MARKS[status], session_id, direction, upto, status, now(), lower)
    if row["upto"] is None:
        return 0
    found = {k: row[k] for k in ("id", "status", "assigned_to_id", "contact_id", "queue_id")}
    conv = found if found["id"] is not None and found["status"] in OPEN_STATUSES else None
    # The visitor's widget acts only on its own messages' state (an operator saw them); what it reports itself about
    # the operator's goes to the operator alone (the chat's channel when nobody handles it: every change has topics).
    topics = _topics(session_id, conv, visitor=direction == "in") or [channels.chat(session_id)]
    await emit(chat_events.CHAT_STATUS, session_id=session_id, conversation_id=conv["id"] if conv else 0,
               upto=row["upto"], since=row["since"], status=status, direction=direction, channels=topics)
    return int(row["n"])


_DELIVERED = """
WITH changed AS (
    UPDATE chat_message m SET status = 'delivered', delivered_at = $3
    FROM unnest($1::int[], $2::int[]) AS w(session, upto)
    WHERE m.chat_session = w.session AND m.direction = 'out' AND m.id <= w.upto AND m.status = 'sent'
    RETURNING m.chat_session, m.id)
SELECT m.session, m.upto, m.since, c.id, c.status, c.assigned_to AS assigned_to_id
FROM (SELECT chat_session AS session, max(id) AS upto, min(id) AS since FROM changed GROUP BY chat_session) m
JOIN chat_session s ON s.id = m.session LEFT JOIN conversation c ON c.id = s.conversation ORDER BY m.session
"""


async def delivered_many(marks: dict[int, int]) -> int:
    """`mark(session, direction="out", upto=upto, status="delivered")` for many chats (session id -> upto) in ONE
    statement and one insert of their events: the widgets' delivery marks, group-committed (app.chat.writer).
    Returns the number of chats whose state changed."""
    if not marks:
        return 0
    sessions = sorted(marks)
    rows = await current_uow().connection.fetch(_DELIVERED, sessions, [marks[s] for s in sessions], now())
    notices = []
    for row in rows:
        conv = {"id": row["id"], "assigned_to_id": row["assigned_to_id"]} \
            if row["id"] is not None and row["status"] in OPEN_STATUSES else None
        topics = _topics(row["session"], conv, visitor=False) or [channels.chat(row["session"])]
        notices.append((chat_events.CHAT_STATUS, topics,
                        {"session_id": row["session"], "conversation_id": conv["id"] if conv else 0,
                         "upto": row["upto"], "since": row["since"], "status": "delivered", "direction": "out"}))
    if notices:
        await emit_many(notices)
    return len(rows)


async def operator_seen(actor: Principal, conversation_id: int, upto: int) -> int:
    """The operator's console showed the visitor's messages up to `upto`."""
    conv, session_id = await conversation_session(conversation_id)
    if conv["assigned_to_id"] != actor.user_id:
        return 0
    return await mark(session_id, direction="in", upto=upto, status="delivered")


_typing: dict[tuple[str, int, str], float] = {}


async def typing(session_id: int, who: str, *, conv: dict[str, Any] | None = None, tenant_slug: str = "") -> bool:
    """Someone is typing; at most one event per side per chat every TYPING_EVERY seconds. Returns whether an
    event went out."""
    key = (tenant_slug, session_id, who)
    t = time.monotonic()
    if t - _typing.get(key, 0.0) < TYPING_EVERY:
        return False
    if who == "visitor":
        conv = conv or await _open_conversation_of(await get_session(session_id))
        topics = _topics(session_id, conv, visitor=False)
    else:
        topics = [channels.chat(session_id)]
    if not topics:
        return False  # a waiting chat: nobody is watching it yet
    _typing[key] = t
    if len(_typing) > 50_000:
        for k in [k for k, v in _typing.items() if t - v > TYPING_EVERY]:
            del _typing[k]
    await emit(chat_events.CHAT_TYPING, session_id=session_id, conversation_id=conv["id"] if conv else 0, who=who,
               channels=topics)
    return True


async def operator_typing(actor: Principal, conversation_id: int, tenant_slug: str = "") -> bool:
    conv, session_id = await conversation_session(conversation_id)
    _may_answer(actor, conv)
    return await typing(session_id, "operator", conv=conv, tenant_slug=tenant_slug)


async def console_view(conversation_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The chat panes of the operator's open web chats: session, newest messages."""
    if not conversation_ids:
        return {}
    sessions = await current_uow().connection.fetch(
        "SELECT id, visitor_name, visitor_email, visitor_phone, contact AS contact_id, conversation AS conversation_id "
        "FROM chat_session WHERE conversation = ANY($1::int[])", conversation_ids)
    out: dict[int, dict[str, Any]] = {}
    for s in sessions:
        out[s["conversation_id"]] = {"session": dict(s), "messages": await messages(s["id"], limit=CONSOLE_HISTORY)}
    return out


async def _reassign_contact(source: int, target: int) -> int:
    """Merge step: chats of a merged-away contact follow it to the survivor."""
    moved = await ChatSession.update({ChatSession.contact: target}).where(ChatSession.contact == source).returning(
        ChatSession.id)
    return len(moved)


MERGE_STEP = MergeStep("chat", _reassign_contact, tables=("chat_session",))
