"""What each request of ``bench/load.py``'s mix costs the web process, in-process and on one core.

Builds the app as production does (``create_app()`` from the environment: PostgreSQL, the busy cache
in Redis, not TESTING, JSON request logs, metrics), signs a mentee and an admin in with Flask's test
client, then sends each endpoint of the mix ``--repeat`` times (after ``--warm`` untimed requests) and
prints, per endpoint, the CPU time of this process per request (``time.process_time``: the figure that
bounds a gunicorn worker's throughput, and that other jobs on the machine do not inflate), the wall time,
and the SQL statements per request. ``--profile NAME`` prints that endpoint's cProfile top functions.
Run it against a database seeded by ``bench.load`` / ``bench.free_mentors`` (``bench.dataset``):

    python -m bench.mix_profile [--database-url URL] [--redis-url URL] [--repeat 30] [--profile directory]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import random
import statistics
import sys
import time
from typing import Any

from bench.load import DEFAULT_DB, DEFAULT_REDIS, MIX, _url_for

ENDPOINTS = [name for name, _ in MIX] + ["health"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warm", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated endpoints (default: all)")
    parser.add_argument("--profile", default="", help="an endpoint to profile with cProfile")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sql", action="store_true", help="print the statements of one request per endpoint")
    args = parser.parse_args(argv)

    from bench.dataset import CALENDAR_TTL_SECONDS, PASSWORD, mentee_emails

    os.environ.update({
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "RATELIMIT_STORAGE_URI": args.redis_url,
        "FLASK_SECRET_KEY": "bench-mix",
        "FLASHMENTOR_BUSY_CACHE_TTL": str(CALENDAR_TTL_SECONDS),
        "FLASHMENTOR_JOBS": "0",
        "FLASHMENTOR_RATELIMIT": "0",
        "FLASHMENTOR_CALENDAR_SYNC_SECONDS": "0",
        "FLASHMENTOR_CALENDAR_PUSH_SECONDS": "0",
    })
    from sqlalchemy import event

    from app import create_app

    app = create_app()
    for handler in logging.getLogger().handlers:  # the JSON request lines are made, then dropped
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (open for the process's life)
    statements = [0]
    shown: list[str] = []

    @event.listens_for(app.extensions["db_engine"], "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements[0] += 1
        shown.append(" ".join(sql.split())[:240])

    def sign_in(email: str) -> Any:
        client = app.test_client()
        reply = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert reply.status_code == 200, reply.get_data(as_text=True)
        return client

    mentee = sign_in(mentee_emails(1)[0])
    admin = sign_in("person4999@bench.example")
    wanted = [n for n in args.only.split(",") if n] or ENDPOINTS
    rnd = random.Random(7)
    print(f"{'endpoint':<15} {'CPU ms p50':>10} {'mean':>7} {'wall ms p50':>11} {'SQL/req':>8}"
          f"  (n={args.repeat})")
    for name in wanted:
        client = admin if name == "health report" else mentee

        def get(name: str = name, client: Any = client) -> None:
            reply = client.get(_url_for(name, rnd))
            assert reply.status_code == 200, (name, reply.status_code, reply.get_data(as_text=True)[:300])

        for _ in range(args.warm):
            get()
        if args.sql:
            shown.clear()
            get()
            print(f"--- {name}: {len(shown)} statements")
            print("\n".join(shown))
        cpu: list[float] = []
        wall: list[float] = []
        before = statements[0]
        profiler = cProfile.Profile() if name == args.profile else None
        for _ in range(args.repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            get()
            if profiler:
                profiler.disable()
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        per = (statements[0] - before) / args.repeat
        print(f"{name:<15} {statistics.median(cpu):>10.1f} {statistics.mean(cpu):>7.1f} "
              f"{statistics.median(wall):>11.1f} {per:>8.1f}")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
