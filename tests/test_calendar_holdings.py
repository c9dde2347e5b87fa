"""What each person's calendar holds (issue 13), on all four backends, read from the server.

Also a pending request held in the mentor's calendar (program setting ``calendar_holds``): the
mentor accepts it there (one meeting on both calendars after), declines it, the mentee withdraws or
the request expires (nothing left on either).

Mentor and mentee are both connected in one tenant of the backend. The meeting is requested
and accepted through the services; the calendar writes run as the worker runs them (relay
plus a burst RQ worker, ``tests.worker_harness``); declines are made the way each person's
calendar app makes them and read back by the tenant's sync. After each step every person's
calendar must hold exactly one event with the meeting's UID at the meeting's time. On Microsoft
the meeting's identity is the ``iCalUId`` Exchange assigned the organizer's event (Graph does not
let a client set it; Exchange's invitation and the attendee's copy carry it): the worker keeps it
on the event link, and both calendars must hold that UID.

After a cancel, CalDAV keeps the resource with ``STATUS:CANCELLED`` (the app owns the
resource and rewrites it as the iTIP CANCEL would, RFC 5546 3.2.5); Google and Microsoft
delete the organizer's event, which removes the attendee's copy too, so nothing is left.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import icalendar
import pytest
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
    RequestHold,
    RequestState,
)
from scheduling.request_holds import holds_of
from scheduling.services import meetings as meeting_svc
from scheduling.services import requests as request_svc
from scheduling.services.requests import accept
from tests.factories import NOW, at, make_program, make_request, slot
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.graph_server import GraphFake
from tests.test_calendar_decline import dav_decline
from tests.test_calendar_truth import FAST, dav_calendar, dav_tenant, dav_uids, pair
from tests.test_request_holds import dav_answer
from tests.worker_harness import Life, life  # noqa: F401 (the fixture, taken by name below)
from worker import calendar_jobs

Held = tuple[str, datetime, str]  # (UID, start, status) of one event in one person's calendar


@dataclass
class Backend:
    """One backend with mentor and mentee connected: what each calendar holds, and their calendar app."""

    name: str
    tenant: Any
    held: Callable[[Person], list[Held]]
    decline: Callable[[Meeting, Person], None]
    cancelled: str | None  # the status a cancelled meeting keeps in the calendar; None: removed
    answer_hold: Callable[[RequestHold, bool], None]  # the mentor accepts (True) or declines a hold
    organizer_declines: bool = True  # False: the organizer's calendar app offers only "cancel meeting"


def _dav(db: Session, server: DavServer, mentor: Person, mentee: Person) -> Backend:
    tenant = dav_tenant(db, server)
    urls = {p.id: dav_calendar(db, server, tenant, p) for p in (mentor, mentee)}

    def held(person: Person) -> list[Held]:
        body = ('<?xml version="1.0"?>'
                '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                '<d:prop><c:calendar-data/></d:prop>'
                '<c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
                "</c:calendar-query>")
        got = requests.request("REPORT", urls[person.id], data=body, auth=(server.username, server.password),
                               headers={"Depth": "1", "Content-Type": "application/xml"},
                               verify=server.ca_file)
        assert got.status_code == 207, got.text
        out = []
        for chunk in got.text.split("BEGIN:VCALENDAR")[1:]:
            text = "BEGIN:VCALENDAR" + chunk.split("END:VCALENDAR")[0] + "END:VCALENDAR"
            event = icalendar.Calendar.from_ical(text.replace("&#13;", "")).walk("VEVENT")[0]
            out.append((str(event["UID"]), event.decoded("DTSTART"), str(event.get("STATUS", ""))))
        return out

    def decline(meeting: Meeting, person: Person) -> None:
        dav_decline(server, meeting, person, person.email)

    def answer_hold(hold: RequestHold, accept: bool) -> None:
        dav_answer(server, hold.event_id, mentor.email, "ACCEPTED" if accept else "DECLINED")

    return Backend(server.name, tenant, held, decline, "CANCELLED", answer_hold)


def _google(db: Session, fake: GoogleFake, mentor: Person, mentee: Person) -> Backend:
    info, key = make_service_account(fake.token_uri)
    fake.register_service_account(info, key)
    fake.delegation_granted = True
    fake.store.failures.clear()
    tenant = tenants.create_tenant(
        db, name=f"Google {uuid.uuid4().hex[:6]}", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": fake.api_endpoint, **FAST})
    for person in (mentor, mentee):
        fake.store.add_calendar(person.email)
        tenants.connect_account(db, person=person, tenant=tenant)

    def held(person: Person) -> list[Held]:
        return [(e.ical_uid, e.start, e.status) for e in fake.store.live_events(person.email)]  # type: ignore[misc]

    def decline(meeting: Meeting, person: Person) -> None:
        [event] = fake.store.live_events(mentor.email)
        if person.id == mentor.id:  # the organizer answers on their own event
            fake.store.respond(mentor.email, event.id, mentor.email, "declined")
        else:  # she answers in her copy; Google shows it on the organizer's event
            fake.attendee_respond(mentee.email, event.id, "declined")

    def answer_hold(hold: RequestHold, accept: bool) -> None:
        fake.store.respond(mentor.email, hold.event_id, mentor.email, "accepted" if accept else "declined")

    return Backend("google", tenant, held, decline, None, answer_hold)


def _graph(db: Session, fake: GraphFake, mentor: Person, mentee: Person) -> Backend:
    fake.consented = True
    fake.store.failures.clear()
    tenant = tenants.create_tenant(
        db, name=f"Graph {uuid.uuid4().hex[:6]}", provider="microsoft", secret=fake.client_secret,
        config={"tenant_id": fake.tenant_id, "client_id": fake.client_id, "authority_host": fake.base_url,
                "graph_url": fake.graph_url, "ca_bundle": fake.ca_file, **FAST})
    for person in (mentor, mentee):
        fake.store.add_calendar(person.email)
        tenants.connect_account(db, person=person, tenant=tenant)

    def held(person: Person) -> list[Held]:
        return [(e.ical_uid or e.id, e.start, e.status)  # type: ignore[misc]
                for e in fake.store.live_events(person.email)]

    def decline(meeting: Meeting, person: Person) -> None:
        [event] = fake.store.live_events(mentor.email)
        if person.id == mentor.id:  # Outlook has no decline for the organizer: they cancel
            fake.organizer_cancel(mentor.email, event.id)
        else:  # in Outlook, or her iTIP reply: Exchange records it on the organizer's event
            fake.attendee_respond(mentor.email, event.id, mentee.email, "declined")

    def answer_hold(hold: RequestHold, accept: bool) -> None:  # an appointment: "Show as", or delete it
        if accept:
            fake.owner_show_as(mentor.email, hold.event_id, "busy")
        else:
            fake.owner_delete(mentor.email, hold.event_id)

    return Backend("graph", tenant, held, decline, None, answer_hold, organizer_declines=False)


BACKENDS = ["radicale", "xandikos", "google", "graph"]


SERVERS = {"radicale": "radicale_server", "xandikos": "xandikos_server", "google": "google_fake",
           "graph": "graph_fake"}


def connect(server: Any, db: Session, name: str, mentor: Person, mentee: Person) -> Backend:
    if name in ("radicale", "xandikos"):
        return _dav(db, server, mentor, mentee)
    if name == "google":
        return _google(db, server, mentor, mentee)
    return _graph(db, server, mentor, mentee)


def meeting_uid(backend: Backend, meeting: Meeting, mentor: Person) -> str:
    """The meeting's identity on this backend: ours, or the UID Exchange assigned (kept on the link)."""
    if backend.name != "graph":
        return meeting.uid
    [link] = [e for e in meeting.events if e.person_id == mentor.id]
    assert link.ical_uid and link.ical_uid != meeting.uid
    return link.ical_uid


