"""Bad input never gets a 500: every route under /t/{slug}/, with real records behind its ids, is sent broken JSON,
JSON of the wrong shape, nonsense form fields and empty forms. Each answer is below 500, and every JSON API
refusal carries a `detail` a person can act on. The routes come from the app's route table, so a new one is
covered the day it is added."""

from __future__ import annotations

import re
from typing import Any

import pytest
import structlog
import structlog.testing
from litestar.params import FromPath, ParameterKwarg
from litestar.routes import HTTPRoute

from tests.conftest import ShopFixture
from tests.integration.test_orders import order_body

JSON_BODIES = ("{", "[]", '{"unexpected": [1, {"a": null}]}', '"text"', "null", '{"name": 12, "body": [], "id": -1}')
NONSENSE_FORM = {"name": "x" * 5000, "body": "", "code": "", "queue": "nope", "user_id": "abc", "status": "??",
                 "on": "maybe", "target": "user:abc", "number": "not a phone", "to": "bad", "subject": "",
                 "amount": "-1e99", "currency": "XXX", "col_0": "zzz", "version": "x", "items": "[",
                 "email": "not-an-email", "role": "god", "upto": "-5", "file": "nofile", "stage": "moon"}


async def _records(client: Any, shop: ShopFixture) -> dict[str, str]:
    """Id 1 of the main records exists, so requests get past "not found" into validation. Returns the headers of a
    second API key: the sweep revokes key 1 on the way (DELETE /api-keys/1) and must go on."""
    base = f"/t/{shop.slug}/api/v1"
    for kind, options in (("multiselect", ["a", "b"]), ("select", ["a", "b"]), ("boolean", []), ("date", [])):
        made = await client.post(base + "/custom-fields", json={"key": f"f_{kind}", "label": kind, "kind": kind,
                                                                "options": options}, headers=shop.auth)
        assert made.status_code == 201, made.text
    contact = (await client.post(base + "/contacts", json={"name": "Probe", "phones": ["+14155550100"],
                                                           "emails": ["p@x.example"]}, headers=shop.auth)).json()
    created = [
        await client.post(base + "/orders", json=order_body(contact["id"]), headers=shop.auth),
        await client.post(base + "/deals", json={"title": "T", "contact_id": contact["id"], "currency": "EUR",
                                                 "value": 100}, headers=shop.auth),
        await client.post(base + "/conversations", json={"channel": "chat", "subject": "Hi",
                                                         "contact_id": contact["id"]}, headers=shop.auth),
        await client.post(base + "/email-templates", json={"kind": "canned", "name": "n", "shortcut": "hi",
                                                           "body": "Hi {{ contact.name }}"}, headers=shop.auth),
        await client.post(base + f"/contacts/{contact['id']}/notes", json={"body": "note"}, headers=shop.auth),
    ]
    assert [r.status_code for r in created] == [201] * len(created), [r.text for r in created]
    await client.post(base + "/conversations/1/take", headers=shop.auth)
    key = await client.post(base + "/api-keys", json={"name": "sweep"}, headers=shop.auth)
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['secret']}"}


async def test_no_route_answers_500_to_bad_input(fx_client: Any, fx_shop: ShopFixture) -> None:
    auth = await _records(fx_client, fx_shop)
    failures, sent = [], 0
    statuses: list[int] = []
    for route in fx_client._transport.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/t/{slug"):
            continue
        path = re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:(str|path)\}", "x", route.path.replace(
            "{slug:str}", fx_shop.slug)))
        for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE", "GET"}):
            attempts: list[dict[str, Any]] = []
            if method in ("GET", "DELETE"):
                attempts.append({})
            else:
                attempts += [{"content": body, "headers": {"content-type": "application/json"}} for body in JSON_BODIES]
                attempts += [{"data": NONSENSE_FORM}, {"data": {}}]
            for kwargs in attempts:
                headers = {**auth, **kwargs.pop("headers", {})}
                resp = await fx_client.request(method, path, headers=headers, **kwargs)
                sent += 1
                statuses.append(resp.status_code)
                if resp.status_code >= 500:
                    failures.append((method, route.path, kwargs, resp.status_code, resp.text[:200]))
                elif (400 <= resp.status_code < 500 and "/api/v1/" in route.path
                      and not (resp.headers.get("content-type", "").startswith("application/json")
                               and resp.json().get("detail"))):
                    failures.append((method, route.path, kwargs, resp.status_code, "no JSON detail"))
    assert failures == []
    assert sent > 900 and statuses.count(400) > 300  # most attempts reached validation, not "not found"


