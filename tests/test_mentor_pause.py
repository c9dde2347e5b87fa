"""A mentor pauses themselves ("not taking requests" until a date) and sets their own monthly cap on
a page. Paused, they are out of recommendations and the directory and new requests are refused;
requests already pending stay pending and can still be answered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling import matching
from scheduling.db import utcnow
from scheduling.errors import MentorPaused
from scheduling.models import MeetingRequest, RequestState
from scheduling.services.requests import accept
from tests.factories import (
    NOW,
    count_rows,
    login,
    make_admin,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
)


def test_a_paused_mentor_is_not_recommended_or_asked_but_answers_what_is_pending(db: Session) -> None:
    program = make_program(db)
    paused, other = make_mentor(db, name="Pat Paused"), make_mentor(db, name="Ola Open")
    mentee = make_mentee(db)
    pending = make_request(db, program=program, mentee=mentee, mentor=paused)
    paused.paused_until = NOW + timedelta(days=10)
    db.commit()

    ranked = matching.mentor_ids(matching.rank_mentors(db, program, make_mentee(db), now=NOW))
    assert ranked == [other.id]
    assert paused.id not in matching.mentor_ids(matching.recommendations_for(db, program, mentee, now=NOW))
    with pytest.raises(MentorPaused) as refused:
        make_request(db, program=make_program(db, name="Other"), mentee=make_mentee(db), mentor=paused)
    assert "not taking requests until" in refused.value.message
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 1

    db.refresh(pending)
    assert pending.state == RequestState.PENDING  # untouched by the pause
    accept(db, pending, actor=paused, now=NOW)
    assert pending.state == RequestState.ACCEPTED

    later = NOW + timedelta(days=11)  # the pause is over
    assert paused.id in matching.mentor_ids(matching.rank_mentors(db, program, make_mentee(db), now=later))


def test_mentor_pauses_on_the_page_and_disappears_from_the_directory(client: Any, db: Session) -> None:
    make_program(db)
    mentor = make_mentor(db, name="Pat Paused")
    make_mentor(db, name="Ola Open")
    login(client, mentor)
    assert "You are taking requests." in client.get("/mentoring").get_data(as_text=True)

    today = utcnow().date()
    resp = client.post("/mentoring", data={"paused_until": (today - timedelta(days=1)).isoformat()})
    assert resp.status_code == 422 and 'id="paused_until-error"' in resp.get_data(as_text=True)
    db.refresh(mentor)
    assert mentor.paused_until is None

    until = today + timedelta(days=14)
    assert client.post("/mentoring", data={"paused_until": until.isoformat()}).status_code == 302
    page = client.get("/mentoring").get_data(as_text=True)
    assert f"not taking requests until {until.isoformat()}" in page
    db.refresh(mentor)
    assert mentor.paused_at(utcnow()) and not mentor.paused_at(utcnow() + timedelta(days=15))

    login(client, make_mentee(db))
    directory = client.get("/mentors").get_data(as_text=True)
    assert "Ola Open" in directory and "Pat Paused" not in directory
    card = client.get(f"/mentors/{mentor.id}").get_data(as_text=True)
    assert "is not taking requests until" in card and "Request meeting" not in card

    login(client, mentor)
    assert client.post("/mentoring", data={"action": "resume", "paused_until": until.isoformat()}
                       ).status_code == 302
    db.refresh(mentor)
    assert mentor.paused_until is None


def test_mentor_sets_their_own_monthly_cap_on_the_page(client: Any, db: Session) -> None:
    make_program(db)
    mentor = make_mentor(db)
    login(client, mentor)
    for bad in ("lots", "-1", "500"):
        resp = client.post("/mentoring", data={"monthly_cap": bad})
        assert resp.status_code == 422 and 'id="monthly_cap-error"' in resp.get_data(as_text=True), bad
    db.refresh(mentor)
    assert mentor.monthly_meeting_cap is None
    assert client.post("/mentoring", data={"monthly_cap": "4"}).status_code == 302
    db.refresh(mentor)
    assert mentor.monthly_meeting_cap == 4
    assert 'value="4"' in client.get("/mentoring").get_data(as_text=True)
    assert client.post("/mentoring", data={"monthly_cap": ""}).status_code == 302
    db.refresh(mentor)
    assert mentor.monthly_meeting_cap is None


def test_mentees_cannot_open_the_mentor_settings(client: Any, db: Session) -> None:
    make_program(db)
    login(client, make_mentee(db))
    assert client.get("/mentoring").status_code == 403


def test_the_json_directory_and_free_mentors_leave_out_a_paused_mentor(client: Any, db: Session) -> None:
    make_program(db, lead_time_hours=0)
    paused, open_ = make_mentor(db, name="Pat Paused"), make_mentor(db, name="Ola Open")
    paused.paused_until = utcnow() + timedelta(days=30)
    db.commit()

    login(client, make_mentee(db))
    listed = client.get("/api/v1/people?role=mentor")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json["items"]] == ["Ola Open"] and listed.json["total"] == 1
    free = client.get("/api/v1/mentors/free")
    assert free.status_code == 200
    assert [m["id"] for m in free.json["mentors"]] == [open_.id]

    login(client, make_admin(db))  # an admin manages people: they still see everyone
    names = [p["name"] for p in client.get("/api/v1/people?role=mentor").json["items"]]
    assert names == ["Ola Open", "Pat Paused"]
