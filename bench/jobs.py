"""Timed work on the production path: relaying due rows to RQ, and running reminder jobs.

Each job is the real pending-request reminder (``WorkKind.REQUEST_REMINDER`` through
``worker.run.run_work``): it loads its row and the request, composes the reminder (text +
HTML), builds the MIME message (mail goes to the log with no SMTP_HOST, so no SMTP server
is timed), records the reminder and marks the row done.

1. relay: N reminder rows due now, handed to RQ by ``worker.relay.relay_once`` (batches of
   500, ``FOR UPDATE SKIP LOCKED``, pipelined ``enqueue_many``), against the old
   per-reminder ``queue.enqueue`` on the same rows (baseline, same run);
2. run: the jobs run by W worker processes of the production class
   (``worker.process.FlashWorker``), against RQ's forking ``Worker`` on a sample
   (baseline, same run: it does ~5 jobs/s, so the whole N would take too long);
3. ``--latency M``: M rows due over one minute, one relay process and W workers running as
   in production; prints due -> done (p50/p95/max) and how long the whole backlog took.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/12 \\
        python -m bench.jobs [--jobs 10000] [--workers 2] [--fork-sample 200] [--latency 100000]

The bench owns the queue ``fm-bench`` and the rows it creates; it empties them first.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Worker
from sqlalchemy import delete, func, insert, select

from scheduling.db import make_engine, make_session_factory
from scheduling.migrate import upgrade
from scheduling.models import (
    MeetingRequest,
    Person,
    Program,
    ProposedTime,
    RequestState,
    TimedWork,
    WorkKind,
    WorkState,
)

QUEUE = "fm-bench"
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)  # past the 3 days: reminders due


def settings(database_url: str, redis_url: str) -> dict[str, object]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "QUEUE_NAME": QUEUE,
        "SMTP_HOST": None,
        "BASE_URL": "http://127.0.0.1:5000",
        "CALENDAR_SYNC_SECONDS": 0,
        "CALENDAR_PUSH_SECONDS": 0,
    }


def seed(database_url: str, n: int) -> list[int]:
    """N pending requests whose reminders are due (one program, one mentor, one mentee)."""
    upgrade(database_url)  # the schema through the migrations, as production builds it
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        db.execute(delete(TimedWork))
        db.execute(delete(ProposedTime))
        db.execute(delete(MeetingRequest))
        db.execute(delete(Person).where(Person.email.like("%@bench-jobs.example")))
        db.execute(delete(Program).where(Program.name == "Bench jobs"))
        program = Program(name="Bench jobs", remind_after_days=3)
        mentor = Person(
            email="mentor@bench-jobs.example",
            name="Bench Mentor",
            is_mentor=True,
            is_mentee=False,
            time_zone="Europe/Paris",
        )
        mentee = Person(email="mentee@bench-jobs.example", name="Bench Mentee", time_zone="Asia/Tokyo")
        db.add_all([program, mentor, mentee])
        db.flush()
        db.execute(
            insert(MeetingRequest),
            [
                {
                    "program_id": program.id,
                    "mentee_id": mentee.id,
                    "mentor_id": mentor.id,
                    "topic": f"Topic {i}",
                    "state": RequestState.PENDING,
                    "created_at": CREATED,
                    "reminders_sent": 0,
                    "version": 1,
                }
                for i in range(n)
            ],
        )
        ids = list(db.scalars(select(MeetingRequest.id).order_by(MeetingRequest.id)))
        start = CREATED + timedelta(days=10)
        db.execute(
            insert(ProposedTime),
            [{"request_id": rid, "start_at": start, "end_at": start + timedelta(minutes=30)} for rid in ids],
        )
        db.commit()
    engine.dispose()
    return ids


def plan(database_url: str, ids: list[int], *, due: datetime, spread: float = 0.0) -> None:
    """One reminder row per request, due at ``due`` (spread evenly over ``spread`` seconds)."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        db.execute(delete(TimedWork))
        db.execute(MeetingRequest.__table__.update().values(reminders_sent=0, last_reminded_at=None))
        step = spread / max(len(ids), 1)
        db.execute(
            insert(TimedWork),
            [
                {
                    "key": f"request-{rid}-reminder",
                    "kind": WorkKind.REQUEST_REMINDER,
                    "args": [rid],
                    "due_at": due + timedelta(seconds=i * step),
                    "state": WorkState.DUE,
                    "attempts": 0,
                    "max_attempts": 6,
                    "relays": 0,
                    "last_error": "",
                    "created_at": due,
                }
                for i, rid in enumerate(ids)
            ],
        )
        db.commit()
    engine.dispose()


def done_rows(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).where(TimedWork.state == WorkState.DONE)) or 0
    engine.dispose()
    return int(n)


def fresh_queue(conn: Redis) -> Queue:
    queue = Queue(QUEUE, connection=conn)
    conn.flushdb()
    return queue


