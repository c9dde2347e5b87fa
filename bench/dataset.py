"""A realistic program in PostgreSQL + Redis for the benches that run the app's own path.

``seed(url, redis_url)`` migrates an empty database (Alembic, as production does) and fills it:
5,000 people over 12 time zones (incl. +05:30, +05:45 and both hemispheres' clock changes),
1,000 of them mentors with 3-5 working days of 1-3 windows each (some in a second zone),
a tenth with dated slots too, 3-8 offered skills out of 300 and a department/region;
~25,000 meetings (past ones completed or canceled, ~2,000 still ahead) each with its
request, ~2,000 pending requests, and every person's calendar: 20-40 events a week in
their local working hours (8:00-18:00, 15-120 minutes, some overlapping) from a week ago
to nine weeks ahead, put in the app's Redis busy cache through the app's own
``freebusy.cache.BusyCache`` (same key prefix and namespace as the web app), so the app
answers from Redis as it does with connected calendars. The calendars are made on demand,
per person and seed, by :class:`GeneratedCalendars` (the providers' stand-in: it also
answers a cold cache the same way).

Every person signs in with ``PASSWORD``; ``mentee_emails()`` are the mentees the load benches use.
"""

from __future__ import annotations

import random
import time as clock
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from calendars.base import BusyInterval
from freebusy.busy import key_of
from freebusy.cache import BusyCache, RedisStore
from scheduling.db import make_engine
from scheduling.migrate import upgrade
from scheduling.models import (
    DatedSlot,
    Meeting,
    MeetingRequest,
    Person,
    PersonSkill,
    Program,
    Skill,
    SkillRelation,
    WeeklySlot,
)
from scheduling.passwords import hash_password
from scheduling.tenants import BUSY_NAMESPACE, busy_cache_prefix

ZONES = (
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Asia/Kathmandu",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Africa/Lagos",
    "Pacific/Auckland",
    "UTC",
)
DEPARTMENTS = ("Sales", "Engineering", "Finance", "Marketing", "Support", "Legal", "HR", "Operations")
REGIONS = ("EMEA", "AMER", "APAC")
PASSWORD = "bench-password"
CALENDAR_TTL_SECONDS = 7 * 86_400  # the bench runs the app with the same FLASHMENTOR_BUSY_CACHE_TTL
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Dataset:
    people: int
    mentors: int
    meetings: int
    requests: int
    calendar_events: int
    seconds: float


