"""Accounts rules: sign-in and sessions, roles, API keys, invitations and the workspace profile."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import zoneinfo
from typing import Any

import phonenumbers
from babel.numbers import list_currencies

from app.accounts import twofa
from app.accounts.tables import ApiKey, Invitation, Session, User, Workspace
from app.audit import services as audit
from app.lib import i18n, jobs, quotas, reqctx
from app.lib.clock import now
from app.lib.db import TenantRef, current_tenant, current_uow, forget_tenant
from app.lib.errors import Conflict, Forbidden, Invalid, NotFound, TooManyAttempts, Unauthorized
from app.lib.identities import normalize_email
from app.lib.roles import RANK, ROLES
from app.lib.security import check_password_policy, hash_password, new_token, token_hash, verify_password
from app.settings import get_settings
from realtime import channels
from realtime.events import SESSION_REVOKED
from realtime.publish import emit
from realtime.render import shared as render_shared

API_KEY_PREFIX = "sbk_"


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is making the request: a user, through a session or an API key."""

    user_id: int
    email: str
    name: str
    role: str
    via: str  # "session" | "api_key"
    credential_id: int
    # What the user reads in: their own choice, else the workspace's ("" = not chosen: the browser's, UTC).
    language: str = ""
    timezone: str = ""

    def has_role(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    @property
    def label(self) -> str:
        return self.email if self.via == "session" else f"{self.email} (API key {self.credential_id})"

    def as_audience(self, role: str) -> Principal:
        """`role` with nobody behind it (user id 0), in this viewer's language and zone: what a live fragment
        shared by many consoles is rendered as (realtime.render), so it cannot carry one user's own items."""
        return Principal(0, "", "", role, self.via, 0, self.language, self.timezone)


@dataclasses.dataclass(frozen=True)
class SignIn:
    """Where a sign-in stands after the password: a session, or a challenge waiting for the second factor
    (`step` "code") or for the enrolment the shop's policy demands (`step` "enrol"). No session exists before."""

    principal: Principal | None
    session_token: str = ""
    challenge_token: str = ""
    step: str = ""
    next_path: str = ""


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid("Unknown role %(role)s; choose one of: %(choices)s.", field="role", role=repr(role),
                      choices=', '.join(ROLES))
    return role


def check_language(language: str, *, allow_unset: bool = False) -> str:
    language = (language or "").strip()
    if (language == "" and allow_unset) or language in i18n.LANGUAGES:
        return language
    raise Invalid("Unknown language %(language)s; choose one of: %(choices)s.", field="language",
                  language=repr(language), choices=', '.join(i18n.LANGUAGES))


def check_timezone(timezone: str, *, allow_unset: bool = False) -> str:
    timezone = (timezone or "").strip()
    if (timezone == "" and allow_unset) or i18n.check_zone(timezone):
        return timezone
    raise Invalid("Unknown time zone %(timezone)s; use a name like Europe/Berlin.", field="timezone",
                  timezone=repr(timezone))


# -- workspace -------------------------------------------------------------------------------------------------

async def seed_workspace(tenant: TenantRef, *, shop_name: str, email: str, name: str,
                         password_hash: str) -> tuple[int, str]:
    """Defaults of a new tenant schema: its profile, the owner and the owner's first API key."""
    await Workspace.insert(Workspace(display_name=shop_name))
    rows = await User.insert(User(email=email, name=name, role="owner", password_hash=password_hash)).returning(
        User.id)
    owner_id = rows[0]["id"]
    _, key = await _insert_api_key(owner_id, "Created at signup")
    await audit.record("tenant.created", actor_id=owner_id, actor=email, target_type="tenant",
                       target_id=tenant.slug, detail={"shop_name": shop_name})
    return owner_id, key


async def workspace() -> dict[str, Any]:
    row = await Workspace.select().first()
    if row is None:
        raise NotFound("This workspace has no profile yet.")
    return row


async def workspace_zone() -> zoneinfo.ZoneInfo:
    """The workspace's time zone (its "today", nightly runs, reports' days), UTC when unset or unknown: the one read
    of it for every domain (a query that needs it per row, or beside the user's or contact's own zone, joins it).
    Read once per live event however many panels ask (realtime.render.shared: the totals of each role's queues
    read it), every time outside a render."""

    async def load() -> zoneinfo.ZoneInfo:
        return i18n.pick_zone(await current_uow().connection.fetchval("SELECT timezone FROM workspace LIMIT 1"))

    return await render_shared("workspace_zone", load)  # type: ignore[no-any-return]


async def update_workspace(actor: Principal, *, display_name: str | None = None, timezone: str | None = None,
                           default_region: str | None = None, onboarding_done: bool | None = None,
                           language: str | None = None, currency: str | None = None) -> dict[str, Any]:
    _require(actor, "admin")
    changes: dict[Any, Any] = {}
    if display_name is not None:
        if not display_name.strip() or len(display_name) > 200:
            raise Invalid("The shop name must be 1 to 200 characters.", field="display_name")
        changes[Workspace.display_name] = display_name.strip()
        # The registry keeps the shop's name too (top bar, login page): both change together.
        await current_uow().connection.execute("UPDATE public.tenant SET name = $1 WHERE id = $2",
                                               display_name.strip(), current_tenant().id)
        forget_tenant(current_tenant().slug)
    if timezone is not None:
        changes[Workspace.timezone] = check_timezone(timezone)
    if default_region is not None:
        region = default_region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise Invalid("Unknown country code %(default_region)s; use two letters like US or DE.",
                          field="default_region", default_region=repr(default_region))
        changes[Workspace.default_region] = region
    if language is not None:
        changes[Workspace.language] = check_language(language, allow_unset=True)
    if onboarding_done is not None:
        changes[Workspace.onboarding_done] = onboarding_done
    if currency is not None:
        code = currency.strip().upper()
        if code not in list_currencies():
            raise Invalid("Write the currency as three letters like USD, EUR or BGN.", field="currency")
        changes[Workspace.currency] = code
    if changes:
        await Workspace.update(changes, force=True)
        await audit.record("workspace.updated", actor_id=actor.user_id, actor=actor.label, target_type="workspace",
                           detail={c._meta.name: v for c, v in changes.items()})
    return await workspace()


# -- sign-in and sessions ----------------------------------------------------------------------------------------

async def login(email: str, password: str, next_path: str = "") -> SignIn:
    """Check credentials with lock-out back-off; returns a fresh session, or, when the user has two-factor
    sign-in on (or the shop's policy demands it), a challenge for the second step and no session.

    Failures are written to the audit log and counted even though the request ends in an error.
    """
    sec = get_settings().security
    email = (email or "").strip().lower()
    user = await User.select().where(User.email == email).first()
    uow = current_uow()
    if user is not None and user["locked_until"] and user["locked_until"] > now():
        uow.keep_on_error()
        await audit.record("login.locked", actor=email, target_type="user", target_id=user["id"])
        wait = int((user["locked_until"] - now()).total_seconds()) + 1
        raise TooManyAttempts("Too many failed sign-ins. Try again in %(wait)s seconds.", extra={"retry_after": wait},
                              wait=wait)
    ok = await verify_password(user["password_hash"] if user else None, password or "")
    if user is None or not ok or user["status"] != "active":
        uow.keep_on_error()
        if user is not None:
            failures = user["failed_logins"] + 1
            locked_until = None
            if failures >= sec.login_max_failures:
                seconds = min(sec.login_lock_seconds * 2 ** (failures - sec.login_max_failures), 3600)
                locked_until = now() + dt.timedelta(seconds=seconds)
            await User.update({User.failed_logins: failures, User.locked_until: locked_until}).where(
                User.id == user["id"])
        await audit.record("login.failed", actor=email, target_type="user",
                           target_id=user["id"] if user else "", detail={"reason": "bad credentials"})
        raise Unauthorized("Wrong email or password.")
    await User.update({User.failed_logins: 0, User.locked_until: None}).where(User.id == user["id"])
    step = await second_step_for(user["id"], user["role"])
    if step:
        return SignIn(None, challenge_token=await twofa.start_challenge(user["id"], next_path), step=step)
    return await _signed_in(user, {})


async def _signed_in(user: dict[str, Any], detail: dict[str, Any]) -> SignIn:
    await User.update({User.last_login_at: now()}).where(User.id == user["id"])
    token, session_id = await create_session(user["id"])
    await audit.record("login.succeeded", actor_id=user["id"], actor=user["email"], target_type="session",
                       target_id=session_id, detail=detail or None)
    return SignIn(Principal(user["id"], user["email"], user["name"], user["role"], "session", session_id), token)


def _challenge_user(ch: dict[str, Any]) -> dict[str, Any]:
    return {"id": ch["user_id"], "email": ch["email"], "name": ch["name"], "role": ch["role"]}


async def second_step_for(user_id: int, role: str) -> str:
    """"code" when the user has 2FA on, "enrol" when the shop requires it of them and they have none, else ""."""
    if (await twofa.state(user_id))["enabled"]:
        return "code"
    return "enrol" if twofa.required_for(await twofa.policy(), role) else ""


async def sign_in_with_code(challenge_token: str, code: str) -> SignIn:
    """The second step: a current code or an unused recovery code; the session is created only now."""
    ch = await twofa.open_challenge(challenge_token)
    if not ch["enabled"]:
        raise Conflict("Set up two-factor sign-in first.")
    await twofa.limit_attempts(ch["user_id"])
    method = await twofa.verify(ch["user_id"], code)
    if method is None:
        current_uow().keep_on_error()
        await audit.record("login.failed", actor=ch["email"], target_type="user", target_id=ch["user_id"],
                           detail={"reason": "wrong second-factor code"})
        raise Unauthorized(twofa.WRONG_CODE, field="code")
    await twofa.close_challenge(ch["id"])
    signed_in = await _signed_in(_challenge_user(ch), {"second_factor": method})
    return dataclasses.replace(signed_in, next_path=ch["next_path"])


async def enrolment_for_sign_in(challenge_token: str) -> tuple[dict[str, Any], twofa.Setup]:
    """The enrolment a sign-in waits for (the shop requires 2FA of this user): the one in progress or a new one."""
    ch = await twofa.open_challenge(challenge_token)
    if ch["enabled"]:
        raise Conflict("Two-factor sign-in is already on. Turn it off first to set up another app.")
    setup = await twofa.pending_setup(ch["user_id"], ch["email"]) or await twofa.begin_setup(ch["user_id"],
                                                                                              ch["email"])
    return ch, setup


async def enrol_at_sign_in(challenge_token: str, code: str) -> tuple[SignIn, list[str]]:
    """Finish the enrolment a sign-in waits for; then the session starts. Returns it and the recovery codes."""
    ch = await twofa.open_challenge(challenge_token)
    codes = await twofa.confirm_setup(ch["user_id"], code)
    await audit.record("twofa.enabled", actor_id=ch["user_id"], actor=ch["email"], target_type="user",
                       target_id=ch["user_id"], detail={"at_sign_in": True})
    await twofa.close_challenge(ch["id"])
    signed_in = await _signed_in(_challenge_user(ch), {"second_factor": "enrolment"})
    return dataclasses.replace(signed_in, next_path=ch["next_path"]), codes


async def create_session(user_id: int) -> tuple[str, int]:
    sec = get_settings().security
    token = new_token(32)
    rows = await Session.insert(Session(
        token_hash=token_hash(token), user=user_id,
        expires_at=now() + dt.timedelta(hours=sec.session_absolute_hours),
        ip=reqctx.client_ip.get()[:64], user_agent=reqctx.user_agent.get()[:300],
    )).returning(Session.id)
    return token, rows[0]["id"]


_VIEWER_SQL = ("COALESCE(NULLIF(u.language, ''), w.language, '') AS language, "
               "COALESCE(NULLIF(u.timezone, ''), w.timezone, '') AS timezone")
"""The user's language and zone, else the workspace's: read with the credential, no second query."""


async def resolve_session(token: str) -> Principal | None:
    """The live session behind a cookie: not revoked, within absolute expiry and idle timeout, user active.
    Hand-written SQL: this runs on every browser request (see the GET /me benchmark)."""
    if not token or len(token) > 128:
        return None
    sec = get_settings().security
    conn = current_uow().connection
    row = await conn.fetchrow(
        "SELECT s.id, s.last_seen_at, s.expires_at, u.id AS user_id, u.email, u.name, u.role, " + _VIEWER_SQL +  # noqa: S608
        " FROM user_session s JOIN app_user u ON u.id = s.user LEFT JOIN workspace w ON true "
        "WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND u.status = 'active'",
        token_hash(token))
    if row is None:
        return None
    t = now()
    if row["expires_at"] <= t or row["last_seen_at"] + dt.timedelta(minutes=sec.session_idle_minutes) <= t:
        return None
    if t - row["last_seen_at"] > dt.timedelta(seconds=30):
        await conn.execute("UPDATE user_session SET last_seen_at = $1 WHERE id = $2", t, row["id"])
    return Principal(row["user_id"], row["email"], row["name"], row["role"], "session", row["id"],
                     row["language"], row["timezone"])


async def logout(principal: Principal) -> None:
    if principal.via == "session":
        await Session.update({Session.revoked_at: now()}).where(Session.id == principal.credential_id)
        await audit.record("logout", actor_id=principal.user_id, actor=principal.email, target_type="session",
                           target_id=principal.credential_id)
        await _announce_revoked(principal.user_id, [principal.credential_id])


async def _announce_revoked(user_id: int, session_ids: list[int]) -> None:
    """`session.revoked` per ended session: the consoles' feeds re-check their sockets' sessions at once (they also
    do every second, which is what closes a socket whose session expired or whose user was disabled)."""
    for session_id in session_ids:
        await emit(SESSION_REVOKED, channels=[channels.user(user_id)], user_id=user_id, session_id=session_id)


async def end_sessions(user_id: int) -> list[int]:
    """Revoke every live session of a user (their sockets close with 4401); the ids ended."""
    rows = await Session.update({Session.revoked_at: now()}).where(
        (Session.user == user_id) & Session.revoked_at.is_null()).returning(Session.id)
    ended = [int(r["id"]) for r in rows]
    await _announce_revoked(user_id, ended)
    return ended


async def revoke_sessions(actor: Principal, user_id: int) -> int:
    """An admin signs a user out everywhere (a lost laptop, a shared password): every session ends and its sockets
    close; API keys are not sessions and stay (revoke them on the API keys page). Audited. Returns how many."""
    _require(actor, "admin")
    target = await get_user(user_id)
    if target["role"] == "owner" and actor.role != "owner" and user_id != actor.user_id:
        raise Forbidden("Only an owner can sign an owner out.")
    ended = await end_sessions(user_id)
    await audit.record("sessions.revoked", actor_id=actor.user_id, actor=actor.label, target_type="user",
                       target_id=user_id, detail={"email": target["email"], "sessions": len(ended)})
    return len(ended)


# -- API keys ----------------------------------------------------------------------------------------------------

async def _insert_api_key(user_id: int, name: str) -> tuple[int, str]:
    key = API_KEY_PREFIX + new_token(32)
    rows = await ApiKey.insert(ApiKey(name=name, prefix=key[:12], key_hash=token_hash(key), user=user_id)).returning(
        ApiKey.id)
    return rows[0]["id"], key


async def resolve_api_key(key: str) -> Principal | None:
    """The active key and user behind a Bearer token (hand-written SQL: every API request runs it)."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 128:
        return None
    conn = current_uow().connection
    row = await conn.fetchrow(
        "SELECT k.id, k.last_used_at, u.id AS user_id, u.email, u.name, u.role, " + _VIEWER_SQL +  # noqa: S608
        " FROM api_key k JOIN app_user u ON u.id = k.user LEFT JOIN workspace w ON true "
        "WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.status = 'active'",
        token_hash(key))
    if row is None:
        return None
    t = now()
    if row["last_used_at"] is None or t - row["last_used_at"] > dt.timedelta(minutes=1):
        await conn.execute("UPDATE api_key SET last_used_at = $1 WHERE id = $2", t, row["id"])
    return Principal(row["user_id"], row["email"], row["name"], row["role"], "api_key", row["id"],
                     row["language"], row["timezone"])


async def create_api_key(actor: Principal, name: str) -> tuple[dict[str, Any], str]:
    """A new key for the acting user; the plaintext is returned once and only its hash is kept."""
    _require(actor, "admin")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid("Give the key a name of 1 to 100 characters (what will use it?).", field="name")
    key_id, key = await _insert_api_key(actor.user_id, name)
    await audit.record("api_key.created", actor_id=actor.user_id, actor=actor.label, target_type="api_key",
                       target_id=key_id, detail={"name": name})
    return await _api_key_row(key_id), key


async def _api_key_row(key_id: int) -> dict[str, Any]:
    row = await ApiKey.select(ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.created_at, ApiKey.last_used_at,
                              ApiKey.revoked_at, ApiKey.user.email.as_alias("owner")).where(ApiKey.id == key_id).first()
    if row is None:
        raise NotFound("No API key %(key_id)s.", key_id=key_id)
    return row


async def list_api_keys(actor: Principal) -> list[dict[str, Any]]:
    _require(actor, "admin")
    return await ApiKey.select(ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.created_at, ApiKey.last_used_at,
                               ApiKey.revoked_at, ApiKey.user.email.as_alias("owner")).order_by(ApiKey.id)


async def revoke_api_key(actor: Principal, key_id: int) -> dict[str, Any]:
    _require(actor, "admin")
    row = await _api_key_row(key_id)
    if row["revoked_at"] is None:
        await ApiKey.update({ApiKey.revoked_at: now()}).where(ApiKey.id == key_id)
        await audit.record("api_key.revoked", actor_id=actor.user_id, actor=actor.label, target_type="api_key",
                           target_id=key_id, detail={"name": row["name"]})
    return await _api_key_row(key_id)


# -- users and roles -----------------------------------------------------------------------------------------------

USER_COLUMNS = (User.id, User.email, User.name, User.role, User.status, User.last_login_at, User.created_at)


async def list_users() -> list[dict[str, Any]]:
    return await User.select(*USER_COLUMNS).order_by(User.id)


async def get_user(user_id: int) -> dict[str, Any]:
    row = await User.select(*USER_COLUMNS).where(User.id == user_id).first()
    if row is None:
        raise NotFound("No user %(user_id)s in this workspace.", user_id=user_id)
    return row


async def update_user(actor: Principal, user_id: int, *, role: str | None = None,
                      status: str | None = None) -> dict[str, Any]:
    """Admins change roles and disable users; only an owner grants or takes `owner`; the last owner stays."""
    _require(actor, "admin")
    target = await get_user(user_id)
    changes: dict[Any, Any] = {}
    if role is not None and role != target["role"]:
        check_role(role)
        if user_id == actor.user_id:
            raise Forbidden("You cannot change your own role; ask another admin.")
        if (role == "owner" or target["role"] == "owner") and actor.role != "owner":
            raise Forbidden("Only an owner can grant or remove the owner role.")
        changes[User.role] = role
    if status is not None and status != target["status"]:
        if status not in {"active", "disabled"}:
            raise Invalid("status must be active or disabled.", field="status")
        if user_id == actor.user_id:
            raise Forbidden("You cannot disable yourself.")
        if target["role"] == "owner" and actor.role != "owner":
            raise Forbidden("Only an owner can disable an owner.")
        changes[User.status] = status
        if status == "active":
            await quotas.check("users")
    if not changes:
        return target
    if target["role"] == "owner" and (changes.get(User.role, "owner") != "owner"
                                      or changes.get(User.status) == "disabled"):
        owners = await User.count().where((User.role == "owner") & (User.status == "active"))
        if owners <= 1:
            raise Conflict("This is the last owner of the workspace; make someone else owner first.")
    await User.update(changes).where(User.id == user_id)
    if changes.get(User.status) == "disabled" or User.role in changes:
        # A role change or a disabled account ends the user's sessions at once.
        await end_sessions(user_id)
    await audit.record("user.updated", actor_id=actor.user_id, actor=actor.label, target_type="user",
                       target_id=user_id, detail={"email": target["email"], "before": {
                           "role": target["role"], "status": target["status"]},
                           "after": {c._meta.name: v for c, v in changes.items()}})
    return await get_user(user_id)


async def quota_used() -> int:
    """Users the plan's quota counts: active users and open invitations (each becomes a user when accepted)."""
    return int(await current_uow().connection.fetchval(
        "SELECT (SELECT count(*) FROM app_user WHERE status = 'active') + (SELECT count(*) FROM invitation "
        "WHERE accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now())"))


# -- invitations ---------------------------------------------------------------------------------------------------

def invitation_token(tenant_slug: str, invitation_id: int, created_at: dt.datetime) -> str:
    """Derived from the secret key, so the job can rebuild the link while only a hash is stored."""
    key = get_settings().app.secret_key.encode()
    digest = hmac.new(key, f"invite:{tenant_slug}:{invitation_id}:{created_at.isoformat()}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def invitation_url(tenant_slug: str, token: str) -> str:
    return f"{get_settings().app.base_url}/t/{tenant_slug}/invite/{token}"


INVITATION_COLUMNS = (Invitation.id, Invitation.email, Invitation.role, Invitation.created_at, Invitation.expires_at,
                      Invitation.accepted_at, Invitation.revoked_at)


async def invite(actor: Principal, email: str, role: str) -> dict[str, Any]:
    _require(actor, "admin")
    email = normalize_email(email)
    check_role(role)
    if role == "owner" or RANK[role] > RANK[actor.role]:
        raise Forbidden("You cannot invite someone as %(role)s.", role=role)
    if await User.exists().where(User.email == email):
        raise Conflict("%(email)s is already a member of this workspace.", field="email", email=email)
    await quotas.check("users")
    days = get_settings().security.invite_days
    rows = await Invitation.insert(Invitation(
        email=email, role=role, token_hash=new_token(16), invited_by=actor.user_id,
        expires_at=now() + dt.timedelta(days=days),
    )).returning(Invitation.id, Invitation.created_at)
    inv_id, created = rows[0]["id"], rows[0]["created_at"]
    token = invitation_token(current_tenant().slug, inv_id, created)
    await Invitation.update({Invitation.token_hash: token_hash(token)}).where(Invitation.id == inv_id)
    await jobs.enqueue("accounts.send_invitation", {"invitation_id": inv_id})
    await audit.record("user.invited", actor_id=actor.user_id, actor=actor.label, target_type="invitation",
                       target_id=inv_id, detail={"email": email, "role": role})
    return await Invitation.select(*INVITATION_COLUMNS).where(Invitation.id == inv_id).first()  # type: ignore[return-value]


async def list_invitations(actor: Principal) -> list[dict[str, Any]]:
    _require(actor, "admin")
    return await Invitation.select(*INVITATION_COLUMNS).where(
        Invitation.accepted_at.is_null() & Invitation.revoked_at.is_null() & (Invitation.expires_at > now())
    ).order_by(Invitation.id, ascending=False)


async def revoke_invitation(actor: Principal, invitation_id: int) -> None:
    _require(actor, "admin")
    updated = await Invitation.update({Invitation.revoked_at: now()}).where(
        (Invitation.id == invitation_id) & Invitation.accepted_at.is_null()).returning(Invitation.id)
    if not updated:
        raise NotFound("No open invitation %(invitation_id)s.", invitation_id=invitation_id)
    await audit.record("invitation.revoked", actor_id=actor.user_id, actor=actor.label, target_type="invitation",
                       target_id=invitation_id)


async def open_invitation(token: str) -> dict[str, Any]:
    row = await Invitation.select(*INVITATION_COLUMNS).where(Invitation.token_hash == token_hash(token or "")).first()
    if row is None or row["revoked_at"] is not None or row["accepted_at"] is not None or row["expires_at"] <= now():
        raise NotFound("This invitation link is not valid any more. Ask your admin for a new one.")
    return row


async def accept_invitation(token: str, name: str, password: str) -> SignIn:
    inv = await open_invitation(token)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise Invalid("Enter your name (1 to 200 characters).", field="name")
    check_password_policy(password, email=inv["email"])
    if await User.exists().where(User.email == inv["email"]):
        raise Conflict("%(email)s already has an account here; sign in instead.", email=inv['email'])
    rows = await User.insert(User(email=inv["email"], name=name, role=inv["role"],
                                  password_hash=await hash_password(password))).returning(User.id)
    user_id = rows[0]["id"]
    await Invitation.update({Invitation.accepted_at: now()}).where(Invitation.id == inv["id"])
    await audit.record("invitation.accepted", actor_id=user_id, actor=inv["email"], target_type="user",
                       target_id=user_id, detail={"role": inv["role"], "invitation_id": inv["id"]})
    if twofa.required_for(await twofa.policy(), inv["role"]):
        # The shop requires 2FA of this role: no session before the new member has set it up.
        return SignIn(None, challenge_token=await twofa.start_challenge(user_id), step="enrol")
    session_token, session_id = await create_session(user_id)
    return SignIn(Principal(user_id, inv["email"], name, inv["role"], "session", session_id), session_token)


async def profile(actor: Principal) -> dict[str, Any]:
    row = await User.select(User.id, User.email, User.name, User.role, User.language, User.timezone).where(
        User.id == actor.user_id).first()
    if row is None:
        raise NotFound("Your account is gone.")
    return row


async def update_profile(actor: Principal, *, language: str | None = None,
                         timezone: str | None = None) -> dict[str, Any]:
    """The user's own language and time zone ("" follows the workspace)."""
    changes: dict[Any, Any] = {}
    if language is not None:
        changes[User.language] = check_language(language, allow_unset=True)
    if timezone is not None:
        changes[User.timezone] = check_timezone(timezone, allow_unset=True)
    if changes:
        await User.update(changes).where(User.id == actor.user_id)
        await audit.record("user.preferences_changed", actor_id=actor.user_id, actor=actor.label, target_type="user",
                           target_id=actor.user_id, detail={c._meta.name: v for c, v in changes.items()})
    return await profile(actor)


# -- two-factor sign-in: one's own, an admin's reset, the shop's policy ----------------------------------------------

async def my_twofa(actor: Principal) -> dict[str, Any]:
    return {**await twofa.state(actor.user_id), "required": twofa.required_for(await twofa.policy(), actor.role)}


async def start_twofa_setup(actor: Principal) -> twofa.Setup:
    return await twofa.begin_setup(actor.user_id, actor.email)


async def confirm_twofa(actor: Principal, code: str) -> list[str]:
    """The first code from the app turns 2FA on; the ten recovery codes are returned (shown once)."""
    codes = await twofa.confirm_setup(actor.user_id, code)
    await audit.record("twofa.enabled", actor_id=actor.user_id, actor=actor.label, target_type="user",
                       target_id=actor.user_id)
    return codes


async def regenerate_recovery_codes(actor: Principal, code: str) -> list[str]:
    await twofa.check_code(actor.user_id, code)
    codes = await twofa.new_recovery_codes(actor.user_id)
    await audit.record("twofa.recovery_codes_renewed", actor_id=actor.user_id, actor=actor.label,
                       target_type="user", target_id=actor.user_id)
    return codes


async def disable_twofa(actor: Principal, code: str) -> None:
    """Turn one's own 2FA off with a current code (or a recovery code), unless the shop requires it."""
    if twofa.required_for(await twofa.policy(), actor.role):
        raise Forbidden("Your shop requires two-factor sign-in for your role; to move to another phone, ask an "
                        "admin to reset it and set it up again at your next sign-in.")
    await twofa.check_code(actor.user_id, code)
    await twofa.remove(actor.user_id)
    await audit.record("twofa.disabled", actor_id=actor.user_id, actor=actor.label, target_type="user",
                       target_id=actor.user_id)


async def reset_twofa(actor: Principal, user_id: int) -> dict[str, Any]:
    """An admin turns another user's 2FA off (a lost phone): their sessions end; they sign in with the password and
    set it up again if the shop requires it. Audited."""
    _require(actor, "admin")
    target = await get_user(user_id)
    if user_id == actor.user_id:
        raise Forbidden("Turn your own two-factor sign-in off from your profile, with a code.")
    if target["role"] == "owner" and actor.role != "owner":
        raise Forbidden("Only an owner can reset an owner's two-factor sign-in.")
    if not await twofa.remove(user_id):
        raise Conflict("%(email)s has no two-factor sign-in to reset.", email=target["email"])
    await end_sessions(user_id)  # their open consoles close too (session.revoked)
    await audit.record("twofa.reset", actor_id=actor.user_id, actor=actor.label, target_type="user",
                       target_id=user_id, detail={"email": target["email"]})
    return {**await twofa.state(user_id), "required": twofa.required_for(await twofa.policy(), target["role"])}


async def set_twofa_policy(actor: Principal, policy: str) -> str:
    """off | admins | everyone. Tightening it ends the sessions of the users it now covers who have no 2FA: at
    their next sign-in they set it up before anything else. The admin must have it on first if it covers them."""
    _require(actor, "admin")
    policy = twofa.check_policy(policy)
    before = await twofa.policy()
    if policy == before:
        return policy
    enabled = await twofa.enabled_users()
    if twofa.required_for(policy, actor.role) and actor.user_id not in enabled:
        raise Conflict("Turn on two-factor sign-in for yourself first (on your profile), then require it.")
    await Workspace.update({Workspace.twofa_policy: policy}, force=True)
    covered = [u["id"] for u in await User.select(User.id, User.role)
               if twofa.required_for(policy, u["role"]) and u["id"] not in enabled]
    ended = 0
    for user_id in covered:  # their open consoles close too (session.revoked)
        ended += len(await end_sessions(user_id))
    await audit.record("twofa.policy_changed", actor_id=actor.user_id, actor=actor.label, target_type="workspace",
                       detail={"before": before, "after": policy, "sessions_ended": ended})
    return policy


def _require(actor: Principal, role: str) -> None:
    if not actor.has_role(role):
        raise Forbidden("This needs the %(role)s role or higher; you are %(yours)s.", role=role, yours=actor.role)
