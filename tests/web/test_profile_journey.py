"""A mentee tells the program what they want to learn on /profile, and the home page's first
recommendation becomes a mentor who offers it (headless Chromium, CSRF on).

The wanted skill is typed as an alias ("sfdc"), so the catalogue resolves it; a bad time zone
typed first is refused next to its field. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from scheduling.models import Person, SkillRelation
from scheduling.services import competencies
from scheduling.services.people import set_skills
from tests.factories import PASSWORD, make_mentee, make_mentor, make_program
from tests.web.conftest import new_page, phone_shot, shot, sign_in

pytestmark = pytest.mark.browser

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]


def first_recommendation(page: Any) -> Any:
    """The name on the home page's first mentor card (a locator: ``expect`` waits for the page)."""
    return page.locator("article.card.mentor h3").first


def test_a_wanted_skill_on_the_profile_brings_a_mentor_who_offers_it_to_the_top(browser, live_server, db):
    make_program(db, lead_time_hours=24)
    for name in ("Salesforce CRM", "Cryptography"):
        competencies.add_skill(db, name, category="Sales" if name.startswith("Sales") else "Security")
    competencies.add_alias(db, competencies.known_skill(db, "Salesforce CRM"), "sfdc")
    # Alan is from another department (the program prefers that), so he leads until skills count.
    alan = make_mentor(db, name="Alan Adams", email="alan@example.com", department="Research",
                       weekly=EVERY_DAY)
    grace = make_mentor(db, name="Grace Hopper", email="grace@example.com", department="Sales",
                        weekly=EVERY_DAY)
    set_skills(db, alan, {"offers": ["Cryptography"]})
    set_skills(db, grace, {"offers": [{"name": "Salesforce CRM", "level": 5}]})
    mentee = make_mentee(db, name="Ada Lovelace", email="ada@example.com", department="Sales",
                         time_zone="Europe/London")

    page = new_page(browser)
    try:
        sign_in(page, live_server, mentee.email, PASSWORD)
        expect(page).to_have_url(re.compile(r"/home$"))
        expect(first_recommendation(page)).to_have_text(alan.name)

        page.get_by_role("link", name="Profile", exact=True).click()
        expect(page.get_by_role("heading", name="My profile")).to_be_visible()
        shot(page, "profile")

        # a bad time zone is refused next to its field, and the wanted skill is not saved either
        page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
        page.get_by_label("Skill to learn 1").fill("sfdc")
        page.get_by_label("My level now 1").select_option("2")
        page.get_by_role("button", name="Save profile").click()
        expect(page.locator("#time_zone-error")).to_contain_text("Unknown time zone")
        expect(page.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
        shot(page, "profile-errors")
        db.expire_all()
        assert db.get(Person, mentee.id).skill_names(SkillRelation.WANTS) == []  # type: ignore[union-attr]

        page.get_by_label("Time zone").fill("Europe/Lisbon")
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_text("Profile saved.")).to_be_visible()
        expect(page.get_by_label("Skill to learn 1")).to_have_value("Salesforce CRM")
        expect(page.get_by_label("My level now 1")).to_have_value("2")
        shot(page, "profile-saved")
        phone_shot(page, "profile-phone")

        page.get_by_role("link", name="Home", exact=True).click()
        expect(page).to_have_url(re.compile(r"/home$"))
        expect(first_recommendation(page)).to_have_text(grace.name)
        expect(page.locator("article.card.mentor").first).to_contain_text("offers Salesforce CRM at level 5")
        shot(page, "home-after-profile")
        db.expire_all()
        person = db.get(Person, mentee.id)
        assert person is not None and person.time_zone == "Europe/Lisbon"
        assert person.skill_names(SkillRelation.WANTS) == ["Salesforce CRM"]
    finally:
        page.context.close()
