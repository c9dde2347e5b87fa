"""Timed work on the production path: relaying due rows to RQ, and running reminder jobs.

Each job is the real pending-request reminder (``WorkKind.REQUEST_REMINDER`` through
``worker.run``): it loads its row and the request, composes the reminder (text + HTML),
builds the MIME message (mail goes to the log with no SMTP_HOST, so no SMTP server is
timed), records the reminder and marks the row done.

1. schedule: N reminder rows written in one transaction, as the bench always did (ORM
   executemany) against one multi-row INSERT per 1,000 rows and PostgreSQL's COPY (same run);
2. relay: the N due rows handed to RQ by ``worker.relay.relay_once`` (``FOR UPDATE SKIP
   LOCKED``, pipelined ``enqueue_many``) in batches of B rows per job and one row per job,
   against the old per-reminder ``queue.enqueue`` (baseline, same run);
3. run: the jobs run by W worker processes of the production class
   (``worker.process.FlashWorker``) with B rows per job and with one row per job (today's
   behaviour until the batched hand-over; baseline, same run); prints jobs/s and the worker
   processes' CPU ms per reminder (their ``time.process_time`` over the reminders);
   ``--fork-sample K`` adds RQ's forking ``Worker`` on K rows (~1 job/s here);
4. ``--latency M``: M rows due over one minute, one relay process and W workers running as
   in production; prints due -> done (p50/p95/max) and how long the whole backlog took.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/12 \\
        python -m bench.jobs [--jobs 10000] [--workers 2] [--batch-size 50] [--fork-sample 0] \\
        [--latency 100000] [--profile]

The bench owns the queue ``fm-bench`` and the rows it creates; it empties them first.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Queue, Worker
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

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


def _rows(ids: list[int], due: datetime, spread: float) -> list[dict[str, Any]]:
    step = spread / max(len(ids), 1)
    return [
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
    ]


def _reset(db: Session) -> None:
    db.execute(delete(TimedWork))
    db.execute(MeetingRequest.__table__.update().values(reminders_sent=0, last_reminded_at=None))


def plan(database_url: str, ids: list[int], *, due: datetime, spread: float = 0.0, how: str = "orm") -> float:
    """One reminder row per request, due at ``due`` (spread evenly over ``spread`` seconds);
    seconds the insert and its commit took (the reset before it is not timed).

    ``how``: ``orm`` (the ORM's executemany of the dicts), ``values`` (one multi-row INSERT per
    1,000 rows) or ``copy`` (PostgreSQL's COPY FROM STDIN)."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as db:
        _reset(db)
        db.commit()
        rows = _rows(ids, due, spread)
        t0 = time.perf_counter()
        if how == "orm":
            db.execute(insert(TimedWork), rows)
        elif how == "values":
            for start in range(0, len(rows), 1000):
                db.execute(insert(TimedWork).values(rows[start:start + 1000]))
        else:
            _copy(db, rows)
        db.commit()
        took = time.perf_counter() - t0
    engine.dispose()
    return took


def _copy(db: Session, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    raw = db.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(
        f"COPY timed_work ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c == "args" else getattr(row[c], "value", row[c])
                            for c in columns])


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


def bench_schedule(database_url: str, ids: list[int]) -> dict[str, float]:
    now = datetime.now(UTC)
    hows = ("orm", "values", "copy") if database_url.startswith("postgresql") else ("orm", "values")
    return {how: plan(database_url, ids, due=now, how=how) for how in hows}


def bench_relay(database_url: str, conn: Redis, ids: list[int], batch_size: int) -> dict[str, float]:
    from worker.relay import relay_once
    from worker.run import run_work

    took = {}
    for size in (batch_size, 1):
        plan(database_url, ids, due=datetime.now(UTC), how="copy" if database_url.startswith("postgresql")
             else "values")
        queue = fresh_queue(conn)
        engine = make_engine(database_url)
        t0 = time.perf_counter()
        relayed = relay_once(make_session_factory(engine), queue, rounds=False, batch_size=size).relayed
        took[f"relay, {size} per job"] = time.perf_counter() - t0
        engine.dispose()
        assert relayed == len(ids) and queue.count == -(-len(ids) // size), (relayed, queue.count)

    queue = fresh_queue(conn)  # baseline: the old path, one enqueue per reminder
    t0 = time.perf_counter()
    for rid in ids:
        queue.enqueue(run_work, rid, 0, job_id=f"fm-request-{rid}-reminder")
    took["one enqueue per reminder"] = time.perf_counter() - t0
    return took


def work(database_url: str, redis_url: str, worker_class: str, cpu: Any, profile: str = "") -> None:
    """One worker process in burst mode (the bench's own entry; production runs `flask worker`);
    puts its CPU seconds on ``cpu``."""
    import cProfile

    from worker import startup
    from worker.process import FlashWorker

    logging.disable(logging.INFO)
    conn = Redis.from_url(redis_url)
    startup.install(settings(database_url, redis_url), connection=conn)
    cls = FlashWorker if worker_class == "flash" else Worker
    worker = cls([Queue(QUEUE, connection=conn)], connection=conn)
    cpu0 = time.process_time()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    worker.work(burst=True, logging_level="WARNING")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{os.getpid()}")
    cpu.put(time.process_time() - cpu0)


def bench_run(
    database_url: str, redis_url: str, conn: Redis, ids: list[int], workers: int, worker_class: str,
    batch_size: int, profile: str = "",
) -> tuple[float, float]:
    """Seconds to run every reminder, and the workers' CPU seconds (summed)."""
    from worker.relay import relay_once

    plan(database_url, ids, due=datetime.now(UTC), how="copy" if database_url.startswith("postgresql")
         else "values")
    queue = fresh_queue(conn)
    engine = make_engine(database_url)
    relay_once(make_session_factory(engine), queue, rounds=False, batch_size=batch_size)
    engine.dispose()
    ctx = multiprocessing.get_context("spawn")
    cpu = ctx.Queue()
    t0 = time.perf_counter()
    procs = [ctx.Process(target=work, args=(database_url, redis_url, worker_class, cpu, profile))
             for _ in range(workers)]
    for p in procs:
        p.start()
    cpu_s = sum(cpu.get() for _ in procs)
    for p in procs:
        p.join()
    run_s = time.perf_counter() - t0
    done = done_rows(database_url)
    if done != len(ids):
        raise SystemExit(f"only {done} of {len(ids)} rows done")
    return run_s, cpu_s


def bench_latency(database_url: str, redis_url: str, conn: Redis, ids: list[int], workers: int,
                  batch_size: int) -> None:
    """Rows due over one minute; a relay process and W workers as in production."""
    from worker import relay

    fresh_queue(conn)
    start = datetime.now(UTC) + timedelta(seconds=5)
    plan(database_url, ids, due=start, spread=60.0, how="copy" if database_url.startswith("postgresql")
         else "values")
    ctx = multiprocessing.get_context("spawn")
    relay_settings = {**settings(database_url, redis_url), "RELAY_BATCH_SIZE": batch_size}
    relay_proc = ctx.Process(target=relay.serve, args=(relay_settings,), daemon=True)
    relay_proc.start()
    cpu = ctx.Queue()
    t0 = time.perf_counter()
    procs: list[Any] = []
    deadline = time.monotonic() + 3600
    while done_rows(database_url) < len(ids):
        if not procs or all(not p.is_alive() for p in procs):  # burst workers: restart while work remains
            procs = [
                ctx.Process(target=work, args=(database_url, redis_url, "flash", cpu)) for _ in range(workers)
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
        reminded = MeetingRequest.reminders_sent
        sent = c.execute(select(func.sum(reminded), func.max(reminded))).one()
        worst = c.execute(select(func.max(TimedWork.relays), func.max(TimedWork.attempts))).one()
    engine.dispose()
    q = statistics.quantiles(waits, n=100)
    print(
        f"latency: {len(ids)} rows due over 60 s, 1 relay ({batch_size} per job) + {workers} workers: "
        f"backlog done {total:6.1f} s after the first was due-5s; due->done p50 {q[49]:6.1f} s  "
        f"p95 {q[94]:6.1f} s  max {waits[-1]:6.1f} s; reminders sent {sent[0]} (max {sent[1]} per request), "
        f"max relays {worst[0]}, max attempts {worst[1]}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50, help="rows per RQ job (the baseline is 1)")
    parser.add_argument("--baseline-jobs", type=int, default=0,
                        help="reminders for the one-row-per-job baseline run (0: same as --jobs)")
    parser.add_argument("--fork-sample", type=int, default=0, help="rows for RQ's forking Worker (0: skip)")
    parser.add_argument("--latency", type=int, default=0, help="rows due over a minute (0: skip)")
    parser.add_argument("--relay-only", action="store_true", help="time scheduling and relaying only")
    parser.add_argument("--schedule-only", action="store_true", help="time scheduling only")
    parser.add_argument("--profile", default="", help="cProfile each batched worker into PREFIX.<pid>")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    args = parser.parse_args(argv)
    if not args.database_url or not args.redis_url:
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL: the bench runs the production path")
    conn = Redis.from_url(args.redis_url)
    print(
        f"database {args.database_url.split(':', 1)[0]}; redis {args.redis_url}; "
        f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.1f}"
    )

    ids = seed(args.database_url, args.jobs)
    n = len(ids)
    for how, took in bench_schedule(args.database_url, ids).items():
        print(f"schedule {n} reminders as rows, one transaction, {how:6}: {took:6.2f} s "
              f"({n / took:7.0f} rows/s)")
    if args.schedule_only:
        return 0
    relayed = bench_relay(args.database_url, conn, ids, args.batch_size)
    print("relay " + "   ".join(f"{what}: {took:6.2f} s ({n / took:7.0f} rows/s)"
                                for what, took in relayed.items()))

    if args.relay_only:
        return 0
    base = ids[: args.baseline_jobs or n]
    for size, rows in ((args.batch_size, ids), (1, base)):
        run_s, cpu_s = bench_run(args.database_url, args.redis_url, conn, rows, args.workers, "flash", size,
                                 args.profile if size > 1 else "")
        print(f"run {len(rows)} reminders, {args.workers} FlashWorker processes, {size:3} per job: "
              f"{run_s:7.2f} s ({len(rows) / run_s:6.0f} jobs/s)   "
              f"worker CPU {1000 * cpu_s / len(rows):5.2f} ms per reminder (incl. worker start)   "
              f"load average {os.getloadavg()[0]:.1f}")
    if args.fork_sample:
        sample = ids[: args.fork_sample]
        fork_s, _ = bench_run(args.database_url, args.redis_url, conn, sample, args.workers, "fork", 1)
        print(f"run {len(sample)} reminders, rq.Worker (fork per job): {fork_s:6.2f} s "
              f"({len(sample) / fork_s:6.1f} jobs/s)")

    if args.latency:
        bench_latency(args.database_url, args.redis_url, conn, seed(args.database_url, args.latency),
                      args.workers, args.batch_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