def live(backend: Backend, meeting: Meeting, mentor: Person) -> dict[str, list[Held]]:
    """What both calendars hold while the meeting stands: one event each, its UID and time."""
    status = "CONFIRMED" if backend.cancelled else "confirmed"
    one = [(meeting_uid(backend, meeting, mentor), meeting.start_at, status)]
    return {"mentor": one, "mentee": one}


class Story:
    """The clock, the people and the meeting; each step lets the worker run what came due."""

    def __init__(self, lived: Life, server: Any, backend_name: str) -> None:
        self.life, self.db = lived, lived.db
        self.mentor, self.mentee = pair(self.db)
        self.backend = connect(server, self.db, backend_name, self.mentor, self.mentee)
        self.now = NOW
        ask = make_request(self.db, program=make_program(self.db), mentee=self.mentee, mentor=self.mentor)
        self.meeting = accept(self.db, ask, actor=self.mentor, now=NOW)
        self.work()

    def work(self) -> None:
        self.now += timedelta(minutes=5)
        self.life.run_until(self.now)
        self.db.refresh(self.meeting)

    def sync(self) -> list[tuple[int, str]]:
        return calendar_jobs.sync_tenant(self.backend.tenant.id, session=self.db).applied

    def uid(self) -> str:
        return meeting_uid(self.backend, self.meeting, self.mentor)

    def holdings(self) -> dict[str, list[Held]]:
        return {"mentor": self.backend.held(self.mentor), "mentee": self.backend.held(self.mentee)}

    def live(self) -> dict[str, list[Held]]:
        return live(self.backend, self.meeting, self.mentor)

    def gone(self) -> dict[str, list[Held]]:
        if self.backend.cancelled is None:
            return {"mentor": [], "mentee": []}
        one = [(self.uid(), self.meeting.start_at, self.backend.cancelled)]
        return {"mentor": one, "mentee": one}


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest) -> tuple[str, Any]:
    """Started before ``life`` moves the clock: their certificates are made at the real time."""
    return request.param, request.getfixturevalue(SERVERS[request.param])


