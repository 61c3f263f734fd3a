"""Export of a client's data: a contact seeded with every kind of data -> one zip (JSON, CSV, the files) holding
each; the request log, the download link (authenticated, tenant-bound, expiring) and another shop's ids -> 404."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

from app.lib.db import current_uow, tenant_context
from tests.conftest import ShopFixture, browser_login, csrf_from
from tests.integration.privacy_kit import seed_everything
from tests.integration.test_orders import api


async def run_export(client: Any, shop: ShopFixture, request_id: int) -> dict[str, Any]:
    """The export job the request queued, run here: the queue holds it for this shop and request, and the job's
    own function runs it (another test's demo shop may keep this process's worker busy for minutes)."""
    from app.privacy import jobs

    async with tenant_context(shop.tenant):
        queued = await current_uow().connection.fetchval(
            "SELECT count(*) FROM public.pgqueuer WHERE entrypoint = 'privacy.export' "
            "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 "
            "AND (convert_from(payload, 'UTF8')::jsonb ->> 'request_id')::int = $2", shop.slug, request_id)
    assert queued == 1
    await jobs.build_export({"tenant": shop.slug, "request_id": request_id})
    await jobs.build_export({"tenant": shop.slug, "request_id": request_id})  # a second run changes nothing
    resp = await client.get(api(shop, f"/privacy/requests/{request_id}"), headers=shop.auth)
    return dict(resp.json())


async def test_the_zip_holds_every_kind_of_data_of_the_contact(fx_client: Any, fx_shop: ShopFixture) -> None:
    seeded = await seed_everything(fx_client, fx_shop)
    resp = await fx_client.post(api(fx_shop, f"/contacts/{seeded.contact_id}/export"), headers=fx_shop.auth)
    assert resp.status_code == 202, resp.text
    req = resp.json()
    assert req["status"] == "queued" and req["kind"] == "export" and req["download_url"] is None
    asked = dt.datetime.fromisoformat(req["requested_at"])
    assert dt.datetime.fromisoformat(req["due_at"]) - asked == dt.timedelta(days=30)

    done = await run_export(fx_client, fx_shop, req["id"])
    assert done["status"] == "done" and done["progress"] == 100, done
    assert done["download_url"] == f"/t/{fx_shop.slug}/api/v1/privacy/requests/{req['id']}/download"
    got = await fx_client.get(done["download_url"], headers=fx_shop.auth)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/zip")
    assert "attachment" in got.headers["content-disposition"]
    zf = zipfile.ZipFile(io.BytesIO(got.content))
    names = set(zf.namelist())
    data = json.loads(zf.read("data.json"))
    sections = ("card", "phones", "emails", "custom_fields", "timeline", "sms", "emails_messages", "chats", "calls",
                "notes", "files", "orders", "order_items", "order_payments", "tasks", "deals", "consent")
    for section in sections:
        assert data[section], f"section {section} is empty"
        assert f"csv/{section}.csv" in names
    text = json.dumps(data, ensure_ascii=False)
    for what, value in seeded.values.items():
        assert value in text, f"{what} missing from data.json"
    assert data["order_payments"][0]["amount"] == 1500 and len(data["order_items"]) == 2
    assert data["calls"][0]["has_recording"] is True
    assert data["consent"][0]["status"] == "opt_in"
    assert data["tasks"][0]["title"] == "Call back about the refund" and data["deals"][0]["value"] == 50000
    csv_sms = zf.read("csv/sms.csv").decode()
    assert seeded.values["sms"] in csv_sms and "body" in csv_sms.splitlines()[0]
    # The files themselves: the card's file, the call recording, the email attachment.
    blobs = {n: zf.read(n) for n in names if n.startswith(("files/", "recordings/", "attachments/"))}
    assert seeded.blobs["file"] in blobs.values()
    assert seeded.blobs["recording"] in blobs.values()
    assert seeded.blobs["attachment"] in blobs.values()
    assert any(n.startswith("attachments/") and n.endswith("invoice.pdf") for n in names)

    # The request log (admins) shows it with who asked and when it was done; the audit log has the request.
    log = (await fx_client.get(api(fx_shop, "/privacy/requests"), headers=fx_shop.auth)).json()
    assert [(r["id"], r["kind"], r["status"], r["requested_by_id"]) for r in log] == [
        (req["id"], "export", "done", fx_shop.user_id)]
    assert log[0]["done_at"] is not None
    async with tenant_context(fx_shop.tenant):
        actions = [r["action"] for r in await current_uow().connection.fetch(
            "SELECT action FROM audit_entry WHERE target_type = 'contact' AND target_id = $1",
            str(seeded.contact_id))]
    assert "privacy.export_requested" in actions


async def test_download_is_refused_to_others_and_expires(fx_client: Any, fx_shop: ShopFixture,
                                                          fx_other_shop: ShopFixture) -> None:
    from tests.integration.test_orders import make_contact

    c = await make_contact(fx_client, fx_shop, name="Short Export", phones=["+14155550177"])
    req = (await fx_client.post(api(fx_shop, f"/contacts/{c['id']}/export"), headers=fx_shop.auth)).json()
    done = await run_export(fx_client, fx_shop, req["id"])
    url = done["download_url"]
    assert (await fx_client.get(url)).status_code in (401, 403)
    # Another shop: its key on this URL, and this id under its own slug.
    assert (await fx_client.get(url, headers=fx_other_shop.auth)).status_code in (401, 403, 404)
    other_url = api(fx_other_shop, f"/privacy/requests/{req['id']}")
    assert (await fx_client.get(other_url, headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.get(other_url + "/download", headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.post(api(fx_other_shop, f"/contacts/{c['id']}/export"),
                                 headers=fx_other_shop.auth)).status_code == 404
    assert (await fx_client.get(api(fx_other_shop, "/privacy/requests"), headers=fx_other_shop.auth)).json() == []
    # After its expiry the link answers 410.
    async with tenant_context(fx_shop.tenant):
        await current_uow().connection.execute(
            "UPDATE privacy_request SET expires_at = now() - interval '1 minute' WHERE id = $1", req["id"])
    gone = await fx_client.get(url, headers=fx_shop.auth)
    assert gone.status_code == 410 and "expired" in gone.json()["detail"]


async def test_the_card_panel_requests_an_export_and_the_data_requests_page_lists_it(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    from tests.integration.test_orders import make_contact

    c = await make_contact(fx_client, fx_shop, name="Panel Export")
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    base = f"/t/{fx_shop.slug}"
    card = await fx_client.get(f"{base}/contacts/{c['id']}", headers={"accept": "text/html"})
    assert 'data-testid="card-privacy-loader"' in card.text
    token = await csrf_from(fx_client, f"{base}/contacts/{c['id']}")
    htmx = {"X-CSRF-Token": token, "HX-Request": "true", "accept": "text/html"}
    made = await fx_client.post(f"{base}/contacts/{c['id']}/privacy/export", headers=htmx)
    assert made.status_code == 200 and 'data-testid="privacy-request"' in made.text
    assert 'data-status="queued"' in made.text
    page = await fx_client.get(f"{base}/privacy/requests/", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'data-kind="export"' in page.text and f"#{c['id']}" in page.text
    nav = await fx_client.get(f"{base}/contacts/", headers={"accept": "text/html"})
    assert 'data-testid="nav-privacy"' in nav.text
