"""The rollup deltas of one conversation (app.reports.deltas.difference): after - before, per cell and bin, without
the cells and bins that did not change; and the per-conversation values are `rollups._VALUES` itself."""

from __future__ import annotations

import datetime as dt

from app.reports import deltas, rollups

B1 = dt.datetime(2026, 10, 25, 6, 0, tzinfo=dt.UTC)
B2 = B1 + rollups.BUCKET


def test_the_difference_takes_away_the_old_adds_the_new_and_drops_what_did_not_change() -> None:
    before = {
        (B1, 1, 7, "call", "queue_offered"): deltas.Cell(1, 0.0),
        (B1, 1, 0, "call", "queue_waiting"): deltas.Cell(1, 0.0),
        (B1, 1, 7, "call", "handle"): deltas.Cell(2, 500.0, {200: 1, 300: 1}),
    }
    after = {
        (B1, 1, 7, "call", "queue_offered"): deltas.Cell(1, 0.0),  # unchanged: absent from the delta
        (B1, 1, 7, "call", "queue_answered"): deltas.Cell(1, 20.0, {20: 1}),
        (B1, 1, 7, "call", "handle"): deltas.Cell(2, 510.0, {200: 1, 310: 1}),
        (B2, 1, 7, "call", "transfer"): deltas.Cell(1, 0.0),
    }
    assert deltas.difference(before, after) == {
        (B1, 1, 0, "call", "queue_waiting"): deltas.Cell(-1, 0.0),
        (B1, 1, 7, "call", "queue_answered"): deltas.Cell(1, 20.0, {20: 1}),
        (B1, 1, 7, "call", "handle"): deltas.Cell(0, 10.0, {300: -1, 310: 1}),
        (B2, 1, 7, "call", "transfer"): deltas.Cell(1, 0.0),
    }
    assert deltas.difference(after, after) == {}


def test_every_fact_table_of_the_values_is_read_for_one_conversation() -> None:
    sql = deltas._CONVERSATION_VALUES
    assert "FROM b JOIN" not in sql
    assert sql.count("conversation = $1") == rollups._VALUES.count("FROM b JOIN") >= 6
    assert [line.split("SELECT")[1] for line in sql.splitlines() if "SELECT b.bucket" in line] == [
        line.split("SELECT")[1] for line in rollups._VALUES.splitlines() if "SELECT b.bucket" in line]
