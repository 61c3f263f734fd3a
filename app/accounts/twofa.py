"""Two-factor sign-in (TOTP, RFC 6238): authenticators, recovery codes, sign-in challenges and the shop's policy.

The seed is a tenant secret: it is stored only as `user_totp.secret_enc`, encrypted with app.lib.crypto under
TOTP_PURPOSE (secrets rotation re-encrypts that column once the accounts manifest declares it among its encrypted
columns). Recovery codes are high-entropy (60 bits) and kept as SHA-256 digests. A code is accepted once: the last
accepted time step is kept per user and only later steps pass. Who acts and with what role is checked by
app.accounts.services, which calls these.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import re
import secrets
from typing import Any

import pyotp
import segno
from markupsafe import Markup

from app.accounts.tables import LoginChallenge, RecoveryCode, User, UserTotp, Workspace
from app.lib import reqctx
from app.lib.clock import now
from app.lib.crypto import decrypt, encrypt
from app.lib.db import current_tenant, current_uow
from app.lib.errors import Conflict, Invalid, NotFound, Unauthorized
from app.lib.i18n import N_
from app.lib.ratelimit import Limiter
from app.lib.roles import RANK
from app.lib.security import new_token, token_hash

TOTP_PURPOSE = "accounts.totp_seed"
"""The app.lib.crypto purpose of `user_totp.secret_enc`."""

POLICIES = ("off", "admins", "everyone")
STEP_SECONDS = 30
VALID_WINDOW = 1
"""Codes of the step before and after the current one pass too (a phone's clock a little off)."""
RECOVERY_CODES = 10
CHALLENGE_MINUTES = 10
"""How long the half of a sign-in after the password waits for the second factor."""

_LIMIT_MESSAGE = N_("Too many codes tried; wait five minutes and try again.")
USER_ATTEMPTS = Limiter(10, 300.0, _LIMIT_MESSAGE, name="twofa-user")
IP_ATTEMPTS = Limiter(30, 300.0, _LIMIT_MESSAGE, name="twofa-ip")

WRONG_CODE = N_("That code is not right or was already used; enter the current code from your app, or one of "
                "your recovery codes.")
CHALLENGE_GONE = N_("This sign-in has expired; enter your email and password again.")


@dataclasses.dataclass(frozen=True)
class Setup:
    """An enrolment in progress: what the user copies into an authenticator app."""

    secret: str
    otpauth_uri: str

    @property
    def qr_svg(self) -> Markup:
        """The otpauth URI as a QR code, an inline SVG (made here from our own URI, so safe to embed)."""
        return Markup(segno.make(self.otpauth_uri, error="m").svg_inline(scale=5, dark="#000", light="#fff"))  # noqa: S704

    @property
    def secret_groups(self) -> str:
        """The key in groups of four, easier to type."""
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))


def required_for(policy: str, role: str) -> bool:
    return policy == "everyone" or (policy == "admins" and RANK.get(role, 0) >= RANK["admin"])


async def policy() -> str:
    row = await Workspace.select(Workspace.twofa_policy).first()
    return row["twofa_policy"] if row else "off"


def check_policy(value: str) -> str:
    if value not in POLICIES:
        raise Invalid("Unknown two-factor policy %(policy)s; choose one of: %(choices)s.", field="policy",
                      policy=repr(value), choices=", ".join(POLICIES))
    return value


async def state(user_id: int) -> dict[str, Any]:
    """Is 2FA on for the user, is an enrolment waiting for its first code, how many recovery codes are left."""
    row = await UserTotp.select(UserTotp.confirmed_at).where(UserTotp.user == user_id).first()
    left = await RecoveryCode.count().where((RecoveryCode.user == user_id) & RecoveryCode.used_at.is_null())
    enabled = bool(row and row["confirmed_at"])
    return {"enabled": enabled, "pending": bool(row and not row["confirmed_at"]),
            "enabled_at": row["confirmed_at"] if row else None, "recovery_codes_left": left if enabled else 0}


