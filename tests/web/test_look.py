"""The look of the pages in Chromium: the requests table fits a 375 px phone (no sideways cut), the slot
picker's day headings stay on one line, admin pages sit centered like the others, error pages are pages
of the site, and my week lays out its seven days."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.factories import (
    PASSWORD,
    at,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
    slot,
)
from tests.web.axe_check import assert_accessible
from tests.web.conftest import shot, sign_in

pytestmark = pytest.mark.browser

PHONE_375 = {"width": 375, "height": 740}


def _overflow(page: Any) -> dict[str, Any]:
    """How far anything sticks out to the right of the viewport, and any box that scrolls sideways
    (measured once the page's stylesheet is in: an element can be visible before it is)."""
    page.wait_for_load_state("load")
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        let right = 0;
        for (const el of document.querySelectorAll('main *')) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > right) right = box.right;
        }
        const scrolling = [...document.querySelectorAll('main *')]
            .filter(el => el.clientWidth > 2 && el.scrollWidth > el.clientWidth + 1
                          && getComputedStyle(el).overflowX !== 'visible')
            .map(el => el.className || el.tagName);
        return {width, right, page: document.documentElement.scrollWidth, scrolling};
    }""")


def test_the_requests_table_fits_a_375px_phone(browser: Any, live_server: str, db: Session) -> None:
    program = make_program(db)
    mentee = make_mentee(db, name="Philippa Longname-Fairweather", time_zone="America/Los_Angeles")
    mentors = [make_mentor(db, name=f"Bartholomew Mentorsworth {i}") for i in range(3)]
    for i, mentor in enumerate(mentors):
        make_request(db, program=program, mentee=mentee, mentor=mentor,
                     topic=f"Negotiating a cross-functional roadmap with stakeholders {i}",
                     times=[slot(at("2030-01-09", f"1{i}:00"))])
    ctx = browser.new_context(viewport=PHONE_375)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    try:
        sign_in(page, live_server, mentee.email, PASSWORD)
        page.goto(f"{live_server}/requests")
        topic = "Negotiating a cross-functional roadmap with stakeholders 2"
        expect(page.get_by_role("link", name=topic)).to_be_visible()
        shot(page, "requests-375")
        found = _overflow(page)
        assert found["page"] <= found["width"] and found["right"] <= found["width"] + 0.5, found
        assert not found["scrolling"], found
        assert_accessible(page)
        # Each row still says what its cells are.
        expect(page.locator("main td").filter(has_text="Bartholomew Mentorsworth 0")).to_be_visible()
    finally:
        ctx.close()


def _one_line(page: Any, selector: str) -> list[dict[str, float]]:
    """Boxes of the elements matching ``selector`` that take more than one line of text (once the
    stylesheet is in)."""
    page.wait_for_load_state("load")
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)].map(el => {
        const style = getComputedStyle(el);
        const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
        return {text: el.textContent.trim(), height: el.getBoundingClientRect().height, line};
    }).filter(box => box.height > box.line * 1.5)""", selector)


def test_the_pickers_day_headings_stay_on_one_line(browser: Any, live_server: str, db: Session) -> None:
    make_program(db, lead_time_hours=0)
    mentor = make_mentor(db, name="Wilhelmina Availability", weekly=[(d, "08:00", "18:00") for d in range(7)])
    mentee = make_mentee(db)
    for viewport, name in ((PHONE_375, "picker-375"), ({"width": 1280, "height": 900}, "picker-desktop")):
        ctx = browser.new_context(viewport=viewport)
        ctx.set_default_timeout(10_000)
        page = ctx.new_page()
        try:
            sign_in(page, live_server, mentee.email, PASSWORD)
            page.goto(f"{live_server}/mentors/{mentor.id}/request")
            page.get_by_label("Topic", exact=True).fill("Planning")
            page.get_by_label("Video call").check()
            page.get_by_role("button", name="Next: pick a time").click()
            expect(page.locator(".slot-day legend").first).to_be_visible()
            shot(page, name)
            assert page.locator(".slot-day legend").count() >= 2
            assert _one_line(page, ".slot-day legend") == []
            assert _overflow(page)["page"] <= viewport["width"]
        finally:
            ctx.close()


def test_admin_pages_sit_centered_like_the_others(page: Any, live_server: str, db: Session) -> None:
    make_program(db)
    admin = make_admin(db)
    for i in range(3):  # wide rows: the people table is wider than the page
        make_mentor(db, name=f"Maximiliane Widecolumn-Tablesworth {i}",
                    time_zone="America/Argentina/Buenos_Aires", department="Research and Development",
                    title="Principal Engineer, Platform Infrastructure")
    sign_in(page, live_server, admin.email, PASSWORD)

    def main_box(path: str) -> dict[str, float]:
        page.goto(f"{live_server}{path}")
        expect(page.locator("main h1")).to_be_visible()
        box = page.locator("main").bounding_box()
        assert box is not None
        return box

    people_side = main_box("/meetings")
    width = page.evaluate("document.documentElement.clientWidth")
    assert people_side["x"] > 0 and abs(people_side["x"] * 2 + people_side["width"] - width) < 1
    for path in ("/admin/settings", "/admin/requests", "/admin/report", "/admin/people"):
        box = main_box(path)
        assert (box["x"], box["width"]) == (people_side["x"], people_side["width"]), path
        assert _overflow(page)["page"] <= width, path
        assert_accessible(page)  # a table wider than the page scrolls in a region the keyboard reaches
    shot(page, "admin-report-centered")


def test_error_pages_and_my_week_in_the_browser(page: Any, live_server: str, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db, time_zone="Asia/Tokyo")
    make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=at("2030-01-09", "10:00"),
                 topic="Week view check")
    sign_in(page, live_server, mentee.email, PASSWORD)
    page.goto(f"{live_server}/meetings")
    page.get_by_role("link", name="See my week").click()
    expect(page.get_by_role("heading", name="My week", level=1)).to_be_visible()
    expect(page.locator(".agenda-day")).to_have_count(7)
    page.goto(f"{live_server}/meetings/week?week=2030-01-09")
    day = page.locator(".agenda-day").filter(has=page.get_by_role("heading", name="Wed 9 Jan"))
    expect(day.get_by_role("link", name="Week view check")).to_be_visible()
    expect(day).to_contain_text("19:00\u201319:30 JST")
    page.get_by_role("link", name="Next week").click()
    expect(page.locator("#week-label")).to_have_text("14 Jan \u2013 20 Jan 2030")
    page.get_by_role("link", name="Previous week").click()
    expect(day.get_by_role("link", name="Week view check")).to_be_visible()
    shot(page, "my-week")
    assert_accessible(page)
    day.get_by_role("link", name="Week view check").click()
    expect(page.get_by_role("heading", name="Add to my calendar")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .ics").click()
    assert download.value.suggested_filename.endswith(".ics")
    google = page.get_by_role("link", name="Google Calendar")
    assert (google.get_attribute("href") or "").startswith("https://calendar.google.com/calendar/render?action=TEMPLATE")
    assert_accessible(page)

    page.goto(f"{live_server}/meetings")
    page.evaluate("location.assign('/meetings/987654')")  # as a link would: the browser sends the referrer
    expect(page.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Meetings", exact=True)).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator("main")).not_to_have_css("max-width", "none")  # styled, once the stylesheet is in
    shot(page, "error-404")
    assert_accessible(page)
    page.get_by_role("link", name="Back to the previous page").click()
    expect(page).to_have_url(f"{live_server}/meetings")
    icon = page.request.get(f"{live_server}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
