"""Pending requests as tentative holds in the mentor's calendar (issue 13, item 4).

With the program's ``calendar_holds`` on, each time a mentee proposes is an invitation in the
mentor's calendar (the mentee organizing, the mentor NEEDS-ACTION), written and removed by the
worker's ``request.calendar_holds`` job; the mentor's answer there, read by the calendar sync,
answers the request. Run against the real loopback servers: Radicale, Xandikos, the Google and
Graph fakes. On Microsoft the hold is an appointment of the mentor's own shown as tentative (Graph
cannot put another organizer's invitation into a mailbox): "Show as" Busy accepts, deleting declines.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import icalendar
import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import availability, tenants
from scheduling.errors import SlotNotAvailable
from scheduling.models import (
    DeclineReason,
    Meeting,
    MeetingRequest,
    Person,
    Program,
    RequestHold,
    RequestState,
    TimedWork,
    WorkKind,
)
from scheduling.request_holds import hold_uid
from scheduling.services import requests as request_svc
from scheduling.tenants import TenantBusySource
from tests.factories import NOW, at, make_mentee, make_program, make_request, slot
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.graph_server import GraphFake
from tests.test_calendar_truth import FAST, dav_calendar, dav_tenant, dav_uids, on_google, pair
from tests.worker_harness import Life, life
from worker import calendar_jobs
from worker.request_holds import write_holds

__all__ = ["life"]

TEN = slot(at("2030-01-09", "10:00"))
ELEVEN = slot(at("2030-01-09", "11:00"))


@pytest.fixture
def calendars_read() -> Iterator[None]:
    """Availability reads people's calendars (as the app and the worker do), so a hold is busy time."""
    availability.configure_busy_source(TenantBusySource)
    yield
    availability.configure_busy_source(None)


@pytest.fixture
def google(db: Session, google_fake: GoogleFake) -> Any:
    """A Google tenant on the loopback fake (service account with domain-wide delegation)."""
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.delegation_granted = True
    google_fake.store.failures.clear()
    return tenants.create_tenant(
        db, name=f"Google {uuid.uuid4().hex[:6]}", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": google_fake.api_endpoint, **FAST},
    )


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> DavServer:
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return server


def holds_program(db: Session, **kw: Any) -> Program:
    return make_program(db, calendar_holds=True, **kw)


def sync(db: Session, tenant: Any) -> list[tuple[int, str]]:
    return calendar_jobs.sync_tenant(tenant.id, session=db).applied


def hold_rows(db: Session, request: MeetingRequest) -> list[RequestHold]:
    return list(db.scalars(select(RequestHold).where(RequestHold.request_id == request.id)))


def dav_answer(server: DavServer, href: str, email: str, partstat: str) -> None:
    """What the mentor's calendar client does when they answer the invitation: their PARTSTAT."""
    http = requests.Session()
    http.auth, http.verify, http.trust_env = (server.username, server.password), server.ca_file, False
    got = http.get(href)
    cal = icalendar.Calendar.from_ical(got.content)
    event = cal.walk("VEVENT")[0]
    for att in event.get("ATTENDEE"):
        if str(att).lower() == f"mailto:{email.lower()}":
            att.params["PARTSTAT"] = partstat
    put = http.put(href, data=cal.to_ical(),
                   headers={"Content-Type": "text/calendar", "If-Match": got.headers["ETag"]})
    assert put.status_code in (201, 204), put.text


def dav_event(server: DavServer, href: str) -> Any:
    got = requests.get(href, auth=(server.username, server.password), verify=server.ca_file)
    assert got.status_code == 200, got.text
    return icalendar.Calendar.from_ical(got.content).walk("VEVENT")[0]


def on_dav(db: Session, server: DavServer) -> tuple[Any, Person, Person, str]:
    mentor, mentee = pair(db)
    tenant = dav_tenant(db, server)
    return tenant, mentor, mentee, dav_calendar(db, server, tenant, mentor)


# --- CalDAV ---------------------------------------------------------------------------------------


