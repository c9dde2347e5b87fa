"""Whole lives of a request, driven through time with RQ's scheduler and a real worker on a real
Redis, mail to a real SMTP server, the mentor's calendar on Radicale:

request → reminder → accept → calendar write + invite → meeting reminder → survey → survey
reminders → completed; and the branches auto-close, decline, and cancel after accept.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import tenants
from scheduling.models import (
    DeclineReason,
    Meeting,
    MeetingRequest,
    MeetingState,
    Person,
    QuestionKind,
    RequestState,
    SurveyInvitation,
    SurveyVariant,
)
from scheduling.services import meetings as meeting_svc
from scheduling.services import requests as svc
from scheduling.services import surveys
from tests.factories import NOW, at, make_mentee, make_mentor, make_program, make_request, slot
from tests.fakes.dav_servers import DavServer
from tests.worker_harness import BASE_URL, Life, life

__all__ = ["life"]
START = at("2030-01-15", "10:00")  # Tuesday, a week after NOW; 30 minutes
END = START + timedelta(minutes=30)
H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)


def mentor_on_radicale(db: Session, server: DavServer) -> tuple[Person, str]:
    tenant = tenants.create_tenant(
        db,
        name=f"DAV {uuid.uuid4().hex[:6]}",
        provider="caldav",
        secret=server.password,
        config={"url": server.base_url, "username": server.username,
                "retry": {"max_attempts": 2, "base_delay": 0.0}},
    )
    path = f"{server.username}/life-{uuid.uuid4().hex[:8]}/"
    requests.request("MKCALENDAR", server.base_url + path, auth=(server.username, server.password))
    mentor = make_mentor(db, name="Grace Mentor", time_zone="Europe/London")
    tenants.connect_account(db, person=mentor, tenant=tenant, external_id=path)
    return mentor, server.base_url + path


def stored_events(server: DavServer, calendar_url: str) -> list[str]:
    body = (
        '<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
        '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
        "</c:calendar-query>"
    )
    response = requests.request(
        "REPORT", calendar_url, data=body, auth=(server.username, server.password),
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    return response.text.split("BEGIN:VCALENDAR")[1:]


def answers_for(db: Session, invitation: SurveyInvitation, took_place: bool) -> dict[str, Any]:
    meeting = db.get(Meeting, invitation.meeting_id)
    assert meeting is not None
    program = meeting.request.program
    out: dict[str, Any] = {}
    for question in surveys.questions_for(db, program, invitation.variant):
        if question.kind == QuestionKind.TOOK_PLACE:
            out[str(question.id)] = took_place
        elif took_place and question.required:
            value: Any = {QuestionKind.RATING: 5, QuestionKind.TEXT: "Useful"}.get(question.kind)
            out[str(question.id)] = value if value is not None else question.choices[0]
    return out


def invitation_of(db: Session, meeting: Meeting, person: Person) -> SurveyInvitation:
    found = db.scalar(
        select(SurveyInvitation).where(
            SurveyInvitation.meeting_id == meeting.id, SurveyInvitation.person_id == person.id
        )
    )
    assert found is not None
    return found


def test_a_whole_life_from_request_to_completed(life: Life, radicale_server: DavServer) -> None:
    db = life.db
    program = make_program(db, remind_after_days=3, auto_close_after_days=14,
                           meeting_reminder_hours=24, survey_delay_hours=2)
    mentor, calendar_url = mentor_on_radicale(db, radicale_server)
    mentee = make_mentee(db, name="Ada Mentee", time_zone="America/New_York")

    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(START)])
    scheduled = life.scheduled()
    assert scheduled[f"fm-request-{request.id}-reminder"] == NOW + 3 * D
    assert scheduled[f"fm-request-{request.id}-auto-close"] == NOW + 14 * D
    life.run_until(NOW + M)
    assert life.mail_to(mentor.email) == [f"Meeting request from Ada Mentee: {request.topic}"]

    # Day 3: the mentor has not answered; one reminder, and a second run sends no other.
    life.run_until(NOW + 3 * D + M)
    life.run_until(NOW + 3 * D + 2 * M)
    assert life.mail_to(mentor.email)[1:] == ["Reminder: Ada Mentee is waiting for your answer"]
    db.refresh(request)
    assert request.reminders_sent == 1

    # The mentor accepts: the request's timers go, the meeting's come.
    meeting = svc.accept(db, request, actor=mentor, now=life.at(NOW + 3 * D + H))
    scheduled = life.scheduled()
    assert f"fm-request-{request.id}-auto-close" not in scheduled
    assert scheduled[f"fm-meeting-{meeting.id}-reminder"] == START - 24 * H
    assert scheduled[f"fm-meeting-{meeting.id}-survey"] == END + 2 * H
    life.run_until(NOW + 3 * D + H + M)
    [copy] = stored_events(radicale_server, calendar_url)
    assert f"UID:{meeting.uid}" in copy and "DTSTART:20300115T100000Z" in copy
    [invite] = life.mail.to(mentee.email)
    assert invite.part("text/calendar").get_param("method") == "REQUEST"  # type: ignore[union-attr]
    assert str(invite.event()["UID"]) == meeting.uid
    assert "05:00-05:30 EST (America/New_York)" in invite.text()
    assert life.mail_to(mentor.email)[-1] == f"Meeting: {meeting.topic} with Ada Mentee"

    # A day before: the meeting reminder, to both.
    life.run_until(START - 24 * H + M)
    assert life.mail_to(mentee.email)[-1].startswith("Reminder: ")
    assert life.mail_to(mentor.email)[-1].startswith("Reminder: ")

    # Two hours after the end: the survey, to both, with their own link.
    life.run_until(END + 2 * H + M)
    to_mentee = invitation_of(db, meeting, mentee)
    to_mentor = invitation_of(db, meeting, mentor)
    assert to_mentee.variant == SurveyVariant.HELD
    [survey_mail] = [r for r in life.mail.to(mentee.email) if "How was your meeting" in r.subject]
    assert f"{BASE_URL}/surveys/{to_mentee.id}" in survey_mail.text()
    assert life.scheduled()[f"fm-meeting-{meeting.id}-survey-reminder-1"] == END + D

    # The next day nobody has answered: both are reminded.
    life.run_until(END + D + M)
    assert life.mail_to(mentee.email)[-1] == "Reminder: How was your meeting with Grace Mentor?"
    assert life.mail_to(mentor.email)[-1] == "Reminder: How was your meeting with Ada Mentee?"

    # The mentee answers: the meeting is completed; only the mentor gets the second reminder.
    answers = answers_for(db, to_mentee, True)
    surveys.record_survey(db, to_mentee.id, mentee, answers, now=life.at(END + 2 * D))
    db.refresh(meeting)
    assert meeting.state == MeetingState.COMPLETED
    mentee_count = len(life.mail.to(mentee.email))
    life.run_until(END + 5 * D + M)
    assert len(life.mail.to(mentee.email)) == mentee_count
    assert life.mail_to(mentor.email)[-1] == "Reminder: How was your meeting with Ada Mentee?"
    db.refresh(to_mentor)
    assert to_mentor.reminders_sent == 2

    # Day 14 passes: the accepted request is not closed, and nothing else is left to run.
    before = len(life.mail.received)
    life.run_until(NOW + 15 * D)
    db.refresh(request)
    assert request.state == RequestState.ACCEPTED
    assert len(life.mail.received) == before
    assert life.scheduled() == {}


def test_an_unanswered_request_is_reminded_then_auto_closed(life: Life) -> None:
    db = life.db
    program = make_program(db, remind_after_days=3, auto_close_after_days=14)
    mentor = make_mentor(db, name="Grace Mentor")
    mentee = make_mentee(db, name="Ada Mentee")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(START)])

    life.run_until(NOW + 13 * D)
    db.refresh(request)
    assert request.state == RequestState.PENDING and request.reminders_sent == 1
    life.run_until(NOW + 14 * D + M)

    db.refresh(request)
    assert request.state == RequestState.EXPIRED
    assert life.mail_to(mentee.email) == [f"Closed without an answer: {request.topic}"]
    assert life.mail_to(mentor.email)[-1] == f"Closed: {request.topic}"
    assert "not answered in time" in life.mail.to(mentee.email)[0].text()


def test_a_declined_request_is_neither_reminded_nor_closed(life: Life) -> None:
    db = life.db
    program = make_program(db, remind_after_days=3, auto_close_after_days=14)
    mentor = make_mentor(db, name="Grace Mentor")
    mentee = make_mentee(db, name="Ada Mentee")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(START)])
    life.run_until(NOW + M)

    svc.decline(db, request, actor=mentor, reason=DeclineReason.NO_TIME, now=life.at(NOW + D))
    assert life.scheduled() == {}
    life.run_until(NOW + 20 * D)

    db.refresh(request)
    assert request.state == RequestState.DECLINED and request.reminders_sent == 0
    assert life.mail_to(mentee.email) == [f"Declined: {request.topic}"]
    assert "no time" in life.mail.to(mentee.email)[0].text()
    assert life.mail_to(mentor.email) == [f"Meeting request from Ada Mentee: {request.topic}"]


def test_cancel_after_accept_sends_cancel_and_the_canceled_survey(
    life: Life, radicale_server: DavServer
) -> None:
    db = life.db
    program = make_program(db, meeting_reminder_hours=24, survey_delay_hours=2)
    mentor, calendar_url = mentor_on_radicale(db, radicale_server)
    mentee = make_mentee(db, name="Ada Mentee")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(START)])
    meeting = svc.accept(db, request, actor=mentor, now=life.at(NOW + H))
    life.run_until(NOW + H + M)
    assert len(stored_events(radicale_server, calendar_url)) == 1

    meeting_svc.cancel(db, meeting, actor=mentee, reason="Project deadline", now=life.at(NOW + D))
    assert f"fm-meeting-{meeting.id}-reminder" not in life.scheduled()
    life.run_until(NOW + D + M)

    [copy] = stored_events(radicale_server, calendar_url)
    assert "STATUS:CANCELLED" in copy
    for person in (mentor, mentee):
        cancel = life.mail.to(person.email)[-1]
        assert cancel.subject.startswith("Canceled:") and "Project deadline" in cancel.text()
    # The mentee was invited by mail: the CANCEL goes there. The mentor organizes in their own
    # calendar (cancelled above): no iTIP of their own meeting for them.
    cancel = life.mail.to(mentee.email)[-1]
    assert cancel.part("text/calendar").get_param("method") == "CANCEL"  # type: ignore[union-attr]
    assert int(cancel.event()["SEQUENCE"]) == 1 and str(cancel.event()["UID"]) == meeting.uid
    assert life.mail.to(mentor.email)[-1].part("text/calendar") is None

    life.run_until(NOW + D + 2 * H + M)  # the canceled-survey variant, after the delay
    for person in (mentor, mentee):
        invitation = invitation_of(db, meeting, person)
        assert invitation.variant == SurveyVariant.CANCELED
        last = life.mail.to(person.email)[-1]
        assert "was canceled" in last.text() and f"/surveys/{invitation.id}" in last.text()

    subjects_before = [r.subject for r in life.mail.received]
    life.run_until(START - 24 * H + M)  # the old reminder time: nothing
    assert [r.subject for r in life.mail.received] == subjects_before
    db.refresh(meeting)
    assert meeting.state == MeetingState.CANCELED


def test_rescheduling_re_times_the_reminder_and_survey(life: Life) -> None:
    db = life.db
    program = make_program(db, meeting_reminder_hours=24, survey_delay_hours=2)
    mentor = make_mentor(db, name="Grace Mentor")
    mentee = make_mentee(db, name="Ada Mentee")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(START)])
    meeting = svc.accept(db, request, actor=mentor, now=NOW)
    life.run_until(NOW + M)

    later = START + 2 * D
    meeting_svc.reschedule(db, meeting, actor=mentee, start=later, end=later + 30 * M, now=life.at(NOW + H))
    scheduled = life.scheduled()
    assert scheduled[f"fm-meeting-{meeting.id}-reminder"] == later - 24 * H
    assert scheduled[f"fm-meeting-{meeting.id}-survey"] == later + 30 * M + 2 * H
    life.run_until(NOW + H + M)
    moved = life.mail.to(mentee.email)[-1]
    assert moved.subject.startswith("Moved:") and int(moved.event()["SEQUENCE"]) == 1

    count = len(life.mail.received)
    life.run_until(START + 3 * H)  # the old reminder and survey times pass silently
    assert len(life.mail.received) == count
    life.run_until(later - 24 * H + M)
    assert life.mail_to(mentee.email)[-1].startswith("Reminder: ")
    assert db.scalar(select(MeetingRequest.state).where(MeetingRequest.id == request.id)) == "accepted"
