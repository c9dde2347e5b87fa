"""What the web app does when something it depends on is down or slow.

- Deadlines (``calendars.deadlines``) are installed for this process, and a Redis
  rate-limit store gets their connect/read timeouts and bounded retry; with the store
  unreachable Flask-Limiter counts in this process (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``).
- Each request reads calendars within one budget (``scheduling.calendar_reads``); pages
  get ``calendar_note`` (shown by ``base.html``) when some calendar could not be read.
- A database that cannot be reached answers 503 (JSON for the API, a page otherwise)
  with ``Retry-After``, never a stack trace. Other database errors are left alone.

``docs/reliability.md`` says what a user sees in each outage.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from flask import Flask
from sqlalchemy import exc as sa_exc

from calendars import deadlines as deadlines_mod
from calendars.deadlines import Deadlines
from scheduling import calendar_reads
from scheduling.services.transaction import lost_race

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30
DB_DOWN_MESSAGE = "The database cannot be reached just now. Nothing was changed; try again in a minute."
# PostgreSQL SQLSTATEs that mean "no usable connection": connection exceptions (08...), the
# server shutting down or starting (57P01-57P03), too many connections (53300).
UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# SQLite: the file cannot be opened, or another writer holds it past the busy timeout.
SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked")


def init_resilience(app: Flask) -> None:
    """Install deadlines, the rate limiter's store options, the calendar budget and the 503 handler."""
    config = app.config
    deadlines: Deadlines = config.get("DEADLINES") or Deadlines.from_env()
    config["DEADLINES"] = deadlines
    deadlines_mod.configure(deadlines)
    if not config.get("RATELIMIT_STORAGE_OPTIONS"):
        config["RATELIMIT_STORAGE_OPTIONS"] = ratelimit_storage_options(
            config.get("RATELIMIT_STORAGE_URI"), deadlines
        )

    @app.before_request
    def _calendar_budget() -> None:
        calendar_reads.begin(deadlines.calendar_read_budget)

    @app.teardown_request
    def _calendar_budget_end(_exc: BaseException | None) -> None:
        calendar_reads.end()

    @app.context_processor
    def _calendar_note() -> dict[str, Any]:
        return {"calendar_note": calendar_reads.note()}

    for kind in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.register_error_handler(kind, _database_error)


def ratelimit_storage_options(uri: str | None, deadlines: Deadlines) -> dict[str, Any]:
    """Client options for a Redis rate-limit store (timeouts, bounded retry); none for other stores."""
    if uri and uri.split(":", 1)[0] in {"redis", "rediss", "redis+unix"}:
        return deadlines_mod.redis_options(deadlines)
    return {}


def database_unavailable(error: BaseException) -> bool:
    """Whether a database error means "cannot reach the database" (rather than a bad statement,
    a deadlock or a constraint): a dropped or refused connection, a pool with none to give."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection became free in time
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, sa_exc.InterfaceError):
        return True
    orig = error.orig
    state = getattr(orig, "sqlstate", None)
    module = type(orig).__module__
    if module.startswith("psycopg"):
        return state is None or state.startswith(UNAVAILABLE_STATES)
    if module.startswith("sqlite3"):
        return any(text in str(orig) for text in SQLITE_UNAVAILABLE)
    return False


def _database_error(error: Exception) -> Any:
    from app.db import db
    from app.errors import error_response

    if lost_race(error):  # a deadlock or serialization failure outside the services' own retry
        with suppress(sa_exc.SQLAlchemyError):
            db().rollback()
        return error_response("concurrent_change", "Someone changed this at the same moment; nothing was "
                              "changed. Try again.", 409)
    if not database_unavailable(error):
        raise error
    log.error("database unavailable: %s", error)
    with suppress(sa_exc.SQLAlchemyError):  # the connection is gone; the session is dropped at teardown
        db().rollback()
    body, status = error_response("database_unavailable", DB_DOWN_MESSAGE, 503)
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}
