"""Canned responses in a browser: an admin defines one on the settings page, an operator opens the contact's card,
clicks Email, types `/thanks` + Tab in the message box, gets the snippet filled in for the contact, sends, and the
SMTP server receives the mail. And the console: an inbound email (through `switchboard mail-in`) appears live, the
operator answers it inline with a snippet, the draft survives a live update, the reply is threaded."""

from __future__ import annotations

import asyncio
import pathlib
import subprocess
import sys
from email.message import EmailMessage

import aiosmtplib
import httpx
from playwright.async_api import expect

from tests.e2e.conftest import (
    REPO_ROOT,
    LiveServer,
    Mailbox,
    NewContext,
    _server_env,
    free_port,
    live_signup,
    sign_in,
)


async def test_shortcut_in_compose_inserts_the_rendered_snippet_and_the_mail_goes_out(
        fx_new_context: NewContext, fx_live_server: LiveServer, fx_smtp: Mailbox) -> None:
    shop = await live_signup(fx_live_server, "canned")
    async with httpx.AsyncClient(base_url=fx_live_server.url, trust_env=False, timeout=30) as client:
        resp = await client.put(f"/t/{shop.slug}/api/v1/channels/email", headers=shop.auth, json={
            "smtp_host": fx_smtp.host, "smtp_port": fx_smtp.port, "smtp_tls": "none",
            "from_address": "hello@canned-shop.example", "from_name": "Canned Shop"})
        assert resp.status_code == 200, resp.text
        resp = await client.post(f"/t/{shop.slug}/api/v1/contacts", headers=shop.auth,
                                 json={"name": "Nadia Novak", "emails": ["nadia@customer.example"]})
        assert resp.status_code == 201, resp.text
        contact_id = resp.json()["id"]

    page = await (await fx_new_context()).new_page()
    await sign_in(page, shop.slug, shop.email, shop.password)

    # The admin defines the snippet on the settings page, reached from the navigation.
    await page.get_by_test_id("nav-templates").click()
    form = page.get_by_test_id("template-form")
    await form.get_by_label("Kind").select_option("canned")
    await form.get_by_label("Name").fill("Thanks")
    await form.get_by_label("Shortcut").fill("thanks")
    await form.get_by_label("Text").fill("Hi {{ contact.first_name }}, thanks for your order!")
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_test_id("template-row")).to_contain_text("/thanks")

    # The operator writes from the card.
    await page.goto(f"/t/{shop.slug}/contacts/{contact_id}")
    await page.get_by_test_id("email-contact").click()
    await expect(page.get_by_test_id("canned-picker")).to_be_visible()  # the snippets are loaded
    await page.get_by_test_id("compose-subject").fill("Your order")
    body = page.get_by_test_id("compose-body")
    await body.click()
    await body.press_sequentially("Hello!\n/thanks")
    await body.press("Tab")
    await expect(body).to_have_value("Hello!\nHi Nadia, thanks for your order!")
    await expect(body).to_be_focused()  # Tab expanded the snippet instead of leaving the box
    # Not a shortcut: Enter keeps its meaning.
    await body.press_sequentially(" See /nothing")
    await body.press("Enter")
    await expect(body).to_have_value("Hello!\nHi Nadia, thanks for your order! See /nothing\n")
    # The picker inserts at the caret too.
    await page.get_by_test_id("canned-picker").select_option(label="Thanks  /thanks")
    await expect(body).to_have_value(
        "Hello!\nHi Nadia, thanks for your order! See /nothing\nHi Nadia, thanks for your order!")
    await page.get_by_test_id("compose-send").click()
    await expect(page.get_by_test_id("notice")).to_contain_text("Queued for sending")

    mail = await fx_smtp.wait_for(to="nadia@customer.example")
    assert mail.subject == "Your order"
    assert mail.text.replace("\r\n", "\n").strip() == (
        "Hello!\nHi Nadia, thanks for your order! See /nothing\nHi Nadia, thanks for your order!")
    assert "/thanks" not in mail.text