def test_caldav_hold_appears_once_and_goes_on_withdrawal(db: Session, dav: DavServer) -> None:
    tenant, mentor, mentee, mentor_url = on_dav(db, dav)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    row = db.scalar(select(TimedWork).where(TimedWork.key == f"request-{request.id}-holds"))
    assert row is not None and row.kind == WorkKind.REQUEST_HOLDS  # planned with the request

    [time] = request.proposed_times
    uid = hold_uid(request, time.id)
    assert write_holds(request.id, session=db).written == [time.id]
    assert write_holds(request.id, session=db).written == []  # a rerun writes nothing more
    assert dav_uids(dav, mentor_url) == [(uid, "TENTATIVE")]  # once
    [hold] = hold_rows(db, request)
    event = dav_event(dav, hold.event_id)
    assert str(event["ORGANIZER"]).lower() == f"mailto:{mentee.email}"
    mine = [a for a in event.get("ATTENDEE") if str(a).lower() == f"mailto:{mentor.email}"]
    assert [a.params["PARTSTAT"] for a in mine] == ["NEEDS-ACTION"]
    assert event.decoded("DTSTART") == TEN[0]

    request_svc.withdraw(db, request, actor=mentee)
    assert write_holds(request.id, session=db).removed == [time.id]
    assert dav_uids(dav, mentor_url) == []  # removed, not left behind as cancelled
    assert hold_rows(db, request) == []
    assert sync(db, tenant) == []  # the removal answers nothing


def test_caldav_accept_in_the_calendar_accepts_the_request(
    db: Session, dav: DavServer, calendars_read: None
) -> None:
    """The mentor's own hold is busy time in their calendar, yet it does not block its own request."""
    tenant, mentor, mentee, mentor_url = on_dav(db, dav)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN, ELEVEN])
    write_holds(request.id, session=db)
    assert sync(db, tenant) == []  # the baseline
    [_, eleven] = sorted(hold_rows(db, request), key=lambda h: h.start_at)

    dav_answer(dav, eleven.event_id, mentor.email, "ACCEPTED")
    assert sync(db, tenant) == [(request.id, "request-accepted")]
    db.refresh(request)
    assert request.state == RequestState.ACCEPTED
    meeting = db.scalar(select(Meeting).where(Meeting.request_id == request.id))
    assert meeting is not None and (meeting.start_at, meeting.end_at) == ELEVEN

    write_holds(request.id, session=db)  # the job the answer planned
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_uids(dav, mentor_url) == [(meeting.uid, "CONFIRMED")]  # exactly the meeting's event
    assert sync(db, tenant) == []  # replaying changes nothing


def test_caldav_decline_in_the_calendar_declines_the_request(db: Session, dav: DavServer) -> None:
    tenant, mentor, mentee, mentor_url = on_dav(db, dav)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN, ELEVEN])
    write_holds(request.id, session=db)
    sync(db, tenant)
    ten, eleven = sorted(hold_rows(db, request), key=lambda h: h.start_at)

    dav_answer(dav, ten.event_id, mentor.email, "DECLINED")
    assert sync(db, tenant) == []  # one time turned down; the other still open
    db.refresh(request)
    assert request.state == RequestState.PENDING

    dav_answer(dav, eleven.event_id, mentor.email, "DECLINED")
    assert sync(db, tenant) == [(request.id, "request-declined")]
    db.refresh(request)
    assert request.state == RequestState.DECLINED
    assert request.decline_reason == DeclineReason.DECLINED_FROM_CALENDAR
    write_holds(request.id, session=db)
    assert dav_uids(dav, mentor_url) == []


def test_holds_are_busy_for_the_mentors_other_requests(
    db: Session, radicale_server: DavServer, calendars_read: None
) -> None:
    _, mentor, mentee, _ = on_dav(db, radicale_server)
    program = holds_program(db)
    first = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[TEN])
    write_holds(first.id, session=db)
    availability.forget_busy([mentor.id])

    other = make_mentee(db, email=f"other-{mentee.email}")
    with pytest.raises(SlotNotAvailable, match="calendar is busy"):
        make_request(db, program=program, mentee=other, mentor=mentor, times=[TEN])
    db.rollback()
    make_request(db, program=program, mentee=other, mentor=mentor, times=[ELEVEN])  # another time is free


