"""Direct messages: a mentee writes to a mentor before asking for any meeting (seed 002).

A mentee may start a conversation with any mentor they may see (the hidden directory's
rule, :func:`scheduling.mentor_visibility.may_see_mentor`); the person written to may then reply.
Nobody else writes first, so the channel cannot be used to reach arbitrary people. The
recipient gets a notification (and, by their preference, an email) linking to the
conversation. Only the two people read a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from scheduling import mentor_visibility, notifications
from scheduling.db import get_row
from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.models import DirectMessage, NotificationKind, Person, Program
from scheduling.services.serialize import timestamp
from scheduling.services.transaction import unit_of_work
from scheduling.services.validation import current_time, text
from scheduling.zones import zone_of

BODY_MAX = 2000


def _between(a_id: int, b_id: int) -> ColumnElement[bool]:
    return or_(
        and_(DirectMessage.sender_id == a_id, DirectMessage.recipient_id == b_id),
        and_(DirectMessage.sender_id == b_id, DirectMessage.recipient_id == a_id),
    )


def wrote_to(session: Session, sender_id: int, recipient_id: int) -> bool:
    found = select(DirectMessage.id).where(
        DirectMessage.sender_id == sender_id, DirectMessage.recipient_id == recipient_id).limit(1)
    return session.scalar(found) is not None


def may_write(session: Session, program: Program | None, sender: Person, recipient: Person) -> bool:
    """A mentee writes first to a mentor they may see; anyone answers a person who wrote to them."""
    if sender.id == recipient.id or not recipient.active or not sender.active:
        return False
    if wrote_to(session, recipient.id, sender.id):
        return True
    return (sender.is_mentee and recipient.is_mentor
            and mentor_visibility.may_see_mentor(session, program, sender, recipient.id))


def send(
    session: Session, program: Program | None, sender: Person, recipient: Person, body: object, *,
    now: datetime | None = None,
) -> DirectMessage:
    """Store the message and notify the recipient; refused (nothing stored) when ``sender`` may
    not write to ``recipient`` or the text is empty or too long."""
    now = current_time(now)
    if not may_write(session, program, sender, recipient):
        raise Forbidden(f"You cannot write to {recipient.name} here: mentees write to the mentors "
                        "they can find, and anyone answers who wrote to them.", "recipient_id")
    cleaned = text(body, "body", max_length=BODY_MAX)
    if not cleaned:
        raise ValidationFailed("Write a message first.", "body")
    with unit_of_work(session):
        message = DirectMessage(sender_id=sender.id, recipient_id=recipient.id, body=cleaned, created_at=now)
        session.add(message)
        notifications.notify(session, recipient.id, NotificationKind.MESSAGE, f"{sender.name} wrote to you",
                             body=cleaned[:500], link=f"/messages/{sender.id}", now=now)
        session.commit()
    return message


def conversation(session: Session, viewer: Person, other: Person) -> list[DirectMessage]:
    """The messages between the two, oldest first."""
    return list(session.scalars(
        select(DirectMessage).where(_between(viewer.id, other.id))
        .order_by(DirectMessage.created_at, DirectMessage.id)
    ))


@dataclass(frozen=True)
class ConversationSummary:
    other: Person
    last: DirectMessage
    count: int


def inbox(session: Session, viewer: Person) -> list[ConversationSummary]:
    """The viewer's conversations, the most recent first."""
    rows = session.scalars(
        select(DirectMessage)
        .where(or_(DirectMessage.sender_id == viewer.id, DirectMessage.recipient_id == viewer.id))
        .order_by(DirectMessage.created_at, DirectMessage.id)
    )
    by_other: dict[int, list[DirectMessage]] = {}
    for m in rows:
        by_other.setdefault(m.recipient_id if m.sender_id == viewer.id else m.sender_id, []).append(m)
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(list(by_other))))}
    found = [ConversationSummary(people[pid], msgs[-1], len(msgs)) for pid, msgs in by_other.items()
             if pid in people]
    return sorted(found, key=lambda c: (c.last.created_at, c.last.id), reverse=True)


def other_person(session: Session, person_id: int) -> Person:
    person = get_row(session, Person, person_id)
    if person is None:
        raise NotFound("No such person.")
    return person


def message_view(message: DirectMessage, viewer: Person) -> dict[str, Any]:
    return {
        "id": message.id,
        "sender_id": message.sender_id,
        "recipient_id": message.recipient_id,
        "body": message.body,
        "created_at": timestamp(message.created_at, zone_of(viewer)),
    }
