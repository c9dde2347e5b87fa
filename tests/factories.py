"""Test data builders shared by every test module.

Each ``make_*`` adds real rows and commits, so the object is visible to other
sessions (the Flask app, a worker). Times are built with :func:`at`, which
always returns an aware datetime.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from scheduling.events import DomainEvent, WorkPlanned, subscribe, unsubscribe
from scheduling.models import (
    DatedSlot,
    Meeting,
    MeetingRequest,
    Person,
    Program,
    WeeklySlot,
)
from scheduling.services.surveys import ensure_default_questions

# A Monday, far enough ahead that "now" in tests never collides with the real clock.
NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
WORKWEEK = [(d, "09:00", "17:00") for d in range(5)]  # Monday..Friday, mentor's own zone

_seq = itertools.count(1)


def at(day: date | str, hhmm: str, tz: str = "UTC") -> datetime:
    """``day`` (date or 'YYYY-MM-DD') at wall time ``hhmm`` in ``tz``, as an aware datetime."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=ZoneInfo(tz))


def slot(start: datetime, minutes: int = 30) -> tuple[datetime, datetime]:
    return start, start + timedelta(minutes=minutes)


def make_program(session: Session, **overrides: Any) -> Program:
    values: dict[str, Any] = {
        "name": "Flash mentoring",
        "slot_minutes": 30,
        "buffer_minutes": 0,
        "lead_time_hours": 24,
        "mentors_may_create": False,
        "remind_after_days": 3,
        "auto_close_after_days": 14,
        "max_meetings_per_month": None,
        "max_meetings_per_year": None,
        "max_pending_requests": 3,
    }
    values.update(overrides)
    program = Program(**values)
    session.add(program)
    session.flush()
    ensure_default_questions(session, program)  # as services.program.create_program does
    session.commit()
    return program


def make_person(
    session: Session,
    *,
    name: str | None = None,
    email: str | None = None,
    time_zone: str = "UTC",
    is_mentee: bool = True,
    is_mentor: bool = False,
    is_admin: bool = False,
    password: str | None = PASSWORD,
    weekly: Iterable[tuple[int, str, str]] = (),
    **fields: Any,
) -> Person:
    n = next(_seq)
    person = Person(
        name=name or f"Person {n}",
        email=(email or f"person{n}@example.com").lower(),
        time_zone=time_zone,
        is_mentee=is_mentee,
        is_mentor=is_mentor,
        is_admin=is_admin,
        password_hash=generate_password_hash(password, method="pbkdf2:sha256:1000") if password else None,
        **fields,
    )
    session.add(person)
    session.flush()
    add_weekly_slots(session, person, weekly)
    session.commit()
    return person


def make_mentor(session: Session, *, weekly: Iterable[tuple[int, str, str]] = WORKWEEK, **kw: Any) -> Person:
    """A mentor (not a mentee) available Monday to Friday 09:00-17:00 in their own zone by default."""
    kw.setdefault("is_mentee", False)
    kw.setdefault("name", f"Mentor {next(_seq)}")
    return make_person(session, is_mentor=True, weekly=weekly, **kw)


def make_mentee(session: Session, **kw: Any) -> Person:
    kw.setdefault("name", f"Mentee {next(_seq)}")
    return make_person(session, is_mentee=True, **kw)


def make_admin(session: Session, **kw: Any) -> Person:
    kw.setdefault("name", f"Admin {next(_seq)}")
    kw.setdefault("is_mentee", False)
    return make_person(session, is_admin=True, **kw)


@dataclass
class Cast:
    """A program and the four people the participant rules are about."""

    program: Program
    mentor: Person
    mentee: Person
    stranger: Person
    admin: Person

    def person(self, role: str) -> Person:
        """The person playing ``role`` (a parametrized test's ``who``)."""
        cast = {"mentor": self.mentor, "mentee": self.mentee, "stranger": self.stranger, "admin": self.admin}
        return cast[role]


def make_cast(session: Session, **program: Any) -> Cast:
    return Cast(program=make_program(session, **program), mentor=make_mentor(session),
                mentee=make_mentee(session), stranger=make_mentee(session), admin=make_admin(session))


def add_weekly_slots(session: Session, person: Person, slots: Iterable[tuple[int, str, str]]) -> None:
    for weekday, start, end in slots:
        session.add(
            WeeklySlot(
                mentor_id=person.id,
                weekday=weekday,
                start_time=time.fromisoformat(start),
                end_time=time.fromisoformat(end),
                time_zone=person.time_zone,
            )
        )
    session.flush()
    session.refresh(person)


def add_dated_slot(session: Session, person: Person, start: datetime, end: datetime) -> DatedSlot:
    dated = DatedSlot(mentor_id=person.id, start_at=start, end_at=end)
    session.add(dated)
    session.commit()
    return dated


def make_request(
    session: Session,
    *,
    program: Program,
    mentee: Person,
    mentor: Person,
    times: Sequence[tuple[datetime, datetime]] | None = None,
    now: datetime = NOW,
    **kw: Any,
) -> MeetingRequest:
    """A pending request made through the real service (so every rule applies).

    Default time: Wednesday 9 January 2030 10:00-10:30 UTC, inside the default workweek.
    """
    from scheduling.services.requests import request_meeting

    kw.setdefault("topic", "Career advice")
    kw.setdefault("description", "")
    kw.setdefault("mode", "video")
    kw.setdefault("location", "")
    times = list(times) if times is not None else [slot(at("2030-01-09", "10:00"), program.slot_minutes)]
    return request_meeting(session, program=program, mentee=mentee, mentor=mentor, times=times, now=now, **kw)


def make_meeting(
    session: Session,
    *,
    program: Program,
    mentee: Person,
    mentor: Person,
    start: datetime | None = None,
    now: datetime = NOW,
    **kw: Any,
) -> Meeting:
    """A scheduled meeting: a request made and accepted through the services."""
    from scheduling.services.requests import accept

    times = [slot(start, program.slot_minutes)] if start is not None else None
    request = make_request(session, program=program, mentee=mentee, mentor=mentor, times=times, now=now, **kw)
    return accept(session, request, actor=mentor, now=now)


def count_rows(session: Session, *models: type) -> dict[str, int]:
    """Row counts per table: compare before and after to show a refused action wrote nothing."""
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) or 0 for m in models}


@contextmanager
def captured_events() -> Iterator[list[DomainEvent]]:
    """Collect the domain events published (i.e. committed) while the block runs; the
    announcement of planned work rows (``WorkPlanned``) is plumbing, not a domain fact."""
    seen: list[DomainEvent] = []

    def collect(ev: DomainEvent) -> None:
        if not isinstance(ev, WorkPlanned):
            seen.append(ev)

    subscribe(collect)
    try:
        yield seen
    finally:
        unsubscribe(collect)


def login(client: Any, person: Person) -> None:
    """Sign ``person`` in on a Flask test client through the real session cookie."""
    with client.session_transaction() as s:
        s["person_id"] = person.id
