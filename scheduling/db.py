"""Database plumbing shared by the app, the worker and the tests.

Every datetime column uses :class:`UTCDateTime`, which refuses naive values and
always hands back aware UTC datetimes, so SQLite (which has no time zones) and
PostgreSQL behave the same.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Enum, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from calendars import deadlines

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEFAULT_SQLITE_PATH = os.path.join("instance", "flashmentor.sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC; naive datetimes are a programming error."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; attach a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


M = TypeVar("M")
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns; a bigger number makes PostgreSQL fail the query


def get_row(session: Session, model: type[M], row_id: object, options: Sequence[Any] = ()) -> M | None:
    """The row with this id, or None for anything that cannot be one (a bool, text, out of range);
    ``options``: loader options (e.g. leave a relationship the caller does not read unloaded)."""
    if isinstance(row_id, bool) or not isinstance(row_id, int) or not 0 < row_id <= MAX_ID:
        return None
    return session.get(model, row_id, options=options)


def utcnow() -> datetime:
    return datetime.now(UTC)


def database_url(explicit: str | None = None) -> str:
    """The configured database, defaulting to a SQLite file under ``instance/``."""
    url = explicit or os.environ.get("DATABASE_URL")
    if url:
        return url
    os.makedirs(os.path.dirname(DEFAULT_SQLITE_PATH), exist_ok=True)
    return f"sqlite:///{os.path.abspath(DEFAULT_SQLITE_PATH)}"


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    elif url.startswith("postgresql"):
        # A server that is down or unreachable fails the connect in seconds (libpq waits forever by
        # default), and a pooled connection a restart broke is replaced before use, not failed on.
        if "connect_timeout" not in url:
            seconds = max(2, round(deadlines.current().database_connect))  # libpq: whole seconds, >= 2
            kwargs.setdefault("connect_args", {"connect_timeout": seconds})
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def str_enum(cls: type[enum.Enum], length: int = 32) -> Enum:
    """A portable enum column that stores the member *values* as plain strings."""
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
