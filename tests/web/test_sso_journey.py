"""Single sign-on, clicked through in headless Chromium against a real OpenID Provider on loopback.

An admin adds the organization's identity provider on the admin "Sign-in" page (the app checks
the issuer's discovery document before saving it); then someone the program has never heard of
signs in through it: the app's email routing, the provider's own sign-in page, the code flow
with PKCE back to the app, an account made just in time, the first-sign-in profile (time zone
pre-filled from the browser) and Home with the mentor who offers what they want to learn.
axe-core checks each page of the journey. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import IdentityProvider, Person, PersonIdentity, SkillRelation
from scheduling.services.people import set_skills
from tests.factories import PASSWORD, make_admin, make_mentor, make_program
from tests.oidc_provider import OpenIDProvider, start
from tests.web.axe_check import assert_accessible
from tests.web.conftest import DESKTOP, shot, sign_in

pytestmark = pytest.mark.browser

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]
NEWCOMER = {"nora": {"email": "Nora.North@example.com", "email_verified": True, "name": "Nora North",
                     "department": "Finance"}}


@pytest.fixture
def op(live_app: Any, live_server: str) -> Iterator[OpenIDProvider]:
    """The provider, with the app's callback as it builds it from ``BASE_URL`` (the live server's)."""
    live_app.config["BASE_URL"] = live_server
    yield from start(f"{live_server}/signin/oidc/callback", f"{live_server}/signin", NEWCOMER)


def admin_adds_the_identity_provider(page: Any, base: str, op: OpenIDProvider) -> None:
    page.goto(f"{base}/admin/settings")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Sign-in").click()
    expect(page.get_by_role("heading", name="Single sign-on and provisioning")).to_be_visible()
    expect(page.get_by_text(f"{base}/signin/oidc/callback")).to_be_visible()  # what IT registers
    assert_accessible(page)
    page.get_by_label("Kind").select_option(label="Other OpenID Connect provider")
    page.get_by_label("Name", exact=True).fill("Example Corp")
    page.get_by_label("Issuer URL").fill(op.issuer)
    page.get_by_label("Client (application) ID").fill(op.client_id)
    page.get_by_label("Email domains").fill("example.com")
    page.get_by_label("Client secret").fill(op.client_secret)
    page.get_by_label("name from claim").fill("name")
    page.get_by_label("department from claim").fill("department")
    page.get_by_label("Create an account at first sign-in").check()
    page.get_by_role("button", name="Add identity provider").click()
    expect(page.get_by_text("Identity provider 'Example Corp' added.")).to_be_visible()
    row = page.locator("table.providers tbody tr").first
    expect(row).to_contain_text(op.issuer)
    expect(row).to_contain_text("created at first sign-in")
    expect(row).not_to_contain_text(op.client_secret)
    shot(page, "sso-admin-provider-added")
    assert_accessible(page)
    page.get_by_role("link", name="Change Example Corp").click()  # where a new client secret goes
    expect(page.get_by_role("heading", name="Change Example Corp")).to_be_visible()
    expect(page.get_by_label("Email domains")).to_have_value("example.com")
    assert_accessible(page)
    page.get_by_role("link", name="Back").click()


def newcomer_signs_in_through_the_provider(page: Any, base: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_role("link", name="Sign in with your organization").click()
    expect(page.get_by_role("heading", name="Sign in with your organization")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Work email").fill("nora.north@example.com")
    page.get_by_role("button", name="Continue").click()
    # At the provider's own page: the app sent the browser there with code + PKCE.
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Account").fill("nora")
    page.get_by_role("button", name="Sign in at the provider").click()


def newcomer_fills_the_first_sign_in_profile(page: Any) -> None:
    expect(page).to_have_url(re.compile(r"/welcome$"))
    expect(page.get_by_role("heading", name="Welcome, Nora North")).to_be_visible()
    expect(page.get_by_label("Your time zone")).to_have_value("America/Chicago")  # from the browser
    shot(page, "sso-welcome")
    assert_accessible(page)
    wants = page.get_by_role("group", name="Skills you want to learn")
    wants.get_by_label("A skill you want to learn (1)").fill("Python")
    page.get_by_role("button", name="Save and continue").click()


def test_admin_adds_a_provider_and_a_new_person_signs_in_through_it(
        browser: Any, live_server: str, op: OpenIDProvider, db: Session) -> None:
    make_program(db, name="Flash mentoring", lead_time_hours=24)
    admin = make_admin(db, name="Ida Admin", email="ida@example.org")
    grace = make_mentor(db, name="Grace Hopper", email="grace@example.com", weekly=EVERY_DAY)
    alan = make_mentor(db, name="Alan Turing", email="alan@example.com", weekly=EVERY_DAY)
    set_skills(db, grace, {"offers": ["Python"]})
    set_skills(db, alan, {"offers": ["Cryptography"]})

    admin_ctx = browser.new_context(viewport=DESKTOP)
    admin_ctx.set_default_timeout(10_000)
    try:
        page = admin_ctx.new_page()
        sign_in(page, live_server, admin.email, PASSWORD)
        admin_adds_the_identity_provider(page, live_server, op)
    finally:
        admin_ctx.close()
    provider = db.scalar(select(IdentityProvider))
    assert provider is not None and provider.jit_create and provider.domains == ["example.com"]
    assert db.scalar(select(Person).where(Person.email == "nora.north@example.com")) is None

    ctx = browser.new_context(viewport=DESKTOP, timezone_id="America/Chicago")
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        newcomer_signs_in_through_the_provider(page, live_server)
        newcomer_fills_the_first_sign_in_profile(page)

        expect(page).to_have_url(re.compile(r"/home$"))
        expect(page.get_by_text("Welcome! Here is where to start.")).to_be_visible()
        expect(page.get_by_role("heading", name="Mentors recommended for you")).to_be_visible()
        expect(page.locator("article.card.mentor h3").first).to_have_text(grace.name)
        shot(page, "sso-home")
        assert_accessible(page)
    finally:
        ctx.close()

    db.expire_all()
    nora = db.scalar(select(Person).where(Person.email == "nora.north@example.com"))
    assert nora is not None
    assert (nora.name, nora.department, nora.time_zone) == ("Nora North", "Finance", "America/Chicago")
    assert nora.roles == ["mentee"] and nora.password_hash is None and not nora.needs_profile
    assert nora.skill_names(SkillRelation.WANTS) == ["Python"]
    link = db.scalar(select(PersonIdentity).where(PersonIdentity.person_id == nora.id))
    assert link is not None and link.provider_id == provider.id and link.subject == "nora"
