"""Accounts JSON API under /t/{slug}/api/v1: me, users, invitations, API keys, workspace, audit log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from app.accounts import services, twofa
from app.accounts.guards import requires, signed_in
from app.accounts.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    AuditOut,
    InvitationIn,
    InvitationOut,
    MeOut,
    Page,
    QuotaOut,
    QuotasOut,
    RecoveryCodesOut,
    TwoFactorCodeIn,
    TwoFactorOut,
    TwoFactorPolicy,
    TwoFactorSetupOut,
    UserOut,
    UserPatch,
    WorkspaceOut,
    WorkspacePatch,
    to,
)
from app.audit import services as audit
from app.lib import i18n, quotas
from app.lib.openapi import ErrorOut
from app.lib.wire import PathId, QueryId, QueryInt

Req = Request[services.Principal, Any, Any]

CODE_LIMIT = {429: ResponseSpec(data_container=ErrorOut, generate_examples=False,
                                description="Too many codes tried for this user or from this address: wait five "
                                            "minutes and try again.")}
"""Routes that check a two-factor code answer 429 past its attempt limit (app.accounts.twofa)."""


class AccountsApi(Controller):
    path = "/api/v1"
    tags = ["accounts"]
    guards = [signed_in]

    @get("/me", summary="The user behind this key or session, and their role")
    async def me(self, request: Req, slug: FromPath[str]) -> MeOut:
        p = request.user
        return MeOut(id=p.user_id, email=p.email, name=p.name, role=p.role, auth=p.via, tenant=slug,
                     language=i18n.current().language, timezone=i18n.current().zone.key)

    @get("/me/2fa", summary="Is two-factor sign-in on for me, is it required, how many recovery codes are left")
    async def my_twofa(self, request: Req) -> TwoFactorOut:
        return to(TwoFactorOut, await services.my_twofa(request.user))

    @post("/me/2fa/setup", summary="Start setting up two-factor sign-in: a new key and its otpauth URI")
    async def setup_twofa(self, request: Req) -> TwoFactorSetupOut:
        setup = await services.start_twofa_setup(request.user)
        return TwoFactorSetupOut(secret=setup.secret, otpauth_uri=setup.otpauth_uri)

    @post("/me/2fa/confirm", responses=CODE_LIMIT,
          summary="Turn two-factor sign-in on with a first code; returns ten recovery codes")
    async def confirm_twofa(self, request: Req, data: JSONBody[TwoFactorCodeIn]) -> RecoveryCodesOut:
        return RecoveryCodesOut(recovery_codes=await services.confirm_twofa(request.user, data.code))

    @post("/me/2fa/recovery-codes", responses=CODE_LIMIT,
          summary="New recovery codes (the old ones stop working); needs a current code")
    async def renew_recovery_codes(self, request: Req, data: JSONBody[TwoFactorCodeIn]) -> RecoveryCodesOut:
        return RecoveryCodesOut(recovery_codes=await services.regenerate_recovery_codes(request.user, data.code))

    @delete("/me/2fa", status_code=200, responses=CODE_LIMIT,
            summary="Turn my two-factor sign-in off with a current or recovery code")
    async def disable_twofa(self, request: Req, data: JSONBody[TwoFactorCodeIn]) -> TwoFactorOut:
        await services.disable_twofa(request.user, data.code)
        return to(TwoFactorOut, await services.my_twofa(request.user))

    @get("/security/2fa-policy", summary="The shop's two-factor sign-in policy")
    async def twofa_policy(self) -> TwoFactorPolicy:
        return TwoFactorPolicy(policy=await twofa.policy())

    @put("/security/2fa-policy", guards=[requires("admin")],
         summary="Require two-factor sign-in: off, admins or everyone")
    async def set_twofa_policy(self, request: Req, data: JSONBody[TwoFactorPolicy]) -> TwoFactorPolicy:
        return TwoFactorPolicy(policy=await services.set_twofa_policy(request.user, data.policy))

    @delete("/users/{user_id:int}/2fa", guards=[requires("admin")], status_code=200,
            summary="Reset a user's two-factor sign-in (a lost phone); their sessions end")
    async def reset_twofa(self, request: Req, user_id: PathId) -> TwoFactorOut:
        return to(TwoFactorOut, await services.reset_twofa(request.user, user_id))
    @get("/quotas", guards=[requires("admin")],
         summary="The plan's quotas: contacts, users, storage bytes, messages per day; used and limit (null: none)")
    async def quotas(self) -> QuotasOut:
        return QuotasOut(items=[QuotaOut(kind=q.kind, label=i18n.gettext(q.label), used=q.used, limit=q.limit,
                                         full=q.full) for q in await quotas.usage()])

    @get("/users", summary="Everyone in the workspace")
    async def users(self) -> list[UserOut]:
        return [to(UserOut, r) for r in await services.list_users()]

    @get("/users/{user_id:int}")
    async def user(self, user_id: PathId) -> UserOut:
        return to(UserOut, await services.get_user(user_id))

    @patch("/users/{user_id:int}", guards=[requires("admin")], summary="Change a user's role or disable them")
    async def update_user(self, request: Req, user_id: PathId, data: JSONBody[UserPatch]) -> UserOut:
        return to(UserOut, await services.update_user(request.user, user_id, role=data.role, status=data.status))

    @delete("/users/{user_id:int}/sessions", guards=[requires("admin")], status_code=200,
            summary="Sign a user out everywhere: their sessions end and their open consoles close")
    async def revoke_sessions(self, request: Req, user_id: PathId) -> dict[str, int]:
        return {"revoked": await services.revoke_sessions(request.user, user_id)}

    @get("/invitations", guards=[requires("admin")])
    async def invitations(self, request: Req) -> list[InvitationOut]:
        return [to(InvitationOut, r) for r in await services.list_invitations(request.user)]

    @post("/invitations", guards=[requires("admin")], summary="Invite someone by email")
    async def invite(self, request: Req, data: JSONBody[InvitationIn]) -> InvitationOut:
        return to(InvitationOut, await services.invite(request.user, data.email, data.role))

    @delete("/invitations/{invitation_id:int}", guards=[requires("admin")])
    async def revoke_invitation(self, request: Req, invitation_id: PathId) -> None:
        await services.revoke_invitation(request.user, invitation_id)

    @get("/api-keys", guards=[requires("admin")])
    async def api_keys(self, request: Req) -> list[ApiKeyOut]:
        return [to(ApiKeyOut, r) for r in await services.list_api_keys(request.user)]

    @post("/api-keys", guards=[requires("admin")], summary="Create a key; its secret is shown only in this answer")
    async def create_api_key(self, request: Req, data: JSONBody[ApiKeyIn]) -> ApiKeyCreated:
        row, secret = await services.create_api_key(request.user, data.name)
        return ApiKeyCreated(key=to(ApiKeyOut, row), secret=secret)

    @delete("/api-keys/{key_id:int}", guards=[requires("admin")], status_code=200)
    async def revoke_api_key(self, request: Req, key_id: PathId) -> ApiKeyOut:
        return to(ApiKeyOut, await services.revoke_api_key(request.user, key_id))

    @get("/workspace")
    async def workspace(self) -> WorkspaceOut:
        return to(WorkspaceOut, await services.workspace())

    @put("/workspace", guards=[requires("admin")])
    async def update_workspace(self, request: Req, data: JSONBody[WorkspacePatch]) -> WorkspaceOut:
        row = await services.update_workspace(request.user, display_name=data.display_name, timezone=data.timezone,
                                              default_region=data.default_region,
                                              onboarding_done=data.onboarding_done, language=data.language,
                                              currency=data.currency)
        return to(WorkspaceOut, row)

    @get("/audit", guards=[requires("admin")], summary="The audit log, newest first")
    async def audit_log(self, before: QueryId = None, action: FromQuery[str | None] = None,
                        limit: QueryInt = 50) -> Page:
        rows = await audit.page(limit=limit, before_id=before, action=action)
        return Page(items=[to(AuditOut, r) for r in rows], next=rows[-1]["id"] if rows and len(rows) == limit else None)
