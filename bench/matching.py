"""How long ranking every mentor for one mentee takes (``scheduling.matching.rank_mentors``).

Builds a synthetic program in a database (a fresh SQLite file, or ``--database-url``):
``--mentors`` mentors over real time zones, each with 2-5 weekly windows in their own
zone, 3-8 offered skills at levels 1-5 out of a 300-skill catalogue, a department and a
region, an own monthly cap for a third of them and a few meetings this month; one
mentee who wants 3 skills and has a role with 3 competency targets. Calendar busy time
(~``--busy`` intervals per person over 14 days) is served through
``freebusy.cache.BusyCache`` in front of a counting source and warmed first, so the
figures are "with cached busy data" (the run checks the ranking made no source call).

Prints the best and median time of the full ranking, of a top-20 ranking, of a full
ranking with nothing memoised (the first of a day) and of the free-time part alone
(``scheduling.availability.shared_slot_counts`` for all mentors), and the full garbage
collections that landed inside the timed full rankings; the ranking's slot counts are
checked against ``bookable_slots`` listed one mentor at a time for a sample of 200 mentors.
The run fails on any difference or busy-source call.

    python -m bench.matching [--mentors 5000] [--busy 50] [--repeat 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time as clock
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from calendars.base import BusyInterval
from freebusy.batch import forget_grids
from freebusy.busy import key_of
from freebusy.cache import BusyCache, CachedBusySource
from freebusy.intervals import IntervalSet
from freebusy.recurrence import forget_expansions
from scheduling.availability import bookable_slots, shared_slot_counts
from scheduling.db import Base, make_engine, make_session_factory
from scheduling.matching import rank_mentors
from scheduling.models import (
    Competency,
    Meeting,
    MeetingRequest,
    Person,
    PersonSkill,
    Program,
    Skill,
    SkillRelation,
    WeeklySlot,
)

ZONES = ("Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
         "Europe/Berlin", "America/Los_Angeles", "UTC")
DEPARTMENTS = ("Sales", "Engineering", "Finance", "Marketing", "Support", "Legal", "HR", "Operations")
REGIONS = ("EMEA", "AMER", "APAC")
NOW = datetime(2030, 3, 4, 6, 0, tzinfo=UTC)


CPU_MS: dict[str, float] = {}  # median CPU time (process_time) of each timed call, by what was timed


def forget_rules() -> None:
    """Drop the memoised weekly rules (a no-op in trees before the memo: baseline runs)."""
    from scheduling import availability

    getattr(availability, "forget_rules", lambda: None)()


def card_of(match: Any) -> Any:
    """What a match shows of its mentor (``MentorMatch.card``; ``.mentor`` in trees before it)."""
    return getattr(match, "card", None) or match.mentor


def best_ms(fn: Callable[[], object], repeat: int, name: str = "") -> tuple[float, float]:
    """Best and median wall time (ms) of ``repeat`` calls; the median CPU time goes to ``CPU_MS[name]``."""
    times, cpu = [], []
    for _ in range(repeat):
        c0 = clock.process_time()
        t0 = clock.perf_counter()
        fn()
        times.append((clock.perf_counter() - t0) * 1000)
        cpu.append((clock.process_time() - c0) * 1000)
    CPU_MS[name] = statistics.median(cpu)
    return min(times), statistics.median(times)


@contextmanager
def full_collections() -> Iterator[list[float]]:
    """The duration (ms) of every full garbage collection while the block runs (they land in the timings)."""
    found: list[float] = []
    started = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[0] = clock.perf_counter()
            else:
                found.append((clock.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(watch)
    try:
        yield found
    finally:
        gc.callbacks.remove(watch)


def random_busy(rnd: random.Random, days: int, count: int) -> list[BusyInterval]:
    out = []
    for _ in range(count):
        s = NOW + timedelta(minutes=15 * rnd.randrange(days * 96))
        out.append(BusyInterval(s, s + timedelta(minutes=rnd.choice((15, 30, 45, 60, 90, 120)))))
    return out


class HeldBusySource:
    """The people's calendars held in arrays, standing in for the providers; counts its calls.

    ``freebusy.busy.StaticBusySource`` would hold the same 250,000 intervals as
    ``BusyInterval`` objects: half a million objects that no app process has, and that
    the garbage collector would walk in every full collection during the timed runs.
    """

    def __init__(self, data: dict[Any, list[BusyInterval]]) -> None:
        self.data: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        for key, intervals in data.items():
            found = IntervalSet(intervals)
            self.data[key] = (np.array(found.starts_us, dtype=np.int64),
                              np.array(found.ends_us, dtype=np.int64))
        self.calls = 0

    def busy(self, keys: Any, start: datetime, end: datetime) -> dict[Any, list[BusyInterval]]:
        self.calls += 1
        out = {}
        for item in keys:
            key = key_of(item)
            if key in self.data:
                starts, ends = self.data[key]
                found = IntervalSet.from_us_pairs(zip(starts.tolist(), ends.tolist(), strict=True))
                out[key] = [BusyInterval(i.start, i.end) for i in found.clip(start, end)]
        return out


def build(
    session: Session, n: int, busy_per_person: int, seed: int
) -> tuple[Program, Person, HeldBusySource]:
    rnd = random.Random(seed)
    program = Program(name="Bench", slot_minutes=30, lead_time_hours=24, max_pending_requests=None)
    session.add(program)
    session.flush()
    session.execute(insert(Skill), [{"name": f"Skill {i}", "key": f"skill {i}", "category": ""}
                                    for i in range(300)])
    skill_ids = list(session.scalars(select(Skill.id).order_by(Skill.id)))
    people = []
    for i in range(n):
        people.append({
            "email": f"mentor{i}@bench.example", "name": f"Mentor {i:05d}",
            "department": rnd.choice(DEPARTMENTS),
            "region": rnd.choice(REGIONS), "title": "Engineer", "time_zone": ZONES[i % len(ZONES)],
            "is_mentee": False, "is_mentor": True, "is_admin": False, "active": True,
            "monthly_meeting_cap": rnd.choice((None, None, 2, 4, 8)), "bio": "", "availability_note": "",
            "created_at": NOW,
        })
    session.execute(insert(Person), people)
    mentor_rows = session.execute(select(Person.id, Person.time_zone).order_by(Person.id)).all()
    mentee = Person(email="mentee@bench.example", name="Mentee", department="Sales", region="EMEA",
                    title="Account Executive", time_zone="Europe/London", is_mentee=True)
    session.add(mentee)
    session.flush()
    slots, skills = [], []
    for pid, tz in mentor_rows:
        for weekday in rnd.sample(range(5), rnd.randint(2, 5)):
            s = rnd.choice(range(8 * 60, 16 * 60, 30))
            e = s + rnd.choice((60, 90, 120, 180))
            slots.append({"mentor_id": pid, "weekday": weekday, "start_time": time(s // 60, s % 60),
                          "end_time": time(e // 60, e % 60), "time_zone": tz})
        for sid in rnd.sample(skill_ids, rnd.randint(3, 8)):
            skills.append({"person_id": pid, "skill_id": sid, "relation": SkillRelation.OFFERS,
                           "level": rnd.randint(1, 5)})
    wanted = skill_ids[:3]
    skills += [{"person_id": mentee.id, "skill_id": sid, "relation": SkillRelation.WANTS, "level": None}
               for sid in wanted]
    skills += [{"person_id": mentee.id, "skill_id": skill_ids[3], "relation": SkillRelation.HAS, "level": 1}]
    session.execute(insert(WeeklySlot), slots)
    session.execute(insert(PersonSkill), skills)
    session.execute(insert(Competency), [
        {"program_id": program.id, "role": "Account Executive", "role_key": "account executive",
         "skill_id": sid, "target_level": 4} for sid in skill_ids[3:6]
    ])
    # A few meetings this month (load), on the first of the month so they do not block slots.
    loaded = rnd.sample([pid for pid, _ in mentor_rows], n // 10)
    for k, pid in enumerate(loaded):
        req = MeetingRequest(program_id=program.id, mentee_id=mentee.id, mentor_id=pid, topic="x",
                             state="accepted", created_at=NOW)
        session.add(req)
        session.flush()
        start = datetime(2030, 3, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=k % 50)
        session.add(Meeting(request_id=req.id, program_id=program.id, mentor_id=pid, mentee_id=mentee.id,
                            start_at=start, end_at=start + timedelta(minutes=30), state="completed",
                            topic="x", mode="video", uid=f"bench-{k}", created_at=NOW, updated_at=NOW))
    session.commit()
    busy: dict[Any, list[BusyInterval]] = {
        pid: random_busy(rnd, 14, busy_per_person) for pid, _ in mentor_rows
    }
    busy[mentee.id] = random_busy(rnd, 14, busy_per_person)
    return program, mentee, HeldBusySource(busy)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mentors", type=int, default=5000)
    parser.add_argument("--busy", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-freeze", action="store_true",
                        help="skip gc.freeze() after the setup (production freezes: gunicorn.conf.py)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile (CPU time) of 5 full rankings")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        if engine.dialect.name == "postgresql":  # also tables of other versions of the tree
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        factory = make_session_factory(engine)
        t0 = clock.perf_counter()
        with factory() as session:
            program, mentee, source = build(session, args.mentors, args.busy, args.seed)
            program_id, mentee_id = program.id, mentee.id
        print(f"built {args.mentors} mentors in {clock.perf_counter() - t0:.1f} s on {engine.dialect.name}")

        cache = BusyCache()
        cached = CachedBusySource(source, cache)
        if not args.no_freeze:
            # As a production process does after loading the app (gunicorn.conf.py: preload_app,
            # then gc.collect() + gc.freeze() before forking): what exists after start-up, here the
            # imported modules and the bench's own data, is moved out of the collector's way.
            gc.collect()
            gc.freeze()
        with factory() as session:
            found_program = session.get(Program, program_id)
            found_mentee = session.get(Person, mentee_id)
            assert found_program is not None and found_mentee is not None
            program, mentee = found_program, found_mentee
            warm = rank_mentors(session, program, mentee, now=NOW, busy=cached)
            calls = source.calls
            # Keep only what the checks need: a process does not hold the last request's answer.
            ranked_ids = [card_of(m).id for m in warm]
            sample = [(card_of(m).id, m.shared_slots) for m in warm[:: max(1, len(warm) // 200)]]
            top = warm[0]
            best = f"{card_of(top).name} score {top.score}: {'; '.join(top.reasons)}"
            del warm, top

            def full() -> object:
                session.expunge_all()  # a fresh request: nothing in the identity map
                p, me = session.get(Program, program_id), session.get(Person, mentee_id)
                assert p is not None and me is not None
                return rank_mentors(session, p, me, now=NOW, busy=cached)

            def top20() -> object:
                session.expunge_all()
                p, me = session.get(Program, program_id), session.get(Person, mentee_id)
                assert p is not None and me is not None
                return rank_mentors(session, p, me, now=NOW, busy=cached, limit=20)

            with full_collections() as collected:
                full_best, full_med = best_ms(full, args.repeat, "full")
            top_best, top_med = best_ms(top20, args.repeat, "top20")
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile(clock.process_time)  # CPU time: waiting is left out
                profiler.runcall(lambda: [full() for _ in range(5)])
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)

            def cold() -> object:
                forget_grids()  # the first ranking of a day: no grid or weekly expansion memoised
                forget_expansions()
                forget_rules()  # nor weekly rules (as after a restart)
                return full()

            cold_best, cold_med = best_ms(cold, max(1, args.repeat // 2), "cold")
            extra_calls = source.calls - calls

            session.expunge_all()
            p, me = session.get(Program, program_id), session.get(Person, mentee_id)
            assert p is not None and me is not None
            mentors = list(session.scalars(select(Person).where(Person.id.in_(ranked_ids))))
            end = NOW + timedelta(days=14)

            def reference() -> object:
                return shared_slot_counts(session, p, mentors, me, NOW, end, now=NOW, busy=cached)

            ref_best, ref_med = best_ms(reference, max(1, args.repeat // 2), "counts")
            mismatched = 0
            for mentor_id, counted in sample:
                mentor = session.get(Person, mentor_id)
                assert mentor is not None
                listed = bookable_slots(session, p, mentor, me, NOW, end, now=NOW, busy=cached)
                mismatched += len(listed) != counted

        n = args.mentors
        cpu = CPU_MS
        print(f"gc.freeze() after the setup: {'no' if args.no_freeze else 'yes'}")
        print(f"rank {n} mentors, full ranking:  best {full_best:7.1f} ms  median {full_med:7.1f} ms"
              f"  (CPU median {cpu['full']:.1f} ms)")
        print(f"rank {n} mentors, top 20:        best {top_best:7.1f} ms  median {top_med:7.1f} ms"
              f"  (CPU median {cpu['top20']:.1f} ms)")
        print(f"full ranking, first of the day:  best {cold_best:7.1f} ms  median {cold_med:7.1f} ms"
              f"  (CPU median {cpu['cold']:.1f} ms)")
        print(f"free-time counts alone:          best {ref_best:7.1f} ms  median {ref_med:7.1f} ms"
              f"  (CPU median {cpu['counts']:.1f} ms)")
        print(f"busy-source calls during timed runs: {extra_calls} (all from the cache)")
        print(f"sampled slot counts differing from bookable_slots: {mismatched}")
        print(f"full garbage collections during the {args.repeat} full rankings: {len(collected)}"
              f" ({', '.join(f'{ms:.0f}' for ms in collected) or '-'} ms)")
        print(f"best match: {best}")
        engine.dispose()
    return 1 if mismatched or extra_calls else 0


if __name__ == "__main__":
    sys.exit(main())
