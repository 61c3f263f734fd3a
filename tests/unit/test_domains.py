"""The list of domains (app/domains.py) is the only wiring: routes, jobs, listeners, merge steps, renderers and
Piccolo apps of the process are exactly the union of the manifests, and nothing registers itself elsewhere."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from litestar import Controller
from litestar.handlers import BaseRouteHandler

from app import domains
from app.lib.domain import Domain

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = ("/schema", "/static")
"""Routes the app adds itself: the OpenAPI pages and the static files."""


def _handler_fns(route: Any) -> set[Any]:
    """The functions behind a manifest entry: a handler's own, or every handler of a controller."""
    if isinstance(route, type) and issubclass(route, Controller):
        return {value.fn for cls in route.__mro__ for value in vars(cls).values() if isinstance(value, BaseRouteHandler)}
    return {route.fn}


def test_every_manifest_in_the_tree_is_in_the_list_once() -> None:
    """A module that declares `DOMAIN = Domain(...)` but is missing from app/domains.py would be dead code."""
    found = {p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
             for top in ("app", "tenants", "realtime", "telephony") for p in (ROOT / top).rglob("*.py")
             if re.search(r"^DOMAIN = Domain\(", p.read_text(), re.MULTILINE)}
    listed = {name for name, module in list(sys.modules.items())
              if any(vars(module).get("DOMAIN") is d for d in domains.DOMAINS)}
    assert found == listed
    assert len(found) == len(domains.DOMAINS) >= 13
    names = [d.name for d in domains.DOMAINS]
    assert all(isinstance(d, Domain) for d in domains.DOMAINS)
    assert len(names) == len(set(names)), names


def test_the_apps_routes_are_exactly_the_manifests_routes() -> None:
    from app.asgi import create_app

    app = create_app()
    served: dict[Any, str] = {}
    for route in app.routes:
        if route.path.startswith(INFRASTRUCTURE):
            continue
        for handler in getattr(route, "route_handlers", None) or [route.route_handler]:
            fn = getattr(handler.fn, "__func__", handler.fn)  # a controller's handlers are bound to its instance
            if not fn.__qualname__.startswith("HTTPRoute.create_options_handler"):  # Litestar's own OPTIONS
                served[fn] = route.path
    declared = {fn for d in domains.DOMAINS for r in (*d.routes, *d.public_routes) for fn in _handler_fns(r)}
    assert set(served) == declared
    workspace = {fn for d in domains.DOMAINS for r in d.routes for fn in _handler_fns(r)}
    assert {fn for fn, path in served.items() if path.startswith("/t/{slug:str}")} == workspace
    assert len(workspace) > 150


def test_only_the_router_carries_the_workspace_prefix() -> None:
    """Controllers and handlers declare paths relative to the workspace; the one router in app.asgi adds /t/{slug}."""
    for d in domains.DOMAINS:
        for route in (*d.routes, *d.public_routes):
            paths = [route.path] if isinstance(route, type) else list(route.paths)
            assert not any(p.startswith("/t/") for p in paths), (d.name, route, paths)


def test_jobs_listeners_and_piccolo_apps_come_from_the_manifests() -> None:
    from app.jobs import REGISTRY
    from app.listeners import DURABLE
    from app.piccolo_conf import APP_REGISTRY
    from tenants import migrations

    assert REGISTRY == {name: spec for d in domains.DOMAINS for name, spec in d.jobs.items()}
    # Job names start with their domain's name; the email domain's jobs keep the package's old name, "messaging",
    # because queued job rows store it.
    assert all(name.split(".")[0] in {d.name for d in domains.DOMAINS} | {"messaging"} for name in REGISTRY)
    assert DURABLE == [li for d in domains.DOMAINS for li in d.listeners]
    apps = [d.piccolo_app for d in domains.DOMAINS if d.piccolo_app]
    assert APP_REGISTRY.apps == apps
    in_tree = {p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".") for p in ROOT.glob("**/piccolo_app.py")
               if ".venv" not in p.parts}
    assert in_tree == set(apps)
    assert migrations.TENANT_APPS == tuple(name for name in APP_REGISTRY.app_configs
                                           if name not in migrations.PLATFORM_APPS)
    assert migrations.TENANT_APPS[0] == "accounts" and "platform" not in migrations.TENANT_APPS


def test_merge_steps_and_renderers_are_registered_from_the_manifests() -> None:
    from app.contacts import merge
    from realtime.render import _RENDERERS

    declared = {step.name: step.tables for d in domains.DOMAINS for step in d.merge_steps}
    assert {k: v for k, v in merge.registered().items() if not k.startswith("test_")} == declared
    registered = {fn for fns in _RENDERERS.values() for fn in fns}
    assert registered == {fn for d in domains.DOMAINS for fn in d.renderers}
    from app.conversations import console

    assert console.registered_extras() == tuple(fn for d in domains.DOMAINS for fn in d.console_extras)
    assert [d.name for d in domains.DOMAINS if d.console_extras] == ["hours", "agents", "sla", "orders", "upsell", "campaign_tracking"]


def test_socket_messages_are_exactly_the_manifests() -> None:
    """Client frames the console socket answers beyond its own (last_id, watch) come from the manifests."""
    from realtime import views

    declared = {key: fn for d in domains.DOMAINS for key, fn in d.socket_messages.items()}
    assert views._MESSAGES == declared and "typing" in declared and "presence" in declared
