"""Browser journey (headless Chromium, CSRF on, axe-core on every page): the admin adds a "Language"
profile field that is a directory filter, a mentor answers it on their profile, and a mentee narrows
the directory by it and reads the answer on the card. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.factories import PASSWORD, make_admin, make_mentee, make_mentor, make_program
from tests.web.axe_check import assert_accessible
from tests.web.conftest import new_page, shot, sign_in

pytestmark = pytest.mark.browser


def test_admin_adds_a_filter_field_a_mentor_answers_and_a_mentee_filters_by_it(
    browser: Any, live_server: str, db: Session
) -> None:
    make_program(db)
    admin = make_admin(db, email="admin@example.com")
    mentor = make_mentor(db, name="Greta German", email="greta@example.com")
    make_mentor(db, name="Hari Hindi", email="hari@example.com")
    mentee = make_mentee(db, name="Mia Mentee", email="mia@example.com")

    page = new_page(browser)
    try:
        sign_in(page, live_server, admin.email, PASSWORD)
        page.goto(f"{live_server}/admin/settings")
        page.get_by_role("navigation", name="Admin").get_by_role("link", name="Profile fields").click()
        expect(page.get_by_role("heading", name="Profile fields", exact=True)).to_be_visible()
        page.get_by_label("Label").fill("Language")
        page.get_by_label("Answers to pick from").fill("English\nGerman\nHindi")
        page.get_by_label("Directory filter").check()
        page.get_by_role("button", name="Add field").click()
        expect(page.get_by_text("Field “Language” added.")).to_be_visible()
        expect(page.get_by_role("row").filter(has_text="Language")).to_contain_text("English, German, Hindi")
        assert_accessible(page)
        shot(page, "admin-profile-fields")
    finally:
        page.context.close()

    page = new_page(browser)
    try:
        sign_in(page, live_server, mentor.email, PASSWORD)
        page.goto(f"{live_server}/profile")
        group = page.get_by_role("group", name="More about you")
        group.get_by_label("Language").select_option("German")
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_text("Profile saved.")).to_be_visible()
        saved = page.get_by_role("group", name="More about you").get_by_label("Language")
        expect(saved).to_have_value("German")
        assert_accessible(page)
    finally:
        page.context.close()

    page = new_page(browser)
    try:
        sign_in(page, live_server, mentee.email, PASSWORD)
        page.goto(f"{live_server}/mentors")
        expect(page.get_by_text("2 mentors found.")).to_be_visible()
        page.get_by_label("Language").select_option("German")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_text("1 mentor found.")).to_be_visible()
        card = page.get_by_role("article").filter(has_text="Greta German")
        expect(card).to_contain_text("Language: German")
        expect(page.get_by_role("heading", name="Hari Hindi")).to_have_count(0)
        assert_accessible(page)
        shot(page, "directory-filtered-by-profile-field")
    finally:
        page.context.close()
