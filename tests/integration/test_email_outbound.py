"""Outbound email against a real SMTP server: settings, content, headers, attachments, retries, refusals."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from app.email.tables import EmailAccount
from app.lib.db import tenant_context
from tests.conftest import ShopFixture, free_port, run_jobs_until
from tests.integration.email_kit import SMTP_PASSWORD, Mailbox, configure, smtp_server


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _contact(client: Any, shop: ShopFixture, name: str, email: str) -> int:
    resp = await client.post(api(shop, "/contacts"), json={"name": name, "emails": [email]}, headers=shop.auth)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _emails(client: Any, shop: ShopFixture, contact_id: int) -> list[dict[str, Any]]:
    return (await client.get(api(shop, f"/contacts/{contact_id}/emails"), headers=shop.auth)).json()


async def test_settings_keep_the_password_encrypted_and_never_return_it(fx_client: Any, fx_shop: ShopFixture,
                                                                         fx_other_shop: ShopFixture) -> None:
    view = await configure(fx_client, fx_shop, 2525)
    assert view["password_set"] is True and "smtp_password" not in view and SMTP_PASSWORD not in str(view)
    assert view["inbound_address"].startswith(f"{fx_shop.slug}@")
    async with tenant_context(fx_shop.tenant):
        row = await EmailAccount.select().first()
    assert row["smtp_password_enc"] and SMTP_PASSWORD not in row["smtp_password_enc"]
    # Saving again without a password keeps the stored one.
    again = await fx_client.put(api(fx_shop, "/channels/email"), headers=fx_shop.auth, json={
        "smtp_host": "127.0.0.1", "smtp_port": 2526, "smtp_tls": "starttls", "smtp_user": "shop-mailer",
        "from_address": "hello@teashop.example"})
    assert again.status_code == 200 and again.json()["password_set"] is True and again.json()["smtp_port"] == 2526
    bad = await fx_client.put(api(fx_shop, "/channels/email"), headers=fx_shop.auth, json={
        "smtp_host": "127.0.0.1", "smtp_port": 25, "smtp_tls": "ssl", "from_address": "hello@teashop.example"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "smtp_tls"
    other = await fx_client.get(api(fx_other_shop, "/channels/email"), headers=fx_other_shop.auth)
    assert other.json()["configured"] is False


async def test_test_button_sends_now_and_reports_the_server_reason(fx_client: Any, fx_shop: ShopFixture) -> None:
    box = Mailbox()
    server = smtp_server(box)
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        ok = await fx_client.post(api(fx_shop, "/channels/email/test"), json={"to": "me@teashop.example"},
                                  headers=fx_shop.auth)
        assert ok.json() == {"ok": True, "to": "me@teashop.example"}
        assert box.messages[-1]["Subject"] == "Switchboard test email" and box.logins == ["shop-mailer"]
        box.refuse.add("nobody@teashop.example")
        refused = await fx_client.post(api(fx_shop, "/channels/email/test"), json={"to": "nobody@teashop.example"},
                                       headers=fx_shop.auth)
        assert refused.json()["ok"] is False and "550" in refused.json()["error"]
    finally:
        server.stop()


async def test_email_with_template_html_and_attachment_is_sent_by_a_job(fx_client: Any, fx_shop: ShopFixture) -> None:
    box = Mailbox()
    server = smtp_server(box)
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        contact_id = await _contact(fx_client, fx_shop, "Anna Petrova", "anna@customer.example")
        pdf = b"%PDF-1.4 invoice 42\n" + bytes(range(256))
        resp = await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/emails"), headers=fx_shop.auth, json={
            "subject": "Your order, {{ contact.first_name }}",
            "body": "Hello {{ contact.name }},\n\nyour **invoice** is attached. <script>alert(1)</script>\n",
            "attachments": [{"filename": "invoice.pdf", "content_type": "application/pdf",
                             "data": base64.b64encode(pdf).decode()}]})
        assert resp.status_code == 201, resp.text
        queued = resp.json()
        assert queued["status"] == "queued" and queued["subject"] == "Your order, Anna"
        assert not box.messages  # nothing leaves before the job runs

        async def sent() -> bool:
            return (await _emails(fx_client, fx_shop, contact_id))[0]["status"] == "sent"

        await run_jobs_until(sent)
        [msg] = box.messages
        assert msg["To"] == "anna@customer.example" and msg["Subject"] == "Your order, Anna"
        assert msg["From"] == "Tea Shop <hello@teashop.example>"
        assert msg["Message-ID"] == f"<{queued['message_id']}>"
        assert msg["Reply-To"].startswith(f"{fx_shop.slug}+")
        text = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        assert "Hello Anna Petrova" in text and "<strong>invoice</strong>" in html
        assert "<script>" not in html and "&lt;script&gt;" in html
        [att] = list(msg.iter_attachments())
        assert att.get_filename() == "invoice.pdf" and att.get_content() == pdf
        timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline"), headers=fx_shop.auth)).json()
        entry = next(i for i in timeline["items"] if i["channel"] == "email")
        assert entry["direction"] == "out" and entry["payload"]["status"] == "sent"

        # A reply carries the threading headers of the message it answers.
        reply = await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/emails"), headers=fx_shop.auth,
                                     json={"reply_to": queued["id"], "body": "One more thing."})
        assert reply.status_code == 201 and reply.json()["subject"] == "Re: Your order, Anna"

        async def both_sent() -> bool:
            return all(e["status"] == "sent" for e in await _emails(fx_client, fx_shop, contact_id))

        await run_jobs_until(both_sent)
        second = box.messages[-1]
        assert second["In-Reply-To"] == f"<{queued['message_id']}>"
        assert f"<{queued['message_id']}>" in second["References"]
    finally:
        server.stop()


async def test_templates_run_in_a_sandbox(fx_client: Any, fx_shop: ShopFixture) -> None:
    await configure(fx_client, fx_shop, free_port())
    contact_id = await _contact(fx_client, fx_shop, "Eve", "eve@customer.example")
    resp = await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/emails"), headers=fx_shop.auth, json={
        "subject": "Hi", "body": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "body"
    assert await _emails(fx_client, fx_shop, contact_id) == []


async def test_smtp_down_is_retried_later_and_delivered(fx_client: Any, fx_shop: ShopFixture) -> None:
    port = free_port()
    await configure(fx_client, fx_shop, port)
    contact_id = await _contact(fx_client, fx_shop, "Bob", "bob@customer.example")
    resp = await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/emails"), headers=fx_shop.auth,
                                json={"subject": "Parcel", "body": "It left today."})
    assert resp.status_code == 201
    box = Mailbox()
    server = smtp_server(box, port)

    async def failed_once() -> bool:
        [row] = await _emails(fx_client, fx_shop, contact_id)
        return row["attempts"] >= 1

    async def sent() -> bool:
        if server.server is None and (await failed_once()):
            [row] = await _emails(fx_client, fx_shop, contact_id)
            assert row["status"] == "queued" and row["error"]  # still waiting, the reason kept
            server.start()  # the server comes back
        return bool(box.messages)

    try:
        await run_jobs_until(sent, timeout=15)
        [row] = await _emails(fx_client, fx_shop, contact_id)
        for _ in range(20):
            if row["status"] == "sent":
                break
            await asyncio.sleep(0.1)
            [row] = await _emails(fx_client, fx_shop, contact_id)
        assert row["status"] == "sent" and row["attempts"] >= 2
        assert box.messages[0]["Subject"] == "Parcel"
    finally:
        if server.server is not None:
            server.stop()


async def test_permanent_refusal_marks_the_email_failed_with_the_reason(fx_client: Any, fx_shop: ShopFixture) -> None:
    box = Mailbox()
    box.refuse.add("gone@customer.example")
    server = smtp_server(box)
    server.start()
    try:
        await configure(fx_client, fx_shop, server.port)
        contact_id = await _contact(fx_client, fx_shop, "Gone", "gone@customer.example")
        await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/emails"), headers=fx_shop.auth,
                             json={"subject": "Hello", "body": "Are you there?"})

        async def settled() -> bool:
            return (await _emails(fx_client, fx_shop, contact_id))[0]["status"] != "queued"

        await run_jobs_until(settled)
        [row] = await _emails(fx_client, fx_shop, contact_id)
        assert row["status"] == "failed" and "550" in row["error"] and "no such user" in row["error"]
        timeline = (await fx_client.get(api(fx_shop, f"/contacts/{contact_id}/timeline"), headers=fx_shop.auth)).json()
        entry = next(i for i in timeline["items"] if i["channel"] == "email")
        assert entry["payload"]["status"] == "failed" and "550" in entry["payload"]["error"]
    finally:
        server.stop()


async def test_settings_page_saves_and_its_test_button_sends(fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.conftest import browser_login, csrf_from

    box = Mailbox()
    server = smtp_server(box)
    server.start()
    try:
        await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
        token = await csrf_from(fx_client, f"/t/{fx_shop.slug}/settings/email/")
        page = await fx_client.post(f"/t/{fx_shop.slug}/settings/email/", headers={"accept": "text/html"}, data={
            "_csrf": token, "smtp_host": "127.0.0.1", "smtp_port": str(server.port), "smtp_tls": "none",
            "smtp_user": "shop-mailer", "smtp_password": SMTP_PASSWORD, "from_address": "hello@teashop.example"})
        assert page.status_code == 200 and "Saved." in page.text and f"{fx_shop.slug}@" in page.text
        assert SMTP_PASSWORD not in page.text
        result = await fx_client.post(f"/t/{fx_shop.slug}/settings/email/test", data={"to": "me@teashop.example"},
                                      headers={"x-csrf-token": token, "hx-request": "true"})
        assert "Sent to me@teashop.example" in result.text and box.messages[-1]["To"] == "me@teashop.example"
    finally:
        server.stop()