async def enabled_users() -> set[int]:
    rows = await UserTotp.select(UserTotp.user).where(UserTotp.confirmed_at.is_not_null())
    return {r["user"] for r in rows}


def _setup(seed: str, email: str) -> Setup:
    issuer = f"Switchboard ({current_tenant().name or current_tenant().slug})"
    return Setup(seed, pyotp.TOTP(seed).provisioning_uri(name=email, issuer_name=issuer))


async def begin_setup(user_id: int, email: str) -> Setup:
    """A fresh seed for the user, waiting for a first valid code (replaces an unfinished enrolment)."""
    current = await UserTotp.select(UserTotp.confirmed_at).where(UserTotp.user == user_id).first()
    if current and current["confirmed_at"]:
        raise Conflict("Two-factor sign-in is already on. Turn it off first to set up another app.")
    seed = pyotp.random_base32()
    await current_uow().connection.execute(
        'INSERT INTO user_totp ("user", secret_enc) VALUES ($1, $2) '
        'ON CONFLICT ("user") DO UPDATE SET secret_enc = EXCLUDED.secret_enc, last_step = NULL, created_at = now() '
        'WHERE user_totp.confirmed_at IS NULL', user_id, encrypt(seed, purpose=TOTP_PURPOSE))
    return _setup(seed, email)


async def pending_setup(user_id: int, email: str) -> Setup | None:
    """The enrolment in progress, to show again (a wrong first code, a reload), or None."""
    row = await UserTotp.select(UserTotp.secret_enc).where(
        (UserTotp.user == user_id) & UserTotp.confirmed_at.is_null()).first()
    return _setup(decrypt(row["secret_enc"], purpose=TOTP_PURPOSE), email) if row else None


