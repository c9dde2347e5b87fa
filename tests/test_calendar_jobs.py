"""Worker jobs between meetings and calendars, against the Google loopback server and Radicale:
write once per side (retries never duplicate), update on a new sequence, cancel, and apply
moves/deletes/declines made in people's calendars back to the meeting."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from calendars.base import RateLimited
from calendars.google import event_id_for
from scheduling import tenants
from scheduling.calendar_event import meeting_event
from scheduling.models import (
    CalendarEventLink,
    Meeting,
    MeetingMode,
    MeetingRequest,
    MeetingState,
    Person,
    RequestState,
)
from tests.factories import make_mentee, make_mentor, make_program
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.throttle_proxy import throttle_proxy
from worker import calendar_jobs

FAST = {"retry": {"max_attempts": 2, "base_delay": 0.0}}
START = datetime(2030, 1, 9, 10, 0, tzinfo=UTC)


@pytest.fixture
def google_tenant(db: Session, google_fake: GoogleFake) -> Any:
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.store.failures.clear()
    return tenants.create_tenant(
        db,
        name="Google",
        provider="google",
        secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": google_fake.api_endpoint, **FAST},
    )


def dav_tenant(db: Session, server: DavServer, url: str | None = None) -> Any:
    return tenants.create_tenant(
        db,
        name=f"DAV {uuid.uuid4().hex[:6]}",
        provider="caldav",
        secret=server.password,
        config={"url": url or server.base_url, "username": server.username, **FAST},
    )


def google_person(db: Session, fake: GoogleFake, tenant: Any, *, mentor: bool) -> Person:
    email = f"{'mentor' if mentor else 'mentee'}-{uuid.uuid4().hex[:8]}@example.com"
    person = make_mentor(db, email=email) if mentor else make_mentee(db, email=email)
    fake.store.add_calendar(email)
    tenants.connect_account(db, person=person, tenant=tenant)
    return person


def dav_person(db: Session, server: DavServer, tenant: Any) -> tuple[Person, str]:
    path = f"{server.username}/jobs-{uuid.uuid4().hex[:8]}/"
    requests.request("MKCALENDAR", server.base_url + path, auth=(server.username, server.password))
    person = make_mentee(db, time_zone="Europe/Berlin")
    tenants.connect_account(db, person=person, tenant=tenant, external_id=path)
    return person, server.base_url + path


def make_meeting(db: Session, mentor: Person, mentee: Person, start: datetime = START) -> Meeting:
    """A scheduled meeting row (what accepting a request leaves behind)."""
    program = make_program(db)
    request = MeetingRequest(
        program_id=program.id,
        mentee_id=mentee.id,
        mentor_id=mentor.id,
        topic="Career advice",
        description="",
        mode=MeetingMode.VIDEO,
        state=RequestState.ACCEPTED,
    )
    db.add(request)
    db.flush()
    meeting = Meeting(
        request_id=request.id,
        program_id=program.id,
        mentor_id=mentor.id,
        mentee_id=mentee.id,
        start_at=start,
        end_at=start + timedelta(minutes=30),
        topic="Career advice",
        mode=MeetingMode.VIDEO,
        location="Video call",
        uid=f"{uuid.uuid4()}@flashmentor.test",
    )
    db.add(meeting)
    db.commit()
    return meeting


def links(db: Session, meeting: Meeting) -> list[CalendarEventLink]:
    db.expire_all()
    return list(
        db.scalars(
            select(CalendarEventLink)
            .where(CalendarEventLink.meeting_id == meeting.id)
            .order_by(CalendarEventLink.person_id)
        )
    )


def dav_events(server: DavServer, calendar_url: str) -> list[str]:
    """The iCalendar bodies stored in a CalDAV collection."""
    body = (
        '<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
        '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
        "</c:calendar-query>"
    )
    response = requests.request(
        "REPORT",
        calendar_url,
        data=body,
        auth=(server.username, server.password),
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    return [chunk for chunk in response.text.split("BEGIN:VCALENDAR")[1:]]


# --- writing ----------------------------------------------------------------------------------------


def test_same_tenant_writes_one_event_with_the_mentee_invited(
    db: Session, google_fake: GoogleFake, google_tenant: Any
) -> None:
    mentor = google_person(db, google_fake, google_tenant, mentor=True)
    mentee = google_person(db, google_fake, google_tenant, mentor=False)
    meeting = make_meeting(db, mentor, mentee)

    first = calendar_jobs.write_meeting_events(meeting.id, session=db)
    again = calendar_jobs.write_meeting_events(meeting.id, session=db)  # a retried job

    assert first.created == [mentor.id] and again.created == [] and again.updated == []
    [event] = google_fake.store.live_events(mentor.email)
    assert event.id == event_id_for(meeting.uid)
    assert {a["email"] for a in event.attendees} == {mentor.email, mentee.email}
    [copy] = google_fake.store.live_events(mentee.email)  # same tenant: Google's own attendee copy
    assert copy.ical_uid == event.ical_uid == meeting.uid
    [link] = links(db, meeting)
    assert (link.person_id, link.event_id, link.synced_sequence) == (mentor.id, event.id, 0)


def test_other_tenant_gets_its_own_copy(
    db: Session, google_fake: GoogleFake, google_tenant: Any, radicale_server: DavServer
) -> None:
    mentor = google_person(db, google_fake, google_tenant, mentor=True)
    mentee, calendar_url = dav_person(db, radicale_server, dav_tenant(db, radicale_server))
    meeting = make_meeting(db, mentor, mentee)

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    calendar_jobs.write_meeting_events(meeting.id, session=db)

    assert len(google_fake.store.live_events(mentor.email)) == 1
    [copy] = dav_events(radicale_server, calendar_url)
    assert f"UID:{meeting.uid}" in copy and "DTSTART:20300109T100000Z" in copy
    assert [link.person_id for link in links(db, meeting)] == sorted([mentor.id, mentee.id])


def test_a_lost_response_or_outage_never_makes_a_second_event(
    db: Session, google_fake: GoogleFake, google_tenant: Any, radicale_server: DavServer
) -> None:
    mentor = google_person(db, google_fake, google_tenant, mentor=True)
    with throttle_proxy(radicale_server.base_url) as proxy:
        flaky = dav_tenant(db, radicale_server, url=proxy.base_url)
        mentee, calendar_url = dav_person(db, radicale_server, flaky)
        meeting = make_meeting(db, mentor, mentee)
        # The provider made the mentor's event but the answer never reached us.
        spec = meeting_event(meeting, owner=mentor, attendees=(mentee,))
        owner = calendar_jobs.identity(db, mentor)
        assert owner is not None
        tenants.connector_for(google_tenant).create_event(owner, spec)
        proxy.fail_next(2, 503, {"Retry-After": "0"})

        with pytest.raises(RateLimited):  # the mentee's server is down: RQ retries the job later
            calendar_jobs.write_meeting_events(meeting.id, session=db)
        assert [link.person_id for link in links(db, meeting)] == [mentor.id]

        calendar_jobs.write_meeting_events(meeting.id, session=db)

    assert len(google_fake.store.live_events(mentor.email)) == 1
    assert len(dav_events(radicale_server, calendar_url)) == 1
    assert len(links(db, meeting)) == 2


def test_a_new_sequence_updates_and_a_cancel_cancels(
    db: Session, google_fake: GoogleFake, google_tenant: Any, radicale_server: DavServer
) -> None:
    mentor = google_person(db, google_fake, google_tenant, mentor=True)
    mentee, calendar_url = dav_person(db, radicale_server, dav_tenant(db, radicale_server))
    meeting = make_meeting(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)

    meeting.start_at, meeting.end_at = START + timedelta(days=1), START + timedelta(days=1, minutes=30)
    meeting.state, meeting.sequence = MeetingState.RESCHEDULED, 1
    db.commit()
    result = calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert sorted(result.updated) == sorted([mentor.id, mentee.id])
    assert calendar_jobs.write_meeting_events(meeting.id, session=db).updated == []
    [event] = google_fake.store.live_events(mentor.email)
    assert event.start == START + timedelta(days=1)
    [copy] = dav_events(radicale_server, calendar_url)
    assert "DTSTART:20300110T100000Z" in copy and "SEQUENCE:1" in copy
    assert all(link.synced_sequence == 1 for link in links(db, meeting))

    meeting.state, meeting.sequence = MeetingState.CANCELED, 2
    db.commit()
    result = calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert sorted(result.canceled) == sorted([mentor.id, mentee.id])
    assert google_fake.store.live_events(mentor.email) == []
    [copy] = dav_events(radicale_server, calendar_url)
    assert "STATUS:CANCELLED" in copy
    assert calendar_jobs.cancel_meeting_events(meeting.id, session=db).canceled == []  # done already


# --- following changes ------------------------------------------------------------------------------


def test_sync_applies_a_move_then_a_decline(db: Session, google_fake: GoogleFake, google_tenant: Any) -> None:
    mentor = google_person(db, google_fake, google_tenant, mentor=True)
    mentee = google_person(db, google_fake, google_tenant, mentor=False)
    meeting = make_meeting(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert calendar_jobs.sync_tenant(google_tenant.id, session=db).applied == []  # our own write

    event_id = event_id_for(meeting.uid)
    later = START + timedelta(hours=3)
    google_fake.store.change(mentor.email, event_id, start=later, end=later + timedelta(minutes=30))
    result = calendar_jobs.sync_tenant(google_tenant.id, session=db)

    assert result.applied == [(meeting.id, "moved")]
    db.refresh(meeting)
    assert (meeting.start_at, meeting.state) == (later, MeetingState.RESCHEDULED)
    assert calendar_jobs.sync_tenant(google_tenant.id, session=db).applied == []  # replay: nothing more

    google_fake.store.respond(mentor.email, event_id, mentor.email, "declined")
    result = calendar_jobs.sync_tenant(google_tenant.id, session=db)
    assert result.applied == [(meeting.id, "declined")]
    db.refresh(meeting)
    assert meeting.state == MeetingState.CANCELED
    assert mentor.name in meeting.cancel_reason and "declined" in meeting.cancel_reason
    assert google_tenant.last_sync_status.startswith("ok")


def test_sync_cancels_when_the_mentee_deletes_their_copy(
    db: Session, google_fake: GoogleFake, google_tenant: Any, radicale_server: DavServer
) -> None:
    mentor = google_person(db, google_fake, google_tenant, mentor=True)
    dav = dav_tenant(db, radicale_server)
    mentee, _url = dav_person(db, radicale_server, dav)
    meeting = make_meeting(db, mentor, mentee)
    calendar_jobs.sync_tenant(dav.id, session=db)  # baseline before the event exists
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    [link] = [lk for lk in links(db, meeting) if lk.person_id == mentee.id]

    requests.delete(link.event_id, auth=(radicale_server.username, radicale_server.password))
    result = calendar_jobs.sync_tenant(dav.id, session=db)

    assert result.applied == [(meeting.id, "canceled")]
    db.refresh(meeting)
    assert meeting.state == MeetingState.CANCELED and "removed" in meeting.cancel_reason


def test_sync_does_not_undo_a_reschedule_not_yet_written(
    db: Session, google_fake: GoogleFake, google_tenant: Any
) -> None:
    mentor = google_person(db, google_fake, google_tenant, mentor=True)
    mentee = google_person(db, google_fake, google_tenant, mentor=False)
    meeting = make_meeting(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    calendar_jobs.sync_tenant(google_tenant.id, session=db)
    # Rescheduled in the program; the write job has not run. Meanwhile the description is edited.
    meeting.start_at, meeting.end_at = START + timedelta(days=2), START + timedelta(days=2, minutes=30)
    meeting.state, meeting.sequence = MeetingState.RESCHEDULED, 1
    db.commit()
    google_fake.store.change(mentor.email, event_id_for(meeting.uid), description="edited")

    assert calendar_jobs.sync_tenant(google_tenant.id, session=db).applied == []
    db.refresh(meeting)
    assert meeting.start_at == START + timedelta(days=2)
