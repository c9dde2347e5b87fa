"""The message thread of a request: who writes, who reads, and the counts for reports."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.services import messages as svc
from tests.factories import (
    NOW,
    at,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
    slot,
)


def test_participants_write_admins_read_others_see_nothing(db: Session) -> None:
    program = make_program(db)
    mentee, mentor = make_mentee(db), make_mentor(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)
    svc.post_message(db, req.id, mentee, "  Agenda: pricing  ", now=NOW)
    svc.post_message(db, req.id, mentor, "Sounds good", now=NOW + timedelta(minutes=1))
    admin = make_admin(db)
    for viewer in (mentee, mentor, admin):
        assert [m.body for m in svc.thread(db, req.id, viewer)] == ["Agenda: pricing", "Sounds good"]
    with pytest.raises(Forbidden):
        svc.post_message(db, req.id, admin, "hello")
    stranger = make_mentee(db)
    with pytest.raises(NotFound):
        svc.thread(db, req.id, stranger)
    with pytest.raises(NotFound):
        svc.post_message(db, req.id, stranger, "hello")
    with pytest.raises(NotFound):
        svc.thread(db, 2**40, mentee)
    with pytest.raises(ValidationFailed):
        svc.post_message(db, req.id, mentee, "x" * (svc.BODY_MAX + 1))
    assert len(svc.thread(db, req.id, mentee)) == 2


def test_a_meeting_shares_its_requests_thread_and_counts_are_per_program(db: Session) -> None:
    program, other_program = make_program(db), make_program(db, name="Other")
    mentee, mentor = make_mentee(db), make_mentor(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor)
    request_id = svc.meeting_request_id(db, meeting.id)
    svc.post_message(db, request_id, mentee, "Thanks!", now=NOW)
    svc.post_message(db, request_id, mentor, "Anytime", now=NOW + timedelta(days=2))
    other = make_request(
        db,
        program=other_program,
        mentee=make_mentee(db),
        mentor=mentor,
        times=[slot(at("2030-01-10", "10:00"))],
    )
    svc.post_message(db, other.id, mentor, "elsewhere", now=NOW)
    assert svc.message_counts(db, program) == {"messages": 2, "threads": 1}
    assert svc.message_counts(db, program, start=NOW + timedelta(days=1)) == {"messages": 1, "threads": 1}
    assert svc.message_counts(db, other_program) == {"messages": 1, "threads": 1}