def test_a_counter_holds_the_new_time_and_its_confirmation_is_not_blocked(
    db: Session, radicale_server: DavServer, calendars_read: None
) -> None:
    _, mentor, mentee, mentor_url = on_dav(db, radicale_server)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    write_holds(request.id, session=db)

    request_svc.counter(db, request, actor=mentor, start=ELEVEN[0], end=ELEVEN[1])
    write_holds(request.id, session=db)
    counter = request_svc.counter_time(request)
    assert counter is not None
    assert dav_uids(radicale_server, mentor_url) == [(hold_uid(request, counter.id), "TENTATIVE")]
    availability.forget_busy([mentor.id])

    meeting = request_svc.confirm_counter(db, request, actor=mentee)  # the mentor's hold is in its way only
    assert (meeting.start_at, meeting.end_at) == ELEVEN
    write_holds(request.id, session=db)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert dav_uids(radicale_server, mentor_url) == [(meeting.uid, "CONFIRMED")]


def test_without_the_setting_nothing_is_planned_or_written(db: Session, radicale_server: DavServer) -> None:
    _, mentor, mentee, mentor_url = on_dav(db, radicale_server)
    request = make_request(db, program=make_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    assert db.scalar(select(TimedWork).where(TimedWork.kind == WorkKind.REQUEST_HOLDS)) is None
    assert write_holds(request.id, session=db).written == []
    assert dav_uids(radicale_server, mentor_url) == []


# --- through the worker: the planned job writes and removes ------------------------------------------


def test_the_worker_writes_the_hold_and_an_answer_in_the_app_replaces_it(
    life: Life, radicale_server: DavServer
) -> None:
    """The real relay and RQ worker run ``request.calendar_holds`` after the request and after the
    mentor's accept in the app (read through the app's busy cache, which now sees the hold):
    afterwards the mentor's calendar holds the meeting's event and nothing else."""
    db = life.db
    _, mentor, mentee, mentor_url = on_dav(db, radicale_server)
    program = holds_program(db)
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[TEN], now=life.at(NOW))
    life.run_until(NOW + timedelta(minutes=1))
    [time] = request.proposed_times
    assert dav_uids(radicale_server, mentor_url) == [(hold_uid(request, time.id), "TENTATIVE")]

    meeting = request_svc.accept(db, request, actor=mentor, now=life.at(NOW + timedelta(minutes=2)))
    life.run_until(NOW + timedelta(minutes=3))
    assert dav_uids(radicale_server, mentor_url) == [(meeting.uid, "CONFIRMED")]


def test_an_expired_request_loses_its_hold(life: Life, radicale_server: DavServer) -> None:
    db = life.db
    _, mentor, mentee, mentor_url = on_dav(db, radicale_server)
    program = holds_program(db, auto_close_after_days=1)
    request = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[TEN], now=life.at(NOW))
    life.run_until(NOW + timedelta(minutes=1))
    assert len(dav_uids(radicale_server, mentor_url)) == 1
    life.run_until(NOW + timedelta(days=1, minutes=1))  # the auto-close, then the holds job it plans
    db.refresh(request)
    assert request.state == RequestState.EXPIRED
    assert dav_uids(radicale_server, mentor_url) == []


def test_a_time_gone_by_is_held_no_longer(db: Session, radicale_server: DavServer, time_machine: Any) -> None:
    _, mentor, mentee, mentor_url = on_dav(db, radicale_server)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN, ELEVEN])
    time_machine.move_to(NOW)
    write_holds(request.id, session=db)
    assert len(dav_uids(radicale_server, mentor_url)) == 2
    time_machine.move_to(TEN[1])  # ten o'clock is over, eleven is still to come
    ten, eleven = sorted(request.proposed_times, key=lambda p: p.start_at)
    assert write_holds(request.id, session=db).removed == [ten.id]
    assert dav_uids(radicale_server, mentor_url) == [(hold_uid(request, eleven.id), "TENTATIVE")]


# --- Google ---------------------------------------------------------------------------------------


def google_pair(db: Session, fake: GoogleFake, tenant: Any) -> tuple[Person, Person]:
    mentor, mentee = pair(db)
    on_google(db, fake, tenant, mentor)
    return mentor, mentee


def google_holds(fake: GoogleFake, mentor: Person) -> list[Any]:
    return [e for e in fake.store.live_events(mentor.email) if e.ical_uid.startswith("request-")]


