"""Calendar connection health against the real loopback servers: a revoked Google grant
(``invalid_grant``), Graph refusing even a fresh token (401 twice), or a CalDAV calendar failing
sync after sync breaks the person's connection; the person is told once (email through the worker,
banner on "My calendar"), admins see it with the last successful sync, availability names the
person instead of taking them for free, and the next sync or test that gets through mends it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import calendar_health, tenants
from scheduling.models import (
    CalendarAccount,
    ConnectionHealth,
    Notification,
    NotificationKind,
    Person,
)
from tests.factories import NOW, login, make_admin, make_mentee, make_mentor, make_program
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake
from tests.fakes.graph_server import GraphFake
from tests.worker_harness import Life, life
from worker import calendar_jobs

__all__ = ["life"]  # the fixture

FAST = {"retry": {"max_attempts": 1, "base_delay": 0.0}}
CLIENT_ID, CLIENT_SECRET = "health-client.apps.googleusercontent.com", "health-secret"
BROKEN_TITLE = "Your calendar connection stopped working"
WINDOW = "?from=2030-01-09T00:00:00Z&to=2030-01-10T00:00:00Z"


def account(db: Session, person: Person) -> CalendarAccount:
    db.expire_all()
    found = tenants.account_of(db, person)
    assert found is not None
    return found


def calendar_notes(db: Session, person: Person) -> list[Notification]:
    return list(db.scalars(select(Notification).where(
        Notification.person_id == person.id, Notification.kind == NotificationKind.CALENDAR)))


def dav_tenant(db: Session, server: DavServer) -> Any:
    return tenants.create_tenant(db, name=f"DAV {uuid.uuid4().hex[:6]}", provider="caldav",
                                 secret=server.password,
                                 config={"url": server.base_url, "username": server.username, **FAST})


def dav_calendar(server: DavServer) -> str:
    path = f"{server.username}/health-{uuid.uuid4().hex[:8]}/"
    made = requests.request("MKCALENDAR", server.base_url + path, auth=(server.username, server.password))
    assert made.status_code == 201
    return path


def dav_person(db: Session, server: DavServer, tenant: Any, **kw: Any) -> tuple[Person, str]:
    path = dav_calendar(server)
    person = make_mentor(db, time_zone="UTC", **kw)
    tenants.connect_account(db, person=person, tenant=tenant, external_id=path)
    return person, path


# --- what breaks a connection, and what mends it ----------------------------------------------------


def test_a_revoked_google_grant_breaks_the_connection_tells_the_person_once_and_a_sync_mends_it(
    life: Life, google_fake: GoogleFake
) -> None:
    db = life.db
    google_fake.oauth_clients[CLIENT_ID] = CLIENT_SECRET
    tenant = tenants.create_tenant(db, name="Google people", provider="google", secret=CLIENT_SECRET, config={
        "domain": "example.com", "auth": "oauth", "client_id": CLIENT_ID,
        "token_uri": google_fake.token_uri, "api_endpoint": google_fake.api_endpoint, **FAST})
    email = f"grant-{uuid.uuid4().hex[:8]}@example.com"
    mentor = make_mentor(db, email=email)
    google_fake.store.add_calendar(email)
    grant = "1//refresh-" + uuid.uuid4().hex
    google_fake.refresh_tokens[grant] = email
    tenants.connect_account(db, person=mentor, tenant=tenant, secret=grant)

    first = calendar_jobs.sync_tenant(tenant.id, session=db)
    assert (first.errors, first.broken) == ([], [])
    assert account(db, mentor).health == ConnectionHealth.OK and account(db, mentor).last_ok_at is not None
    last_ok = account(db, mentor).last_ok_at

    # The person withdraws access in their Google Account: the grant and its access tokens die.
    del google_fake.refresh_tokens[grant]
    for token, user in list(google_fake.tokens.items()):
        if user == email:
            del google_fake.tokens[token]
    broke = calendar_jobs.sync_tenant(tenant.id, session=db)
    again = calendar_jobs.sync_tenant(tenant.id, session=db)

    assert (broke.broken, again.broken) == ([mentor.id], [])
    mine = account(db, mentor)
    assert mine.health == ConnectionHealth.BROKEN and mine.broken_since is not None
    assert "invalid_grant" in mine.broken_reason and mine.failed_syncs == 2
    assert mine.last_ok_at == last_ok
    assert [n.title for n in calendar_notes(db, mentor)] == [BROKEN_TITLE]  # once, not per sync
    life.run_until(NOW + timedelta(minutes=1))
    assert life.mail_to(email).count(BROKEN_TITLE) == 1

    google_fake.refresh_tokens[grant] = email  # connected again with Google
    mended = calendar_jobs.sync_tenant(tenant.id, session=db)
    assert mended.mended == [mentor.id]
    mine = account(db, mentor)
    assert (mine.health, mine.broken_since, mine.broken_reason, mine.failed_syncs) == (
        ConnectionHealth.OK, None, "", 0)


def test_graph_refusing_a_fresh_token_breaks_the_connection_at_once(
    db: Session, graph_fake: GraphFake
) -> None:
    config = {"tenant_id": graph_fake.tenant_id, "client_id": graph_fake.client_id,
              "authority_host": graph_fake.base_url, "graph_url": graph_fake.graph_url,
              "ca_bundle": graph_fake.ca_file, "push": False, **FAST}
    tenant = tenants.create_tenant(db, name="Contoso", provider="microsoft", secret=graph_fake.client_secret,
                                   config=config)
    email = f"graph-{uuid.uuid4().hex[:8]}@example.com"
    graph_fake.store.add_calendar(email)
    mentor = make_mentor(db, email=email)
    tenants.connect_account(db, person=mentor, tenant=tenant)
    assert calendar_jobs.sync_tenant(tenant.id, session=db).errors == []

    expired = {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}
    graph_fake.store.failures.clear()
    graph_fake.store.fail_next(2, 401, expired)  # the cached token, then the fresh one
    result = calendar_jobs.sync_tenant(tenant.id, session=db)

    assert result.broken == [mentor.id]
    mine = account(db, mentor)
    assert mine.health == ConnectionHealth.BROKEN and mine.failed_syncs == 1
    assert "refused our access" in mine.broken_reason and "InvalidAuthenticationToken" in mine.broken_reason
    assert len(calendar_notes(db, mentor)) == 1


def test_admin_consent_withdrawn_in_microsoft_365_breaks_the_connection_and_a_sync_mends_it(
    db: Session, graph_fake: GraphFake
) -> None:
    config = {"tenant_id": graph_fake.tenant_id, "client_id": graph_fake.client_id,
              "authority_host": graph_fake.base_url, "graph_url": graph_fake.graph_url,
              "ca_bundle": graph_fake.ca_file, "push": False, **FAST}
    tenant = tenants.create_tenant(db, name="Fabrikam", provider="microsoft", secret=graph_fake.client_secret,
                                   config=config)
    email = f"consent-{uuid.uuid4().hex[:8]}@example.com"
    graph_fake.store.add_calendar(email)
    graph_fake.store.failures.clear()
    mentee = make_mentee(db, email=email)
    tenants.connect_account(db, person=mentee, tenant=tenant)
    try:
        graph_fake.consented = False  # the tenant's admin removed the app's permission
        result = calendar_jobs.sync_tenant(tenant.id, session=db)
    finally:
        graph_fake.consented = True
    assert result.broken == [mentee.id]
    assert account(db, mentee).broken_reason.startswith("Access to the calendar is no longer granted")
    assert calendar_jobs.sync_tenant(tenant.id, session=db).mended == [mentee.id]
    assert account(db, mentee).health == ConnectionHealth.OK


def test_syncs_failing_again_and_again_break_the_connection_and_a_passing_test_mends_it(
    db: Session, radicale_server: DavServer
) -> None:
    tenant = dav_tenant(db, radicale_server)
    person, path = dav_person(db, radicale_server, tenant)
    assert calendar_jobs.sync_tenant(tenant.id, session=db).errors == []
    auth = (radicale_server.username, radicale_server.password)
    assert requests.delete(radicale_server.base_url + path, auth=auth).status_code in (200, 204)

    failures = [calendar_jobs.sync_tenant(tenant.id, session=db) for _ in range(3)]

    assert [len(f.errors) for f in failures] == [1, 1, 1]
    assert [f.broken for f in failures] == [[], [], [person.id]]  # the third in a row
    mine = account(db, person)
    assert mine.health == ConnectionHealth.BROKEN
    assert mine.broken_reason.startswith("3 syncs in a row failed.")
    assert len(calendar_notes(db, person)) == 1

    requests.request("MKCALENDAR", radicale_server.base_url + path, auth=auth)  # the calendar is back
    check = tenants.test_connection(db, tenant, person=person)
    assert check.ok
    mine = account(db, person)
    assert (mine.health, mine.failed_syncs, mine.broken_reason) == (ConnectionHealth.OK, 0, "")


@pytest.fixture
def two_failures_break(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """FLASHMENTOR_CALENDAR_BROKEN_AFTER=2, read into the app's config and wired at start-up."""
    from app import create_app

    monkeypatch.setenv("FLASHMENTOR_CALENDAR_BROKEN_AFTER", "2")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test"})
    try:
        yield
    finally:
        app.extensions["db_engine"].dispose()
        calendar_health.configure(broken_after=calendar_health.BROKEN_AFTER)


