"""The demo shop `make run` creates: its team, its 90 days of history, its simulated Twilio line and web chat."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from app import onboarding
from app.accounts import services as accounts
from app.accounts.services import Principal
from app.accounts.tables import User
from app.audit import services as audit
from app.audit.tables import AuditEntry
from app.chat import services as chat
from app.chat.tables import ChatSettings
from app.consent import services as consent
from app.contacts.tables import Note
from app.conversations import services as conversations
from app.conversations.tables import Conversation, Queue
from app.deals import services as deals
from app.demo import actions as demo_actions
from app.demo import agents as demo_agents
from app.demo import automation as demo_automation
from app.demo import callback as demo_callback
from app.demo import campaigns as demo_campaigns
from app.demo import feedback as demo_feedback
from app.demo import reports as demo_reports
from app.demo import segments as demo_segments
from app.demo import upsell as demo_upsell
from app.demo.seed import Writer
from app.demo.story import tell
from app.demo.talk import Talk
from app.demo.texts import LOCALES
from app.hours import calendars as hour_calendars
from app.hours import services as hours
from app.hours.schemas import CalendarIn, IntervalIn
from app.hours.tables import Calendar
from app.lib.clock import now
from app.lib.db import TenantRef, current_uow, resolve_active, tenant_context
from app.lib.security import hash_password
from app.orders import pipeline
from app.routing import services as routing
from app.routing.tables import QueueRouting
from app.sla import clocks as sla_clocks
from app.sla import policies as sla_policies
from app.sla.schemas import PolicyIn
from app.sla.tables import SlaPolicy
from app.tasks import services as tasks
from app.timeline import services as timeline
from app.workspace.tables import Mention
from telephony import config
from telephony.tables import TwilioConfig
from tenants import services as tenants

DEMO_SLUG = "demo"
DEMO_OWNER = ("owner@demo.example", "demo-owner-pass")
DEMO_ADMIN = ("admin@demo.example", "demo-admin-pass")
DEMO_SUPERVISOR = ("supervisor@demo.example", "demo-supervisor-pass")
DEMO_OPERATOR = ("operator@demo.example", "demo-operator-pass")
# (email, password, name, role); the first operator is the one the README walks through the console with.
DEMO_TEAM = (
    (*DEMO_OWNER, "Olivia Owner", "owner"),
    (*DEMO_ADMIN, "Adam Admin", "admin"),
    (*DEMO_SUPERVISOR, "Sue Supervisor", "supervisor"),
    (*DEMO_OPERATOR, "Oscar Operator", "operator"),
    ("olga@demo.example", DEMO_OPERATOR[1], "Olga Operator", "operator"),
    ("omar@demo.example", DEMO_OPERATOR[1], "Omar Operator", "operator"),
    ("opal@demo.example", DEMO_OPERATOR[1], "Opal Operator", "operator"),
)
DEMO_SHOP_EMAIL = "shop@demo.example"
DEFAULT_SEED = 13
DEFAULT_LOCALE = "en_US"
# The audit entry that says a shop has its demo history (with the seed, locale and anchor it was made from);
# its presence makes seeding a no-op. Audit entries cannot be updated or deleted.
SEEDED = "demo.seeded"
STORY_VERSION = 1


async def ensure_demo(*, seed: int = DEFAULT_SEED, locale: str = DEFAULT_LOCALE,
                      anchor: dt.datetime | None = None) -> bool:
    """Create the demo shop and its history if missing; True when something was created now."""
    created = False
    tenant = await resolve_active(DEMO_SLUG)
    if tenant is None:
        result = await tenants.signup(LOCALES[locale].shop_name, DEMO_SLUG, DEMO_OWNER[0], DEMO_OWNER[1],
                                      owner_name=DEMO_TEAM[0][2])
        tenant, created = result.tenant, True
    return await seed_shop(tenant, seed=seed, locale=locale, anchor=anchor) or created


async def seeded(tenant: TenantRef) -> dict[str, Any] | None:
    """How the shop's demo history was made (seed, locale, anchor, counts), or None when it has none."""
    async with tenant_context(tenant):
        row = await AuditEntry.select(AuditEntry.detail).where(AuditEntry.action == SEEDED).output(
            load_json=True).first()
    return row["detail"] if row else None


