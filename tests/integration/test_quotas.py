"""Tenant quotas: set by the platform (`switchboard tenants quota`), shown to the shop's admins (page and API),
enforced where contacts, users, files and messages are made, with a 403 naming the limit and nothing written; the
usage counts only the shop's own rows."""

from __future__ import annotations

from typing import Any

import pytest

from app.lib.db import platform_context, tenant_context
from app.lib.quotas import QuotaExceeded
from telephony.simulator import Simulator
from tenants import services as tenants
from tests.conftest import ShopFixture, browser_login, free_port
from tests.integration.email_kit import configure
from tests.integration.telephony_kit import connect, sim_fixture  # noqa: F401


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def set_quotas(shop: ShopFixture, **limits: Any) -> dict[str, Any]:
    async with platform_context():
        return await tenants.set_quotas(shop.slug, **limits)


async def contact(client: Any, shop: ShopFixture, name: str, **more: Any) -> Any:
    return await client.post(api(shop, "/contacts"), json={"name": name, **more}, headers=shop.auth)


async def count(shop: ShopFixture, sql: str) -> int:
    async with tenant_context(shop.tenant) as uow:
        return int(await uow.connection.fetchval(sql))


async def quotas_of(client: Any, shop: ShopFixture) -> dict[str, dict[str, Any]]:
    resp = await client.get(api(shop, "/quotas"), headers=shop.auth)
    assert resp.status_code == 200, resp.text
    return {q["kind"]: q for q in resp.json()["items"]}


async def test_contacts_quota_refuses_the_one_too_many_and_counts_only_the_shops_own(
        fx_client: Any, fx_shop: ShopFixture, fx_other_shop: ShopFixture) -> None:
    await set_quotas(fx_shop, contacts=2)
    for name in ("Ann", "Bob"):
        assert (await contact(fx_client, fx_shop, name)).status_code == 201
    for name in ("Cy", "Di", "Ed"):  # the other shop's contacts are not counted against this one
        assert (await contact(fx_client, fx_other_shop, name)).status_code == 201
    refused = await contact(fx_client, fx_shop, "Eve", emails=["eve@example.com"])
    assert refused.status_code == 403
    body = refused.json()
    assert body["detail"].startswith("Your plan allows 2 contacts; you have 2") and body["quota"] == "contacts"
    assert await count(fx_shop, "SELECT count(*) FROM contact") == 2
    assert await count(fx_shop, "SELECT count(*) FROM contact_email WHERE email = 'eve@example.com'") == 0
    mine, theirs = await quotas_of(fx_client, fx_shop), await quotas_of(fx_client, fx_other_shop)
    assert mine["contacts"] == {**mine["contacts"], "used": 2, "limit": 2, "full": True}
    assert theirs["contacts"]["used"] == 3 and theirs["contacts"]["limit"] is None
    await set_quotas(fx_shop, contacts=None)  # unlimited again
    assert (await contact(fx_client, fx_shop, "Eve")).status_code == 201


