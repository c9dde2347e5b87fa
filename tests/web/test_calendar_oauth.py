"""Connect with Google in headless Chromium: the mentor presses the button, the (fake) Google
authorization server consents and sends the browser back, and the mentor lands on /calendar
connected, with the connection test run against the fake Calendar API."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from scheduling import tenants
from tests.factories import PASSWORD, make_mentor, make_program
from tests.fakes.google_server import google_server
from tests.fakes.oauth_server import OAuthFake, oauth_server
from tests.web.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_mentor_connects_google_calendar(page: Any, live_app: Any, live_server: str, db: Session) -> None:
    make_program(db)
    mentor = make_mentor(db, name="Grace Hopper", email="grace@example.com")
    live_app.config["BASE_URL"] = live_server
    with google_server() as google, oauth_server(OAuthFake(tokens=google.tokens)) as provider:
        google.store.add_calendar(mentor.email)
        provider.register("client-1", "client-secret", f"{live_server}/calendar/oauth/callback")
        tenants.create_tenant(
            db, name="Acme Workspace", provider="google", secret="client-secret",
            config={"domain": "example.com", "auth": "oauth", "client_id": "client-1",
                    "auth_uri": provider.auth_uri, "token_uri": provider.token_uri,
                    "api_endpoint": google.api_endpoint},
        )
        sign_in(page, live_server, mentor.email, PASSWORD)
        page.goto(f"{live_server}/calendar")
        shot(page, "calendar-connect-with-google")
        page.get_by_role("button", name="Connect with Google").click()
        # the page was /calendar before the click too, so wait for what the return trip shows
        expect(page.get_by_role("status").first).to_contain_text("Calendar connected with Google")
        expect(page.get_by_role("heading", name="Connected")).to_be_visible()
        expect(page).to_have_url(f"{live_server}/calendar")
        assert "Google access granted" in page.content()
        assert provider.authorize_requests and provider.authorize_requests[0]["login_hint"] == mentor.email
        [refresh] = provider.refresh_tokens
        assert refresh not in page.content()
        shot(page, "calendar-connected-with-google")
