"""The service's database: SQLite (embedded, the default) or PostgreSQL (several workers or hosts), one URL.

``Database(url)`` builds the engine and :meth:`Database.migrate` brings the schema to the newest Alembic revision
(run on every start; the first process to take the migration lock does the work, the others find nothing to do).

SQLite runs in WAL mode and every transaction starts with ``BEGIN IMMEDIATE``: writers queue on the database lock
up front instead of failing when a reader upgrades to a writer, so the whole submission transaction is serialised
across the processes sharing the file. ``synchronous=NORMAL`` keeps what a killed process committed (the crash the
tests stage); a power cut may lose the last commits, which is why several hosts, or an operator who wants every
commit on disk, use PostgreSQL (default ``synchronous_commit``: each commit is flushed before it returns).
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from oracle.errors import TourneyError

__all__ = ["Database", "DatabaseError", "default_url"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant will do: every process of one deployment uses the same one to take turns migrating.
_MIGRATION_LOCK = 0x70_75_72_6E_65_79  # "tourney"-ish


class DatabaseError(TourneyError):
    """The service's database cannot be used: a bad URL, an unreachable server, or a failed migration."""


def default_url(state: str) -> str:
    """``sqlite:///<state>/service.db``: the embedded default next to the rest of the service's state."""
    if "://" in state and not state.startswith("file://"):
        raise DatabaseError(
            f"the service state {state!r} is not a local directory, so it cannot hold the default "
            "SQLite database: give a database URL (--db)"
        )
    state = state.removeprefix("file://")
    return f"sqlite:///{Path(state).expanduser().resolve() / 'service.db'}"


class Database:
    """One engine and its dialect's quirks; ``on_error(kind)`` is told about every database error raised through
    :meth:`transaction` (the metrics count them)."""

    def __init__(self, url: str, pool_size: int = 16, on_error: Callable[[str], None] | None = None) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise DatabaseError(
                f"database URL {url!r} is not a URL ({exc}); use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
            ) from None
        self.backend = parsed.get_backend_name()
        self.on_error = on_error or (lambda kind: None)
        if self.backend == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                raise DatabaseError("an in-memory SQLite database cannot be shared by workers; give a file path")
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"timeout": 60, "check_same_thread": False},
            )
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
            # One writer at a time per process: threads queue here in order instead of in SQLite's busy handler,
            # which sleeps up to 100 ms between tries however soon the lock is free. Across the processes sharing
            # the file (``--workers``) the turn is a lock on a file beside it, for the same reason.
            self._turn: Any = _FileTurn(f"{parsed.database}.turn")
        elif self.backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
            self._turn = nullcontext()
        else:
            raise DatabaseError(
                f"database URL {parsed.render_as_string(hide_password=True)}: unsupported backend "
                f"{self.backend!r}; use sqlite or postgresql"
            )
        self.url = parsed.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT (it has ``on_conflict_do_nothing``/``on_conflict_do_update``)."""
        return (postgresql.insert if self.backend == "postgresql" else sqlite.insert)(table)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on leaving; errors are counted, then re-raised."""
        try:
            with self._turn, self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            self.on_error(type(getattr(exc, "orig", None) or exc).__name__)
            raise

    def migrate(self) -> str:
        """Upgrade the schema to the newest revision under the migration lock; returns that revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.transaction() as conn:
                if self.backend == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                return str(MigrationContext.configure(conn).get_current_revision())
        except SQLAlchemyError as exc:
            raise DatabaseError(
                f"database {self.url}: migration failed ({type(exc).__name__}: {str(exc).splitlines()[0][:300]})"
            ) from None

    def head_revision(self) -> str:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return str(ScriptDirectory.from_config(config).get_current_head())

    def ping(self) -> str:
        """The schema revision, read through a fresh transaction (what /health reports)."""
        with self.transaction() as conn:
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())

    def dispose(self) -> None:
        self.engine.dispose()
        if isinstance(self._turn, _FileTurn):
            self._turn.close()


class _FileTurn:
    """One transaction at a time across this host's processes and threads: a thread lock, then ``flock`` on a file
    (hand-written: SQLite's own busy handler polls with sleeps, and the lock libraries on PyPI add nothing to a
    dozen lines of ``fcntl``). The kernel drops the lock of a killed process, so a SIGKILL never wedges the others."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            assert self._fd is not None
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()

    def close(self) -> None:
        """Close the lock file (reopened by the next transaction, if any)."""
        with self._thread:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would BEGIN lazily (deferred); we issue BEGIN IMMEDIATE ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def worker_id() -> str:
    """This process, as a lease holder: host and pid."""
    return f"{os.uname().nodename}:{os.getpid()}"
