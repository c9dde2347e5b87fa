"""The product opens and renews its own push channels (Google ``events.watch``, Graph
``/subscriptions``) and the loopback fakes really call back: subscribe -> change the event in
the fake -> the fake POSTs to the real Flask app on a loopback port -> a sync job is queued
on RQ -> a real worker runs it -> the meeting follows. Plus renewal, replacement, removal,
failures that stay with one person, and notifications that must carry the stored secret."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from calendars.base import NotFound, PushChannel, push_support
from calendars.google import event_id_for
from calendars.microsoft import PUSH_MAX_LIFETIME
from scheduling import tenants, timed_work
from scheduling.db import make_session_factory
from scheduling.errors import ValidationFailed
from scheduling.models import (
    CalendarAccount,
    CalendarEventLink,
    CalendarTenant,
    MeetingState,
    Person,
    TimedWork,
    WorkKind,
    WorkState,
)
from scheduling.models.calendars import PushSubscription
from tests import worker_harness
from tests.factories import make_mentee, make_mentor
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.graph_server import GraphFake
from tests.serving import running
from tests.test_calendar_push import FAST, SOON, booked, pair
from worker import calendar_jobs, failures, runtime, startup
from worker.jobs import calendars as calendar_rounds

QUEUE = worker_harness.QUEUE
H = timedelta(hours=1)


# --- fixtures ------------------------------------------------------------------------------------------


def _forget_channels(google_fake: GoogleFake, graph_fake: GraphFake) -> None:
    google_fake.channels.clear()
    graph_fake.subscriptions.clear()
    google_fake.notifier.clear()
    graph_fake.notifier.clear()


@pytest.fixture
def live_url(
    engine: Engine, database_url: str, db: Session, google_fake: GoogleFake, graph_fake: GraphFake
) -> Iterator[str]:
    """The real app on a loopback port (what the fakes call back), on the test database."""
    from app import create_app

    _forget_channels(google_fake, graph_fake)  # an earlier module's live channel would call this test

    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
                              "RATELIMIT_ENABLED": False, "SECRET_KEY": "push-test"})
    server = make_server("127.0.0.1", 0, application, threaded=True)
    try:
        with running(server, "push-live-server"):
            yield f"http://127.0.0.1:{server.server_port}"
    finally:
        _forget_channels(google_fake, graph_fake)  # session-wide fakes: nothing of ours calls a later test
        application.extensions["db_engine"].dispose()


@pytest.fixture
def seen() -> Iterator[list[int]]:
    """Notifications that got through, by tenant id (instead of syncing in the request)."""
    calls: list[int] = []
    calendar_jobs.set_push_handler(calls.append)
    yield calls
    calendar_jobs.set_push_handler(None)


@pytest.fixture
def rq(database_url: str, redis: Any, smtp: Any, live_url: str) -> Iterator[Callable[[], Redis]]:
    """Jobs installed as the worker has them (push handler = queue a sync); calling the fixture
    runs a real burst worker over the queue and returns the Redis connection."""
    connection = worker_harness.plain_connection(redis)
    settings = worker_harness.config(database_url, smtp, BASE_URL=live_url, CALENDAR_SYNC_SECONDS=0,
                                     CALENDAR_PUSH_SECONDS=3600)
    startup.install(settings, connection=connection)

    def run() -> Redis:
        worker_harness.drain(connection)
        return connection

    try:
        yield run
    finally:
        startup.uninstall()


def make_google(db: Session, fake: GoogleFake) -> CalendarTenant:
    info, key = make_service_account(fake.token_uri)
    fake.register_service_account(info, key)
    return tenants.create_tenant(
        db, name=f"Google {uuid.uuid4().hex[:6]}", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": fake.api_endpoint, **FAST},
    )


@pytest.fixture
def google(db: Session, google_fake: GoogleFake) -> CalendarTenant:
    google_fake.delegation_granted = True
    google_fake.store.failures.clear()
    return make_google(db, google_fake)


@pytest.fixture
def microsoft(db: Session, graph_fake: GraphFake) -> CalendarTenant:
    graph_fake.consented = True
    graph_fake.store.failures.clear()
    return tenants.create_tenant(
        db, name=f"Graph {uuid.uuid4().hex[:6]}", provider="microsoft", secret=graph_fake.client_secret,
        config={"tenant_id": graph_fake.tenant_id, "client_id": graph_fake.client_id,
                "authority_host": graph_fake.base_url, "graph_url": graph_fake.graph_url,
                "ca_bundle": graph_fake.ca_file, **FAST},
    )


def subs(db: Session, tenant: CalendarTenant) -> dict[int, PushSubscription]:
    db.expire_all()
    rows = db.scalars(select(PushSubscription).where(PushSubscription.tenant_id == tenant.id))
    return {row.person_id: row for row in rows}


def ensure(db: Session, tenant: CalendarTenant, person: Person, base_url: str, **kw: Any) -> str:
    return calendar_jobs.ensure_push(db, tenant.id, person.id, base_url=base_url, **kw)


def owner_of(db: Session, person: Person) -> Any:
    account = db.scalars(select(CalendarAccount).where(CalendarAccount.person_id == person.id)).one()
    return tenants.identity_for(account, person)


def address(base_url: str, tenant: CalendarTenant) -> str:
    return f"{base_url}/api/v1/calendar-push/{tenant.provider.value}/{tenant.id}"


# --- the whole way round -------------------------------------------------------------------------------


def test_google_channels_are_opened_and_a_change_reaches_the_app_and_moves_the_meeting(
    db: Session, google_fake: GoogleFake, google: CalendarTenant, live_url: str, rq: Callable[[], Redis]
) -> None:
    meeting, mentor = booked(db, google_fake, google)

    assert calendar_rounds.push_round() == {google.id: sorted([mentor.id, meeting.mentee_id])}
    connection = rq()  # the two ensure_push jobs: events.watch per person

    rows = subs(db, google)
    assert set(rows) == {mentor.id, meeting.mentee_id}
    row = rows[mentor.id]
    [channel] = google_fake.live_channels(mentor.email)
    assert (channel.id, channel.resource_id, channel.token) == (row.channel_id, row.resource_id, row.secret)
    assert channel.address == row.address == address(live_url, google)
    assert timedelta(days=6, hours=23) < row.expires_at - datetime.now(UTC) <= timedelta(days=7)
    stored = db.execute(text("SELECT secret FROM calendar_push_subscriptions WHERE id = :id"),
                        {"id": row.id}).scalar_one()
    assert row.secret not in stored  # encrypted at rest
    hellos = google_fake.notifier.wait()
    assert sorted(d.headers["X-Goog-Resource-State"] for d in hellos) == ["sync", "sync"]
    assert all(d.status == 200 for d in hellos)
    assert calendar_rounds.push_round() == {}  # nothing due: no provider call, no job
    google_fake.notifier.clear()

    # The mentor drags the event in their calendar; Google calls the app.
    later = SOON + timedelta(days=1, hours=2)
    google_fake.store.change(mentor.email, event_id_for(meeting.uid), start=later,
                             end=later + timedelta(minutes=30))
    [note] = google_fake.notifier.wait()
    assert (note.url, note.status) == (address(live_url, google), 200)
    assert note.headers["X-Goog-Channel-Token"] == row.secret
    assert note.headers["X-Goog-Resource-State"] == "exists"
    job = Job.fetch(f"fm-tenant-{google.id}-push-sync", connection=connection)
    assert job.get_status() == "queued"
    db.refresh(meeting)
    assert meeting.start_at == SOON  # the request only queued the sync

    rq()
    db.refresh(meeting)
    assert (meeting.state, meeting.start_at) == (MeetingState.RESCHEDULED, later)


def test_graph_subscriptions_pass_the_handshake_and_a_change_reaches_the_app_and_moves_the_meeting(
    db: Session, graph_fake: GraphFake, microsoft: CalendarTenant, live_url: str, rq: Callable[[], Redis]
) -> None:
    meeting, mentor = booked(db, graph_fake, microsoft)
    graph_fake.notifier.clear()

    assert calendar_rounds.push_round() == {microsoft.id: sorted([mentor.id, meeting.mentee_id])}
    connection = rq()

    row = subs(db, microsoft)[mentor.id]
    [sub] = graph_fake.live_subscriptions(mentor.email)
    assert (sub.id, sub.client_state) == (row.channel_id, row.secret)
    assert sub.resource == f"users/{mentor.email}/events"
    assert sub.change_types == {"created", "updated", "deleted"}
    assert sub.notification_url == sub.lifecycle_url == address(live_url, microsoft)
    assert row.expires_at == sub.expiration
    assert timedelta(hours=69) < row.expires_at - datetime.now(UTC) <= PUSH_MAX_LIFETIME
    # Graph validated both urls of both subscriptions against the real app before answering.
    handshakes = graph_fake.notifier.to("validationToken=")
    assert len(handshakes) == 4
    assert all(d.status == 200 and "text/plain" in d.content_type and d.text.startswith("Validation:")
               for d in handshakes)
    graph_fake.notifier.clear()

    [link] = db.scalars(select(CalendarEventLink).where(CalendarEventLink.meeting_id == meeting.id))
    later = SOON + timedelta(days=2)
    graph_fake.store.change(mentor.email, link.event_id, start=later, end=later + timedelta(minutes=30))
    [note] = graph_fake.notifier.wait()
    assert note.status == 202
    [item] = json.loads(note.body)["value"]
    assert (item["subscriptionId"], item["clientState"]) == (sub.id, row.secret)
    assert item["changeType"] == "updated"
    assert Job.fetch(f"fm-tenant-{microsoft.id}-push-sync", connection=connection).get_status() == "queued"

    rq()
    db.refresh(meeting)
    assert (meeting.state, meeting.start_at) == (MeetingState.RESCHEDULED, later)


def test_one_refusal_fails_alone_and_lands_in_the_failed_registry(
    db: Session, graph_fake: GraphFake, microsoft: CalendarTenant, rq: Callable[[], Redis]
) -> None:
    ok, _ = pair(db, graph_fake, microsoft)
    lost = make_mentee(db, email=f"gone-{uuid.uuid4().hex[:8]}@example.com")
    tenants.connect_account(db, person=lost, tenant=microsoft)  # no mailbox behind it: Graph says 404

    due = calendar_rounds.push_round()[microsoft.id]
    assert lost.id in due and ok.id in due
    connection = rq()

    assert lost.id not in subs(db, microsoft) and ok.id in subs(db, microsoft)
    failed = FailedJobRegistry(queue=Queue(QUEUE, connection=connection)).get_job_ids()
    # refused twice: right after connecting, and in the round; nobody else's job failed
    expected = [f"fm-tenant-{microsoft.id}-push-{lost.id}-{when}" for when in ("connected", "manual")]
    assert sorted(failed) == expected
    [shown] = [j for j in failures.failed_jobs(db, connection) if j["id"] == failed[0]]
    assert shown["function"] == "calendar.ensure_push" and "NotFound" in shown["error"]
    assert calendar_rounds.push_round() == {microsoft.id: [lost.id]}  # the next round retries


def test_the_renewal_round_is_booked_once_per_interval(
    db: Session, rq: Callable[[], Redis], redis: Any
) -> None:
    first = calendar_rounds.ensure_push_renewal()
    assert first is not None and calendar_rounds.ensure_push_renewal() == first
    connection = rq()  # not due yet: nothing runs
    row = timed_work.find(db, first.removeprefix("fm-"))
    assert row is not None and row.state == WorkState.DUE
    n = int(first.rsplit("-", 1)[-1])
    assert row.due_at == datetime.fromtimestamp(n * 3600, UTC) and row.due_at > datetime.now(UTC)
    assert row.kind == WorkKind.PUSH_ROUND
    startup.install({**runtime.settings(), "CALENDAR_PUSH_SECONDS": 0}, connection=connection)
    assert calendar_rounds.ensure_push_renewal() is None  # 0 turns it off


def test_no_round_work_while_providers_cannot_reach_the_address(
    db: Session, google_fake: GoogleFake, google: CalendarTenant, rq: Callable[[], Redis]
) -> None:
    pair(db, google_fake, google)
    connection = rq()
    for base in ("http://mentoring.example.com", "ftp://127.0.0.1"):
        startup.install({**runtime.settings(), "BASE_URL": base}, connection=connection)
        assert calendar_rounds.push_round() == {}
    startup.install({**runtime.settings(), "BASE_URL": "https://mentoring.example.com"},
                    connection=connection)
    assert list(calendar_rounds.push_round()) == [google.id]


# --- renewing, moving, removing ------------------------------------------------------------------------


def test_google_renewal_opens_a_new_channel_then_stops_the_old_one(
    db: Session, google_fake: GoogleFake, google: CalendarTenant, live_url: str, seen: list[int]
) -> None:
    mentor, _ = pair(db, google_fake, google)
    assert ensure(db, google, mentor, live_url) == "subscribed"
    old = subs(db, google)[mentor.id]
    old_id, old_secret, expires = old.channel_id, old.secret, old.expires_at
    calls = google_fake.store.count()

    assert ensure(db, google, mentor, live_url, now=expires - timedelta(hours=25)) == "unchanged"
    assert google_fake.store.count() == calls  # not due: no provider call
    assert ensure(db, google, mentor, live_url, now=expires - timedelta(hours=23)) == "renewed"

    new = subs(db, google)[mentor.id]
    assert new.channel_id != old_id and new.secret == old_secret and new.renewed_at is not None
    assert [c.id for c in google_fake.live_channels(mentor.email)] == [new.channel_id]
    assert google_fake.channels[old_id].stopped
    connector = push_support(tenants.connector_for(google))
    assert connector is not None
    owner = owner_of(db, mentor)
    connector.unsubscribe(owner, PushChannel(old_id, new.resource_id, expires))  # stopped already: quiet
    google_fake.notifier.clear()
    seen.clear()

    google_fake.seed(mentor.email, start=SOON, end=SOON + H)  # something changes in the calendar
    [note] = google_fake.notifier.wait()
    assert note.headers["X-Goog-Channel-ID"] == new.channel_id and note.status == 200
    assert seen == [google.id]


def test_two_runs_renewing_at_once_keep_one_channel(
    db: Session, engine: Engine, google_fake: GoogleFake, google: CalendarTenant, live_url: str
) -> None:
    mentor, _ = pair(db, google_fake, google)
    ensure(db, google, mentor, live_url)
    stale = subs(db, google)[mentor.id]  # this run has read the row...
    first, due = stale.channel_id, stale.expires_at - timedelta(hours=1)
    other = make_session_factory(engine)()
    try:  # ...when another run renews it first
        assert ensure(other, google, mentor, live_url, now=due) == "renewed"
    finally:
        other.close()

    assert ensure(db, google, mentor, live_url, now=due) == "unchanged"
    [live] = google_fake.live_channels(mentor.email)
    assert subs(db, google)[mentor.id].channel_id == live.id != first  # the loser stopped its own


def test_graph_renewal_extends_in_place_and_a_dropped_subscription_is_recreated(
    db: Session, graph_fake: GraphFake, microsoft: CalendarTenant, live_url: str, monkeypatch: Any
) -> None:
    mentor, mentee = pair(db, graph_fake, microsoft)
    assert ensure(db, microsoft, mentor, live_url) == "subscribed"
    row = subs(db, microsoft)[mentor.id]
    sub_id, secret = row.channel_id, row.secret
    assert calendar_jobs.push_due(db, microsoft.id, base_url=live_url) == [mentee.id]  # none yet
    soon = datetime.now(UTC) + H  # as if it had been running for almost three days
    graph_fake.subscriptions[sub_id].expiration = soon
    row.expires_at = soon
    db.commit()
    patches = graph_fake.store.count("PATCH", "/subscriptions/")

    assert calendar_jobs.push_due(db, microsoft.id, base_url=live_url) == sorted([mentor.id, mentee.id])
    newest = Fernet.generate_key()  # a key was prepended since: the renewal re-encrypts under it
    keys = os.environ["FLASHMENTOR_SECRET_KEYS"]
    monkeypatch.setenv("FLASHMENTOR_SECRET_KEYS", f"{newest.decode()},{keys}")
    assert ensure(db, microsoft, mentor, live_url) == "renewed"
    row = subs(db, microsoft)[mentor.id]
    assert (row.channel_id, row.secret) == (sub_id, secret)
    raw = db.execute(text("SELECT secret FROM calendar_push_subscriptions WHERE id = :id"),
                     {"id": row.id}).scalar_one()
    assert Fernet(newest).decrypt(raw.encode()).decode() == secret
    assert graph_fake.store.count("PATCH", "/subscriptions/") == patches + 1
    assert graph_fake.subscriptions[sub_id].expiration == row.expires_at > soon + 60 * H

    # Graph removed it (it does so when it cannot deliver); the next renewal makes a new one.
    del graph_fake.subscriptions[sub_id]
    row.expires_at = soon
    db.commit()
    assert ensure(db, microsoft, mentor, live_url) == "renewed"
    row = subs(db, microsoft)[mentor.id]
    [sub] = graph_fake.live_subscriptions(mentor.email)
    assert row.channel_id == sub.id != sub_id and row.secret == sub.client_state != secret
    connector = push_support(tenants.connector_for(microsoft))
    assert connector is not None
    owner = owner_of(db, mentor)
    connector.unsubscribe(owner, PushChannel(sub_id, "", soon))  # Graph dropped it already: quiet
    with pytest.raises(NotFound):
        connector.renew(owner, PushChannel(sub_id, "", soon), address(live_url, microsoft))


def test_a_new_address_or_tenant_replaces_and_push_off_or_disconnect_removes(
    db: Session, google_fake: GoogleFake, google: CalendarTenant, live_url: str
) -> None:
    mentor, mentee = pair(db, google_fake, google)
    for person in (mentor, mentee):
        assert ensure(db, google, person, live_url) == "subscribed"
    first = {pid: row.channel_id for pid, row in subs(db, google).items()}

    # The public address moved (FLASHMENTOR_BASE_URL changed): every channel is replaced.
    other = "https://mentoring.example.com"
    assert calendar_jobs.push_due(db, google.id, base_url=other) == sorted([mentor.id, mentee.id])
    for person in (mentor, mentee):
        assert ensure(db, google, person, other) == "subscribed"
        assert subs(db, google)[person.id].address == address(other, google)
        assert google_fake.channels[first[person.id]].stopped
    assert calendar_jobs.push_due(db, google.id, base_url=other) == []

    # The mentor's calendar now lives in another tenant: gone here, opened there.
    second = make_google(db, google_fake)
    tenants.connect_account(db, person=mentor, tenant=second)
    assert calendar_jobs.push_due(db, google.id, base_url=other) == [mentor.id]
    assert ensure(db, google, mentor, other) == "removed"
    assert ensure(db, second, mentor, other) == "subscribed"
    assert list(subs(db, second)) == [mentor.id]

    # Push turned off for a tenant: removed; a disconnected person: removed.
    tenants.update_tenant(db, second, config={"push": False})
    assert calendar_jobs.push_due(db, second.id, base_url=other) == [mentor.id]
    assert ensure(db, second, mentor, other) == "removed"
    assert ensure(db, second, mentor, other) == "unchanged"
    db.delete(db.scalars(select(CalendarAccount).where(CalendarAccount.person_id == mentee.id)).one())
    db.commit()
    assert ensure(db, google, mentee, other) == "removed"
    assert subs(db, google) == {} and subs(db, second) == {}
    assert google_fake.live_channels(mentor.email) == google_fake.live_channels(mentee.email) == []


# --- what a notification must carry --------------------------------------------------------------------


def test_a_known_channel_needs_its_own_secret_and_a_stopped_one_is_refused(
    client: Any, db: Session, google_fake: GoogleFake, google: CalendarTenant, live_url: str,
    seen: list[int],
) -> None:
    mentor, _ = pair(db, google_fake, google)
    ensure(db, google, mentor, live_url)
    row = subs(db, google)[mentor.id]
    url = f"/api/v1/calendar-push/google/{google.id}"

    def push(channel: str, token: str, state: str = "exists") -> Any:
        return client.post(url, headers={"X-Goog-Channel-ID": channel, "X-Goog-Channel-Token": token,
                                         "X-Goog-Resource-State": state})

    assert push(row.channel_id, tenants.push_token(google)).status_code == 403  # not this channel's
    assert push(row.channel_id, row.secret[:-1] + "x").status_code == 403
    assert push(row.channel_id, "", state="sync").status_code == 403  # known channel: always checked
    assert seen == []
    assert push(row.channel_id, row.secret).status_code == 200
    assert push(str(uuid.uuid4()), "", state="sync").status_code == 200  # a channel still being stored
    assert seen == [google.id]

    tenants.update_tenant(db, google, config={"push": False})
    assert ensure(db, google, mentor, live_url) == "removed"
    assert push(row.channel_id, row.secret).status_code == 403  # stopped: its secret means nothing now
    assert seen == [google.id]


def test_graph_notifications_are_checked_one_by_one_and_lifecycle_notices_make_it_due(
    client: Any, db: Session, graph_fake: GraphFake, microsoft: CalendarTenant, live_url: str,
    seen: list[int],
) -> None:
    mentor, mentee = pair(db, graph_fake, microsoft)
    for person in (mentor, mentee):
        ensure(db, microsoft, person, live_url)
    row = subs(db, microsoft)[mentor.id]
    url = f"/api/v1/calendar-push/microsoft/{microsoft.id}"

    def post(*notes: dict[str, Any]) -> Any:
        return client.post(url, data=json.dumps({"value": list(notes)}), content_type="application/json")

    change = {"subscriptionId": row.channel_id, "changeType": "updated", "resource": "Users/x/Events/y"}
    assert post({**change, "clientState": tenants.push_token(microsoft)}).status_code == 403
    assert post({**change, "clientState": "forged"}).status_code == 403
    assert seen == []
    assert post({**change, "clientState": row.secret}).status_code == 202
    assert seen == [microsoft.id]

    reauth = {"subscriptionId": row.channel_id, "clientState": row.secret,
              "lifecycleEvent": "reauthorizationRequired"}
    assert post(reauth).status_code == 202
    assert seen == [microsoft.id]  # nothing was missed: no sync
    db.expire_all()  # the app changed the row
    assert calendar_jobs.push_due(db, microsoft.id, base_url=live_url) == [mentor.id]
    assert ensure(db, microsoft, mentor, live_url) == "renewed"  # a renewal reauthorizes
    assert calendar_jobs.push_due(db, microsoft.id, base_url=live_url) == []

    assert post({**reauth, "lifecycleEvent": "missed"}).status_code == 202
    assert seen == [microsoft.id, microsoft.id]  # notifications were lost: sync now


# --- who can push --------------------------------------------------------------------------------------


def test_caldav_has_no_push_and_the_setting_must_be_a_boolean(db: Session) -> None:
    dav = tenants.create_tenant(db, name="DAV push", provider="caldav", secret="pw",
                                config={"url": "https://dav.example.com/", "username": "svc"})
    person = make_mentee(db)
    tenants.connect_account(db, person=person, tenant=dav, external_id="/svc/calendar/")
    assert push_support(tenants.connector_for(dav)) is None
    assert calendar_jobs.push_due(db, dav.id, base_url="https://m.example.com") == []
    assert calendar_jobs.ensure_push(db, dav.id, person.id, base_url="https://m.example.com") == "unchanged"
    with pytest.raises(ValidationFailed) as err:
        tenants.update_tenant(db, dav, config={"push": "yes"})
    assert err.value.field == "push"


def test_connecting_a_calendar_opens_its_channel_at_once(
    db: Session, google_fake: GoogleFake, google: CalendarTenant, live_url: str, rq: Callable[[], Redis],
    radicale_server: DavServer,
) -> None:
    email = f"push-{uuid.uuid4().hex[:8]}@example.com"
    person = make_mentor(db, email=email)
    google_fake.store.add_calendar(email)

    tenants.connect_account(db, person=person, tenant=google)
    connection = rq()  # no renewal round ran: the connection itself queued the job

    job = Job.fetch(f"fm-tenant-{google.id}-push-{person.id}-connected", connection=connection)
    assert job.get_status() == "finished"
    assert set(subs(db, google)) == {person.id}
    assert len(google_fake.live_channels(email)) == 1

    dav = tenants.create_tenant(
        db, name="DAV", provider="caldav", secret=radicale_server.password,
        config={"url": radicale_server.base_url, "username": radicale_server.username},
    )
    other = make_mentee(db)
    # CalDAV has no push: the job runs and changes nothing
    tenants.connect_account(db, person=other, tenant=dav, external_id="calendar")
    rq()
    assert subs(db, dav) == {}


def test_deactivating_a_person_stops_their_channels_at_the_provider_by_a_timed_work_row(
    db: Session, google_fake: GoogleFake, google: CalendarTenant, live_url: str, rq: Callable[[], Redis],
) -> None:
    from scheduling.services import deactivation

    mentor, mentee = pair(db, google_fake, google)
    rq()  # connecting the calendars opened the channels
    channel = subs(db, google)[mentee.id].channel_id

    deactivation.deactivate(db, mentee)
    row = timed_work.find(db, f"person-{mentee.id}-stop-push")
    assert row is not None and row.kind == WorkKind.STOP_PUSH and row.args == [mentee.id]
    assert set(subs(db, google)) == {mentor.id, mentee.id}  # the row, not the deactivation, stops it

    connection = rq()
    job = Job.fetch(f"fm-person-{mentee.id}-stop-push", connection=connection)
    assert job.get_status() == "finished" and job.return_value() == {google.id: "removed"}
    assert google_fake.channels[channel].stopped
    assert google_fake.live_channels(mentee.email) == []
    assert set(subs(db, google)) == {mentor.id}  # the mentor's channel is untouched
    db.expire_all()
    assert db.get(TimedWork, row.id).state == WorkState.DONE  # type: ignore[union-attr]
    # Nothing reopens a channel for someone who left, and nobody without channels gets a row.
    assert ensure(db, google, mentee, live_url) == "unchanged"
    assert subs(db, google).keys() == {mentor.id}
    deactivation.deactivate(db, make_mentee(db))
    assert db.scalar(select(TimedWork).where(
        TimedWork.kind == WorkKind.STOP_PUSH, TimedWork.key != row.key)) is None
