"""An outbound email is sent once: a server hanging up after its 250, a failure after the 250, and a
`switchboard worker` killed (SIGKILL) or stopped (SIGTERM) in the middle of a send."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import asyncpg

from app.email.tables import EmailMessage
from app.lib.db import tenant_context
from app.timeline.tables import Interaction
from tests.conftest import TEST_DSN, ShopFixture, run_jobs_until
from tests.integration.email_kit import (
    HangUpAfterData,
    HoldingMailbox,
    Mailbox,
    WorkerProcess,
    configure,
    serve_smtp,
)


def api(shop: ShopFixture, path: str) -> str:
    return f"/t/{shop.slug}/api/v1{path}"


async def _queue_email(client: Any, shop: ShopFixture, subject: str) -> dict[str, Any]:
    resp = await client.post(api(shop, "/contacts"), json={"name": "Mia", "emails": ["mia@customer.example"]},
                             headers=shop.auth)
    assert resp.status_code == 201, resp.text
    resp = await client.post(api(shop, f"/contacts/{resp.json()['id']}/emails"), headers=shop.auth,
                             json={"subject": subject, "body": "Your parcel left today."})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def _row(shop: ShopFixture, email_id: int) -> dict[str, Any]:
    async with tenant_context(shop.tenant):
        row = await EmailMessage.select().where(EmailMessage.id == email_id).first()
    assert row is not None
    return dict(row)


async def _timeline_items(shop: ShopFixture, email_id: int) -> list[dict[str, Any]]:
    async with tenant_context(shop.tenant):
        items = await Interaction.select().where(Interaction.channel == "email").output(load_json=True)
    return [i for i in items if i["links"].get("email_id") == email_id]


async def _wait_sent(shop: ShopFixture, email_id: int, worker: WorkerProcess | None = None) -> dict[str, Any]:
    for _ in range(1200):
        row = await _row(shop, email_id)
        if row["status"] != "queued":
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"email {email_id} still queued: {row}\n{worker.output() if worker else ''}")


def _copies(box: Mailbox, message_id: str) -> list[str]:
    return [str(m["Message-ID"]) for m in box.messages if str(m["Message-ID"]) == f"<{message_id}>"]


async def _age_picked_job(shop: ShopFixture, email_id: int) -> None:
    """A killed worker leaves its job `picked`; PgQueuer hands it to another worker once its heartbeat is older
    than the heartbeat timeout (30 s). Age that job's heartbeat rather than wait those seconds out."""
    conn = await asyncpg.connect(TEST_DSN)
    try:
        aged = await conn.fetchval(
            "WITH a AS (UPDATE public.pgqueuer SET heartbeat = heartbeat - interval '1 hour' "
            "WHERE status = 'picked' AND entrypoint = 'messaging.send_email' "
            "AND convert_from(payload, 'UTF8')::jsonb @> jsonb_build_object('tenant', $1::text, 'email_id', $2::int) "
            "RETURNING 1) SELECT count(*) FROM a", shop.slug, email_id)
    finally:
        await conn.close()
    assert aged == 1, "the killed worker should have left its send job picked"


async def test_server_hanging_up_after_its_250_gets_the_email_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    box = Mailbox()
    server, port = await serve_smtp(box, HangUpAfterData)
    try:
        await configure(fx_client, fx_shop, port)
        queued = await _queue_email(fx_client, fx_shop, "Hang up after 250")

        async def done() -> bool:
            return (await _row(fx_shop, queued["id"]))["status"] != "queued"

        await run_jobs_until(done)
        row = await _row(fx_shop, queued["id"])
        assert row["status"] == "sent" and row["error"] == "" and row["attempts"] == 1
        assert _copies(box, queued["message_id"]) == [f"<{queued['message_id']}>"]
        assert len(box.messages) == 1
    finally:
        server.close()
        await server.wait_closed()


