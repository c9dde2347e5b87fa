"""Connect with Google (per-user OAuth) through the real pages, against loopback fakes of Google's
authorization server (tests/fakes/oauth_server.py) and Calendar API (tests/fakes/google_server.py).

The Flask test client plays the browser: it follows the redirect to the fake authorization
endpoint by hand (a real HTTP request), then takes the fake's redirect back to the callback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import text

from calendars import google as google_connector
from calendars.google_oauth import CALENDAR_SCOPE
from scheduling import tenants
from scheduling.errors import ValidationFailed
from scheduling.models import CalendarAccount, Person
from tests.factories import at, count_rows, login, make_mentor, make_program
from tests.fakes.google_server import GoogleFake, google_server
from tests.fakes.oauth_server import OAuthFake, oauth_server

BASE_URL = "https://mentoring.example.com"
CALLBACK = BASE_URL + "/calendar/oauth/callback"
CLIENT_ID, CLIENT_SECRET = "flash-client.apps.googleusercontent.com", "client-secret-xyz"


def html(resp: Any) -> str:
    return resp.get_data(as_text=True)


def alert(page: str) -> str:
    found = re.search(r'role="alert"[^>]*>([^<]*)<', page)
    assert found, "no error shown"
    return unescape(found.group(1))


@pytest.fixture
def google() -> Iterator[GoogleFake]:
    with google_server() as fake:
        yield fake


@pytest.fixture
def provider(google: GoogleFake) -> Iterator[OAuthFake]:
    """Google's authorization server; the access tokens it issues are the ones the Calendar API takes."""
    with oauth_server(OAuthFake(tokens=google.tokens)) as fake:
        fake.register(CLIENT_ID, CLIENT_SECRET, CALLBACK)
        yield fake


@pytest.fixture
def web(app: Any) -> Any:
    app.config["BASE_URL"] = BASE_URL
    return app.test_client()


def make_tenant(db: Any, provider: OAuthFake, google: GoogleFake, **config: Any) -> Any:
    settings = {"domain": "example.com", "auth": "oauth", "client_id": CLIENT_ID,
                "auth_uri": provider.auth_uri, "token_uri": provider.token_uri,
                "api_endpoint": google.api_endpoint, "retry": {"max_attempts": 1}, **config}
    return tenants.create_tenant(db, name="Acme Google", provider="google", config=settings,
                                 secret=CLIENT_SECRET)


def start(web: Any, tenant: Any) -> str:
    """Press "Connect with Google": the address the browser is sent to."""
    resp = web.post("/calendar/oauth/start", data={"tenant_id": str(tenant.id)})
    assert resp.status_code == 302, html(resp)
    return str(resp.headers["Location"])


