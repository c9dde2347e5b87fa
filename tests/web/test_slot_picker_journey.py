"""The slot picker in headless Chromium: a mentee books from the mentor's next shared times seeing
both local times, switches zones, books with the keyboard only, and books with JavaScript off.

Screenshots go to ``test-artifacts/screenshots/picker-*.png``; every page is checked with axe
(0 serious or critical) and at 375 px for sideways overflow.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import MeetingRequest, Person, RequestState
from tests.factories import PASSWORD, make_mentee, make_mentor, make_program
from tests.web.axe_check import assert_accessible
from tests.web.conftest import DESKTOP, shot, sign_in

pytestmark = pytest.mark.browser

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]
PHONE_375 = {"width": 375, "height": 740}
TOPIC = "Preparing my first conference talk"
MENTEE_TIME = re.compile(r"\d\d:\d\d\u2013\d\d:\d\d E[SD]T$")
MENTOR_TIME = re.compile(r"\d\d:\d\d\u2013\d\d:\d\d (GMT|BST) for Grace Hopper$")


def seed(db: Session) -> tuple[Person, Person]:
    make_program(db, name="Flash mentoring", lead_time_hours=24)
    mentor = make_mentor(db, name="Grace Hopper", email="grace@example.com", time_zone="Europe/London",
                         weekly=EVERY_DAY)
    mentee = make_mentee(db, name="Ada Lovelace", email="ada@example.com", time_zone="America/New_York")
    return mentor, mentee


def fits_375(page: Any, name: str) -> None:
    """The page at 375 px: no sideways scrolling, screenshot; then back to the desktop size."""
    page.set_viewport_size(PHONE_375)
    try:
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_load_state("load")  # the stylesheet is in: an element is visible before it is
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_375["width"], f"{name}: {width}px wide at 375px"
        shot(page, name)
    finally:
        page.set_viewport_size(DESKTOP)


def requested(db: Session) -> list[datetime]:
    req = db.scalars(select(MeetingRequest)).one()
    db.refresh(req)
    assert req.state == RequestState.PENDING
    return [t.start_at for t in req.proposed_times]


def test_mentee_books_in_the_new_picker_seeing_both_local_times(page: Any, live_server: str, db: Session):
    mentor, mentee = seed(db)
    sign_in(page, live_server, mentee.email, PASSWORD)

    # the mentor's page: the next shared times, each in my zone with Grace's beside it
    page.goto(f"{live_server}/mentors/{mentor.id}")
    soon = page.get_by_role("region", name="Next times you are both free").get_by_role("listitem")
    expect(soon).to_have_count(5)
    first_item = soon.nth(1)
    link = first_item.get_by_role("link")
    assert re.search(r"E[SD]T\s*: request this time$", link.inner_text()), link.inner_text()
    assert MENTOR_TIME.search(first_item.inner_text()), first_item.inner_text()
    free = page.locator("#free-this-week").inner_text()
    shot(page, "picker-mentor-next-times")
    assert_accessible(page)
    fits_375(page, "picker-mentor-next-times-375")

    # choose the second of them: step one says it is kept, step two has it ticked
    chosen = (link.get_attribute("href") or "").split("slot=", 1)[1]
    link.click()
    expect(page.locator("#chosen-time")).to_have_text("The time you chose is ticked in the next step.")
    page.get_by_label("Topic", exact=True).fill(TOPIC)
    page.get_by_label("Video call").check()
    page.get_by_role("button", name="Next: pick a time").click()
    page.wait_for_url(re.compile(r"/request/time"))
    ticked = page.locator("input[name=slot]:checked")
    expect(ticked).to_have_count(1)
    label = page.locator("label.slot", has=ticked)
    assert MENTEE_TIME.search(label.locator(".slot-time").inner_text())
    assert MENTOR_TIME.search(label.locator(".slot-beside").inner_text())
    expect(page.locator("#lead-time")).to_contain_text(
        "Times start 24 hours from now because the program asks for 24 hours' notice")
    boxes = page.locator("input[name=slot][type=checkbox]")
    count = re.compile(rf"^{boxes.count()} shared free times? this week$")
    expect(page.locator("#week-count")).to_have_text(count)
    shot(page, "picker-desktop")
    assert_accessible(page)
    fits_375(page, "picker-375")

    # the week at a glance: a day's link leads to that day's times
    day_link = page.locator(".day-strip li.has-times a").last
    target = (day_link.get_attribute("href") or "").lstrip("#")
    day_link.click()
    expect(page.locator(f"#{target} input[name=slot]").first).to_be_in_viewport()

    # Grace's zone: her time first, mine beside it; the choice is kept
    page.get_by_label("Grace Hopper's zone (Europe/London)").check()
    page.get_by_role("button", name="Show times").click()
    expect(page.locator("#shown-zone")).to_contain_text("Times shown in Europe/London")
    first_label = page.locator("label.slot").first
    assert re.search(r"(GMT|BST)$", first_label.locator(".slot-time").inner_text())
    assert re.search(r"E[SD]T for you$", first_label.locator(".slot-beside").inner_text())
    expect(page.locator("input[name=slot]:checked")).to_have_count(1)
    shot(page, "picker-mentor-zone")
    assert_accessible(page)

    # back to my zone, add the last time of the week, send
    page.get_by_label("Your zone (America/New_York)").check()
    page.get_by_role("button", name="Show times").click()
    expect(page.locator("#shown-zone")).to_contain_text("Times shown in America/New_York")
    last = page.locator("input[name=slot][type=checkbox]").last
    last.check()
    also = last.get_attribute("value")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text(f"Request sent to {mentor.name}.")).to_be_visible()
    shot(page, "picker-request-sent")
    assert sorted(requested(db)) == sorted(datetime.fromisoformat(v) for v in (chosen, also) if v)
    assert free  # the mentor's page said how many this week


def _tab_to(page: Any, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches ``selector`` (keyboard only; fails if never)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_only_booking(page: Any, live_server: str, db: Session):
    mentor, mentee = seed(db)
    page.goto(f"{live_server}/signin")
    _tab_to(page, "input[name=email]")
    page.keyboard.type(mentee.email)
    _tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/home$"))

    page.goto(f"{live_server}/mentors/{mentor.id}")
    _tab_to(page, "a[href*='request?slot=']")
    chosen = page.evaluate("document.activeElement.getAttribute('href')").split("slot=", 1)[1]
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/request\?slot="))
    _tab_to(page, "#topic")
    page.keyboard.type(TOPIC)
    _tab_to(page, "button[value=time]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/request/time"))
    expect(page.locator("input[name=slot]:checked")).to_have_count(1)

    # the week at a glance, then the day's first time with Space, then send with Enter
    _tab_to(page, ".day-strip li.has-times a")
    target = page.evaluate("document.activeElement.getAttribute('href')").lstrip("#")
    page.keyboard.press("Enter")
    _tab_to(page, "input[name=slot][type=checkbox]")
    focused = page.evaluate("document.activeElement.value")
    in_day = page.evaluate(f"document.getElementById('{target}').contains(document.activeElement)")
    assert in_day, "Tab after the day's link did not land in that day's times"
    if focused != chosen:
        page.keyboard.press("Space")
        expect(page.locator(f"input[name=slot][value='{focused}']")).to_be_checked()
    shot(page, "picker-keyboard")
    _tab_to(page, "button[type=submit]:not(.secondary)")
    assert page.evaluate("document.activeElement.textContent") == "Send request"
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Request sent to {mentor.name}.")).to_be_visible()
    assert set(requested(db)) == {datetime.fromisoformat(v) for v in {chosen, focused}}


def test_the_picker_works_without_javascript(browser: Any, live_server: str, db: Session):
    mentor, mentee = seed(db)
    ctx = browser.new_context(viewport=PHONE_375, java_script_enabled=False)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    try:
        sign_in(page, live_server, mentee.email, PASSWORD)
        page.goto(f"{live_server}/mentors/{mentor.id}")
        link = page.get_by_role("region", name="Next times you are both free").get_by_role("link").first
        chosen = (link.get_attribute("href") or "").split("slot=", 1)[1]
        link.click()
        page.get_by_label("Topic", exact=True).fill(TOPIC)
        page.get_by_role("button", name="Next: pick a time").click()
        page.wait_for_url(re.compile(r"/request/time"))
        # another zone, typed: the page comes back in Tokyo time, Grace's beside it, the choice kept
        page.get_by_label("Another zone", exact=True).check()
        page.get_by_label("Another zone's IANA name").fill("Asia/Tokyo")
        page.get_by_role("button", name="Show times").click()
        page.wait_for_url(re.compile(r"tz_other=Asia%2FTokyo"))
        first = page.locator("label.slot").first
        assert re.search(r"JST$", first.locator(".slot-time").inner_text())
        assert MENTOR_TIME.search(first.locator(".slot-beside").inner_text())
        expect(page.locator("input[name=slot]:checked")).to_have_count(1)
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_375["width"]
        shot(page, "picker-no-js-375")
        page.locator("input[name=slot][type=checkbox]:not(:checked)").first.check()
        page.get_by_role("button", name="Send request").click()
        expect(page.get_by_text(f"Request sent to {mentor.name}.")).to_be_visible()
        times = requested(db)
        assert len(times) == 2 and datetime.fromisoformat(chosen) in times
    finally:
        ctx.close()