async def test_a_failure_after_the_250_is_retried_without_sending_again(fx_client: Any,
                                                                         fx_shop: ShopFixture) -> None:
    """Recording "sent" on the timeline fails once after the server accepted: the retry finds the marker written
    right after the 250 and only finishes the bookkeeping."""
    box = Mailbox()
    server, port = await serve_smtp(box)
    schema = fx_shop.tenant.schema
    try:
        await configure(fx_client, fx_shop, port)
        queued = await _queue_email(fx_client, fx_shop, "Fails after 250")
        conn = await asyncpg.connect(TEST_DSN)
        try:
            # A sequence is not rolled back with the failing transaction, so the trigger fails exactly once.
            await conn.execute(f"""
                CREATE SEQUENCE "{schema}".after_accept_failures;
                CREATE FUNCTION "{schema}".fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('"{schema}".after_accept_failures') = 1 THEN
                        RAISE EXCEPTION 'injected: the database refused the status after the 250';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER fail_once BEFORE UPDATE ON "{schema}".interaction
                    FOR EACH ROW EXECUTE FUNCTION "{schema}".fail_once();
            """)

            async def done() -> bool:
                return (await _row(fx_shop, queued["id"]))["status"] != "queued"

            await run_jobs_until(done, timeout=60)
            failures = await conn.fetchval(f'SELECT last_value FROM "{schema}".after_accept_failures')
        finally:
            await conn.close()
        assert failures >= 2, "the status update should have failed once and then gone through"
        row = await _row(fx_shop, queued["id"])
        assert row["status"] == "sent" and row["sent_at"] is not None and row["attempts"] == 1
        assert _copies(box, queued["message_id"]) == [f"<{queued['message_id']}>"]
        [item] = await _timeline_items(fx_shop, queued["id"])
        assert item["payload"]["status"] == "sent"
    finally:
        server.close()
        await server.wait_closed()


async def _kill_mid_send(client: Any, shop: ShopFixture, box: HoldingMailbox, sig: int,
                         release_before_exit: bool = False) -> dict[str, Any]:
    """Queue an email, let a `switchboard worker` send it into `box` until the box holds it, signal the worker
    and let it end; then a new worker runs until the email is settled. Returns the email's row."""
    server, port = await serve_smtp(box)
    first, second = WorkerProcess(), WorkerProcess()
    try:
        await configure(client, shop, port)
        queued = await _queue_email(client, shop, f"Worker gets signal {sig}")
        await first.start()
        try:
            await asyncio.wait_for(box.held.wait(), 60)
        except TimeoutError:
            raise AssertionError(f"the worker never reached DATA:\n{first.output()}") from None
        first.signal(sig)
        if release_before_exit:
            box.release.set()
        await first.wait_exit()
        box.release.set()  # a handler still waiting (its client gone) finishes now
        if sig == signal.SIGKILL and (await _row(shop, queued["id"]))["status"] == "queued":
            await _age_picked_job(shop, queued["id"])
        await second.start()
        row = await _wait_sent(shop, queued["id"], second)
        return row | {"queued": queued}
    finally:
        await first.stop()
        await second.stop()
        server.close()
        await server.wait_closed()


async def test_sigkill_before_the_server_accepted_sends_once(fx_client: Any, fx_shop: ShopFixture) -> None:
    box = HoldingMailbox(hold="before")
    row = await _kill_mid_send(fx_client, fx_shop, box, signal.SIGKILL)
    assert row["status"] == "sent"
    assert _copies(box, row["message_id"]) == [f"<{row['message_id']}>"] and len(box.messages) == 1
    [item] = await _timeline_items(fx_shop, row["id"])
    assert item["payload"]["status"] == "sent"


