"""Automation JSON API under /t/{slug}/api/v1: rules (CRUD, enable, order, versions), test, preview, runs, starters."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from app.accounts.guards import requires
from app.accounts.services import Principal
from app.automation import services
from app.automation.schemas import (
    MoveIn,
    PreviewIn,
    PreviewOut,
    RuleIn,
    RuleOut,
    RulePatch,
    RunOut,
    StarterOut,
    TestIn,
    TestOut,
    VersionOut,
)
from app.automation.starters import STARTERS
from app.contacts.services import to_struct
from app.lib.i18n import gettext
from app.lib.wire import PathId, QueryId, QueryInt

Req = Request[Principal, Any, Any]


def rule_out(row: dict[str, Any]) -> RuleOut:
    return to_struct(RuleOut, row)


def run_out(row: dict[str, Any]) -> RunOut:
    return to_struct(RunOut, row)


async def starters_out() -> list[StarterOut]:
    made = {r["starter"]: r for r in await services.list_rules() if r["starter"]}
    return [StarterOut(key=s.key, name=gettext(s.name), doc=gettext(s.doc), definition=s.definition,
                       rule_id=made[s.key]["id"] if s.key in made else None,
                       enabled=bool(made.get(s.key, {}).get("enabled"))) for s in STARTERS]


class AutomationApi(Controller):
    path = "/api/v1/automation"
    tags = ["automation"]
    guards = [requires("admin")]

    @get("/rules", summary="Rules in the order they run")
    async def list_rules(self) -> list[RuleOut]:
        return [rule_out(r) for r in await services.list_rules()]

    @post("/rules", summary="Create a rule (disabled unless `enabled`)")
    async def create(self, request: Req, data: JSONBody[RuleIn]) -> RuleOut:
        values = {f: getattr(data, f) for f in data.__struct_fields__ if f != "enabled"}
        return rule_out(await services.create(request.user, values, enabled=data.enabled))

    @get("/rules/{rule_id:int}")
    async def read(self, rule_id: PathId) -> RuleOut:
        return rule_out(await services.get(rule_id))

    @patch("/rules/{rule_id:int}", summary="Change a rule: a new version when the definition changed")
    async def update(self, request: Req, rule_id: PathId, data: JSONBody[RulePatch]) -> RuleOut:
        changes = data.changes()
        enabled = changes.pop("enabled", None)
        rule = await services.update(request.user, rule_id, changes) if changes else await services.get(rule_id)
        if enabled is not None:
            rule = await services.set_enabled(request.user, rule_id, enabled)
        return rule_out(rule)

    @delete("/rules/{rule_id:int}", status_code=204)
    async def remove(self, request: Req, rule_id: PathId) -> None:
        await services.delete(request.user, rule_id)

    @post("/rules/{rule_id:int}/enable", status_code=200)
    async def enable(self, request: Req, rule_id: PathId) -> RuleOut:
        return rule_out(await services.set_enabled(request.user, rule_id, True))

    @post("/rules/{rule_id:int}/disable", status_code=200)
    async def disable(self, request: Req, rule_id: PathId) -> RuleOut:
        return rule_out(await services.set_enabled(request.user, rule_id, False))

    @post("/rules/{rule_id:int}/move", status_code=200, summary="Put the rule at a position (1 = runs first)")
    async def move(self, request: Req, rule_id: PathId, data: JSONBody[MoveIn]) -> RuleOut:
        return rule_out(await services.move(request.user, rule_id, data.position))

    @get("/rules/{rule_id:int}/versions")
    async def versions(self, rule_id: PathId) -> list[VersionOut]:
        return [to_struct(VersionOut, v) for v in await services.versions(rule_id)]

    @post("/rules/{rule_id:int}/test", status_code=200,
          summary="Would the rule fire for this record, and why (each condition's value and result)")
    async def test(self, rule_id: PathId, data: JSONBody[TestIn]) -> TestOut:
        rule = await services.get(rule_id)
        definition = {"conditions": rule["conditions"] if data.conditions is None else data.conditions,
                      "actions": rule["actions"] if data.actions is None else data.actions}
        return msgspec.convert(await services.test(definition, data.record, data.record_id), TestOut)

    @post("/test", status_code=200, summary="Test an unsaved definition against a record")
    async def test_draft(self, data: JSONBody[TestIn]) -> TestOut:
        return msgspec.convert(await services.test({"conditions": data.conditions, "actions": data.actions},
                                                   data.record, data.record_id), TestOut)

    @post("/preview", status_code=200, summary="How many records match the conditions now")
    async def preview(self, data: JSONBody[PreviewIn]) -> PreviewOut:
        return to_struct(PreviewOut, await services.preview({"conditions": data.conditions, "event": data.event}))

    @get("/runs", summary="The run log, newest first (by rule, contact, status; q searches)")
    async def runs(self, rule_id: QueryId = None, contact_id: QueryId = None, status: FromQuery[str | None] = None,
                   q: FromQuery[str] = "", before: QueryId = None, limit: QueryInt = 50) -> list[RunOut]:
        return [run_out(r) for r in await services.runs(rule_id=rule_id, contact_id=contact_id, status=status, q=q,
                                                        before=before, limit=max(1, limit))]

    @get("/starters", summary="Starter rules, enabled in one click")
    async def starters(self) -> list[StarterOut]:
        return await starters_out()

    @post("/starters/{key:str}/enable", status_code=200)
    async def enable_starter(self, request: Req, key: FromPath[str]) -> RuleOut:
        return rule_out(await services.enable_starter(request.user, key))
