"""Signed one-click links in meeting emails (issue 17): each person's invitation and reminder link to
the meeting page signed in, where they reschedule or cancel; a link that does not hold, an expired
one, or an SSO-only program leads to the sign-in instead, and nobody is signed in by it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import time_machine
from sqlalchemy.orm import Session

from scheduling import meeting_links, notices
from scheduling.models import Meeting
from tests.factories import NOW, login, make_meeting, make_mentee, make_mentor, make_program

BASE = "https://mentoring.example.com"


def booked(db: Session, **program: Any) -> Meeting:
    prog = make_program(db, **program)
    return make_meeting(db, program=prog, mentee=make_mentee(db), mentor=make_mentor(db))


def link_in(notice: notices.Notice) -> str:
    """The path and query of the notice's meeting link, as the mail's text carries it."""
    [line] = [w for w in notice.text.split() if w.startswith(f"{BASE}/meetings/")]
    parts = urlsplit(line)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def signed_in_as(client: Any) -> int | None:
    with client.session_transaction() as s:
        return s.get("person_id")


def test_each_person_follows_their_invitation_link_to_the_meeting_page_signed_in(
    client: Any, db: Session
) -> None:
    meeting = booked(db)
    for_mentor, for_mentee = notices.meeting_invite(meeting, BASE)
    assert "Open the meeting (reschedule or cancel there)" in for_mentee.text
    mentee_link = link_in(for_mentee)
    assert mentee_link.startswith(f"/meetings/{meeting.id}/open?t=") and mentee_link != link_in(for_mentor)
    with time_machine.travel(NOW, tick=False):
        resp = client.get(mentee_link)
        assert resp.status_code == 302 and resp.headers["Location"] == f"/meetings/{meeting.id}"
        assert signed_in_as(client) == meeting.mentee_id
        page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert f'action="/meetings/{meeting.id}/reschedule"' in page and "Cancel meeting" in page
    [reminder_mentor, _] = notices.meeting_reminder(meeting, BASE)
    assert link_in(reminder_mentor) == link_in(for_mentor)  # the reminder carries the same link


def test_a_forged_or_borrowed_link_signs_nobody_in(client: Any, db: Session) -> None:
    meeting = booked(db)
    other = booked(db)
    _, for_mentee = notices.meeting_invite(meeting, BASE)
    token = link_in(for_mentee).split("t=", 1)[1]
    person, expires, mac = token.split(".")
    tries = [
        f"/meetings/{other.id}/open?t={token}",  # another meeting's link
        f"/meetings/{meeting.id}/open?t={meeting.mentor_id}.{expires}.{mac}",  # another person
        f"/meetings/{meeting.id}/open?t={person}.{int(expires) + 86400}.{mac}",  # a later expiry
        f"/meetings/{meeting.id}/open?t=garbage",
        f"/meetings/{meeting.id}/open",
    ]
    with time_machine.travel(NOW, tick=False):
        for path in tries:
            resp = client.get(path)
            assert resp.status_code == 302 and resp.headers["Location"].startswith("/signin?next=")
            assert signed_in_as(client) is None, path


def test_an_expired_link_leads_to_the_sign_in(client: Any, db: Session) -> None:
    meeting = booked(db)
    _, for_mentee = notices.meeting_invite(meeting, BASE)
    later = meeting.end_at + meeting_links.GOOD_AFTER_END + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        resp = client.get(link_in(for_mentee))
        assert resp.headers["Location"].startswith("/signin?next=") and signed_in_as(client) is None


def test_someone_signed_in_stays_who_they_are(client: Any, db: Session) -> None:
    meeting = booked(db)
    _, for_mentee = notices.meeting_invite(meeting, BASE)
    with time_machine.travel(NOW, tick=False):
        login(client, meeting.mentor)
        resp = client.get(link_in(for_mentee))
        assert resp.headers["Location"] == f"/meetings/{meeting.id}"
        assert signed_in_as(client) == meeting.mentor_id


def test_an_sso_only_program_signs_nobody_in_by_link(client: Any, db: Session) -> None:
    meeting = booked(db, password_signin=False)
    _, for_mentee = notices.meeting_invite(meeting, BASE)
    with time_machine.travel(NOW, tick=False):
        resp = client.get(link_in(for_mentee))
        assert resp.headers["Location"].startswith("/signin?next=") and signed_in_as(client) is None


def test_without_keys_the_email_carries_the_plain_page(db: Session, monkeypatch: Any) -> None:
    monkeypatch.delenv(meeting_links.KEYS_ENV)
    meeting = booked(db)
    _, for_mentee = notices.meeting_invite(meeting, BASE)
    assert link_in(for_mentee) == f"/meetings/{meeting.id}"
