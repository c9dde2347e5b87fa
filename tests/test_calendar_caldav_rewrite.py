"""A CalDAV rewrite (reschedule, cancel) keeps what people added to their own copy: their alarms
always, and their answers while the time stays the same (a new time asks again, RFC 5546).
Against real Radicale and Xandikos."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
import requests
from sqlalchemy.orm import Session

from scheduling.models import Meeting, Person
from scheduling.services import meetings as meeting_svc
from tests.factories import NOW
from tests.fakes.dav_servers import DavServer
from tests.test_calendar_truth import dav_calendar, dav_tenant, meeting_of, pair
from worker import calendar_jobs


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> DavServer:
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return server


def http_for(server: DavServer) -> requests.Session:
    http = requests.Session()
    http.auth, http.verify, http.trust_env = (server.username, server.password), server.ca_file, False
    return http


def copy_of(http: requests.Session, meeting: Meeting, person: Person) -> str:
    [url] = [link.event_id for link in meeting.events if link.person_id == person.id]
    return url


def client_edit(http: requests.Session, url: str, email: str, answer: str, minutes: int) -> None:
    """What a calendar app does: add a reminder, and answer for ``email``."""
    got = http.get(url)
    cal = icalendar.Calendar.from_ical(got.content)
    event = cal.walk("VEVENT")[0]
    alarm = icalendar.Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", "Reminder")
    alarm.add("TRIGGER", timedelta(minutes=-minutes))
    event.add_component(alarm)
    for att in event.get("ATTENDEE"):
        if str(att).lower() == f"mailto:{email}":
            att.params["PARTSTAT"] = answer
    headers = {"Content-Type": "text/calendar", "If-Match": got.headers["ETag"]}
    put = http.put(url, data=cal.to_ical(), headers=headers)
    assert put.status_code in (201, 204), put.text


def held(http: requests.Session, url: str, email: str) -> tuple[str, list[int], str]:
    """(STATUS, alarm offsets in minutes, ``email`` 's PARTSTAT) of the stored event."""
    event = icalendar.Calendar.from_ical(http.get(url).content).walk("VEVENT")[0]
    triggers = [int(a.decoded("TRIGGER").total_seconds() // 60) for a in event.walk("VALARM")]
    mine = [a for a in event.get("ATTENDEE") if str(a).lower() == f"mailto:{email}"]
    [answer] = [str(a.params.get("PARTSTAT")) for a in mine]
    return str(event.get("STATUS")), triggers, answer


def test_rewrites_keep_alarms_and_answers(db: Session, dav: DavServer) -> None:
    mentor, mentee = pair(db)
    tenant = dav_tenant(db, dav)
    dav_calendar(db, dav, tenant, mentor)
    dav_calendar(db, dav, tenant, mentee)
    meeting = meeting_of(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    http = http_for(dav)
    hers, his = copy_of(http, meeting, mentee), copy_of(http, meeting, mentor)
    client_edit(http, hers, mentee.email, "ACCEPTED", 15)
    client_edit(http, his, mentor.email, "ACCEPTED", 30)

    later = meeting.start_at + timedelta(days=1)
    meeting_svc.reschedule(db, meeting, actor=mentor, start=later, end=later + timedelta(minutes=30), now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    # a new time asks her again; the organizer's own line stays accepted
    assert held(http, hers, mentee.email) == ("CONFIRMED", [-15], "NEEDS-ACTION")
    assert held(http, his, mentor.email) == ("CONFIRMED", [-30], "ACCEPTED")

    client_edit(http, hers, mentee.email, "ACCEPTED", 5)
    meeting_svc.cancel(db, meeting, actor=mentor, reason="Ill", now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert held(http, hers, mentee.email) == ("CANCELLED", [-15, -5], "ACCEPTED")
    assert held(http, his, mentor.email) == ("CANCELLED", [-30], "ACCEPTED")
