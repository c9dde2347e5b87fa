"""What each message says: to whom, times in the reader's own zone, escaped HTML, and the
iTIP invitation (REQUEST, SEQUENCE bumped on a move, CANCEL on cancel) parsed back."""

from __future__ import annotations

from datetime import timedelta

import icalendar
from sqlalchemy.orm import Session

from scheduling import notices
from scheduling.calendar_event import meeting_event
from scheduling.models import DeclineReason, MeetingState, SurveyInvitation, SurveyVariant
from scheduling.services import meetings as meeting_svc
from scheduling.services import requests as svc
from tests.factories import NOW, at, make_mentee, make_mentor, make_program, make_request, slot

BASE = "https://mentoring.example.com"


def people(db: Session):  # type: ignore[no-untyped-def]
    program = make_program(db)
    # Mentor in New York works 09:00-17:00 there; the mentee reads times in Kolkata (+05:30).
    mentor = make_mentor(db, name="Grace Hopper", time_zone="America/New_York")
    mentee = make_mentee(db, name="Ada <Lovelace>", time_zone="Asia/Kolkata")
    return program, mentor, mentee


def test_a_new_request_goes_to_the_mentor_in_their_zone(db: Session) -> None:
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")  # 15:00 UTC, 20:30 in Kolkata
    request = make_request(
        db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)], topic="Talks & <slides>"
    )

    [notice] = notices.request_created(request, BASE)

    assert notice.to == [mentor.email]
    assert "Ada <Lovelace> asks you" in notice.text and "“Talks & <slides>”" in notice.text
    assert "Wednesday 9 January 2030, 10:00-10:30 EST (America/New_York)" in notice.text
    assert f"{BASE}/requests/{request.id}" in notice.text
    assert "Talks &amp; &lt;slides&gt;" in notice.html and "<slides>" not in notice.html
    assert "Ada &lt;Lovelace&gt;" in notice.html
    assert notice.ics is None and notice.ics_method is None


def test_the_reminder_and_answers_go_to_the_right_side(db: Session) -> None:
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])

    [reminder] = notices.request_reminder(request, BASE)
    assert reminder.to == [mentor.email] and "still waiting" in reminder.text

    svc.decline(db, request, actor=mentor, reason=DeclineReason.OTHER, message="Travelling", now=NOW)
    [declined] = notices.request_answered(request, BASE)
    assert declined.to == [mentee.email]
    assert "declined" in declined.text and "Travelling" in declined.text and "other" in declined.text


def test_an_expired_request_tells_both(db: Session) -> None:
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
    svc.expire(db, request, now=NOW + timedelta(days=14))

    to_mentee, to_mentor = notices.request_answered(request, BASE)
    assert to_mentee.to == [mentee.email] and "not answered in time" in to_mentee.text
    assert to_mentor.to == [mentor.email] and "closed without an answer" in to_mentor.text


def test_a_counter_shows_the_new_time_in_the_mentees_zone(db: Session) -> None:
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
    new = at("2030-01-10", "11:00", "America/New_York")  # 16:00 UTC = 21:30 IST
    svc.counter(db, request, actor=mentor, start=new, end=new + timedelta(minutes=30), now=NOW)

    [notice] = notices.request_answered(request, BASE)
    assert notice.to == [mentee.email]
    assert "Thursday 10 January 2030, 21:30-22:00 IST (Asia/Kolkata)" in notice.text


