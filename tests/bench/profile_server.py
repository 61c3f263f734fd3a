"""The app under uvicorn (one process) with cProfile on, for `BENCH_CHAT_PROFILE`: SIGUSR1 writes the statistics so
far to the path given as the first argument. Not a bench module (no `bench_` prefix)."""

from __future__ import annotations

import cProfile
import signal
import sys
from typing import Any

import uvicorn

from app.chat import writer
from realtime import hub


def main() -> None:
    out, port = sys.argv[1], int(sys.argv[2])
    prof = cProfile.Profile()

    def dump(*_: Any) -> None:
        prof.disable()
        prof.dump_stats(out)
        with open(out + ".counts", "w") as f:  # the feeds' reads and held-back waits, the writer's batches
            f.write(f"feed {dict(hub.STATS)}\nwriter {writer.STATS}\n")
        prof.enable()

    signal.signal(signal.SIGUSR1, dump)
    prof.enable()
    uvicorn.run("app.asgi:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning",
                access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