@pytest.fixture
def story(server: tuple[str, Any], request: pytest.FixtureRequest) -> Story:
    return Story(request.getfixturevalue("life"), server[1], server[0])


def test_accept_reschedule_cancel(story: Story) -> None:
    assert story.meeting.state == MeetingState.SCHEDULED
    assert story.holdings() == story.live()

    later = story.meeting.start_at + timedelta(days=1)
    meeting_svc.reschedule(story.db, story.meeting, actor=story.mentee, start=later,
                           end=later + timedelta(minutes=30), now=story.now)
    story.work()
    assert story.meeting.start_at == later
    assert story.holdings() == story.live()  # same UID, the new time, still one each

    meeting_svc.cancel(story.db, story.meeting, actor=story.mentor, reason="Ill", now=story.now)
    story.work()
    assert story.meeting.state == MeetingState.CANCELED
    assert story.holdings() == story.gone()


@pytest.mark.parametrize("who", ["mentor", "mentee"])
def test_a_decline_in_ones_own_calendar_cancels_for_both(story: Story, who: str) -> None:
    assert story.holdings() == story.live()
    assert story.sync() == []  # the first listing is a baseline
    person = story.mentor if who == "mentor" else story.mentee

    story.backend.decline(story.meeting, person)
    declined = who == "mentee" or story.backend.organizer_declines
    assert story.sync() == [(story.meeting.id, "declined" if declined else "canceled")]
    story.work()
    assert story.meeting.state == MeetingState.CANCELED
    said = "declined the meeting" if declined else "removed the meeting"
    assert story.meeting.cancel_reason.startswith(f"{person.name} {said} in their calendar.")
    held = story.holdings()
    other = "mentee" if who == "mentor" else "mentor"
    assert held[other] == story.gone()[other]


# --- a pending request as a hold in the mentor's calendar (program setting ``calendar_holds``) -------

TEN = slot(at("2030-01-09", "10:00"))


class HoldStory:
    """A mentee's pending request for one time, held in the mentor's calendar by the worker."""

    def __init__(self, lived: Life, server: Any, backend_name: str) -> None:
        self.life, self.db = lived, lived.db
        self.mentor, self.mentee = pair(self.db)
        self.backend = connect(server, self.db, backend_name, self.mentor, self.mentee)
        self.now = NOW
        program = make_program(self.db, calendar_holds=True, auto_close_after_days=1)
        self.request: MeetingRequest = make_request(self.db, program=program, mentee=self.mentee,
                                                    mentor=self.mentor, times=[TEN], now=lived.at(NOW))
        self.work()

    def work(self) -> None:
        self.now += timedelta(minutes=5)
        self.life.run_until(self.now)
        self.db.refresh(self.request)

    def counts(self) -> dict[str, int]:
        return {"mentor": len(self.backend.held(self.mentor)), "mentee": len(self.backend.held(self.mentee))}

    def meeting(self) -> Meeting | None:
        return self.db.scalar(select(Meeting).where(Meeting.request_id == self.request.id))


@pytest.fixture
def hold_story(server: tuple[str, Any], request: pytest.FixtureRequest) -> HoldStory:
    return HoldStory(request.getfixturevalue("life"), server[1], server[0])


