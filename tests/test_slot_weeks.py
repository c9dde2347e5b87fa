"""``scheduling.slot_weeks``: the one "this week" of shared free time, and what is found in it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduling.slot_weeks import (
    WEEKS_AHEAD,
    first_week_with_slots,
    next_slots,
    this_week_counts,
    week_of,
    week_slots,
)
from tests.factories import add_dated_slot, at, make_meeting, make_mentee, make_mentor, make_program

NEW_YORK = ZoneInfo("America/New_York")
THURSDAY = datetime(2030, 1, 10, 15, 0, tzinfo=UTC)


def test_this_week_runs_from_now_to_the_viewers_sunday_midnight():
    week = week_of(NEW_YORK, THURSDAY)
    assert week.monday == date(2030, 1, 7) and week.first and not week.last
    assert week.start == THURSDAY
    assert week.end == datetime(2030, 1, 14, 5, 0, tzinfo=UTC)  # Monday 00:00 EST


def test_a_week_is_kept_between_this_week_and_the_last_one_ahead():
    assert week_of(NEW_YORK, THURSDAY, date(2029, 12, 1)).monday == date(2030, 1, 7)
    far = week_of(NEW_YORK, THURSDAY, date(2031, 1, 1))
    assert far.monday == date(2030, 1, 7) + timedelta(weeks=WEEKS_AHEAD) and far.last
    later = week_of(NEW_YORK, THURSDAY, date(2030, 1, 16))  # any day of it
    assert later.monday == date(2030, 1, 14) and later.start == datetime(2030, 1, 14, 5, 0, tzinfo=UTC)


def test_the_week_the_clocks_change_is_a_local_week():
    spring = week_of(NEW_YORK, THURSDAY, date(2030, 3, 4))  # clocks go forward on Sunday 10 March 2030
    assert spring.monday == date(2030, 3, 4) and spring.end - spring.start == timedelta(hours=167)
    after = week_of(NEW_YORK, THURSDAY, date(2030, 3, 13))
    assert after.monday == date(2030, 3, 11)
    assert after.start == datetime(2030, 3, 11, 4, tzinfo=UTC)  # Monday 00:00 EDT
    assert after.end == datetime(2030, 3, 18, 4, tzinfo=UTC)


def test_the_count_of_a_week_is_the_number_of_slots_listed_in_it(db):
    program = make_program(db, lead_time_hours=24, buffer_minutes=15)
    mentee = make_mentee(db, time_zone="America/New_York")
    london = make_mentor(db, time_zone="Europe/London", weekly=[(d, "09:00", "17:00") for d in range(7)])
    tokyo = make_mentor(db, time_zone="Asia/Tokyo", weekly=[(d, "08:00", "12:00") for d in range(5)])
    dated = make_mentor(db, time_zone="UTC", weekly=[])
    add_dated_slot(db, dated, at("2030-01-12", "13:00"), at("2030-01-12", "15:00"))
    make_meeting(db, program=program, mentee=mentee, mentor=london,
                 start=at("2030-01-12", "10:00", "Europe/London"), now=THURSDAY)
    counts = this_week_counts(db, program, [london, tokyo, dated], mentee, NEW_YORK, THURSDAY)
    week = week_of(NEW_YORK, THURSDAY)
    listed = {m.id: len(week_slots(db, program, m, mentee, week, THURSDAY)) for m in (london, tokyo, dated)}
    assert counts == listed
    assert listed[dated.id] == 4 and listed[tokyo.id] > 0
    # Friday from 15:00 (24 hours' notice), Saturday and Sunday; the meeting at 10:00 and its 15-minute
    # buffers take 09:30, 10:00 and 10:30
    assert listed[london.id] == 4 + 2 * 16 - 3


def test_first_week_and_next_slots_look_ahead_week_by_week(db):
    program = make_program(db, lead_time_hours=0)
    mentee = make_mentee(db, time_zone="UTC")
    mentor = make_mentor(db, time_zone="UTC", weekly=[])
    first = add_dated_slot(db, mentor, at("2030-01-23", "10:00"), at("2030-01-23", "11:00"))
    add_dated_slot(db, mentor, at("2030-02-06", "10:00"), at("2030-02-06", "10:30"))
    zone = ZoneInfo("UTC")
    week, slots = first_week_with_slots(db, program, mentor, mentee, zone, THURSDAY)
    assert week.monday == date(2030, 1, 21)
    assert [s.start for s in slots] == [first.start_at, first.start_at + timedelta(minutes=30)]
    found = next_slots(db, program, mentor, mentee, zone, THURSDAY, 5)
    assert [s.start for s in found] == [at("2030-01-23", "10:00"), at("2030-01-23", "10:30"),
                                        at("2030-02-06", "10:00")]
    empty = make_mentor(db, time_zone="UTC", weekly=[])
    week, slots = first_week_with_slots(db, program, empty, mentee, zone, THURSDAY)
    assert week.first and slots == []
    assert next_slots(db, program, empty, mentee, zone, THURSDAY, 5) == []