def _normalize(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _recovery_hash(user_id: int, code: str) -> str:
    return token_hash(f"{user_id}:{_normalize(code)}")


def _current_step() -> int:
    return int(now().timestamp()) // STEP_SECONDS


async def _accept_totp(user_id: int, code: str, *, confirmed: bool) -> bool:
    """A code of the user's (confirmed or pending) authenticator within the window and later than the last one
    accepted: the row is locked, so two requests with one code cannot both pass."""
    if not re.fullmatch(r"\d{6}", code):
        return False
    conn = current_uow().connection
    row = await conn.fetchrow('SELECT id, secret_enc, last_step, confirmed_at FROM user_totp WHERE "user" = $1 '
                              "FOR UPDATE", user_id)
    if row is None or (row["confirmed_at"] is not None) != confirmed:
        return False
    totp = pyotp.TOTP(decrypt(row["secret_enc"], purpose=TOTP_PURPOSE))
    current = _current_step()
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if row["last_step"] is not None and step <= row["last_step"]:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            await conn.execute("UPDATE user_totp SET last_step = $1 WHERE id = $2", step, row["id"])
            return True
    return False


async def _accept_recovery(user_id: int, code: str) -> bool:
    used = await current_uow().connection.fetchval(
        'UPDATE user_recovery_code SET used_at = now() WHERE "user" = $1 AND code_hash = $2 AND used_at IS NULL '
        "RETURNING id", user_id, _recovery_hash(user_id, code))
    return used is not None


async def limit_attempts(user_id: int) -> None:
    """Every code tried counts, per user and per client address (429 with a message past the limit)."""
    slug = current_tenant().slug
    await USER_ATTEMPTS.check(slug, f"user:{user_id}")
    ip = reqctx.client_ip.get()
    if ip:
        await IP_ATTEMPTS.check(slug, f"ip:{ip}")


async def verify(user_id: int, code: str) -> str | None:
    """Check a code of a user with 2FA on: "totp" or "recovery_code" when it passes (and is spent), else None."""
    code = _normalize(code)
    if not code or len(code) > 64:
        return None
    if await _accept_totp(user_id, code, confirmed=True):
        return "totp"
    if len(code) != 6 and await _accept_recovery(user_id, code):
        return "recovery_code"
    return None


def _new_recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper and typed back
    raw = "".join(secrets.choice(alphabet) for _ in range(12))  # 31**12 ≈ 2**59
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def new_recovery_codes(user_id: int) -> list[str]:
    """Ten new single-use codes; the old ones stop working. The plaintext is returned once, only hashes are kept."""
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    await RecoveryCode.insert(*[RecoveryCode(user=user_id, code_hash=_recovery_hash(user_id, c)) for c in codes])
    return codes


async def confirm_setup(user_id: int, code: str) -> list[str]:
    """The first valid code turns 2FA on; returns the recovery codes."""
    if not await UserTotp.exists().where((UserTotp.user == user_id) & UserTotp.confirmed_at.is_null()):
        raise Conflict("There is no set-up waiting for a code; start the set-up again.")
    await limit_attempts(user_id)
    if not await _accept_totp(user_id, _normalize(code), confirmed=False):
        raise Invalid("That code is not right; enter the six digits your app shows now.", field="code")
    await UserTotp.update({UserTotp.confirmed_at: now()}).where(UserTotp.user == user_id)
    return await new_recovery_codes(user_id)


async def check_code(user_id: int, code: str) -> str:
    """A current code (or recovery code) of a user with 2FA on, for a change of their own 2FA; Invalid if wrong."""
    if not (await state(user_id))["enabled"]:
        raise Conflict("Two-factor sign-in is not on for this account.")
    await limit_attempts(user_id)
    method = await verify(user_id, code)
    if method is None:
        raise Invalid(WRONG_CODE, field="code")
    return method


async def remove(user_id: int) -> bool:
    """Turn 2FA off for the user (seed and recovery codes deleted); False when it was not on."""
    rows = await UserTotp.delete().where(UserTotp.user == user_id).returning(UserTotp.confirmed_at)
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
    return any(r["confirmed_at"] for r in rows)


# -- the second step of a sign-in ---------------------------------------------------------------------------------

async def start_challenge(user_id: int, next_path: str = "") -> str:
    token = new_token(32)
    await LoginChallenge.insert(LoginChallenge(token_hash=token_hash(token), user=user_id, next_path=next_path[:300],
                                               expires_at=now() + dt.timedelta(minutes=CHALLENGE_MINUTES)))
    return token


async def open_challenge(token: str) -> dict[str, Any]:
    """The waiting sign-in behind the cookie, with its user; Unauthorized when it is unknown, used or expired."""
    if not token or len(token) > 128:
        raise Unauthorized(CHALLENGE_GONE)
    row = await current_uow().connection.fetchrow(
        "SELECT c.id, c.next_path, u.id AS user_id, u.email, u.name, u.role, "
        "(t.confirmed_at IS NOT NULL) AS enabled FROM login_challenge c JOIN app_user u ON u.id = c.user "
        'LEFT JOIN user_totp t ON t."user" = u.id '
        "WHERE c.token_hash = $1 AND c.done_at IS NULL AND c.expires_at > $2 AND u.status = 'active'",
        token_hash(token), now())
    if row is None:
        raise Unauthorized(CHALLENGE_GONE)
    return dict(row)


async def close_challenge(challenge_id: int) -> None:
    """Spend the challenge (once: a second request with the same cookie finds it gone)."""
    closed = await current_uow().connection.fetchval(
        "UPDATE login_challenge SET done_at = now() WHERE id = $1 AND done_at IS NULL RETURNING id", challenge_id)
    if closed is None:
        raise Unauthorized(CHALLENGE_GONE)
    await current_uow().connection.execute("DELETE FROM login_challenge WHERE expires_at < $1",
                                           now() - dt.timedelta(days=1))


async def user_row(user_id: int) -> dict[str, Any]:
    row = await User.select(User.id, User.email, User.name, User.role).where(User.id == user_id).first()
    if row is None:
        raise NotFound("No user %(user_id)s in this workspace.", user_id=user_id)
    return row
