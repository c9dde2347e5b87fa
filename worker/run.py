"""The one RQ job function: run a timed work row, then record how it went on the row.

The relay enqueues ``run_work(work_id, relays)``; ``relays`` names the hand-over, so a job
from an older hand-over (the row was re-planned, retried, or recovered from a dead
worker since) does nothing. Success marks the row done; a failure records the error and
books the retry on the row (or marks it dead after the last) and is re-raised, so RQ's
failed registry keeps the traceback.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import select, update

from scheduling import timed_work
from scheduling.db import utcnow
from scheduling.models import TimedWork, WorkState
from worker import runtime
from worker.jobs import JOBS

JOB_SECONDS = Histogram(
    "flashmentor_job_duration_seconds", "Seconds a timed work row's job ran, per WorkKind and outcome",
    ["kind", "outcome"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))


def run_work(work_id: int, relays: int) -> Any:
    with runtime.session_scope() as db:
        row = db.get(TimedWork, work_id)
        if row is None or row.relays != relays or row.state != WorkState.QUEUED:
            return None  # superseded, canceled or finished by another hand-over
        kind, args = row.kind, list(row.args)
    began = time.perf_counter()
    try:
        result = JOBS[kind](*args)
    except Exception as exc:
        JOB_SECONDS.labels(kind.value, "error").observe(time.perf_counter() - began)
        _finish(work_id, relays, error=_describe(exc))
        raise
    JOB_SECONDS.labels(kind.value, "ok").observe(time.perf_counter() - began)
    _finish(work_id, relays, error=None)
    return result


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()


def _finish(work_id: int, relays: int, *, error: str | None) -> None:
    """Record the outcome, unless the row moved on meanwhile (re-planned, recovered)."""
    with runtime.session_scope() as db:
        mine = (TimedWork.id == work_id, TimedWork.relays == relays, TimedWork.state == WorkState.QUEUED)
        now = utcnow()
        if error is None:  # the common case: one statement
            done = {"state": WorkState.DONE, "finished_at": now, "last_error": ""}
            db.execute(update(TimedWork).where(*mine).values(**done))
        else:
            row = db.scalar(select(TimedWork).where(*mine).with_for_update())
            if row is not None:
                timed_work.record_failure(row, error, now=now)
        db.commit()