def test_meeting_invites_carry_itip_request_then_a_bumped_sequence_then_cancel(db: Session) -> None:
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
    meeting = svc.accept(db, request, actor=mentor, now=NOW)

    to_mentor, to_mentee = notices.meeting_invite(meeting, BASE)
    assert (to_mentor.to, to_mentee.to) == ([mentor.email], [mentee.email])
    assert "10:00-10:30 EST (America/New_York)" in to_mentor.text
    assert "20:30-21:00 IST (Asia/Kolkata)" in to_mentee.text
    assert to_mentor.ics == to_mentee.ics and to_mentor.ics_method == "REQUEST"
    cal = icalendar.Calendar.from_ical(to_mentee.ics)
    [event] = cal.walk("VEVENT")
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == start and str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]).lower() == f"mailto:{mentor.email}"
    attendees = {str(a).lower() for a in event["ATTENDEE"]}
    assert f"mailto:{mentee.email}" in attendees

    later = at("2030-01-10", "10:00", "America/New_York")
    meeting_svc.reschedule(db, meeting, actor=mentee, start=later, end=later + timedelta(minutes=30), now=NOW)
    moved, _ = notices.meeting_invite(meeting, BASE)
    event = icalendar.Calendar.from_ical(moved.ics).walk("VEVENT")[0]
    assert moved.subject.startswith("Moved:") and int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART") == later

    meeting_svc.cancel(db, meeting, actor=mentee, reason="Sick", now=NOW)
    assert meeting.state == MeetingState.CANCELED
    canceled, _ = notices.meeting_invite(meeting, BASE)
    cal = icalendar.Calendar.from_ical(canceled.ics)
    event = cal.walk("VEVENT")[0]
    assert canceled.ics_method == "CANCEL" and str(cal["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 2
    assert str(event["UID"]) == meeting.uid
    assert canceled.subject.startswith("Canceled:") and "Reason: Sick" in canceled.text


def test_survey_invites_link_to_the_invitation_and_follow_the_variant(db: Session) -> None:
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
    meeting = svc.accept(db, request, actor=mentor, now=NOW)
    held = SurveyInvitation(meeting_id=meeting.id, person_id=mentee.id, variant=SurveyVariant.HELD)
    canceled = SurveyInvitation(meeting_id=meeting.id, person_id=mentor.id, variant=SurveyVariant.CANCELED)
    db.add_all([held, canceled])
    db.commit()

    notice = notices.survey_invite(held, meeting, mentee, BASE)
    assert notice.to == [mentee.email] and f"{BASE}/surveys/{held.id}" in notice.text
    assert f'href="{BASE}/surveys/{held.id}"' in notice.html
    assert "Did it take place?" in notice.text and "20:30-21:00 IST" in notice.text

    other = notices.survey_invite(canceled, meeting, mentor, BASE, reminder=True)
    assert other.subject.startswith("Reminder:") and "was canceled" in other.text
    assert "10:00-10:30 EST" in other.text and f"/surveys/{canceled.id}" in other.text


def test_meeting_reminders_go_to_both_in_their_zones(db: Session) -> None:
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
    meeting = svc.accept(db, request, actor=mentor, now=NOW)

    to_mentor, to_mentee = notices.meeting_reminder(meeting, BASE)
    assert "you meet Ada <Lovelace>" in to_mentor.text and "10:00-10:30 EST" in to_mentor.text
    assert "you meet Grace Hopper" in to_mentee.text and "20:30-21:00 IST" in to_mentee.text


def test_the_invite_carries_the_event_the_calendar_write_sends(db: Session) -> None:
    """One event for both ways into a calendar: the iTIP email and the connector write."""
    program, mentor, mentee = people(db)
    start = at("2030-01-09", "10:00", "America/New_York")
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(start)])
    meeting = svc.accept(db, request, actor=mentor, now=NOW)
    meeting.location = "Room 4.12"
    written = meeting_event(meeting, owner=mentor, attendees=(mentee,))  # what worker.calendar_jobs writes

    event = icalendar.Calendar.from_ical(notices.meeting_invite(meeting, BASE)[0].ics).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == written.summary == "Flash mentoring: " + meeting.topic
    assert str(event["DESCRIPTION"]) == written.description
    assert written.description.endswith("\nWhere: Room 4.12")
    assert str(event["LOCATION"]) == written.location == "Room 4.12"