def test_a_sync_that_fails_less_often_than_the_limit_breaks_nothing(
    db: Session, radicale_server: DavServer, two_failures_break: None
) -> None:
    assert calendar_health.broken_after() == 2
    tenant = dav_tenant(db, radicale_server)
    person, path = dav_person(db, radicale_server, tenant)
    auth = (radicale_server.username, radicale_server.password)
    requests.delete(radicale_server.base_url + path, auth=auth)
    assert calendar_jobs.sync_tenant(tenant.id, session=db).broken == []
    requests.request("MKCALENDAR", radicale_server.base_url + path, auth=auth)
    assert calendar_jobs.sync_tenant(tenant.id, session=db).errors == []  # a success resets the count
    requests.delete(radicale_server.base_url + path, auth=auth)
    assert calendar_jobs.sync_tenant(tenant.id, session=db).broken == []
    assert (account(db, person).health, account(db, person).failed_syncs) == (ConnectionHealth.OK, 1)
    assert calendar_notes(db, person) == []


# --- who sees what -----------------------------------------------------------------------------------


def test_availability_names_the_person_whose_connection_is_broken_and_skips_their_calendar(
    client: Any, db: Session, radicale_server: DavServer
) -> None:
    make_program(db)
    tenant = dav_tenant(db, radicale_server)
    mentor, _path = dav_person(db, radicale_server, tenant, name="Maya Broken",
                               weekly=[(2, "09:00", "11:00")])
    mentee = make_mentee(db, time_zone="UTC")
    login(client, mentee)

    fine = client.get(f"/api/v1/mentors/{mentor.id}/availability{WINDOW}").get_json()
    assert (fine["calendars_broken"], fine["note"]) == ([], None)

    calendar_health.mark_broken(db, account(db, mentor), "The calendar service refused our access.")
    db.commit()
    body = client.get(f"/api/v1/mentors/{mentor.id}/availability{WINDOW}").get_json()
    assert body["calendars_broken"] == [{"person_id": mentor.id, "name": "Maya Broken"}]
    assert body["calendars_unread"] is False
    assert body["note"].startswith("Maya Broken's calendar connection is broken")
    ranked = client.get(f"/api/v1/mentors/free{WINDOW}").get_json()
    assert ranked["calendars_broken"] == [{"person_id": mentor.id, "name": "Maya Broken"}]
    page = unescape(client.get(f"/mentors/{mentor.id}").get_data(as_text=True))
    assert "Maya Broken's calendar connection is broken, so their calendar was not read" in page


