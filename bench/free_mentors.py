"""``GET /api/v1/mentors/free`` for all 1,000 mentors, through the app, on PostgreSQL + Redis.

Seeds ``bench.dataset`` (5,000 people, 1,000 mentors, ~25,000 meetings, every calendar in the
Redis busy cache) into ``--database-url`` unless ``--reuse``, builds the app as production does
(``create_app`` with the environment: busy cache in Redis, not TESTING), signs a mentee in and
times the request in-process with Flask's test client: server time (routing, the session,
queries, the Redis read, counting, JSON), no network. Rows: the first request of the process
(nothing memoised), the first of a day for a warm process (grids and expansions forgotten),
and the warm request; best and median of ``--repeat``. Then checks the counts against the
plain path (``bookable_slots`` one mentor at a time) for a sample of mentors and fails on any
difference.

``--warm-only`` only (re)writes the calendars into the busy cache (e.g. from the previous
version's tree, whose cache layout differs, to time it on the same data: docs/performance.md).

    python -m bench.free_mentors [--database-url URL] [--redis-url URL] [--reuse] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time as clock
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_free"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"


def _ms(samples: list[float]) -> str:
    return f"best {min(samples):7.1f} ms  median {statistics.median(samples):7.1f} ms  (n={len(samples)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--reuse", action="store_true", help="the database and the cache are seeded already")
    parser.add_argument("--warm-only", action="store_true", help="only write the calendars into the cache")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--sample", type=int, default=100, help="mentors checked against the plain path")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N warm requests (cProfile) and print the top functions")
    args = parser.parse_args(argv)

    from bench.dataset import CALENDAR_TTL_SECONDS, PASSWORD, GeneratedCalendars, mentee_emails, seed

    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "FLASHMENTOR_BUSY_CACHE_TTL": str(CALENDAR_TTL_SECONDS),
            "FLASHMENTOR_JOBS": "0",
            "FLASHMENTOR_RATELIMIT": "0",
        }
    )
    from redis import Redis

    redis = Redis.from_url(args.redis_url)
    if not args.reuse and not args.warm_only:
        made = seed(args.database_url, redis)
        print(
            f"seeded {made.people} people, {made.mentors} mentors, {made.meetings} meetings, "
            f"{made.requests} requests, {made.calendar_events} calendar events in Redis"
            f" in {made.seconds:.0f} s"
        )

    from sqlalchemy import select

    from app import create_app
    from freebusy.batch import forget_grids
    from freebusy.cache import BusyCache, RedisStore
    from freebusy.recurrence import forget_expansions

    try:
        from scheduling.availability import forget_rules
    except ImportError:  # the tree before the weekly-rules memo (a baseline run)
        def forget_rules() -> None:
            pass
    from scheduling.models import Person
    from scheduling.tenants import BUSY_NAMESPACE, busy_cache_prefix

    app = create_app()
    with app.app_context():
        session = app.extensions["db_sessions"]()
        zones = {pid: tz for pid, tz in session.execute(select(Person.id, Person.time_zone))}
        session.close()
    if args.warm_only:  # e.g. the calendars expired, or are wanted in another version's layout
        now = datetime.now(UTC)
        cache = BusyCache(
            RedisStore(redis, prefix=busy_cache_prefix(args.database_url)),
            ttl=timedelta(seconds=CALENDAR_TTL_SECONDS),
            namespace=BUSY_NAMESPACE,
        )
        ids = sorted(zones)
        for i in range(0, len(ids), 500):
            cache.get_or_fetch(
                GeneratedCalendars(zones, 8),
                ids[i : i + 500],
                now - timedelta(days=7),
                now + timedelta(days=63),
            )
        print(f"calendars of {len(ids)} people in the busy cache")
        return 0

    client = app.test_client()
    email = mentee_emails(1)[0]
    signed = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 200, signed.get_data(as_text=True)
    url = "/api/v1/mentors/free?limit=200"

    cpu: list[float] = []

    def timed() -> tuple[float, Any]:
        c0 = clock.process_time()
        t0 = clock.perf_counter()
        res = client.get(url)
        took = (clock.perf_counter() - t0) * 1000
        cpu.append((clock.process_time() - c0) * 1000)
        assert res.status_code == 200, res.get_data(as_text=True)
        return took, res.get_json()

    first, answer = timed()
    cold = []
    for _ in range(max(1, args.repeat // 4)):
        forget_grids()
        forget_expansions()
        forget_rules()
        cold.append(timed()[0])
    cpu.clear()
    warm = [timed()[0] for _ in range(args.repeat)]
    warm_cpu = list(cpu)
    print(
        f"mentors ranked: {answer['total']} with a shared slot (of the 1,000), "
        f"calendars_unread={answer['calendars_unread']}"
    )
    print(f"GET /mentors/free, first request of the process: {first:7.1f} ms")
    print(f"GET /mentors/free, first of the day (no memo):   {_ms(cold)}")
    print(f"GET /mentors/free, warm:                          {_ms(warm)}")
    print(f"GET /mentors/free, warm, CPU time of the process: {_ms(warm_cpu)}")
    if args.profile:
        _profile(lambda: timed(), args.profile)
    return _check(app, client, email, answer, args.sample)


def _profile(request: Any, n: int) -> None:
    """Where a warm request's CPU time goes (``time.process_time`` as the clock, so waiting for a core,
    PostgreSQL or Redis on a loaded machine is left out): cProfile over ``n`` requests, top functions
    by own and total time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile(clock.process_time)
    profiler.enable()
    for _ in range(n):
        request()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)


def _check(app: Any, client: Any, email: str, answer: dict[str, Any], sample: int) -> int:
    """The endpoint's counts equal ``bookable_slots`` listed one mentor at a time (the plain path)."""
    try:
        from scheduling.availability import bookable_slots
    except ImportError:
        return 0
    from datetime import datetime as dt

    from scheduling.models import Person
    from scheduling.services.program import get_program

    start = dt.fromisoformat(answer["from"])
    end = dt.fromisoformat(answer["to"])
    now = start + timedelta(
        seconds=59
    )  # the window starts at "now" cut to the minute; slots are on whole minutes
    with app.app_context():
        session = app.extensions["db_sessions"]()
        from sqlalchemy import select

        viewer = session.scalars(select(Person).where(Person.email == email)).one()
        program = get_program(session)
        got = {m["id"]: m["shared_slots"] for m in answer["mentors"]}
        mentors = session.scalars(
            select(Person).where(Person.is_mentor, Person.active).order_by(Person.id)
        ).all()
        step = max(1, len(mentors) // sample)
        differ = 0
        checked = 0
        for mentor in mentors[::step]:
            listed = len(bookable_slots(session, program, mentor, viewer, start, end, now=now))
            if mentor.id in got:
                checked += 1
                differ += listed != got[mentor.id]
            elif listed and answer["total"] <= len(answer["mentors"]):
                differ += 1  # all ranked mentors are on the page, so one with slots must be there
        session.close()
    print(
        f"checked against bookable_slots: {checked} ranked mentors of a {len(mentors[::step])}-mentor sample,"
        f" {differ} differences"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
