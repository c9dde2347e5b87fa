"""The meeting lifecycle: cancel, reschedule, complete / not held, and changes made in calendars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import DomainError
from scheduling.events import MeetingCanceled, MeetingFinished, MeetingRescheduled
from scheduling.models import Meeting, MeetingState
from scheduling.services import meetings as svc
from tests.factories import (
    NOW,
    Cast,
    at,
    captured_events,
    count_rows,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
)

WED_10 = at("2030-01-09", "10:00")
THU_14 = at("2030-01-10", "14:00")


@dataclass
class World(Cast):
    """The cast, and the meeting every test here starts from."""

    meeting: Meeting


@pytest.fixture
def w(db: Session) -> World:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=WED_10)
    return World(program=program, mentor=mentor, mentee=mentee, stranger=make_mentee(db),
                 admin=make_admin(db), meeting=meeting)


def reloaded(db: Session, meeting: Meeting) -> Meeting:
    db.expire_all()
    fresh = db.get(Meeting, meeting.id)
    assert fresh is not None
    return fresh


def unchanged(db: Session, w: World, action: Any, code: str, field: str | None = "any") -> None:
    """``action()`` is refused with ``code`` and leaves the meeting exactly as it was."""
    m = reloaded(db, w.meeting)
    before = (m.state, m.start_at, m.end_at, m.sequence, m.cancel_reason, count_rows(db, Meeting))
    with captured_events() as seen, pytest.raises(DomainError) as info:
        action()
    assert info.value.code == code, info.value.message
    if field != "any":
        assert info.value.field == field
    m = reloaded(db, w.meeting)
    assert (m.state, m.start_at, m.end_at, m.sequence, m.cancel_reason, count_rows(db, Meeting)) == before
    assert seen == []


# --- cancel -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["mentor", "mentee", "admin"])
def test_nobody_cancels_or_moves_a_meeting_that_is_over(db: Session, w: World, who: str) -> None:
    meeting = w.meeting
    over = meeting.end_at  # the survey, not a cancel, says whether it took place
    unchanged(db, w, lambda: svc.cancel(db, meeting, actor=w.person(who), now=over), "invalid_transition")
    start, end = THU_14, THU_14 + timedelta(minutes=30)
    unchanged(db, w, lambda: svc.reschedule(db, meeting, actor=w.person(who), start=start, end=end, now=over),
              "invalid_transition")
    assert svc.allowed_actions(meeting, w.person(who), now=over) == []
    just_before = over - timedelta(minutes=1)
    assert svc.allowed_actions(meeting, w.person(who), now=just_before) == ["cancel", "reschedule"]


@pytest.mark.parametrize("who", ["mentor", "mentee", "admin"])
def test_participants_and_admins_cancel(db: Session, w: World, who: str) -> None:
    meeting = w.meeting
    with captured_events() as seen:
        svc.cancel(db, meeting, actor=w.person(who), reason="  Sick  ", now=NOW)
    m = reloaded(db, meeting)
    assert (m.state, m.cancel_reason, m.canceled_by_id, m.sequence) == (
        MeetingState.CANCELED,
        "Sick",
        w.person(who).id,
        1,
    )
    assert seen == [MeetingCanceled(meeting.id)]
    assert svc.allowed_actions(m, w.person(who)) == []


def test_a_stranger_cannot_cancel(db: Session, w: World) -> None:
    unchanged(db, w, lambda: svc.cancel(db, w.meeting, actor=w.stranger, now=NOW), "not_participant")


def test_cancel_twice_is_a_wrong_transition(db: Session, w: World) -> None:
    svc.cancel(db, w.meeting, actor=w.mentee, now=NOW)
    unchanged(db, w, lambda: svc.cancel(db, w.meeting, actor=w.mentee, now=NOW), "invalid_transition")


def test_cancel_reason_length(db: Session, w: World) -> None:
    unchanged(
        db,
        w,
        lambda: svc.cancel(db, w.meeting, actor=w.mentee, reason="x" * 2001, now=NOW),
        "validation_failed",
        "reason",
    )


# --- reschedule ---------------------------------------------------------------------------------


def test_reschedule_moves_and_bumps_the_sequence(db: Session, w: World) -> None:
    with captured_events() as seen:
        svc.reschedule(
            db, w.meeting, actor=w.mentee, start=THU_14, end=THU_14 + timedelta(minutes=30), now=NOW
        )
    m = reloaded(db, w.meeting)
    assert (m.state, m.start_at, m.end_at, m.sequence) == (
        MeetingState.RESCHEDULED,
        THU_14,
        THU_14 + timedelta(minutes=30),
        1,
    )
    assert seen == [MeetingRescheduled(m.id)]
    svc.reschedule(db, m, actor=w.admin, start=WED_10, end=WED_10 + timedelta(minutes=30), now=NOW)
    assert reloaded(db, m).sequence == 2


def test_reschedule_may_overlap_its_own_old_time(db: Session, w: World) -> None:
    start = WED_10 + timedelta(minutes=15)
    svc.reschedule(
        db, w.meeting, actor=w.mentor, start=start, end=start + timedelta(minutes=30), now=NOW
    )
    assert reloaded(db, w.meeting).start_at == start


def test_reschedule_to_the_same_time_changes_nothing(db: Session, w: World) -> None:
    with captured_events() as seen:
        svc.reschedule(
            db, w.meeting, actor=w.mentor, start=WED_10, end=WED_10 + timedelta(minutes=30), now=NOW
        )
    m = reloaded(db, w.meeting)
    assert (m.state, m.sequence, seen) == (MeetingState.SCHEDULED, 0, [])


@pytest.mark.parametrize(
    ("start", "minutes", "code"),
    [
        (at("2030-01-12", "10:00"), 30, "slot_outside_availability"),
        (at("2030-01-07", "12:00"), 30, "lead_time_too_short"),
        (at("2030-01-01", "12:00"), 30, "time_in_past"),
        (THU_14, 45, "bad_slot_length"),
    ],
)
def test_reschedule_follows_the_booking_rules(
    db: Session, w: World, start: Any, minutes: int, code: str
) -> None:
    unchanged(
        db,
        w,
        lambda: svc.reschedule(
            db, w.meeting, actor=w.mentor, start=start, end=start + timedelta(minutes=minutes), now=NOW
        ),
        code,
    )


def test_reschedule_cannot_clash_with_another_meeting(db: Session, w: World) -> None:
    make_meeting(db, program=w.program, mentor=w.mentor, mentee=w.stranger, start=THU_14)
    with pytest.raises(DomainError) as info:
        svc.reschedule(
            db, w.meeting, actor=w.mentee, start=THU_14, end=THU_14 + timedelta(minutes=30), now=NOW
        )
    assert info.value.code in ("slot_not_available", "meeting_overlap")
    assert reloaded(db, w.meeting).start_at == WED_10


def test_reschedule_bad_input(db: Session, w: World) -> None:
    naive = THU_14.replace(tzinfo=None)
    unchanged(
        db,
        w,
        lambda: svc.reschedule(
            db, w.meeting, actor=w.mentor, start=naive, end=naive + timedelta(minutes=30), now=NOW
        ),
        "validation_failed",
        "start",
    )
    unchanged(
        db,
        w,
        lambda: svc.reschedule(db, w.meeting, actor=w.mentor, start=THU_14, end=THU_14, now=NOW),
        "validation_failed",
        "start",
    )


def test_only_participants_reschedule_and_only_active_meetings(db: Session, w: World) -> None:
    move = dict(start=THU_14, end=THU_14 + timedelta(minutes=30), now=NOW)
    unchanged(db, w, lambda: svc.reschedule(db, w.meeting, actor=w.stranger, **move), "not_participant")
    svc.cancel(db, w.meeting, actor=w.mentor, now=NOW)
    unchanged(
        db, w, lambda: svc.reschedule(db, w.meeting, actor=w.mentor, **move), "invalid_transition"
    )


# --- complete / not held ------------------------------------------------------------------------


def test_complete_after_it_started(db: Session, w: World) -> None:
    unchanged(
        db, w, lambda: svc.complete(db, w.meeting, now=WED_10 - timedelta(minutes=1)), "invalid_transition"
    )
    with captured_events() as seen:
        svc.complete(db, w.meeting, now=WED_10 + timedelta(minutes=40))
        svc.complete(db, w.meeting, now=WED_10 + timedelta(minutes=50))  # the other side says so too
    assert reloaded(db, w.meeting).state == MeetingState.COMPLETED
    assert seen == [MeetingFinished(w.meeting.id)]
    unchanged(
        db,
        w,
        lambda: svc.mark_not_held(db, w.meeting, now=WED_10 + timedelta(hours=1)),
        "invalid_transition",
    )
    unchanged(db, w, lambda: svc.cancel(db, w.meeting, actor=w.mentor, now=NOW), "invalid_transition")


def test_mark_not_held(db: Session, w: World) -> None:
    svc.mark_not_held(db, w.meeting, actor=w.mentee, now=WED_10 + timedelta(hours=3))
    assert reloaded(db, w.meeting).state == MeetingState.NOT_HELD
    unchanged(
        db, w, lambda: svc.complete(db, w.meeting, now=WED_10 + timedelta(hours=4)), "invalid_transition"
    )


def test_a_stranger_cannot_complete(db: Session, w: World) -> None:
    unchanged(
        db,
        w,
        lambda: svc.complete(db, w.meeting, actor=w.stranger, now=WED_10 + timedelta(hours=1)),
        "not_participant",
    )


def test_a_canceled_meeting_cannot_be_completed(db: Session, w: World) -> None:
    svc.cancel(db, w.meeting, actor=w.mentor, now=NOW)
    unchanged(
        db, w, lambda: svc.complete(db, w.meeting, now=WED_10 + timedelta(hours=1)), "invalid_transition"
    )


# --- changes from calendars ---------------------------------------------------------------------


def test_moved_in_a_calendar_follows_without_availability_checks(db: Session, w: World) -> None:
    saturday = at("2030-01-12", "18:00")  # outside the mentor's weekly slots, and 45 minutes long
    with captured_events() as seen:
        assert (
            svc.apply_calendar_change(
                db, w.meeting, kind="moved", start=saturday, end=saturday + timedelta(minutes=45)
            )
            is True
        )
        assert (
            svc.apply_calendar_change(
                db, w.meeting, kind="moved", start=saturday, end=saturday + timedelta(minutes=45)
            )
            is False
        )
    m = reloaded(db, w.meeting)
    assert (m.state, m.start_at, m.end_at, m.sequence) == (
        MeetingState.RESCHEDULED,
        saturday,
        saturday + timedelta(minutes=45),
        1,
    )
    assert seen == [MeetingRescheduled(m.id)]


@pytest.mark.parametrize(
    ("kind", "note", "reason"),
    [
        ("canceled", "", "Removed from calendar."),
        ("declined", "", "Declined in calendar."),
        ("declined", "Conflict with offsite", "Conflict with offsite"),
    ],
)
def test_declined_or_deleted_in_a_calendar_cancels(
    db: Session, w: World, kind: str, note: str, reason: str
) -> None:
    with captured_events() as seen:
        assert svc.apply_calendar_change(db, w.meeting, kind=kind, note=note) is True
        assert svc.apply_calendar_change(db, w.meeting, kind=kind, note=note) is False
    m = reloaded(db, w.meeting)
    assert (m.state, m.cancel_reason, m.canceled_by_id, m.sequence) == (
        MeetingState.CANCELED,
        reason,
        None,
        1,
    )
    assert seen == [MeetingCanceled(m.id)]


def test_calendar_changes_to_finished_or_canceled_meetings_are_ignored(
    db: Session, w: World
) -> None:
    svc.cancel(db, w.meeting, actor=w.mentee, reason="mine", now=NOW)
    assert (
        svc.apply_calendar_change(
            db, w.meeting, kind="moved", start=THU_14, end=THU_14 + timedelta(minutes=30)
        )
        is False
    )
    assert svc.apply_calendar_change(db, w.meeting, kind="declined", note="x") is False
    m = reloaded(db, w.meeting)
    assert (m.start_at, m.cancel_reason, m.sequence) == (WED_10, "mine", 1)


def test_updated_changes_nothing(db: Session, w: World) -> None:
    assert svc.apply_calendar_change(db, w.meeting, kind="updated") is False
    m = reloaded(db, w.meeting)
    assert (m.state, m.sequence) == (MeetingState.SCHEDULED, 0)


def test_calendar_change_kind_is_a_str_enum_too(db: Session, w: World) -> None:
    from calendars.base import ChangeKind

    assert svc.apply_calendar_change(db, w.meeting, kind=ChangeKind.DECLINED) is True


@pytest.mark.parametrize(
    "kw",
    [
        {"kind": "exploded"},
        {"kind": "moved"},
        {"kind": "moved", "start": WED_10, "end": WED_10 - timedelta(hours=1)},
    ],
)
def test_bad_calendar_changes_are_refused(db: Session, w: World, kw: dict[str, Any]) -> None:
    unchanged(db, w, lambda: svc.apply_calendar_change(db, w.meeting, **kw), "validation_failed")