async def test_an_import_that_would_pass_the_contacts_quota_is_refused_before_anything_lands(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    await set_quotas(fx_shop, contacts=3)
    assert (await contact(fx_client, fx_shop, "Ann")).status_code == 201
    data = b"name,email\nBob,bob@example.com\nCy,cy@example.com\nDi,di@example.com\n"
    upload = await fx_client.post(api(fx_shop, "/imports"), files={"file": ("c.csv", data, "text/csv")},
                                  headers=fx_shop.auth)
    assert upload.status_code == 201, upload.text
    started = await fx_client.post(api(fx_shop, f"/imports/{upload.json()['id']}/start"), headers=fx_shop.auth)
    assert started.status_code == 403, started.text
    assert "This file has 3 rows and your plan allows 3 contacts; you have 1" in started.json()["detail"]
    assert await count(fx_shop, "SELECT count(*) FROM contact") == 1
    state = (await fx_client.get(api(fx_shop, f"/imports/{upload.json()['id']}"), headers=fx_shop.auth)).json()
    assert state["status"] == "uploaded"  # not queued: no job will land part of it
    await set_quotas(fx_shop, contacts=4)
    started = await fx_client.post(api(fx_shop, f"/imports/{upload.json()['id']}/start"), headers=fx_shop.auth)
    assert started.status_code == 202, started.text


async def test_users_quota_counts_open_invitations(fx_client: Any, fx_shop: ShopFixture) -> None:
    await set_quotas(fx_shop, users=2)  # the owner and one invitation
    first = await fx_client.post(api(fx_shop, "/invitations"), json={"email": "op1@example.com", "role": "operator"},
                                 headers=fx_shop.auth)
    assert first.status_code == 201, first.text
    second = await fx_client.post(api(fx_shop, "/invitations"), json={"email": "op2@example.com", "role": "operator"},
                                  headers=fx_shop.auth)
    assert second.status_code == 403
    assert second.json()["detail"].startswith("Your plan allows 2 users (invitations included); you have 2.")
    assert await count(fx_shop, "SELECT count(*) FROM invitation") == 1
    assert (await quotas_of(fx_client, fx_shop))["users"]["used"] == 2


async def test_storage_quota_refuses_a_file_that_does_not_fit_and_keeps_nothing(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    await set_quotas(fx_shop, storage=1500)
    contact_id = (await contact(fx_client, fx_shop, "Ann")).json()["id"]
    url = api(fx_shop, f"/contacts/{contact_id}/files")
    ok = await fx_client.post(url, files={"file": ("a.txt", b"a" * 1000, "text/plain")}, headers=fx_shop.auth)
    assert ok.status_code == 201, ok.text
    refused = await fx_client.post(url, files={"file": ("b.txt", b"b" * 600, "text/plain")}, headers=fx_shop.auth)
    assert refused.status_code == 403 and "Your plan allows 0.0 MB of files" in refused.json()["detail"]
    assert await count(fx_shop, "SELECT count(*) FROM stored_file") == 1
    assert (await quotas_of(fx_client, fx_shop))["storage"] == {
        "kind": "storage", "label": "File storage", "used": 1000, "limit": 1500, "full": False}


async def test_messages_per_day_quota_refuses_an_email_before_it_is_queued(fx_client: Any, fx_shop: ShopFixture) -> None:
    await configure(fx_client, fx_shop, free_port())
    await set_quotas(fx_shop, messages_per_day=1)
    contact_id = (await contact(fx_client, fx_shop, "Ann", emails=["ann@example.com"])).json()["id"]
    url = api(fx_shop, f"/contacts/{contact_id}/emails")
    first = await fx_client.post(url, json={"subject": "Hello", "body": "First"}, headers=fx_shop.auth)
    assert first.status_code == 201, first.text
    second = await fx_client.post(url, json={"subject": "Hello", "body": "Second"}, headers=fx_shop.auth)
    assert second.status_code == 403
    assert second.json()["detail"].startswith("Your plan allows 1 messages (SMS and email) a day; 1 were sent today")
    assert await count(fx_shop, "SELECT count(*) FROM email_message") == 1


async def test_messages_per_day_quota_counts_sms_and_email_together_and_twilio_is_not_asked(
        fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator) -> None:
    await connect(fx_client, fx_shop, fx_sim)
    await configure(fx_client, fx_shop, free_port())
    await set_quotas(fx_shop, messages_per_day=2)
    contact_id = (await contact(fx_client, fx_shop, "Ann", phones=["+14155550166"], emails=["ann@example.com"])
                  ).json()["id"]
    sms = api(fx_shop, f"/contacts/{contact_id}/sms")
    assert (await fx_client.post(sms, json={"body": "One"}, headers=fx_shop.auth)).status_code == 201
    email = await fx_client.post(api(fx_shop, f"/contacts/{contact_id}/emails"), json={"subject": "Hi", "body": "Two"},
                                 headers=fx_shop.auth)
    assert email.status_code == 201, email.text
    sent_before = len(fx_sim.messages)
    refused = await fx_client.post(sms, json={"body": "Three"}, headers=fx_shop.auth)
    assert refused.status_code == 403 and "2 were sent today" in refused.json()["detail"]
    assert len(fx_sim.messages) == sent_before  # the simulated Twilio never got the refused message
    assert await count(fx_shop, "SELECT count(*) FROM sms_message") == 1
    assert (await quotas_of(fx_client, fx_shop))["messages_per_day"]["used"] == 2


async def test_plan_page_shows_used_and_limits_to_admins_only(fx_client: Any, fx_shop: ShopFixture) -> None:
    await set_quotas(fx_shop, contacts=500, storage=25_000_000)
    assert (await contact(fx_client, fx_shop, "Ann")).status_code == 201
    await browser_login(fx_client, fx_shop.slug, fx_shop.email, fx_shop.password)
    page = await fx_client.get(f"/t/{fx_shop.slug}/settings/plan")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="quota-contacts"' in html and ">500<" in html and "25.0 MB" in html
    assert html.count("unlimited") == 2  # users and messages have no limit
    assert f'href="/t/{fx_shop.slug}/settings/plan"' in html  # linked from the nav


async def test_quotas_are_refused_to_operators_and_other_shops(fx_client: Any, fx_shop: ShopFixture,
                                                               fx_other_shop: ShopFixture) -> None:
    from app.accounts.services import _insert_api_key
    from app.accounts.tables import User

    async with tenant_context(fx_shop.tenant):
        rows = await User.insert(User(email="op@example.com", name="Op", role="operator")).returning(User.id)
        _, op_key = await _insert_api_key(rows[0]["id"], "op")
    assert (await fx_client.get(api(fx_shop, "/quotas"), headers={"Authorization": f"Bearer {op_key}"})
            ).status_code == 403
    # Another shop's key on this shop's URL: 404, nothing learned.
    assert (await fx_client.get(api(fx_shop, "/quotas"), headers=fx_other_shop.auth)).status_code == 404


async def test_set_quotas_refuses_bad_values_and_unknown_shops(fx_db: str, fx_shop: ShopFixture) -> None:
    from app.lib.errors import Invalid, NotFound

    with pytest.raises(Invalid):
        await set_quotas(fx_shop, contacts=-1)
    with pytest.raises(NotFound):
        async with platform_context():
            await tenants.set_quotas("no_such_shop", contacts=1)
    row = await set_quotas(fx_shop, users=3, contacts=tenants.UNSET)
    assert row["quota_users"] == 3 and row["quota_contacts"] is None
    assert issubclass(QuotaExceeded, Exception)


async def test_the_demo_shop_gets_its_plan_once(fx_db: str, fx_shop: ShopFixture) -> None:
    from app.demo import ensure_demo_quotas

    assert await ensure_demo_quotas(fx_shop.slug) is True
    assert await ensure_demo_quotas(fx_shop.slug) is False  # once; the platform's later changes are kept
    row = await set_quotas(fx_shop)
    assert row["quota_contacts"] == 5000 and row["quota_storage_bytes"] == 1_000_000_000


async def test_re_enabling_a_user_is_refused_when_the_users_quota_is_full(fx_client: Any, fx_shop: ShopFixture) -> None:
    from app.accounts.tables import User

    async with tenant_context(fx_shop.tenant):
        rows = await User.insert(User(email="op@example.com", name="Op", role="operator")).returning(User.id)
    op_id = rows[0]["id"]
    await set_quotas(fx_shop, users=2)
    user = api(fx_shop, f"/users/{op_id}")
    assert (await fx_client.patch(user, json={"status": "disabled"}, headers=fx_shop.auth)).status_code == 200
    invited = await fx_client.post(api(fx_shop, "/invitations"), json={"email": "new@example.com", "role": "operator"},
                                   headers=fx_shop.auth)
    assert invited.status_code == 201, invited.text  # the disabled user's seat went to the invitation
    refused = await fx_client.patch(user, json={"status": "active"}, headers=fx_shop.auth)
    assert refused.status_code == 403 and "Your plan allows 2 users" in refused.json()["detail"]
    assert await count(fx_shop, f"SELECT count(*) FROM app_user WHERE id = {int(op_id)} AND status = 'disabled'") == 1
