"""A CalDAV server that asks for no sign-in (Radicale with ``--auth-type none``): a tenant with
``"auth": "none"`` needs no shared account and no per-person credentials (no dummy ones either),
and reading busy time, testing the connection, writing both people's events and change detection
all work against it. Credentials given for such a server are refused with a clear message."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import requests
from lxml import etree
from sqlalchemy.orm import Session

from calendars.base import BusyInterval
from scheduling import tenants
from scheduling.errors import ValidationFailed
from scheduling.models import CalendarAccount, CalendarTenant, Person
from tests.factories import count_rows, login, make_admin, make_mentee, make_mentor, make_program
from tests.fakes.dav_servers import DavServer, radicale
from tests.test_calendar_jobs import make_meeting
from worker import calendar_jobs

START = datetime(2030, 1, 9, 10, 0, tzinfo=UTC)
FAST = {"retry": {"max_attempts": 2, "base_delay": 0.0}}


@pytest.fixture(scope="module")
def open_dav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    """Radicale without authentication: anyone who reaches it reads and writes every calendar."""
    with radicale(Path(tmp_path_factory.mktemp("radicale-open")), auth=False) as server:
        yield server


def open_tenant(db: Session, server: DavServer) -> CalendarTenant:
    return tenants.create_tenant(db, name=f"Open DAV {uuid.uuid4().hex[:6]}", provider="caldav",
                                 config={"url": server.base_url, "auth": "none", **FAST})


def calendar_of(db: Session, server: DavServer, tenant: CalendarTenant, person: Person) -> str:
    """A fresh calendar (no credentials anywhere), connected for ``person``; its URL."""
    home = f"team-{uuid.uuid4().hex[:8]}/"
    assert requests.request("MKCOL", server.base_url + home).status_code == 201
    path = home + "calendar/"
    assert requests.request("MKCALENDAR", server.base_url + path).status_code == 201
    tenants.connect_account(db, person=person, tenant=tenant, external_id=path)
    return server.base_url + path


def put_event(url: str, start: datetime, end: datetime) -> None:
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//test//EN")
    cal.add("VERSION", "2.0")
    event = icalendar.Event()
    event.add("UID", str(uuid.uuid4()))
    event.add("DTSTAMP", start)
    event.add("DTSTART", start)
    event.add("DTEND", end)
    event.add("SUMMARY", "dentist")
    cal.add_component(event)
    put = requests.put(url + f"{uuid.uuid4().hex}.ics", data=cal.to_ical(),
                       headers={"Content-Type": "text/calendar"})
    assert put.status_code == 201


def events_in(url: str) -> list[Any]:
    """Every VEVENT stored in the calendar at ``url`` (read without credentials)."""
    body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
    listing = requests.request("PROPFIND", url, data=body, headers={"Depth": "1"})
    hrefs = [h.text or "" for h in etree.fromstring(listing.content).iter("{DAV:}href")]
    root = "/".join(url.split("/", 3)[:3])
    found = []
    for href in (h for h in hrefs if h.endswith(".ics")):
        found.extend(icalendar.Calendar.from_ical(requests.get(root + href).content).walk("VEVENT"))
    return found


def test_a_server_without_authentication_works_with_no_credentials_at_all(
    db: Session, open_dav: DavServer
) -> None:
    tenant = open_tenant(db, open_dav)
    mentor, mentee = make_mentor(db), make_mentee(db)
    mentor_url = calendar_of(db, open_dav, tenant, mentor)
    mentee_url = calendar_of(db, open_dav, tenant, mentee)
    account = tenants.account_of(db, mentor)
    assert account is not None and (account.username, account.secret) == ("", None)

    check = tenants.test_connection(db, tenant, person=mentor)
    assert check.ok, check.message

    put_event(mentor_url, START, START + timedelta(hours=1))
    window = (START - timedelta(hours=1), START + timedelta(hours=3))
    busy = tenants.TenantBusySource(db).busy([mentor, mentee], *window)
    assert busy == {mentor.id: [BusyInterval(START, START + timedelta(hours=1))], mentee.id: []}

    meeting = make_meeting(db, mentor, mentee, START + timedelta(hours=2))
    written = calendar_jobs.write_meeting_events(meeting.id, session=db)
    assert sorted(written.created) == sorted([mentor.id, mentee.id])
    assert [str(e["UID"]) for e in events_in(mentee_url)] == [meeting.uid]  # the attendee's own copy
    assert meeting.uid in [str(e["UID"]) for e in events_in(mentor_url)]
    assert calendar_jobs.sync_tenant(tenant.id, session=db).errors == []


def test_credentials_for_a_server_without_authentication_are_refused_and_change_nothing(
    db: Session, open_dav: DavServer
) -> None:
    with pytest.raises(ValidationFailed) as shared:
        tenants.create_tenant(db, name="Open with user", provider="caldav", secret="pw",
                              config={"url": open_dav.base_url, "auth": "none", "username": "svc"})
    assert shared.value.field == "username"
    with pytest.raises(ValidationFailed) as unknown:
        tenants.create_tenant(db, name="Digest", provider="caldav",
                              config={"url": open_dav.base_url, "auth": "digest"})
    assert unknown.value.field == "auth"
    db.rollback()
    tenant = open_tenant(db, open_dav)
    person = make_mentee(db)
    with pytest.raises(ValidationFailed) as given:
        tenants.connect_account(db, person=person, tenant=tenant, external_id="team/calendar/",
                                username="me", secret="secret")
    assert given.value.field == "username" and "asks for no sign-in" in given.value.message
    db.rollback()
    assert count_rows(db, CalendarAccount) == {"CalendarAccount": 0}
    assert count_rows(db, CalendarTenant) == {"CalendarTenant": 1}


def test_a_server_with_authentication_still_needs_credentials(db: Session, open_dav: DavServer) -> None:
    tenant = tenants.create_tenant(db, name="Closed", provider="caldav", config={"url": open_dav.base_url})
    with pytest.raises(ValidationFailed) as missing:
        tenants.connect_account(db, person=make_mentee(db), tenant=tenant, external_id="team/calendar/")
    assert missing.value.field == "username"


def test_the_admin_connects_a_server_without_sign_in_from_its_own_form(
    client: Any, db: Session, open_dav: DavServer
) -> None:
    make_program(db)
    login(client, make_admin(db))
    page = client.get("/admin/tenants").get_data(as_text=True)
    assert "CalDAV without sign-in" in page and 'id="caldav_open-secret"' not in page

    made = client.post("/admin/tenants", data={"provider": "caldav_open", "name": "Team DAV",
                                               "url": open_dav.base_url})
    assert made.status_code == 303
    db.expire_all()
    tenant = db.query(CalendarTenant).filter_by(name="Team DAV").one()
    assert (tenant.provider.value, tenant.config, tenant.secret) == (
        "caldav", {"url": open_dav.base_url, "auth": "none"}, None)
    tested = client.post(f"/admin/tenants/{tenant.id}/test", follow_redirects=True).get_data(as_text=True)
    assert "The connection works: the credentials were accepted" in tested
