"""A throw-away PostgreSQL server for tests and benchmarks: Debian's ``postgresql`` binaries, a fresh cluster in a
temporary directory, a free loopback port, trust authentication, stopped (and deleted) by :meth:`Postgres.stop`.

initdb refuses to run as root, so when the tests run as root the cluster is created and run as the ``postgres``
user (``runuser``), in a directory that user owns."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from oracle.chain.anvil import free_port

__all__ = ["Postgres", "find_pg_bin", "start_postgres"]


def find_pg_bin() -> Path | None:
    """The directory of Debian's PostgreSQL server binaries (the newest version installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    """A running server: ``url`` is the SQLAlchemy URL of its ``tourney`` database."""

    bin: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/tourney"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        # check=False: the callers read the return code and say what failed (stopping is best effort)
        return subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120, check=False)

    def create_database(self, name: str) -> str:
        """A new empty database on this server; returns its URL."""
        done = self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        if done.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {done.stderr}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(fast: bool = True) -> Postgres:
    """Start a server on a free port. ``fast`` turns fsync off (tests: nothing needs to survive a power cut)."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's "
            "postgresql package (make installs it)"
        )
    root = Path(tempfile.mkdtemp(prefix="tourney-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    server = Postgres(pg_bin, root, free_port(), as_user)
    init = server._run(
        str(pg_bin / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr}")
    options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=300"
    if fast:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    started = server._run(
        str(pg_bin / "pg_ctl"),
        "-D",
        str(root / "data"),
        "-o",
        options,
        "-l",
        str(root / "server.log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    if started.returncode != 0:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {started.stderr}\n{log[-2000:]}")
    deadline = time.monotonic() + 30
    while True:
        try:
            server.create_database("tourney")
            return server
        except RuntimeError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.2)
