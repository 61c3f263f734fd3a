"""Run the benchmarks: `python -m tests.bench [NAME ...] [--list]` (see tests/bench/__init__.py for the contract).

NAME selects modules `tests/bench/bench_NAME.py` (exact name, or a substring of it). With no NAME, all run, in
alphabetical order, each on its own throwaway database. The summary table is printed at the end; the exit
status is 1 when a module raised or a figure FAILED (had errors or lost samples; figures of the others are
still printed).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from tests.bench import harness

harness.setup_env()  # before anything imports an app module

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

PREFIX = "bench_"


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name[len(PREFIX):] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith(PREFIX))


def select(names: list[str], wanted: list[str]) -> list[str]:
    if not wanted:
        return names
    chosen = [n for n in names if any(w == n or w.removeprefix(PREFIX) in n for w in wanted)]
    return chosen


async def run(selected: list[str], console: Console) -> tuple[list[harness.Figure], list[tuple[str, float, str]]]:
    info = harness.machine_info()
    pg = await harness.postgres_version()
    console.print(f"[b]Machine:[/b] {info['cores']} cores ({info['cpu']}), {info['memory']} RAM, {info['os']}; "
                  f"Python {info['python']}; PostgreSQL {pg} at {harness.ADMIN_DSN.rsplit('/', 1)[0]}; "
                  f"load average at start {info['load']} (figures move with other work on the machine)")
    console.print(f"[b]Database:[/b] {harness.BENCH_DB} (created and dropped for each module)")
    figures: list[harness.Figure] = [
        harness.Figure("machine", "CPU cores", int(info["cores"]), "", info["cpu"]),
        harness.Figure("machine", "PostgreSQL", pg, "", "local, loopback"),
        harness.Figure("machine", "load average at start", info["load"], "", "1 / 5 / 15 min"),
    ]
    outcomes: list[tuple[str, float, str]] = []
    for name in selected:
        module = importlib.import_module(f"tests.bench.{PREFIX}{name}")
        entry = getattr(module, "main", None)
        if entry is None or not asyncio.iscoroutinefunction(entry):
            outcomes.append((name, 0.0, "no `async def main(ctx)`"))
            continue
        ctx = harness.BenchContext(module=name, console=console)
        console.rule(f"[b]bench_{name}[/b]: {(module.__doc__ or '').strip().splitlines()[0] if module.__doc__ else ''}")
        started = time.perf_counter()
        status = "ok"
        try:
            async with harness.platform_database():
                await entry(ctx)
        except Exception as exc:
            status = f"failed: {type(exc).__name__}: {exc}"
            console.print(f"[red]{traceback.format_exc()}[/red]")
        failed = [f for f in ctx.figures if f.failed]
        if status == "ok" and failed:
            status = f"{len(failed)} figures FAILED (errors or lost samples)"
        figures.extend(ctx.figures)
        outcomes.append((name, time.perf_counter() - started, status))
    return figures, outcomes


def summary(figures: list[harness.Figure], outcomes: list[tuple[str, float, str]], console: Console) -> None:
    table = Table(title="Benchmark summary", show_lines=False)
    table.add_column("module", style="dim")
    table.add_column("figure")
    table.add_column("value", justify="right", style="bold")
    table.add_column("unit")
    table.add_column("errors / lost", justify="right")
    table.add_column("note", style="dim", overflow="fold")
    previous = None
    for f in figures:
        if previous is not None and f.module != previous:
            table.add_section()
        previous = f.module
        value = harness.fmt_value(f.value) + (f"\n[red]{f.failed}[/red]" if f.failed else "")
        table.add_row(f.module, f.name, value, f.unit, f"{f.errors} / {f.lost}", f.note)
    console.print(table)
    runs = Table(title="Modules")
    runs.add_column("module")
    runs.add_column("wall time", justify="right")
    runs.add_column("status")
    for name, seconds, status in outcomes:
        runs.add_row(name, f"{seconds:.1f} s", status if status == "ok" else f"[red]{status}[/red]")
    console.print(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="modules to run (bench_NAME.py; substring match)")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    args = parser.parse_args(argv)
    # Piped output (make bench | tee) would otherwise wrap the summary at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 150)
    names = discover()
    if args.list:
        for n in names:
            doc = importlib.import_module(f"tests.bench.{PREFIX}{n}").__doc__ or ""
            console.print(f"[b]{n}[/b]  {doc.strip().splitlines()[0] if doc.strip() else ''}")
        return 0
    selected = select(names, args.names)
    if not selected:
        console.print(f"[red]No benchmark module matches {args.names}; available: {', '.join(names)}[/red]")
        return 2
    figures, outcomes = asyncio.run(run(selected, console))
    summary(figures, outcomes, console)
    return 0 if all(status == "ok" for _, _, status in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
