"""Benchmarks: `make bench` (all modules) or `python -m tests.bench NAME...` (a filter, e.g. `foundation`).

Benchmarks print figures; they assert nothing about timing and are not part of `make test`.

Contract for a benchmark module (add one per feature as `tests/bench/bench_<feature>.py`):

    '''One line saying what this module measures (shown by `python -m tests.bench --list`).'''
    from tests.bench.harness import BenchContext

    async def main(ctx: BenchContext) -> None:
        ctx.section("Something")                 # a heading in the live output
        ...                                      # app modules may be imported at module top level
        ctx.record("figure name", 12.3, "ms", note="p50 of 100")   # a row of the summary table
        ctx.record("frame p50", 4.5, "ms", errors=n_failed, lost=n_missing)  # samples left out: marks it FAILED

Before `main(ctx)` runs, the runner has:
- set the environment like tests/conftest.py (SECRET_KEY, DATABASE_URL, MAIL_CATCHER=false,
  EMBEDDED_WORKER=false, AUTH_RATE_PER_MINUTE=1000000, STATE_DIR in a temp dir) before any app import;
- created a throwaway database `sb_bench_<pid>` (fresh for each module), opened the app's pool on it
  (`start_database`), installed the job queue and migrated the platform schema (`public`).
After `main` returns (or raises) the pool is closed and the database dropped `WITH (FORCE)`.

`ctx` carries the DSNs, the rich console, sizes overridable from the environment (`ctx.env_int`) and helpers
in `tests.bench.harness`: `percentiles`, `closed_loop` (N concurrent workers for a fixed time),
`app_server` (the real app under uvicorn on a free loopback port), `wrk_load` (when `wrk` is installed).

A percentile over the calls that worked says nothing about the ones that did not: pass every figure the failed
calls and the frames or messages that never arrived behind it (`errors=`, `lost=`). The summary prints them
beside each figure, marks it "FAILED: 3 errors", and the module's status says how many figures failed.
"""
