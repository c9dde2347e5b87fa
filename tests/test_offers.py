"""Mentor-initiated meetings ("offers"): allowed only where the program says so, same rules."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import DomainError, Forbidden, MentorCapReached, MentorCreationNotAllowed
from scheduling.models import Initiator, MeetingState, RequestState
from scheduling.services import requests as svc
from tests.factories import NOW, at, make_meeting, make_mentee, make_mentor, make_program, make_request, slot


def offer(db: Session, program, mentor, mentee, start):  # type: ignore[no-untyped-def]
    return make_request(
        db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)], initiated_by=Initiator.MENTOR
    )


def test_mentor_offers_and_the_mentee_answers(db: Session) -> None:
    program = make_program(db, mentors_may_create=True, admin_routed=True)  # routing is for mentees only
    mentor, mentee = make_mentor(db), make_mentee(db)
    req = offer(db, program, mentor, mentee, at("2030-01-09", "10:00"))
    assert svc.allowed_actions(req, mentee) == ["accept", "counter", "decline"]
    assert svc.allowed_actions(req, mentor) == ["withdraw"]
    with pytest.raises(Forbidden):
        svc.accept(db, req, actor=mentor, now=NOW)
    meeting = svc.accept(db, req, actor=mentee, now=NOW)
    assert meeting.state == MeetingState.SCHEDULED and req.state == RequestState.ACCEPTED

    second = offer(db, program, mentor, mentee, at("2030-01-10", "10:00"))
    svc.decline(db, second, actor=mentee, reason="no_time", now=NOW)
    assert second.state == RequestState.DECLINED


def test_offers_follow_the_same_rules(db: Session) -> None:
    closed = make_program(db, mentors_may_create=False)
    mentor, mentee = make_mentor(db, monthly_meeting_cap=1), make_mentee(db)
    with pytest.raises(MentorCreationNotAllowed):
        offer(db, closed, mentor, mentee, at("2030-01-09", "10:00"))
    program = make_program(db, mentors_may_create=True, name="Open")
    with pytest.raises(DomainError) as err:
        offer(db, program, mentor, mentee, at("2030-01-07", "12:00"))
    assert err.value.code == "lead_time_too_short"
    with pytest.raises(DomainError) as err:
        offer(db, program, mentor, mentee, at("2030-01-12", "10:00"))  # a Saturday
    assert err.value.code == "slot_outside_availability"
    make_meeting(db, program=program, mentee=make_mentee(db), mentor=mentor, start=at("2030-01-08", "10:00"))
    with pytest.raises(MentorCapReached):
        offer(db, program, mentor, mentee, at("2030-01-09", "10:00"))