class GeneratedCalendars:
    """Each person's calendar, made on demand from the seed and the person id (no state held).

    20-40 events a week on weekdays in the person's zone between 8:00 and 18:00; the same
    answer for the same person and week on every call (a ``BusySource`` for the cache).
    """

    def __init__(self, zones: dict[int, str], seed: int) -> None:
        self.zones = zones
        self.seed = seed
        self.calls = 0
        self.events = 0

    def _week(self, pid: int, monday: datetime) -> list[BusyInterval]:
        rnd = random.Random(self.seed * 1_000_003 + pid * 10_007 + int(monday.timestamp()) // 604_800)
        zone = ZoneInfo(self.zones.get(pid, "UTC"))
        out = []
        for _ in range(rnd.randint(20, 40)):
            day = (monday + timedelta(days=rnd.randrange(5))).date()
            minute = 8 * 60 + 15 * rnd.randrange(36)
            start = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(UTC)
            minutes = rnd.choice((15, 30, 30, 45, 60, 60, 90, 120))
            out.append(BusyInterval(start, start + timedelta(minutes=minutes)))
        return out

    def busy(self, keys: Sequence[Any], start: datetime, end: datetime) -> dict[Hashable, list[BusyInterval]]:
        self.calls += 1
        first = datetime.combine((start - timedelta(days=start.weekday() + 1)).date(), time(), tzinfo=UTC)
        out: dict[Hashable, list[BusyInterval]] = {}
        for item in keys:
            pid = int(key_of(item))  # type: ignore[call-overload]
            found: list[BusyInterval] = []
            monday = first
            while monday < end + DAY:
                found += [b for b in self._week(pid, monday) if b.start < end and b.end > start]
                monday += timedelta(days=7)
            self.events += len(found)
            out[pid] = found
        return out


def mentee_emails(count: int) -> list[str]:
    return [f"person{i}@bench.example" for i in range(1000, 1000 + count)]


def reset(url: str) -> Engine:
    """An empty schema at the migrations' head."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    return engine


def seed(
    url: str,
    redis: Any,
    *,
    people: int = 5000,
    mentors: int = 1000,
    meetings: int = 25_000,
    seed_value: int = 8,
    now: datetime | None = None,
) -> Dataset:
    """Migrate ``url`` from nothing and fill it (module doc); calendars go in the busy cache in ``redis``."""
    t0 = clock.perf_counter()
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    rnd = random.Random(seed_value)
    engine = reset(url)
    password = hash_password(PASSWORD)
    with engine.begin() as conn:
        program_id = conn.execute(
            insert(Program).returning(Program.id),
            [
                {
                    "name": "Bench program",
                    "slot_minutes": 30,
                    "lead_time_hours": 24,
                    "max_pending_requests": None,
                }
            ],
        ).scalar_one()
        conn.execute(
            insert(Skill), [{"name": f"Skill {i}", "key": f"skill {i}", "category": ""} for i in range(300)]
        )
        skill_ids = list(conn.scalars(select(Skill.id).order_by(Skill.id)))
        rows = []
        for i in range(people):
            is_mentor = i < mentors
            rows.append(
                {
                    "email": f"person{i}@bench.example",
                    "name": f"Person {i:05d}",
                    "title": "Engineer",
                    "department": rnd.choice(DEPARTMENTS),
                    "region": rnd.choice(REGIONS),
                    "time_zone": ZONES[i % len(ZONES)],
                    "password_hash": password,
                    "is_mentee": not is_mentor or i % 3 == 0,
                    "is_mentor": is_mentor,
                    "is_admin": i == people - 1,
                    "active": True,
                    "monthly_meeting_cap": rnd.choice((None, None, 4, 8)) if is_mentor else None,
                    "bio": "",
                    "availability_note": "",
                    "created_at": now - timedelta(days=200),
                }
            )
        conn.execute(insert(Person), rows)
        found = conn.execute(select(Person.id, Person.time_zone, Person.is_mentor).order_by(Person.id)).all()
        zones = {pid: tz for pid, tz, _ in found}
        mentor_ids = [pid for pid, _, m in found if m]
        mentee_ids = [pid for pid, _, m in found if not m]
        slots, dated, skills = [], [], []
        for pid in mentor_ids:
            other = rnd.choice(ZONES)
            for weekday in rnd.sample(range(5), rnd.randint(3, 5)):
                minute = 8 * 60
                for _ in range(rnd.randint(1, 3)):  # several windows a day
                    minute += 30 * rnd.randrange(0, 6)
                    length = rnd.choice((60, 90, 120, 180))
                    if minute + length > 19 * 60:
                        break
                    slots.append(
                        {
                            "mentor_id": pid,
                            "weekday": weekday,
                            "start_time": time(minute // 60, minute % 60),
                            "end_time": time((minute + length) // 60, (minute + length) % 60),
                            "time_zone": other if rnd.random() < 0.05 else zones[pid],
                        }
                    )
                    minute += length
            if rnd.random() < 0.1:
                for _ in range(rnd.randint(1, 3)):
                    s = now + timedelta(days=rnd.randrange(1, 30), hours=rnd.randrange(24))
                    dated.append({"mentor_id": pid, "start_at": s, "end_at": s + timedelta(hours=2)})
            for sid in rnd.sample(skill_ids, rnd.randint(3, 8)):
                skills.append(
                    {
                        "person_id": pid,
                        "skill_id": sid,
                        "relation": SkillRelation.OFFERS,
                        "level": rnd.randint(1, 5),
                    }
                )
        for pid in mentee_ids:
            for sid in rnd.sample(skill_ids, 2):
                skills.append(
                    {"person_id": pid, "skill_id": sid, "relation": SkillRelation.WANTS, "level": None}
                )
        conn.execute(insert(WeeklySlot), slots)
        if dated:
            conn.execute(insert(DatedSlot), dated)
        conn.execute(insert(PersonSkill), skills)
        made_requests = _meetings(conn, rnd, program_id, mentor_ids, mentee_ids, meetings, now)
    engine.dispose()

    calendars = GeneratedCalendars(zones, seed_value)
    cache = BusyCache(
        RedisStore(redis, prefix=busy_cache_prefix(url)),
        ttl=timedelta(seconds=CALENDAR_TTL_SECONDS),
        namespace=BUSY_NAMESPACE,
    )
    ids = sorted(zones)
    for i in range(0, len(ids), 500):
        cache.get_or_fetch(calendars, ids[i : i + 500], now - 7 * DAY, now + 63 * DAY)
    return Dataset(people, mentors, meetings, made_requests, calendars.events, clock.perf_counter() - t0)


def _meetings(
    conn: Any,
    rnd: random.Random,
    program_id: int,
    mentor_ids: list[int],
    mentee_ids: list[int],
    count: int,
    now: datetime,
) -> int:
    """``count`` meetings with their accepted requests (past: completed/canceled; ahead: scheduled),
    plus pending requests; returns how many requests in all. On the hour or half hour, never
    two of one mentor at once (each mentor's meetings are spread over their own sequence of times)."""
    requests, meetings = [], []
    taken: set[tuple[int, datetime]] = set()
    for k in range(count):
        mentor, mentee = rnd.choice(mentor_ids), rnd.choice(mentee_ids)
        ahead = k % 12 == 0
        start = now.replace(minute=0) + timedelta(
            minutes=30 * rnd.randrange(1, 60 * 48) * (1 if ahead else -1)
        )
        if ahead:
            start += 2 * DAY
        if (mentor, start) in taken:
            continue
        taken.add((mentor, start))
        state = (
            "scheduled"
            if ahead
            else rnd.choice(("completed", "completed", "completed", "canceled", "not_held"))
        )
        requests.append(
            {
                "program_id": program_id,
                "mentee_id": mentee,
                "mentor_id": mentor,
                "topic": "Career",
                "state": "accepted",
                "created_at": start - 10 * DAY,
                "answered_at": start - 9 * DAY,
            }
        )
        meetings.append(
            {
                "program_id": program_id,
                "mentor_id": mentor,
                "mentee_id": mentee,
                "start_at": start,
                "end_at": start + timedelta(minutes=30),
                "state": state,
                "topic": "Career",
                "mode": "video",
                "uid": f"bench-{k}@flashmentor",
                "created_at": start - 9 * DAY,
                "updated_at": start - 9 * DAY,
            }
        )
    pending = [
        {
            "program_id": program_id,
            "mentee_id": rnd.choice(mentee_ids),
            "mentor_id": rnd.choice(mentor_ids),
            "topic": "Advice",
            "state": "pending",
            "created_at": now - timedelta(hours=rnd.randrange(1, 24 * 20)),
        }
        for _ in range(count // 12)
    ]
    ids = (
        conn.execute(
            insert(MeetingRequest).returning(MeetingRequest.id, sort_by_parameter_order=True), requests
        )
        .scalars()
        .all()
    )
    for meeting, request_id in zip(meetings, ids, strict=True):
        meeting["request_id"] = request_id
    conn.execute(insert(Meeting), meetings)
    conn.execute(insert(MeetingRequest), pending)
    return len(requests) + len(pending)
