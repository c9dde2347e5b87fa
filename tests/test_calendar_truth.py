"""One meeting, one invitation, one UID (issue 13): what each person's calendar and mailbox end up
holding after accept, reschedule and cancel, with the calendar write and the invitation job
run as the worker runs them.

Who invites whom: a Google or Microsoft calendar mails the invitation itself, so the app's
mail then carries no iTIP part; whoever has the event written into their own calendar gets
none either; the mentor (organizer) never gets a REQUEST for their own meeting.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import icalendar
import pytest
import requests
from sqlalchemy.orm import Session

from scheduling import notices, tenants
from scheduling.models import Meeting, MeetingState, Person
from scheduling.services import meetings as meeting_svc
from tests.factories import NOW, make_meeting, make_mentee, make_mentor, make_program
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from worker import calendar_jobs

FAST = {"retry": {"max_attempts": 2, "base_delay": 0.0}}
BASE = "http://app.example"


@pytest.fixture
def google(db: Session, google_fake: GoogleFake) -> Any:
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.delegation_granted = True
    google_fake.store.failures.clear()
    return tenants.create_tenant(
        db, name=f"Google {uuid.uuid4().hex[:6]}", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": google_fake.api_endpoint, **FAST},
    )


def on_google(db: Session, fake: GoogleFake, tenant: Any, person: Person) -> Person:
    fake.store.add_calendar(person.email)
    tenants.connect_account(db, person=person, tenant=tenant)
    return person


def pair(db: Session) -> tuple[Person, Person]:
    tag = uuid.uuid4().hex[:8]
    return (make_mentor(db, email=f"mentor-{tag}@example.com"),
            make_mentee(db, email=f"mentee-{tag}@example.com"))


def meeting_of(db: Session, mentor: Person, mentee: Person) -> Meeting:
    return make_meeting(db, program=make_program(db), mentee=mentee, mentor=mentor)


def mails(db: Session, meeting: Meeting) -> dict[str, str | None]:
    """Each person's mail for the meeting's current version: its iTIP METHOD, None for words only."""
    db.refresh(meeting)
    itip = calendar_jobs.itip_methods(db, meeting)
    out: dict[str, str | None] = {}
    for notice in notices.meeting_invite(meeting, BASE, itip=itip):
        if notice.ics is not None:
            cal = icalendar.Calendar.from_ical(notice.ics)
            assert str(cal.walk("VEVENT")[0]["UID"]) == meeting.uid  # one UID in every copy
            assert str(cal["METHOD"]) == notice.ics_method
        out[notice.to[0]] = notice.ics_method
    return out


def test_google_sends_the_one_invitation_with_the_meeting_uid(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    mentor, mentee = pair(db)
    on_google(db, google_fake, google, mentor)
    on_google(db, google_fake, google, mentee)
    meeting = meeting_of(db, mentor, mentee)

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    calendar_jobs.write_meeting_events(meeting.id, session=db)  # a retried job

    [organized] = google_fake.store.live_events(mentor.email)
    [copy] = google_fake.store.live_events(mentee.email)  # Google's attendee copy
    assert organized.ical_uid == copy.ical_uid == meeting.uid
    assert [i for i in google_fake.invitations if i[0] == mentee.email] == [
        (mentee.email, meeting.uid, "request")]
    assert not [i for i in google_fake.invitations if i[0] == mentor.email]
    assert mails(db, meeting) == {mentor.email: None, mentee.email: None}  # no second invitation

    later = meeting.start_at + timedelta(days=1)
    meeting_svc.reschedule(db, meeting, actor=mentee, start=later, end=later + timedelta(minutes=30), now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    [copy] = google_fake.store.live_events(mentee.email)
    assert (copy.ical_uid, copy.start) == (meeting.uid, later)
    assert mails(db, meeting) == {mentor.email: None, mentee.email: None}

    meeting_svc.cancel(db, meeting, actor=mentee, reason="Ill", now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert google_fake.store.live_events(mentee.email) == []
    assert google_fake.store.live_events(mentor.email) == []
    sent = [m for (to, _, m) in google_fake.invitations if to == mentee.email]
    assert sent == ["request", "request", "cancel"]  # Google's mails: the only invitations
    assert mails(db, meeting) == {mentor.email: None, mentee.email: None}


def test_without_calendars_the_app_invites_and_the_organizer_gets_no_request(db: Session) -> None:
    mentor, mentee = pair(db)
    meeting = meeting_of(db, mentor, mentee)
    assert mails(db, meeting) == {mentor.email: "PUBLISH", mentee.email: "REQUEST"}
    meeting_svc.cancel(db, meeting, actor=mentee, reason="Ill", now=NOW)
    assert mails(db, meeting) == {mentor.email: "CANCEL", mentee.email: "CANCEL"}


def test_a_mentor_on_caldav_gets_no_itip_for_their_own_meeting(
    db: Session, radicale_server: DavServer
) -> None:
    mentor, mentee = pair(db)
    tenant = tenants.create_tenant(
        db, name=f"DAV {uuid.uuid4().hex[:6]}", provider="caldav",
        config={"url": radicale_server.base_url, "username": radicale_server.username, **FAST},
        secret=radicale_server.password,
    )
    path = f"{radicale_server.username}/truth-{uuid.uuid4().hex[:8]}/"
    requests.request("MKCALENDAR", radicale_server.base_url + path,
                     auth=(radicale_server.username, radicale_server.password))
    tenants.connect_account(db, person=mentor, tenant=tenant, external_id=path)
    meeting = meeting_of(db, mentor, mentee)
    assert mails(db, meeting) == {mentor.email: None, mentee.email: "REQUEST"}
    meeting_svc.cancel(db, meeting, actor=mentor, reason="Ill", now=NOW)
    assert mails(db, meeting) == {mentor.email: None, mentee.email: "CANCEL"}
    assert meeting.state == MeetingState.CANCELED


# --- CalDAV: both calendars, one resource per UID ---------------------------------------------------


def dav_calendar(db: Session, server: DavServer, tenant: Any, person: Person) -> str:
    principal = "user" if server.name == "xandikos" else server.username
    path = f"{principal}/truth-{uuid.uuid4().hex[:8]}/"
    made = requests.request("MKCALENDAR", server.base_url + path, auth=(server.username, server.password),
                            verify=server.ca_file)
    assert made.status_code == 201, made.text
    tenants.connect_account(db, person=person, tenant=tenant, external_id=path)
    return server.base_url + path


def dav_uids(server: DavServer, calendar_url: str) -> list[tuple[str, str]]:
    """(UID, STATUS) of every event resource in the collection."""
    body = ('<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
            "</c:calendar-query>")
    response = requests.request("REPORT", calendar_url, data=body, auth=(server.username, server.password),
                                headers={"Depth": "1", "Content-Type": "application/xml"},
                                verify=server.ca_file)
    out = []
    for chunk in response.text.split("BEGIN:VCALENDAR")[1:]:
        event = icalendar.Calendar.from_ical("BEGIN:VCALENDAR" + chunk.split("END:VCALENDAR")[0]
                                             + "END:VCALENDAR").walk("VEVENT")[0]
        out.append((str(event["UID"]), str(event.get("STATUS", ""))))
    return out


def dav_tenant(db: Session, server: DavServer) -> Any:
    trust = {"ca_bundle": server.ca_file} if isinstance(server.ca_file, str) else {}
    return tenants.create_tenant(
        db, name=f"DAV {uuid.uuid4().hex[:6]}", provider="caldav",
        config={"url": server.base_url, "username": server.username, **trust, **FAST}, secret=server.password)


def dav_sequences(server: DavServer, calendar_url: str) -> list[int]:
    body = ('<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
            "</c:calendar-query>")
    response = requests.request("REPORT", calendar_url, data=body, auth=(server.username, server.password),
                                headers={"Depth": "1", "Content-Type": "application/xml"},
                                verify=server.ca_file)
    return [int(line.split(":")[1]) for line in response.text.splitlines() if line.startswith("SEQUENCE:")]


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> DavServer:
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return server


def test_same_caldav_server_both_calendars_hold_the_meeting(
    db: Session, dav: DavServer
) -> None:
    mentor, mentee = pair(db)
    tenant = dav_tenant(db, dav)
    mentor_url = dav_calendar(db, dav, tenant, mentor)
    mentee_url = dav_calendar(db, dav, tenant, mentee)
    meeting = meeting_of(db, mentor, mentee)

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_uids(dav, mentor_url) == [(meeting.uid, "CONFIRMED")]
    assert dav_uids(dav, mentee_url) == [(meeting.uid, "CONFIRMED")]
    assert mails(db, meeting) == {mentor.email: None, mentee.email: None}  # both calendars have it

    later = meeting.start_at + timedelta(days=1)
    meeting_svc.reschedule(db, meeting, actor=mentee, start=later, end=later + timedelta(minutes=30), now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    for link in meeting.events:
        link.synced_sequence = 0  # the job's commit was lost: it runs again
    db.commit()
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_sequences(dav, mentor_url) == dav_sequences(dav, mentee_url) == [1]  # not bumped twice

    meeting_svc.cancel(db, meeting, actor=mentor, reason="Ill", now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_uids(dav, mentor_url) == [(meeting.uid, "CANCELLED")]
    assert dav_uids(dav, mentee_url) == [(meeting.uid, "CANCELLED")]


def test_an_event_imported_under_another_name_is_adopted(db: Session, dav: DavServer) -> None:
    """A mail client imported the invitation first: Radicale answers 409, Xandikos 412; the
    worker takes that resource over instead of failing on every retry."""
    mentor, mentee = pair(db)
    tenant = dav_tenant(db, dav)
    mentor_url = dav_calendar(db, dav, tenant, mentor)
    meeting = meeting_of(db, mentor, mentee)
    imported = notices.meeting_ics(meeting)[0].replace(b"METHOD:REQUEST\r\n", b"")
    put = requests.put(mentor_url + "imported-by-mail.ics", data=imported, auth=(dav.username, dav.password),
                       headers={"Content-Type": "text/calendar"}, verify=dav.ca_file)
    assert put.status_code in (201, 204)

    result = calendar_jobs.write_meeting_events(meeting.id, session=db)

    assert result.created == [mentor.id]
    assert dav_uids(dav, mentor_url) == [(meeting.uid, "CONFIRMED")]
    [link] = meeting.events
    assert link.event_id.endswith("imported-by-mail.ics")
