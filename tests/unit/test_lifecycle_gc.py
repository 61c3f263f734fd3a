"""The web process collects cyclic garbage less often (app.lifecycle `tune_gc`, called first by the lifespan): with
CPython's default young threshold (700) the console fan-out spent about a third of its CPU in full collections."""

from __future__ import annotations

import gc
import inspect

from app import lifecycle


def test_the_lifespan_raises_the_young_threshold_and_keeps_the_older_ratios() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        lifecycle.tune_gc()
        assert gc.get_threshold() == (lifecycle.GC_YOUNG_THRESHOLD, 10, 10)
        assert lifecycle.GC_YOUNG_THRESHOLD >= 10_000
    finally:
        gc.set_threshold(*saved)
    assert "tune_gc()" in inspect.getsource(lifecycle.lifespan)
