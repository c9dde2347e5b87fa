"""Mail goes through a real SMTP server (aiosmtpd) — plain, STARTTLS with login, implicit TLS —
and arrives with text, HTML and, for meetings, a ``text/calendar; method=...`` part plus an
``invite.ics`` attachment that parse back to the meeting."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
from sqlalchemy.orm import Session

from scheduling import notices
from scheduling.notices import Notice
from scheduling.services import meetings as meeting_svc
from tests.factories import NOW, at, make_meeting, make_mentee, make_mentor, make_program
from tests.fakes.smtp_server import SmtpServer, smtp_server
from worker.mail import MailConfigError, Mailer

PLAIN = Notice(["ada@example.com"], "Hello", "Plain words\n", "<p>Plain <b>words</b></p>")


@pytest.fixture(scope="module")
def plain_smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def meeting_notices(db: Session) -> tuple[object, list[Notice]]:
    program = make_program(db)
    mentor = make_mentor(db, time_zone="Europe/Berlin")
    mentee = make_mentee(db, time_zone="America/Chicago")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=at("2030-01-09", "10:00"))
    return meeting, notices.meeting_invite(meeting, "http://app.example")


def test_a_meeting_invite_arrives_with_text_html_and_an_itip_request(
    db: Session, plain_smtp: SmtpServer
) -> None:
    plain_smtp.clear()
    meeting, (_, to_mentee) = meeting_notices(db)
    mailer = Mailer.from_config(plain_smtp.config())

    mailer.send(to_mentee)

    [got] = plain_smtp.received
    assert got.rcpt_tos == to_mentee.to and got.mail_from == "flashmentor@example.com"
    assert got.subject == to_mentee.subject
    assert got.message.get_content_type() == "multipart/mixed"
    assert "04:00-04:30 CST (America/Chicago)" in got.text()
    assert "<p>" in got.html() and "America/Chicago" in got.html()
    part = got.part("text/calendar")
    assert part is not None and part.get_param("method") == "REQUEST"
    event = got.event()
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 0  # type: ignore[attr-defined]
    assert event.decoded("DTSTART") == at("2030-01-09", "10:00")
    [attachment] = [p for p in got.message.iter_attachments()]
    assert attachment.get_filename() == "invite.ics"
    assert icalendar.Calendar.from_ical(attachment.get_content())["METHOD"] == "REQUEST"


def test_a_canceled_meeting_sends_method_cancel(db: Session, plain_smtp: SmtpServer) -> None:
    plain_smtp.clear()
    meeting, _ = meeting_notices(db)
    meeting_svc.cancel(db, meeting, actor=None, reason="Mentor ill", now=NOW)  # type: ignore[arg-type]
    mailer = Mailer.from_config(plain_smtp.config())

    for notice in notices.meeting_invite(meeting, "http://app.example"):  # type: ignore[arg-type]
        mailer.send(notice)

    assert len(plain_smtp.received) == 2
    for got in plain_smtp.received:
        part = got.part("text/calendar")
        assert part is not None and part.get_param("method") == "CANCEL"
        cal = got.calendar()
        assert cal is not None and str(cal["METHOD"]) == "CANCEL"
        assert str(got.event()["STATUS"]) == "CANCELLED" and int(got.event()["SEQUENCE"]) == 1


def test_a_message_without_invite_has_text_and_html_only(plain_smtp: SmtpServer) -> None:
    plain_smtp.clear()
    Mailer.from_config(plain_smtp.config()).send(PLAIN)

    [got] = plain_smtp.received
    assert got.message.get_content_type() == "multipart/alternative"
    assert got.text().strip() == "Plain words" and "<b>words</b>" in got.html()
    assert got.part("text/calendar") is None


def test_the_system_ca_store_is_loaded_once_a_process_and_never_for_plain_smtp(
    plain_smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the system CAs costs ~25 ms of CPU; a mailer is made per job, so it was paid per mail."""
    import ssl

    from worker import mail

    built: list[ssl.SSLContext] = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context",
                        lambda *a, **k: built.append(real(*a, **k)) or built[-1])
    mail.system_tls_context.cache_clear()
    plain_smtp.clear()
    for _ in range(3):
        Mailer.from_config(plain_smtp.config()).send(PLAIN)
    assert len(plain_smtp.received) == 3 and built == []
    tls_mailers = [Mailer(host="smtp.example", tls=mode) for mode in ("starttls", "ssl", "starttls")]
    assert len({id(m._tls()) for m in tls_mailers}) == 1 and len(built) == 1
    mail.system_tls_context.cache_clear()


def test_starttls_with_login(tmp_path: Path) -> None:
    with smtp_server(tmp_path, mode="starttls") as server:
        mailer = Mailer.from_config(server.config("starttls"))
        mailer.ssl_context = server.client_context()
        mailer.send(PLAIN)
        assert [r.rcpt_tos for r in server.received] == [["ada@example.com"]]

        wrong = Mailer.from_config({**server.config("starttls"), "SMTP_PASSWORD": "nope"})
        wrong.ssl_context = server.client_context()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            wrong.send(PLAIN)
        no_tls = Mailer.from_config(server.config("none"))  # the server insists on STARTTLS first
        with pytest.raises(smtplib.SMTPException):
            no_tls.send(PLAIN)
        assert len(server.received) == 1


def test_implicit_tls(tmp_path: Path) -> None:
    with smtp_server(tmp_path, mode="ssl") as server:
        mailer = Mailer.from_config(server.config("ssl"))
        mailer.ssl_context = server.client_context()
        mailer.send(PLAIN)
        assert len(server.received) == 1 and server.received[0].subject == "Hello"


def test_without_smtp_host_the_message_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="worker.mail")
    message = Mailer.from_config({"SMTP_HOST": None}).send(PLAIN)

    assert message["To"] == "ada@example.com"
    assert "not sent" in caplog.text and "ada@example.com" in caplog.text and "Plain words" in caplog.text


def test_an_unknown_tls_mode_is_refused() -> None:
    with pytest.raises(MailConfigError):
        Mailer.from_config({"SMTP_HOST": "mail.example.com", "SMTP_TLS": "maybe"})
