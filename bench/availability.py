"""How long the shared-slot computation takes for one mentor and for a 1,000-mentor ranking.

Builds a synthetic program in memory: ``--mentors`` mentors spread over real time zones
(incl. half-hour and 45-minute offsets), each with 2-5 weekly windows in their own zone
and ~``--busy`` busy intervals over ``--days`` days; one mentee with ~``--busy`` busy
intervals. Busy time is served by ``freebusy.cache.BusyCache`` in front of a counting
source and warmed first, so the figures are "with cached busy data" (the second fetch
is checked to make no source call).

It then times, in the same run:

* **engine**: what ``scheduling.availability`` does per mentor - ``expand_weekly``
  (dateutil rrule + zoneinfo), the cached busy lookup, ``count_slots``/``cut_slots``;
* **naive reference**: minute by minute - each availability window expanded day by day
  with plain ``datetime(..., tzinfo=zone)``, every busy minute put in a set, every
  minute of every window tried as a slot start (on the local grid, via ``astimezone``)
  and every minute of the slot checked against the sets.

Both must give the same slot counts for every mentor (checked; the run fails if not).
With ``--db`` it also times ``scheduling.availability.shared_slot_counts`` end to end
on a fresh SQLite file (the app's path: weekly/dated slots and meetings from the
database, calendar busy through the cache).

    python -m bench.availability [--mentors 1000] [--busy 50] [--days 14] [--repeat 5] [--db]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calendars.base import BusyInterval
from freebusy.busy import StaticBusySource
from freebusy.cache import BusyCache
from freebusy.recurrence import WeeklyRule, expand_weekly, forget_expansions, zone
from freebusy.slots import count_slots, cut_slots

ZONES = (
    "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
    "Australia/Adelaide", "Europe/Berlin", "America/Los_Angeles", "Asia/Kathmandu", "UTC",
)
SLOT_MINUTES = 30
LEAD_HOURS = 24
# A Monday: the 14 days hold the US spring clock change (2030-03-10) and a run of
# weeks with London and Sydney on different sides of theirs later in the month.
START = datetime(2030, 3, 4, tzinfo=UTC)


@dataclass
class Mentor:
    key: int
    zone: str
    rules: list[WeeklyRule]


@dataclass
class World:
    mentors: list[Mentor]
    mentee_key: int
    source: StaticBusySource
    start: datetime
    end: datetime
    now: datetime


def build(n: int, busy_per_person: int, days: int, seed: int) -> World:
    rnd = random.Random(seed)
    start, end = START, START + timedelta(days=days)
    mentors = []
    busy: dict[Any, list[BusyInterval]] = {}
    for i in range(n):
        tz = ZONES[i % len(ZONES)]
        rules = []
        for weekday in rnd.sample(range(5), rnd.randint(2, 5)):
            s = rnd.choice(range(8 * 60, 16 * 60, 30))
            e = s + rnd.choice((60, 90, 120, 180))
            rules.append(WeeklyRule(weekday, time(s // 60, s % 60), time(e // 60, e % 60), tz))
        mentors.append(Mentor(i, tz, rules))
        busy[i] = random_busy(rnd, start, days, busy_per_person)
    mentee_key = n
    busy[mentee_key] = random_busy(rnd, start, days, busy_per_person)
    return World(mentors, mentee_key, StaticBusySource(busy), start, end, now=start - timedelta(hours=6))


def random_busy(rnd: random.Random, start: datetime, days: int, count: int) -> list[BusyInterval]:
    """``count`` meetings of 15-120 minutes at 15-minute marks; some overlap, as in real calendars."""
    out = []
    for _ in range(count):
        s = start + timedelta(minutes=15 * rnd.randrange(days * 96))
        out.append(BusyInterval(s, s + timedelta(minutes=rnd.choice((15, 30, 45, 60, 90, 120)))))
    return out


# --- the engine (what scheduling.availability runs per mentor) ----------------------------------


def engine_counts(world: World, cache: BusyCache, mentors: Sequence[Mentor]) -> dict[int, int]:
    keys = [m.key for m in mentors] + [world.mentee_key]
    busy = cache.get_or_fetch(world.source, keys, world.start, world.end)
    mentee_busy = busy[world.mentee_key]
    not_before = world.now + timedelta(hours=LEAD_HOURS)
    out = {}
    for m in mentors:
        avail = expand_weekly(m.rules, world.start, world.end)
        out[m.key] = count_slots(avail, minutes=SLOT_MINUTES, time_zone=zone(m.zone),
                                 not_before=not_before, busy=[mentee_busy, busy[m.key]])
    return out


def engine_one(world: World, cache: BusyCache, mentor: Mentor) -> int:
    busy = cache.get_or_fetch(world.source, [mentor.key, world.mentee_key], world.start, world.end)
    avail = expand_weekly(mentor.rules, world.start, world.end)
    slots = cut_slots(avail, minutes=SLOT_MINUTES, time_zone=zone(mentor.zone),
                      not_before=world.now + timedelta(hours=LEAD_HOURS),
                      busy=[busy[world.mentee_key], busy[mentor.key]])
    return len(slots)


# --- the naive reference: minute by minute ------------------------------------------------------


def _minute(moment: datetime, base: datetime) -> int:
    return int((moment - base).total_seconds() // 60)


def naive_busy_minutes(intervals: Sequence[BusyInterval], base: datetime) -> set[int]:
    out: set[int] = set()
    for b in intervals:
        out.update(range(_minute(b.start, base), _minute(b.end, base)))
    return out


def naive_count(world: World, mentor: Mentor, mentee_minutes: set[int]) -> int:
    base = world.start
    tz = ZoneInfo(mentor.zone)
    mentor_minutes = naive_busy_minutes(world.source.data.get(mentor.key, []), base)
    lo, hi = 0, _minute(world.end, base)
    lead = _minute(world.now + timedelta(hours=LEAD_HOURS), base)
    available: set[int] = set()
    day = (world.start - timedelta(days=1)).date()
    while day <= (world.end + timedelta(days=1)).date():
        for r in mentor.rules:
            if day.weekday() == r.weekday:
                s = datetime.combine(day, r.start, tzinfo=tz).astimezone(UTC)
                e = datetime.combine(day, r.end, tzinfo=tz).astimezone(UTC)
                available.update(range(max(lo, _minute(s, base)), min(hi, _minute(e, base))))
        day += timedelta(days=1)
    count = 0
    for t in sorted(available):
        if t < lead:
            continue
        local = (base + timedelta(minutes=t)).astimezone(tz)
        if local.minute % SLOT_MINUTES:
            continue
        if all(x in available and x not in mentor_minutes and x not in mentee_minutes
               for x in range(t, t + SLOT_MINUTES)):
            count += 1
    return count


def naive_counts(world: World, mentors: Sequence[Mentor]) -> dict[int, int]:
    mentee_minutes = naive_busy_minutes(world.source.data.get(world.mentee_key, []), world.start)
    return {m.key: naive_count(world, m, mentee_minutes) for m in mentors}


# --- timing ---------------------------------------------------------------------------------------


def best_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) wall time in milliseconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = clock.perf_counter()
        fn()
        times.append((clock.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


def db_path(world: World, repeat: int) -> tuple[float, float, int]:
    """``shared_slot_counts`` end to end on SQLite (people, weekly slots in the database)."""
    import tempfile

    from freebusy.cache import CachedBusySource
    from scheduling import availability
    from scheduling.db import Base, make_engine, make_session_factory
    from scheduling.models import Person, Program, WeeklySlot

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        Base.metadata.create_all(engine)
        session = make_session_factory(engine)()
        program = Program(name="Bench", slot_minutes=SLOT_MINUTES, lead_time_hours=LEAD_HOURS)
        session.add(program)
        people: list[Person] = []
        for m in world.mentors:
            p = Person(name=f"Mentor {m.key}", email=f"m{m.key}@example.com", time_zone=m.zone,
                       is_mentor=True)
            p.weekly_slots = [WeeklySlot(weekday=r.weekday, start_time=r.start, end_time=r.end,
                                         time_zone=r.time_zone) for r in m.rules]
            people.append(p)
        mentee = Person(name="Mentee", email="mentee@example.com", time_zone="Europe/London", is_mentee=True)
        session.add_all([*people, mentee])
        session.commit()
        # Calendar busy per person id, served through the cache like the app does.
        by_id = {p.id: world.source.data[m.key] for p, m in zip(people, world.mentors, strict=True)}
        by_id[mentee.id] = world.source.data[world.mentee_key]
        cached = CachedBusySource(StaticBusySource(by_id), BusyCache())
        total = 0

        def run() -> None:
            nonlocal total
            counts = availability.shared_slot_counts(session, program, people, mentee, world.start,
                                                     world.end, now=world.now, busy=cached)
            total = sum(counts.values())

        run()  # warm the cache (and SQLAlchemy's statement cache)
        best, median = best_ms(run, repeat)
        session.close()
        engine.dispose()
    return best, median, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentors", type=int, default=1000)
    parser.add_argument("--busy", type=int, default=50, help="busy intervals per person")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--db", action="store_true", help="also time the database path (SQLite)")
    args = parser.parse_args(argv)

    world = build(args.mentors, args.busy, args.days, args.seed)
    cache = BusyCache()
    everyone = [m.key for m in world.mentors] + [world.mentee_key]
    cache.get_or_fetch(world.source, everyone, world.start, world.end)
    calls = world.source.calls
    one = world.mentors[0]

    fast = engine_counts(world, cache, world.mentors)
    fast_one = engine_one(world, cache, one)
    assert world.source.calls == calls, "a cached query reached the busy source"
    t0 = clock.perf_counter()
    slow = naive_counts(world, world.mentors)
    naive_all_ms = (clock.perf_counter() - t0) * 1000
    mismatched = [k for k in fast if fast[k] != slow[k]]
    if mismatched or fast_one != slow[one.key]:
        print(f"MISMATCH engine vs naive for mentors {mismatched[:10]}", file=sys.stderr)
        return 1

    one_best, _ = best_ms(lambda: engine_one(world, cache, one), args.repeat * 20)
    naive_one_best, _ = best_ms(lambda: naive_counts(world, [one]), args.repeat)
    all_best, all_median = best_ms(lambda: engine_counts(world, cache, world.mentors), args.repeat)
    def cold() -> None:
        forget_expansions()
        engine_counts(world, cache, world.mentors)

    cold_best, _ = best_ms(cold, args.repeat)
    expand_best, _ = best_ms(lambda: [expand_weekly(m.rules, world.start, world.end) for m in world.mentors],
                             args.repeat)
    busy_best, _ = best_ms(lambda: cache.get_or_fetch(world.source, everyone, world.start, world.end),
                           args.repeat)
    assert world.source.calls == calls

    n = len(world.mentors)
    total_slots = sum(fast.values())
    print(f"synthetic program: {n} mentors in {len(ZONES)} zones, {args.busy} busy intervals each over "
          f"{args.days} days, mentee with {args.busy}; {SLOT_MINUTES}-minute slots, {LEAD_HOURS} h lead time")
    print(f"shared slots found: {total_slots} in all ({total_slots / n:.1f} per mentor); "
          f"engine == naive for every mentor: yes")
    print(f"busy source calls on the timed (cached) runs: {world.source.calls - calls}")
    print()
    print(f"{'':34}{'engine':>12}{'naive':>12}{'ratio':>10}")
    print(f"{'one mentor (cut_slots), ms':34}{one_best:12.3f}{naive_one_best:12.3f}"
          f"{naive_one_best / one_best:9.0f}x")
    print(f"{f'all {n} mentors (ranking), ms':34}{all_best:12.2f}{naive_all_ms:12.0f}"
          f"{naive_all_ms / all_best:9.0f}x")
    print(f"  (median of {args.repeat}: {all_median:.2f} ms; of which expanding weekly rules "
          f"{expand_best:.2f} ms, cached busy lookup {busy_best:.2f} ms)")
    print(f"  first query of the day (weekly expansions not memoised yet): {cold_best:.2f} ms")
    target = "met" if all_best < 50 else "NOT met"
    print(f"target all {n} under 50 ms with cached busy data: {target}")
    if args.db:
        best, median, total = db_path(world, args.repeat)
        if total != total_slots:
            print(f"MISMATCH: database path found {total} slots, engine {total_slots}", file=sys.stderr)
            return 1
        print(f"database path, shared_slot_counts on SQLite for all {n}: best {best:.1f} ms, "
              f"median {median:.1f} ms (same {total} slots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build", "date", "engine_counts", "main", "naive_counts"]
