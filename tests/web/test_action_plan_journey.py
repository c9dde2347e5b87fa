"""Browser journey (seed 001 practice): the mentee states goals before the meeting, the mentor reads
them; after the meeting the mentor records the agreed action plan and the mentee sees it, with its
reminder planned. Headless Chromium, CSRF on, axe-core on each page; screenshots in
``test-artifacts/screenshots/``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from scheduling.models import MeetingState, TimedWork, WorkKind, WorkState
from scheduling.services.competencies import add_skill
from tests.factories import PASSWORD, make_meeting, make_mentee, make_mentor, make_program
from tests.web.axe_check import assert_accessible
from tests.web.conftest import new_page, shot, sign_in

pytestmark = pytest.mark.browser


def test_meeting_closes_with_an_action_plan_that_both_see(browser: Any, live_server: str, db: Any) -> None:
    program = make_program(db, action_plan_reminder_days=14)
    add_skill(db, "Negotiation")
    mentor = make_mentor(db, name="Grace Guide", email="grace@example.com")
    mentee = make_mentee(db, name="Ada Learner", email="ada@example.com")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, topic="Salary talks",
                           skill="Negotiation")
    url = f"{live_server}/meetings/{meeting.id}"

    ada = new_page(browser)
    try:  # before the meeting: Ada states her goals on the meeting page
        sign_in(ada, live_server, mentee.email, PASSWORD)
        ada.goto(url)
        expect(ada.locator("dd.skill")).to_have_text("Negotiation")
        ada.get_by_label("Your goals").fill("Know my market rate and one opening line")
        ada.get_by_role("button", name="Save goals").click()
        expect(ada.get_by_text("Goals saved; the mentor sees them.")).to_be_visible()
        assert_accessible(ada)
        shot(ada, "goals-before-the-meeting")
    finally:
        ada.context.close()

    meeting.state = MeetingState.COMPLETED  # the meeting took place (the survey says so)
    db.commit()

    grace = new_page(browser)
    try:  # after it: Grace reads the goals and records the plan they agreed on
        sign_in(grace, live_server, mentor.email, PASSWORD)
        grace.goto(url)
        expect(grace.locator("#meeting-goals")).to_contain_text("Know my market rate and one opening line")
        grace.get_by_role("button", name="Save action plan").click()  # empty: refused by the field
        expect(grace.locator("#action_plan-error")).to_contain_text("Write down the next step")
        grace.get_by_label("Agreed next step").fill("Ada collects three salary data points and "
                                                    "rehearses the opening line with a friend by Friday.")
        grace.get_by_role("button", name="Save action plan").click()
        expect(grace.get_by_text("Action plan saved; you will both be reminded of it.")).to_be_visible()
        assert_accessible(grace)
        shot(grace, "action-plan-recorded-by-mentor")
    finally:
        grace.context.close()

    ada = new_page(browser)
    try:  # Ada sees the same plan, who wrote it, and that a reminder comes
        sign_in(ada, live_server, mentee.email, PASSWORD)
        ada.goto(url)
        plan = ada.locator("#action-plan")
        expect(plan.locator("p.action-plan")).to_contain_text("Ada collects three salary data points")
        expect(plan).to_contain_text("Recorded by Grace Guide")
        expect(plan).to_contain_text("reminded of it 14 days after")
        expect(ada.get_by_label("Your goals")).to_have_count(0)  # the meeting is over: goals are fixed
        assert_accessible(ada)
        shot(ada, "action-plan-seen-by-mentee")
    finally:
        ada.context.close()

    db.expire_all()
    reminder = db.scalar(select(TimedWork).where(TimedWork.kind == WorkKind.ACTION_PLAN_REMINDER))
    assert reminder is not None and reminder.state == WorkState.DUE and reminder.args[0] == meeting.id
