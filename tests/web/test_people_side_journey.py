"""Browser journeys for the people's side (headless Chromium, CSRF on, axe-core on every page):
a mentor pauses themselves and mentees no longer find them; an admin recommends the top 3 mentors to
every mentee, the worker sends each mentee one email naming their 3 mentors, and each finds the
notification and sets their email preferences. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from scheduling.db import utcnow
from scheduling.models import EmailChoice, Notification, NotificationKind, Recommendation
from scheduling.services.people import set_skills
from tests import worker_harness
from tests.factories import PASSWORD, make_admin, make_mentee, make_mentor, make_program
from tests.fakes.smtp_server import SmtpServer
from tests.web.axe_check import assert_accessible
from tests.web.conftest import new_page, shot, sign_in

pytestmark = pytest.mark.browser


def test_mentor_pauses_and_is_hidden_from_mentees(browser: Any, live_server: str, db: Any) -> None:
    make_program(db)
    mentor = make_mentor(db, name="Pat Pause", email="pat@example.com")
    make_mentor(db, name="Ola Open", email="ola@example.com")
    mentee = make_mentee(db, name="Mia Mentee", email="mia@example.com")
    until = (utcnow() + timedelta(days=14)).date().isoformat()

    page = new_page(browser)
    try:
        sign_in(page, live_server, mentor.email, PASSWORD)
        page.get_by_role("link", name="Taking requests").click()
        expect(page.get_by_role("heading", name="Taking requests")).to_be_visible()
        assert_accessible(page)
        page.get_by_label("Not taking requests until").fill(until)
        page.get_by_label("At most this many meetings a month").fill("3")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("p.note[role=status]")).to_contain_text(f"not taking requests until {until}")
        assert_accessible(page)
        shot(page, "mentor-paused")
    finally:
        page.context.close()

    page = new_page(browser)
    try:
        sign_in(page, live_server, mentee.email, PASSWORD)
        page.goto(f"{live_server}/mentors")
        expect(page.get_by_text("1 mentor found.")).to_be_visible()
        expect(page.get_by_role("heading", name="Ola Open")).to_be_visible()
        expect(page.get_by_role("heading", name="Pat Pause")).to_have_count(0)
        assert_accessible(page)
        page.goto(f"{live_server}/mentors/{mentor.id}")
        expect(page.get_by_role("status")).to_contain_text("is not taking requests until")
        expect(page.get_by_role("link", name="Request meeting")).to_have_count(0)
        shot(page, "paused-mentor-card")
    finally:
        page.context.close()


def test_admin_recommends_top_three_and_mentees_are_notified(browser: Any, live_server: str, db: Any,
                                                             mail_worker: Any, smtp: SmtpServer) -> None:
    make_program(db, availability_mode="free_text")
    mentor_names = [f"Mentor {chr(65 + i)}" for i in range(5)]
    for i, level in enumerate((5, 4, 4, 3, 3)):
        mentor = make_mentor(db, name=mentor_names[i], email=f"m{i}@example.com")
        set_skills(db, mentor, {"offers": [{"name": "Negotiation", "level": level}]})
    mentees = [make_mentee(db, name=f"Mentee {i}", email=f"mentee{i}@example.com") for i in range(3)]
    for mentee in mentees:
        set_skills(db, mentee, {"wants": ["Negotiation"]})
    admin = make_admin(db, email="admin@example.com")

    page = new_page(browser)
    try:
        sign_in(page, live_server, admin.email, PASSWORD)
        page.goto(f"{live_server}/admin/recommendations")
        assert_accessible(page)
        page.get_by_label("Mentors per mentee").fill("3")
        page.get_by_role("button", name="Recommend top mentors").click()
        expect(page.get_by_text("Recommended mentors to 3 mentees (9 recommendations)")).to_be_visible()
        shot(page, "admin-recommend-top-3")
    finally:
        page.context.close()
    db.expire_all()
    recommended: dict[int, set[str]] = {m.id: set() for m in mentees}
    for rec in db.scalars(select(Recommendation)):
        recommended[rec.mentee_id].add(rec.mentor.name)
    assert [len(names) for names in recommended.values()] == [3, 3, 3]
    notes = db.scalars(select(Notification).where(Notification.kind == NotificationKind.RECOMMENDATION)).all()
    assert sorted(n.person_id for n in notes) == sorted(m.id for m in mentees)

    worker_harness.drain(mail_worker)  # the real worker sends what the recommendations planned
    assert len(smtp.received) == 3
    for mentee in mentees:
        [mail] = smtp.to(mentee.email)  # exactly one each, addressed to that mentee alone
        assert mail.rcpt_tos == [mentee.email] and mail.to == mentee.email, mail.to
        subject, _, names = mail.subject.partition(": ")
        assert subject == "3 mentors recommended for you"
        assert set(names.split(", ")) == recommended[mentee.id], mail.subject
        text = mail.text()
        assert text.startswith(f"Hello {mentee.name},") and f"Open: {live_server}/home" in text, text
        assert "Your program admin picked these mentors for you." in text
        assert all(name in text for name in recommended[mentee.id])
        others = set(mentor_names) - recommended[mentee.id]
        assert not [name for name in others if name in text], text  # no other mentee's picks
        assert not [m.name for m in mentees if m is not mentee and m.name in text], text

    page = new_page(browser)
    try:
        sign_in(page, live_server, mentees[0].email, PASSWORD)
        link = page.get_by_role("link", name=re.compile(r"^Notifications 1 unread"))
        expect(link).to_be_visible()
        expect(page.get_by_text(re.compile(r"\d+% match")).first).to_be_visible()
        link.click()
        expect(page.locator("li.unread strong")).to_contain_text("3 mentors recommended for you")
        assert_accessible(page)
        shot(page, "notifications")
        page.get_by_role("link", name="Email preferences").click()
        always = page.get_by_role("heading", name="Always emailed").locator("xpath=following-sibling::ul[1]")
        expect(always).to_contain_text("Mentors recommended to me")  # the rules require it: no choice
        expect(page.get_by_role("group", name="Mentors recommended to me")).to_have_count(0)
        group = page.get_by_role("group", name="New messages")
        group.get_by_label("Daily digest").check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Email preferences saved.")).to_be_visible()
        expect(page.get_by_role("group", name="New messages").get_by_label("Daily digest")).to_be_checked()
        assert_accessible(page)
        shot(page, "notification-preferences")
    finally:
        page.context.close()
    from scheduling import notifications

    db.expire_all()
    assert notifications.preferences(db, mentees[0])[NotificationKind.MESSAGE] == EmailChoice.DIGEST


def test_manager_finds_a_mentor_for_a_gap_and_recommends_them(browser: Any, live_server: str,
                                                              db: Any) -> None:
    from scheduling.services import competencies

    program = make_program(db)
    competencies.set_role_targets(db, program, "Engineer", [{"name": "Python", "level": 4}])
    manager = make_mentor(db, name="Manny Manager", email="manny@example.com")
    report = make_mentee(db, name="Rae Report", email="rae@example.com", title="Engineer",
                         manager_id=manager.id)
    expert = make_mentor(db, name="Exa Expert", email="exa@example.com")
    set_skills(db, expert, {"offers": [{"name": "Python", "level": 5}]})

    page = new_page(browser)
    try:
        sign_in(page, live_server, manager.email, PASSWORD)
        page.get_by_role("link", name="Team", exact=True).click()
        expect(page.get_by_role("heading", name="My team")).to_be_visible()
        assert_accessible(page)
        page.get_by_role("link", name="Python for Rae Report").click()
        expect(page.get_by_role("heading", name="Who could mentor Rae Report in Python")).to_be_visible()
        assert_accessible(page)
        page.get_by_role("button", name=re.compile(r"^Recommend to Rae Report\s*:\s*Exa Expert")).click()
        expect(page.get_by_text("Recommended Exa Expert to Rae Report; they were emailed.")).to_be_visible()
        shot(page, "manager-recommends-for-gap")
    finally:
        page.context.close()
    db.expire_all()
    rec = db.scalars(select(Recommendation)).one()
    assert (rec.mentee_id, rec.mentor_id, rec.pushed_by_id) == (report.id, expert.id, manager.id)
