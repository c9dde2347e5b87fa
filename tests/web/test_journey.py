"""The main journey in headless Chromium, as people would click through it.

A mentee signs in, finds a mentor by skill, asks for a meeting and picks a shared
free time; the mentor signs in and accepts with another time; the mentee confirms;
both see the meeting. Each step is a function taking the pages it drives, so later
steps (the admin reading the report) append without touching these.
Screenshots of each main page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.web.common import span
from scheduling.models import Meeting, MeetingRequest, Person, RequestState
from scheduling.services.people import set_skills
from tests.factories import PASSWORD, make_mentee, make_mentor, make_program
from tests.web.conftest import new_page, phone_shot, shot, sign_in

pytestmark = pytest.mark.browser

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]
TOPIC = "Preparing my first conference talk"


@dataclass
class Cast:
    mentee: Person
    mentor: Person
    other_mentor: Person


def seed(db: Session) -> Cast:
    make_program(db, name="Flash mentoring", lead_time_hours=24)
    mentor = make_mentor(db, name="Grace Hopper", email="grace@example.com", time_zone="Europe/London",
                         title="Principal Engineer", department="Engineering", weekly=EVERY_DAY)
    other = make_mentor(db, name="Alan Turing", email="alan@example.com", time_zone="Europe/London",
                        title="Researcher", department="Research", weekly=EVERY_DAY)
    mentee = make_mentee(db, name="Ada Lovelace", email="ada@example.com", time_zone="America/New_York",
                         department="Product", title="Analyst")
    set_skills(db, mentor, {"offers": ["Public speaking", "Python"]})
    set_skills(db, other, {"offers": ["Cryptography"]})
    set_skills(db, mentee, {"wants": ["Public speaking"]})
    return Cast(mentee, mentor, other)


# --- steps ---------------------------------------------------------------------------------------


def mentee_signs_in(page: Any, base: str, cast: Cast) -> None:
    page.goto(f"{base}/signin")
    shot(page, "signin")
    sign_in(page, base, cast.mentee.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_role("heading", name="Mentors recommended for you")).to_be_visible()
    expect(page.get_by_role("link", name=cast.mentor.name, exact=True)).to_be_visible()
    shot(page, "mentee-home")
    phone_shot(page, "mentee-home-phone")


def mentee_finds_mentor_by_skill(page: Any, base: str, cast: Cast) -> None:
    page.get_by_role("link", name="See all mentors").click()
    expect(page).to_have_url(re.compile(r"/mentors$"))
    expect(page.get_by_role("link", name=cast.other_mentor.name, exact=True)).to_be_visible()
    page.get_by_label("Skill", exact=True).fill("public speaking")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"skill=public"))
    expect(page.get_by_text("1 mentor found.")).to_be_visible()
    expect(page.get_by_role("link", name=cast.other_mentor.name, exact=True)).to_have_count(0)
    shot(page, "directory")
    page.get_by_role("link", name=cast.mentor.name, exact=True).click()
    expect(page.get_by_role("heading", name=cast.mentor.name)).to_be_visible()
    shot(page, "mentor-card")


def mentee_requests_meeting(page: Any, base: str, cast: Cast) -> None:
    page.get_by_role("link", name="Request meeting").click()
    # bad input first: the error appears next to the field and nothing is sent
    page.get_by_label("In person").check()
    page.get_by_role("button", name="Next: pick a time").click()
    expect(page.locator("#topic-error")).to_have_text("Topic is required.")
    expect(page.get_by_label("Topic", exact=True)).to_have_attribute("aria-invalid", "true")
    shot(page, "request-form-errors")
    page.get_by_label("Topic", exact=True).fill(TOPIC)
    page.get_by_label("Description (optional)").fill("I speak at a meetup next month and want feedback.")
    page.get_by_label("Video call").check()
    shot(page, "request-form")
    page.get_by_role("button", name="Next: pick a time").click()
    page.wait_for_url(re.compile(r"/request/time"))


def mentee_picks_shared_slot(page: Any, base: str, cast: Cast) -> str:
    """Picks the first shared free time of next week; returns its label (mentee's zone)."""
    page.get_by_role("link", name=re.compile("Next week")).click()
    page.wait_for_url(re.compile(r"week="))
    expect(page.get_by_text("America/New_York", exact=False).first).to_be_visible()
    first = page.locator("input[name=slot]").first
    label = first.locator("xpath=..").locator(".slot-time").inner_text().strip()
    assert re.search(r"E[SD]T$", label), label  # shown in the mentee's zone, zone named
    beside = first.locator("xpath=..").locator(".slot-beside").inner_text().strip()
    assert re.search(rf"(GMT|BST) for {cast.mentor.name}$", beside), beside  # the mentor's local time
    shot(page, "pick-time")
    phone_shot(page, "pick-time-phone")
    first.check()
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text(f"Request sent to {cast.mentor.name}.")).to_be_visible()
    expect(page.get_by_text("Waiting for an answer")).to_be_visible()
    shot(page, "request-sent")
    return label


