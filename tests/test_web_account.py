"""Connecting my calendar and answering a survey, through the pages."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import time_machine

from scheduling import tenants
from scheduling.models import CalendarAccount, MeetingState
from scheduling.services import surveys
from tests.factories import count_rows, login, make_meeting, make_mentee, make_mentor, make_program


def html(resp: Any) -> str:
    return resp.get_data(as_text=True)


def error_of(page: str, field: str) -> str:
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return found.group(1)


def test_connect_caldav_calendar_with_own_credentials(client, db):
    make_program(db)
    mentor = make_mentor(db)
    tenant = tenants.create_tenant(db, name="Company CalDAV", provider="caldav",
                                   config={"url": "https://dav.example.com/"})
    login(client, mentor)
    page = html(client.get("/calendar"))
    assert "Company CalDAV (CalDAV)" in page
    resp = client.post("/calendar", data={"tenant_id": str(tenant.id), "external_id": "", "username": ""})
    assert resp.status_code == 422
    assert "calendar URL" in error_of(html(resp), "external_id")
    resp = client.post("/calendar", data={"tenant_id": str(tenant.id), "external_id": "/cal/me/",
                                          "username": ""})
    assert "username and password" in error_of(html(resp), "username")
    assert count_rows(db, CalendarAccount)["CalendarAccount"] == 0
    resp = client.post("/calendar", data={"tenant_id": str(tenant.id), "external_id": "/cal/me/",
                                          "username": "grace", "secret": "s3cret-pass"})
    assert resp.status_code == 302
    account = tenants.account_of(db, mentor)
    assert account is not None and account.username == "grace" and account.secret == "s3cret-pass"
    page = html(client.get("/calendar"))
    assert "password stored" in page and "s3cret-pass" not in page


def test_connect_without_choosing_a_service_is_refused(client, db):
    make_program(db)
    tenants.create_tenant(db, name="Company CalDAV", provider="caldav", config={"url": "https://dav.example.com/"})
    login(client, make_mentor(db))
    resp = client.post("/calendar", data={"tenant_id": ""})
    assert resp.status_code == 422 and "Choose" in error_of(html(resp), "tenant_id")


def test_survey_page_records_answers_and_completes_the_meeting(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor)
    surveys.ensure_default_questions(db, program)
    invitations = surveys.invite(db, meeting, now=meeting.end_at + timedelta(hours=2))
    db.commit()
    mine = next(i for i in invitations if i.person_id == mentee.id)
    theirs = next(i for i in invitations if i.person_id == mentor.id)
    login(client, mentee)
    assert client.get(f"/surveys/{theirs.id}").status_code == 404
    page = html(client.get("/surveys"))
    assert f"/surveys/{mine.id}" in page
    page = html(client.get(f"/surveys/{mine.id}"))
    assert "Did this meeting take place?" in page
    questions = surveys.questions_for(db, program, mine.variant)
    took = questions[0]
    resp = client.post(f"/surveys/{mine.id}", data={})
    assert resp.status_code == 422
    assert "took place" in error_of(html(resp), f"q{took.id}")
    db.refresh(meeting)
    assert meeting.state == MeetingState.SCHEDULED
    answers = {f"q{took.id}": "no"}
    with time_machine.travel(meeting.end_at + timedelta(hours=3), tick=False):
        login(client, mentee)  # a session cookie from the travelled-to time
        resp = client.post(f"/surveys/{mine.id}", data=answers)
        assert resp.status_code == 302 and resp.headers["Location"] == f"/surveys/{mine.id}"
        page = html(client.get(f"/surveys/{mine.id}"))
    db.refresh(meeting)
    assert meeting.state == MeetingState.NOT_HELD
    assert "You answered this survey." in page
    assert 'value="no" checked disabled' in page