# -- impossible values: ids past PostgreSQL's integer, NUL characters, numbers for dates, loose JSON types ----------

TOO_BIG = 2**31
NUL = "a\x00b"


def _bad_value_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refusals that only the database noticed (errors.database_value_error_handler): the edge should have."""
    return [entry for entry in logs if entry.get("event") == "bad_value_reached_database"]


@pytest.mark.parametrize(("method", "path", "kwargs", "field"), [
    ("GET", "/contacts/2147483648", {}, "contact_id"),
    ("GET", "/orders/6167466008", {}, "order_id"),
    ("GET", "/deals?contact_id=2147483648", {}, "contact_id"),
    ("GET", "/contacts/2147483648/duplicates", {}, "contact_id"),
    ("GET", "/imports/2147483648/preview", {}, "import_id"),
    ("GET", "/calls/99999999999", {}, "call_id"),
    ("POST", "/contacts/{contact}/merge", {"json": {"other_id": 99999999999}}, "other_id"),
    ("POST", "/orders", {"json": {"contact_id": TOO_BIG, "currency": "USD", "items": []}}, "contact_id"),
    ("GET", "/contacts?q=%00", {}, "q"),
    ("GET", "/orders?q=%00", {}, "q"),
    ("POST", "/contacts/{contact}/notes", {"json": {"body": NUL}}, "body"),
    ("POST", "/contacts", {"json": {"name": NUL}}, "name"),
    ("PATCH", "/contacts/{contact}", {"json": {"tags": ["ok", NUL]}}, "tags[1]"),
    ("GET", "/audit?before=0&limit=0", {}, "before"),
    ("GET", "/contacts?owner_id=" + "9" * 5000, {}, "owner_id"),
    ("GET", "/audit?limit=2147483648", {}, "limit"),
    ("GET", "/orders?placed_to=0.5", {}, "placed_to"),
    ("GET", "/contacts?last_contact_from=1e10", {}, "last_contact_from"),
    ("PATCH", "/queues/general", {"json": {"archived": "yes"}}, "archived"),
    ("PATCH", "/queues/general", {"json": {"archived": 1}}, "archived"),
    ("PUT", "/workspace", {"json": {"onboarding_done": 0}}, "onboarding_done"),
])
async def test_each_reported_input_answers_400_naming_the_field(
        fx_client: Any, fx_shop: ShopFixture, method: str, path: str, kwargs: dict[str, Any], field: str) -> None:
    base = f"/t/{fx_shop.slug}/api/v1"
    assert (await fx_client.get("/schema/openapi.json")).status_code == 200  # (it used to change later answers)
    contact = await fx_client.post(base + "/contacts", json={"name": "Probe"}, headers=fx_shop.auth)
    assert contact.status_code == 201, contact.text
    with structlog.testing.capture_logs() as logs:
        resp = await fx_client.request(method, base + path.format(contact=contact.json()["id"]), headers=fx_shop.auth,
                                       **kwargs)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert [e["field"] for e in body["errors"]] == [field] and body["detail"].startswith(f"{field}: ")
    assert _bad_value_logs(logs) == []
    if method == "PATCH" and path == "/queues/general":  # the loose value was not applied either
        queues = (await fx_client.get(base + "/queues", headers=fx_shop.auth)).json()
        assert [q["archived"] for q in queues if q["key"] == "general"] == [False]


async def test_the_largest_id_postgresql_holds_is_just_not_found(fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/api/v1"
    assert (await fx_client.get("/t/a%00b/api/v1/me", headers=fx_shop.auth)).status_code == 404
    for path in ("/contacts/2147483647", "/orders/2147483647", "/calls/2147483647"):
        resp = await fx_client.get(base + path, headers=fx_shop.auth)
        assert resp.status_code == 404 and resp.json()["detail"], (path, resp.text)


def _query_params(route: HTTPRoute, method: str) -> list[str]:
    handler = route.route_handler_map[method][0]
    return [f.name for f in handler.parsed_fn_signature.parameters.values()
            if isinstance(f.kwarg_definition, ParameterKwarg) and f.name not in route.path_parameters
            and f.kwarg_definition.header is None and f.kwarg_definition.cookie is None]


def _body_fields(route: HTTPRoute, method: str) -> dict[str, Any]:
    """Every field of the route's JSON body struct, strings holding a NUL and numbers past PostgreSQL's integer."""
    data = route.route_handler_map[method][0].parsed_data_field
    annotation = getattr(data, "annotation", None)
    fields: dict[str, Any] = {}
    for name in getattr(annotation, "__struct_fields__", ()):
        hint = str(annotation.__annotations__.get(name, ""))
        fields[name] = 99999999999 if any(t in hint for t in ("int", "Id", "DbInt")) else NUL
    return fields


def _paths(route: HTTPRoute, slug: str) -> list[str]:
    """The route's path with each id in turn past PostgreSQL's integer, and each other text segment holding a NUL."""
    template = route.path.replace("{slug:str}", slug)
    plain = re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:(str|path)\}", "x", template))
    out = []
    for match in re.finditer(r"\{\w+:(int|str|path)\}", template):
        value = "2147483648" if match.group(1) == "int" else "a%00b"
        out.append(re.sub(r"\{\w+:(str|path)\}", "x", re.sub(r"\{\w+:int\}", "1", template[:match.start()] + value
                                                               + template[match.end():])))
    return out or [plain]


async def test_no_route_answers_500_to_impossible_values(fx_client: Any, fx_shop: ShopFixture) -> None:
    """Every route under /t/{slug}/: each id in its path past PostgreSQL's integer, each text segment with a NUL;
    each query parameter with a NUL and with 2³¹; its JSON body with NULs and too-big numbers in every field; forms with
    NULs and too-big ids in every field. All answer 4xx with a detail; the path ids 400 exactly; and none of it
    reached the database (the edge refused it)."""
    auth = await _records(fx_client, fx_shop)
    failures: list[Any] = []
    sent = 0
    with structlog.testing.capture_logs() as logs:
        for route in fx_client._transport.app.routes:
            if not isinstance(route, HTTPRoute) or not route.path.startswith("/t/{slug"):
                continue
            plain = re.sub(r"\{\w+:int\}", "1", re.sub(r"\{\w+:(str|path)\}", "x", route.path.replace(
                "{slug:str}", fx_shop.slug)))
            for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE", "GET"}):
                attempts: list[tuple[str, dict[str, Any]]] = [(path, {}) for path in _paths(route, fx_shop.slug)
                                                              if path != plain]
                for name in _query_params(route, method):
                    attempts += [(plain, {"params": {name: "\x00"}}), (plain, {"params": {name: str(TOO_BIG)}})]
                if method not in ("GET", "DELETE"):
                    fields = _body_fields(route, method)
                    if fields:
                        attempts.append((plain, {"json": fields}))
                    attempts += [(plain, {"data": {k: NUL for k in NONSENSE_FORM}}),
                                 (plain, {"data": {k: str(TOO_BIG) for k in (*NONSENSE_FORM, "contact_id", "owner_id",
                                                                             "other_id", "template_id", "version",
                                                                             "position", "upto", "reply_to")}})]
                for path, kwargs in attempts:
                    resp = await fx_client.request(method, path, headers=auth, **kwargs)
                    sent += 1
                    is_api = "/api/v1/" in route.path
                    if resp.status_code >= 500:
                        failures.append((method, path, kwargs, resp.status_code, resp.text[:200]))
                    elif is_api and resp.status_code >= 400 and not (resp.headers.get("content-type", "").startswith("application/json")
                                         and resp.json().get("detail")):
                        failures.append((method, path, kwargs, resp.status_code, "no JSON detail"))
                    elif "2147483648" in path and resp.status_code != 400:
                        failures.append((method, path, kwargs, resp.status_code, "path id past int32 not 400"))
    assert failures == []
    assert [(e.get("method"), e.get("path")) for e in _bad_value_logs(logs)] == []
    assert sent > 500


async def test_pages_refuse_impossible_numbers_in_named_fields(fx_client: Any, fx_shop: ShopFixture) -> None:
    """Pages read their query and form fields as text; a field named `*_id` (or version, position...) holding a
    number PostgreSQL cannot take is refused at the edge, with the page's 400."""
    page = f"/t/{fx_shop.slug}/contacts/"
    with structlog.testing.capture_logs() as logs:
        answers = [await fx_client.get(page, params={"owner_id": value}, headers={**fx_shop.auth, "accept": "text/html"})
                   for value in ("2147483648", "9" * 5000, "\u00b2", "\x00")]
    assert [r.status_code for r in answers] == [400, 400, 400, 400]
    assert all("owner_id: " in r.text for r in answers)
    assert _bad_value_logs(logs) == []


