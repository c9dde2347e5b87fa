"""A mentee's decline in any provider cancels the meeting like the mentor's does (issue 13),
and afterwards each person's calendar holds the meeting cancelled (or nothing), never a live one.

The decline is made the way the person's calendar app makes it: a CalDAV client writes
``PARTSTAT=DECLINED`` on her own ATTENDEE line (in her copy, or a scheduling server or a mail
client carries it into the mentor's copy); Google shows her ``responseStatus`` on the
organizer's event; Exchange shows her ``status.response`` on the organizer's event.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import requests
from sqlalchemy.orm import Session

from scheduling import notices, tenants
from scheduling.models import Meeting, MeetingState, Person
from tests.factories import make_meeting, make_program
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.graph_server import GraphFake
from tests.test_calendar_truth import (
    BASE,
    FAST,
    dav_calendar,
    dav_tenant,
    dav_uids,
    meeting_of,
    on_google,
    pair,
)
from worker import calendar_jobs


def sync(db: Session, tenant: Any) -> list[tuple[int, str]]:
    return calendar_jobs.sync_tenant(tenant.id, session=db).applied


def assert_declined_by(db: Session, meeting: Meeting, who: Person) -> None:
    """Canceled like a mentor's decline: the reason names who declined, both people are told."""
    db.refresh(meeting)
    assert meeting.state == MeetingState.CANCELED
    assert meeting.cancel_reason.startswith(f"{who.name} declined the meeting in their calendar.")
    itip = calendar_jobs.itip_methods(db, meeting)
    told = {n.to[0] for n in notices.meeting_invite(meeting, BASE, itip=itip)}
    assert told == {meeting.mentor.email, meeting.mentee.email}


# --- CalDAV ---------------------------------------------------------------------------------------


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> DavServer:
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return server


def dav_decline(server: DavServer, meeting: Meeting, owner: Person, email: str) -> None:
    """What a calendar client does: set ``email`` 's PARTSTAT to DECLINED in ``owner`` 's copy."""
    [url] = [link.event_id for link in meeting.events if link.person_id == owner.id]
    http = requests.Session()
    http.auth, http.verify, http.trust_env = (server.username, server.password), server.ca_file, False
    got = http.get(url)
    cal = icalendar.Calendar.from_ical(got.content)
    event = cal.walk("VEVENT")[0]
    for att in event.get("ATTENDEE"):
        if str(att).lower() == f"mailto:{email.lower()}":
            att.params["PARTSTAT"] = "DECLINED"
    headers = {"Content-Type": "text/calendar", "If-Match": got.headers["ETag"]}
    put = http.put(url, data=cal.to_ical(), headers=headers)
    assert put.status_code in (201, 204), put.text


