"""Browser journey (headless Chromium, CSRF on, axe-core on every page) through the one-click link of a
meeting invitation (``scheduling.meeting_links``):

a meeting is accepted, the worker sends both invitations, and the link taken out of the mentee's mail
opens, in a browser nobody is signed in to, the meeting page signed in as her, with its reschedule and
cancel controls; the same link with one character of its token changed ends on the sign-in page with
the reason and signs nobody in. Screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from scheduling import meeting_links
from scheduling.db import utcnow
from scheduling.models import Meeting, Person
from tests import worker_harness
from tests.factories import make_meeting, make_mentee, make_mentor, make_program
from tests.fakes.smtp_server import SmtpServer
from tests.web.axe_check import assert_accessible
from tests.web.conftest import new_page, shot

pytestmark = pytest.mark.browser

TOPIC = "Preparing my promotion case"
LINK = re.compile(r"https?://\S+/meetings/(\d+)/open\?t=(\S+)")


@pytest.fixture(autouse=True)
def link_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This test's own FLASHMENTOR_SECRET_KEYS, set before the app and the worker are built (both read
    the keys at each use; web and worker must share them for a mailed link to hold)."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(meeting_links.KEYS_ENV, key)
    yield key


def booked(db: Session) -> Meeting:
    """A meeting accepted through the services, on the next weekday at least two days away, 10:00 UTC
    (inside the mentor's weekday 09:00-17:00 UTC slots, past the 24-hour lead time)."""
    program = make_program(db)
    mentor = make_mentor(db, name="Maya Mentor", email="maya@example.com", time_zone="UTC")
    mentee = make_mentee(db, name="Leo Learner", email="leo@example.com", time_zone="Europe/Berlin")
    day = (utcnow() + timedelta(days=2)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return make_meeting(db, program=program, mentee=mentee, mentor=mentor, topic=TOPIC,
                        start=datetime.combine(day, time(10), UTC), now=utcnow())


def link_in_mail(smtp: SmtpServer, person: Person, other: Person, meeting: Meeting) -> str:
    """The one-click link in the one invitation ``person`` received for the meeting with ``other``."""
    [mail] = smtp.to(person.email)
    assert mail.subject == f"Meeting: {TOPIC} with {other.name}", mail.subject
    text = mail.text()
    [(meeting_id, token)] = LINK.findall(text)
    assert int(meeting_id) == meeting.id
    [url] = [word for word in text.split() if word.endswith(token)]
    return url


def test_the_invitation_link_signs_its_person_in_and_a_tampered_one_does_not(
    browser: Any, live_server: str, db: Session, mail_worker: Any, smtp: SmtpServer
) -> None:
    meeting = booked(db)
    mentee, mentor = meeting.mentee, meeting.mentor
    worker_harness.drain(mail_worker)  # the worker sends both invitations
    link = link_in_mail(smtp, mentee, mentor, meeting)
    assert link.startswith(f"{live_server}/meetings/{meeting.id}/open?t={mentee.id}.")
    assert link != link_in_mail(smtp, mentor, mentee, meeting)  # each person's own link

    page = new_page(browser)  # a fresh browser: nobody signed in
    try:
        page.goto(link)
        expect(page).to_have_url(f"{live_server}/meetings/{meeting.id}")
        expect(page.get_by_role("heading", name=TOPIC, level=1)).to_be_visible()
        header = page.get_by_role("navigation", name="Main")
        expect(header.locator("span.who")).to_have_text(f"{mentee.name} · {mentee.time_zone}")
        expect(header.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_role("group", name="Move to another time")).to_be_visible()
        expect(page.get_by_role("button", name="Move meeting")).to_be_visible()
        expect(page.get_by_role("button", name="Cancel meeting")).to_be_visible()
        assert_accessible(page)
        shot(page, "meeting-link-signed-in")
    finally:
        page.context.close()

    token = link.rsplit(".", 1)[1]
    tampered = link[:-1] + ("0" if token[-1] != "0" else "1")  # one character of the signature
    page = new_page(browser)
    try:
        page.goto(tampered)
        expect(page).to_have_url(f"{live_server}/signin?next=/meetings/{meeting.id}")
        expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text(
            "This link is not valid for this meeting: sign in to open it.")
        header = page.get_by_role("navigation", name="Main")
        expect(header.get_by_role("link", name="Sign in")).to_be_visible()
        expect(header.locator("span.who")).to_have_count(0)
        assert_accessible(page)
        shot(page, "meeting-link-tampered")
        page.goto(f"{live_server}/meetings/{meeting.id}")  # and the meeting stays closed to this browser
        expect(page).to_have_url(re.compile(r"/signin\?next="))
        expect(page.get_by_role("heading", name=TOPIC)).to_have_count(0)
    finally:
        page.context.close()