def test_google_hold_is_imported_once_and_goes_on_withdrawal(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    mentor, mentee = google_pair(db, google_fake, google)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    [time] = request.proposed_times
    invitations_before = len(google_fake.invitations)
    write_holds(request.id, session=db)
    write_holds(request.id, session=db)

    [event] = google_holds(google_fake, mentor)
    assert event.ical_uid == hold_uid(request, time.id)
    assert event.organizer == mentee.email and event.status == "tentative"
    assert event.response_of(mentor.email) == "needsAction"
    assert (event.start, event.end) == TEN
    assert len(google_fake.invitations) == invitations_before  # an import mails nobody

    request_svc.withdraw(db, request, actor=mentee)
    write_holds(request.id, session=db)
    assert google_holds(google_fake, mentor) == []


def test_google_accept_in_the_calendar_leaves_only_the_meeting(
    db: Session, google_fake: GoogleFake, google: Any, calendars_read: None
) -> None:
    mentor, mentee = google_pair(db, google_fake, google)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    write_holds(request.id, session=db)
    assert sync(db, google) == []
    [hold] = hold_rows(db, request)

    google_fake.store.respond(mentor.email, hold.event_id, mentor.email, "accepted")
    assert sync(db, google) == [(request.id, "request-accepted")]
    db.refresh(request)
    meeting = db.scalar(select(Meeting).where(Meeting.request_id == request.id))
    assert request.state == RequestState.ACCEPTED and meeting is not None
    write_holds(request.id, session=db)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    live = google_fake.store.live_events(mentor.email)
    assert [e.ical_uid for e in live] == [meeting.uid]  # one event, the meeting's


def test_google_decline_in_the_calendar_declines_the_request(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    mentor, mentee = google_pair(db, google_fake, google)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    write_holds(request.id, session=db)
    sync(db, google)
    [hold] = hold_rows(db, request)

    google_fake.store.respond(mentor.email, hold.event_id, mentor.email, "declined", comment="Travelling")
    assert sync(db, google) == [(request.id, "request-declined")]
    db.refresh(request)
    assert request.state == RequestState.DECLINED
    assert request.decline_reason == DeclineReason.DECLINED_FROM_CALENDAR
    assert request.decline_message == "Travelling"
    write_holds(request.id, session=db)
    assert google_holds(google_fake, mentor) == []


# --- Microsoft -------------------------------------------------------------------------------------


@pytest.fixture
def graph(db: Session, graph_fake: GraphFake, time_machine: Any) -> Any:
    """A Microsoft 365 tenant on the loopback Graph (client credentials, admin consent given),
    on the tests' clock: Graph's delta tracks a window around today, which must reach the times."""
    time_machine.move_to(NOW, tick=True)
    graph_fake.consented = True
    graph_fake.store.failures.clear()
    return tenants.create_tenant(
        db, name=f"Graph {uuid.uuid4().hex[:6]}", provider="microsoft", secret=graph_fake.client_secret,
        config={"tenant_id": graph_fake.tenant_id, "client_id": graph_fake.client_id,
                "authority_host": graph_fake.base_url, "graph_url": graph_fake.graph_url,
                "ca_bundle": graph_fake.ca_file, **FAST},
    )


def graph_pair(db: Session, fake: GraphFake, tenant: Any) -> tuple[Person, Person]:
    mentor, mentee = pair(db)
    fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=tenant)
    return mentor, mentee


def graph_holds(fake: GraphFake, mentor: Person) -> list[Any]:
    return [e for e in fake.store.live_events(mentor.email) if e.transaction_id.startswith("request-")]


def test_microsoft_hold_is_a_tentative_appointment_once_and_goes_on_withdrawal(
    db: Session, graph_fake: GraphFake, graph: Any, calendars_read: None
) -> None:
    mentor, mentee = graph_pair(db, graph_fake, graph)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    [time] = request.proposed_times
    assert write_holds(request.id, session=db).written == [time.id]
    assert write_holds(request.id, session=db).written == []

    [event] = graph_holds(graph_fake, mentor)
    assert event.transaction_id == hold_uid(request, time.id)
    assert event.organizer == mentor.email and event.attendees == []  # nobody is mailed
    assert event.show_as == "tentative" and (event.start, event.end) == TEN
    assert "Show as to Busy to accept" in event.description
    other = make_mentee(db, email=f"other-{mentee.email}")
    with pytest.raises(SlotNotAvailable, match="calendar is busy"):  # tentative is busy
        make_request(db, program=holds_program(db), mentee=other, mentor=mentor, times=[TEN])
    db.rollback()

    request_svc.withdraw(db, request, actor=mentee)
    assert write_holds(request.id, session=db).removed == [time.id]
    assert graph_holds(graph_fake, mentor) == []
    assert sync(db, graph) == []  # the app's own removal answers nothing


def test_microsoft_show_as_busy_accepts_the_request(
    db: Session, graph_fake: GraphFake, graph: Any, calendars_read: None
) -> None:
    mentor, mentee = graph_pair(db, graph_fake, graph)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN, ELEVEN])
    write_holds(request.id, session=db)
    assert sync(db, graph) == []  # the baseline: both still tentative
    [_, eleven] = sorted(hold_rows(db, request), key=lambda h: h.start_at)

    graph_fake.owner_show_as(mentor.email, eleven.event_id, "busy")
    assert sync(db, graph) == [(request.id, "request-accepted")]
    db.refresh(request)
    meeting = db.scalar(select(Meeting).where(Meeting.request_id == request.id))
    assert request.state == RequestState.ACCEPTED and meeting is not None
    assert (meeting.start_at, meeting.end_at) == ELEVEN
    write_holds(request.id, session=db)
    assert graph_holds(graph_fake, mentor) == []  # both holds gone; the meeting is its own event
    assert sync(db, graph) == []


