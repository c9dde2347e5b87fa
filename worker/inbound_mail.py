"""Answers to the app's invitations, by mail: an LMTP (or SMTP) receiver for iTIP REPLYs.

A mentee without a connected calendar gets the meeting as a ``METHOD:REQUEST`` mail whose
ORGANIZER (and Reply-To) is her signed address ``<box>+<meeting>.<person>.<mac>@<domain>``
(:mod:`scheduling.reply_address`). Her calendar client answers there with a
``METHOD:REPLY``. The mail server for that domain hands the mailbox's mail to this receiver
over LMTP (Postfix ``lmtp:inet:host:port``, Exim's ``lmtp`` transport) or SMTP; it is applied
while the server waits, so the answer lands within seconds, and a database that cannot be
reached is a 451 (the mail server keeps the mail and tries again). Chosen over IMAP polling:
no mailbox to keep and empty, no polling delay, and the mail server's queue is the retry.

A reply is applied only when everything agrees: the address's token verifies, the REPLY's UID
is that meeting's, its one ATTENDEE and the mail's From are the person the token was made
for, and the domain rules hold (:func:`scheduling.services.meeting_answers.answer_invitation`:
the mentee, the current SEQUENCE, the meeting still on). Anything else is accepted (no
bounce to a forged sender), logged with the reason, and changes nothing. The From check is
only as good as the mail server's sender authentication (SPF/DKIM/DMARC): let it reject mail
that fails DMARC for the domain it claims.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses
from typing import Any

import icalendar
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from scheduling import reply_address
from scheduling.errors import DomainError
from scheduling.models import AttendeeAnswer, Meeting, Person
from scheduling.services.meeting_answers import answer_invitation

log = logging.getLogger(__name__)

ANSWERS = {
    "ACCEPTED": AttendeeAnswer.ACCEPTED,
    "TENTATIVE": AttendeeAnswer.TENTATIVE,
    "DECLINED": AttendeeAnswer.DECLINED,
}
CALENDAR_TYPES = ("text/calendar", "application/ics")
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
PROTOCOLS = ("lmtp", "smtp")
OK = "250 2.0.0 OK"
LATER = "451 4.3.0 Cannot apply the answer now; try again later"


@dataclass(frozen=True)
class Reply:
    """One VEVENT of a ``METHOD:REPLY``: whose answer (ATTENDEE), to which version."""

    uid: str
    attendees: tuple[str, ...]  # lower-case addresses of its ATTENDEE lines (one, per RFC 5546)
    partstat: str
    sequence: int
    stamp: datetime


@dataclass(frozen=True)
class Outcome:
    applied: bool
    reason: str  # what was done, or why nothing was
    meeting_id: int | None = None


# --- reading a message -----------------------------------------------------------------------------


def _address(value: object) -> str:
    text = str(value).strip()
    return (text[7:] if text.lower().startswith("mailto:") else text).lower()


def replies_in(message: Message) -> list[Reply]:
    """Every REPLY VEVENT in the message's calendar parts (inline or attached), once each."""
    found: list[Reply] = []
    for part in message.walk():
        if part.get_content_type() not in CALENDAR_TYPES:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        try:
            cal = icalendar.Calendar.from_ical(payload)
        except ValueError:
            continue
        if str(cal.get("METHOD", "")).upper() != "REPLY":
            continue
        for event in cal.walk("VEVENT"):
            try:
                reply = _reply(event)
            except (KeyError, TypeError, ValueError):  # a property icalendar cannot decode
                continue
            if reply is not None and reply not in found:
                found.append(reply)
    return found


