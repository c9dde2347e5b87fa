"""Every program rule checked when a mentee asks for a meeting, with the error code it gives.

A refused request must leave the database exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import DomainError
from scheduling.events import RequestCreated
from scheduling.models import (
    AvailabilityMode,
    Initiator,
    Meeting,
    MeetingRequest,
    Person,
    Program,
    ProposedTime,
    RequestState,
)
from scheduling.services import meetings as meeting_service
from scheduling.services import requests as svc
from tests.factories import (
    NOW,
    at,
    captured_events,
    count_rows,
    make_meeting,
    make_mentee,
    make_mentor,
    make_person,
    make_program,
    make_request,
    slot,
)

WED_10 = at("2030-01-09", "10:00")  # inside the default workweek, past the 24 h lead time
CLASH = "slot_not_available"  # how check_bookable reports a clash with a booked meeting


@dataclass
class World:
    """The people and rows every test here starts from."""

    program: Program
    mentor: Person
    mentee: Person


@pytest.fixture
def world(db: Session) -> World:
    return World(
        program=make_program(db),
        mentor=make_mentor(db, name="Mo Mentor"),
        mentee=make_mentee(db, name="Mae Mentee"),
    )


def ask(db: Session, world: World, **kw: Any) -> MeetingRequest:
    args: dict[str, Any] = {"program": world.program, "mentee": world.mentee, "mentor": world.mentor}
    args.update(kw)
    return make_request(db, **args)


def refused(
    db: Session, world: World, code: str, field: str | None = "any", **kw: Any
) -> DomainError:
    """Asking with ``kw`` fails with ``code`` (and ``field``), writes nothing and publishes nothing."""
    before = count_rows(db, MeetingRequest, ProposedTime, Meeting)
    with captured_events() as seen, pytest.raises(DomainError) as info:
        ask(db, world, **kw)
    assert info.value.code == code, info.value.message
    if field != "any":
        assert info.value.field == field
    assert count_rows(db, MeetingRequest, ProposedTime, Meeting) == before
    assert seen == []
    return info.value


def test_a_valid_request_is_pending_with_its_times_in_utc(db: Session, world: World) -> None:
    later = at("2030-01-10", "11:30", "Europe/Paris")  # 10:30 UTC, Thursday
    with captured_events() as seen:
        req = ask(db, world, times=[slot(later), slot(WED_10)], description="Growth", mode="phone")
    assert req.state == RequestState.PENDING
    assert req.initiated_by == Initiator.MENTEE
    assert req.created_at == NOW
    db.expire_all()
    stored = db.get(MeetingRequest, req.id)
    assert stored is not None
    assert [(p.start_at, p.end_at) for p in stored.proposed_times] == [slot(WED_10), slot(later)]
    assert all(p.start_at.utcoffset() == timedelta(0) for p in stored.proposed_times)
    assert stored.mode.value == "phone"
    assert seen == [RequestCreated(req.id)]


def test_the_mentor_must_be_a_mentor(db: Session, world: World) -> None:
    plain = make_person(db, weekly=[(2, "09:00", "17:00")])
    refused(db, world, "not_a_mentor", "mentor_id", mentor=plain)


def test_an_inactive_mentor_takes_no_requests(db: Session, world: World) -> None:
    world.mentor.active = False
    db.commit()
    refused(db, world, "not_a_mentor", "mentor_id")


def test_nobody_requests_a_meeting_with_themselves(db: Session, world: World) -> None:
    both = make_mentor(db, is_mentee=True)
    refused(db, world, "self_request", "mentor_id", mentor=both, mentee=both)


def test_the_requester_must_be_a_mentee(db: Session, world: World) -> None:
    other_mentor = make_mentor(db)
    refused(db, world, "not_a_mentee", "mentee_id", mentee=other_mentor)


def test_mentors_may_not_create_meetings_unless_the_program_allows(
    db: Session, world: World
) -> None:
    refused(db, world, "mentor_creation_not_allowed", initiated_by=Initiator.MENTOR)
    world.program.mentors_may_create = True
    db.commit()
    req = ask(db, world, initiated_by="mentor")
    assert req.initiated_by == Initiator.MENTOR
    assert svc.answerer_id(req) == world.mentee.id
    assert svc.initiator_id(req) == world.mentor.id


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"topic": ""}, "topic"),
        ({"topic": "   "}, "topic"),
        ({"topic": "x" * 201}, "topic"),
        ({"topic": 42}, "topic"),
        ({"description": "x" * 5001}, "description"),
        ({"mode": "carrier-pigeon"}, "mode"),
        ({"mode": "in_person", "location": ""}, "location"),
        ({"location": "x" * 501}, "location"),
        ({"initiated_by": "robot"}, "initiated_by"),
    ],
)
def test_bad_fields_are_refused_by_name(
    db: Session, world: World, kw: dict[str, Any], field: str
) -> None:
    refused(db, world, "validation_failed", field, **kw)


def test_in_person_needs_and_keeps_a_location(db: Session, world: World) -> None:
    req = ask(db, world, mode="in_person", location="  Room 4.12  ")
    assert req.location == "Room 4.12"


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ([], "times"),
        ([slot(WED_10 + timedelta(hours=h)) for h in range(6)], "times"),
        ([slot(WED_10), slot(WED_10)], "times[1]"),
        ([(WED_10.replace(tzinfo=None), WED_10.replace(tzinfo=None) + timedelta(minutes=30))], "times[0]"),
        ([(WED_10, WED_10)], "times[0]"),
        ([(WED_10 + timedelta(minutes=30), WED_10)], "times[0]"),
        ([("2030-01-09T10:00:00Z", "2030-01-09T10:30:00Z")], "times[0]"),
        ([(WED_10,)], "times[0]"),
    ],
    ids=["none", "six", "duplicate", "naive", "empty", "reversed", "strings", "not-a-pair"],
)
def test_proposed_times_are_validated(db: Session, world: World, times: Any, field: str) -> None:
    refused(db, world, "validation_failed", field, times=times)


def test_five_times_are_allowed(db: Session, world: World) -> None:
    req = ask(db, world, times=[slot(WED_10 + timedelta(hours=h)) for h in range(5)])
    assert len(req.proposed_times) == 5


def test_a_time_in_the_past_is_refused(db: Session, world: World) -> None:
    refused(db, world, "time_in_past", "times[0]", times=[slot(at("2030-01-04", "10:00"))])


def test_a_time_inside_the_lead_time_is_refused(db: Session, world: World) -> None:
    # Monday 14:00 is 5 hours after NOW; the program wants 24 hours' notice.
    refused(db, world, "lead_time_too_short", "times[0]", times=[slot(at("2030-01-07", "14:00"))])
    world.program.lead_time_hours = 2
    db.commit()
    assert ask(db, world, times=[slot(at("2030-01-07", "14:00"))]).state == RequestState.PENDING


def test_a_time_of_the_wrong_length_is_refused(db: Session, world: World) -> None:
    refused(db, world, "bad_slot_length", "times[0]", times=[slot(WED_10, 45)])


def test_a_time_outside_the_mentors_weekly_slots_is_refused(db: Session, world: World) -> None:
    saturday = at("2030-01-12", "10:00")
    refused(db, world, "slot_outside_availability", "times[0]", times=[slot(saturday)])
    evening = at("2030-01-09", "17:00")
    refused(db, world, "slot_outside_availability", "times[0]", times=[slot(evening)])


def test_availability_is_read_in_the_mentors_zone(db: Session, world: World) -> None:
    tokyo = make_mentor(db, time_zone="Asia/Tokyo")  # 09:00-17:00 Tokyo = 00:00-08:00 UTC
    refused(db, world, "slot_outside_availability", "times[0]", mentor=tokyo, times=[slot(WED_10)])
    req = ask(db, world, mentor=tokyo, times=[slot(at("2030-01-09", "10:00", "Asia/Tokyo"))])
    assert req.proposed_times[0].start_at == at("2030-01-09", "01:00")


def test_free_text_availability_skips_the_slot_check(db: Session, world: World) -> None:
    world.program.availability_mode = AvailabilityMode.FREE_TEXT
    db.commit()
    req = ask(db, world, times=[slot(at("2030-01-12", "10:00"))])
    assert req.state == RequestState.PENDING


def test_a_time_clashing_with_a_mentors_meeting_is_refused(db: Session, world: World) -> None:
    make_meeting(db, program=world.program, mentor=world.mentor, mentee=make_mentee(db), start=WED_10)
    err = refused(db, world, CLASH, "times[0]", times=[slot(WED_10 + timedelta(minutes=0))])
    assert err.status == 409


def test_a_time_clashing_with_the_mentees_meeting_is_refused(db: Session, world: World) -> None:
    make_meeting(db, program=world.program, mentor=make_mentor(db), mentee=world.mentee, start=WED_10)
    refused(db, world, CLASH, "times[0]", times=[slot(WED_10)])


def test_one_bad_time_refuses_the_whole_request(db: Session, world: World) -> None:
    refused(
        db, world, "bad_slot_length", "times[1]", times=[slot(WED_10), slot(WED_10 + timedelta(hours=1), 60)]
    )


# --- limits -------------------------------------------------------------------------------------


def test_pending_limit_counts_open_requests(db: Session, world: World) -> None:
    world.program.max_pending_requests = 2
    db.commit()
    first = ask(db, world, times=[slot(WED_10)])
    second = ask(db, world, times=[slot(WED_10 + timedelta(hours=1))])
    third_time = [slot(WED_10 + timedelta(hours=2))]
    refused(db, world, "pending_limit_reached", times=third_time)
    # A countered request is still open ...
    svc.counter(
        db,
        second,
        actor=world.mentor,
        start=WED_10 + timedelta(hours=3),
        end=WED_10 + timedelta(hours=3, minutes=30),
        now=NOW,
    )
    refused(db, world, "pending_limit_reached", times=third_time)
    # ... a declined one frees its place.
    svc.decline(db, first, actor=world.mentor, reason="no_time", now=NOW)
    assert ask(db, world, times=third_time).state == RequestState.PENDING


def test_no_pending_limit_when_the_program_sets_none(db: Session, world: World) -> None:
    world.program.max_pending_requests = None
    db.commit()
    for h in range(5):
        ask(db, world, times=[slot(WED_10 + timedelta(hours=h))])


def test_pending_limit_does_not_bind_a_mentor_asking(db: Session, world: World) -> None:
    world.program.max_pending_requests = 1
    world.program.mentors_may_create = True
    db.commit()
    ask(db, world)
    req = ask(db, world, times=[slot(WED_10 + timedelta(hours=1))], initiated_by="mentor")
    assert req.state == RequestState.PENDING


@pytest.fixture
def anywhere(db: Session, world: World) -> World:
    """A program where mentors describe availability in words, so any future time may be proposed."""
    world.program.availability_mode = AvailabilityMode.FREE_TEXT
    world.program.max_pending_requests = None
    db.commit()
    return world


def test_monthly_limit_counts_months_in_the_mentees_zone(db: Session, anywhere: World) -> None:
    w = anywhere
    w.program.max_meetings_per_month = 1
    db.commit()
    la = make_mentee(db, time_zone="America/Los_Angeles")
    utc = make_mentee(db, time_zone="UTC")
    # 1 February 01:00 UTC is still 31 January in Los Angeles.
    feb_1_utc = at("2030-02-01", "01:00")
    for mentee in (la, utc):
        make_meeting(db, program=w.program, mentor=make_mentor(db), mentee=mentee, start=feb_1_utc)
    jan_15 = [slot(at("2030-01-15", "10:00"))]
    refused(db, w, "monthly_limit_reached", "times[0]", mentee=la, times=jan_15)
    assert ask(db, w, mentee=utc, times=jan_15).state == RequestState.PENDING  # February in UTC
    assert ask(db, w, mentee=la, times=[slot(at("2030-02-05", "10:00"))]).state == RequestState.PENDING
    refused(db, w, "monthly_limit_reached", "times[0]", mentee=utc, times=[slot(at("2030-02-05", "10:00"))])


def test_canceled_meetings_free_their_place_and_completed_ones_count(
    db: Session, anywhere: World
) -> None:
    w = anywhere
    w.program.max_meetings_per_month = 1
    db.commit()
    later = [slot(at("2030-01-20", "10:00"))]
    meeting = make_meeting(db, program=w.program, mentor=w.mentor, mentee=w.mentee, start=WED_10)
    refused(db, w, "monthly_limit_reached", times=later)
    meeting_service.cancel(db, meeting, actor=w.mentee, now=NOW)
    assert ask(db, w, times=later).state == RequestState.PENDING

    other = make_mentee(db)
    done = make_meeting(db, program=w.program, mentor=w.mentor, mentee=other, start=WED_10)
    meeting_service.complete(db, done, now=WED_10 + timedelta(hours=1))
    refused(db, w, "monthly_limit_reached", mentee=other, times=later)


def test_yearly_limit(db: Session, anywhere: World) -> None:
    w = anywhere
    w.program.max_meetings_per_year = 2
    db.commit()
    for day in ("2030-01-10", "2030-03-10"):
        make_meeting(db, program=w.program, mentor=w.mentor, mentee=w.mentee, start=at(day, "10:00"))
    refused(db, w, "yearly_limit_reached", "times[0]", times=[slot(at("2030-06-10", "10:00"))])
    assert ask(db, w, times=[slot(at("2031-01-10", "10:00"))]).state == RequestState.PENDING


def test_limits_are_checked_again_when_accepting(db: Session, anywhere: World) -> None:
    w = anywhere
    w.program.max_meetings_per_month = 1
    db.commit()
    first = ask(db, w, times=[slot(WED_10)])
    second = ask(db, w, times=[slot(at("2030-01-20", "10:00"))], mentor=make_mentor(db))
    svc.accept(db, first, actor=w.mentor, now=NOW)
    before = count_rows(db, Meeting)
    with pytest.raises(DomainError) as info:
        svc.accept(db, second, actor=second.mentor, now=NOW)
    assert info.value.code == "monthly_limit_reached"
    assert count_rows(db, Meeting) == before
    db.refresh(second)
    assert second.state == RequestState.PENDING


def test_a_mentors_own_monthly_cap_counts_in_the_mentors_zone(db: Session, anywhere: World) -> None:
    w = anywhere
    tokyo = make_mentor(db, time_zone="Asia/Tokyo", monthly_meeting_cap=1)
    # 31 January 16:00 UTC is already 1 February in Tokyo.
    make_meeting(
        db, program=w.program, mentor=tokyo, mentee=make_mentee(db), start=at("2030-01-31", "16:00")
    )
    refused(db, w, "mentor_cap_reached", "times[0]", mentor=tokyo, times=[slot(at("2030-02-10", "03:00"))])
    assert ask(db, w, mentor=tokyo, times=[slot(at("2030-01-20", "03:00"))]).state == RequestState.PENDING