async def test_sigkill_after_the_server_kept_it_before_the_marker_resends_the_same_message_id(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    """The residual at-least-once window (see outbound.deliver): the server kept the message, its 250 never
    reached the killed worker, so the next worker sends it again. Both copies carry the one stored Message-ID,
    which is what lets the receiving side drop the second; on our side it is still one email, one timeline item."""
    box = HoldingMailbox(hold="after")
    row = await _kill_mid_send(fx_client, fx_shop, box, signal.SIGKILL)
    assert row["status"] == "sent"
    copies = _copies(box, row["message_id"])
    assert copies == [f"<{row['message_id']}>"] * 2 and len(box.messages) == 2
    assert row["queued"]["message_id"] == row["message_id"]
    [item] = await _timeline_items(fx_shop, row["id"])
    assert item["payload"]["status"] == "sent"


async def test_sigterm_while_the_server_is_slow_finishes_the_send_once(fx_client: Any,
                                                                       fx_shop: ShopFixture) -> None:
    """SIGTERM arrives while the server is still taking DATA; the server answers soon after. Whether the worker
    finishes the send before exiting or hands the job back, the email goes out once."""
    box = HoldingMailbox(hold="before")
    row = await _kill_mid_send(fx_client, fx_shop, box, signal.SIGTERM, release_before_exit=True)
    assert row["status"] == "sent"
    assert _copies(box, row["message_id"]) == [f"<{row['message_id']}>"] and len(box.messages) == 1
    [item] = await _timeline_items(fx_shop, row["id"])
    assert item["payload"]["status"] == "sent"


async def test_sigterm_while_the_server_hangs_past_the_grace_period_sends_once_later(
        fx_client: Any, fx_shop: ShopFixture) -> None:
    """SIGTERM while the server hangs in DATA for longer than the worker's grace period: the worker gives up the
    send and exits; the job must go back to the queue (not be dropped), so the next worker sends it, once.
    Needs the `worker` branch (app/lib/jobs.py requeues a job interrupted by SIGTERM)."""
    box = HoldingMailbox(hold="before")
    row = await _kill_mid_send(fx_client, fx_shop, box, signal.SIGTERM)
    assert row["status"] == "sent"
    assert _copies(box, row["message_id"]) == [f"<{row['message_id']}>"] and len(box.messages) == 1


async def test_sigkill_after_the_marker_does_not_send_again(fx_client: Any, fx_shop: ShopFixture) -> None:
    """The worker dies after the server's 250 and the "accepted" marker, while recording the status: the test
    holds the email's timeline row locked so that recording waits, then kills the worker there. The next worker
    finds the marker, finishes the status and timeline, and does not send again."""
    box = Mailbox()
    server, port = await serve_smtp(box)
    first, second = WorkerProcess(), WorkerProcess()
    conn = await asyncpg.connect(TEST_DSN)
    try:
        await configure(fx_client, fx_shop, port)
        queued = await _queue_email(fx_client, fx_shop, "Killed after the marker")
        interaction_id = (await _row(fx_shop, queued["id"]))["interaction_id"]
        lock = conn.transaction()
        await lock.start()
        await conn.execute(f'SELECT 1 FROM "{fx_shop.tenant.schema}".interaction WHERE id = $1 FOR UPDATE',
                           interaction_id)
        await first.start()
        holder = await conn.fetchval("SELECT pg_backend_pid()")
        for _ in range(1200):
            # pg_stat_activity is a snapshot per transaction: clear it to see the worker arrive
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            blocked = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                                          holder)
            if blocked:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the worker never reached the status update:\n{first.output()}")
        first.signal(signal.SIGKILL)
        await first.wait_exit()
        await lock.rollback()
        row = await _row(fx_shop, queued["id"])
        assert row["status"] == "queued" and row["sent_at"] is not None  # killed between marker and status
        assert len(box.messages) == 1
        await _age_picked_job(fx_shop, queued["id"])
        await second.start()
        row = await _wait_sent(fx_shop, queued["id"], second)
    finally:
        await conn.close()
        await first.stop()
        await second.stop()
        server.close()
        await server.wait_closed()
    assert row["status"] == "sent" and row["attempts"] == 1
    assert _copies(box, queued["message_id"]) == [f"<{queued['message_id']}>"] and len(box.messages) == 1
    [item] = await _timeline_items(fx_shop, queued["id"])
    assert item["payload"]["status"] == "sent"