async def seed_shop(tenant: TenantRef, *, seed: int = DEFAULT_SEED, locale: str = DEFAULT_LOCALE,
                    anchor: dt.datetime | None = None) -> bool:
    """Give `tenant` the demo team and 90 days of history ending at `anchor` (default: now, to the minute), in one
    transaction; a shop that has it already is left as it is (False)."""
    loc = LOCALES[locale]
    anchor = (anchor or now()).astimezone(dt.UTC).replace(second=0, microsecond=0)
    async with tenant_context(tenant):
        # Two `make run`s at once: the second waits here and then finds the marker.
        await current_uow().connection.execute("SELECT pg_advisory_xact_lock(hashtext('switchboard.demo.seed'))")
        if await AuditEntry.exists().where(AuditEntry.action == SEEDED):
            return False
        users = await _team()
        owner_row = next(u for u in users.values() if u["role"] == "owner")
        owner = Principal(user_id=owner_row["id"], email=owner_row["email"], name=owner_row["name"], role="owner",
                          via="session", credential_id=0)
        await accounts.update_workspace(owner, timezone=loc.timezone, default_region=loc.region,
                                        onboarding_done=True)
        for step in onboarding.STEPS:  # a lived-in shop: no checklist left on the owner's home
            await onboarding.mark_done(owner, step)
        statuses = await pipeline.statuses()
        stages = await deals.stages()
        story = tell(seed, loc, operators=[e for e, _, _, role in DEMO_TEAM if role == "operator"],
                     statuses=statuses, deal_kinds={s["key"]: s["kind"] for s in stages})
        w = Writer(story, anchor, users, tenant.slug)
        await w.custom_fields(owner)
        await w.contacts()
        await w.orders({s["key"]: s["label"] for s in statuses})
        await demo_upsell.write(w, loc)
        await w.deals({s["key"]: s["label"] for s in stages})
        await w.notes()
        talk = Talk(w, DEMO_NUMBER, DEMO_SHOP_EMAIL)
        await talk.write()
        await demo_actions.write(w, talk.convs, owner.user_id, locale)
        await demo_callback.write(w, talk.queue_id, talk.queue_key, DEMO_NUMBER)
        items = await w.timeline()
        await _mention_for_the_operator(users, anchor)
        await demo_agents.write(users, anchor, locale)
        await demo_reports.write(users, anchor)
        await _tasks(users, anchor)
        await _consent(anchor)
        await demo_segments.write(owner, anchor)
        await demo_campaigns.write(owner, anchor)
        await demo_feedback.write(anchor)
        await audit.record(SEEDED, actor_id=owner.user_id, actor=owner.email, target_type="tenant",
                           target_id=tenant.slug, detail={
                               "seed": seed, "locale": locale, "anchor": anchor.isoformat(), "version": STORY_VERSION,
                               "contacts": len(story.contacts), "orders": len(story.orders), "deals": len(story.deals),
                               "conversations": len(story.threads), "timeline_items": items})
    return True


async def _mention_for_the_operator(users: dict[str, dict[str, Any]], anchor: dt.datetime) -> None:
    """The supervisor's note with an @mention of the demo operator on their first open conversation: the operator's
    home and workspace show a mention to follow up from the first sign-in."""
    operator, supervisor = users[DEMO_OPERATOR[0]], users[DEMO_SUPERVISOR[0]]
    conv = await Conversation.select(Conversation.id, Conversation.contact).where(
        (Conversation.assigned_to == operator["id"]) & (Conversation.status == "active")
        & Conversation.contact.is_not_null()).order_by(Conversation.id).first()
    if conv is None:
        return
    at = anchor - dt.timedelta(minutes=12)
    handle = ".".join(operator["name"].lower().split())
    body = f"@{handle} this client asked twice already; please check their last order before replying."
    note = await Note.insert(Note(contact=conv["contact"], body=body, author=supervisor["id"], created_at=at)
                             ).returning(Note.id)
    await timeline.record(conv["contact"], "note", "internal", body[:140], payload={"body": body},
                          links={"note_id": note[0]["id"]}, actor_type="user", actor_id=supervisor["id"],
                          actor_label=supervisor["name"], occurred_at=at)
    await Mention.insert(Mention(user=operator["id"], by_user=supervisor["id"], conversation=conv["id"],
                                 note_id=note[0]["id"], created_at=at))


