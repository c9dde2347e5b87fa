"""The RQ job functions: run timed work rows, then record how each went on its row.

The relay enqueues ``run_work(work_id, relays)`` for a row on its own, or
``run_batch(kind, [[work_id, relays], ...])`` for several due rows of one kind; ``relays``
names the hand-over, so a row from an older hand-over (re-planned, retried, canceled, or
recovered from a dead worker since) is skipped. Success marks the row done; a failure
records the error and books the retry on the row (or marks it dead after the last).
``run_work`` re-raises, so RQ's failed registry keeps the traceback; ``run_batch`` keeps
each failed row's traceback in its ``last_error`` and goes on with the next row: one
row's failure retries (or deads) that row only.

Each row of a batch runs in its own transactions and under its own timeout (its kind's),
so rows done before a crash stay done and the relay's recovery re-hands only the rest.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from prometheus_client import Histogram
from rq.timeouts import BaseTimeoutException, JobTimeoutException, UnixSignalDeathPenalty
from sqlalchemy import Connection, select, update

from scheduling import timed_work
from scheduling.db import utcnow
from scheduling.models import TimedWork, WorkKind, WorkState
from worker import runtime
from worker.jobs import JOBS, timeout

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


def run_batch(kind: str, items: Sequence[Sequence[int]]) -> dict[str, int]:
    """Run several rows of one kind, each as ``run_work`` would; how many ran, failed, were skipped.

    A failing row is recorded (retry or dead) and the batch goes on; it does not raise, so
    the batch's job finishes and the relay never re-hands rows that reported. The rows'
    own bookkeeping (is it still mine? done) goes over one autocommit connection held for
    the batch: two statements a row instead of a session, a pool check-out (with its ping),
    BEGIN and COMMIT or ROLLBACK for each. The jobs' ``runtime.session_scope`` gets one
    session on one more held connection (``runtime.batch_session``), cleared after each use:
    each row still commits (or rolls back) its own transaction, without a check-out.
    """
    work_kind = WorkKind(kind)
    counts = {"ran": 0, "failed": 0, "skipped": 0}
    engine = runtime.session_factory().kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as book, \
            runtime.batch_session() as shared:
        for work_id, relays in items:
            try:
                with _row_timeout(timeout(work_kind)):
                    ran = _run_row(book, work_id, relays)
            except (Exception, BaseTimeoutException):
                error = traceback.format_exc()
                shared.reset()  # the failed row's session and connection go; the next row gets fresh ones
                _finish(work_id, relays, error=error)
                counts["failed"] += 1
                continue
            counts["ran" if ran else "skipped"] += 1
    return counts


def _mine(work_id: int, relays: int) -> tuple[Any, ...]:
    """The row, as long as it is still this hand-over's (not re-planned, canceled or finished)."""
    return TimedWork.id == work_id, TimedWork.relays == relays, TimedWork.state == WorkState.QUEUED


def _run_row(book: Connection, work_id: int, relays: int) -> bool:
    """One row of a batch: False if it moved on since its hand-over (skipped)."""
    found = book.execute(select(TimedWork.kind, TimedWork.args).where(*_mine(work_id, relays))).first()
    if found is None:
        return False
    kind, args = found
    began = time.perf_counter()
    try:
        JOBS[kind](*args)
    except BaseException:
        JOB_SECONDS.labels(kind.value, "error").observe(time.perf_counter() - began)
        raise
    JOB_SECONDS.labels(kind.value, "ok").observe(time.perf_counter() - began)
    book.execute(update(TimedWork).where(*_mine(work_id, relays)).values(_done()))
    return True


def _done() -> dict[str, Any]:
    return {"state": WorkState.DONE, "finished_at": utcnow(), "last_error": ""}


@contextmanager
def _row_timeout(seconds: int) -> Iterator[None]:
    """The row's own timeout (its kind's), with SIGALRM as RQ's worker enforces a job's.

    It replaces the batch job's alarm while the row runs (the batch's timeout is the sum of
    its rows', see worker.relay); off the main thread no signal can be used, and the batch's
    own timeout is the bound."""
    guard = (
        UnixSignalDeathPenalty(seconds, JobTimeoutException)
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
        else nullcontext()
    )
    with guard:
        yield


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()


def _finish(work_id: int, relays: int, *, error: str | None) -> None:
    """Record the outcome, unless the row moved on meanwhile (re-planned, recovered)."""
    with runtime.session_scope() as db:
        if error is None:  # the common case: one statement
            db.execute(update(TimedWork).where(*_mine(work_id, relays)).values(_done()))
        else:
            row = db.scalar(select(TimedWork).where(*_mine(work_id, relays)).with_for_update())
            if row is not None:
                timed_work.record_failure(row, error, now=utcnow())
        db.commit()