async def test_console_email_reply_with_a_snippet_survives_a_live_update_and_is_threaded(
        fx_new_context: NewContext, fx_live_server: LiveServer, fx_smtp: Mailbox,
        tmp_path: pathlib.Path) -> None:
    shop = await live_signup(fx_live_server, "mailcons")
    async with httpx.AsyncClient(base_url=fx_live_server.url, trust_env=False, timeout=30) as client:
        resp = await client.put(f"/t/{shop.slug}/api/v1/channels/email", headers=shop.auth, json={
            "smtp_host": fx_smtp.host, "smtp_port": fx_smtp.port, "smtp_tls": "none",
            "from_address": "hello@mailcons-shop.example"})
        assert resp.status_code == 200, resp.text
        resp = await client.post(f"/t/{shop.slug}/api/v1/email-templates", headers=shop.auth, json={
            "kind": "canned", "name": "Sorry", "shortcut": "sorry",
            "body": "Sorry for the trouble, {{ contact.first_name }}."})
        assert resp.status_code == 201, resp.text

    # `switchboard mail-in` on the live server's database; the server's embedded worker processes the mail.
    port = free_port()
    env = {**_server_env(fx_live_server.dsn, tmp_path), "MAIL_IN_PORT": str(port)}
    log = (tmp_path / "mail-in.log").open("wb")
    listener = await asyncio.create_subprocess_exec(sys.executable, "-m", "app.cli", "mail-in", cwd=REPO_ROOT,
                                                    env=env, stdout=log, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL)
    try:
        for _ in range(200):  # until the listener answers
            probe = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=1)
            try:
                await probe.connect()
            except (aiosmtplib.SMTPException, OSError):
                await asyncio.sleep(0.1)
                continue
            await probe.quit()
            break
        to = f"{shop.slug}@{env.get('MAIL_DOMAIN') or 'mail.switchboard.localhost'}"

        async def customer_writes(subject: str, body: str, message_id: str, in_reply_to: str = "") -> None:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "Kate Cole <kate@customer.example>", to, subject
            msg["Message-ID"] = f"<{message_id}>"
            if in_reply_to:
                msg["In-Reply-To"] = msg["References"] = f"<{in_reply_to}>"
            msg.set_content(body)
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, sender="kate@customer.example",
                                  recipients=[to])

        page = await (await fx_new_context()).new_page()
        await sign_in(page, shop.slug, shop.email, shop.password)
        await page.goto(f"/t/{shop.slug}/console/")
        await expect(page.get_by_test_id("queue-empty")).to_be_visible()
        await customer_writes("Broken teapot", "The lid is cracked.", "e2e-teapot-1@customer.example")
        await expect(page.get_by_test_id("queue-item")).to_contain_text("Broken teapot")  # live, no reload
        await page.get_by_test_id("take").click()
        mine = page.get_by_test_id("console-email")
        await expect(mine).to_contain_text("The lid is cracked.")

        box = page.get_by_test_id("console-email-body")
        await expect(page.get_by_test_id("canned-picker")).to_be_visible()
        await box.click()
        await box.press_sequentially("/sorry")
        await box.press("Enter")
        await expect(box).to_have_value("Sorry for the trouble, Kate.")
        await box.press_sequentially(" A new lid")
        # Kate writes again in the thread: the panel is re-rendered live, the draft stays.
        await customer_writes("Re: Broken teapot", "Also the spout leaks.", "e2e-teapot-2@customer.example",
                              in_reply_to="e2e-teapot-1@customer.example")
        await expect(mine).to_contain_text("Also the spout leaks.")
        await expect(box).to_have_value("Sorry for the trouble, Kate. A new lid")
        await box.press_sequentially(" is on its way.")
        await page.get_by_test_id("console-email-reply").click()
        await expect(page.get_by_test_id("console-flash")).to_contain_text("queued to kate@customer.example")

        mail = await fx_smtp.wait_for(to="kate@customer.example")
        assert mail.subject == "Re: Broken teapot"
        assert mail.message["In-Reply-To"] == "<e2e-teapot-2@customer.example>"
        assert mail.text.strip() == "Sorry for the trouble, Kate. A new lid is on its way."
    finally:
        listener.terminate()
        await listener.wait()
        log.close()