async def _tasks(users: dict[str, dict[str, Any]], anchor: dt.datetime) -> None:
    """The operator's tasks from the supervisor: one overdue callback, one follow-up due soon (its reminder comes
    as a toast while the demo runs), a weekly recurring check-in; each on a contact with an open conversation."""
    operator, supervisor = users[DEMO_OPERATOR[0]], users[DEMO_SUPERVISOR[0]]
    by = Principal(user_id=supervisor["id"], email=supervisor["email"], name=supervisor["name"], role="supervisor",
                   via="session", credential_id=0)
    contacts = [r["contact"] for r in await Conversation.select(Conversation.contact).where(
        Conversation.contact.is_not_null()).order_by(Conversation.id).limit(3)]
    if len(contacts) < 3:
        return
    for contact, title, kind, due, rrule in [
            (contacts[0], "Call back about the late delivery", "callback", anchor - dt.timedelta(hours=2), ""),
            (contacts[1], "Send the size chart", "follow_up", anchor + dt.timedelta(minutes=20), ""),
            (contacts[2], "Weekly check-in with a wholesale client", "todo",
             anchor.replace(hour=10, minute=0) + dt.timedelta(days=1), "FREQ=WEEKLY")]:
        task = await tasks.create(by, contact_id=contact, title=title, kind=kind, due_at=due,
                                  assignee_id=operator["id"], rrule=rrule, priority=1 if kind == "callback" else 0)
        # Written at the anchor (yesterday for the overdue one), like the rest of the story: one seed, one shop.
        at = anchor - dt.timedelta(days=1 if due < anchor else 0, minutes=30)
        await current_uow().connection.execute(
            "UPDATE task SET created_at = $2, updated_at = $2 WHERE id = $1", task["id"], at)
        await current_uow().connection.execute(
            "UPDATE interaction SET occurred_at = $2 WHERE links ->> 'task_id' = $1", str(task["id"]), at)


async def _consent(anchor: dt.datetime) -> None:
    """One client's consent ledger: marketing SMS agreed at checkout, marketing email refused later by one click
    (their address is on the suppression list), so the card's consent panel has a story to show."""
    row = await current_uow().connection.fetchrow(
        "SELECT c.id FROM contact c WHERE EXISTS (SELECT 1 FROM contact_phone p WHERE p.contact = c.id) "
        "AND EXISTS (SELECT 1 FROM contact_email e WHERE e.contact = c.id) ORDER BY c.id LIMIT 1")
    if row is None:
        return
    first = await consent.record(row["id"], "sms", "marketing", "opt_in", "form", "Checkout form: "
                                 "'Send me offers by SMS' ticked")
    second = await consent.record(row["id"], "email", "marketing", "opt_out", "one_click",
                                  "List-Unsubscribe-Post from the November newsletter")
    for entry, days in ((first, 40), (second, 3)):  # written in the story's past, like the rest of the shop
        await current_uow().connection.execute("UPDATE consent_entry SET at = $2 WHERE id = $1", entry["id"],
                                               anchor - dt.timedelta(days=days))


async def _team() -> dict[str, dict[str, Any]]:
    """The demo team by email: members missing from the shop are added (one password hash per password)."""
    have = {u["email"] for u in await User.select(User.email)}
    hashes: dict[str, str] = {}
    for email, password, name, role in DEMO_TEAM:
        if email not in have:
            hashes[password] = hashes.get(password) or await hash_password(password)
            await User.insert(User(email=email, name=name, role=role, password_hash=hashes[password]))
    return {u["email"]: u for u in await User.select(User.id, User.email, User.name, User.role)}