def _reply(event: Any) -> Reply | None:
    attendees = event.get("ATTENDEE")
    if attendees is None or event.get("UID") is None:
        return None
    lines = attendees if isinstance(attendees, list) else [attendees]
    stamp = event.decoded("DTSTAMP") if event.get("DTSTAMP") is not None else None
    if not isinstance(stamp, datetime) or stamp.tzinfo is None:
        return None  # RFC 5545: DTSTAMP is required and in UTC
    try:
        sequence = int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        return None
    return Reply(
        uid=str(event["UID"]),
        attendees=tuple(_address(line) for line in lines),
        partstat=str(lines[0].params.get("PARTSTAT", "")).upper(),
        sequence=sequence,
        stamp=stamp.astimezone(UTC),
    )


def dmarc_passed(message: Message, authserv_id: str, sender: str) -> bool:
    """Whether our mail server (``authserv_id``) recorded ``dmarc=pass`` for the sender's domain in
    an ``Authentication-Results`` header (RFC 8601). Headers naming another server are not ours:
    anyone can write those, so they are skipped (the mail server should also strip them)."""
    domain = sender.rpartition("@")[2].lower()
    for value in message.get_all("Authentication-Results", []):
        server, *results = [part.strip() for part in str(value).split(";")]
        if not server or server.split()[0].lower() != authserv_id.lower():
            continue
        for result in results:
            words = result.lower().split()
            if words and words[0] == "dmarc=pass":
                checked = [w.partition("=")[2] for w in words if w.startswith("header.from=")]
                if checked in ([], [domain]):
                    return True
    return False


def sender_of(message: Message) -> str | None:
    """The one address in From (lower case); None when there is not exactly one."""
    addresses = [addr for _, addr in getaddresses(message.get_all("From", [])) if addr]
    return addresses[0].lower() if len(addresses) == 1 else None


# --- applying one ------------------------------------------------------------------------------------


def apply_message(
    session: Session, mailbox: str, recipient: str, message: Message, *, authserv_id: str = ""
) -> Outcome:
    """Check the message sent to ``recipient`` against everything it claims and apply its answer.

    ``authserv_id``: the mail server's name in its Authentication-Results headers; when given,
    the From address must have passed its DMARC check. Raises only for the database (the
    caller answers 451); everything else is an Outcome.
    """
    token = reply_address.read(mailbox, recipient)
    if token is None:
        return _ignored("the address's token is not one the app signed", recipient=recipient)
    meeting = session.get(Meeting, token.meeting_id)
    person = session.get(Person, token.person_id)
    if meeting is None or person is None:
        return _ignored("the meeting or person of the token no longer exists", token.meeting_id)
    replies = replies_in(message)
    if not replies:
        return _ignored("no iTIP REPLY in the mail", meeting.id)
    matching = [r for r in replies if r.uid == meeting.uid]
    if not matching:
        return _ignored(f"REPLY for an unknown UID {replies[0].uid[:120]!r}", meeting.id)
    reply = max(matching, key=lambda r: r.stamp)
    invited = person.email.lower()
    if reply.attendees != (invited,):
        return _ignored("the REPLY's ATTENDEE is not the invited person", meeting.id)
    if sender_of(message) != invited:
        return _ignored("the mail is not from the invited person", meeting.id)
    if authserv_id and not dmarc_passed(message, authserv_id, invited):
        return _ignored(f"{authserv_id} did not record dmarc=pass for the sender", meeting.id)
    answer = ANSWERS.get(reply.partstat)
    if answer is None:
        return _ignored(f"PARTSTAT {reply.partstat[:40]!r} is not an answer the app takes", meeting.id)
    try:
        changed = answer_invitation(
            session, meeting, person, answer=answer, sequence=reply.sequence, stamp=reply.stamp
        )
    except DomainError as exc:
        session.rollback()
        return _ignored(exc.message, meeting.id)
    if not changed:
        log.info("iTIP REPLY for meeting %s: an older answer than the one kept, nothing changed", meeting.id)
        return Outcome(False, "older than the answer kept", meeting.id)
    log.info("iTIP REPLY for meeting %s applied: %s", meeting.id, answer.value)
    return Outcome(True, answer.value, meeting.id)