def test_caldav_mentee_declines_in_her_copy(db: Session, dav: DavServer) -> None:
    mentor, mentee = pair(db)
    tenant = dav_tenant(db, dav)
    mentor_url = dav_calendar(db, dav, tenant, mentor)
    mentee_url = dav_calendar(db, dav, tenant, mentee)
    meeting = meeting_of(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert sync(db, tenant) == []  # the first listing is a baseline

    dav_decline(dav, meeting, mentee, mentee.email)
    assert sync(db, tenant) == [(meeting.id, "declined")]
    assert_declined_by(db, meeting, mentee)

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_uids(dav, mentor_url) == [(meeting.uid, "CANCELLED")]
    assert dav_uids(dav, mentee_url) == [(meeting.uid, "CANCELLED")]
    assert sync(db, tenant) == []  # replaying changes nothing


def test_caldav_mentees_answer_on_the_mentors_copy_cancels(db: Session, dav: DavServer) -> None:
    """The mentee has no calendar here; her REPLY reached the mentor's copy (a scheduling
    server or the mentor's mail client applied it): only the attendee line says DECLINED."""
    mentor, mentee = pair(db)
    tenant = dav_tenant(db, dav)
    mentor_url = dav_calendar(db, dav, tenant, mentor)
    meeting = meeting_of(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert sync(db, tenant) == []

    dav_decline(dav, meeting, mentor, mentee.email)
    assert sync(db, tenant) == [(meeting.id, "declined")]
    assert_declined_by(db, meeting, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_uids(dav, mentor_url) == [(meeting.uid, "CANCELLED")]


def test_caldav_a_stranger_declining_does_not_cancel(db: Session, radicale_server: DavServer) -> None:
    mentor, mentee = pair(db)
    tenant = dav_tenant(db, radicale_server)
    dav_calendar(db, radicale_server, tenant, mentor)
    meeting = meeting_of(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    sync(db, tenant)
    http = requests.Session()
    http.auth = (radicale_server.username, radicale_server.password)
    [link] = meeting.events
    cal = icalendar.Calendar.from_ical(http.get(link.event_id).content)
    stranger = icalendar.vCalAddress("mailto:someone-else@example.com")
    stranger.params["PARTSTAT"] = "DECLINED"
    cal.walk("VEVENT")[0].add("ATTENDEE", stranger)
    assert http.put(link.event_id, data=cal.to_ical(), headers={"Content-Type": "text/calendar"}).ok

    assert sync(db, tenant) == []
    db.refresh(meeting)
    assert meeting.is_active


# --- Google ---------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("mentee_connected", [True, False])
def test_google_mentee_declines(
    db: Session, google_fake: GoogleFake, google: Any, mentee_connected: bool
) -> None:
    mentor, mentee = pair(db)
    on_google(db, google_fake, google, mentor)
    if mentee_connected:
        on_google(db, google_fake, google, mentee)
    meeting = meeting_of(db, mentor, mentee)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert sync(db, google) == []
    [event] = google_fake.store.live_events(mentor.email)

    if mentee_connected:  # she answers in her copy; Google shows it on the organizer's event too
        google_fake.attendee_respond(mentee.email, event.id, "declined", "Travelling")
    else:  # another domain: only her answer on the organizer's event is visible here
        google_fake.store.respond(mentor.email, event.id, mentee.email, "declined", "Travelling")
    assert sync(db, google) == [(meeting.id, "declined")]
    assert_declined_by(db, meeting, mentee)
    assert meeting.cancel_reason.endswith("Note: Travelling")

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert google_fake.store.live_events(mentor.email) == []
    assert google_fake.store.live_events(mentee.email) == []
    assert [m for (to, uid, m) in google_fake.invitations if to == mentee.email and uid == meeting.uid] == [
        "request", "cancel"]


# --- Microsoft Graph ------------------------------------------------------------------------------


@pytest.fixture
def microsoft(db: Session, graph_fake: GraphFake) -> Any:
    graph_fake.consented = True
    graph_fake.store.failures.clear()
    return tenants.create_tenant(
        db, name=f"Graph {uuid.uuid4().hex[:6]}", provider="microsoft", secret=graph_fake.client_secret,
        config={"tenant_id": graph_fake.tenant_id, "client_id": graph_fake.client_id,
                "authority_host": graph_fake.base_url, "graph_url": graph_fake.graph_url,
                "ca_bundle": graph_fake.ca_file, **FAST},
    )


def test_graph_mentee_declines(db: Session, graph_fake: GraphFake, microsoft: Any) -> None:
    mentor, mentee = pair(db)
    graph_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=microsoft)
    now = datetime.now(UTC)  # Graph tracks a window around the real today
    soon = (now + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    while soon.weekday() >= 5:
        soon += timedelta(days=1)
    meeting = make_meeting(db, program=make_program(db), mentee=mentee, mentor=mentor, start=soon, now=now)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert sync(db, microsoft) == []
    [event] = graph_fake.store.live_events(mentor.email)

    graph_fake.attendee_respond(mentor.email, event.id, mentee.email, "declined")
    assert sync(db, microsoft) == [(meeting.id, "declined")]
    assert_declined_by(db, meeting, mentee)

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert graph_fake.store.live_events(mentor.email) == []