# The demo shop's Twilio account lives in the simulator `switchboard run` starts (never a real Twilio account).
DEMO_TWILIO_SID = "AC" + "de60" * 8
DEMO_TWILIO_TOKEN = "d3m0" * 8
DEMO_NUMBER = "+14155550100"
DEMO_DEVICES = {DEMO_OPERATOR[0]: "+14155550123", DEMO_OWNER[0]: "+14155550121", DEMO_SUPERVISOR[0]: "+14155550122",
                "olga@demo.example": "+14155550124"}  # Olga: a colleague to warm-transfer a call to


async def ensure_demo_telephony() -> bool:
    """Connect the demo shop to the simulated Twilio account (once: an admin's later changes are kept)."""
    async def configure(users: dict[str, dict[str, Any]], owner: Any) -> None:
        await config.save(owner, {
            "account_sid": DEMO_TWILIO_SID, "auth_token": DEMO_TWILIO_TOKEN, "numbers": [DEMO_NUMBER],
            "record_calls": True, "greeting": "Thank you for calling Demo Shop.", "ivr": {"1": "general"},
            "offer_callback": True,
            "devices": [{"user_id": users[email]["id"], "address": phone} for email, phone in DEMO_DEVICES.items()
                        if email in users]})

    return await _set_up_once(TwilioConfig, configure)


async def ensure_demo_chat(site_origin: str) -> bool:
    """Let the demo shop's web chat run on `site_origin` (the simulator's /shop page plays the shop's website);
    once: an admin's later changes are kept."""
    async def configure(users: dict[str, dict[str, Any]], owner: Any) -> None:
        await chat.update_settings(owner, allowed_origins=[site_origin],
                                   greeting="Welcome to Demo Shop! Ask us anything.")

    return await _set_up_once(ChatSettings, configure)


async def ensure_demo_automation() -> bool:
    """Starter and custom automation rules with a few logged runs in the demo shop (once)."""
    return await _set_up_once(demo_automation.TABLE, demo_automation.configure)


async def _set_up_once(table: Any, configure: Callable[[dict[str, dict[str, Any]], Any], Awaitable[None]]) -> bool:
    """Run `configure(users by email, owner)` in the demo shop unless `table` has its row already."""
    tenant = await resolve_active(DEMO_SLUG)
    if tenant is None:
        return False
    async with tenant_context(tenant):
        if await table.exists().where(table.id > 0):
            return False
        users = {u["email"]: u for u in await User.select(User.id, User.email, User.name)}
        owner = users[DEMO_OWNER[0]]
        await configure(users, Principal(user_id=owner["id"], email=owner["email"], name=owner["name"], role="owner",
                                         via="session", credential_id=0))
    return True


DEMO_SKILLS = {DEMO_OPERATOR[0]: {"english": 4, "returns": 3}, "olga@demo.example": {"english": 3, "russian": 5},
               "omar@demo.example": {"english": 2}, "opal@demo.example": {"english": 5, "returns": 1}}


async def ensure_demo_routing() -> bool:
    """A routed queue in the demo shop (once: an admin's later changes are kept): "Returns" offers each item, in
    turn, to an operator with the returns skill (level 1+), a returning customer to their last agent within an hour,
    and overflows to General after two minutes with nobody eligible; the operators have skills."""
    tenant = await resolve_active(DEMO_SLUG)
    if tenant is None:
        return False
    async with tenant_context(tenant):
        if await QueueRouting.exists().where(QueueRouting.id > 0):
            return False
        users = {u["email"]: u for u in await User.select(User.id, User.email, User.name)}
        owner = users[DEMO_OWNER[0]]
        actor = Principal(user_id=owner["id"], email=owner["email"], name=owner["name"], role="owner",
                          via="session", credential_id=0)
        if not await Queue.exists().where(Queue.key == "returns"):
            await conversations.create_queue(actor, "returns", "Returns", [])
        for email, skills in DEMO_SKILLS.items():
            if email in users:
                await routing.set_skills(actor, users[email]["id"], skills)
        await routing.update_settings(actor, "returns", strategy="round_robin", skills={"returns": 1},
                                      sticky_minutes=60, offer_timeout=30, misses_before_away=3,
                                      overflow_queue="general", overflow_after=120)
    return True