def test_my_calendar_shows_the_banner_until_a_connection_test_gets_through(
    client: Any, db: Session, radicale_server: DavServer
) -> None:
    make_program(db)
    tenant = dav_tenant(db, radicale_server)
    person, _path = dav_person(db, radicale_server, tenant)
    login(client, person)
    assert BROKEN_TITLE not in client.get("/calendar").get_data(as_text=True)

    calendar_health.mark_broken(db, account(db, person), "Access to the calendar is no longer granted.",
                                now=datetime(2030, 1, 7, 9, 0, tzinfo=UTC))
    db.commit()
    page = unescape(client.get("/calendar").get_data(as_text=True))
    assert BROKEN_TITLE in page and "Access to the calendar is no longer granted." in page
    assert "Mon 7 Jan 2030, 09:00 UTC" in page  # in the person's own zone

    tested = unescape(client.post("/calendar/test").get_data(as_text=True))
    assert "The connection works: the credentials were accepted" in tested and BROKEN_TITLE not in tested
    assert account(db, person).health == ConnectionHealth.OK


def test_admins_see_broken_connections_with_the_last_successful_sync(
    client: Any, db: Session, radicale_server: DavServer
) -> None:
    make_program(db)
    tenant = dav_tenant(db, radicale_server)
    broken, _ = dav_person(db, radicale_server, tenant, name="Bea Broken", email="bea@example.com")
    fine, _ = dav_person(db, radicale_server, tenant, name="Fin Fine")
    calendar_jobs.sync_tenant(tenant.id, session=db)
    calendar_health.mark_broken(db, account(db, broken), "The calendar could not be read: NotFound.")
    db.commit()
    login(client, make_admin(db))

    page = unescape(client.get("/admin/tenants").get_data(as_text=True))
    assert "1 broken:" in page
    assert "Bea Broken <bea@example.com> since" in page
    assert "The calendar could not be read: NotFound." in page
    assert "Fin Fine" not in page and "(last successful sync: " in page and "Last successful: " in page

    api = client.get(f"/api/v1/tenants/{tenant.id}").get_json()
    described = api.get("tenant", api)
    assert [a["person_id"] for a in described["broken_accounts"]] == [broken.id]
    assert described["broken_accounts"][0]["health"] == "broken"
    assert described["broken_accounts"][0]["last_ok_at"] is not None
    assert described["last_ok_sync_at"] is not None
    assert fine.id not in [a["person_id"] for a in described["broken_accounts"]]
