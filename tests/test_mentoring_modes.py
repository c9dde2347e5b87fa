"""Mentoring modes take effect: an "ongoing only" program refuses one-time requests (and takes a
"mentoring connection" request), a one-time program refuses connections, and under mentor_choice each
mentor's own choice decides; the report counts what mentors offer and requests by kind."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import OneTimeNotOffered, OngoingNotOffered
from scheduling.models import MeetingRequest, RequestKind
from scheduling.reports import program_health
from tests.factories import count_rows, login, make_mentee, make_mentor, make_program, make_request


def test_ongoing_only_program_refuses_one_time_requests_and_takes_connections(db: Session) -> None:
    program = make_program(db, mentoring_mode="ongoing")
    mentor, mentee = make_mentor(db), make_mentee(db)
    with pytest.raises(OneTimeNotOffered) as refused:
        make_request(db, program=program, mentee=mentee, mentor=mentor, kind="one_time")
    assert refused.value.field == "kind" and "ongoing mentoring only" in refused.value.message
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0
    request = make_request(db, program=program, mentee=mentee, mentor=mentor)  # the program's default
    assert request.kind == RequestKind.ONGOING


def test_one_time_program_refuses_a_mentoring_connection(db: Session) -> None:
    program = make_program(db, mentoring_mode="one_time")
    with pytest.raises(OngoingNotOffered):
        make_request(db, program=program, mentee=make_mentee(db), mentor=make_mentor(db), kind="ongoing")
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0


def test_under_mentor_choice_the_mentors_choice_decides_and_the_report_counts_it(db: Session) -> None:
    program = make_program(db, mentoring_mode="mentor_choice")
    ongoing_only = make_mentor(db, name="Olga Ongoing", offers_one_time=False)
    flash_only = make_mentor(db, name="Fred Flash", offers_ongoing=False)
    make_mentor(db, name="Bo Both")
    mentee = make_mentee(db)
    with pytest.raises(OneTimeNotOffered) as refused:
        make_request(db, program=program, mentee=mentee, mentor=ongoing_only, kind="one_time")
    assert "Olga Ongoing offers ongoing mentoring only" in refused.value.message
    with pytest.raises(OngoingNotOffered):
        make_request(db, program=program, mentee=mentee, mentor=flash_only, kind="ongoing")
    make_request(db, program=program, mentee=mentee, mentor=ongoing_only, kind="ongoing")
    modes = program_health(db, program)["mentoring_modes"]
    assert modes == {"program_mode": "mentor_choice",
                     "mentors": {"one_time_only": 1, "ongoing_only": 1, "both": 1},
                     "requests_by_kind": {"one_time": 0, "ongoing": 1}}


def test_ongoing_program_pages_ask_for_a_mentoring_connection(client: Any, db: Session) -> None:
    make_program(db, mentoring_mode="ongoing")
    mentor = make_mentor(db, name="Connie Mentor")
    login(client, make_mentee(db))
    card = client.get(f"/mentors/{mentor.id}").get_data(as_text=True)
    assert "Request a mentoring connection" in card
    form = client.get(f"/mentors/{mentor.id}/request").get_data(as_text=True)
    assert "<h1>Request a mentoring connection with Connie Mentor</h1>" in form
    resp = client.post(f"/mentors/{mentor.id}/request",
                       data={"topic": "Growing as a lead", "kind": "one_time", "next": "time"})
    assert resp.status_code == 422 and 'id="kind-error"' in resp.get_data(as_text=True)
    resp = client.post(f"/mentors/{mentor.id}/request",
                       data={"topic": "Growing as a lead", "kind": "ongoing", "next": "time"})
    assert resp.status_code == 302
    with client.session_transaction() as s:
        assert s["request_draft"]["kind"] == "ongoing"


def test_mentor_picks_their_modes_on_a_page_under_mentor_choice(client: Any, db: Session) -> None:
    make_program(db, mentoring_mode="mentor_choice")
    mentor = make_mentor(db)
    login(client, mentor)
    page = client.get("/mentoring").get_data(as_text=True)
    assert "The mentoring I offer" in page
    resp = client.post("/mentoring", data={"monthly_cap": ""})  # neither box ticked
    assert resp.status_code == 422 and "Offer at least one kind" in resp.get_data(as_text=True)
    db.refresh(mentor)
    assert mentor.offers_one_time and mentor.offers_ongoing
    assert client.post("/mentoring", data={"offers_ongoing": "1"}).status_code == 302
    db.refresh(mentor)
    assert (mentor.offers_one_time, mentor.offers_ongoing) == (False, True)
    mentee = make_mentee(db)
    login(client, mentee)
    form = client.get(f"/mentors/{mentor.id}/request").get_data(as_text=True)
    assert "Request a mentoring connection" in form


def test_an_accepted_connection_request_starts_an_ongoing_mentorship(db: Session) -> None:
    from scheduling.services.followups import ongoing_mentorships
    from scheduling.services.requests import accept
    from tests.factories import NOW

    program = make_program(db, mentoring_mode="both")
    mentor, mentee = make_mentor(db), make_mentee(db)
    one_time = make_request(db, program=program, mentee=mentee, mentor=mentor, kind="one_time")
    first = accept(db, one_time, actor=mentor, now=NOW)
    assert ongoing_mentorships(db, mentee) == []
    connection = make_request(db, program=program, mentee=mentee, mentor=mentor, kind="ongoing",
                              times=[(first.start_at.replace(day=10), first.end_at.replace(day=10))])
    meeting = accept(db, connection, actor=mentor, now=NOW)
    assert [m.id for m in ongoing_mentorships(db, mentee)] == [meeting.id]
    assert [m.id for m in ongoing_mentorships(db, mentor)] == [meeting.id]
