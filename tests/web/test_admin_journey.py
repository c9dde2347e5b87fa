"""The admin's pages in headless Chromium, clicked through as an admin would.

An admin signs in, changes a setting (and sees a refused value explained next to
its field), imports people from a CSV file through the file picker, finds a
pending request and closes it, and opens the program health report. A second
test runs the people's journey (``test_journey``'s steps) and then has the admin
find the booked meeting in the report. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import MeetingRequest, Person, Program, RequestState
from tests.factories import PASSWORD, make_admin, make_mentee, make_mentor, make_program, make_request
from tests.web import test_journey as journey
from tests.web.conftest import new_page, phone_shot, shot, sign_in

pytestmark = pytest.mark.browser

CSV = (
    "name,email,department,title,skills,time_zone,roles\n"
    'Katherine Johnson,katherine@example.com,Research,Mathematician,"Orbital mechanics:5; Python",'
    "America/New_York,mentor\n"
    "Dorothy Vaughan,dorothy@example.com,Engineering,Programmer,Fortran,America/Chicago,mentee\n"
)


def admin_changes_a_setting(page: Any, base: str, db: Session, program: Program) -> None:
    page.goto(f"{base}/admin/settings")
    lead = page.get_by_label("Lead time (hours)")
    expect(lead).to_have_value("24")
    lead.fill("1000")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#lead_time_hours-error")).to_contain_text("must be from 0 to 720")
    expect(page.get_by_label("Lead time (hours)")).to_have_attribute("aria-invalid", "true")
    shot(page, "admin-settings-error")
    db.refresh(program)
    assert program.lead_time_hours == 24

    page.get_by_label("Lead time (hours)").fill("48")
    page.get_by_label("Mentors may create meetings").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_label("Lead time (hours)")).to_have_value("48")
    shot(page, "admin-settings")
    phone_shot(page, "admin-settings-phone")
    db.refresh(program)
    assert (program.lead_time_hours, program.mentors_may_create) == (48, True)


def admin_imports_people(page: Any, base: str, db: Session, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.replace("America/Chicago", "Mars/Base"))
    good = tmp_path / "people.csv"
    good.write_text(CSV)

    page.goto(f"{base}/admin/people")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import people").click()
    errors = page.get_by_role("table", name="Rows that need fixing")
    expect(errors).to_contain_text("time_zone")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr td").first).to_have_text("3")
    shot(page, "admin-people-import-errors")
    assert db.scalar(select(Person).where(Person.email == "katherine@example.com")) is None

    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Import people").click()
    expect(page.get_by_text("Imported 2 people.")).to_be_visible()
    expect(page.get_by_role("cell", name="Katherine Johnson")).to_be_visible()
    page.get_by_role("searchbox", name="Search").fill("fortran")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="Dorothy Vaughan")).to_be_visible()
    expect(page.get_by_role("cell", name="Katherine Johnson")).to_have_count(0)
    shot(page, "admin-people")
    db.expire_all()
    katherine = db.scalar(select(Person).where(Person.email == "katherine@example.com"))
    assert katherine is not None and katherine.is_mentor and "Orbital mechanics" in katherine.skill_names()


def admin_closes_a_pending_request(page: Any, base: str, db: Session, request: MeetingRequest) -> None:
    page.goto(f"{base}/admin/requests")
    row = page.locator(f"#request-{request.id}")
    expect(row).to_contain_text(request.topic)
    expect(row).to_contain_text("pending")
    page.get_by_label("Mentor").fill("grace")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"mentor=grace"))  # the row was there before the filter too
    expect(page.locator(f"#request-{request.id}")).to_be_visible()
    shot(page, "admin-requests")
    page.get_by_role("button", name=f"Close request {request.id}").click()
    expect(page.get_by_text(f"Request #{request.id} closed.")).to_be_visible()
    expect(page.locator(f"#request-{request.id}")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"mentor=grace"))
    shot(page, "admin-requests-closed")
    db.expire_all()
    assert db.get(MeetingRequest, request.id).state == RequestState.EXPIRED  # type: ignore[union-attr]


def admin_opens_the_report(page: Any, base: str) -> None:
    page.goto(f"{base}/admin/report")
    expect(page.get_by_role("heading", name=re.compile("Program health"))).to_be_visible()
    expect(page.get_by_role("img", name="Requests by state")).to_be_visible()
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    shot(page, "admin-report")
    phone_shot(page, "admin-report-phone")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    assert info.value.suggested_filename.startswith("program-health-")


def test_admin_walks_settings_people_requests_report(
    browser: Any, live_server: str, db: Session, tmp_path: Path
) -> None:
    program = make_program(db)
    admin = make_admin(db, name="Ada Admin", email="admin@example.com", time_zone="Europe/Berlin")
    grace = make_mentor(db, name="Grace Hopper", email="grace@example.com")
    request = make_request(db, program=program, mentee=make_mentee(db, name="Mo Mentee"), mentor=grace,
                           topic="Moving into management")
    page = new_page(browser)
    try:
        sign_in(page, live_server, admin.email, PASSWORD)
        admin_changes_a_setting(page, live_server, db, program)
        admin_imports_people(page, live_server, db, tmp_path)
        admin_closes_a_pending_request(page, live_server, db, request)
        admin_opens_the_report(page, live_server)
        expect(page.locator("#fig-total strong")).to_have_text("1")
        expect(page.locator("#requests-by-state")).to_contain_text("expired")
    finally:
        page.context.close()


def test_a_booked_meeting_shows_in_the_admins_report(browser: Any, live_server: str, db: Session) -> None:
    cast = journey.seed(db)
    admin = make_admin(db, name="Ada Admin", email="admin@example.com")
    mentee_page, mentor_page, admin_page = new_page(browser), new_page(browser), new_page(browser)
    try:
        journey.mentee_signs_in(mentee_page, live_server, cast)
        journey.mentee_finds_mentor_by_skill(mentee_page, live_server, cast)
        journey.mentee_requests_meeting(mentee_page, live_server, cast)
        journey.mentee_picks_shared_slot(mentee_page, live_server, cast)
        journey.mentor_accepts_with_another_time(mentor_page, live_server, cast)
        journey.mentee_confirms(mentee_page, live_server, cast)
        meeting = journey.both_see_the_meeting(mentee_page, mentor_page, live_server, cast, db)

        sign_in(admin_page, live_server, admin.email, PASSWORD)
        admin_page.goto(f"{live_server}/admin/report")
        expect(admin_page.locator("#fig-total strong")).to_have_text("1")
        expect(admin_page.locator("#fig-acceptance strong")).to_have_text("100%")
        month = meeting.start_at.strftime("%Y-%m")
        expect(admin_page.locator("#meetings-per-month")).to_contain_text(month)
        upcoming = admin_page.locator("#meetings-per-month tbody tr").filter(has_text=month)
        expect(upcoming.locator("td").nth(4)).to_have_text("1")
        expect(admin_page.locator("#skills")).to_contain_text("Public speaking")
        shot(admin_page, "admin-report-after-journey")
    finally:
        for p in (mentee_page, mentor_page, admin_page):
            p.context.close()