def test_a_hold_accepted_in_the_mentors_calendar_becomes_the_one_meeting(hold_story: HoldStory) -> None:
    story = hold_story
    [hold] = holds_of(story.db, story.request.id)
    assert story.counts() == {"mentor": 1, "mentee": 0}  # the hold, in the mentor's calendar only
    calendar_jobs.sync_tenant(story.backend.tenant.id, session=story.db)  # the baseline

    story.backend.answer_hold(hold, True)
    assert calendar_jobs.sync_tenant(story.backend.tenant.id, session=story.db).applied == [
        (story.request.id, "request-accepted")]
    story.work()  # the holds job removes the hold; the meeting's write puts the meeting on both
    assert story.request.state == RequestState.ACCEPTED
    meeting = story.meeting()
    assert meeting is not None and meeting.state == MeetingState.SCHEDULED
    assert holds_of(story.db, story.request.id) == []
    held = {"mentor": story.backend.held(story.mentor), "mentee": story.backend.held(story.mentee)}
    assert held == live(story.backend, meeting, story.mentor)  # one event each: the meeting, at its time


def test_a_hold_declined_in_the_mentors_calendar_leaves_nothing(hold_story: HoldStory) -> None:
    story = hold_story
    [hold] = holds_of(story.db, story.request.id)
    calendar_jobs.sync_tenant(story.backend.tenant.id, session=story.db)

    story.backend.answer_hold(hold, False)
    assert calendar_jobs.sync_tenant(story.backend.tenant.id, session=story.db).applied == [
        (story.request.id, "request-declined")]
    story.work()
    assert story.request.state == RequestState.DECLINED
    assert story.request.decline_reason == DeclineReason.DECLINED_FROM_CALENDAR
    assert story.meeting() is None
    assert story.counts() == {"mentor": 0, "mentee": 0}
    assert holds_of(story.db, story.request.id) == []


def test_a_withdrawn_request_loses_its_hold(hold_story: HoldStory) -> None:
    story = hold_story
    assert story.counts() == {"mentor": 1, "mentee": 0}
    request_svc.withdraw(story.db, story.request, actor=story.mentee, now=story.life.at(story.now))
    story.work()
    assert story.request.state == RequestState.WITHDRAWN
    assert story.counts() == {"mentor": 0, "mentee": 0}
    assert calendar_jobs.sync_tenant(story.backend.tenant.id, session=story.db).applied == []


def test_an_expired_request_loses_its_hold(hold_story: HoldStory) -> None:
    story = hold_story
    assert story.counts() == {"mentor": 1, "mentee": 0}
    story.now = NOW + timedelta(days=1)
    story.work()  # the auto-close, then the holds job it plans
    assert story.request.state == RequestState.EXPIRED
    assert story.counts() == {"mentor": 0, "mentee": 0}
    assert holds_of(story.db, story.request.id) == []


# --- a mentee in another tenant than her Microsoft mentor ----------------------------------------------


def test_the_copy_in_another_tenant_carries_the_uid_exchange_gave_the_meeting(
    db: Session, graph_fake: GraphFake, radicale_server: DavServer
) -> None:
    """Exchange mails her its invitation with its own ``iCalUId``; the copy the worker writes into
    her calendar (another tenant, here CalDAV) must carry that UID, so her calendar holds one meeting."""
    mentor, mentee = pair(db)
    graph = _graph(db, graph_fake, mentor, mentee)  # both in the Microsoft tenant at first ...
    dav = dav_tenant(db, radicale_server)
    mentee_url = dav_calendar(db, radicale_server, dav, mentee)  # ... then she connects her own calendar
    ask = make_request(db, program=make_program(db), mentee=mentee, mentor=mentor)
    meeting = accept(db, ask, actor=mentor, now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)

    theirs = meeting_uid(graph, meeting, mentor)  # the iCalUId of the mentor's event
    assert dav_uids(radicale_server, mentee_url) == [(theirs, "CONFIRMED")]
    [event] = graph_fake.store.live_events(mentor.email)
    assert [a["email"] for a in event.attendees] == [mentee.email]  # Exchange invites her with it

    meeting_svc.cancel(db, meeting, actor=mentor, reason="Ill", now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_uids(radicale_server, mentee_url) == [(theirs, "CANCELLED")]  # the same resource, cancelled
