"""Browser journey (headless Chromium, CSRF on, axe-core on every page) through "Propose another time"
in a program whose mentors publish no slots (free-text availability):

a mentee in New York proposes a time to a mentor in Berlin; the mentor opens the request and picks one
of the times the page offers as free for both (shared working hours clear of both people's meetings,
``scheduling.counter_times``), shown in Berlin time; the mentee sees that time in New York time,
confirms it, and the meeting is booked at it. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.web.common import iso
from scheduling.db import utcnow
from scheduling.models import Meeting, MeetingRequest, RequestState
from tests.factories import PASSWORD, make_meeting, make_mentee, make_mentor, make_program
from tests.web.axe_check import assert_accessible
from tests.web.conftest import new_page, shot, sign_in

pytestmark = pytest.mark.browser

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
TOPIC = "Moving into product management"
MESSAGE = "I am in a workshop then; does this suit you?"
SLOT = timedelta(minutes=30)


def shown(start: datetime, zone: str) -> str:
    """How a half-hour meeting reads in ``zone`` ('Tue 8 Dec 2026, 08:30-09:00 EST', an en dash),
    worked out here from the zone database rather than by the app's own formatter."""
    s, e = start.astimezone(ZoneInfo(zone)), (start + SLOT).astimezone(ZoneInfo(zone))
    return f"{s:%a} {s.day} {s:%b %Y}, {s:%H:%M}\u2013{e:%H:%M} {s.tzname()}"


def in_working_hours(start: datetime, zone: str) -> bool:
    """``counter_times``' weekday 08:00-18:00 in the person's own zone."""
    s, e = start.astimezone(ZoneInfo(zone)), (start + SLOT).astimezone(ZoneInfo(zone))
    return s.weekday() < 5 and s.time() >= time(8) and (e.time() <= time(18) and e.date() == s.date())


