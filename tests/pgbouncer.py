"""A private PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction pooling mode on its own loopback port, for
tests and benchmarks: every database name is passed through to the PostgreSQL it fronts."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

PGBOUNCER = os.environ.get("PGBOUNCER_BIN", "/usr/sbin/pgbouncer")


def missing_reason() -> str | None:
    """Why PgBouncer cannot be started here (None when it can); `infra/ensure-services.sh` installs it."""
    if not os.access(PGBOUNCER, os.X_OK):
        return f"{PGBOUNCER} is missing and infra/ensure-services.sh could not install the pgbouncer package"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def via(dsn: str, port: int) -> str:
    """`dsn` with its host and port replaced by PgBouncer's."""
    url = urlparse(dsn)
    auth = url.netloc.rsplit("@", 1)[0] + "@" if "@" in url.netloc else ""
    return urlunparse(url._replace(netloc=f"{auth}127.0.0.1:{port}"))


class PgBouncer:
    """`pgbouncer` with an ini written to a temporary directory; `pool_mode = transaction`, `auth_type = trust`."""

    def __init__(self, upstream_dsn: str, pool_size: int = 20) -> None:
        url = urlparse(upstream_dsn)
        self.user = url.username or "postgres"
        self.upstream_host = url.hostname or "127.0.0.1"
        self.upstream_port = url.port or 5432
        self.pool_size = pool_size
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sb-pgbouncer-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, dsn: str) -> str:
        return via(dsn, self.port)

    def _write(self) -> Path:
        (self.dir / "userlist.txt").write_text(f'"{self.user}" ""\n')
        ini = self.dir / "pgbouncer.ini"
        ini.write_text("\n".join([
            "[databases]",
            f"* = host={self.upstream_host} port={self.upstream_port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.dir / 'userlist.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            "max_client_conn = 1000",
            "ignore_startup_parameters = extra_float_digits,search_path",
            f"admin_users = {self.user}",
            f"logfile = {self.dir / 'pgbouncer.log'}",
            f"pidfile = {self.dir / 'pgbouncer.pid'}",
            "",
        ]))
        return ini

    def start(self, wait: float = 10) -> PgBouncer:
        ini = self._write()
        cmd = [PGBOUNCER, str(ini)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            for path in (self.dir, *self.dir.iterdir()):
                shutil.chown(path, "postgres")
            cmd = [PGBOUNCER, "-u", "postgres", str(ini)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"pgbouncer did not listen on {self.port}:\n{self.log()}")

    def transactions(self, database: str) -> int:
        """Transactions PgBouncer has passed to `database` so far (its admin console's SHOW STATS)."""
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-At", "-F", "\t",
                              "-c", "SHOW STATS", "pgbouncer"], capture_output=True, text=True, timeout=10, check=True)
        for line in out.stdout.splitlines():
            cells = line.split("\t")
            if cells[0] == database:
                return int(cells[1])  # total_xact_count
        return 0

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # immediate shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def pgbouncer(upstream_dsn: str, pool_size: int = 20) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(upstream_dsn, pool_size).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()
