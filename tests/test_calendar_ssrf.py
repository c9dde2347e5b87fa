"""A person's CalDAV calendar can only name a calendar inside the tenant's server: no request,
and so no shared password, ever goes to another host (issue 13, security).

A loopback "capture" server stands for an internal host: every test asserts it received
nothing. The tenant's real server is Radicale; a redirecting server stands for a CalDAV
server that answers with a redirect to that internal host.
"""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from calendars.caldav_provider import OutsideServer, url_inside
from scheduling import tenants
from scheduling.errors import ValidationFailed
from scheduling.models import CalendarAccount
from tests.factories import count_rows, login, make_mentee, make_program
from tests.fakes.dav_servers import DavServer
from tests.serving import running

FAST = {"retry": {"max_attempts": 1}}


@dataclass
class Loopback:
    """A tiny HTTP server: records every request; answers 207, or 301 to ``redirect_to``."""

    redirect_to: str = ""
    hits: list[tuple[str, str, str]] = field(default_factory=list)
    url: str = ""


@contextmanager
def serve(state: Loopback) -> Iterator[Loopback]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.hits.append((self.command, self.path, self.headers.get("Authorization") or ""))
            if state.redirect_to:
                self.send_response(301)
                self.send_header("Location", state.redirect_to + self.path.lstrip("/"))
            else:
                self.send_response(207)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_PROPFIND = do_REPORT = do_OPTIONS = do_DELETE = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/"
    with running(server, "ssrf-target"):
        yield state


@pytest.fixture
def capture() -> Iterator[Loopback]:
    with serve(Loopback()) as server:
        yield server


def dav_tenant(db: Session, url: str, server: DavServer) -> Any:
    return tenants.create_tenant(db, name=f"DAV {url}", provider="caldav",
                                 config={"url": url, "username": server.username, **FAST},
                                 secret=server.password)


def outside(capture: Loopback) -> list[str]:
    host = capture.url.removeprefix("http://")
    return [
        capture.url + "x/",  # an absolute URL to another host
        "//" + host + "x/",  # scheme-relative
        "HTTP://" + host,  # any case of scheme
        "../../x/",  # climbing out of the base path
        "alice/../../x/",
        "%2e%2e/%2E%2E/x/",  # the same, percent-encoded
        "alice\\..\\x/",
        "alice/cal/?x=1",
    ]


def test_connect_refuses_every_address_outside_the_tenant(
    db: Session, radicale_server: DavServer, capture: Loopback
) -> None:
    tenant = dav_tenant(db, radicale_server.base_url + "dav/", radicale_server)
    person = make_mentee(db)
    for external in outside(capture):
        with pytest.raises(ValidationFailed) as info:
            tenants.connect_account(db, person=person, tenant=tenant, external_id=external)
        assert info.value.field == "external_id", external
        db.rollback()
    assert count_rows(db, CalendarAccount)["CalendarAccount"] == 0
    # inside the base path, relative or absolute-path: fine
    tenants.connect_account(db, person=person, tenant=tenant, external_id="alice/cal/")
    tenants.connect_account(db, person=person, tenant=tenant, external_id="/dav/alice/cal/")
    assert capture.hits == []


def test_the_calendar_page_refuses_an_absolute_url_and_sends_nothing(
    client: Any, db: Session, radicale_server: DavServer, capture: Loopback
) -> None:
    make_program(db)
    tenant = dav_tenant(db, radicale_server.base_url, radicale_server)
    mentee = make_mentee(db)
    login(client, mentee)
    resp = client.post("/calendar", data={"tenant_id": str(tenant.id), "external_id": capture.url + "x/",
                                          "username": ""})
    assert resp.status_code == 422
    assert "not a full URL" in resp.get_data(as_text=True)
    assert tenants.account_of(db, mentee) is None
    resp = client.post("/calendar/test")
    assert resp.status_code == 422  # nothing connected, nothing to test
    assert capture.hits == []


def test_a_stored_address_outside_the_server_is_never_called(
    db: Session, radicale_server: DavServer, capture: Loopback
) -> None:
    """Accounts stored before the rule (or written around it) are refused by the connector."""
    tenant = dav_tenant(db, radicale_server.base_url, radicale_server)
    mentee = make_mentee(db)
    account = tenants.connect_account(db, person=mentee, tenant=tenant, external_id="alice/cal/")
    db.execute(update(CalendarAccount).where(CalendarAccount.id == account.id)
               .values(external_id=capture.url + "x/"))
    db.commit()
    db.expire_all()
    check = tenants.test_connection(db, tenant, person=mentee)
    assert not check.ok and "inside the server" in check.message
    connector = tenants.connector_for(tenant)
    identity = tenants.identity_for(tenants.account_of(db, mentee), mentee)  # type: ignore[arg-type]
    with pytest.raises(OutsideServer):
        connector.changes(identity, None)
    assert capture.hits == []


def test_redirects_are_not_followed(db: Session, radicale_server: DavServer, capture: Loopback) -> None:
    with serve(Loopback(redirect_to=capture.url)) as redirector:
        tenant = dav_tenant(db, redirector.url, radicale_server)
        mentee = make_mentee(db)
        tenants.connect_account(db, person=mentee, tenant=tenant, external_id="alice/cal/")
        check = tenants.test_connection(db, tenant, person=mentee)
        assert redirector.hits, "the tenant's server was asked"
    assert not check.ok and "redirect" in check.message
    assert capture.hits == []


@pytest.mark.parametrize(("base", "external", "expected"), [
    ("http://h/dav/", "alice/cal", "http://h/dav/alice/cal/"),
    ("http://h/dav", "/dav/alice/cal/", "http://h/dav/alice/cal/"),
    ("http://h/dav/", "http://h/dav/alice/cal/", "http://h/dav/alice/cal/"),  # stored, inside
])
def test_addresses_inside_the_base_resolve(base: str, external: str, expected: str) -> None:
    assert url_inside(base, external) == expected


@pytest.mark.parametrize("external", [
    "http://h:81/dav/x/", "https://h/dav/x/", "http://other/dav/x/", "http://h/davx/", "/other/",
    "http://u@h/dav/x/",
])
def test_addresses_outside_the_base_are_refused(external: str) -> None:
    with pytest.raises(OutsideServer):
        url_inside("http://h/dav/", external)