# -- the request id, and the log of a 500 ------------------------------------------------------------------------

async def test_every_response_carries_a_request_id_and_a_sane_one_sent_is_kept(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    base = f"/t/{fx_shop.slug}/api/v1"
    ok = await fx_client.get(base + "/me", headers=fx_shop.auth)
    unknown = await fx_client.get("/no/such/page")
    kept = await fx_client.get(base + "/me", headers={**fx_shop.auth, "X-Request-ID": "client-chosen-id-42"})
    replaced = await fx_client.get(base + "/me", headers={**fx_shop.auth, "X-Request-ID": "spaces are not sane"})
    ids = [r.headers.get("x-request-id") for r in (ok, unknown, replaced)]
    assert [r.status_code for r in (ok, unknown, kept, replaced)] == [200, 404, 200, 200]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i or "") for i in ids) and len(set(ids)) == 3
    assert kept.headers["x-request-id"] == "client-chosen-id-42"


async def test_a_500_is_logged_with_its_traceback_and_the_request_id_the_person_sees(
        fx_db: str, fx_shop: ShopFixture, capsys: pytest.CaptureFixture[str]) -> None:
    import httpx
    from litestar import get

    from app.asgi import create_app

    @get("/t/{slug:str}/api/v1/test-only-failure", include_in_schema=False)
    async def failing(slug: FromPath[str]) -> None:
        raise RuntimeError("deliberate failure sentinel 7f3a")

    app = create_app()  # a test-only app: the real stack plus one route that fails
    app.register(failing)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        capsys.readouterr()
        resp = await client.get(f"/t/{fx_shop.slug}/api/v1/test-only-failure", headers=fx_shop.auth)
        page = await client.get(f"/t/{fx_shop.slug}/api/v1/test-only-failure",
                                headers={**fx_shop.auth, "X-Request-ID": "quoted-by-the-user-1"})
    log = capsys.readouterr().out
    rid = resp.headers["x-request-id"]
    assert resp.status_code == 500 and resp.json()["request_id"] == rid and rid in resp.json()["detail"]
    assert page.status_code == 500 and page.json()["request_id"] == "quoted-by-the-user-1"
    assert "Traceback" in log and "deliberate failure sentinel 7f3a" in log and "in failing" in log
    assert rid in log and "quoted-by-the-user-1" in log and "unhandled_error" in log


async def test_schema_documents_id_ranges_and_error_answers(fx_client: Any) -> None:
    spec = (await fx_client.get("/schema/openapi.json")).json()
    patch = spec["paths"]["/t/{slug}/api/v1/contacts/{contact_id}"]["patch"]
    ident = next(p for p in patch["parameters"] if p["name"] == "contact_id")["schema"]
    assert ident["minimum"] == 1 and ident["maximum"] == 2**31 - 1
    assert {"400", "401", "403", "404", "409"} <= set(patch["responses"])
    audit = spec["paths"]["/t/{slug}/api/v1/audit"]["get"]["responses"]
    assert {"400", "401", "403", "404"} <= set(audit) and "409" not in audit
    signup = spec["paths"]["/api/v1/signup"]["post"]["responses"]
    assert {"400", "429"} <= set(signup) and "404" not in signup
