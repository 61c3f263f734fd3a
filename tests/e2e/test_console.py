"""The live console in two browsers: an item created through the API appears in both, one operator takes it and
it vanishes from the other; the server is killed and restarted and the console recovers what it missed."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.conftest import (
    REPO_ROOT,
    LiveServer,
    LiveShop,
    Mailbox,
    NewContext,
    _server_env,
    free_port,
    live_signup,
    sign_in,
)


async def _api(base: str, shop: LiveShop, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as client:
        resp = await client.request(method, f"/t/{shop.slug}/api/v1{path}", json=body, headers=shop.auth)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else None


async def _operator(server: LiveServer, shop: LiveShop, smtp: Mailbox, new_context: NewContext) -> Any:
    """A second user, invited by mail and joined through the invitation page, signed in in their own browser."""
    email = f"op-{shop.slug.replace('_', '-')}@example.com"
    await _api(server.url, shop, "POST", "/invitations", {"email": email, "role": "operator"})
    link = (await smtp.wait_for(to=email)).link("/invite/")
    context = await new_context()
    page = await context.new_page()
    await page.goto(link.replace(server.url, ""))
    await page.get_by_label("Your name").fill("Otto Operator")
    await page.get_by_label("Choose a password").fill("operator passphrase 1")
    await page.get_by_role("button", name="Join the team").click()
    await page.wait_for_url(lambda url: "/invite/" not in url)
    return page


async def test_queue_item_appears_in_both_consoles_and_vanishes_when_taken(
    fx_new_context: NewContext, fx_live_server: LiveServer, fx_smtp: Mailbox
) -> None:
    shop = await live_signup(fx_live_server, "console")
    owner = await (await fx_new_context()).new_page()
    await sign_in(owner, shop.slug, shop.email, shop.password)
    operator = await _operator(fx_live_server, shop, fx_smtp, fx_new_context)
    for page in (owner, operator):
        await page.goto(f"/t/{shop.slug}/console/")
        await expect(page.get_by_test_id("queue-empty")).to_be_visible()
    # Both consoles are connected before the item is created (the marker says the hub is ready).
    await asyncio.sleep(0.5)

    contact = await _api(fx_live_server.url, shop, "POST", "/contacts", {"name": "Wanda Waiting"})
    await _api(fx_live_server.url, shop, "POST", "/conversations",
               {"channel": "chat", "contact_id": contact["id"], "subject": "Where is my parcel?"})
    for page in (owner, operator):
        item = page.get_by_test_id("queue-item")
        await expect(item).to_have_count(1)
        await expect(item).to_contain_text("Wanda Waiting")
        await expect(item).to_contain_text("Where is my parcel?")
        await expect(page.get_by_test_id("total-waiting")).to_have_text("1")

    await operator.get_by_test_id("take").click()
    await expect(operator.get_by_test_id("console-flash")).to_contain_text("You took the chat")
    await expect(operator.get_by_test_id("mine-item")).to_contain_text("Wanda Waiting")
    # Gone from the owner's console at the same moment, without a reload.
    await expect(owner.get_by_test_id("queue-item")).to_have_count(0)
    await expect(owner.get_by_test_id("total-waiting")).to_have_text("0")
    # The operator's state is on the owner's team panel, live: away for lunch (the owner is a supervisor).
    await operator.get_by_test_id("my-status").select_option("away:lunch")
    await expect(operator.get_by_test_id("my-state")).to_have_text("away (lunch)")
    row = owner.get_by_test_id("team-presence").locator("li", has_text="Otto Operator")
    await expect(row).to_contain_text("away (lunch)")
    await expect(row).to_have_attribute("data-state", "away")
    await operator.get_by_test_id("my-status").select_option("available")
    await expect(row).to_have_attribute("data-state", "available")


async def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--host", "127.0.0.1", "--port",
         str(port)], cwd=REPO_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return proc
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError(log.read_text()[-5000:])


async def test_console_recovers_after_the_server_restarts(
    fx_new_context: NewContext, fx_live_server: LiveServer, tmp_path: Path
) -> None:
    """Kill the console's server; meanwhile an item is created through another server process (same database);
    restart: the console shows "reconnecting", reconnects with its last event id and catches up."""
    port, other_port = free_port(), free_port()
    env = _server_env(fx_live_server.dsn, tmp_path, port=port)
    env["EMBEDDED_WORKER"] = "false"
    other_env = {**_server_env(fx_live_server.dsn, tmp_path, port=other_port), "EMBEDDED_WORKER": "false"}
    log = tmp_path / "restart.log"
    proc = await _start(env, port, log)
    other = await _start(other_env, other_port, log)
    try:
        shop = await live_signup(LiveServer(f"http://127.0.0.1:{port}", fx_live_server.dsn, None, log), "restart")  # type: ignore[arg-type]
        page = await (await fx_new_context(base_url=f"http://127.0.0.1:{port}")).new_page()
        await sign_in(page, shop.slug, shop.email, shop.password)
        await page.goto(f"/t/{shop.slug}/console/")
        await expect(page.get_by_test_id("queue-empty")).to_be_visible()
        await asyncio.sleep(0.5)
        await _api(f"http://127.0.0.1:{port}", shop, "POST", "/conversations", {"channel": "sms", "subject": "First"})
        await expect(page.get_by_test_id("queue-item")).to_have_count(1)

        proc.kill()
        proc.wait()
        await expect(page.get_by_test_id("reconnecting")).to_be_visible()
        # Created while the console's server is down: only the event log can bring it back.
        await _api(f"http://127.0.0.1:{other_port}", shop, "POST", "/conversations",
                   {"channel": "call", "subject": "Missed while down"})

        proc = await _start(env, port, log)
        await expect(page.get_by_test_id("reconnecting")).to_be_hidden(timeout=20_000)
        await expect(page.get_by_test_id("queue-item")).to_have_count(2, timeout=20_000)
        await expect(page.get_by_test_id("queue")).to_contain_text("Missed while down")
    finally:
        for p in (proc, other):
            p.kill()
            p.wait()