def consent(location: str) -> dict[str, str]:
    """The browser at the (fake) authorization endpoint: where it is sent back to, as query values."""
    answer = requests.get(location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def callback(web: Any, params: dict[str, str]) -> Any:
    return web.get("/calendar/oauth/callback", query_string=params)


def accounts(db: Any) -> int:
    return count_rows(db, CalendarAccount)["CalendarAccount"]


@pytest.fixture
def mentor(db: Any) -> Person:
    make_program(db)
    return make_mentor(db, email="grace@example.com")


def test_connect_with_google_stores_the_refresh_token_encrypted_and_busy_time_works(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    google.store.add_calendar(mentor.email)
    tenant = make_tenant(db, provider, google)
    login(web, mentor)
    page = html(web.get("/calendar"))
    assert "Connect with Google" in page
    assert f'<option value="{tenant.id}"' not in page  # no pasting refresh tokens

    location = start(web, tenant)
    sent = urlsplit(location)
    assert f"{sent.scheme}://{sent.netloc}{sent.path}" == provider.auth_uri
    query = {k: v[0] for k, v in parse_qs(sent.query).items()}
    assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == CALLBACK
    assert query["response_type"] == "code" and query["scope"] == CALENDAR_SCOPE
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 32
    assert query["login_hint"] == mentor.email
    assert "code_verifier" not in query and CLIENT_SECRET not in location

    answer = consent(location)
    assert answer["state"] == query["state"]
    resp = callback(web, answer)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/calendar")

    [refresh] = provider.refresh_tokens
    exchange = provider.token_requests[0]
    assert exchange["grant_type"] == "authorization_code" and exchange["redirect_uri"] == CALLBACK
    assert exchange["code_verifier"]  # checked against the challenge by the fake
    db.expire_all()
    account = tenants.account_of(db, mentor)
    assert account is not None and account.tenant_id == tenant.id
    assert account.external_id == mentor.email and account.secret == refresh
    raw = db.execute(text("SELECT secret FROM calendar_accounts WHERE id = :id"), {"id": account.id}).scalar()
    assert raw and refresh not in raw

    page = html(web.get("/calendar"))
    assert "Calendar connected with Google. The connection works: the credentials were accepted and the " \
           f"calendar of {mentor.email} was read." in page
    assert "Google access granted" in page and "Reconnect with Google" in page
    assert refresh not in page
    assert refresh not in caplog.text and exchange["code"] not in caplog.text

    # the stored grant is what the connector reads busy time with (refresh at token_uri, then the API)
    start_at = at("2030-01-07", "10:00")
    google.seed(mentor.email, start=start_at, end=start_at + timedelta(hours=1), summary="Dentist")
    window = (start_at - timedelta(hours=2), start_at + timedelta(hours=4))
    busy = tenants.TenantBusySource(db).busy([mentor], *window)
    assert [(b.start, b.end) for b in busy[mentor.id]] == [(start_at, start_at + timedelta(hours=1))]
    refreshes = [r for r in provider.token_requests if r["grant_type"] == "refresh_token"]
    assert refreshes and refreshes[-1]["scope"] == CALENDAR_SCOPE

    # the answer cannot be replayed: the pending grant was used
    again = callback(web, answer)
    assert again.status_code == 400 and "does not match" in alert(html(again))


def test_an_answer_with_another_state_is_refused_and_stores_nothing(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)
    login(web, mentor)
    answer = consent(start(web, tenant))
    forged = callback(web, {**answer, "state": "attacker-chosen-state"})
    assert forged.status_code == 400
    assert "state does not match" in alert(html(forged)) and "Nothing was stored" in alert(html(forged))
    missing = callback(web, {"code": answer["code"]})
    assert missing.status_code == 400
    assert accounts(db) == 0 and provider.token_requests == []  # the code was never even exchanged
    # a forged answer does not spoil the person's own attempt
    assert callback(web, answer).status_code == 302
    assert accounts(db) == 1


def test_an_answer_without_a_pending_grant_in_this_session_is_refused(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)
    login(web, mentor)
    answer = consent(start(web, tenant))
    with web.session_transaction() as s:
        s.pop("calendar_oauth")
    resp = callback(web, answer)
    assert resp.status_code == 400 and "started in this browser session" in alert(html(resp))
    assert accounts(db) == 0


def test_a_code_injected_into_another_session_fails_pkce(
    app: Any, web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    """An attacker's stolen code delivered to the victim's callback with the victim's own state:
    the victim's PKCE verifier does not match the code's challenge, so the exchange is refused."""
    tenant = make_tenant(db, provider, google)
    login(web, mentor)
    victim = consent(start(web, tenant))
    other = app.test_client()
    login(other, mentor)
    stolen = consent(start(other, tenant))
    resp = callback(web, {**victim, "code": stolen["code"]})
    assert resp.status_code == 400
    assert "authorization code was refused" in alert(html(resp))
    assert accounts(db) == 0


def test_access_denied_is_explained_and_stores_nothing(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)
    provider.consent = "deny"
    login(web, mentor)
    answer = consent(start(web, tenant))
    assert answer["error"] == "access_denied" and "code" not in answer
    resp = callback(web, answer)
    assert resp.status_code == 403
    assert "You did not allow access to your Google Calendar" in alert(html(resp))
    assert accounts(db) == 0 and provider.token_requests == []
    assert "Connect with Google" in html(resp)  # they can try again from the same page


def test_token_endpoint_invalid_grant_is_shown_clearly(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)
    login(web, mentor)
    answer = consent(start(web, tenant))
    provider.token_error = (400, "invalid_grant", "Bad Request")
    resp = callback(web, answer)
    assert resp.status_code == 400
    message = alert(html(resp))
    assert "authorization code was refused" in message and "Bad Request" in message
    assert "Nothing was stored" in message
    assert accounts(db) == 0


def test_a_wrong_client_secret_is_blamed_on_the_setup(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)
    tenants.update_tenant(db, tenant, secret="not-the-secret")
    login(web, mentor)
    resp = callback(web, consent(start(web, tenant)))
    assert resp.status_code == 400 and "tell a program admin" in alert(html(resp))
    assert accounts(db) == 0


def test_no_refresh_token_or_no_calendar_scope_is_refused(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)
    login(web, mentor)
    provider.issue_refresh_token = False
    resp = callback(web, consent(start(web, tenant)))
    assert resp.status_code == 400 and "sent no refresh token" in alert(html(resp))
    provider.issue_refresh_token = True
    provider.granted_scope = "openid email"  # the person unticked the calendar permission
    resp = callback(web, consent(start(web, tenant)))
    assert resp.status_code == 400 and "did not allow access to your calendars" in alert(html(resp))
    assert accounts(db) == 0


def test_unreachable_token_endpoint_is_a_502(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/token"
    tenant = make_tenant(db, provider, google, token_uri=closed)
    login(web, mentor)
    resp = callback(web, consent(start(web, tenant)))
    assert resp.status_code == 502 and "could not be reached" in alert(html(resp))
    assert accounts(db) == 0


def test_failed_connection_test_keeps_the_grant_and_says_why(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)  # the fake Calendar API has no calendar for them
    login(web, mentor)
    resp = callback(web, consent(start(web, tenant)))
    assert resp.status_code == 302
    page = html(web.get("/calendar"))
    assert "connection test failed" in alert(page) and "not found" in alert(page).lower()
    assert accounts(db) == 1


def test_start_refuses_insecure_endpoints_other_domains_and_other_tenants(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    with pytest.raises(ValidationFailed) as refused:  # the admin cannot save such a tenant...
        make_tenant(db, provider, google, auth_uri="http://accounts.example.net/o/oauth2/auth")
    assert refused.value.field == "auth_uri"
    insecure = make_tenant(db, provider, google)
    # ...and one stored before that check (or edited in the database) is still refused here.
    insecure.config = {**insecure.config, "auth_uri": "http://accounts.example.net/o/oauth2/auth"}
    db.commit()
    login(web, mentor)
    resp = web.post("/calendar/oauth/start", data={"tenant_id": str(insecure.id)})
    assert resp.status_code == 422 and "auth_uri must be an https URL" in alert(html(resp))
    tenants.update_tenant(db, insecure, config={"auth_uri": provider.auth_uri, "domain": "other.org"})
    resp = web.post("/calendar/oauth/start", data={"tenant_id": str(insecure.id)})
    assert resp.status_code == 422 and "not in Acme Google's domain other.org" in alert(html(resp))
    caldav = tenants.create_tenant(db, name="DAV", provider="caldav", config={"url": "https://dav.example.com/"})
    resp = web.post("/calendar/oauth/start", data={"tenant_id": str(caldav.id)})
    assert resp.status_code == 422 and "does not use Connect with Google" in alert(html(resp))
    with web.session_transaction() as s:
        assert "calendar_oauth" not in s
    assert provider.authorize_requests == []


def test_the_paste_form_refuses_a_per_user_oauth_tenant(
    web: Any, db: Any, provider: OAuthFake, google: GoogleFake, mentor: Person
) -> None:
    tenant = make_tenant(db, provider, google)
    login(web, mentor)
    resp = web.post("/calendar", data={"tenant_id": str(tenant.id), "secret": "1//pasted"})
    assert resp.status_code == 422 and 'connects with the "Connect with Google" button' in alert(html(resp))
    assert accounts(db) == 0


def test_visitors_are_sent_to_sign_in(web: Any, db: Any) -> None:
    resp = web.get("/calendar/oauth/callback?code=x&state=y")
    assert resp.status_code == 302 and "/signin" in resp.headers["Location"]
    assert web.post("/calendar/oauth/start", data={"tenant_id": "1"}).status_code == 302


def test_the_scope_asked_for_is_the_one_the_connector_refreshes_with() -> None:
    assert [CALENDAR_SCOPE] == google_connector.SCOPES
