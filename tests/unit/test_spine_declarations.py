"""Event declarations and durable listener rules that need no database."""

from __future__ import annotations

import pytest

from app.events_catalogue import catalogue
from realtime.durable import Backoff, DurableListener, check_subscription
from realtime.events import UnknownEvent


async def _noop(event: object) -> None:
    return None


def test_every_event_is_declared_once_with_a_doc_and_typed_payload() -> None:
    names = [t.name for t in catalogue()]
    assert len(names) == len(set(names)) and {"order.status_changed", "chat.typing", "call.updated"} <= set(names)
    assert all(t.doc.strip() and t.payload.__struct_fields__ for t in catalogue())


def test_durable_listeners_subscribe_only_to_declared_lasting_events() -> None:
    check_subscription(DurableListener("ok", _noop, frozenset({"order.status_changed"})))
    with pytest.raises(UnknownEvent):
        check_subscription(DurableListener("typo", _noop, frozenset({"order.status_chagned"})))
    with pytest.raises(ValueError, match="live-only"):
        check_subscription(DurableListener("typing", _noop, frozenset({"chat.typing"})))


def test_backoff_doubles_up_to_its_cap() -> None:
    b = Backoff(base=1, cap=10, max_attempts=8)
    assert [b.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


async def test_emit_checks_the_payload_against_the_declaration_before_writing() -> None:
    from app.orders.events import ORDER_STATUS_CHANGED
    from realtime.publish import emit

    with pytest.raises(ValueError, match=r"order\.status_changed.*status"):
        await emit(ORDER_STATUS_CHANGED, order_id=1, contact_id=2)  # no status
    with pytest.raises(ValueError, match=r"order\.status_changed.*order_id"):
        await emit(ORDER_STATUS_CHANGED, order_id="1", contact_id=2, status="paid")