def a_weekday_ahead(now: datetime) -> date:
    """The first weekday at least two days away: past the 24-hour lead time, inside the two weeks the
    page suggests. 13:30-15:30 UTC on it lies in Berlin's and New York's working hours in any season."""
    day = (now + timedelta(days=2)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def test_mentor_proposes_a_time_free_for_both_and_the_mentee_confirms_it_in_her_zone(
    browser: Any, live_server: str, db: Session
) -> None:
    program = make_program(db, availability_mode="free_text", lead_time_hours=24)
    mentor = make_mentor(db, name="Bernd Berlin", email="bernd@example.com", time_zone=BERLIN, weekly=[])
    mentee = make_mentee(db, name="Nora NewYork", email="nora@example.com", time_zone=NEW_YORK)
    day = a_weekday_ahead(utcnow())

    def utc(hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), UTC)

    requested, her_other_meeting, picked = utc(15), utc(14), utc(13, 30)
    make_meeting(db, program=program, mentee=mentee, now=utcnow(), start=her_other_meeting,
                 mentor=make_mentor(db, name="Other Mentor", email="other@example.com", weekly=[]))

    mentee_page = new_page(browser)
    mentor_page = new_page(browser)
    try:
        # the mentee proposes a time of her own, typed in New York time
        sign_in(mentee_page, live_server, mentee.email, PASSWORD)
        mentee_page.goto(f"{live_server}/mentors/{mentor.id}")
        expect(mentee_page.get_by_role("heading", name=mentor.name)).to_be_visible()
        assert_accessible(mentee_page)
        mentee_page.get_by_role("link", name="Request meeting").click()
        mentee_page.get_by_label("Topic", exact=True).fill(TOPIC)
        assert_accessible(mentee_page)
        mentee_page.get_by_role("button", name="Propose other times").click()
        expect(mentee_page.get_by_role("heading", name=f"Propose times to {mentor.name}")).to_be_visible()
        expect(mentee_page.get_by_text(f"read in your time zone: {NEW_YORK}.")).to_be_visible()
        assert_accessible(mentee_page)
        local = requested.astimezone(ZoneInfo(NEW_YORK))
        first = mentee_page.get_by_role("group", name="Time 1")
        first.get_by_label("Date").fill(local.date().isoformat())
        first.get_by_label("Start time").fill(f"{local:%H:%M}")
        mentee_page.get_by_role("button", name="Send request").click()
        expect(mentee_page.get_by_text(f"Request sent to {mentor.name}.")).to_be_visible()
        expect(mentee_page.locator("ul.times")).to_have_text(shown(requested, NEW_YORK))
        assert_accessible(mentee_page)
        shot(mentee_page, "counter-free-text-request-sent")

        # the mentor is offered times free for both, in Berlin time, and picks one
        sign_in(mentor_page, live_server, mentor.email, PASSWORD)
        mentor_page.get_by_role("link", name="Requests", exact=True).click()
        assert_accessible(mentor_page)
        mentor_page.get_by_role("link", name=TOPIC).click()
        expect(mentor_page.get_by_role("heading", name=TOPIC)).to_be_visible()
        expect(mentor_page.locator("span.who")).to_have_text(f"{mentor.name} · {BERLIN}")
        expect(mentor_page.get_by_role("group", name="Propose another time")).to_be_visible()
        choices = mentor_page.get_by_label("A time you are both free")
        expect(choices).to_contain_text(shown(picked, BERLIN))
        offered = {
            datetime.fromisoformat(value): label.strip()
            for value, label in choices.locator("option").evaluate_all(
                "options => options.filter(o => o.value).map(o => [o.value, o.textContent])")
        }
        assert offered[picked] == shown(picked, BERLIN)  # each time in the mentor's own zone
        assert all(in_working_hours(s, BERLIN) and in_working_hours(s, NEW_YORK) for s in offered), offered
        assert her_other_meeting not in offered  # she has a meeting then
        assert requested not in offered and utc(14, 30) in offered  # the asked time is not offered again
        assert all(s >= utcnow() + timedelta(hours=24) for s in offered)
        assert_accessible(mentor_page)
        choices.select_option(iso(picked))
        mentor_page.get_by_label("Message to the mentee (optional)").fill(MESSAGE)
        shot(mentor_page, "counter-free-text-mentor-picks")
        mentor_page.get_by_role("button", name="Propose this time").click()
        expect(mentor_page.get_by_role("status")).to_have_text(
            "Another time proposed; waiting for the mentee to confirm.")
        expect(mentor_page.locator("p.counter-time")).to_have_text(shown(picked, BERLIN))
        assert_accessible(mentor_page)

        # the mentee sees the proposed time in New York time and confirms it
        mentee_page.goto(f"{live_server}/requests")
        expect(mentee_page.get_by_text("Another time proposed").first).to_be_visible()
        assert_accessible(mentee_page)
        mentee_page.get_by_role("link", name=TOPIC).click()
        expect(mentee_page.get_by_role("heading", name="Other time proposed by the mentor")).to_be_visible()
        expect(mentee_page.locator("p.counter-time")).to_have_text(shown(picked, NEW_YORK))
        expect(mentee_page.get_by_text(MESSAGE)).to_be_visible()
        expect(mentee_page.get_by_text(f"In your time zone, {NEW_YORK}.")).to_be_visible()
        assert_accessible(mentee_page)
        shot(mentee_page, "counter-free-text-mentee-sees-time")
        mentee_page.get_by_role("button", name="Confirm the new time").click()
        expect(mentee_page.get_by_text("Confirmed: the meeting is booked.")).to_be_visible()
        booked = mentee_page.get_by_role("heading", name="Booked").locator("xpath=following-sibling::p[1]")
        expect(booked).to_have_text(shown(picked, NEW_YORK))
        assert_accessible(mentee_page)
        booked.get_by_role("link").click()
        expect(mentee_page.get_by_role("heading", name=TOPIC)).to_be_visible()
        expect(mentee_page.locator("dl.facts dd strong")).to_have_text(shown(picked, NEW_YORK))
        assert_accessible(mentee_page)
        shot(mentee_page, "counter-free-text-meeting")
    finally:
        mentee_page.context.close()
        mentor_page.context.close()

    db.expire_all()
    request = db.scalars(select(MeetingRequest).where(MeetingRequest.topic == TOPIC)).one()
    assert request.state == RequestState.ACCEPTED
    meeting = db.scalars(select(Meeting).where(Meeting.request_id == request.id)).one()
    assert (meeting.mentor_id, meeting.mentee_id) == (mentor.id, mentee.id)
    assert (meeting.start_at, meeting.end_at) == (picked, picked + SLOT)
