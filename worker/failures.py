"""What the admin sees of timed work: what waits, what is overdue, what failed (waiting for a
retry) or is dead, with the traceback of the last run, and the backlog counts.

A row run in a job of its own re-raises, so RQ keeps its traceback; a row that failed inside a
batch (``batch_job_id``) did not fail the batch's job, so its traceback is its own ``last_error``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.db import utcnow
from scheduling.models import TimedWork, WorkKind, WorkState
from scheduling.models.work import job_id_for

OVERDUE_AFTER = timedelta(minutes=1)  # due this long and still not handed to a worker
SHOWS = ("failed", "due", "overdue", "queued", "dead")


def failed_jobs(session: Session, connection: Redis | None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest failed work (retrying or dead) with its error, newest first."""
    return list_work(session, connection, show="failed", limit=limit)


def list_work(
    session: Session, connection: Redis | None, *, show: str = "failed", kind: WorkKind | None = None,
    limit: int = 50, now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Timed work by what it is doing: ``failed`` (retrying, or dead), ``due`` (waiting for its
    time), ``overdue``, ``queued`` (with a worker) or ``dead``; optionally of one kind."""
    now = now or utcnow()
    where = {
        "failed": [TimedWork.attempts > 0, TimedWork.state.in_([WorkState.DUE, WorkState.DEAD])],
        "due": [TimedWork.state == WorkState.DUE, TimedWork.due_at > now],
        "overdue": [TimedWork.state == WorkState.DUE, TimedWork.due_at <= now - OVERDUE_AFTER],
        "queued": [TimedWork.state == WorkState.QUEUED],
        "dead": [TimedWork.state == WorkState.DEAD],
    }[show]
    if kind is not None:
        where.append(TimedWork.kind == kind)
    order = TimedWork.due_at.asc() if show in ("due", "overdue") else TimedWork.id.desc()
    rows = list(session.scalars(select(TimedWork).where(*where).order_by(order).limit(max(limit, 1))))
    traces = _tracebacks(connection, [row for row in rows if row.attempts and not row.batch_job_id])
    return [
        {
            "id": row.job_id,
            "work_id": row.id,
            "key": row.key,
            "function": row.kind.value,
            "args": [_plain(a) for a in row.args],
            "kwargs": {},
            "state": row.state.value,
            "attempts": row.attempts,
            "error": row.last_error.strip().splitlines()[-1] if row.last_error.strip() else "",
            "traceback": row.last_error if row.batch_job_id else traces.get(row.id, ""),
            "failed_at": row.relayed_at or row.finished_at or row.created_at,
            "retry_at": row.due_at if row.state == WorkState.DUE and row.attempts else None,
            "due_at": row.due_at,
        }
        for row in rows
    ]


def _tracebacks(connection: Redis | None, rows: list[TimedWork]) -> dict[int, str]:
    """The traceback of each row's last failed job, where Redis still has it."""
    if connection is None or not rows:
        return {}
    ids = [_last_job_id(row) for row in rows]
    try:
        jobs = Job.fetch_many(ids, connection=connection)
    except RedisError:
        return {}
    out = {}
    for row, job in zip(rows, jobs, strict=True):
        result = job.latest_result() if job is not None else None
        if result is not None and result.exc_string:
            out[row.id] = result.exc_string
    return out


def _last_job_id(row: TimedWork) -> str:
    """A dead row keeps the hand-over that failed; a retrying one moved on to the next."""
    return job_id_for(row.key, row.relays if row.state == WorkState.DEAD else row.relays - 1)


def backlog(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Counts of open work: due later, overdue (due but not handed over), queued, dead."""
    now = now or utcnow()
    overdue = session.scalar(
        select(func.count()).select_from(TimedWork)
        .where(TimedWork.state == WorkState.DUE, TimedWork.due_at <= now - OVERDUE_AFTER)
    ) or 0
    by_state = session.execute(select(TimedWork.state, func.count()).group_by(TimedWork.state))
    counts = {state: n for state, n in by_state}
    return {
        "due": int(counts.get(WorkState.DUE, 0)),
        "overdue": int(overdue),
        "queued": int(counts.get(WorkState.QUEUED, 0)),
        "dead": int(counts.get(WorkState.DEAD, 0)),
    }


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
