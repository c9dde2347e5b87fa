"""Add a meeting to my calendar: the .ics download is the invitation's event (same UID and SEQUENCE, so
a calendar that has the invitation updates it), and the meeting page links to Google and Outlook on the
web with the meeting's times in UTC."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import icalendar
from sqlalchemy.orm import Session

from scheduling.notices import meeting_invite
from scheduling.services import meetings as svc
from tests.factories import NOW, at, login, make_meeting, make_mentee, make_mentor, make_program, slot


def _event(body: bytes) -> Any:
    cal = icalendar.Calendar.from_ical(body)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def test_the_ics_download_is_the_invitations_event_version_by_version(client: Any, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=at("2030-01-09", "10:00"),
                           topic="Pricing talk")
    login(client, mentee)
    answer = client.get(f"/meetings/{meeting.id}/meeting.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="meeting-{meeting.id}.ics"'
    cal, event = _event(answer.data)
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == at("2030-01-09", "10:00")
    assert str(event["SUMMARY"]) == "Flash mentoring: Pricing talk"

    start, end = slot(at("2030-01-10", "14:00"), program.slot_minutes)
    svc.reschedule(db, meeting, actor=mentor, start=start, end=end, now=NOW)
    invitation = next(n for n in meeting_invite(meeting, "http://app.test") if n.to == [mentee.email])
    assert invitation.ics is not None
    _, invited = _event(invitation.ics)
    _, downloaded = _event(client.get(f"/meetings/{meeting.id}/meeting.ics").data)
    def version(event: Any) -> tuple[str, int]:
        return str(event["UID"]), int(event["SEQUENCE"])

    assert version(downloaded) == version(invited)
    assert int(downloaded["SEQUENCE"]) == 1 and downloaded.decoded("DTSTART") == start

    svc.cancel(db, meeting, actor=mentee, reason="Ill", now=NOW)
    _, canceled = _event(client.get(f"/meetings/{meeting.id}/meeting.ics").data)
    assert str(canceled["STATUS"]) == "CANCELLED" and str(canceled["UID"]) == meeting.uid


def test_only_the_two_people_download_the_ics(client: Any, db: Session) -> None:
    program = make_program(db)
    meeting = make_meeting(db, program=program, mentor=make_mentor(db), mentee=make_mentee(db))
    login(client, make_mentee(db))
    assert client.get(f"/meetings/{meeting.id}/meeting.ics").status_code == 404
    assert client.get("/meetings/999999/meeting.ics").status_code == 404


def test_the_meeting_page_links_to_google_and_outlook_with_its_times(client: Any, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db, time_zone="America/New_York")
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=at("2030-01-09", "15:00"),
                           topic="Career steps", location="Room 4")
    login(client, mentee)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert f'href="/meetings/{meeting.id}/meeting.ics"' in page
    hrefs = {h.split('"', 1)[0].replace("&amp;", "&") for h in page.split('href="')[1:]}
    google = next(h for h in hrefs if h.startswith("https://calendar.google.com/calendar/render?"))
    q = parse_qs(urlsplit(google).query)
    assert q["action"] == ["TEMPLATE"] and q["text"] == ["Flash mentoring: Career steps"]
    assert q["dates"] == ["20300109T150000Z/20300109T153000Z"] and q["location"] == ["Room 4"]
    outlook = next(h for h in hrefs if h.startswith("https://outlook.office.com/calendar/0/deeplink/compose?"))
    q = parse_qs(urlsplit(outlook).query)
    assert q["startdt"] == ["2030-01-09T15:00:00Z"] and q["enddt"] == ["2030-01-09T15:30:00Z"]
    assert q["subject"] == ["Flash mentoring: Career steps"] and "Mentor: " in q["body"][0]
    assert any(h.startswith("https://outlook.live.com/calendar/0/deeplink/compose?") for h in hrefs)

    svc.cancel(db, meeting, actor=mentee, reason="", now=NOW)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "Add to my calendar" not in page and "calendar.google.com" not in page