def _ignored(reason: str, meeting_id: int | None = None, *, recipient: str = "") -> Outcome:
    log.warning("iTIP mail ignored (meeting %s%s): %s", meeting_id,
                f", to {recipient[:200]!r}" if recipient else "", reason)
    return Outcome(False, reason, meeting_id)


# --- the receiver ---------------------------------------------------------------------------------------


class InboundHandler:
    """aiosmtpd handler: recipients must be the mailbox's ``+token`` addresses; each is applied
    in a thread (the database is synchronous) before the server answers."""

    def __init__(
        self, sessions: sessionmaker[Session], mailbox: str, *, lmtp: bool = True, authserv_id: str = ""
    ) -> None:
        self.sessions = sessions
        self.mailbox = reply_address.check_mailbox(mailbox)  # a malformed one fails at start-up
        self.lmtp = lmtp
        self.authserv_id = authserv_id

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if not reply_address.is_ours(self.mailbox, address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        statuses = await asyncio.get_running_loop().run_in_executor(
            None, self.deliver, bytes(content), list(envelope.rcpt_tos)
        )
        if self.lmtp:
            return "\r\n".join(statuses)  # LMTP: one answer per recipient (RFC 2033)
        return LATER if LATER in statuses else OK

    def deliver(self, content: bytes, recipients: list[str]) -> list[str]:
        message = email.message_from_bytes(content, policy=email.policy.default)
        statuses = []
        for recipient in recipients:
            try:
                with self.sessions() as db:
                    apply_message(db, self.mailbox, recipient, message, authserv_id=self.authserv_id)
                statuses.append(OK)
            except SQLAlchemyError:
                log.exception("iTIP mail to %r not applied: database error, the sender's server retries",
                              recipient[:200])
                statuses.append(LATER)
            except Exception:  # a defect of ours: the mail stays with the sender's server, not lost
                log.exception("iTIP mail to %r not applied: unexpected error", recipient[:200])
                statuses.append(LATER)
        return statuses


class _ReceiverController(Controller):
    def __init__(self, handler: InboundHandler, **kwargs: Any) -> None:
        super().__init__(handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True, **kwargs)
        self.lmtp = handler.lmtp

    def factory(self) -> SMTP:
        return (LMTP if self.lmtp else SMTP)(self.handler, **self.SMTP_kwargs)


@contextmanager
def receiver(
    sessions: sessionmaker[Session],
    mailbox: str,
    *,
    host: str,
    port: int,
    protocol: str = "lmtp",
    authserv_id: str = "",
) -> Iterator[None]:
    """The receiver listening on ``host:port`` in a thread until the block ends."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"MAIL_INBOUND_PROTOCOL must be lmtp or smtp, not {protocol!r}")
    handler = InboundHandler(sessions, mailbox, lmtp=protocol == "lmtp", authserv_id=authserv_id)
    controller = _ReceiverController(handler, hostname=host, port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def serve(settings: Mapping[str, Any], sessions: sessionmaker[Session]) -> None:
    """Run the receiver until SIGTERM or SIGINT (``flask --app wsgi mail-inbound``)."""
    mailbox = settings.get("ITIP_REPLY_MAILBOX")
    if not mailbox:
        raise ValueError("ITIP_REPLY_MAILBOX is not set: there is no mailbox to receive answers for.")
    host = str(settings.get("MAIL_INBOUND_HOST") or "127.0.0.1")
    port = int(settings.get("MAIL_INBOUND_PORT") or 8024)
    protocol = str(settings.get("MAIL_INBOUND_PROTOCOL") or "lmtp").lower()
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    authserv_id = str(settings.get("MAIL_INBOUND_AUTHSERV_ID") or "")
    with receiver(sessions, str(mailbox), host=host, port=port, protocol=protocol, authserv_id=authserv_id):
        log.info("iTIP answers for %s: %s on %s:%s", mailbox, protocol.upper(), host, port)
        done.wait()