def mentor_accepts_with_another_time(page: Any, base: str, cast: Cast) -> str:
    """The mentor proposes another shared time; returns its label (mentor's zone)."""
    sign_in(page, base, cast.mentor.email, PASSWORD)
    page.get_by_role("link", name="Requests", exact=True).click()
    expect(page).to_have_url(re.compile(r"/requests$"))
    shot(page, "mentor-requests")
    page.get_by_role("link", name=TOPIC).click()
    expect(page.get_by_role("button", name="Accept")).to_be_visible()
    options = page.get_by_label("A time you are both free").locator("option")
    choice = options.nth(5)
    label = choice.inner_text().strip()
    assert re.search(r"(GMT|BST)$", label), label  # the mentor's zone
    page.get_by_label("A time you are both free").select_option(choice.get_attribute("value"))
    page.get_by_label("Message to the mentee (optional)").fill("Could we do this instead?")
    shot(page, "mentor-request")
    page.get_by_role("button", name="Propose this time").click()
    expect(page.get_by_text("Another time proposed; waiting for the mentee to confirm.")).to_be_visible()
    return label


def mentee_confirms(page: Any, base: str, cast: Cast) -> None:
    page.goto(f"{base}/requests")
    expect(page.get_by_text("Another time proposed").first).to_be_visible()
    page.get_by_role("link", name=TOPIC).click()
    expect(page.get_by_text("Could we do this instead?")).to_be_visible()
    shot(page, "mentee-counter")
    page.get_by_role("button", name="Confirm the new time").click()
    expect(page.get_by_text("Confirmed: the meeting is booked.")).to_be_visible()


def both_see_the_meeting(mentee_page: Any, mentor_page: Any, base: str, cast: Cast, db: Session) -> Meeting:
    meeting = db.scalars(select(Meeting)).one()
    db.refresh(meeting)
    for page, person, name in ((mentee_page, cast.mentee, "mentee"), (mentor_page, cast.mentor, "mentor")):
        page.goto(f"{base}/meetings")
        card = page.locator("li.meeting", has_text=TOPIC)
        expect(card).to_have_count(1)
        expect(card).to_contain_text(span(meeting.start_at, meeting.end_at, person))
        shot(page, f"{name}-meetings")
    phone_shot(mentee_page, "mentee-meetings-phone")
    return meeting


def mentor_pages(page: Any, base: str) -> None:
    page.goto(f"{base}/availability")
    expect(page.get_by_role("checkbox", name="Monday 09:00-09:30")).to_be_checked()
    shot(page, "mentor-availability")
    phone_shot(page, "mentor-availability-phone")
    page.goto(f"{base}/calendar")
    shot(page, "mentor-calendar")


# --- the journey ---------------------------------------------------------------------------------


def test_mentee_books_mentor_counters_mentee_confirms(browser, live_server, db):
    cast = seed(db)
    mentee_page, mentor_page = new_page(browser), new_page(browser)
    try:
        mentee_signs_in(mentee_page, live_server, cast)
        mentee_finds_mentor_by_skill(mentee_page, live_server, cast)
        mentee_requests_meeting(mentee_page, live_server, cast)
        picked = mentee_picks_shared_slot(mentee_page, live_server, cast)
        request = db.scalars(select(MeetingRequest)).one()
        assert request.state == RequestState.PENDING
        proposed = request.proposed_times[0]
        assert span(proposed.start_at, proposed.end_at, cast.mentee).endswith(picked)

        countered = mentor_accepts_with_another_time(mentor_page, live_server, cast)
        mentee_confirms(mentee_page, live_server, cast)
        meeting = both_see_the_meeting(mentee_page, mentor_page, live_server, cast, db)
        assert span(meeting.start_at, meeting.end_at, cast.mentor) == countered
        db.refresh(request)
        assert request.state == RequestState.ACCEPTED
        mentor_pages(mentor_page, live_server)
    finally:
        mentee_page.context.close()
        mentor_page.context.close()
