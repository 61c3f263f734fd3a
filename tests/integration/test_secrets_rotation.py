"""Secrets rotation: tenant secrets written under key A (through the product's own settings APIs) are re-encrypted
under key B while A still decrypts; every one keeps being read throughout; after A is dropped they still decrypt;
a process that knows only A cannot read them. Re-running changes nothing. The encrypted columns are one registry
(the domains' manifests), and no encrypted-looking column of a tenant schema is missing from it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app.domains import encrypted_columns
from app.email import config as email_config
from app.lib import crypto
from app.lib.crypto import SecretUnreadable
from app.lib.db import tenant_context
from app.security.rotation import rotate_all
from app.settings import get_settings
from telephony import config as twilio_config
from telephony.simulator import Simulator
from tests.conftest import TEST_DSN, ShopFixture
from tests.integration.telephony_kit import connect, sim_fixture  # noqa: F401
from tests.integration.test_orders import api

KEY_A = "key-a-" + "a" * 40
KEY_B = "key-b-" + "b" * 40
SMTP_PASSWORD = "smtp-pass-rotating"


@pytest.fixture
def keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(*keys: str) -> None:
        monkeypatch.setenv("SECRET_KEYS", ",".join(keys))
        get_settings.cache_clear()

    yield use
    monkeypatch.delenv("SECRET_KEYS", raising=False)
    get_settings.cache_clear()


async def _stored(shop: ShopFixture) -> dict[str, str]:
    """Every encrypted value of the shop, raw, by `table.column#id`."""
    out: dict[str, str] = {}
    async with tenant_context(shop.tenant) as uow:
        for col in encrypted_columns():
            for row in await uow.connection.fetch(
                    f'SELECT id, "{col.column}" AS v FROM "{col.table}" '
                    f'WHERE "{col.column}" IS NOT NULL AND "{col.column}" <> \'\''):
                out[f"{col.table}.{col.column}#{row['id']}"] = row["v"]
    return out


async def _read_all(shop: ShopFixture, webhook_secret: str, twilio_token: str) -> None:
    """Each secret through the code that uses it: the SMTP account, the Twilio config, the webhook signer's secret."""
    async with tenant_context(shop.tenant) as uow:
        smtp = await email_config.account()
        assert smtp is not None and smtp[0].password == SMTP_PASSWORD
        twilio = await twilio_config.load()
        assert twilio is not None and twilio.auth_token == twilio_token
        tokens = [r["secret"] for r in await uow.connection.fetch("SELECT secret FROM webhook_secret")]
        assert [crypto.decrypt(t, purpose="webhooks_out.secret") for t in tokens] == [webhook_secret]


async def test_rotate_from_a_to_b_without_losing_a_read(fx_client: Any, fx_shop: ShopFixture, fx_sim: Simulator,
                                                         keyring: Any) -> None:
    keyring(KEY_A)
    line = await connect(fx_client, fx_shop, fx_sim)
    smtp = await fx_client.put(api(fx_shop, "/channels/email"), headers=fx_shop.auth, json={
        "smtp_host": "127.0.0.1", "smtp_port": 2525, "smtp_tls": "none", "smtp_user": "shop",
        "smtp_password": SMTP_PASSWORD, "from_address": "hello@rotate.example", "from_name": "Rotate"})
    assert smtp.status_code == 200, smtp.text
    hook = await fx_client.post(api(fx_shop, "/webhooks"), json={"url": "http://127.0.0.1:9/hook",
                                                                  "events": ["contact.created"]}, headers=fx_shop.auth)
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]
    under_a = await _stored(fx_shop)
    assert len(under_a) == 3
    await _read_all(fx_shop, secret, line.token)

    # B is the newest key, A still decrypts: everything reads before, during and after the rotation.
    keyring(KEY_B, KEY_A)
    await _read_all(fx_shop, secret, line.token)
    report = await rotate_all([fx_shop.tenant], encrypted_columns())
    assert (report.rotated, report.current, report.unreadable, report.failed) == (3, 0, [], {})
    under_b = await _stored(fx_shop)
    assert under_b.keys() == under_a.keys() and not set(under_b.values()) & set(under_a.values())
    await _read_all(fx_shop, secret, line.token)
    # A signed webhook still passes: the Twilio token is read for every request.
    assert (await fx_sim.post(line.account_sid, line.url("sms-status"), {
        "AccountSid": line.account_sid, "MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"})).status_code == 204

    # Idempotent: a second run finds everything current and changes nothing.
    again = await rotate_all([fx_shop.tenant], encrypted_columns())
    assert (again.rotated, again.current) == (0, 3) and await _stored(fx_shop) == under_b

    # A dropped: still readable.
    keyring(KEY_B)
    await _read_all(fx_shop, secret, line.token)
    # A process still on A alone cannot read what B encrypted (hence the rollout order in the README).
    keyring(KEY_A)
    async with tenant_context(fx_shop.tenant):
        with pytest.raises(SecretUnreadable):
            await email_config.account()
        with pytest.raises(SecretUnreadable):
            await twilio_config.load()


async def test_a_value_no_key_reads_is_reported_and_left_alone(fx_shop: ShopFixture, keyring: Any) -> None:
    keyring(KEY_A)
    async with tenant_context(fx_shop.tenant) as uow:
        await uow.connection.execute(
            "INSERT INTO webhook_endpoint (url, description, events, enabled) VALUES ('http://127.0.0.1:9/x', '', "
            "'{}', false)")
        await uow.connection.execute(
            "INSERT INTO webhook_secret (endpoint, secret) SELECT max(id), $1 FROM webhook_endpoint",
            crypto.encrypt("whsec_x", purpose="webhooks_out.secret"))
    keyring(KEY_B)
    report = await rotate_all([fx_shop.tenant], encrypted_columns())
    assert report.rotated == 0 and len(report.unreadable) == 1 and "webhook_secret.secret#" in report.unreadable[0]


async def test_every_encrypted_column_of_a_tenant_schema_is_in_the_registry(fx_shop: ShopFixture) -> None:
    """A column that holds ciphertext by our naming (`*_enc`, `secret`) and is missing from the manifests would not
    be rotated: declare it in its domain's `secrets=`."""
    async with tenant_context(fx_shop.tenant) as uow:
        rows = await uow.connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1 "
            "AND (column_name LIKE '%\\_enc' OR column_name = 'secret')", fx_shop.tenant.schema)
    found = {(r["table_name"], r["column_name"]) for r in rows}
    assert found and found == {(c.table, c.column) for c in encrypted_columns()}


def test_the_cli_rotates_with_progress_and_resumes(fx_db: str) -> None:
    """`switchboard secrets rotate` in its own process: every tenant of the database to a new key and back again
    (so the other tests' shops keep their secrets under the test key)."""
    test_key = get_settings().app.secret_key

    def run(*keys: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": TEST_DSN, "SECRET_KEYS": ",".join(keys), "LANGUAGE": "en",
               "COLUMNS": "200"}
        return subprocess.run([sys.executable, "-m", "app.cli", "secrets", "rotate"], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    # A is in both rings: the earlier tests here left values under A and B in their shops.
    there = run(KEY_B, test_key, KEY_A)
    assert there.returncode == 0 and "re-encrypted" in there.stdout, there.stdout + there.stderr
    again = run(KEY_B, test_key, KEY_A)  # resumable: a second run finds everything under B
    assert again.returncode == 0 and "Secrets: 0 re-encrypted" in again.stdout, again.stdout
    back = run(test_key, KEY_B, KEY_A)
    assert back.returncode == 0 and "re-encrypted" in back.stdout, back.stdout + back.stderr
