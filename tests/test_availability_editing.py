"""A mentor edits weekly slots, dated slots and the availability note."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.errors import NotAMentor, NotFound, UnknownTimeZone, ValidationFailed
from scheduling.models import DatedSlot, WeeklySlot
from scheduling.services.availability_editing import (
    add_dated_slot,
    remove_dated_slot,
    replace_weekly_slots,
    set_availability_note,
    upcoming_dated_slots,
    update_availability,
    weekly_view,
)
from tests.factories import NOW, at, count_rows, make_mentee, make_mentor


def weekly_rows(db: Session) -> list[tuple[int, str, str, str]]:
    db.expire_all()
    rows = db.scalars(select(WeeklySlot).order_by(WeeklySlot.weekday, WeeklySlot.start_time))
    return [(w.weekday, f"{w.start_time:%H:%M}", f"{w.end_time:%H:%M}", w.time_zone) for w in rows]


def test_weekly_slots_are_replaced_in_the_mentor_zone(db: Session) -> None:
    mentor = make_mentor(db, time_zone="Asia/Kolkata")
    replace_weekly_slots(
        db,
        mentor,
        [
            {"weekday": 1, "start": "09:00", "end": "11:00"},
            {"weekday": 1, "start": "11:00", "end": "12:30"},  # touching is fine
            {"weekday": 3, "start": "14:00", "end": "15:00", "time_zone": "Europe/London"},
        ],
    )
    assert weekly_rows(db) == [
        (1, "09:00", "11:00", "Asia/Kolkata"),
        (1, "11:00", "12:30", "Asia/Kolkata"),
        (3, "14:00", "15:00", "Europe/London"),
    ]
    replace_weekly_slots(db, mentor, [{"weekday": 0, "start": "08:00", "end": "09:00"}], time_zone="UTC")
    assert weekly_rows(db) == [(0, "08:00", "09:00", "UTC")]
    replace_weekly_slots(db, mentor, [])
    assert weekly_rows(db) == []


@pytest.mark.parametrize(
    ("slot", "field"),
    [
        ({"weekday": 7, "start": "09:00", "end": "10:00"}, "weekly_slots[1].weekday"),
        ({"weekday": -1, "start": "09:00", "end": "10:00"}, "weekly_slots[1].weekday"),
        ({"weekday": "Monday", "start": "09:00", "end": "10:00"}, "weekly_slots[1].weekday"),
        ({"weekday": True, "start": "09:00", "end": "10:00"}, "weekly_slots[1].weekday"),
        ({"weekday": 2, "start": "9am", "end": "10:00"}, "weekly_slots[1].start"),
        ({"weekday": 2, "start": "24:00", "end": "10:00"}, "weekly_slots[1].start"),
        ({"weekday": 2, "start": "09:00", "end": "09:60"}, "weekly_slots[1].end"),
        ({"weekday": 2, "start": "10:00", "end": "10:00"}, "weekly_slots[1].end"),
        ({"weekday": 2, "start": "22:00", "end": "01:00"}, "weekly_slots[1].end"),
        (
            {"weekday": 2, "start": "09:00", "end": "10:00", "time_zone": "Mars/Base"},
            "weekly_slots[1].time_zone",
        ),
        ({"weekday": 2, "start": "09:00", "end": "10:00", "colour": "red"}, "weekly_slots[1]"),
        ("Tuesday 9-10", "weekly_slots[1]"),
        ({"weekday": 0, "start": "09:30", "end": "10:30"}, "weekly_slots[1]"),  # overlaps slot 0
    ],
)
def test_bad_weekly_slots_are_refused_and_change_nothing(db: Session, slot: object, field: str) -> None:
    mentor = make_mentor(db, weekly=[(4, "09:00", "10:00")])
    with pytest.raises(ValidationFailed) as err:
        replace_weekly_slots(db, mentor, [{"weekday": 0, "start": "09:00", "end": "10:00"}, slot])
    assert err.value.field == field
    assert weekly_rows(db) == [(4, "09:00", "10:00", "UTC")]


def test_overlap_is_found_whatever_the_order(db: Session) -> None:
    mentor = make_mentor(db, weekly=[])
    with pytest.raises(ValidationFailed, match="overlap"):
        replace_weekly_slots(
            db,
            mentor,
            [
                {"weekday": 2, "start": "13:00", "end": "15:00"},
                {"weekday": 4, "start": "09:00", "end": "10:00"},
                {"weekday": 2, "start": "09:00", "end": "13:30"},
            ],
        )
    # The same wall times in different zones are different hours, so they may coexist.
    replace_weekly_slots(
        db,
        mentor,
        [
            {"weekday": 2, "start": "09:00", "end": "10:00", "time_zone": "Europe/London"},
            {"weekday": 2, "start": "09:00", "end": "10:00", "time_zone": "America/New_York"},
        ],
    )


def test_unknown_default_zone_is_refused(db: Session) -> None:
    mentor = make_mentor(db)
    with pytest.raises(UnknownTimeZone) as err:
        replace_weekly_slots(db, mentor, [], time_zone="Narnia/Cair_Paravel")
    assert err.value.field == "time_zone"


def test_only_mentors_edit_availability(db: Session) -> None:
    mentee = make_mentee(db)
    with pytest.raises(NotAMentor):
        replace_weekly_slots(db, mentee, [{"weekday": 0, "start": "09:00", "end": "10:00"}])
    with pytest.raises(NotAMentor):
        add_dated_slot(db, mentee, at("2030-01-10", "09:00"), at("2030-01-10", "10:00"), now=NOW)
    assert count_rows(db, WeeklySlot, DatedSlot) == {"WeeklySlot": 0, "DatedSlot": 0}


def test_weekly_view_is_sorted_wall_time(db: Session) -> None:
    mentor = make_mentor(db, time_zone="Europe/Berlin", weekly=[(3, "14:00", "15:00"), (0, "09:00", "10:00")])
    view = weekly_view(mentor)
    assert [{k: v for k, v in row.items() if k != "id"} for row in view] == [
        {"weekday": 0, "day": "Monday", "start": "09:00", "end": "10:00", "time_zone": "Europe/Berlin"},
        {"weekday": 3, "day": "Thursday", "start": "14:00", "end": "15:00", "time_zone": "Europe/Berlin"},
    ]
    assert {row["id"] for row in view} == {w.id for w in mentor.weekly_slots}


# ---------------------------------------------------------------- dated slots


def test_dated_slots_are_added_in_utc_and_removed(db: Session) -> None:
    mentor = make_mentor(db, time_zone="America/Los_Angeles")
    slot = add_dated_slot(db, mentor, "2030-01-10T09:00:00-08:00", "2030-01-10T10:00:00-08:00", now=NOW)
    db.expire_all()
    stored = db.get(DatedSlot, slot.id)
    assert stored is not None
    assert stored.start_at == datetime(2030, 1, 10, 17, 0, tzinfo=UTC)
    assert [d.id for d in upcoming_dated_slots(db, mentor, now=NOW)] == [slot.id]
    remove_dated_slot(db, mentor, slot.id)
    assert count_rows(db, DatedSlot) == {"DatedSlot": 0}


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (datetime(2030, 1, 10, 9, 0), datetime(2030, 1, 10, 10, 0), "dated_slot.start"),  # naive
        ("2030-01-10T09:00", "2030-01-10T10:00", "dated_slot.start"),  # naive text
        ("tomorrow", "2030-01-10T10:00Z", "dated_slot.start"),
        ("2030-01-10T10:00Z", "2030-01-10T10:00Z", "dated_slot.end"),
        ("2030-01-10T11:00Z", "2030-01-10T10:00Z", "dated_slot.end"),
        ("2030-01-07T08:00Z", "2030-01-07T10:00Z", "dated_slot.start"),  # started before NOW
        ("2030-01-10T09:00Z", "2030-01-11T10:00Z", "dated_slot.end"),  # longer than a day
        ("2032-01-10T09:00Z", "2032-01-10T10:00Z", "dated_slot.start"),  # years ahead
        (None, "2030-01-10T10:00Z", "dated_slot.start"),
    ],
)
def test_bad_dated_slots_are_refused(db: Session, start: object, end: object, field: str) -> None:
    mentor = make_mentor(db)
    with pytest.raises(ValidationFailed) as err:
        add_dated_slot(db, mentor, start, end, now=NOW)
    assert err.value.field == field
    assert count_rows(db, DatedSlot) == {"DatedSlot": 0}


def test_dated_slots_may_not_overlap(db: Session) -> None:
    mentor = make_mentor(db)
    add_dated_slot(db, mentor, at("2030-01-10", "09:00"), at("2030-01-10", "10:00"), now=NOW)
    with pytest.raises(ValidationFailed, match="overlaps"):
        add_dated_slot(db, mentor, at("2030-01-10", "09:30"), at("2030-01-10", "10:30"), now=NOW)
    add_dated_slot(db, mentor, at("2030-01-10", "10:00"), at("2030-01-10", "11:00"), now=NOW)
    # Another mentor's slot at the same time is no clash.
    other = make_mentor(db)
    add_dated_slot(db, other, at("2030-01-10", "09:00"), at("2030-01-10", "10:00"), now=NOW)
    assert count_rows(db, DatedSlot) == {"DatedSlot": 3}


def test_cannot_remove_someone_elses_dated_slot(db: Session) -> None:
    owner, other = make_mentor(db), make_mentor(db)
    slot = add_dated_slot(db, owner, at("2030-01-10", "09:00"), at("2030-01-10", "10:00"), now=NOW)
    with pytest.raises(NotFound):
        remove_dated_slot(db, other, slot.id)
    with pytest.raises(NotFound):
        remove_dated_slot(db, owner, 10**12)
    assert count_rows(db, DatedSlot) == {"DatedSlot": 1}


# ---------------------------------------------------------------- note and combined update


def test_note_is_trimmed_and_limited(db: Session) -> None:
    mentor = make_mentor(db)
    set_availability_note(db, mentor, "  Tuesday mornings, ask me.  ")
    assert mentor.availability_note == "Tuesday mornings, ask me."
    with pytest.raises(ValidationFailed) as err:
        set_availability_note(db, mentor, "x" * 2001)
    assert err.value.field == "note"
    with pytest.raises(ValidationFailed):
        set_availability_note(db, mentor, 12)
    db.expire_all()
    assert mentor.availability_note == "Tuesday mornings, ask me."


def test_update_availability_is_all_or_nothing(db: Session) -> None:
    mentor = make_mentor(db, weekly=[(0, "09:00", "10:00")])
    set_availability_note(db, mentor, "old note")
    with pytest.raises(ValidationFailed) as err:
        update_availability(
            db,
            mentor,
            weekly=[{"weekday": 2, "start": "09:00", "end": "10:00"}],
            dated=[{"start": "2030-01-10T09:00Z", "end": "2030-01-10T08:00Z"}],
            note="new note",
            now=NOW,
        )
    assert err.value.field == "dated_slots[0].end"
    assert weekly_rows(db) == [(0, "09:00", "10:00", "UTC")]
    assert mentor.availability_note == "old note"

    update_availability(
        db,
        mentor,
        weekly=[{"weekday": 2, "start": "09:00", "end": "10:00"}],
        dated=[{"start": "2030-01-10T09:00Z", "end": "2030-01-10T10:00Z"}],
        note="new note",
        now=NOW,
    )
    assert weekly_rows(db) == [(2, "09:00", "10:00", "UTC")]
    assert mentor.availability_note == "new note"
    assert [(d.start_at, d.end_at) for d in upcoming_dated_slots(db, mentor, now=NOW)] == [
        (at("2030-01-10", "09:00"), at("2030-01-10", "10:00"))
    ]


def test_replacing_dated_slots_keeps_one_in_progress(db: Session) -> None:
    """A slot the client got from GET and sends back unchanged is kept, even if it has begun."""
    mentor = make_mentor(db)
    slot = add_dated_slot(db, mentor, at("2030-01-07", "10:00"), at("2030-01-07", "12:00"), now=NOW)
    later = NOW + timedelta(hours=2)  # 11:00: the slot is under way
    update_availability(
        db,
        mentor,
        dated=[
            {"start": slot.start_at.isoformat(), "end": slot.end_at.isoformat()},
            {"start": "2030-01-08T10:00Z", "end": "2030-01-08T11:00Z"},
        ],
        now=later,
    )
    starts = [d.start_at.time() for d in upcoming_dated_slots(db, mentor, now=later)]
    assert starts == [time(10, 0), time(10, 0)]
    with pytest.raises(ValidationFailed):  # but a new slot in the past is refused
        update_availability(
            db, mentor, dated=[{"start": "2030-01-07T10:30Z", "end": "2030-01-07T12:00Z"}], now=later
        )


def test_update_availability_refuses_overlapping_dated_slots(db: Session) -> None:
    mentor = make_mentor(db)
    with pytest.raises(ValidationFailed) as err:
        update_availability(
            db,
            mentor,
            dated=[
                {"start": "2030-01-10T09:00Z", "end": "2030-01-10T10:00Z"},
                {"start": "2030-01-10T09:59Z", "end": "2030-01-10T10:30Z"},
            ],
            now=NOW,
        )
    assert err.value.field == "dated_slots[1]"
