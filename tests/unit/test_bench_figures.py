"""Benchmark figures: errors and lost samples are shown beside a figure and mark it FAILED (tests.bench.__main__
is not imported here: it points the environment at a benchmark database)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from app.contacts import services
from tests.bench import bare_app
from tests.bench.harness import BenchContext, Figure


def test_a_figure_with_errors_or_lost_samples_is_marked_failed() -> None:
    assert Figure("m", "p50", 1.0).failed == ""
    assert Figure("m", "p50", 1.0, errors=3).failed == "FAILED: 3 errors"
    assert Figure("m", "p50", 1.0, errors=3, lost=1).failed == "FAILED: 3 errors, 1 lost"


def test_record_prints_the_mark_beside_the_figure() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    ctx = BenchContext(module="m", console=console)
    ctx.record("frame p50", 12.5, "ms", lost=2)
    ctx.record("clean p50", 3.0, "ms")
    assert "FAILED: 2 lost" in out.getvalue().splitlines()[0]
    assert "FAILED" not in out.getvalue().splitlines()[1]
    assert [(f.errors, f.lost) for f in ctx.figures] == [(0, 2), (0, 0)]  # the summary prints them per figure


def test_the_bare_app_reads_the_same_card_columns_as_the_app() -> None:
    """bench_http compares the bare app's `GET /contacts/{id}` with the app's: a card field added to the app only
    breaks the bench at run time; this says so at once."""
    def names(sql: str) -> set[str]:
        return set(re.findall(r'AS "?(\w+)"?', sql))

    assert names(bare_app.CARD_SQL) == names(services._CARD_SQL)


def test_the_chat_rate_counts_the_rounds_that_end_while_nearly_every_chat_runs() -> None:
    """bench_chat's headline: ten chats, nine of them run from 1 s to 10 s, one only from 0 to 2 s. The window in
    which 90% run is from the ninth start (1 s) to the second finish (10 s); a round ending outside it (the early
    chat's, at 0.5 s) does not count, and a window under a second gives no figure."""
    from tests.bench.bench_chat import steady_window

    spans = [[0.0, 2.0], *([[1.0, 10.0]] * 9)]
    ends = [(0.5, 99.0), (1.5, 10.0), (5.0, 20.0), (10.0, 30.0), (10.5, 40.0)]
    assert steady_window(spans, ends) == (9.0, [10.0, 20.0, 30.0])
    assert steady_window([[0.0, 0.5]] * 10, ends) is None
    assert steady_window([], ends) is None