DEMO_HOURS_QUEUE = ("pickup", "In-store pickup")
"""The demo queue that keeps shop hours (the general queue stays open around the clock, so the demo's calls and
chats are answered whenever it runs); outside its hours the console marks it "closed until ..."."""


async def ensure_demo_hours() -> bool:
    """The demo shop's calendar "Shop hours" (Mon-Fri 09:00-13:00 and 14:00-18:00, Sat 10:00-14:00 in the demo's
    zone, the demo country's public holidays, a short day as an override) on the in-store pickup queue; once."""
    tenant = await resolve_active(DEMO_SLUG)
    if tenant is None:
        return False
    story = await seeded(tenant)
    loc = LOCALES[(story or {}).get("locale") or DEFAULT_LOCALE]

    async def configure(users: dict[str, dict[str, Any]], owner: Any) -> None:
        week = [IntervalIn(weekday=d, opens=a, closes=b) for d in range(5)
                for a, b in (("09:00", "13:00"), ("14:00", "18:00"))]
        cal = await hour_calendars.save_calendar(owner, CalendarIn(
            name="Shop hours", zone=loc.timezone, country=loc.region, public_holidays=True,
            weekly=[*week, IntervalIn(weekday=5, opens="10:00", closes="14:00")]))
        short_day = (now() + dt.timedelta(days=10)).date()
        await hour_calendars.set_override(owner, cal["id"], short_day, "Stocktaking: short day", [("09:00", "12:00")])
        key, name = DEMO_HOURS_QUEUE
        if not await Queue.exists().where(Queue.key == key):
            await conversations.create_queue(owner, key, name, [])
        await hours.set_queue_hours(owner, await hours.queue_id_of(key), calendar_id=cal["id"],
                                    outside_hours_call="callback", auto_reply="")

    return await _set_up_once(Calendar, configure)


DEMO_SLA = (
    PolicyIn(name="Default", first_response_seconds=15 * 60, resolution_seconds=8 * 3600,
             pause_statuses=["snoozed", "awaiting_customer"]),
    PolicyIn(name="Web chat", channel="chat", first_response_seconds=5 * 60, next_response_seconds=5 * 60,
             resolution_seconds=24 * 3600, business_hours=True, pause_statuses=["snoozed"]),
    PolicyIn(name="Email", channel="email", first_response_seconds=3600, next_response_seconds=4 * 3600,
             resolution_seconds=24 * 3600, business_hours=True, pause_statuses=["snoozed", "awaiting_customer"]),
)
NEAR_BREACH = 0.9
"""Share of its first-response target the newest waiting demo item has used when the demo starts."""


async def ensure_demo_sla() -> bool:
    """The demo shop's SLA policies (every conversation: first response 15 min, resolution 8 h; chat 5 min; email
    1 h; chat and email count business hours), and running clocks on its open conversations, which were queued
    before the policies existed: the newest waiting one is near its breach, the others green. Once."""

    async def configure(users: dict[str, dict[str, Any]], owner: Any) -> None:
        for policy in DEMO_SLA:
            await sla_policies.create(owner, policy)
        open_ids = await current_uow().connection.fetch(
            "SELECT id FROM conversation WHERE status IN ('waiting', 'active') ORDER BY status DESC, created_at DESC")
        t = now()
        for i, row in enumerate(open_ids):
            conv = await sla_clocks.conversation(row["id"])
            if conv is None:
                continue
            policy = await sla_policies.match(conv["queue_id"], conv["channel"], conv["priority"])
            target = (policy or {}).get("first_response_seconds") or 0
            used = NEAR_BREACH if i == 0 else 0.1
            await sla_clocks.start_queued(conv, t - dt.timedelta(seconds=target * used))

    return await _set_up_once(SlaPolicy, configure)
