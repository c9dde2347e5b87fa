"""How long ranking every mentor for one mentee takes (``scheduling.matching.rank_mentors``).

Builds a synthetic program in a database (a fresh SQLite file, or ``--database-url``):
``--mentors`` mentors over real time zones, each with 2-5 weekly windows in their own
zone, 3-8 offered skills at levels 1-5 out of a 300-skill catalogue, a department and a
region, an own monthly cap for a third of them and a few meetings this month; one
mentee who wants 3 skills and has a role with 3 competency targets. Calendar busy time
(~``--busy`` intervals per person over 14 days) is served through
``freebusy.cache.BusyCache`` in front of a counting source and warmed first, so the
figures are "with cached busy data" (the run checks the ranking made no source call).

Prints the best and median time of the full ranking and of a top-20 ranking, and of the
free-time part alone (``scheduling.availability.shared_slot_counts`` for all mentors); the
ranking's slot counts are checked against ``bookable_slots`` listed one mentor at a time
for a sample of 200 mentors.

    python -m bench.matching [--mentors 5000] [--busy 50] [--repeat 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from calendars.base import BusyInterval
from freebusy.busy import StaticBusySource
from freebusy.cache import BusyCache, CachedBusySource
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


def best_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = clock.perf_counter()
        fn()
        times.append((clock.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


def random_busy(rnd: random.Random, days: int, count: int) -> list[BusyInterval]:
    out = []
    for _ in range(count):
        s = NOW + timedelta(minutes=15 * rnd.randrange(days * 96))
        out.append(BusyInterval(s, s + timedelta(minutes=rnd.choice((15, 30, 45, 60, 90, 120)))))
    return out


def build(
    session: Session, n: int, busy_per_person: int, seed: int
) -> tuple[Program, Person, StaticBusySource]:
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
    return program, mentee, StaticBusySource(busy)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mentors", type=int, default=5000)
    parser.add_argument("--busy", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
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
        with factory() as session:
            found_program = session.get(Program, program_id)
            found_mentee = session.get(Person, mentee_id)
            assert found_program is not None and found_mentee is not None
            program, mentee = found_program, found_mentee
            warm = rank_mentors(session, program, mentee, now=NOW, busy=cached)
            calls = source.calls

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

            full_best, full_med = best_ms(full, args.repeat)
            top_best, top_med = best_ms(top20, args.repeat)
            extra_calls = source.calls - calls

            mentors = [m.mentor for m in warm]
            ref_counts: dict[int, int] = {}

            def reference() -> object:
                ref_counts.update(shared_slot_counts(session, program, mentors, mentee, NOW,
                                                     NOW + timedelta(days=14), now=NOW, busy=cached))
                return ref_counts

            ref_best, ref_med = best_ms(reference, max(1, args.repeat // 2))
            end = NOW + timedelta(days=14)
            session.expunge_all()
            p, me = session.get(Program, program_id), session.get(Person, mentee_id)
            assert p is not None and me is not None
            mismatched = 0
            for m in warm[:: max(1, len(warm) // 200)]:
                mentor = session.get(Person, m.mentor.id)
                assert mentor is not None
                listed = bookable_slots(session, p, mentor, me, NOW, end, now=NOW, busy=cached)
                mismatched += len(listed) != m.shared_slots

        n = args.mentors
        print(f"rank {n} mentors, full ranking:  best {full_best:7.1f} ms  median {full_med:7.1f} ms")
        print(f"rank {n} mentors, top 20:        best {top_best:7.1f} ms  median {top_med:7.1f} ms")
        print(f"free-time counts alone:          best {ref_best:7.1f} ms  median {ref_med:7.1f} ms")
        print(f"busy-source calls during timed runs: {extra_calls} (all from the cache)")
        print(f"sampled slot counts differing from bookable_slots: {mismatched}")
        top = warm[0]
        print(f"best match: {top.mentor.name} score {top.score}: {'; '.join(top.reasons)}")
        engine.dispose()
    return 1 if mismatched or extra_calls else 0


if __name__ == "__main__":
    sys.exit(main())
