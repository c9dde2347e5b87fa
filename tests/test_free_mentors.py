"""Who is free with me (``scheduling.free_mentors``): mentor columns and one busy-cache read give the
same counts as ``bookable_slots`` listed one mentor at a time from ``Person`` rows (the plain path)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from calendars.base import BusyInterval
from freebusy.busy import StaticBusySource
from freebusy.cache import BusyCache, MemoryStore, RedisStore
from scheduling import availability
from scheduling.availability import bookable_slots
from scheduling.free_mentors import MentorCard, free_mentors, mentor_cards
from scheduling.models import Person
from scheduling.services.people import set_skills
from tests.factories import NOW, add_dated_slot, at, make_meeting, make_mentee, make_mentor, make_program


@pytest.fixture(params=["memory", "redis"])
def cached_calendars(request: Any) -> Iterator[StaticBusySource]:
    """Calendars read through the app's busy cache (in this process, or packed in a real Redis)."""
    calendars = StaticBusySource()
    store = RedisStore(request.getfixturevalue("redis")) if request.param == "redis" else MemoryStore()
    saved = availability._source_factory, availability._cache
    availability.use_busy_cache(lambda session: calendars, BusyCache(store))
    try:
        yield calendars
    finally:
        availability._source_factory, availability._cache = saved


def test_counts_and_order_are_the_plain_paths(db: Session, cached_calendars: StaticBusySource) -> None:
    program = make_program(db, buffer_minutes=15)
    mentee = make_mentee(db, time_zone="Europe/London")
    mentors = [
        make_mentor(db, name="Ada", time_zone="America/New_York"),
        make_mentor(db, name="Bo", time_zone="Asia/Kolkata",
                    weekly=[(0, "09:15", "12:45"), (3, "14:00", "18:00")]),
        make_mentor(db, name="Cy", weekly=[]),  # dated slots only
        make_mentor(db, name="Di", time_zone="Australia/Sydney"),
        make_mentor(db, name="Ed", time_zone="Asia/Kathmandu"),
        make_mentor(db, name="Fay", weekly=[]),  # nothing at all: left out
    ]
    add_dated_slot(db, mentors[2], at("2030-01-12", "08:00"), at("2030-01-12", "12:00"))
    cached_calendars.data.update({
        mentee.id: [BusyInterval(at("2030-01-10", "09:00"), at("2030-01-10", "16:00"))],
        mentors[3].id: [BusyInterval(at("2030-01-13", "22:00"), at("2030-01-14", "03:00"))],
        mentors[4].id: [BusyInterval(at("2030-01-08", "00:00"), at("2030-01-15", "00:00"))],
    })
    make_meeting(db, program=program, mentee=mentee, mentor=mentors[0], start=at("2030-01-09", "15:00"))
    end = NOW + timedelta(days=14)

    before = cached_calendars.calls  # booking the meeting read two calendars
    ranked = free_mentors(db, program, mentee, NOW, end, now=NOW)
    again = free_mentors(db, program, mentee, NOW, end, now=NOW)  # from the cache this time
    calls = cached_calendars.calls - before

    plain = {m.id: len(bookable_slots(db, program, m, mentee, NOW, end, now=NOW)) for m in mentors}
    expected = sorted((m for m in mentors if plain[m.id] > 0), key=lambda m: (-plain[m.id], m.name, m.id))
    assert [(f.mentor.id, f.shared_slots) for f in ranked] == [(m.id, plain[m.id]) for m in expected]
    assert again == ranked and calls == 1  # one calendar read for everybody, then none
    assert {m.name for m in expected} == {"Ada", "Bo", "Cy", "Di", "Ed"}  # Fay has no availability
    assert ranked[0].mentor == MentorCard(expected[0].id, expected[0].name, expected[0].title,
                                          expected[0].department, expected[0].time_zone)


def test_cards_are_active_mentors_offering_the_skill_among_the_visible(db: Session) -> None:
    viewer = make_mentee(db)
    python, rust, idle = make_mentor(db), make_mentor(db), make_mentor(db)
    gone = make_mentor(db)
    gone.active = False
    set_skills(db, python, {"offers": [{"name": "Python", "level": 3}]})
    set_skills(db, rust, {"offers": [{"name": "Rust", "level": 3}]})
    set_skills(db, idle, {"wants": ["Python"]})  # wanting a skill is not offering it
    db.commit()
    skill = next(s.skill for s in python.skills)
    assert {c.id for c in mentor_cards(db, viewer.id)} == {python.id, rust.id, idle.id}
    assert [c.id for c in mentor_cards(db, viewer.id, skill_id=skill.id)] == [python.id]
    assert [c.id for c in mentor_cards(db, viewer.id, only=[rust.id, gone.id])] == [rust.id]
    assert python.id not in {c.id for c in mentor_cards(db, python.id)}  # never the viewer
    assert isinstance(db.get(Person, python.id), Person)
