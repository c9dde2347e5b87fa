"""A mentor-initiated meeting in headless Chromium, clicked through as people would.

In a program where mentors may create meetings, a mentor finds a mentee, offers a
meeting at a time both are free, the mentee accepts it, and the two exchange
messages on the request's and the meeting's page (each reads the other's in their
own zone). Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.web.common import when
from scheduling.models import Initiator, Meeting, MeetingRequest, Message, Person, RequestState
from scheduling.services.people import set_skills
from tests.factories import PASSWORD, make_mentee, make_mentor, make_program
from tests.web.conftest import new_page, phone_shot, shot, sign_in

pytestmark = pytest.mark.browser

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]
TOPIC = "Your first code review"


@dataclass
class Cast:
    mentor: Person
    mentee: Person


def seed(db: Session) -> Cast:
    make_program(db, name="Flash mentoring", mentors_may_create=True, lead_time_hours=24)
    mentor = make_mentor(db, name="Grace Hopper", email="grace@example.com", time_zone="Europe/London",
                         title="Principal Engineer", weekly=EVERY_DAY)
    mentee = make_mentee(db, name="Ada Lovelace", email="ada@example.com", time_zone="America/New_York",
                         department="Product", title="Analyst")
    set_skills(db, mentee, {"wants": ["Code review"]})
    return Cast(mentor, mentee)


def mentor_offers_a_meeting(page: Any, base: str, cast: Cast) -> None:
    sign_in(page, base, cast.mentor.email, PASSWORD)
    page.get_by_role("link", name="Offer a meeting", exact=True).click()
    expect(page.get_by_role("heading", name="Offer a meeting to a mentee")).to_be_visible()
    expect(page.get_by_text("Code review")).to_be_visible()
    shot(page, "offer-mentees")
    page.get_by_role("link", name=f"Offer a meeting to {cast.mentee.name}").click()
    page.get_by_role("button", name="Next: pick times").click()  # nothing typed: refused by the field
    expect(page.locator("#topic-error")).to_have_text("Topic is required.")
    expect(page.get_by_label("Topic", exact=True)).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Topic", exact=True).fill(TOPIC)
    page.get_by_label("Description (optional)").fill("I saw your first pull request; shall we go through it?")
    shot(page, "offer-form")
    page.get_by_role("button", name="Next: pick times").click()
    page.get_by_role("link", name=re.compile("Next week")).click()
    page.wait_for_url(re.compile(r"week="))
    first = page.locator("input[name=slot]").first
    shown = first.locator("xpath=..").locator(".slot-time").inner_text()
    assert re.search(r"(GMT|BST)$", shown), shown  # the mentor's zone
    beside = first.locator("xpath=..").locator(".slot-beside").inner_text()
    assert beside.endswith(f"for {cast.mentee.name}"), beside  # and the mentee's local time
    shot(page, "offer-pick-time")
    phone_shot(page, "offer-pick-time-phone")
    first.check()
    page.get_by_role("button", name="Send offer").click()
    expect(page.get_by_text(f"Offer sent to {cast.mentee.name}")).to_be_visible()
    expect(page.get_by_text("Offer from you")).to_be_visible()
    shot(page, "offer-sent")


def mentee_accepts_the_offer(page: Any, base: str, cast: Cast) -> None:
    sign_in(page, base, cast.mentee.email, PASSWORD)
    page.get_by_role("link", name="Requests", exact=True).click()
    expect(page.get_by_role("heading", name="Requests and offers to me")).to_be_visible()
    shot(page, "mentee-offers")
    page.get_by_role("link", name=TOPIC).click()
    expect(page.get_by_text(f"Offer from {cast.mentor.name}")).to_be_visible()
    shot(page, "mentee-offer")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Accepted: the meeting is booked.")).to_be_visible()


def mentee_writes(page: Any) -> None:
    page.get_by_role("button", name="Send message").click()  # empty: refused by the field
    expect(page.locator("#body-error")).to_have_text("Message is required.")
    page.get_by_label("Message", exact=True).fill("Thank you! Shall I prepare the diff?")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Message sent.")).to_be_visible()
    expect(page.locator("li.message")).to_have_count(1)
    phone_shot(page, "request-thread-phone")


def mentor_reads_and_replies_on_the_meeting(page: Any, base: str, cast: Cast, message: Message) -> None:
    page.goto(f"{base}/meetings")
    page.get_by_role("link", name=TOPIC).click()
    thread = page.locator("#messages")
    expect(thread).to_contain_text("Thank you! Shall I prepare the diff?")
    expect(thread).to_contain_text(f"{cast.mentee.name} · {when(message.created_at, cast.mentor)}")
    page.get_by_label("Message", exact=True).fill("Yes, the one from Tuesday.")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Message sent.")).to_be_visible()
    shot(page, "meeting-thread")


def test_mentor_offers_mentee_accepts_and_they_exchange_messages(browser, live_server, db):
    cast = seed(db)
    mentor_page, mentee_page = new_page(browser), new_page(browser)
    try:
        mentor_offers_a_meeting(mentor_page, live_server, cast)
        offer = db.scalars(select(MeetingRequest)).one()
        assert (offer.initiated_by, offer.state) == (Initiator.MENTOR, RequestState.PENDING)

        mentee_accepts_the_offer(mentee_page, live_server, cast)
        meeting = db.scalars(select(Meeting)).one()
        assert meeting.mentee_id == cast.mentee.id and meeting.start_at == offer.proposed_times[0].start_at

        mentee_writes(mentee_page)
        message = db.scalars(select(Message)).one()
        assert message.author_id == cast.mentee.id
        mentor_reads_and_replies_on_the_meeting(mentor_page, live_server, cast, message)

        mentee_page.reload()
        expect(mentee_page.locator("li.message")).to_have_count(2)
        expect(mentee_page.locator("li.message").nth(1)).to_contain_text("Grace Hopper")
        expect(mentee_page.locator("li.message").nth(1)).to_contain_text("Yes, the one from Tuesday.")
        reply_time = mentee_page.locator("li.message time").nth(1).inner_text()
        assert re.search(r"E[SD]T", reply_time)  # in the mentee's zone
        shot(mentee_page, "request-thread")
        assert [m.body for m in db.scalars(select(Message).order_by(Message.id))] == [
            "Thank you! Shall I prepare the diff?", "Yes, the one from Tuesday."]
    finally:
        mentor_page.context.close()
        mentee_page.context.close()