def test_microsoft_deleting_the_holds_declines_the_request(
    db: Session, graph_fake: GraphFake, graph: Any
) -> None:
    mentor, mentee = graph_pair(db, graph_fake, graph)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN, ELEVEN])
    write_holds(request.id, session=db)
    sync(db, graph)
    ten, eleven = sorted(hold_rows(db, request), key=lambda h: h.start_at)

    graph_fake.owner_delete(mentor.email, ten.event_id)
    assert sync(db, graph) == []  # one time turned down; the other still open
    db.refresh(request)
    assert request.state == RequestState.PENDING

    graph_fake.owner_delete(mentor.email, eleven.event_id)
    assert sync(db, graph) == [(request.id, "request-declined")]
    db.refresh(request)
    assert request.state == RequestState.DECLINED
    assert request.decline_reason == DeclineReason.DECLINED_FROM_CALENDAR
    write_holds(request.id, session=db)
    assert hold_rows(db, request) == []


def test_a_caldav_hold_deleted_by_the_mentor_declines_that_time(db: Session, dav: DavServer) -> None:
    tenant, mentor, mentee, _ = on_dav(db, dav)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    write_holds(request.id, session=db)
    sync(db, tenant)
    [hold] = hold_rows(db, request)
    got = requests.delete(hold.event_id, auth=(dav.username, dav.password), verify=dav.ca_file)
    assert got.status_code in (200, 204), got.text
    assert sync(db, tenant) == [(request.id, "request-declined")]
    db.refresh(request)
    assert request.decline_reason == DeclineReason.DECLINED_FROM_CALENDAR


def test_the_mentors_request_page_says_the_times_are_in_their_calendar(
    client: Any, db: Session, radicale_server: DavServer
) -> None:
    from tests.factories import login

    _, mentor, mentee, _ = on_dav(db, radicale_server)
    request = make_request(db, program=holds_program(db), mentee=mentee, mentor=mentor, times=[TEN])
    hint = "in your calendar as tentative invitations"
    login(client, mentor)
    assert hint not in client.get(f"/requests/{request.id}").get_data(as_text=True)  # not written yet
    write_holds(request.id, session=db)
    assert hint in client.get(f"/requests/{request.id}").get_data(as_text=True)
    login(client, mentee)
    assert hint not in client.get(f"/requests/{request.id}").get_data(as_text=True)  # the mentor's calendar


# --- the setting ------------------------------------------------------------------------------------


def test_the_program_api_sets_calendar_holds(client: Any, db: Session) -> None:
    from tests.factories import login, make_admin

    make_program(db)
    login(client, make_admin(db))
    assert client.get("/api/v1/program").get_json()["program"]["calendar_holds"] is False
    res = client.patch("/api/v1/program", json={"calendar_holds": True})
    assert res.status_code == 200 and res.get_json()["program"]["calendar_holds"] is True
    res = client.patch("/api/v1/program", json={"calendar_holds": "sometimes"})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "calendar_holds"
    assert client.get("/api/v1/program").get_json()["program"]["calendar_holds"] is True
