"""Role sweep on writes: every POST/PUT/PATCH/DELETE that a guard reserves for supervisors or admins (read from the
route table's guards, so a new route is covered the day it is added) refuses an operator's session, with a valid
CSRF token, with 403 from the guard, and writes nothing."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.services import RANK
from tests.conftest import CSRF_RE, ShopFixture
from tests.integration.sweep_kit import (
    browser_cookies,
    changed,
    csrf_token,
    fill,
    needed_rank,
    session_of,
    snapshot,
    unsafe_handlers,
)

GUARD_REFUSAL = re.compile(r"This needs the (supervisor|admin|owner) role or higher; you are operator\.")


async def test_every_write_reserved_for_higher_roles_refuses_an_operator_and_writes_nothing(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    app = fx_client._transport.app
    session = await session_of(fx_shop, "operator")
    cookies = browser_cookies(session)
    token = csrf_token(session)
    # The token is the one the operator's pages embed: the CSRF check would let these requests through.
    page = await fx_client.get(f"/t/{fx_shop.slug}/profile", headers={"cookie": cookies, "accept": "text/html"})
    assert page.status_code == 200 and CSRF_RE.search(page.text).group(1) == token  # type: ignore[union-attr]
    before = await snapshot(fx_shop)
    refused = []
    for method, path, handler in unsafe_handlers(app):
        if not path.startswith("/t/{slug") or needed_rank(handler) <= RANK["operator"]:
            continue
        url = fill(path, fx_shop.slug)
        as_json = await fx_client.request(method, url, json={"name": "x"}, headers={
            "cookie": cookies, "x-csrf-token": token, "accept": "application/json"})
        as_form = await fx_client.request(method, url, data={"name": "x", "_csrf": token}, headers={
            "cookie": cookies, "accept": "text/html"})
        assert as_json.status_code == as_form.status_code == 403, (method, path, as_json.status_code,
                                                                   as_form.status_code, as_json.text[:200])
        # The guard refused (not a handler's own 403 or 404 after looking the id up).
        assert GUARD_REFUSAL.fullmatch(as_json.json()["detail"]), (method, path, as_json.text[:200])
        refused.append((method, path))
    assert len(refused) > 60, refused
    assert changed(before, await snapshot(fx_shop)) == {}
