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