def bench_relay(database_url: str, conn: Redis, ids: list[int]) -> tuple[float, float]:
    from worker.relay import relay_once
    from worker.run import run_work

    t0 = time.perf_counter()
    plan(database_url, ids, due=datetime.now(UTC))
    print(f"schedule {len(ids)} reminders as rows, one transaction (incl. resetting the bench's rows): "
          f"{time.perf_counter() - t0:6.2f} s")
    queue = fresh_queue(conn)
    engine = make_engine(database_url)
    t0 = time.perf_counter()
    relayed = relay_once(make_session_factory(engine), queue, rounds=False).relayed
    relay_s = time.perf_counter() - t0
    engine.dispose()
    assert relayed == len(ids) and queue.count == len(ids), (relayed, queue.count)

    queue = fresh_queue(conn)  # baseline: the old path, one enqueue per reminder
    t0 = time.perf_counter()
    for rid in ids:
        queue.enqueue(run_work, rid, 0, job_id=f"fm-request-{rid}-reminder")
    return relay_s, time.perf_counter() - t0


def work(database_url: str, redis_url: str, worker_class: str) -> None:
    """One worker process in burst mode (the bench's own entry; production runs `flask worker`)."""
    from worker import startup
    from worker.process import FlashWorker

    logging.disable(logging.INFO)
    conn = Redis.from_url(redis_url)
    startup.install(settings(database_url, redis_url), connection=conn)
    cls = FlashWorker if worker_class == "flash" else Worker
    cls([Queue(QUEUE, connection=conn)], connection=conn).work(burst=True, logging_level="WARNING")


def bench_run(
    database_url: str, redis_url: str, conn: Redis, ids: list[int], workers: int, worker_class: str
) -> float:
    from worker.relay import relay_once

    plan(database_url, ids, due=datetime.now(UTC))
    queue = fresh_queue(conn)
    engine = make_engine(database_url)
    relay_once(make_session_factory(engine), queue, rounds=False)
    engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    procs = [ctx.Process(target=work, args=(database_url, redis_url, worker_class)) for _ in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    run_s = time.perf_counter() - t0
    done = done_rows(database_url)
    if done != len(ids):
        raise SystemExit(f"only {done} of {len(ids)} rows done")
    return run_s


def bench_latency(database_url: str, redis_url: str, conn: Redis, ids: list[int], workers: int) -> None:
    """Rows due over one minute; a relay process and W workers as in production."""
    from worker import relay

    fresh_queue(conn)
    start = datetime.now(UTC) + timedelta(seconds=5)
    plan(database_url, ids, due=start, spread=60.0)
    ctx = multiprocessing.get_context("spawn")
    relay_proc = ctx.Process(target=relay.serve, args=(settings(database_url, redis_url),), daemon=True)
    relay_proc.start()
    t0 = time.perf_counter()
    procs = []
    deadline = time.monotonic() + 3600
    while done_rows(database_url) < len(ids):
        if not procs or all(not p.is_alive() for p in procs):  # burst workers: restart while work remains
            procs = [
                ctx.Process(target=work, args=(database_url, redis_url, "flash")) for _ in range(workers)
            ]
            for p in procs:
                p.start()
        if time.monotonic() > deadline:
            raise SystemExit("backlog not done within an hour")
        time.sleep(1)
    total = time.perf_counter() - t0
    relay_proc.terminate()
    for p in procs:
        p.join()
    engine = make_engine(database_url)
    with engine.connect() as c:
        waits = sorted(
            (f - d).total_seconds()
            for d, f in c.execute(
                select(TimedWork.due_at, TimedWork.finished_at).where(TimedWork.state == WorkState.DONE)
            )
        )
    engine.dispose()
    q = statistics.quantiles(waits, n=100)
    print(
        f"latency: {len(ids)} rows due over 60 s, 1 relay + {workers} workers: backlog done {total:6.1f} s "
        f"after the first was due-5s; due->done p50 {q[49]:6.1f} s  p95 {q[94]:6.1f} s  "
        f"max {waits[-1]:6.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fork-sample", type=int, default=200)
    parser.add_argument("--latency", type=int, default=0, help="rows due over a minute (0: skip)")
    parser.add_argument("--relay-only", action="store_true", help="time the relay and its baseline only")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args(argv)
    if not args.database_url or not args.redis_url:
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL: the bench runs the production path")
    conn = Redis.from_url(args.redis_url)
    print(
        f"database {args.database_url.split(':', 1)[0]}; redis {args.redis_url}; "
        f"python {sys.version.split()[0]}"
    )

    ids = seed(args.database_url, args.jobs)
    relay_s, one_by_one_s = bench_relay(args.database_url, conn, ids)
    n = len(ids)
    print(
        f"relay {n} due rows: {relay_s:6.2f} s ({n / relay_s:7.0f} rows/s)   "
        f"baseline one enqueue per reminder: {one_by_one_s:6.2f} s ({n / one_by_one_s:7.0f} jobs/s)   "
        f"ratio {one_by_one_s / relay_s:4.1f}x"
    )

    if args.relay_only:
        return 0
    run_s = bench_run(args.database_url, args.redis_url, conn, ids, args.workers, "flash")
    sample = ids[: args.fork_sample]
    fork_s = bench_run(args.database_url, args.redis_url, conn, sample, args.workers, "fork")
    print(
        f"run {n} reminders, {args.workers} FlashWorker processes: {run_s:6.2f} s "
        f"({n / run_s:6.0f} jobs/s)   "
        f"baseline rq.Worker (fork per job) on {len(sample)}: {fork_s:6.2f} s "
        f"({len(sample) / fork_s:6.1f} jobs/s)   ratio {(n / run_s) / (len(sample) / fork_s):5.1f}x "
        "(both incl. worker start)"
    )

    if args.latency:
        bench_latency(
            args.database_url, args.redis_url, conn, seed(args.database_url, args.latency), args.workers
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
