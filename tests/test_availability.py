"""Bookable slots and booking checks composed from the database (both SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from calendars.base import BusyInterval, ProviderUnavailable
from freebusy.busy import StaticBusySource
from freebusy.cache import BusyCache, CachedBusySource
from freebusy.intervals import IntervalSet
from scheduling import availability
from scheduling.availability import bookable_slots, busy_for, check_bookable, shared_slot_counts
from scheduling.errors import (
    BadSlotLength,
    LeadTimeTooShort,
    SlotNotAvailable,
    SlotOutsideAvailability,
    TimeInPast,
)
from scheduling.models import AvailabilityMode, MeetingState, Person, Program
from tests.factories import NOW, add_dated_slot, at, make_meeting, make_mentee, make_mentor, make_program

WED = "2030-01-09"


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentor: Person
    mentee: Person


@pytest.fixture
def w(db: Session) -> World:
    return World(
        program=make_program(db),
        mentor=make_mentor(db, name="Mo Mentor"),
        mentee=make_mentee(db, name="Mae Mentee"),
    )


@pytest.fixture(autouse=True)
def _no_default_source() -> Iterator[None]:
    availability.configure_busy_source(None)
    yield
    availability.configure_busy_source(None)


def hours(slots: list[Any]) -> list[str]:
    return [s.start.strftime("%H:%M") for s in slots]


def day(db: Session, w: World, date: str = WED, **kw: Any) -> list[Any]:
    return bookable_slots(db, w.program, w.mentor, w.mentee, at(date, "00:00"),
                          at(date, "00:00") + timedelta(days=1), now=NOW, **kw)


def test_a_free_day_is_cut_into_half_hours(db: Session, w: World) -> None:
    got = day(db, w)
    assert len(got) == 16 and hours(got)[:3] == ["09:00", "09:30", "10:00"] and hours(got)[-1] == "16:30"
    assert all(s.start.utcoffset() == timedelta(0) for s in got)


def test_lead_time_is_counted_from_now(db: Session, w: World) -> None:
    got = bookable_slots(db, w.program, w.mentor, w.mentee, NOW, NOW + timedelta(days=2), now=NOW)
    assert got[0].start == NOW + timedelta(hours=24)  # Tuesday 09:00, none on Monday
    w.program.lead_time_hours = 30
    got = bookable_slots(db, w.program, w.mentor, w.mentee, NOW, NOW + timedelta(days=2), now=NOW)
    assert got[0].start == at("2030-01-08", "15:00")


def test_meetings_of_both_people_are_not_offered(db: Session, w: World) -> None:
    other_mentee = make_mentee(db)
    other_mentor = make_mentor(db)
    make_meeting(db, program=w.program, mentor=w.mentor, mentee=other_mentee, start=at(WED, "10:00"))
    make_meeting(db, program=w.program, mentor=other_mentor, mentee=w.mentee, start=at(WED, "14:00"))
    got = hours(day(db, w))
    assert "10:00" not in got and "14:00" not in got and "09:30" in got and "10:30" in got
    assert len(got) == 14


def test_canceled_meetings_free_the_time(db: Session, w: World) -> None:
    meeting = make_meeting(db, program=w.program, mentor=w.mentor, mentee=w.mentee,
                           start=at(WED, "10:00"))
    meeting.state = MeetingState.CANCELED
    db.commit()
    assert "10:00" in hours(day(db, w))


def test_buffer_keeps_slots_away_from_meetings(db: Session, w: World) -> None:
    make_meeting(db, program=w.program, mentor=w.mentor, mentee=make_mentee(db), start=at(WED, "10:00"))
    w.program.buffer_minutes = 15
    got = hours(day(db, w))
    assert "09:30" not in got and "10:00" not in got and "10:30" not in got
    assert "09:00" in got and "11:00" in got


def test_mentor_zone_and_dated_slots(db: Session, w: World) -> None:
    mentor = make_mentor(db, time_zone="America/New_York", weekly=[(2, "09:00", "10:00")])
    ny = "America/New_York"
    add_dated_slot(db, mentor, at("2030-01-12", "10:00", ny), at("2030-01-12", "11:00", ny))
    got = bookable_slots(db, w.program, mentor, w.mentee, at(WED, "00:00"), at("2030-01-14", "00:00"),
                         now=NOW)
    assert [s.start for s in got] == [
        at(WED, "14:00"), at(WED, "14:30"), at("2030-01-12", "15:00"), at("2030-01-12", "15:30")
    ]


def test_calendar_busy_time_comes_from_the_source(db: Session, w: World) -> None:
    src = StaticBusySource({
        w.mentor.id: [BusyInterval(at(WED, "09:00"), at(WED, "12:00"))],
        w.mentee.id: [BusyInterval(at(WED, "15:10"), at(WED, "15:20"))],
    })
    got = hours(day(db, w, busy=src))
    assert got == ["12:00", "12:30", "13:00", "13:30", "14:00", "14:30", "15:30", "16:00", "16:30"]
    # The same through the configured default, cached: the second query makes no call.
    cached = CachedBusySource(src, BusyCache())
    availability.configure_busy_source(lambda session: cached)
    calls = src.calls
    assert hours(day(db, w)) == got and hours(day(db, w)) == got
    assert src.calls == calls + 1


def test_an_unreadable_calendar_falls_back_to_booked_meetings(db: Session, w: World) -> None:
    class Down:
        def busy(self, keys: Any, start: datetime, end: datetime) -> Any:
            raise ProviderUnavailable("503")

    assert len(day(db, w, busy=Down())) == 16


def test_busy_for_unites_meetings_and_calendar(db: Session, w: World) -> None:
    meeting = make_meeting(db, program=w.program, mentor=w.mentor, mentee=w.mentee,
                           start=at(WED, "10:00"))
    src = {w.mentor.id: IntervalSet.span(at(WED, "12:00"), at(WED, "13:00"))}
    got = busy_for(db, [w.mentor, w.mentee], at(WED, "00:00"), at("2030-01-10", "00:00"), src)
    booked = IntervalSet.span(at(WED, "10:00"), at(WED, "10:30"))
    assert got[w.mentor.id] == booked.union(src[w.mentor.id])
    assert got[w.mentee.id] == booked
    moved = busy_for(db, [w.mentor], at(WED, "00:00"), at("2030-01-10", "00:00"), src,
                     exclude_meeting_id=meeting.id)
    assert moved[w.mentor.id] == src[w.mentor.id]


def test_shared_slot_counts_rank_mentors(db: Session, w: World) -> None:
    busy_mentor = make_mentor(db, weekly=[(2, "09:00", "11:00")])
    no_time = make_mentor(db, weekly=[])
    make_meeting(db, program=w.program, mentor=busy_mentor, mentee=make_mentee(db), start=at(WED, "09:00"))
    counts = shared_slot_counts(db, w.program, [w.mentor, busy_mentor, no_time], w.mentee,
                                at(WED, "00:00"), at("2030-01-10", "00:00"), now=NOW)
    assert counts == {w.mentor.id: 16, busy_mentor.id: 3, no_time.id: 0}
    for m in (w.mentor, busy_mentor):
        assert counts[m.id] == len(bookable_slots(db, w.program, m, w.mentee, at(WED, "00:00"),
                                                  at("2030-01-10", "00:00"), now=NOW))


# --- check_bookable ----------------------------------------------------------------------------------


def check(db: Session, w: World, start: datetime, minutes: int = 30, **kw: Any) -> None:
    check_bookable(db, w.program, w.mentor, w.mentee, start, start + timedelta(minutes=minutes),
                   now=kw.pop("now", NOW), **kw)


def test_a_good_slot_passes(db: Session, w: World) -> None:
    check(db, w, at(WED, "10:00"))
    check(db, w, at(WED, "10:10"))  # off the grid is fine for a proposal inside availability


@pytest.mark.parametrize(
    ("start", "minutes", "error"),
    [
        (at("2030-01-07", "08:00"), 30, TimeInPast),
        (at("2030-01-07", "15:00"), 30, LeadTimeTooShort),
        (at(WED, "10:00"), 45, BadSlotLength),
        (at(WED, "10:00"), 0, BadSlotLength),
        (at(WED, "16:45"), 30, SlotOutsideAvailability),
        (at("2030-01-12", "10:00"), 30, SlotOutsideAvailability),  # Saturday
    ],
)
def test_rules_are_refused_with_their_error(
    db: Session, w: World, start: datetime, minutes: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        check(db, w, start, minutes)


def test_free_text_programs_skip_the_availability_rule(db: Session, w: World) -> None:
    w.program.availability_mode = AvailabilityMode.FREE_TEXT
    check(db, w, at("2030-01-12", "10:00"))


def test_clashes_with_meetings_and_calendars(db: Session, w: World) -> None:
    meeting = make_meeting(db, program=w.program, mentor=w.mentor, mentee=make_mentee(db),
                           start=at(WED, "10:00"))
    with pytest.raises(SlotNotAvailable, match="Mo Mentor"):
        check(db, w, at(WED, "10:15"))
    check(db, w, at(WED, "10:30"))  # touching is fine without a buffer
    w.program.buffer_minutes = 10
    with pytest.raises(SlotNotAvailable, match="10 minutes apart"):
        check(db, w, at(WED, "10:30"))
    check(db, w, at(WED, "10:40"))
    check(db, w, at(WED, "10:15"), exclude_meeting_id=meeting.id)  # moving that very meeting
    make_meeting(db, program=w.program, mentor=make_mentor(db), mentee=w.mentee, start=at(WED, "13:00"))
    with pytest.raises(SlotNotAvailable, match="Mae Mentee"):
        check(db, w, at(WED, "13:00"))
    src = StaticBusySource({w.mentee.id: [BusyInterval(at(WED, "15:00"), at(WED, "15:05"))]})
    availability.configure_busy_source(lambda session: src)
    with pytest.raises(SlotNotAvailable, match="calendar"):
        check(db, w, at(WED, "15:00"))
