"""Browser journey (headless Chromium, CSRF on, axe-core on every page) through issue 17's admin-side
leftovers, in a program that calls its people "learners" and "guides":

a learner sees the skill of their request in their requests list; the admin's pending-requests monitor
names both sides in the program's words and shows the skill; the admin recommends the top 2 guides to
every learner; the worker sends each learner one email, and the admin reads those mails on "Mail sent"
(the outbox ``bin/demo`` turns on). Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from scheduling.services.people import set_skills
from tests import worker_harness
from tests.factories import PASSWORD, make_admin, make_mentee, make_mentor, make_program, make_request
from tests.fakes.smtp_server import SmtpServer
from tests.web.axe_check import assert_accessible
from tests.web.conftest import new_page, shot, sign_in
from worker import startup

pytestmark = pytest.mark.browser


@pytest.fixture
def outbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def live_app(engine: Any, database_url: str, db: Session, outbox_dir: Path) -> Iterator[Any]:
    """The browser tests' app (CSRF on) with the demo's mail outbox turned on."""
    from app import create_app

    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": True,
                              "RATELIMIT_ENABLED": False, "SECRET_KEY": "browser-test",
                              "MAIL_OUTBOX_DIR": str(outbox_dir)})
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def worker(database_url: str, redis: Any, smtp: SmtpServer, outbox_dir: Path) -> Iterator[Any]:
    """The real worker code (relay, RQ, mailer), sending to the test SMTP server and the outbox."""
    smtp.clear()
    connection = worker_harness.plain_connection(redis)
    startup.install(worker_harness.config(database_url, smtp, MAIL_OUTBOX_DIR=str(outbox_dir)),
                    connection=connection)
    try:
        yield connection
    finally:
        startup.uninstall()


def test_terms_skills_and_the_mail_sent_in_a_learner_guide_program(
    browser: Any, live_server: str, db: Session, worker: Any, smtp: SmtpServer
) -> None:
    program = make_program(db, availability_mode="free_text", mentee_term="learner", mentor_term="guide")
    guides = []
    for i, level in enumerate((5, 4, 3)):
        guide = make_mentor(db, name=f"Guide {chr(65 + i)}", email=f"guide{i}@example.com")
        set_skills(db, guide, {"offers": [{"name": "Negotiation", "level": level}]})
        guides.append(guide)
    learners = [make_mentee(db, name=f"Learner {i}", email=f"learner{i}@example.com") for i in range(2)]
    for learner in learners:
        set_skills(db, learner, {"wants": ["Negotiation"]})
    make_request(db, program=program, mentee=learners[0], mentor=guides[2], topic="Closing a deal",
                 skill="Negotiation")
    admin = make_admin(db, email="admin@example.com")

    page = new_page(browser)
    try:
        sign_in(page, live_server, learners[0].email, PASSWORD)
        page.goto(f"{live_server}/requests")
        row = page.get_by_role("row").filter(has_text="Closing a deal")
        expect(row).to_contain_text("Skill: Negotiation")
        assert_accessible(page)
        shot(page, "requests-list-with-skill")
    finally:
        page.context.close()

    page = new_page(browser)
    try:
        sign_in(page, live_server, admin.email, PASSWORD)
        page.goto(f"{live_server}/admin/requests")
        expect(page.get_by_role("columnheader", name="Learner", exact=True)).to_be_visible()
        expect(page.get_by_role("columnheader", name="Guide", exact=True)).to_be_visible()
        row = page.get_by_role("row").filter(has_text="Closing a deal")
        expect(row).to_contain_text("Skill: Negotiation")
        assert_accessible(page)
        shot(page, "admin-monitor-terms-and-skill")

        page.get_by_role("navigation", name="Admin").get_by_role("link", name="Recommendations").click()
        expect(page.get_by_role("heading", name="Recommend the top guides to every learner")).to_be_visible()
        page.get_by_label("Guides per learner").fill("2")
        page.get_by_role("button", name="Recommend top guides").click()
        expect(page.get_by_text("Recommended guides to 2 learners (4 recommendations); each learner was "
                                "emailed.")).to_be_visible()
        assert_accessible(page)

        worker_harness.drain(worker)  # the worker sends what the recommendations planned
        page.get_by_role("navigation", name="Admin").get_by_role("link", name="Mail sent").click()
        expect(page.get_by_role("heading", name="Mail sent")).to_be_visible()
        for learner in learners:
            mail = page.locator("ul.outbox li").filter(has_text=f"to {learner.email}")
            expect(mail).to_have_count(1)
            expect(mail.locator("summary")).to_contain_text("2 guides recommended for you:")
        first = page.locator("ul.outbox li").filter(has_text=f"to {learners[0].email}")
        expect(first.locator("pre.mail-text")).to_be_hidden()
        first.locator("summary").click()
        text = first.locator("pre.mail-text")
        expect(text).to_contain_text("Your program admin picked these guides for you.")
        assert_accessible(page)
        shot(page, "admin-mail-sent")
    finally:
        page.context.close()
    for learner in learners:  # really sent too, once each
        [mail] = smtp.to(learner.email)
        assert mail.subject.startswith("2 guides recommended for you: Guide ")
